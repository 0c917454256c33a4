/*
 * Host side of kernels/cuda/w4a16_gemm.cuh, the tiled weight-only GEMM behind the families
 * w4a16_decode, w4a16_prefill, w8a16_decode and w8a16_prefill: tile geometry, shared memory,
 * split-K policy and workspace, support checks, the heuristic cost, and the launch.
 */
#ifndef QG_FAMILY_W4A16_COMMON_H
#define QG_FAMILY_W4A16_COMMON_H

#include "catalog.h"

/* Compile-time tile of one variant (the -D values its .cu file derives from the params). */
typedef struct {
    qg_scheme scheme;
    int wbits;     /* 4 or 8 */
    int act;       /* 1 f16, 2 bf16 (the "act" parameter; QG_DT_* of the prelude) */
    int bm, wm;    /* CTA rows, rows per warp */
    int bn, bk;    /* CTA columns (64 per warp column), k per stage */
    int stages;
    int max_m;     /* largest M the family accepts (0: any) */
} qg_wo_tile;

int qg_wo_threads(const qg_wo_tile *t);
int qg_wo_smem_bytes(const qg_wo_tile *t);

/* Split-K slices a launch on `dev` uses (1 = none; dev may be NULL: an H100 is assumed); never
 * above the device-independent maximum that qg_wo_workspace sizes for. */
int qg_wo_splits(const qg_problem *p, const qg_wo_tile *t, const qg_device_info *dev);
size_t qg_wo_workspace(const qg_problem *p, const qg_wo_tile *t);

int qg_wo_supports(const qg_problem *p, const qg_wo_tile *t, int cc, char *why, size_t why_len);
double qg_wo_cost(const qg_problem *p, const qg_wo_tile *t, const qg_device_info *dev);
/* Alignment and range checks shared by the weight-only launchers (messages name `id`). */
qg_status qg_wo_check_args(qg_context *ctx, const qg_problem *p, const qg_gemm_args *a,
                           const char *id);
/* Split-K: check the workspace holds `counter_bytes` of tile counters then s x M x N f32
 * partials (16-byte aligned, zeroed as the contract says) and point the kernel at them. */
qg_status qg_wo_bind_splitk(qg_context *ctx, const qg_problem *p, const qg_gemm_args *a,
                            const char *id, int s, size_t counter_bytes, unsigned **counter,
                            float **partial);
qg_status qg_wo_launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const qg_gemm_args *a,
                       const qg_wo_tile *t, void *stream);

/* The four qg_family callbacks of a weight-only family whose variant params map to a tile
 * through `tile_fn(const int *params)`: defines static supports/heuristic/workspace/launch. */
#define QG_WO_FAMILY_CALLBACKS(tile_fn)                                                         \
    static int supports(const qg_problem *p, const int *params, int cc, char *why,             \
                        size_t why_len) {                                                       \
        const qg_wo_tile t = tile_fn(params);                                                   \
        return qg_wo_supports(p, &t, cc, why, why_len);                                         \
    }                                                                                           \
    static double heuristic(const qg_problem *p, const int *params, const qg_device_info *dev) { \
        const qg_wo_tile t = tile_fn(params);                                                   \
        return qg_wo_cost(p, &t, dev);                                                          \
    }                                                                                           \
    static size_t workspace(const qg_problem *p, const int *params) {                          \
        const qg_wo_tile t = tile_fn(params);                                                   \
        return qg_wo_workspace(p, &t);                                                          \
    }                                                                                           \
    static qg_status launch(qg_context *ctx, qg_kernel *k, const qg_problem *p,                \
                            const void *args, const int *params, void *stream) {                \
        const qg_wo_tile t = tile_fn(params);                                                   \
        return qg_wo_launch(ctx, k, p, args, &t, stream);                                       \
    }

#endif
