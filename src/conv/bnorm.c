#include "bnorm.h"

#include <math.h>

#include <stdlib.h>

doubt_status doubt_bnorm_create(doubt_ctx *ctx, const doubt_bnorm_desc *desc,
                                const dnnl_memory_desc_t *src_md, doubt_mode mode,
                                doubt_bnorm **out)
{
    doubt_status st = DOUBT_OK;
    *out = NULL;
    if (!desc)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "bnorm: NULL description");
    const char *name = desc->name ? desc->name : "bnorm";
    if (desc->channels <= 0 || desc->eps < 0 || desc->momentum < 0 || desc->momentum > 1)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "bnorm %s: channels %d, eps %g, momentum %g",
                          name, desc->channels, desc->eps, desc->momentum);
    if ((st = doubt_check_activation(ctx, src_md, desc->channels, name)) != DOUBT_OK)
        return st;

    doubt_bnorm *bn = calloc(1, sizeof *bn);
    if (!bn)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "bnorm %s: out of memory", name);
    doubt_name_copy(bn->name, desc->name, "bnorm");
    bn->desc = *desc;
    bn->desc.name = bn->name;
    if (bn->desc.eps == 0)
        bn->desc.eps = (float)DOUBT_BNORM_EPS;
    if (bn->desc.momentum == 0)
        bn->desc.momentum = 0.1f;
    bn->mode = mode;

    unsigned flags = dnnl_use_scale | dnnl_use_shift;
    if (mode == DOUBT_MODE_INFER)
        flags |= dnnl_use_global_stats;
    if (desc->fuse_relu)
        flags |= dnnl_fuse_norm_relu;
    dnnl_batch_normalization_desc_t fwd_desc;
    DOUBT_DNNL(ctx, dnnl_batch_normalization_forward_desc_init(
                        &fwd_desc,
                        mode == DOUBT_MODE_TRAIN ? dnnl_forward_training : dnnl_forward_inference,
                        src_md, bn->desc.eps, flags));
    DOUBT_TRY(doubt_primitive_make(ctx, &fwd_desc, NULL, NULL, &bn->fwd_pd, &bn->fwd, bn->name));

    const int64_t c = desc->channels;
    doubt_tensor *params[] = {&bn->weight, &bn->bias, &bn->running_mean, &bn->running_var};
    for (int i = 0; i < 4; i++)
        DOUBT_TRY(doubt_tensor_init_plain(ctx, params[i], 1, &c, DOUBT_TENSOR_OWNED, bn->name));
    for (int64_t i = 0; i < c; i++) {
        bn->weight.data[i] = 1; /* PyTorch's initial state: identity transform */
        bn->running_var.data[i] = 1;
    }
    DOUBT_TRY(doubt_tensor_init(ctx, &bn->dst, doubt_pd_md(bn->fwd_pd, dnnl_query_dst_md),
                                DOUBT_TENSOR_ARENA, bn->name));

    if (mode == DOUBT_MODE_TRAIN) {
        DOUBT_TRY(doubt_tensor_init_plain(ctx, &bn->batch_mean, 1, &c, DOUBT_TENSOR_ARENA, bn->name));
        DOUBT_TRY(doubt_tensor_init_plain(ctx, &bn->batch_var, 1, &c, DOUBT_TENSOR_ARENA, bn->name));
        DOUBT_TRY(doubt_tensor_init_plain(ctx, &bn->diff_weight, 1, &c, DOUBT_TENSOR_OWNED, bn->name));
        DOUBT_TRY(doubt_tensor_init_plain(ctx, &bn->diff_bias, 1, &c, DOUBT_TENSOR_OWNED, bn->name));
        if (desc->fuse_relu)
            DOUBT_TRY(doubt_tensor_init(ctx, &bn->workspace,
                                        doubt_pd_md(bn->fwd_pd, dnnl_query_workspace_md),
                                        DOUBT_TENSOR_ARENA, bn->name));
        dnnl_batch_normalization_desc_t bwd_desc;
        DOUBT_DNNL(ctx, dnnl_batch_normalization_backward_desc_init(
                            &bwd_desc, dnnl_backward, &bn->dst.md, src_md, bn->desc.eps,
                            flags));
        DOUBT_TRY(doubt_primitive_make(ctx, &bwd_desc, NULL, bn->fwd_pd, &bn->bwd_pd, &bn->bwd,
                                       bn->name));
        DOUBT_TRY(doubt_tensor_init(ctx, &bn->diff_src, src_md, DOUBT_TENSOR_ARENA, bn->name));
    }
    *out = bn;
    bn = NULL;
done:
    doubt_bnorm_destroy(bn);
    return st;
}

static void update_running_stats(doubt_bnorm *bn)
{
    const dnnl_memory_desc_t *md = &bn->src->md;
    const double m = (double)(md->dims[0] * md->dims[2] * md->dims[3]);
    const float unbias = m > 1 ? (float)(m / (m - 1)) : 1.0f;
    const float mom = bn->desc.momentum;
    for (int i = 0; i < bn->desc.channels; i++) {
        bn->running_mean.data[i] = (1 - mom) * bn->running_mean.data[i] + mom * bn->batch_mean.data[i];
        bn->running_var.data[i] =
            (1 - mom) * bn->running_var.data[i] + mom * unbias * bn->batch_var.data[i];
    }
}

doubt_status doubt_bnorm_forward(doubt_ctx *ctx, doubt_bnorm *bn, const doubt_tensor *src)
{
    if (!bn || !src || !src->mem)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "bnorm forward: NULL layer or input");
    if (!dnnl_memory_desc_equal(&src->md, doubt_pd_md(bn->fwd_pd, dnnl_query_src_md)))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "bnorm %s: input shape or layout differs from the one it was built for",
                          bn->name);
    bn->src = src;
    const int train = bn->mode == DOUBT_MODE_TRAIN;
    dnnl_exec_arg_t args[7] = {
        {DNNL_ARG_SRC, src->mem},
        {DNNL_ARG_DST, bn->dst.mem},
        {DNNL_ARG_SCALE, bn->weight.mem},
        {DNNL_ARG_SHIFT, bn->bias.mem},
        {DNNL_ARG_MEAN, train ? bn->batch_mean.mem : bn->running_mean.mem},
        {DNNL_ARG_VARIANCE, train ? bn->batch_var.mem : bn->running_var.mem},
        {DNNL_ARG_WORKSPACE, bn->workspace.mem},
    };
    int nargs = train && bn->desc.fuse_relu ? 7 : 6;
    doubt_status st = doubt_ctx_execute(ctx, bn->fwd, nargs, args, bn->name);
    if (st == DOUBT_OK && train)
        update_running_stats(bn);
    return st;
}

doubt_status doubt_bnorm_backward(doubt_ctx *ctx, doubt_bnorm *bn, const doubt_tensor *diff_dst)
{
    if (!bn || !diff_dst || !diff_dst->mem)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "bnorm backward: NULL layer or gradient");
    if (bn->mode != DOUBT_MODE_TRAIN || !bn->src)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "bnorm %s: backward needs a training layer and a forward first",
                          bn->name);
    if (!dnnl_memory_desc_equal(&diff_dst->md, &bn->dst.md))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "bnorm %s: gradient shape or layout differs from the output's", bn->name);
    dnnl_exec_arg_t args[10] = {
        {DNNL_ARG_SRC, bn->src->mem},
        {DNNL_ARG_DIFF_DST, diff_dst->mem},
        {DNNL_ARG_SCALE, bn->weight.mem},
        {DNNL_ARG_SHIFT, bn->bias.mem},
        {DNNL_ARG_MEAN, bn->batch_mean.mem},
        {DNNL_ARG_VARIANCE, bn->batch_var.mem},
        {DNNL_ARG_DIFF_SRC, bn->diff_src.mem},
        {DNNL_ARG_DIFF_SCALE, bn->diff_weight.mem},
        {DNNL_ARG_DIFF_SHIFT, bn->diff_bias.mem},
        {DNNL_ARG_WORKSPACE, bn->workspace.mem},
    };
    return doubt_ctx_execute(ctx, bn->bwd, bn->desc.fuse_relu ? 10 : 9, args, bn->name);
}

void doubt_bnorm_destroy(doubt_bnorm *bn)
{
    if (!bn)
        return;
    dnnl_primitive_destroy(bn->fwd);
    dnnl_primitive_destroy(bn->bwd);
    dnnl_primitive_desc_destroy(bn->fwd_pd);
    dnnl_primitive_desc_destroy(bn->bwd_pd);
    doubt_tensor *tensors[] = {&bn->weight,     &bn->bias,      &bn->running_mean,
                               &bn->running_var, &bn->diff_weight, &bn->diff_bias,
                               &bn->batch_mean, &bn->batch_var, &bn->workspace,
                               &bn->dst,        &bn->diff_src};
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++)
        doubt_tensor_release(tensors[i]);
    free(bn);
}

void doubt_bnorm_fold(const float *weight, const float *bias, const float *const *bn,
                      int64_t out, int64_t per_out, float *weight_out, float *bias_out)
{
    for (int64_t o = 0; o < out; o++) {
        const double scale = bn ? bn[0][o] / sqrt((double)bn[3][o] + DOUBT_BNORM_EPS) : 1.0;
        const double b = bias ? bias[o] : 0.0;
        for (int64_t k = 0; k < per_out; k++)
            weight_out[o * per_out + k] = (float)(weight[o * per_out + k] * scale);
        if (bias_out)
            bias_out[o] = (float)(bn ? bn[1][o] + (b - bn[2][o]) * scale : b);
    }
}
