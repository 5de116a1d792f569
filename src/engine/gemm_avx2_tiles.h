/* Engine-internal: the AVX2 tiled prefill products, one source compiled twice:
 * Q4_0 · Q8_0, Q8_0 · Q8_0, Q4_1 · Q8_1, and Q4_K, Q6_K · Q8_K over the packed activation
 * panels of gemm.h, for x86-64 CPUs without AVX-512 VNNI (most edge boxes).
 *
 * gemm_avx2.c includes this for AVX2, gemm_avxvnni.c for AVX-VNNI as well (-mavxvnni);
 * cpu.c installs the second only at the avx-vnni level. Where the compiler targets
 * AVX-VNNI (__AVXVNNI__) the byte products of Q4_0, Q8_0 and Q4_1 are one vpdpbusd per
 * 4-byte group and half, in place of vpmaddubsw and vpmaddwd (Q4_0: vpmaddubsw and an int16
 * add, vpmaddwd once per block): Q4_0's straight into the int32 block sums, starting from
 * the block's start; Q8_0's with the panel's quant + 128 as they are (no sign trick),
 * starting from -128 · (the group's weight sum), prepared per row panel. The same exact
 * integer sums, so the same bits. The K-quants' chains keep vpmaddubsw for the bytes
 * (vpdpbusd's four-product sums would need an int32 multiply by the scale after it), but
 * multiply the pair sums by their scales and add them in one vpdpwssd instead of vpmaddwd
 * and vpaddd (x86_madd_i16_into): the same int32. Everything here is static; include it
 * only from those two files.
 *
 * A ymm register holds 8 float or int32 lanes, so a packed token group of 16 is worked on
 * in two halves of 8 tokens: half h of 4-byte group k is the 32 bytes at offset 32·h of
 * that group's 64 (tokens 8h..8h+7, four quants each), and its scales are floats 8h..8h+7.
 * AVX2 multiplies bytes only with vpmaddubsw (unsigned × signed bytes, adjacent pairs added
 * into int16); vpmaddwd by ones then adds the two pairs of each token into its int32 sum
 * over the group: lane t holds the exact integer sum over elements 4k..4k+3 of token t, the
 * term of the pinned orders (quant_ref.h). The float accumulation then runs per (row,
 * token) with the reference's operations in the reference's order, one token per lane, so
 * every result has vec_dot_ref's bits.
 *
 * Q4_0 (one fmaf chain over whole-block sums): the weights' q - 8 (|q - 8| <= 8) are the
 * signed operand and the panel's quant + 128 (0..255) the unsigned one; a pair is at most
 * 2·255·8 = 4080 in magnitude, so the eight groups of a block add up in int16 without
 * overflow (8·4080 = 32640), and one vpmaddwd per block and tile row gives the block sum
 * plus 128·sum(q - 8), which a per-block start taken once per row panel removes. Then one
 * vector FMA per block advances the 8 tokens' chains. Tiles: Q4_0_RM rows × 16 tokens (× 8
 * when the last group holds 8 tokens or fewer).
 *
 * Q8_0 and Q4_1 (lane-8): each (row, token, k) has its own accumulator, eight registers a
 * row for 8 tokens, so a tile is one row × 8 tokens. Q8_0's weights reach ±127 (a pair of
 * 255·127 products would saturate int16), so the panel's bytes get their sign back (xor
 * 0x80) and the product is |w| · (x with w's sign), the usual sign trick: |pair| <=
 * 2·128·127. Q4_1's nibbles are unsigned and its activations signed as they are. Per row,
 * 8 tokens and block these cost 20.6 (Q8_0) and 17.1 (Q4_1) cycles by llvm-mca's Skylake
 * model: four or five p0/p1 instructions per group and token half (sign, product, pair
 * sum, conversion, FMA); the pinned order itself asks for a conversion and an FMA of each.
 *
 * Q4_K and Q6_K · Q8_K (lane-8 with sub-block scales; Q4_K's chains of mins): see their
 * section below. One row × 8 tokens a tile.
 *
 * Weights are prepared once per row panel (scales as floats, Q4 nibbles as bytes, Q4_0's
 * start, Q8_0's |w|, the K-quants' scale pairs and corrections) into a buffer on the
 * stack, as gemm_avx512.c does, and every token group of the panel reads them from there. */
#ifndef SEALM_ENGINE_GEMM_AVX2_TILES_H
#define SEALM_ENGINE_GEMM_AVX2_TILES_H

#include "engine/gemm.h"
#include "engine/simd_kscales.h"
#include "engine/simd_x86.h"
#include "engine/gemm_q4_prep_x86.h"

#include <immintrin.h>

enum { ROW_PANEL_BYTES = 256 * 1024 };
/* the prepared weights of one row panel; one row of SEALM_GEMM_MAX_COLS must fit */
enum { PREP_BYTES = 48 * 1024 };
#define T SEALM_GEMM_TOKENS
#define H 8                            /* tokens per ymm: half a token group */
#define GROUP_Q_BYTES (8 * T * 4)      /* the quants of one block of a token group */
/* Q4_0 tile rows. A tile of RM rows × 2 halves holds 2·RM float chains and 2·RM int16
 * block sums, plus two activation registers and a weight broadcast: 11 of the 16 ymm
 * registers at 2 rows. By llvm-mca's models (Skylake, Zen 2, Zen 3) every shape from 2×16
 * to 6×8 tokens runs at about 7.3 (Zen 2: 9.5) cycles per row, 8 tokens and block, near
 * the 6 that the twelve p0/p1 instructions of that work need on Skylake; 2×16 has the
 * fewest leftover rows and broadcasts each weight group once per 16 tokens. */
enum { Q4_0_RM = 2 };
#define ALWAYS_INLINE inline __attribute__((always_inline))
/* Fully unrolls the loops over a tile's rows, halves and groups, so that the accumulator
 * arrays live in registers. */
#define UNROLL _Pragma("GCC unroll 16")

/* *p in all 8 lanes, broadcast from memory: a load-port vpbroadcastd. Written as asm so
 * that the compiler does not rebuild it from a register with shuffles on a vector port. */
static ALWAYS_INLINE __m256i broadcast_i32_from_memory(const void *p) {
    __m256i v;
    __asm__("vpbroadcastd %1, %0" : "=x"(v) : "m"(*(const int32_t *)p));
    return v;
}

/* An empty asm that claims to change v: the compiler must have v in a register here and
 * cannot move work across this point. Integer adds are associative, so without it gcc
 * turns a tile's running int16 sums into trees over all eight groups' products and keeps
 * every product live at once, spilling them to the stack. */
static ALWAYS_INLINE void pin_register(__m256i *v) {
    __asm__("" : "+x"(*v));
}

/* The lane-8 reduction of quant_ref.h, lane by lane over eight accumulators:
 * ((a0+a4) + (a2+a6)) + ((a1+a5) + (a3+a7)). */
static ALWAYS_INLINE __m256 lane8_sum_vertical(const __m256 a[8]) {
    const __m256 r0 = _mm256_add_ps(a[0], a[4]), r1 = _mm256_add_ps(a[1], a[5]);
    const __m256 r2 = _mm256_add_ps(a[2], a[6]), r3 = _mm256_add_ps(a[3], a[7]);
    return _mm256_add_ps(_mm256_add_ps(r0, r2), _mm256_add_ps(r1, r3));
}

/* ---- prepared weight rows ---- */

#if defined(__AVXVNNI__)
/* Q8_0 (AVX-VNNI): per block and 4-byte group k, -128 · (the sum of its four weights), and
 * the scale. vpdpbusd multiplies the panel's unsigned bytes (quant + 128) by the weights as
 * they are, starting from corr[k], which takes the 128 · (weight sum) off again. */
typedef struct q8_0_prep {
    int32_t corr[8];
    float d;
} q8_0_prep;
#else
/* Q8_0: per block |w| as unsigned bytes and the scale; the signs come from the weight row. */
typedef struct q8_0_prep {
    int32_t absq[8];
    float d;
} q8_0_prep;
#endif

static void q4_0_prepare(const uint8_t *w, size_t w_row_bytes, int64_t rows, int64_t nb, void *out) {
    q4_prep *p = out;
    const __m128i m = _mm_set1_epi8(0x0F);
    for (int64_t r = 0; r < rows; r++) {
        const block_q4_0 *wb = (const block_q4_0 *)(w + (size_t)r * w_row_bytes);
        for (int64_t i = 0; i < nb; i++, p++) {
            const __m128i v = _mm_loadu_si128((const __m128i *)wb[i].qs);
            const __m128i lo = _mm_and_si128(v, m), hi = _mm_and_si128(_mm_srli_epi16(v, 4), m);
            _mm256_storeu_si256((__m256i *)p->q, _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8)));
            /* the sum of the 32 nibbles (vpsadbw: two sums of 8 bytes of at most 30 each),
             * then of the q - 8 */
            const __m128i sad = _mm_sad_epu8(_mm_add_epi8(lo, hi), _mm_setzero_si128());
            const int32_t sum_q = _mm_cvtsi128_si32(sad) + _mm_extract_epi16(sad, 4);
            p->u.start = -128 * (sum_q - 32 * 8);
            p->d = x86_fp16_to_f32(wb[i].d);
        }
    }
}

static void q8_0_prepare(const uint8_t *w, size_t w_row_bytes, int64_t rows, int64_t nb, void *out) {
    q8_0_prep *p = out;
    for (int64_t r = 0; r < rows; r++) {
        const block_q8_0 *wb = (const block_q8_0 *)(w + (size_t)r * w_row_bytes);
        for (int64_t i = 0; i < nb; i++, p++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)wb[i].qs);
#if defined(__AVXVNNI__)
            /* the four weights of each group summed (ones · q), times -128 */
            const __m256i sums = _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), q);
            _mm256_storeu_si256((__m256i *)p->corr, _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sums, 7)));
#else
            /* |-128| is 0x80, which vpmaddubsw reads as the unsigned 128: still exact */
            _mm256_storeu_si256((__m256i *)p->absq, _mm256_abs_epi8(q));
#endif
            p->d = x86_fp16_to_f32(wb[i].d);
        }
    }
}

/* ---- Q4_0 · Q8_0: RM rows × NH halves (from half h0), one chain per (row, token) ----
 * Prepared row r is prep + r·nb; out[r·NH + j] gets row r, half h0 + j. */

static ALWAYS_INLINE void q4_0_tile(const int RM, const int NH, const q4_prep *prep, int64_t nb, const uint8_t *group,
                                    int h0, __m256 *out) {
    const size_t block_bytes = GROUP_Q_BYTES + T * sizeof(float);
#if !defined(__AVXVNNI__)
    const __m256i ones16 = _mm256_set1_epi16(1);
#endif
    __m256 sum[Q4_0_RM][2];
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int j = 0; j < NH; j++) sum[r][j] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = group + (size_t)i * block_bytes + (size_t)h0 * H * 4;
        __m256i isum[Q4_0_RM][2];
        UNROLL
        for (int k = 0; k < 8; k++) {
            __m256i xk[2];
            UNROLL
            for (int j = 0; j < NH; j++) xk[j] = _mm256_loadu_si256((const __m256i *)(pb + k * T * 4 + j * H * 4));
            UNROLL
            for (int r = 0; r < RM; r++) {
                const __m256i wk = broadcast_i32_from_memory(&prep[r * nb + i].q[k]);
                UNROLL
                for (int j = 0; j < NH; j++) {
#if defined(__AVXVNNI__)
                    /* int32 block sums from the block's start on (|4 products| <= 4·255·8) */
                    const __m256i from = k == 0 ? _mm256_set1_epi32(prep[r * nb + i].u.start) : isum[r][j];
                    isum[r][j] = _mm256_dpbusd_avx_epi32(from, xk[j], wk);
#else
                    const __m256i p = _mm256_maddubs_epi16(xk[j], wk);   /* exact: |pair| <= 4080 */
                    isum[r][j] = k == 0 ? p : _mm256_add_epi16(isum[r][j], p);
#endif
                    pin_register(&isum[r][j]);
                }
            }
        }
        const float *dx = (const float *)(group + (size_t)i * block_bytes + GROUP_Q_BYTES) + h0 * H;
        UNROLL
        for (int r = 0; r < RM; r++) {
            const q4_prep *pr = &prep[r * nb + i];
            const __m256 dw = _mm256_set1_ps(pr->d);
            UNROLL
            for (int j = 0; j < NH; j++) {
#if defined(__AVXVNNI__)
                const __m256i block_sum = isum[r][j];
#else
                const __m256i block_sum = _mm256_add_epi32(_mm256_madd_epi16(isum[r][j], ones16),
                                                           _mm256_set1_epi32(pr->u.start));
#endif
                /* the reference's fmaf((float)sumi, d_w · d_x, sum) */
                const __m256 scale = _mm256_mul_ps(dw, _mm256_loadu_ps(dx + j * H));
                sum[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(block_sum), scale, sum[r][j]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int j = 0; j < NH; j++) out[r * NH + j] = sum[r][j];
}

/* ---- Q8_0 · Q8_0 (lane-8): one row × one half ---- */

static ALWAYS_INLINE void q8_0_tile(const uint8_t *w, const q8_0_prep *prep, int64_t nb, const uint8_t *group, int h0,
                                    __m256 *out) {
    const size_t block_bytes = GROUP_Q_BYTES + T * sizeof(float);
#if !defined(__AVXVNNI__)
    const __m256i flip = _mm256_set1_epi8((char)0x80);
#endif
    const block_q8_0 *wb = (const block_q8_0 *)w;
    __m256 acc[8];
    UNROLL
    for (int k = 0; k < 8; k++) acc[k] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = group + (size_t)i * block_bytes + (size_t)h0 * H * 4;
        const __m256 dx = _mm256_loadu_ps((const float *)(group + (size_t)i * block_bytes + GROUP_Q_BYTES) + h0 * H);
        const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(prep[i].d), dx);
        UNROLL
        for (int k = 0; k < 8; k++) {
#if defined(__AVXVNNI__)
            /* (x + 128)·w summed over the group, from -128·sum(w): the exact sum of x·w
             * (|four products| <= 4·255·128, far inside int32) */
            const __m256i s = _mm256_dpbusd_avx_epi32(broadcast_i32_from_memory(&prep[i].corr[k]),
                                                      _mm256_loadu_si256((const __m256i *)(pb + k * T * 4)),
                                                      broadcast_i32_from_memory(wb[i].qs + 4 * k));
#else
            /* the activation quants as they were, then w's sign moved onto them: exact
             * because the quantizer keeps them in -127..127 (-128 would not negate) */
            const __m256i xs = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(pb + k * T * 4)), flip);
            const __m256i sx = _mm256_sign_epi8(xs, broadcast_i32_from_memory(wb[i].qs + 4 * k));
            const __m256i s = x86_dot_u8i8x32(broadcast_i32_from_memory(&prep[i].absq[k]), sx);
#endif
            acc[k] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(s), acc[k]);
        }
    }
    out[0] = lane8_sum_vertical(acc);
}

/* ---- Q4_1 · Q8_1 (lane-8 quant term, plus one fmaf chain of mins): one row × one half ---- */

static ALWAYS_INLINE void q4_1_tile(const q4_prep *prep, int64_t nb, const uint8_t *group, int h0, __m256 *out) {
    const size_t block_bytes = GROUP_Q_BYTES + 2 * T * sizeof(float);
    __m256 acc[8], mins = _mm256_setzero_ps();
    UNROLL
    for (int k = 0; k < 8; k++) acc[k] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = group + (size_t)i * block_bytes + (size_t)h0 * H * 4;
        const float *fx = (const float *)(group + (size_t)i * block_bytes + GROUP_Q_BYTES) + h0 * H;
        const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(prep[i].d), _mm256_loadu_ps(fx));
        mins = _mm256_fmadd_ps(_mm256_set1_ps(prep[i].u.m), _mm256_loadu_ps(fx + T), mins);
        UNROLL
        for (int k = 0; k < 8; k++) {
            const __m256i xk = _mm256_loadu_si256((const __m256i *)(pb + k * T * 4));
            const __m256i s = x86_dot_u8i8x32(broadcast_i32_from_memory(&prep[i].q[k]), xk);   /* pairs <= 2·15·128 */
            acc[k] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(s), acc[k]);
        }
    }
    out[0] = _mm256_add_ps(lane8_sum_vertical(acc), mins);
}

/* ---- Q4_K, Q6_K · Q8_K (lane-8 with sub-block scales; Q4_K's four chains of mins) ----
 *
 * Per super-block (256 elements, eight 32-element chunks c) the reference gives lane k the
 * integer sum over c of scale(c, k) · (the sum of q·x over elements 32c+4k..32c+4k+3), and
 * one fmaf(d_x · d_w, sum, acc[k]). scale(c, k) is Q4_K's sc(c) (0..63, one per chunk) or
 * Q6_K's scale of 16 elements (-128..127: sub-block 2c for k < 4, 2c+1 for k >= 4). Here,
 * for each k, vpmaddubsw forms chunk c's products of the panel's x + 128 (0..255) with the
 * weight quants (Q4_K 0..15, Q6_K -32..31) in int16 pairs (|pair| <= 2·255·32 = 16320:
 * never saturates), vpmaddwd multiplies both halves of each pair by the scale (held as the
 * int16 pair (scale, scale)) and adds them into the token's int32, and the eight chunks'
 * int32s are added up. The sum starts at -128 · sum over c of scale(c, k) · (the sum of
 * lane k's four quants in c), computed once per row and super-block and shared by all
 * tokens: exact, so the order of the integer adds is free.
 *
 * Q4_K's mins: the reference's lane l (l = 0..3) takes fmaf(-d_x · dmin, mn(2l)·s(2l) +
 * mn(2l+1)·s(2l+1), acc_m[l]), s(c) the sum of chunk c's activation quants: one vpmaddwd
 * of the panel's (s(2l), s(2l+1)) pairs by (mn(2l), mn(2l+1)) gives that integer exactly.
 * Eight lane-8 accumulators and four of mins would not fit the 16 ymm registers beside the
 * integer work, so the mins run in a first pass over the row's super-blocks: each chain
 * still sees its blocks in order.
 *
 * By llvm-mca (Skylake) a super-block costs about 89 cycles per row and 8 tokens, bound by
 * the p0/p1 products: a vpmaddubsw and a vpmaddwd per 4-element group, then an add. A tile
 * of both halves (one broadcast of each weight group for 16 tokens) was no faster there.
 * Measured on one thread of the 2-core machine of docs/PERFORMANCE.md at the AVX2 level
 * (512 rows, 64 tokens, 2048 and 5632 columns): 39-43 GMAC/s for Q4_K and Q6_K. */

#define KQ_GROUP_Q_BYTES (64 * T * 4)   /* the quants of one super-block of a token group */
#define KQ_BLOCK_BYTES (KQ_GROUP_Q_BYTES + T * sizeof(float) + 4 * T * 2 * sizeof(int16_t))

/* One weight row's super-block, ready for the token loop. */
typedef struct kq_prep {
    _Alignas(32) int32_t q[64];   /* the quants as signed bytes in element order */
    int32_t scale[16];            /* (scale, scale) int16 pairs per 16 elements (Q4_K: each chunk's twice) */
    int32_t corr[8];              /* per lane k: -128 · sum over c of scale(c, k) · the quants of lane k in c */
    int32_t min_pairs[4];         /* Q4_K: (mn(2l), mn(2l+1)) int16 pairs */
    float d, dmin;                /* the super-block scales, converted from fp16 (dmin: Q4_K only) */
} kq_prep;

/* corr from the eight chunks (lane k of chunk c's 32 bytes is its group k) and the scale
 * pairs: vpmaddubsw by ones gives the pair sums, vpmaddwd by the scales the scaled
 * four-quant sums. */
static ALWAYS_INLINE void kq_corrections(const __m256i chunk[8], kq_prep *p) {
    const __m256i ones = _mm256_set1_epi8(1);
    const __m256i sc_lo = _mm256_loadu_si256((const __m256i *)p->scale);   /* chunks 0..3 */
    const __m256i sc_hi = _mm256_loadu_si256((const __m256i *)(p->scale + 8));
    const __m256i half = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);        /* lanes 4..7: second sub-block */
    __m256i t = _mm256_setzero_si256();
    for (int c = 0; c < 8; c++) {
        const __m256i idx = _mm256_add_epi32(half, _mm256_set1_epi32((2 * c) % 8));
        const __m256i sc_c = _mm256_permutevar8x32_epi32(c < 4 ? sc_lo : sc_hi, idx);
        t = _mm256_add_epi32(t, _mm256_madd_epi16(_mm256_maddubs_epi16(ones, chunk[c]), sc_c));
    }
    _mm256_storeu_si256((__m256i *)p->corr, _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(t, 7)));
}

/* Q4_K: chunk 2j is the low nibbles of qs[32j..32j+31], chunk 2j+1 their high nibbles;
 * scales and mins from the 12 packed bytes (simd_kscales.h). */
static void q4_K_prepare_block(const block_q4_K *b, kq_prep *p) {
    const __m256i m = _mm256_set1_epi8(0x0F);
    __m256i chunk[8];
    for (int j = 0; j < 4; j++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * j));
        chunk[2 * j] = _mm256_and_si256(v, m);
        chunk[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m);
        _mm256_store_si256((__m256i *)(p->q + 16 * j), chunk[2 * j]);
        _mm256_store_si256((__m256i *)(p->q + 16 * j + 8), chunk[2 * j + 1]);
    }
    uint64_t sc8, mn8;
    simd_unpack_k4_scales_u64(b->scales, &sc8, &mn8);
    /* each chunk's scale twice: bytes s0 s0 s1 s1 ..., then (s, s) int16 pairs */
    const __m128i sc = _mm_unpacklo_epi8(_mm_cvtsi64_si128((long long)sc8), _mm_cvtsi64_si128((long long)sc8));
    const __m256i lo = _mm256_cvtepu8_epi32(sc), hi = _mm256_cvtepu8_epi32(_mm_srli_si128(sc, 8));
    _mm256_storeu_si256((__m256i *)p->scale, _mm256_or_si256(lo, _mm256_slli_epi32(lo, 16)));
    _mm256_storeu_si256((__m256i *)(p->scale + 8), _mm256_or_si256(hi, _mm256_slli_epi32(hi, 16)));
    _mm_storeu_si128((__m128i *)p->min_pairs, _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)mn8)));
    kq_corrections(chunk, p);
    p->d = x86_fp16_to_f32(b->d);
    p->dmin = x86_fp16_to_f32(b->dmin);
}

/* Q6_K: q = (4 low bits from ql | 2 high bits from qh) - 32. Half h (elements 128h..) is
 * chunks 4h..4h+3: chunk 4h+j takes the low (j < 2) or high (j >= 2) nibbles of
 * ql[64h + 32·(j & 1)..+31] and bits 2j, 2j+1 of qh[32h..32h+31]. One signed scale per 16
 * elements. */
static void q6_K_prepare_block(const block_q6_K *b, kq_prep *p) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03), k32 = _mm256_set1_epi8(32);
    __m256i chunk[8];
    for (int h = 0; h < 2; h++) {
        const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h));
        const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h + 32));
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
        const __m256i low[4] = {_mm256_and_si256(ql0, m4), _mm256_and_si256(ql1, m4),
                                _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4)};
        for (int j = 0; j < 4; j++) {
            const __m256i high = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * j)), m2);
            chunk[4 * h + j] = _mm256_sub_epi8(_mm256_or_si256(low[j], _mm256_slli_epi16(high, 4)), k32);
            _mm256_store_si256((__m256i *)(p->q + 8 * (4 * h + j)), chunk[4 * h + j]);
        }
    }
    /* (scale, scale) int16 pairs: each sign-extended scale in both halves */
    const __m128i sc8 = _mm_loadu_si128((const __m128i *)b->scales);
    const __m256i lo = _mm256_cvtepi8_epi32(sc8), hi = _mm256_cvtepi8_epi32(_mm_srli_si128(sc8, 8));
    const __m256i low16 = _mm256_set1_epi32(0xFFFF);
    _mm256_storeu_si256((__m256i *)p->scale, _mm256_or_si256(_mm256_and_si256(lo, low16), _mm256_slli_epi32(lo, 16)));
    _mm256_storeu_si256((__m256i *)(p->scale + 8),
                        _mm256_or_si256(_mm256_and_si256(hi, low16), _mm256_slli_epi32(hi, 16)));
    _mm_storeu_si128((__m128i *)p->min_pairs, _mm_setzero_si128());
    kq_corrections(chunk, p);
    p->d = x86_fp16_to_f32(b->d);
    p->dmin = 0.0f;
}

static void q4_K_prepare(const uint8_t *w, size_t w_row_bytes, int64_t rows, int64_t nb, void *out) {
    kq_prep *p = out;
    for (int64_t r = 0; r < rows; r++) {
        const block_q4_K *b = (const block_q4_K *)(w + (size_t)r * w_row_bytes);
        for (int64_t i = 0; i < nb; i++, p++) q4_K_prepare_block(&b[i], p);
    }
}

static void q6_K_prepare(const uint8_t *w, size_t w_row_bytes, int64_t rows, int64_t nb, void *out) {
    kq_prep *p = out;
    for (int64_t r = 0; r < rows; r++) {
        const block_q6_K *b = (const block_q6_K *)(w + (size_t)r * w_row_bytes);
        for (int64_t i = 0; i < nb; i++, p++) q6_K_prepare_block(&b[i], p);
    }
}

/* The float accumulators of one row × one half between two parts of its row (run_parts). */
typedef struct kq_state {
    __m256 acc[8], accm[4];
} kq_state;

/* Super-blocks [i0, i1) of one row × one half (tokens 8·h0..8·h0+7) of a token group,
 * continuing the chains in *st: each chain sees its blocks in order, so a row run in one
 * part or several gives the same bits. is_q4_K: Q4_K (mins) or Q6_K. */
static ALWAYS_INLINE void kq_tile_part(const int is_q4_K, const kq_prep *prep, int64_t i0, int64_t i1,
                                       const uint8_t *group, int h0, kq_state *st) {
    if (is_q4_K) {   /* pass 1: the mins, four chains */
        const __m256 sign = _mm256_set1_ps(-0.0f);
        __m256 accm[4];
        UNROLL
        for (int l = 0; l < 4; l++) accm[l] = st->accm[l];
        for (int64_t i = i0; i < i1; i++) {
            const uint8_t *pb = group + (size_t)i * KQ_BLOCK_BYTES;
            const __m256 dx = _mm256_loadu_ps((const float *)(pb + KQ_GROUP_Q_BYTES) + h0 * H);
            const __m256 dmin = _mm256_mul_ps(_mm256_xor_ps(dx, sign), _mm256_set1_ps(prep[i].dmin));
            const uint8_t *pairs = pb + KQ_GROUP_Q_BYTES + T * sizeof(float) + (size_t)h0 * H * 4;
            UNROLL
            for (int l = 0; l < 4; l++) {
                const __m256i prod = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(pairs + l * T * 4)),
                                                       broadcast_i32_from_memory(&prep[i].min_pairs[l]));
                accm[l] = _mm256_fmadd_ps(dmin, _mm256_cvtepi32_ps(prod), accm[l]);
            }
        }
        UNROLL
        for (int l = 0; l < 4; l++) st->accm[l] = accm[l];
    }
    /* pass 2: the scaled quants, lane-8 */
    __m256 acc[8];
    UNROLL
    for (int k = 0; k < 8; k++) acc[k] = st->acc[k];
    for (int64_t i = i0; i < i1; i++) {
        const kq_prep *pr = &prep[i];
        const uint8_t *block = group + (size_t)i * KQ_BLOCK_BYTES, *pb = block + (size_t)h0 * H * 4;
        const __m256 dx = _mm256_loadu_ps((const float *)(block + KQ_GROUP_Q_BYTES) + h0 * H);
        const __m256 d = _mm256_mul_ps(dx, _mm256_set1_ps(pr->d));
        UNROLL
        for (int k = 0; k < 8; k++) {
            __m256i isum = broadcast_i32_from_memory(&pr->corr[k]);
            UNROLL
            for (int c = 0; c < 8; c++) {
                const __m256i xk = _mm256_loadu_si256((const __m256i *)(pb + (8 * c + k) * T * 4));
                const __m256i s = _mm256_maddubs_epi16(xk, broadcast_i32_from_memory(&pr->q[8 * c + k]));
                const __m256i sc = broadcast_i32_from_memory(&pr->scale[2 * c + (k >= 4)]);
                isum = x86_madd_i16_into(isum, s, sc);   /* AVX-VNNI: one vpdpwssd */
            }
            acc[k] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(isum), acc[k]);
        }
    }
    UNROLL
    for (int k = 0; k < 8; k++) st->acc[k] = acc[k];
}

static ALWAYS_INLINE void kq_state_zero(kq_state *st) {
    UNROLL
    for (int k = 0; k < 8; k++) st->acc[k] = _mm256_setzero_ps();
    UNROLL
    for (int l = 0; l < 4; l++) st->accm[l] = _mm256_setzero_ps();
}

/* The reference's final sum: lane-8 reduction, plus Q4_K's (m0 + m2) + (m1 + m3). */
static ALWAYS_INLINE __m256 kq_state_sum(const int is_q4_K, const kq_state *st) {
    const __m256 sum = lane8_sum_vertical(st->acc);
    if (!is_q4_K) return sum;
    const __m256 mins = _mm256_add_ps(_mm256_add_ps(st->accm[0], st->accm[2]), _mm256_add_ps(st->accm[1], st->accm[3]));
    return _mm256_add_ps(sum, mins);
}

/* A whole row × one half. */
static ALWAYS_INLINE void kq_tile(const int is_q4_K, const kq_prep *prep, int64_t nb, const uint8_t *group, int h0,
                                  __m256 *out) {
    kq_state st;
    kq_state_zero(&st);
    kq_tile_part(is_q4_K, prep, 0, nb, group, h0, &st);
    out[0] = kq_state_sum(is_q4_K, &st);
}

static void q4_K_part(const void *prep, int64_t i0, int64_t i1, const uint8_t *group, int h0, kq_state *st) {
    kq_tile_part(1, prep, i0, i1, group, h0, st);
}
static void q6_K_part(const void *prep, int64_t i0, int64_t i1, const uint8_t *group, int h0, kq_state *st) {
    kq_tile_part(0, prep, i0, i1, group, h0, st);
}
static __m256 q4_K_sum(const kq_state *st) {
    return kq_state_sum(1, st);
}
static __m256 q6_K_sum(const kq_state *st) {
    return kq_state_sum(0, st);
}

/* ---- the tile variants the driver calls ---- */

/* A tile of rows starting at weight row w (prepared as prep) over the token group at
 * group: rm rows (the kernel's tile height, or 1) × both halves (h0 = 0) or one half h0.
 * out[r·halves + j]. */
typedef void (*tile_fn)(const uint8_t *w, size_t w_row_bytes, const void *prep, int64_t nb, const uint8_t *group,
                        int h0, __m256 *out);
typedef void (*prepare_fn)(const uint8_t *w, size_t w_row_bytes, int64_t rows, int64_t nb, void *out);

/* Q4_0's four specializations (tile height Q4_0_RM or 1, both halves or one): q4_0_tile is
 * inlined into each with its shape as constants, so each gets its own unrolled loops. */
#define Q4_0_TILE_FN(name, rm, halves)                                                                   \
    static void name(const uint8_t *w, size_t wrb, const void *prep, int64_t nb, const uint8_t *group, \
                     int h0, __m256 *out) {                                                            \
        (void)w, (void)wrb;                                                                            \
        q4_0_tile(rm, halves, prep, nb, group, h0, out);                                               \
    }
Q4_0_TILE_FN(q4_0_many2, Q4_0_RM, 2)
Q4_0_TILE_FN(q4_0_one2, 1, 2)
Q4_0_TILE_FN(q4_0_many1, Q4_0_RM, 1)
Q4_0_TILE_FN(q4_0_one1, 1, 1)
#undef Q4_0_TILE_FN
static void q8_0_one1(const uint8_t *w, size_t wrb, const void *prep, int64_t nb, const uint8_t *group, int h0,
                      __m256 *out) {
    (void)wrb;
    q8_0_tile(w, prep, nb, group, h0, out);
}
static void q4_1_one1(const uint8_t *w, size_t wrb, const void *prep, int64_t nb, const uint8_t *group, int h0,
                      __m256 *out) {
    (void)w, (void)wrb;
    q4_1_tile(prep, nb, group, h0, out);
}
static void q4_K_one1(const uint8_t *w, size_t wrb, const void *prep, int64_t nb, const uint8_t *group, int h0,
                      __m256 *out) {
    (void)w, (void)wrb;
    kq_tile(1, prep, nb, group, h0, out);
}
static void q6_K_one1(const uint8_t *w, size_t wrb, const void *prep, int64_t nb, const uint8_t *group, int h0,
                      __m256 *out) {
    (void)w, (void)wrb;
    kq_tile(0, prep, nb, group, h0, out);
}

/* Super-blocks [i0, i1) of one row × one half, continuing the chains in *st; and the
 * final sum of a row's chains. */
typedef void (*part_fn)(const void *prep, int64_t i0, int64_t i1, const uint8_t *group, int h0, kq_state *st);
typedef __m256 (*part_sum_fn)(const kq_state *st);

/* One type's kernels. many2/one2 (or NULL) take both halves of a token group at once;
 * many1/one1 one half; part (or NULL) runs a row in parts (run_parts). rm is the height of
 * the many tiles. */
typedef struct tile_kernels {
    int rm;
    int64_t block_elems;         /* elements per weight block: 32, or 256 (K-quants) */
    tile_fn many2, one2, many1, one1;
    prepare_fn prepare;
    part_fn part;
    part_sum_fn part_sum;
    size_t prep_bytes;           /* per block */
    size_t panel_block_bytes;    /* per block of a token group */
} tile_kernels;

_Static_assert(sizeof(q4_prep) * (SEALM_GEMM_MAX_COLS / 32) <= PREP_BYTES &&
                   sizeof(q8_0_prep) * (SEALM_GEMM_MAX_COLS / 32) <= PREP_BYTES &&
                   sizeof(kq_prep) * (SEALM_GEMM_MAX_COLS / QK_K) <= PREP_BYTES,
               "one prepared row of SEALM_GEMM_MAX_COLS elements must fit the buffer");

static const tile_kernels q4_0_kernels = {Q4_0_RM,    32,        q4_0_many2,   q4_0_one2, q4_0_many1,
                                          q4_0_one1,  q4_0_prepare, NULL,    NULL,      sizeof(q4_prep),
                                          GROUP_Q_BYTES + T * sizeof(float)};
static const tile_kernels q8_0_kernels = {1,          32,        NULL,         NULL,      q8_0_one1,
                                          q8_0_one1,  q8_0_prepare, NULL,    NULL,      sizeof(q8_0_prep),
                                          GROUP_Q_BYTES + T * sizeof(float)};
static const tile_kernels q4_1_kernels = {1,          32,        NULL,         NULL,      q4_1_one1,
                                          q4_1_one1,  q4_1_prepare, NULL,    NULL,      sizeof(q4_prep),
                                          GROUP_Q_BYTES + 2 * T * sizeof(float)};
static const tile_kernels q4_K_kernels = {1,          QK_K,      NULL,         NULL,      q4_K_one1,
                                          q4_K_one1,  q4_K_prepare, q4_K_part, q4_K_sum, sizeof(kq_prep),
                                          KQ_BLOCK_BYTES};
static const tile_kernels q6_K_kernels = {1,          QK_K,      NULL,         NULL,      q6_K_one1,
                                          q6_K_one1,  q6_K_prepare, q6_K_part, q6_K_sum, sizeof(kq_prep),
                                          KQ_BLOCK_BYTES};

/* ---- the driver: row panels, token groups, tiles ---- */

/* The results of rows [r, r + rm) for the halves [h0, h0 + halves) of the token group at
 * t0 (out[k·halves + j]), plus the bias (NULL: + 0.0f, as the unpacked path adds), for the
 * tokens that exist. */
/* Rows r, r+1 of 8 tokens from first on, all of them valid, biases added: interleaved so
 * that each token's two results (adjacent in y) leave in one 8-byte store. The same float
 * adds as store_rows' general case. */
static inline void store_pair8(float *y, int64_t y_stride, int64_t r, int32_t first, __m256 v0, __m256 v1) {
    /* per 128-bit lane l: tokens 4l, 4l+1 in lo, 4l+2, 4l+3 in hi, each as a (v0, v1) pair */
    const __m256 lo = _mm256_unpacklo_ps(v0, v1), hi = _mm256_unpackhi_ps(v0, v1);
    float *out = y + (int64_t)first * y_stride + r;
    for (int l = 0; l < 2; l++) {
        const __m128 a = l ? _mm256_extractf128_ps(lo, 1) : _mm256_castps256_ps128(lo);
        const __m128 b = l ? _mm256_extractf128_ps(hi, 1) : _mm256_castps256_ps128(hi);
        _mm_storel_pi((__m64 *)(out + (int64_t)(4 * l) * y_stride), a);
        _mm_storeh_pi((__m64 *)(out + (int64_t)(4 * l + 1) * y_stride), a);
        _mm_storel_pi((__m64 *)(out + (int64_t)(4 * l + 2) * y_stride), b);
        _mm_storeh_pi((__m64 *)(out + (int64_t)(4 * l + 3) * y_stride), b);
    }
}

static void store_rows(float *y, int64_t y_stride, int64_t r, int rm, int32_t t0, int h0, int halves,
                       int32_t n_tokens, const __m256 *out, const float *bias) {
    if (rm == 2) {
        const __m256 b0 = _mm256_set1_ps(bias ? bias[r] : 0.0f), b1 = _mm256_set1_ps(bias ? bias[r + 1] : 0.0f);
        int j = 0;
        for (; j < halves && n_tokens - (t0 + (h0 + j) * H) >= H; j++)
            store_pair8(y, y_stride, r, t0 + (h0 + j) * H, _mm256_add_ps(out[j], b0),
                        _mm256_add_ps(out[halves + j], b1));
        if (j == halves) return;
        /* a partial half: every result on its own, below (the full halves again: same bits) */
    }
    for (int k = 0; k < rm; k++) {
        const __m256 b = _mm256_set1_ps(bias ? bias[r + k] : 0.0f);
        for (int j = 0; j < halves; j++) {
            const int32_t first = t0 + (h0 + j) * H;
            const int valid = n_tokens - first < H ? n_tokens - first : H;
            float v[H];
            _mm256_storeu_ps(v, _mm256_add_ps(out[k * halves + j], b));
            for (int l = 0; l < valid; l++) y[(int64_t)(first + l) * y_stride + r + k] = v[l];
        }
    }
}

/* Rows of one row panel [p0, p1) (prepared at prep) against the token group at t0. */
static void panel_group(const tile_kernels *kn, const uint8_t *w, size_t w_row_bytes, int64_t p0, int64_t p1,
                        const uint8_t *prep, size_t prep_row, int64_t nb, const uint8_t *group, int32_t t0,
                        int32_t n_tokens, float *y, int64_t y_stride, const float *bias) {
    const int RM = kn->rm;
    const int halves_used = n_tokens - t0 > H ? 2 : 1;   /* a half past the last token is skipped */
    __m256 out[2 * 8];
    if (halves_used == 2 && kn->many2) {
        int64_t r = p0;
        for (; r + RM <= p1; r += RM) {
            kn->many2(w + (size_t)r * w_row_bytes, w_row_bytes, prep + (size_t)(r - p0) * prep_row, nb, group, 0, out);
            store_rows(y, y_stride, r, RM, t0, 0, 2, n_tokens, out, bias);
        }
        for (; r < p1; r++) {
            kn->one2(w + (size_t)r * w_row_bytes, w_row_bytes, prep + (size_t)(r - p0) * prep_row, nb, group, 0, out);
            store_rows(y, y_stride, r, 1, t0, 0, 2, n_tokens, out, bias);
        }
        return;
    }
    for (int h = 0; h < halves_used; h++) {
        int64_t r = p0;
        for (; r + RM <= p1; r += RM) {
            kn->many1(w + (size_t)r * w_row_bytes, w_row_bytes, prep + (size_t)(r - p0) * prep_row, nb, group, h, out);
            store_rows(y, y_stride, r, RM, t0, h, 1, n_tokens, out, bias);
        }
        for (; r < p1; r++) {
            kn->one1(w + (size_t)r * w_row_bytes, w_row_bytes, prep + (size_t)(r - p0) * prep_row, nb, group, h, out);
            store_rows(y, y_stride, r, 1, t0, h, 1, n_tokens, out, bias);
        }
    }
}

/* Long K-quant rows (TinyLlama's feed-forward down product: 22 super-blocks, a token
 * group's activations 97 KiB) do not let a token group stay in L1 while the rows of a row
 * panel read it one after another; each one-row tile then streams it from L2 (at 5632
 * columns half the speed of 2048). Such rows run in equal parts of at most PART_BLOCKS
 * super-blocks (35 KiB of activations): for each part, every row of the panel in turn,
 * both halves of the group back to back, with the chains parked in a kq_state between
 * parts. */
enum { PART_BLOCKS = 8, PART_MAX_ROWS = 32 };

static __attribute__((noinline)) void run_parts(const tile_kernels *kn, int64_t cols, int64_t r0, int64_t r1,
                                                const void *w, size_t w_row_bytes, const void *panel, int32_t n_tokens,
                                                float *y, int64_t y_stride, const float *bias) {
    const int64_t nb = cols / kn->block_elems;
    const size_t group_bytes = (size_t)nb * kn->panel_block_bytes;
    const int32_t groups = (n_tokens + T - 1) / T;
    _Alignas(32) uint8_t prep[PREP_BYTES];
    const size_t prep_row = (size_t)nb * kn->prep_bytes;
    int64_t panel_rows = (int64_t)(sizeof prep / prep_row);
    if (panel_rows > PART_MAX_ROWS) panel_rows = PART_MAX_ROWS;
    if (panel_rows < 1) panel_rows = 1;
    kq_state state[PART_MAX_ROWS][2];
    const int64_t n_parts = (nb + PART_BLOCKS - 1) / PART_BLOCKS;
    const int64_t part_blocks = (nb + n_parts - 1) / n_parts;
    for (int64_t p0 = r0; p0 < r1; p0 += panel_rows) {
        const int64_t p1 = p0 + panel_rows < r1 ? p0 + panel_rows : r1;
        kn->prepare((const uint8_t *)w + (size_t)p0 * w_row_bytes, w_row_bytes, p1 - p0, nb, prep);
        for (int32_t g = 0; g < groups; g++) {
            const uint8_t *group = (const uint8_t *)panel + (size_t)g * group_bytes;
            const int halves = n_tokens - g * T > H ? 2 : 1;   /* a half past the last token is skipped */
            for (int64_t r = 0; r < p1 - p0; r++)
                for (int h = 0; h < halves; h++) kq_state_zero(&state[r][h]);
            for (int64_t i0 = 0; i0 < nb; i0 += part_blocks) {
                const int64_t i1 = i0 + part_blocks < nb ? i0 + part_blocks : nb;
                for (int64_t r = 0; r < p1 - p0; r++)
                    for (int h = 0; h < halves; h++)
                        kn->part(prep + (size_t)r * prep_row, i0, i1, group, h, &state[r][h]);
            }
            for (int64_t r = 0; r < p1 - p0; r++) {
                __m256 out[2];
                for (int h = 0; h < halves; h++) out[h] = kn->part_sum(&state[r][h]);
                store_rows(y, y_stride, p0 + r, 1, g * T, 0, halves, n_tokens, out, bias);
            }
        }
    }
}

/* Rows are walked in panels whose prepared weights fit the stack buffer and whose weights
 * stay within ROW_PANEL_BYTES (so they stay in L2 while every token group reads them);
 * within a panel the token groups one after another, each group's activations (a few tens
 * of KiB) staying in L1/L2 while the panel's rows are run against them. */
static __attribute__((noinline)) void run_tiles(const tile_kernels *kn, int64_t cols, int64_t r0, int64_t r1,
                                                const void *w, size_t w_row_bytes, const void *panel, int32_t n_tokens,
                                                float *y, int64_t y_stride, const float *bias) {
    const int64_t nb = cols / kn->block_elems;
    const size_t group_bytes = (size_t)nb * kn->panel_block_bytes;
    const int32_t groups = (n_tokens + T - 1) / T;
    _Alignas(32) uint8_t prep[PREP_BYTES];
    const size_t prep_row = (size_t)nb * kn->prep_bytes;
    int64_t panel_rows = (int64_t)(sizeof prep / prep_row);
    const int64_t weight_rows = (int64_t)(ROW_PANEL_BYTES / w_row_bytes);
    if (weight_rows < panel_rows) panel_rows = weight_rows;
    if (panel_rows >= kn->rm) panel_rows = panel_rows / kn->rm * kn->rm;
    if (panel_rows < 1) panel_rows = 1;
    for (int64_t p0 = r0; p0 < r1; p0 += panel_rows) {
        const int64_t p1 = p0 + panel_rows < r1 ? p0 + panel_rows : r1;
        kn->prepare((const uint8_t *)w + (size_t)p0 * w_row_bytes, w_row_bytes, p1 - p0, nb, prep);
        for (int32_t g = 0; g < groups; g++)
            panel_group(kn, w, w_row_bytes, p0, p1, prep, prep_row, nb, (const uint8_t *)panel + (size_t)g * group_bytes,
                        g * T, n_tokens, y, y_stride, bias);
    }
}

/* The driver for a type's kernels and row length (two functions, so that only one of
 * their stack buffers is live at a time). */
static void run(const tile_kernels *kn, int64_t cols, int64_t r0, int64_t r1, const void *w, size_t w_row_bytes,
                const void *panel, int32_t n_tokens, float *y, int64_t y_stride, const float *bias) {
    if (kn->part && cols / kn->block_elems > PART_BLOCKS)
        run_parts(kn, cols, r0, r1, w, w_row_bytes, panel, n_tokens, y, y_stride, bias);
    else
        run_tiles(kn, cols, r0, r1, w, w_row_bytes, panel, n_tokens, y, y_stride, bias);
}

/* The table's gemm entry of one type: the shared driver over that type's kernels. */
#define GEMM_ENTRY(t)                                                                                          \
    static void gemm_##t##_avx2(int64_t cols, int64_t r0, int64_t r1, const void *w, size_t w_row_bytes,       \
                                const void *panel, int32_t n_tokens, float *y, int64_t y_stride, const float *bias) { \
        run(&t##_kernels, cols, r0, r1, w, w_row_bytes, panel, n_tokens, y, y_stride, bias);                   \
    }
GEMM_ENTRY(q4_0)
GEMM_ENTRY(q8_0)
GEMM_ENTRY(q4_1)
GEMM_ENTRY(q4_K)
GEMM_ENTRY(q6_K)
#undef GEMM_ENTRY

#endif
