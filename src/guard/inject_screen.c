/* Prompt-injection screening: normalize, run the rule table, decode hidden payloads and
 * screen them too, and combine every cue into one score (sealm/guard.h). */
#include "inject_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct inject_compiled {
    pcre2_code *code;       /* searches the whole text */
    pcre2_code *anchored;   /* the same, compiled PCRE2_ANCHORED (JIT cannot anchor at match time) */
    bool jit, jit_anchored;
} inject_compiled;

/* The word gate: every rule needs one of a few word beginnings to be present, so one pass
 * over the words decides which patterns can match at all, and where; benign text usually runs
 * none or a few of them. One-byte stems sit in per-byte masks. Longer stems are bucketed by a
 * hash of their first three bytes when those are plain bytes (most stems), else of their first
 * two (two-byte stems, and stems whose second or third byte is the whitespace wildcard '_'):
 * bucketing by two bytes alone put 18 stems under "re" (replace, respond, repeat, ...), and
 * every English word beginning with "re" compared itself with all of them (the bucket scans
 * held about a sixth of the screen's perf samples; keying by three bytes took 6% of its
 * instructions off, docs/guard.md). The rot13 variants of the stems of the rot13-screened rules sit in the same
 * tables, so the same pass tells whether the rot13 of the text is worth building at all. */
enum { GATE_BUCKETS = 1024, GATE3_BUCKETS = 2048 };
static inline unsigned pair_bucket(unsigned char c0, unsigned char c1) {
    return ((c0 * 31u) ^ (c1 * 131u)) & (GATE_BUCKETS - 1);
}
/* Buckets GATE_BUCKETS .. GATE_BUCKETS + GATE3_BUCKETS - 1 (the top 11 bits of a
 * multiplicative hash of the three bytes). */
static inline unsigned triple_bucket(unsigned char c0, unsigned char c1, unsigned char c2) {
    const uint32_t key = (uint32_t)c0 | (uint32_t)c1 << 8 | (uint32_t)c2 << 16;
    return GATE_BUCKETS + ((key * 0x9E3779B1u) >> 21);
}

typedef struct gate_stem {
    char s[24];
    size_t n;
    uint64_t rules;     /* bit per rule needing this stem */
    uint64_t rules13;   /* bit per rot13-screened rule needing the rot13 of this stem */
    uint64_t also, also13;   /* the same for the stems after " | " (needed anywhere) */
} gate_stem;

struct sealm_guard_injector {
    sealm_guard_inject_config cfg;
    inject_compiled *rules;   /* [SEALM_GUARD_INJECT_N_RULES] */
    uint64_t always;          /* rules without a gate */
    uint64_t anchored;        /* rules tried anchored at their stems (from_stem) */
    uint64_t rot13;           /* rules also screened on the rot13 of the text */
    uint64_t need_also;       /* rules with " | " stems */
    uint64_t as_typed;        /* rules that see typed escape sequences as typed */
    bool can_start[256];      /* some stem (of any kind) begins with this byte */
    /* one-byte stems ("i"): rules, rot13 rules, and the same for " | " stems, by that byte */
    uint64_t one[256], one13[256], one_also[256], one13_also[256];
    /* longer stems, sorted by bucket (pair_bucket or triple_bucket, see stem_bucket): bucket b
     * is stems[start[b], start[b + 1]) */
    gate_stem *stems;
    size_t n_stems;
    uint16_t bucket_start[GATE_BUCKETS + GATE3_BUCKETS + 1];
    /* bytes that send a message down normalization's slow path: non-ASCII, and the first
     * byte of every special-token string */
    bool slow_byte[256];
};

/* Whether stem g is found by its first three bytes: it has three, and neither the second nor
 * the third is the whitespace wildcard (which matches a run of any length). */
static inline bool by_three(const gate_stem *g) { return g->n >= 3 && g->s[1] != '_' && g->s[2] != '_'; }

static unsigned stem_bucket(const gate_stem *g) {
    const unsigned char *b = (const unsigned char *)g->s;
    return by_three(g) ? triple_bucket(b[0], b[1], b[2]) : pair_bucket(b[0], b[1]);
}

static int stem_cmp(const void *a, const void *b) {
    const gate_stem *x = a, *y = b;
    int c = (int)stem_bucket(x) - (int)stem_bucket(y);
    return c ? c : strcmp(x->s, y->s);
}

/* Adds stem p[0, n) for rule i (to rules13 when rot13; to the also masks when also), merging
 * equal stems. */
static bool add_stem(sealm_guard_injector *inj, size_t *cap, const char *p, size_t n, size_t i, bool rot13,
                     bool also) {
    char buf[24];
    if (n > sizeof buf - 1) n = sizeof buf - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
    if (rot13) sealm_guard_rot13(buf, n, buf);
    inj->can_start[(unsigned char)buf[0]] = true;
    if (n == 1) {
        unsigned char c = (unsigned char)buf[0];
        uint64_t *m = also ? (rot13 ? &inj->one13_also[c] : &inj->one_also[c]) : (rot13 ? &inj->one13[c] : &inj->one[c]);
        *m |= 1ull << i;
        return true;
    }
    size_t k = 0;
    while (k < inj->n_stems && !(inj->stems[k].n == n && memcmp(inj->stems[k].s, buf, n) == 0)) k++;
    if (k == inj->n_stems) {
        if (inj->n_stems == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            gate_stem *g = realloc(inj->stems, *cap * sizeof *g);
            if (!g) return false;
            inj->stems = g;
        }
        gate_stem *g = &inj->stems[inj->n_stems++];
        memset(g, 0, sizeof *g);
        memcpy(g->s, buf, n + 1);
        g->n = n;
    }
    gate_stem *g = &inj->stems[k];
    uint64_t *m = also ? (rot13 ? &g->also13 : &g->also) : (rot13 ? &g->rules13 : &g->rules);
    *m |= 1ull << i;
    return true;
}

/* Splits every rule's need into stems (and their rot13 for rot13-screened rules). */
static bool build_gate(sealm_guard_injector *inj) {
    size_t cap = 0;
    for (size_t i = 0; i < SEALM_GUARD_INJECT_N_RULES; i++) {
        const inject_rule *r = &SEALM_GUARD_INJECT_RULES[i];
        if (!r->need) {
            inj->always |= 1ull << i;
            continue;
        }
        bool also = false;
        for (const char *p = r->need; *p;) {
            while (*p == ' ') p++;
            size_t n = strcspn(p, " ");
            if (!n) break;
            if (n == 1 && *p == '|') {
                also = true;
                inj->need_also |= 1ull << i;
            } else if (!add_stem(inj, &cap, p, n, i, false, also) ||
                       (r->rot13 && !add_stem(inj, &cap, p, n, i, true, also))) {
                return false;
            }
            p += n;
        }
    }
    if (inj->n_stems > UINT16_MAX) return false;
    qsort(inj->stems, inj->n_stems, sizeof *inj->stems, stem_cmp);
    size_t k = 0;
    for (unsigned b = 0; b <= GATE_BUCKETS + GATE3_BUCKETS; b++) {
        while (k < inj->n_stems && stem_bucket(&inj->stems[k]) < b) k++;
        inj->bucket_start[b] = (uint16_t)k;
    }
    return true;
}

static inline unsigned char lower(unsigned char c) { return guard_is_upper(c) ? (unsigned char)(c + 32) : c; }

/* A byte as the gate compares it with a stem: lower case, whitespace as '_'. */
static inline unsigned char gate_byte(unsigned char c) { return guard_is_space(c) ? '_' : lower(c); }

/* Does stem g occur at text[i]? '_' in a stem matches a run of whitespace. The caller has
 * compared the bytes the stem's bucket was chosen by already (as gate bytes: the first three
 * for a by_three stem, else the first two), so the comparison starts after them — after the
 * first byte only when the second is the wildcard, which may stand for several bytes. */
static inline bool stem_at(const unsigned char *t, size_t len, size_t i, const gate_stem *g) {
    size_t j = by_three(g) ? 3 : g->s[1] != '_' ? 2 : 0;
    i += j;
    for (; j < g->n; j++) {
        if (i >= len) return false;
        if (g->s[j] == '_') {
            if (!guard_is_space(t[i])) return false;
            while (i < len && guard_is_space(t[i])) i++;
            continue;
        }
        if (lower(t[i]) != (unsigned char)g->s[j]) return false;
        i++;
    }
    return true;
}

/* What the stems found at one word start add up to. */
typedef struct gate_found {
    uint64_t hit, hit13, also, also13;
} gate_found;

/* Adds the stems of bucket b that occur at text[i] to f; key holds the bytes the bucket was
 * chosen by (n_key of them: 2 or 3), which a stem must begin with to be compared further. */
static inline void scan_bucket(const sealm_guard_injector *inj, unsigned b, const unsigned char *key, size_t n_key,
                               const unsigned char *t, size_t len, size_t i, gate_found *f) {
    for (size_t k = inj->bucket_start[b]; k < inj->bucket_start[b + 1]; k++) {
        const gate_stem *g = &inj->stems[k];
        if (memcmp(g->s, key, n_key) != 0 || !stem_at(t, len, i, g)) continue;
        f->hit |= g->rules;
        f->hit13 |= g->rules13;
        f->also |= g->also;
        f->also13 |= g->also13;
    }
}

static const bool ALNUM[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1,
    ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
    ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1,
    ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
};

/* Stem hits waiting for their anchored match: flushed in text order whenever the buffer
 * fills, so memory stays fixed (on the stack) whatever the text's length. */
enum { GATE_BUF = 256 };
typedef struct gate_hit {
    uint32_t pos;
    uint64_t rules;
} gate_hit;

sealm_guard_inject_config sealm_guard_inject_config_default(void) {
    sealm_guard_inject_config c = {
        .detect_threshold = SEALM_GUARD_INJECT_DETECT,
        .block_threshold = SEALM_GUARD_INJECT_BLOCK,
        .decode_payloads = true,
    };
    return c;
}

void sealm_guard_injector_free(sealm_guard_injector *inj) {
    if (!inj) return;
    if (inj->rules)
        for (size_t i = 0; i < SEALM_GUARD_INJECT_N_RULES; i++) {
            pcre2_code_free(inj->rules[i].code);
            pcre2_code_free(inj->rules[i].anchored);
        }
    free(inj->rules);
    free(inj->stems);
    free(inj);
}

sealm_status sealm_guard_injector_new(const sealm_guard_inject_config *cfg, sealm_guard_injector **out,
                                      sealm_error *err) {
    if (!out) return sealm_error_set(err, SEALM_E_INVALID, "guard: injector needs an output pointer");
    *out = NULL;
    sealm_guard_inject_config c = cfg ? *cfg : sealm_guard_inject_config_default();
    if (!(c.detect_threshold >= 0.0f && c.detect_threshold <= 1.0f && c.block_threshold >= 0.0f &&
          c.block_threshold <= 1.0f && c.block_threshold >= c.detect_threshold))
        return sealm_error_set(err, SEALM_E_INVALID,
                               "guard: injection thresholds must lie in [0, 1] with block >= detect "
                               "(got detect %g, block %g)",
                               (double)c.detect_threshold, (double)c.block_threshold);
    sealm_guard_injector *inj = calloc(1, sizeof *inj);
    if (inj) inj->rules = calloc(SEALM_GUARD_INJECT_N_RULES, sizeof *inj->rules);
    if (!inj || !inj->rules) {
        free(inj);
        return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory creating the injection screen");
    }
    inj->cfg = c;
    if (SEALM_GUARD_INJECT_N_RULES > INJECT_MAX_RULES || !build_gate(inj)) {
        sealm_guard_injector_free(inj);
        return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory creating the injection screen");
    }
    for (size_t i = 0; i < SEALM_GUARD_INJECT_N_RULES; i++) {
        const inject_rule *r = &SEALM_GUARD_INJECT_RULES[i];
        int code;
        PCRE2_SIZE off;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)r->pattern, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS | PCRE2_UTF,
                                       &code, &off, NULL);
        if (!re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(code, msg, sizeof msg);
            sealm_guard_injector_free(inj);
            return sealm_error_set(err, SEALM_E_UNSUPPORTED, "guard: injection rule %s does not compile at offset %zu: %s",
                                   r->name, (size_t)off, (const char *)msg);
        }
        inj->rules[i].code = re;
        /* JIT is only a speed-up; the interpreter finds the same matches. */
        inj->rules[i].jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
        if (r->from_stem && r->need) {
            pcre2_code *an = pcre2_compile((PCRE2_SPTR)r->pattern, PCRE2_ZERO_TERMINATED,
                                           PCRE2_CASELESS | PCRE2_UTF | PCRE2_ANCHORED, &code, &off, NULL);
            if (!an) {
                sealm_guard_injector_free(inj);
                return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory compiling injection rule %s", r->name);
            }
            inj->rules[i].anchored = an;
            inj->rules[i].jit_anchored = pcre2_jit_compile(an, PCRE2_JIT_COMPLETE) == 0;
            inj->anchored |= 1ull << i;
        }
        if (r->rot13) inj->rot13 |= 1ull << i;
        for (const char *const *a = SEALM_GUARD_INJECT_AS_TYPED; *a; a++)
            if (!strcmp(*a, r->name)) inj->as_typed |= 1ull << i;
    }
    /* the fast path's test: a message without these bytes is its own normalization */
    size_t n_sp = c.n_specials;
    const char *const *sp = c.specials ? c.specials : sealm_guard_default_specials(&n_sp);
    for (int b = 0x80; b < 256; b++) inj->slow_byte[b] = true;
    for (size_t k = 0; k < n_sp; k++)
        if (sp[k] && sp[k][0]) inj->slow_byte[(unsigned char)sp[k][0]] = true;
    *out = inj;
    return SEALM_OK;
}

sealm_guard_action sealm_guard_injection_verdict(const sealm_guard_injector *inj, float score) {
    float d = inj ? inj->cfg.detect_threshold : SEALM_GUARD_INJECT_DETECT;
    float b = inj ? inj->cfg.block_threshold : SEALM_GUARD_INJECT_BLOCK;
    if (score >= b) return SEALM_GUARD_BLOCK;
    if (score >= d) return SEALM_GUARD_DETECT;
    return SEALM_GUARD_OFF;
}

/* The cues found in one message; each cue counts once however often it matches. */
typedef struct inject_hits {
    float weight[64];
    const char *name[64];
    size_t start[64], end[64];
    size_t n;
} inject_hits;

static void add_hit(inject_hits *h, const char *name, float w, size_t start, size_t end) {
    for (size_t i = 0; i < h->n; i++)
        if (h->name[i] == name) {
            if (w > h->weight[i]) h->weight[i] = w;
            return;
        }
    if (h->n == sizeof h->weight / sizeof h->weight[0]) return;
    h->name[h->n] = name;
    h->weight[h->n] = w;
    h->start[h->n] = start;
    h->end[h->n] = end;
    h->n++;
}

static float combine(const inject_hits *h) {
    double keep = 1.0;
    for (size_t i = 0; i < h->n; i++) keep *= 1.0 - (double)h->weight[i];
    return (float)(1.0 - keep);
}

/* One pass of the rule stage over one text. */
typedef struct rule_run {
    const sealm_guard_injector *inj;
    const char *text;
    size_t len;
    uint64_t allowed;   /* rules this pass may try (the rot13 pass: the rot13-screened ones) */
    uint64_t done;      /* rules that matched: each cue counts once, and is not tried again */
    uint64_t also_seen; /* rules whose " | " stems occurred (so far) */
    uint64_t deferred;  /* rules with hits flushed before their " | " stem was seen */
    size_t start[INJECT_MAX_RULES], end[INJECT_MAX_RULES];   /* first match of each rule in done */
    pcre2_match_data *md;   /* created at the first match attempt: many texts need none */
    gate_hit buf[GATE_BUF];
    size_t n_buf;
} rule_run;

static bool match_data(rule_run *rr) {
    if (!rr->md) rr->md = pcre2_match_data_create(1, NULL);
    return rr->md != NULL;
}

static void record(rule_run *rr, size_t i) {
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(rr->md);
    rr->done |= 1ull << i;
    rr->start[i] = ov[0];
    rr->end[i] = ov[1];
}

/* Tries the buffered stem hits, in text order, anchored where the stem begins.
 * PCRE2_ERROR_NOMATCH, or a match/depth limit on hostile input, counts as no match. Hits of
 * rules still waiting for their " | " stem stay in the buffer, in order; only when they alone
 * fill it are they dropped, and those rules searched whole at the end (rr->deferred). */
static bool flush(rule_run *rr) {
    uint64_t waiting = rr->inj->need_also & ~rr->also_seen;
    size_t keep = 0;
    for (size_t k = 0; k < rr->n_buf; k++) {
        for (uint64_t r = rr->buf[k].rules & rr->allowed & ~rr->done & ~waiting; r; r &= r - 1) {
            int i = __builtin_ctzll(r);
            const inject_compiled *c = &rr->inj->rules[i];
            if (!match_data(rr)) return false;
            int rc = c->jit_anchored ? pcre2_jit_match(c->anchored, (PCRE2_SPTR)rr->text, rr->len, rr->buf[k].pos,
                                                       PCRE2_NO_UTF_CHECK, rr->md, NULL)
                                     : pcre2_match(c->anchored, (PCRE2_SPTR)rr->text, rr->len, rr->buf[k].pos,
                                                   PCRE2_NO_UTF_CHECK, rr->md, NULL);
            if (rc >= 0) record(rr, (size_t)i);   /* 0: matched, groups beyond the ovector dropped */
        }
        uint64_t w = rr->buf[k].rules & waiting;
        if (w) rr->buf[keep++] = (gate_hit){rr->buf[k].pos, w};
    }
    rr->n_buf = keep;
    if (keep == GATE_BUF) {
        for (size_t k = 0; k < keep; k++) rr->deferred |= rr->buf[k].rules;
        rr->n_buf = 0;
    }
    return true;
}

/* What the first pass's gate saw for the rot13 pass: the rot13-screened rules whose rot13
 * stems occur, and where (anchored ones) — so the rot13 text needs no gate pass of its own. */
typedef struct rot13_gate {
    uint64_t can;      /* rules worth trying on the rot13 of the text */
    uint64_t search;   /* of which: searched over the whole text */
    uint64_t also_seen;   /* rot13-screened rules whose " | " stems occur in rot13 form */
    gate_hit buf[GATE_BUF];
    size_t n;
    bool overflow;     /* more hits than buf holds: the rot13 pass runs its own gate */
} rot13_gate;

/* The end of a pass: the buffered hits, the whole-text searches, and the matches added to h
 * in rule order. */
static sealm_status finish_run(rule_run *rr, uint64_t search, inject_hits *h, sealm_error *err) {
    /* also_seen is complete now. Rules whose hits an earlier flush had to drop, before their
     * rare word showed up, are searched over the whole text instead. */
    if (!flush(rr)) goto nomem;
    rr->n_buf = 0;   /* what is left waits for a stem that never came */
    search = (search | (rr->deferred & rr->also_seen)) & ~(rr->inj->need_also & ~rr->also_seen);
    for (uint64_t r = search & ~rr->done; r; r &= r - 1) {
        int i = __builtin_ctzll(r);
        const inject_compiled *c = &rr->inj->rules[i];
        if (!match_data(rr)) goto nomem;
        int rc = c->jit ? pcre2_jit_match(c->code, (PCRE2_SPTR)rr->text, rr->len, 0, PCRE2_NO_UTF_CHECK, rr->md, NULL)
                        : pcre2_match(c->code, (PCRE2_SPTR)rr->text, rr->len, 0, PCRE2_NO_UTF_CHECK, rr->md, NULL);
        if (rc >= 0) record(rr, (size_t)i);
    }
    pcre2_match_data_free(rr->md);
    rr->md = NULL;
    for (uint64_t r = rr->done; r; r &= r - 1) {
        int i = __builtin_ctzll(r);
        add_hit(h, SEALM_GUARD_INJECT_RULES[i].name, SEALM_GUARD_INJECT_RULES[i].weight, rr->start[i], rr->end[i]);
    }
    return SEALM_OK;
nomem:
    pcre2_match_data_free(rr->md);
    rr->md = NULL;
    return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory screening a message");
}

/* Runs the rules in allowed over valid UTF-8 text[0, len) and adds what matched to h, in rule
 * order. r13 (if not NULL) receives what the gate saw for the rot13 pass; m (if not NULL)
 * is fed every byte for the statistical stage on the way. */
static sealm_status run_rules(const sealm_guard_injector *inj, const char *text, size_t len, uint64_t allowed,
                              inject_hits *h, rot13_gate *r13, inject_model_acc *model, sealm_error *err) {
    /* a local copy, so that the compiler keeps the accumulator in registers */
    inject_model_acc local, *m = NULL;
    if (model) {
        local = *model;
        m = &local;
    }
    if (len > UINT32_MAX) len = UINT32_MAX;   /* positions are 32-bit; 4 GiB messages are cut */
    rule_run rr = {.inj = inj, .text = text, .len = len, .allowed = allowed};
    uint64_t search = inj->always & allowed;   /* rules searched over the whole text */
    if (r13) {
        r13->can = r13->search = inj->always & inj->rot13;
        r13->also_seen = 0;
        r13->n = 0;
        r13->overflow = false;
    }
    const unsigned char *t = (const unsigned char *)text;
    /* Word starts: position 0 and every byte after a byte that is not an ASCII letter or digit.
     * Inside a word, skip to its end: the byte after the word's end is the next start. */
    for (size_t i = 0; i < len;) {
        unsigned char c = lower(t[i]);
        if (!inj->can_start[c]) goto next_word;
        const unsigned char key[3] = {c, i + 1 < len ? gate_byte(t[i + 1]) : 0, i + 2 < len ? gate_byte(t[i + 2]) : 0};
        gate_found f = {inj->one[c], inj->one13[c], inj->one_also[c], inj->one13_also[c]};
        if (key[1]) {
            scan_bucket(inj, pair_bucket(c, key[1]), key, 2, t, len, i, &f);
            /* a by_three stem's second and third bytes are plain, never the wildcard */
            if (key[2] && key[1] != '_' && key[2] != '_')
                scan_bucket(inj, triple_bucket(c, key[1], key[2]), key, 3, t, len, i, &f);
        }
        const uint64_t hit = f.hit, hit13 = f.hit13, also = f.also, also13 = f.also13;
        rr.also_seen |= also;
        if (r13) r13->also_seen |= also13;
        if (hit13 && r13) {
            r13->can |= hit13;
            r13->search |= hit13 & ~inj->anchored;
            if (hit13 & inj->anchored) {
                if (r13->n < GATE_BUF) r13->buf[r13->n++] = (gate_hit){(uint32_t)i, hit13 & inj->anchored};
                else r13->overflow = true;
            }
        }
        uint64_t r = hit & allowed & ~rr.done;
        if (r) {
            search |= r & ~inj->anchored;
            r &= inj->anchored;
            if (r) {
                if (rr.n_buf == GATE_BUF && !flush(&rr)) {
                    pcre2_match_data_free(rr.md);
                    return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory screening a message");
                }
                rr.buf[rr.n_buf++] = (gate_hit){(uint32_t)i, r};
            }
        }
    next_word:
        if (ALNUM[t[i]]) {
            do {
                if (m) inject_model_byte(m, t[i]);
                i++;
            } while (i < len && ALNUM[t[i]]);
        }
        if (m && i < len) {   /* a byte that is no ASCII letter or digit: part of a token if >= 0x80 */
            if (t[i] >= 0x80) inject_model_byte(m, t[i]);
            else inject_model_sep(m);
        }
        i++;
    }
    if (r13) r13->can &= ~(inj->need_also & ~r13->also_seen);
    if (model) *model = local;
    return finish_run(&rr, search, h, err);
}

/* The rot13 pass: the rot13-screened rules on the rot13 of text, tried where the first pass
 * saw their stems (rot13 keeps word boundaries and positions). */
static sealm_status run_rot13(const sealm_guard_injector *inj, const char *r13text, size_t len, const rot13_gate *g,
                              inject_hits *h, sealm_error *err) {
    if (!g || g->overflow) return run_rules(inj, r13text, len, g ? g->can : inj->rot13, h, NULL, NULL, err);
    if (len > UINT32_MAX) len = UINT32_MAX;
    rule_run rr = {.inj = inj, .text = r13text, .len = len, .allowed = g->can, .also_seen = ~0ull};
    memcpy(rr.buf, g->buf, g->n * sizeof g->buf[0]);
    rr.n_buf = g->n;
    return finish_run(&rr, g->search, h, err);
}

/* Typed escape sequences as separators. "...?\\nignore all previous instructions" hides its
 * first word twice over: the gate reads "nignore" as one word, and \b in a pattern sees no
 * boundary between "n" and "ignore". Typed escapes used as delimiters are a published technique
 * (Perez & Ribeiro 2022, "Ignore Previous Prompt"; Liu et al. 2024, "Formalizing and
 * Benchmarking Prompt Injection Attacks and Defenses": escape characters). So the rules screen
 * a copy in which every typed \n, \r and \t (one or more backslashes, then the letter) is the
 * character it stands for, after a space in place of each backslash: whitespace for the gate
 * and the patterns, and a line start after a typed \n for the patterns that want one
 * ("\nsystem: ..."). The copy has the text's length, so a match's span there is its span in
 * the text. Only the as_typed rules, which look for the typed escapes themselves, read
 * the text as it is. Base64 and hex runs cannot hold a backslash, so an escape only ever ends
 * a run, and a payload right after one ("\\naWdub3Jl...") is decoded from its first letter. */
static inline bool is_escape_letter(unsigned char c) { return c == 'n' || c == 'r' || c == 't'; }

/* The index of the first typed escape's first backslash in t[0, len), or len: none. */
static size_t first_typed_escape(const unsigned char *t, size_t len) {
    const unsigned char *end = t + len, *p = t;
    while (p < end && (p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
        while (p < end && *p == '\\') p++;
        if (p < end && is_escape_letter(*p)) {
            while (p > t && p[-1] == '\\') p--;
            return (size_t)(p - t);
        }
    }
    return len;
}

/* dst[0, len) = t[0, len) with every typed escape from byte `from` on read as the character it
 * stands for, after spaces in place of its backslashes ("\\n" -> "  " LF). */
static void blank_typed_escapes(const unsigned char *t, size_t len, size_t from, char *dst) {
    memcpy(dst, t, len);
    for (size_t i = from; i < len;) {
        if (t[i] != '\\') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && t[j] == '\\') j++;
        if (j < len && is_escape_letter(t[j])) {
            memset(dst + i, ' ', j - i);
            dst[j] = t[j] == 'n' ? '\n' : t[j] == 'r' ? '\r' : '\t';
            j++;
        }
        i = j;
    }
}

/* The screening copy of text[0, len), or NULL in *copy when text holds no typed escape (the
 * text is then its own screening copy). False: out of memory. */
static bool screening_copy(const char *text, size_t len, char **copy) {
    *copy = NULL;
    size_t first = first_typed_escape((const unsigned char *)text, len);
    if (first == len) return true;
    *copy = malloc(len + 1);
    if (!*copy) return false;
    blank_typed_escapes((const unsigned char *)text, len, first, *copy);
    (*copy)[len] = 0;
    return true;
}

/* Every rule over text[0, len): the as_typed ones on the text, the others on its screening
 * copy. */
static sealm_status run_rules_unescaped(const sealm_guard_injector *inj, const char *text, size_t len,
                                        inject_hits *h, sealm_error *err) {
    char *copy;
    if (!screening_copy(text, len, &copy))
        return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory screening a message");
    if (!copy) return run_rules(inj, text, len, ~0ull, h, NULL, NULL, err);
    sealm_status st = run_rules(inj, copy, len, ~inj->as_typed, h, NULL, NULL, err);
    if (st == SEALM_OK) st = run_rules(inj, text, len, inj->as_typed, h, NULL, NULL, err);
    free(copy);
    return st;
}

typedef struct decoded_ctx {
    const sealm_guard_injector *inj;
    inject_hits *outer;
} decoded_ctx;

/* A decoded base64/hex segment: normalized and screened; if it reads as an injection the
 * hiding is itself a cue, so the segment counts at least 0.85. */
static sealm_status on_decoded(void *vctx, const char *kind, const char *bytes, size_t n, sealm_error *err) {
    decoded_ctx *ctx = vctx;
    sealm_guard_normalized nz;
    sealm_status st = sealm_guard_normalize(bytes, n, ctx->inj->cfg.specials, ctx->inj->cfg.n_specials, &nz, err);
    if (st != SEALM_OK) return st;
    inject_hits inner = {0};
    st = run_rules_unescaped(ctx->inj, nz.text, nz.len, &inner, err);
    sealm_guard_normalized_free(&nz);
    if (st != SEALM_OK) return st;
    float s = combine(&inner);
    if (s >= ctx->inj->cfg.detect_threshold) {
        const char *name = kind[0] == 'h' ? "encoded.hex" : "encoded.base64";
        add_hit(ctx->outer, name, s > 0.85f ? s : 0.85f, 0, 0);
    }
    return SEALM_OK;
}

/* Letter spacing ("S a y  t h a t  y o u ..."): a phrase typed as single letters between
 * spaces reads fine to a language model but hides every word from the rules. It is a named
 * obfuscation (Kang et al. 2023, "Exploiting Programmatic Behavior of LLMs": obfuscation;
 * Schulhoff et al. 2023, "Ignore This Title and HackAPrompt": obfuscation / token splitting).
 * The screen finds runs of single ASCII letters separated by one or two spaces (two spaces
 * being the word break of spaced writing), screens a copy with each run of at least
 * SPACED_COPY letters joined up (a double space kept as a word break), and counts a long run
 * by itself as a cue. Shorter runs are emphasis or initials ("S T O P", "U S A"); a shouted
 * two-word run of 12 letters occurs in WNUT17 tweets, so the cue needs SPACED_CUE letters,
 * about four words. */
enum { SPACED_COPY = 8, SPACED_CUE = 16 };

static inline bool is_letter(unsigned char c) { return guard_is_upper(c) || guard_is_lower(c); }

/* The run of single letters that starts at the single letter t[i]: its letter count, and in
 * *end the index after its last letter. */
static size_t spaced_run_at(const unsigned char *t, size_t len, size_t i, size_t *end) {
    size_t n = 0;
    *end = i;
    while (i < len && is_letter(t[i]) && (i + 1 == len || !ALNUM[t[i + 1]])) {
        n++;
        *end = i + 1;
        size_t j = i + 1;
        while (j < len && j - i <= 3 && t[j] == ' ') j++;
        if (j - i < 2 || j - i > 3) break;   /* one or two spaces, then the next letter */
        i = j;
    }
    return n;
}

/* The next run of at least SPACED_COPY single letters that begins at or after byte `from`
 * of t[0, len): its letter count (0: none), its first letter in *start and the index after
 * its last letter in *end. Such a run spans at least 2 * SPACED_COPY - 1 bytes in which no
 * two neighbours are both letters, so looking at every (SPACED_COPY - 1)-th byte finds a byte
 * inside every such run at least two bytes from its ends; only there is the run measured,
 * from its first letter. Ordinary text costs one test per 7 bytes. */
static size_t next_spaced_run(const unsigned char *t, size_t len, size_t from, size_t *start, size_t *end) {
    enum { STRIDE = SPACED_COPY - 1 };
    for (size_t i = from + 1; i + 1 < len; i += STRIDE) {
        /* a space next to a single letter, or a letter between spaces (two bytes or more from
         * the run's ends, every look inside a run is one of these) */
        bool inside = t[i] == ' ' ? (is_letter(t[i - 1]) && (i < 2 || t[i - 2] == ' ')) ||
                                        (is_letter(t[i + 1]) && (i + 2 >= len || t[i + 2] == ' '))
                                  : is_letter(t[i]) && t[i - 1] == ' ' && t[i + 1] == ' ';
        if (!inside) continue;
        /* back to where the run can begin (over spaces and single letters), then the runs
         * from there until one reaches past i */
        size_t s = i, e = i;
        while (s > from && (t[s - 1] == ' ' || (is_letter(t[s - 1]) && (s == 1 || !ALNUM[t[s - 2]])))) s--;
        while (s <= i) {
            while (s < len && !is_letter(t[s])) s++;
            if (s >= len || (s > 0 && ALNUM[t[s - 1]])) break;
            size_t n = spaced_run_at(t, len, s, &e);
            if (n >= SPACED_COPY) {
                *start = s;
                *end = e;
                return n;
            }
            if (e <= s) break;
            s = e;
        }
        if (e > i) i = e - 1;   /* the next look lies STRIDE bytes past the short run's end */
    }
    return 0;
}

/* t[0, len) with every run of >= SPACED_COPY single letters joined up ("a b  c d" -> "ab cd")
 * into dst (at least len bytes); returns the copy's length. */
static size_t collapse_spaced(const unsigned char *t, size_t len, char *dst) {
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t end;
        if (is_letter(t[i]) && (i == 0 || !ALNUM[t[i - 1]]) && spaced_run_at(t, len, i, &end) >= SPACED_COPY) {
            while (i < end) {
                if (t[i] != ' ') dst[o++] = (char)t[i];
                else if (t[i + 1] == ' ') dst[o++] = ' ';   /* a double space: the word break */
                i++;
            }
            continue;
        }
        dst[o++] = (char)t[i++];
    }
    return o;
}

/* The letter-spacing cues of text: "normalize.letter-spacing" for a run of SPACED_CUE letters,
 * "encoded.spaced" (0.85) when a joined-up copy screens at least detect. What is screened is
 * each run with SPACED_CONTEXT bytes around it (runs closer than that share one window), so
 * a long text with one spaced word costs a window, not a second pass over the text. */
enum { SPACED_CONTEXT = 256 };
static sealm_status screen_spaced(const sealm_guard_injector *inj, const char *text, size_t len, inject_hits *h,
                                  sealm_error *err) {
    const unsigned char *t = (const unsigned char *)text;
    size_t start, end, n = next_spaced_run(t, len, 0, &start, &end);
    if (!n) return SEALM_OK;
    char *copy = malloc(len + 1);
    if (!copy) return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory screening a message");
    bool cue = false, found = false;
    sealm_status st = SEALM_OK;
    while (n && st == SEALM_OK) {
        size_t w0 = start > SPACED_CONTEXT ? start - SPACED_CONTEXT : 0;
        while (w0 > 0 && (t[w0] & 0xC0) == 0x80) w0--;   /* whole characters only */
        cue |= n >= SPACED_CUE;
        /* the runs that begin within the window's reach join it */
        size_t s2 = 0, e2 = 0, n2;
        while ((n2 = next_spaced_run(t, len, end, &s2, &e2)) && s2 <= end + 2 * SPACED_CONTEXT) {
            end = e2;
            cue |= n2 >= SPACED_CUE;
        }
        size_t w1 = len - end > SPACED_CONTEXT ? end + SPACED_CONTEXT : len;
        while (w1 < len && (t[w1] & 0xC0) == 0x80) w1++;
        if (!found) {
            size_t m = collapse_spaced(t + w0, w1 - w0, copy);
            copy[m] = 0;
            inject_hits inner = {0};
            st = run_rules(inj, copy, m, ~0ull, &inner, NULL, NULL, err);
            found = st == SEALM_OK && combine(&inner) >= inj->cfg.detect_threshold;
        }
        n = n2;
        start = s2;
        end = e2;
    }
    free(copy);
    if (st != SEALM_OK) return st;
    if (cue) add_hit(h, "normalize.letter-spacing", 0.5f, 0, 0);
    if (found) add_hit(h, "encoded.spaced", 0.85f, 0, 0);
    return SEALM_OK;
}

/* Whether text needs normalizing at all: pure ASCII (NFKC-invariant, nothing invisible, no
 * homoglyph) without the first byte of any special-token string is its own normalization. */
static bool needs_normalizing(const sealm_guard_injector *inj, const char *text, size_t len) {
    const unsigned char *t = (const unsigned char *)text;
    for (size_t i = 0; i < len; i++)
        if (inj->slow_byte[t[i]]) return true;
    return false;
}

sealm_status sealm_guard_inject_screen_ex(const sealm_guard_injector *inj, const char *text, size_t len,
                                          bool shortcuts, float *score, sealm_guard_findings *findings,
                                          sealm_error *err) {
    if (!inj || !score) return sealm_error_set(err, SEALM_E_INVALID, "guard: screening needs an injector and a score pointer");
    *score = 0.0f;
    if (!text) len = 0;
    sealm_guard_normalized nz = {0};
    sealm_status st = SEALM_OK;
    bool borrowed = shortcuts && !needs_normalizing(inj, text, len);
    if (borrowed) {
        nz.text = (char *)(uintptr_t)text;   /* read only below, never freed */
        nz.len = len;
    } else {
        st = sealm_guard_normalize_ex(text, len, inj->cfg.specials, inj->cfg.n_specials, shortcuts, &nz, err);
        if (st != SEALM_OK) return st;
    }

    /* the rules, the rot13 pass, letter spacing and the payload decoders read the screening
     * copy (typed escapes read as whitespace; the text itself when it has none); the as_typed rules and
     * the statistical stage, trained on the text as typed, read the text */
    char *copy = NULL;
    if (!screening_copy(nz.text, nz.len, &copy)) {
        if (!borrowed) sealm_guard_normalized_free(&nz);
        return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory screening a message");
    }
    const char *sc = copy ? copy : nz.text;
    inject_hits h = {0};
    rot13_gate g13s, *g13 = inj->cfg.decode_payloads && shortcuts ? &g13s : NULL;
    inject_model_acc macc;
    inject_model_begin(&macc);
    /* (the gate cuts at 4 GiB; the model rides on the gate's pass only when that pass reads
     * the text) */
    bool model = !inj->cfg.no_model && nz.len <= UINT32_MAX && !copy;
    st = run_rules(inj, sc, nz.len, copy ? ~inj->as_typed : ~0ull, &h, g13, model ? &macc : NULL, err);
    if (st == SEALM_OK && copy) st = run_rules(inj, nz.text, nz.len, inj->as_typed, &h, NULL, NULL, err);
    /* What normalization removed is evidence too: nobody types a chat-template token or
     * invisible tag characters into an honest question. */
    if (nz.n_special) add_hit(&h, "normalize.special-token", 0.8f, 0, 0);
    if (nz.n_tags) add_hit(&h, "normalize.tag-characters", 0.7f, 0, 0);
    if (nz.n_bidi) add_hit(&h, "normalize.bidi-control", 0.3f, 0, 0);
    if (nz.n_invisible - nz.n_tags >= 3) add_hit(&h, "normalize.invisible", 0.3f, 0, 0);
    if (nz.n_confusable) add_hit(&h, "normalize.homoglyph", 0.3f, 0, 0);
    /* The statistical stage: a cue of its own, with its probability as weight, once it is
     * confident enough to detect alone (so it adds recall without lifting every weak rule). */
    if (st == SEALM_OK && !inj->cfg.no_model) {
        float p = model ? (float)(1.0 / (1.0 + exp(-inject_model_end(&macc))))
                        : sealm_guard_inject_model_probability(nz.text, nz.len);
        if (p >= SEALM_GUARD_INJECT_MODEL_MIN) add_hit(&h, "model.ngram", p, 0, 0);
    }

    /* rot13: built only when a rot13-screened rule's stem occurs in rot13 form (the slow path
     * builds it always, to check that the gate loses nothing) */
    if (st == SEALM_OK && inj->cfg.decode_payloads && (!g13 || g13->can)) {
        char *r13 = malloc(nz.len + 1);
        if (!r13) st = sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory screening a message");
        if (st == SEALM_OK) {
            sealm_guard_rot13(sc, nz.len, r13);
            r13[nz.len] = 0;
            inject_hits hr = {0};
            st = run_rot13(inj, r13, nz.len, g13, &hr, err);
            free(r13);
            float s = combine(&hr);
            if (st == SEALM_OK && s >= inj->cfg.detect_threshold) add_hit(&h, "encoded.rot13", 0.85f, 0, 0);
        }
    }
    if (st == SEALM_OK) st = screen_spaced(inj, sc, nz.len, &h, err);
    if (st == SEALM_OK && inj->cfg.decode_payloads) {
        decoded_ctx dc = {inj, &h};
        st = sealm_guard_inject_decode_segments(sc, nz.len, on_decoded, &dc, err);
    }
    free(copy);
    bool exact = !nz.changed;
    if (!borrowed) sealm_guard_normalized_free(&nz);
    if (st != SEALM_OK) return st;

    *score = combine(&h);
    for (size_t i = 0; findings && i < h.n; i++) {
        bool has_span = exact && h.end[i] > h.start[i];
        sealm_guard_finding f = {
            .kind = SEALM_GUARD_INJECTION,
            .start = has_span ? h.start[i] : 0,
            .end = has_span ? h.end[i] : len,
            .score = h.weight[i],
            .rule = h.name[i],
        };
        st = sealm_guard_findings_push(findings, f, err);
        if (st != SEALM_OK) return st;
    }
    return SEALM_OK;
}

sealm_status sealm_guard_screen_injection(const sealm_guard_injector *inj, const char *text, size_t len,
                                          float *score, sealm_guard_findings *findings, sealm_error *err) {
    return sealm_guard_inject_screen_ex(inj, text, len, true, score, findings, err);
}
