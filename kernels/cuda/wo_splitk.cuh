/*
 * Split-K of the weight-only kernels (w4a16_gemm.cuh, wo_gemv.cuh): every CTA writes its f32
 * slice of [splits][M][N] in the context workspace in column pairs (n, n + 1), n even; the last
 * CTA of an output tile to arrive sums the slices in slice order (deterministic) and zeroes what
 * it read: the workspace is shared by every kernel of a context, and all of them rely on
 * finding it zeroed.
 */
#pragma once

/* Store the pair (n, n + 1) of a row of `cols` f32 at dst (column n): one 8-byte store when
 * rows have an even length (dst is then 8-byte aligned); n + 1 only inside the row. */
QG_DEVICE void qg_wo_put_pair(float *dst, int n, int cols, float v0, float v1) {
    if (n + 1 < cols && !(cols & 1)) {
        qg_st_f32x2(dst, v0, v1);
    } else {
        dst[0] = v0;
        if (n + 1 < cols) dst[1] = v1;
    }
}

/* The reading side: add the pair at src to (*v0, *v1), then zero it. L2 loads: other CTAs of
 * this launch wrote it. */
QG_DEVICE void qg_wo_take_pair(float *src, int n, int cols, float *v0, float *v1) {
    float x0, x1 = 0.0f;
    if (n + 1 < cols && !(cols & 1)) {
        qg_ld_cg_f32x2(src, &x0, &x1);
        qg_st_f32x2(src, 0.0f, 0.0f);
    } else {
        x0 = qg_ld_cg_f32(src);
        src[0] = 0.0f;
        if (n + 1 < cols) {
            x1 = qg_ld_cg_f32(src + 1);
            src[1] = 0.0f;
        }
    }
    *v0 += x0;
    *v1 += x1;
}

/* Once every thread of the CTA stored its part of the slice: count the CTA in on the tile's
 * counter. Returns 1 in the CTA that arrived last, which then sees every slice. `s_last` is
 * shared memory; whole CTA, converged. */
QG_DEVICE int qg_wo_arrive_last(unsigned *counter, int splits, int tid, int *s_last) {
    __threadfence();
    __syncthreads();
    if (tid == 0) {
        const unsigned prev = atomicAdd(counter, 1u);
        *s_last = prev == (unsigned)(splits - 1);
        if (*s_last) __threadfence();
    }
    __syncthreads();
    return *s_last;
}
