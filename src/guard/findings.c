/* Findings: the kind names, the growable array and overlap resolution shared by every
 * guard stage (PII rules, injection screening, output policy). */
#include "sealm/guard.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const KIND_NAMES[SEALM_GUARD_KIND_COUNT] = {
    "EMAIL", "PHONE", "CARD", "IBAN", "SSN", "NATIONAL_ID", "IPV4", "IPV6", "MAC",
    "URL_CREDENTIALS", "SECRET", "DATE_OF_BIRTH", "ADDRESS", "PERSON", "INJECTION", "POLICY", "CANARY",
};

const char *sealm_guard_kind_name(sealm_guard_kind k) {
    if ((unsigned)k >= SEALM_GUARD_KIND_COUNT) return "UNKNOWN";
    return KIND_NAMES[k];
}

bool sealm_guard_kind_from_name(const char *name, sealm_guard_kind *out) {
    if (!name) return false;
    for (int k = 0; k < SEALM_GUARD_KIND_COUNT; k++)
        if (strcasecmp(name, KIND_NAMES[k]) == 0) {
            if (out) *out = (sealm_guard_kind)k;
            return true;
        }
    return false;
}

sealm_status sealm_guard_findings_push(sealm_guard_findings *f, sealm_guard_finding item, sealm_error *err) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        sealm_guard_finding *p = realloc(f->items, cap * sizeof *p);
        if (!p) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory growing the guard findings to %zu", cap);
        f->items = p;
        f->cap = cap;
    }
    f->items[f->n++] = item;
    return SEALM_OK;
}

void sealm_guard_findings_free(sealm_guard_findings *f) {
    if (!f) return;
    free(f->items);
    memset(f, 0, sizeof *f);
}

/* Priority order: higher score, then longer span, then earlier start. */
static int by_priority(const void *a, const void *b) {
    const sealm_guard_finding *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    size_t lx = x->end - x->start, ly = y->end - y->start;
    if (lx != ly) return lx > ly ? -1 : 1;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return (int)x->kind - (int)y->kind;
}

static size_t max_end_of(const sealm_guard_finding *a, size_t n) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (a[i].end > m) m = a[i].end;
    return m;
}

static int by_start(const void *a, const void *b) {
    const sealm_guard_finding *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Stable sort by start: the findings arrive as runs already in start order (each rule and
 * the person pass report left to right), so runs are found and merged pairwise. tmp holds n
 * items. */
static void sort_by_start_runs(sealm_guard_finding *a, sealm_guard_finding *tmp, size_t n) {
    for (;;) {
        size_t runs = 0, i = 0;
        while (i < n) {
            size_t mid = i + 1;
            while (mid < n && a[mid - 1].start <= a[mid].start) mid++;
            size_t end = mid;
            if (mid < n) {
                end = mid + 1;
                while (end < n && a[end - 1].start <= a[end].start) end++;
            }
            /* merge a[i, mid) and a[mid, end); ties take the left run first (stable) */
            size_t l = i, r = mid, o = i;
            while (l < mid && r < end) tmp[o++] = a[r].start < a[l].start ? a[r++] : a[l++];
            while (l < mid) tmp[o++] = a[l++];
            while (r < end) tmp[o++] = a[r++];
            memcpy(a + i, tmp + i, (end - i) * sizeof *a);
            i = end;
            runs++;
        }
        if (runs <= 1) return;
    }
}

/* The greedy selection of a small cluster (most overlaps are two or three findings of one
 * number or name): insertion sorts and a compare with each kept finding, instead of two
 * qsort calls and a bitmap. Ties in priority (the same span and kind) keep their order, as
 * glibc's merge sort does for the large path. */
enum { SMALL_CLUSTER = 16 };
static void insertion_sort(sealm_guard_finding *a, size_t n, int (*cmp)(const void *, const void *)) {
    for (size_t i = 1; i < n; i++) {
        sealm_guard_finding x = a[i];
        size_t j = i;
        for (; j > 0 && cmp(&a[j - 1], &x) > 0; j--) a[j] = a[j - 1];
        a[j] = x;
    }
}

static size_t select_greedy_small(sealm_guard_finding *a, size_t n) {
    insertion_sort(a, n, by_priority);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        bool free_span = true;
        for (size_t k = 0; k < kept && free_span; k++) free_span = a[i].end <= a[k].start || a[k].end <= a[i].start;
        if (free_span) a[kept++] = a[i];
    }
    insertion_sort(a, kept, by_start);
    return kept;
}

/* Greedy selection in priority order over a[0, n): each candidate is kept when it overlaps
 * nothing kept before it. Kept bytes are marked in a bitmap over [lo, hi), so the cost is the
 * sort plus the total length of the spans; without memory for the bitmap, the kept set is
 * held sorted by start and searched instead (slower, same result). Returns the number kept,
 * moved to the front of a and sorted by start. */
static size_t select_greedy(sealm_guard_finding *a, size_t n, size_t lo, size_t hi) {
    if (n <= SMALL_CLUSTER) return select_greedy_small(a, n);
    qsort(a, n, sizeof a[0], by_priority);
    unsigned char *taken = calloc((hi - lo) / 8 + 1, 1);
    size_t kept = 0;   /* a[0, kept) are the kept findings */
    for (size_t i = 0; i < n; i++) {
        sealm_guard_finding c = a[i];
        if (taken) {
            bool free_span = true;
            for (size_t b = c.start - lo; b < c.end - lo && free_span; b++) free_span = !(taken[b / 8] & (1u << (b % 8)));
            if (!free_span) continue;
            for (size_t b = c.start - lo; b < c.end - lo; b++) taken[b / 8] |= (unsigned char)(1u << (b % 8));
            a[kept++] = c;
            continue;
        }
        size_t l = 0, h = kept;   /* sorted-array fallback: first kept with start >= c.start */
        while (l < h) {
            size_t mid = (l + h) / 2;
            if (a[mid].start < c.start) l = mid + 1;
            else h = mid;
        }
        if (l > 0 && a[l - 1].end > c.start) continue;
        if (l < kept && a[l].start < c.end) continue;
        memmove(&a[l + 1], &a[l], (kept - l) * sizeof c);
        a[l] = c;
        kept++;
    }
    if (taken) {
        free(taken);
        qsort(a, kept, sizeof a[0], by_start);
    }
    return kept;
}

/* Greedy selection in priority order: a candidate is kept when it overlaps nothing kept
 * before it (higher score, then longer, then earlier). Candidates interact only through
 * chains of overlaps, so the findings are sorted by start, cut into clusters of overlapping
 * spans, and the greedy selection runs within each cluster: most clusters are one finding
 * and need no work. The result is the same as one selection over all findings. */
void sealm_guard_findings_resolve(sealm_guard_findings *f) {
    if (!f || f->n < 2) return;
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++)   /* empty spans are never kept */
        if (f->items[i].end > f->items[i].start) f->items[n++] = f->items[i];
    f->n = n;
    sealm_guard_finding small[32];   /* a short request's findings: no allocation */
    sealm_guard_finding *tmp = n <= 32 ? small : malloc(n * sizeof *tmp);
    if (tmp) sort_by_start_runs(f->items, tmp, n);
    if (tmp != small) free(tmp);
    if (!tmp) {   /* no memory for the merge: one selection over everything */
        f->n = n ? select_greedy(f->items, n, 0, max_end_of(f->items, n)) : 0;
        return;
    }
    size_t kept = 0, i = 0;
    while (i < n) {
        size_t j = i + 1, hi = f->items[i].end;
        while (j < n && f->items[j].start < hi) {
            if (f->items[j].end > hi) hi = f->items[j].end;
            j++;
        }
        size_t k = j - i == 1 ? 1 : select_greedy(f->items + i, j - i, f->items[i].start, hi);
        memmove(f->items + kept, f->items + i, k * sizeof f->items[0]);
        kept += k;
        i = j;
    }
    f->n = kept;
}
