/* Tests of the tokenizer layer (everything but chat templates):
 * - every case of the shared tokenizer-tests vocabularies (ids produced by the original
 *   Hugging Face tokenizers) must come out exactly;
 * - the prompt tokens of every shared golden file (llama.cpp's) must come out exactly;
 * - SmolLM2 (BPE, pre "smollm"): round trips, special tokens, digit splitting;
 * - the pre-tokenizers "qwen2" and "llama-bpe" on the GPT-2 vocabulary against llama.cpp;
 * - small vocabularies built in memory pin down merge order, byte fallback, special-token
 *   parsing and the error paths;
 * - the streaming detokenizer holds split UTF-8 characters and replaces broken ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealm/gguf.h"
#include "sealm/tokenizer.h"
#include "support/gguf_writer.h"

/* ---- helpers ---- */

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

typedef struct loaded {
    sealm_gguf *g;
    sealm_tokenizer *t;
} loaded;

static loaded load_path(const char *path) {
    loaded l = {0};
    sealm_error err = {0};
    sealm_status st = sealm_gguf_open_file(path, &l.g, &err);
    if (st != SEALM_OK) fail_msg("cannot open %s: %s", path, err.message);
    st = sealm_tokenizer_from_gguf(l.g, &l.t, &err);
    if (st != SEALM_OK) fail_msg("cannot build the tokenizer of %s: %s", path, err.message);
    return l;
}

static void unload(loaded *l) {
    sealm_tokenizer_free(l->t);
    sealm_gguf_close(l->g);
}

/* Tokenizes into a malloc'd array (checks the too-small-buffer contract on the way). */
static int32_t *encode(const sealm_tokenizer *t, const char *text, size_t len, bool bos, bool special, size_t *n) {
    sealm_error err = {0};
    size_t need = 0;
    sealm_status st = sealm_tokenize(t, text, len, bos, special, NULL, 0, &need, &err);
    if (st == SEALM_OK) {
        *n = 0;
        return malloc(1);
    }
    assert_int_equal(st, SEALM_E_INVALID);
    int32_t *ids = malloc(need * sizeof(int32_t));
    assert_non_null(ids);
    st = sealm_tokenize(t, text, len, bos, special, ids, need, n, &err);
    assert_int_equal(st, SEALM_OK);
    assert_int_equal(*n, need);
    return ids;
}

/* Decodes ids with sealm_token_to_bytes into a malloc'd NUL-terminated string. */
static char *decode(const sealm_tokenizer *t, const int32_t *ids, size_t n, size_t *len) {
    size_t cap = 16, k = 0;
    char *s = malloc(cap);
    for (size_t i = 0; i < n; i++) {
        size_t need = sealm_token_to_bytes(t, ids[i], false, NULL, 0);
        while (k + need + 1 > cap) s = realloc(s, cap *= 2);
        assert_int_equal(sealm_token_to_bytes(t, ids[i], false, s + k, need), need);
        k += need;
    }
    s[k] = '\0';
    *len = k;
    return s;
}

/* Streams ids through the detokenizer into a malloc'd string. */
static char *stream_decode(const sealm_tokenizer *t, const int32_t *ids, size_t n) {
    sealm_detok_stream s;
    sealm_detok_stream_init(&s, t);
    size_t cap = 64, k = 0;
    char *out = malloc(cap);
    for (size_t i = 0; i <= n; i++) {
        for (;;) {
            size_t room = cap - k;
            size_t w = i < n ? sealm_detok_stream_push(&s, ids[i], out + k, room) : sealm_detok_stream_flush(&s, out + k, room);
            if (w + 1 <= room) {
                k += w;
                break;
            }
            out = realloc(out, cap *= 2);
        }
    }
    out[k] = '\0';
    return out;
}

static void format_ids(char *buf, size_t cap, const int32_t *ids, size_t n) {
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && k + 12 < cap; i++) k += (size_t)snprintf(buf + k, cap - k, " %d", ids[i]);
}

/* ---- the shared tokenizer-tests vocabularies ---- */

/* Cases are separated by "\n__ggml_vocab_test__\n" (each case is followed by one, so the
 * newlines around the marker belong to it); the .out file has one line of ids per case. */
static int check_vocab_file(const char *name, size_t *n_cases) {
    char path[1024], inp_path[1100], out_path[1100];
    snprintf(path, sizeof path, "%s/tokenizer-tests/ggml-vocab-%s.gguf", SEALM_SHARED_DIR, name);
    snprintf(inp_path, sizeof inp_path, "%s.inp", path);
    snprintf(out_path, sizeof out_path, "%s.out", path);
    size_t inp_len, out_len;
    char *inp = read_file(inp_path, &inp_len);
    char *outs = read_file(out_path, &out_len);
    if (!inp || !outs) fail_msg("missing %s or %s", inp_path, out_path);
    loaded l = load_path(path);

    static const char sep[] = "\n__ggml_vocab_test__\n";
    const size_t sep_len = sizeof sep - 1;
    char *text = inp, *line = outs;
    int passed = 0;
    size_t cases = 0;
    while (text < inp + inp_len) {
        char *end = strstr(text, sep);
        assert_non_null(end);
        char *eol = strchr(line, '\n');
        assert_non_null(eol);
        *eol = '\0';

        int32_t want[512];
        size_t n_want = 0;
        for (char *p = line, *q; n_want < 512; p = q) {
            long v = strtol(p, &q, 10);
            if (q == p) break;
            want[n_want++] = (int32_t)v;
        }
        size_t n_got;
        size_t len = (size_t)(end - text);
        int32_t *got = encode(l.t, text, len, false, false, &n_got);
        if (n_got == n_want && memcmp(got, want, n_got * sizeof(int32_t)) == 0) {
            passed++;
        } else {
            char a[2048], b[2048];
            format_ids(a, sizeof a, want, n_want);
            format_ids(b, sizeof b, got, n_got);
            print_message("%s case %zu (%zu bytes): want%s\n  got%s\n", name, cases, len, a, b);
        }
        /* Byte-level BPE decodes back to exactly the input; SentencePiece also adds the
         * leading space it inserted. */
        size_t dec_len;
        char *dec = decode(l.t, got, n_got, &dec_len);
        if (sealm_tokenizer_kind_of(l.t) == SEALM_TOKENIZER_BPE) {
            assert_int_equal(dec_len, len);
            assert_memory_equal(dec, text, len);
        } else if (len > 0) {
            assert_int_equal(dec_len, len + 1);
            assert_int_equal(dec[0], ' ');
            assert_memory_equal(dec + 1, text, len);
        }
        char *streamed = stream_decode(l.t, got, n_got);
        /* The stream drops SentencePiece's inserted space, so it gives the input back. */
        assert_int_equal(strlen(streamed), len);
        assert_memory_equal(streamed, text, len);
        free(streamed);
        free(dec);
        free(got);
        cases++;
        text = end + sep_len;
        line = eol + 1;
    }
    print_message("tokenizer-tests %-16s %d/%zu cases exact\n", name, passed, cases);
    unload(&l);
    free(inp);
    free(outs);
    *n_cases = cases;
    return passed;
}

static void test_vocab(const char *name) {
    size_t cases = 0;
    int passed = check_vocab_file(name, &cases);
    assert_true(cases > 40);
    assert_int_equal((size_t)passed, cases);
}

static void test_vocab_llama_spm(void **state) { (void)state; test_vocab("llama-spm"); }
static void test_vocab_phi3(void **state) { (void)state; test_vocab("phi-3"); }
static void test_vocab_gpt2(void **state) { (void)state; test_vocab("gpt-2"); }
static void test_vocab_starcoder(void **state) { (void)state; test_vocab("starcoder"); }
static void test_vocab_deepseek_coder(void **state) { (void)state; test_vocab("deepseek-coder"); }

/* ---- golden prompt tokens (llama.cpp) ---- */

static void check_golden(const char *json_name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/%s", SEALM_SHARED_DIR, json_name);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) fail_msg("cannot parse %s: %s", path, jerr.text);
    const char *model = json_string_value(json_object_get(root, "model"));
    assert_non_null(model);
    char model_path[1024];
    snprintf(model_path, sizeof model_path, "%s/models/%s", SEALM_SHARED_DIR, model);
    FILE *f = fopen(model_path, "rb");
    if (!f) snprintf(model_path, sizeof model_path, "%s/models/synth/%s", SEALM_SHARED_DIR, model);
    else fclose(f);
    loaded l = load_path(model_path);
    bool add_bos = json_is_true(json_object_get(root, "add_bos"));
    assert_int_equal(sealm_tokenizer_add_bos(l.t), add_bos);
    assert_int_equal(sealm_tokenizer_n_vocab(l.t), json_integer_value(json_object_get(root, "n_vocab")));

    json_t *cases = json_object_get(root, "cases");
    size_t i, passed = 0;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *prompt = json_string_value(json_object_get(c, "prompt"));
        json_t *tokens = json_object_get(c, "tokens");
        size_t n;
        int32_t *ids = encode(l.t, prompt, strlen(prompt), add_bos, false, &n);
        bool same = n == json_array_size(tokens);
        for (size_t k = 0; same && k < n; k++) same = ids[k] == json_integer_value(json_array_get(tokens, k));
        if (same) passed++;
        else print_message("%s case %zu differs\n", json_name, i);
        free(ids);
    }
    print_message("golden %-28s %zu/%zu prompts exact\n", json_name, passed, json_array_size(cases));
    assert_int_equal(passed, json_array_size(cases));
    unload(&l);
    json_decref(root);
}

/* Every golden file of the shared folder, whatever models it holds. */
static void test_golden_prompts(void **state) {
    (void)state;
    char dir_path[1024];
    snprintf(dir_path, sizeof dir_path, "%s/golden", SEALM_SHARED_DIR);
    DIR *dir = opendir(dir_path);
    if (!dir) fail_msg("cannot list %s", dir_path);
    int checked = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 5, ".json") != 0) continue;
        check_golden(e->d_name);
        checked++;
    }
    closedir(dir);
    assert_true(checked >= 3);
}

/* ---- SmolLM2 (byte-level BPE, pre "smollm") ---- */

static const char *models_dir(void) {
    const char *env = getenv("SEALM_MODELS_DIR");
    return env && *env ? env : SEALM_MODELS_DIR;
}

static void test_smollm2(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", models_dir());
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("SmolLM2 model missing at %s: run the project's setup (it installs the default model), "
                     "or point SEALM_MODELS_DIR at a folder holding SmolLM2-135M-Instruct.Q4_1.gguf", path);
    fclose(f);
    loaded l = load_path(path);
    const sealm_tokenizer *t = l.t;
    assert_int_equal(sealm_tokenizer_kind_of(t), SEALM_TOKENIZER_BPE);
    assert_false(sealm_tokenizer_add_bos(t));
    int32_t im_start = sealm_tokenizer_find(t, "<|im_start|>");
    int32_t im_end = sealm_tokenizer_find(t, "<|im_end|>");
    assert_true(im_start >= 0 && im_end >= 0);
    assert_true(sealm_tokenizer_is_eog(t, im_end));
    assert_true(sealm_tokenizer_is_eog(t, sealm_tokenizer_eos(t)));
    assert_true(sealm_tokenizer_is_eog(t, sealm_tokenizer_find(t, "<|endoftext|>")));
    assert_false(sealm_tokenizer_is_eog(t, im_start));
    assert_false(sealm_tokenizer_is_eog(t, sealm_tokenizer_find(t, "Ġthe")));

    /* Special tokens: one id only when parsed; plain text otherwise (and then it cannot
     * contain the special id at all). */
    size_t n;
    const char *chat = "<|im_start|>user\nHi<|im_end|>\n";
    int32_t *ids = encode(t, chat, strlen(chat), false, true, &n);
    assert_true(n >= 5);
    assert_int_equal(ids[0], im_start);
    assert_int_equal(ids[1], sealm_tokenizer_find(t, "user"));
    assert_int_equal(ids[2], sealm_tokenizer_find(t, "Ċ"));
    assert_int_equal(ids[3], sealm_tokenizer_find(t, "Hi"));
    assert_int_equal(ids[4], im_end);
    free(ids);
    ids = encode(t, "<|im_start|>", 12, false, true, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], im_start);
    free(ids);
    ids = encode(t, "<|im_start|>", 12, false, false, &n);
    assert_true(n > 1);
    for (size_t i = 0; i < n; i++) assert_true(ids[i] != im_start);
    free(ids);

    /* Digits are split one by one before the GPT-2 regex, so " 2024" is Ġ 2 0 2 4. */
    ids = encode(t, " 2024", 5, false, false, &n);
    assert_int_equal(n, 5);
    assert_int_equal(ids[0], sealm_tokenizer_find(t, "Ġ"));
    assert_int_equal(ids[1], sealm_tokenizer_find(t, "2"));
    assert_int_equal(ids[2], sealm_tokenizer_find(t, "0"));
    free(ids);
    /* Whole common words are single tokens, with the space folded in. */
    ids = encode(t, "Hello world", 11, false, false, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], sealm_tokenizer_find(t, "Hello"));
    assert_int_equal(ids[1], sealm_tokenizer_find(t, "Ġworld"));
    free(ids);

    static const char *const texts[] = {
        "Hello, world! How are you today?",
        "emoji 🙂👍🏽 and 👨‍👩‍👧 family",
        "中文测试：你好，世界。日本語のテキスト、한국어",
        "combining: e\xCC\x81 a\xCC\x8A n\xCC\x83 — “quotes” ‘single’ …",
        "numbers 3.14159 1,000,000 -42 0x1F 1e-9",
        "def f(x):\n\treturn x ** 2  # comment\n\n\n    spaces   here",
        "  leading and trailing  \n",
        "mixed\r\nline\rendings",
        "cut \xE2\x96 sequence and a stray \x80 continuation",
        "<|im_start|> plain text with <|im_end|> markers",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t len = strlen(texts[i]), dec_len;
        ids = encode(t, texts[i], len, false, false, &n);
        char *dec = decode(t, ids, n, &dec_len);
        assert_int_equal(dec_len, len);
        assert_memory_equal(dec, texts[i], len);
        free(dec);
        free(ids);
    }
    /* SmolLM2's vocabulary has no token for bytes that never occur in UTF-8 (0xFE, 0xFF):
     * they are dropped, never mapped to another id; the rest of the text survives. */
    const char *bad = "a\xFF\xFE b";
    size_t dec_len;
    ids = encode(t, bad, strlen(bad), false, false, &n);
    char *dec = decode(t, ids, n, &dec_len);
    assert_int_equal(dec_len, 3);
    assert_memory_equal(dec, "a b", 3);
    free(dec);
    free(ids);
    unload(&l);
}

/* SmolLM2 against the reference implementation's tokenizer: 34 varied texts (numbers,
 * code, whitespace runs, CJK, emoji and ZWJ sequences, contractions, chat-marker text),
 * tokenized by llama.cpp (tests/tokenizer/data/smollm2_reference.json says how). */
static void test_smollm2_reference(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", models_dir());
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("SmolLM2 model missing at %s: run the project's setup", path);
    fclose(f);
    loaded l = load_path(path);
    json_error_t jerr;
    json_t *root = json_load_file(SEALM_SOURCE_DIR "/tests/tokenizer/data/smollm2_reference.json", 0, &jerr);
    if (!root) fail_msg("smollm2_reference.json: %s", jerr.text);
    json_t *cases = json_object_get(root, "cases");
    size_t i, exact = 0;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *text = json_string_value(json_object_get(c, "text"));
        json_t *want = json_object_get(c, "ids");
        size_t n;
        int32_t *ids = encode(l.t, text, strlen(text), false, false, &n);
        bool same = n == json_array_size(want);
        for (size_t k = 0; same && k < n; k++) same = ids[k] == json_integer_value(json_array_get(want, k));
        if (!same) print_error("SmolLM2 reference case %zu differs\n", i);
        exact += same;
        free(ids);
    }
    printf("tokenizer SmolLM2 (smollm) vs reference: %zu/%zu cases exact\n", exact, json_array_size(cases));
    assert_int_equal(exact, json_array_size(cases));
    assert_true(json_array_size(cases) >= 30);
    json_decref(root);
    unload(&l);
}

/* ---- pre-tokenizers qwen2 and llama-bpe on the GPT-2 vocabulary (llama.cpp) ---- */

/* End of the key/value entry that starts at pos, or 0 if it runs past len. */
static size_t kv_entry_end(const uint8_t *img, size_t len, size_t pos) {
    static const size_t scalar_size[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    uint64_t klen, n = 1;
    uint32_t type, elem;
    if (pos + 8 > len) return 0;
    memcpy(&klen, img + pos, 8);
    if (klen > len - pos - 8 || pos + 8 + klen + 4 > len) return 0;
    pos += 8 + klen;
    memcpy(&type, img + pos, 4);
    pos += 4;
    elem = type;
    if (type == SEALM_GGUF_ARRAY) {
        if (pos + 12 > len) return 0;
        memcpy(&elem, img + pos, 4);
        memcpy(&n, img + pos + 4, 8);
        pos += 12;
    }
    if (elem > 12 || elem == SEALM_GGUF_ARRAY) return 0;
    for (uint64_t i = 0; i < n; i++) {
        if (elem == SEALM_GGUF_STRING) {
            uint64_t slen;
            if (pos + 8 > len) return 0;
            memcpy(&slen, img + pos, 8);
            if (slen > len - pos - 8) return 0;
            pos += 8 + slen;
        } else {
            pos += scalar_size[elem];
        }
        if (pos > len) return 0;
    }
    return pos;
}

/* Copies a tensor-less GGUF image into w, every key/value entry byte for byte except
 * `key`, whose string value becomes `value`. (With tensors, the data offsets would move
 * with the section's length; the vocabulary files have none.) Returns true when the key
 * was found (as a string). */
static bool copy_gguf_replacing_str(const uint8_t *img, size_t len, const char *key, const char *value, gguf_writer *w) {
    size_t start, end;
    assert_true(gguf_kv_section(img, len, &start, &end));
    uint32_t version;
    uint64_t n_tensors, n_kv;
    memcpy(&version, img + 4, 4);
    memcpy(&n_tensors, img + 8, 8);
    memcpy(&n_kv, img + 16, 8);
    assert_int_equal(n_tensors, 0);
    w_header(w, version, n_tensors, n_kv);
    bool replaced = false;
    size_t pos = start;
    for (uint64_t k = 0; k < n_kv; k++) {
        size_t next = kv_entry_end(img, len, pos);
        assert_true(next > pos);
        uint64_t klen;
        uint32_t type;
        memcpy(&klen, img + pos, 8);
        memcpy(&type, img + pos + 8 + klen, 4);
        if (klen == strlen(key) && memcmp(img + pos + 8, key, klen) == 0 && type == SEALM_GGUF_STRING) {
            w_kv_str(w, key, value);
            replaced = true;
        } else {
            w_bytes(w, img + pos, next - pos);
        }
        pos = next;
    }
    /* Both walkers must agree on where the section ends. */
    assert_int_equal(pos, end);
    w_bytes(w, img + end, len - end);
    return replaced;
}

/* Every case of tests/tokenizer/data/bpe_pre_reference.json for one pre-tokenizer: the
 * shared GPT-2 vocabulary with tokenizer.ggml.pre replaced, tokenized by llama.cpp (the
 * file says how). Returns the number of exact cases; *n_cases gets the count. */
static size_t check_pre_reference(json_t *cases, const char *pre, size_t *n_cases) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizer-tests/ggml-vocab-gpt-2.gguf", SEALM_SHARED_DIR);
    size_t len;
    char *img = read_file(path, &len);
    if (!img) fail_msg("missing %s", path);
    gguf_writer w = {0};
    assert_true(copy_gguf_replacing_str((const uint8_t *)img, len, "tokenizer.ggml.pre", pre, &w));
    free(img);

    sealm_error err = {0};
    sealm_gguf *g = NULL;
    sealm_tokenizer *t = NULL;
    if (sealm_gguf_open_memory(w.buf, w.len, &g, &err) != SEALM_OK) fail_msg("patched vocab (%s): %s", pre, err.message);
    sealm_gguf_str got_pre;
    assert_int_equal(sealm_gguf_get_str(g, "tokenizer.ggml.pre", &got_pre), SEALM_OK);
    assert_int_equal(got_pre.len, strlen(pre));
    assert_memory_equal(got_pre.ptr, pre, got_pre.len);
    if (sealm_tokenizer_from_gguf(g, &t, &err) != SEALM_OK) fail_msg("tokenizer (%s): %s", pre, err.message);

    size_t i, exact = 0;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *text = json_string_value(json_object_get(c, "text"));
        json_t *want = json_object_get(c, "ids");
        assert_non_null(text);
        assert_true(json_is_array(want));
        size_t n, text_len = strlen(text);
        int32_t *ids = encode(t, text, text_len, false, false, &n);
        bool same = n == json_array_size(want);
        for (size_t k = 0; same && k < n; k++) same = ids[k] == json_integer_value(json_array_get(want, k));
        if (same) {
            exact++;
        } else {
            char a[2048], b[2048];
            size_t n_want = json_array_size(want);
            int32_t *want_ids = malloc((n_want + 1) * sizeof *want_ids);
            assert_non_null(want_ids);
            for (size_t k = 0; k < n_want; k++) want_ids[k] = (int32_t)json_integer_value(json_array_get(want, k));
            format_ids(a, sizeof a, want_ids, n_want);
            format_ids(b, sizeof b, ids, n);
            print_error("%s reference case %zu differs: want%s\n  got%s\n", pre, i, a, b);
            free(want_ids);
        }
        /* Byte-level BPE gives back exactly the input, whatever the split. */
        size_t dec_len;
        char *dec = decode(t, ids, n, &dec_len);
        assert_int_equal(dec_len, text_len);
        assert_memory_equal(dec, text, text_len);
        free(dec);
        free(ids);
    }
    printf("tokenizer %s (gpt-2 vocab) vs reference: %zu/%zu cases exact\n", pre, exact, json_array_size(cases));
    sealm_tokenizer_free(t);
    sealm_gguf_close(g);
    w_free(&w);
    *n_cases = json_array_size(cases);
    return exact;
}

static void test_bpe_pre_reference(void **state) {
    (void)state;
    json_error_t jerr;
    json_t *root = json_load_file(SEALM_SOURCE_DIR "/tests/tokenizer/data/bpe_pre_reference.json", 0, &jerr);
    if (!root) fail_msg("bpe_pre_reference.json: %s", jerr.text);
    json_t *pres = json_object_get(root, "pre");
    static const char *const names[] = {"qwen2", "llama-bpe"};
    size_t exact[2], cases[2];
    for (size_t p = 0; p < 2; p++) {
        json_t *list = json_object_get(pres, names[p]);
        if (!json_is_array(list)) fail_msg("bpe_pre_reference.json has no cases for \"%s\"", names[p]);
        exact[p] = check_pre_reference(list, names[p], &cases[p]);
    }
    for (size_t p = 0; p < 2; p++) {
        assert_true(cases[p] >= 40);
        assert_int_equal(exact[p], cases[p]);
    }
    json_decref(root);
}

/* ---- small vocabularies built in memory ---- */

typedef struct gbuf {
    uint8_t *p;
    size_t n, cap;
} gbuf;

static void put(gbuf *b, const void *d, size_t n) {
    while (b->n + n > b->cap) b->p = realloc(b->p, b->cap = b->cap ? b->cap * 2 : 1024);
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_u32(gbuf *b, uint32_t v) { put(b, &v, 4); }  /* tests run on little-endian hosts */
static void put_u64(gbuf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(gbuf *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void kv_str(gbuf *b, const char *key, const char *v) {
    put_str(b, key);
    put_u32(b, SEALM_GGUF_STRING);
    put_str(b, v);
}
static void kv_u32(gbuf *b, const char *key, uint32_t v) {
    put_str(b, key);
    put_u32(b, SEALM_GGUF_UINT32);
    put_u32(b, v);
}
static void kv_str_arr(gbuf *b, const char *key, const char *const *v, size_t n) {
    put_str(b, key);
    put_u32(b, SEALM_GGUF_ARRAY);
    put_u32(b, SEALM_GGUF_STRING);
    put_u64(b, n);
    for (size_t i = 0; i < n; i++) put_str(b, v[i]);
}
static void kv_f32_arr(gbuf *b, const char *key, const float *v, size_t n) {
    put_str(b, key);
    put_u32(b, SEALM_GGUF_ARRAY);
    put_u32(b, SEALM_GGUF_FLOAT32);
    put_u64(b, n);
    put(b, v, n * 4);
}
static void kv_i32_arr(gbuf *b, const char *key, const int32_t *v, size_t n) {
    put_str(b, key);
    put_u32(b, SEALM_GGUF_ARRAY);
    put_u32(b, SEALM_GGUF_INT32);
    put_u64(b, n);
    put(b, v, n * 4);
}
static void header(gbuf *b, uint64_t n_kv) {
    put(b, "GGUF", 4);
    put_u32(b, 3);
    put_u64(b, 0);
    put_u64(b, n_kv);
}
static void finish(gbuf *b) {
    static const uint8_t zeros[32] = {0};
    put(b, zeros, (32 - b->n % 32) % 32);
}

/* A SentencePiece vocabulary where the merge order is visible in the result. */
static const char *const k_spm_tokens[] = {
    "<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", "c", "ab", "bc", "\342\226\201a", "<0x7A>", "<|user|>",
};

static sealm_status build_spm(gbuf *b, float bc_score, sealm_gguf **g, sealm_tokenizer **t, sealm_error *err) {
    size_t n = sizeof k_spm_tokens / sizeof k_spm_tokens[0];
    float scores[12] = {0, 0, 0, -3, -4, -4, -4, -1, bc_score, -5, 0, 0};
    int32_t types[12] = {2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 6, 3};
    header(b, 7);
    kv_str(b, "tokenizer.ggml.model", "llama");
    kv_str_arr(b, "tokenizer.ggml.tokens", k_spm_tokens, n);
    kv_f32_arr(b, "tokenizer.ggml.scores", scores, n);
    kv_i32_arr(b, "tokenizer.ggml.token_type", types, n);
    kv_u32(b, "tokenizer.ggml.bos_token_id", 1);
    kv_u32(b, "tokenizer.ggml.eos_token_id", 2);
    kv_u32(b, "tokenizer.ggml.unknown_token_id", 0);
    finish(b);
    sealm_status st = sealm_gguf_open_memory(b->p, b->n, g, err);
    if (st != SEALM_OK) return st;
    return sealm_tokenizer_from_gguf(*g, t, err);
}

static void expect_ids(const sealm_tokenizer *t, const char *text, bool bos, bool special, const int32_t *want, size_t n_want) {
    size_t n;
    int32_t *ids = encode(t, text, strlen(text), bos, special, &n);
    char a[512], b[512];
    format_ids(a, sizeof a, want, n_want);
    format_ids(b, sizeof b, ids, n);
    bool same = n == n_want;
    for (size_t i = 0; same && i < n; i++) same = ids[i] == want[i];
    if (!same) fail_msg("\"%s\": want%s got%s", text, a, b);
    free(ids);
}

static void test_spm_merge_order(void **state) {
    (void)state;
    sealm_error err = {0};
    gbuf b = {0};
    sealm_gguf *g = NULL;
    sealm_tokenizer *t = NULL;
    /* "ab" and "bc" tie at -1: the leftmost pair merges first. */
    assert_int_equal(build_spm(&b, -1.0f, &g, &t, &err), SEALM_OK);
    assert_int_equal(sealm_tokenizer_kind_of(t), SEALM_TOKENIZER_SPM);
    assert_true(sealm_tokenizer_add_bos(t));
    expect_ids(t, "abc", false, false, (const int32_t[]){3, 7, 6}, 3);
    expect_ids(t, "abc", true, false, (const int32_t[]){1, 3, 7, 6}, 4);
    /* Unknown characters fall back to bytes: 'z' has <0x7A>. */
    expect_ids(t, "az", false, false, (const int32_t[]){9, 10}, 2);
    /* Control tokens only with parse_special; a ▁ is added after them. */
    expect_ids(t, "<|user|>ab", false, true, (const int32_t[]){11, 3, 7}, 3);
    expect_ids(t, "", true, false, (const int32_t[]){1}, 1);
    expect_ids(t, "", false, false, NULL, 0);
    /* Decoding: ▁ becomes a space, control tokens are empty unless rendered. */
    char buf[16];
    assert_int_equal(sealm_token_to_bytes(t, 9, false, buf, sizeof buf), 2);
    assert_memory_equal(buf, " a", 2);
    assert_int_equal(sealm_token_to_bytes(t, 10, false, buf, sizeof buf), 1);
    assert_int_equal(buf[0], 'z');
    assert_int_equal(sealm_token_to_bytes(t, 1, false, buf, sizeof buf), 0);
    assert_int_equal(sealm_token_to_bytes(t, 1, true, buf, sizeof buf), 3);
    assert_memory_equal(buf, "<s>", 3);
    assert_int_equal(sealm_token_to_bytes(t, 99, true, buf, sizeof buf), 0);
    assert_true(sealm_tokenizer_is_eog(t, 2));
    assert_false(sealm_tokenizer_is_eog(t, 1));
    assert_string_equal(sealm_tokenizer_token_text(t, 7), "ab");
    assert_null(sealm_tokenizer_token_text(t, 12));

    /* The caller's buffer is left alone when too small, and the needed size is reported. */
    int32_t out[2] = {-7, -7};
    size_t n = 0;
    assert_int_equal(sealm_tokenize(t, "abc", 3, false, false, out, 2, &n, &err), SEALM_E_INVALID);
    assert_int_equal(n, 3);
    assert_int_equal(out[0], -7);
    sealm_tokenizer_free(t);
    sealm_gguf_close(g);
    free(b.p);

    /* A higher score wins regardless of position: "bc" first, then "▁a". */
    b = (gbuf){0};
    assert_int_equal(build_spm(&b, -0.5f, &g, &t, &err), SEALM_OK);
    expect_ids(t, "abc", false, false, (const int32_t[]){9, 8}, 2);
    sealm_tokenizer_free(t);
    sealm_gguf_close(g);
    free(b.p);
}

/* GPT-2's byte → character map, written out independently of the library. */
static void gpt2_byte_text(int byte, char out[3]) {
    int cp = byte;
    if (!((byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174)) {
        int k = 0;
        for (int b = 0; b < byte; b++)
            if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)) k++;
        cp = 256 + k;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = 0;
    }
}

static sealm_status build_bpe(gbuf *b, const char *pre, const char *model, const char *const *merges, size_t n_merges,
                              sealm_gguf **g, sealm_tokenizer **t, sealm_error *err) {
    static char byte_text[256][3];
    const char *tokens[262];
    for (int i = 0; i < 256; i++) {
        gpt2_byte_text(i, byte_text[i]);
        tokens[i] = byte_text[i];
    }
    tokens[256] = "ab";
    tokens[257] = "bc";
    tokens[258] = "abc";
    tokens[259] = "<|endoftext|>";
    tokens[260] = "<|im_end|>";
    tokens[261] = "<extra>";
    int32_t types[262];
    for (int i = 0; i < 262; i++) types[i] = 1;
    types[259] = types[260] = 3;
    types[261] = 4;
    header(b, 6);
    kv_str(b, "tokenizer.ggml.model", model);
    kv_str(b, "tokenizer.ggml.pre", pre);
    kv_str_arr(b, "tokenizer.ggml.tokens", tokens, 262);
    kv_i32_arr(b, "tokenizer.ggml.token_type", types, 262);
    kv_str_arr(b, "tokenizer.ggml.merges", merges, n_merges);
    kv_u32(b, "tokenizer.ggml.eos_token_id", 259);
    finish(b);
    sealm_status st = sealm_gguf_open_memory(b->p, b->n, g, err);
    if (st != SEALM_OK) return st;
    return sealm_tokenizer_from_gguf(*g, t, err);
}

static void test_bpe_merges_and_errors(void **state) {
    (void)state;
    sealm_error err = {0};
    gbuf b = {0};
    sealm_gguf *g = NULL;
    sealm_tokenizer *t = NULL;
    /* "b c" ranks before "a b", so "abc" becomes a + bc; "ab c" is never listed. */
    static const char *const merges[] = {"b c", "a b"};
    assert_int_equal(build_bpe(&b, "gpt-2", "gpt2", merges, 2, &g, &t, &err), SEALM_OK);
    assert_false(sealm_tokenizer_add_bos(t));
    expect_ids(t, "abc", false, false, (const int32_t[]){'a', 257}, 2);
    expect_ids(t, "abab", false, false, (const int32_t[]){256, 256}, 2);
    /* User-defined tokens are always matched; control tokens only when parsed. */
    expect_ids(t, "<extra>ab", false, false, (const int32_t[]){261, 256}, 2);
    expect_ids(t, "<|im_end|>", false, true, (const int32_t[]){260}, 1);
    assert_true(sealm_tokenizer_is_eog(t, 259));
    assert_true(sealm_tokenizer_is_eog(t, 260));
    assert_false(sealm_tokenizer_is_eog(t, 261));
    assert_int_equal(sealm_tokenizer_bos(t), -1);
    sealm_tokenizer_free(t);
    sealm_gguf_close(g);
    free(b.p);

    /* A pre-tokenizer we do not know is refused by name. */
    b = (gbuf){0};
    assert_int_equal(build_bpe(&b, "nonesuch-pre", "gpt2", merges, 2, &g, &t, &err), SEALM_E_UNSUPPORTED);
    assert_non_null(strstr(err.message, "nonesuch-pre"));
    assert_null(t);
    sealm_gguf_close(g);
    free(b.p);

    /* So is a tokenizer model we do not know. */
    b = (gbuf){0};
    assert_int_equal(build_bpe(&b, "gpt-2", "wordpiece", merges, 2, &g, &t, &err), SEALM_E_UNSUPPORTED);
    assert_non_null(strstr(err.message, "wordpiece"));
    sealm_gguf_close(g);
    free(b.p);

    /* A merge without its separating space is malformed. */
    static const char *const bad_merges[] = {"ab"};
    b = (gbuf){0};
    assert_int_equal(build_bpe(&b, "gpt-2", "gpt2", bad_merges, 1, &g, &t, &err), SEALM_E_FORMAT);
    sealm_gguf_close(g);
    free(b.p);

    /* No tokenizer metadata at all. */
    b = (gbuf){0};
    header(&b, 1);
    kv_str(&b, "general.architecture", "llama");
    finish(&b);
    assert_int_equal(sealm_gguf_open_memory(b.p, b.n, &g, &err), SEALM_OK);
    assert_int_equal(sealm_tokenizer_from_gguf(g, &t, &err), SEALM_E_NOT_FOUND);
    sealm_gguf_close(g);
    free(b.p);

    /* An id outside the vocabulary. */
    b = (gbuf){0};
    header(&b, 3);
    kv_str(&b, "tokenizer.ggml.model", "llama");
    kv_str_arr(&b, "tokenizer.ggml.tokens", k_spm_tokens, 3);
    kv_u32(&b, "tokenizer.ggml.eos_token_id", 3);
    finish(&b);
    assert_int_equal(sealm_gguf_open_memory(b.p, b.n, &g, &err), SEALM_OK);
    assert_int_equal(sealm_tokenizer_from_gguf(g, &t, &err), SEALM_E_FORMAT);
    assert_non_null(strstr(err.message, "eos_token_id"));
    sealm_gguf_close(g);
    free(b.p);
}

/* ---- streaming detokenizer ---- */

static void test_stream_spm_bytes(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizer-tests/ggml-vocab-llama-spm.gguf", SEALM_SHARED_DIR);
    loaded l = load_path(path);
    const sealm_tokenizer *t = l.t;
    int32_t e2 = sealm_tokenizer_find(t, "<0xE2>"), x96 = sealm_tokenizer_find(t, "<0x96>"),
            x81 = sealm_tokenizer_find(t, "<0x81>"), a = sealm_tokenizer_find(t, "a");
    int32_t hello = sealm_tokenizer_find(t, "\xE2\x96\x81Hello"), world = sealm_tokenizer_find(t, "\xE2\x96\x81world");
    assert_true(e2 >= 0 && x96 >= 0 && x81 >= 0 && a >= 0 && hello >= 0 && world >= 0);

    sealm_detok_stream s;
    char out[64];
    sealm_detok_stream_init(&s, t);
    /* BOS prints nothing; the first word loses the space SentencePiece put in front. */
    assert_int_equal(sealm_detok_stream_push(&s, sealm_tokenizer_bos(t), out, sizeof out), 0);
    assert_int_equal(sealm_detok_stream_push(&s, hello, out, sizeof out), 5);
    assert_string_equal(out, "Hello");
    assert_int_equal(sealm_detok_stream_push(&s, world, out, sizeof out), 6);
    assert_string_equal(out, " world");
    /* U+2581 split over three byte tokens comes out once, whole. */
    assert_int_equal(sealm_detok_stream_push(&s, e2, out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(sealm_detok_stream_push(&s, x96, out, sizeof out), 0);
    /* Too small a buffer: the size is reported and nothing is consumed. */
    assert_int_equal(sealm_detok_stream_push(&s, x81, out, 3), 3);
    assert_int_equal(sealm_detok_stream_push(&s, x81, out, sizeof out), 3);
    assert_string_equal(out, "\xE2\x96\x81");
    /* A lead byte followed by something that cannot continue it: U+FFFD, then the rest. */
    assert_int_equal(sealm_detok_stream_push(&s, e2, out, sizeof out), 0);
    assert_int_equal(sealm_detok_stream_push(&s, a, out, sizeof out), 4);
    assert_string_equal(out, "\xEF\xBF\xBD" "a");
    /* A continuation byte alone can never complete. */
    assert_int_equal(sealm_detok_stream_push(&s, x81, out, sizeof out), 3);
    assert_string_equal(out, "\xEF\xBF\xBD");
    /* An unfinished sequence at the end is flushed as U+FFFD. */
    assert_int_equal(sealm_detok_stream_push(&s, e2, out, sizeof out), 0);
    assert_int_equal(sealm_detok_stream_push(&s, x96, out, sizeof out), 0);
    assert_int_equal(sealm_detok_stream_flush(&s, out, sizeof out), 3);
    assert_string_equal(out, "\xEF\xBF\xBD");
    assert_int_equal(sealm_detok_stream_flush(&s, out, sizeof out), 0);
    assert_string_equal(out, "");
    unload(&l);
}

static void test_stream_bpe_split_chars(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizer-tests/ggml-vocab-gpt-2.gguf", SEALM_SHARED_DIR);
    loaded l = load_path(path);
    /* GPT-2 spells these emoji with tokens that end in the middle of a character. */
    const char *text = "ok 🙂👍🏽 ü 中文";
    size_t n;
    int32_t *ids = encode(l.t, text, strlen(text), false, false, &n);
    sealm_detok_stream s;
    sealm_detok_stream_init(&s, l.t);
    char out[64];
    int split = 0;
    size_t k = 0;
    char all[128];
    for (size_t i = 0; i < n; i++) {
        size_t bytes = sealm_token_to_bytes(l.t, ids[i], false, NULL, 0);
        size_t w = sealm_detok_stream_push(&s, ids[i], out, sizeof out);
        if (w != bytes) split++;
        /* Every chunk printed is whole UTF-8 on its own. */
        for (size_t j = 0; j < w; j++) assert_true(k + j < sizeof all);
        memcpy(all + k, out, w);
        k += w;
    }
    assert_int_equal(sealm_detok_stream_flush(&s, out, sizeof out), 0);
    assert_true(split > 0);
    assert_int_equal(k, strlen(text));
    assert_memory_equal(all, text, k);
    free(ids);
    unload(&l);
}

/* Long inputs must not take quadratic time or fail: a long run without spaces is one
 * SentencePiece fragment and one BPE word. (Not timed: the test only has to finish.) */
static void test_long_inputs(void **state) {
    (void)state;
    size_t len = 200000;
    char *text = malloc(len + 1);
    for (size_t i = 0; i < len; i++) text[i] = "ab"[i % 2];
    text[len] = '\0';
    static const char *const names[] = {"llama-spm", "gpt-2"};
    for (size_t v = 0; v < 2; v++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tokenizer-tests/ggml-vocab-%s.gguf", SEALM_SHARED_DIR, names[v]);
        loaded l = load_path(path);
        size_t n, dec_len;
        int32_t *ids = encode(l.t, text, len, false, false, &n);
        assert_true(n > 0 && n < len);
        char *dec = decode(l.t, ids, n, &dec_len);
        assert_memory_equal(dec + (dec_len - len), text, len);
        free(dec);
        free(ids);
        unload(&l);
    }
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spm_merge_order),
        cmocka_unit_test(test_bpe_merges_and_errors),
        cmocka_unit_test(test_vocab_llama_spm),
        cmocka_unit_test(test_vocab_phi3),
        cmocka_unit_test(test_vocab_gpt2),
        cmocka_unit_test(test_vocab_starcoder),
        cmocka_unit_test(test_vocab_deepseek_coder),
        cmocka_unit_test(test_golden_prompts),
        cmocka_unit_test(test_stream_spm_bytes),
        cmocka_unit_test(test_stream_bpe_split_chars),
        cmocka_unit_test(test_long_inputs),
        cmocka_unit_test(test_smollm2),
        cmocka_unit_test(test_smollm2_reference),
        cmocka_unit_test(test_bpe_pre_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
