/* Tests of the forward pass and the context: invariances that must hold bit for bit
 * (batching, thread counts, prompt reuse, batched decode of several sequences), every
 * weight type through the whole model,
 * and the errors of model loading and evaluation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attention.h"
#include "engine/quant.h"
#include "sealm/engine.h"
#include "sealm/gguf.h"
#include "support/gguf_writer.h"

#define STORIES SEALM_SHARED_DIR "/models/stories260K.gguf"
#define SYNTH_Q8 SEALM_SHARED_DIR "/models/synth/synth-llama-q8_0.gguf"
#define QWEN_Q8 SEALM_SHARED_DIR "/models/synth/synth-qwen2-q8_0.gguf"

/* "Once upon a time there was a little girl" in stories260K's vocabulary, and a few more */
static const int32_t PROMPT[] = {1, 403, 407, 261, 378, 302, 323, 261, 402, 394, 385, 386, 291, 293, 304, 312};
#define N_PROMPT ((int32_t)(sizeof PROMPT / sizeof PROMPT[0]))

typedef struct loaded {
    sealm_gguf *g;
    sealm_model *m;
} loaded;

static loaded load(const char *path) {
    loaded l = {0};
    sealm_error err = {0};
    if (sealm_gguf_open_file(path, &l.g, &err) || sealm_model_load(l.g, &l.m, &err)) fail_msg("%s: %s", path, err.message);
    return l;
}

static void unload(loaded *l) {
    sealm_model_free(l->m);
    sealm_gguf_close(l->g);
}

static sealm_context *new_ctx(const sealm_model *m, int n_ctx, int n_batch, int n_threads) {
    sealm_context_params p = sealm_context_params_default();
    p.n_ctx = n_ctx;
    p.n_batch = n_batch;
    p.n_threads = n_threads;
    sealm_context *c = NULL;
    sealm_error err = {0};
    if (sealm_context_new(m, &p, &c, &err)) fail_msg("context: %s", err.message);
    return c;
}

/* logits of every prompt position, evaluated in one call (rows of n_vocab, malloc'd) */
static float *eval_all(sealm_context *c, const int32_t *toks, int32_t n, int32_t n_vocab) {
    sealm_error err = {0};
    assert_int_equal(sealm_context_eval(c, toks, n, true, &err), SEALM_OK);
    float *out = malloc((size_t)n * (size_t)n_vocab * sizeof *out);
    assert_non_null(out);
    for (int32_t i = 0; i < n; i++) {
        const float *row = sealm_context_logits(c, i);
        assert_non_null(row);
        memcpy(out + (size_t)i * n_vocab, row, (size_t)n_vocab * sizeof *out);
    }
    return out;
}

/* Prefill in one batch, in small batches, token by token (decode), and with 1-3 threads:
 * every logit must be identical to the bit, because each row's arithmetic is fixed by the
 * kernels' pinned accumulation order and never depends on its neighbours. */
static void check_invariances_of(const loaded l) {
    const int32_t n_vocab = sealm_model_hparams(l.m)->n_vocab;
    int32_t toks[N_PROMPT];
    for (int32_t i = 0; i < N_PROMPT; i++) toks[i] = PROMPT[i] % n_vocab;

    sealm_context *ref_ctx = new_ctx(l.m, 64, 512, 1);
    float *ref = eval_all(ref_ctx, toks, N_PROMPT, n_vocab);
    sealm_context_free(ref_ctx);

    for (int threads = 1; threads <= 3; threads++) {
        for (int batch = 1; batch <= 16; batch *= 4) {
            sealm_context *c = new_ctx(l.m, 64, batch, threads);
            float *got = eval_all(c, toks, N_PROMPT, n_vocab);
            assert_memory_equal(got, ref, (size_t)N_PROMPT * n_vocab * sizeof(float));
            free(got);
            sealm_context_free(c);
        }
        /* decode: one token per call, last logits only */
        sealm_context *c = new_ctx(l.m, 64, 512, threads);
        sealm_error err = {0};
        for (int32_t i = 0; i < N_PROMPT; i++) {
            assert_int_equal(sealm_context_eval(c, &toks[i], 1, false, &err), SEALM_OK);
            assert_memory_equal(sealm_context_logits(c, -1), ref + (size_t)i * n_vocab, (size_t)n_vocab * sizeof(float));
        }
        assert_int_equal(sealm_context_n_past(c), N_PROMPT);
        /* prompt reuse: drop the last 5 positions and evaluate them again */
        sealm_context_truncate(c, N_PROMPT - 5);
        assert_int_equal(sealm_context_n_past(c), N_PROMPT - 5);
        assert_int_equal(sealm_context_eval(c, toks + N_PROMPT - 5, 5, false, &err), SEALM_OK);
        assert_memory_equal(sealm_context_logits(c, -1), ref + (size_t)(N_PROMPT - 1) * n_vocab, (size_t)n_vocab * sizeof(float));
        sealm_context_free(c);
    }
    free(ref);
}

static void check_invariances(const char *path) {
    loaded l = load(path);
    check_invariances_of(l);
    unload(&l);
}

/* Batched decode of independent sequences (sealm_context_eval_many): nine contexts at
 * different positions, holding different token sequences; each decode step one token for
 * each of the first n contexts in one call, n = 9, 8, 5, 3 (the tiled products over one
 * partial token group at 9 and 8, the four-rows-per-token products at 5 and 3); every
 * context's logits must equal, bit for bit, those of a context that decodes the same
 * sequence alone. With the pool shared (sealmd's slots) and not. */
static void check_many(const char *path) {
    loaded l = load(path);
    const int32_t n_vocab = sealm_model_hparams(l.m)->n_vocab;
    enum { SEQS = 9, STEPS = 4 };
    static const int32_t rows_at_step[STEPS] = {9, 8, 5, 3};
    int32_t start[SEQS], held[SEQS];   /* where each sequence starts in PROMPT, tokens it holds */
    for (int s = 0; s < SEQS; s++) {
        start[s] = s % 7;
        held[s] = 1 + (s * 3) % 5;
    }
    sealm_error err = {0};
    for (int variant = 0; variant < 2; variant++) {
        const int threads = variant == 0 ? 2 : 1;
        sealm_context *c[SEQS], *ref[SEQS];
        for (int s = 0; s < SEQS; s++) {
            sealm_context_params p = sealm_context_params_default();
            p.n_ctx = 64;
            p.n_batch = 16;
            p.n_threads = threads;
            c[s] = NULL;
            /* variant 0: the slots share the first one's pool, as in sealmd */
            if (sealm_context_new_sharing(l.m, &p, variant == 0 && s > 0 ? c[0] : NULL, &c[s], &err))
                fail_msg("context: %s", err.message);
            ref[s] = new_ctx(l.m, 64, 8, 1);
            int32_t toks[16];
            for (int32_t i = 0; i < held[s]; i++) toks[i] = PROMPT[start[s] + i] % n_vocab;
            assert_int_equal(sealm_context_eval(c[s], toks, held[s], false, &err), SEALM_OK);
            assert_int_equal(sealm_context_eval(ref[s], toks, held[s], false, &err), SEALM_OK);
        }
        for (int step = 0; step < STEPS; step++) {
            const int32_t n = rows_at_step[step];
            int32_t next[SEQS];
            for (int s = 0; s < n; s++) {
                const int32_t at = sealm_context_n_past(ref[s]);
                next[s] = PROMPT[start[s] + at] % n_vocab;
                assert_int_equal(sealm_context_eval(ref[s], &next[s], 1, false, &err), SEALM_OK);
            }
            if (sealm_context_eval_many(c, next, n, &err)) fail_msg("eval_many: %s", err.message);
            for (int s = 0; s < SEQS; s++) {
                assert_int_equal(sealm_context_n_past(c[s]), sealm_context_n_past(ref[s]));
                if (s < n && memcmp(sealm_context_logits(c[s], -1), sealm_context_logits(ref[s], -1),
                                    (size_t)n_vocab * sizeof(float)))
                    fail_msg("%s: sequence %d, step %d (%d rows): batched logits differ from the single decode", path,
                             s, step, n);
            }
        }
        assert_int_equal(sealm_context_n_past(c[SEQS - 1]), held[SEQS - 1] + 1);
        for (int s = SEQS - 1; s >= 0; s--) {   /* the pool's owner last */
            sealm_context_free(c[s]);
            sealm_context_free(ref[s]);
        }
    }
    unload(&l);
}

/* eval_many's refusals change nothing. */
static void test_eval_many_errors(void **state) {
    (void)state;
    loaded l = load(STORIES), other = load(SYNTH_Q8);
    sealm_context *a = new_ctx(l.m, 4, 2, 1), *b = new_ctx(l.m, 8, 2, 1), *c = new_ctx(l.m, 8, 2, 1);
    sealm_context *o = new_ctx(other.m, 8, 2, 1);
    sealm_error err = {0};
    const int32_t three[3] = {1, 2, 3};
    assert_int_equal(sealm_context_eval(a, three, 3, false, &err), SEALM_OK);
    sealm_context *dup[2] = {b, b}, *mixed[2] = {b, o}, *ok[2] = {b, c}, *full[2] = {b, a}, *many[3] = {b, c, a};
    sealm_context *with_null[2] = {b, NULL};
    const int32_t toks[3] = {5, 6, 7}, bad[2] = {5, 100000};
    assert_int_equal(sealm_context_n_batch(b), 2);
    sealm_context *clamped = new_ctx(l.m, 8, 512, 1);   /* a batch never exceeds the context */
    assert_int_equal(sealm_context_n_batch(clamped), 8);
    sealm_context_free(clamped);
    assert_int_equal(sealm_context_eval_many(ok, toks, 0, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_context_eval_many(many, toks, 3, &err), SEALM_E_INVALID);   /* more than b's batch of 2 */
    assert_non_null(strstr(err.message, "1 to 2"));
    assert_int_equal(sealm_context_eval_many(dup, toks, 2, &err), SEALM_E_INVALID);
    assert_non_null(strstr(err.message, "also context 0"));
    assert_int_equal(sealm_context_eval_many(mixed, toks, 2, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_context_eval_many(with_null, toks, 2, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_context_eval_many(ok, bad, 2, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_context_eval(a, three, 1, false, &err), SEALM_OK);   /* a: 4 of 4 */
    assert_int_equal(sealm_context_eval_many(full, toks, 2, &err), SEALM_E_CONTEXT_FULL);
    assert_int_equal(sealm_context_n_past(a), 4);
    assert_int_equal(sealm_context_n_past(b), 0);
    assert_int_equal(sealm_context_n_past(c), 0);
    assert_null(sealm_context_logits(b, -1));
    assert_int_equal(sealm_context_eval_many(ok, toks, 2, &err), SEALM_OK);
    assert_int_equal(sealm_context_n_past(b), 1);
    assert_int_equal(sealm_context_n_past(c), 1);
    sealm_context_free(a);
    sealm_context_free(b);
    sealm_context_free(c);
    sealm_context_free(o);
    unload(&other);
    unload(&l);
}

static void test_eval_many(void **state) {
    (void)state;
    check_many(STORIES);
    check_many(SYNTH_Q8);
    check_many(QWEN_Q8);
}

static void test_invariances_llama_f32(void **state) {
    (void)state;
    check_invariances(STORIES);
}

static void test_invariances_llama_q8_0(void **state) {
    (void)state;
    check_invariances(SYNTH_Q8);
}

static void test_invariances_qwen2(void **state) {
    (void)state;
    check_invariances(QWEN_Q8);
}

static void test_eval_errors(void **state) {
    (void)state;
    loaded l = load(STORIES);
    sealm_context *c = new_ctx(l.m, 16, 8, 1);
    sealm_error err = {0};
    int32_t bad = sealm_model_hparams(l.m)->n_vocab;
    assert_int_equal(sealm_context_eval(c, &bad, 1, false, &err), SEALM_E_INVALID);
    assert_non_null(strstr(err.message, "outside the vocabulary"));
    bad = -1;
    assert_int_equal(sealm_context_eval(c, &bad, 1, false, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_context_eval(c, PROMPT, 0, false, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_context_n_past(c), 0);

    assert_int_equal(sealm_context_eval(c, PROMPT, 12, false, &err), SEALM_OK);
    /* 12 + 5 > 16: refused whole, nothing evaluated */
    assert_int_equal(sealm_context_eval(c, PROMPT, 5, false, &err), SEALM_E_CONTEXT_FULL);
    assert_non_null(strstr(err.message, "12 of 16"));
    assert_int_equal(sealm_context_n_past(c), 12);
    assert_int_equal(sealm_context_eval(c, PROMPT, 4, false, &err), SEALM_OK);
    assert_int_equal(sealm_context_n_past(c), 16);
    /* logits of positions not kept are NULL */
    assert_null(sealm_context_logits(c, 0));
    assert_non_null(sealm_context_logits(c, -1));
    sealm_context_free(c);

    sealm_context_params p = sealm_context_params_default();
    p.n_ctx = (1 << 20) + 1;
    assert_int_equal(sealm_context_new(l.m, &p, &c, &err), SEALM_E_INVALID);
    assert_null(c);
    unload(&l);
}

static void test_hparams_and_sizes(void **state) {
    (void)state;
    loaded l = load(STORIES);
    const sealm_hparams *hp = sealm_model_hparams(l.m);
    assert_int_equal(hp->arch, SEALM_ARCH_LLAMA);
    assert_int_equal(hp->n_embd, 64);
    assert_int_equal(hp->n_layer, 5);
    assert_int_equal(hp->n_head, 8);
    assert_int_equal(hp->n_head_kv, 4);
    assert_int_equal(hp->head_dim, 8);
    assert_int_equal(hp->n_vocab, 512);
    /* KV cache: 2 (K and V) × layers × positions × kv heads × head size × 2 bytes */
    assert_int_equal(sealm_model_kv_bytes(l.m, 100), 2ull * 5 * 100 * 4 * 8 * 2);
    /* all tensors are F32 weights here: the byte count is 4 × the parameter count */
    assert_true(sealm_model_weight_bytes(l.m) % 4 == 0 && sealm_model_weight_bytes(l.m) > 200000 * 4);
    unload(&l);
}

/* sealm_context_memory_plan: resolves the parameters as sealm_context_new does, gives the KV
 * cache of sealm_model_kv_bytes, counts per-thread scratch once per thread, counts the
 * blocked attention path's F32 K and V copy exactly when that path can run, and refuses what
 * sealm_context_new refuses. */
static void plan(const sealm_model *m, int n_ctx, int n_batch, int n_threads, sealm_context_memory *out) {
    sealm_context_params p = sealm_context_params_default();
    p.n_ctx = n_ctx;
    p.n_batch = n_batch;
    p.n_threads = n_threads;
    sealm_error err = {0};
    if (sealm_context_memory_plan(m, &p, out, &err)) fail_msg("plan: %s", err.message);
}

static void test_memory_plan(void **state) {
    (void)state;
    loaded l = load(SYNTH_Q8);   /* head size 32: the blocked attention path exists */
    const sealm_hparams *hp = sealm_model_hparams(l.m);
    assert_int_equal(hp->head_dim % 16, 0);
    sealm_context_memory a, b, c, d;
    plan(l.m, 100, 0, 1, &a);
    assert_int_equal(a.params.n_ctx, 100);
    assert_int_equal(a.params.n_batch, 100);   /* the default 512, capped at n_ctx */
    assert_int_equal(a.params.n_threads, 1);
    assert_int_equal(a.kv_bytes, sealm_model_kv_bytes(l.m, 100));
    /* per-thread scratch: the same amount for each added thread */
    plan(l.m, 100, 0, 2, &b);
    plan(l.m, 100, 0, 3, &c);
    assert_true(b.buffer_bytes > a.buffer_bytes);
    assert_int_equal(c.buffer_bytes - b.buffer_bytes, b.buffer_bytes - a.buffer_bytes);
    /* with n_ctx (rounded up to 16: 112 -> 144 positions) grow the attention scores and softmax
     * weights (SEALM_ATTN_MAX_QUERIES rows per thread) and the F32 copy of one layer's K and V */
    plan(l.m, 132, 100, 1, &d);
    const uint64_t kv_dim = (uint64_t)hp->n_head_kv * (uint64_t)hp->head_dim;
    const uint64_t scores_growth = SEALM_ATTN_MAX_QUERIES * 32 * (sizeof(float) + sizeof(uint16_t));
    const uint64_t f32_kv_growth = 2 * kv_dim * 32 * sizeof(float);
    assert_int_equal(d.buffer_bytes - a.buffer_bytes, scores_growth + f32_kv_growth);
    /* batches too short for the blocked path: no F32 copy */
    sealm_context_memory e, f;
    plan(l.m, 100, SEALM_ATTN_BLOCKED_MIN_TOKENS - 1, 1, &e);
    plan(l.m, 132, SEALM_ATTN_BLOCKED_MIN_TOKENS - 1, 1, &f);
    assert_int_equal(f.buffer_bytes - e.buffer_bytes, scores_growth);
    /* a context built with these parameters gets them */
    sealm_context *ctx = new_ctx(l.m, 100, 0, 2);
    assert_int_equal(sealm_context_n_ctx(ctx), b.params.n_ctx);
    assert_int_equal(sealm_context_n_threads(ctx), b.params.n_threads);
    sealm_context_free(ctx);
    /* refused as sealm_context_new refuses them, with *out zeroed */
    sealm_context_params p = sealm_context_params_default();
    p.n_ctx = (1 << 20) + 1;
    sealm_error err = {0};
    assert_int_equal(sealm_context_memory_plan(l.m, &p, &a, &err), SEALM_E_INVALID);
    assert_int_equal(a.buffer_bytes, 0);
    assert_non_null(strstr(err.message, "context size"));
    p.n_ctx = 100;
    p.n_threads = 257;
    assert_int_equal(sealm_context_memory_plan(l.m, &p, &a, &err), SEALM_E_INVALID);
    assert_int_equal(sealm_context_memory_plan(NULL, &p, &a, &err), SEALM_E_INVALID);
    unload(&l);
}

/* ---- rebuilt images: every weight type through the model, and broken models ---- */

typedef struct rebuilt_tensor {
    const sealm_gguf_tensor *src;
    sealm_tensor_type type;
    void *data;           /* owned */
    size_t size;
    bool drop;
    bool layer_matrix;    /* a blk.N 2-D weight: the ones converted */
} rebuilt_tensor;

/* Writes a GGUF v3 image with g's metadata (copied byte for byte) and its tensors, some of
 * them converted to another type. patch_kv, when set, may edit the copied metadata bytes. */
static uint8_t *rebuild(const sealm_gguf *g, rebuilt_tensor *ts, uint64_t n, size_t *len_out,
                        void (*patch_kv)(uint8_t *kv, size_t len)) {
    size_t img_len;
    const uint8_t *img = sealm_gguf_image(g, &img_len);
    size_t kv0 = 0, kv1 = 0;
    assert_true(gguf_kv_section(img, img_len, &kv0, &kv1));
    uint64_t n_keep = 0;
    for (uint64_t i = 0; i < n; i++) n_keep += !ts[i].drop;
    gguf_writer w = {0};
    w_header(&w, 3, n_keep, sealm_gguf_kv_count(g));
    const size_t kv_at = w.len;
    w_bytes(&w, img + kv0, kv1 - kv0);
    if (patch_kv) patch_kv(w.buf + kv_at, kv1 - kv0);
    const size_t align = (size_t)sealm_gguf_alignment(g);
    uint64_t offset = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (ts[i].drop) continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)ts[i].src->name.len, ts[i].src->name.ptr);
        uint64_t ne[4];
        for (int d = 0; d < 4; d++) ne[d] = (uint64_t)ts[i].src->ne[d];
        w_tensor(&w, name, ts[i].src->n_dims, ne, ts[i].type, offset);
        offset += (ts[i].size + align - 1) / align * align;
    }
    w_pad(&w, align);
    for (uint64_t i = 0; i < n; i++) {
        if (ts[i].drop) continue;
        w_bytes(&w, ts[i].data, ts[i].size);
        w_pad(&w, align);
    }
    /* the reader borrows the buffer and the engine reads blocks in place: keep it aligned */
    uint8_t *aligned = aligned_alloc(64, (w.len + 63) / 64 * 64);
    assert_non_null(aligned);
    memcpy(aligned, w.buf, w.len);
    *len_out = w.len;
    w_free(&w);
    return aligned;
}

/* The tensors of g, with every 2-D layer matrix converted to type t (via F32). */
static rebuilt_tensor *convert_layers(const sealm_gguf *g, sealm_tensor_type t, uint64_t *n_out) {
    const uint64_t n = sealm_gguf_tensor_count(g);
    rebuilt_tensor *ts = calloc(n, sizeof *ts);
    assert_non_null(ts);
    const sealm_type_traits *to = sealm_type_traits_get(t);
    assert_non_null(to);
    for (uint64_t i = 0; i < n; i++) {
        const sealm_gguf_tensor *src = sealm_gguf_tensor_at(g, i);
        ts[i].src = src;
        const bool layer_matrix = src->n_dims == 2 && src->name.len > 4 && memcmp(src->name.ptr, "blk.", 4) == 0;
        ts[i].layer_matrix = layer_matrix;
        if (!layer_matrix || t == src->type) {
            ts[i].type = src->type;
            ts[i].size = src->size_bytes;
            ts[i].data = malloc(src->size_bytes);
            assert_non_null(ts[i].data);
            memcpy(ts[i].data, src->data, src->size_bytes);
            continue;
        }
        const sealm_type_traits *from = sealm_type_traits_get(src->type);
        const int64_t cols = src->ne[0], rows = src->ne[1];
        float *f = malloc((size_t)(cols * rows) * sizeof *f);
        assert_non_null(f);
        from->to_float(src->data, f, cols * rows);
        ts[i].type = t;
        ts[i].size = (size_t)(rows * (cols / to->block_elems)) * to->block_bytes;
        ts[i].data = malloc(ts[i].size);
        assert_non_null(ts[i].data);
        for (int64_t r = 0; r < rows; r++)
            to->from_float(f + r * cols, (uint8_t *)ts[i].data + (size_t)(r * (cols / to->block_elems)) * to->block_bytes, cols);
        free(f);
    }
    *n_out = n;
    return ts;
}

static void free_tensors(rebuilt_tensor *ts, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) free(ts[i].data);
    free(ts);
}

static float *last_logits_of_image(const uint8_t *img, size_t len, int32_t *n_vocab) {
    sealm_gguf *g = NULL;
    sealm_model *m = NULL;
    sealm_error err = {0};
    if (sealm_gguf_open_memory(img, len, &g, &err) || sealm_model_load(g, &m, &err)) fail_msg("rebuilt image: %s", err.message);
    *n_vocab = sealm_model_hparams(m)->n_vocab;
    sealm_context *c = new_ctx(m, 64, 512, 2);
    assert_int_equal(sealm_context_eval(c, PROMPT, N_PROMPT, false, &err), SEALM_OK);
    float *out = malloc((size_t)*n_vocab * sizeof *out);
    assert_non_null(out);
    memcpy(out, sealm_context_logits(c, -1), (size_t)*n_vocab * sizeof *out);
    sealm_context_free(c);
    sealm_model_free(m);
    sealm_gguf_close(g);
    return out;
}

/* The same tensors with every converted layer matrix dequantized back to F32: the weights
 * the model computes with are then identical, only the kernel path differs. */
static rebuilt_tensor *dequantized_copy(const rebuilt_tensor *ts, uint64_t n) {
    rebuilt_tensor *out = calloc(n, sizeof *out);
    assert_non_null(out);
    for (uint64_t i = 0; i < n; i++) {
        out[i] = ts[i];
        if (!ts[i].layer_matrix || ts[i].type == SEALM_TYPE_F32) {
            out[i].data = malloc(ts[i].size);
            assert_non_null(out[i].data);
            memcpy(out[i].data, ts[i].data, ts[i].size);
            continue;
        }
        const int64_t elems = ts[i].src->ne[0] * ts[i].src->ne[1];
        out[i].type = SEALM_TYPE_F32;
        out[i].size = (size_t)elems * sizeof(float);
        out[i].data = malloc(out[i].size);
        assert_non_null(out[i].data);
        sealm_type_traits_get(ts[i].type)->to_float(ts[i].data, out[i].data, elems);
    }
    return out;
}

/* Every weight type, end to end: the synth Q8_0 model's layer matrices converted to the
 * type and run through the whole model, against the very same weights dequantized to F32.
 * What differs is only the kernel path: the quantized activations (Q8_0/Q8_1/Q8_K, F16,
 * BF16) and the type's integer dot product. Random-weight models amplify differences, so
 * the bound is loose (relative RMS of the last logits <= 0.12; measured 0.004-0.06), but a
 * dot product that mis-decodes any block gives errors of the order of the logits (>= 0.5). */
static void test_every_weight_type_end_to_end(void **state) {
    (void)state;
    sealm_kernels_init();
    sealm_gguf *g = NULL;
    sealm_error err = {0};
    assert_int_equal(sealm_gguf_open_file(SYNTH_Q8, &g, &err), SEALM_OK);
    static const sealm_tensor_type TYPES[] = {
        SEALM_TYPE_F16, SEALM_TYPE_BF16, SEALM_TYPE_Q8_0, SEALM_TYPE_Q6_K, SEALM_TYPE_Q5_0, SEALM_TYPE_Q5_1,
        SEALM_TYPE_Q5_K, SEALM_TYPE_Q4_0, SEALM_TYPE_Q4_1, SEALM_TYPE_Q4_K, SEALM_TYPE_Q3_K, SEALM_TYPE_Q2_K,
    };
    for (size_t k = 0; k < sizeof TYPES / sizeof TYPES[0]; k++) {
        uint64_t n;
        size_t len;
        int32_t n_vocab;
        rebuilt_tensor *ts = convert_layers(g, TYPES[k], &n);
        rebuilt_tensor *f32 = dequantized_copy(ts, n);
        uint8_t *img = rebuild(g, ts, n, &len, NULL);
        uint8_t *ref_img = rebuild(g, f32, n, &len, NULL);
        float *got = last_logits_of_image(img, len, &n_vocab);
        float *ref = last_logits_of_image(ref_img, len, &n_vocab);
        double se = 0, norm = 0;
        for (int32_t i = 0; i < n_vocab; i++) {
            se += ((double)got[i] - ref[i]) * ((double)got[i] - ref[i]);
            norm += (double)ref[i] * ref[i];
        }
        const double rel = sqrt(se / norm);
        printf("  %-5s relative RMS difference of the last logits vs the same weights in F32: %.4f\n",
               sealm_tensor_type_name(TYPES[k]), rel);
        assert_true(rel <= 0.12);
        free(got);
        free(ref);
        free(img);
        free(ref_img);
        free_tensors(ts, n);
        free_tensors(f32, n);
    }
    sealm_gguf_close(g);
}

/* The invariances with Q4_0 layer matrices and biases: the qwen2 synth model's matrices
 * converted to Q4_0, so decode runs Q4_0's matvec (with the q/k/v biases added after it)
 * and prefill its tiled products, and every logit must still be the same bits. */
static void test_invariances_qwen2_q4_0(void **state) {
    (void)state;
    sealm_kernels_init();
    loaded src = load(QWEN_Q8);
    uint64_t n;
    size_t len;
    rebuilt_tensor *ts = convert_layers(src.g, SEALM_TYPE_Q4_0, &n);
    uint8_t *img = rebuild(src.g, ts, n, &len, NULL);
    loaded l = {0};
    sealm_error err = {0};
    if (sealm_gguf_open_memory(img, len, &l.g, &err) || sealm_model_load(l.g, &l.m, &err))
        fail_msg("qwen2 in Q4_0: %s", err.message);
    check_invariances_of(l);
    unload(&l);
    free(img);
    free_tensors(ts, n);
    unload(&src);
}

static void rename_arch(uint8_t *kv, size_t len) {
    /* the value of general.architecture: the string right after the key and its type */
    static const char key[] = "general.architecture";
    for (size_t i = 0; i + sizeof key + 16 < len; i++)
        if (memcmp(kv + i, key, sizeof key - 1) == 0) {
            memcpy(kv + i + (sizeof key - 1) + 4 + 8, "mamba", 5);  /* "llama" → "mamba" */
            return;
        }
    fail_msg("general.architecture not found");
}

static void test_load_errors(void **state) {
    (void)state;
    sealm_gguf *g = NULL;
    sealm_error err = {0};
    assert_int_equal(sealm_gguf_open_file(STORIES, &g, &err), SEALM_OK);
    uint64_t n;
    size_t len;

    /* a missing tensor is named */
    rebuilt_tensor *ts = convert_layers(g, SEALM_TYPE_F32, &n);
    for (uint64_t i = 0; i < n; i++)
        if (ts[i].src->name.len == strlen("blk.3.ffn_up.weight") && !memcmp(ts[i].src->name.ptr, "blk.3.ffn_up.weight", ts[i].src->name.len))
            ts[i].drop = true;
    uint8_t *img = rebuild(g, ts, n, &len, NULL);
    sealm_gguf *g2 = NULL;
    sealm_model *m = NULL;
    assert_int_equal(sealm_gguf_open_memory(img, len, &g2, &err), SEALM_OK);
    assert_int_equal(sealm_model_load(g2, &m, &err), SEALM_E_FORMAT);
    assert_null(m);
    assert_non_null(strstr(err.message, "blk.3.ffn_up.weight"));
    sealm_gguf_close(g2);
    free(img);
    free_tensors(ts, n);

    /* an unsupported architecture */
    ts = convert_layers(g, SEALM_TYPE_F32, &n);
    img = rebuild(g, ts, n, &len, rename_arch);
    assert_int_equal(sealm_gguf_open_memory(img, len, &g2, &err), SEALM_OK);
    assert_int_equal(sealm_model_load(g2, &m, &err), SEALM_E_UNSUPPORTED);
    assert_non_null(strstr(err.message, "mamba"));
    sealm_gguf_close(g2);
    free(img);
    free_tensors(ts, n);

    /* a tensor of a type the engine cannot compute with (Q8_1 is an activation format) */
    ts = convert_layers(g, SEALM_TYPE_F32, &n);
    for (uint64_t i = 0; i < n; i++)
        if (ts[i].src->name.len == strlen("blk.0.attn_q.weight") && !memcmp(ts[i].src->name.ptr, "blk.0.attn_q.weight", ts[i].src->name.len)) {
            const int64_t elems = ts[i].src->ne[0] * ts[i].src->ne[1];
            ts[i].type = SEALM_TYPE_Q8_1;
            ts[i].size = (size_t)(elems / 32) * 36;
            free(ts[i].data);
            ts[i].data = calloc(1, ts[i].size);
        }
    img = rebuild(g, ts, n, &len, NULL);
    assert_int_equal(sealm_gguf_open_memory(img, len, &g2, &err), SEALM_OK);
    assert_int_equal(sealm_model_load(g2, &m, &err), SEALM_E_UNSUPPORTED);
    assert_non_null(strstr(err.message, "blk.0.attn_q.weight"));
    sealm_gguf_close(g2);
    free(img);
    free_tensors(ts, n);
    sealm_gguf_close(g);
}

/* Two contexts sharing one thread pool, evaluated in turn (as sealmd's worker does with its
 * slots), each give exactly the logits of a context of their own: the pool carries no state
 * between calls, and the KV caches stay separate. */
static void test_shared_pool(void **state) {
    (void)state;
    loaded l = load(SYNTH_Q8);
    int32_t n_vocab = sealm_model_hparams(l.m)->n_vocab;
    sealm_context *own = new_ctx(l.m, 64, 16, 2);
    float *want_a = eval_all(own, PROMPT, N_PROMPT, n_vocab);
    sealm_context_free(own);
    own = new_ctx(l.m, 64, 16, 2);
    float *want_b = eval_all(own, PROMPT + 4, N_PROMPT - 4, n_vocab);
    sealm_context_free(own);

    sealm_context *a = new_ctx(l.m, 64, 16, 2), *b = NULL;
    sealm_context_params p = sealm_context_params_default();
    p.n_ctx = 64;
    p.n_batch = 16;
    p.n_threads = 7;   /* ignored: b uses a's threads */
    sealm_error err = {0};
    assert_int_equal(sealm_context_new_sharing(l.m, &p, a, &b, &err), SEALM_OK);
    assert_int_equal(sealm_context_n_threads(b), sealm_context_n_threads(a));
    /* interleaved token by token, like round-robin decoding */
    int32_t na = N_PROMPT, nb = N_PROMPT - 4;
    for (int32_t i = 0; i < na; i++) {
        assert_int_equal(sealm_context_eval(a, PROMPT + i, 1, false, &err), SEALM_OK);
        assert_memory_equal(sealm_context_logits(a, -1), want_a + (size_t)i * n_vocab, (size_t)n_vocab * sizeof(float));
        if (i < nb) {
            assert_int_equal(sealm_context_eval(b, PROMPT + 4 + i, 1, false, &err), SEALM_OK);
            assert_memory_equal(sealm_context_logits(b, -1), want_b + (size_t)i * n_vocab, (size_t)n_vocab * sizeof(float));
        }
    }
    sealm_context_free(b);
    sealm_context_free(a);
    free(want_a);
    free(want_b);
    unload(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hparams_and_sizes),
        cmocka_unit_test(test_memory_plan),
        cmocka_unit_test(test_invariances_llama_f32),
        cmocka_unit_test(test_invariances_llama_q8_0),
        cmocka_unit_test(test_invariances_qwen2),
        cmocka_unit_test(test_invariances_qwen2_q4_0),
        cmocka_unit_test(test_eval_errors),
        cmocka_unit_test(test_eval_many),
        cmocka_unit_test(test_eval_many_errors),
        cmocka_unit_test(test_every_weight_type_end_to_end),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_shared_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
