/* Public API basics that need no GPU: versions, status names, problem validation, scalar
 * conversions (bf16/f16 exhaustively), context creation without a driver. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_versions(void) {
    QT_CHECK(qg_version_number() == QG_VERSION_NUMBER, "runtime version matches header");
    QT_CHECK(strcmp(qg_version_string(), QG_VERSION_STRING) == 0, "version string");
}

static void test_status_names(void) {
#define QG_X_(name, value, desc)                                             \
    QT_CHECK(strcmp(qg_status_name(name), #name) == 0, "name of %s", #name); \
    QT_CHECK(strcmp(qg_status_string(name), desc) == 0, "string of %s", #name);
    QG_STATUS_LIST(QG_X_)
#undef QG_X_
    QT_CHECK(strcmp(qg_status_name((qg_status)999), "QG_UNKNOWN_STATUS") == 0, "unknown name");
    QT_CHECK(qg_status_string((qg_status)-1) != NULL, "unknown string not NULL");
}

static void test_scheme_names(void) {
    for (int s = 0; s < QG_SCHEME_COUNT_; s++) {
        qg_scheme back;
        QT_OK(qg_scheme_from_name(qg_scheme_name((qg_scheme)s), &back));
        QT_CHECK(back == (qg_scheme)s, "scheme %d round trip", s);
    }
    qg_scheme x;
    QT_STATUS(qg_scheme_from_name("w3a16", &x), QG_ERR_NOT_FOUND);
    QT_CHECK(strstr(qg_last_error(NULL), "w3a16") != NULL, "message names the bad scheme");
    QT_STATUS(qg_scheme_from_name(NULL, &x), QG_ERR_NULL_POINTER);
    QT_CHECK(strcmp(qg_scheme_name((qg_scheme)77), "?") == 0, "out of range scheme name");
    QT_CHECK(strcmp(qg_dtype_name(QG_DTYPE_BF16), "bf16") == 0, "dtype name");
}

static void test_problem_validation(void) {
    qg_problem p;
    qg_problem_init(&p);
    p.m = 1, p.n = 256, p.k = 512;
    QT_STATUS(qg_problem_validate(NULL), QG_ERR_NULL_POINTER);
    qg_problem bad = p;
    bad.struct_size = 0;
    QT_STATUS(qg_problem_validate(&bad), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(strstr(qg_last_error(NULL), "qg_problem_init") != NULL, "hint to init");
    bad = p, bad.m = 0;
    QT_STATUS(qg_problem_validate(&bad), QG_ERR_INVALID_ARGUMENT);
    bad = p, bad.n = -4;
    QT_STATUS(qg_problem_validate(&bad), QG_ERR_INVALID_ARGUMENT);
    bad = p, bad.k = 0;
    QT_STATUS(qg_problem_validate(&bad), QG_ERR_INVALID_ARGUMENT);
    bad = p, bad.scheme = (qg_scheme)42;
    QT_STATUS(qg_problem_validate(&bad), QG_ERR_INVALID_ARGUMENT);
    bad = p, bad.out_dtype = QG_DTYPE_INT8;
    QT_STATUS(qg_problem_validate(&bad), QG_ERR_INVALID_ARGUMENT);
    bad = p, bad.act_dtype = QG_DTYPE_F32;
    QT_STATUS(qg_problem_validate(&bad), QG_ERR_INVALID_ARGUMENT);
    qg_packed_sizes sz;
    QT_STATUS(qg_packed_sizes_get(&p, NULL), QG_ERR_NULL_POINTER);
    QT_STATUS(qg_packed_sizes_get(NULL, &sz), QG_ERR_NULL_POINTER);
}

/* bf16: every pattern round-trips through float; rounding is nearest-even. */
static void test_bf16(void) {
    int bad = 0;
    for (uint32_t v = 0; v < 65536; v++) {
        float f = qg_bf16_to_f32((uint16_t)v);
        if (isnan(f)) {
            bad += !isnan(qg_bf16_to_f32(qg_f32_to_bf16(f)));
            continue;
        }
        bad += qg_f32_to_bf16(f) != v;
    }
    QT_CHECK(bad == 0, "bf16 round trip: %d patterns differ", bad);
    /* 1 + 2^-8 is halfway between 1 and 1+2^-7: ties to even (1.0). */
    QT_CHECK(qg_f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80, "bf16 tie to even (down)");
    QT_CHECK(qg_f32_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3f82, "bf16 tie to even (up)");
    QT_CHECK(qg_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81, "bf16 above tie rounds up");
}

/* f16 conversions against a float64 definition (independent of the bit tricks). */
static double f16_value(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    if (e == 31) v = m ? NAN : INFINITY;
    return s ? -v : v;
}

static void test_f16(void) {
    int bad_dec = 0, bad_enc = 0;
    for (uint32_t v = 0; v < 65536; v++) {
        double ref = f16_value((uint16_t)v);
        float f = qg_f16_to_f32((uint16_t)v);
        if (isnan(ref)) {
            bad_dec += !isnan(f);
            continue;
        }
        bad_dec += (double)f != ref;
        bad_enc += qg_f32_to_f16(f) != v;
    }
    QT_CHECK(bad_dec == 0, "f16 decode: %d patterns differ from the definition", bad_dec);
    QT_CHECK(bad_enc == 0, "f16 round trip: %d patterns differ", bad_enc);
    /* Midpoints between consecutive positive finite values round to the even one. */
    int bad_tie = 0;
    for (uint32_t v = 0; v < 0x7bff; v++) {
        double mid = 0.5 * (f16_value((uint16_t)v) + f16_value((uint16_t)(v + 1)));
        uint16_t expect = (v & 1) ? (uint16_t)(v + 1) : (uint16_t)v;
        bad_tie += qg_f32_to_f16((float)mid) != expect;
    }
    QT_CHECK(bad_tie == 0, "f16 ties to even: %d midpoints wrong", bad_tie);
    QT_CHECK(qg_f32_to_f16(70000.0f) == 0x7c00, "f16 overflow to inf");
    QT_CHECK(qg_f32_to_f16(-70000.0f) == 0xfc00, "f16 overflow to -inf");
}

static void test_context_without_gpu(void) {
    qg_context *ctx = (qg_context *)0x1;
    QT_STATUS(qg_context_create(NULL, NULL), QG_ERR_NULL_POINTER);
    qg_context_params prm;
    qg_context_params_init(&prm);
    prm.struct_size = 3;
    QT_STATUS(qg_context_create(&ctx, &prm), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(ctx == NULL, "out is NULL after a failed create");
    qg_context_destroy(NULL); /* no-op */
    QT_STATUS(qg_malloc(NULL, NULL, 4), QG_ERR_NULL_POINTER);
    QT_STATUS(qg_gemm(NULL, NULL, NULL, NULL), QG_ERR_NULL_POINTER);
    QT_STATUS(qg_prepare(NULL, NULL, 0), QG_ERR_NULL_POINTER);
}

int main(void) {
    test_versions();
    test_status_names();
    test_scheme_names();
    test_problem_validation();
    test_bf16();
    test_f16();
    test_context_without_gpu();
    return qt_finish("test_api");
}
