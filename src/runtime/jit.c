/*
 * JIT: catalog variant -> source + options -> image (NVRTC cubin / hiprtc code object) ->
 * loaded module and function, cached per context in memory and across processes on disk.
 *
 * Thread safety: the in-memory table is guarded by ctx->lock, which is never held while
 * compiling or loading. A variant being built is marked busy; other threads asking for it wait
 * on a condition variable instead of compiling it a second time.
 */
#include "jit.h"

#include "backend.h"
#include "code_hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

typedef enum { SLOT_EMPTY = 0, SLOT_BUSY, SLOT_READY } slot_state;

typedef struct jit_slot {
    const qg_variant *variant;
    slot_state state;
    qg_kernel *kernel;     /* stable address: dispatch keeps pointers to it */
    struct jit_slot *next; /* variants outside the catalog (tests) live in a list */
} jit_slot;

struct qg_jit_cache {
    int count; /* catalog variants, indexed by qg_variant.index */
    jit_slot *slots;
    jit_slot *extra;
    pthread_cond_t built; /* signalled (with ctx->lock) when a busy slot settles */
};

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec;
}

/* ---------------------------------------------------------------- key */

/* Each field is hashed with its length first so that concatenations cannot collide. */
static void hash_field(XXH3_state_t *st, const void *data, size_t len) {
    const uint64_t n = len;
    XXH3_64bits_update(st, &n, sizeof n);
    if (len) XXH3_64bits_update(st, data, len);
}

static void hash_str(XXH3_state_t *st, const char *s) {
    hash_field(st, s ? s : "", s ? strlen(s) : 0);
}

uint64_t qg_jit_key(const qg_variant *v, const char *arch, int compiler_version) {
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    const qg_compiler *comp = qg_compiler_for_arch(arch);
    hash_str(&st, "qgemm-jit-key-1");
    hash_str(&st, QG_VERSION_STRING);
    const int format = QG_FORMAT_VERSION;
    hash_field(&st, &format, sizeof format);
    hash_str(&st, arch);
    hash_str(&st, comp->name);
    hash_field(&st, &compiler_version, sizeof compiler_version);
    hash_str(&st, comp->fixed_flags);

    char opts[QG_MAX_PARAMS][48];
    const int nopt = qg_variant_options(v, opts, QG_MAX_PARAMS);
    for (int i = 0; i < nopt; i++) hash_str(&st, opts[i]);

    if (v->family->jit_options) { /* run-time options: what they point to is part of the key */
        char ext[QG_JIT_MAX_EXTRA_OPTIONS][QG_JIT_OPTION_LEN], what[256] = "";
        int n = 0;
        if (v->family->jit_options(ext, &n, what, sizeof what) == QG_SUCCESS) {
            hash_str(&st, what);
            for (int i = 0; i < n; i++) hash_str(&st, ext[i]);
        } else {
            hash_str(&st, "<run-time options unavailable>");
        }
    }

    size_t len = 0;
    const char *src = v->family->source ? qg_embedded_source(v->family->source, &len) : NULL;
    hash_str(&st, v->family->source);
    if (src) hash_field(&st, src, len);
    else if (!v->family->source) hash_str(&st, v->family->name); /* library-backed: no image */
    else hash_str(&st, "<missing source>");
    /* Every header the compiler is given may be included: all of them are part of the key. */
    for (int i = 0; i < qg_embedded_count(); i++) {
        const char *data;
        const char *name = qg_embedded_name(i, &data, &len);
        size_t n = strlen(name), m = strlen(comp->header_suffix);
        if (n < m || strcmp(name + n - m, comp->header_suffix) != 0) continue;
        hash_str(&st, name);
        hash_field(&st, data, len);
    }
    return XXH3_64bits_digest(&st);
}

/* ---------------------------------------------------------------- compile */

qg_status qg_jit_compile(const qg_variant *v, const char *arch, void **image, size_t *size,
                         char **log, double *ms) {
    if (log) *log = NULL;
    if (ms) *ms = 0;
    QG_RETURN_IF(NULL, !v || !arch || !image || !size, QG_ERR_NULL_POINTER,
                 "jit compile: NULL argument");
    *image = NULL;
    *size = 0;
    const qg_compiler *comp = qg_compiler_for_arch(arch);
    char why[512];
    QG_RETURN_IF(NULL, !v->family->source, QG_ERR_INVALID_ARGUMENT,
                 "%s calls a library: it has no kernel source to compile", v->id);
    QG_RETURN_IF(NULL, comp->load(why, sizeof why) != QG_SUCCESS, QG_ERR_NO_COMPILER, "%s", why);
    const char *src = qg_embedded_source(v->family->source, NULL);
    QG_RETURN_IF(NULL, !src, QG_ERR_INTERNAL,
                 "kernel source %s of %s is not embedded in the library", v->family->source, v->id);

    char opts[QG_MAX_PARAMS][48];
    const char *optp[QG_MAX_PARAMS + QG_JIT_MAX_EXTRA_OPTIONS];
    int nopt = qg_variant_options(v, opts, QG_MAX_PARAMS);
    for (int i = 0; i < nopt; i++) optp[i] = opts[i];
    char ext[QG_JIT_MAX_EXTRA_OPTIONS][QG_JIT_OPTION_LEN], what[256];
    int next = 0;
    if (v->family->jit_options) {
        QG_CHECK(v->family->jit_options(ext, &next, what, sizeof what));
        for (int i = 0; i < next && i < QG_JIT_MAX_EXTRA_OPTIONS; i++) optp[nopt++] = ext[i];
    }
    const double t0 = now_ms();
    qg_status s = comp->compile(src, v->family->source, arch, optp, nopt, image, size, log);
    if (ms) *ms = now_ms() - t0;
    return s;
}

/* ---------------------------------------------------------------- per-context cache */

qg_jit_cache *qg_jit_cache_create(void) {
    qg_jit_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->count = qg_catalog_count();
    if (c->count > 0 && !(c->slots = calloc((size_t)c->count, sizeof *c->slots))) {
        free(c);
        return NULL;
    }
    pthread_cond_init(&c->built, NULL);
    return c;
}

static void free_slot_kernel(qg_context *ctx, jit_slot *s) {
    if (s->kernel && s->kernel->module && ctx && ctx->ops && ctx->backend)
        ctx->ops->module_unload(ctx, s->kernel->module);
    free(s->kernel);
    s->kernel = NULL;
}

void qg_jit_cache_destroy(qg_context *ctx, qg_jit_cache *c) {
    if (!c) return;
    for (int i = 0; i < c->count; i++) free_slot_kernel(ctx, &c->slots[i]);
    for (jit_slot *s = c->extra, *next; s; s = next) {
        next = s->next;
        free_slot_kernel(ctx, s);
        free(s);
    }
    pthread_cond_destroy(&c->built);
    free(c->slots);
    free(c);
}

/* The slot for v (ctx->lock held); NULL only when out of memory. */
static jit_slot *find_slot(qg_jit_cache *c, const qg_variant *v) {
    if (v->index >= 0 && v->index < c->count && qg_catalog_get(v->index) == v)
        return &c->slots[v->index];
    for (jit_slot *s = c->extra; s; s = s->next)
        if (s->variant == v) return s;
    jit_slot *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->variant = v;
    s->next = c->extra;
    c->extra = s;
    return s;
}

/* Image from disk, else from the compiler (then stored on disk). No lock held. */
static qg_status get_image(qg_context *ctx, const qg_variant *v, void **image, size_t *size,
                           qg_kernel *k) {
    const char *arch = ctx->info.arch;
    const uint64_t key = qg_jit_key(v, arch, ctx->info.compiler_version);
    const double t0 = now_ms();
    if (ctx->cache_dir[0]) {
        qg_status s = qg_disk_cache_read(ctx->cache_dir, arch, key, image, size);
        if (s == QG_SUCCESS) {
            k->from_disk = 1;
            if (ctx->verbose)
                fprintf(stderr, "qgemm: %s: disk cache hit %016llx (%.2f ms)\n", v->id,
                        (unsigned long long)key, now_ms() - t0);
            return QG_SUCCESS;
        }
        if (s != QG_ERR_NOT_FOUND) { /* out of memory */
            qg_error_propagate(ctx);
            return s;
        }
        char hex[20];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)key);
        const char *msg = qg_last_error(NULL);
        if (ctx->verbose && strstr(msg, "cache file") && strstr(msg, hex)) /* corrupt, deleted */
            fprintf(stderr, "qgemm: %s\n", msg);
    }
    char *log = NULL;
    double ms = 0;
    qg_status s = qg_jit_compile(v, arch, image, size, &log, &ms);
    if (s != QG_SUCCESS) {
        /* qg_jit_compile recorded the message thread-locally; keep the log's head with it. */
        if (log) {
            char head[1024];
            snprintf(head, sizeof head, "%s", log);
            QG_ERROR(ctx, s, "compiling %s for %s failed:\n%s", v->id, arch, head);
        } else {
            qg_error_propagate(ctx);
        }
        free(log);
        return s;
    }
    free(log);
    k->compile_ms = ms;
    if (ctx->verbose)
        fprintf(stderr, "qgemm: %s: compiled for %s in %.1f ms (%zu bytes)\n", v->id, arch, ms,
                *size);
    if (ctx->cache_dir[0] &&
        qg_disk_cache_write(ctx->cache_dir, arch, key, *image, *size) != QG_SUCCESS &&
        ctx->verbose) /* a read-only cache only costs a compile next time */
        fprintf(stderr, "qgemm: %s\n", qg_last_error(NULL));
    return QG_SUCCESS;
}

/* Load the image, find the entry, raise its dynamic shared memory limit. No lock held. */
static qg_status load_kernel(qg_context *ctx, const qg_variant *v, const void *image, size_t size,
                             qg_kernel *k) {
    QG_CHECK(ctx->ops->module_load(ctx, image, size, &k->module));
    qg_status s = ctx->ops->function_get(ctx, k->module, v->family->entry, &k->fn);
    if (s == QG_SUCCESS && ctx->ops->function_static_smem && ctx->info.smem_optin > 0) {
        /* Once here, so launches of any smem size up to the device limit need no attribute call
         * (launch path stays free of driver state changes, CUDA-graph friendly). */
        int static_smem = 0;
        s = ctx->ops->function_static_smem(ctx, k->fn, &static_smem);
        if (s == QG_SUCCESS && ctx->info.smem_optin - static_smem > 0)
            s = ctx->ops->function_set_smem(ctx, k->fn, ctx->info.smem_optin - static_smem);
    }
    if (s != QG_SUCCESS) {
        ctx->ops->module_unload(ctx, k->module);
        k->module = k->fn = NULL;
    }
    return s;
}

qg_status qg_jit_get(qg_context *ctx, const qg_variant *v, qg_kernel **out) {
    QG_RETURN_IF(NULL, !ctx, QG_ERR_NULL_POINTER, "ctx is NULL");
    QG_RETURN_IF(ctx, !v || !out, QG_ERR_NULL_POINTER, "variant and out must not be NULL");
    QG_RETURN_IF(ctx, !ctx->jit, QG_ERR_INTERNAL, "context has no kernel cache");
    /* A family without a source calls a library (cuBLASLt): its kernel is a handle without a
     * module, for any device of its backend and compute capability. */
    const int sourceless = v->family->source == NULL;
    const int usable = sourceless ? !!v->family->hip == (ctx->info.backend == QG_BACKEND_HIP) &&
                                        qg_arch_cc(ctx->info.arch) >= v->family->min_cc
                                  : qg_family_targets_arch(v->family, ctx->info.arch);
    QG_RETURN_IF(ctx, !usable, QG_ERR_UNSUPPORTED_ARCH, "kernel %s is not built for %s", v->id,
                 ctx->info.arch);
    qg_jit_cache *c = ctx->jit;

    pthread_mutex_lock(&ctx->lock);
    jit_slot *slot = find_slot(c, v);
    if (!slot) {
        pthread_mutex_unlock(&ctx->lock);
        return QG_ERROR(ctx, QG_ERR_OUT_OF_MEMORY, "no memory for a kernel cache entry");
    }
    while (slot->state == SLOT_BUSY) pthread_cond_wait(&c->built, &ctx->lock);
    if (slot->state == SLOT_READY) {
        *out = slot->kernel;
        pthread_mutex_unlock(&ctx->lock);
        return QG_SUCCESS;
    }
    slot->state = SLOT_BUSY; /* this thread builds it */
    pthread_mutex_unlock(&ctx->lock);

    qg_kernel *k = calloc(1, sizeof *k);
    void *image = NULL;
    size_t size = 0;
    qg_status s = k ? QG_SUCCESS : QG_ERROR(ctx, QG_ERR_OUT_OF_MEMORY, "no memory for a kernel");
    if (s == QG_SUCCESS) {
        k->variant = v;
        if (!sourceless) s = get_image(ctx, v, &image, &size, k);
    }
    if (s == QG_SUCCESS && !sourceless) s = load_kernel(ctx, v, image, size, k);
    if (s == QG_SUCCESS && !sourceless) k->image_hash = qg_image_code_hash(image, size);
    free(image);

    pthread_mutex_lock(&ctx->lock);
    if (s == QG_SUCCESS) {
        slot->kernel = k;
        slot->state = SLOT_READY;
        *out = k;
    } else {
        free(k);
        slot->state = SLOT_EMPTY; /* waiters retry (and report their own error) */
    }
    pthread_cond_broadcast(&c->built);
    pthread_mutex_unlock(&ctx->lock);
    return s;
}

qg_status qg_jit_code_hash(qg_context *ctx, const qg_variant *v, char *out) {
    QG_RETURN_IF(ctx, !v || !out, QG_ERR_NULL_POINTER, "variant and out must not be NULL");
    out[0] = 0;
    qg_kernel *k;
    QG_CHECK(qg_jit_get(ctx, v, &k));
    const qg_variant *helper = qg_variant_helper(v);
    QG_RETURN_IF(ctx, v->family->helper_kernel && !helper, QG_ERR_INTERNAL,
                 "the helper kernel of %s is not in the catalog", v->id);
    char helper_hex[QG_CODE_HASH_LEN];
    if (helper) QG_CHECK(qg_jit_code_hash(ctx, helper, helper_hex));
    qg_code_hash_hex(v, k->image_hash, helper ? helper_hex : NULL, out);
    return QG_SUCCESS;
}
