/* GGUF v3 writer: metadata and tensor infos collected in memory, tensor data streamed from
 * a callback into an atomically written file (ggml docs/gguf.md). */
#include "common/atomic_file.h"
#include "gguf/gguf_internal.h"

#include <stdlib.h>
#include <string.h>

enum { WRITE_ALIGNMENT = 32 };

/* A growable byte buffer holding serialized GGUF pieces. */
typedef struct byte_buf {
    uint8_t *p;
    size_t len, cap;
} byte_buf;

typedef struct tensor_info {
    char *name;
    uint32_t n_dims;
    int64_t ne[SEALM_GGUF_MAX_DIMS];
    sealm_tensor_type type;
    uint64_t offset;   /* from the start of the data section */
    uint64_t bytes;
} tensor_info;

struct sealm_gguf_writer {
    byte_buf kv;           /* every metadata entry, serialized back to back */
    uint64_t n_kv;
    char **keys;           /* for the duplicate check */
    tensor_info *tensors;
    uint64_t n_tensors;
    uint64_t data_bytes;   /* the data section so far, padded */
};

static bool buf_put(byte_buf *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) return false;
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    return true;
}

/* Little-endian stores, byte by byte (the file format is little-endian on every host). */
static bool buf_u32(byte_buf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return buf_put(b, x, 4);
}
static bool buf_u64(byte_buf *b, uint64_t v) { return buf_u32(b, (uint32_t)v) && buf_u32(b, (uint32_t)(v >> 32)); }
static bool buf_str(byte_buf *b, const char *s, size_t n) { return buf_u64(b, n) && buf_put(b, s, n); }

sealm_status sealm_gguf_writer_new(sealm_gguf_writer **out, sealm_error *err) {
    if (!out) return sealm_error_set(err, SEALM_E_INVALID, "gguf writer: NULL argument");
    *out = calloc(1, sizeof **out);
    if (!*out) return sealm_error_set(err, SEALM_E_NOMEM, "gguf writer: out of memory");
    return SEALM_OK;
}

void sealm_gguf_writer_free(sealm_gguf_writer *w) {
    if (!w) return;
    for (uint64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    for (uint64_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->keys);
    free(w->tensors);
    free(w->kv.p);
    free(w);
}

/* Checks the key is new and records it; then serializes key and type. */
static sealm_status begin_kv(sealm_gguf_writer *w, const char *key, size_t key_len, uint32_t type, sealm_error *err) {
    if (key_len == 0) return sealm_error_set(err, SEALM_E_INVALID, "gguf writer: empty metadata key");
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (strlen(w->keys[i]) == key_len && memcmp(w->keys[i], key, key_len) == 0)
            return sealm_error_set(err, SEALM_E_INVALID, "gguf writer: metadata key '%.*s' added twice",
                                   (int)(key_len > 64 ? 64 : key_len), key);
    char **keys = realloc(w->keys, (w->n_kv + 1) * sizeof *keys);
    if (!keys) return sealm_error_set(err, SEALM_E_NOMEM, "gguf writer: out of memory");
    w->keys = keys;
    char *copy = strndup(key, key_len);
    if (!copy || !buf_str(&w->kv, key, key_len) || !buf_u32(&w->kv, type)) {
        free(copy);
        return sealm_error_set(err, SEALM_E_NOMEM, "gguf writer: out of memory");
    }
    w->keys[w->n_kv++] = copy;
    return SEALM_OK;
}

static sealm_status put_scalar(sealm_gguf_writer *w, const char *key, uint32_t type, const uint8_t *bytes, size_t n,
                               sealm_error *err) {
    if (!w || !key) return sealm_error_set(err, SEALM_E_INVALID, "gguf writer: NULL argument");
    sealm_status s = begin_kv(w, key, strlen(key), type, err);
    if (s != SEALM_OK) return s;
    if (!buf_put(&w->kv, bytes, n)) return sealm_error_set(err, SEALM_E_NOMEM, "gguf writer: out of memory");
    return SEALM_OK;
}

sealm_status sealm_gguf_writer_set_u32(sealm_gguf_writer *w, const char *key, uint32_t v, sealm_error *err) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return put_scalar(w, key, SEALM_GGUF_UINT32, x, 4, err);
}

sealm_status sealm_gguf_writer_set_f32(sealm_gguf_writer *w, const char *key, float v, sealm_error *err) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    uint8_t x[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16), (uint8_t)(bits >> 24)};
    return put_scalar(w, key, SEALM_GGUF_FLOAT32, x, 4, err);
}

sealm_status sealm_gguf_writer_set_bool(sealm_gguf_writer *w, const char *key, bool v, sealm_error *err) {
    uint8_t x = v ? 1 : 0;
    return put_scalar(w, key, SEALM_GGUF_BOOL, &x, 1, err);
}

sealm_status sealm_gguf_writer_set_str(sealm_gguf_writer *w, const char *key, const char *v, sealm_error *err) {
    if (!w || !key || !v) return sealm_error_set(err, SEALM_E_INVALID, "gguf writer: NULL argument");
    sealm_status s = begin_kv(w, key, strlen(key), SEALM_GGUF_STRING, err);
    if (s != SEALM_OK) return s;
    if (!buf_str(&w->kv, v, strlen(v))) return sealm_error_set(err, SEALM_E_NOMEM, "gguf writer: out of memory");
    return SEALM_OK;
}

/* The bytes a validated entry's value spans in its image: for arrays from the element type
 * (12 bytes before the first element) to the end of the last element. */
static void kv_value_span(const sealm_gguf *g, const sealm_gguf_kv *kv, uint64_t *start, uint64_t *end) {
    if (kv->type == SEALM_GGUF_STRING) {
        *start = kv->value_pos;
        *end = kv->value_pos + 8 + sealm_gguf_le64(g->image + kv->value_pos);
    } else if (kv->type == SEALM_GGUF_ARRAY) {
        *start = kv->value_pos - 12;
        if (kv->elem_type != SEALM_GGUF_STRING) {
            *end = kv->value_pos + kv->n_elems * sealm_gguf_scalar_size(kv->elem_type);
        } else if (kv->n_elems == 0) {
            *end = kv->value_pos;
        } else {
            uint64_t last = g->str_pos[kv->first_str + kv->n_elems - 1];
            *end = last + 8 + sealm_gguf_le64(g->image + last);
        }
    } else {
        *start = kv->value_pos;
        *end = kv->value_pos + sealm_gguf_scalar_size(kv->type);
    }
}

sealm_status sealm_gguf_writer_copy_kv(sealm_gguf_writer *w, const sealm_gguf *src, uint64_t i, sealm_error *err) {
    if (!w || !src) return sealm_error_set(err, SEALM_E_INVALID, "gguf writer: NULL argument");
    if (i >= src->n_kv) return sealm_error_set(err, SEALM_E_INVALID, "gguf writer: metadata index %llu out of range",
                                               (unsigned long long)i);
    const sealm_gguf_kv *kv = &src->kvs[i];
    sealm_status s = begin_kv(w, kv->key.ptr, kv->key.len, kv->type, err);
    if (s != SEALM_OK) return s;
    uint64_t start, end;
    kv_value_span(src, kv, &start, &end);
    if (!buf_put(&w->kv, src->image + start, end - start)) return sealm_error_set(err, SEALM_E_NOMEM, "gguf writer: out of memory");
    return SEALM_OK;
}

sealm_status sealm_gguf_writer_add_tensor(sealm_gguf_writer *w, const char *name, uint32_t n_dims, const int64_t *ne,
                                          sealm_tensor_type type, sealm_error *err) {
    if (!w || !name || !ne) return sealm_error_set(err, SEALM_E_INVALID, "gguf writer: NULL argument");
    int64_t block_elems;
    size_t block_bytes;
    if (!sealm_tensor_type_block(type, &block_elems, &block_bytes))
        return sealm_error_set(err, SEALM_E_INVALID, "gguf writer: tensor '%s': unknown type %d", name, (int)type);
    if (name[0] == '\0' || n_dims < 1 || n_dims > SEALM_GGUF_MAX_DIMS)
        return sealm_error_set(err, SEALM_E_INVALID, "gguf writer: tensor '%s': empty name or %u dimensions", name, n_dims);
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] < 1 || (uint64_t)ne[d] > (UINT64_C(1) << 40) / n)
            return sealm_error_set(err, SEALM_E_INVALID, "gguf writer: tensor '%s': dimension %u out of range", name, d);
        n *= (uint64_t)ne[d];
    }
    if (ne[0] % block_elems != 0)
        return sealm_error_set(err, SEALM_E_INVALID, "gguf writer: tensor '%s': %lld columns is not a multiple of %s's "
                               "block of %lld", name, (long long)ne[0], sealm_tensor_type_name(type), (long long)block_elems);
    for (uint64_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return sealm_error_set(err, SEALM_E_INVALID, "gguf writer: tensor '%s' added twice", name);
    tensor_info *t = realloc(w->tensors, (w->n_tensors + 1) * sizeof *t);
    if (!t) return sealm_error_set(err, SEALM_E_NOMEM, "gguf writer: out of memory");
    w->tensors = t;
    tensor_info *ti = &w->tensors[w->n_tensors];
    memset(ti, 0, sizeof *ti);
    ti->name = strdup(name);
    if (!ti->name) return sealm_error_set(err, SEALM_E_NOMEM, "gguf writer: out of memory");
    ti->n_dims = n_dims;
    for (uint32_t d = 0; d < SEALM_GGUF_MAX_DIMS; d++) ti->ne[d] = d < n_dims ? ne[d] : 1;
    ti->type = type;
    ti->offset = w->data_bytes;
    ti->bytes = n / (uint64_t)block_elems * block_bytes;
    w->data_bytes += (ti->bytes + WRITE_ALIGNMENT - 1) / WRITE_ALIGNMENT * WRITE_ALIGNMENT;
    w->n_tensors++;
    return SEALM_OK;
}

uint64_t sealm_gguf_writer_tensor_bytes(const sealm_gguf_writer *w, uint64_t index) {
    return w && index < w->n_tensors ? w->tensors[index].bytes : 0;
}

/* Header, metadata and tensor infos, padded to the data section's alignment. */
static bool build_header(const sealm_gguf_writer *w, byte_buf *h) {
    bool ok = buf_put(h, "GGUF", 4) && buf_u32(h, 3) && buf_u64(h, w->n_tensors) && buf_u64(h, w->n_kv) &&
              buf_put(h, w->kv.p, w->kv.len);
    for (uint64_t i = 0; ok && i < w->n_tensors; i++) {
        const tensor_info *t = &w->tensors[i];
        ok = buf_str(h, t->name, strlen(t->name)) && buf_u32(h, t->n_dims);
        for (uint32_t d = 0; ok && d < t->n_dims; d++) ok = buf_u64(h, (uint64_t)t->ne[d]);
        ok = ok && buf_u32(h, (uint32_t)t->type) && buf_u64(h, t->offset);
    }
    static const uint8_t zeros[WRITE_ALIGNMENT];
    return ok && buf_put(h, zeros, (WRITE_ALIGNMENT - h->len % WRITE_ALIGNMENT) % WRITE_ALIGNMENT);
}

sealm_status sealm_gguf_writer_write_file(const sealm_gguf_writer *w, const char *path, bool overwrite,
                                          sealm_gguf_fill_fn fill, void *ctx, sealm_error *err) {
    if (!w || !path || !fill) return sealm_error_set(err, SEALM_E_INVALID, "gguf writer: NULL argument");
    byte_buf header = {0};
    uint64_t largest = 0;
    for (uint64_t i = 0; i < w->n_tensors; i++)
        if (w->tensors[i].bytes > largest) largest = w->tensors[i].bytes;
    /* padded to the alignment, so the zero tail after each tensor comes from the same buffer */
    size_t buf_len = (size_t)((largest + WRITE_ALIGNMENT - 1) / WRITE_ALIGNMENT * WRITE_ALIGNMENT);
    uint8_t *data = malloc(buf_len ? buf_len : 1);
    if (!data || !build_header(w, &header)) {
        free(data);
        free(header.p);
        return sealm_error_set(err, SEALM_E_NOMEM, "gguf writer: out of memory for %zu bytes", buf_len);
    }
    sealm_atomic_file f;
    sealm_status s = sealm_atomic_file_begin(&f, path, overwrite, err);
    if (s == SEALM_OK) s = sealm_atomic_file_write(&f, header.p, header.len, err);
    for (uint64_t i = 0; s == SEALM_OK && i < w->n_tensors; i++) {
        const tensor_info *t = &w->tensors[i];
        size_t padded = (size_t)((t->bytes + WRITE_ALIGNMENT - 1) / WRITE_ALIGNMENT * WRITE_ALIGNMENT);
        memset(data + t->bytes, 0, padded - t->bytes);
        s = fill(ctx, i, data, t->bytes, err);
        if (s == SEALM_OK) s = sealm_atomic_file_write(&f, data, padded, err);
    }
    if (s == SEALM_OK) s = sealm_atomic_file_commit(&f, 0644, err);
    else if (f.fd >= 0) sealm_atomic_file_abort(&f);
    free(data);
    free(header.p);
    return s;
}
