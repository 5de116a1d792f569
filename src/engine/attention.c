/* Attention over the KV cache: the per-pair path, the blocked path, and the scalar
 * reference kernels of the blocked path. attention.h says what is computed, in which
 * order, and how the blocked layouts are arranged. */
#include "engine/attention.h"
#include "engine/mathfn.h"

#include <math.h>
#include <string.h>

/* The head size bound context.c enforces (MAX_HEAD_DIM there): the float copies of q and
 * of four key rows that the odd-size q·k uses, and the one key row a key tile is widened
 * through, live on the stack (20 KiB at most). */
enum { MAX_HEAD_DIM = 1024 };

typedef struct attention_task {
    sealm_context *c;
    int layer;
    int32_t n_tokens;
    int32_t pos0;           /* position of token 0 of the batch */
} attention_task;

/* The cached keys and values of one layer: K is [n_head_kv][n_ctx][head_dim], V transposed
 * [kv_dim][n_ctx]. head_keys is KV head g's keys, one row of head_dim per position. */
static const sealm_fp16 *head_keys(const sealm_context *c, int layer, int g) {
    const sealm_hparams *hp = &c->model->hp;
    return c->kv.k + ((size_t)layer * (size_t)hp->n_head_kv + (size_t)g) * (size_t)c->kv.n_ctx * (size_t)hp->head_dim;
}

static const sealm_fp16 *layer_values(const sealm_context *c, int layer) {
    const sealm_hparams *hp = &c->model->hp;
    return c->kv.v + (size_t)layer * (size_t)c->kv.n_ctx * (size_t)hp->n_head_kv * (size_t)hp->head_dim;
}

/* ---- per pair: one (token, head) at a time, straight from the F16 cache ---- */

/* scores[j] = (q·k_j) · scale for positions j < n, for heads whose size hd is not a multiple
 * of 16 (tiny models): products in float, summed in double in element order, as the
 * reference does when its tiled kernel cannot run. Other heads, and p·V, use the lane-16
 * order (vec_ops.dot_f16_lane16, SIMD). q arrives as floats (already F16-rounded); key
 * rows (k_j at k + j·stride) are widened by the vector op, exactly, four at a time, and
 * their four double sums run side by side: each sum is still one chain in element order
 * (the scalar loop's bits), but four independent chains hide the add latency. (A call per
 * element to the scalar F16 conversion, one chain at a time, was a tenth of stories260K's
 * decode time.) kf: scratch of 4·hd floats. */
static void scores_f16_double(const float *q, const sealm_fp16 *k, size_t stride, int hd, int32_t n, float scale,
                              float *scores, float *kf) {
    const sealm_vec_ops *ops = sealm_vec_ops_get();
    int32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        for (int r = 0; r < 4; r++) ops->fp16_to_fp32_row(k + (size_t)(j + r) * stride, kf + r * hd, hd);
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        for (int e = 0; e < hd; e++) {
            s0 += (double)(q[e] * kf[e]);
            s1 += (double)(q[e] * kf[hd + e]);
            s2 += (double)(q[e] * kf[2 * hd + e]);
            s3 += (double)(q[e] * kf[3 * hd + e]);
        }
        scores[j] = (float)s0 * scale;
        scores[j + 1] = (float)s1 * scale;
        scores[j + 2] = (float)s2 * scale;
        scores[j + 3] = (float)s3 * scale;
    }
    for (; j < n; j++) {
        ops->fp16_to_fp32_row(k + (size_t)j * stride, kf, hd);
        double s = 0.0;
        for (int e = 0; e < hd; e++) s += (double)(q[e] * kf[e]);
        scores[j] = (float)s * scale;
    }
}

/* One (token, head) pair: softmax(q·K / sqrt(d)) · V over positions [0, pos] (causal). */
static void attend_one(const sealm_context *c, int layer, int32_t t, int h, int32_t pos, sealm_attn_scratch *scr) {
    const sealm_hparams *hp = &c->model->hp;
    const int hd = hp->head_dim;
    const int kvh = h / (hp->n_head / hp->n_head_kv);     /* GQA: heads share a KV head */
    const sealm_fp16 *kbase = head_keys(c, layer, kvh);                                    /* [pos][hd] */
    const sealm_fp16 *vbase = layer_values(c, layer) + (size_t)kvh * hd * c->kv.n_ctx;    /* [kv_dim][pos] */
    const float *q = c->act.q + (int64_t)t * hp->n_embd + (int64_t)h * hd;
    float *out = c->act.att + (int64_t)t * hp->n_embd + (int64_t)h * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    const int32_t n = pos + 1;

    const sealm_vec_ops *ops = sealm_vec_ops_get();
    ops->fp32_to_fp16_row(q, scr->q16, hd);
    if (hd % 16 == 0) {
        for (int32_t j = 0; j < n; j++)
            scr->scores[j] = ops->dot_f16_lane16(scr->q16, kbase + (size_t)j * (size_t)hd, hd) * scale;
    } else {
        float qf[MAX_HEAD_DIM], kf[4 * MAX_HEAD_DIM];
        ops->fp16_to_fp32_row(scr->q16, qf, hd);
        scores_f16_double(qf, kbase, (size_t)hd, hd, n, scale, scr->scores, kf);
    }
    ops->attn_softmax(scr->scores, n, scr->p16);
    for (int e = 0; e < hd; e++) out[e] = ops->dot_f16_lane16(scr->p16, vbase + (size_t)e * c->kv.n_ctx, n);
}

static void per_pair_worker(void *arg, int ith, int nth) {
    const attention_task *task = arg;
    const sealm_context *c = task->c;
    const int n_head = c->model->hp.n_head;
    const int64_t total = (int64_t)task->n_tokens * n_head;
    for (int64_t i = ith; i < total; i += nth) {
        const int32_t t = (int32_t)(i / n_head);
        const int h = (int)(i % n_head);
        attend_one(c, task->layer, t, h, task->pos0 + t, &c->attn[ith]);
    }
}

/* ---- grouped: the heads of one token that share a KV head, straight from the F16 cache ---- */

/* Heads h .. h + nq - 1 of token t, all on KV head h / group: their queries rounded to F16
 * and widened back (the values the lane-16 dot multiplies), q·k for all of them, each
 * head's softmax, then p·V for all of them. */
static void attend_group(const sealm_context *c, int layer, int32_t t, int h, int nq, int32_t pos,
                         sealm_attn_scratch *scr) {
    const sealm_hparams *hp = &c->model->hp;
    const int hd = hp->head_dim;
    const int64_t n_cap = c->attn_f32.n_cap;
    const int g = h / (hp->n_head / hp->n_head_kv);
    const sealm_fp16 *keys = head_keys(c, layer, g);                                    /* [pos][hd] */
    const sealm_fp16 *values = layer_values(c, layer) + (size_t)g * hd * c->kv.n_ctx;   /* [kv_dim][pos] */
    const int32_t n = pos + 1;

    const sealm_vec_ops *ops = sealm_vec_ops_get();
    ops->fp32_to_fp16_row(c->act.q + (int64_t)t * hp->n_embd + (int64_t)h * hd, scr->q16, (int64_t)nq * hd);
    ops->fp16_to_fp32_row(scr->q16, scr->qf, (int64_t)nq * hd);
    ops->attn_group_scores(nq, scr->qf, hd, keys, hd, n, 1.0f / sqrtf((float)hd), scr->scores, n_cap);
    float *out[SEALM_ATTN_MAX_QUERIES];
    for (int k = 0; k < nq; k++) {
        ops->attn_softmax(scr->scores + k * n_cap, n, scr->p16 + k * n_cap);   /* scores become the F16 weights */
        out[k] = c->act.att + (int64_t)t * hp->n_embd + (int64_t)(h + k) * hd;
    }
    ops->attn_group_pv(nq, scr->scores, n_cap, values, c->kv.n_ctx, n, hd, out);
}

/* Thread ith takes the contiguous share [i0, i1) of the (token, head) pairs, numbered
 * token-major, and walks it in runs of heads that share a token and a KV head. */
static void grouped_worker(void *arg, int ith, int nth) {
    const attention_task *task = arg;
    const sealm_context *c = task->c;
    const int n_head = c->model->hp.n_head, group = n_head / c->model->hp.n_head_kv;
    const int64_t total = (int64_t)task->n_tokens * n_head;
    const int64_t i0 = total * ith / nth, i1 = total * (ith + 1) / nth;
    for (int64_t i = i0; i < i1;) {
        const int32_t t = (int32_t)(i / n_head);
        const int h = (int)(i % n_head);
        int64_t end = (int64_t)t * n_head + (h / group + 1) * group;   /* past the KV head's last head */
        if (end > i1) end = i1;
        if (end - i > SEALM_ATTN_MAX_QUERIES) end = i + SEALM_ATTN_MAX_QUERIES;
        attend_group(c, task->layer, t, h, (int)(end - i), task->pos0 + t, &c->attn[ith]);
        i = end;
    }
}

/* ---- blocked: the layer's keys and values widened once, 16 keys or elements a vector ---- */

/* Value chunks are widened this many keys at a time (one conversion call per cache row piece). */
enum { VALUE_CHUNK_KEYS = 256 };

/* Tile b of KV head g's keys: keys 16b .. 16b+15, transposed to [head_dim][16]; keys at or
 * past n_keys are zeros (their lanes' scores are computed and never read). */
static void widen_key_tile(const sealm_context *c, int layer, int g, int32_t b, int32_t n_keys) {
    const sealm_hparams *hp = &c->model->hp;
    const int hd = hp->head_dim;
    const sealm_fp16 *keys = head_keys(c, layer, g);
    float *tile = c->attn_f32.kt + ((size_t)g * (size_t)(c->attn_f32.n_cap / 16) + (size_t)b) * (size_t)hd * 16;
    float row[MAX_HEAD_DIM];
    for (int l = 0; l < 16; l++) {
        const int32_t j = b * 16 + l;
        if (j < n_keys) sealm_vec_ops_get()->fp16_to_fp32_row(keys + (size_t)j * (size_t)hd, row, hd);
        else memset(row, 0, (size_t)hd * sizeof row[0]);
        for (int e = 0; e < hd; e++) tile[(size_t)e * 16 + (size_t)l] = row[e];
    }
}

/* Keys [j0, j1) of elements 16·eb .. 16·eb+15 of KV head g's values, into their
 * [key][16] rows. Keys past the batch are never read (the p·V chains stop at n_keys). */
static void widen_value_chunk(const sealm_context *c, int layer, int g, int eb, int32_t j0, int32_t j1) {
    const sealm_hparams *hp = &c->model->hp;
    const int hd = hp->head_dim;
    const size_t n_ctx = (size_t)c->kv.n_ctx, n_cap = (size_t)c->attn_f32.n_cap;
    const sealm_fp16 *values = layer_values(c, layer) + ((size_t)g * (size_t)hd + (size_t)eb * 16) * n_ctx;
    float *rows = c->attn_f32.vb + ((size_t)g * (size_t)(hd / 16) + (size_t)eb) * n_cap * 16;
    float piece[VALUE_CHUNK_KEYS];
    for (int l = 0; l < 16; l++) {
        sealm_vec_ops_get()->fp16_to_fp32_row(values + (size_t)l * n_ctx + (size_t)j0, piece, j1 - j0);
        for (int32_t j = j0; j < j1; j++) rows[(size_t)j * 16 + (size_t)l] = piece[j - j0];
    }
}

/* Every thread widens its share of the key tiles and value chunks of keys [0, pos0 + n). */
static void widen_worker(void *arg, int ith, int nth) {
    const attention_task *task = arg;
    const sealm_context *c = task->c;
    const sealm_hparams *hp = &c->model->hp;
    const int32_t n_keys = task->pos0 + task->n_tokens;
    const int32_t key_tiles = (n_keys + 15) / 16, value_chunks = (n_keys + VALUE_CHUNK_KEYS - 1) / VALUE_CHUNK_KEYS;
    const int64_t n_key_units = (int64_t)hp->n_head_kv * key_tiles;
    const int64_t n_value_units = (int64_t)hp->n_head_kv * (hp->head_dim / 16) * value_chunks;
    for (int64_t u = ith; u < n_key_units; u += nth)
        widen_key_tile(c, task->layer, (int)(u / key_tiles), (int32_t)(u % key_tiles), n_keys);
    for (int64_t u = ith; u < n_value_units; u += nth) {
        const int32_t chunk = (int32_t)(u % value_chunks);
        const int64_t row_block = u / value_chunks;   /* g · (head_dim / 16) + eb */
        const int32_t j0 = chunk * VALUE_CHUNK_KEYS;
        const int32_t j1 = j0 + VALUE_CHUNK_KEYS < n_keys ? j0 + VALUE_CHUNK_KEYS : n_keys;
        widen_value_chunk(c, task->layer, (int)(row_block / (hp->head_dim / 16)), (int)(row_block % (hp->head_dim / 16)),
                          j0, j1);
    }
}

/* How the blocked path splits a batch into units: tokens [t0, t0 + tokens) × the heads
 * [h0, h0 + heads) of KV head g's group, at most SEALM_ATTN_MAX_QUERIES (token, head)
 * pairs. All of a unit's queries share g's keys and values, so each block of them is
 * loaded into L1 once per unit instead of once per pair. Every thread computes the same
 * plan; a unit's results do not depend on it (each pair's arithmetic is its own). */
typedef struct unit_plan {
    int heads;                /* heads per unit: the whole group, or SEALM_ATTN_MAX_QUERIES of it */
    int head_parts;           /* units per (token block, KV head) */
    int32_t tokens;           /* tokens per unit */
    int64_t n_units;
} unit_plan;

/* Fewer tokens per unit when the batch is short, so that every thread still gets several
 * units: costs grow with the position (causal), and dealing out many units evens them. */
enum { UNITS_PER_THREAD = 8 };

static unit_plan plan_units(const sealm_hparams *hp, int32_t n_tokens, int n_threads) {
    const int group = hp->n_head / hp->n_head_kv;
    unit_plan p;
    p.heads = group < SEALM_ATTN_MAX_QUERIES ? group : SEALM_ATTN_MAX_QUERIES;
    p.head_parts = (group + p.heads - 1) / p.heads;
    const int64_t per_block = (int64_t)hp->n_head_kv * p.head_parts;
    p.tokens = SEALM_ATTN_MAX_QUERIES / p.heads;
    while (p.tokens > 1 && (n_tokens + p.tokens - 1) / p.tokens * per_block < (int64_t)UNITS_PER_THREAD * n_threads)
        p.tokens--;
    p.n_units = (n_tokens + p.tokens - 1) / p.tokens * per_block;
    return p;
}

/* Unit u of the plan: q·k for all its queries over the keys of its last token, then each
 * (token, head) pair's softmax over its own causal range, then p·V. */
static void attend_unit(const sealm_context *c, const attention_task *task, const unit_plan *pl, int64_t u,
                        sealm_attn_scratch *scr) {
    const sealm_hparams *hp = &c->model->hp;
    const sealm_vec_ops *ops = sealm_vec_ops_get();
    const int hd = hp->head_dim, group = hp->n_head / hp->n_head_kv;
    const int32_t n_cap = c->attn_f32.n_cap;
    const int64_t per_block = (int64_t)hp->n_head_kv * pl->head_parts;
    const int32_t t0 = (int32_t)(u / per_block) * pl->tokens;
    const int32_t t1 = t0 + pl->tokens < task->n_tokens ? t0 + pl->tokens : task->n_tokens;
    const int g = (int)(u % per_block / pl->head_parts), part = (int)(u % pl->head_parts);
    const int h0 = g * group + part * pl->heads;
    const int nh = group - part * pl->heads < pl->heads ? group - part * pl->heads : pl->heads;
    const int nq = (t1 - t0) * nh;   /* query k is token t0 + k / nh, head h0 + k % nh */

    /* the queries rounded to F16 and widened back: the values the lane-16 dot multiplies */
    for (int32_t t = t0; t < t1; t++)
        ops->fp32_to_fp16_row(c->act.q + (int64_t)t * hp->n_embd + (int64_t)h0 * hd,
                              scr->q16 + (size_t)(t - t0) * (size_t)nh * (size_t)hd, (int64_t)nh * hd);
    ops->fp16_to_fp32_row(scr->q16, scr->qf, (int64_t)nq * hd);

    /* scores over the keys of the unit's last token: the earlier tokens' rows get a few
     * scores past their causal end, which their softmax never reads */
    const float *kt = c->attn_f32.kt + (size_t)g * (size_t)n_cap * (size_t)hd;
    ops->attn_scores(nq, scr->qf, hd, kt, task->pos0 + t1, 1.0f / sqrtf((float)hd), scr->scores, n_cap);

    int32_t n_keys[SEALM_ATTN_MAX_QUERIES];
    float *out[SEALM_ATTN_MAX_QUERIES];
    for (int k = 0; k < nq; k++) {
        const int32_t t = t0 + k / nh;
        n_keys[k] = task->pos0 + t + 1;
        out[k] = c->act.att + (int64_t)t * hp->n_embd + (int64_t)(h0 + k % nh) * hd;
        /* the row becomes its F16 weights widened back: exactly what p·V multiplies */
        ops->attn_softmax(scr->scores + (size_t)k * (size_t)n_cap, n_keys[k], scr->p16 + (size_t)k * (size_t)n_cap);
    }
    const float *vb = c->attn_f32.vb + (size_t)g * (size_t)n_cap * (size_t)hd;
    ops->attn_pv(nq, scr->scores, n_cap, vb, (int64_t)n_cap * 16, n_keys, hd, out);
}

/* Units are numbered token block by token block and dealt out in turn, so each thread gets
 * early (short) and late (long) tokens alike. */
static void blocked_worker(void *arg, int ith, int nth) {
    const attention_task *task = arg;
    const unit_plan pl = plan_units(&task->c->model->hp, task->n_tokens, nth);
    for (int64_t u = ith; u < pl.n_units; u += nth) attend_unit(task->c, task, &pl, u, &task->c->attn[ith]);
}

/* ---- choosing the path ---- */

void sealm_attention_run_path(sealm_context *c, int layer, int32_t n_tokens, int32_t pos0, sealm_attn_path path) {
    attention_task task = {.c = c, .layer = layer, .n_tokens = n_tokens, .pos0 = pos0};
    const bool can_block = c->attn_f32.kt != NULL && c->model->hp.head_dim % 16 == 0;
    /* Measured faster on x86 at every level (scalar 1.9×, AVX2 3.4×, AVX-512 2.9× for 128
     * tokens of 9 heads on 3 KV heads of 64). Where only the per-pair dots are vectorized
     * (NEON has no blocked kernels yet), the per-pair path stays the default. */
    const sealm_vec_ops *ops = sealm_vec_ops_get();
    const bool worth_it =
        ops->attn_scores != sealm_attn_scores_ref || ops->dot_f16_lane16 == sealm_vec_ops_ref()->dot_f16_lane16;
    const bool blocked = can_block && (path == SEALM_ATTN_BLOCKED ||
                                       (path == SEALM_ATTN_AUTO && worth_it && n_tokens >= SEALM_ATTN_BLOCKED_MIN_TOKENS));
    /* Grouped where the level has its own kernels (the scalar ones would be slower than
     * the per-pair path's SIMD dots), and for tests at any level. */
    const bool can_group = c->model->hp.head_dim % 16 == 0;
    const bool grouped = can_group && (path == SEALM_ATTN_GROUPED ||
                                       (path == SEALM_ATTN_AUTO && !blocked && ops->attn_group_scores != sealm_attn_group_scores_ref));
    if (grouped) {
        sealm_threadpool_run(c->pool, grouped_worker, &task);
        return;
    }
    if (!blocked) {
        sealm_threadpool_run(c->pool, per_pair_worker, &task);
        return;
    }
    sealm_threadpool_run(c->pool, widen_worker, &task);
    sealm_threadpool_run(c->pool, blocked_worker, &task);
}

void sealm_attention_run(sealm_context *c, int layer, int32_t n_tokens, int32_t pos0) {
    sealm_attention_run_path(c, layer, n_tokens, pos0, SEALM_ATTN_AUTO);
}

/* ---- scalar reference kernels ---- */

void sealm_attn_softmax_ref(float *scores, int32_t n, sealm_fp16 *p16) {
    const sealm_vec_ops *ops = sealm_vec_ops_ref();
    float max = -INFINITY;
    for (int32_t j = 0; j < n; j++) if (scores[j] > max) max = scores[j];
    const double sum = ops->softmax_exp(scores, n, max);   /* 16-element chunks, each a lane-16 tree, in double */
    const float inv = (float)(1.0 / sum);
    for (int32_t j = 0; j < n; j++) scores[j] *= inv;
    ops->fp32_to_fp16_row(scores, p16, n);   /* round to nearest even, as sealm_fp32_to_fp16 */
    ops->fp16_to_fp32_row(p16, scores, n);
}

/* Each lane l of a block holds its own key's (or element's) sixteen chains chains[i][l];
 * they are reduced by the same tree as sealm_lane16_sum. */
static float lane_sum(const float chains[16][16], int l) {
    float x[16];
    for (int i = 0; i < 16; i++) x[i] = chains[i][l];
    return sealm_lane16_sum(x);
}

void sealm_attn_scores_ref(int nq, const float *q, int hd, const float *kt, int32_t n_keys, float scale,
                           float *scores, int64_t scores_stride) {
    const int32_t n_blocks = (n_keys + 15) / 16;
    for (int k = 0; k < nq; k++) {
        const float *qk = q + (size_t)k * (size_t)hd;
        for (int32_t b = 0; b < n_blocks; b++) {
            const float *tile = kt + (size_t)b * (size_t)hd * 16;
            float chains[16][16] = {{0}};   /* [element mod 16][key in the block] */
            for (int e = 0; e < hd; e++)
                for (int l = 0; l < 16; l++) chains[e % 16][l] = fmaf(qk[e], tile[e * 16 + l], chains[e % 16][l]);
            for (int l = 0; l < 16; l++) scores[k * scores_stride + b * 16 + l] = lane_sum(chains, l) * scale;
        }
    }
}

void sealm_attn_pv_ref(int nq, const float *p, int64_t p_stride, const float *vb, int64_t vb_stride,
                       const int32_t *n_keys, int hd, float *const *out) {
    for (int k = 0; k < nq; k++) {
        const float *pk = p + k * p_stride;
        for (int eb = 0; eb < hd / 16; eb++) {
            const float *rows = vb + eb * vb_stride;
            float chains[16][16] = {{0}};   /* [key mod 16][element in the block] */
            for (int32_t j = 0; j < n_keys[k]; j++)
                for (int l = 0; l < 16; l++) chains[j % 16][l] = fmaf(pk[j], rows[(size_t)j * 16 + l], chains[j % 16][l]);
            for (int l = 0; l < 16; l++) out[k][eb * 16 + l] = lane_sum(chains, l);
        }
    }
}

/* One lane-16 chain set per (query, key) or (query, element), in element or key order:
 * dot_f16_lane16_ref's arithmetic with the F16 side widened here. */
void sealm_attn_group_scores_ref(int nq, const float *q, int hd, const sealm_fp16 *keys, int64_t key_stride,
                                 int32_t n_keys, float scale, float *scores, int64_t scores_stride) {
    for (int k = 0; k < nq; k++)
        for (int32_t j = 0; j < n_keys; j++) {
            float lanes[16] = {0};
            for (int e = 0; e < hd; e++)
                lanes[e % 16] = fmaf(q[k * hd + e], sealm_fp16_to_fp32(keys[j * key_stride + e]), lanes[e % 16]);
            scores[k * scores_stride + j] = sealm_lane16_sum(lanes) * scale;
        }
}

void sealm_attn_group_pv_ref(int nq, const float *p, int64_t p_stride, const sealm_fp16 *values, int64_t value_stride,
                             int32_t n_keys, int hd, float *const *out) {
    for (int k = 0; k < nq; k++)
        for (int e = 0; e < hd; e++) {
            float lanes[16] = {0};
            for (int32_t j = 0; j < n_keys; j++)
                lanes[j % 16] = fmaf(p[k * p_stride + j], sealm_fp16_to_fp32(values[e * value_stride + j]), lanes[j % 16]);
            out[k][e] = sealm_lane16_sum(lanes);
        }
}
