/* Self-test of the wgmma engine (emu_wgmma.cpp) on its own, before the kernels rely on it: one
 * warpgroup runs four chained mma_async (scale-d 0, then 1) over a 64 x 4K A and an N x 4K B
 * written into emulated shared memory by this file's own placement code (128-byte swizzle, or
 * core matrices without swizzle), in the SS form and in the RS form (A registers built here from
 * the ISA's fragment figures), for every operand type; each thread's accumulator fragment is
 * compared with a plain float64 / int64 product whose element decoding is independent of the
 * engine's (qg_act_decode for e4m3, f16 bits for e5m2). A last case changes an A register
 * before wait_group and expects the engine to report it. Then the sparse form (sp_selftest) and
 * the TMA model of emu_tma.cpp (tma_selftest), each against this file's own placement. */
extern "C" {
#include "internal.h"
#include "schemes.h"
}
#include "emu_rt.h"
#include "emu_tma.h"
#include "emu_wgmma.h"
#include <cuda.h> /* the CUtensorMap* enum values of an emulated map */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>

namespace {

enum { ROWS_A = 64, BYTES_ROW = 128, STEPS = 4 };

struct st_case {
    int type, n, swizzle, rs, clobber;
    uint8_t a[ROWS_A][BYTES_ROW]; /* row-major, K-major: element k at bytes eb * k */
    uint8_t b[256][BYTES_ROW];
    uint32_t d[128][128]; /* each thread's accumulator fragment after the wait */
};

int eb_of(int type) { return type <= EMU_WG_BF16 ? 2 : 1; }

/* Shared-memory byte offset of byte `kb` of row r: 128B swizzle (16-byte chunk c of row r at
 * chunk c ^ (r % 8), 8-row atoms of 1 KB) or core matrices of 8 rows x 16 bytes (LBO 128 between
 * them along K, SBO 1024 between 8-row groups). */
uint32_t place(int swizzle, int r, int kb) {
    if (swizzle)
        return (uint32_t)((r / 8) * 1024 + (r % 8) * 128 + (((kb / 16) ^ (r % 8)) << 4) + kb % 16);
    return (uint32_t)((r / 8) * 1024 + (kb / 16) * 128 + (r % 8) * 16 + kb % 16);
}

uint64_t desc(int swizzle, uint32_t addr) {
    return (uint64_t)((addr >> 4) & 0x3FFF) | (uint64_t)(swizzle ? 1 : 128 >> 4) << 16 |
           (uint64_t)(1024 >> 4) << 32 | (uint64_t)(swizzle ? 1 : 0) << 62;
}

const uint32_t A_OFF = 0, B_OFF = 8192;

void kernel(const void *pv) {
    st_case &c = *(st_case *)pv;
    const int tid = threadIdx.x, w = tid >> 5, g = (tid & 31) >> 2, t = tid & 3;
    if (tid == 0) {
        for (int r = 0; r < ROWS_A; r++)
            for (int kb = 0; kb < BYTES_ROW; kb++)
                emu_smem[A_OFF + place(c.swizzle, r, kb)] = c.a[r][kb];
        for (int r = 0; r < c.n; r++)
            for (int kb = 0; kb < BYTES_ROW; kb++)
                emu_smem[B_OFF + place(c.swizzle, r, kb)] = c.b[r][kb];
    }
    emu_syncthreads();
    float f[128];
    int32_t s[128];
    uint32_t regs[STEPS][4];
    const int isint = c.type == EMU_WG_S8 || c.type == EMU_WG_U8;
    emu_wgmma_fence();
    for (int st = 0; st < STEPS; st++) {
        /* one instruction covers 32 bytes of K: +32 bytes inside a swizzled row, +2 core
         * matrices (256 bytes) without swizzle */
        const uint32_t adv = c.swizzle ? 32u * st : 256u * st;
        const uint64_t da = desc(c.swizzle, A_OFF + adv), db = desc(c.swizzle, B_OFF + adv);
        /* A fragment: rows 16w + g (+8); bytes 4t.. and 16 + 4t.. of the step's 32 (16-bit:
         * elements 2t, 2t + 8 of a k16 step; 8-bit: 4t, 16 + 4t of a k32 step) */
        for (int h = 0; h < 2; h++)
            for (int hi = 0; hi < 2; hi++) {
                const int kb = 32 * st + 4 * t + 16 * hi;
                memcpy(&regs[st][h + 2 * hi], &c.a[16 * w + g + 8 * h][kb], 4);
            }
        if (isint) {
            if (c.rs) emu_wgmma_mma_rs_s32(s, c.n, regs[st], db, st > 0, c.type);
            else emu_wgmma_mma_s32(s, c.n, da, db, st > 0, c.type);
        } else {
            if (c.rs) emu_wgmma_mma_rs(f, c.n, regs[st], db, st > 0, c.type);
            else emu_wgmma_mma(f, c.n, da, db, st > 0, c.type, 0, 0);
        }
    }
    emu_wgmma_commit();
    if (c.clobber && tid == 5) regs[2][1] ^= 1u; /* must be reported at the wait */
    emu_wgmma_wait(0);
    if (isint) memcpy(c.d[tid], s, 4 * (c.n / 2));
    else memcpy(c.d[tid], f, 4 * (c.n / 2));
}

uint64_t rng = 0x9E3779B97F4A7C15ull;
uint32_t next() {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

/* A random element's bits: finite, |value| <= ~448 for fp8, in [-2, 2] for 16-bit types. */
uint32_t rand_elem(int type) {
    for (;;) {
        const uint32_t r = next();
        switch (type) {
        case EMU_WG_F16: return qg_f32_to_f16((float)((int)(r % 4001) - 2000) / 1000.0f);
        case EMU_WG_BF16: return qg_f32_to_bf16((float)((int)(r % 4001) - 2000) / 1000.0f);
        case EMU_WG_E4M3:
            if ((r & 0x7f) == 0x7f) continue; /* NaN */
            return r & 0xff;
        case EMU_WG_E5M2:
            if ((r & 0x7c) == 0x7c) continue; /* inf / NaN */
            return r & 0xff;
        default: return r & 0xff;
        }
    }
}

/* The reference's decoding, independent of the engine's. */
double ref_value(const uint8_t *p, int type) {
    switch (type) {
    case EMU_WG_F16: return qg_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
    case EMU_WG_BF16: return qg_bf16_to_f32((uint16_t)(p[0] | p[1] << 8));
    case EMU_WG_E4M3: return qg_act_decode(QG_DTYPE_FP8_E4M3, p, 0);
    case EMU_WG_E5M2: return qg_f16_to_f32((uint16_t)(p[0] << 8)); /* e5m2 = top byte of f16 */
    case EMU_WG_S8: return (int8_t)p[0];
    default: return p[0];
    }
}

const char *type_name(int type) {
    static const char *names[] = {"?", "f16", "bf16", "e4m3", "e5m2", "s8", "u8"};
    return names[type];
}

/* The accumulator fragments d[thread] of D = A (64 rows) * B^T (n rows), both BYTES_ROW bytes of
 * K per row, against a float64 / int64 product: how many are wrong (beyond 4 f32 ulps of the
 * sum of |products|; exact for s8 / u8). Thread t of the warpgroup, warp w = t / 32, lane
 * 4g + q: d[4i + 2h + e] = D[16w + g + 8h][8i + 2q + e]. */
int wrong_accumulators(const uint8_t (*a)[BYTES_ROW], const uint8_t (*b)[BYTES_ROW],
                       const uint32_t (*d)[128], int n, int type) {
    const int eb = eb_of(type), isint = type >= EMU_WG_S8;
    int wrong = 0;
    for (int tid = 0; tid < 128; tid++) {
        const int w = tid >> 5, g = (tid & 31) >> 2, t = tid & 3;
        for (int i = 0; i < n / 8; i++)
            for (int h = 0; h < 2; h++)
                for (int e = 0; e < 2; e++) {
                    const int row = 16 * w + g + 8 * h, col = 8 * i + 2 * t + e;
                    double sum = 0, mag = 0;
                    for (int kb = 0; kb < BYTES_ROW; kb += eb) {
                        const double p = ref_value(&a[row][kb], type) * ref_value(&b[col][kb], type);
                        sum += p, mag += fabs(p);
                    }
                    const uint32_t bits = d[tid][4 * i + 2 * h + e];
                    double got, lim;
                    if (isint) got = (int32_t)bits, lim = 0;
                    else {
                        float fv;
                        memcpy(&fv, &bits, 4);
                        got = fv, lim = 4 * ldexp(mag, -24) + 1e-30;
                    }
                    if (!(fabs(got - sum) <= lim)) wrong++;
                }
    }
    return wrong;
}

/* ---- the sparse form (wgmma.mma_async.sp) ----
 * One warpgroup runs two chained sparse mma_async (scale-d 0, then 1) over a 2:4 sparse 64 x 2K
 * A (K = 32 for 16-bit types, 64 for 8-bit ones) and an N x 2K B; A is drawn dense with two
 * random non-zero positions per chunk of 4, compressed here (64 x K per row, the two kept values
 * of each chunk in order) and placed like the dense test's operands; each thread's metadata
 * register is written here from the ISA's figures, seen from the writer's side (which chunks a
 * lane holds): 16-bit k32: lane 4g + t holds, for selector t / 2 (the first instruction uses
 * thread pair 0, the second pair 1, from the same register), chunks 4 (t % 2) .. + 3 of rows g
 * (bits 0-15) and g + 8 (bits 16-31), 4 bits each; 8-bit k64: lane 4g + t holds chunks
 * 8 (t / 2) .. + 7 of row g + 8 (t % 2), one register per instruction. The result is compared
 * with the dense product. Two more cases must be reported by the engine: a metadata register
 * changed before wait_group, and an invalid nibble (equal indices). */
struct sp_case {
    int type, n, swizzle, clobber;
    uint8_t a[ROWS_A][BYTES_ROW];      /* dense A: 2 instructions x 64 bytes of K */
    uint8_t ac[ROWS_A][BYTES_ROW / 2]; /* compressed */
    uint8_t nib[ROWS_A][32];           /* metadata nibble of each chunk (16 or 32 chunks) */
    uint8_t b[256][BYTES_ROW];
    uint32_t d[128][128];
};

void sp_kernel(const void *pv) {
    sp_case &c = *(sp_case *)pv;
    const int tid = threadIdx.x, w = tid >> 5, g = (tid & 31) >> 2, t = tid & 3;
    const int bit16 = eb_of(c.type) == 2, chunks = bit16 ? 8 : 16; /* per instruction */
    if (tid == 0) {
        for (int r = 0; r < ROWS_A; r++)
            for (int kb = 0; kb < BYTES_ROW / 2; kb++)
                emu_smem[A_OFF + place(c.swizzle, r, kb)] = c.ac[r][kb];
        for (int r = 0; r < c.n; r++)
            for (int kb = 0; kb < BYTES_ROW; kb++)
                emu_smem[B_OFF + place(c.swizzle, r, kb)] = c.b[r][kb];
    }
    emu_syncthreads();
    uint32_t e[2] = {0, 0};
    for (int st = 0; st < 2; st++)
        for (int q = 0; q < (bit16 ? 4 : 8); q++) {
            if (bit16) { /* register 0 serves both instructions (selectors 0 and 1) */
                const int sel = t / 2, c0 = 4 * (t % 2) + q;
                if (sel != st) continue;
                for (int h = 0; h < 2; h++)
                    e[0] |= (uint32_t)c.nib[16 * w + g + 8 * h][st * chunks + c0] << (16 * h + 4 * q);
            } else {
                const int row = 16 * w + g + 8 * (t % 2), c0 = 8 * (t / 2) + q;
                e[st] |= (uint32_t)c.nib[row][st * chunks + c0] << (4 * q);
            }
        }
    float f[128];
    int32_t s[128];
    const int isint = c.type == EMU_WG_S8 || c.type == EMU_WG_U8;
    emu_wgmma_fence();
    for (int st = 0; st < 2; st++) {
        /* A: 32 compressed bytes per instruction, B: 64 (+2 / +4 core matrices unswizzled) */
        const uint64_t da = desc(c.swizzle, A_OFF + (c.swizzle ? 32u : 256u) * st);
        const uint64_t db = desc(c.swizzle, B_OFF + (c.swizzle ? 64u : 512u) * st);
        const uint32_t *er = bit16 ? &e[0] : &e[st];
        const int sel = bit16 ? st : 0;
        if (isint) emu_wgmma_mma_sp_s32(s, c.n, da, db, er, sel, st > 0, c.type);
        else emu_wgmma_mma_sp(f, c.n, da, db, er, sel, st > 0, c.type);
    }
    emu_wgmma_commit();
    if (c.clobber && tid == 37) e[bit16 ? 0 : 1] ^= 1u << 8; /* must be reported at the wait */
    emu_wgmma_wait(0);
    if (isint) memcpy(c.d[tid], s, 4 * (c.n / 2));
    else memcpy(c.d[tid], f, 4 * (c.n / 2));
}

int sp_selftest() {
    int fails = 0, cases = 0;
    sp_case *c = (sp_case *)calloc(1, sizeof(sp_case));
    static const uint8_t pairs[6] = {0x4, 0x8, 0xC, 0x9, 0xD, 0xE}; /* i0 | i1 << 2, i0 < i1 */
    const int types[] = {EMU_WG_F16, EMU_WG_BF16, EMU_WG_E4M3, EMU_WG_E5M2, EMU_WG_S8, EMU_WG_U8};
    for (int type : types)
        for (int n : {64, 256})
            for (int swz = 0; swz < 2; swz++)
                for (int bad = 0; bad < 3; bad++) { /* 1: clobbered register, 2: invalid nibble */
                    if (bad && (n != 64 || swz != 1)) continue;
                    const int eb = eb_of(type);
                    const int K = 64 / eb, chunks = 2 * K / 4; /* dense K per instruction */
                    c->type = type, c->n = n, c->swizzle = swz, c->clobber = bad == 1;
                    memset(c->a, 0, sizeof c->a);
                    for (int r = 0; r < ROWS_A; r++)
                        for (int ch = 0; ch < chunks; ch++) {
                            uint8_t nib = pairs[next() % 6];
                            if (bad == 2 && r == 21 && ch == 3) nib = 0x5; /* indices 1, 1 */
                            c->nib[r][ch] = nib;
                            for (int h = 0; h < 2; h++) {
                                const int k = 4 * ch + ((nib >> (2 * h)) & 3);
                                const uint32_t v = rand_elem(type);
                                memcpy(&c->a[r][k * eb], &v, (size_t)eb);
                                memcpy(&c->ac[r][(2 * ch + h) * eb], &v, (size_t)eb);
                            }
                        }
                    for (int r = 0; r < n; r++)
                        for (int kb = 0; kb < BYTES_ROW; kb += eb) {
                            const uint32_t v = rand_elem(type);
                            memcpy(&c->b[r][kb], &v, (size_t)eb);
                        }
                    const int errs0 = emu_wgmma_errors;
                    emu_run(sp_kernel, c, {1, 1, 1}, 128);
                    const int reported = emu_wgmma_errors - errs0;
                    const int wrong = bad ? 0 : wrong_accumulators(c->a, c->b, c->d, n, type);
                    cases++;
                    if (bad ? reported == 0 : wrong || reported) {
                        fails++;
                        fprintf(stderr,
                                "FAIL: emu wgmma.sp self-test %s n%d %s%s: %d wrong accumulators, "
                                "%d engine reports\n",
                                type_name(type), n, swz ? "swizzle128" : "no-swizzle",
                                bad == 1   ? " (metadata register changed in flight)"
                                : bad == 2 ? " (invalid metadata)"
                                           : "",
                                wrong, reported);
                    }
                    if (bad) emu_wgmma_errors = errs0; /* the expected reports */
                }
    printf("emu wgmma.sp self-test: %d cases, %d failed\n", cases, fails);
    free(c);
    return fails;
}

/* ---- TMA (emu_tma.cpp) ----
 * A 2-D box load of 8-bit data from a map with padded rows, the box partly outside the tensor
 * (negative rows, columns past dim 0), to a 1024-aligned destination and to one 384 bytes past
 * it, with the 128-byte swizzle and without; completion through an mbarrier (expect_tx, wait).
 * The shared bytes are compared with this file's own placement, the ISA's table [5.5.7
 * "Swizzling modes"]: 16-byte unit u of box row r at unit u ^ ((dst / 128 + r) % 8) of a
 * 128-byte row (the pattern anchored on the 1024-byte boundary), zeros outside the tensor. */
enum { TG_ROWS = 40, TG_COLS = 200, TG_STRIDE = 208, BOX_ROWS = 48 };
struct tma_case {
    int swizzle;
    uint32_t dst;
    int c0, c1;
    uint8_t g[TG_ROWS][TG_STRIDE];
    emu_tmap map;
    uint8_t got[BOX_ROWS * 128];
};

void tma_kernel(const void *pv) {
    tma_case &c = *(tma_case *)pv;
    const uint32_t bar = 64 * 1024;
    if (threadIdx.x == 0) {
        emu_mbar_init(bar, 1);
        emu_mbar_arrive_expect_tx(bar, BOX_ROWS * 128);
        emu_tma_load_2d(c.dst, &c.map, c.c0, c.c1, bar);
    }
    emu_syncthreads();
    emu_mbar_wait(bar, 0);
    if (threadIdx.x == 0) memcpy(c.got, emu_smem + c.dst, sizeof c.got);
    emu_syncthreads();
}

int tma_selftest() {
    int fails = 0, cases = 0;
    tma_case *c = (tma_case *)calloc(1, sizeof(tma_case));
    for (int r = 0; r < TG_ROWS; r++)
        for (int b = 0; b < TG_STRIDE; b++) c->g[r][b] = (uint8_t)(b < TG_COLS ? next() : 0xee);
    for (int swz = 0; swz < 2; swz++)
        for (uint32_t dst : {4096u, 4096u + 384u})
            for (int at : {0, 1}) {
                c->swizzle = swz, c->dst = dst;
                c->c0 = at ? TG_COLS - 72 : 16, c->c1 = at ? -5 : 3;
                c->map = emu_tmap{};
                c->map.magic = EMU_TMAP_MAGIC;
                c->map.base = &c->g[0][0];
                c->map.dim[0] = TG_COLS, c->map.dim[1] = TG_ROWS;
                c->map.row_stride = TG_STRIDE;
                c->map.box[0] = 128, c->map.box[1] = BOX_ROWS;
                c->map.elem_strides[0] = c->map.elem_strides[1] = 1;
                c->map.data_type = CU_TENSOR_MAP_DATA_TYPE_UINT8;
                c->map.interleave = CU_TENSOR_MAP_INTERLEAVE_NONE;
                c->map.swizzle = swz ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_NONE;
                c->map.oob_fill = CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE;
                const int errs0 = emu_wgmma_errors;
                emu_run(tma_kernel, c, {1, 1, 1}, 32);
                int wrong = 0;
                for (int r = 0; r < BOX_ROWS; r++)
                    for (int u = 0; u < 8; u++)
                        for (int b = 0; b < 16; b++) {
                            const int y = c->c1 + r, x = c->c0 + 16 * u + b;
                            const int pu = swz ? u ^ (int)((dst / 128 + (uint32_t)r) % 8) : u;
                            const uint8_t want = y < 0 || y >= TG_ROWS || x < 0 || x >= TG_COLS
                                                     ? 0
                                                     : c->g[y][x];
                            wrong += c->got[r * 128 + pu * 16 + b] != want;
                        }
                cases++;
                if (wrong || emu_wgmma_errors != errs0) {
                    fails++;
                    fprintf(stderr,
                            "FAIL: emu TMA self-test %s dst 0x%x box at (%d, %d): %d wrong bytes, "
                            "%d reports\n",
                            swz ? "swizzle128" : "no-swizzle", dst, c->c0, c->c1, wrong,
                            emu_wgmma_errors - errs0);
                }
            }
    printf("emu TMA self-test: %d cases, %d failed\n", cases, fails);
    free(c);
    return fails;
}
} // namespace

/* Returns the number of failed cases (each printed). */
int emu_wgmma_selftest() {
    int fails = 0, cases = 0;
    st_case *c = (st_case *)calloc(1, sizeof(st_case));
    const int types[] = {EMU_WG_F16, EMU_WG_BF16, EMU_WG_E4M3, EMU_WG_E5M2, EMU_WG_S8, EMU_WG_U8};
    for (int type : types)
        for (int n : {64, 256})
            for (int swz = 0; swz < 2; swz++)
                for (int rs = 0; rs < 2; rs++)
                    for (int clobber = 0; clobber <= rs; clobber++) {
                        if (clobber && (n != 64 || swz != 1)) continue;
                        const int eb = eb_of(type);
                        c->type = type, c->n = n, c->swizzle = swz, c->rs = rs, c->clobber = clobber;
                        for (int r = 0; r < ROWS_A; r++)
                            for (int kb = 0; kb < BYTES_ROW; kb += eb) {
                                const uint32_t v = rand_elem(type);
                                memcpy(&c->a[r][kb], &v, (size_t)eb);
                            }
                        for (int r = 0; r < n; r++)
                            for (int kb = 0; kb < BYTES_ROW; kb += eb) {
                                const uint32_t v = rand_elem(type);
                                memcpy(&c->b[r][kb], &v, (size_t)eb);
                            }
                        const int errs0 = emu_wgmma_errors;
                        emu_run(kernel, c, {1, 1, 1}, 128);
                        const int reported = emu_wgmma_errors - errs0;
                        const int bad = clobber ? 0 : wrong_accumulators(c->a, c->b, c->d, n, type);
                        cases++;
                        const int ok = clobber ? reported > 0 : bad == 0 && reported == 0;
                        if (!ok) {
                            fails++;
                            fprintf(stderr,
                                    "FAIL: emu wgmma self-test %s n%d %s %s%s: %d wrong "
                                    "accumulators, %d engine reports\n",
                                    type_name(type), n, swz ? "swizzle128" : "no-swizzle",
                                    rs ? "RS" : "SS",
                                    clobber ? " (A register changed in flight)" : "", bad, reported);
                        }
                        if (clobber) emu_wgmma_errors = errs0; /* the expected report */
                    }
    printf("emu wgmma self-test: %d cases, %d failed\n", cases, fails);
    free(c);
    return fails + sp_selftest() + tma_selftest();
}
