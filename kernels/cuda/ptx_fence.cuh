/*
 * Proxy fences: generic-proxy writes to shared memory (st.shared, cp.async) made visible to the
 * async proxy that wgmma and TMA read through. [PTX ISA 9.7.13.4 "membar/fence":
 * fence.proxy.async;
 * https://docs.nvidia.com/cuda/parallel-thread-execution/#parallel-synchronization-and-communication-instructions-membar]
 */
#pragma once

QG_DEVICE void qg_fence_proxy_async() {
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}
