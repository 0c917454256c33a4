/*
 * The kernel catalog: families of kernels, each a CUDA C source in kernels/cuda/ plus a table of
 * variants (integer compile-time parameters). A variant's parameters become -DQG_<NAME>=<value>
 * options at JIT time; its id is "<family>.<name><value>.<name><value>...", stable and stored in
 * the tuning database.
 */
#ifndef QG_CATALOG_H
#define QG_CATALOG_H

#include "internal.h"

#define QG_MAX_PARAMS 8
#define QG_JIT_OPTION_LEN 1200 /* one run-time option: an include path and its flag */
#define QG_JIT_MAX_EXTRA_OPTIONS 8

typedef enum {
    QG_OP_GEMM = 0,      /* launch args: const qg_gemm_args * */
    QG_OP_ACT_QUANT = 1, /* launch args: const qg_actq_args * */
    QG_OP_DEQUANT = 2,   /* launch args: const qg_dequant_args * */
} qg_op;

typedef struct {
    const void *a;
    void *q;
    float *scale;
} qg_actq_args;

typedef struct {
    const qg_packed_weight *w;
    void *out;
    qg_dtype out_dtype;
} qg_dequant_args;

typedef struct qg_kernel qg_kernel; /* a compiled, loaded variant (jit.h) */
typedef struct qg_family qg_family;

struct qg_family {
    const char *name;   /* "w4a16_decode" */
    const char *source; /* file in kernels/cuda (or kernels/hip), embedded at build time; NULL for
                           families that call a library (cuBLASLt): nothing is compiled, the
                           JIT hands out a kernel without a module */
    const char *entry;  /* extern "C" kernel name */
    qg_op op;
    unsigned scheme_mask; /* 1u << qg_scheme for each scheme it computes */
    int min_cc;           /* 80, 89, 90 */
    int needs_sm90a;      /* uses wgmma/setmaxnreg: only compiled for sm_90a */
    int hip;              /* 1: source is in kernels/hip and compiles with hiprtc for gfx* */
    /* 1: not yet validated on hardware. The heuristic never picks it; the tuner (which checks
     * every candidate against the reference before timing it) and explicit kernel ids do. */
    int experimental;
    /* Architectures on which ptxas may spill registers in this family's variants, comma-
     * separated ("sm_89"), or "all"; NULL: none (qgemm check fails on a spill). */
    const char *allow_spills;
    /* Families that call a library: what decides the library's choice (cuBLASLt's reduction
     * policy). Part of the code hash of their tuning entries (code_hash.h); NULL otherwise. */
    const char *library_policy;
    /* The id of the catalog kernel a variant's launch also runs (a dequantize or epilogue
     * kernel), part of its code hash; NULL (or a NULL function): none. */
    const char *(*helper_kernel)(const int *params);
    int num_params;
    const char *param_names[QG_MAX_PARAMS]; /* lower-case, e.g. "bn", "sk" */
    int num_variants;
    const int (*variants)[QG_MAX_PARAMS];
    /*
     * 1 if this variant computes problem `p` on a device of compute capability `cc` (major*10+minor);
     * 0 with a one-line reason in `why` otherwise. Checks dims, divisibility, dtypes, group size.
     */
    int (*supports)(const qg_problem *p, const int *params, int cc, char *why, size_t why_len);
    /* Heuristic cost (lower is better) used when no tuning entry exists. NULL: uses order. */
    double (*heuristic)(const qg_problem *p, const int *params, const qg_device_info *dev);
    /* Workspace bytes for this problem (NULL: none). The workspace is zero when a launch starts
     * and the launch must leave it zero (in stream order): every family shares it. */
    size_t (*workspace)(const qg_problem *p, const int *params);
    /* Launch on `stream`. `args` type depends on op (see qg_op). */
    qg_status (*launch)(qg_context *ctx, qg_kernel *k, const qg_problem *p, const void *args,
                        const int *params, void *stream);
    /* Optional per-problem setup run by qg_prepare (e.g. cuBLASLt plans), so that later
     * launches allocate nothing. Launch must still work without it. NULL: nothing to do. */
    qg_status (*prepare)(qg_context *ctx, qg_kernel *k, const qg_problem *p, const int *params);
    /* Optional: compiler options found at run time (the include paths of a header package such
     * as CUTLASS), at most QG_JIT_MAX_EXTRA_OPTIONS into opts (*count of them), and in `key` a
     * text that identifies what they point to (its version), hashed into the JIT cache key.
     * QG_ERR_UNSUPPORTED with the reason (thread-local error) when what the family needs is
     * absent: its variants then cannot be compiled here. NULL: none. */
    qg_status (*jit_options)(char (*opts)[QG_JIT_OPTION_LEN], int *count, char *key, size_t key_len);
};

/* One variant: a family and its parameter values. */
typedef struct {
    const qg_family *family;
    const int *params; /* family->variants[i] */
    int index;         /* global catalog index */
    char id[128];
} qg_variant;

/* All variants of all families, built once (thread-safe). */
int qg_catalog_count(void);
const qg_variant *qg_catalog_get(int i);
const qg_variant *qg_catalog_find(const char *id);

/* Source text of an embedded kernel file (NULL if absent) and the shared prelude. */
const char *qg_embedded_source(const char *name, size_t *len);
/* All embedded files (kernels/cuda and kernels/hip): count, and name/data/length of the
 * i-th (NULL if out of range). Data is NUL-terminated. The JIT passes headers from here. */
int qg_embedded_count(void);
const char *qg_embedded_name(int i, const char **data, size_t *len);

/* Build "-DQG_BN=128" style options for a variant. Returns count; strings live in `buf`. */
int qg_variant_options(const qg_variant *v, char buf[][48], int max);

/* Whether a family's variants are compiled for `arch` ("sm_80", "sm_90a", "gfx90a"). */
int qg_family_targets_arch(const qg_family *f, const char *arch);

/* Compute capability of an arch string: "sm_90a" -> 90. 0 for gfx. */
int qg_arch_cc(const char *arch);

/* Helper for family launch functions. */
qg_status qg_kernel_launch(qg_context *ctx, qg_kernel *k, unsigned gx, unsigned gy, unsigned gz,
                           unsigned block, unsigned smem, void *stream, void **params);

#endif
