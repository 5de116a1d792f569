/* sealmd front — API keys and rate limits.
 *
 * The config holds only SHA-256(key): API keys are long random secrets, so a fast hash is
 * enough (there is nothing to brute-force), and a leaked config does not leak keys. The
 * presented key is hashed and compared with sodium_memcmp against every configured hash, so
 * the time taken does not depend on how many leading bytes matched.
 *
 * Rate limits are token buckets (capacity = the per-minute figure, refilled continuously):
 * one for requests, one for model tokens (prompt + completion, charged when a request ends,
 * so the bucket may go negative and then blocks until refilled). The quota is a fixed window
 * of quota_period_seconds. */
#include "server/front.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

struct front_bucket_state {
    char id[64];
    double req_level, req_t;       /* requests bucket: tokens left, last refill (seconds) */
    double tok_level, tok_t;       /* model-tokens bucket */
    bool started;
    double window_start;           /* quota window */
    int64_t window_used;
};

void front_auth_hash_text(const char *key, char out[72])
{
    uint8_t h[32];
    crypto_hash_sha256(h, (const unsigned char *)key, strlen(key));
    memcpy(out, "sha256:", 7);
    sodium_bin2hex(out + 7, 65, h, sizeof h);
    sodium_memzero(h, sizeof h);
}

static sealm_status make_state(front_key *keys, size_t n, const front_auth *old, front_bucket_state **out,
                               sealm_error *err)
{
    front_bucket_state *s = calloc(n ? n : 1, sizeof *s);
    if (!s)
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        strcpy(s[i].id, keys[i].id);
        /* A reload must not hand a throttled client a fresh allowance. */
        for (size_t j = 0; old && j < old->n_keys; j++)
            if (strcmp(old->state[j].id, keys[i].id) == 0)
                s[i] = old->state[j];
    }
    *out = s;
    return SEALM_OK;
}

sealm_status front_auth_init(front_auth *a, front_key *keys, size_t n, sealm_error *err)
{
    memset(a, 0, sizeof *a);
    sealm_status st = make_state(keys, n, NULL, &a->state, err);
    if (st)
        return st;
    pthread_mutex_init(&a->lock, NULL);
    a->keys = keys;
    a->n_keys = n;
    return SEALM_OK;
}

sealm_status front_auth_replace(front_auth *a, front_key *keys, size_t n, sealm_error *err)
{
    pthread_mutex_lock(&a->lock);
    front_bucket_state *s = NULL;
    sealm_status st = make_state(keys, n, a, &s, err);
    if (!st) {
        front_keys_free(a->keys, a->n_keys);
        free(a->state);
        a->keys = keys;
        a->n_keys = n;
        a->state = s;
    }
    pthread_mutex_unlock(&a->lock);
    return st;
}

void front_auth_free(front_auth *a)
{
    front_keys_free(a->keys, a->n_keys);
    free(a->state);
    pthread_mutex_destroy(&a->lock);
    memset(a, 0, sizeof *a);
}

static void copy_key(const front_key *src, front_key *dst)
{
    /* The copy borrows the model list only while the lock is held, so copy it by value into
     * a caller-owned flat form: the id and scopes are what callers need. */
    *dst = *src;
    dst->models = NULL;
    dst->n_models = 0;
    size_t n = src->n_models;
    char **m = calloc(n, sizeof *m);
    if (!m)
        return;
    for (size_t i = 0; i < n; i++)
        if (!(m[i] = strdup(src->models[i])))
            break;
        else
            dst->n_models = i + 1;
    dst->models = m;
}

front_auth_result front_auth_check(front_auth *a, const char *authorization, front_key *key_out)
{
    memset(key_out, 0, sizeof *key_out);
    if (!authorization)
        return AUTH_MISSING;
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return AUTH_BAD;
    const char *key = authorization + 7;
    while (*key == ' ')
        key++;
    if (!*key)
        return AUTH_MISSING;
    uint8_t h[32];
    crypto_hash_sha256(h, (const unsigned char *)key, strlen(key));
    front_auth_result r = AUTH_BAD;
    pthread_mutex_lock(&a->lock);
    /* Compare against every key without stopping early: timing reveals nothing about which
     * key (if any) matched. */
    size_t match = SIZE_MAX;
    for (size_t i = 0; i < a->n_keys; i++)
        if (sodium_memcmp(h, a->keys[i].hash, sizeof h) == 0)
            match = i;
    if (match != SIZE_MAX) {
        copy_key(&a->keys[match], key_out);
        r = AUTH_OK;
    }
    pthread_mutex_unlock(&a->lock);
    sodium_memzero(h, sizeof h);
    return r;
}

bool front_auth_model_allowed(const front_key *key, const char *model_id)
{
    for (size_t i = 0; i < key->n_models; i++)
        if (strcmp(key->models[i], "*") == 0 || strcmp(key->models[i], model_id) == 0)
            return true;
    return false;
}

static void refill(double *level, double *t, double per_minute, double now)
{
    *level = fmin(per_minute, *level + (now - *t) * per_minute / 60.0);
    *t = now;
}

static void start(front_bucket_state *s, const front_key *k, double now)
{
    if (s->started)
        return;
    s->started = true;
    s->req_level = k->requests_per_minute;
    s->tok_level = k->tokens_per_minute;
    s->req_t = s->tok_t = s->window_start = now;
}

static ssize_t find(front_auth *a, const char *key_id)
{
    for (size_t i = 0; i < a->n_keys; i++)
        if (strcmp(a->keys[i].id, key_id) == 0)
            return (ssize_t)i;
    return -1;
}

bool front_auth_admit(front_auth *a, const char *key_id, double now, double *retry_after, const char **reason)
{
    bool ok = true;
    *retry_after = 0;
    *reason = NULL;
    pthread_mutex_lock(&a->lock);
    ssize_t i = find(a, key_id);
    if (i < 0) {   /* revoked between check and admit */
        pthread_mutex_unlock(&a->lock);
        *reason = "revoked";
        *retry_after = 1;
        return false;
    }
    front_key *k = &a->keys[i];
    front_bucket_state *s = &a->state[i];
    start(s, k, now);
    if (k->quota_tokens > 0) {
        if (now - s->window_start >= (double)k->quota_period_s) {
            s->window_start = now;
            s->window_used = 0;
        }
        if (s->window_used >= k->quota_tokens) {
            ok = false;
            *reason = "quota";
            *retry_after = s->window_start + (double)k->quota_period_s - now;
        }
    }
    if (ok && k->tokens_per_minute > 0) {
        refill(&s->tok_level, &s->tok_t, k->tokens_per_minute, now);
        if (s->tok_level < 1) {
            ok = false;
            *reason = "tokens_per_minute";
            *retry_after = (1 - s->tok_level) * 60.0 / k->tokens_per_minute;
        }
    }
    if (ok && k->requests_per_minute > 0) {
        refill(&s->req_level, &s->req_t, k->requests_per_minute, now);
        if (s->req_level < 1) {
            ok = false;
            *reason = "requests_per_minute";
            *retry_after = (1 - s->req_level) * 60.0 / k->requests_per_minute;
        } else {
            s->req_level -= 1;
        }
    }
    pthread_mutex_unlock(&a->lock);
    if (!ok)
        *retry_after = fmax(1.0, ceil(*retry_after));
    return ok;
}

void front_auth_charge(front_auth *a, const char *key_id, double now, int64_t tokens)
{
    pthread_mutex_lock(&a->lock);
    ssize_t i = find(a, key_id);
    if (i >= 0) {
        front_key *k = &a->keys[i];
        front_bucket_state *s = &a->state[i];
        start(s, k, now);
        if (k->tokens_per_minute > 0) {
            refill(&s->tok_level, &s->tok_t, k->tokens_per_minute, now);
            s->tok_level -= (double)tokens;
        }
        s->window_used += tokens;
    }
    pthread_mutex_unlock(&a->lock);
}

void front_key_release(front_key *k)
{
    for (size_t i = 0; i < k->n_models; i++)
        free(k->models[i]);
    free(k->models);
    memset(k, 0, sizeof *k);
}
