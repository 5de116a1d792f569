/* sealmd front — internal types shared by config.c, auth.c, metrics.c, log.c, http.c,
 * api_*.c and front.c. The front is the network-facing process: it never opens model or key
 * files; it parses the config, authenticates clients, validates requests and relays them to
 * the worker over the frames of ipc.h. */
#ifndef SEALM_SERVER_FRONT_H
#define SEALM_SERVER_FRONT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "sealm/common.h"
#include "sealm/guard.h"

/* ---- config (config.c) ---- */

enum { FEATURE_LOGPROBS = 1, FEATURE_LOGIT_BIAS = 2, FEATURE_SYSTEM_PROMPT = 4, FEATURE_METRICS = 8 };

/* ---- guard policies (guard_policy.c) ----
 * What the guard does with each direction of a request. A model's "guard" object sets the
 * defaults; a key's "guard" object may override any field, per direction. Fields a key leaves
 * out are GUARD_UNSET and fall through to the model, and the model's to the built-in default
 * (off). docs/sealmd.md, "Guardrails". */
#define GUARD_UNSET (-1)

typedef struct front_guard_policy {
    int input_pii;               /* sealm_guard_action: OFF, DETECT, REDACT or BLOCK; or GUARD_UNSET */
    int input_injection;         /* OFF, DETECT or BLOCK; or GUARD_UNSET */
    double injection_threshold;  /* score in (0, 1] from which injection fires; < 0: unset */
    int output_pii;              /* OFF, DETECT, REDACT or BLOCK; or GUARD_UNSET */
} front_guard_policy;

/* A policy with every field unset (a key without "guard"). */
front_guard_policy front_guard_policy_unset(void);
/* Parses a "guard" object (model: allow_model_keys true) into *out; fields absent stay as *out
 * had them. where names the object in messages ("models[0].guard"). Errors: SEALM_E_INVALID
 * naming the key (unknown key, unknown action, redact for injection, threshold outside
 * (0, 1]), SEALM_E_NOMEM. */
struct front_model;
sealm_status front_guard_parse(const json_t *guard, const char *where, front_guard_policy *out,
                               struct front_model *model, sealm_error *err);
/* The policy in force for one request: per field the key's value when set, else the
 * model's, else off; the injection threshold, when neither sets it, is the guard layer's
 * (SEALM_GUARD_INJECT_DETECT for detect, SEALM_GUARD_INJECT_BLOCK for block). Never fails. */
front_guard_policy front_guard_resolve(const front_guard_policy *model, const front_guard_policy *key);

/* One API key as configured: only the SHA-256 of the secret is held. */
typedef struct front_key {
    char id[64];
    uint8_t hash[32];            /* SHA-256 of the key text */
    char **models;               /* model ids this key may use; "*" = all */
    size_t n_models;
    unsigned features;           /* FEATURE_* bits */
    double requests_per_minute;  /* 0 = unlimited */
    double tokens_per_minute;    /* 0 = unlimited */
    int64_t quota_tokens;        /* tokens per quota period; 0 = unlimited */
    int64_t quota_period_s;
    front_guard_policy guard;    /* per-key overrides; GUARD_UNSET fields fall through to the model */
} front_key;

typedef struct front_limits {
    int64_t max_body_bytes;
    int64_t max_prompt_tokens;
    int64_t max_tokens;
    int64_t max_stop;            /* stop strings per request */
    int64_t max_stop_bytes;      /* bytes per stop string */
    int64_t max_messages;
    int64_t max_in_flight;       /* requests relayed to the worker at once; beyond → 429 */
    int64_t request_timeout_s;
} front_limits;

typedef struct front_model {
    char id[128];
    bool logprobs;               /* per-model switch: false refuses logprobs for every key */
    front_guard_policy guard;    /* defaults for every key (unset fields: off) */
    char *policy_file;           /* output policy file (sealm_guard_policy format); NULL: none */
    bool canary;                 /* plant and check a canary in the system prompt (default true) */
    bool restore;                /* map input placeholders the model echoes back (default false) */
    sealm_guard_policy *policy;  /* compiled policy_file, after front_guard_load; NULL: none */
} front_model;

typedef struct front_config {
    char *unix_path;             /* NULL: no Unix socket */
    unsigned unix_mode;
    char *tcp_host;              /* NULL: no TCP listener */
    int tcp_port;
    char *tls_cert, *tls_key, *tls_client_ca;  /* PEM file paths (client_ca NULL: no mTLS) */
    char *user;                  /* drop to this user when started as root; NULL: stay */
    double drain_seconds;
    double startup_timeout_s;
    front_limits limits;
    front_model *models;
    size_t n_models;
    front_key *keys;
    size_t n_keys;
    json_t *models_json;         /* the "models" array, handed to the worker as-is */
    json_t *limits_json;         /* the "limits" object, handed to the worker as-is */
    sealm_guard_pii *guard_pii;  /* shared PII detector, after front_guard_load (NULL: not needed) */
    sealm_guard_injector *guard_injector;   /* shared injection screener (NULL: not needed) */
} front_config;

/* Compiles what the config's guard settings need: the PII detector and injection screener
 * (when any model or key turns them on) and each model's policy file (read here: call it
 * before dropping privileges). Errors: those of sealm_guard_pii_new, sealm_guard_injector_new
 * and sealm_guard_policy_load (SEALM_E_IO, SEALM_E_FORMAT with the line), prefixed with the
 * model id. Freed by front_config_free. */
sealm_status front_guard_load(front_config *cfg, sealm_error *err);

/* Parses and validates the JSON config file at path into *cfg (zeroed first). Strict:
 * unknown keys, wrong types and out-of-range values are refused with a message naming the
 * key. Errors: SEALM_E_IO (cannot read), SEALM_E_FORMAT (not JSON), SEALM_E_INVALID. */
sealm_status front_config_load(const char *path, front_config *cfg, sealm_error *err);
/* Same from a JSON text (tests). */
sealm_status front_config_parse(const char *text, front_config *cfg, sealm_error *err);
void front_config_free(front_config *cfg);
/* Parses only the "keys" array of a config file (SIGHUP reload). */
sealm_status front_keys_parse(const json_t *keys, front_key **out, size_t *n_out, sealm_error *err);
void front_keys_free(front_key *keys, size_t n);

/* ---- auth (auth.c) ---- */

typedef struct front_bucket_state front_bucket_state;

/* The live key set: keys plus their rate-limit state, swapped whole on SIGHUP. */
typedef struct front_auth {
    pthread_mutex_t lock;
    front_key *keys;
    size_t n_keys;
    front_bucket_state *state;   /* one per key, same order */
} front_auth;

typedef enum { AUTH_OK, AUTH_MISSING, AUTH_BAD } front_auth_result;

sealm_status front_auth_init(front_auth *a, front_key *keys, size_t n, sealm_error *err);  /* takes keys */
/* Replaces the key set; rate-limit state is kept for key ids present in both. Takes keys. */
sealm_status front_auth_replace(front_auth *a, front_key *keys, size_t n, sealm_error *err);
void front_auth_free(front_auth *a);
/* "sha256:<64 hex>" of a key text, into out (72 bytes). */
void front_auth_hash_text(const char *key, char out[72]);
/* Checks "Bearer <key>"; on AUTH_OK copies the key (id, scopes) into *key_out. Constant-time
 * against every configured key. */
front_auth_result front_auth_check(front_auth *a, const char *authorization, front_key *key_out);
/* Frees the copy made by front_auth_check. */
void front_key_release(front_key *k);
/* Whether key may use model_id. */
bool front_auth_model_allowed(const front_key *key, const char *model_id);
/* Admits one request of key id at time now (seconds): takes one request from the requests
 * bucket and checks the tokens bucket and quota. On refusal returns false, sets *retry_after
 * (whole seconds >= 1) and *reason ("requests_per_minute", "tokens_per_minute", "quota"). */
bool front_auth_admit(front_auth *a, const char *key_id, double now, double *retry_after, const char **reason);
/* Charges tokens used by a finished request to the key's tokens bucket and quota. */
void front_auth_charge(front_auth *a, const char *key_id, double now, int64_t tokens);

/* ---- metrics (metrics.c) ---- */

void front_metrics_request(int status);
void front_metrics_reject(const char *reason);
void front_metrics_tokens(int64_t in, int64_t out);
void front_metrics_ttft(double seconds);
void front_metrics_token_latency(double seconds);
void front_metrics_inflight(int delta);
void front_metrics_cancelled(void);
/* Guard: n findings of kind in direction (0 input, 1 output) handled with action. */
void front_metrics_guard_finding(int direction, sealm_guard_kind kind, sealm_guard_action action, uint64_t n);
/* Guard: one request refused (input) or output stopped (output) because of kind. */
void front_metrics_guard_block(int direction, sealm_guard_kind kind);
/* Guard: time spent in the guard for one request and direction, seconds. */
void front_metrics_guard_seconds(int direction, double seconds);
/* Prometheus text exposition (version 0.0.4); caller frees. */
char *front_metrics_render(void);

/* ---- log (log.c) ---- */

/* Writes one JSON object per line to stderr. fields: a JSON object (borrowed) that must not
 * hold prompt or output text; "ts", "level" and "msg" are added. */
void front_log(const char *level, const char *msg, json_t *fields);
void front_logf(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- relay to the worker (front.c) ---- */

enum { EV_TOKEN = 1, EV_DONE, EV_ERROR };

typedef struct front_event {
    int kind;
    json_t *body;                /* owned */
    double t;                    /* arrival time, monotonic seconds */
    struct front_event *next;
} front_event;

/* One request relayed to the worker: the reader thread appends events, the connection
 * thread waits for them. */
typedef struct front_pending {
    uint64_t req;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    front_event *head, *tail;
    bool finished;               /* DONE or ERROR seen, or the worker is gone */
    bool worker_gone;
    bool counted;                /* GENERATE went out: counted in the queue-depth gauge */
    struct front_pending *next;
} front_pending;

double front_now(void);          /* monotonic seconds */
/* Registers a request and sends GENERATE (body gets "req"). NULL on failure (worker gone). */
front_pending *front_relay_start(json_t *generate, sealm_error *err);
/* Waits up to timeout_s for the next event; NULL on timeout. Caller frees with front_event_free. */
front_event *front_relay_next(front_pending *p, double timeout_s);
void front_event_free(front_event *e);
/* Sends CANCEL now and keeps the request registered, so that the worker's DONE (with the
 * token counts) still arrives (the output guard stopped the answer). */
void front_relay_cancel(front_pending *p);
/* Sends CANCEL when the request has not finished, unregisters and frees it. */
void front_relay_end(front_pending *p);
bool front_worker_ready(void);
/* HELLO's model list (borrowed), or NULL. */
const json_t *front_worker_models(void);

/* ---- request validation (api_validate.c) ---- */

/* An OpenAI-style error: {"error":{"message","type","param","code"}} with an HTTP status. */
typedef struct api_error {
    int status;
    const char *type;            /* "invalid_request_error", "permission_error", ... */
    const char *code;            /* machine-readable code or NULL */
    char param[64];              /* offending field or "" */
    char message[256];           /* never echoes request text */
} api_error;

/* A validated completion request. */
typedef struct api_request {
    bool chat;                   /* /v1/chat/completions (else /v1/completions) */
    bool stream, include_usage, logprobs;
    char model[128];
    json_t *generate;            /* the GENERATE body, without "req" (owned) */
} api_request;

/* Validates an OpenAI request body against the limits, the key's scopes and the models the
 * worker serves (n_vocab for logit_bias) and builds the GENERATE body. Returns 0, or the
 * HTTP status with *e filled (400 malformed, 403 scope, 404 unknown model). */
int api_validate(const json_t *body, bool chat, const front_key *key, const front_config *cfg,
                 const json_t *hello_models, api_request *out, api_error *e);

/* ---- guard at run time (guard_input.c, guard_output.c) ---- */

enum { GUARD_INPUT = 0, GUARD_OUTPUT = 1 };

/* What the guard found in one direction of one request: counts per kind, never text. */
typedef struct front_guard_report {
    uint32_t count[SEALM_GUARD_KIND_COUNT];
    bool blocked;
    sealm_guard_kind block_kind;
    double seconds;              /* time spent in the guard */
} front_guard_report;

/* The per-request guard state: the vault of input placeholders (and, with restore, a
 * second vault holding only those, so that the reply's re-personalization never undoes an
 * output redaction), the canary planted for this request. */
typedef struct front_guard_request {
    front_guard_policy policy;   /* resolved for this key and model */
    const front_model *model;
    sealm_guard_vault *vault;    /* input (and output) placeholders; NULL until needed */
    sealm_guard_vault *restore;  /* input placeholders only; NULL without restore */
    char canary[SEALM_GUARD_CANARY_LEN + 1];   /* "" when none */
    front_guard_report input;
} front_guard_request;

/* Resolves the policy and, when the model has a protected system prompt (has_system, from
 * HELLO) and canary on, draws this request's canary. Returns SEALM_OK. */
sealm_status front_guard_request_init(front_guard_request *g, const front_config *cfg, const front_model *model,
                                      const front_key *key, bool has_system, sealm_error *err);
void front_guard_request_free(front_guard_request *g);

/* Runs the input policy over every user-controlled text of a GENERATE body (each message's
 * content, or the prompt), in place: redaction replaces the texts by placeholders. Returns 0,
 * or the HTTP status with *e filled: 400 input_blocked (message names the kinds, never the
 * text), 500 when the guard failed. g->input holds the counts. */
int front_guard_input(front_guard_request *g, const front_config *cfg, json_t *generate, api_error *e);

/* The output filter of one request: canary, then PII and the policy file (streaming-safe,
 * bounded hold-back), then re-personalization. */
typedef struct front_guard_output front_guard_output;
/* NULL *out when the request needs no output filter (nothing to check). */
sealm_status front_guard_output_new(front_guard_request *g, const front_config *cfg, front_guard_output **out,
                                    sealm_error *err);
void front_guard_output_free(front_guard_output *o);
/* Whether the filter may change text (then logprobs cannot be aligned with it). */
bool front_guard_output_rewrites(const front_guard_request *g);
/* Feeds one TOKEN's text; *out and *n: what may be shown now (valid until the next call);
 * *raw_released: bytes of model text released so far (for aligning logprobs when the filter
 * does not rewrite). Returns true once the output is blocked (nothing more is shown). */
bool front_guard_output_push(front_guard_output *o, const char *text, size_t len, const char **out, size_t *n,
                             size_t *raw_released);
/* End of the output: releases what was held. Same conventions as push. */
bool front_guard_output_finish(front_guard_output *o, const char **out, size_t *n, size_t *raw_released);
/* The counts so far (for metrics and the log line). */
const front_guard_report *front_guard_output_report(const front_guard_output *o);

/* Logs one guard event ("guard_input", "guard_output", "canary_leak") with ids and counts
 * only, and updates the metrics. */
void front_guard_log(const char *event, uint64_t req, const char *key_id, const char *model, int direction,
                     const front_guard_report *r, const front_guard_policy *p);

/* ---- HTTP (http.c) ---- */

typedef struct front_http front_http;
/* PEM texts read before the privilege drop (NULL: absent). */
typedef struct front_tls {
    char *cert, *key, *ca;
} front_tls;
/* Starts the HTTP daemons on already-bound listening sockets (-1 = none); takes the fds. */
sealm_status front_http_start(const front_config *cfg, front_auth *auth, const front_tls *tls, int unix_fd, int tcp_fd,
                              front_http **out, sealm_error *err);
/* Stops accepting new connections; requests arriving on open connections get 503. */
void front_http_quiesce(front_http *h);
/* Requests still being served. */
int front_http_active(front_http *h);
void front_http_stop(front_http *h);

#endif
