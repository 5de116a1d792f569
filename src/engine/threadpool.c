/* A spin-then-sleep thread pool (see threadpool.h for why).
 *
 * One task at a time. The caller writes fn and arg, then bumps the generation counter;
 * each worker, spinning on that counter, sees the new value, runs its share and stores
 * the generation it finished into its own done word; the caller runs share 0 and then
 * waits until every done word holds the new generation. That is a barrier with one plain
 * store per worker (no shared read-modify-write counter that every thread fights over),
 * and "sense" is the generation number itself, so nothing has to be reset between tasks.
 *
 * Memory order: the generation store publishes fn/arg (release, here seq_cst, see below)
 * and the workers' acquire loads pick them up; each done store (release) publishes that
 * worker's results to the caller's acquire load. The counter, the read-mostly task fields
 * and every done word sit on cache lines of their own, so a worker finishing does not
 * steal the line the others are spinning on.
 *
 * Spinning threads pause (x86 pause, arm64 yield); a wait that lasts longer than the gap
 * between two tasks of a pass usually means the thread being waited for has lost its CPU
 * to another process, so from then on a spinning thread also gives its CPU up with
 * sched_yield. A pool with more threads than the CPUs it may run on starts yielding almost
 * at once, as there the thread being waited for surely needs a CPU. (A version that never
 * yielded with one thread per CPU decoded slower on a loaded 2-core machine, in a noisy
 * measurement; on an idle one the waits end before yielding starts, so it costs nothing.)
 * A worker that has spun for about a millisecond with nothing to do sleeps on
 * a condition variable; the caller wakes sleepers only when there are any, which it learns
 * from a counter ordered against the generation bump (both seq_cst, so a worker about to
 * sleep either sees the new generation or is counted). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* sched_getaffinity, CPU_COUNT (the build defines it already) */
#endif
#include "engine/threadpool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

/* How long a worker spins on the generation counter before it sleeps: about a millisecond,
 * longer than the gap between two tasks of one forward pass, shorter than human time.
 * Past YIELD_AFTER rounds (about 50 µs) a spinning thread also yields; past
 * YIELD_AFTER_OVERSUBSCRIBED when the pool has more threads than CPUs. */
enum { SPIN_ROUNDS = 1 << 15, YIELD_AFTER = 1 << 10, YIELD_AFTER_OVERSUBSCRIBED = 16 };

/* Cache line size of the CPUs we run on (x86-64, arm64 cores: 64 bytes; Apple's 128-byte
 * lines only cost some sharing, not correctness). */
#define CACHE_LINE 64

typedef struct worker {
    alignas(CACHE_LINE) atomic_uint done;   /* the last generation this worker finished */
    struct sealm_threadpool *pool;
    int ith;
    pthread_t thread;
} worker;

struct sealm_threadpool {
    /* written by the caller once per task, read by every worker */
    alignas(CACHE_LINE) atomic_uint generation;
    sealm_task_fn fn;
    void *arg;
    int n_threads;
    int yield_after;               /* spin rounds before a waiting thread starts to yield */
    unsigned last_generation;      /* the caller's own copy of generation */
    worker *workers;               /* [n_threads - 1]; the caller is thread 0 */
    /* sleeping workers; touched only on the slow path */
    alignas(CACHE_LINE) atomic_int n_sleeping;
    atomic_bool stop;
    pthread_mutex_t lock;
    pthread_cond_t wake;
};

/* One round of a wait loop: a pause, or past the pool's yield_after rounds, a yield. */
static inline void spin_round(const sealm_threadpool *p, int round) {
    if (round >= p->yield_after) sched_yield();
    else cpu_relax();
}

/* Waits until the generation moves past seen; spins first, then sleeps. */
static unsigned wait_for_task(sealm_threadpool *p, unsigned seen) {
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        unsigned g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen) return g;
        spin_round(p, i);
    }
    pthread_mutex_lock(&p->lock);
    atomic_fetch_add(&p->n_sleeping, 1);
    unsigned g;
    while ((g = atomic_load(&p->generation)) == seen)
        pthread_cond_wait(&p->wake, &p->lock);
    atomic_fetch_sub(&p->n_sleeping, 1);
    pthread_mutex_unlock(&p->lock);
    return g;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    sealm_threadpool *p = w->pool;
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_task(p, seen);
        if (atomic_load_explicit(&p->stop, memory_order_relaxed)) break;  /* written before the bump */
        p->fn(p->arg, w->ith, p->n_threads);
        atomic_store_explicit(&w->done, seen, memory_order_release);
    }
    return NULL;
}

/* Called right after the generation bump (seq_cst, as this load): a worker that is about
 * to sleep either sees the new generation or is counted here. */
static void wake_workers(sealm_threadpool *p) {
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
    }
}

/* The CPUs this process may run on (its affinity mask), or the online CPUs. */
static int usable_cpus(void) {
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* size rounded up to a whole number of cache lines, as aligned_alloc wants */
static void *alloc_lines(size_t size) {
    const size_t rounded = (size + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    void *m = aligned_alloc(CACHE_LINE, rounded);
    if (m) memset(m, 0, rounded);
    return m;
}

sealm_status sealm_threadpool_new(int n_threads, sealm_threadpool **out, sealm_error *err) {
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024)
        return sealm_error_set(err, SEALM_E_INVALID, "thread count %d is outside [1, 1024]", n_threads);
    sealm_threadpool *p = alloc_lines(sizeof *p);
    if (!p) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory creating a thread pool");
    p->n_threads = n_threads;
    p->yield_after = n_threads > usable_cpus() ? YIELD_AFTER_OVERSUBSCRIBED : YIELD_AFTER;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (n_threads > 1) {
        p->workers = alloc_lines((size_t)(n_threads - 1) * sizeof *p->workers);
        if (!p->workers) {
            p->n_threads = 1;  /* no thread to join */
            sealm_threadpool_free(p);
            return sealm_error_set(err, SEALM_E_NOMEM, "out of memory creating a thread pool");
        }
    }
    for (int i = 1; i < n_threads; i++) {
        worker *w = &p->workers[i - 1];
        w->pool = p;
        w->ith = i;
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0) {
            p->n_threads = i;  /* free() joins only the ones that started */
            sealm_threadpool_free(p);
            return sealm_error_set(err, SEALM_E_IO, "cannot start worker thread %d: %s", i, strerror(rc));
        }
    }
    *out = p;
    return SEALM_OK;
}

void sealm_threadpool_free(sealm_threadpool *p) {
    if (!p) return;
    atomic_store(&p->stop, true);
    atomic_fetch_add(&p->generation, 1);
    pthread_mutex_lock(&p->lock);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->workers[i - 1].thread, NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    free(p->workers);
    free(p);
}

int sealm_threadpool_size(const sealm_threadpool *p) { return p->n_threads; }

void sealm_threadpool_run(sealm_threadpool *p, sealm_task_fn fn, void *arg) {
    if (p->n_threads == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    const unsigned g = ++p->last_generation;
    atomic_store(&p->generation, g);   /* publishes fn/arg; seq_cst for wake_workers */
    wake_workers(p);
    fn(arg, 0, p->n_threads);
    for (int i = 1; i < p->n_threads; i++) {
        const worker *w = &p->workers[i - 1];
        for (int round = 0; atomic_load_explicit(&w->done, memory_order_acquire) != g; round++)
            spin_round(p, round);
    }
}
