/* Reading key and trust files safely, and writing them atomically.
 *
 * Reads go through one open file descriptor (fstat on the fd, not stat on the path, so the
 * mode we check is the mode of the file we read). Writes never leave a half-written file at
 * the final path: temp file in the same directory → write → fsync → rename/link → fsync dir. */
#include "keys_internal.h"
#include "common/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

sealm_status sealm_keys_sodium_ready(sealm_error *err) {
    if (sodium_init() < 0)
        return sealm_error_set(err, SEALM_E_NOMEM, "libsodium could not be initialized");
    return SEALM_OK;
}

static void *file_alloc(size_t n, bool secure) {
    return secure ? sodium_malloc(n) : malloc(n);
}

void sealm_keys_file_free(sealm_keys_file *f) {
    if (!f || !f->data) return;
    if (f->secure) {
        sodium_free(f->data);   /* wipes before unmapping */
    } else {
        free(f->data);
    }
    f->data = NULL;
    f->len = 0;
}

/* Secret files: same owner as us and no group/other bits at all (0600 or 0400 exactly). */
static sealm_status check_private(const char *path, const struct stat *st, sealm_error *err) {
    mode_t perm = st->st_mode & 07777;
    if (st->st_uid != geteuid())
        return sealm_error_set(err, SEALM_E_PERMISSION,
                               "%s: secret key file is owned by uid %ld, not by this user (uid %ld); "
                               "it must belong to the user that loads it (chown, then chmod 600 %s)",
                               path, (long)st->st_uid, (long)geteuid(), path);
    if (perm != 0600 && perm != 0400)
        return sealm_error_set(err, SEALM_E_PERMISSION,
                               "%s: secret key file has mode %04o; it must be readable by its owner "
                               "only: run `chmod 600 %s`",
                               path, (unsigned)perm, path);
    return SEALM_OK;
}

static sealm_status read_all(int fd, const char *path, char *buf, size_t want, sealm_error *err) {
    size_t got = 0;
    while (got < want) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            return sealm_error_set(err, SEALM_E_IO, "%s: read failed: %s", path, strerror(errno));
        if (n == 0)
            return sealm_error_set(err, SEALM_E_IO, "%s: file shrank while being read; retry", path);
        got += (size_t)n;
    }
    return SEALM_OK;
}

sealm_status sealm_keys_read_file(const char *path, const sealm_keys_read_opts *opts,
                                  sealm_keys_file *f, sealm_error *err) {
    f->data = NULL;
    f->len = 0;
    f->secure = opts->secure;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT && opts->missing_ok) return SEALM_E_NOT_FOUND;
        return sealm_error_set(err, SEALM_E_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    sealm_status rc = SEALM_OK;
    if (fstat(fd, &st) != 0) {
        rc = sealm_error_set(err, SEALM_E_IO, "%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = sealm_error_set(err, SEALM_E_FORMAT, "%s: not a regular file", path);
    } else if (opts->require_private) {
        rc = check_private(path, &st, err);
    } else if (opts->refuse_writable && (st.st_mode & 0022)) {
        rc = sealm_error_set(err, SEALM_E_PERMISSION,
                             "%s: file is writable by group or others (mode %04o); anyone who can "
                             "write it decides which models run: run `chmod 644 %s`",
                             path, (unsigned)(st.st_mode & 07777), path);
    }
    if (rc == SEALM_OK && (uint64_t)st.st_size > opts->max_bytes)
        rc = sealm_error_set(err, SEALM_E_FORMAT, "%s: file is %lld bytes, more than the %zu a "
                             "valid file can have; is this the right file?",
                             path, (long long)st.st_size, opts->max_bytes);
    if (rc == SEALM_OK) {
        size_t size = (size_t)st.st_size;
        f->data = file_alloc(size + 1, opts->secure);
        if (!f->data) {
            rc = sealm_error_set(err, SEALM_E_NOMEM, "%s: out of (secure) memory reading %zu bytes",
                                 path, size);
        } else {
            rc = read_all(fd, path, f->data, size, err);
            f->data[size] = '\0';
            f->len = size;
        }
    }
    close(fd);
    if (rc != SEALM_OK) sealm_keys_file_free(f);
    return rc;
}

sealm_status sealm_keys_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                                     bool overwrite, sealm_error *err) {
    const void *pieces[1] = {data};
    return sealm_file_write_atomic(path, pieces, &len, 1, mode, overwrite, err);
}
