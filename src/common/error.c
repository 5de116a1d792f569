/* sealm_error helpers shared by every layer (lives with the lowest layer, gguf). */
#include "sealm/common.h"

#include <stdarg.h>
#include <stdio.h>

sealm_status sealm_error_set(sealm_error *err, sealm_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

const char *sealm_status_name(sealm_status code) {
    switch (code) {
    case SEALM_OK: return "SEALM_OK";
    case SEALM_E_INVALID: return "SEALM_E_INVALID";
    case SEALM_E_FORMAT: return "SEALM_E_FORMAT";
    case SEALM_E_UNSUPPORTED: return "SEALM_E_UNSUPPORTED";
    case SEALM_E_NOMEM: return "SEALM_E_NOMEM";
    case SEALM_E_IO: return "SEALM_E_IO";
    case SEALM_E_NOT_FOUND: return "SEALM_E_NOT_FOUND";
    case SEALM_E_TYPE: return "SEALM_E_TYPE";
    case SEALM_E_CONTEXT_FULL: return "SEALM_E_CONTEXT_FULL";
    case SEALM_E_AUTH: return "SEALM_E_AUTH";
    case SEALM_E_PERMISSION: return "SEALM_E_PERMISSION";
    case SEALM_E_SIGNATURE: return "SEALM_E_SIGNATURE";
    case SEALM_E_REVOKED: return "SEALM_E_REVOKED";
    case SEALM_E_ROLLBACK: return "SEALM_E_ROLLBACK";
    case SEALM_E_RECIPIENT: return "SEALM_E_RECIPIENT";
    }
    return "SEALM_E_UNKNOWN";
}

#ifndef SEALM_VERSION
#define SEALM_VERSION "0.0.0"
#endif
const char *sealm_version(void) { return SEALM_VERSION; }
