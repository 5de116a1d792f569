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

static int by_start(const void *a, const void *b) {
    const sealm_guard_finding *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Greedy selection in priority order: each candidate is kept when it overlaps nothing kept
 * before it. Kept bytes are marked in a bitmap, so the cost is the sort plus the total length
 * of the spans. Without memory for the bitmap, the kept set is held sorted by start and
 * searched instead (slower on thousands of findings, same result). */
void sealm_guard_findings_resolve(sealm_guard_findings *f) {
    if (!f || f->n < 2) return;
    qsort(f->items, f->n, sizeof f->items[0], by_priority);
    size_t max_end = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->items[i].end > max_end) max_end = f->items[i].end;
    unsigned char *taken = calloc(max_end / 8 + 1, 1);
    size_t kept = 0;   /* items[0, kept) are the kept findings */
    for (size_t i = 0; i < f->n; i++) {
        sealm_guard_finding c = f->items[i];
        if (c.end <= c.start) continue;
        if (taken) {
            bool free_span = true;
            for (size_t b = c.start; b < c.end && free_span; b++) free_span = !(taken[b / 8] & (1u << (b % 8)));
            if (!free_span) continue;
            for (size_t b = c.start; b < c.end; b++) taken[b / 8] |= (unsigned char)(1u << (b % 8));
            f->items[kept++] = c;
            continue;
        }
        size_t lo = 0, hi = kept;   /* sorted-array fallback: first kept with start >= c.start */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (f->items[mid].start < c.start) lo = mid + 1;
            else hi = mid;
        }
        if (lo > 0 && f->items[lo - 1].end > c.start) continue;
        if (lo < kept && f->items[lo].start < c.end) continue;
        memmove(&f->items[lo + 1], &f->items[lo], (kept - lo) * sizeof c);
        f->items[lo] = c;
        kept++;
    }
    f->n = kept;
    if (taken) {
        free(taken);
        qsort(f->items, f->n, sizeof f->items[0], by_start);
    }
}
