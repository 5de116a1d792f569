/* A growable string for text that may hold personal data: growing copies into a new block
 * and wipes the old one, and freeing wipes, so no copy of the text is left in freed memory. */
#include "guard/guard_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

bool guard_text_add(guard_text *b, const char *s, size_t n) {
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < n + 1) cap *= 2;
        char *p = malloc(cap);
        if (!p) return false;
        if (b->p) {
            memcpy(p, b->p, b->n);
            sodium_memzero(b->p, b->cap);
            free(b->p);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return true;
}

void guard_text_wipe(guard_text *b) {
    if (b->p) sodium_memzero(b->p, b->cap);
    free(b->p);
    memset(b, 0, sizeof *b);
}
