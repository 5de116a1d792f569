/* The NEON chunk classifier (built on aarch64 only, where NEON is part of the base
 * architecture; chosen by sealm_guard_pii_classify_choose): the masks of
 * sealm_guard_pii_classify_scalar, bit for bit, 16 bytes per instruction. Ranges are one
 * unsigned compare after a subtraction; the prefix byte sets are nibble tables looked up with
 * a table instruction; the 0x00/0xff bytes of a compare become one bit each by keeping each
 * byte's own bit (1, 2, ... 128) and adding neighbours pairwise. */
#include "pii_internal.h"

#include <arm_neon.h>

/* 0xff where lo <= v < lo + n */
static inline uint8x16_t in_range(uint8x16_t v, uint8_t lo, uint8_t n) {
    return vcltq_u8(vsubq_u8(v, vdupq_n_u8(lo)), vdupq_n_u8(n));
}

/* The 64 compare results of a chunk's four quarters as a mask, byte i in bit i. */
static inline uint64_t mask64(const uint8x16_t m[4]) {
    static const uint8_t BITS[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t bits = vld1q_u8(BITS);
    uint8x16_t ab = vpaddq_u8(vandq_u8(m[0], bits), vandq_u8(m[1], bits));
    uint8x16_t cd = vpaddq_u8(vandq_u8(m[2], bits), vandq_u8(m[3], bits));
    uint8x16_t abcd = vpaddq_u8(ab, cd);
    abcd = vpaddq_u8(abcd, abcd);
    return vgetq_lane_u64(vreinterpretq_u64_u8(abcd), 0);
}

void sealm_guard_pii_classify_neon(const unsigned char *chunk, const pii_class_sets *sets, pii_chunk_classes *out) {
    static const uint8_t HIGH_NIBBLE_BIT[16] = {1, 2, 4, 8, 16, 32, 64, 128, 0, 0, 0, 0, 0, 0, 0, 0};
    const uint8x16_t high_bit = vld1q_u8(HIGH_NIBBLE_BIT);
    const uint8x16_t row1 = vld1q_u8(sets->first.row), row2 = vld1q_u8(sets->second.row);
    const uint8x16_t row3 = vld1q_u8(sets->first_mid.row), row4 = vld1q_u8(sets->second_mid.row);
    uint8x16_t digit[4], upper[4], lower[4], us[4], pp[4], sp[4], f[4], s[4], fm[4], sm[4];
    uint8x16_t special[PII_N_PRESENT][4];
    for (int q = 0; q < 4; q++) {
        uint8x16_t x = vld1q_u8(chunk + 16 * q);
        digit[q] = in_range(x, '0', 10);
        upper[q] = in_range(x, 'A', 26);
        lower[q] = in_range(x, 'a', 26);
        us[q] = vceqq_u8(x, vdupq_n_u8('_'));
        pp[q] = vorrq_u8(vceqq_u8(x, vdupq_n_u8('+')), vceqq_u8(x, vdupq_n_u8('(')));
        sp[q] = vceqq_u8(x, vdupq_n_u8(' '));
        uint8x16_t lo = vandq_u8(x, vdupq_n_u8(0x0f));
        uint8x16_t bit = vqtbl1q_u8(high_bit, vshrq_n_u8(x, 4));   /* 0 for bytes of 0x80 and above */
        f[q] = vtstq_u8(vqtbl1q_u8(row1, lo), bit);
        s[q] = vtstq_u8(vqtbl1q_u8(row2, lo), bit);
        fm[q] = vtstq_u8(vqtbl1q_u8(row3, lo), bit);
        sm[q] = vtstq_u8(vqtbl1q_u8(row4, lo), bit);
        for (int j = 0; j < PII_N_PRESENT; j++) special[j][q] = vceqq_u8(x, vdupq_n_u8((uint8_t)PII_PRESENT_BYTES[j]));
    }
    out->digit = mask64(digit);
    out->upper = mask64(upper);
    out->lower = mask64(lower);
    out->underscore = mask64(us);
    out->plus_paren = mask64(pp);
    out->space = mask64(sp);
    out->prefix_first = mask64(f);
    out->prefix_second = mask64(s);
    out->prefix_first_mid = mask64(fm);
    out->prefix_second_mid = mask64(sm);
    for (int j = 0; j < PII_N_PRESENT; j++) out->special[j] = mask64(special[j]);
}
