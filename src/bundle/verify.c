/* Verifying a bundle without decrypting it. The order is the security argument: framing
 * (lengths only), then every signature over the exact manifest bytes, then the trust
 * decision (revocation, threshold), and only then is the manifest parsed; then the signed
 * manifest pins the payload's length and the BLAKE2b-256 of its ciphertext, so that a
 * changed, swapped or foreign chunk is refused before any decryption. */
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle_internal.h"

/* The signed message: a domain label, the header, the manifest's length and bytes. */
static uint8_t *signed_message(const bundle_view *v, size_t *len) {
    *len = BUNDLE_SIG_DOMAIN_LEN + BUNDLE_HEADER_LEN + 4 + v->manifest_len;
    uint8_t *msg = malloc(*len);
    if (!msg) return NULL;
    bundle_sig_message_prefix(msg);
    memcpy(msg + BUNDLE_SIG_DOMAIN_LEN, v->header, BUNDLE_HEADER_LEN);
    bundle_wr32(msg + BUNDLE_SIG_DOMAIN_LEN + BUNDLE_HEADER_LEN, v->manifest_len);
    memcpy(msg + BUNDLE_SIG_DOMAIN_LEN + BUNDLE_HEADER_LEN + 4, v->manifest, v->manifest_len);
    return msg;
}

/* Checks each signature, then how many come from trusted, unrevoked keys. */
static sealm_status check_signatures(const bundle_view *v, const bundle_trust *trust,
                                     uint32_t *n_trusted, sealm_error *err) {
    size_t msg_len;
    uint8_t *msg = signed_message(v, &msg_len);
    if (!msg) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory while checking signatures");
    sealm_status st = SEALM_OK;
    char id[SEALM_KEY_ID_LEN + 1], first_unknown[SEALM_KEY_ID_LEN + 1] = "";
    *n_trusted = 0;
    for (uint32_t i = 0; i < v->n_signatures && st == SEALM_OK; i++) {
        const uint8_t *pk = v->signatures + (size_t)i * BUNDLE_SIG_ENTRY_LEN, *sig = pk + 32;
        sealm_key_id_of(pk, id);
        for (uint32_t k = 0; k < i && st == SEALM_OK; k++)
            if (memcmp(pk, v->signatures + (size_t)k * BUNDLE_SIG_ENTRY_LEN, 32) == 0)
                st = sealm_error_set(err, SEALM_E_FORMAT, "key %s signed the bundle twice", id);
        if (st != SEALM_OK) break;
        if (crypto_sign_verify_detached(sig, msg, msg_len, pk) != 0) {
            st = sealm_error_set(err, SEALM_E_SIGNATURE,
                                 "signature %u (key %s) does not match the manifest: the manifest, "
                                 "header or signature was altered; do not use this bundle", i + 1, id);
            break;
        }
        sealm_trust_status ts = trust->check(trust->ctx, pk);
        if (ts == SEALM_TRUST_REVOKED)
            st = sealm_error_set(err, SEALM_E_REVOKED,
                                 "bundle is signed by key %s, which this device's trust store revokes; "
                                 "ask the publisher for a bundle signed by a current key", id);
        else if (ts == SEALM_TRUST_TRUSTED)
            (*n_trusted)++;
        else if (!first_unknown[0])
            memcpy(first_unknown, id, sizeof id);
    }
    free(msg);
    if (st != SEALM_OK) return st;

    if (trust->threshold == 0) return SEALM_OK; /* inspection: valid signatures, trust not asked */
    uint32_t need = trust->threshold;
    if (*n_trusted == 0)
        return sealm_error_set(err, SEALM_E_SIGNATURE,
                               "bundle is signed by key %s, which is not in this device's trust store; "
                               "add the publisher's key (`sealm trust add`) or ask the publisher", first_unknown);
    if (*n_trusted < need)
        return sealm_error_set(err, SEALM_E_SIGNATURE,
                               "bundle has %u trusted signature(s) but the trust store requires %u; "
                               "ask the publisher for a bundle with more signers", *n_trusted, need);
    return SEALM_OK;
}

/* The manifest names its signers; the signature section must hold exactly those, in order,
 * so that a signature cannot be stripped or added without the publisher re-signing. */
static sealm_status check_signer_list(const bundle_view *v, const bundle_manifest *m, sealm_error *err) {
    if (m->info.n_signers != v->n_signatures)
        return sealm_error_set(err, SEALM_E_SIGNATURE,
                               "manifest names %u signer(s) but the bundle carries %u signature(s): "
                               "a signature was removed or added", m->info.n_signers, v->n_signatures);
    char id[SEALM_KEY_ID_LEN + 1];
    for (uint32_t i = 0; i < v->n_signatures; i++) {
        sealm_key_id_of(v->signatures + (size_t)i * BUNDLE_SIG_ENTRY_LEN, id);
        if (strcmp(id, m->info.signer_ids[i]) != 0)
            return sealm_error_set(err, SEALM_E_SIGNATURE,
                                   "signature %u is by key %s but the manifest names %s there", i + 1,
                                   id, m->info.signer_ids[i]);
    }
    return SEALM_OK;
}

static sealm_status check_payload_length(const bundle_view *v, const bundle_manifest *m, sealm_error *err) {
    uint64_t want = bundle_ciphertext_len(m->info.payload_size_bytes, m->info.chunk_size_bytes);
    if (v->payload_len != want)
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "payload is %llu bytes but the manifest implies %llu; the bundle was "
                               "altered or assembled from parts of different bundles",
                               (unsigned long long)v->payload_len, (unsigned long long)want);
    return SEALM_OK;
}

sealm_status bundle_check_ciphertext(const bundle_view *v, const bundle_manifest *m, sealm_error *err) {
    /* Hashed in 1 MiB steps, so that a payload read from a file needs only 1 MiB at a time. */
    const size_t step = 1u << 20;
    uint8_t *scratch = v->fd >= 0 ? malloc(step) : NULL;
    if (v->fd >= 0 && !scratch) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    uint8_t h[32];
    crypto_generichash_state hs;
    crypto_generichash_init(&hs, NULL, 0, sizeof h);
    sealm_status st = SEALM_OK;
    for (uint64_t off = 0; off < v->payload_len; off += step) {
        size_t n = v->payload_len - off < step ? (size_t)(v->payload_len - off) : step;
        const uint8_t *p = bundle_payload_bytes(v, off, n, scratch, err);
        if (!p) {
            st = SEALM_E_IO;
            break;
        }
        crypto_generichash_update(&hs, p, n);
    }
    crypto_generichash_final(&hs, h, sizeof h);
    free(scratch);
    if (st != SEALM_OK) return st;
    if (sodium_memcmp(h, m->info.ciphertext_hash, 32) != 0)
        return sealm_error_set(err, SEALM_E_AUTH,
                               "encrypted payload does not match the hash in the signed manifest: a "
                               "chunk was altered, reordered, or taken from another bundle; do not use it");
    return SEALM_OK;
}

static sealm_status check_recipients(const bundle_view *v, sealm_bundle_info *info, sealm_error *err) {
    for (uint32_t i = 0; i < v->n_recipients; i++) {
        const uint8_t *pk = v->recipients + (size_t)i * BUNDLE_RECIPIENT_ENTRY_LEN;
        for (uint32_t k = 0; k < i; k++)
            if (memcmp(pk, v->recipients + (size_t)k * BUNDLE_RECIPIENT_ENTRY_LEN, 32) == 0)
                return sealm_error_set(err, SEALM_E_FORMAT, "recipient %u appears twice", i + 1);
        sealm_key_id_of(pk, info->recipient_ids[i]);
    }
    info->n_recipients = v->n_recipients;
    return SEALM_OK;
}

sealm_status bundle_verify_view(const bundle_view *v, const bundle_trust *trust,
                                const sealm_bundle_rollback *rollback, bool hash_ciphertext,
                                bundle_manifest *m, sealm_error *err) {
    memset(m, 0, sizeof *m);
    uint32_t n_trusted = 0;
    sealm_status st = check_signatures(v, trust, &n_trusted, err);
    if (st == SEALM_OK) st = bundle_manifest_parse(v->manifest, v->manifest_len, m, err);
    if (st == SEALM_OK) st = check_signer_list(v, m, err);
    if (st == SEALM_OK) {
        bool ok;
        if (bundle_compare_versions(m->info.min_runtime, sealm_version(), &ok) > 0 || !ok)
            st = sealm_error_set(err, SEALM_E_UNSUPPORTED,
                                 "bundle needs sealm %s or newer; this is %s: update sealm",
                                 m->info.min_runtime, sealm_version());
    }
    if (st == SEALM_OK) st = check_payload_length(v, m, err);
    if (st == SEALM_OK && hash_ciphertext) st = bundle_check_ciphertext(v, m, err);
    if (st == SEALM_OK && rollback) {
        uint64_t floor = sealm_bundle_rollback_floor(rollback, m->info.name);
        if (m->info.version < floor)
            st = sealm_error_set(err, SEALM_E_ROLLBACK,
                                 "bundle \"%s\" is version %llu but this device already accepted "
                                 "version %llu: older versions are refused (anti-rollback)",
                                 m->info.name, (unsigned long long)m->info.version,
                                 (unsigned long long)floor);
    }
    if (st == SEALM_OK) st = check_recipients(v, &m->info, err);
    if (st == SEALM_OK) m->info.n_trusted_signers = n_trusted;
    else memset(m, 0, sizeof *m);
    return st;
}

sealm_status bundle_verify_core(const uint8_t *bundle, size_t len, const bundle_trust *trust,
                                const sealm_bundle_rollback *rollback, bundle_view *v,
                                bundle_manifest *m, sealm_error *err) {
    memset(m, 0, sizeof *m);
    if (sodium_init() < 0) return sealm_error_set(err, SEALM_E_NOMEM, "libsodium could not initialize");
    if (!bundle || !trust) return sealm_error_set(err, SEALM_E_INVALID, "bundle and trust store are required");
    sealm_status st = bundle_frame(bundle, len, v, err);
    return st == SEALM_OK ? bundle_verify_view(v, trust, rollback, true, m, err) : st;
}

static sealm_trust_status store_check(const void *ctx, const uint8_t pk[32]) {
    return sealm_trust_check((const sealm_trust_store *)ctx, pk);
}

sealm_status sealm_bundle_verify(const uint8_t *bundle, size_t len, const sealm_trust_store *trust,
                                 const sealm_bundle_rollback *rollback, sealm_bundle_info *info,
                                 sealm_error *err) {
    if (!trust) return sealm_error_set(err, SEALM_E_INVALID, "a trust store is required to verify a bundle");
    uint32_t threshold = sealm_trust_threshold(trust);
    bundle_trust t = {store_check, threshold ? threshold : 1, trust};
    bundle_view v;
    bundle_manifest *m = malloc(sizeof *m);
    if (!m) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    sealm_status st = bundle_verify_core(bundle, len, &t, rollback, &v, m, err);
    if (st == SEALM_OK && info) *info = m->info;
    free(m);
    return st;
}

static sealm_trust_status trust_nobody(const void *ctx, const uint8_t pk[32]) {
    (void)ctx;
    (void)pk;
    return SEALM_TRUST_UNKNOWN;
}

sealm_status sealm_bundle_inspect(const uint8_t *bundle, size_t len, sealm_bundle_info *info, sealm_error *err) {
    if (!info) return sealm_error_set(err, SEALM_E_INVALID, "no place for the bundle's facts");
    bundle_trust t = {trust_nobody, 0, NULL};
    bundle_view v;
    bundle_manifest *m = malloc(sizeof *m);
    if (!m) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    sealm_status st = bundle_verify_core(bundle, len, &t, NULL, &v, m, err);
    if (st == SEALM_OK) *info = m->info;
    free(m);
    return st;
}
