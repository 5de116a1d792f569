/* BPE pre-tokenization: before merging, text is cut into words by the regexes of the
 * model's published tokenizer.json (selected by tokenizer.ggml.pre). With several regexes,
 * each one cuts the pieces left by the previous one, keeping both the matches and the text
 * between them (the "Isolated" split of Hugging Face's Sequence pre-tokenizer). Regexes run
 * in PCRE2 with UTF and Unicode properties (UCP); bytes that are not valid UTF-8 never match
 * and end up as pieces of their own. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/vocab.h"

/* GPT-2's ByteLevel regex, also the second stage of several code models. */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

/* Llama 3 and Qwen2 differ only in how many digits make a word. The original patterns
 * spell the contractions as (?i:'s|...); the letters are listed explicitly so that caseless
 * matching cannot pull in other scripts' characters (such as U+017F, long s). */
#define RE_CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define RE_LLAMA3 RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2 RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

typedef struct pre_scheme {
    const char *names;          /* the tokenizer.ggml.pre values using it, '|'-separated */
    const char *regex[SEALM_PRE_MAX_REGEX];
    bool ignore_merges;
    bool add_bos;               /* BOS by default when tokenizer.ggml.add_bos_token is absent */
} pre_scheme;

static const pre_scheme k_schemes[] = {
    {"default|gpt-2|gpt2|mpt|olmo|jais", {RE_GPT2}, false, false},
    /* Llama 3 family (and Falcon 3, which reuses it): BOS unless the file says otherwise */
    {"llama-bpe|llama3|llama-v3|falcon3", {RE_LLAMA3}, true, true},
    {"dbrx|smaug-bpe", {RE_LLAMA3}, false, false},
    {"qwen2|stablelm2|deepseek-r1-qwen", {RE_QWEN2}, false, false},
    /* Digits(individual_digits) then ByteLevel. */
    {"starcoder|smollm|refact|command-r|codeshell|exaone|minerva-7b", {"\\p{N}", RE_GPT2}, false, false},
    {"deepseek-coder",
     {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}"},
     false, false},
};

static bool name_in_list(const char *list, const char *name, size_t len) {
    for (const char *p = list; *p;) {
        const char *end = strchr(p, '|');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && memcmp(p, name, len) == 0) return true;
        if (!end) break;
        p = end + 1;
    }
    return false;
}

sealm_status sealm_pre_init(sealm_pretokenizer *p, const char *name, size_t name_len, sealm_error *err) {
    const pre_scheme *scheme = NULL;
    for (size_t i = 0; i < sizeof k_schemes / sizeof k_schemes[0] && !scheme; i++)
        if (name_in_list(k_schemes[i].names, name, name_len)) scheme = &k_schemes[i];
    if (!scheme) {
        int n = name_len > 64 ? 64 : (int)name_len;
        return sealm_error_set(err, SEALM_E_UNSUPPORTED,
                               "tokenizer: pre-tokenizer \"%.*s\" (tokenizer.ggml.pre) is not supported; supported: "
                               "default, gpt-2, llama-bpe, qwen2, smollm, starcoder, deepseek-coder",
                               n, name);
    }
    p->ignore_merges = scheme->ignore_merges;
    p->add_bos_default = scheme->add_bos;
    for (int i = 0; i < SEALM_PRE_MAX_REGEX && scheme->regex[i]; i++) {
        int code;
        PCRE2_SIZE at;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)scheme->regex[i], PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &at, NULL);
        if (!re) {
            char msg[128];
            pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof msg);
            sealm_pre_free(p);
            return sealm_error_set(err, SEALM_E_UNSUPPORTED, "tokenizer: PCRE2 rejected pre-tokenizer regex %d (%s at offset %zu)",
                                   i, msg, (size_t)at);
        }
        /* JIT is only a speed-up: when the platform lacks it, the interpreter runs. */
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
        p->regex[p->n_regex++] = re;
    }
    return SEALM_OK;
}

void sealm_pre_free(sealm_pretokenizer *p) {
    for (int i = 0; i < p->n_regex; i++) pcre2_code_free((pcre2_code *)p->regex[i]);
    p->n_regex = 0;
}

/* A piece of the text being split: bytes [off, off+len). */
typedef struct piece {
    size_t off, len;
} piece;

typedef struct piece_list {
    piece *items;
    size_t n, cap;
} piece_list;

static bool piece_push(piece_list *l, size_t off, size_t len) {
    if (len == 0) return true;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        piece *items = realloc(l->items, cap * sizeof *items);
        if (!items) return false;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = (piece){off, len};
    return true;
}

/* Cuts one piece by re, appending the matches and the gaps between them to out. The piece
 * is matched as a subject of its own, so look-arounds never see past its ends. */
static bool split_piece(pcre2_code *re, pcre2_match_data *md, const char *text, piece in, piece_list *out) {
    PCRE2_SPTR subject = (PCRE2_SPTR)(text + in.off);
    size_t pos = 0, gap_start = 0;
    while (pos < in.len) {
        int rc = pcre2_match(re, subject, in.len, pos, 0, md, NULL);
        if (rc < 0) break;      /* no more matches (or a match error: keep the rest whole) */
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t s = ov[0], e = ov[1];
        if (e <= s) {           /* empty match: none of our patterns make one, but never loop */
            pos = s + 1;
            continue;
        }
        if (!piece_push(out, in.off + gap_start, s - gap_start) || !piece_push(out, in.off + s, e - s)) return false;
        pos = gap_start = e;
    }
    return piece_push(out, in.off + gap_start, in.len - gap_start);
}

bool sealm_pre_encode(const sealm_tokenizer *t, const char *text, size_t len, sealm_id_list *out) {
    if (len == 0) return true;
    piece_list cur = {0}, next = {0};
    pcre2_match_data *md = NULL;
    bool ok = piece_push(&cur, 0, len);
    for (int r = 0; ok && r < t->pre.n_regex; r++) {
        pcre2_code *re = t->pre.regex[r];
        pcre2_match_data_free(md);
        md = pcre2_match_data_create_from_pattern(re, NULL);
        if (!md) {
            ok = false;
            break;
        }
        next.n = 0;
        for (size_t i = 0; ok && i < cur.n; i++) ok = split_piece(re, md, text, cur.items[i], &next);
        piece_list tmp = cur;
        cur = next;
        next = tmp;
    }
    for (size_t i = 0; ok && i < cur.n; i++) ok = sealm_bpe_encode_word(t, text + cur.items[i].off, cur.items[i].len, out);
    pcre2_match_data_free(md);
    free(cur.items);
    free(next.items);
    return ok;
}
