/* Emulated kernels/cuda/ptx_setmaxnreg.cuh for tests/emu (host C++): register budgets do not
 * exist on the CPU, so both are no-ops. */
#pragma once
template <int N> QG_DEVICE void qg_setmaxnreg_inc() {}
template <int N> QG_DEVICE void qg_setmaxnreg_dec() {}
