/*
 * 2:4 sparse schemes (sp24-bf16, sp24-int8, sp24-fp8) on the CPU: pruning, compression and
 * metadata (checked against the byte layout of docs/formats.md, re-derived here), the float64
 * reference GEMM against a naive dense GEMM on the plain weights, and the error paths.
 */
#include "schemes.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const qg_scheme all_schemes[] = {QG_SCHEME_SP24_BF16, QG_SCHEME_SP24_INT8, QG_SCHEME_SP24_FP8};

static qg_problem make_problem(qg_scheme s, int64_t m, int64_t n, int64_t k) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = s;
    p.m = m;
    p.n = n;
    p.k = k;
    return p;
}

typedef struct {
    qg_packed_sizes sz;
    qg_packed_weight w;
} packed_buf;

static int packed_alloc(const qg_problem *p, packed_buf *b) {
    memset(b, 0, sizeof *b);
    if (qg_packed_sizes_get(p, &b->sz) != QG_SUCCESS) return 0;
    b->w.weight = calloc(1, b->sz.weight_bytes);
    b->w.meta = calloc(1, b->sz.meta_bytes);
    b->w.scale = b->sz.scale_bytes ? calloc(1, b->sz.scale_bytes) : NULL;
    return b->w.weight && b->w.meta && (!b->sz.scale_bytes || b->w.scale);
}

static void packed_free(packed_buf *b) {
    free(b->w.weight);
    free(b->w.meta);
    free(b->w.scale);
}

/* Documented position of the metadata nibble of (row, chunk), written from docs/formats.md
 * independently of src/catalog/schemes/scheme_sp24.c. */
static void doc_meta_locate(int sixteen, int64_t k, int64_t row, int64_t chunk, size_t *word,
                            int *shift) {
    const int64_t kb = chunk / 16;        /* 64-column block */
    const int64_t kin = (chunk % 16) * 4; /* column inside the block */
    const int64_t rb = (row % 64) / 16, g = row % 8, hi = (row % 16) >= 8;
    int64_t lane;
    if (sixteen) {
        /* lane%4 = 2*(kin/32) + (kin%32)/16; bits 16*hi + 4*((kin%16)/4) */
        lane = 4 * g + 2 * (kin / 32) + (kin % 32) / 16;
        *shift = (int)(16 * hi + (kin % 16));
    } else {
        /* lane%4 = 2*(kin/32) + hi; bits 4*((kin%32)/4) */
        lane = 4 * g + 2 * (kin / 32) + hi;
        *shift = (int)(kin % 32);
    }
    *word = (size_t)((((row / 64) * (k / 64) + kb) * 32 + lane) * 4 + rb);
}

static int valid_nibble(unsigned v) {
    return v == 0x4 || v == 0x8 || v == 0x9 || v == 0xc || v == 0xd || v == 0xe;
}

/* Indices of the two largest |w| of a chunk, ties to the lower index (by sorting). */
static void expected_keep(const float *w4, int keep[4]) {
    int order[4] = {0, 1, 2, 3};
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++) {
            const float a = fabsf(w4[order[i]]), b = fabsf(w4[order[j]]);
            if (b > a || (b == a && order[j] < order[i])) {
                const int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
    for (int i = 0; i < 4; i++) keep[i] = 0;
    keep[order[0]] = keep[order[1]] = 1;
}

/* Pruning, value round trip and metadata layout for sp24-bf16 (bf16 and f16 weights). */
static void test_prune_and_layout(qt_rng *rng, qg_dtype dt, int64_t n, int64_t k) {
    qg_problem p = make_problem(QG_SCHEME_SP24_BF16, 1, n, k);
    p.act_dtype = dt;
    float *w = malloc((size_t)(n * k) * sizeof(float));
    float *back = malloc((size_t)(n * k) * sizeof(float));
    qt_fill_normal(rng, w, (size_t)(n * k), 0.5f);
    /* Ties and zeros on purpose in the first rows. */
    const float ties[4][4] = {{1, -1, 1, 0.5f}, {0, 0, 0, 0}, {0.25f, 2, -2, 2}, {3, 0, 0, -3}};
    for (int r = 0; r < 4 && r < n; r++) memcpy(&w[r * k + 8], ties[r], sizeof ties[r]);
    packed_buf b;
    QT_CHECK(packed_alloc(&p, &b), "alloc");
    const int64_t n64 = (n + 63) / 64 * 64;
    QT_CHECK(b.sz.weight_bytes == (size_t)(n64 * k / 2 * 2) &&
                 b.sz.meta_bytes == (size_t)(n64 * k / 8) && b.sz.scale_bytes == 0 &&
                 b.sz.zero_bytes == 0,
             "sizes: weight %zu meta %zu scale %zu", b.sz.weight_bytes, b.sz.meta_bytes,
             b.sz.scale_bytes);
    QT_OK(qg_quantize_weight(&p, w, k, &b.w));
    QT_OK(qg_dequantize_weight_host(&p, &b.w, back, k));
    int bad_keep = 0, bad_val = 0, bad_meta = 0, bad_nib = 0, bad_vals_layout = 0;
    const uint32_t *meta = b.w.meta;
    const uint16_t *vals = b.w.weight;
    for (int64_t r = 0; r < n; r++)
        for (int64_t ch = 0; ch < k / 4; ch++) {
            int keep[4];
            expected_keep(&w[r * k + 4 * ch], keep);
            int idx[2], cnt = 0;
            for (int i = 0; i < 4; i++) {
                const float got = back[r * k + 4 * ch + i];
                const float src = w[r * k + 4 * ch + i];
                const float want = keep[i]
                                       ? (dt == QG_DTYPE_F16 ? qg_f16_to_f32(qg_f32_to_f16(src))
                                                             : qg_bf16_to_f32(qg_f32_to_bf16(src)))
                                       : 0.0f;
                if (keep[i]) idx[cnt++] = i;
                if (got != want) bad_val++;
                if ((got != 0.0f) && !keep[i]) bad_keep++;
            }
            /* Metadata at its documented place names exactly the kept pair, in order. */
            size_t word;
            int shift;
            doc_meta_locate(1, k, r, ch, &word, &shift);
            const unsigned nib = (meta[word] >> shift) & 0xfu;
            if (nib != (unsigned)(idx[1] << 2 | idx[0])) bad_meta++;
            /* Values: row-major [N64][K/2], kept pair in increasing index order. */
            for (int j = 0; j < 2; j++) {
                const uint16_t bits = vals[r * (k / 2) + 2 * ch + j];
                const float v = dt == QG_DTYPE_F16 ? qg_f16_to_f32(bits) : qg_bf16_to_f32(bits);
                if (v != back[r * k + 4 * ch + idx[j]]) bad_vals_layout++;
            }
        }
    for (size_t i = 0; i < b.sz.meta_bytes / 4; i++)
        for (int s = 0; s < 32; s += 4)
            if (!valid_nibble((meta[i] >> s) & 0xfu)) bad_nib++;
    /* Padded rows: zero values. */
    int bad_pad = 0;
    for (int64_t r = n; r < n64; r++)
        for (int64_t j = 0; j < k / 2; j++) bad_pad += vals[r * (k / 2) + j] != 0;
    QT_CHECK(!bad_keep && !bad_val, "%s N=%lld K=%lld: %d pruned kept, %d wrong values",
             qg_dtype_name(dt), (long long)n, (long long)k, bad_keep, bad_val);
    QT_CHECK(!bad_meta && !bad_vals_layout,
             "%s N=%lld K=%lld: %d metadata nibbles and %d values "
             "not where docs/formats.md puts them",
             qg_dtype_name(dt), (long long)n, (long long)k, bad_meta, bad_vals_layout);
    QT_CHECK(!bad_nib, "%d metadata nibbles are not ordered index pairs", bad_nib);
    QT_CHECK(!bad_pad, "%d padded-row values are not zero", bad_pad);
    packed_free(&b);
    free(w);
    free(back);
}

/* 8-bit schemes: pruning mask, per-row (or per-tensor) absmax scales, exact round trip through
 * the packed format (plain codes -> pack -> unpack), metadata at its documented place. */
static void test_8bit_roundtrip(qt_rng *rng, qg_scheme s, qg_scale_granularity ws, int64_t n,
                                int64_t k) {
    qg_problem p = make_problem(s, 1, n, k);
    p.weight_scale = ws;
    const qg_scheme_traits *t = qg_scheme_get(s);
    float *w = malloc((size_t)(n * k) * sizeof(float));
    float *back = malloc((size_t)(n * k) * sizeof(float));
    qt_fill_normal(rng, w, (size_t)(n * k), 0.02f);
    for (int64_t c = 0; c < k; c++) w[(n - 1) * k + c] = 0.0f; /* an all-zero row */
    qg_plain_weight pw;
    QT_OK(t->quantize(&p, w, k, &pw));
    packed_buf b;
    QT_CHECK(packed_alloc(&p, &b), "alloc");
    QT_CHECK(b.sz.scale_bytes == (size_t)n * 4 &&
                 b.sz.weight_bytes == (size_t)((n + 63) / 64 * 64 * k / 2),
             "8-bit sizes");
    QT_OK(t->pack(&p, &pw, &b.w));
    QT_OK(t->unpack(&p, &b.w, back, k));
    const float qmax = s == QG_SCHEME_SP24_FP8 ? 448.0f : 127.0f;
    int bad_rt = 0, bad_keep = 0, bad_meta = 0, bad_scale = 0;
    float tensor_max = 0;
    for (int64_t i = 0; i < n * k; i++) {
        int keep[4];
        expected_keep(&w[i / 4 * 4], keep);
        if (keep[i % 4]) tensor_max = fmaxf(tensor_max, fabsf(w[i]));
    }
    const uint32_t *meta = b.w.meta;
    for (int64_t r = 0; r < n; r++) {
        float rmax = 0;
        for (int64_t ch = 0; ch < k / 4; ch++) {
            int keep[4];
            expected_keep(&w[r * k + 4 * ch], keep);
            int nz = 0;
            for (int i = 0; i < 4; i++) {
                const int64_t e = r * k + 4 * ch + i;
                if (keep[i]) rmax = fmaxf(rmax, fabsf(w[e]));
                const double code = pw.fp8 ? qg_e4m3_to_f32((uint8_t)pw.codes[e]) : pw.codes[e];
                const float want = (float)(code * pw.scales[r]);
                if (back[e] != want) bad_rt++;
                if (pw.codes[e] != 0 && !keep[i]) bad_keep++;
                nz += back[e] != 0.0f;
            }
            size_t word;
            int shift;
            doc_meta_locate(0, k, r, ch, &word, &shift);
            const unsigned nib = (meta[word] >> shift) & 0xfu;
            if (!valid_nibble(nib)) bad_meta++;
            /* Every non-zero must be at one of the two indices the metadata names. */
            for (int i = 0; i < 4; i++)
                if (back[r * k + 4 * ch + i] != 0.0f && i != (int)(nib & 3u) && i != (int)(nib >> 2))
                    bad_meta++;
            (void)nz;
        }
        const float amax = ws == QG_SCALE_PER_TENSOR ? tensor_max : rmax;
        const float want_scale = amax > 0 ? amax / qmax : 1.0f;
        if (pw.scales[r] != want_scale || ((const float *)b.w.scale)[r] != want_scale) bad_scale++;
    }
    QT_CHECK(!bad_rt, "%s: %d elements differ after pack+unpack", t->name, bad_rt);
    QT_CHECK(!bad_keep, "%s: %d pruned elements have non-zero codes", t->name, bad_keep);
    QT_CHECK(!bad_meta, "%s: %d metadata errors", t->name, bad_meta);
    QT_CHECK(!bad_scale, "%s %s: %d rows with a scale other than absmax/%g", t->name,
             ws == QG_SCALE_PER_TENSOR ? "per-tensor" : "per-row", bad_scale, (double)qmax);
    /* The largest kept weight of a row maps to the largest code. */
    if (ws == QG_SCALE_PER_ROW) {
        int bad_max = 0;
        for (int64_t r = 0; r + 1 < n; r++) {
            int mx = 0;
            for (int64_t c = 0; c < k; c++) {
                const int v = pw.fp8 ? (pw.codes[r * k + c] & 0x7f) : abs(pw.codes[r * k + c]);
                if (v > mx) mx = v;
            }
            if (mx != (pw.fp8 ? 0x7e : 127)) bad_max++;
        }
        QT_CHECK(!bad_max, "%s: %d rows whose largest code is not the format's maximum", t->name,
                 bad_max);
    }
    qg_plain_weight_free(&pw);
    packed_free(&b);
    free(w);
    free(back);
}

/* Random activations in the scheme's activation type. */
static void *random_acts(qt_rng *rng, const qg_problem *p, float **scale) {
    const size_t count = (size_t)(p->m * p->k);
    *scale = NULL;
    if (p->scheme == QG_SCHEME_SP24_BF16) {
        uint16_t *a = malloc(count * 2);
        for (size_t i = 0; i < count; i++) {
            const float v = qt_normal(rng);
            a[i] = p->act_dtype == QG_DTYPE_F16 ? qg_f32_to_f16(v) : qg_f32_to_bf16(v);
        }
        return a;
    }
    uint8_t *a = malloc(count);
    for (size_t i = 0; i < count; i++) {
        if (p->scheme == QG_SCHEME_SP24_INT8) {
            a[i] = (uint8_t)(int8_t)((int)(qt_next(rng) % 255) - 127);
        } else {
            uint8_t v = (uint8_t)qt_next(rng);
            if ((v & 0x7f) == 0x7f) v ^= 1; /* no NaN codes */
            a[i] = v;
        }
    }
    const int64_t ns = p->act_scale == QG_SCALE_PER_TENSOR ? 1 : p->m;
    *scale = malloc((size_t)ns * sizeof(float));
    for (int64_t i = 0; i < ns; i++) (*scale)[i] = qt_uniform(rng, 0.001f, 0.05f);
    return a;
}

/* qg_reference_gemm (packed path) against a naive dense float64 GEMM on the plain weights. */
static void test_reference(qt_rng *rng, qg_scheme s, qg_dtype act, qg_dtype out, int64_t m, int64_t n,
                           int64_t k, int bias, qg_scale_granularity as, qg_scale_granularity ws) {
    qg_problem p = make_problem(s, m, n, k);
    p.act_dtype = act;
    p.out_dtype = out;
    p.has_bias = bias;
    p.act_scale = as;
    p.weight_scale = ws;
    const qg_scheme_traits *t = qg_scheme_get(s);
    float *w = malloc((size_t)(n * k) * sizeof(float));
    qt_fill_normal(rng, w, (size_t)(n * k), 0.1f);
    qg_plain_weight pw;
    QT_OK(t->quantize(&p, w, k, &pw));
    packed_buf b;
    QT_CHECK(packed_alloc(&p, &b), "alloc");
    QT_OK(t->pack(&p, &pw, &b.w));
    float *a_scale;
    void *a = random_acts(rng, &p, &a_scale);
    uint16_t *bv = NULL;
    if (bias) {
        bv = malloc((size_t)n * 2);
        for (int64_t i = 0; i < n; i++)
            bv[i] = out == QG_DTYPE_F16 ? qg_f32_to_f16(qt_normal(rng))
                                        : qg_f32_to_bf16(qt_normal(rng));
    }
    double *c = malloc((size_t)(m * n) * sizeof(double));
    double *want = malloc((size_t)(m * n) * sizeof(double));
    QT_OK(qg_reference_gemm(&p, a, a_scale, &b.w, bv, c));
    const qg_dtype at = s == QG_SCHEME_SP24_BF16 ? act : t->act_qtype;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t kk = 0; kk < k; kk++) {
                const int64_t e = j * k + kk;
                double wv;
                if (s == QG_SCHEME_SP24_BF16) wv = pw.codes[e] * (double)pw.scales[e];
                else
                    wv = (pw.fp8 ? qg_e4m3_to_f32((uint8_t)pw.codes[e]) : pw.codes[e]) *
                         (double)pw.scales[j];
                acc += wv * qg_act_decode(at, a, i * k + kk);
            }
            if (s != QG_SCHEME_SP24_BF16) acc *= a_scale[as == QG_SCALE_PER_TENSOR ? 0 : i];
            if (bias) acc += out == QG_DTYPE_F16 ? qg_f16_to_f32(bv[j]) : qg_bf16_to_f32(bv[j]);
            want[i * n + j] = acc;
        }
    double max_abs;
    const double rel = qt_rel_l2(c, want, (size_t)(m * n), &max_abs);
    QT_CHECK(rel < 1e-12,
             "%s act=%s out=%s M=%lld N=%lld K=%lld bias=%d: reference vs naive rel "
             "%.3g (max abs %.3g)",
             t->name, qg_dtype_name(act), qg_dtype_name(out), (long long)m, (long long)n,
             (long long)k, bias, rel, max_abs);
    qg_plain_weight_free(&pw);
    packed_free(&b);
    free(w);
    free(a);
    free(a_scale);
    free(bv);
    free(c);
    free(want);
}

static int last_error_has(const char *needle) {
    return strstr(qg_last_error(NULL), needle) != NULL;
}

static void test_errors(void) {
    for (int i = 0; i < 3; i++) {
        const int64_t bad_k[] = {96, 100, 32};
        for (int j = 0; j < 3; j++) {
            qg_problem p = make_problem(all_schemes[i], 4, 64, bad_k[j]);
            qg_packed_sizes sz;
            QT_STATUS(qg_packed_sizes_get(&p, &sz), QG_ERR_INVALID_ARGUMENT);
            QT_CHECK(last_error_has("multiple of 64"), "message for K=%lld: '%s'",
                     (long long)bad_k[j], qg_last_error(NULL));
            QT_STATUS(qg_problem_validate(&p), QG_ERR_INVALID_ARGUMENT);
        }
    }
    qg_problem big = make_problem(QG_SCHEME_SP24_INT8, 1, 64, 262144 + 64);
    QT_STATUS(qg_problem_validate(&big), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(last_error_has("int32"), "int8 K bound message: '%s'", qg_last_error(NULL));

    /* A dense (not 2:4) plain weight cannot be packed. */
    qg_problem p = make_problem(QG_SCHEME_SP24_INT8, 1, 8, 64);
    qg_plain_weight pw = {0};
    pw.n = 8;
    pw.k = 64;
    pw.groups = 1;
    pw.group_size = 64;
    pw.codes = calloc(8 * 64, 1);
    pw.scales = calloc(8, sizeof(float));
    for (int i = 0; i < 8 * 64; i++) pw.codes[i] = 1;
    packed_buf b;
    QT_CHECK(packed_alloc(&p, &b), "alloc");
    QT_STATUS(qg_scheme_get(p.scheme)->pack(&p, &pw, &b.w), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(last_error_has("2:4"), "dense pack message: '%s'", qg_last_error(NULL));
    qg_plain_weight_free(&pw);

    /* Corrupt metadata (a nibble with non-increasing indices) is reported, not decoded. */
    float w[8 * 64];
    for (int i = 0; i < 8 * 64; i++) w[i] = (float)(i % 7) - 3.0f;
    QT_OK(qg_quantize_weight(&p, w, 64, &b.w));
    float back[8 * 64];
    QT_OK(qg_dequantize_weight_host(&p, &b.w, back, 64));
    ((uint32_t *)b.w.meta)[0] &= ~0xf0u; /* row 0, columns 4..7: nibble -> 0b0000 */
    QT_STATUS(qg_dequantize_weight_host(&p, &b.w, back, 64), QG_ERR_CORRUPT);
    int8_t a[64] = {1};
    float as = 1.0f;
    double c[8];
    QT_STATUS(qg_reference_gemm(&p, a, &as, &b.w, NULL, c), QG_ERR_CORRUPT);

    /* Non-finite weights are refused. */
    w[17] = NAN;
    QT_STATUS(qg_quantize_weight(&p, w, 64, &b.w), QG_ERR_INVALID_ARGUMENT);
    packed_free(&b);

    /* f16 weights beyond the f16 range are refused (they would become inf). */
    qg_problem ph = make_problem(QG_SCHEME_SP24_BF16, 1, 1, 64);
    ph.act_dtype = QG_DTYPE_F16;
    float wh[64] = {1e6f};
    QT_CHECK(packed_alloc(&ph, &b), "alloc");
    QT_STATUS(qg_quantize_weight(&ph, wh, 64, &b.w), QG_ERR_INVALID_ARGUMENT);
    packed_free(&b);
}

int main(void) {
    qt_rng rng;
    qt_seed(&rng, qt_test_seed());
    test_prune_and_layout(&rng, QG_DTYPE_BF16, 37, 256);
    test_prune_and_layout(&rng, QG_DTYPE_F16, 130, 192);
    test_prune_and_layout(&rng, QG_DTYPE_BF16, 64, 64);
    test_8bit_roundtrip(&rng, QG_SCHEME_SP24_INT8, QG_SCALE_PER_ROW, 70, 320);
    test_8bit_roundtrip(&rng, QG_SCHEME_SP24_FP8, QG_SCALE_PER_ROW, 70, 320);
    test_8bit_roundtrip(&rng, QG_SCHEME_SP24_INT8, QG_SCALE_PER_TENSOR, 17, 128);
    test_8bit_roundtrip(&rng, QG_SCHEME_SP24_FP8, QG_SCALE_PER_TENSOR, 17, 128);

    const int64_t ms[] = {1, 3, 17}, ns[] = {16, 37, 130}, ks[] = {64, 192, 256};
    int round = 0;
    for (int si = 0; si < 3; si++)
        for (int mi = 0; mi < 3; mi++)
            for (int ni = 0; ni < 3; ni++) {
                const int64_t k = ks[(mi + ni + si) % 3];
                const qg_dtype act = (round & 1) ? QG_DTYPE_F16 : QG_DTYPE_BF16;
                const qg_dtype out = (round & 2) ? QG_DTYPE_F16 : QG_DTYPE_BF16;
                const qg_scale_granularity as = (round % 3 == 1) ? QG_SCALE_PER_TENSOR
                                                                 : QG_SCALE_PER_ROW;
                const qg_scale_granularity ws = (round % 5 == 2) ? QG_SCALE_PER_TENSOR
                                                                 : QG_SCALE_PER_ROW;
                test_reference(&rng, all_schemes[si], act, out, ms[mi], ns[ni], k, round & 1, as, ws);
                round++;
            }
    test_errors();
    return qt_finish("test_sp24");
}
