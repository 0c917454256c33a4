/* The `qgemm` command line: subcommand dispatch and --help. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const cli_command commands[] = {
    {"info", "library version, devices found (or why none), catalog size, database in use", cli_info},
    {"check", "compile every catalog kernel for an architecture (no GPU needed)", cli_check},
    {"list", "list the catalog's kernel variants", cli_list},
    {"tune", "tune a model's shapes on this GPU into a database", cli_tune},
    {"db", "show | validate | merge | prune tuning databases", cli_db},
    {"explain", "which kernel dispatch picks for a problem, and why", cli_explain},
};

static void usage(FILE *f) {
    fprintf(f,
            "usage: qgemm <command> [options]\n\nQuantized GEMM kernels for LLM inference "
            "(version %s).\n\ncommands:\n",
            qg_version_string());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nRun 'qgemm <command> --help' for a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("qgemm %s\n", qg_version_string());
        return 0;
    }
    if (cli_json_take_flag(&argc, argv) < 0) return 2;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "qgemm: unknown command '%s' (see qgemm --help)\n", argv[1]);
    return 2;
}
