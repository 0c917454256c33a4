/*
 * Dynamic-activation schemes on the GPU (W8A8_FP8, W8A8_INT8, W4A8_FP8, W4A8_INT8):
 *  1. activation quantization: every act_quant variant (and the dispatch) must be bit-exact with
 *     qg_quantize_activations_host: same q bytes, same f32 scales, per token and per tensor,
 *     bf16 and f16 input;
 *  2. GEMMs: every catalog variant of the scheme (qg_gemm_with_kernel) and the dispatch (qg_gemm)
 *     against the float64 reference (qg_reference_gemm) on the activations the GPU quantized.
 *
 * Shapes: (N,K) = 6144x4096, 4096x4096, 28672x4096, 4096x14336 with M in {1,3,16,33,128,1000}
 * (+4096 on 4096x4096), plus edge shapes not multiple of the tiles (W8A8: N=1000 K=2064, a K
 * tail of one 16-byte unit per 64/128; W4A8: N=1000 K=1152; N=3) with lda/ldc padding and an
 * odd ldc (scalar epilogue stores), and W8A8 N=1005 K=48 (K inside one stage, a partial last
 * 8-column block under 16-byte row stores: ldc a multiple of 8). Options rotate over the cases: per-row / per-tensor weight
 * and activation scales, bias on/off, bf16/f16 output and input.
 * Outputs are poisoned (0xff = NaN) before each call: every element of C must be finite, padding
 * columns must stay poisoned, the reference is compared on all rows for M <= 33 and on 16
 * sampled rows (first, last, middle, random) otherwise. A variant that does not support a case
 * must return QG_ERR_UNSUPPORTED and leave C untouched.
 *
 * Error bounds per element: |out - ref| <= u_out*|ref| + c*rms(ref), u_out the unit roundoff of
 * the output (bf16 2^-8, f16 2^-11: C is rounded once from f32); c covers the kernel's
 * arithmetic against float64 on identical quantized inputs:
 *  - W8A8_INT8: int32 accumulation is exact; f32 scale/bias arithmetic only: c = 1e-4.
 *  - W4A8_INT8: exact int32 per group, f32 sum over K/group groups: c = 1e-4.
 *  - e4m3 schemes: products are exact but fp8 tensor cores accumulate with reduced precision
 *    (about 14 bits on Hopper, DeepSeek-V3 report); our kernels promote every 64-128 k into f32,
 *    so the error is ~2^-14 per chunk: c = 2e-3.
 */
#include "catalog.h"
#include "gpu_common.h"
#include "jit.h"
#include "schemes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NTHREADS 16
#define MAX_ROWS 16

/* ---------------------------------------------------------------- parallel for */
static void parallel_for(int64_t n, void (*fn)(void *, int64_t), void *arg) {
    gt_parallel_for(n, NTHREADS, fn, arg);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int is_fp8(qg_scheme s) { return s == QG_SCHEME_W8A8_FP8 || s == QG_SCHEME_W4A8_FP8; }
static int wbits(qg_scheme s) { return qg_scheme_get(s)->weight_bits; }

/* ---------------------------------------------------------------- weights */
typedef struct {
    float *w;
    int64_t n, k;
    uint64_t seed;
} fill_job;

/* Rows of different magnitudes (1/16 .. 4), uniform values: cheap to generate in bulk. */
static void fill_rows(void *x, int64_t i) {
    fill_job *f = x;
    const int64_t r0 = i * 256, r1 = r0 + 256 < f->n ? r0 + 256 : f->n;
    qt_rng r;
    qt_seed(&r, f->seed * 7919u + (uint64_t)i);
    for (int64_t row = r0; row < r1; row++) {
        const float s = ldexpf(1.f, (int)(row % 7) - 4);
        for (int64_t j = 0; j < f->k; j++) f->w[row * f->k + j] = s * qt_uniform(&r, -1.f, 1.f);
    }
}

/* Quantize in slices of 256 rows: each slice's packed bytes are a contiguous part of the whole
 * (both layouts are row-major), scales too. */
typedef struct {
    const qg_problem *p;
    const float *w;
    qg_packed_weight packed;
    qg_status status;
    /* reference */
    const uint8_t *a; /* [rows][K] */
    const float *as;  /* [rows] or [1] */
    const uint16_t *bias;
    int64_t rows;
    double *ref; /* [rows][N] */
} slice_job;

static qg_packed_weight slice_of(const qg_problem *p, const qg_packed_weight *w, int64_t r0) {
    qg_packed_weight s = *w;
    s.weight = (uint8_t *)w->weight + r0 * p->k * wbits(p->scheme) / 8;
    const int64_t per_row = wbits(p->scheme) == 4 ? (p->group_size ? p->k / p->group_size : 1)
                                                  : (p->weight_scale == QG_SCALE_PER_TENSOR ? 0 : 1);
    s.scale = (float *)w->scale + r0 * per_row;
    return s;
}

static qg_problem slice_problem(const qg_problem *p, int64_t i, int64_t *r0) {
    qg_problem q = *p;
    *r0 = i * 256;
    q.n = p->n - *r0 < 256 ? p->n - *r0 : 256;
    return q;
}

static void pack_slice(void *x, int64_t i) {
    slice_job *j = x;
    int64_t r0;
    qg_problem q = slice_problem(j->p, i, &r0);
    q.m = 1;
    qg_packed_weight s = slice_of(j->p, &j->packed, r0);
    if (j->p->weight_scale == QG_SCALE_PER_TENSOR && wbits(j->p->scheme) == 8) {
        /* a per-tensor scale is a property of the whole weight: quantize it whole */
        if (i == 0) {
            qg_status st = qg_quantize_weight(j->p, j->w, j->p->k, &j->packed);
            if (st != QG_SUCCESS) j->status = st;
        }
        return;
    }
    qg_status st = qg_quantize_weight(&q, j->w + r0 * j->p->k, j->p->k, &s);
    if (st != QG_SUCCESS) j->status = st;
}

static void ref_slice(void *x, int64_t i) {
    slice_job *j = x;
    int64_t r0;
    qg_problem q = slice_problem(j->p, i, &r0);
    q.m = j->rows;
    qg_packed_weight s = slice_of(j->p, &j->packed, r0);
    double *c = malloc(sizeof(double) * (size_t)(q.m * q.n));
    qg_status st = qg_reference_gemm(&q, j->a, j->as, &s, j->bias ? j->bias + r0 : NULL, c);
    if (st != QG_SUCCESS) j->status = st;
    for (int64_t r = 0; r < q.m; r++)
        memcpy(j->ref + r * j->p->n + r0, c + r * q.n, sizeof(double) * (size_t)q.n);
    free(c);
}

/* ---------------------------------------------------------------- checks */
static double unit_roundoff(qg_dtype t) { return t == QG_DTYPE_F16 ? ldexp(1, -11) : ldexp(1, -8); }
static double h2d(qg_dtype t, uint16_t v) {
    return t == QG_DTYPE_F16 ? qg_f16_to_f32(v) : qg_bf16_to_f32(v);
}

static int check_output(const char *what, const qg_problem *p, const uint16_t *c, int64_t ldc,
                        const int64_t *rows, int nrows, const double *ref, double c_arith) {
    const int64_t m = p->m, n = p->n;
    int64_t nonfinite = 0, pad_written = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < ldc; j++) {
            const uint16_t v = c[i * ldc + j];
            if (j < n) nonfinite += !isfinite(h2d(p->out_dtype, v));
            else pad_written += v != 0xffffu;
        }
    int ok = QT_CHECK(nonfinite == 0, "%s: %lld of %lld outputs are not finite (unwritten?)", what,
                      (long long)nonfinite, (long long)(m * n));
    ok &= QT_CHECK(pad_written == 0, "%s: %lld padding elements were written", what,
                   (long long)pad_written);
    double ss = 0;
    for (int r = 0; r < nrows; r++)
        for (int64_t j = 0; j < n; j++) ss += ref[r * n + j] * ref[r * n + j];
    const double rms = sqrt(ss / (double)(nrows * n)), u = unit_roundoff(p->out_dtype);
    int64_t bad = 0, bi = 0, bj = 0;
    double num = 0, worst = 0, bwant = 0;
    for (int r = 0; r < nrows; r++)
        for (int64_t j = 0; j < n; j++) {
            const double want = ref[r * n + j], got = h2d(p->out_dtype, c[rows[r] * ldc + j]);
            const double d = fabs(got - want), lim = u * fabs(want) + c_arith * rms + 1e-30;
            num += d * d;
            if (d / lim > worst) worst = d / lim;
            if (!(d <= lim) && !bad++) bi = rows[r], bj = j, bwant = want;
        }
    ok &= QT_CHECK(bad == 0,
                   "%s: %lld elements outside the bound, first (%lld,%lld) got %g want "
                   "%g (rel L2 %.3g, worst/bound %.2f)",
                   what, (long long)bad, (long long)bi, (long long)bj,
                   bad ? h2d(p->out_dtype, c[bi * ldc + bj]) : 0.0, bwant,
                   sqrt(num / (ss + 1e-300)), worst);
    return ok;
}

/* ---------------------------------------------------------------- activation quantization */
static void host_quant(const qg_problem *p, const uint16_t *a, uint8_t **q, float **s) {
    *q = malloc((size_t)(p->m * p->k));
    *s = malloc(sizeof(float) * (size_t)p->m);
    QT_OK(qg_quantize_activations_host(p, a, *q, *s));
}

/* Compare device q/scale with the host's; returns 1 if bit-exact. */
static int same_quant(const char *what, const qg_problem *p, const uint8_t *hq, const float *hs,
                      qg_context *ctx, const void *dq, const void *ds) {
    const size_t qb = (size_t)(p->m * p->k),
                 ns = p->act_scale == QG_SCALE_PER_TENSOR ? 1 : (size_t)p->m;
    uint8_t *gq = malloc(qb);
    float *gs = malloc(sizeof(float) * ns);
    gt_download(ctx, gq, dq, qb);
    gt_download(ctx, gs, ds, sizeof(float) * ns);
    size_t qbad = 0, sbad = 0, first = 0;
    for (size_t i = 0; i < qb; i++)
        if (gq[i] != hq[i] && !qbad++) first = i;
    for (size_t i = 0; i < ns; i++) sbad += gs[i] != hs[i];
    int ok = QT_CHECK(qbad == 0 && sbad == 0,
                      "%s: %zu q bytes and %zu scales differ from the "
                      "host (first byte %zu: gpu 0x%02x host 0x%02x)",
                      what, qbad, sbad, first, qbad ? gq[first] : 0, qbad ? hq[first] : 0);
    free(gq);
    free(gs);
    return ok;
}

static void test_act_quant_variants(qg_context *ctx, int cc, qt_rng *r) {
    const int64_t ms[] = {1, 3, 33, 1000, 4096};
    const int64_t ks[] = {4096, 14336, 2064, 28672, 4096};
    for (int ci = 0; ci < 5; ci++) {
        for (int fp8 = 0; fp8 < 2; fp8++) {
            qg_problem p;
            qg_problem_init(&p);
            p.scheme = fp8 ? QG_SCHEME_W8A8_FP8 : QG_SCHEME_W8A8_INT8;
            p.m = ms[ci], p.n = 16, p.k = ks[ci];
            p.act_dtype = ci & 1 ? QG_DTYPE_F16 : QG_DTYPE_BF16;
            p.act_scale = ci == 2 || ci == 3 ? QG_SCALE_PER_TENSOR : QG_SCALE_PER_ROW;
            if (fp8 && cc < 89) continue;
            uint16_t *a = malloc(sizeof(uint16_t) * (size_t)(p.m * p.k));
            for (int64_t i = 0; i < p.m * p.k; i++) {
                /* per-row ranges, an all-zero row 1 and large outliers */
                const int64_t row = i / p.k;
                const float x = row == 1 ? 0.f
                                         : ldexpf(qt_normal(r), (int)(row % 9) - 4) *
                                               (i % 977 == 0 ? 50.f : 1.f);
                a[i] = p.act_dtype == QG_DTYPE_F16 ? qg_f32_to_f16(x) : qg_f32_to_bf16(x);
            }
            uint8_t *hq;
            float *hs;
            host_quant(&p, a, &hq, &hs);
            void *da = gt_upload(ctx, a, sizeof(uint16_t) * (size_t)(p.m * p.k));
            void *dq = gt_alloc_poison(ctx, (size_t)(p.m * p.k));
            void *ds = gt_alloc_poison(ctx, sizeof(float) * (size_t)p.m);
            char what[160];
            /* every variant of the act_quant family, through the family's own launch */
            for (int i = 0; i < qg_catalog_count(); i++) {
                const qg_variant *v = qg_catalog_get(i);
                const qg_family *f = v->family;
                if (f->op != QG_OP_ACT_QUANT || !(f->scheme_mask & (1u << p.scheme))) continue;
                char why[256] = "";
                snprintf(what, sizeof what, "%s M=%lld K=%lld %s %s", v->id, (long long)p.m,
                         (long long)p.k, qg_dtype_name(p.act_dtype),
                         p.act_scale ? "per-tensor" : "per-token");
                if (!f->supports(&p, v->params, cc, why, sizeof why)) continue;
                qg_kernel *k;
                QT_OK(qg_jit_get(ctx, v, &k));
                gt_poison(ctx, dq, (size_t)(p.m * p.k));
                gt_poison(ctx, ds, sizeof(float) * (size_t)p.m);
                const qg_actq_args args = {da, dq, ds};
                qg_status st = f->launch(ctx, k, &p, &args, v->params, NULL);
                QT_CHECK(st == QG_SUCCESS, "%s: launch %s (%s)", what, qg_status_name(st),
                         qg_last_error(ctx));
                same_quant(what, &p, hq, hs, ctx, dq, ds);
            }
            snprintf(what, sizeof what, "dispatch %s M=%lld K=%lld", qg_scheme_name(p.scheme),
                     (long long)p.m, (long long)p.k);
            gt_poison(ctx, dq, (size_t)(p.m * p.k));
            QT_OK(qg_quantize_activations(ctx, &p, da, dq, ds, NULL));
            same_quant(what, &p, hq, hs, ctx, dq, ds);
            gt_free(ctx, da);
            gt_free(ctx, dq);
            gt_free(ctx, ds);
            free(a);
            free(hq);
            free(hs);
        }
    }
}

/* ---------------------------------------------------------------- GEMMs */
typedef struct {
    int64_t n, k;
    int edge; /* 1: lda/ldc padding, odd ldc; 2: lda padding, ldc % 8 == 0 */
} shape_t;

static int ncase;   /* rotates the options */
static int sk_runs; /* the split-K wgmma_ws families (w8a8_*_wgmma_ws_sk) checked */

static void run_m(qg_context *ctx, int cc, const qg_problem *base, const qg_packed_weight *hw,
                  const qg_packed_weight *dw, int64_t m, int edge, qt_rng *r) {
    qg_problem p = *base;
    p.m = m;
    const int opt = ncase++;
    p.act_scale = (opt & 1) ? QG_SCALE_PER_TENSOR : QG_SCALE_PER_ROW;
    p.has_bias = (opt >> 1) & 1;
    p.out_dtype = (opt >> 2) & 1 ? QG_DTYPE_F16 : QG_DTYPE_BF16;
    p.act_dtype = (opt >> 3) & 1 ? QG_DTYPE_F16 : QG_DTYPE_BF16;
    const int64_t n = p.n, k = p.k;
    /* edge 1: odd ldc (scalar stores); edge 2: ldc a multiple of 8 past N (16-byte row
     * stores with a partial last 8-column block) */
    const int64_t lda = edge == 2 ? k + 16 : edge ? k + 32 : k;
    const int64_t ldc = edge == 2 ? (n + 7) / 8 * 8 + 8 : edge ? n + 3 : n;
    char tag[160];
    snprintf(tag, sizeof tag, "%s M=%lld N=%lld K=%lld g%d w%s a%s bias%d %s",
             qg_scheme_name(p.scheme), (long long)m, (long long)n, (long long)k, (int)p.group_size,
             p.weight_scale ? "T" : "R", p.act_scale ? "T" : "R", p.has_bias,
             qg_dtype_name(p.out_dtype));

    /* activations: bf16/f16 -> GPU quantization (checked against the host) */
    uint16_t *a = malloc(sizeof(uint16_t) * (size_t)(m * k));
    for (int64_t i = 0; i < m * k; i++) {
        const float x = ldexpf(qt_uniform(r, -1.f, 1.f), (int)((i / k) % 5) - 2);
        a[i] = p.act_dtype == QG_DTYPE_F16 ? qg_f32_to_f16(x) : qg_f32_to_bf16(x);
    }
    uint8_t *hq;
    float *hs;
    host_quant(&p, a, &hq, &hs);
    void *da = gt_upload(ctx, a, sizeof(uint16_t) * (size_t)(m * k));
    void *dq = gt_alloc_poison(ctx, (size_t)(m * k));
    void *ds = gt_alloc_poison(ctx, sizeof(float) * (size_t)m);
    QT_OK(qg_quantize_activations(ctx, &p, da, dq, ds, NULL));
    char what[256];
    snprintf(what, sizeof what, "act-quant for %s", tag);
    same_quant(what, &p, hq, hs, ctx, dq, ds);
    /* the GEMM reads what the GPU produced (also when lda is padded) */
    uint8_t *gq = malloc((size_t)(m * k));
    gt_download(ctx, gq, dq, (size_t)(m * k));
    float *gs = malloc(sizeof(float) * (size_t)m);
    gt_download(ctx, gs, ds, sizeof(float) * (p.act_scale ? 1 : (size_t)m));
    void *dqa = dq;
    if (lda != k) {
        uint8_t *pad = calloc((size_t)(m * lda), 1);
        for (int64_t i = 0; i < m; i++) memcpy(pad + i * lda, gq + i * k, (size_t)k);
        dqa = gt_upload(ctx, pad, (size_t)(m * lda));
        free(pad);
    }
    uint16_t *bias = malloc(sizeof(uint16_t) * (size_t)n);
    for (int64_t j = 0; j < n; j++)
        bias[j] = p.out_dtype == QG_DTYPE_F16 ? qg_f32_to_f16(qt_normal(r))
                                              : qg_f32_to_bf16(qt_normal(r));
    void *dbias = p.has_bias ? gt_upload(ctx, bias, sizeof(uint16_t) * (size_t)n) : NULL;

    /* reference on all rows (M <= 33) or 16 sampled ones */
    int64_t rows[64];
    int nrows = 0;
    if (m <= 33) {
        for (int64_t i = 0; i < m; i++) rows[nrows++] = i;
    } else {
        const int64_t fixed[] = {0, 1, m / 2, m - 2, m - 1};
        for (int i = 0; i < 5; i++) rows[nrows++] = fixed[i];
        while (nrows < MAX_ROWS) rows[nrows++] = 2 + (int64_t)(qt_next(r) % (uint64_t)(m - 4));
    }
    uint8_t *ra = malloc((size_t)(nrows * k));
    float *ras = malloc(sizeof(float) * (size_t)nrows);
    for (int i = 0; i < nrows; i++) {
        memcpy(ra + i * k, gq + rows[i] * k, (size_t)k);
        ras[i] = gs[p.act_scale ? 0 : rows[i]];
    }
    double *ref = malloc(sizeof(double) * (size_t)(nrows * n));
    slice_job job = {.p = &p,
                     .packed = *hw,
                     .a = ra,
                     .as = ras,
                     .bias = p.has_bias ? bias : NULL,
                     .rows = nrows,
                     .ref = ref};
    parallel_for((n + 255) / 256, ref_slice, &job);
    QT_CHECK(job.status == QG_SUCCESS, "%s: reference failed", tag);

    const double c_arith = is_fp8(p.scheme) ? 2e-3 : 1e-4;
    const size_t cbytes = sizeof(uint16_t) * (size_t)(m * ldc);
    void *dc = gt_alloc_poison(ctx, cbytes);
    uint16_t *hc = malloc(cbytes);
    qg_gemm_args g;
    qg_gemm_args_init(&g);
    g.a = dqa;
    g.a_scale = ds;
    g.w = *dw;
    g.bias = dbias;
    g.c = dc;
    g.lda = lda;
    g.ldc = ldc;
    int ran = 0;
    for (int i = 0; i <= qg_catalog_count(); i++) {
        const qg_variant *v = i < qg_catalog_count() ? qg_catalog_get(i) : NULL;
        if (v && (v->family->op != QG_OP_GEMM || !(v->family->scheme_mask & (1u << p.scheme))))
            continue;
        snprintf(what, sizeof what, "%s: %s", v ? v->id : "qg_gemm", tag);
        gt_poison(ctx, dc, cbytes);
        const qg_status st = v ? qg_gemm_with_kernel(ctx, &p, &g, v->id, NULL)
                               : qg_gemm(ctx, &p, &g, NULL);
        if (v && (st == QG_ERR_UNSUPPORTED || st == QG_ERR_UNSUPPORTED_ARCH)) {
            /* refused: C must be untouched */
            const size_t touched = gt_count_written(ctx, dc, cbytes < 128 ? cbytes : 128);
            QT_CHECK(!touched, "%s: refused (%s) but wrote C", what, qg_status_name(st));
            continue;
        }
        if (!QT_CHECK(st == QG_SUCCESS, "%s: %s (%s)", what, qg_status_name(st), qg_last_error(ctx)))
            continue;
        gt_download(ctx, hc, dc, cbytes);
        check_output(what, &p, hc, ldc, rows, nrows, ref, c_arith);
        ran++;
        sk_runs += v && strstr(v->family->name, "_wgmma_ws_sk") != NULL;
    }
    QT_CHECK(ran >= 2, "%s: only %d kernels ran (dispatch included)", tag, ran);
    (void)cc;

    gt_free(ctx, dc);
    gt_free(ctx, da);
    gt_free(ctx, dq);
    gt_free(ctx, ds);
    if (dqa != dq) gt_free(ctx, dqa);
    if (dbias) gt_free(ctx, dbias);
    free(hc);
    free(a);
    free(hq);
    free(hs);
    free(gq);
    free(gs);
    free(bias);
    free(ra);
    free(ras);
    free(ref);
}

static void run_shape(qg_context *ctx, int cc, qg_scheme scheme, const shape_t *sh, const float *w,
                      int shape_index, qt_rng *r) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = scheme;
    p.n = sh->n, p.k = sh->k, p.m = 1;
    p.group_size = 128;
    if (scheme == QG_SCHEME_W4A8_INT8) {
        const int gs[] = {128, 32, 64, 0};
        p.group_size = gs[shape_index % 4];
    }
    p.weight_scale = wbits(scheme) == 8 && (shape_index & 1) ? QG_SCALE_PER_TENSOR : QG_SCALE_PER_ROW;
    if (qg_problem_validate(&p) != QG_SUCCESS) return; /* shape not allowed for this scheme */
    if (cc < qg_scheme_get(scheme)->min_cc) {
        qg_gemm_args g;
        qg_gemm_args_init(&g);
        g.a = g.a_scale = g.c = g.w.weight = g.w.scale = (void *)16;
        QT_STATUS(qg_gemm(ctx, &p, &g, NULL), QG_ERR_UNSUPPORTED_ARCH);
        return;
    }
    const double t0 = now_s();
    qg_packed_sizes sz;
    QT_OK(qg_packed_sizes_get(&p, &sz));
    qg_packed_weight hw = {malloc(sz.weight_bytes), malloc(sz.scale_bytes), NULL, NULL};
    slice_job job = {.p = &p, .w = w, .packed = hw};
    parallel_for((p.n + 255) / 256, pack_slice, &job);
    QT_CHECK(job.status == QG_SUCCESS, "quantizing %s %lldx%lld", qg_scheme_name(scheme),
             (long long)p.n, (long long)p.k);
    qg_packed_weight dw = gt_upload_packed(ctx, &p, &hw);
    const int64_t big_ms[] = {1, 3, 16, 33, 128, 1000, 4096};
    const int64_t edge_ms[] = {1, 3, 33, 130};
    const int nm = sh->edge ? 4 : (sh->n == 4096 && sh->k == 4096 ? 7 : 6);
    for (int i = 0; i < nm; i++)
        run_m(ctx, cc, &p, &hw, &dw, sh->edge ? edge_ms[i] : big_ms[i], sh->edge, r);
    gt_free_packed(ctx, &dw);
    free(hw.weight);
    free(hw.scale);
    printf("  %-10s N=%-6lld K=%-6lld g%-4d %s done in %.1f s\n", qg_scheme_name(scheme),
           (long long)p.n, (long long)p.k, (int)p.group_size,
           p.weight_scale ? "w per-tensor" : "w per-row", now_s() - t0);
    fflush(stdout);
}

static void test_errors(qg_context *ctx, int cc) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = cc >= 89 ? QG_SCHEME_W8A8_FP8 : QG_SCHEME_W8A8_INT8;
    p.m = 4, p.n = 64, p.k = 64;
    qg_gemm_args g;
    qg_gemm_args_init(&g);
    void *buf = gt_alloc_poison(ctx, 1 << 16);
    g.a = (uint8_t *)buf + 1; /* misaligned activations */
    g.a_scale = g.c = g.w.weight = g.w.scale = buf;
    QT_STATUS(qg_gemm(ctx, &p, &g, NULL), QG_ERR_INVALID_ARGUMENT);
    g.a = buf;
    g.a_scale = NULL;
    QT_STATUS(qg_gemm(ctx, &p, &g, NULL), QG_ERR_NULL_POINTER);
    p.k = 72; /* K % 16 */
    g.a_scale = buf;
    QT_STATUS(qg_gemm(ctx, &p, &g, NULL), QG_ERR_INVALID_ARGUMENT);
    gt_free(ctx, buf);
}

int main(void) {
    qg_context *ctx = gt_open();
    if (!ctx) {
        printf("0 passed, 0 failed (skipped: no GPU)\n");
        return 0;
    }
    qg_device_info info;
    qg_context_device_info(ctx, &info);
    const int cc = info.cc_major * 10 + info.cc_minor;
    qt_rng r;
    const uint64_t seed = qt_test_seed();
    qt_seed(&r, seed);
    const double t0 = now_s();

    test_errors(ctx, cc);
    test_act_quant_variants(ctx, cc, &r);
    printf("activation quantization checked in %.1f s\n", now_s() - t0);

    const shape_t shapes[] = {
        {6144, 4096, 0}, {4096, 4096, 0}, {28672, 4096, 0}, {4096, 14336, 0},
        {1000, 2064, 1},                                 /* W8A8 only (K % 128 != 0) */
        {1000, 1152, 1}, {3, 256, 1},     {1005, 48, 2}, /* W8A8 only: K below one 128-byte stage, N % 8 != 0 */
    };
    const qg_scheme schemes[] = {QG_SCHEME_W8A8_FP8, QG_SCHEME_W8A8_INT8, QG_SCHEME_W4A8_FP8,
                                 QG_SCHEME_W4A8_INT8};
    for (int si = 0; si < QG_ARRAY_SIZE(shapes); si++) {
        const shape_t *sh = &shapes[si];
        /* reduced: 4096x4096 (the tile and wgmma kernels) and the off-grid shapes */
        if (gt_reduced() && !sh->edge && !(sh->n == 4096 && sh->k == 4096)) continue;
        float *w = malloc(sizeof(float) * (size_t)(sh->n * sh->k));
        fill_job f = {w, sh->n, sh->k, seed + (uint64_t)si};
        parallel_for((sh->n + 255) / 256, fill_rows, &f);
        for (int s = 0; s < 4; s++) run_shape(ctx, cc, schemes[s], sh, w, si, &r);
        free(w);
    }
    /* every W8A8 case of sm_90 runs both bn of both _sk families (split or not) */
    printf("w8a8_*_wgmma_ws_sk: %d checked runs\n", sk_runs);
    if (cc == 90) QT_CHECK(sk_runs >= 2 * 2 * 8, "the _ws_sk families ran only %d times", sk_runs);
    printf("total %.1f s\n", now_s() - t0);
    qg_context_destroy(ctx);
    return qt_finish("gpu_dynamic_act");
}
