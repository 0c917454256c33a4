/*
 * W8A16 host side: layout (bijectivity, zero padding, the byte formula of docs/formats.md),
 * pack/unpack round trip, absmax quantization bounds (per channel and per tensor), the reference
 * GEMM against a naive float64 GEMM on the plain codes, the kernels' fragment path modelled in C,
 * the error paths, and the host side of the decode GEMV family w8a16_gemv (what it accepts,
 * when it splits K).
 */
#include "catalog.h"
#include "scheme_w4a16.h"
#include "testutil.h"
#include "wo_frag_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static qg_problem problem(int64_t m, int64_t n, int64_t k, qg_dtype act, qg_dtype out, int bias,
                          qg_scale_granularity ws) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = QG_SCHEME_W8A16;
    p.m = m, p.n = n, p.k = k;
    p.group_size = 0;
    p.act_dtype = act;
    p.out_dtype = out;
    p.has_bias = bias;
    p.weight_scale = ws;
    return p;
}

typedef struct {
    qg_packed_sizes sz;
    qg_packed_weight w;
} packed;

static void alloc_packed(packed *pk, const qg_problem *p) {
    memset(pk, 0, sizeof *pk);
    QT_OK(qg_packed_sizes_get(p, &pk->sz));
    pk->w.weight = malloc(pk->sz.weight_bytes);
    pk->w.scale = malloc(pk->sz.scale_bytes);
}

static void free_packed(packed *pk) {
    free(pk->w.weight);
    free(pk->w.scale);
}

static float *random_weight(qt_rng *r, int64_t n, int64_t k) {
    float *w = malloc(sizeof(float) * (size_t)(n * k));
    qt_fill_normal(r, w, (size_t)(n * k), 0.05f);
    if (n > 2) {
        for (int64_t j = 0; j < k; j++) w[k + j] = 0.0f; /* an all-zero row */
        w[2 * k + k / 3] = -2.5f;                        /* an outlier */
    }
    return w;
}

static void test_layout(void) {
    /* the byte formula by hand for one element: n = 77 (b 1, j 0, h 1, g 5), k = 45 (kstep 3,
     * lane 21, e 1) with K = 4096 (KS = 256) */
    QT_CHECK(qg_w8_byte_offset(77, 45, 256) == ((((1 * 256 + 3) * 2 + 0) * 32 + 21) * 16 + 0 + 4 + 1),
             "byte offset of (77, 45): %lld", (long long)qg_w8_byte_offset(77, 45, 256));
    const int64_t n = 130, k = 72; /* neither a multiple of 64 nor of 32 */
    qg_problem p = problem(1, n, k, QG_DTYPE_BF16, QG_DTYPE_BF16, 0, QG_SCALE_PER_ROW);
    packed pk;
    alloc_packed(&pk, &p);
    QT_CHECK(pk.sz.weight_bytes == 192 * 96 && pk.sz.scale_bytes == 192 * 2 && pk.sz.zero_bytes == 0,
             "sizes %zu %zu %zu", pk.sz.weight_bytes, pk.sz.scale_bytes, pk.sz.zero_bytes);
    uint8_t *seen = calloc(pk.sz.weight_bytes, 1);
    int coll = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++) coll += seen[qg_w8_byte_offset(i, j, 96 / 16)]++ != 0;
    QT_CHECK(coll == 0, "%d elements share a byte", coll);
    float *w = malloc(sizeof(float) * n * k);
    for (int64_t i = 0; i < n * k; i++) w[i] = (float)((i * 37) % 255 - 127) / 127.0f;
    QT_OK(qg_quantize_weight(&p, w, k, &pk.w));
    const uint8_t *bytes = pk.w.weight;
    int pad = 0;
    for (size_t i = 0; i < pk.sz.weight_bytes; i++) pad += !seen[i] && bytes[i];
    for (int64_t i = n; i < 192; i++)
        pad += qg_wo_rd16(pk.w.scale, qg_wo_scale_index(i, 0, 1)) != 0;
    QT_CHECK(pad == 0, "%d padding bytes / scales are not zero", pad);
    free(w);
    free(seen);
    free_packed(&pk);
}

static void test_round_trip(qt_rng *r, int64_t n, int64_t k, qg_dtype act, qg_scale_granularity ws) {
    qg_problem p = problem(1, n, k, act, act, 0, ws);
    const qg_scheme_traits *t = qg_scheme_get(QG_SCHEME_W8A16);
    float *w = random_weight(r, n, k);
    qg_plain_weight pw;
    QT_OK(t->quantize(&p, w, k, &pw));
    double worst = 0;
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        const double s = pw.scales[i];
        bad += qg_wo_half_to_f32(qg_wo_half_from_f32((float)s, act), act) != (float)s;
        if (ws == QG_SCALE_PER_TENSOR) bad += s != pw.scales[0];
        for (int64_t j = 0; j < k; j++) {
            const double err = fabs(w[i * k + j] - pw.codes[i * k + j] * s);
            const double lim = 0.5 * s * (1 + 1e-6) + 1e-30;
            if (err / lim > worst) worst = err / lim;
            bad += pw.codes[i * k + j] < -127;
        }
    }
    QT_CHECK(worst <= 1.0 && bad == 0, "%lldx%lld %s %s: error %.3f of s/2, %d bad codes/scales",
             (long long)n, (long long)k, qg_dtype_name(act),
             ws == QG_SCALE_PER_TENSOR ? "per-tensor" : "per-row", worst, bad);
    packed pk;
    alloc_packed(&pk, &p);
    QT_OK(t->pack(&p, &pw, &pk.w));
    float *back = malloc(sizeof(float) * (size_t)(n * k));
    QT_OK(qg_dequantize_weight_host(&p, &pk.w, back, k));
    int64_t mismatch = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++)
            mismatch += back[i * k + j] != (float)(pw.codes[i * k + j] * (double)pw.scales[i]);
    QT_CHECK(mismatch == 0, "unpack(pack(plain)) differs in %lld elements", (long long)mismatch);
    free(back);
    free_packed(&pk);
    qg_plain_weight_free(&pw);
    free(w);
}

static void test_reference(qt_rng *r, int64_t m, int64_t n, int64_t k, qg_dtype act, qg_dtype out,
                           int use_bias) {
    qg_problem p = problem(m, n, k, act, out, use_bias, QG_SCALE_PER_ROW);
    const qg_scheme_traits *t = qg_scheme_get(QG_SCHEME_W8A16);
    float *w = random_weight(r, n, k);
    qg_plain_weight pw;
    QT_OK(t->quantize(&p, w, k, &pw));
    packed pk;
    alloc_packed(&pk, &p);
    QT_OK(t->pack(&p, &pw, &pk.w));
    uint16_t *a = malloc(sizeof(uint16_t) * (size_t)(m * k));
    uint16_t *bias = use_bias ? malloc(sizeof(uint16_t) * (size_t)n) : NULL;
    for (int64_t i = 0; i < m * k; i++)
        a[i] = act == QG_DTYPE_BF16 ? qg_f32_to_bf16(qt_normal(r)) : qg_f32_to_f16(qt_normal(r));
    for (int64_t i = 0; bias && i < n; i++)
        bias[i] = out == QG_DTYPE_BF16 ? qg_f32_to_bf16(qt_normal(r)) : qg_f32_to_f16(qt_normal(r));
    double *c = malloc(sizeof(double) * (size_t)(m * n));
    double *cm = malloc(sizeof(double) * (size_t)(m * n));
    QT_OK(qg_reference_gemm(&p, a, NULL, &pk.w, bias, c));
    double worst = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0, mag = 0;
            for (int64_t kk = 0; kk < k; kk++) {
                const double av = act == QG_DTYPE_BF16 ? qg_bf16_to_f32(a[i * k + kk])
                                                       : qg_f16_to_f32(a[i * k + kk]);
                const double v = av * (pw.codes[j * k + kk] * (double)pw.scales[j]);
                s += v;
                mag += fabs(v);
            }
            if (bias) {
                const double bv = out == QG_DTYPE_BF16 ? qg_bf16_to_f32(bias[j])
                                                       : qg_f16_to_f32(bias[j]);
                s += bv;
                mag += fabs(bv);
            }
            const double e = fabs(c[i * n + j] - s) / (mag + 1e-300);
            if (e > worst) worst = e;
        }
    QT_CHECK(worst < 1e-12, "reference vs naive (M=%lld N=%lld K=%lld %s->%s): rel %.3g",
             (long long)m, (long long)n, (long long)k, qg_dtype_name(act), qg_dtype_name(out), worst);
    wo_model_gemm(&p, a, &pk.w, bias, cm);
    double max_abs;
    const double rel = qt_rel_l2(cm, c, (size_t)(m * n), &max_abs);
    QT_CHECK(rel < 1e-12, "fragment model vs reference (M=%lld N=%lld K=%lld): rel %.3g",
             (long long)m, (long long)n, (long long)k, rel);
    free(c);
    free(cm);
    free(a);
    free(bias);
    free(w);
    free_packed(&pk);
    qg_plain_weight_free(&pw);
}

static void test_errors(void) {
    qg_problem p = problem(2, 64, 64, QG_DTYPE_BF16, QG_DTYPE_BF16, 0, QG_SCALE_PER_ROW);
    QT_OK(qg_problem_validate(&p));
    p.group_size = 128;
    QT_STATUS(qg_problem_validate(&p), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(strstr(qg_last_error(NULL), "group_size") != NULL, "message: %s", qg_last_error(NULL));
    p.group_size = 0;
    p.has_zero_point = 1;
    QT_STATUS(qg_problem_validate(&p), QG_ERR_INVALID_ARGUMENT);
    p.has_zero_point = 0;
    packed pk;
    alloc_packed(&pk, &p);
    float w[64 * 64];
    for (int i = 0; i < 64 * 64; i++) w[i] = (float)(i % 11) - 5.0f;
    qg_packed_weight noscale = pk.w;
    noscale.scale = NULL;
    QT_STATUS(qg_quantize_weight(&p, w, 64, &noscale), QG_ERR_NULL_POINTER);
    w[9] = INFINITY;
    QT_STATUS(qg_quantize_weight(&p, w, 64, &pk.w), QG_ERR_INVALID_ARGUMENT);
    w[9] = 0;
    QT_OK(qg_quantize_weight(&p, w, 64, &pk.w));
    qg_plain_weight pw = {.n = 64, .k = 64, .groups = 1, .group_size = 64};
    pw.codes = calloc(64 * 64, 1);
    pw.scales = calloc(64, sizeof(float));
    pw.codes[3] = -128;
    QT_STATUS(qg_scheme_get(QG_SCHEME_W8A16)->pack(&p, &pw, &pk.w), QG_ERR_INVALID_ARGUMENT);
    qg_plain_weight_free(&pw);
    uint16_t a[2 * 64] = {0};
    double c[2 * 64];
    QT_STATUS(qg_reference_gemm(&p, a, NULL, &noscale, NULL, c), QG_ERR_NULL_POINTER);
    free_packed(&pk);
}

/* w8a16_gemv shares its host code with w4a16_gemv: each must accept only its own scheme, M up
 * to 64 (token blocks of 8 mt rows), its activation dtype; split-K (a workspace) only when the
 * slabs cannot fill the GPU. */
static void test_gemv_family(void) {
    const qg_variant *mt1 = qg_catalog_find("w8a16_gemv.act2.mt1.warps8.uk4");
    const qg_variant *mt2 = qg_catalog_find("w8a16_gemv.act2.mt2.warps4.uk2");
    const qg_variant *w4 = qg_catalog_find("w4a16_gemv.act2.mt1.warps8.uk4");
    if (!QT_CHECK(mt1 && mt2 && w4, "w8a16_gemv / w4a16_gemv variants missing")) return;
    char why[256] = "";
    qg_problem p = problem(8, 4096, 4096, QG_DTYPE_BF16, QG_DTYPE_BF16, 1, QG_SCALE_PER_ROW);
    QT_CHECK(mt1->family->supports(&p, mt1->params, 80, why, sizeof why), "M=8 mt1: %s", why);
    QT_CHECK(!w4->family->supports(&p, w4->params, 90, why, sizeof why) && strstr(why, "computes"),
             "w4a16_gemv must refuse W8A16 (%s)", why);
    p.m = 9;
    QT_CHECK(mt1->family->supports(&p, mt1->params, 90, why, sizeof why),
             "M=9 mt1 (two blocks): %s", why);
    p.m = 64;
    QT_CHECK(mt2->family->supports(&p, mt2->params, 90, why, sizeof why), "M=64 mt2: %s", why);
    p.m = 65;
    QT_CHECK(!mt2->family->supports(&p, mt2->params, 90, why, sizeof why) && strstr(why, "M (65)"),
             "mt2 must refuse M=65 (%s)", why);
    p.m = 1;
    QT_CHECK(!mt1->family->supports(&p, mt1->params, 75, why, sizeof why), "sm_75 accepted");
    p.act_dtype = QG_DTYPE_F16;
    QT_CHECK(!mt1->family->supports(&p, mt1->params, 90, why, sizeof why),
             "f16 activations accepted");
    p.act_dtype = QG_DTYPE_BF16;
    p.scheme = QG_SCHEME_W4A16, p.group_size = 128;
    QT_CHECK(!mt1->family->supports(&p, mt1->params, 90, why, sizeof why) && strstr(why, "computes"),
             "w8a16_gemv must refuse W4A16 (%s)", why);
    p = problem(1, 4096, 4096, QG_DTYPE_BF16, QG_DTYPE_BF16, 0, QG_SCALE_PER_ROW);
    /* 64 slabs: split-K; 448 slabs (N = 28672) fill 160 SMs alone */
    QT_CHECK(mt1->family->workspace(&p, mt1->params) > 0, "N=4096 K=4096: no split-K workspace");
    p.n = 28672;
    QT_CHECK(mt1->family->workspace(&p, mt1->params) == 0, "N=28672: unexpected split-K");
    /* M = 64 with mt1: 8 token blocks x 64 slabs = 512 CTAs fill the GPU without split-K */
    p.n = 4096, p.m = 64;
    QT_CHECK(mt1->family->workspace(&p, mt1->params) == 0, "M=64 N=4096: unexpected split-K");
}

int main(void) {
    qt_rng r;
    qt_seed(&r, qt_test_seed());
    test_layout();
    test_round_trip(&r, 72, 256, QG_DTYPE_BF16, QG_SCALE_PER_ROW);
    test_round_trip(&r, 65, 96, QG_DTYPE_F16, QG_SCALE_PER_ROW);
    test_round_trip(&r, 40, 136, QG_DTYPE_BF16, QG_SCALE_PER_TENSOR);
    const int64_t shapes[][3] = {{1, 64, 128}, {3, 72, 96}, {17, 130, 256}, {6, 64, 40}, {2, 8, 8}};
    for (int i = 0; i < 5; i++)
        for (int cfg = 0; cfg < 4; cfg++)
            test_reference(&r, shapes[i][0], shapes[i][1], shapes[i][2],
                           cfg & 1 ? QG_DTYPE_F16 : QG_DTYPE_BF16,
                           cfg & 2 ? QG_DTYPE_F16 : QG_DTYPE_BF16, (cfg + i) % 2);
    test_errors();
    test_gemv_family();
    return qt_finish("test_w8a16");
}
