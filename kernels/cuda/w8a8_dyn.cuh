/*
 * Device helpers of the dynamic-activation GEMMs (W8A8_FP8/INT8, W4A8_FP8/INT8): 8-bit mma.sync
 * wrappers, int4 -> 8-bit conversions in registers, the scaled epilogue store. Included by
 * w8a8_gemv.cu and w8a8_mma.cu after qg_prelude.cuh.
 *
 * Compile-time parameters shared by those kernels:
 *   QG_AT  1: e4m3 x e4m3 (f32 accumulate, sm_89+)   2: s8 x s8 (s32 accumulate, sm_80+)
 *   QG_WB  8: 8-bit weights [N,K]   4: int4 weights (layout per QG_AT, docs/formats.md)
 * Runtime `flags` (QG_DYN_* of qg_abi.cuh) select the output dtype, bias and scale
 * granularities, so one compiled variant serves every problem class of its scheme.
 */
#pragma once

#include "qg_abi.cuh" /* qg_dyn_params, QG_DYN_* */
#include "ptx_ld_st.cuh"
#include "ptx_lop3.cuh"
#include "ptx_mma.cuh"
#include "ptx_prmt.cuh"
#include "int4_e4m3.cuh" /* qg_i4x8_to_e4m3x8 (W4A8_FP8) */

#if !defined(QG_AT) || !defined(QG_WB)
#error "w8a8_dyn.cuh needs QG_AT and QG_WB"
#endif

#if QG_AT == 2
typedef int qg_acc_t; /* exact integer accumulation */
#else
typedef float qg_acc_t;
#endif

/* The extern "C" kernel `name` taking qg_dyn_params, around `body`: a QG_DEVICE function with
 * the argument list the kernels had before (inlined, so its __restrict__ still applies). */
#define QG_DYN_KERNEL(name, bounds, body)                                                        \
    extern "C" __global__ void bounds name(const qg_dyn_params P) {                              \
        body(P.a, P.lda, P.w, P.w_scale, P.a_scale, P.bias, P.c, P.ldc, P.m, P.n, P.k, P.groups, \
             P.glog, P.flags);                                                                   \
    }

/* D = A(16x32, row) * B(32x8, col) + C. Fragments as in kernel_notes.md section 2. */
QG_DEVICE void qg_mma_16832(qg_acc_t d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
#if QG_AT == 2
    qg_mma_m16n8k32_s8(d, a, b0, b1);
#else
    qg_mma_m16n8k32_e4m3(d, a, b0, b1);
#endif
}

/* 8 int4 in "fragment order" (byte j: low nibble -> lo byte j, high nibble -> hi byte j) ->
 * int8 bytes holding 16*v: the nibble moved to the top of its byte is already the two's
 * complement byte of 16*v. The epilogue divides by 16 (exact, folded into the group scale). */
QG_DEVICE void qg_i4x8_to_s8x8_x16(uint32_t w, uint32_t &lo, uint32_t &hi) {
    lo = (w << 4) & 0xF0F0F0F0u;
    hi = w & 0xF0F0F0F0u;
}

/* Epilogue: one output element pair (n, n+1) of token m: v * a_scale * w_scale (+ bias). */
struct qg_dyn_epi {
    const float *a_scale;
    const float *w_scale; /* NULL: no weight scale (W4: already applied per group) */
    const uint16_t *bias;
    uint16_t *c;
    long long ldc;
    int M, N, flags;
};

QG_DEVICE uint16_t qg_dyn_cvt_out(float v, int flags) {
    return (flags & QG_DYN_OUT_F16) ? qg_f32_to_f16(v) : qg_f32_to_bf16(v);
}

QG_DEVICE float qg_dyn_out_f32(uint16_t v, int flags) {
    return (flags & QG_DYN_OUT_F16) ? qg_f16_to_f32(v) : qg_bf16_to_f32(v);
}

/* Store columns n and n+1 of token m (either may be out of range). */
QG_DEVICE void qg_dyn_store2(const qg_dyn_epi &e, int m, int n, float v0, float v1) {
    if (m >= e.M || n >= e.N) return;
    const float sa = e.a_scale[(e.flags & QG_DYN_A_PER_TENSOR) ? 0 : m];
    float s0 = sa, s1 = sa;
    if (e.w_scale) {
        if (e.flags & QG_DYN_W_PER_TENSOR) {
            s0 *= e.w_scale[0];
            s1 = s0;
        } else {
            s0 *= e.w_scale[n];
            s1 *= (n + 1 < e.N) ? e.w_scale[n + 1] : 0.f;
        }
    }
    v0 *= s0;
    v1 *= s1;
    if (e.flags & QG_DYN_BIAS) {
        v0 += qg_dyn_out_f32(e.bias[n], e.flags);
        if (n + 1 < e.N) v1 += qg_dyn_out_f32(e.bias[n + 1], e.flags);
    }
    uint16_t *p = e.c + (long long)m * e.ldc + n;
    if ((e.flags & QG_DYN_PAIR_STORE) && n + 1 < e.N) {
        const uint32_t pk = (e.flags & QG_DYN_OUT_F16) ? qg_pack_f16x2(v0, v1)
                                                       : qg_pack_bf16x2(v0, v1);
        *(uint32_t *)p = pk;
    } else {
        p[0] = qg_dyn_cvt_out(v0, e.flags);
        if (n + 1 < e.N) p[1] = qg_dyn_cvt_out(v1, e.flags);
    }
}
