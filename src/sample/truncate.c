/* Truncation steps that narrow the candidate list before the draw: top-k, top-p (nucleus,
 * Holtzman et al. 2020) and min-p (relative to the most likely token), and the draw itself.
 *
 * Every comparison uses one total order (logit descending, then id ascending) and every
 * sum runs in candidate order, so the result does not depend on the sort algorithm of the
 * C library or on the platform. */
#include "sample/sample_internal.h"

/* true when a comes before b: higher logit, or the same logit and a lower id. */
static bool ranks_before(const sealm_candidate *a, const sealm_candidate *b) {
    if (a->logit != b->logit) return a->logit > b->logit;
    return a->id < b->id;
}

/* Restores the heap property below node i of a heap whose root is the worst candidate. */
static void sift_down_worst_first(sealm_candidate *heap, int32_t n, int32_t i) {
    for (;;) {
        int32_t worst = i, l = 2 * i + 1, r = 2 * i + 2;
        if (l < n && ranks_before(&heap[worst], &heap[l])) worst = l;
        if (r < n && ranks_before(&heap[worst], &heap[r])) worst = r;
        if (worst == i) return;
        sealm_candidate t = heap[i];
        heap[i] = heap[worst];
        heap[worst] = t;
        i = worst;
    }
}

/* Heap sort rather than qsort: in place (glibc's qsort may allocate a buffer, and the
 * sampler allocates nothing per token) and O(n log n) on any input. */
void sealm_sample_sort(sealm_candidate *c, int32_t n) {
    for (int32_t i = n / 2 - 1; i >= 0; i--) sift_down_worst_first(c, n, i);
    /* The worst goes to the end, then the next worst before it, ...: best first. */
    for (int32_t end = n - 1; end > 0; end--) {
        sealm_candidate t = c[0];
        c[0] = c[end];
        c[end] = t;
        sift_down_worst_first(c, end, 0);
    }
}

int32_t sealm_sample_top_k(sealm_candidate *c, int32_t n, int32_t k) {
    if (k <= 0 || k >= n) return n;
    /* c[0..k) becomes a heap with the worst of the k best so far at the root; every later
     * candidate that beats that root replaces it. */
    for (int32_t i = k / 2 - 1; i >= 0; i--) sift_down_worst_first(c, k, i);
    for (int32_t i = k; i < n; i++) {
        if (ranks_before(&c[i], &c[0])) {
            sealm_candidate t = c[0];
            c[0] = c[i];
            c[i] = t;
            sift_down_worst_first(c, k, 0);
        }
    }
    sealm_sample_sort(c, k);
    return k;
}

int32_t sealm_sample_top_p(const sealm_candidate *c, int32_t n, float top_p) {
    if (n <= 1 || top_p >= 1.0f) return n;
    /* Softmax weights relative to the best logit (c is sorted, so c[0] is the max). */
    double max = c[0].logit, total = 0.0;
    for (int32_t i = 0; i < n; i++) total += sealm_sample_exp((double)c[i].logit - max);
    double target = (double)top_p * total, cum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        cum += sealm_sample_exp((double)c[i].logit - max);
        if (cum >= target) return i + 1;
    }
    return n;
}

int32_t sealm_sample_min_p(sealm_candidate *c, int32_t n, float min_p) {
    if (n <= 1 || min_p <= 0.0f) return n;
    float max = c[0].logit;
    for (int32_t i = 1; i < n; i++)
        if (c[i].logit > max) max = c[i].logit;
    /* p_i / p_max = e^(l_i - l_max); the most likely token always passes (ratio 1). */
    int32_t kept = 0;
    for (int32_t i = 0; i < n; i++) {
        if (sealm_sample_exp((double)c[i].logit - (double)max) >= (double)min_p) c[kept++] = c[i];
    }
    /* Only when every logit is -inf (no ratio defined): keep the list as it was. */
    return kept > 0 ? kept : n;
}

int32_t sealm_sample_draw(const sealm_candidate *c, int32_t n, float temperature, double u) {
    double max = c[0].logit;
    for (int32_t i = 1; i < n; i++)
        if (c[i].logit > max) max = c[i].logit;
    /* Weights e^((l - max)/T) = softmax(l/T) up to the common factor; the CDF is walked
     * unnormalized against u·total, which is the same test without a division. */
    double total = 0.0;
    for (int32_t i = 0; i < n; i++) total += sealm_sample_exp(((double)c[i].logit - max) / temperature);
    double target = u * total, cum = 0.0;
    int32_t last_possible = 0;
    for (int32_t i = 0; i < n; i++) {
        double w = sealm_sample_exp(((double)c[i].logit - max) / temperature);
        if (w <= 0.0) continue;
        cum += w;
        last_possible = i;
        if (cum > target) return c[i].id;
    }
    /* u·total rounded up to total: the last token with weight takes it. */
    return c[last_possible].id;
}
