/* sealm chat: interactive multi-turn conversation. One line of stdin is one user message;
 * the whole conversation is re-rendered with the chat template each turn, and the KV cache
 * keeps the longest prefix it shares with what was already evaluated. */
#include "tools/cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f, "usage: sealm chat -m FILE [--system TEXT] [options]\n"
               "  reads one user message per line from stdin; /reset starts over, /exit (or end of input) quits\n");
    cli_print_run_options(f);
}

typedef struct conversation {
    sealm_chat_message *msgs;
    size_t n, cap;
} conversation;

static int conversation_add(conversation *c, const char *role, const char *content) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        sealm_chat_message *m = realloc(c->msgs, cap * sizeof *m);
        if (!m) return -1;
        c->msgs = m;
        c->cap = cap;
    }
    char *copy = strdup(content);
    if (!copy) return -1;
    c->msgs[c->n++] = (sealm_chat_message){role, copy};
    return 0;
}

static void conversation_clear(conversation *c, size_t keep) {
    for (size_t i = keep; i < c->n; i++) free((char *)c->msgs[i].content);
    c->n = keep;
}

/* The reply's text: the generated tokens decoded back to UTF-8. */
static char *decode_all(const sealm_tokenizer *tok, const int32_t *ids, int32_t n) {
    size_t cap = 256, len = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    for (int32_t i = 0; i < n; i++) {
        size_t need = sealm_token_to_bytes(tok, ids[i], false, NULL, 0);
        if (len + need + 1 > cap) {
            while (len + need + 1 > cap) cap *= 2;
            char *b = realloc(s, cap);
            if (!b) { free(s); return NULL; }
            s = b;
        }
        sealm_token_to_bytes(tok, ids[i], false, s + len, cap - len);
        len += need;
    }
    s[len] = '\0';
    return s;
}

static char *read_line(FILE *in) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, in);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    return line;
}

int cmd_chat(int argc, char **argv) {
    cli_run_options o;
    cli_run_options_init(&o);
    o.n_predict = 512;
    int status = cli_parse_command_args("chat", argc, argv, &o, usage, NULL, NULL);
    if (status >= 0) return status;
    if (o.prompt || o.prompt_file) {
        cli_error("chat reads messages from stdin; use `sealm generate --chat -p TEXT` for a single prompt");
        return EXIT_USAGE;
    }
    if (!o.seed_given) o.sample.seed = cli_random_seed();
    cli_model cm;
    int rc = cli_model_open(&cm, o.model_path, &o, true);
    if (rc) return rc;
    char *default_system = NULL;
    const sealm_chat_format fmt = cli_chat_format(&cm, &o, &default_system);
    sealm_sampler *sampler = NULL;
    sealm_error err = {0};
    if (fmt == SEALM_CHAT_UNKNOWN) {
        cli_error("%s: the model has no chat template sealm recognizes; pass --chat-template NAME", cm.path);
        rc = EXIT_USAGE;
    } else if (sealm_sampler_new(&o.sample, sealm_model_hparams(cm.model)->n_vocab, &sampler, &err)) {
        cli_error("%s", err.message);
        rc = EXIT_USAGE;
    }
    conversation conv = {0};
    size_t n_fixed = 0;   /* messages kept by /reset */
    if (!rc && o.system) {
        if (conversation_add(&conv, "system", o.system)) rc = 1;
        n_fixed = 1;
    }
    int32_t *cached = NULL;       /* the tokens whose keys/values are in the cache, in order */
    int32_t n_cached = 0;
    const bool interactive = isatty(STDIN_FILENO);
    while (!rc) {
        if (interactive) fputs("> ", stderr);
        char *line = read_line(stdin);
        if (!line || !strcmp(line, "/exit") || !strcmp(line, "/quit")) {
            free(line);
            break;
        }
        if (!strcmp(line, "/reset")) {
            conversation_clear(&conv, n_fixed);
            free(line);
            continue;
        }
        if (!*line) {
            free(line);
            continue;
        }
        if (conversation_add(&conv, "user", line)) {
            free(line);
            rc = 1;
            break;
        }
        free(line);
        int32_t *ids = NULL;
        size_t n_ids = 0;
        if (sealm_chat_tokenize(cm.tok, fmt, conv.msgs, conv.n, true, default_system, &ids, &n_ids, &err)) {
            cli_error("cannot apply the chat template: %s", err.message);
            rc = 1;
            break;
        }
        if ((int64_t)n_ids + 1 > sealm_context_n_ctx(cm.ctx)) {
            cli_error("the conversation (%zu tokens) no longer fits the context of %d; type /reset or raise -c",
                      n_ids, sealm_context_n_ctx(cm.ctx));
            free(ids);
            conversation_clear(&conv, conv.n - 1);
            continue;
        }
        /* reuse the cached prefix; keep at least one token to evaluate so that logits exist */
        int32_t keep = 0;
        while (keep < n_cached && keep < (int32_t)n_ids - 1 && cached[keep] == ids[keep]) keep++;
        sealm_context_truncate(cm.ctx, keep);
        sealm_sampler_reset(sampler);
        for (int32_t i = 0; i < keep; i++) sealm_sampler_accept(sampler, ids[i]);

        int32_t *gen = NULL, n_gen = 0;
        cli_gen_stats st;
        rc = cli_generate(&cm, &o, sampler, ids + keep, (int32_t)n_ids - keep, stdout, &gen, &n_gen, &st);
        fputc('\n', stdout);
        fflush(stdout);
        if (!rc) {
            char *reply = decode_all(cm.tok, gen, n_gen);
            if (!reply || conversation_add(&conv, "assistant", reply)) rc = 1;
            free(reply);
            /* what the cache now holds: the prompt, then the generated tokens that were evaluated */
            const int32_t n_past = sealm_context_n_past(cm.ctx);
            int32_t *next = malloc(((size_t)n_ids + (size_t)n_gen + 1) * sizeof *next);
            if (!next) rc = 1;
            else {
                memcpy(next, ids, n_ids * sizeof *next);
                memcpy(next + n_ids, gen, (size_t)n_gen * sizeof *next);
                free(cached);
                cached = next;
                n_cached = n_past;
            }
            if (o.verbose)
                fprintf(stderr, "sealm: prefill %d tokens (%d reused) in %.3f s; decode %d tokens in %.3f s (%.1f tok/s)\n",
                        st.n_prompt, keep, st.prefill_s, st.n_generated, st.decode_s,
                        st.decode_s > 0 ? st.n_generated / st.decode_s : 0.0);
        }
        free(gen);
        free(ids);
    }
    conversation_clear(&conv, 0);
    free(conv.msgs);
    free(cached);
    free(default_system);
    sealm_sampler_free(sampler);
    cli_model_close(&cm);
    return rc;
}
