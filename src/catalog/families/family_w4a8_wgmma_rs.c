/*
 * The W4A8_FP8 RS wgmma family for sm_90a (large M), kernels/cuda/w4a8_fp8_wgmma_rs.cu: the int4
 * weight converted to e4m3 by the consumer warps straight into wgmma's register A operand, the
 * e4m3 activations (renamed into the packed word's k order by 4-byte cp.async) the shared-memory
 * B operand, per-group promotion of the fp8 sums into f32, split-K as the W4A16 wgmma families
 * (wgmma_splitk.h). Tiles of bm tokens x 128 weight rows; parameters bm (64 or 128) and pipe
 * (1: the consumers convert each k32 step while the earlier ones run). Same
 * arguments as the mma.sync W4A8 families (qg_gemm_args with a_scale). Experimental (tuner
 * only) until the GPU suite and the tuner's reference check have run it.
 */
#include "catalog.h"
#include "famdyn.h"
#include "jit.h"
#include "family_w4a16_common.h" /* qg_wo_bind_splitk */
#include "wgmma_splitk.h"

#include <stdint.h>
#include <stdio.h>

#include "../kernels/cuda/w4a8_wgmma_rs_abi.cuh"

typedef struct qg_w4a8rs_params w4a8rs_params;

enum { P_BM = 0, P_PIPE = 1 };

/* pipe 0: each tile converted whole, then its four wgmmas as one group; pipe 1: one wgmma per
 * step, each step converted while the earlier ones run (w4a8_fp8_wgmma_rs.cu). */
static const int variants[][QG_MAX_PARAMS] = {
    {64, 0},
    {128, 0},
    {64, 1},
    {128, 1},
};

#define RS_BN 128
#define RS_BK 128
#define RS_THREADS 384

/* The ring (w4a8_wgmma_rs_abi.cuh), plus 1 KB of barriers and flags and 1 KB to align the
 * base to 1024. */
static int smem_bytes(const int *v) {
    return QG_W4A8RS_STAGES * QG_W4A8RS_STAGE_BYTES(v[P_BM]) + 1024 + 1024;
}

static qg_wgsk_grid grid_of(const qg_problem *p, const int *v) {
    return (qg_wgsk_grid){QG_CDIV(p->m, v[P_BM]) * QG_CDIV(p->n, RS_BN), p->k / RS_BK, p->m, p->n};
}

static int supports(const qg_problem *p, const int *v, int cc, char *why, size_t why_len) {
    if (!qg_dyn_common_supports(p, cc, 90, why, why_len)) return 0;
    if (cc != 90) {
        snprintf(why, why_len, "wgmma kernels are built for sm_90a only");
        return 0;
    }
    if (p->group_size != RS_BK || p->k % RS_BK) {
        snprintf(why, why_len, "needs group size 128 and K a multiple of 128 (group %d, K %lld)",
                 p->group_size, (long long)p->k);
        return 0;
    }
    if (QG_CDIV(p->m, v[P_BM]) * QG_CDIV(p->n, RS_BN) > INT32_MAX) {
        snprintf(why, why_len, "too many tiles for a 32-bit grid index");
        return 0;
    }
    if (smem_bytes(v) > qg_dyn_smem_limit(cc)) {
        snprintf(why, why_len, "needs %d bytes of shared memory", smem_bytes(v));
        return 0;
    }
    return 1;
}

/* Microseconds, on the scale of the other W4A8 families (famdyn.h): fp8 tensor-core time at a
 * rate guessed until the tuner measures it (the mma.sync family: 200 TFLOP/s on sm_90),
 * floored by memory. */
static double heuristic(const qg_problem *p, const int *v, const qg_device_info *dev) {
    return qg_dyn_tile_cost(p, v[P_BM], RS_BN, 600.0, 1, dev, 4);
}

static size_t workspace(const qg_problem *p, const int *v) {
    const qg_wgsk_grid g = grid_of(p, v);
    return qg_wgsk_workspace(&g);
}

static qg_status launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                        const int *v, void *stream) {
    const qg_gemm_args *a = args;
    const char *id = k->variant->id;
    /* 16-byte weight and activation rows (cp.async), 4-byte scale copies */
    QG_RETURN_IF(ctx, ((uintptr_t)a->a & 15) || (a->lda & 15) || ((uintptr_t)a->w.weight & 15),
                 QG_ERR_INVALID_ARGUMENT,
                 "%s needs 16-byte aligned a and weight and lda a multiple of 16 (a=%p lda=%lld "
                 "weight=%p)",
                 id, a->a, (long long)a->lda, a->w.weight);
    QG_RETURN_IF(ctx, ((uintptr_t)a->c & 1) || ((uintptr_t)a->w.scale & 3) || !a->a_scale,
                 QG_ERR_INVALID_ARGUMENT,
                 "%s needs a 2-byte aligned c, 4-byte aligned scales and a_scale", id);
    QG_RETURN_IF(ctx, a->lda > INT32_MAX || a->ldc > INT32_MAX, QG_ERR_INVALID_ARGUMENT,
                 "%s: lda (%lld) or ldc (%lld) above 2^31 - 1", id, (long long)a->lda,
                 (long long)a->ldc);
    const qg_wgsk_grid g = grid_of(p, v);
    int per = 0;
    const int s = qg_wgsk_splits(&g, &ctx->info, &per);
    w4a8rs_params kp = {
        .a = a->a,
        .w = a->w.weight,
        .w_scale = a->w.scale,
        .a_scale = a->a_scale,
        .bias = p->has_bias ? a->bias : NULL,
        .c = a->c,
        .m = (int32_t)p->m,
        .n = (int32_t)p->n,
        .k = (int32_t)p->k,
        .lda = (int32_t)a->lda,
        .ldc = (int32_t)a->ldc,
        .groups = (int32_t)(p->k / RS_BK),
        .a_per_tensor = p->act_scale == QG_SCALE_PER_TENSOR,
        .out_bf16 = p->out_dtype == QG_DTYPE_BF16,
        .kt_per_split = per,
        .splits = s,
        .tiles_m = (int32_t)QG_CDIV(p->m, v[P_BM]),
        .tiles_n = (int32_t)QG_CDIV(p->n, RS_BN),
    };
    if (s > 1)
        QG_CHECK(qg_wo_bind_splitk(ctx, p, a, id, s, qg_wgsk_counter_bytes(&g), &kp.counter,
                                   &kp.partial));
    void *params[] = {&kp};
    return qg_kernel_launch(ctx, k, (unsigned)g.tiles, (unsigned)s, 1, RS_THREADS,
                            (unsigned)smem_bytes(v), stream, params);
}

const qg_family qg_family_w4a8_fp8_wgmma_rs = {
    .name = "w4a8_fp8_wgmma_rs",
    .source = "w4a8_fp8_wgmma_rs.cu",
    .entry = "qg_w4a8rs_gemm",
    .op = QG_OP_GEMM,
    .scheme_mask = 1u << QG_SCHEME_W4A8_FP8,
    .min_cc = 90,
    .needs_sm90a = 1,
    .experimental = 1, /* until the GPU suite and the tuner's reference check have run it */
    .num_params = 2,
    .param_names = {"bm", "pipe"},
    .num_variants = QG_ARRAY_SIZE(variants),
    .variants = variants,
    .supports = supports,
    .heuristic = heuristic,
    .workspace = workspace,
    .launch = launch,
};
