/* Tests for the keys layer: key generation and files, the file provider (sign, unseal),
 * strict parsing of tampered files, file permissions, and the trust store. Every test works in
 * its own directory made with mkdtemp under /tmp. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "sealm/keys.h"

#define PASSPHRASE "correct horse battery staple"

/* ---- helpers ---- */

typedef struct test_dir {
    char path[64];
    char secret[128], public_[128], trust[128];
} test_dir;

static int setup_dir(void **state) {
    test_dir *d = calloc(1, sizeof *d);
    if (!d) return -1;
    strcpy(d->path, "/tmp/sealm-keys-XXXXXX");
    if (!mkdtemp(d->path)) return -1;
    snprintf(d->secret, sizeof d->secret, "%s/key.secret", d->path);
    snprintf(d->public_, sizeof d->public_, "%s/key.public", d->path);
    snprintf(d->trust, sizeof d->trust, "%s/trust", d->path);
    *state = d;
    return sodium_init() < 0 ? -1 : 0;
}

static int teardown_dir(void **state) {
    test_dir *d = *state;
    DIR *dir = opendir(d->path);
    if (dir) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(dir))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(p, sizeof p, "%s/%s", d->path, e->d_name);
            unlink(p);
        }
        closedir(dir);
    }
    rmdir(d->path);
    free(d);
    return 0;
}

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 8192);
    assert_non_null(buf);
    *len = fread(buf, 1, 8191, f);
    fclose(f);
    return buf;
}

static void write_text(const char *path, const char *data, size_t len, mode_t mode) {
    unlink(path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* The value of "name: value" in a key file's text (static buffer). */
static const char *field_value(const char *text, const char *name) {
    static char value[256];
    char key[64];
    snprintf(key, sizeof key, "\n%s: ", name);
    const char *p = strstr(text, key);
    assert_non_null(p);
    p += strlen(key);
    size_t n = strcspn(p, "\n");
    assert_true(n < sizeof value);
    memcpy(value, p, n);
    value[n] = '\0';
    return value;
}

/* Replaces the first occurrence of from with to in text (buffer of cap bytes); returns the
 * new length. */
static size_t replace(char *text, size_t cap, const char *from, const char *to) {
    char *p = strstr(text, from);
    assert_non_null(p);
    size_t fl = strlen(from), tl = strlen(to), len = strlen(text);
    assert_true(len - fl + tl < cap);
    memmove(p + tl, p + fl, len - (size_t)(p - text) - fl + 1);
    memcpy(p, to, tl);
    return strlen(text);
}

static int count_entries(const char *dir_path) {
    DIR *dir = opendir(dir_path);
    assert_non_null(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    }
    closedir(dir);
    return n;
}

static sealm_key *load_ok(const char *path, const char *passphrase) {
    sealm_key *k = NULL;
    sealm_error err = {0};
    sealm_status rc = sealm_key_load(path, passphrase, &k, &err);
    if (rc != SEALM_OK) fail_msg("load %s: %s: %s", path, sealm_status_name(rc), err.message);
    assert_non_null(k);
    return k;
}

/* Generates a key pair at d's paths and checks the files it wrote. */
static void keygen_ok(test_dir *d, sealm_key_kind kind, const char *passphrase) {
    sealm_error err = {0};
    sealm_status rc = sealm_keygen(kind, d->secret, d->public_, passphrase, &err);
    if (rc != SEALM_OK) fail_msg("keygen: %s: %s", sealm_status_name(rc), err.message);
    struct stat st;
    assert_int_equal(stat(d->secret, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(d->public_, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(count_entries(d->path), 2);   /* no temp files left behind */
}

/* ---- key generation and loading ---- */

static void check_round_trip(test_dir *d, sealm_key_kind kind, const char *passphrase) {
    keygen_ok(d, kind, passphrase);
    sealm_key *k = load_ok(d->secret, passphrase);
    assert_int_equal(sealm_key_kind_of(k), kind);

    uint8_t pk[32], file_pk[32];
    sealm_key_kind file_kind = 0;
    sealm_error err = {0};
    sealm_key_public(k, pk);
    assert_int_equal(sealm_pubkey_load(d->public_, &file_kind, file_pk, &err), SEALM_OK);
    assert_int_equal(file_kind, kind);
    assert_memory_equal(pk, file_pk, 32);

    /* The id written in both files is the documented one: BLAKE2b-256(pk)[0..8] in hex. */
    uint8_t h[32];
    char want_id[SEALM_KEY_ID_LEN + 1], id[SEALM_KEY_ID_LEN + 1];
    crypto_generichash(h, sizeof h, pk, 32, NULL, 0);
    sodium_bin2hex(want_id, sizeof want_id, h, 8);
    sealm_key_id_of(pk, id);
    assert_string_equal(id, want_id);
    size_t len;
    char *text = read_text(d->secret, &len);
    assert_string_equal(field_value(text, "id"), want_id);
    assert_true(strncmp(text, "sealm-secret-key v1\n", 20) == 0);
    assert_string_equal(field_value(text, "kind"), kind == SEALM_KEY_PUBLISHER ? "publisher" : "device");
    if (passphrase) {
        assert_null(strstr(text, "\nsecret: "));
        assert_non_null(strstr(text, "\nciphertext: "));
    } else {
        assert_non_null(strstr(text, "\nsecret: "));
    }
    free(text);

    /* Loading twice gives the same key. */
    sealm_key *k2 = load_ok(d->secret, passphrase);
    uint8_t pk2[32];
    sealm_key_public(k2, pk2);
    assert_memory_equal(pk, pk2, 32);
    sealm_key_free(k2);
    sealm_key_free(k);
}

static void test_keygen_publisher_plain(void **state) { check_round_trip(*state, SEALM_KEY_PUBLISHER, NULL); }
static void test_keygen_publisher_protected(void **state) { check_round_trip(*state, SEALM_KEY_PUBLISHER, PASSPHRASE); }
static void test_keygen_device_plain(void **state) { check_round_trip(*state, SEALM_KEY_DEVICE, NULL); }
static void test_keygen_device_protected(void **state) { check_round_trip(*state, SEALM_KEY_DEVICE, PASSPHRASE); }

static void test_keygen_fresh_keys_differ(void **state) {
    test_dir *d = *state;
    char s2[160], p2[160];
    snprintf(s2, sizeof s2, "%s/b.secret", d->path);
    snprintf(p2, sizeof p2, "%s/b.public", d->path);
    sealm_error err = {0};
    assert_int_equal(sealm_keygen(SEALM_KEY_PUBLISHER, d->secret, d->public_, NULL, &err), SEALM_OK);
    assert_int_equal(sealm_keygen(SEALM_KEY_PUBLISHER, s2, p2, NULL, &err), SEALM_OK);
    uint8_t a[32], b[32];
    sealm_key_kind kind;
    assert_int_equal(sealm_pubkey_load(d->public_, &kind, a, &err), SEALM_OK);
    assert_int_equal(sealm_pubkey_load(p2, &kind, b, &err), SEALM_OK);
    assert_memory_not_equal(a, b, 32);
}

static void test_keygen_refuses_overwrite(void **state) {
    test_dir *d = *state;
    sealm_error err = {0};
    /* Existing secret file: error, file untouched, no public file written. */
    write_text(d->secret, "keep me\n", 8, 0600);
    assert_int_equal(sealm_keygen(SEALM_KEY_DEVICE, d->secret, d->public_, NULL, &err), SEALM_E_IO);
    assert_non_null(strstr(err.message, d->secret));
    assert_non_null(strstr(err.message, "exists"));
    assert_int_equal(access(d->public_, F_OK), -1);
    size_t len;
    char *text = read_text(d->secret, &len);
    assert_string_equal(text, "keep me\n");
    free(text);
    /* Existing public file: no secret file written either. */
    unlink(d->secret);
    write_text(d->public_, "keep me too\n", 12, 0644);
    assert_int_equal(sealm_keygen(SEALM_KEY_DEVICE, d->secret, d->public_, NULL, &err), SEALM_E_IO);
    assert_non_null(strstr(err.message, d->public_));
    assert_int_equal(access(d->secret, F_OK), -1);
    assert_int_equal(count_entries(d->path), 1);
}

static void test_keygen_invalid_arguments(void **state) {
    test_dir *d = *state;
    sealm_error err = {0};
    assert_int_equal(sealm_keygen((sealm_key_kind)7, d->secret, d->public_, NULL, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_keygen(SEALM_KEY_DEVICE, d->secret, d->secret, NULL, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_keygen(SEALM_KEY_DEVICE, d->secret, d->public_, "", &err), SEALM_E_INVALID);
    assert_int_equal(sealm_keygen(SEALM_KEY_DEVICE, NULL, d->public_, NULL, &err), SEALM_E_INVALID);
    assert_int_equal(count_entries(d->path), 0);
    sealm_key *k = (sealm_key *)1;
    assert_int_equal(sealm_key_load(NULL, NULL, &k, &err), SEALM_E_INVALID);
}

/* ---- sign and unseal ---- */

static void test_sign_verifies(void **state) {
    test_dir *d = *state;
    keygen_ok(d, SEALM_KEY_PUBLISHER, NULL);
    sealm_key *k = load_ok(d->secret, NULL);
    uint8_t pk[32], sig[64];
    sealm_key_public(k, pk);
    const uint8_t msg[] = "manifest bytes";
    sealm_error err = {0};
    assert_int_equal(sealm_key_sign(k, msg, sizeof msg, sig, &err), SEALM_OK);
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, pk), 0);
    /* A different message, or a flipped signature bit, does not verify. */
    assert_int_not_equal(crypto_sign_verify_detached(sig, msg, sizeof msg - 1, pk), 0);
    sig[10] ^= 0x01;
    assert_int_not_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, pk), 0);
    /* Empty message. */
    assert_int_equal(sealm_key_sign(k, NULL, 0, sig, &err), SEALM_OK);
    assert_int_equal(crypto_sign_verify_detached(sig, (const uint8_t *)"", 0, pk), 0);
    assert_int_equal(sealm_key_sign(k, NULL, 5, sig, &err), SEALM_E_INVALID);
    sealm_key_free(k);
}

static void test_sign_with_device_key_is_invalid(void **state) {
    test_dir *d = *state;
    keygen_ok(d, SEALM_KEY_DEVICE, NULL);
    sealm_key *k = load_ok(d->secret, NULL);
    uint8_t sig[64];
    sealm_error err = {0};
    assert_int_equal(sealm_key_sign(k, (const uint8_t *)"x", 1, sig, &err), SEALM_E_INVALID);
    assert_non_null(strstr(err.message, "device key"));
    sealm_key_free(k);
}

/* Derived secrets: a PRF of the key, so fixed per (key, context), different across
 * contexts, and the same after reloading the key. */
static void test_derive(void **state) {
    test_dir *d = *state;
    keygen_ok(d, SEALM_KEY_DEVICE, PASSPHRASE);
    sealm_key *k = load_ok(d->secret, PASSPHRASE);
    sealm_key *k_again = load_ok(d->secret, PASSPHRASE);
    sealm_error err = {0};
    uint8_t a[32], b[32], c[32], e[32];
    assert_int_equal(sealm_key_derive(k, "sealm rollback state", a, &err), SEALM_OK);
    assert_int_equal(sealm_key_derive(k_again, "sealm rollback state", b, &err), SEALM_OK);
    assert_memory_equal(a, b, 32);
    assert_int_equal(sealm_key_derive(k, "another purpose", c, &err), SEALM_OK);
    assert_memory_not_equal(a, c, 32);
    assert_int_equal(sealm_key_derive(k, "", e, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_key_derive(NULL, "x", e, &err), SEALM_E_INVALID);
    sealm_key_free(k);
    sealm_key_free(k_again);
}

static void test_unseal(void **state) {
    test_dir *d = *state;
    keygen_ok(d, SEALM_KEY_DEVICE, PASSPHRASE);
    sealm_key *k = load_ok(d->secret, PASSPHRASE);
    uint8_t pk[32];
    sealm_key_kind kind;
    sealm_error err = {0};
    assert_int_equal(sealm_pubkey_load(d->public_, &kind, pk, &err), SEALM_OK);

    uint8_t msg[32], sealed[32 + crypto_box_SEALBYTES], out[32];
    randombytes_buf(msg, sizeof msg);
    assert_int_equal(crypto_box_seal(sealed, msg, sizeof msg, pk), 0);
    memset(out, 0, sizeof out);
    assert_int_equal(sealm_key_unseal(k, sealed, sizeof sealed, out, &err), SEALM_OK);
    assert_memory_equal(out, msg, sizeof msg);

    /* Any flipped byte → SEALM_E_AUTH. */
    for (size_t i = 0; i < sizeof sealed; i++) {
        sealed[i] ^= 0x80;
        assert_int_equal(sealm_key_unseal(k, sealed, sizeof sealed, out, &err), SEALM_E_AUTH);
        sealed[i] ^= 0x80;
    }
    /* Too short to be a sealed box. */
    assert_int_equal(sealm_key_unseal(k, sealed, crypto_box_SEALBYTES - 1, out, &err), SEALM_E_FORMAT);
    /* An empty plaintext seals and opens too. */
    uint8_t empty_sealed[crypto_box_SEALBYTES];
    assert_int_equal(crypto_box_seal(empty_sealed, (const uint8_t *)"", 0, pk), 0);
    assert_int_equal(sealm_key_unseal(k, empty_sealed, sizeof empty_sealed, out, &err), SEALM_OK);
    sealm_key_free(k);
}

static void test_unseal_wrong_device_key(void **state) {
    test_dir *d = *state;
    keygen_ok(d, SEALM_KEY_DEVICE, NULL);
    char s2[160], p2[160];
    snprintf(s2, sizeof s2, "%s/other.secret", d->path);
    snprintf(p2, sizeof p2, "%s/other.public", d->path);
    sealm_error err = {0};
    assert_int_equal(sealm_keygen(SEALM_KEY_DEVICE, s2, p2, NULL, &err), SEALM_OK);
    uint8_t pk_other[32];
    sealm_key_kind kind;
    assert_int_equal(sealm_pubkey_load(p2, &kind, pk_other, &err), SEALM_OK);

    uint8_t msg[16] = "for the other!!", sealed[16 + crypto_box_SEALBYTES], out[16];
    assert_int_equal(crypto_box_seal(sealed, msg, sizeof msg, pk_other), 0);
    sealm_key *mine = load_ok(d->secret, NULL);
    assert_int_equal(sealm_key_unseal(mine, sealed, sizeof sealed, out, &err), SEALM_E_AUTH);
    assert_non_null(strstr(err.message, "not sealed for this device key"));
    sealm_key *other = load_ok(s2, NULL);
    assert_int_equal(sealm_key_unseal(other, sealed, sizeof sealed, out, &err), SEALM_OK);
    assert_memory_equal(out, msg, sizeof msg);
    sealm_key_free(mine);
    sealm_key_free(other);
}

static void test_unseal_with_publisher_key_is_invalid(void **state) {
    test_dir *d = *state;
    keygen_ok(d, SEALM_KEY_PUBLISHER, NULL);
    sealm_key *k = load_ok(d->secret, NULL);
    uint8_t sealed[crypto_box_SEALBYTES + 1] = {0}, out[1];
    sealm_error err = {0};
    assert_int_equal(sealm_key_unseal(k, sealed, sizeof sealed, out, &err), SEALM_E_INVALID);
    sealm_key_free(k);
}

/* ---- passphrases and permissions ---- */

static void test_wrong_passphrase(void **state) {
    test_dir *d = *state;
    keygen_ok(d, SEALM_KEY_PUBLISHER, PASSPHRASE);
    sealm_key *k = (sealm_key *)1;
    sealm_error err = {0};
    assert_int_equal(sealm_key_load(d->secret, "correct horse battery stapler", &k, &err), SEALM_E_AUTH);
    assert_null(k);
    assert_non_null(strstr(err.message, d->secret));
    assert_null(strstr(err.message, "correct horse"));
    assert_int_equal(sealm_key_load(d->secret, NULL, &k, &err), SEALM_E_AUTH);
    assert_non_null(strstr(err.message, "passphrase"));
    /* An unprotected file ignores a passphrase. */
    char s2[160], p2[160];
    snprintf(s2, sizeof s2, "%s/plain.secret", d->path);
    snprintf(p2, sizeof p2, "%s/plain.public", d->path);
    assert_int_equal(sealm_keygen(SEALM_KEY_PUBLISHER, s2, p2, NULL, &err), SEALM_OK);
    sealm_key_free(load_ok(s2, "anything"));
}

static void test_permissions(void **state) {
    test_dir *d = *state;
    keygen_ok(d, SEALM_KEY_DEVICE, NULL);
    sealm_key *k = NULL;
    sealm_error err = {0};
    const mode_t bad[] = {0644, 0640, 0604, 0660, 0700, 0606, 0601};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(chmod(d->secret, bad[i]), 0);
        assert_int_equal(sealm_key_load(d->secret, NULL, &k, &err), SEALM_E_PERMISSION);
        assert_null(k);
        char want[256];
        snprintf(want, sizeof want, "chmod 600 %s", d->secret);
        assert_non_null(strstr(err.message, want));
    }
    assert_int_equal(chmod(d->secret, 0400), 0);
    sealm_key_free(load_ok(d->secret, NULL));
    assert_int_equal(chmod(d->secret, 0600), 0);
    sealm_key_free(load_ok(d->secret, NULL));
    /* Owned by someone else (only testable when we may chown). */
    if (geteuid() == 0) {
        assert_int_equal(chown(d->secret, 65534, 65534), 0);
        assert_int_equal(sealm_key_load(d->secret, NULL, &k, &err), SEALM_E_PERMISSION);
        assert_non_null(strstr(err.message, "owned by uid 65534"));
    }
    /* A missing file is an I/O error naming the file. */
    unlink(d->secret);
    assert_int_equal(sealm_key_load(d->secret, NULL, &k, &err), SEALM_E_IO);
    assert_non_null(strstr(err.message, d->secret));
}

/* ---- tampering ---- */

/* Loads text written as the secret file; returns the status and checks the message leaks
 * neither the secret's base64 (secret_b64 may be NULL) nor the passphrase. */
static sealm_status load_text(test_dir *d, const char *text, size_t len, const char *passphrase,
                              const char *secret_b64) {
    write_text(d->secret, text, len, 0600);
    sealm_key *k = NULL;
    sealm_error err = {0};
    sealm_status rc = sealm_key_load(d->secret, passphrase, &k, &err);
    if (rc == SEALM_OK) {
        sealm_key_free(k);
        return rc;
    }
    assert_null(k);
    assert_non_null(strstr(err.message, d->secret));
    if (secret_b64) assert_null(strstr(err.message, secret_b64));
    if (passphrase) assert_null(strstr(err.message, passphrase));
    return rc;
}

static void test_tamper_every_byte_plain(void **state) {
    test_dir *d = *state;
    const sealm_key_kind kinds[2] = {SEALM_KEY_PUBLISHER, SEALM_KEY_DEVICE};
    for (int kk = 0; kk < 2; kk++) {
        unlink(d->secret);
        unlink(d->public_);
        keygen_ok(d, kinds[kk], NULL);
        size_t len;
        char *orig = read_text(d->secret, &len);
        char secret_b64[64];
        strcpy(secret_b64, field_value(orig, "secret"));
        char *copy = malloc(len);
        assert_non_null(copy);
        /* Every byte flipped (two different ways): never accepted. */
        for (size_t i = 0; i < len; i++) {
            const uint8_t masks[2] = {0x01, 0x20};
            for (int m = 0; m < 2; m++) {
                memcpy(copy, orig, len);
                copy[i] = (char)(copy[i] ^ masks[m]);
                sealm_status rc = load_text(d, copy, len, NULL, secret_b64);
                if (rc != SEALM_E_FORMAT && rc != SEALM_E_UNSUPPORTED)
                    fail_msg("byte %zu ^ 0x%02x: got %s", i, masks[m], sealm_status_name(rc));
            }
        }
        /* Every truncation: SEALM_E_FORMAT. */
        for (size_t n = 0; n < len; n++)
            assert_int_equal(load_text(d, orig, n, NULL, secret_b64), SEALM_E_FORMAT);
        /* Trailing junk line, CRLF line ends. */
        memcpy(copy, orig, len);
        char *longer = malloc(len + 16);
        assert_non_null(longer);
        memcpy(longer, orig, len);
        memcpy(longer + len, "extra: 1\n", 9);
        assert_int_equal(load_text(d, longer, len + 9, NULL, secret_b64), SEALM_E_FORMAT);
        char crlf[2048];
        strcpy(crlf, orig);
        assert_int_equal(load_text(d, crlf, replace(crlf, sizeof crlf, "v1\n", "v1\r\n"), NULL, secret_b64),
                         SEALM_E_FORMAT);
        free(longer);
        /* The untouched text still loads (the loop really tested rejections). */
        assert_int_equal(load_text(d, orig, len, NULL, NULL), SEALM_OK);
        free(copy);
        free(orig);
    }
}

static void test_tamper_fields(void **state) {
    test_dir *d = *state;
    keygen_ok(d, SEALM_KEY_PUBLISHER, NULL);
    size_t len;
    char *orig = read_text(d->secret, &len);
    char buf[2048];
    char other_secret[160], other_public[160];
    snprintf(other_secret, sizeof other_secret, "%s/o.secret", d->path);
    snprintf(other_public, sizeof other_public, "%s/o.public", d->path);
    sealm_error err = {0};
    assert_int_equal(sealm_keygen(SEALM_KEY_PUBLISHER, other_secret, other_public, NULL, &err), SEALM_OK);
    size_t olen;
    char *other = read_text(other_secret, &olen);
    char other_id[32], other_pub[64], my_id[32];
    strcpy(other_id, field_value(other, "id"));
    strcpy(other_pub, field_value(other, "public"));
    strcpy(my_id, field_value(orig, "id"));

    /* Future version → UNSUPPORTED; garbage version → FORMAT. */
    strcpy(buf, orig);
    assert_int_equal(load_text(d, buf, replace(buf, sizeof buf, "v1\n", "v2\n"), NULL, NULL), SEALM_E_UNSUPPORTED);
    strcpy(buf, orig);
    assert_int_equal(load_text(d, buf, replace(buf, sizeof buf, "v1\n", "v01\n"), NULL, NULL), SEALM_E_FORMAT);
    strcpy(buf, orig);
    assert_int_equal(load_text(d, buf, replace(buf, sizeof buf, "sealm-secret-key", "sealm-public-key"), NULL, NULL), SEALM_E_FORMAT);
    /* Wrong kind: the secret no longer matches the public key as an X25519 key. */
    strcpy(buf, orig);
    assert_int_equal(load_text(d, buf, replace(buf, sizeof buf, "kind: publisher", "kind: device"), NULL, NULL), SEALM_E_FORMAT);
    strcpy(buf, orig);
    assert_int_equal(load_text(d, buf, replace(buf, sizeof buf, "kind: publisher", "kind: admin"), NULL, NULL), SEALM_E_FORMAT);
    /* Id of another key → mismatch with line number. */
    strcpy(buf, orig);
    assert_int_equal(load_text(d, buf, replace(buf, sizeof buf, my_id, other_id), NULL, NULL), SEALM_E_FORMAT);
    assert_int_equal(sealm_key_load(d->secret, NULL, &(sealm_key *){NULL}, &err), SEALM_E_FORMAT);
    assert_non_null(strstr(err.message, ":3:"));
    assert_non_null(strstr(err.message, "does not match"));
    /* Another key's id and public key with our secret: the pair check catches it. */
    strcpy(buf, orig);
    replace(buf, sizeof buf, my_id, other_id);
    assert_int_equal(load_text(d, buf, replace(buf, sizeof buf, field_value(orig, "public"), other_pub), NULL, NULL), SEALM_E_FORMAT);
    assert_int_equal(sealm_key_load(d->secret, NULL, &(sealm_key *){NULL}, &err), SEALM_E_FORMAT);
    assert_non_null(strstr(err.message, "does not belong"));
    /* Extra space, missing field. */
    strcpy(buf, orig);
    assert_int_equal(load_text(d, buf, replace(buf, sizeof buf, "id: ", "id:  "), NULL, NULL), SEALM_E_FORMAT);
    strcpy(buf, orig);
    assert_int_equal(load_text(d, buf, replace(buf, sizeof buf, "kind: publisher\n", ""), NULL, NULL), SEALM_E_FORMAT);
    assert_int_equal(sealm_key_load(d->secret, NULL, &(sealm_key *){NULL}, &err), SEALM_E_FORMAT);
    assert_non_null(strstr(err.message, ":2:"));
    /* Public key files are parsed as strictly. */
    size_t plen;
    char *pub = read_text(d->public_, &plen);
    uint8_t pk[32];
    sealm_key_kind kind;
    strcpy(buf, pub);
    replace(buf, sizeof buf, my_id, other_id);
    write_text(d->public_, buf, strlen(buf), 0644);
    assert_int_equal(sealm_pubkey_load(d->public_, &kind, pk, &err), SEALM_E_FORMAT);
    assert_non_null(strstr(err.message, d->public_));
    write_text(d->public_, orig, len, 0644);   /* a secret file is not a public file */
    assert_int_equal(sealm_pubkey_load(d->public_, &kind, pk, &err), SEALM_E_FORMAT);
    free(pub);
    free(other);
    free(orig);
}

/* X25519 ignores the bits clamping clears or sets, so a flip there keeps the public key: the
 * loader must still refuse it (the stored scalar is always clamped). */
static void test_tamper_device_clamped_bits(void **state) {
    test_dir *d = *state;
    keygen_ok(d, SEALM_KEY_DEVICE, NULL);
    size_t len;
    char *orig = read_text(d->secret, &len);
    char secret_b64[64];
    strcpy(secret_b64, field_value(orig, "secret"));
    uint8_t secret[32];
    size_t got = 0;
    assert_int_equal(sodium_base642bin(secret, sizeof secret, secret_b64, strlen(secret_b64), NULL,
                                       &got, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
    assert_int_equal(got, 32);
    assert_int_equal(secret[0] & 7, 0);
    assert_int_equal(secret[31] & 0xc0, 0x40);
    const struct { int byte; uint8_t mask; } flips[] = {{0, 1}, {0, 2}, {0, 4}, {31, 0x80}, {31, 0x40}};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        uint8_t changed[32];
        memcpy(changed, secret, 32);
        changed[flips[i].byte] ^= flips[i].mask;
        char b64[64], buf[2048];
        sodium_bin2base64(b64, sizeof b64, changed, 32, sodium_base64_VARIANT_ORIGINAL);
        strcpy(buf, orig);
        size_t n = replace(buf, sizeof buf, secret_b64, b64);
        assert_int_equal(load_text(d, buf, n, NULL, b64), SEALM_E_FORMAT);
    }
    assert_int_equal(load_text(d, orig, len, NULL, NULL), SEALM_OK);
    free(orig);
}

static void test_tamper_protected(void **state) {
    test_dir *d = *state;
    keygen_ok(d, SEALM_KEY_DEVICE, PASSPHRASE);
    size_t len;
    char *orig = read_text(d->secret, &len);
    char buf[2048];
    /* One flipped byte in the middle of each field's value: a field that still parses makes
     * authentication fail (the header is associated data). */
    const char *fields[] = {"kind", "id", "public", "argon2id-opslimit", "argon2id-memlimit",
                            "salt", "nonce", "ciphertext"};
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        strcpy(buf, orig);
        char key[64];
        snprintf(key, sizeof key, "\n%s: ", fields[f]);
        char *v = strstr(buf, key) + strlen(key);
        size_t vlen = strcspn(v, "\n");
        v[vlen / 2] ^= 0x01;
        sealm_status rc = load_text(d, buf, len, PASSPHRASE, NULL);
        if (rc != SEALM_E_FORMAT && rc != SEALM_E_AUTH)
            fail_msg("field %s: got %s", fields[f], sealm_status_name(rc));
    }
    /* Flips that keep the base64 valid must be caught by the AEAD: SEALM_E_AUTH exactly. */
    const char *aead_fields[] = {"salt", "nonce", "ciphertext"};
    for (size_t f = 0; f < 3; f++) {
        strcpy(buf, orig);
        char key[64];
        snprintf(key, sizeof key, "\n%s: ", aead_fields[f]);
        char *v = strstr(buf, key) + strlen(key);
        v[0] = v[0] == 'A' ? 'B' : 'A';   /* first char: no padding bits involved */
        assert_int_equal(load_text(d, buf, len, PASSPHRASE, NULL), SEALM_E_AUTH);
    }
    /* kind changed: the AAD check fails before anything else could. */
    strcpy(buf, orig);
    assert_int_equal(load_text(d, buf, replace(buf, sizeof buf, "kind: device", "kind: publisher"), PASSPHRASE, NULL),
                     SEALM_E_AUTH);
    /* Argon2id limits out of the accepted range are refused before any hashing. */
    strcpy(buf, orig);
    assert_int_equal(load_text(d, buf, replace(buf, sizeof buf, "argon2id-opslimit: 2", "argon2id-opslimit: 1"), PASSPHRASE, NULL),
                     SEALM_E_FORMAT);
    strcpy(buf, orig);
    assert_int_equal(load_text(d, buf, replace(buf, sizeof buf, "argon2id-memlimit: 67108864", "argon2id-memlimit: 99999999999"), PASSPHRASE, NULL),
                     SEALM_E_FORMAT);
    /* Truncations. */
    for (size_t n = 0; n < len; n += 7)
        assert_int_equal(load_text(d, orig, n, PASSPHRASE, NULL), SEALM_E_FORMAT);
    assert_int_equal(load_text(d, orig, len, PASSPHRASE, NULL), SEALM_OK);
    free(orig);
}

/* ---- trust store ---- */

static void make_pk(test_dir *d, const char *name, uint8_t pk[32]) {
    char s[160], p[160];
    snprintf(s, sizeof s, "%s/%s.secret", d->path, name);
    snprintf(p, sizeof p, "%s/%s.public", d->path, name);
    sealm_error err = {0};
    assert_int_equal(sealm_keygen(SEALM_KEY_PUBLISHER, s, p, NULL, &err), SEALM_OK);
    sealm_key_kind kind;
    assert_int_equal(sealm_pubkey_load(p, &kind, pk, &err), SEALM_OK);
}

static sealm_trust_store *trust_ok(const char *path) {
    sealm_trust_store *t = NULL;
    sealm_error err = {0};
    sealm_status rc = sealm_trust_load(path, &t, &err);
    if (rc != SEALM_OK) fail_msg("trust load: %s: %s", sealm_status_name(rc), err.message);
    return t;
}

static void test_trust_store(void **state) {
    test_dir *d = *state;
    uint8_t a[32], b[32], c[32];
    make_pk(d, "a", a);
    make_pk(d, "b", b);
    make_pk(d, "c", c);
    char id_a[SEALM_KEY_ID_LEN + 1], id_c[SEALM_KEY_ID_LEN + 1];
    sealm_key_id_of(a, id_a);
    sealm_key_id_of(c, id_c);
    sealm_error err = {0};

    /* Missing file: empty store, threshold 1. */
    sealm_trust_store *t = trust_ok(d->trust);
    assert_int_equal(sealm_trust_threshold(t), 1);
    assert_int_equal(sealm_trust_check(t, a), SEALM_TRUST_UNKNOWN);
    sealm_trust_free(t);

    assert_int_equal(sealm_trust_add(d->trust, a, &err), SEALM_OK);
    assert_int_equal(sealm_trust_add(d->trust, b, &err), SEALM_OK);
    assert_int_equal(sealm_trust_add(d->trust, a, &err), SEALM_OK);   /* no-op */
    assert_int_equal(sealm_trust_set_threshold(d->trust, 2, &err), SEALM_OK);
    t = trust_ok(d->trust);
    assert_int_equal(sealm_trust_threshold(t), 2);
    assert_int_equal(sealm_trust_check(t, a), SEALM_TRUST_TRUSTED);
    assert_int_equal(sealm_trust_check(t, b), SEALM_TRUST_TRUSTED);
    assert_int_equal(sealm_trust_check(t, c), SEALM_TRUST_UNKNOWN);
    sealm_trust_free(t);

    size_t len;
    char *text = read_text(d->trust, &len);
    assert_true(strncmp(text, "sealm-trust v1\nthreshold: 2\npublisher ", 38) == 0);
    char line[128];
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, a, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(line, sizeof line, "\npublisher %s %s\n", id_a, b64);
    assert_non_null(strstr(text, line));
    free(text);
    struct stat st;
    assert_int_equal(stat(d->trust, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);

    /* Revoke a: revoked even though still listed; adding it again is refused. */
    assert_int_equal(sealm_trust_revoke(d->trust, id_a, &err), SEALM_OK);
    assert_int_equal(sealm_trust_revoke(d->trust, id_a, &err), SEALM_OK);   /* no-op */
    assert_int_equal(sealm_trust_add(d->trust, a, &err), SEALM_E_REVOKED);
    assert_non_null(strstr(err.message, id_a));
    t = trust_ok(d->trust);
    assert_int_equal(sealm_trust_check(t, a), SEALM_TRUST_REVOKED);
    assert_int_equal(sealm_trust_check(t, b), SEALM_TRUST_TRUSTED);
    sealm_trust_free(t);
    /* Revoking ahead of time, then adding. */
    assert_int_equal(sealm_trust_revoke(d->trust, id_c, &err), SEALM_OK);
    assert_int_equal(sealm_trust_add(d->trust, c, &err), SEALM_E_REVOKED);
    t = trust_ok(d->trust);
    assert_int_equal(sealm_trust_check(t, c), SEALM_TRUST_REVOKED);
    assert_int_equal(sealm_trust_threshold(t), 2);
    sealm_trust_free(t);
    /* Hand-edited file listing a revoked key after its revocation: still revoked. */
    text = read_text(d->trust, &len);
    char edited[4096];
    snprintf(edited, sizeof edited, "%s", text);
    snprintf(line, sizeof line, "publisher %s %s\n", id_a, b64);
    replace(edited, sizeof edited, line, "");
    strcat(edited, line);
    write_text(d->trust, edited, strlen(edited), 0644);
    t = trust_ok(d->trust);
    assert_int_equal(sealm_trust_check(t, a), SEALM_TRUST_REVOKED);
    sealm_trust_free(t);
    free(text);

    /* Bad arguments. */
    assert_int_equal(sealm_trust_set_threshold(d->trust, 0, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_trust_set_threshold(d->trust, 256, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_trust_revoke(d->trust, "XYZ", &err), SEALM_E_INVALID);
    assert_int_equal(sealm_trust_revoke(d->trust, "ABCDEF0123456789", &err), SEALM_E_INVALID);
    assert_int_equal(sealm_trust_check(NULL, a), SEALM_TRUST_UNKNOWN);
    /* Nothing but keys and the store in the directory: no temp files left. */
    assert_int_equal(count_entries(d->path), 7);
}

static void test_trust_malformed(void **state) {
    test_dir *d = *state;
    uint8_t a[32];
    make_pk(d, "a", a);
    char id[SEALM_KEY_ID_LEN + 1], b64[64], good[128];
    sealm_key_id_of(a, id);
    sodium_bin2base64(b64, sizeof b64, a, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(good, sizeof good, "publisher %s %s\n", id, b64);
    char wrong_id[SEALM_KEY_ID_LEN + 1];
    strcpy(wrong_id, id);
    wrong_id[0] = wrong_id[0] == '0' ? '1' : '0';
    char bad_b64[64];
    strcpy(bad_b64, b64);
    bad_b64[5] = '*';

    struct { const char *body; const char *where; sealm_status want; } cases[16];
    char bodies[16][512];
    int n = 0;
#define CASE(where_, want_, ...) do { snprintf(bodies[n], sizeof bodies[n], __VA_ARGS__); \
        cases[n].body = bodies[n]; cases[n].where = where_; cases[n].want = want_; n++; } while (0)
    CASE(":1:", SEALM_E_FORMAT, "sealm-trus v1\nthreshold: 1\n");
    CASE(":1:", SEALM_E_UNSUPPORTED, "sealm-trust v2\nthreshold: 1\n");
    CASE(":2:", SEALM_E_FORMAT, "sealm-trust v1\nthreshold: 0\n");
    CASE(":2:", SEALM_E_FORMAT, "sealm-trust v1\nthreshold: 1x\n");
    CASE(":2:", SEALM_E_FORMAT, "sealm-trust v1\n%s", good);
    CASE(":4:", SEALM_E_FORMAT, "sealm-trust v1\nthreshold: 1\n%strusted %s\n", good, id);
    CASE(":3:", SEALM_E_FORMAT, "sealm-trust v1\nthreshold: 1\npublisher %s %s\n", wrong_id, b64);
    CASE(":3:", SEALM_E_FORMAT, "sealm-trust v1\nthreshold: 1\npublisher %s %s\n", id, bad_b64);
    CASE(":3:", SEALM_E_FORMAT, "sealm-trust v1\nthreshold: 1\npublisher %s  %s\n", id, b64);
    CASE(":4:", SEALM_E_FORMAT, "sealm-trust v1\nthreshold: 1\n%s%s", good, good);
    CASE(":4:", SEALM_E_FORMAT, "sealm-trust v1\nthreshold: 1\nrevoked %s\nrevoked %s\n", id, id);
    CASE(":3:", SEALM_E_FORMAT, "sealm-trust v1\nthreshold: 1\nrevoked %.15s\n", id);
    CASE(":3:", SEALM_E_FORMAT, "sealm-trust v1\nthreshold: 1\n\n");
    CASE(":3:", SEALM_E_FORMAT, "sealm-trust v1\nthreshold: 1\nrevoked %s", id);   /* no newline */
    CASE(":2:", SEALM_E_FORMAT, "sealm-trust v1\nthreshold: 1\r\n");
    CASE(":", SEALM_E_FORMAT, "%s", "");
#undef CASE
    for (int i = 0; i < n; i++) {
        write_text(d->trust, cases[i].body, strlen(cases[i].body), 0644);
        sealm_trust_store *t = (sealm_trust_store *)1;
        sealm_error err = {0};
        sealm_status rc = sealm_trust_load(d->trust, &t, &err);
        if (rc != cases[i].want)
            fail_msg("case %d: got %s (%s)", i, sealm_status_name(rc), err.message);
        assert_null(t);
        char where[256];
        snprintf(where, sizeof where, "%s%s", d->trust, cases[i].where);
        if (!strstr(err.message, where)) fail_msg("case %d: message lacks %s: %s", i, where, err.message);
        /* Changes are refused too, and leave the file as it was. */
        assert_int_not_equal(sealm_trust_set_threshold(d->trust, 1, &err), SEALM_OK);
        size_t len;
        char *after = read_text(d->trust, &len);
        assert_string_equal(after, cases[i].body);
        free(after);
    }
    /* A world- or group-writable store decides nothing. */
    write_text(d->trust, "sealm-trust v1\nthreshold: 1\n", 28, 0666);
    sealm_trust_store *t = NULL;
    sealm_error err = {0};
    assert_int_equal(sealm_trust_load(d->trust, &t, &err), SEALM_E_PERMISSION);
    assert_non_null(strstr(err.message, "chmod 644"));
    assert_int_equal(chmod(d->trust, 0620), 0);
    assert_int_equal(sealm_trust_load(d->trust, &t, &err), SEALM_E_PERMISSION);
    assert_int_equal(chmod(d->trust, 0644), 0);
    t = trust_ok(d->trust);
    sealm_trust_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)
        T(test_keygen_publisher_plain),
        T(test_keygen_publisher_protected),
        T(test_keygen_device_plain),
        T(test_keygen_device_protected),
        T(test_keygen_fresh_keys_differ),
        T(test_keygen_refuses_overwrite),
        T(test_keygen_invalid_arguments),
        T(test_sign_verifies),
        T(test_sign_with_device_key_is_invalid),
        T(test_unseal),
        T(test_derive),
        T(test_unseal_wrong_device_key),
        T(test_unseal_with_publisher_key_is_invalid),
        T(test_wrong_passphrase),
        T(test_permissions),
        T(test_tamper_every_byte_plain),
        T(test_tamper_fields),
        T(test_tamper_device_clamped_bits),
        T(test_tamper_protected),
        T(test_trust_store),
        T(test_trust_malformed),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
