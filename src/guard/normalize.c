/* Normalization of user text before injection screening (sealm/guard.h, "normalization").
 *
 * Order matters: invisible characters go first so NFKC composes across what they separated;
 * NFKC before the homoglyph fold so fullwidth and mathematical letters are already plain;
 * special tokens last so "＜|im_start|＞" (fullwidth brackets) is caught after NFKC. */
#include "inject_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static const char *const DEFAULT_SPECIALS[] = {
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|begin_of_text|>", "<|end_of_text|>",
    "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>", "<|system|>",
    "<|user|>", "<|assistant|>", "<|end|>", "<|endofprompt|>", "<s>", "</s>", "[INST]", "[/INST]",
    "<<SYS>>", "<</SYS>>", "<start_of_turn>", "<end_of_turn>", "<|fim_prefix|>", "<|fim_middle|>",
    "<|fim_suffix|>", "<|pad|>",
};

const char *const *sealm_guard_default_specials(size_t *n) {
    if (n) *n = sizeof DEFAULT_SPECIALS / sizeof DEFAULT_SPECIALS[0];
    return DEFAULT_SPECIALS;
}

void sealm_guard_normalized_free(sealm_guard_normalized *out) {
    if (!out) return;
    free(out->text);
    memset(out, 0, sizeof *out);
}

static bool is_bidi_control(int32_t c) {
    return c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

/* Characters that render as nothing (or nearly nothing) and so can split a keyword. Zero-width
 * joiner U+200D is removed too: it only matters inside emoji sequences, which the rules ignore. */
static bool is_invisible(int32_t c) {
    return c == 0x00AD || c == 0x034F || c == 0x180E || (c >= 0x200B && c <= 0x200D) ||
           (c >= 0x2060 && c <= 0x2064) || c == 0xFEFF || (c >= 0xFE00 && c <= 0xFE0F) ||
           (c >= 0xE0100 && c <= 0xE01EF) || (c >= 0xE0000 && c <= 0xE007F);
}

/* NFKC shortcut. A string made of characters c with NFKC(c) = c, combining class 0, that are
 * no combining mark (Mn, Mc, Me) and no Hangul jamo is its own NFKC: decomposition leaves every
 * character's own (stable) sequence, canonical reordering never crosses a starter, and
 * composition can only join a later character to an earlier starter if the later one is a
 * second element of a primary composite — all of which are marks or Hangul vowel/trailing
 * jamo (UAX #15, NFC_Quick_Check=Maybe). So utf8proc runs only on text holding some other
 * character; test_inject.c checks the shortcut against the full mapping for every BMP
 * character. Whether a BMP character is inert is worked out once (for one with a
 * decomposition, by asking utf8proc whether NFKC keeps it) and cached (0 unknown, 1 inert,
 * 2 not): a pure function, so racing writers store the same value. */
static atomic_uchar NFKC_INERT_BMP[0x10000];

static bool nfkc_stable_alone(int32_t c) {
    utf8proc_uint8_t in[4], *out = NULL;
    utf8proc_ssize_t n = utf8proc_encode_char(c, in);
    utf8proc_ssize_t k = utf8proc_map(in, n, &out, UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE);
    bool same = k == n && memcmp(out, in, (size_t)n) == 0;
    free(out);   /* on failure the character simply takes the full path */
    return same;
}

static bool nfkc_inert_uncached(int32_t c) {
    const utf8proc_property_t *p = utf8proc_get_property(c);
    if (p->combining_class || p->category == UTF8PROC_CATEGORY_MN || p->category == UTF8PROC_CATEGORY_MC ||
        p->category == UTF8PROC_CATEGORY_ME)
        return false;
    if ((c >= 0x1100 && c <= 0x11FF) || (c >= 0xA960 && c <= 0xA97F) || (c >= 0xD7B0 && c <= 0xD7FF)) return false;
    if (p->decomp_seqindex == UINT16_MAX && !(c >= 0xAC00 && c <= 0xD7A3)) return true;   /* no decomposition */
    return c < 0x10000 && nfkc_stable_alone(c);
}

static bool nfkc_inert(int32_t c) {
    if (c < 0x80) return true;
    if (c >= 0x10000) return nfkc_inert_uncached(c);
    unsigned char v = atomic_load_explicit(&NFKC_INERT_BMP[c], memory_order_relaxed);
    if (!v) {
        v = nfkc_inert_uncached(c) ? 1 : 2;
        atomic_store_explicit(&NFKC_INERT_BMP[c], v, memory_order_relaxed);
    }
    return v == 1;
}

/* The end of the ASCII run starting at s[i]: eight bytes at a time while none has its top
 * bit set, then byte by byte. */
static size_t ascii_run_end(const char *s, size_t i, size_t n) {
    while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ull) break;
        i += 8;
    }
    while (i < n && (unsigned char)s[i] < 0x80) i++;
    return i;
}

/* The code point at valid UTF-8 s[0, n) and its length in *k (U+FFFD and 1 on a bad byte,
 * which step 1 has already replaced). */
static int32_t decode_at(const char *s, size_t n, size_t *k) {
    int32_t c = guard_utf8_2or3((const unsigned char *)s, n, k);
    if (c >= 0) return c;
    utf8proc_int32_t c4;
    utf8proc_ssize_t k4 = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &c4);
    if (k4 < 1) {
        *k = 1;
        return 0xFFFD;
    }
    *k = (size_t)k4;
    return c4;
}

/* Step 2, piecewise: NFKC of valid UTF-8 s[0, n) into a new buffer. Only the stretches that
 * hold a character nfkc_inert rejects go through utf8proc, each together with the inert
 * character before it (which an accent may join); the rest is copied. Exact because NFKC
 * never acts across the start of an inert character: it begins with a starter that no
 * composition joins to what precedes (UAX #15 §9, "stable code points"). Returns the length,
 * or a utf8proc error (< 0). */
typedef struct piece_buf {
    char *p;
    size_t n, cap;
} piece_buf;

static bool piece_add(piece_buf *b, const void *src, size_t n) {
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap * 2 + n + 1;
        char *g = realloc(b->p, cap);
        if (!g) return false;
        b->p = g;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
    return true;
}

static utf8proc_ssize_t nfkc_pieces(const char *s, size_t n, char **out) {
    piece_buf b = {.p = malloc(n + 16), .cap = n + 16};
    if (!b.p) return UTF8PROC_ERROR_NOMEM;
    bool have_prev = false;             /* the character just before i is inert and copied */
    size_t prev_in = 0, prev_out = 0;   /* where it began, in s and in the output */
    for (size_t i = 0; i < n;) {
        /* inert characters [i, j) are copied as one block: ASCII runs without decoding */
        size_t j = i, last = i, k = 0;
        while (j < n) {
            if ((unsigned char)s[j] < 0x80) {
                size_t e = ascii_run_end(s, j + 1, n);
                last = e - 1;
                j = e;
                continue;
            }
            if (!nfkc_inert(decode_at(s + j, n - j, &k))) break;
            last = j;
            j += k;
        }
        if (j > i) {
            if (!piece_add(&b, s + i, j - i)) goto nomem;
            have_prev = true;
            prev_in = last;
            prev_out = b.n - (j - last);
        }
        if (j == n) break;
        /* non-inert characters from j up to the next inert one, mapped with the inert one before */
        size_t from = j, e = j + k;
        if (have_prev) {
            from = prev_in;
            b.n = prev_out;
        }
        while (e < n) {
            size_t k2;
            if ((unsigned char)s[e] < 0x80 || nfkc_inert(decode_at(s + e, n - e, &k2))) break;
            e += k2;
        }
        utf8proc_uint8_t *m = NULL;
        utf8proc_ssize_t mk = utf8proc_map((const utf8proc_uint8_t *)s + from, (utf8proc_ssize_t)(e - from), &m,
                                           UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE);
        if (mk < 0) {
            free(b.p);
            return mk;
        }
        bool ok = piece_add(&b, m, (size_t)mk);
        free(m);
        if (!ok) goto nomem;
        have_prev = false;
        i = e;
    }
    b.p[b.n] = 0;
    *out = b.p;
    return (utf8proc_ssize_t)b.n;
nomem:
    free(b.p);
    return UTF8PROC_ERROR_NOMEM;
}

/* Step 1: decode (invalid bytes → U+FFFD), drop invisible and bidi characters, re-encode.
 * *inert: every character kept passes nfkc_inert (NFKC would change nothing). */
static char *strip_invisible(const char *text, size_t len, sealm_guard_normalized *st, size_t *out_len, bool *inert) {
    /* the output is never longer than the input, except that an invalid byte (1) becomes
     * U+FFFD (3): the buffer grows only then */
    size_t cap = len + 1;
    char *o = malloc(cap);
    if (!o) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        if ((unsigned char)text[i] < 0x80) {   /* a run of ASCII: kept as it is, NFKC-inert */
            size_t j = ascii_run_end(text, i + 1, len);
            memcpy(o + n, text + i, j - i);
            n += j - i;
            i = j;
            continue;
        }
        size_t k2 = 0;
        utf8proc_int32_t c = guard_utf8_2or3((const unsigned char *)text + i, len - i, &k2);
        utf8proc_ssize_t k = (utf8proc_ssize_t)k2;
        if (c < 0) k = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &c);
        bool invalid = k < 1;
        if (invalid) {
            c = 0xFFFD;
            k = 1;
        }
        size_t at = i;
        i += (size_t)k;
        if (is_bidi_control(c)) {
            st->n_bidi++;
            continue;
        }
        if (is_invisible(c)) {
            st->n_invisible++;
            if (c >= 0xE0000 && c <= 0xE007F) st->n_tags++;
            continue;
        }
        if (*inert && !nfkc_inert(c)) *inert = false;
        if (!invalid) {   /* a valid sequence encodes its code point: copy it as it is */
            memcpy(o + n, text + at, (size_t)k);
            n += (size_t)k;
            continue;
        }
        if (cap - n < 3 + (len - i) + 1) {
            cap = cap * 2 + 4;
            char *g = realloc(o, cap);
            if (!g) {
                free(o);
                return NULL;
            }
            o = g;
        }
        n += (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)o + n);
    }
    o[n] = 0;
    *out_len = n;
    return o;
}

/* Cyrillic and Greek letters that look like Latin ones (Unicode TR #39 confusables, the
 * common subset). */
static int32_t latin_lookalike(int32_t c) {
    switch (c) {
    case 0x0430: return 'a'; case 0x0435: return 'e'; case 0x043E: return 'o'; case 0x0440: return 'p';
    case 0x0441: return 'c'; case 0x0443: return 'y'; case 0x0445: return 'x'; case 0x0456: return 'i';
    case 0x0458: return 'j'; case 0x0455: return 's'; case 0x04BB: return 'h'; case 0x0501: return 'd';
    case 0x0410: return 'A'; case 0x0412: return 'B'; case 0x0415: return 'E'; case 0x041A: return 'K';
    case 0x041C: return 'M'; case 0x041D: return 'H'; case 0x041E: return 'O'; case 0x0420: return 'P';
    case 0x0421: return 'C'; case 0x0422: return 'T'; case 0x0425: return 'X'; case 0x0406: return 'I';
    case 0x0408: return 'J'; case 0x0405: return 'S';
    case 0x03BF: return 'o'; case 0x03B1: return 'a'; case 0x03B9: return 'i'; case 0x03BD: return 'v';
    case 0x03C1: return 'p'; case 0x03BA: return 'k'; case 0x039F: return 'O'; case 0x0391: return 'A';
    case 0x0392: return 'B'; case 0x0395: return 'E'; case 0x0397: return 'H'; case 0x0399: return 'I';
    case 0x039A: return 'K'; case 0x039C: return 'M'; case 0x039D: return 'N'; case 0x03A1: return 'P';
    case 0x03A4: return 'T'; case 0x03A5: return 'Y'; case 0x03A7: return 'X'; case 0x0396: return 'Z';
    default: return 0;
    }
}

static bool is_ascii_letter(int32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Step 3: fold look-alikes inside mixed-script words only (a word with at least one Latin
 * letter), in place: every replacement is shorter than the original (2 bytes → 1). This is
 * the plain version, run without the shortcuts; fold_confusables_fast below gives the same
 * result with less work (test_inject.c compares the two paths). */
static size_t fold_confusables(char *s, size_t len, size_t *n_folded) {
    /* Every look-alike above is U+0391-U+03C1 or U+0405-U+0501 (lead bytes 0xCE-0xD4): find
     * whether any word holds one of them and an ASCII letter before rewriting anything. */
    bool any = false;
    for (size_t i = 0; i < len && !any; i++) {
        if ((unsigned char)s[i] < 0xCE || (unsigned char)s[i] > 0xD4) continue;
        size_t a = i, b = i;
        while (a && !guard_is_space((unsigned char)s[a - 1])) a--;
        while (b < len && !guard_is_space((unsigned char)s[b])) b++;
        bool latin = false, look = false;
        for (size_t k = a; k < b; k++) latin |= is_ascii_letter((unsigned char)s[k]);
        for (size_t k = a; latin && k < b && !look;) {
            utf8proc_int32_t c;
            utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + k, (utf8proc_ssize_t)(b - k), &c);
            if (n < 1) break;
            look = latin_lookalike(c) != 0;
            k += (size_t)n;
        }
        any = latin && look;
        i = b;
    }
    if (!any) return len;
    size_t r = 0, w = 0;
    while (r < len) {
        /* find the word [r, e): a run of non-space bytes */
        size_t e = r;
        while (e < len && !guard_is_space((unsigned char)s[e])) e++;
        bool has_latin = false, has_look = false;
        for (size_t i = r; i < e && !(has_latin && has_look); i++) {   /* bytes first: most words need no decoding */
            unsigned char b = (unsigned char)s[i];
            has_latin |= is_ascii_letter(b);
            has_look |= b >= 0xCE && b <= 0xD4;
        }
        if (has_latin && has_look) {
            has_look = false;
            for (size_t i = r; i < e;) {
                utf8proc_int32_t c;
                utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(e - i), &c);
                if (k < 1) break;
                if (latin_lookalike(c)) has_look = true;
                i += (size_t)k;
            }
        }
        if (!(has_latin && has_look)) {   /* nothing to fold: the word moves as it is */
            if (w != r) memmove(s + w, s + r, e - r);
            w += e - r;
            r = e;
            while (r < len && guard_is_space((unsigned char)s[r])) s[w++] = s[r++];
            continue;
        }
        for (size_t i = r; i < e;) {
            utf8proc_int32_t c;
            utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(e - i), &c);
            if (k < 1) k = 1;
            int32_t l = has_latin && has_look ? latin_lookalike(c) : 0;
            if (l) {
                s[w++] = (char)l;
                (*n_folded)++;
            } else {
                memmove(s + w, s + i, (size_t)k);
                w += (size_t)k;
            }
            i += (size_t)k;
        }
        /* copy the whitespace run */
        r = e;
        while (r < len && guard_is_space((unsigned char)s[r])) s[w++] = s[r++];
    }
    s[w] = 0;
    return w;
}

/* Step 3 with the shortcuts: the same result as fold_confusables in one pass that stops
 * only at look-alike lead bytes (0xCE-0xD4). Text before a word that folds is moved down in
 * one block when that word is reached, and the rest once at the end; text with nothing to
 * fold is never written. */
static size_t fold_confusables_fast(char *s, size_t len, size_t *n_folded) {
    size_t w = 0, r = 0;   /* s[0, w) is final; s[r, len) is unread and where it was */
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x80) {   /* ASCII runs: skipped eight bytes at a time */
            i = ascii_run_end(s, i, len) - 1;
            continue;
        }
        if ((unsigned char)s[i] < 0xCE || (unsigned char)s[i] > 0xD4) continue;
        /* the word [a, e) around i; s[r] is whitespace when r > 0, so a never goes below r */
        size_t a = i, e = i;
        while (a > r && !guard_is_space((unsigned char)s[a - 1])) a--;
        while (e < len && !guard_is_space((unsigned char)s[e])) e++;
        bool latin = false, look = false;
        for (size_t k = a; k < e && !latin; k++) latin = is_ascii_letter((unsigned char)s[k]);
        for (size_t k = a; latin && k < e && !look;) {
            utf8proc_int32_t c;
            utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + k, (utf8proc_ssize_t)(e - k), &c);
            if (n < 1) break;
            look = latin_lookalike(c) != 0;
            k += (size_t)n;
        }
        if (latin && look) {
            if (w != r) memmove(s + w, s + r, a - r);
            w += a - r;
            for (size_t k = a; k < e;) {   /* folding only shortens, so writing never passes reading */
                utf8proc_int32_t c;
                utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + k, (utf8proc_ssize_t)(e - k), &c);
                if (n < 1) n = 1;
                int32_t l = latin_lookalike(c);
                if (l) {
                    s[w++] = (char)l;
                    (*n_folded)++;
                } else {
                    memmove(s + w, s + k, (size_t)n);
                    w += (size_t)n;
                }
                k += (size_t)n;
            }
            r = e;
        }
        i = e;   /* s[e] is whitespace (or the end): the next word starts after it */
    }
    if (r == 0) return len;   /* nothing folded */
    memmove(s + w, s + r, len - r);
    w += len - r;
    s[w] = 0;
    return w;
}

/* Whether any special-token string occurs in s[0, len): memchr to each occurrence of a
 * first byte, then a compare. Most texts hold none, and strip_specials is skipped. */
static bool any_special(const char *s, size_t len, const char *const *sp, size_t n_sp) {
    bool seen[256] = {0};
    for (size_t j = 0; j < n_sp; j++) {
        unsigned char f = sp[j] ? (unsigned char)sp[j][0] : 0;
        if (!f || seen[f]) continue;
        seen[f] = true;
        for (const char *p = memchr(s, f, len); p; p = memchr(p + 1, f, len - (size_t)(p + 1 - s))) {
            size_t left = len - (size_t)(p - s);
            for (size_t q = j; q < n_sp; q++) {
                if (!sp[q] || (unsigned char)sp[q][0] != f) continue;
                size_t k = strlen(sp[q]);
                if (k <= left && memcmp(p, sp[q], k) == 0) return true;
            }
        }
    }
    return false;
}

/* Step 4: remove special-token strings until none is left (removal can join two halves). */
static size_t strip_specials(char *s, size_t len, const char *const *sp, size_t n_sp, size_t *n_removed) {
    /* nothing to do unless a special token's first byte occurs */
    bool first[256] = {0};
    for (size_t j = 0; j < n_sp; j++)
        if (sp[j] && sp[j][0]) first[(unsigned char)sp[j][0]] = true;
    size_t at = 0;
    while (at < len && !first[(unsigned char)s[at]]) at++;
    if (at == len) return len;
    bool again = true;
    while (again) {
        again = false;
        size_t w = at, r = at;   /* [0, at) holds no first byte: it stays */
        while (r < len) {
            if (!first[(unsigned char)s[r]]) {   /* a run without first bytes moves as a block */
                size_t e = r + 1;
                while (e < len && !first[(unsigned char)s[e]]) e++;
                if (w != r) memmove(s + w, s + r, e - r);
                w += e - r;
                r = e;
                continue;
            }
            size_t hit = 0;
            for (size_t j = 0; j < n_sp && !hit; j++) {
                size_t k = strlen(sp[j]);
                if (k && k <= len - r && memcmp(s + r, sp[j], k) == 0) hit = k;
            }
            if (hit) {
                r += hit;
                (*n_removed)++;
                again = true;
            } else {
                s[w++] = s[r++];
            }
        }
        len = w;
        s[len] = 0;
    }
    return len;
}

static bool plain_ascii(const char *text, size_t len) { return !len || ascii_run_end(text, 0, len) == len; }

sealm_status sealm_guard_normalize(const char *text, size_t len, const char *const *specials, size_t n_specials,
                                   sealm_guard_normalized *out, sealm_error *err) {
    return sealm_guard_normalize_ex(text, len, specials, n_specials, true, out, err);
}

sealm_status sealm_guard_normalize_ex(const char *text, size_t len, const char *const *specials, size_t n_specials,
                                      bool shortcuts, sealm_guard_normalized *out, sealm_error *err) {
    if (!out) return sealm_error_set(err, SEALM_E_INVALID, "guard: normalize needs an output");
    memset(out, 0, sizeof *out);
    if (!text) len = 0;
    if (!specials) specials = sealm_guard_default_specials(&n_specials);

    char *s;
    size_t n;
    if (shortcuts && plain_ascii(text, len)) {
        /* ASCII is already NFKC and has no invisible, bidi or look-alike characters: skip
         * straight to the special tokens (the common case, and the fast one). */
        s = malloc(len + 1);
        if (!s) return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory normalizing %zu bytes", len);
        if (len) memcpy(s, text, len);
        s[len] = 0;
        n = len;
    } else {
        size_t n1;
        bool inert = shortcuts;
        char *s1 = strip_invisible(text, len, out, &n1, &inert);
        if (!s1) return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory normalizing %zu bytes", len);
        if (inert) {   /* already NFKC (see nfkc_inert) */
            n = fold_confusables_fast(s1, n1, &out->n_confusable);
            if (any_special(s1, n, specials, n_specials))
                n = strip_specials(s1, n, specials, n_specials, &out->n_special);
            out->text = s1;
            out->len = n;
            out->changed = n != len || (len && memcmp(s1, text, len) != 0);
            return SEALM_OK;
        }
        utf8proc_uint8_t *s2 = NULL;
        /* STABLE|COMPAT|COMPOSE is NFKC; the shortcut maps only the pieces that can change. */
        utf8proc_ssize_t k = shortcuts ? nfkc_pieces(s1, n1, (char **)&s2)
                                       : utf8proc_map((const utf8proc_uint8_t *)s1, (utf8proc_ssize_t)n1, &s2,
                                                      UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE);
        free(s1);
        /* The input is valid UTF-8 by now, so only memory (or a size overflow) can fail. */
        if (k < 0)
            return sealm_error_set(err, SEALM_E_NOMEM, "guard: Unicode normalization of %zu bytes failed: %s", len,
                                   utf8proc_errmsg(k));
        s = (char *)s2;
        n = shortcuts ? fold_confusables_fast(s, (size_t)k, &out->n_confusable)
                      : fold_confusables(s, (size_t)k, &out->n_confusable);
    }
    if (!shortcuts || any_special(s, n, specials, n_specials))
        n = strip_specials(s, n, specials, n_specials, &out->n_special);
    out->text = s;
    out->len = n;
    out->changed = n != len || (len && memcmp(s, text, len) != 0);
    return SEALM_OK;
}
