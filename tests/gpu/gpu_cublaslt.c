/*
 * cuBLASLt families on the GPU (src/catalog/families/family_cublaslt.c, src/runtime/cublaslt.c):
 *  1. qg_cublaslt_gemm_bf16, algorithms 0..3, against a float64 host GEMM on random bf16 data;
 *  2. every cublaslt_fp8 / cublaslt_int8 variant (qg_gemm_with_kernel) against
 *     qg_reference_gemm on random weights and activations, over per-row / per-tensor weight and
 *     activation scales, bias, bf16 / f16 output, lda / ldc padding, M = 1 .. 1000 and
 *     N, K = 16 .. 6144. Outputs are poisoned (0xff = NaN) first: every element must be finite,
 *     padding untouched; a variant that cannot run a case must return QG_ERR_UNSUPPORTED and
 *     leave C untouched (row-wise fp8 scaling depends on the cuBLASLt version: reported);
 *  3. the tuner times them beside the native kernels (no candidate may be wrong);
 *  4. a database naming a cuBLASLt variant is replayed by dispatch: explain names it, a prepared
 *     qg_gemm is captured in a CUDA graph (global mode: any allocation or sync fails it) and the
 *     replayed output is right;
 *  5. the workspace contract (include/qgemm.h: every family leaves the workspace zero):
 *     (a) each cublaslt_fp8 / cublaslt_int8 variant with a caller's zeroed workspace, read back
 *     whole afterwards (cuBLASLt's scratch and the int8 products must be zero again);
 *     (b) through the context's own workspace, each of them followed by a split-K decode kernel
 *     (sp24_int8_mma ... sk1, whose partial sums and tile counters sit at offset 0, where
 *     cuBLASLt's scratch lies) checked against the reference: the tuner found NaNs there when
 *     it tuned sp24 after w8a8-int8 in one process.
 * Error bound per element: |out - ref| <= u_out*|ref| + c*rms(ref), u_out the output's unit
 * roundoff; c = 1e-4 for int8 and bf16 (exact products / f32 sums) and 2e-3 for fp8 (as
 * gpu_dynamic_act.c: reduced-precision fp8 accumulation).
 */
#include "gpu_common.h"

#include "catalog.h"
#include "cublaslt.h"
#include "db.h"
#include "schemes.h"
#include "tune.h"

#include "gpu_cuda.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ROWS 16

static double unit_roundoff(qg_dtype t) { return t == QG_DTYPE_F16 ? ldexp(1, -11) : ldexp(1, -8); }
static double h2d(qg_dtype t, uint16_t v) {
    return t == QG_DTYPE_F16 ? qg_f16_to_f32(v) : qg_bf16_to_f32(v);
}

/* Rows the reference covers: all for M <= 33, else first, last and evenly spaced ones. */
static int pick_rows(int64_t m, int64_t *rows) {
    if (m <= 33) {
        for (int64_t i = 0; i < m; i++) rows[i] = i;
        return (int)m;
    }
    for (int i = 0; i < MAX_ROWS; i++) rows[i] = (m - 1) * i / (MAX_ROWS - 1);
    return MAX_ROWS;
}

/* c [M x ldc] host copy of a device output against ref [nrows x N]. */
static int check_output(const char *what, int64_t m, int64_t n, qg_dtype dt, const uint16_t *c,
                        int64_t ldc, const int64_t *rows, int nrows, const double *ref,
                        double c_arith) {
    int64_t nonfinite = 0, pad_written = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < ldc; j++) {
            const uint16_t v = c[i * ldc + j];
            if (j < n) nonfinite += !isfinite(h2d(dt, v));
            else pad_written += v != 0xffffu;
        }
    int ok = QT_CHECK(nonfinite == 0, "%s: %lld of %lld outputs not finite (unwritten?)", what,
                      (long long)nonfinite, (long long)(m * n));
    ok &= QT_CHECK(pad_written == 0, "%s: %lld padding elements written", what,
                   (long long)pad_written);
    double ss = 0;
    for (int r = 0; r < nrows; r++)
        for (int64_t j = 0; j < n; j++) ss += ref[r * n + j] * ref[r * n + j];
    const double rms = sqrt(ss / (double)(nrows * n)), u = unit_roundoff(dt);
    int64_t bad = 0, bi = 0, bj = 0;
    double worst = 0, bwant = 0, bgot = 0;
    for (int r = 0; r < nrows; r++)
        for (int64_t j = 0; j < n; j++) {
            const double want = ref[r * n + j], got = h2d(dt, c[rows[r] * ldc + j]);
            const double d = fabs(got - want), lim = u * fabs(want) + c_arith * rms + 1e-30;
            if (d / lim > worst) worst = d / lim;
            if (!(d <= lim) && !bad++) bi = rows[r], bj = j, bwant = want, bgot = got;
        }
    ok &= QT_CHECK(bad == 0,
                   "%s: %lld elements outside the bound, first (%lld,%lld) got %g want %g "
                   "(worst/bound %.2f)",
                   what, (long long)bad, (long long)bi, (long long)bj, bgot, bwant, worst);
    return ok;
}

static int all_poisoned(const uint16_t *c, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (c[i] != 0xffffu) return 0;
    return 1;
}

/* ---------------------------------------------------------------- 1. bf16 */

static void test_bf16(qg_context *ctx, qt_rng *r) {
    static const int64_t cases[][3] = {{1, 4096, 4096}, {37, 1024, 2064}, {128, 6144, 4096}};
    for (int ci = 0; ci < 3; ci++) {
        const int64_t m = cases[ci][0], n = cases[ci][1], k = cases[ci][2];
        uint16_t *a = malloc(2 * (size_t)(m * k)), *w = malloc(2 * (size_t)(n * k));
        uint16_t *c = malloc(2 * (size_t)(m * n));
        qt_fill_bf16(r, a, (size_t)(m * k), 1.0f);
        qt_fill_bf16(r, w, (size_t)(n * k), 0.05f);
        int64_t rows[MAX_ROWS > 33 ? MAX_ROWS : 33];
        const int nrows = pick_rows(m, rows);
        double *ref = malloc(sizeof(double) * (size_t)(nrows * n));
        float *wf = malloc(sizeof(float) * (size_t)k);
        for (int64_t j = 0; j < n; j++) {
            for (int64_t kk = 0; kk < k; kk++) wf[kk] = qg_bf16_to_f32(w[j * k + kk]);
            for (int ri = 0; ri < nrows; ri++) {
                double acc = 0;
                const uint16_t *ar = a + rows[ri] * k;
                for (int64_t kk = 0; kk < k; kk++) acc += (double)qg_bf16_to_f32(ar[kk]) * wf[kk];
                ref[ri * n + j] = acc;
            }
        }
        free(wf);
        void *da = gt_upload(ctx, a, 2 * (size_t)(m * k)),
             *dw = gt_upload(ctx, w, 2 * (size_t)(n * k));
        void *dc = gt_alloc_poison(ctx, 2 * (size_t)(m * n));
        int ran = 0;
        for (int algo = 0; algo < QG_CUBLASLT_MAX_ALGOS; algo++) {
            gt_poison(ctx, dc, 2 * (size_t)(m * n));
            qg_status s = qg_cublaslt_gemm_bf16(ctx, m, n, k, da, dw, dc, NULL, algo);
            char what[128];
            snprintf(what, sizeof what, "bf16 M=%lld N=%lld K=%lld algo %d", (long long)m,
                     (long long)n, (long long)k, algo);
            if (s == QG_ERR_UNSUPPORTED) {
                printf("  %s: not offered (%s)\n", what, qg_last_error(ctx));
                continue;
            }
            if (!QT_CHECK(s == QG_SUCCESS, "%s: %s", what, qg_last_error(ctx))) continue;
            gt_download(ctx, c, dc, 2 * (size_t)(m * n));
            check_output(what, m, n, QG_DTYPE_BF16, c, n, rows, nrows, ref, 1e-4);
            ran++;
        }
        QT_CHECK(ran >= 1, "bf16 M=%lld N=%lld K=%lld: no algorithm ran", (long long)m,
                 (long long)n, (long long)k);
        printf("bf16 M=%lld N=%lld K=%lld: %d algorithms checked\n", (long long)m, (long long)n,
               (long long)k, ran);
        gt_free(ctx, da), gt_free(ctx, dw), gt_free(ctx, dc);
        free(a), free(w), free(c), free(ref);
    }
}

/* ---------------------------------------------------------------- 2. the families */

typedef struct {
    int64_t m, n, k;
    int w_tensor, a_tensor, bias, f16;
    int64_t lda_pad, ldc_pad;
} fcase;

typedef struct {
    qg_problem p;
    int64_t lda, ldc;
    qg_packed_weight hw, dw;
    uint8_t *hq; /* [M x K] */
    float *hs;
    uint16_t *hbias;
    void *da, *ds, *dbias;
    int64_t rows[33];
    int nrows;
    double *ref; /* [nrows x N] */
} fdata;

static void fdata_make(qg_context *ctx, fdata *d, qg_scheme scheme, const fcase *fc, qt_rng *r) {
    memset(d, 0, sizeof *d);
    qg_problem *p = &d->p;
    qg_problem_init(p);
    p->scheme = scheme;
    p->m = fc->m, p->n = fc->n, p->k = fc->k;
    p->group_size = 0;
    p->weight_scale = fc->w_tensor ? QG_SCALE_PER_TENSOR : QG_SCALE_PER_ROW;
    p->act_scale = fc->a_tensor ? QG_SCALE_PER_TENSOR : QG_SCALE_PER_ROW;
    p->has_bias = fc->bias;
    p->out_dtype = fc->f16 ? QG_DTYPE_F16 : QG_DTYPE_BF16;
    QT_OK(qg_problem_validate(p));
    d->lda = p->k + fc->lda_pad;
    d->ldc = p->n + fc->ldc_pad;
    qg_packed_sizes sz;
    QT_OK(qg_packed_sizes_get(p, &sz));
    float *w = malloc(sizeof(float) * (size_t)(p->n * p->k));
    for (int64_t i = 0; i < p->n; i++) /* rows of different magnitudes */
        qt_fill_normal(r, w + i * p->k, (size_t)p->k, ldexpf(0.05f, (int)(i % 5) - 2));
    d->hw.weight = malloc(sz.weight_bytes);
    d->hw.scale = malloc(sz.scale_bytes);
    d->hw.meta = sz.meta_bytes ? malloc(sz.meta_bytes) : NULL; /* sp24 (section 5) */
    QT_OK(qg_quantize_weight(p, w, p->k, &d->hw));
    free(w);
    uint16_t *a16 = malloc(2 * (size_t)(p->m * p->k));
    for (int64_t i = 0; i < p->m; i++)
        qt_fill_bf16(r, a16 + i * p->k, (size_t)p->k, ldexpf(1.f, (int)(i % 4) - 1));
    d->hq = malloc((size_t)(p->m * p->k));
    d->hs = malloc(sizeof(float) * (size_t)p->m);
    QT_OK(qg_quantize_activations_host(p, a16, d->hq, d->hs));
    free(a16);
    d->hbias = malloc(2 * (size_t)p->n);
    for (int64_t j = 0; j < p->n; j++) {
        const float b = 0.5f * qt_normal(r);
        d->hbias[j] = fc->f16 ? qg_f32_to_f16(b) : qg_f32_to_bf16(b);
    }
    /* reference on the chosen rows */
    d->nrows = pick_rows(p->m, d->rows);
    uint8_t *qa = malloc((size_t)(d->nrows * p->k));
    float sa[33];
    for (int i = 0; i < d->nrows; i++) {
        memcpy(qa + i * p->k, d->hq + d->rows[i] * p->k, (size_t)p->k);
        sa[i] = d->hs[fc->a_tensor ? 0 : d->rows[i]];
    }
    qg_problem q = *p;
    q.m = d->nrows;
    d->ref = malloc(sizeof(double) * (size_t)(d->nrows * p->n));
    QT_OK(qg_reference_gemm(&q, qa, sa, &d->hw, fc->bias ? d->hbias : NULL, d->ref));
    free(qa);
    /* device copies; activations with row stride lda (padding bytes random) */
    uint8_t *pad = malloc((size_t)(p->m * d->lda));
    for (int64_t i = 0; i < p->m * d->lda; i++) pad[i] = (uint8_t)qt_next(r);
    for (int64_t i = 0; i < p->m; i++) memcpy(pad + i * d->lda, d->hq + i * p->k, (size_t)p->k);
    d->da = gt_upload(ctx, pad, (size_t)(p->m * d->lda));
    free(pad);
    d->ds = gt_upload(ctx, d->hs, sizeof(float) * (size_t)(fc->a_tensor ? 1 : p->m));
    d->dw = gt_upload_packed(ctx, p, &d->hw);
    d->dbias = gt_upload(ctx, d->hbias, 2 * (size_t)p->n);
}

static void fdata_free(qg_context *ctx, fdata *d) {
    gt_free_packed(ctx, &d->dw);
    gt_free(ctx, d->da), gt_free(ctx, d->ds), gt_free(ctx, d->dbias);
    free(d->hw.weight), free(d->hw.scale), free(d->hw.meta), free(d->hq), free(d->hs),
        free(d->hbias), free(d->ref);
}

static qg_gemm_args fdata_args(const fdata *d, void *c) {
    qg_gemm_args a;
    qg_gemm_args_init(&a);
    a.a = d->da, a.a_scale = d->ds, a.w = d->dw, a.c = c;
    a.bias = d->p.has_bias ? d->dbias : NULL;
    a.lda = d->lda, a.ldc = d->ldc;
    return a;
}

/* Supported-case counts for the summary (fp8 row-wise support depends on the library). */
static int rowwise_ran, rowwise_refused;

static void test_family(qg_context *ctx, qg_scheme scheme, qt_rng *r) {
    const int fp8 = scheme == QG_SCHEME_W8A8_FP8;
    const char *fam = fp8 ? "cublaslt_fp8" : "cublaslt_int8";
    static const fcase cases[] = {
        /*  m     n     k   wT aT bias f16 lda+ ldc+ */
        {1, 4096, 4096, 0, 0, 0, 0, 0, 0},
        {16, 4096, 4096, 1, 1, 1, 0, 0, 0},
        {33, 4096, 4096, 0, 1, 0, 1, 0, 0},
        {128, 4096, 4096, 1, 0, 1, 1, 0, 0},
        {37, 1024, 2064, 0, 0, 1, 0, 16, 8},
        {1000, 6144, 4096, 0, 0, 0, 0, 0, 0},
        {5, 16, 16, 1, 1, 1, 0, 0, 0},
        {7, 48, 32, 1, 1, 0, 0, 0, 3}, /* odd ldc: fp8 must refuse, int8 store scalars */
    };
    const double c_arith = fp8 ? 2e-3 : 1e-4;
    for (int ci = 0; ci < (int)(sizeof cases / sizeof cases[0]); ci++) {
        const fcase *fc = &cases[ci];
        fdata d;
        fdata_make(ctx, &d, scheme, fc, r);
        const size_t cbytes = 2 * (size_t)(d.p.m * d.ldc);
        void *dc = gt_alloc_poison(ctx, cbytes);
        uint16_t *hc = malloc(cbytes);
        int ran = 0, refused = 0;
        char last_refusal[512] = "";
        for (int algo = 0; algo < QG_CUBLASLT_MAX_ALGOS; algo++) {
            char id[64], what[256];
            snprintf(id, sizeof id, "%s.algo%d", fam, algo);
            snprintf(what, sizeof what, "%s M=%lld N=%lld K=%lld w:%s a:%s%s %s lda=%lld ldc=%lld",
                     id, (long long)d.p.m, (long long)d.p.n, (long long)d.p.k,
                     fc->w_tensor ? "tensor" : "row", fc->a_tensor ? "tensor" : "token",
                     fc->bias ? " bias" : "", fc->f16 ? "f16" : "bf16", (long long)d.lda,
                     (long long)d.ldc);
            gt_poison(ctx, dc, cbytes);
            qg_gemm_args a = fdata_args(&d, dc);
            qg_status s = qg_gemm_with_kernel(ctx, &d.p, &a, id, NULL);
            if (s == QG_ERR_UNSUPPORTED) {
                refused++;
                snprintf(last_refusal, sizeof last_refusal, "%s", qg_last_error(ctx));
                gt_download(ctx, hc, dc, cbytes);
                QT_CHECK(all_poisoned(hc, cbytes / 2), "%s: refused but wrote C", what);
                continue;
            }
            if (!QT_CHECK(s == QG_SUCCESS, "%s: %s (%s)", what, qg_status_name(s), qg_last_error(ctx)))
                continue;
            gt_download(ctx, hc, dc, cbytes);
            check_output(what, d.p.m, d.p.n, d.p.out_dtype, hc, d.ldc, d.rows, d.nrows, d.ref,
                         c_arith);
            ran++;
        }
        const int rowwise = fp8 && (!fc->w_tensor || !fc->a_tensor);
        const int must_refuse = fp8 && d.ldc % 8;
        printf("%s case %d (M=%lld N=%lld K=%lld w:%s a:%s%s%s ldc=%lld): %d algorithms ran, %d "
               "refused%s%s\n",
               fam, ci, (long long)d.p.m, (long long)d.p.n, (long long)d.p.k,
               fc->w_tensor ? "tensor" : "row", fc->a_tensor ? "tensor" : "token",
               fc->bias ? " bias" : "", fc->f16 ? " f16" : "", (long long)d.ldc, ran, refused,
               refused ? ": " : "", refused ? last_refusal : "");
        if (must_refuse) {
            QT_CHECK(ran == 0 && refused == QG_CUBLASLT_MAX_ALGOS,
                     "%s case %d: odd ldc must be refused", fam, ci);
        } else if (rowwise) {
            rowwise_ran += ran > 0;
            rowwise_refused += ran == 0;
        } else {
            QT_CHECK(ran >= 1, "%s case %d: the heuristic's first algorithm must run", fam, ci);
        }
        free(hc);
        gt_free(ctx, dc);
        fdata_free(ctx, &d);
    }
}

/* ---------------------------------------------------------------- 3. the tuner */

static void test_tuner(qg_context *ctx) {
    char path[256];
    snprintf(path, sizeof path, "/tmp/qg_cublaslt_tune_%d.json", (int)getpid());
    unlink(path);
    qg_device_info info;
    qg_context_device_info(ctx, &info);
    qg_db *db = NULL;
    QT_OK(qg_db_open(&db, path, &info));
    if (!db) return;
    qg_tune_options o;
    qg_tune_options_init(&o);
    o.verbose = 1;
    o.budget_s = 20;
    o.samples = 7;
    static const struct {
        qg_scheme s;
        int tensor;
        int64_t ms[2];
        int nm;
    } jobs[] = {
        {QG_SCHEME_W8A8_FP8, 1, {16, 2048}, 2},
        {QG_SCHEME_W8A8_INT8, 0, {2048, 0}, 1},
    };
    for (int j = 0; j < 2; j++) {
        qg_problem p;
        qg_problem_init(&p);
        p.scheme = jobs[j].s, p.n = 4096, p.k = 4096, p.m = 1, p.group_size = 0;
        p.weight_scale = p.act_scale = jobs[j].tensor ? QG_SCALE_PER_TENSOR : QG_SCALE_PER_ROW;
        qg_tune_stats st = {0};
        QT_OK(qg_tune_shape(ctx, db, &p, jobs[j].ms, jobs[j].nm, &o, NULL, NULL, 0, jobs[j].nm, &st));
        QT_CHECK(st.wrong == 0 && st.failed == 0, "tuning %s: %d wrong, %d failed candidates",
                 qg_scheme_name(p.scheme), st.wrong, st.failed);
        for (int i = 0; i < jobs[j].nm; i++) {
            const qg_db_entry *e = qg_db_find(db, &p, jobs[j].ms[i]);
            if (QT_CHECK(e != NULL, "tuned %s M=%lld", qg_scheme_name(p.scheme),
                         (long long)jobs[j].ms[i]))
                printf("tuner: %s N=4096 K=4096 M=%lld (%s scales): %s %.2f us of %d candidates\n",
                       qg_scheme_name(p.scheme), (long long)jobs[j].ms[i],
                       jobs[j].tensor ? "tensor" : "row", e->kernel, e->median_us, st.candidates);
        }
    }
    qg_db_close(db);
    unlink(path);
}

/* ---------------------------------------------------------------- 4. replay + graph capture */

static void test_replay(qg_context *ctx0, qt_rng *r) {
    if (!gt_load_cuda()) {
        QT_CHECK(0, "libcuda.so.1 symbols for graph capture");
        return;
    }
    qg_device_info info;
    qg_context_device_info(ctx0, &info);
    char path[256];
    snprintf(path, sizeof path, "/tmp/qg_cublaslt_replay_%d.json", (int)getpid());
    unlink(path);
    static const fcase fc = {128, 4096, 4096, 0, 0, 1, 0, 0, 0};
    static const struct {
        qg_scheme s;
        int tensor;
        const char *id;
    } jobs[] = {
        {QG_SCHEME_W8A8_FP8, 1, "cublaslt_fp8.algo0"},
        {QG_SCHEME_W8A8_INT8, 0, "cublaslt_int8.algo0"},
    };
    qg_db *db = NULL;
    QT_OK(qg_db_open(&db, path, &info));
    if (!db) return;
    for (int j = 0; j < 2; j++) {
        qg_db_entry e = {0};
        qg_problem_init(&e.key);
        e.key.scheme = jobs[j].s, e.key.n = fc.n, e.key.k = fc.k, e.key.m = fc.m,
        e.key.group_size = 0;
        e.key.weight_scale = e.key.act_scale = jobs[j].tensor ? QG_SCALE_PER_TENSOR
                                                              : QG_SCALE_PER_ROW;
        e.key.has_bias = 1;
        e.m_bucket = fc.m;
        snprintf(e.kernel, sizeof e.kernel, "%s", jobs[j].id);
        e.median_us = 1, e.p20_us = 1, e.p80_us = 1;
        qg_now_iso8601(e.tuned_at, sizeof e.tuned_at);
        QT_OK(qg_db_put(db, &e));
    }
    QT_OK(qg_db_save(db, NULL));
    qg_db_close(db);

    qg_context_params cp;
    qg_context_params_init(&cp);
    cp.tuning_db = path;
    qg_context *ctx = NULL;
    QT_OK(qg_context_create(&ctx, &cp));
    if (!ctx) return;
    for (int j = 0; j < 2; j++) {
        fcase c = fc;
        c.w_tensor = c.a_tensor = jobs[j].tensor;
        fdata d;
        fdata_make(ctx, &d, jobs[j].s, &c, r);
        char why[512] = "";
        QT_OK(qg_explain(ctx, &d.p, why, sizeof why));
        QT_CHECK(strstr(why, jobs[j].id) != NULL, "dispatch replays %s: %s", jobs[j].id, why);
        printf("replay: %s -> %s\n", qg_scheme_name(jobs[j].s), why);
        QT_OK(qg_prepare(ctx, &d.p, 1));
        enum { CALLS = 2 };
        const size_t cbytes = 2 * (size_t)(d.p.m * d.ldc);
        void *dc[CALLS];
        for (int i = 0; i < CALLS; i++) dc[i] = gt_alloc_poison(ctx, cbytes);
        CUstream st;
        CU(cu.StreamCreate(&st, CU_STREAM_NON_BLOCKING));
        CU(cu.StreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_GLOBAL));
        for (int i = 0; i < CALLS; i++) {
            qg_gemm_args a = fdata_args(&d, dc[i]);
            QT_OK(qg_gemm(ctx, &d.p, &a, st));
        }
        CUgraph g = NULL;
        const CUresult er = cu.StreamEndCapture(st, &g);
        QT_CHECK(er == CUDA_SUCCESS,
                 "%s: capture of prepared calls failed (%d): the launch path "
                 "allocated or synchronized",
                 jobs[j].id, (int)er);
        if (er == CUDA_SUCCESS) {
            CUgraphExec ge;
            CU(cu.GraphInstantiate(&ge, g, 0));
            CU(cu.GraphLaunch(ge, st));
            CU(cu.StreamSynchronize(st));
            uint16_t *hc = malloc(cbytes);
            for (int i = 0; i < CALLS; i++) {
                gt_download(ctx, hc, dc[i], cbytes);
                check_output("graph replay", d.p.m, d.p.n, d.p.out_dtype, hc, d.ldc, d.rows,
                             d.nrows, d.ref, jobs[j].s == QG_SCHEME_W8A8_FP8 ? 2e-3 : 1e-4);
            }
            free(hc);
            cu.GraphExecDestroy(ge);
            cu.GraphDestroy(g);
            printf("replay: %s captured in a graph and replayed\n", jobs[j].id);
        }
        cu.StreamDestroy(st);
        for (int i = 0; i < CALLS; i++) gt_free(ctx, dc[i]);
        fdata_free(ctx, &d);
    }
    qg_context_destroy(ctx);
    unlink(path);
}

/* ---------------------------------------------------------------- 5. workspace left zero */

#define SPLITK_ID "sp24_int8_mma.dt4.tn64.tm16.wn4.wm1.st6.sk1"

static size_t count_nonzero(const unsigned char *b, size_t n, size_t *first) {
    size_t z = 0;
    for (size_t i = 0; i < n; i++)
        if (b[i] && !z++) *first = i;
    return z;
}

/* (a): every variant, a caller's workspace, read back whole. */
static void workspace_caller(qg_context *ctx, qt_rng *r) {
    static const fcase cases[] = {
        {1, 4096, 4096, 0, 0, 0, 0, 0, 0},
        {16, 4096, 4096, 0, 0, 1, 0, 0, 0},
        {16, 6144, 4096, 1, 1, 0, 0, 0, 0},
    };
    for (int sc = 0; sc < 2; sc++) {
        const qg_scheme scheme = sc ? QG_SCHEME_W8A8_INT8 : QG_SCHEME_W8A8_FP8;
        const char *fam = sc ? "cublaslt_int8" : "cublaslt_fp8";
        for (int ci = 0; ci < 3; ci++) {
            fcase fc = cases[ci];
            if (!sc) fc.w_tensor = fc.a_tensor = 1; /* row-wise fp8 needs cuBLAS 12.9 */
            fdata d;
            fdata_make(ctx, &d, scheme, &fc, r);
            const qg_variant *v = qg_catalog_find(sc ? "cublaslt_int8.algo0" : "cublaslt_fp8.algo0");
            const size_t ws_bytes = v->family->workspace(&d.p, v->params);
            void *ws = NULL;
            QT_OK(qg_malloc(ctx, &ws, ws_bytes));
            QT_OK(qg_memset_d8(ctx, ws, 0, ws_bytes));
            unsigned char *host = malloc(ws_bytes);
            const size_t cbytes = 2 * (size_t)(d.p.m * d.ldc);
            void *dc = gt_alloc_poison(ctx, cbytes);
            uint16_t *hc = malloc(cbytes);
            int ran = 0, clean = 0;
            for (int algo = 0; algo < QG_CUBLASLT_MAX_ALGOS; algo++) {
                char id[64], what[192];
                snprintf(id, sizeof id, "%s.algo%d", fam, algo);
                snprintf(what, sizeof what, "workspace: %s M=%lld N=%lld K=%lld", id,
                         (long long)d.p.m, (long long)d.p.n, (long long)d.p.k);
                gt_poison(ctx, dc, cbytes);
                qg_gemm_args a = fdata_args(&d, dc);
                a.workspace = ws, a.workspace_bytes = ws_bytes;
                const qg_status st = qg_gemm_with_kernel(ctx, &d.p, &a, id, NULL);
                if (st == QG_ERR_UNSUPPORTED) continue;
                if (!QT_CHECK(st == QG_SUCCESS, "%s: %s", what, qg_last_error(ctx))) continue;
                ran++;
                gt_download(ctx, hc, dc, cbytes);
                check_output(what, d.p.m, d.p.n, d.p.out_dtype, hc, d.ldc, d.rows, d.nrows, d.ref,
                             sc ? 1e-4 : 2e-3);
                gt_download(ctx, host, ws, ws_bytes);
                size_t first = 0;
                const size_t dirty = count_nonzero(host, ws_bytes, &first);
                clean += dirty == 0;
                if (!QT_CHECK(dirty == 0,
                              "%s left %zu non-zero workspace bytes, the first at "
                              "offset %zu (%s)",
                              what, dirty, first,
                              first >= QG_CUBLASLT_WORKSPACE + 256 ? "int32 products"
                                                                   : "cuBLASLt scratch"))
                    QT_OK(qg_memset_d8(ctx, ws, 0, ws_bytes)); /* clean for the next one */
            }
            printf("workspace: %s M=%lld N=%lld K=%lld: %d algorithms ran, %d left it zero\n", fam,
                   (long long)d.p.m, (long long)d.p.n, (long long)d.p.k, ran, clean);
            QT_CHECK(ran >= 1, "workspace: %s M=%lld: no algorithm ran", fam, (long long)d.p.m);
            free(host), free(hc);
            gt_free(ctx, ws), gt_free(ctx, dc);
            fdata_free(ctx, &d);
        }
    }
}

/* Run the split-K kernel through the context's workspace and check its output. */
static int run_splitk(qg_context *ctx, const fdata *sp, void *dc, uint16_t *hc, const char *after) {
    const size_t cbytes = 2 * (size_t)(sp->p.m * sp->ldc);
    gt_poison(ctx, dc, cbytes);
    qg_gemm_args a = fdata_args(sp, dc); /* workspace NULL: the context's own */
    char what[256];
    snprintf(what, sizeof what, "%s M=%lld N=%lld K=%lld after %s", SPLITK_ID, (long long)sp->p.m,
             (long long)sp->p.n, (long long)sp->p.k, after);
    if (!QT_CHECK(qg_gemm_with_kernel(ctx, &sp->p, &a, SPLITK_ID, NULL) == QG_SUCCESS, "%s: %s",
                  what, qg_last_error(ctx)))
        return 0;
    gt_download(ctx, hc, dc, cbytes);
    return check_output(what, sp->p.m, sp->p.n, sp->p.out_dtype, hc, sp->ldc, sp->rows, sp->nrows,
                        sp->ref, 1e-3);
}

/* (b): cuBLASLt then split-K on one context's own workspace (a fresh context: nothing else has
 * used it). */
static void workspace_shared(qt_rng *r) {
    qg_context *ctx = NULL;
    QT_OK(qg_context_create(&ctx, NULL));
    if (!ctx) return;
    static const fcase cases[] = {
        {16, 4096, 4096, 0, 0, 0, 0, 0, 0},
        {1, 6144, 4096, 0, 0, 0, 0, 0, 0},
    };
    for (int ci = 0; ci < 2; ci++) {
        fdata sp, lt[2];
        fdata_make(ctx, &sp, QG_SCHEME_SP24_INT8, &cases[ci], r);
        fcase tensor = cases[ci];
        tensor.w_tensor = tensor.a_tensor = 1; /* row-wise fp8 needs cuBLAS 12.9 */
        fdata_make(ctx, &lt[0], QG_SCHEME_W8A8_FP8, &tensor, r);
        fdata_make(ctx, &lt[1], QG_SCHEME_W8A8_INT8, &cases[ci], r);
        const size_t cbytes = 2 * (size_t)(sp.p.m * sp.ldc);
        void *dc = gt_alloc_poison(ctx, cbytes), *dlc = gt_alloc_poison(ctx, cbytes);
        uint16_t *hc = malloc(cbytes);
        int pairs = 0, ok = 0;
        run_splitk(ctx, &sp, dc, hc, "nothing"); /* the check itself works */
        for (int sc = 0; sc < 2; sc++)
            for (int algo = 0; algo < QG_CUBLASLT_MAX_ALGOS; algo++) {
                char id[64];
                snprintf(id, sizeof id, "%s.algo%d", sc ? "cublaslt_int8" : "cublaslt_fp8", algo);
                qg_gemm_args a = fdata_args(&lt[sc], dlc);
                const qg_status st = qg_gemm_with_kernel(ctx, &lt[sc].p, &a, id, NULL);
                if (st == QG_ERR_UNSUPPORTED) continue;
                if (!QT_CHECK(st == QG_SUCCESS, "%s: %s", id, qg_last_error(ctx))) continue;
                pairs++;
                ok += run_splitk(ctx, &sp, dc, hc, id);
            }
        printf("workspace: %s M=%lld N=%lld after each cuBLASLt variant on the context's "
               "workspace: %d of %d right\n",
               SPLITK_ID, (long long)sp.p.m, (long long)sp.p.n, ok, pairs);
        QT_CHECK(pairs >= 2, "workspace: too few cuBLASLt variants ran (%d)", pairs);
        free(hc);
        gt_free(ctx, dc), gt_free(ctx, dlc);
        fdata_free(ctx, &sp), fdata_free(ctx, &lt[0]), fdata_free(ctx, &lt[1]);
    }
    qg_context_destroy(ctx);
}

int main(void) {
    qg_context *ctx = gt_open();
    if (!ctx) {
        printf("0 passed, 0 failed (skipped: no GPU)\n");
        return 0;
    }
    char why[1024];
    if (!QT_CHECK(qg_cublaslt_load(why, sizeof why) == QG_SUCCESS, "cuBLASLt: %s", why)) {
        qg_context_destroy(ctx);
        return qt_finish("gpu_cublaslt");
    }
    qt_rng r;
    qt_seed(&r, qt_test_seed());
    test_bf16(ctx, &r);
    printf("cuBLASLt version %zu\n", qg_cublaslt_version());
    test_family(ctx, QG_SCHEME_W8A8_FP8, &r);
    test_family(ctx, QG_SCHEME_W8A8_INT8, &r);
    printf("fp8 row-wise / mixed scaling: %d cases ran, %d refused by this cuBLASLt\n", rowwise_ran,
           rowwise_refused);
    test_tuner(ctx);
    test_replay(ctx, &r);
    workspace_caller(ctx, &r);
    workspace_shared(&r);
    qg_context_destroy(ctx);
    return qt_finish("gpu_cublaslt");
}
