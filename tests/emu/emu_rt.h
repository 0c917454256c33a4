/* CPU emulation runtime for the weight-only kernels (tests/emu/run.sh): one pthread per CUDA
 * thread, one CTA at a time, barriers for __syncthreads and for warp collectives (mma). */
#pragma once
#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
struct emu_dim3 {
    unsigned x, y, z;
};
extern thread_local emu_dim3 threadIdx, blockIdx;
extern emu_dim3 gridDim, blockDim;
extern unsigned char emu_smem[];
void emu_syncthreads();
void emu_warp_barrier();
/* per-warp exchange area for mma */
struct emu_warp_xchg {
    uint32_t a[32][4];
    uint32_t b[32][2];
};
emu_warp_xchg *emu_xchg();
/* cp.async emulation (per thread) */
void emu_cp_async(void *dst, const void *src, int bytes);
/* cp.async of `size` bytes (4, 8 or 16), zero-filled (source not read) when !valid */
void emu_cp_async_sized(void *dst, const void *src, int size, int valid);
void emu_cp_commit();
void emu_cp_wait(int n);
typedef void (*emu_entry_fn)(const void *params);
void emu_run(emu_entry_fn fn, const void *params, emu_dim3 grid, unsigned block);
/* Calls kernel `k` with its arguments as the launch passes them (`args`: an array of pointers to
 * each argument, as cuLaunchKernel takes them); gen() of run.sh wraps every kernel in this. */
#include <utility>
template <typename... T, size_t... I>
void emu_call_i(void (*k)(T...), void *const *args, std::index_sequence<I...>) {
    k(*(T *)args[I]...);
}
template <typename... T> void emu_call(void (*k)(T...), const void *args) {
    emu_call_i(k, (void *const *)args, std::index_sequence_for<T...>{});
}
