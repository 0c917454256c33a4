/* qg_gemm and friends: validate, find the planned kernel (cached per problem), launch. */
#include "dispatch.h"

#include "backend.h"
#include "db.h"
#include "schemes.h"
#include "workspace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *qg_dispatch_level_name(qg_dispatch_level l) {
    static const char *const n[] = {"exact", "m-bucket", "nearest-shape", "heuristic", "forced"};
    return (unsigned)l < 5 ? n[l] : "?";
}

/* Does a variant handle this problem on this device? */
int qg_variant_fits(const qg_variant *v, const qg_problem *p, qg_op op, int cc, char *why,
                    size_t why_len) {
    return qg_variant_fits_backend(v, p, op, cc, 0, why, why_len);
}

int qg_variant_fits_backend(const qg_variant *v, const qg_problem *p, qg_op op, int cc, int hip,
                            char *why, size_t why_len) {
    const qg_family *f = v->family;
    if (f->op != op || !(f->scheme_mask & (1u << p->scheme))) return 0;
    /* HIP devices run only HIP families and CUDA devices only CUDA ones (gfx90a reports
     * "cc 9.0" like the H100, so cc alone cannot tell them apart). */
    if (!!f->hip != !!hip) return 0;
    if (hip) return f->supports(p, v->params, cc, why, why_len);
    if (cc < f->min_cc || (f->needs_sm90a && cc != 90)) return 0;
    return f->supports(p, v->params, cc, why, why_len);
}

qg_status qg_dispatch_heuristic(qg_context *ctx, const qg_problem *p, qg_op op,
                                const qg_variant **out) {
    const int cc = ctx->info.cc_major * 10 + ctx->info.cc_minor;
    const qg_variant *best = NULL;
    double best_cost = 0;
    char why[256] = "no kernel family handles this scheme";
    for (int i = 0; i < qg_catalog_count(); i++) {
        const qg_variant *v = qg_catalog_get(i);
        if (!qg_variant_fits_backend(v, p, op, cc, ctx->info.backend == QG_BACKEND_HIP, why,
                                     sizeof why))
            continue;
        if (v->family->experimental) continue;
        double cost = v->family->heuristic ? v->family->heuristic(p, v->params, &ctx->info) : i;
        if (!best || cost < best_cost) {
            best = v;
            best_cost = cost;
        }
    }
    QG_RETURN_IF(ctx, !best, QG_ERR_UNSUPPORTED,
                 "no %s kernel for %s M=%lld N=%lld K=%lld "
                 "group=%d on %s (last reason: %s)",
                 op == QG_OP_GEMM        ? "GEMM"
                 : op == QG_OP_ACT_QUANT ? "activation-quantize"
                                         : "dequantize",
                 qg_scheme_name(p->scheme), (long long)p->m, (long long)p->n, (long long)p->k,
                 (int)p->group_size, ctx->info.arch, why);
    *out = best;
    return QG_SUCCESS;
}

/* As qg_dispatch_choose; *entry: the database entry chosen (NULL for the heuristic). */
static qg_status choose(qg_context *ctx, const qg_problem *p, qg_op op, const qg_variant **out,
                        qg_dispatch_level *level, const qg_db_entry **entry) {
    *entry = NULL;
    if (op == QG_OP_GEMM && qg_db_lookup_variant(ctx, p, out, level, entry) == QG_SUCCESS) {
        const int cc = ctx->info.cc_major * 10 + ctx->info.cc_minor;
        char why[256];
        if (qg_variant_fits_backend(*out, p, op, cc, ctx->info.backend == QG_BACKEND_HIP, why,
                                    sizeof why))
            return QG_SUCCESS;
        if (ctx->verbose)
            fprintf(stderr, "qgemm: database kernel %s does not fit (%s); using heuristic\n",
                    (*out)->id, why);
    }
    *entry = NULL;
    *level = QG_LEVEL_HEURISTIC;
    return qg_dispatch_heuristic(ctx, p, op, out);
}

qg_status qg_dispatch_choose(qg_context *ctx, const qg_problem *p, qg_op op, const qg_variant **out,
                             qg_dispatch_level *level) {
    /* A database entry is trusted only if its kernel compiles to the code it was timed on
     * (known once loaded): a stale one is marked, and the cascade asked again. Each pass marks
     * one more entry stale, so this ends at a fresh entry or the heuristic. */
    const qg_db_entry *entry;
    do QG_CHECK(choose(ctx, p, op, out, level, &entry));
    while (entry && !qg_db_entry_check(ctx, entry, *out));
    return QG_SUCCESS;
}

/* ---- plan cache: problem -> loaded kernel, so a prepared call does no search/compile ---- */

#define PLAN_SLOTS 4096

typedef struct {
    qg_problem key;
    qg_op op;
    qg_kernel *kernel;
    int used;
} plan_slot;

typedef struct {
    plan_slot slots[PLAN_SLOTS];
    int count;
} plan_cache;

static uint64_t plan_hash(const qg_problem *p, qg_op op) {
    uint64_t h = 1469598103934665603ull;
    const int64_t f[] = {p->scheme,    p->m,          p->n,
                         p->k,         p->group_size, p->has_zero_point,
                         p->act_dtype, p->out_dtype,  p->weight_scale,
                         p->act_scale, p->has_bias,   op};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) h = (h ^ (uint64_t)f[i]) * 1099511628211ull;
    return h;
}

static int plan_eq(const qg_problem *a, const qg_problem *b) {
    return a->scheme == b->scheme && a->m == b->m && a->n == b->n && a->k == b->k &&
           a->group_size == b->group_size && a->has_zero_point == b->has_zero_point &&
           a->act_dtype == b->act_dtype && a->out_dtype == b->out_dtype &&
           a->weight_scale == b->weight_scale && a->act_scale == b->act_scale &&
           a->has_bias == b->has_bias;
}

/* QGEMM_RECORD_UNTUNED=FILE: append each problem dispatch had to guess for, as one JSON line,
 * for `qgemm tune --from-record FILE`. Runs once per problem (plans are cached). */
static void record_untuned(const qg_problem *p) {
    const char *path = qg_getenv("QGEMM_RECORD_UNTUNED", NULL);
    if (!path) return;
    FILE *f = fopen(path, "a");
    if (!f) return;
    fprintf(f,
            "{\"scheme\": \"%s\", \"n\": %lld, \"k\": %lld, \"m\": %lld, \"group_size\": %d, "
            "\"zero_point\": %d, \"act_dtype\": %d, \"out_dtype\": %d, \"weight_scale\": %d, "
            "\"act_scale\": %d}\n",
            qg_scheme_name(p->scheme), (long long)p->n, (long long)p->k, (long long)p->m,
            (int)p->group_size, (int)p->has_zero_point, (int)p->act_dtype, (int)p->out_dtype,
            (int)p->weight_scale, (int)p->act_scale);
    fclose(f);
}

/* Load a chosen variant and let its family build per-problem state (cuBLASLt plans), so the
 * launch path later allocates nothing. */
static qg_status load_planned(qg_context *ctx, const qg_variant *v, const qg_problem *p,
                              qg_kernel **k) {
    QG_CHECK(qg_jit_get(ctx, v, k));
    if (v->family->prepare) QG_CHECK(v->family->prepare(ctx, *k, p, v->params));
    return QG_SUCCESS;
}

qg_status qg_plan(qg_context *ctx, const qg_problem *p, qg_op op, qg_kernel **out) {
    uint64_t h = plan_hash(p, op);
    pthread_mutex_lock(&ctx->lock);
    plan_cache *pc = ctx->plans;
    if (!pc) pc = ctx->plans = calloc(1, sizeof *pc); /* freed in qg_context_destroy */
    if (pc) {
        for (int probe = 0; probe < PLAN_SLOTS; probe++) {
            plan_slot *s = &pc->slots[(h + (uint64_t)probe) % PLAN_SLOTS];
            if (!s->used) break;
            if (s->op == op && plan_eq(&s->key, p)) {
                *out = s->kernel;
                pthread_mutex_unlock(&ctx->lock);
                return QG_SUCCESS;
            }
        }
    }
    pthread_mutex_unlock(&ctx->lock);

    const qg_variant *v;
    qg_dispatch_level level;
    QG_CHECK(qg_dispatch_choose(ctx, p, op, &v, &level));
    qg_kernel *k;
    qg_status ls = load_planned(ctx, v, p, &k);
    if (ls != QG_SUCCESS && level != QG_LEVEL_HEURISTIC) {
        /* A database may name a kernel this machine cannot run (say cuBLASLt is missing):
         * fall back to the heuristic rather than fail the engine. */
        if (ctx->verbose)
            fprintf(stderr, "qgemm: database kernel %s unusable here (%s); using the heuristic\n",
                    v->id, qg_last_error(ctx));
        level = QG_LEVEL_HEURISTIC;
        QG_CHECK(qg_dispatch_heuristic(ctx, p, op, &v));
        ls = load_planned(ctx, v, p, &k);
    }
    QG_CHECK(ls);
    if (op == QG_OP_GEMM && level >= QG_LEVEL_NEAREST) record_untuned(p);
    if (ctx->verbose)
        fprintf(stderr, "qgemm: %s M=%lld N=%lld K=%lld -> %s (%s)\n", qg_scheme_name(p->scheme),
                (long long)p->m, (long long)p->n, (long long)p->k, v->id,
                qg_dispatch_level_name(level));
    pthread_mutex_lock(&ctx->lock);
    if (pc && pc->count < PLAN_SLOTS * 3 / 4) { /* when full, plan without caching */
        for (int probe = 0; probe < PLAN_SLOTS; probe++) {
            plan_slot *s = &pc->slots[(h + (uint64_t)probe) % PLAN_SLOTS];
            if (s->used && s->op == op && plan_eq(&s->key, p)) break; /* another thread won */
            if (s->used) continue;
            s->key = *p;
            s->op = op;
            s->kernel = k;
            s->used = 1;
            pc->count++;
            break;
        }
    }
    pthread_mutex_unlock(&ctx->lock);
    *out = k;
    return QG_SUCCESS;
}

static size_t workspace_of(const qg_kernel *k, const qg_problem *p) {
    const qg_family *f = k->variant->family;
    return f->workspace ? f->workspace(p, k->variant->params) : 0;
}

static qg_status check_arch(qg_context *ctx, const qg_problem *p) {
    const qg_scheme_traits *t = qg_scheme_get(p->scheme);
    const int cc = ctx->info.cc_major * 10 + ctx->info.cc_minor;
    QG_RETURN_IF(ctx, ctx->info.backend == QG_BACKEND_CUDA && cc < t->min_cc, QG_ERR_UNSUPPORTED_ARCH,
                 "%s needs compute capability %d.%d or newer; "
                 "this device (%s) is %s",
                 t->name, t->min_cc / 10, t->min_cc % 10, ctx->info.name, ctx->info.arch);
    return QG_SUCCESS;
}

static qg_status check_gemm_args(qg_context *ctx, const qg_problem *p, const qg_gemm_args *a) {
    QG_RETURN_IF(ctx, !a, QG_ERR_NULL_POINTER, "args is NULL");
    QG_RETURN_IF(ctx, a->struct_size < sizeof(qg_gemm_args), QG_ERR_INVALID_ARGUMENT,
                 "args.struct_size is %zu, expected %zu: call qg_gemm_args_init()", a->struct_size,
                 sizeof(qg_gemm_args));
    const qg_scheme_traits *t = qg_scheme_get(p->scheme);
    QG_RETURN_IF(ctx, !a->a || !a->c || !a->w.weight, QG_ERR_NULL_POINTER,
                 "a, c and w.weight must not be NULL");
    QG_RETURN_IF(ctx, t->dynamic_act && !a->a_scale, QG_ERR_NULL_POINTER,
                 "%s needs a_scale (per-token activation scales)", t->name);
    QG_RETURN_IF(ctx, p->has_bias && !a->bias, QG_ERR_NULL_POINTER, "has_bias is set, bias is NULL");
    qg_packed_sizes sz;
    QG_CHECK(qg_packed_sizes_get(p, &sz));
    QG_RETURN_IF(ctx,
                 (sz.scale_bytes && !a->w.scale) || (sz.zero_bytes && !a->w.zero) ||
                     (sz.meta_bytes && !a->w.meta),
                 QG_ERR_NULL_POINTER,
                 "a packed weight buffer the scheme needs (scale/zero/meta) is NULL");
    QG_RETURN_IF(ctx, (a->lda && a->lda < p->k) || (a->ldc && a->ldc < p->n),
                 QG_ERR_INVALID_ARGUMENT, "lda (%lld) must be >= K and ldc (%lld) >= N",
                 (long long)a->lda, (long long)a->ldc);
    return QG_SUCCESS;
}

static qg_status validate_ctx(qg_context *ctx, const qg_problem *p) {
    QG_RETURN_IF(NULL, !ctx, QG_ERR_NULL_POINTER, "ctx is NULL");
    if (qg_problem_validate(p) != QG_SUCCESS) {
        qg_error_propagate(ctx);
        return qg_problem_validate(p);
    }
    return check_arch(ctx, p);
}

qg_status qg_launch_gemm(qg_context *ctx, qg_kernel *k, const qg_problem *p,
                         const qg_gemm_args *args, void *stream) {
    qg_gemm_args a = *args;
    size_t ws = workspace_of(k, p);
    if (ws && (!a.workspace || a.workspace_bytes < ws)) {
        QG_RETURN_IF(ctx, a.workspace, QG_ERR_INVALID_ARGUMENT,
                     "workspace of %zu bytes is too small: %s needs %zu", a.workspace_bytes,
                     k->variant->id, ws);
        /* The context's own, one per stream: concurrent kernels must not share one. */
        QG_CHECK(qg_workspace_get(ctx, stream, ws, &a.workspace, &a.workspace_bytes));
    }
    if (!a.lda) a.lda = p->k;
    if (!a.ldc) a.ldc = p->n;
    return k->variant->family->launch(ctx, k, p, &a, k->variant->params, stream);
}

void qg_gemm_args_init(qg_gemm_args *a) {
    if (!a) return;
    memset(a, 0, sizeof *a);
    a->struct_size = sizeof *a;
}

qg_status qg_gemm(qg_context *ctx, const qg_problem *p, const qg_gemm_args *args, void *stream) {
    QG_CHECK(validate_ctx(ctx, p));
    QG_CHECK(check_gemm_args(ctx, p, args));
    qg_kernel *k;
    QG_CHECK(qg_plan(ctx, p, QG_OP_GEMM, &k));
    return qg_launch_gemm(ctx, k, p, args, stream);
}

qg_status qg_gemm_with_kernel(qg_context *ctx, const qg_problem *p, const qg_gemm_args *args,
                              const char *kernel_id, void *stream) {
    QG_CHECK(validate_ctx(ctx, p));
    QG_CHECK(check_gemm_args(ctx, p, args));
    QG_RETURN_IF(ctx, !kernel_id, QG_ERR_NULL_POINTER, "kernel_id is NULL");
    const qg_variant *v = qg_catalog_find(kernel_id);
    QG_RETURN_IF(ctx, !v, QG_ERR_NOT_FOUND, "no kernel variant '%s' in the catalog", kernel_id);
    const int cc = ctx->info.cc_major * 10 + ctx->info.cc_minor;
    char why[256] = "it computes another operation or scheme";
    QG_RETURN_IF(ctx,
                 !qg_variant_fits_backend(v, p, QG_OP_GEMM, cc, ctx->info.backend == QG_BACKEND_HIP,
                                          why, sizeof why),
                 QG_ERR_UNSUPPORTED, "kernel %s cannot run %s M=%lld N=%lld K=%lld on %s: %s",
                 kernel_id, qg_scheme_name(p->scheme), (long long)p->m, (long long)p->n,
                 (long long)p->k, ctx->info.arch, why);
    qg_kernel *k;
    QG_CHECK(qg_jit_get(ctx, v, &k));
    return qg_launch_gemm(ctx, k, p, args, stream);
}

qg_status qg_gemm_workspace_size(qg_context *ctx, const qg_problem *p, size_t *bytes) {
    QG_CHECK(validate_ctx(ctx, p));
    QG_RETURN_IF(ctx, !bytes, QG_ERR_NULL_POINTER, "bytes is NULL");
    const qg_variant *v;
    qg_dispatch_level level;
    QG_CHECK(qg_dispatch_choose(ctx, p, QG_OP_GEMM, &v, &level));
    *bytes = v->family->workspace ? v->family->workspace(p, v->params) : 0;
    return QG_SUCCESS;
}

qg_status qg_prepare(qg_context *ctx, const qg_problem *problems, int count) {
    QG_RETURN_IF(NULL, !ctx, QG_ERR_NULL_POINTER, "ctx is NULL");
    QG_RETURN_IF(ctx, count < 0 || (count > 0 && !problems), QG_ERR_INVALID_ARGUMENT,
                 "problems is NULL or count (%d) negative", count);
    for (int i = 0; i < count; i++) {
        const qg_problem *p = &problems[i];
        QG_CHECK(validate_ctx(ctx, p));
        qg_kernel *k;
        QG_CHECK(qg_plan(ctx, p, QG_OP_GEMM, &k));
        /* The NULL stream's workspace: also what graphs captured on a stream that never
         * needed one before fall back to (workspace.h). */
        void *ws;
        size_t ws_bytes;
        QG_CHECK(qg_workspace_get(ctx, NULL, workspace_of(k, p), &ws, &ws_bytes));
        if (qg_scheme_get(p->scheme)->dynamic_act) {
            qg_kernel *kq;
            QG_CHECK(qg_plan(ctx, p, QG_OP_ACT_QUANT, &kq));
        }
    }
    return QG_SUCCESS;
}

qg_status qg_quantize_activations(qg_context *ctx, const qg_problem *p, const void *a, void *q,
                                  float *scale, void *stream) {
    QG_CHECK(validate_ctx(ctx, p));
    QG_RETURN_IF(ctx, !a || !q || !scale, QG_ERR_NULL_POINTER, "a, q and scale must not be NULL");
    QG_RETURN_IF(ctx, !qg_scheme_get(p->scheme)->dynamic_act, QG_ERR_INVALID_ARGUMENT,
                 "%s does not quantize activations", qg_scheme_name(p->scheme));
    qg_kernel *k;
    QG_CHECK(qg_plan(ctx, p, QG_OP_ACT_QUANT, &k));
    const qg_actq_args args = {a, q, scale};
    return k->variant->family->launch(ctx, k, p, &args, k->variant->params, stream);
}

qg_status qg_dequantize_weight(qg_context *ctx, const qg_problem *p, const qg_packed_weight *w,
                               void *out, qg_dtype out_dtype, void *stream) {
    QG_RETURN_IF(NULL, !ctx, QG_ERR_NULL_POINTER, "ctx is NULL");
    QG_RETURN_IF(ctx, !w || !w->weight || !out, QG_ERR_NULL_POINTER,
                 "w, w->weight and out must not be NULL");
    QG_RETURN_IF(ctx, out_dtype != QG_DTYPE_BF16 && out_dtype != QG_DTYPE_F16,
                 QG_ERR_INVALID_ARGUMENT, "out_dtype must be bf16 or f16");
    qg_problem q = *p;
    q.m = 1; /* the weight alone: M does not matter */
    QG_CHECK(validate_ctx(ctx, &q));
    qg_kernel *k;
    QG_CHECK(qg_plan(ctx, &q, QG_OP_DEQUANT, &k));
    const qg_dequant_args args = {w, out, out_dtype};
    return k->variant->family->launch(ctx, k, &q, &args, k->variant->params, stream);
}
