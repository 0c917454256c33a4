/* Emulated kernels/cuda/int4_dequant.cuh for tests/emu (host C++): the same functions, with
 * exact-rounding half2 arithmetic and mma.m16n8k16 as a warp collective per the PTX layout. Its
 * copies come from ptx_cp_async.cuh, as in the real header. */
#pragma once
#include "ptx_cp_async.cuh" /* the emulated one (emu_ptx_cp_async.cuh) */
#include "ptx_ld_st.cuh"    /* emu_ptx_ld_st.cuh */
#include "ptx_lop3.cuh"     /* emu_ptx_lop3.cuh */
#if QG_ACT == QG_DT_BF16
#define QG_WO_MAGIC 0x43004300u
#define QG_WO_MAGIC_SYM 0x43084308u
#define QG_WO_ONE 0x3f803f80u
#else
#define QG_WO_MAGIC 0x64006400u
#define QG_WO_MAGIC_SYM 0x64086408u
#define QG_WO_ONE 0x3c003c00u
#endif
static inline float emu_h(uint16_t v) {
    return QG_ACT == QG_DT_BF16 ? qg_bf16_to_f32(v) : qg_f16_to_f32(v);
}
static inline uint16_t emu_r(float v) {
    return QG_ACT == QG_DT_BF16 ? qg_f32_to_bf16(v) : qg_f32_to_f16(v);
}
/* all uses are exact in float before the final rounding (small integers times 8/11-bit scales) */
static inline uint32_t emu_h2(uint32_t a, uint32_t b, float (*op)(float, float)) {
    return emu_r(op(emu_h((uint16_t)a), emu_h((uint16_t)b))) |
           ((uint32_t)emu_r(op(emu_h((uint16_t)(a >> 16)), emu_h((uint16_t)(b >> 16)))) << 16);
}
static inline float emu_sub(float a, float b) { return a - b; }
static inline float emu_add(float a, float b) { return a + b; }
static inline float emu_mul(float a, float b) {
    double d = (double)a * b;
    return (float)d;
}
QG_DEVICE uint32_t qg_h2_sub(uint32_t a, uint32_t b) { return emu_h2(a, b, emu_sub); }
QG_DEVICE uint32_t qg_h2_add(uint32_t a, uint32_t b) { return emu_h2(a, b, emu_add); }
QG_DEVICE uint32_t qg_h2_mul(uint32_t a, uint32_t b) { return emu_h2(a, b, emu_mul); }
QG_DEVICE uint32_t qg_h2_fma(uint32_t a, uint32_t b, uint32_t c) {
    return emu_fma_half((uint16_t)a, (uint16_t)b, (uint16_t)c, QG_ACT) |
           ((uint32_t)emu_fma_half((uint16_t)(a >> 16), (uint16_t)(b >> 16), (uint16_t)(c >> 16), QG_ACT)
            << 16);
}
QG_DEVICE uint32_t qg_h2_lo2(uint32_t x) { return __byte_perm(x, 0, 0x1010); }
QG_DEVICE uint32_t qg_h2_hi2(uint32_t x) { return __byte_perm(x, 0, 0x3232); }
QG_DEVICE void qg_w4_dequant(uint32_t q, uint32_t zz0, uint32_t zz1, uint32_t s0, uint32_t s1,
                             uint32_t b[2][2]) {
    b[0][0] = qg_h2_mul(qg_h2_sub(qg_lop3_and_or(q, 0x000f000fu, QG_WO_MAGIC), zz0), s0);
    b[0][1] = qg_h2_mul(qg_h2_sub(qg_lop3_and_or(q >> 4, 0x000f000fu, QG_WO_MAGIC), zz0), s0);
    b[1][0] = qg_h2_mul(qg_h2_sub(qg_lop3_and_or(q >> 8, 0x000f000fu, QG_WO_MAGIC), zz1), s1);
    b[1][1] = qg_h2_mul(qg_h2_sub(qg_lop3_and_or(q >> 12, 0x000f000fu, QG_WO_MAGIC), zz1), s1);
}
QG_DEVICE void qg_w4_dequant_fzp(uint32_t q, uint32_t z0, uint32_t z1, uint32_t s0, uint32_t s1,
                                 uint32_t b[2][2]) {
    b[0][0] = qg_h2_fma(qg_h2_sub(qg_lop3_and_or(q, 0x000f000fu, QG_WO_MAGIC), QG_WO_MAGIC_SYM), s0,
                        z0);
    b[0][1] = qg_h2_fma(qg_h2_sub(qg_lop3_and_or(q >> 4, 0x000f000fu, QG_WO_MAGIC), QG_WO_MAGIC_SYM),
                        s0, z0);
    b[1][0] = qg_h2_fma(qg_h2_sub(qg_lop3_and_or(q >> 8, 0x000f000fu, QG_WO_MAGIC), QG_WO_MAGIC_SYM),
                        s1, z1);
    b[1][1] = qg_h2_fma(qg_h2_sub(qg_lop3_and_or(q >> 12, 0x000f000fu, QG_WO_MAGIC), QG_WO_MAGIC_SYM),
                        s1, z1);
}
QG_DEVICE void qg_w8_decode(uint32_t q, uint32_t b[2]) {
    const uint32_t u = q ^ 0x80808080u;
#if QG_ACT == QG_DT_BF16
    const float f0 = __uint_as_float(__byte_perm(u, 0x4b000000u, 0x7540)) - 8388736.0f;
    const float f1 = __uint_as_float(__byte_perm(u, 0x4b000000u, 0x7541)) - 8388736.0f;
    const float f2 = __uint_as_float(__byte_perm(u, 0x4b000000u, 0x7542)) - 8388736.0f;
    const float f3 = __uint_as_float(__byte_perm(u, 0x4b000000u, 0x7543)) - 8388736.0f;
    b[0] = __byte_perm(__float_as_uint(f0), __float_as_uint(f1), 0x7632);
    b[1] = __byte_perm(__float_as_uint(f2), __float_as_uint(f3), 0x7632);
#else
    b[0] = qg_h2_sub(__byte_perm(u, 0x64646464u, 0x4140), 0x64806480u);
    b[1] = qg_h2_sub(__byte_perm(u, 0x64646464u, 0x4342), 0x64806480u);
#endif
}
/* mma.m16n8k16 row.col per the PTX fragment layout, as a warp collective */
QG_DEVICE void qg_mma_16816(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    const int lane = threadIdx.x & 31;
    emu_warp_xchg *x = emu_xchg();
    for (int i = 0; i < 4; i++) x->a[lane][i] = a[i];
    x->b[lane][0] = b0, x->b[lane][1] = b1;
    emu_warp_barrier();
    const int g = lane >> 2, t = lane & 3;
    for (int i = 0; i < 4; i++) {
        const int row = g + 8 * (i / 2), col = 2 * t + (i % 2);
        double s = 0;
        for (int k = 0; k < 16; k++) {
            const int la = (row % 8) * 4 + (k % 8) / 2, ra = (row >= 8) + 2 * (k >= 8);
            const float av = emu_h((uint16_t)(x->a[la][ra] >> (16 * (k & 1))));
            const int lb = col * 4 + (k % 8) / 2, rb = k >= 8;
            const float bv = emu_h((uint16_t)(x->b[lb][rb] >> (16 * (k & 1))));
            s += (double)av * bv;
        }
        d[i] = (float)((double)d[i] + s);
    }
    emu_warp_barrier();
}
