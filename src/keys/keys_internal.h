/* Helpers shared by the files of the keys layer (not part of the public API). */
#ifndef SEALM_KEYS_INTERNAL_H
#define SEALM_KEYS_INTERNAL_H

#include "sealm/keys.h"

#include <sodium.h>
#include <sys/types.h>

/* Largest key file we read: a real one is < 400 bytes; anything bigger is not ours. */
#define SEALM_KEYS_MAX_KEYFILE_BYTES 4096
/* Largest trust store we read (about 10,000 publisher lines). */
#define SEALM_KEYS_MAX_TRUST_BYTES (1u << 20)
/* Argon2id parameters written by keygen: libsodium's INTERACTIVE limits (docs/keys-format.md
 * says why). Loading accepts anything from these up to the SENSITIVE limits. */
#define SEALM_KEYS_PWHASH_OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define SEALM_KEYS_PWHASH_MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

/* Makes sure libsodium is initialized (sodium_init is idempotent and thread-safe). */
sealm_status sealm_keys_sodium_ready(sealm_error *err);

/* ---- files (fileio.c) ---- */

/* A file's bytes, read whole. secure: the buffer is sodium_malloc'd (for files holding
 * secrets) and wiped on free. data is NUL-terminated (len excludes the NUL). */
typedef struct sealm_keys_file {
    char *data;
    size_t len;
    bool secure;
} sealm_keys_file;

/* Reads path whole into f. Refuses non-regular files and files over max_bytes (FORMAT).
 * If require_private, the file must be owned by the effective user with mode 0600 or 0400
 * (PERMISSION otherwise). If refuse_writable, group/world write bits are refused. If
 * missing_ok and the file does not exist, returns SEALM_E_NOT_FOUND without a message. */
typedef struct sealm_keys_read_opts {
    size_t max_bytes;
    bool secure;
    bool require_private;
    bool refuse_writable;
    bool missing_ok;
} sealm_keys_read_opts;
sealm_status sealm_keys_read_file(const char *path, const sealm_keys_read_opts *opts,
                                  sealm_keys_file *f, sealm_error *err);
void sealm_keys_file_free(sealm_keys_file *f);

/* Writes data to path atomically with the given mode: temp file in the same directory,
 * write, fsync, then rename (overwrite) or link (no overwrite: SEALM_E_IO if path exists),
 * then fsync of the directory. On failure path is untouched and the temp file removed. */
sealm_status sealm_keys_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                                     bool overwrite, sealm_error *err);

/* ---- text (text.c) ---- */

/* Walks a file's lines: each must end in '\n' and contain no '\r' or NUL. */
typedef struct sealm_keys_lines {
    const char *path;   /* for messages */
    const char *p, *end;
    int line_no;        /* 1-based number of the line last returned */
} sealm_keys_lines;

void sealm_keys_lines_init(sealm_keys_lines *ls, const char *path, const char *data, size_t len);
/* Next line (without its '\n'). Returns SEALM_OK, SEALM_E_NOT_FOUND at the end (no message),
 * SEALM_E_FORMAT for a missing final newline or a forbidden byte. */
sealm_status sealm_keys_lines_next(sealm_keys_lines *ls, const char **line, size_t *len,
                                   sealm_error *err);
/* Expects the next line to be exactly "<name>: <value>" and returns the value. */
sealm_status sealm_keys_lines_field(sealm_keys_lines *ls, const char *name, const char **value,
                                    size_t *value_len, sealm_error *err);

/* Decodes exactly out_len bytes of padded standard base64 (RFC 4648 §4) from b64[0..b64_len).
 * Returns false on any other length, character or non-canonical padding. */
bool sealm_keys_base64_decode(const char *b64, size_t b64_len, uint8_t *out, size_t out_len);
/* Parses a decimal unsigned integer without sign, leading zeros or overflow. */
bool sealm_keys_parse_u64(const char *s, size_t len, uint64_t *out);
/* True for SEALM_KEY_ID_LEN lowercase hex characters. */
bool sealm_keys_id_valid(const char *s, size_t len);

/* ---- keys (keyfile.c, provider.c) ---- */

/* Bytes of the stored secret: the Ed25519 seed (RFC 8032's private key) or the X25519
 * scalar. */
#define SEALM_KEYS_SECRET_BYTES 32

/* A loaded key; always in sodium_malloc'd memory, read-only after loading. */
struct sealm_key {
    sealm_key_kind kind;
    uint8_t pk[32];
    uint8_t sk[64];   /* Ed25519: libsodium's 64-byte form (seed || pk); X25519: first 32 */
};

/* Fills k->pk and k->sk from a stored 32-byte secret (Ed25519 seed or X25519 scalar). */
void sealm_keys_derive(sealm_key_kind kind, const uint8_t secret[SEALM_KEYS_SECRET_BYTES],
                       struct sealm_key *k);

/* Text of a secret key file for k (k->sk as written by sealm_keys_derive) in a sodium_malloc'd
 * buffer the caller releases with sodium_free; protected with passphrase if not NULL. */
sealm_status sealm_keys_secret_encode(const struct sealm_key *k, const char *passphrase,
                                      char **text, size_t *len, sealm_error *err);
/* Text of a TPM-sealed device key file (tpm-tcti, tpm-public, tpm-private fields). */
sealm_status sealm_keys_tpm_encode(const struct sealm_key *k, const char *tcti, const uint8_t *pub_blob,
                                   size_t pub_len, const uint8_t *priv_blob, size_t priv_len, char **text,
                                   size_t *len, sealm_error *err);
/* Parses and checks a secret key file's text into k (writable secure memory). */
sealm_status sealm_keys_secret_decode(const char *path, const char *data, size_t len,
                                      const char *passphrase, struct sealm_key *k,
                                      sealm_error *err);
/* Text of a public key file, into buf (at least 256 bytes). Returns its length. */
size_t sealm_keys_public_encode(sealm_key_kind kind, const uint8_t pk[32], char *buf, size_t cap);
sealm_status sealm_keys_public_decode(const char *path, const char *data, size_t len,
                                      sealm_key_kind *kind, uint8_t pk[32], sealm_error *err);

/* ---- TPM 2.0 (tpm.c) ---- */
#define SEALM_KEYS_TPM_TCTI_MAX 256
#define SEALM_KEYS_TPM_BLOB_MAX 1024   /* a marshaled TPM2B_PUBLIC or TPM2B_PRIVATE fits easily */

/* True for a plausible TCTI string: 1..SEALM_KEYS_TPM_TCTI_MAX printable bytes, no spaces. */
bool sealm_keys_tpm_tcti_ok(const char *tcti);
/* Has the TPM at tcti seal secret under its storage key; the marshaled public and private
 * parts go to the blobs (SEALM_KEYS_TPM_BLOB_MAX bytes each). */
sealm_status sealm_keys_tpm_seal(const char *tcti, const uint8_t secret[SEALM_KEYS_SECRET_BYTES], uint8_t *pub_blob,
                                 size_t *pub_len, uint8_t *priv_blob, size_t *priv_len, sealm_error *err);
/* Loads the blobs into the TPM at tcti and unseals the 32-byte secret into secret (secure
 * memory the caller wipes). path names the key file in messages. */
sealm_status sealm_keys_tpm_unseal(const char *path, const char *tcti, const uint8_t *pub_blob, size_t pub_len,
                                   const uint8_t *priv_blob, size_t priv_len, uint8_t *secret, sealm_error *err);

/* ---- key kinds ---- */
const char *sealm_keys_kind_name(sealm_key_kind kind);   /* "publisher", "device" */
bool sealm_keys_kind_parse(const char *s, size_t len, sealm_key_kind *kind);

#endif
