/* Fuzz target: `qgemm tune --from-record FILE --list`, the file a serving process writes with
 * QGEMM_RECORD_UNTUNED (parsed by tuner/cli_tune.c; --list needs no GPU). */
#include "cli.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    if (!path[0]) /* (run.sh passes -close_fd_mask=3 for the listing and the messages) */
        snprintf(path, sizeof path, "/tmp/qgemm-fuzz-record-%d.jsonl", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    char *argv[] = {"tune", "--from-record", path, "--list", NULL};
    const int rc = cli_tune(4, argv);
    if (rc != 0 && rc != 1) abort(); /* listed, or an error (1) about the file: never usage */
    unlink(path);
    return 0;
}
