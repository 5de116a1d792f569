/* The file key provider: a secret key loaded from its file into guarded memory, and the two
 * things a key does — sign (publisher, Ed25519) and open sealed boxes (device, X25519). */
#include "keys_internal.h"

#include <string.h>

sealm_status sealm_key_load(const char *secret_path, const char *passphrase, sealm_key **out,
                            sealm_error *err) {
    if (!secret_path || !out)
        return sealm_error_set(err, SEALM_E_INVALID, "sealm_key_load: secret_path and out must not "
                               "be NULL");
    *out = NULL;
    sealm_status rc = sealm_keys_sodium_ready(err);
    if (rc != SEALM_OK) return rc;

    /* The file holds the secret in base64 (or encrypted): read it into guarded memory too. */
    sealm_keys_read_opts opts = {.max_bytes = SEALM_KEYS_MAX_KEYFILE_BYTES, .secure = true,
                                 .require_private = true};
    sealm_keys_file f;
    rc = sealm_keys_read_file(secret_path, &opts, &f, err);
    if (rc != SEALM_OK) return rc;

    sealm_key *k = sodium_malloc(sizeof *k);
    if (!k) {
        sealm_keys_file_free(&f);
        return sealm_error_set(err, SEALM_E_NOMEM, "%s: out of secure (locked) memory for the key; "
                               "raise RLIMIT_MEMLOCK", secret_path);
    }
    rc = sealm_keys_secret_decode(secret_path, f.data, f.len, passphrase, k, err);
    sealm_keys_file_free(&f);
    if (rc != SEALM_OK) {
        sodium_free(k);
        return rc;
    }
    /* From here on nothing may change the key: a stray write faults instead. */
    sodium_mprotect_readonly(k);
    *out = k;
    return SEALM_OK;
}

void sealm_key_free(sealm_key *k) {
    if (k) sodium_free(k);   /* makes the pages writable, wipes, unlocks, unmaps */
}

sealm_key_kind sealm_key_kind_of(const sealm_key *k) { return k->kind; }

void sealm_key_public(const sealm_key *k, uint8_t pk[32]) { memcpy(pk, k->pk, 32); }

sealm_status sealm_key_sign(const sealm_key *k, const uint8_t *msg, size_t len, uint8_t sig[64],
                            sealm_error *err) {
    if (!k || !sig || (!msg && len > 0))
        return sealm_error_set(err, SEALM_E_INVALID, "sealm_key_sign: key, signature buffer and "
                               "message must not be NULL");
    if (k->kind != SEALM_KEY_PUBLISHER)
        return sealm_error_set(err, SEALM_E_INVALID, "this is a device key; only publisher keys "
                               "sign (load the publisher's secret key)");
    static const uint8_t empty[1] = {0};
    crypto_sign_detached(sig, NULL, msg ? msg : empty, len, k->sk);
    return SEALM_OK;
}

sealm_status sealm_key_unseal(const sealm_key *k, const uint8_t *sealed, size_t len, uint8_t *out,
                              sealm_error *err) {
    if (!k || !sealed || !out)
        return sealm_error_set(err, SEALM_E_INVALID, "sealm_key_unseal: key, input and output must "
                               "not be NULL");
    if (k->kind != SEALM_KEY_DEVICE)
        return sealm_error_set(err, SEALM_E_INVALID, "this is a publisher key; sealed boxes are "
                               "opened with the device key");
    if (len < crypto_box_SEALBYTES)
        return sealm_error_set(err, SEALM_E_FORMAT, "sealed box is %zu bytes, shorter than the %u "
                               "bytes of its header and tag", len, (unsigned)crypto_box_SEALBYTES);
    if (crypto_box_seal_open(out, sealed, len, k->pk, k->sk) != 0) {
        char id[SEALM_KEY_ID_LEN + 1];
        sealm_key_id_of(k->pk, id);
        return sealm_error_set(err, SEALM_E_AUTH, "sealed box was not sealed for this device key "
                               "(id %s), or was modified", id);
    }
    return SEALM_OK;
}

sealm_status sealm_key_derive(const sealm_key *k, const char *context, uint8_t out[32], sealm_error *err) {
    if (!k || !context || !out)
        return sealm_error_set(err, SEALM_E_INVALID, "sealm_key_derive: arguments must not be NULL");
    const size_t n = strlen(context);
    if (n == 0 || n > 64)
        return sealm_error_set(err, SEALM_E_INVALID, "sealm_key_derive: the context must be 1..64 bytes");
    /* BLAKE2b-256 keyed with the secret (the first 32 bytes of sk: the X25519 scalar, or the
     * Ed25519 seed), over a domain-separating context: a PRF, so outputs for different
     * contexts are independent and reveal nothing of the key. */
    if (crypto_generichash(out, 32, (const unsigned char *)context, n, k->sk, 32) != 0)
        return sealm_error_set(err, SEALM_E_INVALID, "key derivation failed");
    return SEALM_OK;
}

sealm_status sealm_pubkey_load(const char *public_path, sealm_key_kind *kind, uint8_t pk[32],
                               sealm_error *err) {
    if (!public_path || !kind || !pk)
        return sealm_error_set(err, SEALM_E_INVALID, "sealm_pubkey_load: arguments must not be NULL");
    sealm_status rc = sealm_keys_sodium_ready(err);
    if (rc != SEALM_OK) return rc;
    sealm_keys_read_opts opts = {.max_bytes = SEALM_KEYS_MAX_KEYFILE_BYTES};
    sealm_keys_file f;
    rc = sealm_keys_read_file(public_path, &opts, &f, err);
    if (rc != SEALM_OK) return rc;
    rc = sealm_keys_public_decode(public_path, f.data, f.len, kind, pk, err);
    sealm_keys_file_free(&f);
    return rc;
}
