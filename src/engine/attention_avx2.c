/* The attention kernels (attention.h) with AVX2 + FMA + F16C. Blocked (prefill): a 16-key
 * (q·k) or 16-element (p·V) block is two ymm halves of 8 lanes, each run on its own, so
 * that the sixteen lane-16 chains of a half fit the sixteen registers (one spills at most)
 * and the pinned tree is fifteen vertical adds. Grouped (decode): straight from the F16
 * cache, eight keys or output elements reduced together (see transposed_tree8). Compiled
 * with the AVX2 flags only (CMakeLists.txt); cpu.c installs the kernels after checking the
 * CPU. Bit-identical to sealm_attn_scores_ref / sealm_attn_pv_ref / sealm_attn_softmax_ref /
 * sealm_attn_group_scores_ref / sealm_attn_group_pv_ref (tests/engine/test_attention.c). */
#include "engine/attention.h"
#include "engine/expf_x86.h"
#include "engine/mathfn.h"
#include "engine/quant_simd.h"
#include "engine/simd_x86.h"

#include <immintrin.h>
#include <string.h>

/* The largest of the 8 lanes (none is NaN): any order gives the same value, up to the sign
 * of a zero (see attn_softmax_avx2). */
static inline float hmax_f32x8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

/* sealm_lane16_sum's tree applied lane by lane to sixteen chains m[0..15]:
 * a_k = m_{k+8} + m_k, b_k = a_{k+4} + a_k, (b_0 + b_2) + (b_1 + b_3). */
static inline __m256 lane16_tree(const __m256 m[16]) {
    __m256 a[8], b[4];
    for (int k = 0; k < 8; k++) a[k] = _mm256_add_ps(m[k + 8], m[k]);
    for (int k = 0; k < 4; k++) b[k] = _mm256_add_ps(a[k + 4], a[k]);
    return _mm256_add_ps(_mm256_add_ps(b[0], b[2]), _mm256_add_ps(b[1], b[3]));
}

/* Chain i of a key block takes the elements e ≡ i (mod 16) in order: register m[i], lane l
 * for key 8·half + l. */
static void attn_scores_avx2(int nq, const float *q, int hd, const float *kt, int32_t n_keys, float scale,
                             float *scores, int64_t scores_stride) {
    const int32_t n_blocks = (n_keys + 15) / 16;
    const __m256 vscale = _mm256_set1_ps(scale);
    for (int32_t b = 0; b < n_blocks; b++) {
        const float *tile = kt + (size_t)b * (size_t)hd * 16;
        for (int k = 0; k < nq; k++) {
            const float *qk = q + (size_t)k * (size_t)hd;
            for (int half = 0; half < 2; half++) {
                __m256 m[16];
                for (int i = 0; i < 16; i++) m[i] = _mm256_setzero_ps();
                for (int e0 = 0; e0 < hd; e0 += 16)
                    for (int i = 0; i < 16; i++)
                        m[i] = _mm256_fmadd_ps(_mm256_set1_ps(qk[e0 + i]),
                                               _mm256_loadu_ps(tile + (size_t)(e0 + i) * 16 + (size_t)half * 8), m[i]);
                _mm256_storeu_ps(scores + k * scores_stride + (int64_t)b * 16 + half * 8,
                                 _mm256_mul_ps(lane16_tree(m), vscale));
            }
        }
    }
}

/* Chain i of an element block takes the keys j ≡ i (mod 16) in order: register m[i], lane
 * l for element 8·half + l. The last n_keys % 16 keys extend only their own chains, as the
 * lane-16 dot's partial last chunk does. Keys go in chunks of PV_CHUNK_KEYS: each chunk's
 * rows serve every query from L1, and a query's chains wait in `state` between chunks (a
 * chunk is a multiple of 16 keys, so chain i stays chain i). */
enum { PV_CHUNK_KEYS = 256 };

static void attn_pv_avx2(int nq, const float *p, int64_t p_stride, const float *vb, int64_t vb_stride,
                         const int32_t *n_keys, int hd, float *const *out) {
    _Alignas(32) float state[SEALM_ATTN_MAX_QUERIES][2][16][8];
    int32_t n_max = 0;
    for (int k = 0; k < nq; k++) n_max = n_keys[k] > n_max ? n_keys[k] : n_max;
    for (int eb = 0; eb < hd / 16; eb++)
        for (int32_t c0 = 0; c0 < n_max; c0 += PV_CHUNK_KEYS)
            for (int k = 0; k < nq; k++) {
                const int32_t n = n_keys[k];
                if (n <= c0) continue;
                const int32_t c1 = n < c0 + PV_CHUNK_KEYS ? n : c0 + PV_CHUNK_KEYS;
                const float *pk = p + k * p_stride;
                for (int half = 0; half < 2; half++) {
                    const float *rows = vb + eb * vb_stride + half * 8;
                    __m256 m[16];
                    for (int i = 0; i < 16; i++) m[i] = c0 == 0 ? _mm256_setzero_ps() : _mm256_load_ps(state[k][half][i]);
                    int32_t j = c0;
                    for (; j + 16 <= c1; j += 16)
                        for (int i = 0; i < 16; i++)
                            m[i] = _mm256_fmadd_ps(_mm256_set1_ps(pk[j + i]), _mm256_loadu_ps(rows + (size_t)(j + i) * 16),
                                                   m[i]);
                    const int32_t left = c1 - j;
                    for (int i = 0; i < 16; i++)
                        if (i < left)
                            m[i] = _mm256_fmadd_ps(_mm256_set1_ps(pk[j + i]), _mm256_loadu_ps(rows + (size_t)(j + i) * 16),
                                                   m[i]);
                    if (c1 == n) _mm256_storeu_ps(out[k] + eb * 16 + half * 8, lane16_tree(m));
                    else for (int i = 0; i < 16; i++) _mm256_store_ps(state[k][half][i], m[i]);
                }
            }
}

/* Max, exps with their chunk sums, normalization and the F16 rounding, 16 scores a step
 * as two halves. The max is taken per lane, then across lanes: the same value as the
 * scalar scan (a tie between +0 and -0 may pick the other zero, which changes no exp:
 * x - (±0) rounds to the same value, and sealm_expf(±0) = 1). */
static void attn_softmax_avx2(float *scores, int32_t n, sealm_fp16 *p16) {
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int32_t j = 0;
    for (; j + 8 <= n; j += 8) vmax = _mm256_max_ps(_mm256_loadu_ps(scores + j), vmax);
    float max = hmax_f32x8(vmax);
    for (; j < n; j++) if (scores[j] > max) max = scores[j];
    const __m256 vm = _mm256_set1_ps(max);
    double sum = 0.0;
    for (int32_t c = 0; c < n; c += 16) {
        float chunk[16] = {0};
        if (c + 16 <= n) {
            __m256 lo, hi;
            const int other = expf_x8(_mm256_sub_ps(_mm256_loadu_ps(scores + c), vm), &lo) |
                              expf_x8(_mm256_sub_ps(_mm256_loadu_ps(scores + c + 8), vm), &hi);
            _mm256_storeu_ps(chunk, lo);
            _mm256_storeu_ps(chunk + 8, hi);
            if (other)
                for (int l = 0; l < 16; l++) chunk[l] = sealm_expf(scores[c + l] - max);
        } else {
            for (int32_t l = 0; c + l < n; l++) chunk[l] = sealm_expf(scores[c + l] - max);
        }
        memcpy(scores + c, chunk, (size_t)(n - c < 16 ? n - c : 16) * sizeof(float));
        sum += (double)x86_lane16_sum(_mm256_loadu_ps(chunk), _mm256_loadu_ps(chunk + 8));
    }
    const __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
    const float inv1 = (float)(1.0 / sum);
    for (j = 0; j + 8 <= n; j += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(scores + j), inv), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128((__m128i *)(p16 + j), h);
        _mm256_storeu_ps(scores + j, _mm256_cvtph_ps(h));
    }
    for (; j < n; j++) {
        p16[j] = _cvtss_sh(scores[j] * inv1, _MM_FROUND_TO_NEAREST_INT);
        scores[j] = _cvtsh_ss(p16[j]);
    }
}

/* ---- grouped kernels: straight from the F16 cache, one KV head's heads together ---- */

/* A key's (or output element's) sixteen lane-16 chains are two registers, lo (chains 0..7)
 * and hi (chains 8..15), so the tree's first fold a_k = x_{k+8} + x_k is the vertical add
 * hi + lo. What is left of sealm_lane16_sum, b_k = a_{k+4} + a_k and (b_0 + b_2) +
 * (b_1 + b_3), is done for eight keys at once by transposed_tree8: each fold's shuffles
 * gather the lanes that add, so eight sums cost 7 adds and 14 shuffles instead of eight
 * horizontal reductions. Only the operands of an add may come swapped, which IEEE
 * addition ignores; the pairing is the tree's.
 *
 * The shuffles leave the sums of slots 0, 2, 4, 6, 1, 3, 5, 7 in lanes 0..7; rather than
 * undo that with a cross-lane permute, callers put item l (key or element l of the eight)
 * in slot TREE8_SLOT[l], and the sums come out in item order. */
static const int TREE8_SLOT[8] = {0, 2, 4, 6, 1, 3, 5, 7};

/* a[s]: slot s's once-folded chains (lane k = a_k). Lane l of the result: the sum of the
 * item in slot TREE8_SLOT[l]. */
static inline __m256 transposed_tree8(const __m256 a[8]) {
    __m256 b[4], c[2];
    /* b[m]: 128-bit half h holds slot 2m + h's b_0..b_3 (b_k = a_{k+4} + a_k) */
    for (int m = 0; m < 4; m++)
        b[m] = _mm256_add_ps(_mm256_permute2f128_ps(a[2 * m], a[2 * m + 1], 0x31),
                             _mm256_permute2f128_ps(a[2 * m], a[2 * m + 1], 0x20));
    /* c[n]: half h holds (b_0 + b_2, b_1 + b_3) of slots 4n + h and 4n + 2 + h */
    for (int n = 0; n < 2; n++)
        c[n] = _mm256_add_ps(_mm256_shuffle_ps(b[2 * n], b[2 * n + 1], 0x44),
                             _mm256_shuffle_ps(b[2 * n], b[2 * n + 1], 0xEE));
    /* lanes: slots 0, 2, 4, 6 | 1, 3, 5, 7, each (b_0 + b_2) + (b_1 + b_3) */
    return _mm256_add_ps(_mm256_shuffle_ps(c[0], c[1], 0x88), _mm256_shuffle_ps(c[0], c[1], 0xDD));
}

static inline __m256 load_f16x8(const sealm_fp16 *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

/* Stores the first n (1..8) lanes of v. */
static inline void store_first(float *dst, __m256 v, int n) {
    if (n == 8) {
        _mm256_storeu_ps(dst, v);
        return;
    }
    float tmp[8];
    _mm256_storeu_ps(tmp, v);
    memcpy(dst, tmp, (size_t)n * sizeof tmp[0]);
}

/* Keys [j0, j0 + 8) (those below n_keys) against nqb queries (1..4, a constant where
 * inlined): each key row piece is widened once for all of them. Keys past n_keys get zero
 * chains and their lanes are not stored. */
static inline __attribute__((always_inline)) void group_scores_keys8(int nqb, const float *q, int hd,
                                                                     const sealm_fp16 *keys, int64_t key_stride,
                                                                     int32_t j0, int32_t n_keys, __m256 vscale,
                                                                     float *scores, int64_t scores_stride) {
    const int nk = n_keys - j0 < 8 ? (int)(n_keys - j0) : 8;
    __m256 a[4][8];   /* [query][slot] */
    for (int l = 0; l < 8; l++) {
        __m256 lo[4], hi[4];
        for (int qq = 0; qq < nqb; qq++) lo[qq] = hi[qq] = _mm256_setzero_ps();
        /* the key eight rows ahead (attention.h: kept after the key cache
         * became head-major, as removing it gained nothing) */
        if (j0 + 8 + l < n_keys) sealm_attn_prefetch_f16(keys + (size_t)(j0 + 8 + l) * (size_t)key_stride, hd);
        if (l < nk) {
            const sealm_fp16 *key = keys + (size_t)(j0 + l) * (size_t)key_stride;
            for (int e = 0; e < hd; e += 16) {
                const __m256 klo = load_f16x8(key + e), khi = load_f16x8(key + e + 8);
                for (int qq = 0; qq < nqb; qq++) {
                    const float *qe = q + (size_t)qq * (size_t)hd + e;
                    lo[qq] = _mm256_fmadd_ps(_mm256_loadu_ps(qe), klo, lo[qq]);
                    hi[qq] = _mm256_fmadd_ps(_mm256_loadu_ps(qe + 8), khi, hi[qq]);
                }
            }
        }
        for (int qq = 0; qq < nqb; qq++) a[qq][TREE8_SLOT[l]] = _mm256_add_ps(hi[qq], lo[qq]);
    }
    for (int qq = 0; qq < nqb; qq++)
        store_first(scores + qq * scores_stride + j0, _mm256_mul_ps(transposed_tree8(a[qq]), vscale), nk);
}

static void attn_group_scores_avx2(int nq, const float *q, int hd, const sealm_fp16 *keys, int64_t key_stride,
                                   int32_t n_keys, float scale, float *scores, int64_t scores_stride) {
    const __m256 vscale = _mm256_set1_ps(scale);
    for (int k0 = 0; k0 < nq; k0 += 4) {
        const float *qb = q + (size_t)k0 * (size_t)hd;
        float *sb = scores + k0 * scores_stride;
        for (int32_t j0 = 0; j0 < n_keys; j0 += 8) {
            switch (nq - k0 < 4 ? nq - k0 : 4) {
            case 4: group_scores_keys8(4, qb, hd, keys, key_stride, j0, n_keys, vscale, sb, scores_stride); break;
            case 3: group_scores_keys8(3, qb, hd, keys, key_stride, j0, n_keys, vscale, sb, scores_stride); break;
            case 2: group_scores_keys8(2, qb, hd, keys, key_stride, j0, n_keys, vscale, sb, scores_stride); break;
            default: group_scores_keys8(1, qb, hd, keys, key_stride, j0, n_keys, vscale, sb, scores_stride); break;
            }
        }
    }
}

/* The partial last 16-key piece of p·V (left = n_keys % 16 keys, 1..15): copies of the
 * queries' weights and of each value row's piece padded with zeros (nothing past n_keys
 * may be read), and the lane masks that keep the chains past the end as they are, as the
 * lane-16 dot's partial last chunk does. Padding alone would do that only because no chain
 * is ever -0 (chains start at +0, and products of F16 values are exact in float), since
 * fma(0, 0, -0.0) is +0.0; the blends make that argument unnecessary for one per row. */
typedef struct pv_tail {
    int32_t whole, left;
    __m256 keep_lo, keep_hi;   /* all ones in the lanes whose key is below n_keys */
    _Alignas(32) float p[4][16];
} pv_tail;

/* Row e0 + l for l < 8, and its eight elements' sums, for nqb queries (1..4, a constant
 * where inlined): each 16-key piece of a value row is widened once for all of them. */
static inline __attribute__((always_inline)) void group_pv_elems8(int nqb, const float *p, int64_t p_stride,
                                                                  const sealm_fp16 *values, int64_t value_stride,
                                                                  int32_t n_keys, int hd, int e0, const pv_tail *tail,
                                                                  float *const *out) {
    __m256 a[4][8];   /* [query][slot] */
    for (int l = 0; l < 8; l++) {
        const sealm_fp16 *v = values + (size_t)(e0 + l) * (size_t)value_stride;
        /* the start of the row two ahead: decode's rows are a few lines each, too short
         * for the hardware prefetchers to pick up before they end */
        if (e0 + l + 2 < hd) sealm_attn_prefetch_f16(v + 2 * value_stride,
                                    n_keys < SEALM_ATTN_PREFETCH_MAX ? n_keys : SEALM_ATTN_PREFETCH_MAX);
        __m256 lo[4], hi[4];
        for (int qq = 0; qq < nqb; qq++) lo[qq] = hi[qq] = _mm256_setzero_ps();
        for (int32_t j = 0; j < tail->whole; j += 16) {
            const __m256 vlo = load_f16x8(v + j), vhi = load_f16x8(v + j + 8);
            for (int qq = 0; qq < nqb; qq++) {
                const float *pj = p + qq * p_stride + j;
                lo[qq] = _mm256_fmadd_ps(_mm256_loadu_ps(pj), vlo, lo[qq]);
                hi[qq] = _mm256_fmadd_ps(_mm256_loadu_ps(pj + 8), vhi, hi[qq]);
            }
        }
        if (tail->left > 0) {
            _Alignas(16) sealm_fp16 piece[16] = {0};
            memcpy(piece, v + tail->whole, (size_t)tail->left * sizeof piece[0]);
            const __m256 vlo = load_f16x8(piece), vhi = load_f16x8(piece + 8);
            for (int qq = 0; qq < nqb; qq++) {
                lo[qq] = _mm256_blendv_ps(lo[qq], _mm256_fmadd_ps(_mm256_load_ps(tail->p[qq]), vlo, lo[qq]), tail->keep_lo);
                hi[qq] = _mm256_blendv_ps(hi[qq], _mm256_fmadd_ps(_mm256_load_ps(tail->p[qq] + 8), vhi, hi[qq]),
                                          tail->keep_hi);
            }
        }
        for (int qq = 0; qq < nqb; qq++) a[qq][TREE8_SLOT[l]] = _mm256_add_ps(hi[qq], lo[qq]);
    }
    for (int qq = 0; qq < nqb; qq++) _mm256_storeu_ps(out[qq] + e0, transposed_tree8(a[qq]));
}

static void attn_group_pv_avx2(int nq, const float *p, int64_t p_stride, const sealm_fp16 *values, int64_t value_stride,
                               int32_t n_keys, int hd, float *const *out) {
    pv_tail tail;
    tail.whole = n_keys & ~15;
    tail.left = n_keys - tail.whole;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    tail.keep_lo = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(tail.left), lane));
    tail.keep_hi = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(tail.left - 8), lane));
    for (int k0 = 0; k0 < nq; k0 += 4) {
        const int nqb = nq - k0 < 4 ? nq - k0 : 4;
        const float *pb = p + k0 * p_stride;
        memset(tail.p, 0, sizeof tail.p);
        for (int qq = 0; qq < nqb; qq++)
            memcpy(tail.p[qq], pb + qq * p_stride + tail.whole, (size_t)tail.left * sizeof(float));
        for (int e0 = 0; e0 < hd; e0 += 8) {
            switch (nqb) {
            case 4: group_pv_elems8(4, pb, p_stride, values, value_stride, n_keys, hd, e0, &tail, out + k0); break;
            case 3: group_pv_elems8(3, pb, p_stride, values, value_stride, n_keys, hd, e0, &tail, out + k0); break;
            case 2: group_pv_elems8(2, pb, p_stride, values, value_stride, n_keys, hd, e0, &tail, out + k0); break;
            default: group_pv_elems8(1, pb, p_stride, values, value_stride, n_keys, hd, e0, &tail, out + k0); break;
            }
        }
    }
}

void sealm_attention_install_avx2(sealm_vec_ops *ops) {
    ops->attn_group_scores = attn_group_scores_avx2;
    ops->attn_group_pv = attn_group_pv_avx2;
    ops->attn_scores = attn_scores_avx2;
    ops->attn_pv = attn_pv_avx2;
    ops->attn_softmax = attn_softmax_avx2;
}
