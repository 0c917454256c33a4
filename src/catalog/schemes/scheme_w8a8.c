/*
 * W8A8_FP8 and W8A8_INT8 host side (docs/formats.md, "W8A8"): 8-bit weights [N,K] row-major
 * (K-major, what mma.sync and wgmma take for 8-bit operands) with f32 scales per row or per
 * tensor; activations quantized per token (or per tensor) at run time.
 *   C[m,n] = a_scale[m] * w_scale[n] * sum_k a_q[m,k] * w_q[n,k] (+ bias[n])
 */
#include "dynact.h"
#include "schemes.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_fp8(const qg_problem *p) { return p->scheme == QG_SCHEME_W8A8_FP8; }

static qg_status w8a8_validate(const qg_problem *p, char *why, size_t why_len) {
    if (p->k % 16 != 0) {
        snprintf(why, why_len,
                 "K (%lld) must be a multiple of 16 (16-byte weight and "
                 "activation rows)",
                 (long long)p->k);
        return QG_ERR_INVALID_ARGUMENT;
    }
    if (p->has_zero_point) {
        snprintf(why, why_len, "8-bit weights are symmetric: has_zero_point must be 0");
        return QG_ERR_INVALID_ARGUMENT;
    }
    if (!is_fp8(p) && p->k > QG_INT8_MAX_K) {
        snprintf(why, why_len, "K (%lld) above %d could overflow the int32 accumulator",
                 (long long)p->k, QG_INT8_MAX_K);
        return QG_ERR_INVALID_ARGUMENT;
    }
    return QG_SUCCESS;
}

static qg_status w8a8_sizes(const qg_problem *p, qg_packed_sizes *out) {
    out->weight_bytes = (size_t)p->n * (size_t)p->k;
    out->scale_bytes = sizeof(float) * (p->weight_scale == QG_SCALE_PER_TENSOR ? 1 : (size_t)p->n);
    return QG_SUCCESS;
}

/* Symmetric absmax quantization: fp8 scale absmax/448 (codes RNE, saturating), int8 absmax/127
 * (codes rounded to nearest even, clamped to [-127, 127]). An all-zero row gets scale 1. */
static qg_status w8a8_quantize(const qg_problem *p, const float *w, int64_t ldw,
                               qg_plain_weight *out) {
    const int64_t n = p->n, k = p->k;
    const int fp8 = is_fp8(p);
    out->n = n;
    out->k = k;
    out->groups = 1;
    out->group_size = (int32_t)k;
    out->fp8 = fp8;
    out->codes = malloc((size_t)n * (size_t)k);
    out->scales = malloc(sizeof(float) * (size_t)n);
    out->zeros = NULL;
    if (!out->codes || !out->scales) {
        qg_plain_weight_free(out);
        return QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "no memory to quantize a %lldx%lld weight",
                        (long long)n, (long long)k);
    }
    const float qmax = fp8 ? QG_E4M3_MAX : QG_INT8_QMAX;
    float tensor_max = 0;
    if (p->weight_scale == QG_SCALE_PER_TENSOR)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < k; j++) tensor_max = fmaxf(tensor_max, fabsf(w[i * ldw + j]));
    for (int64_t i = 0; i < n; i++) {
        float amax = tensor_max;
        if (p->weight_scale != QG_SCALE_PER_TENSOR)
            for (int64_t j = 0; j < k; j++) amax = fmaxf(amax, fabsf(w[i * ldw + j]));
        /* a row of denormals whose scale underflows to 0 takes the smallest scale (w / s
         * must not be 0 / 0) */
        const float s = amax > 0 ? fmaxf(amax / qmax, FLT_TRUE_MIN) : 1.0f;
        out->scales[i] = s;
        for (int64_t j = 0; j < k; j++) {
            const float x = w[i * ldw + j] / s;
            int8_t c;
            if (fp8) {
                c = (int8_t)qg_f32_to_e4m3(x);
            } else {
                float r = nearbyintf(x);
                c = (int8_t)(r > 127.f ? 127 : r < -127.f ? -127 : (int)r);
            }
            out->codes[i * k + j] = c;
        }
    }
    return QG_SUCCESS;
}

static qg_status w8a8_pack(const qg_problem *p, const qg_plain_weight *pw,
                           const qg_packed_weight *out) {
    QG_RETURN_IF(NULL, pw->n != p->n || pw->k != p->k || pw->groups != 1, QG_ERR_INVALID_ARGUMENT,
                 "plain weight is %lldx%lld with %d groups; expected %lldx%lld per-row",
                 (long long)pw->n, (long long)pw->k, (int)pw->groups, (long long)p->n,
                 (long long)p->k);
    memcpy(out->weight, pw->codes, (size_t)p->n * (size_t)p->k);
    float *s = out->scale;
    if (p->weight_scale == QG_SCALE_PER_TENSOR) s[0] = pw->scales[0];
    else memcpy(s, pw->scales, sizeof(float) * (size_t)p->n);
    return QG_SUCCESS;
}

static double w8_decode(const qg_problem *p, uint8_t b) {
    return is_fp8(p) ? (double)qg_e4m3_to_f32(b) : (double)(int8_t)b;
}

static qg_status w8a8_unpack(const qg_problem *p, const qg_packed_weight *in, float *w, int64_t ldw) {
    const uint8_t *q = in->weight;
    const float *s = in->scale;
    for (int64_t i = 0; i < p->n; i++) {
        const float si = s[p->weight_scale == QG_SCALE_PER_TENSOR ? 0 : i];
        for (int64_t j = 0; j < p->k; j++)
            w[i * ldw + j] = (float)(w8_decode(p, q[i * p->k + j]) * si);
    }
    return QG_SUCCESS;
}

/* float64 GEMM on the packed bytes: one decoded weight row at a time, so the cost is
 * O(N*K + M*N*K) with a tight inner loop (GPU tests run it on thousands of rows). */
static qg_status w8a8_reference(const qg_problem *p, const void *a, const float *a_scale,
                                const qg_packed_weight *w, const void *bias, double *c) {
    const int64_t m = p->m, n = p->n, k = p->k;
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
        for (int64_t kk = 0; kk < k; kk++) wd[kk] = w8_decode(p, q[j * k + kk]);
        const double sw = ws[p->weight_scale == QG_SCALE_PER_TENSOR ? 0 : j];
        const double b = p->has_bias ? qg_act_decode(p->out_dtype, bias, j) : 0.0;
        for (int64_t i = 0; i < m; i++) {
            const double *ar = ad + i * k;
            double acc = 0;
            for (int64_t kk = 0; kk < k; kk++) acc += ar[kk] * wd[kk];
            const double sa = a_scale[p->act_scale == QG_SCALE_PER_TENSOR ? 0 : i];
            c[i * n + j] = acc * sa * sw + b;
        }
    }
    free(ad);
    free(wd);
    return QG_SUCCESS;
}

const qg_scheme_traits qg_traits_w8a8_fp8 = {
    .scheme = QG_SCHEME_W8A8_FP8,
    .name = "w8a8-fp8",
    .weight_bits = 8,
    .dynamic_act = 1,
    .act_qtype = QG_DTYPE_FP8_E4M3,
    .sparse24 = 0,
    .min_cc = 89,
    .validate = w8a8_validate,
    .sizes = w8a8_sizes,
    .quantize = w8a8_quantize,
    .pack = w8a8_pack,
    .unpack = w8a8_unpack,
    .reference = w8a8_reference,
};

const qg_scheme_traits qg_traits_w8a8_int8 = {
    .scheme = QG_SCHEME_W8A8_INT8,
    .name = "w8a8-int8",
    .weight_bits = 8,
    .dynamic_act = 1,
    .act_qtype = QG_DTYPE_INT8,
    .sparse24 = 0,
    .min_cc = 80,
    .validate = w8a8_validate,
    .sizes = w8a8_sizes,
    .quantize = w8a8_quantize,
    .pack = w8a8_pack,
    .unpack = w8a8_unpack,
    .reference = w8a8_reference,
};
