/*
 * W8A8 GEMM with wgmma for sm_90a (e4m3 x e4m3 -> f32, or s8 x s8 -> s32), for prefill.
 *
 * A simple, correct first version: a CTA of QG_WG consumer warpgroups computes a (64*QG_WG) x QG_BN
 * tile; every thread issues cp.async copies of the A and B tiles (K in stages of 128 bytes,
 * QG_ST stages in flight) into shared memory laid out exactly as TMA's 128-byte swizzle would
 * (16-byte unit u of row r at unit u ^ (r & 7), stage buffers 1024-byte aligned), which is the
 * K-major SWIZZLE_128B layout wgmma's descriptors describe (8-bit wgmma is K-major only). Per
 * stage each warpgroup runs four m64nBNk32 wgmmas on descriptors advanced by 32 bytes along K.
 * e4m3 partial sums of a stage are promoted into f32 registers (tensor-core fp8 accumulation
 * keeps ~14 bits); s8 accumulates in s32 directly. No TMA / mbarriers / warp specialization yet.
 *
 * Ordering: cp.async.wait_group -> fence.proxy.async (generic-proxy smem writes made visible to
 * the async proxy that wgmma reads through) -> __syncthreads -> wgmma.fence -> wgmma x4 ->
 * commit -> wait_group 0 (before the buffer is refilled).
 */
#pragma once
#include "qg_prelude.cuh"
#include "ptx_cp_async.cuh"
#include "tile_raster.cuh"
#include "w8a8_dyn.cuh"
#include "w8a8_wgmma_ops.cuh"
#include "ptx_fence.cuh"
#include "ptx_wgmma.cuh"

#if !defined(QG_BN) || !defined(QG_WG) || !defined(QG_ST)
#error "w8a8_wgmma.cuh needs QG_BN, QG_WG and QG_ST"
#endif

#define BM (64 * QG_WG)
#define NT (128 * QG_WG)
#define A_STAGE (BM * 128)
#define B_STAGE (QG_BN * 128)
#define NACC (QG_BN / 2)

#if QG_BN == 64
#define WG_MMA wg_mma_n64
#elif QG_BN == 128
#define WG_MMA wg_mma_n128
#else
#define WG_MMA wg_mma_n256
#endif

/* K-major, 128-byte swizzle: start >> 4, LBO unused (1), SBO = 1024 bytes (8 rows x 128 B),
 * base offset 0 (1024-aligned tiles), layout type 1 (SWIZZLE_128B) in bits 62-63. */
QG_DEVICE uint64_t wg_desc(uint32_t smem_addr) {
    return (uint64_t)((smem_addr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) |
           ((uint64_t)(1024 >> 4) << 32) | ((uint64_t)1 << 62);
}

QG_DEVICE void qg_w8a8_wgmma_body(const uint8_t *__restrict__ a, long long lda,
                                  const uint8_t *__restrict__ w, const float *__restrict__ w_scale,
                                  const float *__restrict__ a_scale,
                                  const uint16_t *__restrict__ bias, uint16_t *__restrict__ c,
                                  long long ldc, int M, int N, int K, int groups, int glog,
                                  int flags) {
    extern __shared__ uint8_t smem_raw[];
    const uint32_t sraw = qg_smem_addr(smem_raw);
    const uint32_t sbase = (sraw + 1023u) & ~1023u; /* the launcher adds 1 KB of slack */
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wg = tid >> 7;

    const int tiles_n = (N + QG_BN - 1) / QG_BN, tiles_m = (M + BM - 1) / BM;
    int mt, nt;
    qg_raster_tile(blockIdx.x, tiles_m, tiles_n, &mt, &nt);
    const int m0 = mt * BM, n0 = nt * QG_BN;
    const int nk = (K + 127) / 128;

    auto load_stage = [&](int slot, int kt) {
        const uint32_t sa = sbase + slot * (A_STAGE + B_STAGE), sb = sa + A_STAGE;
        const int k0 = kt * 128;
#pragma unroll
        for (int u = tid; u < BM * 8; u += NT) {
            const int row = u >> 3, cu = u & 7, gm = m0 + row, gk = k0 + 16 * cu;
            const bool ok = gm < M && gk < K;
            qg_cp_async16(sa + row * 128 + ((cu ^ (row & 7)) << 4),
                          ok ? a + (long long)gm * lda + gk : a, ok ? 16 : 0);
        }
#pragma unroll
        for (int u = tid; u < QG_BN * 8; u += NT) {
            const int row = u >> 3, cu = u & 7, gn = n0 + row, gk = k0 + 16 * cu;
            const bool ok = gn < N && gk < K;
            qg_cp_async16(sb + row * 128 + ((cu ^ (row & 7)) << 4),
                          ok ? w + (long long)gn * K + gk : w, ok ? 16 : 0);
        }
    };

#if QG_AT == 2
    int acc[NACC];
#else
    float acc[NACC], part[NACC];
#endif
#pragma unroll
    for (int i = 0; i < NACC; i++) acc[i] = 0;

#pragma unroll
    for (int s = 0; s < QG_ST - 1; s++) {
        if (s < nk) load_stage(s, s);
        qg_cp_async_commit();
    }

    for (int kt = 0; kt < nk; kt++) {
        qg_cp_async_wait<QG_ST - 2>();
        qg_fence_proxy_async();
        __syncthreads();
        {
            const int nt = kt + QG_ST - 1;
            if (nt < nk) load_stage(nt % QG_ST, nt);
            qg_cp_async_commit();
        }
        const uint32_t sa = sbase + (kt % QG_ST) * (A_STAGE + B_STAGE) + wg * (64 * 128);
        const uint32_t sb = sbase + (kt % QG_ST) * (A_STAGE + B_STAGE) + A_STAGE;
        const uint64_t da = wg_desc(sa), db = wg_desc(sb);
        qg_wgmma_fence();
#pragma unroll
        for (int k = 0; k < 4; k++) {
            /* +32 bytes along K inside the swizzle atom = +2 in the address field */
#if QG_AT == 2
            WG_MMA(acc, da + 2 * k, db + 2 * k, kt > 0 || k > 0);
#else
            WG_MMA(part, da + 2 * k, db + 2 * k, k > 0);
#endif
        }
        qg_wgmma_commit();
        qg_wgmma_wait<0>();
#if QG_AT != 2
#pragma unroll
        for (int i = 0; i < NACC; i++) acc[i] += part[i];
#endif
    }
    qg_cp_async_wait<0>();

    qg_dyn_epi e;
    e.a_scale = a_scale;
    e.w_scale = w_scale;
    e.bias = bias;
    e.c = c;
    e.ldc = ldc;
    e.M = M, e.N = N, e.flags = flags;
    /* accumulator i: row 16*(warp%4) + lane/4 (+8 for i%4 >= 2), column 8*(i/4) + 2*(lane%4) */
    const int r0 = m0 + wg * 64 + 16 * (warp & 3) + (lane >> 2);
#pragma unroll
    for (int i = 0; i < NACC / 4; i++) {
        const int n = n0 + 8 * i + 2 * (lane & 3);
        qg_dyn_store2(e, r0, n, (float)acc[4 * i], (float)acc[4 * i + 1]);
        qg_dyn_store2(e, r0 + 8, n, (float)acc[4 * i + 2], (float)acc[4 * i + 3]);
    }
    (void)groups;
    (void)glog;
}

QG_DYN_KERNEL(qg_w8a8_wgmma, __launch_bounds__(NT, 1), qg_w8a8_wgmma_body)
