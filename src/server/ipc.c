/* sealmd — frame send/receive over the front↔worker SOCK_SEQPACKET socketpair (see ipc.h). */
#include "server/ipc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

const char *sealm_ipc_type_name(uint8_t type)
{
    switch (type) {
    case SEALM_IPC_HELLO: return "HELLO";
    case SEALM_IPC_GENERATE: return "GENERATE";
    case SEALM_IPC_CANCEL: return "CANCEL";
    case SEALM_IPC_TOKEN: return "TOKEN";
    case SEALM_IPC_DONE: return "DONE";
    case SEALM_IPC_ERROR: return "ERROR";
    case SEALM_IPC_SHUTDOWN: return "SHUTDOWN";
    default: return "UNKNOWN";
    }
}

static int ipc_type_known(uint8_t type)
{
    return type >= SEALM_IPC_HELLO && type <= SEALM_IPC_SHUTDOWN;
}

static void ipc_put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static uint32_t ipc_get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A SEQPACKET message must fit in the sender's socket buffer (net.core.wmem_default, about
 * 208 KiB, by default): before sending a large frame, raise SO_SNDBUF to hold it (the kernel
 * doubles the value and caps it at net.core.wmem_max). Best effort: if it stays too small,
 * sendmsg reports EMSGSIZE. Small frames skip this, so the sandboxed worker never needs
 * getsockopt/setsockopt. */
static void ipc_make_room(int fd, size_t frame)
{
    if (frame <= 64u * 1024u)
        return;
    int have = 0;
    socklen_t len = sizeof have;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &have, &len) == 0 && (size_t)have >= 2 * frame)
        return;
    int want = (int)(2 * SEALM_IPC_MAX_FRAME);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
}

sealm_status sealm_ipc_socketpair(int fds[2], sealm_error *err)
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
        return sealm_error_set(err, SEALM_E_IO, "ipc: socketpair: %s", strerror(errno));
    int want = (int)(2 * SEALM_IPC_MAX_FRAME);
    for (int i = 0; i < 2; i++)
        (void)setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
    return SEALM_OK;
}

sealm_status sealm_ipc_send(int fd, uint8_t type, const json_t *body, sealm_error *err)
{
    if (!ipc_type_known(type))
        return sealm_error_set(err, SEALM_E_INVALID, "ipc: unknown frame type %u", type);
    if (!json_is_object(body))
        return sealm_error_set(err, SEALM_E_INVALID, "ipc: %s body must be a JSON object",
                               sealm_ipc_type_name(type));
    char *text = json_dumps(body, JSON_COMPACT);
    if (!text)
        return sealm_error_set(err, SEALM_E_NOMEM, "ipc: cannot serialise %s body",
                               sealm_ipc_type_name(type));
    size_t len = strlen(text);
    if (len > SEALM_IPC_MAX_FRAME - SEALM_IPC_HEADER) {
        free(text);
        return sealm_error_set(err, SEALM_E_NOMEM, "ipc: %s frame of %zu bytes exceeds the %u-byte limit",
                               sealm_ipc_type_name(type), len + SEALM_IPC_HEADER, SEALM_IPC_MAX_FRAME);
    }
    ipc_make_room(fd, len + SEALM_IPC_HEADER);
    uint8_t header[SEALM_IPC_HEADER];
    header[0] = type;
    ipc_put_u32le(header + 1, (uint32_t)len);
    /* Header and body go out in one sendmsg: SEQPACKET delivers it as one whole message, which
     * is what makes concurrent senders safe without a lock. */
    struct iovec iov[2] = {{header, sizeof header}, {text, len}};
    struct msghdr msg = {0};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    ssize_t n;
    do
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    int saved = errno;
    free(text);
    if (n < 0 && saved == EMSGSIZE)
        return sealm_error_set(err, SEALM_E_NOMEM,
                               "ipc: %s frame of %zu bytes does not fit the socket buffer (raise net.core.wmem_max)",
                               sealm_ipc_type_name(type), len + SEALM_IPC_HEADER);
    if (n < 0)
        return sealm_error_set(err, SEALM_E_IO, "ipc: send %s: %s", sealm_ipc_type_name(type), strerror(saved));
    if ((size_t)n != len + SEALM_IPC_HEADER)
        return sealm_error_set(err, SEALM_E_IO, "ipc: short send of %s (%zd of %zu bytes)",
                               sealm_ipc_type_name(type), n, len + SEALM_IPC_HEADER);
    return SEALM_OK;
}

/* Receives one message into buf (capacity cap); *got is its size, *truncated whether the
 * kernel cut it (the message was larger than cap). */
static sealm_status ipc_recv_message(int fd, uint8_t *buf, size_t cap, int flags, size_t *got,
                                     int *truncated, sealm_error *err)
{
    struct iovec iov = {buf, cap};
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n;
    do
        n = recvmsg(fd, &msg, flags);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return sealm_error_set(err, SEALM_E_IO, "ipc: recv: %s", strerror(errno));
    if (n == 0)
        return sealm_error_set(err, SEALM_E_NOT_FOUND, "ipc: peer closed the connection");
    *got = (size_t)n;
    *truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    return SEALM_OK;
}

sealm_status sealm_ipc_recv(int fd, uint8_t *type, json_t **body, sealm_error *err)
{
    if (!type || !body)
        return sealm_error_set(err, SEALM_E_INVALID, "ipc: recv needs type and body pointers");
    *body = NULL;
    /* Peek at the header first so that the buffer can be sized to the frame instead of always
     * holding the 1 MiB maximum. */
    uint8_t header[SEALM_IPC_HEADER];
    size_t got = 0;
    int truncated = 0;
    sealm_status st = ipc_recv_message(fd, header, sizeof header, MSG_PEEK, &got, &truncated, err);
    if (st != SEALM_OK)
        return st;
    uint8_t dummy;
    if (got < SEALM_IPC_HEADER) {
        ipc_recv_message(fd, &dummy, 1, 0, &got, &truncated, NULL); /* consume the runt */
        return sealm_error_set(err, SEALM_E_FORMAT, "ipc: truncated frame (%zu bytes, header needs %u)",
                               got, SEALM_IPC_HEADER);
    }
    uint8_t t = header[0];
    uint32_t len = ipc_get_u32le(header + 1);
    if (!ipc_type_known(t) || len > SEALM_IPC_MAX_FRAME - SEALM_IPC_HEADER) {
        ipc_recv_message(fd, &dummy, 1, 0, &got, &truncated, NULL);
        if (!ipc_type_known(t))
            return sealm_error_set(err, SEALM_E_FORMAT, "ipc: unknown frame type %u", t);
        return sealm_error_set(err, SEALM_E_FORMAT, "ipc: frame length %u exceeds the %u-byte limit",
                               len, SEALM_IPC_MAX_FRAME);
    }
    /* One spare byte: a message longer than the header says fills it (or sets MSG_TRUNC). */
    size_t cap = SEALM_IPC_HEADER + (size_t)len + 1;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        ipc_recv_message(fd, &dummy, 1, 0, &got, &truncated, NULL);
        return sealm_error_set(err, SEALM_E_NOMEM, "ipc: cannot allocate %zu bytes for a frame", cap);
    }
    st = ipc_recv_message(fd, buf, cap, 0, &got, &truncated, err);
    if (st != SEALM_OK) {
        free(buf);
        return st;
    }
    if (truncated || got != SEALM_IPC_HEADER + (size_t)len) {
        free(buf);
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "ipc: %s frame length field says %u body bytes but the message has %s%zu",
                               sealm_ipc_type_name(t), len, truncated ? "more than " : "",
                               got - SEALM_IPC_HEADER);
    }
    json_error_t jerr;
    json_t *j = json_loadb((const char *)buf + SEALM_IPC_HEADER, len, JSON_REJECT_DUPLICATES, &jerr);
    free(buf);
    if (!j)
        return sealm_error_set(err, SEALM_E_FORMAT, "ipc: %s body is not valid JSON (at byte %d)",
                               sealm_ipc_type_name(t), jerr.position);
    if (!json_is_object(j)) {
        json_decref(j);
        return sealm_error_set(err, SEALM_E_FORMAT, "ipc: %s body is not a JSON object",
                               sealm_ipc_type_name(t));
    }
    *type = t;
    *body = j;
    return SEALM_OK;
}
