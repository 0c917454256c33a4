/*
 * Runtime error paths without a GPU: missing driver / compiler libraries (each scenario in its
 * own process, since libraries are looked up once per process), bad arguments to
 * qg_context_create, status names and strings, qg_last_error contents. Run under ASan/LSan in
 * CI: the error paths must not leak.
 */
#include "backend.h"
#include "jit.h"
#include "testutil.h"
#include "workspace.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NO_CUDA "/nonexistent/libcuda.so"
#define NO_HIP "/nonexistent/libamdhip64.so"

/* AUTO: CUDA missing, falls back to HIP, missing too: NO_DRIVER naming both libraries. */
static void no_driver_auto(void) {
    setenv("QGEMM_CUDA_LIBRARY", NO_CUDA, 1);
    setenv("QGEMM_HIP_LIBRARY", NO_HIP, 1);
    qg_context *ctx = (qg_context *)0x1;
    QT_STATUS(qg_context_create(&ctx, NULL), QG_ERR_NO_DRIVER);
    QT_CHECK(ctx == NULL, "out is NULL after a failure");
    const char *msg = qg_last_error(NULL);
    QT_CHECK(qt_contains(msg, NO_CUDA), "message names the CUDA library: %s", msg);
    QT_CHECK(qt_contains(msg, NO_HIP), "message names the HIP library: %s", msg);
    QT_CHECK(qt_contains(msg, "QGEMM_CUDA_LIBRARY"), "message says where the path came from: %s",
             msg);
    QT_CHECK(strncmp(msg, "QG_ERR_NO_DRIVER", 16) == 0, "message starts with the status: %s", msg);

    /* Explicit backends report their own library; repeated calls give the same answer. */
    qg_context_params p;
    qg_context_params_init(&p);
    p.backend = QG_BACKEND_CUDA;
    for (int i = 0; i < 2; i++) {
        QT_STATUS(qg_context_create(&ctx, &p), QG_ERR_NO_DRIVER);
        QT_CHECK(qt_contains(qg_last_error(NULL), NO_CUDA) &&
                     !qt_contains(qg_last_error(NULL), NO_HIP),
                 "CUDA-only message: %s", qg_last_error(NULL));
    }
    p.backend = QG_BACKEND_HIP;
    QT_STATUS(qg_context_create(&ctx, &p), QG_ERR_NO_DRIVER);
    QT_CHECK(qt_contains(qg_last_error(NULL), NO_HIP), "HIP message: %s", qg_last_error(NULL));
    p.device = 3; /* a device number is no reason to try harder */
    p.backend = QG_BACKEND_AUTO;
    QT_STATUS(qg_context_create(&ctx, &p), QG_ERR_NO_DRIVER);
}

/* A library that exists but is not libcuda (no cuInit): the driver is too old / wrong. */
static void driver_lacks_symbols(void) {
    setenv("QGEMM_CUDA_LIBRARY", "libm.so.6", 1);
    qg_context_params p;
    qg_context_params_init(&p);
    p.backend = QG_BACKEND_CUDA;
    qg_context *ctx = NULL;
    QT_STATUS(qg_context_create(&ctx, &p), QG_ERR_DRIVER_TOO_OLD);
    QT_CHECK(qt_contains(qg_last_error(NULL), "cuInit") &&
                 qt_contains(qg_last_error(NULL), "libm.so.6"),
             "message names library and symbol: %s", qg_last_error(NULL));
    QT_CHECK(ctx == NULL, "no context");
}

/* HIP runtime present or not, there is no AMD GPU here: never a crash, a clear status. */
static void hip_without_gpu(void) {
    qg_context_params p;
    qg_context_params_init(&p);
    p.backend = QG_BACKEND_HIP;
    qg_context *ctx = NULL;
    qg_status s = qg_context_create(&ctx, &p);
    QT_CHECK(s == QG_ERR_NO_DRIVER || s == QG_ERR_NO_DEVICE, "HIP without a GPU: %s (%s)",
             qg_status_name(s), qg_last_error(NULL));
    QT_CHECK(ctx == NULL && qg_last_error(NULL)[0], "no context, a message");
    printf("  HIP backend here: %s\n", qg_last_error(NULL));
}

static void no_nvrtc(void) {
    setenv("QGEMM_NVRTC_LIBRARY", "/nonexistent/libnvrtc.so", 1);
    char why[512] = "";
    QT_STATUS(qg_compiler_nvrtc.load(why, sizeof why), QG_ERR_NO_COMPILER);
    QT_CHECK(qt_contains(why, "/nonexistent/libnvrtc.so"), "reason names the library: %s", why);
    QT_CHECK(qg_compiler_nvrtc.version() == 0, "no version without NVRTC");
    qg_check_result r;
    QT_STATUS(qg_check_catalog("sm_90a", 1, NULL, NULL, &r), QG_ERR_NO_COMPILER);
    QT_CHECK(qt_contains(qg_last_error(NULL), "/nonexistent/libnvrtc.so"), "check says why: %s",
             qg_last_error(NULL));
    void *img = (void *)1;
    size_t n = 1;
    char *log = (char *)1;
    QT_STATUS(qg_compiler_nvrtc.compile("", "x.cu", "sm_80", NULL, 0, &img, &n, &log),
              QG_ERR_NO_COMPILER);
    QT_CHECK(img == NULL && n == 0 && log == NULL, "outputs cleared on failure");
}

static void no_hiprtc(void) {
    setenv("QGEMM_HIPRTC_LIBRARY", "/nonexistent/libhiprtc.so", 1);
    static const int params[][QG_MAX_PARAMS] = {{1}};
    static const qg_family fam = {.name = "x",
                                  .source = "qg_prelude.cuh",
                                  .entry = "x",
                                  .hip = 1,
                                  .num_params = 1,
                                  .param_names = {"a"},
                                  .num_variants = 1,
                                  .variants = params};
    qg_variant v = {.family = &fam, .params = params[0], .index = -1, .id = "x.a1"};
    void *img = NULL;
    size_t n = 0;
    char *log = NULL;
    double ms = 0;
    QT_STATUS(qg_jit_compile(&v, "gfx90a", &img, &n, &log, &ms), QG_ERR_NO_COMPILER);
    QT_CHECK(qt_contains(qg_last_error(NULL), "/nonexistent/libhiprtc.so"), "message: %s",
             qg_last_error(NULL));
    QT_CHECK(img == NULL && log == NULL, "nothing allocated");
}

/* ---------------------------------------------------------------- fake driver (tests/fake_cuda.c) */

#include <dlfcn.h>
#include <pthread.h>

enum {
    F_RETAIN,
    F_RELEASE,
    F_LOADED,
    F_UNLOADED,
    F_LAUNCHES,
    F_SMEM,
    F_CTX_ERRORS,
    F_ALLOCS,
    F_FREES
};

static void fake_stats(int out[9]) {
    memset(out, 0, 9 * sizeof *out);
    void *h = dlopen(QG_FAKE_CUDA, RTLD_NOW | RTLD_NOLOAD);
    void (*fn)(int *) = h ? (void (*)(int *))dlsym(h, "fake_cuda_stats") : NULL;
    if (fn) fn(out);
    else QT_CHECK(0, "fake driver stats not found");
    if (h) dlclose(h);
}

static qg_status fake_create(qg_context **ctx, int device) {
    setenv("QGEMM_CUDA_LIBRARY", QG_FAKE_CUDA, 1);
    qg_context_params p;
    qg_context_params_init(&p);
    p.backend = QG_BACKEND_CUDA;
    p.device = device;
    p.disable_disk_cache = 1;
    return qg_context_create(ctx, &p);
}

static void fake_init_no_device(void) {
    setenv("FAKE_CUDA_INIT", "100", 1); /* CUDA_ERROR_NO_DEVICE */
    qg_context *ctx = NULL;
    QT_STATUS(fake_create(&ctx, 0), QG_ERR_NO_DEVICE);
    QT_CHECK(qt_contains(qg_last_error(NULL), "cuInit") &&
                 qt_contains(qg_last_error(NULL), "CUDA_ERROR_NO_DEVICE"),
             "message: %s", qg_last_error(NULL));
    int st[9];
    fake_stats(st);
    QT_CHECK(st[F_RETAIN] == 0, "nothing retained");
}

static void fake_init_other_error(void) {
    setenv("FAKE_CUDA_INIT", "999", 1); /* CUDA_ERROR_UNKNOWN */
    qg_context *ctx = NULL;
    QT_STATUS(fake_create(&ctx, 0), QG_ERR_DEVICE);
    QT_CHECK(qt_contains(qg_last_error(NULL), "CUDA_ERROR_FAKE") &&
                 qt_contains(qg_last_error(NULL), "fake driver error"),
             "name and string: %s", qg_last_error(NULL));
}

static void fake_zero_devices(void) {
    setenv("FAKE_CUDA_COUNT", "0", 1);
    qg_context *ctx = NULL;
    QT_STATUS(fake_create(&ctx, 0), QG_ERR_NO_DEVICE);
    QT_CHECK(qt_contains(qg_last_error(NULL), "no device"), "message: %s", qg_last_error(NULL));
}

static void fake_bad_ordinal(void) {
    setenv("FAKE_CUDA_COUNT", "2", 1);
    qg_context *ctx = NULL;
    QT_STATUS(fake_create(&ctx, 2), QG_ERR_NO_DEVICE);
    QT_CHECK(qt_contains(qg_last_error(NULL), "device 2") &&
                 qt_contains(qg_last_error(NULL), "2 present"),
             "message: %s", qg_last_error(NULL));
    QT_OK(fake_create(&ctx, 1));
    qg_context_destroy(ctx);
    int st[9];
    fake_stats(st);
    QT_CHECK(st[F_RETAIN] == 1 && st[F_RELEASE] == 1, "retained once, released once (%d/%d)",
             st[F_RETAIN], st[F_RELEASE]);
}

static void fake_no_nvrtc(void) {
    setenv("QGEMM_NVRTC_LIBRARY", "/nonexistent/libnvrtc.so", 1);
    qg_context *ctx = NULL;
    QT_STATUS(fake_create(&ctx, 0), QG_ERR_NO_COMPILER);
    QT_CHECK(qt_contains(qg_last_error(NULL), "/nonexistent/libnvrtc.so"), "message: %s",
             qg_last_error(NULL));
    int st[9];
    fake_stats(st);
    QT_CHECK(st[F_RETAIN] == st[F_RELEASE], "open released what it took (%d/%d)", st[F_RETAIN],
             st[F_RELEASE]);
}

/* A cache directory longer than a context holds is an error naming where it came from, never
 * a directory cut short (issue 15: QGEMM_CACHE_DIR was truncated silently). */
static void fake_long_cache_dir(void) {
    setenv("QGEMM_CUDA_LIBRARY", QG_FAKE_CUDA, 1);
    char *long_dir = malloc(2100);
    if (!QT_CHECK(long_dir != NULL, "malloc")) return;
    strcpy(long_dir, "/tmp/qgemm-long");
    while (strlen(long_dir) < 2000) strcat(long_dir, "/abcdefghij");
    qg_context_params p;
    qg_context_params_init(&p);
    p.backend = QG_BACKEND_CUDA;
    qg_context *ctx = (qg_context *)0x1;
    setenv("QGEMM_CACHE_DIR", long_dir, 1);
    QT_STATUS(qg_context_create(&ctx, &p), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(ctx == NULL, "out is NULL after a failure");
    QT_CHECK(qt_contains(qg_last_error(NULL), "QGEMM_CACHE_DIR"), "names the variable: %s",
             qg_last_error(NULL));
    unsetenv("QGEMM_CACHE_DIR");
    p.cache_dir = long_dir;
    QT_STATUS(qg_context_create(&ctx, &p), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(qt_contains(qg_last_error(NULL), "params.cache_dir"), "names the field: %s",
             qg_last_error(NULL));
    /* a disabled disk cache needs no directory */
    p.disable_disk_cache = 1;
    QT_OK(qg_context_create(&ctx, &p));
    qg_context_destroy(ctx);
    p.disable_disk_cache = 0;
    p.cache_dir = "/tmp/qgemm-short-cache-dir-test";
    QT_OK(qg_context_create(&ctx, &p));
    QT_CHECK(strcmp(qg_context_cache_dir(ctx), p.cache_dir) == 0, "cache dir %s",
             qg_context_cache_dir(ctx));
    qg_context_destroy(ctx);
    int st[9];
    fake_stats(st);
    QT_CHECK(st[F_RETAIN] == st[F_RELEASE], "every context released its device (%d/%d)",
             st[F_RETAIN], st[F_RELEASE]);
    free(long_dir);
}

/* Like copy_on_new_thread, on a thread where another library's context is current: it must be
 * current again afterwards (a torch thread working on another GPU keeps its device). */
static void *copy_with_foreign_context(void *arg);

static void *copy_on_new_thread(void *arg) {
    qg_context *ctx = arg;
    unsigned char in[256], out[256];
    for (int i = 0; i < 256; i++) in[i] = (unsigned char)(i * 7 + 1);
    void *d = NULL;
    if (qg_malloc(ctx, &d, sizeof in) != QG_SUCCESS) return (void *)1;
    qg_status s = qg_memcpy_htod(ctx, d, in, sizeof in);
    if (s == QG_SUCCESS) s = qg_memcpy_dtoh(ctx, out, d, sizeof out);
    if (s == QG_SUCCESS) s = qg_free(ctx, d);
    return (void *)(uintptr_t)(s != QG_SUCCESS || memcmp(in, out, sizeof in) != 0);
}

static void *copy_with_foreign_context(void *arg) {
    void *h = dlopen(QG_FAKE_CUDA, RTLD_NOW | RTLD_NOLOAD);
    void (*use_other)(void) = h ? (void (*)(void))dlsym(h, "fake_cuda_use_other_context") : NULL;
    int (*is_other)(void) = h ? (int (*)(void))dlsym(h, "fake_cuda_current_is_other") : NULL;
    if (h) dlclose(h);
    if (!use_other || !is_other) return (void *)2;
    use_other();
    void *r = copy_on_new_thread(arg);
    if (!is_other()) return (void *)3;
    return r;
}

static void fake_device_ok(void) {
    qg_context *ctx = NULL;
    QT_OK(fake_create(&ctx, 0));
    if (!ctx) return;
    qg_device_info in;
    QT_OK(qg_context_device_info(ctx, &in));
    QT_CHECK(strcmp(in.arch, "sm_90a") == 0 && in.cc_major == 9 && in.cc_minor == 0,
             "cc 9.0 is sm_90a (%s)", in.arch);
    QT_CHECK(strcmp(in.name, "Fake GPU") == 0 && in.sm_count == 132 && in.l2_bytes == 50 << 20 &&
                 in.smem_optin == 232448 && in.driver_version == 13000 &&
                 in.total_mem == (size_t)80 << 30 && in.backend == QG_BACKEND_CUDA,
             "device info filled");
    QT_CHECK(in.compiler_version == qg_compiler_nvrtc.version() && in.compiler_version > 0,
             "compiler version from NVRTC");
    QT_CHECK(strcmp(qg_context_cache_dir(ctx), "") == 0, "disk cache disabled");

    /* Memory helpers on this thread and on threads that never made the context current. */
    uint64_t host[64], back[64];
    for (int i = 0; i < 64; i++) host[i] = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
    void *d = NULL;
    QT_OK(qg_malloc(ctx, &d, sizeof host));
    QT_OK(qg_memcpy_htod(ctx, d, host, sizeof host));
    QT_OK(qg_memset_d8(ctx, (char *)d + 8, 0xab, 8));
    QT_OK(qg_memcpy_dtoh(ctx, back, d, sizeof back));
    QT_CHECK(back[0] == host[0] && back[1] == 0xababababababababull && back[2] == host[2],
             "memory round trip");
    QT_OK(qg_synchronize(ctx));
    QT_OK(qg_free(ctx, d));
    QT_OK(qg_free(ctx, NULL));
    QT_STATUS(qg_malloc(ctx, &d, (size_t)1 << 50), QG_ERR_OUT_OF_MEMORY);
    QT_CHECK(d == NULL && qt_contains(qg_last_error(ctx), "CUDA_ERROR_OUT_OF_MEMORY"),
             "OOM message: %s", qg_last_error(ctx));
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, i % 2 ? copy_with_foreign_context : copy_on_new_thread, ctx);
    for (int i = 0; i < 4; i++) {
        void *bad = (void *)1;
        pthread_join(t[i], &bad);
        QT_CHECK(bad == NULL, "thread %d: memory ops on a %s thread (%p)", i,
                 i % 2 ? "foreign-context" : "fresh", bad);
    }
    /* Events. */
    void *e0 = NULL, *e1 = NULL;
    float ms = -1;
    QT_OK(ctx->ops->event_create(ctx, &e0));
    QT_OK(ctx->ops->event_create(ctx, &e1));
    QT_OK(ctx->ops->event_record(ctx, e0, NULL));
    QT_OK(ctx->ops->event_record(ctx, e1, NULL));
    QT_OK(ctx->ops->event_elapsed_ms(ctx, e0, e1, &ms));
    QT_CHECK(ms == 0.5f, "elapsed %f", ms);
    ctx->ops->event_destroy(ctx, e0);
    ctx->ops->event_destroy(ctx, e1);

    qg_context *second = NULL;
    QT_OK(fake_create(&second, 0)); /* two contexts share the primary context */
    qg_context_destroy(second);
    qg_context_destroy(ctx);
    int st[9];
    fake_stats(st);
    QT_CHECK(st[F_RETAIN] == 2 && st[F_RELEASE] == 2, "retain/release balanced (%d/%d)",
             st[F_RETAIN], st[F_RELEASE]);
    QT_CHECK(st[F_ALLOCS] == st[F_FREES] && st[F_ALLOCS] >= 5, "allocations freed (%d/%d)",
             st[F_ALLOCS], st[F_FREES]);
    QT_CHECK(st[F_CTX_ERRORS] == 0, "no call ran without a current context (%d)", st[F_CTX_ERRORS]);
}

static void fake_ampere(void) {
    setenv("FAKE_CUDA_CC", "86", 1);
    qg_context *ctx = NULL;
    QT_OK(fake_create(&ctx, 0));
    QT_CHECK(ctx && strcmp(ctx->info.arch, "sm_86") == 0, "cc 8.6 is sm_86 (%s)",
             ctx ? ctx->info.arch : "");
    qg_context_destroy(ctx);
}

/* ---- per-stream workspaces (src/runtime/workspace.c): concurrent streams never share one */

static void set_capturing(void *stream, int on) {
    void *h = dlopen(QG_FAKE_CUDA, RTLD_NOW | RTLD_NOLOAD);
    void (*fn)(void *, int) = h ? (void (*)(void *, int))dlsym(h, "fake_cuda_set_capturing") : NULL;
    if (h) dlclose(h);
    if (fn) fn(stream, on);
    else QT_CHECK(0, "fake_cuda_set_capturing not found");
}

/* Is the device buffer all zero? (fake allocations start as 0xa5 garbage) */
static int device_zero(qg_context *ctx, const void *p, size_t bytes) {
    unsigned char *h = malloc(bytes);
    int zero = h && qg_memcpy_dtoh(ctx, h, p, bytes) == QG_SUCCESS;
    for (size_t i = 0; zero && i < bytes; i++) zero = h[i] == 0;
    free(h);
    return zero;
}

typedef struct {
    qg_context *ctx;
    void *stream;
    void *ptr; /* the one pointer every call returned, NULL if they differed or failed */
} ws_thread;

static void *workspace_thread(void *arg) {
    ws_thread *t = arg;
    for (int i = 0; i < 200; i++) {
        void *p = NULL;
        size_t n = 0;
        if (qg_workspace_get(t->ctx, t->stream, 512 + (size_t)i, &p, &n) != QG_SUCCESS ||
            (i && p != t->ptr) || n < 512 + (size_t)i) {
            t->ptr = NULL;
            return NULL;
        }
        t->ptr = p;
    }
    return NULL;
}

static void fake_stream_workspaces(void) {
    qg_context *ctx = NULL;
    QT_OK(fake_create(&ctx, 0));
    if (!ctx) return;
    void *const s1 = (void *)0x1000, *const s2 = (void *)0x2000, *const s3 = (void *)0x3000;
    void *p0, *p1, *p2, *p3, *q;
    size_t n0, n1, n2, n3, n;
    QT_OK(qg_workspace_get(ctx, NULL, 0, &q, &n));
    QT_CHECK(!q && !n, "a kernel that needs none gets none");
    QT_OK(qg_workspace_get(ctx, NULL, 4096, &p0, &n0)); /* as qg_prepare sizes it */
    QT_OK(qg_workspace_get(ctx, s1, 1000, &p1, &n1));
    QT_OK(qg_workspace_get(ctx, s2, 1000, &p2, &n2));
    QT_CHECK(p0 && p1 && p2 && p0 != p1 && p0 != p2 && p1 != p2,
             "one workspace per stream "
             "(%p %p %p)",
             p0, p1, p2);
    QT_CHECK(n0 == 4096 && n1 == 4096 && n2 == 4096,
             "a new stream's is at least the prepared "
             "size (%zu %zu %zu)",
             n0, n1, n2);
    QT_CHECK(device_zero(ctx, p0, n0) && device_zero(ctx, p1, n1) && device_zero(ctx, p2, n2),
             "fresh workspaces are zeroed");
    QT_OK(qg_workspace_get(ctx, s1, 4096, &q, &n));
    QT_CHECK(q == p1 && n == 4096, "same stream, same workspace");
    QT_OK(qg_workspace_get(ctx, NULL, 10, &q, &n));
    QT_CHECK(q == p0, "same for the NULL stream");

    /* Growing one stream's replaces only its buffer, zeroed. */
    int st[9], st2[9];
    fake_stats(st);
    unsigned char junk[64];
    memset(junk, 0x5a, sizeof junk);
    QT_OK(qg_memcpy_htod(ctx, p1, junk, sizeof junk));
    QT_OK(qg_workspace_get(ctx, s1, 100000, &p1, &n1));
    fake_stats(st2);
    QT_CHECK(n1 == 100000 && device_zero(ctx, p1, n1), "grown to %zu bytes, zeroed", n1);
    QT_CHECK(st2[F_ALLOCS] == st[F_ALLOCS] + 1 && st2[F_FREES] == st[F_FREES] + 1,
             "one buffer replaced (allocs %d->%d, frees %d->%d)", st[F_ALLOCS], st2[F_ALLOCS],
             st[F_FREES], st2[F_FREES]);
    QT_OK(qg_workspace_get(ctx, s2, 10, &q, &n));
    QT_CHECK(q == p2 && n == n2, "the other stream's is untouched");

    /* Capturing streams allocate nothing: they fall back to the NULL stream's workspace. */
    set_capturing(s3, 1);
    fake_stats(st);
    QT_OK(qg_workspace_get(ctx, s3, 4000, &q, &n));
    QT_CHECK(q == p0 && n == n0, "a capturing stream with no workspace uses the prepared one");
    QT_STATUS(qg_workspace_get(ctx, s3, 8192, &q, &n), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(!q && qt_contains(qg_last_error(ctx), "qg_prepare"), "too small: says to prepare: %s",
             qg_last_error(ctx));
    QT_OK(qg_workspace_get(ctx, s1, 50000, &q, &n));
    QT_CHECK(q == p1, "a stream with its own keeps it while another captures");
    set_capturing(s1, 1);
    QT_OK(qg_workspace_get(ctx, s1, 100000, &q, &n));
    QT_CHECK(q == p1, "and while it captures itself");
    QT_STATUS(qg_workspace_get(ctx, s1, 200000, &q, &n), QG_ERR_INVALID_ARGUMENT);
    fake_stats(st2);
    QT_CHECK(st2[F_ALLOCS] == st[F_ALLOCS] && st2[F_FREES] == st[F_FREES],
             "nothing allocated or freed during capture");
    set_capturing(s1, 0);
    set_capturing(s3, 0);
    QT_OK(qg_workspace_get(ctx, s3, 4000, &p3, &n3));
    QT_CHECK(p3 && p3 != p0 && p3 != p1 && p3 != p2, "after capture the stream gets its own");

    /* Many streams (the table grows), and threads each on its own stream at once. */
    void *seen[40];
    int distinct = 1;
    for (int i = 0; i < 40; i++) {
        QT_OK(qg_workspace_get(ctx, (void *)(uintptr_t)(0x10000 + 16 * i), 64, &seen[i], &n));
        for (int j = 0; j < i; j++) distinct &= seen[i] != seen[j];
    }
    for (int i = 0; i < 40; i++) {
        QT_OK(qg_workspace_get(ctx, (void *)(uintptr_t)(0x10000 + 16 * i), 64, &q, &n));
        distinct &= q == seen[i];
    }
    QT_CHECK(distinct, "40 streams: 40 workspaces, each stable");
    enum { THREADS = 8 };
    pthread_t th[THREADS];
    ws_thread t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        t[i] = (ws_thread){ctx, (void *)(uintptr_t)(0x90000 + 16 * i), NULL};
        pthread_create(&th[i], NULL, workspace_thread, &t[i]);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    distinct = 1;
    for (int i = 0; i < THREADS; i++)
        for (int j = 0; j < i; j++) distinct &= t[i].ptr && t[i].ptr != t[j].ptr;
    QT_CHECK(distinct && t[0].ptr, "%d threads on %d streams: one stable workspace each", THREADS,
             THREADS);
    /* CU_STREAM_PER_THREAD (2) is one handle but a different stream in each thread. */
    void *const per_thread = (void *)(uintptr_t)2;
    for (int i = 0; i < 2; i++) {
        t[i] = (ws_thread){ctx, per_thread, NULL};
        pthread_create(&th[i], NULL, workspace_thread, &t[i]);
    }
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    QT_OK(qg_workspace_get(ctx, per_thread, 64, &q, &n));
    QT_OK(qg_workspace_get(ctx, per_thread, 64, &p3, &n));
    QT_CHECK(t[0].ptr && t[1].ptr && t[0].ptr != t[1].ptr && q != t[0].ptr && q != t[1].ptr && q == p3,
             "the per-thread default stream: one workspace per thread");
    qg_context_destroy(ctx);
    fake_stats(st);
    QT_CHECK(st[F_ALLOCS] == st[F_FREES], "destroy frees every workspace (%d/%d)", st[F_ALLOCS],
             st[F_FREES]);
}

static void bad_arguments(void) {
    QT_STATUS(qg_context_create(NULL, NULL), QG_ERR_NULL_POINTER);
    QT_CHECK(qt_contains(qg_last_error(NULL), "out"), "names the argument: %s", qg_last_error(NULL));
    qg_context *ctx = (qg_context *)0x1;
    qg_context_params p;
    qg_context_params_init(&p);
    QT_CHECK(p.struct_size == sizeof p && p.backend == QG_BACKEND_AUTO && p.device == 0, "defaults");
    p.struct_size = 0;
    QT_STATUS(qg_context_create(&ctx, &p), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(ctx == NULL, "out cleared");
    QT_CHECK(qt_contains(qg_last_error(NULL), "struct_size"), "says struct_size: %s",
             qg_last_error(NULL));
    qg_context_params_init(&p);
    p.device = -1;
    QT_STATUS(qg_context_create(&ctx, &p), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(qt_contains(qg_last_error(NULL), "-1"), "names the device: %s", qg_last_error(NULL));
    qg_context_destroy(NULL); /* no-op */
    qg_device_info info;
    QT_STATUS(qg_context_device_info(NULL, &info), QG_ERR_NULL_POINTER);
    QT_CHECK(strcmp(qg_context_cache_dir(NULL), "") == 0, "no cache dir without a context");
}

static void status_names(void) {
#define QG_X_(name, value, desc)                                             \
    QT_CHECK((int)name == value, "%s has its fixed value", #name);           \
    QT_CHECK(strcmp(qg_status_name(name), #name) == 0, "name of %s", #name); \
    QT_CHECK(strcmp(qg_status_string(name), desc) == 0 && desc[0], "string of %s", #name);
    QG_STATUS_LIST(QG_X_)
#undef QG_X_
    QT_CHECK(strcmp(qg_status_name((qg_status)1000), "QG_UNKNOWN_STATUS") == 0, "unknown name");
    QT_CHECK(qg_status_string((qg_status)-5) != NULL && qg_status_string((qg_status)-5)[0],
             "unknown string");
}

static void last_error_format(void) {
    qg_status s = QG_ERROR(NULL, QG_ERR_IO, "disk %s is full", "/x");
    QT_CHECK(s == QG_ERR_IO, "QG_ERROR returns its status");
    const char *m = qg_last_error(NULL);
    QT_CHECK(strncmp(m, "QG_ERR_IO: disk /x is full (test_runtime_errors.c:", 49) == 0,
             "status, message, file:line: %s", m);
    /* A very long message is cut, not overflowed. */
    char big[3 * QG_ERRMSG_LEN];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    QG_ERROR(NULL, QG_ERR_INTERNAL, "%s", big);
    QT_CHECK(strlen(qg_last_error(NULL)) == QG_ERRMSG_LEN - 1, "long message truncated");
}

/* ---- the launch path (src/runtime/cuda_graph_launch.c): re-pointed graphs per (stream, kernel,
 * geometry), direct launches while capturing, past the slot table and with QGEMM_LAUNCH=direct */

typedef struct {
    void (*graph_stats)(int *);
    void (*capture)(const int *, int);
    const unsigned char *(*captured)(unsigned *);
} fake_launch_hooks;

static int fake_launch_hooks_get(fake_launch_hooks *f) {
    void *h = dlopen(QG_FAKE_CUDA, RTLD_NOW | RTLD_NOLOAD);
    if (!h) return 0;
    *(void **)&f->graph_stats = dlsym(h, "fake_cuda_graph_stats");
    *(void **)&f->capture = dlsym(h, "fake_cuda_capture_params");
    *(void **)&f->captured = dlsym(h, "fake_cuda_captured");
    dlclose(h);
    return f->graph_stats && f->capture && f->captured;
}

/* Launch k's function with three u64 arguments {v, v + 1, v + 2} on `stream`; 1 if the driver
 * ran it with exactly those values and this geometry. */
static int launch_checked(qg_context *ctx, const fake_launch_hooks *f, void *fn, void *stream,
                          uint64_t v, unsigned grid) {
    uint64_t a[3] = {v, v + 1, v + 2};
    void *params[3] = {&a[0], &a[1], &a[2]};
    const unsigned g[3] = {grid, 2, 1}, b[3] = {128, 1, 1};
    if (ctx->ops->launch(ctx, fn, g, b, 1024, stream, params) != QG_SUCCESS) return 0;
    a[0] = a[1] = a[2] = 0xdead; /* the launch must have copied the values already */
    unsigned geo[7];
    const unsigned char *got = f->captured(geo);
    uint64_t seen[3];
    memcpy(seen, got, sizeof seen);
    return seen[0] == v && seen[1] == v + 1 && seen[2] == v + 2 && geo[0] == grid && geo[1] == 2 &&
           geo[3] == 128 && geo[6] == 1024;
}

/* A fake-driver context created under QGEMM_LAUNCH=mode, and v compiled and loaded in it. */
static qg_kernel *fake_context_with_kernel(const char *mode, const qg_variant *v, qg_context **ctx) {
    setenv("QGEMM_LAUNCH", mode, 1);
    qg_kernel *k = NULL;
    *ctx = NULL;
    QT_OK(fake_create(ctx, 0));
    if (*ctx) QT_OK(qg_jit_get(*ctx, v, &k));
    return k;
}

static void fake_launch_path(void) {
    unsetenv("QGEMM_LAUNCH");
    qg_context *ctx = NULL;
    QT_OK(fake_create(&ctx, 0));
    fake_launch_hooks f = {0};
    qg_kernel *k = NULL;
    const qg_variant *v = qg_catalog_find("act_quant_fp8.threads128.vpt2");
    if (!ctx || !QT_CHECK(fake_launch_hooks_get(&f), "fake driver launch hooks") ||
        !QT_CHECK(v != NULL, "act_quant_fp8.threads128.vpt2 in the catalog")) {
        qg_context_destroy(ctx);
        return;
    }
    QT_OK(qg_jit_get(ctx, v, &k));
    if (!k) {
        qg_context_destroy(ctx);
        return;
    }
    static const int sizes[3] = {8, 8, 8};
    f.capture(sizes, 3);
    int g0[4], g1[4], st0[9], st1[9];
    f.graph_stats(g0);
    void *const s1 = (void *)0x1000, *const s2 = (void *)0x2000, *const s3 = (void *)0x3000;
    int ok = 1;
    for (int i = 0; i < 6; i++)
        ok &= launch_checked(ctx, &f, k->fn, i % 2 ? s2 : s1, 100 * (uint64_t)i + 7, 3);
    f.graph_stats(g1);
    QT_CHECK(ok, "every launch ran with its own arguments and geometry");
    QT_CHECK(g1[0] - g0[0] == 6 && g1[1] - g0[1] == 4 && g1[3] == g0[3],
             "6 launches through 2 "
             "stream graphs (%d graph launches, %d argument updates, %d geometry changes; want 6, "
             "4, 0)",
             g1[0] - g0[0], g1[1] - g0[1], g1[3] - g0[3]);

    /* new geometries on one stream: a graph each up to 4, then the 4 re-pointed in turn */
    ok = 1;
    f.graph_stats(g0);
    for (unsigned i = 0; i < 6; i++) ok &= launch_checked(ctx, &f, k->fn, s3, 200 + i, 10 + i);
    f.graph_stats(g1);
    QT_CHECK(ok, "6 geometries: every launch ran with its own arguments and geometry");
    QT_CHECK(g1[0] - g0[0] == 6 && g1[1] - g0[1] == 2 && g1[3] - g0[3] == 2,
             "6 geometries: 4 graphs "
             "built, 2 re-pointed (%d graph launches, %d updates, %d geometry changes; want 6, 2, 2)",
             g1[0] - g0[0], g1[1] - g0[1], g1[3] - g0[3]);
    f.graph_stats(g0);
    ok = launch_checked(ctx, &f, k->fn, s3, 300, 15) && launch_checked(ctx, &f, k->fn, s3, 301, 12);
    f.graph_stats(g1);
    QT_CHECK(ok && g1[0] - g0[0] == 2 && g1[3] == g0[3],
             "geometries 15 and 12 again: their graphs "
             "hold them (%d geometry changes, want 0)",
             g1[3] - g0[3]);

    /* a capturing stream: a direct launch, so the kernel becomes a node of the user's graph */
    set_capturing(s1, 1);
    fake_stats(st0);
    QT_CHECK(launch_checked(ctx, &f, k->fn, s1, 555, 5), "launch while capturing");
    fake_stats(st1);
    f.graph_stats(g0);
    set_capturing(s1, 0);
    QT_CHECK(g0[0] == g1[0] && st1[F_LAUNCHES] == st0[F_LAUNCHES] + 1,
             "capturing: launched directly");

    /* two kernels in turn on one stream: a graph each, never re-pointed at another function */
    const qg_variant *v2 = qg_catalog_find("act_quant_fp8.threads256.vpt2");
    qg_kernel *k2 = NULL;
    if (QT_CHECK(v2 != NULL, "act_quant_fp8.threads256.vpt2 in the catalog"))
        QT_OK(qg_jit_get(ctx, v2, &k2));
    if (k2) {
        f.graph_stats(g0);
        ok = 1;
        for (int i = 0; i < 8; i++)
            ok &= launch_checked(ctx, &f, i % 2 ? k2->fn : k->fn, s1, 300 + (uint64_t)i, 3);
        f.graph_stats(g1);
        QT_CHECK(ok, "two kernels in turn: every launch ran with its own arguments and geometry");
        QT_CHECK(g1[0] - g0[0] == 8 && g1[2] == g0[2] && g1[3] == g0[3],
                 "two kernels in turn: 8 "
                 "graph launches (%d), no node re-pointed at another function (%d) or geometry (%d)",
                 g1[0] - g0[0], g1[2] - g0[2], g1[3] - g0[3]);
    }

    /* more (stream, kernel) pairs than graph slots (512; 4 taken): the rest launch directly,
     * still correct */
    ok = 1;
    f.graph_stats(g0);
    for (uintptr_t i = 0; i < 600; i++)
        ok &= launch_checked(ctx, &f, k->fn, (void *)(0x10000 + 16 * i), 1000 + i, 7);
    f.graph_stats(g1);
    QT_CHECK(ok, "600 more streams: every launch ran with its arguments");
    QT_CHECK(g1[0] - g0[0] == 508, "the 512-slot table: 508 new streams through graphs (%d)",
             g1[0] - g0[0]);
    QT_CHECK(launch_checked(ctx, &f, k->fn, s2, 42, 9), "an early stream keeps its graph");
    f.graph_stats(g0);
    QT_CHECK(g0[0] == g1[0] + 1, "early stream: graph launch");
    /* a launch the driver refuses (no grid) is reported, not swallowed by the graph path */
    uint64_t a = 1;
    void *pa[1] = {&a};
    const unsigned zero[3] = {0, 1, 1}, blk[3] = {128, 1, 1};
    QT_STATUS(ctx->ops->launch(ctx, k->fn, zero, blk, 0, s2, pa), QG_ERR_LAUNCH);
    QT_CHECK(qt_contains(qg_last_error(ctx), "cuLaunchKernel failed"), "refused launch: %s",
             qg_last_error(ctx));
    qg_context_destroy(ctx);

    if ((k = fake_context_with_kernel("direct", v, &ctx))) {
        f.graph_stats(g0);
        QT_CHECK(launch_checked(ctx, &f, k->fn, s1, 77, 3), "QGEMM_LAUNCH=direct: launch");
        f.graph_stats(g1);
        QT_CHECK(g1[0] == g0[0] && g1[1] == g0[1], "QGEMM_LAUNCH=direct: no graph used");
    }
    qg_context_destroy(ctx);
    unsetenv("QGEMM_LAUNCH");
}

/* Many threads launching on one context at once, new streams appearing while others launch:
 * every launch succeeds and goes through a graph (fewer streams than slots). The fake keeps
 * no per-launch record under threads, so this counts; ThreadSanitizer builds check the rest. */
typedef struct {
    qg_context *ctx;
    void *fn;
    int id, failed;
} launch_thread;

static void *launch_thread_main(void *arg) {
    launch_thread *t = arg;
    uint64_t a[3] = {(uint64_t)t->id, 1, 2};
    void *params[3] = {&a[0], &a[1], &a[2]};
    const unsigned g[3] = {2, 1, 1}, b[3] = {64, 1, 1};
    for (int i = 0; i < 400; i++) {
        void *stream = (void *)(uintptr_t)(0x100000 + 16 * ((t->id + i) % 24)); /* 24 streams */
        a[1] = (uint64_t)i;
        t->failed += t->ctx->ops->launch(t->ctx, t->fn, g, b, 0, stream, params) != QG_SUCCESS;
    }
    return NULL;
}

static void fake_concurrent_launches(void) {
    fake_launch_hooks f = {0};
    qg_context *ctx = NULL;
    const qg_variant *v = qg_catalog_find("act_quant_fp8.threads128.vpt2");
    qg_kernel *k = v ? fake_context_with_kernel("graph", v, &ctx) : NULL; /* the default */
    if (!QT_CHECK(k && fake_launch_hooks_get(&f), "fake context, kernel and hooks")) {
        qg_context_destroy(ctx);
        return;
    }
    enum { T = 8 };
    launch_thread t[T];
    pthread_t th[T];
    int g0[4], g1[4];
    f.graph_stats(g0);
    for (int i = 0; i < T; i++) {
        t[i] = (launch_thread){ctx, k->fn, i, 0};
        pthread_create(&th[i], NULL, launch_thread_main, &t[i]);
    }
    int failed = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        failed += t[i].failed;
    }
    f.graph_stats(g1);
    QT_CHECK(failed == 0, "%d of %d concurrent launches failed", failed, T * 400);
    QT_CHECK(g1[0] - g0[0] == T * 400, "every launch through a graph (%d of %d)", g1[0] - g0[0],
             T * 400);
    qg_context_destroy(ctx);
    unsetenv("QGEMM_LAUNCH");
}

int main(void) {
    /* The cheap checks first, in this process; library scenarios each in a child. */
    bad_arguments();
    status_names();
    last_error_format();
    qt_in_child("no driver (auto)", no_driver_auto);
    qt_in_child("library without cuInit", driver_lacks_symbols);
    qt_in_child("HIP without GPU", hip_without_gpu);
    qt_in_child("no NVRTC", no_nvrtc);
    qt_in_child("no hiprtc", no_hiprtc);
    qt_in_child("fake driver: cuInit no device", fake_init_no_device);
    qt_in_child("fake driver: cuInit other error", fake_init_other_error);
    qt_in_child("fake driver: zero devices", fake_zero_devices);
    qt_in_child("fake driver: bad ordinal", fake_bad_ordinal);
    qt_in_child("fake driver: no NVRTC", fake_no_nvrtc);
    qt_in_child("fake driver: cache dir too long", fake_long_cache_dir);
    qt_in_child("fake driver: device", fake_device_ok);
    qt_in_child("fake driver: sm_86", fake_ampere);
    qt_in_child("fake driver: per-stream workspaces", fake_stream_workspaces);
    qt_in_child("fake driver: launch path", fake_launch_path);
    qt_in_child("fake driver: concurrent launches", fake_concurrent_launches);
    return qt_finish("test_runtime_errors");
}
