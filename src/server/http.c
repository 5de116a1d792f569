/* sealmd front — the HTTP API on libmicrohttpd: routing, authentication, body limits,
 * OpenAI-style errors, and the relay of completions to the worker (plain JSON or SSE).
 *
 * MHD runs one thread per connection, so a connection thread may block while it waits for
 * the worker's frames; a streaming response is a content-reader callback that blocks for
 * the next token. When a client goes away mid-stream MHD fails the next write and frees the
 * response, and the free callback sends CANCEL so the worker's slot is released. */
#include "server/front.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <inttypes.h>
#include <poll.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct front_http {
    struct MHD_Daemon *unix_d, *tcp_d;
    const front_config *cfg;
    front_auth *auth;
    bool mtls;
    atomic_int active;           /* requests being answered */
    atomic_bool draining;        /* SIGTERM: no new work */
    char id_prefix[17];          /* random per process: response ids do not reveal counts across restarts */
};

/* Per-connection request state (MHD's con_cls). */
typedef struct request {
    front_http *h;
    char *body;
    size_t len;
    bool too_large;
    bool counted;
    double t0;
} request;

/* A streaming answer in progress: owned by the MHD response. */
typedef struct stream {
    front_http *h;
    front_pending *p;
    front_key key;
    api_request rq;
    char id[48];
    int64_t created;
    double t0, last_t;
    bool sent_role, done, ended;
    char *out;                   /* SSE bytes not yet handed to MHD */
    size_t out_len, out_at;
    int64_t prompt_tokens, completion_tokens;
    int64_t cached_tokens;       /* of prompt_tokens, taken from the worker's prefix cache */
    int64_t text_offset;         /* bytes of completion text sent so far (completions logprobs) */
    char finish[16];
    struct answer_guard *ag;     /* guard state (owned); NULL: none */
    json_t *lp_pending;          /* logprob entries of tokens not yet released: {"t","lp","end"} */
    size_t total;                /* model bytes received */
    int64_t n_tokens;            /* TOKEN frames received */
} stream;

/* ---- responses ---- */

/* A response owning text (freed with it, or here when it cannot be made), of the given type. */
static struct MHD_Response *text_response(char *text, const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", type);
    return r;
}

/* Queues r with status, releases our reference and counts the request. */
static enum MHD_Result queue_counted(struct MHD_Connection *c, int status, struct MHD_Response *r)
{
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    front_metrics_request(status);
    return ok;
}

/* A new JSON string: the string value of head followed by tail[0, n). */
static json_t *joined_string(const json_t *head, const char *tail, size_t n)
{
    size_t h = json_string_length(head);
    char *buf = malloc(h + n + 1);
    if (!buf)
        return json_null();
    memcpy(buf, json_string_value(head), h);
    memcpy(buf + h, tail, n);
    json_t *j = json_stringn(buf, h + n);
    free(buf);
    return j ? j : json_null();
}

static enum MHD_Result send_json(struct MHD_Connection *c, int status, json_t *body, double retry_after)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        return MHD_NO;
    struct MHD_Response *r = text_response(text, "application/json");
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (retry_after > 0) {
        char ra[32];
        snprintf(ra, sizeof ra, "%.0f", retry_after);
        MHD_add_response_header(r, "Retry-After", ra);
    }
    if (status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    return queue_counted(c, status, r);
}

static json_t *error_body(const api_error *e)
{
    return json_pack("{s:{s:s,s:s,s:s?,s:s?}}", "error", "message", e->message, "type", e->type ? e->type : "server_error",
                     "param", e->param[0] ? e->param : NULL, "code", e->code);
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *type, const char *code,
                                  const char *message, double retry_after)
{
    api_error e = {.status = status, .type = type, .code = code};
    snprintf(e.message, sizeof e.message, "%s", message);
    return send_json(c, status, error_body(&e), retry_after);
}

/* One log line per answered request: identifiers and numbers only. */
static void log_request(uint64_t req, const char *key_id, const char *model, const char *path, int status,
                        const char *decision, int64_t pt, int64_t ct, double t0, double ttft)
{
    json_t *f = json_pack("{s:I,s:s?,s:s?,s:s,s:i,s:s,s:I,s:I,s:f}", "request_id", (json_int_t)req, "key_id", key_id,
                          "model", model, "path", path, "status", status, "decision", decision, "prompt_tokens",
                          (json_int_t)pt, "completion_tokens", (json_int_t)ct, "latency_ms", (front_now() - t0) * 1000);
    if (f && ttft >= 0)
        json_object_set_new(f, "ttft_ms", json_real(ttft * 1000));
    front_log("info", "request", f);
    json_decref(f);
}

/* ---- mTLS ---- */

/* With a client CA configured, MHD asks for a client certificate; this checks that one was
 * presented and that it chains to the CA. */
static bool client_cert_ok(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return false;
    gnutls_session_t s = (gnutls_session_t)ci->tls_session;
    unsigned n = 0;
    if (!gnutls_certificate_get_peers(s, &n) || n == 0)
        return false;
    unsigned status = 0;
    if (gnutls_certificate_verify_peers2(s, &status) != GNUTLS_E_SUCCESS)
        return false;
    return status == 0;
}

/* ---- completions ---- */

/* Whether the client has closed its end (checked while a non-streaming answer is being
 * generated, so that a client that gave up does not keep a worker slot busy). */
static bool client_gone(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return false;
    struct pollfd pfd = {.fd = ci->connect_fd, .events = POLLRDHUP};
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Next event for p, waiting at most timeout_s but giving up early (NULL, *hung = true) when
 * the client disconnects. */
static front_event *next_or_hangup(struct MHD_Connection *c, front_pending *p, double timeout_s, bool *hung)
{
    double end = front_now() + timeout_s;
    *hung = false;
    for (;;) {
        /* One poll() per token or per quarter second: cheap next to a decoding step. */
        if (client_gone(c)) {
            *hung = true;
            return NULL;
        }
        double left = end - front_now();
        front_event *e = front_relay_next(p, left < 0.25 ? (left > 0 ? left : 0) : 0.25);
        if (e || p->worker_gone || front_now() >= end)
            return e;
    }
}

/* OpenAI's usage object; cached: the prompt tokens the worker took from its prefix cache. */
static json_t *usage_json(int64_t pt, int64_t ct, int64_t cached)
{
    return json_pack("{s:I,s:I,s:I,s:{s:I}}", "prompt_tokens", (json_int_t)pt, "completion_tokens", (json_int_t)ct,
                     "total_tokens", (json_int_t)(pt + ct), "prompt_tokens_details", "cached_tokens", (json_int_t)cached);
}

static int worker_error_status(const char *code, api_error *e)
{
    e->type = "invalid_request_error";
    if (code && strcmp(code, "prompt_too_long") == 0) {
        e->code = "context_length_exceeded";
        e->status = 400;
        snprintf(e->param, sizeof e->param, "messages");
    } else if (code && strcmp(code, "model_not_found") == 0) {
        e->code = "model_not_found";
        e->status = 404;
    } else if (code && strcmp(code, "invalid_request") == 0) {
        e->code = "invalid_value";
        e->status = 400;
    } else {
        e->type = "server_error";
        e->code = "internal_error";
        e->status = 500;
    }
    return e->status;
}

static void fill_worker_error(const front_event *ev, api_error *e)
{
    memset(e, 0, sizeof *e);
    const char *m = json_string_value(json_object_get(ev->body, "message"));
    snprintf(e->message, sizeof e->message, "%s", m ? m : "the worker refused the request");
    worker_error_status(json_string_value(json_object_get(ev->body, "code")), e);
}

static void make_id(front_http *h, const api_request *rq, uint64_t req, char out[48])
{
    snprintf(out, 48, "%s-%s%" PRIx64, rq->chat ? "chatcmpl" : "cmpl", h->id_prefix, req);
}

/* The guard state of one answer: the per-request policy and vault, and the output filter
 * (NULL when nothing needs filtering). Owned by the answer. */
typedef struct answer_guard {
    front_guard_request g;
    front_guard_output *out;
} answer_guard;

static void answer_guard_free(answer_guard *ag)
{
    if (!ag)
        return;
    front_guard_output_free(ag->out);
    front_guard_request_free(&ag->g);
    free(ag);
}

/* After the output guard stopped an answer: cancels the generation and waits (bounded) for
 * the worker's DONE, which carries the token counts the key is charged for. */
static void cancel_and_count(front_pending *p, double timeout_s, int64_t *pt, int64_t *ct)
{
    front_relay_cancel(p);
    double end = front_now() + timeout_s;
    for (;;) {
        double left = end - front_now();
        front_event *ev = left > 0 ? front_relay_next(p, left) : NULL;
        if (!ev)
            return;
        int kind = ev->kind;
        if (kind == EV_DONE) {
            *pt = json_integer_value(json_object_get(ev->body, "prompt_tokens"));
            *ct = json_integer_value(json_object_get(ev->body, "completion_tokens"));
        }
        front_event_free(ev);
        if (kind != EV_TOKEN)
            return;
    }
}

/* Runs one token's text through the output guard (if any). *out and *n: what the client may see;
 * *released: model bytes released so far. Returns true when the guard blocked the output. */
static bool guard_token(answer_guard *ag, const char *t, size_t len, size_t *total, const char **out, size_t *n,
                        size_t *released)
{
    *total += len;
    if (!ag || !ag->out) {
        *out = t;
        *n = len;
        *released = *total;
        return false;
    }
    return front_guard_output_push(ag->out, t, len, out, n, released);
}

static void log_output_guard(answer_guard *ag, uint64_t req, const front_key *key, const char *model)
{
    if (!ag || !ag->out)
        return;
    const front_guard_report *r = front_guard_output_report(ag->out);
    bool leak = r->blocked && r->block_kind == SEALM_GUARD_CANARY;
    front_guard_log(leak ? "canary_leak" : "guard_output", req, key->id, model, GUARD_OUTPUT, r, &ag->g.policy);
}

/* Non-streaming: collects the whole answer, then one JSON document. */
static enum MHD_Result answer_whole(struct MHD_Connection *c, front_http *h, front_pending *p, front_event *first,
                                    const front_key *key, api_request *rq, double t0, const char *path, answer_guard *ag)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    json_t *lp_content = json_array(), *lp_tokens = json_array(), *lp_values = json_array(), *lp_offsets = json_array();
    json_t *lp_ends = json_array();   /* model bytes up to the end of each token */
    front_event *ev = first;
    double ttft = -1, last = t0;
    int64_t pt = 0, ct = 0, cached = 0, n_tokens = 0;
    const char *finish = "stop";
    char finish_buf[16] = "stop";
    api_error e = {0};
    bool failed = false, blocked = false;
    size_t total = 0, released = 0;
    double timeout = (double)h->cfg->limits.request_timeout_s;
    while (ev) {
        if (ev->kind == EV_TOKEN) {
            json_t *tv = json_object_get(ev->body, "text");
            const char *t = json_string_value(tv);
            if (ttft < 0) {
                ttft = ev->t - t0;
                front_metrics_ttft(ttft);
            } else {
                front_metrics_token_latency(ev->t - last);
            }
            last = ev->t;
            n_tokens++;
            json_t *lpv = json_object_get(ev->body, "logprob");
            size_t n_entries = json_array_size(lp_tokens);
            if (rq->logprobs && t && !lpv) {
                /* Bytes the worker held back (an unfinished character, a stop-string prefix)
                 * and sends at the end without a logprob: no new token, they complete the
                 * last one. */
                if (n_entries > 0) {
                    json_t *joined = joined_string(json_array_get(lp_tokens, n_entries - 1), t, json_string_length(tv));
                    json_array_set(lp_tokens, n_entries - 1, joined);
                    if (rq->chat)
                        json_object_set(json_array_get(lp_content, n_entries - 1), "token", joined);
                    json_decref(joined);
                    json_t *end = json_array_get(lp_ends, n_entries - 1);
                    json_integer_set(end, json_integer_value(end) + (json_int_t)json_string_length(tv));
                }
            } else if (rq->logprobs && t) {
                /* Logprobs are offered only when the guard cannot rewrite text, so the model's
                 * bytes and the answer's bytes are the same: offsets carry over. */
                if (rq->chat)
                    json_array_append_new(lp_content, json_pack("{s:s,s:O,s:[]}", "token", t, "logprob", lpv,
                                                                "top_logprobs"));
                json_array_append_new(lp_tokens, json_string(t));
                json_array_append(lp_values, lpv);
                json_array_append_new(lp_offsets, json_integer((json_int_t)total));
                json_array_append_new(lp_ends, json_integer((json_int_t)(total + json_string_length(tv))));
            }
            const char *out;
            size_t n;
            blocked = guard_token(ag, t ? t : "", t ? json_string_length(tv) : 0, &total, &out, &n, &released);
            fwrite(out, 1, n, mem);
            if (blocked) {
                front_event_free(ev);
                ev = NULL;
                pt = 0;
                ct = n_tokens;
                cancel_and_count(p, timeout, &pt, &ct);
                finish = "content_filter";
                break;
            }
        } else if (ev->kind == EV_DONE) {
            pt = json_integer_value(json_object_get(ev->body, "prompt_tokens"));
            ct = json_integer_value(json_object_get(ev->body, "completion_tokens"));
            cached = json_integer_value(json_object_get(ev->body, "cached_tokens"));
            const char *f = json_string_value(json_object_get(ev->body, "finish_reason"));
            snprintf(finish_buf, sizeof finish_buf, "%s", f ? f : "stop");
            finish = finish_buf;
            front_event_free(ev);
            if (ag && ag->out) {
                const char *out;
                size_t n;
                blocked = front_guard_output_finish(ag->out, &out, &n, &released);
                fwrite(out, 1, n, mem);
                if (blocked)
                    finish = "content_filter";
            }
            break;
        } else {
            fill_worker_error(ev, &e);
            failed = true;
            front_event_free(ev);
            break;
        }
        front_event_free(ev);
        bool hung;
        ev = next_or_hangup(c, p, timeout, &hung);
        if (!ev && hung) {
            /* Nobody to answer: front_relay_end below cancels the generation. */
            uint64_t req = p->req;
            fclose(mem);
            front_relay_end(p);
            log_output_guard(ag, req, key, rq->model);
            log_request(req, key->id, rq->model, path, 499, "client_disconnected", pt, ct, t0, ttft);
            free(text);
            json_decref(lp_content);
            json_decref(lp_tokens);
            json_decref(lp_values);
            json_decref(lp_offsets);
            json_decref(lp_ends);
            return MHD_NO;
        }
        if (!ev) {
            failed = true;
            e = (api_error){.status = p->worker_gone ? 503 : 504, .type = "server_error", .code = "worker_unavailable"};
            snprintf(e.message, sizeof e.message, "%s", p->worker_gone ? "the inference worker is not available" : "generation timed out");
        }
    }
    fclose(mem);
    /* Only the tokens whose bytes were all released keep their logprob entry: what a block
     * held back must not reappear there. */
    size_t keep = 0;
    while (keep < json_array_size(lp_ends) && (size_t)json_integer_value(json_array_get(lp_ends, keep)) <= released)
        keep++;
    while (json_array_size(lp_tokens) > keep) {
        size_t at = json_array_size(lp_tokens) - 1;
        json_array_remove(lp_tokens, at);
        json_array_remove(lp_values, at);
        json_array_remove(lp_offsets, at);
        if (rq->chat)
            json_array_remove(lp_content, at);
    }
    uint64_t req = p->req;
    front_relay_end(p);
    log_output_guard(ag, req, key, rq->model);
    enum MHD_Result r;
    if (failed) {
        front_metrics_reject(e.code ? e.code : "error");
        log_request(req, key->id, rq->model, path, e.status, "worker_error", pt, ct, t0, ttft);
        r = send_json(c, e.status, error_body(&e), 0);
    } else {
        front_metrics_tokens(pt, ct);
        front_auth_charge(h->auth, key->id, front_now(), pt + ct);
        char id[48];
        make_id(h, rq, req, id);
        json_t *choice;
        json_t *content = json_stringn(text, len);
        if (!content)
            content = json_string("");
        if (rq->chat) {
            choice = json_pack("{s:i,s:{s:s,s:o},s:o,s:s}", "index", 0, "message", "role", "assistant", "content", content,
                               "logprobs", rq->logprobs ? json_pack("{s:O}", "content", lp_content) : json_null(),
                               "finish_reason", finish);
        } else {
            choice = json_pack("{s:o,s:i,s:o,s:s}", "text", content, "index", 0, "logprobs",
                               rq->logprobs ? json_pack("{s:O,s:O,s:n,s:O}", "tokens", lp_tokens, "token_logprobs", lp_values,
                                                        "top_logprobs", "text_offset", lp_offsets)
                                            : json_null(),
                               "finish_reason", finish);
        }
        json_t *doc = json_pack("{s:s,s:s,s:I,s:s,s:[o],s:o}", "id", id, "object", rq->chat ? "chat.completion" : "text_completion",
                                "created", (json_int_t)time(NULL), "model", rq->model, "choices", choice, "usage",
                                usage_json(pt, ct, cached));
        log_request(req, key->id, rq->model, path, 200, blocked ? "content_filter" : "ok", pt, ct, t0, ttft);
        r = send_json(c, 200, doc, 0);
    }
    if (text)
        sodium_memzero(text, len);
    free(text);
    json_decref(lp_content);
    json_decref(lp_tokens);
    json_decref(lp_values);
    json_decref(lp_offsets);
    json_decref(lp_ends);
    return r;
}

/* Appends one SSE event "data: <json>\n\n" to the stream's buffer. */
static void sse_append(stream *s, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text)
        return;
    size_t n = strlen(text);
    char *nb = realloc(s->out, s->out_len + n + 8);
    if (nb) {
        s->out = nb;
        memcpy(s->out + s->out_len, "data: ", 6);
        memcpy(s->out + s->out_len + 6, text, n);
        memcpy(s->out + s->out_len + 6 + n, "\n\n", 2);
        s->out_len += n + 8;
    }
    free(text);
}

static void sse_raw(stream *s, const char *text)
{
    size_t n = strlen(text);
    char *nb = realloc(s->out, s->out_len + n);
    if (nb) {
        s->out = nb;
        memcpy(s->out + s->out_len, text, n);
        s->out_len += n;
    }
}

static json_t *chunk(stream *s, json_t *choice)
{
    return json_pack("{s:s,s:s,s:I,s:s,s:[o]}", "id", s->id, "object", s->rq.chat ? "chat.completion.chunk" : "text_completion",
                     "created", (json_int_t)s->created, "model", s->rq.model, "choices", choice);
}

/* One SSE chunk with released text and the logprob entries of the tokens it completes. */
static void stream_text(stream *s, const char *text, size_t n, size_t released)
{
    json_t *entries = json_array();
    while (json_array_size(s->lp_pending) > 0) {
        json_t *pe = json_array_get(s->lp_pending, 0);
        if ((size_t)json_integer_value(json_object_get(pe, "end")) > released)
            break;
        json_array_append(entries, pe);
        json_array_remove(s->lp_pending, 0);
    }
    if (n == 0 && json_array_size(entries) == 0) {
        json_decref(entries);
        return;
    }
    json_t *lp = json_null();
    size_t i;
    json_t *pe;
    if (s->rq.logprobs && s->rq.chat) {
        json_t *content = json_array();
        json_array_foreach(entries, i, pe)
            json_array_append_new(content, json_pack("{s:O,s:O,s:[]}", "token", json_object_get(pe, "t"), "logprob",
                                                     json_object_get(pe, "lp"), "top_logprobs"));
        lp = json_pack("{s:o}", "content", content);
    } else if (s->rq.logprobs) {
        json_t *toks = json_array(), *vals = json_array(), *offs = json_array();
        json_array_foreach(entries, i, pe) {
            json_array_append(toks, json_object_get(pe, "t"));
            json_array_append(vals, json_object_get(pe, "lp"));
            json_array_append_new(offs, json_integer((json_int_t)s->text_offset));
            s->text_offset += (int64_t)json_string_length(json_object_get(pe, "t"));
        }
        lp = json_pack("{s:o,s:o,s:n,s:o}", "tokens", toks, "token_logprobs", vals, "top_logprobs", "text_offset", offs);
    }
    json_decref(entries);
    json_t *str = json_stringn(text, n);
    if (!str)
        str = json_string("");
    json_t *choice;
    if (s->rq.chat) {
        json_t *delta = s->sent_role ? json_pack("{s:o}", "content", str)
                                     : json_pack("{s:s,s:o}", "role", "assistant", "content", str);
        choice = json_pack("{s:i,s:o,s:o,s:n}", "index", 0, "delta", delta, "logprobs", lp, "finish_reason");
    } else {
        choice = json_pack("{s:o,s:i,s:o,s:n}", "text", str, "index", 0, "logprobs", lp, "finish_reason");
    }
    s->sent_role = true;
    sse_append(s, chunk(s, choice));
}

/* The closing chunks: finish_reason, usage when asked, [DONE]. */
static void stream_close(stream *s)
{
    json_t *choice = s->rq.chat ? json_pack("{s:i,s:{},s:n,s:s}", "index", 0, "delta", "logprobs", "finish_reason", s->finish)
                                : json_pack("{s:s,s:i,s:n,s:s}", "text", "", "index", 0, "logprobs", "finish_reason", s->finish);
    sse_append(s, chunk(s, choice));
    if (s->rq.include_usage) {
        json_t *u = json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", s->id, "object",
                              s->rq.chat ? "chat.completion.chunk" : "text_completion", "created", (json_int_t)s->created,
                              "model", s->rq.model, "choices", "usage", usage_json(s->prompt_tokens, s->completion_tokens, s->cached_tokens));
        sse_append(s, u);
    }
    sse_raw(s, "data: [DONE]\n\n");
}

/* The output guard stopped the answer: cancel the generation, close the stream cleanly. */
static void stream_blocked(stream *s)
{
    s->done = true;
    s->prompt_tokens = 0;
    s->completion_tokens = s->n_tokens;
    cancel_and_count(s->p, (double)s->h->cfg->limits.request_timeout_s, &s->prompt_tokens, &s->completion_tokens);
    snprintf(s->finish, sizeof s->finish, "content_filter");
    stream_close(s);
}

/* Turns one worker event into SSE bytes. */
static void stream_event(stream *s, front_event *ev)
{
    if (ev->kind == EV_TOKEN) {
        if (s->n_tokens == 0) {
            front_metrics_ttft(ev->t - s->t0);
        } else {
            front_metrics_token_latency(ev->t - s->last_t);
        }
        s->last_t = ev->t;
        s->n_tokens++;
        json_t *tv = json_object_get(ev->body, "text");
        const char *t = json_string_value(tv);
        size_t tl = t ? json_string_length(tv) : 0;
        json_t *lpv = json_object_get(ev->body, "logprob");
        size_t n_pending = json_array_size(s->lp_pending);
        if (s->rq.logprobs && lpv) {
            json_array_append_new(s->lp_pending, json_pack("{s:s%,s:O,s:I}", "t", t ? t : "", tl, "lp", lpv,
                                                           "end", (json_int_t)(s->total + tl)));
        } else if (s->rq.logprobs && n_pending > 0) {
            /* held-back bytes sent at the end without a logprob: they complete the last
             * token, while its entry is still pending; once it went out, they go out as text
             * only (an entry with no logprob would break the schema) */
            json_t *pe = json_array_get(s->lp_pending, n_pending - 1);
            json_object_set_new(pe, "t", joined_string(json_object_get(pe, "t"), t ? t : "", tl));
            json_t *end = json_object_get(pe, "end");
            json_integer_set(end, json_integer_value(end) + (json_int_t)tl);
        }
        const char *out;
        size_t n, released;
        if (guard_token(s->ag, t ? t : "", tl, &s->total, &out, &n, &released)) {
            stream_blocked(s);
            return;
        }
        stream_text(s, out, n, released);
        return;
    }
    s->done = true;
    if (ev->kind == EV_DONE) {
        s->prompt_tokens = json_integer_value(json_object_get(ev->body, "prompt_tokens"));
        s->completion_tokens = json_integer_value(json_object_get(ev->body, "completion_tokens"));
        s->cached_tokens = json_integer_value(json_object_get(ev->body, "cached_tokens"));
        const char *f = json_string_value(json_object_get(ev->body, "finish_reason"));
        snprintf(s->finish, sizeof s->finish, "%s", f ? f : "stop");
        if (s->ag && s->ag->out) {
            const char *out;
            size_t n, released;
            if (front_guard_output_finish(s->ag->out, &out, &n, &released))
                snprintf(s->finish, sizeof s->finish, "content_filter");
            else
                stream_text(s, out, n, released);
        }
        stream_close(s);
    } else {
        api_error e;
        fill_worker_error(ev, &e);
        snprintf(s->finish, sizeof s->finish, "error");
        sse_append(s, error_body(&e));
        sse_raw(s, "data: [DONE]\n\n");
    }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *s = cls;
    while (s->out_at == s->out_len) {
        s->out_len = s->out_at = 0;
        if (s->done) {
            s->ended = true;
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        front_event *ev = front_relay_next(s->p, (double)s->h->cfg->limits.request_timeout_s);
        if (!ev) {
            /* The worker is gone or silent past the timeout: say so in-band and end. */
            api_error e = {.status = 503, .type = "server_error", .code = "worker_unavailable"};
            snprintf(e.message, sizeof e.message, "the inference worker is not available");
            sse_append(s, error_body(&e));
            sse_raw(s, "data: [DONE]\n\n");
            snprintf(s->finish, sizeof s->finish, "error");
            s->done = true;
            continue;
        }
        stream_event(s, ev);
        front_event_free(ev);
    }
    size_t n = s->out_len - s->out_at;
    if (n > max)
        n = max;
    memcpy(buf, s->out + s->out_at, n);
    s->out_at += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream *s = cls;
    bool cancelled = !s->ended;
    uint64_t req = s->p->req;
    front_relay_end(s->p);    /* sends CANCEL when the worker still generates for us */
    front_metrics_tokens(s->prompt_tokens, s->completion_tokens);
    front_auth_charge(s->h->auth, s->key.id, front_now(), s->prompt_tokens + s->completion_tokens);
    log_output_guard(s->ag, req, &s->key, s->rq.model);
    log_request(req, s->key.id, s->rq.model, s->rq.chat ? "/v1/chat/completions" : "/v1/completions", 200,
                cancelled                                   ? "client_disconnected"
                : strcmp(s->finish, "content_filter") == 0 ? "content_filter"
                                                            : "ok",
                s->prompt_tokens, s->completion_tokens, s->t0, -1);
    answer_guard_free(s->ag);
    json_decref(s->lp_pending);
    atomic_fetch_sub(&s->h->active, 1);
    front_key_release(&s->key);
    json_decref(s->rq.generate);
    free(s->out);
    free(s);
}

static enum MHD_Result answer_stream(struct MHD_Connection *c, front_http *h, front_pending *p, front_event *first,
                                     front_key *key, api_request *rq, double t0, answer_guard *ag)
{
    stream *s = calloc(1, sizeof *s);
    if (!s || !(s->lp_pending = json_array())) {
        free(s);
        answer_guard_free(ag);
        front_event_free(first);
        front_relay_end(p);
        return MHD_NO;
    }
    s->ag = ag;
    s->h = h;
    s->p = p;
    s->key = *key;            /* takes the key copy */
    memset(key, 0, sizeof *key);
    s->rq = *rq;
    rq->generate = NULL;
    s->t0 = t0;
    s->created = time(NULL);
    make_id(h, rq, p->req, s->id);
    stream_event(s, first);
    front_event_free(first);
    atomic_fetch_add(&h->active, 1);
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
    if (!r) {
        stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    return queue_counted(c, 200, r);
}

/* The guard for one validated request: resolves the key's and model's policy, screens the
 * input in place (a block is an error for the client, and nothing reaches the worker), draws
 * the canary for the model's system prompt, and sets up the output filter. Returns 0 or the
 * HTTP status with *e filled. */
static int guard_request(front_http *h, const front_key *key, api_request *rq, answer_guard **out, api_error *e)
{
    const front_config *cfg = h->cfg;
    const front_model *cm = NULL;
    for (size_t i = 0; i < cfg->n_models && !cm; i++)
        if (strcmp(cfg->models[i].id, rq->model) == 0)
            cm = &cfg->models[i];
    const json_t *hm = NULL;
    size_t i;
    json_t *m;
    json_array_foreach((json_t *)front_worker_models(), i, m)
        if (!hm && strcmp(json_string_value(json_object_get(m, "id")) ? json_string_value(json_object_get(m, "id")) : "",
                          rq->model) == 0)
            hm = m;
    answer_guard *ag = calloc(1, sizeof *ag);
    sealm_error err = {0};
    memset(e, 0, sizeof *e);
    e->type = "server_error";
    e->code = "guard_error";
    e->status = 500;
    snprintf(e->message, sizeof e->message, "the guard could not be set up (out of memory)");
    if (!ag || !cm) {
        free(ag);
        return 500;
    }
    /* Only a chat has a system prompt; the worker says whether the model has an operator's
     * (manifest or config) prompt to protect. */
    bool has_system = rq->chat && json_is_string(json_object_get(hm, "system_prompt"));
    if (front_guard_request_init(&ag->g, cfg, cm, key, has_system, &err)) {
        answer_guard_free(ag);
        return 500;
    }
    int rc = front_guard_input(&ag->g, cfg, rq->generate, e);
    if (rc) {
        front_guard_log("guard_input", 0, key->id, rq->model, GUARD_INPUT, &ag->g.input, &ag->g.policy);
        answer_guard_free(ag);
        return rc;
    }
    if (front_guard_output_new(&ag->g, cfg, &ag->out, &err)) {
        answer_guard_free(ag);
        return 500;
    }
    /* A rewriting filter (redaction, policy, re-personalization) changes the text under the
     * tokens: their logprob entries would no longer describe what the client reads, or would
     * show what was redacted. */
    if (rq->logprobs && ag->out && front_guard_output_rewrites(&ag->g)) {
        answer_guard_free(ag);
        memset(e, 0, sizeof *e);
        e->status = 400;
        e->type = "invalid_request_error";
        e->code = "logprobs_unavailable";
        snprintf(e->param, sizeof e->param, "logprobs");
        snprintf(e->message, sizeof e->message, "logprobs are not available for this model: its output guard rewrites text");
        return 400;
    }
    if (ag->g.canary[0])
        json_object_set_new(rq->generate, "canary", json_string(ag->g.canary));
    *out = ag;
    return 0;
}

static enum MHD_Result handle_completion(struct MHD_Connection *c, front_http *h, request *rqs, front_key *key,
                                         bool chat, const char *path)
{
    json_error_t jerr;
    json_t *body = json_loadb(rqs->body ? rqs->body : "", rqs->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body) {
        front_metrics_reject("malformed_json");
        return send_error(c, 400, "invalid_request_error", "invalid_json",
                          "the request body is not valid JSON (or has duplicate keys)", 0);
    }
    api_request rq;
    api_error e;
    int rc = api_validate(body, chat, key, h->cfg, front_worker_models(), &rq, &e);
    json_decref(body);
    if (rc) {
        front_metrics_reject(e.code ? e.code : "invalid");
        log_request(0, key->id, NULL, path, rc, e.code ? e.code : "invalid", 0, 0, rqs->t0, -1);
        return send_json(c, rc, error_body(&e), 0);
    }
    double retry;
    const char *reason;
    if (!front_auth_admit(h->auth, key->id, front_now(), &retry, &reason)) {
        json_decref(rq.generate);
        front_metrics_reject(reason);
        log_request(0, key->id, rq.model, path, 429, reason, 0, 0, rqs->t0, -1);
        char msg[128];
        snprintf(msg, sizeof msg, "rate limit reached (%s); retry after %.0f s", reason, retry);
        return send_error(c, 429, "rate_limit_error", strcmp(reason, "quota") == 0 ? "insufficient_quota" : "rate_limit_exceeded",
                          msg, retry);
    }
    sealm_error err;
    answer_guard *ag = NULL;
    if ((rc = guard_request(h, key, &rq, &ag, &e))) {
        json_decref(rq.generate);
        front_metrics_reject(e.code ? e.code : "guard");
        log_request(0, key->id, rq.model, path, rc, e.code ? e.code : "guard", 0, 0, rqs->t0, -1);
        return send_json(c, rc, error_body(&e), 0);
    }
    /* the worker reuses a cached prompt prefix only within one key's requests */
    json_object_set_new(rq.generate, "cache_scope", json_string(key->id));
    front_pending *p = front_relay_start(rq.generate, &err);
    if (!p) {
        answer_guard_free(ag);
        json_decref(rq.generate);
        front_metrics_reject("worker_unavailable");
        return send_error(c, 503, "server_error", "worker_unavailable", "the inference worker is not available", 0);
    }
    front_guard_log("guard_input", p->req, key->id, rq.model, GUARD_INPUT, &ag->g.input, &ag->g.policy);
    /* Wait for the first frame before choosing the status: a prompt that is too long must
     * be a 400, not a 200 stream that ends in an error. */
    bool hung;
    front_event *first = next_or_hangup(c, p, (double)h->cfg->limits.request_timeout_s, &hung);
    if (!first || first->kind == EV_ERROR)
        answer_guard_free(ag);
    if (!first && hung) {
        uint64_t req = p->req;
        front_relay_end(p);   /* cancels: the client left while the request was queued */
        json_decref(rq.generate);
        log_request(req, key->id, rq.model, path, 499, "client_disconnected", 0, 0, rqs->t0, -1);
        return MHD_NO;
    }
    if (!first) {
        bool gone = p->worker_gone;
        front_relay_end(p);
        json_decref(rq.generate);
        front_metrics_reject(gone ? "worker_unavailable" : "timeout");
        return send_error(c, gone ? 503 : 504, "server_error", gone ? "worker_unavailable" : "timeout",
                          gone ? "the inference worker is not available" : "no answer from the model in time", 0);
    }
    if (first->kind == EV_ERROR) {
        fill_worker_error(first, &e);
        front_event_free(first);
        front_relay_end(p);
        json_decref(rq.generate);
        front_metrics_reject(e.code);
        log_request(0, key->id, rq.model, path, e.status, e.code, 0, 0, rqs->t0, -1);
        return send_json(c, e.status, error_body(&e), 0);
    }
    enum MHD_Result r;
    if (rq.stream) {
        r = answer_stream(c, h, p, first, key, &rq, rqs->t0, ag);
    } else {
        r = answer_whole(c, h, p, first, key, &rq, rqs->t0, path, ag);
        answer_guard_free(ag);
    }
    json_decref(rq.generate);
    return r;
}

static enum MHD_Result handle_models(struct MHD_Connection *c, const front_key *key, const char *one)
{
    json_t *data = json_array();
    size_t i;
    json_t *m;
    json_array_foreach((json_t *)front_worker_models(), i, m) {
        const char *id = json_string_value(json_object_get(m, "id"));
        if (!id || !front_auth_model_allowed(key, id) || (one && strcmp(one, id) != 0))
            continue;
        json_t *created = json_object_get(m, "created");
        json_array_append_new(data, json_pack("{s:s,s:s,s:I,s:s}", "id", id, "object", "model", "created",
                                              (json_int_t)(json_is_integer(created) ? json_integer_value(created) : 0),
                                              "owned_by", "sealmd"));
    }
    if (one) {
        json_t *hit = json_incref(json_array_get(data, 0));
        json_decref(data);
        if (!hit)
            return send_error(c, 404, "invalid_request_error", "model_not_found", "the model does not exist", 0);
        return send_json(c, 200, hit, 0);
    }
    return send_json(c, 200, json_pack("{s:s,s:o}", "object", "list", "data", data), 0);
}

static enum MHD_Result send_text(struct MHD_Connection *c, int status, char *text, const char *type)
{
    if (!text)
        return MHD_NO;
    struct MHD_Response *r = text_response(text, type);
    return r ? queue_counted(c, status, r) : MHD_NO;
}

/* ---- routing ---- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    front_http *h = cls;
    request *rqs = *con_cls;
    if (!rqs) {
        if (!(rqs = calloc(1, sizeof *rqs)))
            return MHD_NO;
        rqs->h = h;
        rqs->t0 = front_now();
        *con_cls = rqs;
        return MHD_YES;
    }
    if (*upload_size) {
        /* Bodies are bounded before they are parsed; the excess is read and dropped so that
         * the client gets a clean 400 instead of a reset. */
        if (!rqs->too_large && rqs->len + *upload_size > (size_t)h->cfg->limits.max_body_bytes) {
            rqs->too_large = true;
            free(rqs->body);
            rqs->body = NULL;
            rqs->len = 0;
        }
        if (!rqs->too_large) {
            char *nb = realloc(rqs->body, rqs->len + *upload_size + 1);
            if (!nb)
                return MHD_NO;
            rqs->body = nb;
            memcpy(rqs->body + rqs->len, upload, *upload_size);
            rqs->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }

    if (h->mtls && !client_cert_ok(c)) {
        front_metrics_reject("client_certificate");
        return send_error(c, 401, "authentication_error", "client_certificate_required",
                          "a client certificate issued by the configured CA is required", 0);
    }
    if (atomic_load(&h->draining)) {
        front_metrics_reject("shutting_down");
        return send_error(c, 503, "server_error", "shutting_down", "the server is shutting down", 0);
    }
    if (strcmp(url, "/health") == 0) {
        if (strcmp(method, "GET") != 0)
            return send_error(c, 405, "invalid_request_error", "method_not_allowed", "use GET", 0);
        bool ok = front_worker_ready();
        return send_json(c, ok ? 200 : 503, json_pack("{s:s}", "status", ok ? "ok" : "unavailable"), 0);
    }
    bool chat = strcmp(url, "/v1/chat/completions") == 0, compl = strcmp(url, "/v1/completions") == 0;
    bool models = strcmp(url, "/v1/models") == 0, metrics = strcmp(url, "/metrics") == 0;
    const char *one_model = strncmp(url, "/v1/models/", 11) == 0 && url[11] ? url + 11 : NULL;
    if (!chat && !compl && !models && !metrics && !one_model) {
        front_metrics_reject("not_found");
        return send_error(c, 404, "invalid_request_error", "unknown_url", "unknown path", 0);
    }
    const char *want = chat || compl ? "POST" : "GET";
    if (strcmp(method, want) != 0) {
        front_metrics_reject("method_not_allowed");
        return send_error(c, 405, "invalid_request_error", "method_not_allowed",
                          chat || compl ? "this endpoint takes POST" : "this endpoint takes GET", 0);
    }
    front_key key;
    front_auth_result ar = front_auth_check(h->auth, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"), &key);
    if (ar != AUTH_OK) {
        front_metrics_reject(ar == AUTH_MISSING ? "missing_api_key" : "invalid_api_key");
        log_request(0, NULL, NULL, url, 401, ar == AUTH_MISSING ? "missing_api_key" : "invalid_api_key", 0, 0, rqs->t0, -1);
        return send_error(c, 401, "authentication_error", ar == AUTH_MISSING ? "missing_api_key" : "invalid_api_key",
                          ar == AUTH_MISSING ? "no API key given (Authorization: Bearer <key>)" : "invalid API key", 0);
    }
    enum MHD_Result r;
    if (metrics) {
        if (!(key.features & FEATURE_METRICS)) {
            front_metrics_reject("metrics_not_allowed");
            r = send_error(c, 403, "permission_error", "metrics_not_allowed", "this API key may not read metrics", 0);
        } else {
            r = send_text(c, 200, front_metrics_render(), "text/plain; version=0.0.4");
        }
    } else if (models || one_model) {
        r = handle_models(c, &key, one_model);
    } else if (rqs->too_large) {
        front_metrics_reject("body_too_large");
        char msg[96];
        snprintf(msg, sizeof msg, "the request body is larger than %lld bytes", (long long)h->cfg->limits.max_body_bytes);
        r = send_error(c, 400, "invalid_request_error", "request_too_large", msg, 0);
    } else if (!front_worker_ready()) {
        front_metrics_reject("worker_unavailable");
        r = send_error(c, 503, "server_error", "worker_unavailable", "the inference worker is not available", 0);
    } else if (atomic_load(&h->active) >= h->cfg->limits.max_in_flight) {
        /* Beyond this the worker's queue only grows: tell the client to come back. */
        front_metrics_reject("server_busy");
        r = send_error(c, 429, "rate_limit_error", "server_busy", "too many requests in flight; retry shortly", 1);
    } else {
        atomic_fetch_add(&h->active, 1);
        r = handle_completion(c, h, rqs, &key, chat, url);
        atomic_fetch_sub(&h->active, 1);
    }
    front_key_release(&key);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    request *rqs = *con_cls;
    if (rqs) {
        free(rqs->body);
        free(rqs);
        *con_cls = NULL;
    }
}

/* MHD's own diagnostics go through the JSON log like everything else. */
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = 0;
    json_t *f = json_pack("{s:s}", "component", "http");
    front_log("warning", msg, f);
    json_decref(f);
}

static struct MHD_Daemon *start_daemon(front_http *h, int fd, const front_tls *tls, unsigned flags)
{
    struct MHD_OptionItem opts[10];
    int n = 0;
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_logger, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, 256, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL};
    if (tls) {
        flags |= MHD_USE_TLS;
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, tls->cert};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, tls->key};
        if (tls->ca)
            opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, tls->ca};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}

sealm_status front_http_start(const front_config *cfg, front_auth *auth, const front_tls *tls, int unix_fd, int tcp_fd,
                              front_http **out, sealm_error *err)
{
    front_http *h = calloc(1, sizeof *h);
    if (!h)
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    h->cfg = cfg;
    h->auth = auth;
    h->mtls = tls && tls->ca;
    uint8_t rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
        memset(rnd, 0, sizeof rnd);
    for (int i = 0; i < 8; i++)
        snprintf(h->id_prefix + 2 * i, 3, "%02x", rnd[i]);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (unix_fd >= 0 && !(h->unix_d = start_daemon(h, unix_fd, NULL, flags))) {
        free(h);
        return sealm_error_set(err, SEALM_E_IO, "cannot start the HTTP server on the unix socket");
    }
    if (tcp_fd >= 0 && !(h->tcp_d = start_daemon(h, tcp_fd, tls, flags))) {
        front_http_stop(h);
        return sealm_error_set(err, SEALM_E_IO, "cannot start the HTTPS server (check listen.tcp cert and key)");
    }
    *out = h;
    return SEALM_OK;
}

void front_http_quiesce(front_http *h)
{
    atomic_store(&h->draining, true);
    /* MHD hands back the listening socket; closing it refuses new connections at once. */
    if (h->unix_d) {
        MHD_socket s = MHD_quiesce_daemon(h->unix_d);
        if (s != MHD_INVALID_SOCKET)
            close(s);
    }
    if (h->tcp_d) {
        MHD_socket s = MHD_quiesce_daemon(h->tcp_d);
        if (s != MHD_INVALID_SOCKET)
            close(s);
    }
}

int front_http_active(front_http *h)
{
    return atomic_load(&h->active);
}

void front_http_stop(front_http *h)
{
    if (h->unix_d)
        MHD_stop_daemon(h->unix_d);
    if (h->tcp_d)
        MHD_stop_daemon(h->tcp_d);
    free(h);
}
