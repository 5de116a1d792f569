/* Tests for the sample layer: the pipeline's steps, the seeded draw, the stop matcher. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealm/sample.h"
#include "sample/sample_internal.h"

/* Test data generator, independent of the sampler's own PRNG. */
static uint32_t lcg_state = 12345;
static float lcg_float(void) {
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (float)(lcg_state >> 8) / (float)(1u << 24) * 20.0f - 10.0f;
}

static sealm_sample_params plain_params(float temperature) {
    sealm_sample_params p = sealm_sample_params_default();
    p.temperature = temperature;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 42;
    return p;
}

static sealm_sampler *new_sampler(const sealm_sample_params *p, int32_t n_vocab) {
    sealm_sampler *s = NULL;
    sealm_error err = {0};
    assert_int_equal(sealm_sampler_new(p, n_vocab, &s, &err), SEALM_OK);
    assert_non_null(s);
    return s;
}

/* ---- greedy and argmax ---- */

static void test_argmax(void **state) {
    (void)state;
    const float x[] = {1.0f, 3.0f, -2.0f, 3.0f};
    assert_int_equal(sealm_argmax(x, 4), 1); /* first of the tied maxima */
    assert_int_equal(sealm_argmax(x, 0), -1);
    const float with_nan[] = {NAN, -5.0f, NAN, -1.0f};
    assert_int_equal(sealm_argmax(with_nan, 4), 3);
    const float all_nan[] = {NAN, NAN};
    assert_int_equal(sealm_argmax(all_nan, 2), 0);
}

static void test_greedy_is_argmax(void **state) {
    (void)state;
    enum { V = 1000 };
    float logits[V];
    sealm_sample_params p = sealm_sample_params_default(); /* top-k/top-p/min-p on: ignored */
    p.temperature = 0.0f;
    sealm_sampler *s = new_sampler(&p, V);
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < V; i++) logits[i] = lcg_float();
        int best = 0;
        for (int i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        assert_int_equal(sealm_sampler_sample(s, logits), best);
    }
    /* The sampler works on a copy: the caller's row is unchanged. */
    float before[V];
    memcpy(before, logits, sizeof before);
    sealm_sampler_sample(s, logits);
    assert_memory_equal(before, logits, sizeof before);
    sealm_sampler_free(s);
}

static void test_top_k_1_is_argmax_at_any_temperature(void **state) {
    (void)state;
    enum { V = 500 };
    float logits[V];
    for (int i = 0; i < V; i++) logits[i] = lcg_float() * 0.01f; /* nearly flat */
    int best = sealm_argmax(logits, V);
    const float temps[] = {0.1f, 1.0f, 5.0f, 1000.0f};
    for (size_t t = 0; t < sizeof temps / sizeof temps[0]; t++) {
        sealm_sample_params p = plain_params(temps[t]);
        p.top_k = 1;
        sealm_sampler *s = new_sampler(&p, V);
        for (int d = 0; d < 200; d++) assert_int_equal(sealm_sampler_sample(s, logits), best);
        sealm_sampler_free(s);
    }
}

/* ---- determinism ---- */

static void draw_sequence(uint64_t seed, const float *logits, int32_t v, int32_t *out, int n) {
    sealm_sample_params p = plain_params(1.0f);
    p.seed = seed;
    sealm_sampler *s = new_sampler(&p, v);
    for (int i = 0; i < n; i++) out[i] = sealm_sampler_sample(s, logits);
    sealm_sampler_free(s);
}

static void test_seed_determinism(void **state) {
    (void)state;
    enum { V = 16, N = 400 };
    float logits[V] = {0}; /* uniform: each draw is 1 of 16 */
    int32_t a[N], b[N], c[N];
    draw_sequence(7, logits, V, a, N);
    draw_sequence(7, logits, V, b, N);
    draw_sequence(8, logits, V, c, N);
    assert_memory_equal(a, b, sizeof a);
    /* Two independent uniform sequences agree at 1/16 of positions (25 of 400 expected,
     * sd ~4.8); agreement at more than 75 would mean the seed barely matters. */
    int same = 0;
    for (int i = 0; i < N; i++) same += a[i] == c[i];
    assert_true(same < 75);
    /* Every token shows up: the draw really spreads over the vocabulary. */
    int seen[V] = {0};
    for (int i = 0; i < N; i++) seen[a[i]]++;
    for (int i = 0; i < V; i++) assert_true(seen[i] > 0);
}

static void test_reset_reseeds_and_forgets(void **state) {
    (void)state;
    enum { V = 32, N = 50 };
    float logits[V];
    for (int i = 0; i < V; i++) logits[i] = lcg_float() * 0.2f;
    sealm_sample_params p = plain_params(1.0f);
    p.repeat_penalty = 1.5f;
    sealm_sampler *s = new_sampler(&p, V);
    int32_t first[N], second[N];
    for (int i = 0; i < N; i++) {
        first[i] = sealm_sampler_sample(s, logits);
        sealm_sampler_accept(s, first[i]);
    }
    sealm_sampler_reset(s);
    for (int i = 0; i < N; i++) {
        second[i] = sealm_sampler_sample(s, logits);
        sealm_sampler_accept(s, second[i]);
    }
    assert_memory_equal(first, second, sizeof first);
    sealm_sampler_free(s);
}

static void test_rng_known_values(void **state) {
    (void)state;
    /* xoshiro256** by hand from state {1,2,3,4}: rotl(2·5, 7)·9 = 1280·9 = 11520; after one
     * step s[1] = 2 ^ (3 ^ 1) = 0, so the second output is 0. */
    sealm_rng r = {{1, 2, 3, 4}};
    assert_true(sealm_rng_next(&r) == 11520u);
    assert_true(sealm_rng_next(&r) == 0u);
    /* splitmix64 from 0: its published first output is 0xe220a8397b1dcdaf. */
    sealm_rng_seed(&r, 0);
    assert_true(r.s[0] == 0xe220a8397b1dcdafULL);
    for (int i = 0; i < 10000; i++) {
        double u = sealm_rng_uniform(&r);
        assert_true(u >= 0.0 && u < 1.0);
    }
}

static void test_portable_exp(void **state) {
    (void)state;
    double worst = 0.0;
    for (double x = -740.0; x <= 700.0; x += 0.0137) {
        double rel = fabs(sealm_sample_exp(x) - exp(x)) / exp(x);
        if (rel > worst) worst = rel;
    }
    assert_true(worst < 1e-14);
    assert_true(sealm_sample_exp(0.0) == 1.0);
    assert_true(sealm_sample_exp(-INFINITY) == 0.0);
    assert_true(sealm_sample_exp(-800.0) == 0.0);
}

/* ---- the distribution ---- */

static void check_frequencies(const float *logits, int32_t v, float temperature, int n_draws) {
    sealm_sample_params p = plain_params(temperature);
    sealm_sampler *s = new_sampler(&p, v);
    int counts[64] = {0};
    for (int i = 0; i < n_draws; i++) {
        int32_t id = sealm_sampler_sample(s, logits);
        assert_true(id >= 0 && id < v);
        counts[id]++;
    }
    sealm_sampler_free(s);
    double max = logits[0], total = 0.0, prob[64];
    for (int i = 1; i < v; i++) max = fmax(max, logits[i]);
    for (int i = 0; i < v; i++) total += (prob[i] = exp((logits[i] - max) / temperature));
    for (int i = 0; i < v; i++) {
        /* Each count is Binomial(n, p): mean n·p, sd sqrt(n·p·(1-p)). A correct sampler
         * leaves 5 sd with probability ~6e-7 per token; a wrong temperature or an
         * off-by-one in the CDF moves these counts by tens of sd. */
        double pi = prob[i] / total, mean = n_draws * pi, sd = sqrt(n_draws * pi * (1.0 - pi));
        double bound = 5.0 * sd + 1.0;
        if (fabs(counts[i] - mean) > bound)
            fail_msg("token %d: %d draws, expected %.1f ± %.1f", i, counts[i], mean, bound);
    }
}

static void test_frequencies_match_softmax(void **state) {
    (void)state;
    const float logits[8] = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, -1.0f, 0.25f, -3.0f};
    check_frequencies(logits, 8, 1.0f, 20000);
    check_frequencies(logits, 8, 0.5f, 20000);
    check_frequencies(logits, 8, 2.0f, 20000);
}

/* ---- truncation ---- */

static void test_top_k_selects_the_k_best(void **state) {
    (void)state;
    enum { V = 2000 };
    static sealm_candidate c[V], sorted[V];
    for (int i = 0; i < V; i++) {
        c[i].id = i;
        c[i].logit = (float)(int)lcg_float(); /* many ties: the id breaks them */
    }
    memcpy(sorted, c, sizeof c);
    sealm_sample_sort(sorted, V);
    for (int i = 1; i < V; i++)
        assert_true(sorted[i - 1].logit > sorted[i].logit ||
                    (sorted[i - 1].logit == sorted[i].logit && sorted[i - 1].id < sorted[i].id));
    const int32_t ks[] = {1, 7, 40, 1999};
    for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
        static sealm_candidate work[V];
        memcpy(work, c, sizeof c);
        assert_int_equal(sealm_sample_top_k(work, V, ks[t]), ks[t]);
        for (int i = 0; i < ks[t]; i++) {
            assert_int_equal(work[i].id, sorted[i].id);
            assert_true(work[i].logit == sorted[i].logit);
        }
    }
    /* Off: nothing removed, nothing moved. */
    static sealm_candidate work[V];
    memcpy(work, c, sizeof c);
    assert_int_equal(sealm_sample_top_k(work, V, 0), V);
    assert_int_equal(sealm_sample_top_k(work, V, V + 5), V);
    assert_memory_equal(work, c, sizeof c);
}

static void test_top_k_excludes_in_sampling(void **state) {
    (void)state;
    const float logits[6] = {0.3f, 1.0f, 0.1f, 0.9f, 0.8f, 0.2f};
    sealm_sample_params p = plain_params(5.0f); /* hot: without top-k all six would appear */
    p.top_k = 3;
    sealm_sampler *s = new_sampler(&p, 6);
    int seen[6] = {0};
    for (int i = 0; i < 3000; i++) seen[sealm_sampler_sample(s, logits)]++;
    sealm_sampler_free(s);
    assert_true(seen[1] > 0 && seen[3] > 0 && seen[4] > 0);
    assert_int_equal(seen[0] + seen[2] + seen[5], 0);
}

/* Candidates with probabilities 1/2, 1/4, 1/8, 1/16, 1/16 (sorted). */
static void halving_candidates(sealm_candidate *c) {
    const float ln2 = 0.69314718f;
    const float logits[5] = {0.0f, -ln2, -2 * ln2, -3 * ln2, -3 * ln2};
    for (int i = 0; i < 5; i++) {
        c[i].id = 10 + i;
        c[i].logit = logits[i];
    }
}

static void test_top_p(void **state) {
    (void)state;
    sealm_candidate c[5];
    halving_candidates(c);
    assert_int_equal(sealm_sample_top_p(c, 5, 0.0f), 1);  /* always at least one */
    assert_int_equal(sealm_sample_top_p(c, 5, 0.4f), 1);  /* 0.5 >= 0.4 */
    assert_int_equal(sealm_sample_top_p(c, 5, 0.6f), 2);  /* 0.75 */
    assert_int_equal(sealm_sample_top_p(c, 5, 0.8f), 3);  /* 0.875 */
    assert_int_equal(sealm_sample_top_p(c, 5, 0.9f), 4);  /* 0.9375 */
    assert_int_equal(sealm_sample_top_p(c, 5, 0.99f), 5);
    assert_int_equal(sealm_sample_top_p(c, 5, 1.0f), 5);  /* off */

    /* Through the sampler: top_p 0.6 keeps only the two most likely tokens. */
    float logits[5];
    for (int i = 0; i < 5; i++) logits[i] = c[4 - i].logit; /* best last, to need the sort */
    sealm_sample_params p = plain_params(1.0f);
    p.top_p = 0.6f;
    sealm_sampler *s = new_sampler(&p, 5);
    int seen[5] = {0};
    for (int i = 0; i < 2000; i++) seen[sealm_sampler_sample(s, logits)]++;
    sealm_sampler_free(s);
    assert_true(seen[4] > 0 && seen[3] > 0);
    assert_int_equal(seen[0] + seen[1] + seen[2], 0);
}

static void test_min_p(void **state) {
    (void)state;
    sealm_candidate c[5];
    halving_candidates(c);
    /* Ratios to the best: 1, 1/2, 1/4, 1/8, 1/8. */
    assert_int_equal(sealm_sample_min_p(c, 5, 0.3f), 2);
    assert_int_equal(c[0].id, 10);
    assert_int_equal(c[1].id, 11);
    halving_candidates(c);
    assert_int_equal(sealm_sample_min_p(c, 5, 0.2f), 3);
    halving_candidates(c);
    assert_int_equal(sealm_sample_min_p(c, 5, 0.1f), 5);
    halving_candidates(c);
    assert_int_equal(sealm_sample_min_p(c, 5, 1.0f), 1);
    /* Unsorted input keeps its order. */
    sealm_candidate u[4] = {{3, -5.0f}, {1, 0.0f}, {2, -0.1f}, {0, -9.0f}};
    assert_int_equal(sealm_sample_min_p(u, 4, 0.5f), 2);
    assert_int_equal(u[0].id, 1);
    assert_int_equal(u[1].id, 2);

    /* Through the sampler, hot, so only min-p can keep tokens out. */
    float logits[5];
    halving_candidates(c);
    for (int i = 0; i < 5; i++) logits[i] = c[i].logit;
    sealm_sample_params p = plain_params(3.0f);
    p.min_p = 0.2f;
    sealm_sampler *s = new_sampler(&p, 5);
    int seen[5] = {0};
    for (int i = 0; i < 3000; i++) seen[sealm_sampler_sample(s, logits)]++;
    sealm_sampler_free(s);
    assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
    assert_int_equal(seen[3] + seen[4], 0);
}

/* ---- penalties ---- */

static void test_penalty_formulas(void **state) {
    (void)state;
    enum { V = 10 };
    float logits[V];
    for (int i = 0; i < V; i++) logits[i] = 1.5f + (float)i;
    logits[2] = 2.0f;
    logits[5] = -1.0f;
    logits[7] = 0.0f;
    float expect[V];
    memcpy(expect, logits, sizeof expect);
    int32_t counts[V] = {0};
    const int32_t recent[] = {2, 5, 2, 7};
    sealm_sample_penalize(logits, recent, 4, counts, 2.0f, 0.5f, 0.25f);
    expect[2] = 2.0f / 2.0f - (2 * 0.5f + 0.25f);   /* positive: divided; seen twice */
    expect[5] = -1.0f * 2.0f - (1 * 0.5f + 0.25f);  /* negative: multiplied */
    expect[7] = 0.0f * 2.0f - (1 * 0.5f + 0.25f);
    for (int i = 0; i < V; i++) assert_float_equal(logits[i], expect[i], 1e-6);
    for (int i = 0; i < V; i++) assert_int_equal(counts[i], 0); /* scratch left clean */

    /* Each penalty on its own. */
    float one[3] = {4.0f, -4.0f, 1.0f};
    const int32_t r2[] = {0, 1, 0, 0};
    sealm_sample_penalize(one, r2, 4, counts, 1.0f, 0.0f, 1.0f);   /* presence only */
    assert_float_equal(one[0], 3.0f, 1e-6);
    assert_float_equal(one[1], -5.0f, 1e-6);
    assert_float_equal(one[2], 1.0f, 1e-6);
    sealm_sample_penalize(one, r2, 4, counts, 1.0f, 0.5f, 0.0f);   /* frequency only */
    assert_float_equal(one[0], 1.5f, 1e-6);
    assert_float_equal(one[1], -5.5f, 1e-6);
}

static void test_penalties_in_sampler(void **state) {
    (void)state;
    const float logits[4] = {3.0f, 2.9f, 1.0f, 0.5f};
    sealm_sample_params p = plain_params(0.0f); /* greedy: penalties still apply */
    p.repeat_penalty = 1.3f;
    p.repeat_last_n = 2;
    sealm_sampler *s = new_sampler(&p, 4);
    assert_int_equal(sealm_sampler_sample(s, logits), 0);
    sealm_sampler_accept(s, 0);   /* 3.0 / 1.3 = 2.31 < 2.9 */
    assert_int_equal(sealm_sampler_sample(s, logits), 1);
    sealm_sampler_accept(s, 3);
    sealm_sampler_accept(s, 2);   /* token 0 has left the 2-token window */
    assert_int_equal(sealm_sampler_sample(s, logits), 0);
    sealm_sampler_accept(s, -1);  /* out of range: ignored, no crash */
    sealm_sampler_accept(s, 99);
    sealm_sampler_free(s);

    /* Prompt tokens count too: presence penalty on an accepted prompt token. */
    p.repeat_penalty = 1.0f;
    p.presence_penalty = 0.2f;
    p.repeat_last_n = 64;
    s = new_sampler(&p, 4);
    sealm_sampler_accept(s, 0);
    assert_int_equal(sealm_sampler_sample(s, logits), 1);
    sealm_sampler_free(s);
}

/* ---- robustness ---- */

static void test_invalid_params(void **state) {
    (void)state;
    sealm_sampler *s = (sealm_sampler *)&s;
    sealm_error err = {0};
    sealm_sample_params good = sealm_sample_params_default();
    assert_int_equal(sealm_sampler_new(&good, 0, &s, &err), SEALM_E_INVALID);
    assert_null(s);
    assert_true(strlen(err.message) > 0);
    assert_int_equal(sealm_sampler_new(NULL, 10, &s, &err), SEALM_E_INVALID);

    sealm_sample_params bad[9];
    for (int i = 0; i < 9; i++) bad[i] = good;
    bad[0].temperature = NAN;
    bad[1].top_p = 1.5f;
    bad[2].top_p = -0.1f;
    bad[3].min_p = NAN;
    bad[4].min_p = -0.5f;
    bad[5].repeat_penalty = 0.0f;
    bad[6].repeat_penalty = -1.0f;
    bad[7].repeat_last_n = -1;
    bad[8].frequency_penalty = INFINITY;
    for (int i = 0; i < 9; i++) {
        err.message[0] = '\0';
        s = (sealm_sampler *)&s;
        assert_int_equal(sealm_sampler_new(&bad[i], 10, &s, &err), SEALM_E_INVALID);
        assert_null(s);
        assert_int_equal(err.code, SEALM_E_INVALID);
        assert_true(strlen(err.message) > 0);
    }
    /* Documented "off" values are accepted. */
    sealm_sample_params off = good;
    off.temperature = -1.0f;
    off.top_k = -3;
    off.top_p = 1.0f;
    off.min_p = 0.0f;
    off.repeat_last_n = 0;
    off.frequency_penalty = -0.5f;
    assert_int_equal(sealm_sampler_new(&off, 10, &s, &err), SEALM_OK);
    sealm_sampler_free(s);
}

static void test_nan_and_inf_logits(void **state) {
    (void)state;
    float logits[6] = {NAN, 1.0f, INFINITY, NAN, 2.0f, -INFINITY};
    sealm_sample_params p = sealm_sample_params_default();
    p.temperature = 1.0f;
    sealm_sampler *s = new_sampler(&p, 6);
    for (int i = 0; i < 100; i++) assert_int_equal(sealm_sampler_sample(s, logits), 2);
    /* No +inf: NaN and -inf are never drawn. */
    logits[2] = NAN;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.temperature = 100.0f;
    sealm_sampler_free(s);
    s = new_sampler(&p, 6);
    for (int i = 0; i < 500; i++) {
        int32_t id = sealm_sampler_sample(s, logits);
        assert_true(id == 1 || id == 4);
    }
    /* Nothing possible at all: still a valid id. */
    float none[6] = {NAN, -INFINITY, NAN, -INFINITY, -INFINITY, NAN};
    int32_t id = sealm_sampler_sample(s, none);
    assert_true(id >= 0 && id < 6);
    sealm_sampler_free(s);
    p.temperature = 0.0f;
    s = new_sampler(&p, 6);
    logits[2] = INFINITY;
    assert_int_equal(sealm_sampler_sample(s, logits), 2);
    sealm_sampler_free(s);
}

/* ---- stop strings ---- */

/* Pushes the pieces, collecting released text into out; returns whether a stop matched. */
static bool push_all(sealm_stop_matcher *m, const char *const *pieces, size_t n, char *out, size_t cap) {
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *rel;
        size_t n_rel;
        bool stopped = sealm_stop_matcher_push(m, pieces[i], strlen(pieces[i]), &rel, &n_rel);
        assert_true(strlen(out) + n_rel < cap);
        strncat(out, rel, n_rel);
        if (stopped) return true;
    }
    return false;
}

static sealm_stop_matcher *new_matcher(const char *const *stops, size_t n) {
    sealm_stop_matcher *m = NULL;
    sealm_error err = {0};
    assert_int_equal(sealm_stop_matcher_new(stops, n, &m, &err), SEALM_OK);
    return m;
}

static void test_stop_across_chunks(void **state) {
    (void)state;
    const char *stops[] = {"llo"};
    sealm_stop_matcher *m = new_matcher(stops, 1);
    const char *rel;
    size_t n_rel;
    assert_false(sealm_stop_matcher_push(m, "He", 2, &rel, &n_rel));
    assert_int_equal(n_rel, 2);                  /* no tail of "He" starts "llo" */
    assert_memory_equal(rel, "He", 2);
    assert_false(sealm_stop_matcher_push(m, "l", 1, &rel, &n_rel));
    assert_int_equal(n_rel, 0);                  /* "l" may start "llo": held */
    assert_true(sealm_stop_matcher_push(m, "lo", 2, &rel, &n_rel));
    assert_int_equal(n_rel, 0);                  /* nothing of the stop is released */
    sealm_stop_matcher_free(m);

    m = new_matcher(stops, 1);
    char out[64];
    const char *pieces[] = {"He", "llo", " world"};
    assert_true(push_all(m, pieces, 3, out, sizeof out));
    assert_string_equal(out, "He");
    /* Stopped: later pushes release nothing and keep reporting the stop. */
    assert_true(sealm_stop_matcher_push(m, "more", 4, &rel, &n_rel));
    assert_int_equal(n_rel, 0);
    sealm_stop_matcher_flush(m, &rel, &n_rel);
    assert_int_equal(n_rel, 0);
    sealm_stop_matcher_free(m);
}

static void test_stop_holds_back_prefixes(void **state) {
    (void)state;
    const char *stops[] = {"</end>"};
    sealm_stop_matcher *m = new_matcher(stops, 1);
    const char *rel;
    size_t n_rel;
    assert_false(sealm_stop_matcher_push(m, "a </e", 5, &rel, &n_rel));
    assert_int_equal(n_rel, 2);
    assert_memory_equal(rel, "a ", 2);           /* "</e" held: it may become "</end>" */
    assert_false(sealm_stop_matcher_push(m, "x", 1, &rel, &n_rel));
    assert_int_equal(n_rel, 4);
    assert_memory_equal(rel, "</ex", 4);         /* the prefix failed: released whole */
    assert_false(sealm_stop_matcher_push(m, "<", 1, &rel, &n_rel));
    assert_int_equal(n_rel, 0);
    assert_false(sealm_stop_matcher_push(m, "<", 1, &rel, &n_rel));
    assert_int_equal(n_rel, 1);                  /* first "<" can go, second may start it */
    assert_memory_equal(rel, "<", 1);
    sealm_stop_matcher_flush(m, &rel, &n_rel);   /* end of generation: held text comes out */
    assert_int_equal(n_rel, 1);
    assert_memory_equal(rel, "<", 1);
    sealm_stop_matcher_free(m);
}

static void test_stop_multiple_and_nothing_beyond(void **state) {
    (void)state;
    const char *stops[] = {"STOP", "\n\n", "ab"};
    sealm_stop_matcher *m = new_matcher(stops, 3);
    char out[128];
    const char *p1[] = {"one\n", "two S", "TO", "P three"};
    assert_true(push_all(m, p1, 4, out, sizeof out));
    assert_string_equal(out, "one\ntwo ");
    sealm_stop_matcher_free(m);

    m = new_matcher(stops, 3);
    const char *p2[] = {"x", "\n", "\nSTOP"}; /* "\n\n" completes first */
    assert_true(push_all(m, p2, 3, out, sizeof out));
    assert_string_equal(out, "x");
    sealm_stop_matcher_free(m);

    m = new_matcher(stops, 3);
    const char *p3[] = {"xxSTabOP"}; /* "ab" inside one chunk, before a "STOP" that never completes */
    assert_true(push_all(m, p3, 1, out, sizeof out));
    assert_string_equal(out, "xxST");
    sealm_stop_matcher_free(m);

    m = new_matcher(stops, 3);
    const char *p4[] = {"no", " stop", " here", " S"};
    assert_false(push_all(m, p4, 4, out, sizeof out));
    assert_string_equal(out, "no stop here ");
    const char *rel;
    size_t n_rel;
    sealm_stop_matcher_flush(m, &rel, &n_rel);
    assert_int_equal(n_rel, 1);
    assert_memory_equal(rel, "S", 1);
    sealm_stop_matcher_free(m);
}

static void test_stop_holdback_bound_and_errors(void **state) {
    (void)state;
    const char *stops[] = {"aaaa"};
    sealm_stop_matcher *m = new_matcher(stops, 1);
    const char *rel;
    size_t n_rel;
    /* Never four a's in a row; the matcher may hold at most 3 bytes at any time. */
    const char *pieces[] = {"xaa", "a", "b", "aa", "a", "c", "a", "aa"};
    size_t pushed = 0, released = 0;
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        assert_false(sealm_stop_matcher_push(m, pieces[i], strlen(pieces[i]), &rel, &n_rel));
        pushed += strlen(pieces[i]);
        released += n_rel;
        assert_true(pushed - released <= 3);
    }
    assert_int_equal(pushed - released, 3);      /* the final "aaa" */
    sealm_stop_matcher_free(m);

    sealm_stop_matcher *none = NULL;
    sealm_error err = {0};
    const char *empty[] = {"ok", ""};
    assert_int_equal(sealm_stop_matcher_new(empty, 2, &none, &err), SEALM_E_INVALID);
    assert_null(none);
    /* No stops: everything passes straight through. */
    m = new_matcher(NULL, 0);
    assert_false(sealm_stop_matcher_push(m, "abc", 3, &rel, &n_rel));
    assert_int_equal(n_rel, 3);
    sealm_stop_matcher_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argmax),
        cmocka_unit_test(test_greedy_is_argmax),
        cmocka_unit_test(test_top_k_1_is_argmax_at_any_temperature),
        cmocka_unit_test(test_seed_determinism),
        cmocka_unit_test(test_reset_reseeds_and_forgets),
        cmocka_unit_test(test_rng_known_values),
        cmocka_unit_test(test_portable_exp),
        cmocka_unit_test(test_frequencies_match_softmax),
        cmocka_unit_test(test_top_k_selects_the_k_best),
        cmocka_unit_test(test_top_k_excludes_in_sampling),
        cmocka_unit_test(test_top_p),
        cmocka_unit_test(test_min_p),
        cmocka_unit_test(test_penalty_formulas),
        cmocka_unit_test(test_penalties_in_sampler),
        cmocka_unit_test(test_invalid_params),
        cmocka_unit_test(test_nan_and_inf_logits),
        cmocka_unit_test(test_stop_across_chunks),
        cmocka_unit_test(test_stop_holds_back_prefixes),
        cmocka_unit_test(test_stop_multiple_and_nothing_beyond),
        cmocka_unit_test(test_stop_holdback_bound_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
