/* 2×2 max pooling, stride 2, floor mode (PyTorch's default): H×W → ⌊H/2⌋×⌊W/2⌋.
 * In training, and in inference with keep_indices (a max unpool reads them: unpool.h), the
 * forward records which input won each window in `workspace`; backward routes the gradient
 * there. */
#ifndef DOUBT_CONV_POOL_H
#define DOUBT_CONV_POOL_H

#include "layer.h"

typedef struct {
    char name[DOUBT_NAME_LEN];
    doubt_mode mode;
    int keep_indices; /* workspace filled by every forward */
    doubt_tensor dst, diff_src, workspace; /* arena */
    dnnl_primitive_desc_t fwd_pd, bwd_pd;
    dnnl_primitive_t fwd, bwd;
} doubt_pool;

doubt_status doubt_pool_create(doubt_ctx *ctx, const char *name, const dnnl_memory_desc_t *src_md,
                               doubt_mode mode, int keep_indices, doubt_pool **out);
doubt_status doubt_pool_forward(doubt_ctx *ctx, doubt_pool *pool, const doubt_tensor *src);
doubt_status doubt_pool_backward(doubt_ctx *ctx, doubt_pool *pool, const doubt_tensor *diff_dst);
void doubt_pool_destroy(doubt_pool *pool);

#endif
