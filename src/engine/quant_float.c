/* Scalar kernels of the floating-point types F32, F16 and BF16.
 *
 * Their vec_dot_type is themselves: a F16 weight row is multiplied with activations first
 * rounded to F16 (as the reference implementation does), so products of two halves are
 * exact in float. The reference dot products accumulate in double, which makes them a
 * good yardstick for the SIMD versions (which accumulate in float lanes). */
#include "engine/quant_ref.h"

#include <math.h>

#include <string.h>

/* ---- F32: plain floats ---- */

void sealm_f32_to_float(const void *restrict src, float *restrict dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void sealm_f32_from_float(const float *restrict src, void *restrict dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

/* lane-16 order (quant_ref.h) */
void sealm_f32_vec_dot_ref(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    const float *a = w, *b = x;
    float lane[16] = {0};
    for (int64_t i = 0; i < n; i++) lane[i & 15] = fmaf(a[i], b[i], lane[i & 15]);
    *s = sealm_lane16_sum(lane);
}

/* The reference's order for F32 rows whose length is not a multiple of 16 (its tiled
 * kernel needs one): 4×16 accumulators over whole 64-element steps, folded lane by lane as
 * (acc0 + acc2) + (acc1 + acc3), reduced as lane-16, then the tail added one product at a
 * time. Only tiny models have such rows; the engine picks this for them (model.c). */
void sealm_f32_vec_dot_untiled(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    const float *a = w, *b = x;
    float acc[4][16] = {{0}}, lane[16];
    const int64_t body = n & ~(int64_t)63;
    for (int64_t i = 0; i < body; i++) acc[(i >> 4) & 3][i & 15] = fmaf(a[i], b[i], acc[(i >> 4) & 3][i & 15]);
    for (int l = 0; l < 16; l++) lane[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
    float sum = sealm_lane16_sum(lane);
    for (int64_t i = body; i < n; i++) {
        const float p = a[i] * b[i];   /* rounded, then added: no fused multiply-add here */
        sum += p;
    }
    *s = sum;
}

/* ---- F16: IEEE binary16 ---- */

void sealm_f16_to_float(const void *restrict src, float *restrict dst, int64_t n) {
    const sealm_fp16 *h = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = sealm_fp16_to_fp32(h[i]);
}

void sealm_f16_from_float(const float *restrict src, void *restrict dst, int64_t n) {
    sealm_fp16 *h = dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = sealm_fp32_to_fp16(src[i]);
}

/* lane-16 order (quant_ref.h) */
void sealm_f16_vec_dot_ref(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    const sealm_fp16 *a = w, *b = x;
    float lane[16] = {0};
    for (int64_t i = 0; i < n; i++) lane[i & 15] = fmaf(sealm_fp16_to_fp32(a[i]), sealm_fp16_to_fp32(b[i]), lane[i & 15]);
    *s = sealm_lane16_sum(lane);
}

/* ---- BF16: the top half of a float ---- */

void sealm_bf16_to_float(const void *restrict src, float *restrict dst, int64_t n) {
    const sealm_bf16 *h = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = sealm_bf16_to_fp32(h[i]);
}

void sealm_bf16_from_float(const float *restrict src, void *restrict dst, int64_t n) {
    sealm_bf16 *h = dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = sealm_fp32_to_bf16(src[i]);
}

/* lane-16 order (quant_ref.h) */
void sealm_bf16_vec_dot_ref(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    const sealm_bf16 *a = w, *b = x;
    float lane[16] = {0};
    for (int64_t i = 0; i < n; i++) lane[i & 15] = fmaf(sealm_bf16_to_fp32(a[i]), sealm_bf16_to_fp32(b[i]), lane[i & 15]);
    *s = sealm_lane16_sum(lane);
}
