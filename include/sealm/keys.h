/* sealm keys layer — key providers and the device's trust store.
 *
 * Two kinds of keys:
 *   publisher: Ed25519 (RFC 8032) signing key; the publisher signs bundle manifests with it.
 *   device:    X25519 (RFC 7748) key; bundles are sealed to it with a libsodium sealed box
 *              (crypto_box_seal: ephemeral X25519 + XSalsa20-Poly1305).
 * A secret key lives in a provider: today a key file, unprotected or passphrase-protected
 * (Argon2id, RFC 9106, via libsodium crypto_pwhash; XChaCha20-Poly1305-IETF AEAD), or sealed by
 * a TPM 2.0 (sealm_keygen_tpm), all behind the same sealm_key handle. The layer knows nothing of bundle
 * formats. File formats (secret key, public key, trust store): docs/keys-format.md.
 *
 * Security properties every function keeps:
 *   - all cryptography is libsodium's (https://doc.libsodium.org), never hand-rolled;
 *   - secret bytes live only in sodium_malloc'd (guarded, mlock'd) memory, read-only once
 *     loaded, and are wiped (sodium_memzero / sodium_free) when no longer needed;
 *   - no error message contains key material, passphrases or plaintext;
 *   - files are written atomically (temp file in the same directory, write, fsync, rename or
 *     link, fsync of the directory); secret key files get mode 0600.
 *
 * Thread safety: a loaded sealm_key and a loaded sealm_trust_store are immutable, so any
 * number of threads may use one at the same time. The functions that rewrite the trust store
 * file do not lock it: callers serialize writers (two concurrent writers: the last one wins). */
#ifndef SEALM_KEYS_H
#define SEALM_KEYS_H

#include "sealm/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sealm_key_kind {
    SEALM_KEY_PUBLISHER = 1, /* Ed25519 signing key (RFC 8032) */
    SEALM_KEY_DEVICE = 2,    /* X25519 key-agreement key (RFC 7748), opens sealed boxes */
} sealm_key_kind;

/* Length of a key id in hex characters: the first 8 bytes of BLAKE2b-256(public key),
 * lowercase hex. Ids name keys in files and messages; checks always compare full keys. */
#define SEALM_KEY_ID_LEN 16

/* A secret key inside a provider (file, passphrase-protected file or TPM-sealed file). Opaque;
 * immutable after sealm_key_load; free with sealm_key_free. */
typedef struct sealm_key sealm_key;

/* Generates a fresh key pair of the given kind and writes it to two new files.
 *
 * kind:        SEALM_KEY_PUBLISHER or SEALM_KEY_DEVICE.
 * secret_path: the secret key file to create (mode 0600, owned by the caller). With
 *              passphrase == NULL the secret is stored in the clear (base64); otherwise it is
 *              encrypted with XChaCha20-Poly1305-IETF under a key derived from the passphrase
 *              by Argon2id (crypto_pwhash_ALG_ARGON2ID13, libsodium's INTERACTIVE limits:
 *              2 passes, 64 MiB), with the file header as associated data.
 * public_path: the public key file to create (mode 0644).
 * passphrase:  NUL-terminated UTF-8, or NULL for an unprotected file; an empty string is
 *              refused (SEALM_E_INVALID). Not retained.
 * err:         on failure, a message naming the file and what to do.
 *
 * Never overwrites: if either file exists, nothing is written and SEALM_E_IO is returned.
 * If writing the public key fails after the secret key was written, the secret key file is
 * removed again. Returns SEALM_OK, SEALM_E_INVALID (unknown kind, NULL path, empty
 * passphrase, both paths equal), SEALM_E_IO (a file exists, or create/write/fsync/rename
 * failed; errno text in the message), SEALM_E_NOMEM (secure memory could not be allocated
 * or locked, or Argon2id could not get its memory). Thread-safe. */
sealm_status sealm_keygen(sealm_key_kind kind, const char *secret_path, const char *public_path,
                          const char *passphrase, sealm_error *err);

/* Loads a secret key file written by sealm_keygen (format: docs/keys-format.md).
 *
 * secret_path: the file. It must be a regular file owned by the effective user with mode
 *              0600 or 0400; anything else (group/world bits, another owner) is refused with
 *              SEALM_E_PERMISSION and a message saying `chmod 600 FILE`.
 * passphrase:  required for a protected file (NULL → SEALM_E_AUTH with a message asking for
 *              one); ignored for an unprotected file.
 * out:         on success, an owned key in sodium_malloc'd read-only memory; free with
 *              sealm_key_free, which wipes it.
 *
 * Parsing is strict: every line, field order, base64 length and the id are checked, and the
 * secret must match the public key in the file. Returns SEALM_OK, SEALM_E_INVALID (NULL
 * argument), SEALM_E_IO (cannot open/read), SEALM_E_PERMISSION, SEALM_E_FORMAT (malformed
 * file: the message names file and line, never a secret), SEALM_E_UNSUPPORTED (a future
 * format version), SEALM_E_AUTH (wrong or missing passphrase, or the encrypted part was
 * tampered with), SEALM_E_NOMEM. Thread-safe. */
sealm_status sealm_key_load(const char *secret_path, const char *passphrase, sealm_key **out,
                            sealm_error *err);

/* Wipes and frees a key; NULL is a no-op. */
void sealm_key_free(sealm_key *k);

/* The key's kind. k must not be NULL. */
sealm_key_kind sealm_key_kind_of(const sealm_key *k);

/* Copies the key's 32-byte public key (Ed25519 or X25519 by kind) into pk. k not NULL. */
void sealm_key_public(const sealm_key *k, uint8_t pk[32]);

/* Writes the key id of a 32-byte public key: SEALM_KEY_ID_LEN lowercase hex characters
 * (first 8 bytes of BLAKE2b-256(pk), libsodium crypto_generichash) and a NUL. */
void sealm_key_id_of(const uint8_t pk[32], char id[SEALM_KEY_ID_LEN + 1]);

/* Publisher keys: writes the 64-byte detached Ed25519 signature (RFC 8032, libsodium
 * crypto_sign_detached) of msg[0..len) to sig. msg may be NULL when len is 0.
 * Returns SEALM_OK, or SEALM_E_INVALID (NULL key/sig, msg NULL with len > 0, or a device key:
 * device keys never sign). Thread-safe. */
sealm_status sealm_key_sign(const sealm_key *k, const uint8_t *msg, size_t len, uint8_t sig[64],
                            sealm_error *err);

/* Device keys: opens a libsodium sealed box (crypto_box_seal) addressed to this key.
 *
 * sealed: len bytes (len >= crypto_box_SEALBYTES, 48); out: room for len - crypto_box_SEALBYTES
 * bytes, which receive the plaintext (may be secret: the caller wipes it). On failure out's
 * contents are unspecified and must not be used.
 * Returns SEALM_OK, SEALM_E_INVALID (NULL argument, or a publisher key), SEALM_E_FORMAT
 * (len < crypto_box_SEALBYTES), SEALM_E_AUTH (not sealed for this key, or tampered).
 * Thread-safe. */
sealm_status sealm_key_unseal(const sealm_key *k, const uint8_t *sealed, size_t len, uint8_t *out,
                              sealm_error *err);

/* Derives a 32-byte secret for another purpose (e.g. the MAC key of the anti-rollback
 * state) from key k, bound to context (a NUL-terminated label of 1..64 bytes): BLAKE2b-256
 * keyed with the key's 32-byte secret over the label (RFC 7693 keyed mode, used as a PRF).
 * The key itself never leaves the provider. out: 32 bytes, caller wipes it after use.
 * Returns SEALM_OK or SEALM_E_INVALID. Thread-safe. */
sealm_status sealm_key_derive(const sealm_key *k, const char *context, uint8_t out[32], sealm_error *err);

/* Reads a public key file (`sealm-public-key v1`): its kind and 32-byte public key. The id in
 * the file must match the key. Returns SEALM_OK, SEALM_E_INVALID (NULL argument), SEALM_E_IO,
 * SEALM_E_FORMAT (message names file and line), SEALM_E_UNSUPPORTED (future version),
 * SEALM_E_NOMEM. Thread-safe. */
sealm_status sealm_pubkey_load(const char *public_path, sealm_key_kind *kind, uint8_t pk[32],
                               sealm_error *err);

/* ---- trust store ----
 * The device's list of trusted publisher public keys, revoked key ids and the number of
 * distinct trusted signatures a bundle needs (threshold). A text file, one entry per line
 * (`sealm-trust v1`; docs/keys-format.md). Revocation wins: a revoked id stays revoked even if
 * the same key is listed as a publisher or added again (sealm_trust_add refuses it). */
typedef struct sealm_trust_store sealm_trust_store;

/* Loads the trust store at path. A missing file is an empty store with threshold 1. The file
 * must not be group- or world-writable (SEALM_E_PERMISSION: anyone who can write it decides
 * which models run). Returns SEALM_OK, SEALM_E_INVALID (NULL argument), SEALM_E_IO,
 * SEALM_E_PERMISSION, SEALM_E_FORMAT (message names file and line), SEALM_E_UNSUPPORTED
 * (future version), SEALM_E_NOMEM. Thread-safe; the store is an immutable snapshot. */
sealm_status sealm_trust_load(const char *path, sealm_trust_store **out, sealm_error *err);

/* Frees a store; NULL is a no-op. */
void sealm_trust_free(sealm_trust_store *t);

typedef enum sealm_trust_status {
    SEALM_TRUST_UNKNOWN = 0, /* not in the store */
    SEALM_TRUST_TRUSTED = 1, /* a listed publisher key, not revoked */
    SEALM_TRUST_REVOKED = 2, /* its id is revoked (whether or not it is also listed) */
} sealm_trust_status;

/* What the store says about a 32-byte Ed25519 public key (full-key, constant-time compare).
 * t NULL → SEALM_TRUST_UNKNOWN. */
sealm_trust_status sealm_trust_check(const sealm_trust_store *t, const uint8_t pk[32]);

/* Number of distinct trusted publisher signatures required (>= 1; 1 for an empty store). */
uint32_t sealm_trust_threshold(const sealm_trust_store *t);

/* Adds a publisher public key to the store at path (created if missing, mode 0644), rewriting
 * it atomically. Adding a key already listed is a no-op. Returns SEALM_OK, SEALM_E_INVALID,
 * SEALM_E_REVOKED (the key's id is revoked: it can never be trusted again; generate a new
 * key), the errors of sealm_trust_load, SEALM_E_IO (write failed; the old file is intact). */
sealm_status sealm_trust_add(const char *path, const uint8_t pk[32], sealm_error *err);

/* Revokes a key id (SEALM_KEY_ID_LEN lowercase hex characters) in the store at path (created
 * if missing). The id need not be listed (revoking ahead of time is allowed); revoking twice
 * is a no-op. A listed publisher line stays in the file, so the revocation can be seen.
 * Returns SEALM_OK, SEALM_E_INVALID (malformed id), the errors of sealm_trust_load, SEALM_E_IO. */
sealm_status sealm_trust_revoke(const char *path, const char *key_id, sealm_error *err);

/* Sets the signature threshold, 1 <= k <= 255, of the store at path (created if missing).
 * Returns SEALM_OK, SEALM_E_INVALID (k out of range), the errors of sealm_trust_load,
 * SEALM_E_IO. */
sealm_status sealm_trust_set_threshold(const char *path, uint32_t k, sealm_error *err);

/* ---- TPM 2.0 (tpm2-tss ESAPI; TCG TPM 2.0 Library spec Part 3) ----
 * tcti: a tpm2-tss TCTI configuration string, e.g. "device:/dev/tpmrm0" (kernel resource
 * manager), "tabrmd:" or "swtpm:host=127.0.0.1,port=2321" (software TPM, tests): 1..256
 * printable characters without spaces. Each call opens and closes its own TPM connection, so
 * the functions are thread-safe as far as the TPM's resource manager serializes commands. */

/* Generates a device key (X25519) whose secret only the TPM can unseal: the secret is sealed
 * as a keyed-hash data object under the owner hierarchy's storage key (ECC P-256 template of
 * the TCG provisioning guidance, re-created deterministically from the TPM's seed at each
 * load), with fixedTPM | fixedParent, so the key file (docs/keys-format.md, "TPM-sealed") holds
 * only the TPM's public and private blobs and is useless on any other TPM or after a TPM clear.
 * sealm_key_load reads such a file like any other (the TCTI written in the file, or the
 * SEALM_TPM_TCTI environment variable when set, says where the TPM is; passphrase ignored).
 * secret_path (0600) and public_path (0644) must not exist. Returns SEALM_OK, SEALM_E_INVALID
 * (bad TCTI or paths), SEALM_E_IO (a file exists or cannot be written; TPM unreachable),
 * SEALM_E_AUTH (the TPM refused: decoded TPM error in the message), SEALM_E_NOMEM. */
sealm_status sealm_keygen_tpm(const char *tcti, const char *secret_path, const char *public_path, sealm_error *err);

/* TPM NV indices sealm may use: the owner-defined range of the TCG "Registry of Reserved TPM
 * 2.0 Handles and Localities" (0x01000000..0x013FFFFF). */
#define SEALM_TPM_NV_INDEX_MIN 0x01000000u
#define SEALM_TPM_NV_INDEX_MAX 0x013FFFFFu
/* The default index of sealm's anti-rollback counter (in the owner range; "5EA1": seal). */
#define SEALM_TPM_NV_ROLLBACK_INDEX 0x013F5EA1u

/* Reads the 64-bit monotonic NV counter at nv_index (TPM_NT_COUNTER, owner read/write, empty
 * owner auth). With create and no such index, defines it and increments it once (a TPM
 * counter reads only after its first increment; it starts at the highest count the TPM ever
 * had) and sets *created. Returns SEALM_OK, SEALM_E_NOT_FOUND (absent and !create),
 * SEALM_E_FORMAT (the index exists but is not a counter), SEALM_E_INVALID (index outside the
 * owner range), SEALM_E_IO (TPM unreachable), SEALM_E_AUTH (TPM error). */
sealm_status sealm_tpm_counter_read(const char *tcti, uint32_t nv_index, bool create, uint64_t *value, bool *created,
                                    sealm_error *err);

/* Increments the counter at nv_index (TPM2_NV_Increment) and returns its new value. The
 * counter never decreases, not even by undefining and re-defining the index. Errors as
 * sealm_tpm_counter_read (SEALM_E_NOT_FOUND when not defined). */
sealm_status sealm_tpm_counter_increment(const char *tcti, uint32_t nv_index, uint64_t *value, sealm_error *err);

#ifdef __cplusplus
}
#endif
#endif
