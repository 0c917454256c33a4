/*
 * Family hip_dequant_int4: W4A16 weight dequantization on AMD GPUs, compiled by hiprtc for gfx
 * targets (kernels/hip/dequant_int4.hip). It reads the packed int4 layout of docs/formats.md and
 * proves the HIP path end to end: `qgemm check --arch gfx90a` compiles it, and
 * tests/test_hip_dequant.c runs the kernel source as host C against the CPU unpacker.
 */
#include "catalog.h"
#include "scheme_w4a16.h"

#include <stdio.h>

static const int variants[][QG_MAX_PARAMS] = {
    {128},
    {256},
};

static int supports(const qg_problem *p, const int *params, int cc, char *why, size_t why_len) {
    (void)cc;
    if (p->scheme != QG_SCHEME_W4A16) {
        snprintf(why, why_len, "hip_dequant_int4 handles W4A16 weights only");
        return 0;
    }
    if (p->has_zero_point == QG_ZERO_POINT_FLOAT) {
        snprintf(why, why_len, "hip_dequant_int4: float zero points (has_zero_point 2): not yet");
        return 0;
    }
    if (p->n * p->k / params[0] >= ((int64_t)1 << 31)) {
        snprintf(why, why_len, "hip_dequant_int4: weight too large for one grid");
        return 0;
    }
    return 1;
}

static qg_status launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                        const int *params, void *stream) {
    const qg_dequant_args *a = args;
    QG_RETURN_IF(ctx, !a || !a->w || !a->w->weight || !a->w->scale || !a->out, QG_ERR_NULL_POINTER,
                 "hip_dequant_int4: weight, scale and out are required");
    QG_RETURN_IF(ctx, p->has_zero_point && !a->w->zero, QG_ERR_NULL_POINTER,
                 "hip_dequant_int4: zero points are required for an asymmetric weight");
    QG_RETURN_IF(ctx, a->out_dtype != QG_DTYPE_F16 && a->out_dtype != QG_DTYPE_BF16,
                 QG_ERR_INVALID_ARGUMENT, "hip_dequant_int4 writes f16 or bf16");
    qg_wo_geom g;
    qg_wo_geom_get(p, &g);
    const void *weight = a->w->weight, *scale = a->w->scale;
    const void *zero = p->has_zero_point ? a->w->zero : NULL;
    void *out = a->out;
    int n = (int)g.n, kk = (int)g.k, ks = (int)g.ks, groups = g.groups, gs = g.gs;
    int dt = p->act_dtype == QG_DTYPE_BF16 ? 2 : 1; /* QG_DT_* of the HIP prelude */
    int out_dt = a->out_dtype == QG_DTYPE_BF16 ? 2 : 1;
    void *kargs[] = {&weight, &scale, &zero, &out, &n, &kk, &ks, &groups, &gs, &dt, &out_dt};
    const unsigned bs = (unsigned)params[0];
    const uint64_t elems = (uint64_t)p->n * (uint64_t)p->k;
    return qg_kernel_launch(ctx, k, (unsigned)((elems + bs - 1) / bs), 1, 1, bs, 0, stream, kargs);
}

const qg_family qg_family_hip_dequant_int4 = {
    .name = "hip_dequant_int4",
    .source = "dequant_int4.hip",
    .entry = "qg_hip_dequant_int4",
    .op = QG_OP_DEQUANT,
    .scheme_mask = 1u << QG_SCHEME_W4A16,
    .min_cc = 0,
    .needs_sm90a = 0,
    .hip = 1,
    .num_params = 1,
    .param_names = {"bs"},
    .num_variants = QG_ARRAY_SIZE(variants),
    .variants = variants,
    .supports = supports,
    .heuristic = NULL,
    .workspace = NULL,
    .launch = launch,
};
