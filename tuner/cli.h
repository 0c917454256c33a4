/* Subcommands of the qgemm command line; each returns the process exit code. */
#ifndef QG_CLI_H
#define QG_CLI_H

#include "qgemm.h"

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

#endif
