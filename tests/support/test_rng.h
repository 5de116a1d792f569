/* Test support: the deterministic random numbers of the engine's kernel tests (splitmix64),
 * so that a failing case can be replayed from its seed. One generator per test program. */
#ifndef SEALM_TESTS_TEST_RNG_H
#define SEALM_TESTS_TEST_RNG_H

#include <stdint.h>

static uint64_t rng_state;

static inline void rng_seed(uint64_t seed) { rng_state = seed; }

static inline uint64_t rng_next(void) {   /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline float rng_uniform(float lo, float hi) {   /* [lo, hi) */
    return lo + (hi - lo) * (float)(rng_next() >> 40) * 0x1p-24f;
}

#endif
