/*
 * lop3: any three-input bitwise function in one instruction, the function given as the truth
 * table of the inputs 0xF0, 0xCC, 0xAA. [PTX ISA 9.7.8 "Logic and Shift Instructions": lop3;
 * https://docs.nvidia.com/cuda/parallel-thread-execution/#logic-and-shift-instructions-lop3]
 */
#pragma once

/* (a & b) | c (0xea = (0xF0 & 0xCC) | 0xAA): the compiler does not find lop3 for this itself. */
QG_DEVICE uint32_t qg_lop3_and_or(uint32_t a, uint32_t b, uint32_t c) {
    uint32_t d;
    asm("lop3.b32 %0, %1, %2, %3, 0xea;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}
