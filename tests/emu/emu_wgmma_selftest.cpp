/* Self-test of the wgmma engine (emu_wgmma.cpp) on its own, before the kernels rely on it: one
 * warpgroup runs four chained mma_async (scale-d 0, then 1) over a 64 x 4K A and an N x 4K B
 * written into emulated shared memory by this file's own placement code (128-byte swizzle, or
 * core matrices without swizzle), in the SS form and in the RS form (A registers built here from
 * the ISA's fragment figures), for every operand type; each thread's accumulator fragment is
 * compared with a plain float64 / int64 product whose element decoding is independent of the
 * engine's (qg_act_decode for e4m3, f16 bits for e5m2). A last case changes an A register
 * before wait_group and expects the engine to report it. */
extern "C" {
#include "internal.h"
#include "schemes.h"
}
#include "emu_rt.h"
#include "emu_wgmma.h"
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
                        const int eb = eb_of(type), isint = type >= EMU_WG_S8;
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
                        int bad = 0;
                        double worst = 0;
                        for (int tid = 0; tid < 128 && !clobber; tid++) {
                            const int w = tid >> 5, g = (tid & 31) >> 2, t = tid & 3;
                            /* accumulator d[4i + 2h + e] = D[16w + g + 8h][8i + 2t + e] */
                            for (int i = 0; i < n / 8; i++)
                                for (int h = 0; h < 2; h++)
                                    for (int e = 0; e < 2; e++) {
                                        const int row = 16 * w + g + 8 * h, col = 8 * i + 2 * t + e;
                                        double sum = 0, mag = 0;
                                        for (int kb = 0; kb < BYTES_ROW; kb += eb) {
                                            const double p = ref_value(&c->a[row][kb], type) *
                                                             ref_value(&c->b[col][kb], type);
                                            sum += p, mag += fabs(p);
                                        }
                                        const uint32_t bits = c->d[tid][4 * i + 2 * h + e];
                                        double got, lim;
                                        if (isint) got = (int32_t)bits, lim = 0;
                                        else {
                                            float fv;
                                            memcpy(&fv, &bits, 4);
                                            got = fv, lim = 4 * ldexp(mag, -24) + 1e-30;
                                        }
                                        const double err = fabs(got - sum);
                                        if (!(err <= lim)) bad++;
                                        if (lim > 0 && err / lim > worst) worst = err / lim;
                                    }
                        }
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
    return fails;
}
