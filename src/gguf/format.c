/* Short text for a metadata value, as `sealm info` prints it.
 *
 * Strings come from the file and may hold anything, so they are shown quoted and escaped:
 * control characters (C0, DEL, C1) and bytes that are not valid UTF-8 become \xNN or \uNNNN,
 * which keeps a hostile file from driving the user's terminal. */
#include "gguf_internal.h"

#include <inttypes.h>
#include <stdio.h>

/* Output buffer that only takes whole pieces, so a multi-byte character or an escape is
 * never cut in half; once a piece does not fit, nothing more is added. */
typedef struct text_out {
    char *buf;
    size_t cap;  /* bytes, including the NUL */
    size_t len;
    bool full;
} text_out;

static void put(text_out *o, const char *piece, size_t n) {
    if (o->full || o->len + n + 1 > o->cap) {
        o->full = true;
        return;
    }
    memcpy(o->buf + o->len, piece, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void put_str(text_out *o, const char *s) { put(o, s, strlen(s)); }

/* Length of the valid UTF-8 sequence at p (n bytes available), or 0 if invalid. Rejects
 * overlong forms, surrogates and code points past U+10FFFF. */
static size_t utf8_sequence(const unsigned char *p, uint64_t n, uint32_t *cp) {
    if (p[0] < 0x80) { *cp = p[0]; return 1; }
    size_t len;
    uint32_t min;
    if ((p[0] & 0xe0) == 0xc0) { len = 2; min = 0x80; *cp = p[0] & 0x1fu; }
    else if ((p[0] & 0xf0) == 0xe0) { len = 3; min = 0x800; *cp = p[0] & 0x0fu; }
    else if ((p[0] & 0xf8) == 0xf0) { len = 4; min = 0x10000; *cp = p[0] & 0x07u; }
    else return 0;
    if (n < len) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xc0) != 0x80) return 0;
        *cp = *cp << 6 | (p[k] & 0x3fu);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff)) return 0;
    return len;
}

/* Quoted string; max_chars characters at most (0: no limit), then an ellipsis. */
static void put_quoted(text_out *o, sealm_gguf_str s, size_t max_chars) {
    const unsigned char *p = (const unsigned char *)s.ptr;
    uint64_t i = 0;
    size_t shown = 0;
    put(o, "\"", 1);
    while (i < s.len && !o->full) {
        if (max_chars && shown == max_chars) {
            put(o, "\"\xe2\x80\xa6", 4); /* closing quote, then "…" */
            return;
        }
        char esc[16];
        uint32_t cp;
        size_t n = utf8_sequence(p + i, s.len - i, &cp);
        if (n == 0) {
            snprintf(esc, sizeof esc, "\\x%02x", p[i]);
            put_str(o, esc);
            n = 1;
        } else if (cp == '"' || cp == '\\') {
            esc[0] = '\\';
            esc[1] = (char)cp;
            put(o, esc, 2);
        } else if (cp == '\n') {
            put(o, "\\n", 2);
        } else if (cp == '\t') {
            put(o, "\\t", 2);
        } else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
            snprintf(esc, sizeof esc, "\\u%04" PRIx32, cp);
            put_str(o, esc);
        } else {
            put(o, (const char *)p + i, n);
        }
        i += n;
        shown++;
    }
    put(o, "\"", 1);
}

static void put_scalar(text_out *o, const uint8_t *p, sealm_gguf_value_type type) {
    char num[48];
    uint64_t v;
    bool is_signed;
    if (type == SEALM_GGUF_BOOL) {
        put_str(o, p[0] ? "true" : "false");
        return;
    }
    if (type == SEALM_GGUF_FLOAT32) snprintf(num, sizeof num, "%g", (double)sealm_gguf_lef32(p));
    else if (type == SEALM_GGUF_FLOAT64) snprintf(num, sizeof num, "%.10g", sealm_gguf_lef64(p));
    else if (!sealm_gguf_read_integer(p, type, &v, &is_signed)) return;
    else if (is_signed) snprintf(num, sizeof num, "%" PRId64, (int64_t)v);
    else snprintf(num, sizeof num, "%" PRIu64, v);
    put_str(o, num);
}

void sealm_gguf_kv_format(const sealm_gguf *g, uint64_t i, char *buf, size_t cap, size_t max_chars) {
    if (!buf || cap == 0) return;
    buf[0] = '\0';
    if (!g || i >= g->n_kv) return;
    text_out o = {buf, cap, 0, false};
    const sealm_gguf_kv *kv = &g->kvs[i];
    const uint8_t *p = g->image + kv->value_pos;
    if (kv->type == SEALM_GGUF_STRING) {
        sealm_gguf_str s = {(const char *)p + 8, sealm_gguf_le64(p)};
        put_quoted(&o, s, max_chars);
    } else if (kv->type == SEALM_GGUF_ARRAY) {
        char summary[64];
        snprintf(summary, sizeof summary, "[%s \xc3\x97 %" PRIu64 "]", sealm_gguf_value_type_name(kv->elem_type),
                 kv->n_elems);
        put_str(&o, summary);
    } else {
        put_scalar(&o, p, kv->type);
    }
}
