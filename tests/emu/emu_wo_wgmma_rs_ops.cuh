/* Emulated kernels/cuda/wo_wgmma_rs_ops.cuh for tests/emu (host C++): the RS wgmma wrappers on
 * the CPU engine of emu_wgmma.cpp (A from the thread's four registers, scale-d 1 as the real
 * wrappers encode it) and the 4- / 8-byte cp.async on the emulated cp.async groups. */
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
QG_DEVICE void qg_cp_async4_zfill(uint32_t sdst, const void *gmem, int valid) {
    emu_cp_async_sized(emu_smem_ptr(sdst), gmem, 4, valid);
}
QG_DEVICE void qg_cp_async8_zfill(uint32_t sdst, const void *gmem, int valid) {
    emu_cp_async_sized(emu_smem_ptr(sdst), gmem, 8, valid);
}
