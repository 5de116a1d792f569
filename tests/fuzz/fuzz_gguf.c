/* libFuzzer target for the GGUF reader: any input must either be rejected with an error
 * or open into a handle whose every accessor stays inside the image (ASan/UBSan watch). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sealm/gguf.h"

/* Keeps the compiler from dropping reads whose results are otherwise unused. */
static volatile uint8_t sink;

static void walk_array(const sealm_gguf *g, const char *key) {
    sealm_gguf_value_type et;
    uint64_t n;
    if (sealm_gguf_get_arr(g, key, &et, &n) != SEALM_OK) abort();
    if (et == SEALM_GGUF_STRING) {
        for (uint64_t e = 0; e < n; e++) {
            sealm_gguf_str s;
            if (sealm_gguf_arr_str(g, key, e, &s) != SEALM_OK) abort();
            if (s.len) sink ^= (uint8_t)(s.ptr[0] ^ s.ptr[s.len - 1]);
        }
        sealm_gguf_str s;
        if (sealm_gguf_arr_str(g, key, n, &s) != SEALM_E_INVALID) abort();
        return;
    }
    /* Numeric arrays: read through both converters (bounded, so huge arrays stay fast). */
    if (n > (1u << 16)) return;
    float *f = malloc((n ? n : 1) * sizeof *f);
    int32_t *i = malloc((n ? n : 1) * sizeof *i);
    if (f && i) {
        sealm_status st = sealm_gguf_arr_f32(g, key, f, n);
        if (st != SEALM_OK && st != SEALM_E_TYPE) abort();
        st = sealm_gguf_arr_i32(g, key, i, n);
        if (st != SEALM_OK && st != SEALM_E_TYPE) abort();
    }
    free(f);
    free(i);
}

static void walk_kv(const sealm_gguf *g, uint64_t k) {
    sealm_gguf_str key = sealm_gguf_kv_key(g, k);
    char text[96];
    sealm_gguf_kv_format(g, k, text, sizeof text, 24);
    sealm_gguf_kv_format(g, k, text, 7, 0);
    /* Getters look keys up by C string, so keys holding a NUL cannot be asked for. */
    char name[1024];
    if (key.len >= sizeof name || memchr(key.ptr, 0, key.len)) return;
    memcpy(name, key.ptr, key.len);
    name[key.len] = '\0';
    if (sealm_gguf_find_key(g, name) != (int64_t)k) abort(); /* duplicates were rejected */
    uint32_t u;
    int64_t i64;
    float f;
    bool b;
    sealm_gguf_str s;
    (void)sealm_gguf_get_u32(g, name, &u);
    (void)sealm_gguf_get_i64(g, name, &i64);
    (void)sealm_gguf_get_f32(g, name, &f);
    (void)sealm_gguf_get_bool(g, name, &b);
    if (sealm_gguf_get_str(g, name, &s) == SEALM_OK && s.len) sink ^= (uint8_t)s.ptr[s.len - 1];
    if (sealm_gguf_kv_type(g, k) == SEALM_GGUF_ARRAY) walk_array(g, name);
}

static void walk_tensor(const sealm_gguf *g, uint64_t t_index) {
    const sealm_gguf_tensor *t = sealm_gguf_tensor_at(g, t_index);
    if (!t || t->size_bytes == 0) abort();
    const uint8_t *data = t->data;
    sink ^= data[0];
    sink ^= data[t->size_bytes - 1];
    char name[1024];
    if (t->name.len >= sizeof name || memchr(t->name.ptr, 0, t->name.len)) return;
    memcpy(name, t->name.ptr, t->name.len);
    name[t->name.len] = '\0';
    if (sealm_gguf_find_tensor(g, name) != t) abort(); /* duplicates were rejected */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A private, exactly-sized copy, so ASan catches any read past the end. */
    uint8_t *image = malloc(size ? size : 1);
    if (!image) return 0;
    if (size) memcpy(image, data, size);
    sealm_gguf *g = NULL;
    sealm_error err;
    if (sealm_gguf_open_memory(image, size, &g, &err) == SEALM_OK) {
        for (uint64_t k = 0; k < sealm_gguf_kv_count(g); k++) walk_kv(g, k);
        for (uint64_t t = 0; t < sealm_gguf_tensor_count(g); t++) walk_tensor(g, t);
        sealm_gguf_close(g);
    } else if (g != NULL || err.message[0] == '\0') {
        abort(); /* a failure must return nothing and say why */
    }
    free(image);
    return 0;
}
