/* sealmd front — the output guard: the model's text passes three stages before a client sees
 * a byte of it, each holding back only what it must (docs/sealmd.md, "Guardrails"):
 *
 *   1. canary (sealm_guard_canary_stream): the raw text, held back only while its tail could
 *      still become the canary; a hit blocks at once, so no byte of the canary goes out;
 *   2. PII and the policy file (sealm_guard_stream): detect / redact / block PII, and the
 *      policy file's rules (block rules stop the output, redact rules become "[POLICY]",
 *      detect rules are counted), with the stream's bounded hold-back;
 *   3. re-personalization (with the model's "restore"): placeholders of the input vault that
 *      the model echoes are replaced by the user's own values, locally. It runs last, so a
 *      value that came back from the vault is never redacted again, and it maps back only
 *      the input's placeholders (a second vault holds those alone): a value the model made up
 *      and stage 2 redacted stays redacted.
 *
 * Blocking is the client's business too: the caller ends the answer with finish_reason
 * "content_filter" and cancels the generation. */
#include "server/front.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* Longest placeholder the restore stage waits for: "[" + kind name + "_" + number + "]". */
enum { PLACEHOLDER_MAX = 40 };

/* A growable byte buffer. */
typedef struct buf {
    char *p;
    size_t n, cap;
    bool failed;
} buf;

static void buf_add(buf *b, const char *s, size_t n)
{
    if (b->failed || n == 0)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *np = malloc(cap);
        if (!np) {
            b->failed = true;
            return;
        }
        if (b->p) {
            memcpy(np, b->p, b->n);
            sodium_memzero(b->p, b->cap);   /* model text may hold personal data */
            free(b->p);
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void buf_wipe(buf *b)
{
    if (b->p) {
        sodium_memzero(b->p, b->cap);
        free(b->p);
    }
    memset(b, 0, sizeof *b);
}

/* The policy file as the stream's check: block and redact rules go to the stream (it
 * replaces them by "[POLICY]"); a block rule also raises block_hit, and the caller drops what
 * the stream released in that push and stops. Detect rules are left out here (the stream
 * would redact them) and counted over the whole text at the end. */
typedef struct policy_ctx {
    const sealm_guard_policy *policy;
    bool block_hit;
} policy_ctx;

static sealm_status policy_check(void *ctx, const char *text, size_t len, sealm_guard_findings *out, sealm_error *err)
{
    policy_ctx *pc = ctx;
    sealm_guard_findings found = {0};
    sealm_status st = sealm_guard_policy_check(pc->policy, text, len, &found, NULL, err);
    for (size_t i = 0; !st && i < found.n; i++) {
        const char *rule = found.items[i].rule ? found.items[i].rule : "";
        if (strcmp(rule, "policy.detect") == 0)
            continue;
        if (strcmp(rule, "policy.block") == 0)
            pc->block_hit = true;
        st = sealm_guard_findings_push(out, found.items[i], err);
    }
    sealm_guard_findings_free(&found);
    return st;
}

struct front_guard_output {
    front_guard_request *g;              /* borrowed */
    const sealm_guard_policy *policy;    /* borrowed from the config */
    bool canary_on;
    sealm_guard_canary_stream canary;
    sealm_guard_stream *stream;          /* NULL: no PII or policy stage */
    policy_ctx pc;
    buf stage1;                          /* what the canary stage released in this call */
    buf raw;                             /* every byte the canary stage released (policy counts) */
    buf held;                            /* restore stage: text that may end in a placeholder */
    buf out;                             /* what the client gets from this call */
    size_t raw_released;
    bool blocked, finished;
    front_guard_report rep;
};

bool front_guard_output_rewrites(const front_guard_request *g)
{
    return g->policy.output_pii == SEALM_GUARD_REDACT || g->model->policy || g->model->restore;
}

sealm_status front_guard_output_new(front_guard_request *g, const front_config *cfg, front_guard_output **out,
                                    sealm_error *err)
{
    *out = NULL;
    const bool pii = g->policy.output_pii != SEALM_GUARD_OFF;
    if (!pii && !g->model->policy && !g->canary[0] && !g->model->restore)
        return SEALM_OK;
    front_guard_output *o = calloc(1, sizeof *o);
    if (!o)
        return sealm_error_set(err, SEALM_E_NOMEM, "out of memory");
    o->g = g;
    o->policy = g->model->policy;
    sealm_status st = SEALM_OK;
    if (g->canary[0]) {
        o->canary_on = true;
        st = sealm_guard_canary_stream_init(&o->canary, g->canary, err);
    }
    if (!st && (pii || o->policy)) {
        if (!g->vault)
            st = sealm_guard_vault_new(&g->vault, err);
        o->pc.policy = o->policy;
        sealm_guard_stream_config sc = {
            .pii = pii ? cfg->guard_pii : NULL,
            .pii_action = pii ? (sealm_guard_action)g->policy.output_pii : SEALM_GUARD_OFF,
            .vault = g->vault,
            .check = o->policy ? policy_check : NULL,
            .check_ctx = &o->pc,
            .check_max_match = o->policy ? sealm_guard_policy_max_match(o->policy) : 0,
            .check_action = SEALM_GUARD_REDACT,
        };
        if (!st)
            st = sealm_guard_stream_new(&sc, &o->stream, err);
    }
    if (st) {
        front_guard_output_free(o);
        return st;
    }
    *out = o;
    return SEALM_OK;
}

void front_guard_output_free(front_guard_output *o)
{
    if (!o)
        return;
    sealm_guard_stream_free(o->stream);
    buf_wipe(&o->stage1);
    buf_wipe(&o->raw);
    buf_wipe(&o->held);
    buf_wipe(&o->out);
    sodium_memzero(&o->canary, sizeof o->canary);
    free(o);
}

static void to_stage1(void *ctx, const char *bytes, size_t n)
{
    buf_add(&((front_guard_output *)ctx)->stage1, bytes, n);
}

static void block(front_guard_output *o, sealm_guard_kind kind)
{
    o->blocked = true;
    o->rep.blocked = true;
    o->rep.block_kind = kind;
    o->out.n = 0;
}

/* Stage 3: re-personalization with a hold-back of an unfinished "[...". */
static void restore_stage(front_guard_output *o, const char *text, size_t n, bool last)
{
    if (!o->g->restore) {
        buf_add(&o->out, text, n);
        return;
    }
    buf_add(&o->held, text, n);
    if (o->held.failed)
        return;
    size_t cut = o->held.n;
    if (!last) {
        /* Keep back from the last "[" that has no "]" after it, when it is recent enough to
         * still be the start of a placeholder. */
        for (size_t i = o->held.n; i > 0 && o->held.n - (i - 1) <= PLACEHOLDER_MAX; i--) {
            if (o->held.p[i - 1] == ']')
                break;
            if (o->held.p[i - 1] == '[') {
                cut = i - 1;
                break;
            }
        }
    }
    if (cut == 0)
        return;
    char *restored = NULL;
    size_t rn = 0;
    sealm_error err;
    if (sealm_guard_vault_restore(o->g->restore, o->held.p, cut, &restored, &rn, &err)) {
        o->out.failed = true;
        return;
    }
    buf_add(&o->out, restored, rn);
    sodium_memzero(restored, rn);
    free(restored);
    memmove(o->held.p, o->held.p + cut, o->held.n - cut);
    o->held.n -= cut;
}

/* Counts the stream's findings (PII and policy) once, at the end or at a block. */
static void count_findings(front_guard_output *o)
{
    if (o->stream) {
        const sealm_guard_findings *f = sealm_guard_stream_findings(o->stream);
        for (size_t i = 0; f && i < f->n; i++)
            if (f->items[i].kind != SEALM_GUARD_POLICY)
                o->rep.count[f->items[i].kind]++;
    }
    if (o->policy && o->raw.n) {
        sealm_guard_findings all = {0};
        sealm_error err;
        if (!sealm_guard_policy_check(o->policy, o->raw.p, o->raw.n, &all, NULL, &err))
            o->rep.count[SEALM_GUARD_POLICY] += (uint32_t)all.n;
        sealm_guard_findings_free(&all);
    }
}

/* Stages 2 and 3 over what stage 1 released; finish: end of the output. */
static void later_stages(front_guard_output *o, bool finish)
{
    const char *emit = o->stage1.p;
    size_t n_emit = o->stage1.n;
    if (o->stream) {
        bool blocked = false;
        sealm_error err;
        sealm_status st = sealm_guard_stream_push(o->stream, o->stage1.p ? o->stage1.p : "", o->stage1.n, &emit, &n_emit,
                                                  &blocked, &err);
        buf first = {0};
        if (!st && finish && !blocked && !o->pc.block_hit) {
            /* push's text is only valid until the next call: keep it before finishing. */
            buf_add(&first, emit, n_emit);
            const char *tail;
            size_t n_tail;
            st = sealm_guard_stream_finish(o->stream, &tail, &n_tail, &blocked, &err);
            buf_add(&first, tail, n_tail);
            emit = first.p;
            n_emit = first.n;
        }
        if (st || first.failed) {
            buf_wipe(&first);
            block(o, SEALM_GUARD_POLICY);   /* fail closed: a broken filter shows nothing more */
            return;
        }
        if (o->pc.block_hit || blocked) {
            sealm_guard_kind k = SEALM_GUARD_POLICY;
            const sealm_guard_findings *f = sealm_guard_stream_findings(o->stream);
            if (!o->pc.block_hit && f && f->n)
                k = f->items[f->n - 1].kind;
            buf_wipe(&first);
            block(o, k);
            return;
        }
        o->raw_released += n_emit;
        restore_stage(o, emit ? emit : "", n_emit, finish);
        buf_wipe(&first);
        return;
    }
    o->raw_released += n_emit;
    restore_stage(o, emit ? emit : "", n_emit, finish);
}

bool front_guard_output_push(front_guard_output *o, const char *text, size_t len, const char **out, size_t *n,
                             size_t *raw_released)
{
    double t0 = front_now();
    *out = "";
    *n = 0;
    o->stage1.n = 0;
    o->out.n = 0;
    if (!o->blocked && !o->finished) {
        if (o->canary_on) {
            if (sealm_guard_canary_stream_push(&o->canary, text, len, to_stage1, o)) {
                o->rep.count[SEALM_GUARD_CANARY]++;
                block(o, SEALM_GUARD_CANARY);
            }
        } else {
            buf_add(&o->stage1, text, len);
        }
        buf_add(&o->raw, o->stage1.p, o->stage1.n);
        if (!o->blocked)
            later_stages(o, false);
        if (o->stage1.failed || o->out.failed || o->held.failed)
            block(o, SEALM_GUARD_POLICY);
        if (o->blocked)
            count_findings(o);
    }
    o->rep.seconds += front_now() - t0;
    if (!o->blocked && o->out.n) {
        *out = o->out.p;
        *n = o->out.n;
    }
    *raw_released = o->raw_released;
    return o->blocked;
}

bool front_guard_output_finish(front_guard_output *o, const char **out, size_t *n, size_t *raw_released)
{
    double t0 = front_now();
    *out = "";
    *n = 0;
    o->stage1.n = 0;
    o->out.n = 0;
    if (!o->blocked && !o->finished) {
        o->finished = true;
        if (o->canary_on)
            sealm_guard_canary_stream_finish(&o->canary, to_stage1, o);
        buf_add(&o->raw, o->stage1.p, o->stage1.n);
        later_stages(o, true);
        if (o->stage1.failed || o->out.failed || o->held.failed)
            block(o, SEALM_GUARD_POLICY);
        count_findings(o);
    }
    o->rep.seconds += front_now() - t0;
    if (!o->blocked && o->out.n) {
        *out = o->out.p;
        *n = o->out.n;
    }
    *raw_released = o->raw_released;
    return o->blocked;
}

const front_guard_report *front_guard_output_report(const front_guard_output *o)
{
    return &o->rep;
}
