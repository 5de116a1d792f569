/* sealmd front auth: key hashing (SHA-256, FIPS 180-4 test vector), Bearer parsing, scopes,
 * token buckets and quotas (driven with explicit clock values, no sleeping), and that a
 * SIGHUP-style replacement revokes keys but keeps a throttled key throttled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "server/front.h"

static front_key make_key(const char *id, const char *secret, const char *model, double rpm, double tpm, int64_t quota)
{
    front_key k = {0};
    strcpy(k.id, id);
    crypto_hash_sha256(k.hash, (const unsigned char *)secret, strlen(secret));
    k.models = calloc(1, sizeof *k.models);
    k.models[0] = strdup(model);
    k.n_models = 1;
    k.requests_per_minute = rpm;
    k.tokens_per_minute = tpm;
    k.quota_tokens = quota;
    k.quota_period_s = 3600;
    return k;
}

static void test_hash_text(void **state)
{
    (void)state;
    char out[72];
    front_auth_hash_text("abc", out);   /* FIPS 180-2 appendix B.1 */
    assert_string_equal(out, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_check_and_scope(void **state)
{
    (void)state;
    front_key *keys = calloc(2, sizeof *keys);
    keys[0] = make_key("one", "secret-one-xxxxxxxx", "m1", 0, 0, 0);
    keys[1] = make_key("all", "secret-all-xxxxxxxx", "*", 0, 0, 0);
    front_auth a;
    sealm_error err;
    assert_int_equal(front_auth_init(&a, keys, 2, &err), SEALM_OK);
    front_key k;
    assert_int_equal(front_auth_check(&a, NULL, &k), AUTH_MISSING);
    assert_int_equal(front_auth_check(&a, "Bearer ", &k), AUTH_MISSING);
    assert_int_equal(front_auth_check(&a, "Basic abc", &k), AUTH_BAD);
    assert_int_equal(front_auth_check(&a, "Bearer secret-one-xxxxxxxy", &k), AUTH_BAD);
    assert_int_equal(front_auth_check(&a, "Bearer secret-one-xxxxxxx", &k), AUTH_BAD);
    assert_int_equal(front_auth_check(&a, "Bearer secret-one-xxxxxxxx", &k), AUTH_OK);
    assert_string_equal(k.id, "one");
    assert_true(front_auth_model_allowed(&k, "m1"));
    assert_false(front_auth_model_allowed(&k, "m2"));
    front_key_release(&k);
    assert_int_equal(front_auth_check(&a, "bearer secret-all-xxxxxxxx", &k), AUTH_OK);
    assert_string_equal(k.id, "all");
    assert_true(front_auth_model_allowed(&k, "anything"));
    front_key_release(&k);
    front_auth_free(&a);
}

static void test_request_bucket(void **state)
{
    (void)state;
    front_key *keys = calloc(1, sizeof *keys);
    keys[0] = make_key("k", "secret-k-xxxxxxxxxx", "*", 3, 0, 0);
    front_auth a;
    sealm_error err;
    assert_int_equal(front_auth_init(&a, keys, 1, &err), SEALM_OK);
    double retry;
    const char *reason;
    for (int i = 0; i < 3; i++)
        assert_true(front_auth_admit(&a, "k", 100.0, &retry, &reason));
    assert_false(front_auth_admit(&a, "k", 100.0, &retry, &reason));
    assert_string_equal(reason, "requests_per_minute");
    assert_true(retry == 20.0);   /* 3/min: one request every 20 s */
    assert_false(front_auth_admit(&a, "k", 110.0, &retry, &reason));
    assert_true(retry == 10.0);
    assert_true(front_auth_admit(&a, "k", 120.5, &retry, &reason));
    front_auth_free(&a);
}

static void test_token_bucket_and_quota(void **state)
{
    (void)state;
    front_key *keys = calloc(1, sizeof *keys);
    keys[0] = make_key("k", "secret-k-xxxxxxxxxx", "*", 0, 600, 1000);
    front_auth a;
    sealm_error err;
    assert_int_equal(front_auth_init(&a, keys, 1, &err), SEALM_OK);
    double retry;
    const char *reason;
    assert_true(front_auth_admit(&a, "k", 0.0, &retry, &reason));
    front_auth_charge(&a, "k", 0.0, 700);   /* 600/min bucket goes to -100 */
    assert_false(front_auth_admit(&a, "k", 0.0, &retry, &reason));
    assert_string_equal(reason, "tokens_per_minute");
    assert_true(retry == 11.0);              /* (1 + 100) tokens at 10 tokens/s */
    assert_true(front_auth_admit(&a, "k", 11.0, &retry, &reason));
    front_auth_charge(&a, "k", 11.0, 300);  /* quota now 1000 of 1000 */
    assert_false(front_auth_admit(&a, "k", 200.0, &retry, &reason));
    assert_string_equal(reason, "quota");
    assert_true(retry == 3400.0);
    assert_true(front_auth_admit(&a, "k", 3600.0, &retry, &reason));   /* new window */
    front_auth_free(&a);
}

static void test_replace_revokes_and_keeps_state(void **state)
{
    (void)state;
    front_key *keys = calloc(2, sizeof *keys);
    keys[0] = make_key("a", "secret-a-xxxxxxxxxx", "*", 1, 0, 0);
    keys[1] = make_key("b", "secret-b-xxxxxxxxxx", "*", 0, 0, 0);
    front_auth a;
    sealm_error err;
    assert_int_equal(front_auth_init(&a, keys, 2, &err), SEALM_OK);
    double retry;
    const char *reason;
    assert_true(front_auth_admit(&a, "a", 0.0, &retry, &reason));
    assert_false(front_auth_admit(&a, "a", 0.0, &retry, &reason));
    front_key *fresh = calloc(1, sizeof *fresh);
    fresh[0] = make_key("a", "secret-a-xxxxxxxxxx", "*", 1, 0, 0);
    assert_int_equal(front_auth_replace(&a, fresh, 1, &err), SEALM_OK);
    front_key k;
    assert_int_equal(front_auth_check(&a, "Bearer secret-b-xxxxxxxxxx", &k), AUTH_BAD);   /* revoked */
    assert_false(front_auth_admit(&a, "a", 1.0, &retry, &reason));                        /* still throttled */
    assert_false(front_auth_admit(&a, "b", 1.0, &retry, &reason));
    front_auth_free(&a);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_text),
        cmocka_unit_test(test_check_and_scope),
        cmocka_unit_test(test_request_bucket),
        cmocka_unit_test(test_token_bucket_and_quota),
        cmocka_unit_test(test_replace_revokes_and_keeps_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
