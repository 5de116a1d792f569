/* A spin-then-sleep thread pool (see threadpool.h for why). */
#include "engine/threadpool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

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
 * Past YIELD_AFTER rounds a spinning thread also yields its core: when the machine has
 * more runnable threads than cores, the thread being waited for may need it. */
enum { SPIN_ROUNDS = 1 << 15, YIELD_AFTER = 1 << 10 };

typedef struct worker {
    struct sealm_threadpool *pool;
    int ith;
    pthread_t thread;
} worker;

struct sealm_threadpool {
    int n_threads;
    worker *workers;                  /* [n_threads - 1]; the caller is thread 0 */
    sealm_task_fn fn;
    void *arg;
    atomic_uint generation;           /* bumped once per task */
    atomic_int n_done;                /* workers finished with the current task */
    atomic_int n_sleeping;
    atomic_bool stop;
    pthread_mutex_t lock;
    pthread_cond_t wake;
};

/* Waits until the generation moves past seen; spins first, then sleeps. */
static unsigned wait_for_task(sealm_threadpool *p, unsigned seen) {
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        unsigned g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen) return g;
        if (i >= YIELD_AFTER) sched_yield();
        else cpu_relax();
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
        if (atomic_load(&p->stop)) break;
        p->fn(p->arg, w->ith, p->n_threads);
        atomic_fetch_add_explicit(&p->n_done, 1, memory_order_release);
    }
    return NULL;
}

static void wake_workers(sealm_threadpool *p) {
    /* The generation bump above is seq_cst and so is the sleeper count: a worker that is
     * about to sleep either sees the new generation or is counted here. */
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
    }
}

sealm_status sealm_threadpool_new(int n_threads, sealm_threadpool **out, sealm_error *err) {
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024)
        return sealm_error_set(err, SEALM_E_INVALID, "thread count %d is outside [1, 1024]", n_threads);
    sealm_threadpool *p = calloc(1, sizeof *p);
    if (!p) return sealm_error_set(err, SEALM_E_NOMEM, "out of memory creating a thread pool");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (n_threads > 1) {
        p->workers = calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->workers) {
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
    atomic_store_explicit(&p->n_done, 0, memory_order_relaxed);
    atomic_fetch_add(&p->generation, 1);   /* publishes fn/arg (seq_cst) */
    wake_workers(p);
    fn(arg, 0, p->n_threads);
    for (int i = 0; atomic_load_explicit(&p->n_done, memory_order_acquire) < p->n_threads - 1; i++) {
        if (i >= YIELD_AFTER) sched_yield();
        else cpu_relax();
    }
}
