/* 2×2 max unpooling with the indices a max pool kept (SegNet's decoder): each value goes back
 * to the position of its 2×2 window that won the pool, the other three positions get 0.
 *
 *   doubt_unpool *u;
 *   doubt_unpool_create(ctx, "dec.0.unpool", &value.md, pool_input_md,
 *                       &pool->dst.md, &pool->workspace.md, mode, &u);
 *   doubt_unpool_forward(ctx, u, &value, &pool->workspace);   -> u->dst (the pool's input size)
 *   doubt_unpool_backward(ctx, u, &diff_dst);                  -> u->diff_src (value's layout)
 *
 * oneDNN's max-pool backward with the pool's workspace places values exactly so, so forward
 * runs that primitive with the values as its "gradient". The gradient of a value is the
 * incoming gradient at the position it went to: backward multiplies the incoming gradient by
 * the mask of those positions (an unpool of 4s, made by the training forward) and takes 2×2
 * averages, so each window gives 4·g/4 = g, exactly.
 */
#ifndef DOUBT_CONV_UNPOOL_H
#define DOUBT_CONV_UNPOOL_H

#include "layer.h"

typedef struct {
    char name[DOUBT_NAME_LEN];
    doubt_mode mode;
    dnnl_memory_desc_t workspace_md;
    doubt_tensor dst;         /* arena, the pool's input layout */
    doubt_tensor value;       /* arena, only when the values' layout is not the pool output's */
    doubt_tensor fours, mask, masked, diff_src; /* arena, TRAIN only */
    dnnl_primitive_desc_t hint_pd, place_pd, value_reorder_pd, mul_pd, sum_pd, diff_reorder_pd;
    dnnl_primitive_t place, value_reorder, mul, sum, diff_reorder;
    doubt_tensor sum_dst;     /* arena, TRAIN, when diff_src's layout differs from it */
} doubt_unpool;

/* value_md: the values' layout; pool_src_md, pool_dst_md, workspace_md: those of the pool
 * whose indices are used (its input, output and workspace). */
doubt_status doubt_unpool_create(doubt_ctx *ctx, const char *name,
                                 const dnnl_memory_desc_t *value_md,
                                 const dnnl_memory_desc_t *pool_src_md,
                                 const dnnl_memory_desc_t *pool_dst_md,
                                 const dnnl_memory_desc_t *workspace_md, doubt_mode mode,
                                 doubt_unpool **out);
doubt_status doubt_unpool_forward(doubt_ctx *ctx, doubt_unpool *u, const doubt_tensor *value,
                                  const doubt_tensor *workspace);
doubt_status doubt_unpool_backward(doubt_ctx *ctx, doubt_unpool *u, const doubt_tensor *diff_dst);
void doubt_unpool_destroy(doubt_unpool *u);

#endif
