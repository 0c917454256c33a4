/* Emulated kernels/cuda/ptx_lop3.cuh for tests/emu (host C++). */
#pragma once
QG_DEVICE uint32_t qg_lop3_and_or(uint32_t a, uint32_t b, uint32_t c) { return (a & b) | c; }
