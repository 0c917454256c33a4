/* Staleness from compiled code: code hashes of images and variants, the freshness of database
 * entries (code hashes and the source hashes of older entries), the restamp migration, and
 * dispatch skipping stale entries on the fake driver with one message per context. */
#include "testutil.h"

#include "backend.h"
#include "code_hash.h"
#include "db.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char cache[64] = "/tmp/qg_fresh_cache_XXXXXX"; /* images compiled once per test run */

static const char *tiny = "extern \"C\" __global__ void qg_tiny(float *x) {\n"
                          "    x[threadIdx.x] = x[threadIdx.x] * SCALE + 1.0f;\n"
                          "}\n";

/* tiny, compiled for sm_90a with -DSCALE=`scale` and `extra` options; NULL if it fails. */
static void *compile_tiny(const char *prefix, const char *name, const char *scale,
                          const char *extra, size_t *size) {
    char src[1024], def[64];
    snprintf(src, sizeof src, "%s%s", prefix, tiny);
    snprintf(def, sizeof def, "-DSCALE=%s", scale);
    const char *opts[] = {def, extra};
    void *img = NULL;
    char *log = NULL;
    qg_status s = qg_compiler_nvrtc.compile(src, name, "sm_90a", opts, extra ? 2 : 1, &img, size,
                                            &log);
    QT_CHECK(s == QG_SUCCESS, "tiny kernel compiles: %s", log ? log : qg_last_error(NULL));
    free(log);
    return s == QG_SUCCESS ? img : NULL;
}

/* What changes the code hash and what does not. */
static void test_image_hash(void) {
    size_t n0, n1, n2, n3;
    void *base = compile_tiny("", "tiny.cu", "2.0f", NULL, &n0);
    void *moved = compile_tiny("// a comment\n\n/* and lines that move the code */\n", "other.cu",
                               "2.0f", NULL, &n1);
    /* other ptxas options change the compiler's note (.note.nv.tkinfo), not the code */
    void *noted = compile_tiny("", "tiny.cu", "2.0f", "--ptxas-options=--warn-on-spills", &n2);
    void *changed = compile_tiny("", "tiny.cu", "3.0f", NULL, &n3);
    if (!base || !moved || !noted || !changed) goto out;
    const uint64_t h = qg_image_code_hash(base, n0);
    QT_CHECK(qg_image_code_hash(moved, n1) == h, "comments, lines, program name: same code hash");
    QT_CHECK(n2 != n0 || memcmp(noted, base, n0) != 0, "ptxas options change the cubin's bytes");
    QT_CHECK(qg_image_code_hash(noted, n2) == h, "ptxas options: same code hash");
    QT_CHECK(qg_image_code_hash(changed, n3) != h, "another constant: another code hash");
    /* not an ELF, or a truncated one: hashed whole, deterministic, no crash */
    QT_CHECK(qg_image_code_hash("not an elf", 10) == qg_image_code_hash("not an elf", 10) &&
                 qg_image_code_hash("not an elf", 10) != qg_image_code_hash("not an elF", 10),
             "non-ELF images hash whole");
    /* cut inside what is hashed (up to the end of the section table; program headers follow) */
    Elf64_Ehdr eh;
    memcpy(&eh, base, sizeof eh);
    const size_t hashed_end = eh.e_shoff + (size_t)eh.e_shnum * eh.e_shentsize;
    QT_CHECK(hashed_end <= n0, "section table inside the image");
    for (size_t cut = 0; cut < hashed_end && hashed_end <= n0; cut += hashed_end / 64 + 1)
        QT_CHECK(qg_image_code_hash(base, cut) != h, "truncated to %zu bytes: another hash", cut);
    unsigned char *odd = malloc(n0 + 1);
    if (odd) { /* at an odd address: headers are copied, not dereferenced */
        memcpy(odd + 1, base, n0);
        QT_CHECK(qg_image_code_hash(odd + 1, n0) == h, "unaligned image: same code hash");
        free(odd);
    }
    unsigned char *flip = malloc(n0);
    if (flip) { /* a corrupted section header offset must not be followed out of bounds */
        memcpy(flip, base, n0);
        memset(flip + 0x28, 0xff, 8); /* e_shoff */
        QT_CHECK(qg_image_code_hash(flip, n0) != h, "bad section table: hashed whole");
        free(flip);
    }
out:
    free(base), free(moved), free(noted), free(changed);
}

/* Library families hash their policy and helper kernel; arch limits are verdicts. */
static void test_variant_hash(void) {
    char fp8[QG_CODE_HASH_LEN], int8[QG_CODE_HASH_LEN], w4a[QG_CODE_HASH_LEN],
        w4b[QG_CODE_HASH_LEN], w8[QG_CODE_HASH_LEN], deq4[QG_CODE_HASH_LEN], again[QG_CODE_HASH_LEN];
    QT_OK(qg_variant_code_hash(qg_catalog_find("cublaslt_fp8.algo0"), "sm_90a", cache, fp8));
    QT_OK(qg_variant_code_hash(qg_catalog_find("cublaslt_fp8.algo3"), "sm_90a", cache, again));
    QT_CHECK(strcmp(fp8, again) == 0 && strlen(fp8) == 16, "cuBLASLt fp8: the policy (%s)", fp8);
    QT_OK(qg_variant_code_hash(qg_catalog_find("cublaslt_int8.algo0"), "sm_90a", cache, int8));
    QT_CHECK(strcmp(int8, fp8) != 0, "cuBLASLt int8 also hashes its epilogue kernel");
    QT_OK(qg_variant_code_hash(qg_catalog_find("wo_dequant_lt.wbits4.mb16.algo0"), "sm_90a", cache,
                               w4a));
    QT_OK(qg_variant_code_hash(qg_catalog_find("wo_dequant_lt.wbits4.mb32.algo3"), "sm_90a", cache,
                               w4b));
    QT_OK(qg_variant_code_hash(qg_catalog_find("wo_dequant_lt.wbits8.mb16.algo0"), "sm_90a", cache,
                               w8));
    QT_CHECK(strcmp(w4a, w4b) == 0 && strcmp(w4a, w8) != 0,
             "dequant + cuBLASLt: the dequantize kernel of its width");
    QT_OK(qg_variant_code_hash(qg_catalog_find("dequant_wo.wbits4"), "sm_90a", cache, deq4));
    QT_CHECK(strcmp(deq4, w4a) != 0, "the helper alone hashes differently");
    /* sm_80 code differs from sm_90a code */
    QT_OK(qg_variant_code_hash(qg_catalog_find("dequant_wo.wbits4"), "sm_80", cache, again));
    QT_CHECK(strcmp(again, deq4) != 0, "per architecture");
    QT_STATUS(qg_variant_code_hash(qg_catalog_find("cublaslt_fp8.algo0"), "sm_80", cache, again),
              QG_ERR_UNSUPPORTED_ARCH);
    QT_STATUS(qg_variant_code_hash(qg_catalog_find("w4a16_wgmma.act2.bn128"), "sm_89", cache, again),
              QG_ERR_UNSUPPORTED_ARCH);
    for (int i = 0; i < qg_catalog_count(); i++) {
        const qg_variant *v = qg_catalog_get(i);
        QT_CHECK(!v->family->helper_kernel || (qg_variant_helper(v) && qg_variant_helper(v) != v &&
                                               !qg_variant_helper(v)->family->helper_kernel),
                 "%s: its helper is a catalog kernel without a helper", v->id);
    }
}

/* A w4a16 problem class and two catalog kernels (with source) that fit it at M = 8..64. */
static qg_problem w4a16_problem(const qg_variant **a, const qg_variant **b) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = QG_SCHEME_W4A16, p.n = 4096, p.k = 4096, p.group_size = 128, p.m = 16;
    *a = *b = NULL;
    char why[256];
    for (int i = 0; i < qg_catalog_count() && !*b; i++) {
        const qg_variant *v = qg_catalog_get(i);
        int fits = v->family->source && !v->family->experimental;
        for (int64_t m = 8; fits && m <= 64; m *= 2) {
            p.m = m;
            fits = qg_variant_fits(v, &p, QG_OP_GEMM, 90, why, sizeof why);
        }
        if (fits && !*a) *a = v;
        else if (fits && (*a)->family != v->family) *b = v;
    }
    p.m = 16;
    QT_CHECK(*a && *b, "two w4a16 kernel families fit");
    return p;
}

static void add(qg_db *db, const qg_problem *p, int64_t m, const qg_variant *v, const char *code,
                const char *source) {
    qg_db_entry e;
    memset(&e, 0, sizeof e);
    e.key = *p;
    e.key.m = e.m_bucket = m;
    snprintf(e.kernel, sizeof e.kernel, "%s", v ? v->id : "gone_family.x1");
    e.median_us = 10;
    snprintf(e.tuned_at, sizeof e.tuned_at, "2026-12-01T00:00:00Z");
    snprintf(e.code_hash, sizeof e.code_hash, "%s", code ? code : "");
    snprintf(e.catalog_hash, sizeof e.catalog_hash, "%s", source ? source : "");
    QT_OK(qg_db_put(db, &e));
}

static qg_db *new_db(const char *gpu) {
    qg_db *db = calloc(1, sizeof *db);
    if (!db) return NULL;
    snprintf(db->meta.gpu_name, sizeof db->meta.gpu_name, "%s", gpu);
    db->meta.cc_major = 9;
    db->has_meta = 1;
    return db;
}

/* Serialize and parse back: what a file holds and what loading decides. */
static qg_db *round_trip(const qg_db *db) {
    char *json = qg_db_to_json(db);
    qg_db *back = calloc(1, sizeof *back);
    QT_CHECK(json && back, "serialized");
    if (json && back) QT_OK(qg_db_from_json(back, json, strlen(json)));
    free(json);
    return back;
}

static void test_db_verdicts(void) {
    const qg_variant *a, *b;
    const qg_problem p = w4a16_problem(&a, &b);
    if (!a || !b) return;
    char ha[QG_CODE_HASH_LEN], hb[QG_CODE_HASH_LEN];
    QT_OK(qg_variant_code_hash(a, "sm_90a", cache, ha));
    QT_OK(qg_variant_code_hash(b, "sm_90a", cache, hb));
    const char *src = qg_catalog_hash_scheme(QG_SCHEME_W4A16);
    qg_db *db = new_db("Fake GPU");
    if (!db) return;
    add(db, &p, 16, a, "0123456789abcdef", NULL);     /* 0: timed on other code */
    add(db, &p, 32, b, hb, NULL);                     /* 1: fresh */
    add(db, &p, 64, a, ha, NULL);                     /* 2: fresh */
    add(db, &p, 128, a, NULL, src);                   /* 3: before code hashes, these sources */
    add(db, &p, 256, b, NULL, "00000000deadbeef");    /* 4: before code hashes, other sources */
    add(db, &p, 512, NULL, "0123456789abcdef", NULL); /* 5: kernel gone */
    qg_db *back = round_trip(db);
    qg_db_close(db);
    if (!back || back->count != 6) {
        QT_CHECK(0, "6 entries back");
        qg_db_close(back);
        return;
    }
    const qg_db_entry *e = back->entries;
    QT_CHECK(e[0].verdict == QG_VERDICT_UNKNOWN && e[1].verdict == QG_VERDICT_UNKNOWN &&
                 e[3].verdict == QG_VERDICT_FRESH && e[4].verdict == QG_VERDICT_STALE,
             "on load: code hashes undecided, source hashes decided (%d %d %d %d)", e[0].verdict,
             e[1].verdict, e[3].verdict, e[4].verdict);
    QT_CHECK(strcmp(e[1].code_hash, hb) == 0 && !e[1].catalog_hash[0] &&
                 strcmp(e[3].catalog_hash, src) == 0,
             "code_hash and catalog_hash survive the file");
    int stale = -1;
    QT_OK(qg_db_decide_freshness(back, NULL, cache, 2, &stale));
    QT_CHECK(stale == 3 && e[0].verdict == QG_VERDICT_STALE && e[1].verdict == QG_VERDICT_FRESH &&
                 e[2].verdict == QG_VERDICT_FRESH && e[5].verdict == QG_VERDICT_STALE,
             "decided: 3 stale (%d), verdicts %d %d %d %d", stale, e[0].verdict, e[1].verdict,
             e[2].verdict, e[5].verdict);
    /* the cascade skips stale entries: M=16's exact entry is stale, the next bucket answers */
    qg_problem q = p;
    qg_dispatch_level level;
    const qg_db_entry *hit = qg_db_lookup(back, &q, &level);
    QT_CHECK(hit == &e[1] && level == QG_LEVEL_BUCKET, "M=16 -> the fresh M=32 entry");
    q.m = 256;
    hit = qg_db_lookup(back, &q, &level);
    QT_CHECK(hit == &e[3] && level == QG_LEVEL_BUCKET, "M=256 (stale) -> M=128");
    /* migration: the old fresh entry gets its kernel's code hash, the stale one keeps its hash */
    int restamped = -1;
    QT_OK(qg_db_restamp(back, "sm_90a", cache, 2, &restamped));
    QT_CHECK(restamped == 1 && strcmp(e[3].code_hash, ha) == 0 && !e[3].catalog_hash[0] &&
                 !e[4].code_hash[0] && strcmp(e[4].catalog_hash, "00000000deadbeef") == 0,
             "restamp: %d restamped (want 1)", restamped);
    qg_db *again = round_trip(back);
    if (again && again->count == 6) {
        QT_OK(qg_db_decide_freshness(again, "sm_90a", cache, 2, &stale));
        QT_CHECK(stale == 3 && again->entries[3].verdict == QG_VERDICT_FRESH,
                 "restamped entry fresh after a reload (%d stale)", stale);
        /* another architecture's code: the sm_90a hashes do not match sm_80's */
        qg_db *other = round_trip(back);
        if (other) QT_OK(qg_db_decide_freshness(other, "sm_80", cache, 2, &stale));
        QT_CHECK(other && other->entries[1].verdict == QG_VERDICT_STALE, "sm_80: stale");
        qg_db_close(other);
    }
    qg_db_close(again);
    qg_db_close(back);
}

static void put_file(const char *dir, const char *name, const void *data, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    QT_CHECK(f && fwrite(data, 1, n, f) == n && fclose(f) == 0, "wrote %s", path);
}

/* Put v's sm_90a image (or `other`'s, standing for changed code) into dir as <v id>.cubin. */
static void put_image(const char *dir, const qg_variant *v, const qg_variant *other) {
    void *img = NULL;
    size_t n = 0;
    char *log = NULL, name[200];
    QT_OK(qg_jit_compile(other ? other : v, "sm_90a", &img, &n, &log, NULL));
    snprintf(name, sizeof name, "%s.cubin", v->id);
    if (img) put_file(dir, name, img, n);
    free(img);
    free(log);
}

/* Entries an older build timed: fresh where its images show the code is unchanged. */
static void test_restamp_from_images(void) {
    const qg_variant *a, *b;
    const qg_problem p = w4a16_problem(&a, &b);
    const qg_variant *lt = qg_catalog_find("wo_dequant_lt.wbits4.mb16.algo0");
    if (!a || !b || !lt) return;
    char dir[64];
    snprintf(dir, sizeof dir, "%s/images", cache);
    QT_CHECK(mkdir(dir, 0755) == 0, "mkdir %s", dir);
    const char *then = "00000000deadbeef";
    put_file(dir, "catalog_hash", then, strlen(then));
    put_image(dir, a, NULL); /* unchanged */
    put_image(dir, b, a);    /* changed since */
    put_image(dir, qg_variant_helper(lt), NULL);
    for (int policy = 0; policy < 2; policy++) {
        const char *pol = policy ? "cublaslt reduction mask 0" : lt->family->library_policy;
        put_file(dir, "library_policy", pol, strlen(pol));
        qg_db *db = new_db("Fake GPU");
        if (!db) return;
        add(db, &p, 16, a, NULL, then);
        add(db, &p, 32, b, NULL, then);
        add(db, &p, 64, lt, NULL, then);
        add(db, &p, 128, a, NULL, "1111111111111111"); /* another build's */
        qg_db *back = round_trip(db);
        qg_db_close(db);
        if (!back || back->count != 4) {
            qg_db_close(back);
            return;
        }
        int restamped = -1, stale = -1;
        QT_OK(qg_db_restamp_from_images(back, dir, "sm_90a", cache, 2, &restamped));
        QT_OK(qg_db_decide_freshness(back, "sm_90a", cache, 2, &stale));
        const qg_db_entry *e = back->entries;
        char ha[QG_CODE_HASH_LEN];
        QT_OK(qg_variant_code_hash(a, "sm_90a", cache, ha));
        QT_CHECK(restamped == 2 - policy && e[0].verdict == QG_VERDICT_FRESH &&
                     strcmp(e[0].code_hash, ha) == 0 && e[1].verdict == QG_VERDICT_STALE &&
                     e[2].verdict == (policy ? QG_VERDICT_STALE : QG_VERDICT_FRESH) &&
                     e[3].verdict == QG_VERDICT_STALE && stale == 2 + policy,
                 "policy %d: %d restamped, %d stale; verdicts %d %d %d %d", policy, restamped,
                 stale, e[0].verdict, e[1].verdict, e[2].verdict, e[3].verdict);
        qg_db_close(back);
    }
    qg_db *none = new_db("x");
    QT_STATUS(qg_db_restamp_from_images(none, "/nonexistent", "sm_90a", "", 1, NULL),
              QG_ERR_NOT_FOUND);
    qg_db_close(none);
}

/* Run fn with stderr in a file; returns what it printed (malloc'd). */
static char *capture_stderr(void (*fn)(void *), void *arg) {
    char path[] = "/tmp/qg_fresh_stderr_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *out = calloc(1, (size_t)n + 1);
    if (out && pread(fd, out, (size_t)n, 0) != n) out[0] = 0;
    close(fd);
    unlink(path);
    fprintf(stderr, "%s", out ? out : ""); /* still visible in the test log */
    return out;
}

static int count(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = s; p && (p = strstr(p, needle)); p++) n++;
    return n;
}

typedef struct {
    const char *db_path;
    const qg_problem *p;
    int64_t ms[2];
    char explain[2][512];
} dispatch_run;

/* A context on the fake device with database `path` (NULL on failure, counted). */
static qg_context *open_with_db(const char *path) {
    qg_context_params cp;
    qg_context_params_init(&cp);
    cp.backend = QG_BACKEND_CUDA;
    cp.tuning_db = path;
    cp.cache_dir = cache;
    qg_context *ctx = NULL;
    QT_OK(qg_context_create(&ctx, &cp));
    return ctx;
}

static void dispatch_with_db(void *arg) {
    dispatch_run *r = arg;
    qg_context *ctx = open_with_db(r->db_path);
    if (!ctx) return;
    qg_problem q = *r->p;
    for (int i = 0; i < 2; i++) {
        q.m = r->ms[i];
        QT_OK(qg_prepare(ctx, &q, 1));
        QT_OK(qg_explain(ctx, &q, r->explain[i], sizeof r->explain[i]));
    }
    qg_context_destroy(ctx);
}

/* Several threads plan the same stale shapes on one context at once. */
typedef struct {
    qg_context *ctx;
    const qg_problem *p;
    qg_status status; /* checked by the main thread (the test counters are not shared) */
    char explain[512];
} plan_thread;

static void *plan_both(void *arg) {
    plan_thread *t = arg;
    qg_problem q = *t->p;
    for (int i = 0; i < 2 && t->status == QG_SUCCESS; i++) {
        q.m = i ? 64 : 16;
        t->status = qg_prepare(t->ctx, &q, 1);
    }
    if (t->status == QG_SUCCESS) t->status = qg_explain(t->ctx, &q, t->explain, sizeof t->explain);
    return NULL;
}

static void threads_with_db(void *arg) {
    dispatch_run *r = arg;
    qg_context *ctx = open_with_db(r->db_path);
    if (!ctx) return;
    plan_thread t[4];
    pthread_t tid[4];
    int started = 0;
    for (; started < 4; started++) {
        t[started] = (plan_thread){.ctx = ctx, .p = r->p};
        if (pthread_create(&tid[started], NULL, plan_both, &t[started]) != 0) break;
    }
    for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
    QT_CHECK(started == 4, "4 threads started (%d)", started);
    for (int i = 0; i < started; i++)
        QT_CHECK(t[i].status == QG_SUCCESS, "thread %d: %s", i, qg_status_name(t[i].status));
    for (int i = 0; i < started; i++)
        snprintf(r->explain[i & 1], sizeof r->explain[0], "%s", t[i].explain);
    qg_context_destroy(ctx);
}

static void test_dispatch_skips_stale(void) {
    setenv("QGEMM_CUDA_LIBRARY", QG_FAKE_CUDA, 1);
    const qg_variant *a, *b;
    const qg_problem p = w4a16_problem(&a, &b);
    if (!a || !b) return;
    char hb[QG_CODE_HASH_LEN];
    QT_OK(qg_variant_code_hash(b, "sm_90a", cache, hb));
    char path[] = "/tmp/qg_fresh_db_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return;
    close(fd);
    unlink(path);
    qg_db *db = new_db("Fake GPU");
    if (!db) return;
    add(db, &p, 16, a, "0123456789abcdef", NULL); /* stale: exact for M=16 */
    add(db, &p, 64, a, "0123456789abcdef", NULL); /* stale: exact for M=64 */
    add(db, &p, 32, b, hb, NULL);                 /* fresh */
    QT_OK(qg_db_save(db, path));
    qg_db_close(db);

    dispatch_run r = {.db_path = path, .p = &p, .ms = {16, 64}}; /* two stale entries of A */
    char *err = capture_stderr(dispatch_with_db, &r);
    QT_CHECK(qt_contains(r.explain[0], b->id) && qt_contains(r.explain[0], "m-bucket"),
             "M=16: the fresh entry's kernel, not the stale exact one: %s", r.explain[0]);
    QT_CHECK(qt_contains(r.explain[1], b->id), "M=64: %s", r.explain[1]);
    QT_CHECK(count(err, "stale entr") == 1 && qt_contains(err, "2 stale entries") &&
                 qt_contains(err, "qgemm tune --stale"),
             "said once, with the count and the command: %s", err ? err : "(null)");
    free(err);
    err = capture_stderr(threads_with_db, &r);
    QT_CHECK(qt_contains(r.explain[0], b->id) && qt_contains(r.explain[1], b->id) &&
                 count(err, "stale entr") == 1,
             "4 threads: the fresh kernel, said once: %s", err ? err : "(null)");
    free(err);

    /* entries from before code hashes are decided on load: said when the context opens; an
     * entry whose kernel left the catalog is stale too */
    qg_db *old = new_db("Fake GPU");
    if (old) {
        add(old, &p, 16, a, NULL, "00000000deadbeef");
        add(old, &p, 32, b, hb, NULL);
        add(old, &p, 8, NULL, hb, NULL);
        r.ms[1] = 8;
        unlink(path);
        QT_OK(qg_db_save(old, path));
        qg_db_close(old);
        char *err2 = capture_stderr(dispatch_with_db, &r);
        QT_CHECK(count(err2, "stale entr") == 1 && qt_contains(err2, "1 stale entry"),
                 "old stale entry said once: %s", err2 ? err2 : "(null)");
        QT_CHECK(qt_contains(r.explain[0], b->id), "M=16 -> %s", r.explain[0]);
        QT_CHECK(qt_contains(r.explain[1], b->id) && qt_contains(r.explain[1], "m-bucket"),
                 "M=8, its kernel gone -> %s", r.explain[1]);
        free(err2);
    }
    unlink(path);
    char lock[64];
    snprintf(lock, sizeof lock, "%s.lock", path);
    unlink(lock);
}

int main(void) {
    char why[256];
    if (qg_compiler_nvrtc.load(why, sizeof why) != QG_SUCCESS) {
        printf("SKIP: %s\n", why);
        return 0;
    }
    if (!mkdtemp(cache)) {
        printf("FAIL: no temporary directory\n");
        return 1;
    }
    test_image_hash();
    test_variant_hash();
    test_db_verdicts();
    test_restamp_from_images();
    test_dispatch_skips_stale();
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf %s", cache);
    QT_CHECK(system(rm) == 0, "removed %s", cache);
    return qt_finish("test_db_fresh");
}
