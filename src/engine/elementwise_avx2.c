/* AVX2 SwiGLU: eight lanes of sealm_ew_swiglu (elementwise.h) at once, with the same
 * operations in the same order per lane, so the bits are the scalar function's.
 *
 * sealm_expf's fast path (|n| <= 125, where p·2^n is a normal float and the product exact)
 * is computed for all lanes; a chunk with any lane outside it (|x| beyond about 86, NaN)
 * is redone by the scalar function, which handles the subnormal, overflow and NaN cases.
 * Activations that large do not occur in practice, so the fallback costs nothing. */
#include "engine/elementwise.h"

#include <immintrin.h>

/* exp(x) per lane as sealm_expf computes it; *in_range is false when some lane needs the
 * scalar path. */
static inline __m256 expf_x8(__m256 x, bool *in_range) {
    const __m256 shift = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shift);
    const __m256 n = _mm256_sub_ps(z, shift);
    /* fmaf(-n, c, x) is fnmadd(n, c, x): negating a product is exact */
    const __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256 r2 = _mm256_mul_ps(r, r);
    const __m256 p = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), r, _mm256_set1_ps(0x1.573e2ep-5f)), r2,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), r, _mm256_set1_ps(0x1.fffdb6p-2f))),
        r2, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), r, _mm256_set1_ps(1.0f)));
    /* |n| <= 125 (false for NaN) */
    const __m256 abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
    const __m256 ok = _mm256_cmp_ps(abs_n, _mm256_set1_ps(125.0f), _CMP_LE_OQ);
    *in_range = _mm256_movemask_ps(ok) == 0xff;
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

void sealm_swiglu_avx2(float *g, const float *u, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        bool in_range;
        const __m256 e = expf_x8(_mm256_sub_ps(_mm256_setzero_ps(), x), &in_range);   /* 0.0f - x */
        if (!in_range) {
            sealm_ew_swiglu(g + i, u + i, 8);
            continue;
        }
        const __m256 silu = _mm256_div_ps(x, _mm256_add_ps(one, e));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(silu, _mm256_loadu_ps(u + i)));
    }
    sealm_ew_swiglu(g + i, u + i, n - i);
}
