/* Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11, "Parallel random numbers:
 * as easy as 1, 2, 3").
 *
 * A draw is a pure function of (seed, stream, layer, index): no state, no order. Any thread
 * can compute any element, so results are bit-identical for every thread count, and a dropout
 * mask can be recomputed in backward instead of stored. `stream` separates independent uses
 * of one layer (the MC sample, or the training step × batch row); `layer` names the consumer.
 *
 * Layout of one Philox call: key = seed (64 bits), counter = (index / 4, layer, stream low,
 * stream high); its four 32-bit outputs serve indices 4k .. 4k+3.
 */
#ifndef DOUBT_CORE_RNG_H
#define DOUBT_CORE_RNG_H

#include <stdint.h>

typedef struct {
    uint32_t v[4];
} doubt_philox_block;

/* The raw generator: ten rounds of Philox4x32 on counter with the 2-word key. */
doubt_philox_block doubt_philox4x32_10(doubt_philox_block counter, uint32_t key0, uint32_t key1);

typedef struct {
    uint64_t seed;
    uint64_t stream;
    uint32_t layer;
} doubt_rng_key;

/* The 32 random bits of element `index`. */
uint32_t doubt_rng_bits(doubt_rng_key key, uint64_t index);
/* Uniform in [0, 1) with 24 random bits (exactly representable as float). */
float doubt_rng_uniform(doubt_rng_key key, uint64_t index);
/* Standard normal by Box-Muller; element 2k and 2k+1 come from one pair of uniforms. */
float doubt_rng_normal(doubt_rng_key key, uint64_t index);

/* Fill out[0..count) with draws for indices first .. first+count-1: the same values as the
 * one-element calls, with a quarter of the Philox calls (bits_fill: eight counters per call
 * with AVX2 where the CPU has it, found at run time). */
void doubt_rng_bits_fill(doubt_rng_key key, uint64_t first, int64_t count, uint32_t *out);
void doubt_rng_uniform_fill(doubt_rng_key key, uint64_t first, int64_t count, float *out);
void doubt_rng_normal_fill(doubt_rng_key key, uint64_t first, int64_t count, float *out);

#endif
