/*
 * HIP backend (AMD GPUs): libamdhip64 opened with dlopen, prototypes declared here so no HIP
 * header is needed to build. HIP has no user-visible primary context: the device is made
 * current per thread with hipSetDevice, which is what the HIP runtime (and torch) do too.
 *
 * Not run in CI (no AMD GPU there): written against ROCm 5.2 (Debian bookworm) headers; the
 * attribute numbers below are hipDeviceAttribute_t values, unchanged in ROCm 6.
 */
#include "backend.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int hip_error; /* hipError_t; 0 = hipSuccess */
#define HIP_SUCCESS 0
#define HIP_ERROR_OUT_OF_MEMORY 2
#define HIP_ERROR_INSUFFICIENT_DRIVER 35
#define HIP_ERROR_NO_DEVICE 100
#define HIP_ERROR_INVALID_DEVICE 101

/* hipDeviceAttribute_t values (hip_runtime_api.h). */
#define HIP_ATTR_L2_CACHE_SIZE 19
#define HIP_ATTR_CC_MAJOR 23
#define HIP_ATTR_CC_MINOR 61
#define HIP_ATTR_MULTIPROCESSOR_COUNT 63
#define HIP_ATTR_MAX_SHARED_PER_BLOCK 74
/* hipFunction_attribute: HIP_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES. */
#define HIP_FUNC_ATTR_SHARED_SIZE_BYTES 1
/* Offset of gcnArchName ("gfx90a:sramecc+:xnack-") in the hipDeviceProp_t that the unversioned
 * hipGetDeviceProperties symbol fills (ROCm 5 layout, kept as R0000 in ROCm 6). */
#define HIP_PROP_GCN_ARCH_NAME_OFFSET 396
#define HIP_PROP_BUFFER 8192

#define HIP_SYMBOLS(X)                                                                         \
    X(Init, hip_error, (unsigned flags))                                                       \
    X(DriverGetVersion, hip_error, (int *v))                                                   \
    X(GetErrorName, const char *, (hip_error e))                                               \
    X(GetErrorString, const char *, (hip_error e))                                             \
    X(GetDeviceCount, hip_error, (int *n))                                                     \
    X(SetDevice, hip_error, (int dev))                                                         \
    X(GetDevice, hip_error, (int *dev))                                                        \
    X(DeviceGetAttribute, hip_error, (int *v, int attr, int dev))                              \
    X(DeviceGetName, hip_error, (char *name, int len, int dev))                                \
    X(DeviceTotalMem, hip_error, (size_t * bytes, int dev))                                    \
    X(GetDeviceProperties, hip_error, (void *prop, int dev))                                   \
    X(ModuleLoadData, hip_error, (void **module, const void *image))                           \
    X(ModuleUnload, hip_error, (void *module))                                                 \
    X(ModuleGetFunction, hip_error, (void **fn, void *module, const char *name))               \
    X(FuncGetAttribute, hip_error, (int *v, int attr, void *fn))                               \
    X(ModuleLaunchKernel, hip_error,                                                           \
      (void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, \
       unsigned smem, void *stream, void **params, void **extra))                              \
    X(Malloc, hip_error, (void **p, size_t bytes))                                             \
    X(Free, hip_error, (void *p))                                                              \
    X(MemcpyHtoD, hip_error, (void *dst, void *src, size_t bytes))                             \
    X(MemcpyDtoH, hip_error, (void *dst, void *src, size_t bytes))                             \
    X(Memset, hip_error, (void *dst, int v, size_t bytes))                                     \
    X(MemsetAsync, hip_error, (void *dst, int v, size_t bytes, void *stream))                  \
    X(DeviceSynchronize, hip_error, (void))                                                    \
    X(EventCreate, hip_error, (void **ev))                                                     \
    X(EventDestroy, hip_error, (void *ev))                                                     \
    X(EventRecord, hip_error, (void *ev, void *stream))                                        \
    X(EventElapsedTime, hip_error, (float *ms, void *start, void *end))                        \
    X(StreamIsCapturing, hip_error, (void *stream, int *status))

static struct {
#define X_(name, ret, args) ret(*name) args;
    HIP_SYMBOLS(X_)
#undef X_
} hip;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded;
static char lib_path[256];
static char load_why[1024];

static void load(void) {
    static const char *const sonames[] = {"libamdhip64.so.6", "libamdhip64.so.5", "libamdhip64.so"};
    const char *override = qg_getenv("QGEMM_HIP_LIBRARY", NULL);
    const char *const *names = override ? &override : sonames;
    const int count = override ? 1 : QG_ARRAY_SIZE(sonames);
    void *h = NULL;
    for (int i = 0; i < count && !h; i++)
        if ((h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL)))
            snprintf(lib_path, sizeof lib_path, "%s", names[i]);
    if (!h) {
        const char *e = dlerror();
        snprintf(load_why, sizeof load_why, "HIP runtime library not found: tried %s (%s)%s",
                 override ? override : "libamdhip64.so.6, libamdhip64.so.5, libamdhip64.so",
                 e ? e : "?", override ? " [from QGEMM_HIP_LIBRARY]" : "");
        return;
    }
#define X_(name, ret, args)                                                                         \
    {                                                                                               \
        void *p = dlsym(h, "hip" #name);                                                            \
        if (!p) {                                                                                   \
            snprintf(load_why, sizeof load_why, "HIP library %s lacks symbol hip" #name, lib_path); \
            dlclose(h);                                                                             \
            memset(&hip, 0, sizeof hip);                                                            \
            return;                                                                                 \
        }                                                                                           \
        memcpy(&hip.name, &p, sizeof p);                                                            \
    }
    HIP_SYMBOLS(X_)
#undef X_
    loaded = 1; /* the first handle stays open: the table is process-wide */
}

typedef struct {
    int dev;
    void *lib_ref;
} hip_state;

static hip_state *state(qg_context *ctx) { return (hip_state *)ctx->backend; }

static qg_status hip_fail(qg_context *ctx, hip_error e, qg_status fallback, const char *file,
                          int line, const char *what) {
    qg_status s = fallback;
    switch (e) {
    case HIP_ERROR_OUT_OF_MEMORY: s = QG_ERR_OUT_OF_MEMORY; break;
    case HIP_ERROR_NO_DEVICE:
    case HIP_ERROR_INVALID_DEVICE: s = QG_ERR_NO_DEVICE; break;
    case HIP_ERROR_INSUFFICIENT_DRIVER: s = QG_ERR_DRIVER_TOO_OLD; break;
    default: break;
    }
    const char *name = hip.GetErrorName ? hip.GetErrorName(e) : NULL;
    const char *desc = hip.GetErrorString ? hip.GetErrorString(e) : NULL;
    return qg_set_error(ctx, s, file, line, "%s failed: %s (%s)", what, name ? name : "?",
                        desc ? desc : "unknown HIP error");
}
#define HIP_TRY(ctx, call, fallback)                                               \
    do {                                                                           \
        hip_error hip_e_ = (call);                                                 \
        if (hip_e_ != HIP_SUCCESS)                                                 \
            return hip_fail((ctx), hip_e_, (fallback), __FILE__, __LINE__, #call); \
    } while (0)

/* Our device made current for one call, the caller's restored after (its current device is
 * its business: torch on another GPU must not find its device changed). */
typedef struct {
    int prev; /* -1: nothing to restore */
} dev_guard;

static qg_status enter(qg_context *ctx, dev_guard *g) {
    g->prev = -1;
    int cur = -1;
    HIP_TRY(ctx, hip.GetDevice(&cur), QG_ERR_DEVICE);
    if (cur == state(ctx)->dev) return QG_SUCCESS;
    HIP_TRY(ctx, hip.SetDevice(state(ctx)->dev), QG_ERR_DEVICE);
    g->prev = cur;
    return QG_SUCCESS;
}

static void leave(const dev_guard *g) {
    if (g->prev >= 0) hip.SetDevice(g->prev);
}

#define HIP_CALL(ctx, call, fallback)                                              \
    do {                                                                           \
        dev_guard g_;                                                              \
        QG_CHECK(enter((ctx), &g_));                                               \
        hip_error hip_e_ = (call);                                                 \
        leave(&g_);                                                                \
        if (hip_e_ != HIP_SUCCESS)                                                 \
            return hip_fail((ctx), hip_e_, (fallback), __FILE__, __LINE__, #call); \
    } while (0)

static void hip_close(qg_context *ctx) {
    hip_state *st = state(ctx);
    if (!st) return;
    if (st->lib_ref) dlclose(st->lib_ref);
    free(st);
    ctx->backend = NULL;
}

/* "gfx90a" from gcnArchName, at its documented offset or (other layouts) wherever it is. */
static void arch_from_props(const char *props, char *arch, size_t len) {
    const char *s = props + HIP_PROP_GCN_ARCH_NAME_OFFSET;
    if (strncmp(s, "gfx", 3) != 0) {
        s = NULL;
        for (int i = 0; i + 4 < HIP_PROP_BUFFER && !s; i++)
            if (memcmp(props + i, "gfx", 3) == 0 && (i == 0 || props[i - 1] == 0)) s = props + i;
    }
    if (!s) {
        snprintf(arch, len, "gfx");
        return;
    }
    size_t n = 0;
    while (n + 1 < len && s[n] && s[n] != ':') n++;
    memcpy(arch, s, n);
    arch[n] = 0;
}

static qg_status fill_info(qg_context *ctx, hip_state *st) {
    qg_device_info *in = &ctx->info;
    memset(in, 0, sizeof *in);
    HIP_TRY(ctx, hip.DeviceGetAttribute(&in->cc_major, HIP_ATTR_CC_MAJOR, st->dev), QG_ERR_DEVICE);
    HIP_TRY(ctx, hip.DeviceGetAttribute(&in->cc_minor, HIP_ATTR_CC_MINOR, st->dev), QG_ERR_DEVICE);
    HIP_TRY(ctx, hip.DeviceGetAttribute(&in->sm_count, HIP_ATTR_MULTIPROCESSOR_COUNT, st->dev),
            QG_ERR_DEVICE);
    HIP_TRY(ctx, hip.DeviceGetAttribute(&in->l2_bytes, HIP_ATTR_L2_CACHE_SIZE, st->dev),
            QG_ERR_DEVICE);
    /* AMD has no opt-in: the per-block LDS limit applies without an attribute. */
    HIP_TRY(ctx, hip.DeviceGetAttribute(&in->smem_optin, HIP_ATTR_MAX_SHARED_PER_BLOCK, st->dev),
            QG_ERR_DEVICE);
    HIP_TRY(ctx, hip.DeviceGetName(in->name, (int)sizeof in->name, st->dev), QG_ERR_DEVICE);
    HIP_TRY(ctx, hip.DeviceTotalMem(&in->total_mem, st->dev), QG_ERR_DEVICE);
    HIP_TRY(ctx, hip.DriverGetVersion(&in->driver_version), QG_ERR_DEVICE);
    char *props = calloc(1, HIP_PROP_BUFFER); /* larger than any hipDeviceProp_t */
    QG_RETURN_IF(ctx, !props, QG_ERR_OUT_OF_MEMORY, "no memory for device properties");
    hip_error e = hip.GetDeviceProperties(props, st->dev);
    if (e == HIP_SUCCESS) arch_from_props(props, in->arch, sizeof in->arch);
    free(props);
    if (e != HIP_SUCCESS)
        return hip_fail(ctx, e, QG_ERR_DEVICE, __FILE__, __LINE__, "hipGetDeviceProperties");
    QG_RETURN_IF(ctx, strlen(in->arch) <= 3, QG_ERR_DEVICE,
                 "could not read the gfx architecture of HIP device %d", st->dev);
    in->compiler_version = qg_compiler_hiprtc.version();
    in->backend = QG_BACKEND_HIP;
    return QG_SUCCESS;
}

static qg_status open_device(qg_context *ctx, hip_state *st, int device) {
    hip_error e = hip.Init(0);
    if (e != HIP_SUCCESS) {
        /* Without /dev/kfd or a GPU, ROCm reports hipErrorInvalidDevice or NoDevice. */
        int n = 0;
        if (hip.GetDeviceCount(&n) != HIP_SUCCESS || n == 0)
            return QG_ERROR(ctx, QG_ERR_NO_DEVICE,
                            "the HIP runtime (%s) found no AMD GPU (hipInit: %s)", lib_path,
                            hip.GetErrorName(e));
        return hip_fail(ctx, e, QG_ERR_DEVICE, __FILE__, __LINE__, "hipInit");
    }
    int count = 0;
    HIP_TRY(ctx, hip.GetDeviceCount(&count), QG_ERR_DEVICE);
    QG_RETURN_IF(ctx, count == 0, QG_ERR_NO_DEVICE, "the HIP runtime (%s) reports no device",
                 lib_path);
    QG_RETURN_IF(ctx, device >= count, QG_ERR_NO_DEVICE,
                 "HIP device %d requested but only %d present", device, count);
    st->dev = device;
    char why[1024];
    QG_RETURN_IF(ctx, qg_compiler_hiprtc.load(why, sizeof why) != QG_SUCCESS, QG_ERR_NO_COMPILER,
                 "%s", why);
    dev_guard g;
    QG_CHECK(enter(ctx, &g));
    qg_status s = fill_info(ctx, st);
    leave(&g);
    return s;
}

static qg_status hip_open(qg_context *ctx, int device) {
    pthread_once(&load_once, load);
    QG_RETURN_IF(ctx, !loaded, QG_ERR_NO_DRIVER, "%s", load_why);
    hip_state *st = calloc(1, sizeof *st);
    QG_RETURN_IF(ctx, !st, QG_ERR_OUT_OF_MEMORY, "no memory for the HIP backend");
    ctx->backend = st;
    st->lib_ref = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
    qg_status s = st->lib_ref ? open_device(ctx, st, device)
                              : QG_ERROR(ctx, QG_ERR_NO_DRIVER, "reopening %s failed", lib_path);
    if (s != QG_SUCCESS) hip_close(ctx);
    return s;
}

static qg_status hip_module_load(qg_context *ctx, const void *image, size_t size, void **module) {
    (void)size;
    HIP_CALL(ctx, hip.ModuleLoadData(module, image), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static void hip_module_unload(qg_context *ctx, void *module) {
    dev_guard g;
    if (module && enter(ctx, &g) == QG_SUCCESS) {
        hip.ModuleUnload(module);
        leave(&g);
    }
}

static qg_status hip_function_get(qg_context *ctx, void *module, const char *name, void **fn) {
    hip_error e = hip.ModuleGetFunction(fn, module, name);
    if (e != HIP_SUCCESS) {
        char what[192];
        snprintf(what, sizeof what, "hipModuleGetFunction(\"%s\")", name);
        return hip_fail(ctx, e, QG_ERR_INTERNAL, __FILE__, __LINE__, what);
    }
    return QG_SUCCESS;
}

static qg_status hip_function_set_smem(qg_context *ctx, void *fn, int bytes) {
    (void)fn; /* no opt-in on AMD: only check the device limit */
    QG_RETURN_IF(ctx, bytes > ctx->info.smem_optin, QG_ERR_INVALID_ARGUMENT,
                 "%d bytes of shared memory exceed the device limit %d", bytes, ctx->info.smem_optin);
    return QG_SUCCESS;
}

static qg_status hip_function_static_smem(qg_context *ctx, void *fn, int *bytes) {
    HIP_CALL(ctx, hip.FuncGetAttribute(bytes, HIP_FUNC_ATTR_SHARED_SIZE_BYTES, fn), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status hip_launch(qg_context *ctx, void *fn, const unsigned grid[3],
                            const unsigned block[3], unsigned smem, void *stream, void **params) {
    HIP_CALL(ctx,
             hip.ModuleLaunchKernel(fn, grid[0], grid[1], grid[2], block[0], block[1], block[2],
                                    smem, stream, params, NULL),
             QG_ERR_LAUNCH);
    return QG_SUCCESS;
}

static qg_status hip_mem_alloc(qg_context *ctx, void **p, size_t bytes) {
    HIP_CALL(ctx, hip.Malloc(p, bytes), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status hip_mem_free(qg_context *ctx, void *p) {
    HIP_CALL(ctx, hip.Free(p), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status hip_memcpy_htod(qg_context *ctx, void *dst, const void *src, size_t bytes) {
    HIP_CALL(ctx, hip.MemcpyHtoD(dst, (void *)(uintptr_t)src, bytes), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status hip_memcpy_dtoh(qg_context *ctx, void *dst, const void *src, size_t bytes) {
    HIP_CALL(ctx, hip.MemcpyDtoH(dst, (void *)(uintptr_t)src, bytes), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status hip_memset_d8(qg_context *ctx, void *dst, unsigned char v, size_t bytes) {
    HIP_CALL(ctx, hip.Memset(dst, v, bytes), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status hip_memset_d8_async(qg_context *ctx, void *dst, unsigned char v, size_t bytes,
                                     void *stream) {
    HIP_CALL(ctx, hip.MemsetAsync(dst, v, bytes, stream), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status hip_synchronize(qg_context *ctx) {
    HIP_CALL(ctx, hip.DeviceSynchronize(), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status hip_event_create(qg_context *ctx, void **ev) {
    HIP_CALL(ctx, hip.EventCreate(ev), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static void hip_event_destroy(qg_context *ctx, void *ev) {
    (void)ctx;
    if (ev) hip.EventDestroy(ev);
}

static qg_status hip_event_record(qg_context *ctx, void *ev, void *stream) {
    HIP_CALL(ctx, hip.EventRecord(ev, stream), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status hip_event_elapsed_ms(qg_context *ctx, void *start, void *end, float *ms) {
    HIP_CALL(ctx, hip.EventElapsedTime(ms, start, end), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status hip_stream_is_capturing(qg_context *ctx, void *stream, int *capturing) {
    int st = 0; /* hipStreamCaptureStatusNone; Active = 1, Invalidated = 2 */
    HIP_CALL(ctx, hip.StreamIsCapturing(stream, &st), QG_ERR_DEVICE);
    *capturing = st != 0;
    return QG_SUCCESS;
}

const qg_backend_ops qg_backend_hip = {
    /* .name = */ "hip",
    /* .open = */ hip_open,
    /* .close = */ hip_close,
    /* .module_load = */ hip_module_load,
    /* .module_unload = */ hip_module_unload,
    /* .function_get = */ hip_function_get,
    /* .function_set_smem = */ hip_function_set_smem,
    /* .function_static_smem = */ hip_function_static_smem,
    /* .launch = */ hip_launch,
    /* .mem_alloc = */ hip_mem_alloc,
    /* .mem_free = */ hip_mem_free,
    /* .memcpy_htod = */ hip_memcpy_htod,
    /* .memcpy_dtoh = */ hip_memcpy_dtoh,
    /* .memset_d8 = */ hip_memset_d8,
    /* .memset_d8_async = */ hip_memset_d8_async,
    /* .synchronize = */ hip_synchronize,
    /* .event_create = */ hip_event_create,               /* optional */
    /* .event_destroy = */ hip_event_destroy,             /* optional */
    /* .event_record = */ hip_event_record,               /* optional */
    /* .event_elapsed_ms = */ hip_event_elapsed_ms,       /* optional */
    /* .ctx_enter = */ NULL,                              /* optional */
    /* .ctx_leave = */ NULL,                              /* optional */
    /* .tensor_map_encode = */ NULL,                      /* optional: no TMA */
    /* .stream_is_capturing = */ hip_stream_is_capturing, /* optional */
};
