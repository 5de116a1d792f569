/* bench/conll_persons.h — WNUT17 sentences (CoNLL: one "token<TAB>tag" per line) and their
 * person spans, shared by the guard benchmarks (guard_eval.c, pii_slm_eval.c).
 *
 * A sentence is its tokens joined by single spaces; gold persons are the B-person/I-person
 * runs, as byte spans of that text. Sentences end at a blank line or at a line with an empty
 * token (the training file separates many of its sentences with a lone tab). */
#ifndef SEALM_BENCH_CONLL_PERSONS_H
#define SEALM_BENCH_CONLL_PERSONS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

enum { CONLL_MAX_PERSONS = 64, CONLL_MAX_TEXT = 8192 };

typedef struct conll_person {
    size_t start, end;   /* bytes of the sentence text */
} conll_person;

/* Called once per sentence (text is not NUL-terminated); return false to stop reading. */
typedef bool (*conll_sentence_fn)(void *ctx, const char *text, size_t len, const conll_person *persons, size_t n);

/* Reads path and hands every sentence to fn. Returns false when the file cannot be opened.
 * Tokens that would overflow CONLL_MAX_TEXT bytes and persons past CONLL_MAX_PERSONS are
 * dropped (no WNUT17 sentence comes near either). */
static inline bool conll_read_persons(const char *path, conll_sentence_fn fn, void *ctx) {
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char *line = NULL, text[CONLL_MAX_TEXT];
    size_t cap = 0, len = 0, n = 0;
    conll_person persons[CONLL_MAX_PERSONS];
    bool in_person = false;
    for (;;) {
        ssize_t got = getline(&line, &cap, f);
        if (got <= 0 || line[0] == '\n' || line[0] == '\r' || line[0] == '\t') {
            bool more = len == 0 || fn(ctx, text, len, persons, n);
            len = n = 0;
            in_person = false;
            if (got <= 0 || !more) break;
            continue;
        }
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = 0;
        char *tag = tab + 1;
        tag[strcspn(tag, "\r\n")] = 0;
        size_t tl = strlen(line);
        if (len + tl + 2 >= sizeof text) continue;
        if (len) text[len++] = ' ';
        size_t s0 = len;
        memcpy(text + len, line, tl);
        len += tl;
        if (strcmp(tag, "B-person") == 0 && n < CONLL_MAX_PERSONS) {
            persons[n++] = (conll_person){s0, len};
            in_person = true;
        } else if (strcmp(tag, "I-person") == 0 && in_person) {
            persons[n - 1].end = len;
        } else {
            in_person = false;
        }
    }
    free(line);
    fclose(f);
    return true;
}

#endif
