/*
 * Host side of kernels/cuda/w4a16_gemm.cuh, the tiled weight-only GEMM behind the families
 * w4a16_decode, w4a16_prefill, w8a16_decode and w8a16_prefill: tile geometry, shared memory,
 * split-K policy and workspace, support checks, the heuristic cost, and the launch.
 */
#ifndef QG_FAMILY_W4A16_COMMON_H
#define QG_FAMILY_W4A16_COMMON_H

#include "catalog.h"

#include "../kernels/cuda/qg_abi.cuh" /* the kernels' parameter structs and tiles */

/* Compile-time tile of one variant (the -D values its .cu file derives from the params). */
typedef struct {
    qg_scheme scheme;
    int wbits;  /* 4 or 8 */
    int act;    /* 1 f16, 2 bf16 (the "act" parameter; QG_DT_* of the prelude) */
    int bm, wm; /* CTA rows, rows per warp */
    int bn, bk; /* CTA columns (64 per warp column), k per stage */
    int stages;
    int max_m; /* largest M the family accepts (0: any) */
    int fzp;   /* 1: computes W4A16 float zero points (and nothing else); 0: none or integer */
} qg_wo_tile;

/* Split-K caps of the weight-only families, device-independent (sized for GPUs up to
 * QG_WO_MAX_SMS SMs) so that workspace() needs no device: at most QG_WO_MAX_SPLITS slices and a
 * partial buffer of QG_WO_PARTIAL_LIMIT bytes. */
#define QG_WO_MAX_SPLITS 32
#define QG_WO_MAX_SMS 160
#define QG_WO_PARTIAL_LIMIT (64u << 20)

int qg_wo_threads(const qg_wo_tile *t);
int qg_wo_smem_bytes(const qg_wo_tile *t);

/* Split-K slices a launch on `dev` uses (1 = none; dev may be NULL: an H100 is assumed); never
 * above the device-independent maximum that qg_wo_workspace sizes for. */
int qg_wo_splits(const qg_problem *p, const qg_wo_tile *t, const qg_device_info *dev);
size_t qg_wo_workspace(const qg_problem *p, const qg_wo_tile *t);

int qg_wo_supports(const qg_problem *p, const qg_wo_tile *t, int cc, char *why, size_t why_len);
/* The zero-point kind check of every W4A16 kernel: a variant with fzp 1 computes float zero
 * points only, one with fzp 0 none or integer ones; 0 and the reason otherwise. */
int qg_wo_zero_point_supported(const qg_problem *p, int fzp, char *why, size_t why_len);
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

/* log2 of the W4A16 group size as the kernels take it (30: one group per channel, and W8A16). */
int qg_wo_gs_log2(const qg_problem *p);

/* Designated initializers of the fields every weight-only kernel's parameter struct shares
 * (qg_wo_params, qg_wogv_params of qg_abi.cuh, qg_w4wg_params of w4a16_wgmma_abi.cuh): problem,
 * pointers, strides, groups. */
#define QG_WO_COMMON_PARAMS(p, a)                                                               \
    .a = (a)->a, .w = (a)->w.weight, .scale = (a)->w.scale,                                     \
    .zero = (p)->has_zero_point ? (a)->w.zero : NULL, .bias = (p)->has_bias ? (a)->bias : NULL, \
    .c = (a)->c, .m = (int32_t)(p)->m, .n = (int32_t)(p)->n, .k = (int32_t)(p)->k,              \
    .lda = (int32_t)(a)->lda, .ldc = (int32_t)(a)->ldc,                                         \
    .groups = ((p)->scheme == QG_SCHEME_W4A16 && (p)->group_size)                               \
                  ? (int32_t)((p)->k / (p)->group_size)                                         \
                  : 1,                                                                          \
    .gs_log2 = qg_wo_gs_log2(p), .out_bf16 = (p)->out_dtype == QG_DTYPE_BF16,                   \
    .c_pairs = (a)->ldc % 2 == 0 && (uintptr_t)(a)->c % 4 == 0

/* The four qg_family callbacks of a weight-only family whose variant params map to a tile
 * through `tile_fn(const int *params)`: defines static supports/heuristic/workspace/launch. */
#define QG_WO_FAMILY_CALLBACKS(tile_fn)                                                              \
    static int supports(const qg_problem *p, const int *params, int cc, char *why, size_t why_len) { \
        const qg_wo_tile t = tile_fn(params);                                                        \
        return qg_wo_supports(p, &t, cc, why, why_len);                                              \
    }                                                                                                \
    static double heuristic(const qg_problem *p, const int *params, const qg_device_info *dev) {     \
        const qg_wo_tile t = tile_fn(params);                                                        \
        return qg_wo_cost(p, &t, dev);                                                               \
    }                                                                                                \
    static size_t workspace(const qg_problem *p, const int *params) {                                \
        const qg_wo_tile t = tile_fn(params);                                                        \
        return qg_wo_workspace(p, &t);                                                               \
    }                                                                                                \
    static qg_status launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,    \
                            const int *params, void *stream) {                                       \
        const qg_wo_tile t = tile_fn(params);                                                        \
        return qg_wo_launch(ctx, k, p, args, &t, stream);                                            \
    }

#endif
