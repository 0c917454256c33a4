/*
 * W4A16 host side (docs/formats.md, "Weight-only int4 and int8"): int4 weights in the
 * fragment-ordered layout, group-wise (32/64/128) or per-channel scales in the activation dtype,
 * optional integer zero points (w = (q - z) * s, q in [0, 15]) or float ones (torchao 0.18:
 * w = (q - 8) * s + z rounded once to the activation dtype); symmetric weights store q + 8
 * (q in [-8, 7]). Also the pieces W8A16 shares: geometry, half conversions, the reference
 * GEMM driver.
 */
#include "scheme_w4a16.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- shared helpers */

void qg_wo_geom_get(const qg_problem *p, qg_wo_geom *g) {
    g->n = p->n;
    g->k = p->k;
    g->np = QG_CDIV(p->n, QG_WO_SLAB) * QG_WO_SLAB;
    g->kp = QG_CDIV(p->k, QG_WO_CHUNK) * QG_WO_CHUNK;
    g->ks = g->kp / 16;
    const int per_channel = p->scheme != QG_SCHEME_W4A16 || p->group_size == 0;
    g->gs = per_channel ? (int32_t)p->k : p->group_size;
    g->groups = per_channel ? 1 : (int32_t)(p->k / p->group_size);
}

float qg_wo_half_to_f32(uint16_t v, qg_dtype dt) {
    return dt == QG_DTYPE_BF16 ? qg_bf16_to_f32(v) : qg_f16_to_f32(v);
}

uint16_t qg_wo_half_from_f32(float x, qg_dtype dt) {
    return dt == QG_DTYPE_BF16 ? qg_f32_to_bf16(x) : qg_f32_to_f16(x);
}

qg_status qg_wo_scale_round_up(double x, qg_dtype dt, float *out) {
    uint16_t h = qg_wo_half_from_f32((float)x, dt);
    if ((double)qg_wo_half_to_f32(h, dt) < x)
        h++; /* positive values: next bit pattern is next up */
    const float f = qg_wo_half_to_f32(h, dt);
    QG_RETURN_IF(NULL, !isfinite(f), QG_ERR_INVALID_ARGUMENT,
                 "a scale of %g does not fit in %s (weights too large)", x, qg_dtype_name(dt));
    *out = f;
    return QG_SUCCESS;
}

qg_status qg_wo_reference(const qg_problem *p, const void *a, const qg_packed_weight *w,
                          const void *bias, double *c, qg_wo_decode_row_fn decode_row) {
    enum { MB = 64 };
    qg_wo_geom g;
    qg_wo_geom_get(p, &g);
    const int64_t M = p->m, N = p->n, K = p->k;
    const int64_t mb = M < MB ? M : MB;
    double *ablk = malloc(sizeof(double) * (size_t)(mb * K));
    double *wrow = malloc(sizeof(double) * (size_t)K);
    if (!ablk || !wrow) {
        free(ablk);
        free(wrow);
        return QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "reference: no memory for %lld x %lld doubles",
                        (long long)mb, (long long)K);
    }
    for (int64_t m0 = 0; m0 < M; m0 += MB) {
        const int64_t rows = M - m0 < MB ? M - m0 : MB;
        for (int64_t i = 0; i < rows * K; i++) ablk[i] = qg_act_decode(p->act_dtype, a, m0 * K + i);
        for (int64_t n = 0; n < N; n++) {
            decode_row(p, &g, w, n, wrow);
            const double bn = p->has_bias ? qg_act_decode(p->out_dtype, bias, n) : 0.0;
            for (int64_t i = 0; i < rows; i++) {
                const double *ar = ablk + i * K;
                /* Four partial sums in a fixed order: deterministic, and fast enough for the
                 * GPU tests' sampled rows. */
                double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                int64_t k = 0;
                for (; k + 4 <= K; k += 4) {
                    s0 += ar[k] * wrow[k];
                    s1 += ar[k + 1] * wrow[k + 1];
                    s2 += ar[k + 2] * wrow[k + 2];
                    s3 += ar[k + 3] * wrow[k + 3];
                }
                for (; k < K; k++) s0 += ar[k] * wrow[k];
                c[(m0 + i) * N + n] = (s0 + s1) + (s2 + s3) + bn;
            }
        }
    }
    free(ablk);
    free(wrow);
    return QG_SUCCESS;
}

qg_status qg_wo_unpack(const qg_problem *p, const qg_packed_weight *in, float *w, int64_t ldw,
                       qg_wo_decode_row_fn decode_row) {
    qg_wo_geom g;
    qg_wo_geom_get(p, &g);
    double *row = malloc(sizeof(double) * (size_t)p->k);
    QG_RETURN_IF(NULL, !row, QG_ERR_OUT_OF_MEMORY, "no memory for a row of %lld doubles",
                 (long long)p->k);
    for (int64_t n = 0; n < p->n; n++) {
        decode_row(p, &g, in, n, row);
        for (int64_t k = 0; k < p->k; k++) w[n * ldw + k] = (float)row[k]; /* exact */
    }
    free(row);
    return QG_SUCCESS;
}

/* ---------------------------------------------------------------- W4A16 */

static qg_status w4a16_validate(const qg_problem *p, char *why, size_t why_len) {
    const int gs = p->group_size;
    if (gs != 0 && gs != 32 && gs != 64 && gs != 128) {
        snprintf(why, why_len, "group_size must be 32, 64, 128 or 0 (per channel), got %d", gs);
        return QG_ERR_INVALID_ARGUMENT;
    }
    if (gs && p->k % gs != 0) {
        snprintf(why, why_len, "K (%lld) is not a multiple of group_size (%d)", (long long)p->k, gs);
        return QG_ERR_INVALID_ARGUMENT;
    }
    if (p->has_zero_point < QG_ZERO_POINT_NONE || p->has_zero_point > QG_ZERO_POINT_FLOAT) {
        snprintf(why, why_len,
                 "has_zero_point must be 0 (none), 1 (integer) or 2 (float zero points), got %d",
                 (int)p->has_zero_point);
        return QG_ERR_INVALID_ARGUMENT;
    }
    return QG_SUCCESS;
}

static qg_status w4a16_sizes(const qg_problem *p, qg_packed_sizes *out) {
    qg_wo_geom g;
    qg_wo_geom_get(p, &g);
    out->weight_bytes = (size_t)(g.np * g.kp / 2);
    out->scale_bytes = (size_t)(g.np * g.groups * 2);
    out->zero_bytes = p->has_zero_point ? out->scale_bytes : 0;
    return QG_SUCCESS;
}

static qg_status w4a16_quantize(const qg_problem *p, const float *w, int64_t ldw,
                                qg_plain_weight *out) {
    qg_wo_geom g; /* weights are finite: qg_quantize_weight checked */
    qg_wo_geom_get(p, &g);
    const int64_t N = p->n, K = p->k, G = g.groups, gs = g.gs;
    const int asym = p->has_zero_point;
    QG_RETURN_IF(NULL, asym == QG_ZERO_POINT_FLOAT, QG_ERR_INVALID_ARGUMENT,
                 "qg_quantize_weight makes integer zero points only (has_zero_point 1); float "
                 "zero points (2) come from a converter such as qgemm.torchao_compat");
    memset(out, 0, sizeof *out);
    out->n = N;
    out->k = K;
    out->groups = (int32_t)G;
    out->group_size = (int32_t)gs;
    out->codes = malloc((size_t)(N * K));
    out->scales = malloc(sizeof(float) * (size_t)(N * G));
    out->zeros = asym ? malloc(sizeof(float) * (size_t)(N * G)) : NULL;
    if (!out->codes || !out->scales || (asym && !out->zeros)) {
        qg_plain_weight_free(out);
        return QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "no memory to quantize a %lldx%lld weight",
                        (long long)N, (long long)K);
    }
    for (int64_t n = 0; n < N; n++) {
        for (int64_t gi = 0; gi < G; gi++) {
            const float *src = w + n * ldw + gi * gs;
            int8_t *dst = out->codes + n * K + gi * gs;
            double mn = 0, mx = 0; /* min <= 0 <= max: zero is always representable */
            for (int64_t i = 0; i < gs; i++) {
                if (src[i] < mn) mn = src[i];
                if (src[i] > mx) mx = src[i];
            }
            float s;
            double z = 0;
            qg_status st = qg_wo_scale_round_up(asym ? (mx - mn) / 15.0 : fmax(mx / 7.0, -mn / 8.0),
                                                p->act_dtype, &s);
            if (st != QG_SUCCESS) {
                qg_plain_weight_free(out);
                return st;
            }
            if (asym && s > 0) z = fmin(fmax(round(-mn / s), 0.0), 15.0);
            for (int64_t i = 0; i < gs; i++) {
                double q = s > 0 ? round((double)src[i] / s) : 0.0;
                q = asym ? fmin(fmax(q + z, 0.0), 15.0) : fmin(fmax(q, -8.0), 7.0);
                dst[i] = (int8_t)q;
            }
            out->scales[n * G + gi] = s;
            if (asym) out->zeros[n * G + gi] = (float)z;
        }
    }
    return QG_SUCCESS;
}

static qg_status w4a16_pack(const qg_problem *p, const qg_plain_weight *pw,
                            const qg_packed_weight *out) {
    qg_wo_geom g;
    qg_wo_geom_get(p, &g);
    const int asym = p->has_zero_point;
    QG_RETURN_IF(NULL, pw->n != p->n || pw->k != p->k || pw->groups != g.groups,
                 QG_ERR_INVALID_ARGUMENT,
                 "plain weight is %lldx%lld with %d groups; the problem "
                 "needs %lldx%lld with %d",
                 (long long)pw->n, (long long)pw->k, (int)pw->groups, (long long)p->n,
                 (long long)p->k, (int)g.groups);
    QG_RETURN_IF(NULL, asym && !pw->zeros, QG_ERR_NULL_POINTER,
                 "has_zero_point is set but the plain weight has no zero points");
    qg_packed_sizes sz;
    w4a16_sizes(p, &sz);
    /* Validate everything before writing, so a bad input leaves no half-packed buffer. */
    const int64_t N = p->n, K = p->k, G = g.groups;
    for (int64_t i = 0; i < N * K; i++) {
        const int q = pw->codes[i];
        QG_RETURN_IF(NULL, asym ? (q < 0 || q > 15) : (q < -8 || q > 7), QG_ERR_INVALID_ARGUMENT,
                     "code %d at (%lld, %lld) is outside %s", q, (long long)(i / K),
                     (long long)(i % K), asym ? "[0, 15]" : "[-8, 7]");
    }
    for (int64_t i = 0; asym == QG_ZERO_POINT_INTEGER && i < N * G; i++) {
        const float z = pw->zeros[i];
        QG_RETURN_IF(NULL, !(z >= 0 && z <= 15 && z == floorf(z)), QG_ERR_INVALID_ARGUMENT,
                     "zero point %g of row %lld is not an integer in [0, 15]", z, (long long)(i / G));
    }
    for (int64_t i = 0; asym == QG_ZERO_POINT_FLOAT && i < N * G; i++)
        QG_RETURN_IF(NULL,
                     !isfinite(qg_wo_half_to_f32(qg_wo_half_from_f32(pw->zeros[i], p->act_dtype),
                                                 p->act_dtype)),
                     QG_ERR_INVALID_ARGUMENT, "float zero point %g of row %lld is not finite in %s",
                     pw->zeros[i], (long long)(i / G), qg_dtype_name(p->act_dtype));
    memset(out->weight, 0, sz.weight_bytes);
    memset(out->scale, 0, sz.scale_bytes);
    if (asym) memset(out->zero, 0, sz.zero_bytes);
    uint8_t *bytes = out->weight;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t k = 0; k < K; k++) {
            int nib;
            const int64_t wi = qg_w4_word_index(n, k, g.ks, &nib);
            const unsigned u = (unsigned)(pw->codes[n * K + k] + (asym ? 0 : 8));
            bytes[4 * wi + nib / 2] |= (uint8_t)(u << (4 * (nib & 1)));
        }
        for (int64_t gi = 0; gi < G; gi++) {
            const int64_t si = qg_wo_scale_index(n, gi, G);
            qg_wo_wr16(out->scale, si, qg_wo_half_from_f32(pw->scales[n * G + gi], p->act_dtype));
            if (asym)
                qg_wo_wr16(out->zero, si, qg_wo_half_from_f32(pw->zeros[n * G + gi], p->act_dtype));
        }
    }
    return QG_SUCCESS;
}

/*
 * Float zero points: (u - 8) * s + z rounded once to dtype dt (round to nearest even), the value
 * one fma in the activation dtype gives (hfma2 in the kernels). The product is exact in float (a
 * 4-bit integer times an 8- or 11-bit significand, a multiple of the dtype's smallest
 * subnormal); the f32 sum r and its error (TwoSum) hold the exact value r + err, so rounding r
 * is right unless r sits exactly halfway between two dtype values and err != 0, where the exact
 * value lies on err's side of the tie. Products beyond the f32 range are not handled (scales
 * near 2^125).
 */
float qg_w4_float_zp_value(unsigned u, float s, float z, qg_dtype dt) {
    const float prod = (float)((int)u - 8) * s;
    const float r = prod + z;
    const float bv = r - prod;
    const float err = (prod - (r - bv)) + (z - bv);
    uint16_t h = qg_wo_half_from_f32(r, dt);
    const float hv = qg_wo_half_to_f32(h, dt);
    if (err != 0.0f && isfinite(r) && hv != r) {
        /* the other dtype value around r (bit patterns count magnitudes) */
        const uint16_t hn = fabsf(r) > fabsf(hv) ? (uint16_t)(h + 1) : (uint16_t)(h - 1);
        const float nv = qg_wo_half_to_f32(hn, dt);
        if ((double)r - hv == (double)nv - r && (err > 0) == (nv > hv)) h = hn;
    }
    return qg_wo_half_to_f32(h, dt);
}

/* Row n of a packed W4A16 weight, decoded exactly: out[k] = (u - z) * s for k < K (float zero
 * points: qg_w4_float_zp_value). */
static void w4a16_decode_row(const qg_problem *p, const qg_wo_geom *g, const qg_packed_weight *w,
                             int64_t n, double *out) {
    const uint8_t *bytes = w->weight;
    const int64_t b = n / 64, j = (n % 64) / 16, h = (n % 16) / 8, gg = n % 8;
    const int asym = p->has_zero_point, fzp = asym == QG_ZERO_POINT_FLOAT;
    for (int64_t c = 0; c * 32 < g->k; c++) {
        const int64_t si = qg_wo_scale_index(n, (c * 32) / g->gs, g->groups);
        const float sf = qg_wo_half_to_f32(qg_wo_rd16(w->scale, si), p->act_dtype);
        const float zf = asym ? qg_wo_half_to_f32(qg_wo_rd16(w->zero, si), p->act_dtype) : 8.0f;
        const double s = sf, z = zf;
        for (int s16 = 0; s16 < 2; s16++) {
            for (int t = 0; t < 4; t++) {
                const int64_t word = ((b * g->ks + 2 * c + s16) * 32 + 4 * gg + t) * 4 + j;
                const uint32_t v = (uint32_t)bytes[4 * word] | ((uint32_t)bytes[4 * word + 1] << 8) |
                                   ((uint32_t)bytes[4 * word + 2] << 16) |
                                   ((uint32_t)bytes[4 * word + 3] << 24);
                for (int e = 0; e < 4; e++) {
                    const int64_t k = 32 * c + 8 * t + 4 * s16 + e;
                    if (k >= g->k) continue;
                    const int nib = (e % 2) * 4 + (int)h * 2 + e / 2;
                    const unsigned u = (v >> (4 * nib)) & 15u;
                    out[k] = fzp ? qg_w4_float_zp_value(u, sf, zf, p->act_dtype)
                                 : ((double)u - z) * s;
                }
            }
        }
    }
}

qg_status qg_w4a16_quantize_float_zp(const qg_problem *p, const float *w, int64_t ldw,
                                     const qg_packed_weight *out) {
    QG_RETURN_IF(NULL, p->scheme != QG_SCHEME_W4A16 || p->has_zero_point != QG_ZERO_POINT_FLOAT,
                 QG_ERR_INVALID_ARGUMENT, "float zero points: a W4A16 problem with kind 2 only");
    QG_CHECK(qg_problem_validate(p));
    QG_RETURN_IF(NULL, !w || !out || !out->weight || !out->scale || !out->zero, QG_ERR_NULL_POINTER,
                 "float zero points: NULL weight or packed buffer");
    qg_wo_geom g;
    qg_wo_geom_get(p, &g);
    const int64_t N = p->n, K = p->k, G = g.groups, gs = g.gs;
    qg_plain_weight pw = {.n = N, .k = K, .groups = (int32_t)G, .group_size = (int32_t)gs};
    pw.codes = malloc((size_t)(N * K));
    pw.scales = malloc(sizeof(float) * (size_t)(N * G));
    pw.zeros = malloc(sizeof(float) * (size_t)(N * G));
    if (!pw.codes || !pw.scales || !pw.zeros) {
        qg_plain_weight_free(&pw);
        return QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "no memory to quantize a %lldx%lld weight",
                        (long long)N, (long long)K);
    }
    for (int64_t n = 0; n < N; n++) {
        for (int64_t gi = 0; gi < G; gi++) {
            const float *src = w + n * ldw + gi * gs;
            float lo = src[0], hi = src[0];
            for (int64_t i = 1; i < gs; i++) lo = fminf(lo, src[i]), hi = fmaxf(hi, src[i]);
            const float s = fmaxf(hi - lo, 1e-6f) / 15.0f;
            for (int64_t i = 0; i < gs; i++)
                pw.codes[n * K + gi * gs + i] =
                    (int8_t)fminf(fmaxf(nearbyintf((src[i] - lo) / s), 0.0f), 15.0f);
            pw.scales[n * G + gi] = s;
            pw.zeros[n * G + gi] = lo + 8.0f * s;
        }
    }
    const qg_status st = w4a16_pack(p, &pw, out);
    qg_plain_weight_free(&pw);
    return st;
}

static qg_status w4a16_unpack(const qg_problem *p, const qg_packed_weight *in, float *w, int64_t ldw) {
    return qg_wo_unpack(p, in, w, ldw, w4a16_decode_row);
}

static qg_status w4a16_reference(const qg_problem *p, const void *a, const float *a_scale,
                                 const qg_packed_weight *w, const void *bias, double *c) {
    return qg_wo_reference(p, a, w, bias, c, w4a16_decode_row);
}

const qg_scheme_traits qg_traits_w4a16 = {
    .scheme = QG_SCHEME_W4A16,
    .name = "w4a16",
    .weight_bits = 4,
    .dynamic_act = 0,
    .act_qtype = QG_DTYPE_BF16,
    .sparse24 = 0,
    .min_cc = 80,
    .validate = w4a16_validate,
    .sizes = w4a16_sizes,
    .quantize = w4a16_quantize,
    .pack = w4a16_pack,
    .unpack = w4a16_unpack,
    .reference = w4a16_reference,
};
