/* sealmd front — counters and histograms for GET /metrics, in the Prometheus text
 * exposition format (version 0.0.4). One mutex guards everything: updates are a handful per
 * request, far below any contention that would matter next to token generation. */
#include "server/front.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_CODES = 16, MAX_REASONS = 16, N_TTFT = 11, N_TOKEN = 10 };

static const double ttft_bounds[N_TTFT] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
static const double token_bounds[N_TOKEN] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};

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
} M = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .ttft = {.bounds = ttft_bounds, .n = N_TTFT},
    .token = {.bounds = token_bounds, .n = N_TOKEN},
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

static void render_histogram(FILE *f, const char *name, const char *help, const histogram *h)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < h->n; i++) {
        cum += h->counts[i];
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i], (unsigned long long)cum);
    }
    cum += h->counts[h->n];
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name, (unsigned long long)cum, name, h->sum,
            name, (unsigned long long)h->count);
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
    pthread_mutex_unlock(&M.lock);
    fclose(f);
    return buf;
}
