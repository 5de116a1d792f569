/* Prompt-injection screening: normalize, run the rule table, decode hidden payloads and
 * screen them too, and combine every cue into one score (sealm/guard.h). */
#include "inject_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct inject_compiled {
    pcre2_code *code;       /* searches the whole text */
    pcre2_code *anchored;   /* the same, compiled PCRE2_ANCHORED (JIT cannot anchor at match time) */
    bool jit, jit_anchored;
} inject_compiled;

/* The word gate: every rule needs one of a few word beginnings to be present, so one pass
 * over the words decides which patterns can match at all; benign text usually runs none or
 * a few of them. Stems are bucketed by their first byte. */
typedef struct gate_stem {
    char s[24];
    size_t n;
    uint64_t rules;   /* bit per rule needing this stem */
} gate_stem;

struct sealm_guard_injector {
    sealm_guard_inject_config cfg;
    inject_compiled *rules;   /* [SEALM_GUARD_INJECT_N_RULES] */
    uint64_t always;          /* rules without a gate */
    gate_stem *stems;
    size_t n_stems;
    uint16_t bucket_start[257];   /* stems sorted by first byte: bucket c is [start[c], start[c+1]) */
};

static int stem_cmp(const void *a, const void *b) {
    const gate_stem *x = a, *y = b;
    int c = (unsigned char)x->s[0] - (unsigned char)y->s[0];
    return c ? c : strcmp(x->s, y->s);
}

/* Splits every rule's need into stems, merging equal ones. */
static bool build_gate(sealm_guard_injector *inj) {
    size_t cap = 0;
    for (size_t i = 0; i < SEALM_GUARD_INJECT_N_RULES; i++) {
        const char *need = SEALM_GUARD_INJECT_RULES[i].need;
        if (!need) {
            inj->always |= 1ull << i;
            continue;
        }
        for (const char *p = need; *p;) {
            while (*p == ' ') p++;
            size_t n = strcspn(p, " ");
            if (!n) break;
            size_t k = 0;
            while (k < inj->n_stems && !(inj->stems[k].n == n && memcmp(inj->stems[k].s, p, n) == 0)) k++;
            if (k == inj->n_stems) {
                if (inj->n_stems == cap) {
                    cap = cap ? cap * 2 : 64;
                    gate_stem *g = realloc(inj->stems, cap * sizeof *g);
                    if (!g) return false;
                    inj->stems = g;
                }
                gate_stem *g = &inj->stems[inj->n_stems++];
                memset(g, 0, sizeof *g);
                memcpy(g->s, p, n < sizeof g->s - 1 ? n : sizeof g->s - 1);
                g->n = strlen(g->s);
            }
            inj->stems[k].rules |= 1ull << i;
            p += n;
        }
    }
    qsort(inj->stems, inj->n_stems, sizeof *inj->stems, stem_cmp);
    size_t k = 0;
    for (int c = 0; c <= 256; c++) {
        while (k < inj->n_stems && (unsigned char)inj->stems[k].s[0] < c) k++;
        inj->bucket_start[c] = (uint16_t)k;
    }
    inj->bucket_start[256] = (uint16_t)inj->n_stems;
    return true;
}

static unsigned char lower(unsigned char c) { return guard_is_upper(c) ? (unsigned char)(c + 32) : c; }

/* Where each rule's stems begin words (for rules whose matches start there); a rule with
 * more hits than fit is searched over the whole text instead. */
enum { GATE_MAX_POS = 24 };
typedef struct gate_hits {
    uint32_t pos[INJECT_MAX_RULES][GATE_MAX_POS];
    uint8_t n[INJECT_MAX_RULES];
    uint64_t overflow;
} gate_hits;

static void note_hit(gate_hits *gh, uint64_t rules, size_t at) {
    for (uint64_t r = rules; r; r &= r - 1) {
        int i = __builtin_ctzll(r);
        if (gh->n[i] < GATE_MAX_POS) gh->pos[i][gh->n[i]++] = (uint32_t)at;
        else gh->overflow |= 1ull << i;
    }
}

/* Which rules can match text: the always-on ones plus those whose stems begin a word. */
static uint64_t gate(const sealm_guard_injector *inj, const char *text, size_t len, gate_hits *gh) {
    uint64_t m = inj->always;
    for (size_t i = 0; i < len; i++) {
        if (i && (guard_is_alnum((unsigned char)text[i - 1]))) continue;
        unsigned char c = lower((unsigned char)text[i]);
        for (size_t k = inj->bucket_start[c]; k < inj->bucket_start[c + 1]; k++) {
            const gate_stem *g = &inj->stems[k];
            if (g->n > len - i) continue;
            size_t j = 1;
            while (j < g->n && lower((unsigned char)text[i + j]) == (unsigned char)g->s[j]) j++;
            if (j == g->n) {
                m |= g->rules;
                note_hit(gh, g->rules, i);
            }
        }
    }
    return m;
}

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
        }
    }
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

/* Runs the gated rules over valid UTF-8 text; rot13_only: only rules marked for rot13. */
static sealm_status run_rules(const sealm_guard_injector *inj, const char *text, size_t len, bool rot13_only,
                              inject_hits *h, sealm_error *err) {
    if (len > UINT32_MAX) len = UINT32_MAX;   /* positions are 32-bit; 4 GiB messages are cut */
    gate_hits *gh = calloc(1, sizeof *gh);
    if (!gh) return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory screening a message");
    uint64_t can = gate(inj, text, len, gh);
    if (!can) {
        free(gh);
        return SEALM_OK;
    }
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory screening a message");
    for (size_t i = 0; i < SEALM_GUARD_INJECT_N_RULES; i++) {
        const inject_rule *r = &SEALM_GUARD_INJECT_RULES[i];
        if (!(can & (1ull << i)) || (rot13_only && !r->rot13)) continue;
        const inject_compiled *c = &inj->rules[i];
        int rc = PCRE2_ERROR_NOMATCH;
        if (c->anchored && !(gh->overflow & (1ull << i))) {
            /* only where a stem begins a word, anchored: cost follows the hits, not the length */
            for (size_t k = 0; k < gh->n[i] && rc < 0; k++)
                rc = c->jit_anchored ? pcre2_jit_match(c->anchored, (PCRE2_SPTR)text, len, gh->pos[i][k],
                                                       PCRE2_NO_UTF_CHECK, md, NULL)
                                     : pcre2_match(c->anchored, (PCRE2_SPTR)text, len, gh->pos[i][k],
                                                   PCRE2_NO_UTF_CHECK, md, NULL);
        } else {
            rc = c->jit ? pcre2_jit_match(c->code, (PCRE2_SPTR)text, len, 0, PCRE2_NO_UTF_CHECK, md, NULL)
                        : pcre2_match(c->code, (PCRE2_SPTR)text, len, 0, PCRE2_NO_UTF_CHECK, md, NULL);
        }
        if (rc >= 0) {   /* 0: matched, groups beyond the ovector dropped */
            const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            add_hit(h, r->name, r->weight, ov[0], ov[1]);
        }
        /* PCRE2_ERROR_NOMATCH, or a match/depth limit on hostile input: treated as no match. */
    }
    pcre2_match_data_free(md);
    free(gh);
    return SEALM_OK;
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
    st = run_rules(ctx->inj, nz.text, nz.len, false, &inner, err);
    sealm_guard_normalized_free(&nz);
    if (st != SEALM_OK) return st;
    float s = combine(&inner);
    if (s >= ctx->inj->cfg.detect_threshold) {
        const char *name = kind[0] == 'h' ? "encoded.hex" : "encoded.base64";
        add_hit(ctx->outer, name, s > 0.85f ? s : 0.85f, 0, 0);
    }
    return SEALM_OK;
}

sealm_status sealm_guard_screen_injection(const sealm_guard_injector *inj, const char *text, size_t len,
                                          float *score, sealm_guard_findings *findings, sealm_error *err) {
    if (!inj || !score) return sealm_error_set(err, SEALM_E_INVALID, "guard: screening needs an injector and a score pointer");
    *score = 0.0f;
    sealm_guard_normalized nz;
    sealm_status st = sealm_guard_normalize(text, len, inj->cfg.specials, inj->cfg.n_specials, &nz, err);
    if (st != SEALM_OK) return st;

    inject_hits h = {0};
    st = run_rules(inj, nz.text, nz.len, false, &h, err);
    /* What normalization removed is evidence too: nobody types a chat-template token or
     * invisible tag characters into an honest question. */
    if (nz.n_special) add_hit(&h, "normalize.special-token", 0.8f, 0, 0);
    if (nz.n_tags) add_hit(&h, "normalize.tag-characters", 0.7f, 0, 0);
    if (nz.n_bidi) add_hit(&h, "normalize.bidi-control", 0.3f, 0, 0);
    if (nz.n_invisible - nz.n_tags >= 3) add_hit(&h, "normalize.invisible", 0.3f, 0, 0);
    if (nz.n_confusable) add_hit(&h, "normalize.homoglyph", 0.3f, 0, 0);

    if (st == SEALM_OK && inj->cfg.decode_payloads) {
        char *r13 = malloc(nz.len + 1);
        if (!r13) st = sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory screening a message");
        if (st == SEALM_OK) {
            sealm_guard_rot13(nz.text, nz.len, r13);
            r13[nz.len] = 0;
            inject_hits hr = {0};
            st = run_rules(inj, r13, nz.len, true, &hr, err);
            free(r13);
            float s = combine(&hr);
            if (st == SEALM_OK && s >= inj->cfg.detect_threshold) add_hit(&h, "encoded.rot13", 0.85f, 0, 0);
        }
        if (st == SEALM_OK) {
            decoded_ctx dc = {inj, &h};
            st = sealm_guard_inject_decode_segments(nz.text, nz.len, on_decoded, &dc, err);
        }
    }
    bool exact = !nz.changed;
    sealm_guard_normalized_free(&nz);
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
