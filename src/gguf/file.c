/* Opening a GGUF file: a read-only private mapping parsed in place, and closing a handle. */
#include "gguf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Prefixes err's message with the path, so the user knows which file it is about. */
static sealm_status with_path(sealm_error *err, sealm_status code, const char *path) {
    if (!err) return code;
    char message[sizeof err->message];
    memcpy(message, err->message, sizeof message);
    message[sizeof message - 1] = '\0';
    return sealm_error_set(err, code, "%s: %s", path, message);
}

/* Maps the whole regular file at path read-only. */
static sealm_status map_file(const char *path, void **map, size_t *len, sealm_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sealm_error_set(err, SEALM_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return sealm_error_set(err, SEALM_E_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return sealm_error_set(err, SEALM_E_IO, "%s: not a regular file; give the path of a .gguf file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return sealm_error_set(err, SEALM_E_FORMAT, "%s: file is empty (0 bytes); a GGUF file starts with 'GGUF'",
                               path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return sealm_error_set(err, SEALM_E_IO, "%s: file of %lld bytes is too large to map on this system", path,
                               (long long)st.st_size);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping keeps the file's pages reachable on its own */
    if (p == MAP_FAILED)
        return sealm_error_set(err, SEALM_E_IO, "%s: cannot map %lld bytes: %s", path, (long long)st.st_size,
                               strerror(e));
    *map = p;
    *len = (size_t)st.st_size;
    return SEALM_OK;
}

sealm_status sealm_gguf_open_file(const char *path, sealm_gguf **out, sealm_error *err) {
    if (out) *out = NULL;
    if (!path || !out)
        return sealm_error_set(err, SEALM_E_INVALID, "sealm_gguf_open_file: %s is NULL", path ? "out" : "path");
    void *map = NULL;
    size_t len = 0;
    sealm_status st = map_file(path, &map, &len, err);
    if (st != SEALM_OK) return st;
    sealm_gguf *g;
    st = sealm_gguf_open_memory(map, len, &g, err);
    if (st != SEALM_OK) {
        munmap(map, len);
        return with_path(err, st, path);
    }
    g->mapping = map;
    g->mapping_len = len;
    *out = g;
    return SEALM_OK;
}

void sealm_gguf_close(sealm_gguf *g) {
    if (!g) return;
    if (g->mapping) munmap(g->mapping, g->mapping_len);
    free(g->kvs);
    free(g->kv_by_key);
    free(g->tensors);
    free(g->tensor_by_name);
    free(g->str_pos);
    free(g);
}
