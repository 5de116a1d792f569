/* Character classes of 64-byte chunks for the PII scan's first pass (pii_scan.c): one
 * bitmask per class, so the pass finds where numbers, letter codes, capitalized words and
 * prefixes begin with a few word-wide operations per chunk instead of a branch per byte.
 * This file holds the portable scalar classifier and the choice among the implementations;
 * pii_classify_avx512.c and pii_classify_avx2.c (x86-64) and pii_classify_neon.c (aarch64)
 * classify 64, 32 or 16 bytes per instruction. */
#include "pii_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

void sealm_guard_pii_class_sets_init(pii_class_sets *s) {
    for (int c = 0; c < 256; c++)
        s->bits[c] = (uint8_t)((pii_byte_set_has(&s->first, (unsigned char)c) ? PII_BYTE_FIRST : 0) |
                               (pii_byte_set_has(&s->second, (unsigned char)c) ? PII_BYTE_SECOND : 0) |
                               (pii_byte_set_has(&s->first_mid, (unsigned char)c) ? PII_BYTE_FIRST_MID : 0) |
                               (pii_byte_set_has(&s->second_mid, (unsigned char)c) ? PII_BYTE_SECOND_MID : 0));
}

/* ---- the scalar classifier: eight bytes per word ("SIMD within a register") ---- */

static const uint64_t ONES = 0x0101010101010101ull, HIGH = 0x8080808080808080ull;

/* Bytes p[0, 8) as a word, byte i in bits [8i, 8i + 8). */
static inline uint64_t load_le64(const unsigned char *p) {
    uint64_t x;
    memcpy(&x, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}

/* 0x80 in each byte of x that lies in [lo, hi] (1 <= lo <= hi <= 0x7f), 0 in the others.
 * Each byte's low seven bits are added to a constant that sets its top bit exactly when they
 * reach lo (or pass hi); the sums stay below 0x100, so no carry crosses into the next byte,
 * and bytes of 0x80 and above are masked out. */
static inline uint64_t bytes_in(uint64_t x, unsigned lo, unsigned hi) {
    uint64_t low7 = x & ~HIGH;
    uint64_t from_lo = low7 + ONES * (0x80 - lo), past_hi = low7 + ONES * (0x7f - hi);
    return from_lo & ~past_hi & ~x & HIGH;
}

/* The top bits of the eight bytes of m (each 0x80 or 0) as eight bits, byte i in bit i: the
 * multiply moves bit 8i + 7 to bit 56 + i, and no two partial products meet. */
static inline uint64_t top_bits(uint64_t m) { return ((m >> 7) * 0x0102040810204080ull) >> 56; }

void sealm_guard_pii_classify_scalar(const unsigned char *chunk, const pii_class_sets *sets, pii_chunk_classes *out) {
    pii_chunk_classes o = {0};
    for (unsigned w = 0; w < 8; w++) {
        uint64_t x = load_le64(chunk + 8 * w);
        unsigned at = 8 * w;
        o.digit |= top_bits(bytes_in(x, '0', '9')) << at;
        o.upper |= top_bits(bytes_in(x, 'A', 'Z')) << at;
        o.lower |= top_bits(bytes_in(x, 'a', 'z')) << at;
        o.underscore |= top_bits(bytes_in(x, '_', '_')) << at;
        o.plus_paren |= top_bits(bytes_in(x, '+', '+') | bytes_in(x, '(', '(')) << at;
        o.space |= top_bits(bytes_in(x, ' ', ' ')) << at;
        /* "@:=-." lie in '-' .. '.', ':' .. '=' and '@': most words hold none of them */
        if (!(bytes_in(x, '-', '.') | bytes_in(x, ':', '=') | bytes_in(x, '@', '@'))) continue;
        for (unsigned j = 0; j < PII_N_PRESENT; j++) {
            unsigned b = (unsigned char)PII_PRESENT_BYTES[j];
            o.special[j] |= top_bits(bytes_in(x, b, b)) << at;
        }
    }
    _Static_assert(PII_BYTE_FIRST == 1 && PII_BYTE_SECOND == 2 && PII_BYTE_FIRST_MID == 4 && PII_BYTE_SECOND_MID == 8,
                   "the shifts below read bits 0 to 3");
    /* the byte sets are arbitrary: one table lookup per byte, eight bytes' PII_BYTE_* bits
     * gathered into a word, and each set's bit moved to the top of its byte for top_bits */
    for (unsigned w = 0; w < 8; w++) {
        unsigned char k[8];
        for (unsigned i = 0; i < 8; i++) k[i] = sets->bits[chunk[8 * w + i]];
        uint64_t y = load_le64(k);
        unsigned at = 8 * w;
        o.prefix_first |= top_bits(y << 7 & HIGH) << at;         /* PII_BYTE_FIRST: bit 0 */
        o.prefix_second |= top_bits(y << 6 & HIGH) << at;        /* PII_BYTE_SECOND: bit 1 */
        o.prefix_first_mid |= top_bits(y << 5 & HIGH) << at;     /* PII_BYTE_FIRST_MID: bit 2 */
        o.prefix_second_mid |= top_bits(y << 4 & HIGH) << at;    /* PII_BYTE_SECOND_MID: bit 3 */
    }
    *out = o;
}

static pii_classify_fn g_best;
static pthread_once_t g_best_once = PTHREAD_ONCE_INIT;

static void best_init(void) {
    g_best = sealm_guard_pii_classify_scalar;
    const char *cap = getenv("SEALM_SIMD");
    if (cap && strcmp(cap, "scalar") == 0) return;
#if defined(__x86_64__)
    /* __builtin_cpu_supports also asks the OS (XCR0) whether it saves the YMM and ZMM state */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) g_best = sealm_guard_pii_classify_avx2;
    bool avx2_cap = cap && (strcmp(cap, "avx2") == 0 || strcmp(cap, "avx-vnni") == 0);
    /* the file is compiled for F, BW, VL and DQ (CMakeLists.txt's *_avx512.c options), so the
     * compiler may use any of them: every AVX-512 CPU with BW has the other three */
    if (!avx2_cap && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        g_best = sealm_guard_pii_classify_avx512;
#elif defined(__aarch64__)
    g_best = sealm_guard_pii_classify_neon;   /* NEON (ASIMD) is part of every ARMv8-A CPU */
#endif
}

pii_classify_fn sealm_guard_pii_classify_choose(bool scalar_only) {
    if (scalar_only) return sealm_guard_pii_classify_scalar;
    pthread_once(&g_best_once, best_init);
    return g_best;
}

pii_classify_tail_fn sealm_guard_pii_classify_tail_for(pii_classify_fn f) {
#if defined(__x86_64__)
    if (f == sealm_guard_pii_classify_avx512) return sealm_guard_pii_classify_avx512_tail;
#endif
    (void)f;
    return NULL;
}
