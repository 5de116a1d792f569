/* sealm sample layer — choosing the next token from a row of logits.
 *
 * Pipeline, in this order (as in llama.cpp's default sampler chain and the HF
 * transformers logits processors): repetition penalty (Keskar et al. 2019, CTRL: divide
 * positive logits / multiply negative ones by the penalty for tokens in the recent window),
 * frequency and presence penalties (OpenAI API semantics: logit -= count·freq + (count>0)·presence),
 * then greedy if temperature <= 0, else top-k → top-p (nucleus, Holtzman et al. 2020) →
 * min-p (relative to the most likely token) → temperature → softmax → a draw from a seeded
 * PRNG (xoshiro256**, Blackman & Vigna). The same seed, logits and settings always give the
 * same token on every platform.
 *
 * Thread safety: a sealm_sampler is per-sequence state; one thread at a time. */
#ifndef SEALM_SAMPLE_H
#define SEALM_SAMPLE_H

#include "sealm/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sealm_sample_params {
    float temperature;        /* <= 0: greedy (argmax). Default 0.8 */
    int32_t top_k;            /* <= 0: off. Default 40 */
    float top_p;              /* >= 1: off. Default 0.95 */
    float min_p;              /* <= 0: off. Default 0.05 */
    float repeat_penalty;     /* 1: off. Default 1.0 */
    int32_t repeat_last_n;    /* tokens of history the penalties look at. Default 64 */
    float frequency_penalty;  /* 0: off */
    float presence_penalty;   /* 0: off */
    uint64_t seed;            /* PRNG seed */
    float dp_epsilon;         /* > 0: differentially private decoding, ε per generated token
                                 (mixing with the uniform distribution, Majmudar et al. 2022;
                                 see sealm_sample_dp_lambda and docs/guard.md). 0: off */
} sealm_sample_params;

/* The defaults listed above. */
sealm_sample_params sealm_sample_params_default(void);

/* Differentially private decoding (Majmudar et al. 2022, "Differentially Private Decoding in
 * Large Language Models"): the token is drawn from p' = λ·p + (1 − λ)·u, p being the
 * distribution the rest of the pipeline would sample from (one-hot for greedy) and u the
 * uniform distribution over the n_vocab tokens. For any two inputs and any token x,
 * p'(x)/q'(x) ≤ (λ + (1−λ)/|V|) / ((1−λ)/|V|) = 1 + λ|V|/(1−λ) = e^ε, so each generated token
 * is ε-DP; T tokens are Tε-DP by sequential composition. Returns
 * λ = (e^ε − 1) / (e^ε − 1 + |V|) in [0, 1): 0 for eps <= 0 or n_vocab < 1 (then p' = u). */
double sealm_sample_dp_lambda(double eps, int32_t n_vocab);

typedef struct sealm_sampler sealm_sampler;

/* n_vocab: logits per row. Returns SEALM_OK, SEALM_E_INVALID (n_vocab < 1; a NaN or infinite
 * parameter; repeat_penalty <= 0; repeat_last_n < 0; top_p or min_p outside [0, 1]),
 * SEALM_E_NOMEM. Negative frequency/presence penalties are allowed (they favour repeats,
 * as in the OpenAI API); temperature <= 0 means greedy and top_k <= 0 means off. */
sealm_status sealm_sampler_new(const sealm_sample_params *p, int32_t n_vocab, sealm_sampler **out, sealm_error *err);
/* Frees the sampler; NULL is a no-op. */
void sealm_sampler_free(sealm_sampler *s);

/* Picks a token from logits[0..n_vocab) (not modified; the sampler works on its own copy).
 * Does not record the token: call sealm_sampler_accept for each token that enters the
 * sequence (prompt tokens too, so penalties see them). */
int32_t sealm_sampler_sample(sealm_sampler *s, const float *logits);
void sealm_sampler_accept(sealm_sampler *s, int32_t token);
/* Forgets the history; the PRNG is re-seeded with the original seed. */
void sealm_sampler_reset(sealm_sampler *s);

/* Index of the largest value (first on ties); -1 when n < 1. */
int32_t sealm_argmax(const float *x, int32_t n);

/* ---- stop strings ----
 * Streaming matcher for stop sequences: text is pushed as it is generated; the matcher
 * releases only text that cannot be the start of a stop string, and reports a match.
 * Hold-back is at most the longest stop string minus one byte. */
typedef struct sealm_stop_matcher sealm_stop_matcher;
/* stops[0..n_stops): the stop strings (copied; n_stops may be 0). Returns SEALM_OK,
 * SEALM_E_INVALID (an empty or NULL stop string), SEALM_E_NOMEM. */
sealm_status sealm_stop_matcher_new(const char *const *stops, size_t n_stops, sealm_stop_matcher **out, sealm_error *err);
/* Frees the matcher; NULL is a no-op. */
void sealm_stop_matcher_free(sealm_stop_matcher *m);
/* Appends text; *released and *n_released point to bytes safe to emit now (valid until the
 * next call). Returns true when a stop string has been completed: the released text then
 * ends just before it and the rest must be discarded. */
bool sealm_stop_matcher_push(sealm_stop_matcher *m, const char *text, size_t len,
                             const char **released, size_t *n_released);
/* At end of generation: everything held back (no stop matched). */
void sealm_stop_matcher_flush(sealm_stop_matcher *m, const char **released, size_t *n_released);

#ifdef __cplusplus
}
#endif
#endif
