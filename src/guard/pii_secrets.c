/* The secrets rules' validators (the patterns are in pii_rules.c's table).
 * A token format fixes a prefix, an alphabet and a length; what the pattern cannot say is
 * whether the body was drawn at random or typed by a person documenting the format
 * ("xoxb-your-token-here", "AKIAXXXXXXXXXXXXXXXX", "$PASSWORD"). The checks here say that
 * from the value alone: placeholder words and template syntax, runs a random generator does
 * not produce, Shannon entropy, the structure the provider documents (segments, base64
 * lengths) and, where a provider publishes one, the checksum. */
#include "pii_internal.h"

#include <sodium.h>
#include <string.h>

static char sec_lower(char c) { return guard_is_upper((unsigned char)c) ? (char)(c - 'A' + 'a') : c; }

/* Does v[0, n) contain one of words (lower case, NULL-terminated), in any case? */
static bool contains_word(const char *v, size_t n, const char *const *words) {
    char low[256];
    if (n > sizeof low) n = sizeof low;
    for (size_t i = 0; i < n; i++) low[i] = sec_lower(v[i]);
    for (const char *const *w = words; *w; w++)
        if (memmem(low, n, *w, strlen(*w))) return true;
    return false;
}

/* Words and template syntax that document a value rather than hold one. */
bool sealm_guard_secret_placeholder(const char *v, size_t n) {
    static const char *const WORDS[] = {
        "password", "passwd", "secret", "changeme", "example", "xxxx", "****", "your_", "your-", "<", "${", "{{",
        "%s", "null", "none", "true", "false", "redacted", "placeholder", "dummy", "test", "###", "$(", "...",
        /* HTML-escaped brackets ("&lt;your key&gt;") and unset markers */
        "&lt;", "&gt;", "undefined", "not-set", "not_set", "notset", NULL};
    return contains_word(v, n, WORDS);
}

/* A reference to a value kept elsewhere: a shell, PHP or Perl variable ("$PGPASS",
 * "$db_password", "${X}", "$(cmd)"), a Windows one ("%PASS%"), or a code expression that
 * calls something ("getPassword()", "os.getenv(...)"). */
bool sealm_guard_secret_reference(const char *v, size_t n) {
    /* "$2b$…" (a password hash) is no variable: a name starts with a letter, '_', '{' or '(' */
    if (n >= 2 && v[0] == '$' &&
        (guard_is_upper((unsigned char)v[1]) || guard_is_lower((unsigned char)v[1]) || v[1] == '_' || v[1] == '{' ||
         v[1] == '('))
        return true;
    if (n >= 3 && v[0] == '%' && v[n - 1] == '%') return true;
    for (size_t i = 1; i < n; i++)
        if (v[i] == '(' && (guard_is_alnum((unsigned char)v[i - 1]) || v[i - 1] == '_')) return true;
    return false;
}

/* Runs that a random generator all but never produces in a key: five equal bytes
 * ("00000", "XXXXX") or five consecutive ones ("abcde", "12345"). In a 64-byte hex key
 * either has a chance of about 1 in 700. */
bool sealm_guard_secret_patterned(const char *v, size_t n) {
    size_t same = 1, up = 1;
    for (size_t i = 1; i < n; i++) {
        same = v[i] == v[i - 1] ? same + 1 : 1;
        up = v[i] == v[i - 1] + 1 && guard_is_alnum((unsigned char)v[i]) ? up + 1 : 1;
        if (same >= 5 || up >= 5) return true;
    }
    return false;
}

/* An absolute path ("/en/docs/x", "/run/keys/db") or an identifier (an ARN, "arn:aws:iam::"):
 * a value that names something instead of proving anything. */
static bool names_something(const char *v, size_t n) {
    if (n >= 4 && memcmp(v, "arn:", 4) == 0) return true;
    if (n >= 3 && v[0] == '/' && guard_is_lower((unsigned char)v[1])) {
        for (size_t i = 2; i < n; i++)
            if (v[i] == '/') return true;
    }
    return false;
}

/* ---- secret.assignment ---------------------------------------------------------------- */

/* password = value: any value that is not a placeholder, a reference or a path. key/token =
 * value: also needs the Shannon entropy of a random string (>= 3.0 bits per character, at
 * least 12 characters) and no run a generator would not make: identifiers and words stay
 * below it, keys drawn from base64/hex alphabets stay above. */
float sealm_guard_secret_check_assignment(pii_candidate *c, float base) {
    const char *v = c->text + c->start;
    size_t n = c->end - c->start;
    while (n > 0 && (v[n - 1] == '.' || v[n - 1] == ')' || v[n - 1] == ']' || v[n - 1] == '}')) n--;
    c->end = c->start + n;
    if (n < 6 || sealm_guard_secret_placeholder(v, n) || sealm_guard_secret_reference(v, n) || names_something(v, n))
        return 0;
    const char *key = c->text + c->m_start;
    size_t key_len = c->start - c->m_start;
    char low[256];
    if (key_len > sizeof low) key_len = sizeof low;
    for (size_t i = 0; i < key_len; i++) low[i] = sec_lower(key[i]);
    bool password_key = memmem(low, key_len, "pass", 4) || memmem(low, key_len, "pwd", 3);
    double h = sealm_guard_entropy_bits(v, n);
    if (password_key) return h >= 2.5 ? base : base - 0.15f;
    if (n < 12 || h < 3.0 || sealm_guard_secret_patterned(v, n)) return 0;
    return h >= 3.5 ? (base + 0.1f > 1.0f ? 1.0f : base + 0.1f) : base;
}

/* ---- prefixed provider tokens ------------------------------------------------------------ */

/* Provider keys with a fixed prefix still need random-looking bodies, which rules out
 * documentation fillers like "AKIAXXXXXXXXXXXXXXXX" (entropy alone: AWS documents its own
 * example key, "AKIAIOSFODNN7EXAMPLE", and users paste it; it is reported). */
float sealm_guard_secret_check_entropy(pii_candidate *c, float base) {
    double h = sealm_guard_entropy_bits(c->text + c->start, c->end - c->start);
    return h >= 3.0 ? base : 0;
}

/* A prefixed token's span (prefix included: the prefixes are short beside the bodies) looks
 * random: entropy, no filler word, no run. */
static const char *const TOKEN_FILLERS[] = {"xxxx", "your", "<", "${", "{{", "****", "....", "placeholder",
                                            "redacted", "dummy", "insert", "replace", NULL};

float sealm_guard_secret_check_token(pii_candidate *c, float base) {
    const char *v = c->text + c->start;
    size_t n = c->end - c->start;
    if (sealm_guard_entropy_bits(v, n) < 3.0 || contains_word(v, n, TOKEN_FILLERS) || sealm_guard_secret_patterned(v, n))
        return 0;
    return base;
}

/* GitHub tokens (github.blog, "Behind GitHub's new authentication token formats", 2021):
 * prefix, 30 random base62 characters and a CRC32 of them in six base62 digits. A token whose
 * tail is that checksum is certainly one; a random-looking body without it is most likely
 * one still (the checksum scheme is described, its digit order is not a published spec). */
static bool github_crc_ok(const char *body, size_t n) {
    static const char B62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    if (n != 36) return false;
    uint32_t crc = sealm_guard_crc32(body, 30);
    char tail[6];
    for (int i = 5; i >= 0; i--) {
        tail[i] = B62[crc % 62];
        crc /= 62;
    }
    return memcmp(tail, body + 30, 6) == 0;
}

float sealm_guard_secret_check_github(pii_candidate *c, float base) {
    if (sealm_guard_secret_check_token(c, base) <= 0) return 0;
    const char *v = c->text + c->start;
    size_t n = c->end - c->start;
    if (n == 40 && v[3] == '_' && github_crc_ok(v + 4, 36)) return 0.99f;
    return base;
}

/* Slack tokens (api.slack.com/authentication/token-types): "xoxb-", "xoxp-", "xapp-" … and
 * then '-'-separated segments, the first a number (a team or user id, or the token version
 * "1"), the last the random part (24 or more characters). "xoxb-your-token" and tokens cut
 * short fail. */
float sealm_guard_secret_check_slack(pii_candidate *c, float base) {
    const char *v = c->text + c->start;
    size_t n = c->end - c->start;
    size_t i = 0;
    while (i < n && v[i] != '-') i++;   /* the prefix */
    size_t seg_start = ++i, segments = 0, first_digits = 0, last = 0;
    for (; i <= n; i++) {
        if (i < n && v[i] != '-') continue;
        size_t len = i - seg_start;
        if (len == 0) return 0;
        if (segments == 0) {
            for (size_t k = seg_start; k < i && guard_is_digit((unsigned char)v[k]); k++) first_digits++;
            if (first_digits != len) return 0;
        }
        segments++;
        last = seg_start;
        seg_start = i + 1;
    }
    if (segments < 3 || n - last < 20) return 0;
    pii_candidate tail = *c;
    tail.start = c->start + last;
    return sealm_guard_secret_check_token(&tail, base) > 0 ? base : 0;
}

/* Incoming webhooks (api.slack.com/messaging/webhooks): /services/T<team>/B<hook>/<secret>;
 * workflow triggers: /workflows/T<team>/A<app>/<digits>/<secret>. The ids are capitals and
 * digits; the secret is random. */
float sealm_guard_secret_check_slack_webhook(pii_candidate *c, float base) {
    const char *v = c->text + c->start, *end = v + (c->end - c->start);
    const char *p = memchr(v + 8, '/', (size_t)(end - v - 8));   /* after "https://hooks.slack.com" */
    if (!p) return 0;
    p = memchr(p + 1, '/', (size_t)(end - p - 1));                 /* after services|workflows */
    if (!p || p + 1 >= end || p[1] != 'T') return 0;
    const char *secret = end;
    while (secret > p && secret[-1] != '/') secret--;
    for (const char *q = p + 1; q < secret - 1; q++)
        if (!(guard_is_upper((unsigned char)*q) || guard_is_digit((unsigned char)*q) || *q == '/')) return 0;
    size_t n = (size_t)(end - secret);
    if (n < 20) return 0;
    pii_candidate tail = *c;
    tail.start = (size_t)(secret - c->text);
    return sealm_guard_secret_check_token(&tail, base) > 0 ? base : 0;
}

/* ---- HTTP authorization, connection strings, password hashes ------------------------------ */

/* "Basic <base64>" (RFC 7617): the credentials decode to "user-id:password", both printable
 * and the password not a placeholder. "Bearer <token>" (RFC 6750): a token68 of at least 20
 * characters, random-looking. The span is the credentials, after the last space. */
float sealm_guard_secret_check_http_auth(pii_candidate *c, float base) {
    const char *v = c->text + c->start;
    size_t n = c->end - c->start;
    size_t sp = n;
    while (sp > 0 && v[sp - 1] != ' ') sp--;
    if (sp < 6) return 0;
    bool basic = memcmp(v + sp - 6, "Basic ", 6) == 0;
    const char *cred = v + sp;
    size_t cn = n - sp;
    c->start += sp;
    if (basic) {
        unsigned char dec[192];
        size_t dn = 0;
        if (cn > 256 || sodium_base642bin(dec, sizeof dec - 1, cred, cn, NULL, &dn, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
            return 0;
        size_t colon = dn;
        bool printable = true;
        for (size_t i = 0; i < dn; i++) {
            if (dec[i] < 0x20 || dec[i] == 0x7f) printable = false;
            if (dec[i] == ':' && colon == dn) colon = i;
        }
        bool ok = printable && colon > 0 && colon + 1 < dn;
        if (ok) {
            const char *pw = (const char *)dec + colon + 1;
            size_t pn = dn - colon - 1;
            ok = !sealm_guard_secret_placeholder(pw, pn) && !sealm_guard_secret_reference(pw, pn);
        }
        sodium_memzero(dec, sizeof dec);
        return ok ? base : 0;
    }
    if (cn < 20 || sealm_guard_entropy_bits(cred, cn) < 3.0 || contains_word(cred, cn, TOKEN_FILLERS) ||
        sealm_guard_secret_patterned(cred, cn))
        return 0;
    return base;
}

/* Azure connection strings (learn.microsoft.com, "Configure Azure Storage connection
 * strings"; Service Bus / Event Hubs / IoT Hub "SharedAccessKey"): the key is standard base64
 * of 32 or 64 random bytes (44 or 88 characters); a shared access signature's "sig=" is the
 * base64 of an HMAC-SHA256 (44 characters, '+', '/' and '=' often percent-encoded). The span
 * is the key, after the '='. */
float sealm_guard_secret_check_azure_key(pii_candidate *c, float base) {
    const char *v = c->text + c->start;
    size_t n = c->end - c->start, eq = 0;
    while (eq < n && v[eq] != '=') eq++;
    if (eq >= n) return 0;   /* the patterns end their prefix with '='; without one there is no key */
    c->start += eq + 1;
    const char *k = v + eq + 1;
    size_t kn = n - eq - 1;
    /* the length the base64 text has once percent-escapes are read as one byte each */
    size_t plain = 0;
    for (size_t i = 0; i < kn; i++, plain++)
        if (k[i] == '%') i += 2;
    if (plain % 4 != 0 || plain < 40) return 0;
    if (sealm_guard_entropy_bits(k, kn) < 3.5 || sealm_guard_secret_patterned(k, kn)) return 0;
    return base;
}

/* crypt(3) / PHC strings (bcrypt "$2b$", SHA-crypt "$5$" "$6$", MD5-crypt "$1$", Argon2, Cisco
 * type 8/9, Kerberos AS-REP/TGS-REP as hashcat writes them): a hash of a password, offline
 * guessable, so a secret too. The salt and hash must not be filler ("$2y$10$xxxxxxxx…"). */
float sealm_guard_secret_check_password_hash(pii_candidate *c, float base) {
    const char *v = c->text + c->start;
    size_t n = c->end - c->start;
    if (sealm_guard_secret_patterned(v, n) || contains_word(v, n, TOKEN_FILLERS)) return 0;
    return sealm_guard_entropy_bits(v, n) >= 3.0 ? base : 0;
}

/* RFC 3986 "user:password@host": the password part is not a template ("<password>",
 * "${DB_PASS}", "%s", "****") or a variable. Plain words stay: "postgres://app:secret@db" is
 * how such URLs appear in configuration, and they are real more often than not. */
float sealm_guard_secret_check_url_userinfo(pii_candidate *c, float base) {
    static const char *const TEMPLATES[] = {"<", ">", "${", "{{", "%s", "****", "xxxx", "...", NULL};
    const char *v = c->text + c->start;
    size_t n = c->end - c->start;
    const char *auth = memmem(v, n, "://", 3);
    if (!auth) return base;
    auth += 3;
    const char *at = memchr(auth, '@', (size_t)(v + n - auth));
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (!colon) return base;
    const char *pw = colon + 1;
    size_t pn = (size_t)(at - pw);
    if (contains_word(pw, pn, TEMPLATES) || sealm_guard_secret_reference(pw, pn)) return 0;
    return base;
}
