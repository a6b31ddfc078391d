#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static uint32_t xorshift(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

void th_fill_d(double *x, int64_t n, uint32_t seed, double lo, double hi)
{
    uint32_t state = seed * 2654435761u + 12345u;
    for (int64_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (xorshift(&state) >> 8) / 16777216.0;
}

void th_fill(float *x, int64_t n, uint32_t seed, float lo, float hi)
{
    uint32_t state = seed * 2654435761u + 12345u;
    for (int64_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)((xorshift(&state) >> 8) / 16777216.0);
}

static double scale_of(const double *b, int64_t n)
{
    double m = 1e-6;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs(b[i]));
    return m;
}

double th_rel_err(const float *a, const double *b, int64_t n)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        worst = isnan(d) ? INFINITY : fmax(worst, d);
    }
    return worst / scale_of(b, n);
}

double th_rel_err_dd(const double *a, const double *b, int64_t n)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        worst = isnan(d) ? INFINITY : fmax(worst, d);
    }
    return worst / scale_of(b, n);
}

void th_numeric_grad(th_scalar_fn f, double *x, int64_t n, double h, void *user, double *grad)
{
    for (int64_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double up = f(x, user);
        x[i] = keep - h;
        double down = f(x, user);
        x[i] = keep;
        grad[i] = (up - down) / (2 * h);
    }
}

doubt_ctx *th_ctx(int threads)
{
    doubt_ctx *ctx = NULL;
    doubt_error err = {{0}};
    doubt_status st = doubt_ctx_create(threads, &ctx, &err);
    ck_assert_msg(st == DOUBT_OK, "context: %s", err.msg);
    return ctx;
}

int th_run(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
