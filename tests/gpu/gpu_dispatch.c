/* Dispatch on the GPU: a prepared qg_gemm captured in a CUDA graph (global capture mode makes
 * any allocation or synchronization inside it an error) and replayed correctly; many threads
 * calling one context; host overhead of one prepared call; explain and the tuning database. */
#include "gpu_common.h"

#include "dispatch.h"
#include "schemes.h"

#include "gpu_cuda.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 1e6 * (double)t.tv_sec + 1e-3 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    qg_problem p;
    qg_packed_weight hw, dw;
    uint16_t *ha;
    uint8_t *hq;
    float *hs;
    void *da, *ds;
    double *ref; /* [M,N] */
} setup;

static void make_setup(qg_context *ctx, setup *s, qg_scheme scheme, int64_t m, int64_t n, int64_t k) {
    qg_problem_init(&s->p);
    s->p.scheme = scheme, s->p.m = m, s->p.n = n, s->p.k = k;
    s->p.group_size = scheme == QG_SCHEME_W4A16 ? 128 : 0;
    qg_packed_sizes sz;
    QT_OK(qg_packed_sizes_get(&s->p, &sz));
    qt_rng r;
    qt_seed(&r, 99 + (uint64_t)n);
    float *w = malloc(sizeof(float) * (size_t)(n * k));
    qt_fill_normal(&r, w, (size_t)(n * k), 0.05f);
    s->hw.weight = malloc(sz.weight_bytes);
    s->hw.scale = sz.scale_bytes ? malloc(sz.scale_bytes) : NULL;
    s->hw.zero = sz.zero_bytes ? malloc(sz.zero_bytes) : NULL;
    s->hw.meta = sz.meta_bytes ? malloc(sz.meta_bytes) : NULL;
    QT_OK(qg_quantize_weight(&s->p, w, k, &s->hw));
    free(w);
    s->ha = malloc(2 * (size_t)(m * k));
    qt_fill_bf16(&r, s->ha, (size_t)(m * k), 1.0f);
    s->hq = malloc((size_t)(m * k));
    s->hs = malloc(sizeof(float) * (size_t)m);
    s->ref = malloc(sizeof(double) * (size_t)(m * n));
    if (qg_scheme_get(scheme)->dynamic_act) {
        QT_OK(qg_quantize_activations_host(&s->p, s->ha, s->hq, s->hs));
        QT_OK(qg_reference_gemm(&s->p, s->hq, s->hs, &s->hw, NULL, s->ref));
        s->da = gt_upload(ctx, s->hq, (size_t)(m * k));
        s->ds = gt_upload(ctx, s->hs, sizeof(float) * (size_t)m);
    } else {
        QT_OK(qg_reference_gemm(&s->p, s->ha, NULL, &s->hw, NULL, s->ref));
        s->da = gt_upload(ctx, s->ha, 2 * (size_t)(m * k));
        s->ds = NULL;
    }
    s->dw = gt_upload_packed(ctx, &s->p, &s->hw);
}

static void free_setup(qg_context *ctx, setup *s) {
    gt_free_packed(ctx, &s->dw);
    gt_free(ctx, s->da);
    gt_free(ctx, s->ds);
    free(s->hw.weight), free(s->hw.scale), free(s->hw.zero), free(s->hw.meta);
    free(s->ha), free(s->hq), free(s->hs), free(s->ref);
}

static qg_gemm_args args_for(const setup *s, void *c) {
    qg_gemm_args a;
    qg_gemm_args_init(&a);
    a.a = s->da, a.a_scale = s->ds, a.w = s->dw, a.c = c;
    return a;
}

static void check_out(qg_context *ctx, const setup *s, void *dc, const char *what) {
    size_t cnt = (size_t)(s->p.m * s->p.n);
    uint16_t *h = malloc(2 * cnt);
    gt_download(ctx, h, dc, 2 * cnt);
    gt_check_half(what, h, QG_DTYPE_BF16, s->ref, s->p.m, s->p.n, 1e-2, NULL);
    free(h);
}

static void test_graph_capture(qg_context *ctx, setup *s) {
    enum { CALLS = 3 };
    void *dc[CALLS];
    for (int i = 0; i < CALLS; i++) dc[i] = gt_alloc_poison(ctx, 2 * (size_t)(s->p.m * s->p.n));
    QT_OK(qg_prepare(ctx, &s->p, 1));
    CUstream st;
    CU(cu.StreamCreate(&st, CU_STREAM_NON_BLOCKING));
    /* Global mode: a cudaMalloc/sync/etc. anywhere in the process during capture fails it. */
    CU(cu.StreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_GLOBAL));
    for (int i = 0; i < CALLS; i++) {
        qg_gemm_args a = args_for(s, dc[i]);
        QT_OK(qg_gemm(ctx, &s->p, &a, st));
    }
    CUgraph g = NULL;
    CUresult er = cu.StreamEndCapture(st, &g);
    QT_CHECK(er == CUDA_SUCCESS,
             "capture of prepared qg_gemm calls (error %d): the launch path "
             "synchronized or allocated",
             (int)er);
    if (er == CUDA_SUCCESS) {
        CUgraphExec ge;
        CU(cu.GraphInstantiate(&ge, g, 0));
        for (int rep = 0; rep < 2; rep++) {
            for (int i = 0; i < CALLS; i++) gt_poison(ctx, dc[i], 2 * (size_t)(s->p.m * s->p.n));
            CU(cu.GraphLaunch(ge, st));
            CU(cu.StreamSynchronize(st));
            for (int i = 0; i < CALLS; i++) check_out(ctx, s, dc[i], "graph replay output");
        }
        cu.GraphExecDestroy(ge);
        cu.GraphDestroy(g);
    }
    cu.StreamDestroy(st);
    for (int i = 0; i < CALLS; i++) gt_free(ctx, dc[i]);
    printf("graph capture: %d prepared qg_gemm calls captured and replayed\n", CALLS);
}

typedef struct {
    qg_context *ctx;
    setup *s;
    void *dc;
    int calls;
    qg_status st;
    CUcontext cuctx;
} thread_job;

static void *thread_main(void *arg) {
    thread_job *j = arg;
    /* A new thread has no current context; make the primary one current, as the CUDA runtime
     * does for every thread of a torch process, before creating the thread's stream. */
    if (cu.CtxSetCurrent(j->cuctx) != CUDA_SUCCESS) {
        j->st = QG_ERR_DEVICE;
        return NULL;
    }
    CUstream st;
    if (cu.StreamCreate(&st, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS) {
        j->st = QG_ERR_DEVICE;
        return NULL;
    }
    qg_gemm_args a = args_for(j->s, j->dc);
    for (int i = 0; i < j->calls && j->st == QG_SUCCESS; i++)
        j->st = qg_gemm(j->ctx, &j->s->p, &a, st);
    cu.StreamSynchronize(st);
    cu.StreamDestroy(st);
    return NULL;
}

/* Many threads, one context, each its own stream and output. Half of them plan a new shape
 * (unprepared M) while the others launch, so planning and launching race. */
static void test_threads(qg_context *ctx, setup *s) {
    enum { T = 8 };
    thread_job j[T];
    pthread_t t[T];
    CUcontext cuctx = NULL;
    CU(cu.CtxGetCurrent(&cuctx)); /* the library made its primary context current here */
    for (int i = 0; i < T; i++) {
        j[i] = (thread_job){ctx, s,          gt_alloc_poison(ctx, 2 * (size_t)(s->p.m * s->p.n)),
                            50,  QG_SUCCESS, cuctx};
        pthread_create(&t[i], NULL, thread_main, &j[i]);
    }
    for (int i = 0; i < T; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < T; i++) {
        QT_CHECK(j[i].st == QG_SUCCESS, "thread %d: %s", i, qg_status_name(j[i].st));
        check_out(ctx, s, j[i].dc, "threaded output");
        gt_free(ctx, j[i].dc);
    }
    printf("threads: %d threads x 50 qg_gemm on one context, outputs checked\n", T);
}

/* The driver's own floor: host time of cuLaunchKernel of an empty kernel with 12 pointer
 * arguments (a GEMM launch's size) on a fresh stream, median of batches like the ones below. */
static double driver_launch_floor_us(void) {
    static const char ptx[] =
        ".version 7.0\n.target sm_80\n.address_size 64\n"
        ".visible .entry qg_empty(.param .u64 a0, .param .u64 a1, .param .u64 a2, .param .u64 a3,"
        " .param .u64 a4, .param .u64 a5, .param .u64 a6, .param .u64 a7, .param .u64 a8,"
        " .param .u64 a9, .param .u64 a10, .param .u64 a11)\n{\nret;\n}\n";
    CUmodule mod;
    CUfunction fn;
    if (!CU(cu.ModuleLoadData(&mod, ptx))) return -1;
    CU(cu.ModuleGetFunction(&fn, mod, "qg_empty"));
    CUstream st;
    CU(cu.StreamCreate(&st, CU_STREAM_NON_BLOCKING));
    unsigned long long v[12] = {0};
    void *params[12];
    for (int i = 0; i < 12; i++) params[i] = &v[i];
    enum { BATCH = 100, ROUNDS = 60 };
    double t[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        CU(cu.StreamSynchronize(st));
        const double t0 = now_us();
        for (int i = 0; i < BATCH; i++)
            cu.LaunchKernel(fn, 132, 1, 1, 128, 1, 1, 0, st, params, NULL);
        t[r] = (now_us() - t0) / BATCH;
    }
    CU(cu.StreamSynchronize(st));
    cu.StreamDestroy(st);
    cu.ModuleUnload(mod);
    qsort(t, ROUNDS, sizeof(double), cmp_d);
    return t[ROUNDS / 2];
}

/* Host time of one prepared qg_gemm (validate + plan lookup + launch) vs the bare launch. */
static void test_host_overhead(qg_context *ctx, setup *s) {
    void *dc = gt_alloc_poison(ctx, 2 * (size_t)(s->p.m * s->p.n));
    QT_OK(qg_prepare(ctx, &s->p, 1));
    qg_gemm_args a = args_for(s, dc);
    CUstream st;
    CU(cu.StreamCreate(&st, CU_STREAM_NON_BLOCKING));
    qg_kernel *k;
    QT_OK(qg_plan(ctx, &s->p, QG_OP_GEMM, &k));
    enum { BATCH = 100, ROUNDS = 60 };
    double api[ROUNDS], raw[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        CU(cu.StreamSynchronize(st));
        double t0 = now_us();
        for (int i = 0; i < BATCH; i++) qg_gemm(ctx, &s->p, &a, st);
        api[r] = (now_us() - t0) / BATCH;
        CU(cu.StreamSynchronize(st));
        t0 = now_us();
        for (int i = 0; i < BATCH; i++) qg_launch_gemm(ctx, k, &s->p, &a, st);
        raw[r] = (now_us() - t0) / BATCH;
    }
    CU(cu.StreamSynchronize(st));
    qsort(api, ROUNDS, sizeof(double), cmp_d);
    qsort(raw, ROUNDS, sizeof(double), cmp_d);
    printf("host overhead per call (median of %d batches of %d, %s M=%lld N=%lld K=%lld): "
           "qg_gemm %.2f us, family launch alone %.2f us, dispatch share %.2f us\n",
           ROUNDS, BATCH, qg_scheme_name(s->p.scheme), (long long)s->p.m, (long long)s->p.n,
           (long long)s->p.k, api[ROUNDS / 2], raw[ROUNDS / 2], api[ROUNDS / 2] - raw[ROUNDS / 2]);
    printf("  driver floor: cuLaunchKernel of an empty kernel (12 arguments) %.2f us\n",
           driver_launch_floor_us());
    /* the same call on a context that launches with cuLaunchKernel (bench/host_overhead
     * times every scheme this way, cases interleaved) */
    setenv("QGEMM_LAUNCH", "direct", 1);
    qg_context *other = gt_open();
    unsetenv("QGEMM_LAUNCH");
    if (QT_CHECK(other != NULL, "QGEMM_LAUNCH=direct context")) {
        QT_OK(qg_prepare(other, &s->p, 1));
        for (int r = 0; r < ROUNDS; r++) {
            CU(cu.StreamSynchronize(st));
            const double t0 = now_us();
            for (int i = 0; i < BATCH; i++) qg_gemm(other, &s->p, &a, st);
            raw[r] = (now_us() - t0) / BATCH;
        }
        CU(cu.StreamSynchronize(st));
        qsort(raw, ROUNDS, sizeof(double), cmp_d);
        printf("  qg_gemm with QGEMM_LAUNCH=direct: %.2f us\n", raw[ROUNDS / 2]);
        gt_poison(other, dc, 2 * (size_t)(s->p.m * s->p.n));
        QT_OK(qg_synchronize(other)); /* the memset before the GEMM on a non-blocking stream */
        QT_OK(qg_gemm(other, &s->p, &a, st));
        CU(cu.StreamSynchronize(st));
        check_out(other, s, dc, "output with QGEMM_LAUNCH=direct");
        qg_context_destroy(other);
    }
    check_out(ctx, s, dc, "output after the overhead loop");
    cu.StreamDestroy(st);
    gt_free(ctx, dc);
}

static void test_explain(qg_context *ctx, setup *s) {
    char buf[512];
    QT_OK(qg_explain(ctx, &s->p, buf, sizeof buf));
    printf("explain %s M=%lld N=%lld K=%lld: %s\n", qg_scheme_name(s->p.scheme), (long long)s->p.m,
           (long long)s->p.n, (long long)s->p.k, buf);
    QT_CHECK(strstr(buf, "heuristic") || strstr(buf, "exact") || strstr(buf, "bucket") ||
                 strstr(buf, "nearest"),
             "explain names the level");
}

int main(void) {
    qt_test_seed();
    qg_context *ctx = gt_open();
    if (!ctx) return qt_finish("gpu_dispatch (skipped: no GPU)");
    if (!gt_load_cuda()) {
        QT_CHECK(0, "libcuda.so.1 symbols for graph capture not found");
        return qt_finish("gpu_dispatch");
    }
    qg_scheme schemes[] = {QG_SCHEME_W8A8_FP8, QG_SCHEME_W4A16};
    for (int i = 0; i < 2; i++) {
        setup s;
        make_setup(ctx, &s, schemes[i], 16, 4096, 4096);
        test_explain(ctx, &s);
        test_graph_capture(ctx, &s);
        test_threads(ctx, &s);
        free_setup(ctx, &s);
        make_setup(ctx, &s, schemes[i], 1, 4096, 4096);
        test_host_overhead(ctx, &s);
        free_setup(ctx, &s);
    }
    qg_context_destroy(ctx);
    return qt_finish("gpu_dispatch");
}
