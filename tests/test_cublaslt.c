/*
 * cuBLASLt families without a GPU: catalog entries and ids, `qgemm check` skipping the
 * source-less families (and compiling their int8 epilogue), supports() refusals, JIT keys and
 * the JIT handing out a kernel without a module, and a missing or wrong cuBLASLt library giving
 * QG_ERR_NO_BLAS with a message (each in its own process: the library is looked up once per
 * process), with a fake libcuda context (tests/fake_cuda.c), and, with a fake libcublasLt
 * (tests/fake_cublaslt.c), that launches leave the shared workspace zero. Run under ASan/LSan
 * in CI.
 */
#include "backend.h"
#include "catalog.h"
#include "cublaslt.h"
#include "dispatch.h"
#include "jit.h"
#include "testutil.h"
#include "tune.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int contains(const char *s, const char *needle) { return s && strstr(s, needle) != NULL; }

static void in_child(const char *name, void (*fn)(void)) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        qt_passed = qt_failed = 0;
        fn();
        printf("  [%s] child checks: %d ok, %d bad\n", name, qt_passed, qt_failed);
        fflush(stdout);
        exit(qt_failed ? 1 : 0);
    }
    int status = 0;
    QT_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "%s: fork/wait", name);
    QT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child failed (status %d)", name,
             status);
}

static qg_problem fp8_problem(int64_t m, int64_t n, int64_t k) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = QG_SCHEME_W8A8_FP8;
    p.m = m, p.n = n, p.k = k;
    p.group_size = 0;
    return p;
}

static void test_catalog(void) {
    const char *ids[] = {"cublaslt_fp8.algo0", "cublaslt_fp8.algo3", "cublaslt_int8.algo0",
                         "cublaslt_int8.algo3", "cublaslt_int8_epilogue"};
    for (int i = 0; i < 5; i++) QT_CHECK(qg_catalog_find(ids[i]) != NULL, "%s in the catalog", ids[i]);
    const qg_variant *fp8 = qg_catalog_find("cublaslt_fp8.algo0");
    const qg_variant *i8 = qg_catalog_find("cublaslt_int8.algo1");
    const qg_variant *epi = qg_catalog_find("cublaslt_int8_epilogue");
    if (!fp8 || !i8 || !epi) return;
    const char *archs[] = {"sm_80", "sm_89", "sm_90a", "gfx90a"};
    for (int a = 0; a < 4; a++) {
        QT_CHECK(!qg_family_targets_arch(fp8->family, archs[a]) &&
                     !qg_family_targets_arch(i8->family, archs[a]),
                 "source-less families are not compiled for %s", archs[a]);
        QT_CHECK(qg_family_targets_arch(epi->family, archs[a]) == (a < 3),
                 "the epilogue is compiled for CUDA archs only (%s)", archs[a]);
    }
    /* check's compile path refuses a source-less variant cleanly */
    void *img = (void *)1;
    size_t n = 1;
    char *log = (char *)1;
    QT_STATUS(qg_jit_compile(fp8, "sm_90a", &img, &n, &log, NULL), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(img == NULL && n == 0 && log == NULL, "outputs cleared");
    /* distinct cache keys for the source-less families (keys hash the family name) */
    QT_CHECK(qg_jit_key(fp8, "sm_90a", 13000) != qg_jit_key(qg_catalog_find("cublaslt_int8.algo0"),
                                                            "sm_90a", 13000), "keys differ");
    /* the epilogue compiles (if NVRTC is here) */
    char why[512];
    if (qg_compiler_nvrtc.load(why, sizeof why) == QG_SUCCESS) {
        double ms = 0;
        qg_status s = qg_jit_compile(epi, "sm_80", &img, &n, &log, &ms);
        QT_CHECK(s == QG_SUCCESS && n > 64, "epilogue compiles for sm_80: %s\n%s", qg_last_error(NULL),
                 log ? log : "");
        printf("epilogue compiled for sm_80 in %.0f ms (%zu bytes)\n", ms, n);
        free(img);
        free(log);
    } else {
        printf("NVRTC not available (%s): epilogue compile skipped\n", why);
    }
}

static void test_supports(void) {
    const qg_variant *fp8 = qg_catalog_find("cublaslt_fp8.algo0");
    const qg_variant *i8 = qg_catalog_find("cublaslt_int8.algo0");
    if (!fp8 || !i8) return;
    char why[256];
    qg_problem p = fp8_problem(16, 4096, 4096);
    QT_CHECK(fp8->family->supports(&p, fp8->params, 90, why, sizeof why), "fp8 4096x4096 on sm_90");
    QT_CHECK(!fp8->family->supports(&p, fp8->params, 80, why, sizeof why) && contains(why, "8.9"),
             "fp8 refused on sm_80: %s", why);
    p.n = 1000;
    QT_CHECK(!fp8->family->supports(&p, fp8->params, 90, why, sizeof why) && contains(why, "16"),
             "N=1000 refused: %s", why);
    p = fp8_problem(1, 4096, 4096);
    p.scheme = QG_SCHEME_W8A8_INT8;
    QT_CHECK(i8->family->supports(&p, i8->params, 80, why, sizeof why), "int8 on sm_80");
    p.k = 262144;
    QT_CHECK(!i8->family->supports(&p, i8->params, 90, why, sizeof why), "int8 K=262144 refused");
    /* dispatch's heuristic never prefers cuBLASLt over a native kernel */
    p = fp8_problem(4096, 4096, 4096);
    qg_device_info dev = {.sm_count = 132, .cc_major = 9};
    QT_CHECK(fp8->family->heuristic(&p, fp8->params, &dev) > 1e9, "cuBLASLt heuristic cost is huge");
    QT_CHECK(fp8->family->workspace(&p, fp8->params) >= QG_CUBLASLT_WORKSPACE, "fp8 workspace");
    p.scheme = QG_SCHEME_W8A8_INT8;
    QT_CHECK(i8->family->workspace(&p, i8->params) >= QG_CUBLASLT_WORKSPACE + 4096ull * 4096 * 4,
             "int8 workspace holds the int32 products");
}

/* ---------------------------------------------------------------- missing / wrong library */

static qg_context *fake_ctx(void) {
    setenv("QGEMM_CUDA_LIBRARY", QG_FAKE_CUDA, 1);
    setenv("QGEMM_TUNING_DB", "", 1);
    qg_context_params p;
    qg_context_params_init(&p);
    p.backend = QG_BACKEND_CUDA;
    p.disable_disk_cache = 1;
    p.tuning_db = "";
    qg_context *ctx = NULL;
    QT_OK(qg_context_create(&ctx, &p));
    return ctx;
}

/* With `lib` as QGEMM_CUBLASLT_LIBRARY: every cuBLASLt entry point says QG_ERR_NO_BLAS naming
 * `expect` in its message; nothing leaks; the context still works for the rest. */
static void no_blas_with(const char *lib, const char *expect) {
    setenv("QGEMM_CUBLASLT_LIBRARY", lib, 1);
    char why[1024] = "";
    QT_STATUS(qg_cublaslt_load(why, sizeof why), QG_ERR_NO_BLAS);
    QT_CHECK(contains(why, expect) && contains(why, "QGEMM_CUBLASLT_LIBRARY"), "reason: %s", why);
    QT_CHECK(qg_cublaslt_version() == 0, "no version without the library");
    qg_context *ctx = fake_ctx();
    if (!ctx) return;
    /* source-less kernels come out of the JIT without a module, loading nothing */
    qg_kernel *k = NULL;
    const qg_variant *v = qg_catalog_find("cublaslt_fp8.algo2");
    QT_OK(qg_jit_get(ctx, v, &k));
    QT_CHECK(k && k->variant == v && !k->module && !k->fn, "kernel without a module");
    void *a = NULL, *w = NULL, *c = NULL, *s = NULL;
    QT_OK(qg_malloc(ctx, &a, 16 * 4096));
    QT_OK(qg_malloc(ctx, &w, 4096 * 4096));
    QT_OK(qg_malloc(ctx, &c, 2 * 16 * 4096));
    QT_OK(qg_malloc(ctx, &s, 4 * 4096));
    qg_problem p = fp8_problem(16, 4096, 4096);
    qg_gemm_args g;
    qg_gemm_args_init(&g);
    g.a = a, g.a_scale = s, g.w.weight = w, g.w.scale = s, g.c = c;
    for (int i = 0; i < 2; i++) { /* the same answer every time */
        QT_CHECK(qg_gemm_with_kernel(ctx, &p, &g, "cublaslt_fp8.algo0", NULL) == QG_ERR_NO_BLAS,
                 "qg_gemm_with_kernel: %s", qg_last_error(ctx));
        QT_CHECK(contains(qg_last_error(ctx), expect), "message: %s", qg_last_error(ctx));
    }
    p.scheme = QG_SCHEME_W8A8_INT8;
    QT_CHECK(qg_gemm_with_kernel(ctx, &p, &g, "cublaslt_int8.algo1", NULL) != QG_SUCCESS,
             "int8 without cuBLASLt fails");
    QT_CHECK(qg_cublaslt_gemm_bf16(ctx, 16, 4096, 2048, a, w, c, NULL, 0) == QG_ERR_NO_BLAS,
             "bf16 GEMM: %s", qg_last_error(ctx));
    qg_lt_shape sh = {.kind = QG_LT_BF16, .m = 16, .n = 4096, .k = 2048, .lda = 2048, .ldc = 4096,
                      .out_dtype = QG_DTYPE_BF16, .align = 256};
    QT_STATUS(qg_cublaslt_prepare(ctx, &sh, NULL), QG_ERR_NO_BLAS);
    /* dispatch (no database) still picks a native kernel: qg_prepare does not need cuBLASLt */
    p.scheme = QG_SCHEME_W8A8_FP8;
    char expl[256];
    QT_OK(qg_explain(ctx, &p, expl, sizeof expl));
    QT_CHECK(!contains(expl, "cublaslt"), "heuristic dispatch avoids cuBLASLt: %s", expl);
    qg_free(ctx, a), qg_free(ctx, w), qg_free(ctx, c), qg_free(ctx, s);
    qg_context_destroy(ctx);
}

/* The tuner on a machine without cuBLASLt: its variants are candidates that turn out unusable,
 * not wrong ones. The fake driver runs no kernel, so every native candidate is "wrong" here
 * (its output stays poisoned): exactly those are counted. sm_80 keeps the compiles few. */
static void tuner_without_blas(void) {
    setenv("QGEMM_CUBLASLT_LIBRARY", "/nonexistent/libcublasLt.so.13", 1);
    setenv("FAKE_CUDA_CC", "80", 1);
    char cache[512];
    snprintf(cache, sizeof cache, "%s/test-cache", QG_TEST_BINARY_DIR);
    setenv("QGEMM_CACHE_DIR", cache, 1);
    qg_context *ctx = fake_ctx();
    if (!ctx) return;
    qg_db *db = NULL;
    char path[256];
    snprintf(path, sizeof path, "/tmp/qg_test_cublaslt_%d.json", (int)getpid());
    QT_OK(qg_db_open(&db, path, &ctx->info));
    qg_problem p = fp8_problem(512, 256, 256); /* M > 256: no gemv candidates to compile */
    p.scheme = QG_SCHEME_W8A8_INT8;
    int native = 0, blas = 0;
    char why[256];
    for (int i = 0; i < qg_catalog_count(); i++) {
        const qg_variant *v = qg_catalog_get(i);
        if (!qg_variant_fits(v, &p, QG_OP_GEMM, 80, why, sizeof why)) continue;
        if (strncmp(v->id, "cublaslt_", 9) == 0) blas++;
        else native++;
    }
    QT_CHECK(blas == QG_CUBLASLT_MAX_ALGOS && native > 0, "candidates: %d native, %d cuBLASLt",
             native, blas);
    qg_tune_options o;
    qg_tune_options_init(&o);
    o.compile_threads = 2;
    qg_tune_stats st = {0};
    const int64_t ms[] = {512};
    if (db) {
        QT_OK(qg_tune_shape(ctx, db, &p, ms, 1, &o, NULL, NULL, 0, 1, &st));
        QT_CHECK(st.candidates == native + blas && st.wrong == native && st.tuned == 0,
                 "tuner: %d candidates, %d wrong (expected %d + %d, %d)", st.candidates, st.wrong,
                 native, blas, native);
    }
    qg_db_close(db);
    unlink(path);
    qg_context_destroy(ctx);
}

static void missing_library(void) { no_blas_with("/nonexistent/libcublasLt.so.13", "/nonexistent/libcublasLt.so.13"); }
static void wrong_library(void) { no_blas_with("libm.so.6", "cublasLtCreate"); }

/* The library installed here (if any): every descriptor the families build is accepted by it
 * (attribute ids, sizes, scale modes). No handle: cublasLtCreate needs a GPU (and, failing,
 * leaks 192 bytes inside the library, which LSan would report). */
static void real_library(void) {
    char why[1024];
    if (qg_cublaslt_load(why, sizeof why) != QG_SUCCESS) {
        printf("  no cuBLASLt here (%s): descriptor checks skipped\n", why);
        return;
    }
    printf("  cuBLASLt %zu\n", qg_cublaslt_version());
    QT_CHECK(qg_cublaslt_version() >= 110000, "version %zu", qg_cublaslt_version());
    const qg_lt_shape bf16 = {.kind = QG_LT_BF16, .m = 7, .n = 64, .k = 32, .lda = 32, .ldc = 64,
                              .out_dtype = QG_DTYPE_BF16, .align = 256};
    QT_OK(qg_cublaslt_describe(&bf16));
    const qg_lt_shape i8 = {.kind = QG_LT_INT8, .m = 7, .n = 64, .k = 48, .lda = 64, .ldc = 64,
                            .out_dtype = QG_DTYPE_INT32, .align = 16};
    QT_OK(qg_cublaslt_describe(&i8));
    for (int combo = 0; combo < 16; combo++) {
        const qg_lt_shape f = {.kind = QG_LT_FP8, .m = 5, .n = 32, .k = 64, .lda = 64, .ldc = 40,
                               .out_dtype = combo & 8 ? QG_DTYPE_F16 : QG_DTYPE_BF16,
                               .w_vec = combo & 1, .a_vec = (combo >> 1) & 1,
                               .has_bias = (combo >> 2) & 1, .align = 256};
        const qg_status s = qg_cublaslt_describe(&f);
        QT_CHECK(s == QG_SUCCESS || ((f.w_vec || f.a_vec) && s == QG_ERR_UNSUPPORTED &&
                                     qg_cublaslt_version() < 120900),
                 "fp8 descriptor w_vec=%d a_vec=%d bias=%d f16=%d: %s", f.w_vec, f.a_vec,
                 f.has_bias, (combo >> 3) & 1, qg_last_error(NULL));
    }
    qg_lt_shape bad = bf16;
    bad.ldc = 10;
    QT_STATUS(qg_cublaslt_describe(&bad), QG_ERR_INVALID_ARGUMENT);
}

/* ---------------------------------------------------------------- the workspace contract */

static size_t nonzero_bytes(const unsigned char *b, size_t n) {
    size_t z = 0;
    for (size_t i = 0; i < n; i++) z += b[i] != 0;
    return z;
}

/* With a fake cuBLASLt (tests/fake_cublaslt.c) whose algorithms need 0, 4096 and 1048579 bytes
 * of scratch and scribble over them: every cuBLASLt family launch leaves a caller's workspace
 * zero (the memset after the call), cuBLASLt is given exactly its algorithm's bytes, and calls
 * through the context's own workspace find it zero on entry. The fake driver's memory is host
 * memory and its memsets run at once, so stream order is program order here. */
static void workspace_left_zero(void) {
    setenv("QGEMM_CUBLASLT_LIBRARY", QG_FAKE_CUBLASLT, 1);
    setenv("FAKE_LT_WS", "0,4096,1048579", 1);
    static const size_t algo_ws[] = {0, 4096, 1048579};
    char why[1024];
    if (!QT_CHECK(qg_cublaslt_load(why, sizeof why) == QG_SUCCESS, "fake cuBLASLt: %s", why)) return;
    void *h = dlopen(QG_FAKE_CUBLASLT, RTLD_NOW | RTLD_NOLOAD);
    void (*stats)(size_t *) = h ? (void (*)(size_t *))dlsym(h, "fake_cublaslt_stats") : NULL;
    if (!QT_CHECK(stats != NULL, "fake_cublaslt_stats: %s", dlerror())) return;
    qg_context *ctx = fake_ctx();
    if (!ctx) return;
    const int64_t m = 16, n = 256, k = 256;
    qg_problem p = fp8_problem(m, n, k);
    p.scheme = QG_SCHEME_W8A8_INT8;
    const qg_variant *i8 = qg_catalog_find("cublaslt_int8.algo0");
    const size_t ws_bytes = i8->family->workspace(&p, i8->params); /* the larger of the two */
    void *a = NULL, *w = NULL, *c = NULL, *s = NULL, *ws = NULL;
    QT_OK(qg_malloc(ctx, &a, (size_t)(m * k)));
    QT_OK(qg_malloc(ctx, &w, (size_t)(n * k)));
    QT_OK(qg_malloc(ctx, &c, 2 * (size_t)(m * n)));
    QT_OK(qg_malloc(ctx, &s, 4 * (size_t)(m > n ? m : n)));
    QT_OK(qg_malloc(ctx, &ws, ws_bytes));
    unsigned char *host = malloc(ws_bytes);
    if (!a || !w || !c || !s || !ws || !host) {
        QT_CHECK(0, "allocations");
        free(host);
        qg_context_destroy(ctx);
        return;
    }
    QT_OK(qg_memset_d8(ctx, ws, 0, ws_bytes));
    qg_gemm_args g;
    qg_gemm_args_init(&g);
    g.a = a, g.a_scale = s, g.w.weight = w, g.w.scale = s, g.c = c;
    /* int8 launches its epilogue (compiled by NVRTC; the fake driver runs nothing) */
    const int int8_ok = qg_compiler_nvrtc.load(why, sizeof why) == QG_SUCCESS;
    if (!int8_ok) printf("  NVRTC not available (%s): cublaslt_int8 skipped\n", why);
    size_t before[3], after[3];
    for (int fam = 0; fam < 1 + int8_ok; fam++) {
        p.scheme = fam ? QG_SCHEME_W8A8_INT8 : QG_SCHEME_W8A8_FP8;
        for (int algo = 0; algo < QG_CUBLASLT_MAX_ALGOS; algo++) {
            char id[64];
            snprintf(id, sizeof id, "%s.algo%d", fam ? "cublaslt_int8" : "cublaslt_fp8", algo);
            g.workspace = ws, g.workspace_bytes = ws_bytes;
            stats(before);
            const qg_status st = qg_gemm_with_kernel(ctx, &p, &g, id, NULL);
            stats(after);
            if (algo == 3) { /* the fake heuristic offers three */
                QT_CHECK(st == QG_ERR_UNSUPPORTED && after[0] == before[0], "%s: %s", id,
                         qg_last_error(ctx));
                continue;
            }
            if (!QT_CHECK(st == QG_SUCCESS, "%s: %s", id, qg_last_error(ctx))) continue;
            QT_CHECK(after[0] == before[0] + 1, "%s: one cublasLtMatmul", id);
            QT_CHECK(after[1] == algo_ws[algo], "%s: cuBLASLt given %zu workspace bytes, its "
                     "algorithm needs %zu", id, after[1], algo_ws[algo]);
            QT_CHECK(after[2] == before[2], "%s: the workspace was not zero on entry", id);
            QT_OK(qg_memcpy_dtoh(ctx, host, ws, ws_bytes));
            const size_t dirty = nonzero_bytes(host, ws_bytes);
            QT_CHECK(dirty == 0, "%s left %zu non-zero bytes in the caller's workspace", id, dirty);
        }
        /* the context's own workspace: each call must find it zero */
        for (int i = 0; i < 4; i++) {
            char id[64];
            snprintf(id, sizeof id, "%s.algo%d", fam ? "cublaslt_int8" : "cublaslt_fp8", 2 - (i & 1));
            g.workspace = NULL, g.workspace_bytes = 0;
            stats(before);
            QT_CHECK(qg_gemm_with_kernel(ctx, &p, &g, id, NULL) == QG_SUCCESS, "%s: %s", id,
                     qg_last_error(ctx));
            stats(after);
            QT_CHECK(after[0] == before[0] + 1 && after[2] == before[2],
                     "%s call %d through the context's workspace: %zu dirty bytes on entry", id, i,
                     after[2] - before[2]);
        }
    }
    /* the benches' bf16 baseline keeps its private workspace, whole and not memset */
    stats(before);
    QT_OK(qg_cublaslt_gemm_bf16(ctx, m, n, k, a, w, c, NULL, 2));
    stats(after);
    QT_CHECK(after[0] == before[0] + 1 && after[1] == QG_CUBLASLT_WORKSPACE,
             "bf16 baseline: cuBLASLt given %zu workspace bytes", after[1]);
    free(host);
    qg_free(ctx, a), qg_free(ctx, w), qg_free(ctx, c), qg_free(ctx, s), qg_free(ctx, ws);
    qg_context_destroy(ctx);
    dlclose(h);
}

static void test_align_class(void) {
    const void *ok[] = {(void *)0x10000, (void *)0x20100, NULL};
    const void *odd[] = {(void *)0x10000, (void *)0x20010};
    QT_CHECK(qg_lt_align_class(ok, 3) == 256, "256-byte aligned pointers");
    QT_CHECK(qg_lt_align_class(odd, 2) == 16, "16-byte aligned pointers");
}

int main(void) {
    test_catalog();
    test_supports();
    test_align_class();
    in_child("missing cuBLASLt", missing_library);
    in_child("wrong cuBLASLt", wrong_library);
    in_child("tuner without cuBLASLt", tuner_without_blas);
    in_child("installed cuBLASLt", real_library);
    in_child("workspace left zero (fake cuBLASLt)", workspace_left_zero);
    return qt_finish("test_cublaslt");
}
