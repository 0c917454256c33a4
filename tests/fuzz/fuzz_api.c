/* Fuzz target: the host C API's argument checks. The input picks a problem (every field, in and
 * out of range) and, when it validates and is small, weight and activation values (NaN, Inf,
 * denormals included): qg_problem_validate, qg_packed_sizes_get, qg_quantize_weight(_bf16),
 * qg_dequantize_weight_host and qg_quantize_activations_host must return a status, never crash,
 * overflow or invoke undefined behaviour, and never accept a non-finite value. */
#include "qgemm.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const uint8_t *p;
    size_t n;
} input;

static uint64_t take(input *in, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = v << 8 | (in->n ? (in->n--, *in->p++) : 0);
    return v;
}

/* A dimension: small ones mostly, sometimes huge or negative. */
static int64_t dim(input *in) {
    const uint64_t sel = take(in, 1);
    const uint64_t v = take(in, 2);
    switch (sel % 8) {
    case 0: return (int64_t)take(in, 8);                  /* anything, negative included */
    case 1: return (int64_t)1 << (v % 63);                /* powers of two up to 2^62 */
    case 2: return ((int64_t)1 << 31) - (int64_t)(v % 3); /* around the bound */
    default: return (int64_t)(v % 8 + 1) * 64;            /* 64 .. 512 */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    input in = {data, size};
    qg_problem p;
    qg_problem_init(&p);
    if (take(&in, 1) % 16 == 0) p.struct_size = (size_t)take(&in, 2);
    p.scheme = (qg_scheme)(take(&in, 1) % 12);
    p.m = dim(&in), p.n = dim(&in), p.k = dim(&in);
    static const int32_t groups[] = {0, 32, 64, 128, 256, -1, 7, 1 << 30};
    p.group_size = groups[take(&in, 1) % 8];
    p.has_zero_point = (int32_t)(take(&in, 1) % 3);
    p.act_dtype = (qg_dtype)(take(&in, 1) % 10);
    p.out_dtype = (qg_dtype)(take(&in, 1) % 10);
    p.weight_scale = (qg_scale_granularity)(take(&in, 1) % 4);
    p.act_scale = (qg_scale_granularity)(take(&in, 1) % 4);
    p.has_bias = (int32_t)(take(&in, 1) % 2);
    qg_problem_validate(&p);
    qg_packed_sizes sz;
    if (qg_packed_sizes_get(&p, &sz) != QG_SUCCESS) return 0;
    if (p.n * p.k > (1 << 16)) return 0; /* keep each run fast */
    const int act = p.m >= 1 && p.m <= 64;
    const size_t nk = (size_t)(p.n * p.k), mk = act ? (size_t)(p.m * p.k) : 1;
    float *w = malloc(nk * sizeof(float)), *back = malloc(nk * sizeof(float));
    uint16_t *w16 = malloc(nk * sizeof(uint16_t)), *a = malloc(mk * sizeof(uint16_t));
    uint8_t *q = malloc(mk);
    float *scale = malloc((act ? (size_t)p.m : 1) * sizeof(float));
    void *buf[4] = {malloc(sz.weight_bytes + 1), malloc(sz.scale_bytes + 1),
                    malloc(sz.zero_bytes + 1), malloc(sz.meta_bytes + 1)};
    qg_packed_weight pw = {buf[0], buf[1], buf[2], buf[3]};
    const float scale_w = ldexpf(1.f, (int)(take(&in, 1) % 80) - 60);
    int finite = 1;
    for (size_t i = 0; i < nk; i++) {
        const uint64_t r = take(&in, 2);
        /* mostly gaussian-ish values; raw float bits (NaN, Inf, denormals) where the input says */
        if (r >> 15) {
            uint32_t bits = (uint32_t)(r * 2654435761u);
            memcpy(&w[i], &bits, 4);
        } else {
            w[i] = ((float)(r % 2001) - 1000.f) * scale_w;
        }
        finite &= isfinite(w[i]) != 0;
        w16[i] = qg_f32_to_bf16(w[i]);
    }
    const qg_status s = qg_quantize_weight(&p, w, p.k, &pw);
    if (!finite && s == QG_SUCCESS) abort(); /* the NaN/Inf policy */
    if (s == QG_SUCCESS) qg_dequantize_weight_host(&p, &pw, back, p.k);
    qg_quantize_weight_bf16(&p, w16, p.k, &pw);
    int a_finite = 1;
    for (size_t i = 0; act && i < mk; i++) {
        a[i] = (uint16_t)take(&in, 2);
        const float x = p.act_dtype == QG_DTYPE_F16 ? qg_f16_to_f32(a[i]) : qg_bf16_to_f32(a[i]);
        a_finite &= isfinite(x) != 0;
    }
    if (act && qg_quantize_activations_host(&p, a, q, scale) == QG_SUCCESS && !a_finite) abort();
    for (int i = 0; i < 4; i++) free(buf[i]);
    free(w), free(back), free(w16), free(a), free(q), free(scale);
    return 0;
}
