/* sealm generate: one prompt in, text streamed out. */
#include "tools/cli.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: sealm generate -m FILE (-p TEXT | --prompt-file FILE) [options]\n"
               "  --chat                   treat the prompt as a user message in the model's chat template\n"
               "  --ids                    print the generated token ids as a JSON array instead of the text\n");
    cli_print_run_options(f);
}

/* The prompt's tokens: plain, or wrapped as one user turn of the chat template. */
static int prompt_tokens(const cli_model *cm, const cli_run_options *o, const char *text, int32_t **ids, int32_t *n) {
    if (!o->chat) return cli_tokenize_prompt(cm, o, text, ids, n);
    char *default_system = NULL;
    sealm_chat_format fmt = cli_chat_format(cm, o, &default_system);
    if (fmt == SEALM_CHAT_UNKNOWN) {
        free(default_system);
        cli_error("%s: the model has no chat template sealm recognizes; pass --chat-template NAME", cm->path);
        return EXIT_USAGE;
    }
    sealm_chat_message msgs[2];
    size_t n_msgs = 0;
    if (o->system) msgs[n_msgs++] = (sealm_chat_message){"system", o->system};
    msgs[n_msgs++] = (sealm_chat_message){"user", text};
    sealm_error err = {0};
    size_t count = 0;
    sealm_status s = sealm_chat_tokenize(cm->tok, fmt, msgs, n_msgs, true, default_system, ids, &count, &err);
    free(default_system);
    if (s) {
        cli_error("cannot apply the chat template: %s", err.message);
        return 1;
    }
    *n = (int32_t)count;
    return 0;
}

int cmd_generate(int argc, char **argv) {
    cli_run_options o;
    cli_run_options_init(&o);
    int status = cli_parse_command_args("generate", argc, argv, &o, usage, NULL, NULL);
    if (status >= 0) return status;
    if (!o.seed_given) o.sample.seed = cli_random_seed();
    char *text = cli_read_prompt(&o);
    if (!text) return EXIT_USAGE;
    cli_model cm;
    int rc = cli_model_open(&cm, o.model_path, &o, true);
    if (rc) {
        free(text);
        return rc;
    }
    int32_t *ids = NULL, n_ids = 0, *gen = NULL, n_gen = 0;
    sealm_sampler *sampler = NULL;
    sealm_error err = {0};
    rc = prompt_tokens(&cm, &o, text, &ids, &n_ids);
    if (!rc && n_ids == 0) {
        cli_error("the prompt is empty after tokenization; give some text");
        rc = EXIT_USAGE;
    }
    if (!rc && sealm_sampler_new(&o.sample, sealm_model_hparams(cm.model)->n_vocab, &sampler, &err)) {
        cli_error("%s", err.message);
        rc = EXIT_USAGE;
    }
    cli_gen_stats st;
    FILE *text_out = stdout;
    if (!rc && o.print_ids && !(text_out = fopen("/dev/null", "w"))) {
        cli_error("cannot open /dev/null");
        rc = 1;
    }
    if (!rc) rc = cli_generate(&cm, &o, sampler, ids, n_ids, text_out, &gen, &n_gen, &st);
    if (text_out && text_out != stdout) fclose(text_out);
    if (!rc) {
        if (o.print_ids) {
            fputc('[', stdout);
            for (int32_t i = 0; i < n_gen; i++) printf(i ? ", %d" : "%d", gen[i]);
            fputc(']', stdout);
        }
        fputc('\n', stdout);
        if (o.verbose) {
            fprintf(stderr, "sealm: seed %llu, %d threads\n", (unsigned long long)o.sample.seed, sealm_context_n_threads(cm.ctx));
            fprintf(stderr, "sealm: prefill %d tokens in %.3f s (%.1f tok/s); decode %d tokens in %.3f s (%.1f tok/s)%s\n",
                    st.n_prompt, st.prefill_s, st.prefill_s > 0 ? st.n_prompt / st.prefill_s : 0.0, st.n_generated,
                    st.decode_s, st.decode_s > 0 ? st.n_generated / st.decode_s : 0.0,
                    st.hit_eog ? ", stopped at end of generation" : st.hit_stop ? ", stopped at a stop string"
                    : st.hit_context_limit ? ", stopped: context full" : "");
        }
        if (st.hit_context_limit)
            cli_error("stopped early: the context of %d tokens is full (raise it with -c)", sealm_context_n_ctx(cm.ctx));
    }
    sealm_sampler_free(sampler);
    free(ids);
    free(gen);
    free(text);
    cli_model_close(&cm);
    return rc;
}
