/* Elapsed time for the figures doubt reports: predict's time_s, train's images per second,
 * bench's medians.
 *
 *     const double start = doubt_clock_seconds();
 *     ... work ...
 *     const double seconds = doubt_clock_seconds() - start;
 *
 * CLOCK_MONOTONIC, so a change of the system clock in between does not show up as a negative
 * or huge interval.
 */
#ifndef DOUBT_CORE_CLOCK_H
#define DOUBT_CORE_CLOCK_H

/* Seconds since an unspecified fixed point: only differences mean anything. */
double doubt_clock_seconds(void);

#endif
