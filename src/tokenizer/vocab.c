/* Loading a tokenizer from GGUF metadata (the tokenizer.ggml.* keys of ggml's
 * docs/gguf.md), the text → id hash map, and the simple accessors. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/vocab.h"

bool sealm_tok_ids_push(sealm_id_list *l, int32_t id) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        int32_t *ids = realloc(l->ids, cap * sizeof *ids);
        if (!ids) return false;
        l->ids = ids;
        l->cap = cap;
    }
    l->ids[l->n++] = id;
    return true;
}

/* ---- text → id map ---- */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

const char *sealm_tok_text(const sealm_tokenizer *t, int32_t id, size_t *len) {
    *len = t->text_len[id];
    return t->blob + t->text_off[id];
}

int32_t sealm_tok_lookup(const sealm_tokenizer *t, const char *text, size_t len) {
    const sealm_text_map *m = &t->text_map;
    size_t i = (size_t)hash_bytes(text, len) & m->mask;
    for (;; i = (i + 1) & m->mask) {
        int32_t id = m->slots[i];
        if (id < 0) return -1;
        if (t->text_len[id] == len && memcmp(t->blob + t->text_off[id], text, len) == 0) return id;
    }
}

/* Later duplicates replace earlier ones, as the reference loader's map assignment does. */
static sealm_status build_text_map(sealm_tokenizer *t, sealm_error *err) {
    size_t n_slots = 16;
    while (n_slots < (size_t)t->n_vocab * 2) n_slots *= 2;
    t->text_map.slots = malloc(n_slots * sizeof(int32_t));
    if (!t->text_map.slots) return sealm_error_set(err, SEALM_E_NOMEM, "tokenizer: out of memory for the token map");
    memset(t->text_map.slots, 0xFF, n_slots * sizeof(int32_t));
    t->text_map.mask = n_slots - 1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        size_t len;
        const char *text = sealm_tok_text(t, id, &len);
        size_t i = (size_t)hash_bytes(text, len) & t->text_map.mask;
        for (;; i = (i + 1) & t->text_map.mask) {
            int32_t other = t->text_map.slots[i];
            if (other < 0 || (t->text_len[other] == len && memcmp(t->blob + t->text_off[other], text, len) == 0)) {
                t->text_map.slots[i] = id;
                break;
            }
        }
    }
    return SEALM_OK;
}

/* ---- loading ---- */

static sealm_status load_texts(sealm_tokenizer *t, const sealm_gguf *g, sealm_error *err) {
    const char *key = "tokenizer.ggml.tokens";
    sealm_gguf_value_type et;
    uint64_t n;
    sealm_status st = sealm_gguf_get_arr(g, key, &et, &n);
    if (st == SEALM_E_NOT_FOUND)
        return sealm_error_set(err, SEALM_E_NOT_FOUND, "tokenizer: the model has no %s array; it cannot be tokenized", key);
    if (st != SEALM_OK || et != SEALM_GGUF_STRING)
        return sealm_error_set(err, SEALM_E_FORMAT, "tokenizer: %s must be an array of strings", key);
    if (n == 0 || n > (uint64_t)INT32_MAX)
        return sealm_error_set(err, SEALM_E_FORMAT, "tokenizer: %s has %llu entries (expected 1 .. 2^31-1)",
                               key, (unsigned long long)n);
    t->n_vocab = (int32_t)n;
    t->text_off = malloc(n * sizeof(uint32_t));
    t->text_len = malloc(n * sizeof(uint32_t));
    if (!t->text_off || !t->text_len) return sealm_error_set(err, SEALM_E_NOMEM, "tokenizer: out of memory for %llu tokens", (unsigned long long)n);

    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        sealm_gguf_str s;
        if (sealm_gguf_arr_str(g, key, i, &s) != SEALM_OK)
            return sealm_error_set(err, SEALM_E_FORMAT, "tokenizer: cannot read token %llu of %s", (unsigned long long)i, key);
        total += s.len + 1;
        if (total > UINT32_MAX)
            return sealm_error_set(err, SEALM_E_FORMAT, "tokenizer: token texts exceed 4 GiB in total");
        t->text_len[i] = (uint32_t)s.len;
    }
    t->blob = malloc(total);
    if (!t->blob) return sealm_error_set(err, SEALM_E_NOMEM, "tokenizer: out of memory for token texts");
    uint32_t off = 0;
    for (uint64_t i = 0; i < n; i++) {
        sealm_gguf_str s;
        (void)sealm_gguf_arr_str(g, key, i, &s);
        memcpy(t->blob + off, s.ptr, s.len);
        t->blob[off + s.len] = '\0';
        t->text_off[i] = off;
        off += (uint32_t)s.len + 1;
    }
    return SEALM_OK;
}

/* scores and token_type are optional (BPE files have no scores), but when present they
 * must describe every token. */
static sealm_status load_scores_and_types(sealm_tokenizer *t, const sealm_gguf *g, sealm_error *err) {
    size_t n = (size_t)t->n_vocab;
    t->scores = calloc(n, sizeof(float));
    t->types = malloc(n);
    int32_t *types = malloc(n * sizeof(int32_t));
    if (!t->scores || !t->types || !types) {
        free(types);
        return sealm_error_set(err, SEALM_E_NOMEM, "tokenizer: out of memory for token scores");
    }
    sealm_status st = SEALM_OK;
    sealm_gguf_value_type et;
    uint64_t len;
    if (sealm_gguf_get_arr(g, "tokenizer.ggml.scores", &et, &len) == SEALM_OK &&
        (len != n || sealm_gguf_arr_f32(g, "tokenizer.ggml.scores", t->scores, n) != SEALM_OK)) {
        st = sealm_error_set(err, SEALM_E_FORMAT, "tokenizer: tokenizer.ggml.scores has %llu numbers for %zu tokens",
                             (unsigned long long)len, n);
    }
    for (size_t i = 0; i < n; i++) types[i] = SEALM_TOKEN_NORMAL;
    if (st == SEALM_OK && sealm_gguf_get_arr(g, "tokenizer.ggml.token_type", &et, &len) == SEALM_OK &&
        (len != n || sealm_gguf_arr_i32(g, "tokenizer.ggml.token_type", types, n) != SEALM_OK)) {
        st = sealm_error_set(err, SEALM_E_FORMAT, "tokenizer: tokenizer.ggml.token_type has %llu integers for %zu tokens",
                             (unsigned long long)len, n);
    }
    for (size_t i = 0; i < n; i++)
        t->types[i] = (types[i] >= 0 && types[i] <= SEALM_TOKEN_BYTE) ? (uint8_t)types[i] : SEALM_TOKEN_UNDEFINED;
    free(types);
    return st;
}

/* An optional token id key: absent, -1 or 0xFFFFFFFF (what some converters write) mean
 * "none"; anything else must name a token. */
static sealm_status load_id(const sealm_tokenizer *t, const sealm_gguf *g, const char *key, int32_t *out, sealm_error *err) {
    int64_t v;
    *out = -1;
    sealm_status st = sealm_gguf_get_i64(g, key, &v);
    if (st == SEALM_E_NOT_FOUND) return SEALM_OK;
    if (st != SEALM_OK) return sealm_error_set(err, SEALM_E_FORMAT, "tokenizer: %s is not an integer", key);
    if (v == -1 || v == (int64_t)UINT32_MAX) return SEALM_OK;
    if (v < 0 || v >= t->n_vocab)
        return sealm_error_set(err, SEALM_E_FORMAT, "tokenizer: %s = %lld is outside the vocabulary (0 .. %d)",
                               key, (long long)v, t->n_vocab - 1);
    *out = (int32_t)v;
    return SEALM_OK;
}

static bool load_flag(const sealm_gguf *g, const char *key, bool dflt) {
    bool v;
    return sealm_gguf_get_bool(g, key, &v) == SEALM_OK ? v : dflt;
}

/* SentencePiece byte fallback pieces are written <0xNN> with upper-case hex. */
static void find_spm_byte_tokens(sealm_tokenizer *t) {
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
        int32_t id = sealm_tok_lookup(t, name, 6);
        if (id < 0) {
            char one = (char)b;     /* vocabularies without byte pieces: the byte itself, else <unk> */
            id = sealm_tok_lookup(t, &one, 1);
        }
        t->byte_token[b] = id >= 0 ? id : t->unk;
    }
}

/* Byte-level vocabularies may leave out bytes that never occur in UTF-8 text (0xC0, 0xF5..)
 * or that were absent from the training data; those stay -1 and are skipped when encoding. */
static void find_bpe_byte_tokens(sealm_tokenizer *t) {
    for (int b = 0; b < 256; b++) {
        char utf8[4];
        size_t n = sealm_tok_utf8_encode(sealm_bpe_byte_to_cp((uint8_t)b), utf8);
        t->byte_token[b] = sealm_tok_lookup(t, utf8, n);
    }
}

/* Texts of tokens that end a turn in the chat formats we know. */
static const char *const k_eog_texts[] = {
    "<|im_end|>", "<|eot_id|>", "<|end|>", "<|endoftext|>", "</s>", "<|end_of_text|>", "<end_of_turn>",
};

static sealm_status mark_eog(sealm_tokenizer *t, sealm_error *err) {
    t->eog = calloc((size_t)t->n_vocab, 1);
    if (!t->eog) return sealm_error_set(err, SEALM_E_NOMEM, "tokenizer: out of memory");
    if (t->eos >= 0) t->eog[t->eos] = 1;
    if (t->eot >= 0) t->eog[t->eot] = 1;
    for (size_t i = 0; i < sizeof k_eog_texts / sizeof k_eog_texts[0]; i++) {
        int32_t id = sealm_tok_lookup(t, k_eog_texts[i], strlen(k_eog_texts[i]));
        if (id >= 0 && (t->types[id] == SEALM_TOKEN_CONTROL || t->types[id] == SEALM_TOKEN_USER_DEFINED)) t->eog[id] = 1;
    }
    return SEALM_OK;
}

static sealm_status load_model_kind(sealm_tokenizer *t, const sealm_gguf *g, sealm_error *err) {
    sealm_gguf_str model;
    sealm_status st = sealm_gguf_get_str(g, "tokenizer.ggml.model", &model);
    if (st == SEALM_E_NOT_FOUND)
        return sealm_error_set(err, SEALM_E_NOT_FOUND, "tokenizer: the model has no tokenizer.ggml.model key; it carries no tokenizer");
    if (st != SEALM_OK) return sealm_error_set(err, SEALM_E_FORMAT, "tokenizer: tokenizer.ggml.model is not a string");
    if (model.len == 5 && memcmp(model.ptr, "llama", 5) == 0) {
        t->kind = SEALM_TOKENIZER_SPM;
    } else if (model.len == 4 && memcmp(model.ptr, "gpt2", 4) == 0) {
        t->kind = SEALM_TOKENIZER_BPE;
    } else {
        int n = model.len > 64 ? 64 : (int)model.len;
        return sealm_error_set(err, SEALM_E_UNSUPPORTED,
                               "tokenizer: model type \"%.*s\" is not supported (supported: \"llama\" SentencePiece, \"gpt2\" byte-level BPE)",
                               n, model.ptr);
    }
    return SEALM_OK;
}

static sealm_status load_special_ids(sealm_tokenizer *t, const sealm_gguf *g, sealm_error *err) {
    sealm_status st;
    if ((st = load_id(t, g, "tokenizer.ggml.bos_token_id", &t->bos, err)) != SEALM_OK) return st;
    if ((st = load_id(t, g, "tokenizer.ggml.eos_token_id", &t->eos, err)) != SEALM_OK) return st;
    if ((st = load_id(t, g, "tokenizer.ggml.eot_token_id", &t->eot, err)) != SEALM_OK) return st;
    if ((st = load_id(t, g, "tokenizer.ggml.unknown_token_id", &t->unk, err)) != SEALM_OK) return st;
    if ((st = load_id(t, g, "tokenizer.ggml.padding_token_id", &t->pad, err)) != SEALM_OK) return st;
    bool spm = t->kind == SEALM_TOKENIZER_SPM;
    t->add_bos = load_flag(g, "tokenizer.ggml.add_bos_token", spm) && t->bos >= 0;
    t->add_space_prefix = load_flag(g, "tokenizer.ggml.add_space_prefix", spm);
    return SEALM_OK;
}

static sealm_status load_kind_specific(sealm_tokenizer *t, const sealm_gguf *g, sealm_error *err) {
    if (t->kind == SEALM_TOKENIZER_SPM) {
        find_spm_byte_tokens(t);
        return SEALM_OK;
    }
    find_bpe_byte_tokens(t);
    sealm_status st = sealm_bpe_load_merges(t, g, err);
    if (st != SEALM_OK) return st;
    sealm_gguf_str pre = {"default", 7};
    if (sealm_gguf_get_str(g, "tokenizer.ggml.pre", &pre) != SEALM_OK) pre = (sealm_gguf_str){"default", 7};
    return sealm_pre_init(&t->pre, pre.ptr, (size_t)pre.len, err);
}

sealm_status sealm_tokenizer_from_gguf(const sealm_gguf *g, sealm_tokenizer **out, sealm_error *err) {
    if (!g || !out) return sealm_error_set(err, SEALM_E_INVALID, "sealm_tokenizer_from_gguf: NULL argument");
    *out = NULL;
    sealm_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return sealm_error_set(err, SEALM_E_NOMEM, "tokenizer: out of memory");
    sealm_status st = load_model_kind(t, g, err);
    if (st == SEALM_OK) st = load_texts(t, g, err);
    if (st == SEALM_OK) st = load_scores_and_types(t, g, err);
    if (st == SEALM_OK) st = build_text_map(t, err);
    if (st == SEALM_OK) st = load_special_ids(t, g, err);
    if (st == SEALM_OK) st = load_kind_specific(t, g, err);
    /* BPE models default to no BOS, except the families whose pre-tokenizer says so */
    if (st == SEALM_OK && t->kind == SEALM_TOKENIZER_BPE)
        t->add_bos = load_flag(g, "tokenizer.ggml.add_bos_token", t->pre.add_bos_default) && t->bos >= 0;
    if (st == SEALM_OK) st = sealm_special_init(t, err);
    if (st == SEALM_OK) st = sealm_detok_build_pieces(t, err);
    if (st == SEALM_OK) st = mark_eog(t, err);
    if (st != SEALM_OK) {
        sealm_tokenizer_free(t);
        return st;
    }
    *out = t;
    return SEALM_OK;
}

void sealm_tokenizer_free(sealm_tokenizer *t) {
    if (!t) return;
    free(t->blob);
    free(t->text_off);
    free(t->text_len);
    free(t->scores);
    free(t->types);
    free(t->piece_blob);
    free(t->piece_off);
    free(t->piece_len);
    free(t->text_map.slots);
    free(t->merges.slots);
    sealm_pre_free(&t->pre);
    sealm_special_free(&t->special);
    free(t->eog);
    free(t);
}

/* ---- accessors ---- */

sealm_tokenizer_kind sealm_tokenizer_kind_of(const sealm_tokenizer *t) { return t->kind; }
int32_t sealm_tokenizer_n_vocab(const sealm_tokenizer *t) { return t->n_vocab; }
int32_t sealm_tokenizer_bos(const sealm_tokenizer *t) { return t->bos; }
int32_t sealm_tokenizer_eos(const sealm_tokenizer *t) { return t->eos; }
bool sealm_tokenizer_add_bos(const sealm_tokenizer *t) { return t->add_bos; }

bool sealm_tokenizer_is_eog(const sealm_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab && t->eog[id];
}

int32_t sealm_tokenizer_find(const sealm_tokenizer *t, const char *text) {
    if (!text) return -1;
    return sealm_tok_lookup(t, text, strlen(text));
}

const char *sealm_tokenizer_token_text(const sealm_tokenizer *t, int32_t id) {
    if (id < 0 || id >= t->n_vocab) return NULL;
    return t->blob + t->text_off[id];
}
