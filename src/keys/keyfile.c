/* Secret and public key files: their text, written and parsed (docs/keys-format.md).
 *
 *   sealm-secret-key v1              sealm-secret-key v1
 *   kind: publisher|device           kind: ...
 *   id: <16 hex>                     id: ...
 *   public: <base64, 32 bytes>       public: ...
 *   secret: <base64, 32 bytes>       argon2id-opslimit: <n>
 *                                    argon2id-memlimit: <bytes>
 *                                    salt: <base64, 16 bytes>
 *                                    nonce: <base64, 24 bytes>
 *                                    ciphertext: <base64, 32 + 16 bytes>
 *
 * Protected files: key = Argon2id13(passphrase, salt, opslimit, memlimit) (RFC 9106 via
 * libsodium crypto_pwhash), ciphertext = XChaCha20-Poly1305-IETF(key, nonce, secret) with every
 * byte of the file before the `ciphertext:` line as associated data, so no header field can be
 * changed without the passphrase. Unprotected files: the id and the secret must both agree
 * with the public key. Secret bytes only ever sit in sodium_malloc'd buffers. */
#include "keys_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_VERSION_PREFIX "sealm-secret-key v"
#define PUBLIC_VERSION_PREFIX "sealm-public-key v"
#define CIPHERTEXT_BYTES (SEALM_KEYS_SECRET_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES)

void sealm_key_id_of(const uint8_t pk[32], char id[SEALM_KEY_ID_LEN + 1]) {
    uint8_t h[32];
    crypto_generichash(h, sizeof h, pk, 32, NULL, 0);
    sodium_bin2hex(id, SEALM_KEY_ID_LEN + 1, h, SEALM_KEY_ID_LEN / 2);
}

void sealm_keys_derive(sealm_key_kind kind, const uint8_t secret[SEALM_KEYS_SECRET_BYTES],
                       struct sealm_key *k) {
    k->kind = kind;
    if (kind == SEALM_KEY_PUBLISHER) {
        crypto_sign_seed_keypair(k->pk, k->sk, secret);
    } else {
        /* X25519 clamps the scalar (RFC 7748 §5) and ignores the bits it clears; keeping it
         * clamped makes the stored form unique, so any changed bit in a file is noticed. */
        memcpy(k->sk, secret, SEALM_KEYS_SECRET_BYTES);
        k->sk[0] &= 248;
        k->sk[31] &= 127;
        k->sk[31] |= 64;
        crypto_scalarmult_base(k->pk, k->sk);
    }
}

/* ---- writing ---- */

/* Appends to a fixed-capacity buffer (sodium_malloc'd for secret files). */
typedef struct text_out {
    char *p;
    size_t len, cap;
} text_out;

static void put(text_out *t, const char *s) {
    size_t n = strlen(s);
    if (t->len + n < t->cap) {
        memcpy(t->p + t->len, s, n);
        t->len += n;
        t->p[t->len] = '\0';
    } else {
        t->len = t->cap;   /* marks overflow; checked by the caller */
    }
}

/* "name: base64(bytes)\n", encoding straight into the output buffer so that encoded secrets
 * never sit anywhere else. */
static void put_b64(text_out *t, const char *name, const uint8_t *bytes, size_t n) {
    put(t, name);
    put(t, ": ");
    size_t enc = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    if (t->len + enc + 1 >= t->cap) {
        t->len = t->cap;
        return;
    }
    sodium_bin2base64(t->p + t->len, enc, bytes, n, sodium_base64_VARIANT_ORIGINAL);
    t->len += enc - 1;
    put(t, "\n");
}

static void put_header(text_out *t, const char *version, sealm_key_kind kind, const uint8_t pk[32]) {
    char id[SEALM_KEY_ID_LEN + 1];
    sealm_key_id_of(pk, id);
    put(t, version);
    put(t, "\nkind: ");
    put(t, sealm_keys_kind_name(kind));
    put(t, "\nid: ");
    put(t, id);
    put(t, "\n");
    put_b64(t, "public", pk, 32);
}

size_t sealm_keys_public_encode(sealm_key_kind kind, const uint8_t pk[32], char *buf, size_t cap) {
    text_out t = {buf, 0, cap};
    put_header(&t, PUBLIC_VERSION_PREFIX "1", kind, pk);
    return t.len;
}

/* The secret as stored: the Ed25519 seed (first half of libsodium's sk) or the clamped X25519
 * scalar. */
static const uint8_t *stored_secret(const struct sealm_key *k) { return k->sk; }

/* Argon2id → 32-byte AEAD key in secure memory. */
static sealm_status derive_file_key(const char *path, const char *passphrase, const uint8_t *salt,
                                    uint64_t opslimit, uint64_t memlimit, uint8_t **key,
                                    sealm_error *err) {
    *key = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
    if (!*key) return sealm_error_set(err, SEALM_E_NOMEM, "%s: out of secure memory", path);
    if (crypto_pwhash(*key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, passphrase,
                      strlen(passphrase), salt, opslimit, (size_t)memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        sodium_free(*key);
        *key = NULL;
        return sealm_error_set(err, SEALM_E_NOMEM, "%s: Argon2id could not get its %llu bytes of "
                               "memory", path, (unsigned long long)memlimit);
    }
    return SEALM_OK;
}

sealm_status sealm_keys_secret_encode(const struct sealm_key *k, const char *passphrase,
                                      char **text, size_t *len, sealm_error *err) {
    const size_t cap = 1024;
    text_out t = {sodium_malloc(cap), 0, cap};
    if (!t.p) return sealm_error_set(err, SEALM_E_NOMEM, "out of secure memory");
    put_header(&t, SECRET_VERSION_PREFIX "1", k->kind, k->pk);
    if (!passphrase) {
        put_b64(&t, "secret", stored_secret(k), SEALM_KEYS_SECRET_BYTES);
    } else {
        uint8_t salt[crypto_pwhash_SALTBYTES], nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
        uint8_t ct[CIPHERTEXT_BYTES];   /* ciphertext: not secret */
        char num[32];
        randombytes_buf(salt, sizeof salt);
        randombytes_buf(nonce, sizeof nonce);
        snprintf(num, sizeof num, "%llu", (unsigned long long)SEALM_KEYS_PWHASH_OPSLIMIT);
        put(&t, "argon2id-opslimit: ");
        put(&t, num);
        snprintf(num, sizeof num, "%llu", (unsigned long long)SEALM_KEYS_PWHASH_MEMLIMIT);
        put(&t, "\nargon2id-memlimit: ");
        put(&t, num);
        put(&t, "\n");
        put_b64(&t, "salt", salt, sizeof salt);
        put_b64(&t, "nonce", nonce, sizeof nonce);
        uint8_t *key = NULL;
        sealm_status rc = derive_file_key("new secret key", passphrase, salt,
                                          SEALM_KEYS_PWHASH_OPSLIMIT, SEALM_KEYS_PWHASH_MEMLIMIT,
                                          &key, err);
        if (rc != SEALM_OK) {
            sodium_free(t.p);
            return rc;
        }
        /* Associated data: the whole header written so far. */
        crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, stored_secret(k), SEALM_KEYS_SECRET_BYTES,
                                                   (const uint8_t *)t.p, t.len, NULL, nonce, key);
        sodium_free(key);
        put_b64(&t, "ciphertext", ct, sizeof ct);
    }
    if (t.len >= t.cap) {   /* cannot happen with these fixed sizes; checked anyway */
        sodium_free(t.p);
        return sealm_error_set(err, SEALM_E_NOMEM, "secret key text does not fit its buffer");
    }
    *text = t.p;
    *len = t.len;
    return SEALM_OK;
}

sealm_status sealm_keys_tpm_encode(const struct sealm_key *k, const char *tcti, const uint8_t *pub_blob,
                                   size_t pub_len, const uint8_t *priv_blob, size_t priv_len, char **text,
                                   size_t *len, sealm_error *err) {
    const size_t cap = 4096;
    text_out t = {sodium_malloc(cap), 0, cap};
    if (!t.p) return sealm_error_set(err, SEALM_E_NOMEM, "out of secure memory");
    put_header(&t, SECRET_VERSION_PREFIX "1", k->kind, k->pk);
    put(&t, "tpm-tcti: ");
    put(&t, tcti);
    put(&t, "\n");
    put_b64(&t, "tpm-public", pub_blob, pub_len);
    put_b64(&t, "tpm-private", priv_blob, priv_len);
    if (t.len >= t.cap) {
        sodium_free(t.p);
        return sealm_error_set(err, SEALM_E_NOMEM, "TPM key file text does not fit its buffer");
    }
    *text = t.p;
    *len = t.len;
    return SEALM_OK;
}

/* ---- parsing ---- */

static sealm_status parse_version(sealm_keys_lines *ls, const char *prefix, const char *what,
                                  sealm_error *err) {
    const char *line;
    size_t len;
    sealm_status rc = sealm_keys_lines_next(ls, &line, &len, err);
    if (rc == SEALM_E_NOT_FOUND)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s: file is empty; expected a %s", ls->path, what);
    if (rc != SEALM_OK) return rc;
    size_t plen = strlen(prefix);
    if (len < plen || memcmp(line, prefix, plen) != 0)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:1: not a %s (first line must be `%s1`)",
                               ls->path, what, prefix);
    uint64_t v;
    if (!sealm_keys_parse_u64(line + plen, len - plen, &v))
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:1: malformed version in the first line "
                               "(expected `%s1`)", ls->path, prefix);
    if (v != 1)
        return sealm_error_set(err, SEALM_E_UNSUPPORTED, "%s:1: %s format version %llu; this "
                               "sealm reads version 1 only (upgrade sealm)",
                               ls->path, what, (unsigned long long)v);
    return SEALM_OK;
}

/* Fields every key file starts with: kind, id, public (and the id must be the key's). */
static sealm_status parse_key_header(sealm_keys_lines *ls, sealm_key_kind *kind, uint8_t pk[32],
                                     sealm_error *err) {
    const char *v;
    size_t n;
    sealm_status rc = sealm_keys_lines_field(ls, "kind", &v, &n, err);
    if (rc != SEALM_OK) return rc;
    if (!sealm_keys_kind_parse(v, n, kind))
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: unknown key kind (expected `publisher` "
                               "or `device`)", ls->path, ls->line_no);
    rc = sealm_keys_lines_field(ls, "id", &v, &n, err);
    if (rc != SEALM_OK) return rc;
    if (!sealm_keys_id_valid(v, n))
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: id must be %d lowercase hex characters",
                               ls->path, ls->line_no, SEALM_KEY_ID_LEN);
    char file_id[SEALM_KEY_ID_LEN + 1];
    memcpy(file_id, v, SEALM_KEY_ID_LEN);
    file_id[SEALM_KEY_ID_LEN] = '\0';
    int id_line = ls->line_no;
    rc = sealm_keys_lines_field(ls, "public", &v, &n, err);
    if (rc != SEALM_OK) return rc;
    if (!sealm_keys_base64_decode(v, n, pk, 32))
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: public key must be 32 bytes in padded "
                               "base64 (44 characters)", ls->path, ls->line_no);
    char id[SEALM_KEY_ID_LEN + 1];
    sealm_key_id_of(pk, id);
    if (strcmp(id, file_id) != 0)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: id %s does not match the public key "
                               "(whose id is %s): the file was modified or assembled from two keys",
                               ls->path, id_line, file_id, id);
    return SEALM_OK;
}

static sealm_status expect_end(sealm_keys_lines *ls, sealm_error *err) {
    const char *line;
    size_t len;
    sealm_status rc = sealm_keys_lines_next(ls, &line, &len, err);
    if (rc == SEALM_E_NOT_FOUND) return SEALM_OK;
    if (rc != SEALM_OK) return rc;
    return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: unexpected line after the last field",
                           ls->path, ls->line_no);
}

sealm_status sealm_keys_public_decode(const char *path, const char *data, size_t len,
                                      sealm_key_kind *kind, uint8_t pk[32], sealm_error *err) {
    sealm_keys_lines ls;
    sealm_keys_lines_init(&ls, path, data, len);
    sealm_status rc = parse_version(&ls, PUBLIC_VERSION_PREFIX, "sealm public key file", err);
    if (rc == SEALM_OK) rc = parse_key_header(&ls, kind, pk, err);
    if (rc == SEALM_OK) rc = expect_end(&ls, err);
    return rc;
}

/* The secret must produce the public key written next to it (catches a corrupted secret in
 * an unprotected file, and a file stitched together from two keys). */
static sealm_status check_pair(const char *path, sealm_key_kind kind, const uint8_t pk[32],
                               const uint8_t *secret, struct sealm_key *k, sealm_error *err) {
    sealm_keys_derive(kind, secret, k);
    if (sodium_memcmp(k->pk, pk, 32) != 0)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s: the secret key does not belong to the "
                               "public key in the file (file corrupted or modified)", path);
    if (kind == SEALM_KEY_DEVICE && sodium_memcmp(k->sk, secret, SEALM_KEYS_SECRET_BYTES) != 0)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s: the device secret is not a clamped X25519 "
                               "scalar as sealm writes it (file corrupted or modified)", path);
    return SEALM_OK;
}

static sealm_status parse_unprotected(sealm_keys_lines *ls, const char *v, size_t n,
                                      sealm_key_kind kind, const uint8_t pk[32],
                                      struct sealm_key *k, sealm_error *err) {
    /* Decoded straight into a guarded buffer, never onto the stack. */
    uint8_t *secret = sodium_malloc(SEALM_KEYS_SECRET_BYTES);
    if (!secret) return sealm_error_set(err, SEALM_E_NOMEM, "%s: out of secure memory", ls->path);
    sealm_status rc = SEALM_OK;
    if (!sealm_keys_base64_decode(v, n, secret, SEALM_KEYS_SECRET_BYTES))
        rc = sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: secret must be 32 bytes in padded base64 "
                             "(44 characters)", ls->path, ls->line_no);
    if (rc == SEALM_OK) rc = expect_end(ls, err);
    if (rc == SEALM_OK) rc = check_pair(ls->path, kind, pk, secret, k, err);
    sodium_free(secret);
    return rc;
}

static sealm_status parse_limit(sealm_keys_lines *ls, const char *name, uint64_t lo, uint64_t hi,
                                uint64_t *out, sealm_error *err) {
    const char *v;
    size_t n;
    sealm_status rc = sealm_keys_lines_field(ls, name, &v, &n, err);
    if (rc != SEALM_OK) return rc;
    if (!sealm_keys_parse_u64(v, n, out) || *out < lo || *out > hi)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: %s must be a decimal number from %llu "
                               "to %llu", ls->path, ls->line_no, name, (unsigned long long)lo,
                               (unsigned long long)hi);
    return SEALM_OK;
}

static sealm_status parse_bytes_field(sealm_keys_lines *ls, const char *name, uint8_t *out,
                                      size_t n_bytes, sealm_error *err) {
    const char *v;
    size_t n;
    sealm_status rc = sealm_keys_lines_field(ls, name, &v, &n, err);
    if (rc != SEALM_OK) return rc;
    if (!sealm_keys_base64_decode(v, n, out, n_bytes))
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: %s must be %zu bytes in padded base64",
                               ls->path, ls->line_no, name, n_bytes);
    return SEALM_OK;
}

static sealm_status parse_protected(sealm_keys_lines *ls, const char *data, const char *passphrase,
                                    sealm_key_kind kind, const uint8_t pk[32],
                                    struct sealm_key *k, sealm_error *err) {
    uint64_t opslimit, memlimit;
    uint8_t salt[crypto_pwhash_SALTBYTES], nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    uint8_t ct[CIPHERTEXT_BYTES];
    /* Bounds: no weaker than what keygen writes, no larger than libsodium's SENSITIVE limits
     * (a hostile file must not make us allocate without bound). */
    sealm_status rc = parse_limit(ls, "argon2id-opslimit", crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                  crypto_pwhash_OPSLIMIT_SENSITIVE, &opslimit, err);
    if (rc == SEALM_OK)
        rc = parse_limit(ls, "argon2id-memlimit", crypto_pwhash_MEMLIMIT_INTERACTIVE,
                         crypto_pwhash_MEMLIMIT_SENSITIVE, &memlimit, err);
    if (rc == SEALM_OK) rc = parse_bytes_field(ls, "salt", salt, sizeof salt, err);
    if (rc == SEALM_OK) rc = parse_bytes_field(ls, "nonce", nonce, sizeof nonce, err);
    const char *ad_end = ls->p;   /* associated data: everything before the ciphertext line */
    if (rc == SEALM_OK) rc = parse_bytes_field(ls, "ciphertext", ct, sizeof ct, err);
    if (rc == SEALM_OK) rc = expect_end(ls, err);
    if (rc != SEALM_OK) return rc;
    if (!passphrase)
        return sealm_error_set(err, SEALM_E_AUTH, "%s: the secret key is passphrase-protected; give "
                               "its passphrase", ls->path);

    uint8_t *key = NULL;
    rc = derive_file_key(ls->path, passphrase, salt, opslimit, memlimit, &key, err);
    if (rc != SEALM_OK) return rc;
    uint8_t *secret = sodium_malloc(SEALM_KEYS_SECRET_BYTES);
    if (!secret) {
        sodium_free(key);
        return sealm_error_set(err, SEALM_E_NOMEM, "%s: out of secure memory", ls->path);
    }
    unsigned long long secret_len = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(secret, &secret_len, NULL, ct, sizeof ct,
                                                   (const uint8_t *)data, (size_t)(ad_end - data),
                                                   nonce, key) != 0
        || secret_len != SEALM_KEYS_SECRET_BYTES) {
        rc = sealm_error_set(err, SEALM_E_AUTH, "%s: wrong passphrase, or the file was modified "
                             "(authentication failed)", ls->path);
    }
    sodium_free(key);
    if (rc == SEALM_OK) rc = check_pair(ls->path, kind, pk, secret, k, err);
    sodium_free(secret);
    return rc;
}

/* A variable-length binary field: padded base64 of 1..max bytes. */
static sealm_status parse_blob_field(sealm_keys_lines *ls, const char *name, uint8_t *out, size_t max,
                                     size_t *out_len, sealm_error *err) {
    const char *v;
    size_t n;
    sealm_status rc = sealm_keys_lines_field(ls, name, &v, &n, err);
    if (rc != SEALM_OK) return rc;
    const char *end = NULL;
    if (sodium_base642bin(out, max, v, n, NULL, out_len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != v + n || *out_len == 0)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: %s must be 1..%zu bytes in padded base64",
                               ls->path, ls->line_no, name, max);
    return SEALM_OK;
}

/* A TPM-sealed device key: the TPM unseals the secret; the file holds only the TPM's blobs.
 * SEALM_TPM_TCTI in the environment overrides the TCTI written at keygen (e.g. after the
 * resource manager moved). */
static sealm_status parse_tpm(sealm_keys_lines *ls, const char *v, size_t n, sealm_key_kind kind,
                              const uint8_t pk[32], struct sealm_key *k, sealm_error *err) {
    char tcti[SEALM_KEYS_TPM_TCTI_MAX + 1];
    if (n > SEALM_KEYS_TPM_TCTI_MAX)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: tpm-tcti is longer than %d bytes", ls->path, ls->line_no,
                               SEALM_KEYS_TPM_TCTI_MAX);
    memcpy(tcti, v, n);
    tcti[n] = '\0';
    if (!sealm_keys_tpm_tcti_ok(tcti))
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: tpm-tcti is not a TCTI string", ls->path, ls->line_no);
    if (kind != SEALM_KEY_DEVICE)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s: only device keys can be TPM-sealed", ls->path);
    uint8_t pub_blob[SEALM_KEYS_TPM_BLOB_MAX], priv_blob[SEALM_KEYS_TPM_BLOB_MAX];
    size_t pub_len = 0, priv_len = 0;
    sealm_status rc = parse_blob_field(ls, "tpm-public", pub_blob, sizeof pub_blob, &pub_len, err);
    if (rc == SEALM_OK) rc = parse_blob_field(ls, "tpm-private", priv_blob, sizeof priv_blob, &priv_len, err);
    if (rc == SEALM_OK) rc = expect_end(ls, err);
    if (rc != SEALM_OK) return rc;
    const char *over = getenv("SEALM_TPM_TCTI");
    const char *use = over && *over ? over : tcti;
    uint8_t *secret = sodium_malloc(SEALM_KEYS_SECRET_BYTES);
    if (!secret) return sealm_error_set(err, SEALM_E_NOMEM, "%s: out of secure memory", ls->path);
    rc = sealm_keys_tpm_unseal(ls->path, use, pub_blob, pub_len, priv_blob, priv_len, secret, err);
    if (rc == SEALM_OK) rc = check_pair(ls->path, kind, pk, secret, k, err);
    sodium_free(secret);
    return rc;
}

sealm_status sealm_keys_secret_decode(const char *path, const char *data, size_t len,
                                      const char *passphrase, struct sealm_key *k,
                                      sealm_error *err) {
    sealm_keys_lines ls;
    sealm_keys_lines_init(&ls, path, data, len);
    sealm_key_kind kind;
    uint8_t pk[32];
    sealm_status rc = parse_version(&ls, SECRET_VERSION_PREFIX, "sealm secret key file", err);
    if (rc == SEALM_OK) rc = parse_key_header(&ls, &kind, pk, err);
    if (rc != SEALM_OK) return rc;
    /* Either `secret:` (unprotected) or the passphrase-protected fields follow. */
    const char *before = ls.p;
    const char *line;
    size_t n;
    rc = sealm_keys_lines_next(&ls, &line, &n, err);
    if (rc == SEALM_E_NOT_FOUND)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: file ends before the secret "
                               "(file truncated?)", path, ls.line_no + 1);
    if (rc != SEALM_OK) return rc;
    if (n >= 8 && memcmp(line, "secret: ", 8) == 0)
        return parse_unprotected(&ls, line + 8, n - 8, kind, pk, k, err);
    if (n >= 10 && memcmp(line, "tpm-tcti: ", 10) == 0)
        return parse_tpm(&ls, line + 10, n - 10, kind, pk, k, err);
    if (n >= 19 && memcmp(line, "argon2id-opslimit: ", 19) == 0) {
        ls.p = before;   /* let the protected parser read the line as a field */
        ls.line_no--;
        return parse_protected(&ls, data, passphrase, kind, pk, k, err);
    }
    return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: expected a `secret: `, "
                           "`argon2id-opslimit: ` or `tpm-tcti: ` line here", path, ls.line_no);
}
