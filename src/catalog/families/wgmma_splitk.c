/* Split-K policy of the wgmma families (wgmma_splitk.h). */
#include "wgmma_splitk.h"

int64_t qg_wgsk_cap(const qg_wgsk_grid *g, int64_t sms) {
    if (g->tiles >= sms) return 1;
    int64_t s = QG_CDIV(sms, g->tiles);
    if (s > g->kt_total / 4) s = g->kt_total / 4;
    if (s > QG_WGSK_MAX_SPLITS) s = QG_WGSK_MAX_SPLITS;
    const int64_t by_mem = (int64_t)QG_WGSK_PARTIAL_LIMIT / (g->m * g->n * 4);
    if (s > by_mem) s = by_mem;
    return s < 1 ? 1 : s;
}

int qg_wgsk_even(int64_t kt_total, int64_t s, int *kt_per_split) {
    const int64_t per = QG_CDIV(kt_total, s);
    *kt_per_split = (int)per;
    return (int)QG_CDIV(kt_total, per);
}

/* Cost of a slice count: waves of CTAs x (k tiles per slice + 2 for pipeline fill and
 * epilogue), plus the reduction (~1 + s / 4 tile times). A grid that nearly fills the GPU is
 * not split (two waves of half the work gain nothing). */
int qg_wgsk_splits(const qg_wgsk_grid *g, const qg_device_info *dev, int *kt_per_split) {
    int64_t sms = dev && dev->sm_count > 0 ? dev->sm_count : 132;
    if (sms > QG_WGSK_MAX_SMS) sms = QG_WGSK_MAX_SMS;
    const int64_t cap = qg_wgsk_cap(g, sms);
    int best = qg_wgsk_even(g->kt_total, 1, kt_per_split);
    double best_cost = 0;
    for (int64_t s = 1; s <= cap; s++) {
        int kps;
        const int n = qg_wgsk_even(g->kt_total, s, &kps);
        const double waves = (double)QG_CDIV(g->tiles * n, sms);
        const double cost = waves * (kps + 2) + (n > 1 ? 1.0 + 0.25 * n : 0.0);
        if (s == 1 || cost < best_cost) best = n, best_cost = cost, *kt_per_split = kps;
    }
    return best;
}

size_t qg_wgsk_counter_bytes(const qg_wgsk_grid *g) {
    return (size_t)QG_CDIV(g->tiles * 4, 256) * 256;
}

size_t qg_wgsk_workspace(const qg_wgsk_grid *g) {
    const int64_t s = qg_wgsk_cap(g, QG_WGSK_MAX_SMS);
    if (s <= 1) return 0;
    return qg_wgsk_counter_bytes(g) + (size_t)s * (size_t)g->m * (size_t)g->n * sizeof(float);
}
