/*
 * The CUTLASS-built W4A16 family on the GPU (w4a16_cutlass: kernels/cutlass/w4a16_sm90_mixed.cu,
 * Params from the device probe, src/runtime/cutlass_probe.c): every variant against a float64 reference
 * (qg_reference_gemm on the packed weight) on random symmetric int4 weights with group 128, 64
 * and per channel, M = 1 .. 256 (not multiples of 8 or of the tile), N not a multiple of the
 * 128-row tile, padded lda / ldc. Outputs are poisoned (0xff = NaN): every element must be
 * finite, padding untouched. Per element |out - ref| <= 2 u_bf16 |ref| + 2^-8 sum_k |a w| (the
 * dequantized weight s*q rounded to bf16 before the bf16 wgmma) + 1e-5 rms(ref); rel L2 <= 1e-2.
 * Also: the caller's workspace is zero again afterwards; a second call with other buffers of
 * the same problem (the bound-Params cache) is right; zero points, f16 and ldc % 8 != 0 are
 * refused with QG_ERR_UNSUPPORTED and C untouched. Skips (exit 0, saying why) without an sm_90
 * GPU or without the CUTLASS headers (QGEMM_CUTLASS_INCLUDE).
 */
#include "gpu_common.h"

#include "catalog.h"
#include "cutlass_jit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t m, n, k, lda, ldc;
    int group;
} shape;

static qg_problem problem_of(const shape *s) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = QG_SCHEME_W4A16;
    p.m = s->m, p.n = s->n, p.k = s->k;
    p.group_size = s->group;
    p.has_zero_point = 0;
    p.act_dtype = p.out_dtype = QG_DTYPE_BF16;
    return p;
}

static int runs;

static void run_case(qg_context *ctx, const shape *s, qt_rng *r) {
    qg_problem p = problem_of(s);
    const int64_t m = s->m, n = s->n, k = s->k, lda = s->lda, ldc = s->ldc;
    char tag[160];
    snprintf(tag, sizeof tag, "M=%lld N=%lld K=%lld g%d lda=%lld ldc=%lld", (long long)m,
             (long long)n, (long long)k, s->group, (long long)lda, (long long)ldc);

    float *wf = malloc(sizeof(float) * (size_t)(n * k));
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++)
            wf[i * k + j] = ldexpf(qt_uniform(r, -1.f, 1.f), (int)(i % 5) - 3);
    qg_packed_sizes sz;
    QT_OK(qg_packed_sizes_get(&p, &sz));
    qg_packed_weight hw = {malloc(sz.weight_bytes), malloc(sz.scale_bytes), NULL, NULL};
    QT_OK(qg_quantize_weight(&p, wf, k, &hw));
    float *deq = malloc(sizeof(float) * (size_t)(n * k));
    QT_OK(qg_dequantize_weight_host(&p, &hw, deq, k));

    uint16_t *a = malloc(sizeof(uint16_t) * (size_t)(m * lda));
    for (int64_t i = 0; i < m * lda; i++)
        a[i] = (i % lda) < k ? qg_f32_to_bf16(qt_uniform(r, -1.f, 1.f)) : 0xffffu; /* NaN pad */
    uint16_t *ap = malloc(sizeof(uint16_t) * (size_t)(m * k)); /* packed rows for the reference */
    for (int64_t i = 0; i < m; i++) memcpy(ap + i * k, a + i * lda, sizeof(uint16_t) * (size_t)k);
    double *ref = malloc(sizeof(double) * (size_t)(m * n));
    QT_OK(qg_reference_gemm(&p, ap, NULL, &hw, NULL, ref));

    qg_packed_weight dw = gt_upload_packed(ctx, &p, &hw);
    void *da = gt_upload(ctx, a, sizeof(uint16_t) * (size_t)(m * lda));
    const size_t cbytes = sizeof(uint16_t) * (size_t)(m * ldc);
    void *dc = gt_alloc_poison(ctx, cbytes);
    uint16_t *hc = malloc(cbytes);
    const qg_variant *any = qg_catalog_find("w4a16_cutlass.tn128");
    const size_t wsb = any->family->workspace(&p, any->params);
    void *zeros = calloc(1, wsb);
    void *dws = gt_upload(ctx, zeros, wsb);

    for (int i = 0; i < qg_catalog_count(); i++) {
        const qg_variant *v = qg_catalog_get(i);
        if (strcmp(v->family->name, "w4a16_cutlass") != 0) continue;
        char what[256];
        snprintf(what, sizeof what, "%s %s", v->id, tag);
        for (int rep = 0; rep < 2; rep++) { /* rep 1: fresh C buffer, the bound-Params cache */
            if (rep) {
                gt_free(ctx, dc);
                dc = gt_alloc_poison(ctx, cbytes);
            } else {
                gt_poison(ctx, dc, cbytes);
            }
            qg_gemm_args g;
            qg_gemm_args_init(&g);
            g.a = da, g.w = dw, g.c = dc, g.lda = lda, g.ldc = ldc;
            g.workspace = dws, g.workspace_bytes = wsb;
            if (!QT_CHECK(qg_gemm_with_kernel(ctx, &p, &g, v->id, NULL) == QG_SUCCESS, "%s: %s",
                          what, qg_last_error(ctx)))
                continue;
            gt_download(ctx, hc, dc, cbytes);
            int64_t bad = 0, pad = 0, bi = -1, bj = -1;
            double num = 0, den = 0, got_b = 0, want_b = 0;
            double ss = 0;
            for (int64_t t = 0; t < m * n; t++) ss += ref[t] * ref[t];
            const double rms = sqrt(ss / (double)(m * n));
            for (int64_t i2 = 0; i2 < m; i2++)
                for (int64_t j = 0; j < ldc; j++) {
                    const uint16_t raw = hc[i2 * ldc + j];
                    if (j >= n) {
                        pad += raw != 0xffffu;
                        continue;
                    }
                    const double got = qg_bf16_to_f32(raw), want = ref[i2 * n + j];
                    double mag = 0;
                    for (int64_t kk = 0; kk < k; kk++)
                        mag += fabs((double)qg_bf16_to_f32(ap[i2 * k + kk]) * deq[j * k + kk]);
                    const double lim = 2 * ldexp(1, -9) * fabs(want) + ldexp(1, -8) * mag +
                                       1e-5 * rms;
                    num += (got - want) * (got - want);
                    den += want * want;
                    if (!(fabs(got - want) <= lim) && bad++ == 0)
                        bi = i2, bj = j, got_b = got, want_b = want;
                }
            const double rel = sqrt(num / (den + 1e-300));
            QT_CHECK(bad == 0 && pad == 0 && rel <= 1e-2,
                     "%s (call %d): rel L2 %.3g, %lld elements outside the bound (first (%lld,%lld) "
                     "got %g want %g), %lld padding elements written",
                     what, rep + 1, rel, (long long)bad, (long long)bi, (long long)bj, got_b,
                     want_b, (long long)pad);
            runs++;
        }
        unsigned char *back = malloc(wsb);
        gt_download(ctx, back, dws, wsb);
        size_t dirty = 0;
        for (size_t b = 0; b < wsb; b++) dirty += back[b] != 0;
        QT_CHECK(dirty == 0, "%s: %zu bytes of the workspace left non-zero", what, dirty);
        free(back);
    }
    gt_free(ctx, dws);
    gt_free(ctx, dc);
    gt_free(ctx, da);
    gt_free_packed(ctx, &dw);
    free(zeros);
    free(hc);
    free(ref);
    free(ap);
    free(a);
    free(deq);
    free(wf);
    free(hw.weight);
    free(hw.scale);
}

/* Problems the family must refuse: QG_ERR_UNSUPPORTED and C untouched. */
static void check_refused(qg_context *ctx, qt_rng *r) {
    (void)r;
    const shape s = {64, 256, 256, 256, 256, 128};
    for (int c = 0; c < 3; c++) {
        qg_problem p = problem_of(&s);
        int64_t ldc = 256;
        const char *why = c == 0 ? "zero points" : c == 1 ? "f16 activations" : "ldc % 8 != 0";
        if (c == 0) p.has_zero_point = 1;
        if (c == 1) p.act_dtype = p.out_dtype = QG_DTYPE_F16;
        if (c == 2) ldc = 259;
        qg_packed_sizes sz;
        QT_OK(qg_packed_sizes_get(&p, &sz));
        void *w = gt_alloc_poison(ctx, sz.weight_bytes), *sc = gt_alloc_poison(ctx, sz.scale_bytes);
        void *z = sz.zero_bytes ? gt_alloc_poison(ctx, sz.zero_bytes) : NULL;
        void *a = gt_alloc_poison(ctx, 2 * 64 * 256);
        const size_t cbytes = 2 * 64 * (size_t)ldc;
        void *cc = gt_alloc_poison(ctx, cbytes);
        qg_gemm_args g;
        qg_gemm_args_init(&g);
        g.a = a, g.w.weight = w, g.w.scale = sc, g.w.zero = z, g.c = cc, g.ldc = ldc;
        const qg_status st = qg_gemm_with_kernel(ctx, &p, &g, "w4a16_cutlass.tn128", NULL);
        QT_CHECK(st == QG_ERR_UNSUPPORTED, "%s: %s (%s)", why, qg_status_name(st),
                 qg_last_error(ctx));
        QT_CHECK(gt_count_written(ctx, cc, cbytes) == 0, "%s: refused but C was written", why);
        gt_free(ctx, w), gt_free(ctx, sc), gt_free(ctx, a), gt_free(ctx, cc);
        if (z) gt_free(ctx, z);
    }
}

int main(void) {
    /* the family is opt-in until it has passed on a GPU (family_w4a16_cutlass.c) */
    setenv("QGEMM_EXPERIMENTAL_CUTLASS", "1", 1);
    qg_context *ctx = gt_open();
    if (!ctx) {
        printf("gpu_cutlass: 0 passed, 0 failed (skipped: no GPU)\n");
        return 0;
    }
    qg_device_info info;
    QT_OK(qg_context_device_info(ctx, &info));
    char inc[1024], cuda[1024];
    int ver = 0;
    if (strcmp(info.arch, "sm_90a") != 0) {
        printf("gpu_cutlass: skipped: %s is not sm_90a\n", info.arch);
    } else if (qg_cutlass_find_include(inc, cuda, sizeof inc, &ver) != QG_SUCCESS) {
        printf("gpu_cutlass: skipped: %s\n", qg_last_error(NULL));
    } else {
        printf("CUTLASS %d.%d.%d from %s\n", ver / 10000, ver / 100 % 100, ver % 100, inc);
        qt_rng r;
        qt_seed(&r, qt_test_seed());
        const shape shapes[] = {
            {1, 256, 256, 256, 256, 128},       {77, 520, 1024, 1024, 520, 64},
            {128, 1024, 2048, 2048, 1024, 128}, {200, 768, 512, 512, 768, 0},
            {64, 1024, 1024, 1032, 1032, 128},  {256, 4096, 4096, 4096, 4096, 128},
        };
        const int count = gt_reduced() ? 2 : QG_ARRAY_SIZE(shapes);
        for (int i = 0; i < count; i++) run_case(ctx, &shapes[i], &r);
        check_refused(ctx, &r);
        QT_CHECK(runs > 0, "the CUTLASS family ran (%d checked calls)", runs);
    }
    qg_context_destroy(ctx);
    return qt_finish("gpu_cutlass");
}
