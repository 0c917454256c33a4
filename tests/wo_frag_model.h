/*
 * A C model of what the weight-only GEMM kernels do with the packed layouts of docs/formats.md
 * (W4A16 / W8A16): per lane, one 16-byte load of activations per chunk of 32 k, one 16-byte load
 * of packed weights per k16 step and slab, the shift-and-mask extraction of the B fragments, and
 * mma.m16n8k16 as PTX defines its fragment layouts. Run in double precision, it must agree with
 * the reference GEMM: this checks the format against the PTX fragment layout on a machine
 * without a GPU. Header-only; included by tests/test_w4a16.c and tests/test_w8a16.c.
 */
#ifndef QG_WO_FRAG_MODEL_H
#define QG_WO_FRAG_MODEL_H

#include "schemes.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * mma.sync.m16n8k16.row.col, PTX ISA "Matrix Fragments for mma.m16n8k16", lane l, g = l / 4,
 * t = l % 4 (element [i][0] is the low half of register i):
 *   A 16x16: a[0] = A[g][2t..2t+1], a[1] = A[g+8][2t..2t+1], a[2] = A[g][2t+8..9], a[3] = A[g+8][2t+8..9]
 *   B 16x8:  b[0] = B[2t..2t+1][g], b[1] = B[2t+8..2t+9][g]
 *   C 16x8:  c[0..1] = C[g][2t..2t+1], c[2..3] = C[g+8][2t..2t+1]
 */
static void wo_model_mma(double c[32][4], const double a[32][4][2], const double b[32][2][2]) {
    double A[16][16], B[16][8];
    for (int l = 0; l < 32; l++) {
        const int g = l / 4, t = l % 4;
        for (int i = 0; i < 2; i++) {
            A[g][2 * t + i] = a[l][0][i];
            A[g + 8][2 * t + i] = a[l][1][i];
            A[g][2 * t + 8 + i] = a[l][2][i];
            A[g + 8][2 * t + 8 + i] = a[l][3][i];
            B[2 * t + i][g] = b[l][0][i];
            B[2 * t + 8 + i][g] = b[l][1][i];
        }
    }
    for (int l = 0; l < 32; l++) {
        const int g = l / 4, t = l % 4;
        for (int i = 0; i < 4; i++) {
            const int row = g + 8 * (i / 2), col = 2 * t + i % 2;
            double s = 0;
            for (int k = 0; k < 16; k++) s += A[row][k] * B[k][col];
            c[l][i] += s;
        }
    }
}

static uint32_t wo_model_rd32(const void *base, int64_t word) {
    const uint8_t *b = (const uint8_t *)base + 4 * word;
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

static double wo_model_half(const void *base, int64_t i, qg_dtype dt) {
    const uint8_t *b = (const uint8_t *)base + 2 * i;
    const uint16_t v = (uint16_t)(b[0] | (b[1] << 8));
    return dt == QG_DTYPE_BF16 ? qg_bf16_to_f32(v) : qg_f16_to_f32(v);
}

/*
 * C[M, N] (doubles, bias added) of problem p (W4A16 or W8A16) from packed host buffers, computed
 * the way one warp per (16-row tile, slab) of the kernels does it.
 */
static void wo_model_gemm(const qg_problem *p, const uint16_t *a, const qg_packed_weight *w,
                          const uint16_t *bias, double *c) {
    const int w8 = p->scheme == QG_SCHEME_W8A16;
    const int64_t M = p->m, N = p->n, K = p->k;
    const int64_t np = (N + 63) / 64 * 64, kp = (K + 31) / 32 * 32, ks = kp / 16;
    const int64_t G = (w8 || p->group_size == 0) ? 1 : K / p->group_size;
    const int64_t gs = (w8 || p->group_size == 0) ? kp : p->group_size;
    const int zp = !w8 && p->has_zero_point;
    static double acc[4][2][32][4], af[32][4][2], bf[32][2][2];
    for (int64_t m0 = 0; m0 < M; m0 += 16) {
        for (int64_t b = 0; b < np / 64; b++) {
            memset(acc, 0, sizeof acc);
            for (int64_t ch = 0; ch < kp / 32; ch++) {
                const int64_t grp = ch * 32 / gs;
                double alo[32][8], ahi[32][8], sc[32][4][2], ze[32][4][2];
                for (int l = 0; l < 32; l++) {
                    const int g = l / 4, t = l % 4;
                    /* the lane's 16-byte activation loads: rows g and g + 8, k = 32ch + 8t + i */
                    for (int i = 0; i < 8; i++) {
                        const int64_t k = ch * 32 + 8 * t + i;
                        alo[l][i] = (m0 + g < M && k < K)
                                        ? wo_model_half(a, (m0 + g) * K + k, p->act_dtype)
                                        : 0;
                        ahi[l][i] = (m0 + g + 8 < M && k < K)
                                        ? wo_model_half(a, (m0 + g + 8) * K + k, p->act_dtype)
                                        : 0;
                    }
                    /* the lane's 16-byte scale (and zero point) load: word j = {row g, row g + 8} */
                    for (int j = 0; j < 4; j++)
                        for (int h = 0; h < 2; h++) {
                            const int64_t si = ((b * G + grp) * 8 + g) * 8 + j * 2 + h;
                            sc[l][j][h] = wo_model_half(w->scale, si, p->act_dtype);
                            ze[l][j][h] = zp ? wo_model_half(w->zero, si, p->act_dtype) : 8.0;
                        }
                }
                for (int s = 0; s < 2; s++) {
                    const int64_t kstep = 2 * ch + s;
                    /* A slots 2t, 2t+1, 2t+8, 2t+9 of step s hold elements 4s .. 4s + 3 */
                    for (int l = 0; l < 32; l++)
                        for (int i = 0; i < 2; i++) {
                            af[l][0][i] = alo[l][4 * s + i];
                            af[l][1][i] = ahi[l][4 * s + i];
                            af[l][2][i] = alo[l][4 * s + 2 + i];
                            af[l][3][i] = ahi[l][4 * s + 2 + i];
                        }
                    for (int j = 0; j < 4; j++) {
                        for (int h = 0; h < 2; h++) {
                            for (int l = 0; l < 32; l++) {
                                for (int r = 0; r < 2; r++)
                                    for (int i = 0; i < 2; i++) {
                                        double v;
                                        if (w8) {
                                            /* half j / 2 of the step, word (j % 2) * 2 + h, byte 2r + i */
                                            const uint32_t q = wo_model_rd32(
                                                w->weight,
                                                (((b * ks + kstep) * 2 + j / 2) * 32 + l) * 4 +
                                                    (j % 2) * 2 + h);
                                            v = (double)(int8_t)((q >> (8 * (2 * r + i))) & 0xff) *
                                                sc[l][j][h];
                                        } else {
                                            /* (q >> (8h + 4r)) & 0x000f000f is register r of block h */
                                            const uint32_t q =
                                                wo_model_rd32(w->weight,
                                                              ((b * ks + kstep) * 32 + l) * 4 + j);
                                            const uint32_t u = (q >> (8 * h + 4 * r + 16 * i)) & 15u;
                                            v = ((double)u - ze[l][j][h]) * sc[l][j][h];
                                        }
                                        bf[l][r][i] = v;
                                    }
                            }
                            wo_model_mma(acc[j][h], (const double(*)[4][2])af,
                                         (const double(*)[2][2])bf);
                        }
                    }
                }
            }
            for (int l = 0; l < 32; l++)
                for (int j = 0; j < 4; j++)
                    for (int h = 0; h < 2; h++)
                        for (int i = 0; i < 4; i++) {
                            const int64_t m = m0 + l / 4 + 8 * (i / 2);
                            const int64_t n = b * 64 + j * 16 + h * 8 + 2 * (l % 4) + i % 2;
                            if (m >= M || n >= N) continue;
                            const double bn = bias ? (p->out_dtype == QG_DTYPE_BF16
                                                          ? qg_bf16_to_f32(bias[n])
                                                          : qg_f16_to_f32(bias[n]))
                                                   : 0.0;
                            c[m * N + n] = acc[j][h][l][i] + bn;
                        }
        }
    }
}

#endif
