#include "upsample.h"

#include <stdlib.h>

doubt_status doubt_upsample_create(doubt_ctx *ctx, const char *name,
                                   const dnnl_memory_desc_t *src_md, doubt_mode mode,
                                   doubt_upsample **out)
{
    doubt_status st = DOUBT_OK;
    *out = NULL;
    if ((st = doubt_check_activation(ctx, src_md, 0, name ? name : "upsample")) != DOUBT_OK)
        return st;
    doubt_upsample *up = calloc(1, sizeof *up);
    if (!up)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "upsample: out of memory");
    doubt_name_copy(up->name, name, "upsample");
    up->mode = mode;

    const float factors[2] = {2.f, 2.f};
    const int64_t ddims[4] = {src_md->dims[0], src_md->dims[1], src_md->dims[2] * 2,
                              src_md->dims[3] * 2};
    dnnl_memory_desc_t dst_any = doubt_md_make(4, ddims, dnnl_format_tag_any);
    dnnl_resampling_desc_t fwd_desc;
    DOUBT_DNNL(ctx, dnnl_resampling_forward_desc_init(
                        &fwd_desc,
                        mode == DOUBT_MODE_TRAIN ? dnnl_forward_training : dnnl_forward_inference,
                        dnnl_resampling_linear, factors, src_md, &dst_any));
    DOUBT_TRY(doubt_primitive_make(ctx, &fwd_desc, NULL, NULL, &up->fwd_pd, &up->fwd, up->name));
    DOUBT_TRY(doubt_tensor_init(ctx, &up->dst, doubt_pd_md(up->fwd_pd, dnnl_query_dst_md),
                                DOUBT_TENSOR_ARENA, up->name));
    if (mode == DOUBT_MODE_TRAIN) {
        dnnl_resampling_desc_t bwd_desc;
        DOUBT_DNNL(ctx, dnnl_resampling_backward_desc_init(&bwd_desc, dnnl_resampling_linear,
                                                           factors, src_md, &up->dst.md));
        DOUBT_TRY(doubt_primitive_make(ctx, &bwd_desc, NULL, up->fwd_pd, &up->bwd_pd, &up->bwd,
                                       up->name));
        DOUBT_TRY(doubt_tensor_init(ctx, &up->diff_src, src_md, DOUBT_TENSOR_ARENA, up->name));
    }
    *out = up;
    up = NULL;
done:
    doubt_upsample_destroy(up);
    return st;
}

doubt_status doubt_upsample_forward(doubt_ctx *ctx, doubt_upsample *up, const doubt_tensor *src)
{
    if (!up || !src || !src->mem)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "upsample forward: NULL layer or input");
    if (!dnnl_memory_desc_equal(&src->md, doubt_pd_md(up->fwd_pd, dnnl_query_src_md)))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "upsample %s: input differs from its build shape", up->name);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, src->mem}, {DNNL_ARG_DST, up->dst.mem}};
    return doubt_ctx_execute(ctx, up->fwd, 2, args, up->name);
}

doubt_status doubt_upsample_backward(doubt_ctx *ctx, doubt_upsample *up,
                                     const doubt_tensor *diff_dst)
{
    if (!up || !diff_dst || !diff_dst->mem)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "upsample backward: NULL layer or gradient");
    if (up->mode != DOUBT_MODE_TRAIN)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "upsample %s: backward needs a training layer",
                          up->name);
    if (!dnnl_memory_desc_equal(&diff_dst->md, &up->dst.md))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "upsample %s: gradient differs from the output", up->name);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_DIFF_DST, diff_dst->mem},
                               {DNNL_ARG_DIFF_SRC, up->diff_src.mem}};
    return doubt_ctx_execute(ctx, up->bwd, 2, args, up->name);
}

void doubt_upsample_destroy(doubt_upsample *up)
{
    if (!up)
        return;
    dnnl_primitive_destroy(up->fwd);
    dnnl_primitive_destroy(up->bwd);
    dnnl_primitive_desc_destroy(up->fwd_pd);
    dnnl_primitive_desc_destroy(up->bwd_pd);
    doubt_tensor_release(&up->dst);
    doubt_tensor_release(&up->diff_src);
    free(up);
}
