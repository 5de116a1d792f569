/* Tests for the sealmd front↔worker framing (src/server/ipc.c): every frame type round-trips,
 * and every malformed message is refused with SEALM_E_FORMAT. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/ipc.h"

typedef struct pair {
    int a, b;
} pair;

static int setup(void **state)
{
    int fds[2];
    sealm_error err = {0};
    if (sealm_ipc_socketpair(fds, &err) != SEALM_OK)
        return -1;
    pair *p = malloc(sizeof *p);
    p->a = fds[0];
    p->b = fds[1];
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    pair *p = *state;
    if (p->a >= 0)
        close(p->a);
    close(p->b);
    free(p);
    return 0;
}

static void test_round_trip_every_type(void **state)
{
    pair *p = *state;
    json_t *bodies[] = {
        json_pack("{s:[{s:s,s:i,s:i,s:I,s:s}]}", "models", "id", "m", "n_ctx", 2048, "n_vocab", 512, "created",
                  (json_int_t)1700000000, "architecture", "llama"),
        json_pack("{s:I,s:s,s:s,s:i,s:f,s:[s,s],s:b,s:{s:f}}", "req", (json_int_t)1 << 40, "model", "m", "prompt",
                  "héllo \"world\"\n", "max_tokens", 16, "temperature", 0.5, "stop", "a", "bc", "logprobs", 1,
                  "logit_bias", "42", -3.5),
        json_pack("{s:I}", "req", (json_int_t)7),
        json_pack("{s:I,s:s,s:f}", "req", (json_int_t)7, "text", "\xE2\x82\xAC", "logprob", -0.25),
        json_pack("{s:I,s:s,s:i,s:i}", "req", (json_int_t)7, "finish_reason", "length", "prompt_tokens", 3,
                  "completion_tokens", 16),
        json_pack("{s:I,s:s,s:s}", "req", (json_int_t)7, "code", "prompt_too_long", "message", "too long"),
        json_pack("{s:f}", "drain_seconds", 2.5),
    };
    for (uint8_t t = SEALM_IPC_HELLO; t <= SEALM_IPC_SHUTDOWN; t++) {
        json_t *sent = bodies[t - 1];
        assert_non_null(sent);
        sealm_error err = {0};
        assert_int_equal(sealm_ipc_send(p->a, t, sent, &err), SEALM_OK);
        uint8_t type = 0;
        json_t *got = NULL;
        assert_int_equal(sealm_ipc_recv(p->b, &type, &got, &err), SEALM_OK);
        assert_int_equal(type, t);
        assert_true(json_equal(sent, got));
        assert_string_not_equal(sealm_ipc_type_name(t), "UNKNOWN");
        json_decref(got);
        json_decref(sent);
    }
}

/* A frame near the 1 MiB limit crosses whole (SO_SNDBUF is raised for it). */
static void test_large_frame(void **state)
{
    pair *p = *state;
    size_t n = SEALM_IPC_MAX_FRAME - SEALM_IPC_HEADER - 64;
    char *text = malloc(n + 1);
    memset(text, 'x', n);
    text[n] = '\0';
    json_t *body = json_pack("{s:s}", "prompt", text);
    sealm_error err = {0};
    assert_int_equal(sealm_ipc_send(p->a, SEALM_IPC_GENERATE, body, &err), SEALM_OK);
    uint8_t type;
    json_t *got = NULL;
    assert_int_equal(sealm_ipc_recv(p->b, &type, &got, &err), SEALM_OK);
    assert_int_equal(strlen(json_string_value(json_object_get(got, "prompt"))), n);
    json_decref(got);
    json_decref(body);
    free(text);
}

static void test_send_refuses(void **state)
{
    pair *p = *state;
    sealm_error err = {0};
    json_t *arr = json_array();
    assert_int_equal(sealm_ipc_send(p->a, SEALM_IPC_DONE, arr, &err), SEALM_E_INVALID);
    json_decref(arr);
    json_t *obj = json_object();
    assert_int_equal(sealm_ipc_send(p->a, 0, obj, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_ipc_send(p->a, 8, obj, &err), SEALM_E_INVALID);
    json_decref(obj);
    /* more than 1 MiB of body */
    size_t n = SEALM_IPC_MAX_FRAME;
    char *text = malloc(n + 1);
    memset(text, 'y', n);
    text[n] = '\0';
    json_t *big = json_pack("{s:s}", "prompt", text);
    assert_int_equal(sealm_ipc_send(p->a, SEALM_IPC_GENERATE, big, &err), SEALM_E_NOMEM);
    json_decref(big);
    free(text);
    /* nothing was sent by any refused call: the peer sees only what follows */
    obj = json_pack("{s:i}", "req", 1);
    assert_int_equal(sealm_ipc_send(p->a, SEALM_IPC_CANCEL, obj, &err), SEALM_OK);
    uint8_t type;
    json_t *got = NULL;
    assert_int_equal(sealm_ipc_recv(p->b, &type, &got, &err), SEALM_OK);
    assert_int_equal(type, SEALM_IPC_CANCEL);
    json_decref(got);
    json_decref(obj);
}

/* Sends raw bytes as one message and expects recv to refuse them with want. */
static void expect_refused(pair *p, const void *msg, size_t len, sealm_status want)
{
    assert_int_equal(send(p->a, msg, len, 0), (ssize_t)len);
    uint8_t type = 0xAA;
    json_t *got = (json_t *)1;
    sealm_error err = {0};
    assert_int_equal(sealm_ipc_recv(p->b, &type, &got, &err), want);
    assert_null(got);
    assert_true(strlen(err.message) > 0);
}

/* Builds type | len | body into buf; returns the message size. */
static size_t frame(uint8_t *buf, uint8_t type, uint32_t len_field, const char *body)
{
    buf[0] = type;
    buf[1] = (uint8_t)len_field;
    buf[2] = (uint8_t)(len_field >> 8);
    buf[3] = (uint8_t)(len_field >> 16);
    buf[4] = (uint8_t)(len_field >> 24);
    size_t n = strlen(body);
    memcpy(buf + 5, body, n);
    return 5 + n;
}

static void test_recv_refuses_malformed(void **state)
{
    pair *p = *state;
    uint8_t buf[256];
    /* runt: shorter than the header */
    expect_refused(p, "\x04\x01\x00", 3, SEALM_E_FORMAT);
    /* length field larger and smaller than the body actually sent */
    expect_refused(p, buf, frame(buf, SEALM_IPC_TOKEN, 40, "{\"req\":1}"), SEALM_E_FORMAT);
    expect_refused(p, buf, frame(buf, SEALM_IPC_TOKEN, 4, "{\"req\":1}"), SEALM_E_FORMAT);
    /* length field beyond the 1 MiB limit */
    expect_refused(p, buf, frame(buf, SEALM_IPC_TOKEN, SEALM_IPC_MAX_FRAME, "{}"), SEALM_E_FORMAT);
    expect_refused(p, buf, frame(buf, SEALM_IPC_TOKEN, 0xFFFFFFFFu, "{}"), SEALM_E_FORMAT);
    /* unknown types */
    expect_refused(p, buf, frame(buf, 0, 2, "{}"), SEALM_E_FORMAT);
    expect_refused(p, buf, frame(buf, 99, 2, "{}"), SEALM_E_FORMAT);
    /* not JSON, not an object, not UTF-8, duplicate keys, empty body */
    expect_refused(p, buf, frame(buf, SEALM_IPC_GENERATE, 9, "not json!"), SEALM_E_FORMAT);
    expect_refused(p, buf, frame(buf, SEALM_IPC_GENERATE, 7, "[1,2,3]"), SEALM_E_FORMAT);
    expect_refused(p, buf, frame(buf, SEALM_IPC_GENERATE, 2, "42"), SEALM_E_FORMAT);
    expect_refused(p, buf, frame(buf, SEALM_IPC_GENERATE, 9, "{\"a\":\"\xC3\"}"), SEALM_E_FORMAT);
    expect_refused(p, buf, frame(buf, SEALM_IPC_GENERATE, 13, "{\"a\":1,\"a\":2}"), SEALM_E_FORMAT);
    expect_refused(p, buf, frame(buf, SEALM_IPC_GENERATE, 0, ""), SEALM_E_FORMAT);
    /* a message larger than the limit, whatever its length field says */
    size_t big = SEALM_IPC_MAX_FRAME + 16;
    uint8_t *huge = calloc(1, big);
    frame(huge, SEALM_IPC_GENERATE, 2, "{}");
    expect_refused(p, huge, big, SEALM_E_FORMAT);
    free(huge);
    /* after all that, the stream is still in step: a good frame comes through */
    json_t *ok = json_pack("{s:i}", "req", 5);
    sealm_error err = {0};
    assert_int_equal(sealm_ipc_send(p->a, SEALM_IPC_CANCEL, ok, &err), SEALM_OK);
    uint8_t type;
    json_t *got = NULL;
    assert_int_equal(sealm_ipc_recv(p->b, &type, &got, &err), SEALM_OK);
    assert_true(json_equal(ok, got));
    json_decref(got);
    json_decref(ok);
}

static void test_eof_and_closed_peer(void **state)
{
    pair *p = *state;
    close(p->a);
    p->a = -1;
    uint8_t type;
    json_t *got = NULL;
    sealm_error err = {0};
    assert_int_equal(sealm_ipc_recv(p->b, &type, &got, &err), SEALM_E_NOT_FOUND);
    assert_null(got);
    json_t *body = json_object();
    assert_int_equal(sealm_ipc_send(p->b, SEALM_IPC_CANCEL, body, &err), SEALM_E_IO);   /* EPIPE, no SIGPIPE */
    json_decref(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_every_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recv_refuses_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof_and_closed_peer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
