/* Engine-internal: a persistent pool of worker threads that run one task at a time.
 *
 * sealm_threadpool_run(pool, fn, arg) calls fn(arg, ith, nth) for ith in [0, nth) — the
 * caller's thread does ith = 0, and the other shares go to whichever thread claims them
 * first, the caller included — and returns when every call has returned. A forward pass
 * issues hundreds of such tasks per token, so workers spin briefly on an atomic claim word
 * before sleeping on a condition variable: a wake-up then costs about one cache-line round
 * trip between cores during a pass (measured ~0.5 µs per empty task with 2 threads here),
 * and idle threads still use no CPU between requests; a worker that is not running at the
 * time (another process has its CPU) leaves its share to the caller instead of stalling
 * the run. threadpool.c says how the hand-off and the closing barrier are ordered. */
#ifndef SEALM_ENGINE_THREADPOOL_H
#define SEALM_ENGINE_THREADPOOL_H

#include "sealm/common.h"

typedef void (*sealm_task_fn)(void *arg, int ith, int nth);
typedef struct sealm_threadpool sealm_threadpool;

/* Starts n_threads - 1 workers (n_threads in [1, 1024]; 1 creates no thread). *out is the
 * pool, owned by the caller (sealm_threadpool_free), or NULL on failure. Returns SEALM_OK,
 * SEALM_E_INVALID (n_threads out of range), SEALM_E_NOMEM, SEALM_E_IO (thread creation
 * failed; the threads already started are joined). */
sealm_status sealm_threadpool_new(int n_threads, sealm_threadpool **out, sealm_error *err);
/* Stops and joins the workers (they must be idle: no run in progress) and frees p; NULL is a no-op. */
void sealm_threadpool_free(sealm_threadpool *p);
/* The thread count the pool was created with (caller included). */
int sealm_threadpool_size(const sealm_threadpool *p);
/* Runs fn(arg, ith, nth) for every ith in [0, nth), nth = the pool's size, each exactly once,
 * and returns after all have returned. Share 0 runs on the caller's thread; any other share
 * may run on any of the pool's threads, the caller's included (two shares never run at once
 * on one thread), so fn must key per-share state by ith, never by thread. Everything the
 * caller wrote before the call is visible to every share, and everything the shares wrote
 * is visible to the caller after it. Not reentrant: one run at a time per pool, from one
 * thread (the one that owns the context); fn must not call run on the same pool. */
void sealm_threadpool_run(sealm_threadpool *p, sealm_task_fn fn, void *arg);

/* Bytes [start, start + bytes) that a thread will read soon. */
typedef struct sealm_prefetch_range {
    const void *start;
    size_t bytes;
} sealm_prefetch_range;

/* Called from inside a share's fn: ranges[0..n) (n at most SEALM_PREFETCH_RANGES) are what
 * this share's thread reads next, in that order, and a worker thread reads them into its
 * caches (software prefetch to L2) while it waits for the next task, stopping as soon as
 * one is published and going on after that task's shares where it left off. Replaces the
 * calling thread's previous ranges; n == 0 clears them. The bytes are never dereferenced,
 * only prefetched, so a range that is unmapped by then is harmless. The caller's thread
 * (share 0's) keeps no ranges: it has the serial steps to run between tasks. Decode uses
 * it for the next product's weights (forward.c). Thread-safe: the ranges are per thread. */
enum { SEALM_PREFETCH_RANGES = 3 };
void sealm_threadpool_prefetch_next(const sealm_prefetch_range *ranges, int n);
/* Bytes of the calling thread's ranges not yet prefetched: from the next line to request
 * to the end of each range left (tests check that a worker works through its ranges and
 * that the caller's thread keeps none). */
size_t sealm_threadpool_prefetch_pending(void);

#endif
