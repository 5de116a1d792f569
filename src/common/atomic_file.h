/* Library-internal (shared by the keys and bundle layers): writing a file so that a crash
 * leaves either the old file or the whole new one, never a mix or a half-written file. */
#ifndef SEALM_COMMON_ATOMIC_FILE_H
#define SEALM_COMMON_ATOMIC_FILE_H

#include "sealm/common.h"

#include <sys/types.h>

/* Writes the concatenation of pieces[0..n) (lens[i] bytes each) to path: a temp file
 * created 0600 next to it, written, chmod'ed to mode, fsync'ed, then renamed over path
 * (overwrite) or hard-linked to it (!overwrite: an existing path is never replaced, with no
 * window between the check and the link), and the folder fsync'ed.
 * Returns SEALM_OK, SEALM_E_IO (with the errno text; path keeps its old content, the temp
 * file is removed), SEALM_E_INVALID (path too long), SEALM_E_NOMEM. Thread-safe. */
sealm_status sealm_file_write_atomic(const char *path, const void *const *pieces, const size_t *lens, size_t n,
                                     mode_t mode, bool overwrite, sealm_error *err);

/* A file being written in pieces too large to hold in memory at once (e.g. a 1 GB model
 * written by `sealm synth`), with the same guarantees as sealm_file_write_atomic: the
 * bytes go to a temp file next to path, and only sealm_atomic_file_commit makes them
 * appear at path. Use: begin, write any number of times, then commit or abort (exactly
 * one of the two; both release the temp file). Not thread-safe per handle. */
typedef struct sealm_atomic_file {
    int fd;
    bool overwrite;
    char path[4096];
    char tmp[4096 + 32];
    char dir[4096];
} sealm_atomic_file;

/* Creates the temp file (0600). Returns SEALM_OK, SEALM_E_IO (path exists and !overwrite,
 * or the temp file cannot be created), SEALM_E_INVALID (path too long). */
sealm_status sealm_atomic_file_begin(sealm_atomic_file *f, const char *path, bool overwrite, sealm_error *err);
/* Appends len bytes. Returns SEALM_OK or SEALM_E_IO (the caller must still abort). */
sealm_status sealm_atomic_file_write(sealm_atomic_file *f, const void *p, size_t len, sealm_error *err);
/* chmod to mode, fsync, rename (overwrite) or link (!overwrite) into place, fsync the
 * folder. Returns SEALM_OK or SEALM_E_IO; the temp file is gone either way. */
sealm_status sealm_atomic_file_commit(sealm_atomic_file *f, mode_t mode, sealm_error *err);
/* Closes and removes the temp file; path is untouched. */
void sealm_atomic_file_abort(sealm_atomic_file *f);

#endif
