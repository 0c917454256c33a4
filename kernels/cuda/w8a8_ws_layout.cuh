/*
 * Addressing of the warp-specialized W8A8 wgmma kernels (w8a8_wgmma_ws.cuh): shared-memory
 * stage layout, mbarrier slots, wgmma descriptors, persistent tile order, accumulator fragment
 * map and the epilogue's quad transpose. Plain C on uint32_t/uint64_t, included three times:
 * by the kernel (NVRTC, after qg_prelude.cuh), by the host family (family_w8a8_wgmma_ws.c:
 * smem bytes, TMA boxes) and by tests/test_w8a8_ws.c, which runs this exact math through a CPU
 * model of TMA's 128-byte swizzle and of wgmma's canonical K-major layout. One source of truth,
 * so the GPU-less test checks what the kernel does.
 *
 * Stage s (offsets from the 1024-aligned base): A tile [128 rows][128 B of K], then the W tile
 * [BN rows][128 B of K]; every row is one 128-byte swizzle row (16-byte unit u of row r stored
 * at unit u ^ (r & 7)), which is what a TMA box {128 B, rows} with SWIZZLE_128B writes and what
 * a wgmma descriptor with layout 1 (128B swizzle), SBO = 1024 (8 rows x 128 B) reads (PTX ISA
 * "Shared Memory Matrix Layout", K-major: Swizzle<3,4,3> o ((8,m),(T,2k)):((8T,SBO),(1,T))).
 * Stage sizes are multiples of 1024 so every tile starts a swizzle pattern (base offset 0).
 */
#pragma once

#if defined(__CUDACC_RTC__) || defined(__CUDACC__)
#define QG_WS_FN static __device__ __forceinline__
#else
#define QG_WS_FN static inline
#endif

#define QG_WS_BM 128      /* rows of A per CTA tile: 2 consumer warpgroups x 64 */
#define QG_WS_BK 128      /* bytes (= 8-bit elements) of K per stage: one swizzle row */
#define QG_WS_KSTEP 32    /* K of one wgmma m64nNk32 */
#define QG_WS_CONSUMERS 2 /* consumer warpgroups; warpgroup 2 is the producer */
#define QG_WS_THREADS 384
#define QG_WS_SBO 1024   /* bytes between 8-row core-matrix groups */
#define QG_WS_SLACK 1024 /* dynamic smem is only 16-byte aligned: room to align to 1024 */
#define QG_WS_EMPTY_ARRIVALS (4 * QG_WS_CONSUMERS) /* one per consumer warp */
/* Registers per thread after setmaxnreg (multiples of 8, 24..256): the producer needs few for one
 * thread issuing TMA, the consumers take the rest of the SM's 64K for their accumulators:
 * 128 x 40 + 256 x 232 = 64512 <= 65536 (one CTA per SM). */
#define QG_WS_PRODUCER_REGS 40
#define QG_WS_CONSUMER_REGS 232

QG_WS_FN uint32_t qg_ws_a_bytes(void) { return QG_WS_BM * QG_WS_BK; }
QG_WS_FN uint32_t qg_ws_b_bytes(int bn) { return (uint32_t)bn * QG_WS_BK; }
/* Bytes one stage receives from TMA (the full boxes: out-of-bounds parts are zero-filled and
 * count too), i.e. the full barrier's expect_tx. */
QG_WS_FN uint32_t qg_ws_stage_bytes(int bn) { return qg_ws_a_bytes() + qg_ws_b_bytes(bn); }
QG_WS_FN uint32_t qg_ws_stage_a(int bn, int s) { return (uint32_t)s * qg_ws_stage_bytes(bn); }
QG_WS_FN uint32_t qg_ws_stage_b(int bn, int s) { return qg_ws_stage_a(bn, s) + qg_ws_a_bytes(); }
/* mbarriers (8 bytes each) after the stages: full[0..st), then empty[0..st). */
QG_WS_FN uint32_t qg_ws_bar_full(int bn, int st, int s) {
    return (uint32_t)st * qg_ws_stage_bytes(bn) + 8u * (uint32_t)s;
}
QG_WS_FN uint32_t qg_ws_bar_empty(int bn, int st, int s) {
    return (uint32_t)st * qg_ws_stage_bytes(bn) + 8u * (uint32_t)(st + s);
}
/* Split-K (QG_SK): one int after the barriers, for the last-unit flag, and the bytes it adds. */
#define QG_WS_SK_EXTRA 16
QG_WS_FN uint32_t qg_ws_sk_flag(int bn, int st) {
    return (uint32_t)st * qg_ws_stage_bytes(bn) + 16u * (uint32_t)st;
}
/* Dynamic shared memory to launch with (plus QG_WS_SK_EXTRA with split-K). */
QG_WS_FN uint32_t qg_ws_smem_bytes(int bn, int st) {
    return (uint32_t)st * qg_ws_stage_bytes(bn) + 16u * (uint32_t)st + QG_WS_SLACK;
}

/* wgmma shared-memory descriptor of a K-major 128B-swizzled tile starting at `addr` (a shared
 * window address, 1024-aligned): start >> 4 in bits 0-13, LBO field 1 (unused for swizzled
 * K-major), SBO >> 4 in bits 32-45, base offset 0, layout type 1 (128B swizzle) in bits 62-63. */
QG_WS_FN uint64_t qg_ws_desc(uint32_t addr) {
    return (uint64_t)((addr & 0x3FFFFu) >> 4) | ((uint64_t)1 << 16) |
           ((uint64_t)(QG_WS_SBO >> 4) << 32) | ((uint64_t)1 << 62);
}
/* The descriptor of k-step j (32 bytes of K further inside the swizzle row): the hardware
 * applies the swizzle XOR to the computed address, so stepping the start address is enough. */
QG_WS_FN uint64_t qg_ws_desc_k(uint64_t desc, int j) {
    return desc + (uint64_t)((j * QG_WS_KSTEP) >> 4);
}
/* Consumer warpgroup `wg` reads A rows 64*wg.. of the stage. */
QG_WS_FN uint32_t qg_ws_a_wg_offset(int wg) { return (uint32_t)wg * 64u * QG_WS_BK; }
/* Columns per promoted partial sum: fp8 (e4m3 wgmma keeps ~14 bits) adds each stage's sum into
 * f32 registers; at bn 256 the partial would need 128 more registers, so it goes in two
 * 128-column chunks. s8 accumulates exactly in place (pn = bn). Usable in #if. */
#define QG_WS_PN(bn, fp8) ((fp8) && (bn) > 192 ? 128 : (bn))
/* Chunk h of the partial reads W rows h*pn.. of the stage. */
QG_WS_FN uint32_t qg_ws_b_chunk_offset(int pn, int h) { return (uint32_t)(h * pn) * QG_WS_BK; }

/* Persistent tile order: tiles are numbered so that `group_m` consecutive M tiles share each
 * N tile (Triton-style grouped raster): CTAs running at the same time reuse A rows and W rows
 * from L2. CTA b takes tiles b, b + grid, b + 2*grid, ... */
QG_WS_FN void qg_ws_tile(int tile, int tiles_m, int tiles_n, int group_m, int *m_blk, int *n_blk) {
    const int per_group = group_m * tiles_n;
    const int first_m = (tile / per_group) * group_m;
    const int rest = tiles_m - first_m;
    const int gsize = rest < group_m ? rest : group_m;
    const int in_group = tile % per_group;
    *m_blk = first_m + in_group % gsize;
    *n_blk = in_group / gsize;
}

/* Accumulator fragment of m64nNk32 (PTX ISA wgmma D layout): thread `lane` of warp `w` (0..3 in
 * its warpgroup) holds d[i] at row 16w + lane/4 (+8 when i%4 >= 2), column 8(i/4) + 2(lane%4)
 * + (i%2). */
QG_WS_FN int qg_ws_acc_row(int w, int lane, int i) {
    return 16 * w + (lane >> 2) + ((i & 2) ? 8 : 0);
}
QG_WS_FN int qg_ws_acc_col(int lane, int i) { return 8 * (i >> 2) + 2 * (lane & 3) + (i & 1); }

/*
 * Epilogue quad transpose: for 4 consecutive 8-column blocks (32 columns) of one row, lane t of
 * a quad holds word j = the bf16/f16 pair at columns 8j + 2t, +1 (block j). After the transpose
 * lane t holds block t whole (16 contiguous bytes) as words 0..3. Round r (0..3): every lane
 * sends its word qg_ws_xpose_send(t, r) and receives, from lane qg_ws_xpose_src(t, r) of the
 * quad, the word it stores as qg_ws_xpose_dst(t, r).
 */
QG_WS_FN int qg_ws_xpose_send(int t, int r) { return (t - r) & 3; }
QG_WS_FN int qg_ws_xpose_src(int t, int r) { return (t + r) & 3; }
QG_WS_FN int qg_ws_xpose_dst(int t, int r) { return (t + r) & 3; }
/* First tile column of the 8-column block lane `lane` stores for column group g (32 columns). */
QG_WS_FN int qg_ws_store_col(int lane, int g) { return 32 * g + 8 * (lane & 3); }
