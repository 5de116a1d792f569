/* Test support: a small GGUF writer, for building valid and hostile images in tests.
 * Include after <cmocka.h> (allocation failures fail the test through assert_non_null). */
#ifndef SEALM_TESTS_GGUF_WRITER_H
#define SEALM_TESTS_GGUF_WRITER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sealm/gguf.h"

typedef struct gguf_writer {
    uint8_t *buf;
    size_t len, cap;
} gguf_writer;

static inline void w_bytes(gguf_writer *w, const void *p, size_t n) {
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n) cap *= 2;
        w->buf = realloc(w->buf, cap);
        assert_non_null(w->buf);
        w->cap = cap;
    }
    if (n) memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static inline void w_u8(gguf_writer *w, uint8_t v) { w_bytes(w, &v, 1); }

static inline void w_u32(gguf_writer *w, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    w_bytes(w, b, 4);
}

static inline void w_u64(gguf_writer *w, uint64_t v) {
    w_u32(w, (uint32_t)v);
    w_u32(w, (uint32_t)(v >> 32));
}

static inline void w_f32(gguf_writer *w, float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    w_u32(w, bits);
}

static inline void w_f64(gguf_writer *w, double d) {
    uint64_t bits;
    memcpy(&bits, &d, 8);
    w_u64(w, bits);
}

static inline void w_str(gguf_writer *w, const char *s) {
    w_u64(w, strlen(s));
    w_bytes(w, s, strlen(s));
}

static inline void w_header(gguf_writer *w, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    w_bytes(w, "GGUF", 4);
    w_u32(w, version);
    w_u64(w, n_tensors);
    w_u64(w, n_kv);
}

static inline void w_kv_u32(gguf_writer *w, const char *key, uint32_t v) {
    w_str(w, key);
    w_u32(w, SEALM_GGUF_UINT32);
    w_u32(w, v);
}

static inline void w_kv_str(gguf_writer *w, const char *key, const char *v) {
    w_str(w, key);
    w_u32(w, SEALM_GGUF_STRING);
    w_str(w, v);
}

static inline void w_tensor(gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                     uint64_t offset) {
    w_str(w, name);
    w_u32(w, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) w_u64(w, ne[d]);
    w_u32(w, type);
    w_u64(w, offset);
}

static inline void w_pad(gguf_writer *w, size_t align) {
    while (w->len % align) w_u8(w, 0);
}

/* n bytes of a recognisable pattern, so tests can check data pointers. */
static inline void w_data(gguf_writer *w, size_t n) {
    for (size_t i = 0; i < n; i++) w_u8(w, (uint8_t)(i * 7 + 1));
}

static inline void w_free(gguf_writer *w) {
    free(w->buf);
    memset(w, 0, sizeof *w);
}

/* Bytes [*start, *end) of the key/value section of a well-formed GGUF image (the test's
 * own walker, independent of the reader under test). Returns false if it cannot walk it. */
static inline bool gguf_kv_section(const uint8_t *img, size_t len, size_t *start, size_t *end) {
    size_t pos = 24;
    uint64_t n_kv;
    if (len < 24) return false;
    memcpy(&n_kv, img + 16, 8);
    for (uint64_t k = 0; k < n_kv; k++) {
        uint64_t klen;
        uint32_t type;
        if (pos + 8 > len) return false;
        memcpy(&klen, img + pos, 8);
        pos += 8 + klen;
        if (pos + 4 > len) return false;
        memcpy(&type, img + pos, 4);
        pos += 4;
        static const size_t scalar_size[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
        uint64_t n = 1;
        uint32_t elem = type;
        if (type == SEALM_GGUF_ARRAY) {
            if (pos + 12 > len) return false;
            memcpy(&elem, img + pos, 4);
            memcpy(&n, img + pos + 4, 8);
            pos += 12;
        }
        if (elem > 12 || elem == SEALM_GGUF_ARRAY) return false;
        for (uint64_t i = 0; i < n; i++) {
            if (elem == SEALM_GGUF_STRING) {
                uint64_t slen;
                if (pos + 8 > len) return false;
                memcpy(&slen, img + pos, 8);
                pos += 8 + slen;
            } else {
                pos += scalar_size[elem];
            }
            if (pos > len) return false;
        }
    }
    *start = 24;
    *end = pos;
    return true;
}

#endif
