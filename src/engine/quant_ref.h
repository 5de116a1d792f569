/* Engine-internal: the scalar reference kernels, one set per type, gathered into the
 * kernel table by cpu.c. Signatures are those of sealm_to_float_fn, sealm_from_float_fn
 * and sealm_vec_dot_fn (quant.h); n is always a multiple of the type's block size.
 *
 * Naming: sealm_<type>_to_float (dequantize), sealm_<type>_from_float (quantize),
 * sealm_<type>_vec_dot_ref (weight row of <type> · activation row of its vec_dot_type). */
#ifndef SEALM_ENGINE_QUANT_REF_H
#define SEALM_ENGINE_QUANT_REF_H

#include "engine/quant.h"

#define SEALM_DECLARE_TO_FLOAT(t) \
    void sealm_##t##_to_float(const void *restrict src, float *restrict dst, int64_t n);
#define SEALM_DECLARE_FROM_FLOAT(t) \
    void sealm_##t##_from_float(const float *restrict src, void *restrict dst, int64_t n);
#define SEALM_DECLARE_VEC_DOT(t) \
    void sealm_##t##_vec_dot_ref(int64_t n, float *restrict s, const void *restrict w, const void *restrict x);

/* quant_float.c; sealm_f32_vec_dot_untiled: see there */
void sealm_f32_vec_dot_untiled(int64_t n, float *restrict s, const void *restrict w, const void *restrict x);
SEALM_DECLARE_TO_FLOAT(f32)   SEALM_DECLARE_FROM_FLOAT(f32)   SEALM_DECLARE_VEC_DOT(f32)
SEALM_DECLARE_TO_FLOAT(f16)   SEALM_DECLARE_FROM_FLOAT(f16)   SEALM_DECLARE_VEC_DOT(f16)
SEALM_DECLARE_TO_FLOAT(bf16)  SEALM_DECLARE_FROM_FLOAT(bf16)  SEALM_DECLARE_VEC_DOT(bf16)
/* quant_q4.c */
SEALM_DECLARE_TO_FLOAT(q4_0)  SEALM_DECLARE_FROM_FLOAT(q4_0)  SEALM_DECLARE_VEC_DOT(q4_0)
SEALM_DECLARE_TO_FLOAT(q4_1)  SEALM_DECLARE_FROM_FLOAT(q4_1)  SEALM_DECLARE_VEC_DOT(q4_1)
/* quant_q5.c */
SEALM_DECLARE_TO_FLOAT(q5_0)  SEALM_DECLARE_FROM_FLOAT(q5_0)  SEALM_DECLARE_VEC_DOT(q5_0)
SEALM_DECLARE_TO_FLOAT(q5_1)  SEALM_DECLARE_FROM_FLOAT(q5_1)  SEALM_DECLARE_VEC_DOT(q5_1)
/* quant_q8.c: Q8_0 is a weight type and an activation type; Q8_1 and Q8_K only activations */
SEALM_DECLARE_TO_FLOAT(q8_0)  SEALM_DECLARE_FROM_FLOAT(q8_0)  SEALM_DECLARE_VEC_DOT(q8_0)
SEALM_DECLARE_TO_FLOAT(q8_1)  SEALM_DECLARE_FROM_FLOAT(q8_1)
SEALM_DECLARE_TO_FLOAT(q8_K)  SEALM_DECLARE_FROM_FLOAT(q8_K)
/* quant_k.c */
SEALM_DECLARE_TO_FLOAT(q2_K)  SEALM_DECLARE_FROM_FLOAT(q2_K)  SEALM_DECLARE_VEC_DOT(q2_K)
SEALM_DECLARE_TO_FLOAT(q3_K)  SEALM_DECLARE_FROM_FLOAT(q3_K)  SEALM_DECLARE_VEC_DOT(q3_K)
SEALM_DECLARE_TO_FLOAT(q4_K)  SEALM_DECLARE_FROM_FLOAT(q4_K)  SEALM_DECLARE_VEC_DOT(q4_K)
SEALM_DECLARE_TO_FLOAT(q5_K)  SEALM_DECLARE_FROM_FLOAT(q5_K)  SEALM_DECLARE_VEC_DOT(q5_K)
SEALM_DECLARE_TO_FLOAT(q6_K)  SEALM_DECLARE_FROM_FLOAT(q6_K)  SEALM_DECLARE_VEC_DOT(q6_K)

#undef SEALM_DECLARE_TO_FLOAT
#undef SEALM_DECLARE_FROM_FLOAT
#undef SEALM_DECLARE_VEC_DOT

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block, unpacked from the
 * 12 scale bytes: j < 4 keeps them in the low 6 bits of bytes j and j+4; j >= 4 splits
 * them into a low nibble in byte j+4 and the top two bits of bytes j-4 and j. */
static inline void sealm_k4_scale_min(int j, const uint8_t *scales, uint8_t *sc, uint8_t *mn) {
    if (j < 4) {
        *sc = scales[j] & 63;
        *mn = scales[j + 4] & 63;
    } else {
        *sc = (uint8_t)((scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4));
        *mn = (uint8_t)((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
    }
}

/* The signed scale (-32..31) of sub-block j (0..15) of a Q3_K block: its low nibble sits
 * in byte j (j < 8, low nibble) or j-8 (high nibble), its top two bits in byte 8 + j%4 at
 * bit 2*(j/4); stored with +32. */
static inline int sealm_k3_scale(int j, const uint8_t *scales) {
    int lo = j < 8 ? (scales[j] & 0x0f) : (scales[j - 8] >> 4);
    int hi = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

/* ---- accumulation order ----
 * A quantized dot product is exact in integers within a block; only the float
 * accumulation across blocks rounds. We fix that order, and every SIMD version reproduces
 * it bit for bit, so that all levels give identical logits — and the same ones as the
 * reference implementation's x86 kernels, which the golden tests compare against. (An
 * activation is re-quantized after every product: a one-ulp difference can flip its
 * rounding and move a logit by a visible step, so "close" is not enough.)
 *
 * The order ("lane-8"): eight float accumulators; accumulator k receives, for every block,
 * fmaf(scale, integer sum over the elements whose index mod 32 lies in [4k, 4k+3], acc[k]);
 * at the end they are added as ((a0+a4) + (a2+a6)) + ((a1+a5) + (a3+a7)).
 * Q8_0, Q4_1, Q4_K and Q6_K use it; Q4_0 uses one fmaf chain over whole-block sums (the
 * reference repacks Q4_0 for x86 and accumulates per row). Q5_0, Q5_1, Q2_K, Q3_K and Q5_K
 * (no reference data to pin them to) sum each block in integers and accumulate the
 * blocks in one float chain; their SIMD versions agree to ~1e-6 relative, not bit for bit.
 *
 * The float types ("lane-16"): sixteen accumulators, accumulator l takes fmaf over the
 * elements with index mod 16 == l; reduced as in mathfn.h's sealm_sum16:
 * a_k = x[k] + x[k+8], b_k = a_k + a_{k+4}, (b0 + b2) + (b1 + b3). F32, F16, BF16 use it
 * (the engine runs F32 rows whose length is not a multiple of 16 in the reference's
 * untiled order instead, see sealm_f32_vec_dot_untiled). */
#include <math.h>

static inline float sealm_lane8_sum(const float a[8]) {
    const float r0 = a[0] + a[4], r1 = a[1] + a[5], r2 = a[2] + a[6], r3 = a[3] + a[7];
    return (r0 + r2) + (r1 + r3);
}

static inline float sealm_lane16_sum(const float x[16]) {
    float a[8], b[4];
    for (int k = 0; k < 8; k++) a[k] = x[k + 8] + x[k];
    for (int k = 0; k < 4; k++) b[k] = a[k + 4] + a[k];
    return (b[0] + b[2]) + (b[1] + b[3]);
}

/* acc[k] = fmaf(scale, sum of w[e]*x[e] over the 4 elements of lane k, acc[k]) for one
 * 32-element group given as ints. */
static inline void sealm_lane8_fma32(float acc[8], float scale, const int *w, const int8_t *x) {
    for (int k = 0; k < 8; k++) {
        int sumi = 0;
        for (int e = 4 * k; e < 4 * k + 4; e++) sumi += w[e] * x[e];
        acc[k] = fmaf(scale, (float)sumi, acc[k]);
    }
}

/* The writable table of installed vector operations (vec_ops.c); cpu.c fills it. */
sealm_vec_ops *sealm_vec_ops_installed(void);

#endif
