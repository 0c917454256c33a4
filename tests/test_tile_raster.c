/*
 * The grouped CTA order of kernels/cuda/tile_raster.cuh, compiled here as host C: every CTA of a
 * 1-D grid of tiles_m * tiles_n gets a distinct tile in range (a bijection, so no tile is skipped
 * or written twice), and CTAs that run together share weight tiles: each window of
 * QG_RASTER_GROUP consecutive CTAs inside a full group holds one N tile and distinct M tiles.
 */
#include "testutil.h"

#include <stdlib.h>

#define QG_DEVICE static inline
static inline int min(int a, int b) { return a < b ? a : b; }
#include "../kernels/cuda/tile_raster.cuh"

static void check_grid(int tiles_m, int tiles_n) {
    const int total = tiles_m * tiles_n;
    char *seen = calloc((size_t)total, 1);
    int bad_range = 0, repeats = 0, mixed_windows = 0;
    for (int bx = 0; bx < total; bx++) {
        int mt, nt;
        qg_raster_tile(bx, tiles_m, tiles_n, &mt, &nt);
        if (mt < 0 || mt >= tiles_m || nt < 0 || nt >= tiles_n) {
            bad_range++;
            continue;
        }
        repeats += seen[mt * tiles_n + nt]++ != 0;
    }
    /* windows of full groups: bx = group start + QG_RASTER_GROUP * j */
    const int full_groups = tiles_m / QG_RASTER_GROUP;
    for (int g = 0; g < full_groups; g++)
        for (int j = 0; j < tiles_n; j++) {
            int nt0 = -1, mask = 0;
            for (int i = 0; i < QG_RASTER_GROUP; i++) {
                int mt, nt;
                qg_raster_tile(g * QG_RASTER_GROUP * tiles_n + j * QG_RASTER_GROUP + i, tiles_m,
                               tiles_n, &mt, &nt);
                if (i == 0) nt0 = nt;
                mixed_windows += nt != nt0 || (mask >> (mt % QG_RASTER_GROUP) & 1);
                mask |= 1 << (mt % QG_RASTER_GROUP);
            }
        }
    QT_CHECK(!bad_range && !repeats && !mixed_windows,
             "tiles_m=%d tiles_n=%d: %d out of range, %d repeated, %d mixed windows", tiles_m,
             tiles_n, bad_range, repeats, mixed_windows);
    free(seen);
}

int main(void) {
    /* every small grid, then the shapes of the Llama-3 linears at 128-row tiles (M up to 16384) */
    for (int tm = 1; tm <= 40; tm++)
        for (int tn = 1; tn <= 40; tn++) check_grid(tm, tn);
    const int tns[] = {32, 48, 224, 448, 80, 64};
    const int tms[] = {1, 8, 9, 32, 128};
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 5; j++) check_grid(tms[j], tns[i]);
    /* the M tile changes fastest: the first CTAs of a tall grid cover 8 M tiles of N tile 0 */
    int mt, nt;
    qg_raster_tile(7, 32, 224, &mt, &nt);
    QT_CHECK(mt == 7 && nt == 0, "CTA 7 of 32 x 224 tiles: tile (%d, %d), expected (7, 0)", mt, nt);
    qg_raster_tile(8, 32, 224, &mt, &nt);
    QT_CHECK(mt == 0 && nt == 1, "CTA 8 of 32 x 224 tiles: tile (%d, %d), expected (0, 1)", mt, nt);
    return qt_finish("test_tile_raster");
}
