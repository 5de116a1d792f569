/* Engine-internal: the NEON quantized dot products, one source compiled twice.
 *
 * quant_neon.c includes this for baseline ARMv8 (-march=armv8-a: every aarch64 CPU), and
 * quant_neon_dotprod.c for the dot-product extension (-march=armv8.2-a+dotprod: Cortex-A55,
 * A75, A76 and later, Neoverse, Apple); cpu.c installs the second only where the kernel
 * reports HWCAP_ASIMDDP. The one difference is neon_dot_i8x16: SDOT (vdotq_s32) where the
 * compiler targets the extension, widening multiplies with pairwise adds otherwise. Both
 * leave the same exact int32 sums in the same lanes, and everything after them is shared
 * code, so the two builds return the same bits.
 *
 * NEON multiplies signed by signed bytes, so quants are made signed (offset subtracted)
 * before the dot; each kernel computes the same integer sums as its scalar reference in
 * quant_<type>.c. Q8_0, Q4_0, Q4_1, Q4_K and Q6_K add their float terms in the reference's
 * pinned order (quant_ref.h, "accumulation order") and return the very same bits: the
 * lane-8 order is two float32x4 accumulators (lanes 0..3 = elements 0..15 of each
 * 32-element step, lanes 4..7 = elements 16..31). Q5_0, Q5_1, Q2_K, Q3_K and Q5_K agree
 * with their references within rounding.
 *
 * Q8_0, Q4_1, Q4_0, Q4_K and Q6_K also have vec_dot_x4 kernels (four dots at once,
 * decode's four rows against one activation): Q8_0, Q4_1 and the K-quants run four chains
 * of their single dot's step side by side (the K-quants through kquant_dots.h, which also
 * prepares a shared activation block once for the four rows), Q4_0 holds its four fmaf
 * chains in the lanes of one register. Each result keeps its single dot's bits. The x4
 * kernels are checked under qemu-aarch64 only: no ARM machine was available to time them.
 *
 * Everything here is static: each including file gets its own copy, built with its own
 * flags. Include it only from the one .c file of each instruction set. */
#ifndef SEALM_ENGINE_QUANT_NEON_DOTS_H
#define SEALM_ENGINE_QUANT_NEON_DOTS_H

#include "engine/kquant_dots.h"
#include "engine/quant.h"
#include "engine/simd_kscales.h"

#include <arm_neon.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------------------------
 * helpers
 * ---------------------------------------------------------------------------------- */

/* acc + 16 int8 products a*b: lane k gets the products of bytes 4k..4k+3 (the lane-8
 * grouping of quant_ref.h). */
static inline int32x4_t neon_dot_i8x16(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(acc, a, b);
#else
    /* products of int8 fit int16 (|a*b| <= 16384); widen pairs to int32, then pairwise-add
     * neighbouring pairs so that lane k holds bytes 4k..4k+3 as SDOT would */
    int32x4_t lo = vpaddlq_s16(vmull_s8(vget_low_s8(a), vget_low_s8(b)));  /* bytes 0-1, 2-3, .. 6-7 */
    int32x4_t hi = vpaddlq_s16(vmull_high_s8(a, b));                      /* bytes 8-9, .. 14-15 */
    return vaddq_s32(acc, vpaddq_s32(lo, hi));
#endif
}

/* The lane-8 sum of quant_ref.h for lanes 0..3 in lo and 4..7 in hi:
 * ((a0+a4) + (a2+a6)) + ((a1+a5) + (a3+a7)). (Not vaddvq_f32, whose pairwise order differs.) */
static inline float neon_lane8_sum(float32x4_t lo, float32x4_t hi) {
    const float32x4_t r = vaddq_f32(lo, hi);                               /* a_k + a_{k+4} */
    const float32x2_t t = vadd_f32(vget_low_f32(r), vget_high_f32(r));    /* r0+r2, r1+r3 */
    return vget_lane_f32(t, 0) + vget_lane_f32(t, 1);
}

/* dot of 32 int8 pairs: a = (a0, a1), b read from memory. */
static inline int32x4_t neon_dot_i8x32(int8x16_t a0, int8x16_t a1, const int8_t *b) {
    int32x4_t acc = neon_dot_i8x16(vdupq_n_s32(0), a0, vld1q_s8(b));
    return neon_dot_i8x16(acc, a1, vld1q_s8(b + 16));
}

static inline float neon_fp16_to_f32(sealm_fp16 h) {
    __fp16 v;
    memcpy(&v, &h, sizeof v);
    return (float)v;
}

/* 16 packed nibbles -> low nibbles (elements 0..15) and high nibbles (elements 16..31). */
static inline void neon_unpack_nibbles16(const uint8_t *q, uint8x16_t *lo, uint8x16_t *hi) {
    uint8x16_t v = vld1q_u8(q);
    *lo = vandq_u8(v, vdupq_n_u8(0x0F));
    *hi = vshrq_n_u8(v, 4);
}

/* Bits 0..15 (lo) and 16..31 (hi) of a 32-bit mask -> 0x10 in byte j where bit j is set.
 * Each byte of the mask is broadcast over 8 lanes, and lane j tests bit j%8 (vtst). */
static inline void neon_qh_to_bit4(uint32_t qh, uint8x16_t *lo, uint8x16_t *hi) {
    static const uint8_t bit_of_lane[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t bits = vld1q_u8(bit_of_lane);
    const uint8x16_t four = vdupq_n_u8(0x10);
    uint8x16_t b01 = vcombine_u8(vdup_n_u8((uint8_t)qh), vdup_n_u8((uint8_t)(qh >> 8)));
    uint8x16_t b23 = vcombine_u8(vdup_n_u8((uint8_t)(qh >> 16)), vdup_n_u8((uint8_t)(qh >> 24)));
    *lo = vandq_u8(vtstq_u8(b01, bits), four);
    *hi = vandq_u8(vtstq_u8(b23, bits), four);
}

static inline int8x16_t as_s8(uint8x16_t v) {
    return vreinterpretq_s8_u8(v);
}

/* ------------------------------------------------------------------------------------
 * 32-element blocks
 * ---------------------------------------------------------------------------------- */

/* The lane-8 chain of one dot (quant_ref.h): lanes 0..3 from elements 0..15 of each block,
 * lanes 4..7 from 16..31, and Q4_1's fmaf chain of the mins. */
typedef struct { float32x4_t lo, hi; float mins; } lane8_chain_neon;

static inline lane8_chain_neon lane8_start_neon(void) {
    return (lane8_chain_neon){vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), 0.0f};
}

/* A single dot of 32-element blocks and its x4 (four chains side by side, block i of each
 * before block i+1 of any, so their FMA latencies overlap; each chain sees the operations
 * its single dot does, so every result keeps its bits), from the per-block step
 * STEP(chain, w_block, x_block) -> chain and FINISH(chain) -> float. */
#define NEON_BLOCK_DOTS(SUFFIX, WBLOCK, XBLOCK, QK, STEP, FINISH)                                \
    static void vec_dot_##SUFFIX(int64_t n, float *restrict s, const void *restrict vw,         \
                                 const void *restrict vx) {                                     \
        const WBLOCK *w = vw;                                                                  \
        const XBLOCK *x = vx;                                                                  \
        lane8_chain_neon c = lane8_start_neon();                                               \
        for (int64_t i = 0; i < n / (QK); i++) c = STEP(c, &w[i], &x[i]);                      \
        *s = FINISH(c);                                                                        \
    }                                                                                          \
    static void vec_dot_x4_##SUFFIX(int64_t n, float *restrict s, const void *const vw[4],      \
                                    const void *const vx[4]) {                                 \
        const WBLOCK *const w[4] = {vw[0], vw[1], vw[2], vw[3]};                               \
        const XBLOCK *const x[4] = {vx[0], vx[1], vx[2], vx[3]};                               \
        lane8_chain_neon c[4] = {lane8_start_neon(), lane8_start_neon(), lane8_start_neon(),    \
                                 lane8_start_neon()};                                          \
        for (int64_t i = 0; i < n / (QK); i++)                                                 \
            for (int r = 0; r < 4; r++) c[r] = STEP(c[r], &w[r][i], &x[r][i]);                 \
        for (int r = 0; r < 4; r++) s[r] = FINISH(c[r]);                                       \
    }

static inline lane8_chain_neon q8_0_step_neon(lane8_chain_neon c, const block_q8_0 *w, const block_q8_0 *x) {
    const int32x4_t p_lo = neon_dot_i8x16(vdupq_n_s32(0), vld1q_s8(w->qs), vld1q_s8(x->qs));
    const int32x4_t p_hi = neon_dot_i8x16(vdupq_n_s32(0), vld1q_s8(w->qs + 16), vld1q_s8(x->qs + 16));
    const float d = neon_fp16_to_f32(w->d) * neon_fp16_to_f32(x->d);
    c.lo = vfmaq_n_f32(c.lo, vcvtq_f32_s32(p_lo), d);
    c.hi = vfmaq_n_f32(c.hi, vcvtq_f32_s32(p_hi), d);
    return c;
}

static inline float lane8_finish_neon(lane8_chain_neon c) {
    return neon_lane8_sum(c.lo, c.hi);
}

NEON_BLOCK_DOTS(q8_0_q8_0_neon, block_q8_0, block_q8_0, QK8_0, q8_0_step_neon, lane8_finish_neon)

/* Q4_0's whole-block integer sum against activation quants x0 (elements 0..15) and x1
 * (16..31): int32 lanes whose total is the block's sum. */
static inline int32x4_t q4_0_block_dot_xs_neon(const block_q4_0 *w, int8x16_t x0, int8x16_t x1) {
    const int8x16_t eight = vdupq_n_s8(8);
    uint8x16_t lo, hi;
    neon_unpack_nibbles16(w->qs, &lo, &hi);
    return neon_dot_i8x16(neon_dot_i8x16(vdupq_n_s32(0), vsubq_s8(as_s8(lo), eight), x0),
                          vsubq_s8(as_s8(hi), eight), x1);
}

static inline int32x4_t q4_0_block_dot_neon(const block_q4_0 *w, const block_q8_0 *x) {
    return q4_0_block_dot_xs_neon(w, vld1q_s8(x->qs), vld1q_s8(x->qs + 16));
}

/* Q4_0: one fmaf chain over whole-block sums (quant_ref.h). Four blocks' sums are reduced
 * together by pairwise adds, then enter the chain in block order. */
static void vec_dot_q4_0_q8_0_neon(int64_t n, float *restrict s, const void *restrict vw,
                                   const void *restrict vx) {
    const block_q4_0 *w = vw;
    const block_q8_0 *x = vx;
    const int64_t nb = n / QK4_0;
    float sum = 0.0f;
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        int32x4_t p[4];
        for (int b = 0; b < 4; b++) p[b] = q4_0_block_dot_neon(&w[i + b], &x[i + b]);
        float block_sums[4];
        vst1q_f32(block_sums, vcvtq_f32_s32(vpaddq_s32(vpaddq_s32(p[0], p[1]), vpaddq_s32(p[2], p[3]))));
        for (int b = 0; b < 4; b++)
            sum = fmaf(block_sums[b], neon_fp16_to_f32(w[i + b].d) * neon_fp16_to_f32(x[i + b].d), sum);
    }
    for (; i < nb; i++) {
        const float block_sum = (float)vaddvq_s32(q4_0_block_dot_neon(&w[i], &x[i]));
        sum = fmaf(block_sum, neon_fp16_to_f32(w[i].d) * neon_fp16_to_f32(x[i].d), sum);
    }
    *s = sum;
}

/* Q4_0 vec_dot_x4: the four rows' fmaf chains in the lanes of one float32x4, as the x86
 * kernels hold them. Per block, the four rows' integer sums are reduced into one int32x4
 * by pairwise adds (lane r = row r), converted exactly, and one vfmaq (fused, like fmaf)
 * with the four scale products d_w*d_x advances the four chains: each lane does the
 * scalar reference's operations in its order, where four single dots would each wait on
 * one scalar FMA chain. Decode's shape (one activation for the four rows) loads the
 * activation block once. */
static inline float32x4_t four_fp16(sealm_fp16 a, sealm_fp16 b, sealm_fp16 c, sealm_fp16 d) {
    const uint16_t h[4] = {a, b, c, d};
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}

static void vec_dot_x4_q4_0_q8_0_neon(int64_t n, float *restrict s, const void *const vw[4],
                                      const void *const vx[4]) {
    const block_q4_0 *const w[4] = {vw[0], vw[1], vw[2], vw[3]};
    const block_q8_0 *const x[4] = {vx[0], vx[1], vx[2], vx[3]};
    const bool one_x = x[0] == x[1] && x[0] == x[2] && x[0] == x[3];
    const int64_t nb = n / QK4_0;
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t i = 0; i < nb; i++) {
        int32x4_t p[4];
        float32x4_t xd;
        if (one_x) {
            const int8x16_t x0 = vld1q_s8(x[0][i].qs), x1 = vld1q_s8(x[0][i].qs + 16);
            for (int r = 0; r < 4; r++) p[r] = q4_0_block_dot_xs_neon(&w[r][i], x0, x1);
            xd = vdupq_n_f32(neon_fp16_to_f32(x[0][i].d));
        } else {
            for (int r = 0; r < 4; r++) p[r] = q4_0_block_dot_neon(&w[r][i], &x[r][i]);
            xd = four_fp16(x[0][i].d, x[1][i].d, x[2][i].d, x[3][i].d);
        }
        const float32x4_t sums = vcvtq_f32_s32(vpaddq_s32(vpaddq_s32(p[0], p[1]), vpaddq_s32(p[2], p[3])));
        const float32x4_t scales = vmulq_f32(four_fp16(w[0][i].d, w[1][i].d, w[2][i].d, w[3][i].d), xd);
        acc = vfmaq_f32(acc, sums, scales);
    }
    vst1q_f32(s, acc);
}

/* Q4_1: unsigned quants 0..15 (valid as int8 too); the min enters as m * s: lane-8 order for
 * the quants, one fmaf chain for the mins, added at the end. */
static inline lane8_chain_neon q4_1_step_neon(lane8_chain_neon c, const block_q4_1 *w, const block_q8_1 *x) {
    uint8x16_t lo, hi;
    neon_unpack_nibbles16(w->qs, &lo, &hi);
    const int32x4_t p_lo = neon_dot_i8x16(vdupq_n_s32(0), as_s8(lo), vld1q_s8(x->qs));
    const int32x4_t p_hi = neon_dot_i8x16(vdupq_n_s32(0), as_s8(hi), vld1q_s8(x->qs + 16));
    const float d = neon_fp16_to_f32(w->d) * neon_fp16_to_f32(x->d);
    c.lo = vfmaq_n_f32(c.lo, vcvtq_f32_s32(p_lo), d);
    c.hi = vfmaq_n_f32(c.hi, vcvtq_f32_s32(p_hi), d);
    c.mins = fmaf(neon_fp16_to_f32(w->m), neon_fp16_to_f32(x->s), c.mins);
    return c;
}

static inline float q4_1_finish_neon(lane8_chain_neon c) {
    return neon_lane8_sum(c.lo, c.hi) + c.mins;
}

NEON_BLOCK_DOTS(q4_1_q8_1_neon, block_q4_1, block_q8_1, QK4_1, q4_1_step_neon, q4_1_finish_neon)

static void vec_dot_q5_0_q8_0_neon(int64_t n, float *restrict s, const void *restrict vw,
                                   const void *restrict vx) {
    const block_q5_0 *w = vw;
    const block_q8_0 *x = vx;
    const int64_t nb = n / QK5_0;
    const int8x16_t sixteen = vdupq_n_s8(16);
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t i = 0; i < nb; i++) {
        uint32_t qh;
        memcpy(&qh, w[i].qh, sizeof qh);
        uint8x16_t lo, hi, hlo, hhi;
        neon_unpack_nibbles16(w[i].qs, &lo, &hi);
        neon_qh_to_bit4(qh, &hlo, &hhi);
        int8x16_t q0 = vsubq_s8(as_s8(vorrq_u8(lo, hlo)), sixteen);
        int8x16_t q1 = vsubq_s8(as_s8(vorrq_u8(hi, hhi)), sixteen);
        int32x4_t p = neon_dot_i8x32(q0, q1, x[i].qs);
        float d = neon_fp16_to_f32(w[i].d) * neon_fp16_to_f32(x[i].d);
        acc = vfmaq_n_f32(acc, vcvtq_f32_s32(p), d);
    }
    *s = vaddvq_f32(acc);
}

static void vec_dot_q5_1_q8_1_neon(int64_t n, float *restrict s, const void *restrict vw,
                                   const void *restrict vx) {
    const block_q5_1 *w = vw;
    const block_q8_1 *x = vx;
    const int64_t nb = n / QK5_1;
    float32x4_t acc = vdupq_n_f32(0.0f);
    float min_terms = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        uint32_t qh;
        memcpy(&qh, w[i].qh, sizeof qh);
        uint8x16_t lo, hi, hlo, hhi;
        neon_unpack_nibbles16(w[i].qs, &lo, &hi);
        neon_qh_to_bit4(qh, &hlo, &hhi);
        int32x4_t p = neon_dot_i8x32(as_s8(vorrq_u8(lo, hlo)), as_s8(vorrq_u8(hi, hhi)), x[i].qs);
        float d = neon_fp16_to_f32(w[i].d) * neon_fp16_to_f32(x[i].d);
        acc = vfmaq_n_f32(acc, vcvtq_f32_s32(p), d);
        min_terms += neon_fp16_to_f32(w[i].m) * neon_fp16_to_f32(x[i].s);
    }
    *s = vaddvq_f32(acc) + min_terms;
}

/* ------------------------------------------------------------------------------------
 * K-quants · Q8_K
 * ---------------------------------------------------------------------------------- */

/* sum_j mins[j] * (bsums[2j] + bsums[2j+1]) for the 8 sub-blocks of Q4_K / Q5_K. */
static inline int32_t k4_min_sum(const uint8_t mn[8], const int16_t bsums[16]) {
    int16x8_t pairs = vpaddq_s16(vld1q_s16(bsums), vld1q_s16(bsums + 8)); /* b0+b1, b2+b3, .. */
    int16x8_t mins = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mn)));
    int32x4_t prod = vmull_s16(vget_low_s16(pairs), vget_low_s16(mins));
    prod = vmlal_s16(prod, vget_high_s16(pairs), vget_high_s16(mins));
    return vaddvq_s32(prod);
}

/* What a K-quant step needs from one Q8_K activation block; decode's four rows share it. */
typedef struct {
    const int8_t *qs;
    float d;
    int16x8_t bsum_pairs;   /* S[j] = bsums[2j] + bsums[2j+1]: the sums each Q4_K min multiplies */
} q8_K_act_neon;

static inline __attribute__((always_inline)) void q8_K_act_neon_of(const block_q8_K *x, q8_K_act_neon *a) {
    a->qs = x->qs;
    a->d = x->d;
    a->bsum_pairs = vpaddq_s16(vld1q_s16(x->bsums), vld1q_s16(x->bsums + 8));
}

/* The Q4_K mins in the reference's four lanes: lane l = mn[2l]*S[2l] + mn[2l+1]*S[2l+1]
 * (quant_ref.h). */
static inline int32x4_t k4_min_lanes(const uint8_t mn[8], int16x8_t pairs) {
    int16x8_t mins = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mn)));
    int32x4_t lo = vmull_s16(vget_low_s16(pairs), vget_low_s16(mins));    /* j = 0..3 */
    int32x4_t hi = vmull_high_s16(pairs, mins);                           /* j = 4..7 */
    return vpaddq_s32(lo, hi);
}

/* A Q4_K dot's running sums: the lane-8 order (lanes 0..3: elements 0..15 of every 32,
 * lanes 4..7: 16..31), and the mins' four lanes. */
typedef struct { float32x4_t lo, hi, m; } q4_K_chain_neon;
#define Q4_K_CHAIN_NEON_ZERO ((q4_K_chain_neon){vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)})

/* Q4_K: chunk c's 32 bytes hold sub-block 2c in the low nibbles, 2c+1 in the high ones. */
static inline __attribute__((always_inline)) q4_K_chain_neon q4_K_step_neon(const block_q4_K *w, const q8_K_act_neon *a,
                                                                             q4_K_chain_neon ch) {
    const uint8x16_t low4 = vdupq_n_u8(0x0F);
    uint8_t sc[8], mn[8];
    simd_unpack_k4_scales(w->scales, sc, mn);
    const uint8_t *q = w->qs;
    const int8_t *y = a->qs;
    int32x4_t isum_lo = vdupq_n_s32(0), isum_hi = vdupq_n_s32(0);
    for (int c = 0; c < 4; c++) {
        uint8x16_t b0 = vld1q_u8(q + 32 * c), b1 = vld1q_u8(q + 32 * c + 16);
        const int8_t *y0 = y + 64 * c, *y1 = y + 64 * c + 32;
        isum_lo = vmlaq_n_s32(isum_lo, neon_dot_i8x16(vdupq_n_s32(0), as_s8(vandq_u8(b0, low4)), vld1q_s8(y0)), sc[2 * c]);
        isum_hi = vmlaq_n_s32(isum_hi, neon_dot_i8x16(vdupq_n_s32(0), as_s8(vandq_u8(b1, low4)), vld1q_s8(y0 + 16)), sc[2 * c]);
        isum_lo = vmlaq_n_s32(isum_lo, neon_dot_i8x16(vdupq_n_s32(0), as_s8(vshrq_n_u8(b0, 4)), vld1q_s8(y1)), sc[2 * c + 1]);
        isum_hi = vmlaq_n_s32(isum_hi, neon_dot_i8x16(vdupq_n_s32(0), as_s8(vshrq_n_u8(b1, 4)), vld1q_s8(y1 + 16)), sc[2 * c + 1]);
    }
    const float d = a->d * neon_fp16_to_f32(w->d);
    const float dmin = -a->d * neon_fp16_to_f32(w->dmin);
    ch.lo = vfmaq_n_f32(ch.lo, vcvtq_f32_s32(isum_lo), d);
    ch.hi = vfmaq_n_f32(ch.hi, vcvtq_f32_s32(isum_hi), d);
    ch.m = vfmaq_n_f32(ch.m, vcvtq_f32_s32(k4_min_lanes(mn, a->bsum_pairs)), dmin);
    return ch;
}

static inline float q4_K_finish_neon(q4_K_chain_neon ch) {
    /* the mins' lanes as (m0+m2) + (m1+m3) */
    const float32x2_t m = vadd_f32(vget_low_f32(ch.m), vget_high_f32(ch.m));
    return neon_lane8_sum(ch.lo, ch.hi) + (vget_lane_f32(m, 0) + vget_lane_f32(m, 1));
}

SUPERBLOCK_DOTS(q4_K_q8_K_neon, block_q4_K, q8_K_act_neon, q8_K_act_neon_of, q4_K_chain_neon, Q4_K_CHAIN_NEON_ZERO,
                q4_K_step_neon, q4_K_finish_neon, kquant_no_next_rows, kquant_no_prefetch)

/* Q5_K: Q4_K plus a 5th bit: bit 2c of qh[l] for sub-block 2c, bit 2c+1 for sub-block 2c+1. */
static void vec_dot_q5_K_q8_K_neon(int64_t n, float *restrict s, const void *restrict vw,
                                   const void *restrict vx) {
    const block_q5_K *w = vw;
    const block_q8_K *x = vx;
    const int64_t nb = n / QK_K;
    const uint8x16_t low4 = vdupq_n_u8(0x0F);
    const uint8x16_t bit4 = vdupq_n_u8(0x10);
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        uint8_t sc[8], mn[8];
        simd_unpack_k4_scales(w[i].scales, sc, mn);
        const uint8_t *q = w[i].qs;
        const int8_t *y = x[i].qs;
        const uint8x16_t h0 = vld1q_u8(w[i].qh), h1 = vld1q_u8(w[i].qh + 16);
        int32x4_t isum = vdupq_n_s32(0);
        for (int c = 0; c < 4; c++) {
            const uint8x16_t mlo = vdupq_n_u8((uint8_t)(1 << (2 * c)));
            const uint8x16_t mhi = vdupq_n_u8((uint8_t)(1 << (2 * c + 1)));
            uint8x16_t b0 = vld1q_u8(q + 32 * c), b1 = vld1q_u8(q + 32 * c + 16);
            uint8x16_t lo0 = vorrq_u8(vandq_u8(b0, low4), vandq_u8(vtstq_u8(h0, mlo), bit4));
            uint8x16_t lo1 = vorrq_u8(vandq_u8(b1, low4), vandq_u8(vtstq_u8(h1, mlo), bit4));
            uint8x16_t hi0 = vorrq_u8(vshrq_n_u8(b0, 4), vandq_u8(vtstq_u8(h0, mhi), bit4));
            uint8x16_t hi1 = vorrq_u8(vshrq_n_u8(b1, 4), vandq_u8(vtstq_u8(h1, mhi), bit4));
            isum = vmlaq_n_s32(isum, neon_dot_i8x32(as_s8(lo0), as_s8(lo1), y + 64 * c), sc[2 * c]);
            isum = vmlaq_n_s32(isum, neon_dot_i8x32(as_s8(hi0), as_s8(hi1), y + 64 * c + 32), sc[2 * c + 1]);
        }
        const float dx = x[i].d;
        sum += dx * neon_fp16_to_f32(w[i].d) * (float)vaddvq_s32(isum)
             - dx * neon_fp16_to_f32(w[i].dmin) * (float)k4_min_sum(mn, x[i].bsums);
    }
    *s = sum;
}

/* Q6_K: per half h (128 elements) and per 16 bytes r of qh[32h..], with L = ql + 64h:
 *   elements      16r.. : L[16r..]    low nibble  | qh bits 0-1 << 4   (group 8h+r)
 *   elements 32 + 16r.. : L[32+16r..] low nibble  | qh bits 2-3 << 4   (group 8h+2+r)
 *   elements 64 + 16r.. : L[16r..]    high nibble | qh bits 4-5 << 4   (group 8h+4+r)
 *   elements 96 + 16r.. : L[32+16r..] high nibble | qh bits 6-7 << 4   (group 8h+6+r)
 * Values 0..63 minus 32 are signed bytes, so the dot needs no offset correction. */
/* A Q6_K dot's running sums, in the lane-8 order: r = 0 (elements 0..15 of each 32) feeds
 * lanes 0..3, r = 1 lanes 4..7. */
typedef struct { float32x4_t acc[2]; } q6_K_chain_neon;
#define Q6_K_CHAIN_NEON_ZERO ((q6_K_chain_neon){{vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)}})

static inline __attribute__((always_inline)) q6_K_chain_neon q6_K_step_neon(const block_q6_K *w, const q8_K_act_neon *a,
                                                                             q6_K_chain_neon ch) {
    const uint8x16_t low4 = vdupq_n_u8(0x0F);
    const uint8x16_t pair = vdupq_n_u8(0x30);
    const int8x16_t offset = vdupq_n_s8(32);
    const int8_t *sc = w->scales;
    const int8_t *y = a->qs;
    int32x4_t isum[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = w->ql + 64 * h;
        for (int r = 0; r < 2; r++) {
            uint8x16_t qh = vld1q_u8(w->qh + 32 * h + 16 * r);
            uint8x16_t la = vld1q_u8(ql + 16 * r), lb = vld1q_u8(ql + 32 + 16 * r);
            uint8x16_t q[4];
            q[0] = vorrq_u8(vandq_u8(la, low4), vandq_u8(vshlq_n_u8(qh, 4), pair));
            q[1] = vorrq_u8(vandq_u8(lb, low4), vandq_u8(vshlq_n_u8(qh, 2), pair));
            q[2] = vorrq_u8(vshrq_n_u8(la, 4), vandq_u8(qh, pair));
            q[3] = vorrq_u8(vshrq_n_u8(lb, 4), vandq_u8(vshrq_n_u8(qh, 2), pair));
            for (int k = 0; k < 4; k++) {
                const int e = 128 * h + 32 * k + 16 * r; /* first element; group e/16 */
                int32x4_t p = neon_dot_i8x16(vdupq_n_s32(0), vsubq_s8(as_s8(q[k]), offset), vld1q_s8(y + e));
                isum[r] = vmlaq_n_s32(isum[r], p, sc[e / 16]);
            }
        }
    }
    const float d = a->d * neon_fp16_to_f32(w->d);
    ch.acc[0] = vfmaq_n_f32(ch.acc[0], vcvtq_f32_s32(isum[0]), d);
    ch.acc[1] = vfmaq_n_f32(ch.acc[1], vcvtq_f32_s32(isum[1]), d);
    return ch;
}

static inline float q6_K_finish_neon(q6_K_chain_neon ch) {
    return neon_lane8_sum(ch.acc[0], ch.acc[1]);
}

SUPERBLOCK_DOTS(q6_K_q8_K_neon, block_q6_K, q8_K_act_neon, q8_K_act_neon_of, q6_K_chain_neon, Q6_K_CHAIN_NEON_ZERO,
                q6_K_step_neon, q6_K_finish_neon, kquant_no_next_rows, kquant_no_prefetch)

/* Q3_K: value = (qs bits | hmask bit << 2) - 4 in -4..3; half h, chunk c: bits 2c..2c+1 of
 * qs[32h+l], bit 4h+c of hmask[l]. One signed 6-bit scale per 16 elements. */
static void vec_dot_q3_K_q8_K_neon(int64_t n, float *restrict s, const void *restrict vw,
                                   const void *restrict vx) {
    const block_q3_K *w = vw;
    const block_q8_K *x = vx;
    const int64_t nb = n / QK_K;
    const uint8x16_t two_bits = vdupq_n_u8(0x03);
    const uint8x16_t bit2 = vdupq_n_u8(0x04);
    const int8x16_t four = vdupq_n_s8(4);
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int8_t sc[16];
        simd_unpack_q3k_scales(w[i].scales, sc);
        const int8_t *y = x[i].qs;
        int32x4_t isum = vdupq_n_s32(0);
        for (int h = 0; h < 2; h++) {
            for (int r = 0; r < 2; r++) {
                const uint8x16_t qs = vld1q_u8(w[i].qs + 32 * h + 16 * r);
                const uint8x16_t hm = vld1q_u8(w[i].hmask + 16 * r);
                for (int c = 0; c < 4; c++) {
                    uint8x16_t low = vandq_u8(vshlq_u8(qs, vdupq_n_s8((int8_t)(-2 * c))), two_bits);
                    uint8x16_t high = vandq_u8(vtstq_u8(hm, vdupq_n_u8((uint8_t)(1 << (4 * h + c)))), bit2);
                    int8x16_t q = vsubq_s8(as_s8(vorrq_u8(low, high)), four);
                    const int e = 128 * h + 32 * c + 16 * r;
                    isum = vmlaq_n_s32(isum, neon_dot_i8x16(vdupq_n_s32(0), q, vld1q_s8(y + e)), sc[e / 16]);
                }
            }
        }
        sum += x[i].d * neon_fp16_to_f32(w[i].d) * (float)vaddvq_s32(isum);
    }
    *s = sum;
}

/* Q2_K: 2-bit quants laid out as Q3_K's low bits; scales[g] = scale (low 4) | min (high 4). */
static void vec_dot_q2_K_q8_K_neon(int64_t n, float *restrict s, const void *restrict vw,
                                   const void *restrict vx) {
    const block_q2_K *w = vw;
    const block_q8_K *x = vx;
    const int64_t nb = n / QK_K;
    const uint8x16_t two_bits = vdupq_n_u8(0x03);
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *sm = w[i].scales;
        const int8_t *y = x[i].qs;
        int32x4_t isum = vdupq_n_s32(0);
        for (int h = 0; h < 2; h++) {
            for (int r = 0; r < 2; r++) {
                const uint8x16_t qs = vld1q_u8(w[i].qs + 32 * h + 16 * r);
                for (int c = 0; c < 4; c++) {
                    uint8x16_t q = vandq_u8(vshlq_u8(qs, vdupq_n_s8((int8_t)(-2 * c))), two_bits);
                    const int e = 128 * h + 32 * c + 16 * r;
                    isum = vmlaq_n_s32(isum, neon_dot_i8x16(vdupq_n_s32(0), as_s8(q), vld1q_s8(y + e)),
                                       sm[e / 16] & 0x0F);
                }
            }
        }
        /* mins (high nibbles) against the 16 activation group sums */
        uint8x16_t packed = vld1q_u8(sm);
        int16x8_t mins_lo = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(vshrq_n_u8(packed, 4))));
        int16x8_t mins_hi = vreinterpretq_s16_u16(vmovl_u8(vget_high_u8(vshrq_n_u8(packed, 4))));
        int16x8_t b_lo = vld1q_s16(x[i].bsums), b_hi = vld1q_s16(x[i].bsums + 8);
        int32x4_t m = vmull_s16(vget_low_s16(mins_lo), vget_low_s16(b_lo));
        m = vmlal_s16(m, vget_high_s16(mins_lo), vget_high_s16(b_lo));
        m = vmlal_s16(m, vget_low_s16(mins_hi), vget_low_s16(b_hi));
        m = vmlal_s16(m, vget_high_s16(mins_hi), vget_high_s16(b_hi));
        const float dx = x[i].d;
        sum += dx * neon_fp16_to_f32(w[i].d) * (float)vaddvq_s32(isum)
             - dx * neon_fp16_to_f32(w[i].dmin) * (float)vaddvq_s32(m);
    }
    *s = sum;
}

/* ------------------------------------------------------------------------------------ */

/* Points the quantized weight types' vec_dot at this build's kernels. */
static void neon_install_quantized_dots(sealm_type_traits table[SEALM_TYPE_COUNT]) {
    table[SEALM_TYPE_Q8_0].vec_dot = vec_dot_q8_0_q8_0_neon;
    table[SEALM_TYPE_Q4_0].vec_dot = vec_dot_q4_0_q8_0_neon;
    table[SEALM_TYPE_Q4_1].vec_dot = vec_dot_q4_1_q8_1_neon;
    table[SEALM_TYPE_Q5_0].vec_dot = vec_dot_q5_0_q8_0_neon;
    table[SEALM_TYPE_Q5_1].vec_dot = vec_dot_q5_1_q8_1_neon;
    table[SEALM_TYPE_Q2_K].vec_dot = vec_dot_q2_K_q8_K_neon;
    table[SEALM_TYPE_Q3_K].vec_dot = vec_dot_q3_K_q8_K_neon;
    table[SEALM_TYPE_Q4_K].vec_dot = vec_dot_q4_K_q8_K_neon;
    table[SEALM_TYPE_Q5_K].vec_dot = vec_dot_q5_K_q8_K_neon;
    table[SEALM_TYPE_Q6_K].vec_dot = vec_dot_q6_K_q8_K_neon;
    table[SEALM_TYPE_Q4_0].vec_dot_x4 = vec_dot_x4_q4_0_q8_0_neon;
    table[SEALM_TYPE_Q8_0].vec_dot_x4 = vec_dot_x4_q8_0_q8_0_neon;
    table[SEALM_TYPE_Q4_1].vec_dot_x4 = vec_dot_x4_q4_1_q8_1_neon;
    table[SEALM_TYPE_Q4_K].vec_dot_x4 = vec_dot_x4_q4_K_q8_K_neon;
    table[SEALM_TYPE_Q6_K].vec_dot_x4 = vec_dot_x4_q6_K_q8_K_neon;
}

#endif
