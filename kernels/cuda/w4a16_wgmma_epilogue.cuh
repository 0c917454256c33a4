/*
 * Epilogue of the W4A16 wgmma kernels (w4a16_wgmma.cu, wo_wgmma_rs.cu), after the consumer
 * warpgroups (256 threads, named barrier 2) have staged their f32 tile in shared memory as
 * [TM rows of C][PITCH floats] (TN columns used): split-K publication and deterministic
 * reduction (the last CTA of a tile sums the slices in slice order and leaves the workspace
 * zeroed), then bias in f32, one rounding to the output dtype and 16-byte stores where C allows.
 * Rows >= M and columns >= N are never written.
 */
#pragma once

#include "w4a16_wgmma_abi.cuh"
#include "w4a16_wgmma_ops.cuh"

struct __align__(8) qg_w4wg_f2 {
    float x, y;
};
struct __align__(16) qg_w4wg_f4 {
    float x, y, z, w;
};

/* ctid: consumer thread 0..255; m0/n0: the tile's first row/column of C; s_last: one int of
 * shared memory. Every consumer thread calls it; CTAs that are not the last of a split-K tile
 * return early. P: qg_w4wg_params, or another kernel's struct with the members read here
 * (qg_w4a8rs_params of w4a8_wgmma_rs_abi.cuh). */
template <int TM, int TN, int PITCH, typename P>
QG_DEVICE void qg_w4wg_epilogue(const P &p, float *stage, int m0, int n0, int ctid, int *s_last) {
    const int nrow = min(TM, p.m - m0), ncol = min(TN, p.n - n0);

    if (p.splits > 1) {
        /* Publish this slice's partial tile, then let the last CTA of the tile reduce. */
        const int vec = (p.n & 3) == 0; /* rows of the partial buffer are 16-byte aligned */
        float *part = p.partial + (long long)blockIdx.y * p.m * p.n + (long long)m0 * p.n + n0;
#pragma unroll 1
        for (int idx = ctid; idx < nrow * (TN / 4); idx += 256) {
            const int r = idx / (TN / 4), c = 4 * (idx % (TN / 4));
            if (c >= ncol) continue;
            const float *src = stage + r * PITCH + c;
            float *dst = part + (long long)r * p.n + c;
            if (vec && c + 4 <= ncol) *(qg_w4wg_f4 *)dst = *(const qg_w4wg_f4 *)src;
            else
                for (int q = 0; q < 4 && c + q < ncol; q++) dst[q] = src[q];
        }
        __threadfence();
        qg_w4wg_bar_sync(2, 256);
        if (ctid == 0) {
            const unsigned prev = atomicAdd(&p.counter[blockIdx.x], 1u);
            *s_last = prev == (unsigned)(p.splits - 1);
            if (*s_last) __threadfence();
        }
        qg_w4wg_bar_sync(2, 256);
        if (!*s_last) return;
        /* Sum the slices in slice order (deterministic; this CTA's own included), reading then
         * zeroing them: the workspace is shared by every kernel of a context, and all of them
         * rely on finding it zeroed. */
        const long long slice = (long long)p.m * p.n;
        float *part0 = p.partial + (long long)m0 * p.n + n0;
#pragma unroll 1
        for (int idx = ctid; idx < nrow * (TN / 4); idx += 256) {
            const int r = idx / (TN / 4), c = 4 * (idx % (TN / 4));
            if (c >= ncol) continue;
            const int cnt = ncol - c < 4 ? ncol - c : 4;
            float sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            float *src0 = part0 + (long long)r * p.n + c;
            int sp = 0;
            if (vec && cnt == 4) {
                /* four slices in flight per step, 16 bytes each, summed in slice order */
                const qg_w4wg_f4 zero = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll 1
                for (; sp + 4 <= p.splits; sp += 4) {
                    float v[4][4];
#pragma unroll
                    for (int j = 0; j < 4; j++) qg_ld_cg_f32x4(src0 + (sp + j) * slice, v[j]);
#pragma unroll
                    for (int j = 0; j < 4; j++) *(qg_w4wg_f4 *)(src0 + (sp + j) * slice) = zero;
#pragma unroll
                    for (int j = 0; j < 4; j++)
#pragma unroll
                        for (int q = 0; q < 4; q++) sum[q] += v[j][q];
                }
#pragma unroll 1
                for (; sp < p.splits; sp++) {
                    float v[4];
                    qg_ld_cg_f32x4(src0 + sp * slice, v);
                    *(qg_w4wg_f4 *)(src0 + sp * slice) = zero;
#pragma unroll
                    for (int q = 0; q < 4; q++) sum[q] += v[q];
                }
            }
#pragma unroll 1
            for (; sp < p.splits; sp++) {
                float *src = src0 + sp * slice;
                for (int q = 0; q < cnt; q++) {
                    sum[q] += qg_ld_cg_f32(src + q);
                    src[q] = 0.0f;
                }
            }
            for (int q = 0; q < cnt; q++) stage[r * PITCH + c + q] = sum[q];
        }
        if (ctid == 0) p.counter[blockIdx.x] = 0u; /* ready for the next call */
        qg_w4wg_bar_sync(2, 256);
    }

    /* bias, one rounding to the output dtype, 16-byte stores of 8 outputs where C allows */
    const int odt = p.out_bf16 ? QG_DT_BF16 : QG_DT_F16;
    const int cvec = (p.ldc & 7) == 0 && ((unsigned long long)p.c & 15) == 0;
#pragma unroll 1
    for (int idx = ctid; idx < nrow * (TN / 8); idx += 256) {
        const int r = idx / (TN / 8), c = 8 * (idx % (TN / 8));
        if (c >= ncol) continue;
        const float *src = stage + r * PITCH + c;
        uint16_t *dst = p.c + (long long)(m0 + r) * p.ldc + n0 + c;
        float v[8];
#pragma unroll
        for (int q = 0; q < 8; q++)
            v[q] = src[q] + (p.bias && c + q < ncol ? qg_to_f32(p.bias[n0 + c + q], odt) : 0.0f);
        if (cvec && c + 8 <= ncol) {
            qg_u32x4 o;
            if (p.out_bf16) {
                o.x = qg_pack_bf16x2(v[0], v[1]), o.y = qg_pack_bf16x2(v[2], v[3]);
                o.z = qg_pack_bf16x2(v[4], v[5]), o.w = qg_pack_bf16x2(v[6], v[7]);
            } else {
                o.x = qg_pack_f16x2(v[0], v[1]), o.y = qg_pack_f16x2(v[2], v[3]);
                o.z = qg_pack_f16x2(v[4], v[5]), o.w = qg_pack_f16x2(v[6], v[7]);
            }
            *(qg_u32x4 *)dst = o;
        } else {
#pragma unroll
            for (int q = 0; q < 8; q++)
                if (c + q < ncol) dst[q] = qg_from_f32(v[q], odt);
        }
    }
}
