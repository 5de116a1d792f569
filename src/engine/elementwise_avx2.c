/* AVX2 SwiGLU: eight lanes of sealm_ew_swiglu (elementwise.h) at once, with the same
 * operations in the same order per lane, so the bits are the scalar function's. exp is
 * expf_x8 (expf_x86.h); a chunk with a lane it does not handle (x below about -86, NaN)
 * is redone by the scalar function. Activations like that do not occur in practice, so
 * the fallback costs nothing. */
#include "engine/elementwise.h"
#include "engine/expf_x86.h"

#include <immintrin.h>

void sealm_swiglu_avx2(float *g, const float *u, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        __m256 e;
        if (expf_x8(_mm256_sub_ps(_mm256_setzero_ps(), x), &e)) {   /* exp(0.0f - x) */
            sealm_ew_swiglu(g + i, u + i, 8);
            continue;
        }
        const __m256 silu = _mm256_div_ps(x, _mm256_add_ps(one, e));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(silu, _mm256_loadu_ps(u + i)));
    }
    sealm_ew_swiglu(g + i, u + i, n - i);
}
