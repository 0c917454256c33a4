/*
 * Freshness of tuning entries: is an entry's kernel still the code it was timed on? Decided
 * from code hashes (code_hash.h): without a device for a whole database (db validate, tune
 * --stale, the tuner before it starts, the restamp migration), and at plan time for the one
 * entry dispatch picked, whose kernel qg_prepare compiles anyway.
 */
#include "db.h"

#include "code_hash.h"
#include "jit.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void qg_db_arch(const qg_db *db, char *out, size_t len) {
    if (db->meta.cc_major == 9 && db->meta.cc_minor == 0) snprintf(out, len, "sm_90a");
    else snprintf(out, len, "sm_%d%d", db->meta.cc_major, db->meta.cc_minor);
}

/* ---- many kernels' code hashes on a thread pool ---- */

typedef struct {
    const qg_variant *v;
    qg_status status;
    char hash[QG_CODE_HASH_LEN];
    char error[256];
} hash_item;

typedef struct {
    hash_item *items;
    int n;
    const char *arch, *cache_dir;
    atomic_int next;
} hash_job;

static void *hash_worker(void *arg) {
    hash_job *j = arg;
    for (int i; (i = atomic_fetch_add(&j->next, 1)) < j->n;) {
        hash_item *it = &j->items[i];
        it->status = qg_variant_code_hash(it->v, j->arch, j->cache_dir, it->hash);
        if (it->status != QG_SUCCESS)
            snprintf(it->error, sizeof it->error, "%s", qg_last_error(NULL));
    }
    return NULL;
}

/* The code hash of each distinct catalog kernel named by an entry that `want` selects. */
static qg_status hash_kernels(const qg_db *db, int (*want)(const qg_db_entry *), const char *arch,
                              const char *cache_dir, int threads, hash_item **out, int *count) {
    *out = NULL;
    *count = 0;
    hash_item *items = calloc((size_t)db->count + 1, sizeof *items);
    QG_RETURN_IF(NULL, !items, QG_ERR_OUT_OF_MEMORY, "no memory for %d kernels", db->count);
    int n = 0;
    for (int i = 0; i < db->count; i++) {
        const qg_db_entry *e = &db->entries[i];
        const qg_variant *v = want(e) ? qg_catalog_find(e->kernel) : NULL;
        int seen = !v;
        for (int k = 0; k < n && !seen; k++) seen = items[k].v == v;
        if (!seen) items[n++].v = v;
    }
    char default_dir[1024];
    if (!cache_dir) qg_default_cache_dir(default_dir, sizeof default_dir), cache_dir = default_dir;
    hash_job j = {items, n, arch, cache_dir, 0};
    if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads > n) threads = n;
    if (threads > 64) threads = 64;
    pthread_t tid[64];
    int started = 0;
    for (; started < threads; started++)
        if (pthread_create(&tid[started], NULL, hash_worker, &j) != 0) break;
    if (!started) hash_worker(&j);
    for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
    *out = items;
    *count = n;
    /* The first real failure (no compiler, a compile error); "not built for arch" is a verdict. */
    for (int k = 0; k < n; k++)
        if (items[k].status != QG_SUCCESS && items[k].status != QG_ERR_UNSUPPORTED_ARCH)
            return QG_ERROR(NULL, items[k].status, "%s", items[k].error);
    return QG_SUCCESS;
}

static int undecided(const qg_db_entry *e) { return e->verdict == QG_VERDICT_UNKNOWN; }

qg_status qg_db_decide_freshness(qg_db *db, const char *arch, const char *cache_dir, int threads,
                                 int *stale) {
    QG_RETURN_IF(NULL, !db, QG_ERR_NULL_POINTER, "db is NULL");
    char own_arch[16];
    if (!arch) qg_db_arch(db, own_arch, sizeof own_arch), arch = own_arch;
    hash_item *items;
    int n;
    qg_status s = hash_kernels(db, undecided, arch, cache_dir, threads, &items, &n);
    for (int k = 0; k < n; k++) {
        if (items[k].status == QG_SUCCESS) qg_db_note_code_hash(db, items[k].v->id, items[k].hash);
        else if (items[k].status == QG_ERR_UNSUPPORTED_ARCH) /* it cannot run here at all */
            qg_db_note_code_hash(db, items[k].v->id, "not built for this architecture");
    }
    free(items);
    for (int i = 0; i < db->count; i++) /* kernels gone from the catalog */
        if (undecided(&db->entries[i]) && !qg_catalog_find(db->entries[i].kernel))
            db->entries[i].verdict = QG_VERDICT_STALE;
    if (stale) *stale = qg_db_count_stale(db);
    return s;
}

static int restampable(const qg_db_entry *e) {
    return !e->code_hash[0] && e->verdict == QG_VERDICT_FRESH;
}

qg_status qg_db_restamp(qg_db *db, const char *arch, const char *cache_dir, int threads,
                        int *restamped) {
    QG_RETURN_IF(NULL, !db, QG_ERR_NULL_POINTER, "db is NULL");
    if (restamped) *restamped = 0;
    char own_arch[16];
    if (!arch) qg_db_arch(db, own_arch, sizeof own_arch), arch = own_arch;
    hash_item *items;
    int n;
    qg_status s = hash_kernels(db, restampable, arch, cache_dir, threads, &items, &n);
    for (int i = 0; s == QG_SUCCESS && i < db->count; i++) {
        qg_db_entry *e = &db->entries[i];
        for (int k = 0; restampable(e) && k < n; k++) {
            if (items[k].status != QG_SUCCESS || strcmp(items[k].v->id, e->kernel) != 0) continue;
            snprintf(e->code_hash, sizeof e->code_hash, "%s", items[k].hash);
            e->catalog_hash[0] = 0;
            if (restamped) ++*restamped;
        }
    }
    free(items);
    return s;
}

/* ---- migration through an older build's images ---- */

/* Whole file into a malloc'd buffer (NUL-terminated); NULL if unreadable. */
static char *slurp(const char *dir, const char *name, size_t *len) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[n] = 0, *len = (size_t)n;
    return buf;
}

/* The code hash `v` had in the build whose images are in `dir` (<id>.cubin; library_policy
 * for families that call a library); 0 when an image is missing or the policy differed. */
static int old_code_hash(const char *dir, const qg_variant *v, char *out) {
    const qg_variant *helper = qg_variant_helper(v);
    char helper_hex[QG_CODE_HASH_LEN];
    if (helper && !old_code_hash(dir, helper, helper_hex)) return 0;
    uint64_t image_hash = 0;
    size_t len = 0;
    char name[160];
    snprintf(name, sizeof name, "%s.cubin", v->id);
    char *data = slurp(dir, v->family->source ? name : "library_policy", &len);
    if (!data) return 0;
    const int ok = v->family->source ||
                   (v->family->library_policy && strcmp(data, v->family->library_policy) == 0);
    if (v->family->source) image_hash = qg_image_code_hash(data, len);
    free(data);
    if (ok) qg_code_hash_hex(v, image_hash, helper ? helper_hex : NULL, out);
    return ok;
}

static int legacy(const qg_db_entry *e) { return !e->code_hash[0]; }

qg_status qg_db_restamp_from_images(qg_db *db, const char *images, const char *arch,
                                    const char *cache_dir, int threads, int *restamped) {
    QG_RETURN_IF(NULL, !db || !images, QG_ERR_NULL_POINTER, "db and images must not be NULL");
    if (restamped) *restamped = 0;
    size_t len = 0;
    char *source_hash = slurp(images, "catalog_hash", &len);
    QG_RETURN_IF(NULL, !source_hash, QG_ERR_NOT_FOUND, "%s/catalog_hash: %s", images,
                 strerror(errno));
    source_hash[strcspn(source_hash, "\n")] = 0;
    char own_arch[16];
    if (!arch) qg_db_arch(db, own_arch, sizeof own_arch), arch = own_arch;
    hash_item *items;
    int n;
    qg_status s = hash_kernels(db, legacy, arch, cache_dir, threads, &items, &n);
    for (int k = 0; s == QG_SUCCESS && k < n; k++) {
        char then[QG_CODE_HASH_LEN];
        if (items[k].status != QG_SUCCESS || !old_code_hash(images, items[k].v, then) ||
            strcmp(then, items[k].hash) != 0)
            continue; /* its code changed since (or cannot be told): it stays stale */
        for (int i = 0; i < db->count; i++) {
            qg_db_entry *e = &db->entries[i];
            if (!legacy(e) || strcmp(e->catalog_hash, source_hash) != 0 ||
                strcmp(e->kernel, items[k].v->id) != 0)
                continue;
            snprintf(e->code_hash, sizeof e->code_hash, "%s", items[k].hash);
            e->catalog_hash[0] = 0;
            e->verdict = QG_VERDICT_FRESH;
            if (restamped) ++*restamped;
        }
    }
    free(items);
    free(source_hash);
    return s;
}

/* ---- at plan time ---- */

void qg_db_report_stale(qg_context *ctx) {
    qg_db *db = ctx->db;
    const int stale = db ? qg_db_count_stale(db) : 0;
    if (!stale || __atomic_exchange_n(&db->stale_reported, 1, __ATOMIC_RELAXED)) return;
    fprintf(stderr,
            "qgemm: tuning database %s: %d stale entr%s found (timed on kernel code this "
            "build no longer compiles); dispatch does not use them. 'qgemm tune --stale %s' "
            "re-times them\n",
            db->path, stale, stale == 1 ? "y" : "ies", db->path);
}

int qg_db_entry_check(qg_context *ctx, const qg_db_entry *e, const qg_variant *v) {
    if (__atomic_load_n(&e->verdict, __ATOMIC_RELAXED) == QG_VERDICT_UNKNOWN) {
        char hash[QG_CODE_HASH_LEN];
        /* not loadable here: loading it to plan fails the same way, and falls back */
        if (qg_jit_code_hash(ctx, v, hash) != QG_SUCCESS) return 1;
        if (qg_db_note_code_hash(ctx->db, v->id, hash) && ctx->verbose)
            fprintf(stderr,
                    "qgemm: database entries of kernel %s are stale (its code is now %s, "
                    "this one was timed on %s)\n",
                    v->id, hash, e->code_hash);
        qg_db_report_stale(ctx);
    }
    return qg_db_entry_current(e);
}
