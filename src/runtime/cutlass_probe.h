/* Probe runs and plan cache of the CUTLASS-built kernels (cutlass_probe.c). */
#ifndef QG_CUTLASS_PROBE_H
#define QG_CUTLASS_PROBE_H

#include "catalog.h"
#include "cutlass_params.h"

/* Operands every W4A16 CUTLASS plan must mention. */
#define QG_CUTLASS_W4A16_OPS                                                           \
    ((1u << QG_CUTLASS_OP_W) | (1u << QG_CUTLASS_OP_X) | (1u << QG_CUTLASS_OP_SCALE) | \
     (1u << QG_CUTLASS_OP_Y))

typedef struct {
    const qg_cutlass_plan *plan;
    void *repack_fn; /* NULL when not asked for */
    void *entry;     /* the cache entry (for qg_cutlass_bind_cached) */
} qg_cutlass_handles;

/*
 * The plan of loaded kernel `k` for the problem in `in` (operand pointers ignored: the probe
 * gets sentinels), probing on `stream` the first time (allocates and synchronizes; refused with
 * QG_ERR_INVALID_ARGUMENT while `stream` captures a graph). Entry names: the probe kernel, and
 * optionally a helper kernel of the same module whose handle comes back too.
 */
qg_status qg_cutlass_plan_get(qg_context *ctx, qg_kernel *k, const qg_cutlass_probe_in *in,
                              void *stream, const char *probe_entry, const char *repack_entry,
                              qg_cutlass_handles *out);

/* qg_cutlass_plan_bind, reusing the plan's last binding when the pointers are the same. */
qg_status qg_cutlass_bind_cached(qg_context *ctx, const qg_cutlass_handles *h,
                                 const uint64_t ptrs[QG_CUTLASS_NUM_OPS], unsigned char *params);

/* Frees the context's plans (qg_context_destroy). */
void qg_cutlass_context_destroy(qg_context *ctx);

#endif
