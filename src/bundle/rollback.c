/* Anti-rollback state: the highest version accepted per model name on this device, kept in
 * a small file authenticated with HMAC-SHA-512-256 (crypto_auth) under a key derived from a
 * device state key, and rewritten atomically. Layout (little-endian):
 *   "SEALMRB1" | u32 n_entries | n × (u8 name_len | name | u64 version) | MAC (32 bytes)
 * The MAC covers every byte before it and is checked before anything else is read. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle_internal.h"
#include "common/atomic_file.h"

#define ROLLBACK_MAGIC "SEALMRB1"
#define ROLLBACK_MAX_ENTRIES 4096u
#define ROLLBACK_MAC_LABEL "sealm-bundle-v1 rollback state"

typedef struct rollback_entry {
    char name[SEALM_BUNDLE_NAME_MAX + 1];
    uint64_t version;
} rollback_entry;

struct sealm_bundle_rollback {
    pthread_mutex_t lock;   /* guards entries and the file */
    char *path;
    uint8_t *mac_key;       /* sodium_malloc'd, 32 bytes */
    rollback_entry *entries;
    size_t n_entries;
};

sealm_bundle_rollback *bundle_rollback_new(void) {
    sealm_bundle_rollback *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    if (!(r->mac_key = sodium_malloc(crypto_auth_KEYBYTES))) {
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void sealm_bundle_rollback_free(sealm_bundle_rollback *r) {
    if (!r) return;
    pthread_mutex_destroy(&r->lock);
    sodium_free(r->mac_key);
    free(r->entries);
    free(r->path);
    free(r);
}

sealm_status bundle_rollback_parse(const uint8_t *buf, size_t len, const uint8_t mac_key[32],
                                   sealm_bundle_rollback *r, sealm_error *err) {
    if (len < 8 + 4 + crypto_auth_BYTES || len > (1u << 20))
        return sealm_error_set(err, SEALM_E_FORMAT, "anti-rollback state file has an impossible size (%zu bytes)", len);
    size_t body = len - crypto_auth_BYTES;
    if (crypto_auth_verify(buf + body, buf, body, mac_key) != 0)
        return sealm_error_set(err, SEALM_E_AUTH,
                               "anti-rollback state file failed its integrity check: it was edited or "
                               "belongs to another device key; refusing to trust it");
    if (memcmp(buf, ROLLBACK_MAGIC, 8) != 0)
        return sealm_error_set(err, SEALM_E_FORMAT, "anti-rollback state file has a bad magic");
    uint32_t n = bundle_rd32(buf + 8);
    if (n > ROLLBACK_MAX_ENTRIES)
        return sealm_error_set(err, SEALM_E_FORMAT, "anti-rollback state lists %u names (max %u)", n, ROLLBACK_MAX_ENTRIES);
    rollback_entry *e = calloc(n ? n : 1, sizeof *e);
    if (!e) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    size_t off = 12;
    for (uint32_t i = 0; i < n; i++) {
        size_t nl = off < body ? buf[off] : 0;
        if (nl < 1 || nl > SEALM_BUNDLE_NAME_MAX || body - off < 1 + nl + 8) goto malformed;
        memcpy(e[i].name, buf + off + 1, nl);
        e[i].name[nl] = '\0';
        e[i].version = bundle_rd64(buf + off + 1 + nl);
        off += 1 + nl + 8;
        if (!bundle_name_ok(e[i].name) || strlen(e[i].name) != nl || e[i].version == 0) goto malformed;
        for (uint32_t k = 0; k < i; k++)
            if (strcmp(e[k].name, e[i].name) == 0) goto malformed;
    }
    if (off != body) goto malformed;
    free(r->entries);
    r->entries = e;
    r->n_entries = n;
    return SEALM_OK;
malformed:
    free(e);
    return sealm_error_set(err, SEALM_E_FORMAT, "anti-rollback state file is malformed (entry list)");
}

static void derive_mac_key(const uint8_t state_key[32], uint8_t *mac_key) {
    static const char label[] = ROLLBACK_MAC_LABEL;
    crypto_generichash(mac_key, crypto_auth_KEYBYTES, (const uint8_t *)label, sizeof label - 1, state_key, 32);
}

sealm_status sealm_bundle_rollback_open(const char *path, const uint8_t state_key[32],
                                        sealm_bundle_rollback **out, sealm_error *err) {
    if (out) *out = NULL;
    if (sodium_init() < 0) return sealm_error_set(err, SEALM_E_NOMEM, "libsodium could not initialize");
    if (!path || !state_key || !out)
        return sealm_error_set(err, SEALM_E_INVALID, "anti-rollback state needs a path and a 32-byte state key");
    sealm_bundle_rollback *r = bundle_rollback_new();
    if (!r || !(r->path = strdup(path))) {
        sealm_bundle_rollback_free(r);
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    }
    derive_mac_key(state_key, r->mac_key);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        *out = r; /* no state yet: every floor is 0 */
        return SEALM_OK;
    }
    sealm_status st = SEALM_OK;
    struct stat sb;
    uint8_t *buf = NULL;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        st = sealm_error_set(err, SEALM_E_IO, "%s: cannot read the anti-rollback state (%s)", path, strerror(errno));
    } else if (sb.st_size < 0 || sb.st_size > (1 << 20)) {
        st = sealm_error_set(err, SEALM_E_FORMAT, "%s: anti-rollback state is too large", path);
    } else if (!(buf = malloc((size_t)sb.st_size + 1))) {
        st = sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    } else {
        size_t got = 0;
        while (got < (size_t)sb.st_size) {
            ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += (size_t)n;
        }
        if (got != (size_t)sb.st_size)
            st = sealm_error_set(err, SEALM_E_IO, "%s: short read of the anti-rollback state", path);
        else
            st = bundle_rollback_parse(buf, got, r->mac_key, r, err);
    }
    if (fd >= 0) close(fd);
    free(buf);
    if (st != SEALM_OK) {
        sealm_bundle_rollback_free(r);
        return st;
    }
    *out = r;
    return SEALM_OK;
}

static size_t find(const sealm_bundle_rollback *r, const char *name) {
    for (size_t i = 0; i < r->n_entries; i++)
        if (strcmp(r->entries[i].name, name) == 0) return i;
    return r->n_entries;
}

uint64_t sealm_bundle_rollback_floor(const sealm_bundle_rollback *r, const char *name) {
    if (!r || !name) return 0;
    /* The store is heap-allocated and never const itself; the lock only orders readers and the writer. */
    pthread_mutex_t *lock = (pthread_mutex_t *)&r->lock;
    pthread_mutex_lock(lock);
    size_t i = find(r, name);
    uint64_t v = i < r->n_entries ? r->entries[i].version : 0;
    pthread_mutex_unlock(lock);
    return v;
}

/* Serializes entries (with one entry replaced or added) and writes the file. */
static sealm_status save(const sealm_bundle_rollback *r, const rollback_entry *extra, size_t replace,
                         sealm_error *err) {
    size_t n = r->n_entries + (replace == r->n_entries ? 1 : 0);
    size_t len = 12 + crypto_auth_BYTES;
    for (size_t i = 0; i < n; i++) {
        const rollback_entry *e = i == replace ? extra : &r->entries[i];
        len += 1 + strlen(e->name) + 8;
    }
    uint8_t *buf = malloc(len);
    if (!buf) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    memcpy(buf, ROLLBACK_MAGIC, 8);
    bundle_wr32(buf + 8, (uint32_t)n);
    size_t off = 12;
    for (size_t i = 0; i < n; i++) {
        const rollback_entry *e = i == replace ? extra : &r->entries[i];
        size_t nl = strlen(e->name);
        buf[off] = (uint8_t)nl;
        memcpy(buf + off + 1, e->name, nl);
        bundle_wr64(buf + off + 1 + nl, e->version);
        off += 1 + nl + 8;
    }
    crypto_auth(buf + off, buf, off, r->mac_key);
    const void *pieces[1] = {buf};
    sealm_status st = sealm_file_write_atomic(r->path, pieces, &len, 1, 0600, true, err);
    free(buf);
    return st;
}

sealm_status sealm_bundle_rollback_accept(sealm_bundle_rollback *r, const char *name,
                                          uint64_t version, sealm_error *err) {
    if (!r || !bundle_name_ok(name) || version == 0)
        return sealm_error_set(err, SEALM_E_INVALID, "anti-rollback update needs a store, a valid model name and a version >= 1");
    pthread_mutex_lock(&r->lock);
    sealm_status st = SEALM_OK;
    size_t i = find(r, name);
    uint64_t floor = i < r->n_entries ? r->entries[i].version : 0;
    if (version < floor) {
        st = sealm_error_set(err, SEALM_E_ROLLBACK,
                             "\"%s\" version %llu is older than version %llu already accepted on this device",
                             name, (unsigned long long)version, (unsigned long long)floor);
    } else if (version > floor) {
        rollback_entry e = {.version = version};
        memcpy(e.name, name, strlen(name) + 1);
        if (i == r->n_entries && r->n_entries >= ROLLBACK_MAX_ENTRIES) {
            st = sealm_error_set(err, SEALM_E_INVALID, "anti-rollback state is full (%u names)", ROLLBACK_MAX_ENTRIES);
        } else if ((st = save(r, &e, i, err)) == SEALM_OK) {
            if (i == r->n_entries) {
                rollback_entry *grown = realloc(r->entries, (r->n_entries + 1) * sizeof *grown);
                if (!grown) {
                    st = sealm_error_set(err, SEALM_E_NOMEM, "out of memory (the file was updated; reopen the state)");
                } else {
                    r->entries = grown;
                    r->entries[r->n_entries++] = e;
                }
            } else {
                r->entries[i] = e;
            }
        }
    }
    pthread_mutex_unlock(&r->lock);
    return st;
}
