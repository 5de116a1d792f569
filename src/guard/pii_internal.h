/* The PII rule table shared by pii_rules.c (patterns + validators) and pii_scan.c (the
 * PCRE2 driver). */
#ifndef SEALM_GUARD_PII_INTERNAL_H
#define SEALM_GUARD_PII_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>

#include "guard_internal.h"

/* For the small helpers the scan calls thousands of times per pass over short records (a word
 * read, a lexicon lookup, a cue test): gcc keeps some of them out of line at -O3, and their
 * calls (arguments, saved registers, a returned struct in memory) then cost about as much as
 * their work. */
#define PII_ALWAYS_INLINE inline __attribute__((always_inline))

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
     * or digit ('_' included, since the person pass splits "@Ms_Lopez" there); such a rule
     * that needs a digit (need "0123456789") needs it as a number start (START_NUMBER, e.g.
     * after a space) after the capital, so the scan tries only capitals before the text's last
     * number start;
     * START_PREFIX: wherever one of the rule's prefixes occurs. */
    enum { START_ANYWHERE = 0, START_NUMBER, START_TWO_LETTERS_DIGITS, START_CAPITAL, START_PREFIX } start;
    /* START_PREFIX: the literal texts (at least two bytes each, '|' between them) one of which
     * begins every match. All rules' prefixes are found in one pass over the text. */
    const char *prefixes;
    /* START_PREFIX: every match begins at the text's start or after a byte that is not a word
     * byte (A-Z, a-z, 0-9, '_': PCRE2's \w in byte mode), as the pattern's look-behind
     * ((?<![\w...]) or \b) demands; the first pass then does not look up this rule's
     * prefixes inside words. */
    bool after_nonword;
    /* START_CAPITAL rules needing a digit (optional): a start whose word cannot be followed
     * by a number right away, because another capital start comes before the next number
     * start, is tried only where this cheaper test holds too. It must hold wherever window_ok
     * accepts such a start (e.g. at a leading street word "Rue", whose number may come
     * later); NULL: every start is tried. */
    bool (*no_number_ok)(const char *text, size_t len, size_t p);
} pii_rule;

extern const pii_rule SEALM_GUARD_PII_RULES[];
extern const size_t SEALM_GUARD_PII_N_RULES;

/* Builds the tables the rules' shape tests read (once per process; thread-safe). Called by
 * every detector constructor before a scan can run. */
void sealm_guard_pii_rules_init(void);

/* The street suffixes of address.street-suffix as a PCRE2 group: the list the shape test's
 * table is read from (factored false) or the factored form the pattern uses (true); the two
 * accept the same words (unit-tested). */
const char *sealm_guard_street_suffix_pattern(bool factored);

/* Builds the name lexicon (once per process; thread-safe). Called by every detector
 * constructor: sealm_guard_find_persons relies on it. */
void sealm_guard_pii_names_init(void);

/* The person-name pass (pii_names.c): capitalized word sequences next to titles, person
 * cues or first names from the lexicon. Appends unresolved findings. caps[0, n_caps): the
 * ascending offsets of every ASCII capital that follows a non-word byte (START_CAPITAL),
 * the only places a name can begin; caps NULL: look at every byte (the reference scan).
 * lower: bit i of lower[c] says whether text[64 c + i] is in a-z (bits past len clear), for
 * every chunk of the text, so that a word's lower-case run ends at a bit scan; NULL: read
 * byte by byte. */
sealm_status sealm_guard_find_persons(const char *text, size_t len, const size_t *caps, size_t n_caps,
                                      const uint64_t *lower, float min_score, sealm_guard_findings *out,
                                      sealm_error *err);

/* The reference scan, for tests only: a detector whose scan runs every rule's pattern
 * unanchored over the whole text and the person pass over every byte, with no prefilter,
 * window or start list. Its findings must equal sealm_guard_pii_scan's on any text; the
 * unit test checks this on the evaluation corpora. Free with sealm_guard_pii_free. */
sealm_status sealm_guard_pii_new_reference(const sealm_guard_pii_config *cfg, sealm_guard_pii **out,
                                           sealm_error *err);

/* The shape tests of the START_NUMBER rules (pii_rule.window_ok) at one number start, all at
 * once: bit k is the k-th test's answer for text[p] (the digit run and the bytes after it are
 * read once instead of once per rule). sealm_guard_number_shape_bit gives a test's bit, or -1
 * for a test outside the set (the scan then calls it). Unit-tested against the tests one by one. */
unsigned sealm_guard_number_shapes(const char *text, size_t len, size_t p);
/* The same answer, reading the digit run and the street-suffix walk's words from the first
 * pass's masks (bit scans instead of a compare per byte): per 64-byte chunk c of the text,
 * bit i of digit[c] says text[64 c + i] is a digit, of word[c] that it is a word byte (A-Z,
 * a-z, 0-9, '_'); bits past len clear. Unit-tested against sealm_guard_number_shapes. */
typedef struct pii_text_masks {
    const uint64_t *digit, *word;
} pii_text_masks;
unsigned sealm_guard_number_shapes_masked(const char *text, size_t len, size_t p, const pii_text_masks *mk);
int sealm_guard_number_shape_bit(bool (*window_ok)(const char *, size_t, size_t));

/* A necessary condition of some window tests (pii_rule.window_ok of START_ANYWHERE rules with
 * anchors) at an anchor byte b = text[p]: the same byte occurs again at p - k or p + k for
 * some k in [*lo, *hi] (a MAC's separators repeat one group apart, an IPv6 address's colons
 * at most four hex digits apart). The scan then looks at an anchor only where the first
 * pass's masks show such a repeat, and skips the rule when none does. Returns false (and sets
 * nothing) when the test states no such condition for b. */
bool sealm_guard_anchor_repeat(bool (*window_ok)(const char *, size_t, size_t), char b, int *lo, int *hi);

/* Where a match holding the anchor byte at p (a START_ANYWHERE rule's anchor, after its
 * window test held) can begin, for rules whose pattern fixes it: the one offset, or
 * PII_NO_START when no match holds that anchor. The scan then makes one anchored attempt there
 * instead of searching the window before the anchor (email.addr-spec: a local part is the run
 * of local-part bytes right before its '@', as the look-behind demands, and holds no '@', so
 * no match begins between an earlier '@' and that run; ipv6.rfc4291: the run of hex digits and
 * colons before its ':'). A start more than max_back (pii_rule.back) bytes before the anchor
 * is not tried, as the window search would not have reached it: the walk back stops there
 * (PII_NO_START), so a long run of such bytes costs each anchor max_back bytes, not the run. sealm_guard_anchor_start gives the
 * function of a window test, or NULL when the rule has none. */
#define PII_NO_START ((size_t)-1)
typedef size_t (*pii_anchor_start_fn)(const char *text, size_t len, size_t p, size_t max_back);
pii_anchor_start_fn sealm_guard_anchor_start(bool (*window_ok)(const char *, size_t, size_t));

/* The detector the unit tests compare: the scan with its prefilters on the character
 * classifier the CPU allows (the default), the same on the portable scalar classifier, or
 * the reference scan. Free with sealm_guard_pii_free. */
typedef enum { PII_SCAN_FAST, PII_SCAN_FAST_SCALAR, PII_SCAN_REFERENCE } pii_scan_mode;
sealm_status sealm_guard_pii_new_mode(const sealm_guard_pii_config *cfg, pii_scan_mode mode, sealm_guard_pii **out,
                                      sealm_error *err);

/* ---- pii_classify.c: character classes of 64-byte chunks, for the scan's first pass ---- */

/* A set of ASCII bytes as a nibble table: byte b is in it when b < 0x80 and bit (b >> 4) of
 * row[b & 15] is set (the form a byte shuffle looks up 16 or 32 bytes at a time). */
typedef struct pii_byte_set {
    uint8_t row[16];
} pii_byte_set;

static inline bool pii_byte_set_has(const pii_byte_set *s, unsigned char b) {
    return b < 0x80 && ((s->row[b & 15] >> (b >> 4)) & 1);
}

static inline void pii_byte_set_add(pii_byte_set *s, unsigned char b) {
    if (b < 0x80) s->row[b & 15] |= (uint8_t)(1u << (b >> 4));
}

/* The bytes whose presence in a text some rule's prefilter asks about (pii_rule.need), and
 * the anchor bytes of the rules searched in windows: the first pass records where each
 * occurs (pii_chunk_classes.special). The scalar classifier's quick test assumes they lie in
 * '-' .. '.', ':' .. '=' and '@' (test_classifiers_exact fails otherwise). */
#define PII_PRESENT_BYTES "@:=-."
enum { PII_N_PRESENT = 5 };

/* The classes of the 64 bytes of one chunk: bit i of each mask is byte i. */
typedef struct pii_chunk_classes {
    uint64_t digit;           /* 0-9 */
    uint64_t upper;           /* A-Z */
    uint64_t lower;           /* a-z */
    uint64_t underscore;      /* _ */
    uint64_t plus_paren;      /* + or (: a number may begin there */
    uint64_t space;           /* ' ' alone (a letter code allows one space before its digits) */
    uint64_t prefix_first;    /* in the first set passed (the prefixes' first bytes) */
    uint64_t prefix_second;   /* in the second set passed (the prefixes' second bytes) */
    /* in the third and fourth sets passed: the first and second bytes of the prefixes that may
     * begin inside a word (pii_rule.after_nonword false), the only pairs looked up there */
    uint64_t prefix_first_mid, prefix_second_mid;
    uint64_t special[PII_N_PRESENT];   /* [j]: the byte PII_PRESENT_BYTES[j] */
} pii_chunk_classes;

/* The detector's byte sets in the forms the classifiers read: nibble tables for the SIMD
 * ones, and for the scalar one a table of every byte's bits (PII_BYTE_*). Built by
 * sealm_guard_pii_class_sets_init from the four sets. */
enum { PII_BYTE_FIRST = 1, PII_BYTE_SECOND = 2, PII_BYTE_FIRST_MID = 4, PII_BYTE_SECOND_MID = 8 };
typedef struct pii_class_sets {
    pii_byte_set first, second;           /* the prefixes' first and second bytes */
    pii_byte_set first_mid, second_mid;   /* the same of the prefixes that may begin inside a word */
    uint8_t bits[256];                    /* PII_BYTE_* */
} pii_class_sets;

void sealm_guard_pii_class_sets_init(pii_class_sets *s);

/* Classifies chunk[0, 64). Every implementation gives the same masks (unit-tested against
 * the classes' definitions); thread-safe. */
typedef void (*pii_classify_fn)(const unsigned char *chunk, const pii_class_sets *sets, pii_chunk_classes *out);

void sealm_guard_pii_classify_scalar(const unsigned char *chunk, const pii_class_sets *sets, pii_chunk_classes *out);
/* Classifies chunk[0, n) (n < 64) as if bytes n to 63 were NUL, reading no byte past n: a
 * text's last chunk, for classifiers that can do so without copying it (the others' chunk
 * is copied into a cleared buffer first). */
typedef void (*pii_classify_tail_fn)(const unsigned char *chunk, size_t n, const pii_class_sets *sets,
                                     pii_chunk_classes *out);
#if defined(__x86_64__)
void sealm_guard_pii_classify_avx2(const unsigned char *chunk, const pii_class_sets *sets, pii_chunk_classes *out);
void sealm_guard_pii_classify_avx512(const unsigned char *chunk, const pii_class_sets *sets, pii_chunk_classes *out);
void sealm_guard_pii_classify_avx512_tail(const unsigned char *chunk, size_t n, const pii_class_sets *sets,
                                          pii_chunk_classes *out);
#elif defined(__aarch64__)
void sealm_guard_pii_classify_neon(const unsigned char *chunk, const pii_class_sets *sets, pii_chunk_classes *out);
#endif

/* The fastest classifier this CPU runs (on x86-64 AVX-512 when the CPU and OS support its F,
 * BW, VL and DQ parts, else AVX2 when they support that; NEON on aarch64; else the scalar one).
 * SEALM_SIMD in the environment caps it as for the engine's kernels: "scalar" picks the
 * scalar one, "avx2" or "avx-vnni" at most AVX2; scalar_only picks the scalar one. */
pii_classify_fn sealm_guard_pii_classify_choose(bool scalar_only);
/* The tail classifier that goes with classifier f (the AVX-512 one's masked load), or NULL. */
pii_classify_tail_fn sealm_guard_pii_classify_tail_for(pii_classify_fn f);

/* ---- pii_secrets.c: the secrets rules' validators and anchor tests ---- */

/* Tests of a value (not NUL-terminated): documentation words and template syntax; a variable
 * or call that refers to the value; runs of five equal or consecutive bytes. */
bool sealm_guard_secret_placeholder(const char *v, size_t n);
bool sealm_guard_secret_reference(const char *v, size_t n);
bool sealm_guard_secret_patterned(const char *v, size_t n);
/* Validators (pii_validate_fn) of the secret.* and url.userinfo rules. */
float sealm_guard_secret_check_assignment(pii_candidate *c, float base);
float sealm_guard_secret_check_entropy(pii_candidate *c, float base);
float sealm_guard_secret_check_token(pii_candidate *c, float base);
float sealm_guard_secret_check_github(pii_candidate *c, float base);
float sealm_guard_secret_check_slack(pii_candidate *c, float base);
float sealm_guard_secret_check_slack_webhook(pii_candidate *c, float base);
float sealm_guard_secret_check_http_auth(pii_candidate *c, float base);
float sealm_guard_secret_check_azure_key(pii_candidate *c, float base);
float sealm_guard_secret_check_password_hash(pii_candidate *c, float base);
float sealm_guard_secret_check_url_userinfo(pii_candidate *c, float base);

#endif
