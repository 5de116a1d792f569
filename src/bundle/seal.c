/* Sealing: GGUF bytes + manifest fields + publisher keys + device public keys → bundle.
 * One random content key per bundle encrypts the payload as a secretstream; the manifest
 * pins the plaintext and ciphertext hashes and commits to the key; each publisher signs
 * the manifest; each device gets a sealed box of the content key. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundle/bundle_internal.h"
#include "common/atomic_file.h"
#include "sealm/gguf.h"

/* The bundle in three pieces: everything before the payload, the payload, the trailer. */
typedef struct sealed_pieces {
    uint8_t *prefix;
    size_t prefix_len;
    uint8_t *payload;
    size_t payload_len;
    uint8_t trailer[BUNDLE_TRAILER_LEN];
} sealed_pieces;

static void pieces_free(sealed_pieces *p) {
    free(p->prefix);
    free(p->payload);
    memset(p, 0, sizeof *p);
}

static sealm_status copy_text(const char *src, const char *dflt, size_t min, size_t max, char *dst,
                              const char *field, sealm_error *err) {
    const char *s = src ? src : dflt;
    size_t n = strlen(s);
    bool ok = n >= min && n <= max;
    for (size_t i = 0; ok && i < n; i++) ok = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] <= 0x7e;
    if (!ok)
        return sealm_error_set(err, SEALM_E_INVALID, "%s must be %zu..%zu printable ASCII characters",
                               field, min, max);
    memcpy(dst, s, n + 1);
    return SEALM_OK;
}

/* Fills the manifest fields the publisher chose, with their defaults. */
static sealm_status fill_params(const sealm_bundle_params *p, const uint8_t *gguf, size_t len,
                                bundle_manifest *m, sealm_error *err) {
    sealm_bundle_info *in = &m->info;
    if (!bundle_name_ok(p->name))
        return sealm_error_set(err, SEALM_E_INVALID, "model name must be 1..64 of [A-Za-z0-9._-], starting with a letter or digit");
    if (p->version < 1 || p->version > (1ull << 53) - 1)
        return sealm_error_set(err, SEALM_E_INVALID, "model version must be 1..2^53-1");
    uint32_t chunk = p->chunk_size_bytes ? p->chunk_size_bytes : SEALM_BUNDLE_DEFAULT_CHUNK;
    if (chunk < SEALM_BUNDLE_MIN_CHUNK || chunk > SEALM_BUNDLE_MAX_CHUNK)
        return sealm_error_set(err, SEALM_E_INVALID, "chunk size %u is outside %u..%u bytes", chunk,
                               SEALM_BUNDLE_MIN_CHUNK, SEALM_BUNDLE_MAX_CHUNK);
    if (p->created_unix_s < 0)
        return sealm_error_set(err, SEALM_E_INVALID, "creation time must not be negative");

    /* The architecture defaults to what the GGUF says; sealing also proves it parses. */
    sealm_gguf *g = NULL;
    sealm_status st = sealm_gguf_open_memory(gguf, len, &g, err);
    if (st != SEALM_OK) return st;
    char arch[SEALM_BUNDLE_TEXT_MAX + 1] = "unknown";
    sealm_gguf_str s;
    if (sealm_gguf_get_str(g, "general.architecture", &s) == SEALM_OK && s.len >= 1 && s.len <= SEALM_BUNDLE_TEXT_MAX) {
        memcpy(arch, s.ptr, s.len);
        arch[s.len] = '\0';
    }
    sealm_gguf_close(g);

    in->format_version = SEALM_BUNDLE_FORMAT_VERSION;
    memcpy(in->name, p->name, strlen(p->name) + 1);
    in->version = p->version;
    in->created_unix_s = p->created_unix_s ? p->created_unix_s : (int64_t)time(NULL);
    in->payload_size_bytes = len;
    in->chunk_size_bytes = chunk;
    in->n_chunks = bundle_n_chunks(len, chunk);
    memcpy(in->cipher, BUNDLE_CIPHER_NAME, sizeof BUNDLE_CIPHER_NAME);
    if ((st = copy_text(p->label, "", 0, SEALM_BUNDLE_TEXT_MAX, in->label, "label", err))) return st;
    if ((st = copy_text(p->architecture, arch, 1, SEALM_BUNDLE_TEXT_MAX, in->architecture, "architecture", err))) return st;
    if ((st = copy_text(p->quantization, "unspecified", 1, SEALM_BUNDLE_TEXT_MAX, in->quantization, "quantization", err))) return st;
    if ((st = copy_text(p->device_class, "any", 1, SEALM_BUNDLE_TEXT_MAX, in->device_class, "device class", err))) return st;
    if ((st = copy_text(p->min_runtime, sealm_version(), 5, sizeof in->min_runtime - 1, in->min_runtime, "minimum runtime", err))) return st;
    bool ok;
    bundle_compare_versions(in->min_runtime, "0.0.0", &ok);
    if (!ok) return sealm_error_set(err, SEALM_E_INVALID, "minimum runtime must be MAJOR.MINOR.PATCH");
    if (p->source_model_hash && (st = copy_text(p->source_model_hash, "", 1, SEALM_BUNDLE_PROV_MAX, in->source_model_hash, "source model hash", err))) return st;
    if (p->quantization_settings && (st = copy_text(p->quantization_settings, "", 1, SEALM_BUNDLE_PROV_MAX, in->quantization_settings, "quantization settings", err))) return st;
    if (p->build_commit && (st = copy_text(p->build_commit, "", 1, SEALM_BUNDLE_PROV_MAX, in->build_commit, "build commit", err))) return st;
    if (p->system_prompt) {
        size_t n = strlen(p->system_prompt);
        if (!bundle_system_prompt_ok(p->system_prompt, n))
            return sealm_error_set(err, SEALM_E_INVALID, "system prompt must be 1..%u bytes of UTF-8 without control "
                                   "characters other than tab and line breaks (got %zu bytes)",
                                   SEALM_BUNDLE_SYSTEM_PROMPT_MAX, n);
        memcpy(in->system_prompt, p->system_prompt, n + 1);
    }
    return SEALM_OK;
}

/* Encrypts the plaintext chunk by chunk; the last chunk carries the FINAL tag, so that a
 * stream cut at a chunk boundary is detected, and every chunk's associated data binds it
 * to this manifest's identity. */
static sealm_status encrypt_payload(const uint8_t *gguf, size_t len, const bundle_manifest *m,
                                    const uint8_t *key, uint8_t *out) {
    crypto_secretstream_xchacha20poly1305_state *state = sodium_malloc(sizeof *state);
    if (!state) return SEALM_E_NOMEM;
    uint8_t ad[32];
    bundle_stream_ad(m, ad);
    crypto_secretstream_xchacha20poly1305_init_push(state, out, key);
    uint8_t *c = out + BUNDLE_STREAM_HEADER_LEN;
    uint32_t chunk = m->info.chunk_size_bytes;
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        uint8_t tag = off + n == len ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                                     : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
        crypto_secretstream_xchacha20poly1305_push(state, c, NULL, gguf + off, n, ad, sizeof ad, tag);
        c += n + BUNDLE_CHUNK_OVERHEAD;
    }
    sodium_free(state);
    return SEALM_OK;
}

static sealm_status check_keys_distinct(const uint8_t *pks, size_t n, size_t stride, const char *what,
                                        sealm_error *err) {
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < i; k++)
            if (memcmp(pks + i * stride, pks + k * stride, 32) == 0)
                return sealm_error_set(err, SEALM_E_INVALID, "%s %zu is given twice", what, i + 1);
    return SEALM_OK;
}

static sealm_status seal_pieces(const uint8_t *gguf, size_t len, const sealm_bundle_params *p,
                                const bundle_signer *signers, size_t n_signers,
                                const uint8_t (*recipients)[32], size_t n_recipients,
                                sealed_pieces *out, sealm_error *err) {
    memset(out, 0, sizeof *out);
    if (sodium_init() < 0) return sealm_error_set(err, SEALM_E_NOMEM, "libsodium could not initialize");
    if (!gguf || !p || !signers || !recipients || len == 0 || len > SEALM_BUNDLE_MAX_PAYLOAD)
        return sealm_error_set(err, SEALM_E_INVALID, "sealing needs a GGUF image (1 byte .. 1 TiB), parameters, signers and recipients");
    if (n_signers < 1 || n_signers > SEALM_BUNDLE_MAX_SIGNATURES)
        return sealm_error_set(err, SEALM_E_INVALID, "give 1..%u publisher keys", SEALM_BUNDLE_MAX_SIGNATURES);
    if (n_recipients < 1 || n_recipients > SEALM_BUNDLE_MAX_RECIPIENTS)
        return sealm_error_set(err, SEALM_E_INVALID, "give 1..%u device public keys", SEALM_BUNDLE_MAX_RECIPIENTS);
    sealm_status st = check_keys_distinct(recipients[0], n_recipients, 32, "device public key", err);
    if (st == SEALM_OK) st = check_keys_distinct(signers[0].pk, n_signers, sizeof *signers, "publisher key", err);
    if (st != SEALM_OK) return st;

    bundle_manifest *m = calloc(1, sizeof *m);
    uint8_t *key = sodium_malloc(32);
    char *json = NULL;
    size_t json_len = 0;
    if (!m || !key) {
        st = sealm_error_set(err, SEALM_E_NOMEM, "out of memory while sealing");
        goto done;
    }
    if ((st = fill_params(p, gguf, len, m, err))) goto done;
    randombytes_buf(key, 32);
    randombytes_buf(m->bundle_id, sizeof m->bundle_id);
    bundle_key_commitment(key, m->key_commitment);
    crypto_generichash(m->info.payload_hash, 32, gguf, len, NULL, 0);

    out->payload_len = (size_t)bundle_ciphertext_len(len, m->info.chunk_size_bytes);
    if (!(out->payload = malloc(out->payload_len))) {
        st = sealm_error_set(err, SEALM_E_NOMEM, "out of memory for a %zu-byte payload", out->payload_len);
        goto done;
    }
    if ((st = encrypt_payload(gguf, len, m, key, out->payload))) {
        sealm_error_set(err, st, "out of memory while encrypting");
        goto done;
    }
    crypto_generichash(m->info.ciphertext_hash, 32, out->payload, out->payload_len, NULL, 0);
    for (size_t i = 0; i < n_signers; i++) sealm_key_id_of(signers[i].pk, m->info.signer_ids[i]);
    m->info.n_signers = (uint32_t)n_signers;
    if ((st = bundle_manifest_build(m, &json, &json_len, err))) goto done;

    /* prefix: header | u32 len | manifest | u32 n | signatures | u32 n | recipients | u64 payload len */
    out->prefix_len = BUNDLE_HEADER_LEN + 4 + json_len + 4 + n_signers * BUNDLE_SIG_ENTRY_LEN + 4 +
                      n_recipients * BUNDLE_RECIPIENT_ENTRY_LEN + 8;
    uint8_t *w = out->prefix = malloc(out->prefix_len);
    if (!w) {
        st = sealm_error_set(err, SEALM_E_NOMEM, "out of memory while sealing");
        goto done;
    }
    memcpy(w, BUNDLE_MAGIC, 8);
    bundle_wr32(w + 8, SEALM_BUNDLE_FORMAT_VERSION);
    bundle_wr32(w + 12, 0);
    bundle_wr32(w + 16, (uint32_t)json_len);
    memcpy(w + 20, json, json_len);

    /* Every publisher signs domain label | header | manifest length | manifest. */
    size_t msg_len = BUNDLE_SIG_DOMAIN_LEN + BUNDLE_HEADER_LEN + 4 + json_len;
    uint8_t *msg = malloc(msg_len);
    if (!msg) {
        st = sealm_error_set(err, SEALM_E_NOMEM, "out of memory while signing");
        goto done;
    }
    bundle_sig_message_prefix(msg);
    memcpy(msg + BUNDLE_SIG_DOMAIN_LEN, w, BUNDLE_HEADER_LEN + 4 + json_len);
    uint8_t *s = w + 20 + json_len;
    bundle_wr32(s, (uint32_t)n_signers);
    s += 4;
    for (size_t i = 0; i < n_signers && st == SEALM_OK; i++, s += BUNDLE_SIG_ENTRY_LEN) {
        memcpy(s, signers[i].pk, 32);
        st = signers[i].sign(signers[i].ctx, msg, msg_len, s + 32, err);
    }
    free(msg);
    if (st != SEALM_OK) goto done;

    bundle_wr32(s, (uint32_t)n_recipients);
    s += 4;
    for (size_t i = 0; i < n_recipients; i++, s += BUNDLE_RECIPIENT_ENTRY_LEN) {
        memcpy(s, recipients[i], 32);
        if (crypto_box_seal(s + 32, key, 32, recipients[i]) != 0) {
            st = sealm_error_set(err, SEALM_E_INVALID, "device public key %zu is not a valid X25519 key", i + 1);
            goto done;
        }
    }
    bundle_wr64(s, out->payload_len);

    memcpy(out->trailer, BUNDLE_TRAILER_MAGIC, 8);
    bundle_wr64(out->trailer + 8, out->prefix_len + out->payload_len + BUNDLE_TRAILER_LEN);
done:
    free(json);
    free(m);
    sodium_free(key);
    if (st != SEALM_OK) pieces_free(out);
    return st;
}

sealm_status bundle_seal_memory(const uint8_t *gguf, size_t len, const sealm_bundle_params *p,
                                const bundle_signer *signers, size_t n_signers,
                                const uint8_t (*recipients)[32], size_t n_recipients,
                                uint8_t **out, size_t *out_len, sealm_error *err) {
    sealed_pieces sp;
    sealm_status st = seal_pieces(gguf, len, p, signers, n_signers, recipients, n_recipients, &sp, err);
    if (st != SEALM_OK) return st;
    *out_len = sp.prefix_len + sp.payload_len + BUNDLE_TRAILER_LEN;
    *out = malloc(*out_len);
    if (!*out) {
        pieces_free(&sp);
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory while sealing");
    }
    memcpy(*out, sp.prefix, sp.prefix_len);
    memcpy(*out + sp.prefix_len, sp.payload, sp.payload_len);
    memcpy(*out + sp.prefix_len + sp.payload_len, sp.trailer, BUNDLE_TRAILER_LEN);
    pieces_free(&sp);
    return SEALM_OK;
}

static sealm_status key_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64], sealm_error *err) {
    return sealm_key_sign((const sealm_key *)ctx, msg, len, sig, err);
}

sealm_status sealm_bundle_seal(const uint8_t *gguf, size_t len, const sealm_bundle_params *params,
                               const sealm_key *const *publishers, size_t n_publishers,
                               const uint8_t (*recipients)[32], size_t n_recipients,
                               const char *out_path, sealm_error *err) {
    if (!publishers || !out_path || n_publishers < 1 || n_publishers > SEALM_BUNDLE_MAX_SIGNATURES)
        return sealm_error_set(err, SEALM_E_INVALID, "sealing needs 1..%u publisher keys and an output path",
                               SEALM_BUNDLE_MAX_SIGNATURES);
    bundle_signer signers[SEALM_BUNDLE_MAX_SIGNATURES];
    for (size_t i = 0; i < n_publishers; i++) {
        if (!publishers[i] || sealm_key_kind_of(publishers[i]) != SEALM_KEY_PUBLISHER)
            return sealm_error_set(err, SEALM_E_INVALID, "key %zu is not a publisher (signing) key", i + 1);
        sealm_key_public(publishers[i], signers[i].pk);
        signers[i].sign = key_sign;
        signers[i].ctx = (void *)publishers[i];
    }
    sealed_pieces sp;
    sealm_status st = seal_pieces(gguf, len, params, signers, n_publishers, recipients, n_recipients, &sp, err);
    if (st != SEALM_OK) return st;
    const void *pieces[3] = {sp.prefix, sp.payload, sp.trailer};
    size_t lens[3] = {sp.prefix_len, sp.payload_len, BUNDLE_TRAILER_LEN};
    st = sealm_file_write_atomic(out_path, pieces, lens, 3, 0644, true, err);
    pieces_free(&sp);
    return st;
}

sealm_status sealm_bundle_seal_file(const char *gguf_path, const sealm_bundle_params *params,
                                    const sealm_key *const *publishers, size_t n_publishers,
                                    const uint8_t (*recipients)[32], size_t n_recipients,
                                    const char *out_path, sealm_error *err) {
    if (!gguf_path) return sealm_error_set(err, SEALM_E_INVALID, "no GGUF path given");
    int fd = open(gguf_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sealm_error_set(err, SEALM_E_IO, "%s: cannot open (%s)", gguf_path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || sb.st_size <= 0) {
        close(fd);
        return sealm_error_set(err, SEALM_E_IO, "%s: cannot stat, or empty", gguf_path);
    }
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return sealm_error_set(err, SEALM_E_IO, "%s: cannot map (%s)", gguf_path, strerror(errno));
    sealm_status st = sealm_bundle_seal(map, (size_t)sb.st_size, params, publishers, n_publishers,
                                        recipients, n_recipients, out_path, err);
    munmap(map, (size_t)sb.st_size);
    return st;
}
