/* libFuzzer target for the guard layer's injection part: arbitrary bytes (invalid UTF-8,
 * NULs, half special tokens, base64/hex-looking runs, bidi and tag characters) through
 * normalization, the injection screen and the output policy parser.
 *
 * The first input byte picks the mode, the rest is the text:
 *   even: normalize and screen the text. Checks: both succeed; the normalized text is
 *         NUL-terminated, valid UTF-8 and holds no default special-token string and no
 *         removed control character (U+200B, U+202E, U+FEFF, tag characters); the score is in
 *         [0, 1] and every finding's span lies inside the input.
 *   odd:  parse the text as a policy file. Checks: it either parses or fails with
 *         SEALM_E_FORMAT and a message; a parsed policy checks a fixed text without error,
 *         with every finding inside that text. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* memmem (the build defines it already) */
#endif
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sealm/guard.h"

static sealm_guard_injector *g_injector;

/* Decodes one UTF-8 sequence at s[0, n); returns its length, or 0 when it is malformed
 * (overlong, surrogate, above U+10FFFF, truncated). */
static size_t utf8_next(const uint8_t *s, size_t n, uint32_t *cp) {
    const uint8_t b = s[0];
    size_t len;
    uint32_t c, min;
    if (b < 0x80) { *cp = b; return 1; }
    else if ((b & 0xE0) == 0xC0) { len = 2; c = b & 0x1F; min = 0x80; }
    else if ((b & 0xF0) == 0xE0) { len = 3; c = b & 0x0F; min = 0x800; }
    else if ((b & 0xF8) == 0xF0) { len = 4; c = b & 0x07; min = 0x10000; }
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = c << 6 | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return len;
}

/* Code points normalization promises to remove (a sample of each class). */
static bool removed_by_normalization(uint32_t c) {
    return c == 0x200B || c == 0x202E || c == 0xFEFF || c == 0x2066 || (c >= 0xE0000 && c <= 0xE007F);
}

static void check_normalized(const sealm_guard_normalized *nz) {
    if (!nz->text || nz->text[nz->len] != '\0') abort();
    const uint8_t *s = (const uint8_t *)nz->text;
    for (size_t i = 0; i < nz->len;) {
        uint32_t c;
        const size_t step = utf8_next(s + i, nz->len - i, &c);
        if (step == 0 || removed_by_normalization(c)) abort();
        i += step;
    }
    size_t n_specials = 0;
    const char *const *specials = sealm_guard_default_specials(&n_specials);
    for (size_t k = 0; k < n_specials; k++)
        if (memmem(nz->text, nz->len, specials[k], strlen(specials[k]))) abort();
}

static void screen(const char *text, size_t len) {
    sealm_guard_normalized nz = {0};
    if (sealm_guard_normalize(text, len, NULL, 0, &nz, NULL) != SEALM_OK) abort();
    check_normalized(&nz);
    sealm_guard_normalized_free(&nz);

    float score = -1.0f;
    sealm_guard_findings f = {0};
    if (sealm_guard_screen_injection(g_injector, text, len, &score, &f, NULL) != SEALM_OK) abort();
    if (!(score >= 0.0f && score <= 1.0f)) abort();
    for (size_t i = 0; i < f.n; i++) {
        const sealm_guard_finding *x = &f.items[i];
        if (x->start > x->end || x->end > len || !x->rule) abort();
    }
    sealm_guard_findings_free(&f);
}

static void parse_policy(const char *text, size_t len) {
    sealm_guard_policy *p = NULL;
    sealm_error err = {0};
    const sealm_status st = sealm_guard_policy_parse(text, len, &p, &err);
    if (st != SEALM_OK) {
        if (st != SEALM_E_FORMAT || p != NULL || err.message[0] == '\0') abort();
        return;
    }
    static const char sample[] = "internal use only: project falcon, as an AI language model";
    sealm_guard_findings f = {0};
    sealm_guard_action strongest;
    if (sealm_guard_policy_check(p, sample, sizeof sample - 1, &f, &strongest, NULL) != SEALM_OK) abort();
    for (size_t i = 0; i < f.n; i++)
        if (f.items[i].start > f.items[i].end || f.items[i].end > sizeof sample - 1) abort();
    sealm_guard_findings_free(&f);
    sealm_guard_policy_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_injector && sealm_guard_injector_new(NULL, &g_injector, NULL) != SEALM_OK) abort();
    if (size < 1) return 0;
    const char *text = (const char *)data + 1;
    const size_t len = size - 1;
    if (data[0] % 2 == 0) screen(text, len);
    else parse_policy(text, len);
    return 0;
}
