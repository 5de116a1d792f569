/* Metadata lookup and typed getters. Every value was bounds-checked at open (reader.c),
 * so these only check types and ranges. */
#include "gguf_internal.h"

#include <float.h>
#include <math.h>

uint64_t sealm_gguf_kv_count(const sealm_gguf *g) {
    return g ? g->n_kv : 0;
}

int64_t sealm_gguf_find_key(const sealm_gguf *g, const char *key) {
    if (!g || !key) return -1;
    sealm_gguf_str want = {key, strlen(key)};
    uint64_t lo = 0, hi = g->n_kv;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int c = sealm_gguf_str_cmp(g->kv_by_key[mid]->key, want);
        if (c == 0) return (int64_t)(g->kv_by_key[mid] - g->kvs);
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

sealm_gguf_str sealm_gguf_kv_key(const sealm_gguf *g, uint64_t i) {
    sealm_gguf_str none = {NULL, 0};
    return g && i < g->n_kv ? g->kvs[i].key : none;
}

sealm_gguf_value_type sealm_gguf_kv_type(const sealm_gguf *g, uint64_t i) {
    /* Out of range gives a value outside the enum, which matches no type a caller tests for. */
    return g && i < g->n_kv ? g->kvs[i].type : (sealm_gguf_value_type)-1;
}

/* The kv named key, or NULL (and *status set to INVALID or NOT_FOUND). */
static const sealm_gguf_kv *lookup(const sealm_gguf *g, const char *key, sealm_status *status) {
    if (!g || !key) {
        *status = SEALM_E_INVALID;
        return NULL;
    }
    int64_t i = sealm_gguf_find_key(g, key);
    if (i < 0) {
        *status = SEALM_E_NOT_FOUND;
        return NULL;
    }
    *status = SEALM_OK;
    return &g->kvs[i];
}

/* Narrows a double to float without undefined behaviour: C leaves out-of-range
 * conversions undefined, so saturate to infinity explicitly as IEEE rounding would. */
static float double_to_float(double d) {
    if (d > FLT_MAX) return INFINITY;
    if (d < -FLT_MAX) return -INFINITY;
    return (float)d;
}

sealm_status sealm_gguf_get_u32(const sealm_gguf *g, const char *key, uint32_t *out) {
    sealm_status st;
    const sealm_gguf_kv *kv = lookup(g, key, &st);
    if (!kv) return st;
    if (!out) return SEALM_E_INVALID;
    uint64_t v;
    bool is_signed;
    if (!sealm_gguf_read_integer(g->image + kv->value_pos, kv->type, &v, &is_signed)) return SEALM_E_TYPE;
    if ((is_signed && (int64_t)v < 0) || v > UINT32_MAX) return SEALM_E_TYPE;
    *out = (uint32_t)v;
    return SEALM_OK;
}

sealm_status sealm_gguf_get_i64(const sealm_gguf *g, const char *key, int64_t *out) {
    sealm_status st;
    const sealm_gguf_kv *kv = lookup(g, key, &st);
    if (!kv) return st;
    if (!out) return SEALM_E_INVALID;
    uint64_t v;
    bool is_signed;
    if (!sealm_gguf_read_integer(g->image + kv->value_pos, kv->type, &v, &is_signed)) return SEALM_E_TYPE;
    if (!is_signed && v > (uint64_t)INT64_MAX) return SEALM_E_TYPE;
    *out = (int64_t)v;
    return SEALM_OK;
}

sealm_status sealm_gguf_get_f32(const sealm_gguf *g, const char *key, float *out) {
    sealm_status st;
    const sealm_gguf_kv *kv = lookup(g, key, &st);
    if (!kv) return st;
    if (!out) return SEALM_E_INVALID;
    const uint8_t *p = g->image + kv->value_pos;
    if (kv->type == SEALM_GGUF_FLOAT32) *out = sealm_gguf_lef32(p);
    else if (kv->type == SEALM_GGUF_FLOAT64) *out = double_to_float(sealm_gguf_lef64(p));
    else return SEALM_E_TYPE;
    return SEALM_OK;
}

sealm_status sealm_gguf_get_bool(const sealm_gguf *g, const char *key, bool *out) {
    sealm_status st;
    const sealm_gguf_kv *kv = lookup(g, key, &st);
    if (!kv) return st;
    if (!out) return SEALM_E_INVALID;
    if (kv->type != SEALM_GGUF_BOOL) return SEALM_E_TYPE;
    *out = g->image[kv->value_pos] != 0;
    return SEALM_OK;
}

sealm_status sealm_gguf_get_str(const sealm_gguf *g, const char *key, sealm_gguf_str *out) {
    sealm_status st;
    const sealm_gguf_kv *kv = lookup(g, key, &st);
    if (!kv) return st;
    if (!out) return SEALM_E_INVALID;
    if (kv->type != SEALM_GGUF_STRING) return SEALM_E_TYPE;
    out->len = sealm_gguf_le64(g->image + kv->value_pos);
    out->ptr = (const char *)(g->image + kv->value_pos + 8);
    return SEALM_OK;
}

sealm_status sealm_gguf_get_arr(const sealm_gguf *g, const char *key, sealm_gguf_value_type *elem_type,
                                uint64_t *n) {
    sealm_status st;
    const sealm_gguf_kv *kv = lookup(g, key, &st);
    if (!kv) return st;
    if (kv->type != SEALM_GGUF_ARRAY) return SEALM_E_TYPE;
    if (elem_type) *elem_type = kv->elem_type;
    if (n) *n = kv->n_elems;
    return SEALM_OK;
}

sealm_status sealm_gguf_arr_str(const sealm_gguf *g, const char *key, uint64_t i, sealm_gguf_str *out) {
    sealm_status st;
    const sealm_gguf_kv *kv = lookup(g, key, &st);
    if (!kv) return st;
    if (!out) return SEALM_E_INVALID;
    if (kv->type != SEALM_GGUF_ARRAY || kv->elem_type != SEALM_GGUF_STRING) return SEALM_E_TYPE;
    if (i >= kv->n_elems) return SEALM_E_INVALID;
    uint64_t pos = g->str_pos[kv->first_str + i];
    out->len = sealm_gguf_le64(g->image + pos);
    out->ptr = (const char *)(g->image + pos + 8);
    return SEALM_OK;
}

/* The numeric array named key with exactly n elements, or NULL with *status set. */
static const sealm_gguf_kv *numeric_array(const sealm_gguf *g, const char *key, const void *dst, uint64_t n,
                                          sealm_status *status) {
    const sealm_gguf_kv *kv = lookup(g, key, status);
    if (!kv) return NULL;
    if (kv->type != SEALM_GGUF_ARRAY || kv->elem_type == SEALM_GGUF_STRING || kv->elem_type == SEALM_GGUF_BOOL) {
        *status = SEALM_E_TYPE;
        return NULL;
    }
    if (n != kv->n_elems || (!dst && n > 0)) {
        *status = SEALM_E_INVALID;
        return NULL;
    }
    return kv;
}

sealm_status sealm_gguf_arr_f32(const sealm_gguf *g, const char *key, float *dst, uint64_t n) {
    sealm_status st;
    const sealm_gguf_kv *kv = numeric_array(g, key, dst, n, &st);
    if (!kv) return st;
    size_t size = sealm_gguf_scalar_size(kv->elem_type);
    const uint8_t *p = g->image + kv->value_pos;
    for (uint64_t e = 0; e < n; e++, p += size) {
        uint64_t v;
        bool is_signed;
        if (kv->elem_type == SEALM_GGUF_FLOAT32) dst[e] = sealm_gguf_lef32(p);
        else if (kv->elem_type == SEALM_GGUF_FLOAT64) dst[e] = double_to_float(sealm_gguf_lef64(p));
        else if (sealm_gguf_read_integer(p, kv->elem_type, &v, &is_signed))
            dst[e] = is_signed ? (float)(int64_t)v : (float)v;
        else return SEALM_E_TYPE;
    }
    return SEALM_OK;
}

sealm_status sealm_gguf_arr_i32(const sealm_gguf *g, const char *key, int32_t *dst, uint64_t n) {
    sealm_status st;
    const sealm_gguf_kv *kv = numeric_array(g, key, dst, n, &st);
    if (!kv) return st;
    size_t size = sealm_gguf_scalar_size(kv->elem_type);
    const uint8_t *p = g->image + kv->value_pos;
    for (uint64_t e = 0; e < n; e++, p += size) {
        uint64_t v;
        bool is_signed;
        if (!sealm_gguf_read_integer(p, kv->elem_type, &v, &is_signed)) return SEALM_E_TYPE; /* floats */
        int64_t s = (int64_t)v;
        if (is_signed ? (s < INT32_MIN || s > INT32_MAX) : v > INT32_MAX) return SEALM_E_TYPE;
        dst[e] = (int32_t)s;
    }
    return SEALM_OK;
}
