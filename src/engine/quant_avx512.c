/* AVX-512 kernels (F, BW, VL, VNNI): Q6_K and the float dot products and vector ops.
 *
 * cpu.c installs these on top of the AVX2 set, so types not handled here keep their AVX2
 * kernel (and the activation quantizers stay AVX2). Each kernel computes the same integer
 * sums as its scalar reference and adds the float terms in the reference's pinned order
 * (quant_ref.h, "accumulation order"), so the results are bit-identical to it:
 *  - Q6_K (lane-8): the integer work runs 512 bits wide, two 32-element steps of the
 *    super-block per register; the two 256-bit halves have the same lane layout (int32
 *    lane k: elements 4k..4k+3 of a step) and are added as integers before the one 8-lane
 *    float FMA per super-block.
 *  - float types (lane-16): one 16-lane FMA accumulator, reduced as x86_lane16_sum does.
 * Q8_0, Q4_0, Q4_1 and Q4_K have no AVX-512 kernel: their pinned order is one 8-lane FMA
 * per 32-element block, in block order, and with that chain the wider integer step
 * (two blocks per register, vpdpbusd) measured slower than the AVX2 kernels, not faster.
 * Only AVX512F/BW/VL instructions are used (cpu.c checks those and VNNI). */
#include "engine/quant_simd.h"
#include "engine/simd_kscales.h"
#include "engine/simd_x86.h"

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
static void vec_dot_q6_K_q8_K_avx512(int64_t n, float *restrict s, const void *restrict vw,
                                     const void *restrict vx) {
    const block_q6_K *w = vw;
    const block_q8_K *x = vx;
    const int64_t nb = n / QK_K;
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const __m512i bits45 = _mm512_set1_epi8(0x30);
    /* low step: (qh & {0x03 | 0x0C}) << {4 | 2} puts the pair at bits 4-5 */
    const __m512i mask_lo = join_i256(_mm256_set1_epi8(0x03), _mm256_set1_epi8(0x0C));
    const __m512i shl_lo = join_i256(_mm256_set1_epi16(4), _mm256_set1_epi16(2));
    /* high step: (qh >> {0 | 2}) & 0x30 */
    const __m512i shr_hi = join_i256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    const __m512i m32 = _mm512_set1_epi8(32);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w[i].scales));
        const int8_t *y = x[i].qs;
        __m512i isum = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            __m256i qh256 = _mm256_loadu_si256((const __m256i *)(w[i].qh + 32 * h));
            __m512i qh = join_i256(qh256, qh256);
            __m512i ql = _mm512_loadu_si512((const void *)(w[i].ql + 64 * h));
            __m512i q_lo = _mm512_or_si512(_mm512_and_si512(ql, low4),
                                           _mm512_sllv_epi16(_mm512_and_si512(qh, mask_lo), shl_lo));
            __m512i q_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                                           _mm512_and_si512(_mm512_srlv_epi16(qh, shr_hi), bits45));
            /* the -32 offset comes off each 16-bit pair sum, before the scales */
            const __m512i y_lo = _mm512_loadu_si512((const void *)(y + 128 * h));
            const __m512i y_hi = _mm512_loadu_si512((const void *)(y + 128 * h + 64));
            __m512i p_lo = _mm512_sub_epi16(_mm512_maddubs_epi16(q_lo, y_lo), _mm512_maddubs_epi16(m32, y_lo));
            __m512i p_hi = _mm512_sub_epi16(_mm512_maddubs_epi16(q_hi, y_hi), _mm512_maddubs_epi16(m32, y_hi));
            isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p_lo, four_scales_i16(sc16, 8 * h)));
            isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p_hi, four_scales_i16(sc16, 8 * h + 4)));
        }
        /* the two 256-bit halves are 32-element steps with the same lane layout */
        const __m256i lanes = _mm256_add_epi32(_mm512_castsi512_si256(isum), upper_i256(isum));
        const float d = x[i].d * x86_fp16_to_f32(w[i].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(lanes), acc);
    }
    *s = x86_hsum_f32x8(acc);
}

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

    table[SEALM_TYPE_F16].from_float_fast = quantize_row_f16_avx512;

    ops->dot_f32 = dot_f32_avx512;
    ops->dot_f16 = dot_f16_avx512;
    ops->dot_f16_lane16 = dot_f16_avx512;
    ops->axpy_f16 = axpy_f16_avx512;
    ops->fp32_to_fp16_row = fp32_to_fp16_row_avx512;
    ops->fp16_to_fp32_row = fp16_to_fp32_row_avx512;
}
