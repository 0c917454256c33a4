/* Emulated kernels/cuda/ptx_bar.cuh for tests/emu (host C++): a named barrier of `count`
 * threads on the CTA's emulated threads (emu_rt). */
#pragma once
#include "emu_wgmma.h" /* emu_named_barrier */
QG_DEVICE void qg_bar_named_sync(int id, int count) { emu_named_barrier(id, count); }
