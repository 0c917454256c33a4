/* Contexts: backend selection, device info, cache directory, memory helpers. */
#include "backend.h"
#include "cublaslt.h"
#include "cutlass_probe.h"
#include "data_dir.h"
#include "jit.h"
#include "workspace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void qg_db_context_close(qg_context *ctx);
qg_status qg_db_context_open(qg_context *ctx, const char *path);

void qg_context_params_init(qg_context_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->backend = QG_BACKEND_AUTO;
}

/* mkdir -p; returns 0 on success. */
int qg_mkdirs(const char *path) {
    char tmp[1024];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return -1;
    for (char *s = tmp + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *s = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    return 0;
}

int qg_default_cache_dir(char *out, size_t len) {
    const char *env = qg_getenv("QGEMM_CACHE_DIR", NULL);
    int n;
    if (env) n = snprintf(out, len, "%s", env);
    else if (qg_getenv("XDG_CACHE_HOME", NULL))
        n = snprintf(out, len, "%s/qgemm/%s", qg_getenv("XDG_CACHE_HOME", NULL), QG_VERSION_STRING);
    else n = snprintf(out, len, "%s/.cache/qgemm/%s", qg_getenv("HOME", "/tmp"), QG_VERSION_STRING);
    if (n < 0 || (size_t)n >= len) { /* cut short: never use another directory */
        if (len) out[0] = 0;
        return -1;
    }
    return 0;
}

qg_status qg_context_create(qg_context **out, const qg_context_params *params) {
    QG_RETURN_IF(NULL, !out, QG_ERR_NULL_POINTER, "out is NULL");
    *out = NULL;
    qg_context_params def;
    qg_context_params_init(&def);
    if (!params) params = &def;
    QG_RETURN_IF(NULL, params->struct_size < sizeof(qg_context_params), QG_ERR_INVALID_ARGUMENT,
                 "params.struct_size is %zu, expected %zu: call qg_context_params_init()",
                 params->struct_size, sizeof(qg_context_params));
    QG_RETURN_IF(NULL, params->device < 0, QG_ERR_INVALID_ARGUMENT, "device %d is negative",
                 params->device);

    qg_context *ctx = calloc(1, sizeof *ctx);
    QG_RETURN_IF(NULL, !ctx, QG_ERR_OUT_OF_MEMORY, "no memory for a context");
    pthread_mutex_init(&ctx->lock, NULL);
    ctx->verbose = params->verbose || qg_getenv("QGEMM_VERBOSE", NULL) != NULL;

    qg_status s;
    char cuda_why[QG_ERRMSG_LEN] = "";
    if (params->backend == QG_BACKEND_HIP) {
        ctx->ops = &qg_backend_hip;
        s = ctx->ops->open(ctx, params->device);
    } else {
        ctx->ops = &qg_backend_cuda;
        s = ctx->ops->open(ctx, params->device);
        if (s == QG_ERR_NO_DRIVER && params->backend == QG_BACKEND_AUTO) {
            snprintf(cuda_why, sizeof cuda_why, "%s", qg_last_error(ctx));
            ctx->ops = &qg_backend_hip;
            s = ctx->ops->open(ctx, params->device);
            if (s != QG_SUCCESS) {
                /* Keep both reasons: on a machine with no GPU, say why neither backend works. */
                char hip_why[QG_ERRMSG_LEN];
                snprintf(hip_why, sizeof hip_why, "%s", qg_last_error(ctx));
                s = QG_ERROR(NULL, s, "no usable GPU: [CUDA] %s; [HIP] %s", cuda_why, hip_why);
            }
        }
    }
    if (s != QG_SUCCESS) {
        /* open() released what it took; the message stays in the thread-local slot. */
        pthread_mutex_destroy(&ctx->lock);
        free(ctx);
        return s;
    }

    if (!params->disable_disk_cache && !qg_getenv("QGEMM_DISABLE_DISK_CACHE", NULL)) {
        const int n = params->cache_dir
                          ? snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s", params->cache_dir)
                          : qg_default_cache_dir(ctx->cache_dir, sizeof ctx->cache_dir);
        if (n < 0 || (size_t)n >= sizeof ctx->cache_dir) {
            /* a path cut short would be another directory: refuse, naming where it came from */
            const char *from = params->cache_dir ? "params.cache_dir"
                               : qg_getenv("QGEMM_CACHE_DIR", NULL)
                                   ? "QGEMM_CACHE_DIR"
                                   : "the default (XDG_CACHE_HOME or HOME)";
            qg_context_destroy(ctx);
            return QG_ERROR(NULL, QG_ERR_INVALID_ARGUMENT,
                            "the JIT cache directory from %s is "
                            "longer than %zu characters",
                            from, sizeof ctx->cache_dir - 1);
        }
        if (qg_mkdirs(ctx->cache_dir) != 0) {
            if (ctx->verbose)
                fprintf(stderr, "qgemm: cache dir %s not writable (%s); disk cache off\n",
                        ctx->cache_dir, strerror(errno));
            ctx->cache_dir[0] = 0;
        }
    }
    ctx->jit = qg_jit_cache_create();
    if (!ctx->jit) {
        qg_context_destroy(ctx);
        return QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "no memory for the kernel cache");
    }
    /* A database that cannot be read is reported (verbose) and dispatch falls back to the
     * heuristic: a broken file never stops an engine from running. */
    qg_db_context_open(ctx, params->tuning_db);
    *out = ctx;
    return QG_SUCCESS;
}

void qg_context_destroy(qg_context *ctx) {
    if (!ctx) return;
    qg_db_context_close(ctx);
    qg_cublaslt_context_destroy(ctx); /* before the device context goes */
    qg_cutlass_context_destroy(ctx);
    qg_workspace_free_all(ctx);
    free(ctx->plans);
    if (ctx->jit) qg_jit_cache_destroy(ctx, ctx->jit);
    if (ctx->ops && ctx->backend) ctx->ops->close(ctx);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
}

qg_status qg_context_device_info(qg_context *ctx, qg_device_info *out) {
    QG_RETURN_IF(NULL, !ctx || !out, QG_ERR_NULL_POINTER, "ctx and out must not be NULL");
    *out = ctx->info;
    return QG_SUCCESS;
}

const char *qg_context_cache_dir(const qg_context *ctx) { return ctx ? ctx->cache_dir : ""; }

qg_status qg_malloc(qg_context *ctx, void **dptr, size_t bytes) {
    QG_RETURN_IF(NULL, !ctx || !dptr, QG_ERR_NULL_POINTER, "ctx and dptr must not be NULL");
    *dptr = NULL;
    QG_RETURN_IF(ctx, bytes == 0, QG_ERR_INVALID_ARGUMENT, "zero-byte allocation");
    return ctx->ops->mem_alloc(ctx, dptr, bytes);
}

qg_status qg_free(qg_context *ctx, void *dptr) {
    QG_RETURN_IF(NULL, !ctx, QG_ERR_NULL_POINTER, "ctx is NULL");
    if (!dptr) return QG_SUCCESS;
    return ctx->ops->mem_free(ctx, dptr);
}

qg_status qg_memcpy_htod(qg_context *ctx, void *dst, const void *src, size_t bytes) {
    QG_RETURN_IF(NULL, !ctx, QG_ERR_NULL_POINTER, "ctx is NULL");
    QG_RETURN_IF(ctx, bytes && (!dst || !src), QG_ERR_NULL_POINTER, "NULL copy pointer");
    return bytes ? ctx->ops->memcpy_htod(ctx, dst, src, bytes) : QG_SUCCESS;
}

qg_status qg_memcpy_dtoh(qg_context *ctx, void *dst, const void *src, size_t bytes) {
    QG_RETURN_IF(NULL, !ctx, QG_ERR_NULL_POINTER, "ctx is NULL");
    QG_RETURN_IF(ctx, bytes && (!dst || !src), QG_ERR_NULL_POINTER, "NULL copy pointer");
    return bytes ? ctx->ops->memcpy_dtoh(ctx, dst, src, bytes) : QG_SUCCESS;
}

qg_status qg_memset_d8(qg_context *ctx, void *dst, unsigned char v, size_t bytes) {
    QG_RETURN_IF(NULL, !ctx, QG_ERR_NULL_POINTER, "ctx is NULL");
    QG_RETURN_IF(ctx, bytes && !dst, QG_ERR_NULL_POINTER, "NULL destination");
    return bytes ? ctx->ops->memset_d8(ctx, dst, v, bytes) : QG_SUCCESS;
}

qg_status qg_synchronize(qg_context *ctx) {
    QG_RETURN_IF(NULL, !ctx, QG_ERR_NULL_POINTER, "ctx is NULL");
    return ctx->ops->synchronize(ctx);
}
