/* sealmd front — the JSON config file. Parsing is strict: a typo in a security setting
 * (say "client_cа" or "featurs") must stop the daemon, not silently weaken it, so every
 * object is checked against its list of known keys and every value against its type and
 * range, with a message that names the key. The reference is docs/sealmd.md. */
#include "server/front.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

enum { HASH_HEX = 64 };

/* ---- small checked getters ---- */

/* Refuses keys of obj not in the NULL-terminated list known; where says which object. */
static sealm_status check_keys(const json_t *obj, const char *where, const char *const *known, sealm_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = strcmp(k, known[i]) == 0;
        if (!ok)
            return sealm_error_set(err, SEALM_E_INVALID, "config: unknown key \"%s\" in %s", k, where);
    }
    return SEALM_OK;
}

static sealm_status get_object(const json_t *obj, const char *key, const char *where, json_t **out, sealm_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return SEALM_OK;
    if (!json_is_object(v))
        return sealm_error_set(err, SEALM_E_INVALID, "config: %s.%s must be an object", where, key);
    *out = v;
    return SEALM_OK;
}

/* Optional string (absent or null: *out = NULL); copied. */
static sealm_status get_string(const json_t *obj, const char *key, const char *where, char **out, sealm_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return SEALM_OK;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return sealm_error_set(err, SEALM_E_INVALID, "config: %s.%s must be a non-empty string", where, key);
    if (!(*out = strdup(json_string_value(v))))
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    return SEALM_OK;
}

static sealm_status get_int(const json_t *obj, const char *key, const char *where, int64_t def, int64_t lo, int64_t hi,
                            int64_t *out, sealm_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v)
        return SEALM_OK;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return sealm_error_set(err, SEALM_E_INVALID, "config: %s.%s must be an integer in [%lld, %lld]", where, key,
                               (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return SEALM_OK;
}

static sealm_status get_num(const json_t *obj, const char *key, const char *where, double def, double lo, double hi,
                            double *out, sealm_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v)
        return SEALM_OK;
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi)
        return sealm_error_set(err, SEALM_E_INVALID, "config: %s.%s must be a number in [%g, %g]", where, key, lo, hi);
    *out = json_number_value(v);
    return SEALM_OK;
}

static sealm_status get_bool(const json_t *obj, const char *key, const char *where, bool def, bool *out, sealm_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v)
        return SEALM_OK;
    if (!json_is_boolean(v))
        return sealm_error_set(err, SEALM_E_INVALID, "config: %s.%s must be true or false", where, key);
    *out = json_is_true(v);
    return SEALM_OK;
}

/* ---- sections ---- */

static sealm_status parse_listen(const json_t *root, front_config *cfg, sealm_error *err)
{
    static const char *const known[] = {"unix", "tcp", NULL};
    static const char *const unix_known[] = {"path", "mode", NULL};
    static const char *const tcp_known[] = {"host", "port", "cert", "key", "client_ca", NULL};
    json_t *listen, *ux, *tcp;
    sealm_status st;
    if ((st = get_object(root, "listen", "config", &listen, err)))
        return st;
    if (!listen)
        return sealm_error_set(err, SEALM_E_INVALID, "config: \"listen\" is required (listen.unix and/or listen.tcp)");
    if ((st = check_keys(listen, "listen", known, err)) || (st = get_object(listen, "unix", "listen", &ux, err)) ||
        (st = get_object(listen, "tcp", "listen", &tcp, err)))
        return st;
    if (!ux && !tcp)
        return sealm_error_set(err, SEALM_E_INVALID, "config: listen needs \"unix\" or \"tcp\"");
    if (ux) {
        if ((st = check_keys(ux, "listen.unix", unix_known, err)) ||
            (st = get_string(ux, "path", "listen.unix", &cfg->unix_path, err)))
            return st;
        if (!cfg->unix_path)
            return sealm_error_set(err, SEALM_E_INVALID, "config: listen.unix.path is required");
        if (strlen(cfg->unix_path) >= 108)
            return sealm_error_set(err, SEALM_E_INVALID, "config: listen.unix.path is longer than 107 bytes");
        cfg->unix_mode = 0660;
        json_t *mode = json_object_get(ux, "mode");
        if (mode) {
            /* Octal as a string ("0660"): JSON has no octal numbers and 660 decimal is a trap. */
            const char *s = json_is_string(mode) ? json_string_value(mode) : "";
            char *end = NULL;
            unsigned long m = strtoul(s, &end, 8);
            if (!*s || *end || m > 0777)
                return sealm_error_set(err, SEALM_E_INVALID, "config: listen.unix.mode must be an octal string such as \"0660\"");
            cfg->unix_mode = (unsigned)m;
        }
    }
    if (tcp) {
        int64_t port;
        if ((st = check_keys(tcp, "listen.tcp", tcp_known, err)) ||
            (st = get_string(tcp, "host", "listen.tcp", &cfg->tcp_host, err)) ||
            (st = get_int(tcp, "port", "listen.tcp", -1, 0, 65535, &port, err)) ||
            (st = get_string(tcp, "cert", "listen.tcp", &cfg->tls_cert, err)) ||
            (st = get_string(tcp, "key", "listen.tcp", &cfg->tls_key, err)) ||
            (st = get_string(tcp, "client_ca", "listen.tcp", &cfg->tls_client_ca, err)))
            return st;
        if (port < 0)
            return sealm_error_set(err, SEALM_E_INVALID, "config: listen.tcp.port is required");
        cfg->tcp_port = (int)port;
        if (!cfg->tcp_host && !(cfg->tcp_host = strdup("127.0.0.1")))
            return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
        /* Plain-text HTTP on a network socket would expose API keys: TLS is not optional. */
        if (!cfg->tls_cert || !cfg->tls_key)
            return sealm_error_set(err, SEALM_E_INVALID, "config: listen.tcp needs \"cert\" and \"key\" (TLS is mandatory on TCP)");
    }
    return SEALM_OK;
}

static sealm_status parse_limits(const json_t *root, front_config *cfg, sealm_error *err)
{
    static const char *const known[] = {"max_body_bytes", "max_prompt_tokens", "max_tokens", "max_stop",
                                        "max_stop_bytes", "max_messages", "max_in_flight",
                                        "request_timeout_seconds", NULL};
    json_t *lim;
    sealm_status st;
    front_limits *l = &cfg->limits;
    if ((st = get_object(root, "limits", "config", &lim, err)))
        return st;
    cfg->limits_json = lim ? json_incref(lim) : json_object();
    if (!cfg->limits_json)
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    lim = cfg->limits_json;
    if ((st = check_keys(lim, "limits", known, err)) ||
        (st = get_int(lim, "max_body_bytes", "limits", 1 << 20, 1024, 64 << 20, &l->max_body_bytes, err)) ||
        (st = get_int(lim, "max_prompt_tokens", "limits", 2048, 1, 1 << 20, &l->max_prompt_tokens, err)) ||
        (st = get_int(lim, "max_tokens", "limits", 512, 1, 1 << 20, &l->max_tokens, err)) ||
        (st = get_int(lim, "max_stop", "limits", 4, 0, 16, &l->max_stop, err)) ||
        (st = get_int(lim, "max_stop_bytes", "limits", 64, 1, 1024, &l->max_stop_bytes, err)) ||
        (st = get_int(lim, "max_messages", "limits", 256, 1, 65536, &l->max_messages, err)) ||
        (st = get_int(lim, "max_in_flight", "limits", 64, 1, 4096, &l->max_in_flight, err)) ||
        (st = get_int(lim, "request_timeout_seconds", "limits", 300, 1, 86400, &l->request_timeout_s, err)))
        return st;
    return SEALM_OK;
}

/* models[].tpm: the TCTI string the worker reaches the device's TPM with (tpm2-tss syntax,
 * e.g. "device:/dev/tpmrm0" or "swtpm:host=127.0.0.1,port=2321"). Same shape as the key
 * layer accepts (include/sealm/keys.h): 1..256 printable ASCII bytes, no spaces, so that a
 * typo is named here rather than as a TPM error at startup. The TPM guards a sealed bundle's
 * device key and rollback counter, so it means nothing for a plain GGUF. */
enum { TPM_TCTI_MAX = 256 };

static sealm_status check_tpm(const json_t *m, const char *where, bool plain, sealm_error *err)
{
    const json_t *v = json_object_get(m, "tpm");
    if (!v || json_is_null(v))
        return SEALM_OK;
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    size_t n = json_is_string(v) ? json_string_length(v) : 0;
    bool ok = n > 0 && n <= TPM_TCTI_MAX && strlen(s) == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f;
    if (!ok)
        return sealm_error_set(err, SEALM_E_INVALID,
                               "config: %s.tpm must be a TCTI string of 1-%d printable characters without spaces, "
                               "e.g. \"device:/dev/tpmrm0\" or \"swtpm:host=127.0.0.1,port=2321\"", where, TPM_TCTI_MAX);
    if (plain)
        return sealm_error_set(err, SEALM_E_INVALID,
                               "config: %s.tpm needs a sealed bundle: a plain GGUF (\"allow_plain\": true) has no device "
                               "key or rollback state for the TPM to hold; remove one of the two", where);
    return SEALM_OK;
}

static sealm_status parse_models(const json_t *root, front_config *cfg, sealm_error *err)
{
    static const char *const known[] = {"id", "path", "device_key", "passphrase_file", "trust", "state", "tpm",
                                        "allow_plain", "n_ctx", "threads", "max_parallel", "system_prompt",
                                        "chat_template", "logprobs", "prefix_cache", "prefill_turn_ms", "guard", NULL};
    json_t *models = json_object_get(root, "models");
    if (!json_is_array(models) || json_array_size(models) == 0)
        return sealm_error_set(err, SEALM_E_INVALID, "config: \"models\" must be a non-empty array");
    cfg->n_models = json_array_size(models);
    if (!(cfg->models = calloc(cfg->n_models, sizeof *cfg->models)))
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    size_t i, tpm_first = 0;
    json_t *m;
    const char *tpm_state = NULL;   /* the state file of the first model with "tpm" */
    json_array_foreach(models, i, m) {
        char where[32], *s = NULL;
        int64_t dummy;
        bool plain, flag;   /* flag: checked here, used by the worker */
        sealm_status st;
        snprintf(where, sizeof where, "models[%zu]", i);
        if (!json_is_object(m))
            return sealm_error_set(err, SEALM_E_INVALID, "config: %s must be an object", where);
        if ((st = check_keys(m, where, known, err)))
            return st;
        char gwhere[48];
        snprintf(gwhere, sizeof gwhere, "%s.guard", where);
        cfg->models[i].guard = front_guard_policy_unset();
        cfg->models[i].canary = true;
        if ((st = front_guard_parse(json_object_get(m, "guard"), gwhere, &cfg->models[i].guard, &cfg->models[i], err)))
            return st;
        static const char *const strings[] = {"passphrase_file", "system_prompt", "chat_template"};
        for (size_t k = 0; k < sizeof strings / sizeof *strings; k++) {
            if ((st = get_string(m, strings[k], where, &s, err)))
                return st;
            free(s);
        }
        if ((st = get_bool(m, "allow_plain", where, false, &plain, err)) || (st = check_tpm(m, where, plain, err)) ||
            (st = get_bool(m, "logprobs", where, true, &cfg->models[i].logprobs, err)) ||
            (st = get_bool(m, "prefix_cache", where, true, &flag, err)) ||
            (st = get_int(m, "n_ctx", where, 2048, 16, 1 << 20, &dummy, err)) ||
            (st = get_int(m, "threads", where, 0, 0, 1024, &dummy, err)) ||
            (st = get_int(m, "max_parallel", where, 4, 1, 64, &dummy, err)) ||
            (st = get_int(m, "prefill_turn_ms", where, 0, 0, 60000, &dummy, err)))
            return st;
        /* A sealed bundle needs its device key, trust store and rollback state; a plain GGUF
         * only when the operator said so explicitly. */
        const char *need[] = {"id", "path", plain ? NULL : "device_key", plain ? NULL : "trust",
                              plain ? NULL : "state"};
        for (size_t k = 0; k < sizeof need / sizeof *need; k++) {
            if (!need[k])
                continue;
            if ((st = get_string(m, need[k], where, &s, err)))
                return st;
            if (!s)
                return sealm_error_set(err, SEALM_E_INVALID, "config: %s.%s is required%s", where, need[k],
                                       k >= 2 ? " (or \"allow_plain\": true for a plain GGUF)" : "");
            if (k == 0) {
                if (strlen(s) >= sizeof cfg->models[i].id || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") != strlen(s)) {
                    free(s);
                    return sealm_error_set(err, SEALM_E_INVALID, "config: %s.id must be 1-127 characters of [A-Za-z0-9._:-]", where);
                }
                strcpy(cfg->models[i].id, s);
            }
            free(s);
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->models[j].id, cfg->models[i].id) == 0)
                return sealm_error_set(err, SEALM_E_INVALID, "config: %s.id \"%s\" is used twice", where, cfg->models[i].id);
        /* The TPM has one rollback counter for sealm (SEALM_TPM_NV_ROLLBACK_INDEX) and a
         * counter-bound state file must match it exactly, so two state files on it would each
         * see the other's increments as "an older copy": every TPM model shares one file. */
        if (json_is_string(json_object_get(m, "tpm"))) {
            const char *state = json_string_value(json_object_get(m, "state"));
            if (!tpm_state) {
                tpm_state = state;
                tpm_first = i;
            } else if (strcmp(state, tpm_state) != 0) {
                return sealm_error_set(err, SEALM_E_INVALID,
                                       "config: %s.state must be \"%s\" like models[%zu].state: every model with \"tpm\" "
                                       "shares one state file (the TPM holds one anti-rollback counter)", where, tpm_state, tpm_first);
            }
        }
    }
    cfg->models_json = json_incref(models);
    return SEALM_OK;
}

static sealm_status parse_hash(const char *s, uint8_t out[32], const char *where, sealm_error *err)
{
    size_t bin_len = 0;
    if (strncmp(s, "sha256:", 7) != 0 || strlen(s + 7) != HASH_HEX ||
        sodium_hex2bin(out, 32, s + 7, HASH_HEX, NULL, &bin_len, NULL) != 0 || bin_len != 32)
        return sealm_error_set(err, SEALM_E_INVALID,
                               "config: %s.hash must be \"sha256:<64 hex digits>\" (make one with: sealmd --hash-key)", where);
    return SEALM_OK;
}

static sealm_status parse_key(const json_t *k, const char *where, front_key *key, sealm_error *err)
{
    static const char *const known[] = {"id", "hash", "models", "features", "requests_per_minute",
                                        "tokens_per_minute", "quota_tokens", "quota_period_seconds", "guard", NULL};
    sealm_status st;
    char *s = NULL;
    if (!json_is_object(k))
        return sealm_error_set(err, SEALM_E_INVALID, "config: %s must be an object", where);
    if ((st = check_keys(k, where, known, err)) || (st = get_string(k, "id", where, &s, err)))
        return st;
    if (!s || strlen(s) >= sizeof key->id) {
        free(s);
        return sealm_error_set(err, SEALM_E_INVALID, "config: %s.id is required (at most 63 bytes)", where);
    }
    strcpy(key->id, s);
    free(s);
    if ((st = get_string(k, "hash", where, &s, err)))
        return st;
    if (!s)
        return sealm_error_set(err, SEALM_E_INVALID, "config: %s.hash is required", where);
    st = parse_hash(s, key->hash, where, err);
    free(s);
    if (st)
        return st;

    json_t *models = json_object_get(k, "models");
    if (!json_is_array(models) || json_array_size(models) == 0)
        return sealm_error_set(err, SEALM_E_INVALID, "config: %s.models must be a non-empty array of model ids (or [\"*\"])", where);
    if (!(key->models = calloc(json_array_size(models), sizeof *key->models)))
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    size_t i;
    json_t *v;
    json_array_foreach(models, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0)
            return sealm_error_set(err, SEALM_E_INVALID, "config: %s.models[%zu] must be a non-empty string", where, i);
        if (!(key->models[key->n_models++] = strdup(json_string_value(v))))
            return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    }
    json_t *features = json_object_get(k, "features");
    if (features && !json_is_array(features))
        return sealm_error_set(err, SEALM_E_INVALID, "config: %s.features must be an array", where);
    json_array_foreach(features, i, v) {
        static const char *const names[] = {"logprobs", "logit_bias", "system_prompt", "metrics"};
        const char *f = json_is_string(v) ? json_string_value(v) : "";
        size_t n;
        for (n = 0; n < 4 && strcmp(f, names[n]) != 0; n++)
            ;
        if (n == 4)
            return sealm_error_set(err, SEALM_E_INVALID,
                                   "config: %s.features[%zu] must be one of logprobs, logit_bias, system_prompt, metrics", where, i);
        key->features |= 1u << n;
    }
    char gwhere[48];
    snprintf(gwhere, sizeof gwhere, "%s.guard", where);
    key->guard = front_guard_policy_unset();
    if ((st = front_guard_parse(json_object_get(k, "guard"), gwhere, &key->guard, NULL, err)))
        return st;
    if ((st = get_num(k, "requests_per_minute", where, 0, 0, 1e6, &key->requests_per_minute, err)) ||
        (st = get_num(k, "tokens_per_minute", where, 0, 0, 1e9, &key->tokens_per_minute, err)) ||
        (st = get_int(k, "quota_tokens", where, 0, 0, INT64_C(1) << 50, &key->quota_tokens, err)) ||
        (st = get_int(k, "quota_period_seconds", where, 86400, 1, INT64_C(1) << 32, &key->quota_period_s, err)))
        return st;
    return SEALM_OK;
}

void front_keys_free(front_key *keys, size_t n)
{
    for (size_t i = 0; keys && i < n; i++) {
        for (size_t j = 0; j < keys[i].n_models; j++)
            free(keys[i].models[j]);
        free(keys[i].models);
    }
    if (keys)
        sodium_memzero(keys, n * sizeof *keys);
    free(keys);
}

sealm_status front_keys_parse(const json_t *keys, front_key **out, size_t *n_out, sealm_error *err)
{
    *out = NULL;
    *n_out = 0;
    if (!json_is_array(keys))
        return sealm_error_set(err, SEALM_E_INVALID, "config: \"keys\" must be an array of API keys");
    size_t n = json_array_size(keys);
    front_key *ks = calloc(n ? n : 1, sizeof *ks);
    if (!ks)
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        char where[32];
        snprintf(where, sizeof where, "keys[%zu]", i);
        sealm_status st = parse_key(k, where, &ks[i], err);
        for (size_t j = 0; !st && j < i; j++)
            if (strcmp(ks[j].id, ks[i].id) == 0)
                st = sealm_error_set(err, SEALM_E_INVALID, "config: %s.id \"%s\" is used twice", where, ks[i].id);
        if (st) {
            front_keys_free(ks, i + 1);
            return st;
        }
    }
    *out = ks;
    *n_out = n;
    return SEALM_OK;
}

sealm_status front_config_parse(const char *text, front_config *cfg, sealm_error *err)
{
    static const char *const known[] = {"listen", "user", "drain_seconds", "startup_timeout_seconds",
                                        "limits", "models", "keys", NULL};
    memset(cfg, 0, sizeof *cfg);
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return sealm_error_set(err, SEALM_E_FORMAT, "config: not valid JSON at line %d column %d: %s", jerr.line,
                               jerr.column, jerr.text);
    sealm_status st = SEALM_OK;
    if (!json_is_object(root))
        st = sealm_error_set(err, SEALM_E_INVALID, "config: the top level must be an object");
    if (!st)
        st = check_keys(root, "the top level", known, err);
    if (!st)
        st = parse_listen(root, cfg, err);
    if (!st)
        st = get_string(root, "user", "config", &cfg->user, err);
    if (!st)
        st = get_num(root, "drain_seconds", "config", 10, 0, 3600, &cfg->drain_seconds, err);
    if (!st)
        st = get_num(root, "startup_timeout_seconds", "config", 300, 1, 86400, &cfg->startup_timeout_s, err);
    if (!st)
        st = parse_limits(root, cfg, err);
    if (!st)
        st = parse_models(root, cfg, err);
    if (!st)
        st = front_keys_parse(json_object_get(root, "keys"), &cfg->keys, &cfg->n_keys, err);
    json_decref(root);
    if (st)
        front_config_free(cfg);
    return st;
}

/* Reads a whole (small) text file. */
static sealm_status read_text(const char *path, char **out, sealm_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sealm_error_set(err, SEALM_E_IO, "cannot open config '%s': %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            if (cap > (16u << 20)) {
                free(buf);
                fclose(f);
                return sealm_error_set(err, SEALM_E_INVALID, "config '%s' is larger than 16 MiB", path);
            }
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return sealm_error_set(err, SEALM_E_IO, "cannot read config '%s'", path);
    }
    buf[len] = 0;
    *out = buf;
    return SEALM_OK;
}

sealm_status front_config_load(const char *path, front_config *cfg, sealm_error *err)
{
    char *text = NULL;
    memset(cfg, 0, sizeof *cfg);
    sealm_status st = read_text(path, &text, err);
    if (st)
        return st;
    st = front_config_parse(text, cfg, err);
    free(text);
    return st;
}

void front_config_free(front_config *cfg)
{
    free(cfg->unix_path);
    free(cfg->tcp_host);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->tls_client_ca);
    free(cfg->user);
    for (size_t i = 0; cfg->models && i < cfg->n_models; i++) {
        free(cfg->models[i].policy_file);
        sealm_guard_policy_free(cfg->models[i].policy);
    }
    free(cfg->models);
    sealm_guard_pii_free(cfg->guard_pii);
    sealm_guard_injector_free(cfg->guard_injector);
    front_keys_free(cfg->keys, cfg->n_keys);
    json_decref(cfg->models_json);
    json_decref(cfg->limits_json);
    memset(cfg, 0, sizeof *cfg);
}
