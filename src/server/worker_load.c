/* sealmd worker — loading the configured models before the sandbox closes the file system.
 * A sealed bundle goes through the same steps as `sealm generate -m bundle`: trust store,
 * device key (optionally passphrase-protected or TPM-sealed), anti-rollback state (bound to
 * the TPM's NV counter when the entry names a "tpm"), verified decryption into locked memory,
 * then the GGUF parsed in place. A plain GGUF is accepted only when the entry says
 * "allow_plain": true.
 *
 * Every TPM exchange happens here, before the sandbox: the library opens a TPM connection
 * (a socket or /dev/tpmrm0) per call and closes it before returning, so nothing stays open
 * once the models are loaded — which is just as well, since open/socket/connect are fatal
 * under the seccomp filter. */
#include "server/worker.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sealm/keys.h"

enum { DEFAULT_N_CTX = 2048, DEFAULT_MAX_PARALLEL = 4, MAX_PARALLEL_LIMIT = WORKER_MAX_SLOTS };

/* A string member, NULL when absent or null; SEALM_E_INVALID when of another type. */
static sealm_status entry_str(const json_t *entry, const char *key, const char **out, sealm_error *err)
{
    const json_t *v = json_object_get(entry, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return SEALM_OK;
    if (!json_is_string(v))
        return sealm_error_set(err, SEALM_E_INVALID, "models: \"%s\" must be a string", key);
    *out = json_string_value(v);
    return SEALM_OK;
}

/* An integer member in [lo, hi], def when absent or null. */
static sealm_status entry_int(const json_t *entry, const char *key, int64_t def, int64_t lo, int64_t hi,
                              int64_t *out, sealm_error *err)
{
    const json_t *v = json_object_get(entry, key);
    *out = def;
    if (!v || json_is_null(v))
        return SEALM_OK;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return sealm_error_set(err, SEALM_E_INVALID, "models: \"%s\" must be an integer in [%lld, %lld]", key,
                               (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return SEALM_OK;
}

/* true when the file starts with the sealed-bundle magic. */
static bool path_is_bundle(const char *path)
{
    char magic[8] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t n = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return n == sizeof magic && memcmp(magic, "SEALMBDL", 8) == 0;
}

/* The first line of a passphrase file, in a buffer the caller wipes (sodium_memzero). */
static sealm_status read_passphrase(const char *path, char *buf, size_t cap, sealm_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sealm_error_set(err, SEALM_E_IO, "cannot open passphrase file '%s': %s", path, strerror(errno));
    bool ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    size_t n = ok ? strlen(buf) : 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    if (n == 0)
        return sealm_error_set(err, SEALM_E_INVALID, "passphrase file '%s' holds no passphrase on its first line", path);
    return SEALM_OK;
}

/* true when the secret key file is TPM-sealed: its format (docs/keys-format.md, "TPM-sealed")
 * is the only one with a `tpm-tcti: ` line. Read only to refuse a passphrase that would be
 * ignored; the key layer does the real parsing. */
static bool key_file_is_tpm(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;   /* sealm_key_load reports why */
    char line[512];
    bool at_start = true, tpm = false;
    while (!tpm && fgets(line, sizeof line, f)) {
        tpm = at_start && strncmp(line, "tpm-tcti: ", 10) == 0;
        at_start = strchr(line, '\n') != NULL;   /* a long base64 line arrives in pieces */
    }
    fclose(f);
    return tpm;
}

/* Loads the device key. With tpm set, that TCTI says where a TPM-sealed key's TPM is: the
 * library takes SEALM_TPM_TCTI over the TCTI written in the key file, and the config must win
 * over both (it is the operator's statement of where this device's TPM is now; the variable
 * may be a leftover of the environment sealmd was started from), so the variable is set for
 * this call and put back afterwards. Safe here: the worker is still loading, and the only
 * other threads — engine pools of models loaded before — never read the environment. */
static sealm_status load_device_key(const char *key_path, const char *pass_path, const char *tpm, sealm_key **key,
                                    sealm_error *err)
{
    const char *prev_env = getenv("SEALM_TPM_TCTI");
    char *prev = prev_env ? strdup(prev_env) : NULL;
    if (prev_env && !prev)
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    if (tpm && setenv("SEALM_TPM_TCTI", tpm, 1) != 0) {
        free(prev);
        return sealm_error_set(err, SEALM_E_NOMEM, "cannot set SEALM_TPM_TCTI: %s", strerror(errno));
    }
    char pass[1024];
    sealm_status st = SEALM_OK;
    if (pass_path)
        st = read_passphrase(pass_path, pass, sizeof pass, err);
    if (!st)
        st = sealm_key_load(key_path, pass_path ? pass : NULL, key, err);
    sodium_memzero(pass, sizeof pass);
    if (tpm) {
        int rc = prev ? setenv("SEALM_TPM_TCTI", prev, 1) : unsetenv("SEALM_TPM_TCTI");
        if (rc != 0 && !st)
            st = sealm_error_set(err, SEALM_E_NOMEM, "cannot restore SEALM_TPM_TCTI: %s", strerror(errno));
    }
    free(prev);
    return st;
}

/* Verifies and decrypts a sealed bundle into locked memory and parses the GGUF there. */
static sealm_status load_bundle(worker_model *m, const json_t *entry, const char *path, sealm_error *err)
{
    const char *key_path, *pass_path, *trust_path, *state_path, *tpm;
    sealm_status st;
    if ((st = entry_str(entry, "device_key", &key_path, err)) || (st = entry_str(entry, "passphrase_file", &pass_path, err)) ||
        (st = entry_str(entry, "trust", &trust_path, err)) || (st = entry_str(entry, "state", &state_path, err)) ||
        (st = entry_str(entry, "tpm", &tpm, err)))
        return st;
    if (!key_path || !trust_path || !state_path)
        return sealm_error_set(err, SEALM_E_INVALID,
                               "model '%s': %s is a sealed bundle; the entry needs device_key, trust and state", m->id, path);
    /* A passphrase with a file key and a TPM counter is a real setup; with a TPM-sealed key the
     * library would ignore it, and a silently ignored secret hides a misconfiguration. */
    if (pass_path && key_file_is_tpm(key_path))
        return sealm_error_set(err, SEALM_E_INVALID,
                               "model '%s': %s is a TPM-sealed device key, which has no passphrase: remove passphrase_file",
                               m->id, key_path);
    sealm_trust_store *trust = NULL;
    sealm_key *key = NULL;
    sealm_bundle_rollback *state = NULL;
    uint8_t state_key[32];
    st = sealm_trust_load(trust_path, &trust, err);
    if (!st)
        st = load_device_key(key_path, pass_path, tpm, &key, err);
    /* the same derivation label and counter index as the CLI, so that both share one state
     * file (and `sealm generate --tpm` on this device sees the floors sealmd raised) */
    if (!st)
        st = sealm_key_derive(key, "sealm anti-rollback state v1", state_key, err);
    if (!st)
        st = tpm ? sealm_bundle_rollback_open_tpm(state_path, state_key, tpm, SEALM_TPM_NV_ROLLBACK_INDEX, &state, err)
                 : sealm_bundle_rollback_open(state_path, state_key, &state, err);
    sodium_memzero(state_key, sizeof state_key);
    if (!st)
        st = sealm_bundle_open_file(path, trust, key, state, &m->image, err);
    sealm_bundle_rollback_free(state);
    sealm_key_free(key);
    sealm_trust_free(trust);
    if (st)
        return st;
    size_t len = 0;
    const uint8_t *data = sealm_bundle_image_data(m->image, &len);
    return sealm_gguf_open_memory(data, len, &m->gguf, err);
}

/* Chat format and default system prompt: the entry's overrides, else the model's template. */
static sealm_status load_chat(worker_model *m, const json_t *entry, sealm_error *err)
{
    const char *tmpl_name, *system;
    sealm_status st;
    if ((st = entry_str(entry, "chat_template", &tmpl_name, err)) || (st = entry_str(entry, "system_prompt", &system, err)))
        return st;
    sealm_gguf_str tmpl = {0};
    bool has_tmpl = sealm_gguf_get_str(m->gguf, "tokenizer.chat_template", &tmpl) == SEALM_OK;
    if (tmpl_name) {
        m->chat_format = sealm_chat_format_from_name(tmpl_name);
        if (m->chat_format == SEALM_CHAT_UNKNOWN)
            return sealm_error_set(err, SEALM_E_INVALID, "model '%s': unknown chat_template '%s' (chatml, llama2, llama3, zephyr, phi3)",
                                   m->id, tmpl_name);
    } else {
        m->chat_format = has_tmpl ? sealm_chat_format_detect(tmpl.ptr, tmpl.len) : SEALM_CHAT_UNKNOWN;
    }
    /* The system prompt: the bundle's signed manifest first (the publisher's, covered by the
     * signature), then the operator's config, then the template's own default. */
    const char *manifest = m->image ? sealm_bundle_image_info(m->image)->system_prompt : NULL;
    if (manifest && !*manifest)
        manifest = NULL;
    if (manifest) {
        m->system_source = "manifest";
        m->system_conflict = system && strcmp(system, manifest) != 0;
        m->default_system = strdup(manifest);
    } else if (system) {
        m->system_source = "config";
        m->default_system = strdup(system);
    } else if (has_tmpl) {
        m->default_system = sealm_chat_default_system(tmpl.ptr, tmpl.len);
    }
    if (m->system_source && !m->default_system)
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    return SEALM_OK;
}

/* Engine contexts, one per slot, each with its own KV cache; the slots of a model share the
 * first slot's thread pool (the scheduler evaluates one slot at a time, and separate pools
 * would spin against each other). All threads the worker will ever run are started here,
 * before the sandbox. */
static sealm_status load_slots(worker_model *m, int64_t n_ctx, int64_t threads, int64_t max_parallel, sealm_error *err)
{
    m->slots = calloc((size_t)max_parallel, sizeof *m->slots);
    if (!m->slots)
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    m->n_slots = (int)max_parallel;
    sealm_context_params cp = sealm_context_params_default();
    cp.n_ctx = (int32_t)n_ctx;
    cp.n_threads = (int32_t)threads;
    for (int i = 0; i < m->n_slots; i++) {
        worker_slot *s = &m->slots[i];
        s->pending = -1;
        sealm_status st = sealm_context_new_sharing(m->model, &cp, i ? m->slots[0].ctx : NULL, &s->ctx, err);
        if (st)
            return st;
        s->biased = malloc((size_t)m->n_vocab * sizeof *s->biased);
        if (!s->biased)
            return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
        if (m->prefix_cache && !(s->held = malloc((size_t)sealm_context_n_ctx(s->ctx) * sizeof *s->held)))
            return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    }
    m->n_ctx = sealm_context_n_ctx(m->slots[0].ctx);
    return SEALM_OK;
}

static sealm_status load_one(worker_model *m, const json_t *entry, sealm_error *err)
{
    if (!json_is_object(entry))
        return sealm_error_set(err, SEALM_E_INVALID, "models: every entry must be an object");
    const char *id, *path;
    sealm_status st;
    if ((st = entry_str(entry, "id", &id, err)) || (st = entry_str(entry, "path", &path, err)))
        return st;
    if (!id || !*id || !path)
        return sealm_error_set(err, SEALM_E_INVALID, "models: every entry needs \"id\" and \"path\"");
    if (!(m->id = strdup(id)))
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    int64_t n_ctx, threads, max_parallel, prefill_turn_ms;
    if ((st = entry_int(entry, "n_ctx", DEFAULT_N_CTX, 16, 1 << 20, &n_ctx, err)) ||
        (st = entry_int(entry, "threads", 0, 0, 1024, &threads, err)) ||
        (st = entry_int(entry, "max_parallel", DEFAULT_MAX_PARALLEL, 1, MAX_PARALLEL_LIMIT, &max_parallel, err)) ||
        (st = entry_int(entry, "prefill_turn_ms", 0, 0, 60000, &prefill_turn_ms, err)))
        return st;
    m->prefill_turn_s = (double)prefill_turn_ms / 1000.0;
    const json_t *plain = json_object_get(entry, "allow_plain");
    if (plain && !json_is_boolean(plain) && !json_is_null(plain))
        return sealm_error_set(err, SEALM_E_INVALID, "models: \"allow_plain\" must be true or false");
    const json_t *cache = json_object_get(entry, "prefix_cache");
    if (cache && !json_is_boolean(cache) && !json_is_null(cache))
        return sealm_error_set(err, SEALM_E_INVALID, "models: \"prefix_cache\" must be true or false");
    m->prefix_cache = !json_is_false(cache);
    if (path_is_bundle(path)) {
        st = load_bundle(m, entry, path, err);
    } else if (json_is_true(plain)) {
        st = sealm_gguf_open_file(path, &m->gguf, err);
    } else {
        st = sealm_error_set(err, SEALM_E_PERMISSION,
                             "model '%s': %s is not a sealed bundle; plain GGUF files are served only with \"allow_plain\": true",
                             m->id, path);
    }
    if (st)
        return st;
    if ((st = sealm_model_load(m->gguf, &m->model, err)) || (st = sealm_tokenizer_from_gguf(m->gguf, &m->tok, err)))
        return st;
    m->n_vocab = sealm_model_hparams(m->model)->n_vocab;
    if (sealm_tokenizer_n_vocab(m->tok) != m->n_vocab)
        return sealm_error_set(err, SEALM_E_FORMAT, "model '%s': the tokenizer has %d tokens but the embedding table %d",
                               m->id, sealm_tokenizer_n_vocab(m->tok), m->n_vocab);
    sealm_gguf_str arch = {0};
    if (sealm_gguf_get_str(m->gguf, "general.architecture", &arch) == SEALM_OK)
        snprintf(m->architecture, sizeof m->architecture, "%.*s", (int)(arch.len < 31 ? arch.len : 31), arch.ptr);
    m->created = (int64_t)time(NULL);
    if ((st = load_chat(m, entry, err)))
        return st;
    return load_slots(m, n_ctx, threads, max_parallel, err);
}

sealm_status worker_models_load(const json_t *models, worker_model **out, size_t *n_out, sealm_error *err)
{
    *out = NULL;
    *n_out = 0;
    if (!json_is_array(models) || json_array_size(models) == 0)
        return sealm_error_set(err, SEALM_E_INVALID, "models must be a non-empty array");
    /* tpm2-tss prints its own unstructured warnings to stderr (even on a normal first start,
     * when the counter is not yet defined), which would break sealmd's one-JSON-object-per-line
     * log; every TPM failure reaches the log anyway, decoded, in the worker's error message. An
     * operator who sets TSS2_LOG keeps their setting. */
    if (setenv("TSS2_LOG", "all+none", 0) != 0)
        return sealm_error_set(err, SEALM_E_NOMEM, "cannot set TSS2_LOG: %s", strerror(errno));
    size_t n = json_array_size(models);
    worker_model *ms = calloc(n, sizeof *ms);
    if (!ms)
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        sealm_status st = load_one(&ms[i], json_array_get(models, i), err);
        for (size_t j = 0; !st && j < i; j++)
            if (!strcmp(ms[j].id, ms[i].id))
                st = sealm_error_set(err, SEALM_E_INVALID, "models: id '%s' appears twice", ms[i].id);
        if (st) {
            worker_models_free(ms, i + 1);
            return st;
        }
    }
    *out = ms;
    *n_out = n;
    return SEALM_OK;
}

void worker_request_free(worker_request *rq)
{
    if (!rq)
        return;
    free(rq->prompt);
    free(rq->bias_ids);
    free(rq->bias_values);
    for (size_t i = 0; i < rq->n_stops; i++)
        free(rq->stops[i]);
    free(rq->stops);
    free(rq);
}

void worker_models_free(worker_model *ms, size_t n)
{
    if (!ms)
        return;
    for (size_t i = 0; i < n; i++) {
        worker_model *m = &ms[i];
        for (int j = m->slots ? m->n_slots - 1 : -1; j >= 0; j--) {   /* slot 0 owns the shared pool: last */
            worker_slot *s = &m->slots[j];
            sealm_context_free(s->ctx);
            free(s->biased);
            if (s->held) {   /* prompt tokens of past requests */
                sodium_memzero(s->held, (size_t)m->n_ctx * sizeof *s->held);
                free(s->held);
            }
            sealm_sampler_free(s->sampler);
            sealm_stop_matcher_free(s->stop);
            worker_request_free(s->rq);
        }
        free(m->slots);
        while (m->queue_head) {
            worker_request *next = m->queue_head->next;
            worker_request_free(m->queue_head);
            m->queue_head = next;
        }
        free(m->default_system);
        sealm_tokenizer_free(m->tok);
        sealm_model_free(m->model);
        sealm_gguf_close(m->gguf);
        sealm_bundle_image_free(m->image);   /* wipes the plaintext weights */
        free(m->id);
    }
    free(ms);
}
