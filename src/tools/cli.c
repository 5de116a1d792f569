/* Shared CLI pieces: option parsing, model loading, the streaming generation loop. */
#include "tools/cli.h"

#include <errno.h>
#include <sodium.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("sealm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

double cli_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_run_options_init(cli_run_options *o) {
    memset(o, 0, sizeof *o);
    o->n_predict = 128;
    o->sample = sealm_sample_params_default();
}

static int parse_int(const char *opt, const char *s, long lo, long hi, int32_t *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_error("%s expects a whole number in [%ld, %ld], got '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = (int32_t)v;
    return 1;
}

static int parse_float(const char *opt, const char *s, double lo, double hi, float *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        cli_error("%s expects a number in [%g, %g], got '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = (float)v;
    return 1;
}

static int parse_u64(const char *opt, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (*s == '-') {
        cli_error("%s expects a non-negative whole number, got '%s'", opt, s);
        return -1;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end) {
        cli_error("%s expects a non-negative whole number, got '%s'", opt, s);
        return -1;
    }
    *out = v;
    return 1;
}

int cli_parse_run_option(cli_run_options *o, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    /* flags without a value */
    if (strcmp(a, "--chat") == 0) { o->chat = true; return 1; }
    if (strcmp(a, "--no-bos") == 0) { o->no_bos = true; return 1; }
    if (strcmp(a, "--special") == 0) { o->parse_special = true; return 1; }
    if (strcmp(a, "--ids") == 0) { o->print_ids = true; return 1; }
    if (strcmp(a, "--ignore-eos") == 0) { o->ignore_eos = true; return 1; }
    if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) { o->verbose = true; return 1; }

    static const char *const with_value[] = {
        "-m", "--model", "-p", "--prompt", "--prompt-file", "-n", "--n-predict", "-t", "--threads", "-c",
        "--ctx-size", "--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty", "--repeat-last-n",
        "--frequency-penalty", "--presence-penalty", "--dp-epsilon", "--seed", "--stop", "--system", "--chat-template",
        "--device-key", "--trust", "--state", "--passphrase-file", "--tpm"};
    bool known = false;
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) known |= strcmp(a, with_value[k]) == 0;
    if (!known) return 0;
    if (*i + 1 >= argc) {
        cli_error("%s needs a value", a);
        return -1;
    }
    const char *v = argv[++*i];
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) { o->model_path = v; return 1; }
    if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) { o->prompt = v; return 1; }
    if (!strcmp(a, "--prompt-file")) { o->prompt_file = v; return 1; }
    if (!strcmp(a, "--system")) { o->system = v; return 1; }
    if (!strcmp(a, "--device-key")) { o->device_key = v; return 1; }
    if (!strcmp(a, "--trust")) { o->trust = v; return 1; }
    if (!strcmp(a, "--state")) { o->state = v; return 1; }
    if (!strcmp(a, "--passphrase-file")) { o->passphrase_file = v; return 1; }
    if (!strcmp(a, "--tpm")) { o->tpm = v; return 1; }
    if (!strcmp(a, "--chat-template")) {
        if (sealm_chat_format_from_name(v) == SEALM_CHAT_UNKNOWN) {
            cli_error("--chat-template '%s' is unknown; use one of chatml, llama2, llama3, zephyr, phi3", v);
            return -1;
        }
        o->chat_template = v;
        return 1;
    }
    if (!strcmp(a, "--stop")) {
        if (o->n_stops >= sizeof o->stops / sizeof o->stops[0]) {
            cli_error("at most %zu --stop strings", sizeof o->stops / sizeof o->stops[0]);
            return -1;
        }
        if (!*v) {
            cli_error("--stop needs a non-empty string");
            return -1;
        }
        o->stops[o->n_stops++] = v;
        return 1;
    }
    if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) return parse_int(a, v, 0, 1 << 20, &o->n_predict);
    if (!strcmp(a, "-t") || !strcmp(a, "--threads")) return parse_int(a, v, 1, 256, &o->n_threads);
    if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) return parse_int(a, v, 16, 1 << 20, &o->n_ctx);
    if (!strcmp(a, "--temp")) return parse_float(a, v, 0.0, 100.0, &o->sample.temperature);
    if (!strcmp(a, "--top-k")) return parse_int(a, v, 0, 1 << 30, &o->sample.top_k);
    if (!strcmp(a, "--top-p")) return parse_float(a, v, 0.0, 1.0, &o->sample.top_p);
    if (!strcmp(a, "--min-p")) return parse_float(a, v, 0.0, 1.0, &o->sample.min_p);
    if (!strcmp(a, "--repeat-penalty")) return parse_float(a, v, 0.0, 100.0, &o->sample.repeat_penalty);
    if (!strcmp(a, "--repeat-last-n")) return parse_int(a, v, 0, 1 << 20, &o->sample.repeat_last_n);
    if (!strcmp(a, "--frequency-penalty")) return parse_float(a, v, -2.0, 2.0, &o->sample.frequency_penalty);
    if (!strcmp(a, "--presence-penalty")) return parse_float(a, v, -2.0, 2.0, &o->sample.presence_penalty);
    if (!strcmp(a, "--dp-epsilon")) return parse_float(a, v, 0.0, 1000.0, &o->sample.dp_epsilon);
    if (!strcmp(a, "--seed")) {
        o->seed_given = true;
        return parse_u64(a, v, &o->sample.seed);
    }
    return 0;
}

int cli_parse_command_args(const char *cmd, int argc, char **argv, cli_run_options *o, void (*usage)(FILE *),
                           cli_extra_option_fn extra, void *ctx) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        int r = extra ? extra(ctx, argc, argv, &i) : 0;
        if (r == 0) r = cli_parse_run_option(o, argc, argv, &i);
        if (r < 0) return EXIT_USAGE;
        if (r == 0) {
            cli_error("%s: unknown option '%s'", cmd, argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    return -1;
}

void cli_print_run_options(FILE *f) {
    fprintf(f,
            "  -m, --model FILE         GGUF model file (required)\n"
            "  -t, --threads N          worker threads (default: physical cores)\n"
            "  -c, --ctx-size N         context size in tokens (default: min(model's, 4096))\n"
            "  -n, --n-predict N        tokens to generate at most (default 128)\n"
            "  --temp T                 temperature; 0 = greedy (default 0.8)\n"
            "  --top-k K, --top-p P, --min-p P   truncation (defaults 40, 0.95, 0.05; 0/1/0 = off)\n"
            "  --repeat-penalty R, --repeat-last-n N, --frequency-penalty F, --presence-penalty P\n"
            "  --dp-epsilon E           differentially private decoding, E per token (0 = off; docs/guard.md)\n"
            "  --seed S                 sampling seed (default: random, printed with -v)\n"
            "  --stop STR               stop when STR is generated (repeatable)\n"
            "  --system TEXT            system message (chat)\n"
            "  --chat-template NAME     chatml|llama2|llama3|zephyr|phi3 (default: from the model)\n"
            "  --no-bos                 do not add the BOS token to a plain prompt\n"
            "  --ignore-eos             keep generating past end-of-generation tokens (for benchmarks)\n"
            "  --special                match special-token text (e.g. <|im_start|>) in a plain prompt\n"
            "  --device-key FILE, --trust FILE, --state FILE   open a sealed bundle given as -m (sealm seal);\n"
            "                           --passphrase-file FILE for a protected device key; --tpm TCTI binds\n"
            "                           the state to the TPM's NV counter (and names the TPM of a TPM-sealed key)\n"
            "  -v, --verbose            timings and settings on stderr\n");
}

char *cli_read_prompt(const cli_run_options *o) {
    if (o->prompt && o->prompt_file) {
        cli_error("give either -p or --prompt-file, not both");
        return NULL;
    }
    if (o->prompt) return strdup(o->prompt);
    if (!o->prompt_file) {
        cli_error("no prompt: give -p TEXT or --prompt-file FILE");
        return NULL;
    }
    FILE *f = strcmp(o->prompt_file, "-") == 0 ? stdin : fopen(o->prompt_file, "rb");
    if (!f) {
        cli_error("cannot open prompt file '%s': %s", o->prompt_file, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    const size_t max_bytes = 64u << 20;
    for (;;) {
        if (!buf) break;
        if (len + 1 >= cap) {
            if (cap >= max_bytes) {
                cli_error("prompt file '%s' is larger than %zu MiB", o->prompt_file, max_bytes >> 20);
                free(buf);
                buf = NULL;
                break;
            }
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) { free(buf); buf = NULL; break; }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                cli_error("cannot read prompt file '%s': %s", o->prompt_file, strerror(errno));
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    if (f != stdin) fclose(f);
    if (buf) buf[len] = '\0';
    return buf;
}

/* true when the file starts with the sealed-bundle magic */
static bool is_bundle(const char *path) {
    char magic[8] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    size_t n = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return n == sizeof magic && memcmp(magic, "SEALMBDL", 8) == 0;
}

/* Verifies and decrypts a sealed bundle into locked memory, then parses the GGUF from there:
 * no plaintext byte of the model touches a file. */
static int open_bundle(cli_model *cm, const char *path, const cli_run_options *o) {
    if (!o || !o->device_key || !o->trust || !o->state) {
        cli_error("%s is a sealed bundle: give --device-key KEY, --trust FILE and --state FILE", path);
        return EXIT_USAGE;
    }
    sealm_error err = {0};
    sealm_trust_store *trust = NULL;
    sealm_key *key = NULL;
    sealm_bundle_rollback *state = NULL;
    if (sealm_trust_load(o->trust, &trust, &err)) {
        cli_error("%s", err.message);
        return 1;
    }
    int rc = cli_open_device_state(o->device_key, o->passphrase_file, o->state, o->tpm, &key, &state);
    if (!rc) {
        sealm_status s = sealm_bundle_open_file(path, trust, key, state, &cm->image, &err);
        if (s) {
            cli_error("%s: %s (%s)", path, err.message, sealm_status_name(s));
            rc = 1;
        }
    }
    sealm_bundle_rollback_free(state);
    sealm_key_free(key);
    sealm_trust_free(trust);
    if (rc) return rc;
    size_t len = 0;
    const uint8_t *data = sealm_bundle_image_data(cm->image, &len);
    if (sealm_gguf_open_memory(data, len, &cm->gguf, &err)) {
        cli_error("%s: the decrypted model does not parse: %s", path, err.message);
        return 1;
    }
    return 0;
}

int cli_gguf_open(cli_model *cm, const char *path, const cli_run_options *o) {
    memset(cm, 0, sizeof *cm);
    cm->path = path;
    if (!path) {
        cli_error("no model: give -m FILE (a GGUF model or a sealed bundle)");
        return EXIT_USAGE;
    }
    sealm_error err = {0};
    int rc = 0;
    if (is_bundle(path)) {
        rc = open_bundle(cm, path, o);
    } else if (sealm_gguf_open_file(path, &cm->gguf, &err)) {
        cli_error("%s: %s", path, err.message);
        rc = 1;
    }
    if (rc) cli_model_close(cm);
    return rc;
}

int cli_model_open(cli_model *cm, const char *path, const cli_run_options *o, bool with_context) {
    int rc = cli_gguf_open(cm, path, o);
    if (rc) return rc;
    sealm_error err = {0};
    if (sealm_model_load(cm->gguf, &cm->model, &err) ||
        sealm_tokenizer_from_gguf(cm->gguf, &cm->tok, &err)) {
        cli_error("%s: %s", path, err.message);
        cli_model_close(cm);
        return 1;
    }
    if (sealm_tokenizer_n_vocab(cm->tok) != sealm_model_hparams(cm->model)->n_vocab) {
        cli_error("%s: the tokenizer has %d tokens but the embedding table %d; the file is inconsistent", path,
                  sealm_tokenizer_n_vocab(cm->tok), sealm_model_hparams(cm->model)->n_vocab);
        cli_model_close(cm);
        return 1;
    }
    if (with_context) {
        sealm_context_params cp = sealm_context_params_default();
        cp.n_ctx = o ? o->n_ctx : 0;
        cp.n_threads = o ? o->n_threads : 0;
        if (sealm_context_new(cm->model, &cp, &cm->ctx, &err)) {
            cli_error("%s: %s", path, err.message);
            cli_model_close(cm);
            return 1;
        }
    }
    return 0;
}

void cli_model_close(cli_model *cm) {
    sealm_context_free(cm->ctx);
    sealm_tokenizer_free(cm->tok);
    sealm_model_free(cm->model);
    sealm_gguf_close(cm->gguf);
    sealm_bundle_image_free(cm->image);   /* wipes the plaintext model */
    memset(cm, 0, sizeof *cm);
}

sealm_chat_format cli_chat_format(const cli_model *cm, const cli_run_options *o, char **default_system) {
    *default_system = NULL;
    sealm_gguf_str tmpl = {0};
    bool has_tmpl = sealm_gguf_get_str(cm->gguf, "tokenizer.chat_template", &tmpl) == SEALM_OK;
    /* A system prompt signed into the bundle's manifest is the publisher's; it replaces the
     * template's default. */
    const sealm_bundle_info *info = cm->image ? sealm_bundle_image_info(cm->image) : NULL;
    if (info && info->system_prompt[0]) *default_system = strdup(info->system_prompt);
    else if (has_tmpl) *default_system = sealm_chat_default_system(tmpl.ptr, tmpl.len);
    if (o->chat_template) return sealm_chat_format_from_name(o->chat_template);
    return has_tmpl ? sealm_chat_format_detect(tmpl.ptr, tmpl.len) : SEALM_CHAT_UNKNOWN;
}

static void emit(FILE *out, const char *s, size_t n) {
    if (n) {
        fwrite(s, 1, n, out);
        fflush(out);
    }
}

int cli_generate(cli_model *cm, const cli_run_options *o, sealm_sampler *sampler, const int32_t *prompt,
                 int32_t n_prompt, FILE *out, int32_t **generated, int32_t *n_generated, cli_gen_stats *st) {
    sealm_error err = {0};
    memset(st, 0, sizeof *st);
    st->n_prompt = n_prompt;
    sealm_stop_matcher *stop = NULL;
    if (sealm_stop_matcher_new(o->stops, o->n_stops, &stop, &err)) {
        cli_error("%s", err.message);
        return 1;
    }
    int rc = 0;
    double t0 = cli_now_s();
    if (n_prompt > 0 && sealm_context_eval(cm->ctx, prompt, n_prompt, false, &err)) {
        cli_error("%s", err.message);
        sealm_stop_matcher_free(stop);
        return 1;
    }
    st->prefill_s = cli_now_s() - t0;
    for (int32_t i = 0; i < n_prompt; i++) sealm_sampler_accept(sampler, prompt[i]);

    sealm_detok_stream ds;
    sealm_detok_stream_init(&ds, cm->tok);
    char piece[256];
    t0 = cli_now_s();
    for (int32_t i = 0; i < o->n_predict; i++) {
        const float *logits = sealm_context_logits(cm->ctx, -1);
        if (!logits) break;
        const int32_t tok = sealm_sampler_sample(sampler, logits);
        if (!o->ignore_eos && sealm_tokenizer_is_eog(cm->tok, tok)) {
            st->hit_eog = true;
            break;
        }
        sealm_sampler_accept(sampler, tok);
        int32_t *grown = realloc(*generated, (size_t)(*n_generated + 1) * sizeof **generated);
        if (!grown) {
            cli_error("out of memory");
            rc = 1;
            break;
        }
        *generated = grown;
        (*generated)[(*n_generated)++] = tok;
        st->n_generated++;

        size_t n = sealm_detok_stream_push(&ds, tok, piece, sizeof piece);
        const char *rel;
        size_t n_rel;
        if (sealm_stop_matcher_push(stop, piece, n < sizeof piece ? n : 0, &rel, &n_rel)) {
            emit(out, rel, n_rel);
            st->hit_stop = true;
            break;
        }
        emit(out, rel, n_rel);
        if (i + 1 == o->n_predict) break;   /* no need to evaluate a token nobody samples from */
        if (sealm_context_n_past(cm->ctx) >= sealm_context_n_ctx(cm->ctx)) {
            st->hit_context_limit = true;
            break;
        }
        if (sealm_context_eval(cm->ctx, &tok, 1, false, &err)) {
            cli_error("%s", err.message);
            rc = 1;
            break;
        }
    }
    st->decode_s = cli_now_s() - t0;
    if (!st->hit_stop) {
        size_t n = sealm_detok_stream_flush(&ds, piece, sizeof piece);
        const char *rel;
        size_t n_rel;
        bool matched = sealm_stop_matcher_push(stop, piece, n < sizeof piece ? n : 0, &rel, &n_rel);
        emit(out, rel, n_rel);
        if (!matched) {
            sealm_stop_matcher_flush(stop, &rel, &n_rel);
            emit(out, rel, n_rel);
        }
    }
    sealm_stop_matcher_free(stop);
    return rc;
}

uint64_t cli_random_seed(void) {
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s) s = (uint64_t)time(NULL);
    return s;
}

int cli_tokenize_prompt(const cli_model *cm, const cli_run_options *o, const char *text, int32_t **out, int32_t *n_out) {
    sealm_error err = {0};
    const bool add_bos = !o->no_bos && sealm_tokenizer_add_bos(cm->tok);
    const size_t len = strlen(text);
    size_t cap = len + 8, n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids) {
        cli_error("out of memory tokenizing the prompt");
        return 1;
    }
    sealm_status s = sealm_tokenize(cm->tok, text, len, add_bos, o->parse_special, ids, cap, &n, &err);
    if (s == SEALM_E_INVALID && n > cap) {
        int32_t *bigger = realloc(ids, n * sizeof *ids);
        if (!bigger) {
            free(ids);
            cli_error("out of memory tokenizing the prompt");
            return 1;
        }
        ids = bigger;
        cap = n;
        s = sealm_tokenize(cm->tok, text, len, add_bos, o->parse_special, ids, cap, &n, &err);
    }
    if (s) {
        free(ids);
        cli_error("cannot tokenize the prompt: %s", err.message);
        return 1;
    }
    *out = ids;
    *n_out = (int32_t)n;
    return 0;
}

char *cli_read_passphrase(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("cannot open passphrase file '%s': %s", path, strerror(errno));
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (n <= 0) {
        free(line);
        cli_error("passphrase file '%s' holds no passphrase on its first line", path);
        return NULL;
    }
    return line;
}

void cli_free_passphrase(char *p) {
    if (p) {
        sodium_memzero(p, strlen(p));
        free(p);
    }
}
