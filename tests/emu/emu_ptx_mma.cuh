/* Emulated kernels/cuda/ptx_mma.cuh for tests/emu (host C++): the 8-bit mma.sync m16n8k32 on
 * the models of emu_mma.cpp. (The 16-bit m16n8k16 of the weight-only kernels is
 * emu_int4_dequant.cuh's qg_mma_16816.) And the 2:4 sparse mma.sp forms. */
#pragma once
#include "emu_mma.h"
QG_DEVICE void qg_mma_m16n8k32_s8(int d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    emu_mma_m16n8k32_s8(d, a, b0, b1);
}
QG_DEVICE void qg_mma_m16n8k32_e4m3(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    emu_mma_m16n8k32_e4m3(d, a, b0, b1);
}
template <int SEL>
QG_DEVICE void qg_mma_sp_m16n8k32_bf16(float (&d)[4], const uint32_t (&a)[4],
                                       const uint32_t (&b)[4], uint32_t e) {
    emu_mma_sp_16bit(d, a, b, e, SEL, EMU_MMA_BF16);
}
template <int SEL>
QG_DEVICE void qg_mma_sp_m16n8k32_f16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4],
                                      uint32_t e) {
    emu_mma_sp_16bit(d, a, b, e, SEL, EMU_MMA_F16);
}
QG_DEVICE void qg_mma_sp_m16n8k64_e4m3(float (&d)[4], const uint32_t (&a)[4],
                                       const uint32_t (&b)[4], uint32_t e) {
    emu_mma_sp_m16n8k64_e4m3(d, a, b, e);
}
QG_DEVICE void qg_mma_sp_m16n8k64_s8(int (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4],
                                     uint32_t e) {
    emu_mma_sp_m16n8k64_s8(d, a, b, e);
}
