/* Half-precision conversions: IEEE 754 binary16 and bfloat16 <-> binary32.
 *
 * Done with integer bit manipulation so the result is the same on every host and does not
 * depend on the FPU's rounding mode: fp32 -> fp16 rounds to nearest, ties to even, exactly
 * as the F16C instruction VCVTPS2PH with imm8 = 0 does (including subnormal results,
 * overflow to infinity, and NaNs keeping their sign and top payload bits, made quiet);
 * fp16 -> fp32 is exact, and makes NaNs quiet as VCVTPH2PS does. */
#include "engine/quant.h"

#include <string.h>

static uint32_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float sealm_fp16_to_fp32(sealm_fp16 h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) {
        /* inf, or NaN: widen the payload and make it quiet, as VCVTPH2PS does */
        return bits_float(sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0u));
    }
    if (exp == 0) {
        /* zero or subnormal: value = mant * 2^-24, exact in float */
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    /* normal: rebias the exponent from 15 to 127 */
    return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

/* Round m >> shift to nearest, ties to even (shift >= 1). */
static uint32_t shift_round_even(uint32_t m, unsigned shift) {
    uint32_t r = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1u)))
        r++;
    return r;
}

sealm_fp16 sealm_fp32_to_fp16(float f) {
    uint32_t x = float_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;

    if (ax > 0x7f800000u)      /* NaN: quiet, top 9 payload bits kept (as F16C does) */
        return (sealm_fp16)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    /* 65520 = halfway between the largest half (65504) and 2^16; the tie goes to the even
     * neighbour, which is infinity. So everything from 65520 up becomes infinity. */
    if (ax >= 0x477ff000u)
        return (sealm_fp16)(sign | 0x7c00u);
    if (ax >= 0x38800000u) {   /* >= 2^-14: a normal half */
        /* subtracting the bias difference and rounding the mantissa in one go: a carry out
         * of the mantissa correctly bumps the exponent */
        return (sealm_fp16)(sign | shift_round_even(ax - 0x38000000u, 13));
    }
    /* subnormal half (or zero): value / 2^-24 rounded to an integer */
    uint32_t e = ax >> 23;
    if (e < 102)               /* below 2^-25: rounds to zero (2^-25 itself ties to 0) */
        return (sealm_fp16)sign;
    uint32_t m = (ax & 0x7fffffu) | 0x800000u;  /* value = m * 2^(e-150) */
    return (sealm_fp16)(sign | shift_round_even(m, 126u - e));
}

float sealm_bf16_to_fp32(sealm_bf16 h) {
    return bits_float((uint32_t)h << 16);
}

sealm_bf16 sealm_fp32_to_bf16(float f) {
    uint32_t x = float_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)   /* NaN: truncate and force the quiet bit */
        return (sealm_bf16)((x >> 16) | 0x40u);
    /* round to nearest even on the 16 dropped bits; overflow carries into infinity */
    return (sealm_bf16)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
