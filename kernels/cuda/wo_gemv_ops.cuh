/*
 * Warp helpers of the weight-only decode GEMV (wo_gemv.cuh), in their own header so that the
 * CPU emulator (tests/emu/emu_wo_gemv_ops.cuh) can replace them; its loads are ptx_ld_st.cuh's.
 */
#pragma once

/* Lane `src`'s value of v (whole warp, converged). */
QG_DEVICE uint32_t qg_wogv_shfl(uint32_t v, int src) { return __shfl_sync(0xffffffffu, v, src); }
