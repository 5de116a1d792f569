/* The PII detector: compiles the rule table (pii_rules.c) with PCRE2, JIT where the
 * platform has it, and runs every rule plus the person pass over a text.
 *
 * Speed comes from not running regexes where they cannot match: one pass over the text
 * (on 64-byte chunks turned into character-class bitmasks, pii_classify*.c) records where
 * numbers, letter-digit codes and capitalized words begin and where the provider-key (and
 * other literal) prefixes occur; each rule then runs only at those starts, or in windows
 * around its anchor bytes, after a cheap test in C of a condition its pattern needs. Each
 * of these is exact: the reference scan (sealm_guard_pii_new_reference) runs every pattern
 * over the whole text and the unit test checks that both give the same findings. */
#include "pii_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct compiled_rule {
    const pii_rule *rule;
    pcre2_code *code;
    bool jit;
    int start;   /* rule->start, kept here: the scan loop reads it for every rule */
    bool need_digits;   /* rule->need is "0123456789": answered by the first pass's classes */
    int shape_bit;      /* START_NUMBER: the bit of sealm_guard_number_shapes that is window_ok's answer, or -1 */
    /* rule->anchor's bytes as indices into PII_PRESENT_BYTES (bit j), when all of them are
     * there: the first pass then knows where they occur */
    unsigned anchor_special;
    bool anchor_masked;
    /* The anchor bytes of a masked rule as a list: [k] is PII_PRESENT_BYTES[anchor_j[k]], and
     * window_ok holds there only where the same byte repeats at a distance in [repeat_lo[k],
     * repeat_hi[k]] (sealm_guard_anchor_repeat; 0: no such condition), so the anchors are
     * filtered by it. */
    unsigned char anchor_j[PII_N_PRESENT], repeat_lo[PII_N_PRESENT], repeat_hi[PII_N_PRESENT];
    unsigned char n_anchor_j;
    /* rule->need's bytes the same way, when all of them are there (need_special_ok) */
    unsigned need_special;
    bool need_special_ok;
    /* the one start of a match holding an anchor (sealm_guard_anchor_start), NULL when the
     * window before the anchor is searched; such a rule is compiled anchored (not in the
     * reference scan) */
    pii_anchor_start_fn anchor_start;
} compiled_rule;

/* One literal prefix of a START_PREFIX rule (pii_rule.prefixes). */
typedef struct prefix_entry {
    const char *s;           /* points into the rule's prefixes string */
    uint16_t n;
    uint16_t bigram;         /* s[0] | s[1] << 8 */
    uint16_t rule;           /* index into the detector's rules */
    bool after_nonword;      /* the rule's pii_rule.after_nonword: not looked for inside words */
} prefix_entry;

struct sealm_guard_pii {
    sealm_guard_pii_config cfg;
    compiled_rule *rules;
    size_t n_rules;
    bool persons;     /* the person pass is on */
    bool reference;   /* the slow reference scan: no prefilters (tests only) */
    /* Every prefix of the enabled START_PREFIX rules, sorted by their first two bytes, and a
     * bitmap of those two-byte values: the prefix pass tests one bit per text byte. */
    prefix_entry *prefixes;
    size_t n_prefixes;
    uint64_t bigram_bits[65536 / 64];
    /* The pairs of the prefixes that may begin inside a word (after a letter, digit or '_'):
     * a pair there is looked up in this smaller map, so the pair of a word-start prefix inside
     * a word ("do" in "window", "da" in "Amanda") stops at one bit test. */
    uint64_t bigram_mid_bits[65536 / 64];
    /* The entries of the k-th set bit (in pair order) are prefixes[group_first[k],
     * group_first[k + 1]); bigram_rank[w]: the set bits in words before word w. A pair's
     * entries are then found by a popcount instead of a search. */
    uint16_t bigram_rank[65536 / 64];
    uint16_t *group_first;
    /* The prefixes' first and second bytes, and those of the prefixes allowed inside words,
     * for the first pass's chunk classifier; a prefix byte above 0x7f, which the sets cannot
     * hold, makes every byte pair a candidate. */
    pii_class_sets prefix_sets;
    bool prefix_any_byte;
    pii_classify_fn classify;
    pii_classify_tail_fn classify_tail;   /* a text's last chunk without a copy, or NULL */
    /* The rules by where they start (bit i: rules[i]; START_ANYWHERE .. START_PREFIX), so a
     * scan visits only the rules whose starts occur; used when there are at most 64 rules. */
    uint64_t class_rules[START_PREFIX + 1];
    bool class_masks;
    uint64_t number_shape_rules;   /* the START_NUMBER rules with a shape bit (bit i: rules[i]) */
    uint64_t rules_of_shape[16];   /* [b]: those whose shape bit is b */
    /* the START_ANYWHERE rules whose required bytes are all PII_PRESENT_BYTES, per byte j of
     * those (bit i: rules[i] needs PII_PRESENT_BYTES[j] among others) */
    uint64_t rules_needing[PII_N_PRESENT];
    uint64_t special_need_rules;   /* all of those */
    /* [set]: the START_ANYWHERE rules a text holding the PII_PRESENT_BYTES of set (bit j) can
     * match: those without such needs and those needing a byte of the set; one load per
     * scan instead of a test per byte */
    uint64_t anywhere_rules[1u << PII_N_PRESENT];
    /* the START_ANYWHERE and START_CAPITAL rules whose need is the digits: scan_rule would
     * return at once for each of them when the text has no digit, so such a scan does not
     * visit them */
    uint64_t digit_need_rules;
};

sealm_guard_pii_config sealm_guard_pii_config_default(void) {
    sealm_guard_pii_config c = {0, 0.5f};
    return c;
}

static bool kind_on(const sealm_guard_pii_config *c, sealm_guard_kind k) {
    return c->kinds == 0 || (c->kinds & (1u << k)) != 0;
}

void sealm_guard_pii_free(sealm_guard_pii *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n_rules; i++) pcre2_code_free(d->rules[i].code);
    free(d->rules);
    free(d->prefixes);
    free(d->group_first);
    free(d);
}

static int by_bigram(const void *a, const void *b) {
    const prefix_entry *x = a, *y = b;
    if (x->bigram != y->bigram) return x->bigram < y->bigram ? -1 : 1;
    return x->rule != y->rule ? (x->rule < y->rule ? -1 : 1) : 0;
}

/* Collects the prefixes of the detector's START_PREFIX rules (SEALM_E_NOMEM when out of
 * memory; a rule table prefix shorter than two bytes is a programming error caught by the
 * unit test's comparison with the reference scan). */
static sealm_status prefix_index(sealm_guard_pii *d) {
    size_t cap = 0;
    for (size_t i = 0; i < d->n_rules; i++) {
        const char *p = d->rules[i].rule->prefixes;
        if (d->rules[i].rule->start != START_PREFIX || !p) continue;
        cap++;
        for (; *p; p++) cap += *p == '|';
    }
    d->prefixes = cap ? calloc(cap, sizeof *d->prefixes) : NULL;
    if (cap && !d->prefixes) return SEALM_E_NOMEM;
    for (size_t i = 0; i < d->n_rules; i++) {
        const char *p = d->rules[i].rule->prefixes;
        if (d->rules[i].rule->start != START_PREFIX || !p) continue;
        while (*p) {
            size_t n = strcspn(p, "|");
            if (n >= 2) {
                prefix_entry *e = &d->prefixes[d->n_prefixes++];
                e->s = p;
                e->n = (uint16_t)n;
                e->bigram = (uint16_t)((unsigned char)p[0] | (unsigned char)p[1] << 8);
                e->rule = (uint16_t)i;
                e->after_nonword = d->rules[i].rule->after_nonword;
                d->bigram_bits[e->bigram / 64] |= 1ull << (e->bigram % 64);
                if (!e->after_nonword) {
                    d->bigram_mid_bits[e->bigram / 64] |= 1ull << (e->bigram % 64);
                    pii_byte_set_add(&d->prefix_sets.first_mid, (unsigned char)p[0]);
                    pii_byte_set_add(&d->prefix_sets.second_mid, (unsigned char)p[1]);
                }
                pii_byte_set_add(&d->prefix_sets.first, (unsigned char)p[0]);
                pii_byte_set_add(&d->prefix_sets.second, (unsigned char)p[1]);
                if ((unsigned char)p[0] >= 0x80 || (unsigned char)p[1] >= 0x80) d->prefix_any_byte = true;
            }
            p += n + (p[n] == '|');
        }
    }
    if (d->n_prefixes) qsort(d->prefixes, d->n_prefixes, sizeof *d->prefixes, by_bigram);
    d->group_first = malloc((d->n_prefixes + 1) * sizeof *d->group_first);
    if (!d->group_first) return SEALM_E_NOMEM;
    size_t groups = 0;
    for (size_t i = 0; i < d->n_prefixes; i++)
        if (i == 0 || d->prefixes[i].bigram != d->prefixes[i - 1].bigram) d->group_first[groups++] = (uint16_t)i;
    d->group_first[groups] = (uint16_t)d->n_prefixes;
    unsigned rank = 0;
    for (size_t w = 0; w < 65536 / 64; w++) {
        d->bigram_rank[w] = (uint16_t)rank;
        rank += (unsigned)__builtin_popcountll(d->bigram_bits[w]);
    }
    sealm_guard_pii_class_sets_init(&d->prefix_sets);
    return SEALM_OK;
}

static sealm_status pii_new(const sealm_guard_pii_config *cfg, pii_scan_mode mode, sealm_guard_pii **out,
                            sealm_error *err) {
    bool reference = mode == PII_SCAN_REFERENCE;
    *out = NULL;
    sealm_guard_pii_config c = cfg ? *cfg : sealm_guard_pii_config_default();
    if (!(c.min_score >= 0.0f && c.min_score <= 1.0f))
        return sealm_error_set(err, SEALM_E_INVALID, "guard: min_score must be within [0, 1]");
    sealm_guard_pii *d = calloc(1, sizeof *d);
    if (d) d->rules = calloc(SEALM_GUARD_PII_N_RULES, sizeof *d->rules);
    if (!d || !d->rules) {
        free(d);
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory creating the PII detector");
    }
    sealm_guard_pii_rules_init();
    sealm_guard_pii_names_init();
    d->classify = sealm_guard_pii_classify_choose(mode == PII_SCAN_FAST_SCALAR);
    d->classify_tail = sealm_guard_pii_classify_tail_for(d->classify);
    d->cfg = c;
    d->persons = kind_on(&c, SEALM_GUARD_PERSON);
    d->reference = reference;
    for (size_t i = 0; i < SEALM_GUARD_PII_N_RULES; i++) {
        const pii_rule *r = &SEALM_GUARD_PII_RULES[i];
        if (!kind_on(&c, r->kind)) continue;
        int code;
        PCRE2_SIZE off;
        pii_anchor_start_fn anchor_start = !reference && r->start == START_ANYWHERE && r->anchor && r->window_ok
                                               ? sealm_guard_anchor_start(r->window_ok)
                                               : NULL;
        bool anchored = !reference && (r->start != START_ANYWHERE || anchor_start);
        uint32_t options = r->options | (anchored ? PCRE2_ANCHORED : 0);
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)r->pattern, PCRE2_ZERO_TERMINATED, options, &code, &off, NULL);
        if (!re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(code, msg, sizeof msg);
            sealm_guard_pii_free(d);
            return sealm_error_set(err, SEALM_E_UNSUPPORTED, "guard: rule %s does not compile at offset %zu: %s",
                                   r->name, (size_t)off, (const char *)msg);
        }
        compiled_rule *cr = &d->rules[d->n_rules++];
        cr->rule = r;
        cr->code = re;
        cr->start = r->start;
        cr->anchor_start = anchor_start;
        cr->need_digits = r->need && strcmp(r->need, "0123456789") == 0;
        cr->shape_bit = r->start == START_NUMBER && r->window_ok ? sealm_guard_number_shape_bit(r->window_ok) : -1;
        cr->need_special_ok = r->need && *r->need;
        for (const char *b = r->need; b && *b; b++) {
            const char *q = strchr(PII_PRESENT_BYTES, *b);
            if (q) cr->need_special |= 1u << (q - PII_PRESENT_BYTES);
            else cr->need_special_ok = false;
        }
        cr->anchor_masked = r->anchor && *r->anchor;
        for (const char *b = r->anchor; b && *b; b++) {
            const char *q = strchr(PII_PRESENT_BYTES, *b);
            if (!q) {
                cr->anchor_masked = false;
                continue;
            }
            unsigned j = (unsigned)(q - PII_PRESENT_BYTES);
            if (cr->anchor_special >> j & 1) continue;
            cr->anchor_special |= 1u << j;
            int lo, hi, k = cr->n_anchor_j++;
            cr->anchor_j[k] = (unsigned char)j;
            if (!reference && r->window_ok && r->start == START_ANYWHERE &&
                sealm_guard_anchor_repeat(r->window_ok, *b, &lo, &hi) && lo >= 1 && lo <= hi && hi < 64) {
                cr->repeat_lo[k] = (unsigned char)lo;
                cr->repeat_hi[k] = (unsigned char)hi;
            }
        }
        /* JIT is an optimization: without it (unsupported CPU, no executable memory under a
         * strict seccomp profile) the interpreter gives the same matches. */
        uint32_t jit_modes = PCRE2_JIT_COMPLETE | (r->anchor && r->start == START_ANYWHERE ? PCRE2_JIT_PARTIAL_HARD : 0);
        cr->jit = pcre2_jit_compile(re, jit_modes) == 0;
    }
    d->class_masks = d->n_rules <= 64;
    for (size_t i = 0; i < d->n_rules && d->class_masks; i++) {
        d->class_rules[d->rules[i].start] |= 1ull << i;
        if (d->rules[i].shape_bit >= 0) {
            d->number_shape_rules |= 1ull << i;
            d->rules_of_shape[d->rules[i].shape_bit] |= 1ull << i;
        }
        if (d->rules[i].need_digits && (d->rules[i].start == START_ANYWHERE || d->rules[i].start == START_CAPITAL))
            d->digit_need_rules |= 1ull << i;
        if (d->rules[i].start == START_ANYWHERE && d->rules[i].need_special_ok) {
            d->special_need_rules |= 1ull << i;
            for (int j = 0; j < PII_N_PRESENT; j++)
                if (d->rules[i].need_special >> j & 1) d->rules_needing[j] |= 1ull << i;
        }
    }
    for (unsigned set = 0; set < 1u << PII_N_PRESENT && d->class_masks; set++) {
        uint64_t rules = d->class_rules[START_ANYWHERE] & ~d->special_need_rules;
        for (int j = 0; j < PII_N_PRESENT; j++)
            if (set >> j & 1) rules |= d->rules_needing[j];
        d->anywhere_rules[set] = rules;
    }
    if (prefix_index(d) != SEALM_OK) {
        sealm_guard_pii_free(d);
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory creating the PII detector");
    }
    *out = d;
    return SEALM_OK;
}

sealm_status sealm_guard_pii_new(const sealm_guard_pii_config *cfg, sealm_guard_pii **out, sealm_error *err) {
    return pii_new(cfg, PII_SCAN_FAST, out, err);
}

sealm_status sealm_guard_pii_new_reference(const sealm_guard_pii_config *cfg, sealm_guard_pii **out,
                                           sealm_error *err) {
    return pii_new(cfg, PII_SCAN_REFERENCE, out, err);
}

sealm_status sealm_guard_pii_new_mode(const sealm_guard_pii_config *cfg, pii_scan_mode mode, sealm_guard_pii **out,
                                      sealm_error *err) {
    return pii_new(cfg, mode, out, err);
}

/* ---- match data ---------------------------------------------------------------------- */

/* Match data is per thread, not per detector (a detector is shared between threads and
 * stays immutable) and not per call (a malloc and free for every short request): each thread
 * keeps one block, freed when the thread exits. The main thread's block lives until exit. */
enum { MATCH_PAIRS = 16 };
static pthread_key_t g_md_key;
static pthread_once_t g_md_once = PTHREAD_ONCE_INIT;
static bool g_md_key_ok;

static _Thread_local pcre2_match_data *t_md;   /* see thread_match_data */

/* Runs in the exiting thread; a scan from a later destructor of that thread makes a new block. */
static void md_free(void *md) {
    t_md = NULL;
    pcre2_match_data_free(md);
}
static void md_key_init(void) { g_md_key_ok = pthread_key_create(&g_md_key, md_free) == 0; }

/* The calling thread's match data; *owned: the caller frees it (no thread key). After the
 * first call a thread finds its block in a thread-local pointer instead of through
 * pthread_once and pthread_getspecific (about 30 instructions of every call); the key still
 * frees the block when the thread exits. */
static pcre2_match_data *thread_match_data(bool *owned) {
    if (t_md) {
        *owned = false;
        return t_md;
    }
    pthread_once(&g_md_once, md_key_init);
    *owned = !g_md_key_ok;
    pcre2_match_data *md = g_md_key_ok ? pthread_getspecific(g_md_key) : NULL;
    if (md) return t_md = md;
    md = pcre2_match_data_create(MATCH_PAIRS, NULL);
    if (md && g_md_key_ok && pthread_setspecific(g_md_key, md) != 0) *owned = true;
    if (md && !*owned) t_md = md;
    return md;
}

/* ---- regex calls --------------------------------------------------------------------- */

/* The texts are bytes (the rules are compiled without UTF), so there is nothing for PCRE2 to
 * check before matching. */
static int match_at(const compiled_rule *cr, const char *text, size_t limit, size_t at, uint32_t options,
                    pcre2_match_data *md) {
    return cr->jit ? pcre2_jit_match(cr->code, (PCRE2_SPTR)text, limit, at, options, md, NULL)
                   : pcre2_match(cr->code, (PCRE2_SPTR)text, limit, at, options, md, NULL);
}

/* One regex search from offset at within a window [at, limit) of the text around the anchor
 * byte at offset anchor. A window's end is not the text's end: with PCRE2_PARTIAL_HARD, an
 * attempt that needs a byte past the window (a longer run, a lookahead) stops the search as a
 * partial match. One that began at or before the anchor is a candidate this window must
 * settle, so the search is redone in a window twice as long (up to the whole text); one that
 * began after the anchor means no match starts at or before it, and that later start is
 * settled by its own anchor's window. */
static int search(const compiled_rule *cr, const char *text, size_t len, size_t limit, size_t at, size_t anchor,
                  pcre2_match_data *md) {
    for (;;) {
        int rc = match_at(cr, text, limit, at, limit < len ? PCRE2_PARTIAL_HARD : 0, md);
        if (rc != PCRE2_ERROR_PARTIAL) return rc;
        if (pcre2_get_ovector_pointer(md)[0] > anchor) return PCRE2_ERROR_NOMATCH;
        limit = len - limit > limit - at ? limit + (limit - at) : len;
    }
}

/* The rule's validator on a candidate (span: the rule's group when it took part); the
 * score, or 0 when rejected or below the detector's threshold. */
static float validate(const sealm_guard_pii *d, const pii_rule *r, pii_candidate *c) {
    int g = r->group;
    if (g > 0 && c->n_pairs > g && c->ov[2 * g] != PCRE2_UNSET) {
        c->start = c->ov[2 * g];
        c->end = c->ov[2 * g + 1];
    }
    if (c->end <= c->start) return 0;
    float score = r->validate ? r->validate(c, r->score) : r->score;
    return (score > 0 && score >= d->cfg.min_score && c->end > c->start) ? score : 0;
}

/* Validates the match in md and keeps it when it passes; *taken: it passed. */
static sealm_status take_match(const sealm_guard_pii *d, const pii_rule *r, const char *text, size_t len,
                               pcre2_match_data *md, int rc, sealm_guard_findings *out, bool *taken,
                               sealm_error *err) {
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    pii_candidate c = {text, len, ov[0], ov[1], ov[0], ov[1], ov, rc};
    float score = validate(d, r, &c);
    *taken = score > 0;
    if (!*taken) return SEALM_OK;
    sealm_guard_finding f = {r->kind, c.start, c.end, score, r->name};
    return sealm_guard_findings_push(out, f, err);
}

/* ---- where rules run ----------------------------------------------------------------- */

/* The next occurrence of each anchor byte, found with memchr and cached, so a text is read
 * once per anchor byte however many windows a rule opens. */
typedef struct anchor_cursor {
    unsigned char bytes[8];
    size_t next[8];        /* next occurrence at or after the last query; len when none */
    size_t n;
    bool started;
    signed char *present;  /* the scan's byte-occurrence cache (text_map.present), or NULL */
} anchor_cursor;

static void anchor_init(anchor_cursor *a, const char *anchor, signed char *present) {
    a->n = 0;
    a->started = false;
    a->present = present;
    for (const char *b = anchor; *b && a->n < 8; b++) {
        a->bytes[a->n] = (unsigned char)*b;
        a->next[a->n++] = 0;
    }
}

/* Next offset >= from holding an anchor byte, or len. */
static size_t next_anchor(anchor_cursor *a, const char *text, size_t len, size_t from) {
    size_t best = len;
    for (size_t i = 0; i < a->n; i++) {
        if (a->next[i] < from || !a->started) {
            /* a byte known to be absent (several rules share ':' and '@') is not searched */
            bool absent = a->present && a->present[a->bytes[i]] == 0;
            const char *hit = from < len && !absent ? memchr(text + from, a->bytes[i], len - from) : NULL;
            a->next[i] = hit ? (size_t)(hit - text) : len;
            if (a->present && from == 0) a->present[a->bytes[i]] = hit != NULL;
        }
        if (a->next[i] < best) best = a->next[i];
    }
    a->started = true;
    return best;
}

/* Start offsets of one class, found once per scan and shared by the rules of that class.
 * The first offsets live in the scan's own buffer, so a short request allocates nothing. */
enum { START_CLASSES = 3, START_INLINE = 256 };
typedef struct start_list {
    size_t *at;
    size_t n, cap;
    size_t inline_at[START_INLINE];
} start_list;

static void start_list_init(start_list *l) {
    l->at = l->inline_at;
    l->n = 0;
    l->cap = START_INLINE;
}

static void start_list_free(start_list *l) {
    if (l->at != l->inline_at) free(l->at);
}

/* Doubles the list's room (at most START_INLINE more offsets); kept out of push_bits, which
 * runs for every chunk with a start and rarely needs it, so that push_bits can be inlined. */
static sealm_status start_grow(start_list *l, sealm_error *err) {
    size_t want = l->cap * 2;
    size_t *q = l->at == l->inline_at ? malloc(want * sizeof *q) : realloc(l->at, want * sizeof *q);
    if (!q) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory scanning for PII");
    if (l->at == l->inline_at) memcpy(q, l->inline_at, sizeof l->inline_at);
    l->at = q;
    l->cap = want;
    return SEALM_OK;
}

/* What the first pass learns about a text. */
enum { SPECIAL_CHUNKS = 64 };   /* texts of up to 4 KiB keep where the PII_PRESENT_BYTES are */
typedef struct text_map {
    start_list starts[START_CLASSES];   /* START_NUMBER, START_TWO_LETTERS_DIGITS, START_CAPITAL */
    signed char present[256];           /* does the byte occur: -1 not asked yet, 0 no, 1 yes */
    bool digits;                        /* does the text hold a digit */
    unsigned special_present;           /* bit j: PII_PRESENT_BYTES[j] occurs */
    /* [j][c]: the chunk classes' special[j] of chunk c, when the text has at most
     * SPECIAL_CHUNKS chunks (special_kept); the anchored rules find their anchors there */
    bool special_kept;
    uint64_t special[PII_N_PRESENT][SPECIAL_CHUNKS];
    /* the chunk classes' lower of every chunk, for the person pass (a word's lower-case run ends
     * at a bit scan): in lower for texts of up to SPECIAL_CHUNKS chunks, else in lower_heap
     * (allocated by the first pass; NULL until then) */
    uint64_t lower[SPECIAL_CHUNKS];
    uint64_t *lower_heap;
    /* the chunk classes' digit and word (digit, upper, lower, '_') masks, for the number shapes
     * (sealm_guard_number_shapes_masked), when special_kept */
    uint64_t digit_mask[SPECIAL_CHUNKS], word_mask[SPECIAL_CHUNKS];
    /* sealm_guard_number_shapes of each number start, computed when a rule first asks */
    uint16_t *shapes;                   /* NULL until then; shapes_inline or allocated */
    uint16_t shapes_inline[START_INLINE];
} text_map;

static start_list *starts_of(text_map *m, int start) { return &m->starts[start - START_NUMBER]; }

/* The shape bits of every number start (see sealm_guard_number_shapes), once per scan: the
 * eight number rules share one reading of each number instead of one each. */
static sealm_status number_shapes(text_map *m, const char *text, size_t len, sealm_error *err) {
    if (m->shapes) return SEALM_OK;
    const start_list *l = &m->starts[0];
    uint16_t *s = l->n <= START_INLINE ? m->shapes_inline : malloc(l->n * sizeof *s);
    if (!s) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory scanning for PII");
    if (m->special_kept) {
        pii_text_masks mk = {m->digit_mask, m->word_mask};
        for (size_t i = 0; i < l->n; i++) s[i] = (uint16_t)sealm_guard_number_shapes_masked(text, len, l->at[i], &mk);
    } else {
        for (size_t i = 0; i < l->n; i++) s[i] = (uint16_t)sealm_guard_number_shapes(text, len, l->at[i]);
    }
    m->shapes = s;
    return SEALM_OK;
}

/* Does one of the bytes of the rule's need occur in the text? The first pass answered for
 * digits and the PII_PRESENT_BYTES; any other byte is looked up (memchr) once, when a rule
 * first asks. */
static bool any_present(text_map *m, const char *text, size_t len, const compiled_rule *cr) {
    if (cr->need_digits) return m->digits;
    if (cr->need_special_ok) return (m->special_present & cr->need_special) != 0;
    const char *bytes = cr->rule->need;
    for (const char *b = bytes; *b; b++) {
        signed char *p = &m->present[(unsigned char)*b];
        if (*p < 0) *p = memchr(text, *b, len) != NULL;
        if (*p) return true;
    }
    return false;
}

/* Where START_PREFIX rules can match: (offset, rule) pairs in text order. */
typedef struct prefix_hit {
    size_t at;
    size_t rule;
} prefix_hit;

typedef struct prefix_hits {
    prefix_hit *items;
    size_t n, cap;
    uint64_t rules;   /* bit per rule (below 64) with a hit */
    prefix_hit inline_items[64];
} prefix_hits;

static sealm_status prefix_hit_push(prefix_hits *h, size_t at, size_t rule, sealm_error *err) {
    if (h->n && h->items[h->n - 1].at == at && h->items[h->n - 1].rule == rule) return SEALM_OK;   /* "aws" etc. */
    if (h->n == h->cap) {
        size_t want = h->cap * 2;
        prefix_hit *q = h->items == h->inline_items ? malloc(want * sizeof *q) : realloc(h->items, want * sizeof *q);
        if (!q) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory scanning for PII");
        if (h->items == h->inline_items) memcpy(q, h->inline_items, sizeof h->inline_items);
        h->items = q;
        h->cap = want;
    }
    h->items[h->n++] = (prefix_hit){at, rule};
    if (rule < 64) h->rules |= 1ull << rule;
    return SEALM_OK;
}

/* The prefixes that begin at p, where the byte pair is a candidate of the classifier: a pair
 * whose bit is set in the detector's bitmap, and there the prefixes with that pair. in_word:
 * the byte before p is a word byte, where only prefixes without after_nonword can begin. */
static sealm_status prefixes_at(const sealm_guard_pii *d, const unsigned char *t, size_t len, size_t p,
                                bool in_word, prefix_hits *h, sealm_error *err) {
    unsigned bg = t[p] | (unsigned)t[p + 1] << 8;
    uint64_t word = d->bigram_bits[bg / 64], bit = 1ull << (bg % 64);
    if (!((in_word ? d->bigram_mid_bits[bg / 64] : word) & bit)) return SEALM_OK;
    size_t group = d->bigram_rank[bg / 64] + (size_t)__builtin_popcountll(word & (bit - 1));
    for (size_t i = d->group_first[group]; i < d->group_first[group + 1]; i++) {
        const prefix_entry *e = &d->prefixes[i];
        if (e->n > len - p || (in_word && e->after_nonword)) continue;
        size_t k = 2;   /* the first two bytes are the pair */
        while (k < e->n && t[p + k] == (unsigned char)e->s[k]) k++;
        if (k == e->n) {
            sealm_status st = prefix_hit_push(h, p, e->rule, err);
            if (st != SEALM_OK) return st;
        }
    }
    return SEALM_OK;
}

/* The classes of the chunk text[base, base + 64); past the text's end the chunk reads as
 * NUL bytes, which belong to no class. Forced inline: the first pass calls it twice, and gcc
 * leaves it out of line once it has the tail classifier's branch (75 k instructions per pass
 * over presidio-research). */
static PII_ALWAYS_INLINE void classify_chunk(const sealm_guard_pii *d, const unsigned char *t, size_t len,
                                              size_t base, pii_chunk_classes *c) {
    if (base >= len) {
        memset(c, 0, sizeof *c);
        return;
    }
    if (len - base >= 64) {
        d->classify(t + base, &d->prefix_sets, c);
        return;
    }
    if (d->classify_tail) {
        d->classify_tail(t + base, len - base, &d->prefix_sets, c);
        return;
    }
    unsigned char tail[64] = {0};
    memcpy(tail, t + base, len - base);
    d->classify(tail, &d->prefix_sets, c);
}

/* Bits [0, n) of a mask (n may exceed 64). */
static inline uint64_t low_bits(size_t n) { return n >= 64 ? ~0ull : (1ull << n) - 1; }

/* Pushes offset base + i for every set bit i of bits. */
static inline sealm_status push_bits(start_list *l, size_t base, uint64_t bits, sealm_error *err) {
    if (l->cap - l->n < 64) {   /* room for any chunk's bits */
        sealm_status st = start_grow(l, err);
        if (st != SEALM_OK) return st;
    }
    /* the count and the array in locals: through l, each store would make the compiler reload
     * and store l->n (an offset store may alias it) */
    size_t n = l->n, *at = l->at;
    for (; bits; bits &= bits - 1) at[n++] = base + (size_t)__builtin_ctzll(bits);
    l->n = n;
    return SEALM_OK;
}

/* The one pass over the text before any regex runs: where each start class begins, where
 * the prefixes occur, whether digits and the PII_PRESENT_BYTES occur. It works on the
 * chunk classifier's masks, 64 bytes at a time, and branches only where something begins.
 * A start follows a byte that is not a word byte (a letter, digit or '_'):
 *  - START_NUMBER: a digit, or '+' or '(' with a byte after it;
 *  - START_TWO_LETTERS_DIGITS: two letters, then a digit or one space and a digit, with a
 *    byte after those three;
 *  - START_CAPITAL: an ASCII capital (also right after '_', see pii_rule.start).
 * Bit i of a mask shifted right by k reads byte i + k: the next chunk supplies the bits that
 * shift in, and the previous one the word bit shifted into bit 0. */
static sealm_status first_pass(const sealm_guard_pii *d, const char *text, size_t len, text_map *m,
                               prefix_hits *hits, sealm_error *err) {
    const unsigned char *t = (const unsigned char *)text;
    /* the classes of the current and the next chunk, swapped, not copied; past the text's
     * last chunk the next one is NUL bytes, in no class, read from a constant instead of
     * cleared on every call */
    static const pii_chunk_classes no_chunk;
    pii_chunk_classes chunks[2], *cur = &chunks[0];
    const pii_chunk_classes *next = &no_chunk;
    classify_chunk(d, t, len, 0, cur);
    uint64_t word_carry = 0, underscore_carry = 0;   /* bit 0: the byte before the chunk */
    uint64_t seen[PII_N_PRESENT] = {0};   /* OR of each byte's masks */
    uint64_t digits = 0;
    sealm_status st = SEALM_OK;
    m->special_kept = len <= 64 * (size_t)SPECIAL_CHUNKS;
    uint64_t *lower = m->lower;
    if (!m->special_kept) {
        lower = m->lower_heap = malloc((len + 63) / 64 * sizeof *lower);
        if (!lower) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory scanning for PII");
    }
    for (size_t base = 0; base < len && st == SEALM_OK; base += 64) {
        size_t left = len - base;
        pii_chunk_classes *spare = cur == &chunks[0] ? &chunks[1] : &chunks[0];
        next = &no_chunk;
        if (left > 64) {
            classify_chunk(d, t, len, base + 64, spare);
            next = spare;
        }
        uint64_t word = cur->digit | cur->upper | cur->lower | cur->underscore;
        uint64_t after_word = word << 1 | word_carry;
        uint64_t after_underscore = cur->underscore << 1 | underscore_carry;
        word_carry = word >> 63;
        underscore_carry = cur->underscore >> 63;
        uint64_t letter = cur->upper | cur->lower, next_letter = next->upper | next->lower;
        uint64_t letter_1 = letter >> 1 | next_letter << 63;
        uint64_t digit_2 = cur->digit >> 2 | next->digit << 62, digit_3 = cur->digit >> 3 | next->digit << 61;
        uint64_t space_2 = cur->space >> 2 | next->space << 62;
        uint64_t numbers = (cur->digit | (cur->plus_paren & low_bits(left > 1 ? left - 1 : 0))) & ~after_word;
        uint64_t codes = letter & letter_1 & (digit_2 | (space_2 & digit_3)) & low_bits(left > 3 ? left - 3 : 0) &
                         ~after_word;
        uint64_t capitals = cur->upper & (~after_word | after_underscore);
        if (numbers) st = push_bits(&m->starts[0], base, numbers, err);
        if (codes && st == SEALM_OK) st = push_bits(&m->starts[1], base, codes, err);
        if (capitals && st == SEALM_OK) st = push_bits(&m->starts[2], base, capitals, err);
        if (d->n_prefixes && st == SEALM_OK) {
            /* a pair after a word byte can only begin a prefix allowed inside words, whose
             * bytes are the classifier's third and fourth sets */
            uint64_t pairs =
                d->prefix_any_byte
                    ? ~0ull
                    : (cur->prefix_first & (cur->prefix_second >> 1 | next->prefix_second << 63) & ~after_word) |
                          (cur->prefix_first_mid & (cur->prefix_second_mid >> 1 | next->prefix_second_mid << 63) &
                           after_word);
            for (pairs &= low_bits(left > 1 ? left - 1 : 0); pairs && st == SEALM_OK; pairs &= pairs - 1)
                st = prefixes_at(d, t, len, base + (size_t)__builtin_ctzll(pairs),
                                 after_word >> __builtin_ctzll(pairs) & 1, hits, err);
        }
        for (int j = 0; j < PII_N_PRESENT; j++) seen[j] |= cur->special[j];
        if (m->special_kept) {
            for (int j = 0; j < PII_N_PRESENT; j++) m->special[j][base / 64] = cur->special[j];
            m->digit_mask[base / 64] = cur->digit;
            m->word_mask[base / 64] = word;
        }
        lower[base / 64] = cur->lower;
        digits |= cur->digit;
        cur = spare;   /* the next chunk's classes, when there is one */
    }
    unsigned present = 0;
    for (int j = 0; j < PII_N_PRESENT; j++) present |= (unsigned)(seen[j] != 0) << j;
    m->digits = digits != 0;
    m->special_present = present;
    /* the byte-occurrence cache learns these bytes only for the texts whose anchored rules
     * read it (next_anchor, texts longer than SPECIAL_CHUNKS chunks); any_present answers
     * from special_present, and a byte left unasked is looked up, with the same answer */
    if (!m->special_kept)
        for (int i = 0; i < PII_N_PRESENT; i++) m->present[(unsigned char)PII_PRESENT_BYTES[i]] = (present >> i) & 1;
    return st;
}

/* One anchored attempt of rule cr at offset p; a match taken moves *at to its end (later
 * starts inside it are skipped by the callers). */
static sealm_status try_anchored(const sealm_guard_pii *d, const compiled_rule *cr, const char *text, size_t len,
                                 size_t p, pcre2_match_data *md, sealm_guard_findings *out, size_t *at,
                                 sealm_error *err) {
    int rc = match_at(cr, text, len, p, 0, md);
    if (rc < 0) return SEALM_OK;
    bool taken;
    sealm_status st = take_match(d, cr->rule, text, len, md, rc, out, &taken, err);
    if (st == SEALM_OK && taken) *at = pcre2_get_ovector_pointer(md)[1];
    return st;
}

/* START_PREFIX: one anchored attempt at each offset where one of the rule's prefixes occurs. */
static sealm_status run_rule_at_prefixes(const sealm_guard_pii *d, size_t rule, const char *text, size_t len,
                                         const prefix_hits *h, pcre2_match_data *md, sealm_guard_findings *out,
                                         sealm_error *err) {
    const compiled_rule *cr = &d->rules[rule];
    size_t at = 0;
    for (size_t i = 0; i < h->n; i++) {
        size_t p = h->items[i].at;
        if (h->items[i].rule != rule || p < at || (cr->rule->window_ok && !cr->rule->window_ok(text, len, p))) continue;
        sealm_status st = try_anchored(d, cr, text, len, p, md, out, &at, err);
        if (st != SEALM_OK) return st;
    }
    return SEALM_OK;
}

/* The anchored form of run_rule: one attempt at each possible start before offset before
 * that passes the rule's shape test. A start inside a match already taken is skipped.
 * numbers: for a capital rule with pii_rule.no_number_ok, the number starts; a capital whose
 * next capital start comes before the next number start has no number right after its word,
 * and is tried only where no_number_ok holds. */
static sealm_status run_rule_at_starts(const sealm_guard_pii *d, const compiled_rule *cr, const char *text,
                                       size_t len, const start_list *starts, size_t before, const uint16_t *shapes,
                                       const start_list *numbers, pcre2_match_data *md, sealm_guard_findings *out,
                                       sealm_error *err) {
    const pii_rule *r = cr->rule;
    size_t at = 0;
    if (shapes) {
        /* the starts whose shape bit is set, 64 at a time as a mask: the loop visits only
         * those, without a branch per start */
        for (size_t base = 0; base < starts->n; base += 64) {
            size_t n = starts->n - base < 64 ? starts->n - base : 64;
            uint64_t todo = 0;
            for (size_t i = 0; i < n; i++) todo |= (uint64_t)(shapes[base + i] >> cr->shape_bit & 1) << i;
            for (; todo; todo &= todo - 1) {
                size_t p = starts->at[base + (size_t)__builtin_ctzll(todo)];
                if (p < at) continue;
                sealm_status st = try_anchored(d, cr, text, len, p, md, out, &at, err);
                if (st != SEALM_OK) return st;
            }
        }
        return SEALM_OK;
    }
    if (numbers) {
        /* every start here lies before the last number start (before), so a next number
         * start exists; j follows it as p grows */
        size_t j = 0;
        for (size_t i = 0; i < starts->n && starts->at[i] < before; i++) {
            size_t p = starts->at[i];
            while (numbers->at[j] <= p) j++;
            bool number_next = i + 1 == starts->n || starts->at[i + 1] > numbers->at[j];
            if (p < at || (!number_next && !r->no_number_ok(text, len, p)) || !r->window_ok(text, len, p)) continue;
            sealm_status st = try_anchored(d, cr, text, len, p, md, out, &at, err);
            if (st != SEALM_OK) return st;
        }
        return SEALM_OK;
    }
    for (size_t i = 0; i < starts->n && starts->at[i] < before; i++) {
        size_t p = starts->at[i];
        if (p < at || (r->window_ok && !r->window_ok(text, len, p))) continue;
        sealm_status st = try_anchored(d, cr, text, len, p, md, out, &at, err);
        if (st != SEALM_OK) return st;
    }
    return SEALM_OK;
}

/* Where a rule's anchor bytes are, per 64-byte chunk, from the first pass's masks (texts of
 * up to SPECIAL_CHUNKS chunks): the masks of the rule's bytes (bits sel of PII_PRESENT_BYTES)
 * ORed once per rule and scan, not once per anchor. */
typedef struct anchor_masks {
    uint64_t at[SPECIAL_CHUNKS];
    size_t chunks;
} anchor_masks;

/* The bits of s, a byte's mask in one chunk, whose byte repeats k bytes before or after, for
 * some k in [lo, hi] (1 <= lo <= hi < 64); prev and next: its masks in the chunks before and
 * after, which supply the bits that shift in. */
static uint64_t repeated(uint64_t s, uint64_t prev, uint64_t next, unsigned lo, unsigned hi) {
    uint64_t near = 0;
    for (unsigned k = lo; k <= hi; k++) near |= s >> k | next << (64 - k) | s << k | prev >> (64 - k);
    return s & near;
}

/* The anchors of a masked rule that can hold a match, as bits k of compiled_rule.anchor_j:
 * those whose byte occurs in the text, and occurs twice where the window test wants it
 * repeated (a repeat needs a second occurrence). 0 settles the rule before any mask is built:
 * most texts have one full stop and no other separator, so mac.ieee802's anchors are all
 * settled here. */
static PII_ALWAYS_INLINE unsigned usable_anchors(const text_map *m, const compiled_rule *cr, size_t len) {
    size_t chunks = (len + 63) / 64;
    unsigned use = 0;
    for (unsigned k = 0; k < cr->n_anchor_j; k++) {
        unsigned j = cr->anchor_j[k];
        if (!(m->special_present >> j & 1)) continue;
        if (cr->repeat_lo[k]) {
            const uint64_t *sp = m->special[j];
            uint64_t seen = 0;
            bool twice = false;
            for (size_t c = 0; c < chunks && !twice; c++) {
                uint64_t s = sp[c];
                twice = (s & (s - 1)) != 0 || (seen && s);
                seen |= s;
            }
            if (!twice) continue;
        }
        use |= 1u << k;
    }
    return use;
}

/* Fills a for rule cr from its usable anchors (usable_anchors, not 0); false when the rule
 * has no anchor to look at (none where its window test's repeat condition,
 * compiled_rule.repeat_lo, can hold). */
static bool anchor_masks_init(anchor_masks *a, const text_map *m, const compiled_rule *cr, unsigned use,
                              size_t len) {
    uint64_t any = 0;
    size_t chunks = a->chunks = (len + 63) / 64;
    for (size_t c = 0; c < chunks; c++) {
        uint64_t w = 0;
        for (unsigned u = use; u; u &= u - 1) {
            unsigned k = (unsigned)__builtin_ctz(u);
            const uint64_t *sp = m->special[cr->anchor_j[k]];
            uint64_t s = sp[c];   /* most chunks hold none of a rule's bytes */
            if (s && cr->repeat_lo[k])
                s = repeated(s, c ? sp[c - 1] : 0, c + 1 < chunks ? sp[c + 1] : 0, cr->repeat_lo[k], cr->repeat_hi[k]);
            w |= s;
        }
        a->at[c] = w;
        any |= w;
    }
    return any != 0;
}

/* The next anchor at or after from; len when none. */
static size_t next_masked_anchor(const anchor_masks *a, size_t len, size_t from) {
    size_t c = from / 64;
    if (c >= a->chunks) return len;
    uint64_t w = a->at[c] & (~0ull << (from % 64));
    while (!w && ++c < a->chunks) w = a->at[c];
    return w ? c * 64 + (size_t)__builtin_ctzll(w) : len;
}

/* Runs one rule over the text; each candidate goes through the rule's validator. A rejected
 * candidate is retried one byte further on, so a failed long match cannot hide a valid
 * shorter one inside it. m: the first pass's map, to search only around the rule's anchor
 * bytes (NULL for the reference scan, which searches the whole text). use: the usable anchors of a
 * masked rule (usable_anchors), ignored otherwise. */
static sealm_status run_rule(const sealm_guard_pii *d, const compiled_rule *cr, const char *text, size_t len,
                             text_map *m, unsigned use, pcre2_match_data *md, sealm_guard_findings *out,
                             sealm_error *err) {
    const pii_rule *r = cr->rule;
    bool anchored = m && r->anchor;
    bool masked = anchored && cr->anchor_masked && m->special_kept;   /* anchors from the first pass's masks */
    anchor_masks masks;
    masks.chunks = 0;
    if (masked && !anchor_masks_init(&masks, m, cr, use, len)) return SEALM_OK;   /* no anchor: no match */
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    anchor_cursor cursor;
    anchor_init(&cursor, anchored && !masked ? r->anchor : "", m ? m->present : NULL);
    size_t at = 0;      /* matches start at or after this */
    size_t scan = 0;    /* anchored rules: look for the next anchor from here */
    while (at <= len) {
        size_t limit = len, from = at, p = len;
        if (anchored) {
            size_t next = scan > at ? scan : at;
            p = masked ? next_masked_anchor(&masks, len, next) : next_anchor(&cursor, text, len, next);
            if (p == len) break;
            if (p > (size_t)r->back && p - (size_t)r->back > at) from = p - (size_t)r->back;
            limit = len - p > (size_t)r->fwd ? p + (size_t)r->fwd + 1 : len;
            scan = p + 1;
            if (r->window_ok && !r->window_ok(text, len, p)) continue;
            if (cr->anchor_start) {
                /* one anchored attempt where a match holding this anchor must begin, over the
                 * whole text (no window to grow) */
                size_t s = cr->anchor_start(text, len, p, (size_t)r->back);
                if (s == PII_NO_START || s < at || p - s > (size_t)r->back) continue;
                from = s;
                limit = len;
            }
        }
        int rc = search(cr, text, len, limit, from, p, md);
        if (rc < 0) {
            /* an anchored window without a match moves on to the next anchor; otherwise the
             * text holds no more matches (or hit PCRE2's limits on hostile input) */
            if (anchored && rc == PCRE2_ERROR_NOMATCH) continue;
            break;
        }
        bool taken;
        sealm_status st = take_match(d, r, text, len, md, rc, out, &taken, err);
        if (st != SEALM_OK) return st;
        at = taken ? (ov[1] > ov[0] ? ov[1] : ov[0] + 1) : ov[0] + 1;
        scan = at;   /* anchors from the new start on may still begin a match */
    }
    return SEALM_OK;
}

/* Rule i of the fast scan, with the prefilters of the first pass: nothing to do for a rule
 * tried only at listed starts or prefixes when there are none (most short requests have no
 * prefix hit and no letter code); the others ask whether their required bytes occur. */
static PII_ALWAYS_INLINE sealm_status scan_rule(const sealm_guard_pii *d, size_t i, const char *text, size_t len,
                                                text_map *m, const prefix_hits *hits, pcre2_match_data *md,
                                                sealm_guard_findings *found, sealm_error *err) {
    const compiled_rule *cr = &d->rules[i];
    int start = cr->start;
    if (start == START_PREFIX) return hits->n ? run_rule_at_prefixes(d, i, text, len, hits, md, found, err) : SEALM_OK;
    if (start != START_ANYWHERE) {
        const start_list *l = starts_of(m, start);
        if (!l->n || (start == START_CAPITAL && cr->rule->need && !any_present(m, text, len, cr))) return SEALM_OK;
        /* a capital rule needing a digit needs a number after its start (pii_rule.start):
         * capitals from the last number start on are not tried */
        size_t before = len;
        if (start == START_CAPITAL && cr->need_digits) {
            const start_list *numbers = starts_of(m, START_NUMBER);
            before = numbers->n ? numbers->at[numbers->n - 1] : 0;
        }
        const uint16_t *shapes = NULL;
        if (start == START_NUMBER && cr->shape_bit >= 0) {
            sealm_status st = number_shapes(m, text, len, err);
            if (st != SEALM_OK) return st;
            shapes = m->shapes;
        }
        const start_list *numbers = NULL;
        if (start == START_CAPITAL && cr->need_digits && cr->rule->no_number_ok && cr->rule->window_ok)
            numbers = starts_of(m, START_NUMBER);
        return run_rule_at_starts(d, cr, text, len, l, before, shapes, numbers, md, found, err);
    }
    if (cr->rule->need && !any_present(m, text, len, cr)) return SEALM_OK;
    unsigned use = ~0u;
    if (cr->anchor_masked && m->special_kept && !(use = usable_anchors(m, cr, len))) return SEALM_OK;
    return run_rule(d, cr, text, len, m, use, md, found, err);
}

/* Every rule and the person pass, with the prefilters of the first pass. */
static sealm_status scan_fast(const sealm_guard_pii *d, const char *text, size_t len, pcre2_match_data *md,
                              sealm_guard_findings *found, sealm_error *err) {
    text_map map, *m = &map;   /* about 11 KiB: on the stack, so a short request allocates nothing */
    memset(m->present, -1, sizeof m->present);
    m->digits = false;
    m->shapes = NULL;
    m->lower_heap = NULL;
    for (int i = 0; i < START_CLASSES; i++) start_list_init(&m->starts[i]);
    prefix_hits hits;   /* set field by field: an initializer would clear the inline buffer */
    hits.items = hits.inline_items;
    hits.n = 0;
    hits.rules = 0;
    hits.cap = sizeof hits.inline_items / sizeof hits.inline_items[0];
    sealm_status st = first_pass(d, text, len, m, &hits, err);
    if (st == SEALM_OK && d->class_masks) {
        /* only the rules whose starts occur (and every START_ANYWHERE rule), still in rule order */
        uint64_t todo = d->anywhere_rules[m->special_present] | (d->class_rules[START_PREFIX] & hits.rules);
        for (int c = START_NUMBER; c <= START_CAPITAL; c++)
            if (starts_of(m, c)->n) todo |= d->class_rules[c];
        if (!m->digits) todo &= ~d->digit_need_rules;
        if (m->starts[0].n && d->number_shape_rules) {
            /* the number rules whose shape test no number passes have nothing to try */
            st = number_shapes(m, text, len, err);
            unsigned any = 0;
            for (size_t i = 0; st == SEALM_OK && i < m->starts[0].n; i++) any |= m->shapes[i];
            uint64_t passing = 0;
            for (unsigned b = any; b; b &= b - 1) passing |= d->rules_of_shape[__builtin_ctz(b)];
            todo &= ~d->number_shape_rules | passing;
        }
        for (; todo && st == SEALM_OK; todo &= todo - 1)
            st = scan_rule(d, (size_t)__builtin_ctzll(todo), text, len, m, &hits, md, found, err);
    } else {
        for (size_t i = 0; i < d->n_rules && st == SEALM_OK; i++)
            st = scan_rule(d, i, text, len, m, &hits, md, found, err);
    }
    if (hits.items != hits.inline_items) free(hits.items);
    if (st == SEALM_OK && d->persons) {
        const start_list *caps = starts_of(m, START_CAPITAL);
        st = sealm_guard_find_persons(text, len, caps->at, caps->n, m->special_kept ? m->lower : m->lower_heap,
                                      d->cfg.min_score, found, err);
    }
    /* a list that grew has doubled its room, and the shapes are allocated only for more number
     * starts than fit inline: one test settles that most scans have nothing to free */
    if ((m->starts[0].cap | m->starts[1].cap | m->starts[2].cap) != START_INLINE) {
        for (int i = 0; i < START_CLASSES; i++) start_list_free(&m->starts[i]);
        if (m->shapes != m->shapes_inline) free(m->shapes);
    }
    if (m->lower_heap) free(m->lower_heap);   /* texts of more than SPECIAL_CHUNKS chunks */
    return st;
}

/* The reference: every pattern over the whole text, the person pass at every byte. */
static sealm_status scan_reference(const sealm_guard_pii *d, const char *text, size_t len, pcre2_match_data *md,
                                   sealm_guard_findings *found, sealm_error *err) {
    sealm_status st = SEALM_OK;
    for (size_t i = 0; i < d->n_rules && st == SEALM_OK; i++)
        st = run_rule(d, &d->rules[i], text, len, NULL, ~0u, md, found, err);
    if (st == SEALM_OK && d->persons) st = sealm_guard_find_persons(text, len, NULL, 0, NULL, d->cfg.min_score, found, err);
    return st;
}

sealm_status sealm_guard_pii_scan(const sealm_guard_pii *d, const char *text, size_t len,
                                  sealm_guard_findings *out, sealm_error *err) {
    if (!d || (!text && len)) return sealm_error_set(err, SEALM_E_INVALID, "guard: no detector or no text");
    if (len == 0) return SEALM_OK;
    bool owned;
    pcre2_match_data *md = thread_match_data(&owned);
    if (!md) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory scanning for PII");
    /* the candidates go straight after the caller's findings and are resolved in place */
    size_t n0 = out->n;
    sealm_status st = d->reference ? scan_reference(d, text, len, md, out, err) : scan_fast(d, text, len, md, out, err);
    if (owned) pcre2_match_data_free(md);
    if (st != SEALM_OK) {
        out->n = n0;
        return st;
    }
    if (out->n - n0 < 2) return SEALM_OK;   /* nothing to resolve (and out->items may be NULL) */
    sealm_guard_findings mine = {out->items + n0, out->n - n0, out->cap - n0};
    sealm_guard_findings_resolve(&mine);
    out->n = n0 + mine.n;
    return SEALM_OK;
}
