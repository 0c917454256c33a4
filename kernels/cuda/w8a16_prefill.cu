/*
 * W8A16 GEMM for large M (prefill): the W4A16 prefill structure with int8 weights and the
 * per-channel scale applied to the f32 sums in the epilogue.
 * Variant parameters: QG_ACT (1 f16, 2 bf16), QG_BM (64 / 128), QG_BN (128 / 256).
 * The main loop is kernels/cuda/w4a16_gemm.cuh; the host side is family_w8a16_prefill.c.
 */
#include "qg_prelude.cuh"
#include "qg_abi.cuh" /* the tile constants the host shares */

#if !defined(QG_ACT) || !defined(QG_BM) || !defined(QG_BN)
#error "w8a16_prefill needs QG_ACT, QG_BM and QG_BN"
#endif

#define QG_WBITS 8
#define QG_WM (QG_BM / QG_WO_PREFILL_WARP_ROWS)
#define QG_BK QG_WO_PREFILL_BK
#define QG_STAGES QG_WO_PREFILL_STAGES
#define QG_MINB (QG_BN > 128 ? 1 : 2)
#define QG_WO_STREAM_W 0

#include "w4a16_gemm.cuh"
