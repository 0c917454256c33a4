/* qgemm tune: derive a model's linear shapes, tune every scheme x shape x M on the GPU(s),
 * merge the winners into a database file. */
#include "cli.h"
#include "models.h"

#include "db.h"
#include "tune.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROBLEMS 4096
#define MAX_M 64

typedef struct {
    qg_problem p; /* class; m unused */
    char label[48];
    int64_t ms[MAX_M];
    int nm;
} tune_item;

/* Every prefix of --kernels names at least one catalog kernel (a typo would time nothing new). */
static int kernels_valid(const char *list) {
    char buf[1024];
    if (!*list || strlen(list) >= sizeof buf) {
        fprintf(stderr, "qgemm tune: bad --kernels '%.64s' (want 1 to 1023 characters)\n", list);
        return 0;
    }
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int hit = 0;
        for (int i = 0; i < qg_catalog_count() && !hit; i++)
            hit = strncmp(qg_catalog_get(i)->id, tok, strlen(tok)) == 0;
        if (!hit) {
            fprintf(stderr,
                    "qgemm tune: --kernels: no catalog kernel starts with '%s' (see qgemm list)\n",
                    tok);
            return 0;
        }
    }
    if (strstr(list, ",,") || list[0] == ',' || list[strlen(list) - 1] == ',') {
        fprintf(stderr, "qgemm tune: bad --kernels '%s' (an empty prefix)\n", list);
        return 0;
    }
    return 1;
}

static void usage(void) {
    printf("usage: qgemm tune (--model NAME | --hf-config config.json | --from-record FILE |\n"
           "                   --stale DB) [--tp N[,N...]] [--schemes LIST] [--m LIST] [-o DB]\n"
           "                  [--devices 0,1,...] [--shard I/N] [--retune] [--budget SEC]\n"
           "                  [--run-budget SEC] [--samples N] [--kernels LIST] [--list]\n"
           "                  [--verbose]\n\n"
           "Times every catalog kernel that fits each linear layer of the model for each M and\n"
           "stores the fastest correct one in the database DB (merged under a file lock with\n"
           "what is already there; entries already tuned on this GPU with this build's kernels\n"
           "for their scheme are skipped unless --retune).\n\n"
           "  --model NAME       built-in shapes: %s\n"
           "  --hf-config FILE   derive shapes from a Hugging Face config.json (q/k/v fused, o,\n"
           "                     gate/up fused, down)\n"
           "  --from-record FILE tune the problems a serving process recorded with\n"
           "                     QGEMM_RECORD_UNTUNED=FILE\n"
           "  --stale DB         re-time the entries of DB timed on other code than their kernels\n"
           "                     compile to in this build (compiles them; 'qgemm db validate'\n"
           "                     counts them), into DB itself unless -o is given; with --schemes,\n"
           "                     only theirs\n"
           "  --list             print the problems and M values this run would tune, and exit\n"
           "                     (no GPU needed)\n"
           "  --tp N[,N]         tensor-parallel degrees to split shapes for (default 1)\n"
           "  --schemes LIST     comma-separated (default w4a16,w8a8-fp8); all: w4a16, w8a16,\n"
           "                     w8a8-int8, w8a8-fp8, w4a8-fp8, w4a8-int8, sp24-fp8, sp24-int8,\n"
           "                     sp24-bf16\n"
           "  --m LIST           M values (default: 1,2,4,8,16,24,32,48,64,96,128,192,256,384,\n"
           "                     512,1024,2048,4096,8192,16384)\n"
           "  -o DB              database file (default qgemm-tuning-<gpu>.json)\n"
           "  --devices LIST     one worker process per listed GPU, sharing the work\n"
           "  --shard I/N        only the I-th of N slices of the work (I from 0), e.g. one per\n"
           "                     machine of a Slurm array; join the files with 'qgemm db merge'\n"
           "  --budget SEC       time budget per problem (default 30)\n"
           "  --kernels LIST     comma-separated kernel id prefixes (qgemm list): a problem that\n"
           "                     has an entry times only the matching kernels and the entry's\n"
           "                     own, in one run, and keeps the faster (a new kernel against\n"
           "                     the current pick, without re-timing the whole catalog); a\n"
           "                     problem without one is tuned over every kernel\n"
           "  --run-budget SEC   time budget for the whole run: no problem starts after it; what\n"
           "                     finished is saved and the same command later goes on from there\n"
           "                     (exit status 4 when problems were left)\n\n"
           "Exit status: 0 all tuned, 1 error, 2 bad usage, 3 some candidates were wrong (reported,\n"
           "never stored), 4 the run budget left problems untuned.\n",
           model_builtin_names());
}

/* Problem-class defaults per scheme (torchao's config defaults). */
static void class_for(qg_scheme s, qg_problem *p) {
    qg_problem_init(p);
    p->scheme = s;
    p->group_size = s == QG_SCHEME_W4A8_INT8 ? 32 : 128;
    p->has_zero_point = s == QG_SCHEME_W4A16;
    if (s == QG_SCHEME_W8A16 || s == QG_SCHEME_W8A8_INT8 || s == QG_SCHEME_W8A8_FP8 ||
        s == QG_SCHEME_SP24_FP8 || s == QG_SCHEME_SP24_INT8 || s == QG_SCHEME_SP24_BF16)
        p->group_size = 0;
}

/* Comma-separated integers in [lo, hi], at most max of them: the count, or -1 (and a message
 * naming the option) when one is bad or there are more than max. */
static int parse_list_i64(const char *opt, const char *s, int64_t *out, int max, long long lo,
                          long long hi) {
    int n = 0;
    for (const char *p = s;;) {
        const char *comma = strchr(p, ',');
        const size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[32];
        long long v;
        if (n == max) {
            fprintf(stderr, "qgemm tune: %s takes at most %d values\n", opt, max);
            return -1;
        }
        snprintf(item, sizeof item, "%.*s", (int)len, p);
        if (len >= sizeof item || !cli_parse_int(item, lo, hi, &v)) {
            fprintf(stderr,
                    "qgemm tune: bad %s value '%.*s' in '%s' (want integers from %lld to %lld)\n",
                    opt, (int)len, p, s, lo, hi);
            return -1;
        }
        out[n++] = v;
        if (!comma) return n;
        p = comma + 1;
    }
}

/* Add problem class p with M value m to items (n of them, at most max): 0, or a message (with
 * `where`) and -1 when that would take more than max classes or MAX_M M values for one. */
static int add_problem(tune_item *items, int *n, int max, const qg_problem *p, int64_t m,
                       const char *label, const char *where) {
    int found = -1;
    for (int i = 0; i < *n && found < 0; i++)
        if (qg_db_same_class(&items[i].p, p)) found = i;
    if (found < 0) {
        if (*n == max) {
            fprintf(stderr, "qgemm tune: %s: more than %d problem shapes\n", where, max);
            return -1;
        }
        found = (*n)++;
        items[found].p = *p;
        items[found].nm = 0;
        snprintf(items[found].label, sizeof items[found].label, "%s", label);
    }
    tune_item *it = &items[found];
    for (int i = 0; i < it->nm; i++)
        if (it->ms[i] == m) return 0;
    if (it->nm == MAX_M) {
        fprintf(stderr, "qgemm tune: %s: more than %d M values for one shape\n", where, MAX_M);
        return -1;
    }
    it->ms[it->nm++] = m;
    return 0;
}

/* One line of a QGEMM_RECORD_UNTUNED file (dispatch.c writes them) as a problem: 1, or 0
 * and why (the field) when it is not a JSON object with every field an integer in range or the
 * problem does not validate. */
static int record_parse_line(const char *line, size_t len, qg_problem *p, char *why, size_t why_len) {
    size_t bad_at;
    cJSON *o = qg_json_parse_exact(line, len, &bad_at);
    qg_problem_init(p);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "scheme");
    int ok = cJSON_IsObject(o);
    if (!ok) snprintf(why, why_len, "not a JSON object");
    else if (!cJSON_IsString(v) || qg_scheme_from_name(v->valuestring, &p->scheme) != QG_SUCCESS)
        snprintf(why, why_len, "scheme missing or unknown"), ok = 0;
    static const char *const keys[9] = {"n",          "k",         "m",         "group_size",
                                        "zero_point", "act_dtype", "out_dtype", "weight_scale",
                                        "act_scale"};
    const double hi[9] = {2147483647.0,
                          2147483647.0,
                          2147483647.0,
                          2147483647.0,
                          2, /* zero-point kind: none, integer, float */
                          QG_DTYPE_COUNT_ - 1,
                          QG_DTYPE_COUNT_ - 1,
                          2,
                          2};
    int64_t x[9] = {0};
    for (int j = 0; j < 9 && ok; j++) {
        v = cJSON_GetObjectItemCaseSensitive(o, keys[j]);
        const double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        if (!(d >= 0 && d <= hi[j]) || d != floor(d)) {
            snprintf(why, why_len, "%s missing or not an integer in [0, %.0f]", keys[j], hi[j]);
            ok = 0;
        } else {
            x[j] = (int64_t)d;
        }
    }
    cJSON_Delete(o);
    if (!ok) return 0;
    p->n = x[0], p->k = x[1], p->m = x[2];
    p->group_size = (int32_t)x[3], p->has_zero_point = (int32_t)x[4];
    p->act_dtype = (qg_dtype)x[5], p->out_dtype = (qg_dtype)x[6];
    p->weight_scale = (qg_scale_granularity)x[7], p->act_scale = (qg_scale_granularity)x[8];
    if (qg_problem_validate(p) != QG_SUCCESS) {
        snprintf(why, why_len, "%s", qg_last_error(NULL));
        return 0;
    }
    return 1;
}

/* The problems of a record file, grouped by class with their M values. -1 (with a message
 * naming the file and line) on a bad line or more than max classes or MAX_M M values. */
static int load_record(const char *path, tune_item *items, int max) {
    char *text;
    size_t len;
    if (qg_read_regular_file(path, (size_t)64 << 20, &text, &len) != QG_SUCCESS) {
        fprintf(stderr, "qgemm tune: %s\n", qg_last_error(NULL));
        return -1;
    }
    int n = 0, lineno = 0, rc = 0;
    for (const char *line = text; rc == 0 && line < text + len;) {
        const char *nl = memchr(line, '\n', (size_t)(text + len - line));
        const size_t l = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        const char *next = nl ? nl + 1 : text + len;
        lineno++;
        size_t blank = 0;
        while (blank < l && (line[blank] == ' ' || line[blank] == '\t' || line[blank] == '\r'))
            blank++;
        qg_problem p;
        char why[400];
        if (blank == l) { /* empty line */
        } else if (!record_parse_line(line, l, &p, why, sizeof why)) {
            if (!nl) { /* a recorder stopped mid-line: the complete lines still count */
                fprintf(stderr, "qgemm tune: %s:%d: incomplete last line skipped (%s)\n", path,
                        lineno, why);
            } else {
                fprintf(stderr, "qgemm tune: %s:%d: %s\n", path, lineno, why);
                rc = -1;
            }
        } else {
            char where[300];
            snprintf(where, sizeof where, "%s:%d", path, lineno);
            rc = add_problem(items, &n, max, &p, p.m, "recorded", where);
        }
        line = next;
    }
    free(text);
    return rc < 0 ? -1 : n;
}

/* The stale entries of database `path` as problems (class and M buckets), in file order; only
 * those of the schemes in scheme_mask (bit per qg_scheme) unless it is 0. */
static int load_stale(const char *path, unsigned scheme_mask, tune_item *items, int max) {
    qg_db *db; /* a database that does not exist has nothing stale: a typo */
    if (qg_db_open_existing(&db, path) != QG_SUCCESS) {
        fprintf(stderr, "qgemm tune: %s\n", qg_last_error(NULL));
        return -1;
    }
    if (qg_db_decide_freshness(db, NULL, NULL, 0, NULL) != QG_SUCCESS) { /* compiles its kernels */
        fprintf(stderr, "qgemm tune: which entries of %s are stale: %s\n", path, qg_last_error(NULL));
        qg_db_close(db);
        return -1;
    }
    int n = 0;
    for (int e = 0; e < db->count; e++) {
        const qg_db_entry *en = &db->entries[e];
        if (qg_db_entry_current(en)) continue;
        if (scheme_mask && !(scheme_mask & (1u << en->key.scheme))) continue;
        if (add_problem(items, &n, max, &en->key, en->m_bucket, "stale", path) != 0) {
            n = -1;
            break;
        }
    }
    qg_db_close(db);
    return n;
}

/* --list: one line per problem class with its M values. */
static void list_items(const tune_item *items, int n) {
    int problems = 0;
    for (int i = 0; i < n; i++) {
        const qg_problem *p = &items[i].p;
        printf("%-9s N=%-6lld K=%-6lld g=%-3d zp=%d %-10s M=", qg_scheme_name(p->scheme),
               (long long)p->n, (long long)p->k, p->group_size, p->has_zero_point, items[i].label);
        for (int j = 0; j < items[i].nm; j++)
            printf("%s%lld", j ? "," : "", (long long)items[i].ms[j]);
        printf("\n");
        problems += items[i].nm;
    }
    printf("%d shapes, %d problems\n", n, problems);
}

typedef struct {
    double t0;
    int worker;
} progress_state;

static void progress(void *user, int done, int total, const char *line) {
    progress_state *ps = user;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    double el = (double)t.tv_sec + 1e-9 * (double)t.tv_nsec - ps->t0;
    double eta = done > 0 ? el / done * (total - done) : 0;
    printf("[w%d %d/%d %.0fs, ETA %.0fs] %s\n", ps->worker, done, total, el, eta, line);
    fflush(stdout);
}

/* Whether items[i] is worker `rank`'s (of `ranks` on this machine) in shard shard_i of shard_n:
 * the shard first (i % shard_n), then the workers within it, so that a shard is the same work
 * whatever number of GPUs each machine brings to it. */
static int in_slice(int i, int shard_i, int shard_n, int rank, int ranks) {
    return i % shard_n == shard_i && (i / shard_n) % ranks == rank;
}

/* qgemm-tuning-<gpu slug>.json, the database file when no -o is given. */
static void default_db_path(const qg_device_info *info, char *out, size_t len) {
    char slug[256];
    size_t j = 0;
    for (size_t i = 0; info->name[i] && j + 1 < sizeof slug; i++) {
        char c = info->name[i];
        slug[j++] = (c >= 'A' && c <= 'Z')                               ? (char)(c + 32)
                    : ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? c
                                                                         : '-';
    }
    slug[j] = 0;
    snprintf(out, len, "qgemm-tuning-%s.json", slug);
}

/* One worker: open a context on `device`, tune the items of its slice (in_slice) into out_path
 * (NULL: the default file for this device). */
static int run_worker(int device, const char *out_path, tune_item *items, int n, int shard_i,
                      int shard_n, int rank, int ranks, const qg_tune_options *o) {
    qg_context_params cp;
    qg_context_params_init(&cp);
    cp.device = device;
    cp.tuning_db = ""; /* dispatch is not used while tuning */
    qg_context *ctx;
    if (qg_context_create(&ctx, &cp) != QG_SUCCESS) {
        fprintf(stderr, "qgemm tune: device %d: %s\n", device, qg_last_error(NULL));
        return 1;
    }
    qg_device_info info;
    qg_context_device_info(ctx, &info);
    char own_path[300];
    if (!out_path) {
        default_db_path(&info, own_path, sizeof own_path);
        out_path = own_path;
    }
    qg_db *db;
    if (qg_db_open(&db, out_path, &info) != QG_SUCCESS) {
        fprintf(stderr, "qgemm tune: %s\n", qg_last_error(NULL));
        qg_context_destroy(ctx);
        return 1;
    }
    const int stale = qg_db_begin_tuning(db, &info);
    if (stale && !o->retune)
        printf("[w%d] %s: %d of its %d entries are stale (timed on other code than their kernels "
               "compile to in this build); those this run covers are re-timed\n",
               device, out_path, stale, db->count);
    int total = 0;
    for (int i = 0; i < n; i++)
        if (in_slice(i, shard_i, shard_n, rank, ranks)) total += items[i].nm;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    progress_state ps = {(double)t.tv_sec + 1e-9 * (double)t.tv_nsec, device};
    printf("[w%d] %s: %d problems (shape x M) to tune into %s\n", device, info.name, total, out_path);
    fflush(stdout);
    qg_tune_stats st = {0};
    int done = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        if (!in_slice(i, shard_i, shard_n, rank, ranks)) continue;
        qg_status s = qg_tune_shape(ctx, db, &items[i].p, items[i].ms, items[i].nm, o, progress,
                                    &ps, done, total, &st);
        done += items[i].nm;
        if (s != QG_SUCCESS) {
            fprintf(stderr, "qgemm tune: %s %s: %s\n", qg_scheme_name(items[i].p.scheme),
                    items[i].label, qg_last_error(ctx));
            rc = 1;
            if (s == QG_ERR_LAUNCH || s == QG_ERR_DEVICE) break;
        }
        /* Save after every shape so an interrupted run keeps what it found. */
        if (qg_db_save(db, NULL) != QG_SUCCESS) {
            fprintf(stderr, "qgemm tune: %s\n", qg_last_error(NULL));
            rc = 1;
            break;
        }
    }
    printf("[w%d] tuned %d, skipped %d (already in the database); candidates %d: %d wrong, "
           "%d dropped early, %d failed to compile\n",
           device, st.tuned, st.skipped, st.candidates, st.wrong, st.dropped, st.failed);
    if (st.left)
        printf("[w%d] run budget spent: %d problems left untuned; the same command goes on from "
               "here (tuned problems are skipped)\n",
               device, st.left);
    qg_db_close(db);
    qg_context_destroy(ctx);
    return rc ? rc : st.wrong ? 3 : st.left ? 4 : 0;
}

int cli_tune(int argc, char **argv) {
    const char *model = NULL, *hf = NULL, *record = NULL, *stale_db = NULL, *out = NULL;
    int list = 0;
    const char *schemes = "w4a16,w8a8-fp8";
    int schemes_given = 0;
    int64_t tps[8] = {1}, ms[MAX_M];
    int ntp = 1, nm = 0, shard_i = 0, shard_n = 1;
    int devices[16], ndev = 0;
    qg_tune_options o;
    qg_tune_options_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            return 0;
        }
        if (!strcmp(a, "--retune")) {
            o.retune = 1;
            continue;
        }
        if (!strcmp(a, "--list")) {
            list = 1;
            continue;
        }
        if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            o.verbose = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "qgemm tune: %s needs a value (see --help)\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--hf-config")) hf = v;
        else if (!strcmp(a, "--from-record")) record = v;
        else if (!strcmp(a, "--stale")) stale_db = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
        else if (!strcmp(a, "--schemes")) schemes = v, schemes_given = 1;
        else if (!strcmp(a, "--kernels")) {
            if (!kernels_valid(v)) return 2;
            o.kernels = v;
        } else if (!strcmp(a, "--budget")) {
            if (!cli_parse_seconds(v, 0, 1e9, &o.budget_s)) {
                fprintf(stderr, "qgemm tune: bad --budget '%s' (want seconds > 0)\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--run-budget")) {
            double sec;
            if (!cli_parse_seconds(v, 0, 1e9, &sec)) {
                fprintf(stderr, "qgemm tune: bad --run-budget '%s' (want seconds > 0)\n", v);
                return 2;
            }
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            o.deadline_s = (double)t.tv_sec + 1e-9 * (double)t.tv_nsec + sec;
        } else if (!strcmp(a, "--samples")) {
            long long x;
            if (!cli_parse_int(v, 1, 100000, &x)) {
                fprintf(stderr,
                        "qgemm tune: bad --samples '%s' (want an integer from 1 to 100000)\n", v);
                return 2;
            }
            o.samples = (int)x;
        } else if (!strcmp(a, "--tp")) {
            if ((ntp = parse_list_i64("--tp", v, tps, 8, 1, 4096)) < 0) return 2;
        } else if (!strcmp(a, "--m")) {
            if ((nm = parse_list_i64("--m", v, ms, MAX_M, 1, 2147483647)) < 0) return 2;
        } else if (!strcmp(a, "--shard")) {
            const char *slash = strchr(v, '/');
            char first[32] = "";
            long long si, sn;
            if (slash) snprintf(first, sizeof first, "%.*s", (int)(slash - v), v);
            if (!slash || slash - v >= (long)sizeof first || !cli_parse_int(first, 0, INT_MAX, &si) ||
                !cli_parse_int(slash + 1, 1, 1 << 20, &sn) || si >= sn) {
                fprintf(stderr, "qgemm tune: bad --shard '%s' (want I/N with 0 <= I < N)\n", v);
                return 2;
            }
            shard_i = (int)si, shard_n = (int)sn;
        } else if (!strcmp(a, "--devices")) {
            int64_t d[16];
            if ((ndev = parse_list_i64("--devices", v, d, 16, 0, 1023)) < 0) return 2;
            for (int j = 0; j < ndev; j++) devices[j] = (int)d[j];
        } else {
            fprintf(stderr, "qgemm tune: unknown option '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (strlen(schemes) >= 256) { /* the lists below hold 255 characters */
        fprintf(stderr, "qgemm tune: --schemes is longer than 255 characters\n");
        return 2;
    }
    if (!!model + !!hf + !!record + !!stale_db != 1) {
        fprintf(stderr, "qgemm tune: give exactly one of --model, --hf-config, --from-record, "
                        "--stale\n");
        return 2;
    }
    if (!nm) {
        nm = qg_default_m_bucket_count;
        memcpy(ms, qg_default_m_buckets, sizeof(int64_t) * (size_t)nm);
    }
    if (!ndev) devices[ndev++] = 0;

    static tune_item items[MAX_PROBLEMS];
    int n = 0;
    if (record) {
        if ((n = load_record(record, items, MAX_PROBLEMS)) < 0) return 1;
    } else if (stale_db) {
        unsigned mask = 0;
        char list[256];
        snprintf(list, sizeof list, "%s", schemes_given ? schemes : "");
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            qg_scheme s;
            if (qg_scheme_from_name(tok, &s) != QG_SUCCESS) {
                fprintf(stderr, "qgemm tune: %s\n", qg_last_error(NULL));
                return 2;
            }
            mask |= 1u << s;
        }
        if ((n = load_stale(stale_db, mask, items, MAX_PROBLEMS)) < 0) return 1;
        if (!out) out = stale_db;
    } else {
        model_dims md;
        char err[256];
        if (model && !model_builtin(model, &md)) {
            fprintf(stderr, "qgemm tune: unknown model '%s' (built-in: %s)\n", model,
                    model_builtin_names());
            return 2;
        }
        if (hf && !model_from_hf_config(hf, &md, err, sizeof err)) {
            fprintf(stderr, "qgemm tune: %s\n", err);
            return 2;
        }
        char list[256];
        snprintf(list, sizeof list, "%s", schemes);
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            qg_scheme s;
            if (qg_scheme_from_name(tok, &s) != QG_SUCCESS) {
                fprintf(stderr, "qgemm tune: %s\n", qg_last_error(NULL));
                return 2;
            }
            for (int t = 0; t < ntp; t++) {
                model_linear lin[4];
                if (!model_linears(&md, (int)tps[t], lin, err, sizeof err)) {
                    fprintf(stderr, "qgemm tune: %s\n", err);
                    return 2;
                }
                for (int l = 0; l < 4 && n < MAX_PROBLEMS; l++) {
                    tune_item *it = &items[n];
                    class_for(s, &it->p);
                    it->p.n = lin[l].n, it->p.k = lin[l].k, it->p.m = 1;
                    int dup = 0;
                    for (int j = 0; j < n; j++) dup |= qg_db_same_class(&items[j].p, &it->p);
                    if (dup) continue;
                    if (qg_problem_validate(&it->p) != QG_SUCCESS) {
                        fprintf(stderr, "qgemm tune: skipping %s %s tp%lld: %s\n", tok, lin[l].name,
                                (long long)tps[t], qg_last_error(NULL));
                        continue;
                    }
                    snprintf(it->label, sizeof it->label, "%s tp%lld", lin[l].name,
                             (long long)tps[t]);
                    memcpy(it->ms, ms, sizeof(int64_t) * (size_t)nm);
                    it->nm = nm;
                    n++;
                }
            }
        }
    }
    if (list) {
        list_items(items, n);
        return 0;
    }
    if (!n) {
        if (stale_db) { /* nothing stale is success: the database is current */
            printf("qgemm tune: no stale entries in %s\n", stale_db);
            return 0;
        }
        fprintf(stderr, "qgemm tune: nothing to tune\n");
        return 1;
    }
    char default_out[300];
    if (!out && ndev == 1) {
        /* Several workers name the file themselves: CUDA initialized here would be unusable in
         * the processes forked below. */
        qg_context *ctx;
        if (qg_context_create(&ctx, NULL) != QG_SUCCESS) {
            fprintf(stderr, "qgemm tune: no GPU: %s\n", qg_last_error(NULL));
            return 1;
        }
        qg_device_info info;
        qg_context_device_info(ctx, &info);
        qg_context_destroy(ctx);
        default_db_path(&info, default_out, sizeof default_out);
        out = default_out;
    }
    if (ndev == 1) return run_worker(devices[0], out, items, n, shard_i, shard_n, 0, 1, &o);
    /* One process per GPU; each takes an interleaved slice of this shard and merges on save. */
    pid_t pids[16];
    for (int d = 0; d < ndev; d++) {
        fflush(stdout);
        pids[d] = fork();
        if (pids[d] == 0) {
            const int w = run_worker(devices[d], out, items, n, shard_i, shard_n, d, ndev, &o);
            fflush(stdout); /* _exit flushes nothing: a piped stdout would lose the summary */
            _exit(w);
        }
        if (pids[d] < 0) {
            perror("qgemm tune: fork");
            return 1;
        }
    }
    /* the workers' worst status: error (1) over wrong candidates (3) over budget left (4) */
    int rc = 0;
    for (int d = 0; d < ndev; d++) {
        int st;
        waitpid(pids[d], &st, 0);
        const int w = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
        if (WIFSIGNALED(st))
            fprintf(stderr,
                    "qgemm tune: the worker for device %d was killed by signal %d; what it "
                    "saved is kept in %s, and the same command run again tunes the rest\n",
                    devices[d], WTERMSIG(st), out ? out : "its database");
        const int rank_w = w == 0 ? 0 : w == 4 ? 1 : w == 3 ? 2 : 3;
        const int rank_rc = rc == 0 ? 0 : rc == 4 ? 1 : rc == 3 ? 2 : 3;
        if (rank_w > rank_rc) rc = w == 4 || w == 3 ? w : 1;
    }
    return rc;
}
