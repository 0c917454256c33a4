/*
 * Tiled mma.sync GEMM for the weight-only schemes (W4A16 and W8A16), C = A * W^T (+ bias), with
 * the packed layouts of docs/formats.md. Used by w4a16_decode.cu, w4a16_prefill.cu,
 * w8a16_decode.cu and w8a16_prefill.cu, which only choose the compile-time tile:
 *
 *   QG_ACT     QG_DT_F16 / QG_DT_BF16 (activation and scale dtype; mma input type)
 *   QG_WBITS   4 or 8
 *   QG_BM      CTA rows (multiple of QG_WM)         QG_WM  rows per warp (16, 32 or 64)
 *   QG_BN      CTA columns, 64 per warp column      QG_BK  k per pipeline stage (64 or 128)
 *   QG_STAGES  cp.async pipeline depth              QG_MINB minimum CTAs per SM (launch bounds)
 *   QG_WO_STREAM_W  1: weights are read once: copy them with an L2 evict-first policy; 0: not
 *
 * Each warp owns one 64-column slab and QG_WM rows. A stage holds the activation tile
 * (BM x BK, 16-byte chunks XOR-swizzled against bank conflicts), the packed weight tile (the
 * slabs' k16 steps exactly as in global memory: one 16-byte shared load per lane and step) and,
 * for int4, the scales/zero points of the groups in the tile. Everything moves with cp.async
 * (zero-filled outside the problem), QG_STAGES - 1 stages ahead of the math.
 *
 * Grid: x = column tiles (BN), y = split-K slices (kt_per_split tiles of BK each), z = row tiles
 * (BM). With splits > 1 every CTA writes its f32 partial tile to `partial`; the last CTA of an
 * output tile to arrive (a counter per tile) sums the slices in slice order (deterministic),
 * writes C and resets the counter and the partials it read to 0, so the workspace (shared with
 * every other kernel of the context) is left zeroed and needs no memset between calls.
 */
#pragma once

#include "qg_abi.cuh" /* qg_wo_params */
#include "int4_dequant.cuh"
#include "wo_splitk.cuh"

#if !defined(QG_WBITS) || !defined(QG_BM) || !defined(QG_WM) || !defined(QG_BN) || \
    !defined(QG_BK) || !defined(QG_STAGES) || !defined(QG_MINB) || !defined(QG_WO_STREAM_W)
#error "w4a16_gemm.cuh needs QG_WBITS, QG_BM, QG_WM, QG_BN, QG_BK, QG_STAGES, QG_MINB, QG_WO_STREAM_W"
#endif

#define QG_WO_MT (QG_WM / 16)    /* m16 tiles per warp */
#define QG_WO_SLABS (QG_BN / 64) /* warp columns */
#define QG_WO_THREADS (32 * (QG_BM / QG_WM) * QG_WO_SLABS)
#define QG_WO_CHUNKS (QG_BK / 32)   /* k32 chunks per stage */
#define QG_WO_KSTEPS (QG_BK / 16)   /* k16 steps per stage */
#define QG_WO_STEP (QG_WBITS * 128) /* bytes of one k16 step of one slab: 512 / 1024 */
#define QG_WO_A_BYTES (QG_BM * QG_BK * 2)
#define QG_WO_B_BYTES (QG_WO_SLABS * QG_WO_KSTEPS * QG_WO_STEP)
/* int4 scales of a stage (one 128-byte entry per slab and group); zero points take as much */
#define QG_WO_S_BYTES (QG_WBITS == 4 ? QG_WO_CHUNKS * QG_WO_SLABS * 128 : 0)
#define QG_WO_STAGE_BYTES (QG_WO_A_BYTES + QG_WO_B_BYTES + 2 * QG_WO_S_BYTES)

#if QG_BM % QG_WM || QG_WM % 16 || QG_BN % 64 || (QG_BK != 64 && QG_BK != 128) || QG_STAGES < 2
#error "unsupported weight-only tile"
#endif

/* XOR swizzle of the 16-byte chunks of an activation row: rows 2i and 2i + 1, which one
 * quarter-warp reads together, land in different halves of the 128-byte bank window. */
QG_DEVICE int qg_wo_swz(int row) { return ((row & 1) << 2) | ((row >> 1) & 3); }

/* Issue the cp.async copies of k tile `kt` into stage buffer `st`. */
QG_DEVICE void qg_wo_load_stage(const qg_wo_params &p, uint8_t *st, int kt, int m0, int rows,
                                int slab0, int nslabs, int ksteps, int tid) {
    const int k0 = kt * QG_BK;
    /* activations: rows < M only, zeros beyond K. Rows >= M keep stale shared memory: they only
     * reach accumulator rows that are never stored (mma rows are independent). */
    for (int i = tid; i < rows * (QG_BK / 8); i += QG_WO_THREADS) {
        const int r = i / (QG_BK / 8), ch = i % (QG_BK / 8);
        const int k = k0 + ch * 8;
        const int ok = k < p.k;
        const uint16_t *src = ok ? p.a + (long long)(m0 + r) * p.lda + k : p.a;
        qg_cp_async16_zfill(st + r * (QG_BK * 2) + ((ch ^ qg_wo_swz(r)) << 4), src, ok);
    }
    /* packed weights: whole k16 steps of each slab, as stored */
    uint8_t *sb = st + QG_WO_A_BYTES;
#if QG_WO_STREAM_W
    const uint64_t pol = qg_l2_evict_first();
#endif
#pragma unroll
    for (int i0 = 0; i0 < QG_WO_B_BYTES / 16; i0 += QG_WO_THREADS) {
        const int i = i0 + tid;
        if (QG_WO_B_BYTES / 16 % QG_WO_THREADS == 0 || i < QG_WO_B_BYTES / 16) {
            const int part = i % (QG_WO_STEP / 16), rest = i / (QG_WO_STEP / 16);
            const int ks = rest % QG_WO_KSTEPS, sl = rest / QG_WO_KSTEPS;
            const int gslab = slab0 + sl, gks = kt * QG_WO_KSTEPS + ks;
            const int ok = gslab < nslabs && gks < ksteps;
            const uint8_t *src = ok ? p.w + ((long long)gslab * ksteps + gks) * QG_WO_STEP + part * 16
                                    : p.w;
#if QG_WO_STREAM_W
            qg_cp_async16_zfill_hint(sb + i * 16, src, ok, pol);
#else
            qg_cp_async16_zfill(sb + i * 16, src, ok);
#endif
        }
    }
#if QG_WBITS == 4
    /* scales / zero points: one entry per group of the tile (a group is >= one chunk) */
    uint8_t *ss = sb + QG_WO_B_BYTES;
    const int entries = (QG_BK >> p.gs_log2) > 1 ? (QG_BK >> p.gs_log2) : 1;
    const int grp0 = k0 >> p.gs_log2;
    for (int i = tid; i < entries * QG_WO_SLABS * 8; i += QG_WO_THREADS) {
        const int gg = i & 7, sl = (i >> 3) % QG_WO_SLABS, e = (i >> 3) / QG_WO_SLABS;
        const int gslab = slab0 + sl, grp = grp0 + e;
        const int ok = gslab < nslabs && grp < p.groups;
        const long long off = (((long long)gslab * p.groups + grp) * 8 + gg) * 8;
        qg_cp_async16_zfill(ss + i * 16, ok ? p.scale + off : p.scale, ok);
        if (p.zero)
            qg_cp_async16_zfill(ss + QG_WO_S_BYTES + i * 16, ok ? p.zero + off : p.zero, ok);
    }
#endif
}

/* The warp's math on one stage: QG_WO_CHUNKS chunks x 2 k16 steps x 4 blocks j x QG_WO_MT x 2 mma. */
QG_DEVICE void qg_wo_compute_stage(const uint8_t *st, int wslab, int wrow, int lane, int gs_log2,
                                   int has_zero, float acc[QG_WO_MT][4][2][4]) {
    const int g = lane >> 2, t = lane & 3;
    const int swz = qg_wo_swz(wrow + g); /* the same for rows + 8 and + 16 mt */
#pragma unroll
    for (int cc = 0; cc < QG_WO_CHUNKS; cc++) {
        /* activations: rows g and g + 8 of each m16 tile, k = 32 cc + 8t .. + 7 */
        uint32_t alo[QG_WO_MT][4], ahi[QG_WO_MT][4];
#pragma unroll
        for (int mt = 0; mt < QG_WO_MT; mt++) {
            const int r = wrow + 16 * mt + g;
            const qg_u32x4 lo = *(const qg_u32x4 *)(st + r * (QG_BK * 2) +
                                                    (((4 * cc + t) ^ swz) << 4));
            const qg_u32x4 hi = *(const qg_u32x4 *)(st + (r + 8) * (QG_BK * 2) +
                                                    (((4 * cc + t) ^ swz) << 4));
            alo[mt][0] = lo.x, alo[mt][1] = lo.y, alo[mt][2] = lo.z, alo[mt][3] = lo.w;
            ahi[mt][0] = hi.x, ahi[mt][1] = hi.y, ahi[mt][2] = hi.z, ahi[mt][3] = hi.w;
        }
#if QG_WBITS == 4
        /* scales and zero points of this chunk's group: words j = {row g, row g + 8} of block j */
        const uint8_t *ss = st + QG_WO_A_BYTES + QG_WO_B_BYTES +
                            ((((cc * 32) >> gs_log2) * QG_WO_SLABS + wslab) * 8 + g) * 16;
        const qg_u32x4 sv = *(const qg_u32x4 *)ss;
        const uint32_t sw[4] = {sv.x, sv.y, sv.z, sv.w};
        uint32_t s0[4], s1[4], z0[4], z1[4];
#pragma unroll
        for (int j = 0; j < 4; j++) s0[j] = qg_h2_lo2(sw[j]), s1[j] = qg_h2_hi2(sw[j]);
        if (has_zero) {
            const qg_u32x4 zv = *(const qg_u32x4 *)(ss + QG_WO_S_BYTES);
            const uint32_t zw[4] = {zv.x, zv.y, zv.z, zv.w};
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const uint32_t zz = qg_h2_add(zw[j], QG_WO_MAGIC); /* magic + z, exact */
                z0[j] = qg_h2_lo2(zz), z1[j] = qg_h2_hi2(zz);
            }
        } else {
#pragma unroll
            for (int j = 0; j < 4; j++) z0[j] = z1[j] = QG_WO_MAGIC_SYM;
        }
#endif
#pragma unroll
        for (int s = 0; s < 2; s++) {
            const uint8_t *bp = st + QG_WO_A_BYTES +
                                (wslab * QG_WO_KSTEPS + 2 * cc + s) * QG_WO_STEP + lane * 16;
#if QG_WBITS == 4
            const qg_u32x4 q = *(const qg_u32x4 *)bp;
            const uint32_t qw[4] = {q.x, q.y, q.z, q.w};
#else
            const qg_u32x4 q0 = *(const qg_u32x4 *)bp, q1 = *(const qg_u32x4 *)(bp + 512);
            const uint32_t qw[8] = {q0.x, q0.y, q0.z, q0.w, q1.x, q1.y, q1.z, q1.w};
#endif
#pragma unroll
            for (int j = 0; j < 4; j++) {
                uint32_t b[2][2];
#if QG_WBITS == 4
                qg_w4_dequant(qw[j], z0[j], z1[j], s0[j], s1[j], b);
#else
                qg_w8_decode(qw[2 * j], b[0]);
                qg_w8_decode(qw[2 * j + 1], b[1]);
#endif
#pragma unroll
                for (int mt = 0; mt < QG_WO_MT; mt++) {
                    /* A slots 2t, 2t+1 | 2t+8, 2t+9 of step s = elements 4s, 4s+1 | 4s+2, 4s+3 */
                    const uint32_t a[4] = {alo[mt][2 * s], ahi[mt][2 * s], alo[mt][2 * s + 1],
                                           ahi[mt][2 * s + 1]};
                    qg_mma_16816(acc[mt][j][0], a, b[0][0], b[0][1]);
                    qg_mma_16816(acc[mt][j][1], a, b[1][0], b[1][1]);
                }
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(QG_WO_THREADS, QG_MINB)
    qg_wo_gemm(const qg_wo_params p) {
    extern __shared__ __align__(128) uint8_t qg_smem[];
    __shared__ int s_last;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int wslab = warp % QG_WO_SLABS, wrow = (warp / QG_WO_SLABS) * QG_WM;
    const int m0 = blockIdx.z * QG_BM, slab0 = blockIdx.x * QG_WO_SLABS;
    const int nslabs = (p.n + 63) >> 6, ksteps = p.kp >> 4;
    const int kt_total = (p.kp + QG_BK - 1) / QG_BK;
    const int kt0 = blockIdx.y * p.kt_per_split;
    const int nkt = min(p.kt_per_split, kt_total - kt0);
    const int rows = min(QG_BM, p.m - m0);

    float acc[QG_WO_MT][4][2][4];
#pragma unroll
    for (int mt = 0; mt < QG_WO_MT; mt++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int h = 0; h < 2; h++)
#pragma unroll
                for (int i = 0; i < 4; i++) acc[mt][j][h][i] = 0.0f;

#pragma unroll 1
    for (int s = 0; s < QG_STAGES - 1; s++) {
        if (s < nkt)
            qg_wo_load_stage(p, qg_smem + s * QG_WO_STAGE_BYTES, kt0 + s, m0, rows, slab0, nslabs,
                             ksteps, tid);
        qg_cp_async_commit();
    }
    int rd = 0, wr = QG_STAGES - 1; /* stage slots being read / written */
#pragma unroll 1
    for (int it = 0; it < nkt; it++) {
        qg_cp_async_wait<QG_STAGES - 2>();
        __syncthreads(); /* stage `rd` landed for everyone; slot `wr` (read last iteration) is free */
        if (it + QG_STAGES - 1 < nkt)
            qg_wo_load_stage(p, qg_smem + wr * QG_WO_STAGE_BYTES, kt0 + it + QG_STAGES - 1, m0,
                             rows, slab0, nslabs, ksteps, tid);
        qg_cp_async_commit();
        qg_wo_compute_stage(qg_smem + rd * QG_WO_STAGE_BYTES, wslab, wrow, lane, p.gs_log2,
                            p.zero != 0, acc);
        rd = rd == QG_STAGES - 1 ? 0 : rd + 1;
        wr = wr == QG_STAGES - 1 ? 0 : wr + 1;
    }
    qg_cp_async_wait<0>();

    const int col_w = (slab0 + wslab) * 64 + 2 * t; /* + 16 j + 8 h */
    const int row_w = m0 + wrow + g;                /* + 16 mt + 8 i2 */

    if (p.splits > 1) {
        /* Publish this slice's partial tile, then let the last CTA of the tile reduce. */
        float *part = p.partial + (long long)blockIdx.y * p.m * p.n;
#pragma unroll
        for (int mt = 0; mt < QG_WO_MT; mt++)
#pragma unroll
            for (int j = 0; j < 4; j++)
#pragma unroll
                for (int h = 0; h < 2; h++)
#pragma unroll
                    for (int i2 = 0; i2 < 2; i2++) {
                        const int row = row_w + 16 * mt + 8 * i2, col = col_w + 16 * j + 8 * h;
                        if (row < p.m && col < p.n)
                            qg_wo_put_pair(part + (long long)row * p.n + col, col, p.n,
                                           acc[mt][j][h][2 * i2], acc[mt][j][h][2 * i2 + 1]);
                    }
        const int tile = blockIdx.z * gridDim.x + blockIdx.x;
        if (!qg_wo_arrive_last(&p.counter[tile], p.splits, tid, &s_last)) return;
            /* Sum the slices in slice order (this CTA's own included), whatever order they ended in. */
#pragma unroll
        for (int mt = 0; mt < QG_WO_MT; mt++)
#pragma unroll
            for (int j = 0; j < 4; j++)
#pragma unroll
                for (int h = 0; h < 2; h++)
#pragma unroll
                    for (int i = 0; i < 4; i++) acc[mt][j][h][i] = 0.0f;
        const long long slice = (long long)p.m * p.n;
#pragma unroll 1
        for (int sp = 0; sp < p.splits; sp++) {
            float *base = p.partial + sp * slice;
#pragma unroll
            for (int mt = 0; mt < QG_WO_MT; mt++)
#pragma unroll
                for (int j = 0; j < 4; j++)
#pragma unroll
                    for (int h = 0; h < 2; h++)
#pragma unroll
                        for (int i2 = 0; i2 < 2; i2++) {
                            const int row = row_w + 16 * mt + 8 * i2, col = col_w + 16 * j + 8 * h;
                            if (row < p.m && col < p.n)
                                qg_wo_take_pair(base + (long long)row * p.n + col, col, p.n,
                                                &acc[mt][j][h][2 * i2], &acc[mt][j][h][2 * i2 + 1]);
                        }
        }
        if (tid == 0) p.counter[tile] = 0u; /* ready for the next call */
    }

    /* Epilogue: (int8: per-channel scale), bias, one rounding to the output dtype. */
    const int odt = p.out_bf16 ? QG_DT_BF16 : QG_DT_F16;
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int col = col_w + 16 * j + 8 * h;
            if (col >= p.n) continue;
            const int has1 = col + 1 < p.n;
            float sc0 = 1.0f, sc1 = 1.0f, b0 = 0.0f, b1 = 0.0f;
#if QG_WBITS == 8
            /* scale index of column n = 64b + 16j + 8h + g': ((b * 8 + g') * 8 + 2j + h) */
            const uint16_t *sp = p.scale + ((slab0 + wslab) * 8 + 2 * t) * 8 + 2 * j + h;
            sc0 = qg_to_f32(sp[0], QG_ACT);
            sc1 = has1 ? qg_to_f32(sp[8], QG_ACT) : 0.0f;
#endif
            if (p.bias) {
                b0 = qg_to_f32(p.bias[col], odt);
                b1 = has1 ? qg_to_f32(p.bias[col + 1], odt) : 0.0f;
            }
#pragma unroll
            for (int mt = 0; mt < QG_WO_MT; mt++)
#pragma unroll
                for (int i2 = 0; i2 < 2; i2++) {
                    const int row = row_w + 16 * mt + 8 * i2;
                    if (row >= p.m) continue;
                    const float v0 = acc[mt][j][h][2 * i2] * sc0 + b0;
                    const float v1 = acc[mt][j][h][2 * i2 + 1] * sc1 + b1;
                    uint16_t *dst = p.c + (long long)row * p.ldc + col;
                    if (has1 && p.c_pairs) {
                        *(uint32_t *)dst = p.out_bf16 ? qg_pack_bf16x2(v0, v1)
                                                      : qg_pack_f16x2(v0, v1);
                    } else {
                        dst[0] = qg_from_f32(v0, odt);
                        if (has1) dst[1] = qg_from_f32(v1, odt);
                    }
                }
        }
}
