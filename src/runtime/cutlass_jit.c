/*
 * Where the CUTLASS-built kernels (kernels/cutlass/) find their headers at run time: CUTLASS
 * itself is a dependency installed from PyPI (nvidia-cutlass, its cute/ and cutlass/ include
 * trees), never copied into qgemm. Looked up in this order:
 *   CUTLASS:  $QGEMM_CUTLASS_INCLUDE, else the directory CMake found at configure time
 *             (QG_CUTLASS_INCLUDE_DEFAULT: <site-packages>/cutlass_library/source/include);
 *   CUDA:     $QGEMM_CUDA_INCLUDE, else $CUDA_HOME/include, else /usr/local/cuda/include (NVRTC
 *             needs the toolkit's cccl headers, <cuda/std/...>, for CUTLASS).
 * A directory counts when it holds the files a compile opens first. Absent headers make the
 * variants unsupported here (QG_ERR_UNSUPPORTED, saying what to install), never a crash.
 */
#include "cutlass_jit.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef QG_CUTLASS_INCLUDE_DEFAULT
#define QG_CUTLASS_INCLUDE_DEFAULT ""
#endif

/* CUTLASS's version from cutlass/version.h (0 if unreadable): major*10000 + minor*100 + patch. */
static int cutlass_version(const char *dir) {
    char path[QG_JIT_OPTION_LEN + 32];
    snprintf(path, sizeof path, "%s/cutlass/version.h", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int parts[3] = {-1, -1, -1};
    static const char *const names[3] = {"CUTLASS_MAJOR", "CUTLASS_MINOR", "CUTLASS_PATCH"};
    char line[256];
    while (fgets(line, sizeof line, f)) {
        for (int i = 0; i < 3; i++) {
            char want[48];
            snprintf(want, sizeof want, "#define %s ", names[i]);
            if (strncmp(line, want, strlen(want)) == 0)
                sscanf(line + strlen(want), "%d", &parts[i]);
        }
    }
    fclose(f);
    if (parts[0] < 0 || parts[1] < 0 || parts[2] < 0) return 0;
    return parts[0] * 10000 + parts[1] * 100 + parts[2];
}

static int has_file(const char *dir, const char *rel) {
    char path[QG_JIT_OPTION_LEN + 64];
    if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path) return 0;
    return access(path, R_OK) == 0;
}

qg_status qg_cutlass_find_include(char *cutlass_dir, char *cuda_dir, size_t len, int *version) {
    const char *c = qg_getenv("QGEMM_CUTLASS_INCLUDE", NULL);
    const char *from = "QGEMM_CUTLASS_INCLUDE";
    if (!c || !*c) c = QG_CUTLASS_INCLUDE_DEFAULT, from = "the build's default";
    QG_RETURN_IF(NULL, !*c, QG_ERR_UNSUPPORTED,
                 "CUTLASS headers not found: pip install nvidia-cutlass==4.2.0.0 and set "
                 "QGEMM_CUTLASS_INCLUDE to <site-packages>/cutlass_library/source/include");
    QG_RETURN_IF(NULL,
                 strlen(c) >= len || !has_file(c, "cute/tensor.hpp") ||
                     !has_file(c, "cutlass/gemm/kernel/gemm_universal.hpp"),
                 QG_ERR_UNSUPPORTED,
                 "CUTLASS headers not found in %s (%s): it must hold "
                 "cute/tensor.hpp and cutlass/gemm/ (pip install nvidia-cutlass==4.2.0.0)",
                 c, from);
    const int ver = cutlass_version(c);
    QG_RETURN_IF(NULL, ver < 40000, QG_ERR_UNSUPPORTED,
                 "CUTLASS in %s is older than 4.0 or has no readable cutlass/version.h", c);

    char home[QG_JIT_OPTION_LEN] = "";
    const char *cuda = qg_getenv("QGEMM_CUDA_INCLUDE", NULL);
    if (!cuda || !*cuda) {
        const char *h = qg_getenv("CUDA_HOME", NULL);
        if (h && *h && snprintf(home, sizeof home, "%s/include", h) < (int)sizeof home) cuda = home;
        else cuda = "/usr/local/cuda/include";
    }
    QG_RETURN_IF(NULL,
                 strlen(cuda) >= len || !has_file(cuda, "cccl/cuda/std/type_traits") ||
                     !has_file(cuda, "cuda_runtime_api.h"),
                 QG_ERR_UNSUPPORTED,
                 "the CUDA toolkit headers NVRTC needs for CUTLASS are not in "
                 "%s (cccl/cuda/std/type_traits): set QGEMM_CUDA_INCLUDE to <cuda>/include",
                 cuda);
    snprintf(cutlass_dir, len, "%s", c);
    snprintf(cuda_dir, len, "%s", cuda);
    if (version) *version = ver;
    return QG_SUCCESS;
}

qg_status qg_cutlass_jit_options(char (*opts)[QG_JIT_OPTION_LEN], int *count, char *key,
                                 size_t key_len) {
    char inc[QG_JIT_OPTION_LEN - 64], cuda[QG_JIT_OPTION_LEN - 64];
    int ver = 0;
    *count = 0;
    QG_CHECK(qg_cutlass_find_include(inc, cuda, sizeof inc, &ver));
    /* The real TMA header, spelled through the include directory's parent so that the
     * in-memory stand-in of the same name (kernels/cutlass/cutlass_tma_recorder.cuh) does not
     * catch it. */
    char parent[sizeof inc];
    snprintf(parent, sizeof parent, "%s", inc);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/') parent[--n] = 0;
    char *slash = strrchr(parent, '/');
    QG_RETURN_IF(NULL, !slash || slash == parent, QG_ERR_UNSUPPORTED,
                 "CUTLASS include directory %s must be an absolute path below /", inc);
    *slash = 0;
    const char *base = slash + 1;
    int i = 0;
    snprintf(opts[i++], QG_JIT_OPTION_LEN, "-I%s", inc);
    snprintf(opts[i++], QG_JIT_OPTION_LEN, "-I%s", parent);
    snprintf(opts[i++], QG_JIT_OPTION_LEN,
             "-DQG_CUTLASS_TMA_HEADER=<%s/cute/atom/copy_traits_sm90_tma.hpp>", base);
    snprintf(opts[i++], QG_JIT_OPTION_LEN, "-I%s/cccl", cuda);
    snprintf(opts[i++], QG_JIT_OPTION_LEN, "-I%s", cuda);
    /* host functions CUTLASS leaves unannotated are device code too (the probe runs them) */
    snprintf(opts[i++], QG_JIT_OPTION_LEN, "--device-as-default-execution-space");
    /* without it ptxas serializes wgmma around assert's extern call (C7509) */
    snprintf(opts[i++], QG_JIT_OPTION_LEN, "-DNDEBUG");
    *count = i;
    snprintf(key, key_len, "cutlass %d.%d.%d; cuda include %s", ver / 10000, ver / 100 % 100,
             ver % 100, cuda);
    return QG_SUCCESS;
}
