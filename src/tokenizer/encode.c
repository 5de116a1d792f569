/* sealm_tokenize: text → ids. The text is first cut at special tokens; each stretch of
 * ordinary text between them is then encoded by the model's algorithm (SentencePiece, or
 * pre-tokenizer + byte-level BPE). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/vocab.h"

/* SentencePiece sees spaces as ▁ (U+2581) and, like the reference, gets a leading ▁ on a
 * stretch that starts the text or follows a special token, when the model asks for one. */
static bool encode_spm_fragment(const sealm_tokenizer *t, const char *text, size_t len, bool after_special,
                                sealm_id_list *out) {
    size_t spaces = 0;
    for (size_t i = 0; i < len; i++) spaces += text[i] == ' ';
    bool prefix = t->add_space_prefix && after_special;
    size_t n = len + 2 * spaces + (prefix ? 3 : 0);
    char *escaped = malloc(n ? n : 1);
    if (!escaped) return false;
    size_t k = 0;
    if (prefix) {
        memcpy(escaped, "\xE2\x96\x81", 3);
        k = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(escaped + k, "\xE2\x96\x81", 3);
            k += 3;
        } else {
            escaped[k++] = text[i];
        }
    }
    bool ok = sealm_spm_encode(t, escaped, k, out);
    free(escaped);
    return ok;
}

static bool encode_fragment(const sealm_tokenizer *t, const char *text, size_t len, bool after_special,
                            sealm_id_list *out) {
    if (len == 0) return true;
    if (t->kind == SEALM_TOKENIZER_SPM) return encode_spm_fragment(t, text, len, after_special, out);
    return sealm_pre_encode(t, text, len, out);
}

static bool encode_all(const sealm_tokenizer *t, const char *text, size_t len, bool add_bos, bool parse_special,
                       sealm_id_list *out) {
    if (add_bos && t->bos >= 0 && !sealm_tok_ids_push(out, t->bos)) return false;
    bool after_special = true;  /* the start of the text counts as a boundary */
    size_t frag = 0;
    for (size_t pos = 0; pos < len;) {
        size_t n;
        int32_t id = sealm_special_match(t, text, len, pos, parse_special, &n);
        if (id < 0) {
            pos++;
            continue;
        }
        if (pos > frag) {
            if (!encode_fragment(t, text + frag, pos - frag, after_special, out)) return false;
        }
        if (!sealm_tok_ids_push(out, id)) return false;
        after_special = true;
        pos += n;
        frag = pos;
    }
    if (len > frag) return encode_fragment(t, text + frag, len - frag, after_special, out);
    return true;
}

sealm_status sealm_tokenize(const sealm_tokenizer *t, const char *text, size_t len, bool add_bos,
                            bool parse_special, int32_t *out, size_t cap, size_t *n_out, sealm_error *err) {
    if (!t || (!text && len > 0) || !n_out || (!out && cap > 0))
        return sealm_error_set(err, SEALM_E_INVALID, "sealm_tokenize: NULL tokenizer, text, output or count");
    sealm_id_list ids = {0};
    if (!encode_all(t, text, len, add_bos, parse_special, &ids)) {
        free(ids.ids);
        return sealm_error_set(err, SEALM_E_NOMEM, "sealm_tokenize: out of memory encoding %zu bytes of text", len);
    }
    *n_out = ids.n;
    if (ids.n > cap) {
        free(ids.ids);
        return sealm_error_set(err, SEALM_E_INVALID, "sealm_tokenize: the text needs %zu token slots, %zu were given",
                               *n_out, cap);
    }
    if (ids.n) memcpy(out, ids.ids, ids.n * sizeof(int32_t));
    free(ids.ids);
    return SEALM_OK;
}
