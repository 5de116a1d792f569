/* Check digits and structural rules that turn a digit pattern into a confident finding:
 * Luhn (cards), ISO 7064 MOD 97-10 (IBAN), SSA rules (SSN), HMRC prefix rules (NINO), and
 * Shannon entropy (secrets). */
#include "guard_internal.h"

#include <math.h>
#include <string.h>

/* ISO/IEC 7812-1 annex B: from the rightmost digit, double every second digit (subtract 9
 * when the product exceeds 9); the sum is a multiple of 10. */
bool sealm_guard_luhn_ok(const char *s, size_t len) {
    int sum = 0, n = 0;
    for (size_t i = len; i-- > 0;) {
        unsigned char c = (unsigned char)s[i];
        if (!guard_is_digit(c)) continue;
        int d = c - '0';
        if (n & 1) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
        n++;
    }
    return n >= 2 && sum % 10 == 0;
}

/* Registered IBAN lengths per country (SWIFT IBAN registry, ISO 13616). */
typedef struct iban_country {
    char code[3];
    unsigned char length;
} iban_country;

static const iban_country IBAN_COUNTRIES[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
    {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27},
    {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
    {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
    {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28},
    {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
    {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28},
    {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

int sealm_guard_iban_length(char c0, char c1) {
    for (size_t i = 0; i < sizeof IBAN_COUNTRIES / sizeof IBAN_COUNTRIES[0]; i++)
        if (IBAN_COUNTRIES[i].code[0] == c0 && IBAN_COUNTRIES[i].code[1] == c1) return IBAN_COUNTRIES[i].length;
    return 0;
}

static char upper(char c) { return guard_is_lower((unsigned char)c) ? (char)(c - 'a' + 'A') : c; }

/* ISO 13616-1: move the first four characters to the end, letters become 10..35, and the
 * number mod 97 must be 1. Computed digit by digit so no big integer is needed. */
bool sealm_guard_iban_ok(const char *s, size_t len) {
    char iban[40];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == ' ') continue;
        if (!guard_is_alnum((unsigned char)c) || n == sizeof iban) return false;
        iban[n++] = upper(c);
    }
    if (n < 5 || !guard_is_upper((unsigned char)iban[0]) || !guard_is_upper((unsigned char)iban[1]) ||
        !guard_is_digit((unsigned char)iban[2]) || !guard_is_digit((unsigned char)iban[3]))
        return false;
    if ((size_t)sealm_guard_iban_length(iban[0], iban[1]) != n) return false;
    unsigned rem = 0;
    for (size_t k = 0; k < n; k++) {
        char c = iban[(k + 4) % n];
        if (guard_is_digit((unsigned char)c)) rem = (rem * 10 + (unsigned)(c - '0')) % 97;
        else rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
    }
    return rem == 1;
}

double sealm_guard_entropy_bits(const char *s, size_t len) {
    if (len == 0) return 0.0;
    size_t counts[256] = {0};
    for (size_t i = 0; i < len; i++) counts[(unsigned char)s[i]]++;
    double h = 0.0;
    for (int c = 0; c < 256; c++) {
        if (!counts[c]) continue;
        double p = (double)counts[c] / (double)len;
        h -= p * log2(p);
    }
    return h;
}

/* SSA, "Social Security Number Randomization" (2011): areas 000, 666 and 900-999 are
 * never assigned; group 00 and serial 0000 are never used. */
bool sealm_guard_ssn_ok(const char d[9]) {
    int area = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
    int group = (d[3] - '0') * 10 + (d[4] - '0');
    int serial = (d[5] - '0') * 1000 + (d[6] - '0') * 100 + (d[7] - '0') * 10 + (d[8] - '0');
    if (area == 0 || area == 666 || area >= 900) return false;
    if (group == 0 || serial == 0) return false;
    return true;
}

/* HMRC National Insurance Manual NIM39110: the first letter is not D, F, I, Q, U or V; the
 * second is not D, F, I, O, Q, U or V; the pairs BG, GB, KN, NK, NT, TN and ZZ are not used. */
bool sealm_guard_nino_prefix_ok(char a, char b) {
    if (!guard_is_upper((unsigned char)a) || !guard_is_upper((unsigned char)b)) return false;
    if (strchr("DFIQUV", a) || strchr("DFIOQUV", b)) return false;
    static const char *const BAD[] = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"};
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++)
        if (BAD[i][0] == a && BAD[i][1] == b) return false;
    return true;
}

/* CRC-32 as in IEEE 802.3 (reflected polynomial 0xEDB88320, initial value and final XOR
 * 0xFFFFFFFF; the same as zlib's crc32). Bitwise: it only checks short token tails. */
uint32_t sealm_guard_crc32(const char *s, size_t len) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned char)s[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
}
