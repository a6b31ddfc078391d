/* Batch normalisation on oneDNN, PyTorch's semantics: eps, momentum, learned scale (weight)
 * and shift (bias), running mean and running variance (unbiased, as PyTorch keeps it).
 *
 * TRAIN: normalises with the batch statistics and, on each forward, updates the running ones:
 *   running = (1 - momentum)·running + momentum·batch   (variance scaled by m/(m-1), m = N·H·W)
 * INFER: normalises with the running statistics.
 * fuse_relu applies ReLU to the output inside the same primitive; in training its backward
 * uses a workspace the forward fills, so ReLU costs no extra pass over memory.
 *
 * Parameters are plain 1-D [C] tensors named like PyTorch: weight, bias, running_mean,
 * running_var. Gradients diff_weight, diff_bias are overwritten by each backward.
 */
#ifndef DOUBT_CONV_BNORM_H
#define DOUBT_CONV_BNORM_H

#include "layer.h"

/* PyTorch's default eps, and what inference folding (doubt_bnorm_fold) uses. */
#define DOUBT_BNORM_EPS 1e-5

typedef struct {
    const char *name;
    int channels;
    float eps;      /* 0 means the default 1e-5 */
    float momentum; /* 0 means the default 0.1 */
    int fuse_relu;
} doubt_bnorm_desc;

typedef struct {
    char name[DOUBT_NAME_LEN];
    doubt_bnorm_desc desc;
    doubt_mode mode;
    doubt_tensor weight, bias, running_mean, running_var; /* owned, [C] */
    doubt_tensor diff_weight, diff_bias;                  /* owned, TRAIN only */
    doubt_tensor batch_mean, batch_var;                   /* arena, TRAIN only */
    doubt_tensor workspace;                               /* arena, TRAIN + fuse_relu */
    doubt_tensor dst, diff_src;
    dnnl_primitive_desc_t fwd_pd, bwd_pd;
    dnnl_primitive_t fwd, bwd;
    const doubt_tensor *src; /* borrowed from forward until backward */
} doubt_bnorm;

/* The convolution a batch norm in inference makes of the one before it: per output channel o
 * (out of `out`, each with per_out weights), weight' = weight·s and bias' = β + (bias − mean)·s
 * with s = γ/√(var + eps), in double; bn = {γ, β, running mean, running var} (plain [out]),
 * NULL for none (the copy); bias NULL reads as 0, bias_out NULL is not written. */
void doubt_bnorm_fold(const float *weight, const float *bias, const float *const *bn,
                      int64_t out, int64_t per_out, float *weight_out, float *bias_out);

doubt_status doubt_bnorm_create(doubt_ctx *ctx, const doubt_bnorm_desc *desc,
                                const dnnl_memory_desc_t *src_md, doubt_mode mode,
                                doubt_bnorm **out);
doubt_status doubt_bnorm_forward(doubt_ctx *ctx, doubt_bnorm *bn, const doubt_tensor *src);
doubt_status doubt_bnorm_backward(doubt_ctx *ctx, doubt_bnorm *bn, const doubt_tensor *diff_dst);
void doubt_bnorm_destroy(doubt_bnorm *bn);

#endif
