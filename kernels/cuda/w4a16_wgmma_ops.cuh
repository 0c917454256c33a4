/*
 * PTX wrappers of the W4A16 wgmma kernel (kernels/cuda/w4a16_wgmma.cu), sm_90a only: named
 * barriers and wgmma.mma_async m64nNk16 with both operands in shared memory
 * (K-major, f32 accumulators, scale-d from a register, A/B scales 1, no transpose); mbarriers,
 * fences, setmaxnreg and wgmma ordering come from the ptx_*.cuh layer. tests/emu/emu_w4a16_wgmma_ops.cuh
 * emulates exactly these functions on the CPU (tests/emu/emu_ptx_*.cuh the layer); keep them in
 * step. Descriptors are built by the kernel itself (not here), so that the emulator checks their encoding against the PTX ISA layouts.
 * QG_ACT (QG_DT_F16 or QG_DT_BF16) selects the A/B type.
 */
#pragma once

#include "ptx_fence.cuh"
#include "ptx_mbarrier.cuh"
#include "ptx_setmaxnreg.cuh"
#include "ptx_wgmma.cuh"
#include "wgmma_regs.cuh"

#if QG_ACT == QG_DT_BF16
#define QG_W4WG_AB "bf16"
#else
#define QG_W4WG_AB "f16"
#endif

/* ---- named barriers: `count` threads (a multiple of 32) of the CTA on barrier `id` ---- */

QG_DEVICE void qg_w4wg_bar_sync(int id, int count) {
    asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(count) : "memory");
}

/* ---- wgmma ---- */

/* d (64 x N, f32, the accumulator fragment) = A (64 x 16, smem descriptor da) * B (16 x N, smem
 * descriptor db) + (scale_d ? d : 0); register lists from wgmma_regs.cuh. */
QG_DEVICE void qg_w4wg_mma_n128(float (&d)[64], uint64_t da, uint64_t db, int scale_d) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32." QG_W4WG_AB "." QG_W4WG_AB " "
                 "{" QG_WG_REGS64 "}, %64, %65, p, 1, 1, 0, 0;\n}\n"
                 : QG_WG_OPS64(QG_WG_F, d)
                 : "l"(da), "l"(db), "r"(scale_d));
}

QG_DEVICE void qg_w4wg_mma_n256(float (&d)[128], uint64_t da, uint64_t db, int scale_d) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n256k16.f32." QG_W4WG_AB "." QG_W4WG_AB " "
                 "{" QG_WG_REGS128 "}, %128, %129, p, 1, 1, 0, 0;\n}\n"
                 : QG_WG_OPS128(QG_WG_F, d)
                 : "l"(da), "l"(db), "r"(scale_d));
}
