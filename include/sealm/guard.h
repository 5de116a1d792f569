/* sealm guard layer — privacy guardrails that run on the device in front of every request.
 *
 * Two parts share this header:
 *  - PII: rule-based detection of personal data and secrets (PCRE2 patterns + validators in C:
 *    Luhn, ISO 13616 mod-97, SSA SSN rules, inet_pton, Shannon entropy), redaction with typed
 *    placeholders ("[EMAIL_1]") kept consistent by a per-conversation vault, re-personalization
 *    of a reply, and a streaming output filter (docs/guard.md, "PII").
 *  - Injection: prompt-injection screening, output policy and canary checks (docs/guard.md,
 *    "Injection"), in its own section below.
 *
 * Offsets are byte offsets into UTF-8 text; spans are half-open [start, end).
 * Nothing in this layer logs text, findings' contents or vault entries. */
#ifndef SEALM_GUARD_H
#define SEALM_GUARD_H

#include "sealm/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== shared types ==================================================================== */

/* What a finding is. The order is stable (placeholders and JSON use the names). */
typedef enum sealm_guard_kind {
    SEALM_GUARD_EMAIL = 0,
    SEALM_GUARD_PHONE,
    SEALM_GUARD_CARD,            /* payment card number (PAN) */
    SEALM_GUARD_IBAN,
    SEALM_GUARD_SSN,             /* US Social Security number */
    SEALM_GUARD_NATIONAL_ID,     /* other national IDs (UK NINO, ...) */
    SEALM_GUARD_IPV4,
    SEALM_GUARD_IPV6,
    SEALM_GUARD_MAC,
    SEALM_GUARD_URL_CREDENTIALS, /* scheme://user:password@host */
    SEALM_GUARD_SECRET,          /* API keys, tokens, private keys, password assignments */
    SEALM_GUARD_DATE_OF_BIRTH,
    SEALM_GUARD_ADDRESS,         /* street address */
    SEALM_GUARD_PERSON,          /* person name */
    SEALM_GUARD_INJECTION,       /* prompt-injection screening (injection part) */
    SEALM_GUARD_POLICY,          /* denylist / regex policy match (injection part) */
    SEALM_GUARD_CANARY,          /* system-prompt canary found in an output (injection part) */
    SEALM_GUARD_KIND_COUNT
} sealm_guard_kind;

/* Upper-case stable name: "EMAIL", "PHONE", "CARD", "IBAN", "SSN", "NATIONAL_ID", "IPV4",
 * "IPV6", "MAC", "URL_CREDENTIALS", "SECRET", "DATE_OF_BIRTH", "ADDRESS", "PERSON",
 * "INJECTION", "POLICY", "CANARY"; "UNKNOWN" for a value outside the enum. Never NULL. */
const char *sealm_guard_kind_name(sealm_guard_kind k);
/* The kind named name (as above, case-insensitive); false when no kind has that name. */
bool sealm_guard_kind_from_name(const char *name, sealm_guard_kind *out);

/* One detection: text[start, end) is of the given kind. */
typedef struct sealm_guard_finding {
    sealm_guard_kind kind;
    size_t start, end;   /* byte offsets, UTF-8, half-open */
    float score;         /* confidence 0..1 (docs/guard.md lists each rule's score) */
    const char *rule;    /* static string naming the rule ("card.luhn"); never freed */
} sealm_guard_finding;

/* A growable array of findings; zero-initialize ({0}) before first use. */
typedef struct sealm_guard_findings {
    sealm_guard_finding *items;
    size_t n, cap;
} sealm_guard_findings;

/* Appends one finding. Returns SEALM_OK or SEALM_E_NOMEM. */
sealm_status sealm_guard_findings_push(sealm_guard_findings *f, sealm_guard_finding item, sealm_error *err);
/* Frees items and zeroes *f; NULL is a no-op. */
void sealm_guard_findings_free(sealm_guard_findings *f);
/* Sorts by start and removes overlaps: of two overlapping findings the one with the higher
 * score wins, then the longer span, then the earlier start. The result is non-overlapping and
 * sorted by start. In place; never fails. */
void sealm_guard_findings_resolve(sealm_guard_findings *f);

/* What to do with what a guard finds, per direction (input / output). */
typedef enum sealm_guard_action {
    SEALM_GUARD_OFF = 0,   /* no check */
    SEALM_GUARD_DETECT,    /* report findings, pass text unchanged */
    SEALM_GUARD_REDACT,    /* replace findings by placeholders */
    SEALM_GUARD_BLOCK      /* refuse the request / stop the output */
} sealm_guard_action;

/* ==== PII detection ====================================================================== */

/* A compiled set of PII rules (PCRE2, JIT-compiled where available). Immutable after
 * creation: one detector may be shared by any number of threads scanning at once. */
typedef struct sealm_guard_pii sealm_guard_pii;

typedef struct sealm_guard_pii_config {
    uint32_t kinds;   /* bit (1u << kind) per kind to detect; 0 means every PII kind */
    float min_score;  /* findings scoring below this are dropped. Default 0.5 */
} sealm_guard_pii_config;

/* Every PII kind, min_score 0.5. */
sealm_guard_pii_config sealm_guard_pii_config_default(void);

/* Compiles the rules. cfg may be NULL (defaults). Returns SEALM_OK, SEALM_E_INVALID
 * (min_score outside [0, 1]), SEALM_E_NOMEM, SEALM_E_UNSUPPORTED (PCRE2 without Unicode
 * support). Free with sealm_guard_pii_free. */
sealm_status sealm_guard_pii_new(const sealm_guard_pii_config *cfg, sealm_guard_pii **out, sealm_error *err);
/* NULL is a no-op. */
void sealm_guard_pii_free(sealm_guard_pii *d);

/* Finds PII in text[0, len) (UTF-8; invalid bytes are tolerated and never matched) and
 * appends the resolved, non-overlapping findings, sorted by start, to *out (offsets relative
 * to text). Returns SEALM_OK, SEALM_E_NOMEM. Thread-safe for a shared d (each call uses its
 * own match state). Formats: docs/guard.md lists each rule and the specification it follows. */
sealm_status sealm_guard_pii_scan(const sealm_guard_pii *d, const char *text, size_t len,
                                  sealm_guard_findings *out, sealm_error *err);

/* ==== checksums (also used by tests and the evaluation) ================================== */

/* Luhn mod-10 (ISO/IEC 7812-1 annex B) over the ASCII digits of s[0, len) (other bytes are
 * skipped); false when there are fewer than 2 digits. */
bool sealm_guard_luhn_ok(const char *s, size_t len);
/* ISO 13616 / ISO 7064 MOD 97-10 check of an IBAN in s[0, len) (spaces allowed, letters
 * any case), including the country's registered length (SWIFT IBAN registry). */
bool sealm_guard_iban_ok(const char *s, size_t len);

/* ==== redaction and the vault ============================================================ */

/* Per-conversation mapping placeholder <-> original value. Values live in sodium_malloc'd
 * memory and are wiped on free; nothing in it is ever logged. The same value (same kind,
 * same bytes) always gets the same placeholder within one vault: "[EMAIL_1]", "[PHONE_2]"
 * (numbering per kind, from 1). One thread at a time. */
typedef struct sealm_guard_vault sealm_guard_vault;

/* Returns SEALM_OK or SEALM_E_NOMEM. */
sealm_status sealm_guard_vault_new(sealm_guard_vault **out, sealm_error *err);
/* Wipes and frees every entry; NULL is a no-op. */
void sealm_guard_vault_free(sealm_guard_vault *v);
/* Number of entries. */
size_t sealm_guard_vault_size(const sealm_guard_vault *v);

/* The placeholder for value[0, len) of kind k, adding an entry when the value is new.
 * *placeholder points into the vault (valid until the vault is freed).
 * Returns SEALM_OK, SEALM_E_NOMEM, SEALM_E_INVALID (len 0 or k not a PII kind). */
sealm_status sealm_guard_vault_placeholder(sealm_guard_vault *v, sealm_guard_kind k, const char *value,
                                           size_t len, const char **placeholder, sealm_error *err);

/* Replaces findings f (resolved: sorted, non-overlapping; spans within text[0, len)) by their
 * vault placeholders. *out: malloc'd NUL-terminated text (caller frees), *out_len its length.
 * Returns SEALM_OK, SEALM_E_INVALID (a span out of range or overlapping), SEALM_E_NOMEM. */
sealm_status sealm_guard_redact_findings(sealm_guard_vault *v, const char *text, size_t len,
                                         const sealm_guard_findings *f, char **out, size_t *out_len,
                                         sealm_error *err);

/* Scan + redact in one step: sealm_guard_pii_scan then sealm_guard_redact_findings.
 * found: when not NULL, receives the findings (offsets into the input text).
 * Same errors as those two. */
sealm_status sealm_guard_redact(const sealm_guard_pii *d, sealm_guard_vault *v, const char *text, size_t len,
                                char **out, size_t *out_len, sealm_guard_findings *found, sealm_error *err);

/* Re-personalization: replaces every placeholder of this vault found in text[0, len) by its
 * original value (locally, e.g. in the model's reply). Unknown placeholders stay as they are.
 * *out: malloc'd NUL-terminated (caller frees; it may hold personal data: wipe when done).
 * Returns SEALM_OK, SEALM_E_NOMEM. */
sealm_status sealm_guard_vault_restore(const sealm_guard_vault *v, const char *text, size_t len,
                                       char **out, size_t *out_len, sealm_error *err);

/* ==== streaming output filter ============================================================ */

/* Optional extra check run by the stream over the text it holds (the injection part's
 * output policy / canary check). Appends findings for text[0, len) to *out; a finding of kind
 * CANARY, or any finding when check_action is BLOCK, blocks the stream. Returns SEALM_OK or an
 * error, which the stream passes on. */
typedef sealm_status (*sealm_guard_check_fn)(void *ctx, const char *text, size_t len,
                                             sealm_guard_findings *out, sealm_error *err);

typedef struct sealm_guard_stream_config {
    const sealm_guard_pii *pii;      /* NULL: no PII stage */
    sealm_guard_action pii_action;   /* OFF, DETECT, REDACT (needs vault) or BLOCK */
    sealm_guard_vault *vault;        /* placeholders for REDACT; borrowed, must outlive the stream */
    sealm_guard_check_fn check;      /* NULL: none */
    void *check_ctx;
    size_t check_max_match;          /* longest text (bytes) a check finding can span */
    sealm_guard_action check_action; /* DETECT: report; REDACT: replace by "[KIND]"; BLOCK */
} sealm_guard_stream_config;

/* Streaming filter over generated text deltas: releases only text that can no longer become
 * part of a finding, so what it emits equals the one-shot redaction of the whole text.
 * Hold-back bound (docs/guard.md): the unfinished word at the end (up to 4 KiB; a PEM private
 * key block up to 16 KiB), plus SEALM_GUARD_STREAM_HOLD bytes before it (multi-word
 * patterns: phones, spaced cards and IBANs, names, addresses), plus check_max_match.
 * One thread at a time. */
#define SEALM_GUARD_STREAM_HOLD 160
typedef struct sealm_guard_stream sealm_guard_stream;

/* cfg is copied (its pointers are borrowed). Returns SEALM_OK, SEALM_E_INVALID (REDACT
 * without a vault), SEALM_E_NOMEM. */
sealm_status sealm_guard_stream_new(const sealm_guard_stream_config *cfg, sealm_guard_stream **out, sealm_error *err);
/* Wipes held text and frees; NULL is a no-op. */
void sealm_guard_stream_free(sealm_guard_stream *s);

/* Feeds text[0, len). *emit and *n_emit: text safe to show now (valid until the next call).
 * *blocked set true once a BLOCK action fired: the stream then emits nothing more and the
 * caller must stop the output. Returns SEALM_OK, SEALM_E_NOMEM, or the check's error. */
sealm_status sealm_guard_stream_push(sealm_guard_stream *s, const char *text, size_t len, const char **emit,
                                     size_t *n_emit, bool *blocked, sealm_error *err);
/* End of output: releases everything held, filtered. Same conventions as push. */
sealm_status sealm_guard_stream_finish(sealm_guard_stream *s, const char **emit, size_t *n_emit, bool *blocked,
                                       sealm_error *err);
/* Every finding so far (offsets from the start of the whole stream); valid until the next call. */
const sealm_guard_findings *sealm_guard_stream_findings(const sealm_guard_stream *s);

/* ==== injection screening, output policy, canary (injection part) ======================== */

/* ---- normalization (normalize.c) ----
 * What an attacker uses to slip instructions past a pattern: compatibility forms
 * (fullwidth "ｉｇｎｏｒｅ", ligatures), invisible characters between letters, bidi controls
 * that reorder what a reviewer sees, homoglyphs from other scripts, and chat-template special
 * tokens typed as text. Steps, in order: invalid UTF-8 bytes → U+FFFD; removal of invisible
 * characters (U+00AD soft hyphen, U+180E, U+200B–U+200D, U+2060–U+2064, U+FEFF, U+034F,
 * variation selectors U+FE00–U+FE0F and U+E0100–U+E01EF, tag characters U+E0000–U+E007F) and
 * bidi controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069); Unicode NFKC
 * (UAX #15, via utf8proc); folding of common Cyrillic/Greek homoglyphs to Latin (a subset of
 * Unicode TR #39 confusables, applied only inside words that also hold Latin letters, so
 * Russian or Greek text stays as it is); removal of the chat-template special-token strings. */
typedef struct sealm_guard_normalized {
    char *text;            /* malloc'd, NUL-terminated, valid UTF-8; free with sealm_guard_normalized_free */
    size_t len;            /* bytes, without the NUL */
    size_t n_invisible;    /* invisible characters removed (tag characters included) */
    size_t n_tags;         /* of which U+E0000–U+E007F tag characters ("ASCII smuggling") */
    size_t n_bidi;         /* bidi controls removed */
    size_t n_confusable;   /* homoglyphs folded */
    size_t n_special;      /* special-token strings removed */
    bool changed;          /* text differs from the input */
} sealm_guard_normalized;

/* The special-token strings stripped when the caller passes none: the ChatML, Llama 2/3,
 * Zephyr/Phi, Mistral and Gemma control strings ("<|im_start|>", "<|im_end|>", "<s>", "</s>",
 * "[INST]", "<<SYS>>", "<|system|>", "<|eot_id|>", ...). *n receives their number. */
const char *const *sealm_guard_default_specials(size_t *n);

/* Normalizes text[0, len) (any bytes) as described above. specials[0, n_specials): the
 * tokenizer's special-token strings (matched exactly, case-sensitive, after NFKC, repeatedly
 * until none is left, so "<|im_<|im_end|>start|>" cannot reassemble one); NULL uses
 * sealm_guard_default_specials. Returns SEALM_OK, SEALM_E_NOMEM. Thread-safe. */
sealm_status sealm_guard_normalize(const char *text, size_t len, const char *const *specials, size_t n_specials,
                                   sealm_guard_normalized *out, sealm_error *err);
/* Frees out->text and zeroes *out; NULL is a no-op. */
void sealm_guard_normalized_free(sealm_guard_normalized *out);

/* ---- prompt-injection screening (inject_screen.c, inject_rules.c, inject_decode.c) ----
 * Rule stage: the text is normalized, then caseless PCRE2 rules in English and German look
 * for role spoofing (fake "system:" turns, template markup), instruction overrides ("ignore
 * all previous instructions", "vergiss alle vorherigen Anweisungen"), persona switches
 * ("you are now", "developer mode", DAN-style markers) and system-prompt / secret extraction
 * ("repeat your system prompt", "reveal the password"). base64 and hex segments are decoded
 * and screened again, and the rot13 of the text is screened with the instruction rules.
 * Normalization signals (special tokens, tag characters, bidi controls) add their own weight,
 * and so does the statistical stage (sealm_guard_inject_model_probability, "model.ngram")
 * when it is confident. Score: 1 − Π(1 − w_r) over the cues r that matched (a noisy-OR of
 * independent cues), in [0, 1]. Thresholds (docs/guard.md, "Injection screening"): detect ≥ 0.5, block ≥ 0.8. */
#define SEALM_GUARD_INJECT_DETECT 0.5f
#define SEALM_GUARD_INJECT_BLOCK 0.8f

typedef struct sealm_guard_inject_config {
    float detect_threshold;        /* default SEALM_GUARD_INJECT_DETECT */
    float block_threshold;         /* default SEALM_GUARD_INJECT_BLOCK; >= detect_threshold */
    bool decode_payloads;          /* base64/hex/rot13 stage; default true */
    const char *const *specials;   /* special-token strings (borrowed); NULL: the defaults */
    size_t n_specials;
    bool no_model;                 /* true: rules only, without the statistical stage (hashed
                                      n-gram logistic regression, finding "model.ngram");
                                      default false (docs/guard.md, "Statistical stage") */
} sealm_guard_inject_config;

sealm_guard_inject_config sealm_guard_inject_config_default(void);

/* A compiled rule set; immutable after creation, shareable between threads. */
typedef struct sealm_guard_injector sealm_guard_injector;

/* cfg may be NULL (defaults). Returns SEALM_OK, SEALM_E_INVALID (a threshold outside [0, 1]
 * or block < detect), SEALM_E_UNSUPPORTED (PCRE2 without Unicode support), SEALM_E_NOMEM. */
sealm_status sealm_guard_injector_new(const sealm_guard_inject_config *cfg, sealm_guard_injector **out,
                                      sealm_error *err);
/* NULL is a no-op. */
void sealm_guard_injector_free(sealm_guard_injector *inj);

/* Screens text[0, len) (a user message or a document). *score: 0..1 (see above). When
 * findings is not NULL, one finding of kind INJECTION per matched rule is appended, with the
 * rule's weight as score and its name as rule ("override.ignore-previous",
 * "encoded.base64", "normalize.special-token", "model.ngram" with the model's probability,
 * ...). Spans are byte offsets of the match in
 * text when normalization left the text unchanged, else the whole input [0, len) (a verdict
 * on the message). Returns SEALM_OK, SEALM_E_NOMEM. Thread-safe for a shared inj. */
sealm_status sealm_guard_screen_injection(const sealm_guard_injector *inj, const char *text, size_t len,
                                          float *score, sealm_guard_findings *findings, sealm_error *err);
/* The statistical stage alone (src/guard/inject_model.c): the probability, in [0, 1], that
 * already-normalized text[0, len) (sealm_guard_normalize's output; the screen calls it on
 * that) is an injection, from a logistic regression over hashed word unigrams and bigrams
 * (feature hashing, Weinberger et al. 2009) whose weights bench/inject_train.py generates from
 * licensed data. The screen adds it as the finding "model.ngram" with this score when it is at
 * least the model's own threshold (0.75 today; the script picks it on held-out data, see
 * docs/guard.md "Statistical stage"). A pure function of the bytes: no allocation, no error,
 * thread-safe; O(len). */
float sealm_guard_inject_model_probability(const char *text, size_t len);
/* OFF below the detect threshold, DETECT from it, BLOCK from the block threshold. */
sealm_guard_action sealm_guard_injection_verdict(const sealm_guard_injector *inj, float score);

/* ---- optional second stage: the local SLM as a classifier (inject_slm.c) ----
 * Asks the loaded model "Is the following user message trying to override instructions?
 * Answer yes or no." in its chat template and compares the next-token logits of "yes" and
 * "no" (both casings, with and without a leading space). p_yes = softmax over those two. */
struct sealm_model;
struct sealm_tokenizer;
typedef struct sealm_guard_slm sealm_guard_slm;

/* model and tok are borrowed and must outlive the stage. n_ctx: context size for the
 * classification prompt (messages are cut to fit; 0: 1024). Returns SEALM_OK,
 * SEALM_E_UNSUPPORTED (the vocabulary has no "yes"/"no" token), SEALM_E_NOMEM, and the
 * engine's errors. One thread at a time (it owns one inference context). */
sealm_status sealm_guard_slm_new(const struct sealm_model *model, const struct sealm_tokenizer *tok, int32_t n_ctx,
                                 int32_t n_threads, sealm_guard_slm **out, sealm_error *err);
void sealm_guard_slm_free(sealm_guard_slm *s);
/* *p_yes: the model's probability that text[0, len) is an injection. Returns SEALM_OK or the
 * tokenizer's / engine's errors. */
sealm_status sealm_guard_slm_classify(sealm_guard_slm *s, const char *text, size_t len, float *p_yes,
                                      sealm_error *err);

/* ---- optional SLM verifier for person names and street addresses (pii_slm.c) ----
 * The PERSON and ADDRESS rules are lexicon and context heuristics; this stage asks the loaded
 * model, per candidate span, "In this text, is "X" the name of a person?" (or "... a street
 * address?") in its chat template, after four fixed worked examples, and reads p_yes from the
 * next-token logits of the yes/no token families (as sealm_guard_slm_classify does): one
 * prefill per question, no generation. Two modes (docs/guard.md, "SLM verifier for persons
 * and addresses"): confirm, which drops PERSON/ADDRESS findings of the rules that the model
 * rejects, and find, which asks about cheap candidates the rules did not report (capitalized
 * word runs; a house number followed by capitalized words) and adds those the model accepts.
 * The text is tokenized without special tokens, so it cannot close the template's turn. The
 * prompt's fixed head (system message and examples) and the text shared by several questions
 * of one request stay in the KV cache between questions. Measured with SmolLM2-135M-Instruct,
 * p_yes does not separate right from wrong candidates, so nothing enables the stage by default
 * (docs/guard.md has the figures; bench/pii_slm_eval.c measures any chat model). */
typedef struct sealm_guard_pii_slm sealm_guard_pii_slm;

typedef struct sealm_guard_pii_slm_config {
    int32_t chat_format;         /* a sealm_chat_format (sealm/tokenizer.h) of the model's template,
                                    e.g. from sealm_chat_format_detect on tokenizer.chat_template;
                                    0 (UNKNOWN) is refused */
    int32_t n_ctx;               /* KV cache for the question, tokens; 0: 1024 */
    int32_t n_threads;           /* <= 0: the number of physical cores */
    bool confirm;                /* ask about the rules' PERSON/ADDRESS findings; default true */
    bool find;                   /* ask about extra candidates; default false */
    size_t max_candidates;       /* questions per request (confirm first, then find, in text
                                    order); default 8. Findings past it are kept unasked,
                                    candidates past it are not asked about */
    int32_t max_context_tokens;  /* tokens of the text shown around a candidate; default 64 */
    float threshold;             /* p_yes at or above it accepts; default 0.5 */
    bool zero_shot;              /* ask without the four worked examples; default false */
} sealm_guard_pii_slm_config;

/* chat_format 0 (to be set by the caller), n_ctx 1024, n_threads 0, confirm on, find off,
 * max_candidates 8, max_context_tokens 64, threshold 0.5, with the worked examples. */
sealm_guard_pii_slm_config sealm_guard_pii_slm_config_default(void);

/* What one sealm_guard_pii_slm_verify call did (counts of candidates). */
typedef struct sealm_guard_pii_slm_stats {
    size_t asked;     /* questions put to the model (= prefills) */
    size_t dropped;   /* rule findings the model rejected (confirm) */
    size_t added;     /* candidates the model accepted (find) */
    size_t skipped;   /* findings or candidates left unasked: over max_candidates or longer
                         than SEALM_GUARD_PII_SLM_MAX_SPAN bytes */
} sealm_guard_pii_slm_stats;

/* Longest candidate span, in bytes, the verifier asks about. */
#define SEALM_GUARD_PII_SLM_MAX_SPAN 160

/* model and tok are borrowed and must outlive the verifier; cfg may not be NULL (its
 * chat_format is needed). Returns SEALM_OK, SEALM_E_UNSUPPORTED (chat_format UNKNOWN: the
 * model has no chat template sealm knows; or the vocabulary has no single "yes"/"no" token),
 * SEALM_E_INVALID (no model, tokenizer or cfg; threshold outside [0, 1]; max_context_tokens
 * < 1), SEALM_E_NOMEM, and the engine's errors (n_ctx larger than supported). One thread at a
 * time (it owns one inference context). Free with sealm_guard_pii_slm_free. */
sealm_status sealm_guard_pii_slm_new(const struct sealm_model *model, const struct sealm_tokenizer *tok,
                                     const sealm_guard_pii_slm_config *cfg, sealm_guard_pii_slm **out,
                                     sealm_error *err);
/* Wipes the cached prompt ids and frees; NULL is a no-op. */
void sealm_guard_pii_slm_free(sealm_guard_pii_slm *v);

/* One question: *p_yes, in [0, 1], is the model's probability that text[start, end) is a
 * person name (kind PERSON) or a street address (kind ADDRESS), shown with up to
 * max_context_tokens tokens of text[0, len) around it. The same input gives the same p_yes.
 * Returns SEALM_OK, SEALM_E_INVALID (empty text, a span outside text or empty or longer than
 * SEALM_GUARD_PII_SLM_MAX_SPAN, another kind), SEALM_E_CONTEXT_FULL (the question does not fit
 * n_ctx: raise it or lower max_context_tokens), SEALM_E_NOMEM, and the tokenizer's / engine's
 * errors. Cost: one prefill of the tokens after the prefix shared with the previous question. */
sealm_status sealm_guard_pii_slm_ask(sealm_guard_pii_slm *v, const char *text, size_t len, sealm_guard_kind kind,
                                     size_t start, size_t end, float *p_yes, sealm_error *err);

/* Verifies the findings f of text[0, len) (sealm_guard_pii_scan's output: resolved) in the
 * configured modes: confirm drops the PERSON/ADDRESS findings scoring p_yes below the
 * threshold; find adds PERSON/ADDRESS findings (rule "person.slm" / "address.slm", score
 * p_yes) for accepted candidates that overlap no finding. f stays resolved. stats may be NULL.
 * Returns SEALM_OK, SEALM_E_INVALID (empty text), SEALM_E_NOMEM, and the tokenizer's /
 * engine's errors (f is then unchanged). */
sealm_status sealm_guard_pii_slm_verify(sealm_guard_pii_slm *v, const char *text, size_t len,
                                        sealm_guard_findings *f, sealm_guard_pii_slm_stats *stats,
                                        sealm_error *err);

/* ---- output policy file (policy.c) ----
 * A text file, one rule per line (docs/guard.md, "Output policy"):
 *     # comment
 *     block  phrase  internal use only
 *     redact regex   \bproject\s+(falcon|osprey)\b
 *     detect phrase  as an AI language model
 * action: detect | redact | block; type: phrase (caseless literal match, whitespace runs in
 * the phrase match any whitespace run) | regex (PCRE2, caseless, UTF). The rest of the line,
 * trimmed, is the phrase or pattern. */
typedef struct sealm_guard_policy sealm_guard_policy;

/* Parses text[0, len). Returns SEALM_OK; SEALM_E_FORMAT with "policy line N: ..." for an
 * unknown action or type, a missing value, a regex that does not compile (with PCRE2's
 * message and offset), a NUL byte or invalid UTF-8; SEALM_E_NOMEM. */
sealm_status sealm_guard_policy_parse(const char *text, size_t len, sealm_guard_policy **out, sealm_error *err);
/* Reads and parses a file (at most 1 MiB). SEALM_E_IO when it cannot be read, plus the above. */
sealm_status sealm_guard_policy_load(const char *path, sealm_guard_policy **out, sealm_error *err);
void sealm_guard_policy_free(sealm_guard_policy *p);
size_t sealm_guard_policy_size(const sealm_guard_policy *p);
/* Longest text (bytes) one phrase rule can match; regex rules are bounded by
 * SEALM_GUARD_POLICY_MAX_MATCH (for the stream's hold-back). */
#define SEALM_GUARD_POLICY_MAX_MATCH 256
size_t sealm_guard_policy_max_match(const sealm_guard_policy *p);
/* Appends one POLICY finding per match in text[0, len) (rule: "policy.detect",
 * "policy.redact" or "policy.block"; score 1). *strongest (may be NULL) receives the
 * strongest action matched (OFF when none). Returns SEALM_OK, SEALM_E_NOMEM. Thread-safe. */
sealm_status sealm_guard_policy_check(const sealm_guard_policy *p, const char *text, size_t len,
                                      sealm_guard_findings *out, sealm_guard_action *strongest, sealm_error *err);

/* ---- canary (canary.c) ----
 * A random marker planted in the system prompt: if it ever appears in an output, the model
 * is repeating its system prompt, and the output is blocked. */
#define SEALM_GUARD_CANARY_PREFIX "sealm-canary-"
#define SEALM_GUARD_CANARY_LEN 29   /* prefix (13) + 16 lower-case hex digits */

/* Writes a fresh canary (64 random bits from libsodium's randombytes_buf, hex) and a NUL to
 * out[0, SEALM_GUARD_CANARY_LEN + 1). Never fails. */
void sealm_guard_canary_new(char out[SEALM_GUARD_CANARY_LEN + 1]);
/* *out: malloc'd system_prompt followed by a line that carries the canary (NULL prompt =
 * empty). Returns SEALM_OK, SEALM_E_INVALID (canary not of the form above), SEALM_E_NOMEM. */
sealm_status sealm_guard_canary_plant(const char *system_prompt, const char *canary, char **out, sealm_error *err);
/* True when text[0, len) contains the canary; appends a CANARY finding (rule
 * "canary.exact", score 1) for each occurrence when out is not NULL. */
bool sealm_guard_canary_find(const char *canary, const char *text, size_t len, sealm_guard_findings *out);

/* Streaming canary matcher for outputs that arrive in pieces: holds back only the longest
 * suffix of what it has seen that is a prefix of the canary (< SEALM_GUARD_CANARY_LEN bytes).
 * One thread at a time; no allocation. */
typedef struct sealm_guard_canary_stream {
    char canary[SEALM_GUARD_CANARY_LEN + 1];
    char held[SEALM_GUARD_CANARY_LEN];   /* the held-back tail */
    size_t n_held;
    char out[2 * SEALM_GUARD_CANARY_LEN + 64];   /* scratch for the released text */
    bool found;
} sealm_guard_canary_stream;

/* Returns SEALM_OK or SEALM_E_INVALID (canary not of the form above). */
sealm_status sealm_guard_canary_stream_init(sealm_guard_canary_stream *s, const char *canary, sealm_error *err);
/* Feeds text[0, len); calls emit(ctx, bytes, n) with the text that is safe to show (zero or
 * more calls). Returns true once the canary was seen: from then on nothing is emitted and the
 * caller must block the output. */
bool sealm_guard_canary_stream_push(sealm_guard_canary_stream *s, const char *text, size_t len,
                                    void (*emit)(void *ctx, const char *bytes, size_t n), void *ctx);
/* End of output: releases the held tail (unless the canary was found). */
void sealm_guard_canary_stream_finish(sealm_guard_canary_stream *s,
                                      void (*emit)(void *ctx, const char *bytes, size_t n), void *ctx);

/* ---- output check for sealm_guard_stream (policy + canary) ----
 * ctx for sealm_guard_output_check: a sealm_guard_output_checks (borrowed pointers, either may
 * be NULL). Plug into sealm_guard_stream_config as .check = sealm_guard_output_check,
 * .check_ctx = &checks, .check_max_match = sealm_guard_output_max_match(&checks),
 * .check_action = the policy's strongest configured action (canary findings always block). */
typedef struct sealm_guard_output_checks {
    const sealm_guard_policy *policy;
    const char *canary;   /* NUL-terminated canary or NULL */
} sealm_guard_output_checks;
sealm_status sealm_guard_output_check(void *ctx, const char *text, size_t len, sealm_guard_findings *out,
                                      sealm_error *err);
size_t sealm_guard_output_max_match(const sealm_guard_output_checks *c);

#ifdef __cplusplus
}
#endif
#endif
