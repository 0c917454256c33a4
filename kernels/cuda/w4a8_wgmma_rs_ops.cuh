/*
 * wgmma.mma_async with an 8-bit A operand in registers (the "RS" form), sm_90a, for
 * w4a8_fp8_wgmma_rs.cu: d (64 x N, f32 accumulator fragment) = A (64 x 32 e4m3, four 32-bit
 * registers per thread) * B (32 x N e4m3, shared-memory descriptor, K-major) + (scale_d ? d :
 * 0), A/B scales 1 [PTX ISA 9.7.15.5.2 "wgmma.mma_async"; A register fragment of .m64nNk32:
 * 9.7.15.5.1.1.1: a0 (row g, k 4t..4t+3), a1 (row g + 8, k 4t..), a2 (row g, k 16+4t..), a3
 * (row g + 8, k 16+4t..), rows 16 (warp % 4) + g, g = lane / 4, t = lane % 4, the lowest k in
 * the low byte; = CUTLASS's ALayout_64x32]. The registers of `a` are read asynchronously: they
 * must keep their values until a wgmma.wait_group has retired the instruction.
 * tests/emu/emu_w4a8_wgmma_rs_ops.cuh emulates exactly these functions on the CPU.
 */
#pragma once

#include "wgmma_regs.cuh"

QG_DEVICE void qg_w4a8rs_mma_n64(float (&d)[32], const uint32_t (&a)[4], uint64_t db, int scale_d) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k32.f32.e4m3.e4m3 "
                 "{" QG_WG_REGS32 "}, {%32,%33,%34,%35}, %36, p, 1, 1;\n}\n"
                 : QG_WG_OPS32(QG_WG_F, d)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(scale_d));
}

/* The same with N = 128 (64 accumulators per thread). */
QG_DEVICE void qg_w4a8rs_mma_n128(float (&d)[64], const uint32_t (&a)[4], uint64_t db, int scale_d) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 "
                 "{" QG_WG_REGS64 "}, {%64,%65,%66,%67}, %68, p, 1, 1;\n}\n"
                 : QG_WG_OPS64(QG_WG_F, d)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(scale_d));
}
