/* sealm tokenize: the token ids of a text, as a JSON array. */
#include "tools/cli.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: sealm tokenize -m FILE (-p TEXT | --prompt-file FILE) [--no-bos] [--special]\n"
               "  prints the ids as a JSON array; BOS is added when the model asks for it, unless --no-bos;\n"
               "  special-token text (e.g. <|im_start|>) is matched only with --special\n");
}

int cmd_tokenize(int argc, char **argv) {
    cli_run_options o;
    cli_run_options_init(&o);
    int status = cli_parse_command_args("tokenize", argc, argv, &o, usage, NULL, NULL);
    if (status >= 0) return status;
    char *text = cli_read_prompt(&o);
    if (!text) return EXIT_USAGE;
    cli_model cm;
    sealm_error err = {0};
    /* the tokenizer alone: no weights need to be bound to tokenize */
    int rc = cli_gguf_open(&cm, o.model_path, &o);
    if (!rc && sealm_tokenizer_from_gguf(cm.gguf, &cm.tok, &err)) {
        cli_error("%s: %s", o.model_path, err.message);
        rc = 1;
    }
    if (rc) {
        free(text);
        cli_model_close(&cm);
        return rc;
    }
    int32_t *ids = NULL, n = 0;
    rc = cli_tokenize_prompt(&cm, &o, text, &ids, &n);
    if (!rc) {
        fputc('[', stdout);
        for (int32_t i = 0; i < n; i++) printf(i ? ", %d" : "%d", ids[i]);
        fputs("]\n", stdout);
    }
    free(ids);
    free(text);
    cli_model_close(&cm);
    return rc;
}
