/* libFuzzer target for sealmd's two parsers of untrusted text: the HTTP request body
 * validation (api_validate: every OpenAI field, limits, scopes) and the config parser. The
 * first byte picks which; the rest is the input. Both must return an error for anything
 * malformed, never crash, never leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server/front.h"

#define CONFIG_TEXT                                                                                     \
    "{\"listen\":{\"unix\":{\"path\":\"/run/s.sock\"}},"                                             \
    "\"models\":[{\"id\":\"m\",\"path\":\"/x.gguf\",\"allow_plain\":true}],"                          \
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
    hello_models = json_loads("[{\"id\":\"m\",\"n_ctx\":2048,\"n_vocab\":512,\"created\":1,\"architecture\":\"llama\"}]",
                              0, NULL);
    if (!hello_models) abort();
    static char *models[] = {"*"};
    snprintf(key.id, sizeof key.id, "k");
    key.models = models;
    key.n_models = 1;
    key.features = FEATURE_LOGPROBS | FEATURE_LOGIT_BIAS | FEATURE_SYSTEM_PROMPT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init_once();
    if (size < 1) return 0;
    uint8_t mode = data[0] % 3;
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
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!body) return 0;
    api_request req;
    api_error e;
    if (api_validate(body, mode == 0, &key, &cfg, hello_models, &req, &e) == 0) json_decref(req.generate);
    json_decref(body);
    return 0;
}
