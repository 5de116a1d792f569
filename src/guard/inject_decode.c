/* Encoded payloads: an instruction hidden as base64 or hex passes every pattern unless it is
 * decoded first. Segments are decoded with libsodium's constant-format decoders and handed on
 * only when the result looks like text, so random-looking tokens (hashes, ids) cost little. */
#include "inject_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum { MIN_B64 = 16, MIN_HEX = 24, MIN_DECODED = 12, MAX_SEGMENT = 65536 };

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

/* Byte classes for the segment scan: one table load per byte. */
enum { C_B64 = 1, C_HEX = 2, C_LOWER = 4, C_UPPER = 8, C_DIGIT = 16 };
static const unsigned char CLS[256] = {
    ['+'] = C_B64, ['/'] = C_B64, ['-'] = C_B64, ['_'] = C_B64, ['='] = C_B64,
#define D(c) [c] = C_B64 | C_HEX | C_DIGIT
    D('0'), D('1'), D('2'), D('3'), D('4'), D('5'), D('6'), D('7'), D('8'), D('9'),
#undef D
#define LH(c) [c] = C_B64 | C_HEX | C_LOWER
#define UH(c) [c] = C_B64 | C_HEX | C_UPPER
    LH('a'), LH('b'), LH('c'), LH('d'), LH('e'), LH('f'), UH('A'), UH('B'), UH('C'), UH('D'), UH('E'), UH('F'),
#undef LH
#undef UH
#define L(c) [c] = C_B64 | C_LOWER
#define U(c) [c] = C_B64 | C_UPPER
    L('g'), L('h'), L('i'), L('j'), L('k'), L('l'), L('m'), L('n'), L('o'), L('p'), L('q'), L('r'), L('s'), L('t'),
    L('u'), L('v'), L('w'), L('x'), L('y'), L('z'), U('G'), U('H'), U('I'), U('J'), U('K'), U('L'), U('M'), U('N'),
    U('O'), U('P'), U('Q'), U('R'), U('S'), U('T'), U('U'), U('V'), U('W'), U('X'), U('Y'), U('Z'),
#undef L
#undef U
};

sealm_status sealm_guard_inject_decode_segments(const char *text, size_t len, inject_decoded_fn fn, void *ctx,
                                                sealm_error *err) {
    const unsigned char *t = (const unsigned char *)text;
    /* Only runs of >= MIN_B64 bytes of the base64 alphabet matter (hex needs more). Ordinary
     * words are shorter, so look MIN_B64 - 1 bytes ahead first: if that byte is outside the
     * alphabet, no such run starts in between and the scan jumps past it. The byte before i
     * is always outside the alphabet (or i is 0). */
    for (size_t i = 0; i + MIN_B64 <= len;) {
        if (!(CLS[t[i + MIN_B64 - 1]] & C_B64)) {
            i += MIN_B64;
            continue;
        }
        size_t s = i + MIN_B64 - 1;
        while (s > i && (CLS[t[s - 1]] & C_B64)) s--;
        if (s > i) {   /* a run starts at s: is it long enough? */
            i = s;
            continue;
        }
        /* [i, i + MIN_B64) is in the alphabet: the run, which classes it holds, all hex? */
        size_t e = i;
        unsigned any = 0, all = 0xff;
        while (e < len && (CLS[t[e]] & C_B64)) {
            any |= CLS[t[e]];
            all &= CLS[t[e]];
            e++;
        }
        size_t n = e - i;
        sealm_status st = SEALM_OK;
        if ((all & C_HEX) && n >= MIN_HEX && (any & C_DIGIT)) st = try_segment(text + i, n, true, fn, ctx, err);
        /* a plain word is never base64 of text: that needs both cases (and is long) */
        else if (n >= MIN_B64 && (any & C_LOWER) && (any & C_UPPER)) st = try_segment(text + i, n, false, fn, ctx, err);
        if (st != SEALM_OK) return st;
        i = e + 1;   /* t[e] is outside the alphabet (or the end) */
    }
    return SEALM_OK;
}

void sealm_guard_rot13(const char *src, size_t len, char *dst) {
    /* branch-free per byte (lower-casing with | 0x20 only to classify), so it vectorizes */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i], l = c | 0x20;
        int shift = l >= 'a' && l <= 'z' ? (l <= 'm' ? 13 : -13) : 0;
        dst[i] = (char)(unsigned char)(c + shift);
    }
}
