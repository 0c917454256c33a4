/* CPU emulation of the sm_90 pieces the wgmma kernels use (tests/emu/run.sh): mbarriers (with
 * the tx-counts of TMA, emu_tma.h), named barriers, and wgmma.mma_async (SS, RS, sparse), as the
 * PTX ISA defines them (emu_wgmma.cpp says what is checked). Shared-memory addresses are offsets into
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
/* mbarrier.arrive.expect_tx: the phase also waits for `bytes` more of asynchronous copies. */
void emu_mbar_arrive_expect_tx(uint32_t addr, uint32_t bytes);
/* An asynchronous copy (TMA: emu_tma.cpp) of `bytes` bytes (`data`, read from global memory at
 * issue) to shared address `dst`, completing its bytes on the mbarrier at `bar` (complete_tx).
 * The destination reads as 0xff garbage until a thread waiting on the barrier lands it (once
 * every arrival of the phase is in): as late as the hardware may. */
void emu_mbar_async_copy(uint32_t bar, uint32_t dst, const void *data, uint32_t bytes);
/* Called by the runtime when a CTA has finished: reports copies still in flight. */
void emu_mbar_cta_end();

/* Operand types (ab_type) of mma_async: 16-bit types run m64nNk16, 8-bit types m64nNk32; s8/u8
 * accumulate in s32 (the _s32 entries), the others in f32. The values of QG_DT_F16 / QG_DT_BF16,
 * so the W4A16 kernels pass QG_ACT. */
enum {
    EMU_WG_F16 = 1,
    EMU_WG_BF16 = 2,
    EMU_WG_E4M3 = 3,
    EMU_WG_E5M2 = 4,
    EMU_WG_S8 = 5,
    EMU_WG_U8 = 6
};

/* wgmma.fence / commit_group / wait_group, and mma_async: d (this thread's N/2 accumulator
 * fragment) = A (64 x K, descriptor da) * B (K x N, descriptor db) + (scale_d ? d : 0), K = 16
 * (16-bit types) or 32 (8-bit types). trans_a / trans_b: the imm-trans operands (only 0,
 * K-major, is emulated; 1 is reported as an error). */
void emu_wgmma_fence();
void emu_wgmma_mma(float *d, int n, uint64_t da, uint64_t db, int scale_d, int ab_type, int trans_a,
                   int trans_b);
/* The RS form: A (64 x K) from the four 32-bit registers `a` of each thread of the warpgroup
 * (the ISA's A register fragment: 2 16-bit or 4 8-bit elements per register); they must keep
 * their values until the operation retires (checked when it executes). */
void emu_wgmma_mma_rs(float *d, int n, const uint32_t *a, uint64_t db, int scale_d, int ab_type);
/* The s8 / u8 forms (s32 accumulators). */
void emu_wgmma_mma_s32(int32_t *d, int n, uint64_t da, uint64_t db, int scale_d, int ab_type);
void emu_wgmma_mma_rs_s32(int32_t *d, int n, const uint32_t *a, uint64_t db, int scale_d,
                          int ab_type);
/* The sparse SS form wgmma.mma_async.sp: A (64 x K, 2:4 sparse) stored compressed (64 x K/2)
 * at descriptor da, K = 32 (16-bit types) or 64 (8-bit types); `e`: this thread's metadata
 * register (read when the operation executes, so it must keep its value until it retires);
 * `sel`: the sparsity selector (16-bit: thread pair 0 or 1; 8-bit: 0). */
void emu_wgmma_mma_sp(float *d, int n, uint64_t da, uint64_t db, const uint32_t *e, int sel,
                      int scale_d, int ab_type);
void emu_wgmma_mma_sp_s32(int32_t *d, int n, uint64_t da, uint64_t db, const uint32_t *e, int sel,
                          int scale_d, int ab_type);
void emu_wgmma_commit();
void emu_wgmma_wait(int n);

/* Called by the runtime at CTA start (per thread) and at CTA exit (reports wgmma in flight). */
void emu_wgmma_thread_begin();
void emu_wgmma_thread_end();
/* Called by the runtime once per launch, before its threads start. */
void emu_wgmma_launch_begin(unsigned block);
