/*
 * The W4A16 wgmma families for sm_90a (large M), both on the packed format of w4a16_decode /
 * w4a16_prefill, both with the same kernel parameters (kernels/cuda/w4a16_wgmma_abi.cuh), split-K
 * (deterministic, the workspace left zeroed) only when the tiles alone cannot fill the GPU:
 *
 * w4a16_wgmma (kernels/cuda/w4a16_wgmma.cu), SS form: a producer warpgroup streams the packed
 * weight and the activations with cp.async and dequantizes the weight into shared memory, two
 * consumer warpgroups run wgmma on 128-token x bn tiles. Parameters: act (1 f16, 2 bf16
 * activations), bn (128 or 256 weight rows per CTA). Hardware status: correct on the H100
 * (tests/gpu/gpu_weight_only, every variant, 2026-11-23), far from the roofline (~290 TFLOP/s at
 * large M: bounded by the producer's int4 dequantization).
 *
 * wo_wgmma_rs (kernels/cuda/wo_wgmma_rs.cu), RS form (Machete's transposed problem), W4A16 and
 * W8A16: the consumers decode the weight straight into wgmma's register A operand, the producer
 * only copies (activations renamed into the format's k order by 4-byte cp.async). Tiles of bm
 * tokens x 128 weight rows. Parameters: wbits (4: W4A16, 8: W8A16), act, bm (64 or 128 tokens
 * per CTA). Experimental (tuner only) until it beats what dispatch picks today.
 */
#include "catalog.h"
#include "family_w4a16_common.h"
#include "jit.h"
#include "scheme_w4a16.h"
#include "wgmma_splitk.h"

#include <stdint.h>
#include <stdio.h>

#include "../kernels/cuda/w4a16_wgmma_abi.cuh"

/* SS params: act, bn. RS params: wbits, act, bm. */
enum {
    P_ACT = 0,
    P_TILE = 1,
    RS_P_WBITS = 0,
    RS_P_ACT = 1,
    RS_P_TILE = 2,
    RS_P_FZP = 3,
    RS_P_PIPE = 4
};

static const int variants[][QG_MAX_PARAMS] = {
    {2, 256},
    {1, 256},
    {2, 128},
    {1, 128},
};
static const int rs_variants[][QG_MAX_PARAMS] = {
    {4, 2, 128}, {4, 1, 128}, {4, 2, 64}, {4, 1, 64},
    {8, 2, 128}, {8, 1, 128}, {8, 2, 64}, {8, 1, 64},
};
/* wo_wgmma_rs_fzp: W4A16 with float zero points (QG_FZP=1); the rows above end in zeros
 * (QG_MAX_PARAMS), so their fzp is 0. */
static const int rs_fzp_variants[][QG_MAX_PARAMS] = {
    {4, 2, 128, 1},
    {4, 1, 128, 1},
    {4, 2, 64, 1},
    {4, 1, 64, 1},
};

/* wo_wgmma_rs_pipe: the RS kernel with its wgmmas pipelined across k tiles (QG_PIPE=1: one
 * wgmma per commit group, up to four queued, CUTLASS's RS mainloop order) instead of one group
 * of four retired every two tiles; integer and float zero points; bm 64, 128 and 256 tokens. */
static const int rs_pipe_variants[][QG_MAX_PARAMS] = {
    {4, 2, 128, 0, 1},
    {4, 1, 128, 0, 1},
    {4, 2, 64, 0, 1},
    {4, 1, 64, 0, 1},
    {8, 2, 128, 0, 1},
    {8, 1, 128, 0, 1},
    {8, 2, 64, 0, 1},
    {8, 1, 64, 0, 1},
    {4, 2, 128, 1, 1},
    {4, 1, 128, 1, 1},
    {4, 2, 64, 1, 1},
    {4, 1, 64, 1, 1},
    /* 256 tokens per CTA (m64n256k16, 128 accumulators): only pipelined, with setmaxnreg */
    {4, 2, 256, 0, 1},
    {4, 1, 256, 0, 1},
    {8, 2, 256, 0, 1},
    {8, 1, 256, 0, 1},
    {4, 2, 256, 1, 1},
    {4, 1, 256, 1, 1},
};

typedef struct qg_w4wg_params w4wg_params;

#define W4WG_BM 128
#define W4WG_BK 64
#define W4WG_THREADS 384

/* One family's geometry: tile_m tokens x tile_n weight rows per CTA, dynamic shared memory. */
typedef struct {
    int tile_m, tile_n, smem;
    int rs;           /* 1: the RS kernel */
    int fzp;          /* 1: W4A16 float zero points only (QG_FZP) */
    int act;          /* 1 f16, 2 bf16 */
    qg_scheme scheme; /* the scheme its weight bits compute */
} w4wg_tile;

/* Shared memory (see the macros of the .cu files), plus 1 KB of barriers and flags and 1 KB to
 * align the base to 1024. SS: load slots of activations + packed weight + scales/zeros and
 * dequantized slots. RS: stages of activations + packed weight + scales/zeros (1 KB-rounded). */
static w4wg_tile ss_tile(const int *v) {
    const int bn = v[P_TILE], sl = bn == 256 ? 4 : 5, sb = 3, slabs = bn / 64;
    const int l = W4WG_BM * W4WG_BK * 2 + bn * W4WG_BK / 2 + 2 * (2 * slabs * 128);
    return (
        w4wg_tile){W4WG_BM,        bn, sl * l + sb * bn * W4WG_BK * 2 + 1024 + 1024, 0, 0, v[P_ACT],
                   QG_SCHEME_W4A16};
}

static w4wg_tile rs_tile(const int *v) {
    const int bm = v[RS_P_TILE], wbits = v[RS_P_WBITS];
    const int ring = QG_W4RS_STAGES(bm) * QG_W4RS_STAGE_BYTES(bm, wbits);
    return (w4wg_tile){bm,
                       128,
                       ring + 1024 + 1024,
                       1,
                       v[RS_P_FZP],
                       v[RS_P_ACT],
                       wbits == 4 ? QG_SCHEME_W4A16 : QG_SCHEME_W8A16};
}

typedef struct {
    int64_t tiles_m, tiles_n, kt_total;
} w4wg_grid;

static w4wg_grid grid_of(const qg_problem *p, const w4wg_tile *t) {
    const int64_t kp = QG_CDIV(p->k, QG_WO_CHUNK) * QG_WO_CHUNK;
    w4wg_grid g = {QG_CDIV(p->m, t->tile_m), QG_CDIV(p->n, t->tile_n), QG_CDIV(kp, W4WG_BK)};
    return g;
}

/* The split-K view of a launch (wgmma_splitk.h). */
static qg_wgsk_grid sk_grid(const qg_problem *p, const w4wg_tile *t) {
    const w4wg_grid g = grid_of(p, t);
    return (qg_wgsk_grid){g.tiles_m * g.tiles_n, g.kt_total, p->m, p->n};
}

static int splits_on(const qg_problem *p, const w4wg_tile *t, const qg_device_info *dev, int *per) {
    const qg_wgsk_grid g = sk_grid(p, t);
    return qg_wgsk_splits(&g, dev, per);
}

static size_t counter_bytes(const qg_problem *p, const w4wg_tile *t) {
    const qg_wgsk_grid g = sk_grid(p, t);
    return qg_wgsk_counter_bytes(&g);
}

static size_t tile_workspace(const qg_problem *p, const w4wg_tile *t) {
    const qg_wgsk_grid g = sk_grid(p, t);
    return qg_wgsk_workspace(&g);
}

static int tile_supports(const qg_problem *p, const w4wg_tile *t, int cc, char *why, size_t why_len) {
    const qg_dtype act = t->act == 2 ? QG_DTYPE_BF16 : QG_DTYPE_F16;
    if (p->scheme != t->scheme) {
        snprintf(why, why_len, "computes %s, not %s", qg_scheme_name(t->scheme),
                 qg_scheme_name(p->scheme));
        return 0;
    }
    if (!qg_wo_zero_point_supported(p, t->fzp, why, why_len)) return 0;
    if (p->act_dtype != act) {
        snprintf(why, why_len, "compiled for %s activations, the problem has %s",
                 qg_dtype_name(act), qg_dtype_name(p->act_dtype));
        return 0;
    }
    if (cc != 90) {
        snprintf(why, why_len, "wgmma kernels are built for sm_90a only");
        return 0;
    }
    if (p->k % 8 != 0) {
        snprintf(why, why_len, "K (%lld) must be a multiple of 8 (16-byte activation loads)",
                 (long long)p->k);
        return 0;
    }
    const w4wg_grid g = grid_of(p, t);
    if (g.tiles_m * g.tiles_n > INT32_MAX || p->m > INT32_MAX || p->n > INT32_MAX ||
        p->k > INT32_MAX) {
        snprintf(why, why_len, "problem too large for this kernel's 32-bit indices");
        return 0;
    }
    if (t->smem > 232448) {
        snprintf(why, why_len, "needs %d bytes of shared memory", t->smem);
        return 0;
    }
    return 1;
}

/*
 * Rough time model (seconds), for ranking against the other W4A16 families: one CTA per SM; a
 * k tile of tile_m x tile_n x 64 takes the tensor-core time at an efficiency measured by the
 * tuner (SS: 29% for bn 256, 21% for bn 128 of the H100's dense peak at N=28672 K=4096
 * M=4096: 3335 / 4686 us; RS: 35% for bm 128, 23% for bm 64, fitted to the session-7 H100 tuning
 * run of Llama-3-8B's shapes at M = 128 .. 4096), waves of CTAs, floored by weight and
 * activation streaming; split-K adds its partial traffic.
 */
static double tile_heuristic(const qg_problem *p, const w4wg_tile *t, const qg_device_info *dev) {
    const double sms = dev && dev->sm_count > 0 ? dev->sm_count : 132;
    const double peak_sm = 989e12 / 132.0;
    const w4wg_grid g = grid_of(p, t);
    int per = 0;
    const int s = splits_on(p, t, dev, &per);
    const double eff = t->rs ? (t->tile_m >= 128 ? 0.35 : 0.23) : (t->tile_n == 256 ? 0.29 : 0.21);
    const double t_tile = 2.0 * t->tile_m * t->tile_n * W4WG_BK / (peak_sm * eff);
    const double ctas = (double)(g.tiles_m * g.tiles_n * s);
    const double waves = (double)(int64_t)((ctas + sms - 1) / sms);
    const double t_math = waves * (per + 2) * t_tile; /* + pipeline fill and epilogue */
    const double np = (double)(QG_CDIV(p->n, 64) * 64), kp = (double)(g.kt_total * W4WG_BK);
    const double bytes = np * kp / 2.0 * (double)g.tiles_m +
                         2.0 * p->m * kp * (double)g.tiles_n * 0.25 + 2.0 * p->m * p->n;
    const double t_mem = bytes / 2.6e12;
    const double t_split = s > 1 ? 2.0 * s * p->m * p->n * 4.0 / 8e12 + 2e-6 : 0.0;
    return (t_math > t_mem ? t_math : t_mem) + t_split + 4e-6;
}

static qg_status tile_launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                             const w4wg_tile *t, void *stream) {
    const qg_gemm_args *a = args;
    const char *id = k->variant->id;
    QG_CHECK(qg_wo_check_args(ctx, p, a, id));
    const w4wg_grid g = grid_of(p, t);
    int per = 0;
    const int s = splits_on(p, t, &ctx->info, &per);
    w4wg_params kp = {
        QG_WO_COMMON_PARAMS(p, a),     .kp = (int32_t)(QG_CDIV(p->k, QG_WO_CHUNK) * QG_WO_CHUNK),
        .kt_per_split = per,           .splits = s,
        .tiles_m = (int32_t)g.tiles_m, .tiles_n = (int32_t)g.tiles_n,
    };
    if (s > 1)
        QG_CHECK(qg_wo_bind_splitk(ctx, p, a, id, s, counter_bytes(p, t), &kp.counter, &kp.partial));
    void *params[] = {&kp};
    return qg_kernel_launch(ctx, k, (unsigned)(g.tiles_m * g.tiles_n), (unsigned)s, 1, W4WG_THREADS,
                            (unsigned)t->smem, stream, params);
}

/* The four family callbacks of a geometry function `tile_fn(const int *params)`. */
#define W4WG_CALLBACKS(prefix, tile_fn)                                                            \
    static int prefix##_supports(const qg_problem *p, const int *v, int cc, char *why,             \
                                 size_t why_len) {                                                 \
        const w4wg_tile t = tile_fn(v);                                                            \
        return tile_supports(p, &t, cc, why, why_len);                                             \
    }                                                                                              \
    static double prefix##_heuristic(const qg_problem *p, const int *v, const qg_device_info *d) { \
        const w4wg_tile t = tile_fn(v);                                                            \
        return tile_heuristic(p, &t, d);                                                           \
    }                                                                                              \
    static size_t prefix##_workspace(const qg_problem *p, const int *v) {                          \
        const w4wg_tile t = tile_fn(v);                                                            \
        return tile_workspace(p, &t);                                                              \
    }                                                                                              \
    static qg_status prefix##_launch(qg_context *ctx, qg_kernel *k, const qg_problem *p,           \
                                     const void *args, const int *v, void *stream) {               \
        const w4wg_tile t = tile_fn(v);                                                            \
        return tile_launch(ctx, k, p, args, &t, stream);                                           \
    }

W4WG_CALLBACKS(ss, ss_tile)
W4WG_CALLBACKS(rs, rs_tile)

const qg_family qg_family_w4a16_wgmma = {
    .name = "w4a16_wgmma",
    .source = "w4a16_wgmma.cu",
    .entry = "qg_w4wg_gemm",
    .op = QG_OP_GEMM,
    .scheme_mask = 1u << QG_SCHEME_W4A16,
    .min_cc = 90,
    .needs_sm90a = 1,
    .num_params = 2,
    .param_names = {"act", "bn"},
    .num_variants = QG_ARRAY_SIZE(variants),
    .variants = variants,
    .supports = ss_supports,
    .heuristic = ss_heuristic,
    .workspace = ss_workspace,
    .launch = ss_launch,
};

/* The RS families: wo_wgmma_rs.cu built with the first nparams of {wbits, act, bm, fzp, pipe}
 * (the rows of shorter tables end in zeros, QG_MAX_PARAMS: fzp 0, pipe 0). */
#define RS_FAMILY(var, fname, schemes, exp, nparams, table)   \
    const qg_family var = {                                   \
        .name = fname,                                        \
        .source = "wo_wgmma_rs.cu",                           \
        .entry = "qg_w4rs_gemm",                              \
        .op = QG_OP_GEMM,                                     \
        .scheme_mask = (schemes),                             \
        .min_cc = 90,                                         \
        .needs_sm90a = 1,                                     \
        .experimental = (exp),                                \
        .num_params = (nparams),                              \
        .param_names = {"wbits", "act", "bm", "fzp", "pipe"}, \
        .num_variants = QG_ARRAY_SIZE(table),                 \
        .variants = table,                                    \
        .supports = rs_supports,                              \
        .heuristic = rs_heuristic,                            \
        .workspace = rs_workspace,                            \
        .launch = rs_launch,                                  \
    }

/* Not experimental since session 7: gpu_weight_only (every variant, float64 reference) and the
 * tuner's reference check passed on an H100, and its time model is fitted to that run. */
RS_FAMILY(qg_family_wo_wgmma_rs, "wo_wgmma_rs", (1u << QG_SCHEME_W4A16) | (1u << QG_SCHEME_W8A16),
          0, 3, rs_variants);

/* The RS kernel on W4A16 float zero points (docs/formats.md): QG_FZP=1, one fma per pair in the
 * consumers' decode. Experimental until tests/gpu/gpu_weight_only has run it on hardware (the
 * CPU emulator has: tests/emu). */
RS_FAMILY(qg_family_wo_wgmma_rs_fzp, "wo_wgmma_rs_fzp", 1u << QG_SCHEME_W4A16, 1, 4, rs_fzp_variants);

/* The RS kernel with its wgmmas pipelined across k tiles (QG_PIPE=1, see rs_pipe_variants).
 * Experimental: written in a session without a GPU (the emulator and ptxas checked it: four
 * wgmmas, each followed by a wait for all but three groups, none serialized); the tuner times
 * it beside wo_wgmma_rs on the next GPU run. */
RS_FAMILY(qg_family_wo_wgmma_rs_pipe, "wo_wgmma_rs_pipe",
          (1u << QG_SCHEME_W4A16) | (1u << QG_SCHEME_W8A16), 1, 5, rs_pipe_variants);
