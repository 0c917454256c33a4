/* Tuning database internals (src/db.c), shared with the tuner and the CLI. */
#ifndef QG_DB_H
#define QG_DB_H

#include "dispatch.h"

#define QG_DB_SCHEMA_VERSION 1

typedef struct {
    /* Key: the problem class (M ignored) and the M bucket. */
    qg_problem key;
    int64_t m_bucket;
    /* Value. */
    char kernel[128];
    double median_us, p20_us, p80_us;
    double rel_error;
    char tuned_at[32]; /* ISO 8601 UTC */
    char catalog_hash[24]; /* the kernels it was timed against (qg_catalog_hash_scheme) */
    /* Read from (or saved to) the database's own file, unchanged since: a save that no longer
     * finds it there drops it (another process pruned it) instead of writing it back. */
    int on_disk;
} qg_db_entry;

typedef struct {
    char gpu_name[256];
    int cc_major, cc_minor, sm_count;
    int driver_version, compiler_version;
    char library_version[32];
    char catalog_hash[24];
} qg_db_meta;

struct qg_db {
    char path[1024];
    qg_db_meta meta;
    int has_meta;
    qg_db_entry *entries;
    int count, cap;
    /* Hash index of entries by key and bucket (open addressing, -1 = empty slot), so loading and
     * merging are linear. Used only while index_count == count: code that rewrites `entries`
     * directly calls qg_db_reindex (lookups fall back to a scan meanwhile). */
    int *index;
    int index_cap, index_count;
};

/* Largest database file read (a clear QG_ERR_IO beyond it): about 100k entries, where parsing
 * takes a fraction of a second and a few hundred MB; the shipped files are under 1 MB. */
#define QG_DB_MAX_FILE_BYTES ((size_t)64 << 20)

/* Read a whole regular file (NUL-terminated) of at most max_bytes. Never blocks on a FIFO or
 * device: those, directories and larger files are QG_ERR_IO with a message naming the file;
 * a missing file is QG_ERR_NOT_FOUND ("no such file"). *out is malloc'd. */
qg_status qg_read_regular_file(const char *path, size_t max_bytes, char **out, size_t *len);

/* Parse text[len] as one JSON value followed by nothing but white space (cJSON alone accepts
 * trailing text). NULL on failure, with the byte offset of the problem in *error_at. */
struct cJSON;
struct cJSON *qg_json_parse_exact(const char *text, size_t len, size_t *error_at);

/* Default M buckets: the batch sizes engines capture in CUDA graphs, then prefill sizes. */
extern const int64_t qg_default_m_buckets[];
extern const int qg_default_m_bucket_count;

/* Catalog hash (hex): variant ids and kernel sources (the file metadata's). */
const char *qg_catalog_hash(void);
/* The part of the catalog scheme `s` uses (hex): its variant ids, their sources and includes,
 * helper kernels, the cuBLASLt policy. Each entry records its scheme's; "" for a bad scheme. */
const char *qg_catalog_hash_scheme(qg_scheme s);
/* 1 if embedded kernel file `file` (e.g. "int4_dequant.cuh") is in scheme s's hash. */
int qg_catalog_scheme_uses(qg_scheme s, const char *file);

void qg_db_meta_from_device(qg_db_meta *m, const qg_device_info *d);
/* Prepare `db` to receive a tuning run on device `d`: its metadata become this run's
 * environment (catalog hash, driver, compiler, library). Returns how many of its entries were
 * tuned with another kernel catalog: they may miss kernels added or changed since, so the tuner
 * re-times them instead of skipping them (qg_db_entry_current). */
int qg_db_begin_tuning(qg_db *db, const qg_device_info *d);
/* Was `e` timed against this build's kernels for its scheme? (The tuner skips only such
 * entries.) */
int qg_db_entry_current(const qg_db_entry *e);
/* How many entries of `db` were timed against another kernel catalog. */
int qg_db_count_stale(const qg_db *db);
/* Insert or replace (same key) an entry. */
qg_status qg_db_put(qg_db *db, const qg_db_entry *e);
/* Rebuild the hash index after `entries` was rewritten in place. */
qg_status qg_db_reindex(qg_db *db);
/* Like qg_db_open without an env, but a missing file is an error (QG_ERR_NOT_FOUND naming it):
 * for tools that read a database rather than create one. */
qg_status qg_db_open_existing(qg_db **out, const char *path);
/* Decides, for qg_db_save_filtered, whether an entry is written (1) or dropped (0). */
typedef int (*qg_db_keep_fn)(void *user, const qg_db *db, const qg_db_entry *e);
/* qg_db_save, dropping the entries `keep` rejects from the merged set (under the lock, after
 * the merge with the file on disk, so entries saved meanwhile are kept or dropped by the same
 * rule, and dropped ones do not come back). `keep` NULL keeps all. db holds the saved set. */
qg_status qg_db_save_filtered(qg_db *db, const char *path, qg_db_keep_fn keep, void *user);
/* Entry for exactly this key and bucket, or NULL. */
const qg_db_entry *qg_db_find(const qg_db *db, const qg_problem *p, int64_t m_bucket);
/* Cascade lookup for M = p->m: exact bucket, nearest bucket of the same shape, nearest shape. */
const qg_db_entry *qg_db_lookup(const qg_db *db, const qg_problem *p, qg_dispatch_level *level);
/* Same key (ignoring M)? */
int qg_db_same_class(const qg_problem *a, const qg_problem *b);
/* Serialize to a cJSON string (malloc'd). */
char *qg_db_to_json(const qg_db *db);
/* Parse; QG_ERR_CORRUPT with a message naming the entry and field on malformed input (bad
 * JSON, trailing text, a missing field, a number out of range or not an integer). */
qg_status qg_db_from_json(qg_db *db, const char *text, size_t len);
/* Shipped database for a device: tuning_db/<slug>.json under the install or source dir. */
int qg_db_shipped_path(const qg_device_info *d, char *out, size_t out_len);
void qg_now_iso8601(char *buf, size_t len);

#endif
