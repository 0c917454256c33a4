/* Emulated kernels/cuda/w4a16_wgmma_ops.cuh for tests/emu (host C++): the same functions on the
 * CPU engine of emu_wgmma.cpp. The wgmma wrappers pass what the real ones encode in their PTX
 * string: m64nNk16, A/B type from QG_ACT (1 f16, 2 bf16), f32 accumulators, scale-d from the
 * argument, imm-scale-a/b 1, imm-trans-a/b 0. */
#pragma once
#include "emu_wgmma.h"
#include "ptx_fence.cuh"      /* tests/emu/emu_ptx_fence.cuh */
#include "ptx_mbarrier.cuh"   /* tests/emu/emu_ptx_mbarrier.cuh */
#include "ptx_setmaxnreg.cuh" /* tests/emu/emu_ptx_setmaxnreg.cuh */
#include "ptx_wgmma.cuh"      /* tests/emu/emu_ptx_wgmma.cuh */
QG_DEVICE void qg_w4wg_bar_sync(int id, int count) { emu_named_barrier(id, count); }
QG_DEVICE void qg_w4wg_mma_n128(float (&d)[64], uint64_t da, uint64_t db, int scale_d) {
    emu_wgmma_mma(d, 128, da, db, scale_d, QG_ACT, 0, 0);
}
QG_DEVICE void qg_w4wg_mma_n256(float (&d)[128], uint64_t da, uint64_t db, int scale_d) {
    emu_wgmma_mma(d, 256, da, db, scale_d, QG_ACT, 0, 0);
}
