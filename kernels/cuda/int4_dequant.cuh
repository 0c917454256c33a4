/*
 * Weight-only fragment decoding (docs/formats.md, "Weight-only int4 and int8"): packed int4 /
 * int8 words to the half2 B registers of mma.m16n8k16 and the mma itself; it brings the PTX
 * wrappers the weight-only kernels use (copies, split-K loads and stores, lop3, mma). QG_ACT (QG_DT_F16 or QG_DT_BF16) selects the activation dtype.
 *
 * int4: OR-ing a nibble v into the mantissa of 1024.0 (f16 0x6400) or 128.0 (bf16 0x4300)
 * gives exactly 1024 + v / 128 + v (one lop3 does mask and OR for two halves); subtracting
 * magic + z then yields v - z exactly, and one multiply by the scale rounds once. Float zero
 * points (qg_w4_dequant_fzp): v - 8 exactly, then one fma (v - 8) * s + z rounded once.
 * int8: f16 uses the magic 1024 + (q + 128) with prmt; bf16 has too few mantissa bits, so it
 * goes through f32 (2^23 + (q + 128)) and keeps the upper halves (exact for |q| <= 128).
 */
#pragma once

#include "ptx_cp_async.cuh" /* the weight-only kernels' copies */
#include "ptx_ld_st.cuh"    /* split-K partials */
#include "ptx_lop3.cuh"
#include "ptx_mma.cuh"

#ifndef QG_ACT
#error "QG_ACT (QG_DT_F16 or QG_DT_BF16) must be defined"
#endif

#if QG_ACT == QG_DT_BF16
#define QG_WO_MAGIC 0x43004300u     /* {128, 128} */
#define QG_WO_MAGIC_SYM 0x43084308u /* {136, 136}: magic + 8, the symmetric zero point */
#define QG_WO_ONE 0x3f803f80u
#else
#define QG_WO_MAGIC 0x64006400u     /* {1024, 1024} */
#define QG_WO_MAGIC_SYM 0x64086408u /* {1032, 1032} */
#define QG_WO_ONE 0x3c003c00u
#endif

/* half2 arithmetic in the activation dtype. bf16 sub/mul/add need sm_90 as instructions, so
 * they are written as fma.rn.bf16x2 (sm_80), which rounds the same way. */
QG_DEVICE uint32_t qg_h2_sub(uint32_t a, uint32_t b) {
    uint32_t d;
#if QG_ACT == QG_DT_BF16
    asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(b), "r"(0xbf80bf80u), "r"(a));
#else
    asm("sub.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
#endif
    return d;
}

QG_DEVICE uint32_t qg_h2_add(uint32_t a, uint32_t b) {
    uint32_t d;
#if QG_ACT == QG_DT_BF16
    asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(QG_WO_ONE), "r"(b));
#else
    asm("add.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
#endif
    return d;
}

QG_DEVICE uint32_t qg_h2_mul(uint32_t a, uint32_t b) {
    uint32_t d;
#if QG_ACT == QG_DT_BF16
    asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(0x80008000u));
#else
    asm("mul.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
#endif
    return d;
}

/* a * b + c per half, rounded once (fma.rn.bf16x2 is sm_80) */
QG_DEVICE uint32_t qg_h2_fma(uint32_t a, uint32_t b, uint32_t c) {
    uint32_t d;
#if QG_ACT == QG_DT_BF16
    asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
#else
    asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
#endif
    return d;
}

/* {lo, lo} and {hi, hi} of a half2 word. */
QG_DEVICE uint32_t qg_h2_lo2(uint32_t x) { return __byte_perm(x, 0, 0x1010); }
QG_DEVICE uint32_t qg_h2_hi2(uint32_t x) { return __byte_perm(x, 0, 0x3232); }

/*
 * One int4 word (16x16 block j of a lane's 16-byte load) -> B registers b[h][r] of the two n8
 * blocks h (rows g, g + 8): register r of block h sits at (q >> (8h + 4r)) & 0x000f000f.
 * zz0/zz1: {magic + z, magic + z} of rows g / g + 8; s0/s1: their scale splats.
 */
QG_DEVICE void qg_w4_dequant(uint32_t q, uint32_t zz0, uint32_t zz1, uint32_t s0, uint32_t s1,
                             uint32_t b[2][2]) {
    b[0][0] = qg_h2_mul(qg_h2_sub(qg_lop3_and_or(q, 0x000f000fu, QG_WO_MAGIC), zz0), s0);
    b[0][1] = qg_h2_mul(qg_h2_sub(qg_lop3_and_or(q >> 4, 0x000f000fu, QG_WO_MAGIC), zz0), s0);
    b[1][0] = qg_h2_mul(qg_h2_sub(qg_lop3_and_or(q >> 8, 0x000f000fu, QG_WO_MAGIC), zz1), s1);
    b[1][1] = qg_h2_mul(qg_h2_sub(qg_lop3_and_or(q >> 12, 0x000f000fu, QG_WO_MAGIC), zz1), s1);
}

/* qg_w4_dequant for float zero points (docs/formats.md, W4A16 value): z0/z1 are {z, z} of rows
 * g / g + 8 as stored; (u - 8) * s + z, the one rounding of the fma. */
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

/* One int8 word (bytes e = 0..3 = k slots 2t, 2t+1, 2t+8, 2t+9 of one n8 block) -> the exact
 * integer values as b[0], b[1]; the per-channel scale is applied to the f32 sums later. */
QG_DEVICE void qg_w8_decode(uint32_t q, uint32_t b[2]) {
    const uint32_t u = q ^ 0x80808080u; /* two's complement -> q + 128 */
#if QG_ACT == QG_DT_BF16
    const float f0 = __uint_as_float(__byte_perm(u, 0x4b000000u, 0x7540)) - 8388736.0f;
    const float f1 = __uint_as_float(__byte_perm(u, 0x4b000000u, 0x7541)) - 8388736.0f;
    const float f2 = __uint_as_float(__byte_perm(u, 0x4b000000u, 0x7542)) - 8388736.0f;
    const float f3 = __uint_as_float(__byte_perm(u, 0x4b000000u, 0x7543)) - 8388736.0f;
    b[0] = __byte_perm(__float_as_uint(f0), __float_as_uint(f1), 0x7632);
    b[1] = __byte_perm(__float_as_uint(f2), __float_as_uint(f3), 0x7632);
#else
    b[0] = qg_h2_sub(__byte_perm(u, 0x64646464u, 0x4140), 0x64806480u); /* - 1152 */
    b[1] = qg_h2_sub(__byte_perm(u, 0x64646464u, 0x4342), 0x64806480u);
#endif
}

/* d += a * b, m16n8k16, f32 accumulate, A/B in the activation dtype. */
QG_DEVICE void qg_mma_16816(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
#if QG_ACT == QG_DT_BF16
    qg_mma_m16n8k16_bf16(d, a, b0, b1);
#else
    qg_mma_m16n8k16_f16(d, a, b0, b1);
#endif
}
