/* Tokenizer-internal: the priority queue of candidate merges shared by SentencePiece (spm.c)
 * and byte-level BPE (bpe.c). Both repeatedly merge the best adjacent pair; a binary heap
 * of candidates keeps that O(n log n). Stale candidates (a side already merged into
 * something else) stay in the heap and are recognised by the caller when popped, from the
 * two check values it stored. */
#ifndef SEALM_TOKENIZER_MERGE_QUEUE_H
#define SEALM_TOKENIZER_MERGE_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct sealm_merge_cand {
    float priority;          /* lower merges first: a BPE rank (exact below 2^24), or minus a SentencePiece score */
    int32_t left, right;     /* symbol indices; ties go to the leftmost pair */
    int32_t check_a, check_b; /* what the caller needs to tell a stale candidate */
} sealm_merge_cand;

typedef struct sealm_merge_queue {
    sealm_merge_cand *items; /* caller-provided storage; capacity is the caller's bound */
    size_t n;
} sealm_merge_queue;

static inline bool sealm_merge_before(const sealm_merge_cand *a, const sealm_merge_cand *b) {
    return a->priority < b->priority || (a->priority == b->priority && a->left < b->left);
}

static inline void sealm_merge_push(sealm_merge_queue *q, sealm_merge_cand c) {
    size_t i = q->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!sealm_merge_before(&c, &q->items[parent])) break;
        q->items[i] = q->items[parent];
        i = parent;
    }
    q->items[i] = c;
}

/* The best candidate; q must not be empty. */
static inline sealm_merge_cand sealm_merge_pop(sealm_merge_queue *q) {
    sealm_merge_cand top = q->items[0];
    sealm_merge_cand last = q->items[--q->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->n) break;
        if (c + 1 < q->n && sealm_merge_before(&q->items[c + 1], &q->items[c])) c++;
        if (!sealm_merge_before(&q->items[c], &last)) break;
        q->items[i] = q->items[c];
        i = c;
    }
    if (q->n > 0) q->items[i] = last;
    return top;
}

#endif
