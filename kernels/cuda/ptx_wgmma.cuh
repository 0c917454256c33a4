/*
 * wgmma ordering, sm_90a: the fence before a warpgroup's first wgmma.mma_async touches its
 * accumulators, the commit of the issued wgmmas as a group, the wait for all but N groups, and the
 * accumulator pin. The mma_async instructions themselves stay with their kernels (their operand
 * lists depend on the tile). [PTX ISA 9.7.15 "Asynchronous Warpgroup Level Matrix
 * Multiply-Accumulate Instructions": wgmma.fence, wgmma.commit_group, wgmma.wait_group;
 * https://docs.nvidia.com/cuda/parallel-thread-execution/#asynchronous-warpgroup-level-matrix-instructions]
 * tests/emu/emu_ptx_wgmma.cuh models exactly these functions on the CPU; keep the two in step.
 */
#pragma once

QG_DEVICE void qg_wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
QG_DEVICE void qg_wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int N> QG_DEVICE void qg_wgmma_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}

/* The compiler does not know that wgmma reads and writes registers asynchronously: pinning keeps
 * reads and writes of an accumulator (or of an A fragment still being read) from moving across
 * fences and waits [DeepGEMM]. */
QG_DEVICE void qg_wgmma_pin(float &x) { asm volatile("" : "+f"(x)::"memory"); }
QG_DEVICE void qg_wgmma_pin(int &x) { asm volatile("" : "+r"(x)::"memory"); }
QG_DEVICE void qg_wgmma_pin(uint32_t &x) { asm volatile("" : "+r"(x)::"memory"); }
template <typename T, int N> QG_DEVICE void qg_wgmma_pin(T (&d)[N]) {
#pragma unroll
    for (int i = 0; i < N; i++) qg_wgmma_pin(d[i]);
}
