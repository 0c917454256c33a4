/* Tuning database: JSON round trip, lookup cascade, concurrent saves from several processes,
 * corrupt and foreign files reported and left untouched. */
#include "testutil.h"

#include "db.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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
    QT_CHECK(db && qg_db_size(db) == PROCS * EACH, "no entry lost: %d of %d",
             db ? qg_db_size(db) : -1, PROCS * EACH);
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
                 strcmp(db->meta.library_version, "0.0.1") != 0,
             "metadata become this run's");
    qg_db_entry fresh = entry(QG_SCHEME_W4A16, 4096, 4096, 16, "kB", 12.0);
    snprintf(fresh.catalog_hash, sizeof fresh.catalog_hash, "%s",
             qg_catalog_hash_scheme(QG_SCHEME_W4A16));
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
    const char *fmt =
        "{\"schema_version\": 1, \"metadata\": {\"gpu_name\": \"NVIDIA H100 80GB HBM3\", "
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
    static const struct {
        qg_scheme s;
        const char *file;
        int uses;
    } cases[] = {
        {QG_SCHEME_W4A16, "w4a16_wgmma.cu", 1},
        {QG_SCHEME_W4A16, "int4_dequant.cuh", 1}, /* included */
        {QG_SCHEME_W4A16, "tile_raster.cuh", 1},  /* included by w4a16_wgmma.cu */
        {QG_SCHEME_W4A16, "dequant_wo.cu", 1},    /* the dequantize + cuBLASLt helper */
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
        QT_CHECK(qg_catalog_scheme_uses(cases[i].s, cases[i].file) == cases[i].uses, "%s %s %s",
                 qg_scheme_name(cases[i].s), cases[i].uses ? "uses" : "does not use", cases[i].file);
    QT_CHECK(!qg_catalog_scheme_uses(QG_SCHEME_W4A16, "no_such_file.cu"), "unknown file");
}

/* ---- issue 15 ---- */

static int is_junk(void *user, const qg_db *db, const qg_db_entry *e) {
    (void)db;
    if (strcmp(e->kernel, "junk") != 0) return 1;
    if (user) ++*(int *)user;
    return 0;
}

/* Files in dir whose name contains `part`. */
static int count_files(const char *dir, const char *part) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, part) != NULL;
    if (d) closedir(d);
    return n;
}

/* Loading is linear (hash index): 100k entries put and found; replacing keeps one entry per key;
 * the index follows a rewrite of `entries` through qg_db_reindex (and a stale one is not used). */
static void test_index(void) {
    qg_db db = {0};
    enum { E = 100000 };
    const clock_t t0 = clock();
    for (int i = 0; i < E; i++) {
        qg_db_entry e = entry(QG_SCHEME_W4A16, 128 * (i / 20 + 1), 4096, i % 20 + 1, "k", 1.0 + i);
        if (qg_db_put(&db, &e) != QG_SUCCESS) break;
    }
    int found = 0;
    for (int i = 0; i < E; i++) {
        qg_problem p = entry(QG_SCHEME_W4A16, 128 * (i / 20 + 1), 4096, 1, "k", 0).key;
        const qg_db_entry *f = qg_db_find(&db, &p, i % 20 + 1);
        found += f && f->median_us == 1.0 + i;
    }
    const double sec = (double)(clock() - t0) / CLOCKS_PER_SEC;
    QT_CHECK(db.count == E && found == E, "100k entries put and found (%d, %d)", db.count, found);
    QT_CHECK(sec < 20, "100k puts and finds take %.1f s (quadratic took minutes)", sec);
    qg_db_entry again = entry(QG_SCHEME_W4A16, 128, 4096, 1, "k2", 7.0);
    QT_OK(qg_db_put(&db, &again));
    QT_CHECK(db.count == E && !strcmp(qg_db_find(&db, &again.key, 1)->kernel, "k2"),
             "same key replaces");
    /* drop every other entry by hand, as prune did */
    int kept = 0;
    for (int i = 0; i < db.count; i++)
        if (i % 2) db.entries[kept++] = db.entries[i];
    db.count = kept;
    QT_CHECK(qg_db_find(&db, &again.key, 1) == NULL, "a stale index is not trusted");
    QT_OK(qg_db_reindex(&db));
    qg_problem p2 = entry(QG_SCHEME_W4A16, 128, 4096, 2, "k", 0).key;
    QT_CHECK(qg_db_find(&db, &again.key, 1) == NULL && qg_db_find(&db, &p2, 2) != NULL,
             "reindexed: dropped entries gone, kept ones found");
    free(db.entries);
    free(db.index);
}

/* Paths that do not fit are errors, not another file; FIFOs and directories are refused at once;
 * a missing file is an error for qg_db_open_existing. */
static void test_paths(const char *dir) {
    char longp[1100];
    memset(longp, 'x', sizeof longp);
    snprintf(longp, sizeof longp, "%s/", dir);
    longp[strlen(longp)] = 'x';
    longp[1050] = 0;
    qg_device_info d = dev("NVIDIA H100 80GB HBM3");
    qg_db *db = (qg_db *)0x1;
    QT_STATUS(qg_db_open(&db, longp, &d), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(db == NULL && qt_contains(qg_last_error(NULL), "at most 1023"), "too long: %s",
             qg_last_error(NULL));
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s/fifo.json", dir);
    QT_CHECK(mkfifo(fifo, 0644) == 0, "mkfifo");
    QT_STATUS(qg_db_open(&db, fifo, &d), QG_ERR_IO); /* returns: does not wait for a writer */
    QT_CHECK(qt_contains(qg_last_error(NULL), "FIFO"), "names the FIFO: %s", qg_last_error(NULL));
    QT_STATUS(qg_db_open(&db, dir, &d), QG_ERR_IO);
    QT_CHECK(qt_contains(qg_last_error(NULL), "directory"), "names the directory");
    char missing[600];
    snprintf(missing, sizeof missing, "%s/missing.json", dir);
    QT_STATUS(qg_db_open_existing(&db, missing), QG_ERR_NOT_FOUND);
    QT_CHECK(qt_contains(qg_last_error(NULL), "missing.json: no such file"), "%s",
             qg_last_error(NULL));
    QT_CHECK(access(missing, F_OK) != 0, "nothing created");
    /* a save onto the FIFO is refused and leaves it a FIFO */
    QT_OK(qg_db_open(&db, missing, &d));
    qg_db_entry e = entry(QG_SCHEME_W4A16, 4096, 4096, 1, "k", 1.0);
    QT_OK(qg_db_put(db, &e));
    QT_STATUS(qg_db_save(db, fifo), QG_ERR_IO);
    struct stat st;
    QT_CHECK(stat(fifo, &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO is left alone");
    /* through a chain of two links: the target is updated, the links stay, no lock file stays */
    char target[600], l1[600], l2[600];
    snprintf(target, sizeof target, "%s/target.json", dir);
    snprintf(l1, sizeof l1, "%s/l1.json", dir);
    snprintf(l2, sizeof l2, "%s/l2.json", dir);
    QT_CHECK(symlink("target.json", l1) == 0 && symlink(l1, l2) == 0, "symlinks");
    QT_OK(qg_db_save(db, l2));
    qg_db_close(db);
    QT_CHECK(lstat(l1, &st) == 0 && S_ISLNK(st.st_mode) && lstat(l2, &st) == 0 && S_ISLNK(st.st_mode),
             "links kept");
    QT_OK(qg_db_open_existing(&db, target));
    QT_CHECK(db && qg_db_size(db) == 1, "the target got the entry");
    qg_db_close(db);
    QT_CHECK(count_files(dir, ".lock") == 0 && count_files(dir, ".tmp.") == 0,
             "no lock or temporary file left behind");
}

/* QGEMM_DATA_DIR so long that "<dir>/<gpu>.json" does not fit: the cut path (an existing other
 * file here) must not be taken for the shipped database. */
static void test_shipped_path_cut(const char *dir) {
    char deep[1100];
    int n = snprintf(deep, sizeof deep, "%s", dir);
    while (n < 1018) {
        deep[n++] = '/', deep[n++] = 'd', deep[n] = 0;
        mkdir(deep, 0755);
    }
    deep[1018] = 0; /* "<deep>/x.json" is 1025 characters; cut to 1023 it is "<deep>/x.js" */
    deep[1017] = 'd';
    mkdir(deep, 0755);
    char other[1100];
    snprintf(other, sizeof other, "%s/x.js", deep);
    write_str(other, "{}");
    setenv("QGEMM_DATA_DIR", deep, 1);
    qg_device_info d = dev("x");
    char out[1024];
    QT_CHECK(!qg_db_shipped_path(&d, out, sizeof out), "no shipped database from a cut path");
    unsetenv("QGEMM_DATA_DIR");
}

/* The parser's numbers: integers in range, finite non-negative times, exact schema version. */
static void test_parser_numbers(void) {
    static const char *const bad[] = {
        "\"n\": 1.5", "\"n\": 1e19", "\"n\": -4", "\"m_bucket\": 0", "\"group_size\": 1e300",
        "\"median_us\": -1", "\"median_us\": 1e999", "\"p80_us\": -0.5", "\"n\": \"4096\"",
        /* a code hash that no compile can match would never be judged fresh or stale */
        "\"code_hash\": \"\"", "\"code_hash\": \"xyz\"", "\"code_hash\": \"0123456789ABCDEF\"",
        "\"code_hash\": \"0123456789abcdef0\""};
    const char *fmt =
        "{\"schema_version\": %s, \"metadata\": {\"gpu_name\": \"g\", "
        "\"compute_capability\": \"%s\", \"sm_count\": %s}, \"entries\": [{\"scheme\": "
        "\"w4a16\", \"n\": 4096, %s, \"k\": 4096, \"group_size\": 128, \"zero_point\": true, "
        "\"act_dtype\": \"bf16\", \"out_dtype\": \"bf16\", \"weight_scale\": \"per-row\", "
        "\"act_scale\": \"per-row\", \"m_bucket\": 1, \"kernel\": \"k\"}]}%s";
    char text[2048];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        qg_db db = {0};
        snprintf(text, sizeof text, fmt, "1", "9.0", "132", bad[i], "");
        /* the duplicate key: cJSON keeps the first, so put the bad one first */
        char *dup = strstr(text, "\"n\": 4096, ");
        if (!strncmp(bad[i], "\"n\"", 3)) memmove(dup, dup + 11, strlen(dup + 11) + 1);
        QT_STATUS(qg_db_from_json(&db, text, strlen(text)), QG_ERR_CORRUPT);
        QT_CHECK(qt_contains(qg_last_error(NULL), "entry 0"), "%s: names the entry: %s", bad[i],
                 qg_last_error(NULL));
        free(db.entries);
        free(db.index);
    }
    static const char *const meta_bad[][4] = {
        {"1.9", "9.0", "132", ""}, {"1", "99999999999.0", "132", ""}, {"1", "9.0", "-1", ""},
        {"1", "9.0x", "132", ""},  {"1", "9.0", "132", " junk"},      {"1", "9.0", "1e10", ""}};
    for (size_t i = 0; i < sizeof meta_bad / sizeof meta_bad[0]; i++) {
        qg_db db = {0};
        snprintf(text, sizeof text, fmt, meta_bad[i][0], meta_bad[i][1], meta_bad[i][2], "\"m\": 1",
                 meta_bad[i][3]);
        QT_STATUS(qg_db_from_json(&db, text, strlen(text)), QG_ERR_CORRUPT);
        free(db.entries);
        free(db.index);
    }
    qg_db db = {0};
    snprintf(text, sizeof text, fmt, "1", "9.0", "132", "\"m\": 1", "\n");
    QT_OK(qg_db_from_json(&db, text, strlen(text)));
    QT_CHECK(db.count == 1 && db.meta.sm_count == 132, "the good file parses");
    {
        qg_db db2 = {0};
        snprintf(text, sizeof text, fmt, "1", "9.0", "132", "\"code_hash\": \"0123456789abcdef\"",
                 "");
        QT_OK(qg_db_from_json(&db2, text, strlen(text)));
        QT_CHECK(db2.count == 1 && !strcmp(db2.entries[0].code_hash, "0123456789abcdef"),
                 "a well-formed code hash is kept");
        free(db2.entries);
        free(db2.index);
    }
    free(db.entries);
    free(db.index);
}

/* Zero-point kinds: a float-zero-point entry is its own class (lookups of integer or symmetric
 * problems never see it, and the reverse), round-trips through "zero_point_kind": "float", and an
 * entry without the field keeps meaning none / integer; a bad kind is refused by name. */
static void test_zero_point_kinds(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/zpk.json", dir);
    qg_device_info d = dev("NVIDIA H100 80GB HBM3");
    qg_db *db;
    QT_OK(qg_db_open(&db, path, &d));
    qg_db_entry ei = entry(QG_SCHEME_W4A16, 4096, 4096, 16, "kInt", 10.0);
    ei.key.has_zero_point = QG_ZERO_POINT_INTEGER;
    qg_db_entry ef = entry(QG_SCHEME_W4A16, 4096, 4096, 16, "kFloat", 11.0);
    ef.key.has_zero_point = QG_ZERO_POINT_FLOAT;
    qg_db_entry es = entry(QG_SCHEME_W4A16, 4096, 4096, 16, "kSym", 9.0);
    es.key.has_zero_point = QG_ZERO_POINT_NONE;
    QT_OK(qg_db_put(db, &ei));
    QT_OK(qg_db_put(db, &ef));
    QT_OK(qg_db_put(db, &es));
    QT_OK(qg_db_save(db, NULL));
    qg_db_close(db);
    char *text = read_all(path);
    QT_CHECK(text && strstr(text, "\"zero_point_kind\"") && strstr(text, "\"float\""),
             "the float entry writes its kind");
    int kinds = 0;
    for (const char *c = text; c && (c = strstr(c, "zero_point_kind")); c++) kinds++;
    QT_CHECK(kinds == 1, "only the float entry carries zero_point_kind (%d)", kinds);
    free(text);
    QT_OK(qg_db_open(&db, path, &d));
    QT_CHECK(qg_db_size(db) == 3, "three classes, three entries (%d)", qg_db_size(db));
    const char *want[3] = {"kSym", "kInt", "kFloat"};
    for (int z = 0; z < 3; z++) {
        qg_problem p = ei.key;
        p.has_zero_point = z;
        qg_dispatch_level lv;
        for (int64_t m = 1; m <= 4096; m *= 8) { /* exact, bucket and nearest levels alike */
            p.m = m;
            const qg_db_entry *f = qg_db_lookup(db, &p, &lv);
            QT_CHECK(f && !strcmp(f->kernel, want[z]), "kind %d M=%lld: %s", z, (long long)m,
                     f ? f->kernel : "none");
        }
        p.n = 14336, p.m = 100;
        const qg_db_entry *f = qg_db_lookup(db, &p, &lv);
        QT_CHECK(f && !strcmp(f->kernel, want[z]) && lv == QG_LEVEL_NEAREST,
                 "kind %d nearest shape: %s", z, f ? f->kernel : "none");
    }
    qg_db_close(db);

    const char *fmt =
        "{\"schema_version\": 1, \"metadata\": {\"gpu_name\": \"g\", \"compute_capability\": "
        "\"9.0\", \"sm_count\": 132}, \"entries\": [{\"scheme\": \"w4a16\", \"n\": 4096, "
        "\"k\": 4096, \"group_size\": 128, \"zero_point\": %s, %s\"act_dtype\": \"bf16\", "
        "\"out_dtype\": \"bf16\", \"weight_scale\": \"per-row\", \"act_scale\": \"per-row\", "
        "\"m_bucket\": 1, \"kernel\": \"k\"}]}";
    char buf[1024];
    qg_db old = {0}; /* written before float zero points: no kind */
    snprintf(buf, sizeof buf, fmt, "true", "");
    QT_OK(qg_db_from_json(&old, buf, strlen(buf)));
    QT_CHECK(old.count == 1 && old.entries[0].key.has_zero_point == QG_ZERO_POINT_INTEGER,
             "an old entry means integer zero points");
    free(old.entries);
    free(old.index);
    static const char *const bad[][2] = {{"true", "\"zero_point_kind\": \"integer\", "},
                                         {"false", "\"zero_point_kind\": \"float\", "},
                                         {"true", "\"zero_point_kind\": 2, "}};
    for (int i = 0; i < 3; i++) {
        qg_db b = {0};
        snprintf(buf, sizeof buf, fmt, bad[i][0], bad[i][1]);
        QT_STATUS(qg_db_from_json(&b, buf, strlen(buf)), QG_ERR_CORRUPT);
        QT_CHECK(qt_contains(qg_last_error(NULL), "zero_point_kind"), "names the field: %s",
                 qg_last_error(NULL));
        free(b.entries);
        free(b.index);
    }
}

/* Crash safety: writer processes save entries one by one while others prune and merge into the
 * same file, a reader keeps opening it, and a writer is killed with SIGKILL mid-save again and
 * again. The file always parses, every entry whose save returned is there, pruned ones are gone. */
static void test_crash_safety(const char *dir) {
    char path[512], merge_src[512], log[512];
    snprintf(path, sizeof path, "%s/crash.json", dir);
    snprintf(merge_src, sizeof merge_src, "%s/crash-merge.json", dir);
    snprintf(log, sizeof log, "%s/finished.log", dir);
    qg_device_info d = dev("NVIDIA H100 80GB HBM3");
    qg_db *db;
    QT_OK(qg_db_open(&db, path, &d)); /* one junk entry for the pruners */
    qg_db_entry junk = entry(QG_SCHEME_W8A16, 4096, 4096, 1, "junk", 1.0);
    junk.key.group_size = 0, junk.key.has_zero_point = 0;
    QT_OK(qg_db_put(db, &junk));
    QT_OK(qg_db_save(db, NULL));
    qg_db_close(db);
    QT_OK(qg_db_open(&db, merge_src, &d)); /* what the mergers bring in */
    for (int i = 0; i < 30; i++) {
        qg_db_entry e = entry(QG_SCHEME_W8A8_FP8, 8192, 4096, i + 1, "merged", 2.0);
        e.key.group_size = 0, e.key.has_zero_point = 0;
        QT_OK(qg_db_put(db, &e));
    }
    QT_OK(qg_db_save(db, NULL));
    qg_db_close(db);

    enum { WRITERS = 4, EACH = 20, PRUNERS = 1, MERGERS = 1, KILLS = 8 };
    pid_t pids[WRITERS + PRUNERS + MERGERS + 1];
    int np = 0;
    for (int w = 0; w < WRITERS; w++) {
        if ((pids[np++] = fork()) != 0) continue;
        FILE *lf = fopen(log, "a");
        for (int i = 0; i < EACH; i++) {
            qg_db *x;
            qg_db_entry e = entry(QG_SCHEME_W4A16, 1024 * (w + 1), 4096, i + 1, "k", 1.0 + i);
            if (qg_db_open(&x, path, &d) != QG_SUCCESS || qg_db_put(x, &e) != QG_SUCCESS ||
                qg_db_save(x, NULL) != QG_SUCCESS)
                _exit(3);
            qg_db_close(x);
            fprintf(lf, "%d %d\n", w, i); /* finished: must survive */
            fflush(lf);
        }
        _exit(0);
    }
    for (int k = 0; k < PRUNERS + MERGERS; k++) {
        if ((pids[np++] = fork()) != 0) continue;
        for (int i = 0; i < 10; i++) {
            qg_db *x;
            const int prune = k < PRUNERS;
            if (qg_db_open(&x, prune ? path : merge_src, prune ? &d : NULL) != QG_SUCCESS ||
                qg_db_save_filtered(x, path, prune ? is_junk : NULL, NULL) != QG_SUCCESS)
                _exit(3);
            qg_db_close(x);
        }
        _exit(0);
    }
    if ((pids[np++] = fork()) == 0) { /* the reader: the file parses whenever it looks */
        for (int i = 0; i < 200; i++) {
            qg_db *x;
            if (qg_db_open_existing(&x, path) != QG_SUCCESS) _exit(4);
            qg_db_close(x);
            usleep(2000);
        }
        _exit(0);
    }
    /* the victim: a tuner with many entries (slow saves), killed at random moments */
    unsigned seed = 12345;
    int killed_mid = 0;
    for (int k = 0; k < KILLS; k++) {
        const pid_t v = fork();
        if (v == 0) {
            qg_db *x;
            if (qg_db_open(&x, path, &d) != QG_SUCCESS) _exit(3);
            for (int i = 0; i < 3000; i++) {
                qg_db_entry e = entry(QG_SCHEME_W8A16, 128 * (i + 1), 4096, k + 1, "v", 3.0);
                e.key.group_size = 0, e.key.has_zero_point = 0;
                qg_db_put(x, &e);
            }
            for (;;) qg_db_save(x, NULL);
        }
        seed = seed * 1103515245u + 12345u;
        usleep(5000 + (seed >> 16) % 40000);
        kill(v, SIGKILL);
        int st;
        waitpid(v, &st, 0);
        killed_mid += WIFSIGNALED(st);
    }
    int ok = 1;
    for (int i = 0; i < np; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    QT_CHECK(ok, "writers, pruner, merger and reader all succeeded (the file always parsed)");
    QT_CHECK(killed_mid == KILLS, "the victim was killed %d times", killed_mid);
    QT_OK(qg_db_open_existing(&db, path));
    int lost = 0, logged = 0, w, i;
    FILE *lf = fopen(log, "r");
    while (db && lf && fscanf(lf, "%d %d", &w, &i) == 2) {
        logged++;
        qg_problem p = entry(QG_SCHEME_W4A16, 1024 * (w + 1), 4096, 1, "k", 0).key;
        lost += qg_db_find(db, &p, i + 1) == NULL;
    }
    if (lf) fclose(lf);
    QT_CHECK(logged == WRITERS * EACH && lost == 0, "no finished entry lost: %d of %d", lost, logged);
    int merged = 0, junk_left = 0;
    for (int j = 0; db && j < db->count; j++) {
        merged += !strcmp(db->entries[j].kernel, "merged");
        junk_left += !strcmp(db->entries[j].kernel, "junk");
    }
    QT_CHECK(merged == 30 && junk_left == 0, "merged entries in (%d), pruned one out (%d)", merged,
             junk_left);
    /* a victim killed while writing leaves a temporary file; the next save removes it */
    QT_OK(qg_db_save(db, NULL));
    qg_db_close(db);
    QT_CHECK(count_files(dir, "crash.json.tmp.") == 0 && count_files(dir, "crash.json.lock") == 0,
             "no temporary or lock file left after a save");
}

int main(void) {
    char dir[] = "/tmp/qgemm-test-db-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    test_round_trip_and_cascade(dir);
    test_concurrent_saves(dir);
    test_corrupt_and_foreign(dir);
    test_catalog_change(dir);
    test_scheme_hashes();
    test_index();
    test_paths(dir);
    test_parser_numbers();
    test_zero_point_kinds(dir);
    test_shipped_path_cut(dir);
    test_crash_safety(dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
    return qt_finish("test_db");
}
