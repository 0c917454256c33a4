/*
 * W8A8_FP8 / W8A8_INT8 host side: validation, sizes, quantizer bounds, the packed layout
 * (plain [N,K] bytes + f32 scales), unpack round trip, and the reference GEMM against a naive
 * float64 GEMM on the plain codes.
 */
#include "schemes.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static qg_problem make(qg_scheme s, int64_t m, int64_t n, int64_t k, qg_scale_granularity ws,
                       qg_scale_granularity as, int bias, qg_dtype out) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = s;
    p.m = m, p.n = n, p.k = k;
    p.weight_scale = ws;
    p.act_scale = as;
    p.has_bias = bias;
    p.out_dtype = out;
    return p;
}

static double dec_w(int fp8, uint8_t b) { return fp8 ? qg_e4m3_to_f32(b) : (double)(int8_t)b; }

static void run_case(const qg_problem *p, qt_rng *r) {
    const int fp8 = p->scheme == QG_SCHEME_W8A8_FP8;
    const int64_t m = p->m, n = p->n, k = p->k;
    const int per_tensor = p->weight_scale == QG_SCALE_PER_TENSOR;
    char what[128];
    snprintf(what, sizeof what, "%s %lldx%lldx%lld w%s a%s bias%d %s", qg_scheme_name(p->scheme),
             (long long)m, (long long)n, (long long)k, per_tensor ? "T" : "R",
             p->act_scale ? "T" : "R", p->has_bias, qg_dtype_name(p->out_dtype));

    float *w = malloc(sizeof(float) * (size_t)(n * k));
    for (int64_t i = 0; i < n; i++) /* rows of different magnitudes */
        for (int64_t j = 0; j < k; j++) w[i * k + j] = ldexpf(1.f, (int)(i % 7) - 3) * qt_normal(r);
    w[0] = 0; /* and one all-zero row */
    if (n > 3)
        for (int64_t j = 0; j < k; j++) w[3 * k + j] = 0;

    qg_packed_sizes sz;
    QT_OK(qg_packed_sizes_get(p, &sz));
    QT_CHECK(sz.weight_bytes == (size_t)(n * k) && sz.zero_bytes == 0 && sz.meta_bytes == 0 &&
                 sz.scale_bytes == 4 * (size_t)(per_tensor ? 1 : n),
             "%s: sizes %zu/%zu", what, sz.weight_bytes, sz.scale_bytes);
    qg_packed_weight pk = {malloc(sz.weight_bytes), malloc(sz.scale_bytes), NULL, NULL};
    QT_OK(qg_quantize_weight(p, w, k, &pk));

    /* the packed bytes are exactly the plain codes, row-major */
    const qg_scheme_traits *t = qg_scheme_get(p->scheme);
    qg_plain_weight pw = {0};
    QT_OK(t->quantize(p, w, k, &pw));
    QT_CHECK(memcmp(pk.weight, pw.codes, sz.weight_bytes) == 0, "%s: packed bytes != codes", what);
    QT_CHECK(((float *)pk.scale)[0] == pw.scales[0], "%s: scale[0]", what);

    /* quantization error bounds: int8 |err| <= s/2; e4m3 relative 2^-4 (3 mantissa bits,
     * round to nearest) above 2^-6*s, absolute 2^-10*s below */
    float *dq = malloc(sizeof(float) * (size_t)(n * k));
    QT_OK(qg_dequantize_weight_host(p, &pk, dq, k));
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        const double s = ((float *)pk.scale)[per_tensor ? 0 : i];
        for (int64_t j = 0; j < k; j++) {
            const double x = w[i * k + j], e = fabs(dq[i * k + j] - x);
            const double lim = fp8 ? fmax(fabs(x) / 16, s * ldexp(1, -10)) * 1.0001 : s * 0.5001;
            if (e > lim + 1e-30 && bad++ < 3)
                fprintf(stderr, "  (%lld,%lld) %g -> %g (s %g)\n", (long long)i, (long long)j, x,
                        dq[i * k + j], s);
        }
    }
    QT_CHECK(bad == 0, "%s: %d dequantized values outside the rounding bound", what, bad);

    /* activations: random codes (all finite e4m3 / full int8 range) and scales */
    uint8_t *a = malloc((size_t)(m * k));
    for (int64_t i = 0; i < m * k; i++) {
        uint8_t b = (uint8_t)qt_next(r);
        if (fp8 && (b & 0x7f) == 0x7f) b = 0x7e;
        a[i] = b;
    }
    float *as = malloc(sizeof(float) * (size_t)m);
    for (int64_t i = 0; i < m; i++) as[i] = qt_uniform(r, 0.001f, 0.01f);
    uint16_t *bias = malloc(sizeof(uint16_t) * (size_t)n);
    for (int64_t j = 0; j < n; j++)
        bias[j] = p->out_dtype == QG_DTYPE_F16 ? qg_f32_to_f16(qt_normal(r))
                                               : qg_f32_to_bf16(qt_normal(r));

    double *c = malloc(sizeof(double) * (size_t)(m * n));
    QT_OK(qg_reference_gemm(p, a, as, &pk, p->has_bias ? bias : NULL, c));
    /* naive float64 on the plain codes */
    double num = 0, den = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t kk = 0; kk < k; kk++)
                acc += dec_w(fp8, a[i * k + kk]) * dec_w(fp8, (uint8_t)pw.codes[j * k + kk]);
            double want = acc * as[p->act_scale ? 0 : i] * pw.scales[j];
            if (p->has_bias)
                want += p->out_dtype == QG_DTYPE_F16 ? qg_f16_to_f32(bias[j])
                                                     : qg_bf16_to_f32(bias[j]);
            num += (c[i * n + j] - want) * (c[i * n + j] - want);
            den += want * want;
        }
    QT_CHECK(sqrt(num / den) < 1e-12, "%s: reference vs naive rel err %g", what, sqrt(num / den));

    free(w);
    free(dq);
    free(a);
    free(as);
    free(bias);
    free(c);
    free(pk.weight);
    free(pk.scale);
    qg_plain_weight_free(&pw);
}

static void test_validation(void) {
    qg_problem p = make(QG_SCHEME_W8A8_FP8, 4, 32, 40, 0, 0, 0, QG_DTYPE_BF16);
    QT_STATUS(qg_problem_validate(&p), QG_ERR_INVALID_ARGUMENT); /* K % 16 */
    p.k = 48;
    QT_OK(qg_problem_validate(&p));
    p.has_zero_point = 1;
    QT_STATUS(qg_problem_validate(&p), QG_ERR_INVALID_ARGUMENT);
    p = make(QG_SCHEME_W8A8_INT8, 4, 32, 262144, 0, 0, 0, QG_DTYPE_BF16);
    QT_STATUS(qg_problem_validate(&p), QG_ERR_INVALID_ARGUMENT); /* int32 overflow bound */
    p.k = 64;
    p.out_dtype = QG_DTYPE_F32;
    QT_STATUS(qg_problem_validate(&p), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(qg_scheme_get(QG_SCHEME_W8A8_FP8)->min_cc == 89, "fp8 needs sm_89");
    QT_CHECK(qg_scheme_get(QG_SCHEME_W8A8_INT8)->min_cc == 80, "int8 needs sm_80");
    /* reference argument checks */
    p = make(QG_SCHEME_W8A8_FP8, 2, 16, 16, 0, 0, 1, QG_DTYPE_BF16);
    uint8_t a[32] = {0}, wq[256] = {0};
    float s[16] = {1}, as[2] = {1, 1};
    qg_packed_weight pk = {wq, s, NULL, NULL};
    double c[32];
    QT_STATUS(qg_reference_gemm(&p, a, NULL, &pk, NULL, c), QG_ERR_NULL_POINTER);
    QT_STATUS(qg_reference_gemm(&p, a, as, &pk, NULL, c), QG_ERR_NULL_POINTER); /* bias */
    pk.scale = NULL;
    p.has_bias = 0;
    QT_STATUS(qg_reference_gemm(&p, a, as, &pk, NULL, c), QG_ERR_NULL_POINTER);
}

int main(void) {
    qt_rng r;
    qt_seed(&r, qt_test_seed());
    test_validation();
    const qg_scheme schemes[] = {QG_SCHEME_W8A8_FP8, QG_SCHEME_W8A8_INT8};
    for (int si = 0; si < 2; si++)
        for (int ws = 0; ws < 2; ws++)
            for (int as = 0; as < 2; as++) {
                qg_problem p = make(schemes[si], 5, 24, 80, ws, as, (ws + as) & 1,
                                    as ? QG_DTYPE_F16 : QG_DTYPE_BF16);
                run_case(&p, &r);
            }
    qg_problem p = make(QG_SCHEME_W8A8_FP8, 1, 3, 16, 0, 0, 1, QG_DTYPE_BF16);
    run_case(&p, &r);
    return qt_finish("test_w8a8");
}
