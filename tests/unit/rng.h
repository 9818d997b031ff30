/* A fixed-seed random source for the unit tests: every run, on every platform,
 * sees the same numbers. Header-only, for test files. */
#ifndef TWINPROBE_TEST_RNG_H
#define TWINPROBE_TEST_RNG_H

#include <math.h>
#include <stdint.h>

/* splitmix64: the next 64 bits of *state's stream. */
static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static inline double rng_uniform(uint64_t *state)
{
    return ((double)(rng_next(state) >> 11) + 0.5) / 9007199254740992.0;
}

/* Standard normal (Box-Muller, one value per call). */
static inline double rng_normal(uint64_t *state)
{
    double u = rng_uniform(state), v = rng_uniform(state);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

#endif
