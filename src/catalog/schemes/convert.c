/* Scalar conversions between float and the 16- and 8-bit formats, bit-exact with the GPU's
 * round-to-nearest-even conversions (cvt.rn.*, cvt.rn.satfinite.e4m3x2). */
#include "internal.h"

#include <math.h>
#include <string.h>

static uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float qg_bf16_to_f32(uint16_t v) { return u2f((uint32_t)v << 16); }

uint16_t qg_f32_to_bf16(float v) {
    uint32_t u = f2u(v);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float qg_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0) return u2f(sign) + (sign ? -1.0f : 1.0f) * ldexpf((float)man, -24);
    if (exp == 31) return u2f(sign | 0x7f800000u | (man << 13));
    return u2f(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t qg_f32_to_f16(float f) {
    uint32_t u = f2u(f), sign = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520: inf */
    if (a < 0x38800000u) {                                   /* subnormal or zero in f16 */
        float m = u2f(a) * 16777216.0f;                      /* units of 2^-24 */
        float r = nearbyintf(m);                             /* current mode: nearest even */
        return (uint16_t)(sign | (uint32_t)r);
    }
    uint32_t man = a & 0x7fffffu, exp = (a >> 23) - 112;
    uint32_t h = (exp << 10) | (man >> 13);
    uint32_t rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}

/* e4m3 (OCP FN): bias 7, no infinities, 0x7f/0xff are NaN, max finite 448. */
float qg_e4m3_to_f32(uint8_t v) {
    uint32_t sign = v >> 7, exp = (v >> 3) & 0xfu, man = v & 7u;
    float r;
    if (exp == 15 && man == 7) return sign ? -NAN : NAN;
    if (exp == 0) r = ldexpf((float)man, -9);
    else r = ldexpf((float)(8 + man), (int)exp - 10);
    return sign ? -r : r;
}

uint8_t qg_f32_to_e4m3(float f) {
    uint8_t sign = (f2u(f) >> 24) & 0x80u;
    float a = fabsf(f);
    if (isnan(f)) return (uint8_t)(sign | 0x7f);
    if (a >= 448.0f) return (uint8_t)(sign | 0x7e); /* satfinite */
    if (a < 0.015625f) { /* subnormal: units of 2^-9 (8 = 2^-6, normal) */
        return (uint8_t)(sign | (uint32_t)nearbyintf(a * 512.0f));
    }
    uint32_t u = f2u(a), r = u >> 20, rest = u & 0xfffffu; /* keep exponent + 3 mantissa bits */
    if (rest > 0x80000u || (rest == 0x80000u && (r & 1u))) r++; /* a carry bumps the exponent */
    return (uint8_t)(sign | (r - (120u << 3)));
}
