/*
 * Shared definitions of the dynamic-activation schemes (W8A8_FP8, W8A8_INT8, W4A8_FP8,
 * W4A8_INT8): the activation-scale rule and the int4 byte layouts of docs/formats.md. The GPU
 * kernels (kernels/cuda/act_quant.cu, w8a8_*.cu) implement the same rules; keep them in step.
 */
#ifndef QG_DYNACT_H
#define QG_DYNACT_H

#include "internal.h"

/* Activation scale = max(absmax / QMAX, QG_ACT_SCALE_FLOOR); QMAX is 448 (e4m3) or 127 (int8).
 * The floor keeps an all-zero row finite (0 / floor = 0). */
#define QG_ACT_SCALE_FLOOR 1e-12f
#define QG_E4M3_MAX 448.0f
#define QG_INT8_QMAX 127.0f

/* The largest K whose int32 dot product cannot overflow: 128*128*K < 2^31. */
#define QG_INT8_MAX_K 131072

/* Activation scale of one absmax (same float operations as the GPU kernel). */
float qg_act_scale_of(float absmax, qg_dtype qtype);
/* Quantize one value with a scale: e4m3 RNE satfinite of x/s, or int8 rni+sat of x/s. */
uint8_t qg_act_quant_one(float x, float scale, qg_dtype qtype);

/* Byte offset (within a row of K/2 bytes) and nibble (0 = bits 0-3, 1 = bits 4-7) of weight
 * column k in the packed int4 layouts. */
static inline int64_t qg_w4a8_fp8_byte(int64_t k, int *hi) {
    *hi = (int)(k & 1);
    return k >> 1;
}

/* W4A8_INT8 "fragment order": per 128-column block (64 bytes), byte 16*t + 4*s + j holds
 * k = 32*s + 4*t + j (low nibble) and k = 32*s + 16 + 4*t + j (high nibble). */
static inline int64_t qg_w4a8_int8_byte(int64_t k, int *hi) {
    const int64_t blk = k >> 7;
    const int r = (int)(k & 127), s = r >> 5, w = r & 31;
    *hi = w >> 4;
    const int t = (w & 15) >> 2, j = w & 3;
    return blk * 64 + 16 * t + 4 * s + j;
}

#endif
