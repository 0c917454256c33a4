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
};

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
/* Entry for exactly this key and bucket, or NULL. */
const qg_db_entry *qg_db_find(const qg_db *db, const qg_problem *p, int64_t m_bucket);
/* Cascade lookup for M = p->m: exact bucket, nearest bucket of the same shape, nearest shape. */
const qg_db_entry *qg_db_lookup(const qg_db *db, const qg_problem *p, qg_dispatch_level *level);
/* Same key (ignoring M)? */
int qg_db_same_class(const qg_problem *a, const qg_problem *b);
/* Serialize to a cJSON string (malloc'd). */
char *qg_db_to_json(const qg_db *db);
/* Parse; QG_ERR_CORRUPT with a message on malformed input. */
qg_status qg_db_from_json(qg_db *db, const char *text, size_t len);
/* Shipped database for a device: <slug>.json in $QGEMM_DATA_DIR, else in qg_installed_db_dir(). */
int qg_db_shipped_path(const qg_device_info *d, char *out, size_t out_len);
void qg_now_iso8601(char *buf, size_t len);

#endif
