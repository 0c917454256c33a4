/* CPU emulation of the sm_90 pieces the W4A16 wgmma kernel uses (tests/emu/run.sh): mbarriers,
 * named barriers, and wgmma.mma_async with both operands in shared memory, as the PTX ISA
 * defines them (emu_wgmma.cpp says what is checked). Shared-memory addresses are offsets into
 * emu_smem (1024-byte aligned, so swizzle patterns anchor like on the GPU). */
#pragma once
#include <stdint.h>

/* Errors found in the kernel's use of these instructions (bad descriptor, non-uniform operands
 * across a warpgroup, wgmma left in flight at exit, ...). The harness fails a launch that
 * raised any. */
extern int emu_wgmma_errors;

unsigned char *emu_smem_ptr(uint32_t addr);

/* bar.sync id, count: `count` threads of the CTA meet on barrier `id` (1..15). */
void emu_named_barrier(int id, int count);

/* mbarrier.init / arrive / try_wait.parity (blocking until the phase of parity `parity` has
 * completed, i.e. try_wait in a loop). */
void emu_mbar_init(uint32_t addr, uint32_t count);
void emu_mbar_arrive(uint32_t addr);
void emu_mbar_wait(uint32_t addr, uint32_t parity);

/* wgmma.fence / commit_group / wait_group, and mma_async: d (this thread's N/2 f32 accumulator
 * fragment) = A (64 x 16, descriptor da) * B (16 x N, descriptor db) + (scale_d ? d : 0).
 * ab_type: 1 f16, 2 bf16. trans_a / trans_b: the imm-trans operands (only 0, K-major, is
 * emulated; 1 is reported as an error). */
void emu_wgmma_fence();
void emu_wgmma_mma(float *d, int n, uint64_t da, uint64_t db, int scale_d, int ab_type, int trans_a,
                   int trans_b);
/* The RS form: A (64 x 16) from the four 32-bit registers `a` of each thread of the warpgroup
 * (the ISA's A register fragment); they must keep their values until the operation retires
 * (checked when it executes). */
void emu_wgmma_mma_rs(float *d, int n, const uint32_t *a, uint64_t db, int scale_d, int ab_type);
void emu_wgmma_commit();
void emu_wgmma_wait(int n);

/* Called by the runtime at CTA start (per thread) and at CTA exit (reports wgmma in flight). */
void emu_wgmma_thread_begin();
void emu_wgmma_thread_end();
/* Called by the runtime once per launch, before its threads start. */
void emu_wgmma_launch_begin(unsigned block);
