/*
 * qg_quantize_activations_host against its definition (docs/formats.md, "Activations"):
 * scale = max(absmax / 448 | 127, 1e-12) in float32, q = round-to-nearest-even of a / scale
 * (e4m3 satfinite / int8 saturating). The e4m3 side is checked by searching for the nearest
 * representable value, independently of the library's encoder.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Nearest e4m3 code to v, by scanning the 126 positive finite codes (ties to even code). */
static uint8_t e4m3_nearest(float v) {
    const double a = fabs((double)v);
    const uint8_t sign = signbit(v) ? 0x80 : 0;
    if (a >= 448.0) return sign | 0x7e;
    int best = 0;
    double bd = a;
    for (int c = 1; c < 127; c++) {
        /* decode by the definition: subnormal c*2^-9, normal (8+m)*2^(e-10) */
        const int e = c >> 3, m = c & 7;
        const double val = e ? ldexp(8 + m, e - 10) : ldexp(m, -9);
        const double d = fabs(val - a);
        if (d < bd || (d == bd && !(c & 1))) best = c, bd = d;
    }
    return (uint8_t)(sign | best);
}

static float load(qg_dtype t, uint16_t v) {
    return t == QG_DTYPE_F16 ? qg_f16_to_f32(v) : qg_bf16_to_f32(v);
}

static void run_case(qg_scheme scheme, qg_dtype in, qg_scale_granularity gran, int64_t m, int64_t k,
                     qt_rng *r) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = scheme;
    p.m = m, p.n = 128, p.k = k;
    p.act_dtype = in;
    p.act_scale = gran;
    const int fp8 = scheme == QG_SCHEME_W8A8_FP8 || scheme == QG_SCHEME_W4A8_FP8;
    uint16_t *a = malloc(sizeof(uint16_t) * (size_t)(m * k));
    uint8_t *q = malloc((size_t)(m * k));
    float *s = malloc(sizeof(float) * (size_t)m);
    for (int64_t i = 0; i < m; i++) {
        /* rows with very different ranges; row 1 all zero; an outlier in row 2 */
        const float range = ldexpf(1.f, (int)(qt_next(r) % 20) - 10);
        for (int64_t j = 0; j < k; j++) {
            const float x = i == 1 ? 0.f : range * qt_normal(r) * (i == 2 && j == 5 ? 100.f : 1.f);
            a[i * k + j] = in == QG_DTYPE_F16 ? qg_f32_to_f16(x) : qg_f32_to_bf16(x);
        }
    }
    QT_OK(qg_quantize_activations_host(&p, a, q, s));
    const float qmax = fp8 ? 448.f : 127.f;
    float tmax = 0;
    for (int64_t i = 0; i < m * k; i++) tmax = fmaxf(tmax, fabsf(load(in, a[i])));
    int bad = 0, hit_max = 0;
    for (int64_t i = 0; i < m; i++) {
        float amax = 0;
        for (int64_t j = 0; j < k; j++) amax = fmaxf(amax, fabsf(load(in, a[i * k + j])));
        if (gran == QG_SCALE_PER_TENSOR) amax = tmax;
        float want = amax / qmax;
        if (want < 1e-12f) want = 1e-12f;
        const float si = s[gran == QG_SCALE_PER_TENSOR ? 0 : i];
        if (si != want) {
            bad++;
            continue;
        }
        for (int64_t j = 0; j < k; j++) {
            const float v = load(in, a[i * k + j]) / si;
            uint8_t wq;
            if (fp8) {
                wq = e4m3_nearest(v);
            } else {
                double rr = nearbyint((double)v);
                wq = (uint8_t)(int8_t)(rr > 127 ? 127 : rr < -128 ? -128 : (int)rr);
            }
            if (q[i * k + j] != wq && bad++ < 5)
                fprintf(stderr, "  row %lld col %lld: %g/%g -> 0x%02x, want 0x%02x\n", (long long)i,
                        (long long)j, load(in, a[i * k + j]), si, q[i * k + j], wq);
            const int mag = fp8 ? (q[i * k + j] & 0x7f) : abs((int8_t)q[i * k + j]);
            if (mag == (fp8 ? 0x7e : 127)) hit_max = 1;
        }
    }
    QT_CHECK(bad == 0, "%s %s %s M=%lld K=%lld: %d scale/code mismatches", qg_scheme_name(scheme),
             qg_dtype_name(in), gran ? "per-tensor" : "per-token", (long long)m, (long long)k, bad);
    QT_CHECK(hit_max, "the absmax element must map to the largest code");
    if (gran == QG_SCALE_PER_ROW && m > 1) {
        QT_CHECK(s[1] == 1e-12f, "an all-zero row gets the floor scale, got %g", s[1]);
        int nz = 0;
        for (int64_t j = 0; j < k; j++) nz += q[k + j] != 0;
        QT_CHECK(nz == 0, "an all-zero row quantizes to zeros");
    }
    free(a);
    free(q);
    free(s);
}

static void test_errors(void) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = QG_SCHEME_W8A8_FP8;
    p.m = 2, p.n = 16, p.k = 32;
    uint16_t a[64] = {0};
    uint8_t q[64];
    float s[2];
    QT_STATUS(qg_quantize_activations_host(&p, NULL, q, s), QG_ERR_NULL_POINTER);
    QT_STATUS(qg_quantize_activations_host(&p, a, q, NULL), QG_ERR_NULL_POINTER);
    p.k = 24;
    QT_STATUS(qg_quantize_activations_host(&p, a, q, s), QG_ERR_INVALID_ARGUMENT);
    p.k = 32;
    p.scheme = QG_SCHEME_W8A16;
    qg_status st = qg_quantize_activations_host(&p, a, q, s);
    QT_CHECK(st != QG_SUCCESS, "a weight-only scheme has no activation quantization");
}

int main(void) {
    qt_rng r;
    qt_seed(&r, qt_test_seed());
    const qg_scheme schemes[] = {QG_SCHEME_W8A8_FP8, QG_SCHEME_W8A8_INT8, QG_SCHEME_W4A8_FP8,
                                 QG_SCHEME_W4A8_INT8};
    for (int si = 0; si < 4; si++)
        for (int d = 0; d < 2; d++)
            for (int g = 0; g < 2; g++)
                run_case(schemes[si], d ? QG_DTYPE_F16 : QG_DTYPE_BF16,
                         g ? QG_SCALE_PER_TENSOR : QG_SCALE_PER_ROW, 7, 256, &r);
    run_case(QG_SCHEME_W8A8_FP8, QG_DTYPE_BF16, QG_SCALE_PER_ROW, 3, 4096 + 16, &r);
    test_errors();
    return qt_finish("test_act_quant");
}
