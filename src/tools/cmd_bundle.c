/* sealm seal, verify and inspect: sealed model bundles on the publisher's and the device's side. */
#include "tools/cli.h"
#include "sealm/bundle.h"
#include "sealm/keys.h"

#include <errno.h>
#include <sodium.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

enum { MAX_KEYS = 16 };

/* Parses a whole decimal number in [lo, hi]; prints the error. */
static bool parse_u64_opt(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = *s == '-' ? 0 : strtoull(s, &end, 10);
    if (*s == '-' || errno || end == s || *end || v < lo || v > hi) {
        cli_error("%s expects a whole number in [%" PRIu64 ", %" PRIu64 "], got '%s'", opt, lo, hi, s);
        return false;
    }
    *out = v;
    return true;
}

static void seal_usage(FILE *f) {
    fprintf(f, "usage: sealm seal -m MODEL.gguf -o OUT.sealed --publisher-key NAME.key [...] --recipient DEVICE.pub [...]\n"
               "                  --name NAME --version N [options]\n"
               "  --publisher-key FILE   a publisher secret key that signs the manifest (repeat for k-of-n)\n"
               "  --passphrase-file FILE passphrase of protected publisher keys\n"
               "  --recipient FILE       a device public key allowed to open the bundle (repeat)\n"
               "  --name NAME            model name, the anti-rollback key on devices ([A-Za-z0-9._-])\n"
               "  --version N            release number; devices refuse anything lower than they accepted\n"
               "  --label TEXT, --device-class TEXT, --quantization TEXT, --min-runtime X.Y.Z\n"
               "  --chunk-size BYTES     plaintext bytes per encrypted chunk (default 1 MiB)\n"
               "  --source-hash TEXT, --quantization-settings TEXT, --build-commit TEXT   provenance\n"
               "  --system-prompt-file FILE  a system prompt (UTF-8, at most 8192 bytes) signed into the manifest;\n"
               "                         sealmd and `sealm chat` use it for this model (not encrypted: readable by\n"
               "                         whoever has the bundle file)\n"
               "  --minisign             also write OUT.minisig, a detached minisign signature of the bundle\n"
               "                         by the first publisher key (check: minisign -V -p KEY.minisign.pub -m OUT;\n"
               "                         the public key file comes from `sealm minisign-key`)\n");
}

/* OUT.minisig: minisign's detached signature of the finished bundle file. The trusted
 * comment (signed) names the model and version, which `minisign -V` prints. */
static int write_minisig(const sealm_key *publisher, const char *bundle, const sealm_bundle_params *p) {
    size_t n = strlen(bundle) + sizeof ".minisig";
    char *sig_path = malloc(n);
    if (!sig_path) return 1;
    snprintf(sig_path, n, "%s.minisig", bundle);
    char comment[256];
    snprintf(comment, sizeof comment, "sealm bundle name:%s version:%" PRIu64, p->name, p->version);
    sealm_error err = {0};
    int rc = 0;
    if (sealm_minisign_sign_file(publisher, bundle, comment, sig_path, &err)) {
        cli_error("%s", err.message);
        rc = 1;
    } else {
        printf("minisign signature → %s\n", sig_path);
    }
    free(sig_path);
    return rc;
}

/* The system prompt file, whole, as a NUL-terminated string; it must fit the manifest's
 * limit (the bundle layer checks UTF-8 and control characters). */
static char *read_system_prompt(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("cannot open system prompt file '%s': %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(SEALM_BUNDLE_SYSTEM_PROMPT_MAX + 2);
    size_t n = buf ? fread(buf, 1, SEALM_BUNDLE_SYSTEM_PROMPT_MAX + 1, f) : 0;
    bool io_error = ferror(f);
    fclose(f);
    if (!buf || io_error || n == 0 || n > SEALM_BUNDLE_SYSTEM_PROMPT_MAX || memchr(buf, '\0', n)) {
        cli_error("system prompt file '%s' must hold 1..%u bytes of text without NUL bytes", path,
                  SEALM_BUNDLE_SYSTEM_PROMPT_MAX);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

int cmd_seal(int argc, char **argv) {
    sealm_bundle_params p = {0};
    const char *model = NULL, *out = NULL, *pass_file = NULL, *system_file = NULL;
    const char *pub_paths[MAX_KEYS], *rcp_paths[256];
    size_t n_pub = 0, n_rcp = 0;
    bool minisign = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            seal_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--minisign")) {
            minisign = true;
            continue;
        }
        if (!v) {
            cli_error("seal: '%s' is unknown or needs a value", a);
            seal_usage(stderr);
            return EXIT_USAGE;
        }
        i++;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--passphrase-file")) pass_file = v;
        else if (!strcmp(a, "--publisher-key")) {
            if (n_pub == MAX_KEYS) { cli_error("at most %d --publisher-key", MAX_KEYS); return EXIT_USAGE; }
            pub_paths[n_pub++] = v;
        } else if (!strcmp(a, "--recipient")) {
            if (n_rcp == 256) { cli_error("at most 256 --recipient"); return EXIT_USAGE; }
            rcp_paths[n_rcp++] = v;
        } else if (!strcmp(a, "--name")) p.name = v;
        else if (!strcmp(a, "--version")) { if (!parse_u64_opt(a, v, 1, (1ull << 53) - 1, &p.version)) return EXIT_USAGE; }
        else if (!strcmp(a, "--label")) p.label = v;
        else if (!strcmp(a, "--device-class")) p.device_class = v;
        else if (!strcmp(a, "--quantization")) p.quantization = v;
        else if (!strcmp(a, "--min-runtime")) p.min_runtime = v;
        else if (!strcmp(a, "--chunk-size")) {
            uint64_t c;
            if (!parse_u64_opt(a, v, SEALM_BUNDLE_MIN_CHUNK, SEALM_BUNDLE_MAX_CHUNK, &c)) return EXIT_USAGE;
            p.chunk_size_bytes = (uint32_t)c;
        } else if (!strcmp(a, "--source-hash")) p.source_model_hash = v;
        else if (!strcmp(a, "--quantization-settings")) p.quantization_settings = v;
        else if (!strcmp(a, "--build-commit")) p.build_commit = v;
        else if (!strcmp(a, "--system-prompt-file")) system_file = v;
        else {
            cli_error("seal: unknown option '%s'", a);
            seal_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!model || !out || !n_pub || !n_rcp || !p.name || !p.version) {
        cli_error("seal needs -m, -o, --publisher-key, --recipient, --name and --version");
        seal_usage(stderr);
        return EXIT_USAGE;
    }
    char *system_prompt = NULL;
    if (system_file && !(system_prompt = read_system_prompt(system_file))) return EXIT_USAGE;
    p.system_prompt = system_prompt;
    char *pass = NULL;
    if (pass_file && !(pass = cli_read_passphrase(pass_file))) {
        free(system_prompt);
        return EXIT_USAGE;
    }
    sealm_error err = {0};
    sealm_key *pubs[MAX_KEYS] = {0};
    uint8_t (*rcps)[32] = calloc(n_rcp, 32);
    int rc = rcps ? 0 : 1;
    for (size_t i = 0; !rc && i < n_pub; i++)
        if (sealm_key_load(pub_paths[i], pass, &pubs[i], &err)) {
            cli_error("%s", err.message);
            rc = 1;
        }
    for (size_t i = 0; !rc && i < n_rcp; i++) {
        sealm_key_kind kind;
        if (sealm_pubkey_load(rcp_paths[i], &kind, rcps[i], &err)) {
            cli_error("%s", err.message);
            rc = 1;
        } else if (kind != SEALM_KEY_DEVICE) {
            cli_error("%s is a publisher key; --recipient takes device public keys (sealm keygen --device)", rcp_paths[i]);
            rc = EXIT_USAGE;
        }
    }
    if (!rc && sealm_bundle_seal_file(model, &p, (const sealm_key *const *)pubs, n_pub, (const uint8_t(*)[32])rcps,
                                      n_rcp, out, &err)) {
        cli_error("%s", err.message);
        rc = 1;
    }
    if (!rc) printf("sealed %s → %s (%s version %" PRIu64 ", %zu signature(s), %zu recipient(s))\n", model, out, p.name,
                    p.version, n_pub, n_rcp);
    if (!rc && minisign) rc = write_minisig(pubs[0], out, &p);
    for (size_t i = 0; i < n_pub; i++) sealm_key_free(pubs[i]);
    free(rcps);
    free(system_prompt);
    cli_free_passphrase(pass);
    return rc;
}

/* ---- device side ---- */

static void print_info(const sealm_bundle_info *in, FILE *f) {
    char hash[65];
    fprintf(f, "bundle %s (format v%u)\n  model: %s version %" PRIu64 " \"%s\"\n", in->bundle_id, in->format_version,
            in->name, in->version, in->label);
    fprintf(f, "  created: %" PRId64 " (unix seconds)\n  payload: %" PRIu64 " bytes in %" PRIu64 " chunks of %u, %s\n",
            in->created_unix_s, in->payload_size_bytes, in->n_chunks, in->chunk_size_bytes, in->cipher);
    sodium_bin2hex(hash, sizeof hash, in->payload_hash, 32);
    fprintf(f, "  payload BLAKE2b-256: %s\n", hash);
    fprintf(f, "  architecture: %s, quantization: %s, device class: %s, min runtime: %s\n", in->architecture,
            in->quantization, in->device_class, in->min_runtime);
    if (*in->source_model_hash || *in->quantization_settings || *in->build_commit)
        fprintf(f, "  provenance: source %s, quantization settings %s, build %s\n", in->source_model_hash,
                in->quantization_settings, in->build_commit);
    if (in->system_prompt[0]) {
        /* its size and hash identify which prompt is signed without printing pages of text */
        uint8_t h[32];
        crypto_generichash(h, sizeof h, (const uint8_t *)in->system_prompt, strlen(in->system_prompt), NULL, 0);
        sodium_bin2hex(hash, sizeof hash, h, sizeof h);
        fprintf(f, "  system prompt: %zu bytes, signed, BLAKE2b-256 %s\n", strlen(in->system_prompt), hash);
    }
    fprintf(f, "  signers (%u, %u trusted):", in->n_signers, in->n_trusted_signers);
    for (uint32_t i = 0; i < in->n_signers; i++) fprintf(f, " %s", in->signer_ids[i]);
    fprintf(f, "\n  recipients (%u):", in->n_recipients);
    for (uint32_t i = 0; i < in->n_recipients; i++) fprintf(f, " %s", in->recipient_ids[i]);
    fputc('\n', f);
}

typedef struct device_options {
    const char *bundle, *trust, *state, *device_key, *pass_file, *tpm;
    bool deep;
} device_options;

static void verify_usage(FILE *f) {
    fprintf(f, "usage: sealm verify -m BUNDLE --trust FILE [--device-key KEY --state FILE] [--deep]\n"
               "       sealm inspect -m BUNDLE [--trust FILE]\n"
               "  verify: signatures (against the trust store and its threshold), manifest, ciphertext hash and, with\n"
               "          --device-key and --state, the anti-rollback floor, without decrypting; --deep also decrypts\n"
               "          in locked memory and checks the plaintext hash (needs --device-key and --state)\n"
               "  inspect: the manifest, signers and recipients (nothing secret); without --trust (e.g. on the\n"
               "           publisher's machine) signatures are checked against their own keys only: not a trust decision\n"
               "  --passphrase-file FILE  passphrase of a protected device key\n");
}

static int parse_device_options(int argc, char **argv, bool inspect, device_options *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            verify_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--deep")) { o->deep = true; continue; }
        const char *v = i + 1 < argc ? argv[++i] : NULL;
        if (!v) {
            cli_error("'%s' is unknown or needs a value", a);
            return EXIT_USAGE;
        }
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->bundle = v;
        else if (!strcmp(a, "--trust")) o->trust = v;
        else if (!strcmp(a, "--state")) o->state = v;
        else if (!strcmp(a, "--device-key")) o->device_key = v;
        else if (!strcmp(a, "--passphrase-file")) o->pass_file = v;
        else if (!strcmp(a, "--tpm")) o->tpm = v;
        else {
            cli_error("unknown option '%s'", a);
            verify_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!o->bundle || (!o->trust && !inspect)) {
        cli_error(inspect ? "needs -m BUNDLE" : "needs -m BUNDLE and --trust FILE");
        verify_usage(stderr);
        return EXIT_USAGE;
    }
    return -1;
}

/* Loads the device key and the rollback state it protects (both optional for verify). */
int cli_open_device_state(const char *key_path, const char *pass_file, const char *state_path, const char *tpm,
                          sealm_key **key, sealm_bundle_rollback **state) {
    sealm_error err = {0};
    /* --tpm also says where a TPM-sealed device key's TPM is (over the TCTI in its file). */
    if (tpm && setenv("SEALM_TPM_TCTI", tpm, 1) != 0) {
        cli_error("cannot set SEALM_TPM_TCTI");
        return 1;
    }
    char *pass = NULL;
    if (pass_file && !(pass = cli_read_passphrase(pass_file))) return EXIT_USAGE;
    int rc = 0;
    if (sealm_key_load(key_path, pass, key, &err)) {
        cli_error("%s", err.message);
        rc = 1;
    }
    cli_free_passphrase(pass);
    if (rc || !state_path) return rc;
    uint8_t state_key[32];
    if (sealm_key_derive(*key, "sealm anti-rollback state v1", state_key, &err) ||
        (tpm ? sealm_bundle_rollback_open_tpm(state_path, state_key, tpm, SEALM_TPM_NV_ROLLBACK_INDEX, state, &err)
             : sealm_bundle_rollback_open(state_path, state_key, state, &err))) {
        cli_error("%s", err.message);
        rc = 1;
    }
    sodium_memzero(state_key, sizeof state_key);
    return rc;
}

static int verify_or_inspect(int argc, char **argv, bool inspect) {
    device_options o = {0};
    int status = parse_device_options(argc, argv, inspect, &o);
    if (status >= 0) return status;
    if (o.deep && (!o.device_key || !o.state)) {
        cli_error("--deep decrypts the bundle: it needs --device-key and --state");
        return EXIT_USAGE;
    }
    sealm_error err = {0};
    sealm_trust_store *trust = NULL;
    sealm_key *key = NULL;
    sealm_bundle_rollback *state = NULL;
    int rc = 0;
    if (o.trust && sealm_trust_load(o.trust, &trust, &err)) {
        cli_error("%s", err.message);
        return 1;
    }
    if (!o.trust && (o.device_key || o.state || o.deep)) {
        cli_error("--device-key, --state and --deep need --trust FILE");
        return EXIT_USAGE;
    }
    if (o.device_key) rc = cli_open_device_state(o.device_key, o.pass_file, o.state, o.tpm, &key, &state);
    int fd = -1;
    void *map = MAP_FAILED;
    struct stat st;
    if (!rc) {
        fd = open(o.bundle, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0 ||
            (map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
            cli_error("cannot read bundle '%s': %s", o.bundle, fd >= 0 && st.st_size == 0 ? "empty file" : strerror(errno));
            rc = 1;
        }
    }
    sealm_bundle_info info;
    if (!rc) {
        sealm_status s = trust ? sealm_bundle_verify(map, (size_t)st.st_size, trust, state, &info, &err)
                               : sealm_bundle_inspect(map, (size_t)st.st_size, &info, &err);
        if (s) {
            cli_error("%s: %s (%s)", o.bundle, err.message, sealm_status_name(s));
            rc = 1;
        }
    }
    if (!rc && o.deep) {
        /* a deep check decrypts into locked memory and checks the plaintext hash; the image is
         * wiped right away. It also raises the rollback floor, as any accepted load does. */
        sealm_bundle_image *img = NULL;
        sealm_status s = sealm_bundle_open(map, (size_t)st.st_size, trust, key, state, &img, &err);
        if (s) {
            cli_error("%s: %s (%s)", o.bundle, err.message, sealm_status_name(s));
            rc = 1;
        }
        sealm_bundle_image_free(img);
    }
    if (!rc) {
        if (inspect) print_info(&info, stdout);
        if (inspect && !trust) printf("  (no trust store given: signatures checked against their own keys only)\n");
        else printf("%s: OK — %s version %" PRIu64 ", %u of %u signers trusted%s\n", o.bundle, info.name, info.version,
                    info.n_trusted_signers, info.n_signers, o.deep ? ", payload decrypted and its hash checked" : "");
    }
    if (map != MAP_FAILED) munmap(map, (size_t)st.st_size);
    if (fd >= 0) close(fd);
    sealm_bundle_rollback_free(state);
    sealm_key_free(key);
    sealm_trust_free(trust);
    return rc;
}

int cmd_verify(int argc, char **argv) { return verify_or_inspect(argc, argv, false); }
int cmd_inspect(int argc, char **argv) { return verify_or_inspect(argc, argv, true); }

/* ---- recipients: add or remove devices without re-encrypting ---- */

static void recipients_usage(FILE *f) {
    fprintf(f, "usage: sealm recipients add -m BUNDLE --device-key KEY [--passphrase-file F] [-o OUT] DEVICE.pub [...]\n"
               "       sealm recipients remove -m BUNDLE [-o OUT] DEVICE.pub [...]\n"
               "  add:    wraps the bundle's content key to more devices; KEY is the secret key of a device the\n"
               "          bundle is already sealed to (keep a publisher-held escrow device among the recipients\n"
               "          to be able to add devices later)\n"
               "  remove: drops devices' entries; this does not revoke a content key a device has already\n"
               "          read: to cut a device off for good, seal a new version\n"
               "  the payload, manifest and publisher signatures are copied unchanged; without -o the bundle is\n"
               "  replaced in place, atomically. A minisign signature of the old file no longer matches.\n");
}

int cmd_recipients(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        recipients_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    bool adding = !strcmp(argv[1], "add");
    if (!adding && strcmp(argv[1], "remove")) {
        cli_error("recipients: unknown action '%s' (add or remove)", argv[1]);
        return EXIT_USAGE;
    }
    const char *bundle = NULL, *out = NULL, *key_path = NULL, *pass_file = NULL, *pubs[256];
    size_t n_pubs = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            if (n_pubs == 256) { cli_error("at most 256 device keys at once"); return EXIT_USAGE; }
            pubs[n_pubs++] = a;
            continue;
        }
        const char *v = i + 1 < argc ? argv[++i] : NULL;
        if (!v) { cli_error("recipients: '%s' is unknown or needs a value", a); return EXIT_USAGE; }
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) bundle = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) out = v;
        else if (adding && !strcmp(a, "--device-key")) key_path = v;
        else if (adding && !strcmp(a, "--passphrase-file")) pass_file = v;
        else {
            cli_error("recipients %s: unknown option '%s'", argv[1], a);
            recipients_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!bundle || !n_pubs || (adding && !key_path)) {
        cli_error(adding ? "recipients add needs -m BUNDLE, --device-key KEY and at least one DEVICE.pub"
                         : "recipients remove needs -m BUNDLE and at least one DEVICE.pub");
        recipients_usage(stderr);
        return EXIT_USAGE;
    }
    sealm_error err = {0};
    uint8_t (*pks)[32] = calloc(n_pubs, 32);
    if (!pks) return 1;
    int rc = 0;
    for (size_t i = 0; !rc && i < n_pubs; i++) {
        sealm_key_kind kind;
        if (sealm_pubkey_load(pubs[i], &kind, pks[i], &err)) {
            cli_error("%s", err.message);
            rc = 1;
        } else if (kind != SEALM_KEY_DEVICE) {
            cli_error("%s is a publisher key; recipients are device public keys (sealm keygen --device)", pubs[i]);
            rc = EXIT_USAGE;
        }
    }
    sealm_key *holder = NULL;
    if (!rc && adding) rc = cli_open_device_state(key_path, pass_file, NULL, NULL, &holder, NULL);
    if (!rc) {
        const char *dest = out ? out : bundle;
        sealm_status s = sealm_bundle_recipients_edit(bundle, dest, out == NULL, holder,
                                                      adding ? (const uint8_t(*)[32])pks : NULL, adding ? n_pubs : 0,
                                                      adding ? NULL : (const uint8_t(*)[32])pks, adding ? 0 : n_pubs, &err);
        if (s) {
            cli_error("%s: %s (%s)", bundle, err.message, sealm_status_name(s));
            rc = 1;
        } else {
            printf("%s %zu recipient(s) %s %s\n", adding ? "added" : "removed", n_pubs, out ? "→" : "in", dest);
        }
    }
    sealm_key_free(holder);
    free(pks);
    return rc;
}

/* ---- minisign-key: a publisher public key in minisign's format ---- */

int cmd_minisign_key(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: sealm minisign-key -i PUBLISHER.pub -o KEY.minisign.pub\n"
                   "  writes the publisher's public key in minisign's format, for `minisign -V -p KEY.minisign.pub`\n");
            return 0;
        }
        if (i + 1 >= argc) { cli_error("minisign-key: '%s' is unknown or needs a value", a); return EXIT_USAGE; }
        const char *v = argv[++i];
        if (!strcmp(a, "-i")) in = v;
        else if (!strcmp(a, "-o")) out = v;
        else { cli_error("minisign-key: unknown option '%s'", a); return EXIT_USAGE; }
    }
    if (!in || !out) {
        cli_error("minisign-key needs -i PUBLISHER.pub and -o OUT");
        return EXIT_USAGE;
    }
    sealm_error err = {0};
    sealm_key_kind kind;
    uint8_t pk[32];
    if (sealm_pubkey_load(in, &kind, pk, &err)) {
        cli_error("%s", err.message);
        return 1;
    }
    if (kind != SEALM_KEY_PUBLISHER) {
        cli_error("%s is a device key; minisign signatures come from publisher keys", in);
        return EXIT_USAGE;
    }
    if (sealm_minisign_write_public_key(pk, out, &err)) {
        cli_error("%s", err.message);
        return 1;
    }
    printf("minisign public key → %s\n", out);
    return 0;
}
