#include "pool.h"

#include <stdlib.h>

doubt_status doubt_pool_create(doubt_ctx *ctx, const char *name, const dnnl_memory_desc_t *src_md,
                               doubt_mode mode, int keep_indices, doubt_pool **out)
{
    doubt_status st = DOUBT_OK;
    *out = NULL;
    const char *label = name ? name : "pool";
    if ((st = doubt_check_activation(ctx, src_md, 0, label)) != DOUBT_OK)
        return st;
    if (src_md->dims[2] < 2 || src_md->dims[3] < 2)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "pool %s: input %lldx%lld is smaller than 2x2",
                          label, (long long)src_md->dims[2], (long long)src_md->dims[3]);
    doubt_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "pool: out of memory");
    doubt_name_copy(pool->name, name, "pool");
    pool->mode = mode;
    pool->keep_indices = keep_indices || mode == DOUBT_MODE_TRAIN;

    const int64_t ddims[4] = {src_md->dims[0], src_md->dims[1], src_md->dims[2] / 2,
                              src_md->dims[3] / 2};
    dnnl_memory_desc_t dst_any = doubt_md_make(4, ddims, dnnl_format_tag_any);
    /* oneDNN's output size (H - 2 + 0) / 2 + 1 rounds down: floor mode without padding */
    const dnnl_dims_t strides = {2, 2}, kernel = {2, 2}, pad_l = {0, 0}, pad_r = {0, 0};
    dnnl_pooling_desc_t fwd_desc;
    DOUBT_DNNL(ctx, dnnl_pooling_forward_desc_init(
                        &fwd_desc,
                        pool->keep_indices ? dnnl_forward_training : dnnl_forward_inference,
                        dnnl_pooling_max, src_md, &dst_any, strides, kernel, pad_l, pad_r));
    DOUBT_TRY(doubt_primitive_make(ctx, &fwd_desc, NULL, NULL, &pool->fwd_pd, &pool->fwd,
                                   pool->name));
    DOUBT_TRY(doubt_tensor_init(ctx, &pool->dst, doubt_pd_md(pool->fwd_pd, dnnl_query_dst_md),
                                DOUBT_TENSOR_ARENA, pool->name));
    if (pool->keep_indices)
        DOUBT_TRY(doubt_tensor_init(ctx, &pool->workspace,
                                    doubt_pd_md(pool->fwd_pd, dnnl_query_workspace_md),
                                    DOUBT_TENSOR_ARENA, pool->name));
    if (mode == DOUBT_MODE_TRAIN) {
        dnnl_pooling_desc_t bwd_desc;
        DOUBT_DNNL(ctx, dnnl_pooling_backward_desc_init(&bwd_desc, dnnl_pooling_max, src_md,
                                                        &pool->dst.md, strides, kernel, pad_l,
                                                        pad_r));
        DOUBT_TRY(doubt_primitive_make(ctx, &bwd_desc, NULL, pool->fwd_pd, &pool->bwd_pd,
                                       &pool->bwd, pool->name));
        DOUBT_TRY(doubt_tensor_init(ctx, &pool->diff_src, src_md, DOUBT_TENSOR_ARENA, pool->name));
    }
    *out = pool;
    pool = NULL;
done:
    doubt_pool_destroy(pool);
    return st;
}

doubt_status doubt_pool_forward(doubt_ctx *ctx, doubt_pool *pool, const doubt_tensor *src)
{
    if (!pool || !src || !src->mem)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "pool forward: NULL layer or input");
    if (!dnnl_memory_desc_equal(&src->md, doubt_pd_md(pool->fwd_pd, dnnl_query_src_md)))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "pool %s: input differs from its build shape",
                          pool->name);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, src->mem},
                               {DNNL_ARG_DST, pool->dst.mem},
                               {DNNL_ARG_WORKSPACE, pool->workspace.mem}};
    return doubt_ctx_execute(ctx, pool->fwd, pool->keep_indices ? 3 : 2, args,
                             pool->name);
}

doubt_status doubt_pool_backward(doubt_ctx *ctx, doubt_pool *pool, const doubt_tensor *diff_dst)
{
    if (!pool || !diff_dst || !diff_dst->mem)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "pool backward: NULL layer or gradient");
    if (pool->mode != DOUBT_MODE_TRAIN)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "pool %s: backward needs a training layer",
                          pool->name);
    if (!dnnl_memory_desc_equal(&diff_dst->md, &pool->dst.md))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "pool %s: gradient differs from the output",
                          pool->name);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, diff_dst->mem},
                               {DNNL_ARG_WORKSPACE, pool->workspace.mem},
                               {DNNL_ARG_DIFF_SRC, pool->diff_src.mem}};
    return doubt_ctx_execute(ctx, pool->bwd, 3, args, pool->name);
}

void doubt_pool_destroy(doubt_pool *pool)
{
    if (!pool)
        return;
    dnnl_primitive_destroy(pool->fwd);
    dnnl_primitive_destroy(pool->bwd);
    dnnl_primitive_desc_destroy(pool->fwd_pd);
    dnnl_primitive_desc_destroy(pool->bwd_pd);
    doubt_tensor_release(&pool->dst);
    doubt_tensor_release(&pool->diff_src);
    doubt_tensor_release(&pool->workspace);
    free(pool);
}
