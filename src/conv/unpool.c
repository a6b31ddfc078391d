#include "unpool.h"

#include <stdlib.h>

static const dnnl_dims_t STRIDES = {2, 2}, KERNEL = {2, 2}, NO_PAD = {0, 0};

/* The backward parts: the mask of winning positions, mask·gradient, its 2×2 averages. */
static doubt_status create_backward(doubt_ctx *ctx, doubt_unpool *u,
                                    const dnnl_memory_desc_t *value_md,
                                    const dnnl_memory_desc_t *pool_dst_md)
{
    doubt_status st = DOUBT_OK;
    DOUBT_TRY(doubt_tensor_init(ctx, &u->fours, pool_dst_md, DOUBT_TENSOR_ARENA, u->name));
    const size_t n = doubt_tensor_bytes(&u->fours) / sizeof(float);
    for (size_t i = 0; i < n; i++)
        u->fours.data[i] = 4.0f; /* blocked padding included: it lands on no position */
    DOUBT_TRY(doubt_tensor_init(ctx, &u->mask, &u->dst.md, DOUBT_TENSOR_ARENA, u->name));
    DOUBT_TRY(doubt_tensor_init(ctx, &u->masked, &u->dst.md, DOUBT_TENSOR_ARENA, u->name));
    dnnl_binary_desc_t mul;
    DOUBT_DNNL(ctx, dnnl_binary_desc_init(&mul, dnnl_binary_mul, &u->dst.md, &u->dst.md,
                                          &u->dst.md));
    DOUBT_TRY(doubt_primitive_make(ctx, &mul, NULL, NULL, &u->mul_pd, &u->mul, u->name));
    dnnl_pooling_desc_t avg;
    DOUBT_DNNL(ctx, dnnl_pooling_forward_desc_init(&avg, dnnl_forward_inference,
                                                   dnnl_pooling_avg_exclude_padding, &u->dst.md,
                                                   pool_dst_md, STRIDES, KERNEL, NO_PAD, NO_PAD));
    DOUBT_TRY(doubt_primitive_make(ctx, &avg, NULL, NULL, &u->sum_pd, &u->sum, u->name));
    DOUBT_TRY(doubt_tensor_init(ctx, &u->diff_src, value_md, DOUBT_TENSOR_ARENA, u->name));
    if (!dnnl_memory_desc_equal(value_md, pool_dst_md)) {
        DOUBT_TRY(doubt_tensor_init(ctx, &u->sum_dst, pool_dst_md, DOUBT_TENSOR_ARENA, u->name));
        DOUBT_TRY(doubt_reorder_make(ctx, pool_dst_md, value_md, &u->diff_reorder_pd, &u->diff_reorder));
    }
done:
    return st;
}

doubt_status doubt_unpool_create(doubt_ctx *ctx, const char *name,
                                 const dnnl_memory_desc_t *value_md,
                                 const dnnl_memory_desc_t *pool_src_md,
                                 const dnnl_memory_desc_t *pool_dst_md,
                                 const dnnl_memory_desc_t *workspace_md, doubt_mode mode,
                                 doubt_unpool **out)
{
    doubt_status st = DOUBT_OK;
    *out = NULL;
    const char *label = name ? name : "unpool";
    if ((st = doubt_check_activation(ctx, value_md, 0, label)) != DOUBT_OK ||
        (st = doubt_check_activation(ctx, pool_src_md, (int)value_md->dims[1], label)) !=
            DOUBT_OK)
        return st;
    for (int k = 0; k < 4; k++)
        if (value_md->dims[k] != pool_dst_md->dims[k])
            return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                              "unpool %s: values of %lldx%lldx%lldx%lld, but the pool's output "
                              "is %lldx%lldx%lldx%lld",
                              label, (long long)value_md->dims[0], (long long)value_md->dims[1],
                              (long long)value_md->dims[2], (long long)value_md->dims[3],
                              (long long)pool_dst_md->dims[0], (long long)pool_dst_md->dims[1],
                              (long long)pool_dst_md->dims[2], (long long)pool_dst_md->dims[3]);
    doubt_unpool *u = calloc(1, sizeof *u);
    if (!u)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "unpool: out of memory");
    doubt_name_copy(u->name, name, "unpool");
    u->mode = mode;
    u->workspace_md = *workspace_md;

    /* the pool's forward, as the hint its backward needs; its workspace must be the one the
     * pool fills */
    dnnl_pooling_desc_t fwd, bwd;
    DOUBT_DNNL(ctx, dnnl_pooling_forward_desc_init(&fwd, dnnl_forward_training, dnnl_pooling_max,
                                                   pool_src_md, pool_dst_md, STRIDES, KERNEL,
                                                   NO_PAD, NO_PAD));
    DOUBT_DNNL(ctx, dnnl_primitive_desc_create(&u->hint_pd, &fwd, NULL, ctx->engine, NULL));
    if (!dnnl_memory_desc_equal(doubt_pd_md(u->hint_pd, dnnl_query_workspace_md), workspace_md)) {
        st = doubt_fail(&ctx->err, DOUBT_ERR_DNNL,
                        "unpool %s: the pool's indices are in a layout this unpool cannot read",
                        u->name);
        goto done;
    }
    DOUBT_DNNL(ctx, dnnl_pooling_backward_desc_init(&bwd, dnnl_pooling_max, pool_src_md,
                                                    pool_dst_md, STRIDES, KERNEL, NO_PAD, NO_PAD));
    DOUBT_TRY(doubt_primitive_make(ctx, &bwd, NULL, u->hint_pd, &u->place_pd, &u->place, u->name));
    DOUBT_TRY(doubt_tensor_init(ctx, &u->dst, doubt_pd_md(u->place_pd, dnnl_query_diff_src_md),
                                DOUBT_TENSOR_ARENA, u->name));
    if (!dnnl_memory_desc_equal(value_md, pool_dst_md)) {
        DOUBT_TRY(doubt_tensor_init(ctx, &u->value, pool_dst_md, DOUBT_TENSOR_ARENA, u->name));
        DOUBT_TRY(doubt_reorder_make(ctx, value_md, pool_dst_md, &u->value_reorder_pd,
                               &u->value_reorder));
    }
    if (mode == DOUBT_MODE_TRAIN)
        DOUBT_TRY(create_backward(ctx, u, value_md, pool_dst_md));
    *out = u;
    u = NULL;
done:
    doubt_unpool_destroy(u);
    return st;
}

/* Places `values` (the pool's output layout) at the winning positions of `into`. */
static doubt_status place(doubt_ctx *ctx, doubt_unpool *u, const doubt_tensor *values,
                          const doubt_tensor *workspace, doubt_tensor *into)
{
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, values->mem},
                               {DNNL_ARG_WORKSPACE, workspace->mem},
                               {DNNL_ARG_DIFF_SRC, into->mem}};
    return doubt_ctx_execute(ctx, u->place, 3, args, u->name);
}

doubt_status doubt_unpool_forward(doubt_ctx *ctx, doubt_unpool *u, const doubt_tensor *value,
                                  const doubt_tensor *workspace)
{
    doubt_status st = DOUBT_OK;
    if (!u || !value || !value->mem || !workspace || !workspace->mem)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "unpool forward: NULL layer, values or indices");
    if (!dnnl_memory_desc_equal(&workspace->md, &u->workspace_md))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "unpool %s: indices differ from the ones it was built for", u->name);
    if (u->value_reorder) {
        DOUBT_TRY(doubt_reorder_run(ctx, u->value_reorder, value, &u->value, u->name));
        value = &u->value;
    }
    DOUBT_TRY(place(ctx, u, value, workspace, &u->dst));
    if (u->mode == DOUBT_MODE_TRAIN)
        DOUBT_TRY(place(ctx, u, &u->fours, workspace, &u->mask));
done:
    return st;
}

doubt_status doubt_unpool_backward(doubt_ctx *ctx, doubt_unpool *u, const doubt_tensor *diff_dst)
{
    doubt_status st = DOUBT_OK;
    if (!u || !diff_dst || !diff_dst->mem)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "unpool backward: NULL layer or gradient");
    if (u->mode != DOUBT_MODE_TRAIN)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "unpool %s: backward needs a training layer",
                          u->name);
    if (!dnnl_memory_desc_equal(&diff_dst->md, &u->dst.md))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "unpool %s: gradient differs from the output",
                          u->name);
    dnnl_exec_arg_t mul[3] = {{DNNL_ARG_SRC_0, u->mask.mem},
                              {DNNL_ARG_SRC_1, diff_dst->mem},
                              {DNNL_ARG_DST, u->masked.mem}};
    DOUBT_TRY(doubt_ctx_execute(ctx, u->mul, 3, mul, u->name));
    doubt_tensor *sums = u->diff_reorder ? &u->sum_dst : &u->diff_src;
    dnnl_exec_arg_t avg[2] = {{DNNL_ARG_SRC, u->masked.mem}, {DNNL_ARG_DST, sums->mem}};
    DOUBT_TRY(doubt_ctx_execute(ctx, u->sum, 2, avg, u->name));
    if (u->diff_reorder)
        DOUBT_TRY(doubt_reorder_run(ctx, u->diff_reorder, &u->sum_dst, &u->diff_src, u->name));
done:
    return st;
}

void doubt_unpool_destroy(doubt_unpool *u)
{
    if (!u)
        return;
    dnnl_primitive_t prims[] = {u->place, u->value_reorder, u->mul, u->sum, u->diff_reorder};
    dnnl_primitive_desc_t pds[] = {u->hint_pd, u->place_pd, u->value_reorder_pd, u->mul_pd,
                                   u->sum_pd, u->diff_reorder_pd};
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
        dnnl_primitive_destroy(prims[i]);
    for (size_t i = 0; i < sizeof pds / sizeof pds[0]; i++)
        dnnl_primitive_desc_destroy(pds[i]);
    doubt_tensor *tensors[] = {&u->dst, &u->value, &u->fours, &u->mask, &u->masked, &u->diff_src,
                               &u->sum_dst};
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++)
        doubt_tensor_release(tensors[i]);
    free(u);
}
