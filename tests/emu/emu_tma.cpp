/*
 * TMA for tests/emu: cp.async.bulk.tensor.2d (tile mode) from an emulated tensor map, written
 * from the PTX ISA (9.1) and the driver's cuTensorMapEncodeTiled documentation, not from the
 * kernels:
 *  - the box [5.5.3 "Tiled mode"]: elements (c0 + i, c1 + j), i < box[0], j < box[1], of the
 *    tensor at `base` (dim[0] contiguous elements, rows row_stride bytes apart); elements
 *    outside the tensor (either coordinate < 0 or >= dim) are zeros (OOB fill NONE) or NaN
 *    (NAN_REQUEST_ZERO_FMA, not emulated: reported); traversal strides other than 1 and
 *    interleaved layouts are reported, not emulated;
 *  - the destination [5.5.7 "Swizzling modes"]: box row j at dst + j * box[0] * elem bytes; with
 *    a swizzle of S bytes (32/64/128) each 16-byte unit at shared address a goes to
 *    a ^ (((a >> 7) & (S/16 - 1)) << 4), i.e. the pattern is anchored on the shared address (the
 *    ISA's base offset (dst / 128) % (S/16) for a dst off the 256/512/1024-byte boundary), the
 *    same rule as the wgmma descriptors of emu_wgmma.cpp; a swizzled box row must be exactly S
 *    bytes (other widths are reported, not emulated); dst must be 128-byte aligned;
 *  - completion: the box's bytes complete_tx on the mbarrier (emu_mbar_async_copy: they land
 *    when a waiter needs them, the destination reads as garbage until then).
 * One thread issues a copy (no .sync): any thread may call this.
 */
#include "emu_tma.h"
#include "emu_rt.h"
#include "emu_wgmma.h"

#include <cuda.h> /* the CUtensorMap* enum values the harness stored */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <vector>

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "EMU TMA (thread %u, CTA %u): ", threadIdx.x, blockIdx.x);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    __atomic_fetch_add(&emu_wgmma_errors, 1, __ATOMIC_SEQ_CST);
}

static int elem_bytes(int data_type) {
    switch (data_type) {
    case CU_TENSOR_MAP_DATA_TYPE_UINT8: return 1;
    case CU_TENSOR_MAP_DATA_TYPE_UINT16: return 2;
    case CU_TENSOR_MAP_DATA_TYPE_UINT32: return 4;
    default: return 0;
    }
}

static int swizzle_bytes(int swizzle) {
    switch (swizzle) {
    case CU_TENSOR_MAP_SWIZZLE_NONE: return 0;
    case CU_TENSOR_MAP_SWIZZLE_32B: return 32;
    case CU_TENSOR_MAP_SWIZZLE_64B: return 64;
    case CU_TENSOR_MAP_SWIZZLE_128B: return 128;
    default: return -1;
    }
}

void emu_tma_load_2d(uint32_t dst, const void *map, int c0, int c1, uint32_t bar) {
    emu_tmap t;
    memcpy(&t, map, sizeof t);
    if (t.magic != EMU_TMAP_MAGIC) {
        fail("cp.async.bulk.tensor: the map at %p is not an encoded tensor map", map);
        return;
    }
    const int eb = elem_bytes(t.data_type), sw = swizzle_bytes(t.swizzle);
    if (!eb || sw < 0 || t.interleave != CU_TENSOR_MAP_INTERLEAVE_NONE ||
        t.oob_fill != CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE || t.elem_strides[0] != 1 ||
        t.elem_strides[1] != 1) {
        fail("cp.async.bulk.tensor: map data type %d / swizzle %d (or interleave, OOB NaN fill, "
             "traversal strides) not emulated",
             t.data_type, t.swizzle);
        return;
    }
    const uint32_t row_bytes = t.box[0] * (uint32_t)eb, bytes = row_bytes * t.box[1];
    if (dst % 128) {
        fail("cp.async.bulk.tensor: shared destination 0x%x is not 128-byte aligned", dst);
        return;
    }
    if (sw && row_bytes != (uint32_t)sw) {
        fail("cp.async.bulk.tensor: a %u-byte box row with a %d-byte swizzle is not emulated",
             row_bytes, sw);
        return;
    }
    std::vector<uint8_t> box(bytes, 0); /* in shared-memory order, from dst */
    for (uint32_t j = 0; j < t.box[1]; j++) {
        const int64_t y = (int64_t)c1 + j;
        for (uint32_t i = 0; i < t.box[0]; i++) {
            const int64_t x = (int64_t)c0 + i;
            uint32_t a = dst + j * row_bytes + i * (uint32_t)eb; /* unswizzled shared address */
            if (sw) a ^= ((a >> 7) & (uint32_t)(sw / 16 - 1)) << 4;
            uint8_t *out = &box[a - dst];
            if (x < 0 || y < 0 || (uint64_t)x >= t.dim[0] || (uint64_t)y >= t.dim[1]) continue;
            memcpy(out, t.base + (uint64_t)y * t.row_stride + (uint64_t)x * (uint64_t)eb, (size_t)eb);
        }
    }
    emu_mbar_async_copy(bar, dst, box.data(), bytes);
}
