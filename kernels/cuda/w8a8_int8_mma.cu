/* W8A8_INT8 tiled mma.sync GEMM: the kernel is w8a8_mma.cuh with these operand types. */
#include "qg_prelude.cuh"
#define QG_AT 2
#define QG_WB 8
#include "w8a8_mma.cuh"
