/* Internal shape of a parsed GGUF image, shared by the files of src/gguf/.
 *
 * Everything here is filled in by reader.c after validation, so the accessors in
 * metadata.c, format.c and tensors.c may read the image at the recorded positions
 * without re-checking bounds. Positions are byte offsets from the start of the image. */
#ifndef SEALM_GGUF_INTERNAL_H
#define SEALM_GGUF_INTERNAL_H

#include "sealm/gguf.h"

#include <string.h>

/* One metadata key/value pair, as found in the image. */
typedef struct sealm_gguf_kv {
    sealm_gguf_str key;
    sealm_gguf_value_type type;
    sealm_gguf_value_type elem_type; /* arrays: type of every element */
    uint64_t n_elems;                /* arrays: element count */
    uint64_t value_pos;              /* the value; for arrays, the first element */
    uint64_t first_str;              /* string arrays: index of element 0 in sealm_gguf.str_pos */
} sealm_gguf_kv;

struct sealm_gguf {
    const uint8_t *image;           /* the whole GGUF image (borrowed or our mapping) */
    size_t len;
    void *mapping;                  /* non-NULL when we own an mmap of a file */
    size_t mapping_len;

    uint32_t version;
    uint64_t alignment;
    uint64_t data_pos;              /* start of the tensor data section */

    uint64_t n_kv;
    sealm_gguf_kv *kvs;             /* in file order */
    const sealm_gguf_kv **kv_by_key; /* sorted by key bytes, for binary search */

    uint64_t n_tensors;
    sealm_gguf_tensor *tensors;     /* in file order */
    const sealm_gguf_tensor **tensor_by_name; /* sorted by name */

    /* Position of each string array element's u64 length, for every string array of
     * the image back to back; makes element i of a 50k-token vocabulary O(1). */
    uint64_t n_str_elems;
    uint64_t *str_pos;
};

/* Little-endian loads assembled byte by byte: no unaligned pointer casts, and correct on
 * hosts of either byte order. */
static inline uint16_t sealm_gguf_le16(const uint8_t *p) {
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}
static inline uint32_t sealm_gguf_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t sealm_gguf_le64(const uint8_t *p) {
    return (uint64_t)sealm_gguf_le32(p) | (uint64_t)sealm_gguf_le32(p + 4) << 32;
}
static inline float sealm_gguf_lef32(const uint8_t *p) {
    uint32_t bits = sealm_gguf_le32(p);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}
static inline double sealm_gguf_lef64(const uint8_t *p) {
    uint64_t bits = sealm_gguf_le64(p);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Bytes of one scalar value of type t (0 for STRING, ARRAY and unknown types). */
size_t sealm_gguf_scalar_size(uint32_t t);

/* Short name of a value type ("u32", "string", ...), or "unknown". */
const char *sealm_gguf_value_type_name(uint32_t t);

/* ggml's name for a tensor type number, including types this reader cannot load, for
 * error messages; "unknown" for numbers ggml never used. */
const char *sealm_gguf_ggml_type_name(uint32_t t);

/* Copies at most about 60 bytes of s into buf (cap bytes) with every byte that is not
 * printable ASCII shown as '?', so that names from a hostile file are safe in messages. */
void sealm_gguf_printable(sealm_gguf_str s, char *buf, size_t cap);

/* Three-way comparison of two image strings by bytes, shorter first on a tie. */
int sealm_gguf_str_cmp(sealm_gguf_str a, sealm_gguf_str b);

/* Reads the integer (or BOOL) of value type `type` stored at p. Returns false for any
 * other type. Signed values come back sign-extended in *value with *is_signed set. */
bool sealm_gguf_read_integer(const uint8_t *p, uint32_t type, uint64_t *value, bool *is_signed);

#endif
