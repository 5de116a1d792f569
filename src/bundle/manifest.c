/* The manifest: a JSON object of documented shape (docs/bundle-format.md), built by the
 * publisher and parsed strictly on the device: duplicate keys, unknown keys, wrong types,
 * out-of-range numbers, over-long or non-printable strings and trailing bytes are all
 * refused. It is parsed only after its signatures verified (verify.c). */
#include <jansson.h>
#include <utf8proc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle_internal.h"

#define MAX_JSON_INT ((1ll << 53) - 1) /* integers exactly representable in any JSON reader */

static const char *const top_keys[] = {
    "format", "bundle_id", "name", "version", "label", "created", "payload_size",
    "payload_blake2b", "ciphertext_blake2b", "chunk_size", "cipher", "architecture",
    "quantization", "device_class", "min_runtime", "signers", "key_commitment", "provenance",
    "system_prompt",
};
static const char *const provenance_keys[] = {"source_model_hash", "quantization_settings", "build_commit"};

bool bundle_name_ok(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > SEALM_BUNDLE_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
    }
    return true;
}

bool bundle_system_prompt_ok(const char *s, size_t n) {
    if (n < 1 || n > SEALM_BUNDLE_SYSTEM_PROMPT_MAX) return false;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t got = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (got < 1) return false;
        /* C0 and C1 controls and DEL could hide text from a reviewer or end a line in a log */
        bool control = cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
        if (control && cp != '\t' && cp != '\n' && cp != '\r') return false;
        i += (size_t)got;
    }
    return true;
}

static bool printable(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n > max) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) return false;
    return true;
}

/* "MAJOR.MINOR.PATCH", each part 0..99999. */
static bool parse_semver(const char *s, long v[3]) {
    for (int part = 0; part < 3; part++) {
        if (*s < '0' || *s > '9') return false;
        long x = 0;
        int digits = 0;
        while (*s >= '0' && *s <= '9') {
            if (++digits > 5) return false;
            x = x * 10 + (*s++ - '0');
        }
        v[part] = x;
        if (part < 2 && *s++ != '.') return false;
    }
    return *s == '\0';
}

int bundle_compare_versions(const char *a, const char *b, bool *ok) {
    long va[3], vb[3];
    *ok = parse_semver(a, va) && parse_semver(b, vb);
    if (!*ok) return 0;
    for (int i = 0; i < 3; i++)
        if (va[i] != vb[i]) return va[i] < vb[i] ? -1 : 1;
    return 0;
}

static bool in_list(const char *key, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, list[i]) == 0) return true;
    return false;
}

static sealm_status bad(sealm_error *err, const char *field, const char *why) {
    return sealm_error_set(err, SEALM_E_FORMAT, "manifest field \"%s\": %s", field, why);
}

static sealm_status get_int(json_t *o, const char *key, long long lo, long long hi, long long *out,
                            sealm_error *err) {
    json_t *j = json_object_get(o, key);
    if (!j) return bad(err, key, "missing");
    if (!json_is_integer(j)) return bad(err, key, "must be an integer");
    long long x = json_integer_value(j);
    if (x < lo || x > hi) return bad(err, key, "out of range");
    *out = x;
    return SEALM_OK;
}

/* Copies a string field into dst (dst_size >= max + 1); min_len 0 allows "". */
static sealm_status get_str(json_t *o, const char *key, bool required, size_t min_len, size_t max,
                            char *dst, sealm_error *err) {
    json_t *j = json_object_get(o, key);
    dst[0] = '\0';
    if (!j) return required ? bad(err, key, "missing") : SEALM_OK;
    if (!json_is_string(j)) return bad(err, key, "must be a string");
    const char *s = json_string_value(j);
    if (json_string_length(j) != strlen(s) || strlen(s) < min_len || !printable(s, max))
        return bad(err, key, "empty, too long, or not printable ASCII");
    memcpy(dst, s, strlen(s) + 1);
    return SEALM_OK;
}

/* Exactly 2*n lowercase hex digits. */
static sealm_status get_hex(json_t *o, const char *key, uint8_t *out, size_t n, sealm_error *err) {
    json_t *j = json_object_get(o, key);
    if (!j) return bad(err, key, "missing");
    if (!json_is_string(j)) return bad(err, key, "must be a string");
    const char *s = json_string_value(j);
    if (json_string_length(j) != 2 * n) return bad(err, key, "wrong length of hex digits");
    for (size_t i = 0; i < 2 * n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return bad(err, key, "not lowercase hex");
    size_t got = 0;
    if (sodium_hex2bin(out, n, s, 2 * n, NULL, &got, NULL) != 0 || got != n)
        return bad(err, key, "not hex");
    return SEALM_OK;
}

static sealm_status check_keys(json_t *o, const char *const *allowed, size_t n, const char *where,
                               sealm_error *err) {
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val) {
        (void)val;
        if (!in_list(key, allowed, n))
            return sealm_error_set(err, SEALM_E_FORMAT, "manifest%s has an unknown field \"%.64s\"",
                                   where, key);
    }
    return SEALM_OK;
}

static sealm_status parse_signers(json_t *o, sealm_bundle_info *info, sealm_error *err) {
    json_t *arr = json_object_get(o, "signers");
    if (!arr) return bad(err, "signers", "missing");
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    if (n < 1 || n > SEALM_BUNDLE_MAX_SIGNATURES)
        return bad(err, "signers", "must be an array of 1..8 publisher key ids");
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(arr, i);
        const char *s = json_is_string(j) ? json_string_value(j) : NULL;
        bool ok = s && json_string_length(j) == SEALM_KEY_ID_LEN;
        for (size_t k = 0; ok && k < SEALM_KEY_ID_LEN; k++)
            ok = (s[k] >= '0' && s[k] <= '9') || (s[k] >= 'a' && s[k] <= 'f');
        if (!ok) return bad(err, "signers", "each entry must be a 16-digit lowercase hex key id");
        for (size_t k = 0; k < i; k++)
            if (strcmp(info->signer_ids[k], s) == 0) return bad(err, "signers", "duplicate key id");
        memcpy(info->signer_ids[i], s, SEALM_KEY_ID_LEN + 1);
    }
    info->n_signers = (uint32_t)n;
    return SEALM_OK;
}

static sealm_status parse_fields(json_t *root, bundle_manifest *m, sealm_error *err) {
    sealm_bundle_info *in = &m->info;
    sealm_status st;
    long long x;
    if (!json_is_object(root)) return sealm_error_set(err, SEALM_E_FORMAT, "manifest is not a JSON object");
    if ((st = check_keys(root, top_keys, sizeof top_keys / sizeof *top_keys, "", err))) return st;

    if ((st = get_int(root, "format", 1, 1000, &x, err))) return st;
    if (x != SEALM_BUNDLE_FORMAT_VERSION) return bad(err, "format", "does not match the header's format version");
    in->format_version = (uint32_t)x;
    if ((st = get_hex(root, "bundle_id", m->bundle_id, sizeof m->bundle_id, err))) return st;
    sodium_bin2hex(in->bundle_id, sizeof in->bundle_id, m->bundle_id, sizeof m->bundle_id);

    if ((st = get_str(root, "name", true, 1, SEALM_BUNDLE_NAME_MAX, in->name, err))) return st;
    if (!bundle_name_ok(in->name)) return bad(err, "name", "must be 1..64 of [A-Za-z0-9._-], starting with a letter or digit");
    if ((st = get_int(root, "version", 1, MAX_JSON_INT, &x, err))) return st;
    in->version = (uint64_t)x;
    if ((st = get_str(root, "label", true, 0, SEALM_BUNDLE_TEXT_MAX, in->label, err))) return st;
    if ((st = get_int(root, "created", 0, MAX_JSON_INT, &x, err))) return st;
    in->created_unix_s = x;

    if ((st = get_int(root, "payload_size", 1, (long long)SEALM_BUNDLE_MAX_PAYLOAD, &x, err))) return st;
    if ((unsigned long long)x > SIZE_MAX) return bad(err, "payload_size", "larger than this device can address");
    in->payload_size_bytes = (uint64_t)x;
    if ((st = get_hex(root, "payload_blake2b", in->payload_hash, 32, err))) return st;
    if ((st = get_hex(root, "ciphertext_blake2b", in->ciphertext_hash, 32, err))) return st;
    if ((st = get_int(root, "chunk_size", SEALM_BUNDLE_MIN_CHUNK, SEALM_BUNDLE_MAX_CHUNK, &x, err))) return st;
    in->chunk_size_bytes = (uint32_t)x;
    in->n_chunks = bundle_n_chunks(in->payload_size_bytes, in->chunk_size_bytes);
    if ((st = get_str(root, "cipher", true, 1, sizeof in->cipher - 1, in->cipher, err))) return st;
    if (strcmp(in->cipher, BUNDLE_CIPHER_NAME) != 0) return bad(err, "cipher", "must be \"" BUNDLE_CIPHER_NAME "\"");

    if ((st = get_str(root, "architecture", true, 1, SEALM_BUNDLE_TEXT_MAX, in->architecture, err))) return st;
    if ((st = get_str(root, "quantization", true, 1, SEALM_BUNDLE_TEXT_MAX, in->quantization, err))) return st;
    if ((st = get_str(root, "device_class", true, 1, SEALM_BUNDLE_TEXT_MAX, in->device_class, err))) return st;
    if ((st = get_str(root, "min_runtime", true, 5, sizeof in->min_runtime - 1, in->min_runtime, err))) return st;
    bool ok;
    bundle_compare_versions(in->min_runtime, "0.0.0", &ok);
    if (!ok) return bad(err, "min_runtime", "must be MAJOR.MINOR.PATCH");

    if ((st = parse_signers(root, in, err))) return st;
    if ((st = get_hex(root, "key_commitment", m->key_commitment, 32, err))) return st;

    json_t *prov = json_object_get(root, "provenance");
    if (prov) {
        if (!json_is_object(prov)) return bad(err, "provenance", "must be an object");
        if ((st = check_keys(prov, provenance_keys, 3, " provenance", err))) return st;
        if ((st = get_str(prov, "source_model_hash", false, 1, SEALM_BUNDLE_PROV_MAX, in->source_model_hash, err))) return st;
        if ((st = get_str(prov, "quantization_settings", false, 1, SEALM_BUNDLE_PROV_MAX, in->quantization_settings, err))) return st;
        if ((st = get_str(prov, "build_commit", false, 1, SEALM_BUNDLE_PROV_MAX, in->build_commit, err))) return st;
    }

    json_t *sys = json_object_get(root, "system_prompt");
    if (sys) {
        if (!json_is_string(sys)) return bad(err, "system_prompt", "must be a string");
        size_t n = json_string_length(sys);
        if (!bundle_system_prompt_ok(json_string_value(sys), n))
            return bad(err, "system_prompt", "must be 1..8192 bytes of UTF-8 without control characters");
        memcpy(in->system_prompt, json_string_value(sys), n + 1);
    }
    return SEALM_OK;
}

sealm_status bundle_manifest_parse(const uint8_t *json, size_t len, bundle_manifest *m, sealm_error *err) {
    memset(m, 0, sizeof *m);
    json_error_t jerr;
    /* Default flags already refuse NUL bytes in strings and bytes after the value. */
    json_t *root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return sealm_error_set(err, SEALM_E_FORMAT, "manifest is not strict JSON (at byte %d): %.120s",
                               jerr.position, jerr.text);
    sealm_status st = parse_fields(root, m, err);
    json_decref(root);
    if (st != SEALM_OK) memset(m, 0, sizeof *m);
    return st;
}

static json_t *hex_value(const uint8_t *b, size_t n) {
    char hex[2 * 64 + 1];
    sodium_bin2hex(hex, sizeof hex, b, n);
    return json_string(hex);
}

sealm_status bundle_manifest_build(const bundle_manifest *m, char **json, size_t *len, sealm_error *err) {
    const sealm_bundle_info *in = &m->info;
    json_t *root = json_object(), *signers = json_array(), *prov = json_object();
    int bad_set = !root || !signers || !prov;
    if (!bad_set) {
        bad_set |= json_object_set_new(root, "format", json_integer(in->format_version));
        bad_set |= json_object_set_new(root, "bundle_id", hex_value(m->bundle_id, sizeof m->bundle_id));
        bad_set |= json_object_set_new(root, "name", json_string(in->name));
        bad_set |= json_object_set_new(root, "version", json_integer((json_int_t)in->version));
        bad_set |= json_object_set_new(root, "label", json_string(in->label));
        bad_set |= json_object_set_new(root, "created", json_integer(in->created_unix_s));
        bad_set |= json_object_set_new(root, "payload_size", json_integer((json_int_t)in->payload_size_bytes));
        bad_set |= json_object_set_new(root, "payload_blake2b", hex_value(in->payload_hash, 32));
        bad_set |= json_object_set_new(root, "ciphertext_blake2b", hex_value(in->ciphertext_hash, 32));
        bad_set |= json_object_set_new(root, "chunk_size", json_integer(in->chunk_size_bytes));
        bad_set |= json_object_set_new(root, "cipher", json_string(in->cipher));
        bad_set |= json_object_set_new(root, "architecture", json_string(in->architecture));
        bad_set |= json_object_set_new(root, "quantization", json_string(in->quantization));
        bad_set |= json_object_set_new(root, "device_class", json_string(in->device_class));
        bad_set |= json_object_set_new(root, "min_runtime", json_string(in->min_runtime));
        for (uint32_t i = 0; i < in->n_signers; i++)
            bad_set |= json_array_append_new(signers, json_string(in->signer_ids[i]));
        bad_set |= json_object_set(root, "signers", signers);
        bad_set |= json_object_set_new(root, "key_commitment", hex_value(m->key_commitment, 32));
        if (in->source_model_hash[0])
            bad_set |= json_object_set_new(prov, "source_model_hash", json_string(in->source_model_hash));
        if (in->quantization_settings[0])
            bad_set |= json_object_set_new(prov, "quantization_settings", json_string(in->quantization_settings));
        if (in->build_commit[0])
            bad_set |= json_object_set_new(prov, "build_commit", json_string(in->build_commit));
        if (json_object_size(prov)) bad_set |= json_object_set(root, "provenance", prov);
        if (in->system_prompt[0])
            bad_set |= json_object_set_new(root, "system_prompt", json_string(in->system_prompt));
    }
    char *text = bad_set ? NULL : json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    json_decref(signers);
    json_decref(prov);
    if (!text) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory while writing the manifest");
    *len = strlen(text);
    if (*len > BUNDLE_MANIFEST_MAX) {
        free(text);
        return sealm_error_set(err, SEALM_E_INVALID, "manifest would be %zu bytes, over the %u limit", *len, BUNDLE_MANIFEST_MAX);
    }
    *json = text;
    return SEALM_OK;
}

void bundle_stream_ad(const bundle_manifest *m, uint8_t ad[32]) {
    static const char label[] = "sealm-bundle-v1/stream-ad";
    uint8_t fixed[16 + 8 + 8 + 4];
    memcpy(fixed, m->bundle_id, 16);
    bundle_wr64(fixed + 16, m->info.version);
    bundle_wr64(fixed + 24, m->info.payload_size_bytes);
    bundle_wr32(fixed + 32, m->info.chunk_size_bytes);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)label, sizeof label);
    crypto_generichash_update(&st, fixed, sizeof fixed);
    crypto_generichash_update(&st, (const uint8_t *)m->info.name, strlen(m->info.name));
    crypto_generichash_final(&st, ad, 32);
}

void bundle_key_commitment(const uint8_t key[32], uint8_t out[32]) {
    static const char label[] = "sealm-bundle-v1/key-commitment";
    crypto_generichash(out, 32, (const uint8_t *)label, sizeof label, key, 32);
}
