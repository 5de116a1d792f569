/* libFuzzer target for sealmd's handling of untrusted text: the HTTP request body validation
 * (api_validate: every OpenAI field, limits, scopes), the config parser (guard objects
 * included), and the guard a request's text and the model's output go through (input redaction
 * and injection screening, the output filter with canary, PII, policy and re-personalization,
 * fed in pieces). The first byte picks which; the rest is the input. Each must return an error
 * for anything malformed, never crash, never leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server/front.h"

#define CONFIG_TEXT                                                                                     \
    "{\"listen\":{\"unix\":{\"path\":\"/run/s.sock\"}},"                                             \
    "\"models\":[{\"id\":\"m\",\"path\":\"/x.gguf\",\"allow_plain\":true,\"guard\":{\"input\":{\"pii\":\"redact\"," \
    "\"injection\":\"detect\"},\"output\":{\"pii\":\"redact\"},\"restore\":true}}],"                           \
    "\"keys\":[{\"id\":\"k\",\"hash\":\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"," \
    "\"models\":[\"*\"]}]}"

static front_config cfg;
static json_t *hello_models;
static front_key key;

static void init_once(void) {
    static int done;
    if (done) return;
    done = 1;
    sealm_error err = {0};
    if (front_config_parse(CONFIG_TEXT, &cfg, &err) != SEALM_OK) abort();
    if (front_guard_load(&cfg, &err) != SEALM_OK) abort();
    static const char policy[] = "block phrase internal use only\nredact regex \\bfalcon\\w*\n";
    if (sealm_guard_policy_parse(policy, strlen(policy), &cfg.models[0].policy, &err) != SEALM_OK) abort();
    hello_models = json_loads("[{\"id\":\"m\",\"n_ctx\":2048,\"n_vocab\":512,\"created\":1,\"architecture\":\"llama\"}]",
                              0, NULL);
    if (!hello_models) abort();
    static char *models[] = {"*"};
    snprintf(key.id, sizeof key.id, "k");
    key.models = models;
    key.n_models = 1;
    key.features = FEATURE_LOGPROBS | FEATURE_LOGIT_BIAS | FEATURE_SYSTEM_PROMPT;
    key.guard = front_guard_policy_unset();
}

/* The input guard over text as a prompt, then the same text as model output in pieces of
 * 1..8 bytes (sizes from the text itself) through the output filter. */
static void guard_text(const char *data, size_t size) {
    json_t *gen = json_object();
    json_t *p = json_stringn(data, size);
    if (!gen || !p) {
        json_decref(gen);
        json_decref(p);
        return;
    }
    json_object_set_new(gen, "prompt", p);
    front_guard_request g;
    sealm_error err = {0};
    api_error e;
    if (front_guard_request_init(&g, &cfg, &cfg.models[0], &key, true, &err) == SEALM_OK) {
        front_guard_input(&g, &cfg, gen, &e);
        front_guard_output *o = NULL;
        if (front_guard_output_new(&g, &cfg, &o, &err) == SEALM_OK && o) {
            const char *out;
            size_t n, released;
            bool blocked = false;
            for (size_t at = 0; at < size && !blocked;) {
                size_t step = 1 + (unsigned char)data[at] % 8;
                if (step > size - at) step = size - at;
                blocked = front_guard_output_push(o, data + at, step, &out, &n, &released);
                at += step;
            }
            if (!blocked) front_guard_output_finish(o, &out, &n, &released);
            front_guard_output_free(o);
        }
        front_guard_request_free(&g);
    }
    json_decref(gen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init_once();
    if (size < 1) return 0;
    uint8_t mode = data[0] % 4;
    data++;
    size--;
    if (mode == 2) {
        char *text = malloc(size + 1);
        if (!text) return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        front_config c;
        sealm_error err = {0};
        if (front_config_parse(text, &c, &err) == SEALM_OK) front_config_free(&c);
        free(text);
        return 0;
    }
    if (mode == 3) {
        guard_text((const char *)data, size);
        return 0;
    }
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!body) return 0;
    api_request req;
    api_error e;
    if (api_validate(body, mode == 0, &key, &cfg, hello_models, &req, &e) == 0) json_decref(req.generate);
    json_decref(body);
    return 0;
}
