/* CPU models of the warp-level PTX the mma.sync kernels use (tests/emu/emu_mma.cpp): mma.sync
 * m16n8k32 with 8-bit operands, its 2:4 sparse form mma.sp, ldmatrix, prmt. Warp collectives: every lane of the warp calls
 * them, as on the GPU (a divergent call hangs here instead of returning garbage). */
#pragma once
#include <stdint.h>
enum { EMU_MMA_S8 = 0, EMU_MMA_E4M3 = 1, EMU_MMA_BF16 = 2, EMU_MMA_F16 = 3 };
/* d (16 x 8, s32 for s8, f32 for e4m3, this lane's 4 elements) += A (16 x 32, row) * B (32 x 8,
 * col), fragments per the PTX ISA (emu_mma.cpp). */
void emu_mma_m16n8k32_s8(int d[4], const uint32_t a[4], uint32_t b0, uint32_t b1);
void emu_mma_m16n8k32_e4m3(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1);
/* ldmatrix.sync.aligned.m8n8.x{num}[.trans].shared.b16: lanes 8i..8i+7 give the row addresses
 * (shared window) of matrix i; r[i] receives this lane's word of matrix i. */
void emu_ldmatrix(uint32_t addr, int num, int trans, uint32_t *r);
/* prmt.b32 in the default mode. */
uint32_t emu_prmt(uint32_t a, uint32_t b, uint32_t sel);
/* mma.sp::ordered_metadata (2:4 sparse A, metadata word e): m16n8k32 for 16-bit types
 * (EMU_MMA_BF16 / F16, thread pair `sel`), m16n8k64 for 8-bit ones. */
void emu_mma_sp_16bit(float d[4], const uint32_t a[4], const uint32_t b[4], uint32_t e, int sel,
                      int type);
void emu_mma_sp_m16n8k64_s8(int d[4], const uint32_t a[4], const uint32_t b[4], uint32_t e);
void emu_mma_sp_m16n8k64_e4m3(float d[4], const uint32_t a[4], const uint32_t b[4], uint32_t e);
