/*
 * Kernel parameters and shared-memory stage of the W4A8_FP8 RS wgmma kernel
 * (w4a8_fp8_wgmma_rs.cu; host: family_w4a8_wgmma_rs.c), one definition for both sides: valid
 * C11 and NVRTC CUDA (after qg_prelude.cuh). The kernel takes the struct by value as its only
 * argument. The members the shared W4A16 wgmma epilogue reads (w4a16_wgmma_epilogue.cuh: m, n,
 * bias, c, ldc, out_bf16, partial, counter, splits) have the names and meanings of
 * qg_w4wg_params.
 *
 * A tile is QG_BM tokens x 128 weight rows; tiles_m / tiles_n count them over M / N.
 */
#pragma once

struct qg_w4a8rs_params {
    const uint8_t *a;          /* [M, lda] e4m3 activations */
    const uint8_t *w;          /* packed W4A8_FP8 weight, plain nibble order (docs/formats.md) */
    const float *w_scale;      /* [N][groups] f32 group scales */
    const float *a_scale;      /* [M] per token, or [1] per tensor (a_per_tensor) */
    const uint16_t *bias;      /* [N] in the output dtype; NULL: none */
    uint16_t *c;               /* [M, ldc] */
    float *partial;            /* split-K: [splits][M][N] f32 */
    unsigned *counter;         /* split-K: one per output tile, 0 on entry and on exit */
    int32_t m, n, k, lda, ldc; /* lda in bytes */
    int32_t groups;            /* K / 128 */
    int32_t a_per_tensor;      /* 1: a_scale[0] for every token */
    int32_t out_bf16;          /* output dtype: 1 bf16, 0 f16 */
    int32_t kt_per_split;      /* k tiles (of 128) per split-K slice */
    int32_t splits;
    int32_t tiles_m, tiles_n;
};

/* Stage of the ring (one k tile of 128 = one scale group): the activations (bm tokens x 128
 * bytes, SWIZZLE_128B, k renamed), the packed weight of the CTA's 128 rows (64 bytes each at a
 * pitch of 80: the consumers' 4-byte reads are conflict-free) and the rows' 128 f32 scales,
 * rounded up to 1 KB (SWIZZLE_128B tiles anchor on 1024-byte boundaries). 8 stages. */
#define QG_W4A8RS_A_BYTES(bm) ((bm)*128)
#define QG_W4A8RS_W_PITCH 80
#define QG_W4A8RS_W_BYTES (128 * QG_W4A8RS_W_PITCH)
#define QG_W4A8RS_SC_BYTES (128 * 4)
#define QG_W4A8RS_STAGE_BYTES(bm) \
    ((QG_W4A8RS_A_BYTES(bm) + QG_W4A8RS_W_BYTES + QG_W4A8RS_SC_BYTES + 1023) / 1024 * 1024)
#define QG_W4A8RS_STAGES 8
