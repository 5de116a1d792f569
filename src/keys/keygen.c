/* Key generation: a fresh key pair from libsodium's CSPRNG, written as a secret key file
 * (0600, optionally passphrase-protected) and a public key file. Never overwrites. */
#include "keys_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sealm_status check_args(sealm_key_kind kind, const char *secret_path, const char *public_path,
                               const char *passphrase, sealm_error *err) {
    if (kind != SEALM_KEY_PUBLISHER && kind != SEALM_KEY_DEVICE)
        return sealm_error_set(err, SEALM_E_INVALID, "sealm_keygen: unknown key kind %d (use "
                               "SEALM_KEY_PUBLISHER or SEALM_KEY_DEVICE)", (int)kind);
    if (!secret_path || !public_path)
        return sealm_error_set(err, SEALM_E_INVALID, "sealm_keygen: both file paths are required");
    if (strcmp(secret_path, public_path) == 0)
        return sealm_error_set(err, SEALM_E_INVALID, "%s: the secret and the public key need two "
                               "different files", secret_path);
    if (passphrase && passphrase[0] == '\0')
        return sealm_error_set(err, SEALM_E_INVALID, "empty passphrase: give a real one, or none "
                               "for an unprotected key file");
    /* Checked up front so that nothing is written when either file is in the way. */
    const char *paths[2] = {secret_path, public_path};
    for (int i = 0; i < 2; i++) {
        if (access(paths[i], F_OK) == 0)
            return sealm_error_set(err, SEALM_E_IO, "%s: file already exists; refusing to overwrite "
                                   "a key (move it away or choose another path)", paths[i]);
    }
    return SEALM_OK;
}

sealm_status sealm_keygen(sealm_key_kind kind, const char *secret_path, const char *public_path,
                          const char *passphrase, sealm_error *err) {
    sealm_status rc = check_args(kind, secret_path, public_path, passphrase, err);
    if (rc == SEALM_OK) rc = sealm_keys_sodium_ready(err);
    if (rc != SEALM_OK) return rc;

    struct sealm_key *k = sodium_malloc(sizeof *k);
    uint8_t *secret = sodium_malloc(SEALM_KEYS_SECRET_BYTES);
    if (!k || !secret) {
        sodium_free(k);
        sodium_free(secret);
        return sealm_error_set(err, SEALM_E_NOMEM, "out of secure (locked) memory; raise "
                               "RLIMIT_MEMLOCK");
    }
    randombytes_buf(secret, SEALM_KEYS_SECRET_BYTES);
    sealm_keys_derive(kind, secret, k);
    sodium_free(secret);

    char *text = NULL;
    size_t len = 0;
    rc = sealm_keys_secret_encode(k, passphrase, &text, &len, err);
    if (rc == SEALM_OK) {
        rc = sealm_keys_write_atomic(secret_path, text, len, 0600, false, err);
        sodium_free(text);
    }
    if (rc == SEALM_OK) {
        char pub[256];
        size_t plen = sealm_keys_public_encode(kind, k->pk, pub, sizeof pub);
        rc = sealm_keys_write_atomic(public_path, pub, plen, 0644, false, err);
        /* A secret without its public file would be half a key pair: take it back. */
        if (rc != SEALM_OK) unlink(secret_path);
    }
    sodium_free(k);
    return rc;
}

sealm_status sealm_keygen_tpm(const char *tcti, const char *secret_path, const char *public_path, sealm_error *err) {
    sealm_status rc = check_args(SEALM_KEY_DEVICE, secret_path, public_path, NULL, err);
    if (rc == SEALM_OK && !sealm_keys_tpm_tcti_ok(tcti))
        rc = sealm_error_set(err, SEALM_E_INVALID, "give the TPM's TCTI, e.g. device:/dev/tpmrm0 or "
                             "swtpm:host=127.0.0.1,port=2321");
    if (rc == SEALM_OK) rc = sealm_keys_sodium_ready(err);
    if (rc != SEALM_OK) return rc;
    struct sealm_key *k = sodium_malloc(sizeof *k);
    uint8_t *secret = sodium_malloc(SEALM_KEYS_SECRET_BYTES);
    uint8_t *pub_blob = malloc(SEALM_KEYS_TPM_BLOB_MAX), *priv_blob = malloc(SEALM_KEYS_TPM_BLOB_MAX);
    size_t pub_len = 0, priv_len = 0;
    char *text = NULL;
    size_t len = 0;
    if (!k || !secret || !pub_blob || !priv_blob) {
        rc = sealm_error_set(err, SEALM_E_NOMEM, "out of secure (locked) memory; raise RLIMIT_MEMLOCK");
    } else {
        randombytes_buf(secret, SEALM_KEYS_SECRET_BYTES);
        sealm_keys_derive(SEALM_KEY_DEVICE, secret, k);
        /* The TPM seals the clamped scalar (what a file would store), so loading checks it the same way. */
        rc = sealm_keys_tpm_seal(tcti, k->sk, pub_blob, &pub_len, priv_blob, &priv_len, err);
    }
    if (rc == SEALM_OK) rc = sealm_keys_tpm_encode(k, tcti, pub_blob, pub_len, priv_blob, priv_len, &text, &len, err);
    if (rc == SEALM_OK) {
        rc = sealm_keys_write_atomic(secret_path, text, len, 0600, false, err);
        sodium_free(text);
    }
    if (rc == SEALM_OK) {
        char pub[256];
        size_t plen = sealm_keys_public_encode(SEALM_KEY_DEVICE, k->pk, pub, sizeof pub);
        rc = sealm_keys_write_atomic(public_path, pub, plen, 0644, false, err);
        if (rc != SEALM_OK) unlink(secret_path);
    }
    sodium_free(secret);
    sodium_free(k);
    free(pub_blob);
    free(priv_blob);
    return rc;
}
