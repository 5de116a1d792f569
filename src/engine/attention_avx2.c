/* The blocked attention kernels (attention.h) with AVX2 + FMA: a 16-key (q·k) or
 * 16-element (p·V) block is two ymm halves of 8 lanes, each run on its own, so that the
 * sixteen lane-16 chains of a half fit the sixteen registers (one spills at most) and the
 * pinned tree is fifteen vertical adds. Compiled with the AVX2 flags only (CMakeLists.txt);
 * cpu.c installs the kernels after checking the CPU. Bit-identical to
 * sealm_attn_scores_ref / sealm_attn_pv_ref (tests/engine/test_attention.c). */
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

void sealm_attention_install_avx2(sealm_vec_ops *ops) {
    ops->attn_scores = attn_scores_avx2;
    ops->attn_pv = attn_pv_avx2;
    ops->attn_softmax = attn_softmax_avx2;
}
