/* Engine-internal: elementwise functions and reductions whose rounding is pinned down.
 *
 * Why pinned: after almost every step the engine re-quantizes activations (Q8_0/Q8_K) or
 * rounds them to F16 (KV cache, softmax weights), so a one-ulp difference can flip a
 * rounding and move a logit by a visible step. To give identical results on every SIMD
 * level — and the same ones as the reference implementation on x86 with AVX-512, which
 * produced ../shared/golden — each function below fixes its operation order:
 *
 * - sealm_expf: the single-precision exp method of ARM's optimized-routines (range
 *   reduction by round(x/ln2) with the 1.5·2^23 shift, ln2 split in two, a degree-5
 *   polynomial, scaling by 2^n), accurate to about 1 ulp; the reference's softmax and SiLU
 *   use the same method.
 * - sealm_sum16: the 16-lane tree reduction: a_k = x[k] + x[k+8], b_k = a_k + a_{k+4},
 *   result (b0 + b2) + (b1 + b3).
 * - sealm_dot16_f16: dot product of two F16 vectors in 16 float lanes (lane l takes the
 *   elements with index mod 16 == l, one fma chain each), then sealm_sum16. */
#ifndef SEALM_ENGINE_MATHFN_H
#define SEALM_ENGINE_MATHFN_H

#include "engine/quant_ref.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float sealm_expf(float x) {
    const float shift = 0x1.8p23f;                       /* adding it rounds to an integer */
    const float z = fmaf(x, 0x1.715476p+0f, shift);      /* x / ln2 + shift */
    const float n = z - shift;                           /* round(x / ln2) */
    /* r = x - n·ln2, with ln2 = 0x1.62e4p-1 + 0x1.7f7d1cp-20 so the product is exact enough */
    const float r = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    const float r2 = r * r;
    /* exp(r) - on [-ln2/2, ln2/2] by a minimax polynomial */
    const float p = fmaf(fmaf(fmaf(0x1.0e4020p-7f, r, 0x1.573e2ep-5f), r2, fmaf(0x1.555e66p-3f, r, 0x1.fffdb6p-2f)),
                         r2, fmaf(0x1.ffffecp-1f, r, 1.0f));
    if (fabsf(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;   /* also catches x = ±inf */
    /* p lies in [0.7, 1.42], so for |n| <= 125 p·2^n is a normal float and the product is
     * exact: the same value scalbnf returns, without the libm call. Outside, results may
     * be subnormal or overflow, where scalbnf's single rounding matters. */
    if (fabsf(n) <= 125.0f) {
        const int32_t bits = ((int32_t)n + 127) << 23;
        float scale;
        memcpy(&scale, &bits, sizeof scale);
        return p * scale;
    }
    return scalbnf(p, (int)n);
}

/* x / (1 + exp(-x)) (Elfwing et al. 2018) */
static inline float sealm_silu(float x) { return x / (1.0f + sealm_expf(0.0f - x)); }

static inline float sealm_sum16(const float x[16]) { return sealm_lane16_sum(x); }

#endif
