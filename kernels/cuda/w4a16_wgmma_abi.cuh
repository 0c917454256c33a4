/*
 * Kernel parameters of the W4A16 wgmma kernels (w4a16_wgmma.cu: SS form, wo_wgmma_rs.cu: RS
 * form), one definition for both sides: valid C11 (included by family_w4a16_wgmma.c) and
 * NVRTC CUDA (included after qg_prelude.cuh). The kernels take it by value as their only
 * argument, so host and device must agree on every member, not only on the size.
 *
 * A tile is (tile_m rows of C, tile_n columns of C): SS: 128 tokens x QG_BN weight rows;
 * RS: QG_BM tokens x 128 weight rows. tiles_m / tiles_n count them over M / N.
 */
#pragma once

#include "qg_abi.cuh" /* QG_WO_PARAMS_HEAD */

struct qg_w4wg_params {
    QG_WO_PARAMS_HEAD;    /* qg_abi.cuh: the weight-only kernels' common head */
    int32_t kp;           /* K rounded up to 32 */
    int32_t groups;       /* scale columns per weight row (G) */
    int32_t gs_log2;      /* log2(group size); 30 for one group per channel */
    int32_t out_bf16;     /* output dtype: 1 bf16, 0 f16 */
    int32_t c_pairs;      /* 1: (row, even col) of C is 4-byte aligned */
    int32_t kt_per_split; /* k tiles (of 64) per split-K slice */
    int32_t splits;
    int32_t tiles_m, tiles_n;
};

/* RS shared-memory stage (wo_wgmma_rs.cu): the activation tile (bm tokens x 128 bytes), the
 * packed weight of the CTA's two 64-row slabs (4 k16 steps each: 512 B per step and slab for
 * int4, 1 KB for int8) and the scale / zero-point splats (2 x 512 B), rounded up to 1 KB (the
 * SWIZZLE_128B tiles anchor on 1024-byte boundaries). Stages in the ring: 8 (bm 64), 7 (bm 128). */
#define QG_W4RS_A_BYTES(bm) ((bm)*128)
#define QG_W4RS_W_BYTES(wbits) (2 * 4 * 128 * (wbits))
#define QG_W4RS_SC_BYTES 512
#define QG_W4RS_STAGE_BYTES(bm, wbits) \
    ((QG_W4RS_A_BYTES(bm) + QG_W4RS_W_BYTES(wbits) + 2 * QG_W4RS_SC_BYTES + 1023) / 1024 * 1024)
#define QG_W4RS_STAGES(bm) ((bm) == 64 ? 8 : (bm) == 128 ? 7 : 5)
