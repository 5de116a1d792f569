/* sealmd worker — internal types shared by worker_load.c (models) and worker.c (requests and
 * the scheduler). Public entry points are in include/sealm/server.h. */
#ifndef SEALM_SERVER_WORKER_H
#define SEALM_SERVER_WORKER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sealm/bundle.h"
#include "sealm/engine.h"
#include "sealm/gguf.h"
#include "sealm/sample.h"
#include "sealm/tokenizer.h"

/* Most slots (requests decoded at once) of one model. */
#define WORKER_MAX_SLOTS 64

/* Bytes of a prefix-cache scope, NUL included. */
#define WORKER_SCOPE_BYTES 65

/* A request accepted from a GENERATE frame, tokenized and checked, waiting or running. */
typedef struct worker_request {
    uint64_t req;                 /* the front's request id */
    int32_t *prompt;              /* prompt token ids (owned) */
    int32_t n_prompt;
    int32_t max_tokens;           /* completion tokens at most */
    sealm_sample_params sample;
    bool logprobs;                /* send the chosen token's log-probability */
    int32_t *bias_ids;            /* logit_bias: token ids and the values added (owned) */
    float *bias_values;
    size_t n_bias;
    char **stops;                 /* stop strings (owned) */
    size_t n_stops;
    char scope[WORKER_SCOPE_BYTES]; /* prefix-cache scope (the front's API key id); "" none given */
    int32_t n_cached;             /* prompt tokens whose KV the slot already held */
    struct worker_request *next;  /* FIFO link */
} worker_request;

/* One decoding lane: an engine context (its own KV cache and thread pool) and the state of
 * the request it currently serves. */
typedef struct worker_slot {
    sealm_context *ctx;
    float *biased;                /* n_vocab floats: logits + logit_bias, when a request has one */
    worker_request *rq;           /* NULL: free */
    sealm_sampler *sampler;
    sealm_stop_matcher *stop;
    sealm_detok_stream detok;
    uint64_t admitted;            /* the model's admission count when this request started */
    int32_t n_prefilled;          /* prompt tokens evaluated so far */
    int32_t n_generated;          /* completion tokens sampled so far */
    int32_t pending;              /* sampled token not yet evaluated; -1 none */
    bool turn_done;               /* decoded in this turn's batched pass */
    /* Prefix cache: the tokens whose K/V the context holds (positions 0..n_held-1), kept
     * after a request ends so that the next request of the same scope that starts with
     * them skips their prefill. NULL when the model's prefix_cache is off. */
    int32_t *held;                /* n_ctx entries */
    int32_t n_held;
    char held_scope[WORKER_SCOPE_BYTES];
} worker_slot;

/* One configured model with its slots and queue. */
typedef struct worker_model {
    char *id;
    char architecture[32];
    int64_t created;              /* unix seconds when loaded */
    sealm_bundle_image *image;    /* decrypted bundle in locked memory; NULL for plain GGUF */
    sealm_gguf *gguf;
    sealm_model *model;
    sealm_tokenizer *tok;
    sealm_chat_format chat_format;
    char *default_system;         /* system prompt used when a chat has none (owned; may be NULL) */
    const char *system_source;    /* "manifest" or "config" when default_system is the operator's
                                   * protected prompt (isolated, canaried); NULL: the template's */
    bool system_conflict;         /* manifest and config both set one, and they differ */
    int32_t n_ctx;                /* tokens per slot */
    bool prefix_cache;            /* reuse a slot's held prompt prefix (per scope) */
    double prefill_turn_s;        /* prompt time per turn while streams decode; 0: no limit */
    double prefill_tps;           /* prompt tokens/s of the last measured prefill chunk; 0: none yet */
    uint64_t n_admitted;          /* requests started so far (orders the prompts' turns) */
    int32_t turn_prefill_left;    /* prompt tokens the current turn may still evaluate */
    int32_t n_vocab;
    int n_slots;
    worker_slot *slots;
    worker_request *queue_head, *queue_tail;
} worker_model;

/* The prompt tokens one turn of m may evaluate, over all its slots still in their prompts:
 * unlimited when m->prefill_turn_s is 0 (every prompt takes a chunk of up to 128 a turn) or
 * no slot of m is decoding; else whole groups of 16 that take about prefill_turn_s at
 * m->prefill_tps, at least 16 (16 until a rate is measured) and at most 128, so that the
 * decoding streams wait about that long per turn. Pure; for the serving loop and tests. */
int32_t worker_turn_prefill_budget(const worker_model *m);
/* The chunk a prompt with n_left (>= 1) tokens to go takes from *budget (a turn's budget):
 * at most 128, whole groups of 16 unless it ends the prompt; 0 when the budget is spent
 * (the prompt waits for the next turn). Decrements *budget by the chunk. */
int32_t worker_prefill_chunk(int32_t n_left, int32_t *budget);

/* Loads every entry of models (a JSON array) into *out (n_out entries).
 * Errors: those of the library loaders, SEALM_E_INVALID for a malformed entry. */
sealm_status worker_models_load(const json_t *models, worker_model **out, size_t *n_out, sealm_error *err);
/* Frees models and everything they own (contexts, weights — wiped — and queued requests). */
void worker_models_free(worker_model *models, size_t n);
void worker_request_free(worker_request *rq);

#endif
