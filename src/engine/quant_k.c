/* Scalar kernels of the K-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (256 weights a super-block).
 *
 * Each super-block has an fp16 scale d (and for the asymmetric types an fp16 dmin), and
 * small integer scales (and mins) per sub-block of 16 or 32 weights:
 *   Q2_K: 16 sub-blocks of 16, x = d*sc*q - dmin*m, q 0..3, sc and m 4-bit (one byte each:
 *         low nibble sc, high nibble m).
 *   Q3_K: 16 sub-blocks of 16, x = d*sc*q, q -4..3 (low 2 bits in qs, the 3rd bit in hmask,
 *         clear meaning -4), sc signed 6-bit packed in 12 bytes (see sealm_k3_scale).
 *   Q4_K: 8 sub-blocks of 32, x = d*sc*q - dmin*m, q 0..15, sc/m 6-bit packed in 12 bytes
 *         (see sealm_k4_scale_min).
 *   Q5_K: as Q4_K with q 0..31, the 5th bit in qh.
 *   Q6_K: 16 sub-blocks of 16, x = d*sc*q, q -32..31 (low 4 bits in ql, high 2 in qh),
 *         sc int8.
 * The bit layouts interleave elements so that SIMD code can unpack 32 at a time; here
 * each type has an unpack function (block -> one integer quant per element, in element
 * order) and a pack function (the inverse), and the kernels work on the unpacked quants.
 *
 * Dot products run against Q8_K activations: per sub-block the integer sum of q*r times
 * the integer scale, summed over the super-block in int32 (no overflow: at most
 * 256*32*127*128 < 2^31 for Q6_K), then scaled by d*d_x once. The mins' contribution uses
 * the activation's bsums: sum_j m*r_j = m * bsum.
 *
 * The quantizers (sealm_<type>_from_float) are simple, not the reference implementation's
 * error-minimizing search: they pick scales so that every value is representable and
 * round each one to the nearest level. They exist to make test weights. */
#include "engine/quant_ref.h"

#include <math.h>
#include <string.h>

/* ---- unpack / pack: quants in element order ---- */

/* Q2_K: element e = 128h + 32j + l sits in bits 2j..2j+1 of qs[32h + l]. */
static void unpack_q2_K(const block_q2_K *b, int8_t q[QK_K]) {
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, j = (e % 128) / 32, l = e % 32;
        q[e] = (int8_t)((b->qs[32 * h + l] >> (2 * j)) & 3);
    }
}

static void pack_q2_K(const int8_t q[QK_K], block_q2_K *b) {
    memset(b->qs, 0, sizeof b->qs);
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, j = (e % 128) / 32, l = e % 32;
        b->qs[32 * h + l] |= (uint8_t)(q[e] << (2 * j));
    }
}

/* Q3_K: the low two bits as in Q2_K; bit e/32 of hmask[e%32] set means "no -4 offset". */
static void unpack_q3_K(const block_q3_K *b, int8_t q[QK_K]) {
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, j = (e % 128) / 32, l = e % 32;
        int low = (b->qs[32 * h + l] >> (2 * j)) & 3;
        int high = (b->hmask[l] >> (e / 32)) & 1;
        q[e] = (int8_t)(low - (high ? 0 : 4));
    }
}

static void pack_q3_K(const int8_t q[QK_K], block_q3_K *b) {
    memset(b->qs, 0, sizeof b->qs);
    memset(b->hmask, 0, sizeof b->hmask);
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, j = (e % 128) / 32, l = e % 32;
        int u = q[e] + 4;   /* 0..7: u >= 4 means high bit set and low = q */
        b->qs[32 * h + l] |= (uint8_t)((u & 3) << (2 * j));
        b->hmask[l] |= (uint8_t)((u >> 2) << (e / 32));
    }
}

static void pack_q3_K_scales(const int sc[16], uint8_t scales[12]) {
    memset(scales, 0, 12);
    for (int j = 0; j < 16; j++) {
        int v = sc[j] + 32;   /* 0..63 */
        if (j < 8)
            scales[j] |= (uint8_t)(v & 0x0f);
        else
            scales[j - 8] |= (uint8_t)((v & 0x0f) << 4);
        scales[8 + j % 4] |= (uint8_t)((v >> 4) << (2 * (j / 4)));
    }
}

/* Q4_K: chunk c of 64 elements uses qs[32c..32c+31]: low nibbles are elements 64c..64c+31,
 * high nibbles 64c+32..64c+63. */
static void unpack_q4_K(const block_q4_K *b, int8_t q[QK_K]) {
    for (int e = 0; e < QK_K; e++) {
        int c = e / 64, hi = (e % 64) / 32, l = e % 32;
        q[e] = (int8_t)((b->qs[32 * c + l] >> (4 * hi)) & 0x0f);
    }
}

static void pack_q4_K_nibbles(const int8_t q[QK_K], uint8_t qs[QK_K / 2]) {
    memset(qs, 0, QK_K / 2);
    for (int e = 0; e < QK_K; e++) {
        int c = e / 64, hi = (e % 64) / 32, l = e % 32;
        qs[32 * c + l] |= (uint8_t)((q[e] & 0x0f) << (4 * hi));
    }
}

/* The inverse of sealm_k4_scale_min: 8 6-bit scales and 8 6-bit mins into 12 bytes. */
static void pack_k4_scales(const int sc[8], const int mn[8], uint8_t scales[12]) {
    for (int j = 0; j < 4; j++) {
        scales[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
        scales[j + 4] = (uint8_t)(mn[j] | ((mn[j + 4] >> 4) << 6));
        scales[j + 8] = (uint8_t)((sc[j + 4] & 0x0f) | ((mn[j + 4] & 0x0f) << 4));
    }
}

/* Q5_K: low 4 bits as Q4_K; bit e/32 of qh[e%32] is the 5th bit. */
static void unpack_q5_K(const block_q5_K *b, int8_t q[QK_K]) {
    for (int e = 0; e < QK_K; e++) {
        int c = e / 64, hi = (e % 64) / 32, l = e % 32;
        int low = (b->qs[32 * c + l] >> (4 * hi)) & 0x0f;
        int high = (b->qh[l] >> (e / 32)) & 1;
        q[e] = (int8_t)(low | (high << 4));
    }
}

static void pack_q5_K(const int8_t q[QK_K], block_q5_K *b) {
    pack_q4_K_nibbles(q, b->qs);
    memset(b->qh, 0, sizeof b->qh);
    for (int e = 0; e < QK_K; e++)
        b->qh[e % 32] |= (uint8_t)((q[e] >> 4) << (e / 32));
}

/* Q6_K: half h (128 elements) uses ql[64h..64h+63] and qh[32h..32h+31]; for l < 32 the
 * quarters k = 0..3 of the half (elements 128h + 32k + l) take:
 *   k=0: low nibble of ql[64h+l],     bits 0-1 of qh[32h+l]
 *   k=1: low nibble of ql[64h+32+l],  bits 2-3
 *   k=2: high nibble of ql[64h+l],    bits 4-5
 *   k=3: high nibble of ql[64h+32+l], bits 6-7
 * and the 6-bit value is stored with +32. */
static void unpack_q6_K(const block_q6_K *b, int8_t q[QK_K]) {
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, k = (e % 128) / 32, l = e % 32;
        int low = (b->ql[64 * h + 32 * (k & 1) + l] >> (4 * (k >> 1))) & 0x0f;
        int high = (b->qh[32 * h + l] >> (2 * k)) & 3;
        q[e] = (int8_t)((low | (high << 4)) - 32);
    }
}

static void pack_q6_K(const int8_t q[QK_K], block_q6_K *b) {
    memset(b->ql, 0, sizeof b->ql);
    memset(b->qh, 0, sizeof b->qh);
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, k = (e % 128) / 32, l = e % 32;
        int u = q[e] + 32;   /* 0..63 */
        b->ql[64 * h + 32 * (k & 1) + l] |= (uint8_t)((u & 0x0f) << (4 * (k >> 1)));
        b->qh[32 * h + l] |= (uint8_t)((u >> 4) << (2 * k));
    }
}

/* ---- simple quantizers ----
 * Every fp16 super-block scale is computed with a small upward margin (2^-10, twice the
 * fp16 rounding error) and the integer scales are rounded up, so the chosen grid always
 * covers the sub-block: the error per value is at most half a step. */

static float fp16_round_up(float v) {
    return sealm_fp16_to_fp32(sealm_fp32_to_fp16(v * (1.0f + 0x1p-10f)));
}

static int ceil_clamped(float v, int hi) {
    if (!(v > 0.0f))
        return 0;
    float c = ceilf(v);
    return c >= (float)hi ? hi : (int)c;
}

static int round_clamped(float v, int lo, int hi) {
    float r = roundf(v);
    return r < (float)lo ? lo : r > (float)hi ? hi : (int)r;
}

/* An asymmetric super-block (Q2_K, Q4_K, Q5_K): x = d*sc[s]*q - dmin*mn[s], q in 0..qmax,
 * sc and mn in 0..smax; n_sub sub-blocks of sub_len values. */
typedef struct asym_block {
    float d, dmin;
    int sc[16], mn[16];
    int8_t q[QK_K];
} asym_block;

static void quantize_asym(const float *x, int n_sub, int sub_len, int qmax, int smax, asym_block *out) {
    float lo[16], hi[16], max_min = 0.0f;
    for (int s = 0; s < n_sub; s++) {
        lo[s] = 0.0f;   /* the offset -dmin*mn can only lower values: cover 0 too */
        hi[s] = x[s * sub_len];
        for (int j = 0; j < sub_len; j++) {
            lo[s] = fminf(lo[s], x[s * sub_len + j]);
            hi[s] = fmaxf(hi[s], x[s * sub_len + j]);
        }
        max_min = fmaxf(max_min, -lo[s]);
    }
    out->dmin = fp16_round_up(max_min / (float)smax);
    /* the mins first (rounded up so -dmin*mn <= lo), then the scales that reach hi from there */
    float need[16], max_need = 0.0f;
    for (int s = 0; s < n_sub; s++) {
        out->mn[s] = out->dmin > 0.0f ? ceil_clamped(-lo[s] / out->dmin, smax) : 0;
        need[s] = (hi[s] + out->dmin * (float)out->mn[s]) / (float)qmax;
        max_need = fmaxf(max_need, need[s]);
    }
    out->d = fp16_round_up(max_need / (float)smax);
    for (int s = 0; s < n_sub; s++) {
        out->sc[s] = out->d > 0.0f ? ceil_clamped(need[s] / out->d, smax) : 0;
        const float dl = out->d * (float)out->sc[s];
        const float ml = out->dmin * (float)out->mn[s];
        for (int j = 0; j < sub_len; j++)
            out->q[s * sub_len + j] = (int8_t)(dl > 0.0f ? round_clamped((x[s * sub_len + j] + ml) / dl, 0, qmax) : 0);
    }
}

/* A symmetric super-block (Q3_K, Q6_K): x = d*sc[s]*q, q in -qmax-1..qmax. Only the
 * positive half of the signed scale range is used, and the grid is symmetric (the extra
 * negative level is left unused), which keeps the error bound at half a step. */
typedef struct sym_block {
    float d;
    int sc[16];
    int8_t q[QK_K];
} sym_block;

static void quantize_sym(const float *x, int sub_len, int qmax, int smax, sym_block *out) {
    const int n_sub = QK_K / sub_len;
    float need[16], max_need = 0.0f;
    for (int s = 0; s < n_sub; s++) {
        float amax = 0.0f;
        for (int j = 0; j < sub_len; j++)
            amax = fmaxf(amax, fabsf(x[s * sub_len + j]));
        need[s] = amax / (float)qmax;
        max_need = fmaxf(max_need, need[s]);
    }
    out->d = fp16_round_up(max_need / (float)smax);
    for (int s = 0; s < n_sub; s++) {
        out->sc[s] = out->d > 0.0f ? ceil_clamped(need[s] / out->d, smax) : 0;
        const float dl = out->d * (float)out->sc[s];
        for (int j = 0; j < sub_len; j++)
            out->q[s * sub_len + j] = (int8_t)(dl > 0.0f ? round_clamped(x[s * sub_len + j] / dl, -qmax - 1, qmax) : 0);
    }
}

/* ---- Q2_K ---- */

void sealm_q2_K_to_float(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q2_K *b = src;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        const float d = sealm_fp16_to_fp32(b[i].d), dmin = sealm_fp16_to_fp32(b[i].dmin);
        unpack_q2_K(&b[i], q);
        for (int s = 0; s < QK_K / 16; s++) {
            const float dl = d * (float)(b[i].scales[s] & 0x0f);
            const float ml = dmin * (float)(b[i].scales[s] >> 4);
            for (int j = 0; j < 16; j++)
                dst[16 * s + j] = dl * (float)q[16 * s + j] - ml;
        }
    }
}

void sealm_q2_K_from_float(const float *restrict src, void *restrict dst, int64_t n) {
    block_q2_K *b = dst;
    asym_block a;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        quantize_asym(src, 16, 16, 3, 15, &a);
        b[i].d = sealm_fp32_to_fp16(a.d);
        b[i].dmin = sealm_fp32_to_fp16(a.dmin);
        for (int s = 0; s < 16; s++)
            b[i].scales[s] = (uint8_t)(a.sc[s] | (a.mn[s] << 4));
        pack_q2_K(a.q, &b[i]);
    }
}

void sealm_q2_K_vec_dot_ref(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    const block_q2_K *wb = w;
    const block_q8_K *xb = x;
    int8_t q[QK_K];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        unpack_q2_K(&wb[i], q);
        int isum = 0, summs = 0;
        for (int sb = 0; sb < QK_K / 16; sb++) {
            int dot = 0;
            for (int j = 0; j < 16; j++)
                dot += q[16 * sb + j] * xb[i].qs[16 * sb + j];
            isum += (wb[i].scales[sb] & 0x0f) * dot;
            summs += (wb[i].scales[sb] >> 4) * xb[i].bsums[sb];
        }
        const float dall = xb[i].d * sealm_fp16_to_fp32(wb[i].d);
        const float dmin = xb[i].d * sealm_fp16_to_fp32(wb[i].dmin);
        sum += dall * (float)isum - dmin * (float)summs;
    }
    *s = sum;
}

/* ---- Q3_K ---- */

void sealm_q3_K_to_float(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q3_K *b = src;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        const float d = sealm_fp16_to_fp32(b[i].d);
        unpack_q3_K(&b[i], q);
        for (int s = 0; s < QK_K / 16; s++) {
            const float dl = d * (float)sealm_k3_scale(s, b[i].scales);
            for (int j = 0; j < 16; j++)
                dst[16 * s + j] = dl * (float)q[16 * s + j];
        }
    }
}

void sealm_q3_K_from_float(const float *restrict src, void *restrict dst, int64_t n) {
    block_q3_K *b = dst;
    sym_block a;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        quantize_sym(src, 16, 3, 31, &a);
        b[i].d = sealm_fp32_to_fp16(a.d);
        pack_q3_K_scales(a.sc, b[i].scales);
        pack_q3_K(a.q, &b[i]);
    }
}

void sealm_q3_K_vec_dot_ref(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    const block_q3_K *wb = w;
    const block_q8_K *xb = x;
    int8_t q[QK_K];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        unpack_q3_K(&wb[i], q);
        int isum = 0;
        for (int sb = 0; sb < QK_K / 16; sb++) {
            int dot = 0;
            for (int j = 0; j < 16; j++)
                dot += q[16 * sb + j] * xb[i].qs[16 * sb + j];
            isum += sealm_k3_scale(sb, wb[i].scales) * dot;
        }
        sum += (sealm_fp16_to_fp32(wb[i].d) * xb[i].d) * (float)isum;
    }
    *s = sum;
}

/* The Q4_K/Q5_K families dequantized from unpacked quants: x = d·scale_j·q − dmin·min_j
 * for sub-block j of 32. */
static void k4_family_to_float(const int8_t q[QK_K], const uint8_t scales[12], sealm_fp16 d16, sealm_fp16 dmin16,
                               float *dst) {
    const float d = sealm_fp16_to_fp32(d16), dmin = sealm_fp16_to_fp32(dmin16);
    for (int s = 0; s < QK_K / 32; s++) {
        uint8_t sc, mn;
        sealm_k4_scale_min(s, scales, &sc, &mn);
        const float dl = d * (float)sc, ml = dmin * (float)mn;
        for (int j = 0; j < 32; j++)
            dst[32 * s + j] = dl * (float)q[32 * s + j] - ml;
    }
}

/* ---- Q4_K ---- */

void sealm_q4_K_to_float(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q4_K *b = src;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        unpack_q4_K(&b[i], q);
        k4_family_to_float(q, b[i].scales, b[i].d, b[i].dmin, dst);
    }
}

void sealm_q4_K_from_float(const float *restrict src, void *restrict dst, int64_t n) {
    block_q4_K *b = dst;
    asym_block a;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        quantize_asym(src, 8, 32, 15, 63, &a);
        b[i].d = sealm_fp32_to_fp16(a.d);
        b[i].dmin = sealm_fp32_to_fp16(a.dmin);
        pack_k4_scales(a.sc, a.mn, b[i].scales);
        pack_q4_K_nibbles(a.q, b[i].qs);
    }
}

/* The dot product of the Q4_K/Q5_K families, on unpacked quants. */
static float dot_k4_family(const int8_t q[QK_K], const uint8_t scales[12], sealm_fp16 d, sealm_fp16 dmin,
                           const block_q8_K *xb) {
    int isum = 0, summs = 0;
    for (int sb = 0; sb < QK_K / 32; sb++) {
        uint8_t sc, mn;
        sealm_k4_scale_min(sb, scales, &sc, &mn);
        int dot = 0;
        for (int j = 0; j < 32; j++)
            dot += q[32 * sb + j] * xb->qs[32 * sb + j];
        isum += sc * dot;
        summs += mn * (xb->bsums[2 * sb] + xb->bsums[2 * sb + 1]);
    }
    return (sealm_fp16_to_fp32(d) * xb->d) * (float)isum - (sealm_fp16_to_fp32(dmin) * xb->d) * (float)summs;
}

/* lane-8 order (quant_ref.h) for the scaled quants; the mins term in 4 lanes, lane l
 * taking sub-blocks 2l and 2l+1, reduced as (m0+m2) + (m1+m3) and added last. */
void sealm_q4_K_vec_dot_ref(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    const block_q4_K *wb = w;
    const block_q8_K *xb = x;
    int8_t q[QK_K];
    float acc[8] = {0}, acc_m[4] = {0};
    for (int64_t i = 0; i < n / QK_K; i++) {
        unpack_q4_K(&wb[i], q);
        uint8_t sc[8], mn[8];
        for (int sb = 0; sb < 8; sb++) sealm_k4_scale_min(sb, wb[i].scales, &sc[sb], &mn[sb]);
        const float d = xb[i].d * sealm_fp16_to_fp32(wb[i].d);
        const float dmin = -xb[i].d * sealm_fp16_to_fp32(wb[i].dmin);
        for (int l = 0; l < 4; l++) {
            const int s0 = xb[i].bsums[4 * l] + xb[i].bsums[4 * l + 1];
            const int s1 = xb[i].bsums[4 * l + 2] + xb[i].bsums[4 * l + 3];
            acc_m[l] = fmaf(dmin, (float)(mn[2 * l] * s0 + mn[2 * l + 1] * s1), acc_m[l]);
        }
        for (int k = 0; k < 8; k++) {
            int sumi = 0;
            for (int sb = 0; sb < 8; sb++)
                for (int e = 32 * sb + 4 * k; e < 32 * sb + 4 * k + 4; e++) sumi += sc[sb] * q[e] * xb[i].qs[e];
            acc[k] = fmaf(d, (float)sumi, acc[k]);
        }
    }
    *s = sealm_lane8_sum(acc) + ((acc_m[0] + acc_m[2]) + (acc_m[1] + acc_m[3]));
}

/* ---- Q5_K ---- */

void sealm_q5_K_to_float(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q5_K *b = src;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        unpack_q5_K(&b[i], q);
        k4_family_to_float(q, b[i].scales, b[i].d, b[i].dmin, dst);
    }
}

void sealm_q5_K_from_float(const float *restrict src, void *restrict dst, int64_t n) {
    block_q5_K *b = dst;
    asym_block a;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        quantize_asym(src, 8, 32, 31, 63, &a);
        b[i].d = sealm_fp32_to_fp16(a.d);
        b[i].dmin = sealm_fp32_to_fp16(a.dmin);
        pack_k4_scales(a.sc, a.mn, b[i].scales);
        pack_q5_K(a.q, &b[i]);
    }
}

void sealm_q5_K_vec_dot_ref(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    const block_q5_K *wb = w;
    const block_q8_K *xb = x;
    int8_t q[QK_K];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        unpack_q5_K(&wb[i], q);
        sum += dot_k4_family(q, wb[i].scales, wb[i].d, wb[i].dmin, &xb[i]);
    }
    *s = sum;
}

/* ---- Q6_K ---- */

void sealm_q6_K_to_float(const void *restrict src, float *restrict dst, int64_t n) {
    const block_q6_K *b = src;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        const float d = sealm_fp16_to_fp32(b[i].d);
        unpack_q6_K(&b[i], q);
        for (int s = 0; s < QK_K / 16; s++) {
            const float dl = d * (float)b[i].scales[s];
            for (int j = 0; j < 16; j++)
                dst[16 * s + j] = dl * (float)q[16 * s + j];
        }
    }
}

void sealm_q6_K_from_float(const float *restrict src, void *restrict dst, int64_t n) {
    block_q6_K *b = dst;
    sym_block a;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        quantize_sym(src, 16, 31, 127, &a);
        b[i].d = sealm_fp32_to_fp16(a.d);
        for (int s = 0; s < 16; s++)
            b[i].scales[s] = (int8_t)a.sc[s];
        pack_q6_K(a.q, &b[i]);
    }
}

/* lane-8 order (quant_ref.h); every 16 quants share a signed scale */
void sealm_q6_K_vec_dot_ref(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    const block_q6_K *wb = w;
    const block_q8_K *xb = x;
    int8_t q[QK_K];
    float acc[8] = {0};
    for (int64_t i = 0; i < n / QK_K; i++) {
        unpack_q6_K(&wb[i], q);
        const float d = xb[i].d * sealm_fp16_to_fp32(wb[i].d);
        for (int k = 0; k < 8; k++) {
            int sumi = 0;
            for (int c = 0; c < QK_K / 32; c++)
                for (int e = 32 * c + 4 * k; e < 32 * c + 4 * k + 4; e++) sumi += wb[i].scales[e / 16] * q[e] * xb[i].qs[e];
            acc[k] = fmaf(d, (float)sumi, acc[k]);
        }
    }
    *s = sealm_lane8_sum(acc);
}
