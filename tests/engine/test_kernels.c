/* Tests of the quantization kernels (src/engine/quant_*.c, fp16.c, vec_ops.c, cpu.c):
 *  1. fp16 / bf16 conversions: exhaustive round trips, ties, known values, and (when the
 *     CPU has F16C) a million random floats against the hardware conversion.
 *  2. every weight type: quantize -> dequantize error within the type's bound, and the
 *     reference dot product against the float dot product within a derived bound.
 *  3. every SIMD level this CPU supports: vec_dot == vec_dot_ref (bit for bit for the
 *     types whose accumulation order is pinned, quant_ref.h; within rounding for the
 *     others), from_float_fast ~ from_float, vector ops == reference ops (dot_f16_lane16
 *     bit for bit). Where the CPU has the dot-product extension, the baseline and SDOT
 *     builds of the NEON quantized dot products against each other, bit for bit; where it
 *     has AVX-VNNI, likewise the AVX2 and AVX-VNNI builds (quant_avx2_dots.h), each level
 *     installing its own build.
 *  4. real tensors of the synth models (read with the gguf layer): through every level
 *     (bit for bit where pinned), and one tensor dequantized from differently quantized
 *     files must agree.
 * Data comes from a seeded PRNG, so failures reproduce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/mathfn.h"
#include "engine/quant.h"
#include "support/test_cpu.h"
#include "support/test_rng.h"
#include "sealm/gguf.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

/* ---- helpers ---- */


static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    assert_non_null(p);
    return p;
}

static const sealm_tensor_type weight_types[] = {
    SEALM_TYPE_F32, SEALM_TYPE_F16, SEALM_TYPE_BF16, SEALM_TYPE_Q4_0, SEALM_TYPE_Q4_1,
    SEALM_TYPE_Q5_0, SEALM_TYPE_Q5_1, SEALM_TYPE_Q8_0, SEALM_TYPE_Q2_K, SEALM_TYPE_Q3_K,
    SEALM_TYPE_Q4_K, SEALM_TYPE_Q5_K, SEALM_TYPE_Q6_K,
};
#define N_WEIGHT_TYPES (sizeof weight_types / sizeof weight_types[0])

static const sealm_tensor_type activation_types[] = {
    SEALM_TYPE_F32, SEALM_TYPE_F16, SEALM_TYPE_BF16, SEALM_TYPE_Q8_0, SEALM_TYPE_Q8_1, SEALM_TYPE_Q8_K,
};

static size_t row_bytes(const sealm_type_traits *tt, int64_t n) {
    return (size_t)(n / tt->block_elems) * tt->block_bytes;
}

/* ======================= 1. fp16 / bf16 ======================= */

/* An independent decoding of binary16: value = significand * 2^exponent, in double. */
static double fp16_value(uint16_t h) {
    int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    double v = exp == 0 ? ldexp(mant, -24) : ldexp(1024 + mant, exp - 25);
    return (h & 0x8000) ? -v : v;
}

static void test_fp16_exhaustive_round_trip(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = sealm_fp16_to_fp32((sealm_fp16)h);
        const int exp = (h >> 10) & 0x1f;
        if (exp == 0x1f && (h & 0x3ff) != 0) {
            /* NaN stays NaN with the same sign and payload, made quiet (as F16C does) */
            assert_true(isnan(f));
            assert_int_equal(f2u(f), ((h & 0x8000u) << 16) | 0x7fc00000u | ((h & 0x3ffu) << 13));
            assert_int_equal(sealm_fp32_to_fp16(f), h | 0x200);
            continue;
        }
        if (exp == 0x1f)
            assert_true(isinf(f) && (f < 0) == ((h & 0x8000) != 0));
        else
            assert_true((double)f == fp16_value((uint16_t)h));
        if ((double)f == 0.0)
            assert_int_equal(f2u(f), (h & 0x8000u) << 16);   /* signed zero kept */
        assert_int_equal(sealm_fp32_to_fp16(f), h);
    }
}

/* The float exactly halfway between two neighbouring halves must round to the one with an
 * even mantissa; a hair either side must go to the nearer one. 65504's upper neighbour is
 * 65536 (infinity), so 65520 rounds to infinity. */
static void test_fp16_ties_to_even(void **state) {
    (void)state;
    for (uint32_t sign = 0; sign <= 0x8000; sign += 0x8000) {
        for (uint32_t h = 0; h < 0x7c00; h++) {
            const uint32_t lo = h | sign, hi = (h + 1) | sign;
            const double vlo = fp16_value((uint16_t)lo);
            const double vhi = h + 1 == 0x7c00 ? (sign ? -65536.0 : 65536.0) : fp16_value((uint16_t)hi);
            const float mid = (float)((vlo + vhi) / 2);   /* 12 significant bits: exact */
            assert_true((double)mid == (vlo + vhi) / 2);
            assert_int_equal(sealm_fp32_to_fp16(mid), (h & 1) ? hi : lo);
            assert_int_equal(sealm_fp32_to_fp16(nextafterf(mid, (float)vlo)), lo);
            assert_int_equal(sealm_fp32_to_fp16(nextafterf(mid, (float)vhi)), hi);
        }
    }
}

static void test_fp16_known_values(void **state) {
    (void)state;
    assert_int_equal(sealm_fp32_to_fp16(1.0f), 0x3c00);
    assert_int_equal(sealm_fp32_to_fp16(-2.0f), 0xc000);
    assert_int_equal(sealm_fp32_to_fp16(0.1f), 0x2e66);
    assert_int_equal(sealm_fp32_to_fp16(1.0f / 3.0f), 0x3555);
    assert_int_equal(sealm_fp32_to_fp16(65504.0f), 0x7bff);
    assert_int_equal(sealm_fp32_to_fp16(65519.996f), 0x7bff);
    assert_int_equal(sealm_fp32_to_fp16(65520.0f), 0x7c00);
    assert_int_equal(sealm_fp32_to_fp16(1e10f), 0x7c00);
    assert_int_equal(sealm_fp32_to_fp16(-INFINITY), 0xfc00);
    assert_int_equal(sealm_fp32_to_fp16(0x1p-14f), 0x0400);        /* smallest normal */
    assert_int_equal(sealm_fp32_to_fp16(0x1p-24f), 0x0001);        /* smallest subnormal */
    assert_int_equal(sealm_fp32_to_fp16(0x1p-25f), 0x0000);        /* tie -> even (zero) */
    assert_int_equal(sealm_fp32_to_fp16(0x1.000002p-25f), 0x0001);
    assert_int_equal(sealm_fp32_to_fp16(0x1.8p-24f), 0x0002);      /* 1.5 ulp tie -> 2 */
    assert_int_equal(sealm_fp32_to_fp16(-0.0f), 0x8000);
    assert_int_equal(sealm_fp32_to_fp16(1e-30f), 0x0000);
    assert_int_equal(sealm_fp32_to_fp16(u2f(0x00000001)), 0x0000); /* float subnormal */
    assert_int_equal(sealm_fp32_to_fp16(u2f(0x7fc00000)), 0x7e00); /* quiet NaN */
    assert_int_equal(sealm_fp32_to_fp16(u2f(0xff800001)), 0xfe00); /* signalling -> quiet */
    assert_true(sealm_fp16_to_fp32(0x3c00) == 1.0f);
    assert_true(sealm_fp16_to_fp32(0x0001) == 0x1p-24f);
    assert_true(sealm_fp16_to_fp32(0x7bff) == 65504.0f);
    assert_true(sealm_fp16_to_fp32(0xc000) == -2.0f);
}

static void test_bf16(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = sealm_bf16_to_fp32((sealm_bf16)h);
        assert_int_equal(f2u(f), h << 16);
        if (isnan(f))
            assert_int_equal(sealm_fp32_to_bf16(f), h | 0x40);   /* quieted */
        else
            assert_int_equal(sealm_fp32_to_bf16(f), h);
    }
    assert_int_equal(sealm_fp32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(sealm_fp32_to_bf16(u2f(0x3f808000)), 0x3f80);   /* tie, even below */
    assert_int_equal(sealm_fp32_to_bf16(u2f(0x3f818000)), 0x3f82);   /* tie, even above */
    assert_int_equal(sealm_fp32_to_bf16(u2f(0x3f808001)), 0x3f81);
    assert_int_equal(sealm_fp32_to_bf16(u2f(0x3f807fff)), 0x3f80);
    assert_int_equal(sealm_fp32_to_bf16(u2f(0x7f7fffff)), 0x7f80);   /* overflow -> inf */
    assert_int_equal(sealm_fp32_to_bf16(u2f(0xbf7fffff)), 0xbf80);   /* carry into exponent */
    assert_int_equal(sealm_fp32_to_bf16(u2f(0x7f800001)), 0x7fc0);   /* sNaN -> qNaN */
    assert_int_equal(sealm_fp32_to_bf16(u2f(0xffc12345)), 0xffc1);
}

#if defined(__x86_64__)
static int cpu_has_f16c(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    return (c & (1u << 29)) && (c & (1u << 28)) && (c & (1u << 27));
}

__attribute__((target("f16c"))) static uint16_t hw_fp32_to_fp16(float f) {
    return (uint16_t)_cvtss_sh(f, 0);
}

__attribute__((target("f16c"))) static float hw_fp16_to_fp32(uint16_t h) {
    return _cvtsh_ss(h);
}
#endif

static void test_fp16_against_f16c(void **state) {
    (void)state;
#if defined(__x86_64__)
    if (!cpu_has_f16c()) {
        print_message("  no F16C on this CPU: hardware comparison not run\n");
        skip();
    }
    rng_seed(16);
    for (int i = 0; i < 1000000; i++) {
        float f;
        if (i & 1)
            f = u2f((uint32_t)rng_next());                     /* any bits: NaN, inf, tiny... */
        else
            f = rng_uniform(-1.0f, 1.0f) * ldexpf(1.0f, (int)(rng_next() % 48) - 30);  /* half range */
        const uint16_t mine = sealm_fp32_to_fp16(f), hw = hw_fp32_to_fp16(f);
        if (mine != hw)
            fail_msg("fp32 %08x -> fp16: ours %04x, F16C %04x", f2u(f), mine, hw);
    }
    for (uint32_t h = 0; h < 65536; h++)
        assert_int_equal(f2u(sealm_fp16_to_fp32((sealm_fp16)h)), f2u(hw_fp16_to_fp32((uint16_t)h)));
#else
    print_message("  not x86-64: hardware comparison not run\n");
    skip();
#endif
}

/* ======================= 2. quantization error and reference dots ======================= */

/* Largest |x - dequant(quant(x))| allowed in one block of the weight type t, from the
 * block's values. Each bound is the quantizer's step analysis, plus the fp16 rounding of
 * the stored scales (relative 2^-11), plus 1% for float rounding:
 *  F16/BF16: half an ulp of the value (2^-11 / 2^-8 relative; 2^-25 absolute for
 *    fp16 subnormals).
 *  Q4_0/Q5_0: the step is d = amax/8 (amax/16); rounding costs half a step except for the
 *    one clamped level (+8 -> 7), which costs a whole step; the fp16 d adds 8|d|2^-11.
 *  Q4_1/Q5_1: step (max-min)/15 (/31), half a step, plus fp16 d and m.
 *  Q8_0: half of amax/127, plus 127|d|2^-11.
 *  K-quants (the simple quantizers of quant_k.c): scales rounded up so nothing clamps;
 *    half a step, where the step grows by a factor (1 + 1/smax) from rounding the
 *    sub-block scale (and again from the min, for the asymmetric ones):
 *    Q2_K: R/3, Q4_K: R/15, Q5_K: R/31 (R = the widest sub-block range including 0),
 *    Q3_K: amax/3 (grid -3..3), Q6_K: amax/31. */
static double block_error_bound(sealm_tensor_type t, const float *x, int64_t n) {
    double amax = 0, mn = x[0], mx = x[0];
    for (int64_t i = 0; i < n; i++) {
        amax = fmax(amax, fabs(x[i]));
        mn = fmin(mn, x[i]);
        mx = fmax(mx, x[i]);
    }
    const double e16 = 0x1p-11;
    double r = 0;   /* widest sub-block range, including 0 (for the K-quants) */
    const int sub = (t == SEALM_TYPE_Q4_K || t == SEALM_TYPE_Q5_K) ? 32 : 16;
    if (t == SEALM_TYPE_Q2_K || t == SEALM_TYPE_Q4_K || t == SEALM_TYPE_Q5_K) {
        for (int64_t s = 0; s < n; s += sub) {
            double lo = 0, hi = x[s];
            for (int j = 0; j < sub; j++) {
                lo = fmin(lo, x[s + j]);
                hi = fmax(hi, x[s + j]);
            }
            r = fmax(r, hi - lo);
        }
    }
    double b;
    switch (t) {
    case SEALM_TYPE_F32: return 0.0;
    case SEALM_TYPE_F16: return amax * 0x1p-11 + 0x1p-25;
    case SEALM_TYPE_BF16: return amax * 0x1p-8;
    case SEALM_TYPE_Q4_0: b = amax / 8 * (1 + 8 * e16); break;
    case SEALM_TYPE_Q5_0: b = amax / 16 * (1 + 16 * e16); break;
    case SEALM_TYPE_Q4_1: b = (mx - mn) / 30 + (mx - mn) * e16 + fabs(mn) * e16; break;
    case SEALM_TYPE_Q5_1: b = (mx - mn) / 62 + (mx - mn) * e16 + fabs(mn) * e16; break;
    case SEALM_TYPE_Q8_0: b = amax / 254 + amax * e16; break;
    case SEALM_TYPE_Q2_K: b = 0.5 * r / 3 * pow(1 + 1.002 / 15, 2); break;
    case SEALM_TYPE_Q4_K: b = 0.5 * r / 15 * pow(1 + 1.002 / 63, 2); break;
    case SEALM_TYPE_Q5_K: b = 0.5 * r / 31 * pow(1 + 1.002 / 63, 2); break;
    case SEALM_TYPE_Q3_K: b = 0.5 * amax / 3 * (1 + 1.002 / 31); break;
    case SEALM_TYPE_Q6_K: b = 0.5 * amax / 31 * (1 + 1.002 / 127); break;
    default: fail_msg("no bound for type %d", (int)t); return 0;
    }
    return b * 1.01 + 1e-7 * amax;
}

/* Largest |a - dequant(quant(a))| of one element of an activation block (same analysis). */
static double activation_error_bound(sealm_tensor_type t, const float *a, int64_t n, int64_t i) {
    double amax = 0;
    for (int64_t j = 0; j < n; j++)
        amax = fmax(amax, fabs(a[j]));
    switch (t) {
    case SEALM_TYPE_F32: return 0.0;
    case SEALM_TYPE_F16: return fabs(a[i]) * 0x1p-11 + 0x1p-25;
    case SEALM_TYPE_BF16: return fabs(a[i]) * 0x1p-8;
    case SEALM_TYPE_Q8_0:
    case SEALM_TYPE_Q8_1: return (amax / 254 + amax * 0x1p-11) * 1.01;
    case SEALM_TYPE_Q8_K: return amax / 254 * 1.001;   /* float scale: no fp16 term */
    default: fail_msg("no bound for activation type %d", (int)t); return 0;
    }
}

/* Fills x with uniform values in [-scale, scale), sometimes shifted off-centre so that the
 * asymmetric types (mins) get exercised. */
static void random_row(float *x, int64_t n, float scale, float shift) {
    for (int64_t i = 0; i < n; i++)
        x[i] = (rng_uniform(-1.0f, 1.0f) + shift) * scale;
}

/* fp16 rows for the lane-16 dot: uniform values, or (wide) values spread over 2^-12..2^12
 * so that any change in the order of the additions changes the rounded result. */
static void random_f16_row(sealm_fp16 *h, int64_t n, int wide) {
    for (int64_t i = 0; i < n; i++) {
        float v = rng_uniform(-4.0f, 4.0f);
        if (wide)
            v = ldexpf(v, (int)(rng_next() % 25) - 12);
        h[i] = sealm_fp32_to_fp16(v);
    }
}

static void check_weight_type(sealm_tensor_type t, int64_t n, float scale, float shift) {
    const sealm_type_traits *tt = sealm_type_traits_get(t);
    assert_non_null(tt);
    const sealm_type_traits *at = sealm_type_traits_get(tt->vec_dot_type);
    assert_non_null(at);
    assert_non_null(tt->from_float);
    assert_non_null(at->from_float);

    float *x = xmalloc((size_t)n * sizeof *x), *xr = xmalloc((size_t)n * sizeof *xr);
    float *a = xmalloc((size_t)n * sizeof *a), *ar = xmalloc((size_t)n * sizeof *ar);
    void *w = xmalloc(row_bytes(tt, n)), *aq = xmalloc(row_bytes(at, n));
    random_row(x, n, scale, shift);
    random_row(a, n, 1.0f, 0.0f);

    /* reconstruction error, block by block */
    tt->from_float(x, w, n);
    tt->to_float(w, xr, n);
    const int64_t be = t == SEALM_TYPE_F32 || t == SEALM_TYPE_F16 || t == SEALM_TYPE_BF16 ? 32 : tt->block_elems;
    double worst_ratio = 0;
    for (int64_t b0 = 0; b0 < n; b0 += be) {
        for (int64_t i = b0; i < b0 + be; i++) {
            const double bound = t == SEALM_TYPE_F16 || t == SEALM_TYPE_BF16
                ? block_error_bound(t, &x[i], 1) : block_error_bound(t, &x[b0], be);
            const double err = fabs((double)x[i] - xr[i]);
            if (err > bound)
                fail_msg("%s n=%lld: element %lld: %g reconstructed as %g, error %g > bound %g",
                         tt->name, (long long)n, (long long)i, x[i], xr[i], err, bound);
            if (bound > 0)
                worst_ratio = fmax(worst_ratio, err / bound);
        }
    }

    /* the dot product: against the dequantized operands it is exact up to float
     * accumulation; against the float activations it may also differ by the activation
     * quantization error, at most sum |w_i| * e_i */
    at->from_float(a, aq, n);
    at->to_float(aq, ar, n);
    float s = 0;
    tt->vec_dot_ref(n, &s, w, aq);
    double dot_q = 0, dot_x = 0, mag = 0, quant_err = 0, s_term = 0;
    for (int64_t i = 0; i < n; i++) {
        dot_q += (double)xr[i] * ar[i];
        dot_x += (double)xr[i] * a[i];
        mag += fabs((double)xr[i] * ar[i]);
        const int64_t ab = at->block_elems > 1 ? at->block_elems : 1;
        quant_err += fabs((double)xr[i]) * activation_error_bound(tt->vec_dot_type, &a[i / ab * ab], ab, i % ab);
    }
    if (tt->vec_dot_type == SEALM_TYPE_Q8_1) {
        /* Q8_1 stores s = d*sum(q) rounded to fp16: the weight min's term m*s carries a
         * relative error of 2^-11, |m| <= the block's largest |weight| */
        for (int64_t b0 = 0; b0 < n; b0 += QK8_1) {
            double wmax = 0, asum = 0;
            for (int j = 0; j < QK8_1; j++) {
                wmax = fmax(wmax, fabs((double)xr[b0 + j]));
                asum += ar[b0 + j];
            }
            s_term += wmax * fabs(asum) * 0x1p-11 * 1.01;
        }
    }
    /* float accumulation of n/block partial sums: relative 1e-5 of the magnitude is far
     * above sqrt(blocks) * 2^-24 and far below any real layout or arithmetic error */
    const double tol_q = 1e-5 * mag + s_term + 1e-30;
    if (fabs(s - dot_q) > tol_q)
        fail_msg("%s n=%lld: vec_dot_ref %.9g, dot of dequantized rows %.9g (tolerance %g)",
                 tt->name, (long long)n, s, dot_q, tol_q);
    const double tol_x = quant_err + tol_q;
    if (fabs(s - dot_x) > tol_x)
        fail_msg("%s n=%lld: vec_dot_ref %.9g, float dot %.9g (tolerance %g)",
                 tt->name, (long long)n, s, dot_x, tol_x);
    if (n == 4096 && scale == 1.0f && shift == 0.0f)
        print_message("  %-5s worst error/bound %.3f, dot vs float %.2e (bound %.2e)\n",
                      tt->name, worst_ratio, fabs(s - dot_x), tol_x);

    free(x); free(xr); free(a); free(ar); free(w); free(aq);
}

static void test_weight_types(void **state) {
    (void)state;
    sealm_kernels_set_level(SEALM_SIMD_SCALAR);
    rng_seed(2);
    const int64_t sizes[] = {512, 4096};
    const float scales[][2] = {{1.0f, 0.0f}, {0.03f, 0.5f}, {40.0f, -0.3f}};
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++)
        for (size_t k = 0; k < 2; k++)
            for (size_t r = 0; r < 3; r++)
                check_weight_type(weight_types[t], sizes[k], scales[r][0], scales[r][1]);
}

/* A zero row quantizes to zeros (no division by a zero scale) and dots to zero. */
static void test_zero_rows(void **state) {
    (void)state;
    const int64_t n = 512;
    float x[512] = {0}, xr[512];
    static uint8_t w[4096], aq[4096];
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        const sealm_type_traits *tt = sealm_type_traits_get(weight_types[t]);
        const sealm_type_traits *at = sealm_type_traits_get(tt->vec_dot_type);
        tt->from_float(x, w, n);
        tt->to_float(w, xr, n);
        for (int64_t i = 0; i < n; i++)
            assert_true(xr[i] == 0.0f);
        at->from_float(x, aq, n);
        float s = 1.0f;
        tt->vec_dot_ref(n, &s, w, aq);
        assert_true(s == 0.0f);
    }
}

/* Spot checks of the layouts against values worked out by hand from the format. */
static void test_layout_spots(void **state) {
    (void)state;
    float y[QK_K];
    /* Q4_0: byte j holds element j (low nibble) and j+16 (high nibble), x = d (q - 8) */
    block_q4_0 b40 = {.d = 0x4000 /* 2.0 */};
    for (int j = 0; j < 16; j++)
        b40.qs[j] = (uint8_t)(j | ((15 - j) << 4));
    sealm_type_traits_get(SEALM_TYPE_Q4_0)->to_float(&b40, y, 32);
    for (int j = 0; j < 16; j++) {
        assert_true(y[j] == 2.0f * (float)(j - 8));
        assert_true(y[j + 16] == 2.0f * (float)(7 - j));
    }
    /* Q5_0: bit j of the little-endian qh word is element j's 5th bit */
    block_q5_0 b50 = {.d = 0x3c00, .qh = {0x01, 0x00, 0x00, 0x80}};
    memset(b50.qs, 0, sizeof b50.qs);
    sealm_type_traits_get(SEALM_TYPE_Q5_0)->to_float(&b50, y, 32);
    for (int j = 0; j < 32; j++)
        assert_true(y[j] == (j == 0 || j == 31 ? 0.0f : -16.0f));
    /* Q6_K: scales are signed; q = 0 in storage means -32 */
    block_q6_K b6;
    memset(&b6, 0, sizeof b6);
    b6.d = 0x3c00;
    b6.scales[3] = -2;
    sealm_type_traits_get(SEALM_TYPE_Q6_K)->to_float(&b6, y, QK_K);
    for (int e = 0; e < QK_K; e++)
        assert_true(y[e] == (e / 16 == 3 ? 64.0f : 0.0f));
    /* Q3_K: all scale bits zero means scale -32; hmask bit clear means q - 4 */
    block_q3_K b3;
    memset(&b3, 0, sizeof b3);
    b3.d = 0x3c00;
    sealm_type_traits_get(SEALM_TYPE_Q3_K)->to_float(&b3, y, QK_K);
    for (int e = 0; e < QK_K; e++)
        assert_true(y[e] == 128.0f);
    /* Q4_K: sub-block 5's scale is the low nibble of byte 9 plus bits 6-7 of byte 1 */
    block_q4_K b4;
    memset(&b4, 0, sizeof b4);
    b4.d = 0x3c00;
    b4.scales[9] = 0x03;
    b4.scales[1] = 0x40;     /* scale 5 = 3 | 1<<4 = 19 */
    memset(b4.qs, 0x11, sizeof b4.qs);
    sealm_type_traits_get(SEALM_TYPE_Q4_K)->to_float(&b4, y, QK_K);
    for (int e = 0; e < QK_K; e++)
        assert_true(y[e] == (e / 32 == 5 ? 19.0f : 0.0f));
}

/* The reference lane-16 dot: the same order as the F16 weight dot (quant_float.c), so the
 * two must agree bit for bit at every length, and it is a dot product (close to the exact
 * one in double; products of halves are exact in float, so only the additions round). */
static void test_dot_f16_lane16_ref(void **state) {
    (void)state;
    const sealm_vec_ops *ref = sealm_vec_ops_ref();
    const sealm_type_traits *f16 = sealm_type_traits_get(SEALM_TYPE_F16);
    assert_non_null(ref->dot_f16_lane16);
    rng_seed(17);
    sealm_fp16 a[300], b[300];
    for (int64_t n = 1; n <= 300; n++) {
        random_f16_row(a, n, (int)(n & 1));
        random_f16_row(b, n, 0);
        const float r = ref->dot_f16_lane16(a, b, n);
        float w = 0;
        f16->vec_dot_ref(n, &w, a, b);
        assert_memory_equal(&r, &w, sizeof r);
        double exact = 0, mag = 0;
        for (int64_t i = 0; i < n; i++) {
            exact += (double)sealm_fp16_to_fp32(a[i]) * sealm_fp16_to_fp32(b[i]);
            mag += fabs((double)sealm_fp16_to_fp32(a[i]) * sealm_fp16_to_fp32(b[i]));
        }
        assert_true(fabs(r - exact) <= 1e-6 * mag + 1e-30);
    }
    /* Worked by hand: product 1 at element 0, 2^-24 at elements 16..31 (lanes 0..15).
     * Lane 0 = 1 + 2^-24, a tie that rounds to 1; lanes 1..15 = 2^-24. Then
     * a_k = x_k + x_{k+8}: a_0 = 1 (tie again), a_1..7 = 2^-23; b_k = a_k + a_{k+4}:
     * b_0 = 1 + 2^-23, b_1..3 = 2^-22; (b0+b2) + (b1+b3) = (1 + 3*2^-23) + 2^-21
     * = 1 + 7*2^-23. (Summed in index order it would be 1; exactly, 1 + 8*2^-23.) */
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    a[0] = b[0] = sealm_fp32_to_fp16(1.0f);
    for (int i = 16; i < 32; i++) a[i] = b[i] = sealm_fp32_to_fp16(0x1p-12f);
    const float got = ref->dot_f16_lane16(a, b, 32);
    assert_true(got == 1.0f + 7 * 0x1p-23f);
}

/* ======================= 3. SIMD levels against the references ======================= */

/* Weight blocks of random bytes with sane fp16 scales: every bit pattern of the quants and
 * sub-block scales (negative Q3_K/Q6_K scales, large mins) gets exercised. */
static void random_blocks(sealm_tensor_type t, void *w, int64_t n) {
    const sealm_type_traits *tt = sealm_type_traits_get(t);
    const int64_t nb = n / tt->block_elems;
    uint8_t *p = w;
    for (size_t i = 0; i < row_bytes(tt, n); i++)
        p[i] = (uint8_t)rng_next();
    for (int64_t i = 0; i < nb; i++) {
        const sealm_fp16 d = sealm_fp32_to_fp16(rng_uniform(-0.02f, 0.02f));
        const sealm_fp16 d_pos = sealm_fp32_to_fp16(rng_uniform(0.0f, 0.01f));
        const sealm_fp16 m = sealm_fp32_to_fp16(rng_uniform(-0.2f, 0.2f));
        switch (t) {
        case SEALM_TYPE_F32: ((float *)w)[i] = rng_uniform(-1, 1); break;
        case SEALM_TYPE_F16: ((sealm_fp16 *)w)[i] = sealm_fp32_to_fp16(rng_uniform(-1, 1)); break;
        case SEALM_TYPE_BF16: ((sealm_bf16 *)w)[i] = sealm_fp32_to_bf16(rng_uniform(-1, 1)); break;
        case SEALM_TYPE_Q4_0: ((block_q4_0 *)w)[i].d = d; break;
        case SEALM_TYPE_Q4_1: ((block_q4_1 *)w)[i].d = d; ((block_q4_1 *)w)[i].m = m; break;
        case SEALM_TYPE_Q5_0: ((block_q5_0 *)w)[i].d = d; break;
        case SEALM_TYPE_Q5_1: ((block_q5_1 *)w)[i].d = d; ((block_q5_1 *)w)[i].m = m; break;
        case SEALM_TYPE_Q8_0: ((block_q8_0 *)w)[i].d = d; break;
        case SEALM_TYPE_Q2_K: ((block_q2_K *)w)[i].d = d_pos; ((block_q2_K *)w)[i].dmin = d_pos; break;
        case SEALM_TYPE_Q3_K: ((block_q3_K *)w)[i].d = d; break;
        case SEALM_TYPE_Q4_K: ((block_q4_K *)w)[i].d = d_pos; ((block_q4_K *)w)[i].dmin = d_pos; break;
        case SEALM_TYPE_Q5_K: ((block_q5_K *)w)[i].d = d_pos; ((block_q5_K *)w)[i].dmin = d_pos; break;
        case SEALM_TYPE_Q6_K: ((block_q6_K *)w)[i].d = d; break;
        default: fail_msg("random_blocks: type %d", (int)t);
        }
    }
}

/* The types whose float accumulation order is pinned (quant_ref.h, "accumulation order"):
 * every SIMD level must return exactly the reference's bits. */
static int order_is_pinned(sealm_tensor_type t) {
    switch (t) {
    case SEALM_TYPE_Q8_0: case SEALM_TYPE_Q4_0: case SEALM_TYPE_Q4_1: case SEALM_TYPE_Q4_K:
    case SEALM_TYPE_Q6_K: case SEALM_TYPE_F32: case SEALM_TYPE_F16: case SEALM_TYPE_BF16:
        return 1;
    default:
        return 0;
    }
}

/* The inputs of one dot product of type t over n elements: a weight row (random blocks, or
 * a quantized random row) and an activation row quantized by the reference quantizer, so
 * every kernel sees the same bytes. Both malloc'd. */
typedef struct dot_inputs {
    void *w, *aq;
} dot_inputs;

static dot_inputs make_dot_inputs(sealm_tensor_type t, int64_t n, int random_bits) {
    const sealm_type_traits *tt = sealm_type_traits_get(t);
    const sealm_type_traits *at = sealm_type_traits_get(tt->vec_dot_type);
    dot_inputs in = {xmalloc(row_bytes(tt, n)), xmalloc(row_bytes(at, n))};
    float *x = xmalloc((size_t)n * sizeof *x);
    if (random_bits) {
        random_blocks(t, in.w, n);
    } else {
        random_row(x, n, 0.5f, 0.2f);
        tt->from_float(x, in.w, n);
    }
    random_row(x, n, 2.0f, 0.0f);
    at->from_float(x, in.aq, n);
    free(x);
    return in;
}

/* Pinned types: vec_dot and vec_dot_ref give the same bits (memcmp, so -0/+0 count too).
 * Others: |fast - ref| within 1e-5 of the sum of |terms| (accumulation order differs). */
static void check_vec_dot_level(sealm_tensor_type t, int64_t n, int random_bits) {
    const sealm_type_traits *tt = sealm_type_traits_get(t);
    const sealm_type_traits *at = sealm_type_traits_get(tt->vec_dot_type);
    float *xr = xmalloc((size_t)n * sizeof *xr), *ar = xmalloc((size_t)n * sizeof *ar);
    const dot_inputs in = make_dot_inputs(t, n, random_bits);
    void *w = in.w, *aq = in.aq;
    tt->to_float(w, xr, n);
    at->to_float(aq, ar, n);
    double mag = 0;
    for (int64_t i = 0; i < n; i++)
        mag += fabs((double)xr[i] * ar[i]);
    float s_ref = 0, s_fast = 0;
    tt->vec_dot_ref(n, &s_ref, w, aq);
    tt->vec_dot(n, &s_fast, w, aq);
    if (order_is_pinned(t) && memcmp(&s_fast, &s_ref, sizeof s_ref) != 0)
        fail_msg("%s n=%lld (%s): vec_dot %a, vec_dot_ref %a: the pinned order must give the same bits",
                 tt->name, (long long)n, random_bits ? "random blocks" : "quantized row", s_fast, s_ref);
    const double tol = 1e-5 * mag + 1e-30;
    if (fabs((double)s_fast - s_ref) > tol)
        fail_msg("%s n=%lld (%s): vec_dot %.9g, vec_dot_ref %.9g, tolerance %g",
                 tt->name, (long long)n, random_bits ? "random blocks" : "quantized row",
                 s_fast, s_ref, tol);
    free(xr); free(ar); free(w); free(aq);
}

/* A pinned type at lengths that exercise every path of the SIMD kernels: a single block,
 * odd block counts (the tail of a kernel that pairs or batches blocks), the common row
 * lengths, and one block past a power of two; the float types (block of 1) also every
 * length up to 100 (partial 16-lane chunks) and 4099. Quantized rows and random blocks. */
static void check_vec_dot_pinned(sealm_tensor_type t) {
    static const int64_t n32[] = {32, 64, 96, 160, 256, 576, 768, 1536, 4096 + 32};
    static const int64_t n256[] = {256, 512, 768, 1280, 1536, 2048, 4096};
    const sealm_type_traits *tt = sealm_type_traits_get(t);
    if (tt->block_elems == 1) {
        for (int64_t n = 1; n <= 100; n++)
            check_vec_dot_level(t, n, (int)(n & 1));
        check_vec_dot_level(t, 4096, 0);
        check_vec_dot_level(t, 4099, 1);
        return;
    }
    const int64_t *ns = tt->block_elems == QK_K ? n256 : n32;
    const size_t count = tt->block_elems == QK_K ? sizeof n256 / sizeof n256[0] : sizeof n32 / sizeof n32[0];
    for (size_t k = 0; k < count; k++) {
        check_vec_dot_level(t, ns[k], 0);
        check_vec_dot_level(t, ns[k], 1);
        check_vec_dot_level(t, ns[k], 1);
    }
}

/* vec_dot_x4 against four vec_dot calls of the same level, bit for bit, for every type
 * (the default x4 calls vec_dot; the interleaved kernels must reproduce each chain), in the
 * three shapes the engine uses or could: (a) four rows times one activation (decode),
 * (b) one row times four activations (prefill), (c) four unrelated pairs. Rows alternate
 * between quantized values and random blocks; s starts as NaN so an unwritten result
 * fails too. */
static void check_vec_dot_x4_n(sealm_tensor_type t, int64_t n) {
    const sealm_type_traits *tt = sealm_type_traits_get(t);
    const sealm_type_traits *at = sealm_type_traits_get(tt->vec_dot_type);
    assert_non_null(tt->vec_dot_x4);
    const size_t wb = row_bytes(tt, n), ab = row_bytes(at, n);
    float *f = xmalloc((size_t)n * sizeof *f);
    void *w[4], *x[4];
    for (int r = 0; r < 4; r++) {
        w[r] = xmalloc(wb);
        x[r] = xmalloc(ab);
        if (r & 1) {
            random_blocks(t, w[r], n);
        } else {
            random_row(f, n, 0.5f, 0.1f * (float)r);
            tt->from_float(f, w[r], n);
        }
        random_row(f, n, 2.0f, 0.0f);
        at->from_float(f, x[r], n);
    }
    static const char *const shape_names[3] = {"4 rows x 1 activation", "1 row x 4 activations", "4 pairs"};
    for (int shape = 0; shape < 3; shape++) {
        const void *ws[4], *xs[4];
        for (int r = 0; r < 4; r++) {
            ws[r] = shape == 1 ? w[0] : w[r];
            xs[r] = shape == 0 ? x[0] : x[r];
        }
        float want[4], got[4];
        for (int r = 0; r < 4; r++) {
            tt->vec_dot(n, &want[r], ws[r], xs[r]);
            got[r] = NAN;
        }
        tt->vec_dot_x4(n, got, ws, xs);
        for (int r = 0; r < 4; r++) {
            if (memcmp(&got[r], &want[r], sizeof got[r]) != 0)
                fail_msg("%s n=%lld, %s: vec_dot_x4 result %d is %a, vec_dot gives %a", tt->name, (long long)n,
                         shape_names[shape], r, got[r], want[r]);
            /* and, for the pinned orders, straight against the scalar reference too, so an
             * x4 kernel cannot pass by matching a wrong vec_dot of its own level */
            float ref = NAN;
            tt->vec_dot_ref(n, &ref, ws[r], xs[r]);
            if (order_is_pinned(t) && memcmp(&got[r], &ref, sizeof ref) != 0)
                fail_msg("%s n=%lld, %s: vec_dot_x4 result %d is %a, vec_dot_ref gives %a", tt->name,
                         (long long)n, shape_names[shape], r, got[r], ref);
        }
        /* the four products differ, so a kernel that mixed up its operands would show */
        assert_true(want[0] != want[1] || want[1] != want[2] || want[2] != want[3]);
    }
    for (int r = 0; r < 4; r++) {
        free(w[r]);
        free(x[r]);
    }
    free(f);
}

/* The lengths of check_vec_dot_pinned, for every type, plus every block count up to 8 (the
 * kernels that take blocks four at a time have a tail of 1, 2 or 3 blocks after 0, 1 or
 * more whole groups). */
static void check_vec_dot_x4(sealm_tensor_type t) {
    static const int64_t n32[] = {32, 64, 96, 128, 160, 192, 224, 256, 576, 768, 1536, 4096 + 32};
    static const int64_t n256[] = {256, 512, 768, 1280, 1536, 2048, 4096};
    const sealm_type_traits *tt = sealm_type_traits_get(t);
    if (tt->block_elems == 1) {
        for (int64_t n = 1; n <= 100; n++)
            check_vec_dot_x4_n(t, n);
        check_vec_dot_x4_n(t, 4096);
        check_vec_dot_x4_n(t, 4099);
        return;
    }
    const int64_t *ns = tt->block_elems == QK_K ? n256 : n32;
    const size_t count = tt->block_elems == QK_K ? sizeof n256 / sizeof n256[0] : sizeof n32 / sizeof n32[0];
    for (size_t k = 0; k < count; k++)
        check_vec_dot_x4_n(t, ns[k]);
}

/* matvec, where the level has one, against vec_dot_ref row by row, bit for bit: 12 rows
 * (three groups of four) against one activation, rows alternating between quantized values
 * and random blocks, every block count up to 8 (a tail of 1, 2 or 3 after 0, 1 or more
 * whole groups of four), the model widths, the longest row the kernel arranges in one table
 * (16384) and one block past it (its four-at-a-time fallback). s starts as NaN so an
 * unwritten result fails too. */
static void check_matvec(sealm_tensor_type t) {
    const sealm_type_traits *tt = sealm_type_traits_get(t);
    if (!tt->matvec)
        return;
    const sealm_type_traits *at = sealm_type_traits_get(tt->vec_dot_type);
    enum { ROWS = 12 };
    static const int64_t blocks[] = {1, 2, 3, 4, 5, 6, 7, 8, 18, 48, 512, 513};
    for (size_t k = 0; k < sizeof blocks / sizeof blocks[0]; k++) {
        const int64_t n = blocks[k] * tt->block_elems;
        const size_t wb = row_bytes(tt, n);
        float *f = xmalloc((size_t)n * sizeof *f);
        uint8_t *w = xmalloc(wb * ROWS);
        void *x = xmalloc(row_bytes(at, n));
        for (int r = 0; r < ROWS; r++) {
            if (r & 1) {
                random_blocks(t, w + (size_t)r * wb, n);
            } else {
                random_row(f, n, 0.5f, 0.05f * (float)r);
                tt->from_float(f, w + (size_t)r * wb, n);
            }
        }
        random_row(f, n, 2.0f, 0.0f);
        at->from_float(f, x, n);
        float got[ROWS];
        for (int r = 0; r < ROWS; r++) got[r] = NAN;
        tt->matvec(n, ROWS, got, w, wb, x);
        for (int r = 0; r < ROWS; r++) {
            float ref = NAN;
            tt->vec_dot_ref(n, &ref, w + (size_t)r * wb, x);
            if (memcmp(&got[r], &ref, sizeof ref) != 0)
                fail_msg("%s n=%lld: matvec row %d is %a, vec_dot_ref gives %a", tt->name, (long long)n, r, got[r],
                         ref);
        }
        assert_true(got[0] != got[1] || got[1] != got[4] || got[4] != got[11]);
        free(f);
        free(w);
        free(x);
    }
}

static int fp16_ulps_apart(sealm_fp16 a, sealm_fp16 b) {
    /* same sign assumed (both come from the same amax) */
    return abs((int)(a & 0x7fff) - (int)(b & 0x7fff)) + ((a ^ b) & 0x8000 ? 1000 : 0);
}

/* from_float_fast against from_float on the same input. F32/F16/BF16 must be bit-exact
 * (conversions are exactly specified). The Q8 formats may differ by one unit of rounding:
 * the scale by one ulp (the SIMD code may compute 127/amax rather than 1/(amax/127)), each
 * quant by at most 1 (a value sitting at a rounding tie), Q8_1's s by the changed quants
 * plus one fp16 ulp; and Q8_K's bsums must be the sums of its own quants exactly. */
static void check_from_float_level(sealm_tensor_type t, int64_t n) {
    const sealm_type_traits *at = sealm_type_traits_get(t);
    float *a = xmalloc((size_t)n * sizeof *a);
    const size_t bytes = row_bytes(at, n);
    uint8_t *ref = xmalloc(bytes), *fast = xmalloc(bytes);
    random_row(a, n, 3.0f, 0.0f);
    for (int64_t i = 0; i < n; i += 97)
        a[i] = 0.0f;                      /* exact zeros */
    /* a block whose scale is exactly 1 and whose values sit on rounding ties (k + 0.5):
     * where round-half-away and round-half-even part ways */
    for (int j = 0; j < 31; j++)
        a[32 + j] = (float)(j - 15) - 0.5f;
    a[63] = 127.0f;
    at->from_float(a, ref, n);
    at->from_float_fast(a, fast, n);
    switch (t) {
    case SEALM_TYPE_F32: case SEALM_TYPE_F16: case SEALM_TYPE_BF16:
        assert_memory_equal(ref, fast, bytes);
        break;
    case SEALM_TYPE_Q8_0: case SEALM_TYPE_Q8_1:
        for (int64_t i = 0; i < n / 32; i++) {
            const int8_t *qr, *qf;
            if (t == SEALM_TYPE_Q8_0) {
                const block_q8_0 *br = (const block_q8_0 *)ref + i, *bf = (const block_q8_0 *)fast + i;
                assert_true(fp16_ulps_apart(br->d, bf->d) <= 1);
                qr = br->qs; qf = bf->qs;
            } else {
                const block_q8_1 *br = (const block_q8_1 *)ref + i, *bf = (const block_q8_1 *)fast + i;
                assert_true(fp16_ulps_apart(br->d, bf->d) <= 1);
                qr = br->qs; qf = bf->qs;
                int changed = 0, sum_f = 0;
                for (int j = 0; j < 32; j++) {
                    changed += abs(qr[j] - qf[j]);
                    sum_f += qf[j];
                }
                const double d = sealm_fp16_to_fp32(bf->d);
                const double s_ref = sealm_fp16_to_fp32(br->s), s_fast = sealm_fp16_to_fp32(bf->s);
                assert_true(fabs(s_fast - s_ref) <= (changed + 1) * d * 1.01 + fabs(s_ref) * 0x1p-10);
                assert_true(fabs(s_fast - d * sum_f) <= fabs(d * sum_f) * 0x1p-10 + 1e-30);
            }
            for (int j = 0; j < 32; j++)
                assert_true(abs(qr[j] - qf[j]) <= 1);
        }
        break;
    case SEALM_TYPE_Q8_K:
        for (int64_t i = 0; i < n / QK_K; i++) {
            const block_q8_K *br = (const block_q8_K *)ref + i, *bf = (const block_q8_K *)fast + i;
            assert_true(fabsf(br->d - bf->d) <= fabsf(br->d) * 0x1p-22f);
            for (int j = 0; j < QK_K; j++)
                assert_true(abs(br->qs[j] - bf->qs[j]) <= 1);
            for (int g = 0; g < QK_K / 16; g++) {
                int sum = 0;
                for (int j = 0; j < 16; j++)
                    sum += bf->qs[16 * g + j];
                assert_int_equal(bf->bsums[g], sum);
            }
        }
        break;
    default:
        fail_msg("from_float check: type %d", (int)t);
    }
    free(a); free(ref); free(fast);
}

/* sealm_expf scales its polynomial by 2^n with one exact multiply where the result is a
 * normal float and by scalbnf elsewhere; across the boundary (|n| = 125, 126) and into
 * subnormals and overflow it must stay within 2 ulps of exp, monotone, and 0 / inf past
 * the ends. */
static void test_expf_range(void **state) {
    (void)state;
    float prev = 0.0f;
    for (float x = -104.0f; x <= 88.71f; x += 0.00390625f) {
        const float got = sealm_expf(x);
        const double want = exp((double)x);
        const double ulp = want < 0x1p-126 ? 0x1p-149 : want * 0x1p-23;
        if (fabs((double)got - want) > 2.0 * ulp)
            fail_msg("sealm_expf(%a) = %a, exp gives %a", x, got, want);
        assert_true(got >= prev);
        prev = got;
    }
    assert_true(sealm_expf(-200.0f) == 0.0f);
    assert_true(isinf(sealm_expf(200.0f)));
    assert_true(sealm_expf(0.0f) == 1.0f);
}

/* The pinned elementwise ops (swiglu, softmax_exp, rope) of the installed level against
 * the scalar ones, bit for bit: every level must run the same operations (it may only use
 * a hardware FMA where the scalar build calls libm's fmaf). Inputs span exp's whole range,
 * underflow to subnormals and overflow included. */
static void check_elementwise_level(void) {
    const sealm_vec_ops *ops = sealm_vec_ops_get(), *ref = sealm_vec_ops_ref();
    const int64_t n = 1000;
    float *g1 = xmalloc(n * 4), *g2 = xmalloc(n * 4), *u = xmalloc(n * 4);
    float cs[32], sn[32];
    for (int span = 0; span < 4; span++) {
        const float scale = span == 0 ? 1.0f : span == 1 ? 20.0f : span == 2 ? 100.0f : 200.0f;
        random_row(g1, n, scale, 0.0f);
        random_row(u, n, 2.0f, 0.0f);
        memcpy(g2, g1, n * 4);
        ops->swiglu(g1, u, n);
        ref->swiglu(g2, u, n);
        assert_memory_equal(g1, g2, n * 4);
        random_row(g1, n, scale, 0.0f);
        memcpy(g2, g1, n * 4);
        float max = -INFINITY;
        for (int64_t i = 0; i < n; i++) if (g1[i] > max) max = g1[i];
        for (int32_t len = 1; len <= 1000; len += 111) {
            const double s1 = ops->softmax_exp(g1, len, max), s2 = ref->softmax_exp(g2, len, max);
            assert_memory_equal(&s1, &s2, sizeof s1);
            assert_memory_equal(g1, g2, (size_t)len * 4);
        }
        random_row(g1, n, scale, 0.0f);
        memcpy(g2, g1, n * 4);
        random_row(cs, 32, 1.0f, 0.0f);
        random_row(sn, 32, 1.0f, 0.0f);
        ops->rope(g1, 9, 64, 64, span & 1, cs, sn);
        ref->rope(g2, 9, 64, 64, span & 1, cs, sn);
        assert_memory_equal(g1, g2, 9 * 64 * 4);
    }
    free(g1); free(g2); free(u);
}

static void check_vec_ops_level(void) {
    const sealm_vec_ops *ops = sealm_vec_ops_get(), *ref = sealm_vec_ops_ref();
    const int64_t lengths[] = {1, 7, 15, 16, 31, 33, 64, 100, 257, 1000, 4099};
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        const int64_t n = lengths[k];
        float *a = xmalloc((size_t)n * 4), *b = xmalloc((size_t)n * 4);
        float *y1 = xmalloc((size_t)n * 4), *y2 = xmalloc((size_t)n * 4);
        sealm_fp16 *ha = xmalloc((size_t)n * 2), *hb = xmalloc((size_t)n * 2), *h2 = xmalloc((size_t)n * 2);
        random_row(a, n, 4.0f, 0.0f);
        random_row(b, n, 4.0f, 0.0f);
        ref->fp32_to_fp16_row(a, ha, n);
        ref->fp32_to_fp16_row(b, hb, n);
        double mag32 = 0, mag16 = 0;
        for (int64_t i = 0; i < n; i++) {
            mag32 += fabs((double)a[i] * b[i]);
            mag16 += fabs((double)sealm_fp16_to_fp32(ha[i]) * sealm_fp16_to_fp32(hb[i]));
        }
        assert_true(fabs((double)ops->dot_f32(a, b, n) - ref->dot_f32(a, b, n)) <= 1e-5 * mag32 + 1e-30);
        assert_true(fabs((double)ops->dot_f16(ha, hb, n) - ref->dot_f16(ha, hb, n)) <= 1e-5 * mag16 + 1e-30);
        /* axpy: one fused or two rounded operations per element: 2 ulps of the operands */
        memcpy(y1, b, (size_t)n * 4);
        memcpy(y2, b, (size_t)n * 4);
        ops->axpy_f16(y1, 0.37f, ha, n);
        ref->axpy_f16(y2, 0.37f, ha, n);
        for (int64_t i = 0; i < n; i++)
            assert_true(fabsf(y1[i] - y2[i]) <= (fabsf(b[i]) + fabsf(0.37f * sealm_fp16_to_fp32(ha[i]))) * 0x1p-22f);
        /* conversions: bit-exact, specials included */
        if (n > 8) {
            a[0] = INFINITY; a[1] = -0.0f; a[2] = 65520.0f; a[3] = 0x1p-25f;
            a[4] = 0x1.8p-24f; a[5] = u2f(0x7fc00000); a[6] = -1e-30f; a[7] = 65519.0f;
        }
        ops->fp32_to_fp16_row(a, h2, n);
        ref->fp32_to_fp16_row(a, ha, n);
        assert_memory_equal(h2, ha, (size_t)n * 2);
        ops->fp16_to_fp32_row(ha, y1, n);
        ref->fp16_to_fp32_row(ha, y2, n);
        assert_memory_equal(y1, y2, (size_t)n * 4);
        free(a); free(b); free(y1); free(y2); free(ha); free(hb); free(h2);
    }
    /* every fp16 value through the installed row conversion */
    sealm_fp16 *all = xmalloc(65536 * 2);
    float *f1 = xmalloc(65536 * 4), *f2 = xmalloc(65536 * 4);
    for (uint32_t h = 0; h < 65536; h++)
        all[h] = (sealm_fp16)h;
    ops->fp16_to_fp32_row(all, f1, 65536);
    ref->fp16_to_fp32_row(all, f2, 65536);
    assert_memory_equal(f1, f2, 65536 * 4);
    free(all); free(f1); free(f2);
}

/* dot_f16_lane16 of the installed level against the reference, bit for bit, at every
 * length up to 100 (every partial last chunk) and a few long ones; plus rows whose
 * products are all zeros of either sign (the sign of a zero result must agree too). */
static void check_dot_f16_lane16_level(void) {
    const sealm_vec_ops *ops = sealm_vec_ops_get(), *ref = sealm_vec_ops_ref();
    assert_non_null(ops->dot_f16_lane16);
    const int64_t max_n = 4099;
    sealm_fp16 *a = xmalloc((size_t)max_n * 2), *b = xmalloc((size_t)max_n * 2);
    for (int64_t n = 1; n <= max_n; n = n < 100 ? n + 1 : (n < 4096 ? 4096 : n + 3)) {
        for (int wide = 0; wide < 2; wide++) {
            random_f16_row(a, n, wide);
            random_f16_row(b, n, wide);
            const float r = ref->dot_f16_lane16(a, b, n), f = ops->dot_f16_lane16(a, b, n);
            if (memcmp(&r, &f, sizeof r) != 0)
                fail_msg("dot_f16_lane16 n=%lld%s: %a, reference %a", (long long)n, wide ? " (wide)" : "", f, r);
        }
    }
    for (int64_t n = 1; n <= 40; n++) {
        for (int64_t i = 0; i < n; i++) {
            a[i] = (i & 1) ? 0x8000 : 0x0000;      /* -0 / +0 */
            b[i] = sealm_fp32_to_fp16(rng_uniform(-1.0f, 1.0f));
        }
        const float r = ref->dot_f16_lane16(a, b, n), f = ops->dot_f16_lane16(a, b, n);
        assert_true(r == 0.0f);
        assert_memory_equal(&r, &f, sizeof r);
    }
    free(a);
    free(b);
}

/* The installed untiled F32 dot (rows not a multiple of 16: tiny models' FFN) against the
 * scalar order of sealm_f32_vec_dot_untiled, bit for bit, for lengths around every
 * 64-element step and tail; also through the weight-row wrapper model.c installs. Values
 * span several binades so that a different order of the adds would round differently. */
static void check_dot_f32_untiled_level(void) {
    const sealm_vec_ops *ops = sealm_vec_ops_get();
    assert_non_null(ops->dot_f32_untiled);
    const int64_t max_n = 1100;
    float *a = xmalloc((size_t)max_n * sizeof(float)), *b = xmalloc((size_t)max_n * sizeof(float));
    int differs_from_plain_sum = 0;
    for (int64_t n = 1; n <= max_n; n = n < 300 ? n + 1 : n + 97) {
        for (int64_t i = 0; i < n; i++) {
            a[i] = rng_uniform(-1.0f, 1.0f) * ldexpf(1.0f, (int)(rng_next() % 16) - 8);
            b[i] = rng_uniform(-1.0f, 1.0f);
        }
        float r, f, w;
        sealm_f32_vec_dot_untiled(n, &r, a, b);
        f = ops->dot_f32_untiled(a, b, n);
        sealm_f32_vec_dot_untiled_fast(n, &w, a, b);
        if (memcmp(&r, &f, sizeof r) != 0 || memcmp(&r, &w, sizeof r) != 0)
            fail_msg("dot_f32_untiled n=%lld: %a (row wrapper %a), reference %a", (long long)n, f, w, r);
        float plain = 0.0f;   /* one sequential chain: a different order, to show the test can tell */
        for (int64_t i = 0; i < n; i++) plain = fmaf(a[i], b[i], plain);
        differs_from_plain_sum += memcmp(&plain, &r, sizeof r) != 0;
    }
    assert_true(differs_from_plain_sum > 0);
    free(a);
    free(b);
}

static void test_simd_levels(void **state) {
    (void)state;
    const sealm_simd_level initial = sealm_kernels_init();
    int tested = 0;
    /* the scalar level's vec_dot_x4 entries, to check that leaving a SIMD level restores them */
    sealm_vec_dot_x4_fn scalar_x4[N_WEIGHT_TYPES];
    assert_int_equal(sealm_kernels_set_level(SEALM_SIMD_SCALAR), SEALM_SIMD_SCALAR);
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++)
        scalar_x4[t] = sealm_type_traits_get(weight_types[t])->vec_dot_x4;
    for (int l = SEALM_SIMD_SCALAR; l <= SEALM_SIMD_NEON_DOTPROD; l++) {
        const sealm_simd_level got = sealm_kernels_set_level((sealm_simd_level)l);
        if (got != (sealm_simd_level)l) {
            print_message("  %s: not supported here, not tested\n", sealm_simd_level_name((sealm_simd_level)l));
            continue;
        }
        print_message("  %s: comparing with the scalar references\n", sealm_simd_level_name(got));
        rng_seed(300 + (uint64_t)l);
        for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
            check_vec_dot_x4(weight_types[t]);
            check_matvec(weight_types[t]);
        }
        /* Q4_0's matvec at every x86 level: so check_matvec cannot pass by finding none */
        if (got == SEALM_SIMD_AVX2 || got == SEALM_SIMD_AVX_VNNI || got == SEALM_SIMD_AVX512)
            assert_non_null(sealm_type_traits_get(SEALM_TYPE_Q4_0)->matvec);
        for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
            if (order_is_pinned(weight_types[t])) {
                check_vec_dot_pinned(weight_types[t]);
                continue;
            }
            check_vec_dot_level(weight_types[t], 256, 0);
            check_vec_dot_level(weight_types[t], 4096, 0);
            check_vec_dot_level(weight_types[t], 4096, 1);
        }
        for (size_t t = 0; t < sizeof activation_types / sizeof activation_types[0]; t++) {
            check_from_float_level(activation_types[t], 256);
            check_from_float_level(activation_types[t], 4096);
        }
        check_vec_ops_level();
        check_elementwise_level();
        check_dot_f16_lane16_level();
        check_dot_f32_untiled_level();
        tested++;
    }
    assert_true(tested >= 1);
    assert_int_equal(sealm_kernels_set_level(SEALM_SIMD_SCALAR), SEALM_SIMD_SCALAR);
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        assert_true(sealm_type_traits_get(weight_types[t])->vec_dot_x4 == scalar_x4[t]);
        assert_null(sealm_type_traits_get(weight_types[t])->matvec);
    }
    assert_int_equal(sealm_kernels_set_level(initial), initial);
}

/* The two NEON builds of the quantized dot products (quant_neon_dots.h, compiled for
 * baseline ARMv8 and with SDOT) against each other: the same bits for every quantized type,
 * pinned or not, since SDOT and the widening path leave the same exact integer lanes. Both
 * run where the CPU has the dot-product extension (neon can be forced there); elsewhere
 * neon-dotprod must be refused: the nearest level below on aarch64, scalar on x86-64. */
static void check_neon_builds_agree(sealm_tensor_type t, int64_t n, int random_bits) {
    const sealm_type_traits *tt = sealm_type_traits_get(t);
    const dot_inputs in = make_dot_inputs(t, n, random_bits);
    void *w = in.w, *aq = in.aq;
    float s_base = NAN, s_sdot = NAN;
    assert_int_equal(sealm_kernels_set_level(SEALM_SIMD_NEON), SEALM_SIMD_NEON);
    const sealm_vec_dot_fn base = tt->vec_dot;
    base(n, &s_base, w, aq);
    assert_int_equal(sealm_kernels_set_level(SEALM_SIMD_NEON_DOTPROD), SEALM_SIMD_NEON_DOTPROD);
    assert_true(tt->vec_dot != base);   /* the SDOT build is what runs now */
    tt->vec_dot(n, &s_sdot, w, aq);
    if (memcmp(&s_base, &s_sdot, sizeof s_base) != 0)
        fail_msg("%s n=%lld (%s): neon %a, neon-dotprod %a: the two builds must give the same bits",
                 tt->name, (long long)n, random_bits ? "random blocks" : "quantized row", s_base, s_sdot);
    free(w); free(aq);
}

static void test_neon_builds(void **state) {
    (void)state;
    const sealm_simd_level initial = sealm_kernels_init();
    const sealm_simd_level got = sealm_kernels_set_level(SEALM_SIMD_NEON_DOTPROD);
    if (got != SEALM_SIMD_NEON_DOTPROD) {
#if defined(__aarch64__)
        assert_true(got == SEALM_SIMD_NEON || got == SEALM_SIMD_SCALAR);
#else
        assert_int_equal(got, SEALM_SIMD_SCALAR);
#endif
        print_message("  neon-dotprod: not supported here (got %s), builds not compared\n",
                      sealm_simd_level_name(got));
        assert_int_equal(sealm_kernels_set_level(initial), initial);
        return;
    }
    static const int64_t n32[] = {32, 96, 160, 576, 4096 + 32};
    static const int64_t n256[] = {256, 768, 4096};
    rng_seed(700);
    int compared = 0;
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        const sealm_type_traits *tt = sealm_type_traits_get(weight_types[t]);
        if (tt->block_elems == 1)
            continue;   /* float types: one build only (quant_neon.c) */
        const int64_t *ns = tt->block_elems == QK_K ? n256 : n32;
        const size_t count = tt->block_elems == QK_K ? sizeof n256 / sizeof n256[0] : sizeof n32 / sizeof n32[0];
        for (size_t k = 0; k < count; k++) {
            check_neon_builds_agree(weight_types[t], ns[k], 0);
            check_neon_builds_agree(weight_types[t], ns[k], 1);
            compared += 2;
        }
    }
    assert_true(compared > 0);
    assert_int_equal(sealm_kernels_set_level(initial), initial);
}

/* The two x86 builds of the quantized dot products (quant_avx2_dots.h, compiled for AVX2
 * and with AVX-VNNI's vpdpbusd) against each other: the same bits for every quantized type,
 * pinned or not. Where /proc/cpuinfo lists avx_vnni (with avx2, fma, f16c) the avx-vnni
 * level must be reached and install its own build over every quantized vec_dot (and only
 * those: the float kernels stay AVX2's), while avx2 keeps the plain one; elsewhere avx-vnni
 * must be refused: avx2 where the CPU has it, else scalar. */
static void check_avx_builds_agree(sealm_tensor_type t, int64_t n, int random_bits) {
    const sealm_type_traits *tt = sealm_type_traits_get(t);
    const dot_inputs in = make_dot_inputs(t, n, random_bits);
    void *w = in.w, *aq = in.aq;
    float s_avx2 = NAN, s_vnni = NAN;
    assert_int_equal(sealm_kernels_set_level(SEALM_SIMD_AVX2), SEALM_SIMD_AVX2);
    const sealm_vec_dot_fn plain = tt->vec_dot;
    plain(n, &s_avx2, w, aq);
    assert_int_equal(sealm_kernels_set_level(SEALM_SIMD_AVX_VNNI), SEALM_SIMD_AVX_VNNI);
    assert_true(tt->vec_dot != plain);   /* the AVX-VNNI build is what runs now */
    tt->vec_dot(n, &s_vnni, w, aq);
    if (memcmp(&s_avx2, &s_vnni, sizeof s_avx2) != 0)
        fail_msg("%s n=%lld (%s): avx2 %a, avx-vnni %a: the two builds must give the same bits",
                 tt->name, (long long)n, random_bits ? "random blocks" : "quantized row", s_avx2, s_vnni);
    free(w); free(aq);
}

static void test_avx_vnni_builds(void **state) {
    (void)state;
    const sealm_simd_level initial = sealm_kernels_init();
    const sealm_simd_level got = sealm_kernels_set_level(SEALM_SIMD_AVX_VNNI);
#if defined(__x86_64__)
    const int avx2 = test_cpu_has_flag("avx2"), vnni = test_cpu_has_flag("avx_vnni");
    assert_true(avx2 >= 0 && vnni >= 0);   /* /proc/cpuinfo must say */
    const int can = avx2 == 1 && vnni == 1 && test_cpu_has_flag("fma") == 1 && test_cpu_has_flag("f16c") == 1;
    if (can) assert_int_equal(got, SEALM_SIMD_AVX_VNNI);
#endif
    if (got != SEALM_SIMD_AVX_VNNI) {
#if defined(__x86_64__)
        assert_true(got == SEALM_SIMD_AVX2 || got == SEALM_SIMD_SCALAR);
        assert_int_equal(got, sealm_kernels_set_level(SEALM_SIMD_AVX2));
#else
        assert_int_equal(got, SEALM_SIMD_SCALAR);
#endif
        print_message("  avx-vnni: not supported here (got %s), builds not compared\n", sealm_simd_level_name(got));
        assert_int_equal(sealm_kernels_set_level(initial), initial);
        return;
    }
    /* avx-vnni replaces exactly the quantized dots: the float ones and the vector ops stay
     * the AVX2 level's */
    assert_int_equal(sealm_kernels_set_level(SEALM_SIMD_AVX2), SEALM_SIMD_AVX2);
    sealm_vec_dot_fn avx2_dot[N_WEIGHT_TYPES];
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) avx2_dot[t] = sealm_type_traits_get(weight_types[t])->vec_dot;
    const sealm_vec_ops avx2_ops = *sealm_vec_ops_get();
    assert_int_equal(sealm_kernels_set_level(SEALM_SIMD_AVX_VNNI), SEALM_SIMD_AVX_VNNI);
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        const sealm_type_traits *tt = sealm_type_traits_get(weight_types[t]);
        if (tt->block_elems == 1) assert_true(tt->vec_dot == avx2_dot[t]);
        else assert_true(tt->vec_dot != avx2_dot[t]);
    }
    assert_memory_equal(sealm_vec_ops_get(), &avx2_ops, sizeof avx2_ops);
    static const int64_t n32[] = {32, 96, 160, 256, 576, 4096 + 32};
    static const int64_t n256[] = {256, 768, 4096};
    rng_seed(800);
    int compared = 0;
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        const sealm_type_traits *tt = sealm_type_traits_get(weight_types[t]);
        if (tt->block_elems == 1)
            continue;   /* float types: one build only (quant_avx2.c) */
        const int64_t *ns = tt->block_elems == QK_K ? n256 : n32;
        const size_t count = tt->block_elems == QK_K ? sizeof n256 / sizeof n256[0] : sizeof n32 / sizeof n32[0];
        for (size_t k = 0; k < count; k++) {
            check_avx_builds_agree(weight_types[t], ns[k], 0);
            check_avx_builds_agree(weight_types[t], ns[k], 1);
            compared += 2;
        }
    }
    assert_true(compared > 0);
    assert_int_equal(sealm_kernels_set_level(initial), initial);
}

/* The third build of the AVX2 dots (quant_ymm_avx512.c, AVX-512 VNNI's vpdpbusd on ymm): at
 * the avx512 level on a CPU without AVX-VNNI (Ice Lake, Zen 4) it, not the plain AVX2 build,
 * runs every quantized vec_dot that quant_avx512.c leaves to AVX2 (all but Q6_K's), and
 * Q4_K's vec_dot_x4; and it returns the plain build's bits. Where the CPU has AVX-VNNI the
 * avx-vnni build runs there instead (test_avx_vnni_builds); without AVX-512 nothing to do. */
static void test_avx512_ymm_build(void **state) {
    (void)state;
    const sealm_simd_level initial = sealm_kernels_init();
    if (sealm_kernels_set_level(SEALM_SIMD_AVX512) != SEALM_SIMD_AVX512 || test_cpu_has_flag("avx_vnni") != 0) {
        print_message("  avx512 without avx-vnni: not this CPU, build not compared\n");
        assert_int_equal(sealm_kernels_set_level(initial), initial);
        return;
    }
    assert_int_equal(sealm_kernels_set_level(SEALM_SIMD_AVX2), SEALM_SIMD_AVX2);
    sealm_vec_dot_fn avx2_dot[N_WEIGHT_TYPES];
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) avx2_dot[t] = sealm_type_traits_get(weight_types[t])->vec_dot;
    const sealm_vec_dot_x4_fn avx2_q4_K_x4 = sealm_type_traits_get(SEALM_TYPE_Q4_K)->vec_dot_x4;
    const sealm_matvec_fn avx2_q4_0_matvec = sealm_type_traits_get(SEALM_TYPE_Q4_0)->matvec;
    assert_int_equal(sealm_kernels_set_level(SEALM_SIMD_AVX512), SEALM_SIMD_AVX512);
    assert_true(sealm_type_traits_get(SEALM_TYPE_Q4_K)->vec_dot_x4 != avx2_q4_K_x4);
    /* decode's Q4_0 matvec at this level is the ymm build's (quant_avx512.c says why): not
     * the plain AVX2 build's, and it gives vec_dot_ref's bits (check_matvec, every level) */
    const sealm_matvec_fn q4_0_matvec = sealm_type_traits_get(SEALM_TYPE_Q4_0)->matvec;
    assert_non_null(q4_0_matvec);
    assert_true(q4_0_matvec != avx2_q4_0_matvec);
    static const int64_t n32[] = {32, 160, 4096 + 32};
    static const int64_t n256[] = {256, 4096};
    rng_seed(810);
    int compared = 0;
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        const sealm_type_traits *tt = sealm_type_traits_get(weight_types[t]);
        if (tt->block_elems == 1 || weight_types[t] == SEALM_TYPE_Q6_K)
            continue;   /* float types and Q6_K: quant_avx512.c's own kernels */
        assert_true(tt->vec_dot != avx2_dot[t]);
        const int64_t *ns = tt->block_elems == QK_K ? n256 : n32;
        const size_t count = tt->block_elems == QK_K ? sizeof n256 / sizeof n256[0] : sizeof n32 / sizeof n32[0];
        for (size_t k = 0; k < count; k++) {
            for (int random_bits = 0; random_bits <= 1; random_bits++) {
                const dot_inputs in = make_dot_inputs(weight_types[t], ns[k], random_bits);
                float s_avx2 = NAN, s_ymm = NAN;
                avx2_dot[t](ns[k], &s_avx2, in.w, in.aq);
                tt->vec_dot(ns[k], &s_ymm, in.w, in.aq);
                if (memcmp(&s_avx2, &s_ymm, sizeof s_avx2) != 0)
                    fail_msg("%s n=%lld: avx2 %a, avx512 ymm build %a: the builds must give the same bits", tt->name,
                             (long long)ns[k], s_avx2, s_ymm);
                free(in.w); free(in.aq);
                compared++;
            }
        }
    }
    assert_true(compared > 0);
    assert_int_equal(sealm_kernels_set_level(initial), initial);
}

/* ======================= 4. real tensors ======================= */

/* Weights quantized by the reference implementation's quantizer (the synth models in
 * shared/models): their scale distributions differ from our simple quantizers' and from
 * random bytes. For a few rows of each: the reference dot equals the dot of the
 * dequantized operands, every SIMD level equals the reference, and with the fastest
 * activation quantizer the result stays within the activation quantization bound of the
 * float dot product. (The dequantization itself was compared bit for bit with gguf-py's
 * once, when these kernels were written; that check needs python and is not repeated.) */
static void check_real_tensor(const char *file, const char *name, sealm_tensor_type want) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/synth/%s", SEALM_SHARED_DIR, file);
    sealm_gguf *g = NULL;
    sealm_error err;
    if (sealm_gguf_open_file(path, &g, &err) != SEALM_OK)
        fail_msg("cannot open %s: %s", path, err.message);
    const sealm_gguf_tensor *t = sealm_gguf_find_tensor(g, name);
    if (t == NULL)
        fail_msg("%s: no tensor %s", file, name);
    assert_int_equal(t->type, want);
    const sealm_type_traits *tt = sealm_type_traits_get(t->type);
    const sealm_type_traits *at = sealm_type_traits_get(tt->vec_dot_type);
    const int64_t n = t->ne[0], rows = t->ne[1] < 32 ? t->ne[1] : 32;
    const size_t rb = row_bytes(tt, n);
    float *xr = xmalloc((size_t)n * 4), *a = xmalloc((size_t)n * 4), *ar = xmalloc((size_t)n * 4);
    void *aq = xmalloc(row_bytes(at, n)), *aq_fast = xmalloc(row_bytes(at, n));
    const sealm_simd_level initial = sealm_kernels_init();
    rng_seed(400);
    for (int64_t r = 0; r < rows; r++) {
        const void *w = (const uint8_t *)t->data + (size_t)r * rb;
        tt->to_float(w, xr, n);
        double wabs = 0;
        for (int64_t i = 0; i < n; i++) {
            assert_true(isfinite(xr[i]));
            wabs += fabs(xr[i]);
        }
        assert_true(wabs > 0);   /* random weights: a zero row would mean a wrong offset */
        random_row(a, n, 1.0f, 0.0f);
        sealm_kernels_set_level(SEALM_SIMD_SCALAR);
        at->from_float(a, aq, n);
        at->to_float(aq, ar, n);
        double dot_q = 0, dot_x = 0, mag = 0, quant_err = 0, s_term = 0;
        const int64_t ab = at->block_elems;
        for (int64_t i = 0; i < n; i++) {
            dot_q += (double)xr[i] * ar[i];
            dot_x += (double)xr[i] * a[i];
            mag += fabs((double)xr[i] * ar[i]);
            quant_err += fabs((double)xr[i]) * activation_error_bound(tt->vec_dot_type, &a[i / ab * ab], ab, i % ab);
        }
        if (tt->vec_dot_type == SEALM_TYPE_Q8_1) {   /* fp16 s, as in check_weight_type */
            for (int64_t b0 = 0; b0 < n; b0 += QK8_1) {
                double wmax = 0, asum = 0;
                for (int j = 0; j < QK8_1; j++) {
                    wmax = fmax(wmax, fabs((double)xr[b0 + j]));
                    asum += ar[b0 + j];
                }
                s_term += wmax * fabs(asum) * 0x1p-11 * 1.01;
            }
        }
        float s_ref = 0;
        tt->vec_dot_ref(n, &s_ref, w, aq);
        if (fabs(s_ref - dot_q) > 1e-5 * mag + s_term + 1e-30)
            fail_msg("%s %s row %lld: vec_dot_ref %.9g, dequantized dot %.9g", file, name, (long long)r, s_ref, dot_q);
        for (int l = SEALM_SIMD_SCALAR; l <= SEALM_SIMD_NEON_DOTPROD; l++) {
            if (sealm_kernels_set_level((sealm_simd_level)l) != (sealm_simd_level)l)
                continue;
            float s_fast = 0;
            tt->vec_dot(n, &s_fast, w, aq);
            if (order_is_pinned(t->type) && memcmp(&s_fast, &s_ref, sizeof s_ref) != 0)
                fail_msg("%s %s row %lld, %s: vec_dot %a, vec_dot_ref %a: the pinned order must give the same bits",
                         file, name, (long long)r, sealm_simd_level_name((sealm_simd_level)l), s_fast, s_ref);
            if (fabs((double)s_fast - s_ref) > 1e-5 * mag + 1e-30)
                fail_msg("%s %s row %lld, %s: vec_dot %.9g, vec_dot_ref %.9g", file, name, (long long)r,
                         sealm_simd_level_name((sealm_simd_level)l), s_fast, s_ref);
            at->from_float_fast(a, aq_fast, n);
            tt->vec_dot(n, &s_fast, w, aq_fast);
            if (fabs((double)s_fast - dot_x) > quant_err + 1e-5 * mag + s_term + 1e-30)
                fail_msg("%s %s row %lld, %s: fast path %.9g, float dot %.9g (bound %g)", file, name, (long long)r,
                         sealm_simd_level_name((sealm_simd_level)l), s_fast, dot_x, quant_err + 1e-5 * mag + s_term);
        }
    }
    sealm_kernels_set_level(initial);
    free(xr); free(a); free(ar); free(aq); free(aq_fast);
    sealm_gguf_close(g);
}

/* The synth-llama models were all quantized from the same float weights, so one tensor
 * dequantized from two files must agree up to the two quantization errors. This checks
 * the layouts against the reference quantizer itself: a misplaced nibble, bit or scale
 * makes the difference as large as the weights (relative RMS ~1.4 for a permutation).
 * Limits: 4-bit types have a step of about range/15 ~ 6 sigma/15 per block, an RMS error
 * of step/sqrt(12) ~ 0.12 sigma (0.09 measured) -> 0.15; Q6_K ~ 6 sigma/63/sqrt(12) ~
 * 0.03 sigma (0.02 measured) -> 0.05; Q8_0 itself adds ~0.005. */
static float *dequantize_tensor(const char *file, const char *name, int64_t *n, sealm_tensor_type *type) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/synth/%s", SEALM_SHARED_DIR, file);
    sealm_gguf *g = NULL;
    sealm_error err;
    if (sealm_gguf_open_file(path, &g, &err) != SEALM_OK)
        fail_msg("cannot open %s: %s", path, err.message);
    const sealm_gguf_tensor *t = sealm_gguf_find_tensor(g, name);
    if (t == NULL)
        fail_msg("%s: no tensor %s", file, name);
    const sealm_type_traits *tt = sealm_type_traits_get(t->type);
    assert_non_null(tt);
    *n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    *type = t->type;
    float *x = xmalloc((size_t)*n * sizeof *x);
    tt->to_float(t->data, x, *n);
    sealm_gguf_close(g);
    return x;
}

static void check_across_files(const char *name) {
    static const char *files[] = {"synth-llama-q4_0.gguf", "synth-llama-q4_1.gguf",
                                  "synth-llama-q4_k_m.gguf", "synth-llama-q6_k.gguf"};
    int64_t n_ref, n;
    sealm_tensor_type t_ref, t;
    float *ref = dequantize_tensor("synth-llama-q8_0.gguf", name, &n_ref, &t_ref);
    assert_int_equal(t_ref, SEALM_TYPE_Q8_0);
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        float *x = dequantize_tensor(files[f], name, &n, &t);
        assert_int_equal(n, n_ref);
        double ss_ref = 0, ss_diff = 0;
        for (int64_t i = 0; i < n; i++) {
            ss_ref += (double)ref[i] * ref[i];
            ss_diff += ((double)x[i] - ref[i]) * ((double)x[i] - ref[i]);
        }
        const double rel = sqrt(ss_diff / ss_ref);
        const double limit = t == SEALM_TYPE_Q6_K ? 0.05 : (t == SEALM_TYPE_Q5_0 || t == SEALM_TYPE_Q5_1 || t == SEALM_TYPE_Q5_K) ? 0.08 : 0.15;
        print_message("  %s: %s (%s) vs q8_0: relative RMS difference %.4f (limit %.2f)\n",
                      name, files[f], sealm_type_traits_get(t)->name, rel, limit);
        if (!(rel < limit))
            fail_msg("%s in %s disagrees with the q8_0 file: relative RMS %.4f", name, files[f], rel);
        free(x);
    }
    free(ref);
}

static void test_real_tensors(void **state) {
    (void)state;
    check_real_tensor("synth-llama-q4_k_m.gguf", "blk.0.attn_k.weight", SEALM_TYPE_Q4_K);
    check_real_tensor("synth-llama-q4_k_m.gguf", "output.weight", SEALM_TYPE_Q6_K);
    check_real_tensor("synth-llama-q8_0.gguf", "blk.0.attn_k.weight", SEALM_TYPE_Q8_0);
    check_real_tensor("synth-llama-q4_0.gguf", "blk.0.attn_k.weight", SEALM_TYPE_Q4_0);
    check_real_tensor("synth-llama-q4_1.gguf", "blk.0.attn_k.weight", SEALM_TYPE_Q4_1);
    check_real_tensor("synth-llama-tiny-f16.gguf", "blk.0.attn_q.weight", SEALM_TYPE_F16);
    check_real_tensor("synth-llama-q4_0.gguf", "blk.0.attn_norm.weight", SEALM_TYPE_F32);
    /* longer rows (768) of the pinned types */
    check_real_tensor("synth-llama-q4_k_m.gguf", "blk.1.ffn_down.weight", SEALM_TYPE_Q4_K);
    check_real_tensor("synth-llama-q8_0.gguf", "blk.1.ffn_down.weight", SEALM_TYPE_Q8_0);
    check_real_tensor("synth-llama-q4_0.gguf", "blk.1.ffn_down.weight", SEALM_TYPE_Q4_0);
    check_real_tensor("synth-llama-q4_1.gguf", "blk.1.ffn_down.weight", SEALM_TYPE_Q4_1);
    check_across_files("blk.0.attn_k.weight");
    check_across_files("blk.1.ffn_down.weight");
    check_across_files("blk.3.attn_v.weight");
}

/* ======================= the table ======================= */

static void test_table(void **state) {
    (void)state;
    const struct { sealm_tensor_type t; size_t bytes; int64_t elems; sealm_tensor_type vdt; } expect[] = {
        {SEALM_TYPE_F32, 4, 1, SEALM_TYPE_F32},       {SEALM_TYPE_F16, 2, 1, SEALM_TYPE_F16},
        {SEALM_TYPE_BF16, 2, 1, SEALM_TYPE_BF16},     {SEALM_TYPE_Q4_0, 18, 32, SEALM_TYPE_Q8_0},
        {SEALM_TYPE_Q4_1, 20, 32, SEALM_TYPE_Q8_1},   {SEALM_TYPE_Q5_0, 22, 32, SEALM_TYPE_Q8_0},
        {SEALM_TYPE_Q5_1, 24, 32, SEALM_TYPE_Q8_1},   {SEALM_TYPE_Q8_0, 34, 32, SEALM_TYPE_Q8_0},
        {SEALM_TYPE_Q2_K, 84, 256, SEALM_TYPE_Q8_K},  {SEALM_TYPE_Q3_K, 110, 256, SEALM_TYPE_Q8_K},
        {SEALM_TYPE_Q4_K, 144, 256, SEALM_TYPE_Q8_K}, {SEALM_TYPE_Q5_K, 176, 256, SEALM_TYPE_Q8_K},
        {SEALM_TYPE_Q6_K, 210, 256, SEALM_TYPE_Q8_K},
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        const sealm_type_traits *tt = sealm_type_traits_get(expect[i].t);
        assert_non_null(tt);
        assert_non_null(tt->name);
        assert_int_equal(tt->block_bytes, expect[i].bytes);
        assert_int_equal(tt->block_elems, expect[i].elems);
        assert_int_equal(tt->vec_dot_type, expect[i].vdt);
        assert_non_null(tt->to_float);
        assert_non_null(tt->vec_dot_ref);
        assert_non_null(tt->vec_dot);
        assert_non_null(tt->vec_dot_x4);
    }
    for (size_t i = 0; i < sizeof activation_types / sizeof activation_types[0]; i++) {
        const sealm_type_traits *at = sealm_type_traits_get(activation_types[i]);
        assert_non_null(at);
        assert_non_null(at->from_float);
        assert_non_null(at->from_float_fast);
        assert_non_null(at->to_float);
    }
    assert_int_equal(sealm_type_traits_get(SEALM_TYPE_Q8_1)->block_bytes, 36);
    assert_int_equal(sealm_type_traits_get(SEALM_TYPE_Q8_K)->block_bytes, 292);
    /* types the engine has no kernels for, and numbers that are no type at all */
    const int absent[] = {4, 5, 16, 20, 29, 31, 39, 40, 41, 1000, -1};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        assert_null(sealm_type_traits_get((sealm_tensor_type)absent[i]));
    /* at the scalar level every kernel is the reference */
    assert_int_equal(sealm_kernels_set_level(SEALM_SIMD_SCALAR), SEALM_SIMD_SCALAR);
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        const sealm_type_traits *tt = sealm_type_traits_get(expect[i].t);
        assert_true(tt->vec_dot == tt->vec_dot_ref);
        assert_true(tt->from_float_fast == tt->from_float);
    }
    assert_memory_equal(sealm_vec_ops_get(), sealm_vec_ops_ref(), sizeof(sealm_vec_ops));
    assert_string_equal(sealm_simd_level_name(SEALM_SIMD_SCALAR), "scalar");
    assert_string_equal(sealm_simd_level_name(SEALM_SIMD_AVX2), "avx2");
    assert_string_equal(sealm_simd_level_name(SEALM_SIMD_AVX_VNNI), "avx-vnni");
    assert_string_equal(sealm_simd_level_name(SEALM_SIMD_AVX512), "avx512");
    assert_string_equal(sealm_simd_level_name(SEALM_SIMD_NEON), "neon");
    assert_string_equal(sealm_simd_level_name(SEALM_SIMD_NEON_DOTPROD), "neon-dotprod");
    /* init is idempotent and picks a level the CPU runs (set_level to it gives it back) */
    const sealm_simd_level l = sealm_kernels_init();
    assert_int_equal(sealm_kernels_init(), l);
    assert_int_equal(sealm_kernels_set_level(l), l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp16_exhaustive_round_trip),
        cmocka_unit_test(test_fp16_ties_to_even),
        cmocka_unit_test(test_fp16_known_values),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_fp16_against_f16c),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_layout_spots),
        cmocka_unit_test(test_zero_rows),
        cmocka_unit_test(test_weight_types),
        cmocka_unit_test(test_dot_f16_lane16_ref),
        cmocka_unit_test(test_expf_range),
        cmocka_unit_test(test_simd_levels),
        cmocka_unit_test(test_neon_builds),
        cmocka_unit_test(test_avx_vnni_builds),
        cmocka_unit_test(test_avx512_ymm_build),
        cmocka_unit_test(test_real_tensors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
