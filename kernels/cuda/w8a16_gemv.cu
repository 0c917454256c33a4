/*
 * W8A16 decode GEMV (M <= 8 * QG_MT): the weight-only GEMV of wo_gemv.cuh on int8 weights
 * (per-channel scale on the f32 sums). Variant parameters: QG_ACT, QG_MT, QG_WARPS, QG_UK (k32
 * chunks per unit); host side family_wo_gemv.c (family w8a16_gemv).
 */
#include "qg_prelude.cuh"

#define QG_WBITS 8
#include "wo_gemv.cuh"
