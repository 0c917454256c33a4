/*
 * A fake libcublasLt for CPU tests (with tests/fake_cuda.c, whose device memory is host memory):
 * the symbols src/runtime/cublaslt.c dlsyms, enough to drive plans and launches of the cuBLASLt
 * families without a GPU. Tests point QGEMM_CUBLASLT_LIBRARY at it. It computes nothing; what it does:
 *  - the heuristic offers one algorithm per entry of FAKE_LT_WS (comma-separated workspace sizes
 *    in bytes, default "0,4096,1048579"), at most as many as asked for;
 *  - cublasLtMatmul refuses a workspace smaller than its algorithm's (as cuBLASLt does), counts
 *    the non-zero bytes of the workspace it was given (the shared workspace must arrive zero),
 *    then scribbles 0xa5 over the bytes its algorithm needs (as real scratch use would);
 *  - fake_cublaslt_stats() reports calls, the last workspace size passed, and the dirty bytes
 *    found on entry;
 *  - with fake_cublaslt_set_trace(fn), each matmul is also handed to fn as a fake_event
 *    (tests/fake_trace.h: pointers, the layouts' type/rows/cols/ld, transposes, epilogue, bias),
 *    which layouts and descriptors keep in their opaque storage for it.
 */
#include "fake_trace.h"

#include <cublasLt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

static size_t matmuls, last_ws_bytes, dirty_on_entry;
static void (*trace_fn)(const fake_event *);

EXPORT void fake_cublaslt_set_trace(void (*fn)(const fake_event *)) { trace_fn = fn; }

/* Where a descriptor keeps what the trace reports (attribute values below 30 at data[attr]). */
enum { DESC_COMPUTE = 30 };

/* out: matmul calls, workspace bytes of the last call, non-zero workspace bytes seen on entry. */
EXPORT void fake_cublaslt_stats(size_t out[3]) {
    out[0] = matmuls;
    out[1] = last_ws_bytes;
    out[2] = dirty_on_entry;
}

EXPORT cublasStatus_t cublasLtCreate(cublasLtHandle_t *h) {
    static int handle;
    *h = (cublasLtHandle_t)&handle;
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) {
    (void)h;
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT size_t cublasLtGetVersion(void) { return 130000; }

EXPORT const char *cublasLtGetStatusString(cublasStatus_t s) {
    return s == CUBLAS_STATUS_SUCCESS ? "success (fake)" : "failure (fake)";
}

EXPORT cublasStatus_t cublasLtMatmulDescInit_internal(cublasLtMatmulDesc_t d, size_t size,
                                                      cublasComputeType_t ct, cudaDataType_t st) {
    (void)st;
    memset(d, 0, size);
    d->data[DESC_COMPUTE] = (uint64_t)ct;
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d,
                                                     cublasLtMatmulDescAttributes_t a,
                                                     const void *buf, size_t bytes) {
    if (!buf || !bytes) return CUBLAS_STATUS_INVALID_VALUE;
    if ((int)a >= 0 && (int)a < DESC_COMPUTE) {
        uint64_t v = 0;
        memcpy(&v, buf, bytes < sizeof v ? bytes : sizeof v);
        d->data[a] = v;
    }
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasLtMatrixLayoutInit_internal(cublasLtMatrixLayout_t l, size_t size,
                                                        cudaDataType t, uint64_t rows,
                                                        uint64_t cols, int64_t ld) {
    memset(l, 0, size);
    l->data[0] = (uint64_t)t, l->data[1] = rows, l->data[2] = cols, l->data[3] = (uint64_t)ld;
    return ld >= (int64_t)rows ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}

EXPORT cublasStatus_t cublasLtMatmulPreferenceInit_internal(cublasLtMatmulPreference_t p,
                                                            size_t size) {
    memset(p, 0, size);
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                           cublasLtMatmulPreferenceAttributes_t a,
                                                           const void *buf, size_t bytes) {
    (void)p, (void)a;
    return buf && bytes ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}

EXPORT cublasStatus_t cublasLtMatmulAlgoGetHeuristic(
    cublasLtHandle_t h, cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t la, cublasLtMatrixLayout_t lb,
    cublasLtMatrixLayout_t lc, cublasLtMatrixLayout_t ld, cublasLtMatmulPreference_t pref,
    int requested, cublasLtMatmulHeuristicResult_t res[], int *count) {
    (void)h, (void)d, (void)la, (void)lb, (void)lc, (void)ld, (void)pref;
    const char *env = getenv("FAKE_LT_WS");
    const char *s = env && *env ? env : "0,4096,1048579";
    int n = 0;
    while (*s && n < requested) {
        char *end;
        const unsigned long long ws = strtoull(s, &end, 10);
        if (end == s) break;
        memset(&res[n], 0, sizeof res[n]);
        res[n].algo.data[0] = ws; /* what cublasLtMatmul will need */
        res[n].algo.data[1] = (uint64_t)n;
        res[n].workspaceSize = (size_t)ws;
        res[n].state = CUBLAS_STATUS_SUCCESS;
        res[n].wavesCount = 1.0f;
        n++;
        s = *end == ',' ? end + 1 : end;
    }
    *count = n;
    return n ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
}

EXPORT cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t d, const void *alpha,
                                     const void *a, cublasLtMatrixLayout_t la, const void *b,
                                     cublasLtMatrixLayout_t lb, const void *beta, const void *c,
                                     cublasLtMatrixLayout_t lc, void *out,
                                     cublasLtMatrixLayout_t lo, const cublasLtMatmulAlgo_t *algo,
                                     void *workspace, size_t ws_bytes, cudaStream_t stream) {
    (void)h, (void)alpha, (void)beta;
    const size_t need = (size_t)algo->data[0];
    if (need && (!workspace || ws_bytes < need)) return CUBLAS_STATUS_INVALID_VALUE;
    if (trace_fn) {
        const cublasLtMatrixLayout_t ls[4] = {la, lb, lc, lo};
        fake_layout fl[4];
        for (int i = 0; i < 4; i++)
            fl[i] = (fake_layout){ls[i]->data[0], ls[i]->data[1], ls[i]->data[2],
                                  (int64_t)ls[i]->data[3]};
        const fake_event e = {.kind = FAKE_EV_MATMUL,
                              .stream = stream,
                              .a = a,
                              .b = b,
                              .c = c,
                              .d = out,
                              .bias =
                                  (const void *)(uintptr_t)d->data[CUBLASLT_MATMUL_DESC_BIAS_POINTER],
                              .workspace = workspace,
                              .ws_bytes = ws_bytes,
                              .la = fl[0],
                              .lb = fl[1],
                              .lc = fl[2],
                              .ld = fl[3],
                              .transa = (int64_t)d->data[CUBLASLT_MATMUL_DESC_TRANSA],
                              .transb = (int64_t)d->data[CUBLASLT_MATMUL_DESC_TRANSB],
                              .epilogue = (int64_t)d->data[CUBLASLT_MATMUL_DESC_EPILOGUE],
                              .compute_type = (int64_t)d->data[DESC_COMPUTE]};
        trace_fn(&e);
    }
    matmuls++;
    last_ws_bytes = ws_bytes;
    const unsigned char *w = workspace;
    for (size_t i = 0; w && i < ws_bytes; i++) dirty_on_entry += w[i] != 0;
    if (need) memset(workspace, 0xa5, need);
    return CUBLAS_STATUS_SUCCESS;
}
