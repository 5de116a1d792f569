/* Anti-rollback state: the highest version accepted per model name on this device, kept in
 * a small file authenticated with HMAC-SHA-512-256 (crypto_auth) under a key derived from a
 * device state key, and rewritten atomically. Layout (little-endian):
 *   "SEALMRB1" | u32 n_entries | n × (u8 name_len | name | u64 version) | MAC (32 bytes)
 * or, bound to a TPM NV counter (a MAC alone cannot stop an old copy of the file from being
 * put back; the TPM's counter, which only goes up, can):
 *   "SEALMRB2" | u64 counter | u32 n_entries | entries ... | MAC (32 bytes)
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
#define ROLLBACK_MAGIC_TPM "SEALMRB2"
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
    bool file_bound;        /* the file read was SEALMRB2 */
    uint64_t file_counter;  /* its counter */
    char *tcti;             /* NULL: no TPM; else the TPM holding the counter */
    uint32_t nv_index;
    uint64_t counter;       /* the TPM counter value the file on disk carries */
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
    free(r->tcti);
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
    bool bound = memcmp(buf, ROLLBACK_MAGIC_TPM, 8) == 0;
    if (!bound && memcmp(buf, ROLLBACK_MAGIC, 8) != 0)
        return sealm_error_set(err, SEALM_E_FORMAT, "anti-rollback state file has a bad magic");
    size_t head = bound ? 20 : 12;
    if (body < head) return sealm_error_set(err, SEALM_E_FORMAT, "anti-rollback state file is truncated");
    uint64_t counter = bound ? bundle_rd64(buf + 8) : 0;
    uint32_t n = bundle_rd32(buf + head - 4);
    if (n > ROLLBACK_MAX_ENTRIES)
        return sealm_error_set(err, SEALM_E_FORMAT, "anti-rollback state lists %u names (max %u)", n, ROLLBACK_MAX_ENTRIES);
    rollback_entry *e = calloc(n ? n : 1, sizeof *e);
    if (!e) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    size_t off = head;
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
    r->file_bound = bound;
    r->file_counter = counter;
    return SEALM_OK;
malformed:
    free(e);
    return sealm_error_set(err, SEALM_E_FORMAT, "anti-rollback state file is malformed (entry list)");
}

static void derive_mac_key(const uint8_t state_key[32], uint8_t *mac_key) {
    static const char label[] = ROLLBACK_MAC_LABEL;
    crypto_generichash(mac_key, crypto_auth_KEYBYTES, (const uint8_t *)label, sizeof label - 1, state_key, 32);
}

/* Reads and parses the state file into r; *missing when there is none (every floor 0). */
static sealm_status read_state(const char *path, sealm_bundle_rollback *r, bool *missing, sealm_error *err) {
    *missing = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        *missing = true;
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
    return st;
}

static sealm_status rollback_new_for(const char *path, const uint8_t state_key[32], sealm_bundle_rollback **out,
                                     sealm_error *err) {
    *out = NULL;
    if (sodium_init() < 0) return sealm_error_set(err, SEALM_E_NOMEM, "libsodium could not initialize");
    if (!path || !state_key)
        return sealm_error_set(err, SEALM_E_INVALID, "anti-rollback state needs a path and a 32-byte state key");
    sealm_bundle_rollback *r = bundle_rollback_new();
    if (!r || !(r->path = strdup(path))) {
        sealm_bundle_rollback_free(r);
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    }
    derive_mac_key(state_key, r->mac_key);
    *out = r;
    return SEALM_OK;
}

sealm_status sealm_bundle_rollback_open(const char *path, const uint8_t state_key[32],
                                        sealm_bundle_rollback **out, sealm_error *err) {
    if (!out) return sealm_error_set(err, SEALM_E_INVALID, "no place for the anti-rollback state");
    *out = NULL;
    sealm_bundle_rollback *r = NULL;
    sealm_status st = rollback_new_for(path, state_key, &r, err);
    bool missing = false;
    if (st == SEALM_OK) st = read_state(path, r, &missing, err);
    if (st == SEALM_OK && r->file_bound)
        st = sealm_error_set(err, SEALM_E_INVALID, "%s: this anti-rollback state is bound to a TPM counter; open it "
                             "with its TPM (--tpm TCTI)", path);
    if (st != SEALM_OK) {
        sealm_bundle_rollback_free(r);
        return st;
    }
    *out = r;
    return SEALM_OK;
}

/* The file against the TPM's counter. Every accepted write first writes the file with
 * counter + 1, then increments the TPM: so the file may be one ahead (a crash between the
 * two: finish the increment now), never behind (an old copy put back: refuse). */
static sealm_status check_against_tpm(sealm_bundle_rollback *r, bool missing, bool created, uint64_t tpm,
                                      sealm_error *err) {
    if (missing && !created)
        return sealm_error_set(err, SEALM_E_ROLLBACK,
                               "%s is missing, but this device's TPM counter (NV 0x%08x) shows a state was written: "
                               "deleting the file would reset every anti-rollback floor; restore it", r->path,
                               r->nv_index);
    if (missing || (!r->file_bound && created)) {
        r->counter = tpm;   /* first use of the TPM: the file is bound at the next write */
        return SEALM_OK;
    }
    if (!r->file_bound)
        return sealm_error_set(err, SEALM_E_ROLLBACK,
                               "%s is not bound to the TPM counter that exists on this device: it is an old copy; "
                               "refusing it", r->path);
    if (r->file_counter == tpm) {
        r->counter = tpm;
        return SEALM_OK;
    }
    if (r->file_counter == tpm + 1) {
        uint64_t now = 0;
        sealm_status st = sealm_tpm_counter_increment(r->tcti, r->nv_index, &now, err);
        if (st != SEALM_OK) return st;
        if (now != r->file_counter)
            return sealm_error_set(err, SEALM_E_ROLLBACK, "TPM counter NV 0x%08x moved unexpectedly", r->nv_index);
        r->counter = now;
        return SEALM_OK;
    }
    return sealm_error_set(err, SEALM_E_ROLLBACK,
                           "%s carries TPM count %llu but the TPM counter NV 0x%08x is at %llu: the file was %s; "
                           "refusing it", r->path, (unsigned long long)r->file_counter, r->nv_index,
                           (unsigned long long)tpm,
                           r->file_counter < tpm ? "replaced by an older copy" : "not written by this device");
}

sealm_status sealm_bundle_rollback_open_tpm(const char *path, const uint8_t state_key[32], const char *tcti,
                                            uint32_t nv_index, sealm_bundle_rollback **out, sealm_error *err) {
    if (!out) return sealm_error_set(err, SEALM_E_INVALID, "no place for the anti-rollback state");
    *out = NULL;
    if (!tcti) return sealm_error_set(err, SEALM_E_INVALID, "a TPM-backed anti-rollback state needs a TCTI");
    sealm_bundle_rollback *r = NULL;
    sealm_status st = rollback_new_for(path, state_key, &r, err);
    if (st == SEALM_OK && !(r->tcti = strdup(tcti))) st = sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    bool missing = false, created = false;
    uint64_t tpm = 0;
    if (st == SEALM_OK) {
        r->nv_index = nv_index;
        st = read_state(path, r, &missing, err);
    }
    /* The counter is created only on a device that has no state file yet. */
    if (st == SEALM_OK) st = sealm_tpm_counter_read(tcti, nv_index, true, &tpm, &created, err);
    if (st == SEALM_OK) st = check_against_tpm(r, missing, created, tpm, err);
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
static sealm_status save(sealm_bundle_rollback *r, const rollback_entry *extra, size_t replace,
                         sealm_error *err) {
    size_t n = r->n_entries + (replace == r->n_entries ? 1 : 0);
    size_t head = r->tcti ? 20 : 12;
    size_t len = head + crypto_auth_BYTES;
    for (size_t i = 0; i < n; i++) {
        const rollback_entry *e = i == replace ? extra : &r->entries[i];
        len += 1 + strlen(e->name) + 8;
    }
    uint8_t *buf = malloc(len);
    if (!buf) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    if (r->tcti) {
        memcpy(buf, ROLLBACK_MAGIC_TPM, 8);
        bundle_wr64(buf + 8, r->counter + 1);
    } else {
        memcpy(buf, ROLLBACK_MAGIC, 8);
    }
    bundle_wr32(buf + head - 4, (uint32_t)n);
    size_t off = head;
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
    /* The file now says counter + 1; the TPM follows. A crash here leaves the file one ahead,
     * which the next open completes. */
    if (st == SEALM_OK && r->tcti) {
        uint64_t now = 0;
        st = sealm_tpm_counter_increment(r->tcti, r->nv_index, &now, err);
        if (st == SEALM_OK && now != r->counter + 1)
            st = sealm_error_set(err, SEALM_E_ROLLBACK, "TPM counter NV 0x%08x moved unexpectedly (another writer?)",
                                 r->nv_index);
        if (st == SEALM_OK) r->counter = now;
    }
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
