/* Emulated kernels/cuda/w4a16_wgmma_ops.cuh for tests/emu (host C++): the same functions on the
 * CPU engine of emu_wgmma.cpp. The wgmma wrappers pass what the real ones encode in their PTX
 * string: m64nNk16, A/B type from QG_ACT (1 f16, 2 bf16), f32 accumulators, scale-d from the
 * argument, imm-scale-a/b 1, imm-trans-a/b 0. */
#pragma once
#include "emu_wgmma.h"
QG_DEVICE void qg_w4wg_mbar_init(uint32_t bar, uint32_t count) { emu_mbar_init(bar, count); }
QG_DEVICE void qg_w4wg_mbar_init_fence() {}
QG_DEVICE void qg_w4wg_mbar_arrive(uint32_t bar) { emu_mbar_arrive(bar); }
QG_DEVICE void qg_w4wg_mbar_wait(uint32_t bar, uint32_t parity) { emu_mbar_wait(bar, parity); }
QG_DEVICE void qg_w4wg_bar_sync(int id, int count) { emu_named_barrier(id, count); }
QG_DEVICE void qg_w4wg_fence_proxy_async() {}
template <int N> QG_DEVICE void qg_w4wg_setmaxnreg_inc() {}
template <int N> QG_DEVICE void qg_w4wg_setmaxnreg_dec() {}
QG_DEVICE void qg_w4wg_fence() { emu_wgmma_fence(); }
QG_DEVICE void qg_w4wg_commit() { emu_wgmma_commit(); }
template <int N> QG_DEVICE void qg_w4wg_wait() { emu_wgmma_wait(N); }
template <int N> QG_DEVICE void qg_w4wg_pin(float (&)[N]) {}
QG_DEVICE void qg_w4wg_mma_n128(float (&d)[64], uint64_t da, uint64_t db, int scale_d) {
    emu_wgmma_mma(d, 128, da, db, scale_d, QG_ACT, 0, 0);
}
QG_DEVICE void qg_w4wg_mma_n256(float (&d)[128], uint64_t da, uint64_t db, int scale_d) {
    emu_wgmma_mma(d, 256, da, db, scale_d, QG_ACT, 0, 0);
}
