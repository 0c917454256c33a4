/* Runs the weight-only kernels (emulated) through the real family launch code and compares with
 * qg_reference_gemm / qg_dequantize_weight_host. */
extern "C" {
#include "internal.h"
#include "backend.h"
#include "catalog.h"
#include "jit.h"
#include "schemes.h"
#include "scheme_w4a16.h"
#include "tensormap.h"
}
#include "emu_rt.h"
#include "emu_tma.h"
#include "emu_wgmma.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <string>
#include <vector>
#include "decls.inc"
struct reg_t {
    const char *id;
    emu_entry_fn fn;
};
static const reg_t registry[] = {
#include "registry.inc"
};
static emu_entry_fn find_fn(const char *id) {
    for (auto &r : registry)
        if (!strcmp(r.id, id)) return r.fn;
    return NULL;
}
int emu_wgmma_selftest(); /* emu_wgmma_selftest.cpp */
static int launches;
static qg_status emu_launch(qg_context *, void *fn, const unsigned grid[3], const unsigned block[3],
                            unsigned smem, void *, void **params) {
    if (smem > 232448 || block[0] > 1024 || block[1] != 1) return QG_ERR_LAUNCH;
    launches++;
    emu_run((emu_entry_fn)fn, params, {grid[0], grid[1], grid[2]}, block[0]);
    return QG_SUCCESS;
}
/* The backend's tensor_map_encode: the library's own rules and driver arguments
 * (qg_tmap_2d_valid, qg_tmap_2d_encode_args: what cuda_tensormap.c hands
 * cuTensorMapEncodeTiled), recorded in the map for the TMA model of emu_tma.cpp. */
static qg_status emu_tmap_encode(qg_context *, qg_tensor_map *map, const qg_tmap_2d *d) {
    char why[160];
    if (!qg_tmap_2d_valid(d, why, sizeof why)) {
        fprintf(stderr, "EMU: tensor map refused: %s\n", why);
        return QG_ERR_INVALID_ARGUMENT;
    }
    qg_tmap_encode_args a;
    qg_tmap_2d_encode_args(d, &a);
    emu_tmap t = {};
    t.magic = EMU_TMAP_MAGIC;
    t.base = (const uint8_t *)a.global_address;
    t.dim[0] = a.global_dim[0], t.dim[1] = a.global_dim[1];
    t.row_stride = a.global_strides[0];
    t.box[0] = a.box_dim[0], t.box[1] = a.box_dim[1];
    t.elem_strides[0] = a.element_strides[0], t.elem_strides[1] = a.element_strides[1];
    t.data_type = a.data_type, t.interleave = a.interleave, t.swizzle = a.swizzle;
    t.oob_fill = a.oob_fill;
    static_assert(sizeof t <= sizeof *map, "the record fits in a map");
    memset(map, 0, sizeof *map);
    memcpy(map, &t, sizeof t);
    return QG_SUCCESS;
}
static int passed, failed;
#define CHECK(c, ...)                              \
    do {                                           \
        if (c) passed++;                           \
        else {                                     \
            failed++;                              \
            fprintf(stderr, "FAIL: " __VA_ARGS__); \
            fprintf(stderr, "\n");                 \
        }                                          \
    } while (0)

static uint64_t rs = 88172645463325252ull;
static double urand() {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (rs >> 11) * (1.0 / 9007199254740992.0) * 2 - 1;
}
static double h2d(qg_dtype t, uint16_t v) {
    return t == QG_DTYPE_F16 ? qg_f16_to_f32(v) : qg_bf16_to_f32(v);
}
static uint16_t d2h(qg_dtype t, float v) {
    return t == QG_DTYPE_F16 ? qg_f32_to_f16(v) : qg_f32_to_bf16(v);
}
static double unit(qg_dtype t) { return t == QG_DTYPE_F16 ? ldexp(1, -11) : ldexp(1, -9); }

struct pcase {
    qg_scheme s;
    int64_t m, n, k;
    int gs, zp;
    qg_dtype act, out;
    int bias, edge;
    const char *fam; /* NULL: all */
};

/* The emulated kernel of variant v; false (and a failure counted) when there is none. */
static bool emu_kernel(const qg_variant *v, qg_kernel *k) {
    *k = {};
    k->variant = v;
    k->fn = (void *)find_fn(v->id);
    CHECK(k->fn, "no emulation for %s", v->id);
    return k->fn != NULL;
}

/* C (M rows of ldc, the output dtype) against the float64 reference: every element within 2
 * units of the output dtype of |want| plus rms_coef times its row's RMS, the relative error at
 * most rel_tol, padding columns untouched (0xffff), nothing non-finite. */
static void check_c(const char *tag, const char *id, const qg_problem &p, const uint16_t *cc,
                    int64_t ldc, const double *ref, double rms_coef, double rel_tol) {
    int64_t nonfin = 0, pad = 0, bad = 0;
    double num = 0, den = 0, worst = 0;
    for (int64_t r = 0; r < p.m; r++) {
        double ss = 0;
        for (int64_t j = 0; j < p.n; j++) ss += ref[r * p.n + j] * ref[r * p.n + j];
        const double rms = sqrt(ss / p.n);
        for (int64_t j = 0; j < ldc; j++) {
            const uint16_t v16 = cc[r * ldc + j];
            if (j >= p.n) {
                pad += v16 != 0xffff;
                continue;
            }
            const double got = h2d(p.out_dtype, v16), want = ref[r * p.n + j];
            if (!isfinite(got)) {
                nonfin++;
                continue;
            }
            const double d = fabs(got - want),
                         lim = 2 * unit(p.out_dtype) * fabs(want) + rms_coef * rms + 1e-30;
            num += d * d;
            den += want * want;
            if (d / lim > worst) worst = d / lim;
            if (!(d <= lim) && bad++ < 3)
                fprintf(stderr, "  %s (%lld,%lld) got %g want %g\n", id, (long long)r, (long long)j,
                        got, want);
        }
    }
    const double rel = sqrt(num / (den + 1e-300));
    CHECK(nonfin == 0 && pad == 0 && bad == 0 && rel <= rel_tol,
          "%s: nonfinite %lld pad %lld bad %lld rel %.3g worst %.2f", tag, (long long)nonfin,
          (long long)pad, (long long)bad, rel, worst);
    printf("%-95s rel %.2e worst %.2f\n", tag, rel, worst);
}
static void run_case(qg_context *ctx, const pcase &c, const char *only) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = c.s;
    p.m = c.m;
    p.n = c.n;
    p.k = c.k;
    p.group_size = c.gs;
    p.has_zero_point = c.zp;
    p.act_dtype = c.act;
    p.out_dtype = c.out;
    p.has_bias = c.bias;
    qg_packed_sizes sz;
    if (qg_packed_sizes_get(&p, &sz)) {
        printf("sizes: %s\n", qg_last_error(NULL));
        return;
    }
    qg_packed_weight w = {aligned_alloc(64, sz.weight_bytes + 64),
                          aligned_alloc(64, sz.scale_bytes + 64),
                          sz.zero_bytes ? aligned_alloc(64, sz.zero_bytes + 64) : NULL, NULL};
    float *wf = (float *)malloc(sizeof(float) * p.n * p.k);
    for (int64_t i = 0; i < p.n * p.k; i++)
        wf[i] = (float)(urand() * ldexp(1, (int)((i / p.k) % 5) - 3));
    /* float zero points (kind 2): mslk's quantizer, as torchao's checkpoints have them */
    if (c.zp == QG_ZERO_POINT_FLOAT ? qg_w4a16_quantize_float_zp(&p, wf, p.k, &w)
                                    : qg_quantize_weight(&p, wf, p.k, &w)) {
        printf("quantize: %s\n", qg_last_error(NULL));
        return;
    }
    const int64_t lda = c.edge ? p.k + 8 : p.k, ldc = c.edge ? p.n + 3 : p.n;
    uint16_t *a = (uint16_t *)aligned_alloc(64, sizeof(uint16_t) * p.m * lda + 64);
    for (int64_t i = 0; i < p.m; i++)
        for (int64_t j = 0; j < lda; j++)
            a[i * lda + j] = j < p.k ? d2h(p.act_dtype, (float)(urand() * ldexp(1, (int)(i % 3))))
                                     : 0xffff;
    uint16_t *ac = (uint16_t *)malloc(sizeof(uint16_t) * p.m * p.k);
    for (int64_t i = 0; i < p.m; i++) memcpy(ac + i * p.k, a + i * lda, 2 * p.k);
    uint16_t *bias = (uint16_t *)aligned_alloc(64, 2 * p.n + 64);
    for (int64_t j = 0; j < p.n; j++) bias[j] = d2h(p.out_dtype, (float)urand());
    double *ref = (double *)malloc(sizeof(double) * p.m * p.n);
    if (qg_reference_gemm(&p, ac, NULL, &w, bias, ref)) {
        printf("ref: %s\n", qg_last_error(NULL));
        return;
    }
    const size_t cb = sizeof(uint16_t) * p.m * ldc;
    uint16_t *cc = (uint16_t *)aligned_alloc(64, cb + 64), *c1 = (uint16_t *)malloc(cb);
    const int ccap = 90;
    for (int i = 0; i < qg_catalog_count(); i++) {
        const qg_variant *v = qg_catalog_get(i);
        const qg_family *f = v->family;
        if (f->op != QG_OP_GEMM || f->hip || !(f->scheme_mask & (1u << p.scheme))) continue;
        if (only && !strstr(v->id, only)) continue;
        if (c.fam && strncmp(v->id, c.fam, strlen(c.fam)) != 0) continue;
        /* dequantize + cuBLASLt: no emulated cuBLASLt; gpu_weight_only covers it on the GPU */
        if (!strncmp(v->id, "wo_dequant_lt", 13)) continue;
        /* CUTLASS-built kernels (kernels/cutlass): C++ templates over PTX the emulator does not
         * model (TMA, clusters); gpu_cutlass covers them on the GPU */
        if (!strncmp(v->id, "w4a16_cutlass.", 14)) continue;
        char why[256] = "";
        if (!f->supports(&p, v->params, ccap, why, sizeof why)) continue;
        qg_kernel k;
        if (!emu_kernel(v, &k)) continue;
        const size_t ws = f->workspace ? f->workspace(&p, v->params) : 0;
        void *dws = ws ? calloc(1, ws) : NULL;
        qg_gemm_args g;
        qg_gemm_args_init(&g);
        g.a = a;
        g.w = w;
        g.bias = c.bias ? bias : NULL;
        g.c = cc;
        g.lda = lda;
        g.ldc = ldc;
        g.workspace = dws;
        g.workspace_bytes = ws;
        char tag[300];
        snprintf(tag, sizeof tag, "%s M=%lld N=%lld K=%lld g%d zp%d %s->%s bias%d edge%d", v->id,
                 (long long)p.m, (long long)p.n, (long long)p.k, c.gs, c.zp, qg_dtype_name(c.act),
                 qg_dtype_name(c.out), c.bias, c.edge);
        for (int rep = 0; rep < 2; rep++) {
            memset(cc, 0xff, cb);
            const int errs0 = emu_wgmma_errors;
            const qg_status st = f->launch(ctx, &k, &p, &g, v->params, NULL);
            CHECK(emu_wgmma_errors == errs0, "%s: %d errors in the use of mbarrier/wgmma (above)",
                  tag, emu_wgmma_errors - errs0);
            if (st) {
                CHECK(0, "%s: launch %s: %s", tag, qg_status_name(st), qg_last_error(ctx));
                break;
            }
            if (rep == 1) {
                CHECK(!memcmp(c1, cc, cb), "%s: second run differs", tag);
                break;
            }
            memcpy(c1, cc, cb);
            const double tol = (p.out_dtype == QG_DTYPE_F16 && p.act_dtype == QG_DTYPE_F16) ? 2e-3
                                                                                            : 1e-2;
            check_c(tag, v->id, p, cc, ldc, ref, 8 * unit(p.act_dtype), tol);
        }
        if (ws) { /* the whole workspace back to zero: every kernel of a context shares it, and a
                     * later problem's counters may sit where this one kept its partials */
            size_t dirty = 0;
            for (size_t b = 0; b < ws; b++) dirty += ((unsigned char *)dws)[b] != 0;
            CHECK(dirty == 0, "%s: %zu workspace bytes left non-zero", tag, dirty);
        }
        free(dws);
    }
    /* dequant */
    for (int i = 0; i < qg_catalog_count(); i++) {
        const qg_variant *v = qg_catalog_get(i);
        const qg_family *f = v->family;
        char why[256];
        if (f->op != QG_OP_DEQUANT || f->hip || !(f->scheme_mask & (1u << p.scheme)) ||
            !f->supports(&p, v->params, ccap, why, 256))
            continue;
        if (only && !strstr(v->id, only)) continue;
        qg_kernel k = {};
        k.variant = v;
        k.fn = (void *)find_fn(v->id);
        float *deq = (float *)malloc(sizeof(float) * p.n * p.k);
        qg_dequantize_weight_host(&p, &w, deq, p.k);
        uint16_t *out = (uint16_t *)aligned_alloc(64, 2 * p.n * p.k + 64);
        for (int od = 0; od < 2; od++) {
            const qg_dtype odt = od ? QG_DTYPE_F16 : QG_DTYPE_BF16;
            memset(out, 0xff, 2 * p.n * p.k);
            qg_dequant_args da = {&w, out, odt};
            const qg_status st = f->launch(ctx, &k, &p, &da, v->params, NULL);
            int64_t bad = 0;
            for (int64_t e = 0; e < p.n * p.k; e++) bad += out[e] != d2h(odt, deq[e]);
            CHECK(st == 0 && bad == 0, "%s N=%lld K=%lld -> %s: %lld differ", v->id, (long long)p.n,
                  (long long)p.k, qg_dtype_name(odt), (long long)bad);
        }
        free(out);
        free(deq);
    }
    free(wf);
    free(a);
    free(ac);
    free(bias);
    free(ref);
    free(cc);
    free(c1);
    free(w.weight);
    free(w.scale);
    free(w.zero);
}

/* Dynamic-activation schemes (W4A8_FP8 for now): e4m3 activations quantized on the host, padded
 * rows poisoned with e4m3 NaN (0xff), per-token or per-tensor scales; the variants of family
 * prefix `fam` against qg_reference_gemm (float64 on the same quantized bytes). */
struct rs8case {
    qg_scheme s;
    int64_t m, n, k;
    qg_scale_granularity as;
    qg_dtype out;
    int bias, edge;
    const char *fam;
};

static void run_rs8_case(qg_context *ctx, const rs8case &c, const char *only) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = c.s, p.m = c.m, p.n = c.n, p.k = c.k, p.group_size = 128;
    p.act_scale = c.as, p.out_dtype = c.out, p.has_bias = c.bias;
    qg_packed_sizes sz;
    if (qg_packed_sizes_get(&p, &sz)) {
        CHECK(0, "sizes: %s", qg_last_error(NULL));
        return;
    }
    qg_packed_weight w = {aligned_alloc(64, sz.weight_bytes + 64),
                          aligned_alloc(64, sz.scale_bytes + 64), NULL, NULL};
    std::vector<float> wf((size_t)(p.n * p.k));
    for (int64_t i = 0; i < p.n * p.k; i++)
        wf[(size_t)i] = (float)(urand() * ldexp(1, (int)((i / p.k) % 5) - 3));
    std::vector<uint16_t> a16((size_t)(p.m * p.k));
    for (int64_t i = 0; i < p.m * p.k; i++)
        a16[(size_t)i] = qg_f32_to_bf16((float)(urand() * ldexp(1, (int)((i / p.k) % 3))));
    std::vector<uint8_t> q((size_t)(p.m * p.k));
    std::vector<float> as((size_t)p.m);
    if (qg_quantize_weight(&p, wf.data(), p.k, &w) ||
        qg_quantize_activations_host(&p, a16.data(), q.data(), as.data())) {
        CHECK(0, "quantize: %s", qg_last_error(NULL));
        return;
    }
    const int64_t lda = c.edge ? p.k + 16 : p.k, ldc = c.edge ? p.n + 3 : p.n;
    uint8_t *a = (uint8_t *)aligned_alloc(64, (size_t)(p.m * lda) + 64);
    memset(a, 0xff, (size_t)(p.m * lda)); /* e4m3 NaN past K */
    for (int64_t i = 0; i < p.m; i++) memcpy(a + i * lda, &q[(size_t)(i * p.k)], (size_t)p.k);
    std::vector<uint16_t> bias((size_t)p.n);
    for (auto &b : bias) b = d2h(p.out_dtype, (float)urand());
    std::vector<double> ref((size_t)(p.m * p.n));
    if (qg_reference_gemm(&p, q.data(), as.data(), &w, bias.data(), ref.data())) {
        CHECK(0, "ref: %s", qg_last_error(NULL));
        return;
    }
    const size_t cb = sizeof(uint16_t) * (size_t)(p.m * ldc);
    uint16_t *cc = (uint16_t *)aligned_alloc(64, cb + 64);
    std::vector<uint16_t> c1(cb / 2);
    for (int i = 0; i < qg_catalog_count(); i++) {
        const qg_variant *v = qg_catalog_get(i);
        const qg_family *f = v->family;
        char why[256] = "";
        if (f->op != QG_OP_GEMM || f->hip || !(f->scheme_mask & (1u << p.scheme))) continue;
        if (strncmp(v->id, c.fam, strlen(c.fam)) != 0 || (only && !strstr(v->id, only))) continue;
        if (!f->supports(&p, v->params, 90, why, sizeof why)) {
            CHECK(0, "%s does not support the case: %s", v->id, why);
            continue;
        }
        emu_entry_fn fn = find_fn(v->id);
        if (!fn) {
            CHECK(0, "no emulation for %s", v->id);
            continue;
        }
        qg_kernel k = {};
        k.variant = v;
        k.fn = (void *)fn;
        const size_t ws = f->workspace ? f->workspace(&p, v->params) : 0;
        void *dws = ws ? calloc(1, ws) : NULL;
        qg_gemm_args g;
        qg_gemm_args_init(&g);
        g.a = a, g.a_scale = as.data(), g.w = w, g.bias = c.bias ? bias.data() : NULL, g.c = cc;
        g.lda = lda, g.ldc = ldc, g.workspace = dws, g.workspace_bytes = ws;
        char tag[300];
        snprintf(tag, sizeof tag, "%s M=%lld N=%lld K=%lld a-scale per %s ->%s bias%d edge%d",
                 v->id, (long long)p.m, (long long)p.n, (long long)p.k,
                 c.as == QG_SCALE_PER_TENSOR ? "tensor" : "token", qg_dtype_name(c.out), c.bias,
                 c.edge);
        for (int rep = 0; rep < 2; rep++) {
            memset(cc, 0xff, cb);
            const int errs0 = emu_wgmma_errors;
            const qg_status st = f->launch(ctx, &k, &p, &g, v->params, NULL);
            CHECK(emu_wgmma_errors == errs0, "%s: %d errors in the use of mbarrier/wgmma (above)",
                  tag, emu_wgmma_errors - errs0);
            if (st) {
                CHECK(0, "%s: launch %s: %s", tag, qg_status_name(st), qg_last_error(ctx));
                break;
            }
            if (rep == 1) {
                CHECK(!memcmp(c1.data(), cc, cb), "%s: second run differs", tag);
                break;
            }
            memcpy(c1.data(), cc, cb);
            int64_t nonfin = 0, pad = 0, bad = 0;
            double num = 0, den = 0, worst = 0;
            for (int64_t r = 0; r < p.m; r++) {
                double ss = 0;
                for (int64_t j = 0; j < p.n; j++)
                    ss += ref[(size_t)(r * p.n + j)] * ref[(size_t)(r * p.n + j)];
                const double rms = sqrt(ss / p.n);
                for (int64_t j = 0; j < ldc; j++) {
                    const uint16_t v16 = cc[r * ldc + j];
                    if (j >= p.n) {
                        pad += v16 != 0xffff;
                        continue;
                    }
                    const double got = h2d(p.out_dtype, v16), want = ref[(size_t)(r * p.n + j)];
                    if (!isfinite(got)) {
                        nonfin++;
                        continue;
                    }
                    /* one output rounding, and f32 sums of exact fp8 products */
                    const double d = fabs(got - want),
                                 lim = 2 * unit(p.out_dtype) * fabs(want) + 1e-4 * rms + 1e-30;
                    num += d * d, den += want * want;
                    if (d / lim > worst) worst = d / lim;
                    if (!(d <= lim) && bad++ < 3)
                        fprintf(stderr, "  %s (%lld,%lld) got %g want %g\n", v->id, (long long)r,
                                (long long)j, got, want);
                }
            }
            const double rel = sqrt(num / (den + 1e-300));
            CHECK(nonfin == 0 && pad == 0 && bad == 0 && rel <= 1e-2,
                  "%s: nonfinite %lld pad %lld bad %lld rel %.3g worst %.2f", tag,
                  (long long)nonfin, (long long)pad, (long long)bad, rel, worst);
            printf("%-95s rel %.2e worst %.2f\n", tag, rel, worst);
        }
        if (ws) {
            size_t dirty = 0;
            for (size_t b = 0; b < ws; b++) dirty += ((unsigned char *)dws)[b] != 0;
            CHECK(dirty == 0, "%s: %zu workspace bytes left non-zero", tag, dirty);
        }
        free(dws);
    }
    free(a);
    free(cc);
    free(w.weight);
    free(w.scale);
}

#include "harness_dyn.cpp" /* the W8A8 / W4A8 mma.sync families */
int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL;
    static qg_backend_ops ops = {};
    ops.name = "emu";
    ops.launch = emu_launch;
    ops.tensor_map_encode = emu_tmap_encode;
    static qg_context ctx = {};
    ctx.ops = &ops;
    ctx.info.cc_major = 9;
    ctx.info.cc_minor = 0;
    ctx.info.sm_count = 8;
    ctx.info.smem_optin = 227 * 1024;
    snprintf(ctx.info.arch, sizeof ctx.info.arch, "sm_90a");
    pthread_mutex_init(&ctx.lock, NULL);
    const qg_dtype BF = QG_DTYPE_BF16, F16 = QG_DTYPE_F16;
    const qg_scheme W4 = QG_SCHEME_W4A16, W8 = QG_SCHEME_W8A16;
    const pcase cases[] = {
        {W4, 1, 256, 256, 128, 0, BF, BF, 0, 0},
        {W4, 1, 256, 256, 128, 0, F16, F16, 0, 0},
        {W4, 3, 320, 256, 32, 1, F16, BF, 1, 0},
        {W4, 3, 320, 256, 32, 1, BF, BF, 1, 0},
        {W4, 17, 72, 96, 32, 1, BF, F16, 1, 0},
        {W4, 70, 130, 328, 0, 0, F16, F16, 1, 0},
        {W4, 5, 200, 1024, 64, 1, BF, BF, 0, 1},
        {W4, 33, 128, 512, 128, 1, BF, BF, 1, 1},
        {W4, 130, 64, 128, 0, 1, F16, BF, 0, 1},
        /* larger M for the wgmma family (128-row tiles): partial row/column tiles, split-K
         * (K = 1024 on 8 emulated SMs), a last k tile of 32 (K = 1056), per channel with K % 32,
         * and one grid that fills the 8 SMs (no split-K, the rings wrap four times) */
        {W4, 200, 320, 512, 128, 0, BF, BF, 1, 0, "w4a16_wgmma"},
        {W4, 150, 192, 1024, 32, 1, F16, F16, 0, 1, "w4a16_wgmma"},
        {W4, 257, 136, 1056, 32, 0, BF, F16, 1, 0, "w4a16_wgmma"},
        {W4, 140, 256, 200, 0, 1, F16, BF, 1, 1, "w4a16_wgmma"},
        {W4, 512, 512, 1024, 64, 1, BF, BF, 1, 0, "w4a16_wgmma"}, /* no split: 16 k tiles, rings wrap */
        /* the RS family (wo_wgmma_rs: bm tokens x 128 weight rows per CTA): 7 split-K slices
         * (K = 1792, one tile: the reduction's 4-slice steps and its remainder), an odd k-tile
         * count per slice (K = 1056: the two-tile loop's tail) with padded lda / odd ldc, a grid
         * that fills the 8 SMs (the stage ring wraps), W8A16 with 4 slices and bias */
        {W4, 64, 128, 1792, 64, 1, BF, BF, 1, 0, "wo_wgmma_rs"},
        {W4, 200, 136, 1056, 32, 1, F16, F16, 1, 1, "wo_wgmma_rs"},
        {W4, 256, 512, 1024, 128, 0, BF, F16, 0, 0, "wo_wgmma_rs"},
        {W8, 100, 256, 2048, 0, 0, F16, F16, 1, 1, "wo_wgmma_rs"},
        /* float zero points (kind 2: (u - 8) * s + z in one fma): the RS and GEMV fzp families
         * (and dequant_wo_fzp, run on every W4A16 case's weight) on split-K, odd tails, per
         * channel, f16 and bf16 */
        {W4, 64, 128, 1792, 64, 2, BF, BF, 1, 0, "wo_wgmma_rs_fzp"},
        {W4, 200, 136, 1056, 32, 2, F16, F16, 1, 1, "wo_wgmma_rs_fzp"},
        {W4, 130, 192, 512, 0, 2, BF, F16, 0, 0, "wo_wgmma_rs_fzp"},
        {W4, 1, 256, 4096, 128, 2, BF, BF, 0, 0, "w4a16_gemv_fzp"},
        {W4, 8, 72, 1056, 32, 2, F16, F16, 1, 1, "w4a16_gemv_fzp"},
        {W4, 40, 130, 2048, 64, 2, BF, F16, 1, 0, "w4a16_gemv_fzp"},
        {W4, 3, 200, 4104, 0, 2, F16, BF, 0, 0, "w4a16_gemv_fzp"},
        {W8, 130, 192, 1056, 0, 0, BF, BF, 0, 0, "wo_wgmma_rs"},
        /* the RS kernel with its wgmmas pipelined across k tiles (wo_wgmma_rs_pipe): one k tile
         * per slice (K = 1792 in 7 slices: the prologue's decode, then no next tile), an odd
         * tile count, the ring wrapping twice (16 tiles on 7 stages), W8A16, float zero points */
        {W4, 64, 128, 1792, 64, 1, BF, BF, 1, 0, "wo_wgmma_rs_pipe"},
        {W4, 200, 136, 1056, 32, 1, F16, F16, 1, 1, "wo_wgmma_rs_pipe"},
        {W4, 256, 512, 1024, 128, 0, BF, F16, 0, 0, "wo_wgmma_rs_pipe"},
        {W8, 100, 256, 2048, 0, 0, F16, F16, 1, 1, "wo_wgmma_rs_pipe"},
        {W8, 256, 512, 1024, 0, 0, BF, BF, 0, 0, "wo_wgmma_rs_pipe"},
        {W4, 200, 136, 1056, 32, 2, F16, F16, 1, 1, "wo_wgmma_rs_pipe"},
        {W4, 130, 192, 512, 0, 2, BF, F16, 0, 0, "wo_wgmma_rs_pipe"},
        /* bm 256: a grid that fills the 8 SMs with 8 tiles, the 5-stage ring wrapping (16 k tiles),
         * M off the 256 grid with bias */
        {W4, 512, 1024, 1024, 64, 1, BF, BF, 0, 0, "wo_wgmma_rs_pipe"},
        {W4, 300, 256, 1088, 64, 1, F16, BF, 1, 1, "wo_wgmma_rs_pipe"},
        /* the W4A16 decode GEMV (M <= 64 in blocks of 8 mt rows): split-K over 8 emulated SMs (K = 4096), a last
         * partial chunk (per channel, K = 4104), groups of 32/64 inside a unit (shuffled scales),
         * a unit past the last chunk (K = 96, 1056), N off the slab grid, M = 9 and 16 (two
         * token tiles), padded lda / odd ldc */
        {W4, 1, 256, 4096, 128, 0, BF, BF, 0, 0, "w4a16_gemv"},
        {W4, 3, 200, 4104, 0, 1, F16, BF, 1, 0, "w4a16_gemv"},
        {W4, 8, 72, 1056, 32, 1, BF, F16, 1, 1, "w4a16_gemv"},
        {W4, 16, 130, 512, 64, 0, F16, F16, 1, 1, "w4a16_gemv"},
        {W4, 16, 64, 4096, 0, 1, BF, BF, 0, 0, "w4a16_gemv"},
        {W4, 5, 320, 2048, 128, 1, F16, F16, 0, 0, "w4a16_gemv"},
        {W4, 9, 100, 256, 32, 0, BF, BF, 1, 0, "w4a16_gemv"},
        {W4, 1, 64, 96, 32, 1, F16, F16, 1, 0, "w4a16_gemv"},
        {W4, 2, 136, 1024, 64, 1, BF, BF, 1, 1, "w4a16_gemv"},
        /* token blocks: M > 8 mt (17 = two mt2 blocks + 1 row, 64 = the largest) */
        {W4, 17, 192, 2048, 128, 1, BF, BF, 1, 0, "w4a16_gemv"},
        {W4, 40, 72, 1056, 32, 0, F16, F16, 0, 1, "w4a16_gemv"},
        {W4, 64, 128, 4096, 0, 1, BF, F16, 1, 0, "w4a16_gemv"},
        /* the W8A16 decode GEMV: the same kernel with int8 slabs (two loads per k16 step) and the
         * per-channel scale on the sums; split-K (K = 4096, 2048), a last partial chunk
         * (K = 4104), a unit past the last chunk (K = 96, 1056), N off the slab grid, M = 1, 3, 5,
         * 8, 9, 16, bias, padded lda / odd ldc */
        {W8, 1, 256, 4096, 0, 0, BF, BF, 0, 0, "w8a16_gemv"},
        {W8, 3, 200, 4104, 0, 0, F16, BF, 1, 0, "w8a16_gemv"},
        {W8, 8, 72, 1056, 0, 0, BF, F16, 1, 1, "w8a16_gemv"},
        {W8, 16, 130, 512, 0, 0, F16, F16, 1, 1, "w8a16_gemv"},
        {W8, 16, 64, 4096, 0, 0, BF, BF, 0, 0, "w8a16_gemv"},
        {W8, 5, 320, 2048, 0, 0, F16, F16, 0, 0, "w8a16_gemv"},
        {W8, 9, 100, 256, 0, 0, BF, BF, 1, 0, "w8a16_gemv"},
        {W8, 1, 64, 96, 0, 0, F16, F16, 1, 0, "w8a16_gemv"},
        {W8, 33, 200, 2048, 0, 0, BF, BF, 1, 1, "w8a16_gemv"},
        {W8, 64, 64, 4096, 0, 0, F16, BF, 0, 0, "w8a16_gemv"},
        {W8, 1, 256, 256, 0, 0, BF, BF, 0, 0},
        {W8, 3, 72, 96, 0, 0, F16, BF, 1, 0},
        {W8, 70, 130, 200, 0, 0, BF, F16, 1, 1},
        {W8, 20, 64, 64, 0, 0, F16, F16, 0, 0},
    };
    CHECK(emu_wgmma_selftest() == 0, "the wgmma engine's self-test (above)");
    for (auto &c : cases) run_case(&ctx, c, only);
    const qg_scheme W4F8 = QG_SCHEME_W4A8_FP8;
    const qg_scale_granularity TOK = QG_SCALE_PER_ROW, TEN = QG_SCALE_PER_TENSOR;
    const rs8case rs8_cases[] = {
        /* the W4A8_FP8 RS family (bm tokens x 128 weight rows, k tiles of 128 = one group) on 8
         * emulated SMs: split-K into 2 slices of 4 tiles (one output tile, K = 1024); M and N
         * off the tile grid with padded lda / odd ldc and bias (a partial row tile, a weight
         * slab cut at N = 200); per-tensor scales with f16 out (K = 384: 3 tiles, the bm64
         * loop's odd tail); 3 slices with N = 66 (the reduction's unaligned path, an odd ldc);
         * and grids that fill the 8 SMs (no split: the 8-stage ring wraps twice at K = 2048) */
        {W4F8, 64, 128, 1024, TOK, BF, 1, 0, "w4a8_fp8_wgmma_rs"},
        {W4F8, 77, 200, 512, TOK, BF, 1, 1, "w4a8_fp8_wgmma_rs"},
        {W4F8, 130, 136, 384, TEN, F16, 0, 1, "w4a8_fp8_wgmma_rs"},
        {W4F8, 100, 66, 1536, TOK, F16, 1, 1, "w4a8_fp8_wgmma_rs"},
        {W4F8, 256, 512, 2048, TOK, BF, 0, 0, "w4a8_fp8_wgmma_rs"},
    };
    for (auto &c : rs8_cases) run_rs8_case(&ctx, c, only);
    run_dyn_cases(&ctx, only);
    printf("emu: %d passed, %d failed, %d launches\n", passed, failed, launches);
    return failed != 0;
}
