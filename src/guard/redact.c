/* Redaction with typed placeholders and the per-conversation vault that maps them back.
 *
 * The vault keeps the original values in one sodium_malloc'd arena (guard pages, no core
 * dumps, wiped by sodium_free), so personal data removed from a prompt stays only in
 * protected memory on the device. Placeholders themselves carry no personal data. */
#include "guard_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct vault_entry {
    sealm_guard_kind kind;
    size_t offset, len;        /* the value: arena[offset, offset + len) */
    char placeholder[40];      /* "[EMAIL_1]" */
    size_t placeholder_len;
} vault_entry;

struct sealm_guard_vault {
    vault_entry *entries;
    size_t n, cap;
    unsigned char *arena;      /* sodium_malloc'd */
    size_t arena_used, arena_cap;
    unsigned counters[SEALM_GUARD_KIND_COUNT];   /* last number given per kind */
};

sealm_status sealm_guard_vault_new(sealm_guard_vault **out, sealm_error *err) {
    *out = NULL;
    if (sodium_init() < 0) return sealm_error_set(err, SEALM_E_NOMEM, "guard: libsodium failed to initialize");
    sealm_guard_vault *v = calloc(1, sizeof *v);
    if (!v) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory creating the redaction vault");
    *out = v;
    return SEALM_OK;
}

void sealm_guard_vault_free(sealm_guard_vault *v) {
    if (!v) return;
    if (v->arena) sodium_free(v->arena);   /* wipes before unmapping */
    free(v->entries);
    free(v);
}

size_t sealm_guard_vault_size(const sealm_guard_vault *v) { return v ? v->n : 0; }

/* Grows the protected arena so that extra more bytes fit: a new region, a copy, and the old
 * one wiped and released by sodium_free. */
static sealm_status arena_reserve(sealm_guard_vault *v, size_t extra, sealm_error *err) {
    if (v->arena_cap - v->arena_used >= extra) return SEALM_OK;
    size_t cap = v->arena_cap ? v->arena_cap : 4096;
    while (cap - v->arena_used < extra) {
        if (cap > SIZE_MAX / 2) return sealm_error_set(err, SEALM_E_NOMEM, "guard: vault too large");
        cap *= 2;
    }
    unsigned char *a = sodium_malloc(cap);
    if (!a) return sealm_error_set(err, SEALM_E_NOMEM, "out of protected memory growing the redaction vault");
    if (v->arena) {
        memcpy(a, v->arena, v->arena_used);
        sodium_free(v->arena);
    }
    v->arena = a;
    v->arena_cap = cap;
    return SEALM_OK;
}

static bool is_pii_kind(sealm_guard_kind k) { return (unsigned)k < SEALM_GUARD_INJECTION; }

sealm_status sealm_guard_vault_placeholder(sealm_guard_vault *v, sealm_guard_kind k, const char *value,
                                           size_t len, const char **placeholder, sealm_error *err) {
    if (!v || !value || len == 0 || !is_pii_kind(k))
        return sealm_error_set(err, SEALM_E_INVALID, "guard: a vault value needs a PII kind and a non-empty value");
    for (size_t i = 0; i < v->n; i++) {
        const vault_entry *e = &v->entries[i];
        if (e->kind == k && e->len == len && sodium_memcmp(v->arena + e->offset, value, len) == 0) {
            *placeholder = e->placeholder;
            return SEALM_OK;
        }
    }
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        vault_entry *p = realloc(v->entries, cap * sizeof *p);
        if (!p) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory growing the redaction vault");
        v->entries = p;
        v->cap = cap;
    }
    sealm_status st = arena_reserve(v, len, err);
    if (st != SEALM_OK) return st;
    vault_entry *e = &v->entries[v->n];
    e->kind = k;
    e->offset = v->arena_used;
    e->len = len;
    memcpy(v->arena + v->arena_used, value, len);
    v->arena_used += len;
    int n = snprintf(e->placeholder, sizeof e->placeholder, "[%s_%u]", sealm_guard_kind_name(k), ++v->counters[k]);
    e->placeholder_len = (size_t)n;
    v->n++;
    *placeholder = e->placeholder;
    return SEALM_OK;
}


sealm_status sealm_guard_redact_findings(sealm_guard_vault *v, const char *text, size_t len,
                                         const sealm_guard_findings *f, char **out, size_t *out_len,
                                         sealm_error *err) {
    *out = NULL;
    guard_text b = {0};
    size_t at = 0;
    if (!guard_text_add(&b, "", 0)) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory redacting text");
    for (size_t i = 0; f && i < f->n; i++) {
        const sealm_guard_finding *x = &f->items[i];
        if (x->start < at || x->end > len || x->end <= x->start) {
            guard_text_wipe(&b);
            return sealm_error_set(err, SEALM_E_INVALID,
                                   "guard: finding %zu spans [%zu, %zu), outside the text or overlapping the one "
                                   "before; resolve findings first", i, x->start, x->end);
        }
        const char *ph = NULL;
        char plain[40];
        if (is_pii_kind(x->kind)) {
            sealm_status st = sealm_guard_vault_placeholder(v, x->kind, text + x->start, x->end - x->start, &ph, err);
            if (st != SEALM_OK) {
                guard_text_wipe(&b);
                return st;
            }
        } else {
            snprintf(plain, sizeof plain, "[%s]", sealm_guard_kind_name(x->kind));
            ph = plain;
        }
        if (!guard_text_add(&b, text + at, x->start - at) || !guard_text_add(&b, ph, strlen(ph))) {
            guard_text_wipe(&b);
            return sealm_error_set(err, SEALM_E_NOMEM, "out of memory redacting text");
        }
        at = x->end;
    }
    if (!guard_text_add(&b, text + at, len - at)) {
        guard_text_wipe(&b);
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory redacting text");
    }
    *out = b.p;
    *out_len = b.n;
    return SEALM_OK;
}

sealm_status sealm_guard_redact(const sealm_guard_pii *d, sealm_guard_vault *v, const char *text, size_t len,
                                char **out, size_t *out_len, sealm_guard_findings *found, sealm_error *err) {
    sealm_guard_findings f = {0};
    sealm_status st = sealm_guard_pii_scan(d, text, len, &f, err);
    if (st == SEALM_OK) st = sealm_guard_redact_findings(v, text, len, &f, out, out_len, err);
    for (size_t i = 0; st == SEALM_OK && found && i < f.n; i++) st = sealm_guard_findings_push(found, f.items[i], err);
    sealm_guard_findings_free(&f);
    return st;
}

/* Length of a placeholder "[KIND_N]" at s (the shape only: "[", upper-case letters, digits
 * and underscores, "_", digits, "]"; kind names such as IPV6 hold digits), 0 when none. */
static size_t placeholder_len_at(const char *s, size_t n) {
    if (n < 5 || s[0] != '[' || !guard_is_upper((unsigned char)s[1])) return 0;
    size_t i = 1, last_underscore = 0;
    while (i < n && i < 40 && (guard_is_upper((unsigned char)s[i]) || guard_is_digit((unsigned char)s[i]) || s[i] == '_')) {
        if (s[i] == '_') last_underscore = i;
        i++;
    }
    if (i >= n || s[i] != ']' || last_underscore == 0 || last_underscore + 1 == i) return 0;
    for (size_t k = last_underscore + 1; k < i; k++)
        if (!guard_is_digit((unsigned char)s[k])) return 0;
    return i + 1;
}

sealm_status sealm_guard_vault_restore(const sealm_guard_vault *v, const char *text, size_t len,
                                       char **out, size_t *out_len, sealm_error *err) {
    *out = NULL;
    guard_text b = {0};
    bool ok = guard_text_add(&b, "", 0);
    size_t at = 0, i = 0;
    while (ok && i < len) {
        const char *open = memchr(text + i, '[', len - i);
        if (!open) break;
        i = (size_t)(open - text);
        size_t n = placeholder_len_at(text + i, len - i);
        const vault_entry *hit = NULL;
        for (size_t k = 0; n && v && k < v->n && !hit; k++)
            if (v->entries[k].placeholder_len == n && memcmp(v->entries[k].placeholder, text + i, n) == 0)
                hit = &v->entries[k];
        if (!hit) {
            i++;
            continue;
        }
        ok = guard_text_add(&b, text + at, i - at) && guard_text_add(&b, (const char *)v->arena + hit->offset, hit->len);
        i += n;
        at = i;
    }
    if (ok) ok = guard_text_add(&b, text + at, len - at);
    if (!ok) {
        guard_text_wipe(&b);
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory re-personalizing text");
    }
    *out = b.p;
    *out_len = b.n;
    return SEALM_OK;
}
