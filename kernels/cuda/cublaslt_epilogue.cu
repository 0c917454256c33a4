/*
 * Epilogue of the cuBLASLt int8 family (family_cublaslt.c): cuBLASLt computes the exact
 * int32 products acc[M,N] (contiguous, row stride N) into the workspace; this kernel applies the
 * W8A8 scales and bias of docs/formats.md and rounds once to the output dtype:
 *   c[m,n] = round(f32(acc[m,n]) * a_scale[m or 0] * w_scale[n or 0] + bias[n])
 * Each thread handles 4 consecutive columns (N % 4 == 0): one 16-byte load of acc, then one
 * 16-byte store of zeros to it: the workspace must be left zero for the split-K kernels that
 * share it (include/qgemm.h), and every acc element is read by exactly one thread.
 */
#include "qg_prelude.cuh"
#include "qg_abi.cuh" /* qg_lt_epi_params, QG_EPI_* */

extern "C" __global__ void __launch_bounds__(256)
    qg_cublaslt_int8_epilogue(const qg_lt_epi_params p) {
    const long long q = (long long)blockIdx.x * 256 + threadIdx.x; /* quad index */
    const int quads = p.n >> 2;
    if (q >= (long long)p.m * quads) return;
    const int row = (int)(q / quads), col = (int)(q % quads) * 4;
    int32_t *src = p.acc + (long long)row * p.n + col;
    const qg_u32x4 v = *(const qg_u32x4 *)src;
    const qg_u32x4 zero = {0, 0, 0, 0};
    *(qg_u32x4 *)src = zero;
    const int32_t acc[4] = {(int32_t)v.x, (int32_t)v.y, (int32_t)v.z, (int32_t)v.w};
    const int dt = (p.flags & QG_EPI_OUT_F16) ? QG_DT_F16 : QG_DT_BF16;
    const float sa = p.a_scale[(p.flags & QG_EPI_A_TENSOR) ? 0 : row];
    uint16_t out[4];
#pragma unroll
    for (int j = 0; j < 4; j++) {
        const float sw = p.w_scale[(p.flags & QG_EPI_W_TENSOR) ? 0 : col + j];
        float x = (float)acc[j] * sa * sw;
        if (p.flags & QG_EPI_BIAS) x += qg_to_f32(p.bias[col + j], dt);
        out[j] = qg_from_f32(x, dt);
    }
    uint16_t *c = p.c + (long long)row * p.ldc + col;
    if (p.flags & QG_EPI_VEC) {
        const uint32_t lo = (uint32_t)out[0] | ((uint32_t)out[1] << 16);
        const uint32_t hi = (uint32_t)out[2] | ((uint32_t)out[3] << 16);
        asm volatile("st.global.v2.u32 [%0], {%1, %2};" ::"l"(c), "r"(lo), "r"(hi) : "memory");
    } else {
#pragma unroll
        for (int j = 0; j < 4; j++) c[j] = out[j];
    }
}
