/* Opening: verify (verify.c), find this device's wrapped content key, unwrap it through the
 * key provider, then decrypt the stream chunk by chunk straight into one buffer of exactly
 * the plaintext size that is mlock'd (never swapped out) and MADV_DONTDUMP (never in a core
 * dump), with the process itself made non-dumpable. Plaintext is never anywhere else. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle_internal.h"

struct sealm_bundle_image {
    uint8_t *data;          /* page-aligned anonymous mapping, map_len bytes, locked */
    size_t size;            /* plaintext bytes */
    size_t map_len;
    sealm_bundle_info info;
};

/* ---- process hardening, once ---- */
static pthread_once_t harden_once = PTHREAD_ONCE_INIT;
static int harden_errno;

static void harden_process(void) {
    struct rlimit no_core = {0, 0};
    if (setrlimit(RLIMIT_CORE, &no_core) != 0) harden_errno = errno;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) harden_errno = errno;
}

/* ---- locked memory ---- */
static void locked_free(uint8_t *p, size_t map_len) {
    if (!p) return;
    mprotect(p, map_len, PROT_READ | PROT_WRITE);
    sodium_memzero(p, map_len);
    munlock(p, map_len);
    munmap(p, map_len);
}

static sealm_status locked_alloc(size_t size, uint8_t **out, size_t *map_len, sealm_error *err) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (size > SIZE_MAX - page) return sealm_error_set(err, SEALM_E_NOMEM, "model too large for this device");
    *map_len = (size + page - 1) / page * page;
    void *p = mmap(NULL, *map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return sealm_error_set(err, SEALM_E_NOMEM, "cannot reserve %zu bytes for the model (%s)", size, strerror(errno));
    if (madvise(p, *map_len, MADV_DONTDUMP) != 0) {
        int e = errno;
        munmap(p, *map_len);
        return sealm_error_set(err, SEALM_E_NOMEM, "cannot exclude model memory from core dumps (%s)", strerror(e));
    }
    if (mlock(p, *map_len) != 0) {
        int e = errno;
        munmap(p, *map_len);
        return sealm_error_set(err, SEALM_E_NOMEM,
                               "cannot lock %zu bytes of model memory (%s): raise the locked-memory "
                               "limit (`ulimit -l`, LimitMEMLOCK= in the service unit)", *map_len, strerror(e));
    }
    *out = p;
    return SEALM_OK;
}

/* Finds the recipient entry for this device's public key. */
static const uint8_t *find_wrapped_key(const bundle_view *v, const uint8_t pk[32]) {
    for (uint32_t i = 0; i < v->n_recipients; i++) {
        const uint8_t *e = v->recipients + (size_t)i * BUNDLE_RECIPIENT_ENTRY_LEN;
        if (memcmp(e, pk, 32) == 0) return e + 32;
    }
    return NULL;
}

static sealm_status unwrap_key(const bundle_view *v, const bundle_manifest *m, const bundle_unsealer *dev,
                               uint8_t *key, sealm_error *err) {
    char id[SEALM_KEY_ID_LEN + 1];
    sealm_key_id_of(dev->pk, id);
    const uint8_t *wrapped = find_wrapped_key(v, dev->pk);
    if (!wrapped)
        return sealm_error_set(err, SEALM_E_RECIPIENT,
                               "bundle \"%s\" is not sealed for this device (key %s); it is sealed for %u "
                               "other device(s): send the publisher this device's public key",
                               m->info.name, id, v->n_recipients);
    sealm_status st = dev->unseal(dev->ctx, wrapped, BUNDLE_WRAP_LEN, key, err);
    if (st == SEALM_E_AUTH)
        return sealm_error_set(err, SEALM_E_AUTH,
                               "the content key wrapped for this device (key %s) does not open: the "
                               "recipient entry was altered; ask the publisher for a fresh bundle", id);
    if (st != SEALM_OK) return st;
    uint8_t commit[32];
    bundle_key_commitment(key, commit);
    if (sodium_memcmp(commit, m->key_commitment, 32) != 0)
        return sealm_error_set(err, SEALM_E_AUTH,
                               "the content key wrapped for this device (key %s) is not the one the signed "
                               "manifest commits to; the bundle was altered", id);
    return SEALM_OK;
}

/* Decrypts every chunk in order into dst, hashing the plaintext as it goes. Tags: MESSAGE
 * for every chunk but the last, FINAL for the last: a missing, extra, reordered or swapped
 * chunk fails authentication here even if the ciphertext hash were not checked (or the file
 * changed after it was). A payload in a file is read one chunk at a time. */
static sealm_status decrypt_stream(const bundle_view *v, const bundle_manifest *m, const uint8_t *key,
                                   uint8_t *dst, sealm_error *err) {
    uint64_t size = m->info.payload_size_bytes, chunk = m->info.chunk_size_bytes, index = 0;
    crypto_secretstream_xchacha20poly1305_state *state = sodium_malloc(sizeof *state);
    uint8_t *scratch = v->fd >= 0 ? malloc((size_t)chunk + BUNDLE_CHUNK_OVERHEAD) : NULL;
    if (!state || (v->fd >= 0 && !scratch)) {
        sodium_free(state);
        free(scratch);
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    }
    uint8_t ad[32], hash[32];
    bundle_stream_ad(m, ad);
    crypto_generichash_state hs;
    crypto_generichash_init(&hs, NULL, 0, 32);
    sealm_status st = SEALM_OK;
    const uint8_t *header = bundle_payload_bytes(v, 0, BUNDLE_STREAM_HEADER_LEN, scratch, err);
    if (!header)
        st = SEALM_E_IO;
    else if (crypto_secretstream_xchacha20poly1305_init_pull(state, header, key) != 0)
        st = sealm_error_set(err, SEALM_E_AUTH, "payload stream header is invalid");
    uint64_t at = BUNDLE_STREAM_HEADER_LEN;
    for (uint64_t off = 0; st == SEALM_OK && off < size; off += chunk, index++) {
        uint64_t n = size - off < chunk ? size - off : chunk;
        unsigned long long got = 0;
        uint8_t tag = 0;
        bool last = off + n == size;
        const uint8_t *c = bundle_payload_bytes(v, at, (size_t)n + BUNDLE_CHUNK_OVERHEAD, scratch, err);
        if (!c)
            st = SEALM_E_IO;
        else if (crypto_secretstream_xchacha20poly1305_pull(state, dst + off, &got, &tag, c, n + BUNDLE_CHUNK_OVERHEAD,
                                                            ad, sizeof ad) != 0 || got != n)
            st = sealm_error_set(err, SEALM_E_AUTH, "payload chunk %llu of %llu failed authentication: tampered",
                                 (unsigned long long)index + 1, (unsigned long long)m->info.n_chunks);
        else if (tag != (last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                              : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE))
            st = sealm_error_set(err, SEALM_E_AUTH, "payload chunk %llu of %llu has the wrong stream tag: "
                                 "chunks were cut, reordered or added", (unsigned long long)index + 1,
                                 (unsigned long long)m->info.n_chunks);
        else
            crypto_generichash_update(&hs, dst + off, n);
        at += n + BUNDLE_CHUNK_OVERHEAD;
    }
    crypto_generichash_final(&hs, hash, sizeof hash);
    if (st == SEALM_OK && sodium_memcmp(hash, m->info.payload_hash, 32) != 0)
        st = sealm_error_set(err, SEALM_E_AUTH, "decrypted model does not match the plaintext hash in the signed manifest");
    sodium_free(state);
    free(scratch);
    return st;
}

/* The ciphertext hash, run in a second thread while the first decrypts: both passes read
 * the same payload, and on a multi-core device they overlap instead of adding up. Nothing
 * is parsed or returned until both have passed, so the order of the checks does not matter
 * for safety: a changed chunk fails either its AEAD tag or this hash (SEALM_E_AUTH both). */
typedef struct ciphertext_job {
    const bundle_view *view;
    const bundle_manifest *manifest;
    sealm_status status;
    sealm_error err;
} ciphertext_job;

static void *ciphertext_job_run(void *arg) {
    ciphertext_job *job = arg;
    job->status = bundle_check_ciphertext(job->view, job->manifest, &job->err);
    return NULL;
}

/* Decrypts into dst while the ciphertext hash runs beside it (in this thread if no second
 * thread can be started). The decryption's error wins: it names the failing chunk. */
static sealm_status decrypt_and_hash(const bundle_view *v, const bundle_manifest *m, const uint8_t *key,
                                     uint8_t *dst, sealm_error *err) {
    ciphertext_job job = {v, m, SEALM_OK, {0}};
    pthread_t thread;
    bool threaded = pthread_create(&thread, NULL, ciphertext_job_run, &job) == 0;
    if (!threaded) ciphertext_job_run(&job);
    sealm_status st = (!threaded && job.status != SEALM_OK) ? SEALM_OK : decrypt_stream(v, m, key, dst, err);
    if (threaded) pthread_join(thread, NULL);
    if (st == SEALM_OK && job.status != SEALM_OK) {
        if (err) *err = job.err;
        st = job.status;
    }
    return st;
}

sealm_status bundle_open_view(const bundle_view *v, const bundle_trust *trust,
                              const bundle_unsealer *device, sealm_bundle_rollback *rollback,
                              sealm_bundle_image **out, sealm_error *err) {
    if (!out) return sealm_error_set(err, SEALM_E_INVALID, "no place for the image");
    *out = NULL;
    if (!trust || !device || !rollback || trust->threshold == 0)
        return sealm_error_set(err, SEALM_E_INVALID, "opening a bundle needs a trust store, a device key and the anti-rollback state");
    pthread_once(&harden_once, harden_process);
    if (harden_errno)
        return sealm_error_set(err, SEALM_E_IO, "cannot disable core dumps for this process (%s)", strerror(harden_errno));

    bundle_manifest *m = malloc(sizeof *m);
    sealm_bundle_image *img = calloc(1, sizeof *img);
    uint8_t *key = sodium_malloc(32);
    sealm_status st = SEALM_OK;
    if (!m || !img || !key) st = sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    if (st == SEALM_OK) st = bundle_verify_view(v, trust, rollback, false, m, err);
    if (st == SEALM_OK) st = unwrap_key(v, m, device, key, err);
    if (st == SEALM_OK) st = locked_alloc((size_t)m->info.payload_size_bytes, &img->data, &img->map_len, err);
    if (st == SEALM_OK) st = decrypt_and_hash(v, m, key, img->data, err);
    sodium_free(key); /* wipes; NULL is a no-op */
    if (st == SEALM_OK && mprotect(img->data, img->map_len, PROT_READ) != 0)
        st = sealm_error_set(err, SEALM_E_NOMEM, "cannot make model memory read-only (%s)", strerror(errno));
    /* The floor rises only for a bundle that decrypted and hashed correctly. */
    if (st == SEALM_OK) st = sealm_bundle_rollback_accept(rollback, m->info.name, m->info.version, err);
    if (st == SEALM_OK) {
        img->size = (size_t)m->info.payload_size_bytes;
        img->info = m->info;
        *out = img;
    } else if (img) {
        locked_free(img->data, img->map_len);
        free(img);
    }
    free(m);
    return st;
}

sealm_status bundle_open_core(const uint8_t *bundle, size_t len, const bundle_trust *trust,
                              const bundle_unsealer *device, sealm_bundle_rollback *rollback,
                              sealm_bundle_image **out, sealm_error *err) {
    if (out) *out = NULL;
    if (sodium_init() < 0) return sealm_error_set(err, SEALM_E_NOMEM, "libsodium could not initialize");
    if (!bundle) return sealm_error_set(err, SEALM_E_INVALID, "no bundle bytes given");
    bundle_view v;
    sealm_status st = bundle_frame(bundle, len, &v, err);
    return st == SEALM_OK ? bundle_open_view(&v, trust, device, rollback, out, err) : st;
}

static sealm_status key_unseal(const void *ctx, const uint8_t *sealed, size_t len, uint8_t *out, sealm_error *err) {
    return sealm_key_unseal((const sealm_key *)ctx, sealed, len, out, err);
}

static sealm_trust_status store_check(const void *ctx, const uint8_t pk[32]) {
    return sealm_trust_check((const sealm_trust_store *)ctx, pk);
}

/* The key-provider records for the public functions. */
static sealm_status key_records(const sealm_trust_store *trust, const sealm_key *device_key,
                                bundle_trust *t, bundle_unsealer *dev, sealm_error *err) {
    if (!trust || !device_key)
        return sealm_error_set(err, SEALM_E_INVALID, "opening a bundle needs a trust store and a device key");
    if (sealm_key_kind_of(device_key) != SEALM_KEY_DEVICE)
        return sealm_error_set(err, SEALM_E_INVALID, "the key given to open a bundle is not a device key");
    uint32_t threshold = sealm_trust_threshold(trust);
    *t = (bundle_trust){store_check, threshold ? threshold : 1, trust};
    *dev = (bundle_unsealer){.unseal = key_unseal, .ctx = device_key};
    sealm_key_public(device_key, dev->pk);
    return SEALM_OK;
}

sealm_status sealm_bundle_open(const uint8_t *bundle, size_t len, const sealm_trust_store *trust,
                               const sealm_key *device_key, sealm_bundle_rollback *rollback,
                               sealm_bundle_image **out, sealm_error *err) {
    if (out) *out = NULL;
    bundle_trust t;
    bundle_unsealer dev;
    sealm_status st = key_records(trust, device_key, &t, &dev, err);
    return st == SEALM_OK ? bundle_open_core(bundle, len, &t, &dev, rollback, out, err) : st;
}

sealm_status sealm_bundle_open_file(const char *path, const sealm_trust_store *trust,
                                    const sealm_key *device_key, sealm_bundle_rollback *rollback,
                                    sealm_bundle_image **out, sealm_error *err) {
    if (out) *out = NULL;
    if (!path) return sealm_error_set(err, SEALM_E_INVALID, "no bundle path given");
    bundle_trust t;
    bundle_unsealer dev;
    sealm_status st = key_records(trust, device_key, &t, &dev, err);
    if (st != SEALM_OK) return st;
    if (sodium_init() < 0) return sealm_error_set(err, SEALM_E_NOMEM, "libsodium could not initialize");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sealm_error_set(err, SEALM_E_IO, "%s: cannot open (%s)", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return sealm_error_set(err, SEALM_E_IO, "%s: not a readable regular file", path);
    }
    /* Only the sections before the payload are read whole (at most ~94 KiB); the payload is
     * read chunk by chunk, so a load holds the plaintext and one chunk, not the bundle. */
    uint8_t *prefix = NULL;
    bundle_view v;
    st = bundle_frame_file(fd, (uint64_t)sb.st_size, &prefix, &v, err);
    if (st == SEALM_OK) st = bundle_open_view(&v, &t, &dev, rollback, out, err);
    free(prefix);
    close(fd);
    return st;
}

const uint8_t *sealm_bundle_image_data(const sealm_bundle_image *img, size_t *len) {
    if (len) *len = img ? img->size : 0;
    return img ? img->data : NULL;
}

const sealm_bundle_info *sealm_bundle_image_info(const sealm_bundle_image *img) {
    return img ? &img->info : NULL;
}

void sealm_bundle_image_free(sealm_bundle_image *img) {
    if (!img) return;
    locked_free(img->data, img->map_len);
    sodium_memzero(img, sizeof *img);
    free(img);
}
