/* The AVX2 chunk classifier (built with -mavx2 on x86-64 only; chosen at run time by
 * sealm_guard_pii_classify_choose): the masks of sealm_guard_pii_classify_scalar, bit for
 * bit, 32 bytes per instruction. Ranges are one signed compare after a shift of the range
 * to the bottom of the signed bytes; the prefix byte sets are nibble tables looked up with a
 * byte shuffle (row by the low nibble, a bit of the row by the high nibble). */
#include "pii_internal.h"

#include <immintrin.h>

/* 0xff where lo <= v < lo + n (unsigned bytes) */
static inline __m256i in_range(__m256i v, int lo, int n) {
    __m256i shifted = _mm256_sub_epi8(v, _mm256_set1_epi8((char)(lo + 128)));
    return _mm256_cmpgt_epi8(_mm256_set1_epi8((char)(n - 128)), shifted);
}

static inline uint64_t mask64(__m256i lo32, __m256i hi32) {
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(lo32) | (uint64_t)(uint32_t)_mm256_movemask_epi8(hi32) << 32;
}

/* 0xff where a byte is not in the set (row: the set's table in both 128-bit lanes; bit: 1 << the
 * high nibble, 0 for bytes of 0x80 and above) */
static inline __m256i not_in_set(__m256i row, __m256i low_nibble, __m256i bit) {
    __m256i r = _mm256_shuffle_epi8(row, low_nibble);
    return _mm256_cmpeq_epi8(_mm256_and_si256(r, bit), _mm256_setzero_si256());
}

void sealm_guard_pii_classify_avx2(const unsigned char *chunk, const pii_class_sets *sets, pii_chunk_classes *out) {
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    const __m256i bits = _mm256_setr_epi8(1, 2, 4, 8, 16, 32, 64, (char)128, 0, 0, 0, 0, 0, 0, 0, 0,
                                          1, 2, 4, 8, 16, 32, 64, (char)128, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i row1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)sets->first.row));
    const __m256i row2 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)sets->second.row));
    const __m256i row3 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)sets->first_mid.row));
    const __m256i row4 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)sets->second_mid.row));
    __m256i digit[2], upper[2], lower[2], us[2], pp[2], sp[2], f[2], s[2], fm[2], sm[2], special[PII_N_PRESENT][2];
    for (int h = 0; h < 2; h++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(chunk + 32 * h));
        digit[h] = in_range(x, '0', 10);
        upper[h] = in_range(x, 'A', 26);
        lower[h] = in_range(x, 'a', 26);
        us[h] = _mm256_cmpeq_epi8(x, _mm256_set1_epi8('_'));
        pp[h] = _mm256_or_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8('+')), _mm256_cmpeq_epi8(x, _mm256_set1_epi8('(')));
        sp[h] = _mm256_cmpeq_epi8(x, _mm256_set1_epi8(' '));
        __m256i lo = _mm256_and_si256(x, nibble);
        __m256i bit = _mm256_shuffle_epi8(bits, _mm256_and_si256(_mm256_srli_epi16(x, 4), nibble));
        f[h] = not_in_set(row1, lo, bit);
        s[h] = not_in_set(row2, lo, bit);
        fm[h] = not_in_set(row3, lo, bit);
        sm[h] = not_in_set(row4, lo, bit);
        for (int j = 0; j < PII_N_PRESENT; j++) special[j][h] = _mm256_cmpeq_epi8(x, _mm256_set1_epi8(PII_PRESENT_BYTES[j]));
    }
    out->digit = mask64(digit[0], digit[1]);
    out->upper = mask64(upper[0], upper[1]);
    out->lower = mask64(lower[0], lower[1]);
    out->underscore = mask64(us[0], us[1]);
    out->plus_paren = mask64(pp[0], pp[1]);
    out->space = mask64(sp[0], sp[1]);
    out->prefix_first = ~mask64(f[0], f[1]);
    out->prefix_second = ~mask64(s[0], s[1]);
    out->prefix_first_mid = ~mask64(fm[0], fm[1]);
    out->prefix_second_mid = ~mask64(sm[0], sm[1]);
    for (int j = 0; j < PII_N_PRESENT; j++) out->special[j] = mask64(special[j][0], special[j][1]);
}
