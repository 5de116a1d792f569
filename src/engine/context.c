/* A context: KV cache, activation buffers, thread pool, and the eval loop over batches. */
#include "engine/attention.h"
#include "engine/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_HEAD_DIM = 1024, MAX_N_BATCH = 8192 };

sealm_context_params sealm_context_params_default(void) {
    return (sealm_context_params){.n_ctx = 0, .n_batch = 0, .n_threads = 0};
}

int32_t sealm_physical_cores(void) {
    /* Count distinct (package, core) pairs: SMT siblings share a core and its FMA units, so a
     * thread per hardware thread only adds contention for these kernels. */
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1) online = 1;
    int n_unique = 0;
    enum { MAX_CPUS = 1024 };
    long seen[MAX_CPUS];
    for (long cpu = 0; cpu < online && cpu < MAX_CPUS; cpu++) {
        char path[128];
        long core = -1, pkg = -1;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/core_id", cpu);
        FILE *f = fopen(path, "r");
        if (!f) return (int32_t)online;
        if (fscanf(f, "%ld", &core) != 1) core = -1;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/physical_package_id", cpu);
        f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%ld", &pkg) != 1) pkg = -1;
            fclose(f);
        }
        if (core < 0) return (int32_t)online;
        const long key = pkg * 1000000 + core;
        bool dup = false;
        for (int i = 0; i < n_unique; i++) dup |= seen[i] == key;
        if (!dup) seen[n_unique++] = key;
    }
    return n_unique > 0 ? n_unique : (int32_t)online;
}

static void *alloc_floats(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

/* The sizes of a context's buffers for a model and resolved parameters: alloc_buffers
 * allocates exactly these, and sealm_context_memory_plan reports them, so the figure a user
 * sizes a device by is the one the context takes. */
typedef struct buffer_plan {
    size_t nb, d, kv_dim, ff, n_rot;   /* batch tokens; widths in elements */
    size_t xq_row_cap;                 /* bytes per token row of quantized activations */
    size_t kv_elems;                   /* F16 values of each of K and V, all layers */
    size_t attn_rows, n_cap, head_dim; /* per-thread attention scratch: attn_rows × n_cap scores */
    bool blocked;                      /* the blocked path's F32 copy of one layer's K and V */
    size_t nth;                        /* threads (per-thread scratch) */
    size_t n_vocab;                    /* logits of one position (all_logits evals grow them) */
} buffer_plan;

static buffer_plan plan_buffers(const sealm_hparams *hp, const sealm_context_params *p) {
    buffer_plan b = {
        .nb = (size_t)p->n_batch, .d = (size_t)hp->n_embd, .kv_dim = (size_t)hp->n_head_kv * (size_t)hp->head_dim,
        .ff = (size_t)hp->n_ff, .n_rot = (size_t)hp->n_rot, .head_dim = (size_t)hp->head_dim,
        .nth = (size_t)p->n_threads, .n_vocab = (size_t)hp->n_vocab,
    };
    /* the widest activation row any weight type can ask for, at the widest input (n_ff or n_embd) */
    static const sealm_tensor_type act_types[] = {SEALM_TYPE_Q8_0, SEALM_TYPE_Q8_1, SEALM_TYPE_Q8_K,
                                                  SEALM_TYPE_F16, SEALM_TYPE_BF16};
    size_t cap = 0;
    const int64_t widths[2] = {hp->n_embd, hp->n_ff};
    for (size_t i = 0; i < sizeof act_types / sizeof act_types[0]; i++)
        for (int w = 0; w < 2; w++) {
            size_t bytes = sealm_row_bytes(act_types[i], widths[w]);
            if (bytes > cap) cap = bytes;
        }
    b.xq_row_cap = (cap + 63) & ~(size_t)63;
    b.kv_elems = (size_t)hp->n_layer * (size_t)p->n_ctx * b.kv_dim;
    /* attention scratch (attention.h): per thread, rows for the (token, head) pairs of one
     * unit of the blocked path or the heads of one grouped run (one row where only the
     * per-pair path can run), and one layer's keys and values in F32 for the blocked path */
    b.blocked = hp->head_dim % 16 == 0 && p->n_batch >= SEALM_ATTN_BLOCKED_MIN_TOKENS;
    b.n_cap = ((size_t)p->n_ctx + 15) & ~(size_t)15;
    b.attn_rows = hp->head_dim % 16 == 0 ? SEALM_ATTN_MAX_QUERIES : 1;   /* blocked units or grouped heads */
    return b;
}

/* Bytes of everything but the KV cache: activations, quantized activation rows, attention
 * scratch, share cursors, one position's logits. */
static uint64_t plan_buffer_bytes(const buffer_plan *b) {
    const uint64_t act_floats = b->nb * (5 * b->d + 2 * b->kv_dim + 2 * b->ff + b->n_rot);
    const uint64_t per_thread = b->attn_rows * b->n_cap * (sizeof(float) + sizeof(sealm_fp16)) +
                                b->attn_rows * b->head_dim * (sizeof(sealm_fp16) + sizeof(float)) +
                                sizeof(sealm_attn_scratch) + sizeof(sealm_share_cursor);
    const uint64_t f32_kv = b->blocked ? 2 * b->kv_dim * b->n_cap * sizeof(float) : 0;
    return act_floats * sizeof(float) + 3 * b->nb * b->xq_row_cap + b->nth * per_thread + f32_kv +
           b->n_vocab * sizeof(float);
}

static sealm_status alloc_buffers(sealm_context *c, sealm_error *err) {
    const buffer_plan b = plan_buffers(&c->model->hp, &c->params);
    const size_t nb = b.nb;
    sealm_activations *a = &c->act;
    a->x = alloc_floats(nb * b.d);
    a->xb = alloc_floats(nb * b.d);
    a->q = alloc_floats(nb * b.d);
    a->k = alloc_floats(nb * b.kv_dim);
    a->v = alloc_floats(nb * b.kv_dim);
    a->att = alloc_floats(nb * b.d);
    a->proj = alloc_floats(nb * b.d);
    a->gate = alloc_floats(nb * b.ff);
    a->up = alloc_floats(nb * b.ff);
    a->rope = alloc_floats(nb * b.n_rot);
    a->xq_row_cap = b.xq_row_cap;
    a->xq = aligned_alloc(64, 3 * nb * a->xq_row_cap);

    c->kv.k = calloc(b.kv_elems, sizeof(sealm_fp16));
    c->kv.v = calloc(b.kv_elems, sizeof(sealm_fp16));

    const int nth = c->params.n_threads;
    c->attn = calloc((size_t)nth, sizeof *c->attn);
    c->share_cursors = aligned_alloc(alignof(sealm_share_cursor), (size_t)nth * sizeof *c->share_cursors);
    bool ok = a->x && a->xb && a->q && a->k && a->v && a->att && a->proj && a->gate && a->up && a->rope && a->xq &&
              c->kv.k && c->kv.v && c->attn && c->share_cursors;
    for (int i = 0; ok && i < nth; i++) {
        c->attn[i].scores = alloc_floats(b.attn_rows * b.n_cap);
        c->attn[i].p16 = calloc(b.attn_rows * b.n_cap, sizeof(sealm_fp16));
        c->attn[i].q16 = calloc(b.attn_rows * b.head_dim, sizeof(sealm_fp16));
        c->attn[i].qf = alloc_floats(b.attn_rows * b.head_dim);
        ok = c->attn[i].scores && c->attn[i].p16 && c->attn[i].q16 && c->attn[i].qf;
    }
    c->attn_f32.n_cap = (int32_t)b.n_cap;
    if (ok && b.blocked) {
        c->attn_f32.kt = alloc_floats(b.kv_dim * b.n_cap);
        c->attn_f32.vb = alloc_floats(b.kv_dim * b.n_cap);
        ok = c->attn_f32.kt && c->attn_f32.vb;
    }
    c->logits_cap = b.n_vocab;
    c->logits = alloc_floats(c->logits_cap);
    if (!ok || !c->logits)
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory allocating a context of %d tokens (KV cache %.1f MiB); "
                               "try a smaller context size", c->kv.n_ctx,
                               (double)sealm_model_kv_bytes(c->model, c->kv.n_ctx) / 1048576.0);
    return SEALM_OK;
}

/* p with its defaults filled in and checked, as a context of model m would get them;
 * pool_threads > 0: the thread count of a shared pool, which decides it. */
static sealm_status resolve_params(const sealm_model *m, const sealm_context_params *p, int pool_threads,
                                   sealm_context_params *out, sealm_error *err) {
    sealm_context_params params = p ? *p : sealm_context_params_default();
    const sealm_hparams *hp = &m->hp;
    if (params.n_ctx <= 0) params.n_ctx = hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096;
    if (params.n_ctx <= 0) params.n_ctx = 2048;
    if (params.n_ctx > (1 << 20))
        return sealm_error_set(err, SEALM_E_INVALID, "context size %d is larger than the supported 1048576 tokens", params.n_ctx);
    if (params.n_batch <= 0) params.n_batch = 512;
    if (params.n_batch > MAX_N_BATCH)
        return sealm_error_set(err, SEALM_E_INVALID, "batch size %d is larger than the supported %d", params.n_batch, MAX_N_BATCH);
    if (params.n_batch > params.n_ctx) params.n_batch = params.n_ctx;
    if (params.n_threads <= 0) params.n_threads = sealm_physical_cores();
    /* A shared pool decides the thread count (per-thread scratch is sized from it). */
    if (pool_threads > 0) params.n_threads = pool_threads;
    if (params.n_threads > 256)
        return sealm_error_set(err, SEALM_E_INVALID, "thread count %d is larger than the supported 256", params.n_threads);
    if (hp->head_dim > MAX_HEAD_DIM)
        return sealm_error_set(err, SEALM_E_UNSUPPORTED, "head size %d is larger than the supported %d", hp->head_dim, MAX_HEAD_DIM);
    *out = params;
    return SEALM_OK;
}

sealm_status sealm_context_memory_plan(const sealm_model *m, const sealm_context_params *p, sealm_context_memory *out,
                                       sealm_error *err) {
    if (!m || !out) return sealm_error_set(err, SEALM_E_INVALID, "sealm_context_memory_plan: NULL argument");
    *out = (sealm_context_memory){0};
    sealm_context_params params;
    sealm_status s = resolve_params(m, p, 0, &params, err);
    if (s) return s;
    const buffer_plan b = plan_buffers(&m->hp, &params);
    out->params = params;
    out->kv_bytes = 2 * (uint64_t)b.kv_elems * sizeof(sealm_fp16);
    out->buffer_bytes = plan_buffer_bytes(&b);
    return SEALM_OK;
}

sealm_status sealm_context_new(const sealm_model *m, const sealm_context_params *p, sealm_context **out, sealm_error *err) {
    return sealm_context_new_sharing(m, p, NULL, out, err);
}

sealm_status sealm_context_new_sharing(const sealm_model *m, const sealm_context_params *p, sealm_context *pool_from,
                                       sealm_context **out, sealm_error *err) {
    if (!m || !out) return sealm_error_set(err, SEALM_E_INVALID, "sealm_context_new: NULL argument");
    *out = NULL;
    sealm_context_params params;
    sealm_status rs = resolve_params(m, p, pool_from ? sealm_threadpool_size(pool_from->pool) : 0, &params, err);
    if (rs) return rs;

    sealm_context *c = calloc(1, sizeof *c);
    if (!c) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory creating a context");
    c->model = m;
    c->params = params;
    c->kv.n_ctx = params.n_ctx;
    sealm_status s = alloc_buffers(c, err);
    if (!s && pool_from) {
        /* One set of worker threads for contexts that one thread drives in turn: several
         * pools would spin against each other for the same cores. */
        c->pool = pool_from->pool;
    } else if (!s) {
        s = sealm_threadpool_new(params.n_threads, &c->pool, err);
        c->owns_pool = !s;
    }
    if (s) {
        sealm_context_free(c);
        return s;
    }
    *out = c;
    return SEALM_OK;
}

void sealm_context_free(sealm_context *c) {
    if (!c) return;
    if (c->owns_pool) sealm_threadpool_free(c->pool);
    sealm_activations *a = &c->act;
    free(a->x); free(a->xb); free(a->q); free(a->k); free(a->v);
    free(a->att); free(a->proj); free(a->gate); free(a->up); free(a->rope); free(a->xq);
    free(c->kv.k);
    free(c->kv.v);
    if (c->attn)
        for (int i = 0; i < c->params.n_threads; i++) {
            free(c->attn[i].scores);
            free(c->attn[i].p16);
            free(c->attn[i].q16);
            free(c->attn[i].qf);
        }
    free(c->attn_f32.kt);
    free(c->attn_f32.vb);
    free(c->attn);
    free(c->share_cursors);
    free(c->logits);
    free(c);
}

sealm_status sealm_context_eval(sealm_context *c, const int32_t *tokens, int32_t n, bool all_logits, sealm_error *err) {
    if (!c || !tokens || n < 1) return sealm_error_set(err, SEALM_E_INVALID, "eval needs at least one token");
    const int32_t n_vocab = c->model->hp.n_vocab;
    for (int32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return sealm_error_set(err, SEALM_E_INVALID, "token %d at index %d is outside the vocabulary [0, %d)", tokens[i], i, n_vocab);
    if ((int64_t)c->kv.n_past + n > c->kv.n_ctx)
        return sealm_error_set(err, SEALM_E_CONTEXT_FULL, "%d tokens do not fit: %d of %d context positions are used; "
                               "start a new conversation or raise the context size", n, c->kv.n_past, c->kv.n_ctx);
    const size_t need = (size_t)(all_logits ? n : 1) * (size_t)n_vocab;
    if (need > c->logits_cap) {
        float *bigger = realloc(c->logits, need * sizeof(float));
        if (!bigger) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory keeping logits for %d positions", n);
        c->logits = bigger;
        c->logits_cap = need;
    }
    for (int32_t start = 0; start < n; start += c->params.n_batch) {
        const int32_t nb = n - start < c->params.n_batch ? n - start : c->params.n_batch;
        const bool last = start + nb == n;
        if (all_logits)
            sealm_forward_batch(c, tokens + start, nb, 0, c->logits + (size_t)start * n_vocab);
        else
            sealm_forward_batch(c, tokens + start, nb, last ? nb - 1 : nb, c->logits);
    }
    c->last_eval_n = n;
    c->n_logits = all_logits ? n : 1;
    c->logits_first = all_logits ? 0 : n - 1;
    return SEALM_OK;
}

/* Room for rows rows of logits in c (kept across evals). */
static sealm_status reserve_logits(sealm_context *c, size_t rows, sealm_error *err) {
    const size_t need = rows * (size_t)c->model->hp.n_vocab;
    if (need <= c->logits_cap) return SEALM_OK;
    float *bigger = realloc(c->logits, need * sizeof(float));
    if (!bigger) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory keeping logits for %zu positions", rows);
    c->logits = bigger;
    c->logits_cap = need;
    return SEALM_OK;
}

sealm_status sealm_context_eval_many(sealm_context *const *ctxs, const int32_t *tokens, int32_t n, sealm_error *err) {
    if (!ctxs || !tokens || n < 1 || !ctxs[0] || n > ctxs[0]->params.n_batch)
        return sealm_error_set(err, SEALM_E_INVALID, "eval_many takes 1 to %d contexts (the first one's batch size), got %d",
                               ctxs && ctxs[0] ? ctxs[0]->params.n_batch : 0, n);
    const sealm_model *m = ctxs[0]->model;
    for (int32_t i = 0; i < n; i++) {
        if (!ctxs[i] || ctxs[i]->model != m)
            return sealm_error_set(err, SEALM_E_INVALID, "eval_many: context %d is missing or serves another model", i);
        for (int32_t j = 0; j < i; j++)
            if (ctxs[j] == ctxs[i])
                return sealm_error_set(err, SEALM_E_INVALID, "eval_many: context %d is also context %d; each takes one token", i, j);
        if (tokens[i] < 0 || tokens[i] >= m->hp.n_vocab)
            return sealm_error_set(err, SEALM_E_INVALID, "token %d at index %d is outside the vocabulary [0, %d)", tokens[i], i,
                                   m->hp.n_vocab);
        if (ctxs[i]->kv.n_past >= ctxs[i]->kv.n_ctx)
            return sealm_error_set(err, SEALM_E_CONTEXT_FULL, "context %d is full (%d positions); start a new conversation "
                                   "or raise the context size", i, ctxs[i]->kv.n_ctx);
    }
    sealm_status st = reserve_logits(ctxs[0], (size_t)n, err);
    for (int32_t i = 1; i < n && !st; i++) st = reserve_logits(ctxs[i], 1, err);
    if (st) return st;
    sealm_forward_many(ctxs, tokens, n, ctxs[0]->logits);
    const size_t row = (size_t)m->hp.n_vocab;
    for (int32_t i = 0; i < n; i++) {
        sealm_context *c = ctxs[i];
        if (i > 0) memcpy(c->logits, ctxs[0]->logits + (size_t)i * row, row * sizeof(float));
        c->last_eval_n = 1;
        c->n_logits = 1;
        c->logits_first = 0;
    }
    return SEALM_OK;
}

const float *sealm_context_logits(const sealm_context *c, int32_t i) {
    if (!c || c->n_logits == 0) return NULL;
    if (i < 0) i = c->last_eval_n + i;
    const int32_t row = i - c->logits_first;
    if (row < 0 || row >= c->n_logits) return NULL;
    return c->logits + (size_t)row * (size_t)c->model->hp.n_vocab;
}

int32_t sealm_context_n_past(const sealm_context *c) { return c->kv.n_past; }
int32_t sealm_context_n_ctx(const sealm_context *c) { return c->kv.n_ctx; }
int32_t sealm_context_n_threads(const sealm_context *c) { return c->params.n_threads; }
int32_t sealm_context_n_batch(const sealm_context *c) { return c->params.n_batch; }

void sealm_context_truncate(sealm_context *c, int32_t n_past) {
    if (n_past < 0) n_past = 0;
    if (n_past < c->kv.n_past) c->kv.n_past = n_past;
    c->n_logits = 0;
}
