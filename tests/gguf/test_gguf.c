/* Tests of the GGUF reader: the shared real models, the accessors, and hostile images
 * built here by a small GGUF writer, each of which must fail with its specific code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sealm/gguf.h"

#define MODELS SEALM_SHARED_DIR "/models"
#define STORIES MODELS "/stories260K.gguf"
#define SYNTH MODELS "/synth"
#define TOKENIZER_TESTS SEALM_SHARED_DIR "/tokenizer-tests"

#include "support/gguf_writer.h"

#define VALID_N_KV 13
#define VALID_DATA_BYTES (128 + 144)

/* A small valid image holding every value type the tests read, and three tensors:
 * a.weight F32 {8,2} at 0 (64 bytes), b.weight Q8_0 {32,1} at 64 (34 bytes),
 * c.weight Q4_K {256} at 128 (144 bytes). The last tensor ends exactly at the end. */
static void valid_image(gguf_writer *w) {
    w_header(w, 3, 3, VALID_N_KV);
    w_kv_str(w, "general.architecture", "llama");
    w_kv_u32(w, "general.alignment", 32);
    w_kv_u32(w, "test.u32", 7);
    w_str(w, "test.i8"), w_u32(w, SEALM_GGUF_INT8), w_u8(w, (uint8_t)-5);
    w_str(w, "test.u64"), w_u32(w, SEALM_GGUF_UINT64), w_u64(w, UINT64_C(1) << 40);
    w_str(w, "test.f32"), w_u32(w, SEALM_GGUF_FLOAT32), w_f32(w, 0.5f);
    w_str(w, "test.f64"), w_u32(w, SEALM_GGUF_FLOAT64), w_f64(w, 2.25);
    w_str(w, "test.bool"), w_u32(w, SEALM_GGUF_BOOL), w_u8(w, 1);
    w_str(w, "test.strings"), w_u32(w, SEALM_GGUF_ARRAY), w_u32(w, SEALM_GGUF_STRING), w_u64(w, 3);
    w_str(w, "a"), w_str(w, "h\xc3\xa9llo"), w_str(w, "");
    w_str(w, "test.ints"), w_u32(w, SEALM_GGUF_ARRAY), w_u32(w, SEALM_GGUF_INT32), w_u64(w, 3);
    w_u32(w, 1), w_u32(w, (uint32_t)-2), w_u32(w, 3);
    w_str(w, "test.big"), w_u32(w, SEALM_GGUF_ARRAY), w_u32(w, SEALM_GGUF_INT64), w_u64(w, 2);
    w_u64(w, 1), w_u64(w, UINT64_C(1) << 40);
    w_str(w, "test.floats"), w_u32(w, SEALM_GGUF_ARRAY), w_u32(w, SEALM_GGUF_FLOAT32), w_u64(w, 2);
    w_f32(w, 0.25f), w_f32(w, -1.0f);
    w_str(w, "test.bools"), w_u32(w, SEALM_GGUF_ARRAY), w_u32(w, SEALM_GGUF_BOOL), w_u64(w, 2);
    w_u8(w, 1), w_u8(w, 0);
    w_tensor(w, "a.weight", 2, (uint64_t[]){8, 2}, SEALM_TYPE_F32, 0);
    w_tensor(w, "b.weight", 2, (uint64_t[]){32, 1}, SEALM_TYPE_Q8_0, 64);
    w_tensor(w, "c.weight", 1, (uint64_t[]){256}, SEALM_TYPE_Q4_K, 128);
    w_pad(w, 32);
    w_data(w, VALID_DATA_BYTES);
}

/* An image with general.architecture and one tensor described by the arguments, followed
 * by data_bytes of data. For the tensor-shape cases. */
static void one_tensor_image(gguf_writer *w, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t offset,
                             size_t data_bytes) {
    w_header(w, 3, 1, 1);
    w_kv_str(w, "general.architecture", "llama");
    w_tensor(w, "t.weight", n_dims, ne, type, offset);
    w_pad(w, 32);
    w_data(w, data_bytes);
}

/* Opens w's image from memory and checks the exact status, that nothing was returned,
 * and that the message mentions `mention` (when not NULL). */
static void expect_status(const gguf_writer *w, sealm_status want, const char *mention) {
    sealm_gguf *g = (sealm_gguf *)0x1;
    sealm_error err = {0};
    sealm_status st = sealm_gguf_open_memory(w->buf, w->len, &g, &err);
    if (st != want || (mention && !strstr(err.message, mention)))
        print_error("want %s mentioning '%s', got %s: %s\n", sealm_status_name(want), mention ? mention : "",
                    sealm_status_name(st), err.message);
    assert_int_equal(st, want);
    if (st != SEALM_OK) {
        assert_null(g);
        assert_int_equal(err.code, want);
        assert_true(strlen(err.message) > 10);
    } else {
        sealm_gguf_close(g);
    }
    if (mention) assert_non_null(strstr(err.message, mention));
}

static sealm_gguf *open_ok(const gguf_writer *w) {
    sealm_gguf *g = NULL;
    sealm_error err = {0};
    sealm_status st = sealm_gguf_open_memory(w->buf, w->len, &g, &err);
    if (st != SEALM_OK) print_error("%s\n", err.message);
    assert_int_equal(st, SEALM_OK);
    assert_non_null(g);
    return g;
}

static sealm_gguf *open_path(const char *path) {
    sealm_gguf *g = NULL;
    sealm_error err = {0};
    sealm_status st = sealm_gguf_open_file(path, &g, &err);
    if (st != SEALM_OK) print_error("%s\n", err.message);
    assert_int_equal(st, SEALM_OK);
    assert_non_null(g);
    return g;
}

static bool str_eq(sealm_gguf_str s, const char *c) {
    return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0;
}

/* ---- the shared real files ---- */

/* Facts every well-formed model or vocabulary file must satisfy, checked through the API. */
static void check_consistency(const char *path, sealm_gguf *g) {
    size_t len;
    const uint8_t *image = sealm_gguf_image(g, &len);
    assert_non_null(image);
    uint32_t version = sealm_gguf_version(g);
    assert_true(version == 2 || version == 3);
    uint64_t align = sealm_gguf_alignment(g);
    assert_true(align > 0 && (align & (align - 1)) == 0);

    /* Every key is found by name at its own index, inside the image. */
    uint64_t n_kv = sealm_gguf_kv_count(g);
    assert_true(n_kv > 0);
    for (uint64_t i = 0; i < n_kv; i++) {
        sealm_gguf_str key = sealm_gguf_kv_key(g, i);
        assert_true(key.len > 0 && key.len < 256);
        assert_true((const uint8_t *)key.ptr > image && (const uint8_t *)key.ptr + key.len <= image + len);
        char name[256];
        memcpy(name, key.ptr, key.len);
        name[key.len] = '\0';
        assert_int_equal(sealm_gguf_find_key(g, name), (int64_t)i);
        char text[128];
        sealm_gguf_kv_format(g, i, text, sizeof text, 32);
        assert_true(strlen(text) > 0 && strlen(text) < sizeof text);
    }

    sealm_gguf_str arch;
    assert_int_equal(sealm_gguf_get_str(g, "general.architecture", &arch), SEALM_OK);
    assert_true(arch.len > 0);

    /* The vocabulary: every token string lies in the image; parallel arrays agree. */
    sealm_gguf_value_type et;
    uint64_t n_tokens, n_other;
    assert_int_equal(sealm_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n_tokens), SEALM_OK);
    assert_int_equal(et, SEALM_GGUF_STRING);
    assert_true(n_tokens >= 256);
    uint64_t token_bytes = 0;
    for (uint64_t i = 0; i < n_tokens; i++) {
        sealm_gguf_str tok;
        assert_int_equal(sealm_gguf_arr_str(g, "tokenizer.ggml.tokens", i, &tok), SEALM_OK);
        assert_true((const uint8_t *)tok.ptr > image && (const uint8_t *)tok.ptr + tok.len <= image + len);
        token_bytes += tok.len;
    }
    assert_true(token_bytes > n_tokens / 2 && token_bytes < len);
    assert_int_equal(sealm_gguf_get_arr(g, "tokenizer.ggml.token_type", &et, &n_other), SEALM_OK);
    assert_int_equal(n_other, n_tokens);
    if (sealm_gguf_get_arr(g, "tokenizer.ggml.scores", &et, &n_other) == SEALM_OK) {
        assert_int_equal(et, SEALM_GGUF_FLOAT32);
        assert_int_equal(n_other, n_tokens);
    }

    /* Tensors: found by name, data inside the image and aligned, sizes match the shape;
     * the embedding's second dimension is the vocabulary size. */
    uint64_t n_tensors = sealm_gguf_tensor_count(g);
    uint64_t total_bytes = 0;
    for (uint64_t i = 0; i < n_tensors; i++) {
        const sealm_gguf_tensor *t = sealm_gguf_tensor_at(g, i);
        assert_non_null(t);
        char name[256];
        assert_true(t->name.len > 0 && t->name.len < sizeof name);
        memcpy(name, t->name.ptr, t->name.len);
        name[t->name.len] = '\0';
        assert_ptr_equal(sealm_gguf_find_tensor(g, name), t);
        assert_int_equal(t->offset % align, 0);
        assert_true((const uint8_t *)t->data > image);
        assert_true((const uint8_t *)t->data + t->size_bytes <= image + len);
        int64_t be;
        size_t bb;
        assert_true(sealm_tensor_type_block(t->type, &be, &bb));
        int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
        assert_int_equal(t->size_bytes, (uint64_t)(n / be) * bb);
        total_bytes += t->size_bytes;
    }
    assert_null(sealm_gguf_tensor_at(g, n_tensors));
    assert_true(total_bytes <= len);
    const sealm_gguf_tensor *embd = sealm_gguf_find_tensor(g, "token_embd.weight");
    if (n_tensors > 0) {
        if (!embd) print_error("%s: no token_embd.weight\n", path);
        assert_non_null(embd);
        assert_int_equal(embd->ne[1], (int64_t)n_tokens);
    }
}

/* Opens and checks every .gguf in dir; returns how many there were. */
static int check_folder(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) print_error("cannot open %s\n", dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".gguf") != 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        sealm_gguf *g = open_path(path);
        check_consistency(path, g);
        sealm_gguf_close(g);
        n++;
    }
    closedir(d);
    return n;
}

static void test_every_shared_file_opens(void **state) {
    (void)state;
    assert_true(check_folder(MODELS) >= 1);
    assert_true(check_folder(SYNTH) >= 8);
    assert_true(check_folder(TOKENIZER_TESTS) >= 5);
}

static void test_stories260k_facts(void **state) {
    (void)state;
    sealm_gguf *g = open_path(STORIES);
    sealm_gguf_str s;
    assert_int_equal(sealm_gguf_get_str(g, "general.architecture", &s), SEALM_OK);
    assert_true(str_eq(s, "llama"));
    uint32_t u;
    assert_int_equal(sealm_gguf_get_u32(g, "llama.embedding_length", &u), SEALM_OK);
    assert_int_equal(u, 64);
    assert_int_equal(sealm_gguf_get_u32(g, "llama.block_count", &u), SEALM_OK);
    assert_int_equal(u, 5);
    assert_int_equal(sealm_gguf_get_u32(g, "llama.attention.head_count", &u), SEALM_OK);
    assert_int_equal(u, 8);
    assert_int_equal(sealm_gguf_get_u32(g, "llama.attention.head_count_kv", &u), SEALM_OK);
    assert_int_equal(u, 4);
    float eps;
    assert_int_equal(sealm_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &eps), SEALM_OK);
    assert_true(eps > 0.0f && eps < 1e-3f);

    const sealm_gguf_tensor *t = sealm_gguf_find_tensor(g, "token_embd.weight");
    assert_non_null(t);
    assert_int_equal(t->type, SEALM_TYPE_F32);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->ne[0], 64);
    assert_int_equal(t->ne[1], 512);
    assert_int_equal(t->ne[2], 1);
    assert_int_equal(t->size_bytes, 64 * 512 * 4);
    /* 5 layers of 9 tensors, plus embedding, output norm and output. */
    assert_int_equal(sealm_gguf_tensor_count(g), 5 * 9 + 3);
    assert_non_null(sealm_gguf_find_tensor(g, "blk.4.ffn_down.weight"));
    assert_null(sealm_gguf_find_tensor(g, "blk.5.ffn_down.weight"));
    assert_null(sealm_gguf_find_tensor(g, "token_embd.weigh"));
    assert_null(sealm_gguf_find_tensor(g, ""));

    uint64_t n;
    sealm_gguf_value_type et;
    assert_int_equal(sealm_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n), SEALM_OK);
    assert_int_equal(n, 512);
    sealm_gguf_str tok;
    assert_int_equal(sealm_gguf_arr_str(g, "tokenizer.ggml.tokens", 0, &tok), SEALM_OK);
    assert_true(str_eq(tok, "<unk>"));
    assert_int_equal(sealm_gguf_arr_str(g, "tokenizer.ggml.tokens", 1, &tok), SEALM_OK);
    assert_true(str_eq(tok, "<s>"));
    assert_int_equal(sealm_gguf_arr_str(g, "tokenizer.ggml.tokens", 2, &tok), SEALM_OK);
    assert_true(str_eq(tok, "</s>"));
    sealm_gguf_close(g);
}

static bool has_type(const sealm_gguf *g, sealm_tensor_type type) {
    for (uint64_t i = 0; i < sealm_gguf_tensor_count(g); i++)
        if (sealm_gguf_tensor_at(g, i)->type == type) return true;
    return false;
}

static void test_synth_quant_types(void **state) {
    (void)state;
    sealm_gguf *g = open_path(SYNTH "/synth-llama-q4_k_m.gguf");
    assert_true(has_type(g, SEALM_TYPE_Q4_K));
    assert_true(has_type(g, SEALM_TYPE_Q6_K));
    assert_true(has_type(g, SEALM_TYPE_F32));
    const sealm_gguf_tensor *t = sealm_gguf_find_tensor(g, "token_embd.weight");
    assert_non_null(t);
    assert_int_equal(t->ne[0], 256);
    assert_int_equal(t->ne[1], 32000);
    sealm_gguf_close(g);

    g = open_path(SYNTH "/synth-llama-q8_0.gguf");
    assert_true(has_type(g, SEALM_TYPE_Q8_0));
    assert_false(has_type(g, SEALM_TYPE_Q4_K));
    sealm_gguf_close(g);

    g = open_path(SYNTH "/synth-llama-tiny-f16.gguf");
    assert_true(has_type(g, SEALM_TYPE_F16));
    sealm_gguf_close(g);

    g = open_path(SYNTH "/synth-qwen2-q8_0.gguf");
    sealm_gguf_str arch;
    assert_int_equal(sealm_gguf_get_str(g, "general.architecture", &arch), SEALM_OK);
    assert_true(str_eq(arch, "qwen2"));
    uint64_t n;
    sealm_gguf_value_type et;
    assert_int_equal(sealm_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n), SEALM_OK);
    assert_int_equal(n, 50257);
    assert_int_equal(sealm_gguf_get_arr(g, "tokenizer.ggml.merges", &et, &n), SEALM_OK);
    assert_int_equal(et, SEALM_GGUF_STRING);
    sealm_gguf_str merge;
    assert_int_equal(sealm_gguf_arr_str(g, "tokenizer.ggml.merges", n - 1, &merge), SEALM_OK);
    assert_non_null(memchr(merge.ptr, ' ', merge.len)); /* a merge is "left right" */
    sealm_gguf_close(g);
}

static uint8_t *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* open_memory on the file's bytes sees exactly what open_file sees. */
static void check_memory_matches_file(const char *path) {
    size_t len;
    uint8_t *buf = read_whole(path, &len);
    sealm_gguf *gm = NULL;
    sealm_error err;
    assert_int_equal(sealm_gguf_open_memory(buf, len, &gm, &err), SEALM_OK);
    sealm_gguf *gf = open_path(path);
    size_t flen;
    const uint8_t *fimage = sealm_gguf_image(gf, &flen);
    assert_int_equal(flen, len);
    assert_int_equal(sealm_gguf_version(gm), sealm_gguf_version(gf));
    assert_int_equal(sealm_gguf_alignment(gm), sealm_gguf_alignment(gf));
    assert_int_equal(sealm_gguf_kv_count(gm), sealm_gguf_kv_count(gf));
    for (uint64_t i = 0; i < sealm_gguf_kv_count(gm); i++) {
        sealm_gguf_str km = sealm_gguf_kv_key(gm, i), kf = sealm_gguf_kv_key(gf, i);
        assert_int_equal(km.len, kf.len);
        assert_memory_equal(km.ptr, kf.ptr, km.len);
        assert_int_equal((const uint8_t *)km.ptr - buf, (const uint8_t *)kf.ptr - fimage);
        assert_int_equal(sealm_gguf_kv_type(gm, i), sealm_gguf_kv_type(gf, i));
        char tm[256], tf[256];
        sealm_gguf_kv_format(gm, i, tm, sizeof tm, 64);
        sealm_gguf_kv_format(gf, i, tf, sizeof tf, 64);
        assert_string_equal(tm, tf);
    }
    assert_int_equal(sealm_gguf_tensor_count(gm), sealm_gguf_tensor_count(gf));
    for (uint64_t i = 0; i < sealm_gguf_tensor_count(gm); i++) {
        const sealm_gguf_tensor *a = sealm_gguf_tensor_at(gm, i), *b = sealm_gguf_tensor_at(gf, i);
        assert_true(str_eq(a->name, "") == str_eq(b->name, ""));
        assert_int_equal(a->name.len, b->name.len);
        assert_memory_equal(a->name.ptr, b->name.ptr, a->name.len);
        assert_int_equal(a->type, b->type);
        assert_int_equal(a->n_dims, b->n_dims);
        assert_memory_equal(a->ne, b->ne, sizeof a->ne);
        assert_int_equal(a->offset, b->offset);
        assert_int_equal(a->size_bytes, b->size_bytes);
        assert_int_equal((const uint8_t *)a->data - buf, (const uint8_t *)b->data - fimage);
        assert_memory_equal(a->data, b->data, a->size_bytes);
    }
    sealm_gguf_close(gf);
    sealm_gguf_close(gm);
    free(buf);
}

static void test_open_memory_matches_open_file(void **state) {
    (void)state;
    check_memory_matches_file(STORIES);
    check_memory_matches_file(TOKENIZER_TESTS "/ggml-vocab-gpt-2.gguf");
}

/* ---- accessors ---- */

static void test_getters_on_stories(void **state) {
    (void)state;
    sealm_gguf *g = open_path(STORIES);
    uint32_t u = 12345;
    sealm_gguf_str s = {NULL, 77};
    float f = 9.0f;
    bool b = true;
    int64_t i64 = 42;
    assert_int_equal(sealm_gguf_get_u32(g, "general.architecture", &u), SEALM_E_TYPE);
    assert_int_equal(sealm_gguf_get_str(g, "llama.block_count", &s), SEALM_E_TYPE);
    assert_int_equal(sealm_gguf_get_f32(g, "llama.block_count", &f), SEALM_E_TYPE);
    assert_int_equal(sealm_gguf_get_bool(g, "llama.block_count", &b), SEALM_E_TYPE);
    assert_int_equal(sealm_gguf_get_u32(g, "tokenizer.ggml.tokens", &u), SEALM_E_TYPE);
    /* Absent keys leave the output untouched. */
    assert_int_equal(sealm_gguf_get_u32(g, "no.such.key", &u), SEALM_E_NOT_FOUND);
    assert_int_equal(sealm_gguf_get_str(g, "no.such.key", &s), SEALM_E_NOT_FOUND);
    assert_int_equal(sealm_gguf_get_f32(g, "llama.block_coun", &f), SEALM_E_NOT_FOUND);
    assert_int_equal(sealm_gguf_get_bool(g, "", &b), SEALM_E_NOT_FOUND);
    assert_int_equal(sealm_gguf_get_i64(g, "llama.block_count_", &i64), SEALM_E_NOT_FOUND);
    assert_int_equal(u, 12345);
    assert_null(s.ptr);
    assert_true(f == 9.0f);
    assert_true(b);
    assert_int_equal(i64, 42);
    assert_int_equal(sealm_gguf_find_key(g, "no.such.key"), -1);
    assert_int_equal(sealm_gguf_find_key(g, NULL), -1);

    assert_int_equal(sealm_gguf_get_i64(g, "llama.context_length", &i64), SEALM_OK);
    assert_int_equal(i64, 2048);
    /* The separator id is stored as u32 0xFFFFFFFF: fits u32 and i64. */
    assert_int_equal(sealm_gguf_get_u32(g, "tokenizer.ggml.seperator_token_id", &u), SEALM_OK);
    assert_int_equal(u, UINT32_MAX);

    /* Arrays. */
    sealm_gguf_value_type et;
    uint64_t n;
    assert_int_equal(sealm_gguf_get_arr(g, "llama.block_count", &et, &n), SEALM_E_TYPE);
    assert_int_equal(sealm_gguf_get_arr(g, "no.such.key", &et, &n), SEALM_E_NOT_FOUND);
    assert_int_equal(sealm_gguf_get_arr(g, "tokenizer.ggml.scores", &et, &n), SEALM_OK);
    assert_int_equal(et, SEALM_GGUF_FLOAT32);
    assert_int_equal(n, 512);
    assert_int_equal(sealm_gguf_arr_str(g, "tokenizer.ggml.tokens", 512, &s), SEALM_E_INVALID);
    assert_int_equal(sealm_gguf_arr_str(g, "tokenizer.ggml.scores", 0, &s), SEALM_E_TYPE);
    assert_int_equal(sealm_gguf_arr_str(g, "general.name", 0, &s), SEALM_E_TYPE);
    assert_int_equal(sealm_gguf_arr_str(g, "no.such.key", 0, &s), SEALM_E_NOT_FOUND);

    float *scores = malloc(512 * sizeof *scores);
    int32_t *types = malloc(512 * sizeof *types);
    assert_non_null(scores);
    assert_non_null(types);
    assert_int_equal(sealm_gguf_arr_f32(g, "tokenizer.ggml.scores", scores, 511), SEALM_E_INVALID);
    assert_int_equal(sealm_gguf_arr_f32(g, "tokenizer.ggml.tokens", scores, 512), SEALM_E_TYPE);
    assert_int_equal(sealm_gguf_arr_f32(g, "tokenizer.ggml.scores", scores, 512), SEALM_OK);
    assert_int_equal(sealm_gguf_arr_i32(g, "tokenizer.ggml.scores", types, 512), SEALM_E_TYPE);
    assert_int_equal(sealm_gguf_arr_i32(g, "tokenizer.ggml.token_type", types, 512), SEALM_OK);
    /* SentencePiece: <unk> is type 2 (unknown), <s> and </s> type 3 (control), byte tokens 6. */
    assert_int_equal(types[0], 2);
    assert_int_equal(types[1], 3);
    assert_int_equal(types[2], 3);
    assert_int_equal(types[3], 6);
    for (int i = 0; i < 512; i++) assert_true(isfinite(scores[i]));
    free(scores);
    free(types);
    sealm_gguf_close(g);
}

static void test_getters_every_type(void **state) {
    (void)state;
    gguf_writer w = {0};
    valid_image(&w);
    sealm_gguf *g = open_ok(&w);
    assert_int_equal(sealm_gguf_version(g), 3);
    assert_int_equal(sealm_gguf_alignment(g), 32);
    assert_int_equal(sealm_gguf_kv_count(g), VALID_N_KV);
    size_t len;
    assert_ptr_equal(sealm_gguf_image(g, &len), w.buf);
    assert_int_equal(len, w.len);

    uint32_t u;
    int64_t i64;
    float f;
    bool b;
    assert_int_equal(sealm_gguf_get_u32(g, "test.u32", &u), SEALM_OK);
    assert_int_equal(u, 7);
    assert_int_equal(sealm_gguf_get_i64(g, "test.u32", &i64), SEALM_OK);
    assert_int_equal(i64, 7);
    u = 99;
    assert_int_equal(sealm_gguf_get_u32(g, "test.i8", &u), SEALM_E_TYPE); /* -5 does not fit */
    assert_int_equal(sealm_gguf_get_i64(g, "test.i8", &i64), SEALM_OK);
    assert_int_equal(i64, -5);
    assert_int_equal(sealm_gguf_get_u32(g, "test.u64", &u), SEALM_E_TYPE); /* 2^40 does not fit */
    assert_int_equal(sealm_gguf_get_i64(g, "test.u64", &i64), SEALM_OK);
    assert_int_equal(i64, INT64_C(1) << 40);
    assert_int_equal(sealm_gguf_get_f32(g, "test.f32", &f), SEALM_OK);
    assert_true(f == 0.5f);
    assert_int_equal(sealm_gguf_get_f32(g, "test.f64", &f), SEALM_OK);
    assert_true(f == 2.25f);
    assert_int_equal(sealm_gguf_get_u32(g, "test.f32", &u), SEALM_E_TYPE);
    assert_int_equal(sealm_gguf_get_bool(g, "test.bool", &b), SEALM_OK);
    assert_true(b);
    assert_int_equal(sealm_gguf_get_u32(g, "test.bool", &u), SEALM_OK); /* bool counts as an integer */
    assert_int_equal(u, 1);
    assert_int_equal(sealm_gguf_get_bool(g, "test.u32", &b), SEALM_E_TYPE);
    int64_t idx = sealm_gguf_find_key(g, "test.f64");
    assert_true(idx >= 0);
    assert_int_equal(sealm_gguf_kv_type(g, (uint64_t)idx), SEALM_GGUF_FLOAT64);
    assert_true(str_eq(sealm_gguf_kv_key(g, (uint64_t)idx), "test.f64"));
    assert_null(sealm_gguf_kv_key(g, VALID_N_KV).ptr);

    /* String array, including an empty element. */
    sealm_gguf_value_type et;
    uint64_t n;
    sealm_gguf_str s;
    assert_int_equal(sealm_gguf_get_arr(g, "test.strings", &et, &n), SEALM_OK);
    assert_int_equal(et, SEALM_GGUF_STRING);
    assert_int_equal(n, 3);
    assert_int_equal(sealm_gguf_arr_str(g, "test.strings", 1, &s), SEALM_OK);
    assert_true(str_eq(s, "h\xc3\xa9llo"));
    assert_int_equal(sealm_gguf_arr_str(g, "test.strings", 2, &s), SEALM_OK);
    assert_int_equal(s.len, 0);
    assert_int_equal(sealm_gguf_arr_str(g, "test.strings", 0, &s), SEALM_OK);
    assert_true(str_eq(s, "a"));
    assert_int_equal(sealm_gguf_arr_str(g, "test.strings", 3, &s), SEALM_E_INVALID);

    /* Numeric arrays, with conversion and range checks. */
    int32_t ints[3];
    float floats[3];
    assert_int_equal(sealm_gguf_arr_i32(g, "test.ints", ints, 3), SEALM_OK);
    assert_int_equal(ints[0], 1);
    assert_int_equal(ints[1], -2);
    assert_int_equal(ints[2], 3);
    assert_int_equal(sealm_gguf_arr_f32(g, "test.ints", floats, 3), SEALM_OK);
    assert_true(floats[1] == -2.0f);
    assert_int_equal(sealm_gguf_arr_i32(g, "test.big", ints, 2), SEALM_E_TYPE); /* 2^40 */
    assert_int_equal(sealm_gguf_arr_f32(g, "test.big", floats, 2), SEALM_OK);
    assert_true(floats[1] == 1099511627776.0f);
    assert_int_equal(sealm_gguf_arr_f32(g, "test.floats", floats, 2), SEALM_OK);
    assert_true(floats[0] == 0.25f && floats[1] == -1.0f);
    assert_int_equal(sealm_gguf_arr_i32(g, "test.floats", ints, 2), SEALM_E_TYPE);
    assert_int_equal(sealm_gguf_arr_f32(g, "test.strings", floats, 3), SEALM_E_TYPE);
    assert_int_equal(sealm_gguf_arr_f32(g, "test.bools", floats, 2), SEALM_E_TYPE);
    assert_int_equal(sealm_gguf_arr_i32(g, "test.ints", ints, 2), SEALM_E_INVALID);
    assert_int_equal(sealm_gguf_arr_i32(g, "test.u32", ints, 1), SEALM_E_TYPE);
    assert_int_equal(sealm_gguf_arr_i32(g, "missing", ints, 1), SEALM_E_NOT_FOUND);

    /* Tensors and their data. */
    assert_int_equal(sealm_gguf_tensor_count(g), 3);
    const sealm_gguf_tensor *a = sealm_gguf_find_tensor(g, "a.weight");
    const sealm_gguf_tensor *bt = sealm_gguf_find_tensor(g, "b.weight");
    const sealm_gguf_tensor *c = sealm_gguf_find_tensor(g, "c.weight");
    assert_non_null(a);
    assert_non_null(bt);
    assert_non_null(c);
    assert_ptr_equal(a, sealm_gguf_tensor_at(g, 0));
    assert_int_equal(a->size_bytes, 64);
    assert_int_equal(bt->size_bytes, 34);
    assert_int_equal(c->size_bytes, 144);
    assert_int_equal(c->n_dims, 1);
    assert_int_equal(c->ne[1], 1);
    size_t data_pos = w.len - VALID_DATA_BYTES;
    assert_ptr_equal(a->data, w.buf + data_pos);
    assert_ptr_equal(bt->data, w.buf + data_pos + 64);
    assert_ptr_equal(c->data, w.buf + data_pos + 128);
    assert_int_equal(((const uint8_t *)c->data)[0], (uint8_t)(128 * 7 + 1));
    sealm_gguf_close(g);
    w_free(&w);
}

static void test_kv_format(void **state) {
    (void)state;
    gguf_writer w = {0};
    w_header(&w, 3, 0, 6);
    w_kv_str(&w, "s.plain", "llama");
    w_kv_str(&w, "s.long", "abcdefghij");
    w_kv_str(&w, "s.escapes", "a\"b\\c\n\x1b[31m\xff\xc3\xa9");
    w_str(&w, "arr"), w_u32(&w, SEALM_GGUF_ARRAY), w_u32(&w, SEALM_GGUF_STRING), w_u64(&w, 2);
    w_str(&w, "x"), w_str(&w, "y");
    w_str(&w, "neg"), w_u32(&w, SEALM_GGUF_INT32), w_u32(&w, (uint32_t)-7);
    w_str(&w, "flag"), w_u32(&w, SEALM_GGUF_BOOL), w_u8(&w, 0);
    sealm_gguf *g = open_ok(&w);
    char buf[128];
    sealm_gguf_kv_format(g, 0, buf, sizeof buf, 32);
    assert_string_equal(buf, "\"llama\"");
    sealm_gguf_kv_format(g, 1, buf, sizeof buf, 4);
    assert_string_equal(buf, "\"abcd\"\xe2\x80\xa6");
    sealm_gguf_kv_format(g, 1, buf, sizeof buf, 10);
    assert_string_equal(buf, "\"abcdefghij\"");
    /* Control bytes and invalid UTF-8 are escaped; valid UTF-8 passes through. */
    sealm_gguf_kv_format(g, 2, buf, sizeof buf, 64);
    assert_string_equal(buf, "\"a\\\"b\\\\c\\n\\u001b[31m\\xff\xc3\xa9\"");
    sealm_gguf_kv_format(g, 3, buf, sizeof buf, 64);
    assert_string_equal(buf, "[string \xc3\x97 2]");
    sealm_gguf_kv_format(g, 4, buf, sizeof buf, 64);
    assert_string_equal(buf, "-7");
    sealm_gguf_kv_format(g, 5, buf, sizeof buf, 64);
    assert_string_equal(buf, "false");
    /* A small buffer is never overrun and always terminated. */
    char small[6];
    memset(small, 'Z', sizeof small);
    sealm_gguf_kv_format(g, 1, small, 5, 0);
    assert_int_equal(small[5], 'Z');
    assert_true(strlen(small) < 5);
    assert_int_equal(small[0], '"');
    sealm_gguf_kv_format(g, 99, buf, sizeof buf, 64);
    assert_string_equal(buf, "");
    sealm_gguf_close(g);
    w_free(&w);
}

static void test_type_table(void **state) {
    (void)state;
    struct { sealm_tensor_type t; int64_t elems; size_t bytes; const char *name; } want[] = {
        {SEALM_TYPE_F32, 1, 4, "F32"},       {SEALM_TYPE_F16, 1, 2, "F16"},
        {SEALM_TYPE_BF16, 1, 2, "BF16"},     {SEALM_TYPE_Q4_0, 32, 18, "Q4_0"},
        {SEALM_TYPE_Q4_1, 32, 20, "Q4_1"},   {SEALM_TYPE_Q5_0, 32, 22, "Q5_0"},
        {SEALM_TYPE_Q5_1, 32, 24, "Q5_1"},   {SEALM_TYPE_Q8_0, 32, 34, "Q8_0"},
        {SEALM_TYPE_Q8_1, 32, 36, "Q8_1"},   {SEALM_TYPE_Q2_K, 256, 84, "Q2_K"},
        {SEALM_TYPE_Q3_K, 256, 110, "Q3_K"}, {SEALM_TYPE_Q4_K, 256, 144, "Q4_K"},
        {SEALM_TYPE_Q5_K, 256, 176, "Q5_K"}, {SEALM_TYPE_Q6_K, 256, 210, "Q6_K"},
        {SEALM_TYPE_Q8_K, 256, 292, "Q8_K"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int64_t e = 0;
        size_t b = 0;
        assert_true(sealm_tensor_type_block(want[i].t, &e, &b));
        assert_int_equal(e, want[i].elems);
        assert_int_equal(b, want[i].bytes);
        assert_string_equal(sealm_tensor_type_name(want[i].t), want[i].name);
    }
    int unknown[] = {4, 5, 16, 20, 29, 31, 39, 40, 1000, -1};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_false(sealm_tensor_type_block((sealm_tensor_type)unknown[i], NULL, NULL));
        assert_string_equal(sealm_tensor_type_name((sealm_tensor_type)unknown[i]), "unknown");
    }
}

/* ---- open_file errors and argument checks ---- */

static void test_open_file_errors(void **state) {
    (void)state;
    sealm_gguf *g = (sealm_gguf *)0x1;
    sealm_error err;
    assert_int_equal(sealm_gguf_open_file("/nonexistent/dir/model.gguf", &g, &err), SEALM_E_IO);
    assert_null(g);
    assert_non_null(strstr(err.message, "/nonexistent/dir/model.gguf"));
    assert_non_null(strstr(err.message, "No such file"));
    assert_int_equal(sealm_gguf_open_file(SEALM_SHARED_DIR, &g, &err), SEALM_E_IO);
    assert_non_null(strstr(err.message, "not a regular file"));

    char path[] = "/tmp/sealm-test-gguf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(sealm_gguf_open_file(path, &g, &err), SEALM_E_FORMAT);
    assert_non_null(strstr(err.message, "empty"));
    assert_int_equal(write(fd, "GGML not really", 15), 15);
    assert_int_equal(sealm_gguf_open_file(path, &g, &err), SEALM_E_FORMAT);
    assert_non_null(strstr(err.message, path));
    assert_non_null(strstr(err.message, "magic"));
    /* A valid image written out opens from the file too. */
    gguf_writer w = {0};
    valid_image(&w);
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pwrite(fd, w.buf, w.len, 0), (ssize_t)w.len);
    close(fd);
    assert_int_equal(sealm_gguf_open_file(path, &g, &err), SEALM_OK);
    assert_non_null(sealm_gguf_find_tensor(g, "c.weight"));
    sealm_gguf_close(g);
    unlink(path);
    w_free(&w);

    assert_int_equal(sealm_gguf_open_file(NULL, &g, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_gguf_open_file(STORIES, NULL, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_gguf_open_memory(NULL, 10, &g, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_gguf_open_memory((const uint8_t *)"GGUF", 4, NULL, &err), SEALM_E_INVALID);
    sealm_gguf_close(NULL);
    /* Accessors tolerate NULL handles. */
    assert_int_equal(sealm_gguf_kv_count(NULL), 0);
    assert_int_equal(sealm_gguf_tensor_count(NULL), 0);
    assert_null(sealm_gguf_find_tensor(NULL, "x"));
    uint32_t u;
    assert_int_equal(sealm_gguf_get_u32(NULL, "x", &u), SEALM_E_INVALID);
}

/* ---- hostile images ---- */

static void test_valid_image_opens(void **state) {
    (void)state;
    gguf_writer w = {0};
    valid_image(&w);
    expect_status(&w, SEALM_OK, NULL);
    /* Version 2 has the same layout. */
    w.buf[4] = 2;
    expect_status(&w, SEALM_OK, NULL);
    w_free(&w);
}

static void test_bad_magic_and_versions(void **state) {
    (void)state;
    gguf_writer w = {0};
    valid_image(&w);
    w.buf[3] = 'X';
    expect_status(&w, SEALM_E_FORMAT, "magic");
    w.buf[3] = 'F';
    w.buf[4] = 1;
    expect_status(&w, SEALM_E_UNSUPPORTED, "version 1");
    w.buf[4] = 4;
    expect_status(&w, SEALM_E_UNSUPPORTED, "version 4");
    w.buf[4] = 0;
    w.buf[7] = 3; /* a big-endian writer's version 3 */
    expect_status(&w, SEALM_E_UNSUPPORTED, "big-endian");
    w_free(&w);
}

/* Every proper prefix of a valid image is rejected as malformed, without reading past it
 * (ASan watches: each prefix is copied into a buffer of exactly its size). */
static void test_truncated_at_every_offset(void **state) {
    (void)state;
    gguf_writer w = {0};
    valid_image(&w);
    for (size_t n = 0; n < w.len; n++) {
        uint8_t *prefix = malloc(n ? n : 1);
        assert_non_null(prefix);
        memcpy(prefix, w.buf, n);
        sealm_gguf *g = (sealm_gguf *)0x1;
        sealm_error err = {0};
        sealm_status st = sealm_gguf_open_memory(prefix, n, &g, &err);
        if (st != SEALM_E_FORMAT) print_error("prefix of %zu bytes: %s: %s\n", n, sealm_status_name(st), err.message);
        assert_int_equal(st, SEALM_E_FORMAT);
        assert_null(g);
        free(prefix);
    }
    w_free(&w);
}

static void test_huge_counts(void **state) {
    (void)state;
    gguf_writer w = {0};
    w_header(&w, 3, 0, UINT64_MAX);
    w_kv_str(&w, "general.architecture", "llama");
    expect_status(&w, SEALM_E_FORMAT, "metadata pairs");
    w_free(&w);

    w_header(&w, 3, UINT64_C(1) << 40, 1);
    w_kv_str(&w, "general.architecture", "llama");
    expect_status(&w, SEALM_E_FORMAT, "tensors");
    w_free(&w);

    /* A tensor count that passes the header's rough bound but not the one after the metadata. */
    w_header(&w, 3, 2, 1);
    w_kv_str(&w, "general.architecture", "a long enough value to pass the header bound....");
    w_tensor(&w, "t", 1, (uint64_t[]){4}, SEALM_TYPE_F32, 0);
    expect_status(&w, SEALM_E_FORMAT, "tensor");
    w_free(&w);

    /* Array counts: strings and numbers. */
    w_header(&w, 3, 0, 1);
    w_str(&w, "tokenizer.ggml.tokens"), w_u32(&w, SEALM_GGUF_ARRAY), w_u32(&w, SEALM_GGUF_STRING);
    w_u64(&w, UINT64_MAX / 2);
    w_str(&w, "a"), w_str(&w, "b");
    expect_status(&w, SEALM_E_FORMAT, "tokenizer.ggml.tokens");
    w_free(&w);

    w_header(&w, 3, 0, 1);
    w_str(&w, "scores"), w_u32(&w, SEALM_GGUF_ARRAY), w_u32(&w, SEALM_GGUF_FLOAT64);
    w_u64(&w, UINT64_C(1) << 61); /* 2^61 * 8 wraps to 0 in 64 bits */
    w_f64(&w, 1.0);
    expect_status(&w, SEALM_E_FORMAT, "array of");
    w_free(&w);
}

static void test_bad_strings_and_keys(void **state) {
    (void)state;
    gguf_writer w = {0};
    w_header(&w, 3, 0, 1);
    w_str(&w, "general.name"), w_u32(&w, SEALM_GGUF_STRING), w_u64(&w, UINT64_MAX), w_bytes(&w, "abc", 3);
    expect_status(&w, SEALM_E_FORMAT, "string length");
    w_free(&w);

    w_header(&w, 3, 0, 1);
    w_u64(&w, UINT64_MAX - 3), w_bytes(&w, "general.name", 12), w_u32(&w, SEALM_GGUF_UINT8), w_u8(&w, 1);
    expect_status(&w, SEALM_E_FORMAT, "key length");
    w_free(&w);

    /* A key longer than 64 KiB, even though the bytes are there. */
    w_header(&w, 3, 0, 1);
    w_u64(&w, 70000);
    for (int i = 0; i < 70000; i++) w_u8(&w, 'k');
    w_u32(&w, SEALM_GGUF_UINT8), w_u8(&w, 1);
    expect_status(&w, SEALM_E_FORMAT, "key length 70000");
    w_free(&w);

    w_header(&w, 3, 0, 1);
    w_str(&w, ""), w_u32(&w, SEALM_GGUF_UINT32), w_u32(&w, 1), w_u32(&w, 0);
    expect_status(&w, SEALM_E_FORMAT, "empty key");
    w_free(&w);

    /* A string array element whose length runs past the end. */
    w_header(&w, 3, 0, 1);
    w_str(&w, "tokenizer.ggml.tokens"), w_u32(&w, SEALM_GGUF_ARRAY), w_u32(&w, SEALM_GGUF_STRING), w_u64(&w, 2);
    w_str(&w, "ok"), w_u64(&w, 1000), w_bytes(&w, "short", 5);
    expect_status(&w, SEALM_E_FORMAT, "string element 1");
    w_free(&w);
}

static void test_bad_value_types(void **state) {
    (void)state;
    gguf_writer w = {0};
    w_header(&w, 3, 0, 1);
    w_str(&w, "nested"), w_u32(&w, SEALM_GGUF_ARRAY), w_u32(&w, SEALM_GGUF_ARRAY), w_u64(&w, 1);
    w_u32(&w, SEALM_GGUF_UINT8), w_u64(&w, 1), w_u8(&w, 0);
    expect_status(&w, SEALM_E_UNSUPPORTED, "arrays of arrays");
    w_free(&w);

    w_header(&w, 3, 0, 1);
    w_str(&w, "weird"), w_u32(&w, 13), w_u64(&w, 0);
    expect_status(&w, SEALM_E_FORMAT, "unknown value type 13");
    w_free(&w);

    w_header(&w, 3, 0, 1);
    w_str(&w, "weird"), w_u32(&w, 0x80000000u), w_u64(&w, 0);
    expect_status(&w, SEALM_E_FORMAT, "unknown value type");
    w_free(&w);

    w_header(&w, 3, 0, 1);
    w_str(&w, "weird.arr"), w_u32(&w, SEALM_GGUF_ARRAY), w_u32(&w, 99), w_u64(&w, 1), w_u64(&w, 0);
    expect_status(&w, SEALM_E_FORMAT, "element type 99");
    w_free(&w);

    w_header(&w, 3, 0, 1);
    w_str(&w, "flag"), w_u32(&w, SEALM_GGUF_BOOL), w_u8(&w, 2);
    expect_status(&w, SEALM_E_FORMAT, "bool");
    w_free(&w);
}

static void test_duplicates(void **state) {
    (void)state;
    gguf_writer w = {0};
    w_header(&w, 3, 0, 3);
    w_kv_u32(&w, "llama.block_count", 5);
    w_kv_str(&w, "general.architecture", "llama");
    w_kv_u32(&w, "llama.block_count", 6);
    expect_status(&w, SEALM_E_FORMAT, "'llama.block_count' appears twice (kv 0 and kv 2)");
    w_free(&w);

    w_header(&w, 3, 2, 1);
    w_kv_str(&w, "general.architecture", "llama");
    w_tensor(&w, "x.weight", 1, (uint64_t[]){8}, SEALM_TYPE_F32, 0);
    w_tensor(&w, "x.weight", 1, (uint64_t[]){8}, SEALM_TYPE_F32, 32);
    w_pad(&w, 32);
    w_data(&w, 64);
    expect_status(&w, SEALM_E_FORMAT, "'x.weight' appears twice");
    w_free(&w);
}

static void test_bad_tensor_shapes(void **state) {
    (void)state;
    gguf_writer w = {0};
    one_tensor_image(&w, 0, NULL, SEALM_TYPE_F32, 0, 32);
    expect_status(&w, SEALM_E_FORMAT, "0 dimensions");
    w_free(&w);

    one_tensor_image(&w, 5, (uint64_t[]){1, 1, 1, 1, 1}, SEALM_TYPE_F32, 0, 32);
    expect_status(&w, SEALM_E_FORMAT, "5 dimensions");
    w_free(&w);

    one_tensor_image(&w, 2, (uint64_t[]){8, 0}, SEALM_TYPE_F32, 0, 32);
    expect_status(&w, SEALM_E_FORMAT, "dimension 1 is 0");
    w_free(&w);

    one_tensor_image(&w, 1, (uint64_t[]){UINT64_MAX}, SEALM_TYPE_F32, 0, 32);
    expect_status(&w, SEALM_E_FORMAT, "dimension 0");
    w_free(&w);

    one_tensor_image(&w, 3, (uint64_t[]){UINT64_C(1) << 32, UINT64_C(1) << 20, UINT64_C(1) << 12},
                     SEALM_TYPE_F32, 0, 32);
    expect_status(&w, SEALM_E_FORMAT, "overflows");
    w_free(&w);

    /* 2^62 elements fit in int64 but 2^64 bytes do not fit in 64 bits. */
    one_tensor_image(&w, 1, (uint64_t[]){UINT64_C(1) << 62}, SEALM_TYPE_F32, 0, 32);
    expect_status(&w, SEALM_E_FORMAT, "overflows");
    w_free(&w);

    one_tensor_image(&w, 2, (uint64_t[]){33, 2}, SEALM_TYPE_Q8_0, 0, 96);
    expect_status(&w, SEALM_E_FORMAT, "not a multiple of the Q8_0 block size 32");
    w_free(&w);

    one_tensor_image(&w, 1, (uint64_t[]){128}, SEALM_TYPE_Q6_K, 0, 256);
    expect_status(&w, SEALM_E_FORMAT, "block size 256");
    w_free(&w);

    one_tensor_image(&w, 1, (uint64_t[]){32}, 20, 0, 64);
    expect_status(&w, SEALM_E_UNSUPPORTED, "tensor type 20 (IQ4_NL)");
    w_free(&w);

    one_tensor_image(&w, 1, (uint64_t[]){32}, 0xffffffffu, 0, 64);
    expect_status(&w, SEALM_E_UNSUPPORTED, "tensor type 4294967295");
    w_free(&w);

    /* Each valid again, to show the cases above failed for the named reason. */
    one_tensor_image(&w, 4, (uint64_t[]){32, 1, 2, 1}, SEALM_TYPE_Q8_0, 0, 68);
    expect_status(&w, SEALM_OK, NULL);
    w_free(&w);
}

static void test_bad_tensor_extents(void **state) {
    (void)state;
    gguf_writer w = {0};
    one_tensor_image(&w, 1, (uint64_t[]){8}, SEALM_TYPE_F32, 4, 64);
    expect_status(&w, SEALM_E_FORMAT, "not a multiple of the alignment 32");
    w_free(&w);

    one_tensor_image(&w, 1, (uint64_t[]){8}, SEALM_TYPE_F32, 1024, 64);
    expect_status(&w, SEALM_E_FORMAT, "tensor 0 't.weight': data [offset 0x400, 32 bytes] extends past end of file");
    w_free(&w);

    /* One byte short. */
    one_tensor_image(&w, 1, (uint64_t[]){8}, SEALM_TYPE_F32, 0, 31);
    expect_status(&w, SEALM_E_FORMAT, "extends past end");
    w_free(&w);

    /* An offset near 2^64 that a naive data_pos + offset + size would wrap. */
    one_tensor_image(&w, 1, (uint64_t[]){8}, SEALM_TYPE_F32, UINT64_MAX - 31, 64);
    expect_status(&w, SEALM_E_FORMAT, "extends past end");
    w_free(&w);

    w_header(&w, 3, 2, 1);
    w_kv_str(&w, "general.architecture", "llama");
    w_tensor(&w, "first", 1, (uint64_t[]){16}, SEALM_TYPE_F32, 0); /* 64 bytes: [0, 64) */
    w_tensor(&w, "second", 1, (uint64_t[]){8}, SEALM_TYPE_F32, 32); /* [32, 64) */
    w_pad(&w, 32);
    w_data(&w, 64);
    expect_status(&w, SEALM_E_FORMAT, "overlap");
    w_free(&w);

    /* Same offset, listed in the other order. */
    w_header(&w, 3, 2, 1);
    w_kv_str(&w, "general.architecture", "llama");
    w_tensor(&w, "second", 1, (uint64_t[]){8}, SEALM_TYPE_F32, 64);
    w_tensor(&w, "first", 1, (uint64_t[]){8}, SEALM_TYPE_F32, 64);
    w_pad(&w, 32);
    w_data(&w, 96);
    expect_status(&w, SEALM_E_FORMAT, "overlap");
    w_free(&w);
}

static void alignment_image(gguf_writer *w, uint32_t type, uint64_t value, size_t align_used) {
    w_header(w, 3, 1, 1);
    w_str(w, "general.alignment");
    w_u32(w, type);
    if (type == SEALM_GGUF_FLOAT32) w_f32(w, (float)value);
    else if (type == SEALM_GGUF_UINT64) w_u64(w, value);
    else w_u32(w, (uint32_t)value);
    w_tensor(w, "t", 1, (uint64_t[]){8}, SEALM_TYPE_F32, 0);
    w_pad(w, align_used);
    w_data(w, 32);
}

static void test_alignment(void **state) {
    (void)state;
    gguf_writer w = {0};
    alignment_image(&w, SEALM_GGUF_UINT32, 0, 32);
    expect_status(&w, SEALM_E_FORMAT, "general.alignment is 0");
    w_free(&w);
    alignment_image(&w, SEALM_GGUF_UINT32, 3, 32);
    expect_status(&w, SEALM_E_FORMAT, "general.alignment is 3");
    w_free(&w);
    alignment_image(&w, SEALM_GGUF_FLOAT32, 32, 32);
    expect_status(&w, SEALM_E_FORMAT, "general.alignment (kv 0) has type f32");
    w_free(&w);
    alignment_image(&w, SEALM_GGUF_STRING, 32, 32); /* w_u32 then reads as a bogus string */
    expect_status(&w, SEALM_E_FORMAT, NULL);
    w_free(&w);
    alignment_image(&w, SEALM_GGUF_INT32, (uint32_t)-32, 32);
    expect_status(&w, SEALM_E_FORMAT, "general.alignment is -32");
    w_free(&w);
    alignment_image(&w, SEALM_GGUF_UINT64, UINT64_C(1) << 40, 32);
    expect_status(&w, SEALM_E_FORMAT, "power of two");
    w_free(&w);

    /* 64 is honoured: the data starts at the next multiple of 64. */
    alignment_image(&w, SEALM_GGUF_UINT32, 64, 64);
    sealm_gguf *g = open_ok(&w);
    assert_int_equal(sealm_gguf_alignment(g), 64);
    const sealm_gguf_tensor *t = sealm_gguf_tensor_at(g, 0);
    assert_int_equal(((const uint8_t *)t->data - w.buf) % 64, 0);
    assert_ptr_equal(t->data, w.buf + w.len - 32);
    sealm_gguf_close(g);
    w_free(&w);
}

/* A vocabulary-only image may end right after its metadata, without padding. */
static void test_no_tensors_no_padding(void **state) {
    (void)state;
    gguf_writer w = {0};
    w_header(&w, 3, 0, 1);
    w_kv_str(&w, "general.architecture", "gpt2x");
    assert_true(w.len % 32 != 0);
    sealm_gguf *g = open_ok(&w);
    assert_int_equal(sealm_gguf_tensor_count(g), 0);
    assert_null(sealm_gguf_find_tensor(g, "t"));
    sealm_gguf_close(g);
    w_free(&w);

    /* And the smallest image: a header with nothing in it. */
    w_header(&w, 2, 0, 0);
    g = open_ok(&w);
    assert_int_equal(sealm_gguf_kv_count(g), 0);
    assert_int_equal(sealm_gguf_find_key(g, "general.architecture"), -1);
    sealm_gguf_close(g);
    w_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_shared_file_opens),
        cmocka_unit_test(test_stories260k_facts),
        cmocka_unit_test(test_synth_quant_types),
        cmocka_unit_test(test_open_memory_matches_open_file),
        cmocka_unit_test(test_getters_on_stories),
        cmocka_unit_test(test_getters_every_type),
        cmocka_unit_test(test_kv_format),
        cmocka_unit_test(test_type_table),
        cmocka_unit_test(test_open_file_errors),
        cmocka_unit_test(test_valid_image_opens),
        cmocka_unit_test(test_bad_magic_and_versions),
        cmocka_unit_test(test_truncated_at_every_offset),
        cmocka_unit_test(test_huge_counts),
        cmocka_unit_test(test_bad_strings_and_keys),
        cmocka_unit_test(test_bad_value_types),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_bad_tensor_shapes),
        cmocka_unit_test(test_bad_tensor_extents),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_no_tensors_no_padding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
