/* NEON kernels for every aarch64 CPU: quantized and float dot products, activation
 * quantizers and vector ops.
 *
 * Compiled with -march=armv8-a (CMakeLists.txt), baseline ARMv8 NEON, so that CPUs without
 * the dot-product extension (Cortex-A53, A72) run it. The quantized dot products come from
 * quant_neon_dots.h and here take its widening-multiply path; quant_neon_dotprod.c builds
 * the same dot products with SDOT, and cpu.c installs those over these where the CPU has
 * the extension (the neon-dotprod level). The float terms are shared code either way.
 *
 * The float dot products add their terms in the reference's pinned "lane-16" order
 * (quant_ref.h): four float32x4 accumulators for lanes 0..3, 4..7, 8..11, 12..15. They and
 * the quantizers return exactly the scalar kernels' bits. */
#include "engine/quant_simd.h"
#include "engine/quant_neon_dots.h"

#if defined(__ARM_FEATURE_DOTPROD)
/* the baseline must run on every aarch64 CPU: an SDOT here would fault on a Cortex-A53 */
#error "quant_neon.c is the baseline ARMv8 build: compile it with -march=armv8-a (CMakeLists.txt)"
#endif

/* ------------------------------------------------------------------------------------
 * Float vectors
 * ---------------------------------------------------------------------------------- */

/* The lane-16 sum for lanes 0..3, 4..7, 8..11, 12..15 in a[0..3]: a_k = x_k + x_{k+8},
 * then the lane-8 sum of a, which is b_k = a_k + a_{k+4}, (b0+b2) + (b1+b3). */
static inline float neon_lane16_sum(const float32x4_t a[4]) {
    return neon_lane8_sum(vaddq_f32(a[0], a[2]), vaddq_f32(a[1], a[3]));
}

static inline float32x4_t load_f16_lo(const sealm_fp16 *p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

/* The lane-16 order (quant_ref.h) in four accumulators (lanes 0..3, 4..7, 8..11, 12..15),
 * one FMA each per 16 elements. The last n % 16 elements (count, widened to float in
 * ta/tb) go to lanes 0..count-1 by scalar fmaf, leaving the other lanes as they are. */
static inline float lane16_finish_neon(float32x4_t acc[4], const float *ta, const float *tb, int count) {
    if (count > 0) {
        float lanes[16];
        for (int k = 0; k < 4; k++) vst1q_f32(lanes + 4 * k, acc[k]);
        for (int j = 0; j < count; j++) lanes[j] = fmaf(ta[j], tb[j], lanes[j]);
        for (int k = 0; k < 4; k++) acc[k] = vld1q_f32(lanes + 4 * k);
    }
    return neon_lane16_sum(acc);
}

static float dot_f32_neon(const float *a, const float *b, int64_t n) {
    float32x4_t acc[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 4; k++) acc[k] = vfmaq_f32(acc[k], vld1q_f32(a + i + 4 * k), vld1q_f32(b + i + 4 * k));
    return lane16_finish_neon(acc, a + i, b + i, (int)(n - i));
}

static float dot_f16_neon(const sealm_fp16 *a, const sealm_fp16 *b, int64_t n) {
    float32x4_t acc[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 4; k++) acc[k] = vfmaq_f32(acc[k], load_f16_lo(a + i + 4 * k), load_f16_lo(b + i + 4 * k));
    float ta[16], tb[16];
    const int count = (int)(n - i);
    for (int j = 0; j < count; j++) {
        ta[j] = neon_fp16_to_f32(a[i + j]);
        tb[j] = neon_fp16_to_f32(b[i + j]);
    }
    return lane16_finish_neon(acc, ta, tb, count);
}

/* bfloat16 is the top half of a float32: widen with a 16-bit left shift. */
static inline float32x4_t load_bf16(const sealm_bf16 *p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
}

static float dot_bf16_neon(const sealm_bf16 *a, const sealm_bf16 *b, int64_t n) {
    float32x4_t acc[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 4; k++) acc[k] = vfmaq_f32(acc[k], load_bf16(a + i + 4 * k), load_bf16(b + i + 4 * k));
    float ta[16], tb[16];
    const int count = (int)(n - i);
    for (int j = 0; j < count; j++) {
        ta[j] = sealm_bf16_to_fp32(a[i + j]);
        tb[j] = sealm_bf16_to_fp32(b[i + j]);
    }
    return lane16_finish_neon(acc, ta, tb, count);
}

static void vec_dot_f32_neon(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    *s = dot_f32_neon(w, x, n);
}

static void vec_dot_f16_neon(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    *s = dot_f16_neon(w, x, n);
}

static void vec_dot_bf16_neon(int64_t n, float *restrict s, const void *restrict w, const void *restrict x) {
    *s = dot_bf16_neon(w, x, n);
}

/* y += a*x */
static void axpy_f16_neon(float *y, float a, const sealm_fp16 *x, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), load_f16_lo(x + i), a));
    for (; i < n; i++) y[i] += a * neon_fp16_to_f32(x[i]);
}

/* 4 halves -> floats, bit-exact with sealm_fp16_to_fp32 for every input. NaNs must come
 * out quiet with their payload; rather than rely on how the FPU (or an emulator) treats
 * signalling NaNs, lanes whose exponent is all ones (inf, NaN) are rebuilt with integer
 * ops: sign, all-ones exponent, the 10 payload bits moved to the top of the float
 * mantissa, and the quiet bit where the payload is not zero. */
static inline float32x4_t fp16x4_to_f32_exact(uint16x4_t h) {
    const float32x4_t converted = vcvt_f32_f16(vreinterpret_f16_u16(h));
    const uint32x4_t w = vmovl_u16(h);
    const uint32x4_t exp_mask = vdupq_n_u32(0x7c00);
    const uint32x4_t special = vceqq_u32(vandq_u32(w, exp_mask), exp_mask);
    const uint32x4_t sign = vshlq_n_u32(vandq_u32(w, vdupq_n_u32(0x8000)), 16);
    const uint32x4_t payload = vshlq_n_u32(vandq_u32(w, vdupq_n_u32(0x03ff)), 13);
    const uint32x4_t quiet = vandq_u32(vtstq_u32(w, vdupq_n_u32(0x03ff)), vdupq_n_u32(0x400000));
    const uint32x4_t rebuilt = vorrq_u32(vorrq_u32(sign, payload), vorrq_u32(quiet, vdupq_n_u32(0x7f800000)));
    return vbslq_f32(special, vreinterpretq_f32_u32(rebuilt), converted);
}

static void fp16_to_fp32_row_neon(const sealm_fp16 *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, fp16x4_to_f32_exact(vld1_u16(x + i)));
    for (; i < n; i++) y[i] = sealm_fp16_to_fp32(x[i]);
}

static void fp32_to_fp16_row_neon(const float *x, sealm_fp16 *y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
    for (; i < n; i++) y[i] = sealm_fp32_to_fp16(x[i]);
}

static void quantize_row_f16_neon(const float *restrict x, void *restrict y, int64_t n) {
    fp32_to_fp16_row_neon(x, y, n);
}

/* ------------------------------------------------------------------------------------
 * Activation quantizers: the very blocks the scalar ones produce. vcvtnq rounds halves
 * to even, as rintf does in the scalar code.
 * ---------------------------------------------------------------------------------- */

static inline float absmax32(const float *x) {
    float32x4_t m = vabsq_f32(vld1q_f32(x));
    for (int j = 4; j < 32; j += 4) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + j)));
    return vmaxvq_f32(m);
}

/* quantizes 32 floats with id = 127/max|x|, returns sum of the quants */
static inline int32_t quantize_block32_neon(const float *x, float id, int8_t *q) {
    int32x4_t total = vdupq_n_s32(0);
    for (int j = 0; j < 32; j += 8) {
        int32x4_t a = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + j), id));
        int32x4_t b = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + j + 4), id));
        total = vaddq_s32(total, vaddq_s32(a, b));
        int16x8_t ab = vcombine_s16(vmovn_s32(a), vmovn_s32(b)); /* values fit: |q| <= 127 */
        vst1_s8(q + j, vmovn_s16(ab));
    }
    return vaddvq_s32(total);
}

static void quantize_row_q8_0_neon(const float *restrict x, void *restrict vy, int64_t n) {
    block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / QK8_0; i++, x += QK8_0) {
        const float amax = absmax32(x);
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[i].d = sealm_fp32_to_fp16(d);
        (void)quantize_block32_neon(x, id, y[i].qs);
    }
}

static void quantize_row_q8_1_neon(const float *restrict x, void *restrict vy, int64_t n) {
    block_q8_1 *y = vy;
    for (int64_t i = 0; i < n / QK8_1; i++, x += QK8_1) {
        const float amax = absmax32(x);
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int32_t sum = quantize_block32_neon(x, id, y[i].qs);
        y[i].d = sealm_fp32_to_fp16(d);
        y[i].s = sealm_fp32_to_fp16((float)sum * d);
    }
}

static void quantize_row_q8_K_neon(const float *restrict x, void *restrict vy, int64_t n) {
    block_q8_K *y = vy;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float amax = 0.0f;
        for (int j = 0; j < QK_K; j += 32) {
            float m = absmax32(x + j);
            if (m > amax) amax = m;
        }
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float max = amax; /* the first element of largest magnitude, with its sign */
        for (int j = 0; j < QK_K; j++) {
            if (x[j] == amax || x[j] == -amax) {
                max = x[j];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const int32x4_t cap = vdupq_n_s32(127);
        for (int j = 0; j < QK_K; j += 16) {
            int32x4_t q[4];
            for (int k = 0; k < 4; k++)
                q[k] = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + j + 4 * k), iscale)), cap);
            int16x8_t q01 = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
            int16x8_t q23 = vcombine_s16(vmovn_s32(q[2]), vmovn_s32(q[3]));
            vst1q_s8(y[i].qs + j, vcombine_s8(vmovn_s16(q01), vmovn_s16(q23)));
            y[i].bsums[j / 16] = (int16_t)vaddvq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3])));
        }
        y[i].d = 1.0f / iscale;
    }
}

/* ------------------------------------------------------------------------------------ */

void sealm_kernels_install_neon(sealm_type_traits table[SEALM_TYPE_COUNT], sealm_vec_ops *ops) {
    neon_install_quantized_dots(table);
    table[SEALM_TYPE_F32].vec_dot = vec_dot_f32_neon;
    table[SEALM_TYPE_F16].vec_dot = vec_dot_f16_neon;
    table[SEALM_TYPE_BF16].vec_dot = vec_dot_bf16_neon;

    table[SEALM_TYPE_Q8_0].from_float_fast = quantize_row_q8_0_neon;
    table[SEALM_TYPE_Q8_1].from_float_fast = quantize_row_q8_1_neon;
    table[SEALM_TYPE_Q8_K].from_float_fast = quantize_row_q8_K_neon;
    table[SEALM_TYPE_F16].from_float_fast = quantize_row_f16_neon;

    ops->dot_f32 = dot_f32_neon;
    ops->dot_f16 = dot_f16_neon;
    ops->dot_f16_lane16 = dot_f16_neon;
    ops->axpy_f16 = axpy_f16_neon;
    ops->fp32_to_fp16_row = fp32_to_fp16_row_neon;
    ops->fp16_to_fp32_row = fp16_to_fp32_row_neon;
}
