#include "converge.h"

#include <math.h>

int doubt_converged(const double *values, int n, double tol)
{
    if (n < DOUBT_CONVERGE_MIN_GROUPS)
        return 0;
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += values[i];
    const double mean = sum / n;
    if (mean == 0)
        return 1;
    double squares = 0; /* about the mean: two passes, no cancellation */
    for (int i = 0; i < n; i++)
        squares += (values[i] - mean) * (values[i] - mean);
    const double standard_error = sqrt(squares / (n - 1) / n);
    /* written so that NaN, which compares false, does not converge */
    return standard_error < tol * fabs(mean);
}
