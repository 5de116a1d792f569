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

#endif
