/* W8A8_FP8 wgmma GEMM (sm_90a): the kernel is w8a8_wgmma.cuh with e4m3 operands. */
#include "qg_prelude.cuh"
#define QG_AT 1
#define QG_WB 8
#include "w8a8_wgmma.cuh"
