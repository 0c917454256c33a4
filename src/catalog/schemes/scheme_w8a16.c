/*
 * W8A16 host side (docs/formats.md, "Weight-only int4 and int8"): int8 weights q in [-127, 127]
 * in the fragment-ordered layout, per-channel (or one per-tensor) symmetric scales in the
 * activation dtype; w = q * s. Geometry and the reference driver are shared with W4A16.
 */
#include "scheme_w4a16.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static qg_status w8a16_validate(const qg_problem *p, char *why, size_t why_len) {
    if (p->group_size != 0) {
        snprintf(why, why_len,
                 "group_size must be 0 (int8 weights have per-channel scales), "
                 "got %d",
                 (int)p->group_size);
        return QG_ERR_INVALID_ARGUMENT;
    }
    if (p->has_zero_point) {
        snprintf(why, why_len, "int8 weights are symmetric: has_zero_point must be 0");
        return QG_ERR_INVALID_ARGUMENT;
    }
    return QG_SUCCESS;
}

static qg_status w8a16_sizes(const qg_problem *p, qg_packed_sizes *out) {
    qg_wo_geom g;
    qg_wo_geom_get(p, &g);
    out->weight_bytes = (size_t)(g.np * g.kp);
    out->scale_bytes = (size_t)(g.np * 2);
    return QG_SUCCESS;
}

/* Symmetric absmax per row (or over the tensor): s = absmax / 127 rounded up to the activation
 * dtype, q = round(w / s) (half away from zero), so |w - q s| <= s / 2. */
static qg_status w8a16_quantize(const qg_problem *p, const float *w, int64_t ldw,
                                qg_plain_weight *out) {
    /* weights are finite: qg_quantize_weight checked */
    const int64_t N = p->n, K = p->k;
    memset(out, 0, sizeof *out);
    out->n = N;
    out->k = K;
    out->groups = 1;
    out->group_size = (int32_t)K;
    out->codes = malloc((size_t)(N * K));
    out->scales = malloc(sizeof(float) * (size_t)N);
    if (!out->codes || !out->scales) {
        qg_plain_weight_free(out);
        return QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "no memory to quantize a %lldx%lld weight",
                        (long long)N, (long long)K);
    }
    double tensor_max = 0;
    for (int64_t n = 0; p->weight_scale == QG_SCALE_PER_TENSOR && n < N; n++)
        for (int64_t k = 0; k < K; k++) tensor_max = fmax(tensor_max, fabs(w[n * ldw + k]));
    for (int64_t n = 0; n < N; n++) {
        double amax = tensor_max;
        for (int64_t k = 0; p->weight_scale != QG_SCALE_PER_TENSOR && k < K; k++)
            amax = fmax(amax, fabs(w[n * ldw + k]));
        float s;
        qg_status st = qg_wo_scale_round_up(amax / 127.0, p->act_dtype, &s);
        if (st != QG_SUCCESS) {
            qg_plain_weight_free(out);
            return st;
        }
        for (int64_t k = 0; k < K; k++) {
            const double q = s > 0 ? round((double)w[n * ldw + k] / s) : 0.0;
            out->codes[n * K + k] = (int8_t)fmin(fmax(q, -127.0), 127.0);
        }
        out->scales[n] = s;
    }
    return QG_SUCCESS;
}

static qg_status w8a16_pack(const qg_problem *p, const qg_plain_weight *pw,
                            const qg_packed_weight *out) {
    qg_wo_geom g;
    qg_wo_geom_get(p, &g);
    QG_RETURN_IF(NULL, pw->n != p->n || pw->k != p->k || pw->groups != 1, QG_ERR_INVALID_ARGUMENT,
                 "plain weight is %lldx%lld with %d groups; the problem needs %lldx%lld, 1 group",
                 (long long)pw->n, (long long)pw->k, (int)pw->groups, (long long)p->n,
                 (long long)p->k);
    const int64_t N = p->n, K = p->k;
    for (int64_t i = 0; i < N * K; i++)
        QG_RETURN_IF(NULL, pw->codes[i] < -127, QG_ERR_INVALID_ARGUMENT,
                     "code -128 at (%lld, %lld): int8 weights are in [-127, 127]",
                     (long long)(i / K), (long long)(i % K));
    qg_packed_sizes sz = {0};
    w8a16_sizes(p, &sz);
    memset(out->weight, 0, sz.weight_bytes);
    memset(out->scale, 0, sz.scale_bytes);
    int8_t *bytes = out->weight;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t k = 0; k < K; k++) bytes[qg_w8_byte_offset(n, k, g.ks)] = pw->codes[n * K + k];
        qg_wo_wr16(out->scale, qg_wo_scale_index(n, 0, 1),
                   qg_wo_half_from_f32(pw->scales[n], p->act_dtype));
    }
    return QG_SUCCESS;
}

static void w8a16_decode_row(const qg_problem *p, const qg_wo_geom *g, const qg_packed_weight *w,
                             int64_t n, double *out) {
    const int8_t *bytes = w->weight;
    const double s = qg_wo_half_to_f32(qg_wo_rd16(w->scale, qg_wo_scale_index(n, 0, 1)),
                                       p->act_dtype);
    for (int64_t k = 0; k < g->k; k++) out[k] = bytes[qg_w8_byte_offset(n, k, g->ks)] * s;
}

static qg_status w8a16_unpack(const qg_problem *p, const qg_packed_weight *in, float *w, int64_t ldw) {
    return qg_wo_unpack(p, in, w, ldw, w8a16_decode_row);
}

static qg_status w8a16_reference(const qg_problem *p, const void *a, const float *a_scale,
                                 const qg_packed_weight *w, const void *bias, double *c) {
    return qg_wo_reference(p, a, w, bias, c, w8a16_decode_row);
}

const qg_scheme_traits qg_traits_w8a16 = {
    .scheme = QG_SCHEME_W8A16,
    .name = "w8a16",
    .weight_bits = 8,
    .dynamic_act = 0,
    .act_qtype = QG_DTYPE_BF16,
    .sparse24 = 0,
    .min_cc = 80,
    .validate = w8a16_validate,
    .sizes = w8a16_sizes,
    .quantize = w8a16_quantize,
    .pack = w8a16_pack,
    .unpack = w8a16_unpack,
    .reference = w8a16_reference,
};
