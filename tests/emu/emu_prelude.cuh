/* Emulated kernels/cuda/qg_prelude.cuh for tests/emu (host C++): the names the weight-only
 * kernels use, with plain C++ bodies. */
#pragma once
#include "emu_rt.h"
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <atomic>
#define QG_DEVICE static inline
#define __global__
#define __device__
#define __forceinline__
#define __launch_bounds__(...)
#define __align__(n)
#define __shared__ static
#define __grid_constant__
#define __syncthreads() emu_syncthreads()
#define __threadfence() std::atomic_thread_fence(std::memory_order_seq_cst)
#define QG_DT_F16 1
#define QG_DT_BF16 2
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline unsigned atomicAdd(unsigned *p, unsigned v) {
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}
static inline float atomicAdd(float *p, float v) { /* split-K partial sums (sp24_mma) */
    float old, want;
    __atomic_load(p, &old, __ATOMIC_SEQ_CST);
    do want = old + v;
    while (!__atomic_compare_exchange(p, &old, &want, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    return old;
}
static inline float __uint_as_float(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline uint32_t __float_as_uint(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static inline uint32_t __byte_perm(uint32_t x, uint32_t y, uint32_t s) {
    uint8_t b[8];
    for (int i = 0; i < 4; i++) {
        b[i] = (uint8_t)(x >> (8 * i));
        b[4 + i] = (uint8_t)(y >> (8 * i));
    }
    uint32_t r = 0;
    for (int i = 0; i < 4; i++) r |= (uint32_t)b[(s >> (4 * i)) & 7] << (8 * i);
    return r;
}
/* RNE conversions */
static inline uint16_t emu_f32_to_bf16(float v) {
    uint32_t u = __float_as_uint(v);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
static inline float emu_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) return __uint_as_float(sign) + (sign ? -1.0f : 1.0f) * ldexpf((float)m, -24);
    if (e == 31) return __uint_as_float(sign | 0x7f800000u | (m << 13));
    return __uint_as_float(sign | ((e + 112) << 23) | (m << 13));
}
static inline uint16_t emu_f32_to_f16(float f) {
    uint32_t u = __float_as_uint(f), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) {
        float m = __uint_as_float(a) * 16777216.0f;
        return (uint16_t)(sign | (uint32_t)nearbyintf(m));
    }
    uint32_t man = a & 0x7fffffu, e = (a >> 23) - 112, h = (e << 10) | (man >> 13),
             rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}
QG_DEVICE float qg_bf16_to_f32(uint16_t v) { return __uint_as_float(((uint32_t)v) << 16); }
QG_DEVICE float qg_f16_to_f32(uint16_t v) { return emu_f16_to_f32(v); }
QG_DEVICE uint16_t qg_f32_to_bf16(float f) { return emu_f32_to_bf16(f); }
QG_DEVICE uint16_t qg_f32_to_f16(float f) { return emu_f32_to_f16(f); }
QG_DEVICE uint32_t qg_pack_bf16x2(float lo, float hi) {
    return emu_f32_to_bf16(lo) | ((uint32_t)emu_f32_to_bf16(hi) << 16);
}
QG_DEVICE uint32_t qg_pack_f16x2(float lo, float hi) {
    return emu_f32_to_f16(lo) | ((uint32_t)emu_f32_to_f16(hi) << 16);
}
/* x rounded once to nearest even in bf16 / f16 (dt), from long double: the exact sums of the
 * fma below (64-bit significand) round here without a second rounding through float. */
static inline uint16_t emu_round_half(long double x, int dt) {
    const int mant = dt == QG_DT_BF16 ? 8 : 11, emin = dt == QG_DT_BF16 ? -126 : -14;
    if (x == 0 || !isfinite((double)x))
        return dt == QG_DT_BF16 ? qg_f32_to_bf16((float)x) : qg_f32_to_f16((float)x);
    int e;
    frexpl(x, &e); /* |x| in [2^(e-1), 2^e) */
    const int q = (e - 1 > emin ? e - 1 : emin) - (mant - 1);
    const long double r = ldexpl(nearbyintl(ldexpl(x, -q)), q); /* exact: |x / 2^q| < 2^12 */
    return dt == QG_DT_BF16 ? qg_f32_to_bf16((float)r) : qg_f32_to_f16((float)r);
}
/* fma.rn of one bf16 / f16 lane: the product of two 16-bit values is exact in long double, and
 * so is the sum for exponent gaps below 50 bits (all the emulator's data). */
static inline uint16_t emu_fma_half(uint16_t a, uint16_t b, uint16_t c, int dt) {
    const long double av = dt == QG_DT_BF16 ? qg_bf16_to_f32(a) : qg_f16_to_f32(a);
    const long double bv = dt == QG_DT_BF16 ? qg_bf16_to_f32(b) : qg_f16_to_f32(b);
    const long double cv = dt == QG_DT_BF16 ? qg_bf16_to_f32(c) : qg_f16_to_f32(c);
    return emu_round_half(av * bv + cv, dt);
}
QG_DEVICE uint16_t qg_fma_rn(uint16_t a, uint16_t b, uint16_t c, int dt) {
    return emu_fma_half(a, b, c, dt);
}
QG_DEVICE float qg_to_f32(uint16_t v, int dt) {
    return dt == QG_DT_BF16 ? qg_bf16_to_f32(v) : qg_f16_to_f32(v);
}
QG_DEVICE uint16_t qg_from_f32(float f, int dt) {
    return dt == QG_DT_BF16 ? qg_f32_to_bf16(f) : qg_f32_to_f16(f);
}
struct alignas(16) qg_u32x4 {
    uint32_t x, y, z, w;
};
/* __shfl_sync as a warp collective (every lane of the warp calls it, with the full mask, as the
 * kernels do: a divergent call hangs here instead of returning garbage). */
static inline uint32_t __shfl_sync(unsigned mask, uint32_t v, int src) {
    if (mask != 0xffffffffu) {
        fprintf(stderr, "EMU: __shfl_sync with a partial mask 0x%x is not emulated\n", mask);
        abort();
    }
    const int lane = threadIdx.x & 31;
    emu_warp_xchg *x = emu_xchg();
    x->b[lane][0] = v;
    emu_warp_barrier();
    const uint32_t r = x->b[src & 31][0];
    emu_warp_barrier();
    return r;
}
QG_DEVICE uint32_t qg_smem_addr(const void *p) {
    return (uint32_t)((const unsigned char *)p - emu_smem);
}
