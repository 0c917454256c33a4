/* W8A8_FP8 warp-specialized wgmma GEMM with split-K (sm_90a): w8a8_wgmma_ws.cuh with e4m3 operands. */
#include "qg_prelude.cuh"
#define QG_AT 1
#define QG_WB 8
#define QG_SK 1
#include "w8a8_wgmma_ws.cuh"
