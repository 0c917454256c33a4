/*
 * Shared pieces of the 2:4 sparse kernels (sp24_mma.cu, sp24_wgmma.cu): the shared-memory stage
 * layout and the cp.async loader that fills it from the packed weight (docs/formats.md, "2:4
 * sparse") and the activations.
 *
 * Stage layout (bytes from the stage base, which is 1024-aligned for wgmma):
 *   A  QG_TN weight rows x 64 B of compressed values (16-bit: 64 K, 8-bit: 128 K), chunk c of
 *      row r at r*64 + ((c ^ (r/2)%4) << 4): the SW64 K-major canonical layout of wgmma, and
 *      bank-conflict free for ldmatrix;
 *   B  QG_TM token rows x 128 B of activations (the same K), chunk c of row r at
 *      r*128 + ((c ^ r%8) << 4): the SW128 K-major canonical layout;
 *   E  the stage's metadata: for each 64-row group of the tile and each of its SP_KB_STAGE K
 *      blocks of 64, the 512 packed bytes [32 lanes][4 words] unchanged.
 *
 * The including kernel defines QG_DT, QG_TN, QG_TM and SP_THREADS first.
 */
#pragma once

#include "ptx_cp_async.cuh"
#include "ptx_ld_st.cuh"

#define SP_16BIT (QG_DT == 1 || QG_DT == 2)
#define SP_KSTAGE (SP_16BIT ? 64 : 128) /* logical K per stage */
#define SP_KB_STAGE (SP_KSTAGE / 64)    /* metadata K blocks per stage */
#define SP_A_ROW 64
#define SP_B_ROW 128
#define SP_A_BYTES (QG_TN * SP_A_ROW)
#define SP_B_BYTES (QG_TM * SP_B_ROW)
#define SP_E_BYTES ((QG_TN / 64) * SP_KB_STAGE * 512)
#define SP_STAGE_BYTES (SP_A_BYTES + SP_B_BYTES + SP_E_BYTES)
#define SP_CPITCH (QG_TN + 8) /* epilogue staging pitch in halves (bank-conflict free) */

/* Per-thread chunk counts; every thread handles chunk column (tid % 4, % 8, % 32) of rows
 * tid/4 + i*SP_THREADS/4 (A), tid/8 + i*SP_THREADS/8 (B), and metadata chunk tid + i*SP_THREADS. */
#define SP_NA ((QG_TN * 4 + SP_THREADS - 1) / SP_THREADS)
#define SP_NB ((QG_TM * 8 + SP_THREADS - 1) / SP_THREADS)
#define SP_NE ((SP_E_BYTES / 16 + SP_THREADS - 1) / SP_THREADS)

#if SP_THREADS % 64 != 0
#error "sp24: the loader needs a multiple of 64 threads (row steps keep the swizzle phase)"
#endif

QG_DEVICE uint32_t sp_a_off(int r, int c) {
    return (uint32_t)(r * SP_A_ROW + ((c ^ ((r >> 1) & 3)) << 4));
}
QG_DEVICE uint32_t sp_b_off(int r, int c) {
    return (uint32_t)(r * SP_B_ROW + ((c ^ (r & 7)) << 4));
}

QG_DEVICE uint16_t sp_to_out(float v, int out_bf16) {
    return out_bf16 ? qg_f32_to_bf16(v) : qg_f32_to_f16(v);
}

/* Writes the staged 16-bit output tile cs ([QG_TM][SP_CPITCH]) to C at (m0, n0), rows of 8
 * columns per step: 16-byte stores where C allows them, scalar ones at the N edge. */
QG_DEVICE void sp_store_tile(const uint16_t *cs, uint16_t *c, long long ldc, int m0, int n0, int M,
                             int N, int tid) {
    const bool vec_ok = (ldc % 8) == 0 && ((unsigned long long)c & 15) == 0;
    for (int idx = tid; idx < QG_TM * (QG_TN / 8); idx += SP_THREADS) {
        const int r = idx / (QG_TN / 8), c8 = idx % (QG_TN / 8);
        const int m = m0 + r, n = n0 + c8 * 8;
        if (m >= M || n >= N) continue;
        const uint16_t *src = cs + r * SP_CPITCH + c8 * 8;
        uint16_t *dst = c + (long long)m * ldc + n;
        if (vec_ok && n + 8 <= N) *(qg_u32x4 *)dst = *(const qg_u32x4 *)src;
        else
            for (int i = 0; i < 8 && n + i < N; i++) dst[i] = src[i];
    }
}

/* What a thread copies each stage, computed once; stages are issued in K order, so the loader
 * only advances its pointers by one stage per call. Sources of zero-filled chunks (rows past
 * N64 / M, columns past K) may point outside the buffers: cp.async reads 0 bytes from them. */
struct sp_loader {
    const uint8_t *a_ptr, *b_ptr, *e_ptr[SP_NE]; /* chunk 0 of the next stage */
    long long a_step, b_step;   /* bytes between the rows of consecutive chunks i */
    long long a_kleft, b_kleft; /* valid bytes left in a row from the next stage's chunk on */
    uint32_t a_dst, b_dst;      /* smem offsets of chunk 0 inside a stage */
    unsigned a_rows, b_rows;    /* bit i: chunk i's row exists */
    int e_kleft[SP_NE];         /* metadata K blocks left for chunk i (<= 0: filler) */
};

/* kt0: the first K stage this CTA loads (split-K). */
QG_DEVICE void sp_loader_init(sp_loader &L, int tid, const uint8_t *w, const uint8_t *meta,
                              const uint8_t *a, int n0, int m0, int M, int N, int K, long long lda,
                              int kt0) {
    const int es = SP_16BIT ? 2 : 1, n64 = (N + 63) & ~63, kblocks = K / 64;
    const int ar = tid >> 2, br = tid >> 3, a_col = (tid & 3) * 16, b_col = (tid & 7) * 16;
    const long long w_row = (long long)K / 2 * es, a_row = (long long)K * es;
    L.a_ptr = w + (long long)(n0 + ar) * w_row + a_col + (long long)kt0 * SP_A_ROW;
    L.b_ptr = a + (long long)(m0 + br) * lda * es + b_col + (long long)kt0 * SP_B_ROW;
    L.a_step = (long long)(SP_THREADS / 4) * w_row;
    L.b_step = (long long)(SP_THREADS / 8) * lda * es;
    L.a_kleft = w_row - a_col - (long long)kt0 * SP_A_ROW;
    L.b_kleft = a_row - b_col - (long long)kt0 * SP_B_ROW;
    L.a_dst = sp_a_off(ar, tid & 3);
    L.b_dst = sp_b_off(br, tid & 7);
    L.a_rows = L.b_rows = 0;
#pragma unroll
    for (int i = 0; i < SP_NA; i++)
        if (n0 + ar + i * (SP_THREADS / 4) < n64 && tid + i * SP_THREADS < QG_TN * 4)
            L.a_rows |= 1u << i;
#pragma unroll
    for (int i = 0; i < SP_NB; i++)
        if (m0 + br + i * (SP_THREADS / 8) < M && tid + i * SP_THREADS < QG_TM * 8)
            L.b_rows |= 1u << i;
#pragma unroll
    for (int i = 0; i < SP_NE; i++) {
        const int idx = tid + i * SP_THREADS, blk = idx >> 5, ch = idx & 31;
        const int grp = n0 / 64 + blk / SP_KB_STAGE, kb = blk % SP_KB_STAGE;
        const bool ok = idx < SP_E_BYTES / 16 && grp * 64 < n64;
        L.e_kleft[i] = ok ? kblocks - kb - kt0 * SP_KB_STAGE : 0;
        L.e_ptr[i] = meta + ((long long)grp * kblocks + kb + (long long)kt0 * SP_KB_STAGE) * 512 +
                     ch * 16;
    }
}

/* Issue the copies of the next K stage into the stage at shared address `base`, then advance.
 * Rows past N64 / M and columns past K are zero-filled; metadata blocks past N64 or K get the
 * valid filler 0x4 (indices 0,1), never zeros, which ordered_metadata leaves undefined. */
QG_DEVICE void sp_load_stage(sp_loader &L, uint32_t base, int tid) {
    const uint32_t sa = base, sb = base + SP_A_BYTES, se = sb + SP_B_BYTES;
    const bool a_kok = L.a_kleft > 0, b_kok = L.b_kleft > 0;
#pragma unroll
    for (int i = 0; i < SP_NA; i++)
        if ((QG_TN * 4) % SP_THREADS == 0 || tid + i * SP_THREADS < QG_TN * 4)
            qg_cp_async16(sa + L.a_dst + i * (SP_THREADS / 4) * SP_A_ROW, L.a_ptr + i * L.a_step,
                          a_kok && ((L.a_rows >> i) & 1u) ? 16 : 0);
#pragma unroll
    for (int i = 0; i < SP_NB; i++)
        if ((QG_TM * 8) % SP_THREADS == 0 || tid + i * SP_THREADS < QG_TM * 8)
            qg_cp_async16(sb + L.b_dst + i * (SP_THREADS / 8) * SP_B_ROW, L.b_ptr + i * L.b_step,
                          b_kok && ((L.b_rows >> i) & 1u) ? 16 : 0);
#pragma unroll
    for (int i = 0; i < SP_NE; i++) {
        const int idx = tid + i * SP_THREADS;
        if ((SP_E_BYTES / 16) % SP_THREADS == 0 || idx < SP_E_BYTES / 16) {
            const uint32_t dst = se + idx * 16;
            if (L.e_kleft[i] > 0) qg_cp_async16(dst, L.e_ptr[i], 16);
            else qg_sts_splat_u32x4(dst, 0x44444444u);
        }
        L.e_ptr[i] += SP_KB_STAGE * 512;
        L.e_kleft[i] -= SP_KB_STAGE;
    }
    L.a_ptr += SP_A_ROW;
    L.b_ptr += SP_B_ROW;
    L.a_kleft -= SP_A_ROW;
    L.b_kleft -= SP_B_ROW;
}
