/* libFuzzer target for the tokenizers: arbitrary bytes (invalid UTF-8, special-token text,
 * huge runs) through SentencePiece and byte-level BPE, with and without special-token
 * parsing; every id must be in the vocabulary and decoding must never fail.
 *
 * The vocabularies come from ../shared/tokenizer-tests (SEALM_SHARED_DIR at build time, or
 * the environment variable of that name at run time). The first input byte picks one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealm/gguf.h"
#include "sealm/tokenizer.h"

#ifndef SEALM_SHARED_DIR
#define SEALM_SHARED_DIR "../shared"
#endif

static const char *const VOCABS[] = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf",
                                     "ggml-vocab-deepseek-coder.gguf", "ggml-vocab-starcoder.gguf"};
enum { N_VOCABS = sizeof VOCABS / sizeof VOCABS[0] };
static sealm_tokenizer *tokenizers[N_VOCABS];

static void load_all(void) {
    const char *dir = getenv("SEALM_SHARED_DIR");
    if (!dir || !*dir) dir = SEALM_SHARED_DIR;
    for (int i = 0; i < N_VOCABS; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tokenizer-tests/%s", dir, VOCABS[i]);
        sealm_gguf *g = NULL;
        sealm_error err = {0};
        if (sealm_gguf_open_file(path, &g, &err) || sealm_tokenizer_from_gguf(g, &tokenizers[i], &err)) {
            fprintf(stderr, "fuzz_tokenize: %s: %s\n", path, err.message);
            abort();
        }
        sealm_gguf_close(g);   /* the tokenizer keeps its own copies */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tokenizers[0]) load_all();
    if (size < 1) return 0;
    const sealm_tokenizer *t = tokenizers[data[0] % N_VOCABS];
    const bool special = data[0] & 0x80;
    const char *text = (const char *)data + 1;
    const size_t len = size - 1;
    size_t cap = len + 8, n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids) return 0;
    sealm_error err = {0};
    sealm_status s = sealm_tokenize(t, text, len, special, special, ids, cap, &n, &err);
    if (s == SEALM_E_INVALID && n > cap) {
        int32_t *bigger = realloc(ids, n * sizeof *ids);
        if (!bigger) { free(ids); return 0; }
        ids = bigger;
        cap = n;
        s = sealm_tokenize(t, text, len, special, special, ids, cap, &n, &err);
    }
    if (s == SEALM_OK) {
        const int32_t n_vocab = sealm_tokenizer_n_vocab(t);
        sealm_detok_stream ds;
        sealm_detok_stream_init(&ds, t);
        char piece[64];
        for (size_t i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= n_vocab) abort();
            char buf[256];
            (void)sealm_token_to_bytes(t, ids[i], true, buf, sizeof buf);
            (void)sealm_detok_stream_push(&ds, ids[i], piece, sizeof piece);
        }
        (void)sealm_detok_stream_flush(&ds, piece, sizeof piece);
    }
    free(ids);
    return 0;
}
