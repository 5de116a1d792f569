/* Atomic file replacement: write a temp file in the same folder, fsync it, rename it over
 * the target, fsync the folder. A crash leaves either the old file or the new one, never a
 * mix; used for bundles and for the anti-rollback state. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle_internal.h"

static bool write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void fsync_folder(const char *path) {
    char *copy = strdup(path);
    if (!copy) return;
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* best effort: some file systems refuse fsync on folders */
        close(dfd);
    }
    free(copy);
}

sealm_status bundle_write_atomic(const char *path, const uint8_t *const *pieces, const size_t *lens,
                                 size_t n, unsigned mode, sealm_error *err) {
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return sealm_error_set(err, SEALM_E_IO, "%s: cannot create a temporary file next to it (%s)", path, strerror(e));
    }
    bool ok = fchmod(fd, (mode_t)mode) == 0;
    for (size_t i = 0; ok && i < n; i++) ok = write_all(fd, pieces[i], lens[i]);
    int e = errno;
    ok = ok && fsync(fd) == 0;
    if (!ok) e = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return sealm_error_set(err, SEALM_E_IO, "%s: cannot write (%s); the previous file, if any, is unchanged",
                               path, strerror(e));
    }
    free(tmp);
    fsync_folder(path);
    return SEALM_OK;
}
