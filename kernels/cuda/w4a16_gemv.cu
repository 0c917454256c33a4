/*
 * W4A16 decode GEMV (M <= 8 * QG_MT): the weight-only GEMV of wo_gemv.cuh on int4 weights.
 * Variant parameters: QG_ACT, QG_MT, QG_WARPS, QG_UK (k32 chunks per unit); host side
 * family_wo_gemv.c (family w4a16_gemv).
 */
#include "qg_prelude.cuh"

#define QG_WBITS 4
#include "wo_gemv.cuh"
