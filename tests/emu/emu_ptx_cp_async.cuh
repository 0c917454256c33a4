/* Emulated kernels/cuda/ptx_cp_async.cuh for tests/emu (host C++): copies of emu_rt.cpp that
 * land only at wait_group (zero-filled past src_bytes; 4- and 8-byte ones too); the L2 policy is
 * a no-op. */
#pragma once
QG_DEVICE void qg_cp_async16(uint32_t dst, const void *src, int src_bytes) {
    emu_cp_async(emu_smem + dst, src, src_bytes);
}
QG_DEVICE uint64_t qg_l2_evict_first() { return 0; }
QG_DEVICE void qg_cp_async16_hint(uint32_t dst, const void *src, int src_bytes, uint64_t) {
    qg_cp_async16(dst, src, src_bytes);
}
QG_DEVICE void qg_cp_async16_zfill(void *smem, const void *gmem, int valid) {
    qg_cp_async16(qg_smem_addr(smem), gmem, valid ? 16 : 0);
}
QG_DEVICE void qg_cp_async16_zfill_hint(void *smem, const void *gmem, int valid, uint64_t) {
    qg_cp_async16_zfill(smem, gmem, valid);
}
QG_DEVICE void qg_cp_async4_zfill(uint32_t sdst, const void *gmem, int valid) {
    emu_cp_async_sized(emu_smem + sdst, gmem, 4, valid);
}
QG_DEVICE void qg_cp_async8_zfill(uint32_t sdst, const void *gmem, int valid) {
    emu_cp_async_sized(emu_smem + sdst, gmem, 8, valid);
}
QG_DEVICE void qg_cp_async_commit() { emu_cp_commit(); }
template <int N> QG_DEVICE void qg_cp_async_wait() { emu_cp_wait(N); }
