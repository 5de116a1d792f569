/* Tests of the GGUF writer (sealm_gguf_writer_*): what it writes, the reader reads back
 * exactly — metadata of every kind it writes, entries copied from a real model byte for
 * byte, tensor shapes, types, offsets and data — and it refuses what the reader would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sealm/gguf.h"

#define STORIES SEALM_SHARED_DIR "/models/stories260K.gguf"

/* Tensor i's data: bytes (i·31 + k) mod 251, so each tensor's content is its own. */
static sealm_status fill_pattern(void *ctx, uint64_t index, void *dst, uint64_t size, sealm_error *err) {
    (void)err;
    int *calls = ctx;
    (*calls)++;
    for (uint64_t k = 0; k < size; k++) ((uint8_t *)dst)[k] = (uint8_t)((index * 31 + k) % 251);
    return SEALM_OK;
}

static sealm_status fill_fails(void *ctx, uint64_t index, void *dst, uint64_t size, sealm_error *err) {
    (void)ctx, (void)dst, (void)size;
    if (index == 1) return sealm_error_set(err, SEALM_E_IO, "fill failed on purpose");
    return SEALM_OK;
}

static void temp_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "/tmp/sealm-test-writer-%d-%s", (int)getpid(), name);
    unlink(buf);
}

static void test_round_trip(void **state) {
    (void)state;
    sealm_error err = {0};
    sealm_gguf *src = NULL;
    assert_int_equal(sealm_gguf_open_file(STORIES, &src, &err), SEALM_OK);
    sealm_gguf_writer *w = NULL;
    assert_int_equal(sealm_gguf_writer_new(&w, &err), SEALM_OK);
    assert_int_equal(sealm_gguf_writer_set_str(w, "general.architecture", "llama", &err), SEALM_OK);
    assert_int_equal(sealm_gguf_writer_set_u32(w, "t.u32", 123456789u, &err), SEALM_OK);
    assert_int_equal(sealm_gguf_writer_set_f32(w, "t.f32", -0.375f, &err), SEALM_OK);
    assert_int_equal(sealm_gguf_writer_set_bool(w, "t.bool", true, &err), SEALM_OK);
    /* every tokenizer entry of a real model: string, u32, string array, f32 and i32 arrays */
    uint64_t copied = 0;
    for (uint64_t i = 0; i < sealm_gguf_kv_count(src); i++) {
        sealm_gguf_str k = sealm_gguf_kv_key(src, i);
        if (k.len > 10 && memcmp(k.ptr, "tokenizer.", 10) == 0) {
            assert_int_equal(sealm_gguf_writer_copy_kv(w, src, i, &err), SEALM_OK);
            copied++;
        }
    }
    assert_true(copied >= 5);
    int64_t ne_a[2] = {64, 3}, ne_b[1] = {256}, ne_c[2] = {32, 5};
    assert_int_equal(sealm_gguf_writer_add_tensor(w, "a.weight", 2, ne_a, SEALM_TYPE_F32, &err), SEALM_OK);
    assert_int_equal(sealm_gguf_writer_add_tensor(w, "b.weight", 1, ne_b, SEALM_TYPE_Q4_K, &err), SEALM_OK);
    assert_int_equal(sealm_gguf_writer_add_tensor(w, "c.weight", 2, ne_c, SEALM_TYPE_Q8_0, &err), SEALM_OK);
    assert_int_equal(sealm_gguf_writer_tensor_bytes(w, 0), 64 * 3 * 4);
    assert_int_equal(sealm_gguf_writer_tensor_bytes(w, 1), 144);
    assert_int_equal(sealm_gguf_writer_tensor_bytes(w, 2), 5 * 34);
    assert_int_equal(sealm_gguf_writer_tensor_bytes(w, 3), 0);

    char path[256];
    temp_path(path, sizeof path, "rt.gguf");
    int calls = 0;
    assert_int_equal(sealm_gguf_writer_write_file(w, path, false, fill_pattern, &calls, &err), SEALM_OK);
    assert_int_equal(calls, 3);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    sealm_gguf *g = NULL;
    assert_int_equal(sealm_gguf_open_file(path, &g, &err), SEALM_OK);
    assert_int_equal(sealm_gguf_version(g), 3);
    assert_int_equal(sealm_gguf_kv_count(g), 4 + copied);
    uint32_t u;
    float f;
    bool b;
    sealm_gguf_str s;
    assert_int_equal(sealm_gguf_get_str(g, "general.architecture", &s), SEALM_OK);
    assert_true(s.len == 5 && memcmp(s.ptr, "llama", 5) == 0);
    assert_int_equal(sealm_gguf_get_u32(g, "t.u32", &u), SEALM_OK);
    assert_int_equal(u, 123456789u);
    assert_int_equal(sealm_gguf_get_f32(g, "t.f32", &f), SEALM_OK);
    assert_true(f == -0.375f);
    assert_int_equal(sealm_gguf_get_bool(g, "t.bool", &b), SEALM_OK);
    assert_true(b);
    /* the copied entries: same types, same values */
    for (uint64_t i = 0; i < sealm_gguf_kv_count(src); i++) {
        sealm_gguf_str k = sealm_gguf_kv_key(src, i);
        if (!(k.len > 10 && memcmp(k.ptr, "tokenizer.", 10) == 0)) continue;
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)k.len, k.ptr);
        int64_t j = sealm_gguf_find_key(g, key);
        assert_true(j >= 0);
        assert_int_equal(sealm_gguf_kv_type(g, (uint64_t)j), sealm_gguf_kv_type(src, i));
        char a[256], c[256];
        sealm_gguf_kv_format(src, i, a, sizeof a, 200);
        sealm_gguf_kv_format(g, (uint64_t)j, c, sizeof c, 200);
        assert_string_equal(a, c);
    }
    uint64_t n_tok = 0, n_tok2 = 0;
    sealm_gguf_value_type et;
    assert_int_equal(sealm_gguf_get_arr(src, "tokenizer.ggml.tokens", &et, &n_tok), SEALM_OK);
    assert_int_equal(sealm_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n_tok2), SEALM_OK);
    assert_int_equal(n_tok, n_tok2);
    for (uint64_t i = 0; i < n_tok; i += 37) {
        sealm_gguf_str x, y;
        assert_int_equal(sealm_gguf_arr_str(src, "tokenizer.ggml.tokens", i, &x), SEALM_OK);
        assert_int_equal(sealm_gguf_arr_str(g, "tokenizer.ggml.tokens", i, &y), SEALM_OK);
        assert_true(x.len == y.len && memcmp(x.ptr, y.ptr, x.len) == 0);
    }
    float *sx = malloc(n_tok * sizeof *sx), *sy = malloc(n_tok * sizeof *sy);
    assert_non_null(sx);
    assert_non_null(sy);
    assert_int_equal(sealm_gguf_arr_f32(src, "tokenizer.ggml.scores", sx, n_tok), SEALM_OK);
    assert_int_equal(sealm_gguf_arr_f32(g, "tokenizer.ggml.scores", sy, n_tok), SEALM_OK);
    assert_memory_equal(sx, sy, n_tok * sizeof *sx);
    free(sx);
    free(sy);

    /* tensors: order, shapes, types, 32-byte aligned data, the bytes fill gave */
    assert_int_equal(sealm_gguf_tensor_count(g), 3);
    const char *names[3] = {"a.weight", "b.weight", "c.weight"};
    const sealm_tensor_type types[3] = {SEALM_TYPE_F32, SEALM_TYPE_Q4_K, SEALM_TYPE_Q8_0};
    for (uint64_t i = 0; i < 3; i++) {
        const sealm_gguf_tensor *t = sealm_gguf_tensor_at(g, i);
        assert_true(t->name.len == strlen(names[i]) && memcmp(t->name.ptr, names[i], t->name.len) == 0);
        assert_int_equal(t->type, types[i]);
        assert_int_equal(t->size_bytes, i == 0 ? 768 : i == 1 ? 144 : 170);
        assert_int_equal(t->offset % 32, 0);
        for (uint64_t k = 0; k < t->size_bytes; k++)
            assert_int_equal(((const uint8_t *)t->data)[k], (uint8_t)((i * 31 + k) % 251));
    }
    assert_int_equal(sealm_gguf_tensor_at(g, 1)->ne[0], 256);
    assert_int_equal(sealm_gguf_tensor_at(g, 2)->ne[1], 5);
    assert_int_equal(sealm_gguf_tensor_at(g, 2)->n_dims, 2);
    sealm_gguf_close(g);

    /* an existing file is never replaced without overwrite, and a failing fill leaves the
     * old file as it was */
    calls = 0;
    assert_int_equal(sealm_gguf_writer_write_file(w, path, false, fill_pattern, &calls, &err), SEALM_E_IO);
    assert_non_null(strstr(err.message, "exists"));
    assert_int_equal(sealm_gguf_writer_write_file(w, path, true, fill_fails, NULL, &err), SEALM_E_IO);
    assert_non_null(strstr(err.message, "on purpose"));
    assert_int_equal(sealm_gguf_open_file(path, &g, &err), SEALM_OK);
    assert_int_equal(sealm_gguf_tensor_count(g), 3);
    sealm_gguf_close(g);
    unlink(path);
    sealm_gguf_writer_free(w);
    sealm_gguf_close(src);
}

static void test_refusals(void **state) {
    (void)state;
    sealm_error err = {0};
    sealm_gguf_writer *w = NULL;
    assert_int_equal(sealm_gguf_writer_new(&w, &err), SEALM_OK);
    assert_int_equal(sealm_gguf_writer_set_u32(w, "k", 1, &err), SEALM_OK);
    assert_int_equal(sealm_gguf_writer_set_str(w, "k", "again", &err), SEALM_E_INVALID);
    assert_int_equal(sealm_gguf_writer_set_u32(w, "", 1, &err), SEALM_E_INVALID);
    int64_t ok[2] = {32, 2}, odd[2] = {33, 2}, zero[2] = {32, 0};
    assert_int_equal(sealm_gguf_writer_add_tensor(w, "t", 2, ok, SEALM_TYPE_Q4_0, &err), SEALM_OK);
    assert_int_equal(sealm_gguf_writer_add_tensor(w, "t", 2, ok, SEALM_TYPE_Q4_0, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_gguf_writer_add_tensor(w, "u", 2, odd, SEALM_TYPE_Q4_0, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_gguf_writer_add_tensor(w, "u", 2, zero, SEALM_TYPE_F32, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_gguf_writer_add_tensor(w, "u", 5, ok, SEALM_TYPE_F32, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_gguf_writer_add_tensor(w, "u", 2, ok, (sealm_tensor_type)4, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_gguf_writer_add_tensor(w, "", 2, ok, SEALM_TYPE_F32, &err), SEALM_E_INVALID);
    sealm_gguf *g = NULL;
    assert_int_equal(sealm_gguf_open_file(STORIES, &g, &err), SEALM_OK);
    assert_int_equal(sealm_gguf_writer_copy_kv(w, g, sealm_gguf_kv_count(g), &err), SEALM_E_INVALID);
    sealm_gguf_close(g);
    char path[256];
    temp_path(path, sizeof path, "missing-dir/x.gguf");
    int calls = 0;
    assert_int_equal(sealm_gguf_writer_write_file(w, path, false, fill_pattern, &calls, &err), SEALM_E_IO);
    sealm_gguf_writer_free(w);
    sealm_gguf_writer_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
