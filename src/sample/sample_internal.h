/* Internal to the sample layer: the candidate list the pipeline steps share, the PRNG,
 * and the steps themselves (exported with the layer prefix so tests can check each one). */
#ifndef SEALM_SAMPLE_INTERNAL_H
#define SEALM_SAMPLE_INTERNAL_H

#include "sealm/sample.h"

/* One token still in the running: its id and its (penalized, untempered) logit.
 * Logits here are finite or -inf: NaN and +inf are mapped on entry (see sampler.c). */
typedef struct sealm_candidate {
    int32_t id;
    float logit;
} sealm_candidate;

/* ---- rng.c: xoshiro256** (Blackman & Vigna 2018), seeded through splitmix64 ---- */
typedef struct sealm_rng {
    uint64_t s[4];
} sealm_rng;
void sealm_rng_seed(sealm_rng *r, uint64_t seed);
uint64_t sealm_rng_next(sealm_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double sealm_rng_uniform(sealm_rng *r);

/* ---- softmax.c ---- */
/* e^x computed with IEEE-754 +, -, *, / and ldexp only, so every platform gets the same
 * bits (libm's exp may differ in the last place between C libraries). 0 for x = -inf. */
double sealm_sample_exp(double x);

/* ---- params.c ---- */
/* SEALM_OK, or SEALM_E_INVALID with a message naming the bad field. */
sealm_status sealm_sample_params_check(const sealm_sample_params *p, sealm_error *err);

/* ---- penalties.c ---- */
/* Applies the repetition penalty (positive logits divided by repeat_penalty, negative ones
 * multiplied) once to every distinct token in recent[0..n_recent), then
 * logit -= count·frequency_penalty + presence_penalty, count being the token's occurrences
 * in recent. counts: n_vocab zeros of scratch, left zero on return. Ids outside
 * [0, n_vocab) must not appear in recent. */
void sealm_sample_penalize(float *logits, const int32_t *recent, int32_t n_recent, int32_t *counts,
                           float repeat_penalty, float frequency_penalty, float presence_penalty);

/* ---- truncate.c ---- */
/* Orders candidates by logit, highest first; equal logits by id, lowest first (a total
 * order, so every sort algorithm gives the same result). */
void sealm_sample_sort(sealm_candidate *c, int32_t n);
/* Moves the k best candidates (same order as sealm_sample_sort) to c[0..k), sorted, and
 * returns k. Partial selection with a k-element heap: O(n log k). When k <= 0 (off) or
 * k >= n, returns n and leaves c as it is. */
int32_t sealm_sample_top_k(sealm_candidate *c, int32_t n, int32_t k);
/* c sorted: keeps the shortest prefix whose softmax mass reaches top_p (at least one
 * candidate); returns its length. */
int32_t sealm_sample_top_p(const sealm_candidate *c, int32_t n, float top_p);
/* Keeps candidates whose probability is at least min_p times the most likely one's, in
 * their current order; returns the new count (at least one). */
int32_t sealm_sample_min_p(sealm_candidate *c, int32_t n, float min_p);
/* Draws one candidate from softmax(logit / temperature) by inverse CDF at u in [0, 1);
 * returns its id. temperature > 0. */
int32_t sealm_sample_draw(const sealm_candidate *c, int32_t n, float temperature, double u);

/* ---- dp.c ---- */
/* p'[i] = λ·p[i] + (1 − λ)/n for i in [0, n): the DP mixture over explicit probabilities. */
void sealm_sample_dp_mix(const double *p, int32_t n, double lambda, double *out);
/* Turns a token drawn from p into one drawn from the mixture: kept when u_keep < λ, else
 * replaced by the uniform token floor(u_uniform·n_vocab). u_keep, u_uniform in [0, 1). */
int32_t sealm_sample_dp_apply(int32_t token, int32_t n_vocab, double lambda, double u_keep, double u_uniform);
/* SEALM_OK, or SEALM_E_INVALID for a negative or non-finite dp_epsilon. */
sealm_status sealm_sample_dp_check(float dp_epsilon, sealm_error *err);

#endif
