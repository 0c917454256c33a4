/*
 * w8a16_prefill: W8A16 GEMM for any M, built for large M (kernels/cuda/w8a16_prefill.cu over
 * w4a16_gemm.cuh). CTA tile bm x bn x 64, 2 x (bn / 64) warps of (bm / 2) x 64, 4 stages; the
 * per-channel scale is applied to the f32 sums. Parameters: act (1 f16, 2 bf16), bm, bn.
 */
#include "family_w4a16_common.h"

static const int variants[][QG_MAX_PARAMS] = {
    {2, 128, 128},
    {1, 128, 128},
    {2, 128, 256},
    {1, 128, 256},
};

static qg_wo_tile tile(const int *params) {
    const qg_wo_tile t = {.scheme = QG_SCHEME_W8A16,
                          .wbits = 8,
                          .act = params[0],
                          .bm = params[1],
                          .wm = params[1] / QG_WO_PREFILL_WARP_ROWS,
                          .bn = params[2],
                          .bk = QG_WO_PREFILL_BK,
                          .stages = QG_WO_PREFILL_STAGES,
                          .max_m = 0};
    return t;
}

QG_WO_FAMILY_CALLBACKS(tile)

const qg_family qg_family_w8a16_prefill = {
    .name = "w8a16_prefill",
    .source = "w8a16_prefill.cu",
    .entry = "qg_wo_gemm",
    .op = QG_OP_GEMM,
    .scheme_mask = 1u << QG_SCHEME_W8A16,
    .min_cc = 80,
    .num_params = 3,
    .param_names = {"act", "bm", "bn"},
    .num_variants = QG_ARRAY_SIZE(variants),
    .variants = variants,
    .supports = supports,
    .heuristic = heuristic,
    .workspace = workspace,
    .launch = launch,
};
