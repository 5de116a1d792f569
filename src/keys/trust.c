/* The device's trust store: which publisher keys may sign the bundles this device runs,
 * which key ids are revoked, and how many distinct trusted signatures a bundle needs.
 *
 *   sealm-trust v1
 *   threshold: <1..255>
 *   publisher <id> <base64 Ed25519 public key>
 *   revoked <id>
 *
 * Publisher and revoked lines may come in any order; the file is rewritten with publishers
 * first, then revocations. Revocation wins over a publisher line, and sealm_trust_add refuses
 * a revoked key, so a revoked key stays revoked. Every change is an atomic rewrite of the
 * whole file (fileio.c). */
#include "keys_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRUST_VERSION_PREFIX "sealm-trust v"
#define TRUST_MAX_THRESHOLD 255u

typedef struct trust_publisher {
    char id[SEALM_KEY_ID_LEN + 1];
    uint8_t pk[32];
} trust_publisher;

typedef struct trust_revoked {
    char id[SEALM_KEY_ID_LEN + 1];
} trust_revoked;

struct sealm_trust_store {
    uint32_t threshold;
    trust_publisher *publishers;
    size_t n_publishers, cap_publishers;
    trust_revoked *revoked;
    size_t n_revoked, cap_revoked;
};

static bool grow(void **items, size_t *cap, size_t n, size_t item_size) {
    if (n < *cap) return true;
    size_t new_cap = *cap ? *cap * 2 : 8;
    void *p = realloc(*items, new_cap * item_size);
    if (!p) return false;
    *items = p;
    *cap = new_cap;
    return true;
}

static bool is_revoked(const sealm_trust_store *t, const char *id) {
    for (size_t i = 0; i < t->n_revoked; i++) {
        if (strcmp(t->revoked[i].id, id) == 0) return true;
    }
    return false;
}

static const trust_publisher *find_publisher(const sealm_trust_store *t, const char *id) {
    for (size_t i = 0; i < t->n_publishers; i++) {
        if (strcmp(t->publishers[i].id, id) == 0) return &t->publishers[i];
    }
    return NULL;
}

static sealm_status append_publisher(sealm_trust_store *t, const char *id, const uint8_t pk[32],
                                     const char *path, sealm_error *err) {
    if (!grow((void **)&t->publishers, &t->cap_publishers, t->n_publishers, sizeof *t->publishers))
        return sealm_error_set(err, SEALM_E_NOMEM, "%s: out of memory for the trust store", path);
    trust_publisher *p = &t->publishers[t->n_publishers++];
    memcpy(p->id, id, SEALM_KEY_ID_LEN + 1);
    memcpy(p->pk, pk, 32);
    return SEALM_OK;
}

static sealm_status append_revoked(sealm_trust_store *t, const char *id, const char *path,
                                   sealm_error *err) {
    if (!grow((void **)&t->revoked, &t->cap_revoked, t->n_revoked, sizeof *t->revoked))
        return sealm_error_set(err, SEALM_E_NOMEM, "%s: out of memory for the trust store", path);
    memcpy(t->revoked[t->n_revoked++].id, id, SEALM_KEY_ID_LEN + 1);
    return SEALM_OK;
}

void sealm_trust_free(sealm_trust_store *t) {
    if (!t) return;
    free(t->publishers);
    free(t->revoked);
    free(t);
}

/* ---- parsing ---- */

static sealm_status parse_header(sealm_keys_lines *ls, sealm_trust_store *t, sealm_error *err) {
    const char *line;
    size_t len;
    sealm_status rc = sealm_keys_lines_next(ls, &line, &len, err);
    if (rc == SEALM_E_NOT_FOUND)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s: file is empty; a trust store starts with "
                               "`" TRUST_VERSION_PREFIX "1` (delete the file for an empty store)",
                               ls->path);
    if (rc != SEALM_OK) return rc;
    size_t plen = strlen(TRUST_VERSION_PREFIX);
    uint64_t v;
    if (len < plen || memcmp(line, TRUST_VERSION_PREFIX, plen) != 0
        || !sealm_keys_parse_u64(line + plen, len - plen, &v))
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:1: not a sealm trust store (first line must "
                               "be `" TRUST_VERSION_PREFIX "1`)", ls->path);
    if (v != 1)
        return sealm_error_set(err, SEALM_E_UNSUPPORTED, "%s:1: trust store format version %llu; "
                               "this sealm reads version 1 only (upgrade sealm)", ls->path,
                               (unsigned long long)v);
    const char *value;
    size_t n;
    rc = sealm_keys_lines_field(ls, "threshold", &value, &n, err);
    if (rc != SEALM_OK) return rc;
    if (!sealm_keys_parse_u64(value, n, &v) || v < 1 || v > TRUST_MAX_THRESHOLD)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: threshold must be a number from 1 to %u",
                               ls->path, ls->line_no, TRUST_MAX_THRESHOLD);
    t->threshold = (uint32_t)v;
    return SEALM_OK;
}

/* "publisher <id> <base64>" */
static sealm_status parse_publisher(sealm_keys_lines *ls, sealm_trust_store *t, const char *rest,
                                    size_t n, sealm_error *err) {
    if (n < SEALM_KEY_ID_LEN + 1 || rest[SEALM_KEY_ID_LEN] != ' '
        || !sealm_keys_id_valid(rest, SEALM_KEY_ID_LEN))
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: expected `publisher <id> <public key>` "
                               "with a %d-character lowercase hex id", ls->path, ls->line_no,
                               SEALM_KEY_ID_LEN);
    uint8_t pk[32];
    if (!sealm_keys_base64_decode(rest + SEALM_KEY_ID_LEN + 1, n - SEALM_KEY_ID_LEN - 1, pk, 32))
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: public key must be 32 bytes in padded "
                               "base64 (44 characters)", ls->path, ls->line_no);
    char id[SEALM_KEY_ID_LEN + 1];
    sealm_key_id_of(pk, id);
    if (memcmp(id, rest, SEALM_KEY_ID_LEN) != 0)
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: id %.16s does not match its public key "
                               "(whose id is %s)", ls->path, ls->line_no, rest, id);
    if (find_publisher(t, id))
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: publisher %s is listed twice",
                               ls->path, ls->line_no, id);
    return append_publisher(t, id, pk, ls->path, err);
}

/* "revoked <id>" */
static sealm_status parse_revoked(sealm_keys_lines *ls, sealm_trust_store *t, const char *rest,
                                  size_t n, sealm_error *err) {
    if (!sealm_keys_id_valid(rest, n))
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: expected `revoked <id>` with a "
                               "%d-character lowercase hex id", ls->path, ls->line_no,
                               SEALM_KEY_ID_LEN);
    char id[SEALM_KEY_ID_LEN + 1];
    memcpy(id, rest, SEALM_KEY_ID_LEN);
    id[SEALM_KEY_ID_LEN] = '\0';
    if (is_revoked(t, id))
        return sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: key %s is revoked twice", ls->path,
                               ls->line_no, id);
    return append_revoked(t, id, ls->path, err);
}

static sealm_status parse_store(const char *path, const char *data, size_t len,
                                sealm_trust_store *t, sealm_error *err) {
    sealm_keys_lines ls;
    sealm_keys_lines_init(&ls, path, data, len);
    sealm_status rc = parse_header(&ls, t, err);
    while (rc == SEALM_OK) {
        const char *line;
        size_t n;
        rc = sealm_keys_lines_next(&ls, &line, &n, err);
        if (rc == SEALM_E_NOT_FOUND) return SEALM_OK;
        if (rc != SEALM_OK) return rc;
        if (n >= 10 && memcmp(line, "publisher ", 10) == 0) {
            rc = parse_publisher(&ls, t, line + 10, n - 10, err);
        } else if (n >= 8 && memcmp(line, "revoked ", 8) == 0) {
            rc = parse_revoked(&ls, t, line + 8, n - 8, err);
        } else {
            rc = sealm_error_set(err, SEALM_E_FORMAT, "%s:%d: expected a `publisher <id> <public key>` "
                                 "or `revoked <id>` line", path, ls.line_no);
        }
    }
    return rc;
}

sealm_status sealm_trust_load(const char *path, sealm_trust_store **out, sealm_error *err) {
    if (!path || !out)
        return sealm_error_set(err, SEALM_E_INVALID, "sealm_trust_load: path and out must not be NULL");
    *out = NULL;
    sealm_status rc = sealm_keys_sodium_ready(err);
    if (rc != SEALM_OK) return rc;
    sealm_trust_store *t = calloc(1, sizeof *t);
    if (!t) return sealm_error_set(err, SEALM_E_NOMEM, "%s: out of memory", path);
    t->threshold = 1;
    sealm_keys_read_opts opts = {.max_bytes = SEALM_KEYS_MAX_TRUST_BYTES, .refuse_writable = true,
                                 .missing_ok = true};
    sealm_keys_file f;
    rc = sealm_keys_read_file(path, &opts, &f, err);
    if (rc == SEALM_E_NOT_FOUND) {   /* no file yet: an empty store */
        *out = t;
        return SEALM_OK;
    }
    if (rc == SEALM_OK) {
        rc = parse_store(path, f.data, f.len, t, err);
        sealm_keys_file_free(&f);
    }
    if (rc != SEALM_OK) {
        sealm_trust_free(t);
        return rc;
    }
    *out = t;
    return SEALM_OK;
}

/* ---- queries ---- */

sealm_trust_status sealm_trust_check(const sealm_trust_store *t, const uint8_t pk[32]) {
    if (!t || !pk) return SEALM_TRUST_UNKNOWN;
    char id[SEALM_KEY_ID_LEN + 1];
    sealm_key_id_of(pk, id);
    if (is_revoked(t, id)) return SEALM_TRUST_REVOKED;
    /* The id only finds the entry; trust needs the whole key to match. */
    const trust_publisher *p = find_publisher(t, id);
    if (p && sodium_memcmp(p->pk, pk, 32) == 0) return SEALM_TRUST_TRUSTED;
    return SEALM_TRUST_UNKNOWN;
}

uint32_t sealm_trust_threshold(const sealm_trust_store *t) { return t ? t->threshold : 1; }

/* ---- rewriting ---- */

static sealm_status save_store(const char *path, const sealm_trust_store *t, sealm_error *err) {
    /* Longest line: "publisher " + 16 + " " + 44 + "\n" = 72 bytes. */
    size_t cap = 64 + (t->n_publishers + t->n_revoked) * 80;
    char *text = malloc(cap);
    if (!text) return sealm_error_set(err, SEALM_E_NOMEM, "%s: out of memory", path);
    size_t len = (size_t)snprintf(text, cap, TRUST_VERSION_PREFIX "1\nthreshold: %u\n", t->threshold);
    for (size_t i = 0; i < t->n_publishers; i++) {
        char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(b64, sizeof b64, t->publishers[i].pk, 32, sodium_base64_VARIANT_ORIGINAL);
        len += (size_t)snprintf(text + len, cap - len, "publisher %s %s\n", t->publishers[i].id, b64);
    }
    for (size_t i = 0; i < t->n_revoked; i++)
        len += (size_t)snprintf(text + len, cap - len, "revoked %s\n", t->revoked[i].id);
    sealm_status rc = sealm_keys_write_atomic(path, text, len, 0644, true, err);
    free(text);
    return rc;
}

sealm_status sealm_trust_add(const char *path, const uint8_t pk[32], sealm_error *err) {
    if (!path || !pk)
        return sealm_error_set(err, SEALM_E_INVALID, "sealm_trust_add: path and key must not be NULL");
    sealm_trust_store *t = NULL;
    sealm_status rc = sealm_trust_load(path, &t, err);
    if (rc != SEALM_OK) return rc;
    char id[SEALM_KEY_ID_LEN + 1];
    sealm_key_id_of(pk, id);
    if (is_revoked(t, id)) {
        rc = sealm_error_set(err, SEALM_E_REVOKED, "%s: key %s is revoked; a revoked key can never "
                             "be trusted again (the publisher must make a new key)", path, id);
    } else if (find_publisher(t, id)) {
        rc = SEALM_OK;   /* already trusted: nothing to write */
    } else {
        rc = append_publisher(t, id, pk, path, err);
        if (rc == SEALM_OK) rc = save_store(path, t, err);
    }
    sealm_trust_free(t);
    return rc;
}

sealm_status sealm_trust_revoke(const char *path, const char *key_id, sealm_error *err) {
    if (!path || !key_id)
        return sealm_error_set(err, SEALM_E_INVALID, "sealm_trust_revoke: path and key id must not "
                               "be NULL");
    if (!sealm_keys_id_valid(key_id, strlen(key_id)))
        return sealm_error_set(err, SEALM_E_INVALID, "key id must be %d lowercase hex characters "
                               "(as printed by `sealm keygen`)", SEALM_KEY_ID_LEN);
    sealm_trust_store *t = NULL;
    sealm_status rc = sealm_trust_load(path, &t, err);
    if (rc != SEALM_OK) return rc;
    if (!is_revoked(t, key_id)) {
        rc = append_revoked(t, key_id, path, err);
        if (rc == SEALM_OK) rc = save_store(path, t, err);
    }
    sealm_trust_free(t);
    return rc;
}

sealm_status sealm_trust_set_threshold(const char *path, uint32_t k, sealm_error *err) {
    if (!path)
        return sealm_error_set(err, SEALM_E_INVALID, "sealm_trust_set_threshold: path must not be NULL");
    if (k < 1 || k > TRUST_MAX_THRESHOLD)
        return sealm_error_set(err, SEALM_E_INVALID, "threshold %u is out of range: it must be from "
                               "1 to %u", k, TRUST_MAX_THRESHOLD);
    sealm_trust_store *t = NULL;
    sealm_status rc = sealm_trust_load(path, &t, err);
    if (rc != SEALM_OK) return rc;
    t->threshold = k;
    rc = save_store(path, t, err);
    sealm_trust_free(t);
    return rc;
}
