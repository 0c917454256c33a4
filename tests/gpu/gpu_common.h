/* Helpers for GPU tests (the programs in tests/gpu): open a context or skip, poisoned device buffers,
 * full-output checks against float64 references. */
#ifndef QG_GPU_COMMON_H
#define QG_GPU_COMMON_H

#include "testutil.h"

/* Open a context on device 0. Returns NULL (and prints why) when there is no GPU: the caller
 * then prints "0 passed, 0 failed (skipped: no GPU)" and exits 0. */
qg_context *gt_open(void);

/* Device buffer with a copy of host data; aborts the test (exit 1) on failure. */
void *gt_upload(qg_context *ctx, const void *host, size_t bytes);
/* Device buffer filled with 0xff bytes (NaN in bf16/f16/f32), so unwritten outputs show. */
void *gt_alloc_poison(qg_context *ctx, size_t bytes);
void gt_download(qg_context *ctx, void *host, const void *dev, size_t bytes);
void gt_poison(qg_context *ctx, void *dev, size_t bytes);
/* 16-bit elements among the first `bytes` of a poisoned (gt_poison) buffer that were written. */
size_t gt_count_written(qg_context *ctx, const void *dev, size_t bytes);
void gt_free(qg_context *ctx, void *dev);

/* Upload all buffers of a packed host weight (sizes from qg_packed_sizes_get). */
qg_packed_weight gt_upload_packed(qg_context *ctx, const qg_problem *p, const qg_packed_weight *h);
void gt_free_packed(qg_context *ctx, qg_packed_weight *w);

/*
 * Compare a device output of M*N elements of dtype `dt` (bf16/f16) with a float64 reference:
 * every element must be finite (a poisoned element is NaN), and ||out-ref||/||ref|| <= tol.
 * Returns 1 on pass; prints the first bad element and the errors otherwise. `what` names the
 * case in messages. *rel_out (may be NULL) receives the relative error.
 */
int gt_check_half(const char *what, const uint16_t *out, qg_dtype dt, const double *ref, int64_t m,
                  int64_t n, double tol, double *rel_out);

/* QGEMM_GPU_REDUCED=1: the reduced case list, every kernel family at least once on small
 * shapes, no timing and no counts that only the full list reaches (tests/gpu/run.sh --sanitize
 * runs it under compute-sanitizer, which is 10-100x slower). */
int gt_reduced(void);

/* Run fn(ctx, i) for i in [0, n) on `threads` threads, handing out indices one at a time
 * (host-side packing and float64 references of large shapes). */
void gt_parallel_for(int64_t n, int threads, void (*fn)(void *, int64_t), void *ctx);

#endif
