/*
 * w4a16_gemv and w8a16_gemv: weight-only decode GEMV for M <= 64 in token blocks of 8 * mt rows
 * (kernels/cuda/wo_gemv.cuh, through w4a16_gemv.cu / w8a16_gemv.cu): the weight is the mma A
 * operand straight from the packed W4A16 / W8A16 layout, 16-byte loads from global memory into
 * registers (no shared-memory staging), warps split K inside a CTA, split-K over CTAs (a slab of
 * 64 columns per CTA) when the slabs alone cannot fill the GPU, with the deterministic partials +
 * counter reduction of the weight-only families (the workspace is left zero). Both families
 * share everything here but the scheme they accept (and so the kernel source they compile).
 * Parameters: act (1 f16, 2 bf16), mt (n8 token tiles per token block), warps, uk (k32 chunks a
 * warp loads before its math). Validated on the H100 (gpu_weight_only, 2026-11-23): the fastest
 * W4A16 / W8A16 kernels for M <= 16 on every Llama-3-8B shape (M 17-64, token blocks: not yet
 * run on hardware).
 */
#include "family_w4a16_common.h"
#include "jit.h"
#include "scheme_w4a16.h"

#include <stdint.h>
#include <stdio.h>

enum { P_ACT, P_MT, P_WARPS, P_UK, P_FZP };

/* Both families: two token tiles take 16 more accumulators and activation registers per chunk,
 * uk 2 keeps those variants at <= 128 registers too; int8 units are twice the bytes of int4 ones
 * (ptxas, sm_80/89/90a: int4 115-125, int8 104-124 registers, no spills; int8 mt2 uk4 spills).
 *  act mt warps uk */
static const int variants[][QG_MAX_PARAMS] = {
    {2, 1, 8, 4}, {1, 1, 8, 4}, {2, 2, 8, 2}, {1, 2, 8, 2},
    {2, 1, 4, 4}, {1, 1, 4, 4}, {2, 2, 4, 2}, {1, 2, 4, 2},
};
/* w4a16_gemv_fzp: the same tiles with float zero points (QG_FZP=1). The plain table's rows end
 * in zeros (QG_MAX_PARAMS), so v[P_FZP] is 0 there. */
static const int fzp_variants[][QG_MAX_PARAMS] = {
    {2, 1, 8, 4, 1}, {1, 1, 8, 4, 1}, {2, 2, 8, 2, 1}, {1, 2, 8, 2, 1},
    {2, 1, 4, 4, 1}, {1, 1, 4, 4, 1}, {2, 2, 4, 2, 1}, {1, 2, 4, 2, 1},
};

/* Warps resident per SM the split policy plans for (the kernel is written for <= 128
 * registers per thread: 16 warps). */
#define GV_WARPS_PER_SM 16

/* Largest M: token blocks of 8 mt rows beyond it cost more than the tiled kernels. */
#define GV_MAX_M 64

typedef struct {
    int64_t slabs, units; /* CTA columns; units of uk chunks per slab row */
    int64_t tblocks;      /* token blocks of 8 mt rows (CTAs per slab and split) */
} gv_grid;

static gv_grid grid_of(const qg_problem *p, const int *v) {
    const int64_t kc = QG_CDIV(p->k, QG_WO_CHUNK);
    const gv_grid g = {QG_CDIV(p->n, QG_WO_SLAB), QG_CDIV(kc, v[P_UK]), QG_CDIV(p->m, 8 * v[P_MT])};
    return g;
}

/* Slices for `sms` SMs: as many as fit in one wave next to the other slabs (CTAs of a slab
 * then run together), at least one unit per warp, capped by the partial buffer size. */
static int splits_for(const qg_problem *p, const int *v, int64_t sms) {
    const gv_grid g = grid_of(p, v);
    const int64_t resident = sms * (GV_WARPS_PER_SM / v[P_WARPS]);
    int64_t s = resident / (g.slabs * g.tblocks);
    const int64_t by_units = g.units / v[P_WARPS];
    if (s > by_units) s = by_units;
    if (s > QG_WO_MAX_SPLITS) s = QG_WO_MAX_SPLITS;
    const int64_t by_mem = (int64_t)QG_WO_PARTIAL_LIMIT / (p->m * p->n * 4);
    if (s > by_mem) s = by_mem;
    return s < 1 ? 1 : (int)s;
}

/* Slices of equal length in whole units, none empty. */
static int even_splits(int64_t units, int s, int *per) {
    const int64_t n = QG_CDIV(units, s);
    *per = (int)n;
    return (int)QG_CDIV(units, n);
}

static int splits_of(const qg_problem *p, const int *v, const qg_device_info *dev, int *per) {
    int64_t sms = dev && dev->sm_count > 0 ? dev->sm_count : 132;
    if (sms > QG_WO_MAX_SMS) sms = QG_WO_MAX_SMS;
    return even_splits(grid_of(p, v).units, splits_for(p, v, sms), per);
}

static size_t counter_bytes(const qg_problem *p, const int *v) {
    const gv_grid g = grid_of(p, v);
    return (size_t)QG_CDIV(g.slabs * g.tblocks * 4, 256) * 256;
}

static size_t workspace(const qg_problem *p, const int *v) {
    int per;
    const int s = even_splits(grid_of(p, v).units, splits_for(p, v, QG_WO_MAX_SMS), &per);
    if (s <= 1) return 0;
    return counter_bytes(p, v) + (size_t)s * (size_t)p->m * (size_t)p->n * sizeof(float);
}

static int supports(qg_scheme scheme, const qg_problem *p, const int *v, int cc, char *why,
                    size_t why_len) {
    /* scheme, activation dtype, sm_80, K % 8 and M (the tile's max_m) as the other weight-only
     * families; their shared-memory check passes trivially (no dynamic shared memory) */
    const qg_wo_tile t = {.scheme = scheme,
                          .wbits = scheme == QG_SCHEME_W8A16 ? 8 : 4,
                          .act = v[P_ACT],
                          .bm = 16,
                          .wm = 16,
                          .bn = 64,
                          .bk = 64,
                          .stages = 2,
                          .max_m = GV_MAX_M,
                          .fzp = v[P_FZP]};
    if (!qg_wo_supports(p, &t, cc, why, why_len)) return 0;
    if (p->n > INT32_MAX - 64 || p->k > INT32_MAX - 32) {
        snprintf(why, why_len, "N and K must be below 2^31");
        return 0;
    }
    return 1;
}

static int supports_w4(const qg_problem *p, const int *v, int cc, char *why, size_t why_len) {
    return supports(QG_SCHEME_W4A16, p, v, cc, why, why_len);
}

static int supports_w8(const qg_problem *p, const int *v, int cc, char *why, size_t why_len) {
    return supports(QG_SCHEME_W8A16, p, v, cc, why, why_len);
}

/*
 * Bandwidth model (seconds): the packed int4 / int8 weight, scales and zero points streamed at
 * ~2.4 TB/s (H100, scaled by SM count), activations re-read by every slab from L2, split-K partials
 * written and read back once, plus launch latency. Ranks variants without a tuning entry.
 */
static double heuristic(const qg_problem *p, const int *v, const qg_device_info *dev) {
    const double scale = (dev && dev->sm_count > 0 ? dev->sm_count : 132) / 132.0;
    const gv_grid g = grid_of(p, v);
    int per;
    const int s = splits_of(p, v, dev, &per);
    const double np = (double)(g.slabs * 64), kp = (double)(QG_CDIV(p->k, 32) * 32);
    const double groups = p->group_size ? (double)(p->k / p->group_size) : 1.0;
    const double wbits = p->scheme == QG_SCHEME_W8A16 ? 8.0 : 4.0;
    const double wbytes = np * kp * wbits / 8.0 + np * groups * 2.0 * (p->has_zero_point ? 2.0 : 1.0);
    /* every slab re-reads its token blocks' activations from L2, and the token blocks after the
     * first re-read the slab's weight from L2 */
    const double abytes = (double)g.slabs * g.tblocks * 8.0 * v[P_MT] * (double)p->k * 2.0;
    const double pbytes = s > 1 ? 2.0 * s * (double)(p->m * p->n) * 4.0 : 0.0;
    return wbytes / (2.4e12 * scale) +
           (abytes + pbytes + (double)(g.tblocks - 1) * wbytes) / (8e12 * scale) + 3e-6;
}

static qg_status launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                        const int *v, void *stream) {
    const qg_gemm_args *a = args;
    QG_CHECK(qg_wo_check_args(ctx, p, a, k->variant->id));
    int per = 0;
    const int s = splits_of(p, v, &ctx->info, &per);
    const gv_grid g = grid_of(p, v);
    qg_wogv_params kp = {QG_WO_COMMON_PARAMS(p, a), .kc = (int32_t)QG_CDIV(p->k, QG_WO_CHUNK),
                         .units_per_split = per, .splits = s, .tblocks = (int32_t)g.tblocks};
    if (s > 1)
        QG_CHECK(qg_wo_bind_splitk(ctx, p, a, k->variant->id, s, counter_bytes(p, v), &kp.counter,
                                   &kp.partial));
    void *params[] = {&kp};
    /* grid: (slab, token block) pairs x split-K slices, no dynamic shared memory */
    return qg_kernel_launch(ctx, k, (unsigned)(g.slabs * g.tblocks), (unsigned)s, 1,
                            32u * (unsigned)v[P_WARPS], 0, stream, params);
}

/* The two families: `scheme_prefix` "w4a16" / "w8a16" names the family and its kernel source. */
#define WO_GEMV_FAMILY(scheme_prefix, scheme, supports_fn)                                      \
    {                                                                                           \
        .name = scheme_prefix "_gemv", .source = scheme_prefix "_gemv.cu",                      \
        .entry = "qg_wogv_gemm", .op = QG_OP_GEMM, .scheme_mask = 1u << (scheme), .min_cc = 80, \
        .num_params = 4, .param_names = {"act", "mt", "warps", "uk"},                           \
        .num_variants = QG_ARRAY_SIZE(variants), .variants = variants, .supports = supports_fn, \
        .heuristic = heuristic, .workspace = workspace, .launch = launch,                       \
    }

const qg_family qg_family_w4a16_gemv = WO_GEMV_FAMILY("w4a16", QG_SCHEME_W4A16, supports_w4);
const qg_family qg_family_w8a16_gemv = WO_GEMV_FAMILY("w8a16", QG_SCHEME_W8A16, supports_w8);

/* Float zero points (docs/formats.md, W4A16 value): w4a16_gemv.cu with QG_FZP=1, one fma in
 * place of the multiply. Not experimental although not yet run on hardware: with
 * wo_dequant_lt_fzp it is what dispatch has for float zero points (CPU emulator: tests/emu). */
const qg_family qg_family_w4a16_gemv_fzp = {
    .name = "w4a16_gemv_fzp",
    .source = "w4a16_gemv.cu",
    .entry = "qg_wogv_gemm",
    .op = QG_OP_GEMM,
    .scheme_mask = 1u << QG_SCHEME_W4A16,
    .min_cc = 80,
    .num_params = 5,
    .param_names = {"act", "mt", "warps", "uk", "fzp"},
    .num_variants = QG_ARRAY_SIZE(fzp_variants),
    .variants = fzp_variants,
    .supports = supports_w4,
    .heuristic = heuristic,
    .workspace = workspace,
    .launch = launch,
};
