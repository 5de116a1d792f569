/* Optional SLM verifier for person names and street addresses (sealm/guard.h).
 *
 * The person and address rules guess from lexicons and context words; a small instruction
 * model has read enough text to tell "Maria Lopez" from "Golden Gate" in context. Each
 * candidate becomes one yes/no question in the model's chat template, answered by the
 * next-token logits of "yes" against "no" (one prefill, no generation), as the injection
 * stage does (inject_slm.c). What keeps the cost down:
 *  - the prompt's fixed head (system message and four worked examples, about 200 tokens) and
 *    the text shared by questions about the same request stay in the KV cache: each question
 *    evaluates only the tokens after the longest prefix it shares with the previous one;
 *  - the text shown around a candidate is cut to max_context_tokens, and a request asks at
 *    most max_candidates questions.
 * Untrusted text (the context and the candidate) is a message content, which
 * sealm_chat_tokenize tokenizes without special tokens: "<|im_end|>" typed by a user stays
 * plain text and cannot end the turn or start a new one. */
#include "pii_slm_internal.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "sealm/engine.h"
#include "sealm/tokenizer.h"

enum { MAX_SEQ_WORDS = 3, MAX_ADDRESS_PARTS = 10 };

struct sealm_guard_pii_slm {
    const sealm_model *model;
    const sealm_tokenizer *tok;
    sealm_context *ctx;
    sealm_guard_pii_slm_config cfg;
    guard_answer answer;
    int32_t *cached;   /* the ids now in the KV cache (hold user text: wiped on free) */
    size_t n_cached;
};

static const char SYSTEM[] =
    "You check whether a quoted part of a text is personal data. You answer only with yes or no.";

/* Worked examples, written for this prompt (not taken from any dataset): one yes and one no
 * per kind, so the model sees both answers for both questions. */
static const sealm_chat_message EXAMPLES[] = {
    {"user", "Text: \"Please forward the invoice to Maria Lopez before Friday.\"\n"
             "In this text, is \"Maria Lopez\" the name of a person? Answer yes or no."},
    {"assistant", "yes"},
    {"user", "Text: \"Our office is at 12 Harbour Road, Leeds LS1 4AB.\"\n"
             "In this text, is \"12 Harbour Road, Leeds LS1 4AB\" a street address? Answer yes or no."},
    {"assistant", "yes"},
    {"user", "Text: \"We visited the Golden Gate Bridge last summer.\"\n"
             "In this text, is \"Golden Gate Bridge\" the name of a person? Answer yes or no."},
    {"assistant", "no"},
    {"user", "Text: \"I ordered 3 Large Pizzas and two drinks.\"\n"
             "In this text, is \"3 Large Pizzas\" a street address? Answer yes or no."},
    {"assistant", "no"},
};
enum { N_EXAMPLES = sizeof EXAMPLES / sizeof EXAMPLES[0] };

sealm_guard_pii_slm_config sealm_guard_pii_slm_config_default(void) {
    return (sealm_guard_pii_slm_config){
        .chat_format = SEALM_CHAT_UNKNOWN,
        .n_ctx = 1024,
        .n_threads = 0,
        .confirm = true,
        .find = false,
        .max_candidates = 8,
        .max_context_tokens = 64,
        .threshold = 0.5f,
        .zero_shot = false,
    };
}

sealm_status sealm_guard_pii_slm_new(const struct sealm_model *model, const struct sealm_tokenizer *tok,
                                     const sealm_guard_pii_slm_config *cfg, sealm_guard_pii_slm **out,
                                     sealm_error *err) {
    if (!out || !model || !tok || !cfg)
        return sealm_error_set(err, SEALM_E_INVALID, "guard: the SLM verifier needs a model, a tokenizer and a config");
    *out = NULL;
    if (cfg->chat_format == SEALM_CHAT_UNKNOWN)
        return sealm_error_set(err, SEALM_E_UNSUPPORTED,
                               "guard: the SLM verifier needs a chat model, and this model has no chat template "
                               "sealm knows; use the person/address rules alone, or name the template's format");
    if (!(cfg->threshold >= 0.0f && cfg->threshold <= 1.0f) || cfg->max_context_tokens < 1)
        return sealm_error_set(err, SEALM_E_INVALID,
                               "guard: SLM verifier threshold must be within [0, 1] and max_context_tokens >= 1");
    sealm_guard_pii_slm *v = calloc(1, sizeof *v);
    if (!v) return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory creating the SLM verifier");
    v->model = model;
    v->tok = tok;
    v->cfg = *cfg;
    if (v->cfg.n_ctx <= 0) v->cfg.n_ctx = 1024;
    if (!guard_answer_init(tok, &v->answer)) {
        free(v);
        return sealm_error_set(err, SEALM_E_UNSUPPORTED,
                               "guard: the model's vocabulary has no single token for \"yes\" or \"no\"; "
                               "use the person/address rules alone with this model");
    }
    v->cached = calloc((size_t)v->cfg.n_ctx, sizeof *v->cached);
    if (!v->cached) {
        free(v);
        return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory creating the SLM verifier");
    }
    sealm_context_params cp = sealm_context_params_default();
    cp.n_ctx = v->cfg.n_ctx;
    cp.n_threads = v->cfg.n_threads;
    sealm_status st = sealm_context_new(model, &cp, &v->ctx, err);
    if (st != SEALM_OK) {
        free(v->cached);
        free(v);
        return st;
    }
    *out = v;
    return SEALM_OK;
}

void sealm_guard_pii_slm_free(sealm_guard_pii_slm *v) {
    if (!v) return;
    sealm_context_free(v->ctx);
    sodium_memzero(v->cached, (size_t)v->cfg.n_ctx * sizeof *v->cached);
    free(v->cached);
    free(v);
}

/* ---- the question --------------------------------------------------------------------- */

/* Number of tokens of text[a, b) (no BOS, no specials). */
static sealm_status count_tokens(const sealm_tokenizer *tok, const char *text, size_t a, size_t b, size_t *n,
                                 sealm_error *err) {
    int32_t probe[1];
    sealm_error e = {0};
    *n = 0;
    sealm_status st = sealm_tokenize(tok, text + a, b - a, false, false, probe, 0, n, &e);
    /* cap 0: SEALM_E_INVALID with *n the count needed, unless the text has no tokens */
    if (st == SEALM_OK || (st == SEALM_E_INVALID && *n > 0)) return SEALM_OK;
    return sealm_error_set(err, st, "guard: SLM verifier: %s", e.message);
}

/* The part of text shown around [start, end): whole words, at most max_context_tokens
 * tokens (the candidate itself is always shown, and is at most SEALM_GUARD_PII_SLM_MAX_SPAN
 * bytes). Starts from ~4 bytes per token and narrows by a quarter until the tokens fit. */
static sealm_status context_window(const sealm_guard_pii_slm *v, const char *text, size_t len, size_t start,
                                   size_t end, size_t *c0, size_t *c1, size_t *n_shown, sealm_error *err) {
    size_t side = (size_t)v->cfg.max_context_tokens * 2;
    for (;;) {
        size_t a = start > side ? start - side : 0, b = len - end > side ? end + side : len;
        if (a > 0) {
            while (a < start && !guard_is_space((unsigned char)text[a - 1])) a++;   /* next word start */
        }
        if (b < len) {
            while (b > end && !guard_is_space((unsigned char)text[b])) b--;         /* previous word end */
        }
        size_t n = 0;
        sealm_status st = count_tokens(v->tok, text, a, b, &n, err);
        if (st != SEALM_OK) return st;
        if (n <= (size_t)v->cfg.max_context_tokens || (a == start && b == end)) {
            *c0 = a;
            *c1 = b;
            *n_shown = n;
            return SEALM_OK;
        }
        side = side * 3 / 4;
        if (side < 4) side = 0;
    }
}

/* Appends s[0, n) with NUL bytes as spaces (message contents are C strings). */
static bool add_text(guard_text *b, const char *s, size_t n) {
    size_t from = b->n;
    if (!guard_text_add(b, s, n)) return false;
    for (size_t i = from; i < b->n; i++)
        if (b->p[i] == '\0') b->p[i] = ' ';
    return true;
}

sealm_status sealm_guard_pii_slm_prompt(const sealm_guard_pii_slm *v, const char *text, size_t len,
                                        sealm_guard_kind kind, size_t start, size_t end, int32_t **ids,
                                        size_t *n_ids, size_t *n_shown, sealm_error *err) {
    if (!v || !text || !ids || !n_ids || !n_shown)
        return sealm_error_set(err, SEALM_E_INVALID, "guard: SLM verifier question needs a verifier, text and outputs");
    *ids = NULL;
    *n_ids = *n_shown = 0;
    if (len == 0) return sealm_error_set(err, SEALM_E_INVALID, "guard: SLM verifier got an empty text");
    if (kind != SEALM_GUARD_PERSON && kind != SEALM_GUARD_ADDRESS)
        return sealm_error_set(err, SEALM_E_INVALID, "guard: the SLM verifier checks PERSON and ADDRESS spans only");
    if (start >= end || end > len || end - start > SEALM_GUARD_PII_SLM_MAX_SPAN)
        return sealm_error_set(err, SEALM_E_INVALID,
                               "guard: SLM verifier span [%zu, %zu) is empty, outside the %zu-byte text or longer "
                               "than %d bytes",
                               start, end, len, SEALM_GUARD_PII_SLM_MAX_SPAN);
    size_t c0 = 0, c1 = 0;
    sealm_status st = context_window(v, text, len, start, end, &c0, &c1, n_shown, err);
    if (st != SEALM_OK) return st;
    static const char ASK_SPAN[] = "\"\nIn this text, is \"", END_PERSON[] = "\" the name of a person? Answer yes or no.",
                      END_ADDRESS[] = "\" a street address? Answer yes or no.";
    guard_text user = {0};
    bool ok = guard_text_add(&user, "Text: \"", 7) && add_text(&user, text + c0, c1 - c0) &&
              guard_text_add(&user, ASK_SPAN, sizeof ASK_SPAN - 1) && add_text(&user, text + start, end - start);
    if (ok) {
        const char *tail = kind == SEALM_GUARD_PERSON ? END_PERSON : END_ADDRESS;
        ok = guard_text_add(&user, tail, strlen(tail));
    }
    if (!ok) {
        guard_text_wipe(&user);
        return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory in the SLM verifier");
    }
    sealm_chat_message msgs[2 + N_EXAMPLES];
    msgs[0] = (sealm_chat_message){"system", SYSTEM};
    size_t n_examples = v->cfg.zero_shot ? 0 : N_EXAMPLES;
    for (size_t i = 0; i < n_examples; i++) msgs[1 + i] = EXAMPLES[i];
    msgs[1 + n_examples] = (sealm_chat_message){"user", user.p};
    st = sealm_chat_tokenize(v->tok, (sealm_chat_format)v->cfg.chat_format, msgs, 2 + n_examples, true, NULL, ids,
                             n_ids, err);
    guard_text_wipe(&user);
    return st;
}

/* Evaluates ids, reusing the longest prefix already in the KV cache. */
static sealm_status eval_cached(sealm_guard_pii_slm *v, const int32_t *ids, size_t n, sealm_error *err) {
    if (n + 1 > (size_t)v->cfg.n_ctx)
        return sealm_error_set(err, SEALM_E_CONTEXT_FULL,
                               "guard: the SLM verifier's question needs %zu tokens but its context holds %d; "
                               "raise n_ctx or lower max_context_tokens",
                               n + 1, v->cfg.n_ctx);
    size_t keep = 0;
    while (keep < v->n_cached && keep < n && v->cached[keep] == ids[keep]) keep++;
    if (keep == n) keep = n - 1;   /* the last token is evaluated again for its logits */
    sealm_context_truncate(v->ctx, (int32_t)keep);
    v->n_cached = keep;
    sealm_status st = sealm_context_eval(v->ctx, ids + keep, (int32_t)(n - keep), false, err);
    if (st != SEALM_OK) {
        sealm_context_truncate(v->ctx, 0);
        v->n_cached = 0;
        return st;
    }
    memcpy(v->cached + keep, ids + keep, (n - keep) * sizeof *ids);
    v->n_cached = n;
    return SEALM_OK;
}

sealm_status sealm_guard_pii_slm_ask(sealm_guard_pii_slm *v, const char *text, size_t len, sealm_guard_kind kind,
                                     size_t start, size_t end, float *p_yes, sealm_error *err) {
    if (!p_yes) return sealm_error_set(err, SEALM_E_INVALID, "guard: SLM verifier question needs an output");
    *p_yes = 0.0f;
    int32_t *ids = NULL;
    size_t n = 0, shown = 0;
    sealm_status st = sealm_guard_pii_slm_prompt(v, text, len, kind, start, end, &ids, &n, &shown, err);
    if (st != SEALM_OK) return st;
    st = eval_cached(v, ids, n, err);
    sodium_memzero(ids, n * sizeof *ids);
    free(ids);
    if (st != SEALM_OK) return st;
    const float *logits = sealm_context_logits(v->ctx, -1);
    if (!logits) return sealm_error_set(err, SEALM_E_INVALID, "guard: SLM verifier got no logits");
    *p_yes = guard_answer_p_yes(&v->answer, logits);
    return SEALM_OK;
}

/* ---- cheap candidates (find mode) ---------------------------------------------------- */

typedef sealm_guard_pii_slm_candidate slm_candidate;

typedef struct candidate_list {
    slm_candidate *items;
    size_t n, cap;
} candidate_list;

static bool candidates_push(candidate_list *l, sealm_guard_kind kind, size_t start, size_t end) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        slm_candidate *p = realloc(l->items, cap * sizeof *p);
        if (!p) return false;
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n++] = (slm_candidate){kind, start, end};
    return true;
}

static bool word_byte(unsigned char c) { return guard_is_upper(c) || guard_is_lower(c) || c >= 0x80 || c == '\'' || c == '-'; }

/* End of the word starting at i (letters, non-ASCII bytes, apostrophes, hyphens). */
static size_t word_end(const char *text, size_t len, size_t i) {
    while (i < len && word_byte((unsigned char)text[i])) i++;
    return i;
}

/* A capital, then at least one lower-case or non-ASCII letter: "Maria", "Żaneta", not "NASA". */
static bool name_word(const char *w, size_t n) {
    if (n < 2 || !guard_is_upper((unsigned char)w[0])) return false;
    for (size_t i = 1; i < n; i++)
        if (guard_is_lower((unsigned char)w[i]) || (unsigned char)w[i] >= 0x80) return true;
    return false;
}

static bool word_start_at(const char *text, size_t i) {
    return i == 0 || !(guard_is_alnum((unsigned char)text[i - 1]) || (unsigned char)text[i - 1] >= 0x80);
}

/* Person candidates: runs of up to three name-shaped words separated by single spaces, with
 * common capitalized words (sentence starts, days, months, pronouns) trimmed from both ends. */
static bool person_candidates(const char *text, size_t len, candidate_list *out) {
    size_t i = 0;
    while (i < len) {
        if (!guard_is_upper((unsigned char)text[i]) || !word_start_at(text, i)) {
            i++;
            continue;
        }
        size_t ws[MAX_SEQ_WORDS], we[MAX_SEQ_WORDS], nw = 0, at = i;
        for (;;) {
            size_t e = word_end(text, len, at);
            if (!name_word(text + at, e - at)) break;
            ws[nw] = at;
            we[nw++] = e;
            if (nw == MAX_SEQ_WORDS || e + 1 >= len || text[e] != ' ' || !guard_is_upper((unsigned char)text[e + 1]))
                break;
            at = e + 1;
        }
        size_t next = nw ? we[nw - 1] : word_end(text, len, i + 1);
        size_t a = 0, b = nw;
        while (a < b && sealm_guard_is_common_word(text + ws[a], we[a] - ws[a])) a++;
        while (b > a && sealm_guard_is_common_word(text + ws[b - 1], we[b - 1] - ws[b - 1])) b--;
        if (a < b && !candidates_push(out, SEALM_GUARD_PERSON, ws[a], we[b - 1])) return false;
        i = next > i ? next : i + 1;
    }
    return true;
}

/* One part of an address after the house number: a capitalized word or abbreviation
 * ("Oak", "St.", "CO"), a number ("80203", "80203-1234", "#4"). Returns its end, or start when
 * text[start] begins none. */
static size_t address_part(const char *text, size_t len, size_t start) {
    size_t i = start;
    if (i < len && text[i] == '#') i++;
    if (i < len && guard_is_digit((unsigned char)text[i])) {
        while (i < len && (guard_is_digit((unsigned char)text[i]) || text[i] == '-')) i++;
        return i;
    }
    if (i > start || i >= len || !guard_is_upper((unsigned char)text[i])) return start;
    i = word_end(text, len, i);
    if (i < len && text[i] == '.' && i - start <= 4) i++;   /* "St.", "Ave.", not a sentence's end */
    return i;
}

/* Address candidates: a house number (1–6 digits) at a word start, a space, a capitalized
 * word, then further parts separated by a space or ", " ("12 Oak Street, Denver, CO 80203"). */
static bool address_candidates(const char *text, size_t len, candidate_list *out) {
    size_t i = 0;
    while (i < len) {
        if (!guard_is_digit((unsigned char)text[i]) || !word_start_at(text, i)) {
            i++;
            continue;
        }
        size_t d = i;
        while (d < len && guard_is_digit((unsigned char)text[d])) d++;
        if (d - i > 6 || d + 1 >= len || text[d] != ' ' || !guard_is_upper((unsigned char)text[d + 1])) {
            i = d;
            continue;
        }
        size_t end = address_part(text, len, d + 1);
        for (int parts = 1; parts < MAX_ADDRESS_PARTS && end < len; parts++) {
            size_t s = end;
            if (text[s] == ',') s++;
            if (s >= len || text[s] != ' ') break;
            size_t e = address_part(text, len, s + 1);
            if (e == s + 1 || e - i > SEALM_GUARD_PII_SLM_MAX_SPAN) break;
            end = e;
        }
        if (end > d + 1 && !candidates_push(out, SEALM_GUARD_ADDRESS, i, end)) return false;
        i = end > i ? end : i + 1;
    }
    return true;
}

static bool overlaps(size_t a0, size_t a1, size_t b0, size_t b1) { return a0 < b1 && b0 < a1; }

static bool overlaps_any(const sealm_guard_findings *f, const candidate_list *kept, size_t s, size_t e) {
    for (size_t i = 0; i < f->n; i++)
        if (overlaps(s, e, f->items[i].start, f->items[i].end)) return true;
    for (size_t i = 0; i < kept->n; i++)
        if (overlaps(s, e, kept->items[i].start, kept->items[i].end)) return true;
    return false;
}

static int by_start(const void *a, const void *b) {
    const slm_candidate *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

/* The find-mode candidates of text that overlap no finding of f, in text order; addresses
 * win over the person runs inside them ("12 Oak Street" over "Oak Street"). */
static bool find_candidates(const char *text, size_t len, const sealm_guard_findings *f, candidate_list *out) {
    candidate_list addr = {0}, person = {0};
    bool ok = address_candidates(text, len, &addr) && person_candidates(text, len, &person);
    for (size_t i = 0; ok && i < addr.n; i++)
        if (!overlaps_any(f, out, addr.items[i].start, addr.items[i].end))
            ok = candidates_push(out, addr.items[i].kind, addr.items[i].start, addr.items[i].end);
    for (size_t i = 0; ok && i < person.n; i++)
        if (!overlaps_any(f, out, person.items[i].start, person.items[i].end))
            ok = candidates_push(out, person.items[i].kind, person.items[i].start, person.items[i].end);
    free(addr.items);
    free(person.items);
    if (ok && out->n > 1) qsort(out->items, out->n, sizeof *out->items, by_start);
    return ok;
}

sealm_status sealm_guard_pii_slm_candidates(const char *text, size_t len, const sealm_guard_findings *f,
                                            sealm_guard_pii_slm_candidate **out, size_t *n, sealm_error *err) {
    candidate_list l = {0};
    *out = NULL;
    *n = 0;
    if (!find_candidates(text, len, f, &l)) {
        free(l.items);
        return sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory in the SLM verifier");
    }
    *out = l.items;
    *n = l.n;
    return SEALM_OK;
}

/* ---- verify ------------------------------------------------------------------------------ */

sealm_status sealm_guard_pii_slm_verify(sealm_guard_pii_slm *v, const char *text, size_t len,
                                        sealm_guard_findings *f, sealm_guard_pii_slm_stats *stats,
                                        sealm_error *err) {
    if (!v || !text || !f) return sealm_error_set(err, SEALM_E_INVALID, "guard: SLM verify needs a verifier, text and findings");
    if (len == 0) return sealm_error_set(err, SEALM_E_INVALID, "guard: SLM verifier got an empty text");
    sealm_guard_pii_slm_stats s = {0};
    sealm_guard_findings result = {0};
    candidate_list cands = {0};
    sealm_status st = SEALM_OK;
    /* confirm: the rules' PERSON/ADDRESS findings, in text order */
    for (size_t i = 0; i < f->n && st == SEALM_OK; i++) {
        sealm_guard_finding it = f->items[i];
        bool checked = v->cfg.confirm && (it.kind == SEALM_GUARD_PERSON || it.kind == SEALM_GUARD_ADDRESS);
        if (checked && (s.asked >= v->cfg.max_candidates || it.end - it.start > SEALM_GUARD_PII_SLM_MAX_SPAN)) {
            s.skipped++;
            checked = false;
        }
        if (checked) {
            float p = 0;
            st = sealm_guard_pii_slm_ask(v, text, len, it.kind, it.start, it.end, &p, err);
            s.asked++;
            if (st != SEALM_OK) break;
            if (p < v->cfg.threshold) {
                s.dropped++;
                continue;
            }
        }
        st = sealm_guard_findings_push(&result, it, err);
    }
    /* find: cheap candidates the rules did not report */
    if (st == SEALM_OK && v->cfg.find) {
        if (!find_candidates(text, len, f, &cands))
            st = sealm_error_set(err, SEALM_E_NOMEM, "guard: out of memory in the SLM verifier");
        for (size_t i = 0; st == SEALM_OK && i < cands.n; i++) {
            slm_candidate c = cands.items[i];
            if (s.asked >= v->cfg.max_candidates || c.end - c.start > SEALM_GUARD_PII_SLM_MAX_SPAN) {
                s.skipped++;
                continue;
            }
            float p = 0;
            st = sealm_guard_pii_slm_ask(v, text, len, c.kind, c.start, c.end, &p, err);
            s.asked++;
            if (st == SEALM_OK && p >= v->cfg.threshold) {
                sealm_guard_finding add = {c.kind, c.start, c.end, p,
                                           c.kind == SEALM_GUARD_PERSON ? "person.slm" : "address.slm"};
                st = sealm_guard_findings_push(&result, add, err);
                s.added++;
            }
        }
    }
    free(cands.items);
    if (st != SEALM_OK) {
        sealm_guard_findings_free(&result);
        return st;
    }
    sealm_guard_findings_resolve(&result);
    sealm_guard_findings_free(f);
    *f = result;
    if (stats) *stats = s;
    return SEALM_OK;
}
