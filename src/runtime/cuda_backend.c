/*
 * CUDA backend over the driver API, opened with dlopen (Blender cuew style): libcuda is never
 * linked, so libqgemm loads on machines without a driver and reports QG_ERR_NO_DRIVER instead.
 *
 * We work in the device's PRIMARY context, the one the CUDA runtime (and so torch) uses: device
 * pointers and streams from those work here unchanged. Every driver call runs with that context
 * current (cuCtxGetCurrent is a cheap thread-local read): a thread with no context gets ours and
 * keeps it (as the runtime would do), a thread with ANOTHER context current (torch working on
 * another GPU) gets ours pushed for the call and popped after, so its current device never moves.
 */
#include "backend.h"
#include "cuda_graph_launch.h"

#include <cuda.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * X(field, prototype, symbol, fallback symbol): the type comes from cuda.h's prototype; the
 * symbol is the exact ABI name (cuda.h maps e.g. cuMemAlloc to cuMemAlloc_v2). The fallback,
 * if any, is an older symbol with the same signature for older drivers.
 */
#define CU_SYMBOLS(X)                                                                      \
    X(Init, cuInit, "cuInit", NULL)                                                        \
    X(DriverGetVersion, cuDriverGetVersion, "cuDriverGetVersion", NULL)                    \
    X(GetErrorName, cuGetErrorName, "cuGetErrorName", NULL)                                \
    X(GetErrorString, cuGetErrorString, "cuGetErrorString", NULL)                          \
    X(DeviceGetCount, cuDeviceGetCount, "cuDeviceGetCount", NULL)                          \
    X(DeviceGet, cuDeviceGet, "cuDeviceGet", NULL)                                         \
    X(DeviceGetName, cuDeviceGetName, "cuDeviceGetName", NULL)                             \
    X(DeviceGetAttribute, cuDeviceGetAttribute, "cuDeviceGetAttribute", NULL)              \
    X(DeviceTotalMem, cuDeviceTotalMem, "cuDeviceTotalMem_v2", NULL)                       \
    X(PrimaryCtxRetain, cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", NULL)        \
    X(PrimaryCtxRelease, cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", NULL)  \
    X(CtxGetCurrent, cuCtxGetCurrent, "cuCtxGetCurrent", NULL)                             \
    X(CtxSetCurrent, cuCtxSetCurrent, "cuCtxSetCurrent", NULL)                             \
    X(CtxPushCurrent, cuCtxPushCurrent, "cuCtxPushCurrent_v2", NULL)                       \
    X(CtxPopCurrent, cuCtxPopCurrent, "cuCtxPopCurrent_v2", NULL)                          \
    X(CtxSynchronize, cuCtxSynchronize, "cuCtxSynchronize", NULL)                          \
    X(ModuleLoadData, cuModuleLoadData, "cuModuleLoadData", NULL)                          \
    X(ModuleUnload, cuModuleUnload, "cuModuleUnload", NULL)                                \
    X(ModuleGetFunction, cuModuleGetFunction, "cuModuleGetFunction", NULL)                 \
    X(FuncGetAttribute, cuFuncGetAttribute, "cuFuncGetAttribute", NULL)                    \
    X(FuncSetAttribute, cuFuncSetAttribute, "cuFuncSetAttribute", NULL)                    \
    X(LaunchKernel, cuLaunchKernel, "cuLaunchKernel", NULL)                                \
    X(MemAlloc, cuMemAlloc, "cuMemAlloc_v2", NULL)                                         \
    X(MemFree, cuMemFree, "cuMemFree_v2", NULL)                                            \
    X(MemcpyHtoD, cuMemcpyHtoD, "cuMemcpyHtoD_v2", NULL)                                   \
    X(MemcpyDtoH, cuMemcpyDtoH, "cuMemcpyDtoH_v2", NULL)                                   \
    X(MemsetD8, cuMemsetD8, "cuMemsetD8_v2", NULL)                                         \
    X(MemsetD8Async, cuMemsetD8Async, "cuMemsetD8Async", NULL)                             \
    X(EventCreate, cuEventCreate, "cuEventCreate", NULL)                                   \
    X(EventDestroy, cuEventDestroy, "cuEventDestroy_v2", NULL)                             \
    X(EventRecord, cuEventRecord, "cuEventRecord", NULL)                                   \
    X(EventElapsedTime, cuEventElapsedTime, "cuEventElapsedTime_v2", "cuEventElapsedTime") \
    X(StreamIsCapturing, cuStreamIsCapturing, "cuStreamIsCapturing", NULL)

static struct {
#define X_(field, proto, sym, fallback) __typeof__(&proto) field;
    CU_SYMBOLS(X_)
#undef X_
} cu;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded;
static qg_status load_status = QG_ERR_NO_DRIVER; /* why !loaded */
static char lib_path[512]; /* the library that loaded, reopened by each context */
static void *lib_handle;   /* load()'s handle, never closed: optional symbols (tensormap.h) */
static char load_why[1024];

/* dlsym `name`, else `fallback` (may be NULL). Object pointer, cast by the caller (POSIX). */
static void *symbol(void *h, const char *name, const char *fallback) {
    void *p = dlsym(h, name);
    return (p || !fallback) ? p : dlsym(h, fallback);
}

static void load(void) {
    static const char *const sonames[] = {"libcuda.so.1", "libcuda.so"};
    const char *override = qg_getenv("QGEMM_CUDA_LIBRARY", NULL);
    const char *const *names = override ? &override : sonames;
    const int count = override ? 1 : QG_ARRAY_SIZE(sonames);
    void *h = NULL;
    char errs[640] = "";
    size_t used = 0;
    for (int i = 0; i < count && !h; i++) {
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h) {
            snprintf(lib_path, sizeof lib_path, "%s", names[i]);
        } else if (used < sizeof errs) {
            const char *e = dlerror();
            used += (size_t)snprintf(errs + used, sizeof errs - used, "%s%s", used ? "; " : "",
                                     e ? e : names[i]);
        }
    }
    if (!h) {
        snprintf(load_why, sizeof load_why, "CUDA driver library not found: tried %s (%s)%s",
                 override ? override : "libcuda.so.1, libcuda.so", errs,
                 override ? " [from QGEMM_CUDA_LIBRARY]" : "; is the NVIDIA driver installed?");
        return;
    }
#define X_(field, proto, sym, fallback)                         \
    cu.field = (__typeof__(&proto))symbol(h, sym, fallback);    \
    if (!cu.field) {                                            \
        snprintf(load_why, sizeof load_why,                     \
                 "CUDA driver library %s lacks symbol %s: the " \
                 "driver is too old",                           \
                 lib_path, sym);                                \
        load_status = QG_ERR_DRIVER_TOO_OLD;                    \
        dlclose(h);                                             \
        memset(&cu, 0, sizeof cu);                              \
        return;                                                 \
    }
    CU_SYMBOLS(X_)
#undef X_
    /* This first handle is never closed: the symbol table stays valid for the whole process
     * while each context holds (and on close drops) its own reference. */
    lib_handle = h;
    loaded = 1;
}

void *qg_cuda_driver_symbol(const char *name) {
    pthread_once(&load_once, load);
    return loaded ? dlsym(lib_handle, name) : NULL;
}

typedef struct {
    CUdevice dev;
    CUcontext primary;         /* NULL until retained */
    void *lib_ref;             /* this context's reference on libcuda */
    qg_graph_launcher *graphs; /* NULL: direct launches only */
} cuda_state;

static cuda_state *state(qg_context *ctx) { return (cuda_state *)ctx->backend; }

/* Record a driver error with its name and description; map it to a qg_status. */
static qg_status cu_fail(qg_context *ctx, CUresult r, qg_status fallback, const char *file,
                         int line, const char *what) {
    const char *name = NULL, *desc = NULL;
    if (cu.GetErrorName) cu.GetErrorName(r, &name);
    if (cu.GetErrorString) cu.GetErrorString(r, &desc);
    qg_status s = fallback;
    switch (r) {
    case CUDA_ERROR_OUT_OF_MEMORY: s = QG_ERR_OUT_OF_MEMORY; break;
    case CUDA_ERROR_NO_DEVICE:
    case CUDA_ERROR_INVALID_DEVICE: s = QG_ERR_NO_DEVICE; break;
    case CUDA_ERROR_UNSUPPORTED_PTX_VERSION: /* image newer than the driver */
    case CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE: s = QG_ERR_DRIVER_TOO_OLD; break;
    default: break;
    }
    return qg_set_error(ctx, s, file, line, "%s failed: %s (%s)", what, name ? name : "?",
                        desc ? desc : "unknown CUDA error");
}
#define CU_FAIL(ctx, r, fallback, what) cu_fail((ctx), (r), (fallback), __FILE__, __LINE__, (what))
#define CU_TRY(ctx, call, fallback)                                                 \
    do {                                                                            \
        CUresult cu_r_ = (call);                                                    \
        if (cu_r_ != CUDA_SUCCESS) return CU_FAIL((ctx), cu_r_, (fallback), #call); \
    } while (0)

/* Our primary context made current for one call; `pushed` if another one was current. */
typedef struct {
    int pushed;
} ctx_guard;

static qg_status enter(qg_context *ctx, ctx_guard *g) {
    g->pushed = 0;
    CUcontext cur = NULL;
    CU_TRY(ctx, cu.CtxGetCurrent(&cur), QG_ERR_DEVICE);
    if (cur == state(ctx)->primary) return QG_SUCCESS;
    if (!cur) {
        CU_TRY(ctx, cu.CtxSetCurrent(state(ctx)->primary), QG_ERR_DEVICE);
        return QG_SUCCESS;
    }
    CU_TRY(ctx, cu.CtxPushCurrent(state(ctx)->primary), QG_ERR_DEVICE);
    g->pushed = 1;
    return QG_SUCCESS;
}

static void leave(const ctx_guard *g) {
    CUcontext popped;
    if (g->pushed) cu.CtxPopCurrent(&popped);
}

/* A driver call in our context, its error recorded and mapped. */
#define CU_CALL(ctx, call, fallback)                                                \
    do {                                                                            \
        ctx_guard g_;                                                               \
        QG_CHECK(enter((ctx), &g_));                                                \
        CUresult cu_r_ = (call);                                                    \
        leave(&g_);                                                                 \
        if (cu_r_ != CUDA_SUCCESS) return CU_FAIL((ctx), cu_r_, (fallback), #call); \
    } while (0)

/* The same for calls whose failure nobody can act on (unload, destroy). */
#define CU_CALL_VOID(ctx, call)                     \
    do {                                            \
        ctx_guard g_;                               \
        if (enter((ctx), &g_) != QG_SUCCESS) break; \
        (void)(call);                               \
        leave(&g_);                                 \
    } while (0)

static void cuda_close(qg_context *ctx) {
    cuda_state *st = state(ctx);
    if (!st) return;
    if (st->graphs) { /* graph objects belong to the primary context: destroy them in it */
        ctx_guard g;
        if (st->primary && enter(ctx, &g) == QG_SUCCESS) {
            qg_graph_launcher_destroy(st->graphs);
            leave(&g);
        }
        st->graphs = NULL;
    }
    if (st->primary) cu.PrimaryCtxRelease(st->dev);
    if (st->lib_ref) dlclose(st->lib_ref);
    free(st);
    ctx->backend = NULL;
}

static qg_status fill_info(qg_context *ctx, cuda_state *st) {
    qg_device_info *in = &ctx->info;
    memset(in, 0, sizeof *in);
    static const struct {
        CUdevice_attribute attr;
        size_t offset;
    } attrs[] = {
        {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, offsetof(qg_device_info, cc_major)},
        {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, offsetof(qg_device_info, cc_minor)},
        {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, offsetof(qg_device_info, sm_count)},
        {CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, offsetof(qg_device_info, l2_bytes)},
        {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, offsetof(qg_device_info, smem_optin)},
    };
    for (int i = 0; i < QG_ARRAY_SIZE(attrs); i++)
        CU_TRY(ctx,
               cu.DeviceGetAttribute((int *)((char *)in + attrs[i].offset), attrs[i].attr, st->dev),
               QG_ERR_DEVICE);
    CU_TRY(ctx, cu.DeviceGetName(in->name, (int)sizeof in->name, st->dev), QG_ERR_DEVICE);
    CU_TRY(ctx, cu.DeviceTotalMem(&in->total_mem, st->dev), QG_ERR_DEVICE);
    CU_TRY(ctx, cu.DriverGetVersion(&in->driver_version), QG_ERR_DEVICE);
    /* sm_90a unlocks wgmma/setmaxnreg; its cubins run only on cc 9.0, which is what we have. */
    if (in->cc_major == 9 && in->cc_minor == 0) snprintf(in->arch, sizeof in->arch, "sm_90a");
    else snprintf(in->arch, sizeof in->arch, "sm_%d%d", in->cc_major, in->cc_minor);
    in->compiler_version = qg_compiler_nvrtc.version();
    in->backend = QG_BACKEND_CUDA;
    return QG_SUCCESS;
}

static qg_status open_device(qg_context *ctx, cuda_state *st, int device) {
    CUresult r = cu.Init(0);
    if (r != CUDA_SUCCESS) return CU_FAIL(ctx, r, QG_ERR_DEVICE, "cuInit");
    int count = 0;
    CU_TRY(ctx, cu.DeviceGetCount(&count), QG_ERR_DEVICE);
    QG_RETURN_IF(ctx, count == 0, QG_ERR_NO_DEVICE, "the CUDA driver (%s) reports no device",
                 lib_path);
    QG_RETURN_IF(ctx, device < 0 || device >= count, QG_ERR_NO_DEVICE,
                 "CUDA device %d requested but only %d present", device, count);
    CU_TRY(ctx, cu.DeviceGet(&st->dev, device), QG_ERR_DEVICE);

    char why[512];
    QG_RETURN_IF(ctx, qg_compiler_nvrtc.load(why, sizeof why) != QG_SUCCESS, QG_ERR_NO_COMPILER,
                 "%s", why);
    QG_CHECK(fill_info(ctx, st));
    CU_TRY(ctx, cu.PrimaryCtxRetain(&st->primary, st->dev), QG_ERR_DEVICE);
    st->graphs = qg_graph_launcher_create();
    return QG_SUCCESS;
}

static qg_status cuda_open(qg_context *ctx, int device) {
    pthread_once(&load_once, load);
    QG_RETURN_IF(ctx, !loaded, load_status, "%s", load_why);
    cuda_state *st = calloc(1, sizeof *st);
    QG_RETURN_IF(ctx, !st, QG_ERR_OUT_OF_MEMORY, "no memory for the CUDA backend");
    ctx->backend = st;
    st->lib_ref = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
    qg_status s = st->lib_ref ? open_device(ctx, st, device)
                              : QG_ERROR(ctx, QG_ERR_NO_DRIVER, "reopening %s failed", lib_path);
    if (s != QG_SUCCESS) cuda_close(ctx); /* keeps the message */
    return s;
}

static qg_status cuda_module_load(qg_context *ctx, const void *image, size_t size, void **module) {
    (void)size; /* a cubin is self-describing */
    CUmodule m = NULL;
    CU_CALL(ctx, cu.ModuleLoadData(&m, image), QG_ERR_DEVICE);
    *module = m;
    return QG_SUCCESS;
}

static void cuda_module_unload(qg_context *ctx, void *module) {
    if (module) CU_CALL_VOID(ctx, cu.ModuleUnload((CUmodule)module));
}

static qg_status cuda_function_get(qg_context *ctx, void *module, const char *name, void **fn) {
    CUfunction f = NULL;
    CUresult r = cu.ModuleGetFunction(&f, (CUmodule)module, name);
    if (r != CUDA_SUCCESS) {
        char what[192];
        snprintf(what, sizeof what, "cuModuleGetFunction(\"%s\")", name);
        return CU_FAIL(ctx, r, QG_ERR_INTERNAL, what);
    }
    *fn = f;
    return QG_SUCCESS;
}

static qg_status cuda_function_set_smem(qg_context *ctx, void *fn, int bytes) {
    CU_CALL(ctx,
            cu.FuncSetAttribute((CUfunction)fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                bytes),
            QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status cuda_function_static_smem(qg_context *ctx, void *fn, int *bytes) {
    CU_CALL(ctx, cu.FuncGetAttribute(bytes, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, (CUfunction)fn),
            QG_ERR_DEVICE);
    return QG_SUCCESS;
}

/* Through the stream's re-pointed graph where possible (cuda_graph_launch.c: less host
 * time); directly while the stream is being captured (the kernel becomes a node of the user's
 * graph, as cuLaunchKernel would make it) or when the graph path declines. */
static qg_status cuda_launch(qg_context *ctx, void *fn, const unsigned grid[3],
                             const unsigned block[3], unsigned smem, void *stream, void **params) {
    ctx_guard g;
    QG_CHECK(enter(ctx, &g));
    CUstreamCaptureStatus cap = CU_STREAM_CAPTURE_STATUS_NONE;
    CUresult r = CUDA_SUCCESS;
    const cuda_state *st = state(ctx);
    if (!st->graphs || cu.StreamIsCapturing((CUstream)stream, &cap) != CUDA_SUCCESS ||
        cap != CU_STREAM_CAPTURE_STATUS_NONE ||
        !qg_graph_launch(st->graphs, (CUfunction)fn, grid, block, smem, (CUstream)stream, params))
        r = cu.LaunchKernel((CUfunction)fn, grid[0], grid[1], grid[2], block[0], block[1], block[2],
                            smem, (CUstream)stream, params, NULL);
    leave(&g);
    if (r != CUDA_SUCCESS) return CU_FAIL(ctx, r, QG_ERR_LAUNCH, "cuLaunchKernel");
    return QG_SUCCESS;
}

static qg_status cuda_mem_alloc(qg_context *ctx, void **p, size_t bytes) {
    CUdeviceptr d = 0;
    CU_CALL(ctx, cu.MemAlloc(&d, bytes), QG_ERR_DEVICE);
    *p = (void *)(uintptr_t)d;
    return QG_SUCCESS;
}

static qg_status cuda_mem_free(qg_context *ctx, void *p) {
    CU_CALL(ctx, cu.MemFree((CUdeviceptr)(uintptr_t)p), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status cuda_memcpy_htod(qg_context *ctx, void *dst, const void *src, size_t bytes) {
    CU_CALL(ctx, cu.MemcpyHtoD((CUdeviceptr)(uintptr_t)dst, src, bytes), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status cuda_memcpy_dtoh(qg_context *ctx, void *dst, const void *src, size_t bytes) {
    CU_CALL(ctx, cu.MemcpyDtoH(dst, (CUdeviceptr)(uintptr_t)src, bytes), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status cuda_memset_d8(qg_context *ctx, void *dst, unsigned char v, size_t bytes) {
    CU_CALL(ctx, cu.MemsetD8((CUdeviceptr)(uintptr_t)dst, v, bytes), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status cuda_memset_d8_async(qg_context *ctx, void *dst, unsigned char v, size_t bytes,
                                      void *stream) {
    CU_CALL(ctx, cu.MemsetD8Async((CUdeviceptr)(uintptr_t)dst, v, bytes, (CUstream)stream),
            QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status cuda_synchronize(qg_context *ctx) {
    CU_CALL(ctx, cu.CtxSynchronize(), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status cuda_event_create(qg_context *ctx, void **ev) {
    CUevent e = NULL;
    CU_CALL(ctx, cu.EventCreate(&e, CU_EVENT_DEFAULT), QG_ERR_DEVICE);
    *ev = e;
    return QG_SUCCESS;
}

static void cuda_event_destroy(qg_context *ctx, void *ev) {
    if (ev) CU_CALL_VOID(ctx, cu.EventDestroy((CUevent)ev));
}

static qg_status cuda_event_record(qg_context *ctx, void *ev, void *stream) {
    CU_CALL(ctx, cu.EventRecord((CUevent)ev, (CUstream)stream), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status cuda_event_elapsed_ms(qg_context *ctx, void *start, void *end, float *ms) {
    CU_CALL(ctx, cu.EventElapsedTime(ms, (CUevent)start, (CUevent)end), QG_ERR_DEVICE);
    return QG_SUCCESS;
}

static qg_status cuda_stream_is_capturing(qg_context *ctx, void *stream, int *capturing) {
    CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
    CU_CALL(ctx, cu.StreamIsCapturing((CUstream)stream, &st), QG_ERR_DEVICE);
    *capturing = st != CU_STREAM_CAPTURE_STATUS_NONE; /* an invalidated capture is still one */
    return QG_SUCCESS;
}

/* For cuBLASLt: the CUDA runtime inside it works on whatever context is current. */
static qg_status cuda_ctx_enter(qg_context *ctx, int *token) {
    ctx_guard g;
    QG_CHECK(enter(ctx, &g));
    *token = g.pushed;
    return QG_SUCCESS;
}

static void cuda_ctx_leave(qg_context *ctx, int token) {
    (void)ctx;
    const ctx_guard g = {token};
    leave(&g);
}

const qg_backend_ops qg_backend_cuda = {
    /* .name = */ "cuda",
    /* .open = */ cuda_open,
    /* .close = */ cuda_close,
    /* .module_load = */ cuda_module_load,
    /* .module_unload = */ cuda_module_unload,
    /* .function_get = */ cuda_function_get,
    /* .function_set_smem = */ cuda_function_set_smem,
    /* .function_static_smem = */ cuda_function_static_smem,
    /* .launch = */ cuda_launch,
    /* .mem_alloc = */ cuda_mem_alloc,
    /* .mem_free = */ cuda_mem_free,
    /* .memcpy_htod = */ cuda_memcpy_htod,
    /* .memcpy_dtoh = */ cuda_memcpy_dtoh,
    /* .memset_d8 = */ cuda_memset_d8,
    /* .memset_d8_async = */ cuda_memset_d8_async,
    /* .synchronize = */ cuda_synchronize,
    /* .event_create = */ cuda_event_create,               /* optional */
    /* .event_destroy = */ cuda_event_destroy,             /* optional */
    /* .event_record = */ cuda_event_record,               /* optional */
    /* .event_elapsed_ms = */ cuda_event_elapsed_ms,       /* optional */
    /* .ctx_enter = */ cuda_ctx_enter,                     /* optional */
    /* .ctx_leave = */ cuda_ctx_leave,                     /* optional */
    /* .tensor_map_encode = */ qg_cuda_tensor_map_encode,  /* optional (cuda_tensormap.c) */
    /* .stream_is_capturing = */ cuda_stream_is_capturing, /* optional */
};
