/*
 * Per-stream GEMM workspaces. Split-K partials and tile counters are only valid for one kernel
 * at a time, so kernels that may run concurrently (different streams) need different buffers;
 * kernels on one stream run in order and share one. The table is tiny (one entry per stream a
 * context has seen), so the launch path looks a stream up with a linear scan under ctx->lock.
 * Entries live until the context is destroyed: a destroyed stream's handle, if the driver
 * hands it out again, finds the old (zeroed, idle) buffer.
 */
#include "workspace.h"

#include "backend.h"

#include <stdint.h>
#include <stdlib.h>

/* CU_STREAM_PER_THREAD and hipStreamPerThread: one handle, a different stream in each thread. */
#define STREAM_PER_THREAD ((void *)(uintptr_t)2)
static _Thread_local char this_thread;

static const void *key_of(void *stream) {
    return stream == STREAM_PER_THREAD ? (const void *)&this_thread : stream;
}

static qg_stream_workspace *find(qg_context *ctx, const void *key) {
    for (int i = 0; i < ctx->workspace_count; i++)
        if (ctx->workspaces[i].key == key) return &ctx->workspaces[i];
    return NULL;
}

static qg_stream_workspace *add(qg_context *ctx, const void *key, void *stream) {
    if (ctx->workspace_count == ctx->workspace_cap) {
        const int cap = ctx->workspace_cap ? 2 * ctx->workspace_cap : 8;
        qg_stream_workspace *t = realloc(ctx->workspaces, (size_t)cap * sizeof *t);
        if (!t) return NULL;
        ctx->workspaces = t;
        ctx->workspace_cap = cap;
    }
    qg_stream_workspace *w = &ctx->workspaces[ctx->workspace_count++];
    *w = (qg_stream_workspace){key, stream, NULL, 0};
    return w;
}

/* Give `w` a zeroed buffer of `bytes`, freeing its old one. */
static qg_status replace(qg_context *ctx, qg_stream_workspace *w, size_t bytes) {
    if (w->ptr) {
        /* Kernels enqueued earlier (and graphs captured with the NULL stream's entry) may
         * still use the old buffer. */
        QG_CHECK(ctx->ops->synchronize(ctx));
        QG_CHECK(ctx->ops->mem_free(ctx, w->ptr));
        w->ptr = NULL;
        w->bytes = 0;
    }
    void *p = NULL;
    QG_CHECK(ctx->ops->mem_alloc(ctx, &p, bytes));
    /* A stream's own buffer is zeroed in its order, before its first kernel. The NULL stream's
     * also serves graphs captured on other (maybe non-blocking) streams: zero it for all now. */
    qg_status s = w->stream ? ctx->ops->memset_d8_async(ctx, p, 0, bytes, w->stream)
                            : ctx->ops->memset_d8(ctx, p, 0, bytes);
    if (s == QG_SUCCESS && !w->stream) s = ctx->ops->synchronize(ctx);
    if (s != QG_SUCCESS) {
        ctx->ops->mem_free(ctx, p);
        return s;
    }
    w->ptr = p;
    w->bytes = bytes;
    return QG_SUCCESS;
}

/* The slow path (ctx->lock held): first need of `stream`, or a larger problem. */
static qg_status provide(qg_context *ctx, const void *key, void *stream, size_t bytes,
                         qg_stream_workspace **out) {
    const qg_stream_workspace *dflt = find(ctx, NULL);
    int capturing = 0;
    if (stream && ctx->ops->stream_is_capturing)
        QG_CHECK(ctx->ops->stream_is_capturing(ctx, stream, &capturing));
    if (capturing) {
        /* No allocation or synchronization while capturing (global mode fails the capture). */
        QG_RETURN_IF(ctx, !dflt || dflt->bytes < bytes, QG_ERR_INVALID_ARGUMENT,
                     "stream %p is capturing a graph and has no workspace of %zu bytes: call "
                     "qg_prepare for this problem before capturing, or pass "
                     "qg_gemm_args.workspace",
                     stream, bytes);
        *out = find(ctx, NULL);
        return QG_SUCCESS;
    }
    /* A new stream gets at least what qg_prepare sized, so it does not grow again later. */
    const size_t want = dflt && dflt->bytes > bytes ? dflt->bytes : bytes;
    qg_stream_workspace *w = find(ctx, key);
    if (!w) w = add(ctx, key, stream);
    QG_RETURN_IF(ctx, !w, QG_ERR_OUT_OF_MEMORY, "no memory for the workspace table");
    QG_CHECK(replace(ctx, w, want));
    *out = w;
    return QG_SUCCESS;
}

qg_status qg_workspace_get(qg_context *ctx, void *stream, size_t bytes, void **ptr, size_t *size) {
    *ptr = NULL;
    *size = 0;
    if (!bytes) return QG_SUCCESS;
    const void *key = key_of(stream);
    pthread_mutex_lock(&ctx->lock);
    qg_stream_workspace *w = find(ctx, key);
    qg_status s = QG_SUCCESS;
    if (!w || w->bytes < bytes) s = provide(ctx, key, stream, bytes, &w);
    if (s == QG_SUCCESS) {
        *ptr = w->ptr;
        *size = w->bytes;
    }
    pthread_mutex_unlock(&ctx->lock);
    return s;
}

void qg_workspace_free_all(qg_context *ctx) {
    for (int i = 0; i < ctx->workspace_count; i++)
        if (ctx->workspaces[i].ptr && ctx->ops) ctx->ops->mem_free(ctx, ctx->workspaces[i].ptr);
    free(ctx->workspaces);
    ctx->workspaces = NULL;
    ctx->workspace_count = ctx->workspace_cap = 0;
}
