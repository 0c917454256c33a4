/* Emulated kernels/cuda/ptx_mbarrier.cuh for tests/emu (host C++): mbarriers of emu_wgmma.cpp
 * (phases, arrival counts, tx-counts completed by the TMA model of emu_tma.cpp, a deadlock
 * report instead of a hang). The init fence is a no-op: the engine's barriers live in one
 * address space. */
#pragma once
#include "emu_wgmma.h"
QG_DEVICE void qg_mbar_init(uint32_t bar, uint32_t count) { emu_mbar_init(bar, count); }
QG_DEVICE void qg_mbar_init_fence() {}
QG_DEVICE void qg_mbar_arrive(uint32_t bar) { emu_mbar_arrive(bar); }
QG_DEVICE void qg_mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
    emu_mbar_arrive_expect_tx(bar, bytes);
}
QG_DEVICE void qg_mbar_wait(uint32_t bar, uint32_t parity) { emu_mbar_wait(bar, parity); }
QG_DEVICE void qg_mbar_wait_c_loop(uint32_t bar, uint32_t parity) { emu_mbar_wait(bar, parity); }
