/*
 * The warp-specialized W8A8 wgmma families (w8a8_{fp8,int8}_wgmma_ws) without a GPU. What can
 * be checked on a CPU is checked against the documents rather than against the code itself:
 *  1. tensor maps: the boxes and strides the launcher describes pass cuTensorMapEncodeTiled's
 *     documented rules, become the expected driver arguments (UINT8, {K, rows}, row strides,
 *     boxes {128, 128} / {128, bn}, SWIZZLE_128B, zero OOB fill), and bad ones are refused.
 *  2. addressing: kernels/cuda/w8a8_ws_layout.cuh (the kernel's own math) through three models:
 *     a TMA box write with SWIZZLE_128B (16-byte chunk c of 128-byte row r lands at chunk
 *     c ^ (r % 8)), the PTX ISA canonical K-major 128B layout
 *     Swizzle<3,4,3> o ((8,m),(T,2k)):((8T,SBO),(1,T)) with T = 16 one-byte elements, and
 *     wgmma's reading of a shared-memory descriptor (start, SBO, swizzle applied to address
 *     bits). Stage images must equal the canonical layout and each k-step descriptor must read
 *     the expected 64 x 32 (A) and pn x 32 (W) bytes.
 *  3. a full CPU emulation of the kernel's data path on small int8 problems with M, N, K tails
 *     and a padded lda: persistent tile loop, TMA boxes with zero fill into a garbage-filled
 *     stage ring, two consumer warpgroups x 4 k-steps through descriptors, fp8's chunked
 *     promotion, accumulator fragments, the epilogue's quad transpose and masked stores; C must
 *     equal the exact integer GEMM, every element written exactly once.
 *  4. the mbarrier protocol (full/empty ring, parity waits, the int8 path's deferred release)
 *     under random interleavings of the producer, 8 consumer warps, TMA and wgmma completions:
 *     no deadlock, no stage overwritten while read, no stage read before it is filled.
 *  5. a launch through the fake driver (tests/fake_cuda.c, cc 9.0): real NVRTC compile, the
 *     two tensor maps the driver encoded and the kernel's whole argument list and geometry.
 */
#include "dispatch.h"
#include "fake_trace.h"
#include "testutil.h"
#include "w8a8_ws.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/cuda/w8a8_ws_layout.cuh"

#include <cuda.h>

/* ---------------------------------------------------------------- 1. tensor maps */

static void test_tensor_maps(void) {
    static const int64_t shapes[][4] = {/* m, n, k, lda */
                                        {1, 3, 16, 16},
                                        {4096, 28672, 4096, 4096},
                                        {130, 1000, 2064, 2096},
                                        {33, 6144, 48, 64}};
    static uint8_t buf[64] __attribute__((aligned(64)));
    for (int si = 0; si < 4; si++) {
        for (int bn = 128; bn <= 256; bn += 64) {
            qg_problem p;
            qg_problem_init(&p);
            p.scheme = QG_SCHEME_W8A8_FP8;
            p.m = shapes[si][0], p.n = shapes[si][1], p.k = shapes[si][2];
            qg_gemm_args g;
            qg_gemm_args_init(&g);
            g.a = buf;
            g.w.weight = buf + 32;
            g.lda = shapes[si][3];
            qg_tmap_2d a, w;
            qg_w8a8_ws_tmaps(&p, &g, bn, &a, &w);
            char why[160];
            QT_CHECK(qg_tmap_2d_valid(&a, why, sizeof why), "A map %d/%d: %s", si, bn, why);
            QT_CHECK(qg_tmap_2d_valid(&w, why, sizeof why), "W map %d/%d: %s", si, bn, why);
            qg_tmap_encode_args ea, ew;
            qg_tmap_2d_encode_args(&a, &ea);
            qg_tmap_2d_encode_args(&w, &ew);
            QT_CHECK(ea.data_type == CU_TENSOR_MAP_DATA_TYPE_UINT8 && ea.rank == 2 &&
                         ea.global_address == buf && ea.global_dim[0] == (uint64_t)p.k &&
                         ea.global_dim[1] == (uint64_t)p.m &&
                         ea.global_strides[0] == (uint64_t)g.lda && ea.box_dim[0] == 128 &&
                         ea.box_dim[1] == QG_WS_BM && ea.element_strides[0] == 1 &&
                         ea.element_strides[1] == 1,
                     "A encode args (shape %d)", si);
            QT_CHECK(ew.data_type == CU_TENSOR_MAP_DATA_TYPE_UINT8 && ew.rank == 2 &&
                         ew.global_address == buf + 32 && ew.global_dim[0] == (uint64_t)p.k &&
                         ew.global_dim[1] == (uint64_t)p.n && ew.global_strides[0] == (uint64_t)p.k &&
                         ew.box_dim[0] == 128 && ew.box_dim[1] == (uint32_t)bn,
                     "W encode args (shape %d, bn %d)", si, bn);
            for (int i = 0; i < 2; i++) {
                const qg_tmap_encode_args *e = i ? &ew : &ea;
                QT_CHECK(e->swizzle == CU_TENSOR_MAP_SWIZZLE_128B &&
                             e->interleave == CU_TENSOR_MAP_INTERLEAVE_NONE &&
                             e->oob_fill == CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE &&
                             e->l2_promotion == CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                         "map %d: swizzle/interleave/oob/l2", i);
            }
            /* the full barrier expects exactly the bytes of the two boxes */
            QT_CHECK(a.box[0] * a.box[1] + w.box[0] * w.box[1] == qg_ws_stage_bytes(bn),
                     "expect_tx %u != box bytes", qg_ws_stage_bytes(bn));
        }
    }
    /* refusals */
    qg_tmap_2d ok = {.base = buf,
                     .dim = {64, 10},
                     .row_stride = 64,
                     .box = {64, 8},
                     .elem_bytes = 1,
                     .swizzle = 128};
    char why[160];
    QT_CHECK(qg_tmap_2d_valid(&ok, why, sizeof why), "base case: %s", why);
    struct {
        const char *what;
        qg_tmap_2d d;
    } bad[] = {
        {"aligned", ok},        {"row stride", ok},  {"box dimension", ok},
        {"swizzle span", ok},   {"dimension 1", ok}, {"shorter than a row", ok},
        {"multiple of 16", ok},
    };
    bad[0].d.base = buf + 8;
    bad[1].d.row_stride = 72;
    bad[2].d.box[1] = 257;
    bad[3].d.box[0] = 160, bad[3].d.dim[0] = 160, bad[3].d.row_stride = 160;
    bad[4].d.dim[1] = 0;
    bad[5].d.row_stride = 48;
    bad[6].d.box[0] = 24;
    for (int i = 0; i < QG_ARRAY_SIZE(bad); i++) {
        why[0] = 0;
        QT_CHECK(!qg_tmap_2d_valid(&bad[i].d, why, sizeof why) && strstr(why, bad[i].what),
                 "bad map %d accepted or wrong reason (%s)", i, why);
    }
}

/* ---------------------------------------------------------------- 2. layout models */

/* Simulated shared memory: window address `lo` maps to mem[0]. */
typedef struct {
    uint8_t *mem;
    uint32_t lo, size;
} smem_t;

static uint8_t *sm_at(const smem_t *s, uint32_t addr) {
    if (addr < s->lo || addr >= s->lo + s->size) {
        QT_CHECK(0, "shared address 0x%x outside [0x%x, 0x%x)", addr, s->lo, s->lo + s->size);
        return s->mem; /* keep going; the failure is recorded */
    }
    return s->mem + (addr - s->lo);
}

/* Swizzle<3,4,3>: bits 7-9 of a byte address XORed into bits 4-6. */
static uint32_t swz128(uint32_t x) { return x ^ (((x >> 7) & 7u) << 4); }

/* TMA tile load of a 2-D UINT8 map with SWIZZLE_128B: box element (row i, byte j) lands at
 * dst + i * box_bytes + j with the 128-byte swizzle on the address; out-of-bounds reads 0. */
static void tma_load(const smem_t *s, uint32_t dst, const qg_tmap_encode_args *e, int c0, int c1) {
    QT_CHECK(dst % 1024 == 0, "TMA destination 0x%x not 1024-aligned (128B swizzle)", dst);
    QT_CHECK(e->swizzle == CU_TENSOR_MAP_SWIZZLE_128B &&
                 e->data_type == CU_TENSOR_MAP_DATA_TYPE_UINT8 &&
                 e->oob_fill == CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE,
             "map kind");
    const uint8_t *g = e->global_address;
    for (uint32_t i = 0; i < e->box_dim[1]; i++)
        for (uint32_t j = 0; j < e->box_dim[0]; j++) {
            const uint64_t r = (uint64_t)c1 + i, c = (uint64_t)c0 + j;
            const uint8_t v = (r < e->global_dim[1] && c < e->global_dim[0])
                                  ? g[r * e->global_strides[0] + c]
                                  : 0;
            *sm_at(s, swz128(dst + i * e->box_dim[0] + j)) = v;
        }
}

/* PTX ISA canonical K-major 128B-swizzle layout, 8-bit elements (T = 16): offset of (row r,
 * element kk) in a tile whose swizzle pattern starts at a 1024-byte boundary. */
static uint32_t canon_k128(int r, int kk, uint32_t sbo) {
    const uint32_t T = 16;
    const uint32_t off = (uint32_t)(r % 8) * 8 * T + (uint32_t)(r / 8) * sbo + (uint32_t)(kk % T) +
                         (uint32_t)(kk / T) * T;
    return off ^ ((off & (7u << 7)) >> 3);
}

/* wgmma's read of element (row r, byte c of the 32-byte k-step) through descriptor `d`. */
static int8_t desc_read(const smem_t *s, uint64_t d, int r, int c) {
    const uint32_t start = (uint32_t)(d & 0x3FFF) << 4;
    const uint32_t lbo = (uint32_t)(d >> 16) & 0x3FFF, sbo = ((uint32_t)(d >> 32) & 0x3FFF) << 4;
    const uint32_t base_off = (uint32_t)(d >> 49) & 7, mode = (uint32_t)(d >> 62);
    if (mode != 1 || base_off != 0 || sbo != 1024 || lbo != 1) {
        QT_CHECK(0, "descriptor %016llx: mode %u base offset %u sbo %u lbo %u",
                 (unsigned long long)d, mode, base_off, sbo, lbo);
        return 0;
    }
    return (int8_t)*sm_at(s, swz128(start + (uint32_t)(r / 8) * sbo + (uint32_t)(r % 8) * 128 +
                                    (uint32_t)c));
}

/* ---------------------------------------------------------------- 3. kernel emulation */

typedef struct {
    int m, n, k, lda, bn, st, fp8, grid;
} emu_case;

static void emulate(const emu_case *ec, qt_rng *rng) {
    const int M = ec->m, N = ec->n, K = ec->k, bn = ec->bn, st = ec->st;
    const int pn = QG_WS_PN(bn, ec->fp8);
    char tag[96];
    snprintf(tag, sizeof tag, "M=%d N=%d K=%d lda=%d bn=%d st=%d pn=%d grid=%d", M, N, K, ec->lda,
             bn, st, pn, ec->grid);
    int8_t *A = malloc((size_t)M * ec->lda), *W = malloc((size_t)N * K);
    for (size_t i = 0; i < (size_t)M * ec->lda; i++) A[i] = (int8_t)(qt_next(rng) & 0xff);
    for (size_t i = 0; i < (size_t)N * K; i++) W[i] = (int8_t)(qt_next(rng) & 0xff);

    qg_problem p;
    qg_problem_init(&p);
    p.scheme = ec->fp8 ? QG_SCHEME_W8A8_FP8 : QG_SCHEME_W8A8_INT8;
    p.m = M, p.n = N, p.k = K;
    qg_gemm_args g;
    qg_gemm_args_init(&g);
    g.a = A;
    g.w.weight = W;
    g.lda = ec->lda;
    qg_tmap_2d ta, tw;
    qg_w8a8_ws_tmaps(&p, &g, bn, &ta, &tw);
    qg_tmap_encode_args ea, ew;
    qg_tmap_2d_encode_args(&ta, &ea);
    qg_tmap_2d_encode_args(&tw, &ew);
    const int params[QG_MAX_PARAMS] = {bn, st};
    qg_w8a8_ws_geometry geo;
    qg_w8a8_ws_geometry_get(&p, params, ec->grid, &geo);

    /* the dynamic smem window starts 16 bytes past a 1024 boundary: the worst alignment */
    smem_t s = {malloc(geo.smem), 0x2010, geo.smem};
    const uint32_t base = (s.lo + 1023u) & ~1023u;
    QT_CHECK(base + qg_ws_bar_empty(bn, st, st - 1) + 8 <= s.lo + s.size,
             "%s: ring + barriers "
             "overflow the %u bytes launched",
             tag, geo.smem);
    QT_CHECK(qg_ws_bar_full(bn, st, 0) >= qg_ws_stage_a(bn, st - 1) + qg_ws_stage_bytes(bn) &&
                 qg_ws_bar_full(bn, st, 0) % 8 == 0,
             "%s: barriers overlap the stages", tag);

    const int tiles_m = (M + QG_WS_BM - 1) / QG_WS_BM, tiles_n = (N + bn - 1) / bn;
    const int nk = (K + QG_WS_BK - 1) / QG_WS_BK;
    QT_CHECK(geo.tiles == tiles_m * tiles_n &&
                 (int)geo.ctas == (geo.tiles < ec->grid ? geo.tiles : ec->grid),
             "%s: geometry", tag);
    int64_t *C = calloc((size_t)M * N, sizeof *C);
    int *writes = calloc((size_t)M * N, sizeof *writes);
    int *tile_seen = calloc((size_t)geo.tiles, sizeof *tile_seen);
    int64_t(*acc)[128][128] = malloc(sizeof(int64_t[2][128][128])); /* [wg][thread][bn/2] */
    int8_t(*ak)[32] = malloc(sizeof(int8_t[64][32]));
    int8_t(*bk)[32] = malloc(sizeof(int8_t[256][32]));
    int64_t(*d)[256] = malloc(sizeof(int64_t[64][256]));
    int canon_checked = 0;

    for (int b = 0; b < (int)geo.ctas; b++) {
        int stage = 0;
        for (int tile = b; tile < geo.tiles; tile += (int)geo.ctas) {
            int mb, nb;
            qg_ws_tile(tile, tiles_m, tiles_n, geo.group_m, &mb, &nb);
            if (!QT_CHECK(mb >= 0 && mb < tiles_m && nb >= 0 && nb < tiles_n,
                          "%s: tile %d -> (%d, %d)", tag, tile, mb, nb))
                continue;
            tile_seen[mb * tiles_n + nb]++;
            memset(acc, 0, sizeof(int64_t[2][128][128]));
            for (int kb = 0; kb < nk; kb++) {
                memset(s.mem, 0xA5, s.size); /* stale bytes must never be read */
                const uint32_t sa = base + qg_ws_stage_a(bn, stage),
                               sb = base + qg_ws_stage_b(bn, stage);
                tma_load(&s, sa, &ea, kb * QG_WS_BK, mb * QG_WS_BM);
                tma_load(&s, sb, &ew, kb * QG_WS_BK, nb * bn);
                if (canon_checked < 3) { /* the stage image is the canonical layout */
                    canon_checked++;
                    for (int r = 0; r < QG_WS_BM + bn; r++)
                        for (int kk = 0; kk < 128; kk++) {
                            const int is_a = r < QG_WS_BM, rr = is_a ? r : r - QG_WS_BM;
                            const int64_t grow = (int64_t)(is_a ? mb * QG_WS_BM : nb * bn) + rr;
                            const int gk = kb * QG_WS_BK + kk;
                            const int8_t want = (grow < (is_a ? M : N) && gk < K)
                                                    ? (is_a ? A[grow * ec->lda + gk]
                                                            : W[grow * K + gk])
                                                    : 0;
                            const uint8_t got = *sm_at(&s, (is_a ? sa : sb) +
                                                               canon_k128(rr, kk, QG_WS_SBO));
                            if (got != (uint8_t)want) {
                                QT_CHECK(0, "%s: stage image != canonical layout at %s row %d k %d",
                                         tag, is_a ? "A" : "W", rr, kk);
                                r = QG_WS_BM + bn, kk = 128;
                            }
                        }
                }
                for (int wg = 0; wg < QG_WS_CONSUMERS; wg++)
                    for (int h = 0; h < bn / pn; h++) {
                        memset(d, 0, sizeof(int64_t[64][256]));
                        const uint64_t da = qg_ws_desc(sa + qg_ws_a_wg_offset(wg));
                        const uint64_t db = qg_ws_desc(sb + qg_ws_b_chunk_offset(pn, h));
                        for (int j = 0; j < QG_WS_BK / QG_WS_KSTEP; j++) {
                            const uint64_t daj = qg_ws_desc_k(da, j), dbj = qg_ws_desc_k(db, j);
                            for (int r = 0; r < 64; r++)
                                for (int c = 0; c < 32; c++) ak[r][c] = desc_read(&s, daj, r, c);
                            for (int r = 0; r < pn; r++)
                                for (int c = 0; c < 32; c++) bk[r][c] = desc_read(&s, dbj, r, c);
                            for (int r = 0; r < 64; r++)
                                for (int n = 0; n < pn; n++) {
                                    int64_t sum = 0;
                                    for (int c = 0; c < 32; c++)
                                        sum += (int64_t)ak[r][c] * bk[n][c];
                                    d[r][n] += sum;
                                }
                        }
                        /* the partial's fragments, added into the tile accumulator */
                        for (int t = 0; t < 128; t++)
                            for (int i = 0; i < pn / 2; i++)
                                acc[wg][t][h * (pn / 2) + i] +=
                                    d[qg_ws_acc_row(t / 32, t % 32, i)][qg_ws_acc_col(t % 32, i)];
                    }
                stage = (stage + 1) % st;
            }
            /* epilogue: per quad, the transpose by rounds of shuffles, then 8-column stores */
            for (int wg = 0; wg < QG_WS_CONSUMERS; wg++)
                for (int q = 0; q < 128; q += 4)
                    for (int gcol = 0; gcol < bn / 32; gcol++)
                        for (int half = 0; half < 2; half++) {
                            int64_t x[4][4][2], y[4][4][2]; /* [lane][word][element] */
                            for (int t = 0; t < 4; t++)
                                for (int jw = 0; jw < 4; jw++) {
                                    const int i = 4 * (4 * gcol + jw) + 2 * half;
                                    x[t][jw][0] = acc[wg][q + t][i];
                                    x[t][jw][1] = acc[wg][q + t][i + 1];
                                }
                            for (int r = 0; r < 4; r++) {
                                int64_t sent[4][2];
                                for (int t = 0; t < 4; t++)
                                    memcpy(sent[t], x[t][qg_ws_xpose_send(t, r)], sizeof sent[t]);
                                for (int t = 0; t < 4; t++)
                                    memcpy(y[t][qg_ws_xpose_dst(t, r)], sent[qg_ws_xpose_src(t, r)],
                                           sizeof sent[t]);
                            }
                            for (int t = 0; t < 4; t++) {
                                const int lane = (q + t) % 32, warp = (q + t) / 32;
                                const int row = mb * QG_WS_BM + 64 * wg +
                                                qg_ws_acc_row(warp, lane, 2 * half);
                                const int col = nb * bn + qg_ws_store_col(lane, gcol);
                                if (row >= M || col >= N) continue;
                                for (int e = 0; e < 8; e++)
                                    if (col + e < N) {
                                        C[(size_t)row * N + col + e] = y[t][e >> 1][e & 1];
                                        writes[(size_t)row * N + col + e]++;
                                    }
                            }
                        }
        }
    }
    int bad = 0;
    for (int i = 0; i < geo.tiles; i++) bad += tile_seen[i] != 1;
    QT_CHECK(!bad, "%s: %d tiles not visited exactly once", tag, bad);
    bad = 0;
    for (int m = 0; m < M && bad < 4; m++)
        for (int n = 0; n < N && bad < 4; n++) {
            int64_t want = 0;
            for (int kk = 0; kk < K; kk++)
                want += (int64_t)A[(size_t)m * ec->lda + kk] * W[(size_t)n * K + kk];
            if (writes[(size_t)m * N + n] != 1 || C[(size_t)m * N + n] != want) {
                bad++;
                QT_CHECK(0, "%s: C[%d][%d] = %lld (written %d times), want %lld", tag, m, n,
                         (long long)C[(size_t)m * N + n], writes[(size_t)m * N + n], (long long)want);
            }
        }
    free(A);
    free(W);
    free(s.mem);
    free(C);
    free(writes);
    free(tile_seen);
    free(acc);
    free(ak);
    free(bk);
    free(d);
}

static void test_emulation(qt_rng *rng) {
    static const int shapes[][5] = {                         /* m, n, k, lda, grid */
                                    {150, 300, 272, 288, 3}, /* K tail, padded lda, 2+ tiles/CTA */
                                    {33, 43, 16, 16, 132},   /* one 16-byte K unit, WG 1 idle */
                                    {300, 200, 128, 128, 2}, /* 3 M tiles in one group */
                                    {2181, 20, 16, 16, 7}};  /* 18 M tiles: groups 16 + 2 */
    for (int si = 0; si < 4; si++)
        for (int vi = 0; vi < 4; vi++) {
            static const int vs[4][3] = {{128, 6, 0}, {192, 5, 1}, {256, 4, 0}, {256, 4, 1}};
            const emu_case ec = {shapes[si][0], shapes[si][1], shapes[si][2], shapes[si][3],
                                 vs[vi][0],     vs[vi][1],     vs[vi][2],     shapes[si][4]};
            emulate(&ec, rng);
        }
}

/* Descriptor fields and k-steps in isolation (what the models above rely on). */
static void test_descriptors(void) {
    const uint32_t addr = 0x1C400; /* 1024-aligned, above 64 KB */
    const uint64_t d = qg_ws_desc(addr);
    QT_CHECK((d & 0x3FFF) == addr >> 4 && ((d >> 16) & 0x3FFF) == 1 && ((d >> 32) & 0x3FFF) == 64 &&
                 ((d >> 49) & 7) == 0 && (d >> 62) == 1,
             "descriptor fields %016llx", (unsigned long long)d);
    for (int j = 0; j < 4; j++)
        QT_CHECK(qg_ws_desc_k(d, j) == qg_ws_desc(addr + 32u * (uint32_t)j), "k-step %d", j);
    for (int bn = 128; bn <= 256; bn += 64)
        for (int s = 0; s < 6; s++)
            QT_CHECK(qg_ws_stage_a(bn, s) % 1024 == 0 && qg_ws_stage_b(bn, s) % 1024 == 0 &&
                         qg_ws_a_wg_offset(1) % 1024 == 0 && qg_ws_b_chunk_offset(128, 1) % 1024 == 0,
                     "1024-byte alignment of stage tiles (bn %d, stage %d)", bn, s);
    /* accumulator fragment: every (row, col) of a 64 x 256 tile exactly once */
    static int hits[64][256];
    memset(hits, 0, sizeof hits);
    for (int t = 0; t < 128; t++)
        for (int i = 0; i < 128; i++)
            hits[qg_ws_acc_row(t / 32, t % 32, i)][qg_ws_acc_col(t % 32, i)]++;
    int bad = 0;
    for (int r = 0; r < 64; r++)
        for (int c = 0; c < 256; c++) bad += hits[r][c] != 1;
    QT_CHECK(!bad, "fragment map covers %d cells wrongly", bad);
}

/* The persistent tile order is a bijection onto the (m, n) tiles for any group size. */
static void test_tile_order(void) {
    static int seen[40 * 7];
    int bad = 0;
    for (int tm = 1; tm <= 40; tm++)
        for (int tn = 1; tn <= 7; tn++)
            for (int gm = 1; gm <= 17; gm++) {
                memset(seen, 0, sizeof seen);
                for (int t = 0; t < tm * tn; t++) {
                    int mb, nb;
                    qg_ws_tile(t, tm, tn, gm, &mb, &nb);
                    if (mb < 0 || mb >= tm || nb < 0 || nb >= tn || seen[mb * tn + nb]++) bad++;
                }
            }
    QT_CHECK(!bad, "tile order: %d tiles out of range or repeated", bad);
    /* groups of group_m consecutive M tiles share an N tile: tiles 0..gm-1 are one column */
    int mb, nb;
    qg_ws_tile(5, 32, 16, 16, &mb, &nb);
    QT_CHECK(mb == 5 && nb == 0, "tile 5 of 32x16 (group 16) is (%d, %d)", mb, nb);
    qg_ws_tile(16, 32, 16, 16, &mb, &nb);
    QT_CHECK(mb == 0 && nb == 1, "tile 16 of 32x16 (group 16) is (%d, %d)", mb, nb);
}

/* ---------------------------------------------------------------- 4. mbarrier protocol */

typedef struct {
    int completed; /* phases completed */
    int pending;   /* arrivals (full: + TMA loads) still missing in the current phase */
    int count;
} mbar;

static int bar_passed(const mbar *b, int parity) { return parity != (b->completed & 1); }
static void bar_done_one(mbar *b) {
    if (--b->pending == 0) b->completed++, b->pending = b->count;
}

enum { NWARPS = QG_WS_EMPTY_ARRIVALS, MAXST = 8 };

typedef struct { /* one consumer warp, mirroring the kernel's loop */
    int tile_i, kb, s, phase, prev, state, done;
    int inflight[4], ninflight; /* stages of the issued, unfinished wgmma groups, oldest first */
    int use[MAXST];             /* generations of each stage this warp has read */
} cwarp;

typedef struct {
    int st, tiles, nk, int8;
    mbar full[MAXST], empty[MAXST];
    int gen_written[MAXST], gen_landed[MAXST], released[MAXST][NWARPS];
    int p_tile, p_kb, p_s, p_phase, p_done; /* the producer thread */
    int tma[64][2], ntma;                   /* issued box loads: {stage, loads left} */
    cwarp w[NWARPS];
    char tag[64];
} proto;

/* Let actor `a` take one step if it can (0 producer, 1..8 consumer warps, 9 a TMA completion,
 * 10..17 the oldest wgmma group of warp a-10 completing). Returns whether it moved. */
static int proto_step(proto *P, int a, qt_rng *rng) {
    if (a == 0) {
        if (P->p_done || !bar_passed(&P->empty[P->p_s], P->p_phase ^ 1)) return 0;
        const int s = P->p_s;
        /* refilling stage s: every warp has released the previous generation, none reads it */
        for (int i = 0; i < NWARPS; i++) {
            QT_CHECK(P->released[s][i] == P->gen_written[s],
                     "%s: stage %d refilled before warp "
                     "%d released it",
                     P->tag, s, i);
            for (int f = 0; f < P->w[i].ninflight; f++)
                QT_CHECK(P->w[i].inflight[f] != s,
                         "%s: stage %d refilled under an in-flight "
                         "wgmma of warp %d",
                         P->tag, s, i);
        }
        P->gen_written[s]++;
        P->full[s].pending += 2; /* arrive.expect_tx: its own arrival, plus two loads' bytes */
        bar_done_one(&P->full[s]);
        P->tma[P->ntma][0] = s, P->tma[P->ntma][1] = 2, P->ntma++;
        if (++P->p_s == P->st) P->p_s = 0, P->p_phase ^= 1;
        if (++P->p_kb == P->nk) P->p_kb = 0, P->p_done = ++P->p_tile == P->tiles;
        return 1;
    }
    if (a == 9) {
        if (P->ntma == 0) return 0;
        const int i = (int)(qt_next(rng) % (unsigned)P->ntma), s = P->tma[i][0];
        if (--P->tma[i][1] == 0) {
            P->gen_landed[s]++;
            P->tma[i][0] = P->tma[P->ntma - 1][0], P->tma[i][1] = P->tma[P->ntma - 1][1];
            P->ntma--;
        }
        bar_done_one(&P->full[s]);
        return 1;
    }
    if (a >= 10) {
        cwarp *c = &P->w[a - 10];
        if (c->ninflight == 0) return 0;
        memmove(c->inflight, c->inflight + 1, sizeof(int) * (size_t)(c->ninflight - 1));
        c->ninflight--;
        return 1;
    }
    const int wi = a - 1;
    cwarp *c = &P->w[wi];
    if (c->done) return 0;
    if (c->state == 0) { /* wait full[s]; issue the stage's wgmma group */
        if (!bar_passed(&P->full[c->s], c->phase)) return 0;
        const int g = ++c->use[c->s];
        QT_CHECK(P->gen_landed[c->s] == g && P->gen_written[c->s] == g,
                 "%s: warp %d reads stage "
                 "%d generation %d; landed %d, written %d",
                 P->tag, wi, c->s, g, P->gen_landed[c->s], P->gen_written[c->s]);
        c->inflight[c->ninflight++] = c->s;
        c->state = 1;
    } else if (c->state == 1) { /* wgmma.wait_group (s8: 1, e4m3: 0), then release a stage */
        if (c->ninflight > (P->int8 ? 1 : 0)) return 0;
        if (!P->int8 || c->kb > 0) {
            const int rel = P->int8 ? c->prev : c->s;
            P->released[rel][wi]++;
            bar_done_one(&P->empty[rel]);
        }
        c->prev = c->s;
        if (++c->s == P->st) c->s = 0, c->phase ^= 1;
        c->state = ++c->kb == P->nk ? 2 : 0;
    } else { /* end of the tile: s8 waits for its last group and releases that stage */
        if (P->int8) {
            if (c->ninflight > 0) return 0;
            P->released[c->prev][wi]++;
            bar_done_one(&P->empty[c->prev]);
        }
        c->kb = 0;
        c->state = 0;
        c->done = ++c->tile_i == P->tiles;
    }
    return 1;
}

/* `slow`: a wgmma completion is taken only once in `slow` random picks (long-running groups
 * are what exposes an early release). */
static void protocol_run(int st, int tiles, int nk, int int8, int slow, qt_rng *rng) {
    proto *P = calloc(1, sizeof *P);
    P->st = st, P->tiles = tiles, P->nk = nk, P->int8 = int8;
    for (int s = 0; s < st; s++) {
        P->full[s] = (mbar){0, 1, 1};
        P->empty[s] = (mbar){0, NWARPS, NWARPS};
    }
    P->p_done = tiles == 0;
    for (int i = 0; i < NWARPS; i++) P->w[i].done = tiles == 0;
    snprintf(P->tag, sizeof P->tag, "protocol st=%d tiles=%d nk=%d %s slow %d", st, tiles, nk,
             int8 ? "s8" : "e4m3", slow);
    for (;;) {
        int all_done = P->p_done && P->ntma == 0;
        for (int i = 0; i < NWARPS; i++) all_done &= P->w[i].done;
        if (all_done) break;
        int moved = 0;
        for (int tries = 0; tries < 32 && !moved; tries++) {
            const int a = (int)(qt_next(rng) % 18);
            if (a < 10 || qt_next(rng) % (unsigned)slow == 0) moved = proto_step(P, a, rng);
        }
        for (int a = 0; a < 18 && !moved; a++) moved = proto_step(P, a, rng);
        if (!QT_CHECK(moved, "%s: deadlock", P->tag)) break;
    }
    free(P);
}

static void test_protocol(qt_rng *rng) {
    for (int rep = 0; rep < 60; rep++) {
        const int st = 2 + (int)(qt_next(rng) % 5), tiles = (int)(qt_next(rng) % 4);
        const int nk = 1 + (int)(qt_next(rng) % 9);
        protocol_run(st, tiles, nk, rep & 1, 1 << (rep % 3 * 3), rng);
    }
}

/* ---------------------------------------------------------------- 5. fake-driver launch */

static void test_fake_launch(void) {
    setenv("QGEMM_CUDA_LIBRARY", QG_FAKE_CUDA, 1);
    setenv("FAKE_CUDA_CC", "90", 1);
    qg_context_params cp;
    qg_context_params_init(&cp);
    cp.backend = QG_BACKEND_CUDA;
    cp.disable_disk_cache = 1;
    qg_context *ctx = NULL;
    if (!QT_CHECK(qg_context_create(&ctx, &cp) == QG_SUCCESS, "fake context: %s", qg_last_error(NULL)))
        return;
    void *h = dlopen(QG_FAKE_CUDA, RTLD_NOW | RTLD_NOLOAD);
    void (*capture)(const int *, int) =
        h ? (void (*)(const int *, int))dlsym(h, "fake_cuda_capture_params") : NULL;
    const unsigned char *(*captured)(unsigned *) =
        h ? (const unsigned char *(*)(unsigned *))dlsym(h, "fake_cuda_captured") : NULL;
    if (!QT_CHECK(capture && captured, "fake driver capture hooks")) {
        qg_context_destroy(ctx);
        return;
    }
    /* the kernel's parameters: 2 maps, w_scale, a_scale, bias, c, ldc, M, N, K, group_m, flags */
    static const int sizes[] = {128, 128, 8, 8, 8, 8, 8, 4, 4, 4, 4, 4};
    capture(sizes, QG_ARRAY_SIZE(sizes));

    const int64_t M = 300, N = 1000, K = 2064, lda = 2096, ldc = 1008;
    void *a, *as, *w, *ws, *bias, *c;
    QT_OK(qg_malloc(ctx, &a, (size_t)(M * lda)));
    QT_OK(qg_malloc(ctx, &as, sizeof(float) * (size_t)M));
    QT_OK(qg_malloc(ctx, &w, (size_t)(N * K)));
    QT_OK(qg_malloc(ctx, &ws, sizeof(float) * (size_t)N));
    QT_OK(qg_malloc(ctx, &bias, 2 * (size_t)N));
    QT_OK(qg_malloc(ctx, &c, 2 * (size_t)(M * ldc)));
    for (int f = 0; f < 2; f++) {
        qg_problem p;
        qg_problem_init(&p);
        p.scheme = f ? QG_SCHEME_W8A8_INT8 : QG_SCHEME_W8A8_FP8;
        p.m = M, p.n = N, p.k = K;
        p.has_bias = 1;
        p.out_dtype = QG_DTYPE_F16;
        qg_gemm_args g;
        qg_gemm_args_init(&g);
        g.a = a, g.a_scale = as, g.w.weight = w, g.w.scale = ws, g.bias = bias, g.c = c;
        g.lda = lda, g.ldc = ldc;
        const char *id = f ? "w8a8_int8_wgmma_ws.bn256.st4" : "w8a8_fp8_wgmma_ws.bn192.st5";
        const int bn = f ? 256 : 192, st = f ? 4 : 5;
        if (!QT_CHECK(qg_gemm_with_kernel(ctx, &p, &g, id, NULL) == QG_SUCCESS, "%s: %s", id,
                      qg_last_error(ctx)))
            continue;
        unsigned geo[7];
        const unsigned char *b = captured(geo);
        const unsigned tiles = (unsigned)(((M + 127) / 128) * ((N + bn - 1) / bn));
        QT_CHECK(geo[0] == (tiles < 132 ? tiles : 132) && geo[1] == 1 && geo[2] == 1 &&
                     geo[3] == 384 && geo[4] == 1 && geo[5] == 1 &&
                     geo[6] == qg_ws_smem_bytes(bn, st),
                 "%s: launched %u x %u x %u, block %u, smem %u", id, geo[0], geo[1], geo[2], geo[3],
                 geo[6]);
        for (int i = 0; i < 2; i++) {
            fake_tmap t;
            memcpy(&t, b + 128 * i, sizeof t);
            const uint64_t rows = i ? (uint64_t)N : (uint64_t)M,
                           stride = i ? (uint64_t)K : (uint64_t)lda;
            QT_CHECK(t.magic == FAKE_TMAP_MAGIC && t.address == (uint64_t)(uintptr_t)(i ? w : a) &&
                         t.dim[0] == (uint64_t)K && t.dim[1] == rows && t.stride == stride &&
                         t.box[0] == 128 && t.box[1] == (uint32_t)(i ? bn : 128) &&
                         t.estride[0] == 1 && t.estride[1] == 1 &&
                         t.data_type == CU_TENSOR_MAP_DATA_TYPE_UINT8 && t.rank == 2 &&
                         t.swizzle == CU_TENSOR_MAP_SWIZZLE_128B &&
                         t.oob == CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE &&
                         t.interleave == CU_TENSOR_MAP_INTERLEAVE_NONE,
                     "%s: tensor map %d as encoded by the driver", id, i);
        }
        uint64_t ptrs[4];
        int64_t ldc_k;
        int32_t ints[5];
        memcpy(ptrs, b + 256, sizeof ptrs);
        memcpy(&ldc_k, b + 288, sizeof ldc_k);
        memcpy(ints, b + 296, sizeof ints);
        QT_CHECK(ptrs[0] == (uint64_t)(uintptr_t)ws && ptrs[1] == (uint64_t)(uintptr_t)as &&
                     ptrs[2] == (uint64_t)(uintptr_t)bias && ptrs[3] == (uint64_t)(uintptr_t)c,
                 "%s: pointer arguments", id);
        QT_CHECK(ldc_k == ldc && ints[0] == M && ints[1] == N && ints[2] == K && ints[3] == 3,
                 "%s: ldc %lld M %d N %d K %d group_m %d", id, (long long)ldc_k, ints[0], ints[1],
                 ints[2], ints[3]);
        /* f16 out, bias, per-row scales, 4-byte pairs and 16-byte rows (ldc % 8 == 0) */
        QT_CHECK(ints[4] == (1 | 2 | 16 | 32), "%s: flags %d", id, ints[4]);

        /* lda not a multiple of 16: refused before any map is built */
        g.lda = lda + 8;
        QT_STATUS(qg_gemm_with_kernel(ctx, &p, &g, id, NULL), QG_ERR_INVALID_ARGUMENT);
        /* the heuristic picks some regular (hardware-validated) family for a large prefill */
        p.m = 4096;
        const qg_variant *v = NULL;
        qg_dispatch_level level;
        QT_OK(qg_dispatch_heuristic(ctx, &p, QG_OP_GEMM, &v));
        (void)level;
        QT_CHECK(v && !v->family->experimental, "heuristic picked %s", v ? v->id : "nothing");
        /* K not a multiple of 16 is refused by supports() */
        char why[128];
        p.k = 72;
        QT_CHECK(!qg_variant_fits(qg_catalog_find(id), &p, QG_OP_GEMM, 90, why, sizeof why),
                 "K %% 16");
        p.k = K;
        QT_CHECK(!qg_variant_fits(qg_catalog_find(id), &p, QG_OP_GEMM, 89, why, sizeof why), "sm_89");
    }
    qg_free(ctx, a);
    qg_free(ctx, as);
    qg_free(ctx, w);
    qg_free(ctx, ws);
    qg_free(ctx, bias);
    qg_free(ctx, c);
    if (h) dlclose(h);
    qg_context_destroy(ctx);
}

int main(void) {
    qt_rng rng;
    qt_seed(&rng, qt_test_seed());
    test_tensor_maps();
    test_descriptors();
    test_tile_order();
    test_emulation(&rng);
    test_protocol(&rng);
    test_fake_launch();
    return qt_finish("test_w8a8_ws");
}
