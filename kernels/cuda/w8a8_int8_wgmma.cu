/* W8A8_INT8 wgmma GEMM (sm_90a): the kernel is w8a8_wgmma.cuh with s8 operands. */
#include "qg_prelude.cuh"
#define QG_AT 2
#define QG_WB 8
#include "w8a8_wgmma.cuh"
