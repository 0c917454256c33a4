/*
 * TMA, sm_90: a 2-D tile copy global -> shared described by a tensor map (CUtensorMap, built on
 * the host: tensormap.h) that completes bytes on an mbarrier (ptx_mbarrier.cuh), and the
 * prefetch of the map itself. [PTX ISA 9.7.9.25 "Data Movement and Conversion Instructions:
 * Asynchronous copy": cp.async.bulk.tensor;
 * https://docs.nvidia.com/cuda/parallel-thread-execution/#data-movement-and-conversion-instructions-cp-async-bulk-tensor
 * prefetch.tensormap: "prefetch, prefetchu",
 * https://docs.nvidia.com/cuda/parallel-thread-execution/#data-movement-and-conversion-instructions-prefetch-prefetchu]
 */
#pragma once

#include "qg_abi.cuh" /* qg_tensor_map: a CUtensorMap; its generic address is what the
                         instructions take */

/* The box at (c0 = innermost coordinate, c1 = row) -> shared address `dst`; its bytes complete
 * on the mbarrier at shared address `bar` (whose expect_tx announced them). */
QG_DEVICE void qg_tma_load_2d(uint32_t dst, const qg_tensor_map *map, int c0, int c1, uint32_t bar) {
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
                 " [%0], [%1, {%2, %3}], [%4];" ::"r"(dst),
                 "l"((uint64_t)map), "r"(c0), "r"(c1), "r"(bar)
                 : "memory");
}

/* Brings the map into the cache ahead of its first use. */
QG_DEVICE void qg_tma_prefetch_map(const qg_tensor_map *map) {
    asm volatile("prefetch.tensormap [%0];" ::"l"((uint64_t)map) : "memory");
}
