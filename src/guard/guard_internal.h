/* Internals shared by the guard layer's files (not part of the public API). */
#ifndef SEALM_GUARD_INTERNAL_H
#define SEALM_GUARD_INTERNAL_H

#include "sealm/guard.h"

/* ---- checksum.c ---- */
/* Shannon entropy of s[0, len) in bits per byte (0 for len 0). */
double sealm_guard_entropy_bits(const char *s, size_t len);
/* CRC-32 (IEEE 802.3, as zlib's crc32) of s[0, len): GitHub token checksums. */
uint32_t sealm_guard_crc32(const char *s, size_t len);
/* The registered IBAN length for a two-letter country code (upper case), 0 when unknown. */
int sealm_guard_iban_length(char c0, char c1);
/* US SSN area/group/serial rules (SSA): area not 000, 666 or 900-999; group not 00;
 * serial not 0000. d: the 9 digits as ASCII. */
bool sealm_guard_ssn_ok(const char d[9]);
/* UK National Insurance number (HMRC NIM39110): prefix letters and excluded pairs. p: the
 * two prefix letters, upper case. */
bool sealm_guard_nino_prefix_ok(char a, char b);

/* ---- pii_names.c ---- */
/* Is word[0, len) (any case) in the embedded first-name lexicon? */
bool sealm_guard_is_first_name(const char *word, size_t len);
/* Is word[0, len) a common capitalized English word that is not a name (sentence starts,
 * days, months, pronouns)? Used to reject "Monday Morning" as a person. */
bool sealm_guard_is_common_word(const char *word, size_t len);

static inline bool guard_is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline bool guard_is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static inline bool guard_is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static inline bool guard_is_alnum(unsigned char c) {
    return guard_is_digit(c) || guard_is_upper(c) || guard_is_lower(c);
}
static inline bool guard_is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* A growable NUL-terminated string for text that may hold personal data (text_buf.c):
 * growth and freeing wipe the old bytes. Zero-initialize; free with guard_text_wipe. */
typedef struct guard_text {
    char *p;
    size_t n, cap;
} guard_text;
bool guard_text_add(guard_text *b, const char *s, size_t n);
void guard_text_wipe(guard_text *b);

/* ---- slm_answer.c: the model's yes/no answer to a guard question ---- */
struct sealm_tokenizer;
enum { GUARD_ANSWER_MAX_IDS = 8 };
typedef struct guard_answer {
    int32_t yes[GUARD_ANSWER_MAX_IDS], no[GUARD_ANSWER_MAX_IDS];   /* single-token spellings */
    size_t n_yes, n_no;
} guard_answer;
/* Finds the vocabulary's single tokens for yes/no ("yes", " yes", "Yes", " Yes", "YES" and the
 * same for no). False when either word has none: the model cannot answer in one token. */
bool guard_answer_init(const struct sealm_tokenizer *tok, guard_answer *a);
/* p_yes = σ(logsumexp(yes logits) − logsumexp(no logits)), from next-token logits [n_vocab]. */
float guard_answer_p_yes(const guard_answer *a, const float *logits);

#endif
