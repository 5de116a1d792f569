/* The PII detector: compiles the rule table (pii_rules.c) with PCRE2, JIT where the
 * platform has it, and runs every rule plus the person pass over a text. */
#include "pii_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct compiled_rule {
    const pii_rule *rule;
    pcre2_code *code;
    bool jit;
} compiled_rule;

struct sealm_guard_pii {
    sealm_guard_pii_config cfg;
    compiled_rule *rules;
    size_t n_rules;
    bool persons;   /* the person pass is on */
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
    free(d);
}

sealm_status sealm_guard_pii_new(const sealm_guard_pii_config *cfg, sealm_guard_pii **out, sealm_error *err) {
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
    d->cfg = c;
    d->persons = kind_on(&c, SEALM_GUARD_PERSON);
    for (size_t i = 0; i < SEALM_GUARD_PII_N_RULES; i++) {
        const pii_rule *r = &SEALM_GUARD_PII_RULES[i];
        if (!kind_on(&c, r->kind)) continue;
        int code;
        PCRE2_SIZE off;
        uint32_t options = r->options | (r->start != START_ANYWHERE ? PCRE2_ANCHORED : 0);
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
        /* JIT is an optimization: without it (unsupported CPU, no executable memory under a
         * strict seccomp profile) the interpreter gives the same matches. */
        cr->jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
    }
    *out = d;
    return SEALM_OK;
}

/* One regex search from offset at; a search in a window [.., limit) whose match touches
 * the window's end is redone on the whole text, since a lookahead there saw a false end. */
static int search(const compiled_rule *cr, const char *text, size_t len, size_t limit, size_t at,
                  pcre2_match_data *md) {
    for (;;) {
        int rc = cr->jit ? pcre2_jit_match(cr->code, (PCRE2_SPTR)text, limit, at, 0, md, NULL)
                         : pcre2_match(cr->code, (PCRE2_SPTR)text, limit, at, 0, md, NULL);
        if (rc < 0 || limit == len || pcre2_get_ovector_pointer(md)[1] < limit) return rc;
        limit = len;
    }
}

/* The next occurrence of each anchor byte, found with memchr and cached, so a text is read
 * once per anchor byte however many windows a rule opens. */
typedef struct anchor_cursor {
    unsigned char bytes[8];
    size_t next[8];        /* next occurrence at or after the last query; len when none */
    size_t n;
} anchor_cursor;

static void anchor_init(anchor_cursor *a, const char *anchor) {
    a->n = 0;
    for (const char *b = anchor; *b && a->n < 8; b++) {
        a->bytes[a->n] = (unsigned char)*b;
        a->next[a->n++] = 0;
    }
}

/* Next offset >= from holding an anchor byte, or len. */
static size_t next_anchor(anchor_cursor *a, const char *text, size_t len, size_t from) {
    size_t best = len;
    for (size_t i = 0; i < a->n; i++) {
        if (a->next[i] < from || (a->next[i] == 0 && from == 0)) {
            const char *hit = from < len ? memchr(text + from, a->bytes[i], len - from) : NULL;
            a->next[i] = hit ? (size_t)(hit - text) : len;
        }
        if (a->next[i] < best) best = a->next[i];
    }
    return best;
}

/* Is p a place where a rule of this start class can begin? Both classes begin a word: the
 * byte before is not a letter, digit or underscore. */
static bool start_ok(int start, const char *t, size_t len, size_t p) {
    if (p > 0 && (guard_is_alnum((unsigned char)t[p - 1]) || t[p - 1] == '_')) return false;
    unsigned char c = (unsigned char)t[p];
    if (start == START_NUMBER) return guard_is_digit(c) || ((c == '+' || c == '(') && p + 1 < len);
    /* two letters, then a digit (optionally after one space) */
    if (p + 3 >= len || !guard_is_alnum(c) || guard_is_digit(c)) return false;
    unsigned char c1 = (unsigned char)t[p + 1], c2 = (unsigned char)t[p + 2];
    if (!guard_is_alnum(c1) || guard_is_digit(c1)) return false;
    return guard_is_digit(c2) || (c2 == ' ' && guard_is_digit((unsigned char)t[p + 3]));
}

static float validate(const sealm_guard_pii *d, const pii_rule *r, pii_candidate *c);

/* Start offsets of one class, found once per scan and shared by the rules of that class. */
typedef struct start_list {
    size_t *at;
    size_t n;
} start_list;

static sealm_status start_push(start_list *l, size_t *cap, size_t p, sealm_error *err) {
    if (l->n == *cap) {
        size_t want = *cap ? *cap * 2 : 64;
        size_t *q = realloc(l->at, want * sizeof *q);
        if (!q) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory scanning for PII");
        l->at = q;
        *cap = want;
    }
    l->at[l->n++] = p;
    return SEALM_OK;
}

/* The one pass over the text before any regex runs: which bytes occur (rules whose required
 * bytes are all absent are skipped) and where each start class can begin (a word start whose
 * bytes fit the class, see start_ok). Every later step reads only around these offsets. */
static sealm_status first_pass(const char *text, size_t len, bool present[256], start_list starts[2], sealm_error *err) {
    size_t cap[2] = {0, 0};
    bool in_word = false;   /* the byte before is a letter, digit or underscore */
    for (size_t p = 0; p < len; p++) {
        unsigned char c = (unsigned char)text[p];
        present[c] = true;
        bool word = guard_is_alnum(c) || c == '_';
        if (!in_word) {
            sealm_status st = SEALM_OK;
            if ((guard_is_digit(c) || c == '+' || c == '(') && start_ok(START_NUMBER, text, len, p))
                st = start_push(&starts[0], &cap[0], p, err);
            else if (guard_is_alnum(c) && start_ok(START_TWO_LETTERS_DIGITS, text, len, p))
                st = start_push(&starts[1], &cap[1], p, err);
            if (st != SEALM_OK) return st;
        }
        in_word = word;
    }
    return SEALM_OK;
}

/* The anchored form of run_rule: one attempt at each possible start. */
static sealm_status run_rule_at_starts(const sealm_guard_pii *d, const compiled_rule *cr, const char *text,
                                       size_t len, const start_list *starts, pcre2_match_data *md,
                                       sealm_guard_findings *out, sealm_error *err) {
    const pii_rule *r = cr->rule;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t at = 0;
    for (size_t i = 0; i < starts->n; i++) {
        size_t p = starts->at[i];
        if (p < at || (r->window_ok && !r->window_ok(text, len, p))) continue;
        int rc = cr->jit ? pcre2_jit_match(cr->code, (PCRE2_SPTR)text, len, p, 0, md, NULL)
                         : pcre2_match(cr->code, (PCRE2_SPTR)text, len, p, 0, md, NULL);
        if (rc < 0) continue;
        pii_candidate c = {text, len, ov[0], ov[1], ov[0], ov[1], ov, rc};
        float score = validate(d, r, &c);
        if (score > 0) {
            sealm_guard_finding f = {r->kind, c.start, c.end, score, r->name};
            sealm_status st = sealm_guard_findings_push(out, f, err);
            if (st != SEALM_OK) return st;
            at = ov[1];
        }
    }
    return SEALM_OK;
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

/* Runs one rule over the text; each candidate goes through the rule's validator. A rejected
 * candidate is retried one byte further on, so a failed long match cannot hide a valid
 * shorter one inside it. */
static sealm_status run_rule(const sealm_guard_pii *d, const compiled_rule *cr, const char *text, size_t len,
                             pcre2_match_data *md, sealm_guard_findings *out, sealm_error *err) {
    const pii_rule *r = cr->rule;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    anchor_cursor cursor;
    anchor_init(&cursor, r->anchor ? r->anchor : "");
    size_t at = 0;      /* matches start at or after this */
    size_t scan = 0;    /* anchored rules: look for the next anchor from here */
    while (at <= len) {
        size_t limit = len, from = at;
        if (r->anchor) {
            size_t p = next_anchor(&cursor, text, len, scan > at ? scan : at);
            if (p == len) break;
            if (p > (size_t)r->back && p - (size_t)r->back > at) from = p - (size_t)r->back;
            limit = len - p > (size_t)r->fwd ? p + (size_t)r->fwd + 1 : len;
            scan = p + 1;
            if (r->window_ok && !r->window_ok(text, len, p)) continue;
        }
        int rc = search(cr, text, len, limit, from, md);
        if (rc < 0) {
            /* an anchored window without a match moves on to the next anchor; otherwise the
             * text holds no more matches (or hit PCRE2's limits on hostile input) */
            if (r->anchor && rc == PCRE2_ERROR_NOMATCH) continue;
            break;
        }
        pii_candidate c = {text, len, ov[0], ov[1], ov[0], ov[1], ov, rc};
        float score = validate(d, r, &c);
        if (score > 0) {
            sealm_guard_finding f = {r->kind, c.start, c.end, score, r->name};
            sealm_status st = sealm_guard_findings_push(out, f, err);
            if (st != SEALM_OK) return st;
            at = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
        } else {
            at = ov[0] + 1;
        }
        scan = at;   /* anchors from the new start on may still begin a match */
    }
    return SEALM_OK;
}

sealm_status sealm_guard_pii_scan(const sealm_guard_pii *d, const char *text, size_t len,
                                  sealm_guard_findings *out, sealm_error *err) {
    if (!d || (!text && len)) return sealm_error_set(err, SEALM_E_INVALID, "guard: no detector or no text");
    if (len == 0) return SEALM_OK;
    /* which bytes occur: a rule whose required bytes are all absent cannot match */
    bool present[256] = {false};
    start_list starts[2] = {{0}, {0}};
    sealm_guard_findings found = {0};
    sealm_status st = first_pass(text, len, present, starts, err);
    pcre2_match_data *md = st == SEALM_OK ? pcre2_match_data_create(16, NULL) : NULL;
    if (!md) {
        free(starts[0].at);
        free(starts[1].at);
        return st != SEALM_OK ? st : sealm_error_set(err, SEALM_E_NOMEM, "out of memory scanning for PII");
    }
    for (size_t i = 0; i < d->n_rules && st == SEALM_OK; i++) {
        const pii_rule *r = d->rules[i].rule;
        if (r->need) {
            bool any = false;
            for (const char *b = r->need; *b && !any; b++) any = present[(unsigned char)*b];
            if (!any) continue;
        }
        if (r->start == START_ANYWHERE) {
            st = run_rule(d, &d->rules[i], text, len, md, &found, err);
        } else {
            st = run_rule_at_starts(d, &d->rules[i], text, len, &starts[r->start == START_NUMBER ? 0 : 1], md,
                                    &found, err);
        }
    }
    pcre2_match_data_free(md);
    free(starts[0].at);
    free(starts[1].at);
    if (st == SEALM_OK && d->persons) st = sealm_guard_find_persons(text, len, d->cfg.min_score, &found, err);
    if (st == SEALM_OK) {
        sealm_guard_findings_resolve(&found);
        for (size_t i = 0; i < found.n && st == SEALM_OK; i++) st = sealm_guard_findings_push(out, found.items[i], err);
    }
    sealm_guard_findings_free(&found);
    return st;
}
