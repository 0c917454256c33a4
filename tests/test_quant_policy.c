/*
 * The host quantizers' input policy (include/qgemm.h): every scheme rejects a NaN or infinite
 * weight, and every activation quantizer a NaN or infinite activation, with
 * QG_ERR_INVALID_ARGUMENT naming the row and column and nothing written; dimensions of 2^31 are
 * rejected before any size is computed; rows of denormal weights (whose scale underflows)
 * still round-trip.
 */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N = 64, K = 256, SENTINEL = 0xab };

static void problem_for(qg_scheme s, qg_problem *p) {
    qg_problem_init(p);
    p->scheme = s;
    p->n = N, p->k = K, p->m = 4;
    p->has_zero_point = s == QG_SCHEME_W4A16;
    p->group_size = s == QG_SCHEME_W4A16 || s == QG_SCHEME_W4A8_FP8 || s == QG_SCHEME_W4A8_INT8 ? 128
                                                                                                : 0;
}

typedef struct {
    qg_packed_sizes sz;
    unsigned char *buf[4];
    qg_packed_weight pw;
} packed;

static int packed_alloc(const qg_problem *p, packed *o) {
    memset(o, 0, sizeof *o);
    if (qg_packed_sizes_get(p, &o->sz) != QG_SUCCESS) return 0;
    const size_t bytes[4] = {o->sz.weight_bytes, o->sz.scale_bytes, o->sz.zero_bytes,
                             o->sz.meta_bytes};
    for (int i = 0; i < 4; i++) {
        o->buf[i] = bytes[i] ? malloc(bytes[i]) : NULL;
        if (o->buf[i]) memset(o->buf[i], SENTINEL, bytes[i]);
    }
    o->pw.weight = o->buf[0], o->pw.scale = o->buf[1], o->pw.zero = o->buf[2], o->pw.meta = o->buf[3];
    return 1;
}

/* Nothing was written: every byte still the sentinel. */
static int packed_untouched(const packed *o) {
    const size_t bytes[4] = {o->sz.weight_bytes, o->sz.scale_bytes, o->sz.zero_bytes,
                             o->sz.meta_bytes};
    for (int i = 0; i < 4; i++)
        for (size_t j = 0; j < bytes[i]; j++)
            if (o->buf[i][j] != SENTINEL) return 0;
    return 1;
}

static void packed_free(packed *o) {
    for (int i = 0; i < 4; i++) free(o->buf[i]);
}

static void test_weights_not_finite(qt_rng *r) {
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    float *w = malloc(sizeof(float) * N * K);
    uint16_t *w16 = malloc(sizeof(uint16_t) * N * K);
    for (int s = 0; s < QG_SCHEME_COUNT_; s++) {
        qg_problem p;
        problem_for((qg_scheme)s, &p);
        const char *name = qg_scheme_name((qg_scheme)s);
        packed o;
        if (!QT_CHECK(packed_alloc(&p, &o), "%s: sizes: %s", name, qg_last_error(NULL))) continue;
        qt_fill_normal(r, w, N * K, 0.05f);
        QT_OK(qg_quantize_weight(&p, w, K, &o.pw)); /* control: finite weights quantize */
        for (int b = 0; b < 3; b++) {
            const int row = (int)(qt_next(r) % N), col = (int)(qt_next(r) % K);
            char where[64];
            snprintf(where, sizeof where, "row %d, column %d", row, col);
            qt_fill_normal(r, w, N * K, 0.05f);
            w[row * K + col] = bad[b];
            for (int i = 0; i < N * K; i++) w16[i] = qg_f32_to_bf16(w[i]);
            for (int bf16 = 0; bf16 < 2; bf16++) {
                packed fresh;
                packed_alloc(&p, &fresh);
                const qg_status st = bf16 ? qg_quantize_weight_bf16(&p, w16, K, &fresh.pw)
                                          : qg_quantize_weight(&p, w, K, &fresh.pw);
                QT_CHECK(st == QG_ERR_INVALID_ARGUMENT, "%s%s: %g at (%d, %d) gave %s", name,
                         bf16 ? " bf16" : "", (double)bad[b], row, col, qg_status_name(st));
                QT_CHECK(qt_contains(qg_last_error(NULL), where) &&
                             qt_contains(qg_last_error(NULL), isnan(bad[b]) ? "NaN" : "infinite"),
                         "%s: the message names the element: %s", name, qg_last_error(NULL));
                QT_CHECK(packed_untouched(&fresh), "%s: nothing written on a non-finite weight",
                         name);
                packed_free(&fresh);
            }
        }
        packed_free(&o);
    }
    free(w);
    free(w16);
}

static void test_activations_not_finite(qt_rng *r) {
    enum { M = 5 };
    uint16_t a[M * K];
    uint8_t q[M * K];
    float sc[M];
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    for (int s = 0; s < QG_SCHEME_COUNT_; s++) {
        qg_problem p;
        problem_for((qg_scheme)s, &p);
        p.m = M;
        for (int t = 0; t < 2; t++) {
            p.act_dtype = t ? QG_DTYPE_F16 : QG_DTYPE_BF16;
            for (int i = 0; i < M * K; i++)
                a[i] = t ? qg_f32_to_f16(qt_normal(r)) : qg_f32_to_bf16(qt_normal(r));
            if (qg_quantize_activations_host(&p, a, q, sc) != QG_SUCCESS)
                continue; /* weight-only */
            for (int b = 0; b < 3; b++) {
                const int row = (int)(qt_next(r) % M), col = (int)(qt_next(r) % K);
                const uint16_t keep = a[row * K + col];
                a[row * K + col] = t ? qg_f32_to_f16(bad[b]) : qg_f32_to_bf16(bad[b]);
                memset(q, SENTINEL, sizeof q);
                memset(sc, SENTINEL, sizeof sc);
                QT_STATUS(qg_quantize_activations_host(&p, a, q, sc), QG_ERR_INVALID_ARGUMENT);
                char where[64];
                snprintf(where, sizeof where, "row %d, column %d", row, col);
                QT_CHECK(qt_contains(qg_last_error(NULL), where), "%s: message names the element: %s",
                         qg_scheme_name(p.scheme), qg_last_error(NULL));
                int untouched = 1;
                for (size_t i = 0; i < sizeof q; i++) untouched &= q[i] == SENTINEL;
                for (size_t i = 0; i < sizeof sc; i++)
                    untouched &= ((unsigned char *)sc)[i] == SENTINEL;
                QT_CHECK(untouched, "%s: nothing written", qg_scheme_name(p.scheme));
                a[row * K + col] = keep;
            }
        }
    }
}

/* N = K = 2^31 passed validation ("> 2^31") and the bf16 copy's size wrapped to 0. */
static void test_dimension_bound(void) {
    for (int s = 0; s < QG_SCHEME_COUNT_; s++) {
        qg_problem p;
        problem_for((qg_scheme)s, &p);
        p.n = p.k = 1ll << 31;
        qg_packed_sizes sz;
        QT_STATUS(qg_packed_sizes_get(&p, &sz), QG_ERR_INVALID_ARGUMENT);
        QT_CHECK(qt_contains(qg_last_error(NULL), "below 2^31"), "message: %s", qg_last_error(NULL));
        uint16_t w[1] = {0};
        unsigned char dummy[16];
        qg_packed_weight pw = {dummy, dummy, dummy, dummy};
        QT_STATUS(qg_quantize_weight_bf16(&p, w, p.k, &pw), QG_ERR_INVALID_ARGUMENT);
        p.n = p.m = (1ll << 31) - 1, p.k = 4096; /* just below the bound: valid */
        QT_OK(qg_problem_validate(&p));
    }
}

/* Weights that are a few times the smallest denormal: absmax / qmax underflows to 0, and the
 * 8-bit quantizers divided by that scale (0 / 0 for the zeros). They must round-trip. */
static void test_denormal_rows(void) {
    const qg_scheme schemes[] = {QG_SCHEME_W8A8_INT8, QG_SCHEME_W8A8_FP8,  QG_SCHEME_W4A8_INT8,
                                 QG_SCHEME_W4A8_FP8,  QG_SCHEME_SP24_INT8, QG_SCHEME_SP24_FP8};
    float *w = calloc(N * K, sizeof(float)), *back = malloc(sizeof(float) * N * K);
    for (int i = 0; i < N * K; i += 4)
        w[i] = (float)((i / 4) % 7 - 3) * FLT_TRUE_MIN; /* 2:4 friendly */
    for (size_t s = 0; s < sizeof schemes / sizeof schemes[0]; s++) {
        qg_problem p;
        problem_for(schemes[s], &p);
        packed o;
        packed_alloc(&p, &o);
        QT_OK(qg_quantize_weight(&p, w, K, &o.pw));
        QT_OK(qg_dequantize_weight_host(&p, &o.pw, back, K));
        int exact = 1;
        for (int i = 0; i < N * K; i++) exact &= back[i] == w[i];
        QT_CHECK(exact, "%s: denormal weights (|w| <= 3 * 2^-149) round-trip exactly",
                 qg_scheme_name(schemes[s]));
        packed_free(&o);
    }
    free(w);
    free(back);
}

int main(void) {
    qt_rng r;
    qt_seed(&r, qt_test_seed());
    test_weights_not_finite(&r);
    test_activations_not_finite(&r);
    test_dimension_bound();
    test_denormal_rows();
    return qt_finish("test_quant_policy");
}
