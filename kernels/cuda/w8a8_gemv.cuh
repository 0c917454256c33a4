/*
 * Decode GEMM for the dynamic-activation schemes (small M): weight streaming with mma.sync,
 * operands swapped so the weight is the 16-row A operand and up to 8 tokens are the 8-column B
 * operand (C^T = W * A^T), so a k32 mma consumes 16 weight rows while M is tiny.
 *
 * 16-byte loads without shared memory: the reduction order over k is free as long as A and B
 * agree, so each thread takes a contiguous 16-byte run of k (per row) and we feed its words to
 * the mma k-slots of several steps. With slot(step s, i) meaning the mma's k index:
 *   8-bit W, chunk of 64 k: thread t holds k 16t..16t+15 = words q0..q3; step s in {0,1} uses
 *       a0/a2 = q[2s], q[2s+1] of row g (a1/a3: row g+8), b0/b1 = the same words of token g.
 *   int4 W (W4A8_FP8, plain nibbles), chunk of 128 k: thread t holds k 32t..32t+31 as 4 words
 *       of 8 nibbles; each converts to two e4m3 words (k 8j..8j+3, 8j+4..8j+7); step s uses
 *       the pair from word s, and two 16-byte activation loads give the matching words.
 *   int4 W (W4A8_INT8, fragment order), chunk of 128 k: thread t's 16 bytes are already its
 *       mma fragments of steps 0..3 (k 32s+4t.., 32s+16+4t..), so scale groups of 32/64 stay
 *       within a step; activations are read as those 4-byte fragments.
 * Warps of a CTA split K (chunks interleaved), then reduce through shared memory.
 *
 * Parameters: QG_RW m16 weight-row tiles per warp, QG_MT n8 token tiles per CTA, QG_WARPS,
 * QG_UK chunks loaded ahead per warp (memory-level parallelism). Grid: (ceil(N/16RW),
 * ceil(M/8MT)).
 */
#pragma once
#include "qg_prelude.cuh"
#include "w8a8_dyn.cuh"

#if !defined(QG_RW) || !defined(QG_MT) || !defined(QG_WARPS) || !defined(QG_UK)
#error "w8a8_gemv.cuh needs QG_RW, QG_MT, QG_WARPS and QG_UK"
#endif

#define KC (QG_WB == 8 ? 64 : 128) /* k per chunk per warp */
#define AW (QG_WB == 8 ? 4 : 8)    /* activation words per token per chunk */

#if QG_WB == 8 && QG_AT == 2
typedef int tot_t; /* W8A8_INT8: exact int32 all the way to the epilogue */
#else
typedef float tot_t;
#endif

QG_DEVICE void qg_dyn_gemv_body(const uint8_t *__restrict__ a, long long lda,
                                const uint8_t *__restrict__ w, const float *__restrict__ w_scale,
                                const float *__restrict__ a_scale, const uint16_t *__restrict__ bias,
                                uint16_t *__restrict__ c, long long ldc, int M, int N, int K,
                                int groups, int glog, int flags) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int n0 = blockIdx.x * (16 * QG_RW);
    const int m0 = blockIdx.y * (8 * QG_MT);
    const long long wrow = (long long)K * QG_WB / 8;

    /* Rows/tokens past the end are clamped: they only feed outputs that are not stored. */
    const uint8_t *wr[QG_RW][2];
    int nrow[QG_RW][2];
#pragma unroll
    for (int r = 0; r < QG_RW; r++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            nrow[r][h] = min(n0 + 16 * r + 8 * h + g, N - 1);
            wr[r][h] = w + nrow[r][h] * wrow;
        }
    const uint8_t *ar[QG_MT];
#pragma unroll
    for (int mt = 0; mt < QG_MT; mt++) ar[mt] = a + (long long)min(m0 + 8 * mt + g, M - 1) * lda;

    tot_t tot[QG_RW][QG_MT][4];
#pragma unroll
    for (int r = 0; r < QG_RW; r++)
#pragma unroll
        for (int mt = 0; mt < QG_MT; mt++)
#pragma unroll
            for (int i = 0; i < 4; i++) tot[r][mt][i] = 0;

    const int nc = (K + KC - 1) / KC;
    for (int c0 = warp; c0 < nc; c0 += QG_WARPS * QG_UK) {
        uint32_t wv[QG_UK][QG_RW][2][4];
        uint32_t av[QG_UK][QG_MT][AW];
        /* issue every load of QG_UK chunks before any math */
#pragma unroll
        for (int u = 0; u < QG_UK; u++) {
            const int ci = c0 + u * QG_WARPS;
            const int k0 = ci * KC;
#if QG_WB == 8
            const bool ok = ci < nc && k0 + 16 * t < K; /* K % 16 == 0: whole 16-byte units */
            const int off = k0 + 16 * t;
#else
            const bool ok = ci < nc; /* K % 128 == 0 */
            const int off = k0 / 2 + 16 * t;
#endif
#pragma unroll
            for (int r = 0; r < QG_RW; r++)
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    qg_u32x4 v = {0u, 0u, 0u, 0u};
                    if (ok) v = qg_ld_stream_u32x4(wr[r][h] + off);
                    wv[u][r][h][0] = v.x, wv[u][r][h][1] = v.y, wv[u][r][h][2] = v.z,
                    wv[u][r][h][3] = v.w;
                }
#pragma unroll
            for (int mt = 0; mt < QG_MT; mt++) {
#if QG_WB == 8
                qg_u32x4 v = {0u, 0u, 0u, 0u};
                if (ok) v = qg_ld_nc_u32x4(ar[mt] + off);
                av[u][mt][0] = v.x, av[u][mt][1] = v.y, av[u][mt][2] = v.z, av[u][mt][3] = v.w;
#elif QG_AT == 1
                qg_u32x4 v0 = {0u, 0u, 0u, 0u}, v1 = {0u, 0u, 0u, 0u};
                if (ok) {
                    v0 = qg_ld_nc_u32x4(ar[mt] + k0 + 32 * t);
                    v1 = qg_ld_nc_u32x4(ar[mt] + k0 + 32 * t + 16);
                }
                av[u][mt][0] = v0.x, av[u][mt][1] = v0.y, av[u][mt][2] = v0.z, av[u][mt][3] = v0.w;
                av[u][mt][4] = v1.x, av[u][mt][5] = v1.y, av[u][mt][6] = v1.z, av[u][mt][7] = v1.w;
#else
#pragma unroll
                for (int s = 0; s < 4; s++) {
                    av[u][mt][2 * s] = ok ? qg_ld_nc_u32(ar[mt] + k0 + 32 * s + 4 * t) : 0u;
                    av[u][mt][2 * s + 1] = ok ? qg_ld_nc_u32(ar[mt] + k0 + 32 * s + 16 + 4 * t) : 0u;
                }
#endif
            }
        }

#pragma unroll
        for (int u = 0; u < QG_UK; u++) {
            const int ci = c0 + u * QG_WARPS;
            if (ci >= nc) break;
#if QG_WB == 8
#pragma unroll
            for (int r = 0; r < QG_RW; r++)
#pragma unroll
                for (int mt = 0; mt < QG_MT; mt++) {
#if QG_AT == 2
                    /* int32 accumulates exactly: straight into the total */
#pragma unroll
                    for (int s = 0; s < 2; s++) {
                        const uint32_t A[4] = {wv[u][r][0][2 * s], wv[u][r][1][2 * s],
                                               wv[u][r][0][2 * s + 1], wv[u][r][1][2 * s + 1]};
                        qg_mma_16832(tot[r][mt], A, av[u][mt][2 * s], av[u][mt][2 * s + 1]);
                    }
#else
                    /* fp8 tensor-core accumulation is not full f32: promote per chunk */
                    float d[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
                    for (int s = 0; s < 2; s++) {
                        const uint32_t A[4] = {wv[u][r][0][2 * s], wv[u][r][1][2 * s],
                                               wv[u][r][0][2 * s + 1], wv[u][r][1][2 * s + 1]};
                        qg_mma_16832(d, A, av[u][mt][2 * s], av[u][mt][2 * s + 1]);
                    }
#pragma unroll
                    for (int i = 0; i < 4; i++) tot[r][mt][i] += d[i];
#endif
                }
#else /* int4 weights */
            /* convert this chunk's weights: per (r, h) 8 words, lo/hi per packed word */
            uint32_t wq[QG_RW][2][8];
#pragma unroll
            for (int r = 0; r < QG_RW; r++)
#pragma unroll
                for (int h = 0; h < 2; h++)
#pragma unroll
                    for (int j = 0; j < 4; j++) {
#if QG_AT == 1
                        qg_i4x8_to_e4m3x8(wv[u][r][h][j], wq[r][h][2 * j], wq[r][h][2 * j + 1]);
#else
                        qg_i4x8_to_s8x8_x16(wv[u][r][h][j], wq[r][h][2 * j], wq[r][h][2 * j + 1]);
#endif
                    }
#pragma unroll
            for (int r = 0; r < QG_RW; r++) {
#if QG_AT == 1
                /* group 128 == one chunk */
                const float s0 = w_scale[(long long)nrow[r][0] * groups + ci];
                const float s1 = w_scale[(long long)nrow[r][1] * groups + ci];
#pragma unroll
                for (int mt = 0; mt < QG_MT; mt++) {
                    float d[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
                    for (int s = 0; s < 4; s++) {
                        const uint32_t A[4] = {wq[r][0][2 * s], wq[r][1][2 * s],
                                               wq[r][0][2 * s + 1], wq[r][1][2 * s + 1]};
                        qg_mma_16832(d, A, av[u][mt][2 * s], av[u][mt][2 * s + 1]);
                    }
                    tot[r][mt][0] += d[0] * s0, tot[r][mt][1] += d[1] * s0;
                    tot[r][mt][2] += d[2] * s1, tot[r][mt][3] += d[3] * s1;
                }
#else
                /* groups of 32/64/128 or per channel: flush the int32 sum at each group end */
                const int gsteps = glog >= 7 ? 4 : 1 << (glog - 5);
#pragma unroll
                for (int mt = 0; mt < QG_MT; mt++) {
                    int d[4] = {0, 0, 0, 0};
#pragma unroll
                    for (int s = 0; s < 4; s++) {
                        const uint32_t A[4] = {wq[r][0][2 * s], wq[r][1][2 * s],
                                               wq[r][0][2 * s + 1], wq[r][1][2 * s + 1]};
                        qg_mma_16832(d, A, av[u][mt][2 * s], av[u][mt][2 * s + 1]);
                        if (((s + 1) & (gsteps - 1)) == 0) {
                            const int gi = groups == 1 ? 0 : (ci * 128 + 32 * s) >> glog;
                            /* 1/16 undoes the x16 of the int4 -> int8 conversion (exact) */
                            const float s0 = w_scale[(long long)nrow[r][0] * groups + gi] * 0.0625f;
                            const float s1 = w_scale[(long long)nrow[r][1] * groups + gi] * 0.0625f;
                            tot[r][mt][0] += (float)d[0] * s0, tot[r][mt][1] += (float)d[1] * s0;
                            tot[r][mt][2] += (float)d[2] * s1, tot[r][mt][3] += (float)d[3] * s1;
                            d[0] = d[1] = d[2] = d[3] = 0;
                        }
                    }
                }
#endif
            }
#endif
        }
    }

    /* cross-warp reduction, then each thread stores column pairs of one token */
    __shared__ tot_t red[QG_WARPS][QG_RW * QG_MT * 4][32];
#pragma unroll
    for (int r = 0; r < QG_RW; r++)
#pragma unroll
        for (int mt = 0; mt < QG_MT; mt++)
#pragma unroll
            for (int i = 0; i < 4; i++) red[warp][(r * QG_MT + mt) * 4 + i][lane] = tot[r][mt][i];
    __syncthreads();

    qg_dyn_epi e;
    e.a_scale = a_scale;
    e.w_scale = QG_WB == 8 ? w_scale : (const float *)0;
    e.bias = bias;
    e.c = c;
    e.ldc = ldc;
    e.M = M, e.N = N, e.flags = flags;
    const int pairs = QG_RW * 8 * QG_MT * 8; /* (16 RW / 2 column pairs) x (8 MT tokens) */
    for (int p = threadIdx.x; p < pairs; p += QG_WARPS * 32) {
        const int ml = p / (QG_RW * 8), nl = 2 * (p % (QG_RW * 8));
        float v[2];
#pragma unroll
        for (int q = 0; q < 2; q++) {
            const int n = nl + q, r = n >> 4, hh = (n >> 3) & 1, gg = n & 7;
            const int mt = ml >> 3, tt = (ml & 7) >> 1, cl = ml & 1;
            const int idx = (r * QG_MT + mt) * 4 + 2 * hh + cl, ln = 4 * gg + tt;
            tot_t s = 0;
#pragma unroll
            for (int wi = 0; wi < QG_WARPS; wi++) s += red[wi][idx][ln];
            v[q] = (float)s;
        }
        qg_dyn_store2(e, m0 + ml, n0 + nl, v[0], v[1]);
    }
}

QG_DYN_KERNEL(qg_dyn_gemv, __launch_bounds__(QG_WARPS * 32), qg_dyn_gemv_body)
