/* The grouped decode attention kernels (attention.h) with baseline ARMv8 NEON: the heads
 * of one token that share a KV head, straight from the F16 cache, each key row (or value
 * row piece) widened once for all of them. Compiled with -march=armv8-a only
 * (CMakeLists.txt), so F16 values are only widened (vcvt_f32_f16), never computed with;
 * cpu.c installs the kernels at the NEON level. Bit-identical to
 * sealm_attn_group_scores_ref / sealm_attn_group_pv_ref (tests/engine/test_attention.c). */
#include "engine/attention.h"
#include "engine/quant_simd.h"

#include <arm_neon.h>
#include <string.h>

/* A key's (or output element's) sixteen lane-16 chains are four registers c[0..3] holding
 * chains 0..3, 4..7, 8..11, 12..15. sealm_lane16_sum's first two folds are then vertical:
 * a_k = x_{k+8} + x_k is c[2] + c[0] (a_0..a_3) and c[3] + c[1] (a_4..a_7), and
 * b_k = a_{k+4} + a_k adds those two. */
static inline float32x4_t fold_chains(const float32x4_t c[4]) {
    return vaddq_f32(vaddq_f32(c[3], c[1]), vaddq_f32(c[2], c[0]));
}

/* The tree's last step, (b_0 + b_2) + (b_1 + b_3), for four items at once: b[i] holds item
 * i's b_0..b_3. The 64-bit zips pair each item's (b_0, b_1) with its (b_2, b_3), and the
 * pairwise add then adds (b_0 + b_2) to (b_1 + b_3) within each item. Lane i: item i. */
static inline float32x4_t transposed_tree4(const float32x4_t b[4]) {
    float32x4_t s[2];
    for (int h = 0; h < 2; h++) {
        const float64x2_t x = vreinterpretq_f64_f32(b[2 * h]), y = vreinterpretq_f64_f32(b[2 * h + 1]);
        s[h] = vaddq_f32(vreinterpretq_f32_f64(vzip1q_f64(x, y)), vreinterpretq_f32_f64(vzip2q_f64(x, y)));
    }
    return vpaddq_f32(s[0], s[1]);
}

static inline float32x4_t load_f16x4(const sealm_fp16 *p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

/* Stores the first n (1..4) lanes of v. */
static inline void store_first(float *dst, float32x4_t v, int n) {
    if (n == 4) {
        vst1q_f32(dst, v);
        return;
    }
    float tmp[4];
    vst1q_f32(tmp, v);
    memcpy(dst, tmp, (size_t)n * sizeof tmp[0]);
}

/* Keys [j0, j0 + 4) (those below n_keys) against nqb queries (1..4, a constant where
 * inlined): each 16-element piece of a key row is widened once for all of them. Keys past
 * n_keys get zero chains and their lanes are not stored. */
static inline __attribute__((always_inline)) void group_scores_keys4(int nqb, const float *q, int hd,
                                                                     const sealm_fp16 *keys, int64_t key_stride,
                                                                     int32_t j0, int32_t n_keys, float scale,
                                                                     float *scores, int64_t scores_stride) {
    const int nk = n_keys - j0 < 4 ? (int)(n_keys - j0) : 4;
    float32x4_t b[4][4];   /* [query][key] */
    for (int l = 0; l < 4; l++) {
        float32x4_t c[4][4];   /* [query][chains 4i .. 4i+3] */
        for (int qq = 0; qq < nqb; qq++)
            for (int i = 0; i < 4; i++) c[qq][i] = vdupq_n_f32(0.0f);
        if (l < nk) {
            const sealm_fp16 *key = keys + (size_t)(j0 + l) * (size_t)key_stride;
            for (int e = 0; e < hd; e += 16) {
                float32x4_t kv[4];
                for (int i = 0; i < 4; i++) kv[i] = load_f16x4(key + e + 4 * i);
                for (int qq = 0; qq < nqb; qq++) {
                    const float *qe = q + (size_t)qq * (size_t)hd + e;
                    for (int i = 0; i < 4; i++) c[qq][i] = vfmaq_f32(c[qq][i], vld1q_f32(qe + 4 * i), kv[i]);
                }
            }
        }
        for (int qq = 0; qq < nqb; qq++) b[qq][l] = fold_chains(c[qq]);
    }
    for (int qq = 0; qq < nqb; qq++)
        store_first(scores + qq * scores_stride + j0, vmulq_n_f32(transposed_tree4(b[qq]), scale), nk);
}

static void attn_group_scores_neon(int nq, const float *q, int hd, const sealm_fp16 *keys, int64_t key_stride,
                                   int32_t n_keys, float scale, float *scores, int64_t scores_stride) {
    for (int k0 = 0; k0 < nq; k0 += 4) {
        const float *qb = q + (size_t)k0 * (size_t)hd;
        float *sb = scores + k0 * scores_stride;
        for (int32_t j0 = 0; j0 < n_keys; j0 += 4) {
            switch (nq - k0 < 4 ? nq - k0 : 4) {
            case 4: group_scores_keys4(4, qb, hd, keys, key_stride, j0, n_keys, scale, sb, scores_stride); break;
            case 3: group_scores_keys4(3, qb, hd, keys, key_stride, j0, n_keys, scale, sb, scores_stride); break;
            case 2: group_scores_keys4(2, qb, hd, keys, key_stride, j0, n_keys, scale, sb, scores_stride); break;
            default: group_scores_keys4(1, qb, hd, keys, key_stride, j0, n_keys, scale, sb, scores_stride); break;
            }
        }
    }
}

/* The partial last 16-key piece of p·V (left = n_keys % 16 keys, 1..15): copies of the
 * queries' weights and of each value row's piece padded with zeros (nothing past n_keys
 * may be read), and the lane masks that keep the chains past the end as they are, as the
 * lane-16 dot's partial last chunk does (fma(0, 0, -0.0) is +0.0, so padding alone would
 * be exact only because no chain is ever -0). */
typedef struct pv_tail {
    int32_t whole, left;
    uint32x4_t keep[4];   /* all ones in the lanes whose key is below n_keys */
    float p[4][16];
} pv_tail;

/* Rows e0 .. e0 + 3 and their four elements' sums, for nqb queries (1..4, a constant where
 * inlined): each 16-key piece of a value row is widened once for all of them. */
static inline __attribute__((always_inline)) void group_pv_elems4(int nqb, const float *p, int64_t p_stride,
                                                                  const sealm_fp16 *values, int64_t value_stride,
                                                                  int e0, const pv_tail *tail, float *const *out) {
    float32x4_t b[4][4];   /* [query][element] */
    for (int l = 0; l < 4; l++) {
        const sealm_fp16 *v = values + (size_t)(e0 + l) * (size_t)value_stride;
        float32x4_t c[4][4];   /* [query][chains 4i .. 4i+3] */
        for (int qq = 0; qq < nqb; qq++)
            for (int i = 0; i < 4; i++) c[qq][i] = vdupq_n_f32(0.0f);
        for (int32_t j = 0; j < tail->whole; j += 16) {
            float32x4_t vv[4];
            for (int i = 0; i < 4; i++) vv[i] = load_f16x4(v + j + 4 * i);
            for (int qq = 0; qq < nqb; qq++) {
                const float *pj = p + qq * p_stride + j;
                for (int i = 0; i < 4; i++) c[qq][i] = vfmaq_f32(c[qq][i], vld1q_f32(pj + 4 * i), vv[i]);
            }
        }
        if (tail->left > 0) {
            sealm_fp16 piece[16] = {0};
            memcpy(piece, v + tail->whole, (size_t)tail->left * sizeof piece[0]);
            float32x4_t vv[4];
            for (int i = 0; i < 4; i++) vv[i] = load_f16x4(piece + 4 * i);
            for (int qq = 0; qq < nqb; qq++)
                for (int i = 0; i < 4; i++)
                    c[qq][i] = vbslq_f32(tail->keep[i], vfmaq_f32(c[qq][i], vld1q_f32(tail->p[qq] + 4 * i), vv[i]), c[qq][i]);
        }
        for (int qq = 0; qq < nqb; qq++) b[qq][l] = fold_chains(c[qq]);
    }
    for (int qq = 0; qq < nqb; qq++) vst1q_f32(out[qq] + e0, transposed_tree4(b[qq]));
}

static void attn_group_pv_neon(int nq, const float *p, int64_t p_stride, const sealm_fp16 *values, int64_t value_stride,
                               int32_t n_keys, int hd, float *const *out) {
    pv_tail tail;
    tail.whole = n_keys & ~15;
    tail.left = n_keys - tail.whole;
    static const uint32_t lane_index[4] = {0, 1, 2, 3};
    for (int i = 0; i < 4; i++)
        tail.keep[i] = vcltq_u32(vaddq_u32(vld1q_u32(lane_index), vdupq_n_u32(4u * (uint32_t)i)),
                                 vdupq_n_u32((uint32_t)tail.left));
    for (int k0 = 0; k0 < nq; k0 += 4) {
        const int nqb = nq - k0 < 4 ? nq - k0 : 4;
        const float *pb = p + k0 * p_stride;
        memset(tail.p, 0, sizeof tail.p);
        for (int qq = 0; qq < nqb; qq++)
            memcpy(tail.p[qq], pb + qq * p_stride + tail.whole, (size_t)tail.left * sizeof(float));
        for (int e0 = 0; e0 < hd; e0 += 4) {
            switch (nqb) {
            case 4: group_pv_elems4(4, pb, p_stride, values, value_stride, e0, &tail, out + k0); break;
            case 3: group_pv_elems4(3, pb, p_stride, values, value_stride, e0, &tail, out + k0); break;
            case 2: group_pv_elems4(2, pb, p_stride, values, value_stride, e0, &tail, out + k0); break;
            default: group_pv_elems4(1, pb, p_stride, values, value_stride, e0, &tail, out + k0); break;
            }
        }
    }
}

void sealm_attention_install_neon(sealm_vec_ops *ops) {
    ops->attn_group_scores = attn_group_scores_neon;
    ops->attn_group_pv = attn_group_pv_neon;
}
