/* Scalar kernels of the 8-bit types: Q8_0 (weights and activations), and the activation
 * formats Q8_1 and Q8_K.
 *   Q8_0: 32 int8 quants, x = d * q, d = amax/127 (fp16).
 *   Q8_1: as Q8_0, plus s = d * sum(q) (fp16), which the Q4_1/Q5_1 dot products use to
 *         apply the weight block's min without touching the quants again.
 *   Q8_K: 256 int8 quants with a float scale, plus the sums of each 16 quants (bsums),
 *         which the K-quant dot products use to apply the sub-block mins.
 * The quantizers follow the reference implementation's x86 rounding exactly (Q8_0/Q8_1:
 * q = rint(x · 127/amax), halves to even; Q8_K: scale -127/max, halves to even), because an
 * activation rounded the other way moves a logit by a visible step, and the golden logits
 * we compare against come from that implementation. */
#include "engine/quant_ref.h"

#include <math.h>
#include <string.h>

static float absmax(const float *x, int n) {
    float amax = 0.0f;
    for (int j = 0; j < n; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    return amax;
}

/* One 32-element block: q = rint(x · 127/amax), d = amax/127 (returned); the quants' sum
 * goes to *sum (Q8_1 needs it). Shared by Q8_0 and Q8_1, which differ only in that sum. */
static float quantize_block32(const float *x, int8_t *q, int *sum) {
    const float amax = absmax(x, 32);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int total = 0;
    for (int j = 0; j < 32; j++) {
        q[j] = (int8_t)rintf(x[j] * id);
        total += q[j];
    }
    *sum = total;
    return amax / 127.0f;
}

static void dequantize_block32(const int8_t *q, sealm_fp16 d16, float *dst) {
    const float d = sealm_fp16_to_fp32(d16);
    for (int j = 0; j < 32; j++) dst[j] = (float)q[j] * d;
}

/* ---- Q8_0 ---- */

void sealm_q8_0_to_float(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q8_0 *b = src;
    for (int64_t i = 0; i < n / QK8_0; i++, dst += QK8_0) dequantize_block32(b[i].qs, b[i].d, dst);
}

void sealm_q8_0_from_float(const float *restrict src, void *restrict dst, int64_t n) {
    block_q8_0 *b = dst;
    int sum;
    for (int64_t i = 0; i < n / QK8_0; i++, src += QK8_0) b[i].d = sealm_fp32_to_fp16(quantize_block32(src, b[i].qs, &sum));
}

/* lane-8 order (quant_ref.h) */
void sealm_q8_0_vec_dot_ref(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    const block_q8_0 *wb = w;
    const block_q8_0 *xb = x;
    float acc[8] = {0};
    int q[QK8_0];
    for (int64_t i = 0; i < n / QK8_0; i++) {
        for (int j = 0; j < QK8_0; j++) q[j] = wb[i].qs[j];
        sealm_lane8_fma32(acc, sealm_fp16_to_fp32(wb[i].d) * sealm_fp16_to_fp32(xb[i].d), q, xb[i].qs);
    }
    *s = sealm_lane8_sum(acc);
}

/* ---- Q8_1 ---- */

void sealm_q8_1_to_float(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q8_1 *b = src;
    for (int64_t i = 0; i < n / QK8_1; i++, dst += QK8_1) dequantize_block32(b[i].qs, b[i].d, dst);
}

void sealm_q8_1_from_float(const float *restrict src, void *restrict dst, int64_t n) {
    block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / QK8_1; i++, src += QK8_1) {
        int sum;
        const float d = quantize_block32(src, b[i].qs, &sum);
        b[i].d = sealm_fp32_to_fp16(d);
        b[i].s = sealm_fp32_to_fp16((float)sum * d);
    }
}

/* ---- Q8_K ---- */

void sealm_q8_K_to_float(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q8_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K)
        for (int j = 0; j < QK_K; j++)
            dst[j] = b[i].d * (float)b[i].qs[j];
}

void sealm_q8_K_from_float(const float *restrict src, void *restrict dst, int64_t n) {
    block_q8_K *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        /* the signed value of largest magnitude maps to -127 exactly */
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK_K; j++) {
            if (fabsf(src[j]) > amax) {
                amax = fabsf(src[j]);
                max = src[j];
            }
        }
        if (amax == 0.0f) {
            memset(&b[i], 0, sizeof b[i]);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; j++) {
            /* round half to even (rintf in the default rounding mode); the opposite
             * extreme can round to 128, which int8 cannot hold */
            int v = (int)rintf(iscale * src[j]);
            b[i].qs[j] = (int8_t)(v > 127 ? 127 : v);
        }
        for (int g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++)
                sum += b[i].qs[16 * g + j];
            b[i].bsums[g] = (int16_t)sum;
        }
        b[i].d = 1.0f / iscale;
    }
}
