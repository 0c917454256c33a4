/*
 * qgemm HIP kernel prelude: included by every HIP kernel source (kernels/hip). hiprtc compiles
 * with its own built-in runtime header only (no ROCm headers), so the fixed-width types and the
 * f16/bf16 conversions we need are here. Compile-time parameters arrive as -DQG_<NAME>=<value>.
 *
 * Kernels are written in the common subset of HIP C++ and C11 so that a CPU test can compile
 * them as host C with QG_HIP_HOST_EMULATION (thread indices become globals the test sets) and
 * check their index arithmetic against the reference: there is no AMD GPU in CI.
 */
#pragma once

typedef unsigned char qg_u8;
typedef unsigned short qg_u16;
typedef unsigned int qg_u32;
typedef long long qg_i64;

/* Element types (same numbers as the CUDA prelude's QG_DT_*). */
#define QG_DT_F16 1
#define QG_DT_BF16 2

#ifndef QG_HIP_HOST_EMULATION
#define QG_KERNEL extern "C" __global__
#define QG_DEVICE static __device__ __forceinline__
#define QG_RESTRICT __restrict__
#define QG_BITCAST(T, x) __builtin_bit_cast(T, x)
#else
#include <string.h>
typedef struct {
    unsigned x, y, z;
} qg_host_dim3;
static qg_host_dim3 blockIdx, threadIdx; /* set by the test before each "thread" */
#define QG_KERNEL static
#define QG_DEVICE static inline
#define QG_RESTRICT restrict
#define QG_BITCAST(T, x) qg_host_bitcast_##T(x)
static inline qg_u16 qg_host_bitcast_qg_u16(_Float16 h) {
    qg_u16 r;
    memcpy(&r, &h, 2);
    return r;
}
static inline _Float16 qg_host_bitcast__Float16(qg_u16 v) {
    _Float16 r;
    memcpy(&r, &v, 2);
    return r;
}
static inline qg_u32 qg_host_bitcast_qg_u32(float f) {
    qg_u32 r;
    memcpy(&r, &f, 4);
    return r;
}
static inline float qg_host_bitcast_float(qg_u32 v) {
    float r;
    memcpy(&r, &v, 4);
    return r;
}
#endif

/* f16 / bf16 bit patterns <-> f32. */
QG_DEVICE float qg_f16_to_f32(qg_u16 v) { return (float)QG_BITCAST(_Float16, v); }
QG_DEVICE float qg_bf16_to_f32(qg_u16 v) { return QG_BITCAST(float, (qg_u32)v << 16); }
QG_DEVICE float qg_half_to_f32(qg_u16 v, int dt) {
    return dt == QG_DT_BF16 ? qg_bf16_to_f32(v) : qg_f16_to_f32(v);
}

/* f32 -> f16 bits, round to nearest even (the hardware conversion). */
QG_DEVICE qg_u16 qg_f32_to_f16(float f) { return QG_BITCAST(qg_u16, (_Float16)f); }

/* f32 -> bf16 bits, round to nearest even; NaN stays NaN. */
QG_DEVICE qg_u16 qg_f32_to_bf16(float f) {
    qg_u32 u = QG_BITCAST(qg_u32, f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (qg_u16)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (qg_u16)(u >> 16);
}

QG_DEVICE qg_u16 qg_f32_to_half(float f, int dt) {
    return dt == QG_DT_BF16 ? qg_f32_to_bf16(f) : qg_f32_to_f16(f);
}
