/*
 * qgemm — quantized GEMM kernels for LLM inference, with a per-shape autotuner.
 *
 * This header is the whole public surface of libqgemm. It is plain C11 and includes
 * no CUDA header: the library opens libcuda, libnvrtc, libcublasLt (and libamdhip64 /
 * hiprtc for AMD) with dlopen when a context is created, so a program linked against
 * libqgemm loads on any machine and reports a missing driver or GPU as a status.
 *
 * Conventions
 *  - Every call returns a qg_status; QG_SUCCESS is 0. Calls that take a context record
 *    a detailed message there (qg_last_error); calls without one record it per thread
 *    (qg_last_error(NULL)).
 *  - Parameter structs start with `struct_size`; fill them with the matching *_init()
 *    function, then change the fields you need. Newer libraries accept older structs.
 *  - The caller owns every buffer it passes. Device pointers are plain CUDA device
 *    pointers (from cudaMalloc, torch, ...) in the device's primary context; streams are
 *    cudaStream_t / CUstream values passed as void*. NULL is the legacy default stream.
 *  - Matrices are row-major. A is the activation [M, K]; the weight W is [N, K] (the
 *    layout of torch.nn.Linear.weight), stored packed; C = A * W^T is [M, N].
 *  - Packed layouts are defined byte by byte in docs/formats.md (QG_FORMAT_VERSION).
 */
#ifndef QGEMM_H
#define QGEMM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define QG_API __declspec(dllexport)
#elif defined(__GNUC__)
#define QG_API __attribute__((visibility("default")))
#else
#define QG_API
#endif

/* ---------------------------------------------------------------- versions */

#define QG_VERSION_MAJOR 0
#define QG_VERSION_MINOR 1
#define QG_VERSION_PATCH 0
#define QG_VERSION_NUMBER (QG_VERSION_MAJOR * 10000 + QG_VERSION_MINOR * 100 + QG_VERSION_PATCH)
#define QG_VERSION_STRING "0.1.0"
/* Version of the packed weight formats of docs/formats.md. Bumped on any layout change. */
#define QG_FORMAT_VERSION 1

/** Version of the library actually loaded (compare with QG_VERSION_NUMBER). */
QG_API unsigned qg_version_number(void);
QG_API const char *qg_version_string(void);
/** QG_FORMAT_VERSION of the library actually loaded (packed data must match it). */
QG_API int qg_format_version(void);

/* ---------------------------------------------------------------- status */

/* X(name, value, description). Values are stable across releases. */
#define QG_STATUS_LIST(X)                                                          \
    X(QG_SUCCESS, 0, "success")                                                    \
    X(QG_ERR_INVALID_ARGUMENT, 1, "invalid argument")                              \
    X(QG_ERR_NULL_POINTER, 2, "a required pointer is NULL")                        \
    X(QG_ERR_OUT_OF_MEMORY, 3, "out of host or device memory")                     \
    X(QG_ERR_UNSUPPORTED, 4, "problem not supported by any kernel")                \
    X(QG_ERR_UNSUPPORTED_ARCH, 5, "scheme not supported on this GPU architecture") \
    X(QG_ERR_NO_DRIVER, 6, "GPU driver library not found")                         \
    X(QG_ERR_NO_DEVICE, 7, "no usable GPU device")                                 \
    X(QG_ERR_DRIVER_TOO_OLD, 8, "GPU driver too old")                              \
    X(QG_ERR_NO_COMPILER, 9, "runtime compiler (NVRTC/hiprtc) not found")          \
    X(QG_ERR_COMPILE, 10, "kernel compilation failed")                             \
    X(QG_ERR_LAUNCH, 11, "kernel launch failed")                                   \
    X(QG_ERR_DEVICE, 12, "GPU driver call failed")                                 \
    X(QG_ERR_IO, 13, "file input/output error")                                    \
    X(QG_ERR_CORRUPT, 14, "file is corrupt or truncated")                          \
    X(QG_ERR_DB_MISMATCH, 15, "tuning database was made for another environment")  \
    X(QG_ERR_NOT_FOUND, 16, "not found")                                           \
    X(QG_ERR_NO_BLAS, 17, "cuBLASLt not found")                                    \
    X(QG_ERR_INTERNAL, 18, "internal error")

typedef enum {
#define QG_X_(name, value, desc) name = value,
    QG_STATUS_LIST(QG_X_)
#undef QG_X_
} qg_status;

/** "QG_ERR_NO_DEVICE" for QG_ERR_NO_DEVICE; "QG_UNKNOWN_STATUS" otherwise. Never NULL. */
QG_API const char *qg_status_name(qg_status s);
/** One-line description of a status. Never NULL. */
QG_API const char *qg_status_string(qg_status s);

typedef struct qg_context qg_context;

/**
 * Detailed message of the last failing call: on `ctx` if it is not NULL, otherwise the
 * calling thread's last context-free call (and context creation). Empty string if none.
 * The pointer stays valid until the next failing call on the same context/thread.
 */
QG_API const char *qg_last_error(const qg_context *ctx);

/* ---------------------------------------------------------------- types */

typedef enum {
    QG_DTYPE_F32 = 0,
    QG_DTYPE_F16 = 1,
    QG_DTYPE_BF16 = 2,
    QG_DTYPE_FP8_E4M3 = 3,
    QG_DTYPE_INT8 = 4,
    QG_DTYPE_INT4 = 5, /* packed two per byte, see docs/formats.md */
    QG_DTYPE_INT32 = 6,
    QG_DTYPE_F64 = 7,
    QG_DTYPE_COUNT_
} qg_dtype;

/** Short name ("bf16", "fp8_e4m3", ...) or "?" for an unknown value. */
QG_API const char *qg_dtype_name(qg_dtype t);

/*
 * Quantization schemes of the catalog.
 *  W4A16      int4 weights, group-wise scales (group 32/64/128 or per-channel), symmetric
 *             or with zero points; bf16/fp16 activations (torchao Int4WeightOnlyConfig).
 *  W8A16      int8 weights, per-channel scales; bf16/fp16 activations.
 *  W8A8_INT8  int8 weights x int8 activations, per-token activation scales and per-channel
 *             (or per-tensor) weight scales (Int8DynamicActivationInt8WeightConfig).
 *  W8A8_FP8   e4m3 weights x e4m3 activations, per-token or per-tensor activation scales and
 *             per-row or per-tensor weight scales (Float8DynamicActivationFloat8WeightConfig).
 *  W4A8_FP8   int4 weights (group 128) x e4m3 per-token activations.
 *  W4A8_INT8  int4 weights (group 32..128 or per-channel) x int8 per-token activations (8da4w).
 *  SP24_*     2:4 semi-structured sparse weights (fp8 / int8 with per-row scales, bf16).
 */
typedef enum {
    QG_SCHEME_W4A16 = 0,
    QG_SCHEME_W8A16 = 1,
    QG_SCHEME_W8A8_INT8 = 2,
    QG_SCHEME_W8A8_FP8 = 3,
    QG_SCHEME_W4A8_FP8 = 4,
    QG_SCHEME_W4A8_INT8 = 5,
    QG_SCHEME_SP24_FP8 = 6,
    QG_SCHEME_SP24_INT8 = 7,
    QG_SCHEME_SP24_BF16 = 8,
    QG_SCHEME_COUNT_
} qg_scheme;

/** Stable short name used in the CLI and the tuning database ("w4a16", "w8a8-fp8", ...). */
QG_API const char *qg_scheme_name(qg_scheme s);
/** Parse a name of qg_scheme_name; QG_ERR_NOT_FOUND if unknown. */
QG_API qg_status qg_scheme_from_name(const char *name, qg_scheme *out);

typedef enum {
    QG_SCALE_PER_ROW = 0,    /* one scale per weight row (output channel) / per token */
    QG_SCALE_PER_TENSOR = 1, /* one scale for the whole tensor */
    QG_SCALE_PER_GROUP = 2,  /* one scale per group of `group_size` along K (int4) */
} qg_scale_granularity;

/*
 * W4A16 zero points (docs/formats.md, "W4A16 weights"): the value of code u in [0, 15] with
 * scale s and zero point z of its group is
 *  NONE     (u - 8) * s                        symmetric, no zero buffer
 *  INTEGER  (u - z) * s, z an integer in [0, 15] (qg_quantize_weight makes these)
 *  FLOAT    (u - 8) * s + z, z any value of the activation dtype, the exact result rounded
 *           once to the activation dtype (what one fma in that dtype gives). Only converters
 *           write these (qgemm.torchao_compat); qg_quantize_weight refuses the kind.
 * The zero buffer has the same size and index as the scales for INTEGER and FLOAT.
 */
typedef enum {
    QG_ZERO_POINT_NONE = 0,
    QG_ZERO_POINT_INTEGER = 1,
    QG_ZERO_POINT_FLOAT = 2,
} qg_zero_point_kind;

/*
 * A GEMM problem: C[M,N] = dequant(A)[M,K] * dequant(W)[N,K]^T (+ bias[N]).
 * For weight packing only N, K and the quantization fields matter (M is ignored).
 */
typedef struct {
    size_t struct_size;
    qg_scheme scheme;
    int64_t m, n, k;
    /* Int4 schemes: 32, 64, 128, or 0 for per-channel (one group spanning K). */
    int32_t group_size;
    /* W4A16 only: the zero-point kind, a qg_zero_point_kind: QG_ZERO_POINT_NONE (0,
     * symmetric), QG_ZERO_POINT_INTEGER (1, integer zero points) or QG_ZERO_POINT_FLOAT (2,
     * float zero points as torchao 0.18 Int4WeightOnlyConfig stores them). Other schemes: 0. */
    int32_t has_zero_point;
    /* Weight-only schemes: activation dtype, QG_DTYPE_BF16 or QG_DTYPE_F16. */
    qg_dtype act_dtype;
    /* Output dtype, QG_DTYPE_BF16 or QG_DTYPE_F16 (bias, if any, has this dtype too). */
    qg_dtype out_dtype;
    /* 8-bit weight schemes: QG_SCALE_PER_ROW or QG_SCALE_PER_TENSOR weight scales. */
    qg_scale_granularity weight_scale;
    /* Dynamic-activation schemes: QG_SCALE_PER_ROW (per token) or QG_SCALE_PER_TENSOR. */
    qg_scale_granularity act_scale;
    int32_t has_bias;
} qg_problem;

/** Defaults: W4A16, group 128, symmetric, bf16 in and out, per-row scales, no bias. */
QG_API void qg_problem_init(qg_problem *p);

/**
 * Check a problem for internal consistency (M, N, K in [1, 2^31), group divides K, dtypes
 * allowed for the scheme, has_zero_point a qg_zero_point_kind of W4A16 and 0 elsewhere, ...).
 * Needs no device. QG_ERR_INVALID_ARGUMENT with a message
 * otherwise (QG_ERR_NULL_POINTER for NULL).
 */
QG_API qg_status qg_problem_validate(const qg_problem *p);

/* ---------------------------------------------------------------- packed weights (host) */

/** Sizes in bytes of the buffers a packed weight of problem `p` (N, K, scheme...) needs. */
typedef struct {
    size_t weight_bytes; /* packed weight values */
    size_t scale_bytes;  /* weight scales (f32 or the activation dtype, see formats.md) */
    size_t zero_bytes;   /* zero points (0 when the scheme has none) */
    size_t meta_bytes;   /* 2:4 sparsity metadata (0 for dense schemes) */
} qg_packed_sizes;

/** Buffers of a packed weight; host pointers for the host calls, device ones for qg_gemm. */
typedef struct {
    void *weight;
    void *scale;
    void *zero;
    void *meta;
} qg_packed_weight;

QG_API qg_status qg_packed_sizes_get(const qg_problem *p, qg_packed_sizes *out);

/**
 * Quantize and pack a float weight W[N,K] (row stride `ldw` floats, >= K) on the host into
 * the caller's buffers (sized by qg_packed_sizes_get). Int4: min-max asymmetric with zero
 * points or symmetric absmax; int8: per-channel absmax; fp8: per-row or per-tensor absmax
 * with saturation; 2:4: magnitude pruning (keep the 2 largest of each 4) then compression.
 * NaN/Inf policy (every scheme alike): a weight that is NaN or infinite is rejected before
 * anything is written.
 * \retval QG_ERR_INVALID_ARGUMENT  the problem does not validate, ldw < K, or a weight is NaN or
 *                                 infinite (the message names its row and column), or a
 *                                 finite weight gives a scale the activation dtype cannot hold,
 *                                 or has_zero_point is QG_ZERO_POINT_FLOAT (never made here)
 * \retval QG_ERR_NULL_POINTER      p, w, out or a buffer the scheme needs is NULL
 * \retval QG_ERR_OUT_OF_MEMORY     no memory for the host-side temporaries
 */
QG_API qg_status qg_quantize_weight(const qg_problem *p, const float *w, int64_t ldw,
                                    const qg_packed_weight *out);

/** Same, from bf16 weights (raw uint16 bit patterns); same statuses and NaN/Inf policy. */
QG_API qg_status qg_quantize_weight_bf16(const qg_problem *p, const uint16_t *w, int64_t ldw,
                                         const qg_packed_weight *out);

/** Unpack and dequantize a packed host weight back to float W[N,K] (row stride ldw). Exact;
 *  W4A16 float zero points: their value rounded once to the activation dtype (see
 *  qg_zero_point_kind), which qg_reference_gemm uses too. */
QG_API qg_status qg_dequantize_weight_host(const qg_problem *p, const qg_packed_weight *in,
                                           float *w, int64_t ldw);

/**
 * Quantize activations on the host, the CPU twin of qg_quantize_activations (bit-exact with
 * it): a[M,K] of type p->act_dtype (bf16 or f16 bits) into the scheme's activation type
 * (e4m3 / int8) with per-token (or per-tensor) f32 scales: scale = max(absmax/448 (or /127),
 * 1e-12), q = round_nearest_even_saturate(a / scale). `q` receives M*K bytes; `scale` M
 * floats (1 if per-tensor).
 * NaN/Inf policy: an activation that is NaN or infinite is rejected before anything is written
 * (the GPU twin does not check; see qg_quantize_activations).
 * \retval QG_ERR_INVALID_ARGUMENT  the problem does not validate, the scheme has no activation
 *                                 quantization, or an activation is NaN or infinite (the
 *                                 message names its row and column)
 * \retval QG_ERR_NULL_POINTER      a, q or scale is NULL
 */
QG_API qg_status qg_quantize_activations_host(const qg_problem *p, const uint16_t *a, void *q,
                                              float *scale);

/**
 * Reference GEMM on the host with float64 accumulation, reading the packed format:
 * the ground truth every GPU kernel is tested against. `a` is [M,K] in the scheme's
 * activation type (bf16/f16 bits, or e4m3/int8 bytes with `a_scale`[M or 1] for the
 * dynamic-activation schemes); `bias` [N] in p->out_dtype or NULL; `c` receives M*N
 * doubles (before rounding to the output dtype).
 */
QG_API qg_status qg_reference_gemm(const qg_problem *p, const void *a, const float *a_scale,
                                   const qg_packed_weight *w, const void *bias, double *c);

/* Scalar conversions used by the formats (exposed for tests and bindings). */
QG_API float qg_bf16_to_f32(uint16_t v);
QG_API uint16_t qg_f32_to_bf16(float v); /* round to nearest even, NaN kept */
QG_API float qg_f16_to_f32(uint16_t v);
QG_API uint16_t qg_f32_to_f16(float v); /* round to nearest even */
QG_API float qg_e4m3_to_f32(uint8_t v);
QG_API uint8_t qg_f32_to_e4m3(float v); /* round to nearest even, saturating to +-448 */

/* ---------------------------------------------------------------- context */

typedef enum {
    QG_BACKEND_AUTO = 0, /* CUDA if a driver is found, else HIP */
    QG_BACKEND_CUDA = 1,
    QG_BACKEND_HIP = 2,
} qg_backend_kind;

typedef struct {
    size_t struct_size;
    qg_backend_kind backend;
    int device;             /* device ordinal, default 0 */
    const char *cache_dir;  /* JIT disk cache; NULL = $QGEMM_CACHE_DIR or XDG default */
    int disable_disk_cache; /* 1: compile in memory only */
    const char *tuning_db;  /* NULL = $QGEMM_TUNING_DB, else the shipped file for this GPU;
                               "" = no database (heuristic dispatch) */
    int verbose;            /* 1: log compiles and database decisions to stderr */
} qg_context_params;

QG_API void qg_context_params_init(qg_context_params *p);

/**
 * Create a context on one device: opens the driver and NVRTC, retains the device's primary
 * context. `params` may be NULL for defaults.
 * \retval QG_ERR_NO_DRIVER     libcuda / libamdhip64 could not be opened (message says which)
 * \retval QG_ERR_NO_DEVICE     the driver loaded but found no (such) device
 * \retval QG_ERR_NO_COMPILER   NVRTC / hiprtc could not be opened
 * \retval QG_ERR_DRIVER_TOO_OLD
 * \retval QG_ERR_INVALID_ARGUMENT  bad params (struct_size, device < 0), or the JIT cache
 *                              directory (params.cache_dir, $QGEMM_CACHE_DIR or the default) is
 *                              longer than 1023 characters (the message says which); a
 *                              directory that cannot be made only turns the disk cache off
 * \retval QG_ERR_NULL_POINTER  out is NULL
 */
QG_API qg_status qg_context_create(qg_context **out, const qg_context_params *params);
/** Destroy a context and everything it created. NULL is a no-op. */
QG_API void qg_context_destroy(qg_context *ctx);

typedef struct {
    char name[256]; /* "NVIDIA H100 80GB HBM3" */
    char arch[16];  /* "sm_90a", "sm_80", "gfx90a" */
    int cc_major, cc_minor;
    int sm_count;
    int l2_bytes;
    int smem_optin;       /* max dynamic shared memory per block (bytes) */
    int driver_version;   /* e.g. 13000 */
    int compiler_version; /* NVRTC major*1000 + minor*10 */
    size_t total_mem;
    qg_backend_kind backend;
} qg_device_info;

QG_API qg_status qg_context_device_info(qg_context *ctx, qg_device_info *out);

/* Device memory helpers (for tests, tools and C hosts without a CUDA runtime). */
QG_API qg_status qg_malloc(qg_context *ctx, void **dptr, size_t bytes);
QG_API qg_status qg_free(qg_context *ctx, void *dptr); /* NULL is a no-op */
QG_API qg_status qg_memcpy_htod(qg_context *ctx, void *dst, const void *src, size_t bytes);
QG_API qg_status qg_memcpy_dtoh(qg_context *ctx, void *dst, const void *src, size_t bytes);
QG_API qg_status qg_memset_d8(qg_context *ctx, void *dst, unsigned char v, size_t bytes);
QG_API qg_status qg_synchronize(qg_context *ctx);

/* ---------------------------------------------------------------- GPU operations */

/** Device buffers of one GEMM call. */
typedef struct {
    size_t struct_size;
    const void *a;       /* [M,K] activations; row stride lda elements */
    const void *a_scale; /* f32 [M] (per token) or [1]; dynamic-activation schemes */
    qg_packed_weight w;  /* device copies of the packed weight buffers */
    const void *bias;    /* [N] in out_dtype, if problem.has_bias */
    void *c;             /* [M,N] out_dtype; row stride ldc elements */
    int64_t lda, ldc;    /* 0 = K and N */
    /* Optional scratch (split-K partials, tile counters, cuBLASLt's scratch), at least
     * qg_gemm_workspace_size bytes. Zero it once before its first use: every kernel family,
     * cuBLASLt's included, leaves it zeroed when it finishes (in stream order), so it can be
     * reused by any GEMM without a memset; one buffer must not serve two kernels that may run
     * at the same time (on different streams).
     * NULL: the context's own, one per stream, so one context may run GEMMs concurrently on
     * several streams from several threads. A stream's is allocated and zeroed (in its order)
     * the first time it needs one, at least as large as what qg_prepare sized, and replaced by
     * a larger one (after synchronizing the context) when a larger problem first runs on it;
     * all are freed by qg_context_destroy. Under graph capture nothing is allocated: a
     * capturing stream whose own is missing or too small uses the NULL stream's (the one
     * qg_prepare sizes), so graphs captured on streams that never ran such a GEMM uncaptured
     * share that buffer and must not be replayed concurrently with each other (to avoid it,
     * run one uncaptured call on each capture stream first, or pass a workspace); a later
     * qg_prepare that enlarges it invalidates those graphs. */
    void *workspace;
    size_t workspace_bytes;
} qg_gemm_args;

QG_API void qg_gemm_args_init(qg_gemm_args *a);

/**
 * Compile (or load from the disk cache) and look up the kernels for these problems, and size
 * the NULL stream's workspace, so that later qg_gemm calls for them do no compilation,
 * allocation, synchronization or file access (safe under CUDA graph capture). Exceptions, never
 * while the stream captures a graph: the first call that needs a workspace on a stream other
 * than NULL allocates that stream's (once; see qg_gemm_args.workspace), and on CUDA the first
 * launch of a kernel with a launch geometry on a stream builds the small graph later such
 * launches go through (at most 4 per stream and kernel; QGEMM_LAUNCH=direct: plain
 * cuLaunchKernel instead; docs/ARCHITECTURE.md, "Launching").
 */
QG_API qg_status qg_prepare(qg_context *ctx, const qg_problem *problems, int count);

/**
 * C = A * W^T (+ bias) on `stream`, with the kernel the tuning database (or the built-in
 * heuristic) picks for this shape. Asynchronous; returns launch errors only.
 * \retval QG_ERR_UNSUPPORTED_ARCH  scheme needs a newer GPU (e.g. fp8 on sm_80)
 * \retval QG_ERR_UNSUPPORTED       no kernel for this problem (message says why)
 */
QG_API qg_status qg_gemm(qg_context *ctx, const qg_problem *p, const qg_gemm_args *args,
                         void *stream);

/**
 * Like qg_gemm, with an explicit kernel variant id (as `qgemm list` prints it, e.g.
 * "w4a16_decode.act2.mt1"). For tests, the tuner and reproducing a tuned choice.
 */
QG_API qg_status qg_gemm_with_kernel(qg_context *ctx, const qg_problem *p, const qg_gemm_args *args,
                                     const char *kernel_id, void *stream);

/** Workspace bytes qg_gemm may use for this problem (split-K partials, locks); may be 0. */
QG_API qg_status qg_gemm_workspace_size(qg_context *ctx, const qg_problem *p, size_t *bytes);

/**
 * Per-token (or per-tensor) dynamic activation quantization on the GPU: bf16/f16 a[M,K]
 * (type p->act_dtype) to the scheme's activation type (e4m3 or int8), writing q[M,K] and
 * f32 scales [M] (or [1] for QG_SCALE_PER_TENSOR). Matches qg_quantize_activations_host.
 * NaN/Inf: the kernels do not check their input (a check would need a device-to-host sync).
 * What they do today (kernels/cuda/act_quant.cuh): the absmax uses fmaxf, which ignores NaN,
 * so a NaN element leaves its row's scale to the other elements and is written as e4m3 NaN
 * (0x7f/0xff) or int8 0; an infinite element makes the scale infinite, so its row (the whole
 * tensor for QG_SCALE_PER_TENSOR) quantizes to 0 except that element (Inf/Inf: NaN as above).
 * Check activations with qg_quantize_activations_host when in doubt.
 */
QG_API qg_status qg_quantize_activations(qg_context *ctx, const qg_problem *p, const void *a,
                                         void *q, float *scale, void *stream);

/** Dequantize a packed device weight to out[N,K] of dtype out_dtype (bf16/f16) on the GPU. */
QG_API qg_status qg_dequantize_weight(qg_context *ctx, const qg_problem *p, const qg_packed_weight *w,
                                      void *out, qg_dtype out_dtype, void *stream);

/* ---------------------------------------------------------------- catalog and JIT */

/** Number of kernel variants in the catalog (all families, all parameter sets). */
QG_API int qg_catalog_size(void);
/** Id of variant i (0 <= i < qg_catalog_size()), e.g. "w4a16_decode.act2.mt1". */
QG_API const char *qg_catalog_variant_id(int i);

typedef struct {
    int compiled; /* variants compiled successfully */
    int failed;   /* variants that failed; their logs went to the callback */
    int skipped;  /* variants not meant for this architecture, or whose header
                             package (CUTLASS: QGEMM_CUTLASS_INCLUDE) is absent */
    double seconds;
} qg_check_result;

typedef void (*qg_check_callback)(void *user, const char *variant_id, qg_status status,
                                  const char *log, double seconds);

/**
 * Compile every catalog variant for `arch` ("sm_80", "sm_89", "sm_90a", "gfx90a") with the
 * runtime compiler, on a machine without a GPU. `callback` (may be NULL) is called per
 * variant with the compiler log (NVRTC: ptxas's registers, stack and spill report). A variant
 * whose kernel spills registers counts as failed (QG_ERR_COMPILE, the reason heading its log)
 * unless its family allows spills. Uses `threads` compiler threads (0 = number of CPUs).
 * \retval QG_ERR_COMPILE           a variant failed to compile, or spills registers
 * \retval QG_ERR_NO_COMPILER        NVRTC (hiprtc) not found
 * \retval QG_ERR_INVALID_ARGUMENT   unknown architecture
 */
QG_API qg_status qg_check_catalog(const char *arch, int threads, qg_check_callback callback,
                                  void *user, qg_check_result *out);

/* ---------------------------------------------------------------- tuning database */

/*
 * A tuning database (docs/tuning_db.md): JSON holding, per problem shape and M bucket, the
 * kernel variant that won on one GPU model, with its times and measured error. Contexts load
 * one at creation (qg_context_params.tuning_db, else $QGEMM_TUNING_DB, else the shipped file
 * for the GPU in tuning_db/). A file that is corrupt or from another environment is reported
 * and ignored (dispatch falls back to the next level), never overwritten.
 */
typedef struct qg_db qg_db;

/**
 * Open a database file. A missing file gives an empty database bound to `path` (so a tuner can
 * create it). `env` (may be NULL) is the device the database must match: a file made on another
 * GPU model, compute capability or catalog gives QG_ERR_DB_MISMATCH, a malformed one
 * QG_ERR_CORRUPT (the message names the entry and field); *out is NULL then.
 * \retval QG_ERR_INVALID_ARGUMENT  path is empty or 1024 characters or longer
 * \retval QG_ERR_IO       not a regular file (FIFO, directory, device: refused without
 *                         blocking), above 64 MiB, or unreadable (the message says which)
 * \retval QG_ERR_CORRUPT  not a valid database (docs/tuning_db.md)
 * \retval QG_ERR_DB_MISMATCH, QG_ERR_NULL_POINTER, QG_ERR_OUT_OF_MEMORY
 */
QG_API qg_status qg_db_open(qg_db **out, const char *path, const qg_device_info *env);
/** Free a database. NULL is a no-op. */
QG_API void qg_db_close(qg_db *db);
/** Number of entries. */
QG_API int qg_db_size(const qg_db *db);
/**
 * Save to `path` (NULL: the path it was opened from; a symbolic link: its target): under an
 * exclusive file lock, re-read the file, merge (for one key the most recently tuned entry wins;
 * entries read from this file and removed from it since stay removed), write a temporary file,
 * fsync, rename. Concurrent savers lose no entry; a saver killed mid-save leaves the file as it
 * was. Refuses (QG_ERR_CORRUPT / QG_ERR_DB_MISMATCH) to overwrite a file it cannot read or that
 * belongs to another environment, and (QG_ERR_IO) anything but a regular file.
 * \retval QG_ERR_INVALID_ARGUMENT  no path, no metadata, or a path too long
 * \retval QG_ERR_IO       cannot lock, write or rename (the message has the reason)
 */
QG_API qg_status qg_db_save(qg_db *db, const char *path);

/**
 * Which kernel dispatch uses for a problem on this context, and why: writes e.g.
 * "w4a16_decode.act2.mt1 (m-bucket: tuned M=16, 11.2 us)" into buf.
 */
QG_API qg_status qg_explain(qg_context *ctx, const qg_problem *p, char *buf, size_t buf_len);

/* ---------------------------------------------------------------- info */

/** Disk cache directory the context uses (empty if disabled). */
QG_API const char *qg_context_cache_dir(const qg_context *ctx);

#ifdef __cplusplus
}
#endif
#endif /* QGEMM_H */
