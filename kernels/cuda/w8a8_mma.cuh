/*
 * Tiled GEMM for the dynamic-activation schemes with mma.sync m16n8k32 (e4m3 on sm_89+, s8 on
 * sm_80+): a BM x BN output tile per CTA, K in stages of 128 through a QG_ST-deep cp.async
 * pipeline, WM x WN warps. (On sm_90 ptxas lowers e4m3 mma.sync to f16 HMMA: the sm_90a
 * prefill path for W8A8_FP8 is w8a8_wgmma.cu.)
 *
 * Shared memory, per stage: A [BM][128 B] and 8-bit B [BN][128 B] with the 128-byte swizzle
 * (16-byte unit u of row r stored at unit u ^ (r & 7)) so ldmatrix reads are conflict-free;
 * int4 B [BN][64 B] unswizzled (each lane reads unit t of row g: conflict-free as is).
 * Fragments: A and 8-bit B through ldmatrix.x4 (standard m16n8k32 layout); int4 B as one
 * 16-byte read per n8 tile per stage, converted in registers:
 *   W4A8_INT8 (fragment order): word s of the read is step s's (b0, b1) after shifts;
 *   W4A8_FP8 (plain nibbles): word j = k 32t+8j.. -> e4m3 (b0, b1) of step j, and A is read
 *       with the same k permutation (row g bytes 32t..32t+31: two 16-byte reads).
 * Accumulation: s32 for W8A8_INT8; fp8 promotes each 128-k stage into f32 totals (tensor-core
 * fp8 sums are not full f32); int4 schemes flush per scale group (x group scale).
 *
 * 1-D grid over tiles, grouped by 8 M-tiles so consecutive CTAs share weight tiles in L2.
 */
#pragma once
#include "qg_prelude.cuh"
#include "ptx_cp_async.cuh"
#include "ptx_ld_st.cuh"
#include "ptx_ldmatrix.cuh"
#include "tile_raster.cuh"
#include "w8a8_dyn.cuh"

#if !defined(QG_BM) || !defined(QG_BN) || !defined(QG_WM) || !defined(QG_WN) || !defined(QG_ST)
#error "w8a8_mma.cuh needs QG_BM, QG_BN, QG_WM, QG_WN and QG_ST"
#endif

#define NT (QG_WM * QG_WN * 32)
#define TM (QG_BM / QG_WM)
#define TN (QG_BN / QG_WN)
#define MI (TM / 16)
#define NI (TN / 8)
#define A_STAGE (QG_BM * 128)
#define B_ROW (QG_WB == 8 ? 128 : 64)
#define B_STAGE (QG_BN * B_ROW)

#if QG_WB == 8 && QG_AT == 2
typedef int tot_t;
#define PROMOTE 0
#else
typedef float tot_t;
#define PROMOTE 1
#endif

QG_DEVICE uint32_t swz(int row, int unit) {
    return (uint32_t)(row * 128 + ((unit ^ (row & 7)) << 4));
}

QG_DEVICE void qg_dyn_mma_body(const uint8_t *__restrict__ a, long long lda,
                               const uint8_t *__restrict__ w, const float *__restrict__ w_scale,
                               const float *__restrict__ a_scale, const uint16_t *__restrict__ bias,
                               uint16_t *__restrict__ c, long long ldc, int M, int N, int K,
                               int groups, int glog, int flags) {
    extern __shared__ __align__(1024) uint8_t smem[];
    const uint32_t sbase = qg_smem_addr(smem);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int wm0 = (warp / QG_WN) * TM, wn0 = (warp % QG_WN) * TN;

    const int tiles_n = (N + QG_BN - 1) / QG_BN, tiles_m = (M + QG_BM - 1) / QG_BM;
    int mt, nt;
    qg_raster_tile(blockIdx.x, tiles_m, tiles_n, &mt, &nt);
    const int m0 = mt * QG_BM, n0 = nt * QG_BN;

    const long long wrow = (long long)K * QG_WB / 8;
    const int nk = (K + 127) / 128;

    auto load_stage = [&](int slot, int kt) {
        const uint32_t sa = sbase + slot * (A_STAGE + B_STAGE), sb = sa + A_STAGE;
        const int k0 = kt * 128;
        for (int u = tid; u < QG_BM * 8; u += NT) {
            const int row = u >> 3, cu = u & 7, gm = m0 + row, gk = k0 + 16 * cu;
            const bool ok = gm < M && gk < K;
            qg_cp_async16(sa + swz(row, cu), ok ? a + (long long)gm * lda + gk : a, ok ? 16 : 0);
        }
#if QG_WB == 8
        for (int u = tid; u < QG_BN * 8; u += NT) {
            const int row = u >> 3, cu = u & 7, gn = n0 + row, gk = k0 + 16 * cu;
            const bool ok = gn < N && gk < K;
            qg_cp_async16(sb + swz(row, cu), ok ? w + gn * wrow + gk : w, ok ? 16 : 0);
        }
#else
        for (int u = tid; u < QG_BN * 4; u += NT) {
            const int row = u >> 2, cu = u & 3, gn = n0 + row;
            const bool ok = gn < N;
            qg_cp_async16(sb + row * 64 + cu * 16, ok ? w + gn * wrow + k0 / 2 + 16 * cu : w,
                          ok ? 16 : 0);
        }
#endif
    };

    tot_t acc[MI][NI][4];
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NI; j++)
#pragma unroll
            for (int r = 0; r < 4; r++) acc[i][j][r] = 0;

#pragma unroll
    for (int s = 0; s < QG_ST - 1; s++) {
        if (s < nk) load_stage(s, s);
        qg_cp_async_commit();
    }

    for (int kt = 0; kt < nk; kt++) {
        qg_cp_async_wait<QG_ST - 2>();
        __syncthreads();
        {
            const int nt = kt + QG_ST - 1;
            if (nt < nk) load_stage(nt % QG_ST, nt);
            qg_cp_async_commit();
        }
        const uint32_t sa = sbase + (kt % QG_ST) * (A_STAGE + B_STAGE), sb = sa + A_STAGE;

#if PROMOTE
#if QG_WB == 4 && QG_AT == 2
        int part[MI][NI][4];
#else
        float part[MI][NI][4];
#endif
#pragma unroll
        for (int i = 0; i < MI; i++)
#pragma unroll
            for (int j = 0; j < NI; j++)
#pragma unroll
                for (int r = 0; r < 4; r++) part[i][j][r] = 0;
#define ACC part
#else
#define ACC acc
#endif

#if QG_WB == 4
        /* this stage's int4 words: 4 per n8 tile */
        uint32_t bq[NI][4];
#pragma unroll
        for (int j = 0; j < NI; j++) {
            const qg_u32x4 v = qg_lds_u32x4(sb + (wn0 + 8 * j + g) * 64 + 16 * t);
            bq[j][0] = v.x, bq[j][1] = v.y, bq[j][2] = v.z, bq[j][3] = v.w;
        }
#endif
#if QG_WB == 4 && QG_AT == 1
        uint32_t aq[MI][2][4]; /* k-permuted A words of the current half stage */
#endif

#pragma unroll
        for (int s = 0; s < 4; s++) {
            uint32_t af[MI][4];
#if QG_WB == 4 && QG_AT == 1
            if ((s & 1) == 0) {
#pragma unroll
                for (int i = 0; i < MI; i++)
#pragma unroll
                    for (int h = 0; h < 2; h++) {
                        const qg_u32x4 v = qg_lds_u32x4(
                            sa + swz(wm0 + 16 * i + 8 * h + g, 2 * t + (s >> 1)));
                        aq[i][h][0] = v.x, aq[i][h][1] = v.y, aq[i][h][2] = v.z, aq[i][h][3] = v.w;
                    }
            }
#pragma unroll
            for (int i = 0; i < MI; i++) {
                const int q = 2 * (s & 1);
                af[i][0] = aq[i][0][q], af[i][1] = aq[i][1][q];
                af[i][2] = aq[i][0][q + 1], af[i][3] = aq[i][1][q + 1];
            }
#else
#pragma unroll
            for (int i = 0; i < MI; i++) {
                const int row = wm0 + 16 * i + (lane & 7) + 8 * ((lane >> 3) & 1);
                qg_ldmatrix_x4(sa + swz(row, 2 * s + (lane >> 4)), af[i][0], af[i][1], af[i][2],
                               af[i][3]);
            }
#endif
            uint32_t bf[NI][2];
#if QG_WB == 8
#pragma unroll
            for (int j = 0; j < NI; j += 2) {
                const int row = wn0 + 8 * j + (lane & 7) + 8 * (lane >> 4);
                qg_ldmatrix_x4(sb + swz(row, 2 * s + ((lane >> 3) & 1)), bf[j][0], bf[j][1],
                               bf[j + 1][0], bf[j + 1][1]);
            }
#elif QG_AT == 1
#pragma unroll
            for (int j = 0; j < NI; j++) qg_i4x8_to_e4m3x8(bq[j][s], bf[j][0], bf[j][1]);
#else
#pragma unroll
            for (int j = 0; j < NI; j++) qg_i4x8_to_s8x8_x16(bq[j][s], bf[j][0], bf[j][1]);
#endif
#pragma unroll
            for (int i = 0; i < MI; i++)
#pragma unroll
                for (int j = 0; j < NI; j++) qg_mma_16832(ACC[i][j], af[i], bf[j][0], bf[j][1]);

#if QG_WB == 4 && QG_AT == 2
            /* int4 x int8: flush at each scale-group end (groups of 32/64/128 k, or per channel
             * flushed per stage), with 1/16 for the x16 of the conversion */
            const int gsteps = glog >= 7 ? 4 : 1 << (glog - 5);
            if (((s + 1) & (gsteps - 1)) == 0) {
                const int gi = groups == 1 ? 0 : (kt * 128 + 32 * s) >> glog;
#pragma unroll
                for (int j = 0; j < NI; j++) {
                    const int n = min(n0 + wn0 + 8 * j + 2 * t, N - 1), n1 = min(n + 1, N - 1);
                    const float s0 = w_scale[(long long)n * groups + gi] * 0.0625f;
                    const float s1 = w_scale[(long long)n1 * groups + gi] * 0.0625f;
#pragma unroll
                    for (int i = 0; i < MI; i++) {
                        acc[i][j][0] += (float)part[i][j][0] * s0,
                            acc[i][j][1] += (float)part[i][j][1] * s1;
                        acc[i][j][2] += (float)part[i][j][2] * s0,
                            acc[i][j][3] += (float)part[i][j][3] * s1;
                        part[i][j][0] = part[i][j][1] = part[i][j][2] = part[i][j][3] = 0;
                    }
                }
            }
#endif
        }

#if QG_WB == 4 && QG_AT == 1
        /* group 128 == this stage */
#pragma unroll
        for (int j = 0; j < NI; j++) {
            const int n = min(n0 + wn0 + 8 * j + 2 * t, N - 1), n1 = min(n + 1, N - 1);
            const float s0 = w_scale[(long long)n * groups + kt],
                        s1 = w_scale[(long long)n1 * groups + kt];
#pragma unroll
            for (int i = 0; i < MI; i++) {
                acc[i][j][0] += part[i][j][0] * s0, acc[i][j][1] += part[i][j][1] * s1;
                acc[i][j][2] += part[i][j][2] * s0, acc[i][j][3] += part[i][j][3] * s1;
            }
        }
#elif QG_WB == 8 && PROMOTE
#pragma unroll
        for (int i = 0; i < MI; i++)
#pragma unroll
            for (int j = 0; j < NI; j++)
#pragma unroll
                for (int r = 0; r < 4; r++) acc[i][j][r] += part[i][j][r];
#endif
#undef ACC
    }
    qg_cp_async_wait<0>();

    qg_dyn_epi e;
    e.a_scale = a_scale;
    e.w_scale = QG_WB == 8 ? w_scale : (const float *)0;
    e.bias = bias;
    e.c = c;
    e.ldc = ldc;
    e.M = M, e.N = N, e.flags = flags;
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NI; j++) {
            const int m = m0 + wm0 + 16 * i + g, n = n0 + wn0 + 8 * j + 2 * t;
            qg_dyn_store2(e, m, n, (float)acc[i][j][0], (float)acc[i][j][1]);
            qg_dyn_store2(e, m + 8, n, (float)acc[i][j][2], (float)acc[i][j][3]);
        }
}

QG_DYN_KERNEL(qg_dyn_mma, __launch_bounds__(NT), qg_dyn_mma_body)
