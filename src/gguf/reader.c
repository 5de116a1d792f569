/* Parsing and validation of a GGUF image held in memory.
 *
 * Layout (little-endian): "GGUF", u32 version, u64 n_tensors, u64 n_kv; n_kv key/value
 * pairs; n_tensors tensor infos; padding up to general.alignment; the data section.
 * The image is hostile until proven otherwise: every count is bounded by the bytes left
 * before anything is allocated from it, every length and offset is checked with
 * overflow-safe arithmetic, and the accessors only ever read what was checked here. */
#include "gguf_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_ALIGNMENT (UINT64_C(1) << 30)
#define GGUF_MAX_KEY_BYTES 65536
#define GGUF_MAX_TENSOR_NAME_BYTES 65536

/* Smallest encodings, to bound counts by the bytes left: a kv is a key (u64 length and at
 * least one byte), a u32 value type and at least one value byte; a tensor info is a name
 * (u64 length and at least one byte), u32 n_dims, at least one u64 ne, u32 type, u64 offset. */
#define GGUF_MIN_KV_BYTES (8 + 1 + 4 + 1)
#define GGUF_MIN_TENSOR_INFO_BYTES (8 + 1 + 4 + 8 + 4 + 8)

/* Read position in the image. Invariant: pos <= len. */
typedef struct gguf_cursor {
    const uint8_t *buf;
    size_t len;
    size_t pos;
} gguf_cursor;

static size_t cursor_left(const gguf_cursor *c) { return c->len - c->pos; }

static bool cursor_u32(gguf_cursor *c, uint32_t *v) {
    if (cursor_left(c) < 4) return false;
    *v = sealm_gguf_le32(c->buf + c->pos);
    c->pos += 4;
    return true;
}

static bool cursor_u64(gguf_cursor *c, uint64_t *v) {
    if (cursor_left(c) < 8) return false;
    *v = sealm_gguf_le64(c->buf + c->pos);
    c->pos += 8;
    return true;
}

static sealm_status truncated(sealm_error *err, const gguf_cursor *c, const char *what, uint64_t index) {
    return sealm_error_set(err, SEALM_E_FORMAT,
                           "GGUF image truncated: %s %" PRIu64 " needs more bytes at offset 0x%zx than "
                           "the %zu left (image size %zu); the file is incomplete or corrupt",
                           what, index, c->pos, cursor_left(c), c->len);
}

/* "kv 3 'general.name'" for messages, with the key made printable. */
static const char *kv_label(const sealm_gguf_kv *kv, uint64_t i, char *buf, size_t cap) {
    char key[72];
    sealm_gguf_printable(kv->key, key, sizeof key);
    snprintf(buf, cap, "kv %" PRIu64 " '%s'", i, key);
    return buf;
}

static const char *tensor_label(const sealm_gguf_tensor *t, uint64_t i, char *buf, size_t cap) {
    char name[72];
    sealm_gguf_printable(t->name, name, sizeof name);
    snprintf(buf, cap, "tensor %" PRIu64 " '%s'", i, name);
    return buf;
}

/* ---- header ---- */

static sealm_status parse_header(gguf_cursor *c, sealm_gguf *g, uint64_t *n_tensors, uint64_t *n_kv,
                                 sealm_error *err) {
    if (c->len < 4 || memcmp(c->buf, "GGUF", 4) != 0) {
        char first[8];
        sealm_gguf_str head = {(const char *)c->buf, c->len < 4 ? c->len : 4};
        sealm_gguf_printable(head, first, sizeof first);
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "not a GGUF image: it starts with '%s' (%zu bytes in all), not the magic 'GGUF'",
                               first, c->len);
    }
    c->pos = 4;
    if (!cursor_u32(c, &g->version)) return truncated(err, c, "header field", 1);
    if (g->version == 1)
        return sealm_error_set(err, SEALM_E_UNSUPPORTED,
                               "GGUF version 1 is not supported (only 2 and 3): re-convert the model "
                               "with a current GGUF converter");
    if (g->version == 0x02000000u || g->version == 0x03000000u)
        return sealm_error_set(err, SEALM_E_UNSUPPORTED,
                               "this GGUF image is big-endian; only little-endian GGUF is supported");
    if (g->version != 2 && g->version != 3)
        return sealm_error_set(err, SEALM_E_UNSUPPORTED,
                               "GGUF version %" PRIu32 " is not supported (only 2 and 3)", g->version);
    if (!cursor_u64(c, n_tensors)) return truncated(err, c, "header field", 2);
    if (!cursor_u64(c, n_kv)) return truncated(err, c, "header field", 3);
    if (*n_kv > cursor_left(c) / GGUF_MIN_KV_BYTES)
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "GGUF header claims %" PRIu64 " metadata pairs but only %zu bytes follow "
                               "(each takes at least %d): the file is corrupt or truncated",
                               *n_kv, cursor_left(c), GGUF_MIN_KV_BYTES);
    if (*n_tensors > cursor_left(c) / GGUF_MIN_TENSOR_INFO_BYTES)
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "GGUF header claims %" PRIu64 " tensors but only %zu bytes follow "
                               "(each tensor info takes at least %d): the file is corrupt or truncated",
                               *n_tensors, cursor_left(c), GGUF_MIN_TENSOR_INFO_BYTES);
    return SEALM_OK;
}

/* ---- metadata ---- */

static sealm_status parse_kv_key(gguf_cursor *c, sealm_gguf_kv *kv, uint64_t i, sealm_error *err) {
    uint64_t n;
    size_t at = c->pos;
    if (!cursor_u64(c, &n)) return truncated(err, c, "key length of kv", i);
    if (n == 0)
        return sealm_error_set(err, SEALM_E_FORMAT, "kv %" PRIu64 ": empty key at offset 0x%zx", i, at);
    if (n > GGUF_MAX_KEY_BYTES || n > cursor_left(c))
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "kv %" PRIu64 ": key length %" PRIu64 " at offset 0x%zx is larger than "
                               "the %zu bytes left (limit %d): the file is corrupt",
                               i, n, at, cursor_left(c), GGUF_MAX_KEY_BYTES);
    kv->key.ptr = (const char *)(c->buf + c->pos);
    kv->key.len = n;
    c->pos += (size_t)n;
    return SEALM_OK;
}

/* Checks a bool byte: GGUF writes 0 or 1, anything else means the image is corrupt. */
static sealm_status check_bool(const gguf_cursor *c, const sealm_gguf_kv *kv, uint64_t i, size_t at,
                               sealm_error *err) {
    if (c->buf[at] <= 1) return SEALM_OK;
    char label[112];
    return sealm_error_set(err, SEALM_E_FORMAT, "%s: bool value %u at offset 0x%zx is neither 0 nor 1",
                           kv_label(kv, i, label, sizeof label), c->buf[at], at);
}

/* Walks the n string elements of an array, checking every length; leaves the cursor after them. */
static sealm_status walk_string_array(gguf_cursor *c, const sealm_gguf_kv *kv, uint64_t i, sealm_error *err) {
    for (uint64_t e = 0; e < kv->n_elems; e++) {
        uint64_t n;
        size_t at = c->pos;
        char label[112];
        if (!cursor_u64(c, &n))
            return sealm_error_set(err, SEALM_E_FORMAT,
                                   "%s: string element %" PRIu64 " of %" PRIu64 " is cut off at offset 0x%zx "
                                   "(image size %zu): the file is truncated",
                                   kv_label(kv, i, label, sizeof label), e, kv->n_elems, at, c->len);
        if (n > cursor_left(c))
            return sealm_error_set(err, SEALM_E_FORMAT,
                                   "%s: string element %" PRIu64 " at offset 0x%zx has length %" PRIu64
                                   " but only %zu bytes are left: the file is corrupt or truncated",
                                   kv_label(kv, i, label, sizeof label), e, at, n, cursor_left(c));
        c->pos += (size_t)n;
    }
    return SEALM_OK;
}

static sealm_status parse_kv_array(gguf_cursor *c, sealm_gguf_kv *kv, uint64_t i, sealm_error *err) {
    char label[112];
    uint32_t elem_type;
    if (!cursor_u32(c, &elem_type)) return truncated(err, c, "array element type of kv", i);
    if (elem_type == SEALM_GGUF_ARRAY)
        return sealm_error_set(err, SEALM_E_UNSUPPORTED, "%s: arrays of arrays are not supported",
                               kv_label(kv, i, label, sizeof label));
    if (elem_type > SEALM_GGUF_FLOAT64)
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "%s: unknown array element type %" PRIu32 " at offset 0x%zx (GGUF defines 0..12)",
                               kv_label(kv, i, label, sizeof label), elem_type, c->pos - 4);
    kv->elem_type = (sealm_gguf_value_type)elem_type;
    if (!cursor_u64(c, &kv->n_elems)) return truncated(err, c, "array length of kv", i);
    kv->value_pos = c->pos;

    /* Bound the count by the bytes left before walking (a string takes at least its u64 length). */
    size_t elem_min = elem_type == SEALM_GGUF_STRING ? 8 : sealm_gguf_scalar_size(elem_type);
    if (kv->n_elems > cursor_left(c) / elem_min)
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "%s: array of %" PRIu64 " %s elements at offset 0x%zx needs at least %zu bytes "
                               "each but only %zu bytes are left: the file is corrupt or truncated",
                               kv_label(kv, i, label, sizeof label), kv->n_elems,
                               sealm_gguf_value_type_name(elem_type), c->pos, elem_min, cursor_left(c));
    if (elem_type == SEALM_GGUF_STRING) return walk_string_array(c, kv, i, err);
    if (elem_type == SEALM_GGUF_BOOL)
        for (uint64_t e = 0; e < kv->n_elems; e++) {
            sealm_status st = check_bool(c, kv, i, c->pos + (size_t)e, err);
            if (st != SEALM_OK) return st;
        }
    c->pos += (size_t)(kv->n_elems * elem_min);
    return SEALM_OK;
}

static sealm_status parse_kv_value(gguf_cursor *c, sealm_gguf_kv *kv, uint64_t i, sealm_error *err) {
    char label[112];
    uint32_t type;
    if (!cursor_u32(c, &type)) return truncated(err, c, "value type of kv", i);
    if (type > SEALM_GGUF_FLOAT64)
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "%s: unknown value type %" PRIu32 " at offset 0x%zx (GGUF defines 0..12)",
                               kv_label(kv, i, label, sizeof label), type, c->pos - 4);
    kv->type = (sealm_gguf_value_type)type;
    kv->value_pos = c->pos;
    if (type == SEALM_GGUF_ARRAY) return parse_kv_array(c, kv, i, err);
    if (type == SEALM_GGUF_STRING) {
        uint64_t n;
        if (!cursor_u64(c, &n)) return truncated(err, c, "string length of kv", i);
        if (n > cursor_left(c))
            return sealm_error_set(err, SEALM_E_FORMAT,
                                   "%s: string length %" PRIu64 " at offset 0x%zx exceeds the %zu bytes left "
                                   "(image size %zu): the file is corrupt or truncated",
                                   kv_label(kv, i, label, sizeof label), n, c->pos - 8, cursor_left(c), c->len);
        c->pos += (size_t)n;
        return SEALM_OK;
    }
    size_t size = sealm_gguf_scalar_size(type);
    if (cursor_left(c) < size) return truncated(err, c, "value of kv", i);
    if (type == SEALM_GGUF_BOOL) {
        sealm_status st = check_bool(c, kv, i, c->pos, err);
        if (st != SEALM_OK) return st;
    }
    c->pos += size;
    return SEALM_OK;
}

static int kv_ptr_cmp(const void *a, const void *b) {
    const sealm_gguf_kv *x = *(const sealm_gguf_kv *const *)a, *y = *(const sealm_gguf_kv *const *)b;
    return sealm_gguf_str_cmp(x->key, y->key);
}

/* Sorts the key index for sealm_gguf_find_key and rejects a key that appears twice (which
 * one a lookup found would otherwise depend on the sort). */
static sealm_status index_keys(sealm_gguf *g, sealm_error *err) {
    for (uint64_t i = 0; i < g->n_kv; i++) g->kv_by_key[i] = &g->kvs[i];
    if (g->n_kv > 1) qsort(g->kv_by_key, (size_t)g->n_kv, sizeof g->kv_by_key[0], kv_ptr_cmp);
    for (uint64_t i = 1; i < g->n_kv; i++) {
        const sealm_gguf_kv *a = g->kv_by_key[i - 1], *b = g->kv_by_key[i];
        if (sealm_gguf_str_cmp(a->key, b->key) == 0) {
            char key[72];
            sealm_gguf_printable(a->key, key, sizeof key);
            uint64_t ia = (uint64_t)(a - g->kvs), ib = (uint64_t)(b - g->kvs);
            return sealm_error_set(err, SEALM_E_FORMAT, "metadata key '%s' appears twice (kv %" PRIu64
                                   " and kv %" PRIu64 "): the file is corrupt",
                                   key, ia < ib ? ia : ib, ia < ib ? ib : ia);
        }
    }
    return SEALM_OK;
}

static sealm_status parse_metadata(gguf_cursor *c, sealm_gguf *g, sealm_error *err) {
    for (uint64_t i = 0; i < g->n_kv; i++) {
        sealm_gguf_kv *kv = &g->kvs[i];
        sealm_status st = parse_kv_key(c, kv, i, err);
        if (st == SEALM_OK) st = parse_kv_value(c, kv, i, err);
        if (st != SEALM_OK) return st;
        if (kv->type == SEALM_GGUF_ARRAY && kv->elem_type == SEALM_GGUF_STRING) {
            kv->first_str = g->n_str_elems;
            g->n_str_elems += kv->n_elems; /* cannot overflow: each element took 8 distinct bytes */
        }
    }
    return index_keys(g, err);
}

/* Records where every string array element starts, so that element i is found in O(1).
 * Lengths were checked by walk_string_array, so this walk needs no checks. */
static sealm_status index_string_arrays(sealm_gguf *g, sealm_error *err) {
    if (g->n_str_elems == 0) return SEALM_OK;
    g->str_pos = malloc((size_t)g->n_str_elems * sizeof g->str_pos[0]);
    if (!g->str_pos)
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory indexing %" PRIu64 " string array elements",
                               g->n_str_elems);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const sealm_gguf_kv *kv = &g->kvs[i];
        if (kv->type != SEALM_GGUF_ARRAY || kv->elem_type != SEALM_GGUF_STRING) continue;
        uint64_t pos = kv->value_pos;
        for (uint64_t e = 0; e < kv->n_elems; e++) {
            g->str_pos[kv->first_str + e] = pos;
            pos += 8 + sealm_gguf_le64(g->image + pos);
        }
    }
    return SEALM_OK;
}

/* general.alignment: an unsigned power of two; 32 when absent. */
static sealm_status read_alignment(sealm_gguf *g, sealm_error *err) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t i = sealm_gguf_find_key(g, "general.alignment");
    if (i < 0) return SEALM_OK;
    const sealm_gguf_kv *kv = &g->kvs[i];
    uint64_t value;
    bool is_signed;
    if (kv->type == SEALM_GGUF_BOOL || !sealm_gguf_read_integer(g->image + kv->value_pos, kv->type, &value, &is_signed))
        return sealm_error_set(err, SEALM_E_FORMAT, "general.alignment (kv %" PRId64 ") has type %s; "
                               "it must be an unsigned integer (u32)", i, sealm_gguf_value_type_name(kv->type));
    if ((is_signed && (int64_t)value <= 0) || value == 0 || (value & (value - 1)) != 0 ||
        value > GGUF_MAX_ALIGNMENT) {
        char shown[32];
        if (is_signed) snprintf(shown, sizeof shown, "%" PRId64, (int64_t)value);
        else snprintf(shown, sizeof shown, "%" PRIu64, value);
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "general.alignment is %s; it must be a power of two between 1 and %" PRIu64,
                               shown, GGUF_MAX_ALIGNMENT);
    }
    g->alignment = value;
    return SEALM_OK;
}

/* ---- tensor infos ---- */

/* Shape: 1..4 dims, each >= 1, element count within int64, ne[0] whole blocks; then the
 * byte size. Also the type, since the block size depends on it. */
static sealm_status check_tensor_shape(sealm_gguf_tensor *t, uint64_t i, uint32_t type, sealm_error *err) {
    char label[112];
    int64_t block_elems;
    size_t block_bytes;
    if (!sealm_tensor_type_block((sealm_tensor_type)type, &block_elems, &block_bytes))
        return sealm_error_set(err, SEALM_E_UNSUPPORTED,
                               "%s: tensor type %" PRIu32 " (%s) is not supported; supported types are F32, "
                               "F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1 and Q2_K..Q8_K",
                               tensor_label(t, i, label, sizeof label), type, sealm_gguf_ggml_type_name(type));
    t->type = (sealm_tensor_type)type;
    if (t->ne[0] % block_elems != 0)
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "%s: first dimension %" PRId64 " is not a multiple of the %s block size %" PRId64,
                               tensor_label(t, i, label, sizeof label), t->ne[0], sealm_tensor_type_name(t->type),
                               block_elems);
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (n_elements > (uint64_t)INT64_MAX / (uint64_t)t->ne[d])
            return sealm_error_set(err, SEALM_E_FORMAT,
                                   "%s: shape overflows: the product of its dimensions exceeds 2^63",
                                   tensor_label(t, i, label, sizeof label));
        n_elements *= (uint64_t)t->ne[d];
    }
    uint64_t n_blocks = n_elements / (uint64_t)block_elems;
    if (n_blocks > UINT64_MAX / block_bytes)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s: data size overflows 64 bits",
                               tensor_label(t, i, label, sizeof label));
    t->size_bytes = n_blocks * block_bytes;
    return SEALM_OK;
}

static sealm_status parse_tensor_info(gguf_cursor *c, sealm_gguf *g, uint64_t i, sealm_error *err) {
    sealm_gguf_tensor *t = &g->tensors[i];
    char label[112];
    uint64_t name_len;
    size_t at = c->pos;
    if (!cursor_u64(c, &name_len)) return truncated(err, c, "name length of tensor", i);
    if (name_len == 0 || name_len > GGUF_MAX_TENSOR_NAME_BYTES || name_len > cursor_left(c))
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "tensor %" PRIu64 ": name length %" PRIu64 " at offset 0x%zx is out of range "
                               "(1..%d, and %zu bytes are left): the file is corrupt or truncated",
                               i, name_len, at, GGUF_MAX_TENSOR_NAME_BYTES, cursor_left(c));
    t->name.ptr = (const char *)(c->buf + c->pos);
    t->name.len = name_len;
    c->pos += (size_t)name_len;

    if (!cursor_u32(c, &t->n_dims)) return truncated(err, c, "n_dims of tensor", i);
    if (t->n_dims < 1 || t->n_dims > SEALM_GGUF_MAX_DIMS)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s: has %" PRIu32 " dimensions; GGUF allows 1 to %d",
                               tensor_label(t, i, label, sizeof label), t->n_dims, SEALM_GGUF_MAX_DIMS);
    for (uint32_t d = 0; d < SEALM_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne;
        if (!cursor_u64(c, &ne)) return truncated(err, c, "shape of tensor", i);
        if (ne == 0 || ne > (uint64_t)INT64_MAX)
            return sealm_error_set(err, SEALM_E_FORMAT, "%s: dimension %" PRIu32 " is %" PRIu64
                                   "; every dimension must be between 1 and 2^63-1",
                                   tensor_label(t, i, label, sizeof label), d, ne);
        t->ne[d] = (int64_t)ne;
    }
    uint32_t type;
    if (!cursor_u32(c, &type)) return truncated(err, c, "type of tensor", i);
    sealm_status st = check_tensor_shape(t, i, type, err);
    if (st != SEALM_OK) return st;
    if (!cursor_u64(c, &t->offset)) return truncated(err, c, "data offset of tensor", i);
    if (t->offset % g->alignment != 0)
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "%s: data offset 0x%" PRIx64 " is not a multiple of the alignment %" PRIu64,
                               tensor_label(t, i, label, sizeof label), t->offset, g->alignment);
    return SEALM_OK;
}

/* Data extents: inside the image (overflow-safe) and pairwise disjoint. */
static sealm_status check_tensor_extents(sealm_gguf *g, sealm_error *err) {
    char label[112];
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        sealm_gguf_tensor *t = &g->tensors[i];
        uint64_t room = g->data_pos <= g->len ? g->len - g->data_pos : 0;
        if (g->data_pos > g->len || t->offset > room || t->size_bytes > room - t->offset)
            return sealm_error_set(err, SEALM_E_FORMAT,
                                   "%s: data [offset 0x%" PRIx64 ", %" PRIu64 " bytes] extends past end of file "
                                   "(data section starts at 0x%" PRIx64 ", size %zu): the file is truncated or corrupt",
                                   tensor_label(t, i, label, sizeof label), t->offset, t->size_bytes,
                                   g->data_pos, g->len);
        t->data = g->image + g->data_pos + t->offset;
    }
    return SEALM_OK;
}

static int tensor_offset_cmp(const void *a, const void *b) {
    const sealm_gguf_tensor *x = *(const sealm_gguf_tensor *const *)a, *y = *(const sealm_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset ? 1 : 0;
}

static int tensor_name_cmp(const void *a, const void *b) {
    const sealm_gguf_tensor *x = *(const sealm_gguf_tensor *const *)a, *y = *(const sealm_gguf_tensor *const *)b;
    return sealm_gguf_str_cmp(x->name, y->name);
}

/* Two tensors sharing bytes would let a write through one (e.g. by a future in-place
 * conversion) corrupt the other, and never happens in a well-formed file. Sorting by
 * offset makes any overlap show up between neighbours. */
static sealm_status check_overlaps(sealm_gguf *g, sealm_error *err) {
    const sealm_gguf_tensor **order = g->tensor_by_name; /* borrowed as scratch before the name sort */
    for (uint64_t i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
    if (g->n_tensors > 1) qsort(order, (size_t)g->n_tensors, sizeof order[0], tensor_offset_cmp);
    for (uint64_t i = 1; i < g->n_tensors; i++) {
        const sealm_gguf_tensor *a = order[i - 1], *b = order[i];
        if (a->offset + a->size_bytes > b->offset) { /* no overflow: both lie inside the image */
            char la[112], lb[112];
            return sealm_error_set(err, SEALM_E_FORMAT,
                                   "%s [0x%" PRIx64 ", +%" PRIu64 "] and %s [0x%" PRIx64 ", +%" PRIu64
                                   "] overlap in the data section: the file is corrupt",
                                   tensor_label(a, (uint64_t)(a - g->tensors), la, sizeof la), a->offset,
                                   a->size_bytes, tensor_label(b, (uint64_t)(b - g->tensors), lb, sizeof lb),
                                   b->offset, b->size_bytes);
        }
    }
    return SEALM_OK;
}

static sealm_status index_tensor_names(sealm_gguf *g, sealm_error *err) {
    for (uint64_t i = 0; i < g->n_tensors; i++) g->tensor_by_name[i] = &g->tensors[i];
    if (g->n_tensors > 1) qsort(g->tensor_by_name, (size_t)g->n_tensors, sizeof g->tensor_by_name[0], tensor_name_cmp);
    for (uint64_t i = 1; i < g->n_tensors; i++) {
        const sealm_gguf_tensor *a = g->tensor_by_name[i - 1], *b = g->tensor_by_name[i];
        if (sealm_gguf_str_cmp(a->name, b->name) == 0) {
            char name[72];
            sealm_gguf_printable(a->name, name, sizeof name);
            uint64_t ia = (uint64_t)(a - g->tensors), ib = (uint64_t)(b - g->tensors);
            return sealm_error_set(err, SEALM_E_FORMAT, "tensor name '%s' appears twice (tensors %" PRIu64
                                   " and %" PRIu64 "): the file is corrupt",
                                   name, ia < ib ? ia : ib, ia < ib ? ib : ia);
        }
    }
    return SEALM_OK;
}

static sealm_status parse_tensors(gguf_cursor *c, sealm_gguf *g, sealm_error *err) {
    if (g->n_tensors > cursor_left(c) / GGUF_MIN_TENSOR_INFO_BYTES)
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "GGUF header claims %" PRIu64 " tensors but only %zu bytes are left after the "
                               "metadata: the file is corrupt or truncated",
                               g->n_tensors, cursor_left(c));
    if (g->n_tensors > 0) {
        g->tensors = calloc((size_t)g->n_tensors, sizeof g->tensors[0]);
        g->tensor_by_name = calloc((size_t)g->n_tensors, sizeof g->tensor_by_name[0]);
        if (!g->tensors || !g->tensor_by_name)
            return sealm_error_set(err, SEALM_E_NOMEM, "out of memory for %" PRIu64 " tensor infos", g->n_tensors);
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        sealm_status st = parse_tensor_info(c, g, i, err);
        if (st != SEALM_OK) return st;
    }
    /* The data section starts at the next multiple of the alignment; a file without tensors
     * may end before it. c->pos <= len < 2^63 and alignment <= 2^30: no overflow. */
    g->data_pos = ((uint64_t)c->pos + g->alignment - 1) / g->alignment * g->alignment;
    sealm_status st = check_tensor_extents(g, err);
    if (st == SEALM_OK) st = check_overlaps(g, err);
    if (st == SEALM_OK) st = index_tensor_names(g, err);
    return st;
}

/* ---- entry point ---- */

static sealm_status parse_image(sealm_gguf *g, sealm_error *err) {
    gguf_cursor c = {g->image, g->len, 0};
    sealm_status st = parse_header(&c, g, &g->n_tensors, &g->n_kv, err);
    if (st != SEALM_OK) return st;
    if (g->n_kv > 0) {
        g->kvs = calloc((size_t)g->n_kv, sizeof g->kvs[0]);
        g->kv_by_key = calloc((size_t)g->n_kv, sizeof g->kv_by_key[0]);
        if (!g->kvs || !g->kv_by_key)
            return sealm_error_set(err, SEALM_E_NOMEM, "out of memory for %" PRIu64 " metadata pairs", g->n_kv);
    }
    st = parse_metadata(&c, g, err);
    if (st == SEALM_OK) st = index_string_arrays(g, err);
    if (st == SEALM_OK) st = read_alignment(g, err);
    if (st == SEALM_OK) st = parse_tensors(&c, g, err);
    return st;
}

sealm_status sealm_gguf_open_memory(const uint8_t *buf, size_t len, sealm_gguf **out, sealm_error *err) {
    if (out) *out = NULL;
    if (!out || (!buf && len > 0))
        return sealm_error_set(err, SEALM_E_INVALID, "sealm_gguf_open_memory: %s is NULL", out ? "buf" : "out");
    if (len == 0)
        return sealm_error_set(err, SEALM_E_FORMAT, "GGUF image is empty (0 bytes)");
    sealm_gguf *g = calloc(1, sizeof *g);
    if (!g) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory opening a GGUF image");
    g->image = buf;
    g->len = len;
    sealm_status st = parse_image(g, err);
    if (st != SEALM_OK) {
        sealm_gguf_close(g);
        return st;
    }
    *out = g;
    return SEALM_OK;
}

uint32_t sealm_gguf_version(const sealm_gguf *g) { return g ? g->version : 0; }

uint64_t sealm_gguf_alignment(const sealm_gguf *g) { return g ? g->alignment : 0; }

const uint8_t *sealm_gguf_image(const sealm_gguf *g, size_t *len) {
    if (len) *len = g ? g->len : 0;
    return g ? g->image : NULL;
}
