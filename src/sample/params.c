/* Sampling settings: the defaults and the checks sealm_sampler_new applies. */
#include "sample/sample_internal.h"

#include <math.h>

sealm_sample_params sealm_sample_params_default(void) {
    sealm_sample_params p = {
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .frequency_penalty = 0.0f,
        .presence_penalty = 0.0f,
        .seed = 0,
    };
    return p;
}

/* Negative temperature and top_k are allowed: they mean "greedy" and "off". Negative
 * frequency/presence penalties are allowed as in the OpenAI API (they favour repetition). */
sealm_status sealm_sample_params_check(const sealm_sample_params *p, sealm_error *err) {
    if (!p) return sealm_error_set(err, SEALM_E_INVALID, "sampler: no sampling parameters given");
    if (!isfinite(p->temperature))
        return sealm_error_set(err, SEALM_E_INVALID,
                               "sampler: temperature is %g; use a finite value (<= 0 for greedy)",
                               (double)p->temperature);
    if (!(p->top_p >= 0.0f && p->top_p <= 1.0f))
        return sealm_error_set(err, SEALM_E_INVALID,
                               "sampler: top_p is %g; it must be in [0, 1] (1 turns it off)",
                               (double)p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return sealm_error_set(err, SEALM_E_INVALID,
                               "sampler: min_p is %g; it must be in [0, 1] (0 turns it off)",
                               (double)p->min_p);
    if (!(isfinite(p->repeat_penalty) && p->repeat_penalty > 0.0f))
        return sealm_error_set(err, SEALM_E_INVALID,
                               "sampler: repeat_penalty is %g; it must be a positive number (1 turns it off)",
                               (double)p->repeat_penalty);
    if (p->repeat_last_n < 0)
        return sealm_error_set(err, SEALM_E_INVALID,
                               "sampler: repeat_last_n is %d; it must be >= 0 (0 turns penalties off)",
                               (int)p->repeat_last_n);
    if (!isfinite(p->frequency_penalty))
        return sealm_error_set(err, SEALM_E_INVALID,
                               "sampler: frequency_penalty is not a finite number; use e.g. 0 (off) to 2");
    if (!isfinite(p->presence_penalty))
        return sealm_error_set(err, SEALM_E_INVALID,
                               "sampler: presence_penalty is not a finite number; use e.g. 0 (off) to 2");
    return SEALM_OK;
}
