/* The sampler's pseudo-random numbers: xoshiro256** (Blackman & Vigna, "Scrambled linear
 * pseudorandom number generators", 2018), whose 256-bit state is filled from the 64-bit
 * seed by splitmix64, as its authors recommend (a zero state would be stuck at zero).
 * Integer arithmetic only, so the sequence is the same on every platform. */
#include "sample/sample_internal.h"

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* splitmix64: one step of a Weyl sequence, then a bit mixer. */
static uint64_t splitmix64_next(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sealm_rng_seed(sealm_rng *r, uint64_t seed) {
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64_next(&sm);
}

uint64_t sealm_rng_next(sealm_rng *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sealm_rng_uniform(sealm_rng *r) {
    /* The top 53 bits fill a double's mantissa exactly: k · 2^-53 for k in [0, 2^53). */
    return (double)(sealm_rng_next(r) >> 11) * 0x1.0p-53;
}
