#include "rng.h"

#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DOUBT_RNG_AVX2 1
#endif

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

#ifdef DOUBT_RNG_AVX2
enum { AVX2_BLOCKS = 8 };

/* The 32-bit words a·c mod 2^32 and a·c >> 32 of eight lanes: mul_epu32 multiplies the even
 * lanes into 64-bit products, so the odd lanes are shifted down and multiplied separately. */
__attribute__((target("avx2"))) static inline void mul_hi_lo_x8(__m256i c, __m256i m,
                                                                 __m256i *hi, __m256i *lo)
{
    const __m256i even = _mm256_mul_epu32(c, m);
    const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(c, 32), m);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

/* Blocks first_block .. first_block + 7 of key, i.e. the 32 words of indices
 * 4·first_block .. 4·first_block + 31, into out[0..32): block_at on eight counters at once,
 * the same rounds lane by lane, so the same bits. */
__attribute__((target("avx2"))) static void blocks_x8(doubt_rng_key key, uint64_t first_block,
                                                      uint32_t *out)
{
    /* the counters as block_at lays them out; words 1 and 2 are the same for all eight */
    uint32_t word0[AVX2_BLOCKS], word3[AVX2_BLOCKS];
    for (int j = 0; j < AVX2_BLOCKS; j++) {
        const uint64_t block = first_block + (uint64_t)j;
        word0[j] = (uint32_t)block;
        word3[j] = (uint32_t)(key.stream >> 32) ^ (uint32_t)(block >> 32);
    }
    __m256i c0 = _mm256_loadu_si256((const __m256i *)word0);
    __m256i c1 = _mm256_set1_epi32((int)key.layer);
    __m256i c2 = _mm256_set1_epi32((int)(uint32_t)key.stream);
    __m256i c3 = _mm256_loadu_si256((const __m256i *)word3);
    const __m256i m0 = _mm256_set1_epi32((int)PHILOX_M0), m1 = _mm256_set1_epi32((int)PHILOX_M1);
    uint32_t k0 = (uint32_t)key.seed, k1 = (uint32_t)(key.seed >> 32);
    for (int round = 0; round < 10; round++) {
        __m256i hi0, lo0, hi1, lo1;
        mul_hi_lo_x8(c0, m0, &hi0, &lo0);
        mul_hi_lo_x8(c2, m1, &hi1, &lo1);
        c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32((int)k0));
        c1 = lo1;
        c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32((int)k1));
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    /* four words of eight blocks -> eight blocks of four words */
    const __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpackhi_epi32(c0, c1);
    const __m256i t2 = _mm256_unpacklo_epi32(c2, c3), t3 = _mm256_unpackhi_epi32(c2, c3);
    const __m256i r0 = _mm256_unpacklo_epi64(t0, t2), r1 = _mm256_unpackhi_epi64(t0, t2);
    const __m256i r2 = _mm256_unpacklo_epi64(t1, t3), r3 = _mm256_unpackhi_epi64(t1, t3);
    _mm256_storeu_si256((__m256i *)out, _mm256_permute2x128_si256(r0, r1, 0x20));
    _mm256_storeu_si256((__m256i *)(out + 8), _mm256_permute2x128_si256(r2, r3, 0x20));
    _mm256_storeu_si256((__m256i *)(out + 16), _mm256_permute2x128_si256(r0, r1, 0x31));
    _mm256_storeu_si256((__m256i *)(out + 24), _mm256_permute2x128_si256(r2, r3, 0x31));
}
#endif

void doubt_rng_bits_fill(doubt_rng_key key, uint64_t first, int64_t count, uint32_t *out)
{
#ifdef DOUBT_RNG_AVX2
    const int avx2 = __builtin_cpu_supports("avx2");
#endif
    for (int64_t i = 0; i < count;) {
        uint64_t index = first + (uint64_t)i;
#ifdef DOUBT_RNG_AVX2
        /* eight whole blocks at once where they fit; a partial block one at a time */
        if (avx2 && !(index & 3) && count - i >= 4 * AVX2_BLOCKS) {
            blocks_x8(key, index >> 2, out + i);
            i += 4 * AVX2_BLOCKS;
            continue;
        }
#endif
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
