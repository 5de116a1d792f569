/* sealmd — the locked-down local inference service (docs/sealmd.md).
 *
 *   sealmd [--config] FILE      run the daemon
 *   sealmd --check-config FILE  validate a config file and exit (0 valid, 1 not)
 *   sealmd --hash-key           read an API key on stdin, print its config form
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "sealm/server.h"

static int usage(void)
{
    fprintf(stderr, "usage: sealmd [--config] FILE\n"
                    "       sealmd --check-config FILE\n"
                    "       sealmd --hash-key < keyfile\n"
                    "       sealmd --version\n");
    return 2;
}

/* Reads one line (the key) from stdin and prints "sha256:<hex>" for keys[].hash. */
static int hash_key(void)
{
    char key[4096];
    if (!fgets(key, sizeof key, stdin)) {
        fprintf(stderr, "sealmd: no key on stdin\n");
        return 1;
    }
    key[strcspn(key, "\r\n")] = 0;
    if (strlen(key) < 16) {
        sodium_memzero(key, sizeof key);
        fprintf(stderr, "sealmd: refusing a key shorter than 16 characters (use e.g. openssl rand -hex 32)\n");
        return 1;
    }
    char out[72];
    sealm_server_hash_key(key, out);
    sodium_memzero(key, sizeof key);
    printf("%s\n", out);
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "sealmd: libsodium failed to initialise\n");
        return 1;
    }
    sealm_error err = {0};
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("sealmd %s\n", SEALM_VERSION);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--hash-key") == 0)
        return hash_key();
    if (argc == 3 && strcmp(argv[1], "--check-config") == 0) {
        if (sealm_server_check_config(argv[2], &err) != SEALM_OK) {
            fprintf(stderr, "sealmd: %s\n", err.message);
            return 1;
        }
        printf("%s: OK\n", argv[2]);
        return 0;
    }
    const char *path = NULL;
    if (argc == 2 && argv[1][0] != '-')
        path = argv[1];
    else if (argc == 3 && strcmp(argv[1], "--config") == 0)
        path = argv[2];
    else
        return usage();
    sealm_status st = sealm_server_run(path, &err);
    if (st != SEALM_OK) {
        fprintf(stderr, "{\"level\":\"error\",\"msg\":\"sealmd stopped\",\"status\":\"%s\"}\nsealmd: %s\n",
                sealm_status_name(st), err.message);
        return 1;
    }
    return 0;
}
