/* Emulated kernels/cuda/ptx_wgmma.cuh for tests/emu (host C++): wgmma ordering on the CPU engine
 * of emu_wgmma.cpp. Pins are no-ops: the engine's accumulators are memory, read as NaN while a
 * wgmma is in flight, so a read the pin would have ordered shows up as a wrong result. */
#pragma once
#include "emu_wgmma.h"
QG_DEVICE void qg_wgmma_fence() { emu_wgmma_fence(); }
QG_DEVICE void qg_wgmma_commit() { emu_wgmma_commit(); }
template <int N> QG_DEVICE void qg_wgmma_wait() { emu_wgmma_wait(N); }
template <typename T> QG_DEVICE void qg_wgmma_pin(T &) {}
