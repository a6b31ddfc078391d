#include "unet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

enum { BN_WEIGHT, BN_BIAS, BN_MEAN, BN_VAR };
#define BN_EPS 1e-5

/* The block's activation before dropout: bn2's output in training, the folded conv2's in
 * inference. */
static doubt_tensor *block_activation(const doubt_unet_block *b)
{
    return b->bn2 ? &b->bn2->dst : &b->conv2->dst;
}

/* The tensor a block hands on: its dropout's output when dropout runs, else the activation. */
static const doubt_tensor *block_output(const doubt_unet_block *b, int dropout_on)
{
    return b->drop && dropout_on ? &b->drop->dst : block_activation(b);
}

/* Inference keeps each batch norm's parameters, as loaded, to fold them into its conv. */
static doubt_status bn_params_create(doubt_ctx *ctx, doubt_tensor params[4], int channels,
                                     const char *name)
{
    const int64_t c = channels;
    for (int i = 0; i < 4; i++) {
        doubt_status st = doubt_tensor_init_plain(ctx, &params[i], 1, &c, DOUBT_TENSOR_OWNED, name);
        if (st != DOUBT_OK)
            return st;
    }
    for (int64_t k = 0; k < c; k++)
        params[BN_WEIGHT].data[k] = params[BN_VAR].data[k] = 1;
    return DOUBT_OK;
}

static doubt_status block_create_train(doubt_ctx *ctx, doubt_unet_block *b, const char *prefix,
                                       const dnnl_memory_desc_t *src_md, int width,
                                       const doubt_unet *net);

/* conv1 -> bn1+relu -> conv2 -> bn2+relu [-> dropout] on an input of layout src_md */
static doubt_status block_create(doubt_ctx *ctx, doubt_unet_block *b, const char *prefix,
                                 const dnnl_memory_desc_t *src_md, int width, int dropout_id,
                                 const doubt_unet *net)
{
    doubt_status st;
    char name[DOUBT_NAME_LEN];
    const doubt_mode mode = net->mode;
    if (mode == DOUBT_MODE_INFER) {
        /* batch norm folded into the convolutions (bias), ReLU as their post-op */
        snprintf(name, sizeof name, "%s.conv1", prefix);
        doubt_conv_desc c1 = {.name = name, .in_channels = (int)src_md->dims[1],
                              .out_channels = width, .kernel = 3, .bias = 1, .fuse_relu = 1};
        if ((st = doubt_conv_create(ctx, &c1, src_md, mode, &b->conv1)) != DOUBT_OK)
            return st;
        snprintf(name, sizeof name, "%s.conv2", prefix);
        doubt_conv_desc c2 = {.name = name, .in_channels = width, .out_channels = width,
                              .kernel = 3, .bias = 1, .fuse_relu = 1};
        if ((st = doubt_conv_create(ctx, &c2, &b->conv1->dst.md, mode, &b->conv2)) != DOUBT_OK)
            return st;
        const int64_t wdims[4] = {width, src_md->dims[1], 3, 3}, wdims2[4] = {width, width, 3, 3};
        if ((st = doubt_tensor_init_plain(ctx, &b->raw_weight[0], 4, wdims, DOUBT_TENSOR_OWNED,
                                          prefix)) != DOUBT_OK ||
            (st = doubt_tensor_init_plain(ctx, &b->raw_weight[1], 4, wdims2, DOUBT_TENSOR_OWNED,
                                          prefix)) != DOUBT_OK ||
            (st = bn_params_create(ctx, b->bn_params[0], width, prefix)) != DOUBT_OK ||
            (st = bn_params_create(ctx, b->bn_params[1], width, prefix)) != DOUBT_OK)
            return st;
    } else if ((st = block_create_train(ctx, b, prefix, src_md, width, net)) != DOUBT_OK)
        return st;
    if (dropout_id >= 0 && net->desc.dropout > 0) {
        snprintf(name, sizeof name, "%s.dropout", prefix);
        doubt_dropout_desc dd = {.name = name, .p = (float)net->desc.dropout,
                                 .layer_id = (uint32_t)dropout_id};
        if ((st = doubt_dropout_create(ctx, &dd, &block_activation(b)->md, mode, &b->drop)) !=
            DOUBT_OK)
            return st;
    }
    return DOUBT_OK;
}

/* conv1 -> bn1+relu -> conv2 -> bn2+relu, each with a backward */
static doubt_status block_create_train(doubt_ctx *ctx, doubt_unet_block *b, const char *prefix,
                                       const dnnl_memory_desc_t *src_md, int width,
                                       const doubt_unet *net)
{
    doubt_status st;
    char name[DOUBT_NAME_LEN];
    const doubt_mode mode = net->mode;
    snprintf(name, sizeof name, "%s.conv1", prefix);
    doubt_conv_desc c1 = {.name = name, .in_channels = (int)src_md->dims[1],
                          .out_channels = width, .kernel = 3,
                          .no_input_grad = src_md == &net->input.md};
    if ((st = doubt_conv_create(ctx, &c1, src_md, mode, &b->conv1)) != DOUBT_OK)
        return st;
    snprintf(name, sizeof name, "%s.bn1", prefix);
    doubt_bnorm_desc n1 = {.name = name, .channels = width, .fuse_relu = 1};
    if ((st = doubt_bnorm_create(ctx, &n1, &b->conv1->dst.md, mode, &b->bn1)) != DOUBT_OK)
        return st;
    snprintf(name, sizeof name, "%s.conv2", prefix);
    doubt_conv_desc c2 = {.name = name, .in_channels = width, .out_channels = width, .kernel = 3};
    if ((st = doubt_conv_create(ctx, &c2, &b->bn1->dst.md, mode, &b->conv2)) != DOUBT_OK)
        return st;
    snprintf(name, sizeof name, "%s.bn2", prefix);
    doubt_bnorm_desc n2 = {.name = name, .channels = width, .fuse_relu = 1};
    return doubt_bnorm_create(ctx, &n2, &b->conv2->dst.md, mode, &b->bn2);
}

static doubt_status block_forward(doubt_ctx *ctx, doubt_unet_block *b, const doubt_tensor *src,
                                  int dropout_on, uint64_t sample_base)
{
    doubt_status st;
    if (!b->bn1) {
        if ((st = doubt_conv_forward(ctx, b->conv1, src)) != DOUBT_OK ||
            (st = doubt_conv_forward(ctx, b->conv2, &b->conv1->dst)) != DOUBT_OK)
            return st;
    } else if ((st = doubt_conv_forward(ctx, b->conv1, src)) != DOUBT_OK ||
        (st = doubt_bnorm_forward(ctx, b->bn1, &b->conv1->dst)) != DOUBT_OK ||
        (st = doubt_conv_forward(ctx, b->conv2, &b->bn1->dst)) != DOUBT_OK ||
        (st = doubt_bnorm_forward(ctx, b->bn2, &b->conv2->dst)) != DOUBT_OK)
        return st;
    if (b->drop && dropout_on)
        return doubt_dropout_forward(ctx, b->drop, block_activation(b), sample_base);
    return DOUBT_OK;
}

/* From the gradient of the block's output to the gradient of its input (conv1->diff_src). */
static doubt_status block_backward(doubt_ctx *ctx, doubt_unet_block *b, const doubt_tensor *grad,
                                   int dropout_on)
{
    doubt_status st;
    if (b->drop && dropout_on) {
        if ((st = doubt_dropout_backward(ctx, b->drop, grad)) != DOUBT_OK)
            return st;
        grad = &b->drop->diff_src;
    }
    if ((st = doubt_bnorm_backward(ctx, b->bn2, grad)) != DOUBT_OK ||
        (st = doubt_conv_backward(ctx, b->conv2, &b->bn2->diff_src)) != DOUBT_OK ||
        (st = doubt_bnorm_backward(ctx, b->bn1, &b->conv2->diff_src)) != DOUBT_OK)
        return st;
    return doubt_conv_backward(ctx, b->conv1, &b->bn1->diff_src);
}


static void block_destroy(doubt_unet_block *b)
{
    doubt_pool_destroy(b->pool);
    doubt_upsample_destroy(b->up);
    doubt_concat_destroy(b->cat);
    doubt_conv_destroy(b->conv1);
    doubt_conv_destroy(b->conv2);
    doubt_bnorm_destroy(b->bn1);
    doubt_bnorm_destroy(b->bn2);
    doubt_dropout_destroy(b->drop);
    doubt_tensor_release(&b->grad_sum);
    for (int k = 0; k < 2; k++) {
        doubt_tensor_release(&b->raw_weight[k]);
        for (int i = 0; i < 4; i++)
            doubt_tensor_release(&b->bn_params[k][i]);
    }
    dnnl_primitive_destroy(b->sum);
    dnnl_primitive_desc_destroy(b->sum_pd);
}

/* dst = a + b, made once; a, b and dst share one layout */
static doubt_status make_grad_sum(doubt_ctx *ctx, doubt_unet_block *b,
                                  const dnnl_memory_desc_t *md)
{
    doubt_status st = DOUBT_OK;
    const float scales[2] = {1.f, 1.f};
    const dnnl_memory_desc_t srcs[2] = {*md, *md};
    DOUBT_TRY(doubt_tensor_init(ctx, &b->grad_sum, md, DOUBT_TENSOR_ARENA, "skip gradient"));
    DOUBT_DNNL(ctx, dnnl_sum_primitive_desc_create(&b->sum_pd, md, 2, scales, srcs, NULL,
                                                   ctx->engine));
    DOUBT_DNNL(ctx, dnnl_primitive_create(&b->sum, b->sum_pd));
done:
    return st;
}

/* A reorder between two layouts of the same dims, or nothing when they are equal. */
static doubt_status make_reorder(doubt_ctx *ctx, const dnnl_memory_desc_t *from,
                                 const dnnl_memory_desc_t *to, dnnl_primitive_desc_t *pd,
                                 dnnl_primitive_t *prim)
{
    doubt_status st = DOUBT_OK;
    if (dnnl_memory_desc_equal(from, to))
        return DOUBT_OK;
    DOUBT_DNNL(ctx, dnnl_reorder_primitive_desc_create(pd, from, ctx->engine, to, ctx->engine,
                                                       NULL));
    DOUBT_DNNL(ctx, dnnl_primitive_create(prim, *pd));
done:
    return st;
}

static doubt_tensor *layer_param(doubt_unet *net, const char *name, doubt_tensor **grad)
{
    int index;
    char block[8], part[16], field[24];
    doubt_unet_block *b = NULL;
    *grad = NULL;
    if (!strcmp(name, "head.weight")) {
        *grad = &net->head->diff_weight;
        return &net->head->weight;
    }
    if (!strcmp(name, "head.bias")) {
        *grad = &net->head->diff_bias;
        return &net->head->bias;
    }
    if (sscanf(name, "%7[a-z].%d.%15[a-z0-9].%23s", block, &index, part, field) != 4)
        return NULL;
    if (!strcmp(block, "enc") && index >= 0 && index < net->desc.levels)
        b = &net->enc[index];
    else if (!strcmp(block, "dec") && index >= 0 && index < net->desc.levels - 1)
        b = &net->dec[index];
    if (!b)
        return NULL;
    if (strcmp(field, "weight") && (!strcmp(part, "conv1") || !strcmp(part, "conv2")))
        return NULL;
    if (!b->bn1) { /* inference: the unfolded parameters as loaded */
        static const char *const bn_fields[4] = {"weight", "bias", "running_mean", "running_var"};
        if (!strcmp(part, "conv1") || !strcmp(part, "conv2"))
            return &b->raw_weight[part[4] - '1'];
        for (int i = 0; i < 4 && (!strcmp(part, "bn1") || !strcmp(part, "bn2")); i++)
            if (!strcmp(field, bn_fields[i]))
                return &b->bn_params[part[2] - '1'][i];
        return NULL;
    }
    if (!strcmp(part, "conv1") || !strcmp(part, "conv2")) {
        doubt_conv *conv = part[4] == '1' ? b->conv1 : b->conv2;
        *grad = &conv->diff_weight;
        return &conv->weight;
    }
    if (strcmp(part, "bn1") && strcmp(part, "bn2"))
        return NULL;
    doubt_bnorm *bn = part[2] == '1' ? b->bn1 : b->bn2;
    if (!strcmp(field, "weight")) {
        *grad = &bn->diff_weight;
        return &bn->weight;
    }
    if (!strcmp(field, "bias")) {
        *grad = &bn->diff_bias;
        return &bn->bias;
    }
    if (!strcmp(field, "running_mean"))
        return &bn->running_mean;
    if (!strcmp(field, "running_var"))
        return &bn->running_var;
    return NULL;
}

static doubt_status bind_params(doubt_ctx *ctx, doubt_unet *net)
{
    doubt_param_info infos[DOUBT_NETDESC_MAX_PARAMS];
    int n = doubt_netdesc_params(&net->desc, infos, DOUBT_NETDESC_MAX_PARAMS);
    net->n_params = 0;
    for (int i = 0; i < n; i++) {
        if (infos[i].kind == DOUBT_PARAM_TRAINING)
            continue; /* task weights belong to the trainer */
        doubt_unet_param *p = &net->params[net->n_params++];
        p->info = infos[i];
        p->value = layer_param(net, infos[i].name, &p->grad);
        if (!p->value || doubt_tensor_count(p->value) != infos[i].count)
            return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "unet: parameter %s has no layer tensor",
                              infos[i].name);
        if (net->mode != DOUBT_MODE_TRAIN || (p->grad && !p->grad->mem))
            p->grad = NULL;
    }
    return DOUBT_OK;
}

static doubt_status build(doubt_ctx *ctx, doubt_unet *net)
{
    doubt_status st = DOUBT_OK;
    const doubt_netdesc *d = &net->desc;
    const int levels = d->levels;
    char name[DOUBT_NAME_LEN];
    const int64_t in_dims[4] = {net->batch, d->in_channels, net->height, net->width};
    DOUBT_TRY(doubt_tensor_init_plain(ctx, &net->input, 4, in_dims, DOUBT_TENSOR_ARENA, "input"));

    /* Dropout sits on the deepest three encoder blocks and the first three decoder blocks;
     * layer ids number them in network order. */
    int dropout_id = 0;
    const dnnl_memory_desc_t *src_md = &net->input.md;
    for (int i = 0; i < levels; i++) {
        doubt_unet_block *b = &net->enc[i];
        if (i > 0) {
            snprintf(name, sizeof name, "enc.%d.pool", i);
            DOUBT_TRY(doubt_pool_create(ctx, name, src_md, net->mode, &b->pool));
            src_md = &b->pool->dst.md;
        }
        snprintf(name, sizeof name, "enc.%d", i);
        int has_dropout = i >= levels - 3;
        DOUBT_TRY(block_create(ctx, b, name, src_md, d->widths[i],
                               has_dropout ? dropout_id++ : -1, net));
        src_md = &block_activation(b)->md;
    }
    for (int j = 0; j < levels - 1; j++) {
        const int level = levels - 2 - j;
        doubt_unet_block *b = &net->dec[j];
        snprintf(name, sizeof name, "dec.%d.up", j);
        DOUBT_TRY(doubt_upsample_create(ctx, name, src_md, net->mode, &b->up));
        snprintf(name, sizeof name, "dec.%d.cat", j);
        const dnnl_memory_desc_t *cat_inputs[2] = {&b->up->dst.md,
                                                   &block_activation(&net->enc[level])->md};
        DOUBT_TRY(doubt_concat_create(ctx, name, 2, cat_inputs, net->mode, &b->cat));
        snprintf(name, sizeof name, "dec.%d", j);
        DOUBT_TRY(block_create(ctx, b, name, &b->cat->dst.md, d->widths[level],
                               j < 3 ? dropout_id++ : -1, net));
        src_md = &block_activation(b)->md;
        if (net->mode == DOUBT_MODE_TRAIN)
            DOUBT_TRY(make_grad_sum(ctx, &net->enc[level], &net->enc[level].bn2->dst.md));
    }
    doubt_conv_desc head = {.name = "head", .in_channels = d->widths[0],
                            .out_channels = d->classes + 3, .kernel = 1, .bias = 1};
    DOUBT_TRY(doubt_conv_create(ctx, &head, src_md, net->mode, &net->head));

    const int64_t out_dims[4] = {net->batch, d->classes + 3, net->height, net->width};
    DOUBT_TRY(doubt_tensor_init_plain(ctx, &net->output, 4, out_dims, DOUBT_TENSOR_ARENA, "output"));
    DOUBT_TRY(make_reorder(ctx, &net->head->dst.md, &net->output.md, &net->output_pd,
                           &net->output_reorder));
    if (net->mode == DOUBT_MODE_TRAIN) {
        DOUBT_TRY(doubt_tensor_init_plain(ctx, &net->diff_output, 4, out_dims, DOUBT_TENSOR_ARENA,
                                          "output gradient"));
        if (net->output_reorder) {
            DOUBT_TRY(doubt_tensor_init(ctx, &net->head_diff, &net->head->dst.md,
                                        DOUBT_TENSOR_ARENA, "head gradient"));
            DOUBT_TRY(make_reorder(ctx, &net->diff_output.md, &net->head->dst.md,
                                   &net->diff_output_pd, &net->diff_output_reorder));
        }
    }
    DOUBT_TRY(bind_params(ctx, net));
done:
    return st;
}

doubt_status doubt_unet_create(doubt_ctx *ctx, const doubt_netdesc *desc, int batch, int height,
                               int width, doubt_mode mode, doubt_unet **out)
{
    doubt_status st;
    *out = NULL;
    if (!desc)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "unet: NULL description");
    if ((st = doubt_netdesc_validate(desc, &ctx->err)) != DOUBT_OK)
        return st;
    const int multiple = 1 << (desc->levels - 1);
    if (batch <= 0 || height <= 0 || width <= 0 || height % multiple || width % multiple)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "unet: input %dx%dx%d: batch must be positive and H, W multiples of %d",
                          batch, height, width, multiple);
    doubt_unet *net = calloc(1, sizeof *net);
    if (!net)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "unet: out of memory");
    net->desc = *desc;
    net->mode = mode;
    net->batch = batch;
    net->height = height;
    net->width = width;
    /* Layers take their activations from the context's arena, which lives as long as the
     * context; lending them the network's own arena instead returns the memory when this
     * network is destroyed (MC inference builds one per image size). */
    const doubt_arena context_arena = ctx->arena;
    ctx->arena = (doubt_arena){0};
    st = build(ctx, net);
    net->arena = ctx->arena;
    ctx->arena = context_arena;
    if (st != DOUBT_OK) {
        doubt_unet_destroy(net);
        return st;
    }
    *out = net;
    return DOUBT_OK;
}

void doubt_unet_destroy(doubt_unet *net)
{
    if (!net)
        return;
    for (int i = 0; i < DOUBT_NETDESC_MAX_LEVELS; i++)
        block_destroy(&net->enc[i]);
    for (int j = 0; j < DOUBT_NETDESC_MAX_LEVELS - 1; j++)
        block_destroy(&net->dec[j]);
    doubt_conv_destroy(net->head);
    dnnl_primitive_destroy(net->output_reorder);
    dnnl_primitive_desc_destroy(net->output_pd);
    dnnl_primitive_destroy(net->diff_output_reorder);
    dnnl_primitive_desc_destroy(net->diff_output_pd);
    doubt_tensor_release(&net->input);
    doubt_tensor_release(&net->output);
    doubt_tensor_release(&net->diff_output);
    doubt_tensor_release(&net->head_diff);
    doubt_arena_release(&net->arena);
    free(net);
}

/* conv' = conv·γ/√(var+ε) per output channel, bias' = β - mean·γ/√(var+ε) */
static doubt_status fold_block(doubt_ctx *ctx, doubt_unet_block *b)
{
    for (int k = 0; k < 2; k++) {
        doubt_conv *conv = k == 0 ? b->conv1 : b->conv2;
        const doubt_tensor *raw = &b->raw_weight[k], *bn = b->bn_params[k];
        const int64_t out = doubt_tensor_dim(raw, 0), per_out = doubt_tensor_count(raw) / out;
        float *folded = malloc((size_t)doubt_tensor_count(raw) * sizeof *folded);
        if (!folded)
            return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "%s: out of memory folding", conv->name);
        for (int64_t o = 0; o < out; o++) {
            const double scale = bn[BN_WEIGHT].data[o] / sqrt((double)bn[BN_VAR].data[o] + BN_EPS);
            for (int64_t i = 0; i < per_out; i++)
                folded[o * per_out + i] = (float)(raw->data[o * per_out + i] * scale);
            conv->bias.data[o] = (float)(bn[BN_BIAS].data[o] - bn[BN_MEAN].data[o] * scale);
        }
        doubt_status st = doubt_tensor_write(ctx, &conv->weight, folded);
        free(folded);
        if (st != DOUBT_OK)
            return st;
    }
    return DOUBT_OK;
}

doubt_status doubt_unet_parameters_changed(doubt_ctx *ctx, doubt_unet *net)
{
    if (net->mode != DOUBT_MODE_INFER)
        return DOUBT_OK;
    for (int i = 0; i < net->desc.levels; i++) {
        doubt_status st = fold_block(ctx, &net->enc[i]);
        if (st == DOUBT_OK && i < net->desc.levels - 1)
            st = fold_block(ctx, &net->dec[i]);
        if (st != DOUBT_OK)
            return st;
    }
    return DOUBT_OK;
}

doubt_status doubt_unet_init_weights(doubt_ctx *ctx, doubt_unet *net, uint64_t seed)
{
    doubt_status st = DOUBT_OK;
    for (int i = 0; i < net->n_params && st == DOUBT_OK; i++) {
        doubt_unet_param *p = &net->params[i];
        const char *field = strrchr(p->info.name, '.') + 1;
        float *plain = calloc((size_t)p->info.count, sizeof *plain);
        if (!plain)
            return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "unet init: out of memory");
        if (p->info.ndim == 4) {
            /* He-normal for ReLU networks: std = sqrt(2 / fan_in); the linear head gets
             * sqrt(1 / fan_in) */
            int64_t fan_in = p->info.shape[1] * p->info.shape[2] * p->info.shape[3];
            double gain = strncmp(p->info.name, "head.", 5) ? 2.0 : 1.0;
            float std = (float)sqrt(gain / (double)fan_in);
            doubt_rng_key key = {.seed = seed, .stream = 0x1417, .layer = (uint32_t)i};
            doubt_rng_normal_fill(key, 0, p->info.count, plain);
            for (int64_t k = 0; k < p->info.count; k++)
                plain[k] *= std;
        } else if (!strcmp(field, "weight") || !strcmp(field, "running_var")) {
            for (int64_t k = 0; k < p->info.count; k++)
                plain[k] = 1;
        }
        st = doubt_tensor_write(ctx, p->value, plain);
        free(plain);
    }
    return st == DOUBT_OK ? doubt_unet_parameters_changed(ctx, net) : st;
}

static doubt_status reorder(doubt_ctx *ctx, dnnl_primitive_t prim, const doubt_tensor *from,
                            doubt_tensor *to)
{
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from->mem}, {DNNL_ARG_TO, to->mem}};
    return doubt_ctx_execute(ctx, prim, 2, args, "unet edge reorder");
}

int doubt_unet_prefix_levels(const doubt_netdesc *d)
{
    const int levels = d->levels;
    if (d->dropout <= 0)
        return levels;
    return levels > 3 ? levels - 2 : 1;
}

doubt_status doubt_unet_forward_prefix(doubt_ctx *ctx, doubt_unet *net, const float *images)
{
    doubt_status st = DOUBT_OK;
    if (!net || !images)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "unet forward: NULL network or images");
    memcpy(net->input.data, images, (size_t)doubt_tensor_count(&net->input) * sizeof(float));
    const doubt_tensor *x = &net->input;
    for (int i = 0; i < doubt_unet_prefix_levels(&net->desc); i++) {
        doubt_unet_block *b = &net->enc[i];
        if (b->pool) {
            DOUBT_TRY(doubt_pool_forward(ctx, b->pool, x));
            x = &b->pool->dst;
        }
        DOUBT_TRY(block_forward(ctx, b, x, 0, 0));
        x = block_activation(b);
    }
done:
    return st;
}

doubt_status doubt_unet_forward_suffix(doubt_ctx *ctx, doubt_unet *net, int dropout_on,
                                       uint64_t sample_base)
{
    doubt_status st = DOUBT_OK;
    const int levels = net->desc.levels, first = doubt_unet_prefix_levels(&net->desc);
    net->dropout_on = dropout_on;
    /* the prefix stopped before the dropout of its last level */
    doubt_unet_block *last = &net->enc[first - 1];
    if (last->drop && dropout_on)
        DOUBT_TRY(doubt_dropout_forward(ctx, last->drop, block_activation(last), sample_base));
    const doubt_tensor *x = block_output(last, dropout_on);
    for (int i = first; i < levels; i++) {
        doubt_unet_block *b = &net->enc[i];
        DOUBT_TRY(doubt_pool_forward(ctx, b->pool, x));
        DOUBT_TRY(block_forward(ctx, b, &b->pool->dst, dropout_on, sample_base));
        x = block_output(b, dropout_on);
    }
    for (int j = 0; j < levels - 1; j++) {
        doubt_unet_block *b = &net->dec[j];
        const doubt_tensor *skip = block_output(&net->enc[levels - 2 - j], dropout_on);
        DOUBT_TRY(doubt_upsample_forward(ctx, b->up, x));
        const doubt_tensor *parts[2] = {&b->up->dst, skip};
        DOUBT_TRY(doubt_concat_forward(ctx, b->cat, parts));
        DOUBT_TRY(block_forward(ctx, b, &b->cat->dst, dropout_on, sample_base));
        x = block_output(b, dropout_on);
    }
    DOUBT_TRY(doubt_conv_forward(ctx, net->head, x));
    if (net->output_reorder)
        DOUBT_TRY(reorder(ctx, net->output_reorder, &net->head->dst, &net->output));
    else
        memcpy(net->output.data, net->head->dst.data, doubt_tensor_bytes(&net->output));
done:
    return st;
}

doubt_status doubt_unet_forward(doubt_ctx *ctx, doubt_unet *net, const float *images,
                                int dropout_on, uint64_t sample_base)
{
    doubt_status st = doubt_unet_forward_prefix(ctx, net, images);
    return st == DOUBT_OK ? doubt_unet_forward_suffix(ctx, net, dropout_on, sample_base) : st;
}

doubt_tensor *doubt_unet_prefix_output(doubt_unet *net, int level)
{
    return block_activation(&net->enc[level]);
}

void doubt_unet_set_dropout_seed(doubt_unet *net, uint64_t seed)
{
    for (int i = 0; i < net->desc.levels; i++)
        if (net->enc[i].drop)
            net->enc[i].drop->desc.seed = seed;
    for (int j = 0; j < net->desc.levels - 1; j++)
        if (net->dec[j].drop)
            net->dec[j].drop->desc.seed = seed;
}

static doubt_status set_block_window(doubt_ctx *ctx, doubt_unet_block *b, int level, int x,
                                     int y, int plane_w, int plane_h)
{
    if (!b->drop)
        return DOUBT_OK;
    const doubt_dropout_window w = {x >> level, y >> level, plane_w >> level, plane_h >> level};
    return doubt_dropout_set_window(ctx, b->drop, &w);
}

doubt_status doubt_unet_set_dropout_window(doubt_ctx *ctx, doubt_unet *net, int x, int y,
                                           int plane_w, int plane_h)
{
    doubt_status st = DOUBT_OK;
    const int levels = net->desc.levels, multiple = 1 << (levels - 1);
    if (x < 0 || y < 0 || x % multiple || y % multiple || plane_w % multiple ||
        plane_h % multiple)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "unet: a tile at (%d, %d) of a %dx%d image is not on the %d-pixel grid",
                          x, y, plane_w, plane_h, multiple);
    for (int i = 0; i < levels && st == DOUBT_OK; i++)
        st = set_block_window(ctx, &net->enc[i], i, x, y, plane_w, plane_h);
    for (int j = 0; j < levels - 1 && st == DOUBT_OK; j++)
        st = set_block_window(ctx, &net->dec[j], levels - 2 - j, x, y, plane_w, plane_h);
    return st;
}

const float *doubt_unet_output(const doubt_unet *net)
{
    return net->output.data;
}

float *doubt_unet_diff_output(doubt_unet *net)
{
    return net->diff_output.data;
}

doubt_status doubt_unet_backward(doubt_ctx *ctx, doubt_unet *net)
{
    doubt_status st = DOUBT_OK;
    if (!net || net->mode != DOUBT_MODE_TRAIN)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "unet backward: needs a training network");
    const int levels = net->desc.levels, dropout_on = net->dropout_on;
    const doubt_tensor *grad = &net->diff_output;
    if (net->diff_output_reorder) {
        DOUBT_TRY(reorder(ctx, net->diff_output_reorder, &net->diff_output, &net->head_diff));
        grad = &net->head_diff;
    }
    DOUBT_TRY(doubt_conv_backward(ctx, net->head, grad));
    grad = &net->head->diff_src;
    for (int j = levels - 2; j >= 0; j--) {
        doubt_unet_block *b = &net->dec[j];
        DOUBT_TRY(block_backward(ctx, b, grad, dropout_on));
        DOUBT_TRY(doubt_concat_backward(ctx, b->cat, &b->conv1->diff_src));
        DOUBT_TRY(doubt_upsample_backward(ctx, b->up, &b->cat->diff_src[0]));
        grad = &b->up->diff_src;
    }
    /* grad is now the gradient of the deepest encoder block's output */
    for (int i = levels - 1; i >= 0; i--) {
        doubt_unet_block *b = &net->enc[i];
        if (i < levels - 1) {
            /* this block feeds the pool below it and decoder levels-2-i's concat */
            dnnl_exec_arg_t args[3] = {
                {DNNL_ARG_MULTIPLE_SRC, net->enc[i + 1].pool->diff_src.mem},
                {DNNL_ARG_MULTIPLE_SRC + 1, net->dec[levels - 2 - i].cat->diff_src[1].mem},
                {DNNL_ARG_DST, b->grad_sum.mem},
            };
            DOUBT_TRY(doubt_ctx_execute(ctx, b->sum, 3, args, "unet skip gradient"));
            grad = &b->grad_sum;
        }
        DOUBT_TRY(block_backward(ctx, b, grad, dropout_on));
        if (b->pool)
            DOUBT_TRY(doubt_pool_backward(ctx, b->pool, &b->conv1->diff_src));
    }
done:
    return st;
}

doubt_unet_param *doubt_unet_param_find(doubt_unet *net, const char *name)
{
    for (int i = 0; i < net->n_params; i++)
        if (!strcmp(net->params[i].info.name, name))
            return &net->params[i];
    return NULL;
}

double doubt_unet_flops(const doubt_netdesc *d, int height, int width, int levels_only)
{
    const int levels = d->levels;
    const int upto = levels_only > 0 && levels_only < levels ? levels_only : levels;
    double flops = 0;
    for (int i = 0; i < upto; i++) {
        const double pixels = (double)(height >> i) * (width >> i);
        const int in = i == 0 ? d->in_channels : d->widths[i - 1];
        flops += 2 * pixels * 9 * ((double)in * d->widths[i] + (double)d->widths[i] * d->widths[i]);
    }
    if (upto < levels)
        return flops;
    for (int i = levels - 2; i >= 0; i--) {
        const double pixels = (double)(height >> i) * (width >> i);
        const double in = d->widths[i + 1] + d->widths[i];
        flops += 2 * pixels * 9 * (in * d->widths[i] + (double)d->widths[i] * d->widths[i]);
    }
    return flops + 2.0 * height * width * d->widths[0] * (d->classes + 3);
}
