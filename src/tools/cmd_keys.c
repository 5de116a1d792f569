/* sealm keygen and sealm trust: publisher and device keys, and the device's trust store. */
#include "tools/cli.h"
#include "sealm/keys.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void keygen_usage(FILE *f) {
    fprintf(f, "usage: sealm keygen (--publisher | --device) -o NAME [--passphrase-file FILE | --tpm TCTI]\n"
               "  writes the secret key to NAME.key (mode 0600) and the public key to NAME.pub;\n"
               "  --publisher: an Ed25519 signing key for sealing bundles\n"
               "  --device:    an X25519 key a device uses to open bundles sealed for it\n"
               "  --passphrase-file: protect the secret key with the passphrase in FILE (Argon2id)\n"
               "  --tpm TCTI:  (device keys) have the TPM seal the secret; the key file holds only the TPM's\n"
               "               blobs and works on that TPM only (e.g. device:/dev/tpmrm0)\n");
}

int cmd_keygen(int argc, char **argv) {
    sealm_key_kind kind = 0;
    const char *name = NULL, *pass_file = NULL, *tcti = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            keygen_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--publisher")) {
            kind = SEALM_KEY_PUBLISHER;
        } else if (!strcmp(a, "--device")) {
            kind = SEALM_KEY_DEVICE;
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--out")) && i + 1 < argc) {
            name = argv[++i];
        } else if (!strcmp(a, "--passphrase-file") && i + 1 < argc) {
            pass_file = argv[++i];
        } else if (!strcmp(a, "--tpm") && i + 1 < argc) {
            tcti = argv[++i];
        } else {
            cli_error("keygen: unknown option or missing value '%s'", a);
            keygen_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!kind || !name || !*name) {
        cli_error("keygen needs --publisher or --device, and -o NAME");
        keygen_usage(stderr);
        return EXIT_USAGE;
    }
    if (tcti && (kind != SEALM_KEY_DEVICE || pass_file)) {
        cli_error("--tpm seals device keys, and replaces --passphrase-file");
        return EXIT_USAGE;
    }
    char *pass = NULL;
    if (pass_file && !(pass = cli_read_passphrase(pass_file))) return EXIT_USAGE;
    size_t len = strlen(name) + 5;
    char *secret_path = malloc(len), *public_path = malloc(len);
    int rc = 0;
    if (!secret_path || !public_path) {
        cli_error("out of memory");
        rc = 1;
    } else {
        snprintf(secret_path, len, "%s.key", name);
        snprintf(public_path, len, "%s.pub", name);
        sealm_error err = {0};
        sealm_status s = tcti ? sealm_keygen_tpm(tcti, secret_path, public_path, &err)
                              : sealm_keygen(kind, secret_path, public_path, pass, &err);
        if (s) {
            cli_error("%s", err.message);
            rc = 1;
        } else {
            uint8_t pk[32];
            char id[SEALM_KEY_ID_LEN + 1];
            sealm_key_kind k2;
            if (sealm_pubkey_load(public_path, &k2, pk, &err) == SEALM_OK) {
                sealm_key_id_of(pk, id);
                printf("%s key %s: secret %s, public %s\n", kind == SEALM_KEY_PUBLISHER ? "publisher" : "device", id,
                       secret_path, public_path);
            }
        }
    }
    cli_free_passphrase(pass);
    free(secret_path);
    free(public_path);
    return rc;
}

static void trust_usage(FILE *f) {
    fprintf(f, "usage: sealm trust --store FILE COMMAND\n"
               "  add PUBLIC_KEY_FILE     trust a publisher's public key (NAME.pub from sealm keygen --publisher)\n"
               "  revoke KEY_ID           revoke a publisher key for good (a revoked key is never trusted again)\n"
               "  threshold K             require K distinct trusted publisher signatures on every bundle\n"
               "  list                    print the store\n");
}

int cmd_trust(int argc, char **argv) {
    const char *store = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            trust_usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--store") && i + 1 < argc) {
            store = argv[++i];
            continue;
        }
        break;
    }
    if (!store || i >= argc) {
        cli_error("trust needs --store FILE and a command");
        trust_usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[i];
    const char *arg = i + 1 < argc ? argv[i + 1] : NULL;
    if (i + 2 < argc) {
        cli_error("trust %s: unexpected argument '%s'", cmd, argv[i + 2]);
        return EXIT_USAGE;
    }
    sealm_error err = {0};
    sealm_status s;
    if (!strcmp(cmd, "add") && arg) {
        uint8_t pk[32];
        sealm_key_kind kind;
        if ((s = sealm_pubkey_load(arg, &kind, pk, &err)) == SEALM_OK && kind != SEALM_KEY_PUBLISHER)
            s = sealm_error_set(&err, SEALM_E_INVALID, "%s is a device key; only publisher keys belong in a trust store", arg);
        if (s == SEALM_OK) s = sealm_trust_add(store, pk, &err);
        if (s == SEALM_OK) {
            char id[SEALM_KEY_ID_LEN + 1];
            sealm_key_id_of(pk, id);
            printf("trusted publisher %s\n", id);
        }
    } else if (!strcmp(cmd, "revoke") && arg) {
        s = sealm_trust_revoke(store, arg, &err);
        if (s == SEALM_OK) printf("revoked %s\n", arg);
    } else if (!strcmp(cmd, "threshold") && arg) {
        char *end;
        errno = 0;
        unsigned long k = strtoul(arg, &end, 10);
        if (errno || *end || k < 1 || k > 64) {
            cli_error("threshold expects a whole number in [1, 64], got '%s'", arg);
            return EXIT_USAGE;
        }
        s = sealm_trust_set_threshold(store, (uint32_t)k, &err);
    } else if (!strcmp(cmd, "list") && !arg) {
        sealm_trust_store *t = NULL;   /* print only a store that parses */
        if (sealm_trust_load(store, &t, &err)) {
            cli_error("%s", err.message);
            return 1;
        }
        sealm_trust_free(t);
        FILE *f = fopen(store, "r");
        if (!f) {
            cli_error("cannot open trust store '%s': %s", store, strerror(errno));
            return 1;
        }
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
        fclose(f);
        return 0;
    } else {
        cli_error("trust: unknown command '%s' or missing argument", cmd);
        trust_usage(stderr);
        return EXIT_USAGE;
    }
    if (s != SEALM_OK) {
        cli_error("%s", err.message);
        return 1;
    }
    return 0;
}
