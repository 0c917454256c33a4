/*
 * W4A8_FP8 / W4A8_INT8 host side: validation, sizes, the byte layout of docs/formats.md checked
 * at hand-computed positions, quantizer bounds, unpack round trip, and the reference GEMM
 * against a naive float64 GEMM on the plain codes.
 */
#include "schemes.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static qg_problem make(qg_scheme s, int64_t m, int64_t n, int64_t k, int group, int as) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = s;
    p.m = m, p.n = n, p.k = k;
    p.group_size = group;
    p.act_scale = as;
    return p;
}

/* Pack a plain weight whose only non-zero code is `v` at (row, col); return the bytes. */
static uint8_t *pack_one(const qg_problem *p, int64_t row, int64_t col, int v) {
    const qg_scheme_traits *t = qg_scheme_get(p->scheme);
    const int64_t g = p->group_size ? p->k / p->group_size : 1;
    qg_plain_weight pw = {.n = p->n,
                          .k = p->k,
                          .groups = (int32_t)g,
                          .group_size = (int32_t)(p->k / g)};
    pw.codes = calloc((size_t)(p->n * p->k), 1);
    pw.scales = malloc(sizeof(float) * (size_t)(p->n * g));
    for (int64_t i = 0; i < p->n * g; i++) pw.scales[i] = 1.f;
    pw.codes[row * p->k + col] = (int8_t)v;
    uint8_t *w = malloc((size_t)(p->n * p->k / 2));
    float *s = malloc(sizeof(float) * (size_t)(p->n * g));
    qg_packed_weight pk = {w, s, NULL, NULL};
    QT_OK(t->pack(p, &pw, &pk));
    qg_plain_weight_free(&pw);
    free(s);
    return w;
}

/* Expect exactly one non-zero byte at `byte` holding nibble value `nib` in half `hi`. */
static void expect_at(const qg_problem *p, int64_t row, int64_t col, int64_t byte, int hi) {
    uint8_t *w = pack_one(p, row, col, -3); /* -3 -> nibble 0xd */
    const int64_t total = p->n * p->k / 2;
    int others = 0;
    for (int64_t i = 0; i < total; i++)
        if (i != byte && w[i]) others++;
    const uint8_t want = (uint8_t)(hi ? 0xd0 : 0x0d);
    QT_CHECK(w[byte] == want && !others,
             "%s: k=%lld of row %lld should be byte %lld %s nibble "
             "(got 0x%02x there, %d other non-zero bytes)",
             qg_scheme_name(p->scheme), (long long)col, (long long)row, (long long)byte,
             hi ? "high" : "low", w[byte], others);
    free(w);
}

static void test_layouts(void) {
    /* W4A8_FP8: plain two-per-byte, low nibble first. */
    qg_problem p = make(QG_SCHEME_W4A8_FP8, 1, 2, 256, 128, 0);
    expect_at(&p, 0, 0, 0, 0);
    expect_at(&p, 0, 1, 0, 1);
    expect_at(&p, 0, 37, 18, 1);
    expect_at(&p, 1, 200, 128 + 100, 0);
    /* W4A8_INT8: per 128-column block of 64 bytes, byte 16t+4s+j holds k=32s+4t+j (low) and
     * k=32s+16+4t+j (high). Positions worked out by hand: */
    p = make(QG_SCHEME_W4A8_INT8, 1, 2, 256, 32, 0);
    expect_at(&p, 0, 0, 0, 0);                   /* s0 t0 j0 */
    expect_at(&p, 0, 16, 0, 1);                  /* high half of the same byte */
    expect_at(&p, 0, 4, 16, 0);                  /* t1 */
    expect_at(&p, 0, 7, 19, 0);                  /* t1 j3 */
    expect_at(&p, 0, 32, 4, 0);                  /* s1 */
    expect_at(&p, 0, 53, 16 * 1 + 4 * 1 + 1, 1); /* 53 = 32 + 16 + 4*1 + 1 */
    expect_at(&p, 0, 127, 63, 1);                /* s3 t3 j3 high */
    expect_at(&p, 0, 128, 64, 0);                /* next block */
    expect_at(&p, 1, 130, 128 + 64 + 2, 0);
}

static void run_case(const qg_problem *p, qt_rng *r) {
    const int64_t m = p->m, n = p->n, k = p->k;
    const int64_t gl = p->group_size ? p->group_size : k, g = k / gl;
    const int fp8 = p->scheme == QG_SCHEME_W4A8_FP8;
    char what[128];
    snprintf(what, sizeof what, "%s %lldx%lldx%lld g%d a%s bias%d", qg_scheme_name(p->scheme),
             (long long)m, (long long)n, (long long)k, (int)p->group_size, p->act_scale ? "T" : "R",
             p->has_bias);
    float *w = malloc(sizeof(float) * (size_t)(n * k));
    for (int64_t i = 0; i < n * k; i++) w[i] = qt_normal(r) * (i % 300 == 0 ? 10.f : 1.f);
    for (int64_t j = 0; j < gl; j++) w[k + j] = 0; /* an all-zero group */

    qg_packed_sizes sz;
    QT_OK(qg_packed_sizes_get(p, &sz));
    QT_CHECK(sz.weight_bytes == (size_t)(n * k / 2) && sz.scale_bytes == 4 * (size_t)(n * g) &&
                 sz.zero_bytes == 0,
             "%s: sizes", what);
    qg_packed_weight pk = {malloc(sz.weight_bytes), malloc(sz.scale_bytes), NULL, NULL};
    QT_OK(qg_quantize_weight(p, w, k, &pk));
    const qg_scheme_traits *t = qg_scheme_get(p->scheme);
    qg_plain_weight pw = {0};
    QT_OK(t->quantize(p, w, k, &pw));
    int range_bad = 0;
    for (int64_t i = 0; i < n * k; i++) range_bad += pw.codes[i] < -8 || pw.codes[i] > 7;
    QT_CHECK(range_bad == 0, "%s: codes outside [-8,7]", what);

    float *dq = malloc(sizeof(float) * (size_t)(n * k));
    QT_OK(qg_dequantize_weight_host(p, &pk, dq, k));
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++) {
            const double s = pw.scales[i * g + j / gl];
            if (dq[i * k + j] != (float)(pw.codes[i * k + j] * s)) bad++;
            if (fabs(dq[i * k + j] - w[i * k + j]) > 0.5001 * s) bad++;
        }
    QT_CHECK(bad == 0, "%s: %d unpacked values wrong or outside s/2", what, bad);

    uint8_t *a = malloc((size_t)(m * k));
    for (int64_t i = 0; i < m * k; i++) {
        uint8_t b = (uint8_t)qt_next(r);
        if (fp8 && (b & 0x7f) == 0x7f) b = 0x7e;
        a[i] = b;
    }
    float *as = malloc(sizeof(float) * (size_t)m);
    for (int64_t i = 0; i < m; i++) as[i] = qt_uniform(r, 0.001f, 0.01f);
    uint16_t *bias = malloc(sizeof(uint16_t) * (size_t)n);
    for (int64_t j = 0; j < n; j++) bias[j] = qg_f32_to_bf16(qt_normal(r));
    double *c = malloc(sizeof(double) * (size_t)(m * n));
    QT_OK(qg_reference_gemm(p, a, as, &pk, p->has_bias ? bias : NULL, c));
    double num = 0, den = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t gi = 0; gi < g; gi++) {
                double part = 0;
                for (int64_t kk = gi * gl; kk < (gi + 1) * gl; kk++) {
                    const double av = fp8 ? qg_e4m3_to_f32(a[i * k + kk])
                                          : (double)(int8_t)a[i * k + kk];
                    part += av * pw.codes[j * k + kk];
                }
                acc += part * pw.scales[j * g + gi];
            }
            double want = acc * as[p->act_scale ? 0 : i];
            if (p->has_bias) want += qg_bf16_to_f32(bias[j]);
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
    qg_problem p = make(QG_SCHEME_W4A8_FP8, 1, 8, 256, 64, 0);
    QT_STATUS(qg_problem_validate(&p), QG_ERR_INVALID_ARGUMENT); /* fp8: group 128 only */
    p.group_size = 128;
    QT_OK(qg_problem_validate(&p));
    p.k = 192;
    QT_STATUS(qg_problem_validate(&p), QG_ERR_INVALID_ARGUMENT); /* K % 128 */
    p = make(QG_SCHEME_W4A8_INT8, 1, 8, 256, 96, 0);
    QT_STATUS(qg_problem_validate(&p), QG_ERR_INVALID_ARGUMENT);
    p.group_size = 0;
    QT_OK(qg_problem_validate(&p));
    p.has_zero_point = 1;
    QT_STATUS(qg_problem_validate(&p), QG_ERR_INVALID_ARGUMENT);
    /* packing a code outside [-8, 7] is refused */
    p = make(QG_SCHEME_W4A8_INT8, 1, 1, 128, 128, 0);
    int8_t codes[128] = {0};
    float sc[1] = {1};
    codes[5] = 9;
    qg_plain_weight pw = {.n = 1, .k = 128, .groups = 1, .group_size = 128, .codes = codes, .scales = sc};
    uint8_t wb[64];
    float sb[1];
    qg_packed_weight pk = {wb, sb, NULL, NULL};
    QT_STATUS(qg_scheme_get(p.scheme)->pack(&p, &pw, &pk), QG_ERR_INVALID_ARGUMENT);
}

int main(void) {
    qt_rng r;
    qt_seed(&r, qt_test_seed());
    test_layouts();
    test_validation();
    const int groups[] = {32, 64, 128, 0};
    for (int gi = 0; gi < 4; gi++) {
        qg_problem p = make(QG_SCHEME_W4A8_INT8, 3, 10, 384, groups[gi], gi & 1);
        p.has_bias = gi >> 1;
        run_case(&p, &r);
    }
    for (int as = 0; as < 2; as++) {
        qg_problem p = make(QG_SCHEME_W4A8_FP8, 4, 9, 256, 128, as);
        p.has_bias = as;
        run_case(&p, &r);
    }
    return qt_finish("test_w4a8");
}
