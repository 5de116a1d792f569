/* sealmd front — validation of OpenAI request bodies (POST /v1/chat/completions and
 * /v1/completions, https://platform.openai.com/docs/api-reference) into GENERATE frames.
 *
 * Every field is checked for type and range. Unknown fields are refused, as OpenAI does
 * ("Unrecognized request argument supplied"), so that a client never believes a setting took
 * effect when it did not. Fields that would widen what a client learns about the model are
 * gated: logprobs gives only the chosen token's log-probability (top_logprobs > 0 is
 * refused), and logit_bias needs the key's "logit_bias" feature. Error messages name the
 * field but never echo its value (it may be prompt text). */
#include "server/front.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(api_error *e, int status, const char *type, const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int fail(api_error *e, int status, const char *type, const char *code, const char *param, const char *fmt, ...)
{
    e->status = status;
    e->type = type;
    e->code = code;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return status;
}

#define BAD(e, param, ...) fail(e, 400, "invalid_request_error", "invalid_value", param, __VA_ARGS__)

/* Optional number in [lo, hi] (absent or null: def). */
static int opt_num(const json_t *body, const char *key, double def, double lo, double hi, double *out, api_error *e)
{
    json_t *v = json_object_get(body, key);
    *out = def;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < lo || json_number_value(v) > hi)
        return BAD(e, key, "'%s' must be a number between %g and %g", key, lo, hi);
    *out = json_number_value(v);
    return 0;
}

static int opt_int(const json_t *body, const char *key, int64_t def, int64_t lo, int64_t hi, int64_t *out, api_error *e)
{
    json_t *v = json_object_get(body, key);
    *out = def;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return BAD(e, key, "'%s' must be an integer between %lld and %lld", key, (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return 0;
}

static int opt_bool(const json_t *body, const char *key, bool *out, api_error *e)
{
    json_t *v = json_object_get(body, key);
    *out = false;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return BAD(e, key, "'%s' must be a boolean", key);
    *out = json_is_true(v);
    return 0;
}

static int check_fields(const json_t *body, const char *const *known, api_error *e)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        size_t i = 0;
        while (known[i] && strcmp(known[i], k) != 0)
            i++;
        if (!known[i]) {
            char name[48];
            snprintf(name, sizeof name, "%s", k);   /* a field name, bounded: not user text of note */
            return fail(e, 400, "invalid_request_error", "unknown_parameter", name,
                        "Unrecognized request argument supplied: %s", name);
        }
    }
    return 0;
}

/* "stop": a string or an array of strings, within the limits. */
static int parse_stop(const json_t *body, const front_limits *lim, json_t *gen, api_error *e)
{
    json_t *v = json_object_get(body, "stop");
    json_t *out = json_array();
    json_object_set_new(gen, "stop", out);
    if (!v || json_is_null(v))
        return 0;
    json_t *one = NULL;
    if (json_is_string(v)) {
        one = json_array();
        json_array_append(one, v);
        v = one;
    }
    int r = 0;
    if (!json_is_array(v))
        r = BAD(e, "stop", "'stop' must be a string or an array of strings");
    else if ((int64_t)json_array_size(v) > lim->max_stop)
        r = BAD(e, "stop", "'stop' may hold at most %lld strings", (long long)lim->max_stop);
    size_t i;
    json_t *s;
    if (!r)
        json_array_foreach(v, i, s) {
            if (!json_is_string(s) || json_string_length(s) == 0 || (int64_t)json_string_length(s) > lim->max_stop_bytes) {
                r = BAD(e, "stop", "each stop string must be 1 to %lld bytes", (long long)lim->max_stop_bytes);
                break;
            }
            json_array_append(out, s);
        }
    json_decref(one);
    return r;
}

/* "logit_bias": {"<token id>": bias in [-100, 100]}, token ids below n_vocab. */
static int parse_logit_bias(const json_t *body, const front_key *key, int64_t n_vocab, json_t *gen, api_error *e)
{
    json_t *v = json_object_get(body, "logit_bias");
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return BAD(e, "logit_bias", "'logit_bias' must be an object mapping token ids to numbers");
    if (json_object_size(v) == 0)
        return 0;
    /* Biasing tokens and watching the output is a way to probe the model's distribution, so
     * it is a privilege. */
    if (!(key->features & FEATURE_LOGIT_BIAS))
        return fail(e, 403, "permission_error", "logit_bias_not_allowed", "logit_bias",
                    "this API key may not use 'logit_bias'");
    if (json_object_size(v) > 300)
        return BAD(e, "logit_bias", "'logit_bias' may hold at most 300 entries");
    json_t *out = json_object();
    json_object_set_new(gen, "logit_bias", out);
    const char *k;
    json_t *b;
    json_object_foreach(v, k, b) {
        char *end = NULL;
        errno = 0;
        long long id = strtoll(k, &end, 10);
        if (!*k || *end || errno || id < 0 || id >= n_vocab)
            return BAD(e, "logit_bias", "'logit_bias' keys must be token ids in [0, %lld)", (long long)n_vocab);
        if (!json_is_number(b) || json_number_value(b) < -100 || json_number_value(b) > 100)
            return BAD(e, "logit_bias", "'logit_bias' values must be numbers between -100 and 100");
        json_object_set(out, k, b);
    }
    return 0;
}

/* Text of a message's content: a string, or an array of {"type":"text","text"} parts. */
static int message_text(const json_t *content, const char *param, json_t **out, api_error *e)
{
    if (json_is_string(content)) {
        *out = json_incref((json_t *)content);
        return 0;
    }
    if (!json_is_array(content) || json_array_size(content) == 0)
        return BAD(e, param, "'content' must be a string or a non-empty array of text parts");
    size_t total = 0, i;
    json_t *part;
    json_array_foreach(content, i, part) {
        json_t *type = json_object_get(part, "type"), *text = json_object_get(part, "text");
        if (!json_is_object(part) || json_object_size(part) != 2 || !json_is_string(type) ||
            strcmp(json_string_value(type), "text") != 0 || !json_is_string(text))
            return BAD(e, param, "only content parts of type 'text' are supported");
        total += json_string_length(text);
    }
    char *buf = malloc(total + 1);
    if (!buf)
        return fail(e, 500, "server_error", NULL, NULL, "out of memory");
    size_t at = 0;
    json_array_foreach(content, i, part) {
        json_t *text = json_object_get(part, "text");
        memcpy(buf + at, json_string_value(text), json_string_length(text));
        at += json_string_length(text);
    }
    *out = json_stringn_nocheck(buf, at);
    free(buf);
    return 0;
}

static int parse_messages(const json_t *body, const front_key *key, const front_limits *lim, json_t *gen, api_error *e)
{
    json_t *msgs = json_object_get(body, "messages");
    if (!msgs)
        return fail(e, 400, "invalid_request_error", "missing_required_parameter", "messages", "'messages' is required");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0)
        return BAD(e, "messages", "'messages' must be a non-empty array");
    if ((int64_t)json_array_size(msgs) > lim->max_messages)
        return BAD(e, "messages", "'messages' may hold at most %lld entries", (long long)lim->max_messages);
    json_t *out = json_array();
    json_object_set_new(gen, "messages", out);
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        char param[48];
        snprintf(param, sizeof param, "messages[%zu]", i);
        if (!json_is_object(m))
            return BAD(e, param, "each message must be an object");
        const char *k;
        json_t *v;
        json_object_foreach(m, k, v) {
            if (strcmp(k, "role") != 0 && strcmp(k, "content") != 0 && strcmp(k, "name") != 0)
                return fail(e, 400, "invalid_request_error", "unknown_parameter", param,
                            "unsupported message field (only role, content and name)");
        }
        json_t *role = json_object_get(m, "role"), *name = json_object_get(m, "name");
        if (name && !json_is_string(name))
            return BAD(e, param, "'name' must be a string");
        const char *r = json_is_string(role) ? json_string_value(role) : "";
        bool system = strcmp(r, "system") == 0 || strcmp(r, "developer") == 0;
        if (!system && strcmp(r, "user") != 0 && strcmp(r, "assistant") != 0)
            return BAD(e, param, "'role' must be one of system, developer, user, assistant");
        if (system && !(key->features & FEATURE_SYSTEM_PROMPT))
            return fail(e, 403, "permission_error", "system_prompt_not_allowed", param,
                        "this API key may not set a system prompt");
        json_t *text = NULL;
        int rc = message_text(json_object_get(m, "content"), param, &text, e);
        if (rc)
            return rc;
        json_array_append_new(out, json_pack("{s:s,s:o}", "role", system ? "system" : r, "content", text));
    }
    return 0;
}

static int parse_prompt(const json_t *body, json_t *gen, api_error *e)
{
    json_t *p = json_object_get(body, "prompt");
    if (!p)
        return fail(e, 400, "invalid_request_error", "missing_required_parameter", "prompt", "'prompt' is required");
    if (json_is_array(p) && json_array_size(p) == 1 && json_is_string(json_array_get(p, 0)))
        p = json_array_get(p, 0);
    if (!json_is_string(p))
        return BAD(e, "prompt", "'prompt' must be a string (or an array of exactly one string)");
    json_object_set(gen, "prompt", p);
    return 0;
}

static const json_t *find_model(const json_t *hello_models, const char *id)
{
    size_t i;
    json_t *m;
    json_array_foreach((json_t *)hello_models, i, m) {
        const char *mid = json_string_value(json_object_get(m, "id"));
        if (mid && strcmp(mid, id) == 0)
            return m;
    }
    return NULL;
}

static int validate(const json_t *body, bool chat, const front_key *key, const front_config *cfg,
                    const json_t *hello_models, api_request *out, api_error *e)
{
    static const char *const chat_fields[] = {
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stream",
        "stream_options", "stop", "presence_penalty", "frequency_penalty", "seed", "logprobs", "top_logprobs",
        "logit_bias", "user", "response_format", "top_k", "min_p", NULL};
    static const char *const completion_fields[] = {
        "model", "prompt", "max_tokens", "temperature", "top_p", "n", "stream", "stream_options", "stop",
        "presence_penalty", "frequency_penalty", "seed", "logprobs", "logit_bias", "user", "echo", "suffix",
        "best_of", "top_k", "min_p", NULL};
    const front_limits *lim = &cfg->limits;
    int rc;
    if (!json_is_object(body))
        return BAD(e, NULL, "the request body must be a JSON object");
    if ((rc = check_fields(body, chat ? chat_fields : completion_fields, e)))
        return rc;

    json_t *model = json_object_get(body, "model");
    if (!model)
        return fail(e, 400, "invalid_request_error", "missing_required_parameter", "model", "'model' is required");
    if (!json_is_string(model) || json_string_length(model) == 0 || json_string_length(model) >= sizeof out->model)
        return BAD(e, "model", "'model' must be a non-empty string");
    snprintf(out->model, sizeof out->model, "%s", json_string_value(model));

    double temperature, top_p, min_p, presence, frequency;
    int64_t n, top_k, max_tokens, seed, top_logprobs, best_of;
    bool echo;
    if ((rc = opt_num(body, "temperature", 1.0, 0, 2, &temperature, e)) ||
        (rc = opt_num(body, "top_p", 1.0, 0, 1, &top_p, e)) || (rc = opt_num(body, "min_p", 0, 0, 1, &min_p, e)) ||
        (rc = opt_num(body, "presence_penalty", 0, -2, 2, &presence, e)) ||
        (rc = opt_num(body, "frequency_penalty", 0, -2, 2, &frequency, e)) ||
        (rc = opt_int(body, "n", 1, 1, 128, &n, e)) || (rc = opt_int(body, "top_k", 0, 0, 1 << 20, &top_k, e)) ||
        (rc = opt_int(body, "seed", -1, INT64_MIN, INT64_MAX, &seed, e)) ||
        (rc = opt_int(body, "best_of", 1, 1, 20, &best_of, e)) || (rc = opt_bool(body, "stream", &out->stream, e)) ||
        (rc = opt_bool(body, "echo", &echo, e)))
        return rc;
    if (n != 1)
        return fail(e, 400, "invalid_request_error", "unsupported_value", "n", "only n=1 is supported");
    if (best_of != 1)
        return fail(e, 400, "invalid_request_error", "unsupported_value", "best_of", "only best_of=1 is supported");
    if (echo)
        return fail(e, 400, "invalid_request_error", "unsupported_value", "echo", "echo is not supported");
    json_t *suffix = json_object_get(body, "suffix");
    if (suffix && !json_is_null(suffix) && !(json_is_string(suffix) && json_string_length(suffix) == 0))
        return fail(e, 400, "invalid_request_error", "unsupported_value", "suffix", "suffix is not supported");
    json_t *user = json_object_get(body, "user");
    if (user && !json_is_null(user) && !json_is_string(user))
        return BAD(e, "user", "'user' must be a string");
    json_t *rf = json_object_get(body, "response_format");
    if (rf && !json_is_null(rf)) {
        json_t *t = json_object_get(rf, "type");
        if (!json_is_object(rf) || json_object_size(rf) != 1 || !json_is_string(t) || strcmp(json_string_value(t), "text") != 0)
            return fail(e, 400, "invalid_request_error", "unsupported_value", "response_format",
                        "only response_format {\"type\": \"text\"} is supported");
    }
    json_t *so = json_object_get(body, "stream_options");
    if (so && !json_is_null(so)) {
        json_t *iu = json_object_get(so, "include_usage");
        if (!json_is_object(so) || json_object_size(so) > 1 || (json_object_size(so) == 1 && !json_is_boolean(iu)))
            return BAD(e, "stream_options", "'stream_options' must be {\"include_usage\": boolean}");
        if (!out->stream)
            return BAD(e, "stream_options", "'stream_options' is only allowed with stream: true");
        out->include_usage = json_is_true(iu);
    }

    /* max_tokens: chat also takes max_completion_tokens (newer name); completions default to
     * 16 as in the OpenAI API, chat to the configured maximum. */
    const char *mt_name = "max_tokens";
    if (chat && json_object_get(body, "max_completion_tokens") && !json_is_null(json_object_get(body, "max_completion_tokens")))
        mt_name = "max_completion_tokens";
    json_t *mt = json_object_get(body, mt_name);
    if (mt && !json_is_null(mt) && json_is_integer(mt) && json_integer_value(mt) > lim->max_tokens)
        return fail(e, 400, "invalid_request_error", "max_tokens_too_large", mt_name,
                    "'%s' is larger than this server's limit of %lld", mt_name, (long long)lim->max_tokens);
    if ((rc = opt_int(body, mt_name, chat ? lim->max_tokens : 16, 1, lim->max_tokens, &max_tokens, e)))
        return rc;

    /* logprobs: chat uses a boolean plus top_logprobs; completions an integer count of
     * alternatives, of which only 0 (the chosen token alone) is served. */
    json_t *lp = json_object_get(body, "logprobs");
    if (chat) {
        if ((rc = opt_bool(body, "logprobs", &out->logprobs, e)) ||
            (rc = opt_int(body, "top_logprobs", 0, 0, 20, &top_logprobs, e)))
            return rc;
    } else {
        int64_t k;
        if ((rc = opt_int(body, "logprobs", 0, 0, 5, &k, e)))
            return rc;
        out->logprobs = lp && !json_is_null(lp);
        top_logprobs = k;
    }
    if (top_logprobs > 0)
        return fail(e, 400, "invalid_request_error", "unsupported_value", chat ? "top_logprobs" : "logprobs",
                    "alternatives to the chosen token are never returned: only the chosen token's logprob is available");

    /* Scope: which model, which features. 403 before 404 so that a key learns nothing about
     * models outside its scope. */
    if (!front_auth_model_allowed(key, out->model))
        return fail(e, 403, "permission_error", "model_not_allowed", "model", "this API key may not use this model");
    const json_t *hm = find_model(hello_models, out->model);
    const front_model *cm = NULL;
    for (size_t i = 0; i < cfg->n_models; i++)
        if (strcmp(cfg->models[i].id, out->model) == 0)
            cm = &cfg->models[i];
    if (!hm || !cm)
        return fail(e, 404, "invalid_request_error", "model_not_found", "model", "the model does not exist");
    if (out->logprobs && !cm->logprobs)
        return fail(e, 403, "permission_error", "logprobs_disabled", "logprobs", "logprobs are turned off for this model");
    if (out->logprobs && !(key->features & FEATURE_LOGPROBS))
        return fail(e, 403, "permission_error", "logprobs_not_allowed", "logprobs", "this API key may not use 'logprobs'");

    json_t *gen = out->generate;
    json_object_set_new(gen, "model", json_string(out->model));
    if ((rc = chat ? parse_messages(body, key, lim, gen, e) : parse_prompt(body, gen, e)) ||
        (rc = parse_stop(body, lim, gen, e)) ||
        (rc = parse_logit_bias(body, key, json_integer_value(json_object_get(hm, "n_vocab")), gen, e)))
        return rc;
    json_object_set_new(gen, "max_tokens", json_integer(max_tokens));
    json_object_set_new(gen, "temperature", json_real(temperature));
    json_object_set_new(gen, "top_p", json_real(top_p));
    json_object_set_new(gen, "top_k", json_integer(top_k));
    json_object_set_new(gen, "min_p", json_real(min_p));
    json_object_set_new(gen, "presence_penalty", json_real(presence));
    json_object_set_new(gen, "frequency_penalty", json_real(frequency));
    json_t *sv = json_object_get(body, "seed");
    json_object_set_new(gen, "seed", sv && !json_is_null(sv) ? json_integer(seed) : json_null());
    json_object_set_new(gen, "logprobs", json_boolean(out->logprobs));
    return 0;
}

int api_validate(const json_t *body, bool chat, const front_key *key, const front_config *cfg,
                 const json_t *hello_models, api_request *out, api_error *e)
{
    memset(out, 0, sizeof *out);
    memset(e, 0, sizeof *e);
    out->chat = chat;
    if (!(out->generate = json_object()))
        return fail(e, 500, "server_error", NULL, NULL, "out of memory");
    int rc = validate(body, chat, key, cfg, hello_models, out, e);
    if (rc) {
        json_decref(out->generate);
        out->generate = NULL;
    }
    return rc;
}
