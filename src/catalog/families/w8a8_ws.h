/*
 * Host side of the warp-specialized W8A8 wgmma families (family_w8a8_wgmma_ws.c), exposed
 * for tests/test_w8a8_ws.c: the TMA boxes, launch geometry and tile grouping the launcher uses.
 */
#ifndef QG_W8A8_WS_H
#define QG_W8A8_WS_H

#include "catalog.h"
#include "tensormap.h"

/* Variant parameters: {bn, st}. */
enum { QG_WS_P_BN = 0, QG_WS_P_ST = 1 };

/* TMA descriptions of A ([M, K] bytes, row stride lda) and W ([N, K] bytes) for tile width
 * `bn`: boxes of 128 bytes of K by 128 rows (A) / bn rows (W), 128-byte swizzle. */
void qg_w8a8_ws_tmaps(const qg_problem *p, const qg_gemm_args *g, int bn, qg_tmap_2d *a,
                      qg_tmap_2d *w);

/* Launch geometry: CTAs (persistent: min(tiles, sm_count)), group_m of the tile order,
 * dynamic shared memory bytes. 0 CTAs when the problem has too many tiles for int. */
typedef struct {
    unsigned ctas;
    int tiles, group_m;
    unsigned smem;
} qg_w8a8_ws_geometry;

void qg_w8a8_ws_geometry_get(const qg_problem *p, const int *params, int sm_count,
                             qg_w8a8_ws_geometry *out);

#endif
