/* Streaming stop-string matcher.
 *
 * Generated text arrives in pieces (one token's bytes at a time), and a stop string can
 * straddle pieces ("He" + "llo" with stop "llo"). The matcher keeps back the longest tail
 * of the text that is still the beginning of some stop string and releases everything
 * before it: released text can never turn out to be part of a stop. Once a stop string
 * is complete, the text before it is released, the rest is dropped, and the matcher stays
 * stopped (later pushes release nothing and report the stop again). */
#include "sealm/sample.h"

#include <stdlib.h>
#include <string.h>

struct sealm_stop_matcher {
    char **stops;
    size_t *stop_lens;
    size_t n_stops;
    char *buf;          /* held-back text, preceded by the bytes released last time */
    size_t len, cap;
    size_t released;    /* bytes at the front of buf handed out by the previous call */
    bool stopped;
};

void sealm_stop_matcher_free(sealm_stop_matcher *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n_stops; i++) free(m->stops[i]);
    free(m->stops);
    free(m->stop_lens);
    free(m->buf);
    free(m);
}

sealm_status sealm_stop_matcher_new(const char *const *stops, size_t n_stops, sealm_stop_matcher **out,
                                    sealm_error *err) {
    if (!out) return sealm_error_set(err, SEALM_E_INVALID, "stop strings: no output pointer given");
    *out = NULL;
    if (n_stops > 0 && !stops)
        return sealm_error_set(err, SEALM_E_INVALID, "stop strings: %zu stop strings announced but none given",
                               n_stops);
    for (size_t i = 0; i < n_stops; i++) {
        /* An empty stop would match before the first byte and end every generation at once. */
        if (!stops[i] || stops[i][0] == '\0')
            return sealm_error_set(err, SEALM_E_INVALID,
                                   "stop strings: stop string %zu is empty or missing; remove it", i);
    }
    sealm_stop_matcher *m = calloc(1, sizeof *m);
    if (!m) return sealm_error_set(err, SEALM_E_NOMEM, "stop strings: out of memory");
    if (n_stops > 0) {
        m->stops = calloc(n_stops, sizeof *m->stops);
        m->stop_lens = calloc(n_stops, sizeof *m->stop_lens);
        if (!m->stops || !m->stop_lens) {
            sealm_stop_matcher_free(m);
            return sealm_error_set(err, SEALM_E_NOMEM, "stop strings: out of memory");
        }
        m->n_stops = n_stops;
        for (size_t i = 0; i < n_stops; i++) {
            m->stops[i] = strdup(stops[i]);
            if (!m->stops[i]) {
                sealm_stop_matcher_free(m);
                return sealm_error_set(err, SEALM_E_NOMEM, "stop strings: out of memory");
            }
            m->stop_lens[i] = strlen(stops[i]);
        }
    }
    *out = m;
    return SEALM_OK;
}

/* Drops the bytes released by the previous call: the caller is done with them. */
static void forget_released(sealm_stop_matcher *m) {
    if (m->released == 0) return;
    memmove(m->buf, m->buf + m->released, m->len - m->released);
    m->len -= m->released;
    m->released = 0;
}

static bool append(sealm_stop_matcher *m, const char *text, size_t len) {
    if (len > SIZE_MAX / 2 - m->len) return false;
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap : 64;
        while (cap < m->len + len) cap *= 2;
        char *grown = realloc(m->buf, cap);
        if (!grown) return false;
        m->buf = grown;
        m->cap = cap;
    }
    memcpy(m->buf + m->len, text, len);
    m->len += len;
    return true;
}

/* Start of the earliest complete stop string in buf, or len when there is none. */
static size_t earliest_stop(const sealm_stop_matcher *m) {
    size_t best = m->len;
    for (size_t s = 0; s < m->n_stops; s++) {
        size_t sl = m->stop_lens[s];
        for (size_t i = 0; i + sl <= m->len && i < best; i++) {
            if (memcmp(m->buf + i, m->stops[s], sl) == 0) {
                best = i;
                break;
            }
        }
    }
    return best;
}

/* Length of the longest tail of buf that is a proper beginning of some stop string. */
static size_t partial_stop_tail(const sealm_stop_matcher *m) {
    size_t longest = 0;
    for (size_t s = 0; s < m->n_stops; s++) {
        size_t sl = m->stop_lens[s];
        size_t most = sl - 1 < m->len ? sl - 1 : m->len;
        for (size_t tail = most; tail > longest; tail--) {
            if (memcmp(m->buf + m->len - tail, m->stops[s], tail) == 0) {
                longest = tail;
                break;
            }
        }
    }
    return longest;
}

bool sealm_stop_matcher_push(sealm_stop_matcher *m, const char *text, size_t len, const char **released,
                             size_t *n_released) {
    *released = "";
    *n_released = 0;
    if (!m) return false;
    if (m->stopped) return true;
    forget_released(m);
    if (len > 0 && text && !append(m, text, len)) {
        /* Out of memory: the text cannot be checked, so end here as if a stop had matched,
         * releasing what was held (never text that might hold a stop, nothing out of order). */
        m->stopped = true;
        *released = m->buf ? m->buf : "";
        *n_released = m->len;
        m->released = m->len;
        return true;
    }
    size_t stop_at = earliest_stop(m);
    if (stop_at < m->len) {
        m->stopped = true;
        *released = m->buf;
        *n_released = stop_at;
        m->released = m->len;   /* everything goes on the next call */
        return true;
    }
    m->released = m->len - partial_stop_tail(m);
    *released = m->buf;
    *n_released = m->released;
    return false;
}

void sealm_stop_matcher_flush(sealm_stop_matcher *m, const char **released, size_t *n_released) {
    *released = "";
    *n_released = 0;
    if (!m || m->stopped) return;
    forget_released(m);
    *released = m->buf ? m->buf : "";
    *n_released = m->len;
    m->released = m->len;
}
