/* sealm tokenizer layer — text ↔ token ids from GGUF metadata, and chat templates.
 *
 * Models: SentencePiece (tokenizer.ggml.model = "llama": score-driven merges with byte
 * fallback <0xNN>) and byte-level BPE (= "gpt2": GPT-2 byte↔unicode mapping, ranked merges,
 * a pre-tokenizer regex chosen by tokenizer.ggml.pre: default/gpt-2, llama-bpe (Llama 3),
 * smollm, qwen2, starcoder, deepseek-coder, ...). Sources: Kudo & Richardson 2018
 * (SentencePiece); Radford et al. 2019 and OpenAI's gpt-2 encoder.py (byte-level BPE); the
 * pre-tokenizer regexes of the Hugging Face tokenizer.json files; GGUF tokenizer keys in
 * ggml docs/gguf.md. Control tokens (BOS, <|im_start|>, ...) in the text are matched
 * whole only when parse_special is true; user-defined tokens (token type 4, e.g.
 * deepseek-coder's) are always matched whole, as the Hugging Face tokenizers do.
 *
 * Thread safety: a sealm_tokenizer is immutable after creation; encode/decode may run
 * from many threads. A sealm_detok_stream is per-stream state (one thread at a time). */
#ifndef SEALM_TOKENIZER_H
#define SEALM_TOKENIZER_H

#include "sealm/common.h"
#include "sealm/gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sealm_tokenizer sealm_tokenizer;

typedef enum sealm_tokenizer_kind { SEALM_TOKENIZER_SPM = 1, SEALM_TOKENIZER_BPE = 2 } sealm_tokenizer_kind;

/* Builds a tokenizer from g's tokenizer.* metadata. The tokenizer copies what it needs:
 * g may be closed afterwards. Returns SEALM_OK, SEALM_E_NOT_FOUND (no tokenizer metadata),
 * SEALM_E_FORMAT (inconsistent arrays, bad merges, ids out of range), SEALM_E_UNSUPPORTED
 * (unknown tokenizer model or pre-tokenizer), SEALM_E_NOMEM. */
sealm_status sealm_tokenizer_from_gguf(const sealm_gguf *g, sealm_tokenizer **out, sealm_error *err);
/* Frees the tokenizer; NULL is a no-op. */
void sealm_tokenizer_free(sealm_tokenizer *t);

/* Vocabulary facts (thread-safe): the model kind, and the vocabulary size in tokens. */
sealm_tokenizer_kind sealm_tokenizer_kind_of(const sealm_tokenizer *t);
int32_t sealm_tokenizer_n_vocab(const sealm_tokenizer *t);
int32_t sealm_tokenizer_bos(const sealm_tokenizer *t);     /* -1 if none */
int32_t sealm_tokenizer_eos(const sealm_tokenizer *t);     /* -1 if none */
bool sealm_tokenizer_add_bos(const sealm_tokenizer *t);    /* tokenizer.ggml.add_bos_token (default: true for SPM and for the llama-bpe pre-tokenizer, false for other BPE) */
/* true for EOS, EOT and other end-of-generation tokens (<|im_end|>, <|eot_id|>, <|end|>, ...). */
bool sealm_tokenizer_is_eog(const sealm_tokenizer *t, int32_t id);
/* The id of a token whose text is exactly text (e.g. "<|im_end|>"), or -1. */
int32_t sealm_tokenizer_find(const sealm_tokenizer *t, const char *text);
/* The raw vocabulary text of id (as stored in GGUF), or NULL if out of range. */
const char *sealm_tokenizer_token_text(const sealm_tokenizer *t, int32_t id);

/* Encodes text[0..len) (UTF-8; invalid bytes are never rejected: they become byte tokens,
 * or, in a BPE vocabulary that has no token for a byte, are dropped — as Hugging Face's BPE
 * does without an unknown token).
 * add_bos: prepend BOS (when the vocab has one). parse_special: match control tokens
 * written literally in the text (trusted templates only; user text must use false).
 * Thread-safe.
 * out: caller-owned array of cap ids; *n_out gets the number of tokens. If cap is too small,
 * returns SEALM_E_INVALID and sets *n_out to the number needed (nothing else changes).
 * Also SEALM_E_NOMEM. */
sealm_status sealm_tokenize(const sealm_tokenizer *t, const char *text, size_t len, bool add_bos,
                            bool parse_special, int32_t *out, size_t cap, size_t *n_out, sealm_error *err);

/* Decodes one token to its bytes (SentencePiece ▁ → space, <0xNN> → byte; BPE byte mapping
 * undone). Control tokens (BOS/EOS/...) decode to "" unless render_special. buf gets at most
 * cap bytes, NOT NUL-terminated; returns the byte count needed (may exceed cap). */
size_t sealm_token_to_bytes(const sealm_tokenizer *t, int32_t id, bool render_special, char *buf, size_t cap);

/* Streaming detokenizer: feed ids one by one, get back only complete UTF-8 text, so a
 * character split across tokens is printed once, whole. Also drops SentencePiece's leading
 * space on the first token when the model adds one. */
typedef struct sealm_detok_stream {
    const sealm_tokenizer *tok;
    char pending[8];        /* bytes of an unfinished UTF-8 sequence */
    size_t n_pending;
    bool at_start;
} sealm_detok_stream;
/* Starts a stream over t (borrowed; must outlive the stream). */
void sealm_detok_stream_init(sealm_detok_stream *s, const sealm_tokenizer *t);
/* Appends the text completed by id to out (cap bytes, NUL-terminated when cap > 0); returns
 * the number of bytes written (excluding NUL), or the number needed if cap is too small
 * (then nothing is consumed). */
size_t sealm_detok_stream_push(sealm_detok_stream *s, int32_t id, char *out, size_t cap);
/* Flushes what is left (an incomplete sequence becomes U+FFFD). */
size_t sealm_detok_stream_flush(sealm_detok_stream *s, char *out, size_t cap);

/* ---- chat templates ----
 * Formats supported: ChatML (SmolLM2, Qwen2), Llama-2 [INST], Llama-3 header ids, Zephyr,
 * Phi-3. Detected from the tokenizer.chat_template Jinja text by its markers; overridable
 * by name. We do not run Jinja: each format is rendered by C code that follows the
 * model card's template (including its default system prompt, if the template has one). */
typedef enum sealm_chat_format {
    SEALM_CHAT_UNKNOWN = 0, SEALM_CHAT_CHATML, SEALM_CHAT_LLAMA2, SEALM_CHAT_LLAMA3,
    SEALM_CHAT_ZEPHYR, SEALM_CHAT_PHI3,
} sealm_chat_format;

typedef struct sealm_chat_message {
    const char *role;     /* "system", "user" or "assistant" */
    const char *content;  /* UTF-8, NUL-terminated */
} sealm_chat_message;

/* Detects the format from a Jinja template text (NULL → UNKNOWN). */
sealm_chat_format sealm_chat_format_detect(const char *jinja, size_t len);
/* Format by name: "chatml", "llama2", "llama3", "zephyr", "phi3"; UNKNOWN otherwise. */
sealm_chat_format sealm_chat_format_from_name(const char *name);
const char *sealm_chat_format_name(sealm_chat_format f);
/* The default system prompt written into the model's template (e.g. SmolLM2's "You are a
 * helpful AI assistant named SmolLM, trained by Hugging Face"), copied into a malloc'd
 * string; NULL when the template has none. */
char *sealm_chat_default_system(const char *jinja, size_t len);

/* Renders msgs[0..n) in format f; add_generation_prompt appends the assistant header.
 * default_system: inserted as the first message when msgs has no system message (may be NULL).
 * *out: malloc'd NUL-terminated prompt text (caller frees). The result contains special
 * token texts and must be tokenized with parse_special = true; message contents must not
 * be able to inject them: callers tokenize contents separately or strip them — see
 * sealm_chat_tokenize below, which does this right.
 * Returns SEALM_OK, SEALM_E_INVALID (unknown role, UNKNOWN format), SEALM_E_NOMEM. */
sealm_status sealm_chat_render(sealm_chat_format f, const sealm_chat_message *msgs, size_t n,
                               bool add_generation_prompt, const char *default_system,
                               char **out, sealm_error *err);

/* Renders and tokenizes a conversation: template text is tokenized with special tokens
 * parsed, message contents without (so a user can never inject <|im_start|>system).
 * *out: malloc'd ids (caller frees), *n_out their count. BOS prepended when the
 * tokenizer says so and the template does not already start with it. */
sealm_status sealm_chat_tokenize(const sealm_tokenizer *t, sealm_chat_format f,
                                 const sealm_chat_message *msgs, size_t n, bool add_generation_prompt,
                                 const char *default_system, int32_t **out, size_t *n_out, sealm_error *err);

#ifdef __cplusplus
}
#endif
#endif
