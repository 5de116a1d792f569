/* The sampler: one row of logits in, one token id out.
 *
 * Steps, in order (see sealm/sample.h): copy the row (mapping NaN to -inf and +inf to the
 * largest float, so no step ever meets NaN), penalties from the recent history, then
 * either argmax (temperature <= 0) or top-k → top-p → min-p → temperature → softmax → a
 * draw. All buffers are allocated once at n_vocab; sampling allocates nothing. */
#include "sample/sample_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

struct sealm_sampler {
    sealm_sample_params params;
    int32_t n_vocab;
    float *logits;           /* working copy of the row, penalized in place */
    sealm_candidate *cand;   /* the candidate list the truncation steps narrow */
    int32_t *counts;         /* per-token scratch for the penalties, zero between calls */
    int32_t *recent;         /* ring of the last repeat_last_n accepted tokens */
    int32_t n_recent;        /* how many of them are filled */
    int32_t recent_next;     /* where the next accepted token goes */
    sealm_rng rng;
};

sealm_status sealm_sampler_new(const sealm_sample_params *p, int32_t n_vocab, sealm_sampler **out, sealm_error *err) {
    if (!out) return sealm_error_set(err, SEALM_E_INVALID, "sampler: no output pointer given");
    *out = NULL;
    if (n_vocab < 1)
        return sealm_error_set(err, SEALM_E_INVALID, "sampler: vocabulary size is %d; it must be at least 1",
                               (int)n_vocab);
    sealm_status st = sealm_sample_params_check(p, err);
    if (st != SEALM_OK) return st;
    st = sealm_sample_dp_check(p->dp_epsilon, err);
    if (st != SEALM_OK) return st;

    sealm_sampler *s = calloc(1, sizeof *s);
    if (!s) return sealm_error_set(err, SEALM_E_NOMEM, "sampler: out of memory");
    s->params = *p;
    s->n_vocab = n_vocab;
    s->logits = malloc((size_t)n_vocab * sizeof *s->logits);
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->counts = calloc((size_t)n_vocab, sizeof *s->counts);
    s->recent = malloc((size_t)(p->repeat_last_n > 0 ? p->repeat_last_n : 1) * sizeof *s->recent);
    if (!s->logits || !s->cand || !s->counts || !s->recent) {
        sealm_sampler_free(s);
        return sealm_error_set(err, SEALM_E_NOMEM, "sampler: out of memory for a %d-token vocabulary",
                               (int)n_vocab);
    }
    sealm_rng_seed(&s->rng, p->seed);
    *out = s;
    return SEALM_OK;
}

void sealm_sampler_free(sealm_sampler *s) {
    if (!s) return;
    free(s->logits);
    free(s->cand);
    free(s->counts);
    free(s->recent);
    free(s);
}

void sealm_sampler_accept(sealm_sampler *s, int32_t token) {
    /* A token outside the vocabulary cannot be penalized; keeping it would index past counts. */
    if (!s || token < 0 || token >= s->n_vocab || s->params.repeat_last_n == 0) return;
    s->recent[s->recent_next] = token;
    s->recent_next = (s->recent_next + 1) % s->params.repeat_last_n;
    if (s->n_recent < s->params.repeat_last_n) s->n_recent++;
}

void sealm_sampler_reset(sealm_sampler *s) {
    if (!s) return;
    s->n_recent = 0;
    s->recent_next = 0;
    sealm_rng_seed(&s->rng, s->params.seed);
}

int32_t sealm_argmax(const float *x, int32_t n) {
    if (!x || n < 1) return -1;
    /* NaN never wins (it compares false); if every value is NaN the answer is 0. */
    int32_t best = 0;
    for (int32_t i = 0; i < n; i++) {
        if (!isnan(x[i])) {
            best = i;
            break;
        }
    }
    for (int32_t i = best + 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Copies the row, NaN → -inf (never chosen) and +inf → FLT_MAX (wins, but still allows
 * the subtraction of a maximum later without producing NaN). */
static void copy_sanitized(float *dst, const float *src, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        float v = src[i];
        if (isnan(v)) v = -INFINITY;
        else if (v > FLT_MAX) v = FLT_MAX;
        dst[i] = v;
    }
}

/* DP decoding (dp.c): the token drawn from the pipeline's distribution becomes a draw from
 * its mixture with the uniform distribution. Off (dp_epsilon 0) it draws nothing, so the
 * sampler's output and PRNG stream are exactly those without DP. */
static int32_t dp_mix(sealm_sampler *s, int32_t token) {
    if (!(s->params.dp_epsilon > 0.0f)) return token;
    double lambda = sealm_sample_dp_lambda(s->params.dp_epsilon, s->n_vocab);
    double u_keep = sealm_rng_uniform(&s->rng), u_uniform = sealm_rng_uniform(&s->rng);
    return sealm_sample_dp_apply(token, s->n_vocab, lambda, u_keep, u_uniform);
}

int32_t sealm_sampler_sample(sealm_sampler *s, const float *logits) {
    if (!s || !logits) return -1;
    const sealm_sample_params *p = &s->params;
    int32_t n = s->n_vocab;

    copy_sanitized(s->logits, logits, n);
    sealm_sample_penalize(s->logits, s->recent, s->n_recent, s->counts, p->repeat_penalty,
                          p->frequency_penalty, p->presence_penalty);

    /* Penalties can push a logit past the float range again; sanitize while filling. */
    float max = -INFINITY;
    for (int32_t i = 0; i < n; i++) {
        float v = s->logits[i];
        if (isnan(v)) v = -INFINITY;
        else if (v > FLT_MAX) v = FLT_MAX;
        s->cand[i].id = i;
        s->cand[i].logit = v;
        s->logits[i] = v;
        if (v > max) max = v;
    }
    /* Greedy, or nothing is possible at all (every logit -inf): the first best token. */
    if (p->temperature <= 0.0f || max == -INFINITY) return dp_mix(s, sealm_argmax(s->logits, n));

    bool sorted = false;
    if (p->top_k > 0 && p->top_k < n) {
        n = sealm_sample_top_k(s->cand, n, p->top_k);
        sorted = true;
    }
    if (p->top_p < 1.0f) {
        if (!sorted) sealm_sample_sort(s->cand, n);
        n = sealm_sample_top_p(s->cand, n, p->top_p);
    }
    n = sealm_sample_min_p(s->cand, n, p->min_p);
    return dp_mix(s, sealm_sample_draw(s->cand, n, p->temperature, sealm_rng_uniform(&s->rng)));
}
