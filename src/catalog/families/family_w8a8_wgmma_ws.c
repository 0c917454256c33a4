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
 *
 * The _sk families (w8a8_*_wgmma_ws_sk.cu, parameter sk = 1): the same kernel with split-K, for
 * grids of fewer tiles than SMs (decode batches and small prefill on N = 4096-6144, where the
 * unsplit kernel runs 16-48 CTAs and cuBLASLt stays ~2x above the weight's streaming time).
 * Experimental until the GPU suite has run them.
 */
#include "w8a8_ws.h"

#include "backend.h"
#include "famdyn.h"
#include "jit.h"
#include "wgmma_splitk.h"

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
static const int sk_variants[][QG_MAX_PARAMS] = {
    {128, 6, 1},
    {256, 4, 1},
};

/* The split-K view of a launch: tiles padded to whole 128 x bn partials (wgmma_splitk.h). */
static qg_wgsk_grid sk_grid(const qg_problem *p, const int *v) {
    const int64_t tiles_m = QG_CDIV(p->m, QG_WS_BM), tiles_n = QG_CDIV(p->n, v[QG_WS_P_BN]);
    return (qg_wgsk_grid){tiles_m * tiles_n, QG_CDIV(p->k, QG_WS_BK), tiles_m * QG_WS_BM,
                          tiles_n * v[QG_WS_P_BN]};
}

size_t qg_w8a8_ws_workspace(const qg_problem *p, const int *v) {
    if (!v[QG_WS_P_SK]) return 0;
    const qg_wgsk_grid g = sk_grid(p, v);
    return qg_wgsk_workspace(&g);
}

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
    out->splits = 1;
    out->kb_per_split = (int)QG_CDIV(p->k, QG_WS_BK);
    int64_t units = tiles;
    if (v[QG_WS_P_SK] && out->tiles) {
        const qg_wgsk_grid g = sk_grid(p, v);
        qg_device_info dev = {0};
        dev.sm_count = sm_count;
        out->splits = qg_wgsk_splits(&g, &dev, &out->kb_per_split);
        units = tiles * out->splits;
    }
    out->ctas = out->tiles == 0 || units > 0x7fffffff ? 0 : (unsigned)(units < sms ? units : sms);
    /* up to 16 M tiles (2048 rows) share each W tile while resident in L2 */
    out->group_m = (int)(tiles_m < 16 ? tiles_m : 16);
    out->smem = qg_ws_smem_bytes(v[QG_WS_P_BN], v[QG_WS_P_ST]) + (v[QG_WS_P_SK] ? QG_WS_SK_EXTRA : 0);
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
    const int smem = (int)qg_ws_smem_bytes(v[QG_WS_P_BN], v[QG_WS_P_ST]) +
                     (v[QG_WS_P_SK] ? QG_WS_SK_EXTRA : 0);
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
    if (!v[QG_WS_P_SK]) {
        void *kargs[] = {&tmap_a,  &tmap_w, &ws, &as, &bias,    &c,
                         &ldc_arg, &m,      &n,  &kk, &group_m, &flags};
        return qg_kernel_launch(ctx, k, geo.ctas, 1, 1, QG_WS_THREADS, geo.smem, stream, kargs);
    }
    /* split-K: tile counters (zero, and left zero), then the partials */
    const qg_wgsk_grid sg = sk_grid(p, v);
    void *part = NULL, *count = NULL;
    if (geo.splits > 1) {
        const size_t need = qg_wgsk_counter_bytes(&sg) +
                            (size_t)geo.splits * (size_t)sg.m * (size_t)sg.n * sizeof(float);
        QG_RETURN_IF(ctx, !g->workspace || g->workspace_bytes < need, QG_ERR_INVALID_ARGUMENT,
                     "%s needs a %zu-byte workspace for %d K slices (got %zu)", k->variant->id,
                     need, geo.splits, g->workspace ? g->workspace_bytes : (size_t)0);
        count = g->workspace;
        part = (char *)g->workspace + qg_wgsk_counter_bytes(&sg);
    }
    int splits = geo.splits, kb_per_split = geo.kb_per_split;
    void *kargs[] = {&tmap_a, &tmap_w, &ws,      &as,    &bias, &c,     &ldc_arg, &m,
                     &n,      &kk,     &group_m, &flags, &part, &count, &splits,  &kb_per_split};
    return qg_kernel_launch(ctx, k, geo.ctas, 1, 1, QG_WS_THREADS, geo.smem, stream, kargs);
}

/* Split-K time model: the unsplit one on a grid of tiles x slices (each slice 1/s of K), plus
 * the partials' round trip. */
static double sk_cost(const qg_problem *p, const int *v, const qg_device_info *dev) {
    qg_w8a8_ws_geometry geo;
    qg_w8a8_ws_geometry_get(p, v, dev && dev->sm_count > 0 ? dev->sm_count : 132, &geo);
    qg_problem q = *p;
    q.k = (int64_t)geo.kb_per_split * QG_WS_BK;
    const double parts = geo.splits > 1 ? 2.0 * geo.splits * p->m * p->n * 4.0 / 2.6e12 : 0.0;
    return qg_dyn_tile_cost(&q, QG_WS_BM, v[QG_WS_P_BN], 1100.0, 1, dev, 8) + parts * 1e6;
}

/* nparams 2: {bn, st}; 3: {bn, st, sk} (the split-K families: experimental, a workspace). */
#define WS_FAMILY(var, fname, src, scheme, table, nparams, heur, ws_fn) \
    const qg_family var = {                                             \
        .name = fname,                                                  \
        .source = src,                                                  \
        .entry = "qg_w8a8_wgmma_ws",                                    \
        .op = QG_OP_GEMM,                                               \
        .scheme_mask = 1u << (scheme),                                  \
        .min_cc = 90,                                                   \
        .needs_sm90a = 1,                                               \
        .experimental = (nparams) == 3,                                 \
        .num_params = nparams,                                          \
        .param_names = {"bn", "st", "sk"},                              \
        .num_variants = QG_ARRAY_SIZE(table),                           \
        .variants = table,                                              \
        .supports = supports,                                           \
        .heuristic = heur,                                              \
        .workspace = ws_fn,                                             \
        .launch = launch,                                               \
    }

WS_FAMILY(qg_family_w8a8_fp8_wgmma_ws, "w8a8_fp8_wgmma_ws", "w8a8_fp8_wgmma_ws.cu",
          QG_SCHEME_W8A8_FP8, fp8_variants, 2, cost, NULL);
WS_FAMILY(qg_family_w8a8_int8_wgmma_ws, "w8a8_int8_wgmma_ws", "w8a8_int8_wgmma_ws.cu",
          QG_SCHEME_W8A8_INT8, int8_variants, 2, cost, NULL);
WS_FAMILY(qg_family_w8a8_fp8_wgmma_ws_sk, "w8a8_fp8_wgmma_ws_sk", "w8a8_fp8_wgmma_ws_sk.cu",
          QG_SCHEME_W8A8_FP8, sk_variants, 3, sk_cost, qg_w8a8_ws_workspace);
WS_FAMILY(qg_family_w8a8_int8_wgmma_ws_sk, "w8a8_int8_wgmma_ws_sk", "w8a8_int8_wgmma_ws_sk.cu",
          QG_SCHEME_W8A8_INT8, sk_variants, 3, sk_cost, qg_w8a8_ws_workspace);
