/*
 * Runtime on a real GPU: device info, every backend entry (module load, >48 KB dynamic shared
 * memory, launch from a thread that never touched CUDA, memset/memcpy, events), and the JIT:
 *   cold  compile every catalog variant for this device into an empty disk cache (-j threads,
 *         which also races qg_jit_get), per-variant compile ms and the median; then a new
 *         context loads them all from disk (per-variant load ms, median);
 *   warm  only the second half, meant for a SECOND process (tests/gpu/run.sh) to prove the
 *         disk cache is reused across processes: fails if anything was compiled.
 * Usage: gpu_runtime [--phase cold|warm|all] [--cache-dir DIR] [-j N]
 *        (cache dir default: $QGEMM_CACHE_DIR, else a fresh directory under /tmp)
 */
#include "backend.h"
#include "gpu_common.h"
#include "jit.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    if (n == 0) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static qg_context *open_ctx(const char *cache_dir) {
    qg_context_params p;
    qg_context_params_init(&p);
    p.cache_dir = cache_dir;
    p.disable_disk_cache = cache_dir == NULL;
    qg_context *ctx = NULL;
    qg_status s = qg_context_create(&ctx, &p);
    if (s != QG_SUCCESS) {
        printf("no GPU (%s): %s\n", qg_status_name(s), qg_last_error(NULL));
        return NULL;
    }
    return ctx;
}

/* Delete the cached images of one arch so the cold phase really compiles. */
static void clear_arch_dir(const char *dir, const char *arch) {
    char sub[1200];
    snprintf(sub, sizeof sub, "%s/%s", dir, arch);
    DIR *d = opendir(sub);
    if (!d) return;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        const char *dot = strrchr(e->d_name, '.');
        if (!dot || (strcmp(dot, ".cubin") && strcmp(dot, ".hsaco"))) continue;
        char p[1500];
        snprintf(p, sizeof p, "%s/%s", sub, e->d_name);
        n += unlink(p) == 0;
    }
    closedir(d);
    if (n) printf("cold: removed %d cached images from %s\n", n, sub);
}

/* ---------------------------------------------------------------- backend smoke test */

/* Dynamic shared memory round trip: y = 2x through smem sized near the device maximum. */
static const char *smem_kernel =
    "#include \"qg_prelude.cuh\"\n"
    "extern \"C\" __global__ void qg_smem_double(const float *x, float *y, int n, int smem_floats) {\n"
    "    extern __shared__ float buf[];\n"
    "    for (int i = threadIdx.x; i < smem_floats; i += blockDim.x) buf[i] = (float)i;\n"
    "    __syncthreads();\n"
    "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    int j = smem_floats - 1 - (i % smem_floats);\n"
    "    if (i < n) y[i] = buf[j] == (float)j ? 2.0f * x[i] : -1.0f;\n"
    "}\n";

typedef struct {
    qg_context *ctx;
    void *fn;
    void *x, *y;
    int n, smem_floats;
    unsigned smem;
    qg_status status;
} launch_job;

static void *launch_thread(void *arg) {
    launch_job *j = arg;
    void *params[] = {&j->x, &j->y, &j->n, &j->smem_floats};
    const unsigned grid[3] = {(unsigned)((j->n + 255) / 256), 1, 1}, block[3] = {256, 1, 1};
    j->status = j->ctx->ops->launch(j->ctx, j->fn, grid, block, j->smem, NULL, params);
    if (j->status == QG_SUCCESS) j->status = j->ctx->ops->synchronize(j->ctx);
    return NULL;
}

static void test_backend(qg_context *ctx) {
    const qg_backend_ops *ops = ctx->ops;
    void *img = NULL;
    size_t size = 0;
    char *log = NULL;
    QT_OK(qg_compiler_for_arch(ctx->info.arch)
              ->compile(smem_kernel, "smem.cu", ctx->info.arch, NULL, 0, &img, &size, &log));
    if (log) printf("%s\n", log);
    free(log);
    if (!img) return;
    void *mod = NULL, *fn = NULL;
    QT_OK(ops->module_load(ctx, img, size, &mod));
    free(img);
    if (!mod) return;
    QT_OK(ops->function_get(ctx, mod, "qg_smem_double", &fn));
    QT_STATUS(ops->function_get(ctx, mod, "no_such_kernel", &fn), QG_ERR_INTERNAL);
    QT_CHECK(strstr(qg_last_error(ctx), "no_such_kernel") != NULL, "message names the kernel: %s",
             qg_last_error(ctx));
    QT_OK(ops->function_get(ctx, mod, "qg_smem_double", &fn));
    int static_smem = -1;
    QT_OK(ops->function_static_smem(ctx, fn, &static_smem));
    QT_CHECK(static_smem == 0, "no static smem (%d)", static_smem);

    const int n = 1 << 20;
    float *hx = malloc(sizeof(float) * (size_t)n), *hy = malloc(sizeof(float) * (size_t)n);
    qt_rng r;
    qt_seed(&r, 7);
    qt_fill_normal(&r, hx, (size_t)n, 1.0f);
    launch_job j = {.ctx = ctx, .fn = fn, .n = n};
    j.x = gt_upload(ctx, hx, sizeof(float) * (size_t)n);
    j.y = gt_alloc_poison(ctx, sizeof(float) * (size_t)n);
    j.smem = (unsigned)ctx->info.smem_optin & ~15u;
    j.smem_floats = (int)(j.smem / 4);

    /* Over 48 KB fails until the attribute is raised (what qg_jit_get does at load time). */
    if (j.smem > 48 * 1024) {
        launch_thread(&j);
        QT_CHECK(j.status != QG_SUCCESS, "a %u-byte launch without the attribute fails", j.smem);
    }
    QT_OK(ops->function_set_smem(ctx, fn, (int)j.smem));
    /* From a new thread: the backend must make the primary context current there. */
    pthread_t t;
    pthread_create(&t, NULL, launch_thread, &j);
    pthread_join(t, NULL);
    QT_CHECK(j.status == QG_SUCCESS, "launch with %u bytes of smem from a new thread: %s", j.smem,
             qg_last_error(ctx));
    gt_download(ctx, hy, j.y, sizeof(float) * (size_t)n);
    int bad = 0;
    for (int i = 0; i < n; i++) bad += hy[i] != 2.0f * hx[i];
    QT_CHECK(bad == 0, "%d of %d outputs wrong", bad, n);

    /* Async memset on the default stream, events around it. */
    void *e0 = NULL, *e1 = NULL;
    QT_OK(ops->event_create(ctx, &e0));
    QT_OK(ops->event_create(ctx, &e1));
    QT_OK(ops->event_record(ctx, e0, NULL));
    QT_OK(ops->memset_d8_async(ctx, j.y, 0x3f, sizeof(float) * (size_t)n, NULL));
    QT_OK(ops->event_record(ctx, e1, NULL));
    QT_OK(ops->synchronize(ctx));
    float ms = -1;
    QT_OK(ops->event_elapsed_ms(ctx, e0, e1, &ms));
    QT_CHECK(ms >= 0 && ms < 1000, "event time %.4f ms", ms);
    ops->event_destroy(ctx, e0);
    ops->event_destroy(ctx, e1);
    gt_download(ctx, hy, j.y, sizeof(float) * (size_t)n);
    unsigned char b[4];
    memcpy(b, &hy[n - 1], 4);
    QT_CHECK(b[0] == 0x3f && b[3] == 0x3f, "async memset landed");
    void *big = NULL;
    QT_STATUS(qg_malloc(ctx, &big, (size_t)1 << 50), QG_ERR_OUT_OF_MEMORY);
    gt_free(ctx, j.x);
    gt_free(ctx, j.y);
    ops->module_unload(ctx, mod);
    free(hx);
    free(hy);
}

/* ---------------------------------------------------------------- JIT phases */

typedef struct {
    qg_context *ctx;
    const qg_variant **list;
    int count;
    atomic_int next;
    qg_kernel **kernels;
    qg_status *status;
} get_job;

static void *get_worker(void *arg) {
    get_job *j = arg;
    for (int i; (i = atomic_fetch_add(&j->next, 1)) < j->count;)
        j->status[i] = qg_jit_get(j->ctx, j->list[i], &j->kernels[i]);
    return NULL;
}

/* qg_jit_get every variant on `threads` threads; returns wall ms. */
static double get_all(qg_context *ctx, const qg_variant **list, int count, int threads,
                      qg_kernel **kernels, qg_status *status) {
    get_job j = {.ctx = ctx, .list = list, .count = count, .kernels = kernels, .status = status};
    pthread_t t[64];
    if (threads > 64) threads = 64;
    const double t0 = now_ms();
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, get_worker, &j);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    return now_ms() - t0;
}

static int variants_for(const char *arch, const qg_variant ***out) {
    int n = 0;
    const qg_variant **list = calloc((size_t)qg_catalog_count() + 1, sizeof *list);
    for (int i = 0; i < qg_catalog_count(); i++) {
        const qg_family *f = qg_catalog_get(i)->family;
        char ext[QG_JIT_MAX_EXTRA_OPTIONS][QG_JIT_OPTION_LEN], what[256];
        int next = 0;
        /* a family whose header package is absent here (CUTLASS) cannot compile: not listed */
        if (f->jit_options && f->jit_options(ext, &next, what, sizeof what) != QG_SUCCESS) continue;
        if (qg_family_targets_arch(f, arch)) list[n++] = qg_catalog_get(i);
    }
    *out = list;
    return n;
}

static void cold_phase(qg_context *ctx, int threads) {
    const qg_variant **list;
    const int n = variants_for(ctx->info.arch, &list);
    qg_kernel **k = calloc((size_t)n + 1, sizeof *k);
    qg_status *st = calloc((size_t)n + 1, sizeof *st);
    double *ms = calloc((size_t)n + 1, sizeof *ms);
    printf("cold: compiling %d variants for %s on %d threads\n", n, ctx->info.arch, threads);
    const double wall = get_all(ctx, list, n, threads, k, st);
    int ok = 0;
    for (int i = 0; i < n; i++) {
        if (!QT_CHECK(st[i] == QG_SUCCESS && k[i] && k[i]->fn, "cold %s: %s", list[i]->id,
                      qg_status_name(st[i])))
            continue;
        QT_CHECK(!k[i]->from_disk && k[i]->compile_ms > 0, "%s compiled (not from disk)",
                 list[i]->id);
        ms[ok++] = k[i]->compile_ms;
        printf("  cold %-48s %9.1f ms\n", list[i]->id, k[i]->compile_ms);
    }
    if (n)
        printf("cold: %d variants, median compile %.1f ms, wall %.1f s\n", ok, median(ms, ok),
               wall / 1e3);
    if (n < 1) printf("cold: the catalog has no variant for %s yet\n", ctx->info.arch);

    /* Memory hits: the same kernel objects, concurrently, without compiling. */
    qg_kernel **again = calloc((size_t)n + 1, sizeof *again);
    const double hit_ms = get_all(ctx, list, n, threads, again, st);
    int same = 0;
    for (int i = 0; i < n; i++) same += st[i] == QG_SUCCESS && again[i] == k[i];
    QT_CHECK(same == n, "memory cache returned the same kernels (%d of %d) in %.2f ms", same, n,
             hit_ms);
    free(again);
    free(list);
    free(k);
    free(st);
    free(ms);
}

static void warm_phase(const char *cache_dir, int threads) {
    qg_context *ctx = open_ctx(cache_dir);
    if (!QT_CHECK(ctx != NULL, "second context")) return;
    const qg_variant **list;
    const int n = variants_for(ctx->info.arch, &list);
    double *ms = calloc((size_t)n + 1, sizeof *ms);
    int ok = 0, compiled = 0;
    const double t0 = now_ms();
    for (int i = 0; i < n; i++) { /* one at a time: per-variant load time */
        qg_kernel *k = NULL;
        const double t = now_ms();
        qg_status s = qg_jit_get(ctx, list[i], &k);
        const double dt = now_ms() - t;
        if (!QT_CHECK(s == QG_SUCCESS && k && k->fn, "warm %s: %s", list[i]->id, qg_last_error(ctx)))
            continue;
        if (!k->from_disk) compiled++;
        QT_CHECK(k->from_disk, "warm %s came from the disk cache (it was compiled)", list[i]->id);
        ms[ok++] = dt;
        printf("  warm %-48s %9.2f ms%s\n", list[i]->id, dt, k->from_disk ? "" : "  COMPILED");
    }
    printf("warm: %d variants loaded from %s, median load %.2f ms, total %.1f ms, %d compiled\n",
           ok, cache_dir, median(ms, ok), now_ms() - t0, compiled);
    (void)threads;
    free(ms);
    free(list);
    qg_context_destroy(ctx);
}

int main(int argc, char **argv) {
    const char *phase = "all", *dir = getenv("QGEMM_CACHE_DIR");
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads > 8) threads = 8;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--phase") && i + 1 < argc) phase = argv[++i];
        else if (!strcmp(argv[i], "--cache-dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "-j") && i + 1 < argc) threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--phase cold|warm|all] [--cache-dir DIR] [-j N]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1) threads = 1;
    const int cold = strcmp(phase, "warm") != 0, warm = 1;
    if (strcmp(phase, "cold") && strcmp(phase, "warm") && strcmp(phase, "all")) {
        fprintf(stderr, "unknown phase %s\n", phase);
        return 2;
    }
    qg_context *probe = open_ctx(NULL);
    if (!probe) {
        printf("0 passed, 0 failed (skipped: no GPU)\n");
        return 0;
    }
    qg_context_destroy(probe);
    char tmp[256];
    if (!dir || !*dir) {
        if (!cold) {
            fprintf(stderr,
                    "--phase warm needs the cold phase's cache dir (--cache-dir or QGEMM_CACHE_DIR)\n");
            return 2;
        }
        snprintf(tmp, sizeof tmp, "/tmp/qgemm-gpu-runtime-XXXXXX");
        dir = mkdtemp(tmp);
    }

    qg_context *ctx = open_ctx(dir);
    if (!QT_CHECK(ctx != NULL, "context with cache dir %s", dir)) return qt_finish("gpu_runtime");
    qg_device_info in;
    QT_OK(qg_context_device_info(ctx, &in));
    printf("device: %s, %s (cc %d.%d), %d SMs, L2 %d KB, smem opt-in %d B, %.1f GB, driver %d, "
           "compiler %d, backend %s\n",
           in.name, in.arch, in.cc_major, in.cc_minor, in.sm_count, in.l2_bytes / 1024, in.smem_optin,
           (double)in.total_mem / 1e9, in.driver_version, in.compiler_version, ctx->ops->name);
    printf("cache dir: %s, phase %s, %d catalog variants\n", qg_context_cache_dir(ctx), phase,
           qg_catalog_count());
    QT_CHECK(in.sm_count > 0 && in.l2_bytes > 0 && in.total_mem > 0 && in.driver_version > 0,
             "device info filled");
    QT_CHECK(in.compiler_version > 0 && in.smem_optin >= 48 * 1024, "compiler version and smem");
    QT_CHECK(strcmp(qg_context_cache_dir(ctx), dir) == 0, "cache dir as requested");
    if (in.cc_major == 9 && in.cc_minor == 0)
        QT_CHECK(strcmp(in.arch, "sm_90a") == 0, "H100 is sm_90a");

    if (cold) {
        test_backend(ctx);
        clear_arch_dir(dir, in.arch);
        cold_phase(ctx, threads);
    }
    qg_context_destroy(ctx); /* unloads every module */
    if (warm) warm_phase(dir, threads);
    return qt_finish("gpu_runtime");
}
