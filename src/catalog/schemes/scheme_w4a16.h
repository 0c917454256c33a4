/*
 * Geometry of the weight-only packed layouts (docs/formats.md, "Weight-only int4 and int8"),
 * shared by scheme_w4a16.c, scheme_w8a16.c and the w4a16/w8a16/dequant kernel families.
 */
#ifndef QG_SCHEME_W4A16_H
#define QG_SCHEME_W4A16_H

#include "schemes.h"

#define QG_WO_SLAB 64  /* weight rows per slab */
#define QG_WO_CHUNK 32 /* k per chunk (two mma k16 steps) */

typedef struct {
    int64_t n, k;
    int64_t np, kp; /* N rounded up to 64, K rounded up to 32 */
    int64_t ks;     /* k16 steps per slab row: kp / 16 */
    int32_t groups; /* scale columns per row: K / group_size, or 1 per channel */
    int32_t gs;     /* group size; K for per-channel */
} qg_wo_geom;

void qg_wo_geom_get(const qg_problem *p, qg_wo_geom *g);

/* Index (in 16-bit units) of the scale / zero point of row n, group `group`. */
static inline int64_t qg_wo_scale_index(int64_t n, int64_t group, int64_t groups) {
    const int64_t b = n / 64, j = (n % 64) / 16, h = (n % 16) / 8, g = n % 8;
    return ((b * groups + group) * 8 + g) * 8 + j * 2 + h;
}

/* k16 step and lane of element (n, k); shared by both weight layouts. */
static inline void qg_wo_frag_pos(int64_t n, int64_t k, int64_t *kstep, int *lane, int *e) {
    const int64_t c = k / 32, r = k % 32;
    *kstep = 2 * c + (r % 8) / 4;
    *lane = (int)(4 * (n % 8) + r / 8);
    *e = (int)(r % 4);
}

/* W4A16: word index of element (n, k) and its nibble position (0..7) in that word. */
static inline int64_t qg_w4_word_index(int64_t n, int64_t k, int64_t ks, int *nibble) {
    int64_t kstep;
    int lane, e;
    qg_wo_frag_pos(n, k, &kstep, &lane, &e);
    const int64_t b = n / 64, j = (n % 64) / 16;
    const int h = (int)((n % 16) / 8);
    *nibble = (e % 2) * 4 + h * 2 + e / 2;
    return ((b * ks + kstep) * 32 + lane) * 4 + j;
}

/* W8A16: byte offset of element (n, k). */
static inline int64_t qg_w8_byte_offset(int64_t n, int64_t k, int64_t ks) {
    int64_t kstep;
    int lane, e;
    qg_wo_frag_pos(n, k, &kstep, &lane, &e);
    const int64_t b = n / 64, j = (n % 64) / 16, h = (n % 16) / 8;
    return (((b * ks + kstep) * 2 + j / 2) * 32 + lane) * 16 + (j % 2) * 8 + h * 4 + e;
}

/* bf16 / f16 bit patterns (dt selects) <-> float. */
float qg_wo_half_to_f32(uint16_t v, qg_dtype dt);
uint16_t qg_wo_half_from_f32(float x, qg_dtype dt);
/* Smallest value of dtype dt that is >= x (x >= 0, finite); QG_ERR_INVALID_ARGUMENT with a
 * message when it does not fit (f16 above 65504). */
qg_status qg_wo_scale_round_up(double x, qg_dtype dt, float *out);

/* W4A16 float zero points: (u - 8) * s + z rounded once to dtype dt (s, z values of dt),
 * docs/formats.md "W4A16 weights". */
float qg_w4_float_zp_value(unsigned u, float s, float z, qg_dtype dt);
/* A W4A16 weight with float zero points made as torchao 0.18 (mslk's int4_row_quantize_zp)
 * makes them: s = max(max - min, 1e-6) / 15, z = min + 8 s, u = round((w - min) / s) clamped
 * to [0, 15], s and z rounded to the activation dtype; for tests, benchmarks and the tuner
 * (the public qg_quantize_weight makes no float zero points). p: W4A16 with has_zero_point 2;
 * buffers sized by qg_packed_sizes_get, weights finite. */
qg_status qg_w4a16_quantize_float_zp(const qg_problem *p, const float *w, int64_t ldw,
                                     const qg_packed_weight *out);

/* QG_ERR_INVALID_ARGUMENT naming the first NaN/Inf weight, if any. */

/* Little-endian 16-bit element i of a byte buffer (no alignment needed). */
static inline uint16_t qg_wo_rd16(const void *base, int64_t i) {
    const uint8_t *b = (const uint8_t *)base + 2 * i;
    return (uint16_t)(b[0] | (b[1] << 8));
}
static inline void qg_wo_wr16(void *base, int64_t i, uint16_t v) {
    uint8_t *b = (uint8_t *)base + 2 * i;
    b[0] = (uint8_t)(v & 0xff);
    b[1] = (uint8_t)(v >> 8);
}

/*
 * Reference GEMM of both weight-only schemes: each weight row is decoded from the packed
 * buffers by `decode_row` (exact doubles for k < K), activations (act_dtype) per block of rows;
 * c[m, n] = sum_k a[m, k] * w[n, k] (+ bias[n] in out_dtype), double accumulation, no rounding.
 */
typedef void (*qg_wo_decode_row_fn)(const qg_problem *p, const qg_wo_geom *g,
                                    const qg_packed_weight *w, int64_t n, double *out);
qg_status qg_wo_reference(const qg_problem *p, const void *a, const qg_packed_weight *w,
                          const void *bias, double *c, qg_wo_decode_row_fn decode_row);
/* Dequantize every row with `decode_row` into float w[N, K] (row stride ldw); exact. */
qg_status qg_wo_unpack(const qg_problem *p, const qg_packed_weight *in, float *w, int64_t ldw,
                       qg_wo_decode_row_fn decode_row);

#endif
