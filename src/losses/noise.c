/* Lane-wise Philox and Box-Muller for the attenuated loss: see noise.h. The polynomials are
 * fdlibm's (e_log.c, k_sin.c, k_cos.c), written branch-free so each loop vectorises. */
#include "noise.h"

#include <math.h>
#include <string.h>

/* Philox4x32-10 constants, as in core/rng.c. */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
#define NOISE_BLOCKS (LOSSES_NOISE_PAIRS / 2)

/* log(u) for u = v / 2^24 with an integer v in [1, 2^24]: v = 2^e·m, m in [0.7, 1.42), then
 * fdlibm's log1p kernel on f = m - 1 (exact); k·ln2_hi is exact because ln2_hi ends in zeros.
 * Only operations SSE2 has in lanes: 64-bit and/or/shift, int32 and double arithmetic (the
 * exponent field becomes a double by placing it in the mantissa of 2^52). */
static inline double log_of_24bit(int32_t v)
{
    static const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10,
                        Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01,
                        Lg3 = 2.857142874366239149e-01, Lg4 = 2.222219843214978396e-01,
                        Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
                        Lg7 = 1.479819860511658591e-01;
    const double x = (double)v, two52 = 4503599627370496.0;
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    /* fdlibm's carry trick: adding 0x95f64 to the top of the mantissa carries into the
     * exponent exactly when m > 0x1.6a09c (about √2); that m is halved, k gains one */
    const uint64_t mant = bits & 0x000FFFFFFFFFFFFFull;
    const uint64_t carry = (mant + 0x00095F6400000000ull) & 0x0010000000000000ull;
    const uint64_t mbits = mant | (0x3FF0000000000000ull ^ carry);
    const uint64_t ebits = ((bits >> 52) + (carry >> 52)) | 0x4330000000000000ull;
    double biased, m;
    memcpy(&biased, &ebits, sizeof biased);
    memcpy(&m, &mbits, sizeof m);
    const double dk = (biased - two52) - 1023.0 - 24.0;
    const double f = m - 1.0, s = f / (2.0 + f), z = s * s, w = z * z;
    const double t1 = w * (Lg2 + w * (Lg4 + w * Lg6)), t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
    const double R = t2 + t1, hfsq = 0.5 * f * f;
    return dk * ln2_hi - ((hfsq - (s * (hfsq + R) + dk * ln2_lo)) - f);
}

/* sin and cos of x in [-π/4, π/4] (fdlibm's kernels without their tail argument). */
static inline double sin_kernel(double x)
{
    static const double S1 = -1.66666666666666324348e-01, S2 = 8.33333333332248946124e-03,
                        S3 = -1.98412698298579493134e-04, S4 = 2.75573137070700676789e-06,
                        S5 = -2.50507602534068634195e-08, S6 = 1.58969099521155010221e-10;
    const double z = x * x, v = z * x, r = S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)));
    return x + v * (S1 + z * r);
}

static inline double cos_kernel(double x)
{
    static const double C1 = 4.16666666666666019037e-02, C2 = -1.38888888888741095749e-03,
                        C3 = 2.48015872894767294178e-05, C4 = -2.75573143513906633035e-07,
                        C5 = 2.08757232129817482790e-09, C6 = -1.13596475577881948265e-11;
    const double z = x * x, r = z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))));
    const double hz = 0.5 * z, w = 1.0 - hz;
    return w + (((1.0 - w) - hz) + z * r);
}

/* Is the float nearest to z the same for every value within LOSSES_NOISE_TOL of it?
 * Rounding is monotone, so checking both ends of that interval is enough. */
static inline int rounds_surely(double z)
{
    return (float)(z * (1.0 - LOSSES_NOISE_TOL)) == (float)(z * (1.0 + LOSSES_NOISE_TOL));
}

DOUBT_LANES void losses_box_muller_lanes(const uint32_t *a, const uint32_t *b, int pairs,
                                          float *z0, float *z1, int *sure)
{
    /* π/2 in three parts (fdlibm's pio2_1, pio2_1t's split): q·P1 and q·P2 are exact for the
     * quadrants 0..4, so θ - q·π/2 keeps its relative precision even next to a zero of cos */
    static const double P1 = 1.57079632673412561417e+00, P2 = 6.07710050630396597660e-11,
                        P3 = 2.02226624879595063154e-21;
    for (int i = 0; i < pairs; i++) {
        const int32_t j = (int32_t)(b[i] >> 8);
        const double u2 = (double)j * (1.0 / 16777216.0);
        const double r = sqrt(-2.0 * log_of_24bit((int32_t)(a[i] >> 8) + 1));
        const double theta = 6.283185307179586 * u2; /* as rng.c rounds it */
        /* nearest quadrant of 2π·j/2^24 in integers: |θ - q·π/2| <= π/4 up to θ's rounding */
        const int32_t q = (j + (1 << 21)) >> 22;
        const double dq = (double)q;
        const double x = ((theta - dq * P1) - dq * P2) - dq * P3;
        const double s = sin_kernel(x), c = cos_kernel(x);
        /* sin(x + q·π/2), cos(x + q·π/2): swap for odd q, signs by ±1, all in arithmetic so
         * the loop has no branch; exact, since c > 0.7 and s is -0 never (x = +0 at worst) */
        const double odd = (double)(q & 1);
        const double sin_t = (odd * c + (1.0 - odd) * s) * (1.0 - (double)(q & 2));
        const double cos_t = (odd * s + (1.0 - odd) * c) * (1.0 - (double)((q + 1) & 2));
        const double v0 = r * cos_t, v1 = r * sin_t;
        z0[i] = (float)v0;
        z1[i] = (float)v1;
        sure[i] = rounds_surely(v0) & rounds_surely(v1);
    }
}

/* Philox4x32-10 on blocks first_block .. first_block + NOISE_BLOCKS - 1 (all of them, even
 * past the caller's end: fixed trip counts vectorise), counter layout as core/rng.c's
 * block_at; word w of block first_block + l ends in v[w][l]. */
DOUBT_LANES static void philox_lanes(doubt_rng_key key, uint64_t first_block,
                                      uint32_t v[4][NOISE_BLOCKS])
{
    uint32_t *c0 = v[0], *c1 = v[1], *c2 = v[2], *c3 = v[3];
    for (int l = 0; l < NOISE_BLOCKS; l++) {
        const uint64_t block = first_block + (uint64_t)l;
        c0[l] = (uint32_t)block;
        c1[l] = key.layer;
        c2[l] = (uint32_t)key.stream;
        c3[l] = (uint32_t)(key.stream >> 32) ^ (uint32_t)(block >> 32);
    }
    uint32_t k0 = (uint32_t)key.seed, k1 = (uint32_t)(key.seed >> 32);
    for (int round = 0; round < 10; round++) {
        for (int l = 0; l < NOISE_BLOCKS; l++) {
            const uint64_t p0 = (uint64_t)PHILOX_M0 * c0[l], p1 = (uint64_t)PHILOX_M1 * c2[l];
            const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[l] ^ k0;
            const uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[l] ^ k1;
            c1[l] = (uint32_t)p1;
            c3[l] = (uint32_t)p0;
            c0[l] = n0;
            c2[l] = n2;
        }
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
}

void losses_normal_fill(doubt_rng_key key, uint64_t first, int64_t count, float *out)
{
    const uint64_t end = first + (uint64_t)count;
    for (uint64_t block0 = first >> 2; block0 << 2 < end; block0 += NOISE_BLOCKS) {
        uint32_t v[4][NOISE_BLOCKS], a[LOSSES_NOISE_PAIRS], b[LOSSES_NOISE_PAIRS];
        philox_lanes(key, block0, v);
        /* pair 2l is words (0, 1) of block l, pair 2l + 1 words (2, 3), as rng.c pairs them */
        for (int l = 0; l < NOISE_BLOCKS; l++) {
            a[2 * l] = v[0][l];
            b[2 * l] = v[1][l];
            a[2 * l + 1] = v[2][l];
            b[2 * l + 1] = v[3][l];
        }
        float z0[LOSSES_NOISE_PAIRS], z1[LOSSES_NOISE_PAIRS];
        int sure[LOSSES_NOISE_PAIRS];
        losses_box_muller_lanes(a, b, LOSSES_NOISE_PAIRS, z0, z1, sure);
        /* element 4l + 2p + h of the batch is output h of pair 2l + p */
        const uint64_t base = block0 << 2;
        const uint64_t lo = first > base ? first : base;
        const uint64_t hi = end < base + 4 * NOISE_BLOCKS ? end : base + 4 * NOISE_BLOCKS;
        for (uint64_t index = lo; index < hi; index++) {
            const unsigned e = (unsigned)(index - base), pair = e >> 1;
            out[index - first] = !sure[pair] ? doubt_rng_normal(key, index)
                                 : (e & 1)   ? z1[pair]
                                             : z0[pair];
        }
    }
}
