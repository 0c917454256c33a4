/* Where the library looks for its files: the JIT cache directory, the shipped databases and the
 * tuning database a context uses. `qgemm info` prints them, with or without a GPU. */
#include "cli.h"

#include "data_dir.h"
#include "db.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cli_cache_dir(const qg_context *ctx, char *out, size_t len) {
    if (ctx) snprintf(out, len, "%s", qg_context_cache_dir((qg_context *)ctx));
    else if (qg_getenv("QGEMM_DISABLE_DISK_CACHE", NULL)) out[0] = 0;
    else qg_default_cache_dir(out, len);
    return out[0] ? out : NULL;
}

const char *cli_data_dir(char *out, size_t len) {
    const char *env = qg_getenv("QGEMM_DATA_DIR", NULL);
    if (env) {
        snprintf(out, len, "%s", env);
        return "QGEMM_DATA_DIR";
    }
    if (qg_installed_db_dir(out, len)) return "library";
    out[0] = 0;
    return NULL;
}

int cli_shipped_databases(const char *dir, char names[][128], int max) {
    DIR *d = dir && dir[0] ? opendir(dir) : NULL;
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < max;) {
        size_t l = strlen(e->d_name);
        if (l > 5 && l < 128 && !strcmp(e->d_name + l - 5, ".json"))
            snprintf(names[n++], 128, "%s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, 128, (int (*)(const void *, const void *))strcmp);
    return n;
}

const char *cli_tuning_db(const qg_context *ctx, char *out, size_t len) {
    const char *env = qg_getenv("QGEMM_TUNING_DB", NULL);
    const qg_db *db = ctx ? ctx->db : NULL;
    out[0] = 0;
    if (db) snprintf(out, len, "%s", db->path);
    else if (!ctx && env) snprintf(out, len, "%s", env);
    if (!out[0]) return NULL;
    return env ? "QGEMM_TUNING_DB" : "shipped";
}

void cli_print_paths(const qg_context *ctx) {
    char buf[1024];
    printf("jit cache: %s\n", cli_cache_dir(ctx, buf, sizeof buf) ? buf : "(disabled)");
    const char *from = cli_data_dir(buf, sizeof buf);
    char names[32][128];
    const int n = cli_shipped_databases(buf, names, 32);
    if (from) printf("shipped databases: %s (%s): %d files\n", buf, from, n);
    else printf("shipped databases: none found (set QGEMM_DATA_DIR)\n");
    from = cli_tuning_db(ctx, buf, sizeof buf);
    if (from) printf("tuning database: %s (%s)\n", buf, from);
    else if (ctx) printf("tuning database: none for this GPU (heuristic dispatch)\n");
    else printf("tuning database: the shipped file named after the GPU, when there is one\n");
}
