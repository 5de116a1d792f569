/* Changing who can open a bundle without re-encrypting it. The recipient list sits outside
 * the signed manifest on purpose: each entry is just the content key sealed to one device,
 * and the manifest's key commitment says which content key is the right one. So a new list
 * needs no publisher signature, only the content key (for additions), and the payload,
 * manifest and signatures are copied byte for byte. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle_internal.h"
#include "common/atomic_file.h"

/* The new recipient list being built: whole entries (public key | sealed content key). */
typedef struct recipient_list {
    uint8_t *entries;   /* n entries of BUNDLE_RECIPIENT_ENTRY_LEN */
    size_t n;
} recipient_list;

static ptrdiff_t find_recipient(const recipient_list *l, const uint8_t pk[32]) {
    for (size_t i = 0; i < l->n; i++)
        if (memcmp(l->entries + i * BUNDLE_RECIPIENT_ENTRY_LEN, pk, 32) == 0) return (ptrdiff_t)i;
    return -1;
}

static sealm_trust_status trust_nobody(const void *ctx, const uint8_t pk[32]) {
    (void)ctx;
    (void)pk;
    return SEALM_TRUST_UNKNOWN;
}

/* Maps the bundle read-only (its bytes are ciphertext and public facts) and checks it as
 * sealm_bundle_inspect does: framing, every signature by its own key, the manifest, the
 * ciphertext hash. Trust is not asked: this runs on the publisher's side too. */
static sealm_status map_and_check(const char *path, const uint8_t **map, size_t *len, bundle_view *v,
                                  bundle_manifest *m, sealm_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sealm_error_set(err, SEALM_E_IO, "%s: cannot open (%s)", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
        close(fd);
        return sealm_error_set(err, SEALM_E_IO, "%s: not a non-empty regular file", path);
    }
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return sealm_error_set(err, SEALM_E_IO, "%s: cannot map (%s)", path, strerror(errno));
    *map = p;
    *len = (size_t)sb.st_size;
    bundle_trust t = {trust_nobody, 0, NULL};
    sealm_status st = bundle_verify_core(*map, *len, &t, NULL, v, m, err);
    if (st != SEALM_OK) {
        munmap(p, *len);
        *map = NULL;
    }
    return st;
}

/* Opens the content key with holder's entry in the ORIGINAL list and checks it against the
 * manifest's key commitment, so a forged entry can never spread a wrong key. */
static sealm_status content_key(const bundle_view *v, const bundle_manifest *m, const sealm_key *holder,
                                uint8_t *key, sealm_error *err) {
    if (!holder || sealm_key_kind_of(holder) != SEALM_KEY_DEVICE)
        return sealm_error_set(err, SEALM_E_INVALID,
                               "adding recipients needs the device key of a current recipient "
                               "(it opens the content key); give --device-key");
    uint8_t pk[32];
    sealm_key_public(holder, pk);
    const uint8_t *entry = NULL;
    for (uint32_t i = 0; i < v->n_recipients && !entry; i++)
        if (memcmp(v->recipients + (size_t)i * BUNDLE_RECIPIENT_ENTRY_LEN, pk, 32) == 0)
            entry = v->recipients + (size_t)i * BUNDLE_RECIPIENT_ENTRY_LEN;
    if (!entry) {
        char id[SEALM_KEY_ID_LEN + 1];
        sealm_key_id_of(pk, id);
        return sealm_error_set(err, SEALM_E_RECIPIENT,
                               "device key %s is not a recipient of this bundle, so it cannot open the "
                               "content key; use the key of a device the bundle is sealed to", id);
    }
    sealm_status st = sealm_key_unseal(holder, entry + 32, BUNDLE_WRAP_LEN, key, err);
    if (st != SEALM_OK) return st;
    uint8_t commit[32];
    bundle_key_commitment(key, commit);
    if (sodium_memcmp(commit, m->key_commitment, 32) != 0)
        return sealm_error_set(err, SEALM_E_AUTH,
                               "this device's wrapped content key does not match the manifest's key "
                               "commitment: the recipient entry was tampered with");
    return SEALM_OK;
}

static sealm_status apply_removals(recipient_list *l, const uint8_t (*remove)[32], size_t n_remove,
                                   sealm_error *err) {
    for (size_t i = 0; i < n_remove; i++) {
        ptrdiff_t at = find_recipient(l, remove[i]);
        if (at < 0) {
            char id[SEALM_KEY_ID_LEN + 1];
            sealm_key_id_of(remove[i], id);
            return sealm_error_set(err, SEALM_E_NOT_FOUND, "device key %s is not a recipient of this bundle", id);
        }
        uint8_t *e = l->entries + (size_t)at * BUNDLE_RECIPIENT_ENTRY_LEN;
        memmove(e, e + BUNDLE_RECIPIENT_ENTRY_LEN, (l->n - (size_t)at - 1) * BUNDLE_RECIPIENT_ENTRY_LEN);
        l->n--;
    }
    return SEALM_OK;
}

static sealm_status apply_additions(recipient_list *l, const uint8_t (*add)[32], size_t n_add,
                                    const uint8_t *key, sealm_error *err) {
    for (size_t i = 0; i < n_add; i++) {
        char id[SEALM_KEY_ID_LEN + 1];
        sealm_key_id_of(add[i], id);
        if (find_recipient(l, add[i]) >= 0)
            return sealm_error_set(err, SEALM_E_INVALID, "device key %s is already a recipient", id);
        if (l->n == SEALM_BUNDLE_MAX_RECIPIENTS)
            return sealm_error_set(err, SEALM_E_INVALID, "a bundle holds at most %u recipients",
                                   SEALM_BUNDLE_MAX_RECIPIENTS);
        uint8_t *e = l->entries + l->n * BUNDLE_RECIPIENT_ENTRY_LEN;
        memcpy(e, add[i], 32);
        if (crypto_box_seal(e + 32, key, 32, add[i]) != 0)
            return sealm_error_set(err, SEALM_E_INVALID, "device public key %s is not a valid X25519 key", id);
        l->n++;
    }
    return SEALM_OK;
}

/* Writes: every byte up to the recipient count unchanged | new count and entries | payload
 * length and payload unchanged | trailer with the new total length. */
static sealm_status write_bundle(const char *out_path, bool overwrite, const uint8_t *map, const bundle_view *v,
                                 const recipient_list *l, sealm_error *err) {
    size_t head_len = (size_t)(v->recipients - 4 - map);
    uint8_t count[4], plen[8], trailer[BUNDLE_TRAILER_LEN];
    bundle_wr32(count, (uint32_t)l->n);
    bundle_wr64(plen, v->payload_len);
    size_t entries_len = l->n * BUNDLE_RECIPIENT_ENTRY_LEN;
    uint64_t total = head_len + 4 + entries_len + 8 + v->payload_len + BUNDLE_TRAILER_LEN;
    memcpy(trailer, BUNDLE_TRAILER_MAGIC, 8);
    bundle_wr64(trailer + 8, total);
    const void *pieces[6] = {map, count, l->entries, plen, map + v->payload_offset, trailer};
    size_t lens[6] = {head_len, 4, entries_len, 8, (size_t)v->payload_len, BUNDLE_TRAILER_LEN};
    return sealm_file_write_atomic(out_path, pieces, lens, 6, 0644, overwrite, err);
}

sealm_status sealm_bundle_recipients_edit(const char *in_path, const char *out_path, bool overwrite,
                                          const sealm_key *holder, const uint8_t (*add)[32], size_t n_add,
                                          const uint8_t (*remove)[32], size_t n_remove, sealm_error *err) {
    if (sodium_init() < 0) return sealm_error_set(err, SEALM_E_NOMEM, "libsodium could not initialize");
    if (!in_path || !out_path || (n_add && !add) || (n_remove && !remove) || n_add + n_remove == 0 ||
        n_add > SEALM_BUNDLE_MAX_RECIPIENTS || n_remove > SEALM_BUNDLE_MAX_RECIPIENTS)
        return sealm_error_set(err, SEALM_E_INVALID,
                               "give a bundle, an output path and 1..%u device keys to add or remove",
                               SEALM_BUNDLE_MAX_RECIPIENTS);
    const uint8_t *map = NULL;
    size_t map_len = 0;
    bundle_view v;
    bundle_manifest *m = calloc(1, sizeof *m);
    recipient_list l = {calloc((size_t)SEALM_BUNDLE_MAX_RECIPIENTS + n_add, BUNDLE_RECIPIENT_ENTRY_LEN), 0};
    uint8_t *key = sodium_malloc(32);
    sealm_status st = SEALM_OK;
    if (!m || !l.entries || !key) {
        st = sealm_error_set(err, SEALM_E_NOMEM, "out of memory while editing recipients");
        goto done;
    }
    if ((st = map_and_check(in_path, &map, &map_len, &v, m, err))) goto done;
    memcpy(l.entries, v.recipients, (size_t)v.n_recipients * BUNDLE_RECIPIENT_ENTRY_LEN);
    l.n = v.n_recipients;
    if (n_add && (st = content_key(&v, m, holder, key, err))) goto done;
    if ((st = apply_removals(&l, remove, n_remove, err))) goto done;
    if ((st = apply_additions(&l, add, n_add, key, err))) goto done;
    if (l.n == 0) {
        st = sealm_error_set(err, SEALM_E_INVALID,
                             "removing every recipient would leave a bundle nobody can open; keep at least one");
        goto done;
    }
    st = write_bundle(out_path, overwrite, map, &v, &l, err);
done:
    if (map) munmap((void *)map, map_len);
    if (key) sodium_free(key); /* wipes the content key */
    free(l.entries);
    free(m);
    return st;
}
