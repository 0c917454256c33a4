/*
 * TMA tensor maps (CUtensorMap) for kernels that load tiles with cp.async.bulk.tensor (sm_90+).
 * A map describes one 2-D global tensor and the box a TMA instruction copies; it embeds the
 * global address, so it is built on the host at launch time: 128 bytes on the stack, no
 * allocation, nothing that breaks CUDA graph capture. Kernels take it as a
 * `const __grid_constant__` parameter. Encoded by the backend (qg_backend_ops.tensor_map_encode;
 * CUDA: cuda_tensormap.c over the driver's cuTensorMapEncodeTiled).
 */
#ifndef QG_TENSORMAP_H
#define QG_TENSORMAP_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "../kernels/cuda/qg_abi.cuh" /* qg_tensor_map */

/* An encoded map (qg_tensor_map of kernels/cuda/qg_abi.cuh, one definition with the kernels):
 * opaque to the host, passed by value as a kernel parameter. */
/* A 2-D tiled map, dimension 0 innermost (contiguous). OOB elements of a box read as zeros. */
typedef struct {
    const void *base;    /* global address of element (0, 0); 16-byte aligned */
    uint64_t dim[2];     /* elements: dim[0] contiguous (1..2^32), dim[1] rows (1..2^32) */
    uint64_t row_stride; /* bytes between rows: multiple of 16, < 2^40 */
    uint32_t box[2];     /* box elements per dimension, 1..256; box[0]*elem_bytes % 16 == 0 */
    uint32_t elem_bytes; /* 1 (8-bit data), 2 or 4 */
    uint32_t swizzle;    /* smem swizzle span in bytes: 0, 32, 64 or 128 (box[0]*elem_bytes <=
                              span) */
} qg_tmap_2d;

/* 1 if `d` meets cuTensorMapEncodeTiled's documented rules (and ours: rows at least as long
 * as dim[0]); 0 with the broken rule in `why`. Pure: no driver. */
int qg_tmap_2d_valid(const qg_tmap_2d *d, char *why, size_t why_len);

/* The exact cuTensorMapEncodeTiled arguments for `d` (enums as their integer values). */
typedef struct {
    int data_type; /* CU_TENSOR_MAP_DATA_TYPE_UINT8/UINT16/UINT32 */
    uint32_t rank; /* 2 */
    void *global_address;
    uint64_t global_dim[2];
    uint64_t global_strides[1];
    uint32_t box_dim[2];
    uint32_t element_strides[2];
    int interleave, swizzle, l2_promotion, oob_fill;
} qg_tmap_encode_args;

void qg_tmap_2d_encode_args(const qg_tmap_2d *d, qg_tmap_encode_args *out);

/* CUDA backend entry (qg_backend_ops.tensor_map_encode). QG_ERR_INVALID_ARGUMENT for a map
 * the rules refuse, QG_ERR_DRIVER_TOO_OLD if libcuda lacks cuTensorMapEncodeTiled. */
qg_status qg_cuda_tensor_map_encode(qg_context *ctx, qg_tensor_map *map, const qg_tmap_2d *d);

/* Rank 1..5 cuTensorMapEncodeTiled arguments, as CUTLASS's descriptors need (the recipes of
 * cutlass_params.h). global_strides[i] is the byte stride of dimension i + 1. */
typedef struct {
    int data_type;
    uint32_t rank;
    void *global_address;
    uint64_t global_dim[5];
    uint64_t global_strides[4];
    uint32_t box_dim[5];
    uint32_t element_strides[5];
    int interleave, swizzle, l2_promotion, oob_fill;
} qg_tmap_encode_nd;

/* The driver's encode of `a` into `map`, as given (the driver checks the rules).
 * QG_ERR_INVALID_ARGUMENT if it refuses, QG_ERR_DRIVER_TOO_OLD without the symbol. CUDA only. */
qg_status qg_cuda_tensor_map_encode_nd(qg_context *ctx, qg_tensor_map *map,
                                       const qg_tmap_encode_nd *a);

#endif
