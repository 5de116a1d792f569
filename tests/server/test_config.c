/* sealmd front config: a valid file parses with its defaults; each kind of mistake (unknown
 * key, wrong type, out of range, missing requirement) is refused with a message naming the
 * key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/front.h"

#define HASH "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define MODEL "{\"id\":\"m\",\"path\":\"/x.gguf\",\"allow_plain\":true}"
#define KEY "{\"id\":\"k\",\"hash\":\"" HASH "\",\"models\":[\"*\"]}"

static void build(char *out, size_t n, const char *listen, const char *extra, const char *model, const char *key)
{
    snprintf(out, n, "{\"listen\":%s,\"models\":[%s],\"keys\":[%s]%s%s}", listen, model, key, extra[0] ? "," : "", extra);
}

static void test_valid_with_defaults(void **state)
{
    (void)state;
    char text[2048];
    build(text, sizeof text, "{\"unix\":{\"path\":\"/run/s.sock\"}}", "", MODEL, KEY);
    front_config cfg;
    sealm_error err = {0};
    assert_int_equal(front_config_parse(text, &cfg, &err), SEALM_OK);
    assert_string_equal(cfg.unix_path, "/run/s.sock");
    assert_int_equal(cfg.unix_mode, 0660);
    assert_null(cfg.tcp_host);
    assert_int_equal(cfg.limits.max_tokens, 512);
    assert_int_equal(cfg.limits.max_body_bytes, 1 << 20);
    assert_int_equal(cfg.n_models, 1);
    assert_true(cfg.models[0].logprobs);
    assert_int_equal(cfg.n_keys, 1);
    assert_string_equal(cfg.keys[0].id, "k");
    assert_int_equal(cfg.keys[0].hash[0], 0x01);
    assert_int_equal(cfg.keys[0].hash[31], 0xef);
    assert_int_equal(cfg.keys[0].features, 0);
    assert_true(json_is_array(cfg.models_json));
    front_config_free(&cfg);
}

static void test_full(void **state)
{
    (void)state;
    char text[4096];
    build(text, sizeof text,
          "{\"unix\":{\"path\":\"/s\",\"mode\":\"0600\"},\"tcp\":{\"host\":\"::1\",\"port\":8443,\"cert\":\"/c\",\"key\":\"/k\",\"client_ca\":\"/ca\"}}",
          "\"user\":\"nobody\",\"drain_seconds\":2.5,\"limits\":{\"max_tokens\":64,\"max_stop\":2}",
          "{\"id\":\"a\",\"path\":\"/a\",\"device_key\":\"/d\",\"trust\":\"/t\",\"state\":\"/s\",\"logprobs\":false}",
          "{\"id\":\"k\",\"hash\":\"" HASH "\",\"models\":[\"a\"],\"features\":[\"logit_bias\",\"metrics\"],"
          "\"requests_per_minute\":10,\"tokens_per_minute\":1000,\"quota_tokens\":5000}");
    front_config cfg;
    sealm_error err = {0};
    assert_int_equal(front_config_parse(text, &cfg, &err), SEALM_OK);
    assert_int_equal(cfg.unix_mode, 0600);
    assert_string_equal(cfg.tcp_host, "::1");
    assert_int_equal(cfg.tcp_port, 8443);
    assert_string_equal(cfg.tls_client_ca, "/ca");
    assert_string_equal(cfg.user, "nobody");
    assert_true(cfg.drain_seconds == 2.5);
    assert_int_equal(cfg.limits.max_tokens, 64);
    assert_false(cfg.models[0].logprobs);
    assert_int_equal(cfg.keys[0].features, FEATURE_LOGIT_BIAS | FEATURE_METRICS);
    assert_true(cfg.keys[0].requests_per_minute == 10);
    assert_int_equal(cfg.keys[0].quota_tokens, 5000);
    assert_int_equal(cfg.keys[0].quota_period_s, 86400);
    front_config_free(&cfg);
}

/* Each bad config must fail with SEALM_E_INVALID (or FORMAT) and a message containing word. */
static void expect_refused(const char *text, sealm_status code, const char *word)
{
    front_config cfg;
    sealm_error err = {0};
    assert_int_equal(front_config_parse(text, &cfg, &err), code);
    if (!strstr(err.message, word))
        fail_msg("message '%s' does not name '%s'", err.message, word);
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *listen, *extra, *model, *key, *word;
    } cases[] = {
        {"{\"unix\":{\"path\":\"/s\"}}", "\"bogus\":1", MODEL, KEY, "bogus"},
        {"{\"unix\":{\"path\":\"/s\",\"perms\":1}}", "", MODEL, KEY, "perms"},
        {"{\"unix\":{\"path\":\"/s\",\"mode\":\"999\"}}", "", MODEL, KEY, "mode"},
        {"{\"unix\":{\"path\":\"/s\",\"mode\":432}}", "", MODEL, KEY, "mode"},
        {"{\"tcp\":{\"port\":443}}", "", MODEL, KEY, "cert"},
        {"{\"tcp\":{\"port\":70000,\"cert\":\"/c\",\"key\":\"/k\"}}", "", MODEL, KEY, "port"},
        {"{}", "", MODEL, KEY, "listen"},
        {"{\"unix\":{\"path\":\"/s\"}}", "\"drain_seconds\":\"5\"", MODEL, KEY, "drain_seconds"},
        {"{\"unix\":{\"path\":\"/s\"}}", "\"limits\":{\"max_tokens\":0}", MODEL, KEY, "max_tokens"},
        {"{\"unix\":{\"path\":\"/s\"}}", "\"limits\":{\"max_tokns\":5}", MODEL, KEY, "max_tokns"},
        {"{\"unix\":{\"path\":\"/s\"}}", "", "{\"id\":\"m\",\"path\":\"/x\"}", KEY, "device_key"},
        {"{\"unix\":{\"path\":\"/s\"}}", "", "{\"id\":\"m\",\"path\":\"/x\",\"allow_plain\":\"yes\"}", KEY, "allow_plain"},
        {"{\"unix\":{\"path\":\"/s\"}}", "", "{\"id\":\"m\",\"path\":\"/x\",\"allow_plain\":true,\"prefix_cache\":\"yes\"}", KEY, "prefix_cache"},
        {"{\"unix\":{\"path\":\"/s\"}}", "", "{\"id\":\"m\",\"path\":\"/x\",\"allow_plain\":true,\"prefill_turn_ms\":\"50\"}", KEY, "prefill_turn_ms"},
        {"{\"unix\":{\"path\":\"/s\"}}", "", "{\"id\":\"m\",\"path\":\"/x\",\"allow_plain\":true,\"prefill_turn_ms\":-1}", KEY, "prefill_turn_ms"},
        {"{\"unix\":{\"path\":\"/s\"}}", "", "{\"id\":\"bad id\",\"path\":\"/x\",\"allow_plain\":true}", KEY, "id"},
        {"{\"unix\":{\"path\":\"/s\"}}", "", "{\"id\":\"m\",\"path\":\"/x\",\"allow_plain\":true,\"n_ctx\":1}", KEY, "n_ctx"},
        {"{\"unix\":{\"path\":\"/s\"}}", "", MODEL, "{\"id\":\"k\",\"hash\":\"secret\",\"models\":[\"*\"]}", "hash"},
        {"{\"unix\":{\"path\":\"/s\"}}", "", MODEL, "{\"id\":\"k\",\"hash\":\"" HASH "\",\"models\":[]}", "models"},
        {"{\"unix\":{\"path\":\"/s\"}}", "", MODEL, "{\"id\":\"k\",\"hash\":\"" HASH "\",\"models\":[\"*\"],\"features\":[\"root\"]}", "features"},
        {"{\"unix\":{\"path\":\"/s\"}}", "", MODEL, "{\"id\":\"k\",\"hash\":\"" HASH "\",\"models\":[\"*\"],\"requests_per_minute\":-1}", "requests_per_minute"},
        {"{\"unix\":{\"path\":\"/s\"}}", "", MODEL, KEY "," KEY, "used twice"},
    };
    char text[2048];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        build(text, sizeof text, cases[i].listen, cases[i].extra, cases[i].model, cases[i].key);
        expect_refused(text, SEALM_E_INVALID, cases[i].word);
    }
    expect_refused("{\"listen\":", SEALM_E_FORMAT, "JSON");
    expect_refused("[]", SEALM_E_INVALID, "object");
    expect_refused("{\"keys\":[],\"keys\":[]}", SEALM_E_FORMAT, "JSON");
}

/* models[].tpm: a well-formed TCTI with a sealed bundle's entry is accepted (and reaches the
 * worker unchanged); a malformed one, or one on a plain GGUF, is refused naming the key. */
#define SEALED "\"id\":\"m\",\"path\":\"/b\",\"device_key\":\"/d\",\"trust\":\"/t\",\"state\":\"/s\""

static void test_tpm(void **state)
{
    (void)state;
    char text[4096], model[1024];
    front_config cfg;
    sealm_error err = {0};
    static const char *const good[] = {"swtpm:host=127.0.0.1,port=2321", "device:/dev/tpmrm0", "tabrmd:"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        snprintf(model, sizeof model, "{" SEALED ",\"tpm\":\"%s\"}", good[i]);
        build(text, sizeof text, "{\"unix\":{\"path\":\"/s\"}}", "", model, KEY);
        assert_int_equal(front_config_parse(text, &cfg, &err), SEALM_OK);
        const json_t *tpm = json_object_get(json_array_get(cfg.models_json, 0), "tpm");
        assert_string_equal(json_string_value(tpm), good[i]);
        front_config_free(&cfg);
    }
    /* a passphrase-protected file key whose rollback counter lives in the TPM is a valid setup */
    build(text, sizeof text, "{\"unix\":{\"path\":\"/s\"}}", "",
          "{" SEALED ",\"tpm\":\"device:/dev/tpmrm0\",\"passphrase_file\":\"/p\"}", KEY);
    assert_int_equal(front_config_parse(text, &cfg, &err), SEALM_OK);
    front_config_free(&cfg);
    /* exactly 256 characters is the longest accepted */
    char longest[300];
    memset(longest, 'a', 256);
    longest[256] = '\0';
    snprintf(model, sizeof model, "{" SEALED ",\"tpm\":\"%s\"}", longest);
    build(text, sizeof text, "{\"unix\":{\"path\":\"/s\"}}", "", model, KEY);
    assert_int_equal(front_config_parse(text, &cfg, &err), SEALM_OK);
    front_config_free(&cfg);

    longest[256] = 'a';
    longest[257] = '\0';
    static const char *const bad[] = {"\"\"", "\"swtpm: host=x\"", "\"device:/dev/tpm\\u0001\"", "\"d\\u00e9vice:\"",
                                      "2321", "true", "[\"device:\"]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad + 1; i++) {
        char quoted[320];
        if (i < sizeof bad / sizeof *bad)
            snprintf(quoted, sizeof quoted, "%s", bad[i]);
        else
            snprintf(quoted, sizeof quoted, "\"%s\"", longest);
        snprintf(model, sizeof model, "{" SEALED ",\"tpm\":%s}", quoted);
        build(text, sizeof text, "{\"unix\":{\"path\":\"/s\"}}", "", model, KEY);
        expect_refused(text, SEALM_E_INVALID, "models[0].tpm must be a TCTI string");
    }
    build(text, sizeof text, "{\"unix\":{\"path\":\"/s\"}}", "",
          "{\"id\":\"m\",\"path\":\"/x\",\"allow_plain\":true,\"tpm\":\"device:/dev/tpmrm0\"}", KEY);
    expect_refused(text, SEALM_E_INVALID, "models[0].tpm needs a sealed bundle");
    /* one TPM, one counter, one state file: models with "tpm" must share it */
    build(text, sizeof text, "{\"unix\":{\"path\":\"/s\"}}", "",
          "{" SEALED ",\"tpm\":\"tabrmd:\"},{\"id\":\"n\",\"path\":\"/b2\",\"device_key\":\"/d\",\"trust\":\"/t\","
          "\"state\":\"/s\",\"tpm\":\"tabrmd:\"},{\"id\":\"f\",\"path\":\"/b3\",\"device_key\":\"/d\",\"trust\":\"/t\","
          "\"state\":\"/other\"}", KEY);
    assert_int_equal(front_config_parse(text, &cfg, &err), SEALM_OK);
    front_config_free(&cfg);
    build(text, sizeof text, "{\"unix\":{\"path\":\"/s\"}}", "",
          "{" SEALED ",\"tpm\":\"tabrmd:\"},{\"id\":\"n\",\"path\":\"/b2\",\"device_key\":\"/d\",\"trust\":\"/t\","
          "\"state\":\"/s2\",\"tpm\":\"tabrmd:\"}", KEY);
    expect_refused(text, SEALM_E_INVALID, "models[1].state must be \"/s\" like models[0].state");
    /* null means absent, as for every other optional string */
    build(text, sizeof text, "{\"unix\":{\"path\":\"/s\"}}", "", "{" SEALED ",\"tpm\":null}", KEY);
    assert_int_equal(front_config_parse(text, &cfg, &err), SEALM_OK);
    front_config_free(&cfg);
}

static void test_load_missing_file(void **state)
{
    (void)state;
    front_config cfg;
    sealm_error err = {0};
    assert_int_equal(front_config_load("/nonexistent/sealmd.json", &cfg, &err), SEALM_E_IO);
    assert_non_null(strstr(err.message, "/nonexistent/sealmd.json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_with_defaults),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_tpm),
        cmocka_unit_test(test_load_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
