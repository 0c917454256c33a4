/*
 * bench_gemm: qg_gemm for each scheme x Llama-3-8B linear shape x M, beside cuBLASLt bf16 of the
 * same shape timed in the same process, through Google Benchmark (bench/gbench.h).
 *
 * Method (as ../shared/anchors and bench/torch_compare.py): the packed weight is uploaded in
 * enough copies that cycling through them streams more than 4x the L2 (weights come from HBM,
 * not L2); each sample is a batch of calls over the copies (at least ~200 us of work, so event
 * resolution does not matter) between two backend events on the default stream; the reported
 * time per call is the median sample. Random data everywhere; activations of the dynamic
 * schemes are quantized by qg_quantize_activations outside the timed region.
 *
 * Counters of every run: us (median per call), TFLOPs (2*M*N*K / time, dense-equivalent for
 * 2:4), GBps (packed weight + activation + output bytes / time), bf16_us (cuBLASLt bf16 of the
 * same M, N, K over its own rotated bf16 weights), speedup_vs_bf16 (bf16_us / us); and the
 * measured hbm_copy_GBps (device-to-device copy, read + write) and bf16_peak_TFLOPs (cuBLASLt
 * bf16 M=N=K=8192) taken once at start, also in the JSON context.
 *
 *   bench_gemm [--benchmark_filter=REGEX] [--benchmark_out=FILE.json] [...Google Benchmark flags]
 * Names are gemm/<scheme>/<shape>/M:<m>, e.g. --benchmark_filter='gemm/w8a8-fp8/(o|down)/'.
 * QGEMM_BENCH_KERNEL=<variant id> times that kernel instead of dispatch's choice (cases it does
 * not fit are skipped with its reason): A/B runs of one kernel across two builds.
 * Exits 1 (saying why) without a GPU.
 */
#include "backend.h"
#include "bench_util.h"
#include "cublaslt.h"
#include "gbench.h"
#include "qgemm.h"
#include "schemes.h"

#include <cuda.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLES 15
#define MIN_BATCH_US 200.0
#define MAX_COPIES 16

static const struct {
    const char *name;
    int64_t n, k;
} shapes[] = {{"qkv", 6144, 4096}, {"o", 4096, 4096}, {"gate_up", 28672, 4096}, {"down", 4096, 14336}};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

static const char *const scheme_names[] = {"w4a16",     "w8a16",    "w8a8-fp8",
                                           "w8a8-int8", "w4a8-fp8", "w4a8-int8",
                                           "sp24-bf16", "sp24-fp8", "sp24-int8"};
#define NSCHEMES ((int)(sizeof scheme_names / sizeof scheme_names[0]))

static const int64_t m_values[] = {1, 16, 32, 64, 128, 1024, 4096}; /* 32, 64: decode batches */
#define NM ((int)(sizeof m_values / sizeof m_values[0]))

static qg_context *ctx;
static qg_device_info dev;
static double hbm_copy_gbps, bf16_peak_tflops;

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void) { /* xorshift64*: fast, enough for timing data */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static float rng_uniform(void) {
    return (float)(rng_next() >> 40) * (1.0f / 16777216.0f) * 2.f - 1.f;
}

static void *dev_alloc(size_t bytes) {
    void *p = NULL;
    return qg_malloc(ctx, &p, bytes) == QG_SUCCESS ? p : NULL;
}

static void *dev_upload(const void *host, size_t bytes) {
    void *p = dev_alloc(bytes);
    if (p && qg_memcpy_htod(ctx, p, host, bytes) != QG_SUCCESS) {
        qg_free(ctx, p);
        return NULL;
    }
    return p;
}

/* Random bf16 [count] on the device. */
static void *dev_random_bf16(size_t count, float scale) {
    uint16_t *h = malloc(count * 2);
    if (!h) return NULL;
    for (size_t i = 0; i < count; i++) h[i] = qg_f32_to_bf16(scale * rng_uniform());
    void *d = dev_upload(h, count * 2);
    free(h);
    return d;
}

/* One call of the thing timed, with weight copy `copy`. */
typedef qg_status (*call_fn)(void *user, int copy);

typedef struct {
    void *e0, *e1;
    int copies, reps;
} timer;

static qg_status timer_open(timer *t, int copies) {
    memset(t, 0, sizeof *t);
    t->copies = copies;
    QG_CHECK(ctx->ops->event_create(ctx, &t->e0));
    return ctx->ops->event_create(ctx, &t->e1);
}

static void timer_close(timer *t) {
    if (t->e0) ctx->ops->event_destroy(ctx, t->e0);
    if (t->e1) ctx->ops->event_destroy(ctx, t->e1);
}

/* One sample: `reps` calls cycling the copies between two events; seconds per call. */
static qg_status timer_sample(timer *t, call_fn fn, void *user, double *sec) {
    QG_CHECK(ctx->ops->event_record(ctx, t->e0, NULL));
    for (int r = 0; r < t->reps; r++) QG_CHECK(fn(user, r % t->copies));
    QG_CHECK(ctx->ops->event_record(ctx, t->e1, NULL));
    QG_CHECK(ctx->ops->synchronize(ctx));
    float ms = 0;
    QG_CHECK(ctx->ops->event_elapsed_ms(ctx, t->e0, t->e1, &ms));
    *sec = 1e-3 * ms / t->reps;
    return QG_SUCCESS;
}

/* Warm up (two passes over the copies), then size batches to >= MIN_BATCH_US. */
static qg_status timer_calibrate(timer *t, call_fn fn, void *user) {
    for (int i = 0; i < 2 * t->copies; i++) QG_CHECK(fn(user, i % t->copies));
    t->reps = t->copies;
    double s = 0;
    QG_CHECK(timer_sample(t, fn, user, &s));
    const int want = (int)ceil(MIN_BATCH_US * 1e-6 / (s > 0 ? s : 1e-6));
    t->reps = want > t->copies ? (want < 4000 ? want : 4000) : t->copies;
    return QG_SUCCESS;
}

/* Median seconds per call over `samples` samples (outside Google Benchmark's loop). */
static qg_status time_median(call_fn fn, void *user, int copies, int samples, double *sec) {
    timer t;
    qg_status s = timer_open(&t, copies);
    if (s == QG_SUCCESS) s = timer_calibrate(&t, fn, user);
    double v[64];
    int n = 0;
    for (; s == QG_SUCCESS && n < samples && n < 64; n++) s = timer_sample(&t, fn, user, &v[n]);
    timer_close(&t);
    if (s != QG_SUCCESS) return s;
    qsort(v, (size_t)n, sizeof *v, qg_bench_cmp_double);
    *sec = v[n / 2];
    return QG_SUCCESS;
}

static int copies_for(size_t bytes) {
    const int c = (int)ceil(4.0 * dev.l2_bytes / (double)(bytes ? bytes : 1)) + 1;
    return c < 2 ? 2 : c > MAX_COPIES ? MAX_COPIES : c;
}

/* ---------------------------------------------------------------- cuBLASLt bf16 baseline */

typedef struct {
    int64_t m, n, k;
    const void *a;
    void *c;
    void *w[MAX_COPIES];
} bf16_case;

static qg_status bf16_call(void *user, int copy) {
    bf16_case *b = user;
    return qg_cublaslt_gemm_bf16(ctx, b->m, b->n, b->k, b->a, b->w[copy], b->c, NULL, 0);
}

/* Seconds per call of cuBLASLt bf16 for (m, n, k), over rotated bf16 weights; `a` [m,k] and `c`
 * [m,n] bf16 given by the caller (NULL: allocated here). */
static qg_status bf16_time(int64_t m, int64_t n, int64_t k, const void *a, void *c, double *sec) {
    bf16_case b = {.m = m, .n = n, .k = k, .a = a, .c = c};
    const size_t wbytes = (size_t)n * (size_t)k * 2;
    const int copies = copies_for(wbytes);
    void *own_a = NULL, *own_c = NULL;
    qg_status s = QG_SUCCESS;
    if (!a) {
        b.a = own_a = dev_random_bf16((size_t)(m * k), 1.f);
        if (!own_a) s = QG_ERR_OUT_OF_MEMORY;
    }
    if (!c && s == QG_SUCCESS) {
        b.c = own_c = dev_alloc((size_t)(m * n) * 2);
        if (!own_c) s = QG_ERR_OUT_OF_MEMORY;
    }
    int made = 0;
    for (; s == QG_SUCCESS && made < copies; made++) {
        /* 0x3c3c = bf16 0.0115: the value does not change the time */
        if (!(b.w[made] = dev_alloc(wbytes))) s = QG_ERR_OUT_OF_MEMORY;
        else s = qg_memset_d8(ctx, b.w[made], 0x3c, wbytes);
    }
    if (s == QG_SUCCESS) s = time_median(bf16_call, &b, copies, SAMPLES, sec);
    for (int i = 0; i < made; i++) qg_free(ctx, b.w[i]);
    qg_free(ctx, own_a);
    qg_free(ctx, own_c);
    return s;
}

/* Baselines per (m, n, k), measured once (the first scheme that needs one). */
typedef struct {
    int64_t m, n, k;
    double sec;
} bf16_entry;
static bf16_entry bf16_cache[64];
static int bf16_cached;

static qg_status bf16_baseline(int64_t m, int64_t n, int64_t k, const void *a, void *c, double *sec) {
    for (int i = 0; i < bf16_cached; i++)
        if (bf16_cache[i].m == m && bf16_cache[i].n == n && bf16_cache[i].k == k) {
            *sec = bf16_cache[i].sec;
            return QG_SUCCESS;
        }
    QG_CHECK(bf16_time(m, n, k, a, c, sec));
    if (bf16_cached < 64) bf16_cache[bf16_cached++] = (bf16_entry){m, n, k, *sec};
    return QG_SUCCESS;
}

/* ---------------------------------------------------------------- start-of-run measurements */

/* Device-to-device copy bandwidth (read + write), 1 GiB buffers. cuMemcpyDtoDAsync comes from
 * the driver qgemm already loaded; qgemm made its context current on this thread. */
typedef struct {
    CUresult (*copy)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
    void *src, *dst;
    size_t bytes;
} copy_case;

static qg_status copy_call(void *user, int copy) {
    (void)copy;
    copy_case *c = user;
    return c->copy((CUdeviceptr)(uintptr_t)c->dst, (CUdeviceptr)(uintptr_t)c->src, c->bytes, NULL) ==
                   CUDA_SUCCESS
               ? QG_SUCCESS
               : QG_ERR_DEVICE;
}

static double measure_hbm_copy(void) {
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    copy_case c = {.bytes = (size_t)1 << 30};
    c.copy = h ? (CUresult(*)(CUdeviceptr, CUdeviceptr, size_t,
                              CUstream))dlsym(h, "cuMemcpyDtoDAsync_v2")
               : NULL;
    double sec = 0;
    c.src = dev_alloc(c.bytes);
    c.dst = dev_alloc(c.bytes);
    const int ok = c.copy && c.src && c.dst && qg_memset_d8(ctx, c.src, 1, c.bytes) == QG_SUCCESS &&
                   time_median(copy_call, &c, 1, 7, &sec) == QG_SUCCESS;
    qg_free(ctx, c.src);
    qg_free(ctx, c.dst);
    if (h) dlclose(h);
    return ok && sec > 0 ? 2.0 * (double)c.bytes / sec / 1e9 : 0;
}

static double measure_bf16_peak(void) {
    const int64_t s = 8192;
    double sec = 0;
    if (bf16_time(s, s, s, NULL, NULL, &sec) != QG_SUCCESS || sec <= 0) {
        fprintf(stderr, "bench_gemm: cuBLASLt bf16 peak: %s\n", qg_last_error(ctx));
        return 0;
    }
    return 2.0 * (double)s * s * s / sec / 1e12;
}

/* ---------------------------------------------------------------- qgemm weights per scheme x shape */

typedef struct {
    int scheme_index, shape_index; /* -1: none */
    qg_problem p;
    qg_packed_sizes sz;
    size_t bytes;
    int copies;
    qg_packed_weight w[MAX_COPIES];
    char error[512];
} weights;

static weights cur = {.scheme_index = -1, .shape_index = -1};

static void weights_free(weights *w) {
    for (int i = 0; i < w->copies; i++) {
        qg_free(ctx, w->w[i].weight);
        qg_free(ctx, w->w[i].scale);
        qg_free(ctx, w->w[i].zero);
        qg_free(ctx, w->w[i].meta);
    }
    memset(w, 0, sizeof *w);
    w->scheme_index = w->shape_index = -1;
}

static void problem_for(qg_problem *p, int scheme_index, int shape_index) {
    qg_problem_init(p);
    qg_scheme_from_name(scheme_names[scheme_index], &p->scheme);
    p->m = 1;
    p->n = shapes[shape_index].n;
    p->k = shapes[shape_index].k;
    p->group_size = 0;
    if (p->scheme == QG_SCHEME_W4A16) {
        p->group_size = 128;
        p->has_zero_point = 1;
    }
    if (p->scheme == QG_SCHEME_W4A8_FP8 || p->scheme == QG_SCHEME_W4A8_INT8) p->group_size = 128;
    p->weight_scale = QG_SCALE_PER_ROW;
    p->act_scale = QG_SCALE_PER_ROW;
}

/* Quantize a random weight once and upload it in enough copies. On failure w->error says why. */
static void weights_make(weights *w, int scheme_index, int shape_index) {
    weights_free(w);
    w->scheme_index = scheme_index;
    w->shape_index = shape_index;
    problem_for(&w->p, scheme_index, shape_index);
    qg_status s = qg_problem_validate(&w->p);
    if (s == QG_SUCCESS) s = qg_packed_sizes_get(&w->p, &w->sz);
    if (s != QG_SUCCESS) {
        snprintf(w->error, sizeof w->error, "%s", qg_last_error(NULL));
        return;
    }
    const size_t nk = (size_t)w->p.n * (size_t)w->p.k;
    float *f = malloc(nk * sizeof *f);
    qg_packed_weight h = {malloc(w->sz.weight_bytes),
                          w->sz.scale_bytes ? malloc(w->sz.scale_bytes) : NULL,
                          w->sz.zero_bytes ? malloc(w->sz.zero_bytes) : NULL,
                          w->sz.meta_bytes ? malloc(w->sz.meta_bytes) : NULL};
    if (!f || !h.weight || (w->sz.scale_bytes && !h.scale) || (w->sz.zero_bytes && !h.zero) ||
        (w->sz.meta_bytes && !h.meta)) {
        snprintf(w->error, sizeof w->error, "no host memory for a %lldx%lld weight",
                 (long long)w->p.n, (long long)w->p.k);
    } else {
        for (size_t i = 0; i < nk; i++) f[i] = 0.02f * rng_uniform();
        if (qg_quantize_weight(&w->p, f, w->p.k, &h) != QG_SUCCESS)
            snprintf(w->error, sizeof w->error, "quantize: %s", qg_last_error(NULL));
    }
    free(f);
    w->bytes = w->sz.weight_bytes + w->sz.scale_bytes + w->sz.zero_bytes + w->sz.meta_bytes;
    const int copies = copies_for(w->bytes);
    for (int i = 0; !w->error[0] && i < copies; i++) {
        w->copies = i + 1;
        qg_packed_weight *d = &w->w[i];
        d->weight = dev_upload(h.weight, w->sz.weight_bytes);
        if (h.scale) d->scale = dev_upload(h.scale, w->sz.scale_bytes);
        if (h.zero) d->zero = dev_upload(h.zero, w->sz.zero_bytes);
        if (h.meta) d->meta = dev_upload(h.meta, w->sz.meta_bytes);
        if (!d->weight || (h.scale && !d->scale) || (h.zero && !d->zero) || (h.meta && !d->meta))
            snprintf(w->error, sizeof w->error, "upload: %s", qg_last_error(ctx));
    }
    free(h.weight), free(h.scale), free(h.zero), free(h.meta);
}

/* ---------------------------------------------------------------- the benchmark */

typedef struct {
    int scheme_index, shape_index;
} bench_case;

typedef struct {
    const qg_problem *p;
    qg_gemm_args args;
    const weights *w;
} gemm_call_case;

static const char *forced_kernel; /* $QGEMM_BENCH_KERNEL */

static qg_status gemm_call(void *user, int copy) {
    gemm_call_case *g = user;
    g->args.w = g->w->w[copy];
    if (forced_kernel) return qg_gemm_with_kernel(ctx, g->p, &g->args, forced_kernel, NULL);
    return qg_gemm(ctx, g->p, &g->args, NULL);
}

static void bench_gemm(gb_state *st, void *user) {
    const bench_case *bc = user;
    const int64_t m = gb_arg(st, 0);
    if (cur.scheme_index != bc->scheme_index || cur.shape_index != bc->shape_index)
        weights_make(&cur, bc->scheme_index, bc->shape_index);
    if (cur.error[0]) {
        gb_skip(st, cur.error);
        return;
    }
    qg_problem p = cur.p;
    p.m = m;
    const qg_scheme_traits *traits = qg_scheme_get(p.scheme);
    const int dynamic = traits->dynamic_act;
    char msg[1024] = "";
    void *a16 = dev_random_bf16((size_t)(m * p.k), 1.f), *aq = NULL, *as = NULL;
    void *c = dev_alloc((size_t)(m * p.n) * 2);
    qg_status s = a16 && c ? QG_SUCCESS : QG_ERR_OUT_OF_MEMORY;
    if (s == QG_SUCCESS && dynamic) {
        aq = dev_alloc((size_t)(m * p.k));
        as = dev_alloc((size_t)m * sizeof(float));
        /* every dynamic scheme takes the same per-token e4m3 / int8 activations: quantize them
         * as the dense W8A8 scheme of that type (2:4 schemes have no quantizer of their own) */
        qg_problem q = p;
        q.scheme = traits->act_qtype == QG_DTYPE_FP8_E4M3 ? QG_SCHEME_W8A8_FP8 : QG_SCHEME_W8A8_INT8;
        s = aq && as ? qg_quantize_activations(ctx, &q, a16, aq, as, NULL) : QG_ERR_OUT_OF_MEMORY;
    }
    /* Compiles outside the timed region (the warm-up calls would too). A failure here is
     * reported, not fatal: qg_prepare also plans the activation quantizer, which the 2:4
     * dynamic schemes lack, while qg_gemm itself may still run. */
    if (s == QG_SUCCESS && qg_prepare(ctx, &p, 1) != QG_SUCCESS)
        fprintf(stderr, "bench_gemm: qg_prepare %s M=%lld N=%lld K=%lld: %s\n", traits->name,
                (long long)m, (long long)p.n, (long long)p.k, qg_last_error(ctx));
    gemm_call_case g = {.p = &p, .w = &cur};
    qg_gemm_args_init(&g.args);
    g.args.a = dynamic ? aq : a16;
    g.args.a_scale = as;
    g.args.c = c;
    timer t = {0};
    if (s == QG_SUCCESS) s = timer_open(&t, cur.copies);
    if (s == QG_SUCCESS) s = timer_calibrate(&t, gemm_call, &g);
    double v[64];
    int n = 0;
    if (s != QG_SUCCESS) {
        snprintf(msg, sizeof msg, "%s: %s", qg_status_name(s), qg_last_error(ctx));
        gb_skip(st, msg);
    } else {
        while (gb_keep_running(st)) {
            double sec = 0;
            if ((s = timer_sample(&t, gemm_call, &g, &sec)) != QG_SUCCESS) {
                snprintf(msg, sizeof msg, "%s: %s", qg_status_name(s), qg_last_error(ctx));
                gb_skip(st, msg);
                break;
            }
            gb_set_iteration_time(st, sec);
            if (n < 64) v[n++] = sec;
        }
    }
    timer_close(&t);
    if (s == QG_SUCCESS && n > 0) {
        qsort(v, (size_t)n, sizeof *v, qg_bench_cmp_double);
        const double sec = v[n / 2], us = 1e6 * sec;
        const double bytes = (double)cur.bytes + (double)m * p.k * (dynamic ? 1 : 2) + 2.0 * m * p.n;
        gb_counter(st, "us", us, GB_COUNTER_DEFAULT);
        gb_counter(st, "TFLOPs", 2.0 * m * p.n * p.k / sec / 1e12, GB_COUNTER_DEFAULT);
        gb_counter(st, "GBps", bytes / sec / 1e9, GB_COUNTER_DEFAULT);
        double bsec = 0;
        if (bf16_baseline(m, p.n, p.k, a16, c, &bsec) == QG_SUCCESS && bsec > 0) {
            gb_counter(st, "bf16_us", 1e6 * bsec, GB_COUNTER_DEFAULT);
            gb_counter(st, "speedup_vs_bf16", bsec / sec, GB_COUNTER_DEFAULT);
        } else {
            fprintf(stderr, "bench_gemm: cuBLASLt bf16 baseline M=%lld N=%lld K=%lld: %s\n",
                    (long long)m, (long long)p.n, (long long)p.k, qg_last_error(ctx));
        }
        gb_counter(st, "hbm_copy_GBps", hbm_copy_gbps, GB_COUNTER_DEFAULT);
        gb_counter(st, "bf16_peak_TFLOPs", bf16_peak_tflops, GB_COUNTER_DEFAULT);
        char label[256];
        if (forced_kernel) {
            snprintf(label, sizeof label, "%s (QGEMM_BENCH_KERNEL)", forced_kernel);
            gb_set_label(st, label);
        } else if (qg_explain(ctx, &p, label, sizeof label) == QG_SUCCESS) {
            gb_set_label(st, label);
        }
    }
    qg_free(ctx, a16);
    qg_free(ctx, aq);
    qg_free(ctx, as);
    qg_free(ctx, c);
}

static void register_all(void) {
    static bench_case cases[NSCHEMES * NSHAPES];
    static const char *const arg_names[] = {"M"};
    const gb_options opts = {.manual_time = 1, .iterations = SAMPLES, .time_unit = GB_UNIT_US};
    for (int si = 0; si < NSCHEMES; si++)
        for (int hi = 0; hi < NSHAPES; hi++) {
            bench_case *bc = &cases[si * NSHAPES + hi];
            bc->scheme_index = si;
            bc->shape_index = hi;
            char name[128];
            snprintf(name, sizeof name, "gemm/%s/%s", scheme_names[si], shapes[hi].name);
            for (int mi = 0; mi < NM; mi++)
                gb_register(name, bench_gemm, bc, &m_values[mi], arg_names, 1, &opts);
        }
}

int main(int argc, char **argv) {
    register_all();
    for (int i = 1; i < argc; i++) /* these need no GPU */
        if (!strcmp(argv[i], "--help") || !strncmp(argv[i], "--benchmark_list_tests", 22))
            return gb_main(argc, argv);
    qg_status s = qg_context_create(&ctx, NULL);
    if (s != QG_SUCCESS) {
        fprintf(stderr, "bench_gemm: no GPU: %s (%s)\n", qg_last_error(NULL), qg_status_name(s));
        return 1;
    }
    qg_context_device_info(ctx, &dev);
    forced_kernel = getenv("QGEMM_BENCH_KERNEL");
    if (forced_kernel && !*forced_kernel) forced_kernel = NULL;
    if (!ctx->ops->event_create) {
        fprintf(stderr, "bench_gemm: the %s backend has no timer\n", ctx->ops->name);
        qg_context_destroy(ctx);
        return 1;
    }
    hbm_copy_gbps = measure_hbm_copy();
    bf16_peak_tflops = measure_bf16_peak();
    char buf[64];
    gb_add_context("device", dev.name);
    gb_add_context("arch", dev.arch);
    snprintf(buf, sizeof buf, "%d", dev.driver_version);
    gb_add_context("driver", buf);
    snprintf(buf, sizeof buf, "%zu", qg_cublaslt_version());
    gb_add_context("cublaslt", buf);
    gb_add_context("qgemm", qg_version_string());
    snprintf(buf, sizeof buf, "%d", dev.l2_bytes);
    gb_add_context("l2_bytes", buf);
    snprintf(buf, sizeof buf, "%.0f", hbm_copy_gbps);
    gb_add_context("hbm_copy_GBps", buf);
    snprintf(buf, sizeof buf, "%.1f", bf16_peak_tflops);
    gb_add_context("cublaslt_bf16_peak_TFLOPs", buf);
    fprintf(stderr, "bench_gemm: %s (%s), HBM copy %.0f GB/s, cuBLASLt bf16 peak %.1f TFLOP/s\n",
            dev.name, dev.arch, hbm_copy_gbps, bf16_peak_tflops);
    const int rc = gb_main(argc, argv);
    weights_free(&cur);
    qg_context_destroy(ctx);
    return rc;
}
