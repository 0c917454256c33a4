/*
 * A fake libcuda for CPU tests: exports the driver symbols the CUDA backend dlsyms (with the
 * ABI names cuda.h maps them to), backed by host memory, so tests can drive context creation,
 * the JIT (real NVRTC cubins are checked and "loaded") and error mapping without a GPU.
 * Tests point QGEMM_CUDA_LIBRARY at it. Behaviour from the environment, read at cuInit:
 *   FAKE_CUDA_INIT=<CUresult>  cuInit returns this (e.g. 100 = CUDA_ERROR_NO_DEVICE)
 *   FAKE_CUDA_COUNT=<n>        number of devices (default 1)
 *   FAKE_CUDA_CC=<major*10+minor>  compute capability (default 90)
 *   FAKE_CUDA_DIE=<device>:<n> the process kills itself (SIGKILL) at its n-th launch on that
 *                              device, as a tuning worker whose GPU faulted or that the OOM
 *                              killer took would die: no exit handler, no cleanup
 *   FAKE_CUDA_NO_FORK=1        cuInit fails (CUDA_ERROR_NOT_INITIALIZED) in a process forked
 *                              from one that had initialized the driver, whose state the real
 *                              driver does not carry across fork()
 * Calls that need a context fail with CUDA_ERROR_INVALID_CONTEXT (and are counted) unless a
 * primary context is current on the calling thread, so the backend's context handling is tested;
 * fake_cuda_use_other_context() makes a foreign context current, as torch on another GPU would.
 */
#include "fake_trace.h"

#include <cuda.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

struct CUctx_st {
    int device;
};
struct CUmod_st {
    int magic;
};
struct CUfunc_st {
    int max_dyn_smem;
};
struct CUevent_st {
    int recorded;
};

static struct CUctx_st primary[8];
static _Thread_local CUcontext current;
static int initialized, device_count = 1, cc = 90;
static int die_device = -1, die_at; /* FAKE_CUDA_DIE */
static atomic_int die_launches;
static pid_t init_pid; /* FAKE_CUDA_NO_FORK */
static atomic_int retains, releases, modules_loaded, modules_unloaded, launches, last_smem,
    ctx_errors, allocs, frees;

/* Counters for the tests: retains, releases, modules loaded, unloaded, launches, last dynamic
 * smem attribute, calls refused for lack of a current context, allocations, frees. */
EXPORT void fake_cuda_stats(int out[9]) {
    out[0] = retains;
    out[1] = releases;
    out[2] = modules_loaded;
    out[3] = modules_unloaded;
    out[4] = launches;
    out[5] = last_smem;
    out[6] = ctx_errors;
    out[7] = allocs;
    out[8] = frees;
}

static int env_int(const char *name, int fallback) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : fallback;
}

/* A context that is not ours, as torch's for another GPU would be. */
static struct CUctx_st other_ctx = {.device = 99};
static _Thread_local CUcontext stack[8];
static _Thread_local int depth;

EXPORT void fake_cuda_use_other_context(void) { current = &other_ctx; }
EXPORT int fake_cuda_current_is_other(void) { return current == &other_ctx && depth == 0; }

static CUresult need_ctx(void) {
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (!current || current == &other_ctx) { /* the real driver would work in the wrong one */
        ctx_errors++;
        return CUDA_ERROR_INVALID_CONTEXT;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuInit(unsigned int flags) {
    (void)flags;
    const int err = env_int("FAKE_CUDA_INIT", 0);
    if (err) return (CUresult)err;
    if (initialized && init_pid != getpid() && env_int("FAKE_CUDA_NO_FORK", 0))
        return CUDA_ERROR_NOT_INITIALIZED;
    init_pid = getpid();
    device_count = env_int("FAKE_CUDA_COUNT", 1);
    cc = env_int("FAKE_CUDA_CC", 90);
    const char *die = getenv("FAKE_CUDA_DIE");
    if (!die || sscanf(die, "%d:%d", &die_device, &die_at) != 2) die_device = -1;
    initialized = 1;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDriverGetVersion(int *v) {
    *v = 13000;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuGetErrorName(CUresult e, const char **s) {
    switch (e) {
    case CUDA_SUCCESS: *s = "CUDA_SUCCESS"; return CUDA_SUCCESS;
    case CUDA_ERROR_NO_DEVICE: *s = "CUDA_ERROR_NO_DEVICE"; return CUDA_SUCCESS;
    case CUDA_ERROR_INVALID_CONTEXT: *s = "CUDA_ERROR_INVALID_CONTEXT"; return CUDA_SUCCESS;
    case CUDA_ERROR_OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; return CUDA_SUCCESS;
    case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
        *s = "CUDA_ERROR_UNSUPPORTED_PTX_VERSION";
        return CUDA_SUCCESS;
    case CUDA_ERROR_NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; return CUDA_SUCCESS;
    case CUDA_ERROR_NOT_INITIALIZED: *s = "CUDA_ERROR_NOT_INITIALIZED"; return CUDA_SUCCESS;
    default: *s = "CUDA_ERROR_FAKE"; return CUDA_SUCCESS;
    }
}

EXPORT CUresult cuGetErrorString(CUresult e, const char **s) {
    *s = e == CUDA_ERROR_NO_DEVICE ? "no CUDA-capable device is detected" : "fake driver error";
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetCount(int *n) {
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    *n = device_count;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGet(CUdevice *d, int ordinal) {
    if (ordinal < 0 || ordinal >= device_count) return CUDA_ERROR_INVALID_DEVICE;
    *d = ordinal;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
    (void)d;
    strncpy(name, "Fake GPU", (size_t)len);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceTotalMem(size_t *bytes, CUdevice d) {
    (void)d;
    *bytes = (size_t)80 << 30;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetAttribute(int *v, CUdevice_attribute a, CUdevice d) {
    (void)d;
    switch (a) {
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = cc / 10; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = cc % 10; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = 132; break;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: *v = 50 << 20; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *v = 232448; break;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d) {
    retains++;
    primary[d].device = d;
    *c = &primary[d];
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice d) {
    (void)d;
    releases++;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetCurrent(CUcontext *c) {
    *c = current;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSetCurrent(CUcontext c) {
    current = c;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxPushCurrent(CUcontext c) {
    if (depth == 8) return CUDA_ERROR_INVALID_VALUE;
    stack[depth++] = current;
    current = c;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxPopCurrent(CUcontext *c) {
    if (depth == 0) return CUDA_ERROR_INVALID_CONTEXT;
    *c = current;
    current = stack[--depth];
    return CUDA_SUCCESS;
}

static int any_capturing(void); /* stream capture, at the end */

EXPORT CUresult cuCtxSynchronize(void) {
    CUresult r = need_ctx();
    return r ? r : any_capturing() ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED : CUDA_SUCCESS;
}

EXPORT CUresult cuModuleLoadData(CUmodule *m, const void *image) {
    CUresult r = need_ctx();
    if (r) return r;
    /* a cubin, or PTX text as the benches load (".version ..." first) */
    if (memcmp(image,
               "\x7f"
               "ELF",
               4) != 0 &&
        memcmp(image, ".version", 8) != 0)
        return CUDA_ERROR_INVALID_IMAGE;
    *m = calloc(1, sizeof **m);
    modules_loaded++;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleUnload(CUmodule m) {
    CUresult r = need_ctx();
    if (r) return r;
    free(m);
    modules_unloaded++;
    return CUDA_SUCCESS;
}

static struct CUfunc_st functions[1024];
static atomic_int function_count;

EXPORT CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name) {
    (void)m;
    if (!name || !*name || strstr(name, "missing")) return CUDA_ERROR_NOT_FOUND;
    int i = function_count++;
    if (i >= 1024) return CUDA_ERROR_OUT_OF_MEMORY;
    *f = &functions[i];
    return CUDA_SUCCESS;
}

EXPORT CUresult cuFuncGetAttribute(int *v, CUfunction_attribute a, CUfunction f) {
    if (a == CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES) *v = 1024;
    else if (a == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) *v = f->max_dyn_smem;
    else return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuFuncSetAttribute(CUfunction f, CUfunction_attribute a, int v) {
    if (a != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES || v + 1024 > 232448)
        return CUDA_ERROR_INVALID_VALUE;
    f->max_dyn_smem = v;
    last_smem = v;
    return CUDA_SUCCESS;
}

/* Launch capture for tests that check a kernel's argument list: after
 * fake_cuda_capture_params(sizes, n), each launch copies params[i] (sizes[i] bytes each) into
 * a buffer that fake_cuda_captured() returns, with the geometry {gx, gy, gz, bx, by, bz, smem}. */
static int capture_sizes[32], capture_count;
static unsigned char captured[2048];
static unsigned captured_geometry[7];
static pthread_mutex_t capture_lock = PTHREAD_MUTEX_INITIALIZER;

EXPORT void fake_cuda_capture_params(const int *sizes, int n) {
    capture_count = n < 32 ? n : 32;
    for (int i = 0; i < capture_count; i++) capture_sizes[i] = sizes[i];
}

EXPORT const unsigned char *fake_cuda_captured(unsigned geometry[7]) {
    memcpy(geometry, captured_geometry, sizeof captured_geometry);
    return captured;
}

/* The launch trace of tests/fake_trace.h (single-threaded tests only). */
static fake_event trace[FAKE_TRACE_MAX];
static int trace_on, trace_count;

EXPORT void fake_cuda_trace_start(int on) {
    trace_on = on;
    trace_count = 0;
}

EXPORT void fake_cuda_trace_add(const fake_event *e) {
    if (trace_on && trace_count < FAKE_TRACE_MAX) trace[trace_count++] = *e;
}

EXPORT int fake_cuda_trace_get(const fake_event **events) {
    *events = trace;
    return trace_count;
}

/* fake_cuda_set_launch_hook(fn): every launch also calls fn(grid x, block x, params), so a test
 * can play a kernel's part on host memory (the CUTLASS probe's output: test_cutlass_launch). */
static void (*launch_hook)(unsigned gx, unsigned bx, void **params);
EXPORT void fake_cuda_set_launch_hook(void (*hook)(unsigned, unsigned, void **)) {
    launch_hook = hook;
}

static CUresult launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                       unsigned by, unsigned bz, unsigned smem, CUstream s, void **params) {
    CUresult r = need_ctx();
    if (r) return r;
    if (gx == 0 || bx == 0 || bx > 1024 || (int)smem > f->max_dyn_smem + 48 * 1024)
        return CUDA_ERROR_INVALID_VALUE;
    if (launch_hook) launch_hook(gx, bx, params);
    const unsigned geo[7] = {gx, gy, gz, bx, by, bz, smem};
    pthread_mutex_lock(&capture_lock); /* threads may launch at once: the last one is kept */
    memcpy(captured_geometry, geo, sizeof geo);
    size_t at = 0;
    for (int i = 0; i < capture_count && at + (size_t)capture_sizes[i] <= sizeof captured; i++) {
        memcpy(captured + at, params[i], (size_t)capture_sizes[i]);
        at += (size_t)capture_sizes[i];
    }
    pthread_mutex_unlock(&capture_lock);
    if (trace_on) {
        fake_event e = {.kind = FAKE_EV_LAUNCH, .stream = s, .grid = {gx, gy, gz}, .block = bx};
        memcpy(e.params, captured, sizeof e.params < at ? sizeof e.params : at);
        fake_cuda_trace_add(&e);
    }
    launches++;
    if (current->device == die_device && ++die_launches >= die_at) raise(SIGKILL);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                               unsigned by, unsigned bz, unsigned smem, CUstream s, void **params,
                               void **extra) {
    (void)extra;
    return launch(f, gx, gy, gz, bx, by, bz, smem, s, params);
}

/* Graphs of one kernel node (what src/runtime/cuda_graph_launch.c builds). As in the driver, a node
 * keeps a copy of the argument values taken when its parameters are set (sizes from
 * fake_cuda_capture_params; none kept without them, as a launch then reads none), so a caller
 * that reused or freed its argument array after the set would still launch what it set. */
typedef struct {
    CUfunction f;
    unsigned geo[7];
    unsigned char bytes[2048];
    void *ptrs[32];
} fake_node;
struct CUgraph_st {
    fake_node node;
    int has_node;
};
struct CUgraphNode_st {
    int unused;
};
struct CUgraphExec_st {
    fake_node node;
};
static struct CUgraphNode_st the_node;
static atomic_int graph_launches, graph_sets, function_changes, geometry_changes;

/* Kernel launches through cuGraphLaunch, cuGraphExecKernelNodeSetParams calls, and the calls
 * among those that re-pointed the node at another function or another launch geometry. */
EXPORT void fake_cuda_graph_stats(int out[4]) {
    out[0] = graph_launches;
    out[1] = graph_sets;
    out[2] = function_changes;
    out[3] = geometry_changes;
}

static CUresult node_set(fake_node *n, const CUDA_KERNEL_NODE_PARAMS *p) {
    if (!p->func || p->gridDimX == 0 || p->blockDimX == 0 || p->blockDimX > 1024 || p->extra ||
        (!p->kernelParams && capture_count))
        return CUDA_ERROR_INVALID_VALUE; /* the `extra` form is beyond this fake */
    const unsigned geo[7] = {p->gridDimX,  p->gridDimY,  p->gridDimZ,      p->blockDimX,
                             p->blockDimY, p->blockDimZ, p->sharedMemBytes};
    n->f = p->func;
    memcpy(n->geo, geo, sizeof geo);
    size_t at = 0;
    for (int i = 0; i < capture_count && at + (size_t)capture_sizes[i] <= sizeof n->bytes; i++) {
        memcpy(n->bytes + at, p->kernelParams[i], (size_t)capture_sizes[i]);
        n->ptrs[i] = n->bytes + at;
        at += (size_t)capture_sizes[i];
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuGraphCreate(CUgraph *g, unsigned flags) {
    CUresult r = need_ctx();
    if (r) return r;
    if (flags) return CUDA_ERROR_INVALID_VALUE;
    *g = calloc(1, sizeof **g);
    return *g ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

EXPORT CUresult cuGraphDestroy(CUgraph g) {
    free(g);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuGraphAddKernelNode_v2(CUgraphNode *node, CUgraph g, const CUgraphNode *deps,
                                        size_t ndeps, const CUDA_KERNEL_NODE_PARAMS *p) {
    CUresult r = need_ctx();
    if (r) return r;
    if (g->has_node || deps || ndeps) return CUDA_ERROR_NOT_SUPPORTED; /* beyond this fake */
    if ((r = node_set(&g->node, p))) return r;
    g->has_node = 1;
    *node = &the_node;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec *e, CUgraph g, unsigned long long flags) {
    CUresult r = need_ctx();
    if (r) return r;
    if (flags || !g->has_node) return CUDA_ERROR_INVALID_VALUE;
    if (!(*e = malloc(sizeof **e))) return CUDA_ERROR_OUT_OF_MEMORY;
    (*e)->node = g->node;
    for (int i = 0; i < 32; i++) /* the copy's pointers point into the copy */
        if (g->node.ptrs[i])
            (*e)->node.ptrs[i] = (*e)->node.bytes +
                                 ((unsigned char *)g->node.ptrs[i] - g->node.bytes);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuGraphExecDestroy(CUgraphExec e) {
    free(e);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuGraphExecKernelNodeSetParams_v2(CUgraphExec e, CUgraphNode node,
                                                  const CUDA_KERNEL_NODE_PARAMS *p) {
    CUresult r = need_ctx();
    if (r) return r;
    if (node != &the_node) return CUDA_ERROR_INVALID_VALUE;
    graph_sets++;
    if (p && p->func != e->node.f) function_changes++;
    if (p) {
        const unsigned geo[7] = {p->gridDimX,  p->gridDimY,  p->gridDimZ,      p->blockDimX,
                                 p->blockDimY, p->blockDimZ, p->sharedMemBytes};
        if (memcmp(geo, e->node.geo, sizeof geo)) geometry_changes++;
    }
    return node_set(&e->node, p);
}

EXPORT CUresult cuGraphLaunch(CUgraphExec e, CUstream s) {
    const fake_node *n = &e->node;
    const CUresult r = launch(n->f, n->geo[0], n->geo[1], n->geo[2], n->geo[3], n->geo[4],
                              n->geo[5], n->geo[6], s, (void **)n->ptrs);
    if (r == CUDA_SUCCESS) graph_launches++;
    return r;
}

/* cuTensorMapEncodeTiled: the rules documented in cuda.h (CUDA_ERROR_INVALID_VALUE otherwise);
 * the map's 128 bytes receive the arguments as a fake_tmap record (fake_trace.h). */
_Static_assert(sizeof(fake_tmap) <= sizeof(CUtensorMap), "record fits in a map");

EXPORT CUresult cuTensorMapEncodeTiled(CUtensorMap *map, CUtensorMapDataType type, cuuint32_t rank,
                                       void *address, const cuuint64_t *dim,
                                       const cuuint64_t *strides, const cuuint32_t *box,
                                       const cuuint32_t *estrides, CUtensorMapInterleave interleave,
                                       CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2,
                                       CUtensorMapFloatOOBfill oob) {
    static const int elem[] = {1, 2, 4, 4, 8, 8, 2, 4, 8, 2, 4, 4, 4};
    if (!map || ((uintptr_t)map & 63) || rank < 1 || rank > 5 || (int)type < 0 || (int)type > 12 ||
        !address || ((uintptr_t)address & 15) || interleave != CU_TENSOR_MAP_INTERLEAVE_NONE)
        return CUDA_ERROR_INVALID_VALUE;
    const uint64_t es = (uint64_t)elem[type];
    for (cuuint32_t i = 0; i < rank; i++)
        if (dim[i] == 0 || dim[i] > (1ull << 32) || box[i] == 0 || box[i] > 256 ||
            estrides[i] == 0 || estrides[i] > 8)
            return CUDA_ERROR_INVALID_VALUE;
    for (cuuint32_t i = 0; i + 1 < rank; i++)
        if (strides[i] % 16 || strides[i] >= (1ull << 40)) return CUDA_ERROR_INVALID_VALUE;
    if ((box[0] * es) % 16) return CUDA_ERROR_INVALID_VALUE;
    const uint64_t span = swizzle == CU_TENSOR_MAP_SWIZZLE_32B    ? 32
                          : swizzle == CU_TENSOR_MAP_SWIZZLE_64B  ? 64
                          : swizzle == CU_TENSOR_MAP_SWIZZLE_NONE ? 0
                                                                  : 128;
    if (span && box[0] * es > span) return CUDA_ERROR_INVALID_VALUE;
    /* the record keeps the first two dimensions (rank-1 maps: a second of 1) */
    const int two = rank > 1;
    fake_tmap t = {FAKE_TMAP_MAGIC,
                   (uint64_t)(uintptr_t)address,
                   {dim[0], two ? dim[1] : 1},
                   two ? strides[0] : 0,
                   {box[0], two ? box[1] : 1},
                   {estrides[0], two ? estrides[1] : 1},
                   (int32_t)type,
                   (int32_t)rank,
                   (int32_t)interleave,
                   (int32_t)swizzle,
                   (int32_t)l2,
                   (int32_t)oob};
    memset(map, 0, sizeof *map);
    memcpy(map, &t, sizeof t);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAlloc(CUdeviceptr *p, size_t n) {
    CUresult r = need_ctx();
    if (r) return r;
    if (any_capturing()) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    if (n > ((size_t)1 << 40)) return CUDA_ERROR_OUT_OF_MEMORY;
    void *h = malloc(n);
    if (!h) return CUDA_ERROR_OUT_OF_MEMORY;
    memset(h, 0xa5, n); /* the real driver does not zero: neither do we */
    allocs++;
    *p = (CUdeviceptr)(uintptr_t)h;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemFree(CUdeviceptr p) {
    CUresult r = need_ctx();
    if (r) return r;
    free((void *)(uintptr_t)p);
    frees++;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyHtoD(CUdeviceptr d, const void *s, size_t n) {
    CUresult r = need_ctx();
    if (!r) memcpy((void *)(uintptr_t)d, s, n);
    return r;
}

EXPORT CUresult cuMemcpyDtoH(void *d, CUdeviceptr s, size_t n) {
    CUresult r = need_ctx();
    if (!r) memcpy(d, (const void *)(uintptr_t)s, n);
    return r;
}

EXPORT CUresult cuMemsetD8(CUdeviceptr d, unsigned char v, size_t n) {
    CUresult r = need_ctx();
    if (!r) memset((void *)(uintptr_t)d, v, n);
    return r;
}

EXPORT CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream s) {
    const CUresult r = cuMemsetD8(d, v, n);
    if (!r && trace_on) {
        const fake_event e = {.kind = FAKE_EV_MEMSET,
                              .stream = s,
                              .ptr = (const void *)(uintptr_t)d,
                              .bytes = n,
                              .value = v};
        fake_cuda_trace_add(&e);
    }
    return r;
}

EXPORT CUresult cuEventCreate(CUevent *e, unsigned flags) {
    (void)flags;
    CUresult r = need_ctx();
    if (r) return r;
    *e = calloc(1, sizeof **e);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventDestroy(CUevent e) {
    free(e);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventRecord(CUevent e, CUstream s) {
    (void)s;
    CUresult r = need_ctx();
    if (!r) e->recorded = 1;
    return r;
}

EXPORT CUresult cuEventElapsedTime(float *ms, CUevent a, CUevent b) {
    if (!a->recorded || !b->recorded) return CUDA_ERROR_NOT_READY;
    *ms = 0.5f;
    return CUDA_SUCCESS;
}

/* Stream capture: fake_cuda_set_capturing(s, 1) marks stream s as capturing in global mode;
 * while any stream is, cuMemAlloc fails as the real driver's does. */
static CUstream capturing_streams[8];

EXPORT void fake_cuda_set_capturing(CUstream s, int on) {
    for (int i = 0; i < 8; i++) {
        if (on && !capturing_streams[i]) {
            capturing_streams[i] = s;
            return;
        }
        if (!on && capturing_streams[i] == s) capturing_streams[i] = NULL;
    }
}

static int any_capturing(void) {
    for (int i = 0; i < 8; i++)
        if (capturing_streams[i]) return 1;
    return 0;
}

/* Streams the benches create: distinct handles, nothing behind them (work runs at once). */
static atomic_int streams_created;

EXPORT CUresult cuStreamCreate(CUstream *s, unsigned flags) {
    (void)flags;
    CUresult r = need_ctx();
    if (r) return r;
    *s = (CUstream)(uintptr_t)(0x7f000000u + 16u * (unsigned)++streams_created);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamDestroy_v2(CUstream s) {
    (void)s;
    return need_ctx();
}

EXPORT CUresult cuStreamSynchronize(CUstream s) {
    CUresult r = need_ctx();
    if (r) return r;
    for (int i = 0; i < 8; i++)
        if (s && capturing_streams[i] == s) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamIsCapturing(CUstream s, CUstreamCaptureStatus *status) {
    CUresult r = need_ctx();
    if (r) return r;
    *status = CU_STREAM_CAPTURE_STATUS_NONE;
    for (int i = 0; i < 8; i++)
        if (s && capturing_streams[i] == s) *status = CU_STREAM_CAPTURE_STATUS_ACTIVE;
    return CUDA_SUCCESS;
}
