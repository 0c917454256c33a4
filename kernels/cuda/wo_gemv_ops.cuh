/*
 * Memory and warp helpers of the weight-only decode GEMV (wo_gemv.cuh), in their own header so
 * that the CPU emulator (tests/emu/emu_wo_gemv_ops.cuh) can replace them.
 */
#pragma once

/* 16-byte weight load: read once, so no L1 allocation and evict-first in L2 (activations,
 * scales and split-K partials stay there). `pol` comes from qg_l2_evict_first(). */
QG_DEVICE qg_u32x4 qg_wogv_ld_weight(const void *p, uint64_t pol) {
    qg_u32x4 r;
    asm volatile("ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%0,%1,%2,%3}, [%4], %5;"
                 : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
                 : "l"(p), "l"(pol));
    return r;
}

/* 16-byte read-only load through L1: activations and scales (shared by lanes and CTAs). */
QG_DEVICE qg_u32x4 qg_wogv_ld_nc(const void *p) {
    qg_u32x4 r;
    asm volatile("ld.global.nc.v4.u32 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
                 : "l"(p));
    return r;
}

/* Lane `src`'s value of v (whole warp, converged). */
QG_DEVICE uint32_t qg_wogv_shfl(uint32_t v, int src) { return __shfl_sync(0xffffffffu, v, src); }
