/* sealm engine layer — a decoder-only transformer forward pass on the CPU.
 *
 * Architectures: "llama" (Llama 1/2/3, TinyLlama, SmolLM/SmolLM2, TinyStories) and "qwen2"
 * (adds Q/K/V biases, NEOX-style RoPE). Per layer: RMSNorm → Q/K/V projections → RoPE →
 * attention with grouped-query heads over the KV cache → output projection → residual →
 * RMSNorm → SwiGLU feed-forward → residual; then a final RMSNorm and the output (or tied
 * token-embedding) projection to logits. Sources: Touvron et al. 2023 (Llama), Zhang &
 * Sennrich 2019 (RMSNorm), Su et al. 2021 (RoPE), Ainslie et al. 2023 (GQA), Shazeer 2020
 * (SwiGLU); tensor names and hyperparameter keys as in llama.cpp's GGUF conventions.
 *
 * Weight tensor types: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
 * The KV cache holds F16 values (as llama.cpp's default), sized from n_ctx.
 *
 * Ownership: a sealm_model borrows the sealm_gguf it was loaded from (weights are used in
 * place, never copied): the gguf must outlive the model. A sealm_context owns its KV cache,
 * scratch buffers and thread pool.
 * Thread safety: a model is immutable and may serve many contexts; a context is used by
 * one caller thread at a time (it runs its own worker threads inside sealm_context_eval).
 * Numerics: each kernel's float operation order is fixed (src/engine/quant_ref.h), so the
 * logits of a prompt are bit-identical whatever the SIMD level, thread count or batching. */
#ifndef SEALM_ENGINE_H
#define SEALM_ENGINE_H

#include "sealm/common.h"
#include "sealm/gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sealm_arch { SEALM_ARCH_LLAMA = 1, SEALM_ARCH_QWEN2 = 2 } sealm_arch;

/* Hyperparameters read from metadata ("<arch>.*" keys). */
typedef struct sealm_hparams {
    sealm_arch arch;
    int32_t n_vocab;        /* tokens */
    int32_t n_ctx_train;    /* tokens */
    int32_t n_embd;         /* model width */
    int32_t n_ff;           /* feed-forward width */
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim;       /* n_embd / n_head */
    int32_t n_rot;          /* dimensions rotated by RoPE (rope.dimension_count, default head_dim) */
    float rope_freq_base;   /* default 10000 */
    float rope_freq_scale;  /* 1 / rope.scaling.factor for linear scaling; default 1 */
    float norm_eps;         /* RMSNorm epsilon */
    bool tied_output;       /* output projection reuses token_embd */
} sealm_hparams;

typedef struct sealm_model sealm_model;
typedef struct sealm_context sealm_context;

/* Builds a model over g's tensors. Checks the architecture, every hyperparameter (positive,
 * consistent: n_embd = n_head·head_dim, n_head % n_head_kv == 0, n_rot even and <= head_dim)
 * and every tensor's presence, type and shape before returning.
 * Returns SEALM_OK, SEALM_E_UNSUPPORTED (architecture or tensor type), SEALM_E_FORMAT
 * (missing or misshapen tensor, bad hyperparameter), SEALM_E_NOMEM. */
sealm_status sealm_model_load(const sealm_gguf *g, sealm_model **out, sealm_error *err);
/* Frees the model (its copies of norm/bias vectors; the weights belong to the gguf).
 * NULL is a no-op. No context of the model may be in use. */
void sealm_model_free(sealm_model *m);
/* The model's hyperparameters; valid as long as the model. Thread-safe. */
const sealm_hparams *sealm_model_hparams(const sealm_model *m);
/* Bytes of all weight tensors of the model (what one decoded token reads, give or take the
 * embedding table, of which decode reads one row unless the output is tied to it). */
uint64_t sealm_model_weight_bytes(const sealm_model *m);
/* Bytes the KV cache takes for n_ctx tokens. */
uint64_t sealm_model_kv_bytes(const sealm_model *m, int32_t n_ctx);

typedef struct sealm_context_params {
    int32_t n_ctx;       /* KV cache capacity in tokens; <= 0: min(n_ctx_train, 4096) */
    int32_t n_batch;     /* max tokens per sealm_context_eval call; <= 0: 512 */
    int32_t n_threads;   /* <= 0: the number of physical cores */
} sealm_context_params;

/* All fields 0: the defaults described above. */
sealm_context_params sealm_context_params_default(void);

/* Allocates the KV cache, scratch buffers and the thread pool.
 * Returns SEALM_OK, SEALM_E_INVALID (n_ctx or n_batch larger than supported), SEALM_E_NOMEM. */
sealm_status sealm_context_new(const sealm_model *m, const sealm_context_params *p,
                               sealm_context **out, sealm_error *err);
/* As sealm_context_new, but the new context uses the worker threads of pool_from (its own
 * KV cache and buffers, p->n_threads ignored) instead of starting its own: for a server that
 * drives several sequences from one thread, one at a time. Contract: the contexts sharing a
 * pool are never evaluated at the same time, and pool_from is freed last. pool_from NULL is
 * sealm_context_new. Errors as sealm_context_new. */
sealm_status sealm_context_new_sharing(const sealm_model *m, const sealm_context_params *p, sealm_context *pool_from,
                                       sealm_context **out, sealm_error *err);
/* Stops the context's worker threads (if it owns them) and frees its buffers. NULL is a no-op. */
void sealm_context_free(sealm_context *c);

/* What a context of model m with parameters p would allocate, without allocating it: for
 * sizing a device before loading (`sealm info`). The figures are the ones sealm_context_new
 * allocates (one computation serves both). */
typedef struct sealm_context_memory {
    sealm_context_params params; /* p as sealm_context_new resolves it: defaults filled in (n_threads
                                    <= 0: this machine's physical cores), n_batch capped at n_ctx */
    uint64_t kv_bytes;           /* bytes of the KV cache: F16 keys and values of every layer for
                                    n_ctx tokens (= sealm_model_kv_bytes(m, n_ctx)) */
    uint64_t buffer_bytes;       /* bytes of everything else: activations for n_batch tokens and their
                                    quantized rows, per-thread attention scratch, the blocked
                                    attention path's F32 copy of one layer's K and V (when the head
                                    size is a multiple of 16 and n_batch reaches the blocked path),
                                    one position's logits. An eval that keeps all positions' logits
                                    grows the logits to n × n_vocab floats. */
} sealm_context_memory;

/* Fills *out for model m and parameters p (NULL: the defaults). Thread-safe; allocates
 * nothing. Returns SEALM_OK, or the errors sealm_context_new gives for the same parameters
 * before allocating: SEALM_E_INVALID (a NULL argument, n_ctx, n_batch or n_threads larger
 * than supported), SEALM_E_UNSUPPORTED (head size larger than supported). */
sealm_status sealm_context_memory_plan(const sealm_model *m, const sealm_context_params *p, sealm_context_memory *out,
                                       sealm_error *err);

/* Runs tokens[0..n) through the model at positions n_past .. n_past+n-1, appending them to
 * the KV cache. n may exceed n_batch (it is split). all_logits: keep the logits of every
 * position (prefill comparisons); otherwise only the last position's.
 * Returns SEALM_OK, SEALM_E_INVALID (n < 1, a token id outside [0, n_vocab)), or
 * SEALM_E_CONTEXT_FULL (n_past + n > n_ctx; nothing is evaluated). */
sealm_status sealm_context_eval(sealm_context *c, const int32_t *tokens, int32_t n, bool all_logits, sealm_error *err);

/* Decodes one token in each of n contexts at once (batched decode of independent
 * sequences, as a server does for its parallel requests): tokens[i] (a token id) goes to
 * ctxs[i] at its next position, and afterwards sealm_context_logits(ctxs[i], -1) gives that
 * position's logits, as if sealm_context_eval(ctxs[i], &tokens[i], 1, false) had run — bit
 * for bit the same (the product kernels' float order does not depend on how many rows they
 * take). The weights are read once for all n tokens instead of n times, which is where
 * decode spends its time. The matrix products run on ctxs[0]'s thread pool and buffers,
 * each sequence's attention on its own context.
 * Shapes: n in [1, n_batch of ctxs[0]]; ctxs: n distinct contexts of one model.
 * Ownership: nothing is kept. Thread safety: no other call may use any of the contexts
 * meanwhile.
 * Returns SEALM_OK, SEALM_E_INVALID (n out of range, a NULL or repeated context, contexts of
 * different models, a token id outside [0, n_vocab)), SEALM_E_CONTEXT_FULL (a context has no
 * free position), or SEALM_E_NOMEM (keeping logits). On error no context has changed. */
sealm_status sealm_context_eval_many(sealm_context *const *ctxs, const int32_t *tokens, int32_t n, sealm_error *err);

/* Logits (n_vocab floats) of the i-th position of the last eval call (i in [0, n) when
 * all_logits, else only i = n-1, or -1 for the last). NULL when not kept. Valid until the
 * next eval. */
const float *sealm_context_logits(const sealm_context *c, int32_t i);

/* Tokens held in the KV cache; capacity in tokens; worker threads (including the caller);
 * the most tokens one forward pass takes (n_batch after defaults and clamping: at most
 * n_ctx), which also bounds sealm_context_eval_many's n. */
int32_t sealm_context_n_past(const sealm_context *c);
int32_t sealm_context_n_ctx(const sealm_context *c);
int32_t sealm_context_n_threads(const sealm_context *c);
int32_t sealm_context_n_batch(const sealm_context *c);
/* Drops cached positions >= n_past (e.g. to reuse a shared prompt prefix; a larger n_past
 * than held is ignored). Invalidates the kept logits. Never fails. */
void sealm_context_truncate(sealm_context *c, int32_t n_past);

/* Physical cores of this machine, from /sys/devices/system/cpu/cpuN/topology (SMT siblings
 * counted once); the online CPU count when topology is unavailable. Thread-safe. */
int32_t sealm_physical_cores(void);

#ifdef __cplusplus
}
#endif
#endif
