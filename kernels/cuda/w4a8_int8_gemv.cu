/* W4A8_INT8 decode GEMM: the kernel is w8a8_gemv.cuh with these operand types. */
#include "qg_prelude.cuh"
#define QG_AT 2
#define QG_WB 4
#include "w8a8_gemv.cuh"
