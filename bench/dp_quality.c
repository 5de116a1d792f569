/* Quality cost of differentially private decoding (dp_epsilon, src/sample/dp.c).
 *
 * usage: dp_quality MODEL.gguf SHARED_DIR [--json OUT.json] [--md OUT.md]
 * For the first 8 alpaca seed instructions (chat template of the model), generates 32 tokens
 * with greedy decoding plus DP at several ε (seeded per prompt), and reports per ε: λ, the fraction of
 * generated tokens that differ from the greedy choice at that step, and the perplexity of the
 * generated text under the model itself (softmax at T = 1; greedy text is the baseline). */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealm/engine.h"
#include "sealm/gguf.h"
#include "sealm/sample.h"
#include "sealm/tokenizer.h"

enum { N_PROMPTS = 8, N_GEN = 32 };

static double token_nll(const float *logits, int32_t n, int32_t tok) {
    double m = -INFINITY, acc = 0;
    for (int32_t i = 0; i < n; i++) m = logits[i] > m ? logits[i] : m;
    for (int32_t i = 0; i < n; i++) acc += exp((double)logits[i] - m);
    return -((double)logits[tok] - m - log(acc));
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: dp_quality MODEL.gguf SHARED_DIR [--json F] [--md F]\n");
        return 2;
    }
    const char *json_out = NULL, *md_out = NULL;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--json")) json_out = argv[i + 1];
        if (!strcmp(argv[i], "--md")) md_out = argv[i + 1];
    }
    sealm_error err = {0};
    sealm_gguf *g = NULL;
    sealm_model *m = NULL;
    sealm_tokenizer *tok = NULL;
    sealm_context *ctx = NULL;
    sealm_context_params cp = sealm_context_params_default();
    cp.n_ctx = 512;
    if (sealm_gguf_open_file(argv[1], &g, &err) != SEALM_OK || sealm_model_load(g, &m, &err) != SEALM_OK ||
        sealm_tokenizer_from_gguf(g, &tok, &err) != SEALM_OK || sealm_context_new(m, &cp, &ctx, &err) != SEALM_OK) {
        fprintf(stderr, "dp_quality: %s\n", err.message);
        return 1;
    }
    int32_t n_vocab = sealm_tokenizer_n_vocab(tok);

    char *prompts[N_PROMPTS] = {0};
    char path[8300];
    snprintf(path, sizeof path, "%s/datasets/alpaca-seed-tasks/seed_tasks.jsonl", argv[2]);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "dp_quality: cannot open %s\n", path);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    for (int k = 0; k < N_PROMPTS && getline(&line, &cap, f) > 0;) {
        json_error_t je;
        json_t *row = json_loads(line, 0, &je);
        const char *ins = json_string_value(json_object_get(row, "instruction"));
        if (ins) prompts[k++] = strdup(ins);
        json_decref(row);
    }
    free(line);
    fclose(f);

    static const double EPS[] = {0.0, 1.0, 5.0, 10.0, 12.0, 15.0, 20.0, 30.0};
    enum { N_EPS = sizeof EPS / sizeof EPS[0] };
    json_t *rows = json_array();
    FILE *md = md_out ? fopen(md_out, "w") : stdout;
    fprintf(md, "# DP decoding quality cost (%s, |V| = %d)\n\n"
                "%d alpaca seed prompts × %d generated tokens, greedy base, seed 1 + prompt index. ε per token; a reply of T "
                "tokens is Tε-DP.\n\n| ε | λ | tokens ≠ greedy choice | perplexity of output (model, T=1) |\n"
                "|---|---|---|---|\n",
            argv[1], (int)n_vocab, N_PROMPTS, N_GEN);
    for (size_t e = 0; e < N_EPS; e++) {
        sealm_sample_params sp = sealm_sample_params_default();
        sp.temperature = 0.0f;
        sp.dp_epsilon = (float)EPS[e];
        sp.seed = 1;
        size_t changed = 0, total = 0;
        double nll = 0;
        for (int k = 0; k < N_PROMPTS && prompts[k]; k++) {
            sealm_sampler *smp = NULL;
            sp.seed = 1 + (uint64_t)k;   /* independent draws per prompt, the same for every ε */
            if (sealm_sampler_new(&sp, n_vocab, &smp, &err) != SEALM_OK) {
                fprintf(stderr, "dp_quality: %s\n", err.message);
                return 1;
            }
            sealm_chat_message msg = {"user", prompts[k]};
            int32_t *ids = NULL;
            size_t n_ids = 0;
            if (sealm_chat_tokenize(tok, SEALM_CHAT_CHATML, &msg, 1, true, NULL, &ids, &n_ids, &err) != SEALM_OK) {
                fprintf(stderr, "dp_quality: %s\n", err.message);
                return 1;
            }
            sealm_context_truncate(ctx, 0);
            sealm_status st = sealm_context_eval(ctx, ids, (int32_t)n_ids, false, &err);
            free(ids);
            for (int t = 0; st == SEALM_OK && t < N_GEN; t++) {
                const float *lg = sealm_context_logits(ctx, -1);
                int32_t greedy = sealm_argmax(lg, n_vocab);
                int32_t y = sealm_sampler_sample(smp, lg);
                changed += y != greedy;
                total++;
                nll += token_nll(lg, n_vocab, y);
                st = sealm_context_eval(ctx, &y, 1, false, &err);
            }
            sealm_sampler_free(smp);
            if (st != SEALM_OK) {
                fprintf(stderr, "dp_quality: %s\n", err.message);
                return 1;
            }
        }
        double lambda = sealm_sample_dp_lambda(EPS[e], n_vocab);
        double frac = total ? (double)changed / (double)total : 0, ppl = total ? exp(nll / (double)total) : 0;
        char eps_cell[16];
        snprintf(eps_cell, sizeof eps_cell, "%g", EPS[e]);
        fprintf(md, "| %s | %.6f | %.3f | %.2f |\n", EPS[e] == 0 ? "off" : eps_cell, lambda, frac, ppl);
        json_array_append_new(rows, json_pack("{s:f, s:f, s:f, s:f, s:I}", "epsilon", EPS[e], "lambda", lambda,
                                              "changed_fraction", frac, "perplexity", ppl, "tokens", (json_int_t)total));
    }
    if (json_out) {
        json_t *root = json_pack("{s:s, s:i, s:o}", "model", argv[1], "n_vocab", (int)n_vocab, "rows", rows);
        json_dump_file(root, json_out, JSON_INDENT(2));
        json_decref(root);
    } else {
        json_decref(rows);
    }
    if (md != stdout) fclose(md);
    for (int k = 0; k < N_PROMPTS; k++) free(prompts[k]);
    sealm_context_free(ctx);
    sealm_tokenizer_free(tok);
    sealm_model_free(m);
    sealm_gguf_close(g);
    return 0;
}
