#include "relu.h"

#include <stdlib.h>

doubt_status doubt_relu_create(doubt_ctx *ctx, const char *name, const dnnl_memory_desc_t *src_md,
                               doubt_mode mode, doubt_relu **out)
{
    doubt_status st = DOUBT_OK;
    *out = NULL;
    if ((st = doubt_check_activation(ctx, src_md, 0, name ? name : "relu")) != DOUBT_OK)
        return st;
    doubt_relu *relu = calloc(1, sizeof *relu);
    if (!relu)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "relu: out of memory");
    doubt_name_copy(relu->name, name, "relu");
    relu->mode = mode;

    dnnl_eltwise_desc_t fwd_desc;
    DOUBT_DNNL(ctx, dnnl_eltwise_forward_desc_init(
                        &fwd_desc,
                        mode == DOUBT_MODE_TRAIN ? dnnl_forward_training : dnnl_forward_inference,
                        dnnl_eltwise_relu, src_md, 0.f, 0.f));
    DOUBT_TRY(doubt_primitive_make(ctx, &fwd_desc, NULL, NULL, &relu->fwd_pd, &relu->fwd,
                                   relu->name));
    DOUBT_TRY(doubt_tensor_init(ctx, &relu->dst, doubt_pd_md(relu->fwd_pd, dnnl_query_dst_md),
                                DOUBT_TENSOR_ARENA, relu->name));
    if (mode == DOUBT_MODE_TRAIN) {
        dnnl_eltwise_desc_t bwd_desc;
        DOUBT_DNNL(ctx, dnnl_eltwise_backward_desc_init(&bwd_desc, dnnl_eltwise_relu,
                                                        &relu->dst.md, src_md, 0.f, 0.f));
        DOUBT_TRY(doubt_primitive_make(ctx, &bwd_desc, NULL, relu->fwd_pd, &relu->bwd_pd,
                                       &relu->bwd, relu->name));
        DOUBT_TRY(doubt_tensor_init(ctx, &relu->diff_src, src_md, DOUBT_TENSOR_ARENA, relu->name));
    }
    *out = relu;
    relu = NULL;
done:
    doubt_relu_destroy(relu);
    return st;
}

doubt_status doubt_relu_forward(doubt_ctx *ctx, doubt_relu *relu, const doubt_tensor *src)
{
    if (!relu || !src || !src->mem)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "relu forward: NULL layer or input");
    if (!dnnl_memory_desc_equal(&src->md, doubt_pd_md(relu->fwd_pd, dnnl_query_src_md)))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "relu %s: input differs from its build shape",
                          relu->name);
    relu->src = src;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, src->mem}, {DNNL_ARG_DST, relu->dst.mem}};
    return doubt_ctx_execute(ctx, relu->fwd, 2, args, relu->name);
}

doubt_status doubt_relu_backward(doubt_ctx *ctx, doubt_relu *relu, const doubt_tensor *diff_dst)
{
    if (!relu || !diff_dst || !diff_dst->mem)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "relu backward: NULL layer or gradient");
    if (relu->mode != DOUBT_MODE_TRAIN || !relu->src)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "relu %s: backward needs a training layer and a forward first",
                          relu->name);
    if (!dnnl_memory_desc_equal(&diff_dst->md, &relu->dst.md))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "relu %s: gradient differs from the output",
                          relu->name);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, relu->src->mem},
                               {DNNL_ARG_DIFF_DST, diff_dst->mem},
                               {DNNL_ARG_DIFF_SRC, relu->diff_src.mem}};
    return doubt_ctx_execute(ctx, relu->bwd, 3, args, relu->name);
}

void doubt_relu_destroy(doubt_relu *relu)
{
    if (!relu)
        return;
    dnnl_primitive_destroy(relu->fwd);
    dnnl_primitive_destroy(relu->bwd);
    dnnl_primitive_desc_destroy(relu->fwd_pd);
    dnnl_primitive_desc_destroy(relu->bwd_pd);
    doubt_tensor_release(&relu->dst);
    doubt_tensor_release(&relu->diff_src);
    free(relu);
}
