/* Atomic file writes: temp file, write, fsync, rename (or link), fsync of the folder. */
#include "common/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { PATH_CAP = 4096 };

/* The folder holding path, for the temp file and the folder fsync. */
static sealm_status dir_of(const char *path, char *dir, size_t cap, sealm_error *err) {
    size_t n = strlen(path);
    if (n + 1 > cap) return sealm_error_set(err, SEALM_E_INVALID, "%s: path too long", path);
    memcpy(dir, path, n + 1);
    char *d = dirname(dir);   /* may return a pointer into dir or a static "." */
    if (d != dir) memmove(dir, d, strlen(d) + 1);
    return SEALM_OK;
}

static sealm_status write_fd_all(int fd, const char *path, const uint8_t *p, size_t len, sealm_error *err) {
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return sealm_error_set(err, SEALM_E_IO, "%s: write failed: %s", path, strerror(errno));
        p += w;
        len -= (size_t)w;
    }
    return SEALM_OK;
}

static sealm_status fsync_dir(const char *dir, sealm_error *err) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return sealm_error_set(err, SEALM_E_IO, "%s: cannot open the folder to fsync it: %s", dir, strerror(errno));
    int rc = fsync(dfd);
    int e = errno;
    close(dfd);
    if (rc != 0) return sealm_error_set(err, SEALM_E_IO, "%s: fsync of the folder failed: %s", dir, strerror(e));
    return SEALM_OK;
}

sealm_status sealm_file_write_atomic(const char *path, const void *const *pieces, const size_t *lens, size_t n,
                                     mode_t mode, bool overwrite, sealm_error *err) {
    char dir[PATH_CAP], tmp[PATH_CAP + 32];
    sealm_status rc = dir_of(path, dir, sizeof dir, err);
    if (rc != SEALM_OK) return rc;
    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >= (int)sizeof tmp)
        return sealm_error_set(err, SEALM_E_INVALID, "%s: path too long", path);
    if (!overwrite && access(path, F_OK) == 0)
        return sealm_error_set(err, SEALM_E_IO, "%s: file already exists; refusing to overwrite it "
                               "(move it away or choose another path)", path);
    int fd = mkostemp(tmp, O_CLOEXEC);   /* created 0600 */
    if (fd < 0)
        return sealm_error_set(err, SEALM_E_IO, "%s: cannot create a temporary file next to it: %s", path, strerror(errno));
    for (size_t i = 0; rc == SEALM_OK && i < n; i++) rc = write_fd_all(fd, tmp, pieces[i], lens[i], err);
    if (rc == SEALM_OK && fchmod(fd, mode) != 0)
        rc = sealm_error_set(err, SEALM_E_IO, "%s: chmod failed: %s", tmp, strerror(errno));
    if (rc == SEALM_OK && fsync(fd) != 0)
        rc = sealm_error_set(err, SEALM_E_IO, "%s: fsync failed: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == SEALM_OK)
        rc = sealm_error_set(err, SEALM_E_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (rc == SEALM_OK) {
        if (overwrite) {
            if (rename(tmp, path) != 0)
                rc = sealm_error_set(err, SEALM_E_IO, "%s: rename into place failed: %s; the previous file, if any, "
                                     "is unchanged", path, strerror(errno));
        } else if (link(tmp, path) != 0) {
            /* link() never replaces an existing file: no race with the access() check above */
            rc = errno == EEXIST
                ? sealm_error_set(err, SEALM_E_IO, "%s: file already exists; refusing to overwrite it "
                                  "(move it away or choose another path)", path)
                : sealm_error_set(err, SEALM_E_IO, "%s: cannot create: %s", path, strerror(errno));
        }
    }
    /* after rename the temp name is gone; after link (or a failure) it must be removed */
    if (rc != SEALM_OK || !overwrite) unlink(tmp);
    if (rc == SEALM_OK) rc = fsync_dir(dir, err);
    return rc;
}

/* ---- the same write, streamed ---- */

sealm_status sealm_atomic_file_begin(sealm_atomic_file *f, const char *path, bool overwrite, sealm_error *err) {
    f->fd = -1;
    f->overwrite = overwrite;
    if (strlen(path) + 1 > sizeof f->path) return sealm_error_set(err, SEALM_E_INVALID, "%s: path too long", path);
    memcpy(f->path, path, strlen(path) + 1);
    sealm_status rc = dir_of(path, f->dir, sizeof f->dir, err);
    if (rc != SEALM_OK) return rc;
    if (snprintf(f->tmp, sizeof f->tmp, "%s.tmp-XXXXXX", path) >= (int)sizeof f->tmp)
        return sealm_error_set(err, SEALM_E_INVALID, "%s: path too long", path);
    if (!overwrite && access(path, F_OK) == 0)
        return sealm_error_set(err, SEALM_E_IO, "%s: file already exists; refusing to overwrite it "
                               "(move it away or choose another path)", path);
    f->fd = mkostemp(f->tmp, O_CLOEXEC);
    if (f->fd < 0)
        return sealm_error_set(err, SEALM_E_IO, "%s: cannot create a temporary file next to it: %s", path, strerror(errno));
    return SEALM_OK;
}

sealm_status sealm_atomic_file_write(sealm_atomic_file *f, const void *p, size_t len, sealm_error *err) {
    if (f->fd < 0) return sealm_error_set(err, SEALM_E_INVALID, "%s: file not open for writing", f->path);
    return write_fd_all(f->fd, f->tmp, p, len, err);
}

void sealm_atomic_file_abort(sealm_atomic_file *f) {
    if (f->fd < 0) return;
    close(f->fd);
    unlink(f->tmp);
    f->fd = -1;
}

sealm_status sealm_atomic_file_commit(sealm_atomic_file *f, mode_t mode, sealm_error *err) {
    if (f->fd < 0) return sealm_error_set(err, SEALM_E_INVALID, "%s: file not open for writing", f->path);
    sealm_status rc = SEALM_OK;
    if (fchmod(f->fd, mode) != 0) rc = sealm_error_set(err, SEALM_E_IO, "%s: chmod failed: %s", f->tmp, strerror(errno));
    if (rc == SEALM_OK && fsync(f->fd) != 0)
        rc = sealm_error_set(err, SEALM_E_IO, "%s: fsync failed: %s", f->tmp, strerror(errno));
    if (close(f->fd) != 0 && rc == SEALM_OK)
        rc = sealm_error_set(err, SEALM_E_IO, "%s: close failed: %s", f->tmp, strerror(errno));
    f->fd = -1;
    if (rc == SEALM_OK) {
        if (f->overwrite) {
            if (rename(f->tmp, f->path) != 0)
                rc = sealm_error_set(err, SEALM_E_IO, "%s: rename into place failed: %s", f->path, strerror(errno));
        } else if (link(f->tmp, f->path) != 0) {
            rc = errno == EEXIST
                ? sealm_error_set(err, SEALM_E_IO, "%s: file already exists; refusing to overwrite it "
                                  "(move it away or choose another path)", f->path)
                : sealm_error_set(err, SEALM_E_IO, "%s: cannot create: %s", f->path, strerror(errno));
        }
    }
    if (rc != SEALM_OK || !f->overwrite) unlink(f->tmp);
    if (rc == SEALM_OK) rc = fsync_dir(f->dir, err);
    return rc;
}
