/*
 * NVRTC as a qg_compiler: CUDA C source -> cubin for one sm_XX, with no device and no toolkit
 * headers. libnvrtc is opened with dlopen (once, thread-safe), so libqgemm loads without it.
 */
#include "backend.h"
#include "catalog.h"

#include <dlfcn.h>
#include <nvrtc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Flags every compile adds before the variant's -D options (also hashed into cache keys).
 * -default-device: unannotated helpers are __device__; no -lineinfo: it only grows cubins.
 * ptxas -v: registers, stack frame and spill bytes per kernel in the program log (qgemm check
 * fails on spills); it changes only the cubin's .note.nv.tkinfo, not its code. */
#define NVRTC_FLAG_DEVICE "-default-device"
#define NVRTC_FLAG_STD "--std=c++17"
#define NVRTC_FLAG_PTXAS_VERBOSE "--ptxas-options=-v"
#define NVRTC_FIXED_FLAGS NVRTC_FLAG_DEVICE " " NVRTC_FLAG_STD " " NVRTC_FLAG_PTXAS_VERBOSE

/* Function-pointer types straight from nvrtc.h's prototypes. */
#define NVRTC_SYMBOLS(X)      \
    X(nvrtcVersion)           \
    X(nvrtcGetErrorString)    \
    X(nvrtcCreateProgram)     \
    X(nvrtcDestroyProgram)    \
    X(nvrtcCompileProgram)    \
    X(nvrtcGetProgramLogSize) \
    X(nvrtcGetProgramLog)     \
    X(nvrtcGetCUBINSize)      \
    X(nvrtcGetCUBIN)

static struct {
#define X_(name) __typeof__(&name) name;
    NVRTC_SYMBOLS(X_)
#undef X_
} nv;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static qg_status load_status = QG_ERR_NO_COMPILER;
static char load_why[512];
static int nv_version; /* major*1000 + minor*10 */

/* Embedded .cuh files (kernels/cuda, kernels/cutlass), passed to every program as NVRTC headers;
 * the CUTLASS stand-ins also under the name of the CUTLASS header they replace (an in-memory
 * header wins over the -I path; see kernels/cutlass/). Only programs including CUTLASS reach
 * those names. */
static const char *const header_aliases[][2] = {
    {"cutlass_tma_recorder.cuh", "cute/atom/copy_traits_sm90_tma.hpp"},
    {"cutlass_hw_info.cuh", "cutlass/kernel_hardware_info.h"},
};
static const char **hdr_names, **hdr_data;
static int hdr_count;

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void load(void) {
    static const char *const sonames[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
    const char *override = qg_getenv("QGEMM_NVRTC_LIBRARY", NULL);
    void *h = NULL;
    char tried[256] = "";
    if (override) {
        h = dlopen(override, RTLD_NOW | RTLD_LOCAL);
        snprintf(tried, sizeof tried, "%s (QGEMM_NVRTC_LIBRARY)", override);
    } else {
        for (int i = 0; i < QG_ARRAY_SIZE(sonames) && !h; i++)
            h = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
        snprintf(tried, sizeof tried, "libnvrtc.so.13, libnvrtc.so.12, libnvrtc.so");
    }
    if (!h) {
        const char *err = dlerror();
        snprintf(load_why, sizeof load_why,
                 "NVRTC not found: tried %s (%s); install the CUDA "
                 "NVRTC runtime or set QGEMM_NVRTC_LIBRARY",
                 tried, err ? err : "?");
        return;
    }
#define X_(name)                                                                               \
    nv.name = (__typeof__(&name))dlsym(h, #name);                                              \
    if (!nv.name) {                                                                            \
        snprintf(load_why, sizeof load_why, "NVRTC library %s lacks symbol %s", tried, #name); \
        dlclose(h);                                                                            \
        memset(&nv, 0, sizeof nv);                                                             \
        return;                                                                                \
    }
    NVRTC_SYMBOLS(X_)
#undef X_
    int major = 0, minor = 0;
    if (nv.nvrtcVersion(&major, &minor) != NVRTC_SUCCESS) {
        snprintf(load_why, sizeof load_why, "nvrtcVersion failed");
        dlclose(h);
        memset(&nv, 0, sizeof nv);
        return;
    }
    nv_version = major * 1000 + minor * 10;

    const int n = qg_embedded_count();
    const size_t cap = (size_t)n + 1 + QG_ARRAY_SIZE(header_aliases);
    hdr_names = calloc(cap, sizeof *hdr_names);
    hdr_data = calloc(cap, sizeof *hdr_data);
    if (!hdr_names || !hdr_data) {
        snprintf(load_why, sizeof load_why, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *data;
        const char *name = qg_embedded_name(i, &data, NULL);
        if (name && has_suffix(name, ".cuh")) {
            hdr_names[hdr_count] = name;
            hdr_data[hdr_count++] = data;
        }
    }
    for (int a = 0; a < QG_ARRAY_SIZE(header_aliases); a++) {
        const char *data = qg_embedded_source(header_aliases[a][0], NULL);
        if (!data) continue; /* a build without kernels/cutlass: nothing includes the name */
        hdr_names[hdr_count] = header_aliases[a][1];
        hdr_data[hdr_count++] = data;
    }
    /* The library handle stays open for the life of the process: compiled programs and other
     * threads may use the table at any time. */
    load_status = QG_SUCCESS;
}

static qg_status nvrtc_load(char *why, size_t why_len) {
    pthread_once(&load_once, load);
    if (load_status != QG_SUCCESS && why) snprintf(why, why_len, "%s", load_why);
    return load_status;
}

static int nvrtc_version(void) { return nvrtc_load(NULL, 0) == QG_SUCCESS ? nv_version : 0; }

/* Copy the program log into a malloc'd string (NULL if empty). */
static char *program_log(nvrtcProgram prog) {
    size_t n = 0;
    if (nv.nvrtcGetProgramLogSize(prog, &n) != NVRTC_SUCCESS || n <= 1) return NULL;
    char *log = malloc(n + 1);
    if (!log) return NULL;
    if (nv.nvrtcGetProgramLog(prog, log) != NVRTC_SUCCESS) log[0] = 0;
    log[n] = 0;
    return log;
}

static qg_status nvrtc_compile(const char *source, const char *program_name, const char *arch,
                               const char *const *options, int num_options, void **image,
                               size_t *image_size, char **log) {
    if (log) *log = NULL;
    QG_RETURN_IF(NULL, !source || !arch || !image || !image_size, QG_ERR_NULL_POINTER,
                 "nvrtc compile: NULL argument");
    QG_RETURN_IF(NULL, num_options < 0 || (num_options > 0 && !options), QG_ERR_INVALID_ARGUMENT,
                 "nvrtc compile: bad option list");
    *image = NULL;
    *image_size = 0;
    char why[512];
    QG_RETURN_IF(NULL, nvrtc_load(why, sizeof why) != QG_SUCCESS, QG_ERR_NO_COMPILER, "%s", why);
    /* compute_XX would give PTX only (cubin size 0): we want real SASS, no driver JIT. */
    QG_RETURN_IF(NULL, strncmp(arch, "sm_", 3) != 0, QG_ERR_INVALID_ARGUMENT,
                 "NVRTC target must be a real architecture sm_XX, got '%s'", arch);

    char arch_opt[64];
    snprintf(arch_opt, sizeof arch_opt, "--gpu-architecture=%s", arch);
    const char *opts[64];
    int n = 0;
    opts[n++] = arch_opt;
    opts[n++] = NVRTC_FLAG_DEVICE;
    opts[n++] = NVRTC_FLAG_STD;
    opts[n++] = NVRTC_FLAG_PTXAS_VERBOSE;
    QG_RETURN_IF(NULL, num_options > QG_ARRAY_SIZE(opts) - n, QG_ERR_INVALID_ARGUMENT,
                 "nvrtc compile: %d options is too many", num_options);
    for (int i = 0; i < num_options; i++) opts[n++] = options[i];

    nvrtcProgram prog = NULL;
    nvrtcResult r = nv.nvrtcCreateProgram(&prog, source, program_name ? program_name : "kernel.cu",
                                          hdr_count, hdr_data, hdr_names);
    QG_RETURN_IF(NULL, r != NVRTC_SUCCESS,
                 r == NVRTC_ERROR_OUT_OF_MEMORY ? QG_ERR_OUT_OF_MEMORY : QG_ERR_COMPILE,
                 "nvrtcCreateProgram(%s): %s", program_name ? program_name : "?",
                 nv.nvrtcGetErrorString(r));

    qg_status s = QG_SUCCESS;
    r = nv.nvrtcCompileProgram(prog, n, opts);
    if (r != NVRTC_SUCCESS) {
        char *text = program_log(prog);
        /* The first line of the log usually names the error; the whole log goes to *log. */
        char first[256] = "";
        if (text) {
            size_t len = strcspn(text, "\n");
            snprintf(first, sizeof first, ": %.*s", (int)(len < 200 ? len : 200), text);
        }
        s = QG_ERROR(NULL, QG_ERR_COMPILE, "NVRTC failed to compile %s for %s (%s)%s",
                     program_name ? program_name : "?", arch, nv.nvrtcGetErrorString(r), first);
        if (log) *log = text;
        else free(text);
        nv.nvrtcDestroyProgram(&prog);
        return s;
    }

    size_t size = 0;
    r = nv.nvrtcGetCUBINSize(prog, &size);
    if (r != NVRTC_SUCCESS || size == 0) {
        s = QG_ERROR(NULL, QG_ERR_COMPILE, "NVRTC produced no cubin for %s on %s (%s)",
                     program_name ? program_name : "?", arch, nv.nvrtcGetErrorString(r));
    } else if (!(*image = malloc(size))) {
        s = QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "no memory for a %zu-byte cubin", size);
    } else if ((r = nv.nvrtcGetCUBIN(prog, *image)) != NVRTC_SUCCESS) {
        free(*image);
        *image = NULL;
        s = QG_ERROR(NULL, QG_ERR_COMPILE, "nvrtcGetCUBIN: %s", nv.nvrtcGetErrorString(r));
    } else {
        *image_size = size;
        if (log) *log = program_log(prog); /* ptxas -v: resources and spills */
    }
    nv.nvrtcDestroyProgram(&prog);
    return s;
}

const qg_compiler qg_compiler_nvrtc = {
    /* .name = */ "nvrtc",
    /* .image_ext = */ "cubin",
    /* .header_suffix = */ ".cuh",
    /* .fixed_flags = */ NVRTC_FIXED_FLAGS,
    /* .load = */ nvrtc_load,
    /* .version = */ nvrtc_version,
    /* .compile = */ nvrtc_compile,
};

const qg_compiler *qg_compiler_for_arch(const char *arch) {
    return (arch && strncmp(arch, "gfx", 3) == 0) ? &qg_compiler_hiprtc : &qg_compiler_nvrtc;
}
