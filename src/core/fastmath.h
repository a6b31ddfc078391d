/* Float elementary functions as inline code that loops vectorise (glibc's are calls), for
 * the per-element kernels of moment propagation, and the mark for functions that get an AVX2
 * copy. Errors are stated per function; none is used where a result must match a reference
 * bit for bit.
 */
#ifndef DOUBT_CORE_FASTMATH_H
#define DOUBT_CORE_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Marks a function whose loops vectorise (an OpenMP loop's body must be such a function of
 * its own: the outlined loop is not cloned): on x86-64 GCC also builds an AVX2 copy of it and
 * picks one at load time (target_clones, an ifunc). The copies run the same IEEE operations in
 * the same order (C11 mode contracts nothing into FMAs, and AVX2 alone has none), so they give
 * the same bits; the AVX2 one just has twice the lanes. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define DOUBT_LANES __attribute__((target_clones("avx2", "default")))
#else
#define DOUBT_LANES
#endif

/* e^x for x <= 0 (0 below -87), Cephes-style: 2^n · e^r with |r| <= ln2/2; n by truncation
 * of x·log2(e) − 1/2 (<= 0), which needs no rounding instruction the baseline ISA lacks. A NaN
 * stays NaN (and is never converted to an integer). */
static inline float doubt_exp_nonpositive(float x)
{
    const float clamped = x > -87.0f ? x : -87.0f;
    const float n = (float)(int32_t)(clamped * 1.44269504f - 0.5f);
    const float r = clamped - n * 0.693359375f + n * 2.12194440e-4f;
    float e = 1.9875691500e-4f;
    e = e * r + 1.3981999507e-3f;
    e = e * r + 8.3334519073e-3f;
    e = e * r + 4.1665795894e-2f;
    e = e * r + 1.6666665459e-1f;
    e = e * r + 5.0000001201e-1f;
    e = e * r * r + r + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x < -87.0f ? 0.0f : e * scale + (x - x);
}

/* Φ(z), 1 − Φ(z) (each from the tail directly, so neither loses digits near 1) and φ(z): A&S
 * 7.1.26 for the tail, which shares φ's exponential; absolute error below 4e-7 (the
 * formula's 7.5e-8 and float rounding near 1). A NaN z gives NaN. */
static inline void doubt_normal_cdf_pdf(float z, float *cdf, float *upper, float *pdf)
{
    const float az = fabsf(z) * 0.70710678f; /* |z|/√2 */
    const float t = 1.0f / (1.0f + 0.3275911f * az);
    const float e = doubt_exp_nonpositive(-az * az); /* e^(−z²/2) */
    const float poly =
        t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f +
                                                                           t * 1.061405429f))));
    const float tail = 0.5f * poly * e; /* Φ(−|z|) */
    *cdf = z >= 0 ? 1.0f - tail : tail;
    *upper = z >= 0 ? tail : 1.0f - tail;
    *pdf = 0.39894228f * e;
}

/* ln x for normal positive finite x, Cephes-style: x = 2^e · m with m in [√½, √2), a
 * degree-8 polynomial in m − 1; relative error about 1e-7. */
static inline float doubt_log_positive(float x)
{
    int32_t bits;
    memcpy(&bits, &x, sizeof bits);
    int32_t e = ((bits >> 23) & 0xff) - 126;
    int32_t mbits = (bits & 0x007fffff) | 0x3f000000; /* m in [0.5, 1) */
    float m;
    memcpy(&m, &mbits, sizeof m);
    const int below = m < 0.70710678f;
    e -= below;
    m = below ? m + m : m;
    const float r = m - 1.0f, r2 = r * r;
    float y = 7.0376836292e-2f;
    y = y * r - 1.1514610310e-1f;
    y = y * r + 1.1676998740e-1f;
    y = y * r - 1.2420140846e-1f;
    y = y * r + 1.4249322787e-1f;
    y = y * r - 1.6668057665e-1f;
    y = y * r + 2.0000714765e-1f;
    y = y * r - 2.4999993993e-1f;
    y = y * r + 3.3333331174e-1f;
    y = y * r * r2;
    const float fe = (float)e;
    y += -2.12194440e-4f * fe;
    y += -0.5f * r2;
    return r + y + 0.693359375f * fe;
}

#endif
