/* Internal pieces of the bundle layer: the container's byte layout, the parsed manifest,
 * and the sign / trust / unseal operations as small callback records, so that the core
 * functions do not depend on where keys live (keys.h providers in the library, fixed test
 * keys in the fuzz target and the seed generator). */
#ifndef SEALM_BUNDLE_INTERNAL_H
#define SEALM_BUNDLE_INTERNAL_H

#include <sodium.h>

#include "sealm/bundle.h"

/* ---- container layout (docs/bundle-format.md) ---- */
#define BUNDLE_MAGIC "SEALMBDL"
#define BUNDLE_TRAILER_MAGIC "SEALMEND"
#define BUNDLE_HEADER_LEN 16u            /* magic 8 | u32 format version | u32 flags */
#define BUNDLE_TRAILER_LEN 16u           /* magic 8 | u64 total file length */
#define BUNDLE_MANIFEST_MIN 2u
#define BUNDLE_MANIFEST_MAX (64u << 10)
#define BUNDLE_SIG_ENTRY_LEN 96u         /* Ed25519 public key 32 | signature 64 */
#define BUNDLE_WRAP_LEN (crypto_box_SEALBYTES + 32u)       /* sealed content key: 80 */
#define BUNDLE_RECIPIENT_ENTRY_LEN (32u + BUNDLE_WRAP_LEN) /* X25519 public key | sealed box */
#define BUNDLE_CIPHER_NAME "xchacha20poly1305-secretstream"
#define BUNDLE_SIG_DOMAIN "sealm-bundle-v1/manifest" /* with its NUL: 25 bytes */
#define BUNDLE_SIG_DOMAIN_LEN 25u
#define BUNDLE_STREAM_HEADER_LEN crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define BUNDLE_CHUNK_OVERHEAD crypto_secretstream_xchacha20poly1305_ABYTES

/* Where each section of a framed bundle lies: pointers into the caller's bytes, or for a
 * bundle read from a file, into a copy of everything before the payload, with the payload
 * left in the file (read chunk by chunk, so a load never holds the ciphertext whole). */
typedef struct bundle_view {
    const uint8_t *header;
    const uint8_t *manifest;
    uint32_t manifest_len;
    const uint8_t *signatures;   /* n_signatures entries of BUNDLE_SIG_ENTRY_LEN */
    uint32_t n_signatures;
    const uint8_t *recipients;   /* n_recipients entries of BUNDLE_RECIPIENT_ENTRY_LEN */
    uint32_t n_recipients;
    const uint8_t *payload;      /* secretstream header, then the chunks; NULL when fd >= 0 */
    uint64_t payload_len;
    uint64_t payload_offset;     /* from the start of the bundle */
    int fd;                      /* -1: payload in memory; else read it from this file */
} bundle_view;

/* Largest possible prefix (header through payload length) of a valid bundle. */
#define BUNDLE_PREFIX_MAX (BUNDLE_HEADER_LEN + 4 + BUNDLE_MANIFEST_MAX + 4 + \
                           SEALM_BUNDLE_MAX_SIGNATURES * BUNDLE_SIG_ENTRY_LEN + 4 + \
                           SEALM_BUNDLE_MAX_RECIPIENTS * BUNDLE_RECIPIENT_ENTRY_LEN + 8)

/* The manifest after strict parsing: the public facts plus the binding values. */
typedef struct bundle_manifest {
    sealm_bundle_info info;      /* name, version, sizes, hashes, signer ids (n_signers) ... */
    uint8_t bundle_id[16];
    uint8_t key_commitment[32];  /* BLAKE2b-256 keyed with the content key over a label */
} bundle_manifest;

/* ---- key operations as records ---- */
typedef sealm_status (*bundle_sign_fn)(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64],
                                       sealm_error *err);
typedef struct bundle_signer {
    uint8_t pk[32];
    bundle_sign_fn sign;
    void *ctx;
} bundle_signer;

typedef struct bundle_trust {
    sealm_trust_status (*check)(const void *ctx, const uint8_t pk[32]);
    uint32_t threshold;
    const void *ctx;
} bundle_trust;

typedef struct bundle_unsealer {
    uint8_t pk[32];
    sealm_status (*unseal)(const void *ctx, const uint8_t *sealed, size_t len, uint8_t *out,
                           sealm_error *err);
    const void *ctx;
} bundle_unsealer;

/* ---- little-endian helpers ---- */
static inline uint32_t bundle_rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t bundle_rd64(const uint8_t *p) {
    return (uint64_t)bundle_rd32(p) | (uint64_t)bundle_rd32(p + 4) << 32;
}
static inline void bundle_wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void bundle_wr64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* container.c */
sealm_status bundle_frame(const uint8_t *bundle, size_t len, bundle_view *v, sealm_error *err);
/* Frames the bundle in an open file of file_len bytes; *prefix (malloc'd, caller frees)
 * holds the bytes the view's pointers point into. */
sealm_status bundle_frame_file(int fd, uint64_t file_len, uint8_t **prefix, bundle_view *v, sealm_error *err);
/* Bytes [pos, pos + n) of the payload: a pointer into memory, or read from the file into
 * scratch (n bytes of room). NULL (and err set, SEALM_E_IO) if the file cannot be read. */
const uint8_t *bundle_payload_bytes(const bundle_view *v, uint64_t pos, size_t n, uint8_t *scratch,
                                    sealm_error *err);
void bundle_sig_message_prefix(uint8_t out[BUNDLE_SIG_DOMAIN_LEN]);
uint64_t bundle_n_chunks(uint64_t payload_size, uint32_t chunk_size);
uint64_t bundle_ciphertext_len(uint64_t payload_size, uint32_t chunk_size);

/* manifest.c */
sealm_status bundle_manifest_parse(const uint8_t *json, size_t len, bundle_manifest *m,
                                   sealm_error *err);
sealm_status bundle_manifest_build(const bundle_manifest *m, char **json, size_t *len,
                                   sealm_error *err);
bool bundle_name_ok(const char *name);
/* A system prompt the manifest may carry: n bytes (1..SEALM_BUNDLE_SYSTEM_PROMPT_MAX) of
 * valid UTF-8, no NUL and no control characters but tab, LF and CR. */
bool bundle_system_prompt_ok(const char *s, size_t n);
int bundle_compare_versions(const char *a, const char *b, bool *ok);
/* Associated data every chunk is authenticated with: binds the stream to the manifest's
 * identity (bundle id, name, version, sizes). */
void bundle_stream_ad(const bundle_manifest *m, uint8_t ad[32]);
void bundle_key_commitment(const uint8_t key[32], uint8_t out[32]);

/* verify.c: verify_view checks an already framed bundle; verify_core frames bytes first (and
 * always hashes the ciphertext). hash_ciphertext false leaves the ciphertext hash to the
 * caller (bundle_check_ciphertext): opening runs it beside decryption. */
sealm_status bundle_verify_view(const bundle_view *v, const bundle_trust *trust,
                                const sealm_bundle_rollback *rollback, bool hash_ciphertext,
                                bundle_manifest *m, sealm_error *err);
/* BLAKE2b-256 of the whole payload section against the manifest's ciphertext_blake2b
 * (SEALM_E_AUTH on mismatch, SEALM_E_IO if the file cannot be read). Reads with pread only,
 * so it may run in another thread beside decryption of the same view. */
sealm_status bundle_check_ciphertext(const bundle_view *v, const bundle_manifest *m, sealm_error *err);
sealm_status bundle_verify_core(const uint8_t *bundle, size_t len, const bundle_trust *trust,
                                const sealm_bundle_rollback *rollback, bundle_view *v,
                                bundle_manifest *m, sealm_error *err);

/* seal.c: builds the whole bundle in memory (malloc'd *out). */
sealm_status bundle_seal_memory(const uint8_t *gguf, size_t len, const sealm_bundle_params *p,
                                const bundle_signer *signers, size_t n_signers,
                                const uint8_t (*recipients)[32], size_t n_recipients,
                                uint8_t **out, size_t *out_len, sealm_error *err);

/* open.c: open_view opens an already framed bundle; open_core frames bytes first. */
sealm_status bundle_open_view(const bundle_view *v, const bundle_trust *trust,
                              const bundle_unsealer *device, sealm_bundle_rollback *rollback,
                              sealm_bundle_image **out, sealm_error *err);
sealm_status bundle_open_core(const uint8_t *bundle, size_t len, const bundle_trust *trust,
                              const bundle_unsealer *device, sealm_bundle_rollback *rollback,
                              sealm_bundle_image **out, sealm_error *err);

/* rollback.c: parses a state file's bytes (MAC checked with mac_key). Exposed for fuzzing. */
sealm_status bundle_rollback_parse(const uint8_t *buf, size_t len, const uint8_t mac_key[32],
                                   sealm_bundle_rollback *r, sealm_error *err);
sealm_bundle_rollback *bundle_rollback_new(void);

#endif
