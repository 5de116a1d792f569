/* The yes/no answer of a guard question put to the loaded model (guard_internal.h). Both SLM
 * stages — the injection classifier and the person/address verifier — read the answer the
 * same way: the next-token logits of every single-token spelling of "yes" and of "no". */
#include "guard_internal.h"
#include "sealm/tokenizer.h"

#include <math.h>
#include <string.h>

/* Collects the distinct single-token spellings among forms. */
static size_t answer_ids(const sealm_tokenizer *t, const char *const *forms, size_t n_forms,
                         int32_t ids[GUARD_ANSWER_MAX_IDS]) {
    size_t n = 0;
    for (size_t i = 0; i < n_forms && n < GUARD_ANSWER_MAX_IDS; i++) {
        int32_t buf[4];
        size_t got = 0;
        sealm_error e = {0};
        if (sealm_tokenize(t, forms[i], strlen(forms[i]), false, false, buf, 4, &got, &e) != SEALM_OK || got != 1)
            continue;
        bool dup = false;
        for (size_t k = 0; k < n; k++) dup |= ids[k] == buf[0];
        if (!dup) ids[n++] = buf[0];
    }
    return n;
}

bool guard_answer_init(const sealm_tokenizer *tok, guard_answer *a) {
    static const char *const YES[] = {"yes", " yes", "Yes", " Yes", "YES"};
    static const char *const NO[] = {"no", " no", "No", " No", "NO"};
    a->n_yes = answer_ids(tok, YES, sizeof YES / sizeof *YES, a->yes);
    a->n_no = answer_ids(tok, NO, sizeof NO / sizeof *NO, a->no);
    return a->n_yes > 0 && a->n_no > 0;
}

/* log Σ exp(logits[ids[i]]), shifted by the largest term so that nothing overflows. */
static double logsumexp(const float *logits, const int32_t *ids, size_t n) {
    double m = -INFINITY, acc = 0;
    for (size_t i = 0; i < n; i++)
        if (logits[ids[i]] > m) m = logits[ids[i]];
    if (m == -INFINITY) return m;
    for (size_t i = 0; i < n; i++) acc += exp((double)logits[ids[i]] - m);
    return m + log(acc);
}

float guard_answer_p_yes(const guard_answer *a, const float *logits) {
    double ly = logsumexp(logits, a->yes, a->n_yes), ln = logsumexp(logits, a->no, a->n_no);
    return (float)(1.0 / (1.0 + exp(ln - ly)));
}
