/*
 * 2:4 sparse GEMMs on the GPU: every sp24 catalog variant (qg_gemm_with_kernel) and the dispatch
 * (qg_gemm) against the float64 CPU reference (qg_reference_gemm) on random data.
 *
 * Shapes: the Llama-3-8B linears (N,K) = 6144x4096, 4096x4096, 28672x4096, 4096x14336 with
 * M in {1, 3, 16, 33, 128, 1000} (+4096 on 4096x4096), and a small edge shape (N=100, K=192:
 * N padded to 64-row groups, an 8-bit K tail of half a stage, scalar epilogue, lda/ldc padding,
 * bias). Outputs are poisoned (0xff = NaN) before each call; every element of C must be finite,
 * padding columns and rows past M must stay poisoned, and the reference is compared on all rows
 * for M <= 33 and on a sample (first, last, random) otherwise.
 *
 * Error bounds, per element: |out - ref| <= u_out*|ref| + c*rms(ref), u_out the unit roundoff
 * of the output type (bf16 2^-8, f16 2^-11: C is rounded once from an f32 value). c covers the
 * kernel's arithmetic against the float64 reference on identical quantized inputs:
 *  - bf16/f16: products are exact in f32, accumulation in f32 over K/2 terms: c = 1e-3.
 *  - int8: s32 accumulation is exact; only the f32 scale/bias arithmetic: c = 1e-3.
 *  - e4m3: products are exact, but fp8 tensor cores are documented to accumulate with reduced
 *    precision (about 14 bits retained on Hopper, DeepSeek-V3 report): c = 2e-2.
 * The relative L2 error of the sampled rows is printed and bounded too (2*u_out + c).
 *
 * Experimental families (sp24_int8_wgmma, sp24_fp8_wgmma: not yet validated on hardware) run here
 * by kernel id like every other variant, but the dispatch does not choose them.
 */
#include "catalog.h"
#include "gpu_common.h"
#include "schemes.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NTHREADS 16

/* ---- a tiny parallel for ---- */
static void parallel_for(int64_t n, void (*fn)(void *, int64_t), void *ctx) {
    gt_parallel_for(n, NTHREADS, fn, ctx);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- packing and reference in 64-row slices (the packed layout is row-group major, so the
 * slice of rows [r0, r1) of the whole is exactly the packed form of that sub-matrix) ---- */
#define SLICE_ROWS 1024

typedef struct {
    const qg_problem *p;
    const float *w;          /* [N][K] */
    qg_packed_weight packed; /* host buffers of the whole weight */
    const void *a;           /* reference: [rows][K] gathered activation rows */
    const float *a_scale;    /* [rows] */
    const uint16_t *bias;
    int64_t rows;
    double *ref; /* [rows][N] */
    qg_status status;
} slice_job;

static qg_packed_weight slice_of(const qg_problem *p, const qg_packed_weight *w, int64_t r0) {
    const int es = p->scheme == QG_SCHEME_SP24_BF16 ? 2 : 1;
    qg_packed_weight s = *w;
    s.weight = (uint8_t *)w->weight + r0 * (p->k / 2) * es;
    s.meta = (uint8_t *)w->meta + r0 * p->k / 8;
    if (w->scale) s.scale = (float *)w->scale + r0;
    return s;
}

static qg_problem slice_problem(const qg_problem *p, int64_t i, int64_t *r0) {
    qg_problem q = *p;
    *r0 = i * SLICE_ROWS;
    q.n = p->n - *r0 < SLICE_ROWS ? p->n - *r0 : SLICE_ROWS;
    return q;
}

static void pack_slice(void *ctx, int64_t i) {
    slice_job *j = ctx;
    int64_t r0;
    qg_problem q = slice_problem(j->p, i, &r0);
    q.m = 1;
    qg_packed_weight s = slice_of(j->p, &j->packed, r0);
    qg_status st = qg_quantize_weight(&q, j->w + r0 * j->p->k, j->p->k, &s);
    if (st != QG_SUCCESS) j->status = st;
}

static void ref_slice(void *ctx, int64_t i) {
    slice_job *j = ctx;
    int64_t r0;
    qg_problem q = slice_problem(j->p, i, &r0);
    q.m = j->rows;
    qg_packed_weight s = slice_of(j->p, &j->packed, r0);
    double *c = malloc((size_t)(q.m * q.n) * sizeof(double));
    qg_status st = qg_reference_gemm(&q, j->a, j->a_scale, &s, j->bias ? j->bias + r0 : NULL, c);
    if (st != QG_SUCCESS) j->status = st;
    for (int64_t r = 0; r < q.m; r++)
        memcpy(j->ref + r * j->p->n + r0, c + r * q.n, (size_t)q.n * sizeof(double));
    free(c);
}

typedef struct {
    uint64_t seed;
    float *w;
    int64_t n, k;
} fill_job;

static void fill_slice(void *ctx, int64_t i) {
    fill_job *f = ctx;
    qt_rng r;
    qt_seed(&r, f->seed * 1000003u + (uint64_t)i);
    const int64_t r0 = i * SLICE_ROWS, r1 = r0 + SLICE_ROWS < f->n ? r0 + SLICE_ROWS : f->n;
    qt_fill_normal(&r, f->w + r0 * f->k, (size_t)((r1 - r0) * f->k), 0.05f);
}

/* ---- one scheme x shape ---- */
typedef struct {
    qg_scheme scheme;
    qg_dtype act, out;
} scheme_case;

typedef struct {
    int64_t n, k;
    int edge; /* bias, lda/ldc padding, per-tensor activation scale */
} shape_case;

static double unit_roundoff(qg_dtype t) { return t == QG_DTYPE_F16 ? ldexp(1, -11) : ldexp(1, -8); }

static double half_to_double(qg_dtype t, uint16_t v) {
    return t == QG_DTYPE_F16 ? qg_f16_to_f32(v) : qg_bf16_to_f32(v);
}

/* Check one GEMM output against the reference rows; returns 1 if it passed. */
static int check_output(const char *what, const qg_problem *p, const uint16_t *c, int64_t ldc,
                        int64_t m_alloc, const int64_t *rows, int nrows, const double *ref,
                        double c_arith) {
    const int64_t m = p->m, n = p->n;
    int64_t nonfinite = 0, pad_written = 0;
    for (int64_t i = 0; i < m_alloc; i++)
        for (int64_t j = 0; j < ldc; j++) {
            const uint16_t v = c[i * ldc + j];
            if (i < m && j < n) nonfinite += !isfinite(half_to_double(p->out_dtype, v));
            else pad_written += v != 0xffffu;
        }
    int ok = QT_CHECK(nonfinite == 0, "%s: %lld of %lld outputs are not finite (unwritten?)", what,
                      (long long)nonfinite, (long long)(m * n));
    ok &= QT_CHECK(pad_written == 0, "%s: %lld elements outside [M,N] were written", what,
                   (long long)pad_written);
    /* Sampled rows: per-element bound and relative L2. */
    double ss = 0;
    int64_t cnt = 0;
    for (int r = 0; r < nrows; r++) {
        if (rows[r] >= m) continue;
        for (int64_t j = 0; j < n; j++) ss += ref[(int64_t)r * n + j] * ref[(int64_t)r * n + j];
        cnt += n;
    }
    const double rms = sqrt(ss / (double)(cnt ? cnt : 1));
    const double u = unit_roundoff(p->out_dtype);
    double num = 0, worst = 0;
    int64_t bad = 0, bad_i = 0, bad_j = 0;
    double bad_want = 0;
    for (int r = 0; r < nrows; r++) {
        const int64_t i = rows[r];
        if (i >= m) continue;
        for (int64_t j = 0; j < n; j++) {
            const double want = ref[(int64_t)r * n + j];
            const double got = half_to_double(p->out_dtype, c[i * ldc + j]);
            const double d = fabs(got - want);
            num += d * d;
            const double lim = u * fabs(want) + c_arith * rms + 1e-30;
            if (d / lim > worst) worst = d / lim;
            if (!(d <= lim)) {
                if (!bad) {
                    bad_i = i;
                    bad_j = j;
                    bad_want = want;
                }
                bad++;
            }
        }
    }
    const double rel = sqrt(num / (ss > 0 ? ss : 1));
    ok &= QT_CHECK(bad == 0,
                   "%s: %lld elements over the bound (first (%lld,%lld): got %g want %g), "
                   "worst err/bound %.2f",
                   what, (long long)bad, (long long)bad_i, (long long)bad_j,
                   bad ? half_to_double(p->out_dtype, c[bad_i * ldc + bad_j]) : 0.0, bad_want, worst);
    ok &= QT_CHECK(rel <= 2 * u + c_arith, "%s: relative L2 error %.3g > %.3g", what, rel,
                   2 * u + c_arith);
    printf("  %-58s rel %.2e  worst/bound %.2f%s\n", what, rel, worst, ok ? "" : "  FAIL");
    return ok;
}

static void run_case(qg_context *ctx, const qg_device_info *dev, const scheme_case *sc,
                     const shape_case *sh, uint64_t seed) {
    const qg_scheme_traits *t = qg_scheme_get(sc->scheme);
    const int cc = dev->cc_major * 10 + dev->cc_minor;
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = sc->scheme;
    p.n = sh->n;
    p.k = sh->k;
    p.m = 1;
    p.act_dtype = sc->act;
    p.out_dtype = sc->out;
    p.has_bias = sh->edge;
    p.act_scale = sh->edge ? QG_SCALE_PER_TENSOR : QG_SCALE_PER_ROW;
    const int64_t n = p.n, k = p.k;
    printf("%s act=%s out=%s N=%lld K=%lld%s\n", t->name, qg_dtype_name(sc->act),
           qg_dtype_name(sc->out), (long long)n, (long long)k,
           sh->edge ? " (bias, lda/ldc pad, per-tensor a_scale)" : "");
    if (cc < t->min_cc) {
        /* Not this GPU: the call must say so with a status. */
        qg_gemm_args args;
        qg_gemm_args_init(&args);
        uint8_t dummy[16] __attribute__((aligned(16)));
        args.a = args.c = args.w.weight = args.w.meta = args.w.scale = dummy;
        args.a_scale = dummy;
        QT_STATUS(qg_gemm(ctx, &p, &args, NULL), QG_ERR_UNSUPPORTED_ARCH);
        return;
    }
    const double t0 = now_s();
    const int64_t ms_big[] = {1, 3, 16, 33, 128, 1000, 4096};
    const int nms = (n == 4096 && k == 4096) ? 7 : (sh->edge ? 5 : 6);
    const int64_t m_max = ms_big[nms - 1];
    const int es = sc->scheme == QG_SCHEME_SP24_BF16 ? 2 : 1;
    const int64_t lda = sh->edge ? k + 64 : k, ldc = sh->edge ? n + 12 : n;

    /* Weights: random, pruned + quantized + packed on the host in parallel slices. */
    float *w = malloc((size_t)(n * k) * sizeof(float));
    fill_job fj = {seed, w, n, k};
    parallel_for(QG_CDIV(n, SLICE_ROWS), fill_slice, &fj);
    qg_packed_sizes sz;
    QT_OK(qg_packed_sizes_get(&p, &sz));
    qg_packed_weight hw = {0};
    hw.weight = malloc(sz.weight_bytes);
    hw.meta = malloc(sz.meta_bytes);
    hw.scale = sz.scale_bytes ? malloc(sz.scale_bytes) : NULL;
    slice_job job = {&p, w, hw, NULL, NULL, NULL, 0, NULL, QG_SUCCESS};
    parallel_for(QG_CDIV(n, SLICE_ROWS), pack_slice, &job);
    QT_CHECK(job.status == QG_SUCCESS, "packing failed: %s", qg_status_name(job.status));
    free(w);

    /* Activations [m_max][lda] in the scheme's type, scales, bias. */
    qt_rng rng;
    qt_seed(&rng, seed ^ 0xabcdefull);
    uint8_t *a = calloc((size_t)(m_max * lda), (size_t)es);
    for (int64_t i = 0; i < m_max; i++)
        for (int64_t j = 0; j < k; j++) {
            const float x = qt_normal(&rng);
            if (es == 2) {
                const uint16_t v = sc->act == QG_DTYPE_F16 ? qg_f32_to_f16(x) : qg_f32_to_bf16(x);
                memcpy(a + (i * lda + j) * 2, &v, 2);
            } else if (sc->scheme == QG_SCHEME_SP24_INT8) {
                a[i * lda + j] = (uint8_t)(int8_t)fmaxf(-127.0f,
                                                        fminf(127.0f, nearbyintf(40.0f * x)));
            } else {
                a[i * lda + j] = qg_f32_to_e4m3(64.0f * x);
            }
        }
    float *a_scale = malloc((size_t)m_max * sizeof(float));
    for (int64_t i = 0; i < m_max; i++) a_scale[i] = qt_uniform(&rng, 0.005f, 0.05f);
    uint16_t *bias = NULL;
    if (p.has_bias) {
        bias = malloc((size_t)n * 2);
        for (int64_t j = 0; j < n; j++)
            bias[j] = sc->out == QG_DTYPE_F16 ? qg_f32_to_f16(qt_normal(&rng))
                                              : qg_f32_to_bf16(qt_normal(&rng));
    }

    /* Rows checked against the reference: all rows < 34, every M-1, and random ones. */
    int64_t rows[64];
    int nrows = 0;
    for (int64_t i = 0; i < 34 && i < m_max; i++) rows[nrows++] = i;
    for (int i = 0; i < nms; i++)
        if (ms_big[i] - 1 >= 34) rows[nrows++] = ms_big[i] - 1;
    while (nrows < 48 && m_max > 34)
        rows[nrows++] = 34 + (int64_t)(qt_next(&rng) % (uint64_t)(m_max - 34));
    uint8_t *ag = malloc((size_t)(nrows * k) * es);
    float *asg = malloc((size_t)nrows * sizeof(float));
    for (int r = 0; r < nrows; r++) {
        memcpy(ag + (size_t)(r * k) * es, a + (size_t)(rows[r] * lda) * es, (size_t)k * es);
        asg[r] = a_scale[p.act_scale == QG_SCALE_PER_TENSOR ? 0 : rows[r]];
    }
    double *ref = malloc((size_t)(nrows * n) * sizeof(double));
    job.a = ag;
    job.a_scale = asg;
    job.bias = bias;
    job.rows = nrows;
    job.ref = ref;
    /* Reference with per-row a_scale (the gathered rows carry their own scale). */
    qg_problem pr = p;
    pr.act_scale = QG_SCALE_PER_ROW;
    job.p = &pr;
    parallel_for(QG_CDIV(n, SLICE_ROWS), ref_slice, &job);
    QT_CHECK(job.status == QG_SUCCESS, "reference failed: %s", qg_status_name(job.status));
    const double t1 = now_s();

    /* Device buffers. */
    qg_packed_weight dw = gt_upload_packed(ctx, &p, &hw);
    void *da = gt_upload(ctx, a, (size_t)(m_max * lda) * es);
    void *das = gt_upload(ctx, a_scale, (size_t)m_max * sizeof(float));
    void *db = bias ? gt_upload(ctx, bias, (size_t)n * 2) : NULL;
    const size_t c_bytes = (size_t)(m_max * ldc) * 2;
    void *dc = gt_alloc_poison(ctx, c_bytes);
    uint16_t *hc = malloc(c_bytes);
    const double c_arith = sc->scheme == QG_SCHEME_SP24_FP8 ? 2e-2 : 1e-3;

    int launches = 0;
    for (int mi = 0; mi < nms; mi++) {
        p.m = ms_big[mi];
        qg_gemm_args args;
        qg_gemm_args_init(&args);
        args.a = da;
        args.a_scale = das;
        args.w = dw;
        args.bias = db;
        args.c = dc;
        args.lda = lda;
        args.ldc = ldc;
        /* Every sp24 variant of this scheme, then the dispatch's own choice. */
        for (int vi = -1; vi < qg_catalog_count(); vi++) {
            const qg_variant *v = vi >= 0 ? qg_catalog_get(vi) : NULL;
            if (v && (v->family->op != QG_OP_GEMM || !(v->family->scheme_mask & (1u << p.scheme)) ||
                      strncmp(v->family->name, "sp24_", 5) != 0))
                continue;
            char what[160];
            snprintf(what, sizeof what, "M=%-5lld %s", (long long)p.m,
                     v ? v->id : "qg_gemm (dispatch)");
            gt_poison(ctx, dc, c_bytes);
            const qg_status s = v ? qg_gemm_with_kernel(ctx, &p, &args, v->id, NULL)
                                  : qg_gemm(ctx, &p, &args, NULL);
            if (s == QG_ERR_UNSUPPORTED && v) {
                /* The variant does not take this problem (dtype, M range, arch): fine, if said. */
                QT_CHECK(qg_last_error(ctx)[0] != 0, "%s: unsupported without a message", what);
                continue;
            }
            if (!QT_CHECK(s == QG_SUCCESS, "%s: %s (%s)", what, qg_status_name(s), qg_last_error(ctx)))
                continue;
            gt_download(ctx, hc, dc, c_bytes);
            launches++;
            check_output(what, &p, hc, ldc, m_max, rows, nrows, ref, c_arith);
        }
    }
    printf("  (%d launches; host prep %.1fs, GPU part %.1fs)\n", launches, t1 - t0, now_s() - t1);

    gt_free_packed(ctx, &dw);
    gt_free(ctx, da);
    gt_free(ctx, das);
    if (db) gt_free(ctx, db);
    gt_free(ctx, dc);
    free(hw.weight);
    free(hw.meta);
    free(hw.scale);
    free(a);
    free(a_scale);
    free(bias);
    free(ag);
    free(asg);
    free(ref);
    free(hc);
}

/* Problems no kernel takes must come back as a status, not a crash. */
static void test_refusals(qg_context *ctx) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = QG_SCHEME_SP24_BF16;
    p.m = 16;
    p.n = 256;
    p.k = 96; /* not a multiple of 64 */
    qg_gemm_args args;
    qg_gemm_args_init(&args);
    uint8_t dummy[16] __attribute__((aligned(16)));
    args.a = args.c = args.w.weight = args.w.meta = dummy;
    QT_STATUS(qg_gemm(ctx, &p, &args, NULL), QG_ERR_INVALID_ARGUMENT);
    p.k = 128;
    p.m = 1000; /* the split-K decode tile is for M <= 64 */
    QT_STATUS(qg_gemm_with_kernel(ctx, &p, &args, "sp24_bf16_mma.dt2.tn64.tm16.wn4.wm1.st6.sk1", NULL),
              QG_ERR_UNSUPPORTED);
    p.m = 16; /* an f16 variant for a bf16 problem */
    QT_STATUS(qg_gemm_with_kernel(ctx, &p, &args, "sp24_bf16_mma.dt1.tn64.tm16.wn4.wm1.st6.sk1", NULL),
              QG_ERR_UNSUPPORTED);
    QT_STATUS(qg_gemm_with_kernel(ctx, &p, &args, "sp24_bf16_mma.no.such.variant", NULL),
              QG_ERR_NOT_FOUND);
}

int main(void) {
    qg_context *ctx = gt_open();
    if (!ctx) {
        printf("0 passed, 0 failed (skipped: no GPU)\n");
        return 0;
    }
    const uint64_t seed = qt_test_seed();
    qg_device_info dev;
    QT_OK(qg_context_device_info(ctx, &dev));
    const double t0 = now_s();
    test_refusals(ctx);
    static const scheme_case schemes[] = {
        {QG_SCHEME_SP24_BF16, QG_DTYPE_BF16, QG_DTYPE_BF16},
        {QG_SCHEME_SP24_BF16, QG_DTYPE_F16, QG_DTYPE_F16},
        {QG_SCHEME_SP24_INT8, QG_DTYPE_BF16, QG_DTYPE_BF16},
        {QG_SCHEME_SP24_FP8, QG_DTYPE_BF16, QG_DTYPE_F16},
    };
    static const shape_case shapes[] = {
        {100, 192, 1}, {6144, 4096, 0}, {4096, 4096, 0}, {28672, 4096, 0}, {4096, 14336, 0},
    };
    for (int s = 0; s < QG_ARRAY_SIZE(schemes); s++)
        for (int h = 0; h < QG_ARRAY_SIZE(shapes); h++)
            if (!gt_reduced() || h == 0 || h == 2) /* reduced: the edge shape, 4096x4096 */
                run_case(ctx, &dev, &schemes[s], &shapes[h], seed + (uint64_t)(s * 16 + h));
    printf("total %.1fs\n", now_s() - t0);
    qg_context_destroy(ctx);
    return qt_finish("gpu_sp24");
}
