/*
 * W4A16 float zero points (has_zero_point = QG_ZERO_POINT_FLOAT, docs/formats.md "W4A16
 * weights"): w = (u - 8) * s + z rounded once to the activation dtype. Checks the host rounding
 * rule against an exact integer reference (random values and constructed ties), the unpacker and
 * the reference GEMM on packed weights against values computed from the plain codes, the
 * problem checks and refusals, and the kernel families: which accept the kind, which refuse it
 * by name, what the heuristic picks, and the launch arguments of the fzp families (stub backend).
 */
#include "backend.h"
#include "catalog.h"
#include "code_hash.h"
#include "dispatch.h"
#include "jit.h"
#include "scheme_w4a16.h"
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- exact reference rounding */

/* x = M * 2^e exactly (M an integer, |M| < 2^53). */
static void split_exact(double x, int64_t *m, int *e) {
    if (x == 0) {
        *m = 0, *e = 0;
        return;
    }
    int ex;
    const double f = frexp(x, &ex); /* x = f * 2^ex, |f| in [0.5, 1) */
    *m = (int64_t)ldexp(f, 53);
    *e = ex - 53;
}

/* (u - 8) * s + z rounded once to nearest even in a float format of `mant` significand bits and
 * smallest normal exponent `emin`, computed with integers (exponent gaps below 60 bits). */
static double round_exact(int q, double s, double z, int mant, int emin) {
    int64_t ms, mz;
    int es, ez;
    split_exact(s, &ms, &es);
    split_exact(z, &mz, &ez);
    /* both products and the sum in units of 2^e0 */
    const int e0 = ms == 0 ? ez : mz == 0 ? es : (es < ez ? es : ez);
    __int128 n = 0;
    if (ms) n += (__int128)q * ms * ((__int128)1 << (es - e0)); /* (no shifts of negatives) */
    if (mz) n += (__int128)mz * ((__int128)1 << (ez - e0));
    if (n == 0) return 0.0;
    const int neg = n < 0;
    unsigned __int128 a = neg ? (unsigned __int128)(-n) : (unsigned __int128)n;
    int len = 0;
    for (unsigned __int128 t = a; t; t >>= 1) len++;
    const int top = e0 + len - 1; /* exponent of the leading bit */
    const int quantum = (top > emin ? top : emin) - (mant - 1);
    if (quantum > e0) {
        const int sh = quantum - e0;
        const unsigned __int128 rem = a & (((unsigned __int128)1 << sh) - 1),
                                half = (unsigned __int128)1 << (sh - 1);
        a >>= sh;
        if (rem > half || (rem == half && (a & 1))) a++;
        const double r = ldexp((double)a, quantum);
        return neg ? -r : r;
    }
    const double r = ldexp((double)a, e0);
    return neg ? -r : r;
}

static double ref_value(int u, float s, float z, qg_dtype dt) {
    return dt == QG_DTYPE_BF16 ? round_exact(u - 8, s, z, 8, -126)
                               : round_exact(u - 8, s, z, 11, -14);
}

static float half_value(float x, qg_dtype dt) {
    return qg_wo_half_to_f32(qg_wo_half_from_f32(x, dt), dt);
}

static void test_rounding_rule(qt_rng *r) {
    const qg_dtype dts[2] = {QG_DTYPE_BF16, QG_DTYPE_F16};
    int bad = 0;
    for (int d = 0; d < 2; d++) {
        const qg_dtype dt = dts[d];
        for (int i = 0; i < 200000; i++) {
            /* scales and zero points of the dtype over a range of exponents, sometimes far apart */
            const int spread = dt == QG_DTYPE_BF16 ? 40 : 12;
            const float s =
                half_value(ldexpf(qt_uniform(r, 1.0f, 2.0f), (int)qt_uniform(r, -spread, 4)), dt);
            float z = half_value(ldexpf(qt_uniform(r, -2.0f, 2.0f), (int)qt_uniform(r, -spread, 4)),
                                 dt);
            if (i % 7 == 0)
                z = half_value(-8.0f * s + (float)(qt_next(r) % 17) * s, dt); /* integer */
            const int u = (int)(qt_next(r) % 16);
            const float got = qg_w4_float_zp_value((unsigned)u, s, z, dt);
            const double want = ref_value(u, s, z, dt);
            if ((double)got != want && bad++ < 5)
                QT_CHECK(0, "%s: u %d s %a z %a: %a, exact rounding %a", qg_dtype_name(dt), u, s, z,
                         got, want);
        }
    }
    QT_CHECK(bad == 0, "%d values differ from the exact single rounding", bad);

    /* Ties that an f32 sum rounds onto: 3 * 131/128 = 3.0703125 is halfway between two bf16
     * values (9 significant bits); a tiny z above / below decides, which fmaf-then-round misses. */
    const float s = 131.0f / 128.0f, tiny = ldexpf(1.0f, -30);
    const float up = qg_w4_float_zp_value(11, s, tiny, QG_DTYPE_BF16);
    const float down = qg_w4_float_zp_value(11, s, -tiny, QG_DTYPE_BF16);
    QT_CHECK(up == 3.078125f && down == 3.0625f, "bf16 tie: %a / %a, expected 3.078125 / 3.0625",
             up, down);
    QT_CHECK(qg_f32_to_bf16(fmaf(3.0f, s, tiny)) == qg_f32_to_bf16(3.0625f),
             "the tie case must be one where rounding the f32 fma twice goes wrong");
    /* f16: 3 * (1 + 5/1024) needs 13 bits: halfway, then z = +-2^-20 */
    const float sh = 1.0f + 5.0f / 1024.0f, t16 = ldexpf(1.0f, -20);
    QT_CHECK((double)qg_w4_float_zp_value(11, sh, t16, QG_DTYPE_F16) ==
                     ref_value(11, sh, t16, QG_DTYPE_F16) &&
                 (double)qg_w4_float_zp_value(11, sh, -t16, QG_DTYPE_F16) ==
                     ref_value(11, sh, -t16, QG_DTYPE_F16) &&
                 qg_w4_float_zp_value(11, sh, t16, QG_DTYPE_F16) !=
                     qg_w4_float_zp_value(11, sh, -t16, QG_DTYPE_F16),
             "f16 tie broken by the zero point's sign");
}

/* ---------------------------------------------------------------- packed weights */

typedef struct {
    qg_problem p;
    qg_packed_sizes sz;
    qg_packed_weight w;
} packed;

static qg_problem problem(int64_t m, int64_t n, int64_t k, int gs, int zp, qg_dtype act) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = QG_SCHEME_W4A16;
    p.m = m, p.n = n, p.k = k;
    p.group_size = gs;
    p.has_zero_point = zp;
    p.act_dtype = act;
    p.out_dtype = act;
    return p;
}

static void alloc_packed(packed *pk, const qg_problem *p) {
    memset(pk, 0, sizeof *pk);
    pk->p = *p;
    QT_OK(qg_packed_sizes_get(p, &pk->sz));
    pk->w.weight = calloc(1, pk->sz.weight_bytes);
    pk->w.scale = calloc(1, pk->sz.scale_bytes);
    pk->w.zero = calloc(1, pk->sz.zero_bytes);
}

static void free_packed(packed *pk) {
    free(pk->w.weight);
    free(pk->w.scale);
    free(pk->w.zero);
}

/* A plain float-zero-point weight: codes u in [0, 15], scales and zero points of the dtype
 * (zero points in [-2 s, 10 s] as mslk's min + 8 s gives, some exact multiples of s). */
static void random_plain(qt_rng *r, const qg_problem *p, qg_plain_weight *pw) {
    qg_wo_geom g;
    qg_wo_geom_get(p, &g);
    *pw = (qg_plain_weight){.n = p->n, .k = p->k, .groups = g.groups, .group_size = g.gs};
    pw->codes = malloc((size_t)(p->n * p->k));
    pw->scales = malloc(sizeof(float) * (size_t)(p->n * g.groups));
    pw->zeros = malloc(sizeof(float) * (size_t)(p->n * g.groups));
    for (int64_t i = 0; i < p->n * p->k; i++) pw->codes[i] = (int8_t)(qt_next(r) % 16);
    for (int64_t i = 0; i < p->n * g.groups; i++) {
        const float s = half_value(0.01f * qt_uniform(r, 0.1f, 2.0f), p->act_dtype);
        pw->scales[i] = s;
        pw->zeros[i] = half_value(i % 5 == 0 ? 3.0f * s : s * qt_uniform(r, -2.0f, 10.0f),
                                  p->act_dtype);
    }
}

static void test_unpack_and_reference(qt_rng *r, int64_t m, int64_t n, int64_t k, int gs,
                                      qg_dtype act) {
    const qg_problem p = problem(m, n, k, gs, QG_ZERO_POINT_FLOAT, act);
    QT_OK(qg_problem_validate(&p));
    packed pk;
    alloc_packed(&pk, &p);
    qg_packed_sizes s1;
    qg_problem pi = p;
    pi.has_zero_point = QG_ZERO_POINT_INTEGER;
    QT_OK(qg_packed_sizes_get(&pi, &s1));
    QT_CHECK(pk.sz.zero_bytes == s1.zero_bytes && pk.sz.zero_bytes == pk.sz.scale_bytes &&
                 pk.sz.weight_bytes == s1.weight_bytes,
             "float zero points take the integer ones' buffers");
    qg_plain_weight pw;
    random_plain(r, &p, &pw);
    QT_OK(qg_scheme_get(QG_SCHEME_W4A16)->pack(&p, &pw, &pk.w));

    /* unpacker: every element is the exact single rounding of the plain values */
    float *w = malloc(sizeof(float) * (size_t)(n * k));
    QT_OK(qg_dequantize_weight_host(&p, &pk.w, w, k));
    double *wref = malloc(sizeof(double) * (size_t)(n * k));
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++) {
            const int64_t gi = i * pw.groups + j / pw.group_size;
            wref[i * k + j] = ref_value(pw.codes[i * k + j], pw.scales[gi], pw.zeros[gi], act);
            bad += (double)w[i * k + j] != wref[i * k + j];
        }
    QT_CHECK(bad == 0, "unpack %lldx%lld gs %d %s: %d elements differ from the rule", (long long)n,
             (long long)k, gs, qg_dtype_name(act), bad);

    /* reference GEMM: float64 sums of the same values */
    uint16_t *a = malloc(sizeof(uint16_t) * (size_t)(m * k));
    for (int64_t i = 0; i < m * k; i++) a[i] = qg_wo_half_from_f32(qt_normal(r), act);
    double *c = malloc(sizeof(double) * (size_t)(m * n)),
           *cn = malloc(sizeof(double) * (size_t)(m * n));
    QT_OK(qg_reference_gemm(&p, a, NULL, &pk.w, NULL, c));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t q = 0; q < k; q++)
                acc += qg_wo_half_to_f32(a[i * k + q], act) * wref[j * k + q];
            cn[i * n + j] = acc;
        }
    double max_abs;
    const double rel = qt_rel_l2(c, cn, (size_t)(m * n), &max_abs);
    QT_CHECK(rel < 1e-12, "reference GEMM vs naive (M=%lld N=%lld K=%lld gs %d): rel %.3g",
             (long long)m, (long long)n, (long long)k, gs, rel);

    /* the same buffers read as integer zero points give other values: the kind matters */
    float *wi = malloc(sizeof(float) * (size_t)(n * k));
    QT_OK(qg_dequantize_weight_host(&pi, &pk.w, wi, k));
    QT_CHECK(memcmp(w, wi, sizeof(float) * (size_t)(n * k)) != 0, "kind 1 and 2 decode alike");
    free(wi);
    free(a);
    free(c);
    free(cn);
    free(w);
    free(wref);
    qg_plain_weight_free(&pw);
    free_packed(&pk);
}

/* mslk's quantizer (the tests' and the tuner's source of float zero points): the unpacked weight
 * is within half a scale of the input, and the zero points are not integer multiples. */
static void test_mslk_quantizer(qt_rng *r) {
    const qg_problem p = problem(1, 96, 256, 64, QG_ZERO_POINT_FLOAT, QG_DTYPE_BF16);
    packed pk;
    alloc_packed(&pk, &p);
    float *w = malloc(sizeof(float) * 96 * 256), *back = malloc(sizeof(float) * 96 * 256);
    qt_fill_normal(r, w, 96 * 256, 0.05f);
    QT_OK(qg_w4a16_quantize_float_zp(&p, w, 256, &pk.w));
    QT_OK(qg_dequantize_weight_host(&p, &pk.w, back, 256));
    double worst = 0;
    int fractional = 0;
    for (int64_t n = 0; n < 96; n++)
        for (int64_t gi = 0; gi < 4; gi++) {
            const int64_t si = qg_wo_scale_index(n, gi, 4);
            const float s = qg_bf16_to_f32(qg_wo_rd16(pk.w.scale, si));
            const float z = qg_bf16_to_f32(qg_wo_rd16(pk.w.zero, si));
            fractional += z / s != floorf(z / s);
            for (int64_t j = gi * 64; j < gi * 64 + 64; j++)
                worst = fmax(worst, fabs((double)back[n * 256 + j] - w[n * 256 + j]) / s);
        }
    QT_CHECK(worst < 0.6, "mslk-style quantization error %.3g scales", worst);
    QT_CHECK(fractional > 300, "only %d of 384 zero points are fractional multiples", fractional);
    qg_problem pi = p;
    pi.has_zero_point = QG_ZERO_POINT_INTEGER;
    QT_STATUS(qg_w4a16_quantize_float_zp(&pi, w, 256, &pk.w), QG_ERR_INVALID_ARGUMENT);
    free(w);
    free(back);
    free_packed(&pk);
}

static void test_problem_checks(void) {
    qg_problem p = problem(4, 64, 128, 32, QG_ZERO_POINT_FLOAT, QG_DTYPE_BF16);
    QT_OK(qg_problem_validate(&p));
    p.has_zero_point = 3;
    QT_STATUS(qg_problem_validate(&p), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(strstr(qg_last_error(NULL), "float") != NULL, "message lists the kinds: %s",
             qg_last_error(NULL));
    p.has_zero_point = -1;
    QT_STATUS(qg_problem_validate(&p), QG_ERR_INVALID_ARGUMENT);
    /* the 8-bit and W4A8 schemes have no zero points of any kind */
    const qg_scheme others[] = {QG_SCHEME_W8A16, QG_SCHEME_W8A8_INT8, QG_SCHEME_W4A8_INT8};
    for (int i = 0; i < 3; i++) {
        qg_problem q = p;
        q.scheme = others[i];
        q.group_size = others[i] == QG_SCHEME_W4A8_INT8 ? 32 : 0;
        q.has_zero_point = QG_ZERO_POINT_FLOAT;
        QT_STATUS(qg_problem_validate(&q), QG_ERR_INVALID_ARGUMENT);
    }
    /* qg_quantize_weight makes no float zero points */
    p.has_zero_point = QG_ZERO_POINT_FLOAT;
    packed pk;
    alloc_packed(&pk, &p);
    float w[64 * 128];
    for (int i = 0; i < 64 * 128; i++) w[i] = (float)(i % 11) * 0.1f;
    QT_STATUS(qg_quantize_weight(&p, w, 128, &pk.w), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(strstr(qg_last_error(NULL), "float zero points") != NULL, "refusal names the kind: %s",
             qg_last_error(NULL));
    /* a zero point that is not finite in the dtype is refused by the packer */
    qg_plain_weight pw = {.n = 64, .k = 128, .groups = 4, .group_size = 32};
    pw.codes = calloc(64 * 128, 1);
    pw.scales = calloc(64 * 4, sizeof(float));
    pw.zeros = calloc(64 * 4, sizeof(float));
    pw.zeros[9] = 1e6f;
    p.act_dtype = p.out_dtype = QG_DTYPE_F16;
    QT_STATUS(qg_scheme_get(QG_SCHEME_W4A16)->pack(&p, &pw, &pk.w), QG_ERR_INVALID_ARGUMENT);
    pw.zeros[9] = -2.75f; /* any finite value, not only integers */
    QT_OK(qg_scheme_get(QG_SCHEME_W4A16)->pack(&p, &pw, &pk.w));
    qg_plain_weight_free(&pw);
    free_packed(&pk);
}

/* ---------------------------------------------------------------- families */

static int is_fzp_family(const qg_family *f) {
    const size_t n = strlen(f->name);
    return n > 4 && strcmp(f->name + n - 4, "_fzp") == 0;
}

/* Every W4A16 variant: the fzp families take kind 2 only, every other one refuses it by name. */
static void test_family_support(void) {
    const char *fzp_ids[] = {"w4a16_gemv_fzp.act2.mt1.warps8.uk4.fzp1",
                             "wo_wgmma_rs_fzp.wbits4.act2.bm128.fzp1",
                             "wo_wgmma_rs_fzp.wbits4.act1.bm64.fzp1", "dequant_wo_fzp.wbits4.fzp1",
                             "wo_dequant_lt_fzp.wbits4.mb16.algo0.fzp1"};
    for (int i = 0; i < 5; i++)
        QT_CHECK(qg_catalog_find(fzp_ids[i]) != NULL, "variant %s missing", fzp_ids[i]);
    /* the plain families keep their ids (the shipped databases name them) */
    QT_CHECK(qg_catalog_find("wo_wgmma_rs.wbits4.act2.bm128") &&
                 qg_catalog_find("dequant_wo.wbits4") &&
                 qg_catalog_find("w4a16_gemv.act2.mt1.warps8.uk4") &&
                 qg_catalog_find("wo_dequant_lt.wbits4.mb16.algo0"),
             "a plain variant id changed");
    int fzp_seen = 0, refused = 0;
    for (int i = 0; i < qg_catalog_count(); i++) {
        const qg_variant *v = qg_catalog_get(i);
        const qg_family *f = v->family;
        if (!(f->scheme_mask & (1u << QG_SCHEME_W4A16)) || f->op == QG_OP_ACT_QUANT) continue;
        const int cc = 90;
        for (int act = 1; act <= 2; act++) {
            const qg_dtype dt = act == 2 ? QG_DTYPE_BF16 : QG_DTYPE_F16;
            const int64_t m = strstr(f->name, "dequant_lt") ? 256
                              : strstr(f->name, "gemv")     ? 8
                                                            : 128;
            qg_problem p = problem(m, 4096, 4096, 128, QG_ZERO_POINT_FLOAT, dt);
            char why[256] = "";
            const int ok2 = f->supports(&p, v->params, cc, why, sizeof why);
            if (is_fzp_family(f)) {
                fzp_seen += ok2;
                p.has_zero_point = QG_ZERO_POINT_INTEGER;
                char why1[256] = "";
                QT_CHECK(!f->supports(&p, v->params, cc, why1, sizeof why1) && strstr(why1, "float"),
                         "%s accepts integer zero points (%s)", v->id, why1);
                p.has_zero_point = QG_ZERO_POINT_NONE;
                QT_CHECK(!f->supports(&p, v->params, cc, why1, sizeof why1), "%s accepts none",
                         v->id);
            } else {
                /* a variant that takes the problem without zero points refuses it with float
                 * ones, naming them */
                qg_problem p0 = p;
                p0.has_zero_point = QG_ZERO_POINT_NONE;
                char why0[256];
                if (!f->supports(&p0, v->params, cc, why0, sizeof why0)) continue;
                refused += !ok2;
                QT_CHECK(!ok2 && strstr(why, "zero point") != NULL,
                         "%s: float zero points accepted or refused without naming them (%s)",
                         v->id, why);
            }
        }
    }
    QT_CHECK(fzp_seen >= 4 + 4 + 1 + 8, "fzp variants accepting their own problems: %d", fzp_seen);
    QT_CHECK(refused > 0, "no plain variant was checked");
}

/* What dispatch picks for float zero points without a database: the register GEMV for decode,
 * dequantize + cuBLASLt for large M (as for integer zero points), never an RS variant (the RS
 * families are experimental: the tuner and explicit ids only). */
static qg_backend_ops ops;
static qg_context ctx;

static void test_heuristic(void) {
    const int64_t ms[] = {1, 16, 64, 1000, 4096};
    const char *want[] = {"w4a16_gemv_fzp", "w4a16_gemv_fzp", "w4a16_gemv_fzp", "wo_dequant_lt_fzp",
                          "wo_dequant_lt_fzp"};
    for (int i = 0; i < 5; i++) {
        const qg_problem p = problem(ms[i], 4096, 4096, 128, QG_ZERO_POINT_FLOAT, QG_DTYPE_BF16);
        const qg_variant *v = NULL;
        QT_OK(qg_dispatch_heuristic(&ctx, &p, QG_OP_GEMM, &v));
        QT_CHECK(v && strncmp(v->id, want[i], strlen(want[i])) == 0 && v->id[strlen(want[i])] == '.',
                 "M=%lld: heuristic picked %s, expected %s", (long long)ms[i],
                 v ? v->id : "nothing", want[i]);
    }
    /* the GPU dequantize op has its fzp kernel too */
    const qg_problem p = problem(1, 4096, 4096, 128, QG_ZERO_POINT_FLOAT, QG_DTYPE_BF16);
    const qg_variant *v = NULL;
    QT_OK(qg_dispatch_heuristic(&ctx, &p, QG_OP_DEQUANT, &v));
    QT_CHECK(v && strcmp(v->id, "dequant_wo_fzp.wbits4.fzp1") == 0, "dequantize picks %s",
             v ? v->id : "nothing");
    /* wo_dequant_lt_fzp runs (and hashes) the fzp dequantize kernel */
    const qg_variant *lt = qg_catalog_find("wo_dequant_lt_fzp.wbits4.mb32.algo1.fzp1");
    const qg_variant *h = lt ? qg_variant_helper(lt) : NULL;
    QT_CHECK(h && strcmp(h->id, "dequant_wo_fzp.wbits4.fzp1") == 0, "helper of %s: %s",
             lt ? lt->id : "?", h ? h->id : "none");
    const qg_variant *lt0 = qg_catalog_find("wo_dequant_lt.wbits4.mb32.algo1");
    const qg_variant *h0 = lt0 ? qg_variant_helper(lt0) : NULL;
    QT_CHECK(h0 && strcmp(h0->id, "dequant_wo.wbits4") == 0, "helper of the plain family: %s",
             h0 ? h0->id : "none");
}

/* The fzp families' launches pass the zero buffer (stub backend: the kernels' first fields are
 * a, w, scale, zero in every weight-only parameter struct). */
static struct {
    const void *ptr[4];
    int calls;
} last;

static qg_status stub_launch(qg_context *c, void *fn, const unsigned grid[3],
                             const unsigned block[3], unsigned smem, void *stream, void **params) {
    (void)c, (void)fn, (void)grid, (void)block, (void)smem, (void)stream;
    memcpy(last.ptr, params[0], sizeof last.ptr);
    last.calls++;
    return QG_SUCCESS;
}

static void test_launch_args(void) {
    const char *ids[] = {"w4a16_gemv_fzp.act2.mt1.warps8.uk4.fzp1",
                         "wo_wgmma_rs_fzp.wbits4.act2.bm128.fzp1"};
    const int64_t ms[] = {8, 256};
    for (int i = 0; i < 2; i++) {
        const qg_variant *v = qg_catalog_find(ids[i]);
        if (!QT_CHECK(v != NULL, "%s missing", ids[i])) continue;
        const qg_problem p = problem(ms[i], 4096, 4096, 128, QG_ZERO_POINT_FLOAT, QG_DTYPE_BF16);
        qg_kernel k = {.variant = v};
        qg_gemm_args g;
        qg_gemm_args_init(&g);
        g.a = (void *)(uintptr_t)0x10000, g.c = (void *)(uintptr_t)0x20000;
        g.w.weight = (void *)(uintptr_t)0x30000, g.w.scale = (void *)(uintptr_t)0x40000;
        g.w.zero = (void *)(uintptr_t)0x50000;
        g.lda = p.k, g.ldc = p.n;
        const size_t need = v->family->workspace(&p, v->params);
        void *ws = need ? calloc(1, need + 16) : NULL;
        g.workspace = ws, g.workspace_bytes = need;
        last.calls = 0;
        QT_OK(v->family->launch(&ctx, &k, &p, &g, v->params, NULL));
        QT_CHECK(last.calls == 1 && last.ptr[3] == g.w.zero && last.ptr[2] == g.w.scale,
                 "%s: zero %p scale %p (calls %d)", ids[i], last.ptr[3], last.ptr[2], last.calls);
        g.w.zero = NULL;
        QT_CHECK(v->family->launch(&ctx, &k, &p, &g, v->params, NULL) != QG_SUCCESS,
                 "%s launched without its zero points", ids[i]);
        free(ws);
    }
}

#ifdef QG_FAKE_CUDA
/* Through the public API on the fake driver (tests/fake_cuda.c) with the real NVRTC: the plan of
 * a float-zero-point problem is its own (never the integer one's kernel for the same shape), the
 * fzp GEMV compiles for sm_90a and launches, and a missing zero buffer is refused. */
static void test_fake_driver(qt_rng *r) {
    setenv("QGEMM_CUDA_LIBRARY", QG_FAKE_CUDA, 1);
    qg_context_params cp;
    qg_context_params_init(&cp);
    cp.backend = QG_BACKEND_CUDA;
    cp.disable_disk_cache = 1;
    cp.tuning_db = ""; /* the heuristic */
    qg_context *c = NULL;
    if (!QT_CHECK(qg_context_create(&c, &cp) == QG_SUCCESS, "fake context: %s", qg_last_error(NULL)))
        return;
    qg_problem p = problem(4, 256, 512, 128, QG_ZERO_POINT_INTEGER, QG_DTYPE_BF16);
    char ei[1024] = "", ef[1024] = "";
    QT_OK(qg_explain(c, &p, ei, sizeof ei));
    p.has_zero_point = QG_ZERO_POINT_FLOAT;
    QT_OK(qg_explain(c, &p, ef, sizeof ef));
    QT_CHECK(strstr(ef, "w4a16_gemv_fzp.") && !strstr(ei, "_fzp"),
             "plans: integer '%s', float '%s'", ei, ef);
    /* the same shape in both kinds, prepared one after the other: two plans */
    qg_problem both[2] = {p, p};
    both[0].has_zero_point = QG_ZERO_POINT_INTEGER;
    QT_OK(qg_prepare(c, both, 2));
    packed pk;
    alloc_packed(&pk, &p);
    float *w = malloc(sizeof(float) * 256 * 512);
    qt_fill_normal(r, w, 256 * 512, 0.05f);
    QT_OK(qg_w4a16_quantize_float_zp(&p, w, 512, &pk.w));
    void *dw = NULL, *ds = NULL, *dz = NULL, *da = NULL, *dc = NULL;
    QT_OK(qg_malloc(c, &dw, pk.sz.weight_bytes));
    QT_OK(qg_malloc(c, &ds, pk.sz.scale_bytes));
    QT_OK(qg_malloc(c, &dz, pk.sz.zero_bytes));
    QT_OK(qg_malloc(c, &da, 4 * 512 * 2));
    QT_OK(qg_malloc(c, &dc, 4 * 256 * 2));
    QT_OK(qg_memcpy_htod(c, dw, pk.w.weight, pk.sz.weight_bytes));
    QT_OK(qg_memcpy_htod(c, ds, pk.w.scale, pk.sz.scale_bytes));
    QT_OK(qg_memcpy_htod(c, dz, pk.w.zero, pk.sz.zero_bytes));
    qg_gemm_args g;
    qg_gemm_args_init(&g);
    g.a = da, g.c = dc, g.lda = 512, g.ldc = 256;
    g.w.weight = dw, g.w.scale = ds, g.w.zero = dz;
    QT_OK(qg_gemm(c, &p, &g, NULL));
    QT_OK(qg_gemm_with_kernel(c, &p, &g, "w4a16_gemv_fzp.act2.mt1.warps4.uk4.fzp1", NULL));
    /* a plain kernel by id is refused for float zero points, naming them */
    QT_STATUS(qg_gemm_with_kernel(c, &p, &g, "w4a16_gemv.act2.mt1.warps4.uk4", NULL),
              QG_ERR_UNSUPPORTED);
    QT_CHECK(strstr(qg_last_error(c), "float zero points") != NULL, "refusal: %s", qg_last_error(c));
    g.w.zero = NULL;
    QT_CHECK(qg_gemm(c, &p, &g, NULL) != QG_SUCCESS, "float zero points without the zero buffer");
    qg_free(c, dw), qg_free(c, ds), qg_free(c, dz), qg_free(c, da), qg_free(c, dc);
    free(w);
    free_packed(&pk);
    qg_context_destroy(c);
}
#endif

int main(void) {
    qt_rng r;
    qt_seed(&r, qt_test_seed());
    ops.name = "stub";
    ops.launch = stub_launch;
    ctx.ops = &ops;
    ctx.info.cc_major = 9, ctx.info.cc_minor = 0, ctx.info.sm_count = 132;
    ctx.info.backend = QG_BACKEND_CUDA;
    ctx.info.smem_optin = 227 * 1024;
    snprintf(ctx.info.arch, sizeof ctx.info.arch, "sm_90a");
    pthread_mutex_init(&ctx.lock, NULL);

    test_rounding_rule(&r);
    const int gss[] = {32, 64, 128, 0};
    for (int gi = 0; gi < 4; gi++) {
        test_unpack_and_reference(&r, 3, 72, 256, gss[gi], QG_DTYPE_BF16);
        test_unpack_and_reference(&r, 2, 130, 128, gss[gi], QG_DTYPE_F16);
    }
    test_unpack_and_reference(&r, 1, 64, 40, 0, QG_DTYPE_BF16); /* K off the chunk grid */
    test_mslk_quantizer(&r);
    test_problem_checks();
    test_family_support();
    test_heuristic();
    test_launch_args();
#ifdef QG_FAKE_CUDA
    test_fake_driver(&r);
#endif
    return qt_finish("test_w4a16_fzp");
}
