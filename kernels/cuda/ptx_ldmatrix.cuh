/*
 * ldmatrix, sm_75+: a warp loads four 8x8 b16 matrices from shared memory into mma fragments,
 * lanes 8i..8i+7 giving the row addresses of matrix i. [PTX ISA 9.7.14 "Warp Level Matrix
 * Multiply-Accumulate Instructions": ldmatrix;
 * https://docs.nvidia.com/cuda/parallel-thread-execution/#warp-level-matrix-instructions-ldmatrix]
 */
#pragma once

/* Matrix i lands in r_i; `addr` is this lane's row address in the shared window. */
QG_DEVICE void qg_ldmatrix_x4(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}
