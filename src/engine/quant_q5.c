/* Scalar kernels of the 5-bit block types Q5_0 and Q5_1 (32 weights a block).
 *
 * The low 4 bits of each quant are packed as in Q4_0 (byte j: element j low nibble,
 * element j+16 high nibble); the 5th bits are gathered in qh, a little-endian 32-bit word
 * whose bit j belongs to element j (0..31).
 *   Q5_0: x = d * (q - 16)         (d fp16)
 *   Q5_1: x = d * q + m            (d, m fp16)
 * Dot products run against Q8_0 / Q8_1 activations, integer per block. */
#include "engine/quant_ref.h"

#include <math.h>

static int min_int(int a, int b) { return a < b ? a : b; }

static uint32_t load_qh(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | ((uint32_t)qh[1] << 8) | ((uint32_t)qh[2] << 16) | ((uint32_t)qh[3] << 24);
}

static void store_qh(uint8_t qh[4], uint32_t v) {
    for (int k = 0; k < 4; k++)
        qh[k] = (uint8_t)(v >> (8 * k));
}

/* The 5-bit quants (0..31) of one block, in element order. */
static void unpack_q5(const uint8_t qs[16], const uint8_t qh_bytes[4], int q[32]) {
    const uint32_t qh = load_qh(qh_bytes);
    for (int j = 0; j < 16; j++) {
        q[j] = (qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
        q[j + 16] = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
    }
}

/* Packs 32 quants (0..31) into qs/qh. */
static void pack_q5(const int q[32], uint8_t qs[16], uint8_t qh_bytes[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0f) | ((q[j + 16] & 0x0f) << 4));
        qh |= (uint32_t)(q[j] >> 4) << j;
        qh |= (uint32_t)(q[j + 16] >> 4) << (j + 16);
    }
    store_qh(qh_bytes, qh);
}

/* ---- Q5_0 ---- */

void sealm_q5_0_to_float(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q5_0 *b = src;
    int q[QK5_0];
    for (int64_t i = 0; i < n / QK5_0; i++, dst += QK5_0) {
        const float d = sealm_fp16_to_fp32(b[i].d);
        unpack_q5(b[i].qs, b[i].qh, q);
        for (int j = 0; j < QK5_0; j++)
            dst[j] = (float)(q[j] - 16) * d;
    }
}

void sealm_q5_0_from_float(const float *restrict src, void *restrict dst, int64_t n) {
    block_q5_0 *b = dst;
    int q[QK5_0];
    for (int64_t i = 0; i < n / QK5_0; i++, src += QK5_0) {
        /* the signed extreme maps to -16, the level without a positive twin */
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK5_0; j++) {
            if (fabsf(src[j]) > amax) {
                amax = fabsf(src[j]);
                max = src[j];
            }
        }
        const float d = max / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = sealm_fp32_to_fp16(d);
        for (int j = 0; j < QK5_0; j++)
            q[j] = min_int(31, (int)(src[j] * id + 16.5f));  /* round to nearest, clamp 32 */
        pack_q5(q, b[i].qs, b[i].qh);
    }
}

void sealm_q5_0_vec_dot_ref(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    const block_q5_0 *wb = w;
    const block_q8_0 *xb = x;
    int q[QK5_0];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK5_0; i++) {
        unpack_q5(wb[i].qs, wb[i].qh, q);
        int sumi = 0;
        for (int j = 0; j < QK5_0; j++)
            sumi += (q[j] - 16) * xb[i].qs[j];
        sum += (sealm_fp16_to_fp32(wb[i].d) * sealm_fp16_to_fp32(xb[i].d)) * (float)sumi;
    }
    *s = sum;
}

/* ---- Q5_1 ---- */

void sealm_q5_1_to_float(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q5_1 *b = src;
    int q[QK5_1];
    for (int64_t i = 0; i < n / QK5_1; i++, dst += QK5_1) {
        const float d = sealm_fp16_to_fp32(b[i].d);
        const float m = sealm_fp16_to_fp32(b[i].m);
        unpack_q5(b[i].qs, b[i].qh, q);
        for (int j = 0; j < QK5_1; j++)
            dst[j] = (float)q[j] * d + m;
    }
}

void sealm_q5_1_from_float(const float *restrict src, void *restrict dst, int64_t n) {
    block_q5_1 *b = dst;
    int q[QK5_1];
    for (int64_t i = 0; i < n / QK5_1; i++, src += QK5_1) {
        float min = src[0], max = src[0];
        for (int j = 1; j < QK5_1; j++) {
            min = fminf(min, src[j]);
            max = fmaxf(max, src[j]);
        }
        const float d = (max - min) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = sealm_fp32_to_fp16(d);
        b[i].m = sealm_fp32_to_fp16(min);
        for (int j = 0; j < QK5_1; j++)
            q[j] = min_int(31, (int)((src[j] - min) * id + 0.5f));
        pack_q5(q, b[i].qs, b[i].qh);
    }
}

/* As Q4_1: the min's contribution is m * s, s = d_x * sum(r) carried by the Q8_1 block. */
void sealm_q5_1_vec_dot_ref(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    const block_q5_1 *wb = w;
    const block_q8_1 *xb = x;
    int q[QK5_1];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK5_1; i++) {
        unpack_q5(wb[i].qs, wb[i].qh, q);
        int sumi = 0;
        for (int j = 0; j < QK5_1; j++)
            sumi += q[j] * xb[i].qs[j];
        sum += (sealm_fp16_to_fp32(wb[i].d) * sealm_fp16_to_fp32(xb[i].d)) * (float)sumi
             + sealm_fp16_to_fp32(wb[i].m) * sealm_fp16_to_fp32(xb[i].s);
    }
    *s = sum;
}
