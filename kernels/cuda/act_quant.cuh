/*
 * Dynamic activation quantization: bf16/f16 a[M,K] -> e4m3 or int8 q[M,K] with f32 scales,
 * bit-exact with qg_quantize_activations_host (act_quant_host.c):
 *   scale = max(absmax / QMAX, 1e-12);  q = cvt_rn_satfinite_e4m3(a / scale)  (QMAX 448)
 *                                        q = cvt_rni_sat_s8(a / scale)          (QMAX 127)
 * IEEE division (NVRTC's default -prec-div=true), as on the host: no reciprocal.
 *
 * Compile-time parameters: QG_AT (1: e4m3, 2: int8; set by act_quant_fp8.cu / act_quant_int8.cu),
 * QG_THREADS (threads per CTA), QG_VPT (below).
 *
 * One CTA per row. With QG_VPT > 0 the row stays in registers between the max and the
 * conversion, so DRAM is read once: each thread owns QG_VPT chunks of 16 elements (two 16-byte
 * loads, one 16-byte store). QG_VPT == 0 is the fallback for any K: it reads the row twice
 * (the second time mostly from L2).
 *
 * `mode`: 0 per token (scale[row]); 1 per tensor, pass 1: atomicMax of this row's scale into
 * scale[0] (zeroed by the launcher; max(absmax/448, floor) is monotonic in absmax, so the max
 * of the row scales is the tensor scale, bit for bit); 2 per tensor, pass 2: quantize with
 * scale[0].
 */
#pragma once
#include "qg_prelude.cuh"

#if !defined(QG_AT) || !defined(QG_THREADS) || !defined(QG_VPT)
#error "act_quant.cuh needs QG_AT, QG_THREADS and QG_VPT"
#endif

#if QG_AT == 2
#define QMAX 127.0f
#else
#define QMAX 448.0f
#endif

/* 16 elements (8 x b32 of two halves) -> 16 bytes. */
QG_DEVICE float aq_elem(uint32_t pair, int hi, int f16) {
    const uint16_t h = (uint16_t)(hi ? pair >> 16 : pair & 0xffffu);
    return f16 ? qg_f16_to_f32(h) : qg_bf16_to_f32(h);
}

QG_DEVICE uint32_t aq_quant4(const uint32_t *v2, float s, int f16) {
    /* elements 0..3 of two b32 pairs -> 4 bytes, element 0 in the low byte */
    const float x0 = aq_elem(v2[0], 0, f16) / s, x1 = aq_elem(v2[0], 1, f16) / s;
    const float x2 = aq_elem(v2[1], 0, f16) / s, x3 = aq_elem(v2[1], 1, f16) / s;
#if QG_AT == 2
    int q0, q1, q2, q3;
    asm("cvt.rni.sat.s8.f32 %0, %1;" : "=r"(q0) : "f"(x0));
    asm("cvt.rni.sat.s8.f32 %0, %1;" : "=r"(q1) : "f"(x1));
    asm("cvt.rni.sat.s8.f32 %0, %1;" : "=r"(q2) : "f"(x2));
    asm("cvt.rni.sat.s8.f32 %0, %1;" : "=r"(q3) : "f"(x3));
    return (uint32_t)(q0 & 0xff) | ((uint32_t)(q1 & 0xff) << 8) | ((uint32_t)(q2 & 0xff) << 16) |
           ((uint32_t)(q3 & 0xff) << 24);
#else
    uint16_t lo, hi;
    asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(lo) : "f"(x1), "f"(x0));
    asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(hi) : "f"(x3), "f"(x2));
    return (uint32_t)lo | ((uint32_t)hi << 16);
#endif
}

QG_DEVICE float aq_absmax8(const uint32_t *v, float m, int f16) {
#pragma unroll
    for (int i = 0; i < 8; i++) {
        m = fmaxf(m, fabsf(aq_elem(v[i], 0, f16)));
        m = fmaxf(m, fabsf(aq_elem(v[i], 1, f16)));
    }
    return m;
}

QG_DEVICE void aq_load16(const uint16_t *p, uint32_t *v) {
    const qg_u32x4 a = *(const qg_u32x4 *)p, b = *(const qg_u32x4 *)(p + 8);
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}

QG_DEVICE void aq_store16(uint8_t *q, const uint32_t *v, float s, int f16) {
    qg_u32x4 o;
    o.x = aq_quant4(v + 0, s, f16);
    o.y = aq_quant4(v + 2, s, f16);
    o.z = aq_quant4(v + 4, s, f16);
    o.w = aq_quant4(v + 6, s, f16);
    *(qg_u32x4 *)q = o;
}

/* Max over the CTA; every thread gets the result. */
QG_DEVICE float aq_block_max(float m) {
    __shared__ float part[QG_THREADS / 32];
    m = qg_warp_max(m);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = m;
    __syncthreads();
    float r = part[0];
#pragma unroll
    for (int i = 1; i < QG_THREADS / 32; i++) r = fmaxf(r, part[i]);
    return r;
}

extern "C" __global__ void __launch_bounds__(QG_THREADS)
    qg_act_quant(const uint16_t *__restrict__ a, uint8_t *__restrict__ q, float *__restrict__ scale,
                 int K, int f16, int mode) {
    const long long row = blockIdx.x;
    const uint16_t *ar = a + row * K;
    uint8_t *qr = q + row * K;
    const int nchunks = K >> 4;
#if QG_VPT > 0
    uint32_t v[QG_VPT][8];
    float m = 0.f;
#pragma unroll
    for (int i = 0; i < QG_VPT; i++) {
        const int ch = threadIdx.x + i * QG_THREADS;
        if (ch < nchunks) {
            aq_load16(ar + 16 * ch, v[i]);
            if (mode != 2) m = aq_absmax8(v[i], m, f16);
        }
    }
#else
    float m = 0.f;
    if (mode != 2) {
        for (int ch = threadIdx.x; ch < nchunks; ch += QG_THREADS) {
            uint32_t v[8];
            aq_load16(ar + 16 * ch, v);
            m = aq_absmax8(v, m, f16);
        }
    }
#endif
    float s;
    if (mode == 2) {
        s = scale[0];
    } else {
        s = fmaxf(aq_block_max(m) / QMAX, 1e-12f);
        if (mode == 1) {
            /* non-negative floats order like their bit patterns */
            if (threadIdx.x == 0) atomicMax((int *)scale, __float_as_int(s));
            return;
        }
        if (threadIdx.x == 0) scale[row] = s;
    }
#if QG_VPT > 0
#pragma unroll
    for (int i = 0; i < QG_VPT; i++) {
        const int ch = threadIdx.x + i * QG_THREADS;
        if (ch < nchunks) aq_store16(qr + 16 * ch, v[i], s, f16);
    }
#else
    for (int ch = threadIdx.x; ch < nchunks; ch += QG_THREADS) {
        uint32_t v[8];
        aq_load16(ar + 16 * ch, v);
        aq_store16(qr + 16 * ch, v, s, f16);
    }
#endif
}
