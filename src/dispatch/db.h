/* Tuning database internals (db.c), shared with the tuner and the CLI. */
#ifndef QG_DB_H
#define QG_DB_H

#include "code_hash.h"
#include "dispatch.h"

#define QG_DB_SCHEMA_VERSION 1

/* The zero-point kind a database key compares: 0 none, 1 integer, 2 float (any other non-zero
 * value counts as integer, as entries from before float zero points meant). */
static inline int qg_db_zp_kind(const qg_problem *p) {
    return p->has_zero_point == QG_ZERO_POINT_FLOAT ? QG_ZERO_POINT_FLOAT : !!p->has_zero_point;
}

typedef struct qg_db_entry {
    /* Key: the problem class (M ignored) and the M bucket. */
    qg_problem key;
    int64_t m_bucket;
    /* Value. */
    char kernel[128];
    double median_us, p20_us, p80_us;
    double rel_error;
    char tuned_at[32]; /* ISO 8601 UTC */
    /* The code its kernel had when timed (code_hash.h); "" in entries from before code
     * hashes, which carry their scheme's source hash instead (qg_catalog_hash_scheme). */
    char code_hash[QG_CODE_HASH_LEN];
    char catalog_hash[24];
    /* Read from (or saved to) the database's own file, unchanged since: a save that no longer
     * finds it there drops it (another process pruned it) instead of writing it back. */
    int on_disk;
    /* Not stored: is the entry fresh (its kernel compiles to the code it was timed on)?
     * Decided by the source hash on load for old entries, else once the kernel is compiled;
     * shared by a context's threads (atomic access). */
    unsigned char verdict; /* qg_db_verdict */
} qg_db_entry;

typedef enum { QG_VERDICT_UNKNOWN = 0, QG_VERDICT_FRESH = 1, QG_VERDICT_STALE = 2 } qg_db_verdict;

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
    int stale_reported; /* a context has said it met stale entries (atomic) */
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
 * helper kernels, the cuBLASLt policy; "" for a bad scheme. What entries recorded before code
 * hashes: such an entry is fresh when it matches this build's (qg_db_restamp converts it). */
const char *qg_catalog_hash_scheme(qg_scheme s);
/* 1 if embedded kernel file `file` (e.g. "int4_dequant.cuh") is in scheme s's hash. */
int qg_catalog_scheme_uses(qg_scheme s, const char *file);

void qg_db_meta_from_device(qg_db_meta *m, const qg_device_info *d);
/* Prepare `db` to receive a tuning run on device `d`: its metadata become this run's
 * environment (catalog hash, driver, compiler, library). Returns how many of its entries are
 * stale (qg_db_decide_freshness for d's architecture, with the default cache directory): the
 * tuner re-times them instead of skipping them (qg_db_entry_current). */
int qg_db_begin_tuning(qg_db *db, const qg_device_info *d);
/* Is `e` known to be fresh (timed on the code its kernel compiles to in this build)? The tuner
 * skips only such entries; undecided ones count as not fresh. */
int qg_db_entry_current(const qg_db_entry *e);
/* How many entries of `db` are known to be stale. */
int qg_db_count_stale(const qg_db *db);
/* Record that `kernel` compiles to code hash `hash` here: decides the undecided entries naming
 * it. Returns how many became stale. Thread-safe against lookups and other calls. */
int qg_db_note_code_hash(qg_db *db, const char *kernel, const char *hash);
/*
 * Decide every undecided entry by computing its kernel's code hash for `arch` (NULL: the one
 * of the file's compute capability, "sm_90a" for 9.0) without a device: compiles each kernel
 * once on `threads` threads (0: one per CPU), images cached under `cache_dir` (NULL: the
 * default JIT cache directory, "": none). An entry whose kernel is not in the catalog or not built for arch is stale.
 * *stale (may be NULL): how many entries are stale in all. QG_ERR_NO_COMPILER and compile
 * errors leave those entries undecided. (db_fresh.c)
 */
qg_status qg_db_decide_freshness(qg_db *db, const char *arch, const char *cache_dir, int threads,
                                 int *stale);
/*
 * Migration: give every entry from before code hashes that its source hash says is fresh the
 * code hash of its kernel for `arch` (as qg_db_decide_freshness); such entries were timed on
 * exactly the code that compiles now. Stale old entries keep their source hash: re-time them
 * (qgemm tune --stale). *restamped (may be NULL): how many entries got a code hash.
 */
qg_status qg_db_restamp(qg_db *db, const char *arch, const char *cache_dir, int threads,
                        int *restamped);
/*
 * Migration of entries from before code hashes timed on *other* sources than this build's:
 * `images` is a directory holding what the build that timed them compiled for `arch` (as
 * qg_db_restamp; scripts/restamp_from_commit.sh makes it): catalog_hash (that build's whole-
 * catalog hash), <kernel id>.cubin for the entries' kernels and their helpers, library_policy
 * (its cuBLASLt policy). An entry with that catalog_hash whose kernel compiled to the code it
 * compiles to now gets this build's code hash; one whose code changed stays stale.
 */
qg_status qg_db_restamp_from_images(qg_db *db, const char *images, const char *arch,
                                    const char *cache_dir, int threads, int *restamped);
/* The architecture a database's entries are compiled for: "sm_90a" for compute capability
 * 9.0, "sm_XY" for X.Y. */
void qg_db_arch(const qg_db *db, char *out, size_t len);
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
/* Cascade lookup for M = p->m: exact bucket, nearest bucket of the same shape, nearest shape;
 * entries known to be stale are skipped. */
const qg_db_entry *qg_db_lookup(const qg_db *db, const qg_problem *p, qg_dispatch_level *level);
/* Same key (ignoring M)? */
int qg_db_same_class(const qg_problem *a, const qg_problem *b);
/* Serialize to a cJSON string (malloc'd). */
char *qg_db_to_json(const qg_db *db);
/* Parse; QG_ERR_CORRUPT with a message naming the entry and field on malformed input (bad
 * JSON, trailing text, a missing field, a number out of range or not an integer). */
qg_status qg_db_from_json(qg_db *db, const char *text, size_t len);
/* At plan time: is entry `e` of ctx's database, whose kernel `v` dispatch has just loaded,
 * fresh? Decides it (and the other entries of v) from v's code hash if undecided, says so
 * once if that finds stale entries. 1 if fresh, or if v cannot be loaded here (the caller's
 * load fails the same way). (db_fresh.c) */
int qg_db_entry_check(qg_context *ctx, const qg_db_entry *e, const qg_variant *v);
/* Say once per database of ctx (stderr) that it has stale entries, with their count so far and
 * the command that re-times them; nothing when none is known. (db_fresh.c) */
void qg_db_report_stale(qg_context *ctx);
/* Shipped database for a device: <slug>.json in $QGEMM_DATA_DIR, else in qg_installed_db_dir(). */
int qg_db_shipped_path(const qg_device_info *d, char *out, size_t out_len);
void qg_now_iso8601(char *buf, size_t len);

#endif
