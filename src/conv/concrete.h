/* Concrete dropout (Gal, Hron & Kendall 2017), channel-wise, for training: the drop rate
 * p = sigmoid(p_logit) is a parameter learned by gradient through a relaxed Bernoulli mask.
 * For batch row n and channel c, with u ~ U(0, 1) from Philox (key: seed, stream =
 * sample_base + n, layer = layer_id; index c):
 *   z = sigmoid((log p - log(1-p) + log u - log(1-u)) / t),   y = x · (1 - z) / (1 - p)
 * one z per (n, c), shared by every pixel of the plane (noise of shape [N, C, 1, 1]).
 * Backward gives dL/dx = dL/dy · (1 - z)/(1 - p) and
 *   dL/dp_logit = Σ_{n,c} S_nc · (p (1 - z) - z (1 - z) / t) / (1 - p),  S_nc = Σ_hw dL/dy · x.
 * The scaling and the sums run on oneDNN (binary multiply with a broadcast [N, C, 1, 1]
 * factor, a sum reduction); only the N·C mask values are computed here. Prediction runs
 * ordinary channel-wise Bernoulli dropout at p (dropout.h).
 */
#ifndef DOUBT_CONV_CONCRETE_H
#define DOUBT_CONV_CONCRETE_H

#include "layer.h"

typedef struct {
    const char *name;
    float temperature; /* t; 0 means DOUBT_CONCRETE_TEMPERATURE */
    uint64_t seed;
    uint32_t layer_id;
} doubt_concrete_desc;

/* bench/concrete/temperature.py: at 0.1 the relaxed masks keep the Bernoulli scale to 0.3%
 * and 85-97% of them are within 0.05 of 0 or 1; at the 2/3 of the paper's spatial version the
 * kept scale is up to 6% low, so prediction's Bernoulli masks would see other activations. */
#define DOUBT_CONCRETE_TEMPERATURE 0.1f

typedef struct {
    char name[DOUBT_NAME_LEN];
    doubt_concrete_desc desc;
    doubt_tensor p_logit, diff_p_logit; /* owned, plain [1] */
    doubt_tensor factor;                /* owned, plain [N, C, 1, 1]: (1 - z)/(1 - p) */
    doubt_tensor sums;                  /* owned, plain [N, C, 1, 1]: S_nc */
    float *z;                           /* [N·C] of the last forward */
    doubt_tensor dst, diff_src, product; /* arena */
    dnnl_primitive_desc_t scale_pd, mul_pd, sum_pd;
    dnnl_primitive_t scale, mul, sum;
    const doubt_tensor *src; /* borrowed from forward until backward */
} doubt_concrete;

/* Training only; p_logit starts at logit(initial_p). */
doubt_status doubt_concrete_create(doubt_ctx *ctx, const doubt_concrete_desc *desc,
                                   const dnnl_memory_desc_t *src_md, float initial_p,
                                   doubt_concrete **out);
doubt_status doubt_concrete_forward(doubt_ctx *ctx, doubt_concrete *c, const doubt_tensor *src,
                                    uint64_t sample_base);
/* Writes diff_src and diff_p_logit (overwritten, not accumulated). */
doubt_status doubt_concrete_backward(doubt_ctx *ctx, doubt_concrete *c,
                                     const doubt_tensor *diff_dst);
float doubt_concrete_rate(const doubt_concrete *c); /* sigmoid(p_logit) */
void doubt_concrete_destroy(doubt_concrete *c);

#endif
