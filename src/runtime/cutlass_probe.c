/*
 * Running the probe kernel of a CUTLASS-built variant (kernels/cutlass/) and keeping its plans:
 * one per (loaded kernel, problem, strides), in a list owned by the context. The probe needs a
 * device allocation and a synchronization, so it runs at qg_prepare time (or on the first
 * uncaptured launch); a launch under stream capture without a plan is refused with a message.
 * Binding a plan (cutlass_params.c) is cached for the last pointer tuple of each plan.
 */
#include "cutlass_probe.h"

#include "backend.h"
#include "jit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct plan_entry {
    const qg_kernel *kernel;
    qg_cutlass_probe_in key; /* pointers are sentinels: m, n, k, group, strides, sm count */
    qg_cutlass_plan plan;
    void *probe_fn, *repack_fn;
    /* the last binding: pointers -> Params bytes (guarded by ctx->lock) */
    int bound_valid;
    uint64_t bound_ptrs[QG_CUTLASS_NUM_OPS];
    _Alignas(128) unsigned char bound[QG_CUTLASS_MAX_PARAMS];
    struct plan_entry *next;
} plan_entry;

void qg_cutlass_context_destroy(qg_context *ctx) {
    if (!ctx) return;
    for (plan_entry *e = ctx->cutlass, *next; e; e = next) {
        next = e->next;
        free(e);
    }
    ctx->cutlass = NULL;
}

static int same_key(const qg_cutlass_probe_in *a, const qg_cutlass_probe_in *b) {
    return a->m == b->m && a->n == b->n && a->k == b->k && a->group_size == b->group_size &&
           a->lda == b->lda && a->ldc == b->ldc && a->sm_count == b->sm_count;
}

static plan_entry *find(qg_context *ctx, const qg_kernel *k, const qg_cutlass_probe_in *in) {
    for (plan_entry *e = ctx->cutlass; e; e = e->next)
        if (e->kernel == k && same_key(&e->key, in)) return e;
    return NULL;
}

/* Launch the probe, read its output back. Allocates and synchronizes: not under capture. */
static qg_status run_probe(qg_context *ctx, qg_kernel *k, plan_entry *e, void *stream) {
    const size_t out_bytes = 256;
    _Static_assert(sizeof(qg_cutlass_probe_out) <= 256, "probe output fits its slot");
    void *dev = NULL;
    QG_CHECK(ctx->ops->mem_alloc(ctx, &dev, out_bytes + QG_CUTLASS_MAX_PARAMS));
    qg_status s = ctx->ops->memset_d8(ctx, dev, 0, out_bytes + QG_CUTLASS_MAX_PARAMS);
    qg_cutlass_probe_in in = e->key;
    in.params_capacity = QG_CUTLASS_MAX_PARAMS;
    void *out_ptr = dev, *params_ptr = (char *)dev + out_bytes;
    void *args[] = {&in, &out_ptr, &params_ptr};
    const unsigned grid[3] = {1, 1, 1}, block[3] = {32, 1, 1};
    if (s == QG_SUCCESS) s = ctx->ops->launch(ctx, e->probe_fn, grid, block, 0, stream, args);
    if (s == QG_SUCCESS) s = ctx->ops->synchronize(ctx);
    qg_cutlass_probe_out out;
    unsigned char *bytes = malloc(QG_CUTLASS_MAX_PARAMS);
    if (!bytes && s == QG_SUCCESS) s = QG_ERROR(ctx, QG_ERR_OUT_OF_MEMORY, "no memory for a probe");
    if (s == QG_SUCCESS) s = ctx->ops->memcpy_dtoh(ctx, &out, dev, sizeof out);
    if (s == QG_SUCCESS) s = ctx->ops->memcpy_dtoh(ctx, bytes, params_ptr, QG_CUTLASS_MAX_PARAMS);
    const qg_status fs = ctx->ops->mem_free(ctx, dev);
    if (s == QG_SUCCESS) s = fs;
    if (s == QG_SUCCESS)
        s = qg_cutlass_plan_decode(ctx, &out, bytes, QG_CUTLASS_W4A16_OPS, &e->plan);
    free(bytes);
    return s;
}

/* QGEMM_CUTLASS_TRACE=1: a new plan on stderr (launch shape, pointer fields, TMA recipes), to
 * compare with what CUTLASS's own host path builds when a launch fails. */
static void trace_plan(const qg_kernel *k, const qg_cutlass_probe_in *in, const qg_cutlass_plan *p) {
    const char *t = qg_getenv("QGEMM_CUTLASS_TRACE", NULL);
    if (!t || strcmp(t, "1") != 0) return;
    const qg_cutlass_probe_out *o = &p->shape;
    fprintf(stderr,
            "cutlass plan %s M=%d N=%d K=%d g=%d lda=%lld ldc=%lld: params %u B (align %u), "
            "grid %u x %u x %u, %u threads, smem %u B, workspace %llu B\n",
            k->variant->id, in->m, in->n, in->k, in->group_size, in->lda, in->ldc, o->params_size,
            o->params_align, o->grid[0], o->grid[1], o->grid[2], o->threads, o->smem_bytes,
            o->workspace_bytes);
    for (int i = 0; i < p->num_ptrs; i++)
        fprintf(stderr, "  pointer at %u: operand %d + %llu\n", p->ptrs[i].offset,
                p->ptrs[i].operand, (unsigned long long)p->ptrs[i].delta);
    for (int i = 0; i < p->num_tma; i++) {
        const qg_tma_recipe *r = &p->tma[i].recipe;
        fprintf(stderr, "  tma at %u: operand %d + %llu, dtype %u rank %u swizzle %u l2 %u oob %u\n",
                p->tma[i].at.offset, p->tma[i].at.operand, (unsigned long long)p->tma[i].at.delta,
                r->dtype, r->rank, r->swizzle, r->l2_promotion, r->oob_fill);
        for (unsigned d = 0; d < r->rank; d++)
            fprintf(stderr, "    dim %u: %llu elements, stride %llu B, box %u, element stride %u\n",
                    d, (unsigned long long)r->dims[d],
                    d ? (unsigned long long)r->strides[d - 1] : 0ull, r->box[d],
                    r->element_strides[d]);
    }
}

qg_status qg_cutlass_plan_get(qg_context *ctx, qg_kernel *k, const qg_cutlass_probe_in *in,
                              void *stream, const char *probe_entry, const char *repack_entry,
                              qg_cutlass_handles *out) {
    pthread_mutex_lock(&ctx->lock);
    plan_entry *e = find(ctx, k, in);
    pthread_mutex_unlock(&ctx->lock);
    if (!e) {
        int capturing = 0;
        if (ctx->ops->stream_is_capturing)
            QG_CHECK(ctx->ops->stream_is_capturing(ctx, stream, &capturing));
        QG_RETURN_IF(ctx, capturing, QG_ERR_INVALID_ARGUMENT,
                     "%s: no plan for M=%d N=%d K=%d under stream capture: call qg_prepare for "
                     "this problem before capturing",
                     k->variant->id, in->m, in->n, in->k);
        e = calloc(1, sizeof *e);
        QG_RETURN_IF(ctx, !e, QG_ERR_OUT_OF_MEMORY, "no memory for a CUTLASS plan");
        e->kernel = k;
        e->key = *in;
        qg_status s = ctx->ops->function_get(ctx, k->module, probe_entry, &e->probe_fn);
        if (s == QG_SUCCESS && repack_entry)
            s = ctx->ops->function_get(ctx, k->module, repack_entry, &e->repack_fn);
        if (s == QG_SUCCESS) s = run_probe(ctx, k, e, stream);
        if (s == QG_SUCCESS) trace_plan(k, in, &e->plan);
        if (s != QG_SUCCESS) {
            free(e);
            return s;
        }
        pthread_mutex_lock(&ctx->lock);
        plan_entry *raced = find(ctx, k, in);
        if (raced) { /* another thread probed the same problem meanwhile: keep one */
            free(e);
            e = raced;
        } else {
            e->next = ctx->cutlass;
            ctx->cutlass = e;
        }
        pthread_mutex_unlock(&ctx->lock);
    }
    out->plan = &e->plan;
    out->repack_fn = e->repack_fn;
    out->entry = e;
    return QG_SUCCESS;
}

qg_status qg_cutlass_bind_cached(qg_context *ctx, const qg_cutlass_handles *h,
                                 const uint64_t ptrs[QG_CUTLASS_NUM_OPS], unsigned char *params) {
    plan_entry *e = h->entry;
    const size_t size = e->plan.shape.params_size;
    pthread_mutex_lock(&ctx->lock);
    if (e->bound_valid && memcmp(e->bound_ptrs, ptrs, sizeof e->bound_ptrs) == 0) {
        memcpy(params, e->bound, size);
        pthread_mutex_unlock(&ctx->lock);
        return QG_SUCCESS;
    }
    pthread_mutex_unlock(&ctx->lock);
    QG_CHECK(qg_cutlass_plan_bind(ctx, &e->plan, ptrs, params));
    pthread_mutex_lock(&ctx->lock);
    memcpy(e->bound, params, size);
    memcpy(e->bound_ptrs, ptrs, sizeof e->bound_ptrs);
    e->bound_valid = 1;
    pthread_mutex_unlock(&ctx->lock);
    return QG_SUCCESS;
}
