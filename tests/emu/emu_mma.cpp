/* CPU models of mma.sync m16n8k32 (s8, e4m3), ldmatrix and prmt for tests/emu (emu_mma.h),
 * written from the PTX ISA's fragment layouts [PTX ISA "Warp Level Matrix Multiply-Accumulate
 * Instructions": "Matrix Fragments for mma.m16n8k32" (8-bit types), ldmatrix; prmt]: lane = 4 g + t (g groupID, t threadID in
 * group). A 16 x 32: register i holds row g + 8 (i & 1), k 16 (i >> 1) + 4 t + byte.
 * B 32 x 8: register i holds column g, k 16 i + 4 t + byte. D: d[i] is row g + 8 (i >> 1),
 * column 2 t + (i & 1). Sums are exact (double, then one rounding to f32 for e4m3). */
#include "emu_mma.h"
#include "emu_rt.h"
#include "qgemm.h" /* the library's exact e4m3 / f16 / bf16 decoders */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern unsigned char emu_smem[];

namespace {
/* per-warp exchange (the runtime's emu_warp_xchg is the 16-bit mma's) */
struct xchg {
    uint32_t a[32][4];
    uint32_t b[32][4];
    uint32_t e[32]; /* mma.sp metadata */
    uint32_t addr[32];
};
xchg warps[32];
xchg &mine() { return warps[threadIdx.x >> 5]; }

template <typename T>
void mma_k32(T d[4], const uint32_t a[4], uint32_t b0, uint32_t b1, int type) {
    const int lane = threadIdx.x & 31;
    xchg &x = mine();
    for (int i = 0; i < 4; i++) x.a[lane][i] = a[i];
    x.b[lane][0] = b0, x.b[lane][1] = b1;
    emu_warp_barrier();
    const int g = lane >> 2, t = lane & 3;
    for (int i = 0; i < 4; i++) {
        const int row = g + 8 * (i >> 1), col = 2 * t + (i & 1);
        double s = 0;
        for (int k = 0; k < 32; k++) {
            /* A element (row, k): lane 4 (row % 8) + (k % 16) / 4, register (row >= 8) + 2 (k >= 16) */
            const uint8_t av =
                (uint8_t)(x.a[4 * (row % 8) + (k % 16) / 4][(row >= 8) + 2 * (k >= 16)] >>
                          (8 * (k % 4)));
            /* B element (k, col): lane 4 col + (k % 16) / 4, register k >= 16 */
            const uint8_t bv = (uint8_t)(x.b[4 * col + (k % 16) / 4][k >= 16] >> (8 * (k % 4)));
            s += type == EMU_MMA_S8 ? (double)(int8_t)av * (int8_t)bv
                                    : (double)qg_e4m3_to_f32(av) * qg_e4m3_to_f32(bv);
        }
        if (type == EMU_MMA_S8) d[i] = (T)(int)((int64_t)d[i] + (int64_t)s); /* exact: |s| < 2^19 */
        else d[i] = (T)(float)((double)d[i] + s);
    }
    emu_warp_barrier();
}
/* Element j (0-based, in the register's order) of a register holding elements of `bytes` bytes. */
uint32_t elem(uint32_t reg, int j, int bytes) {
    return bytes == 2 ? (reg >> (16 * j)) & 0xffff : (reg >> (8 * j)) & 0xff;
}
double value(uint32_t v, int type) {
    switch (type) {
    case EMU_MMA_S8: return (int8_t)v;
    case EMU_MMA_E4M3: return qg_e4m3_to_f32((uint8_t)v);
    case EMU_MMA_BF16: return qg_bf16_to_f32((uint16_t)v);
    default: return qg_f16_to_f32((uint16_t)v);
    }
}

/* mma.sp::ordered_metadata, A 16 x K stored 2:4 compressed (16 x K/2, laid out as the dense A
 * fragment of K/2), B K x 8 (4 registers), for 16-bit types K = 32 (metadata of thread pair
 * `sel` of each group: lane 4g + 2 sel + c / 4 holds chunk c of rows g (bits 0-15) and g + 8
 * (bits 16-31)) and for 8-bit types K = 64 (selector 0: lane 4g + 2 (c / 8) + (row >= 8) holds
 * chunk c % 8 of its row). A chunk is 4 consecutive k; its nibble names the two kept positions
 * idx0 | idx1 << 2, which must increase (the ordered metadata): anything else is reported. */
template <typename T>
void mma_sp(T d[4], const uint32_t a[4], const uint32_t b[4], uint32_t e, int sel, int type) {
    const int lane = threadIdx.x & 31, bytes = type == EMU_MMA_S8 || type == EMU_MMA_E4M3 ? 1 : 2;
    const int K = bytes == 2 ? 32 : 64, per = 4 / bytes; /* elements per register */
    xchg &x = mine();
    for (int i = 0; i < 4; i++) x.a[lane][i] = a[i], x.b[lane][i] = b[i];
    x.e[lane] = e;
    emu_warp_barrier();
    const int g = lane >> 2, t = lane & 3;
    for (int i = 0; i < 4; i++) {
        const int row = g + 8 * (i >> 1), col = 2 * t + (i & 1);
        double s = 0;
        for (int c = 0; c < K / 4; c++) {
            uint32_t nib;
            if (bytes == 2)
                nib = x.e[4 * (row % 8) + 2 * sel + c / 4] >> (16 * (row >= 8) + 4 * (c % 4));
            else nib = x.e[4 * (row % 8) + 2 * (c / 8) + (row >= 8)] >> (4 * (c % 8));
            nib &= 15;
            const int idx[2] = {(int)(nib & 3), (int)(nib >> 2)};
            if (idx[0] >= idx[1]) {
                fprintf(stderr,
                        "EMU: mma.sp metadata nibble 0x%x (row %d, chunk %d) is not an "
                        "increasing index pair\n",
                        nib, row, c);
                abort();
            }
            for (int h = 0; h < 2; h++) {
                /* compressed column j = 2c + h: the dense A fragment's column j (K/2 wide) */
                const int j = 2 * c + h, half = K / 4; /* columns per register pair */
                const int la = 4 * (row % 8) + (j % half) / per, ra = (row >= 8) + 2 * (j >= half);
                const double av = value(elem(x.a[la][ra], j % per, bytes), type);
                /* B element (k, col): register k / (K / 4), lane 4 col + (k % (K / 4)) / per */
                const int k = 4 * c + idx[h], kb = K / 4;
                const double bv = value(elem(x.b[4 * col + (k % kb) / per][k / kb], k % per, bytes),
                                        type);
                s += av * bv;
            }
        }
        if (type == EMU_MMA_S8) d[i] = (T)(int)((int64_t)d[i] + (int64_t)s);
        else d[i] = (T)(float)((double)d[i] + s);
    }
    emu_warp_barrier();
}
} // namespace

void emu_mma_sp_16bit(float d[4], const uint32_t a[4], const uint32_t b[4], uint32_t e, int sel,
                      int type) {
    mma_sp(d, a, b, e, sel, type);
}
void emu_mma_sp_m16n8k64_s8(int d[4], const uint32_t a[4], const uint32_t b[4], uint32_t e) {
    mma_sp(d, a, b, e, 0, EMU_MMA_S8);
}
void emu_mma_sp_m16n8k64_e4m3(float d[4], const uint32_t a[4], const uint32_t b[4], uint32_t e) {
    mma_sp(d, a, b, e, 0, EMU_MMA_E4M3);
}

void emu_mma_m16n8k32_s8(int d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    mma_k32(d, a, b0, b1, EMU_MMA_S8);
}
void emu_mma_m16n8k32_e4m3(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    mma_k32(d, a, b0, b1, EMU_MMA_E4M3);
}

void emu_ldmatrix(uint32_t addr, int num, int trans, uint32_t *r) {
    const int lane = threadIdx.x & 31;
    xchg &x = mine();
    x.addr[lane] = addr;
    emu_warp_barrier();
    const int g = lane >> 2, t = lane & 3;
    for (int i = 0; i < num; i++) {
        uint16_t e[2];
        for (int h = 0; h < 2; h++) {
            /* this lane holds row g, columns 2t, 2t+1 of matrix i (of its transpose with .trans) */
            const int row = trans ? 2 * t + h : g, col = trans ? g : 2 * t + h;
            memcpy(&e[h], emu_smem + x.addr[8 * i + row] + 2 * col, 2);
        }
        r[i] = e[0] | (uint32_t)e[1] << 16;
    }
    emu_warp_barrier();
}

uint32_t emu_prmt(uint32_t a, uint32_t b, uint32_t sel) {
    const uint64_t bytes = a | (uint64_t)b << 32;
    uint32_t r = 0;
    for (int i = 0; i < 4; i++) {
        const unsigned nib = (sel >> (4 * i)) & 15;
        uint32_t byte = (uint32_t)(bytes >> (8 * (nib & 7))) & 0xff;
        if (nib & 8) byte = byte & 0x80 ? 0xff : 0;
        r |= byte << (8 * i);
    }
    return r;
}
