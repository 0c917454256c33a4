/*
 * Named barriers, for a subset of a CTA's warps (e.g. the consumer warpgroups while the producer
 * runs on): bar.sync id, count [PTX ISA 9.7.13.1 "Parallel Synchronization and Communication
 * Instructions: bar, barrier"; https://docs.nvidia.com/cuda/parallel-thread-execution/
 * #parallel-synchronization-and-communication-instructions-bar]. `count` is a multiple of 32;
 * id 0 is __syncthreads()'s.
 */
#pragma once

QG_DEVICE void qg_bar_named_sync(int id, int count) {
    asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(count) : "memory");
}
