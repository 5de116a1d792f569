/* Engine-internal: sealm_expf (mathfn.h) on 8 (AVX2 + FMA) and 16 (AVX-512F) lanes, for the
 * softmax (attention_avx2.c, attention_avx512.c) and SwiGLU (elementwise_avx2.c,
 * elementwise_avx512.c). The same operations as the scalar function lane by lane, so the
 * same bits; lanes outside what the vector code handles are flagged for the scalar one.
 *
 * Only include this from files compiled with -mavx2 -mfma (the *_avx2.c and *_avx512.c
 * files, see CMakeLists.txt); the 16-lane version exists where AVX-512F is enabled. */
#ifndef SEALM_ENGINE_EXPF_X86_H
#define SEALM_ENGINE_EXPF_X86_H

#include <immintrin.h>
#include <stdint.h>

/* sealm_expf on 8 lanes, the same operations lane by lane. *e gets the result; the
 * return value has a bit set for each lane this does not handle (n > 125, or NaN input:
 * never for the x <= 0 of a softmax with finite scores), which the caller computes with
 * sealm_expf. Below the normal range (n < -125) the scalar code scales by scalbnf(p, n),
 * one correctly rounded scaling; here p · 2^(n+100) is exact and normal, and the one
 * rounding happens in the multiplication by 2^-100, so the result is the same. */
static inline int expf_x8(__m256 x, __m256 *e) {
    const __m256 shift = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shift);
    const __m256 n = _mm256_sub_ps(z, shift);
    const __m256 minus_n = _mm256_xor_ps(n, _mm256_set1_ps(-0.0f));
    const __m256 r = _mm256_fmadd_ps(minus_n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                     _mm256_fmadd_ps(minus_n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256 r2 = _mm256_mul_ps(r, r);
    const __m256 hi = _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), r, _mm256_set1_ps(0x1.573e2ep-5f)), r2,
                                      _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), r, _mm256_set1_ps(0x1.fffdb6p-2f)));
    const __m256 p = _mm256_fmadd_ps(hi, r2, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), r, _mm256_set1_ps(1.0f)));
    const __m256 abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
    const __m256 normal = _mm256_cmp_ps(abs_n, _mm256_set1_ps(125.0f), _CMP_LE_OQ);
    const __m256 flush = _mm256_cmp_ps(n, _mm256_set1_ps(-192.0f), _CMP_LT_OQ);
    const __m256 low = _mm256_andnot_ps(flush, _mm256_cmp_ps(n, _mm256_set1_ps(-125.0f), _CMP_LT_OQ));
    const __m256i ni = _mm256_cvttps_epi32(n);
    const __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(ni, _mm256_set1_epi32(127)), 23));
    const __m256 scale_low = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(ni, _mm256_set1_epi32(227)), 23));
    const __m256 at_normal = _mm256_and_ps(normal, _mm256_mul_ps(p, scale));                 /* n < -192: 0 */
    const __m256 at_low = _mm256_and_ps(low, _mm256_mul_ps(_mm256_mul_ps(p, scale_low), _mm256_set1_ps(0x1p-100f)));
    *e = _mm256_or_ps(at_normal, at_low);
    return ~_mm256_movemask_ps(_mm256_or_ps(_mm256_or_ps(normal, flush), low)) & 0xff;
}

#ifdef __AVX512F__
/* sealm_expf on 16 lanes, the same operations lane by lane. *e gets the result; the
 * return value flags the lanes this does not handle (n > 125, or NaN input: never for the
 * x <= 0 of a softmax with finite scores), which the caller computes with sealm_expf.
 * Below the normal range (n < -125) the scalar code scales by scalbnf(p, n), one correctly
 * rounded scaling; here p · 2^(n+100) is exact and normal, and the one rounding happens in
 * the multiplication by 2^-100, so the result is the same. */
static inline __mmask16 expf_x16(__m512 x, __m512 *e) {
    const __m512 shift = _mm512_set1_ps(0x1.8p23f);
    const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), shift);
    const __m512 n = _mm512_sub_ps(z, shift);
    const __m512 minus_n = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(n), _mm512_set1_epi32(INT32_MIN)));
    const __m512 r = _mm512_fmadd_ps(minus_n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                     _mm512_fmadd_ps(minus_n, _mm512_set1_ps(0x1.62e4p-1f), x));
    const __m512 r2 = _mm512_mul_ps(r, r);
    const __m512 hi = _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), r, _mm512_set1_ps(0x1.573e2ep-5f)), r2,
                                      _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), r, _mm512_set1_ps(0x1.fffdb6p-2f)));
    const __m512 p = _mm512_fmadd_ps(hi, r2, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), r, _mm512_set1_ps(1.0f)));
    const __m512 abs_n = _mm512_abs_ps(n);
    const __mmask16 normal = _mm512_cmp_ps_mask(abs_n, _mm512_set1_ps(125.0f), _CMP_LE_OQ);
    const __mmask16 flush = _mm512_cmp_ps_mask(n, _mm512_set1_ps(-192.0f), _CMP_LT_OQ);
    const __mmask16 low = _mm512_cmp_ps_mask(n, _mm512_set1_ps(-125.0f), _CMP_LT_OQ) & (__mmask16)~flush;
    const __m512i ni = _mm512_cvttps_epi32(n);
    const __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(ni, _mm512_set1_epi32(127)), 23));
    const __m512 scale_low = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(ni, _mm512_set1_epi32(227)), 23));
    __m512 out = _mm512_setzero_ps();                                          /* n < -192: 0 */
    out = _mm512_mask_mul_ps(out, normal, p, scale);
    out = _mm512_mask_mul_ps(out, low, _mm512_mul_ps(p, scale_low), _mm512_set1_ps(0x1p-100f));
    *e = out;
    return (__mmask16)~(normal | flush | low);
}
#endif

#endif
