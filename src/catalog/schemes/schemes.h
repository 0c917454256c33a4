/*
 * Scheme traits (one table, designated initialisers): what a scheme's weights and activations
 * are, and its host-side quantizer, packer, unpacker and reference GEMM. Each scheme's host code
 * lives in scheme_<name>.c and implements docs/formats.md.
 */
#ifndef QG_SCHEMES_H
#define QG_SCHEMES_H

#include "internal.h"

/*
 * A quantized weight before packing: integer (or fp8) codes in plain row-major order plus
 * float scales and zero points. Tests use it as the independent side of the reference: a naive
 * float64 GEMM on (code - zero) * scale must match the reference GEMM that reads packed data.
 */
typedef struct {
    int64_t n, k;
    int32_t groups;     /* scale/zero columns per row (K / group, 1 for per-channel, ...) */
    int32_t group_size; /* K / groups */
    int8_t *codes;      /* [n*k]: int4 in [-8,7] or [0,15] (with zero), int8, or e4m3 bits */
    float *scales;      /* [n*groups] (per-tensor: all equal) */
    float *zeros;       /* [n*groups] or NULL: weight = (code - zero) * scale */
    int fp8;            /* codes are e4m3 bit patterns: weight = e4m3(code) * scale */
} qg_plain_weight;

void qg_plain_weight_free(qg_plain_weight *pw);

typedef struct {
    qg_scheme scheme;
    const char *name;   /* "w4a16" */
    int weight_bits;    /* 4 or 8 or 16 */
    int dynamic_act;    /* activations quantized per token at run time */
    qg_dtype act_qtype; /* QG_DTYPE_FP8_E4M3 / QG_DTYPE_INT8 for dynamic schemes */
    int sparse24;
    int min_cc; /* smallest compute capability with a kernel (fp8: 89) */
    /* Host side; NULL while a scheme is not implemented (calls return QG_ERR_UNSUPPORTED). */
    qg_status (*validate)(const qg_problem *p, char *why, size_t why_len);
    qg_status (*sizes)(const qg_problem *p, qg_packed_sizes *out);
    qg_status (*quantize)(const qg_problem *p, const float *w, int64_t ldw, qg_plain_weight *out);
    qg_status (*pack)(const qg_problem *p, const qg_plain_weight *pw, const qg_packed_weight *out);
    /* Dequantize packed -> float [N,K] (row stride ldw). */
    qg_status (*unpack)(const qg_problem *p, const qg_packed_weight *in, float *w, int64_t ldw);
    /* float64 GEMM reading the packed format; c is [M,N] doubles (see qg_reference_gemm). */
    qg_status (*reference)(const qg_problem *p, const void *a, const float *a_scale,
                           const qg_packed_weight *w, const void *bias, double *c);
} qg_scheme_traits;

const qg_scheme_traits *qg_scheme_get(qg_scheme s);

/* Decode one activation element of type t (bf16/f16 bits, e4m3/int8 byte) to double. */
double qg_act_decode(qg_dtype t, const void *a, int64_t idx);

#endif
