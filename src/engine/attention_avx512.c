/* The attention kernels (attention.h) with AVX-512: one zmm register holds a whole 16-key
 * (q·k) or 16-element (p·V) block, so each of the sixteen lane-16 chains is one register
 * and the pinned tree is fifteen vertical adds; and the softmax with sealm_expf on 16
 * lanes. Compiled with the AVX-512 flags only (CMakeLists.txt); cpu.c installs the kernels
 * after checking the CPU. Bit-identical to sealm_attn_scores_ref, sealm_attn_pv_ref and
 * sealm_attn_softmax_ref (tests/engine/test_attention.c). */
#include "engine/attention.h"
#include "engine/expf_x86.h"
#include "engine/mathfn.h"
#include "engine/quant_simd.h"

#include <immintrin.h>

/* sealm_lane16_sum's tree applied lane by lane to sixteen chains m[0..15]:
 * a_k = m_{k+8} + m_k, b_k = a_{k+4} + a_k, (b_0 + b_2) + (b_1 + b_3). */
static inline __m512 lane16_tree(const __m512 m[16]) {
    __m512 a[8], b[4];
    for (int k = 0; k < 8; k++) a[k] = _mm512_add_ps(m[k + 8], m[k]);
    for (int k = 0; k < 4; k++) b[k] = _mm512_add_ps(a[k + 4], a[k]);
    return _mm512_add_ps(_mm512_add_ps(b[0], b[2]), _mm512_add_ps(b[1], b[3]));
}

/* One key tile against nqb queries (1..4, a constant where inlined). Chain i of the tile
 * takes the elements e ≡ i (mod 16) in order, one register per chain, lane l for key l.
 * The chains run a quarter at a time — i = k, k+4, k+8, k+12 in pass k, exactly the ones
 * whose tree combines into b_k = (m_{k+12} + m_{k+4}) + (m_{k+8} + m_k) — so that each
 * tile row is loaded once for all the queries: 4 rows and 4·nqb broadcasts per 4·nqb FMAs
 * instead of two loads per FMA (a loop of one broadcast and one row load per FMA runs at
 * about 60% of the FMA rate on this machine's cores). */
static inline __attribute__((always_inline)) void scores_tile(int nqb, const float *q, int hd, const float *tile,
                                                              __m512 vscale, float *scores, int64_t scores_stride) {
    __m512 b[4][4];   /* [query][k] */
    for (int k = 0; k < 4; k++) {
        __m512 m[4][4];   /* [query][chain k + 4c] */
        for (int qq = 0; qq < nqb; qq++)
            for (int c = 0; c < 4; c++) m[qq][c] = _mm512_setzero_ps();
        for (int e0 = 0; e0 < hd; e0 += 16) {
            __m512 rows[4];
            for (int c = 0; c < 4; c++) rows[c] = _mm512_loadu_ps(tile + (size_t)(e0 + k + 4 * c) * 16);
            for (int qq = 0; qq < nqb; qq++) {
                const float *qe = q + (size_t)qq * (size_t)hd + e0 + k;
                for (int c = 0; c < 4; c++) m[qq][c] = _mm512_fmadd_ps(_mm512_set1_ps(qe[4 * c]), rows[c], m[qq][c]);
            }
        }
        for (int qq = 0; qq < nqb; qq++)
            b[qq][k] = _mm512_add_ps(_mm512_add_ps(m[qq][3], m[qq][1]), _mm512_add_ps(m[qq][2], m[qq][0]));
    }
    for (int qq = 0; qq < nqb; qq++) {
        const __m512 sum = _mm512_add_ps(_mm512_add_ps(b[qq][0], b[qq][2]), _mm512_add_ps(b[qq][1], b[qq][3]));
        _mm512_storeu_ps(scores + qq * scores_stride, _mm512_mul_ps(sum, vscale));
    }
}

/* Each tile is loaded once per block and used by all nq queries while it is in L1. */
static void attn_scores_avx512(int nq, const float *q, int hd, const float *kt, int32_t n_keys, float scale,
                               float *scores, int64_t scores_stride) {
    const int32_t n_blocks = (n_keys + 15) / 16;
    const __m512 vscale = _mm512_set1_ps(scale);
    for (int32_t b = 0; b < n_blocks; b++) {
        const float *tile = kt + (size_t)b * (size_t)hd * 16;
        float *out = scores + (int64_t)b * 16;
        int k = 0;
        for (; k + 4 <= nq; k += 4)
            scores_tile(4, q + (size_t)k * (size_t)hd, hd, tile, vscale, out + k * scores_stride, scores_stride);
        const float *qk = q + (size_t)k * (size_t)hd;
        switch (nq - k) {
        case 3: scores_tile(3, qk, hd, tile, vscale, out + k * scores_stride, scores_stride); break;
        case 2: scores_tile(2, qk, hd, tile, vscale, out + k * scores_stride, scores_stride); break;
        case 1: scores_tile(1, qk, hd, tile, vscale, out + k * scores_stride, scores_stride); break;
        default: break;
        }
    }
}

/* p·V for one block of 16 output elements. Chain i takes the keys j ≡ i (mod 16) in order,
 * one register per chain, lane l for element l; a query's sixteen chains live in its
 * `state` rows between the steps below, and the tree runs once at its end.
 *
 * Queries go four at a time, and the chains a quarter at a time (i = k, k+4, k+8, k+12 in
 * pass k): each value row is then loaded once for the four queries, 4 rows and 16
 * broadcasts per 16 FMAs instead of two loads per FMA. That runs over the whole 16-key
 * blocks every query of the four needs; each query then finishes its own last keys alone
 * (a partial block extends only its own chains, as the lane-16 dot's partial last chunk
 * does). Keys go in chunks of PV_CHUNK_KEYS, so that a chunk's rows (64 bytes a key) and
 * the queries' weights for it serve every query from L1; a chunk is a multiple of 16
 * keys, so chain i stays chain i. */
enum { PV_CHUNK_KEYS = 256 };

/* Pass k over keys [j0, j1) (whole 16-key blocks from a multiple of 16) for nqb queries
 * (1..4, a constant where inlined). */
static inline __attribute__((always_inline)) void pv_pass(int nqb, int k, const float *const *p, const float *rows,
                                                          int32_t j0, int32_t j1, float (*state)[16][16]) {
    __m512 m[4][4];   /* [query][chain k + 4c]; chains start at zero with key 0 */
    for (int qq = 0; qq < nqb; qq++)
        for (int c = 0; c < 4; c++) m[qq][c] = j0 == 0 ? _mm512_setzero_ps() : _mm512_load_ps(state[qq][k + 4 * c]);
    for (int32_t j = j0 + k; j < j1; j += 16) {
        __m512 r[4];
        for (int c = 0; c < 4; c++) r[c] = _mm512_loadu_ps(rows + (size_t)(j + 4 * c) * 16);
        for (int qq = 0; qq < nqb; qq++)
            for (int c = 0; c < 4; c++) m[qq][c] = _mm512_fmadd_ps(_mm512_set1_ps(p[qq][j + 4 * c]), r[c], m[qq][c]);
    }
    for (int qq = 0; qq < nqb; qq++)
        for (int c = 0; c < 4; c++) _mm512_store_ps(state[qq][k + 4 * c], m[qq][c]);
}

static void pv_passes(int nqb, const float *const *p, const float *rows, int32_t j0, int32_t j1, float (*state)[16][16]) {
    for (int k = 0; k < 4; k++) {
        switch (nqb) {
        case 4: pv_pass(4, k, p, rows, j0, j1, state); break;
        case 3: pv_pass(3, k, p, rows, j0, j1, state); break;
        case 2: pv_pass(2, k, p, rows, j0, j1, state); break;
        default: pv_pass(1, k, p, rows, j0, j1, state); break;
        }
    }
}

/* One query's keys [j0, j1), j0 a multiple of 16: all sixteen chains at once. */
static void pv_single(const float *pk, const float *rows, int32_t j0, int32_t j1, float state[16][16]) {
    __m512 m[16];
    for (int i = 0; i < 16; i++) m[i] = j0 == 0 ? _mm512_setzero_ps() : _mm512_load_ps(state[i]);
    int32_t j = j0;
    for (; j + 16 <= j1; j += 16)
        for (int i = 0; i < 16; i++)
            m[i] = _mm512_fmadd_ps(_mm512_set1_ps(pk[j + i]), _mm512_loadu_ps(rows + (size_t)(j + i) * 16), m[i]);
    const int32_t left = j1 - j;
    for (int i = 0; i < 16; i++)
        if (i < left) m[i] = _mm512_fmadd_ps(_mm512_set1_ps(pk[j + i]), _mm512_loadu_ps(rows + (size_t)(j + i) * 16), m[i]);
    for (int i = 0; i < 16; i++) _mm512_store_ps(state[i], m[i]);
}

static void attn_pv_avx512(int nq, const float *p, int64_t p_stride, const float *vb, int64_t vb_stride,
                           const int32_t *n_keys, int hd, float *const *out) {
    _Alignas(64) float state[SEALM_ATTN_MAX_QUERIES][16][16];
    const float *prow[SEALM_ATTN_MAX_QUERIES];
    int32_t n_max = 0;
    for (int k = 0; k < nq; k++) {
        prow[k] = p + k * p_stride;
        n_max = n_keys[k] > n_max ? n_keys[k] : n_max;
    }
    for (int eb = 0; eb < hd / 16; eb++) {
        const float *rows = vb + eb * vb_stride;
        for (int32_t c0 = 0; c0 < n_max; c0 += PV_CHUNK_KEYS) {
            const int32_t c1 = c0 + PV_CHUNK_KEYS;
            for (int g = 0; g < nq; g += 4) {
                const int nqb = nq - g < 4 ? nq - g : 4;
                int32_t n_min = n_keys[g];
                for (int qq = 1; qq < nqb; qq++) n_min = n_keys[g + qq] < n_min ? n_keys[g + qq] : n_min;
                const int32_t shared_end = n_min & ~15;   /* whole blocks all four need */
                const int32_t j1 = c1 < shared_end ? c1 : shared_end;
                if (c0 < j1) pv_passes(nqb, prow + g, rows, c0, j1, state + g);
                for (int qq = 0; qq < nqb; qq++) {
                    const int32_t from = c0 > shared_end ? c0 : shared_end;
                    const int32_t to = c1 < n_keys[g + qq] ? c1 : n_keys[g + qq];
                    if (from < to) pv_single(prow[g + qq], rows, from, to, state[g + qq]);
                }
            }
        }
        for (int k = 0; k < nq; k++) {
            __m512 m[16];
            for (int i = 0; i < 16; i++) m[i] = _mm512_load_ps(state[k][i]);
            _mm512_storeu_ps(out[k] + eb * 16, lane16_tree(m));
        }
    }
}

/* The pinned 16-lane tree of one register (sealm_lane16_sum): lanes 8..15 onto 0..7, then
 * the lane-8 order. */
static inline float lane16_sum_x16(__m512 v) {
    const __m256 a = _mm256_add_ps(_mm512_extractf32x8_ps(v, 1), _mm512_castps512_ps256(v));
    __m128 b = _mm_add_ps(_mm256_extractf128_ps(a, 1), _mm256_castps256_ps128(a));   /* b_k = a_{k+4} + a_k */
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));                                           /* b0 + b2, b1 + b3 */
    return _mm_cvtss_f32(_mm_add_ss(b, _mm_movehdup_ps(b)));
}

static inline __mmask16 lanes_below(int32_t left) {   /* the first min(left, 16) lanes */
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
}

/* Max, exps with their chunk sums, normalization and the F16 rounding, 16 scores a step.
 * The max is taken per lane, then across lanes: the same value as the scalar scan (a tie
 * between +0 and -0 may pick the other zero, which changes no exp: x - (±0) rounds to
 * the same value, and sealm_expf(±0) = 1). */
static void attn_softmax_avx512(float *scores, int32_t n, sealm_fp16 *p16) {
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (int32_t j = 0; j < n; j += 16) {
        const __mmask16 m = lanes_below(n - j);
        vmax = _mm512_max_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), m, scores + j), vmax);
    }
    const float max = _mm512_reduce_max_ps(vmax);
    const __m512 vm = _mm512_set1_ps(max);
    double sum = 0.0;
    for (int32_t c = 0; c < n; c += 16) {
        const __mmask16 m = lanes_below(n - c);
        __m512 e;
        const __mmask16 other = expf_x16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, scores + c), vm), &e) & m;
        if (other) {
            float chunk[16] = {0};
            for (int32_t j = c; j < n && j < c + 16; j++) chunk[j - c] = sealm_expf(scores[j] - max);
            e = _mm512_loadu_ps(chunk);
        }
        e = _mm512_maskz_mov_ps(m, e);   /* the chunk's missing lanes count as zeros */
        _mm512_mask_storeu_ps(scores + c, m, e);
        sum += (double)lane16_sum_x16(e);
    }
    const __m512 inv = _mm512_set1_ps((float)(1.0 / sum));
    for (int32_t j = 0; j < n; j += 16) {
        const __mmask16 m = lanes_below(n - j);
        const __m512 w = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, scores + j), inv);
        const __m256i h = _mm512_cvtps_ph(w, _MM_FROUND_TO_NEAREST_INT);
        _mm256_mask_storeu_epi16(p16 + j, m, h);
        _mm512_mask_storeu_ps(scores + j, m, _mm512_cvtph_ps(h));
    }
}

/* ---- grouped kernels: straight from the F16 cache, one KV head's heads together ---- */

/* Sixteen lane-16 chain registers acc[l] (l: a key or an output element) reduced to one
 * register whose lane l is sealm_lane16_sum of acc[l]'s lanes. The tree's three folds
 * (lanes k + 8 onto k, then k + 4 onto k, then (b0 + b2) + (b1 + b3)) are done on pairs of
 * registers at once, each fold's shuffles gathering the halves that add, so that sixteen
 * sums cost 15 adds and 30 shuffles instead of sixteen horizontal reductions. The adds are
 * the tree's adds (only their operand order may be swapped, which IEEE addition ignores). */
static inline __m512 transposed_tree16(const __m512 acc[16]) {
    __m512 a[8], b[4], c[2];
    /* a[m]: keys 2m | 2m+1, lanes k of a 256-bit half = their a_k = x_{k+8} + x_k */
    for (int m = 0; m < 8; m++)
        a[m] = _mm512_add_ps(_mm512_shuffle_f32x4(acc[2 * m], acc[2 * m + 1], 0x44),
                             _mm512_shuffle_f32x4(acc[2 * m], acc[2 * m + 1], 0xEE));
    /* b[n]: 128-bit lane r holds key 4n + r's b_0..b_3 (b_k = a_{k+4} + a_k) */
    for (int n = 0; n < 4; n++)
        b[n] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * n], a[2 * n + 1], 0x88),
                             _mm512_shuffle_f32x4(a[2 * n], a[2 * n + 1], 0xDD));
    /* c[p]: 128-bit lane r holds (b0 + b2, b1 + b3) of keys 8p + r and 8p + 4 + r */
    for (int p = 0; p < 2; p++)
        c[p] = _mm512_add_ps(_mm512_shuffle_ps(b[2 * p], b[2 * p + 1], 0x44),
                             _mm512_shuffle_ps(b[2 * p], b[2 * p + 1], 0xEE));
    /* lane 4r + i holds key 4i + r's sum; the permute puts key l in lane l */
    const __m512 sums = _mm512_add_ps(_mm512_shuffle_ps(c[0], c[1], 0x88), _mm512_shuffle_ps(c[0], c[1], 0xDD));
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), sums);
}

static inline __m512 load_f16x16(const sealm_fp16 *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

/* One block of up to sixteen keys (nk of them, from key j0) against nqb queries (1..4):
 * each key row is widened once for all of them, and the chains of the sixteen keys wait in
 * acc until the transposing tree reduces them. Keys past nk get zero chains and their
 * lanes are not stored. Always inlined, so that the callers' constant nqb and hd unroll the
 * loops with no per-query branches. */
static inline __attribute__((always_inline)) void group_scores_block(int nqb, int hd, const float *qb,
                                                                     const sealm_fp16 *keys, int64_t key_stride,
                                                                     int32_t j0, int32_t nk, int32_t n_keys,
                                                                     __m512 vscale, float *scores,
                                                                     int64_t scores_stride) {
    __m512 acc[4][16];
    for (int l = 0; l < 16; l++) {
        __m512 m[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        /* the key sixteen rows ahead (attention.h: kept after the key cache
         * became head-major, as removing it gained nothing) */
        if (j0 + 16 + l < n_keys) sealm_attn_prefetch_f16(keys + (size_t)(j0 + 16 + l) * (size_t)key_stride, hd);
        if (l < nk) {
            const sealm_fp16 *key = keys + (size_t)(j0 + l) * (size_t)key_stride;
            for (int e = 0; e < hd; e += 16) {
                const __m512 kv = load_f16x16(key + e);
                for (int qq = 0; qq < nqb; qq++)
                    m[qq] = _mm512_fmadd_ps(_mm512_loadu_ps(qb + (size_t)qq * (size_t)hd + e), kv, m[qq]);
            }
        }
        for (int qq = 0; qq < nqb; qq++) acc[qq][l] = m[qq];
    }
    const __mmask16 keep = lanes_below(nk);
    for (int qq = 0; qq < nqb; qq++)
        _mm512_mask_storeu_ps(scores + qq * scores_stride + j0, keep, _mm512_mul_ps(transposed_tree16(acc[qq]), vscale));
}

/* All key blocks of nqb queries, nqb and hd constants where inlined. */
static inline __attribute__((always_inline)) void group_scores_queries(int nqb, int hd, const float *qb,
                                                                       const sealm_fp16 *keys, int64_t key_stride,
                                                                       int32_t n_keys, __m512 vscale, float *scores,
                                                                       int64_t scores_stride) {
    int32_t j0 = 0;
    for (; j0 + 16 <= n_keys; j0 += 16)
        group_scores_block(nqb, hd, qb, keys, key_stride, j0, 16, n_keys, vscale, scores, scores_stride);
    if (j0 < n_keys)
        group_scores_block(nqb, hd, qb, keys, key_stride, j0, n_keys - j0, n_keys, vscale, scores, scores_stride);
}

/* Up to four queries per pass. A group's query count (1..4) and the usual head sizes (64,
 * 128) get their own unrolled copies: with both known at run time only, the loop over the
 * queries kept a compare and branch per FMA (perf annotate). SmolLM2 decode at 300-600
 * positions: the two grouped kernels' share of the cycles 15.9% -> 12.3% (perf record). */
static void attn_group_scores_avx512(int nq, const float *q, int hd, const sealm_fp16 *keys, int64_t key_stride,
                                     int32_t n_keys, float scale, float *scores, int64_t scores_stride) {
    const __m512 vscale = _mm512_set1_ps(scale);
    for (int k0 = 0; k0 < nq; k0 += 4) {
        const int nqb = nq - k0 < 4 ? nq - k0 : 4;
        const float *qb = q + (size_t)k0 * (size_t)hd;
        float *sb = scores + k0 * scores_stride;
#define GROUP_SCORES(NQB, HD) group_scores_queries(NQB, HD, qb, keys, key_stride, n_keys, vscale, sb, scores_stride)
        if (hd == 64) {
            switch (nqb) {
            case 1: GROUP_SCORES(1, 64); break;
            case 2: GROUP_SCORES(2, 64); break;
            case 3: GROUP_SCORES(3, 64); break;
            default: GROUP_SCORES(4, 64); break;
            }
        } else if (hd == 128) {
            switch (nqb) {
            case 1: GROUP_SCORES(1, 128); break;
            case 2: GROUP_SCORES(2, 128); break;
            case 3: GROUP_SCORES(3, 128); break;
            default: GROUP_SCORES(4, 128); break;
            }
        } else {
            GROUP_SCORES(nqb, hd);
        }
#undef GROUP_SCORES
    }
}

/* p·V for nqb queries (1..4) on the value rows of elements e0..e0+15: each 16-key piece
 * of a row is widened once for all of them; a partial last piece is a masked FMA that
 * leaves the lanes past the end as they are, as dot_f16_lane16 does. Sixteen elements'
 * chains are then reduced together. Always inlined, for a constant nqb. */
static inline __attribute__((always_inline)) void group_pv_rows(int nqb, const float *pb, int64_t p_stride,
                                                                const sealm_fp16 *values, int64_t value_stride,
                                                                int32_t n_keys, int hd, int e0, float *const *out) {
    const int32_t whole = n_keys & ~15;
    const __mmask16 tail = lanes_below(n_keys - whole);
    __m512 acc[4][16];
    for (int l = 0; l < 16; l++) {
        const sealm_fp16 *v = values + (size_t)(e0 + l) * (size_t)value_stride;
        /* the start of the row two ahead: decode's rows are a few lines each, too
         * short for the hardware prefetchers to pick up before they end */
        if (e0 + l + 2 < hd) sealm_attn_prefetch_f16(v + 2 * value_stride,
                            n_keys < SEALM_ATTN_PREFETCH_MAX ? n_keys : SEALM_ATTN_PREFETCH_MAX);
        __m512 m[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        for (int32_t j = 0; j < whole; j += 16) {
            const __m512 vv = load_f16x16(v + j);
            for (int qq = 0; qq < nqb; qq++)
                m[qq] = _mm512_fmadd_ps(_mm512_loadu_ps(pb + qq * p_stride + j), vv, m[qq]);
        }
        if (whole < n_keys) {
            const __m512 vv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(tail, v + whole));
            for (int qq = 0; qq < nqb; qq++)
                m[qq] = _mm512_mask3_fmadd_ps(_mm512_maskz_loadu_ps(tail, pb + qq * p_stride + whole), vv, m[qq], tail);
        }
        for (int qq = 0; qq < nqb; qq++) acc[qq][l] = m[qq];
    }
    for (int qq = 0; qq < nqb; qq++) _mm512_storeu_ps(out[qq] + e0, transposed_tree16(acc[qq]));
}

/* Up to four queries per pass, each query count with its own unrolled copy (see
 * attn_group_scores_avx512). */
static void attn_group_pv_avx512(int nq, const float *p, int64_t p_stride, const sealm_fp16 *values, int64_t value_stride,
                                 int32_t n_keys, int hd, float *const *out) {
    for (int k0 = 0; k0 < nq; k0 += 4) {
        const int nqb = nq - k0 < 4 ? nq - k0 : 4;
        const float *pb = p + k0 * p_stride;
        float *const *ob = out + k0;
        for (int e0 = 0; e0 < hd; e0 += 16) {
            switch (nqb) {
            case 1: group_pv_rows(1, pb, p_stride, values, value_stride, n_keys, hd, e0, ob); break;
            case 2: group_pv_rows(2, pb, p_stride, values, value_stride, n_keys, hd, e0, ob); break;
            case 3: group_pv_rows(3, pb, p_stride, values, value_stride, n_keys, hd, e0, ob); break;
            default: group_pv_rows(4, pb, p_stride, values, value_stride, n_keys, hd, e0, ob); break;
            }
        }
    }
}

void sealm_attention_install_avx512(sealm_vec_ops *ops) {
    ops->attn_group_scores = attn_group_scores_avx512;
    ops->attn_group_pv = attn_group_pv_avx512;
    ops->attn_scores = attn_scores_avx512;
    ops->attn_pv = attn_pv_avx512;
    ops->attn_softmax = attn_softmax_avx512;
}
