/*
 * "Params by probe": the host side of the CUTLASS-built kernels (kernels/cutlass/), in C.
 *
 * CUTLASS builds a kernel's Params (TMA descriptors, FastDivmods, tile-scheduler state) in host
 * C++. We run that code once per problem ON THE DEVICE instead (the probe kernel of the JIT
 * source, with distinct sentinel addresses for the operands) and keep its bytes: a plan. Per
 * call, binding a plan to real pointers copies the bytes, writes each pointer field (found by its
 * sentinel value) and encodes each TMA descriptor from the recipe the probe left in its place
 * (kernels/cutlass/cutlass_tma_recorder.cuh), then the Params bytes are the GEMM kernel's one
 * parameter. Decoding and binding are pure host code (the encode goes through the driver's
 * cuTensorMapEncodeTiled): tests/test_cutlass_params.c checks them on synthetic probe output.
 */
#ifndef QG_CUTLASS_PARAMS_H
#define QG_CUTLASS_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "tensormap.h"

#include "../kernels/cutlass/cutlass_probe_abi.cuh"

#define QG_CUTLASS_MAX_PARAMS 4096 /* the driver's kernel-parameter limit (sm_70+) */
#define QG_CUTLASS_MAX_TMA 8
#define QG_CUTLASS_MAX_PTRS 16

/* A field of Params that holds operand `operand` + `delta` bytes. */
typedef struct {
    uint32_t offset;
    int operand; /* QG_CUTLASS_OP_* */
    uint64_t delta;
} qg_cutlass_field;

typedef struct {
    qg_cutlass_field at;  /* offset: of the 128-byte descriptor (a multiple of 64) */
    qg_tma_recipe recipe; /* as the probe wrote it (address = sentinel + delta) */
} qg_cutlass_tma_slot;

typedef struct {
    qg_cutlass_probe_out shape; /* launch geometry; shape.params_size bytes of params are valid */
    _Alignas(128) unsigned char params[QG_CUTLASS_MAX_PARAMS];
    int num_tma, num_ptrs;
    qg_cutlass_tma_slot tma[QG_CUTLASS_MAX_TMA];
    qg_cutlass_field ptrs[QG_CUTLASS_MAX_PTRS];
} qg_cutlass_plan;

/* The sentinel address of an operand (what the probe gets instead of a pointer). */
uint64_t qg_cutlass_sentinel(int operand);

/*
 * Build a plan from the probe's output: `bytes` holds out->params_size bytes of Params. Finds
 * every recipe (64-byte aligned slots starting with QG_TMA_RECIPE_MAGIC) and every 8-byte
 * aligned field holding a sentinel address outside them. QG_ERR_INTERNAL, with the reason, when
 * the probe did not finish, Params does not fit, a recipe is malformed, or an operand of
 * `required_ops` (bit mask of 1 << QG_CUTLASS_OP_*) appears nowhere; QG_ERR_UNSUPPORTED when
 * CUTLASS's can_implement refused the problem.
 */
qg_status qg_cutlass_plan_decode(qg_context *ctx, const qg_cutlass_probe_out *out,
                                 const unsigned char *bytes, unsigned required_ops,
                                 qg_cutlass_plan *plan);

/* The encode arguments of one recipe for a real operand address (rank-N tensor map). */
void qg_cutlass_recipe_encode_args(const qg_tma_recipe *r, uint64_t address, qg_tmap_encode_nd *out);

/*
 * Params for real operand addresses `ptrs[QG_CUTLASS_NUM_OPS]` into `params` (plan->shape.
 * params_size bytes, 64-byte aligned): the plan's bytes with every pointer field and TMA
 * descriptor bound. QG_ERR_INVALID_ARGUMENT if a TMA operand's address breaks the encoder's rules
 * (16-byte alignment), QG_ERR_DRIVER_TOO_OLD without cuTensorMapEncodeTiled.
 */
qg_status qg_cutlass_plan_bind(qg_context *ctx, const qg_cutlass_plan *plan,
                               const uint64_t ptrs[QG_CUTLASS_NUM_OPS], unsigned char *params);

#endif
