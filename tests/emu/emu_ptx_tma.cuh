/* Emulated kernels/cuda/ptx_tma.cuh for tests/emu (host C++): the 2-D tile load on the TMA model
 * of emu_tma.cpp (maps encoded by the harness's backend); the map prefetch is a no-op. */
#pragma once
#include "qg_abi.cuh"
#include "emu_tma.h"
QG_DEVICE void qg_tma_load_2d(uint32_t dst, const qg_tensor_map *map, int c0, int c1, uint32_t bar) {
    emu_tma_load_2d(dst, map, c0, c1, bar);
}
QG_DEVICE void qg_tma_prefetch_map(const qg_tensor_map *) {}
