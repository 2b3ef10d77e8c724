/* A seeded random stream for the programs' data (yolact-shapes' scenes, the training
 * augmentation): splitmix64, small and the same on every platform, so a seed names the
 * same files and the same samples everywhere. */
#ifndef SEEDED_RANDOM_H
#define SEEDED_RANDOM_H

#include <stdint.h>

static inline uint64_t seeded_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi), 53 random bits. */
static inline double seeded_uniform(uint64_t *state, double lo, double hi)
{
    return lo + (hi - lo) * (double)(seeded_next(state) >> 11) * 0x1.0p-53;
}

/* Uniform in 0 .. n - 1 (n >= 1); the modulo's bias is below 2^-40 for the small n used. */
static inline int seeded_below(uint64_t *state, int n)
{
    return (int)(seeded_next(state) % (uint64_t)n);
}

#endif
