#include "gpu_common.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noreturn)) static void die(qg_context *ctx, const char *what) {
    fprintf(stderr, "FATAL %s: %s\n", what, qg_last_error(ctx));
    exit(1);
}

qg_context *gt_open(void) {
    qg_context *ctx = NULL;
    qg_status s = qg_context_create(&ctx, NULL);
    if (s != QG_SUCCESS) {
        printf("no GPU (%s): %s\n", qg_status_name(s), qg_last_error(NULL));
        return NULL;
    }
    qg_device_info info;
    qg_context_device_info(ctx, &info);
    printf("device: %s (%s, %d SMs), cache %s\n", info.name, info.arch, info.sm_count,
           qg_context_cache_dir(ctx));
    return ctx;
}

void *gt_upload(qg_context *ctx, const void *host, size_t bytes) {
    void *d = NULL;
    if (qg_malloc(ctx, &d, bytes) != QG_SUCCESS) die(ctx, "qg_malloc");
    if (qg_memcpy_htod(ctx, d, host, bytes) != QG_SUCCESS) die(ctx, "qg_memcpy_htod");
    return d;
}

void *gt_alloc_poison(qg_context *ctx, size_t bytes) {
    void *d = NULL;
    if (qg_malloc(ctx, &d, bytes) != QG_SUCCESS) die(ctx, "qg_malloc");
    gt_poison(ctx, d, bytes);
    return d;
}

void gt_poison(qg_context *ctx, void *dev, size_t bytes) {
    if (qg_memset_d8(ctx, dev, 0xff, bytes) != QG_SUCCESS) die(ctx, "qg_memset_d8");
}

void gt_download(qg_context *ctx, void *host, const void *dev, size_t bytes) {
    if (qg_synchronize(ctx) != QG_SUCCESS) die(ctx, "qg_synchronize");
    if (qg_memcpy_dtoh(ctx, host, dev, bytes) != QG_SUCCESS) die(ctx, "qg_memcpy_dtoh");
}

size_t gt_count_written(qg_context *ctx, const void *dev, size_t bytes) {
    uint16_t *h = malloc(bytes ? bytes : 2);
    if (!h) die(ctx, "malloc");
    gt_download(ctx, h, dev, bytes);
    size_t written = 0;
    for (size_t j = 0; j < bytes / 2; j++) written += h[j] != 0xffffu;
    free(h);
    return written;
}

void gt_free(qg_context *ctx, void *dev) {
    if (qg_free(ctx, dev) != QG_SUCCESS) die(ctx, "qg_free");
}

qg_packed_weight gt_upload_packed(qg_context *ctx, const qg_problem *p, const qg_packed_weight *h) {
    qg_packed_sizes sz;
    if (qg_packed_sizes_get(p, &sz) != QG_SUCCESS) die(ctx, "qg_packed_sizes_get");
    qg_packed_weight d = {0};
    d.weight = gt_upload(ctx, h->weight, sz.weight_bytes);
    if (sz.scale_bytes) d.scale = gt_upload(ctx, h->scale, sz.scale_bytes);
    if (sz.zero_bytes) d.zero = gt_upload(ctx, h->zero, sz.zero_bytes);
    if (sz.meta_bytes) d.meta = gt_upload(ctx, h->meta, sz.meta_bytes);
    return d;
}

void gt_free_packed(qg_context *ctx, qg_packed_weight *w) {
    gt_free(ctx, w->weight);
    gt_free(ctx, w->scale);
    gt_free(ctx, w->zero);
    gt_free(ctx, w->meta);
    w->weight = w->scale = w->zero = w->meta = NULL;
}

int gt_check_half(const char *what, const uint16_t *out, qg_dtype dt, const double *ref, int64_t m,
                  int64_t n, double tol, double *rel_out) {
    size_t count = (size_t)m * (size_t)n;
    double *got = calloc(count ? count : 1, sizeof(double));
    if (!got) die(NULL, "malloc");
    int64_t first_bad = -1;
    double bad_value = 0;
    for (size_t i = 0; i < count; i++) {
        got[i] = dt == QG_DTYPE_BF16 ? qg_bf16_to_f32(out[i]) : qg_f16_to_f32(out[i]);
        if (!isfinite(got[i]) && first_bad < 0) {
            first_bad = (int64_t)i;
            bad_value = got[i];
        }
    }
    double max_abs;
    double rel = qt_rel_l2(got, ref, count, &max_abs);
    if (rel_out) *rel_out = rel;
    int ok = first_bad < 0 && rel <= tol;
    if (first_bad >= 0)
        QT_CHECK(0, "%s: element (%lld,%lld) is not finite (unwritten or overflow): %g", what,
                 (long long)(first_bad / n), (long long)(first_bad % n), bad_value);
    else QT_CHECK(ok, "%s: rel L2 error %.3g > %.3g (max abs %.3g)", what, rel, tol, max_abs);
    free(got);
    return ok;
}

typedef struct {
    void (*fn)(void *, int64_t);
    void *ctx;
    int64_t n, next;
    pthread_mutex_t mu;
} pfor_job;

static void *pfor_worker(void *arg) {
    pfor_job *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        const int64_t i = p->next++;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->n) return NULL;
        p->fn(p->ctx, i);
    }
}

void gt_parallel_for(int64_t n, int threads, void (*fn)(void *, int64_t), void *ctx) {
    pfor_job p = {fn, ctx, n, 0, PTHREAD_MUTEX_INITIALIZER};
    pthread_t th[64];
    if (threads > 64) threads = 64;
    int started = 0;
    for (; started < threads; started++)
        if (pthread_create(&th[started], NULL, pfor_worker, &p) != 0) break;
    if (!started) pfor_worker(&p);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
}

int gt_reduced(void) {
    const char *v = getenv("QGEMM_GPU_REDUCED");
    return v && v[0] && strcmp(v, "0") != 0;
}
