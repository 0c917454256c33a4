/*
 * Sparse wgmma bring-up on the H100 (debug + timing, sm_90a only): compiles sp24_wgmma.cu with
 * parameter sets outside the catalog (tile, stage slots, stages per wgmma group), checks each
 * against the float64 reference on a few shapes (edge N=100 K=192 with bias / padding, a Llama
 * shape on sampled rows, a long K), and times them next to the mma.sp catalog variants at the
 * Llama-3-8B shapes to calibrate the dispatch heuristics (family_sp24_{mma,wgmma}.c).
 *
 * Output is one line per variant, every line containing "wgmma|": correctness (worst relative
 * L2 error and worst err/bound over the cases, "ok" or "BAD") and GPU microseconds per call
 * (events, 10 calls after a warm-up) for N=4096 K=4096 at each M of TIME_M, then N=28672 K=4096
 * at M = 256 and 4096 (that weight is the 4096-row one repeated: identical rows are a valid
 * packed weight).
 *
 * First H100 run (bf16/f16 only): the first kernel's pipelining (one wgmma group left in flight,
 * as QG_WD=1 then did) gave rel. L2 errors 0.33 / 0.42; every variant with the group drained
 * right after its commit was within the bounds.
 */
#include "backend.h"
#include "catalog.h"
#include "gpu_common.h"
#include "jit.h"
#include "schemes.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

extern const qg_family qg_family_sp24_bf16_wgmma, qg_family_sp24_int8_wgmma, qg_family_sp24_fp8_wgmma;

#define NTHREADS 16
static const int64_t TIME_M[] = {16, 64, 128, 256, 512, 1024, 2048, 4096};
#define NTM 8

/* ---- parallel for ---- */
static void parallel_for(int64_t n, void (*fn)(void *, int64_t), void *ctx) {
    gt_parallel_for(n, NTHREADS, fn, ctx);
}

/* ---- one weight (N x K) with activations, packed on the host in 64-row-aligned slices ---- */
#define SLICE 512
typedef struct {
    qg_problem p; /* m = rows of activations allocated */
    int64_t lda, ldc;
    qg_packed_weight hw, dw;
    uint8_t *a;     /* host [m][lda] */
    float *a_scale; /* host [m] */
    uint16_t *bias; /* host [n] or NULL */
    void *da, *das, *db, *dc;
    float *w; /* host float weights while packing */
    uint64_t seed;
} data_t;

static int es_of(const qg_problem *p) { return p->scheme == QG_SCHEME_SP24_BF16 ? 2 : 1; }

static qg_packed_weight slice_of(const qg_problem *p, const qg_packed_weight *w, int64_t r0) {
    qg_packed_weight s = *w;
    s.weight = (uint8_t *)w->weight + r0 * (p->k / 2) * es_of(p);
    s.meta = (uint8_t *)w->meta + r0 * p->k / 8;
    if (w->scale) s.scale = (float *)w->scale + r0;
    return s;
}

static void pack_slice(void *ctx, int64_t i) {
    data_t *d = ctx;
    qg_problem q = d->p;
    const int64_t r0 = i * SLICE;
    q.n = d->p.n - r0 < SLICE ? d->p.n - r0 : SLICE;
    q.m = 1;
    qt_rng r;
    qt_seed(&r, d->seed * 7919u + (uint64_t)i);
    float *w = d->w + r0 * q.k;
    qt_fill_normal(&r, w, (size_t)(q.n * q.k), 0.05f);
    qg_packed_weight s = slice_of(&d->p, &d->hw, r0);
    if (qg_quantize_weight(&q, w, q.k, &s) != QG_SUCCESS) abort();
}

static void data_make(qg_context *ctx, data_t *d, qg_scheme sch, qg_dtype act, qg_dtype out,
                      int64_t n, int64_t k, int64_t m, int edge, int repeat, uint64_t seed) {
    memset(d, 0, sizeof *d);
    qg_problem_init(&d->p);
    d->p.scheme = sch;
    d->p.n = n;
    d->p.k = k;
    d->p.m = m;
    d->p.act_dtype = act;
    d->p.out_dtype = out;
    d->p.has_bias = edge;
    d->p.act_scale = edge ? QG_SCALE_PER_TENSOR : QG_SCALE_PER_ROW;
    d->lda = edge ? k + 64 : k;
    d->ldc = edge ? n * repeat + 12 : n * repeat;
    d->seed = seed;
    qg_packed_sizes sz;
    QT_OK(qg_packed_sizes_get(&d->p, &sz));
    d->hw.weight = malloc(sz.weight_bytes);
    d->hw.meta = malloc(sz.meta_bytes);
    d->hw.scale = sz.scale_bytes ? malloc(sz.scale_bytes) : NULL;
    d->w = malloc((size_t)(n * k) * sizeof(float));
    parallel_for(QG_CDIV(n, SLICE), pack_slice, d);
    free(d->w);
    d->w = NULL;
    /* Device weight: the packed buffers `repeat` times (n must then be a multiple of 64). */
    qg_packed_weight dw = {0};
    QT_OK(qg_malloc(ctx, &dw.weight, sz.weight_bytes * repeat));
    QT_OK(qg_malloc(ctx, &dw.meta, sz.meta_bytes * repeat));
    if (sz.scale_bytes) QT_OK(qg_malloc(ctx, &dw.scale, sz.scale_bytes * repeat));
    for (int r = 0; r < repeat; r++) {
        QT_OK(qg_memcpy_htod(ctx, (uint8_t *)dw.weight + r * sz.weight_bytes, d->hw.weight,
                             sz.weight_bytes));
        QT_OK(qg_memcpy_htod(ctx, (uint8_t *)dw.meta + r * sz.meta_bytes, d->hw.meta, sz.meta_bytes));
        if (sz.scale_bytes)
            QT_OK(qg_memcpy_htod(ctx, (uint8_t *)dw.scale + r * sz.scale_bytes, d->hw.scale,
                                 sz.scale_bytes));
    }
    d->dw = dw;
    const int es = es_of(&d->p);
    qt_rng rng;
    qt_seed(&rng, seed ^ 0x5eedull);
    d->a = calloc((size_t)(m * d->lda), (size_t)es);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++) {
            const float x = qt_normal(&rng);
            uint8_t *dst = d->a + (i * d->lda + j) * es;
            if (es == 2) {
                const uint16_t v = act == QG_DTYPE_F16 ? qg_f32_to_f16(x) : qg_f32_to_bf16(x);
                memcpy(dst, &v, 2);
            } else if (sch == QG_SCHEME_SP24_INT8) {
                *dst = (uint8_t)(int8_t)fmaxf(-127.0f, fminf(127.0f, nearbyintf(40.0f * x)));
            } else {
                *dst = qg_f32_to_e4m3(64.0f * x);
            }
        }
    d->a_scale = malloc((size_t)m * sizeof(float));
    for (int64_t i = 0; i < m; i++) d->a_scale[i] = qt_uniform(&rng, 0.005f, 0.05f);
    if (edge) {
        d->bias = malloc((size_t)n * 2);
        for (int64_t j = 0; j < n; j++)
            d->bias[j] = out == QG_DTYPE_F16 ? qg_f32_to_f16(qt_normal(&rng))
                                             : qg_f32_to_bf16(qt_normal(&rng));
        d->db = gt_upload(ctx, d->bias, (size_t)n * 2);
    }
    d->da = gt_upload(ctx, d->a, (size_t)(m * d->lda) * es);
    d->das = gt_upload(ctx, d->a_scale, (size_t)m * sizeof(float));
    d->dc = gt_alloc_poison(ctx, (size_t)(m * d->ldc) * 2);
}

static void data_free(qg_context *ctx, data_t *d) {
    gt_free_packed(ctx, &d->dw);
    gt_free(ctx, d->da);
    gt_free(ctx, d->das);
    if (d->db) gt_free(ctx, d->db);
    gt_free(ctx, d->dc);
    free(d->hw.weight);
    free(d->hw.meta);
    free(d->hw.scale);
    free(d->a);
    free(d->a_scale);
    free(d->bias);
}

/* ---- reference on sampled rows ---- */
typedef struct {
    const data_t *d;
    const int64_t *rows;
    int nrows;
    uint8_t *ag;
    float *asg;
    double *ref; /* [nrows][n] */
} ref_job;

static void ref_slice(void *ctx, int64_t i) {
    ref_job *j = ctx;
    qg_problem q = j->d->p;
    const int64_t r0 = i * SLICE;
    q.n = j->d->p.n - r0 < SLICE ? j->d->p.n - r0 : SLICE;
    q.m = j->nrows;
    q.act_scale = QG_SCALE_PER_ROW;
    qg_packed_weight s = slice_of(&j->d->p, &j->d->hw, r0);
    double *c = malloc((size_t)(q.m * q.n) * sizeof(double));
    if (qg_reference_gemm(&q, j->ag, j->asg, &s, j->d->bias ? j->d->bias + r0 : NULL, c) != QG_SUCCESS)
        abort();
    for (int64_t r = 0; r < q.m; r++)
        memcpy(j->ref + r * j->d->p.n + r0, c + r * q.n, (size_t)q.n * sizeof(double));
    free(c);
}

typedef struct {
    int64_t m;
    int nrows;
    int64_t rows[24];
    double *ref;
} check_t;

static void check_make(const data_t *d, int64_t m, check_t *c) {
    c->m = m;
    c->nrows = 0;
    for (int64_t i = 0; i < m && c->nrows < 12; i++) c->rows[c->nrows++] = i;
    qt_rng r;
    qt_seed(&r, (uint64_t)m * 31u);
    while (c->nrows < 24 && m > 12)
        c->rows[c->nrows++] = 12 + (int64_t)(qt_next(&r) % (uint64_t)(m - 12));
    c->rows[c->nrows - 1] = m - 1;
    const int es = es_of(&d->p);
    ref_job j = {d,
                 c->rows,
                 c->nrows,
                 malloc((size_t)(c->nrows * d->p.k) * es),
                 malloc((size_t)c->nrows * sizeof(float)),
                 NULL};
    for (int i = 0; i < c->nrows; i++) {
        memcpy(j.ag + (size_t)(i * d->p.k) * es, d->a + (size_t)(c->rows[i] * d->lda) * es,
               (size_t)d->p.k * es);
        j.asg[i] = d->a_scale[d->p.act_scale == QG_SCALE_PER_TENSOR ? 0 : c->rows[i]];
    }
    j.ref = c->ref = malloc((size_t)(c->nrows * d->p.n) * sizeof(double));
    parallel_for(QG_CDIV(d->p.n, SLICE), ref_slice, &j);
    free(j.ag);
    free(j.asg);
}

/* Relative L2 and worst err/bound of the sampled rows; rows past M must stay poisoned. */
static void check_eval(const data_t *d, const check_t *c, const uint16_t *out, double c_arith,
                       double *rel, double *worst, int *bad) {
    const int64_t n = d->p.n;
    const double u = d->p.out_dtype == QG_DTYPE_F16 ? ldexp(1, -11) : ldexp(1, -8);
    double ss = 0, num = 0;
    for (int r = 0; r < c->nrows * n; r++) ss += c->ref[r] * c->ref[r];
    const double rms = sqrt(ss / (double)(c->nrows * n));
    *worst = 0;
    for (int r = 0; r < c->nrows; r++)
        for (int64_t j = 0; j < n; j++) {
            const uint16_t v = out[c->rows[r] * d->ldc + j];
            const double got = d->p.out_dtype == QG_DTYPE_F16 ? qg_f16_to_f32(v) : qg_bf16_to_f32(v);
            const double want = c->ref[r * n + j], e = fabs(got - want);
            num += isfinite(got) ? e * e : 1e30;
            const double b = e / (u * fabs(want) + c_arith * rms + 1e-30);
            if (!(b <= *worst)) *worst = isfinite(b) ? b : 1e30;
        }
    *rel = sqrt(num / (ss > 0 ? ss : 1));
    if (c->m < d->p.m) /* the row after M must not be written */
        for (int64_t j = 0; j < n; j++) *bad |= out[c->m * d->ldc + j] != 0xffffu;
    *bad |= *worst > 1.0 || *rel > 2 * u + c_arith;
}

/* ---- variants ---- */
typedef struct {
    qg_family fam;
    qg_variant v;
    int params[QG_MAX_PARAMS];
    const qg_variant *cat; /* catalog variant (mma), or NULL: custom wgmma variant */
    double rel, worst;
    int bad, skipped;
    float us[NTM + 2];
} var_t;

/* The JIT caches a non-catalog variant by its address: x must stay at one address for the whole
 * run and never be reused for another variant. */
static void var_custom(var_t *x, const qg_family *base, int dt, int tn, int tm, int st, int sg) {
    memset(x, 0, sizeof *x);
    x->fam = *base;
    const int p[5] = {dt, tn, tm, st, sg};
    memcpy(x->params, p, sizeof p);
    x->v.family = &x->fam;
    x->v.params = x->params;
    x->v.index = -1;
    snprintf(x->v.id, sizeof x->v.id, "%s.dt%d.tn%d.tm%d.st%d.sg%d", base->name, dt, tn, tm, st, sg);
}

/* Stop at the first device fault, naming the launch that caused it. */
static void sync_or_die(qg_context *ctx, const char *id, const char *what) {
    const qg_status s = qg_synchronize(ctx);
    if (s == QG_SUCCESS) return;
    printf("wgmma| FAULT in %s (%s): %s\n", id, what, qg_last_error(ctx));
    exit(1);
}

static void var_catalog(var_t *x, const char *id) {
    memset(x, 0, sizeof *x);
    x->cat = qg_catalog_find(id);
    if (!x->cat) {
        QT_CHECK(0, "no catalog variant %s", id);
        x->skipped = 1;
    }
}

static const char *var_id(const var_t *x) { return x->cat ? x->cat->id : x->v.id; }

/* One call on stream NULL; QG_ERR_UNSUPPORTED when the variant does not take the problem. */
static qg_status var_run(qg_context *ctx, var_t *x, const qg_problem *p, const qg_gemm_args *a) {
    if (x->cat) return qg_gemm_with_kernel(ctx, p, a, x->cat->id, NULL);
    char why[256];
    if (!x->fam.supports(p, x->params, 90, why, sizeof why)) return QG_ERR_UNSUPPORTED;
    qg_kernel *k = NULL;
    qg_status s = qg_jit_get(ctx, &x->v, &k);
    if (s != QG_SUCCESS) return s;
    return x->fam.launch(ctx, k, p, a, x->params, NULL);
}

static qg_gemm_args args_of(const data_t *d) {
    qg_gemm_args a;
    qg_gemm_args_init(&a);
    a.a = d->da;
    a.a_scale = d->das;
    a.w = d->dw;
    a.bias = d->db;
    a.c = d->dc;
    a.lda = d->lda;
    a.ldc = d->ldc;
    return a;
}

static void var_check(qg_context *ctx, var_t *x, const data_t *d, const check_t *c, double c_arith) {
    if (x->skipped) return;
    qg_problem p = d->p;
    p.m = c->m;
    qg_gemm_args a = args_of(d);
    const size_t bytes = (size_t)(d->p.m * d->ldc) * 2;
    gt_poison(ctx, d->dc, bytes);
    const qg_status s = var_run(ctx, x, &p, &a);
    if (s == QG_ERR_UNSUPPORTED) return;
    sync_or_die(ctx, var_id(x), "check");
    if (s != QG_SUCCESS) {
        printf("wgmma| %s: %s (%.300s)\n", var_id(x), qg_status_name(s), qg_last_error(ctx));
        x->bad = x->skipped = 1;
        return;
    }
    uint16_t *h = malloc(bytes);
    gt_download(ctx, h, d->dc, bytes);
    double rel, worst;
    int bad = 0;
    check_eval(d, c, h, c_arith, &rel, &worst, &bad);
    free(h);
    if (rel > x->rel) x->rel = rel;
    if (worst > x->worst) x->worst = worst;
    x->bad |= bad;
}

static float var_time(qg_context *ctx, var_t *x, const data_t *d, int64_t m) {
    if (x->skipped) return -1;
    qg_problem p = d->p;
    p.m = m;
    p.n = d->ldc; /* the repeated weight */
    qg_gemm_args a = args_of(d);
    if (var_run(ctx, x, &p, &a) != QG_SUCCESS) return -1;
    sync_or_die(ctx, var_id(x), "warm-up");
    const qg_backend_ops *ops = ctx->ops;
    void *e0 = NULL, *e1 = NULL;
    if (ops->event_create(ctx, &e0) != QG_SUCCESS || ops->event_create(ctx, &e1) != QG_SUCCESS)
        return -1;
    ops->event_record(ctx, e0, NULL);
    for (int i = 0; i < 10; i++) var_run(ctx, x, &p, &a);
    ops->event_record(ctx, e1, NULL);
    sync_or_die(ctx, var_id(x), "timing");
    float ms = -1;
    ops->event_elapsed_ms(ctx, e0, e1, &ms);
    ops->event_destroy(ctx, e0);
    ops->event_destroy(ctx, e1);
    return ms * 100.0f; /* us per call */
}

typedef struct {
    const char *name;
    qg_scheme sch;
    qg_dtype act, out;
    const qg_family *fam;
    int dt;
    const char *mma[3];
    int wg[12][4]; /* tn, tm, st, sg; tn 0 ends */
} scheme_t;

static var_t all_vars[4][16];

static void run_scheme(qg_context *ctx, const scheme_t *sc, int si, uint64_t seed) {
    var_t *vars = all_vars[si];
    int nv = 0;
    for (int i = 0; i < 3 && sc->mma[i]; i++) var_catalog(&vars[nv++], sc->mma[i]);
    for (int i = 0; i < 12 && sc->wg[i][0]; i++)
        var_custom(&vars[nv++], sc->fam, sc->dt, sc->wg[i][0], sc->wg[i][1], sc->wg[i][2],
                   sc->wg[i][3]);
    const double c_arith = sc->sch == QG_SCHEME_SP24_FP8 ? 2e-2 : 1e-3;

    /* Correctness: edge shape, a Llama shape (sampled rows), a long K. */
    struct {
        int64_t n, k, m;
        int edge;
        int64_t ms[3];
    } cases[] = {
        {100, 192, 40, 1, {1, 33, 0}},
        {4096, 4096, 4096, 0, {128, 1000, 4096}},
        {1024, 14336, 300, 0, {256, 0, 0}},
    };
    data_t big = {0};
    const int reduced = gt_reduced(); /* the edge shape and 4096x4096 at M = 128; no timing */
    for (int ci = 0; ci < (reduced ? 2 : 3); ci++) {
        data_t d;
        data_make(ctx, &d, sc->sch, sc->act, sc->out, cases[ci].n, cases[ci].k, cases[ci].m,
                  cases[ci].edge, 1, seed + (uint64_t)ci);
        for (int mi = 0; mi < (reduced && ci ? 1 : 3) && cases[ci].ms[mi]; mi++) {
            check_t c;
            check_make(&d, cases[ci].ms[mi], &c);
            for (int v = 0; v < nv; v++) var_check(ctx, &vars[v], &d, &c, c_arith);
            free(c.ref);
        }
        if (ci == 1) big = d;
        else data_free(ctx, &d);
    }
    /* Timing: N=4096 (the checked weight), then the same weight repeated 7 times (N=28672). */
    for (int mi = 0; mi < NTM && !reduced; mi++)
        for (int v = 0; v < nv; v++) vars[v].us[mi] = var_time(ctx, &vars[v], &big, TIME_M[mi]);
    data_free(ctx, &big);
    data_t rep;
    if (!reduced) data_make(ctx, &rep, sc->sch, sc->act, sc->out, 4096, 4096, 4096, 0, 7, seed + 9);
    for (int v = 0; v < nv && !reduced; v++) {
        vars[v].us[NTM] = var_time(ctx, &vars[v], &rep, 256);
        vars[v].us[NTM + 1] = var_time(ctx, &vars[v], &rep, 4096);
    }
    if (!reduced) data_free(ctx, &rep);

    for (int v = 0; v < nv; v++) {
        var_t *x = &vars[v];
        if (x->skipped && x->cat) continue;
        char t[256];
        int o = 0;
        for (int i = 0; i < NTM + 2; i++)
            o += snprintf(t + o, sizeof t - (size_t)o, i == NTM ? " | %.0f" : " %.0f", x->us[i]);
        printf("wgmma| %-46s %s rel %.1e w/b %6.2f us:%s\n", var_id(x), x->bad ? "BAD" : "ok",
               x->rel, x->worst, t);
        QT_CHECK(!x->bad, "%s wrong (rel %.2e, worst/bound %.2f)", var_id(x), x->rel, x->worst);
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep what was printed if the run is cut short */
    qg_context *ctx = gt_open();
    if (!ctx) {
        printf("0 passed, 0 failed (skipped: no GPU)\n");
        return 0;
    }
    qg_device_info dev;
    QT_OK(qg_context_device_info(ctx, &dev));
    if (dev.cc_major * 10 + dev.cc_minor != 90) {
        printf("0 passed, 0 failed (skipped: sparse wgmma needs sm_90a)\n");
        qg_context_destroy(ctx);
        return 0;
    }
    printf("wgmma| times: us/call N=4096 K=4096 M=16 64 128 256 512 1k 2k 4k | N=28672 M=256 4k\n");
    static const scheme_t schemes[] = {
        {"bf16",
         QG_SCHEME_SP24_BF16,
         QG_DTYPE_BF16,
         QG_DTYPE_BF16,
         &qg_family_sp24_bf16_wgmma,
         2,
         {"sp24_bf16_mma.dt2.tn64.tm16.wn4.wm1.st6.sk1", "sp24_bf16_mma.dt2.tn128.tm64.wn2.wm2.st4.sk0",
          "sp24_bf16_mma.dt2.tn128.tm128.wn2.wm2.st3.sk0"},
         {{128, 128, 8, 2}, {256, 128, 6, 2}, {256, 192, 5, 1}, {256, 192, 4, 2}}},
        {"f16",
         QG_SCHEME_SP24_BF16,
         QG_DTYPE_F16,
         QG_DTYPE_F16,
         &qg_family_sp24_bf16_wgmma,
         1,
         {NULL, NULL, NULL},
         {{128, 128, 8, 2}, {256, 128, 6, 2}, {256, 192, 4, 2}}},
        {"int8",
         QG_SCHEME_SP24_INT8,
         QG_DTYPE_BF16,
         QG_DTYPE_BF16,
         &qg_family_sp24_int8_wgmma,
         4,
         {"sp24_int8_mma.dt4.tn64.tm16.wn4.wm1.st6.sk1", "sp24_int8_mma.dt4.tn128.tm64.wn2.wm2.st4.sk0",
          "sp24_int8_mma.dt4.tn128.tm128.wn2.wm2.st3.sk0"},
         {{128, 128, 6, 2},
          {128, 128, 8, 2},
          {128, 128, 8, 4},
          {256, 128, 6, 1},
          {256, 128, 6, 2},
          {256, 128, 6, 3},
          {256, 192, 5, 1},
          {256, 192, 4, 2}}},
        {"fp8",
         QG_SCHEME_SP24_FP8,
         QG_DTYPE_BF16,
         QG_DTYPE_F16,
         &qg_family_sp24_fp8_wgmma,
         3,
         {"sp24_fp8_mma.dt3.tn64.tm16.wn4.wm1.st6.sk1", NULL, NULL},
         {{128, 128, 6, 1},
          {128, 128, 6, 2},
          {128, 128, 8, 2},
          {128, 128, 8, 4},
          {128, 128, 6, 3},
          {128, 192, 6, 2},
          {128, 192, 6, 3}}},
    };
    for (int s = 0; s < QG_ARRAY_SIZE(schemes); s++)
        run_scheme(ctx, &schemes[s], s, qt_test_seed() + (uint64_t)s * 100);
    qg_context_destroy(ctx);
    return qt_finish("gpu_sp24_wg");
}
