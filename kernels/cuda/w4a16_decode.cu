/*
 * W4A16 GEMM for small M (decode, M <= 64): one CTA = 4 warps = 4 slabs (256 columns) of the
 * weight times QG_MT m16 tiles, k tiles of 128 streamed through a 4-stage cp.async pipeline,
 * split-K across CTAs (chosen at launch to fill the GPU) with a deterministic reduction.
 * Variant parameters: QG_ACT (1 f16, 2 bf16), QG_MT (m16 tiles: M <= 16 * QG_MT per row tile).
 * The main loop is kernels/cuda/w4a16_gemm.cuh; the host side is family_w4a16_decode.c.
 */
#include "qg_prelude.cuh"
#include "qg_abi.cuh" /* the tile constants the host shares */

#if !defined(QG_ACT) || !defined(QG_MT)
#error "w4a16_decode needs QG_ACT and QG_MT"
#endif

#define QG_WBITS 4
#define QG_WM (16 * QG_MT)
#define QG_BM QG_WM
#define QG_BN QG_WO_DECODE_BN
#define QG_BK QG_W4A16_DECODE_BK
#define QG_STAGES QG_WO_DECODE_STAGES
#define QG_MINB 2
#define QG_WO_STREAM_W 1 /* weights are read once per row tile */

#include "w4a16_gemm.cuh"
