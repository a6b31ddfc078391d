/* Naive double-precision reference layers for the conv tests: the obvious loops, written
 * from the definitions, each backward checked against central differences in test_conv.c
 * before it is used to judge oneDNN's. All tensors are plain row-major NCHW / OIHW. */
#ifndef DOUBT_TESTS_LAYER_REF_H
#define DOUBT_TESTS_LAYER_REF_H

typedef struct {
    int n, c, h, w;
} ref_shape;

static inline long ref_count(ref_shape s)
{
    return (long)s.n * s.c * s.h * s.w;
}

/* convolution, stride 1, padding k/2; b may be NULL */
void ref_conv_fwd(ref_shape in, int out_c, int k, const double *x, const double *wt,
                  const double *b, double *y);
void ref_conv_bwd(ref_shape in, int out_c, int k, const double *x, const double *wt,
                  const double *dy, double *dx, double *dw, double *db);

/* batch norm with batch statistics (biased variance); relu applied after when fuse_relu */
void ref_bn_fwd(ref_shape s, const double *x, const double *gamma, const double *beta,
                double eps, int fuse_relu, double *y, double *mean, double *var);
void ref_bn_bwd(ref_shape s, const double *x, const double *gamma, const double *beta,
                double eps, int fuse_relu, const double *dy, double *dx, double *dgamma,
                double *dbeta);

/* 2x2 max pool, stride 2, floor */
void ref_pool_fwd(ref_shape s, const double *x, double *y);
void ref_pool_bwd(ref_shape s, const double *x, const double *dy, double *dx);

/* bilinear x2, half-pixel centres (align_corners = False) */
void ref_upsample_fwd(ref_shape s, const double *x, double *y);
void ref_upsample_bwd(ref_shape s, const double *dy, double *dx);

#endif
