/*
 * W4A16 on Hopper with CUTLASS's sm90 mixed-input GEMM (int4 x bf16, bf16 group scales),
 * compiled by NVRTC from the headers of the nvidia-cutlass package (never copied here).
 *
 * CUTLASS computes D[Mc x Nc] = A[Mc x K] * B[K x Nc] with the quantized operand as A (the RS
 * wgmma takes A from registers), so its problem is the transpose of ours:
 *   Mc = our N (weight rows), Nc = our M (tokens), A = the weight, K-major int4 (two's
 *   complement, low nibble first); B = our activations X[M x K] row-major, i.e. K-major;
 *   D = our Y[M x N] row-major, i.e. CUTLASS column-major; scales S[G x N]: S(n, g) at g*N + n.
 *
 * Three kernels:
 *   qg_cutlass_w4a16        the GEMM: GemmKernel::operator() with GemmKernel::Params as its
 *                           one (grid-constant) parameter, exactly what cutlass::device_kernel does;
 *   qg_cutlass_w4a16_probe  one thread that builds Arguments from qg_cutlass_probe_in and runs
 *                           GemmKernel::to_underlying_arguments ON THE DEVICE, writing the Params
 *                           bytes and the launch shape (qg_cutlass_probe_out). The host C code
 *                           then patches pointers and TMA descriptors into those bytes per call.
 *   qg_cutlass_w4a16_repack  our packed W4A16 (docs/formats.md, symmetric) -> CUTLASS's operands
 *                           in a scratch buffer: int4 K-major A (nibble u XOR 8: two's complement
 *                           q = u - 8, low nibble = even k) and scales S[g * N + n].
 *
 * TMA descriptors: under NVRTC cute's make_tma_copy_desc skips cuTensorMapEncodeTiled. The JIT
 * gives NVRTC cutlass_tma_recorder.cuh in place of cute/atom/copy_traits_sm90_tma.hpp: the real
 * header compiled as if not under NVRTC, its driver call writing its arguments (the "recipe")
 * into the 128 descriptor bytes. The host finds each recipe by its magic, encodes the real
 * descriptor with the real pointer (src/runtime/cutlass_params.c) and overwrites the recipe.
 */

#ifdef __CUDACC_RTC__
/* Names the sm90 kernel and epilogue headers take from the host std, missing under NVRTC. */
#include <cuda/std/type_traits>
namespace std {
using cuda::std::is_const_v;
using cuda::std::is_pointer_v;
using cuda::std::void_t;
} // namespace std
#endif

#include <cutlass/cutlass.h>
#include <cute/tensor.hpp>
#include <cutlass/numeric_types.h>
#include <cutlass/gemm/dispatch_policy.hpp>
#include <cutlass/gemm/collective/collective_builder.hpp>
#include <cutlass/epilogue/collective/collective_builder.hpp>
#include <cutlass/gemm/kernel/gemm_universal.hpp>

#include "cutlass_probe_abi.cuh"

#ifndef QG_TN
#define QG_TN 128 /* CUTLASS N tile: tokens per CTA tile */
#endif
#ifndef QG_COOP
#define QG_COOP 1 /* 1: cooperative (2 consumer warpgroups on one tile), 0: ping-pong */
#endif

using namespace cute;

using ElementW = cutlass::int4b_t;
using ElementScale = cutlass::bfloat16_t;
using ElementX = cutlass::bfloat16_t;
using ElementY = cutlass::bfloat16_t;
using ElementAcc = float;
using LayoutW = cutlass::layout::RowMajor;    /* Mc x K, K-major */
using LayoutX = cutlass::layout::ColumnMajor; /* K x Nc, K-major */
using LayoutY = cutlass::layout::ColumnMajor; /* Mc x Nc, Mc-major */
constexpr int kAlignW = 128 / cutlass::sizeof_bits<ElementW>::value;
constexpr int kAlignX = 128 / cutlass::sizeof_bits<ElementX>::value;
constexpr int kAlignY = 128 / cutlass::sizeof_bits<ElementY>::value;

using TileShape = Shape<_128, Int<QG_TN>, _64>;
using ClusterShape = Shape<_1, _1, _1>;
#if QG_COOP
using KernelSchedule = cutlass::gemm::KernelTmaWarpSpecializedCooperative;
using EpilogueSchedule = cutlass::epilogue::TmaWarpSpecializedCooperative;
#else
using KernelSchedule = cutlass::gemm::KernelTmaWarpSpecializedPingpong;
using EpilogueSchedule = cutlass::epilogue::TmaWarpSpecialized;
#endif

using CollectiveEpilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
    cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape,
    cutlass::epilogue::collective::EpilogueTileAuto, ElementAcc, ElementAcc, void, LayoutY,
    kAlignY, /* no C source: D = alpha * acc */
    ElementY, LayoutY, kAlignY, EpilogueSchedule>::CollectiveOp;

using CollectiveMainloop = typename cutlass::gemm::collective::CollectiveBuilder<
    cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, cute::tuple<ElementW, ElementScale>,
    LayoutW, kAlignW, ElementX, LayoutX, kAlignX, ElementAcc, TileShape, ClusterShape,
    cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(
        sizeof(typename CollectiveEpilogue::SharedStorage))>,
    KernelSchedule>::CollectiveOp;

using GemmKernel = cutlass::gemm::kernel::GemmUniversal<Shape<int, int, int, int>,
                                                        CollectiveMainloop, CollectiveEpilogue>;
using Params = typename GemmKernel::Params;

/* The Arguments of our problem (operand pointers as given: sentinels in the probe). Also used
 * by tests/cutlass_host_check (nvcc, host) to compare with CUTLASS's own host path. */
static typename GemmKernel::Arguments qg_cutlass_arguments(const qg_cutlass_probe_in &in) {
    const int64_t mc = in.n, nc = in.m, k = in.k, groups = in.k / in.group_size;
    typename GemmKernel::Arguments args{};
    args.mode = cutlass::gemm::GemmUniversalMode::kGemm;
    args.problem_shape = make_shape(int(mc), int(nc), int(k), 1);
    args.mainloop.ptr_A = reinterpret_cast<ElementW const *>(in.w);
    args.mainloop.dA = make_stride(k, _1{}, mc * k);
    args.mainloop.ptr_B = reinterpret_cast<ElementX const *>(in.x);
    args.mainloop.dB = make_stride(int64_t(in.lda), _1{}, int64_t(nc * in.lda));
    args.mainloop.ptr_S = reinterpret_cast<ElementScale const *>(in.scale);
    args.mainloop.dS = make_stride(_1{}, mc, mc * groups);
    args.mainloop.group_size = in.group_size;
    args.epilogue.thread.alpha = 1.0f;
    args.epilogue.thread.beta = 0.0f;
    args.epilogue.ptr_C = nullptr;
    args.epilogue.dC = make_stride(_1{}, int64_t(in.ldc), int64_t(nc * in.ldc));
    args.epilogue.ptr_D = reinterpret_cast<ElementY *>(in.y);
    args.epilogue.dD = make_stride(_1{}, int64_t(in.ldc), int64_t(nc * in.ldc));
    args.hw_info.device_id = 0;
    args.hw_info.sm_count = in.sm_count;
    return args;
}

/* Params and launch shape of `in` into out / params_bytes (what the probe kernel returns). */
static void qg_cutlass_probe_fill(const qg_cutlass_probe_in &in, qg_cutlass_probe_out *out,
                                  unsigned char *params_bytes) {
    const typename GemmKernel::Arguments args = qg_cutlass_arguments(in);
    out->implementable = GemmKernel::can_implement(args) ? 1 : 0;
    const Params params = GemmKernel::to_underlying_arguments(args, nullptr);
    const unsigned char *src = reinterpret_cast<const unsigned char *>(&params);
    for (unsigned i = 0; i < sizeof(Params) && i < in.params_capacity; i++)
        params_bytes[i] = src[i];
    const dim3 grid = GemmKernel::get_grid_shape(params);
    out->params_size = (unsigned)sizeof(Params);
    out->params_align = (unsigned)alignof(Params);
    out->smem_bytes = (unsigned)GemmKernel::SharedStorageSize;
    out->threads = (unsigned)GemmKernel::MaxThreadsPerBlock;
    out->grid[0] = grid.x;
    out->grid[1] = grid.y;
    out->grid[2] = grid.z;
    out->cluster[0] = (unsigned)size<0>(ClusterShape{});
    out->cluster[1] = (unsigned)size<1>(ClusterShape{});
    out->cluster[2] = (unsigned)size<2>(ClusterShape{});
    out->workspace_bytes = (unsigned long long)GemmKernel::get_workspace_size(args);
    out->magic = QG_CUTLASS_PROBE_MAGIC;
}

#ifndef QG_CUTLASS_HOST_CHECK
extern "C" __global__ void __launch_bounds__(GemmKernel::MaxThreadsPerBlock,
                                             GemmKernel::MinBlocksPerMultiprocessor)
    qg_cutlass_w4a16(CUTLASS_GRID_CONSTANT Params const params) {
    extern __shared__ char smem[];
    GemmKernel op;
    op(params, smem);
}

extern "C" __global__ void qg_cutlass_w4a16_probe(qg_cutlass_probe_in in, qg_cutlass_probe_out *out,
                                                  unsigned char *params_bytes) {
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    qg_cutlass_probe_fill(in, out, params_bytes);
}

/* One thread per 8 consecutive k of one weight row (one 32-bit word of A); the first N * G
 * threads also move one scale. Indices follow docs/formats.md, "Common definitions"; K is a
 * multiple of 64 (the family's rule), so Kp = K. */
extern "C" __global__ void qg_cutlass_w4a16_repack(const unsigned *__restrict__ w,
                                                   const unsigned short *__restrict__ scale,
                                                   unsigned *__restrict__ w_out,
                                                   unsigned short *__restrict__ scale_out, int n,
                                                   int k, int groups) {
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long words = (long long)n * (k / 8);
    const int ks = k / 16; /* k16 steps per slab row */
    if (i < words) {
        const int row = (int)(i / (k / 8)), k0 = (int)(i % (k / 8)) * 8;
        const int b = row / 64, j = (row % 64) / 16, h = (row % 16) / 8, g = row % 8;
        unsigned out = 0;
        for (int e8 = 0; e8 < 8; e8++) {
            const int col = k0 + e8, c = col / 32, r = col % 32, t = r / 8, s = (r % 8) / 4,
                      e = r % 4;
            const long long word = (((long long)b * ks + 2 * c + s) * 32 + 4 * g + t) * 4 + j;
            const int nibble = (e % 2) * 4 + h * 2 + e / 2;
            const unsigned u = (w[word] >> (4 * nibble)) & 15u;
            out |= (u ^ 8u) << (4 * e8);
        }
        w_out[i] = out;
    }
    if (i < (long long)n * groups) {
        const int grp = (int)(i / n), row = (int)(i % n);
        const int b = row / 64, j = (row % 64) / 16, h = (row % 16) / 8, g = row % 8;
        scale_out[i] = scale[(((long long)b * groups + grp) * 8 + g) * 8 + j * 2 + h];
    }
}
#endif
