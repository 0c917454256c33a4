/* --json output of qgemm info, list, explain, db show and db validate: one JSON document on
 * stdout, the schema in docs/cli_json.md. Errors stay one line on stderr with a non-zero exit. */
#include "cli.h"

#include "catalog.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_json_output;

int cli_json_take_flag(int *argc, char **argv) {
    int found = 0, kept = 0;
    for (int i = 0; i < *argc; i++) {
        if (i >= 2 && !strcmp(argv[i], "--json")) found = 1;
        else argv[kept++] = argv[i];
    }
    if (!found) return 0;
    *argc = kept;
    argv[kept] = NULL;
    const char *cmd = kept > 1 ? argv[1] : "";
    const int db_ok = !strcmp(cmd, "db") && kept > 2 &&
                      (!strcmp(argv[2], "show") || !strcmp(argv[2], "validate"));
    if (strcmp(cmd, "info") && strcmp(cmd, "list") && strcmp(cmd, "explain") && !db_ok) {
        fprintf(stderr,
                "qgemm %s: --json is not supported here (info, list, explain, db show, db validate)\n",
                cmd);
        return -1;
    }
    cli_json_output = 1;
    return 1;
}

/* Prints and frees `root`; exit code `rc` (1 if it could not be printed). */
static int emit(cJSON *root, int rc) {
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        fprintf(stderr, "qgemm: out of memory writing JSON\n");
        return 1;
    }
    puts(text);
    free(text);
    return rc;
}

static void add_string_or_null(cJSON *o, const char *name, const char *value) {
    if (value) cJSON_AddStringToObject(o, name, value);
    else cJSON_AddNullToObject(o, name);
}

static cJSON *status_object(qg_status s, const char *message) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", qg_status_name(s));
    cJSON_AddStringToObject(o, "message", message);
    return o;
}

static cJSON *device_object(const qg_device_info *d) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "arch", d->arch);
    char cc[16];
    snprintf(cc, sizeof cc, "%d.%d", d->cc_major, d->cc_minor);
    cJSON_AddStringToObject(o, "compute_capability", cc);
    cJSON_AddNumberToObject(o, "sm_count", d->sm_count);
    cJSON_AddNumberToObject(o, "total_mem_bytes", (double)d->total_mem);
    cJSON_AddNumberToObject(o, "l2_bytes", d->l2_bytes);
    cJSON_AddNumberToObject(o, "driver_version", d->driver_version);
    cJSON_AddNumberToObject(o, "compiler_version", d->compiler_version);
    cJSON_AddStringToObject(o, "backend", d->backend == QG_BACKEND_HIP ? "hip" : "cuda");
    return o;
}

int cli_json_info(void) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", qg_version_string());
    cJSON_AddNumberToObject(root, "format_version", QG_FORMAT_VERSION);
    cJSON_AddNumberToObject(root, "catalog_size", qg_catalog_size());
    qg_context *ctx = NULL;
    qg_status s = qg_context_create(&ctx, NULL);
    if (s == QG_SUCCESS) {
        qg_device_info d;
        qg_context_device_info(ctx, &d);
        cJSON_AddItemToObject(root, "device", device_object(&d));
        cJSON_AddNullToObject(root, "device_error");
    } else {
        cJSON_AddNullToObject(root, "device");
        cJSON_AddItemToObject(root, "device_error", status_object(s, qg_last_error(NULL)));
    }
    char buf[1024];
    add_string_or_null(root, "cache_dir", cli_cache_dir(ctx, buf, sizeof buf));
    const char *from = cli_data_dir(buf, sizeof buf);
    cJSON *data = cJSON_AddObjectToObject(root, "data_dir");
    add_string_or_null(data, "path", from ? buf : NULL);
    add_string_or_null(data, "source", from);
    char names[64][128];
    const int n = cli_shipped_databases(from ? buf : NULL, names, 64);
    cJSON *shipped = cJSON_AddArrayToObject(data, "databases");
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(shipped, cJSON_CreateString(names[i]));
    from = cli_tuning_db(ctx, buf, sizeof buf);
    cJSON *db = cJSON_AddObjectToObject(root, "tuning_db");
    add_string_or_null(db, "path", from ? buf : NULL);
    add_string_or_null(db, "source", from);
    qg_context_destroy(ctx);
    return emit(root, 0);
}

int cli_json_list(const char *prefix) {
    cJSON *root = cJSON_CreateArray();
    for (int i = 0; i < qg_catalog_size(); i++) {
        const qg_variant *v = qg_catalog_get(i);
        if (strncmp(v->id, prefix, strlen(prefix))) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", v->id);
        cJSON_AddStringToObject(o, "family", v->family->name);
        cJSON *schemes = cJSON_AddArrayToObject(o, "schemes");
        for (int sc = 0; sc < QG_SCHEME_COUNT_; sc++)
            if (v->family->scheme_mask & (1u << sc))
                cJSON_AddItemToArray(schemes, cJSON_CreateString(qg_scheme_name((qg_scheme)sc)));
        cJSON_AddNumberToObject(o, "min_cc", v->family->min_cc);
        cJSON_AddBoolToObject(o, "experimental", v->family->experimental != 0);
        cJSON_AddBoolToObject(o, "jit", v->family->source != NULL);
        cJSON_AddItemToArray(root, o);
    }
    return emit(root, 0);
}

int cli_json_explain(qg_context *ctx, const qg_problem *p) {
    const qg_variant *v;
    qg_dispatch_level level;
    if (qg_dispatch_choose(ctx, p, QG_OP_GEMM, &v, &level) != QG_SUCCESS) {
        fprintf(stderr, "qgemm explain: %s\n", qg_last_error(ctx));
        return 1;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "kernel", v->id);
    cJSON_AddStringToObject(root, "level", qg_dispatch_level_name(level));
    char buf[1024];
    add_string_or_null(root, "tuning_db", cli_tuning_db(ctx, buf, sizeof buf) ? buf : NULL);
    const qg_db_entry *e = level <= QG_LEVEL_NEAREST ? qg_db_lookup(ctx->db, p, &level) : NULL;
    if (e) {
        cJSON *t = cJSON_AddObjectToObject(root, "entry");
        cJSON_AddNumberToObject(t, "n", (double)e->key.n);
        cJSON_AddNumberToObject(t, "k", (double)e->key.k);
        cJSON_AddNumberToObject(t, "m_bucket", (double)e->m_bucket);
        cJSON_AddNumberToObject(t, "median_us", e->median_us);
        cJSON_AddStringToObject(t, "tuned_at", e->tuned_at);
    } else {
        cJSON_AddNullToObject(root, "entry");
    }
    return emit(root, 0);
}

/* The database as its file holds it (qg_db_to_json), plus "path", "count" and per entry
 * "current" (known fresh: timed on the code its kernel compiles to in this build). NULL on
 * failure. */
static cJSON *db_document(const char *path, const qg_db *db) {
    char *text = qg_db_to_json(db);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "path", path);
    cJSON_AddNumberToObject(root, "count", db->count);
    cJSON *entries = cJSON_GetObjectItemCaseSensitive(root, "entries");
    for (int i = 0; i < db->count && i < cJSON_GetArraySize(entries); i++)
        cJSON_AddBoolToObject(cJSON_GetArrayItem(entries, i), "current",
                              qg_db_entry_current(&db->entries[i]) != 0);
    return root;
}

int cli_json_db_show(const char *path, const qg_db *db) { return emit(db_document(path, db), 0); }

int cli_json_db_validate(const char *path, const qg_db *db, int fresh, int decided) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "path", path);
    cJSON_AddNumberToObject(root, "count", db->count);
    cJSON *errors = cJSON_AddArrayToObject(root, "errors");
    char why[512];
    for (int i = 0; i < db->count; i++) {
        if (cli_db_entry_ok(db, &db->entries[i], why, sizeof why)) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "entry", i);
        cJSON_AddStringToObject(o, "kernel", db->entries[i].kernel);
        cJSON_AddStringToObject(o, "message", why);
        cJSON_AddItemToArray(errors, o);
    }
    const int stale = qg_db_count_stale(db);
    cJSON_AddNumberToObject(root, "stale", stale);
    cJSON_AddBoolToObject(root, "freshness_decided", decided != 0);
    cJSON *stale_entries = cJSON_AddArrayToObject(root, "stale_entries");
    for (int i = 0; i < db->count; i++) {
        const qg_db_entry *e = &db->entries[i];
        if (e->verdict != QG_VERDICT_STALE) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "entry", i);
        cJSON_AddStringToObject(o, "kernel", e->kernel);
        cJSON_AddStringToObject(o, "reason", cli_db_stale_reason(e));
        cJSON_AddItemToArray(stale_entries, o);
    }
    cJSON_AddStringToObject(root, "library_version", db->meta.library_version);
    cJSON_AddBoolToObject(root, "library_version_matches",
                          !strcmp(db->meta.library_version, QG_VERSION_STRING));
    const int bad = cJSON_GetArraySize(errors);
    cJSON_AddBoolToObject(root, "valid", bad == 0);
    return emit(root, bad || (fresh && (stale || !decided)) ? 1 : 0);
}
