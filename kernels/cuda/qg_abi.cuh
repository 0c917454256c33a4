/*
 * The kernel ABI: the parameter structs, flags and tile constants that the host (src/), the
 * kernels (kernels/cuda/) and the tests share, each defined once here. Valid C11 (the host and
 * tests include it as "../kernels/cuda/qg_abi.cuh") and NVRTC CUDA (kernels include it after
 * qg_prelude.cuh, which supplies the fixed-width types). A kernel takes its struct by value as
 * its only argument (one parameter block launches faster than many: docs/STATUS.md, host
 * overhead), so host and device must agree on every member, not only on the size: with one
 * definition they agree by construction.
 *
 * Kept in their own headers, also shared by both sides: w4a16_wgmma_abi.cuh (the W4A16 wgmma
 * kernels) and w8a8_ws_layout.cuh (the shared-memory addressing of w8a8_wgmma_ws).
 */
#pragma once

#ifndef __CUDACC_RTC__
#include <stdint.h>
#endif

/* ---- weight-only GEMM and GEMV (w4a16_gemm.cuh, wo_gemv.cuh; family_w4a16_common.c,
 * family_wo_gemv.c) */

/* The leading members of every weight-only kernel's parameter struct (the W4A16 wgmma one in
 * w4a16_wgmma_abi.cuh too), which QG_WO_COMMON_PARAMS of family_w4a16_common.h
 * fills: pointers, then the problem and strides. */
#define QG_WO_PARAMS_HEAD                                                             \
    const uint16_t *a;     /* [M, lda] activations */                                 \
    const uint8_t *w;      /* packed int4 / int8 weight (docs/formats.md) */          \
    const uint16_t *scale; /* scales in the activation dtype */                       \
    const uint16_t *zero;  /* int4 zero points; NULL: symmetric (zero point 8) */     \
    const uint16_t *bias;  /* [N] in the output dtype; NULL: none */                  \
    uint16_t *c;           /* [M, ldc] */                                             \
    float *partial;        /* split-K: [splits][M][N] f32 */                          \
    unsigned *counter;     /* split-K: one per output tile, 0 on entry and on exit */ \
    int32_t m, n, k, lda, ldc

/* The tiled kernel qg_wo_gemm (w4a16_gemm.cuh). */
typedef struct qg_wo_params {
    QG_WO_PARAMS_HEAD;
    int32_t kp;           /* K rounded up to 32 */
    int32_t groups;       /* scale columns per slab row (G) */
    int32_t gs_log2;      /* log2(group size); 30 for one group per channel */
    int32_t out_bf16;     /* output dtype: 1 bf16, 0 f16 */
    int32_t c_pairs;      /* 1: (row, even col) of C is 4-byte aligned: store column pairs */
    int32_t kt_per_split; /* BK tiles per split-K slice */
    int32_t splits;
} qg_wo_params;

/* The decode GEMV qg_wogv_gemm (wo_gemv.cuh); its split-K counters are one per (slab, token
 * block). */
typedef struct qg_wogv_params {
    QG_WO_PARAMS_HEAD;
    int32_t kc;              /* k32 chunks per slab row: Kp / 32 */
    int32_t groups;          /* scale columns per slab row (G) */
    int32_t gs_log2;         /* log2(group size); 30 for one group per channel */
    int32_t out_bf16;        /* output dtype: 1 bf16, 0 f16 */
    int32_t c_pairs;         /* 1: (row, even col) of C is 4-byte aligned: store column pairs */
    int32_t units_per_split; /* units of QG_UK chunks per split-K slice */
    int32_t splits;
    int32_t tblocks; /* token blocks: ceil(M / (8 * QG_MT)) */
} qg_wogv_params;

/* Fixed tiles of the weight-only families over w4a16_gemm.cuh (the -D values each .cu derives
 * from its variant parameters, and what the host sizes shared memory and grids with). Prefill:
 * 2 warp rows of bm / 2 tokens; decode: one warp row of 16 * mt tokens, 256 weight rows. */
#define QG_WO_PREFILL_WARP_ROWS 2
#define QG_WO_PREFILL_BK 64
#define QG_WO_PREFILL_STAGES 4
#define QG_WO_DECODE_BN 256
#define QG_WO_DECODE_STAGES 4
#define QG_W4A16_DECODE_BK 128
#define QG_W8A16_DECODE_BK 64

/* ---- weight dequantization qg_wo_dequant (dequant_wo.cu; family_dequant_wo.c) */
typedef struct qg_dq_params {
    const uint8_t *w;
    const uint16_t *scale; /* activation dtype */
    const uint16_t *zero;  /* int4 zero points; NULL: symmetric (8) */
    uint16_t *out;
    int32_t n, k, kp, groups, gs_log2;
    int32_t scale_bf16; /* scale / zero dtype: 1 bf16, 0 f16 */
    int32_t out_bf16;
    int32_t vec_ok; /* K % 8 == 0 and out 16-byte aligned: 16-byte stores */
} qg_dq_params;

/* ---- the cuBLASLt int8 epilogue qg_cublaslt_int8_epilogue (cublaslt_epilogue.cu;
 * family_cublaslt.c) */
#define QG_EPI_OUT_F16 1
#define QG_EPI_BIAS 2
#define QG_EPI_W_TENSOR 4
#define QG_EPI_A_TENSOR 8
#define QG_EPI_VEC 16 /* c 8-byte aligned and ldc % 4 == 0: one 8-byte store */

typedef struct qg_lt_epi_params {
    int32_t *acc; /* zeroed after reading */
    const float *a_scale;
    const float *w_scale;
    const uint16_t *bias;
    uint16_t *c;
    long long ldc;
    int32_t m, n, flags, pad;
} qg_lt_epi_params;

/* ---- the dynamic-activation GEMMs: W8A8 and W4A8 GEMV, mma.sync and wgmma (w8a8_dyn.cuh;
 * famdyn.h, family_w8a8_mma.c). Runtime flags select the output dtype, bias and scale
 * granularities, so one compiled variant serves every problem class of its scheme. */
#define QG_DYN_OUT_F16 1      /* output f16 (else bf16) */
#define QG_DYN_BIAS 2         /* add bias[n] (same dtype as the output) */
#define QG_DYN_W_PER_TENSOR 4 /* w_scale[0] for every row (8-bit weights) */
#define QG_DYN_A_PER_TENSOR 8 /* a_scale[0] for every token */
#define QG_DYN_PAIR_STORE 16  /* c and ldc allow 4-byte stores of column pairs */
#define QG_DYN_VEC16_STORE 32 /* c and ldc allow 16-byte stores of 8 columns */

/* The one argument of qg_dyn_gemv, qg_dyn_mma and qg_w8a8_wgmma (w8a8_wgmma_ws takes its TMA
 * maps and scalars separately). */
typedef struct qg_dyn_params {
    const uint8_t *a;
    long long lda;
    const uint8_t *w;
    const float *w_scale; /* [N] or [1]; W4: [groups][N] */
    const float *a_scale; /* [M] or [1] */
    const uint16_t *bias; /* [N] or NULL */
    uint16_t *c;
    long long ldc;
    int32_t m, n, k, groups, glog, flags;
} qg_dyn_params;

/* ---- TMA tensor maps (CUtensorMap; ptx_tma.cuh on the device, built by the host's
 * tensormap.h): 128 opaque bytes, passed by value as a `const __grid_constant__` kernel
 * parameter. The TMA unit needs 64-byte alignment (cuda.h is not available under NVRTC). */
#ifdef __cplusplus
#define QG_ABI_ALIGNAS(n) alignas(n)
#else
#define QG_ABI_ALIGNAS(n) _Alignas(n)
#endif

typedef struct qg_tensor_map {
    QG_ABI_ALIGNAS(64) uint64_t opaque[16];
} qg_tensor_map;
