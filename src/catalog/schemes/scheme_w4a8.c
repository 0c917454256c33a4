/*
 * W4A8_FP8 and W4A8_INT8 host side (docs/formats.md, "W4A8"): symmetric int4 weights, value
 * v = q - 8 in [-8, 7] stored as the 4-bit two's complement nibble (q XOR 8), f32 scales per
 * (row, group); activations e4m3 / int8 quantized per token at run time.
 *   C[m,n] = a_scale[m] * sum_g s[n,g] * sum_{k in g} a_q[m,k] * v[n,k] (+ bias[n])
 * The two schemes differ in the nibble order inside a row, chosen for their kernels' int4 ->
 * 8-bit conversion (a byte-table lookup for e4m3, shifts for int8); see dynact.h.
 */
#include "dynact.h"
#include "schemes.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_fp8(const qg_problem *p) { return p->scheme == QG_SCHEME_W4A8_FP8; }

/* Columns per scale group: group_size, or K for per-channel (group_size 0). */
static int64_t group_len(const qg_problem *p) { return p->group_size ? p->group_size : p->k; }
static int64_t group_count(const qg_problem *p) { return p->k / group_len(p); }

static qg_status w4a8_validate(const qg_problem *p, char *why, size_t why_len) {
    if (is_fp8(p)) {
        if (p->group_size != 128) {
            snprintf(why, why_len, "group_size must be 128 (got %d)", (int)p->group_size);
            return QG_ERR_INVALID_ARGUMENT;
        }
    } else if (p->group_size != 32 && p->group_size != 64 && p->group_size != 128 &&
               p->group_size != 0) {
        snprintf(why, why_len, "group_size must be 32, 64, 128 or 0 (per-channel), got %d",
                 (int)p->group_size);
        return QG_ERR_INVALID_ARGUMENT;
    }
    if (p->k % 128 != 0) {
        snprintf(why, why_len, "K (%lld) must be a multiple of 128 (the packed int4 block)",
                 (long long)p->k);
        return QG_ERR_INVALID_ARGUMENT;
    }
    if (p->has_zero_point) {
        snprintf(why, why_len, "int4 weights are symmetric here: has_zero_point must be 0");
        return QG_ERR_INVALID_ARGUMENT;
    }
    if (!is_fp8(p) && p->group_size == 0 && p->k > QG_INT8_MAX_K) {
        snprintf(why, why_len,
                 "per-channel K (%lld) above %d could overflow the int32 "
                 "accumulator",
                 (long long)p->k, QG_INT8_MAX_K);
        return QG_ERR_INVALID_ARGUMENT;
    }
    return QG_SUCCESS;
}

static qg_status w4a8_sizes(const qg_problem *p, qg_packed_sizes *out) {
    out->weight_bytes = (size_t)p->n * (size_t)p->k / 2;
    out->scale_bytes = sizeof(float) * (size_t)p->n * (size_t)group_count(p);
    return QG_SUCCESS;
}

/* torchao's symmetric int4 (8da4w) rule: s = absmax / 7.5, v = clamp(round(w / s), -8, 7);
 * an all-zero group gets scale 1. */
static qg_status w4a8_quantize(const qg_problem *p, const float *w, int64_t ldw,
                               qg_plain_weight *out) {
    const int64_t n = p->n, k = p->k, gl = group_len(p), g = group_count(p);
    out->n = n;
    out->k = k;
    out->groups = (int32_t)g;
    out->group_size = (int32_t)gl;
    out->fp8 = 0;
    out->zeros = NULL;
    out->codes = malloc((size_t)n * (size_t)k);
    out->scales = malloc(sizeof(float) * (size_t)(n * g));
    if (!out->codes || !out->scales) {
        qg_plain_weight_free(out);
        return QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "no memory to quantize a %lldx%lld weight",
                        (long long)n, (long long)k);
    }
    for (int64_t i = 0; i < n; i++) {
        for (int64_t gi = 0; gi < g; gi++) {
            const float *src = w + i * ldw + gi * gl;
            float amax = 0;
            for (int64_t j = 0; j < gl; j++) amax = fmaxf(amax, fabsf(src[j]));
            const float s = amax > 0 ? fmaxf(amax / 7.5f, FLT_TRUE_MIN) : 1.0f; /* no 0 / 0 */
            out->scales[i * g + gi] = s;
            for (int64_t j = 0; j < gl; j++) {
                float r = nearbyintf(src[j] / s);
                out->codes[i * k + gi * gl + j] = (int8_t)(r > 7.f ? 7 : r < -8.f ? -8 : (int)r);
            }
        }
    }
    return QG_SUCCESS;
}

static int64_t nibble_byte(const qg_problem *p, int64_t k, int *hi) {
    return is_fp8(p) ? qg_w4a8_fp8_byte(k, hi) : qg_w4a8_int8_byte(k, hi);
}

static qg_status w4a8_pack(const qg_problem *p, const qg_plain_weight *pw,
                           const qg_packed_weight *out) {
    const int64_t n = p->n, k = p->k, g = group_count(p);
    QG_RETURN_IF(NULL, pw->n != n || pw->k != k || pw->groups != g, QG_ERR_INVALID_ARGUMENT,
                 "plain weight is %lldx%lld with %d groups; expected %lldx%lld with %lld",
                 (long long)pw->n, (long long)pw->k, (int)pw->groups, (long long)n, (long long)k,
                 (long long)g);
    uint8_t *q = out->weight;
    memset(q, 0, (size_t)(n * k / 2));
    for (int64_t i = 0; i < n; i++) {
        uint8_t *row = q + i * (k / 2);
        for (int64_t j = 0; j < k; j++) {
            const int v = pw->codes[i * k + j];
            QG_RETURN_IF(NULL, v < -8 || v > 7, QG_ERR_INVALID_ARGUMENT,
                         "int4 code %d at (%lld,%lld) is outside [-8, 7]", v, (long long)i,
                         (long long)j);
            int hi;
            const int64_t b = nibble_byte(p, j, &hi);
            row[b] |= (uint8_t)((v & 0xf) << (hi ? 4 : 0));
        }
    }
    memcpy(out->scale, pw->scales, sizeof(float) * (size_t)(n * g));
    return QG_SUCCESS;
}

/* Signed value of weight (row, k) from the packed bytes. */
static int w4_code(const qg_problem *p, const uint8_t *row, int64_t k) {
    int hi;
    const int64_t b = nibble_byte(p, k, &hi);
    const int nib = (row[b] >> (hi ? 4 : 0)) & 0xf;
    return nib >= 8 ? nib - 16 : nib;
}

static qg_status w4a8_unpack(const qg_problem *p, const qg_packed_weight *in, float *w, int64_t ldw) {
    const int64_t k = p->k, gl = group_len(p), g = group_count(p);
    const uint8_t *q = in->weight;
    const float *s = in->scale;
    for (int64_t i = 0; i < p->n; i++)
        for (int64_t j = 0; j < k; j++)
            w[i * ldw + j] = (float)w4_code(p, q + i * (k / 2), j) * s[i * g + j / gl];
    return QG_SUCCESS;
}

static qg_status w4a8_reference(const qg_problem *p, const void *a, const float *a_scale,
                                const qg_packed_weight *w, const void *bias, double *c) {
    const int64_t m = p->m, n = p->n, k = p->k, gl = group_len(p), g = group_count(p);
    const qg_dtype at = is_fp8(p) ? QG_DTYPE_FP8_E4M3 : QG_DTYPE_INT8;
    double *ad = malloc(sizeof(double) * (size_t)(m * k));
    double *wd = malloc(sizeof(double) * (size_t)k);
    if (!ad || !wd) {
        free(ad);
        free(wd);
        return QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "no memory for the reference GEMM");
    }
    for (int64_t i = 0; i < m * k; i++) ad[i] = qg_act_decode(at, a, i);
    const uint8_t *q = w->weight;
    const float *ws = w->scale;
    for (int64_t j = 0; j < n; j++) {
        /* The group scale is folded into the decoded weight: exact in float64 (a 4-bit value
         * times a float), so this equals sum_g s * sum_k a*v up to summation order. */
        for (int64_t kk = 0; kk < k; kk++)
            wd[kk] = (double)w4_code(p, q + j * (k / 2), kk) * (double)ws[j * g + kk / gl];
        const double b = p->has_bias ? qg_act_decode(p->out_dtype, bias, j) : 0.0;
        for (int64_t i = 0; i < m; i++) {
            const double *ar = ad + i * k;
            double acc = 0;
            for (int64_t kk = 0; kk < k; kk++) acc += ar[kk] * wd[kk];
            const double sa = a_scale[p->act_scale == QG_SCALE_PER_TENSOR ? 0 : i];
            c[i * n + j] = acc * sa + b;
        }
    }
    free(ad);
    free(wd);
    return QG_SUCCESS;
}

const qg_scheme_traits qg_traits_w4a8_fp8 = {
    .scheme = QG_SCHEME_W4A8_FP8,
    .name = "w4a8-fp8",
    .weight_bits = 4,
    .dynamic_act = 1,
    .act_qtype = QG_DTYPE_FP8_E4M3,
    .sparse24 = 0,
    .min_cc = 89,
    .validate = w4a8_validate,
    .sizes = w4a8_sizes,
    .quantize = w4a8_quantize,
    .pack = w4a8_pack,
    .unpack = w4a8_unpack,
    .reference = w4a8_reference,
};

const qg_scheme_traits qg_traits_w4a8_int8 = {
    .scheme = QG_SCHEME_W4A8_INT8,
    .name = "w4a8-int8",
    .weight_bits = 4,
    .dynamic_act = 1,
    .act_qtype = QG_DTYPE_INT8,
    .sparse24 = 0,
    .min_cc = 80,
    .validate = w4a8_validate,
    .sizes = w4a8_sizes,
    .quantize = w4a8_quantize,
    .pack = w4a8_pack,
    .unpack = w4a8_unpack,
    .reference = w4a8_reference,
};
