/*
 * Warp-specialized wgmma families of W8A8_FP8 and W8A8_INT8 for sm_90a
 * (kernels/cuda/w8a8_wgmma_ws.cuh): TMA into a QG_ST-stage ring with mbarriers, one producer and
 * two consumer warpgroups, 128 x bn tiles, persistent CTAs. Aimed at prefill (M >= 1024).
 * Parameters: bn (tile columns: 128, 192, 256), st (stages of 128 bytes of K).
 *
 * The launcher builds the two TMA tensor maps (A and W; they embed the pointers) on the stack
 * through the backend's tensor_map_encode and passes them by value. Checked on the CPU
 * (tests/test_w8a8_ws.c) and on the H100 (tests/gpu/gpu_dynamic_act.c, every variant, and the
 * tuner's reference check; 2026-11-23): correct, ~0.89x of cuBLASLt fp8 at M=8192.
 */
#include "w8a8_ws.h"

#include "backend.h"
#include "famdyn.h"
#include "jit.h"

#include <stdint.h>
#include <stdio.h>

#include "../kernels/cuda/w8a8_ws_layout.cuh"

/* fp8 bn 256 promotes in two 128-column halves (acc 128 + partial 64 registers). */
static const int fp8_variants[][QG_MAX_PARAMS] = {
    {128, 6},
    {192, 5},
    {256, 4},
};
static const int int8_variants[][QG_MAX_PARAMS] = {
    {256, 4},
    {128, 6},
    {192, 5},
};

void qg_w8a8_ws_tmaps(const qg_problem *p, const qg_gemm_args *g, int bn, qg_tmap_2d *a,
                      qg_tmap_2d *w) {
    const int64_t lda = g->lda ? g->lda : p->k;
    *a = (qg_tmap_2d){.base = g->a,
                      .dim = {(uint64_t)p->k, (uint64_t)p->m},
                      .row_stride = (uint64_t)lda,
                      .box = {QG_WS_BK, QG_WS_BM},
                      .elem_bytes = 1,
                      .swizzle = 128};
    *w = (qg_tmap_2d){.base = g->w.weight,
                      .dim = {(uint64_t)p->k, (uint64_t)p->n},
                      .row_stride = (uint64_t)p->k,
                      .box = {QG_WS_BK, (uint32_t)bn},
                      .elem_bytes = 1,
                      .swizzle = 128};
}

void qg_w8a8_ws_geometry_get(const qg_problem *p, const int *v, int sm_count,
                             qg_w8a8_ws_geometry *out) {
    const int64_t tiles_m = QG_CDIV(p->m, QG_WS_BM), tiles_n = QG_CDIV(p->n, v[QG_WS_P_BN]);
    const int64_t tiles = tiles_m * tiles_n;
    const int64_t sms = sm_count > 0 ? sm_count : 1;
    out->tiles = tiles > 0x7fffffff ? 0 : (int)tiles;
    out->ctas = out->tiles == 0 ? 0 : (unsigned)(tiles < sms ? tiles : sms);
    /* up to 16 M tiles (2048 rows) share each W tile while resident in L2 */
    out->group_m = (int)(tiles_m < 16 ? tiles_m : 16);
    out->smem = qg_ws_smem_bytes(v[QG_WS_P_BN], v[QG_WS_P_ST]);
}

static int supports(const qg_problem *p, const int *v, int cc, char *why, size_t why_len) {
    if (!qg_dyn_common_supports(p, cc, 90, why, why_len)) return 0;
    if (cc != 90) {
        snprintf(why, why_len, "TMA + wgmma kernels are built for sm_90a only");
        return 0;
    }
    if (p->k % 16) { /* TMA row strides are multiples of 16 bytes (docs/formats.md, W8A8) */
        snprintf(why, why_len, "K (%lld) is not a multiple of 16", (long long)p->k);
        return 0;
    }
    const int smem = (int)qg_ws_smem_bytes(v[QG_WS_P_BN], v[QG_WS_P_ST]);
    if (smem > qg_dyn_smem_limit(cc)) {
        snprintf(why, why_len, "needs %d bytes of shared memory", smem);
        return 0;
    }
    const int64_t tiles = QG_CDIV(p->m, QG_WS_BM) * QG_CDIV(p->n, v[QG_WS_P_BN]);
    if (tiles > 0x7fffffff) {
        snprintf(why, why_len, "too many tiles (%lld)", (long long)tiles);
        return 0;
    }
    return 1;
}

static double cost(const qg_problem *p, const int *v, const qg_device_info *dev) {
    return qg_dyn_tile_cost(p, QG_WS_BM, v[QG_WS_P_BN], 1100.0, 1, dev, 8);
}

static qg_status launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                        const int *v, void *stream) {
    const qg_gemm_args *g = args;
    const long long lda = g->lda ? g->lda : p->k, ldc = g->ldc ? g->ldc : p->n;
    QG_RETURN_IF(ctx, ((uintptr_t)g->a & 15) || (lda & 15) || ((uintptr_t)g->w.weight & 15),
                 QG_ERR_INVALID_ARGUMENT,
                 "%s needs 16-byte aligned a and weight and lda a "
                 "multiple of 16 (a=%p lda=%lld weight=%p)",
                 k->variant->id, g->a, lda, g->w.weight);
    QG_RETURN_IF(ctx, ((uintptr_t)g->c & 1), QG_ERR_INVALID_ARGUMENT, "c must be 2-byte aligned");
    QG_RETURN_IF(ctx, !ctx->ops->tensor_map_encode, QG_ERR_UNSUPPORTED,
                 "%s needs TMA tensor maps, which the %s backend lacks", k->variant->id,
                 ctx->ops->name);
    qg_w8a8_ws_geometry geo;
    qg_w8a8_ws_geometry_get(p, v, ctx->info.sm_count, &geo);
    QG_RETURN_IF(ctx, geo.ctas == 0, QG_ERR_UNSUPPORTED, "too many tiles");

    qg_tmap_2d da, dw;
    qg_w8a8_ws_tmaps(p, g, v[QG_WS_P_BN], &da, &dw);
    qg_tensor_map tmap_a, tmap_w;
    QG_CHECK(ctx->ops->tensor_map_encode(ctx, &tmap_a, &da));
    QG_CHECK(ctx->ops->tensor_map_encode(ctx, &tmap_w, &dw));

    const void *ws = g->w.scale, *as = g->a_scale, *bias = g->bias;
    void *c = g->c;
    int m = (int)p->m, n = (int)p->n, kk = (int)p->k, group_m = geo.group_m;
    int flags = qg_dyn_flags(p, g);
    long long ldc_arg = ldc;
    void *kargs[] = {&tmap_a,  &tmap_w, &ws, &as, &bias,    &c,
                     &ldc_arg, &m,      &n,  &kk, &group_m, &flags};
    return qg_kernel_launch(ctx, k, geo.ctas, 1, 1, QG_WS_THREADS, geo.smem, stream, kargs);
}

#define WS_FAMILY(var, fname, src, scheme, table) \
    const qg_family var = {                       \
        .name = fname,                            \
        .source = src,                            \
        .entry = "qg_w8a8_wgmma_ws",              \
        .op = QG_OP_GEMM,                         \
        .scheme_mask = 1u << (scheme),            \
        .min_cc = 90,                             \
        .needs_sm90a = 1,                         \
        .num_params = 2,                          \
        .param_names = {"bn", "st"},              \
        .num_variants = QG_ARRAY_SIZE(table),     \
        .variants = table,                        \
        .supports = supports,                     \
        .heuristic = cost,                        \
        .launch = launch,                         \
    }

WS_FAMILY(qg_family_w8a8_fp8_wgmma_ws, "w8a8_fp8_wgmma_ws", "w8a8_fp8_wgmma_ws.cu",
          QG_SCHEME_W8A8_FP8, fp8_variants);
WS_FAMILY(qg_family_w8a8_int8_wgmma_ws, "w8a8_int8_wgmma_ws", "w8a8_int8_wgmma_ws.cu",
          QG_SCHEME_W8A8_INT8, int8_variants);
