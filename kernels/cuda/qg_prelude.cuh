/*
 * qgemm kernel prelude: included by every kernel source. NVRTC compiles our kernels with no
 * toolkit header, so the fixed-width types and the half/bf16/fp8 conversions we need are here,
 * written with inline PTX on 32-bit registers.
 *
 * Compile-time parameters arrive as -DQG_<NAME>=<value> (see catalog.h); __CUDA_ARCH__ is
 * set by NVRTC from --gpu-architecture.
 */
#pragma once

typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
typedef unsigned long long uint64_t;

#define QG_DEVICE static __device__ __forceinline__

/* Activation / output element types (problem classes chosen at JIT time). */
#define QG_DT_F16 1
#define QG_DT_BF16 2

/* ---- conversions (bit patterns in uint16/uint32) ---- */

QG_DEVICE float qg_bf16_to_f32(uint16_t v) { return __uint_as_float(((uint32_t)v) << 16); }

QG_DEVICE float qg_f16_to_f32(uint16_t v) {
    float f;
    asm("{ .reg .f16 h; mov.b16 h, %1; cvt.f32.f16 %0, h; }" : "=f"(f) : "h"(v));
    return f;
}

QG_DEVICE uint16_t qg_f32_to_bf16(float f) {
    uint16_t r;
    asm("{ cvt.rn.bf16.f32 %0, %1; }" : "=h"(r) : "f"(f));
    return r;
}

QG_DEVICE uint16_t qg_f32_to_f16(float f) {
    uint16_t r;
    asm("{ .reg .f16 h; cvt.rn.f16.f32 h, %1; mov.b16 %0, h; }" : "=h"(r) : "f"(f));
    return r;
}

/* Two floats -> packed bf16x2 / f16x2 (lo in the low half). */
QG_DEVICE uint32_t qg_pack_bf16x2(float lo, float hi) {
    uint32_t r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

QG_DEVICE uint32_t qg_pack_f16x2(float lo, float hi) {
    uint32_t r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

/* Element of type QG_DT_* <-> float. */
QG_DEVICE float qg_to_f32(uint16_t v, int dt) {
    return dt == QG_DT_BF16 ? qg_bf16_to_f32(v) : qg_f16_to_f32(v);
}
QG_DEVICE uint16_t qg_from_f32(float f, int dt) {
    return dt == QG_DT_BF16 ? qg_f32_to_bf16(f) : qg_f32_to_f16(f);
}
/* a * b + c of type QG_DT_* rounded once to that type (fma.rn.bf16x2 / .f16x2, sm_80). */
QG_DEVICE uint16_t qg_fma_rn(uint16_t a, uint16_t b, uint16_t c, int dt) {
    uint32_t d;
    if (dt == QG_DT_BF16)
        asm("fma.rn.bf16x2 %0, %1, %2, %3;"
            : "=r"(d)
            : "r"((uint32_t)a), "r"((uint32_t)b), "r"((uint32_t)c));
    else
        asm("fma.rn.f16x2 %0, %1, %2, %3;"
            : "=r"(d)
            : "r"((uint32_t)a), "r"((uint32_t)b), "r"((uint32_t)c));
    return (uint16_t)d;
}

/* ---- memory ---- */

struct __align__(16) qg_u32x4 {
    uint32_t x, y, z, w;
};

QG_DEVICE uint32_t qg_smem_addr(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

/* ---- warp reductions ---- */

QG_DEVICE float qg_warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

QG_DEVICE float qg_warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* ---- family-specific shared helpers go below, each block marked with its owner ---- */
