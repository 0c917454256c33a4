/* Activation quantization bf16/f16 -> e4m3: the kernel is act_quant.cuh. */
#include "qg_prelude.cuh"
#define QG_AT 1
#include "act_quant.cuh"
