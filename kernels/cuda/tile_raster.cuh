/*
 * Grouped tile raster: the order in which a GEMM's CTAs walk the (M tile, N tile) grid.
 * Consecutive CTAs take a group of up to QG_RASTER_GROUP M tiles and sweep the N tiles with it,
 * M fastest. The CTAs that share a weight (N) tile then run at the same time, so it comes from
 * DRAM once and from L2 for the others, and the group's activation rows stay in L2 while the
 * group sweeps N. Walking N fastest over whole rows of M tiles instead re-reads every weight tile
 * from DRAM once per M tile when the weights exceed L2 (the H100 profile of the 2:4 kernels in
 * docs/STATUS.md). Kernels using it launch a 1-D grid of tiles_m * tiles_n CTAs (times split-K
 * slices in y or z).
 */
#pragma once

#define QG_RASTER_GROUP 8

/* Tile (mt, nt) of the CTA with linear index bx < tiles_m * tiles_n. */
QG_DEVICE void qg_raster_tile(int bx, int tiles_m, int tiles_n, int *mt, int *nt) {
    const int per_group = QG_RASTER_GROUP * tiles_n, grp = bx / per_group;
    const int first = grp * QG_RASTER_GROUP, gsize = min(tiles_m - first, QG_RASTER_GROUP);
    const int in = bx % per_group;
    *mt = first + in % gsize;
    *nt = in / gsize;
}
