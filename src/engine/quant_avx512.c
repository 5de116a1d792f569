/* AVX-512 kernels (F, BW, VL, DQ, VNNI): the most used dot products and vector ops.
 *
 * cpu.c installs these on top of the AVX2 set, so types not handled here keep their AVX2
 * kernel (and the activation quantizers stay AVX2). Each kernel computes the same integer
 * sums per block as its scalar reference; only the float additions are ordered differently.
 *
 * Two tricks recur:
 *  - 32-element blocks: two blocks share one 512-bit register (block i in the low 256 bits,
 *    block i+1 in the high 256 bits), each block's 8 int32 lanes scaled by its own d.
 *    An odd last block uses the 256-bit forms of the same instructions.
 *  - vpdpbusd (VNNI) multiplies unsigned by signed bytes and adds groups of 4 straight into
 *    int32 lanes (no 16-bit saturation). Signed weights are handled by an offset (Q4_0:
 *    q-8 as q times x minus 8 times x) or by moving the weight's sign onto the activation
 *    (Q8_0), see below. */
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

/* 16 float lanes: the low 8 equal a, the high 8 equal b (per-block scales of a block pair). */
static inline __m512 two_scales_f32(float a, float b) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(a)), _mm256_set1_ps(b), 1);
}

/* Signed-by-signed byte dot in groups of 4 with vpdpbusd: |w| is the unsigned operand and x
 * is negated where w is negative (so |w| * ±x == w * x). x must not hold -128. */
static inline __m512i dot_i8x64(__m512i w, __m512i x) {
    __mmask64 negative = _mm512_movepi8_mask(w);
    __m512i signed_x = _mm512_mask_sub_epi8(x, negative, _mm512_setzero_si512(), x);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(w), signed_x);
}

static inline __m256i dot_i8x32(__m256i w, __m256i x) {
    __mmask32 negative = _mm256_movepi8_mask(w);
    __m256i signed_x = _mm256_mask_sub_epi8(x, negative, _mm256_setzero_si256(), x);
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(w), signed_x);
}

/* ------------------------------------------------------------------------------------
 * 32-element blocks
 * ---------------------------------------------------------------------------------- */

static void vec_dot_q8_0_q8_0_avx512(int64_t n, float *restrict s, const void *restrict vw,
                                     const void *restrict vx) {
    const block_q8_0 *w = vw;
    const block_q8_0 *x = vx;
    const int64_t nb = n / QK8_0;
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        __m512i qw = join_i256(_mm256_loadu_si256((const __m256i *)w[i].qs),
                               _mm256_loadu_si256((const __m256i *)w[i + 1].qs));
        __m512i qx = join_i256(_mm256_loadu_si256((const __m256i *)x[i].qs),
                               _mm256_loadu_si256((const __m256i *)x[i + 1].qs));
        __m512 d = two_scales_f32(x86_fp16_to_f32(w[i].d) * x86_fp16_to_f32(x[i].d),
                                  x86_fp16_to_f32(w[i + 1].d) * x86_fp16_to_f32(x[i + 1].d));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot_i8x64(qw, qx)), d, acc);
    }
    float sum = _mm512_reduce_add_ps(acc);
    if (i < nb) {
        __m256i p = dot_i8x32(_mm256_loadu_si256((const __m256i *)w[i].qs),
                              _mm256_loadu_si256((const __m256i *)x[i].qs));
        sum += (float)x86_hsum_i32x8(p) * (x86_fp16_to_f32(w[i].d) * x86_fp16_to_f32(x[i].d));
    }
    *s = sum;
}

/* Q4_0: sum((q-8)*x) = sum(q*x) - sum(8*x); both by vpdpbusd with unsigned q and 8, so the
 * activation bytes are used as they are. */
static void vec_dot_q4_0_q8_0_avx512(int64_t n, float *restrict s, const void *restrict vw,
                                     const void *restrict vx) {
    const block_q4_0 *w = vw;
    const block_q8_0 *x = vx;
    const int64_t nb = n / QK4_0;
    const __m512i eight = _mm512_set1_epi8(8);
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        __m512i qw = join_i256(x86_unpack_nibbles16(w[i].qs), x86_unpack_nibbles16(w[i + 1].qs));
        __m512i qx = join_i256(_mm256_loadu_si256((const __m256i *)x[i].qs),
                               _mm256_loadu_si256((const __m256i *)x[i + 1].qs));
        __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), qw, qx);
        __m512i off = _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, qx);
        __m512 d = two_scales_f32(x86_fp16_to_f32(w[i].d) * x86_fp16_to_f32(x[i].d),
                                  x86_fp16_to_f32(w[i + 1].d) * x86_fp16_to_f32(x[i + 1].d));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(p, off)), d, acc);
    }
    float sum = _mm512_reduce_add_ps(acc);
    if (i < nb) {
        __m256i qx = _mm256_loadu_si256((const __m256i *)x[i].qs);
        __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), x86_unpack_nibbles16(w[i].qs), qx);
        __m256i off = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(8), qx);
        sum += (float)x86_hsum_i32x8(_mm256_sub_epi32(p, off)) *
               (x86_fp16_to_f32(w[i].d) * x86_fp16_to_f32(x[i].d));
    }
    *s = sum;
}

/* Q4_1: unsigned quants straight into vpdpbusd; the min term m*s as in the AVX2 kernel. */
static void vec_dot_q4_1_q8_1_avx512(int64_t n, float *restrict s, const void *restrict vw,
                                     const void *restrict vx) {
    const block_q4_1 *w = vw;
    const block_q8_1 *x = vx;
    const int64_t nb = n / QK4_1;
    __m512 acc = _mm512_setzero_ps();
    float min_terms = 0.0f;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        __m512i qw = join_i256(x86_unpack_nibbles16(w[i].qs), x86_unpack_nibbles16(w[i + 1].qs));
        __m512i qx = join_i256(_mm256_loadu_si256((const __m256i *)x[i].qs),
                               _mm256_loadu_si256((const __m256i *)x[i + 1].qs));
        __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), qw, qx);
        __m512 d = two_scales_f32(x86_fp16_to_f32(w[i].d) * x86_fp16_to_f32(x[i].d),
                                  x86_fp16_to_f32(w[i + 1].d) * x86_fp16_to_f32(x[i + 1].d));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), d, acc);
        min_terms += x86_fp16_to_f32(w[i].m) * x86_fp16_to_f32(x[i].s) +
                     x86_fp16_to_f32(w[i + 1].m) * x86_fp16_to_f32(x[i + 1].s);
    }
    float sum = _mm512_reduce_add_ps(acc);
    if (i < nb) {
        __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), x86_unpack_nibbles16(w[i].qs),
                                        _mm256_loadu_si256((const __m256i *)x[i].qs));
        sum += (float)x86_hsum_i32x8(p) * (x86_fp16_to_f32(w[i].d) * x86_fp16_to_f32(x[i].d));
        min_terms += x86_fp16_to_f32(w[i].m) * x86_fp16_to_f32(x[i].s);
    }
    *s = sum + min_terms;
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

static void vec_dot_q4_K_q8_K_avx512(int64_t n, float *restrict s, const void *restrict vw,
                                     const void *restrict vx) {
    const block_q4_K *w = vw;
    const block_q8_K *x = vx;
    const int64_t nb = n / QK_K;
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    __m512 acc = _mm512_setzero_ps();
    float min_terms = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        uint64_t sc8, mn8;
        simd_unpack_k4_scales_u64(w[i].scales, &sc8, &mn8);
        /* sub-block j spans 32 elements = two 16-element groups: scale list sc[0],sc[0],sc[1],.. */
        const __m128i sc = _mm_cvtsi64_si128((long long)sc8);
        const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(sc, sc));
        const uint8_t *q = w[i].qs;
        const int8_t *y = x[i].qs;
        __m512i isum = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            /* chunk c: low nibbles are elements 64c..64c+31, high nibbles 64c+32..64c+63 */
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
            __m512i qw = _mm512_and_si512(join_i256(bytes, _mm256_srli_epi16(bytes, 4)), low4);
            __m512i p = _mm512_maddubs_epi16(qw, _mm512_loadu_si512((const void *)(y + 64 * c)));
            isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p, four_scales_i16(sc16, 4 * c)));
        }
        /* each min covers two 16-element bsums groups: add neighbouring bsums, then dot */
        const __m256i bsums = _mm256_loadu_si256((const __m256i *)x[i].bsums);
        const __m128i pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
        const __m128i mins = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)mn8));
        const int32_t msum = x86_hsum_i32x4(_mm_madd_epi16(pairs, mins));
        const float dx = x[i].d;
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(dx * x86_fp16_to_f32(w[i].d)), acc);
        min_terms += dx * x86_fp16_to_f32(w[i].dmin) * (float)msum;
    }
    *s = _mm512_reduce_add_ps(acc) - min_terms;
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
    float sum = 0.0f;
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
            __m512i p_lo = _mm512_maddubs_epi16(q_lo, _mm512_loadu_si512((const void *)(y + 128 * h)));
            __m512i p_hi = _mm512_maddubs_epi16(q_hi, _mm512_loadu_si512((const void *)(y + 128 * h + 64)));
            isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p_lo, four_scales_i16(sc16, 8 * h)));
            isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p_hi, four_scales_i16(sc16, 8 * h + 4)));
        }
        /* the -32 offset of the quants, through the activation group sums */
        __m256i off = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)x[i].bsums), sc16);
        int32_t total = _mm512_reduce_add_epi32(isum) - 32 * x86_hsum_i32x8(off);
        sum += x[i].d * x86_fp16_to_f32(w[i].d) * (float)total;
    }
    *s = sum;
}

/* ------------------------------------------------------------------------------------
 * Float vectors: 16 lanes, tails through masked loads (no scalar remainder loop)
 * ---------------------------------------------------------------------------------- */

static inline __mmask16 tail_mask(int64_t left) {
    return (__mmask16)((1u << left) - 1u); /* left < 16 */
}

static float dot_f32_avx512(const float *a, const float *b, int64_t n) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
    }
    for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

static inline __m512 load_f16x16(const sealm_fp16 *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

static inline __m512 load_f16_tail(const sealm_fp16 *p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

static float dot_f16_avx512(const sealm_fp16 *a, const sealm_fp16 *b, int64_t n) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm512_fmadd_ps(load_f16x16(a + i), load_f16x16(b + i), acc0);
        acc1 = _mm512_fmadd_ps(load_f16x16(a + i + 16), load_f16x16(b + i + 16), acc1);
    }
    for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(load_f16x16(a + i), load_f16x16(b + i), acc0);
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        acc1 = _mm512_fmadd_ps(load_f16_tail(a + i, m), load_f16_tail(b + i, m), acc1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

static void vec_dot_f32_avx512(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    *s = dot_f32_avx512(w, x, n);
}

static void vec_dot_f16_avx512(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    *s = dot_f16_avx512(w, x, n);
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
    table[SEALM_TYPE_Q8_0].vec_dot = vec_dot_q8_0_q8_0_avx512;
    table[SEALM_TYPE_Q4_0].vec_dot = vec_dot_q4_0_q8_0_avx512;
    table[SEALM_TYPE_Q4_1].vec_dot = vec_dot_q4_1_q8_1_avx512;
    table[SEALM_TYPE_Q4_K].vec_dot = vec_dot_q4_K_q8_K_avx512;
    table[SEALM_TYPE_Q6_K].vec_dot = vec_dot_q6_K_q8_K_avx512;
    table[SEALM_TYPE_F32].vec_dot = vec_dot_f32_avx512;
    table[SEALM_TYPE_F16].vec_dot = vec_dot_f16_avx512;

    table[SEALM_TYPE_F16].from_float_fast = quantize_row_f16_avx512;

    ops->dot_f32 = dot_f32_avx512;
    ops->dot_f16 = dot_f16_avx512;
    ops->axpy_f16 = axpy_f16_avx512;
    ops->fp32_to_fp16_row = fp32_to_fp16_row_avx512;
    ops->fp16_to_fp32_row = fp16_to_fp32_row_avx512;
}
