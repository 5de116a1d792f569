/* The thread pool under stress: every thread count from 1 to 8 (more threads than this
 * machine has cores, so the oversubscribed path runs too), thousands of tasks each, and
 * checks that can fail:
 *  - every share ith in [0, nth) of every task runs exactly once, with nth = pool size;
 *  - what the caller wrote before a run is what every share reads (publication), and what
 *    the shares wrote is what the caller reads after the run (the barrier);
 *  - a parallel sum equals the serial one, with shares of unequal length;
 *  - workers that went to sleep between tasks wake for the next one;
 *  - bad thread counts are refused.
 * No timing is asserted. Built with ThreadSanitizer it also checks the happens-before of
 * the pool's atomics (scripts run it under ASan/UBSan like every unit test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine/threadpool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_THREADS = 8, N_TASKS = 1000, N_VALUES = 4099 };

typedef struct stress_task {
    uint32_t task_id;                 /* written by the caller before each run */
    uint32_t seen_id[MAX_THREADS];    /* what share ith read */
    uint32_t calls[MAX_THREADS];      /* how often share ith ran in this run */
    int seen_nth[MAX_THREADS];
    const uint32_t *values;
    uint64_t partial[MAX_THREADS];    /* share ith's sum over its slice of values */
} stress_task;

/* Share ith sums an uneven slice (the first shares get more) and records what it saw. */
static void stress_share(void *arg, int ith, int nth) {
    stress_task *t = arg;
    t->calls[ith]++;
    t->seen_id[ith] = t->task_id;
    t->seen_nth[ith] = nth;
    /* slice boundaries at (k^2 / nth^2) of the values: unequal work per share */
    const size_t lo = (size_t)N_VALUES * (size_t)(ith * ith) / (size_t)(nth * nth);
    const size_t hi = (size_t)N_VALUES * (size_t)((ith + 1) * (ith + 1)) / (size_t)(nth * nth);
    uint64_t sum = 0;
    for (size_t i = lo; i < hi; i++) sum += t->values[i] ^ t->task_id;
    t->partial[ith] = sum;
}

static void run_and_check(sealm_threadpool *pool, stress_task *t, int nth, uint32_t id) {
    t->task_id = id;
    memset(t->calls, 0, sizeof t->calls);
    memset(t->partial, 0, sizeof t->partial);
    sealm_threadpool_run(pool, stress_share, t);
    uint64_t total = 0, want = 0;
    for (int i = 0; i < nth; i++) {
        if (t->calls[i] != 1) fail_msg("nth=%d task %u: share %d ran %u times", nth, id, i, t->calls[i]);
        if (t->seen_id[i] != id) fail_msg("nth=%d task %u: share %d read task id %u", nth, id, i, t->seen_id[i]);
        if (t->seen_nth[i] != nth) fail_msg("nth=%d task %u: share %d was told nth=%d", nth, id, i, t->seen_nth[i]);
        total += t->partial[i];
    }
    for (int i = nth; i < MAX_THREADS; i++) assert_int_equal(t->calls[i], 0);
    for (size_t i = 0; i < N_VALUES; i++) want += t->values[i] ^ id;
    if (total != want)
        fail_msg("nth=%d task %u: parallel sum %llu, serial sum %llu", nth, id, (unsigned long long)total,
                 (unsigned long long)want);
}

static void test_every_thread_count(void **state) {
    (void)state;
    uint32_t *values = malloc(N_VALUES * sizeof *values);
    assert_non_null(values);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < N_VALUES; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        values[i] = (uint32_t)x;
    }
    for (int nth = 1; nth <= MAX_THREADS; nth++) {
        sealm_threadpool *pool = NULL;
        sealm_error err = {0};
        assert_int_equal(sealm_threadpool_new(nth, &pool, &err), SEALM_OK);
        assert_int_equal(sealm_threadpool_size(pool), nth);
        stress_task t = {.values = values};
        for (uint32_t id = 1; id <= N_TASKS; id++) run_and_check(pool, &t, nth, id);
        sealm_threadpool_free(pool);
    }
    free(values);
}

/* Workers sleep after about a millisecond without work; the next task must still reach
 * every one of them. */
static void test_wakes_sleeping_workers(void **state) {
    (void)state;
    uint32_t values[N_VALUES];
    for (size_t i = 0; i < N_VALUES; i++) values[i] = (uint32_t)(i * 2654435761u);
    const int counts[] = {2, 3, 5};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        const int nth = counts[c];
        sealm_threadpool *pool = NULL;
        sealm_error err = {0};
        assert_int_equal(sealm_threadpool_new(nth, &pool, &err), SEALM_OK);
        stress_task t = {.values = values};
        for (uint32_t id = 1; id <= 6; id++) {
            const struct timespec pause = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};   /* 20 ms: past the spin */
            nanosleep(&pause, NULL);
            run_and_check(pool, &t, nth, id);
            run_and_check(pool, &t, nth, id + 1000);   /* and straight after, while spinning */
        }
        sealm_threadpool_free(pool);
    }
}

/* A pool created and freed without a task, and freed right after one: joins cleanly. */
static void test_create_free(void **state) {
    (void)state;
    for (int nth = 1; nth <= MAX_THREADS; nth++) {
        sealm_threadpool *pool = NULL;
        sealm_error err = {0};
        assert_int_equal(sealm_threadpool_new(nth, &pool, &err), SEALM_OK);
        sealm_threadpool_free(pool);
    }
    sealm_threadpool_free(NULL);
}

static void test_bad_thread_counts(void **state) {
    (void)state;
    const int bad[] = {0, -1, 1025};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sealm_threadpool *pool = (sealm_threadpool *)&pool;   /* must be reset to NULL */
        sealm_error err = {0};
        assert_int_equal(sealm_threadpool_new(bad[i], &pool, &err), SEALM_E_INVALID);
        assert_null(pool);
        assert_true(strstr(err.message, "thread count") != NULL);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_thread_counts),
        cmocka_unit_test(test_create_free),
        cmocka_unit_test(test_every_thread_count),
        cmocka_unit_test(test_wakes_sleeping_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
