/* Dispatch: problem -> kernel variant (tuning database cascade, then heuristic) -> launch. */
#ifndef QG_DISPATCH_H
#define QG_DISPATCH_H

#include "jit.h"

typedef enum {
    QG_LEVEL_EXACT = 0,     /* database entry for this exact M */
    QG_LEVEL_BUCKET = 1,    /* database entry for M's bucket */
    QG_LEVEL_NEAREST = 2,   /* nearest tuned shape of the same scheme */
    QG_LEVEL_HEURISTIC = 3, /* built-in heuristic */
    QG_LEVEL_FORCED = 4,    /* caller named the kernel */
} qg_dispatch_level;

const char *qg_dispatch_level_name(qg_dispatch_level l);

/* Choose a variant for (p, op): the first level of the database cascade with a fresh entry
 * (an undecided entry is decided by loading its kernel: the first choice of a shape may
 * compile), else the heuristic. */
qg_status qg_dispatch_choose(qg_context *ctx, const qg_problem *p, qg_op op, const qg_variant **out,
                             qg_dispatch_level *level);

/* Heuristic choice among the catalog (no database). */
qg_status qg_dispatch_heuristic(qg_context *ctx, const qg_problem *p, qg_op op,
                                const qg_variant **out);

/* Plan (choose + load) the kernel for a problem; cached per context. */
qg_status qg_plan(qg_context *ctx, const qg_problem *p, qg_op op, qg_kernel **out);

/* Whether variant v computes (p, op) on compute capability cc; a reason otherwise. */
int qg_variant_fits(const qg_variant *v, const qg_problem *p, qg_op op, int cc, char *why,
                    size_t why_len);

/* Same, for a device of backend HIP (hip=1: only HIP families) or CUDA (hip=0). */
int qg_variant_fits_backend(const qg_variant *v, const qg_problem *p, qg_op op, int cc, int hip,
                            char *why, size_t why_len);

/* Launch a loaded GEMM kernel (args checked by the caller; uses the context's workspace for
 * `stream` if the caller passes none). */
qg_status qg_launch_gemm(qg_context *ctx, qg_kernel *k, const qg_problem *p,
                         const qg_gemm_args *args, void *stream);

/* Database lookup hook (db.c): the variant of the entry the cascade finds (skipping stale
 * ones) and the entry; QG_ERR_NOT_FOUND when the database has nothing usable. */
struct qg_db_entry;
qg_status qg_db_lookup_variant(qg_context *ctx, const qg_problem *p, const qg_variant **out,
                               qg_dispatch_level *level, const struct qg_db_entry **entry);

#endif
