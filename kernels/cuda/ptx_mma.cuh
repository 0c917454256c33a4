/*
 * Warp-level mma.sync (sm_80; e4m3 sm_89) and its 2:4 sparse form mma.sp (ordered metadata):
 * d += a * b for one warp, fragments in registers as the ISA lays them out. The kernels pick the
 * element types from their compile-time parameters and call one of these. [PTX ISA 9.7.14 "Warp
 * Level Matrix Multiply-Accumulate Instructions": mma, mma.sp;
 * https://docs.nvidia.com/cuda/parallel-thread-execution/#warp-level-matrix-instructions-mma
 * https://docs.nvidia.com/cuda/parallel-thread-execution/#warp-level-matrix-instructions-for-sparse-mma]
 * The 16-bit forms are plain asm, the 8-bit dense forms asm volatile: each as its kernels were
 * tuned with (ptxas schedules them differently).
 */
#pragma once

/* Operand lists: accumulators d[0..3] as "+f" or "+r" (QG_MMA_F / QG_MMA_R), then the A
 * registers, then B: two registers b0, b1 (dense) or b[0..3] and the metadata word e (sparse). */
#define QG_MMA_F(x) "+f"(x)
#define QG_MMA_R(x) "+r"(x)
#define QG_MMA_D_A(C)                    \
    : C(d[0]), C(d[1]), C(d[2]), C(d[3])                                                         \
    : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3])
#define QG_MMA_OPERANDS(C) QG_MMA_D_A(C), "r"(b0), "r"(b1)
#define QG_MMA_SP_OPERANDS(C) QG_MMA_D_A(C), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]), "r"(e)

/* ---- dense: A 16 x K row-major (4 registers), B K x 8 column-major (2), D 16 x 8 (4) */

QG_DEVICE void qg_mma_m16n8k16_bf16(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};" QG_MMA_OPERANDS(QG_MMA_F));
}

QG_DEVICE void qg_mma_m16n8k16_f16(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};" QG_MMA_OPERANDS(QG_MMA_F));
}

/* s8 x s8, exact s32 accumulation. */
QG_DEVICE void qg_mma_m16n8k32_s8(int d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, "
                 "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};" QG_MMA_OPERANDS(QG_MMA_R));
}

QG_DEVICE void qg_mma_m16n8k32_e4m3(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, "
                 "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};" QG_MMA_OPERANDS(QG_MMA_F));
}

/* ---- sparse: A 16 x K stored 2:4 compressed (4 registers), B K x 8 (4), metadata word e.
 * 16-bit m16n8k32: SEL names the thread pair whose metadata is used (0: T0/T1, 1: T2/T3).
 * 8-bit m16n8k64: one selector, 0. */

template <int SEL>
QG_DEVICE void qg_mma_sp_m16n8k32_bf16(float (&d)[4], const uint32_t (&a)[4],
                                       const uint32_t (&b)[4], uint32_t e) {
    asm("mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32.bf16.bf16.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9,%10,%11}, {%0,%1,%2,%3}, %12, %13;" QG_MMA_SP_OPERANDS(
            QG_MMA_F),
        "n"(SEL));
}

template <int SEL>
QG_DEVICE void qg_mma_sp_m16n8k32_f16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4],
                                      uint32_t e) {
    asm("mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32.f16.f16.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9,%10,%11}, {%0,%1,%2,%3}, %12, %13;" QG_MMA_SP_OPERANDS(
            QG_MMA_F),
        "n"(SEL));
}

QG_DEVICE void qg_mma_sp_m16n8k64_e4m3(float (&d)[4], const uint32_t (&a)[4],
                                       const uint32_t (&b)[4], uint32_t e) {
    asm("mma.sp::ordered_metadata.sync.aligned.m16n8k64.row.col.f32.e4m3.e4m3.f32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9,%10,%11}, {%0,%1,%2,%3}, %12, 0x0;" QG_MMA_SP_OPERANDS(
            QG_MMA_F));
}

QG_DEVICE void qg_mma_sp_m16n8k64_s8(int (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4],
                                     uint32_t e) {
    asm("mma.sp::ordered_metadata.sync.aligned.m16n8k64.row.col.s32.s8.s8.s32 "
        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9,%10,%11}, {%0,%1,%2,%3}, %12, 0x0;" QG_MMA_SP_OPERANDS(
            QG_MMA_R));
}
