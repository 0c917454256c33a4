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

#endif
