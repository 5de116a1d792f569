/* Tests for the sealmd inference worker (src/server/worker*.c): it runs in a forked child over
 * a socketpair, as sealmd runs it, with the plain stories260K GGUF (allow_plain). Checked:
 * HELLO, greedy output equal to the library's own greedy decode, stop strings, logit_bias and
 * logprobs, interleaving of concurrent requests, CANCEL, the error codes, SHUTDOWN draining,
 * the prefix cache (reuse within a scope only, same answers, penalties), prefill_turn_ms (a
 * long prompt read in budgeted chunks while another stream decodes, same answers),
 * refusal of a plain GGUF without allow_plain, and the sandbox (seccomp mode, no_new_privs,
 * no core dumps; open/socket/fork refused after it, threads still possible). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sealm/bundle.h"
#include "sealm/engine.h"
#include "sealm/keys.h"
#include "sealm/gguf.h"
#include "sealm/sample.h"
#include "sealm/server.h"
#include "sealm/tokenizer.h"
#include "server/ipc.h"
#include "server/worker.h"

#define MODEL_PATH SEALM_SHARED_DIR "/models/stories260K.gguf"
#define PROMPT "Once upon a time, there was a little"

/* A worker child and our end of its socket. */
typedef struct child {
    pid_t pid;
    int fd;
} child;

static json_t *model_entry(const char *id, bool allow_plain, int max_parallel)
{
    return json_pack("{s:s,s:s,s:b,s:i,s:i,s:i}", "id", id, "path", MODEL_PATH, "allow_plain", allow_plain, "n_ctx", 256,
                     "threads", 1, "max_parallel", max_parallel);
}

static child start_worker_ex(json_t *models, int max_prompt_tokens, bool small_buffer);

static child start_worker(json_t *models, int max_prompt_tokens)
{
    return start_worker_ex(models, max_prompt_tokens, false);
}

/* small_buffer: the worker's send buffer holds only a few frames, so that it blocks in
 * sendmsg until we read: a long generation then cannot finish before our CANCEL arrives. */
static child start_worker_ex(json_t *models, int max_prompt_tokens, bool small_buffer)
{
    json_t *limits = json_pack("{s:i,s:i}", "max_prompt_tokens", max_prompt_tokens, "max_tokens", 200);
    int fds[2];
    sealm_error err = {0};
    assert_int_equal(sealm_ipc_socketpair(fds, &err), SEALM_OK);
    if (small_buffer) {
        int size = 4096;
        assert_int_equal(setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        sealm_status st = sealm_worker_run(fds[1], models, limits, &err);
        _exit(st == SEALM_OK ? 0 : 10 + (int)st);
    }
    close(fds[1]);
    json_decref(models);
    json_decref(limits);
    return (child){pid, fds[0]};
}

/* The next frame; fails the test instead of hanging if the worker goes quiet. */
static json_t *next_frame(const child *c, uint8_t *type)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 120000), 1);
    json_t *body = NULL;
    sealm_error err = {0};
    sealm_status st = sealm_ipc_recv(c->fd, type, &body, &err);
    if (st)
        fail_msg("recv: %s", err.message);
    return body;
}

static void send_frame(const child *c, uint8_t type, json_t *body)
{
    sealm_error err = {0};
    assert_int_equal(sealm_ipc_send(c->fd, type, body, &err), SEALM_OK);
    json_decref(body);
}

static json_t *expect_hello(const child *c)
{
    uint8_t type = 0;
    json_t *hello = next_frame(c, &type);
    if (type != SEALM_IPC_HELLO)
        fail_msg("expected HELLO, got %s: %s", sealm_ipc_type_name(type),
                 json_string_value(json_object_get(hello, "message")));
    return hello;
}

/* Stops the worker so that the frames sent until resume_worker() are all waiting when it
 * looks again: it then reads them in one batch, which makes the scheduling tests
 * independent of how fast the machine is. */
static void pause_worker(const child *c)
{
    assert_int_equal(kill(c->pid, SIGSTOP), 0);
    int status = 0;
    assert_int_equal(waitpid(c->pid, &status, WUNTRACED), c->pid);
    assert_true(WIFSTOPPED(status));
}

static void resume_worker(const child *c)
{
    assert_int_equal(kill(c->pid, SIGCONT), 0);
}

/* Closes our end and waits for the child; returns its wait status. */
static int stop_worker(child *c)
{
    close(c->fd);
    int status = 0;
    assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
    return status;
}

/* What one request produced. */
typedef struct result {
    char text[4096];
    size_t len;
    int n_token_frames;
    double logprobs[256];
    int n_logprobs;
    char finish[16];
    int prompt_tokens, completion_tokens;
    int cached_tokens;
    char error[32];
} result;

/* Reads frames of request req until its DONE or ERROR (frames of other requests are skipped). */
static void collect(const child *c, uint64_t req, result *r)
{
    memset(r, 0, sizeof *r);
    for (;;) {
        uint8_t type;
        json_t *f = next_frame(c, &type);
        assert_true(json_is_integer(json_object_get(f, "req")));
        if ((uint64_t)json_integer_value(json_object_get(f, "req")) != req) {
            json_decref(f);
            continue;
        }
        if (type == SEALM_IPC_TOKEN) {
            const json_t *t = json_object_get(f, "text");
            assert_true(json_is_string(t));
            assert_true(r->len + json_string_length(t) < sizeof r->text);
            memcpy(r->text + r->len, json_string_value(t), json_string_length(t));
            r->len += json_string_length(t);
            r->n_token_frames++;
            const json_t *lp = json_object_get(f, "logprob");
            if (lp && r->n_logprobs < 256)
                r->logprobs[r->n_logprobs++] = json_number_value(lp);
        } else if (type == SEALM_IPC_DONE) {
            snprintf(r->finish, sizeof r->finish, "%s", json_string_value(json_object_get(f, "finish_reason")));
            r->prompt_tokens = (int)json_integer_value(json_object_get(f, "prompt_tokens"));
            r->completion_tokens = (int)json_integer_value(json_object_get(f, "completion_tokens"));
            assert_true(json_is_integer(json_object_get(f, "cached_tokens")));
            r->cached_tokens = (int)json_integer_value(json_object_get(f, "cached_tokens"));
            json_decref(f);
            return;
        } else if (type == SEALM_IPC_ERROR) {
            snprintf(r->error, sizeof r->error, "%s", json_string_value(json_object_get(f, "code")));
            assert_true(json_is_string(json_object_get(f, "message")));
            json_decref(f);
            return;
        } else {
            fail_msg("unexpected %s frame", sealm_ipc_type_name(type));
        }
        json_decref(f);
    }
}

static json_t *greedy_request(uint64_t req, const char *prompt, int max_tokens)
{
    return json_pack("{s:I,s:s,s:s,s:i,s:f,s:n}", "req", (json_int_t)req, "model", "stories", "prompt", prompt,
                     "max_tokens", max_tokens, "temperature", 0.0, "seed");
}

/* The model, tokenizer and a one-thread context with prompt evaluated, loaded by the
 * library itself: the reference the worker must match. */
typedef struct library_session {
    sealm_gguf *g;
    sealm_model *m;
    sealm_tokenizer *tok;
    sealm_context *ctx;
    int n_prompt;          /* tokens of the prompt */
} library_session;

static void library_open(library_session *s, const char *prompt)
{
    sealm_error err = {0};
    *s = (library_session){0};
    assert_int_equal(sealm_gguf_open_file(MODEL_PATH, &s->g, &err), SEALM_OK);
    assert_int_equal(sealm_model_load(s->g, &s->m, &err), SEALM_OK);
    assert_int_equal(sealm_tokenizer_from_gguf(s->g, &s->tok, &err), SEALM_OK);
    sealm_context_params cp = sealm_context_params_default();
    cp.n_ctx = 256;
    cp.n_threads = 1;
    assert_int_equal(sealm_context_new(s->m, &cp, &s->ctx, &err), SEALM_OK);
    int32_t ids[256];
    size_t n = 0;
    assert_int_equal(sealm_tokenize(s->tok, prompt, strlen(prompt), sealm_tokenizer_add_bos(s->tok), false, ids, 256,
                                    &n, &err),
                     SEALM_OK);
    s->n_prompt = (int)n;
    assert_int_equal(sealm_context_eval(s->ctx, ids, (int32_t)n, false, &err), SEALM_OK);
}

static void library_close(library_session *s)
{
    sealm_context_free(s->ctx);
    sealm_tokenizer_free(s->tok);
    sealm_model_free(s->m);
    sealm_gguf_close(s->g);
}

/* The library's own greedy continuation of prompt. bias_token >= 0 gets -100 added to its
 * logit at every step. */
static void library_greedy(const char *prompt, int max_tokens, int32_t bias_token, char *out, size_t cap, int *n_prompt)
{
    library_session s;
    library_open(&s, prompt);
    *n_prompt = s.n_prompt;
    sealm_error err = {0};
    const int32_t n_vocab = sealm_model_hparams(s.m)->n_vocab;
    float *row = malloc((size_t)n_vocab * sizeof *row);
    assert_non_null(row);
    sealm_detok_stream ds;
    sealm_detok_stream_init(&ds, s.tok);
    size_t len = 0;
    for (int i = 0; i < max_tokens; i++) {
        memcpy(row, sealm_context_logits(s.ctx, -1), (size_t)n_vocab * sizeof *row);
        if (bias_token >= 0)
            row[bias_token] -= 100.0f;
        int32_t t = sealm_argmax(row, n_vocab);
        if (sealm_tokenizer_is_eog(s.tok, t))
            break;
        len += sealm_detok_stream_push(&ds, t, out + len, cap - len);
        assert_int_equal(sealm_context_eval(s.ctx, &t, 1, false, &err), SEALM_OK);
    }
    len += sealm_detok_stream_flush(&ds, out + len, cap - len);
    out[len] = '\0';
    free(row);
    library_close(&s);
}

/* The first greedy token of prompt, by the library. */
static int32_t library_first_token(const char *prompt)
{
    library_session s;
    library_open(&s, prompt);
    const int32_t t = sealm_argmax(sealm_context_logits(s.ctx, -1), sealm_model_hparams(s.m)->n_vocab);
    library_close(&s);
    return t;
}

/* /proc/PID/status field value, or -1. */
static long proc_status_field(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, fl) && line[fl] == ':')
            v = strtol(line + fl + 1, NULL, 10);
    fclose(f);
    return v;
}

static void test_hello_and_sandbox_state(void **state)
{
    (void)state;
    json_t *models = json_array();
    json_array_append_new(models, model_entry("stories", true, 2));
    child c = start_worker(models, 128);
    json_t *hello = expect_hello(&c);
    const json_t *list = json_object_get(hello, "models");
    assert_int_equal(json_array_size(list), 1);
    const json_t *m = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(m, "id")), "stories");
    assert_string_equal(json_string_value(json_object_get(m, "architecture")), "llama");
    assert_int_equal(json_integer_value(json_object_get(m, "n_ctx")), 256);
    assert_int_equal(json_integer_value(json_object_get(m, "n_vocab")), 512);
    assert_true(json_integer_value(json_object_get(m, "created")) > 1600000000);
    json_decref(hello);
    /* HELLO is sent after the lock-down: the filter and no_new_privs are in force */
    assert_int_equal(proc_status_field(c.pid, "Seccomp"), 2);
    assert_int_equal(proc_status_field(c.pid, "NoNewPrivs"), 1);
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/limits", (int)c.pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    bool core_zero = false;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Max core file size", 18))
            core_zero = strstr(line, " 0 ") != NULL;
    fclose(f);
    assert_true(core_zero);
    int status = stop_worker(&c);   /* EOF: the worker exits cleanly */
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_greedy_matches_library_and_stops(void **state)
{
    (void)state;
    char expected[4096];
    int n_prompt = 0;
    library_greedy(PROMPT, 40, -1, expected, sizeof expected, &n_prompt);
    assert_true(strlen(expected) > 20);
    json_t *models = json_array();
    json_array_append_new(models, model_entry("stories", true, 2));
    child c = start_worker(models, 128);
    json_decref(expect_hello(&c));
    result r;
    for (uint64_t req = 1; req <= 2; req++) {   /* twice: a reused slot gives the same answer */
        send_frame(&c, SEALM_IPC_GENERATE, greedy_request(req, PROMPT, 40));
        collect(&c, req, &r);
        assert_string_equal(r.error, "");
        assert_string_equal(r.finish, "length");
        assert_int_equal(r.completion_tokens, 40);
        assert_int_equal(r.prompt_tokens, n_prompt);
        r.text[r.len] = '\0';
        assert_string_equal(r.text, expected);
        assert_int_equal(r.n_logprobs, 0);   /* not asked for */
    }
    /* a stop string from the middle of the expected text: output ends right before it, even
     * though it spans token boundaries */
    char stop[8];
    memcpy(stop, expected + 12, 5);
    stop[5] = '\0';
    const char *at = strstr(expected, stop);
    json_t *rq = greedy_request(3, PROMPT, 40);
    json_object_set_new(rq, "stop", json_pack("[s,s]", "zzzzqq", stop));
    send_frame(&c, SEALM_IPC_GENERATE, rq);
    collect(&c, 3, &r);
    assert_string_equal(r.finish, "stop");
    assert_int_equal(r.len, (size_t)(at - expected));
    assert_memory_equal(r.text, expected, r.len);
    assert_true(r.completion_tokens < 40);
    /* a stop string whose start matches the end of the output: held back, then released
     * whole at the end because it never completes */
    char held[16];
    size_t el = strlen(expected);
    snprintf(held, sizeof held, "%sQQ", expected + el - 3);
    rq = greedy_request(4, PROMPT, 40);
    json_object_set_new(rq, "stop", json_pack("[s]", held));
    send_frame(&c, SEALM_IPC_GENERATE, rq);
    collect(&c, 4, &r);
    assert_string_equal(r.finish, "length");
    r.text[r.len] = '\0';
    assert_string_equal(r.text, expected);
    int status = stop_worker(&c);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_logit_bias_and_logprobs(void **state)
{
    (void)state;
    const int32_t first = library_first_token(PROMPT);
    char expected[4096], biased[4096];
    int n_prompt = 0;
    library_greedy(PROMPT, 10, -1, expected, sizeof expected, &n_prompt);
    library_greedy(PROMPT, 10, first, biased, sizeof biased, &n_prompt);
    assert_string_not_equal(expected, biased);
    json_t *models = json_array();
    json_array_append_new(models, model_entry("stories", true, 1));
    child c = start_worker(models, 128);
    json_decref(expect_hello(&c));
    json_t *rq = greedy_request(9, PROMPT, 10);
    char key[16];
    snprintf(key, sizeof key, "%d", first);
    json_object_set_new(rq, "logit_bias", json_pack("{s:f}", key, -100.0));
    json_object_set_new(rq, "logprobs", json_true());
    send_frame(&c, SEALM_IPC_GENERATE, rq);
    result r;
    collect(&c, 9, &r);
    r.text[r.len] = '\0';
    assert_string_equal(r.text, biased);
    assert_int_equal(r.n_logprobs, r.completion_tokens);
    for (int i = 0; i < r.n_logprobs; i++)
        assert_true(r.logprobs[i] <= 0.0 && r.logprobs[i] > -100.0);
    /* a logit_bias key outside the vocabulary is refused */
    rq = greedy_request(10, PROMPT, 10);
    json_object_set_new(rq, "logit_bias", json_pack("{s:f}", "512", 1.0));
    send_frame(&c, SEALM_IPC_GENERATE, rq);
    collect(&c, 10, &r);
    assert_string_equal(r.error, "invalid_request");
    stop_worker(&c);
}

/* Requests 1 and 2 (greedy, max_tokens each, prompts[1] and prompts[2]) sent together to a
 * worker serving models: each one's text and finish reason, and the order of what arrived
 * (events[k]: req for a token frame, -req for the DONE). */
typedef struct pair_run {
    char got[3][4096];
    char finish[3][16];
    int events[2 * 256 + 2];
    int n_events;
} pair_run;

static void run_pair(json_t *models, int max_prompt_tokens, const char *const prompts[3], int max_tokens, pair_run *p)
{
    memset(p, 0, sizeof *p);
    size_t got_len[3] = {0};
    child c = start_worker(models, max_prompt_tokens);
    json_decref(expect_hello(&c));
    pause_worker(&c);
    send_frame(&c, SEALM_IPC_GENERATE, greedy_request(1, prompts[1], max_tokens));
    send_frame(&c, SEALM_IPC_GENERATE, greedy_request(2, prompts[2], max_tokens));
    resume_worker(&c);
    for (int done = 0; done < 2;) {
        uint8_t type;
        json_t *f = next_frame(&c, &type);
        int req = (int)json_integer_value(json_object_get(f, "req"));
        assert_true(req == 1 || req == 2);
        assert_true(p->n_events < (int)(sizeof p->events / sizeof p->events[0]));
        if (type == SEALM_IPC_TOKEN) {
            const json_t *t = json_object_get(f, "text");
            assert_true(got_len[req] + json_string_length(t) < sizeof p->got[req]);
            memcpy(p->got[req] + got_len[req], json_string_value(t), json_string_length(t));
            got_len[req] += json_string_length(t);
            p->events[p->n_events++] = req;
        } else {
            assert_int_equal(type, SEALM_IPC_DONE);
            snprintf(p->finish[req], sizeof p->finish[req], "%s",
                     json_string_value(json_object_get(f, "finish_reason")));
            p->events[p->n_events++] = -req;
            done++;
        }
        json_decref(f);
    }
    stop_worker(&c);
}

/* Each answer of a pair run must be the library's own greedy continuation of its prompt. */
static void expect_library_answers(const char *const prompts[3], int max_tokens, const pair_run *p, int n_prompt[3])
{
    for (int r = 1; r <= 2; r++) {
        char want[4096];
        library_greedy(prompts[r], max_tokens, -1, want, sizeof want, &n_prompt[r]);
        assert_string_equal(p->got[r], want);
    }
}

/* Two requests at once: their tokens interleave (the two slots are decoded together, in
 * one batched pass per token), and each answer is still exactly the library's own greedy
 * continuation of its prompt. */
static void test_concurrent_requests_interleave(void **state)
{
    (void)state;
    static const char *const prompts[3] = {NULL, PROMPT, "The dog ran to the"};
    json_t *models = json_array();
    json_array_append_new(models, model_entry("stories", true, 2));
    pair_run p;
    run_pair(models, 128, prompts, 30, &p);
    int n_prompt[3], tokens[3] = {0};
    bool interleaved = false;   /* a token of one arrived while the other was still running */
    bool finished[3] = {false};
    for (int k = 0; k < p.n_events; k++) {
        const int req = p.events[k] > 0 ? p.events[k] : -p.events[k];
        if (p.events[k] < 0) {
            finished[req] = true;
            continue;
        }
        tokens[req]++;
        if (tokens[3 - req] > 0 && !finished[3 - req])
            interleaved = true;
    }
    assert_true(interleaved);
    expect_library_answers(prompts, 30, &p, n_prompt);
    for (int r = 1; r <= 2; r++) {
        assert_string_equal(p.finish[r], "length");
        assert_int_equal(tokens[r], 30);
    }
}

/* prefill_turn_ms: a long prompt arriving with a short one is read in 16-token chunks, one a
 * turn, while the short one's stream decodes (the budget before any rate is measured; the
 * short prompt's chunk is below the 16 tokens a rate is taken from). Both answers are still
 * the library's greedy ones, and the short one's tokens keep coming while the long prompt is
 * read: several arrive before the long request's first. */
static void test_prefill_turn_budget(void **state)
{
    (void)state;
    static const char *const prompts[3] = {
        NULL, "The dog ran to the",
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with "
        "her friends and her big brown dog. One day, she saw a shiny red ball under a tall green tree, and"};
    json_t *models = json_array();
    json_t *entry = model_entry("stories", true, 2);
    json_object_set_new(entry, "prefill_turn_ms", json_integer(1));
    json_array_append_new(models, entry);
    pair_run p;
    run_pair(models, 512, prompts, 30, &p);
    int n_prompt[3] = {0};
    expect_library_answers(prompts, 30, &p, n_prompt);
    assert_true(n_prompt[1] < 16 && n_prompt[2] > 3 * 16);
    int short_before_long = 0;
    for (int k = 0; k < p.n_events && p.events[k] != 2; k++)
        short_before_long += p.events[k] == 1;
    /* the long prompt takes ceil(n / 16) turns after the first, each giving the short stream a
     * token: at least three before the long request's first */
    assert_true(short_before_long >= 3);
}

/* More requests decoding at once than a context's batch holds (18 slots of 16 positions,
 * so the batch size is 16): the worker decodes them in passes of at most 16. Every answer
 * is still the library's greedy one. */
static void test_more_decoders_than_a_batch(void **state)
{
    (void)state;
    enum { N = 18 };
    static const char *const prompts[3] = {"Once upon", "The dog", "A little"};
    char want[3][4096];
    for (int k = 0; k < 3; k++) {
        int n_prompt = 0;
        library_greedy(prompts[k], 6, -1, want[k], sizeof want[k], &n_prompt);
        assert_true(n_prompt + 6 <= 16);
    }
    json_t *models = json_array();
    json_t *entry = model_entry("stories", true, N);
    json_object_set_new(entry, "n_ctx", json_integer(16));
    json_array_append_new(models, entry);
    child c = start_worker(models, 12);
    json_decref(expect_hello(&c));
    pause_worker(&c);
    for (int r = 0; r < N; r++)
        send_frame(&c, SEALM_IPC_GENERATE, greedy_request(100 + (uint64_t)r, prompts[r % 3], 6));
    resume_worker(&c);
    char got[N][256] = {{0}};
    size_t len[N] = {0};
    int done = 0;
    while (done < N) {
        uint8_t type;
        json_t *f = next_frame(&c, &type);
        const int r = (int)json_integer_value(json_object_get(f, "req")) - 100;
        assert_true(r >= 0 && r < N);
        if (type == SEALM_IPC_TOKEN) {
            const json_t *t = json_object_get(f, "text");
            assert_true(len[r] + json_string_length(t) < sizeof got[r]);
            memcpy(got[r] + len[r], json_string_value(t), json_string_length(t));
            len[r] += json_string_length(t);
        } else {
            assert_int_equal(type, SEALM_IPC_DONE);
            done++;
        }
        json_decref(f);
    }
    for (int r = 0; r < N; r++)
        assert_string_equal(got[r], want[r % 3]);
    stop_worker(&c);
}

static void test_cancel_and_queue(void **state)
{
    (void)state;
    json_t *models = json_array();
    json_array_append_new(models, model_entry("stories", true, 1));
    child c = start_worker_ex(models, 128, true);
    json_decref(expect_hello(&c));
    /* one slot: request 2 waits in the queue behind 1 */
    send_frame(&c, SEALM_IPC_GENERATE, greedy_request(1, PROMPT, 200));
    send_frame(&c, SEALM_IPC_GENERATE, greedy_request(2, PROMPT, 200));
    uint8_t type;
    json_t *f = next_frame(&c, &type);
    assert_int_equal(type, SEALM_IPC_TOKEN);
    assert_int_equal(json_integer_value(json_object_get(f, "req")), 1);
    json_decref(f);
    send_frame(&c, SEALM_IPC_CANCEL, json_pack("{s:i}", "req", 2));   /* queued */
    send_frame(&c, SEALM_IPC_CANCEL, json_pack("{s:i}", "req", 1));   /* running */
    send_frame(&c, SEALM_IPC_CANCEL, json_pack("{s:i}", "req", 77));  /* unknown: ignored */
    result r;
    collect(&c, 2, &r);
    assert_string_equal(r.finish, "cancelled");
    assert_int_equal(r.completion_tokens, 0);
    assert_int_equal(r.n_token_frames, 0);
    collect(&c, 1, &r);
    assert_string_equal(r.finish, "cancelled");
    assert_true(r.completion_tokens < 200);
    /* the worker still serves */
    send_frame(&c, SEALM_IPC_GENERATE, greedy_request(3, PROMPT, 5));
    collect(&c, 3, &r);
    assert_string_equal(r.finish, "length");
    assert_int_equal(r.completion_tokens, 5);
    stop_worker(&c);
}

static void test_errors(void **state)
{
    (void)state;
    json_t *models = json_array();
    json_array_append_new(models, model_entry("stories", true, 1));
    child c = start_worker(models, 16);
    json_decref(expect_hello(&c));
    result r;
    send_frame(&c, SEALM_IPC_GENERATE,
               greedy_request(1, "One day a little girl named Lily went to the park with her mom and saw a big red ball", 5));
    collect(&c, 1, &r);
    assert_string_equal(r.error, "prompt_too_long");
    json_t *rq = greedy_request(2, PROMPT, 5);
    json_object_set_new(rq, "model", json_string("nope"));
    send_frame(&c, SEALM_IPC_GENERATE, rq);
    collect(&c, 2, &r);
    assert_string_equal(r.error, "model_not_found");
    rq = greedy_request(3, PROMPT, 5);
    json_object_set_new(rq, "messages", json_pack("[{s:s,s:s}]", "role", "user", "content", "hi"));
    send_frame(&c, SEALM_IPC_GENERATE, rq);   /* both prompt and messages */
    collect(&c, 3, &r);
    assert_string_equal(r.error, "invalid_request");
    send_frame(&c, SEALM_IPC_GENERATE, json_pack("{s:i,s:s,s:[{s:s,s:s}]}", "req", 4, "model", "stories", "messages", "role",
                                                 "user", "content", "hi"));
    collect(&c, 4, &r);
    assert_string_equal(r.error, "invalid_request");   /* stories260K has no chat template */
    send_frame(&c, SEALM_IPC_GENERATE, greedy_request(5, PROMPT, 201));   /* above limits.max_tokens */
    collect(&c, 5, &r);
    assert_string_equal(r.error, "invalid_request");
    rq = greedy_request(6, PROMPT, 5);
    json_object_set_new(rq, "temperature", json_string("hot"));
    send_frame(&c, SEALM_IPC_GENERATE, rq);
    collect(&c, 6, &r);
    assert_string_equal(r.error, "invalid_request");
    /* a frame only the worker may send is a protocol error: the worker stops */
    send_frame(&c, SEALM_IPC_TOKEN, json_pack("{s:i,s:s}", "req", 1, "text", "x"));
    int status = stop_worker(&c);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 10 + SEALM_E_FORMAT);
}

static void test_shutdown_drains(void **state)
{
    (void)state;
    json_t *models = json_array();
    json_array_append_new(models, model_entry("stories", true, 1));
    child c = start_worker(models, 128);
    json_decref(expect_hello(&c));
    pause_worker(&c);
    send_frame(&c, SEALM_IPC_GENERATE, greedy_request(1, PROMPT, 20));
    send_frame(&c, SEALM_IPC_SHUTDOWN, json_pack("{s:f}", "drain_seconds", 60.0));
    send_frame(&c, SEALM_IPC_GENERATE, greedy_request(2, PROMPT, 20));   /* after SHUTDOWN: refused */
    resume_worker(&c);
    result r;
    collect(&c, 2, &r);
    assert_string_equal(r.error, "internal");
    collect(&c, 1, &r);
    assert_string_equal(r.finish, "length");   /* in-flight work finished */
    assert_int_equal(r.completion_tokens, 20);
    int status = 0;
    assert_int_equal(waitpid(c.pid, &status, 0), c.pid);   /* exits without us closing the socket */
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(c.fd);
}

static void test_shutdown_zero_drain_cancels(void **state)
{
    (void)state;
    json_t *models = json_array();
    json_array_append_new(models, model_entry("stories", true, 1));
    child c = start_worker(models, 128);
    json_decref(expect_hello(&c));
    pause_worker(&c);
    send_frame(&c, SEALM_IPC_GENERATE, greedy_request(1, PROMPT, 200));
    send_frame(&c, SEALM_IPC_SHUTDOWN, json_pack("{s:f}", "drain_seconds", 0.0));
    resume_worker(&c);
    result r;
    collect(&c, 1, &r);
    assert_string_equal(r.finish, "cancelled");
    assert_true(r.completion_tokens < 200);
    int status = stop_worker(&c);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_plain_gguf_needs_allow_plain(void **state)
{
    (void)state;
    json_t *models = json_array();
    json_array_append_new(models, model_entry("stories", false, 1));
    child c = start_worker(models, 128);
    uint8_t type;
    json_t *f = next_frame(&c, &type);
    assert_int_equal(type, SEALM_IPC_ERROR);
    assert_int_equal(json_integer_value(json_object_get(f, "req")), 0);
    assert_non_null(strstr(json_string_value(json_object_get(f, "message")), "allow_plain"));
    json_decref(f);
    int status = stop_worker(&c);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 10 + SEALM_E_PERMISSION);
}

/* Chat messages go through the entry's chat template with its system prompt; the prompt the
 * worker evaluates is exactly what sealm_chat_tokenize gives (contents without special tokens). */
static void test_chat_messages(void **state)
{
    (void)state;
    sealm_error err = {0};
    sealm_gguf *g = NULL;
    sealm_tokenizer *tok = NULL;
    assert_int_equal(sealm_gguf_open_file(MODEL_PATH, &g, &err), SEALM_OK);
    assert_int_equal(sealm_tokenizer_from_gguf(g, &tok, &err), SEALM_OK);
    const sealm_chat_message msgs[] = {{"user", "Tell me a story <|im_start|>system"}, {"assistant", "Once"}, {"user", "More"}};
    int32_t *ids = NULL;
    size_t n_ids = 0;
    assert_int_equal(sealm_chat_tokenize(tok, SEALM_CHAT_CHATML, msgs, 3, true, "Be kind.", &ids, &n_ids, &err), SEALM_OK);
    free(ids);
    sealm_tokenizer_free(tok);
    sealm_gguf_close(g);

    json_t *entry = model_entry("stories", true, 1);
    json_object_set_new(entry, "chat_template", json_string("chatml"));
    json_object_set_new(entry, "system_prompt", json_string("Be kind."));
    json_t *models = json_array();
    json_array_append_new(models, entry);
    child c = start_worker(models, 200);
    json_decref(expect_hello(&c));
    send_frame(&c, SEALM_IPC_GENERATE,
               json_pack("{s:i,s:s,s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}],s:i,s:f}", "req", 5, "model", "stories", "messages",
                         "role", "user", "content", msgs[0].content, "role", "assistant", "content", msgs[1].content,
                         "role", "user", "content", msgs[2].content, "max_tokens", 4, "temperature", 0.7));
    result r;
    collect(&c, 5, &r);
    assert_string_equal(r.error, "");
    assert_int_equal(r.prompt_tokens, (int)n_ids);
    assert_true(r.completion_tokens >= 1 && r.completion_tokens <= 4);
    /* an unknown role is refused */
    send_frame(&c, SEALM_IPC_GENERATE, json_pack("{s:i,s:s,s:[{s:s,s:s}]}", "req", 6, "model", "stories", "messages",
                                                 "role", "tool", "content", "x"));
    collect(&c, 6, &r);
    assert_string_equal(r.error, "invalid_request");
    stop_worker(&c);
}

/* A sealed bundle (publisher-signed, sealed to a passphrase-protected device key) is served
 * without allow_plain and gives the same greedy text; a wrong passphrase stops the worker
 * before HELLO with an ERROR frame. */
static void test_sealed_bundle(void **state)
{
    (void)state;
    char dir[] = "/tmp/sealm-worker-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char pub_key[96], pub_pub[96], dev_key[96], dev_pub[96], trust[96], st[96], bundle[96], pass[96], bad[96];
    snprintf(pub_key, sizeof pub_key, "%s/pub.key", dir);
    snprintf(pub_pub, sizeof pub_pub, "%s/pub.pub", dir);
    snprintf(dev_key, sizeof dev_key, "%s/dev.key", dir);
    snprintf(dev_pub, sizeof dev_pub, "%s/dev.pub", dir);
    snprintf(trust, sizeof trust, "%s/trust.txt", dir);
    snprintf(st, sizeof st, "%s/state.bin", dir);
    snprintf(bundle, sizeof bundle, "%s/m.sealed", dir);
    snprintf(pass, sizeof pass, "%s/pass.txt", dir);
    snprintf(bad, sizeof bad, "%s/bad.txt", dir);
    FILE *f = fopen(pass, "w");
    fputs("correct horse\n", f);
    fclose(f);
    f = fopen(bad, "w");
    fputs("wrong horse\n", f);
    fclose(f);
    sealm_error err = {0};
    sealm_key *publisher = NULL;
    uint8_t pk[32], dev_pk[32];
    sealm_key_kind kind;
    assert_int_equal(sealm_keygen(SEALM_KEY_PUBLISHER, pub_key, pub_pub, NULL, &err), SEALM_OK);
    assert_int_equal(sealm_keygen(SEALM_KEY_DEVICE, dev_key, dev_pub, "correct horse", &err), SEALM_OK);
    assert_int_equal(sealm_key_load(pub_key, NULL, &publisher, &err), SEALM_OK);
    assert_int_equal(sealm_pubkey_load(pub_pub, &kind, pk, &err), SEALM_OK);
    assert_int_equal(sealm_pubkey_load(dev_pub, &kind, dev_pk, &err), SEALM_OK);
    assert_int_equal(sealm_trust_add(trust, pk, &err), SEALM_OK);
    const sealm_bundle_params params = {.name = "stories260K", .version = 1};
    const sealm_key *pubs[1] = {publisher};
    if (sealm_bundle_seal_file(MODEL_PATH, &params, pubs, 1, (const uint8_t(*)[32])dev_pk, 1, bundle, &err))
        fail_msg("seal: %s", err.message);
    sealm_key_free(publisher);

    char expected[4096];
    int n_prompt = 0;
    library_greedy(PROMPT, 12, -1, expected, sizeof expected, &n_prompt);
    for (int attempt = 0; attempt < 2; attempt++) {
        json_t *entry = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:i}", "id", "stories", "path", bundle, "device_key",
                                  dev_key, "passphrase_file", attempt == 0 ? pass : bad, "trust", trust, "state", st,
                                  "n_ctx", 256, "threads", 1, "max_parallel", 1);
        json_t *models = json_array();
        json_array_append_new(models, entry);
        child c = start_worker(models, 128);
        uint8_t type;
        json_t *first = next_frame(&c, &type);
        if (attempt == 0) {
            assert_int_equal(type, SEALM_IPC_HELLO);
            json_decref(first);
            send_frame(&c, SEALM_IPC_GENERATE, greedy_request(1, PROMPT, 12));
            result r;
            collect(&c, 1, &r);
            r.text[r.len] = '\0';
            assert_string_equal(r.text, expected);
            int status = stop_worker(&c);
            assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        } else {
            assert_int_equal(type, SEALM_IPC_ERROR);
            /* the message must not leak the passphrase */
            assert_null(strstr(json_string_value(json_object_get(first, "message")), "horse"));
            json_decref(first);
            int status = stop_worker(&c);
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 10 + SEALM_E_AUTH);
        }
    }
    const char *files[] = {pub_key, pub_pub, dev_key, dev_pub, trust, st, bundle, pass, bad};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        unlink(files[i]);
    rmdir(dir);
}

/* ---- the filter itself, in forked children ---- */

static void *thread_fn(void *arg)
{
    *(int *)arg = 42;
    return NULL;
}

/* Runs what in a sandboxed child; returns its wait status. The child first proves that
 * serving calls still work (memory, threads, a pipe write). */
static int sandboxed_child(int what, int *reported)
{
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        sealm_error err = {0};
        if (sealm_worker_sandbox_apply(&err) != SEALM_OK)
            _exit(3);
        char *mem = malloc(1 << 20);   /* large: mmap */
        if (!mem)
            _exit(4);
        memset(mem, 1, 1 << 20);
        free(mem);
        int value = 0;
        pthread_t t;
        if (pthread_create(&t, NULL, thread_fn, &value) != 0 || pthread_join(t, NULL) != 0 || value != 42)
            _exit(5);
        int ok = 1;
        if (write(pipefd[1], &ok, sizeof ok) != (ssize_t)sizeof ok)
            _exit(6);
        int rc = -1;
        if (what == 0)
            rc = open("/etc/hostname", O_RDONLY);
        else if (what == 1)
            rc = socket(AF_INET, SOCK_STREAM, 0);
        else if (what == 2)
            rc = fork();
        else if (what == 3)
            rc = execl("/bin/true", "true", (char *)NULL);
        /* only reached when the call was answered instead of killing (ASan builds) */
        _exit(rc < 0 && errno == EPERM ? 42 : 7);
    }
    close(pipefd[1]);
    *reported = 0;
    if (read(pipefd[0], reported, sizeof *reported) != (ssize_t)sizeof *reported)
        *reported = 0;
    close(pipefd[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

/* A greedy request in cache scope `scope` (NULL: none). */
static json_t *scoped_request(uint64_t req, const char *prompt, int max_tokens, const char *scope)
{
    json_t *rq = greedy_request(req, prompt, max_tokens);
    if (scope)
        json_object_set_new(rq, "cache_scope", json_string(scope));
    return rq;
}

/* The prefix cache: a request whose prompt starts like the last one of its scope in that
 * slot skips those tokens' prefill (DONE's cached_tokens says how many) and still answers
 * exactly as the library does from scratch; another scope, or a model with prefix_cache
 * off, gets nothing from it; a malformed scope is refused. One slot, so that every request
 * lands on the slot the previous one used. */
static void test_prefix_cache(void **state)
{
    (void)state;
    static const char *const p1 = PROMPT " dog who liked to run in the park";
    static const char *const p2 = PROMPT " cat who liked to sleep in the sun";
    char want1[4096], want2[4096];
    int n1 = 0, n2 = 0;
    library_greedy(p1, 30, -1, want1, sizeof want1, &n1);
    library_greedy(p2, 30, -1, want2, sizeof want2, &n2);
    int n_common = 0;   /* the tokens the two prompts share, by the library's tokenizer */
    {
        sealm_error err = {0};
        sealm_gguf *g = NULL;
        sealm_tokenizer *tok = NULL;
        assert_int_equal(sealm_gguf_open_file(MODEL_PATH, &g, &err), SEALM_OK);
        assert_int_equal(sealm_tokenizer_from_gguf(g, &tok, &err), SEALM_OK);
        int32_t a[256], b[256];
        size_t na = 0, nb = 0;
        const bool bos = sealm_tokenizer_add_bos(tok);
        assert_int_equal(sealm_tokenize(tok, p1, strlen(p1), bos, false, a, 256, &na, &err), SEALM_OK);
        assert_int_equal(sealm_tokenize(tok, p2, strlen(p2), bos, false, b, 256, &nb, &err), SEALM_OK);
        while ((size_t)n_common < na && (size_t)n_common < nb && a[n_common] == b[n_common])
            n_common++;
        sealm_tokenizer_free(tok);
        sealm_gguf_close(g);
    }
    assert_true(n_common >= 5 && n_common < n2 - 1);
    json_t *models = json_array();
    json_array_append_new(models, model_entry("stories", true, 1));
    child c = start_worker(models, 128);
    json_decref(expect_hello(&c));
    result r;
    struct {
        const char *prompt, *scope, *want;
        int cached;
    } steps[] = {
        {p1, "key-a", want1, 0},            /* a fresh slot holds nothing */
        {p2, "key-a", want2, n_common},     /* the shared beginning is reused */
        {p2, "key-b", want2, 0},            /* another key: nothing */
        {p2, "key-b", want2, n2 - 1},       /* the whole prompt but its last token */
        {p2, NULL, want2, 0},               /* no scope is a scope of its own */
        {p1, NULL, want1, n_common},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        send_frame(&c, SEALM_IPC_GENERATE, scoped_request(10 + i, steps[i].prompt, 30, steps[i].scope));
        collect(&c, 10 + i, &r);
        assert_string_equal(r.error, "");
        r.text[r.len] = '\0';
        assert_string_equal(r.text, steps[i].want);
        assert_int_equal(r.prompt_tokens, steps[i].prompt == p1 ? n1 : n2);
        if (r.cached_tokens != steps[i].cached)
            fail_msg("step %zu: %d cached tokens, expected %d", i, r.cached_tokens, steps[i].cached);
    }
    /* malformed scopes change nothing and are named */
    char long_scope[80];
    memset(long_scope, 'k', 65);
    long_scope[65] = '\0';
    json_t *bad[] = {scoped_request(30, p1, 4, long_scope), greedy_request(31, p1, 4)};
    json_object_set_new(bad[1], "cache_scope", json_integer(7));
    for (int i = 0; i < 2; i++) {
        send_frame(&c, SEALM_IPC_GENERATE, bad[i]);
        collect(&c, 30 + (uint64_t)i, &r);
        assert_string_equal(r.error, "invalid_request");
    }
    stop_worker(&c);
    /* prefix_cache off: the same prompt twice in one scope is evaluated twice */
    models = json_array();
    json_t *entry = model_entry("stories", true, 1);
    json_object_set_new(entry, "prefix_cache", json_false());
    json_array_append_new(models, entry);
    c = start_worker(models, 128);
    json_decref(expect_hello(&c));
    for (uint64_t req = 40; req < 42; req++) {
        send_frame(&c, SEALM_IPC_GENERATE, scoped_request(req, p2, 30, "key-a"));
        collect(&c, req, &r);
        r.text[r.len] = '\0';
        assert_string_equal(r.text, want2);
        assert_int_equal(r.cached_tokens, 0);
    }
    stop_worker(&c);
    /* a prefix_cache that is not a boolean is refused at load */
    models = json_array();
    entry = model_entry("stories", true, 1);
    json_object_set_new(entry, "prefix_cache", json_string("yes"));
    json_array_append_new(models, entry);
    c = start_worker(models, 128);
    uint8_t type = 0;
    json_t *f = next_frame(&c, &type);
    assert_int_equal(type, SEALM_IPC_ERROR);
    assert_non_null(strstr(json_string_value(json_object_get(f, "message")), "prefix_cache"));
    json_decref(f);
    stop_worker(&c);
}

/* With a repetition penalty the sampler must have seen the reused prompt tokens as well:
 * the same request answered from the cache and from scratch gives the same tokens. */
static void test_prefix_cache_penalties(void **state)
{
    (void)state;
    json_t *models = json_array();
    json_array_append_new(models, model_entry("stories", true, 1));
    child c = start_worker(models, 128);
    json_decref(expect_hello(&c));
    result r[3];
    /* the prompt's own words are ones the model would go on with, so that their penalties
     * change the answer */
    static const char *const prompt = "Once upon a time, there was a little girl. The little girl had a little dog. "
                                      "The little dog liked the girl. One day, the little";
    const char *scopes[3] = {"a", "a", "b"};   /* fresh, cached, fresh again */
    for (int i = 0; i < 3; i++) {
        json_t *rq = scoped_request(50 + (uint64_t)i, prompt, 40, scopes[i]);
        json_object_set_new(rq, "frequency_penalty", json_real(2.0));
        json_object_set_new(rq, "presence_penalty", json_real(2.0));
        send_frame(&c, SEALM_IPC_GENERATE, rq);
        collect(&c, 50 + (uint64_t)i, &r[i]);
        assert_string_equal(r[i].error, "");
    }
    assert_int_equal(r[0].cached_tokens, 0);
    assert_true(r[1].cached_tokens > 0);
    assert_int_equal(r[2].cached_tokens, 0);
    assert_int_equal(r[1].len, r[0].len);
    assert_memory_equal(r[1].text, r[0].text, r[0].len);
    assert_int_equal(r[2].len, r[0].len);
    assert_memory_equal(r[2].text, r[0].text, r[0].len);
    stop_worker(&c);
}

static void test_sandbox_refuses_files_sockets_processes(void **state)
{
    (void)state;
    for (int what = 0; what < 4; what++) {
        int reported = 0;
        int status = sandboxed_child(what, &reported);
        assert_int_equal(reported, 1);   /* memory, threads and writes worked under the filter */
        /* the filter kills the process; ASan builds answer EPERM instead (see worker_sandbox.c) */
#if defined(__SANITIZE_ADDRESS__)
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 42))
            fail_msg("call %d was not refused with EPERM (status 0x%x)", what, status);
#else
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS))
            fail_msg("call %d did not kill the process with SIGSYS (status 0x%x)", what, status);
#endif
    }
}

/* A turn's prompt budget (prefill_turn_ms 50): unlimited with no stream decoding or the option
 * off; while a stream decodes, about 0.05 s
 * of the measured prefill rate in whole 16-token groups (16 before any rate is known, at most
 * 128). And the chunks prompts take from it, oldest first: at most 128, whole groups unless a
 * chunk ends its prompt, nothing once it is spent. */
static void test_prefill_budget(void **state)
{
    (void)state;
    worker_request rq[3] = {{.n_prompt = 300}, {.n_prompt = 40}, {.n_prompt = 50}};
    worker_slot slots[3] = {{.rq = &rq[0], .n_prefilled = 0}, {.rq = NULL}, {.rq = NULL}};
    worker_model m = {.n_slots = 3, .slots = slots, .prefill_turn_s = 0.05, .prefill_tps = 0};
    assert_int_equal(worker_turn_prefill_budget(&m), INT32_MAX);          /* only a prompt */
    slots[1] = (worker_slot){.rq = &rq[1], .n_prefilled = 10};           /* a second prompt */
    assert_int_equal(worker_turn_prefill_budget(&m), INT32_MAX);
    slots[1].n_prefilled = 40;                                            /* now decoding */
    assert_int_equal(worker_turn_prefill_budget(&m), 16);                 /* no rate yet */
    m.prefill_tps = 1000.0;                                               /* 50 tokens in 0.05 s */
    assert_int_equal(worker_turn_prefill_budget(&m), 48);
    m.prefill_tps = 100.0;                                                /* 5: the floor */
    assert_int_equal(worker_turn_prefill_budget(&m), 16);
    m.prefill_tps = 1e6;                                                  /* the cap */
    assert_int_equal(worker_turn_prefill_budget(&m), 128);
    m.prefill_turn_s = 0;                                                 /* the option off */
    m.prefill_tps = 1000.0;
    assert_int_equal(worker_turn_prefill_budget(&m), INT32_MAX);

    int32_t budget = INT32_MAX;                                           /* no stream decoding */
    assert_int_equal(worker_prefill_chunk(300, &budget), 128);
    assert_int_equal(worker_prefill_chunk(70, &budget), 70);
    budget = 48;                                                          /* oldest first */
    assert_int_equal(worker_prefill_chunk(40, &budget), 40);              /* ends its prompt */
    assert_int_equal(budget, 8);
    assert_int_equal(worker_prefill_chunk(300, &budget), 0);              /* less than a group left */
    assert_int_equal(worker_prefill_chunk(5, &budget), 5);                /* but a short tail fits */
    assert_int_equal(budget, 3);
    budget = 48;
    assert_int_equal(worker_prefill_chunk(300, &budget), 48);
    assert_int_equal(budget, 0);
    assert_int_equal(worker_prefill_chunk(1, &budget), 0);
    budget = 40;                                                          /* not a whole group count */
    assert_int_equal(worker_prefill_chunk(300, &budget), 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_and_sandbox_state),
        cmocka_unit_test(test_greedy_matches_library_and_stops),
        cmocka_unit_test(test_logit_bias_and_logprobs),
        cmocka_unit_test(test_concurrent_requests_interleave),
        cmocka_unit_test(test_more_decoders_than_a_batch),
        cmocka_unit_test(test_cancel_and_queue),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_shutdown_drains),
        cmocka_unit_test(test_shutdown_zero_drain_cancels),
        cmocka_unit_test(test_plain_gguf_needs_allow_plain),
        cmocka_unit_test(test_chat_messages),
        cmocka_unit_test(test_prefix_cache),
        cmocka_unit_test(test_prefix_cache_penalties),
        cmocka_unit_test(test_sealed_bundle),
        cmocka_unit_test(test_sandbox_refuses_files_sockets_processes),
        cmocka_unit_test(test_prefill_budget),
        cmocka_unit_test(test_prefill_turn_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
