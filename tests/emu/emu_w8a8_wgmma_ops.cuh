/* Emulated kernels/cuda/w8a8_wgmma_ops.cuh for tests/emu (host C++): the 8-bit SS wgmma
 * m64nNk32 (s8 -> s32 for QG_AT == 2, e4m3 -> f32 otherwise) on the CPU engine of
 * emu_wgmma.cpp. */
#pragma once
#include "emu_wgmma.h"
#if QG_AT == 2
typedef int qg_w8wg_acc_t;
#define QG_W8WG_EMU(n)                                                                    \
    QG_DEVICE void wg_mma_n##n(qg_w8wg_acc_t *d, uint64_t da, uint64_t db, int scale_d) { \
        emu_wgmma_mma_s32(d, n, da, db, scale_d, EMU_WG_S8);                              \
    }
#else
typedef float qg_w8wg_acc_t;
#define QG_W8WG_EMU(n)                                                                    \
    QG_DEVICE void wg_mma_n##n(qg_w8wg_acc_t *d, uint64_t da, uint64_t db, int scale_d) { \
        emu_wgmma_mma(d, n, da, db, scale_d, EMU_WG_E4M3, 0, 0);                          \
    }
#endif
QG_W8WG_EMU(64)
QG_W8WG_EMU(128)
QG_W8WG_EMU(192)
QG_W8WG_EMU(256)
