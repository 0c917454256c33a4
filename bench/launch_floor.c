/* launch_floor: host time of the driver's own kernel launch on this machine, by launch path.
 * qg_gemm's host overhead is one cuLaunchKernel plus our dispatch; this program measures the
 * first part alone so the two can be told apart, and shows which launch path is cheapest here.
 * Empty PTX kernels (nothing runs on the GPU long enough to back up the queue), batches of
 * 100 launches between stream synchronizations, median (p20, p80) over 200 batches.
 *   usage: launch_floor [--help]   (needs a CUDA GPU and libcuda.so.1) */
#define _GNU_SOURCE
#include "bench_util.h"

#include <cuda.h>
#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    CUresult (*Init)(unsigned);
    CUresult (*DeviceGet)(CUdevice *, int);
    CUresult (*DevicePrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*CtxSetCurrent)(CUcontext);
    CUresult (*StreamCreate)(CUstream *, unsigned);
    CUresult (*StreamSynchronize)(CUstream);
    CUresult (*StreamBeginCapture)(CUstream, CUstreamCaptureMode);
    CUresult (*StreamEndCapture)(CUstream, CUgraph *);
    CUresult (*GraphInstantiate)(CUgraphExec *, CUgraph, unsigned long long);
    CUresult (*GraphLaunch)(CUgraphExec, CUstream);
    CUresult (*GraphCreate)(CUgraph *, unsigned);
    CUresult (*GraphAddKernelNode)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t,
                                   const CUDA_KERNEL_NODE_PARAMS *);
    CUresult (*GraphExecKernelNodeSetParams)(CUgraphExec, CUgraphNode,
                                             const CUDA_KERNEL_NODE_PARAMS *);
    CUresult (*ModuleLoadData)(CUmodule *, const void *);
    CUresult (*ModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, CUstream, void **, void **);
    CUresult (*LaunchKernelEx)(const CUlaunchConfig *, CUfunction, void **, void **);
    CUresult (*StreamIsCapturing)(CUstream, CUstreamCaptureStatus *);
} cu;

#define CHECK(call)                                                            \
    do {                                                                       \
        CUresult r_ = (call);                                                  \
        if (r_ != CUDA_SUCCESS) {                                              \
            fprintf(stderr, "launch_floor: %s failed (%d)\n", #call, (int)r_); \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

/* Twelve u64 arguments (a GEMM's pointer list) and one 120-byte struct (our weight-only
 * kernels' parameter block). */
static const char ptx[] =
    ".version 7.0\n.target sm_80\n.address_size 64\n"
    ".visible .entry qg_empty12(.param .u64 a0, .param .u64 a1, .param .u64 a2, .param .u64 a3,"
    " .param .u64 a4, .param .u64 a5, .param .u64 a6, .param .u64 a7, .param .u64 a8,"
    " .param .u64 a9, .param .u64 a10, .param .u64 a11)\n{\nret;\n}\n"
    ".visible .entry qg_empty_struct(.param .align 8 .b8 p[120])\n{\nret;\n}\n";

enum { BATCH = 100, ROUNDS = 200 };
typedef enum {
    PARAMS,
    EXTRA,
    EX,
    GRAPH,
    GRAPH_SET,
    GRAPH_SET_STRUCT,
    GRAPH_SET_EXTRA,
    GRAPH_SET_ALT,
    GRAPH_SET_ALT2,
    GRAPH_SET_GRID,
    CAPTURE_QUERY
} path;

static CUfunction f12, fstruct;
static CUstream stream;
static CUgraphExec graph, node_graph, node_graph2;
static CUgraphNode node, node2;
static CUDA_KERNEL_NODE_PARAMS node_params;
static unsigned long long args12[12];
static void *params12[12];
static unsigned char block120[120];
static void *params_struct[1] = {block120};

static CUresult launch(path how, unsigned grid, unsigned threads, int use_struct) {
    CUfunction f = use_struct ? fstruct : f12;
    void **params = use_struct ? params_struct : params12;
    switch (how) {
    case PARAMS: return cu.LaunchKernel(f, grid, 1, 1, threads, 1, 1, 0, stream, params, NULL);
    case EXTRA: {
        size_t size = use_struct ? sizeof block120 : sizeof args12;
        void *buf = use_struct ? (void *)block120 : (void *)args12;
        void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
                         CU_LAUNCH_PARAM_END};
        return cu.LaunchKernel(f, grid, 1, 1, threads, 1, 1, 0, stream, NULL, extra);
    }
    case EX: {
        CUlaunchConfig c = {.gridDimX = grid,
                            .gridDimY = 1,
                            .gridDimZ = 1,
                            .blockDimX = threads,
                            .blockDimY = 1,
                            .blockDimZ = 1,
                            .hStream = stream};
        return cu.LaunchKernelEx(&c, f, params, NULL);
    }
    case GRAPH: return cu.GraphLaunch(graph, stream);
    case GRAPH_SET:        /* new argument values each time, as a GEMM call would bring */
    case GRAPH_SET_STRUCT: /* one 120-byte struct argument (the weight-only kernels) */
    case GRAPH_SET_EXTRA:  /* the 12 arguments as one packed buffer */
    case GRAPH_SET_ALT:    /* two kernels in turn, as consecutive layers would launch */
    case GRAPH_SET_ALT2:   /* the same, each kernel in its own graph (cuda_graph_launch.c) */
    case GRAPH_SET_GRID: { /* one kernel, two grid sizes in turn (two shapes, one variant) */
        static size_t size12 = sizeof args12;
        static void *extra12[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, args12,
                                  CU_LAUNCH_PARAM_BUFFER_SIZE, &size12, CU_LAUNCH_PARAM_END};
        static unsigned turn;
        const int odd = turn++ & 1;
        const int st = how == GRAPH_SET_STRUCT ||
                       ((how == GRAPH_SET_ALT || how == GRAPH_SET_ALT2) && odd);
        args12[0]++;
        block120[0]++;
        node_params.func = st ? fstruct : f12;
        node_params.kernelParams = how == GRAPH_SET_EXTRA ? NULL : st ? params_struct : params12;
        node_params.extra = how == GRAPH_SET_EXTRA ? extra12 : NULL;
        node_params.gridDimX = how == GRAPH_SET_GRID && odd ? grid / 2 : grid;
        node_params.blockDimX = threads;
        const int second = how == GRAPH_SET_ALT2 && st;
        CUgraphExec e = second ? node_graph2 : node_graph;
        const CUresult r = cu.GraphExecKernelNodeSetParams(e, second ? node2 : node, &node_params);
        return r != CUDA_SUCCESS ? r : cu.GraphLaunch(e, stream);
    }
    case CAPTURE_QUERY: { /* what the library asks before each graph launch */
        CUstreamCaptureStatus c;
        return cu.StreamIsCapturing(stream, &c);
    }
    }
    return CUDA_ERROR_INVALID_VALUE;
}

static void measure(const char *name, path how, unsigned grid, unsigned threads, int use_struct) {
    double t[ROUNDS];
    const CUresult r = launch(how, grid, threads, use_struct);
    if (r != CUDA_SUCCESS) { /* a path this driver refuses: say so, time the others */
        printf("| %-52s | refused (CUresult %d) | | |\n", name, (int)r);
        return;
    }
    for (int i = 0; i < 10 * BATCH; i++) launch(how, grid, threads, use_struct); /* warm-up */
    for (int r = 0; r < ROUNDS; r++) {
        CHECK(cu.StreamSynchronize(stream));
        const double t0 = qg_bench_now_us();
        for (int i = 0; i < BATCH; i++) launch(how, grid, threads, use_struct);
        t[r] = (qg_bench_now_us() - t0) / BATCH;
    }
    CHECK(cu.StreamSynchronize(stream));
    qsort(t, ROUNDS, sizeof(double), qg_bench_cmp_double);
    printf("| %-52s | %6.2f | %6.2f | %6.2f |\n", name, t[ROUNDS / 2], t[ROUNDS / 5],
           t[ROUNDS * 4 / 5]);
}

static void table(const char *title) {
    printf("\n%s\n\n| launch path | median us | p20 | p80 |\n|---|---|---|---|\n", title);
    measure("cuLaunchKernel, 12 x u64 kernelParams, 132 x 128", PARAMS, 132, 128, 0);
    measure("cuLaunchKernel, 12 x u64 kernelParams, 1 x 32", PARAMS, 1, 32, 0);
    measure("cuLaunchKernel, 120-byte struct kernelParams, 132 x 128", PARAMS, 132, 128, 1);
    measure("cuLaunchKernel, 12 x u64 as one extra buffer, 132 x 128", EXTRA, 132, 128, 0);
    measure("cuLaunchKernelEx, 12 x u64 kernelParams, 132 x 128", EX, 132, 128, 0);
    measure("cuGraphLaunch of one captured kernel node", GRAPH, 0, 0, 0);
    measure("cuGraphExecKernelNodeSetParams + cuGraphLaunch, 132 x 128", GRAPH_SET, 132, 128, 0);
    measure("  the same, one 120-byte struct argument", GRAPH_SET_STRUCT, 132, 128, 0);
    measure("  the same, 12 x u64 as one extra buffer", GRAPH_SET_EXTRA, 132, 128, 0);
    measure("  the same, the two kernels in turn", GRAPH_SET_ALT, 132, 128, 0);
    measure("  the same, two kernels in turn, a graph each", GRAPH_SET_ALT2, 132, 128, 0);
    measure("  the same, one kernel, grid 132 and 66 in turn", GRAPH_SET_GRID, 132, 128, 0);
    measure("cuStreamIsCapturing alone", CAPTURE_QUERY, 0, 0, 0);
}

int main(int argc, char **argv) {
    if (argc > 1) {
        const int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
        if (!help) fprintf(stderr, "launch_floor: unknown argument '%s'\n", argv[1]);
        fprintf(help ? stdout : stderr,
                "usage: launch_floor\n"
                "  Host time per launch of empty kernels, by launch path: cuLaunchKernel (12\n"
                "  arguments, one struct, one buffer), cuLaunchKernelEx, a captured graph, a\n"
                "  one-node graph re-pointed per launch (12 arguments, one struct, one buffer, two\n"
                "  kernels in turn on one graph or a graph each, two grid sizes in turn), and\n"
                "  cuStreamIsCapturing alone; unpinned, then pinned to a CPU.\n");
        return help ? 0 : 2;
    }
    void *h = dlopen("libcuda.so.1", RTLD_NOW);
    if (!h) {
        fprintf(stderr, "launch_floor: libcuda.so.1 not found (%s)\n", dlerror());
        return 1;
    }
#define SYM(f, name)                                         \
    if (!(*(void **)&cu.f = dlsym(h, name))) {               \
        fprintf(stderr, "launch_floor: %s missing\n", name); \
        return 1;                                            \
    }
    /* statements without semicolons, which clang-format would indent as a staircase */
    /* clang-format off */
    SYM(Init, "cuInit") SYM(DeviceGet, "cuDeviceGet")
    SYM(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain") SYM(CtxSetCurrent, "cuCtxSetCurrent")
    SYM(StreamCreate, "cuStreamCreate") SYM(StreamSynchronize, "cuStreamSynchronize")
    SYM(StreamBeginCapture, "cuStreamBeginCapture_v2") SYM(StreamEndCapture, "cuStreamEndCapture")
    SYM(GraphInstantiate, "cuGraphInstantiateWithFlags") SYM(GraphLaunch, "cuGraphLaunch")
    SYM(ModuleLoadData, "cuModuleLoadData") SYM(ModuleGetFunction, "cuModuleGetFunction")
    SYM(LaunchKernel, "cuLaunchKernel") SYM(LaunchKernelEx, "cuLaunchKernelEx")
    SYM(StreamIsCapturing, "cuStreamIsCapturing")
    SYM(GraphCreate, "cuGraphCreate") SYM(GraphAddKernelNode, "cuGraphAddKernelNode_v2")
    SYM(GraphExecKernelNodeSetParams, "cuGraphExecKernelNodeSetParams_v2")
    /* clang-format on */
#undef SYM
                                                        CUdevice dev;
    CUcontext ctx;
    CUmodule mod;
    CHECK(cu.Init(0));
    CHECK(cu.DeviceGet(&dev, 0));
    CHECK(cu.DevicePrimaryCtxRetain(&ctx, dev));
    CHECK(cu.CtxSetCurrent(ctx));
    CHECK(cu.ModuleLoadData(&mod, ptx));
    CHECK(cu.ModuleGetFunction(&f12, mod, "qg_empty12"));
    CHECK(cu.ModuleGetFunction(&fstruct, mod, "qg_empty_struct"));
    CHECK(cu.StreamCreate(&stream, CU_STREAM_NON_BLOCKING));
    for (int i = 0; i < 12; i++) params12[i] = &args12[i];
    CUgraph g;
    CHECK(cu.StreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    CHECK(cu.LaunchKernel(f12, 132, 1, 1, 128, 1, 1, 0, stream, params12, NULL));
    CHECK(cu.StreamEndCapture(stream, &g));
    CHECK(cu.GraphInstantiate(&graph, g, 0));
    node_params = (CUDA_KERNEL_NODE_PARAMS){.func = f12,
                                            .gridDimX = 132,
                                            .gridDimY = 1,
                                            .gridDimZ = 1,
                                            .blockDimX = 128,
                                            .blockDimY = 1,
                                            .blockDimZ = 1,
                                            .kernelParams = params12};
    CUgraph g2;
    CHECK(cu.GraphCreate(&g2, 0));
    CHECK(cu.GraphAddKernelNode(&node, g2, NULL, 0, &node_params));
    CHECK(cu.GraphInstantiate(&node_graph, g2, 0));
    CUDA_KERNEL_NODE_PARAMS np2 = node_params;
    np2.func = fstruct;
    np2.kernelParams = params_struct;
    CUgraph g3;
    CHECK(cu.GraphCreate(&g3, 0));
    CHECK(cu.GraphAddKernelNode(&node2, g3, NULL, 0, &np2));
    CHECK(cu.GraphInstantiate(&node_graph2, g3, 0));
    /* One checked launch per basic path before timing (measure() reports refused variants). */
    for (path p = PARAMS; p <= GRAPH_SET; p++) CHECK(launch(p, 132, 128, 0));
    CHECK(launch(PARAMS, 132, 128, 1));
    CHECK(launch(EXTRA, 132, 128, 1));
    CHECK(cu.StreamSynchronize(stream));
    table("unpinned thread");
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(sched_getcpu(), &set);
    if (sched_setaffinity(0, sizeof set, &set) == 0) table("thread pinned to its current CPU");
    return 0;
}
