/*
 * Weight-only schemes on the GPU (W4A16, W8A16):
 *  1. every GEMM variant of the catalog for the scheme (qg_gemm_with_kernel) and the dispatch
 *     (qg_gemm) against the float64 reference qg_reference_gemm, on random data:
 *     (N,K) = 6144x4096, 4096x4096, 28672x4096, 4096x14336 with M in {1,3,16,33,128,1000}
 *     (+4096 once), every group size (32/64/128/per channel), with and without zero points,
 *     bf16 and f16 activations, bf16/f16 output and bias rotating; plus shapes off the tile grid
 *     (N % 64 != 0, K % 32 != 0 per channel) with padded lda and an odd ldc;
 *  2. refusals: a variant that cannot run a case returns QG_ERR_UNSUPPORTED and leaves C alone
 *     (decode kernels at M > 64, the other activation dtype, K % 8 != 0, misaligned lda);
 *  3. split-K: a variant run twice with its own workspace is bit-identical and leaves its tile
 *     counters at zero (no memset needed between calls); decode and, on sm_90a, the wgmma family
 *     w4a16_wgmma (run through its kernel id like every variant, and counted so that it
 *     cannot be skipped silently); the decode GEMVs w4a16_gemv and w8a16_gemv (every GPU,
 *     M <= 16: counted too; one counter per 64-column slab);
 *  4. the dequant kernels (every variant and qg_dequantize_weight) are bit-exact with
 *     qg_dequantize_weight_host rounded to bf16/f16;
 *  5. W4A16 float zero points (has_zero_point 2, mslk-style weights): the same checks on three
 *     weights for the fzp families (w4a16_gemv_fzp, wo_wgmma_rs_fzp, wo_dequant_lt_fzp through
 *     dequant_wo_fzp, counted), their split-K, and dequant_wo_fzp bit-exact with the host rule.
 * C is poisoned (0xff: NaN) before every call: all M x N outputs must be finite, padding columns
 * of ldc untouched. The reference covers every row for M <= 64 and 64 sampled rows otherwise
 * (first, last, both sides of 64/128-row tile edges, random), computed on 16 threads.
 *
 * Bounds. The kernels decode (u - z) exactly, multiply by the scale with one rounding to the
 * activation dtype (unit roundoff u_a: bf16 2^-9, f16 2^-11; W8A16 scales the exact f32 sum
 * instead), accumulate in f32 and round once to the output dtype (u_o). The rounding errors are
 * independent with random signs, so the expected relative L2 error is about
 * sqrt(u_o^2 + u_a^2) / sqrt(3) (bf16 ~1.6e-3, f16 ~4e-4); we require rel L2 <= 1e-2 when bf16
 * is involved and 2e-3 for f16 only (~5x margin), and per element
 * |got - ref| <= 2 u_o |ref| + 8 u_a rms(row of ref) (the dequantization term is a sum of K
 * rounding errors of size <= u_a |a w|: ~u_a/sqrt(3) rms, 8 u_a is ~14 sigma).
 * W4A16 elements outside it (columns of large weights; per channel, the 16 code values round
 * the same way along a whole row) are re-checked against a model reference, sum a round_act(w)
 * in double: |got - model| <= 2 u_o |model| + 2^-18 sum |a round_act(w)|; counted and printed.
 * W8A16 through dequantize + cuBLASLt (wo_dequant_lt) also rounds the scaled weight to the
 * activation dtype, and cuBLASLt's bias epilogue may round the output twice (the product, then
 * with the bias: up to one ulp), so its elements outside the bound get the model check with
 * 4 u_o (the H100: one element at M=130 N=72 K=96, got 72, model 72.47, bf16 ulp 0.5).
 */
#include "catalog.h"
#include "gpu_common.h"
#include "internal.h"
#include "jit.h"
#include "scheme_w4a16.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NTHREADS 16
#define SAMPLE_ROWS 64

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---------------------------------------------------------------- threads */

/* fn(arg, i) for i in [0, n) on NTHREADS threads. */
static void parallel_for(int64_t n, void (*fn)(void *, int64_t), void *arg) {
    gt_parallel_for(n, NTHREADS, fn, arg);
}

/* ---------------------------------------------------------------- weights in slices */

/* A slice of 256 weight rows (4 slabs) is a contiguous part of every packed buffer
 * (docs/formats.md: slabs follow each other, scales are slab-major), so quantization, the
 * reference and the host dequantization run per slice in parallel. */
#define SLICE 256

typedef struct {
    const qg_problem *p;
    qg_packed_weight w; /* host buffers of the whole weight */
    const float *wf;    /* float weight [N, K] (quantize) */
    float *deq;         /* [N, K] (host dequantization) */
    const uint16_t *a;  /* [rows, K] (reference) */
    const uint16_t *bias;
    int64_t rows;
    double *ref; /* [rows, N] */
    uint64_t seed;
    float *fill; /* [N, K] (random fill) */
    qg_status status;
} slice_job;

static qg_problem slice_problem(const qg_problem *p, int64_t i, int64_t *r0) {
    qg_problem q = *p;
    *r0 = i * SLICE;
    q.n = p->n - *r0 < SLICE ? p->n - *r0 : SLICE;
    return q;
}

static qg_packed_weight slice_weight(const qg_problem *p, const qg_packed_weight *w, int64_t r0) {
    qg_wo_geom g;
    qg_wo_geom_get(p, &g);
    const int64_t slab_bytes = g.ks * (p->scheme == QG_SCHEME_W4A16 ? 512 : 1024);
    qg_packed_weight s = *w;
    s.weight = (uint8_t *)w->weight + (r0 / 64) * slab_bytes;
    s.scale = (uint16_t *)w->scale + r0 * g.groups;
    if (w->zero) s.zero = (uint16_t *)w->zero + r0 * g.groups;
    return s;
}

static void fill_slice(void *x, int64_t i) {
    slice_job *j = x;
    int64_t r0;
    const qg_problem q = slice_problem(j->p, i, &r0);
    qt_rng r;
    qt_seed(&r, j->seed * 7919u + (uint64_t)i);
    for (int64_t row = r0; row < r0 + q.n; row++) {
        const float s = ldexpf(1.f, (int)(row % 7) - 5); /* rows of different magnitudes */
        for (int64_t k = 0; k < q.k; k++) j->fill[row * q.k + k] = s * qt_uniform(&r, -1.f, 1.f);
    }
}

/* qg_quantize_weight, or mslk's quantizer for float zero points (it never makes them) */
static qg_status quantize_any(const qg_problem *p, const float *w, const qg_packed_weight *out) {
    return p->has_zero_point == QG_ZERO_POINT_FLOAT ? qg_w4a16_quantize_float_zp(p, w, p->k, out)
                                                    : qg_quantize_weight(p, w, p->k, out);
}

static void quantize_slice(void *x, int64_t i) {
    slice_job *j = x;
    int64_t r0;
    qg_problem q = slice_problem(j->p, i, &r0);
    q.m = 1;
    const qg_packed_weight s = slice_weight(j->p, &j->w, r0);
    const qg_status st = quantize_any(&q, j->wf + r0 * q.k, &s);
    if (st != QG_SUCCESS) j->status = st;
}

static void dequant_slice(void *x, int64_t i) {
    slice_job *j = x;
    int64_t r0;
    qg_problem q = slice_problem(j->p, i, &r0);
    q.m = 1;
    const qg_packed_weight s = slice_weight(j->p, &j->w, r0);
    const qg_status st = qg_dequantize_weight_host(&q, &s, j->deq + r0 * q.k, q.k);
    if (st != QG_SUCCESS) j->status = st;
}

static void reference_slice(void *x, int64_t i) {
    slice_job *j = x;
    int64_t r0;
    qg_problem q = slice_problem(j->p, i, &r0);
    q.m = j->rows;
    const qg_packed_weight s = slice_weight(j->p, &j->w, r0);
    double *c = malloc(sizeof(double) * (size_t)(q.m * q.n));
    const qg_status st = qg_reference_gemm(&q, j->a, NULL, &s, j->bias ? j->bias + r0 : NULL, c);
    if (st != QG_SUCCESS) j->status = st;
    for (int64_t r = 0; r < q.m; r++)
        memcpy(j->ref + r * j->p->n + r0, c + r * q.n, sizeof(double) * (size_t)q.n);
    free(c);
}

/* ---------------------------------------------------------------- one weight */

typedef struct {
    qg_problem p; /* m is set per case */
    qg_packed_sizes sz;
    qg_packed_weight host, dev;
} weight_t;

static double h2d(qg_dtype t, uint16_t v) {
    return t == QG_DTYPE_F16 ? qg_f16_to_f32(v) : qg_bf16_to_f32(v);
}
static uint16_t d2h(qg_dtype t, float v) {
    return t == QG_DTYPE_F16 ? qg_f32_to_f16(v) : qg_f32_to_bf16(v);
}
static double unit(qg_dtype t) { return t == QG_DTYPE_F16 ? ldexp(1, -11) : ldexp(1, -9); }

static int make_weight(qg_context *ctx, weight_t *w, const qg_problem *p, uint64_t seed) {
    memset(w, 0, sizeof *w);
    w->p = *p;
    if (!QT_CHECK(qg_packed_sizes_get(p, &w->sz) == QG_SUCCESS, "sizes: %s", qg_last_error(NULL)))
        return 0;
    w->host.weight = malloc(w->sz.weight_bytes);
    w->host.scale = malloc(w->sz.scale_bytes);
    w->host.zero = w->sz.zero_bytes ? malloc(w->sz.zero_bytes) : NULL;
    float *wf = malloc(sizeof(float) * (size_t)(p->n * p->k));
    slice_job j = {.p = p, .w = w->host, .wf = wf, .fill = wf, .seed = seed};
    const int64_t slices = (p->n + SLICE - 1) / SLICE;
    parallel_for(slices, fill_slice, &j);
    if (p->weight_scale == QG_SCALE_PER_TENSOR) /* a property of the whole weight */
        j.status = quantize_any(p, wf, &w->host);
    else parallel_for(slices, quantize_slice, &j);
    free(wf);
    if (!QT_CHECK(j.status == QG_SUCCESS, "quantize %s N=%lld K=%lld: %s",
                  qg_scheme_name(p->scheme), (long long)p->n, (long long)p->k, qg_last_error(NULL)))
        return 0;
    w->dev = gt_upload_packed(ctx, p, &w->host);
    return 1;
}

static void free_weight(qg_context *ctx, weight_t *w) {
    gt_free_packed(ctx, &w->dev);
    free(w->host.weight);
    free(w->host.scale);
    free(w->host.zero);
}

/* ---------------------------------------------------------------- GEMM checks */

static int ncase;      /* rotates output dtype and bias */
static int wgmma_runs; /* checked runs of the sm_90a family w4a16_wgmma (must not be skipped) */
static int wgmma_rs_runs[2]; /* the same for the RS form wo_wgmma_rs: [0] W4A16, [1] W8A16 */
static int rs_pipe_runs[3]; /* wo_wgmma_rs_pipe: [0] W4A16, [1] W8A16, [2] W4A16 float zero points */
static int fzp_runs[3];  /* float zero points: w4a16_gemv_fzp, wo_wgmma_rs_fzp, wo_dequant_lt_fzp */
static int gemv_runs;    /* checked runs of w4a16_gemv (M <= 16) */
static int w8_gemv_runs; /* the same for w8a16_gemv */
/* checked runs of wo_dequant_lt (run through its ids), all and algo0 ones, per
 * weight width ([0] wbits4 / W4A16, [1] wbits8 / W8A16) */
static int dequant_lt_runs[2], dequant_lt_algo0_runs[2];

/* Weight-only model reference (see Bounds above): the documented arithmetic, the exact dequantized
 * weight rounded to the activation dtype before the MMA. Row j of the weight comes from the
 * slice holding it, dequantized on first use and kept while the next elements fall in it. */
typedef struct {
    const qg_problem *p;
    const qg_packed_weight *w; /* host buffers */
    float *deq;                /* [SLICE, K]: slice `slice` */
    int64_t slice;             /* -1: none yet */
    int failed;
} model_weight;

static const float *model_weight_row(model_weight *mw, int64_t j) {
    const int64_t i = j / SLICE;
    if (mw->failed) return NULL;
    if (mw->slice != i) {
        int64_t r0;
        qg_problem q = slice_problem(mw->p, i, &r0);
        q.m = 1;
        const qg_packed_weight s = slice_weight(mw->p, mw->w, r0);
        if (!mw->deq) mw->deq = malloc(sizeof(float) * (size_t)(SLICE * q.k));
        mw->slice = -1;
        if (!mw->deq || qg_dequantize_weight_host(&q, &s, mw->deq, q.k) != QG_SUCCESS) {
            QT_CHECK(0, "model reference: host dequantization failed: %s", qg_last_error(NULL));
            mw->failed = 1;
            return NULL;
        }
        mw->slice = i;
    }
    return mw->deq + (j - i * SLICE) * mw->p->k;
}

/* Row x column j: *rounded = sum a[k] round_act(w[j,k]), *exact = sum a[k] w[j,k],
 * *mag = sum |a[k] round_act(w[j,k])|, all in double. 0 if the weight is not available. */
static int model_dot(model_weight *mw, const uint16_t *arow, int64_t j, double *rounded,
                     double *exact, double *mag) {
    const float *w = model_weight_row(mw, j);
    if (!w) return 0;
    const qg_dtype t = mw->p->act_dtype;
    double sr = 0, se = 0, sm = 0;
    for (int64_t k = 0; k < mw->p->k; k++) {
        const double x = h2d(t, arow[k]), rw = h2d(t, d2h(t, w[k]));
        sr += x * rw;
        se += x * (double)w[k];
        sm += fabs(x * rw);
    }
    *rounded = sr, *exact = se, *mag = sm;
    return 1;
}

/* Every output finite, padding columns of C untouched, checked rows within the bounds. `a`
 * (lda, act dtype bits) and the host weight `hw` feed the W4A16 model reference. */
static int check_c(const char *what, const qg_problem *p, const uint16_t *c, int64_t ldc,
                   const int64_t *rows, int nrows, const double *ref, const uint16_t *a,
                   int64_t lda, const qg_packed_weight *hw, int rounds_weight) {
    const int64_t m = p->m, n = p->n;
    int64_t nonfinite = 0, pad = 0, fi = -1;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < ldc; j++) {
            const uint16_t v = c[i * ldc + j];
            if (j >= n) pad += v != 0xffffu;
            else if (!isfinite(h2d(p->out_dtype, v)) && nonfinite++ == 0) fi = i * n + j;
        }
    int ok = QT_CHECK(nonfinite == 0, "%s: %lld of %lld outputs not finite, first (%lld,%lld)",
                      what, (long long)nonfinite, (long long)(m * n), (long long)(fi / (n ? n : 1)),
                      (long long)(fi % (n ? n : 1)));
    ok &= QT_CHECK(pad == 0, "%s: %lld padding elements of C were written", what, (long long)pad);
    const double uo = unit(p->out_dtype), ua = unit(p->act_dtype);
    const double tol = (p->out_dtype == QG_DTYPE_F16 && p->act_dtype == QG_DTYPE_F16) ? 2e-3 : 1e-2;
    const int use_model = p->scheme == QG_SCHEME_W4A16 || rounds_weight;
    model_weight mw = {.p = p, .w = hw, .slice = -1};
    double num = 0, den = 0, worst = 0, worst_model = 0, bad_got = 0, bad_want = 0, bad_model = NAN;
    int64_t bad = 0, explained = 0, bi = 0, bj = 0;
    for (int r = 0; r < nrows; r++) {
        double ss = 0;
        for (int64_t j = 0; j < n; j++) ss += ref[r * n + j] * ref[r * n + j];
        const double rms = sqrt(ss / (double)n);
        for (int64_t j = 0; j < n; j++) {
            const double want = ref[r * n + j], got = h2d(p->out_dtype, c[rows[r] * ldc + j]);
            const double d = fabs(got - want), lim = 2 * uo * fabs(want) + 8 * ua * rms + 1e-30;
            num += d * d;
            den += want * want;
            if (d / lim > worst) worst = d / lim;
            if (d <= lim) continue;
            /* Outside the exact bound: does the documented arithmetic explain it? model = ref
             * with round_act(w) for w (keeps the bias); bound: output rounding + f32 sums. Past
             * 64 failures the case has failed anyway: stop paying K per element. */
            double model = NAN, rounded, exact, mag;
            if (use_model && bad < 64 &&
                model_dot(&mw, a + rows[r] * lda, j, &rounded, &exact, &mag)) {
                model = want - exact + rounded;
                /* cuBLASLt's bias epilogue may round twice (product, then + bias): 4 u_o */
                const double mlim = (rounds_weight ? 4 : 2) * uo * fabs(model) +
                                    ldexp(1, -18) * mag + 1e-30;
                const double md = fabs(got - model);
                if (md <= mlim) {
                    explained++;
                    if (md / mlim > worst_model) worst_model = md / mlim;
                    continue;
                }
            }
            if (bad++ == 0) bi = rows[r], bj = j, bad_got = got, bad_want = want, bad_model = model;
        }
    }
    free(mw.deq);
    const double rel = sqrt(num / (den + 1e-300));
    ok &= QT_CHECK(bad == 0 && rel <= tol,
                   "%s: rel L2 %.3g (bound %.0e), %lld elements outside the "
                   "per-element bound%s (worst %.2fx), first (%lld,%lld) got %g want %g model %g",
                   what, rel, tol, (long long)bad, use_model ? " and the model bound" : "", worst,
                   (long long)bi, (long long)bj, bad_got, bad_want, bad_model);
    if (explained > 0)
        printf("  %s: %lld elements outside the exact bound (worst %.2fx) match the documented %s "
               "rounding of dequantized weights (worst %.2fx of the model bound)\n",
               what, (long long)explained, worst, qg_dtype_name(p->act_dtype), worst_model);
    return ok;
}

static void pick_rows(int64_t m, qt_rng *r, int64_t *rows, int *nrows) {
    *nrows = 0;
    if (m <= SAMPLE_ROWS) {
        for (int64_t i = 0; i < m; i++) rows[(*nrows)++] = i;
        return;
    }
    const int64_t fixed[] = {0, 1, 15, 16, 63, 64, 127, 128, m / 2, m - 17, m - 16, m - 2, m - 1};
    for (int i = 0; i < 13; i++)
        if (fixed[i] < m) rows[(*nrows)++] = fixed[i];
    while (*nrows < SAMPLE_ROWS) rows[(*nrows)++] = (int64_t)(qt_next(r) % (uint64_t)m);
}

/* One M on one weight: every GEMM variant of the scheme and qg_gemm, or with `only` the
 * variants whose id starts with it. `edge`: lda = K + 8 and an odd ldc = N + 3 (scalar stores,
 * untouched padding). `opt` bit 0: output dtype other than the activations', bit 1: bias. */
static void run_m_with(qg_context *ctx, int cc, const weight_t *w, int64_t m, int edge, qt_rng *r,
                       int opt, const char *only) {
    qg_problem p = w->p;
    p.m = m;
    if (opt & 1) p.out_dtype = p.act_dtype == QG_DTYPE_BF16 ? QG_DTYPE_F16 : QG_DTYPE_BF16;
    p.has_bias = (opt >> 1) & 1;
    const int64_t n = p.n, k = p.k, lda = edge ? k + 8 : k, ldc = edge ? n + 3 : n;
    char tag[200], what[320];
    snprintf(tag, sizeof tag, "%s M=%lld N=%lld K=%lld g%d zp%d %s->%s bias%d%s",
             qg_scheme_name(p.scheme), (long long)m, (long long)n, (long long)k, (int)p.group_size,
             (int)p.has_zero_point, qg_dtype_name(p.act_dtype), qg_dtype_name(p.out_dtype),
             p.has_bias, edge ? " lda+8 ldc+3" : "");

    uint16_t *a = malloc(sizeof(uint16_t) * (size_t)(m * lda));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < lda; j++) /* rows of different magnitudes; NaN in the lda padding */
            a[i * lda + j] = j < k ? d2h(p.act_dtype,
                                         ldexpf(qt_uniform(r, -1.f, 1.f), (int)(i % 5) - 2))
                                   : 0xffffu;
    uint16_t *bias = malloc(sizeof(uint16_t) * (size_t)n);
    for (int64_t j = 0; j < n; j++) bias[j] = d2h(p.out_dtype, qt_normal(r));

    int64_t rows[SAMPLE_ROWS];
    int nrows;
    pick_rows(m, r, rows, &nrows);
    uint16_t *ra = malloc(sizeof(uint16_t) * (size_t)(nrows * k));
    for (int i = 0; i < nrows; i++)
        memcpy(ra + i * k, a + rows[i] * lda, sizeof(uint16_t) * (size_t)k);
    double *ref = malloc(sizeof(double) * (size_t)(nrows * n));
    slice_job job = {.p = &p,
                     .w = w->host,
                     .a = ra,
                     .bias = p.has_bias ? bias : NULL,
                     .rows = nrows,
                     .ref = ref};
    parallel_for((n + SLICE - 1) / SLICE, reference_slice, &job);
    QT_CHECK(job.status == QG_SUCCESS, "%s: reference failed: %s", tag, qg_last_error(NULL));

    void *da = gt_upload(ctx, a, sizeof(uint16_t) * (size_t)(m * lda));
    void *dbias = gt_upload(ctx, bias, sizeof(uint16_t) * (size_t)n);
    const size_t cbytes = sizeof(uint16_t) * (size_t)(m * ldc);
    void *dc = gt_alloc_poison(ctx, cbytes);
    uint16_t *hc = malloc(cbytes);
    qg_gemm_args g;
    qg_gemm_args_init(&g);
    g.a = da, g.w = w->dev, g.bias = p.has_bias ? dbias : NULL, g.c = dc, g.lda = lda, g.ldc = ldc;

    int ran = 0;
    for (int i = 0; i <= qg_catalog_count(); i++) {
        const qg_variant *v = i < qg_catalog_count() ? qg_catalog_get(i) : NULL;
        if (v && (v->family->op != QG_OP_GEMM || !(v->family->scheme_mask & (1u << p.scheme))))
            continue;
        if (only && (!v || strncmp(v->id, only, strlen(only)) != 0)) continue;
        /* CUTLASS-built (needs its headers, refuses ldc % 8 at launch): tests/gpu/gpu_cutlass.c */
        if (v && strcmp(v->family->name, "w4a16_cutlass") == 0) continue;
        snprintf(what, sizeof what, "%s: %s", v ? v->id : "qg_gemm", tag);
        char why[256] = "";
        const int expect = !v || (cc >= v->family->min_cc && (!v->family->needs_sm90a || cc == 90) &&
                                  v->family->supports(&p, v->params, cc, why, sizeof why));
        gt_poison(ctx, dc, cbytes);
        const qg_status st = v ? qg_gemm_with_kernel(ctx, &p, &g, v->id, NULL)
                               : qg_gemm(ctx, &p, &g, NULL);
        if (!expect) { /* refused: a status, and C untouched */
            QT_CHECK(st == QG_ERR_UNSUPPORTED, "%s: %s for a case it does not support (%s)", what,
                     qg_status_name(st), why);
            const size_t touched = gt_count_written(ctx, dc,
                                                    cbytes < (1u << 20) ? cbytes : (1u << 20));
            QT_CHECK(touched == 0, "%s: refused but wrote %zu elements of C", what, touched);
            continue;
        }
        const int is_dequant_lt = v && strncmp(v->id, "wo_dequant_lt.", 14) == 0;
        const int any_lt = v && strncmp(v->id, "wo_dequant_lt", 13) == 0; /* _fzp too */
        if (any_lt && st == QG_ERR_UNSUPPORTED && strstr(qg_last_error(ctx), "heuristic offers")) {
            /* cuBLASLt offered fewer algorithms than this variant's index: a refusal (counted
             * below: algo0 must run) that must leave C alone */
            printf("  %s: skipped (%s)\n", what, qg_last_error(ctx));
            const size_t touched = gt_count_written(ctx, dc,
                                                    cbytes < (1u << 20) ? cbytes : (1u << 20));
            QT_CHECK(touched == 0, "%s: refused but wrote %zu elements of C", what, touched);
            continue;
        }
        if (!QT_CHECK(st == QG_SUCCESS, "%s: %s (%s)", what, qg_status_name(st), qg_last_error(ctx)))
            continue;
        gt_download(ctx, hc, dc, cbytes);
        /* dequantize + cuBLASLt rounds the scaled W8A16 weight too (see Bounds) */
        char picked[512] = "";
        if (!v) qg_explain(ctx, &p, picked, sizeof picked);
        const int rounds_weight = any_lt || strstr(picked, "wo_dequant_lt") != NULL;
        check_c(what, &p, hc, ldc, rows, nrows, ref, a, lda, &w->host, rounds_weight);
        ran += v != NULL;
        wgmma_runs += v && strncmp(v->id, "w4a16_wgmma.", 12) == 0;
        wgmma_rs_runs[0] += v && strncmp(v->id, "wo_wgmma_rs.wbits4.", 19) == 0;
        wgmma_rs_runs[1] += v && strncmp(v->id, "wo_wgmma_rs.wbits8.", 19) == 0;
        rs_pipe_runs[0] += v && strncmp(v->id, "wo_wgmma_rs_pipe.wbits4.", 24) == 0 &&
                           strstr(v->id, ".fzp0.") != NULL;
        rs_pipe_runs[1] += v && strncmp(v->id, "wo_wgmma_rs_pipe.wbits8.", 24) == 0;
        rs_pipe_runs[2] += v && strncmp(v->id, "wo_wgmma_rs_pipe.", 17) == 0 &&
                           strstr(v->id, ".fzp1.") != NULL;
        gemv_runs += v && strncmp(v->id, "w4a16_gemv.", 11) == 0;
        fzp_runs[0] += v && strncmp(v->id, "w4a16_gemv_fzp.", 15) == 0;
        fzp_runs[1] += v && strncmp(v->id, "wo_wgmma_rs_fzp.", 16) == 0;
        fzp_runs[2] += v && strncmp(v->id, "wo_dequant_lt_fzp.", 18) == 0;
        w8_gemv_runs += v && strncmp(v->id, "w8a16_gemv.", 11) == 0;
        const int w8 = p.scheme == QG_SCHEME_W8A16;
        dequant_lt_runs[w8] += is_dequant_lt;
        dequant_lt_algo0_runs[w8] += is_dequant_lt && strstr(v->id, ".algo0") != NULL;
    }
    QT_CHECK(ran > 0, "%s: no variant ran", tag);
    gt_free(ctx, da);
    gt_free(ctx, dbias);
    gt_free(ctx, dc);
    free(hc);
    free(a);
    free(ra);
    free(bias);
    free(ref);
}

static void run_m(qg_context *ctx, int cc, const weight_t *w, int64_t m, int edge, qt_rng *r) {
    run_m_with(ctx, cc, w, m, edge, r, ncase++, NULL);
}

/* wo_dequant_lt (dequantize in N-chunks + cuBLASLt): every variant of the weight's width at
 * M = 17 (its smallest), 128, 1000, 4096 with the output in the activation dtype (cuBLASLt has
 * no bf16 -> f16 GEMM), bias rotating. */
static void run_dequant_lt(qg_context *ctx, int cc, const weight_t *w, int edge, qt_rng *r) {
    static const int64_t ms[] = {17, 128, 1000, 4096};
    for (int i = 0; i < 4; i++)
        run_m_with(ctx, cc, w, ms[i], edge && i == 2, r, ((i + ncase++) & 1) << 1,
                   w->p.scheme == QG_SCHEME_W8A16               ? "wo_dequant_lt.wbits8."
                   : w->p.has_zero_point == QG_ZERO_POINT_FLOAT ? "wo_dequant_lt_fzp.wbits4."
                                                                : "wo_dequant_lt.wbits4.");
}

/* ---------------------------------------------------------------- dequantization */

static void check_dequant(qg_context *ctx, const weight_t *w, int cc) {
    const qg_problem *p = &w->p;
    const size_t count = (size_t)(p->n * p->k);
    float *deq = malloc(sizeof(float) * count);
    slice_job j = {.p = p, .w = w->host, .deq = deq};
    parallel_for((p->n + SLICE - 1) / SLICE, dequant_slice, &j);
    QT_CHECK(j.status == QG_SUCCESS, "host dequantization failed: %s", qg_last_error(NULL));
    uint16_t *want = malloc(sizeof(uint16_t) * count), *got = malloc(sizeof(uint16_t) * count);
    void *dout = gt_alloc_poison(ctx, sizeof(uint16_t) * count);
    for (int od = 0; od < 2; od++) {
        const qg_dtype out = od ? QG_DTYPE_F16 : QG_DTYPE_BF16;
        for (size_t i = 0; i < count; i++) want[i] = d2h(out, deq[i]);
        for (int i = 0; i <= qg_catalog_count(); i++) {
            const qg_variant *v = i < qg_catalog_count() ? qg_catalog_get(i) : NULL;
            char what[200], why[256] = "";
            if (v && (v->family->op != QG_OP_DEQUANT || v->family->hip ||
                      !(v->family->scheme_mask & (1u << p->scheme)) ||
                      !v->family->supports(p, v->params, cc, why, sizeof why)))
                continue;
            snprintf(what, sizeof what, "%s %s N=%lld K=%lld g%d zp%d -> %s",
                     v ? v->id : "qg_dequantize_weight", qg_scheme_name(p->scheme), (long long)p->n,
                     (long long)p->k, (int)p->group_size, (int)p->has_zero_point, qg_dtype_name(out));
            gt_poison(ctx, dout, sizeof(uint16_t) * count);
            qg_status st;
            if (v) {
                qg_kernel *k;
                st = qg_jit_get(ctx, v, &k);
                const qg_dequant_args args = {&w->dev, dout, out};
                qg_problem q = *p;
                q.m = 1;
                if (st == QG_SUCCESS) st = v->family->launch(ctx, k, &q, &args, v->params, NULL);
            } else {
                st = qg_dequantize_weight(ctx, p, &w->dev, dout, out, NULL);
            }
            if (!QT_CHECK(st == QG_SUCCESS, "%s: %s (%s)", what, qg_status_name(st),
                          qg_last_error(ctx)))
                continue;
            gt_download(ctx, got, dout, sizeof(uint16_t) * count);
            size_t bad = 0, first = 0;
            for (size_t i = 0; i < count; i++)
                if (got[i] != want[i] && bad++ == 0) first = i;
            QT_CHECK(bad == 0,
                     "%s: %zu of %zu elements differ from the host, first (%lld,%lld): "
                     "0x%04x, want 0x%04x",
                     what, bad, count, (long long)(first / p->k), (long long)(first % p->k),
                     got[first], want[first]);
        }
    }
    gt_free(ctx, dout);
    free(deq);
    free(want);
    free(got);
}

/* ---------------------------------------------------------------- split-K workspace */

/* Run decode variant `id` (tiles of `bn` columns x `bm` rows) twice with its own zeroed
 * workspace: outputs bit-identical (deterministic reduction) and the tile counters back at zero. */
static void check_splitk(qg_context *ctx, const weight_t *w, int64_t m, const char *id, int bn,
                         int bm, qt_rng *r) {
    const qg_variant *v = qg_catalog_find(id);
    if (!QT_CHECK(v != NULL, "no variant %s", id)) return;
    qg_problem p = w->p;
    p.m = m;
    const qg_device_info *dev = &ctx->info;
    char why[256];
    if (!v->family->supports(&p, v->params, dev->cc_major * 10 + dev->cc_minor, why, sizeof why))
        return;
    const size_t ws = v->family->workspace ? v->family->workspace(&p, v->params) : 0;
    if (!QT_CHECK(ws > 0, "%s M=%lld N=%lld: expected a split-K workspace", id, (long long)m,
                  (long long)p.n))
        return;
    uint16_t *a = malloc(sizeof(uint16_t) * (size_t)(m * p.k));
    for (int64_t i = 0; i < m * p.k; i++) a[i] = d2h(p.act_dtype, qt_uniform(r, -1.f, 1.f));
    void *da = gt_upload(ctx, a, sizeof(uint16_t) * (size_t)(m * p.k));
    void *dws;
    QT_OK(qg_malloc(ctx, &dws, ws));
    QT_OK(qg_memset_d8(ctx, dws, 0, ws));
    const size_t cbytes = sizeof(uint16_t) * (size_t)(m * p.n);
    void *dc = gt_alloc_poison(ctx, cbytes);
    uint16_t *c1 = malloc(cbytes), *c2 = malloc(cbytes);
    qg_gemm_args g;
    qg_gemm_args_init(&g);
    g.a = da, g.w = w->dev, g.c = dc, g.workspace = dws, g.workspace_bytes = ws;
    QT_OK(qg_gemm_with_kernel(ctx, &p, &g, id, NULL));
    gt_download(ctx, c1, dc, cbytes);
    gt_poison(ctx, dc, cbytes);
    QT_OK(qg_gemm_with_kernel(ctx, &p, &g, id, NULL));
    gt_download(ctx, c2, dc, cbytes);
    QT_CHECK(!memcmp(c1, c2, cbytes),
             "%s M=%lld N=%lld K=%lld: two runs differ (split-K reduction "
             "not deterministic or counters left dirty)",
             id, (long long)m, (long long)p.n, (long long)p.k);
    const int64_t counters = ((p.n + bn - 1) / bn) * ((m + bm - 1) / bm);
    unsigned *cnt = malloc(sizeof(unsigned) * (size_t)counters);
    gt_download(ctx, cnt, dws, sizeof(unsigned) * (size_t)counters);
    int64_t dirty = 0;
    for (int64_t i = 0; i < counters; i++) dirty += cnt[i] != 0;
    QT_CHECK(dirty == 0, "%s: %lld tile counters not reset to 0", id, (long long)dirty);
    free(cnt);
    free(c1);
    free(c2);
    free(a);
    gt_free(ctx, dc);
    gt_free(ctx, da);
    QT_OK(qg_free(ctx, dws));
}

/* ---------------------------------------------------------------- refusals */

static void check_refused(qg_context *ctx, const weight_t *w, int64_t m, int64_t lda,
                          const char *why) {
    qg_problem p = w->p;
    p.m = m;
    uint16_t *a = calloc((size_t)(m * lda), sizeof(uint16_t));
    void *da = gt_upload(ctx, a, sizeof(uint16_t) * (size_t)(m * lda));
    const size_t cbytes = sizeof(uint16_t) * (size_t)(m * p.n);
    void *dc = gt_alloc_poison(ctx, cbytes);
    qg_gemm_args g;
    qg_gemm_args_init(&g);
    g.a = da, g.w = w->dev, g.c = dc, g.lda = lda;
    for (int i = 0; i <= qg_catalog_count(); i++) {
        const qg_variant *v = i < qg_catalog_count() ? qg_catalog_get(i) : NULL;
        if (v && (v->family->op != QG_OP_GEMM || !(v->family->scheme_mask & (1u << p.scheme))))
            continue;
        const qg_status st = v ? qg_gemm_with_kernel(ctx, &p, &g, v->id, NULL)
                               : qg_gemm(ctx, &p, &g, NULL);
        QT_CHECK(st == QG_ERR_UNSUPPORTED, "%s (%s): %s instead of QG_ERR_UNSUPPORTED",
                 v ? v->id : "qg_gemm", why, qg_status_name(st));
        QT_CHECK(gt_count_written(ctx, dc, cbytes) == 0, "%s (%s): refused but wrote C",
                 v ? v->id : "qg_gemm", why);
    }
    gt_free(ctx, da);
    gt_free(ctx, dc);
    free(a);
}

/* ---------------------------------------------------------------- JIT warm-up */

typedef struct {
    qg_context *ctx;
    const qg_variant *v[64];
    int count;
} warm_job;

static void warm_one(void *x, int64_t i) {
    warm_job *j = x;
    qg_kernel *k;
    if (qg_jit_get(j->ctx, j->v[i], &k) != QG_SUCCESS)
        fprintf(stderr, "compile %s: %s\n", j->v[i]->id, qg_last_error(j->ctx));
}

/* Compile (or load) every weight-only variant on 16 threads before the tests need them. */
static void warm_up(qg_context *ctx, int cc) {
    warm_job j = {.ctx = ctx};
    for (int i = 0; i < qg_catalog_count() && j.count < 64; i++) {
        const qg_family *f = qg_catalog_get(i)->family;
        if (!f->hip && cc >= f->min_cc && (!f->needs_sm90a || cc == 90) &&
            (f->scheme_mask & ((1u << QG_SCHEME_W4A16) | (1u << QG_SCHEME_W8A16))))
            j.v[j.count++] = qg_catalog_get(i);
    }
    const double t0 = now_s();
    parallel_for(j.count, warm_one, &j);
    printf("compiled/loaded %d weight-only variants in %.1f s\n", j.count, now_s() - t0);
}

/* ---------------------------------------------------------------- cases */

typedef struct {
    qg_scheme scheme;
    int64_t n, k;
    int gs, zp;
    qg_dtype act;
    int ms_set; /* 0: full M list, 1: short list, 2: edge list */
    int edge, dequant;
    qg_scale_granularity wscale;
} wcase;

#define BF QG_DTYPE_BF16
#define F16 QG_DTYPE_F16
#define W4 QG_SCHEME_W4A16
#define W8 QG_SCHEME_W8A16

int main(void) {
    qg_context *ctx = gt_open();
    if (!ctx) {
        printf("gpu_weight_only: 0 passed, 0 failed (skipped: no GPU)\n");
        return 0;
    }
    const int cc = ctx->info.cc_major * 10 + ctx->info.cc_minor;
    qt_rng r;
    qt_seed(&r, qt_test_seed());
    const double t_start = now_s();
    warm_up(ctx, cc);

    static const int64_t full_ms[] = {1, 3, 16, 33, 128, 1000}, short_ms[] = {1, 16, 33, 128},
                         edge_ms[] = {1, 3, 17, 70, 130};
    wcase cases[64];
    int nc = 0;
    /* 4096x4096: every group size x zero point x activation dtype, dequant checked bit-exact */
    const int gss[] = {128, 32, 64, 0};
    for (int gi = 0; gi < 4; gi++)
        for (int zp = 0; zp < 2; zp++)
            for (int act = 0; act < 2; act++)
                cases[nc++] = (wcase){W4,
                                      4096,
                                      4096,
                                      gss[gi],
                                      zp,
                                      act ? F16 : BF,
                                      (gi || zp || act) ? 1 : 0,
                                      0,
                                      1,
                                      QG_SCALE_PER_ROW};
    cases[nc++] = (wcase){W8, 4096, 4096, 0, 0, BF, 0, 0, 1, QG_SCALE_PER_ROW};
    cases[nc++] = (wcase){W8, 4096, 4096, 0, 0, F16, 1, 0, 1, QG_SCALE_PER_ROW};
    /* the other Llama-3-8B shapes */
    cases[nc++] = (wcase){W4, 6144, 4096, 128, 0, BF, 0, 0, 0, QG_SCALE_PER_ROW};
    cases[nc++] = (wcase){W4, 6144, 4096, 64, 1, F16, 0, 0, 0, QG_SCALE_PER_ROW};
    cases[nc++] = (wcase){W8, 6144, 4096, 0, 0, BF, 0, 0, 0, QG_SCALE_PER_ROW};
    cases[nc++] = (wcase){W4, 28672, 4096, 128, 1, BF, 0, 0, 0, QG_SCALE_PER_ROW};
    cases[nc++] = (wcase){W4, 28672, 4096, 32, 0, F16, 1, 0, 0, QG_SCALE_PER_ROW};
    cases[nc++] = (wcase){W8, 28672, 4096, 0, 0, F16, 1, 0, 0, QG_SCALE_PER_ROW};
    cases[nc++] = (wcase){W4, 4096, 14336, 128, 0, BF, 0, 0, 0, QG_SCALE_PER_ROW};
    cases[nc++] = (wcase){W4, 4096, 14336, 0, 1, F16, 0, 0, 0, QG_SCALE_PER_ROW};
    cases[nc++] = (wcase){W8, 4096, 14336, 0, 0, BF, 0, 0, 0, QG_SCALE_PER_ROW};
    /* off the tile grid, padded lda, odd ldc */
    cases[nc++] = (wcase){W4, 1000, 1056, 32, 1, BF, 2, 1, 1, QG_SCALE_PER_ROW};
    cases[nc++] = (wcase){W4, 200, 328, 0, 0, F16, 2, 1, 1, QG_SCALE_PER_ROW};
    cases[nc++] = (wcase){W4, 130, 256, 64, 1, F16, 2, 1, 1, QG_SCALE_PER_ROW};
    cases[nc++] = (wcase){W8, 72, 96, 0, 0, BF, 2, 1, 1, QG_SCALE_PER_ROW};
    cases[nc++] = (wcase){W8, 136, 200, 0, 0, F16, 2, 1, 1, QG_SCALE_PER_TENSOR};
    /* float zero points (kind 2): Llama shapes, every M list, off the grid */
    cases[nc++] = (wcase){W4, 4096, 4096, 128, 2, BF, 0, 0, 1, QG_SCALE_PER_ROW};
    cases[nc++] = (wcase){W4, 4096, 14336, 64, 2, F16, 1, 0, 1, QG_SCALE_PER_ROW};
    cases[nc++] = (wcase){W4, 1000, 1056, 32, 2, BF, 2, 1, 1, QG_SCALE_PER_ROW};

    const int reduced = gt_reduced();
    for (int ci = 0; ci < nc; ci++) {
        const wcase *c = &cases[ci];
        /* reduced: the first case (every W4A16 family, split-K), W8A16 4096x4096 bf16, the two
         * smallest off-grid shapes; wo_dequant_lt runs below */
        if (reduced && ci && !(c->scheme == W8 && c->n == 4096 && c->k == 4096 && c->act == BF) &&
            !(c->edge && (c->n == 1000 || c->n == 72)) && !(c->zp == 2 && c->n == 4096))
            continue;
        const double t0 = now_s();
        qg_problem p;
        qg_problem_init(&p);
        p.scheme = c->scheme, p.m = 1, p.n = c->n, p.k = c->k;
        p.group_size = c->gs, p.has_zero_point = c->zp;
        p.act_dtype = c->act, p.out_dtype = c->act, p.weight_scale = c->wscale;
        weight_t w;
        if (!make_weight(ctx, &w, &p, 1000 + (uint64_t)ci)) continue;
        if (c->dequant) check_dequant(ctx, &w, cc);
        const int64_t *ms = c->ms_set == 0 ? full_ms : c->ms_set == 1 ? short_ms : edge_ms;
        const int nm = c->ms_set == 0 ? 6 : c->ms_set == 1 ? 4 : 5;
        for (int mi = 0; mi < nm; mi++) run_m(ctx, cc, &w, ms[mi], c->edge, &r);
        if (ci == 0) {
            if (!reduced) run_m(ctx, cc, &w, 4096, 0, &r);
            /* refusals on this weight: decode kernels above M = 64 are covered by run_m; here a
             * misaligned lda (not a multiple of 8) must be refused by every kernel */
            check_refused(ctx, &w, 5, c->k + 4, "lda % 8 != 0");
            check_splitk(ctx, &w, 1, "w4a16_decode.act2.mt1", 256, 16, &r);
            check_splitk(ctx, &w, 16, "w4a16_decode.act2.mt1", 256, 16, &r);
            check_splitk(ctx, &w, 33, "w4a16_decode.act2.mt4", 256, 64, &r);
            /* the wgmma family's split-K (tiles of 256 columns x 128 rows; sm_90a only) */
            check_splitk(ctx, &w, 16, "w4a16_wgmma.act2.bn256", 256, 128, &r);
            check_splitk(ctx, &w, 128, "w4a16_wgmma.act2.bn256", 256, 128, &r);
            /* its RS form: tiles of 128 columns x 64 / 128 rows */
            check_splitk(ctx, &w, 16, "wo_wgmma_rs.wbits4.act2.bm64", 128, 64, &r);
            check_splitk(ctx, &w, 128, "wo_wgmma_rs.wbits4.act2.bm128", 128, 128, &r);
            /* ... with its wgmmas pipelined across k tiles (tiles of 64 / 256 rows too) */
            check_splitk(ctx, &w, 16, "wo_wgmma_rs_pipe.wbits4.act2.bm64.fzp0.pipe1", 128, 64, &r);
            check_splitk(ctx, &w, 200, "wo_wgmma_rs_pipe.wbits4.act2.bm256.fzp0.pipe1", 128, 256, &r);
            /* the decode GEMV: one counter per 64-column slab, every token in one tile */
            check_splitk(ctx, &w, 1, "w4a16_gemv.act2.mt1.warps8.uk4", 64, 16, &r);
            check_splitk(ctx, &w, 8, "w4a16_gemv.act2.mt1.warps4.uk4", 64, 16, &r);
            check_splitk(ctx, &w, 16, "w4a16_gemv.act2.mt2.warps8.uk2", 64, 16, &r);
        }
        if (c->zp == 2 && c->n == 4096 && c->k == 4096) {
            check_splitk(ctx, &w, 1, "w4a16_gemv_fzp.act2.mt1.warps8.uk4.fzp1", 64, 16, &r);
            check_splitk(ctx, &w, 16, "w4a16_gemv_fzp.act2.mt2.warps4.uk2.fzp1", 64, 16, &r);
            check_splitk(ctx, &w, 16, "wo_wgmma_rs_fzp.wbits4.act2.bm64.fzp1", 128, 64, &r);
            check_splitk(ctx, &w, 128, "wo_wgmma_rs_fzp.wbits4.act2.bm128.fzp1", 128, 128, &r);
            check_splitk(ctx, &w, 128, "wo_wgmma_rs_pipe.wbits4.act2.bm128.fzp1.pipe1", 128, 128, &r);
            if (!reduced) run_dequant_lt(ctx, cc, &w, 0, &r);
        }
        if (c->scheme == W8 && c->n == 4096 && c->k == 4096 && c->act == BF) {
            check_splitk(ctx, &w, 3, "w8a16_decode.act2.mt1", 256, 16, &r);
            check_splitk(ctx, &w, 1, "w8a16_gemv.act2.mt1.warps8.uk4", 64, 16, &r);
            check_splitk(ctx, &w, 16, "w8a16_gemv.act2.mt2.warps4.uk2", 64, 16, &r);
            check_splitk(ctx, &w, 128, "wo_wgmma_rs.wbits8.act2.bm128", 128, 128, &r);
            check_splitk(ctx, &w, 256, "wo_wgmma_rs_pipe.wbits8.act2.bm256.fzp0.pipe1", 128, 256, &r);
        }
        if ((c->n == 28672 || c->k == 14336) && !reduced) run_dequant_lt(ctx, cc, &w, 0, &r);
        printf("case %2d %s N=%lld K=%lld g%d zp%d %s: %.1f s (%d passed, %d failed so far)\n", ci,
               qg_scheme_name(p.scheme), (long long)p.n, (long long)p.k, c->gs, c->zp,
               qg_dtype_name(c->act), now_s() - t0, qt_passed, qt_failed);
        fflush(stdout);
        free_weight(ctx, &w);
    }

    /* K % 8 != 0 (per channel, K = 100): no GEMM kernel takes it, the dequant kernel does */
    {
        qg_problem p;
        qg_problem_init(&p);
        p.scheme = W4, p.m = 1, p.n = 96, p.k = 100, p.group_size = 0, p.has_zero_point = 1;
        weight_t w;
        if (make_weight(ctx, &w, &p, 77)) {
            check_refused(ctx, &w, 3, 100, "K % 8 != 0");
            check_dequant(ctx, &w, cc);
            free_weight(ctx, &w);
        }
    }
    /* wo_dequant_lt with N = 5000 (not a multiple of any chunk, nor of 64: 3 chunks of 1792
     * + 1416 at 16 MiB, 2560 + 2440 at 32 MiB): W4A16 group 64 with zero points, bf16, and
     * W8A16 f16; M = 1000 with lda = K + 8 and an odd ldc */
    for (int w8 = 0; w8 < 2; w8++) {
        qg_problem p;
        qg_problem_init(&p);
        p.scheme = w8 ? W8 : W4, p.m = 1, p.n = 5000, p.k = 4096;
        p.group_size = w8 ? 0 : 64, p.has_zero_point = !w8;
        p.act_dtype = p.out_dtype = w8 ? F16 : BF;
        weight_t w;
        if (make_weight(ctx, &w, &p, 91 + (uint64_t)w8)) {
            run_dequant_lt(ctx, cc, &w, 1, &r);
            free_weight(ctx, &w);
        }
    }
    if (reduced) {
        printf("reduced case list: totals not checked; total %.1f s\n", now_s() - t_start);
        qg_context_destroy(ctx);
        return qt_finish("gpu_weight_only");
    }
    /* algo0 always runs (2 variants x 3 Ms per weight): W4A16 4 weights of 28672/4096 columns
     * and the one above, W8A16 2 and the one above */
    QT_CHECK(dequant_lt_algo0_runs[0] >= 2 * 5 * 3,
             "wo_dequant_lt.wbits4 algo0 ran %d times "
             "(all variants: %d)",
             dequant_lt_algo0_runs[0], dequant_lt_runs[0]);
    QT_CHECK(dequant_lt_algo0_runs[1] >= 2 * 3 * 3,
             "wo_dequant_lt.wbits8 algo0 ran %d times "
             "(all variants: %d)",
             dequant_lt_algo0_runs[1], dequant_lt_runs[1]);
    printf("wo_dequant_lt: %d W4A16 and %d W8A16 checked runs\n", dequant_lt_runs[0],
           dequant_lt_runs[1]);
    if (cc == 90) /* every case of the scheme runs every w4a16_wgmma variant that supports it */
        QT_CHECK(wgmma_runs >= 4 * 10, "w4a16_wgmma ran only %d times on sm_90", wgmma_runs);
    if (cc == 90) { /* every case runs the RS variants of its act dtype at M >= 17 */
        QT_CHECK(wgmma_rs_runs[0] >= 4 * 10, "wo_wgmma_rs.wbits4 ran only %d times on sm_90",
                 wgmma_rs_runs[0]);
        QT_CHECK(wgmma_rs_runs[1] >= 2 * 6, "wo_wgmma_rs.wbits8 ran only %d times on sm_90",
                 wgmma_rs_runs[1]);
        /* the pipelined form: bm 64, 128, 256 per act dtype, as many cases */
        QT_CHECK(rs_pipe_runs[0] >= 3 * 10, "wo_wgmma_rs_pipe.wbits4 ran only %d times on sm_90",
                 rs_pipe_runs[0]);
        QT_CHECK(rs_pipe_runs[1] >= 3 * 6, "wo_wgmma_rs_pipe.wbits8 ran only %d times on sm_90",
                 rs_pipe_runs[1]);
        QT_CHECK(rs_pipe_runs[2] >= 3 * 2 * 2,
                 "wo_wgmma_rs_pipe float zero points ran only %d times on sm_90", rs_pipe_runs[2]);
        printf("wo_wgmma_rs_pipe: %d W4A16, %d W8A16, %d float-zero-point runs\n", rs_pipe_runs[0],
               rs_pipe_runs[1], rs_pipe_runs[2]);
    }
    /* float zero points: the GEMV on 3 weights at M = 1 (4 variants) at least, dequantize +
     * cuBLASLt on 2 (8 variants x 4 Ms), the RS form on sm_90 (2 variants x 2 weights x M >= 17) */
    QT_CHECK(fzp_runs[0] >= 3 * 4, "w4a16_gemv_fzp ran only %d times", fzp_runs[0]);
    QT_CHECK(fzp_runs[2] >= 2 * 8 * 4, "wo_dequant_lt_fzp ran only %d times", fzp_runs[2]);
    if (cc == 90)
        QT_CHECK(fzp_runs[1] >= 2 * 2 * 2, "wo_wgmma_rs_fzp ran only %d times on sm_90", fzp_runs[1]);
    printf("float zero points: %d w4a16_gemv_fzp, %d wo_wgmma_rs_fzp, %d wo_dequant_lt_fzp runs\n",
           fzp_runs[0], fzp_runs[1], fzp_runs[2]);
    /* every W4A16 case runs the GEMV at M = 1 (4 variants of its act) and M = 16 (2) at least */
    QT_CHECK(gemv_runs >= 17 * 6, "w4a16_gemv ran only %d times", gemv_runs);
    /* and every W8A16 case at M = 1 (4) and M = 3 or 16 (>= 2) */
    QT_CHECK(w8_gemv_runs >= 7 * 6, "w8a16_gemv ran only %d times", w8_gemv_runs);
    printf("total %.1f s\n", now_s() - t_start);
    qg_context_destroy(ctx);
    return qt_finish("gpu_weight_only");
}
