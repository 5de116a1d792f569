/* AVX-512 VNNI tiled prefill products: Q8_0 · Q8_0, Q4_1 · Q8_1, Q4_0 · Q8_0, and Q4_K,
 * Q6_K · Q8_K (gemm.h); and the float product F32 · F32 (AVX-512F, its own section).
 *
 * A tile is RM weight rows × 16 tokens (one packed token group). Its block loop loads each
 * weight block once for the 16 tokens and each packed activation block once for the RM
 * rows. vpdpbusd with a weight's 4-byte group k broadcast to all lanes, against the packed
 * group k of 16 tokens, yields in lane t the integer sum over elements 4k..4k+3 of token t:
 * exactly the integer term lane k of the pinned lane-8 order gets (quant_ref.h). So each
 * (row, token, k) has its own float accumulator in lane t of register acc[row][k], and
 * receives fma(d_w·d_x, (float)sum, acc) per block in block order, as in the reference;
 * at the end the eight registers are added vertically in the reference's tree order.
 * Q4_0's pinned order is one chain over whole-block sums: there the eight groups are added
 * as integers first (exact) and one FMA per block advances the chain.
 *
 * vpdpbusd multiplies unsigned by signed bytes. Where both operands are signed (Q8_0
 * weights, Q4_0's q - 8), the packed activations hold q + 128 and the accumulator starts
 * at -128·(sum of the weight quants it covers: four for Q8_0's lanes, the block for Q4_0),
 * computed once per weight block and shared by the 16 tokens: exact in int32. Q4_1's
 * nibbles are already unsigned and its activations stay signed. The K-quants: see their
 * section below.
 *
 * Rows are walked in panels of at most ROW_PANEL_BYTES of weights whose token-independent
 * parts (scales as floats, corrections, unpacked nibbles) are prepared once into a buffer
 * of PREP_BYTES, and within a panel the token groups one after another: the prepared panel
 * stays in L1/L2 while each token group's packed activations (tens of KiB) stay in L1.
 *
 * Measured on the 2-core AVX-512 machine of docs/PERFORMANCE.md: vpdpbusd, vcvtdq2ps,
 * vfmadd and vsubps (zmm) each issue about twice per cycle (two vector ports), so a lane-8
 * product costs three vector instructions per vpdpbusd (product, conversion, FMA: the
 * pinned order needs one FMA per 4-element group) and Q4_0 one. Preparing the weights
 * per token group instead of per panel cost about a third of the time. */
#include "engine/gemm.h"
#include "engine/simd_kscales.h"
#include "engine/simd_x86.h"
#include "engine/gemm_q4_prep_x86.h"

#include <immintrin.h>
#include <string.h>

enum { ROW_PANEL_BYTES = 256 * 1024 };
/* the prepared weight rows of one row panel (on the stack): SEALM_GEMM_MAX_COLS keeps a
 * row of the largest (a K-quant's, 384 bytes per 256 elements) within it */
enum { PREP_BYTES = 48 * 1024 };
#define T SEALM_GEMM_TOKENS
#define GROUP_Q_BYTES (8 * T * 4)      /* the quants of one block of a token group */
/* rows per tile: lane-8 types hold 8 accumulators per row (16 of the 32 registers at 2
 * rows), Q4_0 one */
enum { LANE8_RM = 2, Q4_0_RM = 4 };
#define ALWAYS_INLINE inline __attribute__((always_inline))
/* Fully unrolls the loops over a tile's rows and groups. Without it gcc keeps the
 * accumulator arrays in memory (it scalarizes arrays only after unrolling them) and stores
 * every accumulator once per block. */
#define UNROLL _Pragma("GCC unroll 16")

/* The 32-bit word at p, without alignment or aliasing assumptions. */
static ALWAYS_INLINE int32_t load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* *p in all 16 lanes, broadcast from memory: a load-port-only vpbroadcastd. Written as asm
 * because compilers otherwise extract a value just stored from the register it was stored
 * from, with a chain of shuffles on the vector ports the products need. */
static ALWAYS_INLINE __m512i broadcast_i32_from_memory(const int32_t *p) {
    __m512i v;
    __asm__("vpbroadcastd %1, %0" : "=v"(v) : "m"(*p));
    return v;
}

/* The lane-8 reduction of quant_ref.h applied lane by lane to eight accumulators:
 * ((a0+a4) + (a2+a6)) + ((a1+a5) + (a3+a7)). */
static ALWAYS_INLINE __m512 lane8_sum_vertical(__m512 a0, __m512 a1, __m512 a2, __m512 a3, __m512 a4, __m512 a5,
                                                __m512 a6, __m512 a7) {
    /* by value, not as an array: an array argument made the compiler keep a memory copy
     * of the accumulators up to date inside the block loop */
    const __m512 r0 = _mm512_add_ps(a0, a4), r1 = _mm512_add_ps(a1, a5);
    const __m512 r2 = _mm512_add_ps(a2, a6), r3 = _mm512_add_ps(a3, a7);
    return _mm512_add_ps(_mm512_add_ps(r0, r2), _mm512_add_ps(r1, r3));
}

/* Integer-to-float conversion off the vector port the VNNI products need. vpdpbusd and
 * vcvtdq2ps both issue on one port of this CPU family (port 0), so a lane-8 tile spent two
 * cycles there per vpdpbusd. Instead the integer accumulator starts at the bit pattern of
 * 1.5·2^23 (MAGIC_BITS): for |s| < 2^22 the sum's bits then are those of the float
 * 1.5·2^23 + s, exactly, and subtracting 1.5·2^23 (a float subtract, either FP port) leaves
 * s exactly — the value vcvtdq2ps gives, so the results keep their bits. Every lane-8 group
 * sum here is at most 4·127·128 in magnitude. */
#define MAGIC_BITS 0x4B400000
#define MAGIC_FLOAT 12582912.0f
static ALWAYS_INLINE __m512 magic_to_float(__m512i s_plus_magic) {
    return _mm512_sub_ps(_mm512_castsi512_ps(s_plus_magic), _mm512_set1_ps(MAGIC_FLOAT));
}

/* Writes result lanes (16 tokens of row r, plus the bias) to y for the tokens that exist. */
static inline void store_tokens(float *y, int64_t y_stride, int64_t r, int32_t t0, int valid, __m512 s, float bias) {
    float out[T];
    _mm512_storeu_ps(out, _mm512_add_ps(s, _mm512_set1_ps(bias)));
    for (int l = 0; l < valid; l++) y[(int64_t)(t0 + l) * y_stride + r] = out[l];
}

/* Rows r..r+3 of a whole tile (16 tokens, every lane valid) plus their biases: the four
 * row vectors are transposed in 128-bit lanes so that each token's four results leave in
 * one 16-byte store instead of four scalar ones. The same float adds as store_tokens. */
static inline void store_tile4(float *y, int64_t y_stride, int64_t r, int32_t t0, const __m512 s[4], const float b[4]) {
    const __m512 v0 = _mm512_add_ps(s[0], _mm512_set1_ps(b[0])), v1 = _mm512_add_ps(s[1], _mm512_set1_ps(b[1]));
    const __m512 v2 = _mm512_add_ps(s[2], _mm512_set1_ps(b[2])), v3 = _mm512_add_ps(s[3], _mm512_set1_ps(b[3]));
    /* per 128-bit lane l: (v0, v1) and (v2, v3) interleaved, then (v0..v3) of token 4l + j */
    const __m512 lo01 = _mm512_unpacklo_ps(v0, v1), hi01 = _mm512_unpackhi_ps(v0, v1);
    const __m512 lo23 = _mm512_unpacklo_ps(v2, v3), hi23 = _mm512_unpackhi_ps(v2, v3);
    const __m512 tok[4] = {_mm512_shuffle_ps(lo01, lo23, 0x44), _mm512_shuffle_ps(lo01, lo23, 0xEE),
                           _mm512_shuffle_ps(hi01, hi23, 0x44), _mm512_shuffle_ps(hi01, hi23, 0xEE)};
    float *out = y + (int64_t)t0 * y_stride + r;
    for (int j = 0; j < 4; j++) {
        _mm_storeu_ps(out + (int64_t)j * y_stride, _mm512_castps512_ps128(tok[j]));
        _mm_storeu_ps(out + (int64_t)(4 + j) * y_stride, _mm512_extractf32x4_ps(tok[j], 1));
        _mm_storeu_ps(out + (int64_t)(8 + j) * y_stride, _mm512_extractf32x4_ps(tok[j], 2));
        _mm_storeu_ps(out + (int64_t)(12 + j) * y_stride, _mm512_extractf32x4_ps(tok[j], 3));
    }
}

/* The same for rows r, r+1: each token's pair leaves in one 8-byte store. */
static inline void store_pairs(float *out, int64_t y_stride, int l, __m128 lo, __m128 hi) {
    _mm_storel_pi((__m64 *)(out + (int64_t)(4 * l) * y_stride), lo);
    _mm_storeh_pi((__m64 *)(out + (int64_t)(4 * l + 1) * y_stride), lo);
    _mm_storel_pi((__m64 *)(out + (int64_t)(4 * l + 2) * y_stride), hi);
    _mm_storeh_pi((__m64 *)(out + (int64_t)(4 * l + 3) * y_stride), hi);
}

static inline void store_tile2(float *y, int64_t y_stride, int64_t r, int32_t t0, const __m512 s[2], const float b[2]) {
    const __m512 v0 = _mm512_add_ps(s[0], _mm512_set1_ps(b[0])), v1 = _mm512_add_ps(s[1], _mm512_set1_ps(b[1]));
    /* per 128-bit lane l: tokens 4l, 4l+1 in lo, 4l+2, 4l+3 in hi, each as a (v0, v1) pair */
    const __m512 lo = _mm512_unpacklo_ps(v0, v1), hi = _mm512_unpackhi_ps(v0, v1);
    float *out = y + (int64_t)t0 * y_stride + r;
    store_pairs(out, y_stride, 0, _mm512_castps512_ps128(lo), _mm512_castps512_ps128(hi));
    store_pairs(out, y_stride, 1, _mm512_extractf32x4_ps(lo, 1), _mm512_extractf32x4_ps(hi, 1));
    store_pairs(out, y_stride, 2, _mm512_extractf32x4_ps(lo, 2), _mm512_extractf32x4_ps(hi, 2));
    store_pairs(out, y_stride, 3, _mm512_extractf32x4_ps(lo, 3), _mm512_extractf32x4_ps(hi, 3));
}

#define LANE8_SUM(a) lane8_sum_vertical((a)[0], (a)[1], (a)[2], (a)[3], (a)[4], (a)[5], (a)[6], (a)[7])

/* ---- prepared weight rows ----
 *
 * What a tile needs from a weight block besides its quants (the fp16 scale as a float, the
 * -128·sum corrections, Q4's nibbles unpacked to bytes) does not depend on the tokens, so
 * it is computed once per row panel into a buffer on the stack and read by every token
 * group: per block that leaves the tile loop one multiply per row besides its products.
 * (Recomputing it for every group of 16 tokens cost about a third of the kernels' time.) */

/* Q8_0: per block, MAGIC_BITS - 128 · (sum of the 4 weight quants of lane k), and the
 * scale. The quants themselves are broadcast from the weight row. */
typedef struct q8_0_prep {
    int32_t corr[8];
    float d;
} q8_0_prep;

static void q8_0_prepare(const uint8_t *w, size_t w_row_bytes, int64_t rows, int64_t nb, void *out) {
    q8_0_prep *p = out;
    const __m256i k128 = _mm256_set1_epi8((char)0x80);
    for (int64_t r = 0; r < rows; r++) {
        const block_q8_0 *wb = (const block_q8_0 *)(w + (size_t)r * w_row_bytes);
        for (int64_t i = 0; i < nb; i++, p++) {
            const __m256i s128 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), k128,
                                                     _mm256_loadu_si256((const __m256i *)wb[i].qs));
            /* the tile's integer accumulator starts here: the correction plus MAGIC_BITS */
            _mm256_storeu_si256((__m256i *)p->corr, _mm256_sub_epi32(_mm256_set1_epi32(MAGIC_BITS), s128));
            p->d = x86_fp16_to_f32(wb[i].d);
        }
    }
}

static void q4_0_prepare(const uint8_t *w, size_t w_row_bytes, int64_t rows, int64_t nb, void *out) {
    q4_prep *p = out;
    const __m256i k128 = _mm256_set1_epi8((char)0x80);
    for (int64_t r = 0; r < rows; r++) {
        const block_q4_0 *wb = (const block_q4_0 *)(w + (size_t)r * w_row_bytes);
        for (int64_t i = 0; i < nb; i++, p++) {
            const __m256i qm8 = q4_unpack(wb[i].qs, 8);
            _mm256_storeu_si256((__m256i *)p->q, qm8);
            /* -128 · sum(q - 8): the packed activations carry +128 */
            const __m256i s128 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), k128, qm8);
            const __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s128), _mm256_extracti128_si256(s128, 1));
            const __m128i s2 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
            p->u.start = -(_mm_cvtsi128_si32(s2) + _mm_extract_epi32(s2, 1));
            p->d = x86_fp16_to_f32(wb[i].d);
        }
    }
}

/* ---- Q8_0 · Q8_0 (lane-8): tile of RM rows; prep row r is prep + r·nb ---- */

static ALWAYS_INLINE void q8_0_tile(const int RM, const uint8_t *w, size_t w_row_bytes, const void *prep, int64_t nb,
                                    const uint8_t *group, __m512 *out) {
    __m512 acc[LANE8_RM][8];   /* fixed size: RM is a constant after inlining */
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int k = 0; k < 8; k++) acc[r][k] = _mm512_setzero_ps();
    const q8_0_prep *pr = prep;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = group + (size_t)i * (GROUP_Q_BYTES + T * sizeof(float));
        const __m512 dx = _mm512_loadu_ps((const float *)(pb + GROUP_Q_BYTES));
        __m512 scale[LANE8_RM];
        UNROLL
        for (int r = 0; r < RM; r++) scale[r] = _mm512_mul_ps(_mm512_set1_ps(pr[r * nb + i].d), dx);
        UNROLL
        for (int k = 0; k < 8; k++) {
            const __m512i xk = _mm512_loadu_si512((const void *)(pb + k * T * 4));
            UNROLL
            for (int r = 0; r < RM; r++) {
                const block_q8_0 *wb = (const block_q8_0 *)(w + (size_t)r * w_row_bytes) + i;
                const __m512i s = _mm512_dpbusd_epi32(broadcast_i32_from_memory(&pr[r * nb + i].corr[k]), xk,
                                                      _mm512_set1_epi32(load_i32(wb->qs + 4 * k)));
                acc[r][k] = _mm512_fmadd_ps(scale[r], magic_to_float(s), acc[r][k]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < RM; r++) out[r] = LANE8_SUM(acc[r]);
}

/* ---- Q4_1 · Q8_1 (lane-8 quant term, plus one fmaf chain of mins) ---- */

static ALWAYS_INLINE void q4_1_tile(const int RM, const uint8_t *w, size_t w_row_bytes, const void *prep, int64_t nb,
                                    const uint8_t *group, __m512 *out) {
    (void)w, (void)w_row_bytes;
    __m512 acc[LANE8_RM][8], mins[LANE8_RM];
    UNROLL
    for (int r = 0; r < RM; r++) {
        mins[r] = _mm512_setzero_ps();
        UNROLL
        for (int k = 0; k < 8; k++) acc[r][k] = _mm512_setzero_ps();
    }
    const q4_prep *pr = prep;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = group + (size_t)i * (GROUP_Q_BYTES + 2 * T * sizeof(float));
        const __m512 dx = _mm512_loadu_ps((const float *)(pb + GROUP_Q_BYTES));
        const __m512 sx = _mm512_loadu_ps((const float *)(pb + GROUP_Q_BYTES) + T);
        __m512 scale[LANE8_RM];
        UNROLL
        for (int r = 0; r < RM; r++) {
            scale[r] = _mm512_mul_ps(_mm512_set1_ps(pr[r * nb + i].d), dx);
            mins[r] = _mm512_fmadd_ps(_mm512_set1_ps(pr[r * nb + i].u.m), sx, mins[r]);
        }
        UNROLL
        for (int k = 0; k < 8; k++) {
            const __m512i xk = _mm512_loadu_si512((const void *)(pb + k * T * 4));
            UNROLL
            for (int r = 0; r < RM; r++) {
                const __m512i s = _mm512_dpbusd_epi32(_mm512_set1_epi32(MAGIC_BITS),
                                                      broadcast_i32_from_memory(&pr[r * nb + i].q[k]), xk);
                acc[r][k] = _mm512_fmadd_ps(scale[r], magic_to_float(s), acc[r][k]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < RM; r++) out[r] = _mm512_add_ps(LANE8_SUM(acc[r]), mins[r]);
}

/* ---- Q4_0 · Q8_0 (one chain over whole-block sums) ---- */

static ALWAYS_INLINE void q4_0_tile(const int RM, const uint8_t *w, size_t w_row_bytes, const void *prep, int64_t nb,
                                    const uint8_t *group, __m512 *out) {
    (void)w, (void)w_row_bytes;
    __m512 sum[Q4_0_RM];
    UNROLL
    for (int r = 0; r < RM; r++) sum[r] = _mm512_setzero_ps();
    const q4_prep *pr = prep;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = group + (size_t)i * (GROUP_Q_BYTES + T * sizeof(float));
        const __m512 dx = _mm512_loadu_ps((const float *)(pb + GROUP_Q_BYTES));
        /* two integer chains per row (even and odd groups), added at the end of the block:
         * vpdpbusd's latency is about five cycles, so RM chains alone would leave the two
         * vector ports idle more than half the time; integer sums are exact in any order */
        __m512i isum[Q4_0_RM], isum_odd[Q4_0_RM];
        UNROLL
        for (int r = 0; r < RM; r++) {
            isum[r] = broadcast_i32_from_memory(&pr[r * nb + i].u.start);
            isum_odd[r] = _mm512_setzero_si512();
        }
        UNROLL
        for (int k = 0; k < 8; k++) {
            const __m512i xk = _mm512_loadu_si512((const void *)(pb + k * T * 4));
            UNROLL
            for (int r = 0; r < RM; r++) {
                const __m512i wk = broadcast_i32_from_memory(&pr[r * nb + i].q[k]);
                if (k & 1)
                    isum_odd[r] = _mm512_dpbusd_epi32(isum_odd[r], xk, wk);
                else
                    isum[r] = _mm512_dpbusd_epi32(isum[r], xk, wk);
            }
        }
        UNROLL
        for (int r = 0; r < RM; r++) {
            const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(pr[r * nb + i].d), dx);
            const __m512i block_sum = _mm512_add_epi32(isum[r], isum_odd[r]);
            sum[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(block_sum), scale, sum[r]);
        }
    }
    UNROLL
    for (int r = 0; r < RM; r++) out[r] = sum[r];
}

/* Q4_0 over two token groups at once (RM rows × 32 tokens): each broadcast weight group
 * serves two vpdpbusd, so the loads no longer bound the tile, and the 2·RM integer chains
 * hide vpdpbusd's latency without splitting a block's sum. Per (row, token) the same block
 * sums and the same FMA chain as q4_0_tile. out[0..RM) is group 0, out[RM..2RM) group 1. */
static ALWAYS_INLINE void q4_0_tile_pair(const int RM, const void *prep, int64_t nb, const uint8_t *group,
                                         size_t group_bytes, __m512 *out) {
    __m512 sum[2][Q4_0_RM];
    UNROLL
    for (int r = 0; r < RM; r++) sum[0][r] = sum[1][r] = _mm512_setzero_ps();
    const q4_prep *pr = prep;
    const size_t block_bytes = GROUP_Q_BYTES + T * sizeof(float);
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb[2] = {group + (size_t)i * block_bytes, group + group_bytes + (size_t)i * block_bytes};
        __m512i isum[2][Q4_0_RM];
        UNROLL
        for (int r = 0; r < RM; r++) isum[0][r] = isum[1][r] = broadcast_i32_from_memory(&pr[r * nb + i].u.start);
        UNROLL
        for (int k = 0; k < 8; k++) {
            const __m512i x0 = _mm512_loadu_si512((const void *)(pb[0] + k * T * 4));
            const __m512i x1 = _mm512_loadu_si512((const void *)(pb[1] + k * T * 4));
            UNROLL
            for (int r = 0; r < RM; r++) {
                const __m512i wk = broadcast_i32_from_memory(&pr[r * nb + i].q[k]);
                isum[0][r] = _mm512_dpbusd_epi32(isum[0][r], x0, wk);
                isum[1][r] = _mm512_dpbusd_epi32(isum[1][r], x1, wk);
            }
        }
        UNROLL
        for (int h = 0; h < 2; h++) {
            const __m512 dx = _mm512_loadu_ps((const float *)(pb[h] + GROUP_Q_BYTES));
            UNROLL
            for (int r = 0; r < RM; r++) {
                const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(pr[r * nb + i].d), dx);
                sum[h][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[h][r]), scale, sum[h][r]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < RM; r++) {
        out[r] = sum[0][r];
        out[RM + r] = sum[1][r];
    }
}

static void q4_0_pair_x4(const void *prep, int64_t nb, const uint8_t *group, size_t group_bytes, __m512 *out) {
    q4_0_tile_pair(Q4_0_RM, prep, nb, group, group_bytes, out);
}

/* ---- K-quants · Q8_K (lane-8, sub-block scales applied in integers) ----
 *
 * Per super-block (256 elements, eight 32-element chunks c) the reference gives lane k the
 * integer sum over chunks c of scale(c, k) · (sum of q·x over elements 32c+4k..32c+4k+3).
 * Here vpmaddubsw forms each chunk's products with q + 128 in int16 pairs (|pair| <=
 * 2·255·32 < 2^15: never saturates), and vpdpwssd multiplies both halves of a pair by the
 * scale (held as the int16 pair (scale, scale)) and adds them to the lane's int32
 * accumulator. That starts at -128 · sum over c of scale(c, k) · (sum of the four quants),
 * computed once per row and super-block and shared by the 16 tokens: exact. */

#define KQ_GROUP_Q_BYTES (64 * T * 4)
#define KQ_BLOCK_BYTES (KQ_GROUP_Q_BYTES + T * sizeof(float) + 4 * T * 2 * sizeof(int16_t))

/* One weight row's super-block, ready for the token loop. */
typedef struct kq_row {
    _Alignas(64) int32_t q[64];   /* the quants, one signed byte each, in element order */
    int32_t scale[16];            /* (scale, scale) int16 pairs: per 32-element chunk (Q4_K) or 16 (Q6_K) */
    int32_t corr[8];              /* per lane k: -128 · sum of scale · the quants of lane k */
    int32_t min_pairs[4];         /* Q4_K: (min of chunk 2l, min of chunk 2l+1) int16 pairs */
    float d, dmin;                /* the super-block scales (dmin: Q4_K only) */
} kq_row;

/* corr[k] = -128 · sum over chunks c of scale(c, k) · (sum of the 4 quants of lane k in c).
 * Register j covers chunks 2j (lanes 0-7) and 2j+1 (lanes 8-15); lane m of it takes its
 * scale from r->scale[chunk_scale + j·step + m/div]: Q4_K (scale per chunk) step 2, div 8;
 * Q6_K (scale per 16 elements) step 4, div 4. */
static ALWAYS_INLINE void kq_corrections(kq_row *r, int step, int div) {
    const __m512i ones = _mm512_set1_epi8(1);   /* unsigned 1 · signed quant: pair sums */
    const __m512i scales = _mm512_loadu_si512((const void *)r->scale);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i lane_scale = div == 8 ? _mm512_srli_epi32(lane, 3) : _mm512_srli_epi32(lane, 2);
    __m512i t = _mm512_setzero_si512();
    for (int j = 0; j < 4; j++) {
        const __m512i sums = _mm512_maddubs_epi16(ones, _mm512_load_si512((const void *)(r->q + 16 * j)));
        const __m512i sc = _mm512_permutexvar_epi32(_mm512_add_epi32(lane_scale, _mm512_set1_epi32(step * j)), scales);
        t = _mm512_dpwssd_epi32(t, sums, sc);
    }
    const __m256i per_k = _mm256_add_epi32(_mm512_castsi512_si256(t), _mm512_extracti64x4_epi64(t, 1));
    _mm256_storeu_si256((__m256i *)r->corr, _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(per_k, 7)));
}

/* Q4_K: chunk 2j is the low nibbles of qs[32j..32j+31], chunk 2j+1 their high nibbles;
 * scale and min of chunk c from the 12 packed bytes (simd_kscales.h). The quants are
 * stored 64 bytes at a time, as kq_corrections reads them (a load spanning two smaller
 * stores cannot be forwarded from them and waits). */
static ALWAYS_INLINE void q4_K_prepare(const block_q4_K *b, kq_row *r) {
    const __m512i m = _mm512_set1_epi8(0x0F);
    for (int j = 0; j < 2; j++) {
        /* 64 bytes: chunks 4j (low nibbles of the first 32), 4j+1 (their high), 4j+2, 4j+3 */
        const __m512i v = _mm512_loadu_si512((const void *)(b->qs + 64 * j));
        const __m512i lo = _mm512_and_si512(v, m), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m);
        _mm512_store_si512((void *)(r->q + 32 * j), _mm512_shuffle_i64x2(lo, hi, _MM_SHUFFLE(1, 0, 1, 0)));
        _mm512_store_si512((void *)(r->q + 32 * j + 16), _mm512_shuffle_i64x2(lo, hi, _MM_SHUFFLE(3, 2, 3, 2)));
    }
    /* scales and mins as 8 bytes each, widened in registers: byte stores read back by a
     * vector load would stall store forwarding once per row and super-block */
    uint64_t sc8, mn8;
    simd_unpack_k4_scales_u64(b->scales, &sc8, &mn8);
    const __m512i sc = _mm512_cvtepu8_epi32(_mm_cvtsi64_si128((long long)sc8));
    _mm512_storeu_si512((void *)r->scale, _mm512_or_si512(sc, _mm512_slli_epi32(sc, 16)));
    _mm_storeu_si128((__m128i *)r->min_pairs, _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)mn8)));
    kq_corrections(r, 2, 8);
}

/* Q6_K: q = (4 low bits from ql | 2 high bits from qh) - 32. Half h (elements 128h..) is
 * chunks 4h..4h+3: the low nibbles of ql[64h..64h+63] give chunks 4h, 4h+1, their high
 * nibbles chunks 4h+2, 4h+3; the high bits of chunk 4h+j are bits 2j, 2j+1 of
 * qh[32h..32h+31]. One signed scale per 16 elements. */
static ALWAYS_INLINE void q6_K_prepare(const block_q6_K *b, kq_row *r) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(0x03), k32 = _mm512_set1_epi8(32);
    /* per-half shifts of the qh bytes: chunks (4h, 4h+1) use bits 0-1 / 2-3, (4h+2, 4h+3) 4-5 / 6-7 */
    const __m512i shift_lo = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
    const __m512i shift_hi = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
    for (int h = 0; h < 2; h++) {
        const __m512i ql = _mm512_loadu_si512((const void *)(b->ql + 64 * h));
        const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b->qh + 32 * h)));
        const __m512i hi_lo = _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, shift_lo), m2), 4);
        const __m512i hi_hi = _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, shift_hi), m2), 4);
        const __m512i q_lo = _mm512_sub_epi8(_mm512_or_si512(_mm512_and_si512(ql, m4), hi_lo), k32);
        const __m512i q_hi = _mm512_sub_epi8(_mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), hi_hi), k32);
        _mm512_store_si512((void *)(r->q + 32 * h), q_lo);
        _mm512_store_si512((void *)(r->q + 32 * h + 16), q_hi);
    }
    /* (scale, scale) int16 pairs: each sign-extended scale in both halves */
    const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)b->scales));
    _mm512_storeu_si512((void *)r->scale, _mm512_or_si512(_mm512_and_si512(sc, _mm512_set1_epi32(0xFFFF)),
                                                          _mm512_slli_epi32(sc, 16)));
    kq_corrections(r, 4, 4);
}

static void q4_K_prepare_rows(const uint8_t *w, size_t w_row_bytes, int64_t rows, int64_t nb, void *out) {
    kq_row *p = out;
    for (int64_t r = 0; r < rows; r++) {
        const block_q4_K *b = (const block_q4_K *)(w + (size_t)r * w_row_bytes);
        for (int64_t i = 0; i < nb; i++, p++) {
            q4_K_prepare(&b[i], p);
            p->d = x86_fp16_to_f32(b[i].d);
            p->dmin = x86_fp16_to_f32(b[i].dmin);
        }
    }
}

static void q6_K_prepare_rows(const uint8_t *w, size_t w_row_bytes, int64_t rows, int64_t nb, void *out) {
    kq_row *p = out;
    for (int64_t r = 0; r < rows; r++) {
        const block_q6_K *b = (const block_q6_K *)(w + (size_t)r * w_row_bytes);
        for (int64_t i = 0; i < nb; i++, p++) {
            q6_K_prepare(&b[i], p);
            p->d = x86_fp16_to_f32(b[i].d);
            p->dmin = 0.0f;
        }
    }
}

/* One row (the K-quant tiles are one row high: the integer accumulators of a second row
 * would not fit in the registers beside the float ones, and the vector port, not the
 * loads, bounds them). is_q4_K selects Q4_K (scale per chunk, mins) or Q6_K; prep is the
 * row's prepared super-blocks. */
/* The float accumulators of a one-row K-quant tile between two parts of its row. */
typedef struct kq_state {
    __m512 acc[8], accm[4];
} kq_state;

/* Super-blocks [i0, i1) of the row; the accumulators start at zero (first) or from *st,
 * and end in *st, or reduced in out[0] (last). The FMA chains are the same whether a row
 * runs in one part or several: each accumulator sees its blocks in order. */
static ALWAYS_INLINE void kq_tile_part(const int is_q4_K, const kq_row *prep, int64_t i0, int64_t i1,
                                       const uint8_t *group, kq_state *st, const bool first, const bool last,
                                       __m512 *out) {
    __m512 acc[8], accm[4];
    UNROLL
    for (int k = 0; k < 8; k++) acc[k] = first ? _mm512_setzero_ps() : st->acc[k];
    UNROLL
    for (int l = 0; l < 4; l++) accm[l] = first ? _mm512_setzero_ps() : st->accm[l];
    const __m512 sign = _mm512_set1_ps(-0.0f);
    for (int64_t i = i0; i < i1; i++) {
        const kq_row *row = &prep[i];
        const uint8_t *pb = group + (size_t)i * KQ_BLOCK_BYTES;
        const __m512 dx = _mm512_loadu_ps((const float *)(pb + KQ_GROUP_Q_BYTES));
        if (is_q4_K) {
            /* mins: fmaf(-d_x · dmin, mn(2l)·s(2l) + mn(2l+1)·s(2l+1), accm[l]), the pair
             * products and their sum exact in vpmaddwd */
            const __m512 dmin = _mm512_mul_ps(_mm512_xor_ps(dx, sign), _mm512_set1_ps(row->dmin));
            const int16_t *pairs = (const int16_t *)(pb + KQ_GROUP_Q_BYTES + T * sizeof(float));
            UNROLL
            for (int l = 0; l < 4; l++) {
                const __m512i prod = _mm512_madd_epi16(_mm512_loadu_si512((const void *)(pairs + 2 * T * l)),
                                                       broadcast_i32_from_memory(&row->min_pairs[l]));
                accm[l] = _mm512_fmadd_ps(dmin, _mm512_cvtepi32_ps(prod), accm[l]);
            }
        }
        const __m512 d = _mm512_mul_ps(dx, _mm512_set1_ps(row->d));
        /* chunk by chunk, the eight lanes' sums side by side: eight independent chains of
         * vpdpwssd rather than one chain at a time (exact integers: the order is free) */
        __m512i isum[8];
        UNROLL
        for (int k = 0; k < 8; k++) isum[k] = broadcast_i32_from_memory(&row->corr[k]);
        UNROLL
        for (int c = 0; c < 8; c++) {
            const __m512i sc_lo = broadcast_i32_from_memory(is_q4_K ? &row->scale[c] : &row->scale[2 * c]);
            const __m512i sc_hi = is_q4_K ? sc_lo : broadcast_i32_from_memory(&row->scale[2 * c + 1]);
            UNROLL
            for (int k = 0; k < 8; k++) {
                const __m512i xu = _mm512_loadu_si512((const void *)(pb + (8 * c + k) * T * 4));
                const __m512i s = _mm512_maddubs_epi16(xu, broadcast_i32_from_memory(&row->q[8 * c + k]));
                isum[k] = _mm512_dpwssd_epi32(isum[k], s, k < 4 ? sc_lo : sc_hi);
            }
        }
        UNROLL
        for (int k = 0; k < 8; k++) acc[k] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(isum[k]), acc[k]);
    }
    if (!last) {
        UNROLL
        for (int k = 0; k < 8; k++) st->acc[k] = acc[k];
        UNROLL
        for (int l = 0; l < 4; l++) st->accm[l] = accm[l];
        return;
    }
    __m512 sum = LANE8_SUM(acc);
    if (is_q4_K)
        sum = _mm512_add_ps(sum, _mm512_add_ps(_mm512_add_ps(accm[0], accm[2]), _mm512_add_ps(accm[1], accm[3])));
    out[0] = sum;
}

static ALWAYS_INLINE void kq_tile(const int is_q4_K, const kq_row *prep, int64_t nb, const uint8_t *group,
                                  __m512 *out) {
    kq_tile_part(is_q4_K, prep, 0, nb, group, NULL, true, true, out);
}

static void q4_K_x1(const uint8_t *w, size_t wrb, const void *prep, int64_t nb, const uint8_t *group, __m512 *out) {
    (void)w, (void)wrb;
    kq_tile(1, prep, nb, group, out);
}

static void q6_K_x1(const uint8_t *w, size_t wrb, const void *prep, int64_t nb, const uint8_t *group, __m512 *out) {
    (void)w, (void)wrb;
    kq_tile(0, prep, nb, group, out);
}

/* Part of a row (run_tiles_chunked): the four combinations of first and last, each
 * compiled with its own constants. */
#define KQ_PART(name, is_q4_K)                                                                                    \
    static void name(const void *prep, int64_t i0, int64_t i1, const uint8_t *group, kq_state *st, bool first, \
                     bool last, __m512 *out) {                                                                  \
        if (first && last)                                                                                      \
            kq_tile_part(is_q4_K, prep, i0, i1, group, st, true, true, out);                                    \
        else if (first)                                                                                         \
            kq_tile_part(is_q4_K, prep, i0, i1, group, st, true, false, out);                                   \
        else if (last)                                                                                          \
            kq_tile_part(is_q4_K, prep, i0, i1, group, st, false, true, out);                                   \
        else                                                                                                    \
            kq_tile_part(is_q4_K, prep, i0, i1, group, st, false, false, out);                                  \
    }
KQ_PART(q4_K_part, 1)
KQ_PART(q6_K_part, 0)
#undef KQ_PART

/* ---- F32 · F32 (lane-16, or the untiled order for rows not a multiple of 16) ----
 *
 * Float products need no panel transposition: the activation rows are used as they are,
 * and a tile is F32_RM rows × F32_RN tokens with one accumulator register per (row, token)
 * whose lane l takes the elements with index mod 16 == l: the lane-16 order itself. Each
 * weight vector is loaded once per F32_RN tokens and each activation vector once per
 * F32_RM rows; at the end every register is reduced in the lane-16 tree.
 *
 * Rows whose length is not a multiple of 16 follow the engine's other order
 * (sealm_f32_vec_dot_untiled, quant_float.c): four accumulators per (row, token) over whole
 * 64-element steps, folded lane by lane as (a0 + a2) + (a1 + a3), reduced as lane-16, then
 * the tail added one rounded product at a time (model.c picks that order by the same test). */

enum { F32_RM = 4, F32_RN = 4, F32U_RM = 2, F32U_RN = 2 };

/* The lane-16 reduction of quant_ref.h: a_k = v[k] + v[k+8], b_k = a_k + a_{k+4},
 * (b0 + b2) + (b1 + b3). */
static ALWAYS_INLINE float lane16_reduce(__m512 v) {
    const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));   /* b0 + b2, b1 + b3 */
    return _mm_cvtss_f32(_mm_add_ss(c, _mm_shuffle_ps(c, c, 1)));
}

/* s[r][t] = the lane-16 dot of rows w + r·w_stride and x + t·x_stride (strides in floats). */
static ALWAYS_INLINE void f32_tile(const int RM, const int RN, const float *w, int64_t w_stride, const float *x,
                                   int64_t x_stride, int64_t cols, float s[F32_RM][F32_RN]) {
    __m512 acc[F32_RM][F32_RN];
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int t = 0; t < RN; t++) acc[r][t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < cols; i += 16) {
        __m512 wv[F32_RM];
        UNROLL
        for (int r = 0; r < RM; r++) wv[r] = _mm512_loadu_ps(w + r * w_stride + i);
        UNROLL
        for (int t = 0; t < RN; t++) {
            const __m512 xv = _mm512_loadu_ps(x + t * x_stride + i);
            UNROLL
            for (int r = 0; r < RM; r++) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int t = 0; t < RN; t++) s[r][t] = lane16_reduce(acc[r][t]);
}

/* The same in the untiled order (cols not a multiple of 16). */
static ALWAYS_INLINE void f32u_tile(const int RM, const int RN, const float *w, int64_t w_stride, const float *x,
                                    int64_t x_stride, int64_t cols, float s[F32_RM][F32_RN]) {
    __m512 acc[F32U_RM][F32U_RN][4];
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int t = 0; t < RN; t++)
            UNROLL
            for (int j = 0; j < 4; j++) acc[r][t][j] = _mm512_setzero_ps();
    const int64_t body = cols & ~(int64_t)63;
    for (int64_t i = 0; i < body; i += 64)
        UNROLL
        for (int j = 0; j < 4; j++) {
            __m512 wv[F32U_RM];
            UNROLL
            for (int r = 0; r < RM; r++) wv[r] = _mm512_loadu_ps(w + r * w_stride + i + 16 * j);
            UNROLL
            for (int t = 0; t < RN; t++) {
                const __m512 xv = _mm512_loadu_ps(x + t * x_stride + i + 16 * j);
                UNROLL
                for (int r = 0; r < RM; r++) acc[r][t][j] = _mm512_fmadd_ps(wv[r], xv, acc[r][t][j]);
            }
        }
    float sum[F32U_RM][F32U_RN];
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int t = 0; t < RN; t++)
            sum[r][t] = lane16_reduce(_mm512_add_ps(_mm512_add_ps(acc[r][t][0], acc[r][t][2]),
                                                    _mm512_add_ps(acc[r][t][1], acc[r][t][3])));
    /* the tail: rounded product, then the add (the build never contracts them); the tile's
     * chains are independent, so they interleave */
    for (int64_t i = body; i < cols; i++)
        UNROLL
        for (int r = 0; r < RM; r++)
            UNROLL
            for (int t = 0; t < RN; t++) {
                const float p = w[r * w_stride + i] * x[t * x_stride + i];
                sum[r][t] += p;
            }
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int t = 0; t < RN; t++) s[r][t] = sum[r][t];
}

typedef void (*f32_tile_fn)(const float *w, int64_t w_stride, const float *x, int64_t x_stride, int64_t cols,
                            float s[F32_RM][F32_RN]);

#define F32_VARIANT(name, rm, rn)                                                                            \
    static void name##_##rm##x##rn(const float *w, int64_t ws, const float *x, int64_t xs, int64_t cols,     \
                                   float s[F32_RM][F32_RN]) {                                                \
        name##_tile(rm, rn, w, ws, x, xs, cols, s);                                                          \
    }
F32_VARIANT(f32, 4, 4)
F32_VARIANT(f32, 4, 1)
F32_VARIANT(f32, 1, 4)
F32_VARIANT(f32, 1, 1)
F32_VARIANT(f32u, 2, 2)
F32_VARIANT(f32u, 2, 1)
F32_VARIANT(f32u, 1, 2)
F32_VARIANT(f32u, 1, 1)
#undef F32_VARIANT

/* The panel of F32 activations is the rows themselves (gemm.h). Rows are walked in panels
 * of about ROW_PANEL_BYTES; within one, every token against every tile of rows. */
static void gemm_f32_avx512(int64_t cols, int64_t r0, int64_t r1, const void *w, size_t w_row_bytes,
                            const void *panel, int32_t n_tokens, float *y, int64_t y_stride, const float *bias) {
    const int lane16 = cols % 16 == 0;
    const int RM = lane16 ? F32_RM : F32U_RM, RN = lane16 ? F32_RN : F32U_RN;
    const f32_tile_fn many = lane16 ? f32_4x4 : f32u_2x2, rows_one = lane16 ? f32_4x1 : f32u_2x1,
                      one_tokens = lane16 ? f32_1x4 : f32u_1x2, one = lane16 ? f32_1x1 : f32u_1x1;
    const int64_t w_stride = (int64_t)(w_row_bytes / sizeof(float));
    const float *x = panel;
    int64_t panel_rows = (int64_t)(ROW_PANEL_BYTES / w_row_bytes) / RM * RM;
    if (panel_rows < RM) panel_rows = RM;
    for (int64_t p0 = r0; p0 < r1; p0 += panel_rows) {
        const int64_t p1 = p0 + panel_rows < r1 ? p0 + panel_rows : r1;
        for (int32_t t = 0; t < n_tokens; t += RN) {
            const int nt = n_tokens - t < RN ? n_tokens - t : RN;
            for (int64_t r = p0; r < p1; r += RM) {
                const int nr = p1 - r < RM ? (int)(p1 - r) : RM;
                const float *wr = (const float *)w + r * w_stride, *xt = x + (int64_t)t * cols;
                float s[F32_RM][F32_RN], e[F32_RM][F32_RN];
                if (nr == RM && nt == RN) {
                    many(wr, w_stride, xt, cols, cols, s);
                } else if (nr == RM) {   /* the last tokens: one at a time */
                    for (int k = 0; k < nt; k++) {
                        rows_one(wr, w_stride, xt + k * cols, cols, cols, e);
                        for (int j = 0; j < RM; j++) s[j][k] = e[j][0];
                    }
                } else if (nt == RN) {   /* the last rows: one at a time */
                    for (int j = 0; j < nr; j++) {
                        one_tokens(wr + j * w_stride, w_stride, xt, cols, cols, e);
                        for (int k = 0; k < RN; k++) s[j][k] = e[0][k];
                    }
                } else {
                    for (int j = 0; j < nr; j++)
                        for (int k = 0; k < nt; k++) {
                            one(wr + j * w_stride, w_stride, xt + k * cols, cols, cols, e);
                            s[j][k] = e[0][0];
                        }
                }
                for (int k = 0; k < nt; k++)
                    for (int j = 0; j < nr; j++)
                        y[(int64_t)(t + k) * y_stride + r + j] = s[j][k] + (bias ? bias[r + j] : 0.0f);
            }
        }
    }
}

/* ---- the drivers: row panels, token groups, tiles ---- */

typedef void (*tile_fn)(const uint8_t *w, size_t w_row_bytes, const void *prep, int64_t nb, const uint8_t *group,
                        __m512 *out);
/* Fills the prepared blocks of rows consecutive weight rows, row after row (nb blocks each). */
typedef void (*prepare_fn)(const uint8_t *w, size_t w_row_bytes, int64_t rows, int64_t nb, void *out);

/* A one-row tile over blocks [i0, i1) of its row, its accumulators kept in *st between
 * parts (first: start from zero; last: reduce into out[0]). */
typedef void (*tile_part_fn)(const void *prep, int64_t i0, int64_t i1, const uint8_t *group, kq_state *st,
                             bool first, bool last, __m512 *out);

/* A tile of rm rows over two token groups (group, group + group_bytes); out[2·rm]. */
typedef void (*tile_pair_fn)(const void *prep, int64_t nb, const uint8_t *group, size_t group_bytes, __m512 *out);

/* One type's kernels: tiles of rm rows and of one, and how its weight rows are prepared;
 * many_pair (or NULL) runs the rm-row tile over two token groups at once. */
typedef struct tile_kernels {
    int rm;
    tile_fn many, one;
    tile_pair_fn many_pair;
    prepare_fn prepare;
    size_t prep_bytes;           /* per block */
    int64_t block_elems;
    size_t panel_block_bytes;    /* per block of a token group */
    tile_part_fn part;           /* one-row tiles over part of a row, or NULL (run_tiles_chunked) */
} tile_kernels;

/* The prepared rows of a row panel, as whichever record type the kernels use. */
typedef union prep_buffer {
    kq_row kq[PREP_BYTES / sizeof(kq_row)];
    q4_prep q4[PREP_BYTES / sizeof(q4_prep)];
    q8_0_prep q8_0[PREP_BYTES / sizeof(q8_0_prep)];
} prep_buffer;

/* The results of rows [r, r + rm) for the token group starting at t0 (bias added). */
static inline void store_rows(float *y, int64_t y_stride, int64_t r, int rm, int32_t t0, int32_t n_tokens,
                              const __m512 *out, const float *bias) {
    const int valid = n_tokens - t0 < T ? n_tokens - t0 : T;
    float b[8];
    for (int k = 0; k < rm; k++) b[k] = bias ? bias[r + k] : 0.0f;
    if (valid == T && rm == 4)
        store_tile4(y, y_stride, r, t0, out, b);
    else if (valid == T && rm == 2)
        store_tile2(y, y_stride, r, t0, out, b);
    else
        for (int k = 0; k < rm; k++) store_tokens(y, y_stride, r + k, t0, valid, out[k], b[k]);
}

/* Long K-quant rows (TinyLlama's feed-forward down product: 22 super-blocks, a token
 * group's activations 97 KiB) no longer let a token group's panel stay in L1 while the
 * rows of a row panel read it one after another, and the one-row tiles then wait on L2.
 * Rows of more than KQ_PART_BLOCKS super-blocks run in equal parts of at most that many
 * (35 KiB of activations): for each part, every row of the panel in turn, with its
 * accumulators parked in a kq_state between parts. Measured on one thread (512 rows, 128
 * tokens), Q4_K at 5632 columns: 66-68 GMAC/s in one part per row, 84-89 in three parts;
 * 2048 columns (8 super-blocks, one part) 81-94. */
enum { KQ_PART_BLOCKS = 8, KQ_PART_MAX_ROWS = 32 };

static void run_tiles_chunked(const tile_kernels *kn, int64_t cols, int64_t r0, int64_t r1, const void *w,
                              size_t w_row_bytes, const void *panel, int32_t n_tokens, float *y, int64_t y_stride,
                              const float *bias) {
    const int64_t nb = cols / kn->block_elems;
    const size_t group_bytes = (size_t)nb * kn->panel_block_bytes;
    const int32_t groups = (n_tokens + T - 1) / T;
    prep_buffer buffer;
    uint8_t *prep = (uint8_t *)&buffer;
    const size_t prep_row = (size_t)nb * kn->prep_bytes;
    int64_t panel_rows = (int64_t)(sizeof buffer / prep_row);
    if (panel_rows > KQ_PART_MAX_ROWS) panel_rows = KQ_PART_MAX_ROWS;
    if (panel_rows < 1) panel_rows = 1;
    kq_state state[KQ_PART_MAX_ROWS];
    /* parts of equal size, at most KQ_PART_BLOCKS each */
    const int64_t n_parts = (nb + KQ_PART_BLOCKS - 1) / KQ_PART_BLOCKS;
    const int64_t part_blocks = (nb + n_parts - 1) / n_parts;
    __m512 out[1];
    for (int64_t p0 = r0; p0 < r1; p0 += panel_rows) {
        const int64_t p1 = p0 + panel_rows < r1 ? p0 + panel_rows : r1;
        kn->prepare((const uint8_t *)w + (size_t)p0 * w_row_bytes, w_row_bytes, p1 - p0, nb, prep);
        for (int32_t g = 0; g < groups; g++) {
            const uint8_t *group = (const uint8_t *)panel + (size_t)g * group_bytes;
            for (int64_t i0 = 0; i0 < nb; i0 += part_blocks) {
                const int64_t i1 = i0 + part_blocks < nb ? i0 + part_blocks : nb;
                for (int64_t r = p0; r < p1; r++) {
                    kn->part(prep + (size_t)(r - p0) * prep_row, i0, i1, group, &state[r - p0], i0 == 0, i1 == nb,
                             out);
                    if (i1 == nb) store_rows(y, y_stride, r, 1, g * T, n_tokens, out, bias);
                }
            }
        }
    }
}

static void run_tiles(const tile_kernels *kn, int64_t cols, int64_t r0, int64_t r1, const void *w, size_t w_row_bytes,
                      const void *panel, int32_t n_tokens, float *y, int64_t y_stride, const float *bias) {
    if (kn->part && cols / kn->block_elems > KQ_PART_BLOCKS) {
        run_tiles_chunked(kn, cols, r0, r1, w, w_row_bytes, panel, n_tokens, y, y_stride, bias);
        return;
    }
    const int RM = kn->rm;
    const int64_t nb = cols / kn->block_elems;
    const size_t group_bytes = (size_t)nb * kn->panel_block_bytes;
    const int32_t groups = (n_tokens + T - 1) / T;
    /* as many rows as the prepared buffer holds, within the weight panel, in whole tiles
     * where at least one fits (SEALM_GEMM_MAX_COLS keeps one row within it) */
    prep_buffer buffer;
    uint8_t *prep = (uint8_t *)&buffer;
    int64_t panel_rows = (int64_t)(sizeof buffer / ((size_t)nb * kn->prep_bytes));
    const int64_t weight_rows = (int64_t)(ROW_PANEL_BYTES / w_row_bytes);
    if (weight_rows < panel_rows) panel_rows = weight_rows;
    if (panel_rows >= RM) panel_rows = panel_rows / RM * RM;
    if (panel_rows < 1) panel_rows = 1;
    const uint8_t *wbase = w;
    const size_t prep_row = (size_t)nb * kn->prep_bytes;
    for (int64_t p0 = r0; p0 < r1; p0 += panel_rows) {
        const int64_t p1 = p0 + panel_rows < r1 ? p0 + panel_rows : r1;
        kn->prepare(wbase + (size_t)p0 * w_row_bytes, w_row_bytes, p1 - p0, nb, prep);
        for (int32_t g = 0; g < groups;) {
            const uint8_t *group = (const uint8_t *)panel + (size_t)g * group_bytes;
            const int32_t t0 = g * T;
            /* two groups per tile where the type has it: the second may be a partial one */
            const int n_groups = kn->many_pair && g + 1 < groups ? 2 : 1;
            int64_t r = p0;
            __m512 out[16];
            for (; r + RM <= p1; r += RM) {
                const uint8_t *wr = wbase + (size_t)r * w_row_bytes;
                const void *pr = prep + (size_t)(r - p0) * prep_row;
                if (n_groups == 2)
                    kn->many_pair(pr, nb, group, group_bytes, out);
                else
                    kn->many(wr, w_row_bytes, pr, nb, group, out);
                for (int h = 0; h < n_groups; h++)
                    store_rows(y, y_stride, r, RM, t0 + h * T, n_tokens, out + h * RM, bias);
            }
            for (; r < p1; r++)
                for (int h = 0; h < n_groups; h++) {
                    kn->one(wbase + (size_t)r * w_row_bytes, w_row_bytes, prep + (size_t)(r - p0) * prep_row, nb,
                            group + (size_t)h * group_bytes, out);
                    store_rows(y, y_stride, r, 1, t0 + h * T, n_tokens, out, bias);
                }
            g += n_groups;
        }
    }
}

#define TILE_VARIANT(name, rm)                                                                                   \
    static void name##_x##rm(const uint8_t *w, size_t wrb, const void *prep, int64_t nb, const uint8_t *group,  \
                             __m512 *out) {                                                                      \
        name##_tile(rm, w, wrb, prep, nb, group, out);                                                           \
    }
TILE_VARIANT(q8_0, 2)
TILE_VARIANT(q8_0, 1)
TILE_VARIANT(q4_1, 2)
TILE_VARIANT(q4_1, 1)
TILE_VARIANT(q4_0, 4)
TILE_VARIANT(q4_0, 1)
#undef TILE_VARIANT

_Static_assert(sizeof(kq_row) * (SEALM_GEMM_MAX_COLS / QK_K) <= PREP_BYTES &&
                   sizeof(q4_prep) * (SEALM_GEMM_MAX_COLS / 32) <= PREP_BYTES &&
                   sizeof(q8_0_prep) * (SEALM_GEMM_MAX_COLS / 32) <= PREP_BYTES,
               "one prepared row of SEALM_GEMM_MAX_COLS elements must fit the buffer");

static const tile_kernels q8_0_kernels = {LANE8_RM, q8_0_x2, q8_0_x1, NULL, q8_0_prepare, sizeof(q8_0_prep), 32,
                                          GROUP_Q_BYTES + T * sizeof(float), NULL};
static const tile_kernels q4_1_kernels = {LANE8_RM, q4_1_x2, q4_1_x1, NULL, q4_1_prepare, sizeof(q4_prep), 32,
                                          GROUP_Q_BYTES + 2 * T * sizeof(float), NULL};
static const tile_kernels q4_0_kernels = {Q4_0_RM, q4_0_x4, q4_0_x1, q4_0_pair_x4, q4_0_prepare, sizeof(q4_prep), 32,
                                          GROUP_Q_BYTES + T * sizeof(float), NULL};
static const tile_kernels q4_K_kernels = {1, q4_K_x1, q4_K_x1, NULL, q4_K_prepare_rows, sizeof(kq_row), QK_K,
                                          KQ_BLOCK_BYTES, q4_K_part};
static const tile_kernels q6_K_kernels = {1, q6_K_x1, q6_K_x1, NULL, q6_K_prepare_rows, sizeof(kq_row), QK_K,
                                          KQ_BLOCK_BYTES, q6_K_part};

/* The table's gemm entry of one type: the shared tile loop over that type's kernels. */
#define GEMM_ENTRY(T)                                                                               \
    static void gemm_##T##_avx512(int64_t cols, int64_t r0, int64_t r1, const void *w, size_t w_row_bytes, \
                                  const void *panel, int32_t n_tokens, float *y, int64_t y_stride,  \
                                  const float *bias) {                                              \
        run_tiles(&T##_kernels, cols, r0, r1, w, w_row_bytes, panel, n_tokens, y, y_stride, bias);  \
    }
GEMM_ENTRY(q8_0)
GEMM_ENTRY(q4_1)
GEMM_ENTRY(q4_0)
GEMM_ENTRY(q4_K)
GEMM_ENTRY(q6_K)
#undef GEMM_ENTRY

void sealm_gemm_install_avx512(sealm_type_traits table[SEALM_TYPE_COUNT]) {
    table[SEALM_TYPE_F32].gemm = gemm_f32_avx512;
    table[SEALM_TYPE_Q4_K].gemm = gemm_q4_K_avx512;
    table[SEALM_TYPE_Q6_K].gemm = gemm_q6_K_avx512;
    table[SEALM_TYPE_Q8_0].gemm = gemm_q8_0_avx512;
    table[SEALM_TYPE_Q4_1].gemm = gemm_q4_1_avx512;
    table[SEALM_TYPE_Q4_0].gemm = gemm_q4_0_avx512;
}
