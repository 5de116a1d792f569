/* Token → bytes, and the streaming detokenizer that turns a sequence of ids into text that
 * is only ever printed in whole UTF-8 characters. Each token's bytes are worked out once at
 * load (SentencePiece: ▁ → space, <0xNN> → the byte; BPE: GPT-2 characters → bytes). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/vocab.h"

static const char k_replacement[3] = {(char)0xEF, (char)0xBF, (char)0xBD};   /* U+FFFD */

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* "<0xNN>" → NN, or -1 when the text is not a byte piece. */
static int parse_byte_piece(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int hi = hex_digit(s[3]), lo = hex_digit(s[4]);
    return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

/* Writes the decoded bytes of one token into out (room for 3 × the text length);
 * returns their count. Control, unknown and unused tokens have no bytes of their own. */
static size_t decode_piece(const sealm_tokenizer *t, int32_t id, char *out) {
    size_t n;
    const char *s = sealm_tok_text(t, id, &n);
    uint8_t type = t->types[id];
    if (type == SEALM_TOKEN_CONTROL || type == SEALM_TOKEN_UNKNOWN || type == SEALM_TOKEN_UNUSED) return 0;
    if (t->kind == SEALM_TOKENIZER_SPM) {
        int byte = type == SEALM_TOKEN_BYTE ? parse_byte_piece(s, n) : -1;
        if (byte >= 0) {
            out[0] = (char)byte;
            return 1;
        }
        size_t k = 0;
        for (size_t i = 0; i < n;) {
            if (n - i >= 3 && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
                out[k++] = ' ';
                i += 3;
            } else {
                out[k++] = s[i++];
            }
        }
        return k;
    }
    if (type == SEALM_TOKEN_USER_DEFINED) {     /* added as plain text, not byte-mapped */
        memcpy(out, s, n);
        return n;
    }
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        const unsigned char *u = (const unsigned char *)s + i;
        size_t c = sealm_tok_utf8_valid_len(u, n - i);
        if (c == 0) {               /* not UTF-8 at all: pass the byte through */
            out[k++] = s[i++];
            continue;
        }
        uint32_t cp = c == 1 ? u[0]
                    : c == 2 ? ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F)
                    : c == 3 ? ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F)
                             : ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) |
                                   ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
        int byte = sealm_bpe_cp_to_byte(cp);
        if (byte >= 0) {
            out[k++] = (char)byte;
        } else {                    /* a character outside the byte map: keep it as written */
            memcpy(out + k, s + i, c);
            k += c;
        }
        i += c;
    }
    return k;
}

sealm_status sealm_detok_build_pieces(sealm_tokenizer *t, sealm_error *err) {
    size_t n = (size_t)t->n_vocab;
    t->piece_off = malloc(n * sizeof(uint32_t));
    t->piece_len = malloc(n * sizeof(uint32_t));
    /* Decoding never grows a text (▁ → 1 byte, <0xNN> → 1, 2-byte chars → 1 byte). */
    size_t total = t->text_off[n - 1] + t->text_len[n - 1] + 1;
    t->piece_blob = malloc(total);
    if (!t->piece_off || !t->piece_len || !t->piece_blob)
        return sealm_error_set(err, SEALM_E_NOMEM, "tokenizer: out of memory for decoded token pieces");
    uint32_t off = 0;
    for (size_t id = 0; id < n; id++) {
        size_t k = decode_piece(t, (int32_t)id, t->piece_blob + off);
        t->piece_off[id] = off;
        t->piece_len[id] = (uint32_t)k;
        off += (uint32_t)k;
    }
    return SEALM_OK;
}

/* The bytes of id: its decoded piece, or for control/unknown tokens their raw text when
 * rendered. */
static const char *token_bytes(const sealm_tokenizer *t, int32_t id, bool render_special, size_t *len) {
    uint8_t type = t->types[id];
    if (render_special && (type == SEALM_TOKEN_CONTROL || type == SEALM_TOKEN_UNKNOWN)) return sealm_tok_text(t, id, len);
    *len = t->piece_len[id];
    return t->piece_blob + t->piece_off[id];
}

size_t sealm_token_to_bytes(const sealm_tokenizer *t, int32_t id, bool render_special, char *buf, size_t cap) {
    if (!t || id < 0 || id >= t->n_vocab) return 0;
    size_t len;
    const char *s = token_bytes(t, id, render_special, &len);
    if (buf && cap > 0) memcpy(buf, s, len < cap ? len : cap);
    return len;
}

/* ---- streaming ---- */

void sealm_detok_stream_init(sealm_detok_stream *s, const sealm_tokenizer *t) {
    memset(s, 0, sizeof *s);
    s->tok = t;
    s->at_start = true;
}

/* Turns in[0..n) into complete characters in out (room for 3n bytes): well-formed
 * sequences are copied, a sequence that is cut short at the end is left for later
 * (*held gets its length), and anything that can never become a character is replaced by
 * one U+FFFD per maximal ill-formed part (Unicode's recommended practice). */
static size_t complete_chars(const unsigned char *in, size_t n, char *out, size_t *held) {
    size_t k = 0, i = 0;
    *held = 0;
    while (i < n) {
        size_t c = sealm_tok_utf8_valid_len(in + i, n - i);
        if (c > 0) {
            memcpy(out + k, in + i, c);
            k += c;
            i += c;
            continue;
        }
        if (sealm_tok_utf8_is_prefix(in + i, n - i)) {
            *held = n - i;
            break;
        }
        size_t bad = 1;
        for (size_t m = 3; m > 1; m--)
            if (m < n - i && sealm_tok_utf8_is_prefix(in + i, m)) {
                bad = m;
                break;
            }
        memcpy(out + k, k_replacement, 3);
        k += 3;
        i += bad;
    }
    return k;
}

size_t sealm_detok_stream_push(sealm_detok_stream *s, int32_t id, char *out, size_t cap) {
    const sealm_tokenizer *t = s->tok;
    if (!t || id < 0 || id >= t->n_vocab) {
        if (out && cap > 0) out[0] = '\0';
        return 0;
    }
    size_t len;
    const char *piece = token_bytes(t, id, false, &len);
    bool drop_space = false;
    if (len > 0 && s->at_start) {
        drop_space = t->kind == SEALM_TOKENIZER_SPM && t->add_space_prefix && piece[0] == ' ';
    }
    if (drop_space) {
        piece++;
        len--;
    }

    size_t n = s->n_pending + len;
    unsigned char small_in[128];
    char small_out[3 * sizeof small_in];
    unsigned char *in = n <= sizeof small_in ? small_in : malloc(n);
    char *text = n <= sizeof small_in ? small_out : malloc(3 * n);
    if (!in || !text) {
        if (in != small_in) free(in);
        if (text != small_out) free(text);
        return 0;
    }
    memcpy(in, s->pending, s->n_pending);
    if (len) memcpy(in + s->n_pending, piece, len);
    size_t held;
    size_t k = complete_chars(in, n, text, &held);
    /* Nothing to print fits any buffer; otherwise the text and its NUL must fit. */
    if (k == 0 || k + 1 <= cap) {
        if (k) memcpy(out, text, k);
        if (cap > 0) out[k] = '\0';
        memcpy(s->pending, in + n - held, held);
        s->n_pending = held;
        if (len > 0 || drop_space) s->at_start = false;
    }
    if (in != small_in) free(in);
    if (text != small_out) free(text);
    return k;
}

size_t sealm_detok_stream_flush(sealm_detok_stream *s, char *out, size_t cap) {
    size_t k = s->n_pending ? 3 : 0;
    if (k > 0 && k + 1 > cap) return k;
    if (k) memcpy(out, k_replacement, 3);
    if (cap > 0) out[k] = '\0';
    s->n_pending = 0;
    return k;
}
