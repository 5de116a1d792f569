/* sealmd front — structured logs: one JSON object per line on stderr (journald keeps them).
 * Callers pass identifiers and numbers only — request id, key id, model, token counts,
 * latency, decision — never prompt or output text: logs outlive the request and are read by
 * people who must not see user data. */
#include "server/front.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void front_log(const char *level, const char *msg, json_t *fields)
{
    json_t *o = fields ? json_deep_copy(fields) : json_object();
    if (!o)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_object_set_new(o, "ts", json_real((double)ts.tv_sec + ts.tv_nsec / 1e9));
    json_object_set_new(o, "level", json_string(level));
    json_object_set_new(o, "msg", json_string(msg));
    char *line = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!line)
        return;
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
    free(line);
}

void front_logf(const char *level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    front_log(level, msg, NULL);
}
