/*
 * int4 -> e4m3 in registers, for the kernels whose int4 weight meets e4m3 activations
 * (W4A8_FP8: w8a8_gemv.cuh, w8a8_mma.cuh, w4a8_fp8_wgmma_rs.cu). The W4A8_FP8 packed word holds
 * k = 8j .. 8j + 7 in nibbles 0..7 (docs/formats.md, "W4A8 weights"). tests/emu/emu_int4_e4m3.cuh
 * gives the emulator the same function by its definition (nibble value -> e4m3 byte).
 * [prmt: ptx_prmt.cuh; lop3: ptx_lop3.cuh]
 */
#pragma once

#include "ptx_lop3.cuh"
#include "ptx_prmt.cuh"

/*
 * 8 int4 (4-bit two's complement, nibble i = bits 4i..4i+3) -> 8 e4m3 bytes, exactly
 * (-8..7 are e4m3 values). lo = nibbles 0..3, hi = nibbles 4..7, in order.
 * prmt looks a byte up in an 8-byte table by the low 3 bits of each selector nibble; a set
 * bit 3 instead replicates the sign of the selected byte. So P = positive table (0x00 for
 * negative nibbles), N = negative table indexed by n^8 (0xFF for positive nibbles), and a
 * mask M that is 0xFF where the nibble is negative: result = (N & M) | P.
 */
QG_DEVICE void qg_i4x8_to_e4m3x8(uint32_t w, uint32_t &lo, uint32_t &hi) {
    const uint32_t TP0 = 0x44403800u, TP1 = 0x4E4C4A48u; /* e4m3(0..3), e4m3(4..7) */
    const uint32_t TN0 = 0xCACCCED0u, TN1 = 0xB8C0C4C8u; /* e4m3(-8..-5), e4m3(-4..-1) */
    const uint32_t ws = w << 4, wx = w ^ 0x88888888u;
    lo = qg_lop3_and_or(qg_prmt(TN0, TN1, wx), qg_prmt(ws, w, 0xD9C8u), qg_prmt(TP0, TP1, w));
    hi = qg_lop3_and_or(qg_prmt(TN0, TN1, wx >> 16), qg_prmt(ws, w, 0xFBEAu),
                        qg_prmt(TP0, TP1, w >> 16));
}
