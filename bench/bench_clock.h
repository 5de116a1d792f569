/* bench/bench_clock.h — one clock reading in seconds, shared by the guard benchmarks
 * (guard_eval.c, inject_eval.c, pii_slm_eval.c). Each says which clock it times with and why:
 * CLOCK_MONOTONIC for wall time, a CPU-time clock where the shared host's other processes
 * must not count. */
#ifndef SEALM_BENCH_CLOCK_H
#define SEALM_BENCH_CLOCK_H

#include <time.h>

static inline double bench_seconds(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
