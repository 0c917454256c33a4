/*
 * cuBLASLt as kernel families (no source: nothing is compiled; cublaslt.c calls the
 * library). A variant is an index into the list cublasLtMatmulAlgoGetHeuristic returns for the
 * problem (parameter "algo", 0 = the heuristic's first choice), so the tuner can time the first
 * few and store the winner like any kernel; replaying "cublaslt_fp8.algo2" asks the heuristic
 * the same question and takes the third answer.
 *
 *  cublaslt_fp8   W8A8_FP8: e4m3 x e4m3 -> bf16/f16, the weight and activation scales passed as
 *                 cuBLASLt scale pointers (per tensor: scalars; per row / per token: cuBLAS 12.9+
 *                 outer-vector scaling), bias through cuBLASLt's bias epilogue.
 *  cublaslt_int8  W8A8_INT8: cuBLASLt's exact int32 product into the workspace, then our epilogue
 *                 kernel (kernels/cuda/cublaslt_epilogue.cu, family cublaslt_int8_epilogue, which
 *                 dispatch never picks by itself) applies scales and bias.
 *
 * Both leave the shared workspace zero, as every family must (include/qgemm.h): cuBLASLt's
 * scratch is zeroed by an asynchronous memset after the call (cublaslt.c, leave_zero; only
 * when the chosen algorithm uses scratch), and the int8 epilogue zeroes each int32 product as it
 * reads it.
 *
 * Dispatch without a tuning entry never prefers these (their heuristic cost is huge): qg_gemm
 * then does not depend on an optional library unless the tuner found cuBLASLt faster.
 */
#include "catalog.h"
#include "cublaslt.h"
#include "dynact.h"
#include "jit.h"

#include "../kernels/cuda/qg_abi.cuh" /* qg_lt_epi_params, QG_EPI_* */

#include <stdio.h>

static const int algo_variants[][QG_MAX_PARAMS] = {{0}, {1}, {2}, {3}};

static int common_supports(const qg_problem *p, int min_cc, int cc, char *why, size_t why_len) {
    if (cc < min_cc) {
        snprintf(why, why_len, "cuBLASLt %s needs compute capability %d.%d",
                 p->scheme == QG_SCHEME_W8A8_FP8 ? "fp8" : "int8", min_cc / 10, min_cc % 10);
        return 0;
    }
    /* 16-byte rows of both 8-bit operands (TN kernels) and of the output. */
    if (p->n % 16 || p->k % 16) {
        snprintf(why, why_len, "cuBLASLt needs N (%lld) and K (%lld) multiples of 16",
                 (long long)p->n, (long long)p->k);
        return 0;
    }
    if (p->m > (1 << 30) || p->n > (1 << 30) || p->k > (1 << 30)) {
        snprintf(why, why_len, "dimensions above 2^30");
        return 0;
    }
    return 1;
}

static int fp8_supports(const qg_problem *p, const int *v, int cc, char *why, size_t why_len) {
    (void)v;
    return common_supports(p, 89, cc, why, why_len);
}

static int int8_supports(const qg_problem *p, const int *v, int cc, char *why, size_t why_len) {
    (void)v;
    if (!common_supports(p, 80, cc, why, why_len)) return 0;
    if (p->k > QG_INT8_MAX_K) {
        snprintf(why, why_len, "K above %d could overflow int32", QG_INT8_MAX_K);
        return 0;
    }
    return 1;
}

/* Never the heuristic's choice over a native kernel; ordered by algorithm index. */
static double cost(const qg_problem *p, const int *v, const qg_device_info *dev) {
    (void)p, (void)dev;
    return 1e12 + v[0];
}

/* cuBLASLt's workspace starts at the first 256-byte boundary of ours (any caller's buffer
 * works); the int8 family's int32 products follow it. Both are left zero. */
#define ALIGN256(x) (((x) + 255) & ~(uintptr_t)255)

static size_t fp8_workspace(const qg_problem *p, const int *v) {
    (void)p, (void)v;
    return QG_CUBLASLT_WORKSPACE + 256;
}

static size_t int8_scratch_bytes(const qg_problem *p) {
    return ALIGN256((size_t)p->m * (size_t)p->n * 4);
}

static size_t int8_workspace(const qg_problem *p, const int *v) {
    (void)v;
    return QG_CUBLASLT_WORKSPACE + 256 + int8_scratch_bytes(p);
}

static void *lt_workspace(const qg_gemm_args *g) {
    return (void *)ALIGN256((uintptr_t)g->workspace);
}

/* ---------------------------------------------------------------- fp8 */

static qg_lt_shape fp8_shape(const qg_problem *p, int64_t lda, int64_t ldc, int align) {
    const qg_lt_shape s = {.kind = QG_LT_FP8,
                           .m = p->m,
                           .n = p->n,
                           .k = p->k,
                           .lda = lda,
                           .ldc = ldc,
                           .out_dtype = p->out_dtype,
                           .w_vec = p->weight_scale != QG_SCALE_PER_TENSOR,
                           .a_vec = p->act_scale != QG_SCALE_PER_TENSOR,
                           .has_bias = p->has_bias,
                           .align = align};
    return s;
}

static qg_status fp8_prepare(qg_context *ctx, qg_kernel *k, const qg_problem *p, const int *v) {
    (void)k, (void)v;
    const qg_lt_shape s = fp8_shape(p, p->k, p->n, 256); /* contiguous, cudaMalloc-aligned */
    return qg_cublaslt_prepare(ctx, &s, NULL);
}

static qg_status fp8_launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                            const int *v, void *stream) {
    const qg_gemm_args *g = args;
    QG_RETURN_IF(ctx,
                 ((uintptr_t)g->a | (uintptr_t)g->w.weight | (uintptr_t)g->c) & 15 || g->lda % 16 ||
                     g->ldc % 8,
                 QG_ERR_UNSUPPORTED,
                 "%s needs 16-byte aligned a, "
                 "weight and c, lda a multiple of 16 and ldc of 8 (lda=%lld ldc=%lld)",
                 k->variant->id, (long long)g->lda, (long long)g->ldc);
    const void *ptrs[] = {g->a, g->w.weight, g->c, g->bias};
    const qg_lt_shape s = fp8_shape(p, g->lda, g->ldc, qg_lt_align_class(ptrs, p->has_bias ? 4 : 3));
    const qg_lt_ptrs lp = {.a = g->a,
                           .w = g->w.weight,
                           .c = g->c,
                           .a_scale = g->a_scale,
                           .w_scale = g->w.scale,
                           .bias = p->has_bias ? g->bias : NULL,
                           .workspace = lt_workspace(g),
                           .workspace_bytes = QG_CUBLASLT_WORKSPACE,
                           .leave_zero = 1};
    return qg_cublaslt_run(ctx, &s, &lp, v[0], stream);
}

/* ---------------------------------------------------------------- int8 */

static qg_lt_shape int8_shape(const qg_problem *p, int64_t lda, int align) {
    const qg_lt_shape s = {.kind = QG_LT_INT8,
                           .m = p->m,
                           .n = p->n,
                           .k = p->k,
                           .lda = lda,
                           .ldc = p->n,
                           .out_dtype = QG_DTYPE_INT32,
                           .align = align};
    return s;
}

static const qg_variant *epilogue_variant;
static pthread_once_t epilogue_once = PTHREAD_ONCE_INIT;
static void find_epilogue(void) { epilogue_variant = qg_catalog_find("cublaslt_int8_epilogue"); }

static qg_status epilogue_kernel(qg_context *ctx, qg_kernel **out) {
    pthread_once(&epilogue_once, find_epilogue);
    QG_RETURN_IF(ctx, !epilogue_variant, QG_ERR_INTERNAL,
                 "cublaslt_int8_epilogue is not in the catalog");
    return qg_jit_get(ctx, epilogue_variant, out); /* compiled once, then a memory hit */
}

static qg_status int8_prepare(qg_context *ctx, qg_kernel *k, const qg_problem *p, const int *v) {
    (void)k, (void)v;
    qg_kernel *epi;
    QG_CHECK(epilogue_kernel(ctx, &epi));
    const qg_lt_shape s = int8_shape(p, p->k, 256);
    return qg_cublaslt_prepare(ctx, &s, NULL);
}

static qg_status int8_launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                             const int *v, void *stream) {
    const qg_gemm_args *g = args;
    QG_RETURN_IF(ctx,
                 ((uintptr_t)g->a | (uintptr_t)g->w.weight) & 15 || g->lda % 16 ||
                     ((uintptr_t)g->c & 1),
                 QG_ERR_UNSUPPORTED,
                 "%s needs 16-byte aligned a and "
                 "weight, lda a multiple of 16 and a 2-byte aligned c (lda=%lld)",
                 k->variant->id, (long long)g->lda);
    qg_kernel *epi;
    QG_CHECK(epilogue_kernel(ctx, &epi));
    /* Checked before cuBLASLt writes the products: they must not stay in the workspace. */
    const int64_t blocks = QG_CDIV(p->m * (p->n / 4), 256);
    QG_RETURN_IF(ctx, blocks > 0x7fffffff, QG_ERR_UNSUPPORTED, "output too large (%lld blocks)",
                 (long long)blocks);
    void *acc = (char *)lt_workspace(g) + QG_CUBLASLT_WORKSPACE;
    const void *ptrs[] = {g->a, g->w.weight};
    const qg_lt_shape s = int8_shape(p, g->lda, qg_lt_align_class(ptrs, 2));
    const qg_lt_ptrs lp = {.a = g->a,
                           .w = g->w.weight,
                           .c = acc,
                           .workspace = lt_workspace(g),
                           .workspace_bytes = QG_CUBLASLT_WORKSPACE,
                           .leave_zero = 1};
    QG_CHECK(qg_cublaslt_run(ctx, &s, &lp, v[0], stream));

    int flags = 0;
    if (p->out_dtype == QG_DTYPE_F16) flags |= QG_EPI_OUT_F16;
    if (p->has_bias) flags |= QG_EPI_BIAS;
    if (p->weight_scale == QG_SCALE_PER_TENSOR) flags |= QG_EPI_W_TENSOR;
    if (p->act_scale == QG_SCALE_PER_TENSOR) flags |= QG_EPI_A_TENSOR;
    if (!((uintptr_t)g->c & 7) && !(g->ldc & 3)) flags |= QG_EPI_VEC;
    qg_lt_epi_params ep = {.acc = acc,
                           .a_scale = g->a_scale,
                           .w_scale = g->w.scale,
                           .bias = p->has_bias ? g->bias : NULL,
                           .c = g->c,
                           .ldc = g->ldc,
                           .m = (int32_t)p->m,
                           .n = (int32_t)p->n,
                           .flags = flags};
    void *kargs[] = {&ep};
    return qg_kernel_launch(ctx, epi, (unsigned)blocks, 1, 1, 256, 0, stream, kargs);
}

static const char *int8_helper(const int *v) {
    (void)v;
    return "cublaslt_int8_epilogue";
}

/* The epilogue as a catalog entry of its own, so `qgemm check` compiles it; it computes no
 * scheme by itself (scheme_mask 0) and is launched only by cublaslt_int8. */
static const int epilogue_variants[][QG_MAX_PARAMS] = {{0}};

static int epilogue_supports(const qg_problem *p, const int *v, int cc, char *why, size_t why_len) {
    (void)p, (void)v, (void)cc;
    snprintf(why, why_len, "the epilogue of cublaslt_int8, not a GEMM");
    return 0;
}

static qg_status epilogue_launch(qg_context *ctx, qg_kernel *k, const qg_problem *p,
                                 const void *args, const int *v, void *stream) {
    (void)p, (void)args, (void)v, (void)stream;
    return QG_ERROR(ctx, QG_ERR_UNSUPPORTED, "%s runs only inside cublaslt_int8", k->variant->id);
}

const qg_family qg_family_cublaslt_fp8 = {
    .name = "cublaslt_fp8",
    .source = NULL,
    .entry = NULL,
    .op = QG_OP_GEMM,
    .scheme_mask = 1u << QG_SCHEME_W8A8_FP8,
    .min_cc = 89,
    .library_policy = QG_CUBLASLT_POLICY,
    .num_params = 1,
    .param_names = {"algo"},
    .num_variants = QG_ARRAY_SIZE(algo_variants),
    .variants = algo_variants,
    .supports = fp8_supports,
    .heuristic = cost,
    .workspace = fp8_workspace,
    .launch = fp8_launch,
    .prepare = fp8_prepare,
};

const qg_family qg_family_cublaslt_int8 = {
    .name = "cublaslt_int8",
    .source = NULL,
    .entry = NULL,
    .op = QG_OP_GEMM,
    .scheme_mask = 1u << QG_SCHEME_W8A8_INT8,
    .min_cc = 80,
    .library_policy = QG_CUBLASLT_POLICY,
    .helper_kernel = int8_helper,
    .num_params = 1,
    .param_names = {"algo"},
    .num_variants = QG_ARRAY_SIZE(algo_variants),
    .variants = algo_variants,
    .supports = int8_supports,
    .heuristic = cost,
    .workspace = int8_workspace,
    .launch = int8_launch,
    .prepare = int8_prepare,
};

const qg_family qg_family_cublaslt_int8_epilogue = {
    .name = "cublaslt_int8_epilogue",
    .source = "cublaslt_epilogue.cu",
    .entry = "qg_cublaslt_int8_epilogue",
    .op = QG_OP_GEMM,
    .scheme_mask = 0,
    .min_cc = 80,
    .num_params = 0,
    .num_variants = QG_ARRAY_SIZE(epilogue_variants),
    .variants = epilogue_variants,
    .supports = epilogue_supports,
    .launch = epilogue_launch,
};
