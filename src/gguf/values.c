/* Facts about GGUF metadata value types, and small string helpers the reader and the
 * accessors share. */
#include "gguf_internal.h"

size_t sealm_gguf_scalar_size(uint32_t t) {
    switch (t) {
    case SEALM_GGUF_UINT8: case SEALM_GGUF_INT8: case SEALM_GGUF_BOOL: return 1;
    case SEALM_GGUF_UINT16: case SEALM_GGUF_INT16: return 2;
    case SEALM_GGUF_UINT32: case SEALM_GGUF_INT32: case SEALM_GGUF_FLOAT32: return 4;
    case SEALM_GGUF_UINT64: case SEALM_GGUF_INT64: case SEALM_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

const char *sealm_gguf_value_type_name(uint32_t t) {
    static const char *const names[] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
    };
    return t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

bool sealm_gguf_read_integer(const uint8_t *p, uint32_t type, uint64_t *value, bool *is_signed) {
    *is_signed = false;
    switch (type) {
    case SEALM_GGUF_UINT8: case SEALM_GGUF_BOOL: *value = p[0]; return true;
    case SEALM_GGUF_UINT16: *value = sealm_gguf_le16(p); return true;
    case SEALM_GGUF_UINT32: *value = sealm_gguf_le32(p); return true;
    case SEALM_GGUF_UINT64: *value = sealm_gguf_le64(p); return true;
    default: break;
    }
    /* Signed: reinterpret the two's-complement bits at their width, then widen. */
    int64_t s;
    switch (type) {
    case SEALM_GGUF_INT8: s = (int8_t)p[0]; break;
    case SEALM_GGUF_INT16: s = (int16_t)sealm_gguf_le16(p); break;
    case SEALM_GGUF_INT32: s = (int32_t)sealm_gguf_le32(p); break;
    case SEALM_GGUF_INT64: s = (int64_t)sealm_gguf_le64(p); break;
    default: return false;
    }
    *is_signed = true;
    *value = (uint64_t)s;
    return true;
}

int sealm_gguf_str_cmp(sealm_gguf_str a, sealm_gguf_str b) {
    uint64_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, (size_t)n) : 0;
    if (c != 0) return c;
    return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

void sealm_gguf_printable(sealm_gguf_str s, char *buf, size_t cap) {
    if (cap == 0) return;
    const size_t shown_max = 60;
    size_t n = 0;
    for (uint64_t i = 0; i < s.len && n < shown_max && n + 1 < cap; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        buf[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    if (s.len > n && n + 4 < cap) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
}
