/* Emulated kernels/cuda/wo_gemv_ops.cuh for tests/emu (host C++): __shfl_sync as a warp
 * collective (every lane of the warp must call it, as on the GPU: a
 * divergent call would hang here instead of returning garbage). */
#pragma once
QG_DEVICE uint32_t qg_wogv_shfl(uint32_t v, int src) {
    const int lane = threadIdx.x & 31;
    emu_warp_xchg *x = emu_xchg();
    x->a[lane][0] = v;
    emu_warp_barrier();
    const uint32_t r = x->a[src & 31][0];
    emu_warp_barrier();
    return r;
}
