/* Autotuner: compile candidates in parallel, check each against the CPU reference, time the
 * survivors over rotated weight copies with events, keep the fastest. */
#include "tune.h"

#include "backend.h"
#include "schemes.h"
#include "scheme_w4a16.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void qg_tune_options_init(qg_tune_options *o) {
    memset(o, 0, sizeof *o);
    o->samples = 15;
    o->drop_factor = 1.6;
    o->budget_s = 30;
    o->max_rel_error = 3e-2;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Roughly normal (sum of uniforms), cheap enough for 100M+ weights. */
static float rng_normal(uint64_t *s) {
    uint64_t r = rng_next(s);
    float a = (float)(r & 0xffff) + (float)((r >> 16) & 0xffff) + (float)((r >> 32) & 0xffff) +
              (float)(r >> 48);
    return (a / 65536.0f - 2.0f) * 1.7320508f;
}

/* ---- parallel compile ---- */

typedef struct {
    qg_context *ctx;
    const qg_variant **v;
    qg_kernel **k;
    qg_status *st;
    int n;
    atomic_int next;
} compile_job;

static void *compile_worker(void *arg) {
    compile_job *j = arg;
    for (int i; (i = atomic_fetch_add(&j->next, 1)) < j->n;)
        j->st[i] = qg_jit_get(j->ctx, j->v[i], &j->k[i]);
    return NULL;
}

static void compile_all(qg_context *ctx, const qg_variant **v, qg_kernel **k, qg_status *st, int n,
                        int threads) {
    compile_job j = {ctx, v, k, st, n, 0};
    if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads > n) threads = n;
    if (threads > 32) threads = 32;
    pthread_t tid[32];
    int started = 0;
    for (; started < threads; started++)
        if (pthread_create(&tid[started], NULL, compile_worker, &j) != 0) break;
    if (!started) compile_worker(&j);
    for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
}

/* ---- device data for one shape ---- */

typedef struct {
    int copies;
    qg_packed_weight w[16];
    void *a;       /* [mmax, K] activations (bf16/f16 or 8-bit) */
    void *a_scale; /* [mmax] f32 */
    void *bias;    /* [N] */
    void *c;       /* [mmax, N] */
    size_t a_bytes, c_bytes;
    /* host copies for the reference */
    qg_packed_weight hw;
    void *ha;
    float *ha_scale;
    uint16_t *hbias;
} shape_data;

static size_t act_elem_bytes(const qg_problem *p) {
    return qg_scheme_get(p->scheme)->dynamic_act ? 1 : 2;
}

static void free_shape(qg_context *ctx, shape_data *d) {
    for (int i = 0; i < d->copies; i++) {
        ctx->ops->mem_free(ctx, d->w[i].weight);
        if (d->w[i].scale) ctx->ops->mem_free(ctx, d->w[i].scale);
        if (d->w[i].zero) ctx->ops->mem_free(ctx, d->w[i].zero);
        if (d->w[i].meta) ctx->ops->mem_free(ctx, d->w[i].meta);
    }
    if (d->a) ctx->ops->mem_free(ctx, d->a);
    if (d->a_scale) ctx->ops->mem_free(ctx, d->a_scale);
    if (d->bias) ctx->ops->mem_free(ctx, d->bias);
    if (d->c) ctx->ops->mem_free(ctx, d->c);
    free(d->hw.weight), free(d->hw.scale), free(d->hw.zero), free(d->hw.meta);
    free(d->ha), free(d->ha_scale), free(d->hbias);
    memset(d, 0, sizeof *d);
}

static qg_status upload(qg_context *ctx, void **dst, const void *src, size_t bytes) {
    *dst = NULL;
    if (!bytes) return QG_SUCCESS;
    QG_CHECK(ctx->ops->mem_alloc(ctx, dst, bytes));
    return ctx->ops->memcpy_htod(ctx, *dst, src, bytes);
}

static qg_status make_shape(qg_context *ctx, const qg_problem *p, int64_t mmax, shape_data *d) {
    memset(d, 0, sizeof *d);
    qg_packed_sizes sz;
    QG_CHECK(qg_packed_sizes_get(p, &sz));
    uint64_t seed = 0x51ed270b27d4c3a1ull ^ (uint64_t)(p->n * 131 + p->k);
    size_t nk = (size_t)p->n * (size_t)p->k;
    float *w = malloc(nk * sizeof(float));
    d->hw.weight = malloc(sz.weight_bytes);
    d->hw.scale = sz.scale_bytes ? malloc(sz.scale_bytes) : NULL;
    d->hw.zero = sz.zero_bytes ? malloc(sz.zero_bytes) : NULL;
    d->hw.meta = sz.meta_bytes ? malloc(sz.meta_bytes) : NULL;
    d->a_bytes = (size_t)mmax * (size_t)p->k * act_elem_bytes(p);
    d->c_bytes = (size_t)mmax * (size_t)p->n * 2;
    uint16_t *a16 = malloc((size_t)mmax * (size_t)p->k * 2);
    d->ha = malloc(d->a_bytes);
    d->ha_scale = malloc((size_t)mmax * sizeof(float));
    d->hbias = malloc((size_t)p->n * 2);
    qg_status s = QG_SUCCESS;
    if (!w || !d->hw.weight || (sz.scale_bytes && !d->hw.scale) || (sz.zero_bytes && !d->hw.zero) ||
        (sz.meta_bytes && !d->hw.meta) || !a16 || !d->ha || !d->ha_scale || !d->hbias)
        s = QG_ERROR(ctx, QG_ERR_OUT_OF_MEMORY, "no host memory for tuning N=%lld K=%lld",
                     (long long)p->n, (long long)p->k);
    if (s == QG_SUCCESS) {
        for (size_t i = 0; i < nk; i++) w[i] = 0.02f * rng_normal(&seed);
        /* float zero points: qg_quantize_weight never makes them; mslk's rule does */
        s = p->has_zero_point == QG_ZERO_POINT_FLOAT && p->scheme == QG_SCHEME_W4A16
                ? qg_w4a16_quantize_float_zp(p, w, p->k, &d->hw)
                : qg_quantize_weight(p, w, p->k, &d->hw);
        if (s != QG_SUCCESS) qg_error_propagate(ctx);
    }
    if (s == QG_SUCCESS) {
        for (size_t i = 0; i < (size_t)mmax * (size_t)p->k; i++)
            a16[i] = p->act_dtype == QG_DTYPE_F16 ? qg_f32_to_f16(rng_normal(&seed))
                                                  : qg_f32_to_bf16(rng_normal(&seed));
        for (int64_t i = 0; i < p->n; i++)
            d->hbias[i] = p->out_dtype == QG_DTYPE_F16 ? qg_f32_to_f16(0.1f * rng_normal(&seed))
                                                       : qg_f32_to_bf16(0.1f * rng_normal(&seed));
        if (qg_scheme_get(p->scheme)->dynamic_act) {
            qg_problem q = *p;
            q.m = mmax;
            s = qg_quantize_activations_host(&q, a16, d->ha, d->ha_scale);
            if (s != QG_SUCCESS) qg_error_propagate(ctx);
        } else {
            memcpy(d->ha, a16, d->a_bytes);
        }
    }
    free(w);
    free(a16);
    /* Enough weight copies that cycling through them streams from DRAM, not L2. */
    size_t wbytes = sz.weight_bytes + sz.scale_bytes + sz.zero_bytes + sz.meta_bytes;
    int copies = (int)((4.0 * ctx->info.l2_bytes) / (double)wbytes) + 1;
    if (copies > 16) copies = 16;
    if (copies < 1) copies = 1;
    for (int i = 0; s == QG_SUCCESS && i < copies; i++) {
        d->copies = i + 1;
        s = upload(ctx, &d->w[i].weight, d->hw.weight, sz.weight_bytes);
        if (s == QG_SUCCESS) s = upload(ctx, &d->w[i].scale, d->hw.scale, sz.scale_bytes);
        if (s == QG_SUCCESS) s = upload(ctx, &d->w[i].zero, d->hw.zero, sz.zero_bytes);
        if (s == QG_SUCCESS) s = upload(ctx, &d->w[i].meta, d->hw.meta, sz.meta_bytes);
    }
    if (s == QG_SUCCESS) s = upload(ctx, &d->a, d->ha, d->a_bytes);
    if (s == QG_SUCCESS) s = upload(ctx, &d->a_scale, d->ha_scale, (size_t)mmax * sizeof(float));
    if (s == QG_SUCCESS) s = upload(ctx, &d->bias, d->hbias, (size_t)p->n * 2);
    if (s == QG_SUCCESS) s = ctx->ops->mem_alloc(ctx, &d->c, d->c_bytes);
    if (s != QG_SUCCESS) free_shape(ctx, d);
    return s;
}

/* Reference rows for an M: the first, the last and a few between (float64 on the CPU). */
#define REF_ROWS 4

static qg_status reference_rows(const qg_problem *p, const shape_data *d, int64_t m,
                                int64_t rows[REF_ROWS], double *ref) {
    for (int r = 0; r < REF_ROWS; r++) rows[r] = (m - 1) * r / (REF_ROWS - 1);
    size_t eb = act_elem_bytes(p);
    uint8_t *a = malloc(REF_ROWS * (size_t)p->k * eb);
    float sc[REF_ROWS];
    if (!a) return QG_ERROR(NULL, QG_ERR_OUT_OF_MEMORY, "no memory for reference rows");
    for (int r = 0; r < REF_ROWS; r++) {
        memcpy(a + (size_t)r * (size_t)p->k * eb,
               (const uint8_t *)d->ha + (size_t)rows[r] * (size_t)p->k * eb, (size_t)p->k * eb);
        sc[r] = d->ha_scale[rows[r]];
    }
    qg_problem q = *p;
    q.m = REF_ROWS;
    qg_status s = qg_reference_gemm(&q, a, sc, &d->hw, p->has_bias ? d->hbias : NULL, ref);
    free(a);
    return s;
}

static void fill_args(qg_gemm_args *a, const qg_problem *p, const shape_data *d, int copy) {
    qg_gemm_args_init(a);
    a->a = d->a;
    a->a_scale = d->a_scale;
    a->w = d->w[copy];
    a->bias = p->has_bias ? d->bias : NULL;
    a->c = d->c;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* Check one candidate's output (poisoned first) against the reference rows. */
static qg_status check_candidate(qg_context *ctx, qg_kernel *k, const qg_problem *p,
                                 const shape_data *d, const int64_t rows[REF_ROWS],
                                 const double *ref, double *rel) {
    qg_gemm_args a;
    fill_args(&a, p, d, 0);
    QG_CHECK(ctx->ops->memset_d8(ctx, d->c, 0xff, (size_t)p->m * (size_t)p->n * 2));
    QG_CHECK(qg_launch_gemm(ctx, k, p, &a, NULL));
    QG_CHECK(ctx->ops->synchronize(ctx));
    uint16_t *row = malloc((size_t)p->n * 2);
    QG_RETURN_IF(ctx, !row, QG_ERR_OUT_OF_MEMORY, "no memory");
    double num = 0, den = 0;
    qg_status s = QG_SUCCESS;
    for (int r = 0; r < REF_ROWS && s == QG_SUCCESS; r++) {
        s = ctx->ops->memcpy_dtoh(ctx, row, (const uint16_t *)d->c + rows[r] * p->n,
                                  (size_t)p->n * 2);
        for (int64_t j = 0; s == QG_SUCCESS && j < p->n; j++) {
            double got = p->out_dtype == QG_DTYPE_F16 ? qg_f16_to_f32(row[j])
                                                      : qg_bf16_to_f32(row[j]);
            double e = ref[r * p->n + j];
            if (!isfinite(got)) num = INFINITY;
            num += (got - e) * (got - e);
            den += e * e;
        }
    }
    free(row);
    *rel = den > 0 ? sqrt(num / den) : sqrt(num);
    return s;
}

/* Time one candidate: samples of `copies` launches cycling the weight copies. */
static qg_status time_candidate(qg_context *ctx, qg_kernel *k, const qg_problem *p,
                                const shape_data *d, const qg_tune_options *o, double best,
                                double *med, double *p20, double *p80, int *dropped) {
    void *e0, *e1;
    QG_CHECK(ctx->ops->event_create(ctx, &e0));
    qg_status s = ctx->ops->event_create(ctx, &e1);
    if (s != QG_SUCCESS) {
        ctx->ops->event_destroy(ctx, e0);
        return s;
    }
    double t[64];
    int n = 0, samples = o->samples > 64 ? 64 : o->samples;
    qg_gemm_args a[16];
    for (int c = 0; c < d->copies; c++) fill_args(&a[c], p, d, c);
    /* Batches long enough (>= ~200 us) that event resolution does not matter. */
    int reps = d->copies;
    for (int warm = 0; warm < 2 && s == QG_SUCCESS; warm++)
        for (int c = 0; c < d->copies && s == QG_SUCCESS; c++)
            s = qg_launch_gemm(ctx, k, p, &a[c], NULL);
    *dropped = 0;
    for (int i = 0; i < samples && s == QG_SUCCESS; i++) {
        s = ctx->ops->event_record(ctx, e0, NULL);
        for (int r = 0; r < reps && s == QG_SUCCESS; r++)
            s = qg_launch_gemm(ctx, k, p, &a[r % d->copies], NULL);
        if (s == QG_SUCCESS) s = ctx->ops->event_record(ctx, e1, NULL);
        float ms = 0;
        if (s == QG_SUCCESS) s = ctx->ops->synchronize(ctx);
        if (s == QG_SUCCESS) s = ctx->ops->event_elapsed_ms(ctx, e0, e1, &ms);
        if (s != QG_SUCCESS) break;
        t[n++] = 1000.0 * ms / reps;
        if (i == 0 && t[0] * reps < 200.0) reps = (int)(200.0 / t[0]) + 1; /* short kernels */
        if (reps > 1000) reps = 1000;
        if (n == 3 && best > 0) {
            double tmp[3] = {t[0], t[1], t[2]};
            qsort(tmp, 3, sizeof(double), cmp_double);
            if (tmp[1] > best * o->drop_factor) {
                *dropped = 1;
                break;
            }
        }
    }
    ctx->ops->event_destroy(ctx, e0);
    ctx->ops->event_destroy(ctx, e1);
    if (s != QG_SUCCESS || n == 0) return s ? s : QG_ERR_INTERNAL;
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    *med = t[n / 2];
    *p20 = t[(n - 1) / 5];
    *p80 = t[(4 * (n - 1)) / 5];
    return QG_SUCCESS;
}

/* Skip a problem only when its entry was timed against this kernel catalog (--kernels
 * challenges existing entries: never skipped). */
static int tuned_already(const qg_db *db, const qg_problem *p, int64_t m, const qg_tune_options *o) {
    if (o->retune || o->kernels) return 0;
    const qg_db_entry *e = qg_db_find(db, p, m);
    return e && qg_db_entry_current(e);
}

int qg_tune_kernel_selected(const char *prefixes, const char *id) {
    if (!prefixes) return 1;
    for (const char *s = prefixes; *s;) {
        const char *end = strchr(s, ',');
        const size_t n = end ? (size_t)(end - s) : strlen(s);
        if (n && strncmp(id, s, n) == 0) return 1;
        if (!end) break;
        s = end + 1;
    }
    return 0;
}

qg_status qg_tune_shape(qg_context *ctx, qg_db *db, const qg_problem *p0, const int64_t *ms, int nm,
                        const qg_tune_options *o, qg_tune_progress cb, void *user, int done_base,
                        int total, qg_tune_stats *stats) {
    QG_RETURN_IF(ctx, !ctx->ops->event_create, QG_ERR_UNSUPPORTED, "backend %s has no timer",
                 ctx->ops->name);
    const int cc = ctx->info.cc_major * 10 + ctx->info.cc_minor;
    int64_t mmax = 0;
    int todo = 0;
    for (int i = 0; i < nm; i++) {
        qg_problem p = *p0;
        p.m = ms[i];
        if (tuned_already(db, &p, ms[i], o)) continue;
        todo++;
        if (ms[i] > mmax) mmax = ms[i];
    }
    if (!todo) {
        stats->skipped += nm;
        if (cb) cb(user, done_base + nm, total, "already tuned (use --retune)");
        return QG_SUCCESS;
    }
    if (o->deadline_s > 0 && now_s() >= o->deadline_s) { /* run budget spent: no buffers */
        stats->left += todo;
        stats->skipped += nm - todo;
        return QG_SUCCESS;
    }
    shape_data d;
    {
        qg_problem p = *p0;
        p.m = mmax;
        QG_CHECK(qg_problem_validate(&p));
        QG_CHECK(make_shape(ctx, &p, mmax, &d));
    }
    qg_status s = QG_SUCCESS;
    int nvar = qg_catalog_count();
    const qg_variant **cand = calloc((size_t)nvar, sizeof *cand);
    qg_kernel **kern = calloc((size_t)nvar, sizeof *kern);
    qg_status *cst = calloc((size_t)nvar, sizeof *cst);
    double *ref = malloc(REF_ROWS * (size_t)p0->n * sizeof(double));
    if (!cand || !kern || !cst || !ref) s = QG_ERROR(ctx, QG_ERR_OUT_OF_MEMORY, "no memory");

    for (int mi = 0; mi < nm && s == QG_SUCCESS; mi++) {
        qg_problem p = *p0;
        p.m = ms[mi];
        char line[512];
        if (tuned_already(db, &p, ms[mi], o)) {
            stats->skipped++;
            continue;
        }
        double t0 = now_s();
        if (o->deadline_s > 0 && t0 >= o->deadline_s) {
            stats->left++;
            continue;
        }
        int nc = 0;
        char why[256];
        /* --kernels: the entry's kernel first (the bar the others are dropped against), then
         * the matching ones; without an entry, every kernel */
        const qg_db_entry *held = o->kernels ? qg_db_find(db, &p, ms[mi]) : NULL;
        const qg_variant *incumbent = held ? qg_catalog_find(held->kernel) : NULL;
        if (incumbent && qg_variant_fits(incumbent, &p, QG_OP_GEMM, cc, why, sizeof why))
            cand[nc++] = incumbent;
        for (int i = 0; i < nvar; i++) {
            const qg_variant *v = qg_catalog_get(i);
            if (v == incumbent || (held && !qg_tune_kernel_selected(o->kernels, v->id))) continue;
            if (qg_variant_fits(v, &p, QG_OP_GEMM, cc, why, sizeof why)) cand[nc++] = v;
        }
        if (!nc) {
            snprintf(line, sizeof line, "%s N=%lld K=%lld M=%lld: no kernel fits",
                     qg_scheme_name(p.scheme), (long long)p.n, (long long)p.k, (long long)p.m);
            if (cb) cb(user, done_base + mi + 1, total, line);
            continue;
        }
        compile_all(ctx, cand, kern, cst, nc, o->compile_threads);
        int64_t rows[REF_ROWS];
        s = reference_rows(&p, &d, p.m, rows, ref);
        if (s != QG_SUCCESS) {
            qg_error_propagate(ctx);
            break;
        }
        qg_db_entry best = {0};
        best.key = *p0;
        best.m_bucket = p.m;
        for (int i = 0; i < nc; i++) {
            stats->candidates++;
            if (cst[i] == QG_ERR_UNSUPPORTED) { /* its header package is absent here (CUTLASS) */
                if (o->verbose)
                    fprintf(stderr, "  %-44s unavailable: %s\n", cand[i]->id, qg_last_error(ctx));
                continue;
            }
            if (cst[i] != QG_SUCCESS) {
                stats->failed++;
                fprintf(stderr, "  %s: compile failed: %s\n", cand[i]->id, qg_last_error(ctx));
                continue;
            }
            if (now_s() - t0 > o->budget_s && best.kernel[0]) {
                stats->dropped++;
                continue;
            }
            double rel = 0;
            qg_status cs = check_candidate(ctx, kern[i], &p, &d, rows, ref, &rel);
            if (cs == QG_ERR_UNSUPPORTED || cs == QG_ERR_NO_BLAS) {
                /* known only at run time (cuBLASLt absent, or its heuristic offers fewer
                 * algorithms for this problem): not a candidate, not a wrong one */
                if (o->verbose)
                    fprintf(stderr, "  %-44s unsupported: %s\n", cand[i]->id, qg_last_error(ctx));
                continue;
            }
            if (cs != QG_SUCCESS || !(rel <= o->max_rel_error)) {
                stats->wrong++;
                fprintf(stderr,
                        "  WRONG %s on %s N=%lld K=%lld M=%lld: %s (rel err %.3g); not stored\n",
                        cand[i]->id, qg_scheme_name(p.scheme), (long long)p.n, (long long)p.k,
                        (long long)p.m, cs ? qg_last_error(ctx) : "output differs from reference",
                        rel);
                if (cs == QG_ERR_LAUNCH || cs == QG_ERR_DEVICE) {
                    s = cs;
                    break;
                } /* context is unusable */
                continue;
            }
            double med, p20, p80;
            int dropped;
            qg_status ts = time_candidate(ctx, kern[i], &p, &d, o,
                                          best.kernel[0] ? best.median_us : 0, &med, &p20, &p80,
                                          &dropped);
            if (ts != QG_SUCCESS) {
                s = ts;
                break;
            }
            if (o->verbose)
                fprintf(stderr, "  %-44s %9.2f us%s (err %.2g)%s\n", cand[i]->id, med,
                        dropped ? " (dropped)" : "", rel,
                        cand[i] == incumbent ? " (the database's pick)" : "");
            if (dropped) {
                stats->dropped++;
                continue;
            }
            if (!best.kernel[0] || med < best.median_us) {
                snprintf(best.kernel, sizeof best.kernel, "%s", cand[i]->id);
                best.median_us = med, best.p20_us = p20, best.p80_us = p80, best.rel_error = rel;
            }
        }
        if (s != QG_SUCCESS) break;
        if (best.kernel[0]) {
            qg_now_iso8601(best.tuned_at, sizeof best.tuned_at);
            best.key.m = p.m;
            best.verdict = QG_VERDICT_FRESH;
            /* what it was timed on: the winner's code (loaded, a memory hit) */
            s = qg_jit_code_hash(ctx, qg_catalog_find(best.kernel), best.code_hash);
            if (s == QG_SUCCESS) s = qg_db_put(db, &best);
            stats->tuned++;
            snprintf(line, sizeof line, "%s N=%lld K=%lld M=%lld: %s %.2f us (%d candidates, %.1f s)",
                     qg_scheme_name(p.scheme), (long long)p.n, (long long)p.k, (long long)p.m,
                     best.kernel, best.median_us, nc, now_s() - t0);
        } else {
            snprintf(line, sizeof line, "%s N=%lld K=%lld M=%lld: no correct candidate",
                     qg_scheme_name(p.scheme), (long long)p.n, (long long)p.k, (long long)p.m);
        }
        if (cb) cb(user, done_base + mi + 1, total, line);
    }
    free(cand), free(kern), free(cst), free(ref);
    free_shape(ctx, &d);
    return s;
}
