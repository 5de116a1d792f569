/* sealm — status codes and the error record shared by every layer.
 *
 * Every fallible library function returns a sealm_status and, on failure, fills a
 * caller-provided sealm_error with a message a user can act on. Messages never contain
 * key material, prompt text or model bytes. The library never calls exit() or abort(). */
#ifndef SEALM_COMMON_H
#define SEALM_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sealm_status {
    SEALM_OK = 0,
    SEALM_E_INVALID = 1,   /* a caller passed an argument outside its documented range */
    SEALM_E_FORMAT = 2,    /* malformed or hostile input file (GGUF, tokenizer data, ...) */
    SEALM_E_UNSUPPORTED = 3, /* well-formed but not supported (architecture, tensor type, version) */
    SEALM_E_NOMEM = 4,     /* an allocation failed or a size would overflow */
    SEALM_E_IO = 5,        /* open/read/mmap of a file failed (errno text in the message) */
    SEALM_E_NOT_FOUND = 6, /* a metadata key or tensor is absent */
    SEALM_E_TYPE = 7,      /* a metadata value has another type than the one asked for */
    SEALM_E_CONTEXT_FULL = 8, /* the KV cache has no room for the tokens given */
    SEALM_E_AUTH = 9,      /* authentication failed: wrong passphrase or key, or tampered ciphertext */
    SEALM_E_PERMISSION = 10, /* a secret file has an unsafe mode or owner (fix: chmod 600 FILE) */
    SEALM_E_SIGNATURE = 11, /* missing, invalid or untrusted signatures, or fewer than the threshold */
    SEALM_E_REVOKED = 12,  /* a signing key has been revoked in the trust store */
    SEALM_E_ROLLBACK = 13, /* a bundle is older than one already accepted on this device */
    SEALM_E_RECIPIENT = 14, /* a bundle was not sealed for this device's key */
} sealm_status;

/* A failure's message. Fixed size so that reporting an error never allocates. */
typedef struct sealm_error {
    sealm_status code;
    char message[512];
} sealm_error;

/* Records code and a printf-style message in err (if err is not NULL) and returns code.
 * Thread-safe (touches only *err). */
sealm_status sealm_error_set(sealm_error *err, sealm_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Short stable name of a status ("SEALM_E_FORMAT"); never NULL. */
const char *sealm_status_name(sealm_status code);

/* The library's version string ("0.1.0"). */
const char *sealm_version(void);

#ifdef __cplusplus
}
#endif
#endif
