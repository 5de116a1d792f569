/* Engine-internal: the AVX2 quantized dot products, one source compiled three times.
 *
 * quant_avx2.c includes this for AVX2 (-mavx2 -mfma -mf16c -mbmi2: Haswell, Zen 1 and
 * later), quant_avxvnni.c for AVX-VNNI as well (-mavxvnni: Alder Lake and later client
 * cores, Sapphire Rapids, Sierra Forest, Zen 5), and quant_ymm_avx512.c for AVX-512 VNNI on
 * ymm (Ice Lake, Zen 4: AVX-512 VNNI without AVX-VNNI); cpu.c installs the second where
 * cpuid reports AVX-VNNI, the third at the avx512 level where it does not. The difference
 * lies in simd_x86.h's byte dots (x86_dot_i8x32, x86_dot_u8i8x32): one vpdpbusd where the
 * build has it on ymm (X86_YMM_VNNI), vpmaddubsw then vpmaddwd otherwise. All leave the
 * same exact int32 sums in the same lanes, and everything after them is shared code, so the
 * builds return the same bits (test_kernels.c compares them). The K-quants' chains multiply
 * int16 pair sums by their sub-block scales and add them up (x86_madd_i16_into): vpmaddwd
 * and vpaddd, or vpdpwssd, the same int32. Their byte products stay vpmaddubsw in every
 * build: vpdpbusd's four-product sums would then need an int32 multiply (vpmulld, two
 * uops) by the scale.
 *
 * Every kernel computes the same integer sums as its scalar reference in quant_<type>.c.
 * Q8_0, Q4_0, Q4_1, Q4_K and Q6_K also add the float terms in the reference's order
 * (quant_ref.h, "accumulation order"), so they return the very same bits: the lane-8 order
 * is one 8-lane FMA accumulator (int32 lane k of the byte dot holds elements 4k..4k+3 of a
 * 32-element step) reduced by x86_hsum_f32x8. The other types may differ in the last bits
 * (tests/engine/test_kernels.c checks both).
 *
 * The pinned types also have vec_dot_x4 kernels: four dots at once, each chain built from
 * the very step its vec_dot repeats (the *_block_avx2 helpers), so each result keeps
 * vec_dot's bits while the four chains overlap. Q4_0's x4 instead holds the four rows'
 * fmaf chains in the lanes of one register (see its section): the same operations per
 * chain, four at a time.
 *
 * The recurring trick: AVX2 multiplies bytes only with vpmaddubsw (unsigned × signed,
 * adjacent pairs summed to int16), followed by vpmaddwd to widen to int32 (AVX-VNNI's
 * vpdpbusd also takes unsigned × signed bytes). Weights are therefore kept unsigned where
 * the format allows (Q4_1, Q5_1, K-quants) and the format's offset is subtracted once per
 * block from the activation sums; see simd_x86.h.
 *
 * Everything here is static: each including file gets its own copy, built with its own
 * flags (the functions keep their _avx2 names in all). Include it only from those three
 * files. */
#ifndef SEALM_ENGINE_QUANT_AVX2_DOTS_H
#define SEALM_ENGINE_QUANT_AVX2_DOTS_H

#include "engine/quant.h"
#include "engine/simd_kscales.h"
#include "engine/simd_x86.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------------------------
 * 32-element block formats · Q8_0 / Q8_1
 *
 * What bounds these loops on recent Intel cores is not the FMA chain but the one shuffle
 * port (p5): the register forms of the fp16 -> float conversion, vpinsrw, vinserti128 and
 * the broadcasts all need it, about ten of them per block. The two helpers below use the
 * memory forms instead (vcvtph2ps from memory and vbroadcasti128 are a load plus an
 * arithmetic uop), which leaves one broadcast per block on that port.
 * ---------------------------------------------------------------------------------- */

/* The first two fp16 numbers at p as floats in lanes 0 and 1 (d and m of a Q4_1 block, d
 * and s of a Q8_1 block, d and two quants of a Q8_0 block). Lanes 2 and 3 get the next
 * four bytes read as fp16 (quants: any bits, NaN and inf included); callers only combine
 * them lane by lane and drop them. Every block is longer than 8 bytes. */
static inline __m128 load_2_fp16(const void *p) {
    return _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)p));
}

/* x86_unpack_nibbles16 without a shuffle: both halves load the same 16 bytes, the upper one
 * is then shifted by a nibble (16-bit shift: stray bits masked below). */
static inline __m256i unpack_nibbles16_avx2(const uint8_t q[16]) {
    const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)q));
    const __m256i both = _mm256_blend_epi32(v, _mm256_srli_epi16(v, 4), 0xF0);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

/* One block into the lane-8 accumulator. vec_dot and vec_dot_x4 both repeat this step, so
 * their chains are the same operations in the same order. */
static inline __m256 q8_0_block_xs_avx2(const block_q8_0 *w, __m256i qx, __m128 xd, __m256 acc) {
    __m256i qw = _mm256_loadu_si256((const __m256i *)w->qs);
    __m256 sums = _mm256_cvtepi32_ps(x86_dot_i8x32(qw, qx));
    /* lane 0: dw*dx, the same float product as the reference's */
    __m256 d = _mm256_broadcastss_ps(_mm_mul_ps(load_2_fp16(&w->d), xd));
    return _mm256_fmadd_ps(d, sums, acc);
}

/* The same with the activation block's quants and scale (lane 0 of xd) loaded by the caller,
 * which can then share them between rows. */
static inline __m256 q8_0_block_avx2(const block_q8_0 *w, const block_q8_0 *x, __m256 acc) {
    return q8_0_block_xs_avx2(w, _mm256_loadu_si256((const __m256i *)x->qs), load_2_fp16(&x->d), acc);
}

static void vec_dot_q8_0_q8_0_avx2(int64_t n, float *restrict s, const void *restrict vw,
                                   const void *restrict vx) {
    const block_q8_0 *w = vw;
    const block_q8_0 *x = vx;
    const int64_t nb = n / QK8_0;
    /* lane-8 order: one accumulator, blocks in sequence */
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++)
        acc = q8_0_block_avx2(&w[i], &x[i], acc);
    *s = x86_hsum_f32x8(acc);
}

/* The x4 kernels run four vec_dot chains side by side: block i of every chain before
 * block i+1 of any, so the four FMA latency chains overlap instead of following each other
 * (one chain alone leaves the core mostly waiting). Each chain keeps its own accumulators
 * and sees its blocks in order, so every result has vec_dot's bits. */
static void vec_dot_x4_q8_0_q8_0_avx2(int64_t n, float *restrict s, const void *const vw[4],
                                      const void *const vx[4]) {
    const block_q8_0 *w0 = vw[0], *w1 = vw[1], *w2 = vw[2], *w3 = vw[3];
    const block_q8_0 *x0 = vx[0], *x1 = vx[1], *x2 = vx[2], *x3 = vx[3];
    const int64_t nb = n / QK8_0;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    const uintptr_t next = x86_next_rows(vw[0], vw[1], vw[2], vw[3], (size_t)nb * sizeof(block_q8_0));
    if (x0 == x1 && x0 == x2 && x0 == x3) {
        /* decode: four rows, one activation, whose block is loaded and converted once */
        for (int64_t i = 0; i < nb; i++) {
            x86_prefetch_step(next, i, 4 * sizeof(block_q8_0));
            const __m256i qx = _mm256_loadu_si256((const __m256i *)x0[i].qs);
            const __m128 xd = load_2_fp16(&x0[i].d);
            acc0 = q8_0_block_xs_avx2(&w0[i], qx, xd, acc0);
            acc1 = q8_0_block_xs_avx2(&w1[i], qx, xd, acc1);
            acc2 = q8_0_block_xs_avx2(&w2[i], qx, xd, acc2);
            acc3 = q8_0_block_xs_avx2(&w3[i], qx, xd, acc3);
        }
    } else for (int64_t i = 0; i < nb; i++) {
        acc0 = q8_0_block_avx2(&w0[i], &x0[i], acc0);
        acc1 = q8_0_block_avx2(&w1[i], &x1[i], acc1);
        acc2 = q8_0_block_avx2(&w2[i], &x2[i], acc2);
        acc3 = q8_0_block_avx2(&w3[i], &x3[i], acc3);
    }
    s[0] = x86_hsum_f32x8(acc0);
    s[1] = x86_hsum_f32x8(acc1);
    s[2] = x86_hsum_f32x8(acc2);
    s[3] = x86_hsum_f32x8(acc3);
}

/* Q4_0: quants are nibbles 0..15 standing for -8..7. */
static inline __m256i q4_0_block_dot_avx2(const block_q4_0 *w, const block_q8_0 *x) {
    __m256i qw = _mm256_sub_epi8(unpack_nibbles16_avx2(w->qs), _mm256_set1_epi8(8));
    return x86_dot_i8x32(qw, _mm256_loadu_si256((const __m256i *)x->qs));
}

/* Eight blocks into the fmaf chain: their sums are reduced together, then enter the chain
 * one by one. */
static inline float q4_0_8_blocks_avx2(const block_q4_0 *w, const block_q8_0 *x, float sum) {
    __m256i p[8];
    for (int b = 0; b < 8; b++) p[b] = q4_0_block_dot_avx2(&w[b], &x[b]);
    float block_sums[8];
    _mm256_storeu_ps(block_sums, _mm256_cvtepi32_ps(x86_hsum_i32x8_x8(p)));
    for (int b = 0; b < 8; b++)
        sum = fmaf(block_sums[b], x86_fp16_to_f32(w[b].d) * x86_fp16_to_f32(x[b].d), sum);
    return sum;
}

/* One block (the tail past the last group of 8) into the fmaf chain. */
static inline float q4_0_1_block_avx2(const block_q4_0 *w, const block_q8_0 *x, float sum) {
    const float block_sum = (float)x86_hsum_i32x8(q4_0_block_dot_avx2(w, x));
    return fmaf(block_sum, x86_fp16_to_f32(w->d) * x86_fp16_to_f32(x->d), sum);
}

static void vec_dot_q4_0_q8_0_avx2(int64_t n, float *restrict s, const void *restrict vw,
                                   const void *restrict vx) {
    const block_q4_0 *w = vw;
    const block_q8_0 *x = vx;
    const int64_t nb = n / QK4_0;
    /* one fmaf chain over whole-block sums */
    float sum = 0.0f;
    int64_t i = 0;
    for (; i + 8 <= nb; i += 8)
        sum = q4_0_8_blocks_avx2(&w[i], &x[i], sum);
    for (; i < nb; i++)
        sum = q4_0_1_block_avx2(&w[i], &x[i], sum);
    *s = sum;
}

/* Q4_0 vec_dot_x4: the four rows' fmaf chains in the lanes of one 4-lane register, as in
 * the AVX-512 kernel (quant_avx512.c). Per row, two registers hold the 16 quant bytes of
 * blocks 0|1 and 2|3 in their 128-bit halves; low nibbles meet the activation quants 0..15
 * and high nibbles 16..31, arranged the same way once per four rows, so no nibble has to be
 * moved across halves. The -8 offset comes off through the activation sums in the
 * accumulator's start. Two pack-and-add rounds turn the four rows' registers into one per
 * block pair whose half b holds block b's sums of rows 0..3, and the scale products are
 * laid out the same way; one 4-lane FMA then advances the four chains by one block. Before,
 * each row's chain took its blocks one scalar FMA and two scalar fp16 conversions at a
 * time. */

/* The 16 bytes at a in the low half, at b in the high half. */
static inline __m256i halves_16(const void *a, const void *b) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)a)),
                                   _mm_loadu_si128((const __m128i *)b), 1);
}

/* acc + per int32 lane k the sum over bytes 4k..4k+3 of lo·xlo + hi·xhi (lo, hi unsigned
 * nibbles 0..15, x signed). AVX2: the two vpmaddubsw pair sums (each at most 2·15·128 in
 * magnitude) add in int16 without saturating; with ymm VNNI (X86_YMM_VNNI): two vpdpbusd. */
static inline __m256i nibble_dots_into(__m256i acc, __m256i lo, __m256i xlo, __m256i hi, __m256i xhi) {
#if X86_YMM_VNNI
    return x86_dpbusd(x86_dpbusd(acc, lo, xlo), hi, xhi);
#else
    const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, xlo), _mm256_maddubs_epi16(hi, xhi));
    return _mm256_add_epi32(acc, x86_pair_sums_i16(p));
#endif
}

/* Two activation blocks against the nibbles of two weight blocks (block a in the low half,
 * b in the high half): the quants 0..15 and 16..31, and the accumulator start -8 · (sum of
 * the eight activation quants each int32 lane meets). */
typedef struct { __m256i lo, hi, off; } q4_0_x_halves;

static inline q4_0_x_halves q4_0_x_arrange_avx2(const block_q8_0 *a, const block_q8_0 *b) {
    q4_0_x_halves x;
    x.lo = halves_16(a->qs, b->qs);
    x.hi = halves_16(a->qs + 16, b->qs + 16);
    const __m256i eight = _mm256_set1_epi8(8);
    x.off = _mm256_sub_epi32(_mm256_setzero_si256(),
                             nibble_dots_into(_mm256_setzero_si256(), eight, x.lo, eight, x.hi));
    return x;
}

/* Partial sums of blocks a (low half) and b (high half) of one row: the four int32 of a
 * half add up to that block's sum of (q - 8)·x, each over eight products (at most
 * 8·8·128 in magnitude). */
static inline __m256i q4_0_row_halves(const block_q4_0 *a, const block_q4_0 *b, const q4_0_x_halves *x) {
    const __m256i mask = _mm256_set1_epi8(0x0F);
    const __m256i q = halves_16(a->qs, b->qs);
    const __m256i lo = _mm256_and_si256(q, mask);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
    return nibble_dots_into(x->off, lo, x->lo, hi, x->hi);
}

/* Per 128-bit half, the sums of the four int32 of each of a..d: half h of the result holds
 * (sum of half h of a, of b, of c, of d). Saturating packs to int16 and multiply-adds by
 * ones; exact while the pair sums fit int16 (the callers': at most 16·8·128). */
static inline __m256i sum4_per_half(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i ab = x86_pair_sums_i16(_mm256_packs_epi32(a, b));
    const __m256i cd = x86_pair_sums_i16(_mm256_packs_epi32(c, d));
    return x86_pair_sums_i16(_mm256_packs_epi32(ab, cd));
}

/* The fp16 scales of blocks a and b of four rows (w[r][a], w[r][b]) in the layout of
 * sum4_per_half, as floats: lane 4h + r. */
static inline __m256 four_row_scales(const block_q4_0 *const w[4], int a, int b) {
    return _mm256_cvtph_ps(_mm_setr_epi16((short)w[0][a].d, (short)w[1][a].d, (short)w[2][a].d, (short)w[3][a].d,
                                          (short)w[0][b].d, (short)w[1][b].d, (short)w[2][b].d, (short)w[3][b].d));
}

/* The same for activation blocks a and b, shared by the four rows or one per row. */
static inline __m256 activation_scales(const block_q8_0 *const x[4], int a, int b, bool one_x) {
    if (one_x) {
        const sealm_fp16 da = x[0][a].d, db = x[0][b].d;
        return _mm256_cvtph_ps(_mm_setr_epi16((short)da, (short)da, (short)da, (short)da, (short)db, (short)db,
                                              (short)db, (short)db));
    }
    return _mm256_cvtph_ps(_mm_setr_epi16((short)x[0][a].d, (short)x[1][a].d, (short)x[2][a].d, (short)x[3][a].d,
                                          (short)x[0][b].d, (short)x[1][b].d, (short)x[2][b].d, (short)x[3][b].d));
}

/* Blocks a and b of the four rows against one activation pair arranged as xh, with its
 * scales d (lane 4h + r): their sums and scale products, lane 4h + r. */
static inline __attribute__((always_inline)) void q4_0_rows_pair_avx2(const block_q4_0 *const w[4], int a, int b,
                                                                      const q4_0_x_halves *xh, __m256 d,
                                                                      __m256 *sums, __m256 *scales) {
    __m256i p[4];
    for (int r = 0; r < 4; r++) p[r] = q4_0_row_halves(&w[r][a], &w[r][b], xh);
    *sums = _mm256_cvtepi32_ps(sum4_per_half(p[0], p[1], p[2], p[3]));
    /* d_w*d_x: the same float product as the scalar reference's, per row and block */
    *scales = _mm256_mul_ps(four_row_scales(w, a, b), d);
}

/* Blocks a and b of the four rows: their sums and scale products, lane 4h + r. */
static inline __attribute__((always_inline)) void q4_0_x4_block_pair(const block_q4_0 *const w[4],
                                                                     const block_q8_0 *const x[4], int a, int b,
                                                                     bool one_x, __m256 *sums, __m256 *scales) {
    if (one_x) {   /* the shared activation is arranged once for the four rows */
        const q4_0_x_halves xh = q4_0_x_arrange_avx2(&x[0][a], &x[0][b]);
        q4_0_rows_pair_avx2(w, a, b, &xh, activation_scales(x, a, b, true), sums, scales);
        return;
    }
    __m256i p[4];
    for (int r = 0; r < 4; r++) {
        const q4_0_x_halves xh = q4_0_x_arrange_avx2(&x[r][a], &x[r][b]);
        p[r] = q4_0_row_halves(&w[r][a], &w[r][b], &xh);
    }
    *sums = _mm256_cvtepi32_ps(sum4_per_half(p[0], p[1], p[2], p[3]));
    /* d_w*d_x: the same float product as the scalar reference's, per row and block */
    *scales = _mm256_mul_ps(four_row_scales(w, a, b), activation_scales(x, a, b, false));
}

/* The step of X86_Q4_0_X4_DOT: blocks first..3 of the four blocks at vw[r] / vx[r]. */
static inline __attribute__((always_inline)) __m128 q4_0_x4_four_blocks_avx2(__m128 acc, const void *const vw[4],
                                                                             const void *const vx[4], bool one_x,
                                                                             int first) {
    const block_q4_0 *const w[4] = {vw[0], vw[1], vw[2], vw[3]};
    const block_q8_0 *const x[4] = {vx[0], vx[1], vx[2], vx[3]};
    __m256 sums, scales;
    if (first <= 1) {
        q4_0_x4_block_pair(w, x, 0, 1, one_x, &sums, &scales);
        if (first <= 0) acc = _mm_fmadd_ps(_mm256_castps256_ps128(sums), _mm256_castps256_ps128(scales), acc);
        acc = _mm_fmadd_ps(_mm256_extractf128_ps(sums, 1), _mm256_extractf128_ps(scales, 1), acc);
    }
    q4_0_x4_block_pair(w, x, 2, 3, one_x, &sums, &scales);
    if (first <= 2) acc = _mm_fmadd_ps(_mm256_castps256_ps128(sums), _mm256_castps256_ps128(scales), acc);
    return _mm_fmadd_ps(_mm256_extractf128_ps(sums, 1), _mm256_extractf128_ps(scales, 1), acc);
}

X86_Q4_0_X4_DOT(avx2, q4_0_x4_four_blocks_avx2)

/* The matvec (simd_x86.h, X86_Q4_0_MATVEC): the activation's halves, offsets and scales of
 * both block pairs of a step arranged once per call, not once per four rows; the rows'
 * part of the step is vec_dot_x4's (q4_0_rows_pair_avx2). */
typedef struct {
    q4_0_x_halves x01, x23;   /* blocks 0|1 and 2|3 */
    __m256 d01, d23;          /* their scales in the lanes of sum4_per_half (4h + r) */
} q4_0_x_step_avx2;

static inline q4_0_x_step_avx2 q4_0_x_step_arrange_avx2(const block_q8_0 *x) {
    const block_q8_0 *const xs[4] = {x, x, x, x};
    return (q4_0_x_step_avx2){q4_0_x_arrange_avx2(&x[0], &x[1]), q4_0_x_arrange_avx2(&x[2], &x[3]),
                              activation_scales(xs, 0, 1, true), activation_scales(xs, 2, 3, true)};
}

static inline __attribute__((always_inline)) __m128 q4_0_matvec_step_avx2(__m128 acc, const block_q4_0 *const wr[4],
                                                                          int64_t block, const q4_0_x_step_avx2 *x,
                                                                          int first) {
    const block_q4_0 *const w[4] = {&wr[0][block], &wr[1][block], &wr[2][block], &wr[3][block]};
    __m256 sums, scales;
    if (first <= 1) {
        q4_0_rows_pair_avx2(w, 0, 1, &x->x01, x->d01, &sums, &scales);
        if (first <= 0) acc = _mm_fmadd_ps(_mm256_castps256_ps128(sums), _mm256_castps256_ps128(scales), acc);
        acc = _mm_fmadd_ps(_mm256_extractf128_ps(sums, 1), _mm256_extractf128_ps(scales, 1), acc);
    }
    q4_0_rows_pair_avx2(w, 2, 3, &x->x23, x->d23, &sums, &scales);
    if (first <= 2) acc = _mm_fmadd_ps(_mm256_castps256_ps128(sums), _mm256_castps256_ps128(scales), acc);
    return _mm_fmadd_ps(_mm256_extractf128_ps(sums, 1), _mm256_extractf128_ps(scales, 1), acc);
}

X86_Q4_0_MATVEC(avx2, q4_0_x_step_avx2, q4_0_x_step_arrange_avx2, q4_0_matvec_step_avx2)

/* Q4_1: w = d*q + m with q 0..15, so w·x = d*dx*sum(q*qx) + m*(dx*sum(qx)) and the
 * activation block carries s = dx*sum(qx). */
/* The running sums of a Q4_1 dot: lane-8 order for the quants, one fmaf chain for the
 * mins (lane 1 of mins; the other lanes are scratch), added at the end. */
typedef struct { __m256 acc; __m128 mins; } q4_1_chain;

/* One block, the activation's quants qx and (dx, sx) in xds already loaded. */
static inline q4_1_chain q4_1_block_xs_avx2(const block_q4_1 *w, __m256i qx, __m128 xds, q4_1_chain c) {
    __m256i qw = unpack_nibbles16_avx2(w->qs);
    __m256 sums = _mm256_cvtepi32_ps(x86_dot_u8i8x32(qw, qx));
    const __m128 wdm = load_2_fp16(&w->d);   /* dw, mw (d and m are adjacent) */
    __m256 d = _mm256_broadcastss_ps(_mm_mul_ps(wdm, xds));   /* lane 0: dw*dx */
    c.acc = _mm256_fmadd_ps(d, sums, c.acc);
    c.mins = _mm_fmadd_ps(wdm, xds, c.mins);                   /* lane 1: fmaf(mw, sx, min) */
    return c;
}

static inline q4_1_chain q4_1_block_avx2(const block_q4_1 *w, const block_q8_1 *x, q4_1_chain c) {
    return q4_1_block_xs_avx2(w, _mm256_loadu_si256((const __m256i *)x->qs), load_2_fp16(&x->d), c);
}

static inline float q4_1_finish(q4_1_chain c) {
    return x86_hsum_f32x8(c.acc) + _mm_cvtss_f32(_mm_movehdup_ps(c.mins));
}

static void vec_dot_q4_1_q8_1_avx2(int64_t n, float *restrict s, const void *restrict vw,
                                   const void *restrict vx) {
    const block_q4_1 *w = vw;
    const block_q8_1 *x = vx;
    const int64_t nb = n / QK4_1;
    q4_1_chain c = {_mm256_setzero_ps(), _mm_setzero_ps()};
    for (int64_t i = 0; i < nb; i++)
        c = q4_1_block_avx2(&w[i], &x[i], c);
    *s = q4_1_finish(c);
}

static void vec_dot_x4_q4_1_q8_1_avx2(int64_t n, float *restrict s, const void *const vw[4],
                                      const void *const vx[4]) {
    const block_q4_1 *w0 = vw[0], *w1 = vw[1], *w2 = vw[2], *w3 = vw[3];
    const block_q8_1 *x0 = vx[0], *x1 = vx[1], *x2 = vx[2], *x3 = vx[3];
    const int64_t nb = n / QK4_1;
    q4_1_chain c0 = {_mm256_setzero_ps(), _mm_setzero_ps()}, c1 = c0, c2 = c0, c3 = c0;
    const uintptr_t next = x86_next_rows(vw[0], vw[1], vw[2], vw[3], (size_t)nb * sizeof(block_q4_1));
    if (x0 == x1 && x0 == x2 && x0 == x3) {
        /* decode: four rows, one activation, whose block is loaded and converted once */
        for (int64_t i = 0; i < nb; i++) {
            x86_prefetch_step(next, i, 4 * sizeof(block_q4_1));
            const __m256i qx = _mm256_loadu_si256((const __m256i *)x0[i].qs);
            const __m128 xds = load_2_fp16(&x0[i].d);
            c0 = q4_1_block_xs_avx2(&w0[i], qx, xds, c0);
            c1 = q4_1_block_xs_avx2(&w1[i], qx, xds, c1);
            c2 = q4_1_block_xs_avx2(&w2[i], qx, xds, c2);
            c3 = q4_1_block_xs_avx2(&w3[i], qx, xds, c3);
        }
    } else for (int64_t i = 0; i < nb; i++) {
        c0 = q4_1_block_avx2(&w0[i], &x0[i], c0);
        c1 = q4_1_block_avx2(&w1[i], &x1[i], c1);
        c2 = q4_1_block_avx2(&w2[i], &x2[i], c2);
        c3 = q4_1_block_avx2(&w3[i], &x3[i], c3);
    }
    s[0] = q4_1_finish(c0);
    s[1] = q4_1_finish(c1);
    s[2] = q4_1_finish(c2);
    s[3] = q4_1_finish(c3);
}

/* Q5_0: a 5th bit per quant in qh (bit j for element j), values 0..31 standing for -16..15. */
static void vec_dot_q5_0_q8_0_avx2(int64_t n, float *restrict s, const void *restrict vw,
                                   const void *restrict vx) {
    const block_q5_0 *w = vw;
    const block_q8_0 *x = vx;
    const int64_t nb = n / QK5_0;
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    const __m256i sixteen = _mm256_set1_epi8(16);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        uint32_t qh;
        memcpy(&qh, w[i].qh, sizeof qh);
        __m256i high = _mm256_and_si256(x86_bits_to_bytes(qh), bit4);
        __m256i qw = _mm256_sub_epi8(_mm256_or_si256(x86_unpack_nibbles16(w[i].qs), high), sixteen);
        __m256i qx = _mm256_loadu_si256((const __m256i *)x[i].qs);
        __m256 sums = _mm256_cvtepi32_ps(x86_dot_i8x32(qw, qx));
        __m256 d = _mm256_set1_ps(x86_fp16_to_f32(w[i].d) * x86_fp16_to_f32(x[i].d));
        acc = _mm256_fmadd_ps(sums, d, acc);
    }
    *s = x86_hsum_f32x8(acc);
}

/* Q5_1: like Q5_0 with unsigned quants 0..31 and a min, folded in as for Q4_1. */
static void vec_dot_q5_1_q8_1_avx2(int64_t n, float *restrict s, const void *restrict vw,
                                   const void *restrict vx) {
    const block_q5_1 *w = vw;
    const block_q8_1 *x = vx;
    const int64_t nb = n / QK5_1;
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    __m256 acc = _mm256_setzero_ps();
    float min_terms = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        uint32_t qh;
        memcpy(&qh, w[i].qh, sizeof qh);
        __m256i high = _mm256_and_si256(x86_bits_to_bytes(qh), bit4);
        __m256i qw = _mm256_or_si256(x86_unpack_nibbles16(w[i].qs), high);
        __m256i qx = _mm256_loadu_si256((const __m256i *)x[i].qs);
        __m256 sums = _mm256_cvtepi32_ps(x86_dot_u8i8x32(qw, qx));
        __m256 d = _mm256_set1_ps(x86_fp16_to_f32(w[i].d) * x86_fp16_to_f32(x[i].d));
        acc = _mm256_fmadd_ps(sums, d, acc);
        min_terms += x86_fp16_to_f32(w[i].m) * x86_fp16_to_f32(x[i].s);
    }
    *s = x86_hsum_f32x8(acc) + min_terms;
}

/* ------------------------------------------------------------------------------------
 * K-quants · Q8_K (256-element super-blocks; bsums[g] = sum of activation quants 16g..16g+15)
 * ---------------------------------------------------------------------------------- */

/* sum_g a[g] * bsums[g] over the 16 groups, a given as 16 int16. */
static inline int32_t bsums_dot(const int16_t bsums[16], __m256i a) {
    __m256i b = _mm256_loadu_si256((const __m256i *)bsums);
    return x86_hsum_i32x8(_mm256_madd_epi16(b, a));
}

/* Q4_K: 8 sub-blocks of 32 with a 6-bit scale and min each. Bytes qs[32c..32c+31] hold
 * sub-block 2c in their low nibbles and 2c+1 in their high nibbles.
 * w·x = dx*(d*sum_j sc_j*sum(q*qx) - dmin*sum_j mn_j*sum(qx)), sum(qx) from bsums.
 *
 * The step is counted in uops per row and super-block, as the decode product runs it
 * (four rows, one activation): most of its time used to go to the shuffle port (p5 on
 * Intel cores): a vpshufb per sub-block to spread its scale, and the fp16 and scale
 * unpacking in between. Here the scales and mins are unpacked with two vpshufb from the
 * block's first 16 bytes (simd_unpack_k4_scales_u64's bit fields, 16 at a time), the eight
 * (scale, scale) int16 pairs are stored once, and each sub-block reads its pair back with
 * a vpbroadcastd from memory, which is a load alone. What depends on the activation alone
 * (the neighbouring bsums added, -d_x) is computed once for the four rows. */

/* The running sums of a Q4_K dot: lane-8 order for the quants, and four lanes for the mins
 * (quant_ref.h), added at the end. */
typedef struct { __m256 acc; __m128 acc_m; } q4_K_chain;

/* What the step needs from one Q8_K activation block. */
typedef struct {
    const int8_t *qs;
    __m128i bsum_pairs;   /* int16 lane l: bsums[2l] + bsums[2l+1], what min l multiplies */
    __m128 d_pos_neg;     /* (d_x, -d_x, d_x, -d_x) */
} q4_K_activation;

static inline __attribute__((always_inline)) void q4_K_activation_of(const block_q8_K *x, q4_K_activation *a) {
    const __m256i bsums = _mm256_loadu_si256((const __m256i *)x->bsums);
    a->qs = x->qs;
    a->bsum_pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
    a->d_pos_neg = _mm_setr_ps(x->d, -x->d, x->d, -x->d);
}

/* The block's 8 scales (bytes 0..7) and 8 mins (bytes 8..15) from its first 16 bytes (d,
 * dmin, then the 12 packed bytes s[0..11], at bytes 4..15):
 *   scale j < 4: s[j] & 63        scale j >= 4: (s[j+4] & 15) | (s[j-4] >> 6) << 4
 *   min j < 4:   s[j+4] & 63      min j >= 4:   (s[j+4] >> 4) | (s[j] >> 6) << 4
 * One shuffle brings each byte's low source to its place (p), another the source of its
 * top two bits (t, zero where there is none). */
static inline __m128i q4_K_scales_mins(__m128i head) {
    const __m128i p = _mm_shuffle_epi8(head, _mm_setr_epi8(4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15));
    const __m128i t = _mm_shuffle_epi8(head, _mm_setr_epi8(-1, -1, -1, -1, 4, 5, 6, 7, -1, -1, -1, -1, 8, 9, 10, 11));
    const __m128i low = _mm_and_si128(p, _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0));
    const __m128i high_nibble = _mm_and_si128(_mm_srli_epi16(p, 4), _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15));
    const __m128i top = _mm_and_si128(_mm_srli_epi16(t, 2), _mm_set1_epi8(0x30));
    return _mm_or_si128(_mm_or_si128(low, high_nibble), top);
}

static inline __attribute__((always_inline)) q4_K_chain q4_K_block_avx2(const block_q4_K *w, const q4_K_activation *a,
                                                                        q4_K_chain ch) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m128i head = _mm_loadu_si128((const __m128i *)w);
    const __m128i sm = q4_K_scales_mins(head);
    /* (scale, scale) int16 pairs, one int32 per sub-block; the asm tells the compiler that
     * the broadcasts below must read them from memory (it would otherwise shuffle them out
     * of the register, on the shuffle port) */
    _Alignas(32) int32_t pair[8];
    const __m256i sc32 = _mm256_cvtepu8_epi32(sm);
    _mm256_store_si256((__m256i *)pair, _mm256_or_si256(sc32, _mm256_slli_epi32(sc32, 16)));
    __asm__("" : "+m"(pair));
    const int8_t *y = a->qs;
    /* int32 lane k: elements 4k..4k+3 of every 32 */
    __m256i isum_lo = _mm256_setzero_si256(), isum_hi = _mm256_setzero_si256();
    for (int c = 0; c < 4; c++) {
        __m256i bytes = _mm256_loadu_si256((const __m256i *)(w->qs + 32 * c));
        __m256i lo = _mm256_and_si256(bytes, low4);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
        __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(y + 64 * c)));
        __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y + 64 * c + 32)));
        isum_lo = x86_madd_i16_into(isum_lo, plo, _mm256_set1_epi32(pair[2 * c]));
        isum_hi = x86_madd_i16_into(isum_hi, phi, _mm256_set1_epi32(pair[2 * c + 1]));
    }
    const __m256i isum = _mm256_add_epi32(isum_lo, isum_hi);
    /* each min covers two 16-element bsums groups: vpmaddwd leaves lane l = mn[2l]*S[2l] +
     * mn[2l+1]*S[2l+1], the reference's lanes */
    const __m128i mins = _mm_unpackhi_epi8(sm, _mm_setzero_si128());
    const __m128 msums = _mm_cvtepi32_ps(_mm_madd_epi16(a->bsum_pairs, mins));
    /* lanes 0 and 1: d_x * d, -d_x * dmin (the reference's products, in the same order of
     * operands up to commutation, so the same floats) */
    const __m128 dd = _mm_mul_ps(a->d_pos_neg, _mm_cvtph_ps(head));
    ch.acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(dd), _mm256_cvtepi32_ps(isum), ch.acc);
    ch.acc_m = _mm_fmadd_ps(_mm_permute_ps(dd, 0x55), msums, ch.acc_m);
    return ch;
}

static inline float q4_K_finish(q4_K_chain ch) {
    return x86_hsum_f32x8(ch.acc) + x86_hsum_f32x4(ch.acc_m);
}

#define Q4_K_CHAIN_ZERO ((q4_K_chain){_mm256_setzero_ps(), _mm_setzero_ps()})
X86_SUPERBLOCK_DOTS(q4_K_q8_K_avx2, block_q4_K, q4_K_activation, q4_K_activation_of, q4_K_chain, Q4_K_CHAIN_ZERO,
                    q4_K_block_avx2, q4_K_finish)

/* Q5_K: Q4_K plus a 5th bit: for chunk c, qh[l] bit 2c belongs to element l of sub-block 2c
 * and bit 2c+1 to element l of sub-block 2c+1. */
static void vec_dot_q5_K_q8_K_avx2(int64_t n, float *restrict s, const void *restrict vw,
                                   const void *restrict vx) {
    const block_q5_K *w = vw;
    const block_q8_K *x = vx;
    const int64_t nb = n / QK_K;
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    __m256 acc = _mm256_setzero_ps();
    float min_terms = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        uint8_t sc[8], mn[8];
        simd_unpack_k4_scales(w[i].scales, sc, mn);
        const uint8_t *q = w[i].qs;
        const int8_t *y = x[i].qs;
        const __m256i qh = _mm256_loadu_si256((const __m256i *)w[i].qh);
        __m256i isum = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i mlo = _mm256_set1_epi8((char)(1 << (2 * c)));
            const __m256i mhi = _mm256_set1_epi8((char)(1 << (2 * c + 1)));
            /* (qh & m) == m gives 0xFF where the bit is set; keep 0x10 of it */
            __m256i hlo = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, mlo), mlo), bit4);
            __m256i hhi = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, mhi), mhi), bit4);
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
            __m256i lo = _mm256_or_si256(_mm256_and_si256(bytes, low4), hlo);
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4), hhi);
            __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(y + 64 * c)));
            __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y + 64 * c + 32)));
            isum = x86_madd_i16_into(isum, plo, _mm256_set1_epi16(sc[2 * c]));
            isum = x86_madd_i16_into(isum, phi, _mm256_set1_epi16(sc[2 * c + 1]));
        }
        int32_t msum = 0;
        for (int j = 0; j < 8; j++) msum += mn[j] * (x[i].bsums[2 * j] + x[i].bsums[2 * j + 1]);
        const float dx = x[i].d;
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(dx * x86_fp16_to_f32(w[i].d)), acc);
        min_terms += dx * x86_fp16_to_f32(w[i].dmin) * (float)msum;
    }
    *s = x86_hsum_f32x8(acc) - min_terms;
}

/* Q6_K: 6-bit quants 0..63 standing for -32..31, a signed 8-bit scale per 16 elements.
 * Each half (128 elements) uses 64 ql bytes and 32 qh bytes: for l < 32,
 *   element  l     = ql[l]    low nibble  | qh[l] bits 0-1 << 4
 *   element 32 + l = ql[32+l] low nibble  | qh[l] bits 2-3 << 4
 *   element 64 + l = ql[l]    high nibble | qh[l] bits 4-5 << 4
 *   element 96 + l = ql[32+l] high nibble | qh[l] bits 6-7 << 4
 * The -32 offset is taken off each 16-bit pair sum (32*qx pairs, by vpmaddubsw too) before
 * the scales, so that every int32 lane holds the reference's lane sum (lane-8 order). */
/* What the step needs from one Q8_K activation block: its quants, d_x, and the 32·qx pair
 * sums that take the -32 offset off (vpmaddubsw of 32 by the quants, the same int16 the
 * reference's offset gives). They depend on the activation alone, so decode's four rows
 * share them. */
typedef struct {
    const int8_t *qs;
    float d;
    __m256i offset[8];   /* [4h + k]: 32·(pair sums) of the quants 128h + 32k .. +31 */
} q6_K_activation;

static inline __attribute__((always_inline)) void q6_K_activation_of(const block_q8_K *x, q6_K_activation *a) {
    const __m256i m32 = _mm256_set1_epi8(32);
    a->qs = x->qs;
    a->d = x->d;
    for (int j = 0; j < 8; j++)
        a->offset[j] = _mm256_maddubs_epi16(m32, _mm256_loadu_si256((const __m256i *)(x->qs + 32 * j)));
}

/* One super-block into the lane-8 accumulator (shared by vec_dot and vec_dot_x4). */
static inline __attribute__((always_inline)) __m256 q6_K_block_avx2(const block_q6_K *w, const q6_K_activation *a,
                                                                    __m256 acc) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const int8_t *sc = w->scales;
    const int8_t *y = a->qs;
    /* the 16 scales as int16: groups 0..7 in the low half, 8..15 in the high half */
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
    __m256i isum = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        /* this half's 8 scales in both 128-bit halves, picked in pairs below */
        const __m256i half_scales = h == 0 ? _mm256_permute2x128_si256(sc16, sc16, 0x00)
                                           : _mm256_permute2x128_si256(sc16, sc16, 0x11);
        const uint8_t *ql = w->ql + 64 * h;
        __m256i qh = _mm256_loadu_si256((const __m256i *)(w->qh + 32 * h));
        __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
        __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
        /* the 16-bit shifts move bits across byte borders only where the masks drop them */
        __m256i q[4];
        q[0] = _mm256_or_si256(_mm256_and_si256(l0, low4),
                               _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x03)), 4));
        q[1] = _mm256_or_si256(_mm256_and_si256(l1, low4),
                               _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x0C)), 2));
        q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
                               _mm256_and_si256(qh, _mm256_set1_epi8(0x30)));
        q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                               _mm256_and_si256(_mm256_srli_epi16(qh, 2), _mm256_set1_epi8(0x30)));
        for (int k = 0; k < 4; k++) {
            /* groups 8h+2k and 8h+2k+1 cover these 32 elements; pair sums of (q-32)*qx
             * stay within 2*32*128 */
            const __m256i qx = _mm256_loadu_si256((const __m256i *)(y + 128 * h + 32 * k));
            __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], qx), a->offset[4 * h + k]);
            isum = x86_madd_i16_into(isum, p, x86_pick(x86_pick_word_pair[k], half_scales));
        }
    }
    const float d = a->d * x86_fp16_to_f32(w->d);
    return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc);
}

X86_SUPERBLOCK_DOTS(q6_K_q8_K_avx2, block_q6_K, q6_K_activation, q6_K_activation_of, __m256, _mm256_setzero_ps(),
                    q6_K_block_avx2, x86_hsum_f32x8)

/* Q3_K: 3-bit quants: 2 low bits in qs, the 3rd in hmask; value = low2 - (bit ? 0 : 4),
 * i.e. (low2 | bit<<2) - 4. Each half h uses qs[32h..32h+31]; chunk c of the half takes
 * bits 2c..2c+1 of those bytes and bit 4h+c of hmask[l]. Scales: 16 signed 6-bit values.
 * The -4 offset is applied at the end through bsums, as for Q6_K. */
static void vec_dot_q3_K_q8_K_avx2(int64_t n, float *restrict s, const void *restrict vw,
                                   const void *restrict vx) {
    const block_q3_K *w = vw;
    const block_q8_K *x = vx;
    const int64_t nb = n / QK_K;
    const __m256i two_bits = _mm256_set1_epi8(0x03);
    const __m256i bit2 = _mm256_set1_epi8(0x04);
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int8_t sc[16];
        simd_unpack_q3k_scales(w[i].scales, sc);
        const int8_t *y = x[i].qs;
        const __m256i hm = _mm256_loadu_si256((const __m256i *)w[i].hmask);
        __m256i isum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i qs = _mm256_loadu_si256((const __m256i *)(w[i].qs + 32 * h));
            for (int c = 0; c < 4; c++) {
                const __m256i m = _mm256_set1_epi8((char)(1 << (4 * h + c)));
                __m256i low = _mm256_and_si256(_mm256_srl_epi16(qs, _mm_cvtsi32_si128(2 * c)), two_bits);
                __m256i high = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hm, m), m), bit2);
                __m256i q = _mm256_or_si256(low, high);
                const int g = 8 * h + 2 * c;
                __m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)(y + 128 * h + 32 * c)));
                isum = x86_madd_i16_into(isum, p, x86_two_scales_i16(sc[g], sc[g + 1]));
            }
        }
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        int32_t offset = 4 * bsums_dot(x[i].bsums, sc16);
        sum += x[i].d * x86_fp16_to_f32(w[i].d) * (float)(x86_hsum_i32x8(isum) - offset);
    }
    *s = sum;
}

/* Q2_K: 2-bit quants; scales[g] holds a 4-bit scale (low) and a 4-bit min (high) per 16
 * elements. Quant layout as Q3_K's low bits. */
static void vec_dot_q2_K_q8_K_avx2(int64_t n, float *restrict s, const void *restrict vw,
                                   const void *restrict vx) {
    const block_q2_K *w = vw;
    const block_q8_K *x = vx;
    const int64_t nb = n / QK_K;
    const __m256i two_bits = _mm256_set1_epi8(0x03);
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *sm = w[i].scales;
        const int8_t *y = x[i].qs;
        __m256i isum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i qs = _mm256_loadu_si256((const __m256i *)(w[i].qs + 32 * h));
            for (int c = 0; c < 4; c++) {
                __m256i q = _mm256_and_si256(_mm256_srl_epi16(qs, _mm_cvtsi32_si128(2 * c)), two_bits);
                const int g = 8 * h + 2 * c;
                __m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)(y + 128 * h + 32 * c)));
                isum = x86_madd_i16_into(isum, p, x86_two_scales_i16(sm[g] & 0x0F, sm[g + 1] & 0x0F));
            }
        }
        /* mins: the high nibbles, widened to int16 and dotted with bsums */
        __m128i packed = _mm_loadu_si128((const __m128i *)sm);
        __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F)));
        int32_t msum = bsums_dot(x[i].bsums, mins16);
        const float dx = x[i].d;
        sum += dx * x86_fp16_to_f32(w[i].d) * (float)x86_hsum_i32x8(isum)
             - dx * x86_fp16_to_f32(w[i].dmin) * (float)msum;
    }
    *s = sum;
}

/* ------------------------------------------------------------------------------------ */

/* The quantized vec_dots, the interleaved vec_dot_x4 of the pinned types (the others
 * keep cpu.c's four-calls default; the AVX-512 level replaces Q8_0's and Q4_1's with the
 * same bits) and Q4_0's matvec. */
static void avx2_install_quantized_dots(sealm_type_traits table[SEALM_TYPE_COUNT]) {
    table[SEALM_TYPE_Q8_0].vec_dot = vec_dot_q8_0_q8_0_avx2;
    table[SEALM_TYPE_Q4_0].vec_dot = vec_dot_q4_0_q8_0_avx2;
    table[SEALM_TYPE_Q4_1].vec_dot = vec_dot_q4_1_q8_1_avx2;
    table[SEALM_TYPE_Q5_0].vec_dot = vec_dot_q5_0_q8_0_avx2;
    table[SEALM_TYPE_Q5_1].vec_dot = vec_dot_q5_1_q8_1_avx2;
    table[SEALM_TYPE_Q2_K].vec_dot = vec_dot_q2_K_q8_K_avx2;
    table[SEALM_TYPE_Q3_K].vec_dot = vec_dot_q3_K_q8_K_avx2;
    table[SEALM_TYPE_Q4_K].vec_dot = vec_dot_q4_K_q8_K_avx2;
    table[SEALM_TYPE_Q5_K].vec_dot = vec_dot_q5_K_q8_K_avx2;
    table[SEALM_TYPE_Q6_K].vec_dot = vec_dot_q6_K_q8_K_avx2;

    table[SEALM_TYPE_Q8_0].vec_dot_x4 = vec_dot_x4_q8_0_q8_0_avx2;
    table[SEALM_TYPE_Q4_0].vec_dot_x4 = vec_dot_x4_q4_0_q8_0_avx2;
    table[SEALM_TYPE_Q4_0].matvec = matvec_q4_0_q8_0_avx2;
    table[SEALM_TYPE_Q4_1].vec_dot_x4 = vec_dot_x4_q4_1_q8_1_avx2;
    table[SEALM_TYPE_Q4_K].vec_dot_x4 = vec_dot_x4_q4_K_q8_K_avx2;
    table[SEALM_TYPE_Q6_K].vec_dot_x4 = vec_dot_x4_q6_K_q8_K_avx2;
}

#endif
