/* UTF-8 helpers for the tokenizer: which bytes form one well-formed character (RFC 3629:
 * no overlongs, no surrogates, nothing above U+10FFFF), and whether an unfinished sequence
 * could still become one — the streaming detokenizer holds such bytes back. */
#include "tokenizer/vocab.h"

/* Allowed range of the second byte for each lead byte; later bytes are always 80..BF. */
static bool second_byte_ok(unsigned char lead, unsigned char b) {
    if (lead == 0xE0) return b >= 0xA0 && b <= 0xBF;   /* overlong 3-byte */
    if (lead == 0xED) return b >= 0x80 && b <= 0x9F;   /* surrogates */
    if (lead == 0xF0) return b >= 0x90 && b <= 0xBF;   /* overlong 4-byte */
    if (lead == 0xF4) return b >= 0x80 && b <= 0x8F;   /* above U+10FFFF */
    return b >= 0x80 && b <= 0xBF;
}

/* Expected sequence length from the lead byte; 0 for bytes that never start one. */
static size_t expected_len(unsigned char lead) {
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return 2;
    if (lead >= 0xE0 && lead <= 0xEF) return 3;
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    return 0;
}

/* How many bytes of s[0..n) agree with a well-formed sequence (stops at the first wrong one). */
static size_t matching_prefix(const unsigned char *s, size_t n, size_t want) {
    size_t i = 1;
    for (; i < want && i < n; i++) {
        bool ok = (i == 1) ? second_byte_ok(s[0], s[i]) : (s[i] >= 0x80 && s[i] <= 0xBF);
        if (!ok) break;
    }
    return i;
}

size_t sealm_tok_utf8_valid_len(const unsigned char *s, size_t n) {
    if (n == 0) return 0;
    size_t want = expected_len(s[0]);
    if (want == 0 || want > n) return 0;
    return matching_prefix(s, n, want) == want ? want : 0;
}

bool sealm_tok_utf8_is_prefix(const unsigned char *s, size_t n) {
    if (n == 0) return true;
    size_t want = expected_len(s[0]);
    if (want == 0 || n >= want) return false;
    return matching_prefix(s, n, want) == n;
}

size_t sealm_tok_utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
