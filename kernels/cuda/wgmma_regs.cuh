/* Accumulator operand lists of the inline-PTX wgmma wrappers (w8a8_wgmma_ops.cuh,
 * w4a16_wgmma_ops.cuh, sp24_wgmma.cu), written once: QG_WG_REGSn is the "%0,...,%n-1" list of
 * the instruction's d registers, QG_WG_OPSn(C, d) the matching asm operands C(d[0]), ...,
 * C(d[n-1]), where C is the constraint macro (QG_WG_F: "+f", QG_WG_R: "+r"). The operands a
 * wrapper passes after them (descriptors, scale-d flag...) are numbered from n. */
#pragma once

#define QG_WG_F(x) "+f"(x)
#define QG_WG_R(x) "+r"(x)

#define QG_WG_R0_31 \
    "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31"
#define QG_WG_R32_63 \
    "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63"
#define QG_WG_R64_95 \
    "%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95"
#define QG_WG_R96_127 \
    "%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111,%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127"
#define QG_WG_REGS32 QG_WG_R0_31
#define QG_WG_REGS64 QG_WG_R0_31 "," QG_WG_R32_63
#define QG_WG_REGS96 QG_WG_REGS64 "," QG_WG_R64_95
#define QG_WG_REGS128 QG_WG_REGS96 "," QG_WG_R96_127

#define QG_WG_OPS8(C, d, i)                                                                   \
    C(d[(i) + 0]), C(d[(i) + 1]), C(d[(i) + 2]), C(d[(i) + 3]), C(d[(i) + 4]), C(d[(i) + 5]), \
        C(d[(i) + 6]), C(d[(i) + 7])
#define QG_WG_OPS32_AT(C, d, i)                                                       \
    QG_WG_OPS8(C, d, (i) + 0), QG_WG_OPS8(C, d, (i) + 8), QG_WG_OPS8(C, d, (i) + 16), \
        QG_WG_OPS8(C, d, (i) + 24)
#define QG_WG_OPS32(C, d) QG_WG_OPS32_AT(C, d, 0)
#define QG_WG_OPS64(C, d) QG_WG_OPS32(C, d), QG_WG_OPS32_AT(C, d, 32)
#define QG_WG_OPS96(C, d) QG_WG_OPS64(C, d), QG_WG_OPS32_AT(C, d, 64)
#define QG_WG_OPS128(C, d) QG_WG_OPS96(C, d), QG_WG_OPS32_AT(C, d, 96)
