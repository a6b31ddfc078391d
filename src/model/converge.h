/* When adaptive Monte Carlo sampling (mc.h, --samples auto) may stop: batch means.
 *
 * Samples come in groups of DOUBT_CONVERGE_GROUP consecutive samples. Each finished group
 * gives one value per watched quantity, computed from that group's samples alone (mc.c: the
 * image's mean depth epistemic variance and mean mutual information), so the groups' values
 * are independent draws of the same estimator and their spread measures its noise:
 *
 *   double epi[] = {0.10, 0.12, 0.11};                 // one value per finished group
 *   if (doubt_converged(epi, 3, 0.05)) ... stop ...
 *
 * A series has converged when it has at least DOUBT_CONVERGE_MIN_GROUPS values and the
 * standard error of their mean, sd / √n (sd with Bessel's 1/(n - 1)), is below tol × |mean|:
 * the running estimate is then known to within a fraction tol of itself. A series whose mean
 * is exactly 0 (a network whose dropout changes nothing) counts as converged. With tol = 0
 * no other series converges; a NaN value never lets a series converge.
 */
#ifndef DOUBT_MODEL_CONVERGE_H
#define DOUBT_MODEL_CONVERGE_H

#define DOUBT_CONVERGE_GROUP 4
#define DOUBT_CONVERGE_MIN_GROUPS 3
/* the fewest samples adaptive sampling judges: a smaller cap could never stop early */
#define DOUBT_CONVERGE_MIN_SAMPLES (DOUBT_CONVERGE_GROUP * DOUBT_CONVERGE_MIN_GROUPS)

/* 1 when the mean of values[0..n) has converged (above), else 0. */
int doubt_converged(const double *values, int n, double tol);

#endif
