/*
 * Kernel launches through a one-node executable CUDA graph whose node is re-pointed at each
 * launch (cuGraphExecKernelNodeSetParams, then cuGraphLaunch). The driver's cuLaunchKernel costs
 * 2.6-4.7 us of host time on the H100 machines we measured, the graph path 1.5-2.1 us
 * (bench/launch_floor, docs/STATUS.md): that difference is most of qg_gemm's host overhead.
 *
 * One graph per stream: launches of one executable graph are ordered behind its previous
 * launches, so sharing one across streams would serialize them. Each slot has its own mutex
 * (set-params + launch must not interleave between threads on one stream); slots live until the
 * context is destroyed. When the table is full, a symbol is missing, or any graph call fails,
 * the caller launches directly (cuLaunchKernel), which then reports the error if there is one.
 * Graph memory is not involved: the node only names the kernel and copies its arguments.
 *
 * QGEMM_LAUNCH=graph-packed hands the node its arguments as one packed buffer (the `extra`
 * form, laid out with cuFuncGetParamInfo, CUDA 12.4+) instead of one pointer per argument: an
 * experiment for kernels with many arguments (W8A8: 14), to be timed against the default.
 */
#include "cuda_graph_launch.h"

#include "backend.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { QG_GRAPH_SLOTS = 64, QG_PACKED_FUNCS = 256, QG_PACKED_MAX_ARGS = 32, QG_PACKED_MAX_BYTES = 1024 };

/* A kernel's argument layout for the packed form: offsets and sizes in the parameter buffer. */
typedef struct {
    CUfunction fn;
    int nargs; /* -1: not packable (too many or too large arguments, or the query failed) */
    size_t bytes;
    unsigned short off[QG_PACKED_MAX_ARGS], size[QG_PACKED_MAX_ARGS];
} arg_layout;

typedef struct {
    CUstream stream;
    CUgraph graph;
    CUgraphNode node;
    CUgraphExec exec;
    pthread_mutex_t lock;
    int broken; /* a graph call failed on this slot: direct launches from now on */
} graph_slot;

struct qg_graph_launcher {
    struct {
        CUresult (*GraphCreate)(CUgraph *, unsigned);
        CUresult (*GraphDestroy)(CUgraph);
        CUresult (*GraphAddKernelNode)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t,
                                       const CUDA_KERNEL_NODE_PARAMS *);
        CUresult (*GraphInstantiate)(CUgraphExec *, CUgraph, unsigned long long);
        CUresult (*GraphExecDestroy)(CUgraphExec);
        CUresult (*GraphExecKernelNodeSetParams)(CUgraphExec, CUgraphNode,
                                                 const CUDA_KERNEL_NODE_PARAMS *);
        CUresult (*GraphLaunch)(CUgraphExec, CUstream);
        CUresult (*FuncGetParamInfo)(CUfunction, size_t, size_t *, size_t *); /* packed only */
    } cu;
    pthread_mutex_t table_lock; /* guards count and slot creation, nlayouts and layouts */
    int count;
    graph_slot slots[QG_GRAPH_SLOTS];
    int packed; /* QGEMM_LAUNCH=graph-packed and cuFuncGetParamInfo present */
    int nlayouts;
    arg_layout layouts[QG_PACKED_FUNCS];
};

qg_graph_launcher *qg_graph_launcher_create(void) {
    const char *mode = getenv("QGEMM_LAUNCH");
    if (mode && strcmp(mode, "direct") == 0) return NULL;
    qg_graph_launcher *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    /* the _v2 node-parameter entry points exist since CUDA 12.0; the older ones take the same
     * leading fields (the v2 struct only appends kern and ctx, which we leave NULL) */
#define SYM(f, name, old)                                                                     \
    if (!(*(void **)&g->cu.f = qg_cuda_driver_symbol(name)) &&                                 \
        !(old && (*(void **)&g->cu.f = qg_cuda_driver_symbol(old)))) {                        \
        free(g);                                                                              \
        return NULL;                                                                          \
    }
    SYM(GraphCreate, "cuGraphCreate", NULL)
    SYM(GraphDestroy, "cuGraphDestroy", NULL)
    SYM(GraphAddKernelNode, "cuGraphAddKernelNode_v2", "cuGraphAddKernelNode")
    SYM(GraphInstantiate, "cuGraphInstantiateWithFlags", NULL)
    SYM(GraphExecDestroy, "cuGraphExecDestroy", NULL)
    SYM(GraphExecKernelNodeSetParams, "cuGraphExecKernelNodeSetParams_v2",
        "cuGraphExecKernelNodeSetParams")
    SYM(GraphLaunch, "cuGraphLaunch", NULL)
#undef SYM
    if (mode && strcmp(mode, "graph-packed") == 0) {
        *(void **)&g->cu.FuncGetParamInfo = qg_cuda_driver_symbol("cuFuncGetParamInfo");
        g->packed = g->cu.FuncGetParamInfo != NULL;
    }
    pthread_mutex_init(&g->table_lock, NULL);
    return g;
}

void qg_graph_launcher_destroy(qg_graph_launcher *g) {
    if (!g) return;
    for (int i = 0; i < g->count; i++) {
        graph_slot *s = &g->slots[i];
        if (s->exec) g->cu.GraphExecDestroy(s->exec); /* freed by the driver once idle */
        if (s->graph) g->cu.GraphDestroy(s->graph);
        pthread_mutex_destroy(&s->lock);
    }
    pthread_mutex_destroy(&g->table_lock);
    free(g);
}

/* The slot of `stream`, created (graph built around this first launch) if new; NULL when the
 * table is full or the graph cannot be built. Slots are only appended, so the unlocked scan of
 * the first `count` entries sees complete ones (count is published under the lock after the
 * slot is filled; the acquire load pairs with that store). */
static graph_slot *slot_for(qg_graph_launcher *g, CUstream stream,
                            const CUDA_KERNEL_NODE_PARAMS *np, int *created) {
    *created = 0;
    int n = __atomic_load_n(&g->count, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++)
        if (g->slots[i].stream == stream) return &g->slots[i];
    pthread_mutex_lock(&g->table_lock);
    graph_slot *s = NULL;
    n = g->count;
    for (int i = 0; i < n && !s; i++)
        if (g->slots[i].stream == stream) s = &g->slots[i];
    if (!s && n < QG_GRAPH_SLOTS) {
        graph_slot t = {.stream = stream};
        if (g->cu.GraphCreate(&t.graph, 0) == CUDA_SUCCESS &&
            g->cu.GraphAddKernelNode(&t.node, t.graph, NULL, 0, np) == CUDA_SUCCESS &&
            g->cu.GraphInstantiate(&t.exec, t.graph, 0) == CUDA_SUCCESS) {
            s = &g->slots[n];
            *s = t;
            pthread_mutex_init(&s->lock, NULL);
            __atomic_store_n(&g->count, n + 1, __ATOMIC_RELEASE);
            *created = 1;
        } else if (t.graph) {
            g->cu.GraphDestroy(t.graph);
        }
    }
    pthread_mutex_unlock(&g->table_lock);
    return s;
}

/* fn's argument layout, queried on first use (same append-only publication as the slots). */
static const arg_layout *layout_for(qg_graph_launcher *g, CUfunction fn) {
    int n = __atomic_load_n(&g->nlayouts, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++)
        if (g->layouts[i].fn == fn) return &g->layouts[i];
    pthread_mutex_lock(&g->table_lock);
    const arg_layout *found = NULL;
    n = g->nlayouts;
    for (int i = 0; i < n && !found; i++)
        if (g->layouts[i].fn == fn) found = &g->layouts[i];
    if (!found && n < QG_PACKED_FUNCS) {
        arg_layout *l = &g->layouts[n];
        memset(l, 0, sizeof *l);
        l->fn = fn;
        size_t off, size;
        int i = 0;
        for (; g->cu.FuncGetParamInfo(fn, (size_t)i, &off, &size) == CUDA_SUCCESS; i++) {
            if (i == QG_PACKED_MAX_ARGS || off + size > QG_PACKED_MAX_BYTES) break;
            l->off[i] = (unsigned short)off;
            l->size[i] = (unsigned short)size;
            if (off + size > l->bytes) l->bytes = off + size;
        }
        /* the query fails past the last argument: if argument i exists, the loop stopped early
         * (too many or too large arguments); no arguments, nothing to pack */
        const int more = g->cu.FuncGetParamInfo(fn, (size_t)i, &off, &size) == CUDA_SUCCESS;
        l->nargs = more || i == 0 ? -1 : i;
        found = l;
        __atomic_store_n(&g->nlayouts, n + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&g->table_lock);
    return found;
}

int qg_graph_launch(qg_graph_launcher *g, CUfunction fn, const unsigned grid[3],
                    const unsigned block[3], unsigned smem, CUstream stream, void **params) {
    /* the per-thread default stream is a different stream on each thread behind one handle */
    if (!g || stream == CU_STREAM_PER_THREAD) return 0;
    CUDA_KERNEL_NODE_PARAMS np = {
        .func = fn, .gridDimX = grid[0], .gridDimY = grid[1], .gridDimZ = grid[2],
        .blockDimX = block[0], .blockDimY = block[1], .blockDimZ = block[2],
        .sharedMemBytes = smem, .kernelParams = params};
    _Alignas(16) unsigned char buf[QG_PACKED_MAX_BYTES];
    size_t bytes = 0;
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &bytes,
                     CU_LAUNCH_PARAM_END};
    const arg_layout *l = g->packed ? layout_for(g, fn) : NULL;
    if (l && l->nargs >= 0) { /* the driver copies the buffer when the node is set */
        memset(buf, 0, l->bytes);
        for (int i = 0; i < l->nargs; i++) memcpy(buf + l->off[i], params[i], l->size[i]);
        bytes = l->bytes;
        np.kernelParams = NULL;
        np.extra = extra;
    }
    int created;
    graph_slot *s = slot_for(g, stream, &np, &created);
    if (!s) return 0;
    pthread_mutex_lock(&s->lock);
    int ok = !s->broken;
    if (ok && !created) ok = g->cu.GraphExecKernelNodeSetParams(s->exec, s->node, &np) == CUDA_SUCCESS;
    if (ok) ok = g->cu.GraphLaunch(s->exec, stream) == CUDA_SUCCESS;
    /* a slot that failed once is not trusted again (its node may hold a half-applied update) */
    if (!ok) s->broken = 1;
    pthread_mutex_unlock(&s->lock);
    return ok;
}
