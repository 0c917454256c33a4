/* Emulated kernels/cuda/ptx_fence.cuh for tests/emu (host C++): one proxy here, nothing to fence
 * (so the emulator cannot find a missing proxy fence, see run.sh). */
#pragma once
QG_DEVICE void qg_fence_proxy_async() {}
