/*
 * Cross-check of "Params by probe" against CUTLASS's own host path, on the CPU (no GPU): nvcc
 * compiles kernels/cutlass/w4a16_sm90_mixed.cu as host code (QG_CUTLASS_HOST_CHECK: no kernels)
 * and runs the probe's body, qg_cutlass_probe_fill, with CUTLASS's real host path
 * (GemmKernel::to_underlying_arguments, cute's make_tma_copy_desc) whose driver encode is
 * replaced by the same recipe recorder as under NVRTC. qgemm's C decoder
 * (src/runtime/cutlass_params.c) must then find one recipe per operand at the addresses given, with
 * dimensions and byte strides that follow from the problem, and the launch must fit.
 * Test-only C++ (like tests/emu); run by tests/cutlass_host_check.sh.
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <cuda.h>
#include "cutlass/cutlass.h"
#include "cutlass/cuda_host_adapter.hpp"
#include "cutlass_probe_abi.cuh" /* C++ parts outside extern "C" (the guard keeps it once) */
#define _Alignas(n) alignas(n)   /* the C11 spelling in qgemm's headers */
extern "C" {
#include "cutlass_params.h"
}

static CUresult qg_record_tensor_map(CUtensorMap *desc, CUtensorMapDataType dtype, cuuint32_t rank,
                                     void *address, const cuuint64_t *dims, const cuuint64_t *strides,
                                     const cuuint32_t *box, const cuuint32_t *es,
                                     CUtensorMapInterleave il, CUtensorMapSwizzle sw,
                                     CUtensorMapL2promotion l2, CUtensorMapFloatOOBfill oob) {
    qg_tma_recipe_write(desc, dtype, rank, address, dims, strides, box, es, il, sw, l2, oob);
    return CUDA_SUCCESS;
}
#undef CUTLASS_CUDA_DRIVER_WRAPPER_CALL
#define CUTLASS_CUDA_DRIVER_WRAPPER_CALL(func) qg_record_tensor_map

#define QG_CUTLASS_HOST_CHECK
#include "w4a16_sm90_mixed.cu"

static int failures;
#define CHECK(cond, ...)                        \
    do {                                        \
        if (!(cond)) {                          \
            failures++;                         \
            printf("FAIL line %d: ", __LINE__); \
            printf(__VA_ARGS__);                \
            printf("\n");                       \
        }                                       \
    } while (0)

static void run(int m, int n, int k, int group, long long lda, long long ldc) {
    qg_cutlass_probe_in in{};
    in.w = qg_cutlass_sentinel(QG_CUTLASS_OP_W);
    in.x = qg_cutlass_sentinel(QG_CUTLASS_OP_X);
    in.scale = qg_cutlass_sentinel(QG_CUTLASS_OP_SCALE);
    in.y = qg_cutlass_sentinel(QG_CUTLASS_OP_Y);
    in.m = m, in.n = n, in.k = k, in.group_size = group ? group : k;
    in.lda = lda, in.ldc = ldc, in.sm_count = 132, in.params_capacity = QG_CUTLASS_MAX_PARAMS;
    static unsigned char bytes[QG_CUTLASS_MAX_PARAMS];
    qg_cutlass_probe_out out{};
    qg_cutlass_probe_fill(in, &out, bytes);
    static qg_cutlass_plan plan;
    const qg_status s = qg_cutlass_plan_decode(NULL, &out, bytes, 15u, &plan);
    printf("M=%d N=%d K=%d g%d lda=%lld ldc=%lld: Params %u bytes, smem %u, %u threads, grid %u x %u "
           "x %u, %d recipes, %d pointer fields\n",
           m, n, k, group, lda, ldc, out.params_size, out.smem_bytes, out.threads, out.grid[0],
           out.grid[1], out.grid[2], plan.num_tma, plan.num_ptrs);
    CHECK(s == QG_SUCCESS, "decode: %s", qg_last_error(NULL));
    if (s != QG_SUCCESS) return;
    CHECK(out.smem_bytes <= 232448 - 1024 && out.threads == 384, "launch shape");
    const long long groups = k / in.group_size;
    /* expected: {dim0, dim1, byte stride of dim 1} per operand, dtype */
    const unsigned long long want[4][3] = {
        {(unsigned long long)k / 2, (unsigned long long)n, (unsigned long long)k / 2}, /* int4 as bytes */
        {(unsigned long long)k, (unsigned long long)m, (unsigned long long)lda * 2},
        {(unsigned long long)n, (unsigned long long)groups, (unsigned long long)n * 2},
        {(unsigned long long)n, (unsigned long long)m, (unsigned long long)ldc * 2}};
    int seen[4] = {0, 0, 0, 0};
    for (int i = 0; i < plan.num_tma; i++) {
        const qg_tma_recipe *r = &plan.tma[i].recipe;
        const int op = plan.tma[i].at.operand;
        seen[op]++;
        printf("  operand %d at byte %u: dtype %u rank %u dims %llu x %llu x %llu, stride %llu, box "
               "%u x %u, swizzle %u\n",
               op, plan.tma[i].at.offset, r->dtype, r->rank, r->dims[0], r->dims[1], r->dims[2],
               r->strides[0], r->box[0], r->box[1], r->swizzle);
        CHECK(plan.tma[i].at.delta == 0 && r->dims[0] == want[op][0] && r->dims[1] == want[op][1] &&
                  (want[op][1] == 1 || r->strides[0] == want[op][2]),
              "operand %d: dims %llu x %llu stride %llu, want %llu x %llu stride %llu", op,
              r->dims[0], r->dims[1], r->strides[0], want[op][0], want[op][1], want[op][2]);
    }
    for (int op = 0; op < 4; op++) CHECK(seen[op] == 1, "operand %d: %d recipes", op, seen[op]);
}

int main() {
    run(128, 4096, 4096, 128, 4096, 4096);
    run(77, 520, 1024, 64, 1024, 520);
    run(200, 768, 512, 0, 520, 776);
    run(1, 256, 256, 128, 256, 256);
    printf("cutlass_host_check: %s (%d failures)\n", failures ? "FAILED" : "passed", failures);
    return failures != 0;
}
