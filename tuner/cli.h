/* Subcommands of the qgemm command line; each returns the process exit code. */
#ifndef QG_CLI_H
#define QG_CLI_H

#include "qgemm.h"

#include "db.h"

typedef struct {
    const char *name;
    const char *help;
    int (*run)(int argc, char **argv);
} cli_command;

int cli_info(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_list(int argc, char **argv);
int cli_tune(int argc, char **argv);
int cli_db(int argc, char **argv);
int cli_explain(int argc, char **argv);

/* 1 if argv[i] is --help/-h anywhere. */
int cli_wants_help(int argc, char **argv);
/* Strict number parsing for option values: the whole string must be a (decimal) integer in
 * [lo, hi] / a finite number in (lo, hi]; 1 if so, else 0 (the caller names the option). */
int cli_parse_int(const char *s, long long lo, long long hi, long long *out);
int cli_parse_seconds(const char *s, double lo, double hi, double *out);

/* Where the library looks for files (tuner/cli_paths.c). ctx may be NULL (no GPU). Each returns
 * NULL (and "" in out) when there is none, else out or where the value came from. */
const char *cli_cache_dir(const qg_context *ctx, char *out, size_t len);
const char *cli_data_dir(char *out, size_t len); /* "QGEMM_DATA_DIR", "library" (relative to it) */
const char *cli_tuning_db(const qg_context *ctx, char *out,
                          size_t len); /* "QGEMM_TUNING_DB", "shipped" */
int cli_shipped_databases(const char *dir, char names[][128], int max); /* sorted *.json names */
void cli_print_paths(const qg_context *ctx);

/* --json output (tuner/cli_json.c). main() takes the flag out of argv for the commands that
 * support it (-1: a command that does not, reported); the commands then print JSON instead of
 * text. Each returns the exit code. */
extern int cli_json_output;
int cli_json_take_flag(int *argc, char **argv);
int cli_json_info(void);
int cli_json_list(const char *prefix);
int cli_json_explain(qg_context *ctx, const qg_problem *p);
int cli_json_db_show(const char *path, const qg_db *db);
/* `fresh`: --fresh (exit 1 also on a stale entry, or when freshness is undecided);
 * `decided`: qg_db_decide_freshness succeeded on db. */
int cli_json_db_validate(const char *path, const qg_db *db, int fresh, int decided);
/* tuner/cli_db.c: 1 if a database entry's kernel exists and fits its problem, else 0 + why. */
int cli_db_entry_ok(const qg_db *db, const qg_db_entry *e, char *why, size_t len);
/* tuner/cli_db.c: why a stale entry is stale, as db validate --fresh prints it. */
const char *cli_db_stale_reason(const qg_db_entry *e);

#endif
