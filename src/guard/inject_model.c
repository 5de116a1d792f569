/* The statistical stage of injection screening: a logistic regression over hashed word
 * unigrams and bigrams of the normalized text (the "hashing trick", Weinberger et al. 2009).
 * The rules know the idioms; this stage knows the vocabulary around them ("password",
 * "pretend", "tell me the secret") that no single rule may weigh alone.
 *
 * The weights are a generated table (inject_model_weights.c, written by bench/inject_train.py
 * from licensed data); this file and the script must tokenize and hash identically:
 *   - a token is a maximal run of ASCII letters/digits or bytes >= 0x80, ASCII lowered;
 *   - features: every token, and every pair of neighbouring tokens as "a b";
 *   - hash: a token's is h = rotl32(h, 5) ^ byte over its bytes from 2166136261 (two cheap
 *     operations per byte; the multiply in the bucket mixes the bits); a pair's mixes its two
 *     tokens' hashes, ((p ^ (p >> 15)) * 0x85EBCA6B mod 2^32) ^ h;
 *     bucket = (h * 2654435761 mod 2^32) >> (32 - bits);
 *   - logit = bias + scale * sum(q[bucket]) / sqrt(number of features); p = sigmoid(logit).
 * One pass over the bytes, no allocation: a few µs per KiB. The byte-wise steps are inline in
 * inject_internal.h so that the screen computes them inside its gate pass. */
#include "inject_internal.h"

#include <math.h>

static inline bool token_byte(unsigned char c) { return guard_is_alnum(c) || c >= 0x80; }

double inject_model_end(inject_model_acc *m) {
    inject_model_sep(m);   /* the last token */
    double z = (double)SEALM_GUARD_INJECT_MODEL_BIAS;
    if (m->n_feat) z += (double)SEALM_GUARD_INJECT_MODEL_SCALE * (double)m->sum / sqrt((double)m->n_feat);
    return z;
}

double sealm_guard_inject_model_logit(const char *text, size_t len) {
    inject_model_acc m;
    inject_model_begin(&m);
    const unsigned char *t = (const unsigned char *)text;
    for (size_t i = 0; i < len; i++) {
        if (token_byte(t[i])) inject_model_byte(&m, t[i]);
        else inject_model_sep(&m);
    }
    return inject_model_end(&m);
}

float sealm_guard_inject_model_probability(const char *text, size_t len) {
    double z = sealm_guard_inject_model_logit(text, len);
    return (float)(1.0 / (1.0 + exp(-z)));
}
