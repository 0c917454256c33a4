/*
 * w4a16_decode: W4A16 GEMM for M <= 64 (kernels/cuda/w4a16_decode.cu over w4a16_gemm.cuh).
 * CTA = 4 warps x 64 columns, mt m16 tiles of rows, k tiles of 128, 4 stages; split-K fills the
 * GPU. Parameters: act (1 f16, 2 bf16 activations), mt (m16 tiles per row tile: 1, 2, 4).
 */
#include "family_w4a16_common.h"

static const int variants[][QG_MAX_PARAMS] = {
    {2, 1}, {1, 1}, {2, 2}, {1, 2}, {2, 4}, {1, 4},
};

static qg_wo_tile tile(const int *params) {
    const qg_wo_tile t = {.scheme = QG_SCHEME_W4A16,
                          .wbits = 4,
                          .act = params[0],
                          .bm = 16 * params[1],
                          .wm = 16 * params[1],
                          .bn = QG_WO_DECODE_BN,
                          .bk = QG_W4A16_DECODE_BK,
                          .stages = QG_WO_DECODE_STAGES,
                          .max_m = 64};
    return t;
}

QG_WO_FAMILY_CALLBACKS(tile)

const qg_family qg_family_w4a16_decode = {
    .name = "w4a16_decode",
    .source = "w4a16_decode.cu",
    .entry = "qg_wo_gemm",
    .op = QG_OP_GEMM,
    .scheme_mask = 1u << QG_SCHEME_W4A16,
    .min_cc = 80,
    .num_params = 2,
    .param_names = {"act", "mt"},
    .num_variants = QG_ARRAY_SIZE(variants),
    .variants = variants,
    .supports = supports,
    .heuristic = heuristic,
    .workspace = workspace,
    .launch = launch,
};
