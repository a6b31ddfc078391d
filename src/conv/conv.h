/* 2-D convolution on oneDNN: square kernel (1 or 3), stride 1, "same" padding (k/2), optional
 * bias, optional fused ReLU (inference only: in training the ReLU is fused into batch norm).
 *
 *   doubt_conv_desc d = { .name = "enc.0.conv1", .in_channels = 3, .out_channels = 32,
 *                         .kernel = 3 };
 *   doubt_conv *conv;
 *   doubt_conv_create(ctx, &d, &src.md, DOUBT_MODE_TRAIN, &conv);
 *   doubt_conv_forward(ctx, conv, &src);        -> conv->dst
 *   doubt_conv_backward(ctx, conv, &diff_dst);  -> conv->diff_src, diff_weight, diff_bias
 *
 * weight is [O, I, k, k] (PyTorch's order) in the layout the primitive chose; load and save
 * it with doubt_tensor_write/read, which speak plain OIHW. Gradients are overwritten, not
 * accumulated, by each backward.
 */
#ifndef DOUBT_CONV_CONV_H
#define DOUBT_CONV_CONV_H

#include "layer.h"

typedef struct {
    const char *name;
    int in_channels;
    int out_channels;
    int kernel;    /* 1 or 3 */
    int bias;      /* 1: add a learned per-channel bias */
    int fuse_relu; /* DOUBT_MODE_INFER only: ReLU as a post-op */
    int no_input_grad; /* TRAIN: skip diff_src (a network's first layer needs none) */
    /* INFER only: dst += conv(src) (+ bias) before the ReLU, instead of dst = ...: the caller
     * fills dst with a partial sum first (a convolution split over its input channels) */
    int accumulate;
    /* the output's layout; NULL lets the primitive choose (a split convolution's two parts
     * must agree on one) */
    const dnnl_memory_desc_t *dst_md;
    /* a 3×3 layer runs as Winograd F(2×2, 3×3) (winograd.h) where its layouts and the CPU
     * allow, else directly: in training its forward, backward-data and (without a bias)
     * backward-weights, transforming the weights each step; in inference call
     * doubt_conv_weights_changed after each write of the weights or bias */
    int winograd;
} doubt_conv_desc;

typedef struct {
    char name[DOUBT_NAME_LEN];
    doubt_conv_desc desc;
    doubt_mode mode;
    doubt_tensor weight, bias;           /* owned parameters */
    doubt_tensor diff_weight, diff_bias; /* owned, TRAIN only */
    doubt_tensor dst, diff_src;          /* arena; diff_src TRAIN only */
    /* backward-data kernels want the weights in another blocking than forward: a copy
     * reordered before each backward, when the layouts differ */
    doubt_tensor bwd_weight;
    dnnl_primitive_desc_t fwd_pd, bwd_data_pd, bwd_weights_pd, weight_reorder_pd;
    dnnl_primitive_t fwd, bwd_data, bwd_weights, weight_reorder;
    const doubt_tensor *src; /* borrowed from forward until backward */
    /* NULL: the oneDNN primitives run; the backward one only in training */
    struct doubt_winograd *winograd, *winograd_bwd;
    doubt_tensor plain_weight; /* the weights in plain OIHW for the Winograd transforms */
    dnnl_primitive_desc_t plain_reorder_pd, plain_grad_reorder_pd;
    dnnl_primitive_t plain_reorder; /* made only when the weights' layout is not plain */
    /* training without a bias: the weight gradient by Winograd too, plain, then reordered */
    int winograd_grad;
    doubt_tensor plain_diff_weight;
    dnnl_primitive_t plain_grad_reorder;
} doubt_conv;

doubt_status doubt_conv_create(doubt_ctx *ctx, const doubt_conv_desc *desc,
                               const dnnl_memory_desc_t *src_md, doubt_mode mode,
                               doubt_conv **out);
doubt_status doubt_conv_forward(doubt_ctx *ctx, doubt_conv *conv, const doubt_tensor *src);
/* INFER, after the weights or bias were written: a Winograd layer transforms them (else
 * nothing). */
doubt_status doubt_conv_weights_changed(doubt_ctx *ctx, doubt_conv *conv);
doubt_status doubt_conv_backward(doubt_ctx *ctx, doubt_conv *conv, const doubt_tensor *diff_dst);
void doubt_conv_destroy(doubt_conv *conv);

#endif
