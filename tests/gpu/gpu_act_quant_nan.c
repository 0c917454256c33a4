/*
 * What the GPU activation-quantize kernels do with NaN and Inf inputs, as include/qgemm.h
 * documents it (qg_quantize_activations; the kernels do not check, the host twin rejects):
 *  - absmax uses fmaxf, which ignores NaN: a NaN leaves its row's scale to the other elements
 *    and is written as e4m3 NaN (0x7f/0xff) or int8 0;
 *  - an Inf makes the scale Inf: its row (the whole tensor per tensor) quantizes to (signed)
 *    zero, the Inf itself to NaN (Inf/Inf) as above;
 *  - an all-NaN row gets the floor scale 1e-12 and NaN codes.
 * Finite elements of unaffected rows must equal the host twin bit for bit. Skips without a GPU.
 */
#include "dynact.h"
#include "gpu_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { M = 4, K = 256, NAN_COL = 5, INF_COL = 7 };

static int is_nan_code(uint8_t q, int fp8) { return fp8 ? (q & 0x7f) == 0x7f : q == 0; }
static int is_zero_code(uint8_t q, int fp8) { return fp8 ? (q & 0x7f) == 0 : q == 0; }

static void run(qg_context *ctx, qg_scheme scheme, qg_scale_granularity gran) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = scheme;
    p.m = M, p.n = 128, p.k = K;
    p.group_size = scheme == QG_SCHEME_W4A8_FP8 ? 128 : 0;
    p.act_scale = gran;
    const int fp8 = scheme == QG_SCHEME_W8A8_FP8;
    const qg_dtype qt = fp8 ? QG_DTYPE_FP8_E4M3 : QG_DTYPE_INT8;
    qt_rng r;
    qt_seed(&r, 15);
    uint16_t a[M * K];
    for (int i = 0; i < M * K; i++) a[i] = qg_f32_to_bf16(qt_normal(&r));
    a[0 * K + NAN_COL] = qg_f32_to_bf16(NAN);                       /* row 0: one NaN */
    a[1 * K + INF_COL] = qg_f32_to_bf16(INFINITY);                  /* row 1: one +Inf */
    for (int j = 0; j < K; j++) a[2 * K + j] = qg_f32_to_bf16(NAN); /* row 2: all NaN */
    void *da = gt_upload(ctx, a, sizeof a);
    void *dq = gt_alloc_poison(ctx, M * K);
    void *ds = gt_alloc_poison(ctx, sizeof(float) * M);
    QT_OK(qg_quantize_activations(ctx, &p, da, dq, ds, NULL));
    uint8_t q[M * K];
    float s[M];
    gt_download(ctx, q, dq, sizeof q);
    gt_download(ctx, s, ds, sizeof(float) * (gran == QG_SCALE_PER_TENSOR ? 1 : M));
    const char *name = qg_scheme_name(scheme),
               *g = gran == QG_SCALE_PER_TENSOR ? "per-tensor" : "per-token";
    if (gran == QG_SCALE_PER_TENSOR) {
        QT_CHECK(isinf(s[0]) && s[0] > 0, "%s %s: an Inf makes the tensor scale Inf (got %g)", name,
                 g, (double)s[0]);
        int ok = 1;
        for (int i = 0; i < M * K; i++) {
            const float x = qg_bf16_to_f32(a[i]);
            ok &= isfinite(x) ? is_zero_code(q[i], fp8) : is_nan_code(q[i], fp8);
        }
        QT_CHECK(ok, "%s %s: finite elements 0, NaN and Inf elements NaN codes", name, g);
    } else {
        float amax0 = 0, amax3 = 0;
        for (int j = 0; j < K; j++) {
            if (j != NAN_COL) amax0 = fmaxf(amax0, fabsf(qg_bf16_to_f32(a[j])));
            amax3 = fmaxf(amax3, fabsf(qg_bf16_to_f32(a[3 * K + j])));
        }
        const float s0 = qg_act_scale_of(amax0, qt), s3 = qg_act_scale_of(amax3, qt);
        QT_CHECK(s[0] == s0, "%s %s: NaN ignored by the row scale (%g, want %g)", name, g,
                 (double)s[0], (double)s0);
        QT_CHECK(isinf(s[1]) && s[1] > 0, "%s %s: Inf row scale Inf (got %g)", name, g, (double)s[1]);
        QT_CHECK(s[2] == QG_ACT_SCALE_FLOOR, "%s %s: all-NaN row at the floor scale (got %g)", name,
                 g, (double)s[2]);
        QT_CHECK(s[3] == s3, "%s %s: finite row unaffected", name, g);
        int ok0 = 1, ok1 = 1, ok2 = 1, ok3 = 1;
        for (int j = 0; j < K; j++) {
            const float x0 = qg_bf16_to_f32(a[j]), x3 = qg_bf16_to_f32(a[3 * K + j]);
            ok0 &= j == NAN_COL ? is_nan_code(q[j], fp8) : q[j] == qg_act_quant_one(x0, s0, qt);
            ok1 &= j == INF_COL ? is_nan_code(q[K + j], fp8) : is_zero_code(q[K + j], fp8);
            ok2 &= is_nan_code(q[2 * K + j], fp8);
            ok3 &= q[3 * K + j] == qg_act_quant_one(x3, s3, qt);
        }
        QT_CHECK(ok0, "%s %s: row with a NaN: host codes, NaN code at the NaN", name, g);
        QT_CHECK(ok1, "%s %s: row with an Inf: zeros, NaN code at the Inf", name, g);
        QT_CHECK(ok2, "%s %s: all-NaN row: NaN codes", name, g);
        QT_CHECK(ok3, "%s %s: finite row equals the host", name, g);
    }
    gt_free(ctx, da);
    gt_free(ctx, dq);
    gt_free(ctx, ds);
}

int main(void) {
    qg_context *ctx = gt_open();
    if (!ctx) {
        printf("gpu_act_quant_nan: 0 passed, 0 failed (skipped: no GPU)\n");
        return 0;
    }
    qg_device_info info;
    qg_context_device_info(ctx, &info);
    const qg_scheme schemes[2] = {QG_SCHEME_W8A8_INT8, QG_SCHEME_W8A8_FP8};
    for (int i = 0; i < 2; i++) {
        if (schemes[i] == QG_SCHEME_W8A8_FP8 && info.cc_major * 10 + info.cc_minor < 89) continue;
        run(ctx, schemes[i], QG_SCALE_PER_ROW);
        run(ctx, schemes[i], QG_SCALE_PER_TENSOR);
    }
    qg_context_destroy(ctx);
    return qt_finish("gpu_act_quant_nan");
}
