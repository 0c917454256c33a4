/* Run-time header lookup and NVRTC options of the CUTLASS-built kernels (cutlass_jit.c). */
#ifndef QG_CUTLASS_JIT_H
#define QG_CUTLASS_JIT_H

#include "catalog.h"

/* The CUTLASS and CUDA include directories (each < len bytes) and CUTLASS's version
 * (major*10000 + minor*100 + patch). QG_ERR_UNSUPPORTED, saying what to install, when absent. */
qg_status qg_cutlass_find_include(char *cutlass_dir, char *cuda_dir, size_t len, int *version);

/* qg_family.jit_options of the CUTLASS families: include paths, the real TMA header's name,
 * --device-as-default-execution-space and -DNDEBUG; key names CUTLASS's version. */
qg_status qg_cutlass_jit_options(char (*opts)[QG_JIT_OPTION_LEN], int *count, char *key,
                                 size_t key_len);

#endif
