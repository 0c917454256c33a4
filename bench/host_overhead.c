/*
 * host_overhead: host time of one prepared qg_gemm call (validation, plan lookup, argument
 * packing, launch), the number issue 4 bounds at 3 us, for every scheme, under each launch path
 * (QGEMM_LAUNCH: the default re-pointed graphs, direct cuLaunchKernel), beside the driver's
 * floor (cuLaunchKernel of an empty kernel with 12 arguments) in the same run. Two call
 * patterns per scheme: one shape called again and again (N x K), and a decoder layer's four
 * Llama-3-8B linears in turn (qkv, o, gate_up, down: different kernels one after another, as
 * an engine runs them).
 *
 * Method: one context per launch path, every problem prepared first (nothing compiles or
 * allocates while timing); then ROUNDS rounds, each timing every case once, in a new random
 * order each round (so slow and fast periods of the machine, and whatever one case leaves
 * behind for the next, fall on all cases alike): BATCH calls on one stream between two stream
 * synchronizations, host wall time / BATCH. Median (p20, p80) over the rounds.
 * Random weights and activations; every call's status is checked.
 *
 *   host_overhead [--schemes w4a16,w8a8-fp8,...] [--m 1] [--n 4096] [--k 4096]
 *                 [--rounds 200] [--batch 100] [--modes default,direct] [--pin] [--one-shape]
 * Prints a markdown table; exits 1 without a GPU, 2 on bad arguments.
 */
#define _GNU_SOURCE
#include "bench_util.h"
#include "qgemm.h"

#include <cuda.h>
#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TARGET_US 3.0
#define MAX_CASES 64
#define MAX_SHAPES 4

static const int64_t layer_shapes[MAX_SHAPES][2] = {{6144, 4096},
                                                    {4096, 4096},
                                                    {28672, 4096},
                                                    {4096, 14336}};

static struct {
    CUresult (*StreamCreate)(CUstream *, unsigned);
    CUresult (*StreamDestroy)(CUstream);
    CUresult (*StreamSynchronize)(CUstream);
    CUresult (*ModuleLoadData)(CUmodule *, const void *);
    CUresult (*ModuleUnload)(CUmodule);
    CUresult (*ModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, CUstream, void **, void **);
} cu;

static uint64_t rng = 0x2545f4914f6cdd1dull;
static float rnd(void) { /* xorshift64*, uniform in [-1, 1) */
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return (float)((rng * 2685821657736338717ull) >> 40) / 8388608.f - 1.f;
}

typedef struct {
    char name[96];
    qg_context *ctx; /* NULL: the driver-floor case */
    int nshapes;     /* problems called in turn */
    qg_problem p[MAX_SHAPES];
    qg_gemm_args args[MAX_SHAPES];
    void *a16[MAX_SHAPES]; /* bf16 activations (args.a holds the quantized ones where dynamic) */
    double *t;
    int failed;
} bench_case;

static const char *const launch_modes[] = {"default", "direct"};
enum { NMODES = 2 };

static void usage(FILE *f) {
    fprintf(f,
            "usage: host_overhead [--schemes LIST] [--m M] [--n N] [--k K] [--rounds R]\n"
            "                     [--batch B] [--modes LIST] [--pin] [--one-shape]\n"
            "  Host time of one prepared qg_gemm per scheme and launch path (QGEMM_LAUNCH modes\n"
            "  default, direct), beside cuLaunchKernel of an empty kernel, cases interleaved\n"
            "  round by round; median (p20, p80) of R rounds of B calls. Per scheme: N x K called\n"
            "  again and again, and Llama-3-8B's qkv, o, gate_up, down (M tokens) in turn.\n"
            "  Defaults: every dense scheme, M=1 N=4096 K=4096, R=200, B=100, both modes.\n"
            "  --pin keeps the thread on its current CPU; --one-shape skips the layer pattern.\n");
}

/* A random packed weight of problem p, uploaded; 0 and a message on failure. */
static int make_weight(qg_context *ctx, const qg_problem *p, qg_packed_weight *d) {
    qg_packed_sizes sz;
    if (qg_packed_sizes_get(p, &sz) != QG_SUCCESS) return 0;
    const size_t nk = (size_t)p->n * (size_t)p->k;
    float *f = malloc(nk * sizeof *f);
    qg_packed_weight h = {malloc(sz.weight_bytes), sz.scale_bytes ? malloc(sz.scale_bytes) : NULL,
                          sz.zero_bytes ? malloc(sz.zero_bytes) : NULL,
                          sz.meta_bytes ? malloc(sz.meta_bytes) : NULL};
    int ok = f && h.weight && (!sz.scale_bytes || h.scale) && (!sz.zero_bytes || h.zero) &&
             (!sz.meta_bytes || h.meta);
    if (ok) {
        for (size_t i = 0; i < nk; i++) f[i] = 0.02f * rnd();
        ok = qg_quantize_weight(p, f, p->k, &h) == QG_SUCCESS;
    }
    memset(d, 0, sizeof *d);
    const void *src[4] = {h.weight, h.scale, h.zero, h.meta};
    void **dst[4] = {&d->weight, &d->scale, &d->zero, &d->meta};
    const size_t bytes[4] = {sz.weight_bytes, sz.scale_bytes, sz.zero_bytes, sz.meta_bytes};
    for (int i = 0; ok && i < 4; i++)
        if (src[i])
            ok = qg_malloc(ctx, dst[i], bytes[i]) == QG_SUCCESS &&
                 qg_memcpy_htod(ctx, *dst[i], src[i], bytes[i]) == QG_SUCCESS;
    free(f), free(h.weight), free(h.scale), free(h.zero), free(h.meta);
    return ok;
}

/* Problem j of case c: scheme s, M x N x K on ctx, with weight, activations and output,
 * prepared and run once. */
static int make_problem(bench_case *c, int j, qg_context *ctx, qg_scheme s, int64_t m, int64_t n,
                        int64_t k) {
    qg_problem *p = &c->p[j];
    qg_gemm_args *args = &c->args[j];
    qg_problem_init(p);
    c->ctx = ctx;
    p->scheme = s;
    p->m = m, p->n = n, p->k = k;
    const int w4 = s == QG_SCHEME_W4A16 || s == QG_SCHEME_W4A8_FP8 || s == QG_SCHEME_W4A8_INT8;
    p->group_size = w4 ? 128 : 0;
    p->has_zero_point = s == QG_SCHEME_W4A16;
    if (qg_problem_validate(p) != QG_SUCCESS) {
        fprintf(stderr, "host_overhead: %s: %s\n", qg_scheme_name(s), qg_last_error(NULL));
        return 0;
    }
    qg_gemm_args_init(args);
    if (!make_weight(ctx, p, &args->w)) {
        fprintf(stderr, "host_overhead: %s weight: %s\n", qg_scheme_name(s), qg_last_error(ctx));
        return 0;
    }
    uint16_t *a16 = malloc((size_t)(m * k) * 2);
    if (!a16) return 0;
    for (int64_t i = 0; i < m * k; i++) a16[i] = qg_f32_to_bf16(rnd());
    void *da = NULL, *dq = NULL, *ds = NULL, *dc = NULL;
    int ok = qg_malloc(ctx, &da, (size_t)(m * k) * 2) == QG_SUCCESS &&
             qg_memcpy_htod(ctx, da, a16, (size_t)(m * k) * 2) == QG_SUCCESS &&
             qg_malloc(ctx, &dc, (size_t)(m * n) * 2) == QG_SUCCESS;
    free(a16);
    c->a16[j] = da;
    args->a = da;
    args->c = dc;
    if (ok && qg_prepare(ctx, p, 1) != QG_SUCCESS) ok = 0;
    if (ok && s != QG_SCHEME_W4A16 && s != QG_SCHEME_W8A16) { /* dynamic activations */
        ok = qg_malloc(ctx, &dq, (size_t)(m * k)) == QG_SUCCESS &&
             qg_malloc(ctx, &ds, (size_t)m * 4) == QG_SUCCESS &&
             qg_quantize_activations(ctx, p, da, dq, ds, NULL) == QG_SUCCESS &&
             qg_synchronize(ctx) == QG_SUCCESS;
    }
    if (dq) args->a = dq;
    args->a_scale = ds;
    if (ok) ok = qg_gemm(ctx, p, args, NULL) == QG_SUCCESS && qg_synchronize(ctx) == QG_SUCCESS;
    if (!ok) fprintf(stderr, "host_overhead: %s: %s\n", qg_scheme_name(s), qg_last_error(ctx));
    return ok;
}

/* Free what make_problem allocated for case c (any part of it). */
static void free_case(bench_case *c) {
    for (int j = 0; c->ctx && j < MAX_SHAPES; j++) {
        qg_gemm_args *a = &c->args[j];
        if (a->a != c->a16[j]) qg_free(c->ctx, (void *)a->a);
        qg_free(c->ctx, c->a16[j]);
        qg_free(c->ctx, (void *)a->a_scale);
        qg_free(c->ctx, a->c);
        qg_free(c->ctx, a->w.weight);
        qg_free(c->ctx, a->w.scale);
        qg_free(c->ctx, a->w.zero);
        qg_free(c->ctx, a->w.meta);
    }
    memset(c, 0, sizeof *c);
}

static const char empty_ptx[] =
    ".version 7.0\n.target sm_80\n.address_size 64\n"
    ".visible .entry qg_empty12(.param .u64 a0, .param .u64 a1, .param .u64 a2, .param .u64 a3,"
    " .param .u64 a4, .param .u64 a5, .param .u64 a6, .param .u64 a7, .param .u64 a8,"
    " .param .u64 a9, .param .u64 a10, .param .u64 a11)\n{\nret;\n}\n";

int main(int argc, char **argv) {
    const char *schemes = "w4a16,w8a16,w8a8-fp8,w8a8-int8,w4a8-fp8,w4a8-int8";
    const char *modes = "default,direct";
    long long m = 1, n = 4096, k = 4096, rounds = 200, batch = 100;
    int pin = 0, layers = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--pin")) {
            pin = 1;
            continue;
        } else if (!strcmp(a, "--one-shape")) {
            layers = 0;
            continue;
        }
        long long *num = !strcmp(a, "--m")        ? &m
                         : !strcmp(a, "--n")      ? &n
                         : !strcmp(a, "--k")      ? &k
                         : !strcmp(a, "--rounds") ? &rounds
                         : !strcmp(a, "--batch")  ? &batch
                                                  : NULL;
        const int known = num || !strcmp(a, "--schemes") || !strcmp(a, "--modes");
        if (!known || !v) {
            fprintf(stderr, "host_overhead: %s '%s'\n",
                    known ? "missing value for" : "unknown option", a);
            usage(stderr);
            return 2;
        }
        if (num) {
            char *end;
            *num = strtoll(v, &end, 10);
            if (*end || *num < 1 || *num > (1 << 20)) {
                fprintf(stderr, "host_overhead: %s needs a positive integer, got '%s'\n", a, v);
                return 2;
            }
        } else if (!strcmp(a, "--schemes")) {
            schemes = v;
        } else {
            modes = v;
        }
        i++;
    }
    /* the driver the library uses: $QGEMM_CUDA_LIBRARY (tests: the fake) or libcuda.so.1 */
    const char *driver = getenv("QGEMM_CUDA_LIBRARY");
    if (!driver || !*driver) driver = "libcuda.so.1";
    void *h = dlopen(driver, RTLD_NOW);
    if (!h) {
        fprintf(stderr, "host_overhead: no GPU (%s)\n", dlerror());
        return 1;
    }
    *(void **)&cu.StreamCreate = dlsym(h, "cuStreamCreate");
    *(void **)&cu.StreamDestroy = dlsym(h, "cuStreamDestroy_v2");
    *(void **)&cu.StreamSynchronize = dlsym(h, "cuStreamSynchronize");
    *(void **)&cu.ModuleLoadData = dlsym(h, "cuModuleLoadData");
    *(void **)&cu.ModuleGetFunction = dlsym(h, "cuModuleGetFunction");
    *(void **)&cu.ModuleUnload = dlsym(h, "cuModuleUnload");
    *(void **)&cu.LaunchKernel = dlsym(h, "cuLaunchKernel");
    if (!cu.StreamCreate || !cu.StreamDestroy || !cu.StreamSynchronize || !cu.ModuleLoadData ||
        !cu.ModuleGetFunction || !cu.ModuleUnload || !cu.LaunchKernel) {
        fprintf(stderr, "host_overhead: libcuda.so.1 lacks a driver entry point\n");
        return 1;
    }

    /* one context per launch path (QGEMM_LAUNCH is read when a context is created) */
    qg_context *ctxs[NMODES] = {NULL};
    bench_case cases[MAX_CASES];
    int ncases = 0, rc = 0;
    char list[512];
    for (int mi = 0; mi < NMODES; mi++) {
        snprintf(list, sizeof list, ",%s,", modes);
        char key[32];
        snprintf(key, sizeof key, ",%s,", launch_modes[mi]);
        if (!strstr(list, key)) continue;
        if (mi == 0) unsetenv("QGEMM_LAUNCH");
        else setenv("QGEMM_LAUNCH", launch_modes[mi], 1);
        const qg_status st = qg_context_create(&ctxs[mi], NULL);
        unsetenv("QGEMM_LAUNCH");
        if (st != QG_SUCCESS) {
            fprintf(stderr, "host_overhead: no GPU: %s (%s)\n", qg_last_error(NULL),
                    qg_status_name(st));
            return 1;
        }
        snprintf(list, sizeof list, "%s", schemes);
        for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            qg_scheme s;
            if (qg_scheme_from_name(tok, &s) != QG_SUCCESS) {
                fprintf(stderr, "host_overhead: unknown scheme '%s'\n", tok);
                return 2;
            }
            for (int layer = 0; layer <= layers && ncases < MAX_CASES - 1; layer++) {
                bench_case *c = &cases[ncases];
                memset(c, 0, sizeof *c);
                c->nshapes = layer ? MAX_SHAPES : 1;
                if (layer)
                    snprintf(c->name, sizeof c->name, "%s, %s, layer M=%lld", tok, launch_modes[mi],
                             m);
                else
                    snprintf(c->name, sizeof c->name, "%s, %s, %lldx%lldx%lld", tok,
                             launch_modes[mi], m, n, k);
                fprintf(stderr, "host_overhead: preparing %s\n", c->name);
                int ok = 1;
                for (int j = 0; ok && j < c->nshapes; j++)
                    ok = make_problem(c, j, ctxs[mi], s, m, layer ? layer_shapes[j][0] : n,
                                      layer ? layer_shapes[j][1] : k);
                if (ok) ncases++;
                else free_case(c), rc = 1;
            }
        }
    }
    if (!ncases) {
        fprintf(stderr, "host_overhead: nothing to time\n");
        return 1;
    }
    CUmodule mod;
    CUfunction empty;
    CUstream stream;
    if (cu.ModuleLoadData(&mod, empty_ptx) || cu.ModuleGetFunction(&empty, mod, "qg_empty12") ||
        cu.StreamCreate(&stream, CU_STREAM_NON_BLOCKING)) {
        fprintf(stderr, "host_overhead: driver setup failed\n");
        return 1;
    }
    bench_case *floor_case = &cases[ncases++];
    memset(floor_case, 0, sizeof *floor_case);
    snprintf(floor_case->name, sizeof floor_case->name, "floor: cuLaunchKernel, empty, 12 args");
    unsigned long long zeros[12] = {0};
    void *params[12];
    for (int i = 0; i < 12; i++) params[i] = &zeros[i];

    if (pin) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(sched_getcpu(), &set);
        if (sched_setaffinity(0, sizeof set, &set)) perror("host_overhead: sched_setaffinity");
    }
    for (int i = 0; i < ncases; i++)
        if (!(cases[i].t = malloc((size_t)rounds * sizeof(double)))) return 1;
    fprintf(stderr, "host_overhead: %d cases x %lld rounds x %lld calls\n", ncases, rounds, batch);
    int order[MAX_CASES];
    for (int i = 0; i < ncases; i++) order[i] = i;
    for (long long r = -5; r < rounds; r++) {  /* 5 warm-up rounds */
        for (int i = ncases - 1; i > 0; i--) { /* Fisher-Yates */
            rnd();
            const int j = (int)((rng >> 33) % (uint64_t)(i + 1)), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int i = 0; i < ncases; i++) {
            bench_case *c = &cases[order[i]];
            if (cu.StreamSynchronize(stream)) return 1;
            const double t0 = qg_bench_now_us();
            if (c->ctx) {
                for (long long j = 0; j < batch; j++) {
                    const int q = (int)(j % c->nshapes);
                    c->failed += qg_gemm(c->ctx, &c->p[q], &c->args[q], stream) != QG_SUCCESS;
                }
            } else {
                for (long long j = 0; j < batch; j++)
                    c->failed += cu.LaunchKernel(empty, 132, 1, 1, 128, 1, 1, 0, stream, params,
                                                 NULL) != CUDA_SUCCESS;
            }
            const double t = (qg_bench_now_us() - t0) / (double)batch;
            if (r >= 0) c->t[r] = t;
        }
        if (r >= 0 && (r + 1) % 50 == 0)
            fprintf(stderr, "host_overhead: round %lld of %lld\n", r + 1, rounds);
    }
    if (cu.StreamSynchronize(stream)) {
        fprintf(stderr, "host_overhead: a launched kernel failed\n");
        return 1;
    }

    printf("host time per call, M=%lld N=%lld K=%lld, median (p20, p80) of %lld rounds of %lld "
           "calls, cases in a random order each round%s\n\n",
           m, n, k, rounds, batch, pin ? ", thread pinned" : "");
    printf("| case | kernel | median us | p20 | p80 | target %.0f us | vs floor |\n", TARGET_US);
    printf("|---|---|---|---|---|---|---|\n");
    qsort(floor_case->t, (size_t)rounds, sizeof(double), qg_bench_cmp_double);
    const double floor_us = floor_case->t[rounds / 2];
    for (int i = 0; i < ncases; i++) {
        bench_case *c = &cases[i];
        if (c != floor_case) qsort(c->t, (size_t)rounds, sizeof(double), qg_bench_cmp_double);
        char kernel[400] = "-";
        for (int j = 0, at = 0; c->ctx && j < c->nshapes; j++) { /* the variant ids */
            char buf[256];
            if (qg_explain(c->ctx, &c->p[j], buf, sizeof buf) != QG_SUCCESS) continue;
            buf[strcspn(buf, " ")] = 0;
            at += snprintf(kernel + at, sizeof kernel - (size_t)at, "%s%s", j ? ", " : "", buf);
            if (at >= (int)sizeof kernel) break;
        }
        const double med = c->t[rounds / 2];
        printf("| %s | %s | %.2f | %.2f | %.2f | %s | %.2fx |\n", c->name, kernel, med,
               c->t[rounds / 5], c->t[rounds * 4 / 5],
               !c->ctx            ? "-"
               : med <= TARGET_US ? "met"
                                  : "**missed**",
               med / floor_us);
        if (c->failed) {
            fprintf(stderr, "host_overhead: %s: %d calls failed\n", c->name, c->failed);
            rc = 1;
        }
        free(c->t);
        free_case(c);
    }
    cu.StreamDestroy(stream);
    cu.ModuleUnload(mod);
    for (int i = 0; i < NMODES; i++)
        if (ctxs[i]) qg_context_destroy(ctxs[i]);
    return rc;
}
