#include "conv.h"

#include <stdlib.h>
#include <string.h>

#include "winograd.h"

static doubt_status check_desc(doubt_ctx *ctx, const doubt_conv_desc *d, doubt_mode mode,
                               const char *name)
{
    if (d->in_channels <= 0 || d->out_channels <= 0)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "conv %s: channels %d -> %d", name,
                          d->in_channels, d->out_channels);
    if (d->kernel != 1 && d->kernel != 3)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "conv %s: kernel %d (1 or 3 supported)",
                          name, d->kernel);
    if (d->fuse_relu && mode == DOUBT_MODE_TRAIN)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "conv %s: fused ReLU is for inference; in training fuse it into BN",
                          name);
    if (d->accumulate && mode == DOUBT_MODE_TRAIN)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "conv %s: accumulating into dst is for inference", name);
    return DOUBT_OK;
}

/* The Winograd forward, in training the backward-data one too (where the output has the 16
 * channels or more it needs as an input), and the plain copy of the weights both read. */
static doubt_status winograd_create(doubt_ctx *ctx, doubt_conv *conv,
                                    const dnnl_memory_desc_t *src_md,
                                    const dnnl_memory_desc_t *w_md,
                                    const dnnl_memory_desc_t *dst_md)
{
    doubt_status st = DOUBT_OK;
    const doubt_conv_desc *d = &conv->desc;
    const doubt_winograd_desc fwd = {.name = conv->name,
                                     .in_channels = d->in_channels,
                                     .out_channels = d->out_channels,
                                     .relu = d->fuse_relu,
                                     .accumulate = d->accumulate,
                                     .weight_gradient = conv->mode == DOUBT_MODE_TRAIN &&
                                                        !d->bias};
    DOUBT_TRY(doubt_winograd_create(ctx, &fwd, src_md, dst_md, &conv->winograd));
    if (conv->mode == DOUBT_MODE_TRAIN && !d->no_input_grad &&
        doubt_winograd_supported(dst_md, src_md)) {
        const doubt_winograd_desc bwd = {.name = conv->name,
                                         .in_channels = d->out_channels,
                                         .out_channels = d->in_channels};
        DOUBT_TRY(doubt_winograd_create(ctx, &bwd, dst_md, src_md, &conv->winograd_bwd));
    }
    const dnnl_memory_desc_t plain = doubt_md_plain(w_md);
    DOUBT_TRY(doubt_tensor_init(ctx, &conv->plain_weight, &plain, DOUBT_TENSOR_OWNED, conv->name));
    DOUBT_TRY(doubt_reorder_make(ctx, w_md, &plain, &conv->plain_reorder_pd,
                                 &conv->plain_reorder));
    if (fwd.weight_gradient) {
        conv->winograd_grad = 1;
        DOUBT_TRY(doubt_tensor_init(ctx, &conv->plain_diff_weight, &plain, DOUBT_TENSOR_OWNED,
                                    conv->name));
        DOUBT_TRY(doubt_reorder_make(ctx, &plain, w_md, &conv->plain_grad_reorder_pd,
                                     &conv->plain_grad_reorder));
    }
done:
    return st;
}

doubt_status doubt_conv_create(doubt_ctx *ctx, const doubt_conv_desc *desc,
                               const dnnl_memory_desc_t *src_md, doubt_mode mode,
                               doubt_conv **out)
{
    doubt_status st = DOUBT_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post_ops = NULL;
    *out = NULL;
    if (!desc)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "conv: NULL description");
    const char *name = desc->name ? desc->name : "conv";
    if ((st = check_desc(ctx, desc, mode, name)) != DOUBT_OK ||
        (st = doubt_check_activation(ctx, src_md, desc->in_channels, name)) != DOUBT_OK)
        return st;

    doubt_conv *conv = calloc(1, sizeof *conv);
    if (!conv)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "conv %s: out of memory", name);
    doubt_name_copy(conv->name, desc->name, "conv");
    conv->desc = *desc;
    conv->desc.name = conv->name;
    conv->mode = mode;

    const int64_t k = desc->kernel, pad = desc->kernel / 2;
    const int64_t n = src_md->dims[0], h = src_md->dims[2], w = src_md->dims[3];
    const int64_t wdims[4] = {desc->out_channels, desc->in_channels, k, k};
    const int64_t bdims[1] = {desc->out_channels};
    const int64_t ddims[4] = {n, desc->out_channels, h, w};
    dnnl_memory_desc_t w_any = doubt_md_make(4, wdims, dnnl_format_tag_any);
    dnnl_memory_desc_t b_md = doubt_md_make(1, bdims, dnnl_a);
    dnnl_memory_desc_t dst_any = doubt_md_make(4, ddims, dnnl_format_tag_any);
    if (desc->dst_md) {
        if (desc->dst_md->ndims != 4 || memcmp(desc->dst_md->dims, ddims, sizeof ddims)) {
            st = doubt_fail(&ctx->err, DOUBT_ERR_ARG, "conv %s: the given output layout has "
                            "other dimensions than the output", name);
            goto done;
        }
        dst_any = *desc->dst_md;
    }
    conv->desc.dst_md = NULL; /* the caller's md need not outlive the layer */
    const dnnl_dims_t strides = {1, 1}, padding = {pad, pad};

    dnnl_convolution_desc_t fwd_desc;
    DOUBT_DNNL(ctx, dnnl_convolution_forward_desc_init(
                        &fwd_desc,
                        mode == DOUBT_MODE_TRAIN ? dnnl_forward_training : dnnl_forward_inference,
                        dnnl_convolution_direct, src_md, &w_any, desc->bias ? &b_md : NULL,
                        &dst_any, strides, padding, padding));
    if (desc->fuse_relu || desc->accumulate) {
        DOUBT_DNNL(ctx, dnnl_primitive_attr_create(&attr));
        DOUBT_DNNL(ctx, dnnl_post_ops_create(&post_ops));
        if (desc->accumulate)
            DOUBT_DNNL(ctx, dnnl_post_ops_append_sum(post_ops, 1.0f));
        if (desc->fuse_relu)
            DOUBT_DNNL(ctx, dnnl_post_ops_append_eltwise(post_ops, 1.0f, dnnl_eltwise_relu, 0.f,
                                                         0.f));
        DOUBT_DNNL(ctx, dnnl_primitive_attr_set_post_ops(attr, post_ops));
    }
    DOUBT_TRY(doubt_primitive_make(ctx, &fwd_desc, attr, NULL, &conv->fwd_pd, &conv->fwd,
                                   conv->name));
    const dnnl_memory_desc_t *w_md = doubt_pd_md(conv->fwd_pd, dnnl_query_weights_md);
    const dnnl_memory_desc_t *dst_md = doubt_pd_md(conv->fwd_pd, dnnl_query_dst_md);
    DOUBT_TRY(doubt_tensor_init(ctx, &conv->weight, w_md, DOUBT_TENSOR_OWNED, conv->name));
    if (desc->bias)
        DOUBT_TRY(doubt_tensor_init(ctx, &conv->bias, &b_md, DOUBT_TENSOR_OWNED, conv->name));
    DOUBT_TRY(doubt_tensor_init(ctx, &conv->dst, dst_md, DOUBT_TENSOR_ARENA, conv->name));
    if (desc->winograd && k == 3 && doubt_winograd_supported(src_md, dst_md))
        DOUBT_TRY(winograd_create(ctx, conv, src_md, w_md, dst_md));

    if (mode == DOUBT_MODE_TRAIN) {
        /* Gradients keep the forward layouts (diff_dst = dst, diff_weights = weights), so
         * they line up with activations and parameters without reorders. Only the weights
         * read by backward-data may differ: oneDNN's JIT kernels want them transposed
         * within blocks, and the reference kernel it falls back to is 1000x slower. */
        dnnl_convolution_desc_t bwd_data_desc, bwd_weights_desc;
        if (!desc->no_input_grad && !conv->winograd_bwd) {
            DOUBT_DNNL(ctx, dnnl_convolution_backward_data_desc_init(
                                &bwd_data_desc, dnnl_convolution_direct, src_md, &w_any, dst_md,
                                strides, padding, padding));
            DOUBT_TRY(doubt_primitive_make(ctx, &bwd_data_desc, NULL, conv->fwd_pd,
                                           &conv->bwd_data_pd, &conv->bwd_data, conv->name));
            const dnnl_memory_desc_t *bwd_w_md = doubt_pd_md(conv->bwd_data_pd,
                                                             dnnl_query_weights_md);
            if (!dnnl_memory_desc_equal(bwd_w_md, w_md)) {
                DOUBT_TRY(doubt_tensor_init(ctx, &conv->bwd_weight, bwd_w_md, DOUBT_TENSOR_ARENA,
                                            conv->name));
                DOUBT_TRY(doubt_reorder_make(ctx, w_md, bwd_w_md, &conv->weight_reorder_pd,
                                             &conv->weight_reorder));
            }
        }
        if (!desc->no_input_grad)
            DOUBT_TRY(doubt_tensor_init(ctx, &conv->diff_src, src_md, DOUBT_TENSOR_ARENA,
                                        conv->name));
        if (!conv->winograd_grad) {
            DOUBT_DNNL(ctx, dnnl_convolution_backward_weights_desc_init(
                                &bwd_weights_desc, dnnl_convolution_direct, src_md, w_md,
                                desc->bias ? &b_md : NULL, dst_md, strides, padding, padding));
            DOUBT_TRY(doubt_primitive_make(ctx, &bwd_weights_desc, NULL, conv->fwd_pd,
                                           &conv->bwd_weights_pd, &conv->bwd_weights,
                                           conv->name));
        }
        DOUBT_TRY(doubt_tensor_init(ctx, &conv->diff_weight, w_md, DOUBT_TENSOR_OWNED,
                                    conv->name));
        if (desc->bias)
            DOUBT_TRY(doubt_tensor_init(ctx, &conv->diff_bias, &b_md, DOUBT_TENSOR_OWNED,
                                        conv->name));
    }
    *out = conv;
    conv = NULL;
done:
    dnnl_post_ops_destroy(post_ops);
    dnnl_primitive_attr_destroy(attr);
    doubt_conv_destroy(conv);
    return st;
}

doubt_status doubt_conv_forward(doubt_ctx *ctx, doubt_conv *conv, const doubt_tensor *src)
{
    if (!conv || !src || !src->mem)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "conv forward: NULL layer or input");
    if (!dnnl_memory_desc_equal(&src->md, doubt_pd_md(conv->fwd_pd, dnnl_query_src_md)))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "conv %s: input shape or layout differs from the one it was built for",
                          conv->name);
    conv->src = src;
    if (conv->winograd) {
        doubt_status st = DOUBT_OK;
        if (conv->mode == DOUBT_MODE_TRAIN) /* the optimizer moved the weights */
            DOUBT_TRY(doubt_conv_weights_changed(ctx, conv));
        DOUBT_TRY(doubt_winograd_forward(ctx, conv->winograd, src->data, conv->dst.data));
    done:
        return st;
    }
    dnnl_exec_arg_t args[4] = {
        {DNNL_ARG_SRC, src->mem},
        {DNNL_ARG_WEIGHTS, conv->weight.mem},
        {DNNL_ARG_DST, conv->dst.mem},
        {DNNL_ARG_BIAS, conv->bias.mem},
    };
    return doubt_ctx_execute(ctx, conv->fwd, conv->desc.bias ? 4 : 3, args, conv->name);
}

doubt_status doubt_conv_weights_changed(doubt_ctx *ctx, doubt_conv *conv)
{
    if (!conv->winograd)
        return DOUBT_OK;
    doubt_status st = doubt_reorder_run(ctx, conv->plain_reorder, &conv->weight,
                                        &conv->plain_weight, conv->name);
    if (st == DOUBT_OK)
        doubt_winograd_set_weights(conv->winograd, conv->plain_weight.data,
                                   conv->desc.bias ? conv->bias.data : NULL);
    return st;
}

doubt_status doubt_conv_backward(doubt_ctx *ctx, doubt_conv *conv, const doubt_tensor *diff_dst)
{
    doubt_status st;
    if (!conv || !diff_dst || !diff_dst->mem)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "conv backward: NULL layer or gradient");
    if (conv->mode != DOUBT_MODE_TRAIN || !conv->src)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "conv %s: backward needs a training layer and a forward first",
                          conv->name);
    if (!dnnl_memory_desc_equal(&diff_dst->md, &conv->dst.md))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "conv %s: gradient shape or layout differs from the output's",
                          conv->name);
    if (conv->winograd_bwd) {
        /* the plain weights are this step's: forward read them */
        doubt_winograd_set_backward_weights(conv->winograd_bwd, conv->plain_weight.data);
        if ((st = doubt_winograd_forward(ctx, conv->winograd_bwd, diff_dst->data,
                                         conv->diff_src.data)) != DOUBT_OK)
            return st;
    } else if (conv->bwd_data) {
        const doubt_tensor *weight = &conv->weight;
        if (conv->weight_reorder) {
            if ((st = doubt_reorder_run(ctx, conv->weight_reorder, &conv->weight,
                                        &conv->bwd_weight, conv->name)) != DOUBT_OK)
                return st;
            weight = &conv->bwd_weight;
        }
        dnnl_exec_arg_t data_args[3] = {
            {DNNL_ARG_DIFF_DST, diff_dst->mem},
            {DNNL_ARG_WEIGHTS, weight->mem},
            {DNNL_ARG_DIFF_SRC, conv->diff_src.mem},
        };
        if ((st = doubt_ctx_execute(ctx, conv->bwd_data, 3, data_args, conv->name)) != DOUBT_OK)
            return st;
    }
    if (conv->winograd_grad) {
        if ((st = doubt_winograd_weight_gradient(ctx, conv->winograd, conv->src->data,
                                                 diff_dst->data, conv->plain_diff_weight.data)) !=
            DOUBT_OK)
            return st;
        return doubt_reorder_run(ctx, conv->plain_grad_reorder, &conv->plain_diff_weight,
                                 &conv->diff_weight, conv->name);
    }
    dnnl_exec_arg_t weight_args[4] = {
        {DNNL_ARG_SRC, conv->src->mem},
        {DNNL_ARG_DIFF_DST, diff_dst->mem},
        {DNNL_ARG_DIFF_WEIGHTS, conv->diff_weight.mem},
        {DNNL_ARG_DIFF_BIAS, conv->diff_bias.mem},
    };
    return doubt_ctx_execute(ctx, conv->bwd_weights, conv->desc.bias ? 4 : 3, weight_args,
                             conv->name);
}

void doubt_conv_destroy(doubt_conv *conv)
{
    if (!conv)
        return;
    doubt_winograd_destroy(conv->winograd);
    doubt_winograd_destroy(conv->winograd_bwd);
    dnnl_primitive_destroy(conv->plain_reorder);
    dnnl_primitive_desc_destroy(conv->plain_reorder_pd);
    dnnl_primitive_destroy(conv->plain_grad_reorder);
    dnnl_primitive_desc_destroy(conv->plain_grad_reorder_pd);
    doubt_tensor_release(&conv->plain_weight);
    doubt_tensor_release(&conv->plain_diff_weight);
    dnnl_primitive_destroy(conv->fwd);
    dnnl_primitive_destroy(conv->bwd_data);
    dnnl_primitive_destroy(conv->bwd_weights);
    dnnl_primitive_destroy(conv->weight_reorder);
    dnnl_primitive_desc_destroy(conv->fwd_pd);
    dnnl_primitive_desc_destroy(conv->weight_reorder_pd);
    dnnl_primitive_desc_destroy(conv->bwd_data_pd);
    dnnl_primitive_desc_destroy(conv->bwd_weights_pd);
    doubt_tensor_release(&conv->weight);
    doubt_tensor_release(&conv->bias);
    doubt_tensor_release(&conv->diff_weight);
    doubt_tensor_release(&conv->diff_bias);
    doubt_tensor_release(&conv->dst);
    doubt_tensor_release(&conv->diff_src);
    doubt_tensor_release(&conv->bwd_weight);
    free(conv);
}
