/* qgemm db show|validate|merge|prune|restamp, and qgemm explain. */
#include "cli.h"

#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void db_usage(void) {
    printf("usage: qgemm db show FILE [--json]\n"
           "       qgemm db validate FILE [--fresh] [--json]\n"
           "       qgemm db merge A B [C...] -o OUT\n"
           "       qgemm db prune FILE [-o OUT]\n"
           "       qgemm db restamp FILE [--images DIR | --kernels] [-o OUT]\n\n"
           "show      prints the metadata and one line per entry\n"
           "validate  checks the schema, that every kernel id is in this library's catalog and\n"
           "          fits its problem, and reports metadata that differs from this build;\n"
           "          counts stale entries (timed on other code than their kernels compile to\n"
           "          now: compiles them for the file's architecture); exit 1 on any error, and\n"
           "          with --fresh also on a stale entry (each one listed)\n"
           "merge     joins databases of one GPU model (for one key the most recently tuned\n"
           "          entry wins), e.g. the shards of a multi-machine tune\n"
           "prune     drops entries whose kernel is not in this catalog or does not fit; like\n"
           "          every save it locks OUT, merges what is on disk and replaces it atomically\n"
           "restamp   migration: gives the entries from before code hashes that were timed on\n"
           "          this build's kernel sources the code hash of their kernel (compiles them);\n"
           "          the stale ones keep their source hash for 'qgemm tune --stale'; with\n"
           "          --images, those timed by an older build whose images DIR holds and\n"
           "          whose code is unchanged (scripts/restamp_from_commit.sh); --kernels\n"
           "          lists the kernels such a build must compile\n\n"
           "FILE must exist (a missing file is an error). A save through a symbolic link updates\n"
           "the link's target.\n");
}

static qg_db *open_or_report(const char *path) {
    qg_db *db;
    if (qg_db_open_existing(&db, path) != QG_SUCCESS) {
        fprintf(stderr, "qgemm db: %s\n", qg_last_error(NULL));
        return NULL;
    }
    return db;
}

static void print_entry(const qg_db_entry *e) {
    printf("  %-9s N=%-6lld K=%-6lld g=%-3d zp=%d %s->%s M=%-5lld %-44s %9.2f us [%.2f, %.2f] err %.2g  %s\n",
           qg_scheme_name(e->key.scheme), (long long)e->key.n, (long long)e->key.k,
           (int)e->key.group_size, (int)e->key.has_zero_point, qg_dtype_name(e->key.act_dtype),
           qg_dtype_name(e->key.out_dtype), (long long)e->m_bucket, e->kernel, e->median_us,
           e->p20_us, e->p80_us, e->rel_error, e->tuned_at);
    if (e->verdict == QG_VERDICT_STALE && e->code_hash[0])
        printf("    (stale: timed on code %s, which its kernel no longer compiles to)\n",
               e->code_hash);
    else if (e->verdict == QG_VERDICT_STALE)
        printf("    (stale: timed against %s kernel sources %s; this build's: %s)\n",
               qg_scheme_name(e->key.scheme), e->catalog_hash, qg_catalog_hash_scheme(e->key.scheme));
}

/* Decide which entries are stale (compiles their kernels); 0 with a note on `out` if it
 * cannot (stderr under --json, whose stdout is the document alone). */
static int decide_or_note(qg_db *db, FILE *out) {
    if (qg_db_decide_freshness(db, NULL, NULL, 0, NULL) == QG_SUCCESS) return 1;
    fprintf(out, "note: cannot tell which entries are stale: %s\n", qg_last_error(NULL));
    return 0;
}

const char *cli_db_stale_reason(const qg_db_entry *e) {
    return e->code_hash[0] ? "code changed" : "timed before code hashes, on other kernel sources";
}

/* Order of entries by class (the fields qg_db_same_class compares), then M bucket. */
static const qg_db *sort_db;
static int cmp_class_m(const void *pa, const void *pb) {
    const qg_db_entry *a = &sort_db->entries[*(const int *)pa],
                      *b = &sort_db->entries[*(const int *)pb];
    const int64_t ka[10] = {
        a->key.scheme,          a->key.n,         a->key.k,         a->key.group_size,
        qg_db_zp_kind(&a->key), a->key.act_dtype, a->key.out_dtype, a->key.weight_scale,
        a->key.act_scale,       a->m_bucket};
    const int64_t kb[10] = {
        b->key.scheme,          b->key.n,         b->key.k,         b->key.group_size,
        qg_db_zp_kind(&b->key), b->key.act_dtype, b->key.out_dtype, b->key.weight_scale,
        b->key.act_scale,       b->m_bucket};
    for (int i = 0; i < 10; i++)
        if (ka[i] != kb[i]) return ka[i] < kb[i] ? -1 : 1;
    return 0;
}

/* Entries slower than a larger M of the same shape (by more than 10%): more rows should never be
 * faster, so a kernel family is missing (or not a candidate) for the smaller M. How the H100
 * database showed the weight-only schemes' M 17-127 gap. Prints the first `show`; returns the
 * count. Sorted by class and M, each entry is compared with the fastest larger M of its class
 * (n log n: databases of 100k entries take a fraction of a second). */
static int report_m_cliffs(const qg_db *db, int show) {
    int count = 0;
    int *order = malloc(sizeof(int) * (size_t)(db->count + 1));
    int *faster = malloc(sizeof(int) * (size_t)(db->count + 1)); /* per entry: the best larger M */
    if (!order || !faster) {
        free(order);
        free(faster);
        fprintf(stderr, "qgemm db: no memory to compare M buckets\n");
        return 0;
    }
    for (int i = 0; i < db->count; i++) order[i] = i;
    sort_db = db;
    qsort(order, (size_t)db->count, sizeof *order, cmp_class_m);
    /* From the largest M down, per class: the fastest entry among strictly larger buckets. */
    for (int hi = db->count; hi > 0;) {
        int lo = hi - 1;
        while (lo > 0 &&
               qg_db_same_class(&db->entries[order[lo - 1]].key, &db->entries[order[hi - 1]].key))
            lo--;
        int best = -1;
        for (int j = hi - 1; j >= lo;) {
            int same_m = j; /* entries of one bucket do not compete with each other */
            while (same_m > lo &&
                   db->entries[order[same_m - 1]].m_bucket == db->entries[order[j]].m_bucket)
                same_m--;
            for (int t = same_m; t <= j; t++) faster[order[t]] = best;
            for (int t = same_m; t <= j; t++) {
                const qg_db_entry *f = &db->entries[order[t]];
                if (f->median_us > 0 && (best < 0 || f->median_us < db->entries[best].median_us))
                    best = order[t];
            }
            j = same_m - 1;
        }
        hi = lo;
    }
    for (int i = 0; i < db->count; i++) {
        const qg_db_entry *e = &db->entries[i];
        const qg_db_entry *best = faster[i] >= 0 ? &db->entries[faster[i]] : NULL;
        if (!best || !(1.1 * best->median_us < e->median_us)) continue;
        if (count++ == 0)
            printf("note: entries slower than a larger M of the same shape (a kernel family is "
                   "missing or not a candidate there):\n");
        if (count <= show)
            printf("  %s N=%lld K=%lld g=%d: M=%lld %.1f us (%s) > M=%lld %.1f us (%s)\n",
                   qg_scheme_name(e->key.scheme), (long long)e->key.n, (long long)e->key.k,
                   (int)e->key.group_size, (long long)e->m_bucket, e->median_us, e->kernel,
                   (long long)best->m_bucket, best->median_us, best->kernel);
    }
    if (count > show) printf("  ... %d in all\n", count);
    free(order);
    free(faster);
    return count;
}

/* Problems with an entry's kernel: 1 if fine, else 0 with a reason. */
int cli_db_entry_ok(const qg_db *db, const qg_db_entry *e, char *why, size_t len);
static int entry_ok(const qg_db *db, const qg_db_entry *e, char *why, size_t len) {
    const qg_variant *v = qg_catalog_find(e->kernel);
    if (!v) {
        snprintf(why, len, "kernel %s is not in this catalog", e->kernel);
        return 0;
    }
    qg_problem p = e->key;
    p.m = e->m_bucket;
    if (qg_problem_validate(&p) != QG_SUCCESS) {
        snprintf(why, len, "%s", qg_last_error(NULL));
        return 0;
    }
    return qg_variant_fits(v, &p, QG_OP_GEMM, db->meta.cc_major * 10 + db->meta.cc_minor, why, len);
}

typedef struct {
    int dropped;
} prune_state;

static int prune_keep(void *user, const qg_db *db, const qg_db_entry *e) {
    char why[512];
    if (entry_ok(db, e, why, sizeof why)) return 1;
    printf("dropped: %s\n", why);
    ((prune_state *)user)->dropped++;
    return 0;
}

/* The catalog kernels (and their helpers) of the entries from before code hashes, one a line:
 * what scripts/restamp_from_commit.sh has an older build compile. */
static int print_legacy_kernels(const qg_db *db) {
    for (int i = 0; i < qg_catalog_count(); i++) {
        const qg_variant *v = qg_catalog_get(i);
        int used = 0;
        for (int j = 0; j < db->count && !used; j++) {
            const qg_variant *k = db->entries[j].code_hash[0]
                                      ? NULL
                                      : qg_catalog_find(db->entries[j].kernel);
            used = k == v || (k && qg_variant_helper(k) == v);
        }
        if (used) printf("%s\n", v->id);
    }
    return 0;
}

/* qgemm db restamp FILE [--images DIR | --kernels] [-o OUT]: the migration to code hashes
 * (qg_db_restamp, qg_db_restamp_from_images). */
static int db_restamp(int argc, char **argv) {
    const char *path = argv[2], *out = argv[2], *images = NULL;
    int kernels = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--images") && i + 1 < argc) images = argv[++i];
        else if (!strcmp(argv[i], "--kernels")) kernels = 1;
        else {
            fprintf(stderr, "qgemm db restamp: bad argument '%s' (see qgemm db --help)\n", argv[i]);
            return 2;
        }
    }
    qg_db *db = open_or_report(path);
    if (!db) return 1;
    if (kernels) {
        print_legacy_kernels(db);
        qg_db_close(db);
        return 0;
    }
    int restamped = 0;
    qg_status s = images ? qg_db_restamp_from_images(db, images, NULL, NULL, 0, &restamped)
                         : qg_db_restamp(db, NULL, NULL, 0, &restamped);
    if (s == QG_SUCCESS) s = qg_db_save(db, out);
    if (s != QG_SUCCESS) {
        fprintf(stderr, "qgemm db restamp: %s\n", qg_last_error(NULL));
        qg_db_close(db);
        return 1;
    }
    const int stale = qg_db_count_stale(db);
    printf("%s: %d of %d entries restamped with their kernel's code hash", out, restamped, db->count);
    if (stale)
        printf("; %d stale (timed on other kernel sources): 'qgemm tune --stale %s' re-times "
               "them",
               stale, out);
    printf("\n");
    qg_db_close(db);
    return 0;
}

int cli_db(int argc, char **argv) {
    if (argc < 2 || cli_wants_help(argc, argv)) {
        db_usage();
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "show") && argc == 3) {
        qg_db *db = open_or_report(argv[2]);
        if (!db) return 1;
        if (cli_json_output) {
            decide_or_note(db, stderr);
            const int rc = cli_json_db_show(argv[2], db);
            qg_db_close(db);
            return rc;
        }
        printf("%s: %s (cc %d.%d, %d SMs), library %s, catalog %s, driver %d, compiler %d, %d entries\n",
               argv[2], db->meta.gpu_name, db->meta.cc_major, db->meta.cc_minor, db->meta.sm_count,
               db->meta.library_version, db->meta.catalog_hash, db->meta.driver_version,
               db->meta.compiler_version, db->count);
        decide_or_note(db, stdout);
        for (int i = 0; i < db->count; i++) print_entry(&db->entries[i]);
        qg_db_close(db);
        return 0;
    }
    const int fresh = argc == 4 && !strcmp(argv[3], "--fresh");
    if (!strcmp(cmd, "validate") && (argc == 3 || fresh)) {
        qg_db *db = open_or_report(argv[2]);
        if (!db) return 1;
        const int decided = decide_or_note(db, cli_json_output ? stderr : stdout);
        if (cli_json_output) {
            const int rc = cli_json_db_validate(argv[2], db, fresh, decided);
            qg_db_close(db);
            return rc;
        }
        int bad = 0;
        char why[512];
        for (int i = 0; i < db->count; i++) {
            if (!entry_ok(db, &db->entries[i], why, sizeof why)) {
                printf("error: entry %d: %s\n", i, why);
                bad++;
            }
        }
        if (strcmp(db->meta.library_version, QG_VERSION_STRING))
            printf("note: made by library %s, this is %s\n", db->meta.library_version,
                   QG_VERSION_STRING);
        const int stale = qg_db_count_stale(db);
        for (int i = 0; fresh && i < db->count; i++) {
            const qg_db_entry *e = &db->entries[i];
            if (e->verdict == QG_VERDICT_STALE)
                printf("stale: %s N=%lld K=%lld g=%d M=%lld %s (%s)\n", qg_scheme_name(e->key.scheme),
                       (long long)e->key.n, (long long)e->key.k, (int)e->key.group_size,
                       (long long)e->m_bucket, e->kernel, cli_db_stale_reason(e));
        }
        if (stale) {
            printf("note: %d entries are stale (timed on other code than their kernels compile to "
                   "in this build): dispatch skips them; 'qgemm tune --stale %s' re-times them\n ",
                   stale, argv[2]);
            int per[QG_SCHEME_COUNT_] = {0};
            for (int i = 0; i < db->count; i++)
                if (!qg_db_entry_current(&db->entries[i]) &&
                    (unsigned)db->entries[i].key.scheme < QG_SCHEME_COUNT_)
                    per[db->entries[i].key.scheme]++;
            for (int sc = 0; sc < QG_SCHEME_COUNT_; sc++)
                if (per[sc]) printf(" %s %d", qg_scheme_name((qg_scheme)sc), per[sc]);
            printf("\n");
        }
        report_m_cliffs(db, 12);
        printf("%s: %d entries, %d errors\n", argv[2], db->count, bad);
        qg_db_close(db);
        return bad || (fresh && (stale || !decided)) ? 1 : 0;
    }
    if (!strcmp(cmd, "restamp") && argc >= 3) return db_restamp(argc, argv);
    if (!strcmp(cmd, "merge")) {
        const char *out = NULL;
        const char **in = malloc(sizeof(char *) * (size_t)argc); /* no limit on the inputs */
        int n = 0;
        for (int i = 2; in && i < argc; i++) {
            if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
            else in[n++] = argv[i];
        }
        if (!in || !out || n < 1) {
            fprintf(stderr, "qgemm db merge: need inputs and -o OUT\n");
            free(in);
            return 2;
        }
        qg_db *acc = NULL;
        for (int i = 0; i < n; i++) {
            qg_db *db = open_or_report(in[i]);
            if (!db) {
                qg_db_close(acc);
                free(in);
                return 1;
            }
            if (!acc) {
                acc = db;
                continue;
            }
            if (strcmp(db->meta.gpu_name, acc->meta.gpu_name)) {
                fprintf(stderr, "qgemm db merge: %s is for '%s', %s for '%s'\n", in[i],
                        db->meta.gpu_name, in[0], acc->meta.gpu_name);
                qg_db_close(db);
                qg_db_close(acc);
                free(in);
                return 1;
            }
            qg_status ps = QG_SUCCESS;
            for (int j = 0; j < db->count && ps == QG_SUCCESS; j++) {
                const qg_db_entry *e = &db->entries[j];
                const qg_db_entry *mine = qg_db_find(acc, &e->key, e->m_bucket);
                if (!mine || strcmp(e->tuned_at, mine->tuned_at) > 0) ps = qg_db_put(acc, e);
            }
            qg_db_close(db);
            if (ps != QG_SUCCESS) {
                fprintf(stderr, "qgemm db merge: %s\n", qg_last_error(NULL));
                qg_db_close(acc);
                free(in);
                return 1;
            }
        }
        free(in);
        qg_status s = qg_db_save(acc, out);
        if (s != QG_SUCCESS) fprintf(stderr, "qgemm db merge: %s\n", qg_last_error(NULL));
        else printf("%s: %d entries from %d files\n", out, acc->count, n);
        qg_db_close(acc);
        return s ? 1 : 0;
    }
    if (!strcmp(cmd, "prune") && (argc == 3 || (argc == 5 && !strcmp(argv[3], "-o")))) {
        qg_db *db = open_or_report(argv[2]);
        if (!db) return 1;
        /* Saved like every save (lock, merge with the file on disk, temporary file, rename): the
         * entries a tuner saved meanwhile are kept, or dropped by the same rule. */
        const char *out = argc == 5 ? argv[4] : argv[2];
        const int before = db->count;
        prune_state ps = {0};
        qg_status s = qg_db_save_filtered(db, out, prune_keep, &ps);
        if (s != QG_SUCCESS)
            fprintf(stderr, "qgemm db prune: %s (nothing written)\n", qg_last_error(NULL));
        else
            printf("%s: kept %d, dropped %d (of %d read, %d merged from disk)\n", out, db->count,
                   ps.dropped, before, db->count + ps.dropped - before);
        qg_db_close(db);
        return s ? 1 : 0;
    }
    fprintf(stderr, "qgemm db: bad arguments (see qgemm db --help)\n");
    return 2;
}

int cli_explain(int argc, char **argv) {
    qg_problem p;
    qg_problem_init(&p);
    const char *dbpath = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: qgemm explain --scheme S --n N --k K --m M [--group G] [--zero-point 0|1|2]\n"
                   "                     [--act bf16|f16] [--out bf16|f16] [--db FILE] [--json]\n\n"
                   "Prints the kernel dispatch picks on this GPU for the problem and which level of\n"
                   "the lookup cascade answered (exact, m-bucket, nearest-shape, heuristic).\n");
            return 0;
        }
        if (!v) {
            fprintf(stderr, "qgemm explain: %s needs a value\n", a);
            return 2;
        }
        i++;
        long long x = 0;
        const long long dim_max = 2147483647; /* qg_problem_validate's bound */
        if (!strcmp(a, "--scheme")) {
            if (qg_scheme_from_name(v, &p.scheme) != QG_SUCCESS) {
                fprintf(stderr, "%s\n", qg_last_error(NULL));
                return 2;
            }
        } else if (!strcmp(a, "--n") || !strcmp(a, "--k") || !strcmp(a, "--m") ||
                   !strcmp(a, "--group") || !strcmp(a, "--zero-point")) {
            const int zp = !strcmp(a, "--zero-point");
            if (!cli_parse_int(v, zp || !strcmp(a, "--group") ? 0 : 1, zp ? 2 : dim_max, &x)) {
                fprintf(stderr, "qgemm explain: bad %s '%s' (want %s)\n", a, v,
                        zp ? "0, 1 or 2 (float)" : "an integer from 0 or 1 to 2^31-1");
                return 2;
            }
            if (!strcmp(a, "--n")) p.n = x;
            else if (!strcmp(a, "--k")) p.k = x;
            else if (!strcmp(a, "--m")) p.m = x;
            else if (!strcmp(a, "--group")) p.group_size = (int32_t)x;
            else p.has_zero_point = (int32_t)x;
        } else if (!strcmp(a, "--act") || !strcmp(a, "--out")) {
            if (strcmp(v, "bf16") && strcmp(v, "f16")) {
                fprintf(stderr,
                        "qgemm explain: bad %s '%s' (bf16 or f16: the 16-bit activation "
                        "and output types; 8-bit activations are quantized inside the call)\n",
                        a, v);
                return 2;
            }
            *(!strcmp(a, "--act") ? &p.act_dtype : &p.out_dtype) = strcmp(v, "f16") ? QG_DTYPE_BF16
                                                                                    : QG_DTYPE_F16;
        } else if (!strcmp(a, "--db")) dbpath = v;
        else {
            fprintf(stderr, "qgemm explain: unknown option '%s'\n", a);
            return 2;
        }
    }
    if (p.scheme != QG_SCHEME_W4A16 && p.scheme != QG_SCHEME_W4A8_FP8 &&
        p.scheme != QG_SCHEME_W4A8_INT8)
        p.group_size = 0;
    if (qg_problem_validate(&p) != QG_SUCCESS) {
        fprintf(stderr, "qgemm explain: %s\n", qg_last_error(NULL));
        return 2;
    }
    qg_context_params cp;
    qg_context_params_init(&cp);
    cp.tuning_db = dbpath;
    qg_context *ctx;
    if (qg_context_create(&ctx, &cp) != QG_SUCCESS) {
        fprintf(stderr, "qgemm explain: no GPU: %s\n", qg_last_error(NULL));
        return 1;
    }
    if (cli_json_output) {
        const int rc = cli_json_explain(ctx, &p);
        qg_context_destroy(ctx);
        return rc;
    }
    char buf[512];
    qg_status s = qg_explain(ctx, &p, buf, sizeof buf);
    if (s == QG_SUCCESS) printf("%s\n", buf);
    else fprintf(stderr, "qgemm explain: %s\n", qg_last_error(ctx));
    qg_context_destroy(ctx);
    return s ? 1 : 0;
}

int cli_db_entry_ok(const qg_db *db, const qg_db_entry *e, char *why, size_t len) {
    return entry_ok(db, e, why, len);
}
