/* wgmma.mma_async m64nNk32 on 8-bit operands (s8 -> s32 for QG_AT == 2, e4m3 -> f32 otherwise),
 * A and B from shared-memory descriptors: d = A * B + (scale_d ? d : 0). Used by w8a8_wgmma.cuh
 * and w8a8_wgmma_ws.cuh. */
#pragma once

#include "wgmma_regs.cuh"

#if QG_AT == 2
typedef int qg_w8wg_acc_t;
#define QG_W8WG_C QG_WG_R
#define QG_W8WG_INSTR(n) "wgmma.mma_async.sync.aligned.m64n" #n "k32.s32.s8.s8 "
#define QG_W8WG_TAIL "p;"
#else
typedef float qg_w8wg_acc_t;
#define QG_W8WG_C QG_WG_F
#define QG_W8WG_INSTR(n) "wgmma.mma_async.sync.aligned.m64n" #n "k32.f32.e4m3.e4m3 "
#define QG_W8WG_TAIL "p, 1, 1;"
#endif

/* wg_mma_n<N>(d, da, db, scale_d) with NACC accumulators per thread; DA, DB, FLAG: the operand
 * numbers of the descriptors and of the scale-d flag, which follow the accumulators. */
#define QG_W8WG_MMA(N, NACC, DA, DB, FLAG)                                                    \
    QG_DEVICE void wg_mma_n##N(qg_w8wg_acc_t *d, uint64_t da, uint64_t db, int scale_d) {     \
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " FLAG                                 \
                     ", 0;\n" QG_W8WG_INSTR(N) "{" QG_WG_REGS##NACC "}, " DA ", " DB          \
                                                                    ", " QG_W8WG_TAIL "\n}\n" \
                     : QG_WG_OPS##NACC(QG_W8WG_C, d)                                          \
                     : "l"(da), "l"(db), "r"(scale_d));                                       \
    }

QG_W8WG_MMA(64, 32, "%32", "%33", "%34")
QG_W8WG_MMA(128, 64, "%64", "%65", "%66")
QG_W8WG_MMA(192, 96, "%96", "%97", "%98")
QG_W8WG_MMA(256, 128, "%128", "%129", "%130")
