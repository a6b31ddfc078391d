#include "net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv/add.h"
#include "conv/bnorm.h"
#include "conv/concat.h"
#include "conv/concrete.h"
#include "conv/conv.h"
#include "conv/dropout.h"
#include "conv/pool.h"
#include "conv/relu.h"
#include "conv/unpool.h"
#include "conv/upsample.h"
#include "core/rng.h"
#include "model/arch.h"

enum { BN_WEIGHT, BN_BIAS, BN_MEAN, BN_VAR };
#define MAX_GRAD_PARTS 8

struct doubt_net_node {
    int built;
    doubt_conv *conv;
    doubt_bnorm *bn;
    doubt_relu *relu;
    doubt_pool *pool;
    doubt_unpool *unpool;
    doubt_upsample *up;
    doubt_concat *cat;
    doubt_add *add;
    doubt_dropout *drop;
    doubt_concrete *concrete; /* training a learned rate */
    doubt_tensor raw_p_logit; /* inference with a learned rate: p = sigmoid of it */
    /* inference: a batch norm folded into the conv before it (its output is the conv's), and
     * on that conv the bn's index; the parameters as loaded, which the fold combines */
    int folded_into, folded_bn;
    doubt_tensor raw_weight, raw_bias, raw_bn[4];
    /* split convs (graph.h): SAMPLES convolves only the stochastic input, `split_from`,
     * whose channels start at split_offset in the concatenation; CACHE adds `partial`, the
     * convolution of the deterministic input `partial_from` at partial_offset */
    int split, split_from, split_offset;
    doubt_conv *partial;
    int partial_from, partial_offset;
    /* SAMPLES: a deterministic node whose output (and pool indices) come from the cache, and
     * a concatenation its split conv makes unnecessary */
    int fed, skipped;
    doubt_tensor fed_dst, fed_workspace;
    /* training: the gradient of the output, summed over its readers when they are several */
    const doubt_tensor *grad;
    doubt_tensor grad_sum;
    dnnl_primitive_desc_t sum_pd;
    dnnl_primitive_t sum;
};

static const doubt_node *spec(const doubt_net *net, int i)
{
    return &net->graph.nodes[i];
}

static const doubt_tensor *node_output(const doubt_net *net, int i)
{
    const doubt_net_node *n = &net->nodes[i];
    if (n->fed)
        return &n->fed_dst;
    switch (spec(net, i)->op) {
    case DOUBT_NODE_INPUT:
        return &net->input;
    case DOUBT_NODE_CONV:
        return &n->conv->dst;
    case DOUBT_NODE_BNORM:
        return n->folded_into >= 0 ? node_output(net, n->folded_into) : &n->bn->dst;
    case DOUBT_NODE_RELU:
        return &n->relu->dst;
    case DOUBT_NODE_POOL:
        return &n->pool->dst;
    case DOUBT_NODE_UNPOOL:
        return &n->unpool->dst;
    case DOUBT_NODE_UPSAMPLE:
        return &n->up->dst;
    case DOUBT_NODE_CONCAT:
        return &n->cat->dst;
    case DOUBT_NODE_ADD:
        return &n->add->dst;
    case DOUBT_NODE_DROPOUT:
        if (n->concrete && net->dropout_on)
            return &n->concrete->dst;
        if (n->drop && net->dropout_on)
            return &n->drop->dst;
        return node_output(net, spec(net, i)->inputs[0]);
    }
    return NULL;
}

/* Whether node i's output exists in this network (a SAMPLES network leaves some out). */
static int available(const doubt_net *net, int i)
{
    return net->nodes[i].built || net->nodes[i].fed;
}

static const doubt_tensor *node_workspace(const doubt_net *net, int pool)
{
    const doubt_net_node *n = &net->nodes[pool];
    return n->fed ? &n->fed_workspace : &n->pool->workspace;
}

/* md with batch `batch`, for layouts where the batch is the outermost, dense dimension (so a
 * batch-1 tensor repeated row by row is the batched one); fails otherwise. */
static doubt_status batched_md(doubt_ctx *ctx, const dnnl_memory_desc_t *md, int batch,
                               dnnl_memory_desc_t *out)
{
    *out = *md;
    out->dims[0] = out->padded_dims[0] = batch;
    const size_t one = dnnl_memory_desc_get_size(md);
    if (md->dims[0] != 1 || md->format_kind != dnnl_blocked || md->offset0 != 0 ||
        (size_t)md->format_desc.blocking.strides[0] * dnnl_data_type_size(md->data_type) != one ||
        dnnl_memory_desc_get_size(out) != one * (size_t)batch)
        return doubt_fail(&ctx->err, DOUBT_ERR_DNNL,
                          "network: a cached tensor's layout cannot be stacked %d times", batch);
    return DOUBT_OK;
}

/* Copies a batch-1 tensor into every row of a batched one of the same layout. */
static void repeat_rows(const doubt_tensor *one, doubt_tensor *many, int batch)
{
    const size_t bytes = doubt_tensor_bytes(one);
    for (int r = 0; r < batch; r++)
        memcpy((char *)many->data + (size_t)r * bytes, one->data, bytes);
}

/* SAMPLES: a deterministic node is fed from the cache when a node built here reads it. */
static int needs_feeding(const doubt_net *net, int i)
{
    int readers[DOUBT_GRAPH_MAX_NODES];
    const int n = doubt_graph_consumers(&net->graph, i, readers, DOUBT_GRAPH_MAX_NODES);
    for (int k = 0; k < n; k++)
        if (net->stochastic[readers[k]] && !net->nodes[readers[k]].skipped)
            return 1;
    return 0;
}

/* Marks the split convs (and, for SAMPLES, the concatenations they replace). */
static void plan_splits(doubt_net *net)
{
    for (int i = 0; i < net->graph.n_nodes; i++) {
        doubt_net_node *n = &net->nodes[i];
        int s, s_off, d, d_off;
        if (!net->stochastic[i] || !doubt_graph_split(&net->graph, net->stochastic, net->shapes, i,
                                                      &s, &s_off, &d, &d_off))
            continue;
        if (net->role == DOUBT_NET_SAMPLES) {
            n->split = 1;
            n->split_from = s;
            n->split_offset = s_off;
            net->nodes[spec(net, i)->inputs[0]].skipped = 1;
        } else {
            n->partial_from = d;
            n->partial_offset = d_off;
        }
    }
}

static doubt_status init_plain(doubt_ctx *ctx, doubt_tensor *t, int ndims, const int64_t *dims,
                               const char *name)
{
    return doubt_tensor_init_plain(ctx, t, ndims, dims, DOUBT_TENSOR_OWNED, name);
}

/* Inference keeps a folded or split conv's parameters as loaded (plain) to combine them. */
static doubt_status raw_params_create(doubt_ctx *ctx, doubt_net *net, int i)
{
    doubt_status st = DOUBT_OK;
    doubt_net_node *n = &net->nodes[i];
    const doubt_node *c = spec(net, i);
    const int64_t out = net->shapes[i].channels;
    const int64_t w[4] = {out, net->shapes[c->inputs[0]].channels, c->kernel, c->kernel};
    DOUBT_TRY(init_plain(ctx, &n->raw_weight, 4, w, c->name));
    if (c->bias)
        DOUBT_TRY(init_plain(ctx, &n->raw_bias, 1, &out, c->name));
    if (n->folded_bn >= 0) {
        doubt_tensor *bn = net->nodes[n->folded_bn].raw_bn;
        for (int k = 0; k < 4; k++)
            DOUBT_TRY(init_plain(ctx, &bn[k], 1, &out, spec(net, n->folded_bn)->name));
        for (int64_t o = 0; o < out; o++)
            bn[BN_WEIGHT].data[o] = bn[BN_VAR].data[o] = 1;
    }
done:
    return st;
}

static doubt_status create_conv(doubt_ctx *ctx, doubt_net *net, int i)
{
    doubt_status st = DOUBT_OK;
    doubt_net_node *n = &net->nodes[i];
    const doubt_node *c = spec(net, i);
    const int infer = net->mode == DOUBT_MODE_INFER;
    int readers[2];
    n->folded_bn = -1;
    if (infer && doubt_graph_consumers(&net->graph, i, readers, 2) == 1 &&
        spec(net, readers[0])->op == DOUBT_NODE_BNORM)
        n->folded_bn = readers[0];
    const int from = n->split ? n->split_from : c->inputs[0];
    const doubt_tensor *src = node_output(net, from);
    dnnl_memory_desc_t dst_md;
    doubt_conv_desc d = {.name = c->name, .in_channels = net->shapes[from].channels,
                         .out_channels = c->channels, .kernel = c->kernel,
                         .bias = c->bias || n->folded_bn >= 0,
                         .fuse_relu = n->folded_bn >= 0 && spec(net, n->folded_bn)->relu,
                         .no_input_grad = !infer && from == 0, .accumulate = n->split,
                         .winograd = 1};
    if (n->split) {
        /* this half adds onto the cache's half: both must have one layout */
        DOUBT_TRY(batched_md(ctx, &net->cache->nodes[i].partial->dst.md, net->batch, &dst_md));
        d.dst_md = &dst_md;
    }
    DOUBT_TRY(doubt_conv_create(ctx, &d, &src->md, net->mode, &n->conv));
    if (net->role == DOUBT_NET_CACHE && n->partial_from >= 0) {
        char name[DOUBT_NAME_LEN];
        snprintf(name, sizeof name, "%s (cached part)", c->name);
        const doubt_tensor *part = node_output(net, n->partial_from);
        doubt_conv_desc pd = {.name = name, .in_channels = net->shapes[n->partial_from].channels,
                              .out_channels = c->channels, .kernel = c->kernel,
                              .winograd = 1};
        DOUBT_TRY(doubt_conv_create(ctx, &pd, &part->md, net->mode, &n->partial));
    }
    if (infer && (n->folded_bn >= 0 || n->split || n->partial))
        DOUBT_TRY(raw_params_create(ctx, net, i));
    if (n->folded_bn >= 0)
        net->nodes[n->folded_bn].folded_into = i;
done:
    return st;
}

static int has_unpool_reader(const doubt_net *net, int i)
{
    int readers[DOUBT_GRAPH_MAX_NODES];
    const int n = doubt_graph_consumers(&net->graph, i, readers, DOUBT_GRAPH_MAX_NODES);
    for (int k = 0; k < n; k++)
        if (spec(net, readers[k])->op == DOUBT_NODE_UNPOOL)
            return 1;
    return 0;
}

/* The md of a pool's input: in a SAMPLES network a fed pool's input exists only in the
 * cache, so its md is the cache's, batched. */
static doubt_status pool_src_md(doubt_ctx *ctx, const doubt_net *net, int pool,
                                dnnl_memory_desc_t *md)
{
    const int from = spec(net, pool)->inputs[0];
    if (net->nodes[pool].fed)
        return batched_md(ctx, &node_output(net->cache, from)->md, net->batch, md);
    *md = node_output(net, from)->md;
    return DOUBT_OK;
}

static doubt_status create_fed(doubt_ctx *ctx, doubt_net *net, int i)
{
    doubt_status st = DOUBT_OK;
    doubt_net_node *n = &net->nodes[i];
    dnnl_memory_desc_t md;
    n->fed = 1;
    DOUBT_TRY(batched_md(ctx, &node_output(net->cache, i)->md, net->batch, &md));
    DOUBT_TRY(doubt_tensor_init(ctx, &n->fed_dst, &md, DOUBT_TENSOR_ARENA, spec(net, i)->name));
    if (spec(net, i)->op == DOUBT_NODE_POOL && has_unpool_reader(net, i)) {
        DOUBT_TRY(batched_md(ctx, &node_workspace(net->cache, i)->md, net->batch, &md));
        DOUBT_TRY(doubt_tensor_init(ctx, &n->fed_workspace, &md, DOUBT_TENSOR_ARENA,
                                    spec(net, i)->name));
    }
done:
    return st;
}

static doubt_status create_node(doubt_ctx *ctx, doubt_net *net, int i)
{
    doubt_status st = DOUBT_OK;
    doubt_net_node *n = &net->nodes[i];
    const doubt_node *s = spec(net, i);
    const doubt_mode mode = net->mode;
    const dnnl_memory_desc_t *mds[DOUBT_NODE_MAX_INPUTS] = {NULL};
    for (int k = 0; k < s->n_inputs; k++)
        if (available(net, s->inputs[k]))
            mds[k] = &node_output(net, s->inputs[k])->md;
    const dnnl_memory_desc_t *in_md = mds[0];
    n->built = 1;
    switch (s->op) {
    case DOUBT_NODE_INPUT:
        break;
    case DOUBT_NODE_CONV:
        DOUBT_TRY(create_conv(ctx, net, i));
        break;
    case DOUBT_NODE_BNORM:
        if (n->folded_into < 0) {
            doubt_bnorm_desc d = {.name = s->name, .channels = net->shapes[i].channels,
                                  .fuse_relu = s->relu};
            DOUBT_TRY(doubt_bnorm_create(ctx, &d, in_md, mode, &n->bn));
        }
        break;
    case DOUBT_NODE_RELU:
        DOUBT_TRY(doubt_relu_create(ctx, s->name, in_md, mode, &n->relu));
        break;
    case DOUBT_NODE_POOL:
        DOUBT_TRY(doubt_pool_create(ctx, s->name, in_md, mode, has_unpool_reader(net, i),
                                    &n->pool));
        break;
    case DOUBT_NODE_UNPOOL: {
        dnnl_memory_desc_t unpooled;
        const int pool = s->inputs[1];
        DOUBT_TRY(pool_src_md(ctx, net, pool, &unpooled));
        DOUBT_TRY(doubt_unpool_create(ctx, s->name, in_md, &unpooled, &node_output(net, pool)->md,
                                      &node_workspace(net, pool)->md, mode, &n->unpool));
        break;
    }
    case DOUBT_NODE_UPSAMPLE:
        DOUBT_TRY(doubt_upsample_create(ctx, s->name, in_md, mode, &n->up));
        break;
    case DOUBT_NODE_CONCAT:
        DOUBT_TRY(doubt_concat_create(ctx, s->name, s->n_inputs, mds, mode, &n->cat));
        break;
    case DOUBT_NODE_ADD:
        DOUBT_TRY(doubt_add_create(ctx, s->name, s->n_inputs, mds, mode, &n->add));
        break;
    case DOUBT_NODE_DROPOUT:
        if (s->concrete && mode == DOUBT_MODE_TRAIN) {
            doubt_concrete_desc d = {.name = s->name, .layer_id = (uint32_t)s->site};
            DOUBT_TRY(doubt_concrete_create(ctx, &d, in_md, (float)s->p, &n->concrete));
        } else if (s->p > 0) {
            doubt_dropout_desc d = {.name = s->name, .p = (float)s->p,
                                    .layer_id = (uint32_t)s->site, .channelwise = s->concrete};
            DOUBT_TRY(doubt_dropout_create(ctx, &d, in_md, mode, &n->drop));
        }
        if (s->concrete && mode == DOUBT_MODE_INFER) {
            const int64_t one = 1;
            DOUBT_TRY(init_plain(ctx, &n->raw_p_logit, 1, &one, s->name));
            n->raw_p_logit.data[0] = (float)log(s->p / (1 - s->p));
        }
        break;
    }
done:
    return st;
}

/* The tensor in which reader r hands back the gradient of its input `slot`; NULL for an
 * unpool's indices, which carry none. */
static const doubt_tensor *input_grad(const doubt_net *net, int r, int slot)
{
    const doubt_net_node *n = &net->nodes[r];
    switch (spec(net, r)->op) {
    case DOUBT_NODE_CONV:
        return &n->conv->diff_src;
    case DOUBT_NODE_BNORM:
        return &n->bn->diff_src;
    case DOUBT_NODE_RELU:
        return &n->relu->diff_src;
    case DOUBT_NODE_POOL:
        return &n->pool->diff_src;
    case DOUBT_NODE_UNPOOL:
        return slot == 0 ? &n->unpool->diff_src : NULL;
    case DOUBT_NODE_UPSAMPLE:
        return &n->up->diff_src;
    case DOUBT_NODE_CONCAT:
        return &n->cat->diff_src[slot];
    case DOUBT_NODE_ADD:
        return &n->add->diff_src[slot];
    case DOUBT_NODE_DROPOUT:
        if (n->concrete && net->dropout_on)
            return &n->concrete->diff_src;
        return n->drop && net->dropout_on ? &n->drop->diff_src : n->grad;
    case DOUBT_NODE_INPUT:
        break;
    }
    return NULL;
}

/* The (reader, slot) pairs that send node i a gradient: the first MAX_GRAD_PARTS of them;
 * returns how many there are. */
static int grad_parts(const doubt_net *net, int i, int *readers, int *slots)
{
    int count = 0;
    for (int r = i + 1; r < net->graph.n_nodes; r++) {
        const doubt_node *s = spec(net, r);
        for (int k = 0; k < s->n_inputs; k++)
            if (s->inputs[k] == i && !(s->op == DOUBT_NODE_UNPOOL && k == 1)) {
                if (count < MAX_GRAD_PARTS) {
                    readers[count] = r;
                    slots[count] = k;
                }
                count++;
            }
    }
    return count;
}

/* Training: a node read by several nodes sums their gradients, with a sum made once. */
static doubt_status create_grad_sum(doubt_ctx *ctx, doubt_net *net, int i)
{
    doubt_status st = DOUBT_OK;
    int readers[MAX_GRAD_PARTS], slots[MAX_GRAD_PARTS];
    const int parts = grad_parts(net, i, readers, slots);
    if (parts > MAX_GRAD_PARTS)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "network: %s is read by %d nodes, training sums at most %d gradients",
                          spec(net, i)->name, parts, MAX_GRAD_PARTS);
    if (parts < 2)
        return DOUBT_OK;
    doubt_net_node *n = &net->nodes[i];
    const dnnl_memory_desc_t *md = &node_output(net, i)->md;
    float scales[MAX_GRAD_PARTS];
    dnnl_memory_desc_t srcs[MAX_GRAD_PARTS];
    for (int k = 0; k < parts; k++) {
        scales[k] = 1.f;
        srcs[k] = *md;
    }
    DOUBT_TRY(doubt_tensor_init(ctx, &n->grad_sum, md, DOUBT_TENSOR_ARENA, spec(net, i)->name));
    DOUBT_DNNL(ctx, dnnl_sum_primitive_desc_create(&n->sum_pd, md, parts, scales, srcs, NULL,
                                                   ctx->engine));
    DOUBT_DNNL(ctx, dnnl_primitive_create(&n->sum, n->sum_pd));
done:
    return st;
}

static doubt_tensor *param_value(doubt_net *net, int i, int leaf, doubt_tensor **grad)
{
    doubt_net_node *n = &net->nodes[i];
    *grad = NULL;
    if (spec(net, i)->op == DOUBT_NODE_CONV) {
        if (n->raw_weight.mem)
            return leaf == 0 ? &n->raw_weight : &n->raw_bias;
        *grad = leaf == 0 ? &n->conv->diff_weight : &n->conv->diff_bias;
        return leaf == 0 ? &n->conv->weight : &n->conv->bias;
    }
    if (spec(net, i)->op == DOUBT_NODE_DROPOUT) {
        if (!n->concrete)
            return &n->raw_p_logit;
        *grad = &n->concrete->diff_p_logit;
        return &n->concrete->p_logit;
    }
    if (n->folded_into >= 0)
        return &n->raw_bn[leaf];
    doubt_bnorm *bn = n->bn;
    doubt_tensor *values[4] = {&bn->weight, &bn->bias, &bn->running_mean, &bn->running_var};
    if (leaf < 2)
        *grad = leaf == 0 ? &bn->diff_weight : &bn->diff_bias;
    return values[leaf];
}

/* Binds every parameter of the nodes built here to its tensor, in doubt_netdesc_params'
 * order. */
static doubt_status bind_params(doubt_ctx *ctx, doubt_net *net)
{
    doubt_param_info infos[DOUBT_NETDESC_MAX_PARAMS];
    const int n = doubt_graph_params(&net->graph, net->shapes, infos, DOUBT_NETDESC_MAX_PARAMS);
    if (n > DOUBT_NETDESC_MAX_PARAMS)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "network: %d tensors, more than %d", n,
                          DOUBT_NETDESC_MAX_PARAMS);
    int at = 0;
    net->n_params = 0;
    for (int i = 0; i < net->graph.n_nodes; i++) {
        const doubt_node *s = spec(net, i);
        const int leaves = s->op == DOUBT_NODE_CONV                     ? 1 + s->bias
                           : s->op == DOUBT_NODE_BNORM                  ? 4
                           : s->op == DOUBT_NODE_DROPOUT && s->concrete ? 1
                                                                        : 0;
        for (int leaf = 0; leaf < leaves; leaf++, at++) {
            if (!net->nodes[i].built || net->nodes[i].fed || at >= n)
                continue;
            doubt_net_param *p = &net->params[net->n_params++];
            p->info = infos[at];
            p->value = param_value(net, i, leaf, &p->grad);
            if (!p->value || doubt_tensor_count(p->value) != p->info.count)
                return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                                  "network: parameter %s has no layer tensor", p->info.name);
            if (net->mode != DOUBT_MODE_TRAIN || (p->grad && !p->grad->mem))
                p->grad = NULL;
        }
    }
    return DOUBT_OK;
}

static doubt_status build(doubt_ctx *ctx, doubt_net *net)
{
    doubt_status st = DOUBT_OK;
    const doubt_netdesc *d = &net->desc;
    const int nodes = net->graph.n_nodes, last = nodes - 1;
    const int64_t in_dims[4] = {net->batch, d->in_channels, net->height, net->width};
    net->nodes = calloc((size_t)nodes, sizeof *net->nodes);
    if (!net->nodes)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "network: out of memory");
    for (int i = 0; i < nodes; i++)
        net->nodes[i].folded_into = net->nodes[i].folded_bn = net->nodes[i].partial_from = -1;
    DOUBT_TRY(doubt_tensor_init_plain(ctx, &net->input, 4, in_dims, DOUBT_TENSOR_ARENA, "input"));
    plan_splits(net);
    for (int i = 0; i < nodes; i++) {
        if (net->role != DOUBT_NET_SAMPLES || (net->stochastic[i] && !net->nodes[i].skipped))
            DOUBT_TRY(create_node(ctx, net, i));
        else if (i > 0 && !net->stochastic[i] && needs_feeding(net, i))
            DOUBT_TRY(create_fed(ctx, net, i));
    }
    if (net->mode == DOUBT_MODE_TRAIN)
        for (int i = 1; i < nodes; i++)
            DOUBT_TRY(create_grad_sum(ctx, net, i));

    const int64_t out_dims[4] = {net->batch, d->classes + 3, net->height, net->width};
    const doubt_tensor *head = node_output(net, last);
    DOUBT_TRY(doubt_tensor_init_plain(ctx, &net->output, 4, out_dims, DOUBT_TENSOR_ARENA,
                                      "output"));
    DOUBT_TRY(doubt_reorder_make(ctx, &head->md, &net->output.md, &net->output_pd,
                                 &net->output_reorder));
    if (net->mode == DOUBT_MODE_TRAIN) {
        DOUBT_TRY(doubt_tensor_init_plain(ctx, &net->diff_output, 4, out_dims, DOUBT_TENSOR_ARENA,
                                          "output gradient"));
        if (net->output_reorder) {
            DOUBT_TRY(doubt_tensor_init(ctx, &net->head_diff, &head->md, DOUBT_TENSOR_ARENA,
                                        "head gradient"));
            DOUBT_TRY(doubt_reorder_make(ctx, &net->diff_output.md, &head->md, &net->diff_output_pd,
                                   &net->diff_output_reorder));
        }
    }
    DOUBT_TRY(bind_params(ctx, net));
done:
    return st;
}

static doubt_status create(doubt_ctx *ctx, const doubt_netdesc *desc, const doubt_graph *graph,
                           int batch, int height, int width, doubt_mode mode,
                           doubt_net_role role, const doubt_net *cache, doubt_net **out)
{
    doubt_status st = DOUBT_OK;
    *out = NULL;
    if (!desc)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "network: NULL description");
    if ((st = doubt_netdesc_validate(desc, &ctx->err)) != DOUBT_OK)
        return st;
    doubt_net *net = calloc(1, sizeof *net);
    if (!net)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "network: out of memory");
    net->desc = *desc;
    net->mode = mode;
    net->role = role;
    net->cache = cache;
    net->batch = batch;
    net->height = height;
    net->width = width;
    net->dropout_on = role == DOUBT_NET_SAMPLES;
    if (graph) {
        net->graph = *graph;
        st = doubt_graph_check(&net->graph, net->shapes, &ctx->err);
    } else
        st = doubt_arch_graph(desc, &net->graph, net->shapes, &ctx->err);
    if (st != DOUBT_OK) {
        free(net);
        return st;
    }
    const int gives = net->shapes[net->graph.n_nodes - 1].channels;
    if (net->graph.in_channels != desc->in_channels || gives != desc->classes + 3) {
        st = doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                        "network: the graph takes %d channels and gives %d, the description "
                        "says %d and %d classes + 3",
                        net->graph.in_channels, gives, desc->in_channels, desc->classes);
        free(net);
        return st;
    }
    doubt_graph_stochastic(&net->graph, net->stochastic);
    if (role == DOUBT_NET_SAMPLES && !net->stochastic[net->graph.n_nodes - 1]) {
        free(net);
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "network: no dropout reaches the output, so there is nothing to "
                          "sample: run the deterministic pass");
    }
    const int grid = net->graph.grid;
    if (batch <= 0 || height <= 0 || width <= 0 || height % grid || width % grid) {
        free(net);
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "%s: input %dx%dx%d: batch must be positive and H, W multiples of %d",
                          desc->arch, batch, height, width, grid);
    }
    /* Layers take their activations from the context's arena, which lives as long as the
     * context; lending them the network's own arena instead returns the memory when this
     * network is destroyed (MC inference builds one per image size). */
    const doubt_arena context_arena = ctx->arena;
    ctx->arena = (doubt_arena){0};
    st = build(ctx, net);
    net->arena = ctx->arena;
    ctx->arena = context_arena;
    if (st != DOUBT_OK) {
        doubt_net_destroy(net);
        return st;
    }
    *out = net;
    return DOUBT_OK;
}

doubt_status doubt_net_create(doubt_ctx *ctx, const doubt_netdesc *desc, int batch, int height,
                              int width, doubt_mode mode, doubt_net **out)
{
    return create(ctx, desc, NULL, batch, height, width, mode, DOUBT_NET_WHOLE, NULL, out);
}

doubt_status doubt_net_create_graph(doubt_ctx *ctx, const doubt_netdesc *desc,
                                    const doubt_graph *graph, int batch, int height, int width,
                                    doubt_mode mode, doubt_net **out)
{
    *out = NULL;
    if (!graph)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "network: NULL graph");
    return create(ctx, desc, graph, batch, height, width, mode, DOUBT_NET_WHOLE, NULL, out);
}

doubt_status doubt_net_create_cache(doubt_ctx *ctx, const doubt_netdesc *desc, int height,
                                    int width, doubt_net **out)
{
    return create(ctx, desc, NULL, 1, height, width, DOUBT_MODE_INFER, DOUBT_NET_CACHE, NULL,
                  out);
}

doubt_status doubt_net_create_samples(doubt_ctx *ctx, const doubt_net *cache, int batch,
                                      doubt_net **out)
{
    *out = NULL;
    if (!cache || cache->role != DOUBT_NET_CACHE)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "network: samples need a cache network");
    return create(ctx, &cache->desc, &cache->graph, batch, cache->height, cache->width,
                  DOUBT_MODE_INFER, DOUBT_NET_SAMPLES, cache, out);
}

static void node_destroy(doubt_net_node *n)
{
    doubt_conv_destroy(n->conv);
    doubt_conv_destroy(n->partial);
    doubt_bnorm_destroy(n->bn);
    doubt_relu_destroy(n->relu);
    doubt_pool_destroy(n->pool);
    doubt_unpool_destroy(n->unpool);
    doubt_upsample_destroy(n->up);
    doubt_concat_destroy(n->cat);
    doubt_add_destroy(n->add);
    doubt_dropout_destroy(n->drop);
    doubt_concrete_destroy(n->concrete);
    doubt_tensor *tensors[] = {&n->raw_p_logit, &n->raw_weight,  &n->raw_bias,
                               &n->raw_bn[0],   &n->raw_bn[1],   &n->raw_bn[2],
                               &n->raw_bn[3],   &n->fed_dst,     &n->fed_workspace,
                               &n->grad_sum};
    for (size_t k = 0; k < sizeof tensors / sizeof tensors[0]; k++)
        doubt_tensor_release(tensors[k]);
    dnnl_primitive_destroy(n->sum);
    dnnl_primitive_desc_destroy(n->sum_pd);
}

void doubt_net_destroy(doubt_net *net)
{
    if (!net)
        return;
    if (net->nodes)
        for (int i = 0; i < net->graph.n_nodes; i++)
            node_destroy(&net->nodes[i]);
    free(net->nodes);
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

/* Writes channels [offset, offset + conv's inputs) of the plain [O, I, k, k] weights. */
static doubt_status write_slice(doubt_ctx *ctx, doubt_conv *conv, const float *weights,
                                int64_t in_total, int64_t offset)
{
    const int64_t out = conv->desc.out_channels, in = conv->desc.in_channels;
    const int64_t taps = (int64_t)conv->desc.kernel * conv->desc.kernel;
    if (in == in_total)
        return doubt_tensor_write(ctx, &conv->weight, weights);
    float *slice = malloc((size_t)(out * in * taps) * sizeof *slice);
    if (!slice)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "%s: out of memory", conv->name);
    for (int64_t o = 0; o < out; o++)
        memcpy(slice + o * in * taps, weights + (o * in_total + offset) * taps,
               (size_t)(in * taps) * sizeof *slice);
    doubt_status st = doubt_tensor_write(ctx, &conv->weight, slice);
    free(slice);
    return st;
}

/* conv' = conv·γ/√(var+ε) per output channel, bias' = β + (bias - mean)·γ/√(var+ε); then the
 * layers' slices of it. */
static doubt_status fold_conv(doubt_ctx *ctx, doubt_net *net, int i)
{
    doubt_net_node *n = &net->nodes[i];
    const doubt_tensor *raw = &n->raw_weight;
    const doubt_tensor *bn = n->folded_bn >= 0 ? net->nodes[n->folded_bn].raw_bn : NULL;
    const int64_t out = doubt_tensor_dim(raw, 0), per_out = doubt_tensor_count(raw) / out;
    float *folded = malloc((size_t)doubt_tensor_count(raw) * sizeof *folded);
    if (!folded)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "%s: out of memory folding", n->conv->name);
    const float *bn_values[4] = {0};
    for (int k = 0; bn && k < 4; k++)
        bn_values[k] = bn[k].data;
    doubt_bnorm_fold(raw->data, n->raw_bias.mem ? n->raw_bias.data : NULL,
                     bn ? bn_values : NULL, out, per_out, folded,
                     n->conv->desc.bias ? n->conv->bias.data : NULL);
    const int64_t in_total = doubt_tensor_dim(raw, 1);
    doubt_status st = write_slice(ctx, n->conv, folded, in_total, n->split ? n->split_offset : 0);
    if (st == DOUBT_OK && n->partial)
        st = write_slice(ctx, n->partial, folded, in_total, n->partial_offset);
    free(folded);
    return st;
}

/* A learned rate as a dropout layer takes it: below 1 by enough that 1/(1-p) stays finite. */
#define MAX_LEARNED_RATE 0.999

doubt_status doubt_net_parameters_changed(doubt_ctx *ctx, doubt_net *net)
{
    if (net->mode != DOUBT_MODE_INFER)
        return DOUBT_OK;
    for (int i = 0; i < net->graph.n_nodes; i++) {
        doubt_net_node *n = &net->nodes[i];
        if (n->raw_p_logit.mem && n->drop) {
            const double p = 1 / (1 + exp(-(double)n->raw_p_logit.data[0]));
            n->drop->desc.p = (float)(p < MAX_LEARNED_RATE ? p : MAX_LEARNED_RATE);
        }
    }
    for (int i = 0; i < net->graph.n_nodes; i++) {
        doubt_net_node *n = &net->nodes[i];
        doubt_status st = n->raw_weight.mem ? fold_conv(ctx, net, i) : DOUBT_OK;
        if (st == DOUBT_OK && n->conv)
            st = doubt_conv_weights_changed(ctx, n->conv);
        if (st == DOUBT_OK && n->partial)
            st = doubt_conv_weights_changed(ctx, n->partial);
        if (st != DOUBT_OK)
            return st;
    }
    return DOUBT_OK;
}

doubt_status doubt_net_init_weights(doubt_ctx *ctx, doubt_net *net, uint64_t seed)
{
    doubt_status st = DOUBT_OK;
    for (int i = 0; i < net->n_params && st == DOUBT_OK; i++) {
        doubt_net_param *p = &net->params[i];
        const char *field = strrchr(p->info.name, '.') + 1;
        if (!strcmp(field, "p_logit"))
            continue; /* a learned rate starts at the description's */
        float *plain = calloc((size_t)p->info.count, sizeof *plain);
        if (!plain)
            return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "network init: out of memory");
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
    return st == DOUBT_OK ? doubt_net_parameters_changed(ctx, net) : st;
}

static doubt_status run_node(doubt_ctx *ctx, doubt_net *net, int i, uint64_t sample_base)
{
    doubt_net_node *n = &net->nodes[i];
    const doubt_node *s = spec(net, i);
    const doubt_tensor *in[DOUBT_NODE_MAX_INPUTS] = {NULL};
    for (int k = 0; k < s->n_inputs; k++)
        if (available(net, s->inputs[k]))
            in[k] = node_output(net, s->inputs[k]);
    switch (s->op) {
    case DOUBT_NODE_CONV:
        if (n->split) {
            /* the cache's half of the sum, onto which this half adds */
            repeat_rows(&net->cache->nodes[i].partial->dst, &n->conv->dst, net->batch);
            return doubt_conv_forward(ctx, n->conv, node_output(net, n->split_from));
        }
        return doubt_conv_forward(ctx, n->conv, in[0]);
    case DOUBT_NODE_BNORM:
        return n->bn ? doubt_bnorm_forward(ctx, n->bn, in[0]) : DOUBT_OK;
    case DOUBT_NODE_RELU:
        return doubt_relu_forward(ctx, n->relu, in[0]);
    case DOUBT_NODE_POOL:
        return doubt_pool_forward(ctx, n->pool, in[0]);
    case DOUBT_NODE_UNPOOL:
        return doubt_unpool_forward(ctx, n->unpool, in[0], node_workspace(net, s->inputs[1]));
    case DOUBT_NODE_UPSAMPLE:
        return doubt_upsample_forward(ctx, n->up, in[0]);
    case DOUBT_NODE_CONCAT:
        return doubt_concat_forward(ctx, n->cat, in);
    case DOUBT_NODE_ADD:
        return doubt_add_forward(ctx, n->add, in);
    case DOUBT_NODE_DROPOUT:
        if (n->concrete && net->dropout_on)
            return doubt_concrete_forward(ctx, n->concrete, in[0], sample_base);
        return n->drop && net->dropout_on ? doubt_dropout_forward(ctx, n->drop, in[0], sample_base)
                                          : DOUBT_OK;
    case DOUBT_NODE_INPUT:
        break;
    }
    return DOUBT_OK;
}

static doubt_status write_output(doubt_ctx *ctx, doubt_net *net)
{
    const doubt_tensor *head = node_output(net, net->graph.n_nodes - 1);
    return doubt_reorder_run(ctx, net->output_reorder, head, &net->output, "network output");
}

static doubt_status load_input(doubt_ctx *ctx, doubt_net *net, const float *images)
{
    if (!net || !images)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "network forward: NULL network or images");
    memcpy(net->input.data, images, (size_t)doubt_tensor_count(&net->input) * sizeof(float));
    return DOUBT_OK;
}

doubt_status doubt_net_forward(doubt_ctx *ctx, doubt_net *net, const float *images,
                               int dropout_on, uint64_t sample_base)
{
    doubt_status st = load_input(ctx, net, images);
    if (st != DOUBT_OK)
        return st;
    if (net->role == DOUBT_NET_SAMPLES)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "network: a samples network runs its samples");
    net->dropout_on = dropout_on;
    for (int i = 1; i < net->graph.n_nodes && st == DOUBT_OK; i++)
        st = run_node(ctx, net, i, sample_base);
    return st == DOUBT_OK ? write_output(ctx, net) : st;
}

doubt_status doubt_net_forward_cached(doubt_ctx *ctx, doubt_net *cache, const float *images)
{
    doubt_status st = load_input(ctx, cache, images);
    if (st != DOUBT_OK)
        return st;
    if (cache->role != DOUBT_NET_CACHE)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "network: not a cache network");
    cache->dropout_on = 0;
    for (int i = 1; i < cache->graph.n_nodes && st == DOUBT_OK; i++) {
        doubt_net_node *n = &cache->nodes[i];
        if (!cache->stochastic[i])
            st = run_node(ctx, cache, i, 0);
        else if (n->partial)
            st = doubt_conv_forward(ctx, n->partial, node_output(cache, n->partial_from));
    }
    if (st == DOUBT_OK) /* a samples network copies only a cache that ran to the end */
        cache->generation++;
    return st;
}

doubt_status doubt_net_forward_samples(doubt_ctx *ctx, doubt_net *samples, uint64_t sample_base)
{
    doubt_status st = DOUBT_OK;
    if (samples->role != DOUBT_NET_SAMPLES)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "network: not a samples network");
    const doubt_net *cache = samples->cache;
    if (samples->generation != cache->generation) {
        for (int i = 1; i < samples->graph.n_nodes; i++) {
            doubt_net_node *n = &samples->nodes[i];
            if (!n->fed)
                continue;
            repeat_rows(node_output(cache, i), &n->fed_dst, samples->batch);
            if (n->fed_workspace.mem)
                repeat_rows(node_workspace(cache, i), &n->fed_workspace, samples->batch);
        }
        samples->generation = cache->generation;
    }
    samples->dropout_on = 1;
    for (int i = 1; i < samples->graph.n_nodes && st == DOUBT_OK; i++)
        if (samples->nodes[i].built)
            st = run_node(ctx, samples, i, sample_base);
    return st == DOUBT_OK ? write_output(ctx, samples) : st;
}

void doubt_net_set_dropout_seed(doubt_net *net, uint64_t seed)
{
    for (int i = 0; i < net->graph.n_nodes; i++) {
        if (net->nodes[i].drop)
            net->nodes[i].drop->desc.seed = seed;
        if (net->nodes[i].concrete)
            net->nodes[i].concrete->desc.seed = seed;
    }
}

doubt_status doubt_net_set_dropout_window(doubt_ctx *ctx, doubt_net *net, int x, int y,
                                          int plane_w, int plane_h)
{
    doubt_status st = DOUBT_OK;
    const int grid = net->graph.grid;
    if (x < 0 || y < 0 || x % grid || y % grid || plane_w % grid || plane_h % grid)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "network: a tile at (%d, %d) of a %dx%d image is not on the %d-pixel "
                          "grid",
                          x, y, plane_w, plane_h, grid);
    for (int i = 0; i < net->graph.n_nodes && st == DOUBT_OK; i++) {
        if (!net->nodes[i].drop)
            continue;
        const int s = net->shapes[i].scale_log2;
        const doubt_dropout_window w = {x >> s, y >> s, plane_w >> s, plane_h >> s};
        st = doubt_dropout_set_window(ctx, net->nodes[i].drop, &w);
    }
    return st;
}

const float *doubt_net_output(const doubt_net *net)
{
    return net->output.data;
}

float *doubt_net_diff_output(doubt_net *net)
{
    return net->diff_output.data;
}

/* The gradient of node i's output, from its readers' (summed when there are several). */
static doubt_status gather_grad(doubt_ctx *ctx, doubt_net *net, int i)
{
    doubt_net_node *n = &net->nodes[i];
    int readers[MAX_GRAD_PARTS], slots[MAX_GRAD_PARTS];
    const int parts = grad_parts(net, i, readers, slots);
    if (parts <= 1) {
        n->grad = parts ? input_grad(net, readers[0], slots[0]) : NULL;
        return DOUBT_OK;
    }
    dnnl_exec_arg_t args[MAX_GRAD_PARTS + 1];
    for (int k = 0; k < parts; k++)
        args[k] = (dnnl_exec_arg_t){DNNL_ARG_MULTIPLE_SRC + k,
                                    input_grad(net, readers[k], slots[k])->mem};
    args[parts] = (dnnl_exec_arg_t){DNNL_ARG_DST, n->grad_sum.mem};
    n->grad = &n->grad_sum;
    return doubt_ctx_execute(ctx, n->sum, parts + 1, args, spec(net, i)->name);
}

static doubt_status backward_node(doubt_ctx *ctx, doubt_net *net, int i)
{
    doubt_net_node *n = &net->nodes[i];
    const doubt_tensor *g = n->grad;
    if (!g)
        return DOUBT_OK; /* nothing downstream reads this node's output */
    switch (spec(net, i)->op) {
    case DOUBT_NODE_CONV:
        return doubt_conv_backward(ctx, n->conv, g);
    case DOUBT_NODE_BNORM:
        return doubt_bnorm_backward(ctx, n->bn, g);
    case DOUBT_NODE_RELU:
        return doubt_relu_backward(ctx, n->relu, g);
    case DOUBT_NODE_POOL:
        return doubt_pool_backward(ctx, n->pool, g);
    case DOUBT_NODE_UNPOOL:
        return doubt_unpool_backward(ctx, n->unpool, g);
    case DOUBT_NODE_UPSAMPLE:
        return doubt_upsample_backward(ctx, n->up, g);
    case DOUBT_NODE_CONCAT:
        return doubt_concat_backward(ctx, n->cat, g);
    case DOUBT_NODE_ADD:
        return doubt_add_backward(ctx, n->add, g);
    case DOUBT_NODE_DROPOUT:
        if (n->concrete && net->dropout_on)
            return doubt_concrete_backward(ctx, n->concrete, g);
        return n->drop && net->dropout_on ? doubt_dropout_backward(ctx, n->drop, g) : DOUBT_OK;
    case DOUBT_NODE_INPUT:
        break;
    }
    return DOUBT_OK;
}

doubt_status doubt_net_backward(doubt_ctx *ctx, doubt_net *net)
{
    doubt_status st = DOUBT_OK;
    if (!net || net->mode != DOUBT_MODE_TRAIN)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "network backward: needs a training network");
    const int last = net->graph.n_nodes - 1;
    doubt_net_node *head = &net->nodes[last];
    head->grad = &net->diff_output;
    if (net->diff_output_reorder) {
        DOUBT_TRY(doubt_reorder_run(ctx, net->diff_output_reorder, &net->diff_output,
                                    &net->head_diff, "network output gradient"));
        head->grad = &net->head_diff;
    }
    DOUBT_TRY(backward_node(ctx, net, last));
    /* node 0 is the input, which needs no gradient */
    for (int i = last - 1; i >= 1; i--) {
        DOUBT_TRY(gather_grad(ctx, net, i));
        DOUBT_TRY(backward_node(ctx, net, i));
    }
done:
    return st;
}

doubt_net_param *doubt_net_param_find(doubt_net *net, const char *name)
{
    for (int i = 0; i < net->n_params; i++)
        if (!strcmp(net->params[i].info.name, name))
            return &net->params[i];
    return NULL;
}

doubt_concrete *doubt_net_concrete(doubt_net *net, int node)
{
    return node >= 0 && node < net->graph.n_nodes ? net->nodes[node].concrete : NULL;
}

void doubt_net_store_rates(doubt_net *net)
{
    double largest = 0;
    int any = 0;
    for (int i = 0; i < net->graph.n_nodes; i++) {
        const doubt_concrete *c = net->nodes[i].concrete;
        const int site = spec(net, i)->site;
        if (!c || site >= net->desc.n_rates)
            continue;
        /* 9 digits read back to the same float and keep the JSON short */
        char digits[32];
        snprintf(digits, sizeof digits, "%.9g", (double)doubt_concrete_rate(c));
        net->desc.rates[site] = strtod(digits, NULL);
        any = 1;
    }
    for (int k = 0; any && k < net->desc.n_rates; k++)
        largest = net->desc.rates[k] > largest ? net->desc.rates[k] : largest;
    if (any)
        net->desc.dropout = largest;
}

double doubt_net_dropout_rate(const doubt_net *net, int node)
{
    const doubt_net_node *n = &net->nodes[node];
    if (n->drop)
        return n->drop->desc.p;
    return spec(net, node)->p;
}

int doubt_net_built_nodes(const doubt_net *net)
{
    int built = 0;
    for (int i = 0; i < net->graph.n_nodes; i++)
        built += net->nodes[i].built;
    return built;
}
