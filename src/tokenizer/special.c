/* Special tokens written literally in text: control tokens (<|im_start|>, <s>, ...) are
 * recognised only when the caller trusts the text (parse_special); user-defined tokens are
 * vocabulary entries the model's authors added as whole pieces, and are always recognised,
 * as the reference tokenizers do. At each position the longest candidate wins. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/vocab.h"

static bool is_special_candidate(const sealm_tokenizer *t, int32_t id) {
    uint8_t type = t->types[id];
    return (type == SEALM_TOKEN_CONTROL || type == SEALM_TOKEN_USER_DEFINED) && t->text_len[id] > 0;
}

/* qsort context is not portable; the comparison needs the lengths, so sort (len, id) pairs. */
typedef struct cand {
    uint32_t len;
    int32_t id;
} cand;

static int cand_cmp(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

sealm_status sealm_special_init(sealm_tokenizer *t, sealm_error *err) {
    sealm_special_index *s = &t->special;
    uint32_t count[256] = {0};
    size_t total = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (!is_special_candidate(t, id)) continue;
        count[(uint8_t)t->blob[t->text_off[id]]]++;
        total++;
    }
    s->ids = malloc((total ? total : 1) * sizeof(int32_t));
    cand *c = malloc((total ? total : 1) * sizeof(cand));
    if (!s->ids || !c) {
        free(c);
        return sealm_error_set(err, SEALM_E_NOMEM, "tokenizer: out of memory for the special-token index");
    }
    s->start[0] = 0;
    for (int b = 0; b < 256; b++) s->start[b + 1] = s->start[b] + count[b];
    uint32_t fill[256];
    memcpy(fill, s->start, sizeof fill);
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (!is_special_candidate(t, id)) continue;
        uint8_t b = (uint8_t)t->blob[t->text_off[id]];
        c[fill[b]++] = (cand){t->text_len[id], id};
    }
    for (int b = 0; b < 256; b++) qsort(c + s->start[b], count[b], sizeof(cand), cand_cmp);
    for (size_t i = 0; i < total; i++) s->ids[i] = c[i].id;
    free(c);
    return SEALM_OK;
}

void sealm_special_free(sealm_special_index *s) {
    free(s->ids);
    s->ids = NULL;
}

int32_t sealm_special_match(const sealm_tokenizer *t, const char *text, size_t len, size_t pos,
                            bool parse_special, size_t *match_len) {
    const sealm_special_index *s = &t->special;
    uint8_t b = (uint8_t)text[pos];
    for (uint32_t i = s->start[b]; i < s->start[b + 1]; i++) {
        int32_t id = s->ids[i];
        if (!parse_special && t->types[id] == SEALM_TOKEN_CONTROL) continue;
        size_t n = t->text_len[id];
        if (n <= len - pos && memcmp(text + pos, t->blob + t->text_off[id], n) == 0) {
            *match_len = n;
            return id;
        }
    }
    return -1;
}
