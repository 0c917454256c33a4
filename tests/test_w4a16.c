/*
 * W4A16 host side: the packed layout (docs/formats.md worked example, bijectivity, zero padding),
 * pack/unpack round trip, quantization error bounds, the reference GEMM against a naive float64
 * GEMM on the plain codes, a C model of the kernels' fragment path, and the error paths.
 */
#include "family_w4a16_common.h"
#include "scheme_w4a16.h"
#include "testutil.h"
#include "wo_frag_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    qg_problem p;
    qg_packed_sizes sz;
    qg_packed_weight w;
} packed;

static qg_problem problem(int64_t m, int64_t n, int64_t k, int gs, int zp, qg_dtype act,
                          qg_dtype out, int bias) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = QG_SCHEME_W4A16;
    p.m = m, p.n = n, p.k = k;
    p.group_size = gs;
    p.has_zero_point = zp;
    p.act_dtype = act;
    p.out_dtype = out;
    p.has_bias = bias;
    return p;
}

static int alloc_packed(packed *pk, const qg_problem *p) {
    memset(pk, 0, sizeof *pk);
    pk->p = *p;
    if (qg_packed_sizes_get(p, &pk->sz) != QG_SUCCESS) return 0;
    pk->w.weight = malloc(pk->sz.weight_bytes);
    pk->w.scale = malloc(pk->sz.scale_bytes);
    pk->w.zero = pk->sz.zero_bytes ? malloc(pk->sz.zero_bytes) : NULL;
    return 1;
}

static void free_packed(packed *pk) {
    free(pk->w.weight);
    free(pk->w.scale);
    free(pk->w.zero);
}

static uint16_t *random_act(qt_rng *r, int64_t count, qg_dtype dt) {
    uint16_t *a = malloc(sizeof(uint16_t) * (size_t)count);
    for (int64_t i = 0; i < count; i++) {
        const float v = qt_normal(r);
        a[i] = dt == QG_DTYPE_BF16 ? qg_f32_to_bf16(v) : qg_f32_to_f16(v);
    }
    return a;
}

/* Random weight with a few rows that stress the quantizer: all zero, all positive, one outlier. */
static float *random_weight(qt_rng *r, int64_t n, int64_t k) {
    float *w = malloc(sizeof(float) * (size_t)(n * k));
    qt_fill_normal(r, w, (size_t)(n * k), 0.05f);
    if (n > 3) {
        for (int64_t j = 0; j < k; j++) w[1 * k + j] = 0.0f;
        for (int64_t j = 0; j < k; j++) w[2 * k + j] = fabsf(w[2 * k + j]) + 0.01f;
        w[3 * k + k / 2] = 3.0f;
    }
    return w;
}

/* plain (code - zero) * scale, the independent side of every comparison */
static double plain_value(const qg_plain_weight *pw, int64_t n, int64_t k) {
    const int64_t gi = n * pw->groups + k / pw->group_size;
    const double z = pw->zeros ? pw->zeros[gi] : 0.0;
    return ((double)pw->codes[n * pw->k + k] - z) * pw->scales[gi];
}

/* ---------------------------------------------------------------- layout */

static void test_doc_example(void) {
    int nib = -1;
    const int64_t word = qg_w4_word_index(77, 45, 256, &nib);
    QT_CHECK(word == 33236 && nib == 6,
             "formats.md example: word %lld nibble %d, expected "
             "33236 / 6",
             (long long)word, nib);
    QT_CHECK(qg_wo_scale_index(77, 0, 32) == 2089, "formats.md example scale index %lld != 2089",
             (long long)qg_wo_scale_index(77, 0, 32));
    /* and the packer agrees: a single non-zero code lands in the low nibble of byte 132947 */
    qg_problem p = problem(1, 4096, 4096, 128, 1, QG_DTYPE_BF16, QG_DTYPE_BF16, 0);
    packed pk;
    QT_CHECK(alloc_packed(&pk, &p), "sizes");
    qg_plain_weight pw = {.n = 4096, .k = 4096, .groups = 32, .group_size = 128};
    pw.codes = calloc(4096 * 4096, 1);
    pw.scales = calloc(4096 * 32, sizeof(float));
    pw.zeros = calloc(4096 * 32, sizeof(float));
    pw.codes[77 * 4096 + 45] = 11;
    pw.scales[77 * 32] = 0.5f;
    QT_OK(qg_scheme_get(QG_SCHEME_W4A16)->pack(&p, &pw, &pk.w));
    const uint8_t *bytes = pk.w.weight;
    size_t nonzero = 0;
    for (size_t i = 0; i < pk.sz.weight_bytes; i++) nonzero += bytes[i] != 0;
    QT_CHECK(bytes[132947] == 11 && nonzero == 1, "byte 132947 = %d, %zu non-zero bytes",
             bytes[132947], nonzero);
    QT_CHECK(qg_wo_rd16(pk.w.scale, 2089) == qg_f32_to_bf16(0.5f), "scale at index 2089");
    qg_plain_weight_free(&pw);
    free_packed(&pk);
}

/* Every (n, k) maps to its own nibble, every (n, group) to its own scale slot; the rest is 0. */
static void test_bijective_and_padding(qt_rng *r, int64_t n, int64_t k, int gs, int zp) {
    qg_problem p = problem(1, n, k, gs, zp, QG_DTYPE_F16, QG_DTYPE_F16, 0);
    packed pk;
    if (!QT_CHECK(alloc_packed(&pk, &p), "sizes %lldx%lld", (long long)n, (long long)k)) return;
    qg_wo_geom g;
    qg_wo_geom_get(&p, &g);
    QT_CHECK(pk.sz.weight_bytes == (size_t)(g.np * g.kp / 2) &&
                 pk.sz.scale_bytes == (size_t)(g.np * g.groups * 2) &&
                 pk.sz.zero_bytes == (zp ? pk.sz.scale_bytes : 0),
             "sizes of %lldx%lld gs %d", (long long)n, (long long)k, gs);
    uint8_t *seen = calloc(pk.sz.weight_bytes * 2, 1);
    int collisions = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++) {
            int nib;
            const int64_t wi = qg_w4_word_index(i, j, g.ks, &nib);
            collisions += seen[wi * 8 + nib]++ != 0;
        }
    QT_CHECK(collisions == 0, "%d elements share a nibble", collisions);

    float *w = random_weight(r, n, k);
    QT_OK(qg_quantize_weight(&p, w, k, &pk.w));
    const uint8_t *bytes = pk.w.weight;
    int pad_bad = 0;
    for (size_t i = 0; i < pk.sz.weight_bytes * 2; i++) {
        const unsigned u = (bytes[i / 2] >> (4 * (i % 2))) & 15u;
        /* nibble i of the buffer is nibble (i % 8) of word i / 8 */
        if (!seen[(i / 8) * 8 + i % 8] && u != 0) pad_bad++;
    }
    QT_CHECK(pad_bad == 0, "%d padding nibbles are not 0", pad_bad);
    int sc_pad_bad = 0;
    uint8_t *sseen = calloc((size_t)(g.np * g.groups), 1);
    for (int64_t i = 0; i < n; i++)
        for (int64_t gi = 0; gi < g.groups; gi++) sseen[qg_wo_scale_index(i, gi, g.groups)]++;
    int sc_coll = 0;
    for (int64_t i = 0; i < g.np * g.groups; i++) {
        sc_coll += sseen[i] > 1;
        if (!sseen[i] && qg_wo_rd16(pk.w.scale, i) != 0) sc_pad_bad++;
        if (!sseen[i] && zp && qg_wo_rd16(pk.w.zero, i) != 0) sc_pad_bad++;
    }
    QT_CHECK(sc_coll == 0 && sc_pad_bad == 0, "scales: %d collisions, %d non-zero padding slots",
             sc_coll, sc_pad_bad);
    free(sseen);
    free(seen);
    free(w);
    free_packed(&pk);
}

/* ---------------------------------------------------------------- quantize / pack / unpack */

static void test_round_trip(qt_rng *r, int64_t n, int64_t k, int gs, int zp, qg_dtype act) {
    qg_problem p = problem(1, n, k, gs, zp, act, act, 0);
    const qg_scheme_traits *t = qg_scheme_get(QG_SCHEME_W4A16);
    float *w = random_weight(r, n, k);
    qg_plain_weight pw;
    if (!QT_CHECK(t->quantize(&p, w, k, &pw) == QG_SUCCESS, "quantize: %s", qg_last_error(NULL)))
        return;
    /* quantization error: |w - (q - z) s| <= s / 2, codes in range, scales representable */
    double worst = 0;
    int range_bad = 0, rep_bad = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++) {
            const int64_t gi = i * pw.groups + j / pw.group_size;
            const double s = pw.scales[gi];
            const double err = fabs(w[i * k + j] - plain_value(&pw, i, j));
            const double lim = 0.5 * s * (1 + 1e-6) + 1e-30;
            if (err / lim > worst) worst = err / lim;
            const int q = pw.codes[i * k + j];
            range_bad += zp ? (q < 0 || q > 15) : (q < -8 || q > 7);
        }
    for (int64_t i = 0; i < n * pw.groups; i++)
        rep_bad += qg_wo_half_to_f32(qg_wo_half_from_f32(pw.scales[i], act), act) != pw.scales[i];
    QT_CHECK(worst <= 1.0, "%lldx%lld gs %d zp %d %s: error %.3f of the s/2 bound", (long long)n,
             (long long)k, gs, zp, qg_dtype_name(act), worst);
    QT_CHECK(range_bad == 0 && rep_bad == 0, "%d codes out of range, %d scales not in %s",
             range_bad, rep_bad, qg_dtype_name(act));
    if (n > 3) { /* the all-zero row is exact, the outlier row still within its bound */
        double zrow = 0;
        for (int64_t j = 0; j < k; j++) zrow += fabs(plain_value(&pw, 1, j));
        QT_CHECK(zrow == 0, "all-zero row dequantizes to non-zero values");
    }

    packed pk;
    alloc_packed(&pk, &p);
    QT_OK(t->pack(&p, &pw, &pk.w));
    float *back = malloc(sizeof(float) * (size_t)(n * (k + 3)));
    QT_OK(qg_dequantize_weight_host(&p, &pk.w, back, k + 3)); /* a row stride > K */
    int64_t mismatch = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++)
            mismatch += back[i * (k + 3) + j] != (float)plain_value(&pw, i, j);
    QT_CHECK(mismatch == 0,
             "unpack(pack(plain)) differs from the plain values in %lld elements "
             "(%lldx%lld gs %d zp %d)",
             (long long)mismatch, (long long)n, (long long)k, gs, zp);

    /* the public quantize = quantize + pack, byte for byte */
    packed pk2;
    alloc_packed(&pk2, &p);
    QT_OK(qg_quantize_weight(&p, w, k, &pk2.w));
    QT_CHECK(!memcmp(pk.w.weight, pk2.w.weight, pk.sz.weight_bytes) &&
                 !memcmp(pk.w.scale, pk2.w.scale, pk.sz.scale_bytes) &&
                 (!zp || !memcmp(pk.w.zero, pk2.w.zero, pk.sz.zero_bytes)),
             "qg_quantize_weight differs from quantize + pack");
    free_packed(&pk2);
    free(back);
    free_packed(&pk);
    qg_plain_weight_free(&pw);
    free(w);
}

/* bf16 input path = float path on the same (bf16-representable) values */
static void test_bf16_input(qt_rng *r) {
    qg_problem p = problem(1, 96, 256, 64, 1, QG_DTYPE_BF16, QG_DTYPE_BF16, 0);
    uint16_t *wb = malloc(sizeof(uint16_t) * 96 * 256);
    float *wf = malloc(sizeof(float) * 96 * 256);
    qt_fill_bf16(r, wb, 96 * 256, 0.1f);
    for (int i = 0; i < 96 * 256; i++) wf[i] = qg_bf16_to_f32(wb[i]);
    packed a, b;
    alloc_packed(&a, &p);
    alloc_packed(&b, &p);
    QT_OK(qg_quantize_weight_bf16(&p, wb, 256, &a.w));
    QT_OK(qg_quantize_weight(&p, wf, 256, &b.w));
    QT_CHECK(!memcmp(a.w.weight, b.w.weight, a.sz.weight_bytes) &&
                 !memcmp(a.w.scale, b.w.scale, a.sz.scale_bytes) &&
                 !memcmp(a.w.zero, b.w.zero, a.sz.zero_bytes),
             "bf16 and float inputs pack differently");
    free_packed(&a);
    free_packed(&b);
    free(wb);
    free(wf);
}

/* ---------------------------------------------------------------- reference GEMM */

static double naive_check(const qg_problem *p, const qg_plain_weight *pw, const uint16_t *a,
                          const uint16_t *bias, const double *c, double *worst_out) {
    double worst = 0;
    for (int64_t m = 0; m < p->m; m++)
        for (int64_t n = 0; n < p->n; n++) {
            double s = 0, mag = 0;
            for (int64_t k = 0; k < p->k; k++) {
                const double av = p->act_dtype == QG_DTYPE_BF16 ? qg_bf16_to_f32(a[m * p->k + k])
                                                                : qg_f16_to_f32(a[m * p->k + k]);
                const double wv = plain_value(pw, n, k);
                s += av * wv;
                mag += fabs(av * wv);
            }
            if (bias) {
                const double bv = p->out_dtype == QG_DTYPE_BF16 ? qg_bf16_to_f32(bias[n])
                                                                : qg_f16_to_f32(bias[n]);
                s += bv;
                mag += fabs(bv);
            }
            const double err = fabs(c[m * p->n + n] - s) / (mag + 1e-300);
            if (err > worst) worst = err;
        }
    *worst_out = worst;
    return worst;
}

static void test_reference(qt_rng *r, int64_t m, int64_t n, int64_t k, int gs, int zp, qg_dtype act,
                           qg_dtype out, int use_bias) {
    qg_problem p = problem(m, n, k, gs, zp, act, out, use_bias);
    const qg_scheme_traits *t = qg_scheme_get(QG_SCHEME_W4A16);
    float *w = random_weight(r, n, k);
    qg_plain_weight pw;
    QT_OK(t->quantize(&p, w, k, &pw));
    packed pk;
    alloc_packed(&pk, &p);
    QT_OK(t->pack(&p, &pw, &pk.w));
    uint16_t *a = random_act(r, m * k, act);
    uint16_t *bias = use_bias ? random_act(r, n, out) : NULL;
    double *c = malloc(sizeof(double) * (size_t)(m * n));
    double *cm = malloc(sizeof(double) * (size_t)(m * n));
    QT_OK(qg_reference_gemm(&p, a, NULL, &pk.w, bias, c));
    double worst;
    naive_check(&p, &pw, a, bias, c, &worst);
    QT_CHECK(worst < 1e-12,
             "reference vs naive (M=%lld N=%lld K=%lld gs %d zp %d %s->%s bias %d): "
             "rel error %.3g",
             (long long)m, (long long)n, (long long)k, gs, zp, qg_dtype_name(act),
             qg_dtype_name(out), use_bias, worst);
    /* the kernels' fragment path, modelled in C, computes the same product */
    wo_model_gemm(&p, a, &pk.w, bias, cm);
    double max_abs;
    const double rel = qt_rel_l2(cm, c, (size_t)(m * n), &max_abs);
    QT_CHECK(rel < 1e-12, "fragment model vs reference (M=%lld N=%lld K=%lld gs %d zp %d): rel %.3g",
             (long long)m, (long long)n, (long long)k, gs, zp, rel);
    free(c);
    free(cm);
    free(a);
    free(bias);
    free(w);
    free_packed(&pk);
    qg_plain_weight_free(&pw);
}

/* ---------------------------------------------------------------- errors */

static void test_errors(void) {
    qg_problem p = problem(4, 64, 96, 64, 0, QG_DTYPE_BF16, QG_DTYPE_BF16, 0);
    QT_STATUS(qg_problem_validate(&p), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(strstr(qg_last_error(NULL), "group_size") != NULL, "message names the group: %s",
             qg_last_error(NULL));
    qg_packed_sizes sz;
    QT_STATUS(qg_packed_sizes_get(&p, &sz), QG_ERR_INVALID_ARGUMENT);
    p.group_size = 48;
    p.k = 96;
    QT_STATUS(qg_problem_validate(&p), QG_ERR_INVALID_ARGUMENT);
    p.group_size = 32;
    QT_OK(qg_problem_validate(&p));
    p.has_zero_point = 3; /* 2 is float zero points: test_w4a16_fzp.c */
    QT_STATUS(qg_problem_validate(&p), QG_ERR_INVALID_ARGUMENT);
    p.has_zero_point = 1;

    packed pk;
    alloc_packed(&pk, &p);
    float w[64 * 96];
    for (int i = 0; i < 64 * 96; i++) w[i] = (float)(i % 7) - 3.0f;
    qg_packed_weight nozero = pk.w;
    nozero.zero = NULL;
    QT_STATUS(qg_quantize_weight(&p, w, 96, &nozero), QG_ERR_NULL_POINTER);
    qg_packed_weight noweight = pk.w;
    noweight.weight = NULL;
    QT_STATUS(qg_quantize_weight(&p, w, 96, &noweight), QG_ERR_NULL_POINTER);
    QT_STATUS(qg_quantize_weight(&p, NULL, 96, &pk.w), QG_ERR_NULL_POINTER);
    QT_STATUS(qg_quantize_weight(&p, w, 95, &pk.w), QG_ERR_INVALID_ARGUMENT);
    w[5] = NAN;
    QT_STATUS(qg_quantize_weight(&p, w, 96, &pk.w), QG_ERR_INVALID_ARGUMENT);
    w[5] = 1e6f; /* the f16 scale would overflow */
    p.act_dtype = QG_DTYPE_F16;
    QT_STATUS(qg_quantize_weight(&p, w, 96, &pk.w), QG_ERR_INVALID_ARGUMENT);
    p.act_dtype = QG_DTYPE_BF16; /* bf16 scales have the range */
    QT_OK(qg_quantize_weight(&p, w, 96, &pk.w));
    uint16_t a[4 * 96] = {0};
    double c[4 * 64];
    QT_STATUS(qg_reference_gemm(&p, NULL, NULL, &pk.w, NULL, c), QG_ERR_NULL_POINTER);
    QT_STATUS(qg_reference_gemm(&p, a, NULL, &nozero, NULL, c), QG_ERR_NULL_POINTER);
    p.has_bias = 1;
    QT_STATUS(qg_reference_gemm(&p, a, NULL, &pk.w, NULL, c), QG_ERR_NULL_POINTER);
    p.has_bias = 0;
    QT_OK(qg_reference_gemm(&p, a, NULL, &pk.w, NULL, c));
    float back[64 * 96];
    QT_STATUS(qg_dequantize_weight_host(&p, &pk.w, NULL, 96), QG_ERR_NULL_POINTER);
    QT_OK(qg_dequantize_weight_host(&p, &pk.w, back, 96));

    /* pack rejects codes and zero points outside their ranges */
    qg_plain_weight pw = {.n = 64, .k = 96, .groups = 3, .group_size = 32};
    pw.codes = calloc(64 * 96, 1);
    pw.scales = calloc(64 * 3, sizeof(float));
    pw.zeros = calloc(64 * 3, sizeof(float));
    pw.codes[100] = 16;
    QT_STATUS(qg_scheme_get(QG_SCHEME_W4A16)->pack(&p, &pw, &pk.w), QG_ERR_INVALID_ARGUMENT);
    pw.codes[100] = 3;
    pw.zeros[7] = 2.5f;
    QT_STATUS(qg_scheme_get(QG_SCHEME_W4A16)->pack(&p, &pw, &pk.w), QG_ERR_INVALID_ARGUMENT);
    pw.zeros[7] = 2.0f;
    QT_OK(qg_scheme_get(QG_SCHEME_W4A16)->pack(&p, &pw, &pk.w));
    p.has_zero_point = 0; /* symmetric: codes in [-8, 7] */
    pw.codes[100] = 8;
    QT_STATUS(qg_scheme_get(QG_SCHEME_W4A16)->pack(&p, &pw, &pk.w), QG_ERR_INVALID_ARGUMENT);
    qg_plain_weight_free(&pw);
    free_packed(&pk);
}

/* ---------------------------------------------------------------- kernel families (host side) */

/* The variant the heuristic ranks first for p among the W4A16 GEMM variants on `dev`
 * (experimental families excluded, as qg_dispatch_heuristic does). */
static const qg_variant *heuristic_pick(const qg_problem *p, const qg_device_info *dev) {
    const qg_variant *best = NULL;
    double best_cost = 0;
    const int cc = dev->cc_major * 10 + dev->cc_minor;
    for (int i = 0; i < qg_catalog_count(); i++) {
        const qg_variant *v = qg_catalog_get(i);
        const qg_family *f = v->family;
        char why[256];
        if (f->op != QG_OP_GEMM || f->hip || f->experimental ||
            !(f->scheme_mask & (1u << p->scheme)) || !f->supports(p, v->params, cc, why, sizeof why))
            continue;
        const double c = f->heuristic(p, v->params, dev);
        if (!best || c < best_cost) best = v, best_cost = c;
    }
    return best;
}

static void test_families(void) {
    const char *ids[] = {"w4a16_decode.act2.mt1",
                         "w4a16_decode.act1.mt4",
                         "w4a16_prefill.act2.bm128.bn128",
                         "w4a16_prefill.act1.bm64.bn128",
                         "w8a16_decode.act2.mt1",
                         "w8a16_prefill.act1.bm128.bn256",
                         "dequant_wo.wbits4",
                         "dequant_wo.wbits8"};
    for (int i = 0; i < 8; i++)
        QT_CHECK(qg_catalog_find(ids[i]) != NULL, "variant %s missing", ids[i]);
    const qg_variant *dec = qg_catalog_find("w4a16_decode.act2.mt1");
    const qg_variant *dec4 = qg_catalog_find("w4a16_decode.act2.mt4");
    const qg_variant *pre = qg_catalog_find("w4a16_prefill.act2.bm128.bn256");
    if (!dec || !dec4 || !pre) return;
    qg_problem p = problem(64, 4096, 4096, 128, 0, QG_DTYPE_BF16, QG_DTYPE_BF16, 0);
    char why[256] = "";
    QT_CHECK(dec->family->supports(&p, dec->params, 90, why, sizeof why), "decode M=64: %s", why);
    p.m = 65;
    QT_CHECK(!dec->family->supports(&p, dec->params, 90, why, sizeof why) && strstr(why, "M (65)"),
             "decode must refuse M=65 (%s)", why);
    QT_CHECK(pre->family->supports(&p, pre->params, 90, why, sizeof why), "prefill M=65: %s", why);
    p.m = 4;
    p.act_dtype = QG_DTYPE_F16;
    QT_CHECK(!dec->family->supports(&p, dec->params, 90, why, sizeof why),
             "act dtype mismatch accepted");
    p.act_dtype = QG_DTYPE_BF16;
    p.k = 100, p.group_size = 0;
    QT_CHECK(!dec->family->supports(&p, dec->params, 90, why, sizeof why) &&
                 strstr(why, "multiple of 8"),
             "K=100 must be refused (%s)", why);
    p.k = 4096;
    QT_CHECK(!dec->family->supports(&p, dec->params, 75, why, sizeof why), "sm_75 accepted");
    /* shared memory: 4 stages of the mt4 decode tile need 144 KB, more than sm_89 offers */
    QT_CHECK(!dec4->family->supports(&p, dec4->params, 89, why, sizeof why) && strstr(why, "shared"),
             "decode mt4 on sm_89 (%s)", why);
    QT_CHECK(dec4->family->supports(&p, dec4->params, 90, why, sizeof why),
             "decode mt4 on sm_90: %s", why);
    QT_CHECK(dec->family->supports(&p, dec->params, 89, why, sizeof why), "decode mt1 on sm_89: %s",
             why);

    /* split-K: many slices for M = 1, none when the tiles fill the GPU; the workspace always
     * covers what a launch uses and stays bounded */
    qg_device_info h100 = {.cc_major = 9, .cc_minor = 0, .sm_count = 132, .smem_optin = 227 * 1024};
    const qg_wo_tile td = {.scheme = QG_SCHEME_W4A16,
                           .wbits = 4,
                           .act = 2,
                           .bm = 16,
                           .wm = 16,
                           .bn = 256,
                           .bk = 128,
                           .stages = 4,
                           .max_m = 64};
    const qg_wo_tile tp = {.scheme = QG_SCHEME_W4A16,
                           .wbits = 4,
                           .act = 2,
                           .bm = 128,
                           .wm = 64,
                           .bn = 256,
                           .bk = 64,
                           .stages = 4};
    p.m = 1;
    QT_CHECK(qg_wo_splits(&p, &td, &h100) >= 8, "M=1 4096x4096 decode uses %d slices",
             qg_wo_splits(&p, &td, &h100));
    p.m = 4096;
    QT_CHECK(qg_wo_splits(&p, &tp, &h100) == 1, "M=4096 prefill splits K");
    const int64_t ns[] = {4096, 6144, 28672, 1000, 72}, ks[] = {4096, 14336, 1056, 96};
    const int64_t ms[] = {1, 3, 16, 33, 64, 128, 1000, 4096};
    int ws_bad = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 8; c++) {
                qg_problem q = problem(ms[c], ns[a], ks[b], 32, 1, QG_DTYPE_BF16, QG_DTYPE_BF16, 0);
                const qg_wo_tile *tt[] = {&td, &tp};
                for (int t = 0; t < 2; t++) {
                    if (tt[t]->max_m && q.m > tt[t]->max_m) continue;
                    const int sp = qg_wo_splits(&q, tt[t], &h100);
                    const size_t ws = qg_wo_workspace(&q, tt[t]);
                    const size_t need = sp > 1 ? (size_t)sp * (size_t)(q.m * q.n) * 4 : 0;
                    ws_bad += ws < need || ws > (64u << 20) + (1u << 20);
                }
            }
    QT_CHECK(ws_bad == 0, "%d shapes with a workspace too small for the launch or above 65 MB",
             ws_bad);

    /* the heuristic picks what won on the H100 (2026-11-23 tuning, every Llama-3-8B shape): the
     * register GEMV for decode batches, dequantize + cuBLASLt for large M */
    const int64_t pick_m[] = {1, 16, 1000, 4096};
    const char *want[] = {"w4a16_gemv.act2.mt1", "w4a16_gemv.act2.mt2", "wo_dequant_lt.wbits4",
                          "wo_dequant_lt.wbits4"};
    for (int i = 0; i < 4; i++) {
        qg_problem q = problem(pick_m[i], 4096, 4096, 128, 0, QG_DTYPE_BF16, QG_DTYPE_BF16, 0);
        const qg_variant *v = heuristic_pick(&q, &h100);
        QT_CHECK(v && strncmp(v->id, want[i], strlen(want[i])) == 0,
                 "heuristic for M=%lld: %s, "
                 "expected %s",
                 (long long)pick_m[i], v ? v->id : "none", want[i]);
    }
    qg_problem q = problem(128, 4096, 4096, 128, 0, QG_DTYPE_BF16, QG_DTYPE_BF16, 0);
    const qg_variant *v = heuristic_pick(&q, &h100);
    QT_CHECK(v && strncmp(v->id, "w4a16_decode", 12) != 0, "M=128 picks %s", v ? v->id : "none");
}

int main(void) {
    qt_rng r;
    qt_seed(&r, qt_test_seed());
    test_doc_example();
    test_bijective_and_padding(&r, 130, 160, 32, 1);
    test_bijective_and_padding(&r, 64, 40, 0, 0); /* per channel, K not a multiple of 32 */

    const int gss[] = {32, 64, 128, 0};
    for (int gi = 0; gi < 4; gi++)
        for (int zp = 0; zp < 2; zp++) {
            test_round_trip(&r, 72, 256, gss[gi], zp, QG_DTYPE_BF16);
            test_round_trip(&r, 40, 128, gss[gi], zp, QG_DTYPE_F16);
        }
    test_round_trip(&r, 8, 200, 0, 1, QG_DTYPE_F16); /* per channel, K % 32 != 0 */
    test_bf16_input(&r);

    /* shapes: M = 1, odd M, two m16 tiles; N and K off the 64 / 32 grid where the format allows */
    const int64_t shapes[][3] = {{1, 64, 128}, {3, 72, 256}, {17, 130, 128}, {5, 200, 384}};
    int cfg = 0;
    for (int si = 0; si < 4; si++)
        for (int gi = 0; gi < 4; gi++)
            for (int zp = 0; zp < 2; zp++, cfg++) {
                const qg_dtype act = cfg % 2 ? QG_DTYPE_F16 : QG_DTYPE_BF16;
                const qg_dtype out = (cfg / 2) % 2 ? QG_DTYPE_F16 : QG_DTYPE_BF16;
                if (shapes[si][2] % (gss[gi] ? gss[gi] : 1)) continue;
                test_reference(&r, shapes[si][0], shapes[si][1], shapes[si][2], gss[gi], zp, act,
                               out, cfg % 3 != 0);
            }
    test_reference(&r, 2, 70, 40, 0, 1, QG_DTYPE_BF16, QG_DTYPE_F16, 1); /* K = 40 per channel */
    test_reference(&r, 9, 64, 8, 0, 0, QG_DTYPE_F16, QG_DTYPE_F16, 0);   /* K < one chunk */
    test_errors();
    test_families();
    return qt_finish("test_w4a16");
}
