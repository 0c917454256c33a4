/* W8A8_FP8 warp-specialized wgmma GEMM (sm_90a): w8a8_wgmma_ws.cuh with e4m3 operands. */
#include "qg_prelude.cuh"
#define QG_AT 1
#define QG_WB 8
#include "w8a8_wgmma_ws.cuh"
