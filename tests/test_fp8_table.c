/*
 * e4m3 (OCP e4m3fn) scalar conversions against an independent table: the 127 non-negative
 * finite values below were generated once offline by walking the binades (2^b + j*2^(b-3),
 * subnormals j*2^-9) with exact rational arithmetic, not from the bit fields the library
 * decodes. Code 0x7f is NaN. The rounding checks find the nearest table value by search.
 */
#include "testutil.h"

#include <math.h>
#include <string.h>

static const double e4m3_pos[127] = {
    0,        0.001953125, 0.00390625, 0.005859375, 0.0078125, 0.009765625, 0.01171875, 0.013671875,
    0.015625, 0.017578125, 0.01953125, 0.021484375, 0.0234375, 0.025390625, 0.02734375, 0.029296875,
    0.03125,  0.03515625,  0.0390625,  0.04296875,  0.046875,  0.05078125,  0.0546875,  0.05859375,
    0.0625,   0.0703125,   0.078125,   0.0859375,   0.09375,   0.1015625,   0.109375,   0.1171875,
    0.125,    0.140625,    0.15625,    0.171875,    0.1875,    0.203125,    0.21875,    0.234375,
    0.25,     0.28125,     0.3125,     0.34375,     0.375,     0.40625,     0.4375,     0.46875,
    0.5,      0.5625,      0.625,      0.6875,      0.75,      0.8125,      0.875,      0.9375,
    1,        1.125,       1.25,       1.375,       1.5,       1.625,       1.75,       1.875,
    2,        2.25,        2.5,        2.75,        3,         3.25,        3.5,        3.75,
    4,        4.5,         5,          5.5,         6,         6.5,         7,          7.5,
    8,        9,           10,         11,          12,        13,          14,         15,
    16,       18,          20,         22,          24,        26,          28,         30,
    32,       36,          40,         44,          48,        52,          56,         60,
    64,       72,          80,         88,          96,        104,         112,        120,
    128,      144,         160,        176,         192,       208,         224,        240,
    256,      288,         320,        352,         384,       416,         448,
};

/* Nearest finite e4m3 code to f by searching the table (ties to the even code), saturating
 * to +-448 like cvt.rn.satfinite. */
static uint8_t nearest_code(float f) {
    const double a = fabs((double)f);
    const uint8_t sign = signbit(f) ? 0x80 : 0;
    if (a >= 448.0) return sign | 0x7e;
    int best = 0;
    for (int c = 1; c < 127; c++) {
        const double d = fabs(e4m3_pos[c] - a), db = fabs(e4m3_pos[best] - a);
        if (d < db || (d == db && (c & 1) == 0)) best = c;
    }
    return (uint8_t)(sign | best);
}

static void test_decode_all_codes(void) {
    for (int c = 0; c < 256; c++) {
        const float v = qg_e4m3_to_f32((uint8_t)c);
        const int mag = c & 0x7f;
        if (mag == 0x7f) {
            QT_CHECK(isnan(v), "code 0x%02x should be NaN, got %g", c, v);
            continue;
        }
        const double want = (c & 0x80) ? -e4m3_pos[mag] : e4m3_pos[mag];
        QT_CHECK((double)v == want && !signbit(v) == !(c & 0x80),
                 "code 0x%02x decodes to %.9g, table says %.9g", c, v, want);
    }
}

static void test_encode_round_trip(void) {
    int bad = 0;
    for (int c = 0; c < 256; c++) {
        if ((c & 0x7f) == 0x7f) continue;
        const float v = (float)((c & 0x80) ? -e4m3_pos[c & 0x7f] : e4m3_pos[c & 0x7f]);
        const float vs = (c == 0x80) ? -0.0f : v;
        if (qg_f32_to_e4m3(vs) != c) bad++;
    }
    QT_CHECK(bad == 0, "%d finite codes do not survive decode -> encode", bad);
}

static void test_ties_and_neighbours(void) {
    int bad = 0;
    for (int c = 0; c < 126; c++) {
        const double lo = e4m3_pos[c], hi = e4m3_pos[c + 1];
        const float mid = (float)((lo + hi) / 2); /* exact: a few significant bits */
        const uint8_t even = (uint8_t)((c & 1) ? c + 1 : c);
        for (int s = 0; s < 2; s++) {
            const float sg = s ? -1.f : 1.f;
            const uint8_t sb = s ? 0x80 : 0;
            if (qg_f32_to_e4m3(sg * mid) != (uint8_t)(sb | even)) bad++;
            if (qg_f32_to_e4m3(sg * nextafterf(mid, 0.f)) != (uint8_t)(sb | c)) bad++;
            if (qg_f32_to_e4m3(sg * nextafterf(mid, 1e9f)) != (uint8_t)(sb | (c + 1))) bad++;
        }
    }
    QT_CHECK(bad == 0, "%d midpoint / neighbour roundings are wrong", bad);
    /* below half the smallest subnormal: zero; exactly half: tie to even (zero) */
    QT_CHECK(qg_f32_to_e4m3(0x1p-10f) == 0x00, "2^-10 must round to +0");
    QT_CHECK(qg_f32_to_e4m3(nextafterf(0x1p-10f, 1.f)) == 0x01, "just above 2^-10 -> 0x01");
    QT_CHECK(qg_f32_to_e4m3(-0x1p-11f) == 0x80, "-2^-11 must round to -0");
    QT_CHECK(qg_f32_to_e4m3(1e-30f) == 0x00, "tiny positive -> +0");
}

static void test_saturation_and_nan(void) {
    const float big[] = {448.f, 449.f, 463.99f, 464.f, 480.f, 1e6f, 3e38f, INFINITY};
    for (int i = 0; i < 8; i++) {
        QT_CHECK(qg_f32_to_e4m3(big[i]) == 0x7e, "%g should saturate to 0x7e, got 0x%02x", big[i],
                 qg_f32_to_e4m3(big[i]));
        QT_CHECK(qg_f32_to_e4m3(-big[i]) == 0xfe, "%g should saturate to 0xfe", -big[i]);
    }
    QT_CHECK((qg_f32_to_e4m3(NAN) & 0x7f) == 0x7f, "NaN must encode as NaN (0x7f/0xff)");
    QT_CHECK(isnan(qg_e4m3_to_f32(qg_f32_to_e4m3(NAN))), "NaN must survive a round trip");
}

static void test_random_against_search(void) {
    qt_rng r;
    qt_seed(&r, qt_test_seed());
    int bad = 0;
    for (int i = 0; i < 100000; i++) {
        /* log-uniform magnitudes from 2^-12 to 2^10, both signs */
        float f = ldexpf(qt_uniform(&r, 1.f, 2.f), (int)(qt_next(&r) % 23) - 12);
        if (qt_next(&r) & 1) f = -f;
        const uint8_t got = qg_f32_to_e4m3(f), want = nearest_code(f);
        if (got != want && bad++ < 5)
            fprintf(stderr, "  %.9g -> 0x%02x, nearest is 0x%02x\n", f, got, want);
    }
    QT_CHECK(bad == 0, "%d of 100000 random floats rounded differently from a table search", bad);
}

int main(void) {
    test_decode_all_codes();
    test_encode_round_trip();
    test_ties_and_neighbours();
    test_saturation_and_nan();
    test_random_against_search();
    return qt_finish("test_fp8_table");
}
