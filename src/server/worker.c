/* sealmd worker — the serving loop: GENERATE frames become requests in a per-model FIFO,
 * up to max_parallel of them run at once in their own engine contexts, and every turn each
 * running request advances by one step (a prefill chunk or one token), round-robin, so that
 * no request waits for another to finish. One thread does all of it: between turns it reads
 * whatever frames have arrived without blocking, and blocks in poll() only when idle. */
#include "sealm/server.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "sealm/guard.h"
#include "server/ipc.h"
#include "server/worker.h"

enum {
    PREFILL_CHUNK = 128,        /* prompt tokens per turn: bounds how long a new prompt delays others */
    PREFILL_CHUNK_MIN = 16,     /* the shortest chunk: one token group of the tiled products */
    FRAMES_PER_TURN = 64,       /* frames read between turns: a flood of frames cannot stall decoding */
    DEFAULT_MAX_PROMPT = 2048,
    DEFAULT_MAX_TOKENS = 512,
    MAX_STOPS = 16,
    PIECE_BYTES = 512,          /* text of one token (a vocabulary entry is far shorter) */
};

typedef struct worker {
    int fd;
    worker_model *models;
    size_t n_models;
    int64_t max_prompt_tokens;
    int64_t max_tokens;
    bool shutting_down;
    struct timespec drain_deadline;
    char piece[PIECE_BYTES];    /* scratch for one token's text, reused every token */
} worker;

/* ---- frames out ---- */

static sealm_status send_error(worker *w, uint64_t req, const char *code, const char *message, sealm_error *err)
{
    json_t *body = json_pack("{s:I,s:s,s:s}", "req", (json_int_t)req, "code", code, "message", message);
    if (!body)
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    sealm_status st = sealm_ipc_send(w->fd, SEALM_IPC_ERROR, body, err);
    json_decref(body);
    return st;
}

/* n_cached: prompt tokens taken from the prefix cache instead of evaluated. */
static sealm_status send_done(worker *w, uint64_t req, const char *reason, int32_t n_prompt, int32_t n_cached,
                              int32_t n_completion, sealm_error *err)
{
    json_t *body = json_pack("{s:I,s:s,s:i,s:i,s:i}", "req", (json_int_t)req, "finish_reason", reason, "prompt_tokens",
                             (int)n_prompt, "cached_tokens", (int)n_cached, "completion_tokens", (int)n_completion);
    if (!body)
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    sealm_status st = sealm_ipc_send(w->fd, SEALM_IPC_DONE, body, err);
    json_decref(body);
    return st;
}

/* A JSON string of text[0..len); bytes that are not valid UTF-8 (a model can emit byte
 * tokens that never form a character) become U+FFFD. */
static json_t *text_string(const char *text, size_t len)
{
    json_t *s = json_stringn(text, len);
    if (s)
        return s;
    char *clean = malloc(len * 3 + 1);
    if (!clean)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)text[i];
        size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        json_t *probe = n && i + n <= len ? json_stringn(text + i, n) : NULL;
        if (probe) {
            memcpy(clean + o, text + i, n);
            o += n;
            i += n;
            json_decref(probe);
        } else {
            memcpy(clean + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += 1;
        }
    }
    s = json_stringn(clean, o);
    free(clean);
    return s;
}

static sealm_status send_token(worker *w, uint64_t req, const char *text, size_t len, bool with_logprob, double logprob,
                               sealm_error *err)
{
    json_t *body = json_object();
    json_t *s = text_string(text, len);
    if (!body || !s || json_object_set_new(body, "req", json_integer((json_int_t)req)) ||
        json_object_set_new(body, "text", s) ||
        (with_logprob && json_object_set_new(body, "logprob", json_real(logprob)))) {
        if (!body)
            json_decref(s);
        json_decref(body);
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    }
    sealm_status st = sealm_ipc_send(w->fd, SEALM_IPC_TOKEN, body, err);
    json_decref(body);
    return st;
}

static sealm_status send_hello(worker *w, sealm_error *err)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < w->n_models; i++) {
        const worker_model *m = &w->models[i];
        /* Where the system prompt comes from, never its text: the front plants a canary only
         * where there is an operator's prompt to protect, and warns about a conflict. */
        json_t *e = json_pack("{s:s,s:i,s:i,s:I,s:s,s:s?,s:b}", "id", m->id, "n_ctx", (int)m->n_ctx, "n_vocab",
                              (int)m->n_vocab, "created", (json_int_t)m->created, "architecture", m->architecture,
                              "system_prompt", m->system_source, "system_prompt_conflict", m->system_conflict);
        if (!e || json_array_append_new(list, e)) {
            json_decref(list);
            list = NULL;
        }
    }
    json_t *body = list ? json_pack("{s:o}", "models", list) : NULL;
    if (!body)
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    sealm_status st = sealm_ipc_send(w->fd, SEALM_IPC_HELLO, body, err);
    json_decref(body);
    return st;
}

/* ---- GENERATE → request ---- */

/* Why a GENERATE frame was refused: an ERROR code and a message without prompt text. */
typedef struct refusal {
    const char *code;
    char message[160];
} refusal;

static bool refuse(refusal *r, const char *code, const char *message)
{
    r->code = code;
    snprintf(r->message, sizeof r->message, "%s", message);
    return false;
}

/* A number member in [lo, hi] into *out; def when absent or null. */
static bool get_number(const json_t *body, const char *key, double def, double lo, double hi, double *out, refusal *r)
{
    const json_t *v = json_object_get(body, key);
    *out = def;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < lo || json_number_value(v) > hi) {
        r->code = "invalid_request";
        snprintf(r->message, sizeof r->message, "\"%s\" must be a number in [%g, %g]", key, lo, hi);
        return false;
    }
    *out = json_number_value(v);
    return true;
}

static bool get_integer(const json_t *body, const char *key, int64_t def, int64_t lo, int64_t hi, int64_t *out, refusal *r)
{
    const json_t *v = json_object_get(body, key);
    *out = def;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        r->code = "invalid_request";
        snprintf(r->message, sizeof r->message, "\"%s\" must be an integer in [%lld, %lld]", key, (long long)lo,
                 (long long)hi);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

static bool parse_sampling(const json_t *body, worker_request *rq, refusal *r)
{
    double temperature, top_p, min_p, presence, frequency;
    int64_t top_k, seed;
    if (!get_number(body, "temperature", 1.0, 0.0, 2.0, &temperature, r) || !get_number(body, "top_p", 1.0, 0.0, 1.0, &top_p, r) ||
        !get_number(body, "min_p", 0.0, 0.0, 1.0, &min_p, r) ||
        !get_number(body, "presence_penalty", 0.0, -2.0, 2.0, &presence, r) ||
        !get_number(body, "frequency_penalty", 0.0, -2.0, 2.0, &frequency, r) ||
        !get_integer(body, "top_k", 0, 0, 1 << 20, &top_k, r))
        return false;
    const json_t *seed_v = json_object_get(body, "seed");
    if (seed_v && !json_is_null(seed_v)) {
        if (!get_integer(body, "seed", 0, INT64_MIN, INT64_MAX, &seed, r))
            return false;
        rq->sample.seed = (uint64_t)seed;
    } else {
        uint64_t random_seed = 0;
        if (getrandom(&random_seed, sizeof random_seed, 0) != (ssize_t)sizeof random_seed)
            random_seed = (uint64_t)time(NULL);
        rq->sample.seed = random_seed;
    }
    rq->sample.temperature = (float)temperature;
    rq->sample.top_p = (float)top_p;
    rq->sample.min_p = (float)min_p;
    rq->sample.top_k = (int32_t)top_k;
    rq->sample.presence_penalty = (float)presence;
    rq->sample.frequency_penalty = (float)frequency;
    rq->sample.repeat_penalty = 1.0f;
    const json_t *lp = json_object_get(body, "logprobs");
    if (lp && !json_is_boolean(lp) && !json_is_null(lp))
        return refuse(r, "invalid_request", "\"logprobs\" must be true or false");
    rq->logprobs = json_is_true(lp);
    return true;
}

static bool parse_stops(const json_t *body, worker_request *rq, refusal *r)
{
    const json_t *stop = json_object_get(body, "stop");
    if (!stop || json_is_null(stop))
        return true;
    if (!json_is_array(stop) || json_array_size(stop) > MAX_STOPS)
        return refuse(r, "invalid_request", "\"stop\" must be an array of at most 16 strings");
    rq->stops = calloc(json_array_size(stop) + 1, sizeof *rq->stops);
    if (!rq->stops)
        return refuse(r, "internal", "out of memory");
    size_t i;
    json_t *s;
    json_array_foreach(stop, i, s) {
        if (!json_is_string(s) || json_string_length(s) == 0 || json_string_length(s) > 256)
            return refuse(r, "invalid_request", "every stop string must be a non-empty string of at most 256 bytes");
        if (!(rq->stops[rq->n_stops] = strdup(json_string_value(s))))
            return refuse(r, "internal", "out of memory");
        rq->n_stops++;
    }
    return true;
}

static bool parse_logit_bias(const json_t *body, const worker_model *m, worker_request *rq, refusal *r)
{
    const json_t *bias = json_object_get(body, "logit_bias");
    if (!bias || json_is_null(bias))
        return true;
    if (!json_is_object(bias) || json_object_size(bias) > 1024)
        return refuse(r, "invalid_request", "\"logit_bias\" must be an object of at most 1024 entries");
    size_t n = json_object_size(bias);
    rq->bias_ids = malloc((n ? n : 1) * sizeof *rq->bias_ids);
    rq->bias_values = malloc((n ? n : 1) * sizeof *rq->bias_values);
    if (!rq->bias_ids || !rq->bias_values)
        return refuse(r, "internal", "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)bias, key, v) {
        char *end = NULL;
        errno = 0;
        long id = strtol(key, &end, 10);
        if (!*key || *end || errno || id < 0 || id >= m->n_vocab)
            return refuse(r, "invalid_request", "\"logit_bias\" keys must be token ids of the model's vocabulary");
        if (!json_is_number(v) || !isfinite(json_number_value(v)) || fabs(json_number_value(v)) > 100.0)
            return refuse(r, "invalid_request", "\"logit_bias\" values must be numbers in [-100, 100]");
        rq->bias_ids[rq->n_bias] = (int32_t)id;
        rq->bias_values[rq->n_bias] = (float)json_number_value(v);
        rq->n_bias++;
    }
    return true;
}

/* Tokenizes a plain prompt: BOS as the tokenizer says, control tokens never parsed from it. */
static bool tokenize_prompt(const worker_model *m, const char *text, size_t len, worker_request *rq, refusal *r)
{
    const bool add_bos = sealm_tokenizer_add_bos(m->tok);
    size_t cap = len + 8, n = 0;
    sealm_error err = {0};
    if (!(rq->prompt = malloc(cap * sizeof *rq->prompt)))
        return refuse(r, "internal", "out of memory");
    sealm_status st = sealm_tokenize(m->tok, text, len, add_bos, false, rq->prompt, cap, &n, &err);
    if (st == SEALM_E_INVALID && n > cap) {
        int32_t *bigger = realloc(rq->prompt, n * sizeof *bigger);
        if (!bigger)
            return refuse(r, "internal", "out of memory");
        rq->prompt = bigger;
        cap = n;
        st = sealm_tokenize(m->tok, text, len, add_bos, false, rq->prompt, cap, &n, &err);
    }
    if (st)
        return refuse(r, "internal", "the prompt could not be tokenized");
    rq->n_prompt = (int32_t)n;
    return true;
}

/* Renders and tokenizes chat messages with the model's template; contents never carry
 * control tokens (sealm_chat_tokenize tokenizes them with parse_special off). */
static bool tokenize_messages(const worker_model *m, const json_t *messages, const char *canary, worker_request *rq,
                              refusal *r)
{
    if (m->chat_format == SEALM_CHAT_UNKNOWN)
        return refuse(r, "invalid_request", "this model has no chat template; use the completions endpoint");
    size_t n = json_array_size(messages);
    if (n == 0)
        return refuse(r, "invalid_request", "\"messages\" must not be empty");
    sealm_chat_message *msgs = calloc(n, sizeof *msgs);
    if (!msgs)
        return refuse(r, "internal", "out of memory");
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        const json_t *msg = json_array_get(messages, i);
        const json_t *role = json_object_get(msg, "role"), *content = json_object_get(msg, "content");
        if (!json_is_object(msg) || !json_is_string(role) || !json_is_string(content)) {
            ok = refuse(r, "invalid_request", "every message needs a string \"role\" and \"content\"");
        } else if (strcmp(json_string_value(role), "system") && strcmp(json_string_value(role), "user") &&
                   strcmp(json_string_value(role), "assistant")) {
            ok = refuse(r, "invalid_request", "message roles must be system, user or assistant");
        } else if (strlen(json_string_value(content)) != json_string_length(content)) {
            ok = refuse(r, "invalid_request", "message contents must not contain NUL characters");
        } else {
            msgs[i].role = json_string_value(role);
            msgs[i].content = json_string_value(content);
        }
    }
    /* The operator's system prompt (manifest or config) is never replaced by a request: a
     * request's own system message (allowed by the key's system_prompt feature) is appended
     * to it, in the same system turn, which every template supports. The canary the front
     * drew for this request goes into it. */
    char *system = NULL, *merged = NULL;
    const char *default_system = m->default_system;
    if (ok && m->system_source) {
        sealm_error err = {0};
        if (canary && sealm_guard_canary_plant(m->default_system, canary, &system, &err))
            ok = refuse(r, err.code == SEALM_E_NOMEM ? "internal" : "invalid_request", "\"canary\" is malformed");
        default_system = system ? system : m->default_system;
        if (ok && !strcmp(msgs[0].role, "system")) {
            size_t a = strlen(default_system), b = strlen(msgs[0].content);
            if (!(merged = malloc(a + b + 3))) {
                ok = refuse(r, "internal", "out of memory");
            } else {
                memcpy(merged, default_system, a);
                memcpy(merged + a, "\n\n", 2);
                memcpy(merged + a + 2, msgs[0].content, b + 1);
                msgs[0].content = merged;
            }
        }
    }
    if (ok) {
        size_t n_ids = 0;
        sealm_error err = {0};
        if (sealm_chat_tokenize(m->tok, m->chat_format, msgs, n, true, default_system, &rq->prompt, &n_ids, &err))
            ok = refuse(r, err.code == SEALM_E_NOMEM ? "internal" : "invalid_request", "the chat template could not be applied");
        rq->n_prompt = (int32_t)n_ids;
    }
    if (system) {
        sodium_memzero(system, strlen(system));
        free(system);
    }
    if (merged) {
        sodium_memzero(merged, strlen(merged));
        free(merged);
    }
    free(msgs);
    return ok;
}

/* Builds a request from a GENERATE body, or says why not. */
static bool parse_generate(worker *w, const json_t *body, worker_model **model_out, worker_request *rq, refusal *r)
{
    const json_t *model = json_object_get(body, "model");
    if (!json_is_string(model))
        return refuse(r, "invalid_request", "\"model\" must be a string");
    worker_model *m = NULL;
    for (size_t i = 0; i < w->n_models && !m; i++)
        if (!strcmp(w->models[i].id, json_string_value(model)))
            m = &w->models[i];
    if (!m)
        return refuse(r, "model_not_found", "no such model");
    *model_out = m;
    int64_t max_tokens;
    if (!get_integer(body, "max_tokens", w->max_tokens, 1, w->max_tokens, &max_tokens, r))
        return false;
    rq->max_tokens = (int32_t)max_tokens;
    if (!parse_sampling(body, rq, r) || !parse_stops(body, rq, r) || !parse_logit_bias(body, m, rq, r))
        return false;
    const json_t *messages = json_object_get(body, "messages"), *prompt = json_object_get(body, "prompt");
    if ((messages != NULL) == (prompt != NULL))
        return refuse(r, "invalid_request", "give exactly one of \"messages\" and \"prompt\"");
    if (messages && !json_is_array(messages))
        return refuse(r, "invalid_request", "\"messages\" must be an array");
    if (prompt && !json_is_string(prompt))
        return refuse(r, "invalid_request", "\"prompt\" must be a string");
    const json_t *canary = json_object_get(body, "canary");
    if (canary && !json_is_string(canary))
        return refuse(r, "invalid_request", "\"canary\" must be a string");
    const json_t *scope = json_object_get(body, "cache_scope");
    if (scope && (!json_is_string(scope) || json_string_length(scope) >= sizeof rq->scope ||
                  strlen(json_string_value(scope)) != json_string_length(scope)))
        return refuse(r, "invalid_request", "\"cache_scope\" must be a string of at most 64 bytes");
    if (scope)
        memcpy(rq->scope, json_string_value(scope), json_string_length(scope) + 1);
    bool ok = messages ? tokenize_messages(m, messages, json_string_value(canary), rq, r)
                       : tokenize_prompt(m, json_string_value(prompt), json_string_length(prompt), rq, r);
    if (!ok)
        return false;
    if (rq->n_prompt < 1)
        return refuse(r, "invalid_request", "the prompt is empty");
    if (rq->n_prompt > w->max_prompt_tokens || rq->n_prompt >= m->n_ctx) {
        r->code = "prompt_too_long";
        snprintf(r->message, sizeof r->message, "the prompt has %d tokens; the limit is %lld", (int)rq->n_prompt,
                 (long long)(w->max_prompt_tokens < m->n_ctx - 1 ? w->max_prompt_tokens : m->n_ctx - 1));
        return false;
    }
    return true;
}

static sealm_status on_generate(worker *w, const json_t *body, sealm_error *err)
{
    const json_t *req = json_object_get(body, "req");
    if (!json_is_integer(req) || json_integer_value(req) < 0)
        return send_error(w, 0, "invalid_request", "\"req\" must be a non-negative integer", err);
    const uint64_t id = (uint64_t)json_integer_value(req);
    if (w->shutting_down)
        return send_error(w, id, "internal", "the worker is shutting down", err);
    worker_request *rq = calloc(1, sizeof *rq);
    if (!rq)
        return send_error(w, id, "internal", "out of memory", err);
    rq->req = id;
    rq->sample = sealm_sample_params_default();
    worker_model *m = NULL;
    refusal r = {0};
    if (!parse_generate(w, body, &m, rq, &r)) {
        worker_request_free(rq);
        return send_error(w, id, r.code, r.message, err);
    }
    if (m->queue_tail)
        m->queue_tail->next = rq;
    else
        m->queue_head = rq;
    m->queue_tail = rq;
    return SEALM_OK;
}

/* ---- running requests ---- */

/* Forgets what the slot's context holds (its prefix cache too). */
static void slot_forget(worker_slot *s)
{
    sealm_context_truncate(s->ctx, 0);
    if (s->held)
        sodium_memzero(s->held, (size_t)s->n_held * sizeof *s->held);
    s->n_held = 0;
}

/* Records n tokens just evaluated in the slot's context as held (the prefix cache). */
static void slot_record(worker_slot *s, const int32_t *tokens, int32_t n)
{
    if (s->held) {
        memcpy(s->held + s->n_held, tokens, (size_t)n * sizeof *tokens);
        s->n_held += n;
    }
}

/* Evaluates n tokens in the slot's context and records them as held. On failure the slot
 * forgets everything (the context may hold part of the batch). */
static sealm_status slot_eval(worker_slot *s, const int32_t *tokens, int32_t n, sealm_error *err)
{
    sealm_status st = sealm_context_eval(s->ctx, tokens, n, false, err);
    if (st) {
        slot_forget(s);
        return st;
    }
    slot_record(s, tokens, n);
    return SEALM_OK;
}

/* Frees the slot's request and per-request state; the slot is free again. What its context
 * holds stays for the next request's prefix (when the model keeps a prefix cache). */
static void slot_release(worker_slot *s)
{
    sealm_sampler_free(s->sampler);
    sealm_stop_matcher_free(s->stop);
    worker_request_free(s->rq);
    s->sampler = NULL;
    s->stop = NULL;
    s->rq = NULL;
    s->pending = -1;
    if (!s->held || sealm_context_n_past(s->ctx) != s->n_held)
        slot_forget(s);
}

/* Prompt tokens of rq the slot can take from what it holds: the common prefix, when the
 * scopes match (one API key's requests cannot learn, from how fast their first token comes,
 * what another key's prompts began with), at most n_prompt - 1 (the last prompt token is
 * evaluated again for its logits). */
static int32_t slot_reusable(const worker_slot *s, const worker_request *rq)
{
    if (!s->held || strcmp(s->held_scope, rq->scope) != 0)
        return 0;
    const int32_t limit = s->n_held < rq->n_prompt - 1 ? s->n_held : rq->n_prompt - 1;
    int32_t n = 0;
    while (n < limit && s->held[n] == rq->prompt[n])
        n++;
    return n;
}

/* Ends the slot's request with a DONE frame; for a normal end, first sends the text that was
 * still held back (an unfinished character, or a possible stop-string prefix). */
static sealm_status slot_finish(worker *w, worker_slot *s, const char *reason, bool flush, sealm_error *err)
{
    sealm_status st = SEALM_OK;
    worker_request *rq = s->rq;
    if (flush) {
        /* At most two extra TOKEN frames (without logprob: they are no new token): the
         * completed tail of the text, then what the stop matcher held back. */
        size_t n = sealm_detok_stream_flush(&s->detok, w->piece, sizeof w->piece);
        const char *rel;
        size_t n_rel;
        bool matched = sealm_stop_matcher_push(s->stop, w->piece, n < sizeof w->piece ? n : 0, &rel, &n_rel);
        if (n_rel > 0)
            st = send_token(w, rq->req, rel, n_rel, false, 0.0, err);
        if (matched) {
            reason = "stop";
        } else if (!st) {
            sealm_stop_matcher_flush(s->stop, &rel, &n_rel);
            if (n_rel > 0)
                st = send_token(w, rq->req, rel, n_rel, false, 0.0, err);
        }
    }
    if (!st)
        st = send_done(w, rq->req, reason, rq->n_prompt, rq->n_cached, s->n_generated, err);
    slot_release(s);
    return st;
}

/* Puts a queued request into a free slot: fresh sampler, stop matcher and detokenizer. */
static sealm_status slot_start(worker *w, worker_model *m, worker_slot *s, worker_request *rq, sealm_error *err)
{
    sealm_error lerr = {0};
    s->rq = rq;
    s->admitted = ++m->n_admitted;
    s->n_generated = 0;
    s->pending = -1;
    rq->n_cached = slot_reusable(s, rq);
    sealm_context_truncate(s->ctx, rq->n_cached);
    if (s->held) {
        sodium_memzero(s->held + rq->n_cached, (size_t)(s->n_held - rq->n_cached) * sizeof *s->held);
        s->n_held = rq->n_cached;
        memcpy(s->held_scope, rq->scope, sizeof s->held_scope);
    }
    s->n_prefilled = rq->n_cached;
    if (sealm_sampler_new(&rq->sample, m->n_vocab, &s->sampler, &lerr) ||
        sealm_stop_matcher_new((const char *const *)rq->stops, rq->n_stops, &s->stop, &lerr)) {
        uint64_t id = rq->req;
        sealm_sampler_free(s->sampler);
        s->sampler = NULL;
        worker_request_free(rq);
        s->rq = NULL;
        return send_error(w, id, lerr.code == SEALM_E_NOMEM ? "internal" : "invalid_request",
                          "the sampling parameters were refused", err);
    }
    /* the sampler sees every prompt token, reused or evaluated (repetition penalties) */
    for (int32_t i = 0; i < rq->n_cached; i++)
        sealm_sampler_accept(s->sampler, rq->prompt[i]);
    sealm_detok_stream_init(&s->detok, m->tok);
    return SEALM_OK;
}

/* log p(token) under logits: logit - logsumexp(logits), computed stably. */
static double chosen_logprob(const float *logits, int32_t n, int32_t token)
{
    float max = logits[0];
    for (int32_t i = 1; i < n; i++)
        if (logits[i] > max)
            max = logits[i];
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++)
        sum += exp((double)logits[i] - max);
    return (double)logits[token] - max - log(sum);
}

static sealm_status slot_emit(worker *w, worker_model *m, worker_slot *s, sealm_error *err);

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* models[].prefill_turn_ms: while requests of the model are decoding, the prompts still being
 * read get about that much time per turn between them (at the model's measured prefill rate),
 * oldest first, so that the decoding streams wait about that long per turn. Without it every
 * prompt takes a PREFILL_CHUNK each turn: on a 2-core machine a 1B model prefills ~100
 * tokens/s, and each new prompt then stalls every stream for over a second a turn. It is a
 * choice, not a free gain: the prompts wait longer for their first token (docs/sealmd.md). */
int32_t worker_turn_prefill_budget(const worker_model *m)
{
    bool decoding = false;
    for (int j = 0; j < m->n_slots; j++) {
        const worker_slot *o = &m->slots[j];
        decoding |= o->rq && o->n_prefilled == o->rq->n_prompt;
    }
    if (!decoding || m->prefill_turn_s <= 0)
        return INT32_MAX;
    const double fit = m->prefill_tps * m->prefill_turn_s;
    if (fit >= PREFILL_CHUNK)
        return PREFILL_CHUNK;
    const int32_t groups = (int32_t)fit / PREFILL_CHUNK_MIN;
    return groups > 1 ? groups * PREFILL_CHUNK_MIN : PREFILL_CHUNK_MIN;
}

int32_t worker_prefill_chunk(int32_t n_left, int32_t *budget)
{
    int32_t n = n_left < PREFILL_CHUNK ? n_left : PREFILL_CHUNK;
    if (n > *budget)
        n = *budget;
    if (n < n_left)
        n = n / PREFILL_CHUNK_MIN * PREFILL_CHUNK_MIN;
    if (n <= 0)
        return 0;
    *budget -= n;
    return n;
}

/* One turn of one slot: a prefill chunk, or one evaluated and sampled token. */
static sealm_status slot_step(worker *w, worker_model *m, worker_slot *s, sealm_error *err)
{
    worker_request *rq = s->rq;
    sealm_error eerr = {0};
    if (s->n_prefilled < rq->n_prompt) {
        const int32_t n = worker_prefill_chunk(rq->n_prompt - s->n_prefilled, &m->turn_prefill_left);
        if (n == 0)
            return SEALM_OK;   /* this turn's prompt budget went to older prompts */
        const double t0 = mono_s();
        if (slot_eval(s, rq->prompt + s->n_prefilled, n, &eerr)) {
            /* the ERROR frame ends the request; no DONE follows */
            sealm_status st = send_error(w, rq->req, "internal", "evaluation failed", err);
            slot_release(s);
            return st;
        }
        const double dt = mono_s() - t0;
        if (n >= PREFILL_CHUNK_MIN && dt > 0)   /* shorter chunks say more about overheads than the rate */
            m->prefill_tps = (double)n / dt;
        for (int32_t i = 0; i < n; i++)
            sealm_sampler_accept(s->sampler, rq->prompt[s->n_prefilled + i]);
        s->n_prefilled += n;
        if (s->n_prefilled < rq->n_prompt)
            return SEALM_OK;
        /* a stream starts: with a per-turn prompt time, the other prompts wait for the next
         * turn (budgeted now) rather than hold up its second token behind whole chunks */
        if (m->prefill_turn_s > 0)
            m->turn_prefill_left = 0;
    } else if (s->pending >= 0) {
        if (sealm_context_n_past(s->ctx) >= sealm_context_n_ctx(s->ctx))
            return slot_finish(w, s, "length", true, err);
        if (slot_eval(s, &s->pending, 1, &eerr))
            return slot_finish(w, s, "length", true, err);
        s->pending = -1;
    }
    return slot_emit(w, m, s, err);
}

/* Once the slot's context holds the logits of its last token: samples the next token,
 * sends its text, and ends the request or leaves the token pending for the next turn. */
static sealm_status slot_emit(worker *w, worker_model *m, worker_slot *s, sealm_error *err)
{
    worker_request *rq = s->rq;
    const float *logits = sealm_context_logits(s->ctx, -1);
    if (!logits)
        return slot_finish(w, s, "length", true, err);
    if (rq->n_bias) {
        memcpy(s->biased, logits, (size_t)m->n_vocab * sizeof *s->biased);
        for (size_t i = 0; i < rq->n_bias; i++)
            s->biased[rq->bias_ids[i]] += rq->bias_values[i];
        logits = s->biased;
    }
    const int32_t tok = sealm_sampler_sample(s->sampler, logits);
    if (sealm_tokenizer_is_eog(m->tok, tok))
        return slot_finish(w, s, "stop", true, err);
    sealm_sampler_accept(s->sampler, tok);
    s->n_generated++;
    size_t n = sealm_detok_stream_push(&s->detok, tok, w->piece, sizeof w->piece);
    const char *rel;
    size_t n_rel;
    bool matched = sealm_stop_matcher_push(s->stop, w->piece, n < sizeof w->piece ? n : 0, &rel, &n_rel);
    double lp = rq->logprobs ? chosen_logprob(logits, m->n_vocab, tok) : 0.0;
    sealm_status st = send_token(w, rq->req, rel, n_rel, rq->logprobs, lp, err);
    if (st)
        return st;
    if (matched)
        return slot_finish(w, s, "stop", false, err);
    if (s->n_generated >= rq->max_tokens)
        return slot_finish(w, s, "length", true, err);
    s->pending = tok;
    return SEALM_OK;
}

/* The decode part of a turn: every slot with a sampled token waiting (prompt done, room
 * left) has it evaluated in one batched pass — sealm_context_eval_many reads the weights
 * once for all of them, where decode spends its time, and gives each the logits a single
 * eval would — then samples its next token. Marks those slots done for the turn; the rest
 * (prefill chunks, a lone decoder, a full context) are slot_step's. */
static sealm_status decode_turn(worker *w, worker_model *m, sealm_error *err)
{
    sealm_context *ctxs[WORKER_MAX_SLOTS];
    worker_slot *batch[WORKER_MAX_SLOTS];
    int32_t tokens[WORKER_MAX_SLOTS];
    int32_t n = 0;
    for (int j = 0; j < m->n_slots; j++) {
        worker_slot *s = &m->slots[j];
        s->turn_done = false;
        if (s->rq && s->n_prefilled == s->rq->n_prompt && s->pending >= 0 &&
            sealm_context_n_past(s->ctx) < sealm_context_n_ctx(s->ctx)) {
            ctxs[n] = s->ctx;
            batch[n] = s;
            tokens[n++] = s->pending;
        }
    }
    /* in passes of at most a context's batch size (n_ctx when that is smaller than 512) */
    for (int32_t first = 0; n - first >= 2;) {
        int32_t take = sealm_context_n_batch(ctxs[first]);
        if (take > n - first)
            take = n - first;
        sealm_error eerr = {0};
        /* on an error, each slot meets it alone in slot_step (which ends that request) */
        if (sealm_context_eval_many(ctxs + first, tokens + first, take, &eerr))
            return SEALM_OK;
        for (int32_t i = first; i < first + take; i++) {
            worker_slot *s = batch[i];
            slot_record(s, &s->pending, 1);
            s->pending = -1;
            s->turn_done = true;
            sealm_status st = slot_emit(w, m, s, err);
            if (st)
                return st;
        }
        first += take;
    }
    return SEALM_OK;
}

/* Fills free slots from the model's queue, oldest first; each request goes to the free slot
 * that holds the longest prefix of its prompt (the first free one when none does). */
static sealm_status admit(worker *w, worker_model *m, sealm_error *err)
{
    while (m->queue_head) {
        worker_slot *s = NULL;
        int32_t best = -1;
        for (int i = 0; i < m->n_slots; i++) {
            int32_t n = m->slots[i].rq ? -1 : slot_reusable(&m->slots[i], m->queue_head);
            if (n > best) {
                best = n;
                s = &m->slots[i];
            }
        }
        if (!s)
            break;
        worker_request *rq = m->queue_head;
        m->queue_head = rq->next;
        if (!m->queue_head)
            m->queue_tail = NULL;
        rq->next = NULL;
        sealm_status st = slot_start(w, m, s, rq, err);
        if (st)
            return st;
    }
    return SEALM_OK;
}

/* Cancels request id wherever it is: running (DONE after what was streamed) or queued. */
static sealm_status cancel(worker *w, uint64_t id, sealm_error *err)
{
    for (size_t i = 0; i < w->n_models; i++) {
        worker_model *m = &w->models[i];
        for (int j = 0; j < m->n_slots; j++)
            if (m->slots[j].rq && m->slots[j].rq->req == id)
                return slot_finish(w, &m->slots[j], "cancelled", false, err);
        for (worker_request **p = &m->queue_head, *prev = NULL; *p; prev = *p, p = &(*p)->next) {
            if ((*p)->req != id)
                continue;
            worker_request *rq = *p;
            *p = rq->next;
            if (m->queue_tail == rq)
                m->queue_tail = prev;
            sealm_status st = send_done(w, id, "cancelled", rq->n_prompt, 0, 0, err);
            worker_request_free(rq);
            return st;
        }
    }
    return SEALM_OK;   /* already finished: nothing to do */
}

static sealm_status cancel_all(worker *w, sealm_error *err)
{
    sealm_status st = SEALM_OK;
    for (size_t i = 0; !st && i < w->n_models; i++) {
        worker_model *m = &w->models[i];
        for (int j = 0; !st && j < m->n_slots; j++)
            if (m->slots[j].rq)
                st = cancel(w, m->slots[j].rq->req, err);
        while (!st && m->queue_head)
            st = cancel(w, m->queue_head->req, err);
    }
    return st;
}

static bool busy(const worker *w)
{
    for (size_t i = 0; i < w->n_models; i++) {
        if (w->models[i].queue_head)
            return true;
        for (int j = 0; j < w->models[i].n_slots; j++)
            if (w->models[i].slots[j].rq)
                return true;
    }
    return false;
}

static bool past_deadline(const worker *w)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > w->drain_deadline.tv_sec ||
           (now.tv_sec == w->drain_deadline.tv_sec && now.tv_nsec >= w->drain_deadline.tv_nsec);
}

static sealm_status on_frame(worker *w, uint8_t type, const json_t *body, sealm_error *err)
{
    switch (type) {
    case SEALM_IPC_GENERATE:
        return on_generate(w, body, err);
    case SEALM_IPC_CANCEL: {
        const json_t *req = json_object_get(body, "req");
        if (!json_is_integer(req))
            return sealm_error_set(err, SEALM_E_FORMAT, "ipc: CANCEL without an integer \"req\"");
        return cancel(w, (uint64_t)json_integer_value(req), err);
    }
    case SEALM_IPC_SHUTDOWN: {
        const json_t *d = json_object_get(body, "drain_seconds");
        double secs = json_is_number(d) ? json_number_value(d) : 0.0;
        if (!isfinite(secs) || secs < 0)
            secs = 0;
        if (secs > 3600)
            secs = 3600;
        clock_gettime(CLOCK_MONOTONIC, &w->drain_deadline);
        double whole = floor(secs);
        w->drain_deadline.tv_sec += (time_t)whole;
        w->drain_deadline.tv_nsec += (long)((secs - whole) * 1e9);
        if (w->drain_deadline.tv_nsec >= 1000000000L) {
            w->drain_deadline.tv_sec++;
            w->drain_deadline.tv_nsec -= 1000000000L;
        }
        w->shutting_down = true;
        return SEALM_OK;
    }
    default:
        return sealm_error_set(err, SEALM_E_FORMAT, "ipc: the front sent a %s frame, which only the worker sends",
                               sealm_ipc_type_name(type));
    }
}

/* Reads the frames that have arrived; blocks only when there is nothing else to do.
 * *eof becomes true when the front closed its end. */
static sealm_status read_frames(worker *w, bool block, bool *eof, sealm_error *err)
{
    for (int i = 0; i < FRAMES_PER_TURN; i++) {
        struct pollfd p = {.fd = w->fd, .events = POLLIN};
        int rc = poll(&p, 1, block && i == 0 ? -1 : 0);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return sealm_error_set(err, SEALM_E_IO, "worker: poll: %s", strerror(errno));
        if (rc == 0)
            return SEALM_OK;
        uint8_t type = 0;
        json_t *body = NULL;
        sealm_status st = sealm_ipc_recv(w->fd, &type, &body, err);
        if (st == SEALM_E_NOT_FOUND) {
            *eof = true;
            return SEALM_OK;
        }
        if (st)
            return st;
        st = on_frame(w, type, body, err);
        json_decref(body);
        if (st)
            return st;
    }
    return SEALM_OK;
}

/* The rest of a turn: every slot the batched pass did not serve takes its step (a lone
 * decoder its token, a prompt its chunk), the prompts oldest first within the turn's budget. */
static sealm_status step_slots(worker *w, worker_model *m, sealm_error *err)
{
    worker_slot *order[WORKER_MAX_SLOTS];
    int n = 0;
    for (int j = 0; j < m->n_slots; j++) {
        worker_slot *s = &m->slots[j];
        if (!s->rq || s->turn_done)
            continue;
        int k = n++;
        for (; k > 0 && order[k - 1]->admitted > s->admitted; k--)   /* insertion: by admission */
            order[k] = order[k - 1];
        order[k] = s;
    }
    m->turn_prefill_left = worker_turn_prefill_budget(m);
    for (int k = 0; k < n; k++) {
        /* a slot ended by an earlier step's request is free now; the order holds each once */
        sealm_status st = order[k]->rq ? slot_step(w, m, order[k], err) : SEALM_OK;
        if (st)
            return st;
    }
    return SEALM_OK;
}

static sealm_status serve(worker *w, sealm_error *err)
{
    for (;;) {
        bool eof = false;
        sealm_status st = read_frames(w, !busy(w) && !w->shutting_down, &eof, err);
        if (st || eof)
            return st;
        if (w->shutting_down && (!busy(w) || past_deadline(w)))
            return cancel_all(w, err);
        for (size_t i = 0; i < w->n_models; i++) {
            worker_model *m = &w->models[i];
            if ((st = admit(w, m, err)) || (st = decode_turn(w, m, err)))
                return st;
            if ((st = step_slots(w, m, err)))
                return st;
        }
    }
}

static int64_t limit_value(const json_t *limits, const char *key, int64_t def)
{
    const json_t *v = json_object_get(limits, key);
    return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : def;
}

sealm_status sealm_worker_run(int fd, const json_t *models, const json_t *limits, sealm_error *err)
{
    worker w = {0};
    w.fd = fd;
    w.max_prompt_tokens = limit_value(limits, "max_prompt_tokens", DEFAULT_MAX_PROMPT);
    w.max_tokens = limit_value(limits, "max_tokens", DEFAULT_MAX_TOKENS);
    if (w.max_tokens > INT32_MAX)
        w.max_tokens = INT32_MAX;
    /* Whatever the front had open when it forked (listening sockets, client connections, log
     * files) must not be reachable from the worker: read/write on them stay allowed by the
     * filter. Keep stdin/stdout/stderr and the frame socket. */
    if (fd > 3)
        close_range(3, (unsigned)fd - 1, 0);
    close_range((unsigned)fd + 1, ~0u, 0);
    /* jansson seeds its hash function from /dev/urandom on first use: make sure that has
     * happened while files can still be opened. */
    json_object_seed(0);
    sealm_status st = worker_models_load(models, &w.models, &w.n_models, err);
    if (!st)
        st = sealm_worker_sandbox_apply(err);
    if (st) {
        /* Tell the front why there will be no HELLO; the message names files, never secrets. */
        sealm_error ignored = {0};
        send_error(&w, 0, "internal", err ? err->message : "the worker could not start", &ignored);
        worker_models_free(w.models, w.n_models);
        return st;
    }
    st = send_hello(&w, err);
    if (!st)
        st = serve(&w, err);
    worker_models_free(w.models, w.n_models);
    return st;
}
