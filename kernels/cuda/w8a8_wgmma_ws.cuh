/*
 * W8A8 GEMM for sm_90a, warp-specialized: TMA -> smem ring with mbarriers -> wgmma, persistent.
 * e4m3 x e4m3 -> f32 (QG_AT 1) or s8 x s8 -> s32 (QG_AT 2); C = a_scale[m] * w_scale[n] * acc
 * (+ bias[n]) in bf16/f16 (docs/formats.md, W8A8).
 *
 * CTA = 3 warpgroups, one CTA per SM, grid = min(tiles, SMs); CTA b computes the 128 x QG_BN
 * tiles b, b + grid, ... in grouped order (w8a8_ws_layout.cuh).
 *  - warpgroup 2, the producer, gives registers back (setmaxnreg.dec to QG_WS_PRODUCER_REGS);
 *    one thread loops over the CTA's tiles and K blocks of 128 bytes: wait empty[s] ->
 *    arrive.expect_tx(full[s], stage bytes) -> two TMA box loads (A {128 B, 128 rows}, W {128 B,
 *    QG_BN rows}, 128-byte swizzle; out-of-bounds rows/columns arrive as zeros, which handles
 *    M, N and K tails).
 *  - warpgroups 0 and 1, the consumers (setmaxnreg.inc to QG_WS_CONSUMER_REGS), own rows 0-63 /
 *    64-127 of the tile: wait full[s] -> 4 wgmma m64nNk32 (K = 4 x 32 bytes) -> release the
 *    stage (one mbarrier arrival per warp, 8 in all) once their wgmmas have read it.
 *    s8: accumulates in s32 registers (exact), keeping one wgmma group in flight (the stage
 *    read by group kb-1 is released after issuing group kb).
 *    e4m3: the tensor core accumulates fp8 products with ~14-bit precision, so each stage's sum
 *    goes to a partial `part` (scale-d 0 at its first k-step) and is added into f32 registers:
 *    promotion every 128 k. QG_BN 256 would need 128 + 128 registers; it promotes in two
 *    128-column halves instead (two wgmma batches per stage).
 *  - epilogue straight from registers: scales, bias, bf16/f16 pairs, a quad transpose so each
 *    lane holds 8 contiguous columns, 16-byte stores when C's rows are 16-byte aligned (flag
 *    QG_DYN_VEC16_STORE), masked 2-byte stores at the N edge and otherwise. The producer keeps
 *    loading the next tile's stages meanwhile.
 *
 * Split-K (QG_SK 1; for grids of fewer tiles than SMs, e.g. M <= 512 on Llama's qkv and down):
 * the work is tiles x `splits` units of kb_per_split K blocks each, handed out as the tiles are.
 * A unit's consumers store their accumulators (f32, or s32 bits) in fragment order into its
 * slot of the workspace, count the tile's arrivals, and the last unit to arrive sums every slot
 * in slice order (deterministic; its own included) and runs the epilogue; it zeroes the slots
 * and the counter behind it, so the workspace is left as it was found (zero).
 *
 * Compile-time parameters: QG_BN (128, 192, 256), QG_ST (stages), QG_SK (0 or 1). Kernel
 * arguments: the two tensor maps (CUtensorMap, built on the host per launch by
 * family_w8a8_wgmma_ws.c) as __grid_constant__ parameters, then w_scale, a_scale, bias, c, ldc,
 * M, N, K, group_m, flags; with QG_SK also sk_part, sk_count, splits, kb_per_split.
 */
#pragma once
#include "qg_prelude.cuh"
#include "w8a8_dyn.cuh"
#include "w8a8_ws_layout.cuh"
#include "w8a8_wgmma_ops.cuh"
#include "ptx_fence.cuh"
#include "ptx_mbarrier.cuh"
#include "ptx_setmaxnreg.cuh"
#include "ptx_tma.cuh"
#include "ptx_wgmma.cuh"

#if !defined(QG_BN) || !defined(QG_ST) || !defined(QG_SK)
#error "w8a8_wgmma_ws.cuh needs QG_BN, QG_ST and QG_SK"
#endif
#if QG_BN % 32 != 0 || QG_BN > 256
#error "QG_BN must be a multiple of 32, at most 256"
#endif

#define WS_CAT2(a, b) a##b
#define WS_CAT(a, b) WS_CAT2(a, b)
#define WS_MMA_BN WS_CAT(wg_mma_n, QG_BN)
/* Width of one promoted partial sum (fp8); s8 accumulates the whole tile in place. */
#define WS_PN QG_WS_PN(QG_BN, QG_AT != 2)
#if WS_PN == QG_BN
#define WS_MMA_PN WS_MMA_BN
#elif WS_PN == 128
#define WS_MMA_PN wg_mma_n128
#else
#error "unexpected promotion width"
#endif

/* ---- epilogue ---- */

/* Lane t of each quad: x[j] = pair (8j + 2t, +1) of blocks 0..3 -> block t whole. */
QG_DEVICE void ws_quad_transpose(uint32_t x[4], int lane) {
    const int t = lane & 3, quad = lane & ~3;
    uint32_t y0 = 0, y1 = 0, y2 = 0, y3 = 0;
#pragma unroll
    for (int r = 0; r < 4; r++) {
        const int si = qg_ws_xpose_send(t, r);
        const uint32_t v = si == 0 ? x[0] : si == 1 ? x[1] : si == 2 ? x[2] : x[3];
        const uint32_t got = r == 0 ? v : __shfl_sync(0xffffffffu, v, quad | qg_ws_xpose_src(t, r));
        const int di = qg_ws_xpose_dst(t, r);
        y0 = di == 0 ? got : y0;
        y1 = di == 1 ? got : y1;
        y2 = di == 2 ? got : y2;
        y3 = di == 3 ? got : y3;
    }
    x[0] = y0, x[1] = y1, x[2] = y2, x[3] = y3;
}

/* 8 output elements (words w[0..3], low half first) at (row, col..col+7). */
QG_DEVICE void ws_store8(uint16_t *c, long long ldc, int M, int N, int row, int col,
                         const uint32_t w[4], int flags) {
    if (row >= M || col >= N) return;
    uint16_t *p = c + (long long)row * ldc + col;
    if ((flags & QG_DYN_VEC16_STORE) && col + 8 <= N) {
        qg_u32x4 v;
        v.x = w[0], v.y = w[1], v.z = w[2], v.w = w[3];
        *(qg_u32x4 *)p = v;
    } else {
#pragma unroll
        for (int j = 0; j < 8; j++)
            if (col + j < N) p[j] = (uint16_t)(w[j >> 1] >> (16 * (j & 1)));
    }
}

QG_DEVICE uint32_t ws_pack(float lo, float hi, int flags) {
    return (flags & QG_DYN_OUT_F16) ? qg_pack_f16x2(lo, hi) : qg_pack_bf16x2(lo, hi);
}

/* Rows m0 + 64*wg + (16 warp + lane/4, +8); columns n0.. as in qg_ws_acc_col. */
QG_DEVICE void ws_epilogue(const qg_acc_t *acc, int m0, int n0, int wg, int warp, int lane,
                           const float *__restrict__ w_scale, const float *__restrict__ a_scale,
                           const uint16_t *__restrict__ bias, uint16_t *__restrict__ c,
                           long long ldc, int M, int N, int flags) {
    const int r0 = m0 + 64 * wg + qg_ws_acc_row(warp, lane, 0);
    const int r1 = m0 + 64 * wg + qg_ws_acc_row(warp, lane, 2);
    const int a_t = flags & QG_DYN_A_PER_TENSOR;
    const float sa0 = r0 < M ? a_scale[a_t ? 0 : r0] : 0.f;
    const float sa1 = r1 < M ? a_scale[a_t ? 0 : r1] : 0.f;
    const float sw_t = (flags & QG_DYN_W_PER_TENSOR) ? w_scale[0] : 0.f;
#pragma unroll
    for (int g = 0; g < QG_BN / 32; g++) {
        uint32_t x0[4], x1[4];
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int i = 4 * (4 * g + j); /* first accumulator of 8-column block 4g+j */
            const int n = n0 + qg_ws_acc_col(lane, i);
            float s0 = sw_t, s1 = sw_t, b0 = 0.f, b1 = 0.f;
            if (!(flags & QG_DYN_W_PER_TENSOR)) {
                s0 = n < N ? w_scale[n] : 0.f;
                s1 = n + 1 < N ? w_scale[n + 1] : 0.f;
            }
            if (flags & QG_DYN_BIAS) {
                b0 = n < N ? qg_dyn_out_f32(bias[n], flags) : 0.f;
                b1 = n + 1 < N ? qg_dyn_out_f32(bias[n + 1], flags) : 0.f;
            }
            x0[j] = ws_pack((float)acc[i] * (sa0 * s0) + b0, (float)acc[i + 1] * (sa0 * s1) + b1,
                            flags);
            x1[j] = ws_pack((float)acc[i + 2] * (sa1 * s0) + b0,
                            (float)acc[i + 3] * (sa1 * s1) + b1, flags);
        }
        ws_quad_transpose(x0, lane);
        ws_quad_transpose(x1, lane);
        const int col = n0 + qg_ws_store_col(lane, g);
        ws_store8(c, ldc, M, N, r0, col, x0, flags);
        ws_store8(c, ldc, M, N, r1, col, x1, flags);
    }
}

#if QG_SK
#include "ptx_bar.cuh"
#include "ptx_ld_st.cuh"
/* Split-K: store this unit's accumulators (consumer thread ctid of 256) in fragment order into
 * slot (tile, slice), count the tile's arrivals; the last unit sums every slot in slice order
 * into acc, zeroing them, and returns 1 (the others return 0 and skip the epilogue). s_last:
 * one shared int. */
QG_DEVICE int ws_sk_reduce(qg_acc_t *acc, float *__restrict__ part, unsigned *__restrict__ count,
                           int tile, int slice, int splits, int ctid, volatile int *s_last) {
    const long long slot = (long long)(QG_BN / 2) * 256;
    float *mine = part + ((long long)tile * splits + slice) * slot + ctid;
#pragma unroll
    for (int i = 0; i < QG_BN / 2; i++)
        qg_st_cg_f32(mine + 256 * i, __uint_as_float(*(uint32_t *)&acc[i]));
    __threadfence();
    qg_bar_named_sync(1, 256);
    if (ctid == 0) {
        const unsigned prev = atomicAdd(&count[tile], 1u);
        *s_last = prev == (unsigned)(splits - 1);
        if (*s_last) count[tile] = 0; /* every unit of the tile has arrived: reset for next time */
    }
    qg_bar_named_sync(1, 256);
    if (!*s_last) return 0;
    __threadfence();
#pragma unroll
    for (int i = 0; i < QG_BN / 2; i++) acc[i] = 0;
    for (int sl = 0; sl < splits; sl++) {
        float *src = part + ((long long)tile * splits + sl) * slot + ctid;
#pragma unroll
        for (int i = 0; i < QG_BN / 2; i++) {
            const float v = qg_ld_cg_f32(src + 256 * i);
            qg_st_cg_f32(src + 256 * i, 0.f); /* the workspace is left zero */
#if QG_AT == 2
            acc[i] += (int)__float_as_uint(v); /* exact: the s32 sums */
#else
            acc[i] += v;
#endif
        }
    }
    return 1;
}
#endif

/* ---- the kernel ---- */

extern "C" __global__ void __launch_bounds__(QG_WS_THREADS, 1)
    qg_w8a8_wgmma_ws(const __grid_constant__ qg_tensor_map tmap_a,
                     const __grid_constant__ qg_tensor_map tmap_w,
                     const float *__restrict__ w_scale, const float *__restrict__ a_scale,
                     const uint16_t *__restrict__ bias, uint16_t *__restrict__ c, long long ldc,
                     int M, int N, int K, int group_m, int flags
#if QG_SK
                     ,
                     float *__restrict__ sk_part, unsigned *__restrict__ sk_count, int splits,
                     int kb_per_split
#endif
    ) {
    extern __shared__ __align__(1024) uint8_t ws_smem[];
    /* the launcher adds QG_WS_SLACK bytes: align the ring to a swizzle pattern (1024 B) */
    const uint32_t base = (qg_smem_addr(ws_smem) + 1023u) & ~1023u;
    const int tid = threadIdx.x, wg = tid >> 7;
    const int tiles_m = (M + QG_WS_BM - 1) / QG_WS_BM, tiles_n = (N + QG_BN - 1) / QG_BN;
    const int tiles = tiles_m * tiles_n;
    const int nk = (K + QG_WS_BK - 1) / QG_WS_BK;

    if (tid == 0) {
#pragma unroll
        for (int s = 0; s < QG_ST; s++) {
            qg_mbar_init(base + qg_ws_bar_full(QG_BN, QG_ST, s), 1);
            qg_mbar_init(base + qg_ws_bar_empty(QG_BN, QG_ST, s), QG_WS_EMPTY_ARRIVALS);
        }
        /* make the initialised barriers visible to the other threads and to the async proxy */
        qg_mbar_init_fence();
        qg_fence_proxy_async();
    }
    __syncthreads();

    if (wg == QG_WS_CONSUMERS) {
        /* producer: one thread issuing TMA needs few registers */
        qg_setmaxnreg_dec<QG_WS_PRODUCER_REGS>();
        if (tid == 128 * QG_WS_CONSUMERS) {
            qg_tma_prefetch_map(&tmap_a);
            qg_tma_prefetch_map(&tmap_w);
            int s = 0;
            uint32_t phase = 0;
#if QG_SK
            for (int u = blockIdx.x; u < tiles * splits; u += gridDim.x) {
                const int tile = u / splits, kb0 = (u % splits) * kb_per_split;
                const int kb1 = min(nk, kb0 + kb_per_split);
#else
            for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
                const int kb0 = 0, kb1 = nk;
#endif
                int mb, nb;
                qg_ws_tile(tile, tiles_m, tiles_n, group_m, &mb, &nb);
                for (int kb = kb0; kb < kb1; kb++) {
                    /* a fresh barrier counts as completed for parity 1: the first pass runs */
                    qg_mbar_wait_c_loop(base + qg_ws_bar_empty(QG_BN, QG_ST, s), phase ^ 1);
                    const uint32_t full = base + qg_ws_bar_full(QG_BN, QG_ST, s);
                    qg_mbar_arrive_expect_tx(full, qg_ws_stage_bytes(QG_BN));
                    qg_tma_load_2d(base + qg_ws_stage_a(QG_BN, s), &tmap_a, kb * QG_WS_BK,
                                   mb * QG_WS_BM, full);
                    qg_tma_load_2d(base + qg_ws_stage_b(QG_BN, s), &tmap_w, kb * QG_WS_BK,
                                   nb * QG_BN, full);
                    if (++s == QG_ST) s = 0, phase ^= 1;
                }
            }
        }
        return;
    }

    /* consumers */
    qg_setmaxnreg_inc<QG_WS_CONSUMER_REGS>();
    const int warp = (tid >> 5) & 3, lane = tid & 31;
    const uint32_t a_off = qg_ws_a_wg_offset(wg);
    int s = 0;
    uint32_t phase = 0;
    qg_acc_t acc[QG_BN / 2];
#if QG_AT != 2
    qg_acc_t part[WS_PN / 2];
#endif
#if QG_SK
    for (int u = blockIdx.x; u < tiles * splits; u += gridDim.x) {
        const int tile = u / splits, slice = u % splits, kb0 = slice * kb_per_split;
        const int kb1 = min(nk, kb0 + kb_per_split);
#else
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const int kb0 = 0, kb1 = nk;
#endif
        int mb, nb;
        qg_ws_tile(tile, tiles_m, tiles_n, group_m, &mb, &nb);
#if QG_AT == 2
        int prev = 0;
        for (int kb = kb0; kb < kb1; kb++) {
            qg_mbar_wait_c_loop(base + qg_ws_bar_full(QG_BN, QG_ST, s), phase);
            const uint64_t da = qg_ws_desc(base + qg_ws_stage_a(QG_BN, s) + a_off);
            const uint64_t db = qg_ws_desc(base + qg_ws_stage_b(QG_BN, s));
            qg_wgmma_fence();
#pragma unroll
            for (int j = 0; j < QG_WS_BK / QG_WS_KSTEP; j++)
                WS_MMA_BN(acc, qg_ws_desc_k(da, j), qg_ws_desc_k(db, j), kb > kb0 || j > 0);
            qg_wgmma_commit();
            /* group kb-1 has finished reading its stage: hand that stage back */
            qg_wgmma_wait<1>();
            if (kb > kb0 && lane == 0) qg_mbar_arrive(base + qg_ws_bar_empty(QG_BN, QG_ST, prev));
            prev = s;
            if (++s == QG_ST) s = 0, phase ^= 1;
        }
        qg_wgmma_wait<0>();
        if (lane == 0) qg_mbar_arrive(base + qg_ws_bar_empty(QG_BN, QG_ST, prev));
#pragma unroll
        for (int i = 0; i < QG_BN / 2; i++) qg_wgmma_pin(acc[i]);
#else
#pragma unroll
        for (int i = 0; i < QG_BN / 2; i++) acc[i] = 0.f;
        for (int kb = kb0; kb < kb1; kb++) {
            qg_mbar_wait_c_loop(base + qg_ws_bar_full(QG_BN, QG_ST, s), phase);
            const uint64_t da = qg_ws_desc(base + qg_ws_stage_a(QG_BN, s) + a_off);
#pragma unroll
            for (int h = 0; h < QG_BN / WS_PN; h++) {
                const uint64_t db = qg_ws_desc(base + qg_ws_stage_b(QG_BN, s) +
                                               qg_ws_b_chunk_offset(WS_PN, h));
                qg_wgmma_fence();
#pragma unroll
                for (int j = 0; j < QG_WS_BK / QG_WS_KSTEP; j++)
                    WS_MMA_PN(part, qg_ws_desc_k(da, j), qg_ws_desc_k(db, j), j > 0);
                qg_wgmma_commit();
                qg_wgmma_wait<0>();
                /* the adds below must not be scheduled above the wait */
#pragma unroll
                for (int i = 0; i < WS_PN / 2; i++) qg_wgmma_pin(part[i]);
#pragma unroll
                for (int i = 0; i < WS_PN / 2; i++) acc[h * (WS_PN / 2) + i] += part[i];
            }
            if (lane == 0) qg_mbar_arrive(base + qg_ws_bar_empty(QG_BN, QG_ST, s));
            if (++s == QG_ST) s = 0, phase ^= 1;
        }
#endif
#if QG_SK
        /* one int past the barriers (the launcher adds QG_WS_SK_EXTRA bytes) */
        volatile int *s_last = (volatile int *)(ws_smem + (base - qg_smem_addr(ws_smem)) +
                                                qg_ws_sk_flag(QG_BN, QG_ST));
        if (splits > 1 &&
            !ws_sk_reduce(acc, sk_part, sk_count, tile, slice, splits, tid & 255, s_last))
            continue;
#endif
        ws_epilogue(acc, mb * QG_WS_BM, nb * QG_BN, wg, warp, lane, w_scale, a_scale, bias, c, ldc,
                    M, N, flags);
    }
}
