/* Emulated kernels/cuda/wo_wgmma_rs_ops.cuh for tests/emu (host C++): the RS wgmma wrappers on
 * the CPU engine of emu_wgmma.cpp (A from the thread's four registers, scale-d 1 as the real
 * wrappers encode it). */
#pragma once
#include "emu_wgmma.h"
#include "w4a16_wgmma_ops.cuh" /* tests/emu/emu_w4a16_wgmma_ops.cuh */
QG_DEVICE void qg_w4rs_mma_n64(float (&d)[32], const uint32_t (&a)[4], uint64_t db) {
    emu_wgmma_mma_rs(d, 64, a, db, 1, QG_ACT);
}
QG_DEVICE void qg_w4rs_mma_n128(float (&d)[64], const uint32_t (&a)[4], uint64_t db) {
    emu_wgmma_mma_rs(d, 128, a, db, 1, QG_ACT);
}
QG_DEVICE void qg_w4rs_mma_n256(float (&d)[128], const uint32_t (&a)[4], uint64_t db) {
    emu_wgmma_mma_rs(d, 256, a, db, 1, QG_ACT);
}
