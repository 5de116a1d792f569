/* Redaction with typed placeholders and the per-conversation vault that maps them back.
 *
 * The vault keeps the original values in one sodium_malloc'd arena (guard pages, no core
 * dumps, wiped by sodium_free), so personal data removed from a prompt stays only in
 * protected memory on the device. Placeholders themselves carry no personal data. */
#include "guard_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef struct vault_entry {
    sealm_guard_kind kind;
    size_t offset, len;        /* the value: arena[offset, offset + len) */
    char placeholder[40];      /* "[EMAIL_1]" */
    size_t placeholder_len;
    uint64_t hash;             /* value_hash of (kind, value): the index grows without hashing again */
} vault_entry;

struct sealm_guard_vault {
    vault_entry *entries;
    size_t n, cap;
    unsigned char *arena;      /* sodium_malloc'd */
    size_t arena_used, arena_cap;
    unsigned counters[SEALM_GUARD_KIND_COUNT];   /* last number given per kind */
    /* Lookup by value: open addressing over SipHash values (libsodium crypto_shorthash) under
     * a random per-vault key, so a long conversation costs one probe per finding instead of a
     * compare with every value so far, and the hashes say nothing about the values. */
    uint32_t *index;           /* entry number + 1 per slot, 0 when empty; index_cap slots */
    size_t index_cap;          /* a power of two, at least twice n */
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    /* sealm_guard_redact's findings, kept from call to call (a vault is used by one thread at
     * a time), so a request allocates only its output; kinds, offsets and scores, no text */
    sealm_guard_findings scratch;
};

sealm_status sealm_guard_vault_new(sealm_guard_vault **out, sealm_error *err) {
    *out = NULL;
    if (sodium_init() < 0) return sealm_error_set(err, SEALM_E_NOMEM, "guard: libsodium failed to initialize");
    sealm_guard_vault *v = calloc(1, sizeof *v);
    if (!v) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory creating the redaction vault");
    crypto_shorthash_keygen(v->hash_key);
    *out = v;
    return SEALM_OK;
}

void sealm_guard_vault_free(sealm_guard_vault *v) {
    if (!v) return;
    if (v->arena) sodium_free(v->arena);   /* wipes before unmapping */
    free(v->entries);
    free(v->index);
    sealm_guard_findings_free(&v->scratch);
    sodium_memzero(v->hash_key, sizeof v->hash_key);
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

/* Writes "[KIND_n]" into out (cap bytes, NUL-terminated) and returns its length. Written out
 * by hand rather than with snprintf: it runs for every new value of a long conversation. The
 * longest, "[URL_CREDENTIALS_4294967295]", is 28 bytes. */
static size_t format_placeholder(char *out, size_t cap, sealm_guard_kind k, unsigned number) {
    char digits[10];
    size_t nd = 0;
    do {
        digits[nd++] = (char)('0' + number % 10);
        number /= 10;
    } while (number && nd < sizeof digits);
    const char *name = sealm_guard_kind_name(k);
    size_t name_len = strlen(name), n = 0;
    if (name_len + nd + 4 > cap) name_len = cap - nd - 4;
    out[n++] = '[';
    memcpy(out + n, name, name_len);
    n += name_len;
    out[n++] = '_';
    while (nd) out[n++] = digits[--nd];
    out[n++] = ']';
    out[n] = 0;
    return n;
}

/* The keyed hash of a (kind, value) pair; its low bits pick the index slot where probing
 * starts. */
static uint64_t value_hash(const sealm_guard_vault *v, sealm_guard_kind k, const char *value, size_t len) {
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)value, len, v->hash_key);
    uint64_t x = 0;
    for (size_t i = 0; i < sizeof h; i++) x = x << 8 | h[i];
    return x ^ (uint64_t)k * 0x9E3779B97F4A7C15ull;   /* the same bytes of two kinds are two values */
}

/* Rebuilds the index at twice the size when it is half full (always true for an empty one). */
static sealm_status index_grow(sealm_guard_vault *v, sealm_error *err) {
    if (v->index_cap && 2 * (v->n + 1) <= v->index_cap) return SEALM_OK;
    size_t cap = v->index_cap ? v->index_cap * 2 : 64;
    uint32_t *index = calloc(cap, sizeof *index);
    if (!index || v->n >= UINT32_MAX) {
        free(index);
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory growing the redaction vault");
    }
    free(v->index);
    v->index = index;
    v->index_cap = cap;
    for (size_t i = 0; i < v->n; i++) {
        size_t s = (size_t)(v->entries[i].hash & (cap - 1));
        while (v->index[s]) s = (s + 1) & (cap - 1);
        v->index[s] = (uint32_t)(i + 1);
    }
    return SEALM_OK;
}

/* The entry of (k, value), added when new (sealm_guard_vault_placeholder's work). */
static sealm_status vault_entry_of(sealm_guard_vault *v, sealm_guard_kind k, const char *value, size_t len,
                                   const vault_entry **out, sealm_error *err) {
    if (!v || !value || len == 0 || !is_pii_kind(k))
        return sealm_error_set(err, SEALM_E_INVALID, "guard: a vault value needs a PII kind and a non-empty value");
    sealm_status st = index_grow(v, err);
    if (st != SEALM_OK) return st;
    uint64_t hash = value_hash(v, k, value, len);
    size_t slot = (size_t)(hash & (v->index_cap - 1));
    for (; v->index[slot]; slot = (slot + 1) & (v->index_cap - 1)) {
        const vault_entry *e = &v->entries[v->index[slot] - 1];
        if (e->hash == hash && e->kind == k && e->len == len && sodium_memcmp(v->arena + e->offset, value, len) == 0) {
            *out = e;
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
    st = arena_reserve(v, len, err);
    if (st != SEALM_OK) return st;
    vault_entry *e = &v->entries[v->n];
    e->hash = hash;
    e->kind = k;
    e->offset = v->arena_used;
    e->len = len;
    memcpy(v->arena + v->arena_used, value, len);
    v->arena_used += len;
    e->placeholder_len = format_placeholder(e->placeholder, sizeof e->placeholder, k, ++v->counters[k]);
    v->n++;
    v->index[slot] = (uint32_t)v->n;   /* the empty slot the probe above ended on */
    *out = e;
    return SEALM_OK;
}

sealm_status sealm_guard_vault_placeholder(sealm_guard_vault *v, sealm_guard_kind k, const char *value,
                                           size_t len, const char **placeholder, sealm_error *err) {
    const vault_entry *e = NULL;
    sealm_status st = vault_entry_of(v, k, value, len, &e, err);
    if (st == SEALM_OK) *placeholder = e->placeholder;
    return st;
}


/* The output is built in one buffer sized up front: the text plus, per finding, room for
 * the longest placeholder (so it never grows, and no partial copy is left in freed memory). */
enum { PLACEHOLDER_ROOM = 40 };

sealm_status sealm_guard_redact_findings(sealm_guard_vault *v, const char *text, size_t len,
                                         const sealm_guard_findings *f, char **out, size_t *out_len,
                                         sealm_error *err) {
    *out = NULL;
    size_t n_findings = f ? f->n : 0;
    if (n_findings > (SIZE_MAX - len - 1) / PLACEHOLDER_ROOM)
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory redacting text");
    size_t cap = len + 1 + n_findings * PLACEHOLDER_ROOM;
    char *b = malloc(cap);
    if (!b) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory redacting text");
    size_t n = 0, at = 0;
    for (size_t i = 0; i < n_findings; i++) {
        const sealm_guard_finding *x = &f->items[i];
        if (x->start < at || x->end > len || x->end <= x->start) {
            sodium_memzero(b, cap);
            free(b);
            return sealm_error_set(err, SEALM_E_INVALID,
                                   "guard: finding %zu spans [%zu, %zu), outside the text or overlapping the one "
                                   "before; resolve findings first", i, x->start, x->end);
        }
        memcpy(b + n, text + at, x->start - at);
        n += x->start - at;
        if (is_pii_kind(x->kind)) {
            const vault_entry *e = NULL;
            sealm_status st = vault_entry_of(v, x->kind, text + x->start, x->end - x->start, &e, err);
            if (st != SEALM_OK) {
                sodium_memzero(b, cap);
                free(b);
                return st;
            }
            memcpy(b + n, e->placeholder, e->placeholder_len);
            n += e->placeholder_len;
        } else {
            const char *name = sealm_guard_kind_name(x->kind);
            size_t k = strlen(name);
            if (k > PLACEHOLDER_ROOM - 2) k = PLACEHOLDER_ROOM - 2;
            b[n++] = '[';
            memcpy(b + n, name, k);
            n += k;
            b[n++] = ']';
        }
        at = x->end;
    }
    memcpy(b + n, text + at, len - at);
    n += len - at;
    b[n] = 0;
    *out = b;
    *out_len = n;
    return SEALM_OK;
}

sealm_status sealm_guard_redact(const sealm_guard_pii *d, sealm_guard_vault *v, const char *text, size_t len,
                                char **out, size_t *out_len, sealm_guard_findings *found, sealm_error *err) {
    sealm_guard_findings local = {0}, *f = v ? &v->scratch : &local;
    f->n = 0;
    sealm_status st = sealm_guard_pii_scan(d, text, len, f, err);
    if (st == SEALM_OK) st = sealm_guard_redact_findings(v, text, len, f, out, out_len, err);
    for (size_t i = 0; st == SEALM_OK && found && i < f->n; i++) st = sealm_guard_findings_push(found, f->items[i], err);
    f->n = 0;
    sealm_guard_findings_free(&local);
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
