/* sealm bundle layer — sealed model bundles: a signed manifest, an encrypted GGUF payload,
 * the payload's content key wrapped to each authorized device, and anti-rollback state.
 *
 * Format (version 1): docs/bundle-format.md. All cryptography is libsodium:
 *   signatures   Ed25519 (crypto_sign_detached) over the header and the manifest;
 *   payload      crypto_secretstream_xchacha20poly1305 in fixed-size chunks (detects
 *                truncation, reordering, chunk swapping), under a random 32-byte content key;
 *   key wrapping crypto_box_seal (X25519 sealed box) of the content key, one per recipient;
 *   hashes       BLAKE2b-256 (crypto_generichash) of the ciphertext and of the plaintext;
 *   state MAC    HMAC-SHA-512-256 (crypto_auth) under a key derived from a device state key.
 *
 * Order of checks when reading (sealm_bundle_verify / sealm_bundle_open): container framing
 * (lengths only) → every signature over the manifest bytes, against the trust store
 * (revocation, threshold) → only then the manifest JSON, strictly → payload length and
 * BLAKE2b-256 of the whole ciphertext against the signed manifest → anti-rollback floor →
 * (open only) unwrap the content key for this device → stream-decrypt into locked memory →
 * plaintext hash. Nothing of the manifest is parsed before its signatures verify, and no
 * payload byte is decrypted before the ciphertext hash matches.
 *
 * Secrets: the publisher's and the device's secret keys never enter this layer; it signs
 * through sealm_key_sign and unwraps through sealm_key_unseal (keys.h). The content key lives
 * in sodium_malloc'd memory and is wiped as soon as the payload is decrypted. Error messages
 * name files, fields, key ids and sizes, never key or model bytes. */
#ifndef SEALM_BUNDLE_H
#define SEALM_BUNDLE_H

#include "sealm/common.h"
#include "sealm/keys.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SEALM_BUNDLE_FORMAT_VERSION 1u
#define SEALM_BUNDLE_MAX_SIGNATURES 8u       /* signatures one bundle may carry */
#define SEALM_BUNDLE_MAX_RECIPIENTS 256u     /* devices one bundle may be wrapped to */
#define SEALM_BUNDLE_MIN_CHUNK (4u << 10)    /* plaintext bytes per chunk: 4 KiB .. */
#define SEALM_BUNDLE_MAX_CHUNK (16u << 20)   /* .. 16 MiB */
#define SEALM_BUNDLE_DEFAULT_CHUNK (1u << 20)
#define SEALM_BUNDLE_MAX_PAYLOAD (1ull << 40) /* plaintext bytes (1 TiB) */
#define SEALM_BUNDLE_NAME_MAX 64u            /* model name: [A-Za-z0-9._-], starts alnum */
#define SEALM_BUNDLE_TEXT_MAX 64u            /* label, architecture, quantization, device class */
#define SEALM_BUNDLE_PROV_MAX 128u           /* each provenance string */
#define SEALM_BUNDLE_SYSTEM_PROMPT_MAX 8192u /* bytes of UTF-8 in the optional signed system prompt */

/* What a publisher states about a model when sealing it. Strings are NUL-terminated,
 * printable ASCII (0x20..0x7e), at most the lengths above; borrowed for the call only. */
typedef struct sealm_bundle_params {
    const char *name;           /* required; the anti-rollback key on devices */
    uint64_t version;           /* required; 1 .. 2^53-1, must grow with each release of name */
    const char *label;          /* human version label ("1.2.0-rc1"); NULL = "" */
    int64_t created_unix_s;     /* creation time, seconds since 1970; 0 = now */
    const char *architecture;   /* NULL = the GGUF's general.architecture */
    const char *quantization;   /* e.g. "Q8_0"; NULL = "unspecified" */
    const char *device_class;   /* e.g. "arm64-4GB"; NULL = "any" */
    const char *min_runtime;    /* lowest sealm version that may open it, "MAJOR.MINOR.PATCH"; NULL = this version */
    uint32_t chunk_size_bytes;  /* SEALM_BUNDLE_MIN_CHUNK .. MAX_CHUNK; 0 = DEFAULT_CHUNK */
    const char *source_model_hash;     /* optional provenance (NULL = absent) */
    const char *quantization_settings; /* optional provenance */
    const char *build_commit;          /* optional provenance */
    /* Optional system prompt the runtime uses for this model (sealmd, `sealm chat`): signed
     * with the manifest, so a device can tell it came from the publisher. 1..8192 bytes of
     * UTF-8 without control characters other than tab, LF and CR; NULL = none. It is
     * readable by anyone who can read the bundle file (the manifest is not encrypted). */
    const char *system_prompt;
} sealm_bundle_params;

/* Everything a bundle says about itself that is safe to show: no key material. Filled by
 * sealm_bundle_verify only after the signatures and the manifest checked out. Fixed-size
 * so that it never allocates; strings are NUL-terminated (optional ones "" when absent). */
typedef struct sealm_bundle_info {
    uint32_t format_version;
    char bundle_id[33];                  /* 128-bit random id, lowercase hex */
    char name[SEALM_BUNDLE_NAME_MAX + 1];
    uint64_t version;
    char label[SEALM_BUNDLE_TEXT_MAX + 1];
    int64_t created_unix_s;
    uint64_t payload_size_bytes;         /* plaintext GGUF size */
    uint8_t payload_hash[32];            /* BLAKE2b-256 of the plaintext GGUF */
    uint8_t ciphertext_hash[32];         /* BLAKE2b-256 of the whole encrypted stream */
    uint32_t chunk_size_bytes;
    uint64_t n_chunks;
    char cipher[48];                     /* "xchacha20poly1305-secretstream" */
    char architecture[SEALM_BUNDLE_TEXT_MAX + 1];
    char quantization[SEALM_BUNDLE_TEXT_MAX + 1];
    char device_class[SEALM_BUNDLE_TEXT_MAX + 1];
    char min_runtime[33];
    char source_model_hash[SEALM_BUNDLE_PROV_MAX + 1];
    char quantization_settings[SEALM_BUNDLE_PROV_MAX + 1];
    char build_commit[SEALM_BUNDLE_PROV_MAX + 1];
    char system_prompt[SEALM_BUNDLE_SYSTEM_PROMPT_MAX + 1]; /* signed; "" when the manifest has none */
    uint32_t n_signers;                  /* publisher key ids, as listed in the manifest (all verified) */
    char signer_ids[SEALM_BUNDLE_MAX_SIGNATURES][SEALM_KEY_ID_LEN + 1];
    uint32_t n_trusted_signers;          /* how many of them the trust store trusts */
    uint32_t n_recipients;               /* device key ids the content key is wrapped to (unsigned section) */
    char recipient_ids[SEALM_BUNDLE_MAX_RECIPIENTS][SEALM_KEY_ID_LEN + 1];
} sealm_bundle_info;

/* ---- sealing (publisher side, offline) ---- */

/* Encrypts and signs one GGUF image into a bundle file.
 *
 * gguf/len:     the plaintext model (must parse as GGUF; not modified).
 * params:       manifest fields (see sealm_bundle_params); a fresh content key, bundle id
 *               and secretstream header are drawn from randombytes for every call.
 * publishers:   n_publishers (1..SEALM_BUNDLE_MAX_SIGNATURES) distinct SEALM_KEY_PUBLISHER
 *               keys; each signs the manifest through sealm_key_sign.
 * recipients:   n_recipients (1..SEALM_BUNDLE_MAX_RECIPIENTS) distinct X25519 device public
 *               keys (sealm_pubkey_load); each gets a sealed box of the content key.
 * out_path:     written atomically (temp file in the same folder, fsync, rename, fsync folder),
 *               mode 0644; an existing file is replaced only once the new one is complete.
 * err:          on failure, a message for the user.
 *
 * Returns SEALM_OK, or SEALM_E_INVALID (NULL or out-of-range argument, bad name or string,
 * duplicate key, a device key given as publisher), SEALM_E_FORMAT (gguf does not parse),
 * SEALM_E_NOMEM, SEALM_E_IO (writing out_path), or what sealm_key_sign returned.
 * Memory: about twice the model size (offline tool). Thread-safe (no shared state). */
sealm_status sealm_bundle_seal(const uint8_t *gguf, size_t len, const sealm_bundle_params *params,
                               const sealm_key *const *publishers, size_t n_publishers,
                               const uint8_t (*recipients)[32], size_t n_recipients,
                               const char *out_path, sealm_error *err);

/* As sealm_bundle_seal, reading the GGUF from gguf_path (SEALM_E_IO if it cannot be read). */
sealm_status sealm_bundle_seal_file(const char *gguf_path, const sealm_bundle_params *params,
                                    const sealm_key *const *publishers, size_t n_publishers,
                                    const uint8_t (*recipients)[32], size_t n_recipients,
                                    const char *out_path, sealm_error *err);

/* Adds and removes devices of a sealed bundle without re-encrypting its payload
 * (`sealm recipients add/remove`; docs/bundle-format.md, "Recipients").
 *
 * in_path:   the bundle. It is checked first as sealm_bundle_inspect does (framing, every
 *            signature valid for its own key, manifest, ciphertext hash); trust is not asked.
 * out_path:  the new bundle, written atomically (mode 0644); may equal in_path.
 * overwrite: whether an existing out_path may be replaced (false: SEALM_E_IO if it exists).
 * holder:    the device key of a current recipient; required when n_add > 0, because only
 *            the content key can be wrapped to a new device. Its wrapped key is checked
 *            against the manifest's key commitment before it is re-wrapped. May be NULL
 *            when only removing.
 * add:       n_add X25519 device public keys to wrap the content key to (crypto_box_seal).
 * remove:    n_remove device public keys whose entries are dropped (removals apply first).
 *
 * Header, manifest, signatures and payload are copied byte for byte; only the recipient
 * section and the trailer's total length change, so publisher signatures stay valid.
 * Removing a device stops it from opening this file; it does not revoke a content key the
 * device may already have read: for that, seal a new version (fresh content key).
 * Memory: the file is mmap'd read-only (ciphertext only); no plaintext byte is produced.
 * Returns SEALM_OK, or SEALM_E_INVALID (NULL/empty arguments, a key to add already listed,
 * more than SEALM_BUNDLE_MAX_RECIPIENTS, no recipient left, holder missing or not a device
 * key), SEALM_E_NOT_FOUND (a key to remove is not listed), SEALM_E_RECIPIENT (holder is not
 * a recipient), SEALM_E_AUTH (holder's entry does not open, or opens to a key the manifest
 * does not commit to), what sealm_bundle_inspect returns for a damaged bundle, SEALM_E_IO,
 * SEALM_E_NOMEM. On any error out_path is untouched. Thread-safe (no shared state). */
sealm_status sealm_bundle_recipients_edit(const char *in_path, const char *out_path, bool overwrite,
                                          const sealm_key *holder, const uint8_t (*add)[32], size_t n_add,
                                          const uint8_t (*remove)[32], size_t n_remove, sealm_error *err);

/* Writes a detached signature of the file at path in minisign's format (prehashed "ED"
 * algorithm: Ed25519 over BLAKE2b-512 of the file, plus a global signature over the
 * signature and the trusted comment), so that `minisign -V -p KEY.pub -m FILE` verifies it.
 * Format: https://jedisct1.github.io/minisign/ ("Signature format").
 *
 * publisher:       a SEALM_KEY_PUBLISHER key; signs through sealm_key_sign.
 * trusted_comment: printable ASCII without newlines, at most 1024 bytes (signed).
 * sig_path:        written atomically (mode 0644), replacing an existing file.
 * The minisign key id is the 8-byte sealm key id (first 8 bytes of BLAKE2b-256(pk)).
 * Returns SEALM_OK, SEALM_E_INVALID (bad argument or comment, not a publisher key),
 * SEALM_E_IO, SEALM_E_NOMEM. Thread-safe. */
sealm_status sealm_minisign_sign_file(const sealm_key *publisher, const char *path, const char *trusted_comment,
                                      const char *sig_path, sealm_error *err);

/* Writes the minisign public key file ("untrusted comment" line, then base64 of "Ed" | key id |
 * Ed25519 public key) for a publisher public key, atomically to out_path (mode 0644,
 * replacing). Returns SEALM_OK, SEALM_E_INVALID, SEALM_E_IO, SEALM_E_NOMEM. Thread-safe. */
sealm_status sealm_minisign_write_public_key(const uint8_t pk[32], const char *out_path, sealm_error *err);

/* ---- anti-rollback state (device side) ---- */

/* The highest version accepted per model name on this device, in a file protected by a MAC
 * (HMAC-SHA-512-256 under BLAKE2b-256(key = state_key, "sealm-bundle-v1 rollback state")).
 * The caller supplies state_key, a 32-byte device secret; the CLI and sealmd derive it from
 * the device key with sealm_key_derive(key, "sealm anti-rollback state v1"). Without a TPM,
 * deleting the file or putting back an old copy resets the floors; with one
 * (sealm_bundle_rollback_open_tpm) both are refused. */
typedef struct sealm_bundle_rollback sealm_bundle_rollback;

/* Loads the state at path (a missing file is an empty state; it is created on the first
 * accept). state_key is copied into locked memory.
 * Returns SEALM_OK and *out, or SEALM_E_AUTH (MAC mismatch: the file was edited, or belongs
 * to another device key), SEALM_E_FORMAT (malformed after a valid MAC), SEALM_E_IO,
 * SEALM_E_NOMEM, SEALM_E_INVALID (also: the file is bound to a TPM counter, open it with
 * sealm_bundle_rollback_open_tpm). */
sealm_status sealm_bundle_rollback_open(const char *path, const uint8_t state_key[32],
                                        sealm_bundle_rollback **out, sealm_error *err);

/* As sealm_bundle_rollback_open, with the state bound to the TPM's monotonic NV counter at
 * nv_index (SEALM_TPM_NV_ROLLBACK_INDEX by default; sealm_tpm_counter_read), so that putting
 * back an old copy of the state file — which a MAC cannot detect — is refused. The file then
 * carries the counter value inside its MAC (format "SEALMRB2", docs/bundle-format.md); every
 * accepted write stores counter + 1 and then increments the TPM. On open: file == TPM is
 * current; file == TPM + 1 is a write interrupted before the increment (the increment is
 * completed); anything else, a missing file while the counter exists, or an unbound file while
 * the counter exists, is SEALM_E_ROLLBACK. The counter is defined on first use (no state file
 * yet). tcti: see keys.h. Returns the codes of sealm_bundle_rollback_open, SEALM_E_ROLLBACK,
 * and the TPM errors of sealm_tpm_counter_read. One state file per counter index. */
sealm_status sealm_bundle_rollback_open_tpm(const char *path, const uint8_t state_key[32], const char *tcti,
                                            uint32_t nv_index, sealm_bundle_rollback **out, sealm_error *err);

/* The floor for name: the highest version accepted so far, 0 if none. */
uint64_t sealm_bundle_rollback_floor(const sealm_bundle_rollback *r, const char *name);

/* Raises name's floor to version and rewrites the file atomically (temp, fsync, rename,
 * fsync folder; mode 0600). Equal version: nothing to write. Returns SEALM_OK,
 * SEALM_E_ROLLBACK (version below the floor; nothing changes), SEALM_E_IO (the file keeps its
 * old content and so does memory), SEALM_E_INVALID (bad name, version 0, or 4096 names already). */
sealm_status sealm_bundle_rollback_accept(sealm_bundle_rollback *r, const char *name,
                                          uint64_t version, sealm_error *err);

/* Wipes and frees. NULL is a no-op. */
void sealm_bundle_rollback_free(sealm_bundle_rollback *r);

/* ---- reading (device side) ---- */

/* Checks a bundle without decrypting it: framing, signatures, manifest, ciphertext hash and
 * (when rollback != NULL) the anti-rollback floor.
 *
 * bundle/len:  the sealed file's bytes (not modified); untrusted.
 * trust:       publisher keys, revocations and signature threshold (sealm_trust_load).
 * rollback:    optional; NULL skips the floor check (inspection tools only).
 * info:        optional; filled on success only.
 *
 * Returns SEALM_OK, or SEALM_E_FORMAT (bad magic, version, flags, any length or count out of
 * range, truncated, bytes after the trailer, manifest not strict JSON of the documented
 * shape, payload length not what the manifest implies), SEALM_E_SIGNATURE (an invalid
 * signature, signers other than the ones the manifest lists, or fewer trusted signers than
 * the trust store's threshold), SEALM_E_REVOKED (a signer is revoked), SEALM_E_AUTH
 * (ciphertext hash differs from the signed manifest: a chunk or tag was changed, swapped, or
 * the payload belongs to another bundle), SEALM_E_ROLLBACK (version below the floor for
 * this name), SEALM_E_UNSUPPORTED (min_runtime above this sealm), SEALM_E_INVALID.
 * Thread-safe when rollback is not being changed at the same time. */
sealm_status sealm_bundle_verify(const uint8_t *bundle, size_t len, const sealm_trust_store *trust,
                                 const sealm_bundle_rollback *rollback, sealm_bundle_info *info,
                                 sealm_error *err);

/* Reads a bundle's public facts for display (`sealm inspect`) on a machine without the
 * device's trust store, e.g. the publisher's. Checks the framing, that every signature is a
 * valid Ed25519 signature by the key it carries (before the manifest is parsed), the
 * manifest, and the ciphertext hash; does NOT ask whether any signer is trusted
 * (info->n_trusted_signers is 0). Never use it to decide whether to load a model.
 * Returns the codes of sealm_bundle_verify except SEALM_E_REVOKED and SEALM_E_ROLLBACK, and
 * SEALM_E_SIGNATURE only for an invalid signature or a signer list that does not match.
 * Thread-safe. */
sealm_status sealm_bundle_inspect(const uint8_t *bundle, size_t len, sealm_bundle_info *info,
                                  sealm_error *err);

/* A decrypted model: the plaintext GGUF in memory that is mlock'd, excluded from core dumps
 * (MADV_DONTDUMP) and read-only after its hash checked; owned by the caller. */
typedef struct sealm_bundle_image sealm_bundle_image;

/* Decrypts and authenticates one sealed bundle into locked memory.
 *
 * bundle/len:  the sealed file's bytes (not modified); untrusted.
 * trust:       as for sealm_bundle_verify.
 * device_key:  this device's SEALM_KEY_DEVICE key; used only through sealm_key_unseal.
 * rollback:    required; its floor is checked before decryption and raised (file rewritten)
 *              only after the whole payload decrypted and its hash matched.
 * out:         on success an owned image; free with sealm_bundle_image_free (which wipes it).
 *              On failure *out is NULL and every plaintext byte already written is wiped.
 *
 * Returns what sealm_bundle_verify returns, and SEALM_E_RECIPIENT (not sealed for this
 * device's key), SEALM_E_AUTH (the wrapped content key does not open or does not match the
 * manifest's key commitment; a chunk failed authentication; plaintext hash mismatch),
 * SEALM_E_NOMEM (including mlock refused: raise RLIMIT_MEMLOCK, `ulimit -l`), SEALM_E_IO
 * (the rollback state could not be written; the image is not returned).
 * The first call makes the process non-dumpable (PR_SET_DUMPABLE 0) and sets RLIMIT_CORE to 0.
 * Peak memory: the plaintext size (decrypted chunk by chunk in place) plus the bundle bytes
 * the caller holds; sealm_bundle_open_file holds only one chunk of ciphertext at a time.
 * Thread-safe: the rollback store locks itself (if two threads open versions 4 and 5 of a
 * name at once, whichever checks after 5 was accepted fails with SEALM_E_ROLLBACK). */
sealm_status sealm_bundle_open(const uint8_t *bundle, size_t len, const sealm_trust_store *trust,
                               const sealm_key *device_key, sealm_bundle_rollback *rollback,
                               sealm_bundle_image **out, sealm_error *err);

/* As sealm_bundle_open on the file at path, which is never held whole in memory: the
 * sections before the payload (at most ~94 KiB) are read, then the payload is read twice,
 * at the same time by two threads: 1 MiB at a time for its ciphertext hash and one chunk at a
 * time for decryption, so the peak is the plaintext size plus one chunk and 1 MiB. A file changed between the two reads fails authentication
 * (SEALM_E_AUTH). SEALM_E_IO if it cannot be opened or read. */
sealm_status sealm_bundle_open_file(const char *path, const sealm_trust_store *trust,
                                    const sealm_key *device_key, sealm_bundle_rollback *rollback,
                                    sealm_bundle_image **out, sealm_error *err);

/* The plaintext GGUF (*len bytes; valid until sealm_bundle_image_free; read-only), ready for
 * sealm_gguf_open_memory; and the verified manifest facts. */
const uint8_t *sealm_bundle_image_data(const sealm_bundle_image *img, size_t *len);
const sealm_bundle_info *sealm_bundle_image_info(const sealm_bundle_image *img);

/* Wipes the plaintext, unlocks and unmaps it, frees the image. NULL is a no-op. Every
 * sealm_gguf handle opened on the data must be closed first. */
void sealm_bundle_image_free(sealm_bundle_image *img);

#ifdef __cplusplus
}
#endif
#endif
