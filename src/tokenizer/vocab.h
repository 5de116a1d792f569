/* sealm tokenizer layer — private: the vocabulary a sealm_tokenizer holds, and the
 * internal steps (SentencePiece, BPE, pre-tokenizer, special-token split, UTF-8) that
 * sealm_tokenize chains together. Not installed; only src/tokenizer/ includes it. */
#ifndef SEALM_TOKENIZER_VOCAB_H
#define SEALM_TOKENIZER_VOCAB_H

#include "sealm/tokenizer.h"

/* Token types as written in tokenizer.ggml.token_type (SentencePiece's piece types). */
enum {
    SEALM_TOKEN_UNDEFINED = 0,
    SEALM_TOKEN_NORMAL = 1,
    SEALM_TOKEN_UNKNOWN = 2,
    SEALM_TOKEN_CONTROL = 3,
    SEALM_TOKEN_USER_DEFINED = 4,
    SEALM_TOKEN_UNUSED = 5,
    SEALM_TOKEN_BYTE = 6,
};

/* A growable list of token ids: what the encoding steps append to. */
typedef struct sealm_id_list {
    int32_t *ids;
    size_t n;
    size_t cap;
} sealm_id_list;

bool sealm_tok_ids_push(sealm_id_list *l, int32_t id);

/* Text → id: open addressing over the raw token texts, built once at load. */
typedef struct sealm_text_map {
    int32_t *slots;     /* token id, or -1 for an empty slot */
    size_t mask;        /* number of slots - 1 (a power of two) */
} sealm_text_map;

/* (left id, right id) → merge rank and the id of the merged token, for BPE. */
typedef struct sealm_merge_entry {
    uint64_t key;       /* (left << 32) | right; UINT64_MAX marks an empty slot */
    int32_t rank;
    int32_t result;
} sealm_merge_entry;

typedef struct sealm_merge_map {
    sealm_merge_entry *slots;
    size_t mask;
} sealm_merge_map;

/* The pre-tokenizer: an ordered list of regexes, each splitting the pieces left by the
 * previous one (matches and the gaps between them both become pieces). */
#define SEALM_PRE_MAX_REGEX 6
typedef struct sealm_pretokenizer {
    void *regex[SEALM_PRE_MAX_REGEX];   /* pcre2_code_8 *, kept opaque here */
    int n_regex;
    bool ignore_merges;                 /* Llama 3: a word already in the vocab is one token */
    bool add_bos_default;               /* Llama 3: BOS unless tokenizer.ggml.add_bos_token says no */
} sealm_pretokenizer;

/* Control / user-defined tokens that can appear literally in text, bucketed by first byte
 * and ordered longest first, so that a scan finds the longest match at each position. */
typedef struct sealm_special_index {
    int32_t *ids;           /* all candidates, grouped by first byte */
    uint32_t start[257];    /* ids[start[b] .. start[b+1]) begin with byte b */
} sealm_special_index;

struct sealm_tokenizer {
    sealm_tokenizer_kind kind;
    int32_t n_vocab;

    /* Raw texts, NUL-terminated, in one block: text of id = blob + text_off[id]. */
    char *blob;
    uint32_t *text_off;
    uint32_t *text_len;
    float *scores;          /* SPM merge priorities (zeros for BPE) */
    uint8_t *types;         /* SEALM_TOKEN_* */

    /* Decoded bytes of each token (▁ → space, <0xNN> → byte, GPT-2 byte map undone);
     * control and unknown tokens have none (their raw text is used when rendered). */
    char *piece_blob;
    uint32_t *piece_off;
    uint32_t *piece_len;

    sealm_text_map text_map;
    sealm_merge_map merges;
    sealm_pretokenizer pre;
    sealm_special_index special;
    uint8_t *eog;           /* 1 for end-of-generation ids */

    int32_t byte_token[256];    /* SPM: <0xNN> (else <unk>); BPE: the token of byte NN's GPT-2 character, or -1 */
    int32_t bos, eos, eot, unk, pad;
    bool add_bos;
    bool add_space_prefix;
};

/* ---- vocab.c ---- */
const char *sealm_tok_text(const sealm_tokenizer *t, int32_t id, size_t *len);
int32_t sealm_tok_lookup(const sealm_tokenizer *t, const char *text, size_t len);

/* ---- utf8.c ---- */
/* Length of the valid UTF-8 sequence at s[0..n) (1..4), or 0 when s does not start one
 * (bad lead byte, bad continuation, overlong, surrogate, > U+10FFFF, or cut short). */
size_t sealm_tok_utf8_valid_len(const unsigned char *s, size_t n);
/* true when s[0..n) (n < 4) could still grow into a valid sequence. */
bool sealm_tok_utf8_is_prefix(const unsigned char *s, size_t n);
/* Writes cp as UTF-8 into out (4 bytes room); returns the length. */
size_t sealm_tok_utf8_encode(uint32_t cp, char *out);

/* ---- bpe.c ---- */
/* GPT-2's reversible byte → printable character map. */
uint32_t sealm_bpe_byte_to_cp(uint8_t b);
/* Inverse: the byte of a mapped character, or -1. */
int sealm_bpe_cp_to_byte(uint32_t cp);
sealm_status sealm_bpe_load_merges(sealm_tokenizer *t, const sealm_gguf *g, sealm_error *err);
bool sealm_bpe_encode_word(const sealm_tokenizer *t, const char *word, size_t len, sealm_id_list *out);

/* ---- spm.c ---- */
/* Encodes one fragment of text whose spaces are already ▁ (see sealm_tokenize). */
bool sealm_spm_encode(const sealm_tokenizer *t, const char *text, size_t len, sealm_id_list *out);

/* ---- pretokenize.c ---- */
sealm_status sealm_pre_init(sealm_pretokenizer *p, const char *name, size_t name_len, sealm_error *err);
void sealm_pre_free(sealm_pretokenizer *p);
/* Splits text[0..len) into words and BPE-encodes each into out. */
bool sealm_pre_encode(const sealm_tokenizer *t, const char *text, size_t len, sealm_id_list *out);

/* ---- special.c ---- */
sealm_status sealm_special_init(sealm_tokenizer *t, sealm_error *err);
void sealm_special_free(sealm_special_index *s);
/* The longest special token starting at text[pos..len) that may be matched (control tokens
 * only when parse_special; user-defined always), or -1. *match_len gets its length. */
int32_t sealm_special_match(const sealm_tokenizer *t, const char *text, size_t len, size_t pos,
                            bool parse_special, size_t *match_len);

/* ---- detok.c ---- */
sealm_status sealm_detok_build_pieces(sealm_tokenizer *t, sealm_error *err);

#endif
