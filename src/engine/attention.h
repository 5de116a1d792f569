/* Engine-internal: attention over the KV cache, softmax(q·K^T / sqrt(d))·V for every
 * (token, head) pair of a batch, causal, with grouped-query heads (GQA).
 *
 * The numerics are pinned (mathfn.h says why bits matter): for heads whose size d is a
 * multiple of 16,
 *   scores[j] = lane16(q, k_j) · scale     q rounded to F16, k_j the cached F16 key
 *   p         = softmax_f16(scores)        sum in 16-key chunks, weights rounded to F16
 *   out[e]    = lane16 over keys j of p[j]·v_j[e]
 * where lane16 is the order of sealm_vec_ops.dot_f16_lane16: sixteen fmaf chains, chain i
 * over the indices ≡ i (mod 16) in index order, then sealm_lane16_sum's tree. Heads of
 * other sizes take scores as float products summed in double, in element order.
 *
 * Three loop structures compute those same bits:
 *
 * - per pair (odd head sizes, and decode where no grouped kernel is installed): each
 *   (token, head) calls a lane-16 dot per key and per output element. Each call widens two
 *   F16 vectors per FMA and ends in a horizontal reduction, which dominates for short heads
 *   (64 elements: 4 FMAs a call).
 * - grouped (decode: batches shorter than SEALM_ATTN_BLOCKED_MIN_TOKENS, head size a
 *   multiple of 16, where the level installs attn_group_* kernels: AVX2, AVX-512, NEON): the
 *   heads of one token that share a KV head run together, straight from the F16 cache.
 *   Each key row (and each value row piece) is widened once for all of them in registers,
 *   and the sixteen chains of sixteen keys (or output elements) are reduced together by a
 *   transposing tree that adds in sealm_lane16_sum's order. Each thread takes a
 *   contiguous share of the (token, head) pairs, so nine heads on two threads split 5:4
 *   rather than by KV head (2:1).
 * - blocked (prefill of SEALM_ATTN_BLOCKED_MIN_TOKENS tokens or more, head size a multiple
 *   of 16; on x86 and at the scalar level, not yet on NEON): the layer's keys and values
 *   are first widened once to F32 copies laid out so that 16 keys (for q·k) or 16 output
 *   elements (for p·V) sit side by side in one vector.
 *   The sixteen lane-16 chains then become sixteen vector accumulators, each lane holding
 *   its own key's (or element's) chain in the same order, and the tree becomes vertical
 *   adds: 16 results per block with no horizontal work and no per-call conversion. The
 *   copies are shared by every token and by the GQA heads of a KV head. The work is split
 *   into units of up to SEALM_ATTN_MAX_QUERIES (token, head) pairs of one KV head, dealt
 *   out over the thread pool; each block of keys or values is used by a whole unit while
 *   it is in L1.
 *   Causality needs no masking arithmetic: a token's p·V chains simply stop at its last
 *   key (per query), and the q·k scores a unit computes past a token's last key (up to the
 *   unit's last token, and to the end of the 16-key block) are never read by its softmax.
 *
 * Layout of the F32 copies (sealm_attn_f32, per layer, rebuilt for each batch; n_cap =
 * n_ctx rounded up to 16):
 *   kt: [n_head_kv][n_cap / 16][head_dim][16]  key j, element e of KV head g at
 *       kt[((g·n_cap/16 + j/16)·head_dim + e)·16 + j%16]: a block of 16 keys is one
 *       contiguous head_dim × 16 tile, element-major.
 *   vb: [n_head_kv][head_dim / 16][n_cap][16]  value j, element e of KV head g at
 *       vb[((g·head_dim/16 + e/16)·n_cap + j)·16 + e%16]: for 16 output elements, key j's
 *       values are one contiguous 64-byte row.
 * Key lanes past the last key of a block hold zeros. */
#ifndef SEALM_ENGINE_ATTENTION_H
#define SEALM_ENGINE_ATTENTION_H

#include "engine/model.h"

/* Batches of at least this many tokens take the blocked path (when the head size allows).
 * The widening costs once per layer what the per-pair path pays per pair; measured with 9
 * heads on 3 KV heads of 64, the blocked path is the faster from 4 tokens on (also 500
 * positions into the cache); at 2 tokens the two are even, and decode's single token keeps
 * the per-pair path. */
enum { SEALM_ATTN_BLOCKED_MIN_TOKENS = 4 };

/* (token, head) pairs per unit of the blocked path, and so per kernel call and rows of
 * per-thread scratch: the GQA heads of one KV head for as many consecutive tokens as fit
 * (fewer when the batch is short, so that every thread gets several units). */
enum { SEALM_ATTN_MAX_QUERIES = 16 };

/* The grouped kernels' software prefetch (attention_avx2.c, attention_avx512.c): the cache
 * lines of n F16 values at p, into L1 for reading. Decode's value rows are a few lines
 * each, too short for the hardware prefetchers to pick up before they end; its key rows are
 * one stream per KV head since the cache is head-major. The AVX-512 key prefetch, measured
 * again on that layout (1536 positions, 8 rounds): without it 0.948 (3 of 8), 64 rows
 * ahead 0.965 (2 of 8), neither a gain, so it stays as it was; AVX2's was not re-measured.
 * A hint only: no effect on any result. */
static inline void sealm_attn_prefetch_f16(const sealm_fp16 *p, int64_t n) {
    const char *b = (const char *)p;
    for (int64_t off = 0; off < n * (int64_t)sizeof(sealm_fp16); off += 64) __builtin_prefetch(b + off, 0, 3);
}

/* Values of a value row that p·V prefetches ahead (longer rows keep the hardware
 * prefetchers busy on their own). */
enum { SEALM_ATTN_PREFETCH_MAX = 512 };

/* Which loop structure sealm_attention_run_path uses (tests compare them). */
typedef enum sealm_attn_path {
    SEALM_ATTN_AUTO = 0,      /* what sealm_attention_run picks */
    SEALM_ATTN_PER_PAIR = 1,
    SEALM_ATTN_BLOCKED = 2,   /* falls back to per pair where the head size is not a multiple of 16 */
    SEALM_ATTN_GROUPED = 3,   /* likewise */
} sealm_attn_path;

/* Attention of one layer for n_tokens tokens at positions pos0 .. pos0 + n_tokens - 1:
 * reads c->act.q ([n_tokens][n_embd], after RoPE) and the layer's KV cache (which must
 * already hold positions 0 .. pos0 + n_tokens - 1), writes c->act.att ([n_tokens][n_embd]).
 * Runs on c's thread pool; uses c->attn[] and c->attn_f32 as scratch. The result does not
 * depend on the path, the SIMD level or the thread count. Not thread-safe per context. */
void sealm_attention_run(sealm_context *c, int layer, int32_t n_tokens, int32_t pos0);
void sealm_attention_run_path(sealm_context *c, int layer, int32_t n_tokens, int32_t pos0, sealm_attn_path path);

/* The scalar reference kernels (sealm_vec_ops.attn_scores / attn_pv / attn_softmax; quant.h
 * documents the contracts). The SIMD versions in attention_avx2.c and attention_avx512.c
 * return exactly their bits. */
void sealm_attn_scores_ref(int nq, const float *q, int hd, const float *kt, int32_t n_keys, float scale,
                           float *scores, int64_t scores_stride);
void sealm_attn_pv_ref(int nq, const float *p, int64_t p_stride, const float *vb, int64_t vb_stride,
                       const int32_t *n_keys, int hd, float *const *out);
/* The scalar softmax of every path (sealm_vec_ops.attn_softmax). */
void sealm_attn_softmax_ref(float *scores, int32_t n, sealm_fp16 *p16);
/* The scalar grouped kernels (sealm_vec_ops.attn_group_scores / attn_group_pv). */
void sealm_attn_group_scores_ref(int nq, const float *q, int hd, const sealm_fp16 *keys, int64_t key_stride,
                                 int32_t n_keys, float scale, float *scores, int64_t scores_stride);
void sealm_attn_group_pv_ref(int nq, const float *p, int64_t p_stride, const sealm_fp16 *values, int64_t value_stride,
                             int32_t n_keys, int hd, float *const *out);

#endif
