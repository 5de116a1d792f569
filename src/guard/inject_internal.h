/* Internals of the injection part of the guard layer: the rule table (inject_rules.c), the
 * encoded-payload decoders (inject_decode.c) and the PCRE2 driver (inject_screen.c). */
#ifndef SEALM_GUARD_INJECT_INTERNAL_H
#define SEALM_GUARD_INJECT_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "guard_internal.h"

/* One screening rule: a caseless UTF pattern and the weight a match adds to the score. */
typedef struct inject_rule {
    const char *name;      /* static, reported as the finding's rule */
    float weight;          /* 0..1; the score is 1 - prod(1 - weight) over matched rules */
    bool rot13;            /* also tried on the rot13 of the text (instruction-like rules) */
    bool from_stem;        /* every match starts at one of the need stems: the pattern is only
                              tried, anchored, where a stem begins a word */
    const char *need;      /* space-separated word beginnings (lower case, UTF-8) of which the text
                              must hold at least one for the rule to run; NULL: always run.
                              A cheap gate: every match of the pattern starts one of them. */
    const char *pattern;
} inject_rule;

extern const inject_rule SEALM_GUARD_INJECT_RULES[];
extern const size_t SEALM_GUARD_INJECT_N_RULES;

/* At most 64 rules: the word gate (inject_screen.c) keeps one bit per rule. */
#define INJECT_MAX_RULES 64

/* ---- inject_decode.c ---- */
/* Calls fn(ctx, decoded, n) for each base64 or hex segment of text[0, len) that decodes to
 * mostly printable text (>= 12 bytes); kind is "base64" or "hex". Stops and returns the first
 * non-OK status fn returns. */
typedef sealm_status (*inject_decoded_fn)(void *ctx, const char *kind, const char *decoded, size_t n,
                                          sealm_error *err);
sealm_status sealm_guard_inject_decode_segments(const char *text, size_t len, inject_decoded_fn fn, void *ctx,
                                                sealm_error *err);
/* rot13 of ASCII letters, other bytes copied: dst[0, len). */
void sealm_guard_rot13(const char *src, size_t len, char *dst);

#endif
