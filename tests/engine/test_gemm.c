/* Tests of the tiled prefill products (src/engine/gemm*.c):
 *  1. the packed panel: its size (none past SEALM_GEMM_MAX_COLS; F32's is the plain rows),
 *     and that packing in two token ranges (as two threads do) gives the same bytes as
 *     packing in one;
 *  2. at every SIMD level this CPU supports, every type with a gemm kernel: each result
 *     y[t][r] equals vec_dot_ref(row r, token t) + bias[r] bit for bit (memcmp), over odd
 *     row counts and row ranges, 1..19 tokens (one partial 16-token group, one full group
 *     plus a partial one), 1..18 blocks and one long row, with and without a bias, and
 *     nothing outside the rows and tokens asked for is written. The activations are
 *     quantized with the level's from_float_fast, as the engine does, so the reference
 *     sees the same bytes;
 *  3. enough rows of a long row that the kernels walk more than one row panel, rows so
 *     long that a panel of prepared rows is shorter than a tile, and the longest row;
 *  4. which level has which kernels: the AVX2 level (reached whenever the CPU has AVX2,
 *     FMA and F16C) exactly Q8_0, Q4_0, Q4_1, Q4_K and Q6_K (gemm_avx2.c), the AVX-VNNI
 *     level (reached whenever /proc/cpuinfo lists avx_vnni too) the same types in its own
 *     build (gemm_avxvnni.c), while the AVX2 level keeps the plain one, the AVX-512 level (when the
 *     CPU has it) F32, Q8_0, Q4_0, Q4_1, Q4_K and Q6_K, scalar none, and going down a level
 *     leaves no kernel of the higher one behind (F32 rows not a multiple of 16 are compared
 *     with sealm_f32_vec_dot_untiled, the order the engine gives them);
 *  5. odd shapes for the AVX2 tiles (8 tokens a register, 16 a group, 2-row Q4_0 tiles):
 *     8, 9, 17, 33 and 41 tokens, row ranges that neither start nor end on a tile edge;
 *  6. the K-quants at the ends of their integer ranges (Q4_K: every nibble 15, every scale
 *     and min 63; Q6_K: every quant -32, every scale -128; activation quants nearly all
 *     +127, all -127, or alternating), where a kernel keeping sums in int16 too long would
 *     saturate.
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

#include "engine/gemm.h"
#include "engine/quant.h"
#include "engine/quant_ref.h"
#include "support/test_cpu.h"
#include "support/test_rng.h"


static void *xalloc(size_t n) {   /* 64-byte aligned, as the engine's activation buffers */
    void *p = aligned_alloc(64, (n + 63) & ~(size_t)63);
    assert_non_null(p);
    return p;
}

static const sealm_tensor_type gemm_types[] = {SEALM_TYPE_F32, SEALM_TYPE_Q8_0, SEALM_TYPE_Q4_0, SEALM_TYPE_Q4_1, SEALM_TYPE_Q4_K,
                                               SEALM_TYPE_Q6_K};
#define N_GEMM_TYPES (sizeof gemm_types / sizeof gemm_types[0])

/* The types the AVX2 level has a kernel for (gemm_avx2.c). */
static int has_avx2_kernel(sealm_tensor_type t) {
    return t == SEALM_TYPE_Q8_0 || t == SEALM_TYPE_Q4_0 || t == SEALM_TYPE_Q4_1 || t == SEALM_TYPE_Q4_K ||
           t == SEALM_TYPE_Q6_K;
}

static size_t row_bytes(const sealm_type_traits *tt, int64_t cols) {
    return (size_t)(cols / tt->block_elems) * tt->block_bytes;
}

/* Set by check_extremes: random_weights and random_activations then give K-quant rows and
 * activations at the ends of their ranges instead. */
static int fill_extremes;

/* Weight rows: even rows quantized from floats (realistic scales), odd rows random bytes
 * with random fp16 scales of both signs (every quant bit pattern, negative mins). */
static void random_weights(sealm_tensor_type t, uint8_t *w, int64_t rows, int64_t cols) {
    const sealm_type_traits *tt = sealm_type_traits_get(t);
    const size_t rb = row_bytes(tt, cols);
    if (fill_extremes && t == SEALM_TYPE_Q4_K) {   /* nibbles 15, scales and mins 63 (all 12 bytes 0xFF) */
        memset(w, 0xFF, rb * (size_t)rows);
        for (int64_t b = 0; b < rows * (cols / QK_K); b++) {
            block_q4_K *blk = (block_q4_K *)(w + (size_t)b * sizeof(block_q4_K));
            blk->d = sealm_fp32_to_fp16(rng_uniform(0.001f, 0.01f));
            blk->dmin = sealm_fp32_to_fp16(rng_uniform(0.001f, 0.01f));
        }
        return;
    }
    if (fill_extremes) {   /* Q6_K: quants 0 - 32 (ql, qh all zero), scales -128 */
        assert_int_equal(t, SEALM_TYPE_Q6_K);
        memset(w, 0, rb * (size_t)rows);
        for (int64_t b = 0; b < rows * (cols / QK_K); b++) {
            block_q6_K *blk = (block_q6_K *)(w + (size_t)b * sizeof(block_q6_K));
            memset(blk->scales, 0x80, sizeof blk->scales);
            blk->d = sealm_fp32_to_fp16(rng_uniform(0.001f, 0.01f));
        }
        return;
    }
    if (t == SEALM_TYPE_F32) {   /* odd rows span many binades, so roundings differ by order */
        float *fw = (float *)w;
        for (int64_t i = 0; i < rows * cols; i++)
            fw[i] = (i / cols) % 2 == 0 ? rng_uniform(-0.5f, 0.5f) : ldexpf(rng_uniform(-1.0f, 1.0f), (int)(rng_next() % 24) - 12);
        return;
    }
    float *f = malloc((size_t)cols * sizeof *f);
    assert_non_null(f);
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *row = w + (size_t)r * rb;
        if (r % 2 == 0) {
            for (int64_t i = 0; i < cols; i++) f[i] = rng_uniform(-0.5f, 0.5f) + 0.05f * (float)(r % 5);
            tt->from_float(f, row, cols);
            continue;
        }
        for (size_t i = 0; i < rb; i++) row[i] = (uint8_t)rng_next();
        for (int64_t b = 0; b < cols / tt->block_elems; b++) {
            uint8_t *blk = row + (size_t)b * tt->block_bytes;
            const sealm_fp16 d = sealm_fp32_to_fp16(rng_uniform(-0.02f, 0.02f));
            const sealm_fp16 m = sealm_fp32_to_fp16(rng_uniform(-0.2f, 0.2f));
            const sealm_fp16 d_pos = sealm_fp32_to_fp16(rng_uniform(0.0f, 0.01f));
            switch (t) {
            case SEALM_TYPE_Q4_1: memcpy(blk, &d, 2); memcpy(blk + 2, &m, 2); break;
            case SEALM_TYPE_Q4_K: memcpy(blk, &d_pos, 2); memcpy(blk + 2, &d_pos, 2); break;   /* d, dmin */
            case SEALM_TYPE_Q6_K: memcpy(blk + offsetof(block_q6_K, d), &d, 2); break;
            default: memcpy(blk, &d, 2); break;                   /* Q8_0, Q4_0: d leads the block */
            }
        }
    }
    free(f);
}

/* n_tokens activation rows of cols floats; a few rows get outliers, one is all zero. */
static void random_activations(float *x, int32_t n_tokens, int64_t cols) {
    if (fill_extremes) {
        /* token t % 3: -1 but +1 at the start of each super-block (the first of the largest
         * magnitude maps to -127, so the -1s to +127), all +1 (-127), alternating */
        for (int32_t t = 0; t < n_tokens; t++)
            for (int64_t i = 0; i < cols; i++)
                x[(int64_t)t * cols + i] = t % 3 == 0 ? (i % QK_K == 0 ? 1.0f : -1.0f)
                                           : t % 3 == 1 ? 1.0f
                                                        : (i % 2 ? 1.0f : -1.0f);
        return;
    }
    for (int32_t t = 0; t < n_tokens; t++)
        for (int64_t i = 0; i < cols; i++) {
            float v = rng_uniform(-2.0f, 2.0f);
            if (t % 3 == 1 && i % 37 == 0) v *= 40.0f;
            x[(int64_t)t * cols + i] = t == 5 ? 0.0f : v;
        }
}

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

#define SENTINEL 0x7fc0dead   /* a NaN no kernel produces */

/* One case: rows [r0, r1) of a rows × cols matrix of type t, against n_tokens tokens. */
static void check_case(sealm_tensor_type t, int64_t rows, int64_t r0, int64_t r1, int64_t cols, int32_t n_tokens,
                       int with_bias) {
    const sealm_type_traits *tt = sealm_type_traits_get(t);
    const sealm_type_traits *at = sealm_type_traits_get(tt->vec_dot_type);
    assert_non_null(tt->gemm);
    const size_t wrb = row_bytes(tt, cols), arb = row_bytes(at, cols);
    uint8_t *w = xalloc(wrb * (size_t)rows);
    float *x = xalloc((size_t)n_tokens * (size_t)cols * sizeof(float));
    uint8_t *xq = xalloc(arb * (size_t)n_tokens);
    const size_t panel_bytes = sealm_gemm_panel_bytes(tt->vec_dot_type, n_tokens, cols);
    assert_true(panel_bytes > 0);
    uint8_t *panel = xalloc(panel_bytes);
    float *bias = xalloc((size_t)rows * sizeof(float));
    const int64_t y_stride = rows + 3;            /* wider than rows: the gap must stay untouched */
    float *y = xalloc((size_t)n_tokens * (size_t)y_stride * sizeof(float));

    random_weights(t, w, rows, cols);
    random_activations(x, n_tokens, cols);
    for (int64_t r = 0; r < rows; r++) bias[r] = rng_uniform(-1.0f, 1.0f);
    for (int32_t k = 0; k < n_tokens; k++) at->from_float_fast(x + (int64_t)k * cols, xq + (size_t)k * arb, cols);
    memset(panel, 0xA5, panel_bytes);             /* so that unwritten panel bytes would show */
    sealm_gemm_pack(tt->vec_dot_type, x, cols, cols, n_tokens, 0, n_tokens, panel);
    const uint32_t sentinel = SENTINEL;
    for (size_t i = 0; i < (size_t)n_tokens * (size_t)y_stride; i++) memcpy(&y[i], &sentinel, sizeof sentinel);

    tt->gemm(cols, r0, r1, w, wrb, panel, n_tokens, y, y_stride, with_bias ? bias : NULL);

    for (int32_t k = 0; k < n_tokens; k++)
        for (int64_t r = 0; r < y_stride; r++) {
            const float got = y[(int64_t)k * y_stride + r];
            if (r < r0 || r >= r1) {
                if (bits(got) != SENTINEL)
                    fail_msg("%s: y[%d][%lld] written outside rows [%lld, %lld)", tt->name, k, (long long)r,
                             (long long)r0, (long long)r1);
                continue;
            }
            float dot;
            /* F32 rows not a multiple of 16 follow the engine's untiled order (model.c) */
            const sealm_vec_dot_fn ref = t == SEALM_TYPE_F32 && cols % 16 != 0 ? sealm_f32_vec_dot_untiled
                                                                                : tt->vec_dot_ref;
            ref(cols, &dot, w + (size_t)r * wrb, xq + (size_t)k * arb);
            const float want = dot + (with_bias ? bias[r] : 0.0f);
            if (bits(got) != bits(want))
                fail_msg("%s rows=%lld [%lld,%lld) cols=%lld tokens=%d bias=%d: y[%d][%lld] = %a, "
                         "vec_dot_ref + bias = %a: must be the same bits",
                         tt->name, (long long)rows, (long long)r0, (long long)r1, (long long)cols, n_tokens,
                         with_bias, k, (long long)r, got, want);
        }
    free(w); free(x); free(xq); free(panel); free(bias); free(y);
}

/* ---- 1. the panel ---- */

static void test_panel(void **state) {
    (void)state;
    sealm_kernels_init();
    /* 16 tokens a group, 576 / 640 bytes per block of a group; no packed form otherwise */
    assert_int_equal(sealm_gemm_panel_bytes(SEALM_TYPE_Q8_0, 1, 64), 2 * 576);
    assert_int_equal(sealm_gemm_panel_bytes(SEALM_TYPE_Q8_0, 17, 32), 2 * 576);
    assert_int_equal(sealm_gemm_panel_bytes(SEALM_TYPE_Q8_1, 16, 96), 3 * 640);
    assert_int_equal(sealm_gemm_panel_bytes(SEALM_TYPE_Q8_K, 16, 512), 2 * 4416);
    assert_int_equal(sealm_gemm_panel_bytes(SEALM_TYPE_F16, 16, 256), 0);
    /* past the longest row the quantized kernels take: no packed form */
    assert_true(sealm_gemm_panel_bytes(SEALM_TYPE_Q8_0, 16, SEALM_GEMM_MAX_COLS) > 0);
    assert_int_equal(sealm_gemm_panel_bytes(SEALM_TYPE_Q8_0, 16, SEALM_GEMM_MAX_COLS + 32), 0);
    assert_int_equal(sealm_gemm_panel_bytes(SEALM_TYPE_Q8_K, 16, SEALM_GEMM_MAX_COLS + 256), 0);
    /* F32: the rows as they are */
    assert_int_equal(sealm_gemm_panel_bytes(SEALM_TYPE_F32, 3, 172), 3 * 172 * sizeof(float));
    {
        float x[3 * 20], panel[3 * 17];
        for (int i = 0; i < 60; i++) x[i] = (float)i;
        sealm_gemm_pack(SEALM_TYPE_F32, x, 20, 17, 3, 0, 3, panel);
        for (int t = 0; t < 3; t++) assert_memory_equal(panel + 17 * t, x + 20 * t, 17 * sizeof(float));
    }

    /* two token ranges split at a group boundary = one range */
    rng_seed(11);
    const sealm_tensor_type acts[3] = {SEALM_TYPE_Q8_0, SEALM_TYPE_Q8_1, SEALM_TYPE_Q8_K};
    for (int a = 0; a < 3; a++) {
        const int64_t cols = acts[a] == SEALM_TYPE_Q8_K ? 512 : 96;
        const int32_t n = 37;
        float *x = xalloc((size_t)n * cols * sizeof(float));
        random_activations(x, n, cols);
        const size_t bytes = sealm_gemm_panel_bytes(acts[a], n, cols);
        uint8_t *one = xalloc(bytes), *two = xalloc(bytes);
        memset(one, 0x11, bytes);
        memset(two, 0x22, bytes);
        sealm_gemm_pack(acts[a], x, cols, cols, n, 0, n, one);
        sealm_gemm_pack(acts[a], x, cols, cols, n, 0, 16, two);
        sealm_gemm_pack(acts[a], x, cols, cols, n, 16, n, two);
        assert_memory_equal(one, two, bytes);
        /* the quants of token 0, block 0, group 0 are where the layout says, Q8_0's flipped */
        const sealm_type_traits *at = sealm_type_traits_get(acts[a]);
        _Alignas(8) uint8_t blk[sizeof(block_q8_K)];
        at->from_float_fast(x, blk, at->block_elems);
        const uint8_t flip = acts[a] == SEALM_TYPE_Q8_1 ? 0 : 0x80;
        const size_t qs_at = acts[a] == SEALM_TYPE_Q8_0 ? 2 : acts[a] == SEALM_TYPE_Q8_1 ? 4 : 4;
        for (int e = 0; e < 4; e++) assert_int_equal(one[e], (uint8_t)(blk[qs_at + e] ^ flip));
        free(x); free(one); free(two);
    }
}

/* ---- 2. and 3. every level against the reference ---- */

/* F32: lane-16 rows (multiples of 16) and untiled ones (others: one 64-element step or
 * several, with short and long tails), against tiles of 4×4 / 2×2 and their edges. */
static void check_f32(void) {
    static const int64_t row_counts[] = {1, 2, 3, 5, 7};
    static const int64_t col_counts[] = {16, 48, 64, 80, 256, 1, 7, 63, 65, 172, 200, 333};
    for (size_t ri = 0; ri < sizeof row_counts / sizeof row_counts[0]; ri++)
        for (size_t ci = 0; ci < sizeof col_counts / sizeof col_counts[0]; ci++)
            for (int32_t n = 1; n <= 9; n++) {
                const int64_t rows = row_counts[ri];
                const int64_t r0 = (n % 2 && rows > 2) ? 1 : 0;
                check_case(SEALM_TYPE_F32, rows, r0, rows, col_counts[ci], n, n % 3 != 0);
            }
    check_case(SEALM_TYPE_F32, 3, 0, 3, 5632, 17, 1);
    check_case(SEALM_TYPE_F32, 70, 2, 69, 1000, 6, 1);   /* more rows than one row panel */
    check_case(SEALM_TYPE_F32, 40, 0, 40, 4096, 18, 0);
}

static void check_type(sealm_tensor_type t) {
    if (t == SEALM_TYPE_F32) {
        check_f32();
        return;
    }
    static const int64_t row_counts[] = {1, 2, 3, 5, 7};
    static const int64_t block_counts[] = {1, 2, 3, 5, 18};
    const int64_t be = sealm_type_traits_get(t)->block_elems;
    for (size_t ri = 0; ri < sizeof row_counts / sizeof row_counts[0]; ri++)
        for (size_t bi = 0; bi < sizeof block_counts / sizeof block_counts[0]; bi++)
            for (int32_t n = 1; n <= SEALM_GEMM_TOKENS + 3; n++) {
                const int64_t rows = row_counts[ri];
                if (be == QK_K && block_counts[bi] > 8) continue;   /* 256-element blocks: up to 2048 */
                /* all rows, or (every other case) a range that starts at an odd row */
                const int64_t r0 = (n % 2 && rows > 2) ? 1 : 0;
                check_case(t, rows, r0, rows, be * block_counts[bi], n, n % 3 != 0);
            }
    /* two whole token groups, and two plus a partial third (kernels that take two groups
     * per tile, then one) */
    check_case(t, 9, 1, 9, be * 2, 2 * SEALM_GEMM_TOKENS, 1);
    check_case(t, 6, 0, 6, be * 3, 2 * SEALM_GEMM_TOKENS + 3, 0);
    /* long rows (TinyLlama's n_ff), and more rows than one row panel of the kernels holds */
    check_case(t, 3, 0, 3, 5632, 17, 1);
    check_case(t, 150, 2, 149, 4096, 18, 0);
    /* rows so long that a row panel holds fewer rows than a tile, and the longest row */
    check_case(t, 5, 1, 5, 12800, 3, 1);
    check_case(t, 2, 0, 2, SEALM_GEMM_MAX_COLS, 17, 1);
    /* token counts around the AVX2 half-groups of 8 and the groups of 16, over row ranges
     * that start and end off a tile edge (rows [3, 10) of 11: 7 rows) */
    static const int32_t odd_tokens[] = {8, 9, 17, 33, 41};
    for (size_t i = 0; i < sizeof odd_tokens / sizeof odd_tokens[0]; i++)
        check_case(t, 11, 3, 10, be * (be == QK_K ? 2 : 7), odd_tokens[i], (int)(i % 2));
}

/* 6. a K-quant at the ends of its integer ranges, over one and several super-blocks (one
 * part and several) and both halves of a token group. */
static void check_extremes(sealm_tensor_type t) {
    fill_extremes = 1;
    check_case(t, 3, 0, 3, QK_K, 17, 0);
    check_case(t, 2, 0, 2, 22 * QK_K, 9, 1);
    fill_extremes = 0;
}

/* The kernels a level must have: exactly these types, NULL for the others. */
static void check_kernel_set(sealm_simd_level level) {
    for (size_t i = 0; i < N_GEMM_TYPES; i++) {
        const sealm_type_traits *tt = sealm_type_traits_get(gemm_types[i]);
        const int avx2_build = level == SEALM_SIMD_AVX2 || level == SEALM_SIMD_AVX_VNNI;
        const int want = level == SEALM_SIMD_AVX512 || (avx2_build && has_avx2_kernel(gemm_types[i]));
        if ((tt->gemm != NULL) != want)
            fail_msg("%s at the %s level: gemm kernel %s, expected %s", tt->name, sealm_simd_level_name(level),
                     tt->gemm ? "installed" : "missing", want ? "one" : "none");
    }
}

static void test_levels(void **state) {
    (void)state;
    const sealm_simd_level initial = sealm_kernels_init();
    int tested = 0, want_tested = 0, reached_avx2 = 0, reached_avx_vnni = 0;
    for (int l = SEALM_SIMD_SCALAR; l <= SEALM_SIMD_NEON_DOTPROD; l++) {
        const sealm_simd_level got = sealm_kernels_set_level((sealm_simd_level)l);
        if (got != (sealm_simd_level)l) continue;
        rng_seed(100 + (uint64_t)l);
        for (size_t i = 0; i < N_GEMM_TYPES; i++) {
            const sealm_type_traits *tt = sealm_type_traits_get(gemm_types[i]);
            if (!tt->gemm) continue;
            print_message("  %s %s: gemm against vec_dot_ref\n", sealm_simd_level_name(got), tt->name);
            check_type(gemm_types[i]);
            if (gemm_types[i] == SEALM_TYPE_Q4_K || gemm_types[i] == SEALM_TYPE_Q6_K) check_extremes(gemm_types[i]);
            tested++;
        }
        if (got == SEALM_SIMD_AVX2 || got == SEALM_SIMD_AVX_VNNI || got == SEALM_SIMD_AVX512) check_kernel_set(got);
        if (got == SEALM_SIMD_AVX2 || got == SEALM_SIMD_AVX_VNNI) {
            reached_avx2 |= got == SEALM_SIMD_AVX2;
            reached_avx_vnni |= got == SEALM_SIMD_AVX_VNNI;
            for (size_t i = 0; i < N_GEMM_TYPES; i++) want_tested += has_avx2_kernel(gemm_types[i]);
        }
        if (got == SEALM_SIMD_AVX512) want_tested += (int)N_GEMM_TYPES;
    }
    assert_int_equal(sealm_kernels_set_level(initial), initial);
    /* every kernel of every level reached was compared with the reference */
    assert_int_equal(tested, want_tested);
#if defined(__x86_64__)
    /* a CPU with AVX2 and FMA (every such CPU also has F16C, which gcc and clang cannot
     * both name here) reaches the AVX2 level, so its kernels were compared; without them
     * the engine keeps the vec_dot_x4 path, which test_kernels covers */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) assert_true(reached_avx2);
    /* likewise AVX-VNNI, by the kernel's flags (gcc and clang name it differently) */
    const int vnni = test_cpu_has_flag("avx_vnni");
    assert_true(vnni >= 0);
    if (vnni == 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) assert_true(reached_avx_vnni);
#else
    (void)reached_avx2;
    (void)reached_avx_vnni;
#endif
}

/* Going down a level removes the kernels of the higher one: scalar has none (the engine
 * then uses vec_dot_x4), and AVX-512 -> AVX2 leaves only the AVX2 ones. */
static void test_scalar_has_none(void **state) {
    (void)state;
    const sealm_simd_level initial = sealm_kernels_init();
    if (sealm_kernels_set_level(SEALM_SIMD_AVX512) == SEALM_SIMD_AVX512 &&
        sealm_kernels_set_level(SEALM_SIMD_AVX2) == SEALM_SIMD_AVX2)
        check_kernel_set(SEALM_SIMD_AVX2);
    /* avx-vnni installs its own build of every AVX2 kernel, and going back to avx2 gives
     * the plain ones again (SEALM_SIMD=avx2 on a VNNI CPU runs what a CPU without it runs) */
    if (sealm_kernels_set_level(SEALM_SIMD_AVX_VNNI) == SEALM_SIMD_AVX_VNNI) {
        sealm_gemm_fn vnni[N_GEMM_TYPES];
        for (size_t i = 0; i < N_GEMM_TYPES; i++) vnni[i] = sealm_type_traits_get(gemm_types[i])->gemm;
        assert_int_equal(sealm_kernels_set_level(SEALM_SIMD_AVX2), SEALM_SIMD_AVX2);
        for (size_t i = 0; i < N_GEMM_TYPES; i++)
            if (has_avx2_kernel(gemm_types[i]))
                assert_true(vnni[i] != NULL && sealm_type_traits_get(gemm_types[i])->gemm != vnni[i]);
        check_kernel_set(SEALM_SIMD_AVX2);
    }
    assert_int_equal(sealm_kernels_set_level(SEALM_SIMD_SCALAR), SEALM_SIMD_SCALAR);
    for (size_t i = 0; i < N_GEMM_TYPES; i++) assert_null(sealm_type_traits_get(gemm_types[i])->gemm);
    assert_int_equal(sealm_kernels_set_level(initial), initial);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_panel),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_scalar_has_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
