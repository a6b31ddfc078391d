/* The attenuated loss's normal noise in lanes (private to src/losses).
 *
 * losses_normal_fill gives exactly the floats of doubt_rng_normal_fill (so the loss keeps the
 * noise its header documents, bit for bit), but runs Philox on 16 blocks at a time and
 * Box-Muller's log, sqrt and sincos as loops over 32 pairs that the compiler vectorises,
 * instead of one libm call per value. Exactness: the lane code's log and sincos are within
 * about 1e-15 (relative) of libm's, and each output pair is checked for being that close to a
 * float rounding boundary (LOSSES_NOISE_TOL); the rare pairs that are (about 5 in 10^5) are
 * recomputed with doubt_rng_normal itself.
 */
#ifndef DOUBT_LOSSES_NOISE_H
#define DOUBT_LOSSES_NOISE_H

#include <stdint.h>

#include "core/fastmath.h"
#include "core/rng.h"


/* Pairs per lane batch: two per Philox block, 16 blocks. */
#define LOSSES_NOISE_PAIRS 32
/* Relative distance from a float rounding boundary below which a lane result is not trusted:
 * a thousand times the lane code's error bound, far below a float's 6e-8. */
#define LOSSES_NOISE_TOL 1e-12

/* Box-Muller of rng.c on `pairs` (<= LOSSES_NOISE_PAIRS) word pairs (a[i], b[i]): z0[i] is
 * r·cos θ and z1[i] is r·sin θ rounded to float, with u1 = ((a >> 8) + 1) / 2^24,
 * u2 = (b >> 8) / 2^24, r = sqrt(-2 log u1), θ = 2π·u2. sure[i] = 1 when both are the floats
 * libm's double log/sqrt/cos/sin give; 0 when a value lies too near a rounding boundary to
 * tell (the caller then computes that pair with libm). */
void losses_box_muller_lanes(const uint32_t *a, const uint32_t *b, int pairs, float *z0,
                             float *z1, int *sure);

/* out[i] = doubt_rng_normal(key, first + i) for 0 <= i < count, bit for bit. */
void losses_normal_fill(doubt_rng_key key, uint64_t first, int64_t count, float *out);

#endif
