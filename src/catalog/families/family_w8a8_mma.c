/*
 * mma.sync families of W8A8_FP8 and W8A8_INT8 (kernels/cuda/w8a8_gemv.cuh for decode,
 * w8a8_mma.cuh tiled), plus the launch and cost helpers the W4A8 families share
 * (family_w4a8_mma.c). The kernels take one argument, qg_dyn_params (famdyn.h).
 */
#include "catalog.h"
#include "dynact.h"
#include "famdyn.h"

#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- shared helpers */

int qg_dyn_smem_limit(int cc) {
    if (cc == 80 || cc == 87) return 166912;
    if (cc >= 90) return 232448;
    return 101376; /* sm_86 / sm_89 */
}

int qg_dyn_mma_smem(const int *v, int wbits) {
    return v[QG_DYN_P_ST] * (v[QG_DYN_P_BM] * 128 + v[QG_DYN_P_BN] * (wbits == 8 ? 128 : 64));
}

static int ilog2(int64_t x) {
    int l = 0;
    while ((1ll << (l + 1)) <= x) l++;
    return l;
}

int qg_dyn_flags(const qg_problem *p, const qg_gemm_args *g) {
    const qg_scheme_traits *t = qg_scheme_get(p->scheme);
    int flags = 0;
    if (p->out_dtype == QG_DTYPE_F16) flags |= QG_DYN_OUT_F16;
    if (p->has_bias) flags |= QG_DYN_BIAS;
    if (p->weight_scale == QG_SCALE_PER_TENSOR && t->weight_bits == 8) flags |= QG_DYN_W_PER_TENSOR;
    if (p->act_scale == QG_SCALE_PER_TENSOR) flags |= QG_DYN_A_PER_TENSOR;
    if (!(g->ldc & 1) && !((uintptr_t)g->c & 3)) flags |= QG_DYN_PAIR_STORE;
    if (!(g->ldc & 7) && !((uintptr_t)g->c & 15)) flags |= QG_DYN_VEC16_STORE;
    return flags;
}

qg_status qg_dyn_launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const qg_gemm_args *g,
                        unsigned gx, unsigned gy, unsigned block, unsigned smem, void *stream) {
    const qg_scheme_traits *t = qg_scheme_get(p->scheme);
    /* 16-byte loads (and TMA) of activations and weights */
    QG_RETURN_IF(ctx, ((uintptr_t)g->a & 15) || (g->lda & 15) || ((uintptr_t)g->w.weight & 15),
                 QG_ERR_INVALID_ARGUMENT,
                 "%s kernels need 16-byte aligned a and weight and lda "
                 "a multiple of 16 (a=%p lda=%lld weight=%p)",
                 t->name, g->a, (long long)g->lda, g->w.weight);
    QG_RETURN_IF(ctx, ((uintptr_t)g->c & 1), QG_ERR_INVALID_ARGUMENT, "c must be 2-byte aligned");
    qg_dyn_params P = {g->a, (long long)g->lda, g->w.weight, g->w.scale, g->a_scale, g->bias,
                       g->c, (long long)g->ldc, (int)p->m,   (int)p->n,  (int)p->k,  1,
                       7,    qg_dyn_flags(p, g)};
    if (t->weight_bits == 4 && p->group_size) {
        P.groups = (int)(p->k / p->group_size);
        P.glog = ilog2(p->group_size);
    }
    void *kargs[] = {&P};
    return qg_kernel_launch(ctx, k, gx, gy, 1, block, smem, stream, kargs);
}

/* Rough H100-calibrated rates, scaled by SM count: enough to order variants of one family and
 * to pick decode vs tiled vs wgmma when the tuning database has no entry. */
static double sm_scale(const qg_device_info *dev) {
    return dev && dev->sm_count > 0 ? dev->sm_count / 132.0 : 1.0;
}

double qg_dyn_gemv_cost(const qg_problem *p, const int *v, const qg_device_info *dev, int wbits) {
    const double wbytes = (double)p->n * (double)p->k * wbits / 8;
    const double ytiles = (double)((p->m + 8 * v[QG_DYN_P_MT] - 1) / (8 * v[QG_DYN_P_MT]));
    /* later token tiles re-read the weight, mostly from L2 */
    const double bytes = wbytes * (1 + 0.35 * (ytiles - 1));
    const double ctas = (double)((p->n + 16 * v[QG_DYN_P_RW] - 1) / (16 * v[QG_DYN_P_RW])) * ytiles;
    const double sms = 132 * sm_scale(dev);
    /* too few warps in flight cannot saturate DRAM */
    const double warps = ctas * v[QG_DYN_P_WARPS] * v[QG_DYN_P_UK];
    const double occupancy = warps / (sms * 64) < 1 ? warps / (sms * 64) : 1;
    const double bw = 2.6e12 * sm_scale(dev) * (0.25 + 0.75 * occupancy);
    return 3.0 + bytes / bw * 1e6;
}

double qg_dyn_tile_cost(const qg_problem *p, int bm, int bn, double tops, int ctas_per_sm,
                        const qg_device_info *dev, int wbits) {
    const double sms = 132 * sm_scale(dev);
    const double tiles = (double)((p->m + bm - 1) / bm) * (double)((p->n + bn - 1) / bn);
    const double waves = (double)(int64_t)((tiles + sms * ctas_per_sm - 1) / (sms * ctas_per_sm));
    const double tile_us = 2.0 * bm * bn * (double)p->k / (tops * 1e12 * sm_scale(dev) / sms) /
                           ctas_per_sm * 1e6;
    const double bytes = (double)p->n * p->k * wbits / 8 + (double)p->m * p->k +
                         2.0 * (double)p->m * p->n;
    const double mem_us = bytes / (2.6e12 * sm_scale(dev)) * 1e6;
    const double compute_us = waves * tile_us;
    return 4.0 + (compute_us > mem_us ? compute_us : mem_us);
}

int qg_dyn_common_supports(const qg_problem *p, int cc, int min_cc, char *why, size_t why_len) {
    if (cc < min_cc) {
        snprintf(why, why_len, "needs compute capability %d.%d", min_cc / 10, min_cc % 10);
        return 0;
    }
    if (p->n > (1 << 30) || p->k > (1 << 30) || p->m > (1 << 30)) {
        snprintf(why, why_len, "dimensions above 2^30");
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- W8A8 families */

/* gemv: {rw, mt, warps, uk} */
static const int gemv_variants[][QG_MAX_PARAMS] = {
    {1, 1, 4, 4},
    {2, 1, 8, 4},
    {1, 2, 8, 4},
};

/* tiled: {bm, bn, wm, wn, st} */
static const int mma_fp8_variants[][QG_MAX_PARAMS] = {
    {128, 128, 2, 4, 3},
    {64, 128, 2, 4, 3},
};
static const int mma_int8_variants[][QG_MAX_PARAMS] = {
    {128, 128, 2, 4, 3},
    {128, 256, 2, 4, 3},
    {64, 128, 2, 4, 4},
};

static int gemv_supports(const qg_problem *p, const int *v, int cc, char *why, size_t why_len) {
    const int min_cc = p->scheme == QG_SCHEME_W8A8_FP8 ? 89 : 80;
    if (!qg_dyn_common_supports(p, cc, min_cc, why, why_len)) return 0;
    if (p->m > 256) {
        snprintf(why, why_len, "decode kernel: M (%lld) above 256", (long long)p->m);
        return 0;
    }
    (void)v;
    return 1;
}

static double gemv_cost8(const qg_problem *p, const int *v, const qg_device_info *dev) {
    return qg_dyn_gemv_cost(p, v, dev, 8);
}

qg_status qg_dyn_gemv_launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                             const int *v, void *stream) {
    const unsigned gx = (unsigned)((p->n + 16 * v[QG_DYN_P_RW] - 1) / (16 * v[QG_DYN_P_RW]));
    const unsigned gy = (unsigned)((p->m + 8 * v[QG_DYN_P_MT] - 1) / (8 * v[QG_DYN_P_MT]));
    return qg_dyn_launch(ctx, k, p, args, gx, gy, 32u * (unsigned)v[QG_DYN_P_WARPS], 0, stream);
}

static int mma_supports(const qg_problem *p, const int *v, int cc, char *why, size_t why_len) {
    const int fp8 = p->scheme == QG_SCHEME_W8A8_FP8;
    if (!qg_dyn_common_supports(p, cc, fp8 ? 89 : 80, why, why_len)) return 0;
    const int smem = qg_dyn_mma_smem(v, 8);
    if (smem > qg_dyn_smem_limit(cc)) {
        snprintf(why, why_len, "needs %d bytes of shared memory, the device allows %d", smem,
                 qg_dyn_smem_limit(cc));
        return 0;
    }
    return 1;
}

qg_status qg_dyn_mma_launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                            const int *v, void *stream) {
    const int wbits = qg_scheme_get(p->scheme)->weight_bits;
    const int64_t tiles = ((p->m + v[QG_DYN_P_BM] - 1) / v[QG_DYN_P_BM]) *
                          ((p->n + v[QG_DYN_P_BN] - 1) / v[QG_DYN_P_BN]);
    QG_RETURN_IF(ctx, tiles > 0x7fffffff, QG_ERR_UNSUPPORTED, "too many tiles (%lld)",
                 (long long)tiles);
    const unsigned threads = 32u * (unsigned)(v[QG_DYN_P_WM] * v[QG_DYN_P_WN]);
    return qg_dyn_launch(ctx, k, p, args, (unsigned)tiles, 1, threads,
                         (unsigned)qg_dyn_mma_smem(v, wbits), stream);
}

static double mma_cost(const qg_problem *p, const int *v, const qg_device_info *dev) {
    const int fp8 = p->scheme == QG_SCHEME_W8A8_FP8;
    const int cc = dev ? dev->cc_major * 10 + dev->cc_minor : 90;
    /* sm_90 runs e4m3 mma.sync as f16 HMMA after a conversion: slow there */
    const double tops = fp8 ? (cc >= 90 ? 250.0 : 330.0) : 480.0;
    return qg_dyn_tile_cost(p, v[QG_DYN_P_BM], v[QG_DYN_P_BN], tops, 1, dev, 8);
}

const qg_family qg_family_w8a8_fp8_gemv = QG_DYN_GEMV_FAMILY("w8a8_fp8", QG_SCHEME_W8A8_FP8, 89,
                                                             gemv_variants, gemv_supports,
                                                             gemv_cost8, NULL);

const qg_family qg_family_w8a8_int8_gemv = QG_DYN_GEMV_FAMILY("w8a8_int8", QG_SCHEME_W8A8_INT8, 80,
                                                              gemv_variants, gemv_supports,
                                                              gemv_cost8, NULL);

const qg_family qg_family_w8a8_fp8_mma = QG_DYN_MMA_FAMILY("w8a8_fp8", QG_SCHEME_W8A8_FP8, 89,
                                                           mma_fp8_variants, mma_supports, mma_cost,
                                                           NULL);

const qg_family qg_family_w8a8_int8_mma = QG_DYN_MMA_FAMILY("w8a8_int8", QG_SCHEME_W8A8_INT8, 80,
                                                            mma_int8_variants, mma_supports,
                                                            mma_cost, NULL);
