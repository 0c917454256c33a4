/* CPU model of TMA for tests/emu (emu_tma.cpp): the tensor maps the harness's backend encodes
 * (its tensor_map_encode: the library's own checks and cuTensorMapEncodeTiled arguments,
 * qg_tmap_2d_valid / qg_tmap_2d_encode_args of src/runtime/tensormap.h, stored in the map's 128
 * bytes) and cp.async.bulk.tensor.2d loads from them that complete on the mbarriers of
 * emu_wgmma.cpp. */
#pragma once
#include <stdint.h>

/* What an emulated map's 128 bytes hold: the driver call's arguments (rank 2). */
struct emu_tmap {
    uint64_t magic;
    const uint8_t *base;
    uint64_t dim[2];
    uint64_t row_stride; /* bytes */
    uint32_t box[2], elem_strides[2];
    int data_type, interleave, swizzle, oob_fill; /* CUtensorMap* enum values */
};
#define EMU_TMAP_MAGIC 0x454d55544d415032ull /* "EMUTMAP2" */

/* cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
 * [dst], [map, {c0, c1}], [bar]. */
void emu_tma_load_2d(uint32_t dst, const void *map, int c0, int c1, uint32_t bar);
