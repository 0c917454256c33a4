/* The scheme traits table and the public host-side quantize / pack / reference calls. */
#include "schemes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Each scheme's traits live in its scheme_<name>.c; one line each here. */

extern const qg_scheme_traits qg_traits_sp24_bf16, qg_traits_sp24_int8, qg_traits_sp24_fp8;
extern const qg_scheme_traits qg_traits_w8a8_fp8, qg_traits_w8a8_int8;
extern const qg_scheme_traits qg_traits_w4a8_fp8, qg_traits_w4a8_int8;
extern const qg_scheme_traits qg_traits_w4a16, qg_traits_w8a16;

static const qg_scheme_traits *const table[QG_SCHEME_COUNT_] = {
    [QG_SCHEME_SP24_BF16] = &qg_traits_sp24_bf16, [QG_SCHEME_SP24_INT8] = &qg_traits_sp24_int8,
    [QG_SCHEME_SP24_FP8] = &qg_traits_sp24_fp8,   [QG_SCHEME_W8A8_FP8] = &qg_traits_w8a8_fp8,
    [QG_SCHEME_W8A8_INT8] = &qg_traits_w8a8_int8, [QG_SCHEME_W4A8_FP8] = &qg_traits_w4a8_fp8,
    [QG_SCHEME_W4A8_INT8] = &qg_traits_w4a8_int8, [QG_SCHEME_W4A16] = &qg_traits_w4a16,
    [QG_SCHEME_W8A16] = &qg_traits_w8a16,
};

const qg_scheme_traits *qg_scheme_get(qg_scheme s) {
    return ((unsigned)s < QG_SCHEME_COUNT_) ? table[s] : NULL;
}

void qg_plain_weight_free(qg_plain_weight *pw) {
    if (!pw) return;
    free(pw->codes);
    free(pw->scales);
    free(pw->zeros);
    memset(pw, 0, sizeof *pw);
}

double qg_act_decode(qg_dtype t, const void *a, int64_t idx) {
    switch (t) {
    case QG_DTYPE_BF16: return qg_bf16_to_f32(((const uint16_t *)a)[idx]);
    case QG_DTYPE_F16: return qg_f16_to_f32(((const uint16_t *)a)[idx]);
    case QG_DTYPE_FP8_E4M3: return qg_e4m3_to_f32(((const uint8_t *)a)[idx]);
    case QG_DTYPE_INT8: return ((const int8_t *)a)[idx];
    case QG_DTYPE_F32: return ((const float *)a)[idx];
    default: return 0.0;
    }
}

qg_status qg_packed_sizes_get(const qg_problem *p, qg_packed_sizes *out) {
    QG_RETURN_IF(NULL, !out, QG_ERR_NULL_POINTER, "out is NULL");
    QG_CHECK(qg_problem_validate_weight(p));
    memset(out, 0, sizeof *out);
    return qg_scheme_get(p->scheme)->sizes(p, out);
}

static qg_status check_out(const qg_problem *p, const qg_packed_weight *out) {
    qg_packed_sizes sz;
    QG_CHECK(qg_packed_sizes_get(p, &sz));
    QG_RETURN_IF(NULL, !out, QG_ERR_NULL_POINTER, "packed weight is NULL");
    QG_RETURN_IF(NULL,
                 !out->weight || (sz.scale_bytes && !out->scale) || (sz.zero_bytes && !out->zero) ||
                     (sz.meta_bytes && !out->meta),
                 QG_ERR_NULL_POINTER,
                 "a packed buffer the scheme needs is NULL "
                 "(weight %zu, scale %zu, zero %zu, meta %zu bytes)",
                 sz.weight_bytes, sz.scale_bytes, sz.zero_bytes, sz.meta_bytes);
    return QG_SUCCESS;
}

/* The NaN/Inf policy of every scheme's weight quantizer (include/qgemm.h): a weight that is
 * NaN or infinite is QG_ERR_INVALID_ARGUMENT naming its row and column, before anything is
 * written (quantizing it would silently give a NaN or zero row or group). */
static qg_status check_finite(const float *w, int64_t n, int64_t k, int64_t ldw) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++)
            QG_RETURN_IF(NULL, !isfinite(w[i * ldw + j]), QG_ERR_INVALID_ARGUMENT,
                         "weight (row %lld, column %lld) is %s: weights must be finite",
                         (long long)i, (long long)j, isnan(w[i * ldw + j]) ? "NaN" : "infinite");
    return QG_SUCCESS;
}

qg_status qg_quantize_weight(const qg_problem *p, const float *w, int64_t ldw,
                             const qg_packed_weight *out) {
    QG_CHECK(check_out(p, out));
    QG_RETURN_IF(NULL, !w, QG_ERR_NULL_POINTER, "weight is NULL");
    QG_RETURN_IF(NULL, ldw < p->k, QG_ERR_INVALID_ARGUMENT, "ldw (%lld) < K (%lld)", (long long)ldw,
                 (long long)p->k);
    QG_CHECK(check_finite(w, p->n, p->k, ldw));
    const qg_scheme_traits *t = qg_scheme_get(p->scheme);
    qg_plain_weight pw = {0};
    qg_status s = t->quantize(p, w, ldw, &pw);
    if (s == QG_SUCCESS) s = t->pack(p, &pw, out);
    qg_plain_weight_free(&pw);
    return s;
}

qg_status qg_quantize_weight_bf16(const qg_problem *p, const uint16_t *w, int64_t ldw,
                                  const qg_packed_weight *out) {
    QG_CHECK(check_out(p, out));
    QG_RETURN_IF(NULL, !w, QG_ERR_NULL_POINTER, "weight is NULL");
    QG_RETURN_IF(NULL, ldw < p->k, QG_ERR_INVALID_ARGUMENT, "ldw (%lld) < K (%lld)", (long long)ldw,
                 (long long)p->k);
    size_t bytes;
    QG_RETURN_IF(NULL, __builtin_mul_overflow((size_t)p->n * (size_t)p->k, sizeof(float), &bytes),
                 QG_ERR_OUT_OF_MEMORY, "a %lldx%lld float copy does not fit in memory",
                 (long long)p->n, (long long)p->k);
    float *f = malloc(bytes);
    QG_RETURN_IF(NULL, !f, QG_ERR_OUT_OF_MEMORY, "no memory for a %lldx%lld float copy",
                 (long long)p->n, (long long)p->k);
    for (int64_t i = 0; i < p->n; i++)
        for (int64_t j = 0; j < p->k; j++) f[i * p->k + j] = qg_bf16_to_f32(w[i * ldw + j]);
    qg_status s = qg_quantize_weight(p, f, p->k, out);
    free(f);
    return s;
}

qg_status qg_dequantize_weight_host(const qg_problem *p, const qg_packed_weight *in, float *w,
                                    int64_t ldw) {
    QG_CHECK(check_out(p, in));
    QG_RETURN_IF(NULL, !w, QG_ERR_NULL_POINTER, "output is NULL");
    QG_RETURN_IF(NULL, ldw < p->k, QG_ERR_INVALID_ARGUMENT, "ldw (%lld) < K (%lld)", (long long)ldw,
                 (long long)p->k);
    return qg_scheme_get(p->scheme)->unpack(p, in, w, ldw);
}

qg_status qg_reference_gemm(const qg_problem *p, const void *a, const float *a_scale,
                            const qg_packed_weight *w, const void *bias, double *c) {
    QG_CHECK(qg_problem_validate(p));
    QG_CHECK(check_out(p, w));
    const qg_scheme_traits *t = qg_scheme_get(p->scheme);
    QG_RETURN_IF(NULL, !a || !c, QG_ERR_NULL_POINTER, "a and c must not be NULL");
    QG_RETURN_IF(NULL, t->dynamic_act && !a_scale, QG_ERR_NULL_POINTER,
                 "%s needs activation scales", t->name);
    QG_RETURN_IF(NULL, p->has_bias && !bias, QG_ERR_NULL_POINTER, "has_bias is set but bias is NULL");
    return t->reference(p, a, a_scale, w, bias, c);
}
