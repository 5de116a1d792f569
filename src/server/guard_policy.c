/* sealmd front — guard policies in the config: which check runs on which direction of a
 * request, and with what action (docs/sealmd.md, "Guardrails").
 *
 *     "guard": {"input":  {"pii": "redact", "injection": "block", "injection_threshold": 0.8},
 *               "output": {"pii": "redact"},
 *               "policy_file": "/etc/sealmd/policy.txt", "canary": true, "restore": false}
 *
 * A model's object sets the defaults for every key; a key's object ("input"/"output" only)
 * overrides single fields. The policy file, the canary and re-personalization belong to the
 * model alone: they protect the operator's system prompt and are not the client's to switch
 * off. Parsing is as strict as the rest of config.c: a typo must stop the daemon, not
 * silently leave a check off. */
#include "server/front.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

front_guard_policy front_guard_policy_unset(void)
{
    return (front_guard_policy){.input_pii = GUARD_UNSET, .input_injection = GUARD_UNSET,
                                .injection_threshold = -1, .output_pii = GUARD_UNSET};
}

static sealm_status check_known(const json_t *obj, const char *where, const char *const *known, sealm_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        size_t i = 0;
        while (known[i] && strcmp(k, known[i]) != 0)
            i++;
        if (!known[i])
            return sealm_error_set(err, SEALM_E_INVALID, "config: unknown key \"%s\" in %s", k, where);
    }
    return SEALM_OK;
}

/* An action name into *out; absent leaves *out. allow_redact: false for injection (there is
 * nothing to replace a verdict on a whole message with). */
static sealm_status get_action(const json_t *obj, const char *key, const char *where, bool allow_redact, int *out,
                               sealm_error *err)
{
    static const char *const names[] = {"off", "detect", "redact", "block"};
    json_t *v = json_object_get(obj, key);
    if (!v)
        return SEALM_OK;
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    for (int a = 0; a < 4; a++)
        if (strcmp(s, names[a]) == 0 && (allow_redact || a != SEALM_GUARD_REDACT)) {
            *out = a;
            return SEALM_OK;
        }
    return sealm_error_set(err, SEALM_E_INVALID, "config: %s.%s must be one of %s", where, key,
                           allow_redact ? "\"off\", \"detect\", \"redact\", \"block\"" : "\"off\", \"detect\", \"block\"");
}

static sealm_status parse_input(const json_t *in, const char *where, front_guard_policy *out, sealm_error *err)
{
    static const char *const known[] = {"pii", "injection", "injection_threshold", NULL};
    sealm_status st;
    if (!json_is_object(in))
        return sealm_error_set(err, SEALM_E_INVALID, "config: %s must be an object", where);
    if ((st = check_known(in, where, known, err)) || (st = get_action(in, "pii", where, true, &out->input_pii, err)) ||
        (st = get_action(in, "injection", where, false, &out->input_injection, err)))
        return st;
    json_t *t = json_object_get(in, "injection_threshold");
    if (t) {
        if (!json_is_number(t) || !(json_number_value(t) > 0) || json_number_value(t) > 1)
            return sealm_error_set(err, SEALM_E_INVALID, "config: %s.injection_threshold must be a number in (0, 1]", where);
        out->injection_threshold = json_number_value(t);
    }
    return SEALM_OK;
}

static sealm_status parse_output(const json_t *o, const char *where, front_guard_policy *out, sealm_error *err)
{
    static const char *const known[] = {"pii", NULL};
    sealm_status st;
    if (!json_is_object(o))
        return sealm_error_set(err, SEALM_E_INVALID, "config: %s must be an object", where);
    if ((st = check_known(o, where, known, err)) || (st = get_action(o, "pii", where, true, &out->output_pii, err)))
        return st;
    return SEALM_OK;
}

sealm_status front_guard_parse(const json_t *guard, const char *where, front_guard_policy *out, front_model *model,
                               sealm_error *err)
{
    static const char *const key_known[] = {"input", "output", NULL};
    static const char *const model_known[] = {"input", "output", "policy_file", "canary", "restore", NULL};
    char sub[96];
    sealm_status st;
    if (!guard || json_is_null(guard))
        return SEALM_OK;
    if (!json_is_object(guard))
        return sealm_error_set(err, SEALM_E_INVALID, "config: %s must be an object", where);
    if ((st = check_known(guard, where, model ? model_known : key_known, err)))
        return st;
    json_t *in = json_object_get(guard, "input"), *o = json_object_get(guard, "output");
    snprintf(sub, sizeof sub, "%s.input", where);
    if (in && (st = parse_input(in, sub, out, err)))
        return st;
    snprintf(sub, sizeof sub, "%s.output", where);
    if (o && (st = parse_output(o, sub, out, err)))
        return st;
    if (!model)
        return SEALM_OK;
    static const char *const bools[] = {"canary", "restore"};
    for (int i = 0; i < 2; i++) {
        json_t *b = json_object_get(guard, bools[i]);
        if (b && !json_is_boolean(b))
            return sealm_error_set(err, SEALM_E_INVALID, "config: %s.%s must be true or false", where, bools[i]);
        if (b)
            *(i == 0 ? &model->canary : &model->restore) = json_is_true(b);
    }
    json_t *pf = json_object_get(guard, "policy_file");
    if (pf && !json_is_null(pf)) {
        if (!json_is_string(pf) || json_string_length(pf) == 0)
            return sealm_error_set(err, SEALM_E_INVALID, "config: %s.policy_file must be a non-empty path", where);
        free(model->policy_file);
        if (!(model->policy_file = strdup(json_string_value(pf))))
            return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    }
    return SEALM_OK;
}

front_guard_policy front_guard_resolve(const front_guard_policy *model, const front_guard_policy *key)
{
    front_guard_policy r;
    r.input_pii = key->input_pii != GUARD_UNSET ? key->input_pii : model->input_pii;
    r.input_injection = key->input_injection != GUARD_UNSET ? key->input_injection : model->input_injection;
    r.output_pii = key->output_pii != GUARD_UNSET ? key->output_pii : model->output_pii;
    r.injection_threshold = key->injection_threshold >= 0 ? key->injection_threshold : model->injection_threshold;
    if (r.input_pii == GUARD_UNSET)
        r.input_pii = SEALM_GUARD_OFF;
    if (r.input_injection == GUARD_UNSET)
        r.input_injection = SEALM_GUARD_OFF;
    if (r.output_pii == GUARD_UNSET)
        r.output_pii = SEALM_GUARD_OFF;
    /* The guard layer's thresholds were measured for these two uses (docs/guard.md). */
    if (r.injection_threshold < 0)
        r.injection_threshold = r.input_injection == SEALM_GUARD_BLOCK ? SEALM_GUARD_INJECT_BLOCK : SEALM_GUARD_INJECT_DETECT;
    return r;
}

sealm_status front_guard_load(front_config *cfg, sealm_error *err)
{
    sealm_status st;
    /* Compiled whatever the config says today: a SIGHUP reload replaces the keys (and so may
     * turn a check on), but not these. Compiling both takes a few milliseconds at start. */
    if (!cfg->guard_pii && (st = sealm_guard_pii_new(NULL, &cfg->guard_pii, err)))
        return st;
    if (!cfg->guard_injector && (st = sealm_guard_injector_new(NULL, &cfg->guard_injector, err)))
        return st;
    for (size_t i = 0; i < cfg->n_models; i++) {
        front_model *m = &cfg->models[i];
        if (!m->policy_file || m->policy)
            continue;
        if ((st = sealm_guard_policy_load(m->policy_file, &m->policy, err))) {
            char why[sizeof err->message];
            snprintf(why, sizeof why, "%s", err->message);
            return sealm_error_set(err, st, "model '%s': guard.policy_file: %s", m->id, why);
        }
    }
    return SEALM_OK;
}
