/* The AVX-512 chunk classifier (built with -mavx512bw on x86-64 only; chosen at run time by
 * sealm_guard_pii_classify_choose when the CPU and OS support AVX-512 F, BW, VL and DQ): the
 * masks of sealm_guard_pii_classify_scalar, bit for bit, for the whole 64-byte chunk at once.
 * A compare into a mask register gives the chunk's 64-bit mask directly, so a class costs one
 * or two instructions instead of two compares, two byte-mask moves and a merge of the two
 * 32-byte halves (gcc 12 -O3, result stores included: 159 instructions in
 * pii_classify_avx2.c's function, 203 before its constants were read from memory, 54 in this
 * one, none with a branch); on the ~85-byte records of the dense corpus the classifier was
 * about 7 % of redaction's work. */
#include "pii_internal.h"

#include <immintrin.h>

/* Each constant as a whole vector in memory, so that the compares read it as their operand
 * (gcc otherwise builds every splat with a move and a broadcast, two instructions each; the
 * classifier hides the table's address from it, see below, or it would do so here too). */
#define X8(c) c, c, c, c, c, c, c, c
#define X64(c) {X8(c), X8(c), X8(c), X8(c), X8(c), X8(c), X8(c), X8(c)}
typedef struct splats {
    _Alignas(64) unsigned char minus_digit[64], minus_upper[64], minus_lower[64];
    _Alignas(64) unsigned char ten[64], twenty_six[64], nibble[64];
    _Alignas(64) unsigned char bytes[4 + PII_N_PRESENT][64];
    _Alignas(64) unsigned char high_bit[64];   /* 1 << the high nibble, per 128-bit lane */
} splats;
_Static_assert(sizeof PII_PRESENT_BYTES - 1 == 5, "the splats below list PII_PRESENT_BYTES");
#define HIGH_BITS 1, 2, 4, 8, 16, 32, 64, 128, 0, 0, 0, 0, 0, 0, 0, 0
static const splats K = {
    X64((unsigned char)-'0'), X64((unsigned char)-'A'), X64((unsigned char)-'a'), X64(10), X64(26), X64(0x0f),
    {X64('_'), X64('+'), X64('('), X64(' '), X64('@'), X64(':'), X64('='), X64('-'), X64('.')},
    {HIGH_BITS, HIGH_BITS, HIGH_BITS, HIGH_BITS},
};
enum { K_UNDERSCORE, K_PLUS, K_PAREN, K_SPACE, K_SPECIAL };

static inline __m512i splat(const unsigned char *k) { return _mm512_load_si512((const void *)k); }

/* bit i: lo <= byte i < lo + n (unsigned bytes), with minus_lo = -lo and n as splats */
static inline uint64_t in_range(__m512i v, const unsigned char *minus_lo, const unsigned char *n) {
    return _mm512_cmplt_epu8_mask(_mm512_add_epi8(v, splat(minus_lo)), splat(n));
}

static inline uint64_t equal(__m512i v, const splats *k, int j) { return _mm512_cmpeq_epi8_mask(v, splat(k->bytes[j])); }

/* bit i: byte i is in the set (the set's nibble table in every 128-bit lane, looked up by the
 * low nibble; bit: 1 << the high nibble, 0 for bytes of 0x80 and above) */
static inline uint64_t in_set(const pii_byte_set *s, __m512i low_nibble, __m512i bit) {
    __m512i row = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)s->row));
    return _mm512_test_epi8_mask(_mm512_shuffle_epi8(row, low_nibble), bit);
}

/* The classes of the 64 bytes in x. */
static inline void classify(__m512i x, const pii_class_sets *sets, pii_chunk_classes *out) {
    const splats *k = &K;
    __asm__("" : "+r"(k));   /* the table's contents unknown to the compiler: read, not rebuilt */
    out->digit = in_range(x, k->minus_digit, k->ten);
    out->upper = in_range(x, k->minus_upper, k->twenty_six);
    out->lower = in_range(x, k->minus_lower, k->twenty_six);
    out->underscore = equal(x, k, K_UNDERSCORE);
    out->plus_paren = equal(x, k, K_PLUS) | equal(x, k, K_PAREN);
    out->space = equal(x, k, K_SPACE);
    __m512i lo = _mm512_and_si512(x, splat(k->nibble));
    __m512i bit = _mm512_shuffle_epi8(splat(k->high_bit), _mm512_and_si512(_mm512_srli_epi16(x, 4), splat(k->nibble)));
    out->prefix_first = in_set(&sets->first, lo, bit);
    out->prefix_second = in_set(&sets->second, lo, bit);
    out->prefix_first_mid = in_set(&sets->first_mid, lo, bit);
    out->prefix_second_mid = in_set(&sets->second_mid, lo, bit);
    for (int j = 0; j < PII_N_PRESENT; j++) out->special[j] = equal(x, k, K_SPECIAL + j);
}

void sealm_guard_pii_classify_avx512(const unsigned char *chunk, const pii_class_sets *sets, pii_chunk_classes *out) {
    classify(_mm512_loadu_si512((const void *)chunk), sets, out);
}

/* A text's last chunk, n < 64 bytes: a masked load reads only those (the masked-off bytes
 * are not read, so the load cannot fault past the text's end) and gives NUL bytes, in no
 * class, for the rest, instead of a copy into a cleared buffer. */
void sealm_guard_pii_classify_avx512_tail(const unsigned char *chunk, size_t n, const pii_class_sets *sets,
                                          pii_chunk_classes *out) {
    classify(_mm512_maskz_loadu_epi8(n >= 64 ? ~0ull : (1ull << n) - 1, (const void *)chunk), sets, out);
}
