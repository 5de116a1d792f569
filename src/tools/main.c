/* sealm — command-line entry point: dispatches to one command per file. */
#include "tools/cli.h"

#include <stdlib.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command COMMANDS[] = {
    {"generate", cmd_generate, "generate text from a prompt, streamed to stdout"},
    {"chat", cmd_chat, "interactive multi-turn chat with the model's chat template"},
    {"tokenize", cmd_tokenize, "print the token ids of a text as a JSON array"},
    {"logits", cmd_logits, "print the top-K raw logits at every prompt position as JSON"},
    {"info", cmd_info, "print a model's metadata, tensor table and memory estimate"},
    {"keygen", cmd_keygen, "create a publisher (Ed25519) or device (X25519) key pair"},
    {"trust", cmd_trust, "manage the device's trust store of publisher keys"},
    {"seal", cmd_seal, "sign and encrypt a GGUF model into a bundle for chosen devices"},
    {"verify", cmd_verify, "check a bundle's signatures, manifest and integrity (--deep: decrypt too)"},
    {"inspect", cmd_inspect, "print a verified bundle's manifest, signers and recipients"},
    {"recipients", cmd_recipients, "add or remove a bundle's devices without re-encrypting it"},
    {"minisign-key", cmd_minisign_key, "write a publisher public key in minisign's format"},
    {"guard", cmd_guard, "find or redact personal data and secrets in a text (JSON findings)"},
    {"synth", cmd_synth, "write a random-weight GGUF of a given shape and type (benchmarks, tests)"},
    {"bench", cmd_bench, "measure prefill/decode speed, TTFT, memory and read bandwidth"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: sealm COMMAND [OPTIONS]   (sealm COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\nsealm %s\n", sealm_version());
}

int main(int argc, char **argv) {
    /* tpm2-tss logs every TPM error to stderr itself; sealm reports them in its own messages
     * (decoded), so its chatter is off unless the user asks for it with TSS2_LOG. */
    setenv("TSS2_LOG", "all+NONE", 0);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("sealm %s\n", sealm_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0) return COMMANDS[i].run(argc - 1, argv + 1);
    cli_error("unknown command '%s'; run `sealm --help` for the list", argv[1]);
    return EXIT_USAGE;
}
