#include "layer_ref.h"

#include <math.h>
#include <string.h>

static inline long AT(ref_shape s, int n, int c, int y, int x)
{
    return (((long)n * s.c + c) * s.h + y) * s.w + x;
}

void ref_conv_fwd(ref_shape in, int out_c, int k, const double *x, const double *wt,
                  const double *b, double *y)
{
    ref_shape out = {in.n, out_c, in.h, in.w};
    int pad = k / 2;
    for (int n = 0; n < in.n; n++)
        for (int o = 0; o < out_c; o++)
            for (int r = 0; r < in.h; r++)
                for (int q = 0; q < in.w; q++) {
                    double sum = b ? b[o] : 0;
                    for (int i = 0; i < in.c; i++)
                        for (int kr = 0; kr < k; kr++)
                            for (int kq = 0; kq < k; kq++) {
                                int sr = r + kr - pad, sq = q + kq - pad;
                                if (sr < 0 || sr >= in.h || sq < 0 || sq >= in.w)
                                    continue;
                                sum += x[AT(in, n, i, sr, sq)] *
                                       wt[((o * in.c + i) * k + kr) * k + kq];
                            }
                    y[AT(out, n, o, r, q)] = sum;
                }
}

void ref_conv_bwd(ref_shape in, int out_c, int k, const double *x, const double *wt,
                  const double *dy, double *dx, double *dw, double *db)
{
    ref_shape out = {in.n, out_c, in.h, in.w};
    int pad = k / 2;
    memset(dx, 0, sizeof *dx * ref_count(in));
    memset(dw, 0, sizeof *dw * (long)out_c * in.c * k * k);
    if (db)
        memset(db, 0, sizeof *db * out_c);
    for (int n = 0; n < in.n; n++)
        for (int o = 0; o < out_c; o++)
            for (int r = 0; r < in.h; r++)
                for (int q = 0; q < in.w; q++) {
                    double g = dy[AT(out, n, o, r, q)];
                    if (db)
                        db[o] += g;
                    for (int i = 0; i < in.c; i++)
                        for (int kr = 0; kr < k; kr++)
                            for (int kq = 0; kq < k; kq++) {
                                int sr = r + kr - pad, sq = q + kq - pad;
                                if (sr < 0 || sr >= in.h || sq < 0 || sq >= in.w)
                                    continue;
                                long wi = ((o * in.c + i) * k + kr) * k + kq;
                                dx[AT(in, n, i, sr, sq)] += g * wt[wi];
                                dw[wi] += g * x[AT(in, n, i, sr, sq)];
                            }
                }
}

static void bn_stats(ref_shape s, const double *x, int c, double *mean, double *var)
{
    double m = (double)s.n * s.h * s.w, sum = 0, sq = 0;
    for (int n = 0; n < s.n; n++)
        for (int r = 0; r < s.h; r++)
            for (int q = 0; q < s.w; q++)
                sum += x[AT(s, n, c, r, q)];
    *mean = sum / m;
    for (int n = 0; n < s.n; n++)
        for (int r = 0; r < s.h; r++)
            for (int q = 0; q < s.w; q++) {
                double d = x[AT(s, n, c, r, q)] - *mean;
                sq += d * d;
            }
    *var = sq / m;
}

void ref_bn_fwd(ref_shape s, const double *x, const double *gamma, const double *beta,
                double eps, int fuse_relu, double *y, double *mean, double *var)
{
    for (int c = 0; c < s.c; c++) {
        bn_stats(s, x, c, &mean[c], &var[c]);
        double inv = 1 / sqrt(var[c] + eps);
        for (int n = 0; n < s.n; n++)
            for (int r = 0; r < s.h; r++)
                for (int q = 0; q < s.w; q++) {
                    long i = AT(s, n, c, r, q);
                    double v = gamma[c] * (x[i] - mean[c]) * inv + beta[c];
                    y[i] = fuse_relu && v < 0 ? 0 : v;
                }
    }
}

void ref_bn_bwd(ref_shape s, const double *x, const double *gamma, const double *beta,
                double eps, int fuse_relu, const double *dy, double *dx, double *dgamma,
                double *dbeta)
{
    double m = (double)s.n * s.h * s.w;
    for (int c = 0; c < s.c; c++) {
        double mean, var;
        bn_stats(s, x, c, &mean, &var);
        double inv = 1 / sqrt(var + eps), sum_g = 0, sum_gx = 0;
        for (int n = 0; n < s.n; n++)
            for (int r = 0; r < s.h; r++)
                for (int q = 0; q < s.w; q++) {
                    long i = AT(s, n, c, r, q);
                    double xhat = (x[i] - mean) * inv;
                    double g = fuse_relu && gamma[c] * xhat + beta[c] < 0 ? 0 : dy[i];
                    sum_g += g;
                    sum_gx += g * xhat;
                }
        dgamma[c] = sum_gx;
        dbeta[c] = sum_g;
        for (int n = 0; n < s.n; n++)
            for (int r = 0; r < s.h; r++)
                for (int q = 0; q < s.w; q++) {
                    long i = AT(s, n, c, r, q);
                    double xhat = (x[i] - mean) * inv;
                    double g = fuse_relu && gamma[c] * xhat + beta[c] < 0 ? 0 : dy[i];
                    dx[i] = gamma[c] * inv / m * (m * g - sum_g - xhat * sum_gx);
                }
    }
}

void ref_pool_fwd(ref_shape s, const double *x, double *y)
{
    ref_shape o = {s.n, s.c, s.h / 2, s.w / 2};
    for (int n = 0; n < s.n; n++)
        for (int c = 0; c < s.c; c++)
            for (int r = 0; r < o.h; r++)
                for (int q = 0; q < o.w; q++) {
                    double best = -INFINITY;
                    for (int a = 0; a < 2; a++)
                        for (int b = 0; b < 2; b++)
                            best = fmax(best, x[AT(s, n, c, 2 * r + a, 2 * q + b)]);
                    y[AT(o, n, c, r, q)] = best;
                }
}

void ref_pool_bwd(ref_shape s, const double *x, const double *dy, double *dx)
{
    ref_shape o = {s.n, s.c, s.h / 2, s.w / 2};
    memset(dx, 0, sizeof *dx * ref_count(s));
    for (int n = 0; n < s.n; n++)
        for (int c = 0; c < s.c; c++)
            for (int r = 0; r < o.h; r++)
                for (int q = 0; q < o.w; q++) {
                    long arg = AT(s, n, c, 2 * r, 2 * q);
                    for (int a = 0; a < 2; a++)
                        for (int b = 0; b < 2; b++) {
                            long i = AT(s, n, c, 2 * r + a, 2 * q + b);
                            if (x[i] > x[arg])
                                arg = i;
                        }
                    dx[arg] += dy[AT(o, n, c, r, q)];
                }
}

/* source index pair and weight of output coordinate `o` for a x2 half-pixel upsample */
static void taps(int o, int in, int *i0, int *i1, double *frac)
{
    double src = (o + 0.5) / 2.0 - 0.5;
    if (src < 0)
        src = 0;
    *i0 = (int)floor(src);
    if (*i0 > in - 1)
        *i0 = in - 1;
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    *frac = src - *i0;
}

void ref_upsample_fwd(ref_shape s, const double *x, double *y)
{
    ref_shape o = {s.n, s.c, s.h * 2, s.w * 2};
    for (int n = 0; n < s.n; n++)
        for (int c = 0; c < s.c; c++)
            for (int r = 0; r < o.h; r++)
                for (int q = 0; q < o.w; q++) {
                    int r0, r1, q0, q1;
                    double fr, fq;
                    taps(r, s.h, &r0, &r1, &fr);
                    taps(q, s.w, &q0, &q1, &fq);
                    y[AT(o, n, c, r, q)] =
                        (1 - fr) * ((1 - fq) * x[AT(s, n, c, r0, q0)] + fq * x[AT(s, n, c, r0, q1)]) +
                        fr * ((1 - fq) * x[AT(s, n, c, r1, q0)] + fq * x[AT(s, n, c, r1, q1)]);
                }
}

void ref_upsample_bwd(ref_shape s, const double *dy, double *dx)
{
    ref_shape o = {s.n, s.c, s.h * 2, s.w * 2};
    memset(dx, 0, sizeof *dx * ref_count(s));
    for (int n = 0; n < s.n; n++)
        for (int c = 0; c < s.c; c++)
            for (int r = 0; r < o.h; r++)
                for (int q = 0; q < o.w; q++) {
                    int r0, r1, q0, q1;
                    double fr, fq, g = dy[AT(o, n, c, r, q)];
                    taps(r, s.h, &r0, &r1, &fr);
                    taps(q, s.w, &q0, &q1, &fq);
                    dx[AT(s, n, c, r0, q0)] += g * (1 - fr) * (1 - fq);
                    dx[AT(s, n, c, r0, q1)] += g * (1 - fr) * fq;
                    dx[AT(s, n, c, r1, q0)] += g * fr * (1 - fq);
                    dx[AT(s, n, c, r1, q1)] += g * fr * fq;
                }
}
