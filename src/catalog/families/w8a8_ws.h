/*
 * Host side of the warp-specialized W8A8 wgmma families (family_w8a8_wgmma_ws.c), exposed
 * for tests/test_w8a8_ws.c: the TMA boxes, launch geometry and tile grouping the launcher uses.
 */
#ifndef QG_W8A8_WS_H
#define QG_W8A8_WS_H

#include "catalog.h"
#include "tensormap.h"

/* Variant parameters: {bn, st} ({bn, st, sk} for the split-K families: sk is 1). */
enum { QG_WS_P_BN = 0, QG_WS_P_ST = 1, QG_WS_P_SK = 2 };

/* TMA descriptions of A ([M, K] bytes, row stride lda) and W ([N, K] bytes) for tile width
 * `bn`: boxes of 128 bytes of K by 128 rows (A) / bn rows (W), 128-byte swizzle. */
void qg_w8a8_ws_tmaps(const qg_problem *p, const qg_gemm_args *g, int bn, qg_tmap_2d *a,
                      qg_tmap_2d *w);

/* Launch geometry: CTAs (persistent: min(units, sm_count)), group_m of the tile order,
 * dynamic shared memory bytes; with split-K (params[QG_WS_P_SK]) the slices of each tile and
 * their K blocks (wgmma_splitk.h's policy; 1 slice otherwise). 0 CTAs when the problem has too
 * many tiles for int. */
typedef struct {
    unsigned ctas;
    int tiles, group_m;
    unsigned smem;
    int splits, kb_per_split;
} qg_w8a8_ws_geometry;

void qg_w8a8_ws_geometry_get(const qg_problem *p, const int *params, int sm_count,
                             qg_w8a8_ws_geometry *out);

/* Split-K workspace bytes (tile counters, then [tiles][splits][128 x bn] f32 partials for the
 * most slices any device gets; 0: never split). */
size_t qg_w8a8_ws_workspace(const qg_problem *p, const int *params);

#endif
