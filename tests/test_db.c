/* Tuning database: JSON round trip, lookup cascade, concurrent saves from several processes,
 * corrupt and foreign files reported and left untouched. */
#include "testutil.h"

#include "db.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static qg_device_info dev(const char *name) {
    qg_device_info d;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "%s", name);
    d.cc_major = 9, d.cc_minor = 0, d.sm_count = 132, d.driver_version = 13000;
    return d;
}

static qg_db_entry entry(qg_scheme s, int64_t n, int64_t k, int64_t m, const char *kernel, double us) {
    qg_db_entry e;
    memset(&e, 0, sizeof e);
    qg_problem_init(&e.key);
    e.key.scheme = s, e.key.n = n, e.key.k = k, e.key.m = m;
    e.m_bucket = m;
    snprintf(e.kernel, sizeof e.kernel, "%s", kernel);
    e.median_us = us, e.p20_us = us * 0.98, e.p80_us = us * 1.03, e.rel_error = 1e-3;
    qg_now_iso8601(e.tuned_at, sizeof e.tuned_at);
    return e;
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (b) b[n] = 0;
    fclose(f);
    return b;
}

static void write_str(const char *path, const char *s) {
    FILE *f = fopen(path, "wb");
    fputs(s, f);
    fclose(f);
}

static void test_round_trip_and_cascade(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/rt.json", dir);
    qg_device_info d = dev("NVIDIA H100 80GB HBM3");
    qg_db *db;
    QT_OK(qg_db_open(&db, path, &d));
    QT_CHECK(qg_db_size(db) == 0, "new database is empty");
    qg_db_entry e1 = entry(QG_SCHEME_W4A16, 4096, 4096, 1, "kA", 10.0);
    qg_db_entry e2 = entry(QG_SCHEME_W4A16, 4096, 4096, 16, "kB", 12.0);
    qg_db_entry e3 = entry(QG_SCHEME_W4A16, 28672, 4096, 128, "kC", 50.0);
    qg_db_entry e4 = entry(QG_SCHEME_W8A8_FP8, 4096, 4096, 1, "kD", 9.0);
    e4.key.group_size = 0;
    QT_OK(qg_db_put(db, &e1));
    QT_OK(qg_db_put(db, &e2));
    QT_OK(qg_db_put(db, &e3));
    QT_OK(qg_db_put(db, &e4));
    QT_OK(qg_db_save(db, NULL));
    qg_db_close(db);

    QT_OK(qg_db_open(&db, path, &d));
    QT_CHECK(qg_db_size(db) == 4, "4 entries after reload (got %d)", qg_db_size(db));
    const qg_db_entry *f = qg_db_find(db, &e2.key, 16);
    QT_CHECK(f && !strcmp(f->kernel, "kB") && f->median_us == 12.0, "entry fields survive JSON");
    QT_CHECK(db->meta.cc_major == 9 && !strcmp(db->meta.gpu_name, d.name), "metadata survives");

    qg_problem p = e1.key;
    qg_dispatch_level lv;
    p.m = 1;
    f = qg_db_lookup(db, &p, &lv);
    QT_CHECK(f && !strcmp(f->kernel, "kA") && lv == QG_LEVEL_EXACT, "M=1: exact");
    p.m = 9;
    f = qg_db_lookup(db, &p, &lv);
    QT_CHECK(f && !strcmp(f->kernel, "kB") && lv == QG_LEVEL_BUCKET, "M=9: bucket 16");
    p.m = 1000;
    f = qg_db_lookup(db, &p, &lv);
    QT_CHECK(f && !strcmp(f->kernel, "kB") && lv == QG_LEVEL_BUCKET, "M=1000: nearest tuned bucket");
    p.n = 14336, p.k = 4096, p.m = 100;
    f = qg_db_lookup(db, &p, &lv);
    QT_CHECK(f && !strcmp(f->kernel, "kC") && lv == QG_LEVEL_NEAREST, "untuned shape: nearest shape");
    p.scheme = QG_SCHEME_W8A16;
    p.group_size = 0;
    QT_CHECK(qg_db_lookup(db, &p, &lv) == NULL, "other scheme: nothing (heuristic)");
    qg_db_close(db);
}

/* Several processes save disjoint entries into one file at once: none may be lost. */
static void test_concurrent_saves(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/conc.json", dir);
    qg_device_info d = dev("NVIDIA H100 80GB HBM3");
    enum { PROCS = 4, EACH = 12 };
    pid_t pids[PROCS];
    for (int w = 0; w < PROCS; w++) {
        pids[w] = fork();
        if (pids[w] == 0) {
            for (int i = 0; i < EACH; i++) {
                qg_db *db;
                if (qg_db_open(&db, path, &d) != QG_SUCCESS) _exit(2);
                qg_db_entry e = entry(QG_SCHEME_W4A16, 1024 * (w + 1), 4096, i + 1, "k", 1.0 + i);
                if (qg_db_put(db, &e) != QG_SUCCESS || qg_db_save(db, NULL) != QG_SUCCESS) _exit(3);
                qg_db_close(db);
            }
            _exit(0);
        }
    }
    int ok = 1;
    for (int w = 0; w < PROCS; w++) {
        int st;
        waitpid(pids[w], &st, 0);
        ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    QT_CHECK(ok, "all writer processes succeeded");
    qg_db *db;
    QT_OK(qg_db_open(&db, path, &d));
    QT_CHECK(db && qg_db_size(db) == PROCS * EACH, "no entry lost: %d of %d", db ? qg_db_size(db) : -1,
             PROCS * EACH);
    qg_db_close(db);
}

static void test_corrupt_and_foreign(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/bad.json", dir);
    const char *garbage = "{\"schema_version\": 1, \"metadata\": {\"gpu_name\": \"x\"";
    write_str(path, garbage);
    qg_device_info d = dev("NVIDIA H100 80GB HBM3");
    qg_db *db = (qg_db *)0x1;
    QT_STATUS(qg_db_open(&db, path, &d), QG_ERR_CORRUPT);
    QT_CHECK(db == NULL, "no database returned for a corrupt file");
    QT_CHECK(strstr(qg_last_error(NULL), "bad.json") != NULL, "message names the file");
    /* A save over it is refused and the file is left as it was. */
    char other[512];
    snprintf(other, sizeof other, "%s/ok.json", dir);
    QT_OK(qg_db_open(&db, other, &d));
    qg_db_entry e = entry(QG_SCHEME_W4A16, 4096, 4096, 1, "k", 1.0);
    QT_OK(qg_db_put(db, &e));
    QT_STATUS(qg_db_save(db, path), QG_ERR_CORRUPT);
    char *after = read_all(path);
    QT_CHECK(after && !strcmp(after, garbage), "corrupt file left untouched");
    free(after);
    /* A file tuned on another GPU is a mismatch on open and on save. */
    QT_OK(qg_db_save(db, other));
    qg_db_close(db);
    qg_device_info a100 = dev("NVIDIA A100-SXM4-80GB");
    a100.cc_major = 8;
    QT_STATUS(qg_db_open(&db, other, &a100), QG_ERR_DB_MISMATCH);
    QT_CHECK(strstr(qg_last_error(NULL), "H100") != NULL, "mismatch message names the GPU");
    char *before = read_all(other);
    QT_OK(qg_db_open(&db, other, NULL)); /* without an env it opens */
    strcpy(db->meta.gpu_name, "NVIDIA A100-SXM4-80GB");
    QT_STATUS(qg_db_save(db, other), QG_ERR_DB_MISMATCH);
    qg_db_close(db);
    after = read_all(other);
    QT_CHECK(before && after && !strcmp(before, after), "foreign file left untouched");
    free(before);
    free(after);
    /* Schema problems are reported as corrupt, with the field. */
    write_str(path, "{\"schema_version\": 99, \"metadata\": {}, \"entries\": []}");
    QT_STATUS(qg_db_open(&db, path, &d), QG_ERR_CORRUPT);
    write_str(path, "{\"schema_version\": 1, \"metadata\": {\"gpu_name\": \"g\", "
                    "\"compute_capability\": \"9.0\"}, \"entries\": [{\"scheme\": \"w4a16\"}]}");
    QT_STATUS(qg_db_open(&db, path, &d), QG_ERR_CORRUPT);
    QT_CHECK(strstr(qg_last_error(NULL), "entry 0") != NULL, "names the bad entry");
}

/* Each entry records the kernel catalog it was timed against: entries from another catalog stay
 * stale (the tuner re-times them) until they are re-timed, however often the file is saved by
 * runs of this build; files without per-entry hashes give each entry the file's. */
static void test_catalog_change(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/cat.json", dir);
    qg_device_info d = dev("NVIDIA H100 80GB HBM3");
    qg_db *db;
    QT_OK(qg_db_open(&db, path, &d));
    QT_CHECK(qg_db_begin_tuning(db, &d) == 0, "an empty database is not stale");
    qg_db_entry e = entry(QG_SCHEME_W4A16, 4096, 4096, 1, "kA", 10.0);
    snprintf(e.catalog_hash, sizeof e.catalog_hash, "%s", "00000000deadbeef");
    QT_OK(qg_db_put(db, &e));
    snprintf(db->meta.library_version, sizeof db->meta.library_version, "%s", "0.0.1");
    QT_OK(qg_db_save(db, NULL));
    qg_db_close(db);

    QT_OK(qg_db_open(&db, path, &d));
    QT_CHECK(qg_db_begin_tuning(db, &d) == 1, "the entry from another catalog is stale");
    QT_CHECK(strcmp(db->meta.catalog_hash, qg_catalog_hash()) == 0 &&
             strcmp(db->meta.library_version, "0.0.1") != 0, "metadata become this run's");
    qg_db_entry fresh = entry(QG_SCHEME_W4A16, 4096, 4096, 16, "kB", 12.0);
    snprintf(fresh.catalog_hash, sizeof fresh.catalog_hash, "%s", qg_catalog_hash_scheme(QG_SCHEME_W4A16));
    QT_OK(qg_db_put(db, &fresh));
    QT_OK(qg_db_save(db, NULL));
    qg_db_close(db);

    QT_OK(qg_db_open(&db, path, &d));
    QT_CHECK(qg_db_size(db) == 2, "entries kept");
    QT_CHECK(qg_db_begin_tuning(db, &d) == 1,
             "a save by this build does not make the old entry current");
    qg_problem p = e.key;
    const qg_db_entry *old = qg_db_find(db, &p, 1), *now = qg_db_find(db, &p, 16);
    QT_CHECK(old && !qg_db_entry_current(old) && strcmp(old->catalog_hash, "00000000deadbeef") == 0,
             "the old entry keeps its catalog");
    QT_CHECK(now && qg_db_entry_current(now), "the entry timed by this build is current");
    qg_db_close(db);

    /* a file written before per-entry hashes: its entries take the file's, current when that is
     * the scheme's or the whole catalog's of this build */
    const char *fmt = "{\"schema_version\": 1, \"metadata\": {\"gpu_name\": \"NVIDIA H100 80GB HBM3\", "
                      "\"compute_capability\": \"9.0\", \"catalog_hash\": \"%s\"}, \"entries\": "
                      "[{\"scheme\": \"w4a16\", \"n\": 4096, \"k\": 4096, \"group_size\": 128, "
                      "\"zero_point\": true, \"act_dtype\": \"bf16\", \"out_dtype\": \"bf16\", "
                      "\"weight_scale\": \"per-row\", \"act_scale\": \"per-row\", \"m_bucket\": 1, "
                      "\"kernel\": \"kA\", \"median_us\": 10, \"tuned_at\": \"2026-11-23T10:00:00Z\"}]}";
    const char *hashes[3] = {qg_catalog_hash_scheme(QG_SCHEME_W4A16), qg_catalog_hash(),
                             "00000000deadbeef"};
    for (int i = 0; i < 3; i++) {
        char text[1024];
        snprintf(text, sizeof text, fmt, hashes[i]);
        write_str(path, text);
        QT_OK(qg_db_open(&db, path, &d));
        QT_CHECK(db && qg_db_size(db) == 1 && qg_db_entry_current(&db->entries[0]) == (i < 2),
                 "old-format entry under file hash %s: current %d", hashes[i],
                 db && qg_db_size(db) ? qg_db_entry_current(&db->entries[0]) : -1);
        qg_db_close(db);
    }
}

/* Entries record the part of the catalog their scheme uses: a change to the 2:4 kernels leaves
 * the W4A16 entries current. */
static void test_scheme_hashes(void) {
    for (int a = 0; a < QG_SCHEME_COUNT_; a++) {
        const char *h = qg_catalog_hash_scheme((qg_scheme)a);
        QT_CHECK(strlen(h) == 16 && strspn(h, "0123456789abcdef") == 16, "%s hash '%s'",
                 qg_scheme_name((qg_scheme)a), h);
        QT_CHECK(h == qg_catalog_hash_scheme((qg_scheme)a), "computed once");
        for (int b = 0; b < a; b++)
            QT_CHECK(strcmp(h, qg_catalog_hash_scheme((qg_scheme)b)) != 0, "%s and %s differ",
                     qg_scheme_name((qg_scheme)a), qg_scheme_name((qg_scheme)b));
    }
    QT_CHECK(strcmp(qg_catalog_hash_scheme(QG_SCHEME_COUNT_), "") == 0, "bad scheme: empty");
    static const struct { qg_scheme s; const char *file; int uses; } cases[] = {
        {QG_SCHEME_W4A16, "w4a16_wgmma.cu", 1},
        {QG_SCHEME_W4A16, "int4_dequant.cuh", 1},   /* included */
        {QG_SCHEME_W4A16, "tile_raster.cuh", 1},    /* included by w4a16_wgmma.cu */
        {QG_SCHEME_W4A16, "dequant_wo.cu", 1},      /* the dequantize + cuBLASLt helper */
        {QG_SCHEME_W4A16, "sp24_wgmma.cu", 0},
        {QG_SCHEME_W4A16, "w8a8_fp8_wgmma.cu", 0},
        {QG_SCHEME_W4A16, "act_quant_fp8.cu", 0},
        {QG_SCHEME_W8A16, "w4a16_wgmma.cu", 0},
        {QG_SCHEME_SP24_FP8, "sp24_wgmma.cu", 1},
        {QG_SCHEME_SP24_FP8, "act_quant_fp8.cu", 1},
        {QG_SCHEME_SP24_FP8, "act_quant_int8.cu", 0},
        {QG_SCHEME_SP24_FP8, "w4a16_gemv.cu", 0},
        {QG_SCHEME_W8A8_INT8, "cublaslt_epilogue.cu", 1}, /* helper family of no scheme */
        {QG_SCHEME_W8A8_INT8, "w8a8_int8_wgmma.cu", 1},
        {QG_SCHEME_W8A8_INT8, "w8a8_fp8_wgmma.cu", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        QT_CHECK(qg_catalog_scheme_uses(cases[i].s, cases[i].file) == cases[i].uses,
                 "%s %s %s", qg_scheme_name(cases[i].s), cases[i].uses ? "uses" : "does not use",
                 cases[i].file);
    QT_CHECK(!qg_catalog_scheme_uses(QG_SCHEME_W4A16, "no_such_file.cu"), "unknown file");
}

int main(void) {
    char dir[] = "/tmp/qgemm-test-db-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    test_round_trip_and_cascade(dir);
    test_concurrent_saves(dir);
    test_corrupt_and_foreign(dir);
    test_catalog_change(dir);
    test_scheme_hashes();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return qt_finish("test_db");
}
