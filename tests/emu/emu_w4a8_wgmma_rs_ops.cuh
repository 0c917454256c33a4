/* Emulated kernels/cuda/w4a8_wgmma_rs_ops.cuh for tests/emu (host C++): the 8-bit RS wgmma
 * (m64n64k32 / m64n128k32, e4m3 x e4m3 -> f32, A from the thread's four registers, scale-d from the
 * argument) on the CPU engine of emu_wgmma.cpp. */
#pragma once
#include "emu_wgmma.h"
QG_DEVICE void qg_w4a8rs_mma_n64(float (&d)[32], const uint32_t (&a)[4], uint64_t db, int scale_d) {
    emu_wgmma_mma_rs(d, 64, a, db, scale_d, EMU_WG_E4M3);
}
QG_DEVICE void qg_w4a8rs_mma_n128(float (&d)[64], const uint32_t (&a)[4], uint64_t db, int scale_d) {
    emu_wgmma_mma_rs(d, 128, a, db, scale_d, EMU_WG_E4M3);
}
