/*
 * Split-K policy of the Hopper wgmma families that reduce slices in the W4A16 wgmma epilogue
 * (kernels/cuda/w4a16_wgmma_epilogue.cuh: family_w4a16_wgmma.c, family_w4a8_wgmma_rs.c): how
 * many slices a grid gets, and the workspace (tile counters, then [splits][M][N] f32 partials)
 * it needs. Split only when the tiles alone cannot fill the GPU; caps are device-independent
 * (sized for GPUs up to QG_WGSK_MAX_SMS SMs) so that workspace() needs no device.
 */
#ifndef QG_WGMMA_SPLITK_H
#define QG_WGMMA_SPLITK_H

#include "internal.h"

#define QG_WGSK_MAX_SPLITS 16
#define QG_WGSK_MAX_SMS 160
#define QG_WGSK_PARTIAL_LIMIT (64u << 20)

/* A launch's output tiles, its k tiles and its C size. */
typedef struct {
    int64_t tiles, kt_total, m, n;
} qg_wgsk_grid;

/* Most slices for `sms` SMs (one CTA each): no more than one extra wave of CTAs, at least 4 k
 * tiles per slice, and the device-independent caps. Grows with `sms`. */
int64_t qg_wgsk_cap(const qg_wgsk_grid *g, int64_t sms);

/* Slices of equal length in whole k tiles (none empty) for at most `s` slices: returns the
 * slice count, *kt_per_split their length. */
int qg_wgsk_even(int64_t kt_total, int64_t s, int *kt_per_split);

/* The slice count (up to the cap) with the fewest k-tile times on `dev` (NULL: an H100). */
int qg_wgsk_splits(const qg_wgsk_grid *g, const qg_device_info *dev, int *kt_per_split);

/* The tile counters' bytes (256-byte rounded; the partials follow them), and the whole
 * workspace for the largest split any device gets (0: never split). */
size_t qg_wgsk_counter_bytes(const qg_wgsk_grid *g);
size_t qg_wgsk_workspace(const qg_wgsk_grid *g);

#endif
