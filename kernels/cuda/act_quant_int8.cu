/* Activation quantization bf16/f16 -> int8: the kernel is act_quant.cuh. */
#include "qg_prelude.cuh"
#define QG_AT 2
#include "act_quant.cuh"
