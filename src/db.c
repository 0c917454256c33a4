/* Tuning database: JSON (cJSON) load/save with locking and merging, and the lookup cascade. */
#include "db.h"

#include "catalog.h"
#include "cublaslt.h"
#include "data_dir.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

const int64_t qg_default_m_buckets[] = {1,   2,   4,   8,   16,   24,   32,   48,   64,   96,
                                        128, 192, 256, 384, 512, 1024, 2048, 4096, 8192, 16384};
const int qg_default_m_bucket_count = QG_ARRAY_SIZE(qg_default_m_buckets);

/* ---- catalog hash ---- */

static char catalog_hash_hex[24];
static pthread_once_t catalog_hash_once = PTHREAD_ONCE_INIT;

/* Embedded kernel files (name and text) in st, those with need[i] set (all when need is NULL),
 * then the cuBLASLt policy; the hex digest into out[24]. */
static void finish_hash(XXH64_state_t *st, const unsigned char *need, char *out) {
    for (int i = 0; i < qg_embedded_count(); i++) {
        if (need && !need[i]) continue;
        const char *data;
        size_t len;
        const char *name = qg_embedded_name(i, &data, &len);
        XXH64_update(st, name, strlen(name) + 1);
        XXH64_update(st, data, len);
    }
    XXH64_update(st, QG_CUBLASLT_POLICY, sizeof QG_CUBLASLT_POLICY);
    snprintf(out, 24, "%016llx", (unsigned long long)XXH64_digest(st));
}

static void compute_catalog_hash(void) {
    XXH64_state_t *st = XXH64_createState();
    if (!st) return;
    XXH64_reset(st, 0);
    for (int i = 0; i < qg_catalog_count(); i++) {
        const char *id = qg_catalog_get(i)->id;
        XXH64_update(st, id, strlen(id) + 1);
    }
    finish_hash(st, NULL, catalog_hash_hex);
    XXH64_freeState(st);
}

const char *qg_catalog_hash(void) {
    pthread_once(&catalog_hash_once, compute_catalog_hash);
    return catalog_hash_hex;
}

/* Per scheme: what a tuning entry of that scheme was timed against, so that a change to one
 * scheme's kernels re-times only that scheme's entries. Conservative: the ids of every variant
 * whose family computes the scheme (GEMMs and their activation-quantize / dequantize helpers),
 * every helper family of no scheme (cuBLASLt's int8 epilogue serves W8A8-int8), the sources of
 * all those families with everything they #include (transitively, among the embedded files),
 * and the cuBLASLt policy. Host code is not hashed (nor is it in qg_catalog_hash). */
static char scheme_hash_hex[QG_SCHEME_COUNT_][24];
static unsigned char *scheme_files[QG_SCHEME_COUNT_]; /* per embedded file: does s use it */
static pthread_once_t scheme_hash_once = PTHREAD_ONCE_INIT;

/* Mark embedded file `name` and the files it includes ("#include \"x\"") in `need`. */
static void mark_source(const char *name, unsigned char *need, int count) {
    for (int i = 0; i < count; i++) {
        const char *data;
        size_t len;
        if (strcmp(qg_embedded_name(i, &data, &len), name) != 0) continue;
        if (need[i]) return;
        need[i] = 1;
        for (const char *l = data; l && l < data + len; l = memchr(l, '\n', (size_t)(data + len - l))) {
            while (l < data + len && (*l == '\n' || *l == ' ' || *l == '\t')) l++;
            if ((size_t)(data + len - l) < 10 || strncmp(l, "#include \"", 10) != 0) continue;
            const char *b = l + 10, *e = memchr(b, '"', (size_t)(data + len - b));
            char inc[128];
            if (!e || e - b >= (long)sizeof inc) continue;
            memcpy(inc, b, (size_t)(e - b));
            inc[e - b] = 0;
            mark_source(inc, need, count);
        }
        return;
    }
}

static void compute_scheme_hashes(void) {
    const int nfiles = qg_embedded_count();
    XXH64_state_t *st = XXH64_createState();
    for (int s = 0; s < QG_SCHEME_COUNT_ && st; s++) {
        unsigned char *need = scheme_files[s] = calloc((size_t)nfiles + 1, 1);
        if (!need) break;
        XXH64_reset(st, (unsigned long long)s + 1);
        for (int i = 0; i < qg_catalog_count(); i++) {
            const qg_variant *v = qg_catalog_get(i);
            const unsigned mask = v->family->scheme_mask;
            if (mask && !(mask & (1u << s))) continue;
            XXH64_update(st, v->id, strlen(v->id) + 1);
            if (v->family->source) mark_source(v->family->source, need, nfiles);
        }
        finish_hash(st, need, scheme_hash_hex[s]);
    }
    if (st) XXH64_freeState(st);
}

int qg_catalog_scheme_uses(qg_scheme s, const char *file) {
    pthread_once(&scheme_hash_once, compute_scheme_hashes);
    if ((unsigned)s >= QG_SCHEME_COUNT_ || !scheme_files[s] || !file) return 0;
    for (int i = 0; i < qg_embedded_count(); i++) {
        const char *data;
        size_t len;
        if (strcmp(qg_embedded_name(i, &data, &len), file) == 0) return scheme_files[s][i];
    }
    return 0;
}

const char *qg_catalog_hash_scheme(qg_scheme s) {
    pthread_once(&scheme_hash_once, compute_scheme_hashes);
    return (unsigned)s < QG_SCHEME_COUNT_ ? scheme_hash_hex[s] : "";
}

void qg_now_iso8601(char *buf, size_t len) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void qg_db_meta_from_device(qg_db_meta *m, const qg_device_info *d) {
    memset(m, 0, sizeof *m);
    snprintf(m->gpu_name, sizeof m->gpu_name, "%s", d->name);
    m->cc_major = d->cc_major;
    m->cc_minor = d->cc_minor;
    m->sm_count = d->sm_count;
    m->driver_version = d->driver_version;
    m->compiler_version = d->compiler_version;
    snprintf(m->library_version, sizeof m->library_version, "%s", QG_VERSION_STRING);
    snprintf(m->catalog_hash, sizeof m->catalog_hash, "%s", qg_catalog_hash());
}

/* ---- entries ---- */

int qg_db_same_class(const qg_problem *a, const qg_problem *b) {
    return a->scheme == b->scheme && a->n == b->n && a->k == b->k &&
           a->group_size == b->group_size && !!a->has_zero_point == !!b->has_zero_point &&
           a->act_dtype == b->act_dtype && a->out_dtype == b->out_dtype &&
           a->weight_scale == b->weight_scale && a->act_scale == b->act_scale;
}

/* Same scheme and quantization details, any shape (for the nearest-shape level). */
static int same_family_class(const qg_problem *a, const qg_problem *b) {
    return a->scheme == b->scheme && a->group_size == b->group_size &&
           !!a->has_zero_point == !!b->has_zero_point && a->act_dtype == b->act_dtype &&
           a->out_dtype == b->out_dtype && a->weight_scale == b->weight_scale &&
           a->act_scale == b->act_scale;
}

const qg_db_entry *qg_db_find(const qg_db *db, const qg_problem *p, int64_t m_bucket) {
    for (int i = 0; db && i < db->count; i++)
        if (db->entries[i].m_bucket == m_bucket && qg_db_same_class(&db->entries[i].key, p))
            return &db->entries[i];
    return NULL;
}

qg_status qg_db_put(qg_db *db, const qg_db_entry *e) {
    for (int i = 0; i < db->count; i++) {
        if (db->entries[i].m_bucket == e->m_bucket && qg_db_same_class(&db->entries[i].key, &e->key)) {
            db->entries[i] = *e;
            return QG_SUCCESS;
        }
    }
    if (db->count == db->cap) {
        int cap = db->cap ? db->cap * 2 : 64;
        qg_db_entry *n = realloc(db->entries, (size_t)cap * sizeof *n);
        QG_RETURN_IF(NULL, !n, QG_ERR_OUT_OF_MEMORY, "no memory for %d database entries", cap);
        db->entries = n;
        db->cap = cap;
    }
    db->entries[db->count++] = *e;
    return QG_SUCCESS;
}

/* Distance between M values on a log scale (buckets grow geometrically). */
static double mdist(int64_t a, int64_t b) { return fabs(log((double)a) - log((double)b)); }

const qg_db_entry *qg_db_lookup(const qg_db *db, const qg_problem *p, qg_dispatch_level *level) {
    if (!db) return NULL;
    const qg_db_entry *best = NULL;
    /* 1. exact M; 2. the smallest tuned bucket >= M of this shape, else the closest one. */
    const qg_db_entry *up = NULL, *near = NULL;
    for (int i = 0; i < db->count; i++) {
        const qg_db_entry *e = &db->entries[i];
        if (!qg_db_same_class(&e->key, p)) continue;
        if (e->m_bucket == p->m) {
            *level = QG_LEVEL_EXACT;
            return e;
        }
        if (e->m_bucket >= p->m && (!up || e->m_bucket < up->m_bucket)) up = e;
        if (!near || mdist(e->m_bucket, p->m) < mdist(near->m_bucket, p->m)) near = e;
    }
    if (up || near) {
        *level = QG_LEVEL_BUCKET;
        return up ? up : near;
    }
    /* 3. nearest tuned shape of the same scheme: log distance over N, K and M. */
    double best_d = 0;
    for (int i = 0; i < db->count; i++) {
        const qg_db_entry *e = &db->entries[i];
        if (!same_family_class(&e->key, p)) continue;
        double d = mdist(e->key.n, p->n) + mdist(e->key.k, p->k) + 0.5 * mdist(e->m_bucket, p->m);
        if (!best || d < best_d) {
            best = e;
            best_d = d;
        }
    }
    if (best) *level = QG_LEVEL_NEAREST;
    return best;
}

/* ---- JSON ---- */

static const char *scale_name(qg_scale_granularity g) {
    return g == QG_SCALE_PER_TENSOR ? "per-tensor" : g == QG_SCALE_PER_GROUP ? "per-group" : "per-row";
}

static int scale_parse(const char *s, qg_scale_granularity *out) {
    if (!s) return 0;
    if (!strcmp(s, "per-row")) *out = QG_SCALE_PER_ROW;
    else if (!strcmp(s, "per-tensor")) *out = QG_SCALE_PER_TENSOR;
    else if (!strcmp(s, "per-group")) *out = QG_SCALE_PER_GROUP;
    else return 0;
    return 1;
}

static int dtype_parse(const char *s, qg_dtype *out) {
    for (int t = 0; s && t < QG_DTYPE_COUNT_; t++) {
        if (!strcmp(s, qg_dtype_name((qg_dtype)t))) {
            *out = (qg_dtype)t;
            return 1;
        }
    }
    return 0;
}

char *qg_db_to_json(const qg_db *db) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddNumberToObject(root, "schema_version", QG_DB_SCHEMA_VERSION);
    cJSON *m = cJSON_AddObjectToObject(root, "metadata");
    const qg_db_meta *mt = &db->meta;
    cJSON_AddStringToObject(m, "library_version", mt->library_version);
    cJSON_AddStringToObject(m, "catalog_hash", mt->catalog_hash);
    cJSON_AddStringToObject(m, "gpu_name", mt->gpu_name);
    char cc[16];
    snprintf(cc, sizeof cc, "%d.%d", mt->cc_major, mt->cc_minor);
    cJSON_AddStringToObject(m, "compute_capability", cc);
    cJSON_AddNumberToObject(m, "sm_count", mt->sm_count);
    cJSON_AddNumberToObject(m, "driver_version", mt->driver_version);
    cJSON_AddNumberToObject(m, "compiler_version", mt->compiler_version);
    cJSON *arr = cJSON_AddArrayToObject(root, "entries");
    for (int i = 0; i < db->count; i++) {
        const qg_db_entry *e = &db->entries[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "scheme", qg_scheme_name(e->key.scheme));
        cJSON_AddNumberToObject(o, "n", (double)e->key.n);
        cJSON_AddNumberToObject(o, "k", (double)e->key.k);
        cJSON_AddNumberToObject(o, "group_size", e->key.group_size);
        cJSON_AddBoolToObject(o, "zero_point", e->key.has_zero_point != 0);
        cJSON_AddStringToObject(o, "act_dtype", qg_dtype_name(e->key.act_dtype));
        cJSON_AddStringToObject(o, "out_dtype", qg_dtype_name(e->key.out_dtype));
        cJSON_AddStringToObject(o, "weight_scale", scale_name(e->key.weight_scale));
        cJSON_AddStringToObject(o, "act_scale", scale_name(e->key.act_scale));
        cJSON_AddNumberToObject(o, "m_bucket", (double)e->m_bucket);
        cJSON_AddStringToObject(o, "kernel", e->kernel);
        cJSON_AddNumberToObject(o, "median_us", e->median_us);
        cJSON_AddNumberToObject(o, "p20_us", e->p20_us);
        cJSON_AddNumberToObject(o, "p80_us", e->p80_us);
        cJSON_AddNumberToObject(o, "rel_error", e->rel_error);
        cJSON_AddStringToObject(o, "tuned_at", e->tuned_at);
        if (e->catalog_hash[0]) cJSON_AddStringToObject(o, "catalog_hash", e->catalog_hash);
        cJSON_AddItemToArray(arr, o);
    }
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    return s;
}

#define JSON_FAIL(...)                                                                        \
    do {                                                                                      \
        cJSON_Delete(root);                                                                   \
        return QG_ERROR(NULL, QG_ERR_CORRUPT, __VA_ARGS__);                                   \
    } while (0)

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int jnum(const cJSON *o, const char *k, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v)) return 0;
    *out = v->valuedouble;
    return 1;
}

qg_status qg_db_from_json(qg_db *db, const char *text, size_t len) {
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) return QG_ERROR(NULL, QG_ERR_CORRUPT, "not valid JSON (near byte %ld)",
                               (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - text : -1));
    double ver;
    if (!jnum(root, "schema_version", &ver)) JSON_FAIL("no schema_version");
    if ((int)ver != QG_DB_SCHEMA_VERSION)
        JSON_FAIL("schema_version %d, this library reads %d", (int)ver, QG_DB_SCHEMA_VERSION);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    if (!cJSON_IsObject(m)) JSON_FAIL("no metadata object");
    qg_db_meta *mt = &db->meta;
    memset(mt, 0, sizeof *mt);
    const char *s;
    double x;
    if (!(s = jstr(m, "gpu_name"))) JSON_FAIL("metadata.gpu_name missing");
    snprintf(mt->gpu_name, sizeof mt->gpu_name, "%s", s);
    if (!(s = jstr(m, "compute_capability")) || sscanf(s, "%d.%d", &mt->cc_major, &mt->cc_minor) != 2)
        JSON_FAIL("metadata.compute_capability missing or not \"X.Y\"");
    if ((s = jstr(m, "library_version"))) snprintf(mt->library_version, sizeof mt->library_version, "%s", s);
    if ((s = jstr(m, "catalog_hash"))) snprintf(mt->catalog_hash, sizeof mt->catalog_hash, "%s", s);
    if (jnum(m, "sm_count", &x)) mt->sm_count = (int)x;
    if (jnum(m, "driver_version", &x)) mt->driver_version = (int)x;
    if (jnum(m, "compiler_version", &x)) mt->compiler_version = (int)x;
    db->has_meta = 1;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "entries");
    if (!cJSON_IsArray(arr)) JSON_FAIL("no entries array");
    int idx = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, arr) {
        qg_db_entry e;
        memset(&e, 0, sizeof e);
        qg_problem_init(&e.key);
        double n, k, g, mb;
        const char *kern = jstr(o, "kernel");
        const cJSON *zp = cJSON_GetObjectItemCaseSensitive(o, "zero_point");
        if (qg_scheme_from_name(jstr(o, "scheme"), &e.key.scheme) != QG_SUCCESS ||
            !jnum(o, "n", &n) || !jnum(o, "k", &k) || !jnum(o, "group_size", &g) ||
            !jnum(o, "m_bucket", &mb) || !kern || !cJSON_IsBool(zp) ||
            !dtype_parse(jstr(o, "act_dtype"), &e.key.act_dtype) ||
            !dtype_parse(jstr(o, "out_dtype"), &e.key.out_dtype) ||
            !scale_parse(jstr(o, "weight_scale"), &e.key.weight_scale) ||
            !scale_parse(jstr(o, "act_scale"), &e.key.act_scale) || n < 1 || k < 1 || mb < 1)
            JSON_FAIL("entry %d is incomplete or has a bad field", idx);
        e.key.n = (int64_t)n, e.key.k = (int64_t)k, e.key.m = e.m_bucket = (int64_t)mb;
        e.key.group_size = (int32_t)g;
        e.key.has_zero_point = cJSON_IsTrue(zp);
        snprintf(e.kernel, sizeof e.kernel, "%s", kern);
        jnum(o, "median_us", &e.median_us);
        jnum(o, "p20_us", &e.p20_us);
        jnum(o, "p80_us", &e.p80_us);
        jnum(o, "rel_error", &e.rel_error);
        if ((s = jstr(o, "tuned_at"))) snprintf(e.tuned_at, sizeof e.tuned_at, "%s", s);
        /* files from before per-entry hashes: every entry is as current as the file */
        s = jstr(o, "catalog_hash");
        snprintf(e.catalog_hash, sizeof e.catalog_hash, "%s", s ? s : mt->catalog_hash);
        if (qg_db_put(db, &e) != QG_SUCCESS) {
            cJSON_Delete(root);
            return QG_ERR_OUT_OF_MEMORY;
        }
        idx++;
    }
    cJSON_Delete(root);
    return QG_SUCCESS;
}

/* ---- files ---- */

static qg_status read_file(const char *path, char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? QG_ERR_NOT_FOUND
                                   : QG_ERROR(NULL, QG_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "no memory to read %s", path);
            }
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return QG_ERROR(NULL, QG_ERR_IO, "error reading %s", path);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return QG_SUCCESS;
}

static qg_status check_env(const qg_db *db, const qg_device_info *env, const char *path) {
    if (!env || !db->has_meta) return QG_SUCCESS;
    QG_RETURN_IF(NULL, strcmp(db->meta.gpu_name, env->name) != 0 ||
                           db->meta.cc_major != env->cc_major || db->meta.cc_minor != env->cc_minor,
                 QG_ERR_DB_MISMATCH, "%s was tuned on '%s' (cc %d.%d), this device is '%s' (cc %d.%d)",
                 path, db->meta.gpu_name, db->meta.cc_major, db->meta.cc_minor, env->name,
                 env->cc_major, env->cc_minor);
    return QG_SUCCESS;
}

/* Load `path` into a fresh db. QG_ERR_NOT_FOUND if the file does not exist. */
static qg_status load(qg_db *db, const char *path) {
    char *text = NULL;
    size_t len = 0;
    QG_CHECK(read_file(path, &text, &len));
    qg_status s = qg_db_from_json(db, text, len);
    free(text);
    if (s == QG_ERR_CORRUPT) {
        char msg[QG_ERRMSG_LEN];
        snprintf(msg, sizeof msg, "%s", qg_last_error(NULL));
        return QG_ERROR(NULL, QG_ERR_CORRUPT, "%s: %s", path, msg);
    }
    return s;
}

qg_status qg_db_open(qg_db **out, const char *path, const qg_device_info *env) {
    QG_RETURN_IF(NULL, !out || !path, QG_ERR_NULL_POINTER, "out and path must not be NULL");
    *out = NULL;
    qg_db *db = calloc(1, sizeof *db);
    QG_RETURN_IF(NULL, !db, QG_ERR_OUT_OF_MEMORY, "no memory for a database");
    snprintf(db->path, sizeof db->path, "%s", path);
    qg_status s = load(db, path);
    if (s == QG_ERR_NOT_FOUND) s = QG_SUCCESS; /* new database */
    if (s == QG_SUCCESS) s = check_env(db, env, path);
    if (s != QG_SUCCESS) {
        qg_db_close(db);
        return s;
    }
    if (!db->has_meta && env) {
        qg_db_meta_from_device(&db->meta, env);
        db->has_meta = 1;
    }
    *out = db;
    return QG_SUCCESS;
}

int qg_db_entry_current(const qg_db_entry *e) {
    /* the whole catalog's hash: timed by a build with exactly these kernels (entries from
     * before per-scheme hashes, and files whose entries inherit the metadata's) */
    return strcmp(e->catalog_hash, qg_catalog_hash_scheme(e->key.scheme)) == 0 ||
           strcmp(e->catalog_hash, qg_catalog_hash()) == 0;
}

int qg_db_count_stale(const qg_db *db) {
    int stale = 0;
    for (int i = 0; i < db->count; i++) stale += !qg_db_entry_current(&db->entries[i]);
    return stale;
}

int qg_db_begin_tuning(qg_db *db, const qg_device_info *d) {
    const int stale = qg_db_count_stale(db);
    qg_db_meta_from_device(&db->meta, d);
    db->has_meta = 1;
    return stale;
}

void qg_db_close(qg_db *db) {
    if (!db) return;
    free(db->entries);
    free(db);
}

int qg_db_size(const qg_db *db) { return db ? db->count : 0; }

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w, n -= (size_t)w;
    }
    return 0;
}

qg_status qg_db_save(qg_db *db, const char *path) {
    QG_RETURN_IF(NULL, !db, QG_ERR_NULL_POINTER, "db is NULL");
    if (!path) path = db->path;
    QG_RETURN_IF(NULL, !path[0], QG_ERR_INVALID_ARGUMENT, "no path to save the database to");
    QG_RETURN_IF(NULL, !db->has_meta, QG_ERR_INVALID_ARGUMENT,
                 "database has no metadata (open it with a device to tune into it)");
    char lock_path[1100], tmp_path[1100];
    snprintf(lock_path, sizeof lock_path, "%s.lock", path);
    snprintf(tmp_path, sizeof tmp_path, "%s.tmp.%ld", path, (long)getpid());
    int lfd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    QG_RETURN_IF(NULL, lfd < 0, QG_ERR_IO, "cannot open lock file %s: %s", lock_path, strerror(errno));
    while (flock(lfd, LOCK_EX) != 0 && errno == EINTR) {}

    /* Merge what other processes saved since we opened: entries we do not have, or newer ones. */
    qg_db disk = {0};
    qg_status s = load(&disk, path);
    if (s == QG_SUCCESS) {
        if (strcmp(disk.meta.gpu_name, db->meta.gpu_name) != 0 ||
            disk.meta.cc_major != db->meta.cc_major || disk.meta.cc_minor != db->meta.cc_minor)
            s = QG_ERROR(NULL, QG_ERR_DB_MISMATCH, "%s belongs to '%s' (cc %d.%d); not "
                         "overwriting it with results for '%s'", path, disk.meta.gpu_name,
                         disk.meta.cc_major, disk.meta.cc_minor, db->meta.gpu_name);
        for (int i = 0; s == QG_SUCCESS && i < disk.count; i++) {
            const qg_db_entry *d = &disk.entries[i];
            const qg_db_entry *mine = qg_db_find(db, &d->key, d->m_bucket);
            if (!mine || strcmp(d->tuned_at, mine->tuned_at) > 0) s = qg_db_put(db, d);
        }
    } else if (s == QG_ERR_NOT_FOUND) {
        s = QG_SUCCESS;
    } else if (s == QG_ERR_CORRUPT) {
        char msg[QG_ERRMSG_LEN];
        snprintf(msg, sizeof msg, "%s", qg_last_error(NULL));
        s = QG_ERROR(NULL, QG_ERR_CORRUPT, "%s; left untouched (save elsewhere with -o)", msg);
    }
    free(disk.entries);

    char *json = s == QG_SUCCESS ? qg_db_to_json(db) : NULL;
    if (s == QG_SUCCESS && !json) s = QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "cannot serialize");
    if (s == QG_SUCCESS) {
        int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write_all(fd, json, strlen(json)) != 0 || write_all(fd, "\n", 1) != 0 ||
            fsync(fd) != 0) {
            s = QG_ERROR(NULL, QG_ERR_IO, "cannot write %s: %s", tmp_path, strerror(errno));
        }
        if (fd >= 0) close(fd);
        if (s == QG_SUCCESS && rename(tmp_path, path) != 0)
            s = QG_ERROR(NULL, QG_ERR_IO, "cannot rename %s to %s: %s", tmp_path, path, strerror(errno));
        if (s != QG_SUCCESS) unlink(tmp_path);
    }
    free(json);
    flock(lfd, LOCK_UN);
    close(lfd);
    return s;
}

/* ---- the context's database ---- */

/* "NVIDIA H100 80GB HBM3" -> "nvidia-h100-80gb-hbm3" */
static void slug(const char *name, char *out, size_t len) {
    size_t j = 0;
    int dash = 0;
    for (size_t i = 0; name[i] && j + 1 < len; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            out[j++] = c;
            dash = 0;
        } else if (!dash && j > 0) {
            out[j++] = '-';
            dash = 1;
        }
    }
    while (j > 0 && out[j - 1] == '-') j--;
    out[j] = 0;
}

int qg_db_shipped_path(const qg_device_info *d, char *out, size_t out_len) {
    char s[256];
    slug(d->name, s, sizeof s);
    char installed[1024];
    const char *dirs[] = {qg_getenv("QGEMM_DATA_DIR", NULL),
                          qg_installed_db_dir(installed, sizeof installed) ? installed : NULL};
    for (int i = 0; i < 2; i++) {
        if (!dirs[i]) continue;
        snprintf(out, out_len, "%s/%s.json", dirs[i], s);
        if (access(out, R_OK) == 0) return 1;
    }
    return 0;
}

qg_status qg_db_context_open(qg_context *ctx, const char *path) {
    char shipped[1024];
    if (!path) path = qg_getenv("QGEMM_TUNING_DB", NULL);
    if (!path && qg_db_shipped_path(&ctx->info, shipped, sizeof shipped)) path = shipped;
    if (!path || !path[0]) return QG_SUCCESS;
    qg_db *db;
    qg_status s = qg_db_open(&db, path, &ctx->info);
    if (s != QG_SUCCESS) {
        /* Reported, not fatal: dispatch falls back to the heuristic. */
        fprintf(stderr, "qgemm: tuning database ignored: %s\n", qg_last_error(NULL));
        return s;
    }
    ctx->db = db;
    if (ctx->verbose) fprintf(stderr, "qgemm: tuning database %s (%d entries)\n", path, db->count);
    return QG_SUCCESS;
}

void qg_db_context_close(qg_context *ctx) {
    qg_db_close(ctx->db);
    ctx->db = NULL;
}

qg_status qg_db_lookup_variant(qg_context *ctx, const qg_problem *p, const qg_variant **out,
                               qg_dispatch_level *level) {
    const qg_db_entry *e = qg_db_lookup(ctx->db, p, level);
    if (!e) return QG_ERR_NOT_FOUND;
    const qg_variant *v = qg_catalog_find(e->kernel);
    if (!v) {
        if (ctx->verbose)
            fprintf(stderr, "qgemm: database kernel %s is not in this catalog\n", e->kernel);
        return QG_ERR_NOT_FOUND;
    }
    *out = v;
    return QG_SUCCESS;
}

qg_status qg_explain(qg_context *ctx, const qg_problem *p, char *buf, size_t buf_len) {
    QG_RETURN_IF(NULL, !ctx || !p || !buf, QG_ERR_NULL_POINTER, "ctx, p and buf must not be NULL");
    QG_CHECK(qg_problem_validate(p));
    const qg_variant *v;
    qg_dispatch_level level;
    QG_CHECK(qg_dispatch_choose(ctx, p, QG_OP_GEMM, &v, &level));
    const qg_db_entry *e = level <= QG_LEVEL_NEAREST ? qg_db_lookup(ctx->db, p, &level) : NULL;
    if (e)
        snprintf(buf, buf_len, "%s (%s: tuned N=%lld K=%lld M=%lld, %.2f us)", v->id,
                 qg_dispatch_level_name(level), (long long)e->key.n, (long long)e->key.k,
                 (long long)e->m_bucket, e->median_us);
    else
        snprintf(buf, buf_len, "%s (%s)", v->id, qg_dispatch_level_name(level));
    return QG_SUCCESS;
}
