/* The PII rule table shared by pii_rules.c (patterns + validators) and pii_scan.c (the
 * PCRE2 driver). */
#ifndef SEALM_GUARD_PII_INTERNAL_H
#define SEALM_GUARD_PII_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "guard_internal.h"

/* One regex match handed to a rule's validator. */
typedef struct pii_candidate {
    const char *text;          /* the whole scanned text */
    size_t len;
    size_t m_start, m_end;     /* the whole match */
    size_t start, end;         /* span to report: the rule's group when it took part, else the match;
                                  a validator may narrow it */
    const PCRE2_SIZE *ov;      /* PCRE2 ovector (pairs), unset groups are PCRE2_UNSET */
    int n_pairs;
} pii_candidate;

/* Returns the finding's score given the rule's base score, or <= 0 to reject. */
typedef float (*pii_validate_fn)(pii_candidate *c, float base);

typedef struct pii_rule {
    const char *name;          /* "card.luhn": reported as the finding's rule */
    sealm_guard_kind kind;
    float score;               /* base score, before the validator's adjustments */
    const char *pattern;       /* PCRE2, byte mode (ASCII classes), no UTF */
    uint32_t options;          /* extra PCRE2 compile options */
    const char *need;          /* skip the rule when the text holds none of these bytes (NULL: never skip) */
    pii_validate_fn validate;  /* NULL: accept with the base score */
    int group;                 /* capture group that is the reported span; 0: the whole match */
    /* Anchored search, for rules that would otherwise try a match at most bytes of a text:
     * every match contains one of the anchor bytes and starts at most back bytes before it;
     * the search window ends fwd bytes after it, and grows when an attempt needs more (PCRE2
     * partial matching, see search() in pii_scan.c), so a match may be longer. */
    const char *anchor;        /* NULL: search the whole text */
    int back, fwd;
    /* Optional cheap test of an anchor's (or a start's) surroundings before any regex runs there. */
    bool (*window_ok)(const char *text, size_t len, size_t anchor);
    /* Where a match can start, for rules whose pattern already demands it: the rule is
     * compiled anchored and tried only there (one attempt per number, not per digit), after
     * window_ok. START_NUMBER: a digit, '+' or '(' after a non-word byte (not a letter, digit
     * or '_'); START_TWO_LETTERS_DIGITS: two letters and a digit (optionally after one space)
     * after a non-word byte; START_CAPITAL: an ASCII capital after a byte that is not a letter
     * or digit ('_' included, since the person pass splits "@Ms_Lopez" there);
     * START_PREFIX: wherever one of the rule's prefixes occurs. */
    enum { START_ANYWHERE = 0, START_NUMBER, START_TWO_LETTERS_DIGITS, START_CAPITAL, START_PREFIX } start;
    /* START_PREFIX: the literal texts (at least two bytes each, '|' between them) one of which
     * begins every match. All rules' prefixes are found in one pass over the text. */
    const char *prefixes;
} pii_rule;

extern const pii_rule SEALM_GUARD_PII_RULES[];
extern const size_t SEALM_GUARD_PII_N_RULES;

/* Builds the tables the rules' shape tests read (once per process; thread-safe). Called by
 * every detector constructor before a scan can run. */
void sealm_guard_pii_rules_init(void);

/* Builds the name lexicon (once per process; thread-safe). Called by every detector
 * constructor: sealm_guard_find_persons relies on it. */
void sealm_guard_pii_names_init(void);

/* The person-name pass (pii_names.c): capitalized word sequences next to titles, person
 * cues or first names from the lexicon. Appends unresolved findings. caps[0, n_caps): the
 * ascending offsets of every ASCII capital that follows a non-word byte (START_CAPITAL),
 * the only places a name can begin; caps NULL: look at every byte (the reference scan). */
sealm_status sealm_guard_find_persons(const char *text, size_t len, const size_t *caps, size_t n_caps,
                                      float min_score, sealm_guard_findings *out, sealm_error *err);

/* The reference scan, for tests only: a detector whose scan runs every rule's pattern
 * unanchored over the whole text and the person pass over every byte, with no prefilter,
 * window or start list. Its findings must equal sealm_guard_pii_scan's on any text; the
 * unit test checks this on the evaluation corpora. Free with sealm_guard_pii_free. */
sealm_status sealm_guard_pii_new_reference(const sealm_guard_pii_config *cfg, sealm_guard_pii **out,
                                           sealm_error *err);

/* Is one of cues (lower-case, NULL-terminated list) within window bytes before text[pos]
 * (case-insensitive)? */
bool sealm_guard_cue_before(const char *text, size_t pos, size_t window, const char *const *cues);

#endif
