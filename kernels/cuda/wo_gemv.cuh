/*
 * Weight-only decode GEMV (M <= 64, in token blocks of 8 * QG_MT rows) for W4A16 and W8A16
 * (QG_WBITS 4 / 8): weight streaming with registers only, on the packed layouts of
 * docs/formats.md as they are.
 * C^T = W * A^T: the weight is the 16-row A operand of mma.m16n8k16 and up to 8 tokens per n8
 * tile are the B operand. Used by w4a16_gemv.cu and w8a16_gemv.cu, which only set QG_WBITS.
 *
 * Why the packed layouts already are an A operand: a lane's data of one k16 step of a slab is,
 * decoded, b[h][r] = the B fragments of rows 16j + 8h + g (k slots 2t, 2t+1 for r = 0; 2t+8,
 * 2t+9 for r = 1) for the four 16-row blocks j: int4, one 16-byte load, word j through
 * qg_w4_dequant; int8, two 16-byte loads (blocks 0-1, 2-3), words 2j + h through qg_w8_decode.
 * The A fragment of the 16-row tile j is {a0, a1, a2, a3} = {row g: 2t,2t+1 | row g+8: 2t,2t+1 |
 * row g: 2t+8,2t+9 | row g+8: 2t+8,2t+9} (PTX ISA, m16n8k16 .f16/.bf16 A layout) =
 * {b[0][0], b[1][0], b[0][1], b[1][1]}: one k16 step gives 4 A tiles (64 output columns). The
 * activation B fragment of token g must use the format's k renaming: slots 2t, 2t+1 | 2t+8, 2t+9
 * of step s of chunk c are the actual columns 32c + 8t + 4s + {0,1} | {2,3}, so one 16-byte load
 * of token g's columns 32c + 8t .. + 7 is b0/b1 of both steps (words 2s, 2s + 1). Outputs:
 * c0, c1 = (column 16j + g, tokens 2t, 2t + 1), c2, c3 = column 16j + 8 + g.
 *
 * Work: one CTA = one 64-column slab x one token block (8 * QG_MT rows of M) x one split-K slice
 * of `units_per_split` units. The token blocks of a slab are adjacent in blockIdx.x (x = slab *
 * tblocks + block), so they run together and the slab's weight comes from DRAM once, then from
 * L2 for the other blocks. A unit is
 * QG_UK consecutive k32 chunks (aligned to QG_UK * 32 in k). The CTA's warps take its units in
 * turn; a warp issues every load of a unit (2 x QG_WBITS / 4 x 16 bytes of weights, QG_MT x 16
 * bytes of activations per chunk and lane; int4: one 16-byte scale / zero-point vector) before
 * any math, and the many resident warps keep the memory system busy.
 * int4 scales: a unit holds ng groups (1 when a group spans the unit, QG_UK * 32 / gs otherwise,
 * at most 4): lane t loads group t of the unit (the 16 bytes all 4 lanes of a quad need,
 * docs/formats.md), and at the first chunk of each group the quad fetches that group's words
 * from lane 4g + group with shuffles. The weights are decoded exactly as the tiled kernels do
 * (w4a16_gemm.cuh): int4 (u - z) exact, one rounding by the scale; int8 the exact codes, the
 * per-channel scale applied to the f32 sum in the epilogue. f32 accumulation, so results match
 * their documented rounding.
 *
 * Warps reduce through shared memory in warp order; with splits > 1 each CTA writes its f32
 * partial tile and the last CTA of a (slab, token block) to arrive (a counter each) sums the
 * slices in slice order (deterministic), writes C and zeroes the partials and the counter it
 * used: the workspace is left zero, as the contract of every family requires.
 *
 * Parameters: QG_ACT (1 f16, 2 bf16), QG_MT (n8 token tiles: 1 or 2), QG_WARPS (4 or 8),
 * QG_UK (chunks per unit: 2 or 4), QG_FZP (int4: 1 float zero points, (u - 8) * s + z in one
 * fma; 0 or undefined: none or integer ones). Grid: (ceil(N / 64) * tblocks, splits). Host side:
 * family_wo_gemv.c (struct layout and unit size must match).
 */
#pragma once

#if !defined(QG_WBITS) || !defined(QG_ACT) || !defined(QG_MT) || !defined(QG_WARPS) || \
    !defined(QG_UK)
#error "wo_gemv.cuh needs QG_WBITS, QG_ACT, QG_MT, QG_WARPS and QG_UK"
#endif
#if (QG_WBITS != 4 && QG_WBITS != 8) || (QG_MT != 1 && QG_MT != 2) || \
    (QG_WARPS != 4 && QG_WARPS != 8) || (QG_UK != 2 && QG_UK != 4)
#error "unsupported wo_gemv variant"
#endif

#ifndef QG_FZP
#define QG_FZP 0
#endif

#include "qg_abi.cuh" /* qg_wogv_params */
#include "int4_dequant.cuh"
#include "ptx_ld_st.cuh"
#include "wo_gemv_ops.cuh"
#include "wo_splitk.cuh"

#define QG_WOGV_THREADS (QG_WARPS * 32)
#define QG_WOGV_ACC (4 * QG_MT * 4)          /* f32 accumulators per lane */
#define QG_WOGV_PAIRS (8 * QG_MT / QG_WARPS) /* output column pairs per thread */
#define QG_WOGV_STEP (QG_WBITS * 128)        /* bytes of one k16 step of a slab: 512 / 1024 */
#define QG_WOGV_WORDS QG_WBITS               /* 32-bit weight words per lane and k16 step */

/* 16 resident warps per SM (<= 128 registers): what the host's split policy plans for */
extern "C" __global__ void __launch_bounds__(QG_WOGV_THREADS, 16 / QG_WARPS)
    qg_wogv_gemm(const qg_wogv_params p) {
    __shared__ float red[QG_WARPS][QG_WOGV_ACC][33]; /* +1: conflict-free transposed reads */
    __shared__ int s_last;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int slab = blockIdx.x / p.tblocks, m0 = (blockIdx.x % p.tblocks) * (8 * QG_MT);
    const int kc = p.kc, gl = p.gs_log2;
    const int units = (kc + QG_UK - 1) / QG_UK;
    const int u_begin = blockIdx.y * p.units_per_split;
    const int u_end = min(u_begin + p.units_per_split, units);
    const int has_zero = p.zero != 0;
    /* groups per unit: 1 when one group spans it (per channel included) */
    const int ng = gl >= 30 ? 1 : max(1, (QG_UK * 32) >> gl);

    /* + (2c + s) * QG_WOGV_STEP + 512 * (16-byte load of the lane in the step) */
    const uint8_t *wp = p.w + (long long)slab * kc * 2 * QG_WOGV_STEP + lane * 16;
    /* token rows past M are clamped (same address: one transaction); their outputs are dropped */
    const uint16_t *ap[QG_MT];
#pragma unroll
    for (int mt = 0; mt < QG_MT; mt++)
        ap[mt] = p.a + (long long)min(m0 + 8 * mt + g, p.m - 1) * p.lda + 8 * t;
    const long long sbase = ((long long)slab * p.groups * 8 + g) * 8; /* + group * 64 */
    const uint64_t pol = qg_l2_evict_first();

    float acc[4][QG_MT][4];
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
        for (int mt = 0; mt < QG_MT; mt++)
#pragma unroll
            for (int i = 0; i < 4; i++) acc[j][mt][i] = 0.0f;

#pragma unroll 1
    for (int un = u_begin + warp; un < u_end; un += QG_WARPS) {
        const int c0 = un * QG_UK;
        /* every load of the unit first */
        uint32_t wq[QG_UK][2][QG_WOGV_WORDS], av[QG_UK][QG_MT][4];
#pragma unroll
        for (int u = 0; u < QG_UK; u++) {
            const int ci = c0 + u;
            const bool ok = ci < kc;
#pragma unroll
            for (int s = 0; s < 2; s++)
#pragma unroll
                for (int h = 0; h < QG_WOGV_WORDS / 4; h++) {
                    qg_u32x4 v = {0u, 0u, 0u, 0u};
                    if (ok)
                        v = qg_ld_stream_hint_u32x4(wp + (long long)(2 * ci + s) * QG_WOGV_STEP +
                                                        h * 512,
                                                    pol);
                    uint32_t *d = &wq[u][s][4 * h];
                    d[0] = v.x, d[1] = v.y, d[2] = v.z, d[3] = v.w;
                }
            const bool oka = ok && ci * 32 + 8 * t < p.k; /* k >= K reads as 0 (K % 8 == 0) */
#pragma unroll
            for (int mt = 0; mt < QG_MT; mt++) {
                qg_u32x4 v = {0u, 0u, 0u, 0u};
                if (oka) v = qg_ld_nc_u32x4(ap[mt] + ci * 32);
                av[u][mt][0] = v.x, av[u][mt][1] = v.y, av[u][mt][2] = v.z, av[u][mt][3] = v.w;
            }
        }
#if QG_WBITS == 4
        /* lane t: group t of the unit (clamped: groups past K are never used) */
        const int grp0 = gl >= 30 ? 0 : (c0 * 32) >> gl;
        const int grp = min(grp0 + (ng > 1 ? min(t, ng - 1) : 0), p.groups - 1);
        const qg_u32x4 sv4 = qg_ld_nc_u32x4(p.scale + sbase + (long long)grp * 64);
        qg_u32x4 zv4 = {0u, 0u, 0u, 0u};
        if (has_zero) zv4 = qg_ld_nc_u32x4(p.zero + sbase + (long long)grp * 64);
        const uint32_t sv[4] = {sv4.x, sv4.y, sv4.z, sv4.w}, zv[4] = {zv4.x, zv4.y, zv4.z, zv4.w};

        uint32_t s0[4], s1[4], z0[4], z1[4]; /* splats of the current group, per block j */
#endif
#pragma unroll
        for (int u = 0; u < QG_UK; u++) {
            const int ci = c0 + u;
            if (ci >= kc) break; /* warp-uniform */
#if QG_WBITS == 4
            if (u == 0 || (ng > 1 && ((u * 32) & ((1 << gl) - 1)) == 0)) {
                /* a group starts at this chunk: its words, from lane 4g + (group in the unit) */
                uint32_t sw[4], zw[4];
#pragma unroll
                for (int j = 0; j < 4; j++) sw[j] = sv[j], zw[j] = zv[j];
                if (ng > 1) {
                    const int src = (lane & ~3) | ((u * 32) >> gl);
#pragma unroll
                    for (int j = 0; j < 4; j++) sw[j] = qg_wogv_shfl(sv[j], src);
                    if (has_zero) {
#pragma unroll
                        for (int j = 0; j < 4; j++) zw[j] = qg_wogv_shfl(zv[j], src);
                    }
                }
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    s0[j] = qg_h2_lo2(sw[j]), s1[j] = qg_h2_hi2(sw[j]);
#if QG_FZP
                    z0[j] = qg_h2_lo2(zw[j]), z1[j] = qg_h2_hi2(zw[j]); /* z as stored */
                    continue;
#endif
                    if (has_zero) {
                        const uint32_t zz = qg_h2_add(zw[j], QG_WO_MAGIC); /* magic + z, exact */
                        z0[j] = qg_h2_lo2(zz), z1[j] = qg_h2_hi2(zz);
                    } else {
                        z0[j] = z1[j] = QG_WO_MAGIC_SYM;
                    }
                }
            }
#endif
#pragma unroll
            for (int s = 0; s < 2; s++)
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    uint32_t b[2][2];
#if QG_WBITS == 4
#if QG_FZP
                    qg_w4_dequant_fzp(wq[u][s][j], z0[j], z1[j], s0[j], s1[j], b);
#else
                    qg_w4_dequant(wq[u][s][j], z0[j], z1[j], s0[j], s1[j], b);
#endif
#else
                    qg_w8_decode(wq[u][s][2 * j], b[0]);
                    qg_w8_decode(wq[u][s][2 * j + 1], b[1]);
#endif
                    const uint32_t a[4] = {b[0][0], b[1][0], b[0][1], b[1][1]};
#pragma unroll
                    for (int mt = 0; mt < QG_MT; mt++)
                        qg_mma_16816(acc[j][mt], a, av[u][mt][2 * s], av[u][mt][2 * s + 1]);
                }
        }
    }

    /* Sum the warps' accumulators (fixed order), transposed to (token, column pair) per thread:
     * accumulator (j, mt, i) of lane 4g + t is column 16j + 8(i / 2) + g, token 8mt + 2t + i % 2. */
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
        for (int mt = 0; mt < QG_MT; mt++)
#pragma unroll
            for (int i = 0; i < 4; i++) red[warp][(j * QG_MT + mt) * 4 + i][lane] = acc[j][mt][i];
    __syncthreads();

    float v[QG_WOGV_PAIRS][2];
    int om[QG_WOGV_PAIRS], on[QG_WOGV_PAIRS]; /* token and (even) column of each pair */
#pragma unroll
    for (int q = 0; q < QG_WOGV_PAIRS; q++) {
        const int pi = tid + q * QG_WOGV_THREADS;
        const int ml = pi >> 5, nl = 2 * (pi & 31);
        const int mt = ml >> 3, tt = (ml & 7) >> 1, cl = ml & 1;
#pragma unroll
        for (int e = 0; e < 2; e++) {
            const int n = nl + e, j = n >> 4, hh = (n >> 3) & 1, gg = n & 7;
            const int idx = (j * QG_MT + mt) * 4 + 2 * hh + cl, ln = 4 * gg + tt;
            float sum = 0.0f;
#pragma unroll
            for (int wi = 0; wi < QG_WARPS; wi++) sum += red[wi][idx][ln];
            v[q][e] = sum;
        }
        om[q] = m0 + ml;
        on[q] = slab * 64 + nl;
    }

    if (p.splits > 1) {
        /* publish this slice, then the last CTA of the slab reduces every slice in order */
        float *part = p.partial + (long long)blockIdx.y * p.m * p.n;
#pragma unroll
        for (int q = 0; q < QG_WOGV_PAIRS; q++) {
            const int m = om[q], n = on[q];
            if (m < p.m && n < p.n)
                qg_wo_put_pair(part + (long long)m * p.n + n, n, p.n, v[q][0], v[q][1]);
        }
        if (!qg_wo_arrive_last(&p.counter[blockIdx.x], p.splits, tid, &s_last)) return;
        const long long slice = (long long)p.m * p.n;
#pragma unroll
        for (int q = 0; q < QG_WOGV_PAIRS; q++) v[q][0] = v[q][1] = 0.0f;
#pragma unroll 1
        for (int sp = 0; sp < p.splits; sp++) {
#pragma unroll
            for (int q = 0; q < QG_WOGV_PAIRS; q++) {
                const int m = om[q], n = on[q];
                if (m < p.m && n < p.n)
                    qg_wo_take_pair(p.partial + sp * slice + (long long)m * p.n + n, n, p.n,
                                    &v[q][0], &v[q][1]);
            }
        }
        if (tid == 0) p.counter[blockIdx.x] = 0u; /* ready for the next call */
    }

    /* (int8: per-channel scale), bias (output dtype) in f32, one rounding to the output dtype */
    const int odt = p.out_bf16 ? QG_DT_BF16 : QG_DT_F16;
#pragma unroll
    for (int q = 0; q < QG_WOGV_PAIRS; q++) {
        const int m = om[q], n = on[q];
        if (m >= p.m || n >= p.n) continue;
        const int has1 = n + 1 < p.n;
        float sc0 = 1.0f, sc1 = 1.0f, b0 = 0.0f, b1 = 0.0f;
#if QG_WBITS == 8
        /* scale index of column n (docs/formats.md, G = 1): ((n / 64 * 8 + n % 8) * 8 + 2j + h);
         * n is even, so column n + 1 is the next g: 8 further */
        const uint16_t *sp = p.scale + ((n >> 6) * 8 + (n & 7)) * 8 + ((n >> 3) & 7);
        sc0 = qg_to_f32(sp[0], QG_ACT);
        if (has1) sc1 = qg_to_f32(sp[8], QG_ACT);
#endif
        if (p.bias) {
            b0 = qg_to_f32(p.bias[n], odt);
            if (has1) b1 = qg_to_f32(p.bias[n + 1], odt);
        }
        const float v0 = v[q][0] * sc0 + b0, v1 = v[q][1] * sc1 + b1;
        uint16_t *dst = p.c + (long long)m * p.ldc + n;
        if (has1 && p.c_pairs) {
            *(uint32_t *)dst = p.out_bf16 ? qg_pack_bf16x2(v0, v1) : qg_pack_f16x2(v0, v1);
        } else {
            dst[0] = qg_from_f32(v0, odt);
            if (has1) dst[1] = qg_from_f32(v1, odt);
        }
    }
}
