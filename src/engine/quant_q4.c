/* Scalar kernels of the 4-bit block types Q4_0 and Q4_1 (32 weights a block).
 *
 * Both pack 32 4-bit quants into 16 bytes: byte j holds element j in its low nibble and
 * element j+16 in its high nibble.
 *   Q4_0: x = d * (q - 8)          (symmetric; d is fp16)
 *   Q4_1: x = d * q + m            (asymmetric; d and m are fp16)
 * Their dot products run against activations quantized to Q8_0 / Q8_1 respectively, in
 * integer arithmetic per block, then scaled by the two blocks' scales. */
#include "engine/quant_ref.h"

#include <math.h>

static int min_int(int a, int b) { return a < b ? a : b; }

/* ---- Q4_0 ---- */

void sealm_q4_0_to_float(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q4_0 *b = src;
    for (int64_t i = 0; i < n / QK4_0; i++, dst += QK4_0) {
        const float d = sealm_fp16_to_fp32(b[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            dst[j] = (float)((b[i].qs[j] & 0x0f) - 8) * d;
            dst[j + QK4_0 / 2] = (float)((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

/* The element of largest magnitude, with its sign: Q4_0/Q5_0 map it to the extreme negative
 * quant (-8 / -16), which has no positive twin, so that one level is not wasted. */
static float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

void sealm_q4_0_from_float(const float *restrict src, void *restrict dst, int64_t n) {
    block_q4_0 *b = dst;
    for (int64_t i = 0; i < n / QK4_0; i++, src += QK4_0) {
        const float d = signed_absmax(src, QK4_0) / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = sealm_fp32_to_fp16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            /* x/d lies in [-8, 8]; +8.5 then truncation rounds to nearest in 0..16, and the
             * one value that can reach 16 (the opposite extreme) is clamped */
            int q0 = min_int(15, (int)(src[j] * id + 8.5f));
            int q1 = min_int(15, (int)(src[j + QK4_0 / 2] * id + 8.5f));
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

/* one fmaf chain over whole-block integer sums (quant_ref.h) */
void sealm_q4_0_vec_dot_ref(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    const block_q4_0 *wb = w;
    const block_q8_0 *xb = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        int sumi = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            sumi += ((wb[i].qs[j] & 0x0f) - 8) * xb[i].qs[j];
            sumi += ((wb[i].qs[j] >> 4) - 8) * xb[i].qs[j + QK4_0 / 2];
        }
        sum = fmaf((float)sumi, sealm_fp16_to_fp32(wb[i].d) * sealm_fp16_to_fp32(xb[i].d), sum);
    }
    *s = sum;
}

/* ---- Q4_1 ---- */

void sealm_q4_1_to_float(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q4_1 *b = src;
    for (int64_t i = 0; i < n / QK4_1; i++, dst += QK4_1) {
        const float d = sealm_fp16_to_fp32(b[i].d);
        const float m = sealm_fp16_to_fp32(b[i].m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            dst[j] = (float)(b[i].qs[j] & 0x0f) * d + m;
            dst[j + QK4_1 / 2] = (float)(b[i].qs[j] >> 4) * d + m;
        }
    }
}

void sealm_q4_1_from_float(const float *restrict src, void *restrict dst, int64_t n) {
    block_q4_1 *b = dst;
    for (int64_t i = 0; i < n / QK4_1; i++, src += QK4_1) {
        float min = src[0], max = src[0];
        for (int j = 1; j < QK4_1; j++) {
            min = fminf(min, src[j]);
            max = fmaxf(max, src[j]);
        }
        const float d = (max - min) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = sealm_fp32_to_fp16(d);
        b[i].m = sealm_fp32_to_fp16(min);
        for (int j = 0; j < QK4_1 / 2; j++) {
            /* (x - min)/d lies in [0, 15]: +0.5 then truncation rounds to nearest */
            int q0 = min_int(15, (int)((src[j] - min) * id + 0.5f));
            int q1 = min_int(15, (int)((src[j + QK4_1 / 2] - min) * id + 0.5f));
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

/* sum_j (d_w q_j + m)(d_x r_j) = d_w d_x sum(q r) + m * (d_x sum r), and the Q8_1 block
 * carries d_x sum r as s. The first term in lane-8 order, the second as its own running
 * fmaf chain, added at the end (quant_ref.h). */
void sealm_q4_1_vec_dot_ref(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    const block_q4_1 *wb = w;
    const block_q8_1 *xb = x;
    float acc[8] = {0};
    float summs = 0.0f;
    int q[QK4_1];
    for (int64_t i = 0; i < n / QK4_1; i++) {
        summs = fmaf(sealm_fp16_to_fp32(wb[i].m), sealm_fp16_to_fp32(xb[i].s), summs);
        for (int j = 0; j < QK4_1 / 2; j++) {
            q[j] = wb[i].qs[j] & 0x0f;
            q[j + QK4_1 / 2] = wb[i].qs[j] >> 4;
        }
        sealm_lane8_fma32(acc, sealm_fp16_to_fp32(wb[i].d) * sealm_fp16_to_fp32(xb[i].d), q, xb[i].qs);
    }
    *s = sealm_lane8_sum(acc) + summs;
}
