/* sealmd front — counters and histograms for GET /metrics, in the Prometheus text
 * exposition format (version 0.0.4). One mutex guards everything: updates are a handful per
 * request, far below any contention that would matter next to token generation. */
#include "server/front.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_CODES = 16, MAX_REASONS = 16, N_TTFT = 11, N_TOKEN = 10, N_GUARD = 10 };

static const double ttft_bounds[N_TTFT] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
static const double token_bounds[N_TOKEN] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
/* Guard time per request and direction: tens of microseconds for a short message, a few
 * milliseconds for a long one. */
static const double guard_bounds[N_GUARD] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1};

typedef struct histogram {
    const double *bounds;
    int n;
    uint64_t counts[16];          /* per bucket, not cumulative; [n] is +Inf */
    double sum;
    uint64_t count;
} histogram;

static struct {
    pthread_mutex_t lock;
    int codes[MAX_CODES];
    uint64_t code_counts[MAX_CODES];
    char reasons[MAX_REASONS][32];
    uint64_t reason_counts[MAX_REASONS];
    uint64_t tokens_in, tokens_out, cancelled;
    int64_t inflight;
    histogram ttft, token;
    uint64_t guard_findings[2][SEALM_GUARD_KIND_COUNT][4];   /* [direction][kind][action] */
    uint64_t guard_blocks[2][SEALM_GUARD_KIND_COUNT];
    histogram guard_time[2];
} M = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .ttft = {.bounds = ttft_bounds, .n = N_TTFT},
    .token = {.bounds = token_bounds, .n = N_TOKEN},
    .guard_time = {{.bounds = guard_bounds, .n = N_GUARD}, {.bounds = guard_bounds, .n = N_GUARD}},
};

static void observe(histogram *h, double v)
{
    int i = 0;
    while (i < h->n && v > h->bounds[i])
        i++;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}

void front_metrics_request(int status)
{
    pthread_mutex_lock(&M.lock);
    for (int i = 0; i < MAX_CODES; i++) {
        if (M.codes[i] == status || M.codes[i] == 0) {
            M.codes[i] = status;
            M.code_counts[i]++;
            break;
        }
    }
    pthread_mutex_unlock(&M.lock);
}

void front_metrics_reject(const char *reason)
{
    pthread_mutex_lock(&M.lock);
    for (int i = 0; i < MAX_REASONS; i++) {
        if (!M.reasons[i][0] || strcmp(M.reasons[i], reason) == 0) {
            snprintf(M.reasons[i], sizeof M.reasons[i], "%s", reason);
            M.reason_counts[i]++;
            break;
        }
    }
    pthread_mutex_unlock(&M.lock);
}

void front_metrics_tokens(int64_t in, int64_t out)
{
    pthread_mutex_lock(&M.lock);
    M.tokens_in += (uint64_t)in;
    M.tokens_out += (uint64_t)out;
    pthread_mutex_unlock(&M.lock);
}

void front_metrics_ttft(double s)
{
    pthread_mutex_lock(&M.lock);
    observe(&M.ttft, s);
    pthread_mutex_unlock(&M.lock);
}

void front_metrics_token_latency(double s)
{
    pthread_mutex_lock(&M.lock);
    observe(&M.token, s);
    pthread_mutex_unlock(&M.lock);
}

void front_metrics_guard_finding(int direction, sealm_guard_kind kind, sealm_guard_action action, uint64_t n)
{
    if (direction < 0 || direction > 1 || (unsigned)kind >= SEALM_GUARD_KIND_COUNT || (unsigned)action > 3)
        return;
    pthread_mutex_lock(&M.lock);
    M.guard_findings[direction][kind][action] += n;
    pthread_mutex_unlock(&M.lock);
}

void front_metrics_guard_block(int direction, sealm_guard_kind kind)
{
    if (direction < 0 || direction > 1 || (unsigned)kind >= SEALM_GUARD_KIND_COUNT)
        return;
    pthread_mutex_lock(&M.lock);
    M.guard_blocks[direction][kind]++;
    pthread_mutex_unlock(&M.lock);
}

void front_metrics_guard_seconds(int direction, double seconds)
{
    if (direction < 0 || direction > 1)
        return;
    pthread_mutex_lock(&M.lock);
    observe(&M.guard_time[direction], seconds);
    pthread_mutex_unlock(&M.lock);
}

void front_metrics_inflight(int delta)
{
    pthread_mutex_lock(&M.lock);
    M.inflight += delta;
    pthread_mutex_unlock(&M.lock);
}

void front_metrics_cancelled(void)
{
    pthread_mutex_lock(&M.lock);
    M.cancelled++;
    pthread_mutex_unlock(&M.lock);
}

/* labels: "" or "direction=\"input\"," (with the trailing comma); header: print HELP/TYPE. */
static void render_histogram_l(FILE *f, const char *name, const char *help, const histogram *h, const char *labels,
                               bool header)
{
    if (header)
        fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < h->n; i++) {
        cum += h->counts[i];
        fprintf(f, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, h->bounds[i], (unsigned long long)cum);
    }
    cum += h->counts[h->n];
    size_t ll = strlen(labels);
    /* the same labels without the trailing comma for _sum and _count */
    fprintf(f, "%s_bucket{%sle=\"+Inf\"} %llu\n%s_sum%s%.*s%s %.6f\n%s_count%s%.*s%s %llu\n", name, labels,
            (unsigned long long)cum, name, ll ? "{" : "", (int)(ll ? ll - 1 : 0), labels, ll ? "}" : "", h->sum, name,
            ll ? "{" : "", (int)(ll ? ll - 1 : 0), labels, ll ? "}" : "", (unsigned long long)h->count);
}

static void render_histogram(FILE *f, const char *name, const char *help, const histogram *h)
{
    render_histogram_l(f, name, help, h, "", true);
}

static void render_guard(FILE *f)
{
    static const char *const dir[2] = {"input", "output"};
    static const char *const act[4] = {"off", "detect", "redact", "block"};
    fprintf(f, "# HELP sealmd_guard_findings_total Guard findings, by direction, kind and the action taken.\n"
               "# TYPE sealmd_guard_findings_total counter\n");
    for (int d = 0; d < 2; d++)
        for (int k = 0; k < SEALM_GUARD_KIND_COUNT; k++)
            for (int a = 0; a < 4; a++)
                if (M.guard_findings[d][k][a])
                    fprintf(f, "sealmd_guard_findings_total{direction=\"%s\",kind=\"%s\",action=\"%s\"} %llu\n", dir[d],
                            sealm_guard_kind_name((sealm_guard_kind)k), act[a], (unsigned long long)M.guard_findings[d][k][a]);
    fprintf(f, "# HELP sealmd_guard_blocks_total Requests refused (input) or outputs stopped (output) by the guard, by kind.\n"
               "# TYPE sealmd_guard_blocks_total counter\n");
    for (int d = 0; d < 2; d++)
        for (int k = 0; k < SEALM_GUARD_KIND_COUNT; k++)
            if (M.guard_blocks[d][k])
                fprintf(f, "sealmd_guard_blocks_total{direction=\"%s\",kind=\"%s\"} %llu\n", dir[d],
                        sealm_guard_kind_name((sealm_guard_kind)k), (unsigned long long)M.guard_blocks[d][k]);
    fprintf(f, "# HELP sealmd_guard_canary_leaks_total Outputs that repeated the system prompt's canary (blocked).\n"
               "# TYPE sealmd_guard_canary_leaks_total counter\nsealmd_guard_canary_leaks_total %llu\n",
            (unsigned long long)M.guard_blocks[1][SEALM_GUARD_CANARY]);
    for (int d = 0; d < 2; d++) {
        char labels[32];
        snprintf(labels, sizeof labels, "direction=\"%s\",", dir[d]);
        render_histogram_l(f, "sealmd_guard_seconds", "Time the guard added to a request, per direction.", &M.guard_time[d],
                           labels, d == 0);
    }
}

char *front_metrics_render(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    pthread_mutex_lock(&M.lock);
    fprintf(f, "# HELP sealmd_requests_total HTTP requests answered, by status code.\n"
               "# TYPE sealmd_requests_total counter\n");
    for (int i = 0; i < MAX_CODES && M.codes[i]; i++)
        fprintf(f, "sealmd_requests_total{code=\"%d\"} %llu\n", M.codes[i], (unsigned long long)M.code_counts[i]);
    fprintf(f, "# HELP sealmd_rejections_total Requests refused, by reason.\n"
               "# TYPE sealmd_rejections_total counter\n");
    for (int i = 0; i < MAX_REASONS && M.reasons[i][0]; i++)
        fprintf(f, "sealmd_rejections_total{reason=\"%s\"} %llu\n", M.reasons[i], (unsigned long long)M.reason_counts[i]);
    fprintf(f, "# HELP sealmd_prompt_tokens_total Prompt tokens processed.\n# TYPE sealmd_prompt_tokens_total counter\n"
               "sealmd_prompt_tokens_total %llu\n"
               "# HELP sealmd_completion_tokens_total Completion tokens generated.\n"
               "# TYPE sealmd_completion_tokens_total counter\nsealmd_completion_tokens_total %llu\n"
               "# HELP sealmd_cancelled_total Generations cancelled because the client went away.\n"
               "# TYPE sealmd_cancelled_total counter\nsealmd_cancelled_total %llu\n"
               "# HELP sealmd_queue_depth Requests handed to the worker and not finished (queued or decoding).\n"
               "# TYPE sealmd_queue_depth gauge\nsealmd_queue_depth %lld\n",
            (unsigned long long)M.tokens_in, (unsigned long long)M.tokens_out, (unsigned long long)M.cancelled,
            (long long)M.inflight);
    render_histogram(f, "sealmd_ttft_seconds", "Time from request to first token.", &M.ttft);
    render_histogram(f, "sealmd_token_latency_seconds", "Time between consecutive tokens of a stream.", &M.token);
    render_guard(f);
    pthread_mutex_unlock(&M.lock);
    fclose(f);
    return buf;
}
