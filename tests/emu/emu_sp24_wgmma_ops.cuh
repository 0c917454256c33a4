/* Replaces sp24_wgmma.cu's sw_mma (its inline-PTX wgmma.mma_async.sp; run.sh cuts it out of a
 * copy of the kernel) for tests/emu: the sparse SS wgmma m64nNk32 (f16 / bf16 -> f32) or m64nNk64
 * (e4m3 -> f32, s8 -> s32), N = QG_TM, on the CPU engine of emu_wgmma.cpp. The metadata is
 * taken by reference: the engine reads the register when the operation executes (at its
 * wait_group) and reports it if it changed since issue. */
#include "emu_wgmma.h"
#if QG_DT == 1
#define SW_EMU_TYPE EMU_WG_F16
#elif QG_DT == 2
#define SW_EMU_TYPE EMU_WG_BF16
#elif QG_DT == 3
#define SW_EMU_TYPE EMU_WG_E4M3
#else
#define SW_EMU_TYPE EMU_WG_S8
#endif
template <int SEL>
QG_DEVICE void sw_mma(sw_acc_t (&d)[SW_NACC], uint64_t da, uint64_t db, const uint32_t &e,
                      int accumulate) {
#if QG_DT == 4
    emu_wgmma_mma_sp_s32(d, QG_TM, da, db, &e, SEL, accumulate, SW_EMU_TYPE);
#else
    emu_wgmma_mma_sp(d, QG_TM, da, db, &e, SEL, accumulate, SW_EMU_TYPE);
#endif
}
