/* Tests for differentially private decoding (src/sample/dp.c and its hook in the sampler):
 * the ε ↔ λ relation, the per-token ratio bound over random pairs of distributions, that
 * dp_epsilon 0 leaves the sampler untouched, seeded reproducibility, and that the sampler's
 * empirical frequencies follow the mixture. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sealm/sample.h"
#include "sample/sample_internal.h"

static uint32_t lcg_state = 777;
static double lcg_unit(void) {
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (double)(lcg_state >> 8) / (double)(1u << 24);
}

/* a random distribution; spiky: one token gets almost all mass (the worst case for DP) */
static void random_dist(double *p, int n, bool spiky) {
    double sum = 0;
    for (int i = 0; i < n; i++) {
        p[i] = spiky ? 1e-9 * lcg_unit() : pow(lcg_unit(), 4.0);
        sum += p[i];
    }
    if (spiky) {
        int k = (int)(lcg_unit() * n) % n;
        p[k] += 1.0;
        sum += 1.0;
    }
    for (int i = 0; i < n; i++) p[i] /= sum;
}

static void test_lambda_epsilon_relation(void **state) {
    (void)state;
    const int32_t V[] = {2, 50, 32000, 49152};
    const double E[] = {0.1, 1.0, 5.0, 10.0, 20.0};
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 5; j++) {
            double l = sealm_sample_dp_lambda(E[j], V[i]);
            assert_true(l > 0.0 && l < 1.0);
            /* inverse: ε = log(1 + λ|V|/(1−λ)) */
            double eps = log1p(l * V[i] / (1.0 - l));
            assert_true(fabs(eps - E[j]) < 1e-9 * (1.0 + E[j]));
        }
    assert_true(sealm_sample_dp_lambda(0.0, 100) == 0.0);
    assert_true(sealm_sample_dp_lambda(-1.0, 100) == 0.0);
    /* monotone in ε */
    assert_true(sealm_sample_dp_lambda(2.0, 100) > sealm_sample_dp_lambda(1.0, 100));
}

/* For every pair of "neighbouring" inputs — here any two next-token distributions, which is
 * stronger — and every token: p'(x) / q'(x) <= e^ε. */
static void test_ratio_bound(void **state) {
    (void)state;
    enum { N = 257 };
    static double p[N], q[N], pm[N], qm[N];
    const double E[] = {0.5, 1.0, 3.0, 8.0};
    double worst_seen[4] = {0};
    for (size_t e = 0; e < 4; e++) {
        double lambda = sealm_sample_dp_lambda(E[e], N);
        for (int trial = 0; trial < 200; trial++) {
            random_dist(p, N, trial % 2 == 0);
            random_dist(q, N, trial % 3 == 0);
            sealm_sample_dp_mix(p, N, lambda, pm);
            sealm_sample_dp_mix(q, N, lambda, qm);
            for (int x = 0; x < N; x++) {
                double r = pm[x] / qm[x];
                assert_true(r <= exp(E[e]) * (1.0 + 1e-12));
                if (r > worst_seen[e]) worst_seen[e] = r;
            }
        }
        /* the bound is tight: a one-hot p against a q with 0 at that token reaches it */
        for (int i = 0; i < N; i++) p[i] = q[i] = 0;
        p[3] = 1;
        q[4] = 1;
        sealm_sample_dp_mix(p, N, lambda, pm);
        sealm_sample_dp_mix(q, N, lambda, qm);
        assert_true(fabs(pm[3] / qm[3] - exp(E[e])) < 1e-9 * exp(E[e]));
        assert_true(worst_seen[e] > 1.0);
    }
    /* without mixing (λ = 1) the ratio is unbounded: the test would catch a no-op */
    for (int i = 0; i < N; i++) p[i] = q[i] = 0;
    p[3] = 1;
    q[4] = 1;
    sealm_sample_dp_mix(p, N, 1.0, pm);
    sealm_sample_dp_mix(q, N, 1.0, qm);
    assert_true(qm[3] == 0.0);
}

static sealm_sample_params params(float temp, float eps, uint64_t seed) {
    sealm_sample_params p = sealm_sample_params_default();
    p.temperature = temp;
    p.dp_epsilon = eps;
    p.seed = seed;
    return p;
}

static void fill_logits(float *l, int n) {
    for (int i = 0; i < n; i++) l[i] = (float)(lcg_unit() * 12.0 - 6.0);
}

static void test_off_is_identical(void **state) {
    (void)state;
    enum { V = 500, STEPS = 300 };
    static float logits[V];
    sealm_sampler *a = NULL, *b = NULL;
    sealm_sample_params pa = params(0.9f, 0.0f, 7), pb = sealm_sample_params_default();
    pb.temperature = 0.9f;
    pb.seed = 7;   /* a parameter block that never heard of DP */
    assert_int_equal(sealm_sampler_new(&pa, V, &a, NULL), SEALM_OK);
    assert_int_equal(sealm_sampler_new(&pb, V, &b, NULL), SEALM_OK);
    for (int s = 0; s < STEPS; s++) {
        fill_logits(logits, V);
        int32_t ta = sealm_sampler_sample(a, logits), tb = sealm_sampler_sample(b, logits);
        assert_int_equal(ta, tb);
        sealm_sampler_accept(a, ta);
        sealm_sampler_accept(b, tb);
    }
    sealm_sampler_free(a);
    sealm_sampler_free(b);
}

static void test_seeded_reproducible_and_changes_output(void **state) {
    (void)state;
    enum { V = 300, STEPS = 400 };
    static float logits[STEPS][V];
    for (int s = 0; s < STEPS; s++) fill_logits(logits[s], V);
    int32_t run[2][STEPS];
    for (int r = 0; r < 2; r++) {
        sealm_sampler *smp = NULL;
        sealm_sample_params p = params(0.0f, 3.0f, 99);   /* greedy + DP */
        assert_int_equal(sealm_sampler_new(&p, V, &smp, NULL), SEALM_OK);
        for (int s = 0; s < STEPS; s++) run[r][s] = sealm_sampler_sample(smp, logits[s]);
        sealm_sampler_free(smp);
    }
    assert_memory_equal(run[0], run[1], sizeof run[0]);
    /* at ε = 3 with |V| = 300, λ ≈ 0.064: most tokens must differ from greedy */
    int same = 0;
    for (int s = 0; s < STEPS; s++) same += run[0][s] == sealm_argmax(logits[s], V);
    double lambda = sealm_sample_dp_lambda(3.0, V);
    double expect = lambda + (1 - lambda) / V;
    assert_true(fabs((double)same / STEPS - expect) < 0.05);
}

/* The sampler's frequencies follow λ·p + (1−λ)·u (p one-hot here: greedy). */
static void test_frequencies_follow_mixture(void **state) {
    (void)state;
    enum { V = 8, DRAWS = 40000 };
    float logits[V] = {0, 1, 2, 5, 0, 0, 0, 0};
    sealm_sampler *smp = NULL;
    sealm_sample_params p = params(0.0f, 2.0f, 5);
    assert_int_equal(sealm_sampler_new(&p, V, &smp, NULL), SEALM_OK);
    int count[V] = {0};
    for (int i = 0; i < DRAWS; i++) count[sealm_sampler_sample(smp, logits)]++;
    sealm_sampler_free(smp);
    double lambda = sealm_sample_dp_lambda(2.0, V);
    for (int t = 0; t < V; t++) {
        double expect = (t == 3 ? lambda : 0.0) + (1 - lambda) / V;
        double sd = sqrt(expect * (1 - expect) / DRAWS);
        assert_true(fabs((double)count[t] / DRAWS - expect) < 5 * sd);
    }
}

static void test_invalid_epsilon(void **state) {
    (void)state;
    sealm_sampler *smp = NULL;
    sealm_error err = {0};
    sealm_sample_params p = params(0.8f, -1.0f, 1);
    assert_int_equal(sealm_sampler_new(&p, 10, &smp, &err), SEALM_E_INVALID);
    assert_non_null(strstr(err.message, "dp_epsilon"));
    p.dp_epsilon = NAN;
    assert_int_equal(sealm_sampler_new(&p, 10, &smp, &err), SEALM_E_INVALID);
    assert_null(smp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lambda_epsilon_relation),
        cmocka_unit_test(test_ratio_bound),
        cmocka_unit_test(test_off_is_identical),
        cmocka_unit_test(test_seeded_reproducible_and_changes_output),
        cmocka_unit_test(test_frequencies_follow_mixture),
        cmocka_unit_test(test_invalid_epsilon),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
