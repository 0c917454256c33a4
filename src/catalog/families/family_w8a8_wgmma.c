/*
 * wgmma families of W8A8_FP8 and W8A8_INT8 for sm_90a (kernels/cuda/w8a8_wgmma.cuh): the
 * prefill path on Hopper, where e4m3 mma.sync is lowered to f16 HMMA. Same arguments as the
 * mma.sync families (famdyn.h). Parameters: bn (tile columns), wg (consumer warpgroups, 64
 * rows each), st (pipeline stages of 128 k).
 */
#include "famdyn.h"

#include <stdio.h>

enum { P_BN = 0, P_WG = 1, P_ST = 2 };

static const int fp8_variants[][QG_MAX_PARAMS] = {
    {128, 2, 4},
    {64, 2, 4},
};
static const int int8_variants[][QG_MAX_PARAMS] = {
    {128, 2, 4},
    {256, 2, 3},
};

static int smem_bytes(const int *v) {
    return v[P_ST] * (64 * v[P_WG] * 128 + v[P_BN] * 128) + 1024; /* +1 KB to align to 1024 */
}

static int supports(const qg_problem *p, const int *v, int cc, char *why, size_t why_len) {
    if (!qg_dyn_common_supports(p, cc, 90, why, why_len)) return 0;
    if (cc != 90) {
        snprintf(why, why_len, "wgmma kernels are built for sm_90a only");
        return 0;
    }
    if (smem_bytes(v) > qg_dyn_smem_limit(cc)) {
        snprintf(why, why_len, "needs %d bytes of shared memory", smem_bytes(v));
        return 0;
    }
    return 1;
}

static double cost(const qg_problem *p, const int *v, const qg_device_info *dev) {
    return qg_dyn_tile_cost(p, 64 * v[P_WG], v[P_BN], 750.0, 1, dev, 8);
}

static qg_status launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                        const int *v, void *stream) {
    const int bm = 64 * v[P_WG];
    const int64_t tiles = ((p->m + bm - 1) / bm) * ((p->n + v[P_BN] - 1) / v[P_BN]);
    QG_RETURN_IF(ctx, tiles > 0x7fffffff, QG_ERR_UNSUPPORTED, "too many tiles (%lld)",
                 (long long)tiles);
    return qg_dyn_launch(ctx, k, p, args, (unsigned)tiles, 1, 128u * (unsigned)v[P_WG],
                         (unsigned)smem_bytes(v), stream);
}

const qg_family qg_family_w8a8_fp8_wgmma = {
    .name = "w8a8_fp8_wgmma",
    .source = "w8a8_fp8_wgmma.cu",
    .entry = "qg_w8a8_wgmma",
    .op = QG_OP_GEMM,
    .scheme_mask = 1u << QG_SCHEME_W8A8_FP8,
    .min_cc = 90,
    .needs_sm90a = 1,
    .num_params = 3,
    .param_names = {"bn", "wg", "st"},
    .num_variants = QG_ARRAY_SIZE(fp8_variants),
    .variants = fp8_variants,
    .supports = supports,
    .heuristic = cost,
    .launch = launch,
};

const qg_family qg_family_w8a8_int8_wgmma = {
    .name = "w8a8_int8_wgmma",
    .source = "w8a8_int8_wgmma.cu",
    .entry = "qg_w8a8_wgmma",
    .op = QG_OP_GEMM,
    .scheme_mask = 1u << QG_SCHEME_W8A8_INT8,
    .min_cc = 90,
    .needs_sm90a = 1,
    .num_params = 3,
    .param_names = {"bn", "wg", "st"},
    .num_variants = QG_ARRAY_SIZE(int8_variants),
    .variants = int8_variants,
    .supports = supports,
    .heuristic = cost,
    .launch = launch,
};
