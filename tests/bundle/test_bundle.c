/* Tests of sealed bundles: a round trip on a real model (many 4 KiB chunks), then every
 * tampering the format must catch, each refused with its own status code and nothing
 * returned (image NULL, anti-rollback floor unchanged). Keys come from the keys layer
 * (sealm_keygen into a temporary folder); the trust stores are real trust files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundle/bundle_internal.h"
#include "sealm/bundle.h"
#include "sealm/gguf.h"
#include "sealm/keys.h"

#include "fuzz/fuzz_bundle_keys.h"
#include "support/gguf_writer.h"

#define STORIES SEALM_SHARED_DIR "/models/stories260K.gguf"
#define CHUNK 4096u

/* Everything the tests share: the model, keys, trust stores and two sealed bundles. */
typedef struct fixture {
    char dir[64];
    uint8_t *model;
    size_t model_len;
    sealm_key *pub_a, *pub_b, *pub_c, *dev_1, *dev_2;
    uint8_t pk_a[32], pk_b[32], pk_c[32], pk_dev_1[32], pk_dev_2[32], pk_dev_3[32];
    sealm_trust_store *trust;          /* A and B trusted, threshold 1 */
    uint8_t *x, *y;                    /* two bundles of the same model, v1 (A+B → dev 1, dev 3) */
    size_t x_len, y_len;
    int n_state;
} fixture;

static fixture F;

static char *path_in(const char *name) {
    static char buf[8][160];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", F.dir, name);
    return p;
}

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void make_key(sealm_key_kind kind, const char *name, sealm_key **k, uint8_t pk[32]) {
    char sec[160], pub[160];
    snprintf(sec, sizeof sec, "%s/%s.key", F.dir, name);
    snprintf(pub, sizeof pub, "%s/%s.pub", F.dir, name);
    sealm_error err;
    assert_int_equal(sealm_keygen(kind, sec, pub, NULL, &err), SEALM_OK);
    if (k) {
        assert_int_equal(sealm_key_load(sec, NULL, k, &err), SEALM_OK);
    }
    sealm_key_kind got;
    assert_int_equal(sealm_pubkey_load(pub, &got, pk, &err), SEALM_OK);
    assert_int_equal(got, kind);
}

static sealm_trust_store *make_trust(const char *name, const uint8_t (*pks)[32], int n, uint32_t threshold,
                                     const uint8_t *revoke) {
    sealm_error err;
    char *p = path_in(name);
    for (int i = 0; i < n; i++) assert_int_equal(sealm_trust_add(p, pks[i], &err), SEALM_OK);
    if (threshold != 1) assert_int_equal(sealm_trust_set_threshold(p, threshold, &err), SEALM_OK);
    if (revoke) {
        char id[SEALM_KEY_ID_LEN + 1];
        sealm_key_id_of(revoke, id);
        assert_int_equal(sealm_trust_revoke(p, id, &err), SEALM_OK);
    }
    sealm_trust_store *t = NULL;
    assert_int_equal(sealm_trust_load(p, &t, &err), SEALM_OK);
    return t;
}

static const sealm_bundle_params *params_v(uint64_t version) {
    static sealm_bundle_params p;
    p = (sealm_bundle_params){
        .name = "stories260K", .version = version, .label = "test", .created_unix_s = 1700000000,
        .quantization = "F32", .device_class = "x86_64-test", .chunk_size_bytes = CHUNK,
        .source_model_hash = "blake2b:stories", .build_commit = "0123abcd",
    };
    return &p;
}

/* Seals the model with the given publishers to the given devices; returns the file's bytes. */
static uint8_t *seal(uint64_t version, const sealm_key *const *pubs, size_t n_pubs,
                     const uint8_t (*devs)[32], size_t n_devs, size_t *len) {
    sealm_error err;
    char *out = path_in("tmp.sealed");
    sealm_status st = sealm_bundle_seal(F.model, F.model_len, params_v(version), pubs, n_pubs, devs, n_devs, out, &err);
    if (st != SEALM_OK) fail_msg("seal: %s", err.message);
    uint8_t *b = read_all(out, len);
    unlink(out);
    return b;
}

/* A fresh anti-rollback state file for each check. */
static sealm_bundle_rollback *fresh_state(void) {
    char name[32];
    snprintf(name, sizeof name, "state-%d", F.n_state++);
    uint8_t key[32];
    memset(key, 0x5a, sizeof key);
    sealm_bundle_rollback *r = NULL;
    sealm_error err;
    assert_int_equal(sealm_bundle_rollback_open(path_in(name), key, &r, &err), SEALM_OK);
    return r;
}

/* Opens b as device dev_1 under trust and expects code; nothing may come back and the
 * floor must not move. */
static void expect_open(const uint8_t *b, size_t len, const sealm_trust_store *trust, const sealm_key *dev,
                        sealm_status code, const char *what) {
    sealm_bundle_rollback *r = fresh_state();
    sealm_bundle_image *img = (sealm_bundle_image *)(uintptr_t)1;
    sealm_error err = {0};
    sealm_status st = sealm_bundle_open(b, len, trust, dev, r, &img, &err);
    if (st != code)
        fail_msg("%s: expected %s, got %s (%s)", what, sealm_status_name(code), sealm_status_name(st), err.message);
    if (code != SEALM_OK) {
        assert_null(img);
        assert_int_equal(err.code, code);
        assert_true(strlen(err.message) > 10);
        assert_int_equal(sealm_bundle_rollback_floor(r, "stories260K"), 0);
    } else {
        sealm_bundle_image_free(img);
    }
    sealm_bundle_rollback_free(r);
}

/* As expect_open, and the verifier alone (no key, no decryption) must already refuse
 * with the same code: for everything but the recipient section, tampering is caught before
 * any byte is decrypted. */
static void expect_refused(const uint8_t *b, size_t len, const sealm_trust_store *trust, sealm_status code,
                           const char *what) {
    sealm_bundle_info *info = malloc(sizeof *info);
    assert_non_null(info);
    memset(info, 0xab, sizeof *info);
    sealm_error err = {0};
    sealm_status st = sealm_bundle_verify(b, len, trust, NULL, info, &err);
    if (st != code)
        fail_msg("%s: verify expected %s, got %s (%s)", what, sealm_status_name(code), sealm_status_name(st), err.message);
    assert_int_equal(info->version, 0xababababababababull); /* info untouched on failure */
    free(info);
    expect_open(b, len, trust, F.dev_1, code, what);
}

static uint8_t *copy_of(const uint8_t *b, size_t len) {
    uint8_t *c = malloc(len + 256);
    assert_non_null(c);
    memcpy(c, b, len);
    return c;
}

static void expect_flip(size_t off, sealm_status code, const char *what) {
    bool recipient_section = code == SEALM_E_RECIPIENT || strstr(what, "sealed key") != NULL;
    uint8_t *c = copy_of(F.x, F.x_len);
    c[off] ^= 0x01;
    char msg[96];
    snprintf(msg, sizeof msg, "%s (byte %zu)", what, off);
    if (recipient_section)
        expect_open(c, F.x_len, F.trust, F.dev_1, code, msg);
    else
        expect_refused(c, F.x_len, F.trust, code, msg);
    free(c);
}

static int setup(void **state) {
    (void)state;
    assert_true(sodium_init() >= 0);
    snprintf(F.dir, sizeof F.dir, "/tmp/sealm-bundle-test.XXXXXX");
    assert_non_null(mkdtemp(F.dir));
    F.model = read_all(STORIES, &F.model_len);
    make_key(SEALM_KEY_PUBLISHER, "a", &F.pub_a, F.pk_a);
    make_key(SEALM_KEY_PUBLISHER, "b", &F.pub_b, F.pk_b);
    make_key(SEALM_KEY_PUBLISHER, "c", &F.pub_c, F.pk_c);
    make_key(SEALM_KEY_DEVICE, "dev1", &F.dev_1, F.pk_dev_1);
    make_key(SEALM_KEY_DEVICE, "dev2", &F.dev_2, F.pk_dev_2);
    make_key(SEALM_KEY_DEVICE, "dev3", NULL, F.pk_dev_3);
    uint8_t trusted[2][32];
    memcpy(trusted[0], F.pk_a, 32);
    memcpy(trusted[1], F.pk_b, 32);
    F.trust = make_trust("trust", trusted, 2, 1, NULL);

    const sealm_key *ab[2] = {F.pub_a, F.pub_b};
    uint8_t devs[2][32];
    memcpy(devs[0], F.pk_dev_1, 32);
    memcpy(devs[1], F.pk_dev_3, 32);
    F.x = seal(1, ab, 2, (const uint8_t(*)[32])devs, 2, &F.x_len);
    F.y = seal(1, ab, 2, (const uint8_t(*)[32])devs, 2, &F.y_len);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    free(F.model);
    free(F.x);
    free(F.y);
    sealm_key_free(F.pub_a);
    sealm_key_free(F.pub_b);
    sealm_key_free(F.pub_c);
    sealm_key_free(F.dev_1);
    sealm_key_free(F.dev_2);
    sealm_trust_free(F.trust);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", F.dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- the round trip ---- */

static void test_round_trip(void **state) {
    (void)state;
    sealm_error err;
    /* The bundle on disk holds no 64-byte run of the model's tensor data. */
    assert_null(memmem(F.x, F.x_len, F.model + F.model_len / 2, 64));
    assert_null(memmem(F.x, F.x_len, F.model, 64));

    sealm_bundle_info *info = calloc(1, sizeof *info);
    assert_non_null(info);
    assert_int_equal(sealm_bundle_verify(F.x, F.x_len, F.trust, NULL, info, &err), SEALM_OK);
    assert_string_equal(info->name, "stories260K");
    assert_int_equal(info->version, 1);
    assert_string_equal(info->label, "test");
    assert_int_equal(info->created_unix_s, 1700000000);
    assert_int_equal(info->payload_size_bytes, F.model_len);
    assert_int_equal(info->chunk_size_bytes, CHUNK);
    assert_int_equal(info->n_chunks, (F.model_len + CHUNK - 1) / CHUNK);
    assert_true(info->n_chunks > 200);
    assert_string_equal(info->architecture, "llama");
    assert_string_equal(info->quantization, "F32");
    assert_string_equal(info->device_class, "x86_64-test");
    assert_string_equal(info->cipher, "xchacha20poly1305-secretstream");
    assert_string_equal(info->min_runtime, sealm_version());
    assert_string_equal(info->source_model_hash, "blake2b:stories");
    assert_string_equal(info->build_commit, "0123abcd");
    assert_string_equal(info->quantization_settings, "");
    uint8_t h[32];
    crypto_generichash(h, 32, F.model, F.model_len, NULL, 0);
    assert_memory_equal(info->payload_hash, h, 32);
    char id[SEALM_KEY_ID_LEN + 1];
    assert_int_equal(info->n_signers, 2);
    assert_int_equal(info->n_trusted_signers, 2);
    sealm_key_id_of(F.pk_a, id);
    assert_string_equal(info->signer_ids[0], id);
    sealm_key_id_of(F.pk_b, id);
    assert_string_equal(info->signer_ids[1], id);
    assert_int_equal(info->n_recipients, 2);
    sealm_key_id_of(F.pk_dev_3, id);
    assert_string_equal(info->recipient_ids[1], id);
    free(info);

    /* Open from a file, as a device does. */
    char *path = path_in("x.sealed");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(F.x, 1, F.x_len, f), F.x_len);
    fclose(f);
    sealm_bundle_rollback *r = fresh_state();
    sealm_bundle_image *img = NULL;
    sealm_status st = sealm_bundle_open_file(path, F.trust, F.dev_1, r, &img, &err);
    if (st != SEALM_OK) fail_msg("open: %s", err.message);
    size_t len = 0;
    const uint8_t *data = sealm_bundle_image_data(img, &len);
    assert_int_equal(len, F.model_len);
    assert_memory_equal(data, F.model, len);
    assert_string_equal(sealm_bundle_image_info(img)->name, "stories260K");
    sealm_gguf *g = NULL;
    assert_int_equal(sealm_gguf_open_memory(data, len, &g, &err), SEALM_OK);
    assert_int_equal(sealm_gguf_version(g), 3);
    sealm_gguf_close(g);
    sealm_bundle_image_free(img);
    assert_int_equal(sealm_bundle_rollback_floor(r, "stories260K"), 1);

    /* The same version opens again (reload), and so does a different seal of it. */
    assert_int_equal(sealm_bundle_open(F.y, F.y_len, F.trust, F.dev_1, r, &img, &err), SEALM_OK);
    sealm_bundle_image_free(img);
    sealm_bundle_rollback_free(r);
}

/* ---- a flipped byte in every region ---- */

static void test_flip_every_region(void **state) {
    (void)state;
    bundle_view v;
    sealm_error err;
    assert_int_equal(bundle_frame(F.x, F.x_len, &v, &err), SEALM_OK);
    size_t manifest = (size_t)(v.manifest - F.x), sigs = (size_t)(v.signatures - F.x);
    size_t recips = (size_t)(v.recipients - F.x), payload = (size_t)(v.payload - F.x);

    for (size_t i = 0; i < BUNDLE_HEADER_LEN; i++) expect_flip(i, SEALM_E_FORMAT, "header");
    expect_flip(manifest - 1, SEALM_E_FORMAT, "manifest length");
    expect_flip(manifest, SEALM_E_SIGNATURE, "manifest first byte");
    expect_flip(manifest + v.manifest_len / 2, SEALM_E_SIGNATURE, "manifest middle");
    expect_flip(manifest + v.manifest_len - 1, SEALM_E_SIGNATURE, "manifest last byte");
    expect_flip(sigs - 4, SEALM_E_FORMAT, "signature count");
    for (uint32_t s = 0; s < v.n_signatures; s++) {
        size_t at = sigs + s * BUNDLE_SIG_ENTRY_LEN;
        expect_flip(at, SEALM_E_SIGNATURE, "signer public key");
        expect_flip(at + 32, SEALM_E_SIGNATURE, "signature first byte");
        expect_flip(at + 95, SEALM_E_SIGNATURE, "signature last byte");
    }
    expect_flip(recips - 1, SEALM_E_FORMAT, "recipient count");
    expect_flip(recips, SEALM_E_RECIPIENT, "this device's recipient key");
    expect_flip(recips + 32, SEALM_E_AUTH, "this device's sealed key (ephemeral key)");
    expect_flip(recips + BUNDLE_RECIPIENT_ENTRY_LEN - 1, SEALM_E_AUTH, "this device's sealed key (MAC)");
    expect_flip(payload - 1, SEALM_E_FORMAT, "payload length");
    expect_flip(payload, SEALM_E_AUTH, "secretstream header");
    expect_flip(payload + BUNDLE_STREAM_HEADER_LEN - 1, SEALM_E_AUTH, "secretstream header end");

    /* Every chunk: its encrypted tag byte, a message byte and the last byte of its MAC. */
    size_t at = payload + BUNDLE_STREAM_HEADER_LEN;
    uint64_t n_chunks = bundle_n_chunks(F.model_len, CHUNK);
    for (uint64_t c = 0; c < n_chunks; c++) {
        size_t n = c + 1 == n_chunks ? F.model_len - c * CHUNK : CHUNK;
        expect_flip(at, SEALM_E_AUTH, "chunk tag");
        expect_flip(at + 1 + n / 2, SEALM_E_AUTH, "chunk message");
        expect_flip(at + n + BUNDLE_CHUNK_OVERHEAD - 1, SEALM_E_AUTH, "chunk MAC");
        at += n + BUNDLE_CHUNK_OVERHEAD;
    }
    assert_int_equal(at, payload + v.payload_len);
    for (size_t i = 0; i < BUNDLE_TRAILER_LEN; i++) expect_flip(at + i, SEALM_E_FORMAT, "trailer");
    assert_int_equal(at + BUNDLE_TRAILER_LEN, F.x_len);
}

static void test_truncate_and_append(void **state) {
    (void)state;
    size_t cuts[] = {0, 1, 15, 16, 100, F.x_len / 2, F.x_len - BUNDLE_TRAILER_LEN - 17,
                     F.x_len - BUNDLE_TRAILER_LEN, F.x_len - 8, F.x_len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++)
        expect_refused(F.x, cuts[i], F.trust, SEALM_E_FORMAT, "truncated");
    uint8_t *c = copy_of(F.x, F.x_len);
    memset(c + F.x_len, 0, 256);
    expect_refused(c, F.x_len + 1, F.trust, SEALM_E_FORMAT, "one byte appended");
    expect_refused(c, F.x_len + 256, F.trust, SEALM_E_FORMAT, "256 bytes appended");
    /* Even with the trailer's length rewritten, bytes after the trailer are refused. */
    memcpy(c + F.x_len, F.x + F.x_len - BUNDLE_TRAILER_LEN, BUNDLE_TRAILER_LEN);
    bundle_wr64(c + F.x_len + 8, F.x_len + BUNDLE_TRAILER_LEN);
    bundle_wr64(c + F.x_len - 8, F.x_len + BUNDLE_TRAILER_LEN);
    expect_refused(c, F.x_len + BUNDLE_TRAILER_LEN, F.trust, SEALM_E_FORMAT, "second trailer appended");
    free(c);
}

/* Offset and length of chunk i in a framed bundle. */
static size_t chunk_at(const uint8_t *b, size_t len, uint64_t i, size_t *n) {
    bundle_view v;
    sealm_error err;
    assert_int_equal(bundle_frame(b, len, &v, &err), SEALM_OK);
    *n = CHUNK + BUNDLE_CHUNK_OVERHEAD;
    return (size_t)(v.payload - b) + BUNDLE_STREAM_HEADER_LEN + i * (*n);
}

static void test_swap_chunks(void **state) {
    (void)state;
    assert_int_equal(F.x_len, F.y_len);
    size_t n, at3 = chunk_at(F.x, F.x_len, 3, &n), at7 = chunk_at(F.x, F.x_len, 7, &n);
    /* chunk 3 of y into x: same position, other bundle */
    uint8_t *c = copy_of(F.x, F.x_len);
    memcpy(c + at3, F.y + at3, n);
    expect_refused(c, F.x_len, F.trust, SEALM_E_AUTH, "chunk from another bundle");
    /* chunks 3 and 7 of x exchanged: reordering */
    memcpy(c, F.x, F.x_len);
    memcpy(c + at3, F.x + at7, n);
    memcpy(c + at7, F.x + at3, n);
    expect_refused(c, F.x_len, F.trust, SEALM_E_AUTH, "chunks reordered");
    /* chunk 3 duplicated over chunk 4 */
    memcpy(c, F.x, F.x_len);
    memcpy(c + at3 + n, F.x + at3, n);
    expect_refused(c, F.x_len, F.trust, SEALM_E_AUTH, "chunk duplicated");
    free(c);
}

static void test_mix_and_match(void **state) {
    (void)state;
    bundle_view v;
    sealm_error err;
    assert_int_equal(bundle_frame(F.x, F.x_len, &v, &err), SEALM_OK);
    size_t payload = (size_t)(v.payload - F.x);
    /* x's manifest, signatures and recipients with y's (validly signed) payload */
    uint8_t *c = copy_of(F.x, F.x_len);
    memcpy(c + payload, F.y + payload, (size_t)v.payload_len);
    expect_refused(c, F.x_len, F.trust, SEALM_E_AUTH, "manifest of x with payload of y");
    /* x's signed part with y's recipients (a content key for another payload) */
    memcpy(c, F.x, F.x_len);
    size_t recips = (size_t)(v.recipients - F.x);
    memcpy(c + recips, F.y + recips, (size_t)v.n_recipients * BUNDLE_RECIPIENT_ENTRY_LEN);
    expect_open(c, F.x_len, F.trust, F.dev_1, SEALM_E_AUTH, "recipients of y in x");
    /* y's manifest and signatures in front of x's payload (manifests have equal lengths) */
    bundle_view vy;
    assert_int_equal(bundle_frame(F.y, F.y_len, &vy, &err), SEALM_OK);
    assert_int_equal(vy.manifest_len, v.manifest_len);
    memcpy(c, F.y, recips);
    memcpy(c + recips, F.x + recips, F.x_len - recips);
    expect_refused(c, F.x_len, F.trust, SEALM_E_AUTH, "manifest of y with recipients and payload of x");
    free(c);
}

static void test_wrong_device(void **state) {
    (void)state;
    expect_open(F.x, F.x_len, F.trust, F.dev_2, SEALM_E_RECIPIENT, "device not among the recipients");
    sealm_bundle_rollback *r = fresh_state();
    sealm_bundle_image *img = NULL;
    sealm_error err;
    assert_int_equal(sealm_bundle_open(F.x, F.x_len, F.trust, F.pub_a, r, &img, &err), SEALM_E_INVALID);
    assert_null(img);
    sealm_bundle_rollback_free(r);
}

static void test_untrusted_revoked_and_threshold(void **state) {
    (void)state;
    size_t len;
    const sealm_key *c_only[1] = {F.pub_c}, *a_only[1] = {F.pub_a}, *ab[2] = {F.pub_a, F.pub_b};
    const uint8_t(*dev)[32] = (const uint8_t(*)[32])F.pk_dev_1;
    uint8_t *b = seal(1, c_only, 1, dev, 1, &len);
    expect_refused(b, len, F.trust, SEALM_E_SIGNATURE, "untrusted publisher");
    free(b);

    /* empty trust store: nothing is trusted */
    sealm_trust_store *empty = make_trust("trust-empty", NULL, 0, 1, NULL);
    expect_refused(F.x, F.x_len, empty, SEALM_E_SIGNATURE, "empty trust store");
    sealm_trust_free(empty);

    /* A revoked: refused whether A signs alone or with B */
    uint8_t trusted[2][32];
    memcpy(trusted[0], F.pk_a, 32);
    memcpy(trusted[1], F.pk_b, 32);
    sealm_trust_store *revoked = make_trust("trust-revoked", (const uint8_t(*)[32])trusted, 2, 1, F.pk_a);
    b = seal(1, a_only, 1, dev, 1, &len);
    expect_refused(b, len, revoked, SEALM_E_REVOKED, "revoked publisher");
    expect_refused(F.x, F.x_len, revoked, SEALM_E_REVOKED, "co-signed by a revoked publisher");
    sealm_trust_free(revoked);

    /* threshold 2: one trusted signature is too few, two are enough */
    sealm_trust_store *two = make_trust("trust-two", (const uint8_t(*)[32])trusted, 2, 2, NULL);
    expect_refused(b, len, two, SEALM_E_SIGNATURE, "one signature under threshold 2");
    free(b);
    const sealm_key *ac[2] = {F.pub_a, F.pub_c};
    b = seal(1, ac, 2, dev, 1, &len);
    expect_refused(b, len, two, SEALM_E_SIGNATURE, "one trusted + one untrusted under threshold 2");
    expect_open(b, len, F.trust, F.dev_1, SEALM_OK, "one trusted + one untrusted under threshold 1");
    free(b);
    b = seal(1, ab, 2, dev, 1, &len);
    expect_open(b, len, two, F.dev_1, SEALM_OK, "two trusted signatures under threshold 2");
    sealm_trust_free(two);

    /* Stripping B's signature (count and trailer fixed up) leaves A's valid, but the manifest
     * names two signers. */
    bundle_view v;
    sealm_error err;
    assert_int_equal(bundle_frame(b, len, &v, &err), SEALM_OK);
    size_t second = (size_t)(v.signatures - b) + BUNDLE_SIG_ENTRY_LEN;
    uint8_t *c = malloc(len);
    assert_non_null(c);
    memcpy(c, b, second);
    memcpy(c + second, b + second + BUNDLE_SIG_ENTRY_LEN, len - second - BUNDLE_SIG_ENTRY_LEN);
    size_t clen = len - BUNDLE_SIG_ENTRY_LEN;
    bundle_wr32(c + (v.signatures - b) - 4, 1);
    bundle_wr64(c + clen - 8, clen);
    expect_refused(c, clen, F.trust, SEALM_E_SIGNATURE, "a signature stripped");
    free(c);
    free(b);
}

static void test_rollback(void **state) {
    (void)state;
    size_t l4, l5;
    const sealm_key *a_only[1] = {F.pub_a};
    const uint8_t(*dev)[32] = (const uint8_t(*)[32])F.pk_dev_1;
    uint8_t *v4 = seal(4, a_only, 1, dev, 1, &l4), *v5 = seal(5, a_only, 1, dev, 1, &l5);
    uint8_t key[32], other[32];
    memset(key, 0x11, sizeof key);
    memset(other, 0x22, sizeof other);
    char *path = path_in("rollback-state");
    sealm_error err;
    sealm_bundle_rollback *r = NULL;
    assert_int_equal(sealm_bundle_rollback_open(path, key, &r, &err), SEALM_OK);
    sealm_bundle_image *img = NULL;
    assert_int_equal(sealm_bundle_open(v5, l5, F.trust, F.dev_1, r, &img, &err), SEALM_OK);
    sealm_bundle_image_free(img);
    assert_int_equal(sealm_bundle_rollback_floor(r, "stories260K"), 5);
    img = (sealm_bundle_image *)(uintptr_t)1;
    assert_int_equal(sealm_bundle_open(v4, l4, F.trust, F.dev_1, r, &img, &err), SEALM_E_ROLLBACK);
    assert_null(img);
    assert_non_null(strstr(err.message, "version 4"));
    assert_int_equal(sealm_bundle_verify(v4, l4, F.trust, r, NULL, &err), SEALM_E_ROLLBACK);
    assert_int_equal(sealm_bundle_verify(v4, l4, F.trust, NULL, NULL, &err), SEALM_OK);
    assert_int_equal(sealm_bundle_rollback_accept(r, "stories260K", 3, &err), SEALM_E_ROLLBACK);
    sealm_bundle_rollback_free(r);

    /* The floor persisted, 0600, and binds to the state key. */
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sealm_bundle_rollback_open(path, key, &r, &err), SEALM_OK);
    assert_int_equal(sealm_bundle_rollback_floor(r, "stories260K"), 5);
    assert_int_equal(sealm_bundle_rollback_floor(r, "other-model"), 0);
    assert_int_equal(sealm_bundle_open(v4, l4, F.trust, F.dev_1, r, &img, &err), SEALM_E_ROLLBACK);
    assert_null(img);
    sealm_bundle_rollback_free(r);
    r = (sealm_bundle_rollback *)(uintptr_t)1;
    assert_int_equal(sealm_bundle_rollback_open(path, other, &r, &err), SEALM_E_AUTH);
    assert_null(r);

    /* Any edited byte of the state file is caught by its MAC. */
    size_t slen;
    uint8_t *s = read_all(path, &slen);
    for (size_t i = 0; i < slen; i++) {
        s[i] ^= 0x80;
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(s, 1, slen, f), slen);
        fclose(f);
        assert_int_equal(sealm_bundle_rollback_open(path, key, &r, &err), SEALM_E_AUTH);
        s[i] ^= 0x80;
    }
    free(s);
    free(v4);
    free(v5);
}

/* ---- the strict manifest parser, directly ---- */

static void test_manifest_strict(void **state) {
    (void)state;
    bundle_view v;
    sealm_error err;
    assert_int_equal(bundle_frame(F.x, F.x_len, &v, &err), SEALM_OK);
    bundle_manifest *m = malloc(sizeof *m);
    assert_non_null(m);
    assert_int_equal(bundle_manifest_parse(v.manifest, v.manifest_len, m, &err), SEALM_OK);
    char *good = strndup((const char *)v.manifest, v.manifest_len);
    assert_non_null(good);
    size_t n = strlen(good);
    char *bad = malloc(n + 64);
    assert_non_null(bad);

    /* trailing bytes, an unknown field, a duplicate field, wrong types and ranges */
    snprintf(bad, n + 64, "%s ", good);
    assert_int_equal(bundle_manifest_parse((uint8_t *)bad, strlen(bad), m, &err), SEALM_OK);
    snprintf(bad, n + 64, "%s{}", good);
    assert_int_equal(bundle_manifest_parse((uint8_t *)bad, strlen(bad), m, &err), SEALM_E_FORMAT);
    snprintf(bad, n + 64, "{\"extra\":1,%s", good + 1);
    assert_int_equal(bundle_manifest_parse((uint8_t *)bad, strlen(bad), m, &err), SEALM_E_FORMAT);
    assert_non_null(strstr(err.message, "extra"));
    snprintf(bad, n + 64, "{\"version\":9,%s", good + 1);
    assert_int_equal(bundle_manifest_parse((uint8_t *)bad, strlen(bad), m, &err), SEALM_E_FORMAT);
    const char *edits[][2] = {
        {"\"version\":1", "\"version\":0"},   {"\"version\":1", "\"version\":\"1\""},
        {"\"chunk_size\":4096", "\"chunk_size\":4095"},
        {"\"cipher\":\"xchacha20poly1305-secretstream\"", "\"cipher\":\"aes\""},
        {"\"name\":\"stories260K\"", "\"name\":\"../etc\""}, {"\"format\":1", "\"format\":2"},
        {"\"label\":\"test\"", "\"label\":\"te\\u0001t\""}, {"\"label\":\"test\"", "\"label\":\"te\\u0000t\""},
    };
    for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
        char *at = strstr(good, edits[i][0]);
        assert_non_null(at);
        size_t pre = (size_t)(at - good);
        snprintf(bad, n + 64, "%.*s%s%s", (int)pre, good, edits[i][1], at + strlen(edits[i][0]));
        if (bundle_manifest_parse((uint8_t *)bad, strlen(bad), m, &err) != SEALM_E_FORMAT)
            fail_msg("manifest edit %zu (%s) was accepted", i, edits[i][1]);
    }
    free(bad);
    free(good);
    free(m);
}

/* A system prompt signed into the manifest comes back exactly; bad ones are refused when
 * sealing and when parsing. */
static void test_system_prompt(void **state) {
    (void)state;
    sealm_error err;
    const sealm_key *a_only[1] = {F.pub_a};
    const uint8_t(*dev)[32] = (const uint8_t(*)[32])F.pk_dev_1;
    char *out = path_in("system.sealed");
    const char *prompt = "You are a field assistant.\n\tAnswer in Fran\xc3\xa7" "ais or English \xe2\x80\x94 briefly.";
    sealm_bundle_params p = *params_v(1);
    p.system_prompt = prompt;
    assert_int_equal(sealm_bundle_seal(F.model, F.model_len, &p, a_only, 1, dev, 1, out, &err), SEALM_OK);
    size_t len;
    uint8_t *b = read_all(out, &len);
    sealm_bundle_info *info = calloc(1, sizeof *info);
    assert_non_null(info);
    assert_int_equal(sealm_bundle_verify(b, len, F.trust, NULL, info, &err), SEALM_OK);
    assert_string_equal(info->system_prompt, prompt);
    /* the prompt is inside the signed bytes: changing one of its bytes breaks the signature */
    uint8_t *at = memmem(b, len, "field assistant", 15);
    assert_non_null(at);
    at[0] ^= 0x20;
    assert_int_equal(sealm_bundle_verify(b, len, F.trust, NULL, info, &err), SEALM_E_SIGNATURE);
    free(b);
    unlink(out);
    /* absent: "" */
    assert_int_equal(sealm_bundle_verify(F.x, F.x_len, F.trust, NULL, info, &err), SEALM_OK);
    assert_string_equal(info->system_prompt, "");

    /* refused when sealing, and nothing written */
    char *long_prompt = malloc(SEALM_BUNDLE_SYSTEM_PROMPT_MAX + 2);
    assert_non_null(long_prompt);
    memset(long_prompt, 'a', SEALM_BUNDLE_SYSTEM_PROMPT_MAX + 1);
    long_prompt[SEALM_BUNDLE_SYSTEM_PROMPT_MAX + 1] = '\0';
    const char *bad_prompts[] = {"", "bell\x07", "esc\x1b[2J", "del\x7f", "c1\xc2\x85", "bad utf8 \xff", "cut \xe2\x80", long_prompt};
    for (size_t i = 0; i < sizeof bad_prompts / sizeof *bad_prompts; i++) {
        p.system_prompt = bad_prompts[i];
        if (sealm_bundle_seal(F.model, F.model_len, &p, a_only, 1, dev, 1, out, &err) != SEALM_E_INVALID)
            fail_msg("system prompt %zu was accepted when sealing", i);
        assert_int_equal(access(out, F_OK), -1);
    }
    long_prompt[SEALM_BUNDLE_SYSTEM_PROMPT_MAX] = '\0';   /* exactly the limit is fine */
    assert_true(bundle_system_prompt_ok(long_prompt, SEALM_BUNDLE_SYSTEM_PROMPT_MAX));
    free(long_prompt);

    /* refused when parsing (the parser does not trust the sealer) */
    bundle_view v;
    assert_int_equal(bundle_frame(F.x, F.x_len, &v, &err), SEALM_OK);
    bundle_manifest *m = malloc(sizeof *m);
    assert_non_null(m);
    char *good = strndup((const char *)v.manifest, v.manifest_len);
    assert_non_null(good);
    char *edited = malloc(strlen(good) + 64);
    assert_non_null(edited);
    const char *values[] = {"\"ok\\nline\"", "\"\"", "\"\\u0007\"", "7", "null", "[\"x\"]"};
    const sealm_status want[] = {SEALM_OK, SEALM_E_FORMAT, SEALM_E_FORMAT, SEALM_E_FORMAT, SEALM_E_FORMAT, SEALM_E_FORMAT};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        sprintf(edited, "{\"system_prompt\":%s,%s", values[i], good + 1);
        if (bundle_manifest_parse((uint8_t *)edited, strlen(edited), m, &err) != want[i])
            fail_msg("manifest system_prompt %s: wrong verdict", values[i]);
    }
    sprintf(edited, "{\"system_prompt\":\"ok\\nline\",%s", good + 1);
    assert_int_equal(bundle_manifest_parse((uint8_t *)edited, strlen(edited), m, &err), SEALM_OK);
    assert_string_equal(m->info.system_prompt, "ok\nline");
    free(edited);
    free(good);
    free(m);
    free(info);
}

/* ---- seeds for tests/fuzz/fuzz_bundle.c ---- */

static sealm_status fixed_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64], sealm_error *err) {
    (void)err;
    crypto_sign_detached(sig, NULL, msg, len, (const uint8_t *)ctx);
    return SEALM_OK;
}

/* A tiny valid GGUF (no tensors) for small seeds. */
static uint8_t *tiny_gguf(size_t *len, size_t filler) {
    gguf_writer w = {0};
    w_header(&w, 3, 0, 2);
    w_kv_str(&w, "general.architecture", "llama");
    char *text = calloc(1, filler + 1);
    assert_non_null(text);
    memset(text, 'x', filler);
    w_kv_str(&w, "general.description", text);
    free(text);
    *len = w.len;
    return w.buf;
}

/* Seals the tiny GGUF with the fixed fuzz keys; checks the result verifies; writes it to
 * $SEALM_WRITE_FUZZ_SEEDS when that is set (to refresh tests/fuzz/corpus/bundle/). */
static void write_rollback_seed(const char *dir) {
    /* "SEALMRB1" | n = 2 | (11, "fuzz-model1", 7) | (1, "m", 1); the fuzz target appends the MAC */
    uint8_t body[8 + 4 + 1 + 11 + 8 + 1 + 1 + 8] = "SEALMRB1";
    bundle_wr32(body + 8, 2);
    body[12] = 11;
    memcpy(body + 13, "fuzz-model1", 11);
    bundle_wr64(body + 24, 7);
    body[32] = 1;
    body[33] = 'm';
    bundle_wr64(body + 34, 1);
    char path[512];
    snprintf(path, sizeof path, "%s/seed-rollback.bin", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(body, 1, sizeof body, f), sizeof body);
    fclose(f);
}

static sealm_trust_status fuzz_trust(const void *ctx, const uint8_t pk[32]) {
    return memcmp(pk, ctx, 32) == 0 ? SEALM_TRUST_TRUSTED : SEALM_TRUST_UNKNOWN;
}

static void test_fuzz_seeds(void **state) {
    (void)state;
    uint8_t pk[32], sk[64], dev_pk[32];
    crypto_sign_seed_keypair(pk, sk, fuzz_publisher_seed);
    crypto_scalarmult_base(dev_pk, fuzz_device_secret);
    bundle_signer signer = {.sign = fixed_sign, .ctx = sk};
    memcpy(signer.pk, pk, 32);
    const char *dir = getenv("SEALM_WRITE_FUZZ_SEEDS");
    if (dir) write_rollback_seed(dir);
    bundle_trust trust = {fuzz_trust, 1, pk};
    /* The committed seeds verify under the fuzz target's trust store, so it reaches past the
     * signature check on them. */
    for (int i = 1; i <= 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/tests/fuzz/corpus/bundle/seed-%d.sealed", SEALM_SOURCE_DIR, i);
        size_t len;
        uint8_t *b = read_all(path, &len);
        bundle_view v;
        bundle_manifest m;
        sealm_error err;
        if (bundle_verify_core(b, len, &trust, NULL, &v, &m, &err) != SEALM_OK) fail_msg("%s: %s", path, err.message);
        free(b);
    }
    size_t fillers[] = {16, 5000, 9000};
    for (size_t i = 0; i < 3; i++) {
        size_t glen;
        uint8_t *g = tiny_gguf(&glen, fillers[i]);
        sealm_bundle_params p = {.name = "fuzz-model", .version = i + 1, .label = "seed",
                                 .created_unix_s = 1700000000, .chunk_size_bytes = SEALM_BUNDLE_MIN_CHUNK};
        if (i == 2) p.build_commit = "seed";
        uint8_t *b = NULL;
        size_t blen = 0;
        sealm_error err;
        assert_int_equal(bundle_seal_memory(g, glen, &p, &signer, 1, (const uint8_t(*)[32])dev_pk, 1, &b, &blen, &err), SEALM_OK);
        bundle_view v;
        bundle_manifest m;
        assert_int_equal(bundle_frame(b, blen, &v, &err), SEALM_OK);
        assert_int_equal(bundle_manifest_parse(v.manifest, v.manifest_len, &m, &err), SEALM_OK);
        assert_int_equal(m.info.n_chunks, glen / SEALM_BUNDLE_MIN_CHUNK + 1);
        if (dir) {
            char path[512];
            snprintf(path, sizeof path, "%s/seed-%zu.sealed", dir, i + 1);
            FILE *f = fopen(path, "wb");
            assert_non_null(f);
            assert_int_equal(fwrite(b, 1, blen, f), blen);
            fclose(f);
            /* the manifest alone and a rollback-state body reach those parsers directly */
            snprintf(path, sizeof path, "%s/seed-%zu.manifest.json", dir, i + 1);
            assert_non_null(f = fopen(path, "wb"));
            assert_int_equal(fwrite(v.manifest, 1, v.manifest_len, f), v.manifest_len);
            fclose(f);
        }
        free(b);
        free(g);
    }
}

/* ---- sealing inputs, inspection, runtime version ---- */

static void test_seal_inputs_and_inspect(void **state) {
    (void)state;
    sealm_error err;
    const sealm_key *a_only[1] = {F.pub_a}, *dev_as_pub[1] = {F.dev_1}, *aa[2] = {F.pub_a, F.pub_a};
    uint8_t devs[2][32];
    memcpy(devs[0], F.pk_dev_1, 32);
    memcpy(devs[1], F.pk_dev_1, 32);
    const uint8_t(*dev)[32] = (const uint8_t(*)[32])devs;
    char *out = path_in("inputs.sealed");

    /* refused inputs write nothing */
    uint8_t not_gguf[64] = "definitely not a GGUF image";
    assert_int_equal(sealm_bundle_seal(not_gguf, sizeof not_gguf, params_v(1), a_only, 1, dev, 1, out, &err), SEALM_E_FORMAT);
    assert_int_equal(sealm_bundle_seal(F.model, F.model_len, params_v(1), dev_as_pub, 1, dev, 1, out, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_bundle_seal(F.model, F.model_len, params_v(1), aa, 2, dev, 1, out, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_bundle_seal(F.model, F.model_len, params_v(1), a_only, 1, dev, 2, out, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_bundle_seal(F.model, F.model_len, params_v(0), a_only, 1, dev, 1, out, &err), SEALM_E_INVALID);
    sealm_bundle_params p = *params_v(1);
    p.name = "../escape";
    assert_int_equal(sealm_bundle_seal(F.model, F.model_len, &p, a_only, 1, dev, 1, out, &err), SEALM_E_INVALID);
    p = *params_v(1);
    p.chunk_size_bytes = 100;
    assert_int_equal(sealm_bundle_seal(F.model, F.model_len, &p, a_only, 1, dev, 1, out, &err), SEALM_E_INVALID);
    p = *params_v(1);
    p.label = "tab\there";
    assert_int_equal(sealm_bundle_seal(F.model, F.model_len, &p, a_only, 1, dev, 1, out, &err), SEALM_E_INVALID);
    assert_int_equal(access(out, F_OK), -1);

    /* a bundle for a newer runtime is refused as unsupported, after its signature checked */
    p = *params_v(1);
    p.min_runtime = "99.0.0";
    p.chunk_size_bytes = 0; /* default 1 MiB: a single chunk */
    assert_int_equal(sealm_bundle_seal(F.model, F.model_len, &p, a_only, 1, dev, 1, out, &err), SEALM_OK);
    struct stat sb;
    assert_int_equal(stat(out, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);
    size_t len;
    uint8_t *b = read_all(out, &len);
    expect_refused(b, len, F.trust, SEALM_E_UNSUPPORTED, "min_runtime 99.0.0");

    /* inspection without a trust store: facts, no trust */
    sealm_bundle_info *info = calloc(1, sizeof *info);
    assert_non_null(info);
    assert_int_equal(sealm_bundle_inspect(F.x, F.x_len, info, &err), SEALM_OK);
    assert_string_equal(info->name, "stories260K");
    assert_int_equal(info->n_signers, 2);
    assert_int_equal(info->n_trusted_signers, 0);
    assert_int_equal(info->n_recipients, 2);
    uint8_t *c = copy_of(F.x, F.x_len);
    bundle_view v;
    assert_int_equal(bundle_frame(c, F.x_len, &v, &err), SEALM_OK);
    c[v.manifest - c + 3] ^= 1;
    assert_int_equal(sealm_bundle_inspect(c, F.x_len, info, &err), SEALM_E_SIGNATURE);
    free(c);
    free(info);
    free(b);

    /* no temporary files are left behind */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q '\\.tmp\\.'", F.dir);
    assert_int_not_equal(system(cmd), 0);
    unlink(out);
}

/* The file path (payload read chunk by chunk) refuses what the memory path refuses. */
static void test_open_file_refusals(void **state) {
    (void)state;
    bundle_view v;
    sealm_error err;
    assert_int_equal(bundle_frame(F.x, F.x_len, &v, &err), SEALM_OK);
    size_t n, at = chunk_at(F.x, F.x_len, 5, &n);
    struct { size_t len; size_t flip; sealm_status code; } cases[] = {
        {F.x_len, at + 7, SEALM_E_AUTH},                          /* a chunk byte */
        {F.x_len, (size_t)(v.manifest - F.x) + 1, SEALM_E_SIGNATURE}, /* a manifest byte */
        {F.x_len - 1, SIZE_MAX, SEALM_E_FORMAT},                  /* truncated */
        {F.x_len / 3, SIZE_MAX, SEALM_E_FORMAT},                  /* truncated in the payload */
        {10, SIZE_MAX, SEALM_E_FORMAT},                           /* truncated in the header */
        {F.x_len - 1, 0, SEALM_E_FORMAT},                         /* bad magic */
    };
    char *path = path_in("refused.sealed");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t *c = copy_of(F.x, F.x_len);
        if (cases[i].flip != SIZE_MAX) c[cases[i].flip] ^= 0x04;
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(c, 1, cases[i].len, f), cases[i].len);
        fclose(f);
        free(c);
        sealm_bundle_rollback *r = fresh_state();
        sealm_bundle_image *img = (sealm_bundle_image *)(uintptr_t)1;
        sealm_status st = sealm_bundle_open_file(path, F.trust, F.dev_1, r, &img, &err);
        if (st != cases[i].code)
            fail_msg("file case %zu: expected %s, got %s (%s)", i, sealm_status_name(cases[i].code),
                     sealm_status_name(st), err.message);
        assert_null(img);
        assert_int_equal(sealm_bundle_rollback_floor(r, "stories260K"), 0);
        sealm_bundle_rollback_free(r);
    }
    sealm_bundle_image *img = NULL;
    sealm_bundle_rollback *r = fresh_state();
    assert_int_equal(sealm_bundle_open_file(path_in("no-such.sealed"), F.trust, F.dev_1, r, &img, &err), SEALM_E_IO);
    assert_int_equal(sealm_bundle_open_file(F.dir, F.trust, F.dev_1, r, &img, &err), SEALM_E_IO);
    sealm_bundle_rollback_free(r);
    unlink(path);
}

/* ---- peak memory: streaming, not twice the model ---- */

static uint8_t *tiny_gguf(size_t *len, size_t filler);

/* In a child process (so its peak RSS is its own): open a 6 MiB model's bundle from a file
 * and compare the rise of the peak resident set with the model's size. Reading the whole
 * bundle and then decrypting would rise by about twice the size. (6 MiB: the model must fit
 * under the default 8 MiB RLIMIT_MEMLOCK.) */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static void test_peak_memory(void **state) {
    (void)state;
#ifdef UNDER_ASAN
    skip(); /* ASan's shadow memory and free-quarantine make RSS meaningless; the plain build measures it */
#endif
    sealm_error err;
    const sealm_key *a_only[1] = {F.pub_a};
    const uint8_t(*dev)[32] = (const uint8_t(*)[32])F.pk_dev_1;
    sealm_bundle_params p = *params_v(1);
    p.name = "big-model";
    p.chunk_size_bytes = 0;
    size_t model_len;
    uint8_t *model = tiny_gguf(&model_len, 6u << 20);
    char *path = path_in("big.sealed");
    assert_int_equal(sealm_bundle_seal(model, model_len, &p, a_only, 1, dev, 1, path, &err), SEALM_OK);
    long model_kb = (long)(model_len / 1024);
    free(model);
    sealm_bundle_rollback *r = fresh_state();

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rusage before, after;
        getrusage(RUSAGE_SELF, &before);
        sealm_bundle_image *img = NULL;
        sealm_error cerr;
        if (sealm_bundle_open_file(path, F.trust, F.dev_1, r, &img, &cerr) != SEALM_OK) {
            fprintf(stderr, "open: %s\n", cerr.message);
            _exit(2);
        }
        getrusage(RUSAGE_SELF, &after);
        size_t len;
        const uint8_t *data = sealm_bundle_image_data(img, &len);
        long rise_kb = after.ru_maxrss - before.ru_maxrss;
        fprintf(stderr, "peak RSS rose by %ld KiB opening a %ld KiB model\n", rise_kb, model_kb);
        bool ok = len == model_len && data[0] == 'G' && rise_kb > model_kb * 9 / 10 && rise_kb < model_kb * 14 / 10;
        sealm_bundle_image_free(img);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    pid_t waited = waitpid(pid, &status, 0);
    sealm_bundle_rollback_free(r);
    unlink(path);
    assert_int_equal(waited, pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- recipients ---- */

static void write_file(const char *path, const uint8_t *b, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* Offset of the first recipient entry of a framed bundle. */
static size_t first_recipient(const uint8_t *b) {
    size_t at = 16;
    uint32_t m = (uint32_t)b[at] | (uint32_t)b[at + 1] << 8 | (uint32_t)b[at + 2] << 16 | (uint32_t)b[at + 3] << 24;
    at += 4 + m;
    uint32_t s = b[at];
    return at + 4 + 96 * (size_t)s + 4;
}

static void test_recipients_edit(void **state) {
    (void)state;
    sealm_error err;
    char *in = path_in("r-in.sealed"), *out = path_in("r-out.sealed");
    write_file(in, F.x, F.x_len);   /* dev 1 and dev 3 */

    /* dev 2 joins through dev 1's entry; the payload and signatures are byte-identical */
    assert_int_equal(sealm_bundle_recipients_edit(in, out, false, F.dev_1, (const uint8_t(*)[32])F.pk_dev_2, 1, NULL,
                                                  0, &err), SEALM_OK);
    size_t len;
    uint8_t *b = read_all(out, &len);
    assert_int_equal(len, F.x_len + 112);
    assert_memory_equal(b, F.x, first_recipient(F.x) - 4);
    size_t first = first_recipient(F.x), rest = F.x_len - first - 2 * 112 - 16; /* payload length + payload */
    assert_memory_equal(b + first + 3 * 112, F.x + first + 2 * 112, rest);
    expect_open(b, len, F.trust, F.dev_2, SEALM_OK, "dev 2 added");
    expect_open(b, len, F.trust, F.dev_1, SEALM_OK, "dev 1 kept");

    /* an existing out path is not replaced without overwrite; the input is never changed */
    assert_int_equal(sealm_bundle_recipients_edit(in, out, false, F.dev_1, (const uint8_t(*)[32])F.pk_dev_2, 1, NULL,
                                                  0, &err), SEALM_E_IO);
    /* remove dev 1 in place: it is refused afterwards, dev 2 still opens */
    assert_int_equal(sealm_bundle_recipients_edit(out, out, true, NULL, NULL, 0, (const uint8_t(*)[32])F.pk_dev_1, 1,
                                                  &err), SEALM_OK);
    free(b);
    b = read_all(out, &len);
    assert_int_equal(len, F.x_len);
    expect_open(b, len, F.trust, F.dev_1, SEALM_E_RECIPIENT, "dev 1 removed");
    expect_open(b, len, F.trust, F.dev_2, SEALM_OK, "dev 2 after removal");
    free(b);

    /* refusals: no holder, a holder that is not listed, a key already listed, removing an
     * unknown key, removing everyone */
    assert_int_equal(sealm_bundle_recipients_edit(in, out, true, NULL, (const uint8_t(*)[32])F.pk_dev_2, 1, NULL, 0,
                                                  &err), SEALM_E_INVALID);
    assert_int_equal(sealm_bundle_recipients_edit(in, out, true, F.dev_2, (const uint8_t(*)[32])F.pk_dev_2, 1, NULL,
                                                  0, &err), SEALM_E_RECIPIENT);
    assert_int_equal(sealm_bundle_recipients_edit(in, out, true, F.dev_1, (const uint8_t(*)[32])F.pk_dev_3, 1, NULL,
                                                  0, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_bundle_recipients_edit(in, out, true, NULL, NULL, 0, (const uint8_t(*)[32])F.pk_dev_2, 1,
                                                  &err), SEALM_E_NOT_FOUND);
    uint8_t both[2][32];
    memcpy(both[0], F.pk_dev_1, 32);
    memcpy(both[1], F.pk_dev_3, 32);
    assert_int_equal(sealm_bundle_recipients_edit(in, out, true, NULL, NULL, 0, (const uint8_t(*)[32])both, 2, &err),
                     SEALM_E_INVALID);

    /* A forged entry: someone with write access seals a key of their own to dev 1. It opens,
     * but does not match the manifest's key commitment: it cannot be spread to new devices. */
    uint8_t *forged = copy_of(F.x, F.x_len);
    uint8_t fake_key[32];
    randombytes_buf(fake_key, sizeof fake_key);
    size_t e = first_recipient(forged);
    assert_memory_equal(forged + e, F.pk_dev_1, 32);
    assert_int_equal(crypto_box_seal(forged + e + 32, fake_key, 32, F.pk_dev_1), 0);
    write_file(in, forged, F.x_len);
    assert_int_equal(sealm_bundle_recipients_edit(in, out, true, F.dev_1, (const uint8_t(*)[32])F.pk_dev_2, 1, NULL,
                                                  0, &err), SEALM_E_AUTH);
    expect_open(forged, F.x_len, F.trust, F.dev_1, SEALM_E_AUTH, "forged recipient entry");
    free(forged);

    /* a damaged bundle is refused before anything is written */
    uint8_t *bad = copy_of(F.x, F.x_len);
    bad[20] ^= 1;   /* manifest */
    write_file(in, bad, F.x_len);
    unlink(out);
    assert_int_equal(sealm_bundle_recipients_edit(in, out, true, F.dev_1, (const uint8_t(*)[32])F.pk_dev_2, 1, NULL,
                                                  0, &err), SEALM_E_SIGNATURE);
    assert_int_equal(access(out, F_OK), -1);
    free(bad);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_flip_every_region),
        cmocka_unit_test(test_truncate_and_append),
        cmocka_unit_test(test_swap_chunks),
        cmocka_unit_test(test_mix_and_match),
        cmocka_unit_test(test_wrong_device),
        cmocka_unit_test(test_untrusted_revoked_and_threshold),
        cmocka_unit_test(test_rollback),
        cmocka_unit_test(test_manifest_strict),
        cmocka_unit_test(test_system_prompt),
        cmocka_unit_test(test_seal_inputs_and_inspect),
        cmocka_unit_test(test_open_file_refusals),
        cmocka_unit_test(test_peak_memory),
        cmocka_unit_test(test_fuzz_seeds),
        cmocka_unit_test(test_recipients_edit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
