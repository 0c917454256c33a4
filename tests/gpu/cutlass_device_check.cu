/*
 * Where does w4a16_cutlass fault? A device-side cross-check, built by nvcc on the GPU machine
 * (test-only C++, like tests/cutlass_host_check.cu; tests/gpu/cutlass_device_check.sh builds it):
 *   E1  CUTLASS's own host path and launch (GemmUniversalAdapter, nvcc-compiled kernel) on the
 *       types of kernels/cutlass/w4a16_sm90_mixed.cu: does the configuration itself work here?
 *   E2  the NVRTC-compiled kernel qg_cutlass_w4a16 from qgemm's JIT cache (argv[1], a cubin)
 *       launched with the Params bytes of E1's host path: does the NVRTC kernel work?
 * qgemm's own path (probe + C binding, tests/gpu/gpu_cutlass) is E3. Both runs here compare with
 * a float64 CPU reference on random data in CUTLASS's operand layouts, output poisoned first.
 * With QGEMM_CUTLASS_TRACE=1, gpu_cutlass prints its plan; this prints the host path's Params
 * (hex) so that the two can be diffed.
 *   cutlass_device_check CUBIN [M N K GROUP]
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cmath>
#include <vector>
#include <cuda.h>
#include <cuda_runtime.h>
#include "cutlass/cutlass.h"
#include "cutlass/gemm/device/gemm_universal_adapter.h"

#define QG_CUTLASS_HOST_CHECK /* the types only: no qgemm kernels from the .cu */
#include "w4a16_sm90_mixed.cu"

#define CK(x)                                                                                     \
    do {                                                                                          \
        cudaError_t e_ = (x);                                                                     \
        if (e_ != cudaSuccess) {                                                                  \
            printf("CUDA error %s at %s:%d: %s\n", cudaGetErrorName(e_), __FILE__, __LINE__, #x); \
            exit(2);                                                                              \
        }                                                                                         \
    } while (0)
#define CU(x)                                                                     \
    do {                                                                          \
        CUresult r_ = (x);                                                        \
        if (r_ != CUDA_SUCCESS) {                                                 \
            const char *s_ = "?";                                                 \
            cuGetErrorName(r_, &s_);                                              \
            printf("driver error %s at %s:%d: %s\n", s_, __FILE__, __LINE__, #x); \
            exit(2);                                                              \
        }                                                                         \
    } while (0)

static float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

struct problem {
    int m, n, k, g;
    std::vector<uint8_t> w;  /* n x k int4, K-major, two's complement, low nibble = even k */
    std::vector<uint16_t> s; /* bf16 S[grp * n + row] */
    std::vector<uint16_t> x; /* bf16 [m][k] */
    std::vector<double> ref; /* [m][n] */
};

static problem make(int m, int n, int k, int g) {
    problem p{m, n, k, g, {}, {}, {}, {}};
    srand(1234);
    p.w.resize((size_t)n * k / 2);
    for (auto &b : p.w) b = (uint8_t)(rand() & 0xff);
    const int groups = k / g;
    p.s.resize((size_t)groups * n);
    for (auto &v : p.s) v = f32_to_bf16(ldexpf(0.5f + (rand() % 1000) / 1000.0f, -4));
    p.x.resize((size_t)m * k);
    for (auto &v : p.x) v = f32_to_bf16((rand() % 2001 - 1000) / 1000.0f);
    p.ref.assign((size_t)m * n, 0.0);
    for (int row = 0; row < n; row++)
        for (int kk = 0; kk < k; kk++) {
            const int byte = p.w[((size_t)row * k + kk) / 2];
            int q = (kk & 1) ? byte >> 4 : byte & 15;
            if (q >= 8) q -= 16;
            /* CUTLASS converts q to bf16 (exact) and scales in bf16: one rounding */
            const double wv = bf16_to_f32(
                f32_to_bf16((float)q * bf16_to_f32(p.s[(size_t)(kk / g) * n + row])));
            for (int i = 0; i < m; i++)
                p.ref[(size_t)i * n + row] += wv * bf16_to_f32(p.x[(size_t)i * k + kk]);
        }
    return p;
}

static int compare(const char *what, const problem &p, const std::vector<uint16_t> &y) {
    double num = 0, den = 0;
    int bad = 0;
    for (size_t i = 0; i < y.size(); i++) {
        const double v = bf16_to_f32(y[i]), r = p.ref[i];
        if (!std::isfinite(v)) {
            if (bad++ < 5)
                printf("  %s: non-finite at token %zu row %zu\n", what, i / p.n, i % p.n);
            continue;
        }
        num += (v - r) * (v - r);
        den += r * r;
    }
    const double rel = sqrt(num / (den > 0 ? den : 1));
    const int ok = bad == 0 && rel < 1e-2;
    printf("%s M=%d N=%d K=%d g%d: rel L2 %.3g, %d non-finite: %s\n", what, p.m, p.n, p.k, p.g, rel,
           bad, ok ? "PASS" : "FAIL");
    return ok;
}

int main(int argc, char **argv) {
    const int m = argc > 5 ? atoi(argv[2]) : 77, n = argc > 5 ? atoi(argv[3]) : 520,
              k = argc > 5 ? atoi(argv[4]) : 1024, g = argc > 5 ? atoi(argv[5]) : 64;
    problem p = make(m, n, k, g);
    CK(cudaSetDevice(0));
    int sms = 0;
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    void *dw, *ds, *dx, *dy;
    CK(cudaMalloc(&dw, p.w.size()));
    CK(cudaMalloc(&ds, p.s.size() * 2));
    CK(cudaMalloc(&dx, p.x.size() * 2));
    CK(cudaMalloc(&dy, (size_t)m * n * 2));
    CK(cudaMemcpy(dw, p.w.data(), p.w.size(), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(ds, p.s.data(), p.s.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dx, p.x.data(), p.x.size() * 2, cudaMemcpyHostToDevice));

    qg_cutlass_probe_in in{};
    in.w = (uintptr_t)dw, in.x = (uintptr_t)dx, in.scale = (uintptr_t)ds, in.y = (uintptr_t)dy;
    in.lda = k, in.ldc = n, in.m = m, in.n = n, in.k = k, in.group_size = g, in.sm_count = sms;
    typename GemmKernel::Arguments args = qg_cutlass_arguments(in);
    using Adapter = cutlass::gemm::device::GemmUniversalAdapter<GemmKernel>;
    Adapter gemm;
    printf("sizeof(Params) %zu, SharedStorageSize %d, threads %d, can_implement %d\n",
           sizeof(Params), (int)GemmKernel::SharedStorageSize, (int)GemmKernel::MaxThreadsPerBlock,
           (int)(gemm.can_implement(args) == cutlass::Status::kSuccess));
    const size_t wsb = Adapter::get_workspace_size(args);
    void *ws = nullptr;
    if (wsb) CK(cudaMalloc(&ws, wsb));
    std::vector<uint16_t> y((size_t)m * n);
    int fails = 0;

    /* E1: CUTLASS's own path */
    CK(cudaMemset(dy, 0xff, (size_t)m * n * 2));
    if (gemm.initialize(args, ws) != cutlass::Status::kSuccess) {
        printf("E1: initialize failed\n");
        return 1;
    }
    const cutlass::Status st = gemm.run();
    const cudaError_t e1 = cudaDeviceSynchronize();
    printf("E1 run: status %d, sync %s\n", (int)st, cudaGetErrorName(e1));
    if (e1 != cudaSuccess) return 1; /* the context is gone */
    CK(cudaMemcpy(y.data(), dy, y.size() * 2, cudaMemcpyDeviceToHost));
    fails += !compare("E1 CUTLASS adapter", p, y);

    /* The host path's Params (real descriptors), dumped for a diff with qgemm's plan. */
    const Params params = GemmKernel::to_underlying_arguments(args, ws);
    const dim3 grid = GemmKernel::get_grid_shape(params);
    printf("host Params: grid %u x %u x %u; bytes (hex, 16 per line, pointers/descriptors differ "
           "per run):\n",
           grid.x, grid.y, grid.z);
    const unsigned char *pb = reinterpret_cast<const unsigned char *>(&params);
    for (size_t i = 0; i < sizeof(Params); i += 16) {
        printf("  %04zx:", i);
        for (size_t j = i; j < i + 16 && j < sizeof(Params); j++) printf(" %02x", pb[j]);
        printf("\n");
    }

    /* E2: the NVRTC kernel with these Params */
    if (argc > 1 && argv[1][0]) {
        CUmodule mod;
        CUfunction fn;
        /* qgemm's disk cache: a 32-byte header ("QGJC", version, key, size, hash), then the cubin */
        FILE *f = fopen(argv[1], "rb");
        if (!f) {
            printf("E2: cannot open %s\n", argv[1]);
            return 1;
        }
        std::vector<char> img;
        char buf[65536];
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, f)) > 0) img.insert(img.end(), buf, buf + got);
        fclose(f);
        const size_t skip = img.size() > 32 && memcmp(img.data(), "QGJC", 4) == 0 ? 32 : 0;
        CU(cuModuleLoadData(&mod, img.data() + skip));
        CU(cuModuleGetFunction(&fn, mod, "qg_cutlass_w4a16"));
        const int smem = (int)GemmKernel::SharedStorageSize;
        CU(cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem));
        size_t psize = 0, poff = 0;
        CU(cuFuncGetParamInfo(fn, 0, &poff, &psize));
        printf("E2: NVRTC kernel's parameter: %zu bytes at offset %zu (nvcc Params: %zu)\n", psize,
               poff, sizeof(Params));
        CK(cudaMemset(dy, 0xff, (size_t)m * n * 2));
        Params copy = params;
        void *kargs[] = {&copy};
        CU(cuLaunchKernel(fn, grid.x, grid.y, grid.z, GemmKernel::MaxThreadsPerBlock, 1, 1, smem, 0,
                          kargs, nullptr));
        const cudaError_t e2 = cudaDeviceSynchronize();
        printf("E2 run: sync %s\n", cudaGetErrorName(e2));
        if (e2 != cudaSuccess) return 1;
        CK(cudaMemcpy(y.data(), dy, y.size() * 2, cudaMemcpyDeviceToHost));
        fails += !compare("E2 NVRTC kernel + host Params", p, y);
    } else {
        printf("E2: skipped (no cubin given)\n");
    }
    printf("cutlass_device_check: %s\n", fails ? "FAILED" : "passed");
    return fails != 0;
}
