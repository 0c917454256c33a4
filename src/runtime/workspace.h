/* Per-stream GEMM workspaces of a context, for callers that pass no qg_gemm_args.workspace. */
#ifndef QG_WORKSPACE_H
#define QG_WORKSPACE_H

#include "internal.h"

/*
 * A zeroed workspace of at least `bytes` (> 0) for kernels on `stream`, in *ptr / *size: the
 * stream's own, made (and zeroed, in stream order) on its first need or replaced by a larger
 * one (after synchronizing the context). While `stream` captures a graph and has none large
 * enough, nothing may allocate: it gets the NULL stream's entry (the one qg_prepare sizes) if
 * that is large enough, QG_ERR_INVALID_ARGUMENT otherwise. Thread-safe (ctx->lock).
 */
qg_status qg_workspace_get(qg_context *ctx, void *stream, size_t bytes, void **ptr, size_t *size);

/* Free every stream's workspace (qg_context_destroy: the device is idle or gone). */
void qg_workspace_free_all(qg_context *ctx);

#endif
