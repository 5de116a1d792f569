/* Detached signatures in minisign's format, so that anyone can check a bundle file with
 * Debian's `minisign` before handing it to a device, without sealm. Format facts
 * (https://jedisct1.github.io/minisign/): a signature file is four lines,
 *   untrusted comment: <text>
 *   base64("ED" | key id (8) | Ed25519 signature of BLAKE2b-512(file) (64))
 *   trusted comment: <text>
 *   base64(Ed25519 signature of (the 64-byte signature above | trusted comment text))
 * and a public key file is two lines: an untrusted comment and base64("Ed" | key id | pk). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle/bundle_internal.h"
#include "common/atomic_file.h"

#define MINISIGN_MAX_COMMENT 1024u

/* The 8-byte minisign key id: the same bytes sealm's hex key id shows. */
static void key_number(const uint8_t pk[32], uint8_t id[8]) {
    uint8_t h[32];
    crypto_generichash(h, sizeof h, pk, 32, NULL, 0);
    memcpy(id, h, 8);
}

static sealm_status hash_file(const char *path, uint8_t out[64], sealm_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sealm_error_set(err, SEALM_E_IO, "%s: cannot open (%s)", path, strerror(errno));
    enum { BUF = 1 << 20 };
    uint8_t *buf = malloc(BUF);
    if (!buf) {
        close(fd);
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory while hashing %s", path);
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 64);
    sealm_status rc = SEALM_OK;
    for (;;) {
        ssize_t n = read(fd, buf, BUF);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = sealm_error_set(err, SEALM_E_IO, "%s: read failed (%s)", path, strerror(errno));
            break;
        }
        if (n == 0) break;
        crypto_generichash_update(&st, buf, (size_t)n);
    }
    if (rc == SEALM_OK) crypto_generichash_final(&st, out, 64);
    free(buf);
    close(fd);
    return rc;
}

static bool comment_ok(const char *s) {
    size_t n = strlen(s);
    if (n > MINISIGN_MAX_COMMENT) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) return false;
    return true;
}

sealm_status sealm_minisign_sign_file(const sealm_key *publisher, const char *path, const char *trusted_comment,
                                      const char *sig_path, sealm_error *err) {
    if (sodium_init() < 0) return sealm_error_set(err, SEALM_E_NOMEM, "libsodium could not initialize");
    if (!publisher || !path || !trusted_comment || !sig_path || sealm_key_kind_of(publisher) != SEALM_KEY_PUBLISHER)
        return sealm_error_set(err, SEALM_E_INVALID, "a minisign signature needs a publisher key, a file and a path");
    if (!comment_ok(trusted_comment))
        return sealm_error_set(err, SEALM_E_INVALID, "the trusted comment must be at most %u printable ASCII bytes",
                               MINISIGN_MAX_COMMENT);
    uint8_t pk[32], digest[64];
    sealm_key_public(publisher, pk);
    sealm_status st = hash_file(path, digest, err);
    if (st != SEALM_OK) return st;

    /* "ED" | key id | signature of the prehash */
    uint8_t sig_blob[2 + 8 + 64];
    memcpy(sig_blob, "ED", 2);
    key_number(pk, sig_blob + 2);
    if ((st = sealm_key_sign(publisher, digest, sizeof digest, sig_blob + 10, err))) return st;

    size_t tc_len = strlen(trusted_comment);
    uint8_t *global_msg = malloc(64 + tc_len);
    if (!global_msg) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory while signing");
    memcpy(global_msg, sig_blob + 10, 64);
    memcpy(global_msg + 64, trusted_comment, tc_len);
    uint8_t global_sig[64];
    st = sealm_key_sign(publisher, global_msg, 64 + tc_len, global_sig, err);
    free(global_msg);
    if (st != SEALM_OK) return st;

    char id_hex[SEALM_KEY_ID_LEN + 1];
    sealm_key_id_of(pk, id_hex);
    char b64_sig[sodium_base64_ENCODED_LEN(sizeof sig_blob, sodium_base64_VARIANT_ORIGINAL)];
    char b64_global[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64_sig, sizeof b64_sig, sig_blob, sizeof sig_blob, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(b64_global, sizeof b64_global, global_sig, 64, sodium_base64_VARIANT_ORIGINAL);
    size_t cap = 128 + sizeof b64_sig + tc_len + sizeof b64_global;
    char *text = malloc(cap);
    if (!text) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory while signing");
    int n = snprintf(text, cap, "untrusted comment: signature from sealm publisher key %s\n%s\ntrusted comment: %s\n%s\n",
                     id_hex, b64_sig, trusted_comment, b64_global);
    const void *pieces[1] = {text};
    size_t lens[1] = {(size_t)n};
    st = sealm_file_write_atomic(sig_path, pieces, lens, 1, 0644, true, err);
    free(text);
    return st;
}

sealm_status sealm_minisign_write_public_key(const uint8_t pk[32], const char *out_path, sealm_error *err) {
    if (sodium_init() < 0) return sealm_error_set(err, SEALM_E_NOMEM, "libsodium could not initialize");
    if (!pk || !out_path) return sealm_error_set(err, SEALM_E_INVALID, "a public key and an output path are required");
    uint8_t blob[2 + 8 + 32];
    memcpy(blob, "Ed", 2);
    key_number(pk, blob + 2);
    memcpy(blob + 10, pk, 32);
    char b64[sodium_base64_ENCODED_LEN(sizeof blob, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, blob, sizeof blob, sodium_base64_VARIANT_ORIGINAL);
    char id_hex[SEALM_KEY_ID_LEN + 1];
    sealm_key_id_of(pk, id_hex);
    char text[256];
    int n = snprintf(text, sizeof text, "untrusted comment: minisign public key of sealm publisher key %s\n%s\n", id_hex, b64);
    const void *pieces[1] = {text};
    size_t lens[1] = {(size_t)n};
    return sealm_file_write_atomic(out_path, pieces, lens, 1, 0644, true, err);
}
