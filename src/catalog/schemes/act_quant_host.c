/*
 * Dynamic activation quantization on the host: the CPU twin of kernels/cuda/act_quant.cu,
 * bit for bit. Both compute, in float32 with IEEE division and round-to-nearest-even:
 *   absmax = max |a[m,k]| over the row (per token) or the whole tensor (per tensor)
 *   scale  = max(absmax / QMAX, 1e-12)             QMAX = 448 (e4m3) or 127 (int8)
 *   q      = e4m3_rn_satfinite(a / scale)  or  int8_rni_sat(a / scale)
 * Dividing (not multiplying by a reciprocal) and using the same operations in the same order
 * is what makes host and device agree exactly. A NaN or infinite activation is
 * QG_ERR_INVALID_ARGUMENT (naming its row and column) before anything is written: the GPU
 * kernels do not check (see qg_quantize_activations in include/qgemm.h for what they do).
 */
#include "dynact.h"
#include "schemes.h"

#include <math.h>

float qg_act_scale_of(float absmax, qg_dtype qtype) {
    const float qmax = qtype == QG_DTYPE_INT8 ? QG_INT8_QMAX : QG_E4M3_MAX;
    return fmaxf(absmax / qmax, QG_ACT_SCALE_FLOOR);
}

uint8_t qg_act_quant_one(float x, float scale, qg_dtype qtype) {
    const float v = x / scale;
    if (qtype != QG_DTYPE_INT8) return qg_f32_to_e4m3(v);
    /* cvt.rni.sat.s8.f32: nearest even integer, clamped to [-128, 127], NaN -> 0 */
    if (isnan(v)) return 0;
    const float r = nearbyintf(v);
    const int i = r >= 127.f ? 127 : r <= -128.f ? -128 : (int)r;
    return (uint8_t)(int8_t)i;
}

qg_status qg_quantize_activations_host(const qg_problem *p, const uint16_t *a, void *q, float *scale) {
    QG_CHECK(qg_problem_validate(p));
    QG_RETURN_IF(NULL, !a || !q || !scale, QG_ERR_NULL_POINTER, "a, q and scale must not be NULL");
    const qg_scheme_traits *t = qg_scheme_get(p->scheme);
    QG_RETURN_IF(NULL, !t->dynamic_act, QG_ERR_INVALID_ARGUMENT,
                 "%s does not quantize activations (weight-only scheme)", t->name);
    const qg_dtype qt = t->act_qtype;
    const int64_t m = p->m, k = p->k;
    uint8_t *out = q;
    float (*load)(uint16_t) = p->act_dtype == QG_DTYPE_F16 ? qg_f16_to_f32 : qg_bf16_to_f32;

    for (int64_t i = 0; i < m * k; i++) {
        const float x = load(a[i]);
        QG_RETURN_IF(NULL, !isfinite(x), QG_ERR_INVALID_ARGUMENT,
                     "activation (row %lld, column %lld) is %s: activations must be finite",
                     (long long)(i / k), (long long)(i % k), isnan(x) ? "NaN" : "infinite");
    }
    float tensor_scale = 0;
    if (p->act_scale == QG_SCALE_PER_TENSOR) {
        float amax = 0;
        for (int64_t i = 0; i < m * k; i++) amax = fmaxf(amax, fabsf(load(a[i])));
        tensor_scale = qg_act_scale_of(amax, qt);
        scale[0] = tensor_scale;
    }
    for (int64_t i = 0; i < m; i++) {
        const uint16_t *row = a + i * k;
        float s = tensor_scale;
        if (p->act_scale != QG_SCALE_PER_TENSOR) {
            float amax = 0;
            for (int64_t j = 0; j < k; j++) amax = fmaxf(amax, fabsf(load(row[j])));
            s = qg_act_scale_of(amax, qt);
            scale[i] = s;
        }
        for (int64_t j = 0; j < k; j++) out[i * k + j] = qg_act_quant_one(load(row[j]), s, qt);
    }
    return QG_SUCCESS;
}
