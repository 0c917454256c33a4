/* qgemm db show|validate|merge|prune, and qgemm explain. */
#include "cli.h"

#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void db_usage(void) {
    printf("usage: qgemm db show FILE [--json]\n"
           "       qgemm db validate FILE [--json]\n"
           "       qgemm db merge A B [C...] -o OUT\n"
           "       qgemm db prune FILE [-o OUT]\n\n"
           "show      prints the metadata and one line per entry\n"
           "validate  checks the schema, that every kernel id is in this library's catalog and\n"
           "          fits its problem, and reports metadata that differs from this build;\n"
           "          exit 1 on any error\n"
           "merge     joins databases of one GPU model (for one key the most recently tuned\n"
           "          entry wins), e.g. the shards of a multi-machine tune\n"
           "prune     drops entries whose kernel is not in this catalog or does not fit\n");
}

static qg_db *open_or_report(const char *path) {
    qg_db *db;
    if (qg_db_open(&db, path, NULL) != QG_SUCCESS) {
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
    if (!qg_db_entry_current(e))
        printf("    (timed against kernels %s; this build's %s kernels: %s)\n", e->catalog_hash,
               qg_scheme_name(e->key.scheme), qg_catalog_hash_scheme(e->key.scheme));
}

/* Entries slower than a larger M of the same shape (by more than 10%): more rows should never be
 * faster, so a kernel family is missing (or not a candidate) for the smaller M. How the H100
 * database showed the weight-only schemes' M 17-127 gap. Prints the first `show`; returns the
 * count. */
static int report_m_cliffs(const qg_db *db, int show) {
    int count = 0;
    for (int i = 0; i < db->count; i++) {
        const qg_db_entry *e = &db->entries[i], *best = NULL;
        for (int j = 0; j < db->count; j++) {
            const qg_db_entry *f = &db->entries[j];
            if (f->m_bucket > e->m_bucket && f->median_us > 0 && 1.1 * f->median_us < e->median_us &&
                qg_db_same_class(&f->key, &e->key) && (!best || f->median_us < best->median_us))
                best = f;
        }
        if (!best) continue;
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
            const int rc = cli_json_db_show(argv[2], db);
            qg_db_close(db);
            return rc;
        }
        printf("%s: %s (cc %d.%d, %d SMs), library %s, catalog %s, driver %d, compiler %d, %d entries\n",
               argv[2], db->meta.gpu_name, db->meta.cc_major, db->meta.cc_minor, db->meta.sm_count,
               db->meta.library_version, db->meta.catalog_hash, db->meta.driver_version,
               db->meta.compiler_version, db->count);
        for (int i = 0; i < db->count; i++) print_entry(&db->entries[i]);
        qg_db_close(db);
        return 0;
    }
    if (!strcmp(cmd, "validate") && argc == 3) {
        qg_db *db = open_or_report(argv[2]);
        if (!db) return 1;
        if (cli_json_output) {
            const int rc = cli_json_db_validate(argv[2], db);
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
            printf("note: made by library %s, this is %s\n", db->meta.library_version, QG_VERSION_STRING);
        const int stale = qg_db_count_stale(db);
        if (stale) {
            printf("note: %d entries were timed against other kernels than this build's for "
                   "their scheme (kernels changed since): 'qgemm tune --stale %s' re-times them\n ",
                   stale, argv[2]);
            int per[QG_SCHEME_COUNT_] = {0};
            for (int i = 0; i < db->count; i++)
                if (!qg_db_entry_current(&db->entries[i]) && (unsigned)db->entries[i].key.scheme < QG_SCHEME_COUNT_)
                    per[db->entries[i].key.scheme]++;
            for (int sc = 0; sc < QG_SCHEME_COUNT_; sc++)
                if (per[sc]) printf(" %s %d", qg_scheme_name((qg_scheme)sc), per[sc]);
            printf("\n");
        }
        report_m_cliffs(db, 12);
        printf("%s: %d entries, %d errors\n", argv[2], db->count, bad);
        qg_db_close(db);
        return bad ? 1 : 0;
    }
    if (!strcmp(cmd, "merge")) {
        const char *out = NULL;
        const char *in[64];
        int n = 0;
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
            else if (n < 64) in[n++] = argv[i];
        }
        if (!out || n < 1) {
            fprintf(stderr, "qgemm db merge: need inputs and -o OUT\n");
            return 2;
        }
        qg_db *acc = NULL;
        for (int i = 0; i < n; i++) {
            qg_db *db = open_or_report(in[i]);
            if (!db) {
                qg_db_close(acc);
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
                return 1;
            }
            for (int j = 0; j < db->count; j++) {
                const qg_db_entry *e = &db->entries[j];
                const qg_db_entry *mine = qg_db_find(acc, &e->key, e->m_bucket);
                if (!mine || strcmp(e->tuned_at, mine->tuned_at) > 0) qg_db_put(acc, e);
            }
            qg_db_close(db);
        }
        qg_status s = qg_db_save(acc, out);
        if (s != QG_SUCCESS) fprintf(stderr, "qgemm db merge: %s\n", qg_last_error(NULL));
        else printf("%s: %d entries from %d files\n", out, acc->count, n);
        qg_db_close(acc);
        return s ? 1 : 0;
    }
    if (!strcmp(cmd, "prune") && (argc == 3 || (argc == 5 && !strcmp(argv[3], "-o")))) {
        qg_db *db = open_or_report(argv[2]);
        if (!db) return 1;
        int kept = 0;
        char why[512];
        for (int i = 0; i < db->count; i++) {
            if (entry_ok(db, &db->entries[i], why, sizeof why)) db->entries[kept++] = db->entries[i];
            else printf("dropped: %s\n", why);
        }
        int dropped = db->count - kept;
        db->count = kept;
        /* Write the pruned set as is (no merge with the file we are pruning). */
        const char *out = argc == 5 ? argv[4] : argv[2];
        char *json = qg_db_to_json(db);
        FILE *f = json ? fopen(out, "w") : NULL;
        int ok = f && fputs(json, f) >= 0 && fputc('\n', f) != EOF;
        if (f) ok &= fclose(f) == 0;
        free(json);
        printf("%s: kept %d, dropped %d\n", out, kept, dropped);
        qg_db_close(db);
        return ok ? 0 : 1;
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
            printf("usage: qgemm explain --scheme S --n N --k K --m M [--group G] [--zero-point 0|1]\n"
                   "                     [--act bf16|f16] [--out bf16|f16] [--db FILE] [--json]\n\n"
                   "Prints the kernel dispatch picks on this GPU for the problem and which level of\n"
                   "the lookup cascade answered (exact, m-bucket, nearest-shape, heuristic).\n");
            return 0;
        }
        if (!v) { fprintf(stderr, "qgemm explain: %s needs a value\n", a); return 2; }
        i++;
        if (!strcmp(a, "--scheme")) {
            if (qg_scheme_from_name(v, &p.scheme) != QG_SUCCESS) { fprintf(stderr, "%s\n", qg_last_error(NULL)); return 2; }
        } else if (!strcmp(a, "--n")) p.n = atoll(v);
        else if (!strcmp(a, "--k")) p.k = atoll(v);
        else if (!strcmp(a, "--m")) p.m = atoll(v);
        else if (!strcmp(a, "--group")) p.group_size = atoi(v);
        else if (!strcmp(a, "--zero-point")) p.has_zero_point = atoi(v);
        else if (!strcmp(a, "--act")) p.act_dtype = strcmp(v, "f16") ? QG_DTYPE_BF16 : QG_DTYPE_F16;
        else if (!strcmp(a, "--out")) p.out_dtype = strcmp(v, "f16") ? QG_DTYPE_BF16 : QG_DTYPE_F16;
        else if (!strcmp(a, "--db")) dbpath = v;
        else { fprintf(stderr, "qgemm explain: unknown option '%s'\n", a); return 2; }
    }
    if (p.scheme != QG_SCHEME_W4A16 && p.scheme != QG_SCHEME_W4A8_FP8 && p.scheme != QG_SCHEME_W4A8_INT8)
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
