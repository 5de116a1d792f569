/* AVX-512 SwiGLU: sixteen lanes of sealm_ew_swiglu (elementwise.h) at once, with the same
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
static inline __m512 expf_x16(__m512 x, bool *in_range) {
    const __m512 shift = _mm512_set1_ps(0x1.8p23f);
    const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), shift);
    const __m512 n = _mm512_sub_ps(z, shift);
    /* fmaf(-n, c, x) is fnmadd(n, c, x): negating a product is exact */
    const __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                      _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
    const __m512 r2 = _mm512_mul_ps(r, r);
    const __m512 p = _mm512_fmadd_ps(
        _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), r, _mm512_set1_ps(0x1.573e2ep-5f)), r2,
                        _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), r, _mm512_set1_ps(0x1.fffdb6p-2f))),
        r2, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), r, _mm512_set1_ps(1.0f)));
    /* |n| <= 125 (false for NaN) */
    const __mmask16 ok = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(125.0f), _CMP_LE_OQ);
    *in_range = ok == 0xffff;
    const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

void sealm_swiglu_avx512(float *g, const float *u, int64_t n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 x = _mm512_loadu_ps(g + i);
        bool in_range;
        const __m512 e = expf_x16(_mm512_sub_ps(_mm512_setzero_ps(), x), &in_range);   /* 0.0f - x */
        if (!in_range) {
            sealm_ew_swiglu(g + i, u + i, 16);
            continue;
        }
        const __m512 silu = _mm512_div_ps(x, _mm512_add_ps(one, e));
        _mm512_storeu_ps(g + i, _mm512_mul_ps(silu, _mm512_loadu_ps(u + i)));
    }
    sealm_ew_swiglu(g + i, u + i, n - i);
}
