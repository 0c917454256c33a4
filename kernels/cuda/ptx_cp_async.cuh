/*
 * cp.async, sm_80: 16-byte copies global -> shared that complete asynchronously, grouped by
 * commit_group and waited for by wait_group; and the L2 eviction policy a copy may carry.
 * [PTX ISA 9.7.9.25.3 "Data Movement and Conversion Instructions: Non-bulk copy": cp.async,
 * cp.async.commit_group, cp.async.wait_group;
 * https://docs.nvidia.com/cuda/parallel-thread-execution/#data-movement-and-conversion-instructions-non-bulk-copy
 * createpolicy: 9.7.9.18,
 * https://docs.nvidia.com/cuda/parallel-thread-execution/#data-movement-and-conversion-instructions-createpolicy]
 * The 16-byte copies are .cg (L2 only: every byte lands in shared memory once per CTA); the 4-
 * and 8-byte ones .ca (the only form of those sizes). A copy reads `src_bytes` (0 or its size)
 * bytes and zero-fills the rest; with 0 the source is not read.
 * tests/emu/emu_ptx_cp_async.cuh models exactly these functions on the CPU; keep the two in step.
 */
#pragma once

/* Copy to the shared-window address `dst`. */
QG_DEVICE void qg_cp_async16(uint32_t dst, const void *src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(src_bytes)
                 : "memory");
}

/* An L2 policy that evicts first: for weights streamed once (decode), so that activations and
 * split-K partials stay in L2 [Marlin]. */
QG_DEVICE uint64_t qg_l2_evict_first() {
    uint64_t pol;
    asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(pol));
    return pol;
}

/* qg_cp_async16 with an L2 cache policy (from qg_l2_evict_first). */
QG_DEVICE void qg_cp_async16_hint(uint32_t dst, const void *src, int src_bytes, uint64_t pol) {
    asm volatile("cp.async.cg.shared.global.L2::cache_hint [%0], [%1], 16, %2, %3;" ::"r"(dst),
                 "l"(src), "r"(src_bytes), "l"(pol)
                 : "memory");
}

/* The forms the weight-only kernels call: a generic shared pointer, zeros when !valid. */
QG_DEVICE void qg_cp_async16_zfill(void *smem, const void *gmem, int valid) {
    qg_cp_async16(qg_smem_addr(smem), gmem, valid ? 16 : 0);
}
QG_DEVICE void qg_cp_async16_zfill_hint(void *smem, const void *gmem, int valid, uint64_t pol) {
    qg_cp_async16_hint(qg_smem_addr(smem), gmem, valid ? 16 : 0, pol);
}

/* 4-byte copy to the shared-window address `sdst` through L1, zeros when `valid` is 0 (the RS
 * kernel's activations: wo_wgmma_rs.cu). */
QG_DEVICE void qg_cp_async4_zfill(uint32_t sdst, const void *gmem, int valid) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(sdst), "l"(gmem),
                 "r"(valid ? 4 : 0)
                 : "memory");
}

/* 8-byte form of qg_cp_async4_zfill. */
QG_DEVICE void qg_cp_async8_zfill(uint32_t sdst, const void *gmem, int valid) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;" ::"r"(sdst), "l"(gmem),
                 "r"(valid ? 8 : 0)
                 : "memory");
}

/* Closes the group of this thread's copies issued since the last commit. */
QG_DEVICE void qg_cp_async_commit() { asm volatile("cp.async.commit_group;"); }

/* Waits until at most N of this thread's committed groups are still in flight. */
template <int N> QG_DEVICE void qg_cp_async_wait() {
    asm volatile("cp.async.wait_group %0;" ::"n"(N));
}
