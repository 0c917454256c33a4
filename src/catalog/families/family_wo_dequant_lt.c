/*
 * wo_dequant_lt: weight-only (W4A16, W8A16) prefill as "dequantize, then dense GEMM" (what
 * vLLM does for AWQ at large M). Our mma.sync / wgmma weight-only kernels reach 0.05-0.3x of
 * cuBLASLt bf16 at M >= 128 on the H100; dequantizing costs one pass over the weight (0.5 or 1
 * byte read + 2 written per element), small next to the GEMM once M is large, so the pair runs
 * near cuBLASLt's rate. Variant parameter wbits (4: W4A16, 8: W8A16) picks the scheme.
 *
 * The weight is processed in chunks of Nc output columns so that the scratch stays small
 * (Nc * K * 2 bytes, about `mb` MiB) and the freshly written chunk is still in L2 when the GEMM
 * reads it. For each chunk, on the caller's stream:
 *   1. dequant_wo (kernels/cuda/dequant_wo.cu, family dequant_wo.wbits4 / .wbits8) turns its
 *      slabs into bf16/f16 [Nc, K] in the scratch. A chunk is whole 64-row slabs, hence a
 *      contiguous byte range of the packed weight (slab b starts at byte b * (Kp/16) * 128 *
 *      wbits: 64 rows x 16 k per k16 step) and of the scales and (int4) zero points (slab b
 *      starts at element b * 64 * G; G = 1 for W8A16): docs/formats.md.
 *   2. cuBLASLt C[:, n0:n0+Nc] = A * chunk^T (+ bias[n0:] through its BIAS epilogue), ldc = N's
 *      row stride, with algorithm `algo` of the heuristic's list (cublaslt.c).
 * After the last GEMM the scratch is zeroed with one asynchronous memset (the shared workspace
 * invariant of include/qgemm.h; 16-32 MiB cost ~6-12 us on an H100, part of the cost model).
 * cuBLASLt's own scratch is zeroed after each of its calls by qg_cublaslt_run (leave_zero).
 * Nothing allocates or synchronizes once prepare() built the plans: graph-capturable.
 *
 * Chunks are balanced: ceil(N*K*2 / budget) chunks of a multiple of 128 columns (so C and bias
 * offsets keep 256-byte alignment), the last one shorter when N does not divide.
 * cuBLASLt computes bf16 x bf16 -> bf16 and f16 x f16 -> f16 only: act_dtype must equal
 * out_dtype. Validated on the H100 (gpu_weight_only, 2026-11-23): the fastest W4A16 / W8A16
 * path for M >= 1024 on the Llama-3-8B shapes (0.58-0.91x of cuBLASLt bf16).
 */
#include "backend.h"
#include "catalog.h"
#include "cublaslt.h"
#include "family_w4a16_common.h"
#include "jit.h"
#include "scheme_w4a16.h"

#include <stdio.h>

/* {wbits: 4 W4A16 / 8 W8A16, mb: chunk budget in MiB, algo: index in cuBLASLt's heuristic
 * list}. No kernel of their own: the table costs no compile time. */
static const int variants[][QG_MAX_PARAMS] = {
    {4, 16, 0}, {4, 16, 1}, {4, 16, 2}, {4, 16, 3}, {4, 32, 0}, {4, 32, 1}, {4, 32, 2}, {4, 32, 3},
    {8, 16, 0}, {8, 16, 1}, {8, 16, 2}, {8, 16, 3}, {8, 32, 0}, {8, 32, 1}, {8, 32, 2}, {8, 32, 3},
};
/* wo_dequant_lt_fzp: W4A16 float zero points through dequant_wo_fzp (the rows above end in zeros,
 * QG_MAX_PARAMS: their fzp is 0). */
static const int fzp_variants[][QG_MAX_PARAMS] = {
    {4, 16, 0, 1}, {4, 16, 1, 1}, {4, 16, 2, 1}, {4, 16, 3, 1},
    {4, 32, 0, 1}, {4, 32, 1, 1}, {4, 32, 2, 1}, {4, 32, 3, 1},
};
enum { P_WBITS, P_MB, P_ALGO, P_FZP };

/* Below this M the register GEMVs (w4a16_gemv, w8a16_gemv: M <= 16) read the packed weight once,
 * which dequantizing all of it cannot beat. From 17 on it is a candidate: on the H100 (tuning of
 * 2026-11-23) this family at M = 128 was already faster than the tiled kernels at M = 24..96 on
 * most Llama-3-8B shapes (W4A16 qkv 53.7 us vs w4a16_wgmma 58-93 us; W8A16 gate_up 235 us vs
 * w8a16_prefill 787 us at M = 96), and its cost barely depends on M there. */
#define MIN_M 17
#define COL_ALIGN 128 /* chunk width granule: 256 bytes of a bf16/f16 C row */
#define ALIGN256(x) (((x) + 255) & ~(uintptr_t)255)

static qg_scheme scheme_of(const int *v) {
    return v[P_WBITS] == 4 ? QG_SCHEME_W4A16 : QG_SCHEME_W8A16;
}

/* The dequant_wo variant (catalog id) this variant's launch runs. */
static const char *helper(const int *v) {
    return v[P_FZP]          ? "dequant_wo_fzp.wbits4.fzp1"
           : v[P_WBITS] == 4 ? "dequant_wo.wbits4"
                             : "dequant_wo.wbits8";
}

typedef struct {
    int64_t cols;  /* columns of every chunk but the last */
    int64_t count; /* number of chunks */
    int64_t last;  /* columns of the last chunk */
} chunking;

static chunking chunks_of(const qg_problem *p, int mb) {
    const int64_t want = QG_CDIV(p->n * p->k * 2, (int64_t)mb << 20);
    int64_t cols = QG_CDIV(QG_CDIV(p->n, want), COL_ALIGN) * COL_ALIGN;
    if (cols > p->n) cols = p->n;
    chunking c = {.cols = cols, .count = QG_CDIV(p->n, cols)};
    c.last = p->n - (c.count - 1) * cols;
    return c;
}

/* Scratch bytes the dequantized chunks occupy (the widest chunk). */
static size_t scratch_bytes(const qg_problem *p, const int *v) {
    const chunking c = chunks_of(p, v[P_MB]);
    return (size_t)c.cols * (size_t)p->k * 2;
}

static int supports(const qg_problem *p, const int *v, int cc, char *why, size_t why_len) {
    if (p->scheme != scheme_of(v)) {
        snprintf(why, why_len, "computes %s, not %s", qg_scheme_name(scheme_of(v)),
                 qg_scheme_name(p->scheme));
        return 0;
    }
    if (!qg_wo_zero_point_supported(p, v[P_FZP], why, why_len)) return 0;
    if (cc < 80) {
        snprintf(why, why_len, "needs compute capability 8.0 (bf16 cuBLASLt)");
        return 0;
    }
    if (p->m < MIN_M) {
        snprintf(why, why_len, "M=%lld below %d: dequantizing the whole weight does not pay off",
                 (long long)p->m, MIN_M);
        return 0;
    }
    if (p->k % 8) {
        snprintf(why, why_len,
                 "K (%lld) must be a multiple of 8 (16-byte rows of the "
                 "dequantized weight)",
                 (long long)p->k);
        return 0;
    }
    if (p->act_dtype != p->out_dtype ||
        (p->act_dtype != QG_DTYPE_BF16 && p->act_dtype != QG_DTYPE_F16)) {
        snprintf(why, why_len, "cuBLASLt computes bf16->bf16 and f16->f16 only (act %s, out %s)",
                 qg_dtype_name(p->act_dtype), qg_dtype_name(p->out_dtype));
        return 0;
    }
    if (p->m > INT32_MAX || p->n > INT32_MAX || p->k > INT32_MAX) {
        snprintf(why, why_len, "dimensions above 2^31");
        return 0;
    }
    return 1;
}

/* Seconds: dequant traffic at HBM speed, the GEMM at a dense bf16 rate, the final memset and
 * two launches per chunk. cuBLASLt reaches ~650 TFLOP/s bf16 on an H100 SXM (132 SMs, 2.5 TB/s
 * dequant traffic) and ~250 on an A100 (108 SMs, ~1.6 TB/s). */
static double heuristic(const qg_problem *p, const int *v, const qg_device_info *dev) {
    const int sms = dev && dev->sm_count > 0 ? dev->sm_count : 132;
    const int hopper = !dev || dev->cc_major == 0 || dev->cc_major >= 9;
    const double hbm = hopper ? 2.5e12 * sms / 132.0 : 1.6e12 * sms / 108.0;
    const double rate = hopper ? 6.5e14 * sms / 132.0 : 2.5e14 * sms / 108.0;
    const chunking c = chunks_of(p, v[P_MB]);
    const double n = (double)p->n, k = (double)p->k, m = (double)p->m;
    /* packed weight read + bf16 written; scales (and zero points) of groups of >= 32 (int4)
     * or one per row (int8) */
    const double scale_bytes = v[P_WBITS] == 4 ? n * (k / 32.0) * 4.0 : n * 2.0;
    const double t_dequant = (n * k * (v[P_WBITS] / 8.0 + 2.0) + scale_bytes) / hbm;
    const double t_gemm = 2.0 * m * n * k / rate + 2.0 * m * n / hbm;
    const double t_memset = (double)scratch_bytes(p, v) / (hbm * 1.1);
    return t_dequant + t_gemm + t_memset + 4e-6 * (double)c.count + v[P_ALGO] * 1e-9;
}

static size_t workspace(const qg_problem *p, const int *v) {
    return 256 + QG_CUBLASLT_WORKSPACE + scratch_bytes(p, v);
}

static qg_lt_shape chunk_shape(const qg_problem *p, int64_t cols, int64_t lda, int64_t ldc,
                               int align) {
    const qg_lt_shape s = {.kind = p->act_dtype == QG_DTYPE_F16 ? QG_LT_F16 : QG_LT_BF16,
                           .m = p->m,
                           .n = cols,
                           .k = p->k,
                           .lda = lda,
                           .ldc = ldc,
                           .out_dtype = p->out_dtype,
                           .has_bias = p->has_bias,
                           .align = align};
    return s;
}

static const qg_variant *dequant_w4, *dequant_w8, *dequant_w4_fzp;
static pthread_once_t dequant_once = PTHREAD_ONCE_INIT;
static void find_dequant(void) {
    dequant_w4 = qg_catalog_find("dequant_wo.wbits4");
    dequant_w8 = qg_catalog_find("dequant_wo.wbits8");
    dequant_w4_fzp = qg_catalog_find("dequant_wo_fzp.wbits4.fzp1");
}

/* The dequant_wo variant of this variant's weight width. */
static qg_status dequant_kernel(qg_context *ctx, const int *v, qg_kernel **out) {
    pthread_once(&dequant_once, find_dequant);
    const qg_variant *dv = v[P_FZP] ? dequant_w4_fzp : v[P_WBITS] == 4 ? dequant_w4 : dequant_w8;
    QG_RETURN_IF(ctx, !dv, QG_ERR_INTERNAL, "%s is not in the catalog", helper(v));
    return qg_jit_get(ctx, dv, out); /* compiled once, then a memory hit */
}

static qg_status prepare(qg_context *ctx, qg_kernel *k, const qg_problem *p, const int *v) {
    (void)k;
    qg_kernel *dk;
    QG_CHECK(dequant_kernel(ctx, v, &dk));
    const chunking c = chunks_of(p, v[P_MB]);
    /* contiguous, cudaMalloc-aligned operands: the common case */
    qg_lt_shape s = chunk_shape(p, c.cols, p->k, p->n, 256);
    QG_CHECK(qg_cublaslt_prepare(ctx, &s, NULL));
    s.n = c.last;
    return qg_cublaslt_prepare(ctx, &s, NULL);
}

/* The dequantized chunk [cols, K] of the weight's columns n0 .. n0+cols-1 into `out`. */
static qg_status dequant_chunk(qg_context *ctx, qg_kernel *dk, const qg_problem *p, int wbits,
                               const qg_packed_weight *w, int64_t n0, int64_t cols, void *out,
                               void *stream) {
    qg_wo_geom g;
    qg_wo_geom_get(p, &g);
    const int64_t slab = n0 / QG_WO_SLAB;
    const int64_t slab_bytes = g.ks * QG_WO_SLAB * 16 * wbits / 8; /* 64 rows x 16 k per k16 step */
    qg_packed_weight part = *w;
    part.weight = (uint8_t *)w->weight + slab * slab_bytes;
    part.scale = (uint16_t *)w->scale + slab * QG_WO_SLAB * g.groups;
    part.zero = p->has_zero_point ? (uint16_t *)w->zero + slab * QG_WO_SLAB * g.groups : NULL;
    qg_problem q = *p;
    q.m = 1;
    q.n = cols;
    const qg_dequant_args args = {&part, out, p->act_dtype};
    return dk->variant->family->launch(ctx, dk, &q, &args, dk->variant->params, stream);
}

static qg_status launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                        const int *v, void *stream) {
    const qg_gemm_args *g = args;
    const char *id = k->variant->id;
    QG_CHECK(qg_wo_check_args(ctx, p, g, id)); /* A 16-byte aligned, lda % 8 == 0, ... */
    const size_t need = workspace(p, v);
    QG_RETURN_IF(ctx, !g->workspace || g->workspace_bytes < need, QG_ERR_INVALID_ARGUMENT,
                 "%s needs a zeroed workspace of %zu bytes (got %zu)", id, need,
                 g->workspace ? g->workspace_bytes : 0);
    QG_RETURN_IF(ctx, !ctx->ops->memset_d8_async, QG_ERR_UNSUPPORTED,
                 "%s: backend %s has no asynchronous memset", id, ctx->ops->name);
    qg_kernel *dk;
    QG_CHECK(dequant_kernel(ctx, v, &dk));

    void *lt_ws = (void *)ALIGN256((uintptr_t)g->workspace);
    void *scratch = (char *)lt_ws + QG_CUBLASLT_WORKSPACE; /* 256-byte aligned */
    const chunking c = chunks_of(p, v[P_MB]);
    const size_t esz = 2;
    /* Chunk offsets are multiples of 256 bytes: every chunk has the alignment class of the
     * caller's base pointers. */
    const void *ptrs[] = {g->a, g->c, scratch, g->bias};
    const int align = qg_lt_align_class(ptrs, p->has_bias ? 4 : 3);
    const qg_lt_shape full = chunk_shape(p, c.cols, g->lda, g->ldc, align);
    qg_lt_shape tail = full;
    tail.n = c.last;
    /* Refuse before any work (C untouched, workspace still zero) if cuBLASLt cannot run this
     * algorithm on both chunk shapes. */
    int count_full = 0, count_tail = 0;
    QG_CHECK(qg_cublaslt_prepare(ctx, &full, &count_full));
    QG_CHECK(qg_cublaslt_prepare(ctx, &tail, &count_tail));
    QG_RETURN_IF(ctx, v[P_ALGO] >= count_full || v[P_ALGO] >= count_tail, QG_ERR_UNSUPPORTED,
                 "%s: cuBLASLt's heuristic offers %d algorithm(s) for M=%lld N=%lld K=%lld "
                 "(%d for the last chunk of %lld columns); #%d was asked for",
                 id, count_full, (long long)p->m, (long long)c.cols, (long long)p->k, count_tail,
                 (long long)c.last, v[P_ALGO]);

    qg_status st = QG_SUCCESS;
    for (int64_t i = 0; i < c.count && st == QG_SUCCESS; i++) {
        const int64_t n0 = i * c.cols, cols = i + 1 < c.count ? c.cols : c.last;
        st = dequant_chunk(ctx, dk, p, v[P_WBITS], &g->w, n0, cols, scratch, stream);
        if (st != QG_SUCCESS) break;
        const qg_lt_ptrs lp = {.a = g->a,
                               .w = scratch,
                               .c = (char *)g->c + (size_t)n0 * esz,
                               .bias = p->has_bias ? (const char *)g->bias + (size_t)n0 * esz : NULL,
                               .workspace = lt_ws,
                               .workspace_bytes = QG_CUBLASLT_WORKSPACE,
                               .leave_zero = 1};
        st = qg_cublaslt_run(ctx, i + 1 < c.count ? &full : &tail, &lp, v[P_ALGO], stream);
    }
    /* Also after a failure: a dequantized chunk must not stay in the shared workspace. */
    const size_t used = (size_t)(c.count > 1 ? c.cols : c.last) * (size_t)p->k * esz;
    const qg_status ms = ctx->ops->memset_d8_async(ctx, scratch, 0, used, stream);
    return st != QG_SUCCESS ? st : ms;
}

const qg_family qg_family_wo_dequant_lt = {
    .name = "wo_dequant_lt",
    .source = NULL, /* dequant_wo.cu (family dequant_wo) + cuBLASLt: nothing of its own */
    .entry = NULL,
    .op = QG_OP_GEMM,
    .scheme_mask = (1u << QG_SCHEME_W4A16) | (1u << QG_SCHEME_W8A16),
    .min_cc = 80,
    .library_policy = QG_CUBLASLT_POLICY,
    .helper_kernel = helper,
    .num_params = 3,
    .param_names = {"wbits", "mb", "algo"},
    .num_variants = QG_ARRAY_SIZE(variants),
    .variants = variants,
    .supports = supports,
    .heuristic = heuristic,
    .workspace = workspace,
    .launch = launch,
    .prepare = prepare,
};

/* Float zero points (W4A16, has_zero_point 2): dequant_wo_fzp, then the same cuBLASLt GEMM. */
const qg_family qg_family_wo_dequant_lt_fzp = {
    .name = "wo_dequant_lt_fzp",
    .source = NULL,
    .entry = NULL,
    .op = QG_OP_GEMM,
    .scheme_mask = 1u << QG_SCHEME_W4A16,
    .min_cc = 80,
    .library_policy = QG_CUBLASLT_POLICY,
    .helper_kernel = helper,
    .num_params = 4,
    .param_names = {"wbits", "mb", "algo", "fzp"},
    .num_variants = QG_ARRAY_SIZE(fzp_variants),
    .variants = fzp_variants,
    .supports = supports,
    .heuristic = heuristic,
    .workspace = workspace,
    .launch = launch,
    .prepare = prepare,
};
