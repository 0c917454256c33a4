/*
 * Shared-memory addressing of the W4A16 wgmma kernels (w4a16_wgmma.cu, wo_wgmma_rs.cu): the
 * K-major SWIZZLE_128B tile layout (what TMA's SWIZZLE_128B writes and wgmma reads) and its
 * matrix descriptor. Kept out of the PTX wrappers (w4a16_wgmma_ops.cuh) so that the CPU emulator,
 * which swaps the wrappers, checks this encoding against the PTX ISA layouts.
 */
#pragma once

/* Shared memory matrix descriptor [PTX 9.7.15.5.1.2.2]: start address >> 4 (bits 0-13),
 * leading byte offset (unused for swizzled K-major layouts, "assumed 1"), stride byte offset
 * 1024 = one 8-row x 128-byte swizzle atom (bits 32-45), base offset 0 (tiles are 1024-byte
 * aligned), SWIZZLE_128B (1 in bits 62-63). */
QG_DEVICE uint64_t qg_w4wg_desc(uint32_t saddr) {
    return (uint64_t)((saddr & 0x3FFFFu) >> 4) | ((uint64_t)1 << 16) |
           ((uint64_t)(1024 >> 4) << 32) | ((uint64_t)1 << 62);
}

/* Byte offset of the 16-byte chunk `ch` (k = 8 ch .. 8 ch + 7) of row `row` in a K-major
 * SWIZZLE_128B tile of 64 k (the layout TMA's SWIZZLE_128B writes). */
QG_DEVICE uint32_t qg_w4wg_sw128(int row, int ch) {
    return (uint32_t)((row >> 3) * 1024 + (row & 7) * 128 + ((ch ^ (row & 7)) << 4));
}
