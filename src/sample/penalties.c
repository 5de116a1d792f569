/* Penalties on tokens already in the recent history, applied to the raw logits before any
 * truncation:
 *  - repetition penalty (Keskar et al. 2019, CTRL): a positive logit is divided by the
 *    penalty and a negative one multiplied, so the token always becomes less likely for
 *    a penalty > 1 whatever the logit's sign; applied once per distinct token;
 *  - frequency and presence penalties (OpenAI API): logit -= count·freq + (count>0)·presence. */
#include "sample/sample_internal.h"

void sealm_sample_penalize(float *logits, const int32_t *recent, int32_t n_recent, int32_t *counts,
                           float repeat_penalty, float frequency_penalty, float presence_penalty) {
    if (n_recent <= 0) return;
    if (repeat_penalty == 1.0f && frequency_penalty == 0.0f && presence_penalty == 0.0f) return;

    for (int32_t i = 0; i < n_recent; i++) counts[recent[i]]++;

    /* The first time a token is met, penalize it with its full count and zero the count:
     * that both skips its later occurrences and leaves the scratch zeroed for next time. */
    for (int32_t i = 0; i < n_recent; i++) {
        int32_t id = recent[i];
        int32_t count = counts[id];
        if (count == 0) continue;
        counts[id] = 0;
        float l = logits[id];
        l = l > 0.0f ? l / repeat_penalty : l * repeat_penalty;
        l -= (float)count * frequency_penalty + presence_penalty;
        logits[id] = l;
    }
}
