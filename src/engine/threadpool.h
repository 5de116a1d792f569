/* Engine-internal: a persistent pool of worker threads that run one task at a time.
 *
 * sealm_threadpool_run(pool, fn, arg) calls fn(arg, ith, nth) for ith in [0, nth) — the
 * caller's thread does ith = 0 — and returns when every call has returned. A forward pass
 * issues hundreds of such tasks per token, so workers spin briefly on an atomic generation
 * counter before sleeping on a condition variable: a wake-up then costs well under a
 * microsecond during a pass, and idle threads still use no CPU between requests. */
#ifndef SEALM_ENGINE_THREADPOOL_H
#define SEALM_ENGINE_THREADPOOL_H

#include "sealm/common.h"

typedef void (*sealm_task_fn)(void *arg, int ith, int nth);
typedef struct sealm_threadpool sealm_threadpool;

/* n_threads >= 1 (1 creates no thread). Returns SEALM_OK, SEALM_E_NOMEM, SEALM_E_IO (thread creation failed). */
sealm_status sealm_threadpool_new(int n_threads, sealm_threadpool **out, sealm_error *err);
void sealm_threadpool_free(sealm_threadpool *p);
int sealm_threadpool_size(const sealm_threadpool *p);
/* Not reentrant: one run at a time per pool, from the thread that owns the context. */
void sealm_threadpool_run(sealm_threadpool *p, sealm_task_fn fn, void *arg);

#endif
