/*
 * W4A16 GEMM with wgmma for sm_90a (large M), C = A * W^T (+ bias), reading the packed W4A16
 * format of docs/formats.md unchanged.
 *
 * Why SS wgmma with the weight dequantized into shared memory (and not Machete's transposed
 * RS form): the packed format renames k inside each 32-column chunk (a lane's k slots 2t, 2t+1,
 * 2t+8, 2t+9 hold the consecutive columns 8t + 4s + 0..3). In the RS form the weight would be
 * the register operand A and the activations the smem operand B, which wgmma reads in natural
 * k order in 16-byte rows of 8 k: the activations would have to be permuted at 4-byte
 * granularity (or the nibbles shuffled across lanes) to match. Writing the decoded weight back
 * to shared memory at its true k position instead gives both operands the canonical K-major
 * SWIZZLE_128B layout (the activations arrive by cp.async, exactly as TMA would place them)
 * at the cost of one 16-byte st.shared per 8 weights, amortized over the 128 rows of the tile.
 *
 * CTA: 384 threads = 3 warpgroups. Warpgroup 0 is the producer: it issues the cp.async copies
 * of a k tile (BK = 64: the activation tile 128 x 64, the packed weight tile, its scales and
 * zero points) into a ring of W4WG_SL "load" slots, W4WG_SL - 1 tiles ahead; when a tile has
 * landed it decodes the int4 weight (lop3 magic numbers, (u - z) exact, one rounding by the
 * scale) into a ring of W4WG_SB dequantized slots (QG_BN x 64, SWIZZLE_128B K-major: 16-byte
 * chunk c of row n at c ^ (n % 8)) and arrives on the tile's `full` mbarrier. Warpgroups 1 and
 * 2 are the consumers: rows 64 (wg - 1) .. + 63 of the tile, each waits `full`, issues four
 * wgmma.m64nQG_BNk16 (A = activations, B = weight rows, both by descriptor), keeps one
 * wgmma group in flight and releases the previous tile's slots (`empty_l`, `empty_b`) when it
 * retires. The epilogue stages the f32 tile in shared memory (the rings are free by then), adds
 * bias in f32, rounds once to the output dtype and writes C in 16-byte row pieces.
 *
 * Split-K (grid.y slices of kt_per_split k tiles, for grids that cannot fill the GPU): as in
 * w4a16_gemm.cuh, each slice writes its f32 partial tile, the last CTA of a tile (a counter per
 * tile) sums the slices in slice order, zeroes what it read and resets the counter, so the
 * shared workspace is left zeroed.
 *
 * Compile-time parameters: QG_ACT (1 f16, 2 bf16: activations, scales, wgmma inputs), QG_BN
 * (128 or 256 weight rows per CTA). Must match family_w4a16_wgmma.c.
 */
#include "qg_prelude.cuh"

#if !defined(QG_ACT) || !defined(QG_BN)
#error "w4a16_wgmma needs QG_ACT and QG_BN"
#endif

#include "int4_dequant.cuh"
#include "tile_raster.cuh"
#include "w4a16_wgmma_ops.cuh"

#define W4WG_BM 128
#define W4WG_BK 64
#define W4WG_THREADS 384
#define W4WG_SLABS (QG_BN / 64)
#define W4WG_NACC (QG_BN / 2) /* f32 accumulators per consumer thread */
#if QG_BN == 256
#define W4WG_SL 4 /* load ring: activations + packed weight + scales */
#define W4WG_SB 3 /* dequantized weight ring */
#elif QG_BN == 128
#define W4WG_SL 5
#define W4WG_SB 3
#else
#error "w4a16_wgmma: QG_BN must be 128 or 256"
#endif
#define W4WG_A_BYTES (W4WG_BM * W4WG_BK * 2) /* 128 rows x 128 B */
#define W4WG_RAW_BYTES (QG_BN * W4WG_BK / 2) /* slabs x 4 k16 steps x 512 B */
#define W4WG_SC_BYTES (2 * W4WG_SLABS * 128) /* <= 2 groups per tile x slabs x 8 lanes x 16 B */
#define W4WG_L_BYTES (W4WG_A_BYTES + W4WG_RAW_BYTES + 2 * W4WG_SC_BYTES)
#define W4WG_B_BYTES (QG_BN * W4WG_BK * 2) /* QG_BN rows x 128 B */
#define W4WG_BAR_OFF (W4WG_SL * W4WG_L_BYTES + W4WG_SB * W4WG_B_BYTES)
#if W4WG_L_BYTES % 1024 || W4WG_B_BYTES % 1024
#error "w4a16_wgmma: operand tiles must stay 1024-byte aligned (SWIZZLE_128B pattern)"
#endif

/* Registers per thread after setmaxnreg: 128 x 88 + 256 x 208 = 64512 = 384 x 168, what the
 * launch (__launch_bounds__(384, 1)) allocated. */
#define W4WG_PRODUCER_REGS 88
#define W4WG_CONSUMER_REGS 208
#define W4WG_PITCH (QG_BN + 8) /* f32 row pitch of the epilogue's staging tile */
#if W4WG_BM * W4WG_PITCH * 4 > W4WG_BAR_OFF
#error "w4a16_wgmma: the epilogue's staging tile must fit in the rings"
#endif

#include "w4a16_wgmma_abi.cuh"
#include "w4a16_wgmma_epilogue.cuh"
#include "w4a16_wgmma_layout.cuh"

/* Producer: issue the cp.async copies of k tile `kt` (global index) into load slot `l`. The
 * thread -> chunk maps keep the per-thread invariants to a base pointer and a stride (the
 * producer runs on W4WG_PRODUCER_REGS registers). */
QG_DEVICE void qg_w4wg_load(const qg_w4wg_params &p, uint8_t *l, int kt, int m0, int slab0,
                            int nslabs, int ksteps, int ptid) {
    const int k0 = kt * W4WG_BK;
    /* activations: rows r0 + 16u, 16-byte chunk ch (k0 + 8 ch .. + 7), swizzled; zeros for rows
     * >= M and k >= K. A warp copies 4 whole rows of 128 bytes per u. */
    {
        const int ch = ptid & 7, r0 = ptid >> 3, k = k0 + 8 * ch, kok = k < p.k;
        const uint16_t *src = p.a + (long long)(m0 + r0) * p.lda + k;
        uint8_t *dst = l + qg_w4wg_sw128(r0, ch); /* + 2048 u: 16 rows on, same row % 8 */
#pragma unroll 1
        for (int u = 0; u < W4WG_BM / 16; u++) {
            const int ok = kok && m0 + r0 + 16 * u < p.m;
            qg_cp_async16_zfill(dst + 2048 * u, ok ? src + (long long)16 * u * p.lda : p.a, ok);
        }
    }
    /* packed weight: the tile's 4 k16 steps of each slab, as stored (512 B per step and slab);
     * thread = (step, 16-byte part), u = slab */
    {
        const int part = ptid & 31, ks = ptid >> 5, gks = kt * 4 + ks;
        uint8_t *dst = l + W4WG_A_BYTES + (ks * 32 + part) * 16;
#pragma unroll 1
        for (int u = 0; u < W4WG_SLABS; u++) {
            const int gslab = slab0 + u, ok = gslab < nslabs && gks < ksteps;
            const uint8_t *src = ok ? p.w + ((long long)gslab * ksteps + gks) * 512 + part * 16 : p.w;
            qg_cp_async16_zfill(dst + u * 2048, src, ok);
        }
    }
    /* scales (first W4WG_SC_BYTES / 16 threads) and zero points (next as many) of the tile's
     * groups: entry e, slab sl, lane row g -> 16 bytes = the 8 values lane 4g + t needs
     * (docs/formats.md, "Scales") */
    uint8_t *sc = l + W4WG_A_BYTES + W4WG_RAW_BYTES;
    const int entries = (W4WG_BK >> p.gs_log2) > 1 ? 2 : 1;
    const int half = ptid / (W4WG_SC_BYTES / 16), i = ptid % (W4WG_SC_BYTES / 16);
    const int g = i & 7, sl = (i >> 3) % W4WG_SLABS, e = (i >> 3) / W4WG_SLABS;
    if (half < 2 && e < entries && (half == 0 || p.zero)) {
        const int gslab = slab0 + sl, grp = (k0 >> p.gs_log2) + e;
        const int ok = gslab < nslabs && grp < p.groups;
        const uint16_t *base = half ? p.zero : p.scale;
        const long long off = (((long long)gslab * p.groups + grp) * 8 + g) * 8;
        qg_cp_async16_zfill(sc + half * W4WG_SC_BYTES + i * 16, ok ? base + off : base, ok);
    }
}

/* Producer: decode the packed weight of load slot `l` (k tile starting at k0) into the
 * dequantized slot `b`. Warp w takes (slab, chunk) pairs q = w, w + 4, ...; a lane takes the
 * packed lane 4g + t of that pair, i.e. rows 16j + g and 16j + g + 8 (j = 0..3) and the eight
 * consecutive k 32c + 8t .. + 7 of both k16 steps of the chunk: two 16-byte stores per j.
 * The lane -> (g, t) map puts, in every quarter warp, g and g ^ 5 with t = 0..3: the 16-byte
 * loads of the packed steps and the swizzled stores are then both free of bank conflicts. */
QG_DEVICE void qg_w4wg_dequant(const uint8_t *l, uint8_t *b, int k0, int gs_log2, int has_zero,
                               int warp, int lane) {
    const int t = lane & 3, g = (lane >> 3) ^ (5 * ((lane >> 2) & 1)), pl = 4 * g + t;
    const uint8_t *raw = l + W4WG_A_BYTES, *sc = raw + W4WG_RAW_BYTES;
#pragma unroll
    for (int q = warp; q < 2 * W4WG_SLABS; q += 4) {
        const int sl = q >> 1, c = q & 1;
        const qg_u32x4 q0 = *(const qg_u32x4 *)(raw + ((sl * 4 + 2 * c) * 32 + pl) * 16);
        const qg_u32x4 q1 = *(const qg_u32x4 *)(raw + ((sl * 4 + 2 * c + 1) * 32 + pl) * 16);
        const int e = ((k0 + 32 * c) >> gs_log2) - (k0 >> gs_log2);
        const uint8_t *se = sc + ((e * W4WG_SLABS + sl) * 8 + g) * 16;
        const qg_u32x4 sv = *(const qg_u32x4 *)se;
        const uint32_t qa[4] = {q0.x, q0.y, q0.z, q0.w}, qb[4] = {q1.x, q1.y, q1.z, q1.w};
        const uint32_t sw[4] = {sv.x, sv.y, sv.z, sv.w};
        uint32_t zw[4] = {0, 0, 0, 0};
        if (has_zero) {
            const qg_u32x4 zv = *(const qg_u32x4 *)(se + W4WG_SC_BYTES);
            zw[0] = zv.x, zw[1] = zv.y, zw[2] = zv.z, zw[3] = zv.w;
        }
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const uint32_t s0 = qg_h2_lo2(sw[j]), s1 = qg_h2_hi2(sw[j]);
            uint32_t z0 = QG_WO_MAGIC_SYM, z1 = QG_WO_MAGIC_SYM;
            if (has_zero) {
                const uint32_t zz = qg_h2_add(zw[j], QG_WO_MAGIC); /* magic + z, exact */
                z0 = qg_h2_lo2(zz), z1 = qg_h2_hi2(zz);
            }
            uint32_t va[2][2], vb[2][2]; /* [row g / g + 8][k 8t + 4s + {0,1} / {2,3}] */
            qg_w4_dequant(qa[j], z0, z1, s0, s1, va);
            qg_w4_dequant(qb[j], z0, z1, s0, s1, vb);
            const int row = sl * 64 + 16 * j + g;
            qg_u32x4 r0, r1;
            r0.x = va[0][0], r0.y = va[0][1], r0.z = vb[0][0], r0.w = vb[0][1];
            r1.x = va[1][0], r1.y = va[1][1], r1.z = vb[1][0], r1.w = vb[1][1];
            *(qg_u32x4 *)(b + qg_w4wg_sw128(row, 4 * c + t)) = r0;
            *(qg_u32x4 *)(b + qg_w4wg_sw128(row + 8, 4 * c + t)) = r1;
        }
    }
}

extern "C" __global__ void __launch_bounds__(W4WG_THREADS, 1) qg_w4wg_gemm(const qg_w4wg_params p) {
    extern __shared__ __align__(1024) uint8_t qg_smem[];
    /* Swizzle patterns are anchored on absolute shared addresses: align the base to 1024 (the
     * launch asks for 1 KB of slack). */
    const uint32_t raw0 = qg_smem_addr(qg_smem);
    const uint32_t sbase = (raw0 + 1023u) & ~1023u;
    uint8_t *smem = qg_smem + (sbase - raw0);
    const uint32_t bars = sbase + W4WG_BAR_OFF;
    /* mbarriers: full[SL] (128 producer arrivals), empty_l[SL] and empty_b[SB] (8 consumer warps) */
#define W4WG_FULL(s) (bars + 8u * (uint32_t)(s))
#define W4WG_EMPTY_L(s) (bars + 8u * (uint32_t)(W4WG_SL + (s)))
#define W4WG_EMPTY_B(s) (bars + 8u * (uint32_t)(2 * W4WG_SL + (s)))
    int *s_last = (int *)(smem + W4WG_BAR_OFF + 8 * (2 * W4WG_SL + W4WG_SB));

    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, wg = warp >> 2;
    int mt, nt;
    qg_raster_tile(blockIdx.x, p.tiles_m, p.tiles_n, &mt, &nt);
    const int m0 = mt * W4WG_BM, slab0 = nt * W4WG_SLABS;
    const int kt_total = (p.kp + W4WG_BK - 1) / W4WG_BK;
    const int kt0 = blockIdx.y * p.kt_per_split;
    const int nk = min(p.kt_per_split, kt_total - kt0);

    if (tid == 0) {
#pragma unroll 1
        for (int s = 0; s < W4WG_SL; s++) {
            qg_mbar_init(W4WG_FULL(s), 128);
            qg_mbar_init(W4WG_EMPTY_L(s), 8);
        }
#pragma unroll 1
        for (int s = 0; s < W4WG_SB; s++) qg_mbar_init(W4WG_EMPTY_B(s), 8);
        qg_mbar_init_fence();
    }
    __syncthreads();

    if (wg == 0) {
        /* ---------------- producer warpgroup ---------------- */
        qg_setmaxnreg_dec<W4WG_PRODUCER_REGS>();
        const int nslabs = (p.n + 63) >> 6, ksteps = p.kp >> 4;
#pragma unroll 1
        for (int x = 0; x < W4WG_SL - 1; x++) {
            if (x < nk)
                qg_w4wg_load(p, smem + x * W4WG_L_BYTES, kt0 + x, m0, slab0, nslabs, ksteps, tid);
            qg_cp_async_commit();
        }
#pragma unroll 1
        for (int x = 0; x < nk; x++) {
            const int ls = x % W4WG_SL, bs = x % W4WG_SB;
            qg_cp_async_wait<W4WG_SL - 2>(); /* this thread's copies of tile x have landed */
            qg_w4wg_bar_sync(1, 128);        /* ... and every producer thread's */
            if (x >= W4WG_SB) qg_mbar_wait(W4WG_EMPTY_B(bs), ((x / W4WG_SB) & 1) ^ 1);
            qg_w4wg_dequant(smem + ls * W4WG_L_BYTES,
                            smem + W4WG_SL * W4WG_L_BYTES + bs * W4WG_B_BYTES, (kt0 + x) * W4WG_BK,
                            p.gs_log2, p.zero != 0, warp, lane);
            qg_fence_proxy_async(); /* st.shared and cp.async data -> wgmma's async proxy */
            qg_mbar_arrive(W4WG_FULL(ls));
            /* refill the slot of tile x - 1 (the raw data every producer thread read before the
             * barrier above) once the consumers have retired its wgmmas */
            const int y = x + W4WG_SL - 1;
            if (y < nk) {
                if (y >= W4WG_SL) qg_mbar_wait(W4WG_EMPTY_L(y % W4WG_SL), ((y / W4WG_SL) & 1) ^ 1);
                qg_w4wg_load(p, smem + (y % W4WG_SL) * W4WG_L_BYTES, kt0 + y, m0, slab0, nslabs,
                             ksteps, tid);
            }
            qg_cp_async_commit();
        }
        qg_cp_async_wait<0>();
        return;
    }

    /* ---------------- consumer warpgroups ---------------- */
    qg_setmaxnreg_inc<W4WG_CONSUMER_REGS>();
    const int cw = wg - 1; /* rows 64 cw .. 64 cw + 63 of the tile */
    float acc[W4WG_NACC];
#pragma unroll
    for (int i = 0; i < W4WG_NACC; i++) acc[i] = 0.0f;
#pragma unroll 1
    for (int x = 0; x < nk; x++) {
        const int ls = x % W4WG_SL, bs = x % W4WG_SB;
        qg_mbar_wait(W4WG_FULL(ls), (x / W4WG_SL) & 1);
        const uint64_t da = qg_w4wg_desc(sbase + ls * W4WG_L_BYTES + cw * 64 * 128);
        const uint64_t db = qg_w4wg_desc(sbase + W4WG_SL * W4WG_L_BYTES + bs * W4WG_B_BYTES);
        qg_wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < 4; kk++) /* k16 step kk: +32 bytes inside the swizzle atom = +2 */
#if QG_BN == 256
            qg_w4wg_mma_n256(acc, da + 2 * kk, db + 2 * kk, 1);
#else
            qg_w4wg_mma_n128(acc, da + 2 * kk, db + 2 * kk, 1);
#endif
        qg_wgmma_commit();
        qg_wgmma_wait<1>(); /* tile x - 1's wgmmas have retired: its slots are free */
        if (x > 0 && lane == 0) {
            qg_mbar_arrive(W4WG_EMPTY_L((x - 1) % W4WG_SL));
            qg_mbar_arrive(W4WG_EMPTY_B((x - 1) % W4WG_SB));
        }
    }
    qg_wgmma_wait<0>();
    qg_wgmma_pin(acc);

    /* Epilogue through shared memory: both consumer warpgroups are done with the rings (the
     * producer wrote them last before the final `full`), so the f32 tile goes to `stage`
     * (row pitch QG_BN + 8 floats: the fragment stores are free of bank conflicts), then every
     * pass below walks it in row-major 16- or 32-byte pieces with coalesced global accesses. */
    qg_w4wg_bar_sync(2, 256);
    float *stage = (float *)smem;
    {
        /* accumulator 4i + 2h + e: row 16 (warp % 4) + lane / 4 + 8h, column 8i + 2 (lane % 4) + e
         * [PTX 9.7.15.5.1.1.1, "WGMMA .m64nNk16 register fragment layout for accumulator D"] */
        float *st = stage + (cw * 64 + 16 * (warp & 3) + (lane >> 2)) * W4WG_PITCH + 2 * (lane & 3);
#pragma unroll
        for (int i = 0; i < W4WG_NACC / 4; i++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                qg_w4wg_f2 v;
                v.x = acc[4 * i + 2 * h], v.y = acc[4 * i + 2 * h + 1];
                *(qg_w4wg_f2 *)(st + 8 * h * W4WG_PITCH + 8 * i) = v;
            }
    }
    qg_w4wg_bar_sync(2, 256);
    qg_w4wg_epilogue<W4WG_BM, QG_BN, W4WG_PITCH>(p, stage, m0, nt * QG_BN, tid - 128, s_last);
#undef W4WG_FULL
#undef W4WG_EMPTY_L
#undef W4WG_EMPTY_B
}
