/*
 * dequant_wo: packed W4A16 / W8A16 weights -> bf16 or f16 [N, K] row-major on the GPU
 * (kernels/cuda/dequant_wo.cu), bit-exact with qg_dequantize_weight_host rounded to the output
 * dtype. One warp per (64-row slab, 32-k chunk), 8 warps per CTA. Parameter: wbits (4, 8).
 * dequant_wo_fzp: the same kernel on W4A16 float zero points (QG_FZP=1, params wbits 4, fzp 1).
 */
#include "catalog.h"
#include "family_w4a16_common.h"
#include "jit.h"
#include "scheme_w4a16.h"

#include "../kernels/cuda/qg_abi.cuh" /* qg_dq_params */

#include <stdint.h>
#include <stdio.h>

static const int variants[][QG_MAX_PARAMS] = {{4}, {8}};
static const int fzp_variants[][QG_MAX_PARAMS] = {{4, 1}}; /* params[1] of the rows above: 0 */

static int supports(const qg_problem *p, const int *params, int cc, char *why, size_t why_len) {
    const qg_scheme want = params[0] == 4 ? QG_SCHEME_W4A16 : QG_SCHEME_W8A16;
    if (p->scheme != want) {
        snprintf(why, why_len, "dequantizes %s weights, not %s", qg_scheme_name(want),
                 qg_scheme_name(p->scheme));
        return 0;
    }
    return qg_wo_zero_point_supported(p, params[1], why, why_len);
}

static qg_status launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                        const int *params, void *stream) {
    const qg_dequant_args *a = args;
    QG_RETURN_IF(ctx,
                 (uintptr_t)a->w->weight % 16 || (uintptr_t)a->w->scale % 16 ||
                     (p->has_zero_point && (uintptr_t)a->w->zero % 16) || (uintptr_t)a->out % 2,
                 QG_ERR_UNSUPPORTED,
                 "%s needs 16-byte aligned packed buffers and a 2-byte aligned "
                 "output",
                 k->variant->id);
    QG_RETURN_IF(ctx, p->has_zero_point && !a->w->zero, QG_ERR_NULL_POINTER,
                 "has_zero_point is set but the zero point buffer is NULL");
    qg_wo_geom g;
    qg_wo_geom_get(p, &g);
    qg_dq_params dp = {
        .w = a->w->weight,
        .scale = a->w->scale,
        .zero = p->has_zero_point ? a->w->zero : NULL,
        .out = a->out,
        .n = (int32_t)p->n,
        .k = (int32_t)p->k,
        .kp = (int32_t)g.kp,
        .groups = g.groups,
        .gs_log2 = g.groups == 1 ? 30
                   : g.gs == 32  ? 5
                   : g.gs == 64  ? 6
                                 : 7,
        .scale_bf16 = p->act_dtype == QG_DTYPE_BF16,
        .out_bf16 = a->out_dtype == QG_DTYPE_BF16,
        .vec_ok = p->k % 8 == 0 && (uintptr_t)a->out % 16 == 0,
    };
    const int64_t warps = (g.np / 64) * (g.kp / 32);
    QG_RETURN_IF(ctx, QG_CDIV(warps, 8) > INT32_MAX, QG_ERR_UNSUPPORTED, "weight too large");
    void *params_[] = {&dp};
    return qg_kernel_launch(ctx, k, (unsigned)QG_CDIV(warps, 8), 1, 1, 256, 0, stream, params_);
}

const qg_family qg_family_dequant_wo = {
    .name = "dequant_wo",
    .source = "dequant_wo.cu",
    .entry = "qg_wo_dequant",
    .op = QG_OP_DEQUANT,
    .scheme_mask = (1u << QG_SCHEME_W4A16) | (1u << QG_SCHEME_W8A16),
    .min_cc = 80,
    .num_params = 1,
    .param_names = {"wbits"},
    .num_variants = QG_ARRAY_SIZE(variants),
    .variants = variants,
    .supports = supports,
    .heuristic = NULL,
    .workspace = NULL,
    .launch = launch,
};

const qg_family qg_family_dequant_wo_fzp = {
    .name = "dequant_wo_fzp",
    .source = "dequant_wo.cu",
    .entry = "qg_wo_dequant",
    .op = QG_OP_DEQUANT,
    .scheme_mask = 1u << QG_SCHEME_W4A16,
    .min_cc = 80,
    .num_params = 2,
    .param_names = {"wbits", "fzp"},
    .num_variants = QG_ARRAY_SIZE(fzp_variants),
    .variants = fzp_variants,
    .supports = supports,
    .heuristic = NULL,
    .workspace = NULL,
    .launch = launch,
};
