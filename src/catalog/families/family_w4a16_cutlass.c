/*
 * w4a16_cutlass: W4A16 on sm_90a with CUTLASS's mixed-input GEMM (kernels/cutlass/
 * w4a16_sm90_mixed.cu: TMA, warp-specialized cooperative mainloop, RS wgmma with the int4 weight
 * dequantized in registers, persistent tile scheduler, TMA epilogue), built from the headers of
 * the nvidia-cutlass package by NVRTC (src/runtime/cutlass_jit.c finds them) with the host in C: the
 * kernel's Params come from a probe run on the device (src/runtime/cutlass_probe.c, cutlass_params.c).
 *
 * Weights: our packed format (docs/formats.md) is repacked per launch into the workspace as
 * CUTLASS's operands (int4 K-major, scales [G][N]) by the module's repack kernel, then the GEMM
 * runs, then the used workspace is zeroed again (the workspace contract). The repack costs a
 * pass over the weight (N*K/2 bytes read and written): a first step, until a packed layout of
 * its own makes it unnecessary. Symmetric weights only so far (CUTLASS's scale-with-zero mode
 * would take zero points), bf16 in and out, no bias.
 *
 * Parameters: tn (CUTLASS's N tile: tokens per CTA tile). Experimental (tuner only) until the
 * GPU suite has run it.
 */
#include "backend.h"
#include "catalog.h"
#include "cutlass_jit.h"
#include "cutlass_probe.h"
#include "family_w4a16_common.h"
#include "jit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { P_TN = 0 };
static const int variants[][QG_MAX_PARAMS] = {{128}};

#define ENTRY "qg_cutlass_w4a16"
#define PROBE_ENTRY "qg_cutlass_w4a16_probe"
#define REPACK_ENTRY "qg_cutlass_w4a16_repack"
#define TILE_M 128 /* weight rows per CTA tile (CUTLASS's M) */
#define TILE_K 64
#define ALIGN256(x) (((x) + 255) & ~(size_t)255)

static int64_t groups_of(const qg_problem *p) { return p->group_size ? p->k / p->group_size : 1; }

/* Workspace: the repacked weight (N*K/2 bytes), then the scales (G*N*2), each 256-aligned. */
static size_t weight_bytes(const qg_problem *p) {
    return ALIGN256((size_t)p->n * (size_t)p->k / 2);
}
static size_t scale_bytes(const qg_problem *p) {
    return ALIGN256((size_t)groups_of(p) * (size_t)p->n * 2);
}
static size_t workspace(const qg_problem *p, const int *v) {
    (void)v;
    return weight_bytes(p) + scale_bytes(p) + 256; /* + alignment of the caller's pointer */
}

static int supports(const qg_problem *p, const int *v, int cc, char *why, size_t len) {
    (void)v;
#define NO(...) return snprintf(why, len, __VA_ARGS__), 0
    if (p->scheme != QG_SCHEME_W4A16) NO("computes w4a16 only");
    /* Its first H100 run (session 7) ended in an unspecified launch failure, which poisons the
     * CUDA context: until gpu_cutlass passes, only those who ask run it (the tuner would
     * otherwise try it on every symmetric bf16 problem). */
    const char *opt_in = getenv("QGEMM_EXPERIMENTAL_CUTLASS");
    if (!opt_in || strcmp(opt_in, "1") != 0)
        NO("not validated on a GPU yet (its first H100 run faulted); set "
           "QGEMM_EXPERIMENTAL_CUTLASS=1 to run it");
    if (cc != 90) NO("CUTLASS's sm90 mixed-input GEMM is built for sm_90a only");
    if (p->act_dtype != QG_DTYPE_BF16 || p->out_dtype != QG_DTYPE_BF16)
        NO("built for bf16 activations and output");
    if (p->has_zero_point) NO("symmetric weights only (zero points: not yet)");
    if (p->has_bias) NO("no bias epilogue yet");
    if (p->group_size != 0 && p->group_size % TILE_K != 0)
        NO("group size %d is not a multiple of the %d-deep k tile", (int)p->group_size, TILE_K);
    if (p->k % TILE_K != 0) NO("K (%lld) must be a multiple of %d", (long long)p->k, TILE_K);
    if (p->n % 8 != 0)
        NO("N (%lld) must be a multiple of 8 (16-byte TMA rows of the output)", (long long)p->n);
    if (p->m > INT32_MAX || p->n > INT32_MAX || p->k > INT32_MAX ||
        (int64_t)p->n * (p->k / 8) > INT32_MAX * 64LL)
        NO("problem too large for 32-bit problem sizes");
    return 1;
#undef NO
}

/* Rough model for ranking: CUTLASS's mixed-input reaches about half of the dense bf16 peak at
 * large M (a guess until the tuner measures it), floored by the repack and weight streaming. */
static double heuristic(const qg_problem *p, const int *v, const qg_device_info *dev) {
    const double sms = dev && dev->sm_count > 0 ? dev->sm_count : 132;
    const double peak = 989e12 * sms / 132.0 * 0.5;
    const double tiles = (double)QG_CDIV(p->n, TILE_M) * (double)QG_CDIV(p->m, v[P_TN]);
    const double waves = (double)(int64_t)((tiles + sms - 1) / sms);
    const double t_math = waves * 2.0 * TILE_M * v[P_TN] * (double)p->k / (peak / sms);
    const double t_repack = (double)p->n * (double)p->k * 1.5 / 2.6e12 + 3e-6;
    const double t_mem = ((double)p->n * p->k / 2 + 2.0 * p->m * p->k + 2.0 * p->m * p->n) / 2.6e12;
    return (t_math > t_mem ? t_math : t_mem) + t_repack + 4e-6;
}

static qg_cutlass_probe_in probe_in(qg_context *ctx, const qg_problem *p, int64_t lda, int64_t ldc) {
    qg_cutlass_probe_in in;
    memset(&in, 0, sizeof in);
    in.w = qg_cutlass_sentinel(QG_CUTLASS_OP_W);
    in.x = qg_cutlass_sentinel(QG_CUTLASS_OP_X);
    in.scale = qg_cutlass_sentinel(QG_CUTLASS_OP_SCALE);
    in.y = qg_cutlass_sentinel(QG_CUTLASS_OP_Y);
    in.lda = lda ? lda : p->k;
    in.ldc = ldc ? ldc : p->n;
    in.m = (int)p->m;
    in.n = (int)p->n;
    in.k = (int)p->k;
    in.group_size = p->group_size ? (int)p->group_size : (int)p->k;
    in.sm_count = ctx->info.sm_count > 0 ? ctx->info.sm_count : 132;
    return in;
}

static qg_status prepare(qg_context *ctx, qg_kernel *k, const qg_problem *p, const int *v) {
    (void)v;
    const qg_cutlass_probe_in in = probe_in(ctx, p, 0, 0);
    qg_cutlass_handles h;
    return qg_cutlass_plan_get(ctx, k, &in, NULL, PROBE_ENTRY, REPACK_ENTRY, &h);
}

static qg_status launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                        const int *v, void *stream) {
    const qg_gemm_args *a = args;
    const char *id = k->variant->id;
    QG_CHECK(qg_wo_check_args(ctx, p, a, id));
    const int64_t ldc = a->ldc ? a->ldc : p->n;
    QG_RETURN_IF(ctx, (uintptr_t)a->c % 16 || ldc % 8, QG_ERR_UNSUPPORTED,
                 "%s needs C 16-byte aligned with ldc a multiple of 8 (TMA stores)", id);
    const size_t need = workspace(p, v);
    QG_RETURN_IF(ctx, !a->workspace || a->workspace_bytes < need, QG_ERR_INVALID_ARGUMENT,
                 "%s needs a zeroed workspace of %zu bytes (got %zu)", id, need,
                 a->workspace ? a->workspace_bytes : 0);
    QG_RETURN_IF(ctx, !ctx->ops->memset_d8_async, QG_ERR_UNSUPPORTED,
                 "%s: backend %s has no asynchronous memset", id, ctx->ops->name);
    const qg_cutlass_probe_in in = probe_in(ctx, p, a->lda, a->ldc);
    qg_cutlass_handles h;
    QG_CHECK(qg_cutlass_plan_get(ctx, k, &in, stream, PROBE_ENTRY, REPACK_ENTRY, &h));

    char *ws = (char *)ALIGN256((uintptr_t)a->workspace);
    void *w_out = ws, *s_out = ws + weight_bytes(p);
    const uint64_t ptrs[QG_CUTLASS_NUM_OPS] = {[QG_CUTLASS_OP_W] = (uintptr_t)w_out,
                                               [QG_CUTLASS_OP_X] = (uintptr_t)a->a,
                                               [QG_CUTLASS_OP_SCALE] = (uintptr_t)s_out,
                                               [QG_CUTLASS_OP_Y] = (uintptr_t)a->c};
    _Alignas(128) unsigned char params[QG_CUTLASS_MAX_PARAMS];
    QG_CHECK(qg_cutlass_bind_cached(ctx, &h, ptrs, params));

    int n = (int)p->n, kk = (int)p->k, groups = (int)groups_of(p);
    const int64_t items = p->n * (p->k / 8) > p->n * groups ? p->n * (p->k / 8) : p->n * groups;
    const void *w_in = a->w.weight, *s_in = a->w.scale;
    void *rargs[] = {&w_in, &s_in, &w_out, &s_out, &n, &kk, &groups};
    const unsigned rgrid[3] = {(unsigned)QG_CDIV(items, 256), 1, 1}, rblock[3] = {256, 1, 1};
    qg_status s = ctx->ops->launch(ctx, h.repack_fn, rgrid, rblock, 0, stream, rargs);
    if (s == QG_SUCCESS) {
        const qg_cutlass_probe_out *sh = &h.plan->shape;
        void *kargs[] = {params};
        s = qg_kernel_launch(ctx, k, sh->grid[0], sh->grid[1], sh->grid[2], sh->threads,
                             sh->smem_bytes, stream, kargs);
    }
    /* Also after a failure: the repacked weight must not stay in the shared workspace. */
    const qg_status ms = ctx->ops->memset_d8_async(ctx, ws, 0, weight_bytes(p) + scale_bytes(p),
                                                   stream);
    return s != QG_SUCCESS ? s : ms;
}

const qg_family qg_family_w4a16_cutlass = {
    .name = "w4a16_cutlass",
    .source = "w4a16_sm90_mixed.cu",
    .entry = ENTRY,
    .op = QG_OP_GEMM,
    .scheme_mask = 1u << QG_SCHEME_W4A16,
    .min_cc = 90,
    .needs_sm90a = 1,
    .experimental = 1, /* until the GPU suite and the tuner's reference check have run it */
    .num_params = 1,
    .param_names = {"tn"},
    .num_variants = QG_ARRAY_SIZE(variants),
    .variants = variants,
    .supports = supports,
    .heuristic = heuristic,
    .workspace = workspace,
    .launch = launch,
    .prepare = prepare,
    .jit_options = qg_cutlass_jit_options,
};
