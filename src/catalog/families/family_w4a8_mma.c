/*
 * mma.sync families of W4A8_FP8 and W4A8_INT8: the decode and tiled kernels of
 * kernels/cuda/w8a8_gemv.cuh / w8a8_mma.cuh compiled for int4 weights (converted to e4m3 / int8
 * in registers, per-group scales applied to per-group partial sums). Launch and cost helpers
 * are shared with the W8A8 families (famdyn.h).
 */
#include "famdyn.h"

#include <stdio.h>

/* gemv: {rw, mt, warps, uk}; an int4 chunk is 128 k, so fewer chunks ahead than W8A8 */
static const int gemv_variants[][QG_MAX_PARAMS] = {
    {1, 1, 4, 2},
    {2, 1, 8, 2},
    {1, 2, 8, 2},
};

/* tiled: {bm, bn, wm, wn, st} */
static const int mma_fp8_variants[][QG_MAX_PARAMS] = {
    {64, 128, 2, 4, 3},
    {128, 64, 4, 2, 4},
};
static const int mma_int8_variants[][QG_MAX_PARAMS] = {
    {128, 128, 2, 4, 3},
    {64, 128, 2, 4, 4},
};

static int min_cc_of(const qg_problem *p) { return p->scheme == QG_SCHEME_W4A8_FP8 ? 89 : 80; }

static int gemv_supports(const qg_problem *p, const int *v, int cc, char *why, size_t why_len) {
    (void)v;
    if (!qg_dyn_common_supports(p, cc, min_cc_of(p), why, why_len)) return 0;
    if (p->m > 256) {
        snprintf(why, why_len, "decode kernel: M (%lld) above 256", (long long)p->m);
        return 0;
    }
    return 1;
}

static double gemv_cost4(const qg_problem *p, const int *v, const qg_device_info *dev) {
    return qg_dyn_gemv_cost(p, v, dev, 4);
}

static int mma_supports(const qg_problem *p, const int *v, int cc, char *why, size_t why_len) {
    if (!qg_dyn_common_supports(p, cc, min_cc_of(p), why, why_len)) return 0;
    const int smem = qg_dyn_mma_smem(v, 4);
    if (smem > qg_dyn_smem_limit(cc)) {
        snprintf(why, why_len, "needs %d bytes of shared memory, the device allows %d", smem,
                 qg_dyn_smem_limit(cc));
        return 0;
    }
    return 1;
}

static double mma_cost(const qg_problem *p, const int *v, const qg_device_info *dev) {
    const int cc = dev ? dev->cc_major * 10 + dev->cc_minor : 90;
    const double tops = p->scheme == QG_SCHEME_W4A8_FP8 ? (cc >= 90 ? 200.0 : 280.0) : 400.0;
    return qg_dyn_tile_cost(p, v[QG_DYN_P_BM], v[QG_DYN_P_BN], tops, 1, dev, 4);
}

const qg_family qg_family_w4a8_fp8_gemv = QG_DYN_GEMV_FAMILY("w4a8_fp8", QG_SCHEME_W4A8_FP8, 89,
                                                             gemv_variants, gemv_supports,
                                                             gemv_cost4, NULL);

/* ptxas (CUDA 13.0) spills 4 bytes in rw2.mt1.warps8.uk2 for sm_89 only */
const qg_family qg_family_w4a8_int8_gemv = QG_DYN_GEMV_FAMILY("w4a8_int8", QG_SCHEME_W4A8_INT8, 80,
                                                              gemv_variants, gemv_supports,
                                                              gemv_cost4, "sm_89");

/* ptxas (CUDA 13.0) spills 12 bytes in both variants for sm_89 only */
const qg_family qg_family_w4a8_fp8_mma = QG_DYN_MMA_FAMILY("w4a8_fp8", QG_SCHEME_W4A8_FP8, 89,
                                                           mma_fp8_variants, mma_supports, mma_cost,
                                                           "sm_89");

const qg_family qg_family_w4a8_int8_mma = QG_DYN_MMA_FAMILY("w4a8_int8", QG_SCHEME_W4A8_INT8, 80,
                                                            mma_int8_variants, mma_supports,
                                                            mma_cost, NULL);
