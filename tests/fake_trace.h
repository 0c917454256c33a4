/*
 * One ordered trace of what the fake libcuda (tests/fake_cuda.c) and the fake libcublasLt
 * (tests/fake_cublaslt.c) were asked to do, for tests that check a whole launch sequence
 * (kernel launches, asynchronous memsets and cuBLASLt matmuls, in issue order).
 * The trace lives in the fake libcuda: fake_cuda_trace_start() clears and enables it,
 * fake_cuda_trace_get() reads it; the fake cuBLASLt appends its matmuls through the function
 * the test hands it with fake_cublaslt_set_trace(fake_cuda_trace_add).
 */
#ifndef QG_FAKE_TRACE_H
#define QG_FAKE_TRACE_H

#include <stddef.h>
#include <stdint.h>

enum { FAKE_EV_LAUNCH = 1, FAKE_EV_MEMSET = 2, FAKE_EV_MATMUL = 3 };

/* A cuBLASLt matrix layout as the fake's cublasLtMatrixLayoutInit saw it. */
typedef struct {
    uint64_t type, rows, cols;
    int64_t ld;
} fake_layout;

typedef struct {
    int kind;
    const void *stream;
    /* launch: grid, block.x and the argument bytes fake_cuda_capture_params asked for */
    unsigned grid[3], block;
    unsigned char params[128];
    /* memset: destination, byte count, value */
    const void *ptr;
    size_t bytes;
    unsigned value;
    /* matmul (cuBLASLt's names: D = A op B; our weight is its A, our activations its B) */
    const void *a, *b, *c, *d, *bias, *workspace;
    size_t ws_bytes;
    fake_layout la, lb, lc, ld;
    int64_t transa, transb, epilogue, compute_type;
} fake_event;

#define FAKE_TRACE_MAX 512

/* What the fake cuTensorMapEncodeTiled writes into the 128 bytes of each map it encodes: its
 * arguments (the first two dimensions of maps of higher rank). */
typedef struct {
    uint64_t magic; /* FAKE_TMAP_MAGIC */
    uint64_t address, dim[2], stride;
    uint32_t box[2], estride[2];
    int32_t data_type, rank, interleave, swizzle, l2, oob;
} fake_tmap;
#define FAKE_TMAP_MAGIC 0x50414d54454b4146ull /* "FAKETMAP" */

#endif
