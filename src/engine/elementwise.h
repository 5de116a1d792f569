/* Engine-internal: the elementwise steps of the forward pass whose rounding is pinned
 * (mathfn.h), as static inline bodies that each ISA file compiles with its own flags.
 *
 * Why here and not in forward.c: these steps call fmaf (sealm_expf, RoPE). Built for
 * baseline x86-64, fmaf is a libm call through the PLT — a few percent of decode time —
 * while a file compiled with -mfma turns it into one vfmadd instruction. fmaf is exactly
 * rounded either way, so both builds give the same bits; vec_ops.c installs the baseline
 * copy and quant_avx2.c the FMA one (sealm_vec_ops: swiglu, softmax_exp, rope). */
#ifndef SEALM_ENGINE_ELEMENTWISE_H
#define SEALM_ENGINE_ELEMENTWISE_H

#include "engine/mathfn.h"

#include <stdbool.h>
#include <stdint.h>

/* g[i] = silu(g[i]) · u[i] for i < n (the 16-element-chunk body of a SwiGLU row). The
 * SIMD versions (elementwise_avx2.c, elementwise_avx512.c) give the same bits. */
static inline void sealm_ew_swiglu(float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) g[i] = sealm_silu(g[i]) * u[i];
}

/* scores[j] = exp(scores[j] - max) for j < n, returning the sum of the exps taken as
 * 16-element chunks (zero-padded), each reduced by sealm_sum16 and added in double. */
static inline double sealm_ew_softmax_exp(float *scores, int32_t n, float max) {
    double sum = 0.0;
    for (int32_t c = 0; c < n; c += 16) {
        float chunk[16] = {0};
        for (int32_t j = c; j < n && j < c + 16; j++) chunk[j - c] = scores[j] = sealm_expf(scores[j] - max);
        sum += (double)sealm_sum16(chunk);
    }
    return sum;
}

/* Rotates the first n_rot dims of each of n_heads heads of x (RoPE, Su et al. 2021) by the
 * angles whose cos/sin are c[i], s[i]: neox pairs halves (x[i], x[i + n_rot/2]), otherwise
 * neighbours (x[2i], x[2i+1]). */
static inline void sealm_ew_rope(float *x, int n_heads, int head_dim, int n_rot, bool neox, const float *c,
                                 const float *s) {
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (int64_t)h * head_dim;
        for (int i = 0; i < n_rot / 2; i++) {
            const int a = neox ? i : 2 * i;
            const int b = neox ? i + n_rot / 2 : 2 * i + 1;
            const float x0 = v[a], x1 = v[b];
            v[a] = fmaf(x0, c[i], -(x1 * s[i]));
            v[b] = fmaf(x0, s[i], x1 * c[i]);
        }
    }
}

#if defined(__x86_64__) || defined(_M_X64)
void sealm_swiglu_avx2(float *g, const float *u, int64_t n);
void sealm_swiglu_avx512(float *g, const float *u, int64_t n);
#endif

#endif
