#include "rng.h"

#include <math.h>

/* Constants of the Philox4x32 round function and Weyl key schedule (Salmon et al., table 2). */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mul_hi_lo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
    uint64_t product = (uint64_t)a * b;
    *hi = (uint32_t)(product >> 32);
    *lo = (uint32_t)product;
}

doubt_philox_block doubt_philox4x32_10(doubt_philox_block c, uint32_t k0, uint32_t k1)
{
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, lo0, hi1, lo1;
        mul_hi_lo(PHILOX_M0, c.v[0], &hi0, &lo0);
        mul_hi_lo(PHILOX_M1, c.v[2], &hi1, &lo1);
        doubt_philox_block next = {{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
        c = next;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    return c;
}

static inline doubt_philox_block block_at(doubt_rng_key key, uint64_t block)
{
    /* The block number fills 32 bits of counter; layer and stream fill the rest. Indices
     * beyond 2^34 elements per (stream, layer) would wrap, far past any tensor here. */
    doubt_philox_block counter = {{(uint32_t)block, key.layer, (uint32_t)key.stream,
                                   (uint32_t)(key.stream >> 32) ^ (uint32_t)(block >> 32)}};
    return doubt_philox4x32_10(counter, (uint32_t)key.seed, (uint32_t)(key.seed >> 32));
}

static inline float bits_to_uniform(uint32_t bits)
{
    return (float)(bits >> 8) * (1.0f / 16777216.0f);
}

/* Box-Muller on two 32-bit words; u1 is shifted to (0, 1] so the log is finite. */
static inline void box_muller(uint32_t a, uint32_t b, float *z0, float *z1)
{
    double u1 = ((double)(a >> 8) + 1.0) * (1.0 / 16777216.0);
    double u2 = (double)(b >> 8) * (1.0 / 16777216.0);
    double r = sqrt(-2.0 * log(u1));
    double theta = 6.283185307179586 * u2;
    *z0 = (float)(r * cos(theta));
    *z1 = (float)(r * sin(theta));
}

uint32_t doubt_rng_bits(doubt_rng_key key, uint64_t index)
{
    return block_at(key, index >> 2).v[index & 3];
}

float doubt_rng_uniform(doubt_rng_key key, uint64_t index)
{
    return bits_to_uniform(doubt_rng_bits(key, index));
}

float doubt_rng_normal(doubt_rng_key key, uint64_t index)
{
    doubt_philox_block b = block_at(key, index >> 2);
    float z[4];
    box_muller(b.v[0], b.v[1], &z[0], &z[1]);
    box_muller(b.v[2], b.v[3], &z[2], &z[3]);
    return z[index & 3];
}

void doubt_rng_bits_fill(doubt_rng_key key, uint64_t first, int64_t count, uint32_t *out)
{
    for (int64_t i = 0; i < count;) {
        uint64_t index = first + (uint64_t)i;
        doubt_philox_block b = block_at(key, index >> 2);
        for (unsigned lane = index & 3; lane < 4 && i < count; lane++, i++)
            out[i] = b.v[lane];
    }
}

void doubt_rng_uniform_fill(doubt_rng_key key, uint64_t first, int64_t count, float *out)
{
    for (int64_t i = 0; i < count;) {
        uint64_t index = first + (uint64_t)i;
        doubt_philox_block b = block_at(key, index >> 2);
        for (unsigned lane = index & 3; lane < 4 && i < count; lane++, i++)
            out[i] = bits_to_uniform(b.v[lane]);
    }
}

void doubt_rng_normal_fill(doubt_rng_key key, uint64_t first, int64_t count, float *out)
{
    for (int64_t i = 0; i < count;) {
        uint64_t index = first + (uint64_t)i;
        doubt_philox_block b = block_at(key, index >> 2);
        float z[4];
        box_muller(b.v[0], b.v[1], &z[0], &z[1]);
        box_muller(b.v[2], b.v[3], &z[2], &z[3]);
        for (unsigned lane = index & 3; lane < 4 && i < count; lane++, i++)
            out[i] = z[lane];
    }
}
