/* The SLM verifier's prompt builder, exposed for tests (pii_slm.c). */
#ifndef SEALM_GUARD_PII_SLM_INTERNAL_H
#define SEALM_GUARD_PII_SLM_INTERNAL_H

#include "guard_internal.h"

/* The token ids of the question sealm_guard_pii_slm_ask would evaluate for text[start, end)
 * of kind (PERSON or ADDRESS) in text[0, len). *ids: malloc'd (caller wipes and frees),
 * *n_ids their count; *n_shown: the tokens of text shown as context (<= max_context_tokens).
 * Same errors as sealm_guard_pii_slm_ask, without the engine's. */
sealm_status sealm_guard_pii_slm_prompt(const sealm_guard_pii_slm *v, const char *text, size_t len,
                                        sealm_guard_kind kind, size_t start, size_t end, int32_t **ids,
                                        size_t *n_ids, size_t *n_shown, sealm_error *err);

/* One span to ask about. */
typedef struct sealm_guard_pii_slm_candidate {
    sealm_guard_kind kind;   /* PERSON or ADDRESS */
    size_t start, end;
} sealm_guard_pii_slm_candidate;

/* The find-mode candidates of text[0, len) that overlap no finding of f, in text order
 * (what sealm_guard_pii_slm_verify asks about in find mode, before the budget). *out:
 * malloc'd (caller frees), *n their count. Returns SEALM_OK or SEALM_E_NOMEM. */
sealm_status sealm_guard_pii_slm_candidates(const char *text, size_t len, const sealm_guard_findings *f,
                                            sealm_guard_pii_slm_candidate **out, size_t *n, sealm_error *err);

#endif
