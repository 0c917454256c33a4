/*
 * Given to NVRTC under the name "cutlass/kernel_hardware_info.h" (an in-memory header wins over
 * the -I path). Under NVRTC the real header drops KernelHardwareInfo's static queries, yet the
 * sm90 kernels' to_underlying_arguments names query_device_multiprocessor_count (in a branch our
 * probe never takes: it always passes sm_count). Same data members as the real header.
 */
#ifndef QG_CUTLASS_HW_INFO_CUH
#define QG_CUTLASS_HW_INFO_CUH

#include "cutlass/device_kernel.h"
#include <cute/int_tuple.hpp>

namespace cutlass {

struct KernelHardwareInfo {
    int device_id = 0;
    int sm_count = 0;
    int max_active_clusters = 0;
    dim3 cluster_shape = {0, 0, 0};
    dim3 cluster_shape_fallback = {0, 0, 0};

    /* 0 makes the persistent scheduler's grid empty: a probe that forgot sm_count shows up. */
    static int query_device_multiprocessor_count(int = 0) { return 0; }
};

} // namespace cutlass

#endif
