/* Emulated kernels/cuda/wo_gemv_ops.cuh for tests/emu (host C++): the shuffle is the prelude's
 * __shfl_sync, a warp collective (every lane of the warp must call it, as on the GPU: a divergent
 * call would hang here instead of returning garbage). */
#pragma once
QG_DEVICE uint32_t qg_wogv_shfl(uint32_t v, int src) { return __shfl_sync(0xffffffffu, v, src); }
