/* Emulated kernels/cuda/int4_e4m3.cuh for tests/emu (host C++): the conversion by its
 * definition, not by the prmt tables: nibble i of w is the 4-bit two's complement v, and byte i
 * of the result (lo: nibbles 0..3, hi: 4..7) is e4m3(v) = sign | (e + 7) << 3 | mantissa for
 * |v| = (1 + m / 8) 2^e (bias 7; 0 -> 0x00). */
#pragma once
static inline uint32_t emu_e4m3_of_int(int v) {
    if (v == 0) return 0;
    const uint32_t s = v < 0 ? 0x80u : 0u;
    int a = v < 0 ? -v : v, e = 0;
    while ((2 << e) <= a) e++;
    const int m = (a - (1 << e)) * 8 >> e; /* exact: |v| <= 8 has at most 3 mantissa bits */
    return s | (uint32_t)(e + 7) << 3 | (uint32_t)m;
}
QG_DEVICE void qg_i4x8_to_e4m3x8(uint32_t w, uint32_t &lo, uint32_t &hi) {
    lo = hi = 0;
    for (int i = 0; i < 8; i++) {
        const int nib = (int)((w >> (4 * i)) & 15u), v = nib >= 8 ? nib - 16 : nib;
        (i < 4 ? lo : hi) |= emu_e4m3_of_int(v) << (8 * (i & 3));
    }
}
