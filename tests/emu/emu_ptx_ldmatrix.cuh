/* Emulated kernels/cuda/ptx_ldmatrix.cuh for tests/emu (host C++): ldmatrix on the warp model
 * of emu_mma.cpp (every lane must call it). */
#pragma once
#include "emu_mma.h"
QG_DEVICE void qg_ldmatrix_x4(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3) {
    uint32_t r[4];
    emu_ldmatrix(addr, 4, 0, r);
    r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3];
}
