/*
 * setmaxnreg, sm_90a: a warpgroup gives registers back to the SM's pool (dec) or takes more
 * from it (inc), so warp-specialized kernels can size producers and consumers apart. N is a
 * multiple of 8 in 24..256, the same for every thread of the warpgroup. [PTX ISA 9.7.19
 * "Miscellaneous Instructions": setmaxnreg;
 * https://docs.nvidia.com/cuda/parallel-thread-execution/#miscellaneous-instructions-setmaxnreg]
 */
#pragma once

template <int N> QG_DEVICE void qg_setmaxnreg_inc() {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(N) : "memory");
}
template <int N> QG_DEVICE void qg_setmaxnreg_dec() {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(N) : "memory");
}
