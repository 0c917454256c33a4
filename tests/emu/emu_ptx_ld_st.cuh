/* Emulated kernels/cuda/ptx_ld_st.cuh for tests/emu (host C++): plain loads and stores (the
 * cache operators only steer caches); the .cg ones volatile, since other CTAs (threads here)
 * write what they read. */
#pragma once
QG_DEVICE qg_u32x4 qg_ld_nc_u32x4(const void *p) {
    qg_u32x4 r;
    memcpy(&r, p, 16);
    return r;
}
QG_DEVICE qg_u32x4 qg_ld_stream_u32x4(const void *p) { return qg_ld_nc_u32x4(p); }
QG_DEVICE qg_u32x4 qg_ld_stream_hint_u32x4(const void *p, uint64_t) { return qg_ld_nc_u32x4(p); }
QG_DEVICE uint32_t qg_ld_nc_u32(const void *p) {
    uint32_t r;
    memcpy(&r, p, 4);
    return r;
}
QG_DEVICE qg_u32x4 qg_lds_u32x4(uint32_t addr) {
    qg_u32x4 r;
    memcpy(&r, emu_smem + addr, 16);
    return r;
}
QG_DEVICE void qg_sts_splat_u32x4(uint32_t addr, uint32_t v) {
    for (int i = 0; i < 4; i++) memcpy(emu_smem + addr + 4 * i, &v, 4);
}
QG_DEVICE float qg_ld_cg_f32(const float *p) { return *(volatile const float *)p; }
QG_DEVICE void qg_ld_cg_f32x2(const float *p, float *v0, float *v1) {
    *v0 = ((volatile const float *)p)[0];
    *v1 = ((volatile const float *)p)[1];
}
QG_DEVICE void qg_ld_cg_f32x4(const float *p, float (&v)[4]) {
    if ((uintptr_t)p % 16) {
        fprintf(stderr, "EMU: ld.global.cg.v4.f32 from %p, not 16-byte aligned\n", (const void *)p);
        abort();
    }
    for (int i = 0; i < 4; i++) v[i] = ((volatile const float *)p)[i];
}
QG_DEVICE void qg_st_f32x2(float *p, float v0, float v1) {
    p[0] = v0;
    p[1] = v1;
}
QG_DEVICE void qg_st_cg_f32(float *p, float v) { *(volatile float *)p = v; }
