/*
 * prmt: picks four bytes out of the eight of a (bytes 0-3) and b (4-7) by the four selector
 * nibbles of `sel` (default mode): nibble i's low 3 bits pick result byte i, its bit 3 makes
 * that byte the sign (bit 7) of the picked byte, replicated. [PTX ISA "Data Movement and
 * Conversion Instructions": prmt;
 * https://docs.nvidia.com/cuda/parallel-thread-execution/#data-movement-and-conversion-instructions-prmt]
 * tests/emu/emu_ptx_prmt.cuh models it on the CPU.
 */
#pragma once

QG_DEVICE uint32_t qg_prmt(uint32_t a, uint32_t b, uint32_t sel) {
    uint32_t d;
    asm("prmt.b32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(sel));
    return d;
}
