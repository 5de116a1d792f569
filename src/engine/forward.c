/* The forward pass: one function per step of the math, as in llama2.c's run.c, with the
 * matrix products and attention spread over the context's thread pool.
 *
 * Numerics follow the reference implementation's CPU path where it matters for matching
 * its logits (see mathfn.h for why bits matter): activations are quantized per block to
 * the weight's vec_dot_type before each product, RMSNorm sums float squares in double, the
 * KV cache is F16, q is rounded to F16 for q·k, the softmax weights are rounded to F16
 * before they multiply V, and exp, SiLU and the attention dot products use the pinned
 * operation orders of mathfn.h. */
#include "engine/attention.h"
#include "engine/gemm.h"
#include "engine/mathfn.h"
#include "engine/model.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

/* ---- elementwise steps (caller thread: they cost O(n·d), the products cost O(n·d²)) ---- */

/* out[i] = x[i] / sqrt(mean(x²) + eps) · w[i] (Zhang & Sennrich 2019). Squares are rounded
 * to float before the double sum, as the reference does: a one-ulp difference here can
 * flip a rounding of the next activation quantization and move a logit visibly. */
static void rmsnorm(float *out, const float *x, const float *w, int64_t d, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < d; i++) sum += (double)(x[i] * x[i]);
    const float scale = 1.0f / sqrtf((float)(sum / (double)d) + eps);
    for (int64_t i = 0; i < d; i++) out[i] = (x[i] * scale) * w[i];
}

static void add_inplace(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

/* gate[i] = silu(gate[i]) · up[i] (SwiGLU, Shazeer 2020) for n_rows rows of width ff. The
 * reference runs its polynomial exp on whole 16-element chunks of a row and libm's expf on
 * the tail; we do the same, so widths that are not a multiple of 16 still match. */
static void swiglu(float *gate, const float *up, int64_t n_rows, int64_t ff) {
    const int64_t body = ff - ff % 16;
    for (int64_t r = 0; r < n_rows; r++) {
        float *g = gate + r * ff;
        const float *u = up + r * ff;
        sealm_vec_ops_get()->swiglu(g, u, body);
        for (int64_t i = body; i < ff; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

/* cos/sin of the RoPE angles for one position: theta_i = scale · pos · base^(-2i/n_rot) / factor_i
 * (Su et al. 2021; linear scaling as in Chen et al. 2023). The angle is advanced by repeated
 * multiplication, as the reference implementation does, so both round the same way. */
static void rope_angles(const sealm_model *m, int32_t pos, float *cos_out, float *sin_out) {
    const sealm_hparams *hp = &m->hp;
    const float theta_scale = powf(hp->rope_freq_base, -2.0f / (float)hp->n_rot);
    float theta = (float)pos;
    for (int i = 0; i < hp->n_rot / 2; i++) {
        const float factor = m->rope_freq_factors ? m->rope_freq_factors[i] : 1.0f;
        const float angle = hp->rope_freq_scale * (theta / factor);
        cos_out[i] = cosf(angle);
        sin_out[i] = sinf(angle);
        theta *= theta_scale;
    }
}

/* ---- matrix products: y[t][r] = W[r,:] · x[t,:] (+ b[r]) for every token t ---- */

typedef struct matmul_item {
    const sealm_weight *w;
    const uint8_t *xq;      /* activations, already in w's vec_dot_type: [n][xq_stride], or a packed panel */
    size_t xq_stride;
    bool packed;            /* xq is a packed panel (gemm.h): the type's gemm runs the product */
    float *y;               /* [n][y_stride] */
    int64_t y_stride;
    const float *bias;      /* [rows] or NULL */
} matmul_item;

typedef struct matmul_task {
    matmul_item items[3];   /* products sharing one input run in one task: one sync, not three */
    int n_items;
    int32_t n_tokens;
    int64_t chunk_rows;     /* rows per claimed chunk (a multiple of 4); 0: shares (decode) */
    int64_t n_chunks[3];    /* chunks of each item */
    atomic_int_fast64_t next_chunk;   /* the next chunk to claim, over all items in order */
    /* decode: rows per chunk of a share, per item (multiples of 4), and each share's cursor */
    int64_t share_chunk_rows[3];
    sealm_share_cursor *cursors;
    /* decode: the products the pass runs next, whose share rows a worker prefetches while
     * the caller runs the serial steps in between (threadpool.h) */
    const sealm_weight *next[3];
    int n_next;
} matmul_task;

/* One thread's rows [r0, r1) of one product. On a packed panel (prefill) the type's tiled
 * gemm kernel does the whole range. Otherwise dot products run four at a time through the
 * type's interleaved kernel (bit-identical to four single ones): four rows against one
 * token at a time (decode; a few tokens, the rows staying in L1 between them), or, from
 * ROW_PER_TOKENS_MIN tokens on (prefill without a gemm kernel), one row against four tokens.
 * For the batches of a few sequences that sealmd decodes together the first is the faster:
 * SmolLM2 Q4_1, one thread, 4 and 6 tokens a pass: 94 -> 115 and 77 -> 110 tok/s (the x4
 * kernels share the activation's work between four rows, not the weights' between tokens). */
enum { ROW_PER_TOKENS_MIN = 8 };
static void matmul_rows(const matmul_item *it, int32_t n_tokens, int64_t r0, int64_t r1) {
    const sealm_weight *w = it->w;
    if (it->packed) {
        w->traits->gemm(w->cols, r0, r1, w->data, w->row_bytes, it->xq, n_tokens, it->y, it->y_stride, it->bias);
        return;
    }
    const uint8_t *wdata = w->data;
    const sealm_vec_dot_fn dot = w->dot;
    const sealm_vec_dot_x4_fn dot4 = w->dot == w->traits->vec_dot ? w->traits->vec_dot_x4 : NULL;
    const float zero[1] = {0.0f};
    const float *bias = it->bias ? it->bias : zero;
    const int64_t bias_step = it->bias ? 1 : 0;
#define ROW(r) (wdata + (size_t)(r) * w->row_bytes)
#define ACT(t) (it->xq + (size_t)(t) * it->xq_stride)
#define OUT(t, r) it->y[(int64_t)(t) * it->y_stride + (r)]
    if (n_tokens >= ROW_PER_TOKENS_MIN && dot4) {
        for (int64_t r = r0; r < r1; r++) {
            const float b = bias[r * bias_step];
            int32_t t = 0;
            for (; t + 4 <= n_tokens; t += 4) {
                const void *ws[4] = {ROW(r), ROW(r), ROW(r), ROW(r)};
                const void *xs[4] = {ACT(t), ACT(t + 1), ACT(t + 2), ACT(t + 3)};
                float s[4];
                dot4(w->cols, s, ws, xs);
                for (int k = 0; k < 4; k++) OUT(t + k, r) = s[k] + b;
            }
            for (; t < n_tokens; t++) {
                float s;
                dot(w->cols, &s, ROW(r), ACT(t));
                OUT(t, r) = s + b;
            }
        }
        return;
    }
    int64_t r = r0;
    const sealm_matvec_fn matvec = dot4 ? w->traits->matvec : NULL;
    if (matvec && r1 - r0 >= 4) {   /* the whole range's groups of four rows in one call per token */
        const int64_t rows = (r1 - r0) / 4 * 4;
        for (int32_t t = 0; t < n_tokens; t++) {
            float *out = &OUT(t, r0);
            matvec(w->cols, rows, out, ROW(r0), w->row_bytes, ACT(t));
            for (int64_t k = 0; k < rows; k++) out[k] += bias[(r0 + k) * bias_step];
        }
        r = r0 + rows;
    }
    if (dot4)
        for (; r + 4 <= r1; r += 4)
            for (int32_t t = 0; t < n_tokens; t++) {
                const void *ws[4] = {ROW(r), ROW(r + 1), ROW(r + 2), ROW(r + 3)};
                const void *xs[4] = {ACT(t), ACT(t), ACT(t), ACT(t)};
                float s[4];
                dot4(w->cols, s, ws, xs);
                for (int k = 0; k < 4; k++) OUT(t, r + k) = s[k] + bias[(r + k) * bias_step];
            }
    for (; r < r1; r++)
        for (int32_t t = 0; t < n_tokens; t++) {
            float s;
            dot(w->cols, &s, ROW(r), ACT(t));
            OUT(t, r) = s + bias[r * bias_step];
        }
#undef ROW
#undef ACT
#undef OUT
}

/* In prefill, threads claim chunks of rows until none is left, instead of taking a fixed
 * share each: on a shared machine a thread that loses its CPU for a while would otherwise
 * hold up the whole product (the others wait at the end of the run). A row's result does
 * not depend on which thread computes it, so the bits are the same either way. Decode
 * keeps one contiguous share per thread: there the product streams weights from memory,
 * and chunks handed out in turn cost ~10% of decode speed (the hardware prefetchers
 * restart at every chunk). */
/* Decode runs each product in contiguous shares, one per thread, but a share is claimed a
 * chunk at a time through its cursor: the owner takes its chunks front to back (one stream
 * of rows, as the prefetchers need), and a thread done with its own share goes on with the
 * next chunks of any share still running. A worker that wakes late, or loses its CPU to
 * another process for a while, so no longer holds the whole product up: measured on this
 * shared 2-core machine, the worker's share started on average ~18 µs after the caller's
 * (of a ~30 µs share) while another process kept one core busy. */

/* Share s's rows [r0, r1) of weight w: groups of 4 rows (the interleaved kernels' unit). */
static void share_rows(const sealm_weight *w, int s, int nth, int64_t *r0, int64_t *r1) {
    const int64_t groups = (w->rows + 3) / 4;
    const int64_t g0 = groups * s / nth, g1 = groups * (s + 1) / nth;
    *r0 = g0 * 4;
    *r1 = g1 * 4 < w->rows ? g1 * 4 : w->rows;
}

/* Records the first PREFETCH_NEXT_BYTES of share s's rows of the next products for this
 * thread to prefetch while it waits (threadpool.h): the worker that ran share s usually
 * runs share s of the next product too, and the caller's thread drops them. The cap is
 * meant to keep the lines in a core's L2 until they are used (1 MiB on the Zen 4 cores this
 * was measured on; small arm64 cores have less, and there part of it may be evicted
 * first); the caller's serial steps between two products take a few microseconds, in
 * which one core fetches some tens of KiB, so more would rarely arrive in time anyway. */
enum { PREFETCH_NEXT_BYTES = 256 * 1024 };

static void prefetch_next_share(const matmul_task *task, int s, int nth) {
    sealm_prefetch_range r[SEALM_PREFETCH_RANGES];
    int n = 0;
    size_t budget = PREFETCH_NEXT_BYTES;
    for (int k = 0; k < task->n_next && n < SEALM_PREFETCH_RANGES && budget > 0; k++) {
        const sealm_weight *w = task->next[k];
        int64_t r0, r1;
        share_rows(w, s, nth, &r0, &r1);
        if (r1 <= r0) continue;
        const size_t bytes = (size_t)(r1 - r0) * w->row_bytes;
        r[n] = (sealm_prefetch_range){(const uint8_t *)w->data + (size_t)r0 * w->row_bytes, bytes < budget ? bytes : budget};
        budget -= r[n++].bytes;
    }
    sealm_threadpool_prefetch_next(r, n);
}

/* Claims share s's next chunk (its chunks numbered item by item) and runs it; false once
 * the share has none left. */
static bool run_share_chunk(matmul_task *task, int s, int nth) {
    int64_t i = atomic_fetch_add_explicit(&task->cursors[s].next, 1, memory_order_relaxed);
    for (int k = 0; k < task->n_items; k++) {
        int64_t r0, r1;
        share_rows(task->items[k].w, s, nth, &r0, &r1);
        const int64_t step = task->share_chunk_rows[k];
        const int64_t n = r1 > r0 ? (r1 - r0 + step - 1) / step : 0;
        if (i < n) {
            const int64_t c0 = r0 + i * step;
            matmul_rows(&task->items[k], task->n_tokens, c0, c0 + step < r1 ? c0 + step : r1);
            return true;
        }
        i -= n;
    }
    return false;
}

/* Bytes of weight rows per decode chunk: large enough that a claim (an atomic add) and the
 * jump to another share's rows are rare, small enough that a late share can be split. */
enum { SHARE_CHUNK_BYTES = 32 * 1024 };

static void matmul_worker(void *arg, int ith, int nth) {
    matmul_task *task = arg;
    if (task->chunk_rows == 0) {
        while (run_share_chunk(task, ith, nth)) {}
        for (int o = 1; o < nth; o++)
            while (run_share_chunk(task, (ith + o) % nth, nth)) {}
        if (task->n_next > 0) prefetch_next_share(task, ith, nth);
        return;
    }
    for (;;) {
        int64_t chunk = atomic_fetch_add_explicit(&task->next_chunk, 1, memory_order_relaxed);
        int k = 0;
        while (k < task->n_items && chunk >= task->n_chunks[k]) chunk -= task->n_chunks[k++];
        if (k == task->n_items) return;
        const matmul_item *it = &task->items[k];
        const int64_t r0 = chunk * task->chunk_rows;
        const int64_t r1 = r0 + task->chunk_rows < it->w->rows ? r0 + task->chunk_rows : it->w->rows;
        matmul_rows(it, task->n_tokens, r0, r1);
    }
}

/* Rows per claimed chunk: about eight chunks per thread for the largest item, so that a
 * late thread's work can be taken over, but at least 16 rows (a claim is an atomic add on
 * a shared line) and a multiple of 4 (the interleaved kernels' row groups). */
static int64_t matmul_chunk_rows(const matmul_task *task, int nth) {
    int64_t rows = 0;
    for (int k = 0; k < task->n_items; k++)
        if (task->items[k].w->rows > rows) rows = task->items[k].w->rows;
    int64_t chunk = rows / (8 * (int64_t)nth);
    if (chunk < 16) chunk = 16;
    return (chunk + 3) / 4 * 4;
}

/* ---- per-token steps spread over the pool in prefill ----
 * Norms, RoPE, the KV store, SwiGLU and the residual adds treat each token row on its own,
 * so any split over threads gives the same bits. In decode (one token) a pool run would
 * cost more than the step; from this many tokens on the rows are split. */
enum { PARALLEL_STEP_MIN_TOKENS = 4 };

typedef void (*token_step_fn)(sealm_context *c, const void *args, int32_t t0, int32_t t1);

typedef struct token_step_task {
    sealm_context *c;
    const void *args;
    token_step_fn fn;
    int32_t n_tokens;
} token_step_task;

static void token_step_worker(void *arg, int ith, int nth) {
    const token_step_task *task = arg;
    const int32_t t0 = (int32_t)((int64_t)task->n_tokens * ith / nth);
    const int32_t t1 = (int32_t)((int64_t)task->n_tokens * (ith + 1) / nth);
    if (t0 < t1) task->fn(task->c, task->args, t0, t1);
}

/* fn(c, args, t0, t1) over token rows [0, n): in contiguous shares on the pool, or on the
 * caller's thread for short batches. */
static void for_token_rows(sealm_context *c, int32_t n, token_step_fn fn, const void *args) {
    if (n < PARALLEL_STEP_MIN_TOKENS || sealm_threadpool_size(c->pool) == 1) {
        fn(c, args, 0, n);
        return;
    }
    token_step_task task = {.c = c, .args = args, .fn = fn, .n_tokens = n};
    sealm_threadpool_run(c->pool, token_step_worker, &task);
}

/* x[t] += add[t] (the sub-layer's output joins the residual stream, skipped when add is
 * NULL) and then out[t] = rmsnorm(x[t]): one pass per row instead of two. */
typedef struct residual_norm_args {
    float *x;              /* [n][d] residual stream */
    const float *add;      /* [n][d] or NULL */
    float *out;            /* [n][d], row t of out belongs to row t of x */
    const float *norm;     /* [d] */
    int64_t d;
    float eps;
} residual_norm_args;

static void residual_norm_rows(sealm_context *c, const void *args, int32_t t0, int32_t t1) {
    (void)c;
    const residual_norm_args *a = args;
    for (int32_t t = t0; t < t1; t++) {
        float *x = a->x + (int64_t)t * a->d;
        if (a->add) add_inplace(x, a->add + (int64_t)t * a->d, a->d);
        rmsnorm(a->out + (int64_t)t * a->d, x, a->norm, a->d, a->eps);
    }
}

static void residual_norm(sealm_context *c, int32_t n, float *x, const float *add, float *out, const float *norm) {
    const sealm_hparams *hp = &c->model->hp;
    const residual_norm_args args = {.x = x, .add = add, .out = out, .norm = norm, .d = hp->n_embd, .eps = hp->norm_eps};
    for_token_rows(c, n, residual_norm_rows, &args);
}

typedef struct swiglu_args {
    float *gate;
    const float *up;
    int64_t ff;
} swiglu_args;

static void swiglu_rows(sealm_context *c, const void *args, int32_t t0, int32_t t1) {
    (void)c;
    const swiglu_args *a = args;
    swiglu(a->gate + (int64_t)t0 * a->ff, a->up + (int64_t)t0 * a->ff, t1 - t0, a->ff);
}

/* Converts n rows of x (width cols, stride x_stride floats) to the activation type t.
 * F32 needs no conversion: the rows are used in place. Returns the row stride in bytes. */
static const uint8_t *quantize_input(uint8_t *buf, size_t buf_stride, const float *x, int64_t x_stride,
                                     int32_t n, int64_t cols, sealm_tensor_type t, size_t *stride) {
    if (t == SEALM_TYPE_F32) {
        *stride = (size_t)x_stride * sizeof(float);
        return (const uint8_t *)x;
    }
    const sealm_type_traits *tr = sealm_type_traits_get(t);
    for (int32_t i = 0; i < n; i++) tr->from_float_fast(x + (int64_t)i * x_stride, buf + (size_t)i * buf_stride, cols);
    *stride = buf_stride;
    return buf;
}

/* Prefill products with at least this many tokens run through the tiled gemm kernels
 * (16 tokens a tile: below this too many of a tile's lanes would be idle). */
enum { GEMM_MIN_TOKENS = 8 };

/* Whether the products of ws[] whose activation type is t can all run on a packed panel
 * of n tokens that fits in one activation slot of the context. */
static bool use_gemm(const sealm_context *c, int32_t n, int n_items, const sealm_weight *const *ws,
                     sealm_tensor_type t) {
    if (n < GEMM_MIN_TOKENS) return false;
    for (int k = 0; k < n_items; k++)
        if (ws[k]->traits->vec_dot_type == t && (!ws[k]->traits->gemm ||
                                                 (t != SEALM_TYPE_F32 && ws[k]->dot != ws[k]->traits->vec_dot)))
            return false;   /* (F32's gemm itself runs the untiled order where model.c picks it) */
    if (t == SEALM_TYPE_F32) return true;   /* its panel is x itself: nothing to fit */
    const size_t bytes = sealm_gemm_panel_bytes(t, n, ws[0]->cols);
    return bytes != 0 && bytes <= (size_t)c->params.n_batch * c->act.xq_row_cap;
}

typedef struct pack_task {
    sealm_tensor_type type;
    const float *x;
    int64_t cols;
    int32_t n_tokens;
    void *panel;
} pack_task;

/* Each thread quantizes and packs its share of the token groups. */
static void pack_worker(void *arg, int ith, int nth) {
    const pack_task *p = arg;
    const int32_t groups = (p->n_tokens + SEALM_GEMM_TOKENS - 1) / SEALM_GEMM_TOKENS;
    const int32_t g0 = groups * ith / nth, g1 = groups * (ith + 1) / nth;
    if (g0 >= g1) return;
    const int32_t t0 = g0 * SEALM_GEMM_TOKENS;
    const int32_t t1 = g1 * SEALM_GEMM_TOKENS < p->n_tokens ? g1 * SEALM_GEMM_TOKENS : p->n_tokens;
    sealm_gemm_pack(p->type, p->x, p->cols, p->cols, p->n_tokens, t0, t1, p->panel);
}

/* The weights of the products a decode pass runs after the current one (up to three
 * sharing an input), for their prefetch; NULL where nothing is worth it. */
typedef struct next_products {
    const sealm_weight *w[3];
    int n;
} next_products;

/* What follows layer l's feed-forward: layer l + 1's Q/K/V, or the output head. */
static next_products after_layer(const sealm_model *m, int l) {
    if (l + 1 < m->hp.n_layer) {
        const sealm_layer_weights *N = &m->layers[l + 1];
        return (next_products){{&N->wq, &N->wk, &N->wv}, 3};
    }
    return (next_products){{&m->output}, 1};
}

/* Runs up to three products over the same input x ([n][cols], stride cols). Inputs are
 * converted once per distinct activation type: to a packed panel (spread over the threads)
 * when every product on it has a gemm kernel and n is large enough, else to rows. */
static void matmul(sealm_context *c, const float *x, int32_t n, int n_items, const sealm_weight *const *ws,
                   float *const *ys, const float *const *biases, const next_products *next) {
    matmul_task task = {.n_items = n_items, .n_tokens = n};
    if (next)
        for (int k = 0; k < next->n; k++) task.next[task.n_next++] = next->w[k];
    sealm_activations *a = &c->act;
    const int64_t cols = ws[0]->cols;
    sealm_tensor_type done_types[3];
    const uint8_t *done_bufs[3];
    size_t done_strides[3];
    bool done_packed[3];
    int n_done = 0;
    for (int k = 0; k < n_items; k++) {
        const sealm_tensor_type t = ws[k]->traits->vec_dot_type;
        int found = -1;
        for (int j = 0; j < n_done; j++) if (done_types[j] == t) found = j;
        if (found < 0) {
            found = n_done++;
            done_types[found] = t;
            uint8_t *slot = a->xq + (size_t)found * (size_t)c->params.n_batch * a->xq_row_cap;
            done_packed[found] = use_gemm(c, n, n_items, ws, t);
            if (done_packed[found] && t == SEALM_TYPE_F32) {
                done_bufs[found] = (const uint8_t *)x;   /* an F32 panel is the rows as they are */
                done_strides[found] = 0;
            } else if (done_packed[found]) {
                pack_task p = {.type = t, .x = x, .cols = cols, .n_tokens = n, .panel = slot};
                sealm_threadpool_run(c->pool, pack_worker, &p);
                done_bufs[found] = slot;
                done_strides[found] = 0;
            } else {
                done_bufs[found] = quantize_input(slot, a->xq_row_cap, x, cols, n, cols, t, &done_strides[found]);
            }
        }
        task.items[k] = (matmul_item){.w = ws[k], .xq = done_bufs[found], .xq_stride = done_strides[found],
                                      .packed = done_packed[found], .y = ys[k], .y_stride = ws[k]->rows,
                                      .bias = biases ? biases[k] : NULL};
    }
    const int nth = sealm_threadpool_size(c->pool);
    task.chunk_rows = n > 1 ? matmul_chunk_rows(&task, nth) : 0;
    for (int k = 0; k < n_items && task.chunk_rows > 0; k++)
        task.n_chunks[k] = (ws[k]->rows + task.chunk_rows - 1) / task.chunk_rows;
    atomic_init(&task.next_chunk, 0);
    if (task.chunk_rows == 0) {
        for (int k = 0; k < n_items; k++) {
            const int64_t rows = (int64_t)(SHARE_CHUNK_BYTES / (ws[k]->row_bytes > 0 ? ws[k]->row_bytes : 1));
            task.share_chunk_rows[k] = rows < 4 ? 4 : rows / 4 * 4;
        }
        task.cursors = c->share_cursors;
        for (int s = 0; s < nth; s++) atomic_store_explicit(&task.cursors[s].next, 0, memory_order_relaxed);
    }
    sealm_threadpool_run(c->pool, matmul_worker, &task);
}

static void matmul1(sealm_context *c, const float *x, int32_t n, const sealm_weight *w, float *y,
                    const next_products *next) {
    const sealm_weight *ws[1] = {w};
    float *ys[1] = {y};
    matmul(c, x, n, 1, ws, ys, NULL, next);
}

/* ---- RoPE and the KV store ---- */

/* Where row t of a batch goes: position pos0 + t of c's own cache, or, for a batch of
 * several sequences (sealm_forward_many), the next position of seqs[t]'s cache. */
typedef struct row_places {
    int32_t pos0;
    sealm_context *const *seqs;   /* NULL: one sequence */
} row_places;

static int32_t row_pos(const row_places *p, int32_t t) {
    return p->seqs ? p->seqs[t]->kv.n_past : p->pos0 + t;
}

/* Row t of act.rope: the cos and sin of row t's position's angles. */
static void rope_table_rows(sealm_context *c, const void *args, int32_t t0, int32_t t1) {
    const row_places *a = args;
    const int n_rot = c->model->hp.n_rot;
    for (int32_t t = t0; t < t1; t++) {
        float *row = c->act.rope + (int64_t)t * n_rot;
        rope_angles(c->model, row_pos(a, t), row, row + n_rot / 2);
    }
}

typedef struct rope_store_args {
    int layer;
    row_places at;
} rope_store_args;

/* Rotates q and k of tokens [t0, t1) and stores their keys and values in the layer's cache. */
static void rope_store_rows(sealm_context *c, const void *args, int32_t t0, int32_t t1) {
    const rope_store_args *ra = args;
    const sealm_hparams *hp = &c->model->hp;
    sealm_activations *a = &c->act;
    const int64_t d = hp->n_embd, kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    const sealm_vec_ops *ops = sealm_vec_ops_get();
    /* llama pairs neighbours (its GGUF converter permutes Q/K rows for this), qwen2 halves */
    const bool neox = hp->arch == SEALM_ARCH_QWEN2;
    for (int32_t t = t0; t < t1; t++) {
        const float *cosv = a->rope + (int64_t)t * hp->n_rot, *sinv = cosv + hp->n_rot / 2;
        ops->rope(a->q + t * d, hp->n_head, hp->head_dim, hp->n_rot, neox, cosv, sinv);
        ops->rope(a->k + t * kv_dim, hp->n_head_kv, hp->head_dim, hp->n_rot, neox, cosv, sinv);
        /* keys head by head, each head's rows by position, so that a KV head's keys are one
         * contiguous stream; values transposed, so that p·V reads contiguous rows */
        const sealm_kv_cache *kv = ra->at.seqs ? &ra->at.seqs[t]->kv : &c->kv;
        const size_t layer_off = (size_t)ra->layer * (size_t)kv->n_ctx * (size_t)kv_dim;
        const int32_t pos = row_pos(&ra->at, t);
        for (int g = 0; g < hp->n_head_kv; g++)
            ops->fp32_to_fp16_row(a->k + t * kv_dim + (int64_t)g * hp->head_dim,
                                  kv->k + layer_off + ((size_t)g * (size_t)kv->n_ctx + (size_t)pos) * (size_t)hp->head_dim,
                                  hp->head_dim);
        sealm_fp16 *vt = kv->v + layer_off + (size_t)pos;
        for (int64_t e0 = 0; e0 < kv_dim; e0 += 64) {
            sealm_fp16 h[64];    /* converted a chunk at a time by the vector op, then scattered */
            const int64_t len = kv_dim - e0 < 64 ? kv_dim - e0 : 64;
            ops->fp32_to_fp16_row(a->v + t * kv_dim + e0, h, len);
            for (int64_t e = 0; e < len; e++) vt[(size_t)(e0 + e) * (size_t)kv->n_ctx] = h[e];
        }
    }
}

/* ---- one transformer block ---- */

/* Attention of a batch of several sequences, one token each: row t against seqs[t]'s own
 * cache, run in seqs[t] (its q and attention-output rows carry it there and back; seqs[0]
 * is c itself, whose row 0 needs no copy). */
static void attention_many(sealm_context *c, int l, int32_t n, sealm_context *const *seqs) {
    const int64_t d = c->model->hp.n_embd;
    for (int32_t t = 0; t < n; t++) {
        sealm_context *s = seqs[t];
        if (s != c) memcpy(s->act.q, c->act.q + t * d, (size_t)d * sizeof(float));
        sealm_attention_run(s, l, 1, s->kv.n_past);
        if (s != c) memcpy(c->act.att + t * d, s->act.att, (size_t)d * sizeof(float));
    }
}

static void attention_block(sealm_context *c, int l, int32_t n, const row_places *at) {
    const sealm_layer_weights *L = &c->model->layers[l];
    sealm_activations *a = &c->act;

    /* the previous layer's feed-forward output joins the stream here, fused with the norm */
    residual_norm(c, n, a->x, l > 0 ? a->proj : NULL, a->xb, L->attn_norm);

    const sealm_weight *ws[3] = {&L->wq, &L->wk, &L->wv};
    float *ys[3] = {a->q, a->k, a->v};
    const float *bs[3] = {L->bq, L->bk, L->bv};
    const next_products after_qkv = {{&L->wo}, 1};
    matmul(c, a->xb, n, 3, ws, ys, bs, &after_qkv);

    const rope_store_args ra = {.layer = l, .at = *at};
    for_token_rows(c, n, rope_store_rows, &ra);

    if (at->seqs) attention_many(c, l, n, at->seqs);
    else sealm_attention_run(c, l, n, at->pos0);

    const next_products after_wo = {{&L->w_gate, &L->w_up}, 2};
    matmul1(c, a->att, n, &L->wo, a->proj, &after_wo);   /* added to the stream by ffn_block's norm */
}

static void ffn_block(sealm_context *c, int l, int32_t n) {
    const sealm_hparams *hp = &c->model->hp;
    const sealm_layer_weights *L = &c->model->layers[l];
    sealm_activations *a = &c->act;

    residual_norm(c, n, a->x, a->proj, a->xb, L->ffn_norm);
    const sealm_weight *ws[2] = {&L->w_gate, &L->w_up};
    float *ys[2] = {a->gate, a->up};
    const next_products after_gate_up = {{&L->w_down}, 1};
    matmul(c, a->xb, n, 2, ws, ys, NULL, &after_gate_up);
    const swiglu_args sa = {.gate = a->gate, .up = a->up, .ff = hp->n_ff};
    for_token_rows(c, n, swiglu_rows, &sa);
    const next_products after_down = after_layer(c->model, l);
    matmul1(c, a->gate, n, &L->w_down, a->proj, &after_down);   /* added to the stream by the next norm */
}

static void embed_tokens(sealm_context *c, const int32_t *tokens, int32_t n) {
    const sealm_weight *e = &c->model->tok_embd;
    for (int32_t t = 0; t < n; t++)
        e->traits->to_float((const uint8_t *)e->data + (size_t)tokens[t] * e->row_bytes, c->act.x + (int64_t)t * e->cols, e->cols);
}

/* The embeddings of the batch, then every layer, with row t at the place at says. */
static void run_layers(sealm_context *c, const int32_t *tokens, int32_t n, const row_places *at) {
    embed_tokens(c, tokens, n);
    for_token_rows(c, n, rope_table_rows, at);   /* the same angles serve every layer */
    for (int l = 0; l < c->model->hp.n_layer; l++) {
        attention_block(c, l, n, at);
        ffn_block(c, l, n);
    }
}

void sealm_forward_batch(sealm_context *c, const int32_t *tokens, int32_t n, int32_t logits_from, float *out) {
    const sealm_model *m = c->model;
    const sealm_hparams *hp = &m->hp;
    const int32_t pos0 = c->kv.n_past;
    const int64_t d = hp->n_embd;

    const row_places at = {.pos0 = pos0, .seqs = NULL};
    run_layers(c, tokens, n, &at);
    c->kv.n_past = pos0 + n;

    /* the last feed-forward output joins the stream only where logits are wanted: no later
     * step reads the stream of the other positions */
    if (logits_from >= n) return;
    const int32_t n_out = n - logits_from;
    residual_norm(c, n_out, c->act.x + (int64_t)logits_from * d, c->act.proj + (int64_t)logits_from * d, c->act.xb,
                  m->output_norm);
    const next_products after_output = after_layer(m, -1);   /* the next token's first layer */
    matmul1(c, c->act.xb, n_out, &m->output, out, &after_output);
}

void sealm_forward_many(sealm_context *const *seqs, const int32_t *tokens, int32_t n, float *out) {
    sealm_context *c = seqs[0];
    const row_places at = {.pos0 = 0, .seqs = seqs};
    run_layers(c, tokens, n, &at);
    for (int32_t t = 0; t < n; t++) seqs[t]->kv.n_past++;
    residual_norm(c, n, c->act.x, c->act.proj, c->act.xb, c->model->output_norm);
    matmul1(c, c->act.xb, n, &c->model->output, out, NULL);
}
