/*
 * Activation-quantization families (QG_OP_ACT_QUANT, kernels/cuda/act_quant.cuh): bf16/f16
 * [M,K] -> e4m3 or int8 with f32 per-token or per-tensor scales, bit-exact with
 * qg_quantize_activations_host. One CTA per token row; variants differ in threads and in how
 * many 16-element chunks each thread keeps in registers (vpt; 0 = any K, two reads of the row).
 * Per tensor is two launches of the same kernel after zeroing scale[0]: an atomic max of the
 * row scales, then the conversion (see the kernel's header comment).
 */
#include "backend.h"
#include "catalog.h"
#include "schemes.h"

#include <stdio.h>

enum { P_THREADS = 0, P_VPT = 1 };

static const int variants[][QG_MAX_PARAMS] = {
    {128, 2}, /* K <= 4096 */
    {256, 2}, /* K <= 8192 */
    {512, 2}, /* K <= 16384 */
    {512, 4}, /* K <= 32768 */
    {256, 0}, /* any K */
};

static int supports(const qg_problem *p, const int *v, int cc, char *why, size_t why_len) {
    const int fp8 = qg_scheme_get(p->scheme)->act_qtype == QG_DTYPE_FP8_E4M3;
    if (cc < (fp8 ? 89 : 80)) {
        snprintf(why, why_len, "%s conversion needs compute capability %s", fp8 ? "e4m3" : "int8",
                 fp8 ? "8.9" : "8.0");
        return 0;
    }
    if (p->k % 16) {
        snprintf(why, why_len, "K (%lld) must be a multiple of 16", (long long)p->k);
        return 0;
    }
    if (v[P_VPT] && p->k > (int64_t)v[P_THREADS] * v[P_VPT] * 16) {
        snprintf(why, why_len, "K (%lld) does not fit %d threads x %d chunks of 16 in registers",
                 (long long)p->k, v[P_THREADS], v[P_VPT]);
        return 0;
    }
    if (p->m > 0x7fffffff || p->k > (1 << 30)) {
        snprintf(why, why_len, "M or K too large for one grid");
        return 0;
    }
    return 1;
}

/* Bytes moved, plus a penalty for idle threads (small rows on many threads) and for the
 * fallback's second read. */
static double cost(const qg_problem *p, const int *v, const qg_device_info *dev) {
    (void)dev;
    const double bytes = (double)p->m * (double)p->k * 3;
    if (!v[P_VPT]) return 2.0 * bytes;
    const double cap = (double)v[P_THREADS] * v[P_VPT] * 16;
    return bytes * (1.0 + 0.25 * (cap - (double)p->k) / cap);
}

static qg_status launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                        const int *v, void *stream) {
    const qg_actq_args *a = args;
    QG_RETURN_IF(ctx, !a || !a->a || !a->q || !a->scale, QG_ERR_NULL_POINTER,
                 "activation quantization needs a, q and scale");
    QG_RETURN_IF(ctx, ((uintptr_t)a->a & 15) || ((uintptr_t)a->q & 15) || ((uintptr_t)a->scale & 3),
                 QG_ERR_INVALID_ARGUMENT, "a and q must be 16-byte aligned, scale 4-byte aligned");
    const void *src = a->a;
    void *q = a->q, *scale = a->scale;
    int kk = (int)p->k, f16 = p->act_dtype == QG_DTYPE_F16, mode = 0;
    void *kargs[] = {&src, &q, &scale, &kk, &f16, &mode};
    const unsigned grid = (unsigned)p->m, block = (unsigned)v[P_THREADS];
    if (p->act_scale != QG_SCALE_PER_TENSOR)
        return qg_kernel_launch(ctx, k, grid, 1, 1, block, 0, stream, kargs);
    QG_RETURN_IF(ctx, !ctx->ops->memset_d8_async, QG_ERR_UNSUPPORTED,
                 "per-tensor activation scales need an asynchronous memset in the backend");
    QG_CHECK(ctx->ops->memset_d8_async(ctx, scale, 0, sizeof(float), stream));
    mode = 1;
    QG_CHECK(qg_kernel_launch(ctx, k, grid, 1, 1, block, 0, stream, kargs));
    mode = 2;
    return qg_kernel_launch(ctx, k, grid, 1, 1, block, 0, stream, kargs);
}

const qg_family qg_family_act_quant_fp8 = {
    .name = "act_quant_fp8",
    .source = "act_quant_fp8.cu",
    .entry = "qg_act_quant",
    .op = QG_OP_ACT_QUANT,
    .scheme_mask = (1u << QG_SCHEME_W8A8_FP8) | (1u << QG_SCHEME_W4A8_FP8) |
                   (1u << QG_SCHEME_SP24_FP8),
    .min_cc = 89,
    .num_params = 2,
    .param_names = {"threads", "vpt"},
    .num_variants = QG_ARRAY_SIZE(variants),
    .variants = variants,
    .supports = supports,
    .heuristic = cost,
    .launch = launch,
};

const qg_family qg_family_act_quant_int8 = {
    .name = "act_quant_int8",
    .source = "act_quant_int8.cu",
    .entry = "qg_act_quant",
    .op = QG_OP_ACT_QUANT,
    .scheme_mask = (1u << QG_SCHEME_W8A8_INT8) | (1u << QG_SCHEME_W4A8_INT8) |
                   (1u << QG_SCHEME_SP24_INT8),
    .min_cc = 80,
    .num_params = 2,
    .param_names = {"threads", "vpt"},
    .num_variants = QG_ARRAY_SIZE(variants),
    .variants = variants,
    .supports = supports,
    .heuristic = cost,
    .launch = launch,
};
