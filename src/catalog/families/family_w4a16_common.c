/* Shared host side of the weight-only GEMM families (see family_w4a16_common.h). */
#include "family_w4a16_common.h"

#include "jit.h"
#include "scheme_w4a16.h"

#include <stdint.h>
#include <stdio.h>

int qg_wo_gs_log2(const qg_problem *p) {
    if (p->scheme != QG_SCHEME_W4A16) return 30;
    return p->group_size == 32 ? 5 : p->group_size == 64 ? 6 : p->group_size == 128 ? 7 : 30;
}

int qg_wo_threads(const qg_wo_tile *t) { return 32 * (t->bm / t->wm) * (t->bn / 64); }

int qg_wo_smem_bytes(const qg_wo_tile *t) {
    const int a = t->bm * t->bk * 2;
    const int b = (t->bn / 64) * (t->bk / 16) * t->wbits * 128;
    const int s = t->wbits == 4 ? (t->bk / 32) * (t->bn / 64) * 128 : 0;
    return t->stages * (a + b + 2 * s);
}

/* Largest dynamic shared memory per block by compute capability (opt-in limits). */
static int smem_limit(int cc) {
    if (cc >= 90) return 227 * 1024;
    if (cc == 80 || cc == 87) return 163 * 1024;
    return 99 * 1024; /* sm_86, sm_89 */
}

typedef struct {
    int64_t n_tiles, m_tiles, kt_total;
} wo_grid;

static wo_grid grid_of(const qg_problem *p, const qg_wo_tile *t) {
    const int64_t kp = QG_CDIV(p->k, QG_WO_CHUNK) * QG_WO_CHUNK;
    wo_grid g = {QG_CDIV(p->n, t->bn), QG_CDIV(p->m, t->bm), QG_CDIV(kp, t->bk)};
    return g;
}

/* CTAs of this tile resident per SM, from registers (ptxas reports ~170 / 210 / 250 per
 * thread for 1 / 2 / 4 m16 tiles per warp) and shared memory (`smem_per_sm` bytes). */
static int64_t ctas_per_sm(const qg_wo_tile *t, int64_t smem_per_sm) {
    const int64_t regs = t->wm <= 16 ? 168 : t->wm <= 32 ? 216 : 256;
    int64_t by_regs = 65536 / (regs * qg_wo_threads(t));
    const int64_t by_smem = smem_per_sm / (qg_wo_smem_bytes(t) + 1024);
    if (by_smem < by_regs) by_regs = by_smem;
    return by_regs < 1 ? 1 : by_regs;
}

/* Slices wanted to fill `sms` SMs, capped (device-independently) by the slice count, the
 * k tiles and the partial buffer size. */
static int64_t splits_for(const qg_problem *p, const qg_wo_tile *t, int64_t sms, int64_t smem_per_sm) {
    const wo_grid g = grid_of(p, t);
    int64_t s = QG_CDIV(sms * ctas_per_sm(t, smem_per_sm), g.n_tiles * g.m_tiles);
    if (s > g.kt_total) s = g.kt_total;
    if (s > QG_WO_MAX_SPLITS) s = QG_WO_MAX_SPLITS;
    const int64_t by_mem = (int64_t)QG_WO_PARTIAL_LIMIT / (p->m * p->n * 4);
    if (s > by_mem) s = by_mem;
    return s < 1 ? 1 : s;
}

static int splits_max(const qg_problem *p, const qg_wo_tile *t) {
    return (int)splits_for(p, t, QG_WO_MAX_SMS, 228 * 1024);
}

/* Slices of equal length in whole k tiles, so that none is empty. */
static int even_splits(int64_t kt_total, int s, int *kt_per_split) {
    const int64_t per = QG_CDIV(kt_total, s);
    *kt_per_split = (int)per;
    return (int)QG_CDIV(kt_total, per);
}

int qg_wo_splits(const qg_problem *p, const qg_wo_tile *t, const qg_device_info *dev) {
    const int64_t sms = dev && dev->sm_count > 0 ? dev->sm_count : 132;
    const int64_t smem = dev && dev->smem_optin > 0 ? dev->smem_optin + 1024 : 228 * 1024;
    const int64_t want = splits_for(p, t, sms < QG_WO_MAX_SMS ? sms : QG_WO_MAX_SMS, smem);
    const int cap = splits_max(p, t);
    int per;
    return even_splits(grid_of(p, t).kt_total, (int)(want < cap ? want : cap), &per);
}

static size_t counter_bytes(const qg_problem *p, const qg_wo_tile *t) {
    const wo_grid g = grid_of(p, t);
    return (size_t)QG_CDIV(g.n_tiles * g.m_tiles * 4, 256) * 256;
}

size_t qg_wo_workspace(const qg_problem *p, const qg_wo_tile *t) {
    const int s = splits_max(p, t);
    if (s <= 1) return 0;
    return counter_bytes(p, t) + (size_t)s * (size_t)p->m * (size_t)p->n * sizeof(float);
}

int qg_wo_zero_point_supported(const qg_problem *p, int fzp, char *why, size_t why_len) {
    const int is_float = p->scheme == QG_SCHEME_W4A16 && p->has_zero_point == QG_ZERO_POINT_FLOAT;
    if (is_float && !fzp) {
        snprintf(why, why_len,
                 "float zero points (has_zero_point 2): not in this kernel (the *_fzp families "
                 "compute them)");
        return 0;
    }
    if (!is_float && fzp) {
        snprintf(why, why_len, "computes W4A16 float zero points (has_zero_point 2) only");
        return 0;
    }
    return 1;
}

int qg_wo_supports(const qg_problem *p, const qg_wo_tile *t, int cc, char *why, size_t why_len) {
    const qg_dtype act = t->act == 2 ? QG_DTYPE_BF16 : QG_DTYPE_F16;
    if (p->scheme != t->scheme) {
        snprintf(why, why_len, "computes %s, not %s", qg_scheme_name(t->scheme),
                 qg_scheme_name(p->scheme));
        return 0;
    }
    if (!qg_wo_zero_point_supported(p, t->fzp, why, why_len)) return 0;
    if (p->act_dtype != act) {
        snprintf(why, why_len, "compiled for %s activations, the problem has %s",
                 qg_dtype_name(act), qg_dtype_name(p->act_dtype));
        return 0;
    }
    if (cc < 80) {
        snprintf(why, why_len, "needs sm_80 or newer (mma.sync bf16, cp.async)");
        return 0;
    }
    if (p->k % 8 != 0) {
        snprintf(why, why_len, "K (%lld) must be a multiple of 8 (16-byte activation loads)",
                 (long long)p->k);
        return 0;
    }
    if (t->max_m && p->m > t->max_m) {
        snprintf(why, why_len, "M (%lld) above %d: use a prefill kernel", (long long)p->m, t->max_m);
        return 0;
    }
    if (QG_CDIV(p->m, t->bm) > 65535) {
        snprintf(why, why_len, "M (%lld) needs more than 65535 row tiles of %d", (long long)p->m,
                 t->bm);
        return 0;
    }
    if (qg_wo_smem_bytes(t) + 1024 > smem_limit(cc)) { /* 1 KB: static shared memory */
        snprintf(why, why_len, "needs %d bytes of shared memory, sm_%d has %d", qg_wo_smem_bytes(t),
                 cc, smem_limit(cc));
        return 0;
    }
    return 1;
}

/*
 * Rough time model (seconds), only used to rank variants when the tuning database has no entry:
 * the larger of weight streaming (weights are read once per row tile) and tensor-core time (rows
 * padded to the tile, int4 dequantization costing about 2 / rows-per-warp-tile of the math) plus
 * a quarter of the smaller, slowed down when the grid cannot fill the SMs, plus the split-K
 * partial traffic.
 */
double qg_wo_cost(const qg_problem *p, const qg_wo_tile *t, const qg_device_info *dev) {
    const int sms = dev && dev->sm_count > 0 ? dev->sm_count : 132;
    const double scale = sms / 132.0;
    const double hbm = 2.6e12 * scale, l2 = 8e12 * scale, mma = 5.5e14 * scale;
    const wo_grid g = grid_of(p, t);
    const int s = qg_wo_splits(p, t, dev);
    const double np = (double)(QG_CDIV(p->n, 64) * 64), kp = (double)(g.kt_total * t->bk);
    const double wbytes = np * kp * t->wbits / 8.0 + np * (kp / 32.0) * 4.0;
    const double t_mem = (wbytes * (double)g.m_tiles + 2.0 * p->m * p->n) / hbm +
                         2.0 * p->m * kp * (double)g.n_tiles / l2;
    const double mt = t->wm / 16.0;
    const double t_math = 2.0 * (double)(g.m_tiles * t->bm) * (double)(g.n_tiles * t->bn) * kp /
                          mma * (1.0 + (t->wbits == 4 ? 2.0 : 1.5) / mt);
    const double ctas = (double)(g.n_tiles * g.m_tiles * s);
    const double fill = ctas < sms ? ctas / sms : 1.0;
    const double t_split = s > 1 ? 2.0 * s * p->m * p->n * 4.0 / l2 + 2e-6 : 0.0;
    /* streaming and math overlap, but not perfectly: a quarter of the smaller one shows */
    const double t_main = t_mem > t_math ? t_mem + 0.25 * t_math : t_math + 0.25 * t_mem;
    double cost = t_main / fill + t_split + 3e-6;
    /* The prefill tiles (max_m == 0) on Hopper, fitted to the session-7 H100 tuning run of
     * Llama-3-8B's shapes (M = 128 .. 4096, every candidate timed): 1.25-1.7x this model without
     * split-K, and 3-15x with it (the last CTA of a tile sums the slices with dependent L2
     * loads). Without this, dispatch with no database entry picked them at M = 128-256 on the
     * H100, 5-12x slower than the wgmma kernels. */
    if (t->max_m == 0 && dev && dev->cc_major >= 9) cost *= s > 1 ? 6.0 : 1.5;
    return cost;
}

qg_status qg_wo_check_args(qg_context *ctx, const qg_problem *p, const qg_gemm_args *a,
                           const char *id) {
    QG_RETURN_IF(ctx, (uintptr_t)a->a % 16 || a->lda % 8 || a->lda > INT32_MAX, QG_ERR_UNSUPPORTED,
                 "%s needs A 16-byte aligned with lda a multiple of 8 (A %p, lda %lld)", id, a->a,
                 (long long)a->lda);
    QG_RETURN_IF(ctx,
                 (uintptr_t)a->w.weight % 16 || (uintptr_t)a->w.scale % 16 ||
                     (p->has_zero_point && (uintptr_t)a->w.zero % 16),
                 QG_ERR_UNSUPPORTED,
                 "%s needs 16-byte aligned packed weight, scale and zero buffers", id);
    QG_RETURN_IF(ctx, p->has_zero_point == QG_ZERO_POINT_FLOAT && !a->w.zero, QG_ERR_NULL_POINTER,
                 "%s: float zero points (has_zero_point 2) need the zero buffer", id);
    QG_RETURN_IF(ctx,
                 (uintptr_t)a->c % 2 || a->ldc > INT32_MAX || (p->has_bias && (uintptr_t)a->bias % 2),
                 QG_ERR_INVALID_ARGUMENT, "%s: C and bias must be 2-byte aligned, ldc < 2^31", id);
    return QG_SUCCESS;
}

qg_status qg_wo_bind_splitk(qg_context *ctx, const qg_problem *p, const qg_gemm_args *a,
                            const char *id, int s, size_t counter_bytes, unsigned **counter,
                            float **partial) {
    const size_t need = counter_bytes + (size_t)s * (size_t)p->m * (size_t)p->n * 4;
    QG_RETURN_IF(ctx, !a->workspace || a->workspace_bytes < need || (uintptr_t)a->workspace % 16,
                 QG_ERR_INVALID_ARGUMENT,
                 "%s with %d split-K slices needs a zeroed, 16-byte "
                 "aligned workspace of %zu bytes (got %zu)",
                 id, s, need, a->workspace ? a->workspace_bytes : 0);
    *counter = a->workspace;
    *partial = (float *)((char *)a->workspace + counter_bytes);
    return QG_SUCCESS;
}

qg_status qg_wo_launch(qg_context *ctx, qg_kernel *k, const qg_problem *p, const qg_gemm_args *a,
                       const qg_wo_tile *t, void *stream) {
    const char *id = k->variant->id;
    QG_CHECK(qg_wo_check_args(ctx, p, a, id));
    const wo_grid g = grid_of(p, t);
    int per = 0;
    const int s = even_splits(g.kt_total, qg_wo_splits(p, t, &ctx->info), &per);
    qg_wo_params kp = {
        QG_WO_COMMON_PARAMS(p, a),
        .kp = (int32_t)(QG_CDIV(p->k, QG_WO_CHUNK) * QG_WO_CHUNK),
        .kt_per_split = per,
        .splits = s,
    };
    if (s > 1)
        QG_CHECK(qg_wo_bind_splitk(ctx, p, a, id, s, counter_bytes(p, t), &kp.counter, &kp.partial));
    void *params[] = {&kp};
    return qg_kernel_launch(ctx, k, (unsigned)g.n_tiles, (unsigned)s, (unsigned)g.m_tiles,
                            (unsigned)qg_wo_threads(t), (unsigned)qg_wo_smem_bytes(t), stream,
                            params);
}
