/*
 * W4A8_FP8 GEMM (e4m3 activations x int4 weights, group 128) with register-sourced wgmma for
 * sm_90a (M >= 64): C = a_scale[m] * sum_g s[n, g] * (sum over group g of a_q[m, k] v[n, k])
 * (+ bias), reading the packed format of docs/formats.md unchanged (the buffers the mma.sync
 * and GEMV kernels read).
 *
 * The transposed problem of wo_wgmma_rs.cu: the weight is wgmma's A operand (64 weight rows per
 * consumer warpgroup), converted by the consumer warps from int4 to e4m3 straight into A
 * registers (int4_e4m3.cuh), the activations are the B operand in shared memory (QG_BM tokens),
 * wgmma.m64nQG_BMk32.f32.e4m3.e4m3. Why the packed format fits: the A fragment of m64nNk32 gives
 * lane 4g + t the k slots 4t..4t+3 (a0, a1) and 16+4t..16+4t+3 (a2, a3) of rows g, g + 8, and
 * word t of a 32-column step of a packed row (columns 8t..8t+7) converts into exactly two such
 * e4m3 words. So the k slots of each step are renamed: slot 4t+i <- column 8t+i, slot
 * 16+4t+i <- column 8t+4+i, and the producer places the activations in that order with 4-byte
 * cp.async (4 columns each), as the W4A16 RS producer does.
 *
 * A k tile is 128 columns = one scale group: four k32 wgmmas into a temporary accumulator
 * (scale-d 0 on the first), retired, then acc += tmp * s[row, group] in f32: the format's
 * per-group promotion (tensor-core fp8 sums keep fewer bits than f32), exactly what
 * w4a8_fp8_mma computes per group. bm 64 (m64n64k32) takes two k tiles per loop iteration
 * (the second converted while the first one's wgmmas run; 155 registers); bm 128 (m64n128k32)
 * one (64 accumulators + 64 temporaries + 16 A registers: 161 registers).
 *
 * CTA: 384 threads = 3 warpgroups. Warpgroup 0 produces: for k tile x it copies the
 * activations (QG_BM x 128 bytes, renamed), the packed weight of the CTA's 128 rows (64 bytes
 * each, 16-byte cp.async into rows of 80 bytes) and the rows' group scales into stage x % ST,
 * then arrives on full[x]. Warpgroups 1 and 2 consume rows 0..63 / 64..127 of the tile: per k32
 * step two 4-byte shared loads (rows g, g + 8), one conversion each, one wgmma; after the
 * retire they free the stage and promote. The f32 tile leaves through the W4A16 wgmma epilogue
 * (split-K, bias, rounding, 16-byte stores) after staging acc * a_scale[token].
 *
 * QG_PIPE 1: one wgmma per k32 step and commit group, each step converted while the earlier
 * ones run and the next tile's first step while the tile's last three run (the tile is still
 * retired whole before its promotion: reading the temporaries of a group in flight makes ptxas
 * serialize every wgmma, C7514).
 *
 * Compile-time parameters: QG_BM (64 or 128 tokens per CTA), QG_PIPE (0 or 1). Must match
 * family_w4a8_wgmma_rs.c.
 */
#include "qg_prelude.cuh"

#if !defined(QG_BM) || (QG_BM != 64 && QG_BM != 128) || !defined(QG_PIPE)
#error "w4a8_fp8_wgmma_rs needs QG_BM (64 or 128) and QG_PIPE (0 or 1)"
#endif
/* The W4A16 wgmma helpers below are written for a 16-bit activation type (QG_ACT), which this
 * kernel never uses (its wgmma is e4m3, its output dtype a runtime flag): fixed for them. */
#ifndef QG_ACT
#define QG_ACT QG_DT_BF16
#endif

#include "int4_dequant.cuh" /* the copies, split-K loads and stores of the weight-only kernels */
#include "int4_e4m3.cuh"
#include "tile_raster.cuh"
#include "w4a16_wgmma_epilogue.cuh"
#include "w4a16_wgmma_layout.cuh"
#include "w4a16_wgmma_ops.cuh"
#include "w4a8_wgmma_rs_abi.cuh"
#include "w4a8_wgmma_rs_ops.cuh"
#include "wo_wgmma_rs_ops.cuh" /* qg_cp_async4_zfill */

#define RS_BN 128 /* weight rows per CTA: one 64-row slab per consumer warpgroup */
#define RS_BK 128 /* = the group size */
#define RS_THREADS 384
#define RS_NACC (QG_BM / 2) /* f32 accumulators per consumer thread */
#define RS_A_BYTES QG_W4A8RS_A_BYTES(QG_BM)
#define RS_W_PITCH QG_W4A8RS_W_PITCH
#define RS_W_BYTES QG_W4A8RS_W_BYTES
#define RS_S_BYTES QG_W4A8RS_STAGE_BYTES(QG_BM)
#define RS_ST QG_W4A8RS_STAGES
#define RS_BAR_OFF (RS_ST * RS_S_BYTES)
#define RS_PITCH (RS_BN + 4) /* f32 row pitch of the staging tile: token rows, conflict-free */
#if QG_BM * RS_PITCH * 4 > RS_BAR_OFF
#error "w4a8_fp8_wgmma_rs: the epilogue's staging tile must fit in the stages"
#endif

/* Producer: issue the copies of k tile `kt` into the stage at `stage` (ptid 0..127). */
QG_DEVICE void qg_w4a8rs_load(const qg_w4a8rs_params &p, uint8_t *stage, int kt, int m0, int n0,
                              int ptid) {
    const uint32_t st = qg_smem_addr(stage);
    const int k0 = kt * RS_BK, warp = ptid >> 5, lane = ptid & 31;
    /* Activations: lane = 4-byte word q of the renamed row: step s = q / 8, slot chunk d = q % 8
     * (slots 4d..4d+3) <- columns 32s + 8 (d % 4) + 4 (d / 4) ..+3; destination 16-byte chunk
     * q / 4, word q % 4 (swizzled by the row). Rows r = warp + 4u: r % 8 is warp (u even) or
     * warp + 4 (u odd), r / 8 = u / 2. One instruction moves one 128-byte row, coalesced. */
    {
        const int d = lane & 7, col = 32 * (lane >> 3) + 8 * (d & 3) + 4 * (d >> 2);
        const int ch = lane >> 2, wd = lane & 3;
        const int rows = p.m - m0 - warp;
        const uint8_t *src = p.a + (long long)(m0 + warp) * p.lda + k0 + col;
        const long long step = 4 * (long long)p.lda;
        const uint32_t d0 = st + warp * 128 + ((ch ^ warp) << 4) + 4 * wd;
        const uint32_t d1 = st + (warp + 4) * 128 + ((ch ^ (warp + 4)) << 4) + 4 * wd;
#pragma unroll
        for (int u = 0; u < QG_BM / 4; u++) {
            /* zero-filled (source not read) past M */
            qg_cp_async4_zfill((u & 1 ? d1 : d0) + (u >> 1) * 1024, src, 4 * u < rows);
            src += step;
        }
    }
    /* Packed weight: 16-byte chunk c of row r (columns k0 + 32c .. + 31) -> r * 80 + 16c;
     * thread: c = ptid % 4, rows ptid / 4 + 32i. Rows past N are zero-filled. */
    {
        const int c = ptid & 3, r0 = ptid >> 2;
        const long long wrow = p.k >> 1;
        const uint8_t *src = p.w + (long long)(n0 + r0) * wrow + (k0 >> 1) + 16 * c;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int r = r0 + 32 * i;
            qg_cp_async16(st + RS_A_BYTES + r * RS_W_PITCH + 16 * c,
                          n0 + r < p.n ? src + 32 * i * wrow : p.w, n0 + r < p.n ? 16 : 0);
        }
    }
    /* The group scale of row ptid (zero past N: those rows then add nothing). */
    {
        const int ok = n0 + ptid < p.n;
        qg_cp_async4_zfill(st + RS_A_BYTES + RS_W_BYTES + 4 * ptid,
                           ok ? p.w_scale + (long long)(n0 + ptid) * p.groups + kt : p.w_scale, ok);
    }
}

#if !QG_PIPE
/* Consumer: the A fragments of the four k32 steps of the tile in stage `sp` for weight rows
 * `row` (g) and row + 8 of the slab, and the two rows' scales. */
QG_DEVICE void qg_w4a8rs_fetch(const uint8_t *sp, int row, int t, uint32_t (&a)[4][4],
                               float (&sc)[2]) {
    const uint8_t *w = sp + RS_A_BYTES + row * RS_W_PITCH + 4 * t;
#pragma unroll
    for (int s = 0; s < 4; s++) {
        /* word t of step s: columns 8t..8t+7 -> slots 4t.. (lo) and 16+4t.. (hi) */
        const uint32_t q0 = *(const uint32_t *)(w + 16 * s);
        const uint32_t q1 = *(const uint32_t *)(w + 8 * RS_W_PITCH + 16 * s);
        qg_i4x8_to_e4m3x8(q0, a[s][0], a[s][2]);
        qg_i4x8_to_e4m3x8(q1, a[s][1], a[s][3]);
    }
    const float *s = (const float *)(sp + RS_A_BYTES + RS_W_BYTES);
    sc[0] = s[row];
    sc[1] = s[row + 8];
}
#endif

#if QG_PIPE
/* The raw packed words of the tile (rows `row`, row + 8; word t of each k32 step) and the two
 * rows' scales, converted one step at a time by qg_w4a8rs_convert. */
struct qg_w4a8rs_raw {
    uint32_t q[4][2];
    float sc[2];
};

QG_DEVICE void qg_w4a8rs_fetch_raw(const uint8_t *sp, int row, int t, qg_w4a8rs_raw &r) {
    const uint8_t *w = sp + RS_A_BYTES + row * RS_W_PITCH + 4 * t;
#pragma unroll
    for (int s = 0; s < 4; s++) {
        r.q[s][0] = *(const uint32_t *)(w + 16 * s);
        r.q[s][1] = *(const uint32_t *)(w + 8 * RS_W_PITCH + 16 * s);
    }
    const float *sc = (const float *)(sp + RS_A_BYTES + RS_W_BYTES);
    r.sc[0] = sc[row];
    r.sc[1] = sc[row + 8];
}

/* Step s's A fragment: word t of the step -> slots 4t.. (a0 / a1) and 16+4t.. (a2 / a3). */
QG_DEVICE void qg_w4a8rs_convert(const qg_w4a8rs_raw &r, int s, uint32_t (&a)[4]) {
    qg_i4x8_to_e4m3x8(r.q[s][0], a[0], a[2]);
    qg_i4x8_to_e4m3x8(r.q[s][1], a[1], a[3]);
}
#endif

/* One k32 wgmma over the QG_BM tokens of a stage (scale-d 0: d = A * B). */
QG_DEVICE void qg_w4a8rs_mma(float (&d)[RS_NACC], const uint32_t (&a)[4], uint64_t db, int scale_d) {
#if QG_BM == 128
    qg_w4a8rs_mma_n128(d, a, db, scale_d);
#else
    qg_w4a8rs_mma_n64(d, a, db, scale_d);
#endif
}

#if !QG_PIPE
/* The four k32 wgmmas of one k tile (stage descriptor db) into tmp, as one commit group:
 * scale-d 0 on the first starts the group's sum from zero. */
QG_DEVICE void qg_w4a8rs_issue(float (&tmp)[RS_NACC], const uint32_t (&a)[4][4], uint64_t db) {
    qg_wgmma_fence();
#pragma unroll
    for (int s = 0; s < 4; s++) qg_w4a8rs_mma(tmp, a[s], db + 2 * s, s > 0); /* +32 bytes */
    qg_wgmma_commit();
}
#endif

/* The group's promotion into f32 (after the retire): accumulator 4i + 2hh + e is row + 8hh. */
QG_DEVICE void qg_w4a8rs_promote(float (&acc)[RS_NACC], float (&tmp)[RS_NACC], const float (&sc)[2]) {
    qg_wgmma_pin(tmp);
#pragma unroll
    for (int i = 0; i < RS_NACC; i++) acc[i] += tmp[i] * sc[(i >> 1) & 1];
}

extern "C" __global__ void __launch_bounds__(RS_THREADS, 1) qg_w4a8rs_gemm(const qg_w4a8rs_params p) {
    extern __shared__ __align__(1024) uint8_t qg_smem[];
    /* Swizzle patterns are anchored on absolute shared addresses: align the base to 1024. */
    const uint32_t raw0 = qg_smem_addr(qg_smem);
    const uint32_t sbase = (raw0 + 1023u) & ~1023u;
    uint8_t *smem = qg_smem + (sbase - raw0);
    /* mbarriers: full[ST] (128 producer arrivals), empty[ST] (8 consumer warps) */
    const uint32_t bars = sbase + RS_BAR_OFF;
    int *s_last = (int *)(smem + RS_BAR_OFF + 16 * RS_ST);

    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, wg = warp >> 2;
    int mt, nt;
    qg_raster_tile(blockIdx.x, p.tiles_m, p.tiles_n, &mt, &nt);
    const int m0 = mt * QG_BM, n0 = nt * RS_BN;
    const int kt_total = p.k / RS_BK;
    const int kt0 = blockIdx.y * p.kt_per_split;
    const int nk = min(p.kt_per_split, kt_total - kt0);

    if (tid == 0) {
#pragma unroll 1
        for (int s = 0; s < RS_ST; s++) {
            qg_mbar_init(bars + 8u * (uint32_t)s, 128);
            qg_mbar_init(bars + 8u * (uint32_t)(RS_ST + s), 8);
        }
        qg_mbar_init_fence();
    }
    __syncthreads();

    if (wg == 0) {
        /* ---------------- producer warpgroup ---------------- */
#pragma unroll 1
        for (int x = 0; x < RS_ST - 1; x++) {
            if (x < nk) qg_w4a8rs_load(p, smem + x * RS_S_BYTES, kt0 + x, m0, n0, tid);
            qg_cp_async_commit();
        }
#pragma unroll 1
        for (int x = 0; x < nk; x++) {
            qg_cp_async_wait<RS_ST - 2>(); /* this thread's copies of tile x have landed */
            qg_fence_proxy_async();        /* ... and are visible to wgmma's async proxy */
            qg_mbar_arrive(bars + 8u * (uint32_t)(x % RS_ST));
            const int y = x + RS_ST - 1; /* refill the stage of tile x - 1 once it is retired */
            if (y < nk) {
                if (y >= RS_ST)
                    qg_mbar_wait(bars + 8u * (uint32_t)(RS_ST + y % RS_ST), ((y / RS_ST) & 1) ^ 1);
                qg_w4a8rs_load(p, smem + (y % RS_ST) * RS_S_BYTES, kt0 + y, m0, n0, tid);
            }
            qg_cp_async_commit();
        }
        qg_cp_async_wait<0>();
        return;
    }

    /* ---------------- consumer warpgroups ---------------- */
    const int cw = wg - 1, warp4 = warp & 3, g = lane >> 2, t = lane & 3;
    const int row = cw * 64 + 16 * warp4 + g; /* this thread's weight rows: row, row + 8 */
    float acc[RS_NACC];
#pragma unroll
    for (int i = 0; i < RS_NACC; i++) acc[i] = 0.0f;
#if QG_PIPE
    /* One wgmma per k32 step and commit group: step s + 1 is converted while steps <= s run
     * (its registers were last read by the previous tile, retired at that tile's end); after
     * step 3 the wait for all but three retires step 0, so the next tile's step 0 is fetched and
     * converted into its registers while steps 1-3 run; then the wait for all retires the tile,
     * frees its stage and promotes its sums (the next tile's step 0 starts tmp afresh). */
    float tmp[RS_NACC], sc[2];
    uint32_t a[4][4];
    qg_w4a8rs_raw raw;
    if (nk > 0) {
        qg_mbar_wait(bars, 0u);
        qg_w4a8rs_fetch_raw(smem, row, t, raw);
        qg_w4a8rs_convert(raw, 0, a[0]);
    }
#pragma unroll 1
    for (int x = 0; x < nk; x++) {
        const int s0 = x % RS_ST;
        const uint64_t db = qg_w4wg_desc(sbase + (uint32_t)(s0 * RS_S_BYTES));
        sc[0] = raw.sc[0], sc[1] = raw.sc[1];
#pragma unroll
        for (int s = 0; s < 4; s++) {
            qg_wgmma_fence();
            qg_w4a8rs_mma(tmp, a[s], db + 2 * s, s > 0); /* +32 bytes per k32 step */
            qg_wgmma_commit();
            if (s < 3) qg_w4a8rs_convert(raw, s + 1, a[s + 1]);
        }
        qg_wgmma_wait<3>(); /* step 0 has retired: a[0] is free */
        if (x + 1 < nk) {
            const int s1 = (x + 1) % RS_ST;
            qg_mbar_wait(bars + 8u * (uint32_t)s1, (uint32_t)(((x + 1) / RS_ST) & 1));
            qg_w4a8rs_fetch_raw(smem + s1 * RS_S_BYTES, row, t, raw);
            qg_w4a8rs_convert(raw, 0, a[0]);
        }
        qg_wgmma_wait<0>();
        if (lane == 0) qg_mbar_arrive(bars + 8u * (uint32_t)(RS_ST + s0)); /* the stage is free */
        qg_w4a8rs_promote(acc, tmp, sc);
    }
#elif QG_BM == 64
    /* Two k tiles per iteration, straight-line (as wo_wgmma_rs.cu): tile x's group runs while
     * tile x + 1 is converted into other registers and issued; one wait retires both, then both
     * are promoted. (ptxas serializes every wgmma, one register set for all, when a wait_group 1
     * retires the first group alone, or when A registers are written while a group of an
     * earlier iteration is in flight.) */
    float tmp0[RS_NACC], tmp1[RS_NACC], sc0[2], sc1[2];
    uint32_t a[4][4], b[4][4];
#pragma unroll 1
    for (int x = 0; x < nk; x += 2) {
        const int s0 = x % RS_ST, s1 = (x + 1) % RS_ST, two = x + 1 < nk;
        qg_mbar_wait(bars + 8u * (uint32_t)s0, (uint32_t)((x / RS_ST) & 1));
        qg_w4a8rs_fetch(smem + s0 * RS_S_BYTES, row, t, a, sc0);
        qg_w4a8rs_issue(tmp0, a, qg_w4wg_desc(sbase + (uint32_t)(s0 * RS_S_BYTES)));
        if (two) {
            qg_mbar_wait(bars + 8u * (uint32_t)s1, (uint32_t)(((x + 1) / RS_ST) & 1));
            qg_w4a8rs_fetch(smem + s1 * RS_S_BYTES, row, t, b, sc1);
            qg_w4a8rs_issue(tmp1, b, qg_w4wg_desc(sbase + (uint32_t)(s1 * RS_S_BYTES)));
        }
        qg_wgmma_wait<0>();
        if (lane == 0) { /* the stages are free */
            qg_mbar_arrive(bars + 8u * (uint32_t)(RS_ST + s0));
            if (two) qg_mbar_arrive(bars + 8u * (uint32_t)(RS_ST + s1));
        }
        qg_w4a8rs_promote(acc, tmp0, sc0);
        if (two) qg_w4a8rs_promote(acc, tmp1, sc1);
    }
#else
    /* bm 128: one k tile per iteration, four m64n128k32 wgmmas (a second tile's registers
     * would not fit). */
    float tmp[RS_NACC], sc[2];
    uint32_t a[4][4];
#pragma unroll 1
    for (int x = 0; x < nk; x++) {
        const int s0 = x % RS_ST;
        qg_mbar_wait(bars + 8u * (uint32_t)s0, (uint32_t)((x / RS_ST) & 1));
        qg_w4a8rs_fetch(smem + s0 * RS_S_BYTES, row, t, a, sc);
        qg_w4a8rs_issue(tmp, a, qg_w4wg_desc(sbase + (uint32_t)(s0 * RS_S_BYTES)));
        qg_wgmma_wait<0>();
        if (lane == 0) qg_mbar_arrive(bars + 8u * (uint32_t)(RS_ST + s0)); /* the stage is free */
        qg_w4a8rs_promote(acc, tmp, sc);
    }
#endif

    /* Stage the tile as [token][weight row], times the token's activation scale: accumulator
     * 4j + 2hh + e is weight row `row` + 8hh, token 8j + 2t + e [PTX 9.7.15.5.1.1.1,
     * accumulator D]. Both warpgroups have retired every wgmma before anyone overwrites the
     * stages. */
    qg_w4wg_bar_sync(2, 256);
    float *stage = (float *)smem;
#pragma unroll
    for (int j = 0; j < RS_NACC / 4; j++)
#pragma unroll
        for (int e = 0; e < 2; e++) {
            const int tok = 8 * j + 2 * t + e, m = m0 + tok;
            const float as = m < p.m ? p.a_scale[p.a_per_tensor ? 0 : m] : 0.0f;
#pragma unroll
            for (int hh = 0; hh < 2; hh++)
                stage[tok * RS_PITCH + row + 8 * hh] = acc[4 * j + 2 * hh + e] * as;
        }
    qg_w4wg_bar_sync(2, 256);
    qg_w4wg_epilogue<QG_BM, RS_BN, RS_PITCH>(p, stage, m0, n0, tid - 128, s_last);
}
