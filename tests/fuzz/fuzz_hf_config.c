/* Fuzz target: the Hugging Face config.json parser of `qgemm tune --hf-config` (tuner/models.c)
 * and the linear shapes derived from what it accepts. */
#include "models.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/qgemm-fuzz-hf-%d.json", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    model_dims md;
    char err[256];
    if (model_from_hf_config(path, &md, err, sizeof err)) {
        static const int tps[] = {1, 2, 3, 8, 64, 4096};
        for (size_t i = 0; i < sizeof tps / sizeof tps[0]; i++) {
            model_linear lin[4];
            if (model_linears(&md, tps[i], lin, err, sizeof err))
                for (int l = 0; l < 4; l++)
                    if (lin[l].n <= 0 || lin[l].k <= 0) abort(); /* a shape the tuner would use */
        }
    }
    unlink(path);
    return 0;
}
