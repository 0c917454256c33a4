/* CPU emulation runtime (see emu_rt.h and run.sh). */
#include "emu_rt.h"
#include "emu_wgmma.h"
#include <pthread.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <vector>
thread_local emu_dim3 threadIdx, blockIdx;
emu_dim3 gridDim, blockDim;
alignas(1024) unsigned char emu_smem[232448]; /* shared address = offset (swizzles anchor at 1024) */
static pthread_barrier_t cta_bar, warp_bar[32];
static emu_warp_xchg xchg[32];
void emu_syncthreads() { pthread_barrier_wait(&cta_bar); }
void emu_warp_barrier() { pthread_barrier_wait(&warp_bar[threadIdx.x >> 5]); }
emu_warp_xchg *emu_xchg() { return &xchg[threadIdx.x >> 5]; }
struct pending {
    void *dst;
    const void *src;
    int bytes;
    int group;
    int size;
};
static thread_local std::vector<pending> *pend;
static thread_local int cur_group, committed;
void emu_cp_async(void *dst, const void *src, int bytes) {
    pend->push_back({dst, src, bytes, cur_group, 16});
}
void emu_cp_async_sized(void *dst, const void *src, int size, int valid) {
    pend->push_back({dst, src, valid ? size : 0, cur_group, size});
}
void emu_cp_commit() { cur_group++; }
/* complete all groups except the newest n committed ones */
void emu_cp_wait(int n) {
    std::vector<pending> keep;
    for (auto &p : *pend) {
        if (p.group < cur_group - n) {
            if (p.bytes) memcpy(p.dst, p.src, p.size);
            else memset(p.dst, 0, p.size);
        } else keep.push_back(p);
    }
    *pend = keep;
}
struct job {
    emu_entry_fn fn;
    const void *params;
    unsigned tid;
};
static void *worker(void *x) {
    job *j = (job *)x;
    threadIdx = {j->tid, 0, 0};
    std::vector<pending> v;
    pend = &v;
    cur_group = 0;
    for (unsigned z = 0; z < gridDim.z; z++)
        for (unsigned y = 0; y < gridDim.y; y++)
            for (unsigned xx = 0; xx < gridDim.x; xx++) {
                blockIdx = {xx, y, z};
                if (j->tid == 0)
                    memset(emu_smem, 0xff, sizeof emu_smem); /* garbage: NaN patterns */
                emu_wgmma_thread_begin();
                pthread_barrier_wait(&cta_bar);
                j->fn(j->params);
                emu_wgmma_thread_end();
                /* cp.async left in flight at exit would be a bug too: drop them loudly */
                if (!v.empty()) {
                    fprintf(stderr, "EMU: %zu cp.async pending at kernel exit\n", v.size());
                    v.clear();
                }
                pthread_barrier_wait(&cta_bar);
                if (j->tid == 0) emu_mbar_cta_end(); /* TMA copies left in flight */
            }
    return NULL;
}
void emu_run(emu_entry_fn fn, const void *params, emu_dim3 grid, unsigned block) {
    gridDim = grid;
    blockDim = {block, 1, 1};
    emu_wgmma_launch_begin(block);
    pthread_barrier_init(&cta_bar, NULL, block);
    for (unsigned w = 0; w < block / 32; w++) pthread_barrier_init(&warp_bar[w], NULL, 32);
    std::vector<pthread_t> th(block);
    std::vector<job> jobs(block);
    for (unsigned i = 0; i < block; i++) {
        jobs[i] = {fn, params, i};
        pthread_create(&th[i], NULL, worker, &jobs[i]);
    }
    for (unsigned i = 0; i < block; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&cta_bar);
    for (unsigned w = 0; w < block / 32; w++) pthread_barrier_destroy(&warp_bar[w]);
}
