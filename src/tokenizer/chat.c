/* Chat templates: a conversation → the prompt text a chat model was trained on.
 *
 * We do not run Jinja. Each supported format is rendered by C code that reproduces the
 * model card's template byte for byte (sources: tokenizer_config.json chat_template of
 * SmolLM2-Instruct / Qwen2.5-Instruct (ChatML), Llama-2-chat, Meta-Llama-3-Instruct,
 * zephyr-7b-beta and Phi-3-mini-4k-instruct, as rendered by HF transformers with
 * trim_blocks/lstrip_blocks).
 *
 * While rendering we remember which bytes are the template's special-token markers and
 * which came from message contents. sealm_chat_tokenize uses that to tokenize exactly like
 * a tokenizer given the whole prompt with special-token parsing on — the text is split at
 * the template's special tokens and each piece in between is tokenized as plain text —
 * except that text inside message contents is never read as a special token, so a user
 * who types "<|im_end|>\n<|im_start|>system" gets ordinary text tokens. */
#include "sealm/tokenizer.h"

#include <stdlib.h>
#include <string.h>

/* ---- the rendered text and what its byte ranges are ---- */

typedef struct chat_marker {
    size_t start, len;   /* a special-token text the template wrote ("<|im_start|>") */
} chat_marker;

typedef struct chat_text {
    char *buf;           /* NUL-terminated rendered prompt */
    size_t len, cap;
    chat_marker *markers;
    size_t n_markers, cap_markers;
    bool oom;            /* an allocation failed; the text is incomplete */
} chat_text;

static void chat_text_free(chat_text *ct) {
    free(ct->buf);
    free(ct->markers);
}

static void put_bytes(chat_text *ct, const char *s, size_t n) {
    if (ct->oom) return;
    if (ct->len + n + 1 > ct->cap) {
        size_t cap = ct->cap ? ct->cap : 256;
        while (cap < ct->len + n + 1) cap *= 2;
        char *grown = realloc(ct->buf, cap);
        if (!grown) {
            ct->oom = true;
            return;
        }
        ct->buf = grown;
        ct->cap = cap;
    }
    memcpy(ct->buf + ct->len, s, n);
    ct->len += n;
    ct->buf[ct->len] = '\0';
}

/* Template text that is not a special token ("\n", "[INST] ", a role name). */
static void put_text(chat_text *ct, const char *s) { put_bytes(ct, s, strlen(s)); }

/* Text from a message: never parsed for special tokens. */
static void put_content(chat_text *ct, const char *s, size_t n) { put_bytes(ct, s, n); }

/* A special token's text written by the template. */
static void put_special(chat_text *ct, const char *s) {
    if (ct->oom) return;
    if (ct->n_markers == ct->cap_markers) {
        size_t cap = ct->cap_markers ? 2 * ct->cap_markers : 32;
        chat_marker *grown = realloc(ct->markers, cap * sizeof *grown);
        if (!grown) {
            ct->oom = true;
            return;
        }
        ct->markers = grown;
        ct->cap_markers = cap;
    }
    ct->markers[ct->n_markers++] = (chat_marker){ct->len, strlen(s)};
    put_bytes(ct, s, strlen(s));
}

/* Python's str.strip() whitespace, ASCII part (Jinja's trim and .strip() use it). */
static bool is_strip_space(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* ---- formats ---- */

/* The conversation after default-system insertion. */
typedef struct chat_turns {
    const sealm_chat_message *msgs;
    size_t n;
} chat_turns;

static bool is_role(const sealm_chat_message *m, const char *role) { return strcmp(m->role, role) == 0; }

/* ChatML: <|im_start|>{role}\n{content}<|im_end|>\n per message. */
static sealm_status render_chatml(chat_text *ct, chat_turns c, bool add_gen, sealm_error *err) {
    (void)err;
    for (size_t i = 0; i < c.n; i++) {
        put_special(ct, "<|im_start|>");
        put_text(ct, c.msgs[i].role);
        put_text(ct, "\n");
        put_content(ct, c.msgs[i].content, strlen(c.msgs[i].content));
        put_special(ct, "<|im_end|>");
        put_text(ct, "\n");
    }
    if (add_gen) {
        put_special(ct, "<|im_start|>");
        put_text(ct, "assistant\n");
    }
    return SEALM_OK;
}

/* A piece of a Llama-2 turn before .strip(): template text or message content. */
typedef struct strip_piece {
    const char *text;
    size_t len;
    bool is_content;
} strip_piece;

/* Writes the concatenation of pieces with surrounding whitespace removed from the whole
 * (as the template's content.strip() does), keeping each piece's kind. */
static void put_stripped(chat_text *ct, const strip_piece *pieces, size_t n) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += pieces[i].len;
    size_t lo = 0, hi = total;
    /* Locate the first and last non-space byte across piece boundaries. */
    for (size_t i = 0, at = 0; i < n && lo == at; i++) {
        size_t j = 0;
        while (j < pieces[i].len && is_strip_space((unsigned char)pieces[i].text[j])) j++;
        lo = at + j;
        at += pieces[i].len;
    }
    if (lo == total) return;   /* all whitespace */
    for (size_t i = n, at = total; i-- > 0 && hi == at;) {
        size_t j = pieces[i].len;
        while (j > 0 && is_strip_space((unsigned char)pieces[i].text[j - 1])) j--;
        hi = at - pieces[i].len + j;
        at -= pieces[i].len;
    }
    for (size_t i = 0, at = 0; i < n; at += pieces[i].len, i++) {
        size_t from = lo > at ? lo - at : 0;
        size_t to = hi < at + pieces[i].len ? (hi > at ? hi - at : 0) : pieces[i].len;
        if (from >= to) continue;
        if (pieces[i].is_content) put_content(ct, pieces[i].text + from, to - from);
        else put_bytes(ct, pieces[i].text + from, to - from);
    }
}

/* Llama-2 chat: <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s>
 * <s>[INST] {user} [/INST] ... Turns must alternate user/assistant (the template raises an
 * exception otherwise). The "generation prompt" is the " [/INST]" every user turn ends with. */
static sealm_status render_llama2(chat_text *ct, chat_turns c, bool add_gen, sealm_error *err) {
    (void)add_gen;
    const char *system = NULL;
    if (c.n > 0 && is_role(&c.msgs[0], "system")) {
        system = c.msgs[0].content;
        c.msgs++;
        c.n--;
    }
    for (size_t i = 0; i < c.n; i++) {
        const sealm_chat_message *m = &c.msgs[i];
        bool want_user = i % 2 == 0;
        if (is_role(m, "user") != want_user || is_role(m, "system"))
            return sealm_error_set(err, SEALM_E_INVALID,
                                   "chat template llama2: message %zu has role \"%s\"; after an optional "
                                   "first system message, roles must alternate user/assistant starting "
                                   "with user", i + (system ? 1 : 0), m->role);
        strip_piece pieces[4];
        size_t n_pieces = 0;
        if (i == 0 && system) {
            pieces[n_pieces++] = (strip_piece){"<<SYS>>\n", 8, false};
            pieces[n_pieces++] = (strip_piece){system, strlen(system), true};
            pieces[n_pieces++] = (strip_piece){"\n<</SYS>>\n\n", 11, false};
        }
        pieces[n_pieces++] = (strip_piece){m->content, strlen(m->content), true};
        if (want_user) {
            put_special(ct, "<s>");
            put_text(ct, "[INST] ");
            put_stripped(ct, pieces, n_pieces);
            put_text(ct, " [/INST]");
        } else {
            put_text(ct, " ");
            put_stripped(ct, pieces, n_pieces);
            put_text(ct, " ");
            put_special(ct, "</s>");
        }
    }
    return SEALM_OK;
}

/* Llama-3 instruct: <|begin_of_text|> then <|start_header_id|>{role}<|end_header_id|>\n\n
 * {content | trim}<|eot_id|> per message. */
static sealm_status render_llama3(chat_text *ct, chat_turns c, bool add_gen, sealm_error *err) {
    (void)err;
    for (size_t i = 0; i < c.n; i++) {
        if (i == 0) put_special(ct, "<|begin_of_text|>");
        put_special(ct, "<|start_header_id|>");
        put_text(ct, c.msgs[i].role);
        put_special(ct, "<|end_header_id|>");
        put_text(ct, "\n\n");
        strip_piece content = {c.msgs[i].content, strlen(c.msgs[i].content), true};
        put_stripped(ct, &content, 1);
        put_special(ct, "<|eot_id|>");
    }
    if (add_gen) {
        put_special(ct, "<|start_header_id|>");
        put_text(ct, "assistant");
        put_special(ct, "<|end_header_id|>");
        put_text(ct, "\n\n");
    }
    return SEALM_OK;
}

static const char *role_tag(const sealm_chat_message *m) {
    if (is_role(m, "system")) return "<|system|>";
    if (is_role(m, "user")) return "<|user|>";
    return "<|assistant|>";
}

/* Zephyr: <|{role}|>\n{content}</s>\n per message; the generation prompt comes from inside
 * the template's loop, so an empty conversation gets none. */
static sealm_status render_zephyr(chat_text *ct, chat_turns c, bool add_gen, sealm_error *err) {
    (void)err;
    for (size_t i = 0; i < c.n; i++) {
        put_special(ct, role_tag(&c.msgs[i]));
        put_text(ct, "\n");
        put_content(ct, c.msgs[i].content, strlen(c.msgs[i].content));
        put_special(ct, "</s>");
        put_text(ct, "\n");
    }
    if (add_gen && c.n > 0) {
        put_special(ct, "<|assistant|>");
        put_text(ct, "\n");
    }
    return SEALM_OK;
}

/* Phi-3: <|{role}|>\n{content}<|end|>\n per message; then <|assistant|>\n, or the EOS
 * text <|endoftext|> when no generation prompt is asked for. */
static sealm_status render_phi3(chat_text *ct, chat_turns c, bool add_gen, sealm_error *err) {
    (void)err;
    for (size_t i = 0; i < c.n; i++) {
        put_special(ct, role_tag(&c.msgs[i]));
        put_text(ct, "\n");
        put_content(ct, c.msgs[i].content, strlen(c.msgs[i].content));
        put_special(ct, "<|end|>");
        put_text(ct, "\n");
    }
    if (add_gen) {
        put_special(ct, "<|assistant|>");
        put_text(ct, "\n");
    } else {
        put_special(ct, "<|endoftext|>");
    }
    return SEALM_OK;
}

/* Checks the messages, inserts the default system prompt, and renders in format f. */
static sealm_status render(sealm_chat_format f, const sealm_chat_message *msgs, size_t n, bool add_gen,
                           const char *default_system, chat_text *ct, sealm_error *err) {
    memset(ct, 0, sizeof *ct);
    if (n > 0 && !msgs) return sealm_error_set(err, SEALM_E_INVALID, "chat template: %zu messages announced but none given", n);
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].role || !msgs[i].content)
            return sealm_error_set(err, SEALM_E_INVALID, "chat template: message %zu has no role or no content", i);
        if (!is_role(&msgs[i], "system") && !is_role(&msgs[i], "user") && !is_role(&msgs[i], "assistant"))
            return sealm_error_set(err, SEALM_E_INVALID,
                                   "chat template: message %zu has unknown role \"%.32s\"; use system, user or assistant",
                                   i, msgs[i].role);
    }

    /* As the models' templates do: a default system prompt goes first unless the
     * conversation already starts with a system message. */
    sealm_chat_message *with_system = NULL;
    chat_turns turns = {msgs, n};
    if (default_system && (n == 0 || !is_role(&msgs[0], "system"))) {
        with_system = malloc((n + 1) * sizeof *with_system);
        if (!with_system) return sealm_error_set(err, SEALM_E_NOMEM, "chat template: out of memory");
        with_system[0] = (sealm_chat_message){"system", default_system};
        if (n > 0) memcpy(with_system + 1, msgs, n * sizeof *msgs);
        turns = (chat_turns){with_system, n + 1};
    }

    sealm_status st;
    switch (f) {
    case SEALM_CHAT_CHATML: st = render_chatml(ct, turns, add_gen, err); break;
    case SEALM_CHAT_LLAMA2: st = render_llama2(ct, turns, add_gen, err); break;
    case SEALM_CHAT_LLAMA3: st = render_llama3(ct, turns, add_gen, err); break;
    case SEALM_CHAT_ZEPHYR: st = render_zephyr(ct, turns, add_gen, err); break;
    case SEALM_CHAT_PHI3: st = render_phi3(ct, turns, add_gen, err); break;
    default:
        st = sealm_error_set(err, SEALM_E_INVALID,
                             "chat template: unknown format; name one of chatml, llama2, llama3, zephyr, phi3");
    }
    free(with_system);
    if (st == SEALM_OK && !ct->oom && !ct->buf) put_bytes(ct, "", 0);   /* empty prompt: still a string */
    if (st == SEALM_OK && ct->oom) st = sealm_error_set(err, SEALM_E_NOMEM, "chat template: out of memory");
    if (st != SEALM_OK) {
        chat_text_free(ct);
        memset(ct, 0, sizeof *ct);
    }
    return st;
}

sealm_status sealm_chat_render(sealm_chat_format f, const sealm_chat_message *msgs, size_t n,
                               bool add_generation_prompt, const char *default_system, char **out,
                               sealm_error *err) {
    if (!out) return sealm_error_set(err, SEALM_E_INVALID, "chat template: no output pointer given");
    *out = NULL;
    chat_text ct;
    sealm_status st = render(f, msgs, n, add_generation_prompt, default_system, &ct, err);
    if (st != SEALM_OK) return st;
    free(ct.markers);
    *out = ct.buf;
    return SEALM_OK;
}

/* ---- tokenizing a rendered conversation ---- */

typedef struct id_list {
    int32_t *ids;
    size_t n, cap;
} id_list;

static bool id_list_reserve(id_list *l, size_t more) {
    if (l->n + more <= l->cap) return true;
    size_t cap = l->cap ? l->cap : 256;
    while (cap < l->n + more) {
        if (cap > SIZE_MAX / 2 / sizeof *l->ids) return false;
        cap *= 2;
    }
    int32_t *grown = realloc(l->ids, cap * sizeof *grown);
    if (!grown) return false;
    l->ids = grown;
    l->cap = cap;
    return true;
}

/* Tokenizes text[0..len) as plain text (special tokens not parsed) onto the list. */
static sealm_status append_plain(const sealm_tokenizer *t, const char *text, size_t len, id_list *l,
                                 sealm_error *err) {
    if (len == 0) return SEALM_OK;
    size_t guess = len + 8, needed = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!id_list_reserve(l, guess)) return sealm_error_set(err, SEALM_E_NOMEM, "chat template: out of memory");
        sealm_status st = sealm_tokenize(t, text, len, false, false, l->ids + l->n, l->cap - l->n, &needed, err);
        if (st == SEALM_OK) {
            l->n += needed;
            return SEALM_OK;
        }
        if (st != SEALM_E_INVALID || needed <= l->cap - l->n) return st;
        guess = needed;   /* too small: the tokenizer said how many it needs */
    }
    return sealm_error_set(err, SEALM_E_INVALID, "chat template: the tokenizer kept asking for more room");
}

sealm_status sealm_chat_tokenize(const sealm_tokenizer *t, sealm_chat_format f, const sealm_chat_message *msgs,
                                 size_t n, bool add_generation_prompt, const char *default_system, int32_t **out,
                                 size_t *n_out, sealm_error *err) {
    if (!t || !out || !n_out) return sealm_error_set(err, SEALM_E_INVALID, "chat template: no tokenizer or output given");
    *out = NULL;
    *n_out = 0;
    chat_text ct;
    sealm_status st = render(f, msgs, n, add_generation_prompt, default_system, &ct, err);
    if (st != SEALM_OK) return st;

    /* Split at the template's special tokens; the text between two of them (template
     * text and contents together, as a tokenizer with special parsing would see it) is
     * tokenized as plain text. A marker the vocabulary lacks stays plain text too, as it
     * would with special parsing. */
    id_list l = {0};
    size_t from = 0;
    for (size_t k = 0; k < ct.n_markers && st == SEALM_OK; k++) {
        const chat_marker *mk = &ct.markers[k];
        char saved = ct.buf[mk->start + mk->len];
        ct.buf[mk->start + mk->len] = '\0';
        int32_t id = sealm_tokenizer_find(t, ct.buf + mk->start);
        ct.buf[mk->start + mk->len] = saved;
        if (id < 0) continue;
        st = append_plain(t, ct.buf + from, mk->start - from, &l, err);
        if (st == SEALM_OK && !id_list_reserve(&l, 1)) st = sealm_error_set(err, SEALM_E_NOMEM, "chat template: out of memory");
        if (st == SEALM_OK) l.ids[l.n++] = id;
        from = mk->start + mk->len;
    }
    if (st == SEALM_OK) st = append_plain(t, ct.buf + from, ct.len - from, &l, err);

    /* BOS, unless the template already wrote it (Llama-2's <s>, Llama-3's <|begin_of_text|>). */
    int32_t bos = sealm_tokenizer_bos(t);
    if (st == SEALM_OK && sealm_tokenizer_add_bos(t) && bos >= 0 && (l.n == 0 || l.ids[0] != bos)) {
        if (!id_list_reserve(&l, 1)) {
            st = sealm_error_set(err, SEALM_E_NOMEM, "chat template: out of memory");
        } else {
            memmove(l.ids + 1, l.ids, l.n * sizeof *l.ids);
            l.ids[0] = bos;
            l.n++;
        }
    }
    chat_text_free(&ct);
    if (st != SEALM_OK) {
        free(l.ids);
        return st;
    }
    if (!l.ids) l.ids = malloc(sizeof *l.ids);   /* an empty result is still a valid pointer */
    if (!l.ids) return sealm_error_set(err, SEALM_E_NOMEM, "chat template: out of memory");
    *out = l.ids;
    *n_out = l.n;
    return SEALM_OK;
}

/* ---- naming and detection ---- */

static const struct {
    sealm_chat_format format;
    const char *name;
} FORMAT_NAMES[] = {
    {SEALM_CHAT_CHATML, "chatml"}, {SEALM_CHAT_LLAMA2, "llama2"}, {SEALM_CHAT_LLAMA3, "llama3"},
    {SEALM_CHAT_ZEPHYR, "zephyr"}, {SEALM_CHAT_PHI3, "phi3"},
};

sealm_chat_format sealm_chat_format_from_name(const char *name) {
    if (!name) return SEALM_CHAT_UNKNOWN;
    for (size_t i = 0; i < sizeof FORMAT_NAMES / sizeof FORMAT_NAMES[0]; i++)
        if (strcmp(name, FORMAT_NAMES[i].name) == 0) return FORMAT_NAMES[i].format;
    return SEALM_CHAT_UNKNOWN;
}

const char *sealm_chat_format_name(sealm_chat_format f) {
    for (size_t i = 0; i < sizeof FORMAT_NAMES / sizeof FORMAT_NAMES[0]; i++)
        if (FORMAT_NAMES[i].format == f) return FORMAT_NAMES[i].name;
    return "unknown";
}

static bool contains(const char *hay, size_t len, const char *needle) {
    return memmem(hay, len, needle, strlen(needle)) != NULL;
}

sealm_chat_format sealm_chat_format_detect(const char *jinja, size_t len) {
    if (!jinja) return SEALM_CHAT_UNKNOWN;
    /* Most specific markers first: Phi-3 templates also mention eos_token. */
    if (contains(jinja, len, "<|im_start|>")) return SEALM_CHAT_CHATML;
    if (contains(jinja, len, "<|start_header_id|>")) return SEALM_CHAT_LLAMA3;
    if (contains(jinja, len, "[INST]")) return SEALM_CHAT_LLAMA2;
    if (contains(jinja, len, "<|user|>")) {
        if (contains(jinja, len, "<|end|>")) return SEALM_CHAT_PHI3;
        if (contains(jinja, len, "eos_token") || contains(jinja, len, "</s>")) return SEALM_CHAT_ZEPHYR;
    }
    return SEALM_CHAT_UNKNOWN;
}

/* If a Jinja string literal runs on unbroken from p to the next <|im_end|>, copies it out
 * with its escapes (\n, \t, \', \", \\) undone; NULL otherwise. */
static char *literal_until_im_end(const char *p, const char *end) {
    static const char IM_END[] = "<|im_end|>";
    const char *stop = memmem(p, (size_t)(end - p), IM_END, sizeof IM_END - 1);
    if (!stop || stop == p) return NULL;
    char *out = malloc((size_t)(stop - p) + 1);
    if (!out) return NULL;
    size_t n = 0;
    for (const char *q = p; q < stop; q++) {
        char c = *q;
        /* A bare quote ends the literal, and a Jinja tag means it has ended already: the
         * system text then comes from a variable, not from the template. */
        if (c == '\'' || c == '"' || (c == '{' && q + 1 < stop && (q[1] == '{' || q[1] == '%'))) {
            free(out);
            return NULL;
        }
        if (c == '\\' && q + 1 < stop) {
            q++;
            c = *q == 'n' ? '\n' : *q == 't' ? '\t' : *q == 'r' ? '\r' : *q;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return out;
}

char *sealm_chat_default_system(const char *jinja, size_t len) {
    if (!jinja) return NULL;
    static const char HEAD[] = "<|im_start|>system";
    const char *end = jinja + len, *p = jinja;
    while ((p = memmem(p, (size_t)(end - p), HEAD, sizeof HEAD - 1)) != NULL) {
        p += sizeof HEAD - 1;
        /* The newline after the role: a real one (GGUF text) or the escape \n (JSON/Jinja). */
        const char *body = NULL;
        if (p < end && *p == '\n') body = p + 1;
        else if (end - p >= 2 && p[0] == '\\' && p[1] == 'n') body = p + 2;
        if (!body) continue;
        char *text = literal_until_im_end(body, end);
        if (text) return text;
    }
    return NULL;
}
