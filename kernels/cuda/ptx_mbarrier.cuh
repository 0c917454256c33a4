/*
 * mbarrier in shared::cta memory (addresses are 32-bit shared-window addresses), sm_90: init and
 * the fence that publishes it, arrive, arrive.expect_tx (a TMA producer's arrival announcing the
 * bytes that complete the phase), and the parity wait. [PTX ISA 9.7.13.15 "Parallel
 * Synchronization and Communication Instructions: mbarrier": mbarrier.init, mbarrier.arrive
 * (.expect_tx), mbarrier.try_wait.parity; fence.mbarrier_init: 9.7.13.4 "membar/fence";
 * https://docs.nvidia.com/cuda/parallel-thread-execution/#parallel-synchronization-and-communication-instructions-mbarrier]
 * tests/emu/emu_ptx_mbarrier.cuh models exactly these functions on the CPU; keep the two in step.
 */
#pragma once

QG_DEVICE void qg_mbar_init(uint32_t bar, uint32_t count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count) : "memory");
}

/* Makes the initialized barriers visible to the other threads (with a CTA barrier after it). */
QG_DEVICE void qg_mbar_init_fence() {
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}

/* One arrival (release semantics at CTA scope, the default of mbarrier.arrive). */
QG_DEVICE void qg_mbar_arrive(uint32_t bar) {
    asm volatile("{\n.reg .b64 st;\nmbarrier.arrive.shared::cta.b64 st, [%0];\n}" ::"r"(bar)
                 : "memory");
}

/* One arrival that also expects `bytes` of async (TMA) traffic to complete the phase. */
QG_DEVICE void qg_mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes)
                 : "memory");
}

/* Blocks until the phase of parity `parity` has completed (acquire semantics); try_wait suspends
 * the thread for a while before it reports failure, so the loop does not spin hot. The loop is
 * written in two ways that ptxas compiles to different code: the branch inside the PTX (used by
 * w4a16_wgmma, wo_wgmma_rs) and a C loop over the predicate (w8a8_wgmma_ws). Each kernel keeps the
 * form it was tuned with; making them one form changes one family's code and wants a GPU A/B. */
QG_DEVICE void qg_mbar_wait(uint32_t bar, uint32_t parity) {
    asm volatile("{\n.reg .pred done;\n"
                 "QG_MBAR_WAIT:\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
                 "@!done bra QG_MBAR_WAIT;\n}" ::"r"(bar),
                 "r"(parity)
                 : "memory");
}

/* qg_mbar_wait with the retry loop in C (see above). */
QG_DEVICE void qg_mbar_wait_c_loop(uint32_t bar, uint32_t parity) {
    uint32_t done;
    do {
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
                     "selp.u32 %0, 1, 0, p;\n}\n"
                     : "=r"(done)
                     : "r"(bar), "r"(parity)
                     : "memory");
    } while (!done);
}
