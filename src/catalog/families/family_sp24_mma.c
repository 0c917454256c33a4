/*
 * Families sp24_bf16_mma, sp24_int8_mma, sp24_fp8_mma: 2:4 sparse GEMMs on mma.sp::ordered_metadata
 * (kernels/cuda/sp24_mma.cu), sm_80+ (e4m3: sm_89+). One source, the element type is the `dt`
 * parameter (1 f16, 2 bf16, 3 e4m3, 4 int8); tiles, warps and pipeline depth are the others.
 *
 * Three tile shapes per type: a decode tile (64 weight rows x 16 tokens, 4 warps, deep pipeline,
 * split-K over the grid to fill the GPU when N is small), a middle one (128 x 64) and a prefill
 * one (128 x 128, 4 warps of 64 x 64).
 *
 * Split-K (decode tile, M <= 64, when N alone gives too few CTAs): every K slice adds its scaled
 * partial sums with f32 atomics into the workspace ([M][N] f32, then one u32 counter per output
 * tile); the last CTA of a tile adds the bias, writes C and zeroes its workspace and counter
 * again. The workspace must be zero before the first call (the dispatch's own one is) and stays
 * zero after every completed call; summation order, hence rounding, may vary between runs.
 *
 * On sm_90 e4m3 mma.sync is not native: ptxas converts e4m3 to f16 (F2FP.UNPACK) and issues
 * HMMA.SP with many more registers: the larger fp8 tiles spill there and are refused on cc 90,
 * where the decode tile takes every M (without split-K above 64) while the e4m3 wgmma family
 * covers the larger tiles.
 */
#include "jit.h"
#include "schemes.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

enum { P_DT, P_TN, P_TM, P_WN, P_WM, P_ST, P_SK };
enum { DT_F16 = 1, DT_BF16 = 2, DT_E4M3 = 3, DT_S8 = 4 };

#define SP_PARAMS 7
#define SP_PARAM_NAMES \
    { "dt", "tn", "tm", "wn", "wm", "st", "sk" }

/*      dt  tn   tm  wn wm st sk */
static const int bf16_variants[][QG_MAX_PARAMS] = {
    {DT_BF16, 64, 16, 4, 1, 6, 1}, {DT_BF16, 128, 64, 2, 2, 4, 0}, {DT_BF16, 128, 128, 2, 2, 3, 0},
    {DT_F16, 64, 16, 4, 1, 6, 1},  {DT_F16, 128, 64, 2, 2, 4, 0},  {DT_F16, 128, 128, 2, 2, 3, 0},
};
static const int int8_variants[][QG_MAX_PARAMS] = {
    {DT_S8, 64, 16, 4, 1, 6, 1},
    {DT_S8, 128, 64, 2, 2, 4, 0},
    {DT_S8, 128, 128, 2, 2, 3, 0},
};
static const int fp8_variants[][QG_MAX_PARAMS] = {
    {DT_E4M3, 64, 16, 4, 1, 6, 1},
    {DT_E4M3, 128, 64, 2, 2, 4, 0},
    {DT_E4M3, 128, 128, 2, 2, 3, 0},
};

static int is_16bit(const int *v) { return v[P_DT] == DT_F16 || v[P_DT] == DT_BF16; }

/* Bytes of one pipeline stage (values, activations, metadata), as in the kernel. */
static int stage_bytes(const int *v) {
    return v[P_TN] * 64 + v[P_TM] * 128 + (v[P_TN] / 64) * (is_16bit(v) ? 1 : 2) * 512;
}

static int smem_bytes(const int *v) {
    const int pipe = v[P_ST] * stage_bytes(v), epi = v[P_TM] * (v[P_TN] + 8) * 2;
    return pipe > epi ? pipe : epi;
}

/* Opt-in shared memory per block by compute capability (CUDA programming guide table). */
static int smem_limit(int cc) {
    if (cc == 80 || cc == 87) return 166912;
    if (cc >= 90) return 232448;
    return 101376; /* 86, 89 */
}

/* Split-K reduces through an f32 [M, N] workspace: only for small M. */
#define SPLITK_MAX_M 64

static int supports(const qg_problem *p, const int *v, int cc, char *why, size_t why_len) {
    if (is_16bit(v) && (p->act_dtype == QG_DTYPE_F16) != (v[P_DT] == DT_F16)) {
        snprintf(why, why_len, "this variant is for %s weights and activations",
                 v[P_DT] == DT_F16 ? "f16" : "bf16");
        return 0;
    }
    if (p->k % 64) {
        snprintf(why, why_len, "K must be a multiple of 64");
        return 0;
    }
    if (smem_bytes(v) > smem_limit(cc)) {
        snprintf(why, why_len, "needs %d bytes of shared memory, the device allows %d",
                 smem_bytes(v), smem_limit(cc));
        return 0;
    }
    if (v[P_DT] == DT_E4M3 && cc >= 90 && v[P_TM] > 16) {
        snprintf(why, why_len,
                 "e4m3 mma.sync is emulated on sm_90 and this tile spills there "
                 "(the wgmma family covers it)");
        return 0;
    }
    /* On sm_90 the decode tile is the only e4m3 mma tile that does not spill, so there it takes
     * every M (without split-K above SPLITK_MAX_M: choose_splits returns 1, no workspace). */
    if (v[P_SK] && p->m > SPLITK_MAX_M && !(v[P_DT] == DT_E4M3 && cc >= 90)) {
        snprintf(why, why_len, "split-K tile is for M <= %d", SPLITK_MAX_M);
        return 0;
    }
    if (QG_CDIV(p->m, v[P_TM]) * QG_CDIV(p->n, v[P_TN]) > INT32_MAX) {
        snprintf(why, why_len, "M x N has too many tiles for one grid");
        return 0;
    }
    return 1;
}

/* Split count for the decode tile: about two CTAs per SM, at least 4 stages per split. */
static int choose_splits(const qg_problem *p, const int *v, int sm_count) {
    if (!v[P_SK] || p->m > SPLITK_MAX_M) return 1;
    const int64_t tiles = QG_CDIV(p->n, v[P_TN]) * QG_CDIV(p->m, v[P_TM]);
    const int64_t stages = QG_CDIV(p->k, is_16bit(v) ? 64 : 128);
    int64_t splits = QG_CDIV(2 * (int64_t)(sm_count > 0 ? sm_count : 132), tiles);
    if (splits > stages / 4) splits = stages / 4;
    if (splits > 32) splits = 32;
    if (splits < 1) splits = 1;
    return (int)splits;
}

/*
 * Heuristic cost in ns, the same model as family_sp24_wgmma.c so that dispatch can rank the two.
 * Calibrated on an H100 (sp24-bf16, N = 4096 / 28672, K = 4096, M = 16..4096, measured with
 * tests/gpu/gpu_sp24_wg): a CTA alone on an SM spends about
 *     t1 = 300 + 0.00037 * TN * TM * 64   ns per pipeline stage
 * (a stage is 64 K of 16-bit or 128 K of 8-bit values: the same bytes, and the 8-bit tensor rate
 * is twice the 16-bit one), and (1 + 0.4 (o - 1)) times that with o CTAs sharing the SM (o is
 * limited by shared memory and threads). Time = waves x stages x that, floored by the DRAM time
 * (weights + activations + output, ~30 B/ns per busy SM, 2.5 TB/s at most), plus the split-K
 * reduction. Measured there: M <= 64 the split-K decode tile, above that the wgmma family.
 */
static double heuristic(const qg_problem *p, const int *v, const qg_device_info *dev) {
    const double sms = dev && dev->sm_count > 0 ? dev->sm_count : 132;
    const double smem = dev && dev->smem_optin > 0 ? dev->smem_optin : 101376;
    const double es = is_16bit(v) ? 2.0 : 1.0;
    const double m = (double)p->m, n = (double)p->n, k = (double)p->k;
    const double splits = choose_splits(p, v, (int)sms);
    const double ctas = (double)QG_CDIV(p->n, v[P_TN]) * (double)QG_CDIV(p->m, v[P_TM]) * splits;
    double per_sm = (double)(int)(smem / smem_bytes(v));
    const double threads = v[P_WN] * v[P_WM] * 32;
    if (per_sm > 2048 / threads) per_sm = 2048 / threads;
    if (per_sm < 1) per_sm = 1;
    const double o = ctas <= sms ? 1.0 : fmin(per_sm, ceil(ctas / sms));
    const double waves = ceil(ctas / (sms * o));
    const double stages = ceil(ceil(k / (is_16bit(v) ? 64.0 : 128.0)) / splits);
    const double t1 = 300.0 + 0.00037 * v[P_TN] * v[P_TM] * 64.0;
    const double compute = waves * stages * t1 * (1.0 + 0.4 * (o - 1.0));
    const double active = ctas < sms ? ctas : sms;
    const double resident = ctas < sms * per_sm ? ctas : sms * per_sm;
    double bw = active * 30.0 * (resident / active < 2.0 ? resident / active : 2.0);
    if (bw > 2500.0) bw = 2500.0;
    const double bytes = n * k * es * (is_16bit(v) ? 0.5625 : 0.625) + m * k * es + m * n * 2 +
                         (splits > 1 ? 2 * m * n * 4 * splits : 0);
    const double mem = bytes / bw;
    return (compute > mem ? compute : mem) + (splits > 1 ? 500.0 : 0.0);
}

static size_t workspace(const qg_problem *p, const int *v) {
    if (!v[P_SK] || p->m > SPLITK_MAX_M) return 0;
    const size_t acc = ((size_t)p->m * (size_t)p->n * sizeof(float) + 255) & ~(size_t)255;
    return acc + (size_t)(QG_CDIV(p->n, v[P_TN]) * QG_CDIV(p->m, v[P_TM])) * sizeof(unsigned);
}

static qg_status launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                        const int *v, void *stream) {
    const qg_gemm_args *ga = args;
    const int es = is_16bit(v) ? 2 : 1;
    const char *id = k->variant->id;
    QG_RETURN_IF(ctx, ((uintptr_t)ga->a & 15) || (ga->lda * es) % 16, QG_ERR_INVALID_ARGUMENT,
                 "%s: activations must be 16-byte aligned with lda*%d a multiple of 16 (lda=%lld)",
                 id, es, (long long)ga->lda);
    QG_RETURN_IF(ctx, ((uintptr_t)ga->w.weight & 15) || ((uintptr_t)ga->w.meta & 15),
                 QG_ERR_INVALID_ARGUMENT, "%s: packed weight buffers must be 16-byte aligned", id);
    const int splits = choose_splits(p, v, ctx->info.sm_count);
    float *ws = NULL;
    unsigned *counters = NULL;
    if (splits > 1) {
        const size_t need = workspace(p, v);
        QG_RETURN_IF(ctx, !ga->workspace || ga->workspace_bytes < need, QG_ERR_INVALID_ARGUMENT,
                     "%s: split-K needs a zeroed workspace of %zu bytes", id, need);
        ws = ga->workspace;
        counters = (unsigned *)((char *)ga->workspace +
                                (((size_t)p->m * (size_t)p->n * sizeof(float) + 255) & ~(size_t)255));
    }
    const int64_t stages = QG_CDIV(p->k, is_16bit(v) ? 64 : 128);
    int stages_per_split = (int)QG_CDIV(stages, splits);
    const unsigned gz = (unsigned)QG_CDIV(stages, stages_per_split);

    const void *w = ga->w.weight, *meta = ga->w.meta, *w_scale = ga->w.scale, *a = ga->a;
    const void *a_scale = ga->a_scale, *bias = p->has_bias ? ga->bias : NULL;
    void *c = ga->c;
    int m = (int)p->m, n = (int)p->n, kk = (int)p->k;
    long long lda = ga->lda, ldc = ga->ldc;
    int a_scale_stride = p->act_scale == QG_SCALE_PER_TENSOR ? 0 : 1;
    int out_bf16 = p->out_dtype == QG_DTYPE_BF16;
    void *kargs[] = {&w,
                     &meta,
                     &w_scale,
                     &a,
                     &a_scale,
                     &bias,
                     &c,
                     &ws,
                     &counters,
                     &m,
                     &n,
                     &kk,
                     &lda,
                     &ldc,
                     &a_scale_stride,
                     &out_bf16,
                     &stages_per_split};
    /* one CTA per output tile in the grouped order of kernels/cuda/tile_raster.cuh, x split-K */
    return qg_kernel_launch(ctx, k, (unsigned)(QG_CDIV(p->n, v[P_TN]) * QG_CDIV(p->m, v[P_TM])), 1,
                            gz, (unsigned)(v[P_WN] * v[P_WM] * 32), (unsigned)smem_bytes(v), stream,
                            kargs);
}

#define SP24_FAMILY(var, nm, scheme, cc, table) \
    const qg_family var = {                     \
        .name = nm,                             \
        .source = "sp24_mma.cu",                \
        .entry = "qg_sp24_mma",                 \
        .op = QG_OP_GEMM,                       \
        .scheme_mask = 1u << (scheme),          \
        .min_cc = cc,                           \
        .needs_sm90a = 0,                       \
        .hip = 0,                               \
        .num_params = SP_PARAMS,                \
        .param_names = SP_PARAM_NAMES,          \
        .num_variants = QG_ARRAY_SIZE(table),   \
        .variants = table,                      \
        .supports = supports,                   \
        .heuristic = heuristic,                 \
        .workspace = workspace,                 \
        .launch = launch,                       \
    };

SP24_FAMILY(qg_family_sp24_bf16_mma, "sp24_bf16_mma", QG_SCHEME_SP24_BF16, 80, bf16_variants)
SP24_FAMILY(qg_family_sp24_int8_mma, "sp24_int8_mma", QG_SCHEME_SP24_INT8, 80, int8_variants)
SP24_FAMILY(qg_family_sp24_fp8_mma, "sp24_fp8_mma", QG_SCHEME_SP24_FP8, 89, fp8_variants)
