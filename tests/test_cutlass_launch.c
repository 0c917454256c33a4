/* The CUTLASS-built family's host path end to end on the fake driver (no GPU, no NVRTC compile:
 * a stand-in image is put into the disk cache under the variant's key): qg_gemm_with_kernel
 * probes once (the fake's launch hook plays the probe, answering with a Params image laid out
 * as CUTLASS's host path lays it out, tests/cutlass_host_check.cu), then repacks, launches the
 * GEMM with the bound Params (descriptors encoded by the driver with the real addresses) and
 * zeroes the workspace; a second call reuses the plan; a probe that does not answer, and a
 * first call under stream capture, are refused before anything touches C. */
#include "testutil.h"

#include "backend.h"
#include "catalog.h"
#include "cutlass_params.h"
#include "fake_trace.h"
#include "jit.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Where CUTLASS's host path put the four descriptors (cutlass_host_check, Params of 2304). */
enum { PARAMS = 2304 };
static const unsigned desc_at[QG_CUTLASS_NUM_OPS] = {128, 384, 640, 1664};

static int probes, answer = 1;
static qg_cutlass_probe_in seen_in;
static unsigned char gemm_params[PARAMS]; /* the GEMM launch's one argument, as launched */

/* The probe's part: 32 threads on one block. Answers from the problem it was given. Also keeps
 * the argument of the GEMM launch (384 threads). */
static void hook(unsigned gx, unsigned bx, void **params) {
    if (bx == 384) memcpy(gemm_params, params[0], PARAMS);
    if (gx != 1 || bx != 32) return;
    probes++;
    memcpy(&seen_in, params[0], sizeof seen_in);
    if (!answer) return;
    qg_cutlass_probe_out *out = *(qg_cutlass_probe_out **)params[1];
    unsigned char *bytes = *(unsigned char **)params[2];
    const qg_cutlass_probe_in *in = &seen_in;
    memset(bytes, 0x11, PARAMS);
    const uint64_t addr[4] = {in->w, in->x, in->scale, in->y};
    const uint64_t d0[4] = {(uint64_t)in->k / 2, (uint64_t)in->k, (uint64_t)in->n, (uint64_t)in->n};
    const uint64_t d1[4] = {(uint64_t)in->n, (uint64_t)in->m, (uint64_t)(in->k / in->group_size),
                            (uint64_t)in->m};
    const uint64_t st[4] = {(uint64_t)in->k / 2, (uint64_t)in->lda * 2, (uint64_t)in->n * 2,
                            (uint64_t)in->ldc * 2};
    for (int op = 0; op < QG_CUTLASS_NUM_OPS; op++) {
        qg_tma_recipe r;
        memset(&r, 0, sizeof r);
        r.magic = QG_TMA_RECIPE_MAGIC;
        r.dtype = op == 0 ? 0 : op == 3 ? 9 : 1;
        r.rank = 3;
        r.swizzle = op == 2 ? 0 : 3;
        r.address = addr[op];
        r.dims[0] = d0[op], r.dims[1] = d1[op], r.dims[2] = 1, r.dims[3] = r.dims[4] = 1;
        r.strides[0] = st[op], r.strides[1] = st[op] * d1[op];
        r.box[0] = op == 0 ? 32 : 64, r.box[1] = op == 2 ? 1 : 32, r.box[2] = r.box[3] = r.box[4] = 1;
        for (int i = 0; i < 5; i++) r.element_strides[i] = 1;
        memcpy(bytes + desc_at[op], &r, sizeof r);
    }
    *out = (qg_cutlass_probe_out){.magic = QG_CUTLASS_PROBE_MAGIC,
                                  .implementable = 1,
                                  .params_size = PARAMS,
                                  .params_align = 128,
                                  .smem_bytes = 205824,
                                  .threads = 384,
                                  .grid = {1, 32, 1},
                                  .cluster = {1, 1, 1}};
}

static void run(void) {
    char dir[] = "/tmp/qg_cutlass_launch_XXXXXX";
    if (!QT_CHECK(mkdtemp(dir) != NULL, "temporary cache directory")) return;
    setenv("QGEMM_CUDA_LIBRARY", QG_FAKE_CUDA, 1);
    setenv("FAKE_CUDA_CC", "90", 1);
    setenv("QGEMM_CACHE_DIR", dir, 1);
    setenv("QGEMM_LAUNCH", "direct", 1); /* the hook reads the launch arguments themselves */
    qg_context_params cp;
    qg_context_params_init(&cp);
    cp.backend = QG_BACKEND_CUDA;
    qg_context *ctx = NULL;
    if (!QT_CHECK(qg_context_create(&ctx, &cp) == QG_SUCCESS, "fake context: %s", qg_last_error(NULL)))
        return;
    void *h = dlopen(QG_FAKE_CUDA, RTLD_NOW | RTLD_NOLOAD);
    void (*set_hook)(void (*)(unsigned, unsigned, void **)) =
        h ? (void (*)(void (*)(unsigned, unsigned, void **)))dlsym(h, "fake_cuda_set_launch_hook")
          : NULL;
    void (*trace_start)(int) = h ? (void (*)(int))dlsym(h, "fake_cuda_trace_start") : NULL;
    int (*trace_get)(const fake_event **) =
        h ? (int (*)(const fake_event **))dlsym(h, "fake_cuda_trace_get") : NULL;
    void (*set_capturing)(void *, int) =
        h ? (void (*)(void *, int))dlsym(h, "fake_cuda_set_capturing") : NULL;
    if (!QT_CHECK(set_hook && trace_start && trace_get && set_capturing, "fake driver hooks")) {
        qg_context_destroy(ctx);
        return;
    }
    /* a stand-in image under the variant's key: the JIT loads it, the fake accepts any ELF */
    const qg_variant *v = qg_catalog_find("w4a16_cutlass.tn128");
    static const char image[64] = "\x7f"
                                  "ELF stand-in for the CUTLASS cubin";
    QT_OK(qg_disk_cache_write(ctx->cache_dir, ctx->info.arch,
                              qg_jit_key(v, ctx->info.arch, ctx->info.compiler_version), image,
                              sizeof image));
    set_hook(hook);

    qg_problem p;
    qg_problem_init(&p);
    p.scheme = QG_SCHEME_W4A16;
    p.m = 77, p.n = 520, p.k = 1024, p.group_size = 64;
    const int64_t ldc = 528;
    qg_packed_sizes sz;
    QT_OK(qg_packed_sizes_get(&p, &sz));
    void *w, *s, *a, *c, *ws;
    const size_t wsb = v->family->workspace(&p, v->params);
    QT_OK(qg_malloc(ctx, &w, sz.weight_bytes));
    QT_OK(qg_malloc(ctx, &s, sz.scale_bytes));
    QT_OK(qg_malloc(ctx, &a, 2 * (size_t)(p.m * p.k)));
    QT_OK(qg_malloc(ctx, &c, 2 * (size_t)(p.m * ldc)));
    QT_OK(qg_malloc(ctx, &ws, wsb));
    qg_gemm_args g;
    qg_gemm_args_init(&g);
    g.a = a, g.w.weight = w, g.w.scale = s, g.c = c, g.ldc = ldc;
    g.workspace = ws, g.workspace_bytes = wsb;

    for (int call = 0; call < 2; call++) {
        trace_start(1);
        const qg_status st = qg_gemm_with_kernel(ctx, &p, &g, v->id, NULL);
        if (!QT_CHECK(st == QG_SUCCESS, "call %d: %s", call, qg_last_error(ctx))) break;
        const fake_event *ev;
        const int n = trace_get(&ev);
        trace_start(0);
        /* call 0: probe, repack, GEMM, memset; call 1: the plan is kept */
        const int first = call == 0 ? 1 : 0;
        QT_CHECK(probes == 1 && n == 3 + first, "call %d: %d probes, %d events", call, probes, n);
        if (n != 3 + first) continue;
        const int64_t items = p.n * (p.k / 8);
        QT_CHECK(ev[first].kind == FAKE_EV_LAUNCH && ev[first].block == 256 &&
                     ev[first].grid[0] == (unsigned)((items + 255) / 256),
                 "call %d: repack launch", call);
        QT_CHECK(ev[first + 1].kind == FAKE_EV_LAUNCH && ev[first + 1].block == 384 &&
                     ev[first + 1].grid[0] == 1 && ev[first + 1].grid[1] == 32,
                 "call %d: the GEMM launch has the probe's shape", call);
        const size_t wbytes = ((size_t)(p.n * p.k / 2) + 255) / 256 * 256;
        const size_t sbytes = ((size_t)(p.n * (p.k / 64) * 2) + 255) / 256 * 256;
        QT_CHECK(ev[first + 2].kind == FAKE_EV_MEMSET && ev[first + 2].value == 0 &&
                     ev[first + 2].bytes == wbytes + sbytes,
                 "call %d: the workspace is zeroed after", call);
        const unsigned char *b = gemm_params;
        const uint64_t ws_al = ((uint64_t)(uintptr_t)ws + 255) & ~(uint64_t)255;
        const uint64_t want[4] = {ws_al, (uintptr_t)a, ws_al + wbytes, (uintptr_t)c};
        for (int op = 0; op < QG_CUTLASS_NUM_OPS; op++) {
            fake_tmap t;
            memcpy(&t, b + desc_at[op], sizeof t);
            QT_CHECK(t.magic == FAKE_TMAP_MAGIC && t.address == want[op] && t.rank == 3,
                     "call %d: descriptor of operand %d encoded at 0x%llx (want 0x%llx)", call, op,
                     (unsigned long long)t.address, (unsigned long long)want[op]);
        }
        QT_CHECK(b[0] == 0x11 && b[PARAMS - 1] == 0x11, "call %d: the rest is the probe's bytes",
                 call);
    }
    QT_CHECK(seen_in.m == 77 && seen_in.n == 520 && seen_in.k == 1024 && seen_in.group_size == 64 &&
                 seen_in.lda == 1024 && seen_in.ldc == ldc && seen_in.sm_count > 0 &&
                 seen_in.w == qg_cutlass_sentinel(QG_CUTLASS_OP_W) &&
                 seen_in.y == qg_cutlass_sentinel(QG_CUTLASS_OP_Y),
             "the probe got the problem, strides and sentinels");

    /* a new problem whose probe does not answer: refused, nothing launched after the probe */
    answer = 0;
    p.m = 64;
    trace_start(1);
    qg_status st = qg_gemm_with_kernel(ctx, &p, &g, v->id, NULL);
    const fake_event *ev;
    int n = trace_get(&ev);
    trace_start(0);
    QT_CHECK(st == QG_ERR_INTERNAL && qt_contains(qg_last_error(ctx), "did not finish") && n == 1,
             "a silent probe: %s (%s), %d events", qg_status_name(st), qg_last_error(ctx), n);

    /* a new problem's first call under stream capture: no probe (it would synchronize) */
    answer = 1;
    p.m = 65;
    void *stream = (void *)0x5151;
    set_capturing(stream, 1);
    const int before = probes;
    st = qg_gemm_with_kernel(ctx, &p, &g, v->id, stream);
    set_capturing(stream, 0);
    QT_CHECK(st == QG_ERR_INVALID_ARGUMENT && qt_contains(qg_last_error(ctx), "qg_prepare") &&
                 probes == before,
             "first call under capture: %s (%s)", qg_status_name(st), qg_last_error(ctx));
    set_hook(NULL);
    qg_free(ctx, w), qg_free(ctx, s), qg_free(ctx, a), qg_free(ctx, c), qg_free(ctx, ws);
    qg_context_destroy(ctx);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    QT_CHECK(system(cmd) == 0, "cache directory removed");
}

int main(void) {
    /* the family is opt-in until it has passed on a GPU (family_w4a16_cutlass.c) */
    setenv("QGEMM_EXPERIMENTAL_CUTLASS", "1", 1);
    run();
    return qt_finish("test_cutlass_launch");
}
