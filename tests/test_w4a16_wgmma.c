/*
 * Host side of the w4a16_wgmma family (family_w4a16_wgmma.c), without a GPU: the catalog
 * entry (4 variants, sm_90a only, a regular family since it passed on the H100), support checks,
 * and its launch through a stub backend for many shapes and SM counts: the grid covers the
 * output exactly, split-K slices cover K exactly with none empty, the workspace the family asks
 * for is always enough for what the launch uses (on any GPU of up to 160 SMs), and misaligned
 * arguments are refused. The kernel itself runs in tests/emu (CPU emulation) and on the GPU in
 * tests/gpu/gpu_weight_only.c.
 */
#include "backend.h"
#include "catalog.h"
#include "dispatch.h"
#include "jit.h"
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Mirror of the kernel parameter struct (kernels/cuda/w4a16_wgmma.cu, qg_w4wg_params). */
typedef struct {
    const void *a, *w, *scale, *zero, *bias;
    void *c;
    float *partial;
    unsigned *counter;
    int32_t m, n, k, lda, ldc;
    int32_t kp, groups, gs_log2, out_bf16, c_pairs, kt_per_split, splits, tiles_m, tiles_n;
} w4wg_params;

static struct {
    unsigned grid[3], block[3], smem;
    w4wg_params prm;
    int calls;
} last;

static qg_status stub_launch(qg_context *ctx, void *fn, const unsigned grid[3],
                             const unsigned block[3], unsigned smem, void *stream, void **params) {
    (void)ctx, (void)fn, (void)stream;
    memcpy(last.grid, grid, sizeof last.grid);
    memcpy(last.block, block, sizeof last.block);
    last.smem = smem;
    memcpy(&last.prm, params[0], sizeof last.prm);
    last.calls++;
    return QG_SUCCESS;
}

static qg_backend_ops ops;
static qg_context ctx;

static qg_problem problem(int64_t m, int64_t n, int64_t k, int gs, qg_dtype act) {
    qg_problem p;
    qg_problem_init(&p);
    p.scheme = QG_SCHEME_W4A16;
    p.m = m, p.n = n, p.k = k;
    p.group_size = gs;
    p.act_dtype = act;
    p.out_dtype = act;
    return p;
}

/* Aligned dummy pointers: the stub never dereferences them. */
static qg_gemm_args args_for(const qg_problem *p, void *ws, size_t ws_bytes) {
    qg_gemm_args g;
    qg_gemm_args_init(&g);
    g.a = (void *)(uintptr_t)0x10000, g.c = (void *)(uintptr_t)0x20000;
    g.w.weight = (void *)(uintptr_t)0x30000, g.w.scale = (void *)(uintptr_t)0x40000;
    g.w.zero = (void *)(uintptr_t)0x50000;
    g.lda = p->k, g.ldc = p->n;
    g.workspace = ws, g.workspace_bytes = ws_bytes;
    return g;
}

static void test_catalog(void) {
    int count = 0;
    for (int i = 0; i < qg_catalog_count(); i++) {
        const qg_variant *v = qg_catalog_get(i);
        if (strcmp(v->family->name, "w4a16_wgmma") != 0) continue;
        count++;
        QT_CHECK(!v->family->experimental && v->family->needs_sm90a && v->family->min_cc == 90,
                 "%s: must be a regular (validated) family, sm_90a only", v->id);
        QT_CHECK(qg_family_targets_arch(v->family, "sm_90a") &&
                     !qg_family_targets_arch(v->family, "sm_80") &&
                     !qg_family_targets_arch(v->family, "sm_89"),
                 "%s: compiled for sm_90a only", v->id);
    }
    QT_CHECK(count == 4, "w4a16_wgmma has %d variants, expected 4", count);
    const char *ids[] = {"w4a16_wgmma.act2.bn256", "w4a16_wgmma.act1.bn256",
                         "w4a16_wgmma.act2.bn128", "w4a16_wgmma.act1.bn128"};
    for (int i = 0; i < 4; i++)
        QT_CHECK(qg_catalog_find(ids[i]) != NULL, "variant %s missing", ids[i]);
}

static void test_supports(void) {
    const qg_variant *v = qg_catalog_find("w4a16_wgmma.act2.bn256");
    if (!QT_CHECK(v != NULL, "no w4a16_wgmma.act2.bn256")) return;
    char why[256];
    qg_problem p = problem(4096, 4096, 4096, 128, QG_DTYPE_BF16);
    QT_CHECK(v->family->supports(&p, v->params, 90, why, sizeof why), "M=4096 on sm_90: %s", why);
    QT_CHECK(!v->family->supports(&p, v->params, 89, why, sizeof why), "sm_89 accepted");
    QT_CHECK(!v->family->supports(&p, v->params, 80, why, sizeof why), "sm_80 accepted");
    p.m = 1;
    QT_CHECK(v->family->supports(&p, v->params, 90, why, sizeof why), "M=1 refused: %s", why);
    p.act_dtype = QG_DTYPE_F16;
    QT_CHECK(!v->family->supports(&p, v->params, 90, why, sizeof why),
             "f16 activations accepted by act2");
    p = problem(64, 96, 100, 0, QG_DTYPE_BF16);
    QT_CHECK(!v->family->supports(&p, v->params, 90, why, sizeof why) && strstr(why, "multiple of 8"),
             "K=100 must be refused (%s)", why);
    p = problem(64, 96, 128, 0, QG_DTYPE_BF16);
    p.scheme = QG_SCHEME_W8A16;
    QT_CHECK(!v->family->supports(&p, v->params, 90, why, sizeof why), "W8A16 accepted");
}

/* Launch every variant on many shapes and SM counts through the stub backend. */
static void test_launch_geometry(void) {
    const int64_t ms[] = {1, 3, 64, 128, 129, 1000, 4096, 8192};
    const int64_t ns[] = {72, 136, 4096, 6144, 28672};
    const int64_t ks[] = {96, 200, 1056, 4096, 14336};
    const int gss[] = {32, 0, 32, 128, 128};
    const int sms[] = {8, 78, 114, 132, 160, 200};
    int launches = 0, bad = 0, split_used = 0;
    for (int vi = 0; vi < qg_catalog_count(); vi++) {
        const qg_variant *v = qg_catalog_get(vi);
        if (strcmp(v->family->name, "w4a16_wgmma") != 0) continue;
        const int bn = v->params[1];
        qg_kernel k;
        memset(&k, 0, sizeof k);
        k.variant = v;
        for (int a = 0; a < 8; a++)
            for (int b = 0; b < 5; b++)
                for (int c = 0; c < 5; c++) {
                    qg_problem p = problem(ms[a], ns[b], ks[c], gss[c],
                                           v->params[0] == 2 ? QG_DTYPE_BF16 : QG_DTYPE_F16);
                    char why[256];
                    if (!QT_CHECK(v->family->supports(&p, v->params, 90, why, sizeof why), "%s: %s",
                                  v->id, why))
                        continue;
                    const size_t ws = v->family->workspace(&p, v->params);
                    QT_CHECK(ws <= (64u << 20) + (1u << 20),
                             "%s M=%lld N=%lld: workspace %zu above 65 MB", v->id, (long long)p.m,
                             (long long)p.n, ws);
                    void *wsp = ws ? (void *)(uintptr_t)0x100000 : NULL;
                    for (int s = 0; s < 6; s++) {
                        ctx.info.sm_count = sms[s];
                        const qg_gemm_args g = args_for(&p, wsp, ws);
                        last.calls = 0;
                        const qg_status st = v->family->launch(&ctx, &k, &p, &g, v->params, NULL);
                        launches++;
                        if (!QT_CHECK(st == QG_SUCCESS && last.calls == 1,
                                      "%s M=%lld N=%lld K=%lld on %d "
                                      "SMs: %s (%s)",
                                      v->id, (long long)p.m, (long long)p.n, (long long)p.k, sms[s],
                                      qg_status_name(st), qg_last_error(&ctx))) {
                            bad++;
                            continue;
                        }
                        const w4wg_params *q = &last.prm;
                        const int64_t tiles_m = (p.m + 127) / 128, tiles_n = (p.n + bn - 1) / bn;
                        const int64_t kt = ((p.k + 31) / 32 * 32 + 63) / 64;
                        int ok = last.grid[0] == (unsigned)(tiles_m * tiles_n) &&
                                 last.grid[1] == (unsigned)q->splits && last.grid[2] == 1 &&
                                 last.block[0] == 384 && last.smem <= 232448 &&
                                 q->tiles_m == tiles_m && q->tiles_n == tiles_n && q->splits >= 1 &&
                                 q->splits <= 16 && (int64_t)q->kt_per_split * q->splits >= kt &&
                                 (int64_t)q->kt_per_split * (q->splits - 1) < kt;
                        /* a grid that already fills the GPU is never split */
                        ok &= tiles_m * tiles_n < sms[s] || q->splits == 1;
                        ok &= q->splits == 1 || (q->partial && q->counter);
                        bad += !QT_CHECK(ok,
                                         "%s M=%lld N=%lld K=%lld on %d SMs: grid %u x %u, %d slices of %d k "
                                         "tiles (%lld in all)",
                                         v->id, (long long)p.m, (long long)p.n, (long long)p.k,
                                         sms[s], last.grid[0], last.grid[1], q->splits,
                                         q->kt_per_split, (long long)kt);
                        split_used += q->splits > 1;
                    }
                }
    }
    QT_CHECK(launches > 1000 && bad == 0, "%d of %d launches wrong", bad, launches);
    QT_CHECK(split_used > 0, "split-K never used");

    /* the shapes the issue is about, on an H100 */
    ctx.info.sm_count = 132;
    const qg_variant *v = qg_catalog_find("w4a16_wgmma.act2.bn256");
    qg_kernel k;
    memset(&k, 0, sizeof k);
    k.variant = v;
    qg_problem p = problem(4096, 4096, 4096, 128, QG_DTYPE_BF16);
    qg_gemm_args g = args_for(&p, NULL, 0);
    QT_OK(v->family->launch(&ctx, &k, &p, &g, v->params, NULL));
    QT_CHECK(last.prm.splits == 1 && last.grid[0] == 32 * 16, "M=4096: %d slices, %u CTAs",
             last.prm.splits, last.grid[0]);
    p.m = 128;
    const size_t ws = v->family->workspace(&p, v->params);
    g = args_for(&p, (void *)(uintptr_t)0x100000, ws);
    QT_OK(v->family->launch(&ctx, &k, &p, &g, v->params, NULL));
    QT_CHECK(last.prm.splits > 1 && last.grid[0] * last.grid[1] <= 132,
             "M=128 N=4096: %d slices x %u CTAs", last.prm.splits, last.grid[0]);
}

static void test_refusals(void) {
    const qg_variant *v = qg_catalog_find("w4a16_wgmma.act1.bn128");
    if (!v) return;
    qg_kernel k;
    memset(&k, 0, sizeof k);
    k.variant = v;
    ctx.info.sm_count = 132;
    qg_problem p = problem(4096, 4096, 4096, 64, QG_DTYPE_F16);
    qg_gemm_args g = args_for(&p, NULL, 0);
    g.lda = 4100; /* not a multiple of 8 */
    last.calls = 0;
    QT_STATUS(v->family->launch(&ctx, &k, &p, &g, v->params, NULL), QG_ERR_UNSUPPORTED);
    g = args_for(&p, NULL, 0);
    g.a = (void *)(uintptr_t)0x10008; /* 8-byte aligned only */
    QT_STATUS(v->family->launch(&ctx, &k, &p, &g, v->params, NULL), QG_ERR_UNSUPPORTED);
    g = args_for(&p, NULL, 0);
    g.w.scale = (void *)(uintptr_t)0x40004;
    QT_STATUS(v->family->launch(&ctx, &k, &p, &g, v->params, NULL), QG_ERR_UNSUPPORTED);
    /* split-K without the workspace it needs */
    p.m = 16;
    g = args_for(&p, NULL, 0);
    QT_STATUS(v->family->launch(&ctx, &k, &p, &g, v->params, NULL), QG_ERR_INVALID_ARGUMENT);
    QT_CHECK(last.calls == 0, "a refused launch reached the backend");
}

/* Experimental: the heuristic dispatch never chooses it, even where its cost model is lowest. */
static void test_not_dispatched(void) {
    ctx.info.sm_count = 132;
    const int64_t ms[] = {1, 128, 1024, 4096, 8192};
    for (int i = 0; i < 5; i++) {
        qg_problem p = problem(ms[i], 4096, 4096, 128, QG_DTYPE_BF16);
        const qg_variant *v = NULL;
        QT_OK(qg_dispatch_heuristic(&ctx, &p, QG_OP_GEMM, &v));
        QT_CHECK(v && strncmp(v->id, "w4a16_wgmma", 11) != 0, "M=%lld: heuristic picked %s",
                 (long long)ms[i], v ? v->id : "nothing");
    }
}

int main(void) {
    ops.name = "stub";
    ops.launch = stub_launch;
    ctx.ops = &ops;
    ctx.info.cc_major = 9, ctx.info.cc_minor = 0, ctx.info.sm_count = 132;
    ctx.info.backend = QG_BACKEND_CUDA;
    ctx.info.smem_optin = 227 * 1024;
    snprintf(ctx.info.arch, sizeof ctx.info.arch, "sm_90a");
    pthread_mutex_init(&ctx.lock, NULL);
    test_catalog();
    test_supports();
    test_launch_geometry();
    test_refusals();
    test_not_dispatched();
    return qt_finish("test_w4a16_wgmma");
}
