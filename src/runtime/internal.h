/* Internal declarations shared by the runtime's .c files. Not installed. */
#ifndef QG_INTERNAL_H
#define QG_INTERNAL_H

#include "qgemm.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>

#define QG_ERRMSG_LEN 4096

typedef struct qg_backend_ops qg_backend_ops;
typedef struct qg_jit_cache qg_jit_cache;

/* One stream's GEMM workspace (workspace.c): zeroed, and kernels leave it zeroed. */
typedef struct {
    const void *key; /* the stream, or for the per-thread default stream, the thread */
    void *stream;    /* NULL: the legacy stream's, sized by qg_prepare */
    void *ptr;
    size_t bytes;
} qg_stream_workspace;

struct qg_context {
    const qg_backend_ops *ops;
    void *backend; /* backend state (driver handles, device, primary context) */
    qg_device_info info;
    char cache_dir[1024];            /* "" = disk cache disabled */
    qg_jit_cache *jit;               /* loaded kernels, keyed by variant id */
    void *db;                        /* tuning database (qg_db *), may be NULL */
    void *plans;                     /* problem -> kernel cache (dispatch.c) */
    qg_stream_workspace *workspaces; /* context-owned workspaces, one per stream */
    int workspace_count, workspace_cap;
    void *blas;    /* cuBLASLt handle and plans (cublaslt.c), made on first use */
    void *cutlass; /* probed plans of the CUTLASS-built kernels (cutlass_probe.c) */
    int verbose;
    pthread_mutex_t lock; /* guards jit, db, plans, workspaces; never held across a launch */
    char last_error[QG_ERRMSG_LEN];
};

/* Record a message for `ctx` (or the calling thread if ctx is NULL) and return `s`. */
qg_status qg_set_error(qg_context *ctx, qg_status s, const char *file, int line, const char *fmt,
                       ...) __attribute__((format(printf, 5, 6)));
qg_status qg_set_errorv(qg_context *ctx, qg_status s, const char *file, int line, const char *fmt,
                        va_list ap);
/* Copy the thread-local error into ctx (after a context-free helper failed). */
void qg_error_propagate(qg_context *ctx);

#define QG_ERROR(ctx, status, ...) qg_set_error((ctx), (status), __FILE__, __LINE__, __VA_ARGS__)

/* Return `status` with a message if `cond` holds. */
#define QG_RETURN_IF(ctx, cond, status, ...)                     \
    do {                                                         \
        if (cond) return QG_ERROR((ctx), (status), __VA_ARGS__); \
    } while (0)

/* Propagate a failing status (its message is already recorded). */
#define QG_CHECK(expr)                         \
    do {                                       \
        qg_status qg_s_ = (expr);              \
        if (qg_s_ != QG_SUCCESS) return qg_s_; \
    } while (0)

#define QG_ARRAY_SIZE(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define QG_CDIV(a, b) (((a) + (b)-1) / (b))

qg_status qg_problem_validate_weight(const qg_problem *p);
typedef struct qg_kernel qg_kernel;
int qg_mkdirs(const char *path);
/* The JIT disk cache directory a context uses by default: $QGEMM_CACHE_DIR, else
 * $XDG_CACHE_HOME/qgemm/<version>, else ~/.cache/qgemm/<version> (context.c). 0, or -1
 * with out = "" when the path does not fit in len (never a directory cut short). */
int qg_default_cache_dir(char *out, size_t len);

/* Environment variable with a default. */
const char *qg_getenv(const char *name, const char *fallback);

#endif
