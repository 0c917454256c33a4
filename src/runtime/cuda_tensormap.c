/*
 * TMA tensor maps on CUDA: the rules of cuTensorMapEncodeTiled checked here first (so a refused
 * map says which rule, instead of CUDA_ERROR_INVALID_VALUE), then the driver call. The symbol
 * comes from the libcuda the backend already opened (cuda_backend.c); it exists since CUDA
 * 12.0, and an older driver gets QG_ERR_DRIVER_TOO_OLD. Encoding needs no context and touches
 * no device memory: safe inside stream capture.
 */
#include "backend.h"
#include "tensormap.h"

#include <cuda.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

int qg_tmap_2d_valid(const qg_tmap_2d *d, char *why, size_t why_len) {
#define BAD(...)                             \
    do {                                     \
        snprintf(why, why_len, __VA_ARGS__); \
        return 0;                            \
    } while (0)
    if (!d) BAD("tensor map description is NULL");
    if (d->elem_bytes != 1 && d->elem_bytes != 2 && d->elem_bytes != 4)
        BAD("element size %u is not 1, 2 or 4 bytes", d->elem_bytes);
    if (!d->base || ((uintptr_t)d->base & 15))
        BAD("global address %p is not 16-byte aligned", d->base);
    for (int i = 0; i < 2; i++) {
        if (d->dim[i] == 0 || d->dim[i] > ((uint64_t)1 << 32))
            BAD("dimension %d is %llu (must be 1..2^32)", i, (unsigned long long)d->dim[i]);
        if (d->box[i] == 0 || d->box[i] > 256)
            BAD("box dimension %d is %u (must be 1..256)", i, d->box[i]);
    }
    if (d->row_stride % 16 || d->row_stride >= ((uint64_t)1 << 40))
        BAD("row stride %llu bytes is not a multiple of 16 below 2^40",
            (unsigned long long)d->row_stride);
    if (d->row_stride < d->dim[0] * d->elem_bytes)
        BAD("row stride %llu bytes is shorter than a row (%llu bytes)",
            (unsigned long long)d->row_stride, (unsigned long long)(d->dim[0] * d->elem_bytes));
    const uint32_t inner = d->box[0] * d->elem_bytes;
    if (inner % 16) BAD("box inner dimension (%u bytes) is not a multiple of 16", inner);
    if (d->swizzle != 0 && d->swizzle != 32 && d->swizzle != 64 && d->swizzle != 128)
        BAD("swizzle span %u is not 0, 32, 64 or 128 bytes", d->swizzle);
    if (d->swizzle && inner > d->swizzle)
        BAD("box inner dimension (%u bytes) exceeds the %u-byte swizzle span", inner, d->swizzle);
    return 1;
#undef BAD
}

void qg_tmap_2d_encode_args(const qg_tmap_2d *d, qg_tmap_encode_args *out) {
    memset(out, 0, sizeof *out);
    out->data_type = d->elem_bytes == 1   ? CU_TENSOR_MAP_DATA_TYPE_UINT8
                     : d->elem_bytes == 2 ? CU_TENSOR_MAP_DATA_TYPE_UINT16
                                          : CU_TENSOR_MAP_DATA_TYPE_UINT32;
    out->rank = 2;
    out->global_address = (void *)(uintptr_t)d->base;
    out->global_dim[0] = d->dim[0];
    out->global_dim[1] = d->dim[1];
    out->global_strides[0] = d->row_stride;
    out->box_dim[0] = d->box[0];
    out->box_dim[1] = d->box[1];
    out->element_strides[0] = out->element_strides[1] = 1;
    out->interleave = CU_TENSOR_MAP_INTERLEAVE_NONE;
    out->swizzle = d->swizzle == 128  ? CU_TENSOR_MAP_SWIZZLE_128B
                   : d->swizzle == 64 ? CU_TENSOR_MAP_SWIZZLE_64B
                   : d->swizzle == 32 ? CU_TENSOR_MAP_SWIZZLE_32B
                                      : CU_TENSOR_MAP_SWIZZLE_NONE;
    /* fetch whole 256-byte L2 lines from DRAM: every tile row is 128+ contiguous bytes */
    out->l2_promotion = CU_TENSOR_MAP_L2_PROMOTION_L2_256B;
    out->oob_fill = CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE; /* out-of-bounds elements are zeros */
}

static pthread_once_t encode_once = PTHREAD_ONCE_INIT;
static __typeof__(&cuTensorMapEncodeTiled) encode_fn;

static void find_encode(void) {
    encode_fn = (__typeof__(&cuTensorMapEncodeTiled))qg_cuda_driver_symbol("cuTensorMapEncodeTiled");
}

qg_status qg_cuda_tensor_map_encode(qg_context *ctx, qg_tensor_map *map, const qg_tmap_2d *d) {
    QG_RETURN_IF(ctx, !map || !d, QG_ERR_NULL_POINTER, "tensor map: NULL argument");
    char why[160];
    QG_RETURN_IF(ctx, !qg_tmap_2d_valid(d, why, sizeof why), QG_ERR_INVALID_ARGUMENT,
                 "tensor map: %s", why);
    pthread_once(&encode_once, find_encode);
    QG_RETURN_IF(ctx, !encode_fn, QG_ERR_DRIVER_TOO_OLD,
                 "the CUDA driver has no cuTensorMapEncodeTiled (TMA needs CUDA 12.0+)");
    qg_tmap_encode_args a;
    qg_tmap_2d_encode_args(d, &a);
    /* CUtensorMap is 128 opaque bytes, 64-byte aligned for the driver (qg_abi.cuh) */
    _Static_assert(sizeof(qg_tensor_map) == sizeof(CUtensorMap), "tensor map size");
    const CUresult r = encode_fn((CUtensorMap *)(void *)map, (CUtensorMapDataType)a.data_type,
                                 a.rank, a.global_address, a.global_dim, a.global_strides,
                                 a.box_dim, a.element_strides, (CUtensorMapInterleave)a.interleave,
                                 (CUtensorMapSwizzle)a.swizzle,
                                 (CUtensorMapL2promotion)a.l2_promotion,
                                 (CUtensorMapFloatOOBfill)a.oob_fill);
    QG_RETURN_IF(ctx, r != CUDA_SUCCESS, QG_ERR_INVALID_ARGUMENT,
                 "cuTensorMapEncodeTiled refused a %llux%llu map at %p (row stride %llu, box "
                 "%ux%u): CUresult %d",
                 (unsigned long long)d->dim[0], (unsigned long long)d->dim[1], d->base,
                 (unsigned long long)d->row_stride, d->box[0], d->box[1], (int)r);
    return QG_SUCCESS;
}

qg_status qg_cuda_tensor_map_encode_nd(qg_context *ctx, qg_tensor_map *map,
                                       const qg_tmap_encode_nd *a) {
    QG_RETURN_IF(ctx, !map || !a, QG_ERR_NULL_POINTER, "tensor map: NULL argument");
    QG_RETURN_IF(ctx, a->rank < 1 || a->rank > 5, QG_ERR_INVALID_ARGUMENT,
                 "tensor map: rank %u is not 1..5", a->rank);
    pthread_once(&encode_once, find_encode);
    QG_RETURN_IF(ctx, !encode_fn, QG_ERR_DRIVER_TOO_OLD,
                 "the CUDA driver has no cuTensorMapEncodeTiled (TMA needs CUDA 12.0+)");
    const CUresult r = encode_fn((CUtensorMap *)(void *)map, (CUtensorMapDataType)a->data_type,
                                 a->rank, a->global_address, a->global_dim, a->global_strides,
                                 a->box_dim, a->element_strides,
                                 (CUtensorMapInterleave)a->interleave, (CUtensorMapSwizzle)a->swizzle,
                                 (CUtensorMapL2promotion)a->l2_promotion,
                                 (CUtensorMapFloatOOBfill)a->oob_fill);
    QG_RETURN_IF(ctx, r != CUDA_SUCCESS, QG_ERR_INVALID_ARGUMENT,
                 "cuTensorMapEncodeTiled refused a rank-%u map at %p (dims %llu x %llu, box "
                 "%u x %u, type %d): CUresult %d",
                 a->rank, a->global_address, (unsigned long long)a->global_dim[0],
                 (unsigned long long)a->global_dim[1], a->box_dim[0], a->box_dim[1], a->data_type,
                 (int)r);
    return QG_SUCCESS;
}
