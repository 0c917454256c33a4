/*
 * hiprtc as a qg_compiler: HIP source -> AMD GPU code object (.hsaco) for one gfx target,
 * with no device. hiprtc lives in libhiprtc.so.N (ROCm >= 5.3) or inside libamdhip64.so.5
 * (ROCm <= 5.2, e.g. Debian bookworm's libamdhip64-5 5.2.3); we take the first library that
 * exports it. The few prototypes we need are declared here, so no HIP header is needed to build.
 */
#include "backend.h"
#include "catalog.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int hiprtc_result; /* hiprtcResult; 0 = HIPRTC_SUCCESS */
typedef struct hiprtc_program_ *hiprtc_program;
#define HIPRTC_SUCCESS 0
#define HIPRTC_ERROR_OUT_OF_MEMORY 1

#define HIPRTC_FLAG_STD "-std=c++17"
#define HIPRTC_FIXED_FLAGS HIPRTC_FLAG_STD

static struct {
    hiprtc_result (*Version)(int *major, int *minor);
    const char *(*GetErrorString)(hiprtc_result r);
    hiprtc_result (*CreateProgram)(hiprtc_program *prog, const char *src, const char *name,
                                   int num_headers, const char **headers, const char **names);
    hiprtc_result (*DestroyProgram)(hiprtc_program *prog);
    hiprtc_result (*CompileProgram)(hiprtc_program prog, int num_options, const char **options);
    hiprtc_result (*GetProgramLogSize)(hiprtc_program prog, size_t *size);
    hiprtc_result (*GetProgramLog)(hiprtc_program prog, char *log);
    hiprtc_result (*GetCodeSize)(hiprtc_program prog, size_t *size);
    hiprtc_result (*GetCode)(hiprtc_program prog, char *code);
} rtc;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static qg_status load_status = QG_ERR_NO_COMPILER;
static char load_why[1024];
static char lib_name[256];
static int rtc_version;

static const char **hdr_names, **hdr_data;
static int hdr_count;

/* One hiprtc program at a time per process: two threads compiling at once (qgemm check -j 2 on
 * a loaded machine, with Debian's hiprtc inside libamdhip64.so.5) crashed in 3 of 40 runs with
 * heap corruption (segfault, "double free", "unaligned tcache chunk"); serialized, 0 of 40. The
 * HIP catalog is small, so the lost parallelism does not matter. */
static pthread_mutex_t compile_lock = PTHREAD_MUTEX_INITIALIZER;

static void load(void) {
    static const char *const candidates[] = {"libhiprtc.so.6",   "libhiprtc.so.5",
                                             "libhiprtc.so",     "libamdhip64.so.6",
                                             "libamdhip64.so.5", "libamdhip64.so"};
    const char *override = qg_getenv("QGEMM_HIPRTC_LIBRARY", NULL);
    const char *const *names = override ? &override : candidates;
    const int count = override ? 1 : QG_ARRAY_SIZE(candidates);
    void *h = NULL;
    for (int i = 0; i < count && !h; i++) {
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h && !dlsym(h, "hiprtcCompileProgram")) { /* a HIP runtime without hiprtc */
            dlclose(h);
            h = NULL;
        }
        if (h) snprintf(lib_name, sizeof lib_name, "%s", names[i]);
    }
    if (!h) {
        snprintf(load_why, sizeof load_why,
                 "hiprtc not found: tried %s; install hiprtc (Debian: "
                 "libamdhip64-5 libhiprtc-builtins5) or set QGEMM_HIPRTC_LIBRARY",
                 override ? override
                          : "libhiprtc.so.{6,5}, libhiprtc.so, libamdhip64.so.{6,5}, "
                            "libamdhip64.so");
        return;
    }
    static const struct {
        const char *name;
        size_t offset;
    } syms[] = {
#define S_(f) {"hiprtc" #f, offsetof(__typeof__(rtc), f)}
        S_(Version),        S_(GetErrorString), S_(CreateProgram),
        S_(DestroyProgram), S_(CompileProgram), S_(GetProgramLogSize),
        S_(GetProgramLog),  S_(GetCodeSize),    S_(GetCode),
#undef S_
    };
    for (int i = 0; i < QG_ARRAY_SIZE(syms); i++) {
        void *p = dlsym(h, syms[i].name);
        if (!p) {
            snprintf(load_why, sizeof load_why, "hiprtc library %s lacks symbol %s", lib_name,
                     syms[i].name);
            dlclose(h);
            memset(&rtc, 0, sizeof rtc);
            return;
        }
        memcpy((char *)&rtc + syms[i].offset, &p, sizeof p); /* object -> function pointer */
    }
    int major = 0, minor = 0;
    if (rtc.Version(&major, &minor) == HIPRTC_SUCCESS) rtc_version = major * 1000 + minor * 10;

    const int n = qg_embedded_count();
    hdr_names = calloc((size_t)n + 1, sizeof *hdr_names);
    hdr_data = calloc((size_t)n + 1, sizeof *hdr_data);
    if (!hdr_names || !hdr_data) {
        snprintf(load_why, sizeof load_why, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *data;
        const char *name = qg_embedded_name(i, &data, NULL);
        size_t len = name ? strlen(name) : 0;
        if (len > 2 && strcmp(name + len - 2, ".h") == 0) { /* kernels/hip/<name>.h */
            hdr_names[hdr_count] = name;
            hdr_data[hdr_count++] = data;
        }
    }
    load_status = QG_SUCCESS; /* the handle stays open for the life of the process */
}

static qg_status hiprtc_load(char *why, size_t why_len) {
    pthread_once(&load_once, load);
    if (load_status != QG_SUCCESS && why) snprintf(why, why_len, "%s", load_why);
    return load_status;
}

static int hiprtc_version(void) { return hiprtc_load(NULL, 0) == QG_SUCCESS ? rtc_version : 0; }

static char *program_log(hiprtc_program prog) {
    size_t n = 0;
    if (rtc.GetProgramLogSize(prog, &n) != HIPRTC_SUCCESS || n <= 1) return NULL;
    char *log = calloc(1, n + 1);
    if (log && rtc.GetProgramLog(prog, log) != HIPRTC_SUCCESS) log[0] = 0;
    return log;
}

static const char *err_string(hiprtc_result r) {
    const char *s = rtc.GetErrorString ? rtc.GetErrorString(r) : NULL;
    return s ? s : "unknown hiprtc error";
}

static qg_status hiprtc_compile(const char *source, const char *program_name, const char *arch,
                                const char *const *options, int num_options, void **image,
                                size_t *image_size, char **log) {
    if (log) *log = NULL;
    QG_RETURN_IF(NULL, !source || !arch || !image || !image_size, QG_ERR_NULL_POINTER,
                 "hiprtc compile: NULL argument");
    QG_RETURN_IF(NULL, num_options < 0 || (num_options > 0 && !options), QG_ERR_INVALID_ARGUMENT,
                 "hiprtc compile: bad option list");
    *image = NULL;
    *image_size = 0;
    char why[1024];
    QG_RETURN_IF(NULL, hiprtc_load(why, sizeof why) != QG_SUCCESS, QG_ERR_NO_COMPILER, "%s", why);
    QG_RETURN_IF(NULL, strncmp(arch, "gfx", 3) != 0, QG_ERR_INVALID_ARGUMENT,
                 "hiprtc target must be a gfx architecture, got '%s'", arch);

    char arch_opt[64];
    snprintf(arch_opt, sizeof arch_opt, "--offload-arch=%s", arch);
    const char *opts[64];
    int n = 0;
    opts[n++] = arch_opt;
    opts[n++] = HIPRTC_FLAG_STD;
    QG_RETURN_IF(NULL, num_options > QG_ARRAY_SIZE(opts) - n, QG_ERR_INVALID_ARGUMENT,
                 "hiprtc compile: %d options is too many", num_options);
    for (int i = 0; i < num_options; i++) opts[n++] = options[i];

    const char *name = program_name ? program_name : "kernel.hip";
    hiprtc_program prog = NULL;
    pthread_mutex_lock(&compile_lock);
    hiprtc_result r = rtc.CreateProgram(&prog, source, name, hdr_count, hdr_data, hdr_names);
    if (r != HIPRTC_SUCCESS) {
        pthread_mutex_unlock(&compile_lock);
        return QG_ERROR(NULL, r == HIPRTC_ERROR_OUT_OF_MEMORY ? QG_ERR_OUT_OF_MEMORY : QG_ERR_COMPILE,
                        "hiprtcCreateProgram(%s): %s", name, err_string(r));
    }

    qg_status s = QG_SUCCESS;
    r = rtc.CompileProgram(prog, n, opts);
    size_t size = 0;
    if (r == HIPRTC_SUCCESS) r = rtc.GetCodeSize(prog, &size);
    if (r != HIPRTC_SUCCESS || size == 0) {
        char *text = program_log(prog);
        char first[256] = "";
        if (text) {
            size_t len = strcspn(text, "\n");
            snprintf(first, sizeof first, ": %.*s", (int)(len < 200 ? len : 200), text);
        }
        s = QG_ERROR(NULL, QG_ERR_COMPILE, "hiprtc (%s) failed to compile %s for %s (%s)%s", lib_name,
                     name, arch, r != HIPRTC_SUCCESS ? err_string(r) : "empty code object", first);
        if (log) *log = text;
        else free(text);
    } else if (!(*image = malloc(size))) {
        s = QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "no memory for a %zu-byte code object", size);
    } else if ((r = rtc.GetCode(prog, *image)) != HIPRTC_SUCCESS) {
        free(*image);
        *image = NULL;
        s = QG_ERROR(NULL, QG_ERR_COMPILE, "hiprtcGetCode: %s", err_string(r));
    } else {
        *image_size = size;
    }
    rtc.DestroyProgram(&prog);
    pthread_mutex_unlock(&compile_lock);
    return s;
}

const qg_compiler qg_compiler_hiprtc = {
    /* .name = */ "hiprtc",
    /* .image_ext = */ "hsaco",
    /* .header_suffix = */ ".h",
    /* .fixed_flags = */ HIPRTC_FIXED_FLAGS,
    /* .load = */ hiprtc_load,
    /* .version = */ hiprtc_version,
    /* .compile = */ hiprtc_compile,
};
