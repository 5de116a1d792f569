/* pii_slm_eval: person and address precision, recall and F1 with the rules alone and with
 * the SLM verifier (src/guard/pii_slm.c) in confirm mode, find mode and both, and what the
 * verifier costs per request and per question.
 *
 *   pii_slm_eval SHARED_DIR MODEL.gguf OUT_DIR [--presidio N] [--wnut N] [--threads T]
 *                [--max-candidates K] [--threshold P]
 *
 * Data: the first N sentences of presidio-research (synth_dataset_v2.json, then
 * generated_small.json; PERSON and STREET_ADDRESS/ADDRESS spans) and the first N sentences of
 * wnut17 train (person spans; sentences are the tokens joined by single spaces), the same
 * sentences for every mode. Match rule as bench/guard_eval.c: same type, overlap >= 50% of the
 * gold span, each gold span matched once. Writes OUT_DIR/pii_slm_eval.md and .json.
 * Cost: wall time of sealm_guard_pii_slm_verify per request (the rule scan excluded). */
#include "sealm/engine.h"
#include "sealm/gguf.h"
#include "sealm/guard.h"
#include "sealm/tokenizer.h"
#include "guard/pii_slm_internal.h"

#include "bench_clock.h"
#include "conll_persons.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { T_PERSON, T_ADDRESS, T_N };
static const char *const TYPE_NAMES[T_N] = {"PERSON", "ADDRESS"};
enum { M_RULES, M_CONFIRM, M_FIND, M_BOTH, M_N };
static const char *const MODE_NAMES[M_N] = {"rules alone", "rules + verifier (confirm)", "rules + verifier (find)",
                                            "rules + verifier (confirm + find)"};
enum { MAX_GOLD = 64 };

typedef struct span {
    int type;
    size_t start, end;
} span;

typedef struct sentence {
    char *text;
    size_t len;
    span gold[MAX_GOLD];
    size_t n_gold;
} sentence;

typedef struct sentence_set {
    sentence *items;
    size_t n, cap;
} sentence_set;

typedef struct counts {
    long tp[T_N], fp[T_N], fn[T_N];
    size_t requests, asked, dropped, added, skipped;
    double seconds, cpu_seconds;
} counts;

static void die(const char *what, const char *detail) {
    fprintf(stderr, "pii_slm_eval: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static sentence *set_add(sentence_set *s) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->items = realloc(s->items, s->cap * sizeof *s->items);
        if (!s->items) die("out of memory", NULL);
    }
    sentence *x = &s->items[s->n++];
    memset(x, 0, sizeof *x);
    return x;
}

static size_t byte_of_cp(const char *t, size_t len, size_t cp) {
    size_t i = 0, n = 0;
    while (i < len && n < cp) {
        i++;
        while (i < len && ((unsigned char)t[i] & 0xC0) == 0x80) i++;
        n++;
    }
    return i;
}

static void load_presidio(const char *path, sentence_set *out, size_t skip, size_t limit) {
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) die(path, je.text);
    size_t i;
    json_t *row;
    json_array_foreach(root, i, row) {
        if (out->n >= limit) break;
        if (i < skip) continue;
        const char *text = json_string_value(json_object_get(row, "full_text"));
        if (!text || !*text) continue;
        sentence *s = set_add(out);
        s->text = strdup(text);
        s->len = strlen(text);
        size_t k;
        json_t *sp;
        json_array_foreach(json_object_get(row, "spans"), k, sp) {
            const char *l = json_string_value(json_object_get(sp, "entity_type"));
            int t = !l ? -1 : !strcmp(l, "PERSON") ? T_PERSON
                          : (!strcmp(l, "STREET_ADDRESS") || !strcmp(l, "ADDRESS")) ? T_ADDRESS : -1;
            if (t < 0 || s->n_gold == MAX_GOLD) continue;
            size_t s0 = (size_t)json_integer_value(json_object_get(sp, "start_position"));
            size_t s1 = (size_t)json_integer_value(json_object_get(sp, "end_position"));
            s->gold[s->n_gold++] = (span){t, byte_of_cp(text, s->len, s0), byte_of_cp(text, s->len, s1)};
        }
    }
    json_decref(root);
}

/* WNUT17 (bench/conll_persons.h): the first `limit` sentences with their person spans. */
typedef struct wnut_load {
    sentence_set *out;
    size_t limit;
} wnut_load;

static bool keep_wnut_sentence(void *ctx, const char *text, size_t len, const conll_person *persons, size_t n) {
    wnut_load *w = ctx;
    sentence *s = set_add(w->out);
    s->text = malloc(len + 1);
    if (!s->text) die("out of memory", "loading wnut17");
    memcpy(s->text, text, len);
    s->text[len] = 0;
    s->len = len;
    s->n_gold = n < MAX_GOLD ? n : MAX_GOLD;
    for (size_t i = 0; i < s->n_gold; i++) s->gold[i] = (span){T_PERSON, persons[i].start, persons[i].end};
    return w->out->n < w->limit;
}

static void load_wnut(const char *path, sentence_set *out, size_t limit) {
    wnut_load w = {out, limit};
    if (limit == 0) return;
    if (!conll_read_persons(path, keep_wnut_sentence, &w)) die("cannot open", path);
}

static size_t overlap(size_t a0, size_t a1, size_t b0, size_t b1) {
    size_t lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0;
}

static int type_of_kind(sealm_guard_kind k) {
    return k == SEALM_GUARD_PERSON ? T_PERSON : k == SEALM_GUARD_ADDRESS ? T_ADDRESS : -1;
}

static void score(const sentence *s, const sealm_guard_findings *f, const bool *evaluated, counts *c) {
    bool hit[MAX_GOLD] = {0};
    for (size_t i = 0; i < f->n; i++) {
        int t = type_of_kind(f->items[i].kind);
        if (t < 0 || !evaluated[t]) continue;
        bool matched = false;
        for (size_t g = 0; g < s->n_gold && !matched; g++) {
            if (s->gold[g].type != t || hit[g]) continue;
            size_t glen = s->gold[g].end - s->gold[g].start;
            if (glen && 2 * overlap(f->items[i].start, f->items[i].end, s->gold[g].start, s->gold[g].end) >= glen)
                hit[g] = matched = true;
        }
        if (!matched) c->fp[t]++;
    }
    for (size_t g = 0; g < s->n_gold; g++) {
        if (!evaluated[s->gold[g].type]) continue;
        if (hit[g]) c->tp[s->gold[g].type]++;
        else c->fn[s->gold[g].type]++;
    }
}

static double now_s(void) { return bench_seconds(CLOCK_MONOTONIC); }

/* CPU time of the process (all its threads): on the shared build host, wall time also counts
 * other processes' turns on the cores. */
static double cpu_s(void) { return bench_seconds(CLOCK_PROCESS_CPUTIME_ID); }

/* One question put to the model: a rule finding (confirm) or a cheap candidate (find). */
typedef struct question {
    size_t sentence;
    bool confirm;
    sealm_guard_kind kind;
    size_t start, end;
    float p_yes;
    double ms, cpu_ms;   /* wall time; CPU time of the whole process */
    bool correct;   /* matches a gold span of its type */
} question;

typedef struct asked_set {
    const sentence_set *sentences;
    sealm_guard_findings *rules;   /* per sentence: the rule findings */
    question *q;
    size_t n, cap;
} asked_set;

static bool matches_gold(const sentence *s, int t, size_t a, size_t b) {
    for (size_t g = 0; g < s->n_gold; g++) {
        size_t glen = s->gold[g].end - s->gold[g].start;
        if (s->gold[g].type == t && glen && 2 * overlap(a, b, s->gold[g].start, s->gold[g].end) >= glen) return true;
    }
    return false;
}

/* Asks every question any mode would ask (the first max_candidates rule findings, the first
 * max_candidates cheap candidates), each once, in text order per sentence, so the modes are
 * derived from one pass and see the same answers. The KV cache is shared between the
 * questions of one sentence as in sealm_guard_pii_slm_verify. */
static void ask_all(const sentence_set *set, const sealm_guard_pii *rules, sealm_guard_pii_slm *v, size_t max_q,
                    asked_set *out) {
    sealm_error err = {0};
    out->sentences = set;
    out->rules = calloc(set->n ? set->n : 1, sizeof *out->rules);
    for (size_t i = 0; i < set->n; i++) {
        const sentence *s = &set->items[i];
        sealm_guard_findings *f = &out->rules[i];
        if (sealm_guard_pii_scan(rules, s->text, s->len, f, &err) != SEALM_OK) die("scan", err.message);
        sealm_guard_pii_slm_candidate *c = NULL;
        size_t n_c = 0, n_confirm = 0, n_find = 0;
        if (sealm_guard_pii_slm_candidates(s->text, s->len, f, &c, &n_c, &err) != SEALM_OK) die("candidates", err.message);
        for (size_t k = 0; k < f->n + n_c; k++) {
            bool confirm = k < f->n;
            sealm_guard_kind kind = confirm ? f->items[k].kind : c[k - f->n].kind;
            size_t a = confirm ? f->items[k].start : c[k - f->n].start, b = confirm ? f->items[k].end : c[k - f->n].end;
            if (kind != SEALM_GUARD_PERSON && kind != SEALM_GUARD_ADDRESS) continue;
            if (b - a > SEALM_GUARD_PII_SLM_MAX_SPAN) continue;
            if ((confirm ? n_confirm : n_find) >= max_q) continue;
            if (confirm) n_confirm++;
            else n_find++;
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 1024;
                out->q = realloc(out->q, out->cap * sizeof *out->q);
                if (!out->q) die("out of memory", NULL);
            }
            question *q = &out->q[out->n++];
            *q = (question){i, confirm, kind, a, b, 0, 0, 0, matches_gold(s, type_of_kind(kind), a, b)};
            double t0 = now_s(), c0 = cpu_s();
            if (sealm_guard_pii_slm_ask(v, s->text, s->len, kind, a, b, &q->p_yes, &err) != SEALM_OK)
                die("ask", err.message);
            q->ms = (now_s() - t0) * 1e3;
            q->cpu_ms = (cpu_s() - c0) * 1e3;
        }
        free(c);
        if ((i + 1) % 50 == 0) fprintf(stderr, "  %zu/%zu sentences, %zu questions\n", i + 1, set->n, out->n);
    }
}

static void asked_free(asked_set *a) {
    for (size_t i = 0; i < a->sentences->n; i++) sealm_guard_findings_free(&a->rules[i]);
    free(a->rules);
    free(a->q);
}

/* The findings of one mode for sentence i at threshold t, and what its questions cost. The
 * budget is applied as sealm_guard_pii_slm_verify does: rule findings first, then candidates. */
static void mode_findings(const asked_set *a, size_t i, size_t q0, size_t q1, int mode, float t, size_t max_q,
                          sealm_guard_findings *out, counts *c) {
    const sealm_guard_findings *f = &a->rules[i];
    out->n = 0;
    bool confirm = mode == M_CONFIRM || mode == M_BOTH, find = mode == M_FIND || mode == M_BOTH;
    size_t used = 0;
    for (size_t k = 0; k < f->n; k++) {
        bool drop = false;
        for (size_t j = q0; j < q1 && confirm; j++) {
            const question *q = &a->q[j];
            if (q->confirm && q->start == f->items[k].start && q->end == f->items[k].end && used < max_q) {
                used++;
                c->asked++;
                c->seconds += q->ms / 1e3;
                c->cpu_seconds += q->cpu_ms / 1e3;
                drop = q->p_yes < t;
                break;
            }
        }
        if (drop) {
            c->dropped++;
            continue;
        }
        sealm_guard_findings_push(out, f->items[k], NULL);
    }
    for (size_t j = q0; j < q1 && find; j++) {
        const question *q = &a->q[j];
        if (q->confirm || used >= max_q) continue;
        used++;
        c->asked++;
        c->seconds += q->ms / 1e3;
        c->cpu_seconds += q->cpu_ms / 1e3;
        if (q->p_yes >= t) {
            sealm_guard_finding add = {q->kind, q->start, q->end, q->p_yes, "slm"};
            sealm_guard_findings_push(out, add, NULL);
            c->added++;
        }
    }
    sealm_guard_findings_resolve(out);
}

/* Counts for every mode over a set at threshold t. */
static void score_modes(const asked_set *a, const bool *evaluated, float t, size_t max_q, counts out[M_N]) {
    memset(out, 0, M_N * sizeof out[0]);
    sealm_guard_findings f = {0};
    size_t q0 = 0;
    for (size_t i = 0; i < a->sentences->n; i++) {
        size_t q1 = q0;
        while (q1 < a->n && a->q[q1].sentence == i) q1++;
        for (int m = 0; m < M_N; m++) {
            mode_findings(a, i, q0, q1, m, t, max_q, &f, &out[m]);
            out[m].requests++;
            score(&a->sentences->items[i], &f, evaluated, &out[m]);
        }
        q0 = q1;
    }
    sealm_guard_findings_free(&f);
}

static double f1_of(const counts *c, int t) {
    double p = c->tp[t] + c->fp[t] ? (double)c->tp[t] / (double)(c->tp[t] + c->fp[t]) : 0;
    double r = c->tp[t] + c->fn[t] ? (double)c->tp[t] / (double)(c->tp[t] + c->fn[t]) : 0;
    return p + r > 0 ? 2 * p * r / (p + r) : 0;
}

/* Area under the ROC curve of p_yes for the questions of one kind and source (confirm or
 * find): the chance that a correct candidate gets a higher p_yes than a wrong one (ties
 * count half). 0.5 is a coin; -1 when either class is empty. */
static double auc(const asked_set *a, sealm_guard_kind kind, bool confirm, size_t *n_pos, size_t *n_neg) {
    double wins = 0;
    *n_pos = *n_neg = 0;
    for (size_t i = 0; i < a->n; i++) {
        const question *x = &a->q[i];
        if (x->kind != kind || x->confirm != confirm) continue;
        if (x->correct) (*n_pos)++;
        else (*n_neg)++;
        if (!x->correct) continue;
        for (size_t j = 0; j < a->n; j++) {
            const question *y = &a->q[j];
            if (y->kind != kind || y->confirm != confirm || y->correct) continue;
            wins += x->p_yes > y->p_yes ? 1.0 : x->p_yes == y->p_yes ? 0.5 : 0.0;
        }
    }
    return *n_pos && *n_neg ? wins / ((double)*n_pos * (double)*n_neg) : -1;
}

static double ratio(long a, long b) { return b ? (double)a / (double)b : 0.0; }

static void score_modes_at(const asked_set *a, const bool *evaluated, const float t[M_N], size_t max_q,
                           counts out[M_N]) {
    counts tmp[M_N];
    for (int m = 0; m < M_N; m++) {
        score_modes(a, evaluated, t[m], max_q, tmp);
        out[m] = tmp[m];
    }
}

static void report_scores(FILE *md, json_t *js, const char *title, const counts c[M_N], const float t[M_N],
                          const bool *evaluated) {
    fprintf(md, "\n%s\n\n| mode | threshold | type | gold | TP | FP | FN | precision | recall | F1 |\n"
                "|---|---|---|---|---|---|---|---|---|---|\n", title);
    for (int m = 0; m < M_N; m++) {
        json_t *jm = json_object();
        for (int ty = 0; ty < T_N; ty++) {
            if (!evaluated[ty]) continue;
            long gold = c[m].tp[ty] + c[m].fn[ty];
            double p = ratio(c[m].tp[ty], c[m].tp[ty] + c[m].fp[ty]), r = ratio(c[m].tp[ty], gold);
            double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
            char th[16] = "–";
            if (m != M_RULES) snprintf(th, sizeof th, "%.2f", (double)t[m]);
            fprintf(md, "| %s | %s | %s | %ld | %ld | %ld | %ld | %.3f | %.3f | %.3f |\n", MODE_NAMES[m], th,
                    TYPE_NAMES[ty], gold, c[m].tp[ty], c[m].fp[ty], c[m].fn[ty], p, r, f1);
            json_object_set_new(jm, TYPE_NAMES[ty],
                                json_pack("{s:I,s:I,s:I,s:I,s:f,s:f,s:f}", "gold", (json_int_t)gold, "tp",
                                          (json_int_t)c[m].tp[ty], "fp", (json_int_t)c[m].fp[ty], "fn",
                                          (json_int_t)c[m].fn[ty], "precision", p, "recall", r, "f1", f1));
        }
        json_object_set_new(jm, "threshold", json_real(m == M_RULES ? 0 : t[m]));
        json_object_set_new(js, MODE_NAMES[m], jm);
    }
}

static void report_cost(FILE *md, json_t *js, const counts c[M_N]) {
    fprintf(md, "\n| mode | questions | per request | ms per request (wall) | ms per question (wall) | CPU ms per request | "
                "CPU ms per question |\n|---|---|---|---|---|---|---|\n");
    for (int m = M_CONFIRM; m < M_N; m++) {
        double req = c[m].requests ? (double)c[m].requests : 1, q = c[m].asked ? (double)c[m].asked : 1;
        fprintf(md, "| %s | %zu | %.2f | %.1f | %.1f | %.1f | %.1f |\n", MODE_NAMES[m], c[m].asked,
                (double)c[m].asked / req, c[m].seconds * 1e3 / req, c[m].seconds * 1e3 / q,
                c[m].cpu_seconds * 1e3 / req, c[m].cpu_seconds * 1e3 / q);
        json_object_set_new(js, MODE_NAMES[m],
                            json_pack("{s:I,s:I,s:f,s:f,s:f,s:f}", "requests", (json_int_t)c[m].requests, "questions",
                                      (json_int_t)c[m].asked, "ms_per_request", c[m].seconds * 1e3 / req,
                                      "ms_per_question", c[m].seconds * 1e3 / q, "cpu_ms_per_request",
                                      c[m].cpu_seconds * 1e3 / req, "cpu_ms_per_question", c[m].cpu_seconds * 1e3 / q));
    }
}

static void report_auc(FILE *md, json_t *js, const asked_set *a, const bool *evaluated) {
    fprintf(md, "\n| questions about | kind | correct | wrong | AUC of p_yes | mean p_yes correct | mean p_yes wrong |\n"
                "|---|---|---|---|---|---|---|\n");
    for (int ty = 0; ty < T_N; ty++) {
        if (!evaluated[ty]) continue;
        sealm_guard_kind kind = ty == T_PERSON ? SEALM_GUARD_PERSON : SEALM_GUARD_ADDRESS;
        for (int src = 0; src < 2; src++) {
            bool confirm = src == 0;
            size_t np = 0, nn = 0;
            double area = auc(a, kind, confirm, &np, &nn), sp = 0, sn = 0;
            for (size_t i = 0; i < a->n; i++)
                if (a->q[i].kind == kind && a->q[i].confirm == confirm) {
                    if (a->q[i].correct) sp += a->q[i].p_yes;
                    else sn += a->q[i].p_yes;
                }
            fprintf(md, "| %s | %s | %zu | %zu | %.3f | %.3f | %.3f |\n", confirm ? "rule findings" : "cheap candidates",
                    TYPE_NAMES[ty], np, nn, area, np ? sp / (double)np : 0, nn ? sn / (double)nn : 0);
            char key[64];
            snprintf(key, sizeof key, "%s_%s", confirm ? "confirm" : "find", TYPE_NAMES[ty]);
            json_object_set_new(js, key, json_pack("{s:I,s:I,s:f}", "correct", (json_int_t)np, "wrong", (json_int_t)nn,
                                                   "auc", area));
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: pii_slm_eval SHARED_DIR MODEL.gguf OUT_DIR [--presidio N] [--wnut N] [--dev N] "
                        "[--threads T] [--max-candidates K] [--zero-shot 0|1]\n");
        return 2;
    }
    const char *shared = argv[1], *model_path = argv[2], *outdir = argv[3];
    size_t n_presidio = 300, n_wnut = 300, n_dev = 150;
    enum { DEV_PRESIDIO_SKIP = 1000 };
    sealm_guard_pii_slm_config cfg = sealm_guard_pii_slm_config_default();
    cfg.find = true;
    for (int i = 4; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--presidio")) n_presidio = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--wnut")) n_wnut = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--dev")) n_dev = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) cfg.n_threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--max-candidates")) cfg.max_candidates = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--zero-shot")) cfg.zero_shot = atoi(argv[i + 1]) != 0;
        else die("unknown option", argv[i]);
    }
    sealm_error err = {0};
    sealm_gguf *g = NULL;
    sealm_model *model = NULL;
    sealm_tokenizer *tok = NULL;
    if (sealm_gguf_open_file(model_path, &g, &err) != SEALM_OK || sealm_model_load(g, &model, &err) != SEALM_OK ||
        sealm_tokenizer_from_gguf(g, &tok, &err) != SEALM_OK)
        die(model_path, err.message);
    sealm_gguf_str tmpl = {0};
    if (sealm_gguf_get_str(g, "tokenizer.chat_template", &tmpl) == SEALM_OK)
        cfg.chat_format = (int32_t)sealm_chat_format_detect(tmpl.ptr, (size_t)tmpl.len);
    sealm_guard_pii *rules = NULL;
    sealm_guard_pii_slm *v = NULL;
    if (sealm_guard_pii_new(NULL, &rules, &err) != SEALM_OK) die("rules", err.message);
    if (sealm_guard_pii_slm_new(model, tok, &cfg, &v, &err) != SEALM_OK) die("verifier", err.message);

    /* evaluation: the first N sentences; dev (threshold choice only): presidio-research rows
     * from 1000 on and wnut17's dev file, disjoint from the evaluation sentences */
    char path[4096];
    sentence_set presidio = {0}, wnut = {0}, dev_presidio = {0}, dev_wnut = {0};
    snprintf(path, sizeof path, "%s/datasets/presidio-research/synth_dataset_v2.json", shared);
    load_presidio(path, &presidio, 0, n_presidio);
    load_presidio(path, &dev_presidio, DEV_PRESIDIO_SKIP, n_dev);
    snprintf(path, sizeof path, "%s/datasets/wnut17-emerging-entities/wnut17train.conll", shared);
    load_wnut(path, &wnut, n_wnut);
    snprintf(path, sizeof path, "%s/datasets/wnut17-emerging-entities/emerging.dev.conll", shared);
    load_wnut(path, &dev_wnut, n_dev);

    asked_set a_presidio = {0}, a_wnut = {0}, a_dev_presidio = {0}, a_dev_wnut = {0};
    bool ev_presidio[T_N] = {true, true}, ev_wnut[T_N] = {true, false};
    const struct { const char *name; const sentence_set *s; asked_set *a; } runs[] = {
        {"presidio-research", &presidio, &a_presidio}, {"wnut17", &wnut, &a_wnut},
        {"dev presidio-research", &dev_presidio, &a_dev_presidio}, {"dev wnut17", &dev_wnut, &a_dev_wnut}};
    for (size_t r = 0; r < 4; r++) {
        fprintf(stderr, "%s: %zu sentences\n", runs[r].name, runs[r].s->n);
        ask_all(runs[r].s, rules, v, cfg.max_candidates, runs[r].a);
    }

    /* thresholds: 0.5, and per mode the one with the best summed F1 on the dev sentences */
    float t_half[M_N] = {0.5f, 0.5f, 0.5f, 0.5f}, t_dev[M_N] = {0.5f, 0.5f, 0.5f, 0.5f};
    for (int m = M_CONFIRM; m < M_N; m++) {
        double best = -1;
        for (int k = 1; k < 100; k++) {
            float t = (float)k / 100.0f;
            counts cp[M_N], cw[M_N];
            score_modes(&a_dev_presidio, ev_presidio, t, cfg.max_candidates, cp);
            score_modes(&a_dev_wnut, ev_wnut, t, cfg.max_candidates, cw);
            double sum = f1_of(&cp[m], T_PERSON) + f1_of(&cp[m], T_ADDRESS) + f1_of(&cw[m], T_PERSON);
            if (sum > best + 1e-12) {
                best = sum;
                t_dev[m] = t;
            }
        }
    }

    snprintf(path, sizeof path, "%s/pii_slm_eval.md", outdir);
    FILE *md = fopen(path, "w");
    if (!md) die("cannot write", path);
    fprintf(md, "# pii_slm_eval — SLM verifier for persons and addresses\n\n"
                "Generated by bench/pii_slm_eval.sh. Model %s, prompt %s; at most %zu questions per request, %d tokens of context, "
                "%d threads (0: physical cores). Evaluation: the first %zu sentences of presidio-research "
                "(synth_dataset_v2) and the first %zu of wnut17 train; thresholds chosen on %zu + %zu dev sentences "
                "(presidio-research rows from %d on, wnut17 dev), summed F1. Match rule: same type, overlap >= 50%% "
                "of the gold span. Cost: wall and process CPU time of each question (one prefill, KV cache shared within a "
                "request).\n",
            strrchr(model_path, '/') ? strrchr(model_path, '/') + 1 : model_path,
            cfg.zero_shot ? "zero-shot" : "with four worked examples", cfg.max_candidates,
            cfg.max_context_tokens, cfg.n_threads, presidio.n, wnut.n, dev_presidio.n, dev_wnut.n, DEV_PRESIDIO_SKIP);
    json_t *root = json_object();
    json_object_set_new(root, "zero_shot", json_boolean(cfg.zero_shot));
    json_object_set_new(root, "max_candidates", json_integer((json_int_t)cfg.max_candidates));
    json_object_set_new(root, "max_context_tokens", json_integer(cfg.max_context_tokens));
    const struct { const char *name; const asked_set *a; const bool *ev; } sets[] = {
        {"presidio-research", &a_presidio, ev_presidio}, {"wnut17", &a_wnut, ev_wnut}};
    for (size_t k = 0; k < 2; k++) {
        json_t *js = json_object(), *j1 = json_object(), *j2 = json_object(), *jc = json_object(), *ja = json_object();
        counts c[M_N];
        fprintf(md, "\n## %s (first %zu sentences)\n", sets[k].name, sets[k].a->sentences->n);
        score_modes_at(sets[k].a, sets[k].ev, t_half, cfg.max_candidates, c);
        report_scores(md, j1, "At threshold 0.5:", c, t_half, sets[k].ev);
        report_cost(md, jc, c);
        score_modes_at(sets[k].a, sets[k].ev, t_dev, cfg.max_candidates, c);
        report_scores(md, j2, "At the thresholds chosen on the dev sentences:", c, t_dev, sets[k].ev);
        fprintf(md, "\nHow well p_yes separates correct from wrong candidates (threshold-free):\n");
        report_auc(md, ja, sets[k].a, sets[k].ev);
        json_object_set_new(js, "sentences", json_integer((json_int_t)sets[k].a->sentences->n));
        json_object_set_new(js, "threshold_0.5", j1);
        json_object_set_new(js, "threshold_dev", j2);
        json_object_set_new(js, "cost", jc);
        json_object_set_new(js, "auc", ja);
        json_object_set_new(root, sets[k].name, js);
    }
    fclose(md);
    snprintf(path, sizeof path, "%s/pii_slm_eval.json", outdir);
    if (json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(5)) != 0) die("cannot write", path);
    json_decref(root);

    for (size_t r = 0; r < 4; r++) asked_free(runs[r].a);
    sealm_guard_pii_slm_free(v);
    sealm_guard_pii_free(rules);
    sentence_set *all[] = {&presidio, &wnut, &dev_presidio, &dev_wnut};
    for (size_t k = 0; k < 4; k++) {
        for (size_t i = 0; i < all[k]->n; i++) free(all[k]->items[i].text);
        free(all[k]->items);
    }
    sealm_tokenizer_free(tok);
    sealm_model_free(model);
    sealm_gguf_close(g);
    return 0;
}
