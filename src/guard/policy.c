/* The output policy file (sealm/guard.h, "output policy file"): denylist phrases and regexes,
 * each with an action. Phrases are matched caselessly with any whitespace run standing for
 * any whitespace run, which is what a model's reformatting changes; regexes are PCRE2. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "guard_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum { POLICY_MAX_FILE = 1 << 20 };

typedef struct policy_rule {
    sealm_guard_action action;
    bool regex;
    size_t max_match;     /* bytes a match can span (phrases); 0 for regexes */
    pcre2_code *code;
    bool jit;
} policy_rule;

struct sealm_guard_policy {
    policy_rule *rules;
    size_t n;
};

void sealm_guard_policy_free(sealm_guard_policy *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) pcre2_code_free(p->rules[i].code);
    free(p->rules);
    free(p);
}

size_t sealm_guard_policy_size(const sealm_guard_policy *p) { return p ? p->n : 0; }

size_t sealm_guard_policy_max_match(const sealm_guard_policy *p) {
    size_t m = 0;
    for (size_t i = 0; p && i < p->n; i++) {
        size_t k = p->rules[i].regex ? SEALM_GUARD_POLICY_MAX_MATCH : p->rules[i].max_match;
        if (k > m) m = k;
    }
    return m;
}

/* A phrase as a pattern: every byte quoted, whitespace runs → \s+. The longest match is
 * bounded by the phrase length plus slack for wider whitespace. */
static char *phrase_pattern(const char *s, size_t n, size_t *max_match) {
    char *o = malloc(n * 4 + 8);
    if (!o) return NULL;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        if (guard_is_space((unsigned char)s[i])) {
            while (i < n && guard_is_space((unsigned char)s[i])) i++;
            memcpy(o + w, "\\s+", 3);
            w += 3;
            continue;
        }
        unsigned char c = (unsigned char)s[i++];
        if (!guard_is_alnum(c) && c < 0x80) o[w++] = '\\';
        o[w++] = (char)c;
    }
    o[w] = 0;
    *max_match = n + 64;
    return o;
}

static char *copy_str(const char *s, size_t n) {
    char *o = malloc(n + 1);
    if (!o) return NULL;
    memcpy(o, s, n);
    o[n] = 0;
    return o;
}

static const char *word_end(const char *s, const char *e) {
    while (s < e && !guard_is_space((unsigned char)*s)) s++;
    return s;
}
static const char *skip_space(const char *s, const char *e) {
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    return s;
}
static bool word_is(const char *s, const char *e, const char *w) {
    size_t n = strlen(w);
    return (size_t)(e - s) == n && strncmp(s, w, n) == 0;
}

static sealm_status parse_line(sealm_guard_policy *p, const char *s, const char *e, size_t line_no, sealm_error *err) {
    while (e > s && guard_is_space((unsigned char)e[-1])) e--;
    s = skip_space(s, e);
    if (s == e || *s == '#') return SEALM_OK;
    const char *a_end = word_end(s, e);
    sealm_guard_action action;
    if (word_is(s, a_end, "detect")) action = SEALM_GUARD_DETECT;
    else if (word_is(s, a_end, "redact")) action = SEALM_GUARD_REDACT;
    else if (word_is(s, a_end, "block")) action = SEALM_GUARD_BLOCK;
    else
        return sealm_error_set(err, SEALM_E_FORMAT,
                               "policy line %zu: unknown action \"%.*s\"; use detect, redact or block", line_no,
                               (int)(a_end - s > 32 ? 32 : a_end - s), s);
    const char *t = skip_space(a_end, e), *t_end = word_end(t, e);
    bool regex;
    if (word_is(t, t_end, "phrase")) regex = false;
    else if (word_is(t, t_end, "regex")) regex = true;
    else
        return sealm_error_set(err, SEALM_E_FORMAT, "policy line %zu: unknown rule type \"%.*s\"; use phrase or regex",
                               line_no, (int)(t_end - t > 32 ? 32 : t_end - t), t);
    const char *v = skip_space(t_end, e);
    if (v == e)
        return sealm_error_set(err, SEALM_E_FORMAT, "policy line %zu: the %s is missing after \"%s\"", line_no,
                               regex ? "pattern" : "phrase", regex ? "regex" : "phrase");
    size_t max_match = 0;
    char *pat = regex ? copy_str(v, (size_t)(e - v)) : phrase_pattern(v, (size_t)(e - v), &max_match);
    if (!pat) return sealm_error_set(err, SEALM_E_NOMEM, "policy: out of memory");
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS | PCRE2_UTF, &code, &off, NULL);
    free(pat);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        return sealm_error_set(err, SEALM_E_FORMAT, "policy line %zu: the %s does not compile at offset %zu: %s",
                               line_no, regex ? "regex" : "phrase", (size_t)off, (const char *)msg);
    }
    policy_rule *r = realloc(p->rules, (p->n + 1) * sizeof *p->rules);
    if (!r) {
        pcre2_code_free(re);
        return sealm_error_set(err, SEALM_E_NOMEM, "policy: out of memory");
    }
    p->rules = r;
    p->rules[p->n++] = (policy_rule){
        .action = action, .regex = regex, .max_match = max_match, .code = re,
        .jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0,
    };
    return SEALM_OK;
}

sealm_status sealm_guard_policy_parse(const char *text, size_t len, sealm_guard_policy **out, sealm_error *err) {
    if (!out) return sealm_error_set(err, SEALM_E_INVALID, "policy: no output pointer given");
    *out = NULL;
    if (!text) len = 0;
    if (len && memchr(text, 0, len))
        return sealm_error_set(err, SEALM_E_FORMAT, "policy: the file contains a NUL byte; it must be UTF-8 text");
    size_t line_no = 1;
    for (size_t i = 0; i < len;) {   /* report the line of the first invalid UTF-8 byte */
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &c);
        if (k < 1)
            return sealm_error_set(err, SEALM_E_FORMAT, "policy line %zu: invalid UTF-8; save the file as UTF-8", line_no);
        if (c == '\n') line_no++;
        i += (size_t)k;
    }
    sealm_guard_policy *p = calloc(1, sizeof *p);
    if (!p) return sealm_error_set(err, SEALM_E_NOMEM, "policy: out of memory");
    line_no = 1;
    for (const char *s = text, *end = text + len; s < end; line_no++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *e = nl ? nl : end;
        sealm_status st = parse_line(p, s, e, line_no, err);
        if (st != SEALM_OK) {
            sealm_guard_policy_free(p);
            return st;
        }
        s = nl ? nl + 1 : end;
    }
    *out = p;
    return SEALM_OK;
}

sealm_status sealm_guard_policy_load(const char *path, sealm_guard_policy **out, sealm_error *err) {
    if (out) *out = NULL;
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) return sealm_error_set(err, SEALM_E_IO, "policy: cannot open %s: %s", path ? path : "(null)", strerror(errno));
    char *buf = malloc(POLICY_MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        return sealm_error_set(err, SEALM_E_NOMEM, "policy: out of memory");
    }
    size_t n = fread(buf, 1, POLICY_MAX_FILE + 1, f);
    bool bad = ferror(f);
    fclose(f);
    sealm_status st;
    if (bad) st = sealm_error_set(err, SEALM_E_IO, "policy: cannot read %s", path);
    else if (n > POLICY_MAX_FILE)
        st = sealm_error_set(err, SEALM_E_FORMAT, "policy: %s is larger than 1 MiB; split or shorten it", path);
    else st = sealm_guard_policy_parse(buf, n, out, err);
    free(buf);
    return st;
}

static const char *action_rule(sealm_guard_action a) {
    return a == SEALM_GUARD_BLOCK ? "policy.block" : a == SEALM_GUARD_REDACT ? "policy.redact" : "policy.detect";
}

/* Valid UTF-8 prefix length, so PCRE2 in UTF mode can skip its own check safely. */
static size_t valid_prefix(const char *text, size_t len) {
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &c);
        if (k < 1) break;
        i += (size_t)k;
    }
    return i;
}

sealm_status sealm_guard_policy_check(const sealm_guard_policy *p, const char *text, size_t len,
                                      sealm_guard_findings *out, sealm_guard_action *strongest, sealm_error *err) {
    if (strongest) *strongest = SEALM_GUARD_OFF;
    if (!p || !text || !len) return SEALM_OK;
    /* a stream's held text can end inside a character: match only the complete part */
    len = valid_prefix(text, len);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) return sealm_error_set(err, SEALM_E_NOMEM, "policy: out of memory");
    sealm_status st = SEALM_OK;
    for (size_t i = 0; i < p->n && st == SEALM_OK; i++) {
        const policy_rule *r = &p->rules[i];
        for (size_t at = 0; at <= len;) {
            int rc = r->jit ? pcre2_jit_match(r->code, (PCRE2_SPTR)text, len, at, PCRE2_NO_UTF_CHECK, md, NULL)
                            : pcre2_match(r->code, (PCRE2_SPTR)text, len, at, PCRE2_NO_UTF_CHECK, md, NULL);
            if (rc < 0) break;   /* 0: matched, groups beyond the ovector dropped */
            const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            if (strongest && r->action > *strongest) *strongest = r->action;
            if (out && ov[1] > ov[0]) {
                sealm_guard_finding f = {SEALM_GUARD_POLICY, ov[0], ov[1], 1.0f, action_rule(r->action)};
                st = sealm_guard_findings_push(out, f, err);
                if (st != SEALM_OK) break;
            }
            /* an empty match must still advance, by one whole character */
            at = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
            while (at < len && ((unsigned char)text[at] & 0xC0) == 0x80) at++;
        }
    }
    pcre2_match_data_free(md);
    return st;
}
