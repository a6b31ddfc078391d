/* A vectorisable exp for the losses' softmaxes (private to src/losses). */
#ifndef DOUBT_LOSSES_EXP_H
#define DOUBT_LOSSES_EXP_H

#include <stdint.h>
#include <string.h>

/* exp(x) for x <= 0 (NaN for NaN and for -Inf, which only Inf inputs give) in straight-line
 * double arithmetic that vectorises, within a few ulp of libm's: x = n·ln2 + r with
 * |r| <= ln2/2 (n by the 1.5·2^52 rounding trick, n·ln2_hi exact), e^r by its Taylor series to
 * r^13 (remainder < 1e-17), and 2^n from n's bits. Below -708 the result is that of -708 (about 3e-308 instead of a
 * subnormal or 0): beside the largest term, e^0 = 1, it changes no sum. */
static inline double losses_exp_nonpositive(double x)
{
    static const double shift = 6755399441055744.0, inv_ln2 = 1.4426950408889634,
                        ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    /* the max pattern vectorises; adding x - x (0, or NaN for NaN and -Inf) keeps a NaN a NaN */
    x = (x > -708.0 ? x : -708.0) + (x - x);
    const double kd = x * inv_ln2 + shift, n = kd - shift;
    const double r = (x - n * ln2_hi) - n * ln2_lo;
    const double e =
        1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 +
        r * (1.0 / 720.0 + r * (1.0 / 5040.0 + r * (1.0 / 40320.0 + r * (1.0 / 362880.0 +
        r * (1.0 / 3628800.0 + r * (1.0 / 39916800.0 + r * (1.0 / 479001600.0 +
        r * (1.0 / 6227020800.0)))))))))))));
    uint64_t bits;
    memcpy(&bits, &kd, sizeof bits);
    bits = (bits + 1023) << 52; /* kd's low bits hold n; the shift's own bits fall off the top */
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return e * scale;
}

#endif
