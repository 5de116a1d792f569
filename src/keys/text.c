/* The strict line-oriented text the keys layer's files are made of (docs/keys-format.md):
 * LF-terminated lines, no CR or NUL, fields written as "name: value" with one space. There
 * is exactly one way to write each file, so a parser that accepts only that way leaves no
 * room for two readers to disagree about what a file says. */
#include "keys_internal.h"

#include <string.h>

void sealm_keys_lines_init(sealm_keys_lines *ls, const char *path, const char *data, size_t len) {
    ls->path = path;
    ls->p = data;
    ls->end = data + len;
    ls->line_no = 0;
}

sealm_status sealm_keys_lines_next(sealm_keys_lines *ls, const char **line, size_t *len,
                                   sealm_error *err) {
    if (ls->p >= ls->end) return SEALM_E_NOT_FOUND;
    ls->line_no++;
    const char *nl = memchr(ls->p, '\n', (size_t)(ls->end - ls->p));
    if (!nl)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: last line has no newline "
                               "(file truncated?)", ls->path, ls->line_no);
    for (const char *c = ls->p; c < nl; c++) {
        if (*c == '\r' || *c == '\0')
            return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: line contains a %s byte; files "
                                   "use plain LF line ends and text only",
                                   ls->path, ls->line_no, *c == '\r' ? "CR" : "NUL");
    }
    *line = ls->p;
    *len = (size_t)(nl - ls->p);
    ls->p = nl + 1;
    return SEALM_OK;
}

sealm_status sealm_keys_lines_field(sealm_keys_lines *ls, const char *name, const char **value,
                                    size_t *value_len, sealm_error *err) {
    const char *line;
    size_t len;
    sealm_status rc = sealm_keys_lines_next(ls, &line, &len, err);
    if (rc == SEALM_E_NOT_FOUND)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: file ends where the `%s:` line was "
                               "expected (file truncated?)", ls->path, ls->line_no + 1, name);
    if (rc != SEALM_OK) return rc;
    size_t nlen = strlen(name);
    if (len < nlen + 2 || memcmp(line, name, nlen) != 0 || line[nlen] != ':' || line[nlen + 1] != ' ')
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: expected a `%s: ` line here",
                               ls->path, ls->line_no, name);
    *value = line + nlen + 2;
    *value_len = len - nlen - 2;
    return SEALM_OK;
}

bool sealm_keys_base64_decode(const char *b64, size_t b64_len, uint8_t *out, size_t out_len) {
    /* The one padded encoding of out_len bytes has exactly this length; checking it first
     * also rejects trailing or missing characters. */
    if (b64_len != sodium_base64_ENCODED_LEN(out_len, sodium_base64_VARIANT_ORIGINAL) - 1)
        return false;
    size_t got = 0;
    const char *end = NULL;
    /* No ignored characters; libsodium rejects non-zero padding bits, so the encoding is
     * canonical. */
    if (sodium_base642bin(out, out_len, b64, b64_len, NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    return got == out_len && end == b64 + b64_len;
}

bool sealm_keys_parse_u64(const char *s, size_t len, uint64_t *out) {
    if (len == 0 || len > 20 || (len > 1 && s[0] == '0')) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool sealm_keys_id_valid(const char *s, size_t len) {
    if (len != SEALM_KEY_ID_LEN) return false;
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    }
    return true;
}

const char *sealm_keys_kind_name(sealm_key_kind kind) {
    return kind == SEALM_KEY_PUBLISHER ? "publisher" : kind == SEALM_KEY_DEVICE ? "device" : "?";
}

bool sealm_keys_kind_parse(const char *s, size_t len, sealm_key_kind *kind) {
    if (len == 9 && memcmp(s, "publisher", 9) == 0) {
        *kind = SEALM_KEY_PUBLISHER;
        return true;
    }
    if (len == 6 && memcmp(s, "device", 6) == 0) {
        *kind = SEALM_KEY_DEVICE;
        return true;
    }
    return false;
}
