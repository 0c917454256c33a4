#include "qg_prelude.cuh"

/*
 * 2:4 sparse GEMM with mma.sp::ordered_metadata (sm_80+, e4m3 sm_89+).
 *
 * The sparse operand of mma.sp is A (the M side), so the kernel computes the transposed product
 * C^T[n][m] = sum_k W[n][k] * A[m][k]: weights are the sparse mma "A" (16 weight rows per mma),
 * activations the dense mma "B" (8 tokens per mma); the epilogue writes C[m][n] row-major.
 *
 * Packed weight (docs/formats.md, "2:4 sparse"):
 *   values [N64][K/2] kept elements, row-major;
 *   meta   u32 words [N64/64][K/64][32 lanes][4 row-blocks of 16]: the word lane l passes to
 *          mma.sp for rows 64G+16rb.. and the 64 K columns of block k64.
 *
 * Each pipeline stage holds, per weight row, 64 bytes of compressed values (16-bit: 64 K,
 * 8-bit: 128 K), per token 128 bytes of activations (the same K), and the stage's metadata
 * words; it is consumed as two mma k-steps (16-bit m16n8k32, 8-bit m16n8k64). With K % 128 == 64
 * the last 8-bit stage's second step reads zero-filled values with the valid filler metadata
 * (indices 0,1), so it adds 0.
 *
 * Compile-time parameters (-D):
 *   QG_DT  element type: 1 f16, 2 bf16 (f32 accumulate), 3 e4m3 (f32), 4 s8 (s32)
 *   QG_TN  CTA tile of weight rows (N), multiple of 64     QG_TM  CTA tile of tokens (M)
 *   QG_WN  warps along N      QG_WM  warps along M         QG_ST  cp.async pipeline stages
 *   QG_SK  1: the launch may split K over gridDim.z (f32 workspace + per-tile counters)
 */

#if !defined(QG_DT) || !defined(QG_TN) || !defined(QG_TM) || !defined(QG_WN) || !defined(QG_WM) || \
    !defined(QG_ST) || !defined(QG_SK)
#error "sp24_mma needs QG_DT, QG_TN, QG_TM, QG_WN, QG_WM, QG_ST and QG_SK"
#endif

#define SP_THREADS (QG_WN * QG_WM * 32)
#include "sp24_common.cuh"
#include "tile_raster.cuh"
#include "ptx_ld_st.cuh"
#include "ptx_ldmatrix.cuh"
#include "ptx_mma.cuh"
#define SP_WTN (QG_TN / QG_WN) /* warp tile: weight rows */
#define SP_WTM (QG_TM / QG_WM) /* warp tile: tokens */
#define SP_FN (SP_WTN / 16)
#define SP_FM (SP_WTM / 8)

#if QG_TN % 64 != 0 || SP_WTN % 16 != 0 || SP_WTM % 8 != 0 || SP_FN < 1 || SP_FM < 1
#error "sp24_mma: bad tile parameters"
#endif

#if QG_DT == 4
typedef int sp_acc_t;
#else
typedef float sp_acc_t;
#endif

/* ---- mma.sp (ptx_mma.cuh): d += A(16 x K, 2:4 compressed) * B(K x 8); e = metadata word.
 * m16n8k32 (16-bit): our word layout puts k-step 0 in lanes%4 0,1 and k-step 1 in lanes%4 2,3,
 * so SEL is the k-step; m16n8k64 (8-bit) has one selector and ignores SEL. */
template <int SEL>
QG_DEVICE void sp_mma(sp_acc_t (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4], uint32_t e) {
#if QG_DT == 2
    qg_mma_sp_m16n8k32_bf16<SEL>(d, a, b, e);
#elif QG_DT == 1
    qg_mma_sp_m16n8k32_f16<SEL>(d, a, b, e);
#elif QG_DT == 3
    qg_mma_sp_m16n8k64_e4m3(d, a, b, e);
#else
    qg_mma_sp_m16n8k64_s8(d, a, b, e);
#endif
}

extern "C" __global__ void __launch_bounds__(SP_THREADS)
    qg_sp24_mma(const uint8_t *__restrict__ w,     /* [N64][K/2] kept values */
                const uint8_t *__restrict__ meta,  /* metadata words, see above */
                const float *__restrict__ w_scale, /* [N] (8-bit) or NULL */
                const uint8_t *__restrict__ a,     /* [M][lda] activations */
                const float *__restrict__ a_scale, /* [M] or [1] (8-bit) or NULL */
                const uint16_t *__restrict__ bias, /* [N] out dtype, or NULL */
                uint16_t *__restrict__ c,          /* [M][ldc] */
                float *__restrict__ ws,            /* split-K: [M][N] f32, zero between calls */
                unsigned *__restrict__ counters,   /* split-K: one per output tile, zero */
                int M, int N, int K, long long lda, long long ldc, int a_scale_stride, int out_bf16,
                int stages_per_split) {
#if QG_DT == 3 && __CUDA_ARCH__ >= 900 && QG_TM > 16
    /* sm_90 emulates e4m3 mma.sync through f16 and this tile would spill: the family refuses it
     * on cc 90 (the wgmma family runs there), so do not spend compile time on it. */
    __trap();
#else
    extern __shared__ __align__(128) uint8_t sp_smem[];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wn = warp % QG_WN, wm = warp / QG_WN;
    int mt, nt;
    qg_raster_tile(blockIdx.x, (M + QG_TM - 1) / QG_TM, (N + QG_TN - 1) / QG_TN, &mt, &nt);
    const int n0 = nt * QG_TN, m0 = mt * QG_TM;
    const int total_stages = (K + SP_KSTAGE - 1) / SP_KSTAGE;
    const int st_begin = blockIdx.z * stages_per_split;
    const int st_end = min(total_stages, st_begin + stages_per_split);
    const int nst = st_end - st_begin;
    const uint32_t smem0 = qg_smem_addr(sp_smem);

    sp_loader ld;
    sp_loader_init(ld, tid, w, meta, a, n0, m0, M, N, K, lda, st_begin);

    sp_acc_t acc[SP_FN][SP_FM][4];
#pragma unroll
    for (int f = 0; f < SP_FN; f++)
#pragma unroll
        for (int j = 0; j < SP_FM; j++)
#pragma unroll
            for (int i = 0; i < 4; i++) acc[f][j][i] = 0;

#pragma unroll
    for (int s = 0; s < QG_ST - 1; s++) {
        if (s < nst) sp_load_stage(ld, smem0 + s * SP_STAGE_BYTES, tid);
        qg_cp_async_commit();
    }

    /* Per-lane ldmatrix row/chunk selectors (see docs/formats.md for the fragment orders). */
    const int a_row = (lane & 7) + ((lane >> 3) & 1) * 8, a_ch = lane >> 4; /* + 2*ks */
    const int b_row = lane & 7, b_ch = lane >> 3;                           /* + 4*ks */
    /* This warp's metadata words: row-block rbi = wn*SP_FN + f -> group rbi/4, word rbi%4. */
    const int rb0 = wn * SP_FN;

    int slot = 0, wslot = QG_ST - 1; /* stage read this iteration / refilled this iteration */
    for (int it = 0; it < nst; it++) {
        qg_cp_async_wait<QG_ST - 2>();
        __syncthreads();
        if (it + QG_ST - 1 < nst) sp_load_stage(ld, smem0 + wslot * SP_STAGE_BYTES, tid);
        qg_cp_async_commit();
        wslot = wslot == QG_ST - 1 ? 0 : wslot + 1;
        const uint32_t sa = smem0 + slot * SP_STAGE_BYTES;
        const uint32_t sb = sa + SP_A_BYTES;
        const uint8_t *se = sp_smem + slot * SP_STAGE_BYTES + SP_A_BYTES + SP_B_BYTES;

        uint32_t e[SP_KB_STAGE][SP_FN];
#pragma unroll
        for (int kb = 0; kb < SP_KB_STAGE; kb++) {
#if SP_FN % 4 == 0 /* the warp covers whole 64-row groups: one 16-byte load per group */
#pragma unroll
            for (int f = 0; f < SP_FN; f += 4) {
                const qg_u32x4 v = *(
                    const qg_u32x4 *)(se + (((rb0 + f) / 4) * SP_KB_STAGE + kb) * 512 + lane * 16);
                e[kb][f] = v.x;
                e[kb][f + 1] = v.y;
                e[kb][f + 2] = v.z;
                e[kb][f + 3] = v.w;
            }
#else
#pragma unroll
            for (int f = 0; f < SP_FN; f++) {
                const int rbi = rb0 + f;
                e[kb][f] = *(const uint32_t *)(se + ((rbi / 4) * SP_KB_STAGE + kb) * 512 +
                                               lane * 16 + (rbi % 4) * 4);
            }
#endif
        }

#pragma unroll
        for (int ks = 0; ks < 2; ks++) {
            uint32_t af[SP_FN][4], bf[SP_FM][4];
#pragma unroll
            for (int f = 0; f < SP_FN; f++) {
                const int r = wn * SP_WTN + f * 16 + a_row;
                qg_ldmatrix_x4(sa + sp_a_off(r, 2 * ks + a_ch), af[f][0], af[f][1], af[f][2],
                               af[f][3]);
            }
#pragma unroll
            for (int j = 0; j < SP_FM; j++) {
                const int r = wm * SP_WTM + j * 8 + b_row;
                qg_ldmatrix_x4(sb + sp_b_off(r, 4 * ks + b_ch), bf[j][0], bf[j][1], bf[j][2],
                               bf[j][3]);
            }
#pragma unroll
            for (int f = 0; f < SP_FN; f++)
#pragma unroll
                for (int j = 0; j < SP_FM; j++) {
#if SP_16BIT
                    if (ks == 0) sp_mma<0>(acc[f][j], af[f], bf[j], e[0][f]);
                    else sp_mma<1>(acc[f][j], af[f], bf[j], e[0][f]);
#else
                    sp_mma<0>(acc[f][j], af[f], bf[j], e[ks][f]);
#endif
                }
        }
        slot = slot == QG_ST - 1 ? 0 : slot + 1;
    }
    qg_cp_async_wait<0>();

    /* ---- epilogue: C[m][n] = acc * w_scale[n] * a_scale[m] + bias[n] ---- */
    const int g = lane >> 2, t = lane & 3;
    float wsc[SP_FN][2], bsv[SP_FN][2], asc[SP_FM][2];
#pragma unroll
    for (int f = 0; f < SP_FN; f++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int n = n0 + wn * SP_WTN + f * 16 + g + 8 * h;
            wsc[f][h] = (!SP_16BIT && n < N) ? w_scale[n] : 1.0f;
            bsv[f][h] = (bias && n < N) ? qg_to_f32(bias[n], out_bf16 ? QG_DT_BF16 : QG_DT_F16)
                                        : 0.0f;
        }
#pragma unroll
    for (int j = 0; j < SP_FM; j++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int m = m0 + wm * SP_WTM + j * 8 + 2 * t + h;
            asc[j][h] = (!SP_16BIT && m < M) ? a_scale[(long long)m * a_scale_stride] : 1.0f;
        }

#if QG_SK
    if (gridDim.z > 1) {
        /* Split K: add the scaled partial sums into the f32 workspace; the last CTA of the tile
         * (arrival counter) adds the bias, writes C and leaves workspace and counter at zero. */
        __shared__ int sp_last;
#pragma unroll
        for (int f = 0; f < SP_FN; f++)
#pragma unroll
            for (int j = 0; j < SP_FM; j++)
#pragma unroll
                for (int i = 0; i < 4; i++) {
                    const int n = n0 + wn * SP_WTN + f * 16 + g + 8 * (i >> 1);
                    const int m = m0 + wm * SP_WTM + j * 8 + 2 * t + (i & 1);
                    if (n < N && m < M)
                        atomicAdd(ws + (long long)m * N + n,
                                  (float)acc[f][j][i] * wsc[f][i >> 1] * asc[j][i & 1]);
                }
        __threadfence();
        __syncthreads();
        unsigned *counter = counters + blockIdx.x; /* one per output tile */
        if (tid == 0) sp_last = atomicAdd(counter, 1u) == gridDim.z - 1;
        __syncthreads();
        if (!sp_last) return;
        __threadfence();
        for (int idx = tid; idx < QG_TM * QG_TN; idx += SP_THREADS) {
            const int r = idx / QG_TN, cc = idx % QG_TN;
            const int m = m0 + r, n = n0 + cc;
            if (m >= M || n >= N) continue;
            float *p = ws + (long long)m * N + n;
            float v = qg_ld_cg_f32(p);
            qg_st_cg_f32(p, 0.0f);
            if (bias) v += qg_to_f32(bias[n], out_bf16 ? QG_DT_BF16 : QG_DT_F16);
            c[(long long)m * ldc + n] = sp_to_out(v, out_bf16);
        }
        if (tid == 0) *counter = 0;
        return;
    }
#endif

    /* Stage the tile as 16-bit outputs in shared memory ([TM][TN + 8]), then write rows of C
     * with 16-byte stores (scalar ones where C is not 16-byte aligned or at the N edge). */
    __syncthreads(); /* every warp is done reading the pipeline buffers */
    uint16_t *cs = (uint16_t *)sp_smem;
#pragma unroll
    for (int f = 0; f < SP_FN; f++)
#pragma unroll
        for (int j = 0; j < SP_FM; j++)
#pragma unroll
            for (int i = 0; i < 4; i++) {
                const int nl = wn * SP_WTN + f * 16 + g + 8 * (i >> 1);
                const int ml = wm * SP_WTM + j * 8 + 2 * t + (i & 1);
                const float v = (float)acc[f][j][i] * wsc[f][i >> 1] * asc[j][i & 1] + bsv[f][i >> 1];
                cs[ml * SP_CPITCH + nl] = sp_to_out(v, out_bf16);
            }
    __syncthreads();
    sp_store_tile(cs, c, ldc, m0, n0, M, N, tid);
#endif
}
