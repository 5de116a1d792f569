/* The container's framing: header, length-prefixed sections, trailer; for bytes in memory or
 * for a file whose payload stays on disk until it is read chunk by chunk. Only lengths and
 * counts are read here, each bounded before it is used; section contents are left to the
 * signature check (verify.c) and the strict manifest parser (manifest.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle/bundle_internal.h"

/* A cursor over the untrusted bytes: every take checks the room left first. */
typedef struct frame_cursor {
    const uint8_t *p;
    size_t left;
} frame_cursor;

static const uint8_t *take(frame_cursor *c, uint64_t n) {
    if (n > c->left) return NULL;
    const uint8_t *at = c->p;
    c->p += n;
    c->left -= (size_t)n;
    return at;
}

static sealm_status truncated(sealm_error *err, const char *what) {
    return sealm_error_set(err, SEALM_E_FORMAT,
                           "bundle is truncated: it ends inside the %s; the file is incomplete "
                           "or damaged, copy it again from the publisher", what);
}

/* Parses header through payload length from the first avail bytes of a bundle of total_len
 * bytes, and checks that the payload and trailer fit exactly in what remains. */
static sealm_status frame_prefix(const uint8_t *bundle, size_t avail, uint64_t total_len, bundle_view *v,
                                 sealm_error *err) {
    memset(v, 0, sizeof *v);
    v->fd = -1;
    frame_cursor c = {bundle, avail};

    const uint8_t *h = take(&c, BUNDLE_HEADER_LEN);
    if (!h) return truncated(err, "header");
    if (memcmp(h, BUNDLE_MAGIC, 8) != 0)
        return sealm_error_set(err, SEALM_E_FORMAT, "not a sealm bundle (bad magic in the header)");
    uint32_t version = bundle_rd32(h + 8), flags = bundle_rd32(h + 12);
    if (version != SEALM_BUNDLE_FORMAT_VERSION)
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "bundle format version %u is not the supported version %u; "
                               "reseal it with a matching sealm", version, SEALM_BUNDLE_FORMAT_VERSION);
    if (flags != 0)
        return sealm_error_set(err, SEALM_E_FORMAT, "bundle header flags 0x%08x are unknown (must be 0)", flags);
    v->header = h;

    const uint8_t *n = take(&c, 4);
    if (!n) return truncated(err, "manifest length");
    v->manifest_len = bundle_rd32(n);
    if (v->manifest_len < BUNDLE_MANIFEST_MIN || v->manifest_len > BUNDLE_MANIFEST_MAX)
        return sealm_error_set(err, SEALM_E_FORMAT, "manifest length %u is outside %u..%u bytes",
                               v->manifest_len, BUNDLE_MANIFEST_MIN, BUNDLE_MANIFEST_MAX);
    if (!(v->manifest = take(&c, v->manifest_len))) return truncated(err, "manifest");

    if (!(n = take(&c, 4))) return truncated(err, "signature count");
    v->n_signatures = bundle_rd32(n);
    if (v->n_signatures < 1 || v->n_signatures > SEALM_BUNDLE_MAX_SIGNATURES)
        return sealm_error_set(err, SEALM_E_FORMAT, "signature count %u is outside 1..%u",
                               v->n_signatures, SEALM_BUNDLE_MAX_SIGNATURES);
    if (!(v->signatures = take(&c, (uint64_t)v->n_signatures * BUNDLE_SIG_ENTRY_LEN)))
        return truncated(err, "signatures");

    if (!(n = take(&c, 4))) return truncated(err, "recipient count");
    v->n_recipients = bundle_rd32(n);
    if (v->n_recipients < 1 || v->n_recipients > SEALM_BUNDLE_MAX_RECIPIENTS)
        return sealm_error_set(err, SEALM_E_FORMAT, "recipient count %u is outside 1..%u",
                               v->n_recipients, SEALM_BUNDLE_MAX_RECIPIENTS);
    if (!(v->recipients = take(&c, (uint64_t)v->n_recipients * BUNDLE_RECIPIENT_ENTRY_LEN)))
        return truncated(err, "recipients");

    if (!(n = take(&c, 8))) return truncated(err, "payload length");
    v->payload_len = bundle_rd64(n);
    if (v->payload_len < BUNDLE_STREAM_HEADER_LEN + BUNDLE_CHUNK_OVERHEAD + 1)
        return sealm_error_set(err, SEALM_E_FORMAT, "payload length %llu is too small to hold one chunk",
                               (unsigned long long)v->payload_len);
    v->payload_offset = (uint64_t)(avail - c.left);
    uint64_t rest = total_len - v->payload_offset;
    if (v->payload_len > rest) return truncated(err, "payload");
    if (rest - v->payload_len < BUNDLE_TRAILER_LEN) return truncated(err, "trailer");
    return SEALM_OK;
}

/* The trailer: an end marker and the total length, which must be the bundle's own. */
static sealm_status check_trailer(const uint8_t *t, uint64_t trailer_at, uint64_t total_len, sealm_error *err) {
    if (memcmp(t, BUNDLE_TRAILER_MAGIC, 8) != 0)
        return sealm_error_set(err, SEALM_E_FORMAT, "bundle trailer is damaged (bad end marker)");
    if (bundle_rd64(t + 8) != total_len || trailer_at + BUNDLE_TRAILER_LEN != total_len)
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "bundle is %llu bytes but its trailer records %llu: bytes were added "
                               "or removed; copy it again from the publisher",
                               (unsigned long long)total_len, (unsigned long long)bundle_rd64(t + 8));
    return SEALM_OK;
}

sealm_status bundle_frame(const uint8_t *bundle, size_t len, bundle_view *v, sealm_error *err) {
    sealm_status st = frame_prefix(bundle, len, len, v, err);
    if (st != SEALM_OK) return st;
    v->payload = bundle + v->payload_offset;
    uint64_t trailer_at = v->payload_offset + v->payload_len;
    return check_trailer(bundle + trailer_at, trailer_at, len, err);
}

static bool read_at(int fd, uint64_t off, uint8_t *buf, size_t n) {
    while (n > 0) {
        ssize_t r = pread(fd, buf, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        buf += r;
        off += (uint64_t)r;
        n -= (size_t)r;
    }
    return true;
}

sealm_status bundle_frame_file(int fd, uint64_t file_len, uint8_t **prefix, bundle_view *v, sealm_error *err) {
    size_t avail = file_len < BUNDLE_PREFIX_MAX ? (size_t)file_len : BUNDLE_PREFIX_MAX;
    *prefix = malloc(avail ? avail : 1);
    if (!*prefix) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    if (!read_at(fd, 0, *prefix, avail))
        return sealm_error_set(err, SEALM_E_IO, "cannot read the bundle (%s)", strerror(errno));
    sealm_status st = frame_prefix(*prefix, avail, file_len, v, err);
    if (st != SEALM_OK) return st;
    uint8_t t[BUNDLE_TRAILER_LEN];
    uint64_t trailer_at = v->payload_offset + v->payload_len;
    if (!read_at(fd, trailer_at, t, sizeof t))
        return sealm_error_set(err, SEALM_E_IO, "cannot read the bundle's trailer (%s)", strerror(errno));
    if ((st = check_trailer(t, trailer_at, file_len, err)) != SEALM_OK) return st;
    v->fd = fd;
    return SEALM_OK;
}

const uint8_t *bundle_payload_bytes(const bundle_view *v, uint64_t pos, size_t n, uint8_t *scratch,
                                    sealm_error *err) {
    if (v->fd < 0) return v->payload + pos;
    if (!read_at(v->fd, v->payload_offset + pos, scratch, n)) {
        sealm_error_set(err, SEALM_E_IO, "cannot read the bundle's payload at byte %llu (%s)",
                        (unsigned long long)(v->payload_offset + pos), errno ? strerror(errno) : "file shrank");
        return NULL;
    }
    return scratch;
}

void bundle_sig_message_prefix(uint8_t out[BUNDLE_SIG_DOMAIN_LEN]) {
    memcpy(out, BUNDLE_SIG_DOMAIN, BUNDLE_SIG_DOMAIN_LEN); /* includes the NUL */
}

uint64_t bundle_n_chunks(uint64_t payload_size, uint32_t chunk_size) {
    return (payload_size + chunk_size - 1) / chunk_size;
}

/* Bytes of the encrypted stream: its header plus, per chunk, the plaintext and the
 * secretstream overhead (one encrypted tag byte and a 16-byte MAC). */
uint64_t bundle_ciphertext_len(uint64_t payload_size, uint32_t chunk_size) {
    return BUNDLE_STREAM_HEADER_LEN + payload_size +
           bundle_n_chunks(payload_size, chunk_size) * BUNDLE_CHUNK_OVERHEAD;
}

