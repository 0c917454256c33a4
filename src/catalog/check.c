/* qg_check_catalog: compile every variant for one architecture on a thread pool (no device). */
#include "backend.h"
#include "jit.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *arch;
    qg_check_callback cb;
    void *user;
    atomic_int next;
    atomic_int compiled, failed, skipped;
    pthread_mutex_t cb_lock; /* callbacks are serialized so the caller needs no locking */
} check_job;

/* Sum over a ptxas -v log of the numbers before `what` ("bytes spill stores"): one per kernel. */
long qg_ptxas_sum(const char *log, const char *what) {
    long sum = 0;
    for (const char *p = log ? strstr(log, what) : NULL; p; p = strstr(p + 1, what)) {
        const char *d = p;
        while (d > log && d[-1] == ' ') d--;
        const char *end = d;
        while (d > log && d[-1] >= '0' && d[-1] <= '9') d--;
        if (d < end) sum += strtol(d, NULL, 10);
    }
    return sum;
}

/* Does the comma-separated list (or "all") name arch? */
static int lists_arch(const char *list, const char *arch) {
    const size_t n = strlen(arch);
    for (const char *p = list; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        const size_t len = strcspn(p, ",");
        if ((len == 3 && !strncmp(p, "all", 3)) || (len == n && !strncmp(p, arch, n))) return 1;
    }
    return 0;
}

qg_status qg_check_spills(const qg_variant *v, const char *arch, char **log) {
    const long stores = qg_ptxas_sum(*log, "bytes spill stores"),
               loads = qg_ptxas_sum(*log, "bytes spill loads");
    if ((!stores && !loads) || lists_arch(v->family->allow_spills, arch)) return QG_SUCCESS;
    const char *fmt = "%s spills registers for %s: %ld bytes spill stores, %ld bytes spill loads "
                      "(add %s to .allow_spills of family %s if that is intended)\n%s";
    const int n = snprintf(NULL, 0, fmt, v->id, arch, stores, loads, arch, v->family->name, *log);
    char *msg = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (msg) {
        snprintf(msg, (size_t)n + 1, fmt, v->id, arch, stores, loads, arch, v->family->name, *log);
        free(*log);
        *log = msg;
    }
    return QG_ERROR(NULL, QG_ERR_COMPILE, "%s spills registers (%ld bytes stored, %ld loaded)",
                    v->id, stores, loads);
}

/* ptxas's notes that it made wgmmas wait for each other (C7509-C7516: "... are serialized due
 * to ...") or inserted a wait of its own (C7517): the kernel then runs its wgmmas one at a time,
 * whatever its source says. */
static const char *wgmma_serialized(const char *log) {
    static const char *const notes[] = {"instructions are serialized", "warpgroup.wait is injected"};
    for (size_t i = 0; log && i < sizeof notes / sizeof notes[0]; i++) {
        const char *p = strstr(log, notes[i]);
        if (p) {
            while (p > log && p[-1] != '\n') p--; /* the whole line */
            return p;
        }
    }
    return NULL;
}

qg_status qg_check_wgmma_serialized(const qg_variant *v, const char *arch, char **log) {
    const char *line = wgmma_serialized(*log);
    if (!line) return QG_SUCCESS;
    const int len = (int)strcspn(line, "\n");
    const char *fmt = "%s: ptxas serializes its wgmmas for %s: %.*s\n%s";
    const int n = snprintf(NULL, 0, fmt, v->id, arch, len, line, *log);
    char *msg = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (msg) {
        snprintf(msg, (size_t)n + 1, fmt, v->id, arch, len, line, *log);
        free(*log);
        *log = msg;
    }
    return QG_ERROR(NULL, QG_ERR_COMPILE, "%s: ptxas serializes its wgmmas for %s", v->id, arch);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *worker(void *arg) {
    check_job *j = arg;
    for (;;) {
        int i = atomic_fetch_add(&j->next, 1);
        const qg_variant *v = qg_catalog_get(i);
        if (!v) break;
        if (!qg_family_targets_arch(v->family, j->arch)) {
            atomic_fetch_add(&j->skipped, 1);
            continue;
        }
        void *image = NULL;
        size_t size = 0;
        char *log = NULL;
        double ms = 0;
        qg_status s = qg_jit_compile(v, j->arch, &image, &size, &log, &ms);
        if (s == QG_ERR_UNSUPPORTED) { /* a header package it needs is absent (the message says) */
            atomic_fetch_add(&j->skipped, 1);
            free(log);
            continue;
        }
        if (s == QG_SUCCESS && size == 0) s = QG_ERR_COMPILE;
        if (s == QG_SUCCESS) s = qg_check_spills(v, j->arch, &log);
        if (s == QG_SUCCESS) s = qg_check_wgmma_serialized(v, j->arch, &log);
        atomic_fetch_add(s == QG_SUCCESS ? &j->compiled : &j->failed, 1);
        if (j->cb) {
            pthread_mutex_lock(&j->cb_lock);
            j->cb(j->user, v->id, s, log ? log : (s ? qg_last_error(NULL) : ""), ms / 1000.0);
            pthread_mutex_unlock(&j->cb_lock);
        }
        free(image);
        free(log);
    }
    return NULL;
}

qg_status qg_check_catalog(const char *arch, int threads, qg_check_callback callback, void *user,
                           qg_check_result *out) {
    QG_RETURN_IF(NULL, !arch, QG_ERR_NULL_POINTER, "arch is NULL");
    const int cc = qg_arch_cc(arch);
    QG_RETURN_IF(NULL, strncmp(arch, "gfx", 3) != 0 && cc < 70, QG_ERR_INVALID_ARGUMENT,
                 "unknown architecture '%s' (sm_80, sm_89, sm_90a, gfx90a, ...)", arch);
    const qg_compiler *comp = qg_compiler_for_arch(arch);
    char why[512];
    QG_RETURN_IF(NULL, comp->load(why, sizeof why) != QG_SUCCESS, QG_ERR_NO_COMPILER, "%s", why);
    if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads <= 0) threads = 1;
    if (threads > 64) threads = 64;

    check_job j = {.arch = arch, .cb = callback, .user = user};
    pthread_mutex_init(&j.cb_lock, NULL);
    double t0 = now_s();
    pthread_t tid[64];
    int started = 0;
    for (; started < threads; started++)
        if (pthread_create(&tid[started], NULL, worker, &j) != 0) break;
    if (started == 0) worker(&j);
    for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
    pthread_mutex_destroy(&j.cb_lock);
    if (out) {
        out->compiled = j.compiled;
        out->failed = j.failed;
        out->skipped = j.skipped;
        out->seconds = now_s() - t0;
    }
    QG_RETURN_IF(NULL, j.failed > 0, QG_ERR_COMPILE,
                 "%d of %d variants failed to compile for %s "
                 "or spill registers",
                 (int)j.failed, (int)(j.failed + j.compiled), arch);
    return QG_SUCCESS;
}
