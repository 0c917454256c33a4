/*
 * Makes cute's make_tma_copy_desc record its cuTensorMapEncodeTiled arguments under NVRTC.
 *
 * The JIT hands this file to NVRTC under the name "cute/atom/copy_traits_sm90_tma.hpp", so every
 * CUTLASS include of that header lands here (NVRTC's in-memory headers win over -I paths).
 * Under NVRTC (__CUDACC_RTC__) the real header skips cuTensorMapEncodeTiled and leaves every
 * descriptor blank. We include the real one (QG_CUTLASS_TMA_HEADER: the same file spelled through
 * the include directory's parent, so that the in-memory name does not catch it) with
 * __CUDACC_RTC__ undefined, after its dependencies were included normally (include guards keep
 * them NVRTC-shaped), and give it what its host path needs: cuda.h's enums, cute::TMA's enum
 * conversions, a sink for its error printing, and a "driver call" that writes a qg_tma_recipe
 * into the descriptor.
 */
#ifndef QG_CUTLASS_TMA_RECORDER_CUH /* #pragma once does not hold for in-memory headers */
#define QG_CUTLASS_TMA_RECORDER_CUH

#include "cutlass_probe_abi.cuh"

/* The real header's own includes, first, as NVRTC sees them. */
#include <cute/atom/copy_traits_sm90_tma_swizzle.hpp>
#include <cute/atom/copy_traits.hpp>
#include <cute/atom/copy_atom.hpp>
#include <cute/algorithm/prefetch.hpp>
#include <cute/numeric/integral_ratio.hpp>
#include <cutlass/cuda_host_adapter.hpp>

#define __cuda_cuda_h__ /* the real cuda.h is host-only: the names it would give follow */
typedef enum { CUDA_SUCCESS = 0 } CUresult;
typedef enum {
    CU_TENSOR_MAP_DATA_TYPE_UINT8 = 0,
    CU_TENSOR_MAP_DATA_TYPE_UINT16,
    CU_TENSOR_MAP_DATA_TYPE_UINT32,
    CU_TENSOR_MAP_DATA_TYPE_INT32,
    CU_TENSOR_MAP_DATA_TYPE_UINT64,
    CU_TENSOR_MAP_DATA_TYPE_INT64,
    CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
    CU_TENSOR_MAP_DATA_TYPE_FLOAT32,
    CU_TENSOR_MAP_DATA_TYPE_FLOAT64,
    CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
    CU_TENSOR_MAP_DATA_TYPE_FLOAT32_FTZ,
    CU_TENSOR_MAP_DATA_TYPE_TFLOAT32,
    CU_TENSOR_MAP_DATA_TYPE_TFLOAT32_FTZ
} CUtensorMapDataType;
typedef enum { CU_TENSOR_MAP_INTERLEAVE_NONE = 0 } CUtensorMapInterleave;
typedef enum {
    CU_TENSOR_MAP_SWIZZLE_NONE = 0,
    CU_TENSOR_MAP_SWIZZLE_32B,
    CU_TENSOR_MAP_SWIZZLE_64B,
    CU_TENSOR_MAP_SWIZZLE_128B
} CUtensorMapSwizzle;
typedef enum {
    CU_TENSOR_MAP_L2_PROMOTION_NONE = 0,
    CU_TENSOR_MAP_L2_PROMOTION_L2_64B,
    CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
    CU_TENSOR_MAP_L2_PROMOTION_L2_256B
} CUtensorMapL2promotion;
typedef enum { CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE = 0 } CUtensorMapFloatOOBfill;

namespace cute::TMA {
/* The host-only conversions of copy_sm90_desc.hpp, for the types a GEMM's TMA moves. */
template <class T> CUTE_HOST_DEVICE CUtensorMapDataType to_CUtensorMapDataType() {
    if constexpr (sizeof_bits_v<T> == 8) return CU_TENSOR_MAP_DATA_TYPE_UINT8;
    else if constexpr (is_same_v<T, bfloat16_t>) return CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
    else if constexpr (is_same_v<T, half_t>) return CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
    else if constexpr (is_same_v<T, float>) return CU_TENSOR_MAP_DATA_TYPE_FLOAT32;
    else if constexpr (is_same_v<T, uint16_t>) return CU_TENSOR_MAP_DATA_TYPE_UINT16;
    else if constexpr (is_same_v<T, uint32_t>) return CU_TENSOR_MAP_DATA_TYPE_UINT32;
    else if constexpr (is_same_v<T, int32_t>) return CU_TENSOR_MAP_DATA_TYPE_INT32;
    else if constexpr (is_same_v<T, uint64_t>) return CU_TENSOR_MAP_DATA_TYPE_UINT64;
    else if constexpr (is_same_v<T, int64_t>) return CU_TENSOR_MAP_DATA_TYPE_INT64;
    else static_assert(sizeof(T) < 0, "qgemm's TMA recorder: unknown TMA format");
}
CUTE_HOST_DEVICE CUtensorMapSwizzle to_CUtensorMapSwizzle(SmemSwizzleBits const &t,
                                                          SmemSwizzleBase const &) {
    switch (t) {
    case SmemSwizzleBits::B32: return CU_TENSOR_MAP_SWIZZLE_32B;
    case SmemSwizzleBits::B64: return CU_TENSOR_MAP_SWIZZLE_64B;
    case SmemSwizzleBits::B128: return CU_TENSOR_MAP_SWIZZLE_128B;
    default: return CU_TENSOR_MAP_SWIZZLE_NONE;
    }
}
} // namespace cute::TMA

namespace std {
/* The failure branch prints with std::cerr; a recorder never fails, so printing goes nowhere. */
struct qg_null_stream {
    template <class T>
    __host__ __device__ constexpr const qg_null_stream &operator<<(const T &) const {
        return *this;
    }
};
__device__ constexpr qg_null_stream cerr{};
__device__ constexpr qg_null_stream endl{};
} // namespace std

/* Stands in for the driver's cuTensorMapEncodeTiled: the recipe goes into the descriptor. */
__host__ __device__ inline CUresult
qg_record_tensor_map(void *desc, CUtensorMapDataType dtype, unsigned rank, void *address,
                     const unsigned long long *dims, const unsigned long long *strides,
                     const unsigned *box, const unsigned *element_strides,
                     CUtensorMapInterleave interleave, CUtensorMapSwizzle swizzle,
                     CUtensorMapL2promotion l2, CUtensorMapFloatOOBfill oob) {
    qg_tma_recipe_write(desc, dtype, rank, address, dims, strides, box, element_strides, interleave,
                        swizzle, l2, oob);
    return CUDA_SUCCESS;
}
#undef CUTLASS_CUDA_DRIVER_WRAPPER_CALL
#define CUTLASS_CUDA_DRIVER_WRAPPER_CALL(func) qg_record_tensor_map

/* NVRTC knows no push_macro: it defines __CUDACC_RTC__ as 1, which we restore. */
#undef __CUDACC_RTC__
#include QG_CUTLASS_TMA_HEADER
#define __CUDACC_RTC__ 1

#endif
