/* The sealm CLI's shared pieces: argument helpers, model loading, the generation loop. */
#ifndef SEALM_TOOLS_CLI_H
#define SEALM_TOOLS_CLI_H

#include "sealm/bundle.h"
#include "sealm/engine.h"
#include "sealm/keys.h"
#include "sealm/gguf.h"
#include "sealm/sample.h"
#include "sealm/tokenizer.h"

#include <stdio.h>

/* Exit statuses: 0 success, 1 runtime failure, 2 bad usage. */
enum { EXIT_USAGE = 2 };

/* Everything a command loaded for one model file. */
typedef struct cli_model {
    const char *path;
    sealm_bundle_image *image;    /* the decrypted model when path is a sealed bundle */
    sealm_gguf *gguf;
    sealm_model *model;
    sealm_tokenizer *tok;
    sealm_context *ctx;
} cli_model;

/* Options common to the commands that run the model. */
typedef struct cli_run_options {
    const char *model_path;
    const char *prompt;           /* -p */
    const char *prompt_file;      /* --prompt-file */
    int32_t n_predict;            /* -n */
    int32_t n_threads;            /* -t */
    int32_t n_ctx;                /* -c */
    sealm_sample_params sample;
    bool seed_given;
    const char *stops[16];
    size_t n_stops;
    const char *system;           /* --system */
    const char *chat_template;    /* --chat-template NAME */
    bool chat;                    /* generate --chat: wrap the prompt as a user turn */
    bool no_bos;
    bool parse_special;           /* --special: match special-token text in the prompt */
    bool verbose;                 /* timings on stderr */
    bool print_ids;               /* generate --ids: print the generated ids as JSON instead of text */
    bool ignore_eos;
    const char *device_key;       /* --device-key: opens sealed bundles */
    const char *trust;            /* --trust: publisher trust store for bundles */
    const char *state;            /* --state: anti-rollback state file for bundles */
    const char *passphrase_file;  /* --passphrase-file: of a protected device key */
    const char *tpm;              /* --tpm TCTI: the TPM of the device key and the rollback counter */              /* --ignore-eos: keep generating past end-of-generation tokens (benchmarks) */
} cli_run_options;

/* Prints "sealm: <message>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a shared option at argv[*i] (advancing *i past its value). Returns 1 if consumed,
 * 0 if not an option this parser knows, -1 on a bad value (message printed). */
int cli_parse_run_option(cli_run_options *o, int argc, char **argv, int *i);
void cli_run_options_init(cli_run_options *o);
/* The usage text of the shared options. */
void cli_print_run_options(FILE *f);

/* A command's own options, tried before the shared ones: same return convention as
 * cli_parse_run_option. ctx is passed through. */
typedef int (*cli_extra_option_fn)(void *ctx, int argc, char **argv, int *i);

/* Parses argv[1..argc) for command cmd: -h/--help prints usage to stdout; options go to
 * extra (may be NULL) first, then to the shared run options. Returns -1 when the caller
 * should go on, or the exit status to return now (0 after --help, EXIT_USAGE on a bad
 * option, with the message and usage printed). */
int cli_parse_command_args(const char *cmd, int argc, char **argv, cli_run_options *o, void (*usage)(FILE *),
                           cli_extra_option_fn extra, void *ctx);

/* Reads -p or --prompt-file into a malloc'd string (caller frees). NULL + message on error. */
char *cli_read_prompt(const cli_run_options *o);

/* Opens path as a GGUF image: mapped from a plain file, or verified and decrypted into
 * locked memory when it is a sealed bundle (then o's --device-key, --trust and --state are
 * required). Returns 0 or prints the error. */
int cli_gguf_open(cli_model *cm, const char *path, const cli_run_options *o);

/* Loads gguf + model + tokenizer (+ a context when with_context). Returns 0 or prints the error. */
int cli_model_open(cli_model *cm, const char *path, const cli_run_options *o, bool with_context);
void cli_model_close(cli_model *cm);

/* The chat format of the model (or the override), and its default system prompt: the one
 * signed into a sealed bundle's manifest, else the chat template's (*default_system is
 * malloc'd or NULL; the caller frees it). */
sealm_chat_format cli_chat_format(const cli_model *cm, const cli_run_options *o, char **default_system);

/* Statistics of one generation. */
typedef struct cli_gen_stats {
    int32_t n_prompt;
    int32_t n_generated;
    double prefill_s;
    double decode_s;
    bool hit_eog;
    bool hit_stop;
    bool hit_context_limit;
} cli_gen_stats;

/* Evaluates prompt[n_prompt_new] on top of the context's cache (the first n_reused tokens
 * of the sequence are already cached), then samples up to n_predict tokens, streaming text
 * to out as it completes. Generated ids are appended to *generated (malloc'd/grown; caller
 * frees). Returns 0 or 1 after printing the error. */
int cli_generate(cli_model *cm, const cli_run_options *o, sealm_sampler *sampler, const int32_t *prompt,
                 int32_t n_prompt, FILE *out, int32_t **generated, int32_t *n_generated, cli_gen_stats *stats);

double cli_now_s(void);
/* A seed for runs that did not ask for one (getrandom). */
uint64_t cli_random_seed(void);
/* Tokenizes a plain prompt per the options (BOS unless --no-bos; specials only with --special).
 * *out malloc'd. Returns 0 or prints the error and returns 1. */
int cli_tokenize_prompt(const cli_model *cm, const cli_run_options *o, const char *text, int32_t **out, int32_t *n_out);

/* Reads a passphrase from the first line of a file (never from the command line, where
 * other users could read it in ps) into a malloc'd string; NULL after printing the error. */
char *cli_read_passphrase(const char *path);
/* Wipes and frees a passphrase; NULL is a no-op. */
void cli_free_passphrase(char *p);

/* Loads a device key (with the passphrase in pass_file, if any) and, when state_path is
 * set, the anti-rollback state whose MAC key it derives. Returns 0 or prints the error. */
int cli_open_device_state(const char *key_path, const char *pass_file, const char *state_path, const char *tpm,
                          sealm_key **key,
                          sealm_bundle_rollback **state);

/* Command entry points. */
int cmd_generate(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_trust(int argc, char **argv);
int cmd_seal(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_recipients(int argc, char **argv);
int cmd_minisign_key(int argc, char **argv);
int cmd_guard(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
