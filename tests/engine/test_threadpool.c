/* The thread pool under stress: every thread count from 1 to 8 (more threads than this
 * machine has cores, so the oversubscribed path runs too), thousands of tasks each, and
 * checks that can fail:
 *  - every share ith in [0, nth) of every task runs exactly once, with nth = pool size;
 *  - what the caller wrote before a run is what every share reads (publication), and what
 *    the shares wrote is what the caller reads after the run (the barrier);
 *  - a parallel sum equals the serial one, with shares of unequal length;
 *  - workers that went to sleep between tasks wake for the next one;
 *  - prefetch ranges recorded in a share: counted as recorded (empty ones skipped), worked
 *    through by a worker while it waits, dropped by the caller's thread;
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
#include <pthread.h>
#include <stdatomic.h>
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

/* ---- prefetch ranges (sealm_threadpool_prefetch_next) ---- */

enum { PREFETCH_BYTES = 256 * 1024 };

typedef struct prefetch_task {
    const uint8_t *buf;               /* PREFETCH_BYTES, 64-byte aligned */
    bool record;                      /* shares record ranges; else they report what is pending */
    pthread_t caller;
    size_t recorded[MAX_THREADS];     /* pending right after recording */
    size_t pending[MAX_THREADS];      /* pending when the share started */
    bool on_worker[MAX_THREADS];      /* the share ran on a thread other than the caller's */
    atomic_bool share1_started;       /* share 0 waits for it (up to 10 ms): the worker gets share 1 */
} prefetch_task;

static void prefetch_share(void *arg, int ith, int nth) {
    (void)nth;
    prefetch_task *t = arg;
    t->on_worker[ith] = !pthread_equal(pthread_self(), t->caller);
    t->pending[ith] = sealm_threadpool_prefetch_pending();
    if (ith == 1) atomic_store(&t->share1_started, true);
    /* a trivial share 0 would let the caller claim share 1 before the worker notices it */
    const clock_t give_up = clock() + CLOCKS_PER_SEC / 100;
    while (ith == 0 && !atomic_load(&t->share1_started) && clock() < give_up) {}
    if (!t->record) return;
    /* an empty and a NULL range among them: skipped; the odd length ends mid-line */
    const sealm_prefetch_range r[SEALM_PREFETCH_RANGES] = {
        {t->buf, PREFETCH_BYTES / 2}, {NULL, 4096}, {t->buf + PREFETCH_BYTES / 2, PREFETCH_BYTES / 2 - 100}};
    sealm_threadpool_prefetch_next(r, SEALM_PREFETCH_RANGES);
    t->recorded[ith] = sealm_threadpool_prefetch_pending();
    const sealm_prefetch_range none[1] = {{t->buf, 0}};
    if (ith == 0) {   /* clearing and recording again on one thread */
        sealm_threadpool_prefetch_next(none, 1);
        assert_int_equal(sealm_threadpool_prefetch_pending(), 0);
        sealm_threadpool_prefetch_next(r, SEALM_PREFETCH_RANGES);
    }
}

/* A worker that recorded ranges works through them while it waits: it is never left with
 * more than it recorded, and in a run where it recorded and then ran a share of the next
 * task (waiting, spinning, at least as long as the caller sleeps here) it has nothing
 * left. A worker that lost its CPU in between may still have some, so this is asserted
 * once over the attempts, not every time. The caller's thread keeps none, ever. */
static void test_prefetch_ranges(void **state) {
    (void)state;
    uint8_t *buf = aligned_alloc(64, PREFETCH_BYTES);
    assert_non_null(buf);
    memset(buf, 1, PREFETCH_BYTES);
    sealm_threadpool *pool = NULL;
    sealm_error err = {0};
    assert_int_equal(sealm_threadpool_new(2, &pool, &err), SEALM_OK);
    int drained = 0;
    for (int attempt = 0; attempt < 200 && drained < 3; attempt++) {
        prefetch_task t = {.buf = buf, .record = true, .caller = pthread_self()};
        sealm_threadpool_run(pool, prefetch_share, &t);
        for (int i = 0; i < 2; i++) assert_int_equal(t.recorded[i], PREFETCH_BYTES - 100);
        assert_int_equal(sealm_threadpool_prefetch_pending(), 0);   /* the caller's thread dropped its ranges */
        const struct timespec pause = {.tv_sec = 0, .tv_nsec = 200 * 1000};   /* 0.2 ms: inside the spin */
        nanosleep(&pause, NULL);
        prefetch_task u = {.buf = buf, .record = false, .caller = pthread_self()};
        sealm_threadpool_run(pool, prefetch_share, &u);
        for (int i = 0; i < 2; i++) {
            if (!u.on_worker[i]) assert_int_equal(u.pending[i], 0);
            else assert_true(u.pending[i] <= PREFETCH_BYTES - 100);
            if (u.on_worker[i] && t.on_worker[1] && u.pending[i] == 0) drained++;
        }
    }
    if (drained == 0) fail_msg("no worker worked through its recorded prefetch ranges in 200 attempts");
    sealm_threadpool_free(pool);
    free(buf);
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
        cmocka_unit_test(test_prefetch_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
