/*
 * Kernel launches through one-node executable CUDA graphs whose node is re-pointed at each
 * launch (cuGraphExecKernelNodeSetParams, then cuGraphLaunch). The driver's cuLaunchKernel costs
 * 2.6-4.7 us of host time on the H100 machines we measured, the graph path 1.5-2.7 us
 * (bench/launch_floor, docs/STATUS.md): that difference is most of qg_gemm's host overhead.
 *
 * Graphs per (stream, kernel function, launch geometry). Per stream, because launches of one
 * executable graph are ordered behind its previous launches, so sharing one across streams
 * would serialize them. Per function and geometry, because re-pointing a node at another
 * function or another grid costs about as much as cuLaunchKernel itself (launch_floor on three
 * H100s: 0.86-1.19x of it; new argument values alone, about half), and consecutive calls differ
 * in both (a layer's qkv, o, gate_up and down). A slot is one (stream, function) pair and holds
 * up to QG_GRAPH_GEOMETRIES graphs, one per geometry; past that a new geometry re-points the
 * slot's graphs in turn (prefill with a new M at every call must not build a graph each time).
 * Launches on one stream stay in stream order whichever graph carries them.
 *
 * Slots are found through an open-addressing index that is only appended to; each slot has its
 * own mutex (set-params + launch must not interleave between threads on one stream); slots
 * live until the context is destroyed. When the table is full, a symbol is missing, or any
 * graph call fails, the caller launches directly (cuLaunchKernel), which then reports the
 * error if there is one. Graph memory is not involved: the node only names the kernel and
 * copies its arguments.
 */
#include "cuda_graph_launch.h"

#include "backend.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Slots: streams x distinct kernels of a process (a model: tens per stream). The index has
 * twice as many entries, so probe runs stay short. Geometries per slot: a layer's shapes that
 * share one kernel variant. */
enum { QG_GRAPH_SLOTS = 512, QG_GRAPH_INDEX = 1024, QG_GRAPH_GEOMETRIES = 4 };

/* grid x, y, z, block x, y, z, dynamic shared memory */
typedef struct {
    unsigned v[7];
} launch_geometry;

typedef struct {
    launch_geometry geo; /* what the node was last set to */
    CUgraph graph;
    CUgraphNode node;
    CUgraphExec exec;
} one_node_graph;

typedef struct {
    CUstream stream;
    CUfunction fn;
    pthread_mutex_t lock; /* guards everything below */
    int count, next;      /* graphs built; the one a new geometry re-points next */
    int broken;           /* a graph call failed on this slot: direct launches from now on */
    one_node_graph graphs[QG_GRAPH_GEOMETRIES];
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
    } cu;
    pthread_mutex_t table_lock; /* guards count, slot creation and index insertion */
    int count;
    graph_slot slots[QG_GRAPH_SLOTS];
    graph_slot *index[QG_GRAPH_INDEX]; /* NULL: free; published with a release store */
};

qg_graph_launcher *qg_graph_launcher_create(void) {
    const char *mode = getenv("QGEMM_LAUNCH");
    if (mode && strcmp(mode, "direct") == 0) return NULL;
    qg_graph_launcher *g = calloc(1, sizeof *g);
    if (!g) return NULL;
        /* the _v2 node-parameter entry points exist since CUDA 12.0; the older ones take the same
     * leading fields (the v2 struct only appends kern and ctx, which we leave NULL) */
#define SYM(f, name, old)                                              \
    if (!(*(void **)&g->cu.f = qg_cuda_driver_symbol(name)) &&         \
        !(old && (*(void **)&g->cu.f = qg_cuda_driver_symbol(old)))) { \
        free(g);                                                       \
        return NULL;                                                   \
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
    pthread_mutex_init(&g->table_lock, NULL);
    return g;
}

void qg_graph_launcher_destroy(qg_graph_launcher *g) {
    if (!g) return;
    for (int i = 0; i < g->count; i++) {
        graph_slot *s = &g->slots[i];
        for (int j = 0; j < s->count; j++) {
            if (s->graphs[j].exec) g->cu.GraphExecDestroy(s->graphs[j].exec); /* freed once idle */
            if (s->graphs[j].graph) g->cu.GraphDestroy(s->graphs[j].graph);
        }
        pthread_mutex_destroy(&s->lock);
    }
    pthread_mutex_destroy(&g->table_lock);
    free(g);
}

static unsigned slot_hash(CUstream stream, CUfunction fn) {
    uint64_t x = (uint64_t)(uintptr_t)stream * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)fn;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    return (unsigned)(x >> 32) & (QG_GRAPH_INDEX - 1);
}

/* The slot of (stream, fn), created empty if new; NULL when the table is full. Index entries
 * are only ever filled, each after its slot is complete (release store, acquire load), so the
 * unlocked probe sees complete slots and stops at the first free entry. */
static graph_slot *slot_for(qg_graph_launcher *g, CUstream stream, CUfunction fn) {
    const unsigned h = slot_hash(stream, fn);
    unsigned i = h;
    for (graph_slot *s; (s = __atomic_load_n(&g->index[i], __ATOMIC_ACQUIRE)) != NULL;
         i = (i + 1) & (QG_GRAPH_INDEX - 1))
        if (s->stream == stream && s->fn == fn) return s;
    pthread_mutex_lock(&g->table_lock);
    graph_slot *s = NULL;
    for (i = h; g->index[i]; i = (i + 1) & (QG_GRAPH_INDEX - 1))
        if (g->index[i]->stream == stream && g->index[i]->fn == fn) {
            s = g->index[i];
            break;
        }
    if (!s && g->count < QG_GRAPH_SLOTS) { /* the index is never more than half full */
        s = &g->slots[g->count++];
        s->stream = stream;
        s->fn = fn;
        pthread_mutex_init(&s->lock, NULL);
        __atomic_store_n(&g->index[i], s, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&g->table_lock);
    return s;
}

/* Launch through slot s (its lock held): the graph of this geometry with new arguments, a new
 * graph built around this launch, or the next graph re-pointed. 1: launched. */
static int slot_launch(qg_graph_launcher *g, graph_slot *s, const CUDA_KERNEL_NODE_PARAMS *np,
                       const launch_geometry *geo, CUstream stream) {
    for (int i = 0; i < s->count; i++) {
        one_node_graph *e = &s->graphs[i];
        if (!memcmp(&e->geo, geo, sizeof *geo))
            return g->cu.GraphExecKernelNodeSetParams(e->exec, e->node, np) == CUDA_SUCCESS &&
                   g->cu.GraphLaunch(e->exec, stream) == CUDA_SUCCESS;
    }
    if (s->count < QG_GRAPH_GEOMETRIES) {
        one_node_graph t = {.geo = *geo};
        if (g->cu.GraphCreate(&t.graph, 0) != CUDA_SUCCESS) return 0;
        if (g->cu.GraphAddKernelNode(&t.node, t.graph, NULL, 0, np) != CUDA_SUCCESS ||
            g->cu.GraphInstantiate(&t.exec, t.graph, 0) != CUDA_SUCCESS) {
            g->cu.GraphDestroy(t.graph);
            return 0;
        }
        s->graphs[s->count++] = t;
        return g->cu.GraphLaunch(t.exec, stream) == CUDA_SUCCESS;
    }
    one_node_graph *e = &s->graphs[s->next];
    s->next = (s->next + 1) % QG_GRAPH_GEOMETRIES;
    e->geo = *geo;
    return g->cu.GraphExecKernelNodeSetParams(e->exec, e->node, np) == CUDA_SUCCESS &&
           g->cu.GraphLaunch(e->exec, stream) == CUDA_SUCCESS;
}

int qg_graph_launch(qg_graph_launcher *g, CUfunction fn, const unsigned grid[3],
                    const unsigned block[3], unsigned smem, CUstream stream, void **params) {
    /* the per-thread default stream is a different stream on each thread behind one handle */
    if (!g || stream == CU_STREAM_PER_THREAD) return 0;
    CUDA_KERNEL_NODE_PARAMS np = {.func = fn,
                                  .gridDimX = grid[0],
                                  .gridDimY = grid[1],
                                  .gridDimZ = grid[2],
                                  .blockDimX = block[0],
                                  .blockDimY = block[1],
                                  .blockDimZ = block[2],
                                  .sharedMemBytes = smem,
                                  .kernelParams = params};
    const launch_geometry geo = {{grid[0], grid[1], grid[2], block[0], block[1], block[2], smem}};
    graph_slot *s = slot_for(g, stream, fn);
    if (!s) return 0;
    pthread_mutex_lock(&s->lock);
    const int ok = !s->broken && slot_launch(g, s, &np, &geo, stream);
    /* a slot that failed once is not trusted again (a node may hold a half-applied update) */
    if (!ok) s->broken = 1;
    pthread_mutex_unlock(&s->lock);
    return ok;
}
