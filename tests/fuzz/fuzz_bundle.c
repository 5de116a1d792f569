/* libFuzzer target for the bundle reader. Every input goes through three parsers:
 *   1. the whole verifier (framing, signatures against a fixed one-key trust store,
 *      manifest, ciphertext hash) and, when that accepts (the committed seeds do), the
 *      opener with a fixed device key: decryption into locked memory and the rollback store;
 *   2. the strict manifest parser on the raw bytes (reachable in real bundles only behind a
 *      valid signature, so fuzzed directly);
 *   3. the anti-rollback state parser on the bytes with a valid MAC appended (likewise).
 * Any result is fine except a crash, a leak, or a success that breaks an invariant.
 * Seeds: tests/fuzz/corpus/bundle/, written by tests/bundle/test_bundle.c
 * (SEALM_WRITE_FUZZ_SEEDS=tests/fuzz/corpus/bundle build/test_bundle). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/bundle/bundle_internal.h"
#include "fuzz_bundle_keys.h"

static uint8_t publisher_pk[32], device_pk[32];
static uint8_t state_mac_key[32];
static sealm_bundle_rollback *rollback;

static sealm_trust_status fixed_trust(const void *ctx, const uint8_t pk[32]) {
    (void)ctx;
    return memcmp(pk, publisher_pk, 32) == 0 ? SEALM_TRUST_TRUSTED : SEALM_TRUST_UNKNOWN;
}

static sealm_status fixed_unseal(const void *ctx, const uint8_t *sealed, size_t len, uint8_t *out,
                                 sealm_error *err) {
    (void)ctx;
    if (crypto_box_seal_open(out, sealed, len, device_pk, fuzz_device_secret) != 0)
        return sealm_error_set(err, SEALM_E_AUTH, "not sealed for the fuzz device");
    return SEALM_OK;
}

static void init_once(void) {
    if (sodium_init() < 0) abort();
    uint8_t sk[64];
    crypto_sign_seed_keypair(publisher_pk, sk, fuzz_publisher_seed);
    crypto_scalarmult_base(device_pk, fuzz_device_secret);
    memset(state_mac_key, 0x42, sizeof state_mac_key);
    char path[64];
    snprintf(path, sizeof path, "/tmp/sealm-fuzz-bundle-state.%d", (int)getpid());
    unlink(path);
    sealm_error err;
    uint8_t key[32] = {1};
    if (sealm_bundle_rollback_open(path, key, &rollback, &err) != SEALM_OK) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        init_once();
        ready = 1;
    }
    sealm_error err;
    bundle_trust trust = {fixed_trust, 1, NULL};
    bundle_view v;
    bundle_manifest *m = malloc(sizeof *m);
    if (!m) return 0;
    sealm_status st = bundle_verify_core(data, size, &trust, NULL, &v, m, &err);
    if (st == SEALM_OK) {
        /* Invariants of an accepted bundle. */
        if (m->info.n_signers < 1 || v.payload + v.payload_len > data + size) abort();
        bundle_unsealer dev = {.unseal = fixed_unseal};
        memcpy(dev.pk, device_pk, 32);
        sealm_bundle_image *img = NULL;
        st = bundle_open_core(data, size, &trust, &dev, rollback, &img, &err);
        if (st == SEALM_OK) {
            size_t len;
            const uint8_t *p = sealm_bundle_image_data(img, &len);
            if (len != m->info.payload_size_bytes || !p) abort();
            sealm_bundle_image_free(img);
        } else if (img) {
            abort();
        }
    } else if (err.code != st || !err.message[0]) {
        abort();
    }

    st = bundle_manifest_parse(data, size, m, &err);
    if (st == SEALM_OK && (m->info.n_signers < 1 || m->info.chunk_size_bytes < SEALM_BUNDLE_MIN_CHUNK)) abort();
    free(m);

    if (size <= 4096) {
        uint8_t *buf = malloc(size + crypto_auth_BYTES);
        sealm_bundle_rollback *r = bundle_rollback_new();
        if (buf && r) {
            memcpy(buf, data, size);
            crypto_auth(buf + size, buf, size, state_mac_key);
            bundle_rollback_parse(buf, size + crypto_auth_BYTES, state_mac_key, r, &err);
            (void)sealm_bundle_rollback_floor(r, "fuzz-model1");
        }
        free(buf);
        sealm_bundle_rollback_free(r);
    }
    return 0;
}
