/* AVX-512 kernels (F, BW, VL, VNNI): Q6_K, the x4 dots of Q8_0, Q4_1, Q4_0 and Q6_K, and
 * the float dot products and vector ops.
 *
 * cpu.c installs these on top of the AVX2 set, so types not handled here keep their AVX2
 * kernel (and the activation quantizers stay AVX2). Each kernel computes the same integer
 * sums as its scalar reference and adds the float terms in the reference's pinned order
 * (quant_ref.h, "accumulation order"), so the results are bit-identical to it:
 *  - Q6_K (lane-8): the integer work runs 512 bits wide, two 32-element steps of the
 *    super-block per register; the two 256-bit halves have the same lane layout (int32
 *    lane k: elements 4k..4k+3 of a step) and are added as integers before the one 8-lane
 *    float FMA per super-block. Its x4 runs four such chains side by side.
 *  - float types (lane-16): one 16-lane FMA accumulator, reduced as x86_lane16_sum does.
 *  - Q8_0 and Q4_1 vec_dot_x4 (lane-8): two chains per register, one in each 256-bit
 *    half, integer sums by vpdpbusd (see the section below).
 *  - Q4_0 vec_dot_x4 (one fmaf chain per row): the four rows' chains in the lanes of one
 *    4-lane register, block sums by vpdpbusd four blocks × four rows at a time.
 * Their single vec_dot, and Q4_0's and Q4_K's, stay AVX2: one chain alone is one 8-lane
 * FMA per 32-element block in block order, and with that chain the wider integer step (two
 * blocks of one chain per register) measured slower than the AVX2 kernels, not faster.
 * Q4_K's x4 stays AVX2 as well: it needs two multiplies per 32 weights (vpmaddubsw, then
 * vpmaddwd by the sub-block scales) either way, and on cores whose 512-bit integer
 * multiplies issue on one port, two rows per zmm measured about 25% slower than four ymm
 * chains (15.9 vs 21.4 Gweights/s per core, rows of 2048).
 * Only AVX512F/BW/VL and VNNI instructions are used (cpu.c checks all four). */
#include "engine/elementwise.h"
#include "engine/quant_simd.h"
#include "engine/simd_kscales.h"
#include "engine/simd_x86.h"

#include <stdbool.h>
#include <string.h>

/* ------------------------------------------------------------------------------------
 * helpers
 * ---------------------------------------------------------------------------------- */

/* Two 256-bit halves -> one 512-bit register (lo in bits 0..255). */
static inline __m512i join_i256(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* The upper 256 bits of a 512-bit register (AVX512F forms only). */
static inline __m256i upper_i256(__m512i v) {
    return _mm512_extracti64x4_epi64(v, 1);
}

static inline __m256 upper_f256(__m512 v) {
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

/* ------------------------------------------------------------------------------------
 * Four interleaved dots of the 32-element formats (vec_dot_x4), two chains per register.
 *
 * The pinned order of Q8_0 and Q4_1 is, per chain, one 8-lane FMA per block in block
 * order (quant_ref.h, "lane-8"). A 512-bit register holds two such 8-lane accumulators:
 * chain a in the low 256 bits, chain b in the high ones, so one zmm FMA advances two
 * chains by one block with exactly the operations their single vec_dot does. The integer
 * block sums come from vpdpbusd, whose int32 lane k of each 256-bit half is the sum over
 * elements 4k..4k+3 of that half's block: the lanes of the AVX2 kernels, exact in integers.
 * The per-block scale products d_w·d_x of the four chains are formed in one 8-lane multiply
 * and spread over the halves by a permute; each is the same float product as the scalar
 * one, so every chain returns vec_dot's bits.
 * ---------------------------------------------------------------------------------- */

/* The 32-bit word at p (two fp16 numbers), without alignment or aliasing assumptions. */
static inline int32_t load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The first two fp16 numbers of four blocks as floats: lanes 2r, 2r+1 from p[r]. For Q4_1
 * (d, m), Q8_1 (d, s), Q8_0 (d, then two quants read as fp16: scratch, never used). */
static inline __m256 four_fp16_pairs(const void *p0, const void *p1, const void *p2, const void *p3) {
    return _mm256_cvtph_ps(_mm_setr_epi32(load_i32(p0), load_i32(p1), load_i32(p2), load_i32(p3)));
}

/* From the even lanes of prod (lane 2r: chain r's scale product), the two registers that
 * hold chain 0|1 and chain 2|3's product in every lane of their halves. */
static inline void spread_scales(__m256 prod, __m512 *d01, __m512 *d23) {
    const __m512i idx01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2);
    const __m512i idx23 = _mm512_setr_epi32(4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6);
    const __m512 p = _mm512_castps256_ps512(prod);
    *d01 = _mm512_permutexvar_ps(idx01, p);
    *d23 = _mm512_permutexvar_ps(idx23, p);
}

/* The 16 packed nibbles of two Q4 blocks as 64 bytes in element order: qa's low nibbles,
 * qa's high nibbles, qb's low, qb's high (128 bits each). Both loads are broadcasts (the
 * second merged into the upper half); one masked shift moves the high nibbles down. */
static inline __m512i nibbles_pair(const uint8_t *qa, const uint8_t *qb) {
    __m512i v = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)qa));
    v = _mm512_mask_broadcast_i32x4(v, 0xFF00, _mm_loadu_si128((const __m128i *)qb));
    v = _mm512_mask_srli_epi16(v, 0xFF00FF00u, v, 4);    /* 16-bit shift: stray bits masked below */
    return _mm512_and_si512(v, _mm512_set1_epi8(0x0F));
}

/* 32 bytes at a in the low half, 32 at b in the high half. */
static inline __m512i bytes_pair(const void *a, const void *b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a)),
                              _mm256_loadu_si256((const __m256i *)b), 1);
}

/* The same 32 bytes in both halves. */
static inline __m512i bytes_twice(const void *a) {
    return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)a));
}

/* Lane-8 sum of one half of a two-chain accumulator. */
static inline float hsum_low(__m512 acc) { return x86_hsum_f32x8(_mm512_castps512_ps256(acc)); }
static inline float hsum_high(__m512 acc) { return x86_hsum_f32x8(upper_f256(acc)); }

/* Q4_1 · Q8_1: w = d*q + m, so w·x = d*dx*sum(q*qx) + m*sx. The quant term in lane-8 order,
 * the mins as one fmaf chain per dot (odd lanes of mins: fma(m_r, sx_r, mins_r); the even
 * lanes run the same FMA on (d, dx) and are dropped), added at the end (quant_ref.h). */
/* The four chains' running sums: chains 0|1 and 2|3 in the halves of acc01 / acc23. */
typedef struct { __m512 acc01, acc23; __m256 mins; } q4_1_x4_chains;

/* Block i of the four rows, against activation quants qx01 / qx23 (chain pairs) and the
 * activations' (d, s) pairs in xds (lanes 2r, 2r+1). */
static inline q4_1_x4_chains q4_1_x4_block(q4_1_x4_chains c, const block_q4_1 *w0, const block_q4_1 *w1,
                                           const block_q4_1 *w2, const block_q4_1 *w3, __m512i qx01,
                                           __m512i qx23, __m256 xds) {
    const __m512i zero = _mm512_setzero_si512();
    const __m256 wdm = four_fp16_pairs(&w0->d, &w1->d, &w2->d, &w3->d);
    __m512 d01, d23;
    spread_scales(_mm256_mul_ps(wdm, xds), &d01, &d23);   /* lane 2r: d_r*dx_r */
    c.mins = _mm256_fmadd_ps(wdm, xds, c.mins);            /* lane 2r+1: fmaf(m_r, sx_r, mins_r) */
    const __m512i p01 = _mm512_dpbusd_epi32(zero, nibbles_pair(w0->qs, w1->qs), qx01);
    const __m512i p23 = _mm512_dpbusd_epi32(zero, nibbles_pair(w2->qs, w3->qs), qx23);
    c.acc01 = _mm512_fmadd_ps(d01, _mm512_cvtepi32_ps(p01), c.acc01);
    c.acc23 = _mm512_fmadd_ps(d23, _mm512_cvtepi32_ps(p23), c.acc23);
    return c;
}

static void vec_dot_x4_q4_1_q8_1_avx512(int64_t n, float *restrict s, const void *const vw[4],
                                        const void *const vx[4]) {
    const block_q4_1 *w0 = vw[0], *w1 = vw[1], *w2 = vw[2], *w3 = vw[3];
    const block_q8_1 *x0 = vx[0], *x1 = vx[1], *x2 = vx[2], *x3 = vx[3];
    const int64_t nb = n / QK4_1;
    q4_1_x4_chains c = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm256_setzero_ps()};
    const uintptr_t next = x86_next_rows(vw[0], vw[1], vw[2], vw[3], (size_t)nb * sizeof(block_q4_1));
    if (x0 == x1 && x0 == x2 && x0 == x3) {
        /* decode: four rows, one activation, broadcast from memory into both halves */
        for (int64_t i = 0; i < nb; i++) {
            x86_prefetch_step(next, i, 4 * sizeof(block_q4_1));
            const __m512i qx = bytes_twice(x0[i].qs);
            const __m256 xds = _mm256_cvtph_ps(_mm_set1_epi32(load_i32(&x0[i].d)));
            c = q4_1_x4_block(c, &w0[i], &w1[i], &w2[i], &w3[i], qx, qx, xds);
        }
    } else {
        for (int64_t i = 0; i < nb; i++) {
            const __m256 xds = four_fp16_pairs(&x0[i].d, &x1[i].d, &x2[i].d, &x3[i].d);
            c = q4_1_x4_block(c, &w0[i], &w1[i], &w2[i], &w3[i], bytes_pair(x0[i].qs, x1[i].qs),
                              bytes_pair(x2[i].qs, x3[i].qs), xds);
        }
    }
    float m[8];
    _mm256_storeu_ps(m, c.mins);
    s[0] = hsum_low(c.acc01) + m[1];
    s[1] = hsum_high(c.acc01) + m[3];
    s[2] = hsum_low(c.acc23) + m[5];
    s[3] = hsum_high(c.acc23) + m[7];
}

/* Q8_0 · Q8_0: vpdpbusd multiplies unsigned by signed bytes, so the weights are offset by
 * 128 (w ^ 0x80 = w + 128 as an unsigned byte) and 128·(sum of each 4 activation quants)
 * is taken off again: the accumulator starts at that negated sum, computed once per
 * activation block. Exact in int32 (|sum| < 4·255·127). */
static inline __m512i neg_offset_sums(__m512i qx) {
    const __m512i k128 = _mm512_set1_epi8((char)0x80);
    return _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), k128, qx));
}

static void vec_dot_x4_q8_0_q8_0_avx512(int64_t n, float *restrict s, const void *const vw[4],
                                        const void *const vx[4]) {
    const block_q8_0 *w0 = vw[0], *w1 = vw[1], *w2 = vw[2], *w3 = vw[3];
    const block_q8_0 *x0 = vx[0], *x1 = vx[1], *x2 = vx[2], *x3 = vx[3];
    const int64_t nb = n / QK8_0;
    const __m512i k128 = _mm512_set1_epi8((char)0x80);
    __m512 acc01 = _mm512_setzero_ps(), acc23 = acc01;
    const bool one_x = x0 == x1 && x0 == x2 && x0 == x3;
    const uintptr_t next = x86_next_rows(vw[0], vw[1], vw[2], vw[3], (size_t)nb * sizeof(block_q8_0));
    for (int64_t i = 0; i < nb; i++) {
        x86_prefetch_step(next, i, 4 * sizeof(block_q8_0));
        __m512i qx01, qx23, off01, off23;
        if (one_x) {
            qx01 = qx23 = bytes_twice(x0[i].qs);
            off01 = off23 = neg_offset_sums(qx01);
        } else {
            qx01 = bytes_pair(x0[i].qs, x1[i].qs);
            qx23 = bytes_pair(x2[i].qs, x3[i].qs);
            off01 = neg_offset_sums(qx01);
            off23 = neg_offset_sums(qx23);
        }
        const __m256 wd = four_fp16_pairs(&w0[i].d, &w1[i].d, &w2[i].d, &w3[i].d);
        const __m256 xd = one_x ? _mm256_cvtph_ps(_mm_set1_epi32(load_i32(&x0[i].d)))
                                : four_fp16_pairs(&x0[i].d, &x1[i].d, &x2[i].d, &x3[i].d);
        __m512 d01, d23;
        spread_scales(_mm256_mul_ps(wd, xd), &d01, &d23);
        const __m512i qw01 = _mm512_xor_si512(bytes_pair(w0[i].qs, w1[i].qs), k128);
        const __m512i qw23 = _mm512_xor_si512(bytes_pair(w2[i].qs, w3[i].qs), k128);
        acc01 = _mm512_fmadd_ps(d01, _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(off01, qw01, qx01)), acc01);
        acc23 = _mm512_fmadd_ps(d23, _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(off23, qw23, qx23)), acc23);
    }
    s[0] = hsum_low(acc01);
    s[1] = hsum_high(acc01);
    s[2] = hsum_low(acc23);
    s[3] = hsum_high(acc23);
}

/* ------------------------------------------------------------------------------------
 * Q4_0 · Q8_0 vec_dot_x4: four fmaf chains in the lanes of one 4-lane register.
 *
 * Q4_0's pinned order is one fmaf chain per row over whole-block integer sums (quant_ref.h):
 * sum = fmaf(block_sum, d_w*d_x, sum), block after block. Four rows' chains sit in lanes
 * 0..3 of one xmm register, so one vfmadd advances all four by one block, each lane doing
 * exactly the scalar fmaf. The integer block sums are computed four blocks × four rows at a
 * time. Per row, one zmm holds the 16 quant bytes of block b in 128-bit lane b; its low
 * nibbles meet the activation's quants 0..15 and its high nibbles quants 16..31 (both
 * arranged the same way once per four rows), in two vpdpbusd (unsigned nibbles × signed
 * activations, the -8 offset taken off through the activation's sums). A transposing add
 * tree turns the four rows' registers into one whose lane b holds block b's sums of rows
 * 0..3, and so do the scale products. Integer sums are exact in any order; only the
 * chain's float FMAs round, in block order per row. Against the earlier layout (two blocks
 * of one row per register, an add tree over eight registers, a permute per row for the
 * scales) this halves the add tree and the scale permutes: one core, rows in L2, 20.7 →
 * 23.9 Gweights/s at 576 columns and 24.8 → 29.2 at 1536 (medians of 21 alternating runs);
 * rows streamed from the last-level cache read no faster (17.0 vs 17.1), the memory side
 * is the limit there.
 * ---------------------------------------------------------------------------------- */

/* The 16 bytes at p + b·stride in 128-bit lane b, b = 0..3: four unaligned loads and three
 * inserts, two of them 256 bits wide (any vector port) and one 512 bits wide. For the
 * quants of four consecutive Q8_0 activation blocks, which the 2-byte scales keep from
 * being contiguous. */
static inline __m512i four_lanes(const uint8_t *p, size_t stride) {
    const __m256i lo = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p)),
                                               _mm_loadu_si128((const __m128i *)(p + stride)), 1);
    const __m256i hi = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(p + 2 * stride))),
                                               _mm_loadu_si128((const __m128i *)(p + 3 * stride)), 1);
    return join_i256(lo, hi);
}

/* Four Q8_0 activation blocks laid out against four_lanes of Q4_0 quants: lane b of lo holds
 * block b's quants 0..15 (the ones the low nibbles multiply), lane b of hi quants 16..31 (the
 * high nibbles'), and off starts each int32 element at -8 · (sum of the eight activation
 * quants it meets), which turns vpdpbusd of unsigned nibbles q into sums of (q - 8)·x. Exact:
 * |8·8·127| is far inside int32. */
typedef struct { __m512i lo, hi, off; } q4_0_x_lanes;

static inline q4_0_x_lanes q4_0_x_arrange(const block_q8_0 *x) {
    q4_0_x_lanes a;
    a.lo = four_lanes((const uint8_t *)x[0].qs, sizeof(block_q8_0));
    a.hi = four_lanes((const uint8_t *)x[0].qs + 16, sizeof(block_q8_0));
    const __m512i eight = _mm512_set1_epi8(8);
    const __m512i sums = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, a.lo), eight, a.hi);
    a.off = _mm512_sub_epi32(_mm512_setzero_si512(), sums);
    return a;
}

/* The 16 quant bytes of Q4_0 blocks w[0..3] in 128-bit lanes 0..3. The four blocks span 72
 * bytes with each block's quants at an even offset (2, 20, 38, 56), so two 64-byte loads
 * (at 0 and at 8, both inside the span) and one two-source word permute gather them: three
 * instructions where four_lanes takes seven. One core, 64 rows in L2, vec_dot_x4: 25.7 ->
 * 26.5 Gweights/s at 576 columns, 32.5 -> 34.5 at 1536 (3 alternating runs each). */
static inline __m512i q4_0_four_blocks_quants(const block_q4_0 *w) {
    static const uint16_t PICK[32] = {1,  2,  3,  4,  5,  6,  7,  8,  10, 11, 12, 13, 14, 15, 16, 17,
                                      19, 20, 21, 22, 23, 24, 25, 26, 28, 29, 30, 31, 60, 61, 62, 63};
    const uint8_t *p = (const uint8_t *)w;
    return _mm512_permutex2var_epi16(_mm512_loadu_si512(p), _mm512_loadu_si512(PICK), _mm512_loadu_si512(p + 8));
}

/* Partial sums of four blocks of one row: lane b holds four int32 elements that add up to
 * block b's sum of (q - 8)·x, each over eight products (|element| <= 8·8·128 = 8192). */
static inline __m512i q4_0_row_lanes(const block_q4_0 *w, const q4_0_x_lanes *x) {
    const __m512i mask = _mm512_set1_epi8(0x0F);
    const __m512i q = q4_0_four_blocks_quants(w);
    const __m512i lo = _mm512_and_si512(q, mask);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), mask);
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(x->off, lo, x->lo), hi, x->hi);
}

/* Sums adjacent pairs of the int32 elements of a and of b, within each 128-bit lane: lane
 * L of the result holds (a0+a1, a2+a3, b0+b1, b2+b3) of lane L of a and b. A saturating
 * pack to int16 and a multiply-add by ones (vpmaddwd) do it in two instructions, one of
 * them a shuffle, where unpack-and-add takes two shuffles and an add: exact as long as
 * every element fits in int16, which the callers' block sums do (|sum of 16 products of
 * (q - 8)·x| <= 16·8·128 = 16384). */
static inline __m512i pair_sums(__m512i a, __m512i b) {
    return _mm512_madd_epi16(_mm512_packs_epi32(a, b), _mm512_set1_epi16(1));
}

/* The sums of each 128-bit lane's four elements of four registers: lane L of the result
 * holds (sum of lane L of a, of b, of c, of d). Two rounds of pair_sums: the first leaves
 * (a0+a1, a2+a3, b0+b1, b2+b3) and (c.., d..), the second adds those pairs. Integer
 * adds, so the order does not matter. Elements of a..d: |x| <= 4096 (four products). */
static inline __m512i sum4_per_lane(__m512i a, __m512i b, __m512i c, __m512i d) {
    return pair_sums(pair_sums(a, b), pair_sums(c, d));
}

/* The scales d of blocks 0..3 of four Q8_0 activation rows (34-byte blocks), as 16 floats
 * in the layout of the block sums (lane 4b + r). Per row, 64-byte loads at blocks 0 and 2
 * hold the four scales at words 0 and 17 of each (each load stays inside the two blocks it
 * starts at), and one two-source word permute moves them to their lanes. When the four
 * rows are one (an activation shared by four weight rows), one permute serves all lanes. */
static inline __m512 q8_0_activation_scales(const void *const rows[4], bool one_row) {
    const __m256i pick = _mm256_setr_epi16(0, 0, 0, 0, 17, 17, 17, 17, 32, 32, 32, 32, 49, 49, 49, 49);
    __m256i d = _mm256_setzero_si256();
    for (int r = 0; r < (one_row ? 1 : 4); r++) {
        const uint8_t *row = rows[r];
        const __m256i t = _mm512_castsi512_si256(_mm512_permutex2var_epi16(
            _mm512_loadu_si512((const void *)row), _mm512_castsi256_si512(pick),
            _mm512_loadu_si512((const void *)(row + 2 * sizeof(block_q8_0)))));
        d = one_row ? t : _mm256_mask_blend_epi16((__mmask16)(0x1111u << r), d, t);
    }
    return _mm512_cvtph_ps(d);
}

/* The scales d of blocks 0..3 of four Q4_0 rows, as 16 floats in the layout of the block
 * sums (lane 4b + r). The four scales of a row lie at bytes 0, 18, 36 and 54, inside one
 * 64-byte load (the four blocks span 72 bytes); one two-source word permute places two rows'
 * scales and a blend joins the two pairs. */
static inline __m512 q4_0_weight_scales(const void *const rows[4]) {
    static const uint16_t PICK[32] = {0, 32, 0, 32, 9, 41, 9, 41, 18, 50, 18, 50, 27, 59, 27, 59};
    const __m512i pick = _mm512_loadu_si512(PICK);
    const __m512i r01 = _mm512_permutex2var_epi16(_mm512_loadu_si512(rows[0]), pick, _mm512_loadu_si512(rows[1]));
    const __m512i r23 = _mm512_permutex2var_epi16(_mm512_loadu_si512(rows[2]), pick, _mm512_loadu_si512(rows[3]));
    return _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_mask_blend_epi16(0xCCCCCCCCu, r01, r23)));
}

/* Advances the four rows' chains (lanes 0..3 of acc) by blocks first..3 of a four-block
 * step, from the rows' partial sums p[r] (q4_0_row_lanes) and the products d_w*d_x per
 * (block, row) in lane 4b + r: the same float product and the same fmaf per row and block
 * as the scalar reference, in block order. */
static inline __attribute__((always_inline)) __m128 q4_0_chain_step(__m128 acc, const __m512i p[4], __m512 scales,
                                                                    int first) {
    /* lane b, element r: the sum of block b of row r */
    const __m512 sums = _mm512_cvtepi32_ps(sum4_per_lane(p[0], p[1], p[2], p[3]));
    if (first <= 0) acc = _mm_fmadd_ps(_mm512_castps512_ps128(sums), _mm512_castps512_ps128(scales), acc);
    if (first <= 1) acc = _mm_fmadd_ps(_mm512_extractf32x4_ps(sums, 1), _mm512_extractf32x4_ps(scales, 1), acc);
    if (first <= 2) acc = _mm_fmadd_ps(_mm512_extractf32x4_ps(sums, 2), _mm512_extractf32x4_ps(scales, 2), acc);
    return _mm_fmadd_ps(_mm512_extractf32x4_ps(sums, 3), _mm512_extractf32x4_ps(scales, 3), acc);
}

/* Advances the four chains by blocks first..3 of the four blocks at w[r] and x[r] (all
 * four are read; blocks before first were already counted). Always inlined: the callers
 * pass constants for one_x and first, which leave no branches in the main loop. */
static inline __attribute__((always_inline)) __m128 q4_0_x4_four_blocks(__m128 acc, const void *const vw[4],
                                                                        const void *const vx[4], bool one_x,
                                                                        int first) {
    const block_q4_0 *const w[4] = {vw[0], vw[1], vw[2], vw[3]};
    __m512i p[4];
    if (one_x) {   /* the shared activation is arranged once for the four rows */
        const q4_0_x_lanes x = q4_0_x_arrange(vx[0]);
        for (int r = 0; r < 4; r++) p[r] = q4_0_row_lanes(w[r], &x);
    } else {
        for (int r = 0; r < 4; r++) {
            const q4_0_x_lanes x = q4_0_x_arrange(vx[r]);
            p[r] = q4_0_row_lanes(w[r], &x);
        }
    }
    const __m512 scales = _mm512_mul_ps(q4_0_weight_scales(vw), q8_0_activation_scales(vx, one_x));
    return q4_0_chain_step(acc, p, scales, first);
}

X86_Q4_0_X4_DOT(avx512, q4_0_x4_four_blocks)

/* No Q4_0 matvec here: at this level decode keeps the ymm build's (quant_avx2_dots.h,
 * X86_Q4_0_MATVEC; quant_ymm_avx512.c or quant_avxvnni.c, installed before this file's
 * kernels). A zmm matvec with this file's step (each row's four blocks of quants from one
 * word permute of two 64-byte loads) beat the plain AVX2 build's with its rows in L2 at
 * 1536 columns (45 against 43 Gweights/s, one core of the Zen 4 EPYC of
 * docs/PERFORMANCE.md) but was slower in the model, streaming from memory: a
 * SmolLM2-shaped Q4_0 decoded 1.15x faster at one thread (10 of 10 rounds) and 1.11x at
 * two (11 of 12) with the ymm build's matvec (bench/ab.py, 2026-11-23). */

/* ------------------------------------------------------------------------------------
 * K-quants: 64 weights per step with vpmaddubsw (pairs -> int16) then vpmaddwd against a
 * vector of per-group scales (int16 pairs -> int32), as in the AVX2 kernels but twice as
 * wide. This costs the same as vpdpbusd followed by a 32-bit multiply by the scales.
 * ---------------------------------------------------------------------------------- */

/* 32 int16 lanes: lanes 8k..8k+7 (elements 16k..16k+15 after vpmaddubsw) get scales[first+k],
 * k = 0..3, taken from 16 int16 scales by a word permute. */
static inline __m512i four_scales_i16(__m256i scales16, int first) {
    const __m256i group_of_lane = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                   2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    __m512i idx = _mm512_add_epi16(_mm512_cvtepu8_epi16(group_of_lane), _mm512_set1_epi16((int16_t)first));
    return _mm512_permutexvar_epi16(idx, _mm512_castsi256_si512(scales16));
}

/* Q6_K: see the AVX2 kernel for the bit layout. Here one half (128 elements) is two 512-bit
 * steps: ql[0..63] low nibbles with qh bits 0-1 (first 32) and 2-3 (next 32), then the high
 * nibbles with qh bits 4-5 and 6-7. The qh bytes are duplicated into both 256-bit halves and
 * shifted by a per-half amount. */
/* The activation's part of a super-block step: its quants, d_x, and the 32·qx pair sums
 * that take the -32 offset off. Decode's four rows share one activation, so they share
 * this too. */
typedef struct {
    const int8_t *qs;
    float d;
    __m512i offset[4];   /* [2h + s]: 32·(pair sums) of the quants 128h + 64s .. +63 */
} q6_K_activation_avx512;

static inline __attribute__((always_inline)) void q6_K_activation_avx512_of(const block_q8_K *x,
                                                                           q6_K_activation_avx512 *a) {
    const __m512i m32 = _mm512_set1_epi8(32);
    a->qs = x->qs;
    a->d = x->d;
    for (int j = 0; j < 4; j++)
        a->offset[j] = _mm512_maddubs_epi16(m32, _mm512_loadu_si512((const void *)(x->qs + 64 * j)));
}

/* One super-block into the lane-8 accumulator (shared by vec_dot and vec_dot_x4, so the
 * chains of both are the same operations in the same order). */
static inline __attribute__((always_inline)) __m256 q6_K_block_avx512(const block_q6_K *w,
                                                                      const q6_K_activation_avx512 *a, __m256 acc) {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const __m512i bits45 = _mm512_set1_epi8(0x30);
    /* low step: (qh & {0x03 | 0x0C}) << {4 | 2} puts the pair at bits 4-5 */
    const __m512i mask_lo = join_i256(_mm256_set1_epi8(0x03), _mm256_set1_epi8(0x0C));
    const __m512i shl_lo = join_i256(_mm256_set1_epi16(4), _mm256_set1_epi16(2));
    /* high step: (qh >> {0 | 2}) & 0x30 */
    const __m512i shr_hi = join_i256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w->scales));
    const int8_t *y = a->qs;
    __m512i isum = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) {
        __m256i qh256 = _mm256_loadu_si256((const __m256i *)(w->qh + 32 * h));
        __m512i qh = join_i256(qh256, qh256);
        __m512i ql = _mm512_loadu_si512((const void *)(w->ql + 64 * h));
        __m512i q_lo = _mm512_or_si512(_mm512_and_si512(ql, low4),
                                       _mm512_sllv_epi16(_mm512_and_si512(qh, mask_lo), shl_lo));
        __m512i q_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                                       _mm512_and_si512(_mm512_srlv_epi16(qh, shr_hi), bits45));
        /* the -32 offset comes off each 16-bit pair sum, before the scales */
        const __m512i y_lo = _mm512_loadu_si512((const void *)(y + 128 * h));
        const __m512i y_hi = _mm512_loadu_si512((const void *)(y + 128 * h + 64));
        __m512i p_lo = _mm512_sub_epi16(_mm512_maddubs_epi16(q_lo, y_lo), a->offset[2 * h]);
        __m512i p_hi = _mm512_sub_epi16(_mm512_maddubs_epi16(q_hi, y_hi), a->offset[2 * h + 1]);
        isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p_lo, four_scales_i16(sc16, 8 * h)));
        isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p_hi, four_scales_i16(sc16, 8 * h + 4)));
    }
    /* the two 256-bit halves are 32-element steps with the same lane layout */
    const __m256i lanes = _mm256_add_epi32(_mm512_castsi512_si256(isum), upper_i256(isum));
    const float d = a->d * x86_fp16_to_f32(w->d);
    return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(lanes), acc);
}

X86_SUPERBLOCK_DOTS(q6_K_q8_K_avx512, block_q6_K, q6_K_activation_avx512, q6_K_activation_avx512_of, __m256,
                    _mm256_setzero_ps(), q6_K_block_avx512, x86_hsum_f32x8)

/* ------------------------------------------------------------------------------------
 * Float vectors: the lane-16 order (quant_ref.h) in one 16-lane accumulator. A partial last
 * chunk is a masked FMA that leaves the lanes past the end as they are.
 * ---------------------------------------------------------------------------------- */

static inline __mmask16 tail_mask(int64_t left) {
    return (__mmask16)((1u << left) - 1u); /* left < 16 */
}

/* The pinned lane-16 reduction: lanes 0..7 plus lanes 8..15, then the lane-8 order. (Not
 * _mm512_reduce_add_ps: compilers differ in the order they give it.) */
static inline float lane16_sum_avx512(__m512 acc) {
    return x86_lane16_sum(_mm512_castps512_ps256(acc), upper_f256(acc));
}

static float dot_f32_avx512(const float *a, const float *b, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        acc = _mm512_mask3_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc, m);
    }
    return lane16_sum_avx512(acc);
}

/* The untiled F32 order (see dot_f32_untiled_avx2 in quant_avx2.c): one zmm per 16-lane
 * accumulator. */
static float dot_f32_untiled_avx512(const float *a, const float *b, int64_t n) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    const int64_t body = n & ~(int64_t)63;
    for (int64_t i = 0; i < body; i += 64)
        for (int k = 0; k < 4; k++)
            acc[k] = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16 * k), _mm512_loadu_ps(b + i + 16 * k), acc[k]);
    float sum = lane16_sum_avx512(_mm512_add_ps(_mm512_add_ps(acc[0], acc[2]), _mm512_add_ps(acc[1], acc[3])));
    for (int64_t i = body; i < n; i++) {
        const float p = a[i] * b[i];
        sum += p;
    }
    return sum;
}

static inline __m512 load_f16x16(const sealm_fp16 *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

static inline __m512 load_f16_tail(const sealm_fp16 *p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

static float dot_f16_avx512(const sealm_fp16 *a, const sealm_fp16 *b, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(load_f16x16(a + i), load_f16x16(b + i), acc);
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        acc = _mm512_mask3_fmadd_ps(load_f16_tail(a + i, m), load_f16_tail(b + i, m), acc, m);
    }
    return lane16_sum_avx512(acc);
}

/* bfloat16 is the top half of a float32: widen to 32 bits and shift into place. */
static inline __m512 bf16x16_to_f32(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

static float dot_bf16_avx512(const sealm_bf16 *a, const sealm_bf16 *b, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        acc = _mm512_fmadd_ps(bf16x16_to_f32(_mm256_loadu_si256((const __m256i *)(a + i))),
                              bf16x16_to_f32(_mm256_loadu_si256((const __m256i *)(b + i))), acc);
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        acc = _mm512_mask3_fmadd_ps(bf16x16_to_f32(_mm256_maskz_loadu_epi16(m, a + i)),
                                    bf16x16_to_f32(_mm256_maskz_loadu_epi16(m, b + i)), acc, m);
    }
    return lane16_sum_avx512(acc);
}

static void vec_dot_f32_avx512(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    *s = dot_f32_avx512(w, x, n);
}

static void vec_dot_f16_avx512(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    *s = dot_f16_avx512(w, x, n);
}

static void vec_dot_bf16_avx512(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    *s = dot_bf16_avx512(w, x, n);
}

/* y += a*x */
static void axpy_f16_avx512(float *y, float a, const sealm_fp16 *x, int64_t n) {
    const __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, load_f16x16(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 r = _mm512_fmadd_ps(va, load_f16_tail(x + i, m), _mm512_maskz_loadu_ps(m, y + i));
        _mm512_mask_storeu_ps(y + i, m, r);
    }
}

static void fp16_to_fp32_row_avx512(const sealm_fp16 *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, load_f16x16(x + i));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, load_f16_tail(x + i, m));
    }
}

static void fp32_to_fp16_row_avx512(const float *x, sealm_fp16 *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i), _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT);
        _mm256_mask_storeu_epi16(y + i, m, h);
    }
}

static void quantize_row_f16_avx512(const float *restrict x, void *restrict y, int64_t n) {
    fp32_to_fp16_row_avx512(x, y, n);
}

/* ------------------------------------------------------------------------------------ */

void sealm_kernels_install_avx512(sealm_type_traits table[SEALM_TYPE_COUNT], sealm_vec_ops *ops) {
    table[SEALM_TYPE_Q6_K].vec_dot = vec_dot_q6_K_q8_K_avx512;
    table[SEALM_TYPE_F32].vec_dot = vec_dot_f32_avx512;
    table[SEALM_TYPE_F16].vec_dot = vec_dot_f16_avx512;
    table[SEALM_TYPE_BF16].vec_dot = vec_dot_bf16_avx512;

    table[SEALM_TYPE_Q8_0].vec_dot_x4 = vec_dot_x4_q8_0_q8_0_avx512;
    table[SEALM_TYPE_Q4_1].vec_dot_x4 = vec_dot_x4_q4_1_q8_1_avx512;
    table[SEALM_TYPE_Q4_0].vec_dot_x4 = vec_dot_x4_q4_0_q8_0_avx512;
    table[SEALM_TYPE_Q6_K].vec_dot_x4 = vec_dot_x4_q6_K_q8_K_avx512;

    table[SEALM_TYPE_F16].from_float_fast = quantize_row_f16_avx512;

    ops->dot_f32 = dot_f32_avx512;
    ops->dot_f16 = dot_f16_avx512;
    ops->dot_f16_lane16 = dot_f16_avx512;
    ops->axpy_f16 = axpy_f16_avx512;
    ops->fp32_to_fp16_row = fp32_to_fp16_row_avx512;
    ops->fp16_to_fp32_row = fp16_to_fp32_row_avx512;
    ops->dot_f32_untiled = dot_f32_untiled_avx512;
    ops->swiglu = sealm_swiglu_avx512;   /* elementwise_avx512.c */
}
