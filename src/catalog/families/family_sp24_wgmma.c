/*
 * Families sp24_bf16_wgmma, sp24_int8_wgmma, sp24_fp8_wgmma: 2:4 sparse GEMMs on sparse wgmma
 * (kernels/cuda/sp24_wgmma.cu), sm_90a only. The prefill path on Hopper: two warpgroups, each
 * 64 or 128 weight rows x 128 tokens per tile, cp.async multistage pipeline feeding
 * wgmma.mma_async.sp from shared memory. Same packed format as the mma.sp families.
 *
 * Parameters: dt (1 f16, 2 bf16, 3 e4m3, 4 s8), tn (weight rows per CTA), tm (tokens), st (stage
 * slots), sg (stages per barrier and per wgmma group, which is drained right after its commit:
 * see the kernel's header; larger groups amortize the drain). e4m3 promotes each group's partial
 * sums into f32 registers, which only fits tn = 128.
 *
 * Hardware status (H100, tests/gpu/gpu_sp24_wg and gpu_sp24, 2026-11-23): every variant of the
 * three families (bf16/f16, int8, e4m3) is checked against the reference and passes.
 */
#include "jit.h"
#include "schemes.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

enum { P_DT, P_TN, P_TM, P_ST, P_SG };
enum { DT_F16 = 1, DT_BF16 = 2, DT_E4M3 = 3, DT_S8 = 4 };

/* Measured on the H100 (bf16, K = 4096): tn 128 is the fastest for 64 < M <= ~600 at N = 4096,
 * tn 256 above (fewer bytes per MAC from L2); for tn 128, sg 2 beat sg 4 by 10% at N = 28672. */
/*      dt   tn   tm  st  sg */
static const int bf16_variants[][QG_MAX_PARAMS] = {
    {DT_BF16, 128, 128, 8, 2},
    {DT_BF16, 256, 128, 6, 2},
    {DT_F16, 128, 128, 8, 2},
    {DT_F16, 256, 128, 6, 2},
};
static const int int8_variants[][QG_MAX_PARAMS] = {{DT_S8, 128, 128, 8, 2}, {DT_S8, 256, 128, 6, 2}};
static const int fp8_variants[][QG_MAX_PARAMS] = {{DT_E4M3, 128, 128, 8, 2},
                                                  {DT_E4M3, 128, 128, 8, 4}};

static int is_16bit(const int *v) { return v[P_DT] == DT_F16 || v[P_DT] == DT_BF16; }

static int smem_bytes(const int *v) {
    const int stage = v[P_TN] * 64 + v[P_TM] * 128 + (v[P_TN] / 64) * (is_16bit(v) ? 1 : 2) * 512;
    const int pipe = v[P_ST] * stage, epi = v[P_TM] * (v[P_TN] + 8) * 2 + v[P_TM] * 4;
    return (pipe > epi ? pipe : epi) + 1024; /* + slack to align the base to 1024 bytes */
}

static int supports(const qg_problem *p, const int *v, int cc, char *why, size_t why_len) {
    if (cc != 90) {
        snprintf(why, why_len, "sparse wgmma needs sm_90a");
        return 0;
    }
    if (is_16bit(v) && (p->act_dtype == QG_DTYPE_F16) != (v[P_DT] == DT_F16)) {
        snprintf(why, why_len, "this variant is for %s weights and activations",
                 v[P_DT] == DT_F16 ? "f16" : "bf16");
        return 0;
    }
    if (p->k % 64) {
        snprintf(why, why_len, "K must be a multiple of 64");
        return 0;
    }
    if (smem_bytes(v) > 232448) {
        snprintf(why, why_len, "needs %d bytes of shared memory", smem_bytes(v));
        return 0;
    }
    if (QG_CDIV(p->m, v[P_TM]) * QG_CDIV(p->n, v[P_TN]) > INT32_MAX) {
        snprintf(why, why_len, "M x N has too many tiles for one grid");
        return 0;
    }
    return 1;
}

/*
 * Heuristic cost in ns, the model of family_sp24_mma.c (see there) with this kernel's H100
 * calibration: one CTA per SM, t1 = 140 + 0.000283 * TN * TM * 64 ns per stage (bf16 measured:
 * 437 ns at 128 x 128, 734 ns at 256 x 128, with sg 2..4), waves of one CTA per SM, floored by
 * the DRAM time.
 */
static double heuristic(const qg_problem *p, const int *v, const qg_device_info *dev) {
    const double sms = dev && dev->sm_count > 0 ? dev->sm_count : 132;
    const double es = is_16bit(v) ? 2.0 : 1.0;
    const double m = (double)p->m, n = (double)p->n, k = (double)p->k;
    const double ctas = (double)QG_CDIV(p->n, v[P_TN]) * (double)QG_CDIV(p->m, v[P_TM]);
    const double stages = ceil(k / (is_16bit(v) ? 64.0 : 128.0));
    const double t1 = 140.0 + 0.000283 * v[P_TN] * v[P_TM] * 64.0;
    const double compute = ceil(ctas / sms) * stages * t1;
    double bw = (ctas < sms ? ctas : sms) * 30.0;
    if (bw > 2500.0) bw = 2500.0;
    const double bytes = n * k * es * (is_16bit(v) ? 0.5625 : 0.625) + m * k * es + m * n * 2;
    const double mem = bytes / bw;
    return compute > mem ? compute : mem;
}

static qg_status launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                        const int *v, void *stream) {
    const qg_gemm_args *ga = args;
    const int es = is_16bit(v) ? 2 : 1;
    const char *id = k->variant->id;
    QG_RETURN_IF(ctx, ((uintptr_t)ga->a & 15) || (ga->lda * es) % 16, QG_ERR_INVALID_ARGUMENT,
                 "%s: activations must be 16-byte aligned with lda*%d a multiple of 16 (lda=%lld)",
                 id, es, (long long)ga->lda);
    QG_RETURN_IF(ctx, ((uintptr_t)ga->w.weight & 15) || ((uintptr_t)ga->w.meta & 15),
                 QG_ERR_INVALID_ARGUMENT, "%s: packed weight buffers must be 16-byte aligned", id);
    const void *w = ga->w.weight, *meta = ga->w.meta, *w_scale = ga->w.scale, *a = ga->a;
    const void *a_scale = ga->a_scale, *bias = p->has_bias ? ga->bias : NULL;
    void *c = ga->c;
    int m = (int)p->m, n = (int)p->n, kk = (int)p->k;
    long long lda = ga->lda, ldc = ga->ldc;
    int a_scale_stride = p->act_scale == QG_SCALE_PER_TENSOR ? 0 : 1;
    int out_bf16 = p->out_dtype == QG_DTYPE_BF16;
    void *kargs[] = {&w, &meta, &w_scale, &a,   &a_scale, &bias,           &c,
                     &m, &n,    &kk,      &lda, &ldc,     &a_scale_stride, &out_bf16};
    /* one CTA per output tile, in the grouped order of kernels/cuda/tile_raster.cuh */
    return qg_kernel_launch(ctx, k, (unsigned)(QG_CDIV(p->n, v[P_TN]) * QG_CDIV(p->m, v[P_TM])), 1,
                            1, 256, (unsigned)smem_bytes(v), stream, kargs);
}

#define SP24_WGMMA_FAMILY(var, nm, scheme, table)      \
    const qg_family var = {                            \
        .name = nm,                                    \
        .source = "sp24_wgmma.cu",                     \
        .entry = "qg_sp24_wgmma",                      \
        .op = QG_OP_GEMM,                              \
        .scheme_mask = 1u << (scheme),                 \
        .min_cc = 90,                                  \
        .needs_sm90a = 1,                              \
        .hip = 0,                                      \
        .num_params = 5,                               \
        .param_names = {"dt", "tn", "tm", "st", "sg"}, \
        .num_variants = QG_ARRAY_SIZE(table),          \
        .variants = table,                             \
        .supports = supports,                          \
        .heuristic = heuristic,                        \
        .workspace = NULL,                             \
        .launch = launch,                              \
    };

SP24_WGMMA_FAMILY(qg_family_sp24_bf16_wgmma, "sp24_bf16_wgmma", QG_SCHEME_SP24_BF16, bf16_variants)
SP24_WGMMA_FAMILY(qg_family_sp24_int8_wgmma, "sp24_int8_wgmma", QG_SCHEME_SP24_INT8, int8_variants)
SP24_WGMMA_FAMILY(qg_family_sp24_fp8_wgmma, "sp24_fp8_wgmma", QG_SCHEME_SP24_FP8, fp8_variants)
