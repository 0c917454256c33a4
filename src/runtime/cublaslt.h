/*
 * cuBLASLt inside qgemm (cublaslt.c): the library is opened with dlopen on first use (never
 * linked), each context gets one handle (made lazily, destroyed with the context) and a table
 * of matmul plans, one per problem shape, holding the layouts and the first
 * QG_CUBLASLT_MAX_ALGOS algorithms of cublasLtMatmulAlgoGetHeuristic. The kernel families of
 * family_cublaslt.c and the benches (qg_cublaslt_gemm_bf16) call through here.
 */
#ifndef QG_CUBLASLT_H
#define QG_CUBLASLT_H

#include "internal.h"

/* Workspace a cuBLASLt call may use: the heuristic is asked for algorithms within it. */
#define QG_CUBLASLT_WORKSPACE ((size_t)32 << 20)
/* Split-K reduction schemes the heuristic may offer, as a cublasLtReductionScheme_t mask:
 * COMPUTE_TYPE (2) only; NONE is always allowed. Part of the catalog hash, since it changes
 * which algorithm "cublaslt_*.algoN" names. */
#define QG_CUBLASLT_REDUCTION_MASK 2
#define QG_CUBLASLT_STR_(x) #x
#define QG_CUBLASLT_POLICY "cublaslt reduction mask " QG_CUBLASLT_STR_(QG_CUBLASLT_REDUCTION_MASK)
/* Algorithms of the heuristic's list a plan keeps (the families' "algo" parameter). */
#define QG_CUBLASLT_MAX_ALGOS 4

typedef enum {
    QG_LT_BF16 = 0, /* bf16 x bf16 -> bf16, f32 accumulation */
    QG_LT_FP8 = 1,  /* e4m3 x e4m3 -> bf16/f16 with scale pointers (scalar or outer vector) */
    QG_LT_INT8 = 2, /* int8 x int8 -> int32, exact */
    QG_LT_F16 = 3,  /* f16 x f16 -> f16, f32 accumulation */
} qg_lt_kind;

/*
 * One matmul in our row-major terms: C[M,N] = A[M,K] * W[N,K]^T. cuBLASLt sees the column-major
 * C^T[N,M] = W * A^T with op(W) = T, op(A^T) = N (the "TN" layout fp8 and int8 kernels need).
 * Plans are keyed by every field, so zero-initialize it.
 */
typedef struct {
    qg_lt_kind kind;
    int64_t m, n, k;
    int64_t lda, ldc;   /* row strides in elements (int8: ldc of the int32 output) */
    qg_dtype out_dtype; /* bf16 or f16 (fp8); bf16 (bf16 kind); f16 (f16 kind); int32 (int8) */
    int w_vec, a_vec;   /* fp8: per-row weight / per-token activation scales (else per tensor) */
    int has_bias;       /* bias[N] of out_dtype added by cuBLASLt's epilogue */
    int align;          /* 256 if every pointer is 256-byte aligned, else 16 */
} qg_lt_shape;

/* Device pointers of one call. */
typedef struct {
    const void *a, *w;
    void *c;
    const void *a_scale, *w_scale; /* fp8: f32 [M]/[1] and [N]/[1] */
    const void *bias;
    void *workspace;
    size_t workspace_bytes;
    /* 1: the workspace is qgemm's shared GEMM workspace, which every kernel leaves zero
     * (include/qgemm.h): cuBLASLt gets exactly the bytes its algorithm needs and they are zeroed
     * after it on the same stream (an asynchronous memset, only if the algorithm uses any). */
    int leave_zero;
} qg_lt_ptrs;

/* The alignment class (256 or 16) of a set of pointers (NULL ones ignored). */
int qg_lt_align_class(const void *const *ptrs, int n);

/* Open cuBLASLt (once per process). QG_ERR_NO_BLAS with the reason in `why` if it cannot. */
qg_status qg_cublaslt_load(char *why, size_t why_len);

/* Build a shape's descriptor, layouts and heuristic preference without a device or handle
 * (a self-check of the attributes against the loaded library, for tests). */
qg_status qg_cublaslt_describe(const qg_lt_shape *s);

/* Build (or find) the plan of a shape; *algo_count (may be NULL) gets how many algorithms the
 * heuristic offered (0..QG_CUBLASLT_MAX_ALGOS). Allocates: call it outside the launch path. */
qg_status qg_cublaslt_prepare(qg_context *ctx, const qg_lt_shape *s, int *algo_count);

/*
 * Run algorithm `algo` of the shape's plan (building the plan first if no prepare did) on
 * `stream`: asynchronous, no allocation or synchronization once the plan exists (with
 * p->leave_zero, plus a memset of the algorithm's workspace bytes on `stream`).
 * QG_ERR_UNSUPPORTED if the heuristic offered fewer than algo+1 algorithms.
 */
qg_status qg_cublaslt_run(qg_context *ctx, const qg_lt_shape *s, const qg_lt_ptrs *p, int algo,
                          void *stream);

/*
 * bf16 C[M,N] = A[M,K] * W[N,K]^T with cuBLASLt, row-major and contiguous, with algorithm `algo`
 * of the heuristic's list: the baseline of the benches. Uses a workspace the context's cuBLASLt
 * state allocates on first use.
 */
qg_status qg_cublaslt_gemm_bf16(qg_context *ctx, int64_t m, int64_t n, int64_t k, const void *a,
                                const void *w, void *c, void *stream, int algo);

/* Version of the loaded library (cublasLtGetVersion, e.g. 130100), 0 if not loaded. */
size_t qg_cublaslt_version(void);

/* Release the context's handle, plans and workspace (qg_context_destroy). */
void qg_cublaslt_context_destroy(qg_context *ctx);

#endif
