/* Engine-internal: quantized block layouts and the kernel table.
 *
 * Block layouts are byte-identical to ggml's (ggml-common.h), because GGUF files store
 * them as they are. Activations are quantized per block on the fly (Q8_0, Q8_1, Q8_K)
 * so that weight·activation dot products run in integer arithmetic, as in ggml — which
 * also keeps our rounding close to the reference implementation's.
 *
 * Every type has a scalar reference kernel (the *_ref functions, quant_<type>.c); SIMD
 * versions live in files named *_avx2.c, *_avx512.c, *_neon.c and are installed into the
 * table by sealm_kernels_init() after CPU feature detection (cpu.c). Tests compare them
 * with the scalar ones (tests/engine/test_kernels.c). */
#ifndef SEALM_ENGINE_QUANT_H
#define SEALM_ENGINE_QUANT_H

#include "sealm/gguf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

typedef uint16_t sealm_fp16;   /* IEEE 754 binary16 bits */
typedef uint16_t sealm_bf16;   /* bfloat16 bits */

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK_K 256
#define K_SCALE_SIZE 12

typedef struct { sealm_fp16 d; uint8_t qs[QK4_0 / 2]; } block_q4_0;
typedef struct { sealm_fp16 d; sealm_fp16 m; uint8_t qs[QK4_1 / 2]; } block_q4_1;
typedef struct { sealm_fp16 d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; } block_q5_0;
typedef struct { sealm_fp16 d; sealm_fp16 m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; } block_q5_1;
typedef struct { sealm_fp16 d; int8_t qs[QK8_0]; } block_q8_0;
/* s = d * sum(qs): lets Q4_1/Q5_1 dot products fold in the weight's min without a second pass */
typedef struct { sealm_fp16 d; sealm_fp16 s; int8_t qs[QK8_1]; } block_q8_1;

typedef struct {
    uint8_t scales[QK_K / 16]; /* 4-bit scale | 4-bit min per 16 weights */
    uint8_t qs[QK_K / 4];      /* 2-bit quants */
    sealm_fp16 d, dmin;
} block_q2_K;
typedef struct {
    uint8_t hmask[QK_K / 8];   /* high bit of each 3-bit quant */
    uint8_t qs[QK_K / 4];      /* low 2 bits */
    uint8_t scales[12];        /* 16 6-bit scales, packed */
    sealm_fp16 d;
} block_q3_K;
typedef struct {
    sealm_fp16 d, dmin;
    uint8_t scales[K_SCALE_SIZE]; /* 8 6-bit scales and 8 6-bit mins, packed */
    uint8_t qs[QK_K / 2];
} block_q4_K;
typedef struct {
    sealm_fp16 d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;
typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    sealm_fp16 d;
} block_q6_K;
/* activation blocks for the K-quants: float scale, and sums of each 16 quants */
typedef struct {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_K;

_Static_assert(sizeof(block_q4_0) == 18, "q4_0 layout");
_Static_assert(sizeof(block_q4_1) == 20, "q4_1 layout");
_Static_assert(sizeof(block_q5_0) == 22, "q5_0 layout");
_Static_assert(sizeof(block_q5_1) == 24, "q5_1 layout");
_Static_assert(sizeof(block_q8_0) == 34, "q8_0 layout");
_Static_assert(sizeof(block_q8_1) == 36, "q8_1 layout");
_Static_assert(sizeof(block_q2_K) == 84, "q2_K layout");
_Static_assert(sizeof(block_q3_K) == 110, "q3_K layout");
_Static_assert(sizeof(block_q4_K) == 144, "q4_K layout");
_Static_assert(sizeof(block_q5_K) == 176, "q5_K layout");
_Static_assert(sizeof(block_q6_K) == 210, "q6_K layout");
_Static_assert(sizeof(block_q8_K) == 292, "q8_K layout");

/* ---- half-precision conversions (round to nearest even, as IEEE 754 / F16C) ---- */
float sealm_fp16_to_fp32(sealm_fp16 h);
sealm_fp16 sealm_fp32_to_fp16(float f);
float sealm_bf16_to_fp32(sealm_bf16 h);
sealm_bf16 sealm_fp32_to_bf16(float f);  /* round to nearest even, NaN kept quiet */

/* ---- kernel signatures ----
 * n: elements (a multiple of the type's block size). Rows are contiguous blocks. */
/* s[0] = dot(w[0..n), x[0..n)) where w is a weight row of the table entry's type and x an
 * activation row already converted to that entry's vec_dot_type. */
typedef void (*sealm_vec_dot_fn)(int64_t n, float *restrict s, const void *restrict w, const void *restrict x);
/* s[i] = dot(w[i], x[i]) for i < 4: four independent dot products of n elements, each in
 * exactly the order of vec_dot (so each s[i] is bit-identical to vec_dot(n, &s[i], w[i], x[i])),
 * interleaved so their latency chains overlap. Pointers may repeat (4 rows × one activation
 * in decode, one row × 4 activations in prefill). */
typedef void (*sealm_vec_dot_x4_fn)(int64_t n, float *restrict s, const void *const w[4], const void *const x[4]);
/* s[i] = dot(w row i, x) for i < rows (a multiple of 4), row i at w + i·row_bytes: a
 * matrix-vector product against one activation (decode), each s[i] bit-identical to
 * vec_dot(n, &s[i], row i, x). For kernels whose per-activation work can be done once for
 * all the rows rather than once per four. */
typedef void (*sealm_matvec_fn)(int64_t n, int64_t rows, float *restrict s, const void *w, size_t row_bytes,
                                const void *x);
/* dequantize: src blocks → n floats */
typedef void (*sealm_to_float_fn)(const void *restrict src, float *restrict dst, int64_t n);
/* quantize: n floats → blocks (used for activations, and by tests to make weights) */
typedef void (*sealm_from_float_fn)(const float *restrict src, void *restrict dst, int64_t n);
/* y[t*y_stride + r] = dot(w row r, token t) + bias[r] for rows [r0, r1) and all n_tokens
 * tokens, from activations in a packed panel: the register-tiled prefill products (gemm.h,
 * which describes the panel and the contract). */
typedef void (*sealm_gemm_fn)(int64_t cols, int64_t r0, int64_t r1, const void *w, size_t w_row_bytes,
                              const void *panel, int32_t n_tokens, float *y, int64_t y_stride, const float *bias);

typedef struct sealm_type_traits {
    const char *name;
    int64_t block_elems;
    size_t block_bytes;
    sealm_tensor_type vec_dot_type;   /* what activations are converted to for vec_dot */
    sealm_to_float_fn to_float;       /* scalar reference dequantization */
    sealm_from_float_fn from_float;   /* quantization (reference); NULL where not needed */
    sealm_vec_dot_fn vec_dot_ref;     /* scalar reference dot product */
    sealm_vec_dot_fn vec_dot;         /* fastest for this CPU; == vec_dot_ref before init */
    /* four vec_dots at once, same bits (see sealm_vec_dot_x4_fn); before init, and for the
     * types without an interleaved kernel, it calls vec_dot four times. NULL where vec_dot is. */
    sealm_vec_dot_x4_fn vec_dot_x4;
    /* the rows of a matrix against one activation, same bits (see sealm_matvec_fn); NULL
     * where the installed level has no such kernel (callers then use vec_dot_x4) */
    sealm_matvec_fn matvec;
    sealm_from_float_fn from_float_fast; /* fastest quantizer of activations; == from_float before init */
    sealm_gemm_fn gemm;               /* tiled many-token product (gemm.h); NULL where there is none */
} sealm_type_traits;

/* The kernel table entry of t, or NULL when the engine has no kernels for t.
 * Weight types supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K.
 * Activation types (vec_dot_type targets): F32, F16, BF16, Q8_0, Q8_1, Q8_K. */
const sealm_type_traits *sealm_type_traits_get(sealm_tensor_type t);

/* Which SIMD level the table uses. Two ladders: scalar < avx2 < avx-vnni < avx512 on x86-64
 * (avx-vnni: the AVX2 kernels with the byte dot products built for the VEX-encoded vpdpbusd
 * of AVX-VNNI, as on Alder Lake and later client cores and Zen 5; the same bits as avx2),
 * and scalar < neon < neon-dotprod on aarch64 (neon-dotprod: the NEON kernels with the
 * quantized dot products built for SDOT, ARMv8.2 dot-product extension; the same bits as
 * neon). Within each ladder the values increase (cpu.c's clamp_level relies on it), and
 * SEALM_SIMD_NEON_DOTPROD is the last value (tests loop from SCALAR to it). */
typedef enum sealm_simd_level {
    SEALM_SIMD_SCALAR = 0, SEALM_SIMD_AVX2 = 1, SEALM_SIMD_AVX_VNNI = 2, SEALM_SIMD_AVX512 = 3,
    SEALM_SIMD_NEON = 4, SEALM_SIMD_NEON_DOTPROD = 5,
} sealm_simd_level;

/* Detects the CPU (cpuid on x86-64, hwcaps on aarch64) and installs the fastest kernels.
 * The environment variable SEALM_SIMD=scalar|avx2|avx-vnni|avx512|neon|neon-dotprod caps the level
 * (for tests and for comparing paths). Idempotent and thread-safe (pthread_once). Returns
 * the level chosen. */
sealm_simd_level sealm_kernels_init(void);
/* Forces a level at most as high as the CPU supports (tests); returns the level installed. */
sealm_simd_level sealm_kernels_set_level(sealm_simd_level want);
const char *sealm_simd_level_name(sealm_simd_level l);

/* Vector operations used by attention and norms; the fastest available are installed by
 * sealm_kernels_init. The KV cache is F16: q·k runs on F16 inputs with F32 accumulation. */
typedef struct sealm_vec_ops {
    float (*dot_f32)(const float *a, const float *b, int64_t n);
    float (*dot_f16)(const sealm_fp16 *a, const sealm_fp16 *b, int64_t n);
    /* The same dot in the pinned lane-16 order (quant_ref.h), for any n: element i goes
     * to accumulator i mod 16 (a partial last chunk leaves the other lanes alone). Every
     * level returns exactly the scalar result. */
    float (*dot_f16_lane16)(const sealm_fp16 *a, const sealm_fp16 *b, int64_t n);
    void (*axpy_f16)(float *y, float a, const sealm_fp16 *x, int64_t n);   /* y += a·x */
    void (*fp32_to_fp16_row)(const float *x, sealm_fp16 *y, int64_t n);
    void (*fp16_to_fp32_row)(const sealm_fp16 *x, float *y, int64_t n);
    /* The pinned elementwise steps of elementwise.h (the same bits at every level; the
     * SIMD levels only run them with hardware FMA instead of libm's fmaf). */
    void (*swiglu)(float *g, const float *u, int64_t n);
    double (*softmax_exp)(float *scores, int32_t n, float max);
    void (*rope)(float *x, int n_heads, int head_dim, int n_rot, bool neox, const float *c, const float *s);
    /* F32 dot in the untiled order of sealm_f32_vec_dot_untiled (quant_float.c; for rows
     * whose length is not a multiple of 16): every level returns exactly its result. */
    float (*dot_f32_untiled)(const float *a, const float *b, int64_t n);
    /* Blocked attention (attention.h: the layouts and why; hd % 16 == 0, n_keys >= 1).
     * attn_scores: for queries k < nq (rows of hd floats at q + k·hd, each value exactly an
     * F16) and the keys of kt (one KV head's key tiles), scores[k·scores_stride + j] =
     * lane16(q_k, key j) · scale — dot_f16_lane16's bits on the F16 inputs, times scale —
     * for j < n_keys rounded up to 16 (lanes past n_keys hold no meaning).
     * attn_pv: out[k][e] = lane16 over keys j < n_keys[k] of p[k·p_stride + j]·value(j, e)
     * (dot_f16_lane16's bits with p in F16) for e < hd; vb is one KV head's value rows,
     * vb_stride floats between 16-element blocks; nq <= SEALM_ATTN_MAX_QUERIES (attention.h).
     * Every level returns the scalar bits. */
    void (*attn_scores)(int nq, const float *q, int hd, const float *kt, int32_t n_keys, float scale,
                        float *scores, int64_t scores_stride);
    void (*attn_pv)(int nq, const float *p, int64_t p_stride, const float *vb, int64_t vb_stride,
                    const int32_t *n_keys, int hd, float *const *out);
    /* The softmax weights of scores[0..n) (n >= 1): p16[j] = F16 of exp(scores[j] - max) /
     * sum, with sealm_expf, the exps summed in 16-element chunks (each by sealm_lane16_sum,
     * added in double), the weight rounded to nearest even; scores[j] is overwritten with
     * p16[j] widened back to F32. Every level returns the scalar bits. */
    void (*attn_softmax)(float *scores, int32_t n, sealm_fp16 *p16);
    /* Grouped attention (attention.h, decode: the heads of one token that share a KV head,
     * straight from the F16 cache; hd % 16 == 0, n_keys >= 1, nq <= SEALM_ATTN_MAX_QUERIES).
     * attn_group_scores: scores[k·scores_stride + j] = lane16(q_k, key j) · scale for
     * j < n_keys (nothing else written), q_k the hd floats at q + k·hd (each exactly an
     * F16), key j the hd F16 values at keys + j·key_stride.
     * attn_group_pv: out[k][e] = lane16 over keys j < n_keys of p[k·p_stride + j]·v_e[j]
     * for e < hd, v_e the F16 row at values + e·value_stride (the transposed V cache), p
     * the softmax weights widened from F16.
     * Both are dot_f16_lane16's bits on the same inputs; every level returns the scalar bits. */
    void (*attn_group_scores)(int nq, const float *q, int hd, const sealm_fp16 *keys, int64_t key_stride,
                              int32_t n_keys, float scale, float *scores, int64_t scores_stride);
    void (*attn_group_pv)(int nq, const float *p, int64_t p_stride, const sealm_fp16 *values, int64_t value_stride,
                          int32_t n_keys, int hd, float *const *out);
} sealm_vec_ops;

/* The installed vector operations (scalar ones before sealm_kernels_init). */
const sealm_vec_ops *sealm_vec_ops_get(void);
/* A sealm_vec_dot_fn for F32 weight rows of any length in the untiled order: s[0] =
 * the installed dot_f32_untiled(w, x, n). What model.c gives such rows as their dot (the
 * scalar function runs fmaf through libm on baseline x86-64 builds). Thread-safe. */
void sealm_f32_vec_dot_untiled_fast(int64_t n, float *restrict s, const void *restrict w, const void *restrict x);
/* The scalar reference vector operations (tests compare against them). */
const sealm_vec_ops *sealm_vec_ops_ref(void);

#endif
