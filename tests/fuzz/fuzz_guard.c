/* libFuzzer target for the guard layer's PII part: arbitrary bytes (invalid UTF-8, NULs,
 * long digit runs, half placeholders) through the detector, redaction, re-personalization and
 * the streaming filter. Checks the invariants: findings lie inside the text, sorted and
 * disjoint, with scores in (0, 1]; restoring a redacted text without brackets gives the text
 * back; the stream never fails and never emits more than the redacted text holds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sealm/guard.h"

static sealm_guard_pii *g_pii;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_pii && sealm_guard_pii_new(NULL, &g_pii, NULL) != SEALM_OK) abort();
    if (size < 1) return 0;
    size_t chunk = (size_t)(data[0] % 16) + 1;   /* the first byte picks the stream's piece size */
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    sealm_guard_vault *v = NULL;
    if (sealm_guard_vault_new(&v, NULL) != SEALM_OK) abort();
    sealm_guard_findings f = {0};
    char *red = NULL;
    size_t red_len = 0;
    if (sealm_guard_redact(g_pii, v, text, len, &red, &red_len, &f, NULL) != SEALM_OK) abort();
    for (size_t i = 0; i < f.n; i++) {
        const sealm_guard_finding *x = &f.items[i];
        if (x->start >= x->end || x->end > len || !(x->score > 0.0f && x->score <= 1.0f) || !x->rule) abort();
        if (i > 0 && f.items[i - 1].end > x->start) abort();
    }
    if (!memchr(text, '[', len)) {
        char *back = NULL;
        size_t back_len = 0;
        if (sealm_guard_vault_restore(v, red, red_len, &back, &back_len, NULL) != SEALM_OK) abort();
        if (back_len != len || memcmp(back, text, len) != 0) abort();
        free(back);
    }

    sealm_guard_vault *v2 = NULL;
    if (sealm_guard_vault_new(&v2, NULL) != SEALM_OK) abort();
    sealm_guard_stream_config cfg = {.pii = g_pii, .pii_action = SEALM_GUARD_REDACT, .vault = v2};
    sealm_guard_stream *s = NULL;
    if (sealm_guard_stream_new(&cfg, &s, NULL) != SEALM_OK) abort();
    size_t emitted = 0;
    for (size_t at = 0; at < len; at += chunk) {
        const char *e;
        size_t n;
        bool blocked;
        size_t piece = len - at < chunk ? len - at : chunk;
        if (sealm_guard_stream_push(s, text + at, piece, &e, &n, &blocked, NULL) != SEALM_OK || blocked) abort();
        emitted += n;
    }
    const char *e;
    size_t n;
    bool blocked;
    if (sealm_guard_stream_finish(s, &e, &n, &blocked, NULL) != SEALM_OK || blocked) abort();
    emitted += n;
    /* placeholders are at most 40 bytes, so the output is bounded by the text plus them */
    if (emitted > len + 40 * (sealm_guard_vault_size(v2) + sealm_guard_stream_findings(s)->n)) abort();
    sealm_guard_stream_free(s);
    sealm_guard_vault_free(v2);
    free(red);
    sealm_guard_findings_free(&f);
    sealm_guard_vault_free(v);
    return 0;
}
