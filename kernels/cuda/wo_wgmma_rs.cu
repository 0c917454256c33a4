/*
 * Weight-only GEMM (W4A16, W8A16) with register-sourced wgmma for sm_90a (M >= 64),
 * C = A * W^T (+ bias), reading the packed formats of docs/formats.md unchanged (the same
 * buffers the decode GEMVs read).
 *
 * The transposed problem, as Machete does: the weight is wgmma's A operand (64 weight rows per
 * consumer warpgroup), decoded by the consumer warps straight into A registers, and the
 * activations are the B operand in shared memory (QG_BM tokens). Why this works on the packed
 * format: one 32-bit word of a lane (16x16 block j, one k16 step; docs/formats.md, "W4A16
 * weights") holds exactly the A fragment of rows 16j + g, 16j + g + 8 that lane 4g + t needs
 * (nibbles 0/4 = a0, 2/6 = a1, 1/5 = a2, 3/7 = a3), so warp j of a warpgroup decodes word j.
 * W8A16: the two 32-bit words of rows g and g + 8 of block j (8 bytes of a lane's 16 in half
 * j / 2 of the step) hold the same A fragment as exact int8 values; the per-channel scale
 * multiplies the f32 sums in the epilogue.
 * The format renames k inside each 32-column chunk (k slot 2t, 2t+1, 2t+8, 2t+9 of step s hold
 * the columns 8t + 4s + 0..3), so the producer places the activations in that renamed order: one
 * 4-byte cp.async per pair of columns (a warp moves one 128-byte row of a tile per instruction,
 * coalesced), into the canonical K-major SWIZZLE_128B layout wgmma reads.
 *
 * CTA: 384 threads = 3 warpgroups. Warpgroup 0 produces: for k tile x (64 columns) it copies the
 * activation tile (QG_BM x 64, renamed order), the packed weight of the CTA's two slabs (4 KB,
 * rearranged so that warp j's lane l finds its four words, one per k16 step, in one 16-byte
 * load) and the tile's scales and zero points into stage x % RS_ST, then arrives on full[x].
 * Warpgroups 1 and 2 consume slab 0 / 1 (weight rows 64 cw .. + 63 of the tile): decode four
 * k16 steps into 16 A registers (exact (u - z), one rounding by the scale, as every W4A16
 * kernel), four wgmma.m64nQG_BMk16 in one group, retire it and free the stage. No setmaxnreg:
 * every warp fits the 168 registers of __launch_bounds__(384, 1) (the consumers' accumulators
 * are at most 128), and a smaller producer budget only made it spill.
 *
 * The f32 tile is staged in shared memory as [token][weight row] and leaves through the shared
 * epilogue (w4a16_wgmma_epilogue.cuh: split-K, bias, rounding, 16-byte stores).
 *
 * Compile-time parameters: QG_WBITS (4 or 8), QG_ACT (1 f16, 2 bf16), QG_BM (64 or 128 tokens
 * per CTA), QG_FZP (int4: 1 float zero points, (u - 8) * s + z in one fma; 0 or undefined:
 * none or integer ones), QG_PIPE (1: the consumers keep up to four wgmmas queued across k tiles,
 * one per commit group; 0 or undefined: a group of four per tile, retired every two tiles).
 * Must match family_w4a16_wgmma.c.
 */
#include "qg_prelude.cuh"

#if !defined(QG_ACT) || !defined(QG_BM) || !defined(QG_WBITS)
#error "wo_wgmma_rs needs QG_WBITS, QG_ACT and QG_BM"
#endif
#if QG_WBITS != 4 && QG_WBITS != 8
#error "wo_wgmma_rs: QG_WBITS must be 4 or 8"
#endif
#ifndef QG_FZP
#define QG_FZP 0
#endif
#ifndef QG_PIPE
#define QG_PIPE 0
#endif

#include "int4_dequant.cuh"
#include "tile_raster.cuh"
#include "w4a16_wgmma_abi.cuh"
#include "w4a16_wgmma_epilogue.cuh"
#include "w4a16_wgmma_layout.cuh"
#include "w4a16_wgmma_ops.cuh"
#include "wo_wgmma_rs_ops.cuh"
#if QG_BM == 256
#include "ptx_setmaxnreg.cuh"
/* 128 accumulators + 16 A registers do not fit the 168 of 384 threads without serializing the
 * wgmmas: the producer gives registers to the consumers (128 x 88 + 256 x 208 <= 65536). */
#define RS_PRODUCER_REGS 88
#define RS_CONSUMER_REGS 208
#endif

#define RS_BN 128 /* weight rows per CTA: one 64-row slab per consumer warpgroup */
#define RS_BK 64
#define RS_THREADS 384
#define RS_NACC (QG_BM / 2) /* f32 accumulators per consumer thread */
#if QG_BM != 64 && QG_BM != 128 && !(QG_BM == 256 && QG_PIPE)
/* 256 needs 128 accumulators + 16 A registers: with two tiles per loop iteration ptxas then
 * serializes the wgmmas */
#error "wo_wgmma_rs: QG_BM must be 64 or 128 (or 256 with QG_PIPE)"
#endif
/* stage layout: w4a16_wgmma_abi.cuh (one definition with the host's shared-memory size) */
#define RS_A_BYTES QG_W4RS_A_BYTES(QG_BM) /* activations: QG_BM rows x 128 B, SWIZZLE_128B */
#define RS_W_BYTES \
    QG_W4RS_W_BYTES(QG_WBITS)        /* 2 slabs x 4 k16 steps x 512 B (int4) / 1 KB (int8) */
#define RS_SC_BYTES QG_W4RS_SC_BYTES /* <= 2 groups x 2 slabs x 8 lane rows x 16 B */
#define RS_S_BYTES QG_W4RS_STAGE_BYTES(QG_BM, QG_WBITS)
#define RS_ST QG_W4RS_STAGES(QG_BM)
#define RS_BAR_OFF (RS_ST * RS_S_BYTES)
#define RS_PITCH (RS_BN + 4) /* f32 row pitch of the staging tile: token rows, conflict-free */
#if QG_BM * RS_PITCH * 4 > RS_BAR_OFF
#error "wo_wgmma_rs: the epilogue's staging tile must fit in the stages"
#endif

/* Producer: issue the copies of k tile `kt` into the stage at shared address `st`. The loops are
 * unrolled with the destinations as per-thread bases plus immediates: the producer issues one
 * instruction per 4 bytes of activations, so every instruction around the copies costs. */
QG_DEVICE void qg_w4rs_load(const qg_w4wg_params &p, uint8_t *stage, int kt, int m0, int slab0,
                            int nslabs, int ksteps, int ptid) {
    const uint32_t st = qg_smem_addr(stage);
    const int k0 = kt * RS_BK, warp = ptid >> 5, lane = ptid & 31;
    /* Activations: lane = pair P of the renamed row (k slots 2P, 2P + 1 of the tile): k16 step
     * ks = P / 8, chunk c = ks / 2, step s = ks % 2, t = P % 4, upper slots hi = (P / 4) % 2
     * -> columns 32c + 8t + 4s + 2hi, +1; destination 16-byte chunk P / 4, word P % 4. Rows
     * r = warp + 4u: r % 8 is warp (u even) or warp + 4 (u odd), r / 8 = u / 2. */
    {
        const int ks = lane >> 3, t = lane & 3, hi = (lane >> 2) & 1, ch = lane >> 2;
        const int col = 32 * (ks >> 1) + 8 * t + 4 * (ks & 1) + 2 * hi, k = k0 + col;
        const int rows = k < p.k ? p.m - m0 - warp : 0; /* K % 8 == 0: the pair is whole */
        const uint16_t *src = p.a + (long long)(m0 + warp) * p.lda + k;
        const long long step = 4 * (long long)p.lda;
        const uint32_t d0 = st + warp * 128 + ((ch ^ warp) << 4) + 4 * t;
        const uint32_t d1 = st + (warp + 4) * 128 + ((ch ^ (warp + 4)) << 4) + 4 * t;
#pragma unroll
        for (int u = 0; u < QG_BM / 4; u++) {
            /* zero-filled (source not read) past M or K */
            qg_cp_async4_zfill((u & 1 ? d1 : d0) + (u >> 1) * 1024, src, 4 * u < rows);
            src += step;
        }
    }
#if QG_WBITS == 4
    /* Packed int4 weight: word j of lane l of step ks of slab u (global: 512 B per step and
     * slab, 16 B per lane) -> ((u * 4 + j) * 32 + l) * 16 + 4 ks; thread: j = ptid % 4,
     * l = ptid / 4, copy i: ks = i % 4, u = i / 4. */
    {
        const int j = ptid & 3, l = ptid >> 2;
        const uint32_t dst = st + RS_A_BYTES + (j * 32 + l) * 16;
#pragma unroll
        for (int u = 0; u < 2; u++) {
            const int gslab = slab0 + u;
            const uint8_t *src = p.w + ((long long)gslab * ksteps + kt * 4) * 512 + l * 16 + j * 4;
#pragma unroll
            for (int ks = 0; ks < 4; ks++)
                qg_cp_async4_zfill(dst + u * 4 * 32 * 16 + 4 * ks, src + ks * 512,
                                   gslab < nslabs && kt * 4 + ks < ksteps);
        }
    }
#else
    /* Packed int8 weight: the 8 bytes of block j of lane l of step ks of slab u (global: 1 KB
     * per step and slab, half j / 2, 16 B per lane, bytes 8 (j % 2)..) ->
     * ((u * 4 + j) * 32 + l) * 32 + 8 ks. */
    {
        const int j = ptid & 3, l = ptid >> 2;
        const uint32_t dst = st + RS_A_BYTES + (j * 32 + l) * 32;
#pragma unroll
        for (int u = 0; u < 2; u++) {
            const int gslab = slab0 + u;
            const uint8_t *src = p.w + ((long long)gslab * ksteps + kt * 4) * 1024 +
                                 (j >> 1) * 512 + l * 16 + (j & 1) * 8;
#pragma unroll
            for (int ks = 0; ks < 4; ks++)
                qg_cp_async8_zfill(dst + u * 4 * 32 * 32 + 8 * ks, src + ks * 1024,
                                   gslab < nslabs && kt * 4 + ks < ksteps);
        }
    }
#endif
    /* Scales (threads 0-31) and zero points (32-63) of the tile's groups: entry e, slab u, lane
     * row g -> the 16 bytes lane 4g + t reads for the eight rows 16j + g (+8) of the slab.
     * (W8A16: per-channel scales, applied in the epilogue.) */
    if (QG_WBITS == 4 && ptid < 64) {
        const int half = ptid >> 5, g = lane & 7, u = (lane >> 3) & 1, e = lane >> 4;
        const int entries = (RS_BK >> p.gs_log2) > 1 ? 2 : 1;
        if (e < entries && (half == 0 || p.zero)) {
            const int gslab = slab0 + u, grp = (k0 >> p.gs_log2) + e;
            const int ok = gslab < nslabs && grp < p.groups;
            const uint16_t *base = half ? p.zero : p.scale;
            const long long off = (((long long)gslab * p.groups + grp) * 8 + g) * 8;
            qg_cp_async16_zfill(stage + RS_A_BYTES + RS_W_BYTES + half * RS_SC_BYTES + lane * 16,
                                ok ? base + off : base, ok);
        }
    }
}

/* Consumer: the packed words of tile x (stage `sp`) for this warp's 16 weight rows, per k16
 * step (int4: one word; int8: rows g / g + 8), and (int4) the scale / zero-point splats of the
 * tile's two 32-column chunks (one group each). */
struct qg_w4rs_tile {
#if QG_WBITS == 4
    uint32_t q[4];
    uint32_t s0[2], s1[2], z0[2], z1[2];
#else
    uint32_t q[4][2];
#endif
};

QG_DEVICE void qg_w4rs_fetch(const uint8_t *sp, int k0, int gs_log2, int has_zero, int cw,
                             int warp4, int lane, qg_w4rs_tile &t) {
#if QG_WBITS == 4
    const qg_u32x4 q = *(const qg_u32x4 *)(sp + RS_A_BYTES + ((cw * 4 + warp4) * 32 + lane) * 16);
    t.q[0] = q.x, t.q[1] = q.y, t.q[2] = q.z, t.q[3] = q.w;
    const uint8_t *sc = sp + RS_A_BYTES + RS_W_BYTES;
    const int g = lane >> 2;
#pragma unroll
    for (int c = 0; c < 2; c++) {
        const int e = ((k0 + 32 * c) >> gs_log2) - (k0 >> gs_log2);
        const int off = ((e * 2 + cw) * 8 + g) * 16 + 4 * warp4;
        const uint32_t sw = *(const uint32_t *)(sc + off);
        t.s0[c] = qg_h2_lo2(sw), t.s1[c] = qg_h2_hi2(sw);
        t.z0[c] = QG_WO_MAGIC_SYM, t.z1[c] = QG_WO_MAGIC_SYM;
#if QG_FZP
        const uint32_t zf = *(const uint32_t *)(sc + RS_SC_BYTES + off);
        t.z0[c] = qg_h2_lo2(zf), t.z1[c] = qg_h2_hi2(zf); /* z as stored */
        continue;
#endif
        if (has_zero) {
            const uint32_t zz = qg_h2_add(*(const uint32_t *)(sc + RS_SC_BYTES + off), QG_WO_MAGIC);
            t.z0[c] = qg_h2_lo2(zz), t.z1[c] = qg_h2_hi2(zz); /* magic + z, exact */
        }
    }
#else
    (void)k0, (void)gs_log2, (void)has_zero;
    const uint8_t *w = sp + RS_A_BYTES + ((cw * 4 + warp4) * 32 + lane) * 32;
    const qg_u32x4 q0 = *(const qg_u32x4 *)w, q1 = *(const qg_u32x4 *)(w + 16);
    t.q[0][0] = q0.x, t.q[0][1] = q0.y, t.q[1][0] = q0.z, t.q[1][1] = q0.w;
    t.q[2][0] = q1.x, t.q[2][1] = q1.y, t.q[3][0] = q1.z, t.q[3][1] = q1.w;
#endif
}

/* The A fragment of k16 step ks: a0 (row g, k slots 2t..), a1 (row g + 8, 2t..), a2 (row g,
 * 2t + 8..), a3 (row g + 8, 2t + 8..). int4: b[h][r] of qg_w4_dequant is rows g + 8h, slots
 * 2t.. (r 0) / 2t + 8.. (r 1); int8: qg_w8_decode of row g + 8h gives slots 2t.. / 2t + 8... */
QG_DEVICE void qg_w4rs_decode(const qg_w4rs_tile &t, int ks, uint32_t (&a)[4]) {
#if QG_WBITS == 4
    uint32_t b[2][2];
    const int c = ks >> 1;
#if QG_FZP
    qg_w4_dequant_fzp(t.q[ks], t.z0[c], t.z1[c], t.s0[c], t.s1[c], b);
#else
    qg_w4_dequant(t.q[ks], t.z0[c], t.z1[c], t.s0[c], t.s1[c], b);
#endif
    a[0] = b[0][0], a[1] = b[1][0], a[2] = b[0][1], a[3] = b[1][1];
#else
    uint32_t r0[2], r1[2];
    qg_w8_decode(t.q[ks][0], r0);
    qg_w8_decode(t.q[ks][1], r1);
    a[0] = r0[0], a[1] = r1[0], a[2] = r0[1], a[3] = r1[1];
#endif
}

QG_DEVICE void qg_w4rs_mma(float (&acc)[RS_NACC], const uint32_t (&a)[4], uint64_t db) {
#if QG_BM == 256
    qg_w4rs_mma_n256(acc, a, db);
#elif QG_BM == 128
    qg_w4rs_mma_n128(acc, a, db);
#else
    qg_w4rs_mma_n64(acc, a, db);
#endif
}

#if !QG_PIPE
/* The four wgmmas of one k tile (stage descriptor db) as one commit group. */
QG_DEVICE void qg_w4rs_issue(float (&acc)[RS_NACC], const uint32_t (&a)[4][4], uint64_t db) {
    qg_wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < 4; ks++)
        qg_w4rs_mma(acc, a[ks], db + 2 * ks); /* +32 bytes per k16 step */
    qg_wgmma_commit();
}
#endif

extern "C" __global__ void __launch_bounds__(RS_THREADS, 1) qg_w4rs_gemm(const qg_w4wg_params p) {
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
    const int m0 = mt * QG_BM, slab0 = nt * 2;
    const int kt_total = (p.kp + RS_BK - 1) / RS_BK;
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
#if QG_BM == 256
        qg_setmaxnreg_dec<RS_PRODUCER_REGS>();
#endif
        const int nslabs = (p.n + 63) >> 6, ksteps = p.kp >> 4;
#pragma unroll 1
        for (int x = 0; x < RS_ST - 1; x++) {
            if (x < nk)
                qg_w4rs_load(p, smem + x * RS_S_BYTES, kt0 + x, m0, slab0, nslabs, ksteps, tid);
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
                qg_w4rs_load(p, smem + (y % RS_ST) * RS_S_BYTES, kt0 + y, m0, slab0, nslabs, ksteps,
                             tid);
            }
            qg_cp_async_commit();
        }
        qg_cp_async_wait<0>();
        return;
    }

    /* ---------------- consumer warpgroups ---------------- */
#if QG_BM == 256
    qg_setmaxnreg_inc<RS_CONSUMER_REGS>();
#endif
    const int cw = wg - 1, warp4 = warp & 3;
    float acc[RS_NACC];
#pragma unroll
    for (int i = 0; i < RS_NACC; i++) acc[i] = 0.0f;
        /* Two k tiles per iteration, straight-line: decode tile x, issue its four wgmmas as one
     * group, decode tile x + 1 into other registers while that group runs, issue it, then retire
     * both and free their stages. ptxas serializes the wgmmas (a wait after each) when A
     * registers are written while a group from an earlier loop iteration is in flight (tried:
     * CUTLASS's one-wgmma-per-group with wait_group 3, and two alternating register sets with
     * wait_group 1 across iterations); inside one iteration it overlaps them. The two consumer
     * warpgroups also share the tensor cores, so one decodes while the other's group runs. */
#if QG_PIPE
    /* CUTLASS's RS mainloop order: one wgmma per commit group, wait_group 3 after each, so up to
     * four wgmmas stay queued across k tiles. A register set ks belongs to k16 step ks; after
     * issuing step ks and waiting for all but 3 groups, the wgmma that last read set ks + 1 (four
     * groups back) has retired, so step ks + 1 (of this tile, or step 0 of the next one) is
     * decoded into it while three wgmmas are in flight. The stage of tile x - 1 is free once
     * step 0 of tile x has retired, i.e. after the wait that follows step 3 of tile x.
     * Check with scripts/nvrtc_sass.py: the loop must hold WARPGROUP.DEPBAR.LE gsb0, 0x3 and no
     * wait of 0x0 (ptxas would serialize the wgmmas otherwise). */
    uint32_t a[4][4];
    qg_w4rs_tile tl;
    if (nk > 0) {
        qg_mbar_wait(bars, 0u);
        qg_w4rs_fetch(smem, kt0 * RS_BK, p.gs_log2, p.zero != 0, cw, warp4, lane, tl);
        qg_w4rs_decode(tl, 0, a[0]);
    }
    qg_wgmma_pin(acc);
#pragma unroll 1
    for (int x = 0; x < nk; x++) {
        const int s = x % RS_ST, next = x + 1 < nk;
        const uint64_t db = qg_w4wg_desc(sbase + (uint32_t)(s * RS_S_BYTES));
#pragma unroll
        for (int ks = 0; ks < 4; ks++) {
            qg_wgmma_fence();
            qg_w4rs_mma(acc, a[ks], db + 2 * ks); /* +32 bytes per k16 step */
            qg_wgmma_commit();
            qg_wgmma_wait<3>();
            if (ks < 3) {
                qg_w4rs_decode(tl, ks + 1, a[ks + 1]);
            } else {
                if (x > 0 && lane == 0) /* tile x - 1's wgmmas have all retired */
                    qg_mbar_arrive(bars + 8u * (uint32_t)(RS_ST + (x - 1) % RS_ST));
                if (next) {
                    const int s1 = (x + 1) % RS_ST;
                    qg_mbar_wait(bars + 8u * (uint32_t)s1, (uint32_t)(((x + 1) / RS_ST) & 1));
                    qg_w4rs_fetch(smem + s1 * RS_S_BYTES, (kt0 + x + 1) * RS_BK, p.gs_log2,
                                  p.zero != 0, cw, warp4, lane, tl);
                    qg_w4rs_decode(tl, 0, a[0]);
                }
            }
        }
        qg_wgmma_pin(acc);
    }
    /* the last tile's stage is not released: the producer is done with the ring */
#else
    uint32_t a[4][4], b[4][4];
    qg_w4rs_tile tl;
#pragma unroll 1
    for (int x = 0; x < nk; x += 2) {
        const int s0 = x % RS_ST, s1 = (x + 1) % RS_ST, two = x + 1 < nk;
        qg_mbar_wait(bars + 8u * (uint32_t)s0, (uint32_t)((x / RS_ST) & 1));
        qg_w4rs_fetch(smem + s0 * RS_S_BYTES, (kt0 + x) * RS_BK, p.gs_log2, p.zero != 0, cw, warp4,
                      lane, tl);
#pragma unroll
        for (int ks = 0; ks < 4; ks++) qg_w4rs_decode(tl, ks, a[ks]);
        qg_w4rs_issue(acc, a, qg_w4wg_desc(sbase + (uint32_t)(s0 * RS_S_BYTES)));
        if (two) {
            qg_mbar_wait(bars + 8u * (uint32_t)s1, (uint32_t)(((x + 1) / RS_ST) & 1));
            qg_w4rs_fetch(smem + s1 * RS_S_BYTES, (kt0 + x + 1) * RS_BK, p.gs_log2, p.zero != 0, cw,
                          warp4, lane, tl);
#pragma unroll
            for (int ks = 0; ks < 4; ks++) qg_w4rs_decode(tl, ks, b[ks]);
            qg_w4rs_issue(acc, b, qg_w4wg_desc(sbase + (uint32_t)(s1 * RS_S_BYTES)));
        }
        qg_wgmma_wait<0>();
        if (lane == 0) { /* the stages are free */
            qg_mbar_arrive(bars + 8u * (uint32_t)(RS_ST + s0));
            if (two) qg_mbar_arrive(bars + 8u * (uint32_t)(RS_ST + s1));
        }
    }
#endif
    qg_wgmma_wait<0>();
    qg_wgmma_pin(acc);

    /* Stage the tile as [token][weight row]: accumulator 4i + 2h + e is weight row
     * 64 cw + 16 warp4 + g + 8h, token 8i + 2t + e [PTX 9.7.15.5.1.1.1, accumulator D]. Both
     * warpgroups have retired every wgmma before anyone overwrites the stages. */
    qg_w4wg_bar_sync(2, 256);
    float *stage = (float *)smem;
    {
        const int g = lane >> 2, t = lane & 3, row = cw * 64 + 16 * warp4 + g;
        float sc[2] = {1.0f, 1.0f};
#if QG_WBITS == 8
        /* per-channel scales of rows g, g + 8 of block warp4 of the slab (scale layout with
         * one group: the word at ((slab * 8 + g) * 8 + 2 j)); padding rows have scale 0 */
        const int gslab = nt * 2 + cw;
        if (gslab < (p.n + 63) >> 6) {
            const uint32_t sw = *(const uint32_t *)(p.scale + ((long long)gslab * 8 + g) * 8 +
                                                    2 * warp4);
            const int odt = QG_ACT;
            sc[0] = qg_to_f32((uint16_t)(sw & 0xffffu), odt),
            sc[1] = qg_to_f32((uint16_t)(sw >> 16), odt);
        }
#endif
#pragma unroll
        for (int i = 0; i < RS_NACC / 4; i++)
#pragma unroll
            for (int h = 0; h < 2; h++)
#pragma unroll
                for (int e = 0; e < 2; e++)
                    stage[(8 * i + 2 * t + e) * RS_PITCH + row + 8 * h] = acc[4 * i + 2 * h + e] *
                                                                          sc[h];
    }
    qg_w4wg_bar_sync(2, 256);
    qg_w4wg_epilogue<QG_BM, RS_BN, RS_PITCH>(p, stage, m0, nt * RS_BN, tid - 128, s_last);
}
