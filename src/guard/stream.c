/* The streaming output filter: generated text arrives a token at a time, and a finding
 * (an email, a card number, a canary) may be split across tokens. The filter releases only
 * text that no later byte can turn into part of a finding, so the streamed output equals the
 * one-shot redaction of the whole text.
 *
 * Hold-back bound (why it is safe): every rule's match either lies within one
 * whitespace-free word or spans at most SEALM_GUARD_STREAM_HOLD bytes (multi-word phones,
 * spaced card numbers and IBANs, names, addresses, dates after a cue). So the filter holds
 * the unfinished last word (forced out past 4 KiB), SEALM_GUARD_STREAM_HOLD bytes before it,
 * plus the check's longest match, and an open PEM private-key block up to 16 KiB. Text that
 * has been released stays in a 256-byte context window, so cue rules ("my name is",
 * "phone:") see the same text as a one-shot scan. */
#include "guard_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum {
    STREAM_CONTEXT = 256,        /* released bytes kept as left context */
    STREAM_MAX_WORD = 4096,      /* an unbroken word longer than this is released anyway */
    STREAM_MAX_PEM = 16384,      /* an open private-key block is held up to this */
};


struct sealm_guard_stream {
    sealm_guard_stream_config cfg;
    guard_text text;             /* the stream from absolute offset base to base + text.n */
    size_t base, emitted;        /* absolute offsets; base <= emitted <= base + text.n */
    guard_text out;              /* what the last call released */
    sealm_guard_findings all;    /* every applied finding, absolute offsets */
    sealm_guard_findings scratch;
    bool blocked;
};


sealm_status sealm_guard_stream_new(const sealm_guard_stream_config *cfg, sealm_guard_stream **out, sealm_error *err) {
    *out = NULL;
    if (!cfg) return sealm_error_set(err, SEALM_E_INVALID, "guard: stream needs a configuration");
    if (cfg->pii && cfg->pii_action == SEALM_GUARD_REDACT && !cfg->vault)
        return sealm_error_set(err, SEALM_E_INVALID, "guard: PII redaction in a stream needs a vault");
    sealm_guard_stream *s = calloc(1, sizeof *s);
    if (!s) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory creating the output filter");
    s->cfg = *cfg;
    *out = s;
    return SEALM_OK;
}

void sealm_guard_stream_free(sealm_guard_stream *s) {
    if (!s) return;
    guard_text_wipe(&s->text);
    guard_text_wipe(&s->out);
    sealm_guard_findings_free(&s->all);
    sealm_guard_findings_free(&s->scratch);
    free(s);
}

const sealm_guard_findings *sealm_guard_stream_findings(const sealm_guard_stream *s) { return &s->all; }

/* Absolute offset where the held-back tail starts if nothing were found: before the
 * unfinished last word, an open PEM block, and the multi-word hold. */
static size_t hold_start(const sealm_guard_stream *s) {
    size_t end = s->base + s->text.n, w = end;
    const char *t = s->text.p;   /* t[abs - base]: the held text by absolute offset */
    size_t b = s->base;
    while (w > s->emitted && !guard_is_space((unsigned char)t[w - 1 - b])) w--;
    if (end - w > STREAM_MAX_WORD) w = end - STREAM_MAX_WORD;
    /* an unterminated "-----BEGIN ... PRIVATE KEY-----" */
    static const char BEGIN[] = "-----BEGIN ";
    for (size_t p = end > STREAM_MAX_PEM ? end - STREAM_MAX_PEM : 0; p < end; p++) {
        if (p < s->emitted || p < s->base) p = s->emitted > s->base ? s->emitted : s->base;
        if (end - p < sizeof BEGIN - 1) break;
        if (memcmp(t + (p - b), BEGIN, sizeof BEGIN - 1) != 0) continue;
        const char *rest = t + (p - b) + sizeof BEGIN - 1;
        size_t rest_n = end - p - (sizeof BEGIN - 1);
        bool closed = false;
        for (size_t k = 0; k + 9 <= rest_n && !closed; k++) closed = memcmp(rest + k, "-----END ", 9) == 0;
        if (closed) continue;   /* a finished block is the PEM rule's to find */
        if (p < w) w = p;
        break;
    }
    size_t hold = SEALM_GUARD_STREAM_HOLD + s->cfg.check_max_match;
    return w > hold ? w - hold : 0;
}

static bool blocks(const sealm_guard_stream *s, const sealm_guard_finding *f) {
    if (f->kind == SEALM_GUARD_CANARY) return true;
    if (f->kind < SEALM_GUARD_INJECTION) return s->cfg.pii_action == SEALM_GUARD_BLOCK;
    return s->cfg.check_action == SEALM_GUARD_BLOCK;
}

static bool redacts(const sealm_guard_stream *s, const sealm_guard_finding *f) {
    if (f->kind < SEALM_GUARD_INJECTION) return s->cfg.pii_action == SEALM_GUARD_REDACT;
    return s->cfg.check_action == SEALM_GUARD_REDACT;
}

/* Scans the held text, releases [emitted, cut) filtered, and drops text no longer needed as
 * context. final: release everything. */
static sealm_status process(sealm_guard_stream *s, bool final, sealm_error *err) {
    s->out.n = 0;
    if (s->out.p) s->out.p[0] = 0;
    if (s->blocked) return SEALM_OK;
    size_t end = s->base + s->text.n;
    size_t cut = final ? end : hold_start(s);
    if (cut <= s->emitted) return SEALM_OK;

    sealm_guard_findings *f = &s->scratch;
    f->n = 0;
    sealm_status st = SEALM_OK;
    if (s->cfg.pii && s->cfg.pii_action != SEALM_GUARD_OFF) st = sealm_guard_pii_scan(s->cfg.pii, s->text.p, s->text.n, f, err);
    if (st == SEALM_OK && s->cfg.check && s->cfg.check_action != SEALM_GUARD_OFF) {
        size_t before = f->n;
        st = s->cfg.check(s->cfg.check_ctx, s->text.p, s->text.n, f, err);
        if (st == SEALM_OK && f->n > before) sealm_guard_findings_resolve(f);
    }
    if (st != SEALM_OK) return st;
    for (size_t i = 0; i < f->n; i++) {   /* to absolute offsets */
        f->items[i].start += s->base;
        f->items[i].end += s->base;
    }
    /* never cut through a finding */
    for (bool moved = true; moved;) {
        moved = false;
        for (size_t i = 0; i < f->n; i++)
            if (f->items[i].start < cut && f->items[i].end > cut) {
                cut = f->items[i].start;
                moved = true;
            }
    }
    if (cut <= s->emitted) return SEALM_OK;

    const char *t = s->text.p;   /* t[abs - base] */
    size_t b = s->base;
    size_t at = s->emitted;
    for (size_t i = 0; i < f->n; i++) {
        sealm_guard_finding x = f->items[i];
        if (x.start < s->emitted || x.end > cut) continue;
        if (blocks(s, &x)) {
            s->blocked = true;
            s->out.n = 0;
            if (s->out.p) s->out.p[0] = 0;
            return sealm_guard_findings_push(&s->all, x, err);
        }
        st = sealm_guard_findings_push(&s->all, x, err);
        if (st != SEALM_OK) return st;
        if (!redacts(s, &x)) continue;
        const char *ph = NULL;
        char plain[40];
        if (x.kind < SEALM_GUARD_INJECTION) {
            st = sealm_guard_vault_placeholder(s->cfg.vault, x.kind, t + (x.start - b), x.end - x.start, &ph, err);
            if (st != SEALM_OK) return st;
        } else {
            snprintf(plain, sizeof plain, "[%s]", sealm_guard_kind_name(x.kind));
            ph = plain;
        }
        if (!guard_text_add(&s->out, t + (at - b), x.start - at) || !guard_text_add(&s->out, ph, strlen(ph)))
            return sealm_error_set(err, SEALM_E_NOMEM, "out of memory in the output filter");
        at = x.end;
    }
    if (!guard_text_add(&s->out, t + (at - b), cut - at))
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory in the output filter");
    s->emitted = cut;

    /* keep STREAM_CONTEXT released bytes, starting after a whitespace byte and outside
     * any finding, so the next scan resynchronizes exactly as a one-shot scan would */
    if (s->emitted - s->base > STREAM_CONTEXT) {
        size_t nb = s->emitted - STREAM_CONTEXT;
        for (bool moved = true; moved;) {
            moved = false;
            while (nb > s->base && !guard_is_space((unsigned char)t[nb - 1 - b])) nb--;
            for (size_t i = 0; i < f->n; i++)
                if (f->items[i].start < nb && f->items[i].end > nb && f->items[i].start >= s->base) {
                    nb = f->items[i].start;
                    moved = true;
                }
        }
        if (nb > s->base) {
            size_t drop = nb - s->base;
            memmove(s->text.p, s->text.p + drop, s->text.n - drop);
            sodium_memzero(s->text.p + s->text.n - drop, drop);
            s->text.n -= drop;
            s->text.p[s->text.n] = 0;
            s->base = nb;
        }
    }
    return SEALM_OK;
}

static void results(const sealm_guard_stream *s, const char **emit, size_t *n_emit, bool *blocked) {
    if (emit) *emit = s->out.p ? s->out.p : "";
    if (n_emit) *n_emit = s->out.n;
    if (blocked) *blocked = s->blocked;
}

sealm_status sealm_guard_stream_push(sealm_guard_stream *s, const char *text, size_t len, const char **emit,
                                     size_t *n_emit, bool *blocked, sealm_error *err) {
    s->out.n = 0;
    if (!s->blocked && len > 0 && !guard_text_add(&s->text, text, len)) {
        results(s, emit, n_emit, blocked);
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory in the output filter");
    }
    sealm_status st = process(s, false, err);
    results(s, emit, n_emit, blocked);
    return st;
}

sealm_status sealm_guard_stream_finish(sealm_guard_stream *s, const char **emit, size_t *n_emit, bool *blocked,
                                       sealm_error *err) {
    sealm_status st = process(s, true, err);
    results(s, emit, n_emit, blocked);
    return st;
}
