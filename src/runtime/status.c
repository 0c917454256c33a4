/* Status names, versions and the error-message plumbing. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char tls_error[QG_ERRMSG_LEN];

unsigned qg_version_number(void) { return QG_VERSION_NUMBER; }
const char *qg_version_string(void) { return QG_VERSION_STRING; }
int qg_format_version(void) { return QG_FORMAT_VERSION; }

const char *qg_status_name(qg_status s) {
    switch (s) {
#define QG_X_(name, value, desc) \
    case name: return #name;
        QG_STATUS_LIST(QG_X_)
#undef QG_X_
    }
    return "QG_UNKNOWN_STATUS";
}

const char *qg_status_string(qg_status s) {
    switch (s) {
#define QG_X_(name, value, desc) \
    case name: return desc;
        QG_STATUS_LIST(QG_X_)
#undef QG_X_
    }
    return "unknown status";
}

const char *qg_last_error(const qg_context *ctx) { return ctx ? ctx->last_error : tls_error; }

qg_status qg_set_errorv(qg_context *ctx, qg_status s, const char *file, int line, const char *fmt,
                        va_list ap) {
    char msg[QG_ERRMSG_LEN];
    vsnprintf(msg, sizeof msg, fmt, ap);
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    /* The thread-local copy is always written so context-free callers and bindings see it. */
    snprintf(tls_error, sizeof tls_error, "%s: %s (%s:%d)", qg_status_name(s), msg, base, line);
    if (ctx) memcpy(ctx->last_error, tls_error, sizeof tls_error);
    if (ctx && ctx->verbose) fprintf(stderr, "qgemm: %s\n", tls_error);
    return s;
}

qg_status qg_set_error(qg_context *ctx, qg_status s, const char *file, int line, const char *fmt,
                       ...) {
    va_list ap;
    va_start(ap, fmt);
    qg_status r = qg_set_errorv(ctx, s, file, line, fmt, ap);
    va_end(ap);
    return r;
}

void qg_error_propagate(qg_context *ctx) {
    if (ctx) memcpy(ctx->last_error, tls_error, sizeof tls_error);
}

const char *qg_getenv(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return (v && *v) ? v : fallback;
}
