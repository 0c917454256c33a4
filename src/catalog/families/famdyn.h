/*
 * Launch and cost helpers shared by the dynamic-activation kernel families
 * (family_w8a8_*.c, family_w4a8_*.c). The kernels' argument qg_dyn_params and its
 * QG_DYN_* flags: kernels/cuda/qg_abi.cuh.
 */
#ifndef QG_FAMDYN_H
#define QG_FAMDYN_H

#include "catalog.h"
#include "schemes.h"

#include "../kernels/cuda/qg_abi.cuh" /* qg_dyn_params, QG_DYN_* */

/* Parameter positions: gemv {rw, mt, warps, uk}; tiled {bm, bn, wm, wn, st}. */
enum { QG_DYN_P_RW = 0, QG_DYN_P_MT = 1, QG_DYN_P_WARPS = 2, QG_DYN_P_UK = 3 };
enum { QG_DYN_P_BM = 0, QG_DYN_P_BN = 1, QG_DYN_P_WM = 2, QG_DYN_P_WN = 3, QG_DYN_P_ST = 4 };

int qg_dyn_smem_limit(int cc);
int qg_dyn_mma_smem(const int *v, int wbits);
int qg_dyn_common_supports(const qg_problem *p, int cc, int min_cc, char *why, size_t why_len);

/* The QG_DYN_* flag bits of a problem and its arguments (c/ldc alignment included). */
int qg_dyn_flags(const qg_problem *p, const qg_gemm_args *g);

/* Check alignment, fill qg_dyn_params and launch (grid gx x gy). */
qg_status qg_dyn_launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const qg_gemm_args *g,
                        unsigned gx, unsigned gy, unsigned block, unsigned smem, void *stream);
qg_status qg_dyn_gemv_launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                             const int *v, void *stream);
qg_status qg_dyn_mma_launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                            const int *v, void *stream);

/* The family tables: `prefix` (e.g. "w8a8_fp8") names the family ("<prefix>_gemv") and its
 * kernel source ("<prefix>_gemv.cu"); GEMV parameters {rw, mt, warps, uk}, tiled mma.sync
 * parameters {bm, bn, wm, wn, st}; `spills_`: qg_family.allow_spills. */
#define QG_DYN_GEMV_FAMILY(prefix, scheme, cc, variants_, supports_, cost_, spills_)          \
    {                                                                                         \
        .name = prefix "_gemv", .source = prefix "_gemv.cu", .entry = "qg_dyn_gemv",          \
        .op = QG_OP_GEMM, .scheme_mask = 1u << (scheme), .min_cc = (cc), .num_params = 4,     \
        .param_names = {"rw", "mt", "warps", "uk"}, .num_variants = QG_ARRAY_SIZE(variants_), \
        .variants = variants_, .supports = supports_, .heuristic = cost_,                     \
        .launch = qg_dyn_gemv_launch, .allow_spills = spills_,                                \
    }
#define QG_DYN_MMA_FAMILY(prefix, scheme, cc, variants_, supports_, cost_, spills_)              \
    {                                                                                            \
        .name = prefix "_mma", .source = prefix "_mma.cu", .entry = "qg_dyn_mma",                \
        .op = QG_OP_GEMM, .scheme_mask = 1u << (scheme), .min_cc = (cc), .num_params = 5,        \
        .param_names = {"bm", "bn", "wm", "wn", "st"}, .num_variants = QG_ARRAY_SIZE(variants_), \
        .variants = variants_, .supports = supports_, .heuristic = cost_,                        \
        .launch = qg_dyn_mma_launch, .allow_spills = spills_,                                    \
    }

/* Estimated microseconds (heuristic dispatch without a tuning entry). */
double qg_dyn_gemv_cost(const qg_problem *p, const int *v, const qg_device_info *dev, int wbits);
double qg_dyn_tile_cost(const qg_problem *p, int bm, int bn, double tops, int ctas_per_sm,
                        const qg_device_info *dev, int wbits);

#endif
