/* The AVX2 chunk classifier (built with -mavx2 on x86-64 only; chosen at run time by
 * sealm_guard_pii_classify_choose): the masks of sealm_guard_pii_classify_scalar, bit for
 * bit, 32 bytes per instruction. Ranges are one signed compare after a shift of the range
 * to the bottom of the signed bytes; the prefix byte sets are nibble tables looked up with a
 * byte shuffle (row by the low nibble, a bit of the row by the high nibble). */
#include "pii_internal.h"

#include <immintrin.h>

/* Each constant as a whole vector in memory, read by the instructions as their operand: gcc
 * otherwise builds every splat with a move, a vmovd and a broadcast (three instructions each,
 * 14 splats: about 40 of the 203 instructions a chunk cost with them; 164 without, gcc 12
 * -O3, result stores included). */
#define X8(c) c, c, c, c, c, c, c, c
#define X32(c) {X8(c), X8(c), X8(c), X8(c)}
typedef struct splats {
    /* a range [lo, lo + n) as bias (lo + 128, subtracted) and limit (n - 128, compared) */
    _Alignas(32) unsigned char bias_digit[32], bias_upper[32], bias_lower[32], limit_ten[32], limit_26[32];
    _Alignas(32) unsigned char nibble[32];
    _Alignas(32) unsigned char bytes[4 + PII_N_PRESENT][32];
    _Alignas(32) unsigned char high_bit[32];   /* 1 << the high nibble, per 128-bit lane */
} splats;
_Static_assert(sizeof PII_PRESENT_BYTES - 1 == 5, "the splats below list PII_PRESENT_BYTES");
#define HIGH_BITS 1, 2, 4, 8, 16, 32, 64, 128, 0, 0, 0, 0, 0, 0, 0, 0
static const splats K = {
    X32('0' + 128), X32('A' + 128), X32('a' + 128), X32(10 - 128), X32(26 - 128), X32(0x0f),
    {X32('_'), X32('+'), X32('('), X32(' '), X32('@'), X32(':'), X32('='), X32('-'), X32('.')},
    {HIGH_BITS, HIGH_BITS},
};
enum { K_UNDERSCORE, K_PLUS, K_PAREN, K_SPACE, K_SPECIAL };

static inline __m256i splat(const unsigned char *k) { return _mm256_load_si256((const __m256i *)k); }

/* 0xff where lo <= v < lo + n (unsigned bytes), with bias = lo + 128 and limit = n - 128 */
static inline __m256i in_range(__m256i v, const unsigned char *bias, const unsigned char *limit) {
    return _mm256_cmpgt_epi8(splat(limit), _mm256_sub_epi8(v, splat(bias)));
}

static inline uint64_t mask64(__m256i lo32, __m256i hi32) {
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(lo32) | (uint64_t)(uint32_t)_mm256_movemask_epi8(hi32) << 32;
}

static inline __m256i equal(__m256i v, const splats *k, int j) { return _mm256_cmpeq_epi8(v, splat(k->bytes[j])); }

/* 0xff where a byte is not in the set (row: the set's table in both 128-bit lanes; bit: 1 << the
 * high nibble, 0 for bytes of 0x80 and above) */
static inline __m256i not_in_set(__m256i row, __m256i low_nibble, __m256i bit) {
    __m256i r = _mm256_shuffle_epi8(row, low_nibble);
    return _mm256_cmpeq_epi8(_mm256_and_si256(r, bit), _mm256_setzero_si256());
}

/* The set's mask over both halves (lo*: their low nibbles, bit*: 1 << their high nibbles). */
static inline uint64_t in_set(const pii_byte_set *s, __m256i lo0, __m256i bit0, __m256i lo1, __m256i bit1) {
    const __m256i row = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)s->row));
    return ~mask64(not_in_set(row, lo0, bit0), not_in_set(row, lo1, bit1));
}

/* The chunk's two halves, each class computed for both and turned into its mask at once, so
 * that few vectors are live at a time (16 registers: keeping every class of both halves to the
 * end spilled them). */
void sealm_guard_pii_classify_avx2(const unsigned char *chunk, const pii_class_sets *sets, pii_chunk_classes *out) {
    const splats *k = &K;
    __asm__("" : "+r"(k));   /* the table's contents unknown to the compiler: read, not rebuilt */
    const __m256i x0 = _mm256_loadu_si256((const __m256i *)chunk);
    const __m256i x1 = _mm256_loadu_si256((const __m256i *)(chunk + 32));
    out->digit = mask64(in_range(x0, k->bias_digit, k->limit_ten), in_range(x1, k->bias_digit, k->limit_ten));
    out->upper = mask64(in_range(x0, k->bias_upper, k->limit_26), in_range(x1, k->bias_upper, k->limit_26));
    out->lower = mask64(in_range(x0, k->bias_lower, k->limit_26), in_range(x1, k->bias_lower, k->limit_26));
    out->underscore = mask64(equal(x0, k, K_UNDERSCORE), equal(x1, k, K_UNDERSCORE));
    out->plus_paren = mask64(_mm256_or_si256(equal(x0, k, K_PLUS), equal(x0, k, K_PAREN)),
                             _mm256_or_si256(equal(x1, k, K_PLUS), equal(x1, k, K_PAREN)));
    out->space = mask64(equal(x0, k, K_SPACE), equal(x1, k, K_SPACE));
    for (int j = 0; j < PII_N_PRESENT; j++)
        out->special[j] = mask64(equal(x0, k, K_SPECIAL + j), equal(x1, k, K_SPECIAL + j));
    const __m256i lo0 = _mm256_and_si256(x0, splat(k->nibble)), lo1 = _mm256_and_si256(x1, splat(k->nibble));
    const __m256i high_bit = splat(k->high_bit);
    const __m256i bit0 = _mm256_shuffle_epi8(high_bit, _mm256_and_si256(_mm256_srli_epi16(x0, 4), splat(k->nibble)));
    const __m256i bit1 = _mm256_shuffle_epi8(high_bit, _mm256_and_si256(_mm256_srli_epi16(x1, 4), splat(k->nibble)));
    out->prefix_first = in_set(&sets->first, lo0, bit0, lo1, bit1);
    out->prefix_second = in_set(&sets->second, lo0, bit0, lo1, bit1);
    out->prefix_first_mid = in_set(&sets->first_mid, lo0, bit0, lo1, bit1);
    out->prefix_second_mid = in_set(&sets->second_mid, lo0, bit0, lo1, bit1);
}
