/* Standalone ReLU on oneDNN's eltwise primitive, for places where it cannot be fused into a
 * convolution (inference) or a batch norm (training). Backward reads the forward's input. */
#ifndef DOUBT_CONV_RELU_H
#define DOUBT_CONV_RELU_H

#include "layer.h"

typedef struct {
    char name[DOUBT_NAME_LEN];
    doubt_mode mode;
    doubt_tensor dst, diff_src; /* arena */
    dnnl_primitive_desc_t fwd_pd, bwd_pd;
    dnnl_primitive_t fwd, bwd;
    const doubt_tensor *src; /* borrowed from forward until backward */
} doubt_relu;

doubt_status doubt_relu_create(doubt_ctx *ctx, const char *name, const dnnl_memory_desc_t *src_md,
                               doubt_mode mode, doubt_relu **out);
doubt_status doubt_relu_forward(doubt_ctx *ctx, doubt_relu *relu, const doubt_tensor *src);
doubt_status doubt_relu_backward(doubt_ctx *ctx, doubt_relu *relu, const doubt_tensor *diff_dst);
void doubt_relu_destroy(doubt_relu *relu);

#endif
