/* sealmd front — the input guard: every text a client controls (each chat message, whatever
 * its role, or the completions prompt) is screened before anything reaches the worker.
 *
 *  - injection (sealm_guard_screen_injection): a score per text; from the threshold on it is
 *    a finding; with "block" the request is refused.
 *  - PII (sealm_guard_pii_scan): "detect" counts, "block" refuses, "redact" replaces each
 *    value by a typed placeholder from this request's vault ("[EMAIL_1]"), so the model only
 *    ever sees placeholders. The vault lives in this process's memory for the request only.
 *
 * Injection is screened on the text as the client sent it, before redaction: placeholders
 * must not hide an instruction. Nothing here logs or returns text: errors and log lines
 * name kinds and counts. */
#include "server/front.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

sealm_status front_guard_request_init(front_guard_request *g, const front_config *cfg, const front_model *model,
                                      const front_key *key, bool has_system, sealm_error *err)
{
    (void)cfg;
    (void)err;
    memset(g, 0, sizeof *g);
    g->model = model;
    g->policy = front_guard_resolve(&model->guard, &key->guard);
    /* One canary per request (not per worker start): a canary that leaked partially, or
     * through a channel the filter does not see, is worthless for the next request, and the
     * front never has to share a long-lived secret with the worker. */
    if (has_system && model->canary)
        sealm_guard_canary_new(g->canary);
    return SEALM_OK;
}

void front_guard_request_free(front_guard_request *g)
{
    sealm_guard_vault_free(g->vault);
    sealm_guard_vault_free(g->restore);
    sodium_memzero(g->canary, sizeof g->canary);
    g->vault = g->restore = NULL;
}

/* "EMAIL, PHONE" for the kinds counted in r (at most out_len bytes). */
static void kinds_list(const front_guard_report *r, char *out, size_t out_len)
{
    size_t at = 0;
    out[0] = 0;
    for (int k = 0; k < SEALM_GUARD_KIND_COUNT && at < out_len; k++)
        if (r->count[k])
            at += (size_t)snprintf(out + at, out_len - at, "%s%s", at ? ", " : "", sealm_guard_kind_name((sealm_guard_kind)k));
}

static int guard_fail(api_error *e, int status, const char *code, const char *param, const char *message)
{
    memset(e, 0, sizeof *e);
    e->status = status;
    e->type = status == 400 ? "invalid_request_error" : "server_error";
    e->code = code;
    snprintf(e->param, sizeof e->param, "%s", param);
    snprintf(e->message, sizeof e->message, "%s", message);
    return status;
}

/* Screens one text; *replacement receives the redacted text (a new JSON string) when PII
 * was redacted, else stays NULL. Returns 0, or 500 when the guard itself failed. */
static int guard_text(front_guard_request *g, const front_config *cfg, const char *text, size_t len,
                      json_t **replacement, api_error *e)
{
    const front_guard_policy *p = &g->policy;
    front_guard_report *r = &g->input;
    sealm_error err = {0};
    *replacement = NULL;
    if (p->input_injection != SEALM_GUARD_OFF) {
        float score = 0;
        if (sealm_guard_screen_injection(cfg->guard_injector, text, len, &score, NULL, &err))
            return guard_fail(e, 500, "guard_error", "", "the input guard failed (out of memory)");
        if (score >= p->injection_threshold) {
            r->count[SEALM_GUARD_INJECTION]++;
            if (p->input_injection == SEALM_GUARD_BLOCK && !r->blocked) {
                r->blocked = true;
                r->block_kind = SEALM_GUARD_INJECTION;
            }
        }
    }
    if (p->input_pii == SEALM_GUARD_OFF)
        return 0;
    sealm_guard_findings f = {0};
    if (sealm_guard_pii_scan(cfg->guard_pii, text, len, &f, &err)) {
        sealm_guard_findings_free(&f);
        return guard_fail(e, 500, "guard_error", "", "the input guard failed (out of memory)");
    }
    for (size_t i = 0; i < f.n; i++)
        r->count[f.items[i].kind]++;
    int rc = 0;
    if (f.n && p->input_pii == SEALM_GUARD_BLOCK && !r->blocked) {
        r->blocked = true;
        r->block_kind = f.items[0].kind;
    }
    if (f.n && p->input_pii == SEALM_GUARD_REDACT) {
        char *red = NULL;
        size_t red_len = 0;
        bool ok = (g->vault || !sealm_guard_vault_new(&g->vault, &err)) &&
                  !sealm_guard_redact_findings(g->vault, text, len, &f, &red, &red_len, &err);
        /* With restore, the same values go into a second vault in the same order, so they get
         * the same placeholders there: it then maps back exactly what came from the input. */
        if (ok && g->model->restore) {
            ok = g->restore || !sealm_guard_vault_new(&g->restore, &err);
            for (size_t i = 0; ok && i < f.n; i++) {
                const char *ph;
                ok = !sealm_guard_vault_placeholder(g->restore, f.items[i].kind, text + f.items[i].start,
                                                    f.items[i].end - f.items[i].start, &ph, &err);
            }
        }
        if (ok && !(*replacement = json_stringn(red, red_len)))
            ok = false;
        free(red);
        if (!ok)
            rc = guard_fail(e, 500, "guard_error", "", "the input guard failed");
    }
    sealm_guard_findings_free(&f);
    return rc;
}

int front_guard_input(front_guard_request *g, const front_config *cfg, json_t *generate, api_error *e)
{
    const front_guard_policy *p = &g->policy;
    if (p->input_pii == SEALM_GUARD_OFF && p->input_injection == SEALM_GUARD_OFF)
        return 0;
    double t0 = front_now();
    json_t *messages = json_object_get(generate, "messages");
    const char *param = messages ? "messages" : "prompt";
    int rc = 0;
    if (messages) {
        size_t i;
        json_t *m;
        json_array_foreach(messages, i, m) {
            json_t *c = json_object_get(m, "content"), *rep = NULL;
            if (!json_is_string(c))
                continue;
            if ((rc = guard_text(g, cfg, json_string_value(c), json_string_length(c), &rep, e)))
                break;
            if (rep)
                json_object_set_new(m, "content", rep);
            if (g->input.blocked)
                break;
        }
    } else {
        json_t *pr = json_object_get(generate, "prompt"), *rep = NULL;
        if (json_is_string(pr) && !(rc = guard_text(g, cfg, json_string_value(pr), json_string_length(pr), &rep, e)) && rep)
            json_object_set_new(generate, "prompt", rep);
    }
    g->input.seconds = front_now() - t0;
    if (rc)
        return rc;
    if (g->input.blocked) {
        char kinds[160], msg[256];
        kinds_list(&g->input, kinds, sizeof kinds);
        snprintf(msg, sizeof msg, "the input was blocked by this server's guard policy (found: %s)", kinds);
        return guard_fail(e, 400, "input_blocked", param, msg);
    }
    return 0;
}

void front_guard_log(const char *event, uint64_t req, const char *key_id, const char *model, int direction,
                     const front_guard_report *r, const front_guard_policy *p)
{
    json_t *kinds = json_object();
    const int action = direction == GUARD_INPUT ? -1 : p->output_pii;
    for (int k = 0; kinds && k < SEALM_GUARD_KIND_COUNT; k++) {
        if (!r->count[k])
            continue;
        json_object_set_new(kinds, sealm_guard_kind_name((sealm_guard_kind)k), json_integer(r->count[k]));
        /* The action a finding got: injection follows the injection setting, policy and
         * canary findings are reported as what the stream did with them. */
        int a = action;
        if (direction == GUARD_INPUT)
            a = k == SEALM_GUARD_INJECTION ? p->input_injection : p->input_pii;
        else if (k == SEALM_GUARD_CANARY)
            a = SEALM_GUARD_BLOCK;
        else if (k == SEALM_GUARD_POLICY)
            a = r->blocked && r->block_kind == SEALM_GUARD_POLICY ? SEALM_GUARD_BLOCK : SEALM_GUARD_DETECT;
        front_metrics_guard_finding(direction, (sealm_guard_kind)k, (sealm_guard_action)a, r->count[k]);
    }
    if (r->blocked)
        front_metrics_guard_block(direction, r->block_kind);
    /* Time is observed only where a check ran, so that the histogram's mean is the cost of
     * the guard per guarded request. */
    if (direction == GUARD_OUTPUT || p->input_pii != SEALM_GUARD_OFF || p->input_injection != SEALM_GUARD_OFF)
        front_metrics_guard_seconds(direction, r->seconds);
    if (!kinds || (json_object_size(kinds) == 0 && !r->blocked)) {
        json_decref(kinds);
        return;
    }
    json_t *f = json_pack("{s:I,s:s?,s:s?,s:s,s:o,s:b,s:f}", "request_id", (json_int_t)req, "key_id", key_id, "model", model,
                          "direction", direction == GUARD_INPUT ? "input" : "output", "findings", kinds, "blocked",
                          r->blocked, "guard_ms", r->seconds * 1000);
    if (f && r->blocked)
        json_object_set_new(f, "block_kind", json_string(sealm_guard_kind_name(r->block_kind)));
    front_log(r->blocked && r->block_kind == SEALM_GUARD_CANARY ? "warning" : "info", event, f);
    json_decref(f);
}
