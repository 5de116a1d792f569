/* Engine-internal: the loaded model (weights bound in place) and the pieces of a context.
 * Shared by model.c (loading and validation), forward.c (the math) and context.c. */
#ifndef SEALM_ENGINE_MODEL_H
#define SEALM_ENGINE_MODEL_H

#include "sealm/engine.h"
#include "engine/quant.h"
#include "engine/threadpool.h"

#include <stdalign.h>
#include <stdatomic.h>

/* A weight matrix used in place from the GGUF image: rows × cols, row-major blocks.
 * In ggml's shape order a matrix has ne[0] = cols (input width) and ne[1] = rows. */
typedef struct sealm_weight {
    const void *data;
    const sealm_type_traits *traits;
    sealm_vec_dot_fn dot;             /* traits->vec_dot, or a special case chosen at load */
    int64_t rows;
    int64_t cols;
    size_t row_bytes;
} sealm_weight;

/* Everything one transformer block reads. Norm weights and biases are copied into owned
 * F32 arrays at load (they are tiny, and this frees the math from their storage type). */
typedef struct sealm_layer_weights {
    float *attn_norm;                 /* [n_embd] */
    sealm_weight wq, wk, wv, wo;      /* [n_embd ← n_embd], [kv_dim ← n_embd] ×2, [n_embd ← n_embd] */
    float *bq, *bk, *bv;              /* qwen2 only: [n_embd], [kv_dim], [kv_dim]; NULL for llama */
    float *ffn_norm;                  /* [n_embd] */
    sealm_weight w_gate, w_up;        /* [n_ff ← n_embd] */
    sealm_weight w_down;              /* [n_embd ← n_ff] */
} sealm_layer_weights;

struct sealm_model {
    sealm_hparams hp;
    const sealm_gguf *gguf;
    sealm_weight tok_embd;            /* [n_vocab rows × n_embd]: row t is token t's embedding */
    float *output_norm;               /* [n_embd] */
    sealm_weight output;              /* [n_vocab ← n_embd]; == tok_embd when tied */
    float *rope_freq_factors;         /* [n_rot/2] divisors of each RoPE frequency (Llama 3.1), or NULL */
    sealm_layer_weights *layers;      /* [n_layer] */
    uint64_t weight_bytes;
};

/* Per-thread scratch for attention (attention.c): rows of scores over the cache, their
 * softmax weights in F16, and the queries in F16 and widened back to F32 — one row for a
 * (token, head) pair, up to SEALM_ATTN_MAX_QUERIES (attention.h) for the pairs of one unit
 * of the blocked path. */
typedef struct sealm_attn_scratch {
    float *scores;                    /* [SEALM_ATTN_MAX_QUERIES][n_cap] (n_cap: n_ctx rounded up to 16) */
    sealm_fp16 *p16;                  /* [SEALM_ATTN_MAX_QUERIES][n_cap] */
    sealm_fp16 *q16;                  /* [SEALM_ATTN_MAX_QUERIES][head_dim] */
    float *qf;                        /* [SEALM_ATTN_MAX_QUERIES][head_dim] */
} sealm_attn_scratch;

/* One layer's keys and values widened to F32 in the blocked layouts of attention.h, shared
 * by the threads; NULL where the blocked path cannot run (head size not a multiple of 16,
 * or batches too short for it). */
typedef struct sealm_attn_f32 {
    float *kt;                        /* [n_head_kv][n_cap / 16][head_dim][16] */
    float *vb;                        /* [n_head_kv][head_dim / 16][n_cap][16] */
    int32_t n_cap;                    /* n_ctx rounded up to 16 */
} sealm_attn_f32;

/* Activations for a batch of up to n_batch tokens, laid out [token][feature]. */
typedef struct sealm_activations {
    float *x;        /* [n_batch][n_embd] residual stream */
    float *xb;       /* [n_batch][n_embd] normalized input of a sub-layer */
    float *q;        /* [n_batch][n_embd] */
    float *k;        /* [n_batch][kv_dim] */
    float *v;        /* [n_batch][kv_dim] */
    float *att;      /* [n_batch][n_embd] attention output before wo */
    float *proj;     /* [n_batch][n_embd] output of wo / w_down */
    float *gate;     /* [n_batch][n_ff] */
    float *up;       /* [n_batch][n_ff] */
    float *rope;     /* [n_batch][n_rot]: cos of a position's n_rot/2 RoPE angles, then their sin */
    uint8_t *xq;     /* [n_batch][max quantized row bytes] activations in a weight's vec_dot_type */
    size_t xq_row_cap;  /* bytes per token row in xq */
} sealm_activations;

/* The KV cache in F16: keys head-major [n_layer][n_head_kv][n_ctx][head_dim] (one KV head's keys
 * are one contiguous stream for decode), values transposed [n_layer][kv_dim][n_ctx]. */
typedef struct sealm_kv_cache {
    sealm_fp16 *k;
    sealm_fp16 *v;
    int32_t n_ctx;
    int32_t n_past;
} sealm_kv_cache;

/* Where one thread's share of a decode product has got to (forward.c: shares run in
 * chunks, and a thread done with its own takes chunks of late ones). One cache line each,
 * so an owner's claims do not disturb the other threads' lines. */
typedef struct sealm_share_cursor {
    alignas(64) atomic_int_fast64_t next;   /* the share's next unclaimed chunk */
} sealm_share_cursor;

struct sealm_context {
    const sealm_model *model;
    sealm_context_params params;
    sealm_kv_cache kv;
    sealm_activations act;
    sealm_attn_scratch *attn;         /* [n_threads] */
    sealm_attn_f32 attn_f32;          /* the blocked attention path's copy of one layer's K and V */
    sealm_threadpool *pool;
    sealm_share_cursor *share_cursors;   /* [n_threads] */
    bool owns_pool;           /* false: the pool belongs to another context (sealm_context_new_sharing) */
    float *logits;                    /* [n_logits][n_vocab] */
    size_t logits_cap;                /* floats allocated */
    int32_t n_logits;                 /* rows kept by the last eval */
    int32_t logits_first;             /* index (in the last eval) of logits row 0 */
    int32_t last_eval_n;
};

/* Runs one batch (n <= n_batch tokens at positions kv.n_past ...) through every layer and
 * writes logits for positions [logits_from, n) into out (rows of n_vocab). forward.c */
void sealm_forward_batch(sealm_context *c, const int32_t *tokens, int32_t n, int32_t logits_from, float *out);
/* One token of each of n sequences (n <= seqs[0]'s n_batch, distinct contexts of one model)
 * in one pass: token t at position seqs[t]->kv.n_past of seqs[t]'s cache. The products run
 * in seqs[0] (its activations and pool), each row's attention in its own context. Writes n
 * rows of logits into out and advances every n_past by one. forward.c */
void sealm_forward_many(sealm_context *const *seqs, const int32_t *tokens, int32_t n, float *out);

/* Bytes of one activation row of width cols converted to type t (0 if t has no blocks). */
size_t sealm_row_bytes(sealm_tensor_type t, int64_t cols);

#endif
