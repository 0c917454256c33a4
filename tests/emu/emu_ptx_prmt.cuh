/* Emulated kernels/cuda/ptx_prmt.cuh for tests/emu (host C++): prmt with its sign-replicate
 * selector bit (emu_mma.cpp). */
#pragma once
#include "emu_mma.h"
QG_DEVICE uint32_t qg_prmt(uint32_t a, uint32_t b, uint32_t sel) { return emu_prmt(a, b, sel); }
