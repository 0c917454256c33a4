/*
 * Packed weight-only weights (docs/formats.md: W4A16 int4, W8A16 int8) -> bf16/f16 out[N, K]
 * row-major. One warp per (slab, chunk): lane 4g + t reads its 16 (int4) or 32 (int8) packed
 * bytes of the chunk's two k16 steps and the group's scales (and zero points), computes
 * (u - z) * s exactly in f32, rounds once to the output dtype and writes, for each of its 8 rows
 * 64b + 16j + 8h + g, the 8 consecutive k = 32c + 8t .. + 7 (one 16-byte store).
 * Variant parameters: QG_WBITS (4 or 8), QG_FZP (int4: 1 float zero points, (u - 8) * s + z
 * rounded once to the scale dtype by one fma in that dtype, then converted to the output dtype;
 * 0 or undefined: none or integer ones). Everything else is a run-time argument.
 */
#include "qg_prelude.cuh"
#include "qg_abi.cuh" /* qg_dq_params */
#include "ptx_ld_st.cuh"

#if !defined(QG_WBITS) || (QG_WBITS != 4 && QG_WBITS != 8)
#error "dequant_wo needs QG_WBITS = 4 or 8"
#endif
#ifndef QG_FZP
#define QG_FZP 0
#endif

#if QG_FZP
/* (u - 8) * s + z (u <= 15; s, z 16-bit values of type dt) rounded once to dt, as a float */
QG_DEVICE float qg_dq_fzp(uint32_t u, uint16_t s, uint16_t z, int dt) {
    const uint16_t x = qg_from_f32((float)((int)u - 8), dt); /* small integers: exact */
    return qg_to_f32(qg_fma_rn(x, s, z, dt), dt);
}
#endif

extern "C" __global__ void __launch_bounds__(256) qg_wo_dequant(const qg_dq_params p) {
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int nchunks = p.kp >> 5, nslabs = (p.n + 63) >> 6, ksteps = p.kp >> 4;
    const long long wid = (long long)blockIdx.x * 8 + (threadIdx.x >> 5);
    if (wid >= (long long)nslabs * nchunks) return;
    const int b = (int)(wid / nchunks), c = (int)(wid % nchunks);
    const int sdt = p.scale_bf16 ? QG_DT_BF16 : QG_DT_F16, odt = p.out_bf16 ? QG_DT_BF16 : QG_DT_F16;

    /* scales (and zero points) of rows 64b + 16j + 8h + g: element 2j + h of the lane's 16 bytes */
    const long long soff = (((long long)b * p.groups + ((c * 32) >> p.gs_log2)) * 8 + g) * 8;
    const qg_u32x4 sv = *(const qg_u32x4 *)(p.scale + soff);
    const uint32_t sw[4] = {sv.x, sv.y, sv.z, sv.w};
    uint32_t zw[4] = {0, 0, 0, 0};
    if (QG_WBITS == 4 && p.zero) {
        const qg_u32x4 zv = *(const qg_u32x4 *)(p.zero + soff);
        zw[0] = zv.x, zw[1] = zv.y, zw[2] = zv.z, zw[3] = zv.w;
    }

    /* packed words of the two k16 steps s = 0, 1 */
#if QG_WBITS == 4
    uint32_t q[2][4];
#pragma unroll
    for (int s = 0; s < 2; s++) {
        const qg_u32x4 v = qg_ld_stream_u32x4(
            p.w + (((long long)b * ksteps + 2 * c + s) * 32 + lane) * 16);
        q[s][0] = v.x, q[s][1] = v.y, q[s][2] = v.z, q[s][3] = v.w;
    }
#else
    uint32_t q[2][8];
#pragma unroll
    for (int s = 0; s < 2; s++)
#pragma unroll
        for (int half = 0; half < 2; half++) {
            const qg_u32x4 v = qg_ld_stream_u32x4(
                p.w + ((((long long)b * ksteps + 2 * c + s) * 2 + half) * 32 + lane) * 16);
            q[s][4 * half + 0] = v.x, q[s][4 * half + 1] = v.y;
            q[s][4 * half + 2] = v.z, q[s][4 * half + 3] = v.w;
        }
#endif

    const int k0 = c * 32 + t * 8;
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int n = b * 64 + j * 16 + h * 8 + g;
            if (n >= p.n || k0 >= p.k) continue;
            const float s = qg_to_f32((uint16_t)(sw[j] >> (16 * h)), sdt);
            uint16_t o[8];
#pragma unroll
            for (int s16 = 0; s16 < 2; s16++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
#if QG_WBITS == 4
#if QG_FZP
                    const int nib = (e & 1) * 4 + h * 2 + (e >> 1);
                    const float v = qg_dq_fzp((q[s16][j] >> (4 * nib)) & 15u,
                                              (uint16_t)(sw[j] >> (16 * h)),
                                              (uint16_t)(zw[j] >> (16 * h)), sdt);
#else
                    const float z = p.zero ? qg_to_f32((uint16_t)(zw[j] >> (16 * h)), sdt) : 8.0f;
                    const int nib = (e & 1) * 4 + h * 2 + (e >> 1);
                    const float v = ((float)((q[s16][j] >> (4 * nib)) & 15u) - z) * s;
#endif
#else
                    const int code = (int)(signed char)(q[s16][(j & 1) * 2 + h + 4 * (j >> 1)] >>
                                                        (8 * e));
                    const float v = (float)code * s;
#endif
                    o[4 * s16 + e] = qg_from_f32(v, odt);
                }
            uint16_t *dst = p.out + (long long)n * p.k + k0;
            if (p.vec_ok) {
                qg_u32x4 v;
                v.x = o[0] | ((uint32_t)o[1] << 16), v.y = o[2] | ((uint32_t)o[3] << 16);
                v.z = o[4] | ((uint32_t)o[5] << 16), v.w = o[6] | ((uint32_t)o[7] << 16);
                *(qg_u32x4 *)dst = v;
            } else {
#pragma unroll
                for (int i = 0; i < 8; i++)
                    if (k0 + i < p.k) dst[i] = o[i];
            }
        }
}
