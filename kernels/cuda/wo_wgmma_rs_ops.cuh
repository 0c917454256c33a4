/*
 * wgmma.mma_async with the A operand in registers (the "RS" form), sm_90a, for
 * wo_wgmma_rs.cu: d (64 x N, f32 accumulator fragment) += A (64 x 16, four 32-bit registers of
 * the activation dtype per thread) * B (16 x N, shared-memory descriptor, K-major), A/B scales 1,
 * B not transposed [PTX ISA 9.7.15.5.2 "wgmma.mma_async"; A register fragment: 9.7.15.5.1.1.1,
 * "WGMMA .m64nNk16 register fragment layout for matrix A": a0 (row g, k 2t..2t+1), a1 (row g + 8,
 * k 2t..), a2 (row g, k 2t+8..), a3 (row g + 8, k 2t+8..), rows 16 (warp % 4) + g, g = lane / 4,
 * t = lane % 4]. The registers of `a` are read asynchronously: they must keep their values until
 * a wgmma.wait_group has retired the instruction (the kernel pins them).
 * QG_ACT selects bf16 or f16 (QG_W4WG_AB of w4a16_wgmma_ops.cuh). Its 4- and 8-byte copies are
 * ptx_cp_async.cuh's.
 */
#pragma once

#include "w4a16_wgmma_ops.cuh"
#include "wgmma_regs.cuh"

QG_DEVICE void qg_w4rs_mma_n64(float (&d)[32], const uint32_t (&a)[4], uint64_t db) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32." QG_W4WG_AB "." QG_W4WG_AB " "
                 "{" QG_WG_REGS32 "}, {%32,%33,%34,%35}, %36, p, 1, 1, 0;\n}\n"
                 : QG_WG_OPS32(QG_WG_F, d)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db));
}

QG_DEVICE void qg_w4rs_mma_n128(float (&d)[64], const uint32_t (&a)[4], uint64_t db) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32." QG_W4WG_AB "." QG_W4WG_AB " "
                 "{" QG_WG_REGS64 "}, {%64,%65,%66,%67}, %68, p, 1, 1, 0;\n}\n"
                 : QG_WG_OPS64(QG_WG_F, d)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db));
}

QG_DEVICE void qg_w4rs_mma_n256(float (&d)[128], const uint32_t (&a)[4], uint64_t db) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n256k16.f32." QG_W4WG_AB "." QG_W4WG_AB " "
                 "{" QG_WG_REGS128 "}, {%128,%129,%130,%131}, %132, p, 1, 1, 0;\n}\n"
                 : QG_WG_OPS128(QG_WG_F, d)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db));
}
