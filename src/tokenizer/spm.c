/* SentencePiece BPE encoding (Kudo & Richardson 2018) as the "llama" GGUF tokenizer does it:
 * the text (spaces already ▁) starts as one symbol per UTF-8 character; repeatedly the
 * adjacent pair whose concatenation is a vocabulary piece with the highest score is merged
 * (leftmost on ties). Characters left that are not pieces fall back to <0xNN> byte tokens.
 * A binary heap of candidate pairs (merge_queue.h) keeps this O(n log n); stale candidates
 * (a side already merged into something else) are recognised on pop by their lengths. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/merge_queue.h"
#include "tokenizer/vocab.h"

typedef struct spm_symbol {
    uint32_t start, n;      /* bytes text[start .. start+n); n == 0 once merged away */
    int32_t prev, next;
} spm_symbol;

/* Candidates carry the merged length (check_a) and the merged piece's id (check_b). */
static void queue_pair(const sealm_tokenizer *t, const char *text, const spm_symbol *sym, sealm_merge_queue *h, int32_t left) {
    if (left < 0 || sym[left].next < 0) return;
    int32_t right = sym[left].next;
    uint32_t size = sym[left].n + sym[right].n;
    int32_t id = sealm_tok_lookup(t, text + sym[left].start, size);
    if (id >= 0) sealm_merge_push(h, (sealm_merge_cand){-t->scores[id], left, right, (int32_t)size, id});
}

/* One symbol per well-formed UTF-8 character; a byte that starts none is its own symbol. */
static size_t split_chars(const char *text, size_t len, spm_symbol *sym) {
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t c = sealm_tok_utf8_valid_len((const unsigned char *)text + i, len - i);
        if (c == 0) c = 1;
        sym[n] = (spm_symbol){(uint32_t)i, (uint32_t)c, (int32_t)n - 1, -1};
        if (n > 0) sym[n - 1].next = (int32_t)n;
        n++;
        i += c;
    }
    return n;
}

static bool emit_symbol(const sealm_tokenizer *t, const char *text, const spm_symbol *s, sealm_id_list *out) {
    int32_t id = sealm_tok_lookup(t, text + s->start, s->n);
    if (id >= 0) return sealm_tok_ids_push(out, id);
    for (uint32_t i = 0; i < s->n; i++) {
        int32_t b = t->byte_token[(uint8_t)text[s->start + i]];
        if (b >= 0 && !sealm_tok_ids_push(out, b)) return false;
    }
    return true;
}

bool sealm_spm_encode(const sealm_tokenizer *t, const char *text, size_t len, sealm_id_list *out) {
    if (len == 0) return true;
    if (len > (size_t)INT32_MAX / 4) return false;
    spm_symbol *sym = malloc(len * sizeof *sym);
    sealm_merge_queue heap = {malloc(3 * len * sizeof(sealm_merge_cand)), 0};
    if (!sym || !heap.items) {
        free(sym);
        free(heap.items);
        return false;
    }
    size_t n = split_chars(text, len, sym);
    for (size_t i = 0; i + 1 < n; i++) queue_pair(t, text, sym, &heap, (int32_t)i);

    while (heap.n > 0) {
        sealm_merge_cand p = sealm_merge_pop(&heap);
        spm_symbol *l = &sym[p.left], *r = &sym[p.right];
        if (l->n == 0 || r->n == 0 || l->next != p.right || l->n + r->n != (uint32_t)p.check_a) continue;
        l->n += r->n;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = p.left;
        r->n = 0;
        queue_pair(t, text, sym, &heap, l->prev);
        queue_pair(t, text, sym, &heap, p.left);
    }

    bool ok = true;
    for (int32_t i = 0; i >= 0 && ok; i = sym[i].next) ok = emit_symbol(t, text, &sym[i], out);
    free(sym);
    free(heap.items);
    return ok;
}
