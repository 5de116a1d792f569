/* AVX2 kernels: quantized dot products, activation quantizers and vector ops.
 *
 * Compiled with -mavx2 -mfma -mf16c -mbmi2 only (CMakeLists.txt); cpu.c installs them
 * after checking the CPU has those features. The quantized dot products are in
 * quant_avx2_dots.h, shared with the AVX-VNNI build (quant_avxvnni.c). The float types
 * add their terms in the reference's order (quant_ref.h, "accumulation order"), so they
 * return the very same bits: lane-16 is two 8-lane FMA accumulators reduced in the pinned
 * order (tests/engine/test_kernels.c checks it). */
#include "engine/elementwise.h"
#include "engine/quant_avx2_dots.h"
#include "engine/quant_simd.h"
#include "engine/simd_x86.h"

#include <math.h>

/* ------------------------------------------------------------------------------------
 * Float formats
 * ---------------------------------------------------------------------------------- */

/* The lane-16 order (quant_ref.h): lanes 0..7 accumulate in acc0, lanes 8..15 in acc1,
 * each with one FMA per 16 elements. The last n % 16 elements (count, already widened to
 * float in ta/tb) go to lanes 0..count-1 by scalar fmaf, leaving the other lanes as they
 * are; then the lanes are reduced in the pinned order. */
static inline float lane16_finish_avx2(__m256 acc0, __m256 acc1, const float *ta, const float *tb, int count) {
    if (count > 0) {
        float lanes[16];
        _mm256_storeu_ps(lanes, acc0);
        _mm256_storeu_ps(lanes + 8, acc1);
        for (int j = 0; j < count; j++) lanes[j] = fmaf(ta[j], tb[j], lanes[j]);
        acc0 = _mm256_loadu_ps(lanes);
        acc1 = _mm256_loadu_ps(lanes + 8);
    }
    return x86_lane16_sum(acc0, acc1);
}

static float dot_f32_avx2(const float *a, const float *b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    return lane16_finish_avx2(acc0, acc1, a + i, b + i, (int)(n - i));
}

/* The untiled F32 order (sealm_f32_vec_dot_untiled): four 16-lane accumulators, k taking
 * elements 16k..16k+15 of every whole 64-element step, folded lane by lane as
 * (acc0 + acc2) + (acc1 + acc3), reduced as lane-16; then the tail's products, each
 * rounded and added in turn (no FMA: the build does not contract a*b + c). Here each
 * 16-lane accumulator is two ymm registers (lanes 0..7, 8..15). */
static float dot_f32_untiled_avx2(const float *a, const float *b, int64_t n) {
    __m256 lo[4], hi[4];
    for (int k = 0; k < 4; k++) lo[k] = hi[k] = _mm256_setzero_ps();
    const int64_t body = n & ~(int64_t)63;
    for (int64_t i = 0; i < body; i += 64)
        for (int k = 0; k < 4; k++) {
            const int64_t j = i + 16 * k;
            lo[k] = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), lo[k]);
            hi[k] = _mm256_fmadd_ps(_mm256_loadu_ps(a + j + 8), _mm256_loadu_ps(b + j + 8), hi[k]);
        }
    const __m256 l = _mm256_add_ps(_mm256_add_ps(lo[0], lo[2]), _mm256_add_ps(lo[1], lo[3]));
    const __m256 h = _mm256_add_ps(_mm256_add_ps(hi[0], hi[2]), _mm256_add_ps(hi[1], hi[3]));
    float sum = x86_lane16_sum(l, h);
    for (int64_t i = body; i < n; i++) {
        const float p = a[i] * b[i];
        sum += p;
    }
    return sum;
}

static inline __m256 load_f16x8(const sealm_fp16 *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static float dot_f16_avx2(const sealm_fp16 *a, const sealm_fp16 *b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(load_f16x8(a + i), load_f16x8(b + i), acc0);
        acc1 = _mm256_fmadd_ps(load_f16x8(a + i + 8), load_f16x8(b + i + 8), acc1);
    }
    float ta[16], tb[16];
    const int count = (int)(n - i);
    for (int j = 0; j < count; j++) {
        ta[j] = x86_fp16_to_f32(a[i + j]);
        tb[j] = x86_fp16_to_f32(b[i + j]);
    }
    return lane16_finish_avx2(acc0, acc1, ta, tb, count);
}

/* bfloat16 is the top half of a float32: widen to 32 bits and shift into place. */
static inline __m256 load_bf16x8(const sealm_bf16 *p) {
    __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

static inline float bf16_to_f32(sealm_bf16 h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static float dot_bf16_avx2(const sealm_bf16 *a, const sealm_bf16 *b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(load_bf16x8(a + i), load_bf16x8(b + i), acc0);
        acc1 = _mm256_fmadd_ps(load_bf16x8(a + i + 8), load_bf16x8(b + i + 8), acc1);
    }
    float ta[16], tb[16];
    const int count = (int)(n - i);
    for (int j = 0; j < count; j++) {
        ta[j] = bf16_to_f32(a[i + j]);
        tb[j] = bf16_to_f32(b[i + j]);
    }
    return lane16_finish_avx2(acc0, acc1, ta, tb, count);
}

static void vec_dot_f32_avx2(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    *s = dot_f32_avx2(w, x, n);
}

static void vec_dot_f16_avx2(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    *s = dot_f16_avx2(w, x, n);
}

static void vec_dot_bf16_avx2(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    *s = dot_bf16_avx2(w, x, n);
}

/* Four lane-16 dots side by side (as the quantized x4 kernels above): 16 elements of every
 * chain per step, then each chain's tail and reduction exactly as its single version. */
static void vec_dot_x4_f32_avx2(int64_t n, float *restrict s, const void *const vw[4], const void *const vx[4]) {
    const float *w0 = vw[0], *w1 = vw[1], *w2 = vw[2], *w3 = vw[3];
    const float *x0 = vx[0], *x1 = vx[1], *x2 = vx[2], *x3 = vx[3];
    __m256 lo0 = _mm256_setzero_ps(), lo1 = lo0, lo2 = lo0, lo3 = lo0;
    __m256 hi0 = lo0, hi1 = lo0, hi2 = lo0, hi3 = lo0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        lo0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i), _mm256_loadu_ps(x0 + i), lo0);
        hi0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i + 8), _mm256_loadu_ps(x0 + i + 8), hi0);
        lo1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i), _mm256_loadu_ps(x1 + i), lo1);
        hi1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i + 8), _mm256_loadu_ps(x1 + i + 8), hi1);
        lo2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i), _mm256_loadu_ps(x2 + i), lo2);
        hi2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i + 8), _mm256_loadu_ps(x2 + i + 8), hi2);
        lo3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i), _mm256_loadu_ps(x3 + i), lo3);
        hi3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i + 8), _mm256_loadu_ps(x3 + i + 8), hi3);
    }
    const int count = (int)(n - i);
    s[0] = lane16_finish_avx2(lo0, hi0, w0 + i, x0 + i, count);
    s[1] = lane16_finish_avx2(lo1, hi1, w1 + i, x1 + i, count);
    s[2] = lane16_finish_avx2(lo2, hi2, w2 + i, x2 + i, count);
    s[3] = lane16_finish_avx2(lo3, hi3, w3 + i, x3 + i, count);
}

/* The tail of an F16 lane-16 dot: the last count (< 16) elements widened, then the
 * reduction, as dot_f16_avx2 ends. */
static inline float f16_finish_avx2(__m256 lo, __m256 hi, const sealm_fp16 *a, const sealm_fp16 *b, int count) {
    float ta[16], tb[16];
    for (int j = 0; j < count; j++) {
        ta[j] = x86_fp16_to_f32(a[j]);
        tb[j] = x86_fp16_to_f32(b[j]);
    }
    return lane16_finish_avx2(lo, hi, ta, tb, count);
}

static void vec_dot_x4_f16_avx2(int64_t n, float *restrict s, const void *const vw[4], const void *const vx[4]) {
    const sealm_fp16 *w0 = vw[0], *w1 = vw[1], *w2 = vw[2], *w3 = vw[3];
    const sealm_fp16 *x0 = vx[0], *x1 = vx[1], *x2 = vx[2], *x3 = vx[3];
    __m256 lo0 = _mm256_setzero_ps(), lo1 = lo0, lo2 = lo0, lo3 = lo0;
    __m256 hi0 = lo0, hi1 = lo0, hi2 = lo0, hi3 = lo0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        lo0 = _mm256_fmadd_ps(load_f16x8(w0 + i), load_f16x8(x0 + i), lo0);
        hi0 = _mm256_fmadd_ps(load_f16x8(w0 + i + 8), load_f16x8(x0 + i + 8), hi0);
        lo1 = _mm256_fmadd_ps(load_f16x8(w1 + i), load_f16x8(x1 + i), lo1);
        hi1 = _mm256_fmadd_ps(load_f16x8(w1 + i + 8), load_f16x8(x1 + i + 8), hi1);
        lo2 = _mm256_fmadd_ps(load_f16x8(w2 + i), load_f16x8(x2 + i), lo2);
        hi2 = _mm256_fmadd_ps(load_f16x8(w2 + i + 8), load_f16x8(x2 + i + 8), hi2);
        lo3 = _mm256_fmadd_ps(load_f16x8(w3 + i), load_f16x8(x3 + i), lo3);
        hi3 = _mm256_fmadd_ps(load_f16x8(w3 + i + 8), load_f16x8(x3 + i + 8), hi3);
    }
    const int count = (int)(n - i);
    s[0] = f16_finish_avx2(lo0, hi0, w0 + i, x0 + i, count);
    s[1] = f16_finish_avx2(lo1, hi1, w1 + i, x1 + i, count);
    s[2] = f16_finish_avx2(lo2, hi2, w2 + i, x2 + i, count);
    s[3] = f16_finish_avx2(lo3, hi3, w3 + i, x3 + i, count);
}

/* y += a*x */
static void axpy_f16_avx2(float *y, float a, const sealm_fp16 *x, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_f16x8(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x86_fp16_to_f32(x[i]);
}

/* F16C conversions round to nearest even, as the scalar sealm_fp32_to_fp16 does. */
static void fp32_to_fp16_row_avx2(const float *x, sealm_fp16 *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

static void fp16_to_fp32_row_avx2(const sealm_fp16 *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, load_f16x8(x + i));
    for (; i < n; i++) y[i] = x86_fp16_to_f32(x[i]);
}

static void quantize_row_f16_avx2(const float *restrict x, void *restrict y, int64_t n) {
    fp32_to_fp16_row_avx2(x, y, n);
}

/* ------------------------------------------------------------------------------------
 * Activation quantizers (must produce the very blocks the scalar ones do)
 * ---------------------------------------------------------------------------------- */

/* One 32-element Q8_0-style block: d = max|x|/127, q = round(x·127/max|x|) with halves to
 * even (rintf), like the scalar code. Stores the quants and returns sum(q)
 * (for Q8_1); *d_out gets d as float (the caller rounds it to fp16). */
static inline int32_t quantize_block32_avx2(const float *x, float *d_out, int8_t *q_out) {
    const float amax = x86_absmax_f32x32(x);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; k++)
        q[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    _mm256_storeu_si256((__m256i *)q_out, x86_pack_i32x32_to_i8(q[0], q[1], q[2], q[3]));
    *d_out = d;
    __m256i total = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    return x86_hsum_i32x8(total);
}

static void quantize_row_q8_0_avx2(const float *restrict x, void *restrict vy, int64_t n) {
    block_q8_0 *y = vy;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        float d;
        (void)quantize_block32_avx2(x + i * QK8_0, &d, y[i].qs);
        y[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
    }
}

static void quantize_row_q8_1_avx2(const float *restrict x, void *restrict vy, int64_t n) {
    block_q8_1 *y = vy;
    const int64_t nb = n / QK8_1;
    for (int64_t i = 0; i < nb; i++) {
        float d;
        int32_t sum = quantize_block32_avx2(x + i * QK8_1, &d, y[i].qs);
        y[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        /* s uses the float d before its rounding to fp16, as the scalar code does */
        y[i].s = _cvtss_sh((float)sum * d, _MM_FROUND_TO_NEAREST_INT);
    }
}

/* Q8_K: the scale comes from the element of largest magnitude (the first one, on ties),
 * keeping its sign: iscale = -127/max, so that element maps to -127; q = nearest(iscale*x)
 * with halves to even (as the hardware's default rounding), capped at 127. d = 1/iscale. */
static void quantize_row_q8_K_avx2(const float *restrict x, void *restrict vy, int64_t n) {
    block_q8_K *y = vy;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float amax = 0.0f;
        for (int j = 0; j < QK_K; j += 32) {
            float m = x86_absmax_f32x32(x + j);
            if (m > amax) amax = m;
        }
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        /* find the first element whose magnitude is amax, to get its sign */
        const __m256 vamax = _mm256_set1_ps(amax);
        const __m256 sign_bit = _mm256_set1_ps(-0.0f);
        float max = amax;
        for (int j = 0; j < QK_K; j += 8) {
            __m256 eq = _mm256_cmp_ps(_mm256_andnot_ps(sign_bit, _mm256_loadu_ps(x + j)), vamax, _CMP_EQ_OQ);
            int mask = _mm256_movemask_ps(eq);
            if (mask) {
                max = x[j + __builtin_ctz((unsigned)mask)];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const __m256 vis = _mm256_set1_ps(iscale);
        const __m256i cap = _mm256_set1_epi32(127);
        for (int j = 0; j < QK_K; j += 32) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + j + 8 * k), vis);
                q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)), cap);
            }
            _mm256_storeu_si256((__m256i *)(y[i].qs + j), x86_pack_i32x32_to_i8(q[0], q[1], q[2], q[3]));
            y[i].bsums[j / 16] = (int16_t)x86_hsum_i32x8(_mm256_add_epi32(q[0], q[1]));
            y[i].bsums[j / 16 + 1] = (int16_t)x86_hsum_i32x8(_mm256_add_epi32(q[2], q[3]));
        }
        y[i].d = 1.0f / iscale;
    }
}

/* ------------------------------------------------------------------------------------
 * The pinned elementwise steps (elementwise.h), here built with -mfma: fmaf becomes one
 * instruction instead of a libm call, with the same exactly rounded result.
 * ---------------------------------------------------------------------------------- */

static double softmax_exp_avx2(float *scores, int32_t n, float max) { return sealm_ew_softmax_exp(scores, n, max); }
static void rope_avx2(float *x, int n_heads, int head_dim, int n_rot, bool neox, const float *c, const float *s) {
    sealm_ew_rope(x, n_heads, head_dim, n_rot, neox, c, s);
}

/* ------------------------------------------------------------------------------------ */

void sealm_kernels_install_avx2(sealm_type_traits table[SEALM_TYPE_COUNT], sealm_vec_ops *ops) {
    avx2_install_quantized_dots(table);   /* quant_avx2_dots.h */
    table[SEALM_TYPE_F32].vec_dot = vec_dot_f32_avx2;
    table[SEALM_TYPE_F16].vec_dot = vec_dot_f16_avx2;
    table[SEALM_TYPE_BF16].vec_dot = vec_dot_bf16_avx2;

    /* interleaved lane-16 dots for the float types */
    table[SEALM_TYPE_F32].vec_dot_x4 = vec_dot_x4_f32_avx2;
    table[SEALM_TYPE_F16].vec_dot_x4 = vec_dot_x4_f16_avx2;

    table[SEALM_TYPE_Q8_0].from_float_fast = quantize_row_q8_0_avx2;
    table[SEALM_TYPE_Q8_1].from_float_fast = quantize_row_q8_1_avx2;
    table[SEALM_TYPE_Q8_K].from_float_fast = quantize_row_q8_K_avx2;
    table[SEALM_TYPE_F16].from_float_fast = quantize_row_f16_avx2;

    ops->dot_f32 = dot_f32_avx2;
    ops->dot_f16 = dot_f16_avx2;
    ops->dot_f16_lane16 = dot_f16_avx2;
    ops->axpy_f16 = axpy_f16_avx2;
    ops->fp32_to_fp16_row = fp32_to_fp16_row_avx2;
    ops->fp16_to_fp32_row = fp16_to_fp32_row_avx2;
    ops->swiglu = sealm_swiglu_avx2;   /* elementwise_avx2.c */
    ops->softmax_exp = softmax_exp_avx2;
    ops->rope = rope_avx2;
    ops->dot_f32_untiled = dot_f32_untiled_avx2;
}
