/* Engine-internal, private to the x86 kernel files: small AVX2 building blocks.
 *
 * Only include this from files compiled with -mavx2 -mfma -mf16c (the *_avx2.c, *_avxvnni.c
 * and *_avx512.c files, see CMakeLists.txt); everything here is static inline. Where the
 * file is also built with a ymm vpdpbusd (X86_YMM_VNNI below), the byte dots below are one
 * vpdpbusd each, with the same results. */
#ifndef SEALM_ENGINE_SIMD_X86_H
#define SEALM_ENGINE_SIMD_X86_H

#include "engine/kquant_dots.h"
#include "engine/quant.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* Whether this build has vpdpbusd and vpdpwssd on ymm registers: AVX-VNNI's VEX form
 * (-mavxvnni, the *_avxvnni.c files), or AVX-512 VNNI's EVEX form on ymm (-mavx512vnni
 * -mavx512vl, quant_ymm_avx512.c), which the CPUs with AVX-512 VNNI but without AVX-VNNI
 * run (Ice Lake, Zen 4). Both forms compute the same int32. */
#if defined(__AVXVNNI__) || (defined(__AVX512VNNI__) && defined(__AVX512VL__))
#define X86_YMM_VNNI 1
/* acc + per int32 lane k the sum of u[4k+i]*s[4k+i] (u unsigned, s signed bytes), exact */
static inline __m256i x86_dpbusd(__m256i acc, __m256i u, __m256i s) {
#if defined(__AVXVNNI__)
    return _mm256_dpbusd_avx_epi32(acc, u, s);
#else
    return _mm256_dpbusd_epi32(acc, u, s);
#endif
}
/* acc + per int32 lane k a[2k]*b[2k] + a[2k+1]*b[2k+1] (int16), wrapping, not saturating */
static inline __m256i x86_dpwssd(__m256i acc, __m256i a, __m256i b) {
#if defined(__AVXVNNI__)
    return _mm256_dpwssd_avx_epi32(acc, a, b);
#else
    return _mm256_dpwssd_epi32(acc, a, b);
#endif
}
#else
#define X86_YMM_VNNI 0
#endif

/* One half-precision number to float with the F16C instruction (exact, like the scalar one). */
static inline float x86_fp16_to_f32(sealm_fp16 h) {
    return _cvtsh_ss(h);
}

/* Sum of the 8 floats of v, in the lane-8 order of quant_ref.h:
 * ((v0+v4) + (v2+v6)) + ((v1+v5) + (v3+v7)). The exact kernels rely on this order. */
static inline float x86_hsum_f32x8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));        /* lanes 0,1 += lanes 2,3 */
    s = _mm_add_ss(s, _mm_movehdup_ps(s));         /* lane 0 += lane 1 */
    return _mm_cvtss_f32(s);
}

/* Sum of the 4 floats of v as (v0+v2) + (v1+v3) (the Q4_K mins order of quant_ref.h). */
static inline float x86_hsum_f32x4(__m128 v) {
    __m128 s = _mm_add_ps(v, _mm_movehl_ps(v, v));  /* v0+v2, v1+v3 */
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* The lane-16 sum of quant_ref.h of sixteen lanes held as lanes 0..7 (lo) and 8..15 (hi):
 * a_k = lo_k + hi_k, then the lane-8 order over a, which is exactly
 * b_k = a_k + a_{k+4}, (b0+b2) + (b1+b3). */
static inline float x86_lane16_sum(__m256 lo, __m256 hi) {
    return x86_hsum_f32x8(_mm256_add_ps(lo, hi));
}

/* Eight vectors of 8 int32 -> one vector whose lane b is the sum of all lanes of p[b].
 * Integer sums, so the order of the additions does not matter: pairwise adds (vphaddd,
 * which works within 128-bit halves) leave each half holding partial sums of four
 * vectors, and the two halves are then added. */
static inline __m256i x86_hsum_i32x8_x8(const __m256i p[8]) {
    const __m256i p01 = _mm256_hadd_epi32(p[0], p[1]), p23 = _mm256_hadd_epi32(p[2], p[3]);
    const __m256i p45 = _mm256_hadd_epi32(p[4], p[5]), p67 = _mm256_hadd_epi32(p[6], p[7]);
    const __m256i p0123 = _mm256_hadd_epi32(p01, p23), p4567 = _mm256_hadd_epi32(p45, p67);
    /* each half of p0123 holds (half sums of) vectors 0,1,2,3 in lanes 0..3 */
    return _mm256_add_epi32(_mm256_permute2x128_si256(p0123, p4567, 0x20),
                            _mm256_permute2x128_si256(p0123, p4567, 0x31));
}

/* Sum of the 4 int32 of v. */
static inline int32_t x86_hsum_i32x4(__m128i v) {
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(v);
}

/* Sum of the 8 int32 of v. */
static inline int32_t x86_hsum_i32x8(__m256i v) {
    return x86_hsum_i32x4(_mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}

/* Sums of 16-bit pairs widened to 32 bits: lane k = p[2k] + p[2k+1]. */
static inline __m256i x86_pair_sums_i16(__m256i p) {
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* acc + the dot products of int16 pairs: lane k += a[2k]*b[2k] + a[2k+1]*b[2k+1] (the
 * K-quants' scaled pair sums). AVX2: vpmaddwd then vpaddd; VNNI: vpdpwssd (the
 * non-saturating form), which wraps exactly as vpmaddwd's one overflow (two products of
 * -32768·-32768) and the add do: the same int32 in every case. */
static inline __m256i x86_madd_i16_into(__m256i acc, __m256i a, __m256i b) {
#if X86_YMM_VNNI
    return x86_dpwssd(acc, a, b);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
#endif
}

/* Dot products of signed bytes in groups of 4: lane k = sum_{i<4} w[4k+i]*x[4k+i].
 * The byte multiplies (vpmaddubsw, vpdpbusd) want one operand unsigned. So multiply |w|
 * (unsigned, up to 128) by x with w's sign moved onto it: |w|*sign(w)*x == w*x, and w == 0
 * zeroes x. x must not hold -128 (its negation would wrap); our activation quantizers
 * produce -127..127. Pair sums stay below 2*128*127 < 32767, so AVX2's 16-bit step cannot
 * saturate. */
static inline __m256i x86_dot_i8x32(__m256i w, __m256i x) {
#if X86_YMM_VNNI
    return x86_dpbusd(_mm256_setzero_si256(), _mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
#else
    __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
    return x86_pair_sums_i16(p);
#endif
}

/* Same for unsigned weights u (0..127): no sign trick needed. */
static inline __m256i x86_dot_u8i8x32(__m256i u, __m256i x) {
#if X86_YMM_VNNI
    return x86_dpbusd(_mm256_setzero_si256(), u, x);
#else
    return x86_pair_sums_i16(_mm256_maddubs_epi16(u, x));
#endif
}

/* 16 packed nibbles -> 32 bytes: byte j (j < 16) = low nibble of q[j], byte 16+j = high
 * nibble, which is the element order of the Q4_0/Q4_1/Q5_0/Q5_1 blocks. */
static inline __m256i x86_unpack_nibbles16(const uint8_t q[16]) {
    __m128i v = _mm_loadu_si128((const __m128i *)q);
    __m256i both = _mm256_set_m128i(_mm_srli_epi16(v, 4), v); /* 16-bit shift: stray bits masked below */
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

/* 32 bits -> 32 bytes: byte j is 0xFF where bit j of bits is set, else 0. Byte j copies the
 * source byte j/8 (vpshufb on the broadcast value; each 128-bit half holds all 4 bytes),
 * then keeps only bit j%8 and compares it with that bit. */
static inline __m256i x86_bits_to_bytes(uint32_t bits) {
    const __m256i pick = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int32_t)bits), pick);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* A vector of 16 int16 whose low 8 lanes are a and high 8 lanes are b. vpmaddubsw over 32
 * bytes gives 16 pair sums in element order, so lanes 0..7 cover elements 0..15 and lanes
 * 8..15 elements 16..31: this multiplies each 16-element group by its own scale. */
static inline __m256i x86_two_scales_i16(int a, int b) {
    return _mm256_set_m128i(_mm_set1_epi16((int16_t)b), _mm_set1_epi16((int16_t)a));
}

/* vpshufb indexes that copy one 16-bit word of a 128-bit half into all 8 words of that half
 * (the scale vectors of the K-quants hold 8 int16 scales, repeated in both halves):
 *   x86_pick_word_pair[k]: word 2k in the low half, word 2k+1 in the high half
 *     (two consecutive 16-element groups of a 32-element step, see x86_two_scales_i16);
 *   x86_pick_word[j]: word j in both halves (a 32-element sub-block with one scale). */
#define X86_W(j) (2 * (j)), (2 * (j) + 1)
#define X86_W8(j) X86_W(j), X86_W(j), X86_W(j), X86_W(j), X86_W(j), X86_W(j), X86_W(j), X86_W(j)
static const uint8_t x86_pick_word_pair[4][32] = {
    {X86_W8(0), X86_W8(1)}, {X86_W8(2), X86_W8(3)}, {X86_W8(4), X86_W8(5)}, {X86_W8(6), X86_W8(7)},
};
static const uint8_t x86_pick_word[8][32] = {
    {X86_W8(0), X86_W8(0)}, {X86_W8(1), X86_W8(1)}, {X86_W8(2), X86_W8(2)}, {X86_W8(3), X86_W8(3)},
    {X86_W8(4), X86_W8(4)}, {X86_W8(5), X86_W8(5)}, {X86_W8(6), X86_W8(6)}, {X86_W8(7), X86_W8(7)},
};
#undef X86_W8
#undef X86_W

static inline __m256i x86_pick(const uint8_t table[32], __m256i scales) {
    return _mm256_shuffle_epi8(scales, _mm256_loadu_si256((const __m256i *)table));
}

/* 32 int32 (four vectors, elements 0..7, 8..15, 16..23, 24..31) -> 32 int8 in order.
 * vpackssdw / vpacksswb work per 128-bit half, leaving 4-element runs in the order
 * a0 b0 c0 d0 | a1 b1 c1 d1 (a0 = a's low half); the dword permute restores a0 a1 b0 b1 ...
 * Values must already fit in int8 (no saturation is relied upon). */
static inline __m256i x86_pack_i32x32_to_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i ab = _mm256_packs_epi32(a, b);
    __m256i cd = _mm256_packs_epi32(c, d);
    __m256i abcd = _mm256_packs_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Largest |x| over 32 floats. */
static inline float x86_absmax_f32x32(const float *x) {
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_andnot_ps(sign_bit, _mm256_loadu_ps(x));
    for (int j = 8; j < 32; j += 8)
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign_bit, _mm256_loadu_ps(x + j)));
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* ---- software prefetch for decode's matrix-vector products ----
 * The x4 kernels sweep a weight matrix four rows at a time, and a matrix's rows are
 * contiguous, so the groups after the current one start where row 3 ends. Reading them
 * into the cache ahead, at the pace the current group is consumed, gave 1.5x the
 * single-core read rate from DRAM of the hardware prefetchers alone (which stop at every
 * 4 KiB page and ramp up again): Q8_0 rows of 576, 7.3 -> 11.4 GB/s. The stream runs
 * PREFETCH_GROUPS_AHEAD groups ahead rather than one: with SmolLM2's short rows (576
 * wide: 360 bytes a Q4_1 row) one group is ~1.4 KiB, about one DRAM latency's worth of
 * reading, so a line asked for one group ahead often arrived late. Two groups ahead
 * decoded 5-10% faster for Q4_0 and Q4_1 SmolLM2 (2 threads, per-token times of the two
 * distances interleaved in one process on this loaded 2-core VM), the same for Q8_0 and
 * TinyLlama Q4_K_M; three and four were no better than two. Measured again on the Zen 4
 * host with bench/ab.py (SmolLM2-shaped Q4_0, 2 threads, 10 rounds each, against 2 groups
 * with prefetcht0): 1, 3 and 4 groups 0.95, 0.98 and 0.92x; prefetcht1 instead of
 * prefetcht0 0.67x and no software prefetch 0.63x (10 of 10 rounds slower, both): the
 * hardware prefetchers alone leave a third of the speed there. Prefetches never fault, so
 * running past the end of the matrix is harmless; the addresses are kept as integers for
 * that reason. Results are unaffected (no data is read through them). */

enum { PREFETCH_GROUPS_AHEAD = 2 };

/* Where the rows PREFETCH_GROUPS_AHEAD groups of four on start when w0..w3 are four
 * consecutive rows of row_bytes each (decode's shape), else 0 (prefill passes one row
 * four times: nothing to prefetch). */
static inline uintptr_t x86_next_rows(const void *w0, const void *w1, const void *w2, const void *w3,
                                      size_t row_bytes) {
    const uintptr_t a = (uintptr_t)w0;
    if ((uintptr_t)w1 != a + row_bytes || (uintptr_t)w2 != a + 2 * row_bytes || (uintptr_t)w3 != a + 3 * row_bytes)
        return 0;
    return a + 4 * (size_t)PREFETCH_GROUPS_AHEAD * row_bytes;
}

/* Prefetches step `step` of the next rows: bytes [step, step + 1) * bytes_per_step from
 * next, one cache line apart (a line the range only touches at its end is the next
 * step's first). next == 0: nothing. */
static inline void x86_prefetch_step(uintptr_t next, int64_t step, size_t bytes_per_step) {
    if (!next) return;
    const uintptr_t p = next + (uintptr_t)step * bytes_per_step;
    for (size_t off = 0; off < bytes_per_step; off += 64) _mm_prefetch((const char *)(p + off), _MM_HINT_T0);
}

/* The K-quant dot products of an x86 level around its super-block step (kquant_dots.h),
 * with decode's next rows prefetched. */
#define X86_SUPERBLOCK_DOTS(SUFFIX, WBLOCK, ACT, ACT_OF, CHAIN, ZERO, STEP, FINISH) \
    SUPERBLOCK_DOTS(SUFFIX, WBLOCK, ACT, ACT_OF, CHAIN, ZERO, STEP, FINISH, x86_next_rows, x86_prefetch_step)

/* The Q4_0 · Q8_0 vec_dot_x4 of an x86 level around its step FOUR_BLOCKS(acc, vw, vx, one_x,
 * first) -> acc, which advances the four rows' fmaf chains (lanes 0..3 of acc) by blocks
 * first..3 of the four blocks at vw[r] and vx[r] (all four are read). The driver takes
 * whole groups of four, then the last 1..3 blocks as the rows' last four blocks again with
 * first set past the ones already counted (so every load stays inside the rows), and rows
 * shorter than four blocks as zero-padded copies with the missing blocks in front. The
 * step must be always inlined: its one_x and first then are constants. Defines
 * vec_dot_x4_q4_0_q8_0_<SUFFIX>; the step's own file holds the level's instructions. */
#define X86_Q4_0_X4_DOT(SUFFIX, FOUR_BLOCKS)                                                     \
    static inline __attribute__((always_inline)) __m128 q4_0_x4_rows_##SUFFIX(                   \
        const block_q4_0 *const w[4], const block_q8_0 *const x[4], int64_t nb, bool one_x) {   \
        __m128 acc = _mm_setzero_ps();                                                           \
        const uintptr_t next = x86_next_rows(w[0], w[1], w[2], w[3], (size_t)nb * sizeof(block_q4_0)); \
        int64_t i = 0;                                                                           \
        for (; i + 4 <= nb; i += 4) {                                                            \
            x86_prefetch_step(next, i / 4, 16 * sizeof(block_q4_0));                             \
            const void *const wi[4] = {&w[0][i], &w[1][i], &w[2][i], &w[3][i]};                 \
            const void *const xi[4] = {&x[0][i], &x[1][i], &x[2][i], &x[3][i]};                 \
            acc = FOUR_BLOCKS(acc, wi, xi, one_x, 0);                                            \
        }                                                                                        \
        if (i < nb) {                                                                            \
            const int64_t j = nb - 4;                                                            \
            const void *const wj[4] = {&w[0][j], &w[1][j], &w[2][j], &w[3][j]};                 \
            const void *const xj[4] = {&x[0][j], &x[1][j], &x[2][j], &x[3][j]};                 \
            switch (nb - i) {                                                                    \
            case 1: acc = FOUR_BLOCKS(acc, wj, xj, one_x, 3); break;                             \
            case 2: acc = FOUR_BLOCKS(acc, wj, xj, one_x, 2); break;                             \
            default: acc = FOUR_BLOCKS(acc, wj, xj, one_x, 1); break;                            \
            }                                                                                    \
        }                                                                                        \
        return acc;                                                                              \
    }                                                                                            \
    static __m128 q4_0_x4_short_rows_##SUFFIX(const block_q4_0 *const w[4], const block_q8_0 *const x[4], \
                                             int64_t nb) {                                       \
        const int pad = 4 - (int)nb;                                                             \
        block_q4_0 wt[4][4];                                                                     \
        block_q8_0 xt[4][4];                                                                     \
        memset(wt, 0, sizeof wt);                                                                \
        memset(xt, 0, sizeof xt);                                                                \
        for (int r = 0; r < 4; r++) {                                                            \
            memcpy(&wt[r][pad], w[r], (size_t)nb * sizeof(block_q4_0));                          \
            memcpy(&xt[r][pad], x[r], (size_t)nb * sizeof(block_q8_0));                          \
        }                                                                                        \
        const void *const wi[4] = {wt[0], wt[1], wt[2], wt[3]};                                 \
        const void *const xi[4] = {xt[0], xt[1], xt[2], xt[3]};                                 \
        const __m128 zero = _mm_setzero_ps();                                                    \
        switch (pad) {                                                                           \
        case 1: return FOUR_BLOCKS(zero, wi, xi, false, 1);                                      \
        case 2: return FOUR_BLOCKS(zero, wi, xi, false, 2);                                      \
        default: return FOUR_BLOCKS(zero, wi, xi, false, 3);                                     \
        }                                                                                        \
    }                                                                                            \
    static void vec_dot_x4_q4_0_q8_0_##SUFFIX(int64_t n, float *restrict s, const void *const vw[4], \
                                              const void *const vx[4]) {                         \
        const block_q4_0 *const w[4] = {vw[0], vw[1], vw[2], vw[3]};                             \
        const block_q8_0 *const x[4] = {vx[0], vx[1], vx[2], vx[3]};                             \
        const int64_t nb = n / QK4_0;                                                            \
        __m128 acc;                                                                              \
        if (nb < 4)                                                                              \
            acc = nb > 0 ? q4_0_x4_short_rows_##SUFFIX(w, x, nb) : _mm_setzero_ps();             \
        else if (x[0] == x[1] && x[0] == x[2] && x[0] == x[3])                                   \
            acc = q4_0_x4_rows_##SUFFIX(w, x, nb, true); /* decode: four rows, one activation */ \
        else                                                                                     \
            acc = q4_0_x4_rows_##SUFFIX(w, x, nb, false);                                        \
        _mm_storeu_ps(s, acc);                                                                   \
    }

/* The Q4_0 · Q8_0 matvec of an x86 level (quant.h's sealm_matvec_fn): the rows of a
 * matrix against one activation, in vec_dot_x4's steps, with what the steps need from the
 * activation arranged once per call instead of once per four rows (decode calls it once per
 * chunk of a thread's share, about 32 KiB of weights: ~100 rows at 576 columns). The level supplies
 * XSTEP, the arranged activation of one four-block step; XSTEP_OF(&x[b]) -> XSTEP for blocks
 * b..b+3; and STEP(acc, w[4], block, &xstep, first) -> acc, vec_dot_x4's step on blocks
 * block..block+3 of the four rows (all four read, blocks before first already counted).
 * The table of steps lives on the stack; rows longer than it holds, and rows shorter than
 * four blocks, go through vec_dot_x4_q4_0_q8_0_<SUFFIX> four rows at a time. The last
 * 1..3 blocks are taken as vec_dot_x4 takes them (the last four again, first set past the
 * ones counted), so the fmaf chains, and the bits, are vec_dot_x4's. rows: a multiple of 4. */
enum { X86_Q4_0_MATVEC_MAX_STEPS = 128 };   /* rows of up to 16384 elements; 32 KiB of table */
#define X86_Q4_0_MATVEC(SUFFIX, XSTEP, XSTEP_OF, STEP)                                            \
    static void matvec_q4_0_q8_0_##SUFFIX(int64_t n, int64_t rows, float *restrict s, const void *w,     \
                                          size_t row_bytes, const void *vx) {                     \
        const block_q8_0 *x = vx;                                                                 \
        const int64_t nb = n / QK4_0, full = nb / 4, tail = nb % 4;                               \
        if (nb < 4 || full + (tail != 0) > X86_Q4_0_MATVEC_MAX_STEPS) {                           \
            for (int64_t r = 0; r + 4 <= rows; r += 4) {                                          \
                const uint8_t *w0 = (const uint8_t *)w + (size_t)r * row_bytes;                   \
                const void *const ws[4] = {w0, w0 + row_bytes, w0 + 2 * row_bytes, w0 + 3 * row_bytes}; \
                const void *const xs[4] = {vx, vx, vx, vx};                                       \
                vec_dot_x4_q4_0_q8_0_##SUFFIX(n, s + r, ws, xs);                                  \
            }                                                                                     \
            return;                                                                               \
        }                                                                                         \
        XSTEP xs[X86_Q4_0_MATVEC_MAX_STEPS];                                                      \
        for (int64_t i = 0; i < full; i++) xs[i] = XSTEP_OF(&x[4 * i]);                           \
        if (tail) xs[full] = XSTEP_OF(&x[nb - 4]);                                                \
        for (int64_t r = 0; r + 4 <= rows; r += 4) {                                              \
            const uint8_t *w0 = (const uint8_t *)w + (size_t)r * row_bytes;                       \
            const block_q4_0 *const wr[4] = {(const void *)w0, (const void *)(w0 + row_bytes),    \
                                             (const void *)(w0 + 2 * row_bytes),                  \
                                             (const void *)(w0 + 3 * row_bytes)};                 \
            const uintptr_t next = x86_next_rows(wr[0], wr[1], wr[2], wr[3], row_bytes);          \
            __m128 acc = _mm_setzero_ps();                                                        \
            for (int64_t i = 0; i < full; i++) {                                                  \
                x86_prefetch_step(next, i, 16 * sizeof(block_q4_0));                              \
                acc = STEP(acc, wr, 4 * i, &xs[i], 0);                                            \
            }                                                                                     \
            switch (tail) { /* blocks nb - tail .. nb - 1 of the last four */                     \
            case 1: acc = STEP(acc, wr, nb - 4, &xs[full], 3); break;                             \
            case 2: acc = STEP(acc, wr, nb - 4, &xs[full], 2); break;                             \
            case 3: acc = STEP(acc, wr, nb - 4, &xs[full], 1); break;                             \
            default: break;                                                                       \
            }                                                                                     \
            _mm_storeu_ps(s + r, acc);                                                            \
        }                                                                                         \
    }

#endif
