/* sealm logits: the top-K raw logits at every prompt position, as JSON, for comparing the
 * engine with reference implementations. Output:
 *   {"tokens":[...],"top":[[[id,logit],...],...]}            (one list per prompt position)
 * and with --last-all also "last_logits":[...] (all n_vocab logits of the last position). */
#include "tools/cli.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: sealm logits -m FILE (-p TEXT | --prompt-file FILE) [--top K] [--last-all] [--no-bos]\n"
               "  --top K      logits per position (default 10)\n"
               "  --last-all   also print every logit of the last position\n");
}

/* Indices of the k largest of x[0..n), largest first (ties: lower id first). */
static void top_k(const float *x, int32_t n, int32_t k, int32_t *idx) {
    int32_t filled = 0;
    for (int32_t i = 0; i < n; i++) {
        if (filled == k && !(x[i] > x[idx[k - 1]])) continue;
        int32_t j = filled < k ? filled++ : k - 1;
        while (j > 0 && x[i] > x[idx[j - 1]]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
}

typedef struct logits_options {
    int32_t k;          /* --top */
    bool last_all;      /* --last-all */
} logits_options;

static int parse_logits_option(void *ctx, int argc, char **argv, int *i) {
    logits_options *lo = ctx;
    if (!strcmp(argv[*i], "--last-all")) {
        lo->last_all = true;
        return 1;
    }
    if (strcmp(argv[*i], "--top") != 0) return 0;
    char *end = NULL;
    long v = *i + 1 < argc ? strtol(argv[*i + 1], &end, 10) : -1;
    if (*i + 1 >= argc || *end || v < 1 || v > 1000) {
        cli_error("--top expects a whole number in [1, 1000]");
        return -1;
    }
    lo->k = (int32_t)v;
    ++*i;
    return 1;
}

int cmd_logits(int argc, char **argv) {
    cli_run_options o;
    cli_run_options_init(&o);
    logits_options lo = {.k = 10, .last_all = false};
    int status = cli_parse_command_args("logits", argc, argv, &o, usage, parse_logits_option, &lo);
    if (status >= 0) return status;
    int32_t k = lo.k;
    const bool last_all = lo.last_all;
    char *text = cli_read_prompt(&o);
    if (!text) return EXIT_USAGE;
    cli_model cm;
    int rc = cli_model_open(&cm, o.model_path, &o, true);
    if (rc) {
        free(text);
        return rc;
    }
    int32_t *ids = NULL, n = 0;
    sealm_error err = {0};
    rc = cli_tokenize_prompt(&cm, &o, text, &ids, &n);
    if (!rc && n == 0) {
        cli_error("the prompt is empty after tokenization; give some text");
        rc = EXIT_USAGE;
    }
    if (!rc && sealm_context_eval(cm.ctx, ids, n, true, &err)) {
        cli_error("%s", err.message);
        rc = 1;
    }
    const int32_t n_vocab = sealm_model_hparams(cm.model)->n_vocab;
    if (k > n_vocab) k = n_vocab;
    int32_t *idx = malloc((size_t)k * sizeof *idx);
    if (!rc && !idx) rc = 1;
    if (!rc) {
        fputs("{\"tokens\":[", stdout);
        for (int32_t i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
        fputs("],\"top\":[", stdout);
        for (int32_t i = 0; i < n; i++) {
            const float *lg = sealm_context_logits(cm.ctx, i);
            top_k(lg, n_vocab, k, idx);
            fputs(i ? ",[" : "[", stdout);
            for (int32_t j = 0; j < k; j++) printf(j ? ",[%d,%.9g]" : "[%d,%.9g]", idx[j], (double)lg[idx[j]]);
            fputc(']', stdout);
        }
        fputc(']', stdout);
        if (last_all) {
            const float *lg = sealm_context_logits(cm.ctx, n - 1);
            fputs(",\"last_logits\":[", stdout);
            for (int32_t j = 0; j < n_vocab; j++) printf(j ? ",%.9g" : "%.9g", (double)lg[j]);
            fputc(']', stdout);
        }
        fputs("}\n", stdout);
    }
    free(idx);
    free(ids);
    free(text);
    cli_model_close(&cm);
    return rc;
}
