/*
 * cuBLASLt through dlopen (like the driver in cuda_backend.c): libcublasLt is never linked, so
 * libqgemm loads without it and a missing library is QG_ERR_NO_BLAS with the reason.
 *
 * Per context: one handle, made on first use, and a table of plans (layouts and the
 * heuristic's first algorithms per problem shape). A launch finds its plan, initializes the
 * operation descriptor on the stack (cublasLtMatmulDescInit writes into caller memory: no
 * allocation; per call, so concurrent launches with other scale/bias pointers share nothing)
 * and calls cublasLtMatmul, which is asynchronous and graph-capturable.
 */
#include "cublaslt.h"

#include "backend.h"

#include <cublasLt.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* X(field, prototype): types straight from cublasLt.h. The *Init_internal symbols are what
 * the header's inline cublasLt*Init() wrappers call (descriptors in caller memory). */
#define LT_SYMBOLS(X)                                  \
    X(Create, cublasLtCreate)                          \
    X(Destroy, cublasLtDestroy)                        \
    X(GetVersion, cublasLtGetVersion)                  \
    X(GetStatusString, cublasLtGetStatusString)        \
    X(DescInit, cublasLtMatmulDescInit_internal)       \
    X(DescSet, cublasLtMatmulDescSetAttribute)         \
    X(LayoutInit, cublasLtMatrixLayoutInit_internal)   \
    X(PrefInit, cublasLtMatmulPreferenceInit_internal) \
    X(PrefSet, cublasLtMatmulPreferenceSetAttribute)   \
    X(Heuristic, cublasLtMatmulAlgoGetHeuristic)       \
    X(Matmul, cublasLtMatmul)

static struct {
#define X_(field, proto) __typeof__(&proto) field;
    LT_SYMBOLS(X_)
#undef X_
} lt;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded;
static size_t lt_version;
static char load_why[1024];

static void load(void) {
    static const char *const sonames[] = {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"};
    const char *override = qg_getenv("QGEMM_CUBLASLT_LIBRARY", NULL);
    const char *const *names = override ? &override : sonames;
    const int count = override ? 1 : QG_ARRAY_SIZE(sonames);
    void *h = NULL;
    const char *path = NULL;
    char errs[640] = "";
    size_t used = 0;
    for (int i = 0; i < count && !h; i++) {
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h) {
            path = names[i];
        } else if (used < sizeof errs) {
            const char *e = dlerror();
            used += (size_t)snprintf(errs + used, sizeof errs - used, "%s%s", used ? "; " : "",
                                     e ? e : names[i]);
        }
    }
    if (!h) {
        snprintf(load_why, sizeof load_why, "cuBLASLt not found: tried %s (%s)%s",
                 override ? override : "libcublasLt.so.13, libcublasLt.so.12, libcublasLt.so", errs,
                 override ? " [from QGEMM_CUBLASLT_LIBRARY]"
                          : "; install the CUDA cuBLAS runtime or set QGEMM_CUBLASLT_LIBRARY");
        return;
    }
#define X_(field, proto)                                                          \
    lt.field = (__typeof__(&proto))dlsym(h, #proto);                              \
    if (!lt.field) {                                                              \
        snprintf(load_why, sizeof load_why,                                       \
                 "cuBLASLt library %s%s lacks symbol %s: it is "                  \
                 "too old or not cuBLASLt",                                       \
                 path, override ? " [from QGEMM_CUBLASLT_LIBRARY]" : "", #proto); \
        dlclose(h);                                                               \
        memset(&lt, 0, sizeof lt);                                                \
        return;                                                                   \
    }
    LT_SYMBOLS(X_)
#undef X_
    lt_version = lt.GetVersion();
    /* Kept open for the life of the process, like NVRTC: contexts hold handles into it. */
    loaded = 1;
}

qg_status qg_cublaslt_load(char *why, size_t why_len) {
    pthread_once(&load_once, load);
    if (loaded) return QG_SUCCESS;
    if (why && why_len) snprintf(why, why_len, "%s", load_why);
    return QG_ERR_NO_BLAS;
}

size_t qg_cublaslt_version(void) { return loaded ? lt_version : 0; }

/* Record a cuBLASLt error with its name; map it to a qg_status. */
static qg_status lt_fail(qg_context *ctx, cublasStatus_t r, const char *file, int line,
                         const char *what) {
    qg_status s;
    switch (r) {
    case CUBLAS_STATUS_NOT_SUPPORTED:
    case CUBLAS_STATUS_ARCH_MISMATCH: s = QG_ERR_UNSUPPORTED; break;
    case CUBLAS_STATUS_ALLOC_FAILED: s = QG_ERR_OUT_OF_MEMORY; break;
    case CUBLAS_STATUS_EXECUTION_FAILED: s = QG_ERR_LAUNCH; break;
    case CUBLAS_STATUS_INVALID_VALUE: s = QG_ERR_INVALID_ARGUMENT; break;
    default: s = QG_ERR_DEVICE; break;
    }
    return qg_set_error(ctx, s, file, line, "%s failed: %s (%d)", what,
                        lt.GetStatusString ? lt.GetStatusString(r) : "?", (int)r);
}
#define LT_TRY(ctx, call)                                            \
    do {                                                             \
        cublasStatus_t lt_r_ = (call);                               \
        if (lt_r_ != CUBLAS_STATUS_SUCCESS)                          \
            return lt_fail((ctx), lt_r_, __FILE__, __LINE__, #call); \
    } while (0)

/* ---------------------------------------------------------------- per-context state */

#define PLAN_BUCKETS 64

typedef struct lt_plan {
    qg_lt_shape key;
    cublasLtMatrixLayoutOpaque_t la, lb, lc; /* W (K x N, op T), A^T (K x M), C^T (N x M) */
    int count;                               /* algorithms the heuristic offered */
    cublasStatus_t heuristic_status;         /* why count is 0 */
    cublasLtMatmulAlgo_t algo[QG_CUBLASLT_MAX_ALGOS];
    size_t ws[QG_CUBLASLT_MAX_ALGOS];
    struct lt_plan *next;
} lt_plan;

typedef struct {
    cublasLtHandle_t handle;
    pthread_mutex_t lock; /* guards plans and ws; held for look-ups and inserts, never a call */
    lt_plan *plans[PLAN_BUCKETS];
    void *ws; /* workspace of qg_cublaslt_gemm_bf16 */
} lt_state;

/* Run `call` (a cublasStatus_t expression) with the context's device context current. */
#define LT_IN_CTX(ctx, result, call)                         \
    do {                                                     \
        int tok_;                                            \
        qg_status es_ = (ctx)->ops->ctx_enter((ctx), &tok_); \
        if (es_ != QG_SUCCESS) return es_;                   \
        (result) = (call);                                   \
        (ctx)->ops->ctx_leave((ctx), tok_);                  \
    } while (0)

static void destroy_handle(qg_context *ctx, cublasLtHandle_t h) {
    int tok;
    if (ctx->ops->ctx_enter(ctx, &tok) != QG_SUCCESS) return;
    lt.Destroy(h);
    ctx->ops->ctx_leave(ctx, tok);
}

static qg_status create_handle(qg_context *ctx, cublasLtHandle_t *h) {
    cublasStatus_t r;
    LT_IN_CTX(ctx, r, lt.Create(h));
    if (r != CUBLAS_STATUS_SUCCESS) return lt_fail(ctx, r, __FILE__, __LINE__, "cublasLtCreate");
    return QG_SUCCESS;
}

static qg_status get_state(qg_context *ctx, lt_state **out) {
    pthread_mutex_lock(&ctx->lock);
    lt_state *st = ctx->blas;
    pthread_mutex_unlock(&ctx->lock);
    if (st) {
        *out = st;
        return QG_SUCCESS;
    }
    QG_RETURN_IF(ctx, !ctx->ops->ctx_enter || !ctx->ops->ctx_leave, QG_ERR_UNSUPPORTED,
                 "cuBLASLt needs the CUDA backend (this context uses %s)", ctx->ops->name);
    char why[1024];
    QG_RETURN_IF(ctx, qg_cublaslt_load(why, sizeof why) != QG_SUCCESS, QG_ERR_NO_BLAS, "%s", why);
    st = calloc(1, sizeof *st);
    QG_RETURN_IF(ctx, !st, QG_ERR_OUT_OF_MEMORY, "no memory for the cuBLASLt state");
    qg_status s = create_handle(ctx, &st->handle);
    if (s != QG_SUCCESS) {
        free(st);
        return s;
    }
    pthread_mutex_init(&st->lock, NULL);
    pthread_mutex_lock(&ctx->lock);
    if (!ctx->blas) {
        ctx->blas = st;
        st = NULL;
    }
    *out = ctx->blas;
    pthread_mutex_unlock(&ctx->lock);
    if (st) { /* another thread made one first */
        destroy_handle(ctx, st->handle);
        pthread_mutex_destroy(&st->lock);
        free(st);
    }
    return QG_SUCCESS;
}

void qg_cublaslt_context_destroy(qg_context *ctx) {
    if (!ctx || !ctx->blas) return;
    lt_state *st = ctx->blas;
    for (int b = 0; b < PLAN_BUCKETS; b++)
        for (lt_plan *p = st->plans[b], *next; p; p = next) {
            next = p->next;
            free(p);
        }
    if (st->ws) ctx->ops->mem_free(ctx, st->ws);
    if (st->handle) destroy_handle(ctx, st->handle);
    pthread_mutex_destroy(&st->lock);
    free(st);
    ctx->blas = NULL;
}

/* ---------------------------------------------------------------- shapes and plans */

int qg_lt_align_class(const void *const *ptrs, int n) {
    uintptr_t bits = 0;
    for (int i = 0; i < n; i++) bits |= (uintptr_t)ptrs[i];
    return bits & 255 ? 16 : 256;
}

static int same_shape(const qg_lt_shape *a, const qg_lt_shape *b) {
    return a->kind == b->kind && a->m == b->m && a->n == b->n && a->k == b->k && a->lda == b->lda &&
           a->ldc == b->ldc && a->out_dtype == b->out_dtype && a->w_vec == b->w_vec &&
           a->a_vec == b->a_vec && a->has_bias == b->has_bias && a->align == b->align;
}

static unsigned shape_bucket(const qg_lt_shape *s) {
    const int64_t f[] = {s->kind,      s->m,     s->n,     s->k,        s->lda,  s->ldc,
                         s->out_dtype, s->w_vec, s->a_vec, s->has_bias, s->align};
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < QG_ARRAY_SIZE(f); i++) h = (h ^ (uint64_t)f[i]) * 1099511628211ull;
    return (unsigned)(h % PLAN_BUCKETS);
}

static cudaDataType_t cuda_type(qg_dtype t) {
    switch (t) {
    case QG_DTYPE_F16: return CUDA_R_16F;
    case QG_DTYPE_FP8_E4M3: return CUDA_R_8F_E4M3;
    case QG_DTYPE_INT8: return CUDA_R_8I;
    case QG_DTYPE_INT32: return CUDA_R_32I;
    case QG_DTYPE_F32: return CUDA_R_32F;
    default: return CUDA_R_16BF;
    }
}

static qg_dtype input_dtype(qg_lt_kind k) {
    return k == QG_LT_FP8    ? QG_DTYPE_FP8_E4M3
           : k == QG_LT_INT8 ? QG_DTYPE_INT8
           : k == QG_LT_F16  ? QG_DTYPE_F16
                             : QG_DTYPE_BF16;
}

static qg_dtype output_dtype(const qg_lt_shape *s) {
    return s->kind == QG_LT_INT8   ? QG_DTYPE_INT32
           : s->kind == QG_LT_BF16 ? QG_DTYPE_BF16
           : s->kind == QG_LT_F16  ? QG_DTYPE_F16
                                   : s->out_dtype;
}

#define DESC_SET(ctx, d, attr, value) LT_TRY(ctx, lt.DescSet((d), (attr), &(value), sizeof(value)))

/* The operation descriptor of a shape with these scale and bias pointers, in `d`. */
static qg_status make_desc(qg_context *ctx, const qg_lt_shape *s, const void *w_scale,
                           const void *a_scale, const void *bias, cublasLtMatmulDescOpaque_t *d) {
    const int i8 = s->kind == QG_LT_INT8;
    LT_TRY(ctx, lt.DescInit(d, sizeof *d, i8 ? CUBLAS_COMPUTE_32I : CUBLAS_COMPUTE_32F,
                            i8 ? CUDA_R_32I : CUDA_R_32F));
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    DESC_SET(ctx, d, CUBLASLT_MATMUL_DESC_TRANSA, ta);
    DESC_SET(ctx, d, CUBLASLT_MATMUL_DESC_TRANSB, tb);
    if (s->kind == QG_LT_FP8) {
        /* cuBLASLt's A is our weight, its B our activations. */
        DESC_SET(ctx, d, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, w_scale);
        DESC_SET(ctx, d, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, a_scale);
        if (s->w_vec || s->a_vec) {
            const int32_t am = s->w_vec ? CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F
                                        : CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F;
            const int32_t bm = s->a_vec ? CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F
                                        : CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F;
            DESC_SET(ctx, d, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, am);
            DESC_SET(ctx, d, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, bm);
        }
    }
    if (s->has_bias) {
        const cublasLtEpilogue_t e = CUBLASLT_EPILOGUE_BIAS;
        const int32_t bt = (int32_t)cuda_type(s->out_dtype);
        DESC_SET(ctx, d, CUBLASLT_MATMUL_DESC_EPILOGUE, e);
        DESC_SET(ctx, d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);
        DESC_SET(ctx, d, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, bt);
    }
    return QG_SUCCESS;
}

static const char *kind_name(qg_lt_kind k) {
    return k == QG_LT_FP8 ? "fp8" : k == QG_LT_INT8 ? "int8" : k == QG_LT_F16 ? "f16" : "bf16";
}

static qg_status check_shape(qg_context *ctx, const qg_lt_shape *s) {
    QG_RETURN_IF(ctx, s->m <= 0 || s->n <= 0 || s->k <= 0 || s->lda < s->k || s->ldc < s->n,
                 QG_ERR_INVALID_ARGUMENT,
                 "cuBLASLt %s: bad shape M=%lld N=%lld K=%lld lda=%lld "
                 "ldc=%lld",
                 kind_name(s->kind), (long long)s->m, (long long)s->n, (long long)s->k,
                 (long long)s->lda, (long long)s->ldc);
    QG_RETURN_IF(ctx, s->align != 16 && s->align != 256, QG_ERR_INVALID_ARGUMENT,
                 "cuBLASLt: alignment class %d is not 16 or 256", s->align);
    /* Outer-vector (per-row / per-token) fp8 scaling arrived in cuBLAS 12.9. */
    QG_RETURN_IF(ctx, s->kind == QG_LT_FP8 && (s->w_vec || s->a_vec) && lt_version < 120900,
                 QG_ERR_UNSUPPORTED,
                 "cuBLASLt %zu has no row-wise fp8 scaling (needs 12.9 or "
                 "newer)",
                 lt_version);
    return QG_SUCCESS;
}

/* Layouts of a plan, and the descriptor and preference its heuristic query uses. */
static qg_status plan_inputs(qg_context *ctx, const qg_lt_shape *s, lt_plan *pl,
                             cublasLtMatmulDescOpaque_t *desc,
                             cublasLtMatmulPreferenceOpaque_t *pref) {
    pl->key = *s;
    const cudaDataType_t in = cuda_type(input_dtype(s->kind)), out = cuda_type(output_dtype(s));
    LT_TRY(ctx, lt.LayoutInit(&pl->la, sizeof pl->la, in, (uint64_t)s->k, (uint64_t)s->n, s->k));
    LT_TRY(ctx, lt.LayoutInit(&pl->lb, sizeof pl->lb, in, (uint64_t)s->k, (uint64_t)s->m, s->lda));
    LT_TRY(ctx, lt.LayoutInit(&pl->lc, sizeof pl->lc, out, (uint64_t)s->n, (uint64_t)s->m, s->ldc));
    /* The heuristic reads pointer values (never the memory) for their alignment: stand-ins of
     * the shape's alignment class. */
    const void *stand_in = (const void *)(uintptr_t)s->align;
    QG_CHECK(make_desc(ctx, s, stand_in, stand_in, stand_in, desc));
    LT_TRY(ctx, lt.PrefInit(pref, sizeof *pref));
    const uint64_t ws = QG_CUBLASLT_WORKSPACE;
    const uint32_t align = (uint32_t)s->align;
    LT_TRY(ctx, lt.PrefSet(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    const cublasLtMatmulPreferenceAttributes_t aligns[] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (int i = 0; i < QG_ARRAY_SIZE(aligns); i++)
        LT_TRY(ctx, lt.PrefSet(pref, aligns[i], &align, sizeof align));
    /* Split-K partial sums stay in the compute type: the in-place and output-type schemes round
     * every partial to bf16/f16, which the H100 showed as errors past the fp32-accumulation
     * bound (M=1000 N=1792 K=4096, bf16 out). */
    const uint32_t reduction = QG_CUBLASLT_REDUCTION_MASK;
    LT_TRY(ctx, lt.PrefSet(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &reduction,
                           sizeof reduction));
    return QG_SUCCESS;
}

static qg_status build_plan(qg_context *ctx, lt_state *st, const qg_lt_shape *s, lt_plan *pl) {
    cublasLtMatmulDescOpaque_t desc;
    cublasLtMatmulPreferenceOpaque_t pref;
    QG_CHECK(plan_inputs(ctx, s, pl, &desc, &pref));
    cublasLtMatmulHeuristicResult_t res[QG_CUBLASLT_MAX_ALGOS];
    memset(res, 0, sizeof res);
    int n = 0;
    cublasStatus_t r;
    LT_IN_CTX(ctx, r,
              lt.Heuristic(st->handle, &desc, &pl->la, &pl->lb, &pl->lc, &pl->lc, &pref,
                           QG_CUBLASLT_MAX_ALGOS, res, &n));
    pl->heuristic_status = r;
    if (r == CUBLAS_STATUS_NOT_SUPPORTED || r == CUBLAS_STATUS_INVALID_VALUE) return QG_SUCCESS;
    if (r != CUBLAS_STATUS_SUCCESS)
        return lt_fail(ctx, r, __FILE__, __LINE__, "cublasLtMatmulAlgoGetHeuristic");
    for (int i = 0; i < n && i < QG_CUBLASLT_MAX_ALGOS; i++) {
        if (res[i].state != CUBLAS_STATUS_SUCCESS) continue;
        pl->algo[pl->count] = res[i].algo;
        pl->ws[pl->count++] = res[i].workspaceSize;
    }
    return QG_SUCCESS;
}

static lt_plan *find_plan(lt_state *st, const qg_lt_shape *s, unsigned b) {
    for (lt_plan *p = st->plans[b]; p; p = p->next)
        if (same_shape(&p->key, s)) return p;
    return NULL;
}

static qg_status get_plan(qg_context *ctx, lt_state *st, const qg_lt_shape *s, lt_plan **out) {
    const unsigned b = shape_bucket(s);
    pthread_mutex_lock(&st->lock);
    *out = find_plan(st, s, b);
    pthread_mutex_unlock(&st->lock);
    if (*out) return QG_SUCCESS;
    QG_CHECK(check_shape(ctx, s));
    lt_plan *pl = calloc(1, sizeof *pl);
    QG_RETURN_IF(ctx, !pl, QG_ERR_OUT_OF_MEMORY, "no memory for a cuBLASLt plan");
    qg_status r = build_plan(ctx, st, s, pl);
    if (r != QG_SUCCESS) {
        free(pl);
        return r;
    }
    pthread_mutex_lock(&st->lock);
    *out = find_plan(st, s, b);
    if (!*out) { /* else another thread built it meanwhile */
        pl->next = st->plans[b];
        st->plans[b] = pl;
        *out = pl;
        pl = NULL;
    }
    pthread_mutex_unlock(&st->lock);
    free(pl);
    return QG_SUCCESS;
}

qg_status qg_cublaslt_describe(const qg_lt_shape *s) {
    QG_RETURN_IF(NULL, !s, QG_ERR_NULL_POINTER, "shape is NULL");
    char why[1024];
    QG_RETURN_IF(NULL, qg_cublaslt_load(why, sizeof why) != QG_SUCCESS, QG_ERR_NO_BLAS, "%s", why);
    QG_CHECK(check_shape(NULL, s));
    lt_plan pl;
    memset(&pl, 0, sizeof pl);
    cublasLtMatmulDescOpaque_t desc;
    cublasLtMatmulPreferenceOpaque_t pref;
    return plan_inputs(NULL, s, &pl, &desc, &pref);
}

qg_status qg_cublaslt_prepare(qg_context *ctx, const qg_lt_shape *s, int *algo_count) {
    QG_RETURN_IF(NULL, !ctx, QG_ERR_NULL_POINTER, "ctx is NULL");
    QG_RETURN_IF(ctx, !s, QG_ERR_NULL_POINTER, "shape is NULL");
    lt_state *st;
    QG_CHECK(get_state(ctx, &st));
    lt_plan *pl;
    QG_CHECK(get_plan(ctx, st, s, &pl));
    if (algo_count) *algo_count = pl->count;
    return QG_SUCCESS;
}

qg_status qg_cublaslt_run(qg_context *ctx, const qg_lt_shape *s, const qg_lt_ptrs *p, int algo,
                          void *stream) {
    QG_RETURN_IF(NULL, !ctx, QG_ERR_NULL_POINTER, "ctx is NULL");
    QG_RETURN_IF(ctx, !s || !p || !p->a || !p->w || !p->c, QG_ERR_NULL_POINTER,
                 "cuBLASLt: shape, a, w and c must not be NULL");
    lt_state *st;
    QG_CHECK(get_state(ctx, &st));
    lt_plan *pl;
    QG_CHECK(get_plan(ctx, st, s, &pl));
    QG_RETURN_IF(ctx, algo < 0 || algo >= pl->count, QG_ERR_UNSUPPORTED,
                 "cuBLASLt's heuristic offers %d algorithm(s) for %s M=%lld N=%lld K=%lld%s%s%s "
                 "(%s); #%d was asked for",
                 pl->count, kind_name(s->kind), (long long)s->m, (long long)s->n, (long long)s->k,
                 s->w_vec ? " per-row-weight" : "", s->a_vec ? " per-token" : "",
                 s->has_bias ? " bias" : "", lt.GetStatusString(pl->heuristic_status), algo);
    QG_RETURN_IF(ctx, pl->ws[algo] && (!p->workspace || p->workspace_bytes < pl->ws[algo]),
                 QG_ERR_INVALID_ARGUMENT,
                 "cuBLASLt algorithm #%d needs %zu bytes of workspace, "
                 "got %zu",
                 algo, pl->ws[algo], p->workspace ? p->workspace_bytes : 0);
    cublasLtMatmulDescOpaque_t desc;
    QG_CHECK(make_desc(ctx, s, p->w_scale, p->a_scale, p->bias, &desc));
    const float one_f = 1.0f, zero_f = 0.0f;
    const int32_t one_i = 1, zero_i = 0;
    const int i8 = s->kind == QG_LT_INT8;
    const void *alpha = i8 ? (const void *)&one_i : (const void *)&one_f;
    const void *beta = i8 ? (const void *)&zero_i : (const void *)&zero_f;
    /* leave_zero: cuBLASLt may write only the bytes its algorithm needs (exactly what the
     * heuristic reported), and those are zeroed after it, in stream order. */
    const size_t ws_bytes = !p->workspace ? 0 : p->leave_zero ? pl->ws[algo] : p->workspace_bytes;
    QG_RETURN_IF(ctx, p->leave_zero && ws_bytes && !ctx->ops->memset_d8_async, QG_ERR_UNSUPPORTED,
                 "cuBLASLt: backend %s has no asynchronous memset", ctx->ops->name);
    cublasStatus_t r;
    LT_IN_CTX(ctx, r,
              lt.Matmul(st->handle, &desc, alpha, p->w, &pl->la, p->a, &pl->lb, beta, p->c, &pl->lc,
                        p->c, &pl->lc, &pl->algo[algo], p->workspace, ws_bytes, (cudaStream_t)stream));
    if (r != CUBLAS_STATUS_SUCCESS) return lt_fail(ctx, r, __FILE__, __LINE__, "cublasLtMatmul");
    if (p->leave_zero && ws_bytes)
        return ctx->ops->memset_d8_async(ctx, p->workspace, 0, ws_bytes, stream);
    return QG_SUCCESS;
}

qg_status qg_cublaslt_gemm_bf16(qg_context *ctx, int64_t m, int64_t n, int64_t k, const void *a,
                                const void *w, void *c, void *stream, int algo) {
    QG_RETURN_IF(NULL, !ctx, QG_ERR_NULL_POINTER, "ctx is NULL");
    lt_state *st;
    QG_CHECK(get_state(ctx, &st));
    pthread_mutex_lock(&st->lock);
    qg_status s = st->ws ? QG_SUCCESS : ctx->ops->mem_alloc(ctx, &st->ws, QG_CUBLASLT_WORKSPACE);
    void *ws = st->ws;
    pthread_mutex_unlock(&st->lock);
    QG_CHECK(s);
    const void *ptrs[] = {a, w, c};
    const qg_lt_shape shape = {.kind = QG_LT_BF16,
                               .m = m,
                               .n = n,
                               .k = k,
                               .lda = k,
                               .ldc = n,
                               .out_dtype = QG_DTYPE_BF16,
                               .align = qg_lt_align_class(ptrs, 3)};
    const qg_lt_ptrs p = {.a = a,
                          .w = w,
                          .c = c,
                          .workspace = ws,
                          .workspace_bytes = QG_CUBLASLT_WORKSPACE};
    return qg_cublaslt_run(ctx, &shape, &p, algo, stream);
}
