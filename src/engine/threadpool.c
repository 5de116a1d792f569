/* A spin-then-sleep thread pool whose shares go to whichever thread claims them first
 * (see threadpool.h for why).
 *
 * One task at a time. The caller writes fn and arg, then publishes the task by storing a
 * claim word: the task's generation in the high 32 bits, the next unclaimed share (1) in
 * the low ones. Every thread, caller included, takes shares by compare-and-swap on that
 * word, which succeeds only while the generation is still its task's, runs each share it
 * took, and counts it done on a shared counter; the caller runs share 0 first, then claims
 * like the workers, and returns once the counter says every share is done. So a worker
 * that has not woken yet, or lost its CPU to another process, costs the run nothing: the
 * caller simply runs that share itself. (With a fixed share per worker, as before, each of
 * a pass's hundreds of runs waited for every worker to be scheduled: with another busy
 * process on a 2-core machine, stories260K decoded about ten times slower on two threads
 * than on one.) A share's result does not depend on which thread runs it — callers key
 * scratch memory by ith, and a share is claimed once — so results are bit-identical.
 *
 * Memory order: the claim word's store (seq_cst) publishes fn/arg, and a successful CAS
 * (acquire) picks them up; a claim is only possible while the word holds the task's
 * generation, and the caller only moves to the next task after every share of this one is
 * done, so a late worker can never run a share of one task with the fn/arg of another.
 * Each done count is a release RMW, and the caller's acquire load of the counter sees the
 * writes of every share counted (the RMWs form one release sequence). The claim word, the
 * done counter and the read-mostly fields sit on cache lines of their own.
 *
 * Spinning threads pause (x86 pause, arm64 yield); a wait that lasts longer than the gap
 * between two tasks of a pass usually means the thread being waited for has lost its CPU
 * to another process, so from then on a spinning thread also gives its CPU up with
 * sched_yield. A pool with more threads than the CPUs it may run on starts yielding almost
 * at once, as there the thread being waited for surely needs a CPU.
 * A worker that has spun for about a millisecond with nothing to do sleeps on
 * a condition variable; the caller wakes sleepers only when there are any, which it learns
 * from a counter ordered against the claim-word store (both seq_cst, so a worker about to
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
#include <stdint.h>
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

/* How long a worker spins on the claim word before it sleeps: about a millisecond,
 * longer than the gap between two tasks of one forward pass, shorter than human time.
 * Past YIELD_AFTER rounds (about 50 µs) a spinning thread also yields; past
 * YIELD_AFTER_OVERSUBSCRIBED when the pool has more threads than CPUs. */
enum { SPIN_ROUNDS = 1 << 15, YIELD_AFTER = 1 << 10, YIELD_AFTER_OVERSUBSCRIBED = 16 };

/* Cache line size of the CPUs we run on (x86-64, arm64 cores: 64 bytes; Apple's 128-byte
 * lines only cost some sharing, not correctness). */
#define CACHE_LINE 64

typedef struct worker {
    struct sealm_threadpool *pool;
    pthread_t thread;
} worker;

struct sealm_threadpool {
    /* the current task: generation << 32 | next unclaimed share; CAS'd by every thread */
    alignas(CACHE_LINE) _Atomic uint64_t claim;
    /* shares done by claiming threads, over the pool's life (wraps; compared for equality) */
    alignas(CACHE_LINE) atomic_uint shares_done;
    /* written by the caller once per task, read by every thread that claims a share */
    alignas(CACHE_LINE) sealm_task_fn fn;
    void *arg;
    int n_threads;
    int yield_after;               /* spin rounds before a waiting thread starts to yield */
    unsigned last_generation;      /* the caller's: generation of the last task */
    unsigned shares_target;        /* the caller's: shares_done once the last task is done */
    worker *workers;               /* [n_threads - 1]; the caller is the n-th thread */
    /* sleeping workers; touched only on the slow path */
    alignas(CACHE_LINE) atomic_int n_sleeping;
    atomic_bool stop;
    pthread_mutex_t lock;
    pthread_cond_t wake;
};

static inline unsigned claim_generation(uint64_t c) { return (unsigned)(c >> 32); }

/* One round of a wait loop: a pause, or past the pool's yield_after rounds, a yield. */
static inline void spin_round(const sealm_threadpool *p, int round) {
    if (round >= p->yield_after) sched_yield();
    else cpu_relax();
}

/* The ranges this thread prefetches while it waits (sealm_threadpool_prefetch_next), as
 * a cursor: the next line of range `next` at pos. Per thread, so nothing is shared. */
typedef struct prefetch_ranges {
    sealm_prefetch_range r[SEALM_PREFETCH_RANGES];
    int n, next;
    const char *pos;
} prefetch_ranges;
static _Thread_local prefetch_ranges tl_prefetch;

/* The first line of range next, or of the one after it where next is done. */
static void prefetch_seek(prefetch_ranges *p) {
    if (p->next < p->n) p->pos = (const char *)((uintptr_t)p->r[p->next].start & ~(uintptr_t)(CACHE_LINE - 1));
}

void sealm_threadpool_prefetch_next(const sealm_prefetch_range *ranges, int n) {
    prefetch_ranges *p = &tl_prefetch;
    p->n = 0;
    for (int i = 0; i < n && i < SEALM_PREFETCH_RANGES; i++)
        if (ranges[i].start && ranges[i].bytes > 0) p->r[p->n++] = ranges[i];
    p->next = 0;
    prefetch_seek(p);
}

size_t sealm_threadpool_prefetch_pending(void) {
    const prefetch_ranges *p = &tl_prefetch;
    size_t left = 0;
    for (int i = p->next; i < p->n; i++) {
        const char *end = (const char *)p->r[i].start + p->r[i].bytes;
        const char *from = i == p->next ? p->pos : (const char *)p->r[i].start;
        left += (size_t)(end - from);
    }
    return left;
}

/* One wait round's worth of prefetching: PREFETCH_LINES_PER_ROUND lines of the recorded
 * ranges, into L2 (locality 2: prefetcht1 on x86, PLDL2KEEP on arm64), so that a waiting
 * worker keeps memory busy during the caller's serial steps instead of pausing. False once
 * nothing is left. */
enum { PREFETCH_LINES_PER_ROUND = 8 };
static bool prefetch_some(void) {
    prefetch_ranges *p = &tl_prefetch;
    for (int k = 0; k < PREFETCH_LINES_PER_ROUND; k++) {
        if (p->next >= p->n) return false;
        __builtin_prefetch(p->pos, 0, 2);
        p->pos += CACHE_LINE;
        if (p->pos >= (const char *)p->r[p->next].start + p->r[p->next].bytes) {
            p->next++;
            prefetch_seek(p);
        }
    }
    return true;
}

/* Waits until the generation moves past seen; spins first (prefetching, while there is
 * something to prefetch, instead of pausing), then sleeps. */
static unsigned wait_for_task(sealm_threadpool *p, unsigned seen) {
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        unsigned g = claim_generation(atomic_load_explicit(&p->claim, memory_order_acquire));
        if (g != seen) return g;
        if (!prefetch_some()) spin_round(p, i);
    }
    pthread_mutex_lock(&p->lock);
    atomic_fetch_add(&p->n_sleeping, 1);
    unsigned g;
    while ((g = claim_generation(atomic_load(&p->claim))) == seen)
        pthread_cond_wait(&p->wake, &p->lock);
    atomic_fetch_sub(&p->n_sleeping, 1);
    pthread_mutex_unlock(&p->lock);
    return g;
}

/* Claims and runs shares of task g until none is left (or the pool has moved on, which
 * only happens once they are all done). Used by workers and by the caller alike. */
static void run_shares(sealm_threadpool *p, unsigned g) {
    const unsigned nth = (unsigned)p->n_threads;
    uint64_t c = atomic_load_explicit(&p->claim, memory_order_relaxed);
    while (claim_generation(c) == g && (unsigned)c < nth) {
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &c, c + 1, memory_order_acquire, memory_order_relaxed))
            continue;   /* c now holds the current word */
        p->fn(p->arg, (int)(unsigned)c, (int)nth);
        atomic_fetch_add_explicit(&p->shares_done, 1, memory_order_release);
        c = atomic_load_explicit(&p->claim, memory_order_relaxed);
    }
}

static void *worker_main(void *arg) {
    worker *w = arg;
    sealm_threadpool *p = w->pool;
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_task(p, seen);
        if (atomic_load_explicit(&p->stop, memory_order_relaxed)) break;  /* written before the bump */
        run_shares(p, seen);
    }
    return NULL;
}

/* Called right after the claim-word store (seq_cst, as this load): a worker that is about
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
    atomic_store(&p->claim, (uint64_t)(p->last_generation + 1u) << 32);
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
        tl_prefetch.n = 0;   /* no worker to prefetch them */
        return;
    }
    p->fn = fn;
    p->arg = arg;
    const unsigned g = ++p->last_generation;
    p->shares_target += (unsigned)p->n_threads - 1u;   /* every share but the caller's share 0 */
    atomic_store(&p->claim, (uint64_t)g << 32 | 1u);   /* publishes fn/arg; seq_cst for wake_workers */
    wake_workers(p);
    fn(arg, 0, p->n_threads);
    run_shares(p, g);
    tl_prefetch.n = 0;   /* the caller has the serial steps to run: it keeps no ranges */
    for (int round = 0; atomic_load_explicit(&p->shares_done, memory_order_acquire) != p->shares_target; round++)
        spin_round(p, round);
}
