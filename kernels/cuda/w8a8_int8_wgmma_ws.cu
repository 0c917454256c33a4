/* W8A8_INT8 warp-specialized wgmma GEMM (sm_90a): w8a8_wgmma_ws.cuh with s8 operands. */
#include "qg_prelude.cuh"
#define QG_AT 2
#define QG_WB 8
#define QG_SK 0 /* w8a8_int8_wgmma_ws_sk.cu: with split-K */
#include "w8a8_wgmma_ws.cuh"
