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

/* ---- config (config.c) ---- */

enum { FEATURE_LOGPROBS = 1, FEATURE_LOGIT_BIAS = 2, FEATURE_SYSTEM_PROMPT = 4, FEATURE_METRICS = 8 };

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
} front_config;

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
