/* Byte-level BPE (Radford et al. 2019, OpenAI's gpt-2 encoder.py): every byte of a word
 * starts as the token of its GPT-2 printable character, then the adjacent pair with the
 * lowest merge rank (leftmost on ties) is merged until no listed merge applies.
 * A binary heap of candidate pairs keeps this O(n log n) per word; stale candidates
 * (one side already merged away) are recognised on pop and dropped. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/merge_queue.h"
#include "tokenizer/vocab.h"

/* ---- GPT-2 byte ↔ character map ----
 * Printable bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68 bytes
 * (0..32, 127..160, 173) are moved, in byte order, to U+0100..U+0143. */
uint32_t sealm_bpe_byte_to_cp(uint8_t b) {
    if (b <= 32) return 256u + b;
    if (b >= 127 && b <= 160) return 256u + 33u + (uint32_t)(b - 127);
    if (b == 173) return 256u + 33u + 34u;
    return b;
}

int sealm_bpe_cp_to_byte(uint32_t cp) {
    if (cp < 256) {
        bool moved = cp <= 32 || (cp >= 127 && cp <= 160) || cp == 173;
        return moved ? -1 : (int)cp;
    }
    if (cp <= 256 + 32) return (int)(cp - 256);
    if (cp <= 256 + 33 + 33) return (int)(cp - 256 - 33 + 127);
    if (cp == 256 + 33 + 34) return 173;
    return -1;
}

/* ---- merge table ---- */

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static const sealm_merge_entry *merge_find(const sealm_merge_map *m, int32_t left, int32_t right) {
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    for (size_t i = (size_t)mix64(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->slots[i].key == key) return &m->slots[i];
        if (m->slots[i].key == UINT64_MAX) return NULL;
    }
}

/* The first listing of a pair wins (lowest rank). */
static void merge_insert(sealm_merge_map *m, int32_t left, int32_t right, int32_t rank, int32_t result) {
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    for (size_t i = (size_t)mix64(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->slots[i].key == key) return;
        if (m->slots[i].key == UINT64_MAX) {
            m->slots[i] = (sealm_merge_entry){key, rank, result};
            return;
        }
    }
}

/* Each merge is "left right"; tokens never hold a literal space (it is 'Ġ'), so the first
 * space after the first character separates the two. A merge naming texts that are not
 * tokens can never fire on token ids and is skipped. */
sealm_status sealm_bpe_load_merges(sealm_tokenizer *t, const sealm_gguf *g, sealm_error *err) {
    const char *key = "tokenizer.ggml.merges";
    sealm_gguf_value_type et;
    uint64_t n;
    sealm_status st = sealm_gguf_get_arr(g, key, &et, &n);
    if (st != SEALM_OK || et != SEALM_GGUF_STRING)
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "tokenizer: a \"gpt2\" tokenizer needs %s (an array of \"left right\" strings); the file has %s",
                               key, st == SEALM_E_NOT_FOUND ? "none" : "another type");
    if (n > (uint64_t)INT32_MAX) return sealm_error_set(err, SEALM_E_FORMAT, "tokenizer: %s has too many entries", key);
    size_t n_slots = 16;
    while (n_slots < n * 2) n_slots *= 2;
    t->merges.slots = malloc(n_slots * sizeof(sealm_merge_entry));
    if (!t->merges.slots) return sealm_error_set(err, SEALM_E_NOMEM, "tokenizer: out of memory for %llu merges", (unsigned long long)n);
    memset(t->merges.slots, 0xFF, n_slots * sizeof(sealm_merge_entry));
    t->merges.mask = n_slots - 1;

    char small[256];
    for (uint64_t i = 0; i < n; i++) {
        sealm_gguf_str s;
        if (sealm_gguf_arr_str(g, key, i, &s) != SEALM_OK)
            return sealm_error_set(err, SEALM_E_FORMAT, "tokenizer: cannot read merge %llu", (unsigned long long)i);
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
        if (!sp)
            return sealm_error_set(err, SEALM_E_FORMAT, "tokenizer: merge %llu has no space between its two parts", (unsigned long long)i);
        size_t left_len = (size_t)(sp - s.ptr), right_len = s.len - left_len - 1;
        int32_t left = sealm_tok_lookup(t, s.ptr, left_len);
        int32_t right = sealm_tok_lookup(t, sp + 1, right_len);
        if (left < 0 || right < 0 || left_len + right_len > sizeof small) continue;
        memcpy(small, s.ptr, left_len);
        memcpy(small + left_len, sp + 1, right_len);
        int32_t result = sealm_tok_lookup(t, small, left_len + right_len);
        if (result < 0) continue;
        merge_insert(&t->merges, left, right, (int32_t)i, result);
    }
    return SEALM_OK;
}

/* ---- merging one word ---- */

typedef struct bpe_symbol {
    int32_t id;
    int32_t prev, next;     /* neighbours in the word, -1 at the ends */
} bpe_symbol;

/* Candidates carry the ids the two symbols held when queued (check_a, check_b): a symbol
 * that has changed since makes the candidate stale. */
static void queue_pair(const sealm_tokenizer *t, const bpe_symbol *sym, sealm_merge_queue *h, int32_t left) {
    if (left < 0 || sym[left].next < 0) return;
    int32_t right = sym[left].next;
    const sealm_merge_entry *m = merge_find(&t->merges, sym[left].id, sym[right].id);
    if (m) sealm_merge_push(h, (sealm_merge_cand){(float)m->rank, left, right, sym[left].id, sym[right].id});
}

static bool pair_is_current(const bpe_symbol *sym, const sealm_merge_cand *p) {
    return sym[p->left].id == p->check_a && sym[p->left].next == p->right && sym[p->right].id == p->check_b &&
           sym[p->right].prev == p->left;
}

/* Llama 3 style vocabularies skip merging when the whole word is already a token. */
static int32_t whole_word_token(const sealm_tokenizer *t, const char *word, size_t len) {
    char small[256];
    char *mapped = len * 2 <= sizeof small ? small : malloc(len * 2);
    if (!mapped) return -1;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += sealm_tok_utf8_encode(sealm_bpe_byte_to_cp((uint8_t)word[i]), mapped + n);
    int32_t id = sealm_tok_lookup(t, mapped, n);
    if (mapped != small) free(mapped);
    return id;
}

bool sealm_bpe_encode_word(const sealm_tokenizer *t, const char *word, size_t len, sealm_id_list *out) {
    if (len == 0) return true;
    if (t->pre.ignore_merges) {
        int32_t id = whole_word_token(t, word, len);
        if (id >= 0) return sealm_tok_ids_push(out, id);
    }
    if (len > (size_t)INT32_MAX / 4) return false;

    /* At most len-1 initial pairs plus two per merge (len-1 merges). */
    enum { SMALL = 64 };
    bpe_symbol sym_small[SMALL];
    sealm_merge_cand pair_small[3 * SMALL];
    bpe_symbol *sym = sym_small;
    sealm_merge_queue heap = {pair_small, 0};
    void *block = NULL;
    if (len > SMALL) {
        block = malloc(len * sizeof(bpe_symbol) + 3 * len * sizeof(sealm_merge_cand));
        if (!block) return false;
        heap.items = block;
        sym = (bpe_symbol *)(heap.items + 3 * len);
    }

    /* A byte the vocabulary has no token for is dropped, as the reference BPE does when the
     * model defines no unknown token (mapping it to some other id would be worse: in
     * several vocabularies the "unknown" id is <|endoftext|>). */
    int32_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int32_t id = t->byte_token[(uint8_t)word[i]];
        if (id < 0) continue;
        sym[n] = (bpe_symbol){id, n - 1, -1};
        if (n > 0) sym[n - 1].next = n;
        n++;
    }
    for (int32_t i = 0; i + 1 < n; i++) queue_pair(t, sym, &heap, i);

    while (heap.n > 0) {
        sealm_merge_cand p = sealm_merge_pop(&heap);
        if (!pair_is_current(sym, &p)) continue;
        const sealm_merge_entry *m = merge_find(&t->merges, p.check_a, p.check_b);
        bpe_symbol *l = &sym[p.left], *r = &sym[p.right];
        l->id = m->result;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = p.left;
        r->id = -1;
        r->prev = r->next = -1;
        queue_pair(t, sym, &heap, l->prev);
        queue_pair(t, sym, &heap, p.left);
    }

    bool ok = true;
    for (int32_t i = n > 0 ? 0 : -1; i >= 0 && ok; i = sym[i].next) ok = sealm_tok_ids_push(out, sym[i].id);
    free(block);
    return ok;
}
