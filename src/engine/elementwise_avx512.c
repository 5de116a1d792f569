/* AVX-512 SwiGLU: sixteen lanes of sealm_ew_swiglu (elementwise.h) at once, with the same
 * operations in the same order per lane, so the bits are the scalar function's. exp is
 * expf_x16 (expf_x86.h); a chunk with a lane it does not handle (x below about -86, NaN)
 * is redone by the scalar function. Activations like that do not occur in practice, so
 * the fallback costs nothing. */
#include "engine/elementwise.h"
#include "engine/expf_x86.h"

#include <immintrin.h>

void sealm_swiglu_avx512(float *g, const float *u, int64_t n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 x = _mm512_loadu_ps(g + i);
        __m512 e;
        if (expf_x16(_mm512_sub_ps(_mm512_setzero_ps(), x), &e)) {   /* exp(0.0f - x) */
            sealm_ew_swiglu(g + i, u + i, 16);
            continue;
        }
        const __m512 silu = _mm512_div_ps(x, _mm512_add_ps(one, e));
        _mm512_storeu_ps(g + i, _mm512_mul_ps(silu, _mm512_loadu_ps(u + i)));
    }
    sealm_ew_swiglu(g + i, u + i, n - i);
}
