/* The PII rules: one PCRE2 pattern per format, each followed by a validator in C that
 * applies the format's own specification (check digits, number ranges, registered lengths,
 * entropy). Patterns are written from the formats' specifications, not from sample data;
 * docs/guard.md lists every rule with its score and source. */
#include "pii_internal.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

/* ---- helpers ------------------------------------------------------------------------- */

/* A set of bytes between ' ' and '_' (punctuation, digits, capitals) as a 64-bit mask: the
 * shape tests ask whether a byte is a separator for most numbers and capitals of a text, and
 * a shift and a test answer that without a strchr call. */
#define BYTE_BIT(c) (1ull << ((c) - ' '))
static inline bool byte_in(char c, uint64_t set) {
    unsigned k = (unsigned char)c - (unsigned)' ';
    return k < 64 && (set >> k & 1);
}
/* What the street tests ask of each byte of the words after a number or capital, as one
 * table lookup instead of several range compares per byte (built by rules_tables_init). */
enum { B_WORD = 1, B_NAME = 2, B_LOWER_HIGH = 4, B_SPACE = 8 };
static unsigned char g_byte_class[256];   /* B_WORD: alnum or '_'; B_NAME: that or "'.-";
                                             B_LOWER_HIGH: a-z or a byte >= 0x80; B_SPACE: guard_is_space */
static char g_lower_byte[256];            /* ASCII lower case as a table: one load instead of a
                                             compare and a select per byte in the cue and suffix
                                             tests (built by rules_tables_init, like the above) */
static inline char lower(char c) { return g_lower_byte[(unsigned char)c]; }

static void byte_classes_init(void) {
    for (int c = 0; c < 256; c++) {
        g_lower_byte[c] = (char)(guard_is_upper((unsigned char)c) ? c - 'A' + 'a' : c);
        bool word = guard_is_alnum((unsigned char)c) || c == '_';
        g_byte_class[c] = (unsigned char)((word ? B_WORD : 0) | (word || c == '\'' || c == '.' || c == '-' ? B_NAME : 0) |
                                          (guard_is_lower((unsigned char)c) || c >= 0x80 ? B_LOWER_HIGH : 0) |
                                          (guard_is_space((unsigned char)c) ? B_SPACE : 0));
    }
}

static inline bool byte_is(char c, unsigned cls) { return g_byte_class[(unsigned char)c] & cls; }

enum {
    SEP_SPACE_DOT_DASH = BYTE_BIT(' ') | BYTE_BIT('.') | BYTE_BIT('-'),
    SEP_SPACE_DASH = BYTE_BIT(' ') | BYTE_BIT('-'),
    SEP_DOT = BYTE_BIT('.'),
};

/* A list of cue words prepared for cue_before: each cue's length, and the pairs of bytes the
 * cues begin with, folded to their low five bits (so 'C' and 'c' fold alike; the fold lets
 * some other pairs through too, the compare after it is exact). */
enum { CUE_SET_MAX = 16 };
typedef struct cue_set {
    const char *const *cues;          /* lower-case, at least two bytes each, NULL-terminated */
    size_t n;
    size_t len[CUE_SET_MAX];
    uint16_t key[CUE_SET_MAX];        /* cue_key of the cue's first two bytes */
    unsigned char begins[1024];       /* [key]: some cue begins with it (a byte, not a bit: the
                                         walk over a window tests it at every byte) */
} cue_set;

static inline unsigned cue_key(unsigned char a, unsigned char b) { return (a & 31u) << 5 | (b & 31u); }

static void cue_set_init(cue_set *s, const char *const *cues) {
    s->cues = cues;
    for (s->n = 0; cues[s->n] && s->n < CUE_SET_MAX; s->n++) {
        const unsigned char *c = (const unsigned char *)cues[s->n];
        s->len[s->n] = strlen(cues[s->n]);
        s->key[s->n] = (uint16_t)cue_key(c[0], c[1]);
        s->begins[s->key[s->n]] = 1;
    }
}

/* Is one of the cues within window bytes before text[pos] (case-insensitive)? One pass over
 * the window: a cue is compared only where a byte pair it begins with occurs. The pass runs
 * from pos backwards: a cue, where there is one, is mostly right before the candidate ("phone:
 * 555 …"), and about half of the candidates have one. */
static bool cue_before(const char *text, size_t pos, size_t window, const cue_set *s) {
    if (window > 128) window = 128;
    size_t from = pos > window ? pos - window : 0;
    const unsigned char *t = (const unsigned char *)text;
    if (from + 1 >= pos) return false;
    /* the pair's key rolls along: each step reads one new byte */
    unsigned next = t[pos - 1] & 31u;   /* the second byte of the pair at i */
    for (size_t i = pos - 1; i-- > from;) {
        unsigned k = (t[i] & 31u) << 5 | next;
        next = t[i] & 31u;
        if (!s->begins[k]) continue;
        for (size_t c = 0; c < s->n; c++) {
            size_t n = s->len[c], j = 0;
            if (s->key[c] != k || n > pos - i) continue;
            const char *w = s->cues[c];
            while (j < n && lower((char)t[i + j]) == w[j]) j++;
            if (j == n) return true;
        }
    }
    return false;
}

/* The validators' cue words (cue_before), prepared by sealm_guard_pii_rules_init. */
static const char *const CARD_CUES[] = {"card", "visa", "mastercard", "amex", "credit", "debit", "cc", "pan", NULL};
static const char *const SSN_CUES[] = {"ssn", "social security", "ss#", "ss no", "ss number", "ssa", NULL};
static const char *const NINO_CUES[] = {"nino", "national insurance", "ni number", "ni no", NULL};
static const char *const PHONE_CUES[] = {"phone", "tel", "mobile", "cell", "fax", "call", "text me", "whatsapp",
                                         "contact", "reach", "dial", "ring", "sms", "desk", NULL};
static cue_set g_card_cues, g_ssn_cues, g_nino_cues, g_phone_cues;
#define CUES_FIT(list) _Static_assert(sizeof list / sizeof list[0] - 1 <= CUE_SET_MAX, #list " fits a cue_set")
CUES_FIT(CARD_CUES);
CUES_FIT(SSN_CUES);
CUES_FIT(NINO_CUES);
CUES_FIT(PHONE_CUES);
#undef CUES_FIT

/* Copies the ASCII digits of s[0, len) into out (at most cap); returns how many there were. */
static size_t digits_of(const char *s, size_t len, char *out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (guard_is_digit((unsigned char)s[i])) {
            if (n < cap) out[n] = s[i];
            n++;
        }
    return n;
}

static int num(const char *d, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) v = v * 10 + (d[i] - '0');
    return v;
}

static float clamp01(float x) { return x > 1.0f ? 1.0f : x; }

/* ---- payment cards ------------------------------------------------------------------- */

/* Issuer identification ranges and lengths (ISO/IEC 7812 IINs as published by the card
 * networks: Visa, Mastercard incl. 2221-2720, American Express, Discover, JCB, Diners Club,
 * UnionPay, Maestro). */
typedef struct card_range {
    int prefix_len;
    int lo, hi;                /* prefix range, inclusive */
    int len_min, len_max;
} card_range;

static const card_range CARD_RANGES[] = {
    {1, 4, 4, 13, 19},                 /* Visa (13, 16, 19 in use) */
    {2, 51, 55, 16, 16},               /* Mastercard */
    {4, 2221, 2720, 16, 16},           /* Mastercard 2-series */
    {2, 34, 34, 15, 15}, {2, 37, 37, 15, 15},   /* American Express */
    {4, 6011, 6011, 16, 19}, {3, 644, 649, 16, 19}, {2, 65, 65, 16, 19},   /* Discover */
    {6, 622126, 622925, 16, 19},       /* Discover / UnionPay co-brand */
    {4, 3528, 3589, 16, 19},           /* JCB */
    {4, 2131, 2131, 15, 15}, {4, 1800, 1800, 15, 15},   /* JCB, legacy 15-digit ranges */
    {3, 300, 305, 14, 19}, {2, 36, 36, 14, 19}, {2, 38, 39, 14, 19}, {4, 3095, 3095, 16, 19},   /* Diners */
    {2, 62, 62, 16, 19},               /* UnionPay */
    {1, 1, 1, 15, 15},                 /* UATP (airline cards) */
    {2, 50, 50, 12, 19}, {2, 56, 58, 12, 19}, {2, 67, 67, 12, 19}, {4, 6304, 6304, 12, 19},   /* Maestro */
};

static bool card_issuer_ok(const char *d, int n) {
    for (size_t i = 0; i < sizeof CARD_RANGES / sizeof CARD_RANGES[0]; i++) {
        const card_range *r = &CARD_RANGES[i];
        if (n < r->prefix_len || n < r->len_min || n > r->len_max) continue;
        int p = num(d, r->prefix_len);
        if (p >= r->lo && p <= r->hi) return true;
    }
    return false;
}

/* Digits in groups of 3-6 separated by one kind of separator (or none at all), 12-19
 * digits, a known issuer range for that length, and a valid Luhn check digit. */
static float check_card(pii_candidate *c, float base) {
    const char *s = c->text + c->start;
    size_t len = c->end - c->start;
    char d[24], sep = 0;
    size_t n = digits_of(s, len, d, sizeof d), group = 0;
    if (n < 12 || n > 19) return 0;
    for (size_t i = 0; i < len; i++) {
        if (guard_is_digit((unsigned char)s[i])) {
            group++;
            continue;
        }
        if (sep && s[i] != sep) return 0;
        sep = s[i];
        if (group < 3 || group > 6) return 0;
        group = 0;
    }
    if (sep && (group < 3 || group > 6)) return 0;
    if (!sealm_guard_luhn_ok(d, n)) return 0;
    bool cue = cue_before(c->text, c->start, 32, &g_card_cues);
    if (!card_issuer_ok(d, (int)n)) {
        /* IIN tables lag the networks' reassignments: a Luhn-valid 16-digit number whose
         * major industry identifier (ISO/IEC 7812-1) is travel/entertainment or banking
         * (3-6) is still a card, with less confidence than a listed range. */
        if (n != 16 || d[0] < '3' || d[0] > '6') return 0;
        base -= 0.35f;
    }
    return cue ? clamp01(base + 0.04f) : base;
}

/* ---- IBAN ---------------------------------------------------------------------------- */

/* The candidate runs greedily over alphanumerics and single spaces; the country's
 * registered length says where the IBAN ends, and MOD 97-10 must hold. */
static float check_iban(pii_candidate *c, float base) {
    const char *t = c->text;
    int want = sealm_guard_iban_length(lower(t[c->start]) - 'a' + 'A', lower(t[c->start + 1]) - 'a' + 'A');
    if (want == 0) return 0;
    int got = 0;
    size_t i = c->start;
    for (; i < c->end && got < want; i++)
        if (t[i] != ' ') got++;
    if (got != want) return 0;
    if (i < c->len && guard_is_alnum((unsigned char)t[i])) return 0;   /* runs on without a break */
    if (!sealm_guard_iban_ok(t + c->start, i - c->start)) return 0;
    c->end = i;
    /* Lower-case IBANs are not the electronic format (ISO 13616-1 §5); still count them. */
    return guard_is_upper((unsigned char)t[c->start]) ? base : base - 0.1f;
}

/* ---- US SSN -------------------------------------------------------------------------- */


static float check_ssn(pii_candidate *c, float base) {
    char d[12];
    if (digits_of(c->text + c->start, c->end - c->start, d, sizeof d) != 9 || !sealm_guard_ssn_ok(d)) return 0;
    bool cue = cue_before(c->text, c->start, 40, &g_ssn_cues);
    size_t span = c->end - c->start;
    const char *t = c->text + c->start;
    /* one separator used twice (SSA's "AAA-GG-SSSS" or the same with spaces or dots) is the
     * printed form; none at all or two different ones count only after an SSN cue */
    bool same_sep = span == 11 && t[3] == t[6];
    float s = same_sep ? (t[3] == '-' ? base : base - 0.15f) : base - 0.45f;
    return cue ? clamp01(s + 0.45f) : s;
}

/* ---- UK NINO ------------------------------------------------------------------------- */

static float check_nino(pii_candidate *c, float base) {
    const char *s = c->text + c->start;
    char a = s[0], b = s[1];
    bool upper_case = guard_is_upper((unsigned char)a) && guard_is_upper((unsigned char)b);
    if (!sealm_guard_nino_prefix_ok(lower(a) - 'a' + 'A', lower(b) - 'a' + 'A')) return 0;
    float score = upper_case ? base : base - 0.3f;
    return cue_before(c->text, c->start, 40, &g_nino_cues) ? clamp01(score + 0.1f) : score;
}

/* ---- phone numbers ------------------------------------------------------------------- */


/* Phone labels written after the number, as in contact lists: "555 0134 office",
 * "082 490 1693-Office", "(mobile)". */
static bool phone_label_after(const char *t, size_t len, size_t end) {
    static const char *const LABELS[] = {"office", "mobile", "home", "work", "cell", "fax", "desk", "tel", "phone",
                                         "landline", NULL};
    size_t p = end, skipped = 0;
    while (p < len && skipped < 3 && (t[p] == ' ' || t[p] == '-' || t[p] == '(' || t[p] == ',')) p++, skipped++;
    if (p >= len) return false;
    char first = lower(t[p]);
    for (const char *const *l = LABELS; *l; l++) {
        if ((*l)[0] != first) continue;   /* most numbers are followed by none of the labels' letters */
        size_t n = strlen(*l);
        if (p + n <= len && strncasecmp(t + p, *l, n) == 0 && (p + n == len || !guard_is_alnum((unsigned char)t[p + n])))
            return true;
    }
    return false;
}

static bool phone_cue(const pii_candidate *c, size_t window) {
    return cue_before(c->text, c->start, window, &g_phone_cues) || phone_label_after(c->text, c->len, c->end);
}

/* Counts digits, leaving out a bracketed national trunk prefix "(0)". */
static size_t phone_digits(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (i + 2 < len && s[i] == '(' && s[i + 1] == '0' && s[i + 2] == ')') {
            i += 2;
            continue;
        }
        if (guard_is_lower((unsigned char)s[i])) break;   /* an extension ("x123", "ext. 4") */
        if (guard_is_digit((unsigned char)s[i])) n++;
    }
    return n;
}

/* Dates written with separators ("2024-05-17", "17.05.2024", "5/17/24") share the shape of
 * grouped phone numbers; they are not phones. */
static bool looks_like_date(const char *s, size_t len) {
    int groups[4] = {0}, ng = 0;
    char sep = 0;
    for (size_t i = 0; i < len; i++) {
        if (guard_is_digit((unsigned char)s[i])) {
            if (ng == 0) ng = 1;
            groups[ng - 1]++;
            continue;
        }
        if (s[i] != '-' && s[i] != '.' && s[i] != '/') return false;
        if (sep && s[i] != sep) return false;
        sep = s[i];
        if (++ng > 3) return false;
    }
    if (ng != 3) return false;
    return (groups[0] == 4 && groups[1] <= 2 && groups[2] <= 2) ||
           (groups[0] <= 2 && groups[1] <= 2 && (groups[2] == 4 || groups[2] == 2));
}

/* E.164 allows at most 15 digits including the country code. */
static float check_phone_intl(pii_candidate *c, float base) {
    size_t n = phone_digits(c->text + c->start, c->end - c->start);
    if (n < 8 || n > 15) return 0;
    return phone_cue(c, 32) ? clamp01(base + 0.1f) : base;
}

/* North American Numbering Plan: area code and exchange both start with 2-9. */
static float check_phone_nanp(pii_candidate *c, float base) {
    char d[16];
    const char *t = c->text + c->start;
    size_t len = 0;
    while (c->start + len < c->end && !guard_is_lower((unsigned char)t[len])) len++;   /* before an extension */
    size_t n = digits_of(t, len, d, sizeof d);
    const char *ten = n == 11 ? d + 1 : d;
    if (n != 10 && !(n == 11 && d[0] == '1')) return 0;
    float s = (ten[0] >= '2' && ten[3] >= '2') ? base : base - 0.2f;
    return phone_cue(c, 32) ? clamp01(s + 0.2f) : s;
}

/* National formats: digit groups with separators, 7-12 digits. A leading trunk "0" or a
 * bracketed area code makes the shape phone-like on its own; otherwise a cue is needed. */
static float check_phone_grouped(pii_candidate *c, float base) {
    const char *s = c->text + c->start;
    size_t len = c->end - c->start, n = phone_digits(s, len);
    if (n < 7 || n > 12 || looks_like_date(s, len)) return 0;
    bool shaped = s[0] == '(' || s[0] == '0';
    float score = shaped ? base + 0.1f : base - 0.05f;
    return phone_cue(c, 32) ? clamp01(score + 0.35f) : score;
}

/* A bare run of digits is a phone only right after a phone cue. */
static float check_phone_bare(pii_candidate *c, float base) {
    return phone_cue(c, 24) ? base : 0;
}

/* ---- network addresses --------------------------------------------------------------- */

/* RFC 3986 dec-octet: 0-255 without leading zeros. */
static float check_ipv4(pii_candidate *c, float base) {
    const char *s = c->text + c->start;
    size_t len = c->end - c->start, i = 0;
    for (int octet = 0; octet < 4; octet++) {
        size_t from = i;
        int v = 0;
        while (i < len && guard_is_digit((unsigned char)s[i])) v = v * 10 + (s[i++] - '0');
        if (i == from || i - from > 3 || v > 255 || (i - from > 1 && s[from] == '0')) return 0;
        if (octet < 3) {
            if (i >= len || s[i] != '.') return 0;
            i++;
        }
    }
    return base;
}

/* inet_pton accepts exactly the RFC 4291 §2.2 text forms (all "::" compressions and the
 * embedded IPv4 tail); a zone ("%eth0", RFC 4007) is checked apart. */
static float check_ipv6(pii_candidate *c, float base) {
    const char *s = c->text + c->start;
    size_t len = c->end - c->start, colons = 0, hex = 0;
    char buf[64];
    const char *prefix = memchr(s, '/', len);   /* RFC 4291 §2.3 prefix notation "/64" */
    if (prefix) {
        int bits = 0;
        for (const char *q = prefix + 1; q < s + len; q++) bits = bits * 10 + (*q - '0');
        if (bits > 128) return 0;
        len = (size_t)(prefix - s);
    }
    const char *zone = memchr(s, '%', len);
    size_t addr_len = zone ? (size_t)(zone - s) : len;
    for (;;) {
        if (addr_len == 0 || addr_len >= sizeof buf) return 0;
        memcpy(buf, s, addr_len);
        buf[addr_len] = 0;
        unsigned char out[16];
        if (inet_pton(AF_INET6, buf, out) == 1) break;
        /* "at fe80::1:" — a sentence's colon right after the address */
        if (!zone && !prefix && buf[addr_len - 1] == ':' && !(addr_len >= 2 && buf[addr_len - 2] == ':')) {
            addr_len--;
            c->end = c->start + addr_len;
            continue;
        }
        return 0;
    }
    for (size_t i = 0; i < addr_len; i++) {
        if (buf[i] == ':') colons++;
        else hex++;
    }
    if (colons < 2) return 0;
    return hex == 0 ? base - 0.3f : base;   /* "::" alone: the unspecified address, weaker */
}

/* ---- secrets ------------------------------------------------------------------------- */

/* The secret.* and url.userinfo validators and anchor tests are in pii_secrets.c. */

/* ---- dates of birth ------------------------------------------------------------------ */

/* Numeric dates: one of the first two fields is a month (1-12), the other a day (1-31), or
 * year-month-day. */
static float check_dob(pii_candidate *c, float base) {
    const char *s = c->text + c->start;
    size_t len = c->end - c->start;
    if (!guard_is_digit((unsigned char)s[0]) || !guard_is_digit((unsigned char)s[len - 1])) return base;
    int f[3] = {0}, w[3] = {0}, k = 0;
    for (size_t i = 0; i < len && k < 3; i++) {
        if (guard_is_digit((unsigned char)s[i])) {
            f[k] = f[k] * 10 + (s[i] - '0');
            w[k]++;
        } else if (w[k] > 0) {
            k++;
        }
    }
    if (w[0] == 0 || w[1] == 0 || w[2] == 0) return base;   /* worded month: the pattern checked it */
    int a = f[0], b = f[1], d = f[2];
    if (w[0] == 4) return (b >= 1 && b <= 12 && d >= 1 && d <= 31) ? base : 0;
    bool md = a >= 1 && a <= 12 && b >= 1 && b <= 31, dm = b >= 1 && b <= 12 && a >= 1 && a <= 31;
    return (md || dm) ? base : 0;
}

/* ---- addresses ----------------------------------------------------------------------- */

/* Is an address cue ("lives at", "ship to", …) right before start (spaces and ':' between)? */
static PII_ALWAYS_INLINE bool address_cue_before(const char *text, size_t start) {
#define CUE(s) {s, sizeof s - 1}
    static const struct { const char *s; size_t n; } cues[] = {
        CUE("address"), CUE("address is"), CUE("live at"), CUE("lives at"), CUE("living at"), CUE("located at"),
        CUE("reside at"), CUE("resides at"), CUE("resided at"), CUE("residing at"), CUE("ship to"),
        CUE("shipped to"), CUE("deliver to"), CUE("delivered to"), CUE("send it to"),
    };
#undef CUE
    size_t p = start;
    while (p > 0 && (byte_is(text[p - 1], B_SPACE) || text[p - 1] == ':')) p--;
    /* every cue ends in a letter of "s t o" (address, at, to): most candidates stop here */
    char last = p > 0 ? lower(text[p - 1]) : 0;
    if (last != 's' && last != 't' && last != 'o') return false;
    /* and in "ss", "is", "at" or "to": the byte before settles most of the rest */
    char before = p > 1 ? lower(text[p - 2]) : 0;
    if (!(last == 's' ? before == 's' || before == 'i' : before == (last == 't' ? 'a' : 't'))) return false;
    for (size_t k = 0; k < sizeof cues / sizeof cues[0]; k++) {
        size_t n = cues[k].n;
        if (cues[k].s[n - 1] != last || n > p) continue;
        if (strncasecmp(text + p - n, cues[k].s, n) == 0 && (p == n || !guard_is_alnum((unsigned char)text[p - n - 1])))
            return true;
    }
    return false;
}

/* A house number and words right after an address cue ("lives at 12 Birch Hill"). */
static float check_address_cue(pii_candidate *c, float base) {
    return address_cue_before(c->text, c->start) ? base : 0;
}

/* ---- anchor prefilters ---------------------------------------------------------------- */

static bool is_hex(unsigned char c) { return guard_is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

/* n hex digits at t[i, i + n) (within the text) */
static bool hex_run(const char *t, size_t i, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (!is_hex((unsigned char)t[i + k])) return false;
    return true;
}

/* Every separator of a MAC is one of a chain of equal separators with hex groups between
 * them: five of ':' or '-' two digits apart ("aa:bb:cc:dd:ee:ff"), or two dots four digits
 * apart ("aabb.ccdd.eeff"). The chain through p is counted both ways; dates, phone numbers
 * and dotted numbers have shorter chains. */
static bool mac_window(const char *t, size_t len, size_t p) {
    char sep = t[p];
    size_t digits = sep == '.' ? 4 : 2, step = digits + 1, need = sep == '.' ? 2 : 5;
    size_t n = 1;
    for (size_t q = p; n < need && q >= step && t[q - step] == sep && hex_run(t, q - digits, digits); q -= step) n++;
    for (size_t q = p; n < need && q + step < len && t[q + step] == sep && hex_run(t, q + 1, digits); q += step) n++;
    return n >= need;
}

/* Every IPv6 text form (RFC 4291 §2.2) has two colons at most four hex digits apart; a colon
 * in prose ("Phone: ...", "note:") has none. */
static bool ipv6_window(const char *t, size_t len, size_t p) {
    for (size_t i = p + 1; i < len && i <= p + 5; i++) {
        if (t[i] == ':') return true;
        if (!is_hex((unsigned char)t[i])) break;
    }
    for (size_t i = p; i > 0 && p - i < 5; i--) {
        if (t[i - 1] == ':') return true;
        if (!is_hex((unsigned char)t[i - 1])) break;
    }
    return false;
}

bool sealm_guard_anchor_repeat(bool (*window_ok)(const char *, size_t, size_t), char b, int *lo, int *hi) {
    /* mac_window counts a chain of at least two equal separators one group apart */
    if (window_ok == mac_window && (b == ':' || b == '-' || b == '.')) {
        *lo = *hi = b == '.' ? 5 : 3;
        return true;
    }
    /* ipv6_window wants another colon after at most four hex digits, either way */
    if (window_ok == ipv6_window && b == ':') {
        *lo = 1;
        *hi = 5;
        return true;
    }
    return false;
}

/* An assignment's name ends right before its '=' or ':' (after optional quote and spaces) and
 * contains one of the secret words. The walk back over those separators stops at the rule's
 * window (ASSIGNMENT_BACK bytes before the anchor, its pii_rule.back): a name further back is
 * out of the window's reach anyway, and without the bound a long run of ':', '=' or spaces
 * made every anchor in it walk the whole run (1.4 s for 40,000 ':', quadratic). */
enum { ASSIGNMENT_BACK = 64 };
static bool assignment_window(const char *t, size_t len, size_t p) {
    (void)len;
    enum { NAME_MAX_BYTES = 64 };
    size_t e = p;
    while (e > 0 && p - e < ASSIGNMENT_BACK &&
           (byte_is(t[e - 1], B_SPACE) || t[e - 1] == '"' || t[e - 1] == '\'' || t[e - 1] == ':' || t[e - 1] == '='))
        e--;
    if (p - e >= ASSIGNMENT_BACK) return false;
    size_t b = e;
    while (b > 0 && e - b < NAME_MAX_BYTES && (byte_is(t[b - 1], B_WORD) || t[b - 1] == '-'))   /* alnum, '_', '-' */
        b--;
    /* one of "pass", "pwd", "secret", "key", "token" anywhere in the name (any case): only
     * where the name holds one of their first letters are they compared */
    for (size_t i = b; i < e; i++) {
        const char *w;
        switch (lower(t[i])) {
        case 'p': w = lower(i + 1 < e ? t[i + 1] : 0) == 'w' ? "pwd" : "pass"; break;
        case 's': w = "secret"; break;
        case 'k': w = "key"; break;
        case 't': w = "token"; break;
        default: continue;
        }
        size_t n = strlen(w), k = 0;
        while (k < n && i + k < e && lower(t[i + k]) == w[k]) k++;
        if (k == n) return true;
    }
    return false;
}

/* An email's '@' has a local-part byte before it and, after it, a domain label (letters,
 * digits, '-', UTF-8 bytes) ended by a '.': a handle ("@name") or a lone '@' has none. */
static const uint64_t EMAIL_LOCAL = BYTE_BIT('.') | BYTE_BIT('_') | BYTE_BIT('%') | BYTE_BIT('+') | BYTE_BIT('\'') |
                                   BYTE_BIT('-');   /* local-part bytes besides letters and digits */
static bool email_window(const char *t, size_t len, size_t p) {
    if (p == 0 || p + 2 >= len) return false;
    unsigned char b = (unsigned char)t[p - 1];
    if (!(guard_is_alnum(b) || byte_in((char)b, EMAIL_LOCAL))) return false;
    size_t i = p + 1;
    while (i < len && (guard_is_alnum((unsigned char)t[i]) || (unsigned char)t[i] >= 0x80 || t[i] == '-')) i++;
    return i > p + 1 && i < len && t[i] == '.';
}

/* The one start of an email holding the '@' at p: the run of local-part bytes before it (a
 * match's local part is 1 to 64 of them, and the look-behind wants no such byte before it). */
static size_t email_start(const char *t, size_t len, size_t p, size_t max_back) {
    (void)len;
    const size_t cap = max_back < 64 ? max_back : 64;
    size_t q = p;
    while (q > 0 && p - q <= cap && (guard_is_alnum((unsigned char)t[q - 1]) || byte_in(t[q - 1], EMAIL_LOCAL))) q--;
    return p - q > cap ? PII_NO_START : q;   /* a longer run is no local part, or out of reach */
}

/* The one start of an IPv6 candidate holding the ':' at p: the run of hex digits and colons
 * before it (the pattern begins with that run, and its look-behind wants no hex digit, colon,
 * other word byte or '.' before the match); PII_NO_START when a word byte or '.' precedes the
 * run. */
static size_t ipv6_start(const char *t, size_t len, size_t p, size_t max_back) {
    (void)len;
    size_t q = p;
    while (q > 0 && p - q <= max_back && (is_hex((unsigned char)t[q - 1]) || t[q - 1] == ':')) q--;
    if (p - q > max_back) return PII_NO_START;   /* the run starts out of reach */
    return q > 0 && (byte_is(t[q - 1], B_WORD) || t[q - 1] == '.') ? PII_NO_START : q;
}

pii_anchor_start_fn sealm_guard_anchor_start(bool (*window_ok)(const char *, size_t, size_t)) {
    if (window_ok == email_window) return email_start;
    if (window_ok == ipv6_window) return ipv6_start;
    return NULL;
}

/* URL credentials are anchored on the scheme's "://": the scheme is at most 16 bytes before
 * it and the whole authority at most 516 bytes after it; "user:password@" comes first. */
static bool url_window(const char *t, size_t len, size_t p) {
    if (!(p + 2 < len && t[p + 1] == '/' && t[p + 2] == '/')) return false;
    /* the userinfo ends in '@' before the authority ends (at a space, '/', '?' or '#') */
    for (size_t i = p + 3; i < len && i <= p + 3 + 258; i++) {
        if (t[i] == '@') return true;
        if (guard_is_space((unsigned char)t[i]) || t[i] == '/' || t[i] == '?' || t[i] == '#') return false;
    }
    return false;
}

/* A birth cue begins a word: "born", "birth…", "date of birth", "d.o.b", "dob" (any case). */
static bool dob_start(const char *t, size_t len, size_t p) {
    if (p + 3 >= len || (p > 0 && (guard_is_alnum((unsigned char)t[p - 1]) || t[p - 1] == '_'))) return false;
    char w[4] = {lower(t[p]), lower(t[p + 1]), lower(t[p + 2]), lower(t[p + 3])};
    if (memcmp(w, "born", 4) == 0 || memcmp(w, "birt", 4) == 0 || memcmp(w, "date", 4) == 0) return true;
    /* d\.?o\.?b */
    size_t i = 1;
    if (w[i] == '.') i++;
    if (w[i] != 'o') return false;
    i++;
    if (i < 4 && w[i] == '.') i++;
    return w[0] == 'd' && (i < 4 ? w[i] == 'b' : p + 4 < len && lower(t[p + 4]) == 'b');
}

/* A UK NINO: two letters, then three pairs of digits and a suffix letter A-D, each after an
 * optional space. */
static bool nino_start(const char *t, size_t len, size_t p) {
    size_t i = p + 2;
    for (int pair = 0; pair < 3; pair++) {
        if (i < len && t[i] == ' ') i++;
        if (!(i + 1 < len && guard_is_digit((unsigned char)t[i]) && guard_is_digit((unsigned char)t[i + 1]))) return false;
        i += 2;
    }
    if (i < len && t[i] == ' ') i++;
    return i < len && ((t[i] >= 'A' && t[i] <= 'D') || (t[i] >= 'a' && t[i] <= 'd'));
}

/* The endings of continental street names (address.name-number), as raw UTF-8 bytes: the
 * pattern matches bytes, and name_number_start reads the same list. */
#define CONTINENTAL_SUFFIXES "strasse|stra\xc3\x9f\x65|gasse|weg|platz|allee|katu|tie|gatan|v\xc3\xa4gen|vej|vegen|" \
                             "veien|laan|straat|plein|gade|utca|ulica"
enum { CONTINENTAL_MAX = 32 };
/* The suffixes grouped by their last byte, so that a word's last byte picks the few worth
 * comparing (most words end in a byte no suffix ends in, and "e", "n" or "a" pick three to
 * five instead of all nineteen). */
static struct {
    const char *s[CONTINENTAL_MAX];
    size_t n[CONTINENTAL_MAX], count;
    unsigned char first[256], many[256];   /* s[first[b], first[b] + many[b]) end in byte b */
} g_continental;

static void continental_init(void) {
    static const char list[] = CONTINENTAL_SUFFIXES;
    for (int b = 0; b < 256; b++) {
        g_continental.first[b] = (unsigned char)g_continental.count;
        for (const char *p = list; *p && g_continental.count < CONTINENTAL_MAX;) {
            size_t n = strcspn(p, "|");
            if ((unsigned char)p[n - 1] == b) {
                g_continental.s[g_continental.count] = p;
                g_continental.n[g_continental.count++] = n;
            }
            p += n + (p[n] == '|');
        }
        g_continental.many[b] = (unsigned char)(g_continental.count - g_continental.first[b]);
    }
}

/* Does t[from, e) (not empty) end with one of the CONTINENTAL_SUFFIXES? */
static bool continental_suffix_at_end(const char *t, size_t from, size_t e) {
    unsigned char b = (unsigned char)t[e - 1];
    for (size_t k = g_continental.first[b]; k < (size_t)g_continental.first[b] + g_continental.many[b]; k++) {
        size_t n = g_continental.n[k], i = 1;
        const char *w = g_continental.s[k];
        if (e - from < n) continue;
        while (i < n && w[n - 1 - i] == t[e - 1 - i]) i++;   /* from the end: the last byte is equal */
        if (i == n) return true;
    }
    return false;
}

/* The leading street words of address.name-number's first form. */
static const struct { const char *w; size_t n; } LEAD[] = {
    {"Rue", 3}, {"Via", 3}, {"Rua", 3}, {"Viale", 5}, {"Corso", 5}, {"Calle", 5}, {"Paseo", 5}, {"Plaza", 5},
    {"Ulica", 5}, {"Piazza", 6}, {"Carrer", 6}, {"Strada", 6}, {"Avenue", 6}, {"Avenida", 7}, {"Boulevard", 9},
};
/* The leading words' first three bytes, five bits each (lead_key): most capitalized words
 * are no leading word by those. */
static uint64_t g_lead_starts[32768 / 64];
static inline unsigned lead_key(unsigned char a, unsigned char b, unsigned char c) {
    return (a & 31u) << 10 | (b & 31u) << 5 | (c & 31u);
}

static void lead_init(void) {
    for (size_t k = 0; k < sizeof LEAD / sizeof LEAD[0]; k++) {
        const char *w = LEAD[k].w;   /* every leading word has three bytes or more */
        unsigned key = lead_key((unsigned char)w[0], (unsigned char)w[1], (unsigned char)w[2]);
        g_lead_starts[key / 64] |= 1ull << (key % 64);
    }
}

/* A continental street name: a capitalized word of lower-case letters (and UTF-8 bytes),
 * then either an optional '.', spaces and a digit (the house number right after the word, as
 * the pattern's second form needs, the word ending in a street suffix), or spaces after one
 * of the leading street words. */
static bool name_number_start(const char *t, size_t len, size_t p) {
    size_t e = p + 1;
    while (e < len && byte_is(t[e], B_LOWER_HIGH)) e++;
    if (e == p + 1 || e >= len) return false;
    size_t i = e + (t[e] == '.');
    size_t s = i;
    while (i < len && byte_is(t[i], B_SPACE)) i++;
    if (i == s) return false;   /* both forms need a space after the word (or its '.') */
    if (i < len && guard_is_digit((unsigned char)t[i])) {
        /* the second form: the word's lower-case part ends in "str" before a '.', or in a
         * street suffix (the pattern's look-behind; the capital cannot be part of either) */
        if (t[e] == '.' ? e - (p + 1) >= 3 && memcmp(t + e - 3, "str", 3) == 0 : continental_suffix_at_end(t, p + 1, e))
            return true;
    }
    if (t[e] == '.') return false;
    /* a leading word is all of the run: its letters are lower case and a space follows (the
     * words are 3 to 9 bytes long and begin with one of "RVCPUSAB") */
    if (e - p < 3 || e - p > 9 || !byte_in(t[p], BYTE_BIT('R') | BYTE_BIT('V') | BYTE_BIT('C') | BYTE_BIT('P') | BYTE_BIT('U') | BYTE_BIT('S') | BYTE_BIT('A') |
                                                   BYTE_BIT('B'))) return false;
    for (size_t k = 0; k < sizeof LEAD / sizeof LEAD[0]; k++)
        if (LEAD[k].n == e - p && memcmp(t + p, LEAD[k].w, LEAD[k].n) == 0) return true;
    return false;
}

/* address.name-number's start where its word is not followed by a number right away (its
 * pii_rule.no_number_ok): only the first form can match there, so the word begins with the
 * first three bytes of a leading street word. */
static bool lead_word_start(const char *t, size_t len, size_t p) {
    if (len - p < 3) return false;
    unsigned key = lead_key((unsigned char)t[p], (unsigned char)t[p + 1], (unsigned char)t[p + 2]);
    return g_lead_starts[key / 64] >> (key % 64) & 1;
}

/* A street address starts with a house number followed by a space and a capitalized word,
 * a number or a compass letter. digits_end: the end of the digit run at p (the number shapes
 * have read it already). Returns where the house number ends (at a space), 0 when p is no
 * street start (a house number is never empty, so 0 is never its end). */
static PII_ALWAYS_INLINE size_t street_start_at(const char *t, size_t len, size_t p, size_t digits_end) {
    size_t i = digits_end;
    if (i < len && (guard_is_upper((unsigned char)t[i]) || guard_is_lower((unsigned char)t[i]))) i++;
    if (i + 1 < len && t[i] == '-' && guard_is_digit((unsigned char)t[i + 1])) {   /* "12-14" */
        i++;
        while (i < len && guard_is_digit((unsigned char)t[i])) i++;
    }
    if (i == p || i >= len || !byte_is(t[i], B_SPACE)) return 0;
    size_t end = i;
    while (i < len && byte_is(t[i], B_SPACE)) i++;
    return i < len && (guard_is_upper((unsigned char)t[i]) || guard_is_digit((unsigned char)t[i])) ? end : 0;
}

static PII_ALWAYS_INLINE bool street_start(const char *t, size_t len, size_t p) {
    size_t i = p;
    while (i < len && guard_is_digit((unsigned char)t[i])) i++;
    return street_start_at(t, len, p, i) != 0;
}

/* An address after a cue: a street start with the cue right before it. */
static bool address_cue_start(const char *t, size_t len, size_t p) {
    return street_start(t, len, p) && address_cue_before(t, p);
}

/* Shape tests on the digit run at a number start: each states a necessary condition of its
 * rule's pattern, so the regex is tried only at numbers that can match it (most numbers in
 * prose are short and fail all but one or two). */
static size_t digit_run(const char *t, size_t len, size_t p) {
    size_t i = p;
    while (i < len && guard_is_digit((unsigned char)t[i])) i++;
    return i - p;
}

/* Where the run of bytes from i whose bits are set in m (one mask per 64-byte chunk, bits past
 * len clear) ends: the first clear bit at or after i, len at most. */
static PII_ALWAYS_INLINE size_t run_end(const uint64_t *m, size_t i, size_t len) {
    if (i >= len) return i;
    uint64_t rest = ~m[i / 64] >> (i % 64);
    while (!rest) {
        i = (i / 64 + 1) * 64;
        if (i >= len) return len;
        rest = ~m[i / 64];
    }
    return i + (size_t)__builtin_ctzll(rest);
}

static bool sep_then_digit(const char *t, size_t len, size_t i, uint64_t seps) {
    return i + 1 < len && byte_in(t[i], seps) && guard_is_digit((unsigned char)t[i + 1]);
}

/* n digits at t[i, i + n) */
static bool digits_at(const char *t, size_t len, size_t i, size_t n) {
    if (i > len || len - i < n) return false;
    for (size_t k = 0; k < n; k++)
        if (!guard_is_digit((unsigned char)t[i + k])) return false;
    return true;
}

static bool sep_at(const char *t, size_t len, size_t i, uint64_t seps) { return i < len && byte_in(t[i], seps); }

/* phone.nanp's pattern after its optional leading "1": "(ddd)" and an optional separator,
 * or "ddd" and a separator; then "ddd", a separator and "dddd". Each optional separator is
 * taken whenever it is there (a digit or '(' must follow otherwise), so one reading decides. */
static bool nanp_body(const char *t, size_t len, size_t i) {
    if (i < len && t[i] == '(') {
        if (!(digits_at(t, len, i + 1, 3) && i + 4 < len && t[i + 4] == ')')) return false;
        i += 5;
        if (sep_at(t, len, i, SEP_SPACE_DOT_DASH)) i++;
    } else {
        if (!(digits_at(t, len, i, 3) && sep_at(t, len, i + 3, SEP_SPACE_DOT_DASH))) return false;
        i += 4;
    }
    return digits_at(t, len, i, 3) && sep_at(t, len, i + 3, SEP_SPACE_DOT_DASH) && digits_at(t, len, i + 4, 4);
}

/* "(415) 555-0134", "1 415 555 0134", "415-555-0134", "1415 555 0134": the pattern's digits
 * and separators up to the last group (its extension and look-ahead are left to the regex),
 * not after '+', '.' or '-' (the pattern's look-behind). */
static bool nanp_start(const char *t, size_t len, size_t p) {
    if (p > 0 && (t[p - 1] == '+' || t[p - 1] == '.' || t[p - 1] == '-')) return false;
    if (nanp_body(t, len, p)) return true;
    if (t[p] != '1') return false;
    size_t i = p + 1;
    if (sep_at(t, len, i, SEP_SPACE_DOT_DASH)) i++;
    return nanp_body(t, len, i);
}

/* "(030) ...", "030 1234 ...", not after '+', '.' or '-' (the pattern's look-behind; a number
 * start is never after a word byte), and a bracket only before a digit (its "\(\d{1,5}\)"):
 * dates and times ("2024-04-16 11:34"), the later groups of a number and brackets around words
 * took a regex search each before. */
static bool grouped_start(const char *t, size_t len, size_t p) {
    if (p > 0 && byte_in(t[p - 1], BYTE_BIT('+') | BYTE_BIT('.') | BYTE_BIT('-'))) return false;
    if (t[p] == '(') return p + 1 < len && guard_is_digit((unsigned char)t[p + 1]);
    size_t r = digit_run(t, len, p);
    return r >= 2 && r <= 5 && sep_then_digit(t, len, p + r, SEP_SPACE_DOT_DASH);
}

static bool bare_phone_start(const char *t, size_t len, size_t p) {
    size_t r = digit_run(t, len, p);
    return r >= 7 && r <= 15;
}

/* 12-19 digits with at most one space or hyphen between two digits: the first 12 counted
 * from t[i] on, with digits of them already read (the number shapes have read the first run) */
static PII_ALWAYS_INLINE bool card_digits_from(const char *t, size_t len, size_t i, size_t digits) {
    while (i < len && digits < 12) {
        if (guard_is_digit((unsigned char)t[i])) digits++;
        else if (!((t[i] == ' ' || t[i] == '-') && sep_then_digit(t, len, i, SEP_SPACE_DASH))) break;
        i++;
    }
    return digits >= 12;
}

static bool card_start(const char *t, size_t len, size_t p) { return card_digits_from(t, len, p, 0); }

/* "078-05-1120", "078 05 1120", "078051120", "07805-1120": the whole pattern, which is
 * fixed but for its optional separators (taken whenever they are there, since a digit must
 * follow otherwise), look-behind and look-ahead included. */
static bool ssn_start(const char *t, size_t len, size_t p) {
    if (p > 0 && (t[p - 1] == '.' || t[p - 1] == '-')) return false;
    size_t i = p;
    if (!digits_at(t, len, i, 3)) return false;
    i += 3;
    if (sep_at(t, len, i, SEP_SPACE_DOT_DASH)) i++;
    if (!digits_at(t, len, i, 2)) return false;
    i += 2;
    if (sep_at(t, len, i, SEP_SPACE_DOT_DASH)) i++;
    if (!digits_at(t, len, i, 4)) return false;
    i += 4;
    /* (?![\w-]|\.\d) */
    return !(i < len && (guard_is_alnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '-' ||
                         (t[i] == '.' && i + 1 < len && guard_is_digit((unsigned char)t[i + 1]))));
}

static bool ipv4_start(const char *t, size_t len, size_t p) {
    size_t r = digit_run(t, len, p);
    return r >= 1 && r <= 3 && sep_then_digit(t, len, p + r, SEP_DOT);
}

/* An IBAN starts with two letters and two check digits, no space between. */
static bool iban_start(const char *t, size_t len, size_t p) {
    return p + 3 < len && guard_is_digit((unsigned char)t[p + 2]) && guard_is_digit((unsigned char)t[p + 3]);
}

/* ---- the table ----------------------------------------------------------------------- */

#define MONTH "(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|" \
              "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\\.?"
#define DATE "(\\d{4}[-/.]\\d{1,2}[-/.]\\d{1,2}|\\d{1,2}[-/.]\\d{1,2}[-/.](?:\\d{4}|\\d{2})|" \
             "\\d{1,2}(?:st|nd|rd|th)?\\s+(?:of\\s+)?" MONTH ",?\\s+\\d{4}|" MONTH "\\s+\\d{1,2}(?:st|nd|rd|th)?,?\\s+\\d{4})"
#define STREET_SUFFIX "(?i:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|way|" \
                      "terrace|ter|circle|cir|parkway|pkwy|highway|hwy|square|sq|trail|trl|alley|crescent|close|" \
                      "row|plaza|loop|pike|path|walk|gardens|heights|park|ridge|crossing|expressway|freeway|" \
                      "junction|route|turnpike|mews|grove|hill|view|manor|meadows?|point|port|springs?|station)"
/* The same words as STREET_SUFFIX for the pattern, factored by their letters
 * ("a(?:lley|ve(?:nue)?)|…"), so that PCRE2 compares a word's first letter once instead of once
 * per suffix at every word of the lazy walk (address.street-suffix's searches: 161 k → 116 k
 * instructions per pass over presidio-research). A suffix is followed by "\b", so it matches a
 * whole word and at most one alternative can: their order does not change a match.
 * test_street_suffix_forms checks that both forms accept the same words. */
#define STREET_SUFFIX_FACTORED \
    "(?i:(?:a(?:lley|ve(?:nue)?)|b(?:lvd|oulevard)|c(?:ir(?:cle)?|lose|ourt|" \
    "r(?:escent|ossing)|t)|dr(?:ive)?|expressway|freeway|g(?:ardens|rove)|h(?:eights|" \
    "i(?:ghway|ll)|wy)|junction|l(?:ane|n|oop)|m(?:anor|e(?:adow(?:s)?|ws))|" \
    "p(?:a(?:rk(?:way)?|th)|ike|kwy|l(?:a(?:ce|za))?|o(?:int|rt))|r(?:d|idge|o(?:ad|" \
    "ute|w))|s(?:pring(?:s)?|q(?:uare)?|t(?:ation|reet)?)|t(?:er(?:race)?|r(?:ail|l)|" \
    "urnpike)|view|wa(?:lk|y)))"

/* The street suffixes of STREET_SUFFIX as a table, read from the pattern text itself so the
 * two cannot drift apart: a test in C that a suffix word follows the house number within six
 * words rules out most numbers before the regex runs. "word?" entries stand for the word with
 * and without its last letter. */
enum { SUFFIX_SLOTS = 256, SUFFIX_MAX = 16 };
static struct {
    char word[SUFFIX_SLOTS][SUFFIX_MAX];
    unsigned char len[SUFFIX_SLOTS];
    size_t longest;
    uint16_t first_len[256];   /* bit n: a suffix of n bytes begins with this (lower-case) byte */
} g_suffixes;
static pthread_once_t g_suffixes_once = PTHREAD_ONCE_INIT;

/* A word's slot from its length and its first, second and last bytes (lower case), not from
 * every byte: the table is fixed, a probe compares lengths first, and the walk after a house
 * number hashes every word that passes the first-byte-and-length test. */
static uint32_t suffix_hash(const char *w, size_t n) {
    uint32_t x = (uint32_t)(unsigned char)lower(w[0]) | (uint32_t)(unsigned char)lower(w[n > 1]) << 8 |
                 (uint32_t)(unsigned char)lower(w[n - 1]) << 16 | (uint32_t)n << 24;
    return (x * 2654435761u) >> 24;
}

static void suffix_add(const char *w, size_t n) {
    if (n == 0 || n >= SUFFIX_MAX) return;
    uint32_t i = suffix_hash(w, n) % SUFFIX_SLOTS;
    while (g_suffixes.len[i]) i = (i + 1) % SUFFIX_SLOTS;
    memcpy(g_suffixes.word[i], w, n);
    g_suffixes.len[i] = (unsigned char)n;
    if (n > g_suffixes.longest) g_suffixes.longest = n;
    g_suffixes.first_len[(unsigned char)lower(w[0])] |= (uint16_t)(1u << n);
}

static void suffixes_init(void) {
    static const char pattern[] = STREET_SUFFIX;
    const char *p = pattern + strlen("(?i:");
    while (*p && *p != ')') {
        size_t n = strcspn(p, "|)");
        if (n >= 2 && p[n - 1] == '?') {   /* "meadows?" */
            suffix_add(p, n - 1);
            suffix_add(p, n - 2);
        } else {
            suffix_add(p, n);
        }
        p += n + (p[n] == '|');
    }
}

static void rules_tables_init(void) {
    byte_classes_init();
    suffixes_init();
    continental_init();
    lead_init();
    cue_set_init(&g_card_cues, CARD_CUES);
    cue_set_init(&g_ssn_cues, SSN_CUES);
    cue_set_init(&g_nino_cues, NINO_CUES);
    cue_set_init(&g_phone_cues, PHONE_CUES);
}

void sealm_guard_pii_rules_init(void) { pthread_once(&g_suffixes_once, rules_tables_init); }

const char *sealm_guard_street_suffix_pattern(bool factored) { return factored ? STREET_SUFFIX_FACTORED : STREET_SUFFIX; }

static bool is_street_suffix(const char *w, size_t n) {
    /* most words fail on their first byte and length, before any hashing */
    if (n == 0 || n > g_suffixes.longest || !(g_suffixes.first_len[(unsigned char)lower(w[0])] >> n & 1)) return false;
    for (uint32_t i = suffix_hash(w, n) % SUFFIX_SLOTS; g_suffixes.len[i]; i = (i + 1) % SUFFIX_SLOTS) {
        if (g_suffixes.len[i] != n) continue;
        size_t k = 0;
        while (k < n && lower(w[k]) == g_suffixes.word[i][k]) k++;
        if (k == n) return true;
    }
    return false;
}

/* After a house number that ends at i (the space after it, as street_start_at gives): among
 * the six words that follow (a compass letter, up to four name words, the suffix), a word
 * whose letters and digits are exactly a street suffix (the pattern's "suffix\b" after a
 * space), every word before it being a name word: a capital or digit, then letters, digits or
 * "_'.-". */
static PII_ALWAYS_INLINE bool street_suffix_after_in(const char *t, size_t len, size_t i, const pii_text_masks *mk) {
    for (int word = 0; word < 6; word++) {
        while (i < len && byte_is(t[i], B_SPACE)) i++;
        size_t s = i;
        if (mk) i = run_end(mk->word, i, len);   /* the word's end at a bit scan */
        else
            while (i < len && byte_is(t[i], B_WORD)) i++;
        if (is_street_suffix(t + s, i - s)) return true;
        if (i == s || !(guard_is_upper((unsigned char)t[s]) || guard_is_digit((unsigned char)t[s]))) return false;
        while (i < len && byte_is(t[i], B_NAME)) i++;
        if (i >= len || !byte_is(t[i], B_SPACE)) return false;
    }
    return false;
}

static bool street_suffix_after(const char *t, size_t len, size_t i) { return street_suffix_after_in(t, len, i, NULL); }

static bool street_suffix_after_masked(const char *t, size_t len, size_t i, const pii_text_masks *mk) {
    return street_suffix_after_in(t, len, i, mk);
}

/* A US/UK street address: a street start and a street suffix after it. */
static bool street_suffix_start(const char *t, size_t len, size_t p) {
    size_t i = p;
    while (i < len && !byte_is(t[i], B_SPACE)) i++;   /* the house number */
    return street_start(t, len, p) && street_suffix_after(t, len, i);
}

/* ---- the number starts' shape tests, together ------------------------------------------ */

/* The shape tests of the START_NUMBER rules, in the order of their NUMBER_SHAPE_* bits. */
static bool (*const NUMBER_SHAPE_TESTS[])(const char *, size_t, size_t) = {
    nanp_start, grouped_start, bare_phone_start, card_start, ssn_start, ipv4_start, street_suffix_start,
    address_cue_start,
};
_Static_assert(sizeof NUMBER_SHAPE_TESTS / sizeof NUMBER_SHAPE_TESTS[0] <= 16, "the scan keeps 16 shape bits per start");
enum {
    SHAPE_NANP = 1, SHAPE_GROUPED = 2, SHAPE_BARE = 4, SHAPE_CARD = 8, SHAPE_SSN = 16, SHAPE_IPV4 = 32,
    SHAPE_STREET_SUFFIX = 64, SHAPE_ADDRESS_CUE = 128,
};

int sealm_guard_number_shape_bit(bool (*window_ok)(const char *, size_t, size_t)) {
    for (size_t i = 0; i < sizeof NUMBER_SHAPE_TESTS / sizeof NUMBER_SHAPE_TESTS[0]; i++)
        if (NUMBER_SHAPE_TESTS[i] == window_ok) return (int)i;
    return -1;
}

/* Is c one of the separators seps (c not NUL)? */
static bool is_sep(char c, uint64_t seps) { return byte_in(c, seps); }

/* sealm_guard_number_shapes, with the first pass's masks (mk) or without them (NULL): inlined
 * once for each, so that neither tests which it is at every word */
static PII_ALWAYS_INLINE unsigned number_shapes(const char *t, size_t len, size_t p, const pii_text_masks *mk) {
    /* the tests that take a bracket; the others need a digit */
    /* a bracket that grouped_start rejects fails nanp_start too (the same look-behind, and a
     * digit after the bracket) */
    if (t[p] == '(') return grouped_start(t, len, p) ? SHAPE_GROUPED | (nanp_start(t, len, p) ? SHAPE_NANP : 0) : 0;
    size_t r = mk ? run_end(mk->digit, p, len) - p : digit_run(t, len, p);
    if (r == 0) return 0;   /* '+': no shape test passes */
    size_t e = p + r;       /* the byte after the digits */
    char after = e < len ? t[e] : 0;
    bool digit_after_sep = e + 1 < len && guard_is_digit((unsigned char)t[e + 1]);
    unsigned b = 0;
    if ((r == 1 || r == 3 || r == 4) && e < len && is_sep(after, SEP_SPACE_DOT_DASH | BYTE_BIT('(')) && nanp_start(t, len, p)) b |= SHAPE_NANP;
    bool after_sign = p > 0 && is_sep(t[p - 1], BYTE_BIT('+') | BYTE_BIT('.') | BYTE_BIT('-'));
    if (r >= 2 && r <= 5 && digit_after_sep && is_sep(after, SEP_SPACE_DOT_DASH) && !after_sign) b |= SHAPE_GROUPED;
    if (r >= 7 && r <= 15) b |= SHAPE_BARE;
    if (r >= 12 || (digit_after_sep && (after == ' ' || after == '-') && card_digits_from(t, len, e, r))) b |= SHAPE_CARD;
    if ((r == 9 || ((r == 3 || r == 5) && digit_after_sep && is_sep(after, SEP_SPACE_DOT_DASH))) && ssn_start(t, len, p)) b |= SHAPE_SSN;
    if (r <= 3 && digit_after_sep && after == '.') b |= SHAPE_IPV4;
    size_t house_end = street_start_at(t, len, p, e);   /* the digits are read once, here */
    if (house_end) {
        if (mk ? street_suffix_after_masked(t, len, house_end, mk) : street_suffix_after(t, len, house_end))
            b |= SHAPE_STREET_SUFFIX;
        if (address_cue_before(t, p)) b |= SHAPE_ADDRESS_CUE;
    }
    return b;
}

unsigned sealm_guard_number_shapes(const char *t, size_t len, size_t p) { return number_shapes(t, len, p, NULL); }

unsigned sealm_guard_number_shapes_masked(const char *t, size_t len, size_t p, const pii_text_masks *mk) {
    return number_shapes(t, len, p, mk);
}

const pii_rule SEALM_GUARD_PII_RULES[] = {
    /* RFC 5321/5322 addr-spec, practical subset: dot-atom local part (<= 64), dotted domain
     * labels (<= 63) and an alphabetic TLD. */
    {"email.addr-spec", SEALM_GUARD_EMAIL, 0.95f,
     "(?<![A-Za-z0-9._%+'-])[A-Za-z0-9_%+'-](?:[A-Za-z0-9._%+'-]{0,63})@"
     "(?:[A-Za-z0-9\\x80-\\xff](?:[A-Za-z0-9\\x80-\\xff-]{0,61}[A-Za-z0-9\\x80-\\xff])?\\.)+"
     "(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9-]{1,59}|(?:[\\xc0-\\xff][\\x80-\\xbf]+){2,24})(?![A-Za-z0-9\\x80-\\xff-])",
     0, "@", NULL, 0, "@", 70, 24, email_window, START_ANYWHERE, NULL, false, NULL},

    {"phone.international", SEALM_GUARD_PHONE, 0.85f,
     "(?<![\\w+])(?:\\+|\\b00)[1-9]\\d{0,2}(?:[ .-]?\\(\\d{1,4}\\))?(?:[ .-]?\\d{1,5}){1,6}(?:\\s?(?:x|ext\\.?|extension)\\s?\\d{1,6})?(?!\\w)", 0, "+0",
     check_phone_intl, 0, NULL, 0, 0, NULL, START_PREFIX,
     "+1|+2|+3|+4|+5|+6|+7|+8|+9|001|002|003|004|005|006|007|008|009", true, NULL},
    {"phone.nanp", SEALM_GUARD_PHONE, 0.75f,
     "(?<![\\w+.-])(?:1[ .-]?)?(?:\\(\\d{3}\\)[ .-]?|\\d{3}[ .-])\\d{3}[ .-]\\d{4}(?:\\s?(?:x|ext\\.?|extension)\\s?\\d{1,6})?(?!\\w|[-.]\\d)", 0,
     "0123456789", check_phone_nanp, 0, NULL, 0, 0, nanp_start, START_NUMBER, NULL, false, NULL},
    {"phone.national-grouped", SEALM_GUARD_PHONE, 0.5f,
     "(?<![\\w+.-])(?:\\(\\d{1,5}\\)[ .-]?|\\d{2,5}[ .-])\\d{2,8}(?:[ .-]\\d{2,8}){0,3}(?!\\w|[-.]\\d)", 0,
     "0123456789", check_phone_grouped, 0, NULL, 0, 0, grouped_start, START_NUMBER, NULL, false, NULL},
    {"phone.cue-digits", SEALM_GUARD_PHONE, 0.8f, "(?<![\\w+.-])\\d{7,15}(?!\\w|[-.]\\d)", 0, "0123456789",
     check_phone_bare, 0, NULL, 0, 0, bare_phone_start, START_NUMBER, NULL, false, NULL},

    {"card.luhn-iin", SEALM_GUARD_CARD, 0.95f, "(?<![\\w.-])\\d(?:[ -]?\\d){11,18}(?![\\w-]|\\.\\d)", 0,
     "0123456789", check_card, 0, NULL, 0, 0, card_start, START_NUMBER, NULL, false, NULL},

    {"iban.mod97", SEALM_GUARD_IBAN, 0.95f, "(?<![A-Za-z0-9])[A-Za-z]{2}\\d{2}(?: ?[A-Za-z0-9]){11,30}", 0,
     "0123456789", check_iban, 0, NULL, 0, 0, iban_start, START_TWO_LETTERS_DIGITS, NULL, false, NULL},

    {"ssn.ssa-rules", SEALM_GUARD_SSN, 0.85f, "(?<![\\w.-])\\d{3}[- .]?\\d{2}[- .]?\\d{4}(?![\\w-]|\\.\\d)", 0,
     "0123456789", check_ssn, 0, NULL, 0, 0, ssn_start, START_NUMBER, NULL, false, NULL},

    /* HMRC NIM39110: two prefix letters, six digits, suffix A-D (spaces optional). */
    {"nino.hmrc", SEALM_GUARD_NATIONAL_ID, 0.85f,
     "(?<![\\w])[A-Za-z]{2} ?\\d{2} ?\\d{2} ?\\d{2} ?[A-Da-d](?!\\w)", 0, "0123456789", check_nino, 0, NULL, 0, 0,
     nino_start, START_TWO_LETTERS_DIGITS, NULL, false, NULL},

    {"ipv4.dotted-quad", SEALM_GUARD_IPV4, 0.9f, "(?<![\\w.])(?:\\d{1,3}\\.){3}\\d{1,3}(?!\\w|\\.\\d)", 0, ".",
     check_ipv4, 0, NULL, 0, 0, ipv4_start, START_NUMBER, NULL, false, NULL},
    {"ipv6.rfc4291", SEALM_GUARD_IPV6, 0.9f,
     "(?<![\\w:.])[0-9A-Fa-f:]*:[0-9A-Fa-f:]*(?:\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3})?(?:%[0-9A-Za-z]{1,16})?"
     "(?:/\\d{1,3}(?!\\d))?(?![\\w]|\\.\\w)",
     0, ":", check_ipv6, 0, ":", 48, 8, ipv6_window, START_ANYWHERE, NULL, false, NULL},
    /* IEEE 802 MAC-48 in its three usual notations. */
    {"mac.ieee802", SEALM_GUARD_MAC, 0.85f,
     "(?<![\\w:.-])[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\\1[0-9A-Fa-f]{2}){4}(?![\\w:-])|"
     "(?<![\\w.])[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}(?![\\w.])",
     0, ":-.", NULL, 0, ":-.", 16, 16, mac_window, START_ANYWHERE, NULL, false, NULL},

    /* RFC 3986 userinfo "user:password@" in an authority; a templated password is not one. */
    {"url.userinfo", SEALM_GUARD_URL_CREDENTIALS, 0.95f,
     "\\b[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\\s:/?#@]{1,128}:[^\\s/?#@]{1,128}@[^\\s/?#\"'<>]{1,255}", 0, "@",
     sealm_guard_secret_check_url_userinfo, 0, ":", 16, 520, url_window, START_ANYWHERE, NULL, false, NULL},

    /* Provider key formats, as the providers document them (the source is named at each
     * rule); the validators (pii_secrets.c) reject bodies that are not random. Every rule
     * starts at a literal prefix, so the first pass finds where they can match. */
    /* RFC 7468 PEM private keys (PKCS#1/#8, EC, OpenSSH's "OPENSSH PRIVATE KEY"), RFC 4880
     * ASCII-armored "PGP PRIVATE KEY BLOCK". */
    {"secret.pem-private-key", SEALM_GUARD_SECRET, 0.99f,
     "-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----"
     "(?:[\\s\\S]{0,16384}?-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----|(?:\\s*[A-Za-z0-9+/=:-]{8,})*)",
     0, "-", NULL, 0, NULL, 0, 0, NULL, START_PREFIX,
     "-----BEGIN ", false, NULL},
    /* AWS IAM identifiers (docs.aws.amazon.com, IAM User Guide, "Unique identifiers"):
     * 4-letter type prefix and 16 base32 characters. */
    {"secret.aws-access-key-id", SEALM_GUARD_SECRET, 0.95f,
     "(?<![A-Za-z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Za-z0-9])", 0, "A",
     sealm_guard_secret_check_entropy, 0, NULL, 0, 0, NULL, START_PREFIX,
     "AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA", false, NULL},
    /* the secret access key is 40 base64 characters with no prefix: only next to its name */
    {"secret.aws-secret-key", SEALM_GUARD_SECRET, 0.85f,
     "(?i:aws)[\\w.-]{0,20}(?i:secret)[\\w.-]{0,20}[\"']?\\s*[:=]>?\\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])", 0,
     "sS", sealm_guard_secret_check_entropy, 1, NULL, 0, 0, NULL, START_PREFIX,
     "aws|awS|aWs|aWS|Aws|AwS|AWs|AWS", false, NULL},
    /* GitHub (docs.github.com, "About authentication to GitHub", token prefixes; github.blog
     * 2021-04-05 on the format and its CRC32 checksum): ghp_/gho_/ghu_/ghs_/ghr_ and 36
     * base62 characters, fine-grained "github_pat_" and 82. */
    {"secret.github-token", SEALM_GUARD_SECRET, 0.95f,
     "(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])", 0, "_",
     sealm_guard_secret_check_github, 0, NULL, 0, 0, NULL, START_PREFIX,
     "ghp_|gho_|ghu_|ghs_|ghr_|github_pat_", true, NULL},
    /* GitLab (docs.gitlab.com, "Token prefixes"): personal, deploy, runner, pipeline trigger,
     * CI job, OAuth secret, service-account, feature-flag, incoming-mail, agent, feed tokens. */
    {"secret.gitlab-token", SEALM_GUARD_SECRET, 0.95f,
     "(?<![\\w-])gl(?:pat|dt|rt|ptt|cbt|oas|soat|ffct|imt|agent|ft)-[A-Za-z0-9_.-]{20,300}", 0,
     "-", sealm_guard_secret_check_token, 0, NULL, 0, 0, NULL, START_PREFIX,
     "glpat-|gldt-|glrt-|glptt-|glcbt-|gloas-|glsoat-|glffct-|glimt-|glagent-|glft-", true, NULL},
    /* Slack (api.slack.com/authentication/token-types): bot, user, app-level, configuration
     * and refresh tokens; a numeric segment first, the random part last. */
    {"secret.slack-token", SEALM_GUARD_SECRET, 0.95f,
     "(?<![\\w-])(?:xox[abposre]|xoxe\\.xox[bp]|xapp)-[A-Za-z0-9-]{10,250}", 0, "-",
     sealm_guard_secret_check_slack, 0, NULL, 0, 0, NULL, START_PREFIX,
     "xoxa-|xoxb-|xoxp-|xoxo-|xoxs-|xoxr-|xoxe-|xoxe.|xapp-", true, NULL},
    /* Slack incoming webhooks and workflow triggers (api.slack.com/messaging/webhooks). */
    {"secret.slack-webhook", SEALM_GUARD_SECRET, 0.95f,
     "https://hooks\\.slack\\.com/(?:services|workflows)/[A-Za-z0-9+/_-]{20,120}", 0, "/",
     sealm_guard_secret_check_slack_webhook, 0, NULL, 0, 0, NULL, START_PREFIX,
     "https://hooks.slack.com/", false, NULL},
    /* Discord webhooks (discord.com/developers/docs/resources/webhook: /api/webhooks/{id}/{token}),
     * from the host name on ("https://", "ptb." or "canary." before it): a prefix of its own
     * instead of one more "https://" that every URL would compare. */
    {"secret.discord-webhook", SEALM_GUARD_SECRET, 0.95f,
     "(?<![\\w-])discord(?:app)?\\.com/api/webhooks/\\d{17,20}/[A-Za-z0-9_-]{60,100}", 0, "/",
     sealm_guard_secret_check_token, 0, NULL, 0, 0, NULL, START_PREFIX,
     "discord.com/api/webhooks/|discordapp.com/api/webhooks/", true, NULL},
    /* Stripe (docs.stripe.com/keys): secret, restricted and publishable keys, live or test. */
    {"secret.stripe-key", SEALM_GUARD_SECRET, 0.95f,
     "(?<![\\w])(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,247}", 0,
     "_", sealm_guard_secret_check_token, 0, NULL, 0, 0, NULL, START_PREFIX,
     "sk_live_|sk_test_|rk_live_|rk_test_|pk_live_|pk_test_", true, NULL},
    /* Google API keys (cloud.google.com/docs/authentication/api-keys): "AIza" and 35. */
    {"secret.google-api-key", SEALM_GUARD_SECRET, 0.95f, "(?<![\\w-])AIza[0-9A-Za-z_-]{35}(?![\\w-])", 0, "A",
     sealm_guard_secret_check_token, 0, NULL, 0, 0, NULL, START_PREFIX,
     "AIza", true, NULL},
    /* OpenAI (platform.openai.com/docs, API keys: "sk-", project "sk-proj-", service account
     * "sk-svcacct-", admin "sk-admin-"); Anthropic (docs.anthropic.com, "sk-ant-api03-",
     * admin "sk-ant-admin01-"); OpenRouter and DeepSeek keys share the "sk-" form. */
    {"secret.openai-key", SEALM_GUARD_SECRET, 0.9f,
     "(?<![\\w-])sk-(?:proj-|svcacct-|admin-|ant-(?:api|admin)\\d\\d-)?[A-Za-z0-9_-]{20,200}(?![\\w-])", 0, "-",
     sealm_guard_secret_check_token, 0, NULL, 0, 0, NULL, START_PREFIX,
     "sk-", true, NULL},
    /* Other AI providers' documented key prefixes: Hugging Face organization tokens
     * "api_org_" (huggingface.co/docs/hub/security-tokens), Replicate "r8_"
     * (replicate.com/docs/topics/security/api-tokens), Groq "gsk_" (console.groq.com/docs),
     * Perplexity "pplx-" (docs.perplexity.ai), xAI "xai-" (docs.x.ai). */
    {"secret.ai-provider-key", SEALM_GUARD_SECRET, 0.9f,
     "(?<![\\w-])(?:api_org_[A-Za-z]{34}|r8_[A-Za-z0-9]{37}|gsk_[A-Za-z0-9]{52}|pplx-[A-Za-z0-9]{48}|"
     "xai-[A-Za-z0-9]{80})(?![\\w-])",
     0, "_-", sealm_guard_secret_check_token, 0, NULL, 0, 0, NULL, START_PREFIX,
     "api_org_|r8_|gsk_|pplx-|xai-", true, NULL},
    /* Cloud providers: DigitalOcean personal/OAuth/refresh tokens "dop_v1_", "doo_v1_",
     * "dor_v1_" and 64 hex (docs.digitalocean.com, "Personal access tokens"); Google OAuth
     * client secrets "GOCSPX-" (developers.google.com/identity);
     * HashiCorp Vault service, batch and recovery tokens "hvs.", "hvb.", "hvr."
     * (developer.hashicorp.com/vault/docs/concepts/tokens). */
    {"secret.cloud-token", SEALM_GUARD_SECRET, 0.95f,
     "(?<![\\w-])(?:do[opr]_v1_[a-f0-9]{64}|GOCSPX-[A-Za-z0-9_-]{28}|"
     "hv[sbr]\\.[A-Za-z0-9_-]{24,512})(?![\\w-])",
     0, "_-.", sealm_guard_secret_check_token, 0, NULL, 0, 0, NULL, START_PREFIX,
     "dop_v1_|doo_v1_|dor_v1_|GOCSPX-|hvs.|hvb.|hvr.", true, NULL},
    /* Azure storage, Service Bus, Event Hubs and IoT Hub connection strings' keys (after the
     * ';' that ends the account or key name), and shared access signatures' "sig="
     * (learn.microsoft.com, "Configure Azure Storage connection strings", "Create a service
     * SAS"): base64 of 32 or 64 bytes. */
    {"secret.azure-key", SEALM_GUARD_SECRET, 0.95f,
     ";(?:AccountKey|SharedAccessKey)=[A-Za-z0-9+/]{40,100}={0,2}(?![\\w+/=])", 0, "=",
     sealm_guard_secret_check_azure_key, 0, NULL, 0, 0, NULL, START_PREFIX,
     ";AccountKey=|;SharedAccessKey=", false, NULL},
    {"secret.azure-sas", SEALM_GUARD_SECRET, 0.95f,
     "(?<![\\w])sig=(?:[A-Za-z0-9+/]|%2[BFbf]){40,100}(?:=|%3[Dd]){0,2}(?![\\w+/=%])", 0, "=",
     sealm_guard_secret_check_azure_key, 0, NULL, 0, 0, NULL, START_PREFIX, "sig=", true, NULL},
    /* Developer platforms: Docker Hub access tokens "dckr_pat_"/"dckr_oat_"
     * (docs.docker.com/security/for-developers/access-tokens); Atlassian API tokens "ATATT3"
     * (and "ATCTT3") and Bitbucket app passwords "ATBB" (support.atlassian.com, "Manage API
     * tokens"); Grafana Cloud "glc_" and service accounts "glsa_" (grafana.com/docs, "Service
     * account tokens"); Databricks "dapi" and 32 hex (docs.databricks.com, "Personal access
     * tokens"); SonarQube "squ_", "sqp_", "sqa_" and 40 hex (docs.sonarsource.com, "Managing
     * your tokens"); Shopify "shpat_", "shpca_", "shppa_", "shpss_" and 32 hex (shopify.dev,
     * "Access tokens"); Adafruit IO "aio_" (io.adafruit.com/api/docs); Salesforce session ids:
     * the org id "00D…", '!' and the session part (help.salesforce.com). */
    {"secret.dev-platform-token", SEALM_GUARD_SECRET, 0.95f,
     "(?<![\\w-])(?:dckr_(?:pat|oat)_[A-Za-z0-9_-]{27,64}|AT(?:ATT|CTT)3[A-Za-z0-9_=-]{100,300}|ATBB[A-Za-z0-9]{28,64}|"
     "glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}|"
     "dapi[a-f0-9]{32}(?:-\\d)?|sq[upa]_[a-f0-9]{40}|"
     "shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|aio_[A-Za-z0-9]{28}|00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]{80,200})(?![\\w-])",
     0, NULL, sealm_guard_secret_check_token, 0, NULL, 0, 0, NULL, START_PREFIX,
     "dckr_pat_|dckr_oat_|ATATT3|ATCTT3|ATBB|glc_|glsa_|dapi|squ_|sqp_|sqa_|shpat_|shpca_|shppa_|shpss_|"
     "aio_|00D", true, NULL},
    /* Square access tokens "EAAA" and 60, legacy "sq0atp-", OAuth secrets "sq0csp-"
     * (developer.squareup.com, "Access tokens"). */
    {"secret.square-token", SEALM_GUARD_SECRET, 0.95f,
     "(?<![\\w-])(?:EAAA[A-Za-z0-9_-]{60}|sq0atp-[A-Za-z0-9_-]{22}|"
     "sq0csp-[A-Za-z0-9_-]{43})(?![\\w-])",
     0, NULL, sealm_guard_secret_check_token, 0, NULL, 0, 0, NULL, START_PREFIX,
     "EAAA|sq0atp-|sq0csp-", true, NULL},
    /* HTTP credentials in an Authorization header (RFC 9110 §11.6.2; RFC 7617 Basic, RFC 6750
     * Bearer), also as a JSON or code key ("Authorization": "Bearer …"). */
    {"secret.http-authorization", SEALM_GUARD_SECRET, 0.9f,
     "(?<![\\w])[Aa]uthorization[\"']?\\s{0,4}[:=]\\s{0,4}[\"']?(?:Basic [A-Za-z0-9+/]{8,256}={0,2}|"
     "Bearer [A-Za-z0-9._~+/-]{20,4096}=*)(?![\\w+/=.~-])",
     0, ":=", sealm_guard_secret_check_http_auth, 0, NULL, 0, 0, NULL, START_PREFIX, "Authorization|authorization",
     true, NULL},
    /* Password hashes in crypt(3)/PHC string form and as hashcat writes Kerberos replies
     * (bcrypt "$2b$" per OpenBSD bcrypt(3); SHA-crypt "$5$"/"$6$" per Drepper's
     * specification; MD5-crypt "$1$"; Argon2 per the PHC string format; Cisco type 8/9;
     * "$krb5asrep$", "$krb5tgs$"): offline-guessable, so secrets too. Scored as an email, so
     * that a hash holding its user's address ("$krb5asrep$23$user@domain:…") is kept whole
     * (the longer span wins a tie). */
    {"secret.password-hash", SEALM_GUARD_SECRET, 0.95f,
     "(?<![\\w$])\\$(?:2[abxy]\\$\\d\\d\\$[./A-Za-z0-9]{53}|[156]\\$(?:rounds=\\d{1,9}\\$)?[./A-Za-z0-9]{1,16}\\$"
     "[./A-Za-z0-9]{22,86}|argon2(?:id|i|d)\\$v=\\d+\\$m=\\d+,t=\\d+,p=\\d+\\$[A-Za-z0-9+/]{8,}\\$[A-Za-z0-9+/]{16,}|"
     "[89]\\$[./A-Za-z0-9]{14}\\$[./A-Za-z0-9]{43}|krb5(?:asrep|tgs)\\$\\d{1,2}\\$(?:\\*[^\\s*]{1,256}\\*\\$|[^\\s$:]{1,256}:)?[A-Fa-f0-9]{32}\\$"
     "[A-Fa-f0-9]{64,})",
     0, NULL, sealm_guard_secret_check_password_hash, 0, NULL, 0, 0, NULL, START_PREFIX,
     "$2a$|$2b$|$2x$|$2y$|$1$|$5$|$6$|$argon2|$8$|$9$|$krb5", true, NULL},
    {"secret.jwt", SEALM_GUARD_SECRET, 0.9f,
     "(?<![\\w-])eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{16,}(?![\\w-])", 0, ".", NULL, 0, NULL, 0, 0, NULL, START_PREFIX,
     "eyJ", true, NULL},
    {"secret.npm-token", SEALM_GUARD_SECRET, 0.9f, "(?<![\\w])npm_[A-Za-z0-9]{36}(?![\\w])", 0, "_", NULL, 0, NULL, 0, 0, NULL, START_PREFIX,
     "npm_", true, NULL},
    {"secret.huggingface-token", SEALM_GUARD_SECRET, 0.9f, "(?<![\\w])hf_[A-Za-z]{34}(?![\\w])", 0, "_", NULL, 0, NULL, 0, 0, NULL, START_PREFIX,
     "hf_", true, NULL},
    {"secret.sendgrid-key", SEALM_GUARD_SECRET, 0.95f, "(?<![\\w])SG\\.[\\w-]{22}\\.[\\w-]{43}(?![\\w-])", 0, ".",
     NULL, 0, NULL, 0, 0, NULL, START_PREFIX,
     "SG.", true, NULL},
    {"secret.pypi-token", SEALM_GUARD_SECRET, 0.95f, "pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}", 0, "-", NULL, 0, NULL, 0, 0, NULL, START_PREFIX,
     "pypi-AgEIcHlwaS5vcmc", false, NULL},
    {"secret.age-secret-key", SEALM_GUARD_SECRET, 0.99f, "AGE-SECRET-KEY-1[0-9A-Z]{58}", 0, "-", NULL, 0, NULL, 0, 0, NULL, START_PREFIX,
     "AGE-SECRET-KEY-1", false, NULL},
    {"secret.assignment", SEALM_GUARD_SECRET, 0.75f,
     "(?i)(?:pass(?:word|wd|phrase)?(?![a-z])|pwd|secret|api[_-]?key|apikey|access[_-]?key|access[_-]?token|"
     "auth[_-]?token|client[_-]?secret|private[_-]?key|token)[a-z0-9_]*[\"']?\\s*(?::=|=>|[:=])\\s*"
     "[\"'`]?([^\\s\"'`,;]{6,200})",
     0, "=:", sealm_guard_secret_check_assignment, 1, "=:", ASSIGNMENT_BACK, 24, assignment_window, START_ANYWHERE, NULL,
     false, NULL},

    /* A date right after a birth cue. */
    {"dob.cue-date", SEALM_GUARD_DATE_OF_BIRTH, 0.85f,
     "(?i)\\b(?:born(?:\\s+on)?|date\\s+of\\s+birth|d\\.?o\\.?b\\.?|birth\\s*date|birthday)[\\s:=,-]{0,4}"
     "(?:is\\s+|was\\s+|on\\s+)?" DATE,
     0, "0123456789", check_dob, 1, NULL, 0, 0, dob_start, START_PREFIX,
     /* the cues' first three bytes in every case (dob_start's condition, so that the many words
      * beginning "bo", "bi", "da" or "do" stop at the prefix compare): born, birth…, date of
      * birth, dob, do.b, d.o.b */
     "bor|boR|bOr|bOR|Bor|BoR|BOr|BOR|bir|biR|bIr|bIR|Bir|BiR|BIr|BIR|dat|daT|dAt|dAT|Dat|DaT|DAt|DAT|dob|doB|"
     "dOb|dOB|Dob|DoB|DOb|DOB|do.|dO.|Do.|DO.|d.o|d.O|D.o|D.O", true, NULL},

    /* US/UK style: house number, up to four name words, a street suffix (USPS Publication
     * 28 appendix C), optional unit and "City, ST 12345". */
    {"address.street-suffix", SEALM_GUARD_ADDRESS, 0.8f,
     "(?<![\\w])\\d{1,6}[A-Za-z]?(?:-\\d{1,4})?\\s+(?=[A-Z0-9])(?:[NSEW]\\.?\\s+)?(?:[A-Z0-9][\\w'.-]*\\s+){0,4}?" STREET_SUFFIX_FACTORED
     "\\b\\.?(?:,?\\s*(?i:apt|apartment|suite|ste|unit|room|floor|#)\\.?\\s*#?\\w{1,6})?"
     "(?:,?\\s+[A-Z][A-Za-z.'-]+(?:\\s+[A-Z][A-Za-z.'-]+){0,2},?\\s+[A-Z]{2}\\.?,?\\s+\\d{5}(?:-\\d{4})?)?",
     0, "0123456789", NULL, 0, NULL, 0, 0, street_suffix_start, START_NUMBER, NULL, false, NULL},
    /* Continental style: street word with a street suffix, then the house number. */
    {"address.name-number", SEALM_GUARD_ADDRESS, 0.7f,
     "(?<![\\w])(?:(?:Rue|Via|Viale|Corso|Piazza|Calle|Carrer|Avenida|Rua|Paseo|Plaza|Strada|Ulica|Avenue|Boulevard)"
     "(?:\\s+(?:de|del|la|le|des|di|da|do|dos|das|[A-Z][\\w'.-]*)){1,4}|"
     /* the word is read once (possessive) and its ending checked looking back, instead of
      * backtracking through the word once per suffix */
     "[A-Z][a-z\\x80-\\xff]++(?:(?<=str)\\.|(?<=" CONTINENTAL_SUFFIXES ")))\\s+\\d{1,5}[a-zA-Z]?(?![\\w])",
     0, "0123456789", NULL, 0, NULL, 0, 0, name_number_start, START_CAPITAL, NULL, false, lead_word_start},
    {"address.cue", SEALM_GUARD_ADDRESS, 0.7f,
     "(?<![\\w])\\d{1,6}[A-Za-z]?\\s+[A-Z][^\\n,;]{2,60}(?:,\\s*[^\\n,;]{2,40}){0,3}", 0, "0123456789",
     check_address_cue, 0, NULL, 0, 0, address_cue_start, START_NUMBER, NULL, false, NULL},
};

const size_t SEALM_GUARD_PII_N_RULES = sizeof SEALM_GUARD_PII_RULES / sizeof SEALM_GUARD_PII_RULES[0];
