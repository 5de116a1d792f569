/* Redaction with typed placeholders and the per-conversation vault that maps them back.
 *
 * The vault keeps the original values in sodium_malloc'd regions (guard pages, no core
 * dumps, wiped by sodium_free), so personal data removed from a prompt stays only in
 * protected memory on the device. Placeholders themselves carry no personal data. */
#include "guard_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef struct vault_entry {
    sealm_guard_kind kind;
    const unsigned char *value;   /* in one of the arena's regions; len bytes */
    size_t len;
    char placeholder[40];      /* "[EMAIL_1]" */
    size_t placeholder_len;
    uint64_t hash;             /* value_hash of (kind, value): the index grows without hashing again */
} vault_entry;

/* Entries and values are kept in blocks that are never moved: a block twice the size of the
 * last one is added when it is full, so a long conversation never copies (and for values,
 * re-wipes) what the vault already holds. Entry blocks hold 16, 32, 64, ... entries; value
 * regions hold at least 4 KiB, then at least twice the last region. */
enum { ENTRY_BLOCK0 = 16, ENTRY_BLOCKS = 28, ARENA_REGION0 = 4096, ARENA_REGIONS = 40 };

struct sealm_guard_vault {
    vault_entry *blocks[ENTRY_BLOCKS];   /* block b: ENTRY_BLOCK0 << b entries */
    size_t n;                            /* entries in use */
    unsigned char *arena[ARENA_REGIONS]; /* sodium_malloc'd value regions, the last one filling */
    size_t n_regions, arena_used, arena_cap;   /* of the last region */
    unsigned counters[SEALM_GUARD_KIND_COUNT];   /* last number given per kind */
    /* each kind's name and its length, looked up once per vault instead of once per new value */
    const char *kind_name[SEALM_GUARD_KIND_COUNT];
    size_t kind_name_len[SEALM_GUARD_KIND_COUNT];
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
    for (int k = 0; k < SEALM_GUARD_KIND_COUNT; k++) {
        v->kind_name[k] = sealm_guard_kind_name((sealm_guard_kind)k);
        v->kind_name_len[k] = strlen(v->kind_name[k]);
    }
    *out = v;
    return SEALM_OK;
}

void sealm_guard_vault_free(sealm_guard_vault *v) {
    if (!v) return;
    for (size_t r = 0; r < v->n_regions; r++) sodium_free(v->arena[r]);   /* wipes before unmapping */
    for (size_t b = 0; b < ENTRY_BLOCKS && v->blocks[b]; b++) free(v->blocks[b]);
    free(v->index);
    sealm_guard_findings_free(&v->scratch);
    sodium_memzero(v->hash_key, sizeof v->hash_key);
    free(v);
}

size_t sealm_guard_vault_size(const sealm_guard_vault *v) { return v ? v->n : 0; }

/* Entry i: block b holds entries [ENTRY_BLOCK0 * (2^b - 1), ENTRY_BLOCK0 * (2^(b+1) - 1)). */
static vault_entry *entry_at(const sealm_guard_vault *v, size_t i) {
    size_t j = i + ENTRY_BLOCK0;
    int b = 63 - __builtin_clzll((unsigned long long)j) - 4;   /* floor(log2 j) - log2(ENTRY_BLOCK0) */
    return &v->blocks[b][j - ((size_t)ENTRY_BLOCK0 << b)];
}
_Static_assert(ENTRY_BLOCK0 == 16, "entry_at computes log2(ENTRY_BLOCK0) as 4");

/* Room for entry v->n: a new block when the last one is full. */
static sealm_status entry_reserve(sealm_guard_vault *v, sealm_error *err) {
    size_t j = v->n + ENTRY_BLOCK0;
    if ((j & (j - 1)) != 0) return SEALM_OK;   /* block starts are where j is a power of two */
    int b = 63 - __builtin_clzll((unsigned long long)j) - 4;
    if (b < ENTRY_BLOCKS && v->blocks[b]) return SEALM_OK;   /* allocated by a call that failed later */
    vault_entry *block = b < ENTRY_BLOCKS ? malloc(((size_t)ENTRY_BLOCK0 << b) * sizeof *block) : NULL;
    if (!block) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory growing the redaction vault");
    v->blocks[b] = block;
    return SEALM_OK;
}

/* Room for len more value bytes: a new protected region when the last one is short (the
 * regions already filled stay where they are). */
static sealm_status arena_reserve(sealm_guard_vault *v, size_t len, sealm_error *err) {
    if (v->n_regions && v->arena_cap - v->arena_used >= len) return SEALM_OK;
    size_t cap = v->n_regions ? v->arena_cap : ARENA_REGION0 / 2;
    do {
        if (cap > SIZE_MAX / 2) return sealm_error_set(err, SEALM_E_NOMEM, "guard: vault too large");
        cap *= 2;
    } while (cap < len);
    unsigned char *a = v->n_regions < ARENA_REGIONS ? sodium_malloc(cap) : NULL;
    if (!a) return sealm_error_set(err, SEALM_E_NOMEM, "out of protected memory growing the redaction vault");
    v->arena[v->n_regions++] = a;
    v->arena_cap = cap;
    v->arena_used = 0;
    return SEALM_OK;
}

static bool is_pii_kind(sealm_guard_kind k) { return (unsigned)k < SEALM_GUARD_INJECTION; }

/* Writes "[NAME_n]" into out (cap bytes, NUL-terminated) and returns its length; name is the
 * kind's name, name_len bytes. Written out by hand rather than with snprintf: it runs for
 * every new value of a long conversation. The longest, "[URL_CREDENTIALS_4294967295]", is 28
 * bytes. */
static size_t format_placeholder(char *out, size_t cap, const char *name, size_t name_len, unsigned number) {
    char digits[10];
    size_t nd = 0, n = 0;
    do {
        digits[nd++] = (char)('0' + number % 10);
        number /= 10;
    } while (number && nd < sizeof digits);
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
    uint64_t x;   /* the 8 bytes in the machine's order: any order spreads a keyed hash alike */
    _Static_assert(sizeof x == sizeof h, "SipHash-2-4 gives 8 bytes");
    memcpy(&x, h, sizeof x);
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
        size_t s = (size_t)(entry_at(v, i)->hash & (cap - 1));
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
        const vault_entry *e = entry_at(v, v->index[slot] - 1);
        if (e->hash == hash && e->kind == k && e->len == len && sodium_memcmp(e->value, value, len) == 0) {
            *out = e;
            return SEALM_OK;
        }
    }
    st = entry_reserve(v, err);
    if (st == SEALM_OK) st = arena_reserve(v, len, err);
    if (st != SEALM_OK) return st;
    vault_entry *e = entry_at(v, v->n);
    e->hash = hash;
    e->kind = k;
    unsigned char *stored = v->arena[v->n_regions - 1] + v->arena_used;
    memcpy(stored, value, len);
    e->value = stored;
    e->len = len;
    v->arena_used += len;
    e->placeholder_len = format_placeholder(e->placeholder, sizeof e->placeholder, v->kind_name[k],
                                            v->kind_name_len[k], ++v->counters[k]);
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
        for (size_t k = 0; n && v && k < v->n && !hit; k++) {
            const vault_entry *e = entry_at(v, k);
            if (e->placeholder_len == n && memcmp(e->placeholder, text + i, n) == 0) hit = e;
        }
        if (!hit) {
            i++;
            continue;
        }
        ok = guard_text_add(&b, text + at, i - at) && guard_text_add(&b, (const char *)hit->value, hit->len);
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
