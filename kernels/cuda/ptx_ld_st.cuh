/*
 * Global loads and stores with cache operators, and 16-byte shared-memory loads and stores: .nc (read-only data path, for data no kernel
 * writes during the launch) and .cg (L2 only, bypassing L1: split-K partials that other CTAs
 * of the same launch write). [PTX ISA 9.7.9.8 "Data Movement and Conversion Instructions": ld,
 * ld.global.nc, st; cache operators: 9.7.9.1;
 * https://docs.nvidia.com/cuda/parallel-thread-execution/#data-movement-and-conversion-instructions-ld
 * https://docs.nvidia.com/cuda/parallel-thread-execution/#data-movement-and-conversion-instructions-ld-global-nc
 * https://docs.nvidia.com/cuda/parallel-thread-execution/#data-movement-and-conversion-instructions-st]
 * tests/emu/emu_ptx_ld_st.cuh models exactly these functions on the CPU; keep the two in step.
 */
#pragma once

/* 16-byte and 4-byte read-only loads through L1 (activations: reused by every CTA). */
QG_DEVICE qg_u32x4 qg_ld_nc_u32x4(const void *p) {
    qg_u32x4 r;
    asm volatile("ld.global.nc.v4.u32 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
                 : "l"(p));
    return r;
}

/* 16-byte read-only loads that do not allocate in L1 (streamed weights, read once); the _hint
 * form also carries an L2 policy (qg_l2_evict_first of ptx_cp_async.cuh), so that activations,
 * scales and split-K partials stay in L2. */
QG_DEVICE qg_u32x4 qg_ld_stream_u32x4(const void *p) {
    qg_u32x4 r;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
                 : "l"(p));
    return r;
}

QG_DEVICE qg_u32x4 qg_ld_stream_hint_u32x4(const void *p, uint64_t pol) {
    qg_u32x4 r;
    asm volatile("ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%0,%1,%2,%3}, [%4], %5;"
                 : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
                 : "l"(p), "l"(pol));
    return r;
}

QG_DEVICE uint32_t qg_ld_nc_u32(const void *p) {
    uint32_t r;
    asm volatile("ld.global.nc.u32 %0, [%1];" : "=r"(r) : "l"(p));
    return r;
}

/* 16-byte load from the shared-window address `addr`. */
QG_DEVICE qg_u32x4 qg_lds_u32x4(uint32_t addr) {
    qg_u32x4 v;
    asm volatile("ld.shared.v4.u32 {%0,%1,%2,%3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "r"(addr));
    return v;
}

/* 16-byte store of four copies of `v` to the shared-window address `addr`. */
QG_DEVICE void qg_sts_splat_u32x4(uint32_t addr, uint32_t v) {
    asm volatile("st.shared.v4.u32 [%0], {%1,%1,%1,%1};" ::"r"(addr), "r"(v));
}

/* L2-only loads and stores of split-K partials. */
QG_DEVICE float qg_ld_cg_f32(const float *p) {
    float v;
    asm volatile("ld.global.cg.f32 %0, [%1];" : "=f"(v) : "l"(p) : "memory");
    return v;
}

QG_DEVICE void qg_ld_cg_f32x2(const float *p, float *v0, float *v1) {
    asm volatile("ld.global.cg.v2.f32 {%0,%1}, [%2];" : "=f"(*v0), "=f"(*v1) : "l"(p) : "memory");
}

QG_DEVICE void qg_ld_cg_f32x4(const float *p, float (&v)[4]) {
    asm volatile("ld.global.cg.v4.f32 {%0,%1,%2,%3}, [%4];"
                 : "=f"(v[0]), "=f"(v[1]), "=f"(v[2]), "=f"(v[3])
                 : "l"(p)
                 : "memory");
}

QG_DEVICE void qg_st_cg_f32(float *p, float v) {
    asm volatile("st.global.cg.f32 [%0], %1;" ::"l"(p), "f"(v));
}

QG_DEVICE void qg_st_f32x2(float *p, float v0, float v1) {
    asm volatile("st.global.v2.f32 [%0], {%1,%2};" ::"l"(p), "f"(v0), "f"(v1) : "memory");
}
