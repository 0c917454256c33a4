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
#include "fake_trace.h"
#include "jit.h"
#include "testutil.h"
#include "tune.h"

#include "../kernels/cuda/qg_abi.cuh" /* qg_dq_params: the dequant kernel's argument */

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
    for (int i = 0; i < 5; i++)
        QT_CHECK(qg_catalog_find(ids[i]) != NULL, "%s in the catalog", ids[i]);
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
    QT_CHECK(qg_jit_key(fp8, "sm_90a", 13000) !=
                 qg_jit_key(qg_catalog_find("cublaslt_int8.algo0"), "sm_90a", 13000),
             "keys differ");
    /* the epilogue compiles (if NVRTC is here) */
    char why[512];
    if (qg_compiler_nvrtc.load(why, sizeof why) == QG_SUCCESS) {
        double ms = 0;
        qg_status s = qg_jit_compile(epi, "sm_80", &img, &n, &log, &ms);
        QT_CHECK(s == QG_SUCCESS && n > 64, "epilogue compiles for sm_80: %s\n%s",
                 qg_last_error(NULL), log ? log : "");
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
    QT_CHECK(!fp8->family->supports(&p, fp8->params, 80, why, sizeof why) && qt_contains(why, "8.9"),
             "fp8 refused on sm_80: %s", why);
    p.n = 1000;
    QT_CHECK(!fp8->family->supports(&p, fp8->params, 90, why, sizeof why) && qt_contains(why, "16"),
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
    QT_CHECK(qt_contains(why, expect) && qt_contains(why, "QGEMM_CUBLASLT_LIBRARY"), "reason: %s",
             why);
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
        QT_CHECK(qt_contains(qg_last_error(ctx), expect), "message: %s", qg_last_error(ctx));
    }
    p.scheme = QG_SCHEME_W8A8_INT8;
    QT_CHECK(qg_gemm_with_kernel(ctx, &p, &g, "cublaslt_int8.algo1", NULL) != QG_SUCCESS,
             "int8 without cuBLASLt fails");
    QT_CHECK(qg_cublaslt_gemm_bf16(ctx, 16, 4096, 2048, a, w, c, NULL, 0) == QG_ERR_NO_BLAS,
             "bf16 GEMM: %s", qg_last_error(ctx));
    qg_lt_shape sh = {.kind = QG_LT_BF16,
                      .m = 16,
                      .n = 4096,
                      .k = 2048,
                      .lda = 2048,
                      .ldc = 4096,
                      .out_dtype = QG_DTYPE_BF16,
                      .align = 256};
    QT_STATUS(qg_cublaslt_prepare(ctx, &sh, NULL), QG_ERR_NO_BLAS);
    /* dispatch (no database) still picks a native kernel: qg_prepare does not need cuBLASLt */
    p.scheme = QG_SCHEME_W8A8_FP8;
    char expl[256];
    QT_OK(qg_explain(ctx, &p, expl, sizeof expl));
    QT_CHECK(!qt_contains(expl, "cublaslt"), "heuristic dispatch avoids cuBLASLt: %s", expl);
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
        /* a spent run budget (--run-budget): nothing starts, the problems are counted as left */
        qg_tune_stats late = {0};
        o.deadline_s = 1e-9;
        const int64_t ms2[] = {512, 1024};
        QT_OK(qg_tune_shape(ctx, db, &p, ms2, 2, &o, NULL, NULL, 0, 2, &late));
        QT_CHECK(late.left == 2 && late.candidates == 0 && late.tuned == 0 && late.skipped == 0,
                 "run budget spent: %d left, %d candidates, %d tuned, %d skipped (want 2, 0, 0, 0)",
                 late.left, late.candidates, late.tuned, late.skipped);
        /* a problem is skipped only when its entry was timed on the code its kernel compiles
         * to here (decided as qg_db_begin_tuning does) */
        o.deadline_s = 0;
        qg_db_entry had;
        memset(&had, 0, sizeof had);
        had.key = p;
        had.key.m = had.m_bucket = 512;
        snprintf(had.kernel, sizeof had.kernel, "%s", "cublaslt_int8.algo0");
        QT_OK(qg_jit_code_hash(ctx, qg_catalog_find(had.kernel), had.code_hash));
        QT_OK(qg_db_put(db, &had));
        QT_OK(qg_db_decide_freshness(db, ctx->info.arch, "", 1, NULL));
        qg_tune_stats cur = {0}, old = {0};
        QT_OK(qg_tune_shape(ctx, db, &p, ms, 1, &o, NULL, NULL, 0, 1, &cur));
        QT_CHECK(cur.skipped == 1 && cur.candidates == 0,
                 "current entry: %d skipped, %d candidates", cur.skipped, cur.candidates);
        snprintf(had.code_hash, sizeof had.code_hash, "%s", "00000000deadbeef");
        QT_OK(qg_db_put(db, &had));
        QT_OK(qg_db_decide_freshness(db, ctx->info.arch, "", 1, NULL));
        QT_OK(qg_tune_shape(ctx, db, &p, ms, 1, &o, NULL, NULL, 0, 1, &old));
        QT_CHECK(old.skipped == 0 && old.candidates == native + blas,
                 "entry timed on other code: %d skipped, %d candidates (re-timed)", old.skipped,
                 old.candidates);
    }
    qg_db_close(db);
    unlink(path);
    qg_context_destroy(ctx);
}

static void missing_library(void) {
    no_blas_with("/nonexistent/libcublasLt.so.13", "/nonexistent/libcublasLt.so.13");
}
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
    const qg_lt_shape bf16 = {.kind = QG_LT_BF16,
                              .m = 7,
                              .n = 64,
                              .k = 32,
                              .lda = 32,
                              .ldc = 64,
                              .out_dtype = QG_DTYPE_BF16,
                              .align = 256};
    QT_OK(qg_cublaslt_describe(&bf16));
    /* wo_dequant_lt's chunks: bf16 and f16 with the bias epilogue, padded lda, odd ldc */
    for (int f16 = 0; f16 < 2; f16++) {
        const qg_lt_shape h = {.kind = f16 ? QG_LT_F16 : QG_LT_BF16,
                               .m = 7,
                               .n = 64,
                               .k = 32,
                               .lda = 40,
                               .ldc = 67,
                               .has_bias = 1,
                               .align = 16,
                               .out_dtype = f16 ? QG_DTYPE_F16 : QG_DTYPE_BF16};
        QT_CHECK(qg_cublaslt_describe(&h) == QG_SUCCESS, "%s chunk descriptor: %s",
                 f16 ? "f16" : "bf16", qg_last_error(NULL));
    }
    const qg_lt_shape i8 = {.kind = QG_LT_INT8,
                            .m = 7,
                            .n = 64,
                            .k = 48,
                            .lda = 64,
                            .ldc = 64,
                            .out_dtype = QG_DTYPE_INT32,
                            .align = 16};
    QT_OK(qg_cublaslt_describe(&i8));
    for (int combo = 0; combo < 16; combo++) {
        const qg_lt_shape f = {.kind = QG_LT_FP8,
                               .m = 5,
                               .n = 32,
                               .k = 64,
                               .lda = 64,
                               .ldc = 40,
                               .out_dtype = combo & 8 ? QG_DTYPE_F16 : QG_DTYPE_BF16,
                               .w_vec = combo & 1,
                               .a_vec = (combo >> 1) & 1,
                               .has_bias = (combo >> 2) & 1,
                               .align = 256};
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
    if (!QT_CHECK(qg_cublaslt_load(why, sizeof why) == QG_SUCCESS, "fake cuBLASLt: %s", why))
        return;
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
            QT_CHECK(after[1] == algo_ws[algo],
                     "%s: cuBLASLt given %zu workspace bytes, its "
                     "algorithm needs %zu",
                     id, after[1], algo_ws[algo]);
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

/* ---------------------------------------------------------------- wo_dequant_lt */

static qg_problem w4_problem(int64_t m, int64_t n, int64_t k, int gs, int zp, qg_dtype dt, int bias) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = QG_SCHEME_W4A16;
    p.m = m, p.n = n, p.k = k, p.group_size = gs, p.has_zero_point = zp;
    p.act_dtype = p.out_dtype = dt;
    p.has_bias = bias;
    return p;
}

static qg_problem w8_problem(int64_t m, int64_t n, int64_t k, qg_dtype dt, int bias) {
    qg_problem p = w4_problem(m, n, k, 0, 0, dt, bias);
    p.scheme = QG_SCHEME_W8A16;
    return p;
}

/* Catalog entry, refusals, workspace size and cost model (no device). */
static void test_dequant_lt_family(void) {
    const qg_variant *v16 = qg_catalog_find("wo_dequant_lt.wbits4.mb16.algo0");
    const qg_variant *v32 = qg_catalog_find("wo_dequant_lt.wbits4.mb32.algo3");
    const qg_variant *w8v16 = qg_catalog_find("wo_dequant_lt.wbits8.mb16.algo0");
    const qg_variant *w8v32 = qg_catalog_find("wo_dequant_lt.wbits8.mb32.algo3");
    if (!QT_CHECK(v16 && v32 && w8v16 && w8v32, "wo_dequant_lt variants in the catalog")) return;
    const qg_family *f = v16->family;
    QT_CHECK(!f->experimental && f->num_variants <= 16 && f->prepare && f->workspace,
             "validated (not experimental), <= 16 variants (%d), prepare and workspace",
             f->num_variants);
    QT_CHECK(!qg_family_targets_arch(f, "sm_90a") && !qg_family_targets_arch(f, "sm_80"),
             "source-less: nothing to compile");
    char why[256];
    qg_problem p = w4_problem(1024, 28672, 4096, 128, 1, QG_DTYPE_BF16, 1);
    QT_CHECK(f->supports(&p, v16->params, 80, why, sizeof why), "M=1024 sm_80: %s", why);
    QT_CHECK(f->supports(&p, v16->params, 90, why, sizeof why), "M=1024 sm_90: %s", why);
    p.m = 16;
    QT_CHECK(!f->supports(&p, v16->params, 90, why, sizeof why) && qt_contains(why, "M=16"),
             "M=16 (the GEMVs' range) refused: %s", why);
    p.m = 17;
    QT_CHECK(f->supports(&p, v16->params, 90, why, sizeof why), "M=17 accepted: %s", why);
    p.out_dtype = QG_DTYPE_F16;
    QT_CHECK(!f->supports(&p, v16->params, 90, why, sizeof why) && qt_contains(why, "bf16"),
             "bf16 -> f16 refused: %s", why);
    p = w4_problem(512, 256, 100, 0, 0, QG_DTYPE_F16, 0);
    QT_CHECK(!f->supports(&p, v16->params, 90, why, sizeof why) && qt_contains(why, "multiple of 8"),
             "K=100 refused: %s", why);
    QT_CHECK(f->scheme_mask == ((1u << QG_SCHEME_W4A16) | (1u << QG_SCHEME_W8A16)),
             "both weight-only schemes");
    /* each variant computes the scheme of its wbits */
    p = w8_problem(1024, 4096, 4096, QG_DTYPE_BF16, 1);
    QT_CHECK(!f->supports(&p, v16->params, 90, why, sizeof why) && qt_contains(why, "computes w4a16"),
             "wbits4 refuses W8A16: %s", why);
    QT_CHECK(f->supports(&p, w8v16->params, 80, why, sizeof why), "wbits8 takes W8A16: %s", why);
    p.m = 16;
    QT_CHECK(!f->supports(&p, w8v16->params, 90, why, sizeof why) && qt_contains(why, "M=16"),
             "W8A16 M=16 refused: %s", why);
    p = w4_problem(1024, 4096, 4096, 128, 0, QG_DTYPE_BF16, 0);
    QT_CHECK(!f->supports(&p, w8v32->params, 90, why, sizeof why) &&
                 qt_contains(why, "computes w8a16"),
             "wbits8 refuses W4A16: %s", why);
    /* balanced chunks of 128-column multiples: 28672 x 4096 in 14 chunks of 2048 (16 MiB) or
     * 7 of 4096 (32 MiB); 4096 x 14336 (112 MiB) in 7 of 640 (+256) or 4 of 1024 */
    p = w4_problem(1024, 28672, 4096, 128, 0, QG_DTYPE_BF16, 0);
    QT_CHECK(f->workspace(&p, v16->params) == 256 + QG_CUBLASLT_WORKSPACE + 2048ull * 4096 * 2,
             "workspace mb16 gate_up: %zu", f->workspace(&p, v16->params));
    QT_CHECK(f->workspace(&p, v32->params) == 256 + QG_CUBLASLT_WORKSPACE + 4096ull * 4096 * 2,
             "workspace mb32 gate_up: %zu", f->workspace(&p, v32->params));
    p = w4_problem(1024, 4096, 14336, 128, 0, QG_DTYPE_BF16, 0);
    QT_CHECK(f->workspace(&p, v16->params) == 256 + QG_CUBLASLT_WORKSPACE + 640ull * 14336 * 2,
             "workspace mb16 down: %zu", f->workspace(&p, v16->params));
    p = w4_problem(128, 100, 256, 0, 0, QG_DTYPE_BF16, 0); /* one chunk narrower than 128 */
    QT_CHECK(f->workspace(&p, v32->params) == 256 + QG_CUBLASLT_WORKSPACE + 100ull * 256 * 2,
             "workspace N=100: %zu", f->workspace(&p, v32->params));
    p = w8_problem(1024, 28672, 4096, QG_DTYPE_F16, 0); /* the scratch holds f16: same size */
    QT_CHECK(f->workspace(&p, w8v16->params) == 256 + QG_CUBLASLT_WORKSPACE + 2048ull * 4096 * 2,
             "workspace W8A16 mb16 gate_up: %zu", f->workspace(&p, w8v16->params));
    /* cost: ~2.5 TB/s of dequant traffic + ~650 TFLOP/s on an H100; grows with M */
    qg_device_info h100 = {.sm_count = 132, .cc_major = 9};
    p = w4_problem(1024, 28672, 4096, 128, 0, QG_DTYPE_BF16, 0);
    const double t1k = f->heuristic(&p, v16->params, &h100);
    p.m = 4096;
    const double t4k = f->heuristic(&p, v16->params, &h100);
    QT_CHECK(t1k > 400e-6 && t1k < 600e-6 && t4k > 1.5e-3 && t4k < 2.2e-3,
             "H100 cost: %.0f us at M=1024, %.0f us at M=4096", t1k * 1e6, t4k * 1e6);
    /* int8: 1 byte read per element instead of 0.5 + 0.125 of int4 scales and zero points
     * (groups of 32 assumed): ~18 us more on 28672 x 4096 */
    p = w8_problem(1024, 28672, 4096, QG_DTYPE_BF16, 0);
    const double w8_1k = f->heuristic(&p, w8v16->params, &h100);
    QT_CHECK(w8_1k > t1k + 12e-6 && w8_1k < t1k + 24e-6, "H100 W8A16 cost %.0f us (W4A16 %.0f)",
             w8_1k * 1e6, t1k * 1e6);
}

/* One launch through the fake driver and cuBLASLt: per chunk, the dequant kernel on the
 * chunk's slabs into the scratch and one matmul of the chunk's columns; cuBLASLt's scratch
 * zeroed after each matmul that used some; the dequant scratch zeroed at the end; all on
 * the caller's stream, and the workspace left zero. */
static void check_dequant_lt_run(qg_context *ctx, const char *id, const qg_problem *p, int64_t lda,
                                 int64_t ldc, int64_t want_cols, int want_chunks, size_t algo_ws,
                                 void (*trace_start)(int), int (*trace_get)(const fake_event **)) {
    const int64_t m = p->m, n = p->n, k = p->k;
    qg_packed_sizes sz;
    QT_OK(qg_packed_sizes_get(p, &sz));
    const qg_variant *v = qg_catalog_find(id);
    if (!QT_CHECK(v != NULL, "%s", id)) return;
    const size_t ws_bytes = v->family->workspace(p, v->params);
    void *a = NULL, *c = NULL, *bias = NULL, *ws = NULL;
    qg_packed_weight w = {0};
    QT_OK(qg_malloc(ctx, &a, 2 * (size_t)(m * lda)));
    QT_OK(qg_malloc(ctx, &c, 2 * (size_t)(m * ldc)));
    QT_OK(qg_malloc(ctx, &bias, 2 * (size_t)n));
    QT_OK(qg_malloc(ctx, &w.weight, sz.weight_bytes));
    QT_OK(qg_malloc(ctx, &w.scale, sz.scale_bytes));
    if (sz.zero_bytes) QT_OK(qg_malloc(ctx, &w.zero, sz.zero_bytes));
    QT_OK(qg_malloc(ctx, &ws, ws_bytes));
    unsigned char *host = malloc(ws_bytes);
    if (!a || !c || !bias || !w.weight || !w.scale || !ws || !host) {
        QT_CHECK(0, "allocations");
        goto out;
    }
    QT_OK(qg_memset_d8(ctx, ws, 0, ws_bytes));
    qg_gemm_args g;
    qg_gemm_args_init(&g);
    g.a = a, g.w = w, g.c = c, g.bias = p->has_bias ? bias : NULL, g.lda = lda, g.ldc = ldc;
    g.workspace = ws, g.workspace_bytes = ws_bytes;
    void *const stream = (void *)(uintptr_t)0x5eed0;
    trace_start(1);
    const qg_status st = qg_gemm_with_kernel(ctx, p, &g, id, stream);
    const fake_event *ev;
    const int nev = trace_get(&ev);
    trace_start(0);
    if (!QT_CHECK(st == QG_SUCCESS, "%s: %s", id, qg_last_error(ctx))) goto out;

    const int64_t ks = (k + 31) / 32 * 2, groups = p->group_size ? k / p->group_size : 1;
    const int64_t wbits = p->scheme == QG_SCHEME_W8A16 ? 8 : 4; /* 64 x 16 x wbits/8 per k16 step */
    char *const lt_ws = (char *)(((uintptr_t)ws + 255) & ~(uintptr_t)255);
    char *const scratch = lt_ws + QG_CUBLASLT_WORKSPACE;
    const int per_chunk = algo_ws ? 3 : 2;
    QT_CHECK(nev == want_chunks * per_chunk + 1, "%s: %d events, want %d chunks x %d + 1", id, nev,
             want_chunks, per_chunk);
    int e = 0;
    const int64_t dt = p->act_dtype == QG_DTYPE_F16 ? 2 /* CUDA_R_16F */ : 14 /* CUDA_R_16BF */;
    for (int i = 0; i < want_chunks && e + per_chunk <= nev; i++) {
        const int64_t n0 = i * want_cols, cols = i + 1 < want_chunks ? want_cols : n - n0;
        const fake_event *l = &ev[e++], *mm = &ev[e++];
        qg_dq_params d;
        memcpy(&d, l->params, sizeof d);
        const int64_t slab = n0 / 64;
        QT_CHECK(l->kind == FAKE_EV_LAUNCH && l->stream == stream && l->block == 256,
                 "%s chunk %d: dequant launch first (kind %d)", id, i, l->kind);
        QT_CHECK((const char *)d.w == (char *)w.weight + slab * ks * 128 * wbits &&
                     (const char *)d.scale == (char *)w.scale + 2 * n0 * groups &&
                     (const char *)d.zero ==
                         (p->has_zero_point ? (char *)w.zero + 2 * n0 * groups : NULL) &&
                     (char *)d.out == scratch,
                 "%s chunk %d: dequant pointers (w +%td scale +%td out +%td)", id, i,
                 (const char *)d.w - (const char *)w.weight,
                 (const char *)d.scale - (const char *)w.scale, (char *)d.out - scratch);
        QT_CHECK(d.n == cols && d.k == k && d.kp == (k + 31) / 32 * 32 && d.groups == groups &&
                     d.scale_bf16 == (p->act_dtype == QG_DTYPE_BF16) &&
                     d.out_bf16 == (p->act_dtype == QG_DTYPE_BF16) && d.vec_ok == 1,
                 "%s chunk %d: dequant n=%d (want %lld) k=%d groups=%d bf16=%d/%d vec=%d", id, i,
                 d.n, (long long)cols, d.k, d.groups, d.scale_bf16, d.out_bf16, d.vec_ok);
        QT_CHECK(l->grid[0] == (unsigned)(((cols + 63) / 64 * ((k + 31) / 32) + 7) / 8),
                 "%s chunk %d: dequant grid %u", id, i, l->grid[0]);
        QT_CHECK(mm->kind == FAKE_EV_MATMUL && mm->stream == stream, "%s chunk %d: then a matmul",
                 id, i);
        QT_CHECK(mm->a == scratch && mm->b == a && mm->c == (char *)c + 2 * n0 && mm->d == mm->c,
                 "%s chunk %d: matmul pointers (A=scratch%+td B=act%+td C=c%+td)", id, i,
                 (const char *)mm->a - scratch, (const char *)mm->b - (const char *)a,
                 (const char *)mm->c - (const char *)c);
        QT_CHECK(mm->la.type == (uint64_t)dt && mm->la.rows == (uint64_t)k &&
                     mm->la.cols == (uint64_t)cols && mm->la.ld == k,
                 "%s chunk %d: weight layout %llux%llu ld %lld", id, i,
                 (unsigned long long)mm->la.rows, (unsigned long long)mm->la.cols,
                 (long long)mm->la.ld);
        QT_CHECK(mm->lb.type == (uint64_t)dt && mm->lb.rows == (uint64_t)k &&
                     mm->lb.cols == (uint64_t)m && mm->lb.ld == lda,
                 "%s chunk %d: activation layout %llux%llu ld %lld", id, i,
                 (unsigned long long)mm->lb.rows, (unsigned long long)mm->lb.cols,
                 (long long)mm->lb.ld);
        QT_CHECK(mm->lc.type == (uint64_t)dt && mm->lc.rows == (uint64_t)cols &&
                     mm->lc.cols == (uint64_t)m && mm->lc.ld == ldc && mm->ld.ld == ldc,
                 "%s chunk %d: output layout %llux%llu ld %lld", id, i,
                 (unsigned long long)mm->lc.rows, (unsigned long long)mm->lc.cols,
                 (long long)mm->lc.ld);
        QT_CHECK(mm->transa == 1 /* CUBLAS_OP_T */ && mm->transb == 0 &&
                     mm->compute_type == 68 /* CUBLAS_COMPUTE_32F */,
                 "%s chunk %d: TN, f32 accumulation", id, i);
        QT_CHECK(p->has_bias ? mm->epilogue == 4 /* CUBLASLT_EPILOGUE_BIAS */ &&
                                   mm->bias == (char *)bias + 2 * n0
                             : mm->epilogue == 0,
                 "%s chunk %d: bias epilogue %lld at bias%+td", id, i, (long long)mm->epilogue,
                 (const char *)mm->bias - (const char *)bias);
        QT_CHECK(mm->workspace == lt_ws && mm->ws_bytes == algo_ws,
                 "%s chunk %d: cuBLASLt scratch %zu bytes at ws%+td (want %zu)", id, i,
                 mm->ws_bytes, (const char *)mm->workspace - (const char *)ws, algo_ws);
        if (algo_ws) {
            const fake_event *z = &ev[e++];
            QT_CHECK(z->kind == FAKE_EV_MEMSET && z->ptr == lt_ws && z->bytes == algo_ws &&
                         z->value == 0 && z->stream == stream,
                     "%s chunk %d: cuBLASLt scratch zeroed after its matmul", id, i);
        }
    }
    if (e < nev) {
        const fake_event *z = &ev[e];
        const size_t used = (size_t)(want_chunks > 1 ? want_cols : n) * (size_t)k * 2;
        QT_CHECK(z->kind == FAKE_EV_MEMSET && z->ptr == scratch && z->bytes == used &&
                     z->value == 0 && z->stream == stream,
                 "%s: the dequant scratch (%zu bytes) zeroed last (got kind %d, %zu bytes)", id,
                 used, z->kind, z->bytes);
        QT_CHECK(scratch + used <= (char *)ws + ws_bytes, "%s: scratch inside the workspace", id);
    }
    QT_OK(qg_memcpy_dtoh(ctx, host, ws, ws_bytes));
    QT_CHECK(nonzero_bytes(host, ws_bytes) == 0, "%s left the workspace dirty", id);
out:
    free(host);
    qg_free(ctx, a), qg_free(ctx, c), qg_free(ctx, bias), qg_free(ctx, ws);
    qg_free(ctx, w.weight), qg_free(ctx, w.scale), qg_free(ctx, w.zero);
}

/* A call that must fail with `want` before issuing anything. */
static void check_dequant_lt_refused(qg_context *ctx, const char *id, const qg_problem *p,
                                     qg_gemm_args *g, int direct, qg_status want, const char *msg,
                                     void (*trace_start)(int), int (*trace_get)(const fake_event **)) {
    trace_start(1);
    qg_status st;
    if (direct) { /* the family's launch as dispatch would call it, with these args */
        const qg_variant *v = qg_catalog_find(id);
        qg_kernel *k = NULL;
        st = qg_jit_get(ctx, v, &k);
        if (st == QG_SUCCESS) st = v->family->launch(ctx, k, p, g, v->params, NULL);
    } else {
        st = qg_gemm_with_kernel(ctx, p, g, id, NULL);
    }
    const fake_event *ev;
    const int nev = trace_get(&ev);
    trace_start(0);
    QT_CHECK(st == want && qt_contains(qg_last_error(ctx), msg), "%s (%s): %s, want %s: %s", id,
             msg, qg_status_name(st), qg_status_name(want), qg_last_error(ctx));
    QT_CHECK(nev == 0, "%s (%s): refused after issuing %d operations", id, msg, nev);
}

static void dequant_lt_launches(void) {
    setenv("QGEMM_CUBLASLT_LIBRARY", QG_FAKE_CUBLASLT, 1);
    setenv("FAKE_LT_WS", "0,4096,1048579", 1);
    char why[1024];
    if (qg_compiler_nvrtc.load(why, sizeof why) != QG_SUCCESS) { /* dequant_wo is compiled */
        printf("  NVRTC not available (%s): wo_dequant_lt launches skipped\n", why);
        return;
    }
    if (!QT_CHECK(qg_cublaslt_load(why, sizeof why) == QG_SUCCESS, "fake cuBLASLt: %s", why))
        return;
    char cache[512];
    snprintf(cache, sizeof cache, "%s/test-cache", QG_TEST_BINARY_DIR);
    setenv("QGEMM_CACHE_DIR", cache, 1);
    qg_context *ctx = fake_ctx();
    if (!ctx) return;
    void *hc = dlopen(QG_FAKE_CUDA, RTLD_NOW | RTLD_NOLOAD);
    void *hl = dlopen(QG_FAKE_CUBLASLT, RTLD_NOW | RTLD_NOLOAD);
    void (*trace_start)(int) = hc ? (void (*)(int))dlsym(hc, "fake_cuda_trace_start") : NULL;
    int (*trace_get)(const fake_event **) =
        hc ? (int (*)(const fake_event **))dlsym(hc, "fake_cuda_trace_get") : NULL;
    void (*trace_add)(const fake_event *) =
        hc ? (void (*)(const fake_event *))dlsym(hc, "fake_cuda_trace_add") : NULL;
    void (*capture)(const int *, int) =
        hc ? (void (*)(const int *, int))dlsym(hc, "fake_cuda_capture_params") : NULL;
    void (*set_trace)(void (*)(const fake_event *)) =
        hl ? (void (*)(void (*)(const fake_event *)))dlsym(hl, "fake_cublaslt_set_trace") : NULL;
    if (!QT_CHECK(trace_start && trace_get && trace_add && capture && set_trace,
                  "fake trace symbols")) {
        qg_context_destroy(ctx);
        return;
    }
    set_trace(trace_add);
    const int sizes[] = {(int)sizeof(qg_dq_params)};
    capture(sizes, 1);

    /* 2900 x 4096 = 23.7 MB of bf16: two chunks of 1536 and 1364 columns at 16 MiB (the last
     * ends inside a slab), one chunk at 32 MiB; lda and ldc padded */
    qg_problem p = w4_problem(256, 2900, 4096, 128, 1, QG_DTYPE_BF16, 1);
    check_dequant_lt_run(ctx, "wo_dequant_lt.wbits4.mb16.algo0", &p, 4096 + 8, 2900 + 3, 1536, 2, 0,
                         trace_start, trace_get);
    check_dequant_lt_run(ctx, "wo_dequant_lt.wbits4.mb16.algo2", &p, 4096, 2900, 1536, 2, 1048579,
                         trace_start, trace_get);
    check_dequant_lt_run(ctx, "wo_dequant_lt.wbits4.mb32.algo1", &p, 4096, 2900, 2900, 1, 4096,
                         trace_start, trace_get);
    /* f16, per channel, symmetric, no bias: 5000 x 3072 = 30.7 MB -> 2 chunks of 2560 + 2440 */
    p = w4_problem(130, 5000, 3072, 0, 0, QG_DTYPE_F16, 0);
    check_dequant_lt_run(ctx, "wo_dequant_lt.wbits4.mb16.algo1", &p, 3072, 5000, 2560, 2, 4096,
                         trace_start, trace_get);
    /* group 32 with zero points, f16, bias: 3 chunks of 2816 + 2816 + 2560 at 16 MiB
     * (8192 x 2112 x 2 = 33 MiB) */
    p = w4_problem(1000, 8192, 2112, 32, 1, QG_DTYPE_F16, 1);
    check_dequant_lt_run(ctx, "wo_dequant_lt.wbits4.mb16.algo0", &p, 2112, 8192, 2816, 3, 0,
                         trace_start, trace_get);
    /* W8A16 (per-channel scales, no zero points; slabs of 1 KiB per k16 step), the same
     * chunkings: bf16 with bias and padded lda / odd ldc in 2 chunks, f16 in 3, f16 in 1 */
    p = w8_problem(256, 2900, 4096, QG_DTYPE_BF16, 1);
    check_dequant_lt_run(ctx, "wo_dequant_lt.wbits8.mb16.algo2", &p, 4096 + 8, 2900 + 3, 1536, 2,
                         1048579, trace_start, trace_get);
    p = w8_problem(1000, 8192, 2112, QG_DTYPE_F16, 1);
    check_dequant_lt_run(ctx, "wo_dequant_lt.wbits8.mb16.algo0", &p, 2112, 8192, 2816, 3, 0,
                         trace_start, trace_get);
    p = w8_problem(130, 5000, 3072, QG_DTYPE_F16, 0);
    check_dequant_lt_run(ctx, "wo_dequant_lt.wbits8.mb32.algo1", &p, 3072, 5000, 5000, 1, 4096,
                         trace_start, trace_get);

    /* refusals, with nothing issued */
    void *a = NULL, *c = NULL, *wt = NULL, *sc = NULL, *ws = NULL;
    p = w4_problem(16, 256, 256, 128, 0, QG_DTYPE_BF16, 0);
    QT_OK(qg_malloc(ctx, &a, 2 * 1024 * 264));
    QT_OK(qg_malloc(ctx, &c, 2 * 1024 * 256));
    QT_OK(qg_malloc(ctx, &wt, 256 * 256));
    QT_OK(qg_malloc(ctx, &sc, 2 * 256 * 256));
    const size_t need = 256 + QG_CUBLASLT_WORKSPACE + 256 * 256 * 2;
    QT_OK(qg_malloc(ctx, &ws, need));
    if (a && c && wt && sc && ws) {
        QT_OK(qg_memset_d8(ctx, ws, 0, need));
        qg_gemm_args g;
        qg_gemm_args_init(&g);
        g.a = a, g.c = c, g.w.weight = wt, g.w.scale = sc, g.lda = 256, g.ldc = 256;
        g.workspace = ws, g.workspace_bytes = need;
        check_dequant_lt_refused(ctx, "wo_dequant_lt.wbits4.mb16.algo0", &p, &g, 0,
                                 QG_ERR_UNSUPPORTED, "M=16", trace_start, trace_get);
        p.m = 128;
        p.out_dtype = QG_DTYPE_F16;
        check_dequant_lt_refused(ctx, "wo_dequant_lt.wbits4.mb16.algo0", &p, &g, 0,
                                 QG_ERR_UNSUPPORTED, "bf16->bf16", trace_start, trace_get);
        p.out_dtype = QG_DTYPE_BF16;
        /* the fake heuristic offers three algorithms */
        check_dequant_lt_refused(ctx, "wo_dequant_lt.wbits4.mb32.algo3", &p, &g, 0,
                                 QG_ERR_UNSUPPORTED, "offers 3", trace_start, trace_get);
        g.lda = 260;
        check_dequant_lt_refused(ctx, "wo_dequant_lt.wbits4.mb16.algo0", &p, &g, 0,
                                 QG_ERR_UNSUPPORTED, "lda", trace_start, trace_get);
        g.lda = 256;
        p.scheme = QG_SCHEME_W8A16, p.group_size = 0; /* the other width's variant */
        check_dequant_lt_refused(ctx, "wo_dequant_lt.wbits4.mb16.algo0", &p, &g, 0,
                                 QG_ERR_UNSUPPORTED, "computes w4a16", trace_start, trace_get);
        p.scheme = QG_SCHEME_W4A16, p.group_size = 128;
        check_dequant_lt_refused(ctx, "wo_dequant_lt.wbits8.mb16.algo0", &p, &g, 0,
                                 QG_ERR_UNSUPPORTED, "computes w8a16", trace_start, trace_get);
        g.workspace = NULL, g.workspace_bytes = 0;
        check_dequant_lt_refused(ctx, "wo_dequant_lt.wbits4.mb16.algo0", &p, &g, 1,
                                 QG_ERR_INVALID_ARGUMENT, "workspace", trace_start, trace_get);
        g.workspace = ws, g.workspace_bytes = need - 1;
        check_dequant_lt_refused(ctx, "wo_dequant_lt.wbits4.mb16.algo0", &p, &g, 1,
                                 QG_ERR_INVALID_ARGUMENT, "workspace", trace_start, trace_get);
        /* through dispatch with no workspace: the context's own is used (allocated and
         * zeroed by the first call, untraced) */
        g.workspace = NULL, g.workspace_bytes = 0;
        QT_CHECK(qg_gemm_with_kernel(ctx, &p, &g, "wo_dequant_lt.wbits4.mb16.algo1", NULL) ==
                     QG_SUCCESS,
                 "context workspace: %s", qg_last_error(ctx));
        trace_start(1);
        QT_CHECK(qg_gemm_with_kernel(ctx, &p, &g, "wo_dequant_lt.wbits4.mb16.algo1", NULL) ==
                     QG_SUCCESS,
                 "context workspace: %s", qg_last_error(ctx));
        const fake_event *ev;
        QT_CHECK(trace_get(&ev) == 4, "one chunk: dequant, matmul, two memsets");
        trace_start(0);
        /* with no tuning entry, dispatch's heuristic picks it for prefill (it won every
         * Llama-3-8B shape at M >= 1024 on the H100) */
        p.m = 4096;
        char expl[256];
        QT_OK(qg_explain(ctx, &p, expl, sizeof expl));
        QT_CHECK(qt_contains(expl, "wo_dequant_lt.wbits4"), "heuristic dispatch at M=4096: %s", expl);
    } else {
        QT_CHECK(0, "allocations");
    }
    qg_free(ctx, a), qg_free(ctx, c), qg_free(ctx, wt), qg_free(ctx, sc), qg_free(ctx, ws);
    set_trace(NULL);
    qg_context_destroy(ctx);
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
    qt_in_child("missing cuBLASLt", missing_library);
    qt_in_child("wrong cuBLASLt", wrong_library);
    qt_in_child("tuner without cuBLASLt", tuner_without_blas);
    qt_in_child("installed cuBLASLt", real_library);
    qt_in_child("workspace left zero (fake cuBLASLt)", workspace_left_zero);
    test_dequant_lt_family();
    qt_in_child("wo_dequant_lt launches (fake cuBLASLt)", dequant_lt_launches);
    return qt_finish("test_cublaslt");
}
