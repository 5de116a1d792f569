/* sealm gguf layer — a bounds-checked reader of GGUF model images (versions 2 and 3).
 *
 * Format: GGUF as specified in ggml's docs/gguf.md (little-endian; header, key/value
 * metadata, tensor infos, alignment padding, tensor data). Every count, length, string,
 * array, offset, alignment, tensor shape, type and data extent is validated at open time,
 * so that the accessors below never read outside the image. Input is treated as hostile.
 *
 * Ownership: a sealm_gguf either borrows a caller's buffer (sealm_gguf_open_memory: the
 * buffer must outlive the handle and not change) or owns a read-only mmap of a file
 * (sealm_gguf_open_file). Every pointer returned by an accessor points into that image
 * and lives as long as the handle.
 * Thread safety: after open, all accessors are read-only and safe from many threads;
 * sealm_gguf_close must not race with them. */
#ifndef SEALM_GGUF_H
#define SEALM_GGUF_H

#include "sealm/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Metadata value types, numbered as in the GGUF spec. */
typedef enum sealm_gguf_value_type {
    SEALM_GGUF_UINT8 = 0, SEALM_GGUF_INT8 = 1, SEALM_GGUF_UINT16 = 2, SEALM_GGUF_INT16 = 3,
    SEALM_GGUF_UINT32 = 4, SEALM_GGUF_INT32 = 5, SEALM_GGUF_FLOAT32 = 6, SEALM_GGUF_BOOL = 7,
    SEALM_GGUF_STRING = 8, SEALM_GGUF_ARRAY = 9, SEALM_GGUF_UINT64 = 10, SEALM_GGUF_INT64 = 11,
    SEALM_GGUF_FLOAT64 = 12,
} sealm_gguf_value_type;

/* Tensor element types, numbered as in ggml (ggml_type). Types the reader knows the block
 * size of; the engine supports a subset (see engine.h). */
typedef enum sealm_tensor_type {
    SEALM_TYPE_F32 = 0, SEALM_TYPE_F16 = 1, SEALM_TYPE_Q4_0 = 2, SEALM_TYPE_Q4_1 = 3,
    SEALM_TYPE_Q5_0 = 6, SEALM_TYPE_Q5_1 = 7, SEALM_TYPE_Q8_0 = 8, SEALM_TYPE_Q8_1 = 9,
    SEALM_TYPE_Q2_K = 10, SEALM_TYPE_Q3_K = 11, SEALM_TYPE_Q4_K = 12, SEALM_TYPE_Q5_K = 13,
    SEALM_TYPE_Q6_K = 14, SEALM_TYPE_Q8_K = 15, SEALM_TYPE_BF16 = 30,
    SEALM_TYPE_COUNT = 40,
} sealm_tensor_type;

/* A string inside the image: not NUL-terminated; len in bytes. */
typedef struct sealm_gguf_str {
    const char *ptr;
    uint64_t len;
} sealm_gguf_str;

#define SEALM_GGUF_MAX_DIMS 4

/* One tensor of the image, validated: type known, every ne[i] >= 1, n_elements fits in
 * int64, ne[0] a multiple of the type's block size, data inside the image and aligned. */
typedef struct sealm_gguf_tensor {
    sealm_gguf_str name;
    uint32_t n_dims;
    int64_t ne[SEALM_GGUF_MAX_DIMS];  /* elements per dimension; ne[0] is the contiguous one; unused dims are 1 */
    sealm_tensor_type type;
    uint64_t offset;                  /* bytes from the start of the data section */
    const void *data;                 /* points into the image */
    uint64_t size_bytes;              /* bytes of data */
} sealm_gguf_tensor;

typedef struct sealm_gguf sealm_gguf;

/* Parses a GGUF image held in memory (e.g. decrypted from a sealed bundle).
 * buf/len: the image, borrowed: must stay valid and unchanged until sealm_gguf_close.
 * Returns SEALM_OK and *out, or SEALM_E_FORMAT (bad magic, truncated, any count, length,
 * offset or shape out of range, duplicate key or tensor name, overlapping tensors),
 * SEALM_E_UNSUPPORTED (version other than 2 or 3, unknown tensor type), SEALM_E_NOMEM,
 * SEALM_E_INVALID (NULL arguments). On failure *out is NULL and nothing is allocated. */
sealm_status sealm_gguf_open_memory(const uint8_t *buf, size_t len, sealm_gguf **out, sealm_error *err);

/* Maps path read-only (MAP_PRIVATE) and parses it as sealm_gguf_open_memory does.
 * Returns the same codes, plus SEALM_E_IO when the file cannot be opened, stat'd or mapped. */
sealm_status sealm_gguf_open_file(const char *path, sealm_gguf **out, sealm_error *err);

/* Frees the handle (and unmaps the file it owns). NULL is a no-op. */
void sealm_gguf_close(sealm_gguf *g);

/* Header facts: the format version (2 or 3); the data alignment in bytes
 * (general.alignment, default 32); the whole image and its length in bytes (*len). */
uint32_t sealm_gguf_version(const sealm_gguf *g);
uint64_t sealm_gguf_alignment(const sealm_gguf *g);
const uint8_t *sealm_gguf_image(const sealm_gguf *g, size_t *len);

/* ---- metadata ----
 * Keys are looked up by exact byte match. Indices run over [0, sealm_gguf_kv_count). */
uint64_t sealm_gguf_kv_count(const sealm_gguf *g);
/* Index of key (NUL-terminated), or -1 when absent. O(log n). */
int64_t sealm_gguf_find_key(const sealm_gguf *g, const char *key);
/* Key and value type of entry i, in file order; i out of range gives an empty key and
 * (sealm_gguf_value_type)-1. */
sealm_gguf_str sealm_gguf_kv_key(const sealm_gguf *g, uint64_t i);
sealm_gguf_value_type sealm_gguf_kv_type(const sealm_gguf *g, uint64_t i);

/* Typed getters by key. Integer getters accept any integer type (and bool) whose value
 * fits the destination; float getters accept FLOAT32 and FLOAT64. Return SEALM_OK,
 * SEALM_E_NOT_FOUND (absent; *out untouched), SEALM_E_TYPE (other type, or out of range). */
sealm_status sealm_gguf_get_u32(const sealm_gguf *g, const char *key, uint32_t *out);
sealm_status sealm_gguf_get_i64(const sealm_gguf *g, const char *key, int64_t *out);
sealm_status sealm_gguf_get_f32(const sealm_gguf *g, const char *key, float *out);
sealm_status sealm_gguf_get_bool(const sealm_gguf *g, const char *key, bool *out);
sealm_status sealm_gguf_get_str(const sealm_gguf *g, const char *key, sealm_gguf_str *out);

/* Arrays: element type and count (nested arrays are rejected at open as SEALM_E_UNSUPPORTED). */
sealm_status sealm_gguf_get_arr(const sealm_gguf *g, const char *key,
                                sealm_gguf_value_type *elem_type, uint64_t *n);
/* Element i of a string array; O(1). SEALM_E_TYPE if not a string array, SEALM_E_INVALID if i >= n. */
sealm_status sealm_gguf_arr_str(const sealm_gguf *g, const char *key, uint64_t i, sealm_gguf_str *out);
/* Copies a numeric array converted to float (FLOAT32/FLOAT64/any integer) or int32
 * (any integer type whose values fit) into dst[0..n). n must equal the array length. */
sealm_status sealm_gguf_arr_f32(const sealm_gguf *g, const char *key, float *dst, uint64_t n);
sealm_status sealm_gguf_arr_i32(const sealm_gguf *g, const char *key, int32_t *dst, uint64_t n);

/* Formats the value at index i as short human-readable text for `sealm info` (strings
 * quoted and cut at max_chars, arrays summarized as "[type × n]"). Writes at most cap bytes
 * including the NUL. */
void sealm_gguf_kv_format(const sealm_gguf *g, uint64_t i, char *buf, size_t cap, size_t max_chars);

/* ---- tensors ---- */
/* Tensors in file order; sealm_gguf_tensor_at returns NULL when i >= the count. */
uint64_t sealm_gguf_tensor_count(const sealm_gguf *g);
const sealm_gguf_tensor *sealm_gguf_tensor_at(const sealm_gguf *g, uint64_t i);
/* The tensor named name, or NULL. O(log n). */
const sealm_gguf_tensor *sealm_gguf_find_tensor(const sealm_gguf *g, const char *name);

/* Block facts of a tensor type: elements per block and bytes per block. Returns false for
 * a type the reader does not know. sealm_tensor_type_name gives "Q4_K" etc. or "unknown". */
bool sealm_tensor_type_block(sealm_tensor_type t, int64_t *block_elems, size_t *block_bytes);
const char *sealm_tensor_type_name(sealm_tensor_type t);

/* ---- writer ----
 * Builds a GGUF version 3 file (ggml docs/gguf.md: little-endian, alignment 32): metadata
 * and tensor infos are collected in memory, then sealm_gguf_writer_write_file streams the
 * header and each tensor's data (asked for one tensor at a time from a callback, so a
 * 1 GB model never sits in memory whole) into a temp file that is renamed into place only
 * when complete. Used by `sealm synth`. A writer is used by one thread at a time. */
typedef struct sealm_gguf_writer sealm_gguf_writer;

/* A new empty writer (*out; free with sealm_gguf_writer_free). SEALM_E_NOMEM. */
sealm_status sealm_gguf_writer_new(sealm_gguf_writer **out, sealm_error *err);
/* Frees the writer. NULL is a no-op. */
void sealm_gguf_writer_free(sealm_gguf_writer *w);

/* Appends one metadata entry (key NUL-terminated, copied). Returns SEALM_OK,
 * SEALM_E_INVALID (key empty or already added — the reader rejects duplicates),
 * SEALM_E_NOMEM. */
sealm_status sealm_gguf_writer_set_u32(sealm_gguf_writer *w, const char *key, uint32_t v, sealm_error *err);
sealm_status sealm_gguf_writer_set_f32(sealm_gguf_writer *w, const char *key, float v, sealm_error *err);
sealm_status sealm_gguf_writer_set_bool(sealm_gguf_writer *w, const char *key, bool v, sealm_error *err);
sealm_status sealm_gguf_writer_set_str(sealm_gguf_writer *w, const char *key, const char *v, sealm_error *err);
/* Copies entry i of src (key, value type and value bytes, arrays included) unchanged.
 * Same returns, plus SEALM_E_INVALID when i is out of range. */
sealm_status sealm_gguf_writer_copy_kv(sealm_gguf_writer *w, const sealm_gguf *src, uint64_t i, sealm_error *err);

/* Declares the next tensor: name (copied), n_dims in [1, 4], ne[0..n_dims) elements per
 * dimension (ne[0] contiguous, a multiple of the type's block size), type. Its data is
 * placed after the previous tensor's, aligned to 32 bytes. Returns SEALM_OK,
 * SEALM_E_INVALID (bad shape, unknown type, duplicate or empty name), SEALM_E_NOMEM. */
sealm_status sealm_gguf_writer_add_tensor(sealm_gguf_writer *w, const char *name, uint32_t n_dims, const int64_t *ne,
                                          sealm_tensor_type type, sealm_error *err);
/* Bytes of data of tensor index (in the order added); 0 when out of range. */
uint64_t sealm_gguf_writer_tensor_bytes(const sealm_gguf_writer *w, uint64_t index);

/* Fills dst[0..size) with the data of tensor index (size = sealm_gguf_writer_tensor_bytes).
 * Returns SEALM_OK, or any error (with err set), which aborts the write. */
typedef sealm_status (*sealm_gguf_fill_fn)(void *ctx, uint64_t index, void *dst, uint64_t size, sealm_error *err);

/* Writes the file at path (mode 0644): header, metadata, tensor infos, then every tensor's
 * data from fill, in order, through a temp file renamed (overwrite) or linked (!overwrite:
 * an existing path is never replaced) into place. Memory: one buffer as large as the
 * largest tensor. Returns SEALM_OK, SEALM_E_IO (path exists and !overwrite, or a write
 * failed; path is then untouched), SEALM_E_NOMEM, or fill's error. */
sealm_status sealm_gguf_writer_write_file(const sealm_gguf_writer *w, const char *path, bool overwrite,
                                          sealm_gguf_fill_fn fill, void *ctx, sealm_error *err);

#ifdef __cplusplus
}
#endif
#endif
