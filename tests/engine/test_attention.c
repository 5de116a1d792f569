/* Tests of attention (src/engine/attention.c and its kernels attention_avx2.c,
 * attention_avx512.c, attention_neon.c): the blocked prefill path and the grouped decode path must give
 * exactly — memcmp — the bits of the per-pair path (one lane-16 dot per key and per output
 * element),
 * at every SIMD level this CPU has, for 1 and 3 threads, on random queries, keys and
 * values, over shapes that cover GQA (groups of 1, 2, 3, 4, 8, 12, 20 and 32 heads, so units
 * of one to sixteen tokens and heads split over units, and grouped runs cut by the thread
 * shares and by the 16-query limit), decode (one token) and short batches, head sizes 16 to 128, causal ends on
 * either side of the 256-key chunks of p·V, token counts and context sizes that are not
 * multiples of 16, and later batches (pos0 > 0). Cache positions past the batch and the
 * F32 value rows hold NaN before each run, so reading past a token's keys shows. One output
 * is recomputed here from the F16 data in the pinned order, independently of both paths;
 * the softmax kernels are compared over rows that reach every branch of sealm_expf, and the
 * grouped kernels directly against their scalar references over odd key counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attention.h"
#include "engine/mathfn.h"
#include "support/test_rng.h"

/* ---- helpers ---- */


static const sealm_fp16 FP16_NAN = 0x7e00;

typedef struct attn_shape {
    int n_head, n_head_kv, head_dim;
    int32_t n_tokens, pos0;
} attn_shape;

/* A model with hyperparameters only: attention reads nothing else, and contexts can be
 * created over it. Two layers, so that the layer offset into the cache is exercised. */
static sealm_model fake_model(const attn_shape *s) {
    sealm_model m;
    memset(&m, 0, sizeof m);
    m.hp = (sealm_hparams){.arch = SEALM_ARCH_LLAMA, .n_vocab = 16, .n_ctx_train = 4096,
                           .n_embd = s->n_head * s->head_dim, .n_ff = 32, .n_layer = 2,
                           .n_head = s->n_head, .n_head_kv = s->n_head_kv, .head_dim = s->head_dim,
                           .n_rot = s->head_dim, .rope_freq_base = 10000.0f, .rope_freq_scale = 1.0f,
                           .norm_eps = 1e-5f};
    return m;
}

/* n_ctx: seven positions more than the batch needs, so not a multiple of 16 for most shapes */
static sealm_context *new_ctx(const sealm_model *m, const attn_shape *s, int n_threads) {
    sealm_context_params p = sealm_context_params_default();
    p.n_ctx = s->pos0 + s->n_tokens + 7;
    p.n_batch = s->n_tokens;
    p.n_threads = n_threads;
    sealm_context *c = NULL;
    sealm_error err = {0};
    if (sealm_context_new(m, &p, &c, &err)) fail_msg("context: %s", err.message);
    return c;
}

/* Random queries for the batch and random keys and values for positions [0, pos0 + n) of
 * both layers; NaN at every later position. Some tokens' queries are 16× larger, so their
 * softmax is peaked and many weights round to zero or to F16 subnormals; an eighth of the
 * values are ±0. */
static void fill(sealm_context *c, const attn_shape *s, uint64_t seed) {
    rng_seed(seed);
    const sealm_hparams *hp = &c->model->hp;
    const int64_t d = hp->n_embd, kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    const int32_t n_keys = s->pos0 + s->n_tokens, n_ctx = c->kv.n_ctx;
    for (int32_t t = 0; t < s->n_tokens; t++) {
        const float amp = t % 5 == 3 ? 32.0f : 2.0f;
        for (int64_t i = 0; i < d; i++) c->act.q[t * d + i] = rng_uniform(-amp, amp);
    }
    for (int layer = 0; layer < hp->n_layer; layer++) {
        sealm_fp16 *k = c->kv.k + (size_t)layer * (size_t)n_ctx * (size_t)kv_dim;
        sealm_fp16 *v = c->kv.v + (size_t)layer * (size_t)n_ctx * (size_t)kv_dim;
        for (int32_t j = 0; j < n_ctx; j++)
            for (int64_t e = 0; e < kv_dim; e++) {
                float kval = rng_uniform(-2.0f, 2.0f), vval = rng_uniform(-1.0f, 1.0f);
                const uint64_t r = rng_next() % 16;
                if (r == 0) vval = 0.0f;
                if (r == 1) vval = -0.0f;
                /* keys head-major: [n_head_kv][n_ctx][head_dim] */
                const size_t g = (size_t)(e / hp->head_dim), ke = (size_t)(e % hp->head_dim);
                k[(g * (size_t)n_ctx + (size_t)j) * (size_t)hp->head_dim + ke] =
                    j < n_keys ? sealm_fp32_to_fp16(kval) : FP16_NAN;
                v[(size_t)e * (size_t)n_ctx + (size_t)j] = j < n_keys ? sealm_fp32_to_fp16(vval) : FP16_NAN;
            }
    }
}

/* Runs layer 1's attention on the given path and returns a copy of act.att (malloc'd). The
 * blocked path's F32 value rows are first filled with NaN: rows past the last key must
 * never be read. */
static float *run(sealm_context *c, const attn_shape *s, sealm_attn_path path) {
    const size_t n_out = (size_t)s->n_tokens * (size_t)c->model->hp.n_embd;
    memset(c->act.att, 0xff, n_out * sizeof(float));   /* NaN: every output must be written */
    if (c->attn_f32.vb) {
        const size_t n = (size_t)c->model->hp.n_head_kv * (size_t)c->model->hp.head_dim * (size_t)c->attn_f32.n_cap;
        for (size_t i = 0; i < n; i++) c->attn_f32.vb[i] = NAN;
    }
    sealm_attention_run_path(c, 1, s->n_tokens, s->pos0, path);
    float *out = malloc(n_out * sizeof *out);
    assert_non_null(out);
    memcpy(out, c->act.att, n_out * sizeof *out);
    return out;
}

/* Where two outputs differ first, for the failure message. */
static void assert_same(const float *want, const float *got, size_t n, const char *what) {
    if (memcmp(want, got, n * sizeof *want) == 0) return;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&want[i], &got[i], sizeof *want) != 0)
            fail_msg("%s: output %zu is %.9g, want %.9g", what, i, (double)got[i], (double)want[i]);
}

static const attn_shape SHAPES[] = {
    {9, 3, 64, 37, 0},      /* SmolLM2-135M: groups of 3 */
    {32, 4, 64, 19, 5},     /* TinyLlama: groups of 8, a second batch */
    {4, 4, 128, 20, 0},     /* no GQA, head size 128 */
    {4, 2, 128, 6, 100},    /* a short later batch far into the cache */
    {12, 1, 32, 10, 0},     /* one KV head for 12 heads: two kernel calls per KV head */
    {8, 2, 16, 33, 40},     /* the smallest blocked head */
    {6, 3, 48, 16, 16},     /* head size three blocks, batch of exactly 16 */
    {9, 3, 64, 40, 110},    /* causal ends on both sides of 128 keys */
    {4, 1, 64, 12, 250},    /* units of 16 pairs whose causal ends straddle 256 keys */
    {6, 2, 32, 7, 600},     /* a later batch over more than two 256-key chunks */
    {32, 1, 16, 9, 0},      /* 32 heads on one KV head: more than one unit per token */
    {8, 4, 8, 12, 3},       /* stories260K's head size: no blocked path, the per-pair one runs */
    {9, 3, 64, 1, 200},     /* decode: one token, 201 keys (a partial last block of 9) */
    {32, 4, 64, 1, 16},     /* decode with groups of 8, exactly 17 keys */
    {4, 4, 128, 2, 30},     /* two tokens, no GQA: runs of one head */
    {40, 2, 32, 1, 0},      /* the first token; groups of 20 split into runs of 16 and 4 */
    {9, 3, 64, 1, 700},     /* decode 701 keys into a head-major key cache (each KV head 701 rows) */
};

/* ---- tests ---- */

/* The blocked path against the per-pair path at the scalar level, the per-pair path at
 * every level against itself at scalar, the blocked path at every level, and the choice
 * sealm_attention_run makes, each with 1 and 3 threads: every output identical. */
static void test_blocked_equals_per_pair(void **state) {
    (void)state;
    const sealm_simd_level initial = sealm_kernels_init();
    int levels_run = 0;
    for (size_t si = 0; si < sizeof SHAPES / sizeof SHAPES[0]; si++) {
        const attn_shape *s = &SHAPES[si];
        sealm_model m = fake_model(s);
        const size_t n_out = (size_t)s->n_tokens * (size_t)m.hp.n_embd;
        float *want = NULL;
        for (int n_threads = 1; n_threads <= 3; n_threads += 2) {
            sealm_context *c = new_ctx(&m, s, n_threads);
            /* the blocked path must be set up wherever it can run */
            assert_int_equal(c->attn_f32.kt != NULL,
                             s->head_dim % 16 == 0 && s->n_tokens >= SEALM_ATTN_BLOCKED_MIN_TOKENS);
            fill(c, s, 1000 + si);
            assert_int_equal(sealm_kernels_set_level(SEALM_SIMD_SCALAR), SEALM_SIMD_SCALAR);
            if (!want) {
                want = run(c, s, SEALM_ATTN_PER_PAIR);
                for (size_t i = 0; i < n_out; i++)
                    if (!isfinite(want[i])) fail_msg("shape %zu: per-pair output %zu is not finite", si, i);
            }
            for (int l = SEALM_SIMD_SCALAR; l <= SEALM_SIMD_NEON_DOTPROD; l++) {
                if (sealm_kernels_set_level((sealm_simd_level)l) != (sealm_simd_level)l) continue;
                if (si == 0 && n_threads == 1) levels_run++;
                char what[128];
                const sealm_attn_path paths[4] = {SEALM_ATTN_PER_PAIR, SEALM_ATTN_BLOCKED, SEALM_ATTN_GROUPED,
                                                  SEALM_ATTN_AUTO};
                for (int pi = 0; pi < 4; pi++) {
                    float *got = run(c, s, paths[pi]);
                    snprintf(what, sizeof what, "shape %zu (%d heads, %d KV, d %d, %d tokens at %d), %s, path %d, %d threads",
                             si, s->n_head, s->n_head_kv, s->head_dim, s->n_tokens, s->pos0,
                             sealm_simd_level_name((sealm_simd_level)l), (int)paths[pi], n_threads);
                    assert_same(want, got, n_out, what);
                    free(got);
                }
            }
            sealm_context_free(c);
        }
        free(want);
    }
    assert_true(levels_run >= 1);
    fprintf(stderr, "attention: %d SIMD level(s) compared\n", levels_run);
    assert_int_equal(sealm_kernels_set_level(initial), initial);
}

/* Heads whose outputs are not all alike: the per-pair reference itself is a real
 * attention (a constant result would make the comparisons above vacuous). One output
 * recomputed here from the F16 data in the pinned order, independently of both paths. */
static void test_one_output_by_hand(void **state) {
    (void)state;
    const attn_shape s = {4, 2, 32, 9, 7};
    sealm_model m = fake_model(&s);
    sealm_context *c = new_ctx(&m, &s, 1);
    fill(c, &s, 77);
    float *got = run(c, &s, SEALM_ATTN_BLOCKED);

    const int32_t t = 6, h = 3, kvh = 1, hd = 32, n = s.pos0 + t + 1;
    const int64_t kv_dim = 2 * hd, n_ctx = c->kv.n_ctx;
    const sealm_fp16 *k = c->kv.k + (size_t)n_ctx * (size_t)kv_dim;   /* layer 1 */
    const sealm_fp16 *v = c->kv.v + (size_t)n_ctx * (size_t)kv_dim;
    const float *q = c->act.q + (int64_t)t * m.hp.n_embd + h * hd;
    float scores[64];
    float max = -INFINITY;
    for (int32_t j = 0; j < n; j++) {
        float lanes[16] = {0};
        for (int e = 0; e < hd; e++)
            lanes[e % 16] = fmaf(sealm_fp16_to_fp32(sealm_fp32_to_fp16(q[e])),
                                 sealm_fp16_to_fp32(k[((size_t)kvh * (size_t)n_ctx + (size_t)j) * (size_t)hd + (size_t)e]),
                                 lanes[e % 16]);
        scores[j] = sealm_lane16_sum(lanes) * (1.0f / sqrtf((float)hd));
        if (scores[j] > max) max = scores[j];
    }
    double sum = 0.0;
    for (int32_t c0 = 0; c0 < n; c0 += 16) {
        float chunk[16] = {0};
        for (int32_t j = c0; j < n && j < c0 + 16; j++) chunk[j - c0] = scores[j] = sealm_expf(scores[j] - max);
        sum += (double)sealm_lane16_sum(chunk);
    }
    const float inv = (float)(1.0 / sum);
    for (int e = 0; e < hd; e++) {
        float lanes[16] = {0};
        for (int32_t j = 0; j < n; j++)
            lanes[j % 16] = fmaf(sealm_fp16_to_fp32(sealm_fp32_to_fp16(scores[j] * inv)),
                                 sealm_fp16_to_fp32(v[(size_t)(kvh * hd + e) * (size_t)n_ctx + (size_t)j]), lanes[j % 16]);
        const float want = sealm_lane16_sum(lanes);
        const float have = got[(int64_t)t * m.hp.n_embd + h * hd + e];
        if (memcmp(&want, &have, sizeof want) != 0) fail_msg("element %d: %.9g, want %.9g", e, (double)have, (double)want);
    }
    /* and the heads differ from each other */
    assert_memory_not_equal(got, got + hd, (size_t)hd * sizeof(float));
    free(got);
    sealm_context_free(c);
}

/* attn_softmax at every level against the scalar one, on rows that reach every branch of
 * sealm_expf: gentle scores, spreads of hundreds (exps below the normal range, and flushed
 * to zero past n = -192), -inf scores, signed zeros, all-equal rows, a huge maximum, and
 * lengths around the 8- and 16-lane steps. */
static void test_softmax_levels(void **state) {
    (void)state;
    const sealm_simd_level initial = sealm_kernels_init();
    static const int32_t lengths[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 100, 257};
    enum { MAX_N = 257, KINDS = 7 };
    rng_seed(4242);
    int subnormal_weights = 0, flushed = 0;
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++)
        for (int kind = 0; kind < KINDS; kind++)
            for (int rep = 0; rep < 4; rep++) {
                const int32_t n = lengths[li];
                float row[MAX_N];
                for (int32_t j = 0; j < n; j++) {
                    switch (kind) {
                    case 0: row[j] = rng_uniform(-3.0f, 3.0f); break;
                    case 1: row[j] = rng_uniform(-250.0f, 5.0f); break;              /* deep tails */
                    case 2: row[j] = rng_uniform(-110.0f, -80.0f) * (j % 3 != 0); break;   /* n near -125..-160 and 0 */
                    case 3: row[j] = j % 4 == 1 ? -INFINITY : rng_uniform(-20.0f, 20.0f); break;
                    case 4: row[j] = (j % 2) ? 0.0f : -0.0f; break;
                    case 5: row[j] = 1.5f; break;
                    default: row[j] = rng_uniform(-1.0f, 1.0f) + (j == n / 2 ? 3.0e38f : 0.0f); break;
                    }
                }
                float want_s[MAX_N];
                sealm_fp16 want_p[MAX_N];
                memcpy(want_s, row, (size_t)n * sizeof(float));
                sealm_attn_softmax_ref(want_s, n, want_p);
                for (int32_t j = 0; j < n; j++) {
                    subnormal_weights += want_p[j] != 0 && (want_p[j] & 0x7c00) == 0;
                    flushed += want_p[j] == 0;
                }
                for (int l = SEALM_SIMD_SCALAR; l <= SEALM_SIMD_NEON_DOTPROD; l++) {
                    if (sealm_kernels_set_level((sealm_simd_level)l) != (sealm_simd_level)l) continue;
                    float got_s[MAX_N];
                    sealm_fp16 got_p[MAX_N];
                    memcpy(got_s, row, (size_t)n * sizeof(float));
                    sealm_vec_ops_get()->attn_softmax(got_s, n, got_p);
                    if (memcmp(want_p, got_p, (size_t)n * sizeof want_p[0]) != 0 ||
                        memcmp(want_s, got_s, (size_t)n * sizeof want_s[0]) != 0)
                        fail_msg("softmax differs at %s: n %d, kind %d, rep %d",
                                 sealm_simd_level_name((sealm_simd_level)l), n, kind, rep);
                }
            }
    /* the rows did reach the rare branches */
    assert_true(subnormal_weights > 0);
    assert_true(flushed > 0);

    /* Many ordinary rows: a one-ulp difference in a chunk sum or in 1/sum moves a weight's
     * F16 rounding only about once in 10^4 weights, so order mistakes need numbers to show. */
    enum { ROWS = 8192, ROW_N = 96 };
    float *rows = malloc((size_t)ROWS * ROW_N * sizeof *rows);
    float *want_s = malloc((size_t)ROWS * ROW_N * sizeof *want_s), *got_s = malloc((size_t)ROWS * ROW_N * sizeof *got_s);
    sealm_fp16 *want_p = malloc((size_t)ROWS * ROW_N * sizeof *want_p);
    sealm_fp16 *got_p = malloc((size_t)ROWS * ROW_N * sizeof *got_p);
    assert_true(rows && want_s && got_s && want_p && got_p);
    for (size_t i = 0; i < (size_t)ROWS * ROW_N; i++) rows[i] = rng_uniform(-4.0f, 4.0f);
    memcpy(want_s, rows, (size_t)ROWS * ROW_N * sizeof *rows);
    for (int r = 0; r < ROWS; r++) {
        const int32_t n = ROW_N - r % 23;   /* partial last chunks of every length */
        sealm_attn_softmax_ref(want_s + (size_t)r * ROW_N, n, want_p + (size_t)r * ROW_N);
    }
    for (int l = SEALM_SIMD_SCALAR; l <= SEALM_SIMD_NEON_DOTPROD; l++) {
        if (sealm_kernels_set_level((sealm_simd_level)l) != (sealm_simd_level)l) continue;
        memcpy(got_s, rows, (size_t)ROWS * ROW_N * sizeof *rows);
        for (int r = 0; r < ROWS; r++) {
            const int32_t n = ROW_N - r % 23;
            sealm_vec_ops_get()->attn_softmax(got_s + (size_t)r * ROW_N, n, got_p + (size_t)r * ROW_N);
            if (memcmp(want_p + (size_t)r * ROW_N, got_p + (size_t)r * ROW_N, (size_t)n * sizeof *want_p) != 0 ||
                memcmp(want_s + (size_t)r * ROW_N, got_s + (size_t)r * ROW_N, (size_t)n * sizeof *want_s) != 0)
                fail_msg("softmax differs at %s: row %d of %d scores", sealm_simd_level_name((sealm_simd_level)l), r, n);
        }
    }
    free(rows); free(want_s); free(got_s); free(want_p); free(got_p);
    assert_int_equal(sealm_kernels_set_level(initial), initial);
}

/* An F16 value for the grouped kernels' data: uniform in [-amp, amp), with one in eight
 * ±0 (a zero product, or a -0 one, must not change a chain's bits). */
static sealm_fp16 f16_datum(float amp) {
    const uint64_t r = rng_next() % 16;
    if (r == 0) return sealm_fp32_to_fp16(0.0f);
    if (r == 1) return sealm_fp32_to_fp16(-0.0f);
    return sealm_fp32_to_fp16(rng_uniform(-amp, amp));
}

/* attn_group_scores and attn_group_pv at every level against the scalar references, for
 * key counts on either side of the 8- and 16-key steps (1, 15, 16, 17, 33, 255), head
 * sizes 16, 64 and 128, and 1 to 5 queries (so every size of a pass of four and a second
 * pass), plus 8 and 16. The data holds ±0; key rows sit a stride apart with NaN between
 * them, value rows hold NaN past n_keys, the weights too, so a read past what the contract
 * names shows as a NaN; scores past n_keys and outputs past hd must stay untouched. */
static void test_group_kernels_levels(void **state) {
    (void)state;
    const sealm_simd_level initial = sealm_kernels_init();
    static const int32_t key_counts[] = {1, 15, 16, 17, 33, 255};
    static const int head_sizes[] = {16, 64, 128};
    static const int query_counts[] = {1, 2, 3, 4, 5, 8, 16};
    enum { MAX_Q = 16, MAX_HD = 128, MAX_KEYS = 255, KEY_GAP = 8, ROW_GAP = 5, P_GAP = 3 };
    const int64_t key_stride = MAX_HD + KEY_GAP, value_stride = MAX_KEYS + ROW_GAP, p_stride = MAX_KEYS + P_GAP;
    const int64_t scores_stride = MAX_KEYS + 1;
    sealm_fp16 *keys = malloc((size_t)MAX_KEYS * (size_t)key_stride * sizeof *keys);
    sealm_fp16 *values = malloc((size_t)MAX_HD * (size_t)value_stride * sizeof *values);
    float *q = malloc((size_t)MAX_Q * MAX_HD * sizeof *q), *p = malloc((size_t)MAX_Q * (size_t)p_stride * sizeof *p);
    float *want_s = malloc((size_t)MAX_Q * (size_t)scores_stride * sizeof *want_s);
    float *got_s = malloc((size_t)MAX_Q * (size_t)scores_stride * sizeof *got_s);
    float *want_o = malloc((size_t)MAX_Q * (MAX_HD + 1) * sizeof *want_o), *got_o = malloc((size_t)MAX_Q * (MAX_HD + 1) * sizeof *got_o);
    assert_true(keys && values && q && p && want_s && got_s && want_o && got_o);
    float *want_rows[MAX_Q], *got_rows[MAX_Q];
    for (int k = 0; k < MAX_Q; k++) {
        want_rows[k] = want_o + (size_t)k * (MAX_HD + 1);
        got_rows[k] = got_o + (size_t)k * (MAX_HD + 1);
    }
    rng_seed(5151);
    int levels_run = 0, zero_outputs = 0;
    for (size_t hi = 0; hi < sizeof head_sizes / sizeof head_sizes[0]; hi++)
        for (size_t ki = 0; ki < sizeof key_counts / sizeof key_counts[0]; ki++)
            for (size_t qi = 0; qi < sizeof query_counts / sizeof query_counts[0]; qi++) {
                const int hd = head_sizes[hi], nq = query_counts[qi];
                const int32_t n = key_counts[ki];
                for (int32_t j = 0; j < MAX_KEYS; j++)
                    for (int64_t e = 0; e < key_stride; e++)
                        keys[j * key_stride + e] = j < n && e < hd ? f16_datum(2.0f) : FP16_NAN;
                for (int e = 0; e < MAX_HD; e++)
                    for (int64_t j = 0; j < value_stride; j++)
                        values[e * value_stride + j] = j < n ? f16_datum(1.0f) : FP16_NAN;
                for (int k = 0; k < nq; k++) {
                    /* queries are exactly F16 values (the contract); one in four is large, so
                     * that some weights below are peaked */
                    const float amp = k % 4 == 3 ? 32.0f : 2.0f;
                    for (int e = 0; e < hd; e++) q[k * hd + e] = sealm_fp16_to_fp32(f16_datum(amp));
                    for (int64_t j = 0; j < p_stride; j++)
                        p[k * p_stride + j] = j < n ? fabsf(sealm_fp16_to_fp32(f16_datum(1.0f))) : NAN;
                }
                /* a row of weights that are all zero but one, and a value row all -0: chains
                 * and sums of zero products only (their signs are the references' too) */
                if (nq >= 2) {
                    for (int32_t j = 0; j < n; j++) p[p_stride + j] = j == n / 2 ? 0.5f : 0.0f;
                    for (int32_t j = 0; j < n; j++) values[3 * value_stride + j] = sealm_fp32_to_fp16(-0.0f);
                }
                const float scale = 1.0f / sqrtf((float)hd);
                memset(want_s, 0x7f, (size_t)MAX_Q * (size_t)scores_stride * sizeof *want_s);
                memset(want_o, 0x7f, (size_t)MAX_Q * (MAX_HD + 1) * sizeof *want_o);
                sealm_attn_group_scores_ref(nq, q, hd, keys, key_stride, n, scale, want_s, scores_stride);
                sealm_attn_group_pv_ref(nq, p, p_stride, values, value_stride, n, hd, want_rows);
                for (int k = 0; k < nq; k++)
                    for (int e = 0; e < hd; e++) zero_outputs += want_rows[k][e] == 0.0f;
                for (int l = SEALM_SIMD_SCALAR; l <= SEALM_SIMD_NEON_DOTPROD; l++) {
                    if (sealm_kernels_set_level((sealm_simd_level)l) != (sealm_simd_level)l) continue;
                    const sealm_vec_ops *ops = sealm_vec_ops_get();
                    if (hi == 0 && ki == 0 && qi == 0) {
                        levels_run++;
                        /* the SIMD levels must run their own kernels, not the references */
                        if (l != SEALM_SIMD_SCALAR) {
                            assert_true(ops->attn_group_scores != sealm_attn_group_scores_ref);
                            assert_true(ops->attn_group_pv != sealm_attn_group_pv_ref);
                        }
                    }
                    memset(got_s, 0x7f, (size_t)MAX_Q * (size_t)scores_stride * sizeof *got_s);
                    memset(got_o, 0x7f, (size_t)MAX_Q * (MAX_HD + 1) * sizeof *got_o);
                    ops->attn_group_scores(nq, q, hd, keys, key_stride, n, scale, got_s, scores_stride);
                    ops->attn_group_pv(nq, p, p_stride, values, value_stride, n, hd, got_rows);
                    if (memcmp(want_s, got_s, (size_t)MAX_Q * (size_t)scores_stride * sizeof *want_s) != 0)
                        fail_msg("group scores differ at %s: hd %d, %d keys, %d queries",
                                 sealm_simd_level_name((sealm_simd_level)l), hd, n, nq);
                    if (memcmp(want_o, got_o, (size_t)MAX_Q * (MAX_HD + 1) * sizeof *want_o) != 0)
                        fail_msg("group p·V differs at %s: hd %d, %d keys, %d queries",
                                 sealm_simd_level_name((sealm_simd_level)l), hd, n, nq);
                }
                assert_int_equal(sealm_kernels_set_level(SEALM_SIMD_SCALAR), SEALM_SIMD_SCALAR);
                /* the references themselves produced finite numbers where they wrote */
                for (int k = 0; k < nq; k++)
                    for (int32_t j = 0; j < n; j++) assert_true(isfinite(want_s[k * scores_stride + j]));
            }
    assert_true(levels_run >= 1);
    assert_true(zero_outputs > 0);
    fprintf(stderr, "grouped kernels: %d SIMD level(s) compared\n", levels_run);
    free(keys); free(values); free(q); free(p); free(want_s); free(got_s); free(want_o); free(got_o);
    assert_int_equal(sealm_kernels_set_level(initial), initial);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocked_equals_per_pair),
        cmocka_unit_test(test_one_output_by_hand),
        cmocka_unit_test(test_softmax_levels),
        cmocka_unit_test(test_group_kernels_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
