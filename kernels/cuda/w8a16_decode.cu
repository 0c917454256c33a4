/*
 * W8A16 GEMM for small M (decode, M <= 64): the W4A16 decode structure with int8 weights
 * (k tiles of 64: a stage holds as many weight bytes as w4a16_decode's) and the per-channel
 * scale applied to the f32 sums in the epilogue.
 * Variant parameters: QG_ACT (1 f16, 2 bf16), QG_MT (m16 tiles per row tile).
 * The main loop is kernels/cuda/w4a16_gemm.cuh; the host side is family_w8a16_decode.c.
 */
#include "qg_prelude.cuh"
#include "qg_abi.cuh" /* the tile constants the host shares */

#if !defined(QG_ACT) || !defined(QG_MT)
#error "w8a16_decode needs QG_ACT and QG_MT"
#endif

#define QG_WBITS 8
#define QG_WM (16 * QG_MT)
#define QG_BM QG_WM
#define QG_BN QG_WO_DECODE_BN
#define QG_BK QG_W8A16_DECODE_BK
#define QG_STAGES QG_WO_DECODE_STAGES
#define QG_MINB 2
#define QG_WO_STREAM_W 1 /* weights are read once per row tile */

#include "w4a16_gemm.cuh"
