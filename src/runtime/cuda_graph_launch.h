/* Kernel launches through re-pointed one-node CUDA graphs, one per (stream, kernel function)
 * (cuda_graph_launch.c): less host time than cuLaunchKernel. Used by the CUDA backend's
 * launch; QGEMM_LAUNCH=direct turns it off. */
#ifndef QG_CUDA_GRAPH_LAUNCH_H
#define QG_CUDA_GRAPH_LAUNCH_H

#include <cuda.h>

typedef struct qg_graph_launcher qg_graph_launcher;

/* NULL when disabled, out of memory or the driver lacks a graph entry point (then every launch
 * is direct). Reads QGEMM_LAUNCH. Needs no current context. */
qg_graph_launcher *qg_graph_launcher_create(void);
void qg_graph_launcher_destroy(qg_graph_launcher *g);

/* Launch fn as cuLaunchKernel would, on a stream that is NOT capturing, with the owning context
 * current. 1: launched; 0: not launched (g NULL, no slot, or a graph call failed): the caller
 * launches directly. Thread-safe. */
int qg_graph_launch(qg_graph_launcher *g, CUfunction fn, const unsigned grid[3],
                    const unsigned block[3], unsigned smem, CUstream stream, void **params);

#endif
