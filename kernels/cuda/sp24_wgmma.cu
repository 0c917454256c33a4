#include "qg_prelude.cuh"

/*
 * 2:4 sparse GEMM with sparse wgmma (wgmma.mma_async.sp, sm_90a only).
 *
 * Same transposed product and packed format as sp24_mma.cu (docs/formats.md, "2:4 sparse"):
 * weights are the sparse wgmma operand A (64 weight rows per instruction, from shared memory by
 * descriptor), activations the dense operand B (QG_TM = 128 or 192 tokens per instruction); the
 * metadata word a lane passes is exactly the packed word for its warp's 16 rows (warp w of a
 * warpgroup supplies rows 16w..16w+15, the same register layout as mma.sp).
 *
 * Shared memory per stage is the sp24_mma layout, which is the canonical K-major swizzled layout
 * of wgmma: weight rows of 64 B (SW64 atoms of 8 rows x 64 B, chunk ^= (row/2)%4) and token rows
 * of 128 B (SW128 atoms of 8 x 128 B, chunk ^= row%8). A stage is two k-steps (16-bit: k32,
 * 8-bit: k64; with K % 128 == 64 the last 8-bit stage's second step sees zero-filled values and
 * the valid filler metadata, so it adds 0). Loads are cp.async issued by all threads.
 *
 * The sparse wgmma reads its metadata register while it executes, not when it is issued, and
 * ptxas does not keep that register alive until the wgmma retires: it reuses it for the next
 * instructions (H100: pipelining one wgmma group across the next stage's loads gave rel. errors
 * of 0.04-0.6; CUTLASS's sparse sm90 mainloops likewise keep no wgmma in flight,
 * K_PIPE_MMAS = 0). So every group of wgmmas is waited for (wait_group 0) right after its
 * commit, with no other instruction in between. To amortize that drain, one barrier / wait
 * covers QG_SG stages (QG_SG x 2 k-steps per warpgroup and m64 block).
 *
 * e4m3: the tensor cores accumulate fp8 products with reduced precision, so each group's sum
 * goes to fresh registers (scale-d = 0) and is added to the f32 accumulators afterwards (with
 * QG_TN = 128 only: two sets of 64 accumulators).
 *
 * Compile-time parameters: QG_DT (1 f16, 2 bf16, 3 e4m3, 4 s8), QG_TN (128 or 256 weight rows:
 * two warpgroups of 64 or 128 rows), QG_TM (128 or 192 tokens), QG_ST (stage slots), QG_SG
 * (stages per barrier and wgmma group; divides QG_ST, QG_ST / QG_SG >= 2).
 */

#if !defined(QG_DT) || !defined(QG_TN) || !defined(QG_TM) || !defined(QG_ST) || !defined(QG_SG)
#error "sp24_wgmma needs QG_DT, QG_TN, QG_TM, QG_ST and QG_SG"
#endif

#if (QG_TM != 128 && QG_TM != 192) || (QG_TN != 128 && QG_TN != 256) || QG_ST % QG_SG != 0 || \
    QG_ST / QG_SG < 2
#error "sp24_wgmma: unsupported tile"
#endif
#if QG_DT == 3 && QG_TN != 128
#error "sp24_wgmma: e4m3 promotes partial sums, which needs QG_TN == 128 (registers)"
#endif

#define SP_THREADS 256 /* two warpgroups */
#include "sp24_common.cuh"
#include "tile_raster.cuh"
#include "wgmma_regs.cuh"
#include "ptx_fence.cuh"
#include "ptx_wgmma.cuh"
#define SW_WGM (QG_TN / 128)  /* m64 blocks per warpgroup */
#define SW_NACC (QG_TM / 2)   /* accumulators per thread per m64 block */
#define SW_NG (QG_ST / QG_SG) /* slot groups */
#define SW_DIST (SW_NG - 1)   /* groups loaded ahead of the one computed */

#if QG_DT == 4
typedef int sw_acc_t;
#else
typedef float sw_acc_t;
#endif

/* Shared memory matrix descriptor: K-major, swizzled (LBO unused = 1), SBO = 8-row stride. */
QG_DEVICE uint64_t sw_desc(uint32_t saddr, uint32_t sbo_bytes, uint32_t swizzle) {
    return (uint64_t)((saddr & 0x3FFFFu) >> 4) | ((uint64_t)1 << 16) |
           ((uint64_t)(sbo_bytes >> 4) << 32) | ((uint64_t)swizzle << 62);
}
#define SW_SWIZZLE_128B 1u
#define SW_SWIZZLE_64B 2u

/* d[QG_TM/2] = A(64 x K, 2:4, smem) * B(K x QG_TM, smem) + (accumulate ? d : 0); e = this lane's
 * metadata word, SEL the sparsity selector (16-bit: thread pair; 8-bit: 0). */
#if QG_TM == 128
#define SW_NSTR "128"
#else
#define SW_NSTR "192"
#endif
#if SP_16BIT
#if QG_DT == 2
#define SW_AB "bf16"
#else
#define SW_AB "f16"
#endif
#define SW_INSTR "wgmma.mma_async.sp.sync.aligned.m64n" SW_NSTR "k32.f32." SW_AB "." SW_AB
#define SW_TAIL "p, 1, 1, 0, 0;"
#define SW_C(x) "+f"(x)
#elif QG_DT == 3
#define SW_INSTR "wgmma.mma_async.sp.sync.aligned.m64n" SW_NSTR "k64.f32.e4m3.e4m3"
#define SW_TAIL "p, 1, 1;"
#define SW_C(x) "+f"(x)
#else
#define SW_INSTR "wgmma.mma_async.sp.sync.aligned.m64n" SW_NSTR "k64.s32.s8.s8"
#define SW_TAIL "p;"
#define SW_C(x) "+r"(x)
#endif

#if QG_TM == 128
#define SW_REGS QG_WG_REGS64
#define SW_OPS(d) QG_WG_OPS64(SW_C, d)
#define SW_ARGS "%64, %65, %66, %67, "
#define SW_FLAG "%68"
#else
#define SW_REGS QG_WG_REGS96
#define SW_OPS(d) QG_WG_OPS96(SW_C, d)
#define SW_ARGS "%96, %97, %98, %99, "
#define SW_FLAG "%100"
#endif
template <int SEL>
QG_DEVICE void sw_mma(sw_acc_t (&d)[SW_NACC], uint64_t da, uint64_t db, uint32_t e, int accumulate) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " SW_FLAG ", 0;\n" SW_INSTR " {" SW_REGS
                 "}, " SW_ARGS SW_TAIL "\n}"
                 : SW_OPS(d)
                 : "l"(da), "l"(db), "r"(e), "n"(SEL), "r"(accumulate));
}

extern "C" __global__ void __launch_bounds__(SP_THREADS, 1)
    qg_sp24_wgmma(const uint8_t *__restrict__ w, const uint8_t *__restrict__ meta,
                  const float *__restrict__ w_scale, const uint8_t *__restrict__ a,
                  const float *__restrict__ a_scale, const uint16_t *__restrict__ bias,
                  uint16_t *__restrict__ c, int M, int N, int K, long long lda, long long ldc,
                  int a_scale_stride, int out_bf16) {
    extern __shared__ __align__(1024) uint8_t sw_smem_raw[];
    /* Swizzle patterns are anchored on absolute shared addresses: align the base to 1024. */
    const uint32_t raw0 = qg_smem_addr(sw_smem_raw);
    const uint32_t smem0 = (raw0 + 1023u) & ~1023u;
    uint8_t *smem = sw_smem_raw + (smem0 - raw0);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wg = warp >> 2, wl = warp & 3;
    int mt, nt;
    qg_raster_tile(blockIdx.x, (M + QG_TM - 1) / QG_TM, (N + QG_TN - 1) / QG_TN, &mt, &nt);
    const int n0 = nt * QG_TN, m0 = mt * QG_TM;
    const int nst = (K + SP_KSTAGE - 1) / SP_KSTAGE;
    sp_loader ld;
    sp_loader_init(ld, tid, w, meta, a, n0, m0, M, N, K, lda, 0);

    /* Non-e4m3: accumulators start undefined, the first wgmma runs with scale-d = 0. */
    sw_acc_t acc[SW_WGM][SW_NACC];
#if QG_DT == 3
    sw_acc_t part[SW_NACC]; /* one group's fp8 partial sums, promoted into acc */
#pragma unroll
    for (int i = 0; i < SW_NACC; i++) acc[0][i] = 0.0f;
#endif

    /* Group j (stages j*QG_SG ..) lives in slot group j % SW_NG. Iteration j refills the slot
     * group read in iteration j - 1: every warpgroup waited for its wgmmas before the barrier.
     * Stages past the end are loaded as zeros with filler metadata (they add 0). */
    const int ngrp = (nst + QG_SG - 1) / QG_SG;
#pragma unroll
    for (int g = 0; g < SW_DIST; g++) {
        if (g < ngrp)
#pragma unroll
            for (int s = 0; s < QG_SG; s++)
                sp_load_stage(ld, smem0 + (g * QG_SG + s) * SP_STAGE_BYTES, tid);
        qg_cp_async_commit();
    }
    int slot = 0, wslot = SW_DIST; /* slot group read / refilled this iteration */
    for (int j = 0; j < ngrp; j++) {
        qg_cp_async_wait<SW_DIST - 1>();
        qg_fence_proxy_async(); /* cp.async -> wgmma reads */
        __syncthreads();
        if (j + SW_DIST < ngrp)
#pragma unroll
            for (int s = 0; s < QG_SG; s++)
                sp_load_stage(ld, smem0 + (wslot * QG_SG + s) * SP_STAGE_BYTES, tid);
        qg_cp_async_commit();
        wslot = wslot == SW_NG - 1 ? 0 : wslot + 1;
        const uint32_t gbase = smem0 + slot * QG_SG * SP_STAGE_BYTES;
        const uint8_t *gsm = smem + slot * QG_SG * SP_STAGE_BYTES;
        /* Metadata words: this lane's word of warp wl's 16 rows, per stage, m64 block, K block. */
        uint32_t e[QG_SG][SW_WGM][SP_KB_STAGE];
#pragma unroll
        for (int s = 0; s < QG_SG; s++)
#pragma unroll
            for (int i = 0; i < SW_WGM; i++)
#pragma unroll
                for (int kb = 0; kb < SP_KB_STAGE; kb++)
                    e[s][i][kb] = *(const uint32_t *)(gsm + s * SP_STAGE_BYTES + SP_A_BYTES +
                                                      SP_B_BYTES +
                                                      ((wg * SW_WGM + i) * SP_KB_STAGE + kb) * 512 +
                                                      lane * 16 + wl * 4);
        uint64_t da[QG_SG][2][SW_WGM], db[QG_SG][2];
#pragma unroll
        for (int s = 0; s < QG_SG; s++)
#pragma unroll
            for (int ks = 0; ks < 2; ks++) {
                const uint32_t sa = gbase + s * SP_STAGE_BYTES, sb = sa + SP_A_BYTES;
                db[s][ks] = sw_desc(sb + ks * 64, 1024, SW_SWIZZLE_128B);
#pragma unroll
                for (int i = 0; i < SW_WGM; i++)
                    da[s][ks][i] = sw_desc(sa + (wg * SW_WGM + i) * 64 * 64 + ks * 32, 512,
                                           SW_SWIZZLE_64B);
            }
        qg_wgmma_fence();
#pragma unroll
        for (int s = 0; s < QG_SG; s++)
#pragma unroll
            for (int ks = 0; ks < 2; ks++)
#pragma unroll
                for (int i = 0; i < SW_WGM; i++) {
#if QG_DT == 3
                    sw_mma<0>(part, da[s][ks][i], db[s][ks], e[s][i][ks], s > 0 || ks > 0);
#elif SP_16BIT
                    if (ks == 0)
                        sw_mma<0>(acc[i], da[s][ks][i], db[s][ks], e[s][i][0], j > 0 || s > 0);
                    else sw_mma<1>(acc[i], da[s][ks][i], db[s][ks], e[s][i][0], 1);
#else
                    sw_mma<0>(acc[i], da[s][ks][i], db[s][ks], e[s][i][ks], j > 0 || s > 0 || ks > 0);
#endif
                }
        qg_wgmma_commit();
        qg_wgmma_wait<0>(); /* nothing between commit and wait: see the header comment */
#if QG_DT == 3
        qg_wgmma_pin(part);
#pragma unroll
        for (int i = 0; i < SW_NACC; i++) acc[0][i] += part[i];
#endif
        slot = slot == SW_NG - 1 ? 0 : slot + 1;
    }
#pragma unroll
    for (int i = 0; i < SW_WGM; i++) qg_wgmma_pin(acc[i]);
    qg_cp_async_wait<0>();

    /* Epilogue: C[m][n] = acc * w_scale[n] * a_scale[m] + bias[n], staged as [TM][TN+8] halves.
     * The tile's a_scale values go through shared memory (after the staging area) so that the
     * unrolled loop below does not hold them all in registers. */
    __syncthreads();
    uint16_t *cs = (uint16_t *)smem;
    float *as_s = (float *)(smem + QG_TM * SP_CPITCH * 2);
    if (!SP_16BIT && tid < QG_TM)
        as_s[tid] = m0 + tid < M ? a_scale[(long long)(m0 + tid) * a_scale_stride] : 0.0f;
    __syncthreads();
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int i = 0; i < SW_WGM; i++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int nl = (wg * SW_WGM + i) * 64 + wl * 16 + g + 8 * h, n = n0 + nl;
            const float ws = (!SP_16BIT && n < N) ? w_scale[n] : 1.0f;
            const float bv = (bias && n < N) ? qg_to_f32(bias[n], out_bf16 ? QG_DT_BF16 : QG_DT_F16)
                                             : 0.0f;
#pragma unroll
            for (int j = 0; j < SW_NACC / 4; j++)
#pragma unroll
                for (int u = 0; u < 2; u++) {
                    const int ml = 8 * j + 2 * t + u;
                    const float as = SP_16BIT ? 1.0f : as_s[ml];
                    cs[ml * SP_CPITCH + nl] =
                        sp_to_out((float)acc[i][4 * j + 2 * h + u] * ws * as + bv, out_bf16);
                }
        }
    __syncthreads();
    sp_store_tile(cs, c, ldc, m0, n0, M, N, tid);
}
