/* Tuning database: JSON (cJSON) load/save with locking and merging, and the lookup cascade. */
#include "db.h"

#include "catalog.h"
#include "cublaslt.h"
#include "data_dir.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <fcntl.h>
#include <limits.h>
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

const int64_t qg_default_m_buckets[] = {1,   2,   4,   8,   16,  24,   32,   48,   64,   96,
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
        for (const char *l = data; l && l < data + len;
             l = memchr(l, '\n', (size_t)(data + len - l))) {
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

/* An entry from before code hashes: timed on this build's kernel sources for its scheme, or
 * (entries from before per-scheme hashes, and files whose entries inherit the metadata's) the
 * whole catalog's. */
static int legacy_current(const qg_db_entry *e) {
    return strcmp(e->catalog_hash, qg_catalog_hash_scheme(e->key.scheme)) == 0 ||
           strcmp(e->catalog_hash, qg_catalog_hash()) == 0;
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
           a->group_size == b->group_size && qg_db_zp_kind(a) == qg_db_zp_kind(b) &&
           a->act_dtype == b->act_dtype && a->out_dtype == b->out_dtype &&
           a->weight_scale == b->weight_scale && a->act_scale == b->act_scale;
}

/* Same scheme and quantization details, any shape (for the nearest-shape level). */
static int same_family_class(const qg_problem *a, const qg_problem *b) {
    return a->scheme == b->scheme && a->group_size == b->group_size &&
           qg_db_zp_kind(a) == qg_db_zp_kind(b) && a->act_dtype == b->act_dtype &&
           a->out_dtype == b->out_dtype && a->weight_scale == b->weight_scale &&
           a->act_scale == b->act_scale;
}

/* ---- the hash index ---- */

static uint64_t key_hash(const qg_problem *p, int64_t m_bucket) {
    /* the fields qg_db_same_class compares, normalized, plus the bucket */
    const int64_t f[10] = {p->scheme,        p->n,         p->k,         p->group_size,
                           qg_db_zp_kind(p), p->act_dtype, p->out_dtype, p->weight_scale,
                           p->act_scale,     m_bucket};
    return XXH64(f, sizeof f, 0);
}

static int entry_matches(const qg_db_entry *e, const qg_problem *p, int64_t m_bucket) {
    return e->m_bucket == m_bucket && qg_db_same_class(&e->key, p);
}

/* Slot of (p, m_bucket) in the index: the one holding it, else the empty one to fill. */
static int index_slot(const qg_db *db, const qg_problem *p, int64_t m_bucket) {
    const unsigned mask = (unsigned)db->index_cap - 1;
    unsigned i = (unsigned)key_hash(p, m_bucket) & mask;
    while (db->index[i] >= 0 && !entry_matches(&db->entries[db->index[i]], p, m_bucket))
        i = (i + 1) & mask;
    return (int)i;
}

qg_status qg_db_reindex(qg_db *db) {
    int cap = 64;
    while (cap < 2 * db->count + 2) cap *= 2;
    if (cap != db->index_cap) {
        int *ix = realloc(db->index, (size_t)cap * sizeof *ix);
        QG_RETURN_IF(NULL, !ix, QG_ERR_OUT_OF_MEMORY, "no memory for a %d-slot database index", cap);
        db->index = ix;
        db->index_cap = cap;
    }
    memset(db->index, 0xff, (size_t)cap * sizeof *db->index); /* all -1 */
    for (int i = 0; i < db->count; i++) {
        const int slot = index_slot(db, &db->entries[i].key, db->entries[i].m_bucket);
        if (db->index[slot] < 0) db->index[slot] = i; /* a duplicate key keeps the first */
    }
    db->index_count = db->count;
    return QG_SUCCESS;
}

const qg_db_entry *qg_db_find(const qg_db *db, const qg_problem *p, int64_t m_bucket) {
    if (!db) return NULL;
    if (db->index_cap && db->index_count == db->count) {
        const int i = db->index[index_slot(db, p, m_bucket)];
        return i >= 0 ? &db->entries[i] : NULL;
    }
    for (int i = 0; i < db->count; i++)
        if (entry_matches(&db->entries[i], p, m_bucket)) return &db->entries[i];
    return NULL;
}

qg_status qg_db_put(qg_db *db, const qg_db_entry *e) {
    qg_db_entry *same = (qg_db_entry *)qg_db_find(db, &e->key, e->m_bucket);
    if (same) {
        *same = *e;
        same->on_disk = 0;
        return QG_SUCCESS;
    }
    if (db->count == db->cap) {
        QG_RETURN_IF(NULL, db->cap > INT_MAX / 2, QG_ERR_OUT_OF_MEMORY, "too many database entries");
        int cap = db->cap ? db->cap * 2 : 64;
        qg_db_entry *n = realloc(db->entries, (size_t)cap * sizeof *n);
        QG_RETURN_IF(NULL, !n, QG_ERR_OUT_OF_MEMORY, "no memory for %d database entries", cap);
        db->entries = n;
        db->cap = cap;
    }
    db->entries[db->count++] = *e;
    db->entries[db->count - 1].on_disk = 0;
    if (db->index_count != db->count - 1 || 2 * db->count + 2 > db->index_cap)
        return qg_db_reindex(db);
    db->index[index_slot(db, &e->key, e->m_bucket)] = db->count - 1;
    db->index_count = db->count;
    return QG_SUCCESS;
}

static int entry_stale(const qg_db_entry *e) {
    return __atomic_load_n(&e->verdict, __ATOMIC_RELAXED) == QG_VERDICT_STALE;
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
        if (!qg_db_same_class(&e->key, p) || entry_stale(e)) continue;
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
        if (!same_family_class(&e->key, p) || entry_stale(e)) continue;
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
    return g == QG_SCALE_PER_TENSOR  ? "per-tensor"
           : g == QG_SCALE_PER_GROUP ? "per-group"
                                     : "per-row";
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
        /* only for float zero points: older readers ignore it, and an entry without it keeps
         * meaning none / integer */
        if (qg_db_zp_kind(&e->key) == QG_ZERO_POINT_FLOAT)
            cJSON_AddStringToObject(o, "zero_point_kind", "float");
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
        if (e->code_hash[0]) cJSON_AddStringToObject(o, "code_hash", e->code_hash);
        else if (e->catalog_hash[0]) cJSON_AddStringToObject(o, "catalog_hash", e->catalog_hash);
        cJSON_AddItemToArray(arr, o);
    }
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    return s;
}

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Field `k` of `o` as an integer in [lo, hi]: 1 if so, 0 if absent, -1 (and `why`) if present
 * but not a number, fractional, out of range or not finite. */
static int jint(const cJSON *o, const char *k, int64_t lo, int64_t hi, int64_t *out, char *why,
                size_t why_len) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v) return 0;
    const double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(x >= (double)lo && x <= (double)hi) || x != floor(x)) {
        snprintf(why, why_len, "%s is not an integer in [%lld, %lld]", k, (long long)lo,
                 (long long)hi);
        return -1;
    }
    *out = (int64_t)x;
    return 1;
}

/* Optional time or error field: finite and >= 0 when present. */
static int jnonneg(const cJSON *o, const char *k, double *out, char *why, size_t why_len) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v) return 1;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= DBL_MAX)) {
        snprintf(why, why_len, "%s is not a finite number >= 0", k);
        return 0;
    }
    *out = v->valuedouble;
    return 1;
}

/* "X.Y" with X and Y in 0..99 and nothing else. */
static int parse_cc(const char *s, int *major, int *minor) {
    char *e;
    if (!s || !isdigit((unsigned char)s[0])) return 0;
    const long a = strtol(s, &e, 10);
    if (*e != '.' || !isdigit((unsigned char)e[1]) || a > 99) return 0;
    const long b = strtol(e + 1, &e, 10);
    if (*e || b > 99) return 0;
    *major = (int)a, *minor = (int)b;
    return 1;
}

/* Copy string field k into dst[len]: 0 (and why) when it does not fit. */
static int copy_str(char *dst, size_t len, const char *src, const char *k, char *why, size_t why_len) {
    if (strlen(src) >= len) {
        snprintf(why, why_len, "%s is longer than %zu characters", k, len - 1);
        return 0;
    }
    memcpy(dst, src, strlen(src) + 1);
    return 1;
}

/* The metadata object into db->meta; 0 and why on a bad field. */
static int parse_meta(qg_db *db, const cJSON *m, char *why, size_t why_len) {
    qg_db_meta *mt = &db->meta;
    memset(mt, 0, sizeof *mt);
    const char *s;
    if (!(s = jstr(m, "gpu_name"))) return snprintf(why, why_len, "metadata.gpu_name missing"), 0;
    if (!copy_str(mt->gpu_name, sizeof mt->gpu_name, s, "metadata.gpu_name", why, why_len))
        return 0;
    if (!parse_cc(jstr(m, "compute_capability"), &mt->cc_major, &mt->cc_minor))
        return snprintf(why, why_len,
                        "metadata.compute_capability missing or not \"X.Y\" (0-99 each)"),
               0;
    if ((s = jstr(m, "library_version")) && !copy_str(mt->library_version, sizeof mt->library_version,
                                                      s, "metadata.library_version", why, why_len))
        return 0;
    if ((s = jstr(m, "catalog_hash")) && !copy_str(mt->catalog_hash, sizeof mt->catalog_hash, s,
                                                   "metadata.catalog_hash", why, why_len))
        return 0;
    static const char *const ints[3] = {"sm_count", "driver_version", "compiler_version"};
    int *dst[3] = {&mt->sm_count, &mt->driver_version, &mt->compiler_version};
    for (int i = 0; i < 3; i++) {
        int64_t x;
        const int r = jint(m, ints[i], 0, INT_MAX, &x, why, why_len);
        if (r < 0) return 0;
        if (r > 0) *dst[i] = (int)x;
    }
    return 1;
}

/* One entry object; 0 and why on a bad field. */
static int parse_entry(const qg_db_meta *mt, const cJSON *o, qg_db_entry *e, char *why,
                       size_t why_len) {
    memset(e, 0, sizeof *e);
    qg_problem_init(&e->key);
    const cJSON *zp = cJSON_GetObjectItemCaseSensitive(o, "zero_point");
    const char *kern = jstr(o, "kernel"), *s;
    const int64_t dim_max = INT32_MAX; /* qg_problem_validate's bound */
    int64_t n = 0, k = 0, g = 0, mb = 0;
    int r[4] = {jint(o, "n", 1, dim_max, &n, why, why_len),
                jint(o, "k", 1, dim_max, &k, why, why_len),
                jint(o, "group_size", 0, dim_max, &g, why, why_len),
                jint(o, "m_bucket", 1, dim_max, &mb, why, why_len)};
    for (int i = 0; i < 4; i++)
        if (r[i] < 0) return 0;
    if (qg_scheme_from_name(jstr(o, "scheme"), &e->key.scheme) != QG_SUCCESS)
        return snprintf(why, why_len, "scheme missing or unknown"), 0;
    if (!r[0] || !r[1] || !r[2] || !r[3] || !kern || !cJSON_IsBool(zp))
        return snprintf(why, why_len, "n, k, group_size, m_bucket, kernel or zero_point missing"), 0;
    if (!dtype_parse(jstr(o, "act_dtype"), &e->key.act_dtype) ||
        !dtype_parse(jstr(o, "out_dtype"), &e->key.out_dtype))
        return snprintf(why, why_len, "act_dtype or out_dtype missing or unknown"), 0;
    if (!scale_parse(jstr(o, "weight_scale"), &e->key.weight_scale) ||
        !scale_parse(jstr(o, "act_scale"), &e->key.act_scale))
        return snprintf(why, why_len, "weight_scale or act_scale missing or unknown"), 0;
    e->key.n = n, e->key.k = k, e->key.m = e->m_bucket = mb;
    e->key.group_size = (int32_t)g;
    e->key.has_zero_point = cJSON_IsTrue(zp);
    const cJSON *zk = cJSON_GetObjectItemCaseSensitive(o, "zero_point_kind");
    if (zk) {
        if (!cJSON_IsString(zk) || strcmp(zk->valuestring, "float") || !cJSON_IsTrue(zp))
            return snprintf(why, why_len,
                            "zero_point_kind must be \"float\" (with zero_point true) when "
                            "present"),
                   0;
        e->key.has_zero_point = QG_ZERO_POINT_FLOAT;
    }
    if (!copy_str(e->kernel, sizeof e->kernel, kern, "kernel", why, why_len) ||
        !jnonneg(o, "median_us", &e->median_us, why, why_len) ||
        !jnonneg(o, "p20_us", &e->p20_us, why, why_len) ||
        !jnonneg(o, "p80_us", &e->p80_us, why, why_len) ||
        !jnonneg(o, "rel_error", &e->rel_error, why, why_len))
        return 0;
    if ((s = jstr(o, "tuned_at")) &&
        !copy_str(e->tuned_at, sizeof e->tuned_at, s, "tuned_at", why, why_len))
        return 0;
    if ((s = jstr(o, "code_hash"))) { /* decided once compiled: 16 lowercase hex digits */
        size_t i = 0;
        while (s[i] && ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) i++;
        if (s[i] || i != QG_CODE_HASH_LEN - 1)
            return snprintf(why, why_len, "code_hash \"%.40s\" is not %d hex digits", s,
                            QG_CODE_HASH_LEN - 1),
                   0;
        return copy_str(e->code_hash, sizeof e->code_hash, s, "code_hash", why, why_len);
    }
    /* from before code hashes: fresh if timed on this build's sources; no catalog_hash per
     * entry (from before per-entry hashes): every entry is as current as the file */
    s = jstr(o, "catalog_hash");
    if (!copy_str(e->catalog_hash, sizeof e->catalog_hash, s ? s : mt->catalog_hash, "catalog_hash",
                  why, why_len))
        return 0;
    e->verdict = legacy_current(e) ? QG_VERDICT_FRESH : QG_VERDICT_STALE;
    return 1;
}

cJSON *qg_json_parse_exact(const char *text, size_t len, size_t *error_at) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        *error_at = at && at >= text && at <= text + len ? (size_t)(at - text) : 0;
        return NULL;
    }
    while (end < text + len && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t')) end++;
    if (end < text + len) {
        cJSON_Delete(root);
        *error_at = (size_t)(end - text);
        return NULL;
    }
    return root;
}

/* Parse text into db; on failure the status and the reason in why (no error set). */
static qg_status parse_db(qg_db *db, const char *text, size_t len, char *why, size_t why_len) {
    size_t bad_at = 0;
    cJSON *root = qg_json_parse_exact(text, len, &bad_at);
    if (!root) {
        snprintf(why, why_len, "not valid JSON, or text after it (near byte %zu)", bad_at);
        return QG_ERR_CORRUPT;
    }
    qg_status s = QG_ERR_CORRUPT;
    int64_t ver = 0;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "entries");
    if (jint(root, "schema_version", 0, INT_MAX, &ver, why, why_len) <= 0) {
        snprintf(why, why_len, "schema_version missing or not an integer");
    } else if (ver != QG_DB_SCHEMA_VERSION) {
        snprintf(why, why_len, "schema_version %lld, this library reads %d", (long long)ver,
                 QG_DB_SCHEMA_VERSION);
    } else if (!cJSON_IsObject(m)) {
        snprintf(why, why_len, "no metadata object");
    } else if (parse_meta(db, m, why, why_len)) {
        db->has_meta = 1;
        if (!cJSON_IsArray(arr)) snprintf(why, why_len, "no entries array");
        else s = QG_SUCCESS;
    }
    int idx = 0;
    const cJSON *o;
    for (o = s == QG_SUCCESS ? arr->child : NULL; o; o = o->next, idx++) {
        qg_db_entry e;
        char field[200];
        if (!parse_entry(&db->meta, o, &e, field, sizeof field)) {
            snprintf(why, why_len, "entry %d: %s", idx, field);
            s = QG_ERR_CORRUPT;
            break;
        }
        if (qg_db_put(db, &e) != QG_SUCCESS) {
            snprintf(why, why_len, "no memory for entry %d", idx);
            s = QG_ERR_OUT_OF_MEMORY;
            break;
        }
    }
    cJSON_Delete(root);
    return s;
}

qg_status qg_db_from_json(qg_db *db, const char *text, size_t len) {
    QG_RETURN_IF(NULL, !db || !text, QG_ERR_NULL_POINTER, "db and text must not be NULL");
    char why[512];
    const qg_status s = parse_db(db, text, len, why, sizeof why);
    return s == QG_SUCCESS ? s : QG_ERROR(NULL, s, "%s", why);
}

/* ---- files ---- */

/* Read a regular file into a NUL-terminated buffer; on failure the status and why (naming the
 * file) without setting the error. O_NONBLOCK so that opening a FIFO does not wait for a
 * writer; fstat then refuses anything that is not a regular file. */
static qg_status read_regular(const char *path, size_t max_bytes, char **out, size_t *len,
                              char *why, size_t why_len) {
    *out = NULL;
    *len = 0;
    const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        const int e = errno;
        snprintf(why, why_len, "%s: %s", path, e == ENOENT ? "no such file" : strerror(e));
        return e == ENOENT ? QG_ERR_NOT_FOUND : QG_ERR_IO;
    }
    struct stat st;
    qg_status s = QG_ERR_IO;
    char *buf = NULL;
    size_t n = 0;
    if (fstat(fd, &st) != 0) {
        snprintf(why, why_len, "%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(why, why_len, "%s is %s, not a regular file", path,
                 S_ISDIR(st.st_mode)    ? "a directory"
                 : S_ISFIFO(st.st_mode) ? "a FIFO"
                                        : "a device or socket");
    } else if ((uint64_t)st.st_size > max_bytes) {
        snprintf(why, why_len, "%s is %lld bytes, above the %zu-byte limit", path,
                 (long long)st.st_size, max_bytes);
    } else if (!(buf = malloc((size_t)st.st_size + 1))) {
        snprintf(why, why_len, "no memory to read %s (%lld bytes)", path, (long long)st.st_size);
        s = QG_ERR_OUT_OF_MEMORY;
    } else {
        s = QG_SUCCESS;
        for (;;) { /* up to the size fstat gave; a file growing meanwhile reads as truncated */
            const ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                snprintf(why, why_len, "error reading %s: %s", path, strerror(errno));
                s = QG_ERR_IO;
            }
            if (r <= 0) break;
            n += (size_t)r;
        }
    }
    close(fd);
    if (s != QG_SUCCESS) {
        free(buf);
        return s;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return QG_SUCCESS;
}

qg_status qg_read_regular_file(const char *path, size_t max_bytes, char **out, size_t *len) {
    QG_RETURN_IF(NULL, !path || !out || !len, QG_ERR_NULL_POINTER,
                 "path, out and len must not be NULL");
    char why[QG_ERRMSG_LEN - 64];
    const qg_status s = read_regular(path, max_bytes, out, len, why, sizeof why);
    return s == QG_SUCCESS ? s : QG_ERROR(NULL, s, "%s", why);
}

static qg_status check_env(const qg_db *db, const qg_device_info *env, const char *path) {
    if (!env || !db->has_meta) return QG_SUCCESS;
    QG_RETURN_IF(NULL,
                 strcmp(db->meta.gpu_name, env->name) != 0 || db->meta.cc_major != env->cc_major ||
                     db->meta.cc_minor != env->cc_minor,
                 QG_ERR_DB_MISMATCH,
                 "%s was tuned on '%s' (cc %d.%d), this device is '%s' (cc %d.%d)", path,
                 db->meta.gpu_name, db->meta.cc_major, db->meta.cc_minor, env->name, env->cc_major,
                 env->cc_minor);
    return QG_SUCCESS;
}

/* Load `path` into a fresh db; on failure the status and why (naming the file), no error set.
 * QG_ERR_NOT_FOUND if the file does not exist. */
static qg_status load(qg_db *db, const char *path, char *why, size_t why_len) {
    char *text = NULL;
    size_t len = 0;
    qg_status s = read_regular(path, QG_DB_MAX_FILE_BYTES, &text, &len, why, why_len);
    if (s != QG_SUCCESS) return s;
    char reason[400];
    s = parse_db(db, text, len, reason, sizeof reason);
    free(text);
    if (s != QG_SUCCESS) snprintf(why, why_len, "%s: %s", path, reason);
    for (int i = 0; i < db->count; i++) db->entries[i].on_disk = 1;
    return s;
}

static qg_status open_db(qg_db **out, const char *path, const qg_device_info *env, int must_exist) {
    QG_RETURN_IF(NULL, !out || !path, QG_ERR_NULL_POINTER, "out and path must not be NULL");
    *out = NULL;
    QG_RETURN_IF(NULL, !path[0], QG_ERR_INVALID_ARGUMENT, "empty database path");
    QG_RETURN_IF(NULL, strlen(path) >= sizeof((qg_db *)0)->path, QG_ERR_INVALID_ARGUMENT,
                 "database path is %zu characters, at most %zu are supported", strlen(path),
                 sizeof((qg_db *)0)->path - 1);
    qg_db *db = calloc(1, sizeof *db);
    QG_RETURN_IF(NULL, !db, QG_ERR_OUT_OF_MEMORY, "no memory for a database");
    snprintf(db->path, sizeof db->path, "%s", path);
    char why[QG_ERRMSG_LEN - 64];
    qg_status s = load(db, path, why, sizeof why);
    if (s == QG_ERR_NOT_FOUND && !must_exist) s = QG_SUCCESS; /* new database */
    else if (s != QG_SUCCESS) QG_ERROR(NULL, s, "%s", why);
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

qg_status qg_db_open(qg_db **out, const char *path, const qg_device_info *env) {
    return open_db(out, path, env, 0);
}

qg_status qg_db_open_existing(qg_db **out, const char *path) { return open_db(out, path, NULL, 1); }

int qg_db_entry_current(const qg_db_entry *e) {
    return __atomic_load_n(&e->verdict, __ATOMIC_RELAXED) == QG_VERDICT_FRESH;
}

int qg_db_count_stale(const qg_db *db) {
    int stale = 0;
    for (int i = 0; i < db->count; i++) stale += entry_stale(&db->entries[i]);
    return stale;
}

int qg_db_note_code_hash(qg_db *db, const char *kernel, const char *hash) {
    int staled = 0;
    for (int i = 0; db && i < db->count; i++) {
        qg_db_entry *e = &db->entries[i];
        if (!e->code_hash[0] || strcmp(e->kernel, kernel) != 0) continue;
        unsigned char undecided = QG_VERDICT_UNKNOWN;
        const unsigned char v = strcmp(e->code_hash, hash) == 0 ? QG_VERDICT_FRESH : QG_VERDICT_STALE;
        if (__atomic_compare_exchange_n(&e->verdict, &undecided, v, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            staled += v == QG_VERDICT_STALE;
    }
    return staled;
}

int qg_db_begin_tuning(qg_db *db, const qg_device_info *d) {
    int stale = 0;
    if (qg_db_decide_freshness(db, d->arch[0] ? d->arch : NULL, NULL, 0, &stale) != QG_SUCCESS)
        stale = qg_db_count_stale(db); /* undecided entries are re-timed too */
    qg_db_meta_from_device(&db->meta, d);
    db->has_meta = 1;
    return stale;
}

void qg_db_close(qg_db *db) {
    if (!db) return;
    free(db->entries);
    free(db->index);
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

/* Where a save to `path` writes: the end of its chain of symbolic links (which need not exist
 * yet), so that saving through a link updates its target instead of replacing the link.
 * 0 or an errno. */
static int resolve_links(const char *path, char *out, size_t len) {
    if (snprintf(out, len, "%s", path) >= (int)len) return ENAMETOOLONG;
    for (int hop = 0; hop < 40; hop++) {
        char target[PATH_MAX];
        const ssize_t r = readlink(out, target, sizeof target - 1);
        if (r < 0) return errno == EINVAL || errno == ENOENT ? 0 : errno; /* not a link, or new */
        target[r] = 0;
        const char *slash = strrchr(out, '/');
        const int dir_len = target[0] == '/' || !slash ? 0 : (int)(slash - out + 1);
        char next[PATH_MAX];
        if (snprintf(next, sizeof next, "%.*s%s", dir_len, out, target) >= (int)sizeof next ||
            snprintf(out, len, "%s", next) >= (int)len)
            return ENAMETOOLONG;
    }
    return ELOOP;
}

/* Exclusive lock on `lock_path`, which the holder deletes when done (so no lock file stays
 * behind): after flock, the file must still be the one at that name, else a holder deleted it
 * while we waited and we lock the new one. -1 and why on failure. */
static int lock_acquire(const char *lock_path, char *why, size_t why_len) {
    for (;;) {
        const int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            snprintf(why, why_len, "cannot open lock file %s: %s", lock_path, strerror(errno));
            return -1;
        }
        while (flock(fd, LOCK_EX) != 0) {
            if (errno == EINTR) continue;
            snprintf(why, why_len, "cannot lock %s: %s", lock_path, strerror(errno));
            close(fd);
            return -1;
        }
        struct stat held, named;
        if (fstat(fd, &held) == 0 && stat(lock_path, &named) == 0 && held.st_dev == named.st_dev &&
            held.st_ino == named.st_ino)
            return fd;
        close(fd);
    }
}

static void lock_release(const char *lock_path, int fd) {
    unlink(lock_path); /* while still held: see lock_acquire */
    close(fd);
}

/* Write text to a new temporary file next to `target`, fsync it and rename it over `target`,
 * then fsync the directory. 0, or -1 and why (the temporary file removed). */
static int replace_file(const char *target, const char *text, char *why, size_t why_len) {
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", target);
    const int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(why, why_len, "cannot create a temporary file next to %s: %s", target,
                 strerror(errno));
        return -1;
    }
    int ok = fchmod(fd, 0644) == 0 && write_all(fd, text, strlen(text)) == 0 &&
             write_all(fd, "\n", 1) == 0 && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) ok = 0, e = errno;
    if (!ok) {
        snprintf(why, why_len, "cannot write %s: %s", tmp, strerror(e));
    } else if (rename(tmp, target) != 0) {
        snprintf(why, why_len, "cannot rename %s to %s: %s", tmp, target, strerror(errno));
        ok = 0;
    }
    if (!ok) {
        unlink(tmp);
        return -1;
    }
    char dir[PATH_MAX];
    const char *slash = strrchr(target, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - target) + (slash == target) : 1,
             slash ? target : ".");
    const int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) { /* durability of the rename; its failure loses nothing else */
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* Temporary files are only written under the lock, so those of `target` found while holding
 * it were left by a saver that died (SIGKILL): delete them. */
static void remove_stale_temporaries(const char *target) {
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    char dir[PATH_MAX], prefix[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - target) + (slash == target) : 1,
             slash ? target : ".");
    snprintf(prefix, sizeof prefix, "%s.tmp.", base);
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || strlen(e->d_name) != strlen(prefix) + 6)
            continue;
        char stale[PATH_MAX * 2];
        snprintf(stale, sizeof stale, "%s/%s", dir, e->d_name);
        unlink(stale);
    }
    if (d) closedir(d);
}

/* Drop the entries of db that `keep` rejects. */
static qg_status drop_entries(qg_db *db, qg_db_keep_fn keep, void *user) {
    int kept = 0;
    for (int i = 0; i < db->count; i++)
        if (keep(user, db, &db->entries[i])) db->entries[kept++] = db->entries[i];
    db->count = kept;
    return qg_db_reindex(db);
}

/* Kept unless it came from the file and is gone from it (user: the file as it is now). */
static int still_on_disk(void *user, const qg_db *db, const qg_db_entry *e) {
    (void)db;
    return !e->on_disk || qg_db_find(user, &e->key, e->m_bucket) != NULL;
}

/* Under the lock: merge what other processes saved since we opened (entries we do not have,
 * or newer ones), drop what `keep` rejects, write. `own`: target is the file db was read from,
 * so its entries that are gone from there were removed (pruned) by another process and stay
 * removed. */
static qg_status merge_and_write(qg_db *db, const char *target, int own, qg_db_keep_fn keep,
                                 void *user, char *why, size_t why_len) {
    remove_stale_temporaries(target);
    qg_db disk = {0};
    qg_status s = load(&disk, target, why, why_len);
    if (s == QG_SUCCESS && own && drop_entries(db, still_on_disk, &disk) != QG_SUCCESS) {
        snprintf(why, why_len, "no memory for the database index");
        s = QG_ERR_OUT_OF_MEMORY;
    }
    if (s == QG_SUCCESS) {
        if (strcmp(disk.meta.gpu_name, db->meta.gpu_name) != 0 ||
            disk.meta.cc_major != db->meta.cc_major || disk.meta.cc_minor != db->meta.cc_minor) {
            snprintf(why, why_len,
                     "%s belongs to '%s' (cc %d.%d); not overwriting it with results "
                     "for '%s'",
                     target, disk.meta.gpu_name, disk.meta.cc_major, disk.meta.cc_minor,
                     db->meta.gpu_name);
            s = QG_ERR_DB_MISMATCH;
        }
        for (int i = 0; s == QG_SUCCESS && i < disk.count; i++) {
            const qg_db_entry *d = &disk.entries[i];
            const qg_db_entry *mine = qg_db_find(db, &d->key, d->m_bucket);
            if ((!mine || strcmp(d->tuned_at, mine->tuned_at) > 0) && qg_db_put(db, d) != QG_SUCCESS) {
                snprintf(why, why_len, "no memory to merge %s", target);
                s = QG_ERR_OUT_OF_MEMORY;
            }
        }
    } else if (s == QG_ERR_NOT_FOUND) {
        s = QG_SUCCESS;
    } else if (s == QG_ERR_CORRUPT) {
        const size_t l = strlen(why);
        snprintf(why + l, why_len - l, "; left untouched (save elsewhere with -o)");
    }
    free(disk.entries);
    free(disk.index);
    if (s != QG_SUCCESS) return s;
    if (keep && drop_entries(db, keep, user) != QG_SUCCESS) {
        snprintf(why, why_len, "no memory for the database index");
        return QG_ERR_OUT_OF_MEMORY;
    }
    char *json = qg_db_to_json(db);
    if (!json) {
        snprintf(why, why_len, "no memory to serialize %d entries", db->count);
        return QG_ERR_OUT_OF_MEMORY;
    }
    s = replace_file(target, json, why, why_len) == 0 ? QG_SUCCESS : QG_ERR_IO;
    free(json);
    for (int i = 0; own && s == QG_SUCCESS && i < db->count; i++) db->entries[i].on_disk = 1;
    return s;
}

qg_status qg_db_save_filtered(qg_db *db, const char *path, qg_db_keep_fn keep, void *user) {
    QG_RETURN_IF(NULL, !db, QG_ERR_NULL_POINTER, "db is NULL");
    if (!path) path = db->path;
    QG_RETURN_IF(NULL, !path[0], QG_ERR_INVALID_ARGUMENT, "no path to save the database to");
    QG_RETURN_IF(NULL, !db->has_meta, QG_ERR_INVALID_ARGUMENT,
                 "database has no metadata (open it with a device to tune into it)");
    char target[PATH_MAX], lock_path[PATH_MAX + 8], own_file[PATH_MAX];
    const int e = resolve_links(path, target, sizeof target);
    const int own = resolve_links(db->path, own_file, sizeof own_file) == 0 &&
                    !strcmp(own_file, target);
    QG_RETURN_IF(NULL, e, e == ENAMETOOLONG ? QG_ERR_INVALID_ARGUMENT : QG_ERR_IO,
                 "cannot save to %s: %s", path, strerror(e));
    QG_RETURN_IF(NULL,
                 snprintf(lock_path, sizeof lock_path, "%s.lock", target) >= (int)sizeof lock_path,
                 QG_ERR_INVALID_ARGUMENT, "cannot save to %s: path too long", path);
    struct stat st;
    QG_RETURN_IF(NULL, lstat(target, &st) == 0 && !S_ISREG(st.st_mode), QG_ERR_IO,
                 "%s is not a regular file: not replacing it with a database", target);
    char why[QG_ERRMSG_LEN - 64];
    const int lfd = lock_acquire(lock_path, why, sizeof why);
    if (lfd < 0) return QG_ERROR(NULL, QG_ERR_IO, "%s", why);
    const qg_status s = merge_and_write(db, target, own, keep, user, why, sizeof why);
    lock_release(lock_path, lfd);
    return s == QG_SUCCESS ? s : QG_ERROR(NULL, s, "%s", why);
}

qg_status qg_db_save(qg_db *db, const char *path) {
    return qg_db_save_filtered(db, path, NULL, NULL);
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
        /* a path cut short would name another file: skip that directory */
        if (snprintf(out, out_len, "%s/%s.json", dirs[i], s) >= (int)out_len) continue;
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
    qg_db_report_stale(ctx); /* those from before code hashes are known already */
    return QG_SUCCESS;
}

void qg_db_context_close(qg_context *ctx) {
    qg_db_close(ctx->db);
    ctx->db = NULL;
}

qg_status qg_db_lookup_variant(qg_context *ctx, const qg_problem *p, const qg_variant **out,
                               qg_dispatch_level *level, const qg_db_entry **entry) {
    const qg_db_entry *e;
    const qg_variant *v = NULL;
    while ((e = qg_db_lookup(ctx->db, p, level)) && !(v = qg_catalog_find(e->kernel))) {
        if (ctx->verbose)
            fprintf(stderr, "qgemm: database kernel %s is not in this catalog\n", e->kernel);
        /* its code is gone: stale, and the cascade goes on */
        __atomic_store_n(&((qg_db_entry *)e)->verdict, QG_VERDICT_STALE, __ATOMIC_RELAXED);
        qg_db_report_stale(ctx);
    }
    if (!e) return QG_ERR_NOT_FOUND;
    *entry = e;
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
    else snprintf(buf, buf_len, "%s (%s)", v->id, qg_dispatch_level_name(level));
    return QG_SUCCESS;
}
