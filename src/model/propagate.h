/* Sampling-free uncertainty by moment propagation (Postels et al., ICCV 2019): one pass that
 * carries a mean and a variance per element through the network graph instead of T dropout
 * samples.
 *
 *   doubt_propagate *p;
 *   doubt_propagate_create(ctx, net, &p);   // net: any built network of the graph, for its
 *                                           // shape (batch 1) and parameters
 *   doubt_propagate_run(ctx, p, image);     // image: plain [in, H, W]
 *   p->mean, p->var                         // plain [C+3, H, W]: the output's moments
 *
 * Per node, with independence of the elements assumed throughout:
 *   dropout at rate p (inverted): mean μ, variance (v + μ²)/(1−p) − μ² (= v/(1−p) + p/(1−p)·μ²,
 *     the exact moments of x·b/(1−p) with b ~ Bernoulli(1−p) independent of x);
 *   convolution: mean through W (and the bias), variance through W² (no bias); a batch norm
 *     after it is folded in first, so it is the affine map it is in inference;
 *   ReLU: the moments of max(x, 0) for Gaussian x (moment matching);
 *   2×2 max pool: Clark's (1961) moments of the max of two Gaussians, as
 *     max(max(x00, x01), max(x10, x11)); an unpool reading it places mean and variance at the
 *     window position of the largest mean;
 *   bilinear ×2 upsampling: the mean through its weights, the variance through their squares;
 *   concatenation and add as they are (variances add).
 * Nodes that depend on no dropout carry no variance and run exactly (the plain max, the ReLU).
 * Concrete dropout's channel-wise masks are treated as element-wise ones with the same rate:
 * the correlation a shared mask creates within a channel is dropped too, so such networks'
 * propagated variances fall further below their Monte Carlo ones.
 * Φ and φ come from Abramowitz & Stegun 7.1.26 (|error of Φ| < 4e-7 in float; core/fastmath.h),
 * so the pass vectorises.
 */
#ifndef DOUBT_MODEL_PROPAGATE_H
#define DOUBT_MODEL_PROPAGATE_H

#include "model/net.h"

typedef struct doubt_propagate_node doubt_propagate_node; /* propagate.c */

typedef struct {
    doubt_graph graph;
    doubt_node_shape shapes[DOUBT_GRAPH_MAX_NODES];
    uint8_t stochastic[DOUBT_GRAPH_MAX_NODES];
    int height, width, out_channels;
    doubt_propagate_node *nodes;
    float *mean, *var; /* plain [out_channels, H, W] of the last run */
    doubt_arena arena; /* the moments' memory, released with the engine */
} doubt_propagate;

/* Builds the pass for net's graph and input size at batch 1, with net's parameters as they
 * are now (the raw ones, batch norms folded here) and its dropout rates (learned ones
 * included). net is only read during the call. */
doubt_status doubt_propagate_create(doubt_ctx *ctx, doubt_net *net, doubt_propagate **out);
void doubt_propagate_destroy(doubt_propagate *p);

doubt_status doubt_propagate_run(doubt_ctx *ctx, doubt_propagate *p, const float *image);

/* The moments of max(x, 0) for x ~ N(mean, var), as the pass computes them (for tests). */
void doubt_propagate_relu_moments(float mean, float var, float *out_mean, float *out_var);
/* The moments of max(a, b) for independent Gaussians a, b (Clark 1961), likewise. */
void doubt_propagate_max_moments(float mean_a, float var_a, float mean_b, float var_b,
                                 float *out_mean, float *out_var);

#endif
