/* Differentially private decoding by mixing with the uniform distribution (Majmudar et al.
 * 2022). The derivation of the guarantee is in docs/guard.md ("DP sampling"); in short, the
 * uniform share (1 − λ)/|V| is a floor under every token's probability whatever the input,
 * and λ + (1 − λ)/|V| a ceiling, so their ratio bounds how much any input can move the
 * output: e^ε = 1 + λ|V|/(1 − λ). */
#include "sample/sample_internal.h"

#include <math.h>

double sealm_sample_dp_lambda(double eps, int32_t n_vocab) {
    if (!(eps > 0.0) || n_vocab < 1) return 0.0;
    /* expm1 keeps small ε accurate; for huge ε the ratio tends to 1 (DP off in effect). */
    double a = expm1(eps);
    if (isinf(a)) return 1.0 - 1e-16;
    return a / (a + (double)n_vocab);
}

void sealm_sample_dp_mix(const double *p, int32_t n, double lambda, double *out) {
    double floor_share = (1.0 - lambda) / (double)n;
    for (int32_t i = 0; i < n; i++) out[i] = lambda * p[i] + floor_share;
}

int32_t sealm_sample_dp_apply(int32_t token, int32_t n_vocab, double lambda, double u_keep, double u_uniform) {
    if (u_keep < lambda) return token;
    int32_t t = (int32_t)(u_uniform * (double)n_vocab);
    return t < n_vocab ? t : n_vocab - 1;
}

sealm_status sealm_sample_dp_check(float dp_epsilon, sealm_error *err) {
    if (!(isfinite(dp_epsilon) && dp_epsilon >= 0.0f))
        return sealm_error_set(err, SEALM_E_INVALID,
                               "sampler: dp_epsilon is %g; it must be a finite number >= 0 (0 turns DP decoding off)",
                               (double)dp_epsilon);
    return SEALM_OK;
}
