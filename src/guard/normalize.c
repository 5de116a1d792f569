/* Normalization of user text before injection screening (sealm/guard.h, "normalization").
 *
 * Order matters: invisible characters go first so NFKC composes across what they separated;
 * NFKC before the homoglyph fold so fullwidth and mathematical letters are already plain;
 * special tokens last so "＜|im_start|＞" (fullwidth brackets) is caught after NFKC. */
#include "guard_internal.h"

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

/* Step 1: decode (invalid bytes → U+FFFD), drop invisible and bidi characters, re-encode. */
static char *strip_invisible(const char *text, size_t len, sealm_guard_normalized *st, size_t *out_len) {
    char *o = malloc(len * 3 + 1);   /* an invalid byte (1) can become U+FFFD (3) */
    if (!o) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &c);
        if (k < 1) {
            c = 0xFFFD;
            k = 1;
        }
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
 * letter), in place: every replacement is shorter than the original (2 bytes → 1). */
static size_t fold_confusables(char *s, size_t len, size_t *n_folded) {
    size_t r = 0, w = 0;
    while (r < len) {
        /* find the word [r, e): a run of non-space bytes */
        size_t e = r;
        while (e < len && !guard_is_space((unsigned char)s[e])) e++;
        bool has_latin = false, has_look = false;
        for (size_t i = r; i < e;) {
            utf8proc_int32_t c;
            utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(e - i), &c);
            if (k < 1) break;
            if (is_ascii_letter(c)) has_latin = true;
            else if (latin_lookalike(c)) has_look = true;
            i += (size_t)k;
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

/* Step 4: remove special-token strings until none is left (removal can join two halves). */
static size_t strip_specials(char *s, size_t len, const char *const *sp, size_t n_sp, size_t *n_removed) {
    bool again = true;
    while (again) {
        again = false;
        size_t w = 0;
        for (size_t r = 0; r < len;) {
            size_t hit = 0;
            if (s[r] == '<' || s[r] == '[') {
                for (size_t j = 0; j < n_sp; j++) {
                    size_t k = strlen(sp[j]);
                    if (k && k <= len - r && memcmp(s + r, sp[j], k) == 0) {
                        hit = k;
                        break;
                    }
                }
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

static bool plain_ascii(const char *text, size_t len) {
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)text[i] >= 0x80) return false;
    return true;
}

sealm_status sealm_guard_normalize(const char *text, size_t len, const char *const *specials, size_t n_specials,
                                   sealm_guard_normalized *out, sealm_error *err) {
    if (!out) return sealm_error_set(err, SEALM_E_INVALID, "guard: normalize needs an output");
    memset(out, 0, sizeof *out);
    if (!text) len = 0;
    if (!specials) specials = sealm_guard_default_specials(&n_specials);

    char *s;
    size_t n;
    if (plain_ascii(text, len)) {
        /* ASCII is already NFKC and has no invisible, bidi or look-alike characters: skip
         * straight to the special tokens (the common case, and the fast one). */
        s = malloc(len + 1);
        if (!s) return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory normalizing %zu bytes", len);
        if (len) memcpy(s, text, len);
        s[len] = 0;
        n = len;
    } else {
        size_t n1;
        char *s1 = strip_invisible(text, len, out, &n1);
        if (!s1) return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory normalizing %zu bytes", len);
        utf8proc_uint8_t *s2 = NULL;
        /* NUL bytes would end utf8proc's view of the string; STABLE|COMPAT|COMPOSE is NFKC. */
        utf8proc_ssize_t k = utf8proc_map((const utf8proc_uint8_t *)s1, (utf8proc_ssize_t)n1, &s2,
                                          UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE);
        free(s1);
        /* The input is valid UTF-8 by now, so only memory (or a size overflow) can fail. */
        if (k < 0)
            return sealm_error_set(err, SEALM_E_NOMEM, "guard: Unicode normalization of %zu bytes failed: %s", len,
                                   utf8proc_errmsg(k));
        s = (char *)s2;
        n = fold_confusables(s, (size_t)k, &out->n_confusable);
    }
    n = strip_specials(s, n, specials, n_specials, &out->n_special);
    out->text = s;
    out->len = n;
    out->changed = n != len || (len && memcmp(s, text, len) != 0);
    return SEALM_OK;
}
