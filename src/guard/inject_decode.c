/* Encoded payloads: an instruction hidden as base64 or hex passes every pattern unless it is
 * decoded first. Segments are decoded with libsodium's constant-format decoders and handed on
 * only when the result looks like text, so random-looking tokens (hashes, ids) cost little. */
#include "inject_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum { MIN_B64 = 16, MIN_HEX = 24, MIN_DECODED = 12, MAX_SEGMENT = 65536 };

static bool is_b64(unsigned char c) {
    return guard_is_alnum(c) || c == '+' || c == '/' || c == '-' || c == '_' || c == '=';
}

static bool is_hex(unsigned char c) {
    return guard_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Text-like: at least 90% printable ASCII, whitespace or UTF-8 bytes, and at least one space
 * (an instruction has words). */
static bool looks_like_text(const unsigned char *b, size_t n) {
    size_t good = 0, spaces = 0;
    for (size_t i = 0; i < n; i++) {
        if ((b[i] >= 0x20 && b[i] < 0x7f) || b[i] == '\n' || b[i] == '\t' || b[i] >= 0x80) good++;
        if (b[i] == ' ') spaces++;
    }
    return n >= MIN_DECODED && spaces > 0 && good * 10 >= n * 9;
}

static sealm_status try_segment(const char *seg, size_t n, bool hex, inject_decoded_fn fn, void *ctx,
                                sealm_error *err) {
    if (n > MAX_SEGMENT) n = MAX_SEGMENT;
    size_t cap = n + 1;
    unsigned char *bin = malloc(cap);
    if (!bin) return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory decoding a payload");
    size_t got = 0;
    int rc;
    if (hex) {
        rc = sodium_hex2bin(bin, cap, seg, n & ~(size_t)1, NULL, &got, NULL);
    } else {
        /* base64 with or without padding, standard or URL-safe alphabet */
        bool url = memchr(seg, '-', n) || memchr(seg, '_', n);
        size_t m = n;
        while (m && seg[m - 1] == '=') m--;
        m -= m % 4 == 1;   /* a single leftover character encodes nothing */
        rc = sodium_base642bin(bin, cap, seg, m, NULL, &got, NULL,
                               url ? sodium_base64_VARIANT_URLSAFE_NO_PADDING : sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    }
    sealm_status st = SEALM_OK;
    if (rc == 0 && looks_like_text(bin, got)) st = fn(ctx, hex ? "hex" : "base64", (const char *)bin, got, err);
    free(bin);
    return st;
}

sealm_status sealm_guard_inject_decode_segments(const char *text, size_t len, inject_decoded_fn fn, void *ctx,
                                                sealm_error *err) {
    for (size_t i = 0; i < len;) {
        if (!is_b64((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t e = i;
        bool all_hex = true, lower = false, upper = false, digit = false;
        while (e < len && is_b64((unsigned char)text[e])) {
            unsigned char c = (unsigned char)text[e];
            if (!is_hex(c)) all_hex = false;
            lower |= guard_is_lower(c);
            upper |= guard_is_upper(c);
            digit |= guard_is_digit(c);
            e++;
        }
        size_t n = e - i;
        sealm_status st = SEALM_OK;
        if (all_hex && n >= MIN_HEX && digit) st = try_segment(text + i, n, true, fn, ctx, err);
        /* a plain word is never base64 of text: that needs both cases (and is long) */
        else if (n >= MIN_B64 && lower && upper) st = try_segment(text + i, n, false, fn, ctx, err);
        if (st != SEALM_OK) return st;
        i = e;
    }
    return SEALM_OK;
}

void sealm_guard_rot13(const char *src, size_t len, char *dst) {
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (guard_is_lower(c)) c = (unsigned char)('a' + (c - 'a' + 13) % 26);
        else if (guard_is_upper(c)) c = (unsigned char)('A' + (c - 'A' + 13) % 26);
        dst[i] = (char)c;
    }
}
