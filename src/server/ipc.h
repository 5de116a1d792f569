/* sealmd — the framing between the front (HTTP) process and the inference worker.
 *
 * The two processes share one socketpair(AF_UNIX, SOCK_SEQPACKET). Each frame is exactly one
 * SEQPACKET message, so the kernel keeps frame boundaries and a single sendmsg() is atomic:
 *
 *     u8 type | u32 little-endian body length | body (UTF-8 JSON object, no NUL)
 *
 * A frame is at most SEALM_IPC_MAX_FRAME bytes in all. Every length is checked on receive: a
 * truncated message, a length field that disagrees with the bytes received, an unknown type,
 * or a body that is not a JSON object is a protocol error (SEALM_E_FORMAT) and the receiver
 * should stop talking to its peer. The frame types and their bodies are listed in
 * /tmp/sealmd_contract.md and docs (issue 4); see also the comments below. */
#ifndef SEALM_SERVER_IPC_H
#define SEALM_SERVER_IPC_H

#include <stdint.h>
#include <jansson.h>

#include "sealm/common.h"

#define SEALM_IPC_MAX_FRAME (1u << 20)   /* 1 MiB, header included */
#define SEALM_IPC_HEADER 5u             /* u8 type + u32 length */

enum sealm_ipc_type {
    SEALM_IPC_HELLO = 1,     /* worker→front {"models":[{"id","n_ctx","n_vocab","created","architecture"}]} */
    SEALM_IPC_GENERATE = 2,  /* front→worker {"req", "model", "messages"|"prompt", sampling fields...} */
    SEALM_IPC_CANCEL = 3,    /* front→worker {"req"} */
    SEALM_IPC_TOKEN = 4,     /* worker→front {"req", "text", "logprob" (only when asked)} */
    SEALM_IPC_DONE = 5,      /* worker→front {"req", "finish_reason", "prompt_tokens", "completion_tokens"} */
    SEALM_IPC_ERROR = 6,     /* worker→front {"req", "code", "message"} */
    SEALM_IPC_SHUTDOWN = 7,  /* front→worker {"drain_seconds"} */
};

/* Short name of a frame type ("GENERATE"), or "UNKNOWN"; never NULL. */
const char *sealm_ipc_type_name(uint8_t type);

/* Creates the front↔worker pair: socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC) with
 * SO_SNDBUF raised on both ends (best effort, capped by net.core.wmem_max) so that frames up
 * to SEALM_IPC_MAX_FRAME fit in one message. Errors: SEALM_E_IO. */
sealm_status sealm_ipc_socketpair(int fds[2], sealm_error *err);

/* Serialises body (a JSON object) compactly and sends it as one frame of the given type.
 * Thread-safe: one sendmsg() per frame, which SOCK_SEQPACKET delivers whole, so several
 * threads may send on the same fd. Retries on EINTR; uses MSG_NOSIGNAL so a closed peer is an
 * error, not SIGPIPE. Errors: SEALM_E_INVALID (unknown type, body not an object),
 * SEALM_E_NOMEM (serialisation failed, the frame would exceed SEALM_IPC_MAX_FRAME, or it
 * does not fit the socket buffer even after raising SO_SNDBUF),
 * SEALM_E_IO (sendmsg failed, e.g. EPIPE when the peer is gone). */
sealm_status sealm_ipc_send(int fd, uint8_t type, const json_t *body, sealm_error *err);

/* Receives one frame, blocking. On success *type is the frame type and *body a new reference
 * to a JSON object that the caller must json_decref(). On failure *body is NULL.
 * Errors: SEALM_E_IO (recv failed), SEALM_E_NOT_FOUND (orderly EOF: the peer closed),
 * SEALM_E_FORMAT (truncated or oversized message, length field disagreeing with the message
 * size, unknown type, body not valid UTF-8 JSON or not an object), SEALM_E_NOMEM.
 * Thread safety: one receiving thread per fd. */
sealm_status sealm_ipc_recv(int fd, uint8_t *type, json_t **body, sealm_error *err);

#endif
