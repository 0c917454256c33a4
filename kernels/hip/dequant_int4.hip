/*
 * W4A16 weight dequantization for AMD GPUs (hiprtc): the packed int4 layout of docs/formats.md
 * ("W4A16 weights": 64-row slabs, 32-k chunks, fragment-ordered nibbles, scales and zero points
 * in the activation dtype at scale_index) -> out[N, K] in f16 or bf16, one element per thread:
 *     w(n, k) = (u - z) * s,  z = stored zero point or 8 (symmetric), rounded once to out dtype.
 * Compile-time: QG_BS threads per block. Arguments: dt = activation dtype (QG_DT_*) of the
 * scales/zeros, out_dt = output dtype, ks = Kp / 16, groups = G, gs = group size (K per channel).
 */
#include "qg_hip_prelude.h"

#ifndef QG_BS
#define QG_BS 256
#endif

QG_KERNEL void qg_hip_dequant_int4(const qg_u32 *QG_RESTRICT weight, const qg_u16 *QG_RESTRICT scale,
                                   const qg_u16 *QG_RESTRICT zero, qg_u16 *QG_RESTRICT out, int n,
                                   int k, int ks, int groups, int gs, int dt, int out_dt) {
    const qg_i64 i = (qg_i64)blockIdx.x * QG_BS + threadIdx.x;
    if (i >= (qg_i64)n * k) return;
    const qg_i64 row = i / k;
    const int col = (int)(i - row * k);
    /* Row: slab b, 16-row block j, half h, row g in the half. Column: chunk c, lane t in the
     * quad, k16 step s in the chunk, position e in the lane's four consecutive k. */
    const qg_i64 b = row / 64;
    const int j = (int)(row % 64) / 16, h = (int)(row % 16) / 8, g = (int)(row % 8);
    const int c = col / 32, r = col % 32, t = r / 8, s = (r % 8) / 4, e = r % 4;
    const qg_i64 word = ((b * ks + 2 * c + s) * 32 + 4 * g + t) * 4 + j;
    const int nibble = (e % 2) * 4 + h * 2 + e / 2;
    const float u = (float)((weight[word] >> (4 * nibble)) & 15u);
    const qg_i64 si = ((b * groups + col / gs) * 8 + g) * 8 + j * 2 + h;
    const float sc = qg_half_to_f32(scale[si], dt);
    const float z = zero ? qg_half_to_f32(zero[si], dt) : 8.0f;
    out[i] = qg_f32_to_half((u - z) * sc, out_dt);
}
