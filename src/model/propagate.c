#include "propagate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv/bnorm.h"
#include "conv/concat.h"
#include "conv/conv.h"
#include "core/fastmath.h"

/* Standard deviations below this count as none: the max and the ReLU are then exact. */
#define TINY_STD 1e-30f

#define TRY_RETURN(call)                                                                     \
    do {                                                                                     \
        const doubt_status try_status = (call);                                              \
        if (try_status != DOUBT_OK)                                                          \
            return try_status;                                                               \
    } while (0)

struct doubt_propagate_node {
    /* the output's moments; var.mem is NULL where the node depends on no dropout (var 0) */
    doubt_tensor mean, var;
    /* CONV: one convolution per input part (conv_parts), each adding onto the first's output:
     * W' and the bias for the mean, W'² for the parts that carry variance */
    doubt_conv *mean_part[DOUBT_NODE_MAX_INPUTS], *var_part[DOUBT_NODE_MAX_INPUTS];
    int part_from[DOUBT_NODE_MAX_INPUTS], n_parts;
    int relu;                         /* CONV: a ReLU follows (a folded batch norm's) */
    int alias;                        /* the node's moments are those of node `alias` */
    doubt_concat *mean_cat, *var_cat;
    doubt_tensor zero_var[DOUBT_NODE_MAX_INPUTS]; /* CONCAT: a deterministic input's var */
    uint8_t *argmax;                              /* POOL read by an unpool: 0..3 per output */
    double p;                                     /* DROPOUT */
    int own_mean, own_var; /* tensors made here rather than a layer's dst */
};

/* ---- Gaussian moments, written so that loops over them vectorise ---- */

/* Both in centred form, v times a factor, so a variance far below the mean's square keeps its
 * digits (second moment minus squared mean would cancel them); clamps keep NaN. */
static inline void relu_moments(float m, float v, float *om, float *ov)
{
    const float s = sqrtf(v < 0 ? 0 : v);
    const float safe = s > TINY_STD ? s : TINY_STD;
    float z = m / safe;
    z = z > 40.0f ? 40.0f : z < -40.0f ? -40.0f : z;
    float cdf, upper, pdf;
    doubt_normal_cdf_pdf(z, &cdf, &upper, &pdf);
    const float mean = m * cdf + s * pdf;
    /* Var max(x, 0) = v·(Φ + z²Φ(1−Φ) + zφ(1−2Φ) − φ²) */
    const float factor = cdf + z * z * cdf * upper + z * pdf * (upper - cdf) - pdf * pdf;
    const float var = v * factor;
    *om = mean < 0 ? 0 : mean;
    *ov = var < 0 ? 0 : var;
}

static inline void max_moments(float ma, float va, float mb, float vb, float *om, float *ov)
{
    const float theta2 = va + vb < 0 ? 0 : va + vb, theta = sqrtf(theta2);
    const float safe = theta > TINY_STD ? theta : TINY_STD;
    float a = (ma - mb) / safe;
    a = a > 40.0f ? 40.0f : a < -40.0f ? -40.0f : a;
    float cdf, upper, pdf;
    doubt_normal_cdf_pdf(a, &cdf, &upper, &pdf);
    const float mean = ma * cdf + mb * upper + theta * pdf;
    /* Var max(a, b) = va·Φ + vb·(1−Φ) + θ²·(α²Φ(1−Φ) + αφ(1−2Φ) − φ²) */
    const float var = va * cdf + vb * upper +
                      theta2 * (a * a * cdf * upper + a * pdf * (upper - cdf) - pdf * pdf);
    *om = mean;
    *ov = var < 0 ? 0 : var;
}

void doubt_propagate_relu_moments(float mean, float var, float *out_mean, float *out_var)
{
    relu_moments(mean, var, out_mean, out_var);
}

void doubt_propagate_max_moments(float mean_a, float var_a, float mean_b, float var_b,
                                 float *out_mean, float *out_var)
{
    max_moments(mean_a, var_a, mean_b, var_b, out_mean, out_var);
}

/* ---- layouts: the pass's own kernels read nchw, nhwc and channel-blocked nChw{8,16}c ---- */

/* Element (n, c, h, w) lives at n·sn + (c / block)·sc + h·sh + w·sw + c % block. */
typedef struct {
    int64_t n, blocks, h, w, block;
    int64_t sn, sc, sh, sw;
    dnnl_format_tag_t tag; /* to make another tensor of this layout */
} act_layout;

static int layout_of(const dnnl_memory_desc_t *md, act_layout *out)
{
    if (md->ndims != 4 || md->format_kind != dnnl_blocked || md->offset0 != 0)
        return 0;
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    const int64_t *pd = md->padded_dims, *st = b->strides;
    act_layout l = {pd[0], pd[1], pd[2], pd[3], 1, st[0], st[1], st[2], st[3], dnnl_abcd};
    if (b->inner_nblks == 1 && b->inner_idxs[0] == 1 &&
        (b->inner_blks[0] == 8 || b->inner_blks[0] == 16)) {
        l.block = b->inner_blks[0];
        l.blocks = pd[1] / l.block;
        l.tag = l.block == 8 ? dnnl_aBcd8b : dnnl_aBcd16b;
        if (l.sw != l.block || l.sh != l.w * l.block || l.sc != l.h * l.sh ||
            l.sn != l.blocks * l.sc)
            return 0;
    } else if (b->inner_nblks != 0) {
        return 0;
    } else if (l.sw == 1 && l.sh == l.w && l.sc == l.h * l.w && l.sn == l.blocks * l.sc) {
        l.tag = dnnl_abcd;
    } else if (l.sc == 1 && l.sw == l.blocks && l.sh == l.w * l.sw && l.sn == l.h * l.sh) {
        l.tag = dnnl_acdb;
    } else {
        return 0;
    }
    *out = l;
    return 1;
}

static size_t at(const act_layout *l, int64_t n, int64_t cb, int64_t y, int64_t x)
{
    return (size_t)(n * l->sn + cb * l->sc + y * l->sh + x * l->sw);
}

static size_t floats_of(const doubt_tensor *t)
{
    return doubt_tensor_bytes(t) / sizeof(float);
}

/* ---- building ---- */

static doubt_status tensor_like(doubt_ctx *ctx, doubt_tensor *t, const dnnl_memory_desc_t *md,
                                const char *what)
{
    return doubt_tensor_init(ctx, t, md, DOUBT_TENSOR_ARENA, what);
}

/* A tensor of `channels` at height × width in the layout family of `like`. */
static doubt_status tensor_sized(doubt_ctx *ctx, doubt_tensor *t, const doubt_tensor *like,
                                 int64_t channels, int64_t h, int64_t w, const char *what)
{
    act_layout l;
    if (!layout_of(&like->md, &l))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "moment propagation: %s: input in a layout it cannot read", what);
    const int64_t dims[4] = {1, channels, h, w};
    const dnnl_memory_desc_t md = doubt_md_make(4, dims, l.tag);
    return tensor_like(ctx, t, &md, what);
}

/* Where node i's moments live once built: its own tensors, or those of the node it aliases. */
static doubt_propagate_node *moments(doubt_propagate *p, int i)
{
    while (p->nodes[i].alias >= 0)
        i = p->nodes[i].alias;
    return &p->nodes[i];
}

/* A parameter of the source network as a plain float array (malloc'ed), or NULL. */
static float *read_param(doubt_ctx *ctx, doubt_net *net, const char *prefix, const char *field,
                         int64_t *count)
{
    char name[DOUBT_PARAM_NAME_MAX + 16];
    snprintf(name, sizeof name, "%s.%s", prefix, field);
    doubt_net_param *p = doubt_net_param_find(net, name);
    if (!p)
        return NULL;
    *count = doubt_tensor_count(p->value);
    float *plain = malloc((size_t)*count * sizeof *plain);
    if (plain && doubt_tensor_read(ctx, p->value, plain) != DOUBT_OK) {
        free(plain);
        return NULL;
    }
    return plain;
}

/* The node that reads conv `i` when that reader is a batch norm and the only one. */
static int folded_bnorm(const doubt_graph *g, int i)
{
    int readers[2];
    if (doubt_graph_consumers(g, i, readers, 2) != 1)
        return -1;
    return g->nodes[readers[0]].op == DOUBT_NODE_BNORM ? readers[0] : -1;
}

/* A concatenation read by nothing but convolution `conv`: the convolution runs on its parts
 * instead (one per input, summed in place), so it is never built. */
static int concat_folded_into(const doubt_graph *g, int cat)
{
    int readers[2];
    return g->nodes[cat].op == DOUBT_NODE_CONCAT && doubt_graph_consumers(g, cat, readers, 2) == 1 &&
                   g->nodes[readers[0]].op == DOUBT_NODE_CONV
               ? readers[0]
               : -1;
}

/* One convolution over the input channels [offset, offset + channels) of w ([O, I, k, k]),
 * with the bias and the ReLU post-op when given, its output in layout dst_md (NULL: its
 * choice); without `first` it writes its output, with it it adds onto `first`'s, in place
 * (its own output buffer then goes unused). */
static doubt_status make_part(doubt_ctx *ctx, const doubt_node *node, const float *w,
                              int64_t in_total, int offset, int channels, const float *bias,
                              int relu, const doubt_tensor *src, const dnnl_memory_desc_t *dst_md,
                              doubt_conv *first, doubt_conv **out)
{
    const int k2 = node->kernel * node->kernel, o_count = node->channels;
    float *slice = malloc((size_t)o_count * channels * k2 * sizeof *slice);
    if (!slice)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "moment propagation: out of memory");
    for (int o = 0; o < o_count; o++)
        memcpy(slice + (size_t)o * channels * k2, w + ((size_t)o * in_total + offset) * k2,
               (size_t)channels * k2 * sizeof *slice);
    doubt_conv_desc cd = {.name = node->name,
                          .in_channels = channels,
                          .out_channels = o_count,
                          .kernel = node->kernel,
                          .bias = bias != NULL,
                          .fuse_relu = relu,
                          .accumulate = first != NULL,
                          .dst_md = dst_md,
                          .winograd = 1};
    doubt_status st = doubt_conv_create(ctx, &cd, &src->md, DOUBT_MODE_INFER, out);
    if (st == DOUBT_OK)
        st = doubt_tensor_write(ctx, &(*out)->weight, slice);
    if (st == DOUBT_OK && bias)
        memcpy((*out)->bias.data, bias, (size_t)o_count * sizeof(float));
    if (st == DOUBT_OK)
        st = doubt_conv_weights_changed(ctx, *out);
    if (st == DOUBT_OK && first) {
        /* every part writes the first one's buffer */
        if (dnnl_memory_set_data_handle((*out)->dst.mem, first->dst.data) != dnnl_success)
            st = doubt_fail(&ctx->err, DOUBT_ERR_DNNL, "moment propagation: %s: dst handle",
                            node->name);
        (*out)->dst.data = first->dst.data;
    }
    free(slice);
    return st;
}

/* The convolution's input parts: the inputs of a concatenation folded into it, or its input. */
static int conv_parts(const doubt_propagate *p, int i, int *from, int *offset, int *channels)
{
    const doubt_node *node = &p->graph.nodes[i];
    const int in = node->inputs[0];
    if (concat_folded_into(&p->graph, in) != i) {
        from[0] = in;
        offset[0] = 0;
        channels[0] = p->shapes[in].channels;
        return 1;
    }
    const doubt_node *cat = &p->graph.nodes[in];
    for (int k = 0, start = 0; k < cat->n_inputs; k++) {
        from[k] = cat->inputs[k];
        offset[k] = start;
        channels[k] = p->shapes[from[k]].channels;
        start += channels[k];
    }
    return cat->n_inputs;
}

/* Mean and variance convolutions with the batch norm after it folded in (doubt_bnorm_fold);
 * the variance convolution (W'², no bias) reads only the parts that carry variance. */
static doubt_status build_conv(doubt_ctx *ctx, doubt_propagate *p, doubt_net *net, int i)
{
    doubt_status st = DOUBT_OK;
    const doubt_node *node = &p->graph.nodes[i];
    doubt_propagate_node *n = &p->nodes[i];
    const int bn = folded_bnorm(&p->graph, i);
    float *w = NULL, *bias = NULL, *bnp[4] = {0}, *folded_bias = NULL;
    int64_t count = 0, c_bias = 0, c_bn = 0;
    w = read_param(ctx, net, node->name, "weight", &count);
    if (!w) {
        st = doubt_fail(&ctx->err, DOUBT_ERR_FORMAT, "moment propagation: %s: no weights",
                        node->name);
        goto done;
    }
    if (node->bias && !(bias = read_param(ctx, net, node->name, "bias", &c_bias))) {
        st = doubt_fail(&ctx->err, DOUBT_ERR_FORMAT, "moment propagation: %s: no bias",
                        node->name);
        goto done;
    }
    if (bn >= 0) {
        static const char *const fields[4] = {"weight", "bias", "running_mean", "running_var"};
        for (int k = 0; k < 4; k++)
            if (!(bnp[k] = read_param(ctx, net, p->graph.nodes[bn].name, fields[k], &c_bn))) {
                st = doubt_fail(&ctx->err, DOUBT_ERR_FORMAT,
                                "moment propagation: %s: batch norm %s missing",
                                node->name, fields[k]);
                goto done;
            }
        n->relu = p->graph.nodes[bn].relu;
        p->nodes[bn].alias = i;
    }
    const int out = node->channels;
    const int64_t per_out = count / out, in_total = per_out / (node->kernel * node->kernel);
    folded_bias = calloc((size_t)out, sizeof *folded_bias);
    if (!folded_bias) {
        st = doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "moment propagation: out of memory");
        goto done;
    }
    doubt_bnorm_fold(w, bias, bn >= 0 ? (const float *const *)bnp : NULL, out, per_out, w,
                     folded_bias);
    int from[DOUBT_NODE_MAX_INPUTS], offset[DOUBT_NODE_MAX_INPUTS], channels[DOUBT_NODE_MAX_INPUTS];
    n->n_parts = conv_parts(p, i, from, offset, channels);
    int64_t part_channels = 0;
    for (int k = 0; k < n->n_parts; k++)
        part_channels += channels[k];
    if (count != out * in_total * node->kernel * node->kernel || in_total != part_channels) {
        st = doubt_fail(&ctx->err, DOUBT_ERR_FORMAT,
                        "moment propagation: %s: weights of %lld values for %d outputs, %lld "
                        "inputs and a %dx%d kernel",
                        node->name, (long long)count, out, (long long)part_channels,
                        node->kernel, node->kernel);
        goto done;
    }
    int exact = 1;
    for (int k = 0; k < n->n_parts; k++) {
        n->part_from[k] = from[k];
        exact &= !moments(p, from[k])->var.mem;
    }
    /* a deterministic input runs exactly, with the ReLU as the convolution's post-op */
    for (int k = 0; k < n->n_parts; k++) {
        const int last = k == n->n_parts - 1;
        DOUBT_TRY(make_part(ctx, node, w, in_total, offset[k], channels[k],
                            last ? folded_bias : NULL, last && exact && n->relu,
                            &moments(p, from[k])->mean, k ? &n->mean_part[0]->dst.md : NULL,
                            k ? n->mean_part[0] : NULL, &n->mean_part[k]));
    }
    for (int64_t k = 0; k < count; k++)
        w[k] *= w[k];
    for (int k = 0; k < n->n_parts; k++) {
        const doubt_propagate_node *src = moments(p, from[k]);
        if (!src->var.mem)
            continue;
        doubt_conv *first = NULL;
        for (int j = 0; j < k && !first; j++)
            first = n->var_part[j];
        /* the variance in the mean's layout, which the element-wise kernels assume; its ReLU
         * changes no exact sum of squares-weighted variances, only keeps a Winograd
         * transform's rounding from taking one below 0 */
        DOUBT_TRY(make_part(ctx, node, w, in_total, offset[k], channels[k], NULL, 1, &src->var,
                            &n->mean_part[0]->dst.md, first, &n->var_part[k]));
    }
done:
    free(w);
    free(bias);
    free(folded_bias);
    for (int k = 0; k < 4; k++)
        free(bnp[k]);
    return st;
}

static doubt_status build_concat(doubt_ctx *ctx, doubt_propagate *p, int i)
{
    const doubt_node *node = &p->graph.nodes[i];
    doubt_propagate_node *n = &p->nodes[i];
    const dnnl_memory_desc_t *mds[DOUBT_NODE_MAX_INPUTS];
    for (int k = 0; k < node->n_inputs; k++)
        mds[k] = &moments(p, node->inputs[k])->mean.md;
    TRY_RETURN(
        doubt_concat_create(ctx, node->name, node->n_inputs, mds, DOUBT_MODE_INFER, &n->mean_cat));
    if (!p->stochastic[i])
        return DOUBT_OK;
    for (int k = 0; k < node->n_inputs; k++)
        if (!moments(p, node->inputs[k])->var.mem)
            TRY_RETURN(tensor_like(ctx, &n->zero_var[k], mds[k], node->name));
    TRY_RETURN(
        doubt_concat_create(ctx, node->name, node->n_inputs, mds, DOUBT_MODE_INFER, &n->var_cat));
    if (!dnnl_memory_desc_equal(&n->mean_cat->dst.md, &n->var_cat->dst.md))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "moment propagation: %s: mean and variance layouts differ", node->name);
    return DOUBT_OK;
}

static int read_by_unpool(const doubt_graph *g, int pool)
{
    for (int i = pool + 1; i < g->n_nodes; i++)
        if (g->nodes[i].op == DOUBT_NODE_UNPOOL && g->nodes[i].inputs[1] == pool)
            return 1;
    return 0;
}

static doubt_status build_node(doubt_ctx *ctx, doubt_propagate *p, doubt_net *net, int i)
{
    const doubt_node *node = &p->graph.nodes[i];
    doubt_propagate_node *n = &p->nodes[i];
    const doubt_propagate_node *in = node->n_inputs ? moments(p, node->inputs[0]) : NULL;
    const int stochastic = p->stochastic[i];
    switch (node->op) {
    case DOUBT_NODE_INPUT: {
        const int64_t dims[4] = {1, p->graph.in_channels, p->height, p->width};
        return doubt_tensor_init_plain(ctx, &n->mean, 4, dims, DOUBT_TENSOR_ARENA, "input");
    }
    case DOUBT_NODE_CONV:
        TRY_RETURN(build_conv(ctx, p, net, i));
        n->mean = n->mean_part[0]->dst;
        for (int k = 0; k < n->n_parts; k++)
            if (n->var_part[k] && !n->var.mem)
                n->var = n->var_part[k]->dst;
        return DOUBT_OK;
    case DOUBT_NODE_BNORM:
        if (n->alias < 0)
            return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                              "moment propagation: batch norm %s does not follow a convolution "
                              "read only by it",
                              node->name);
        return DOUBT_OK;
    case DOUBT_NODE_DROPOUT:
        /* what the graph calls stochastic gets a variance even at a learned rate of 0, so the
         * nodes after it find one */
        n->p = doubt_net_dropout_rate(net, i);
        if (!stochastic) {
            n->alias = node->inputs[0];
            return DOUBT_OK;
        }
        n->mean = in->mean;
        return tensor_like(ctx, &n->var, &in->mean.md, node->name);
    case DOUBT_NODE_RELU:
    case DOUBT_NODE_ADD:
        TRY_RETURN(tensor_like(ctx, &n->mean, &in->mean.md, node->name));
        if (node->op == DOUBT_NODE_ADD &&
            !dnnl_memory_desc_equal(&in->mean.md, &moments(p, node->inputs[1])->mean.md))
            return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                              "moment propagation: %s: inputs in different layouts", node->name);
        return stochastic ? tensor_like(ctx, &n->var, &in->mean.md, node->name) : DOUBT_OK;
    case DOUBT_NODE_POOL:
    case DOUBT_NODE_UPSAMPLE: {
        const int64_t c = in->mean.md.dims[1], h = in->mean.md.dims[2], w = in->mean.md.dims[3];
        const int64_t oh = node->op == DOUBT_NODE_POOL ? h / 2 : h * 2;
        const int64_t ow = node->op == DOUBT_NODE_POOL ? w / 2 : w * 2;
        TRY_RETURN(tensor_sized(ctx, &n->mean, &in->mean, c, oh, ow, node->name));
        if (stochastic)
            TRY_RETURN(tensor_sized(ctx, &n->var, &in->mean, c, oh, ow, node->name));
        if (node->op == DOUBT_NODE_POOL && read_by_unpool(&p->graph, i)) {
            n->argmax = doubt_arena_alloc(&ctx->arena, floats_of(&n->mean));
            if (!n->argmax)
                return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "moment propagation: out of memory");
        }
        return DOUBT_OK;
    }
    case DOUBT_NODE_UNPOOL: {
        const doubt_propagate_node *pool = moments(p, node->inputs[1]);
        act_layout a, b;
        if (!layout_of(&in->mean.md, &a) || !layout_of(&pool->mean.md, &b) || a.tag != b.tag ||
            !dnnl_memory_desc_equal(&in->mean.md, &pool->mean.md) || !pool->argmax)
            return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                              "moment propagation: %s: values and pool indices disagree in layout",
                              node->name);
        const int64_t c = in->mean.md.dims[1], h = in->mean.md.dims[2] * 2,
                      w = in->mean.md.dims[3] * 2;
        TRY_RETURN(tensor_sized(ctx, &n->mean, &in->mean, c, h, w, node->name));
        return stochastic ? tensor_sized(ctx, &n->var, &in->mean, c, h, w, node->name) : DOUBT_OK;
    }
    case DOUBT_NODE_CONCAT:
        if (concat_folded_into(&p->graph, i) >= 0)
            return DOUBT_OK;
        TRY_RETURN(build_concat(ctx, p, i));
        n->mean = n->mean_cat->dst;
        if (n->var_cat)
            n->var = n->var_cat->dst;
        return DOUBT_OK;
    }
    return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "moment propagation: %s: unknown node",
                      node->name);
}

doubt_status doubt_propagate_create(doubt_ctx *ctx, doubt_net *net, doubt_propagate **out)
{
    doubt_status st = DOUBT_OK;
    *out = NULL;
    if (!net || net->batch < 1)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "moment propagation: needs a network");
    doubt_propagate *p = calloc(1, sizeof *p);
    if (!p)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "moment propagation: out of memory");
    p->graph = net->graph;
    memcpy(p->shapes, net->shapes, sizeof p->shapes);
    memcpy(p->stochastic, net->stochastic, sizeof p->stochastic);
    p->height = net->height;
    p->width = net->width;
    p->out_channels = net->shapes[p->graph.n_nodes - 1].channels;
    p->nodes = calloc((size_t)p->graph.n_nodes, sizeof *p->nodes);
    const size_t plane = (size_t)p->out_channels * p->height * p->width;
    p->mean = malloc(plane * sizeof(float));
    p->var = malloc(plane * sizeof(float));
    /* the moments' memory is the engine's own, as a network's is (net.c) */
    const doubt_arena context_arena = ctx->arena;
    ctx->arena = (doubt_arena){0};
    if (!p->nodes || !p->mean || !p->var) {
        st = doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "moment propagation: out of memory");
        goto done;
    }
    for (int i = 0; i < p->graph.n_nodes; i++)
        p->nodes[i].alias = -1;
    for (int i = 0; i < p->graph.n_nodes && st == DOUBT_OK; i++) {
        st = build_node(ctx, p, net, i);
        const doubt_node_op op = p->graph.nodes[i].op;
        doubt_propagate_node *n = &p->nodes[i];
        const int layer_dst = op == DOUBT_NODE_CONV || op == DOUBT_NODE_CONCAT;
        n->own_mean = !layer_dst && op != DOUBT_NODE_DROPOUT && n->mean.mem;
        n->own_var = !layer_dst && n->var.mem;
    }
done:
    p->arena = ctx->arena;
    ctx->arena = context_arena;
    if (st != DOUBT_OK)
        doubt_propagate_destroy(p);
    else
        *out = p;
    return st;
}

void doubt_propagate_destroy(doubt_propagate *p)
{
    if (!p)
        return;
    for (int i = 0; p->nodes && i < p->graph.n_nodes; i++) {
        doubt_propagate_node *n = &p->nodes[i];
        if (n->own_mean)
            doubt_tensor_release(&n->mean);
        if (n->own_var)
            doubt_tensor_release(&n->var);
        for (int k = 0; k < DOUBT_NODE_MAX_INPUTS; k++)
            doubt_tensor_release(&n->zero_var[k]);
        for (int k = 0; k < DOUBT_NODE_MAX_INPUTS; k++) {
            doubt_conv_destroy(n->mean_part[k]);
            doubt_conv_destroy(n->var_part[k]);
        }
        doubt_concat_destroy(p->nodes[i].mean_cat);
        doubt_concat_destroy(p->nodes[i].var_cat);
    }
    free(p->nodes);
    free(p->mean);
    free(p->var);
    doubt_arena_release(&p->arena);
    free(p);
}

/* ---- running ---- */

static void relu_in_place(float *m, float *v, size_t count)
{
#pragma omp parallel for simd schedule(static)
    for (size_t k = 0; k < count; k++)
        relu_moments(m[k], v[k], &m[k], &v[k]);
}

static void relu_exact(const float *in, float *out, size_t count)
{
#pragma omp parallel for simd schedule(static)
    for (size_t k = 0; k < count; k++)
        out[k] = in[k] < 0 ? 0 : in[k];
}

static void dropout_variance(const float *m, const float *v, float *out, size_t count, double p)
{
    const float keep = (float)(1.0 / (1.0 - p)), p_keep = (float)(p / (1.0 - p));
#pragma omp parallel for simd schedule(static)
    for (size_t k = 0; k < count; k++) /* v/(1−p) + p/(1−p)·μ², no cancellation */
        out[k] = (v ? v[k] : 0.0f) * keep + m[k] * m[k] * p_keep;
}

static void add_into(const float *a, const float *b, float *out, size_t count)
{
#pragma omp parallel for simd schedule(static)
    for (size_t k = 0; k < count; k++)
        out[k] = (a ? a[k] : 0.0f) + (b ? b[k] : 0.0f);
}

/* One output row (n, cb, y) of the 2×2 max pool of (mean, var) from layout li into lo; var
 * NULL: the exact max. argmax (in lo's positions) records the window position of the largest
 * mean, when wanted. */
DOUBT_LANES static void pool_row(const float *m, const float *v, const act_layout *li,
                                 float *om, float *ov, uint8_t *argmax, const act_layout *lo,
                                 int64_t n, int64_t cb, int64_t y)
{
    const int64_t b = lo->block;
    for (int64_t x = 0; x < lo->w; x++) {
        const size_t i0 = at(li, n, cb, 2 * y, 2 * x), i1 = i0 + (size_t)li->sw;
        const size_t i2 = i0 + (size_t)li->sh, i3 = i2 + (size_t)li->sw;
        const size_t o = at(lo, n, cb, y, x);
        if (argmax)
            for (int64_t k = 0; k < b; k++) {
                const float a0 = m[i0 + k], a1 = m[i1 + k], a2 = m[i2 + k], a3 = m[i3 + k];
                int best = a1 > a0;
                float top = best ? a1 : a0;
                best = a2 > top ? 2 : best;
                top = a2 > top ? a2 : top;
                argmax[o + k] = (uint8_t)(a3 > top ? 3 : best);
            }
        if (!v) {
            for (int64_t k = 0; k < b; k++) {
                const float a = m[i0 + k] > m[i1 + k] ? m[i0 + k] : m[i1 + k];
                const float c = m[i2 + k] > m[i3 + k] ? m[i2 + k] : m[i3 + k];
                om[o + k] = c > a ? c : a;
            }
            continue;
        }
#pragma omp simd
        for (int64_t k = 0; k < b; k++) {
            float m01, v01, m23, v23;
            max_moments(m[i0 + k], v[i0 + k], m[i1 + k], v[i1 + k], &m01, &v01);
            max_moments(m[i2 + k], v[i2 + k], m[i3 + k], v[i3 + k], &m23, &v23);
            max_moments(m01, v01, m23, v23, &om[o + k], &ov[o + k]);
        }
    }
}

static void pool_moments(const float *m, const float *v, const act_layout *li, float *om,
                         float *ov, uint8_t *argmax, const act_layout *lo)
{
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t nb = 0; nb < lo->n * lo->blocks; nb++)
        for (int64_t y = 0; y < lo->h; y++)
            pool_row(m, v, li, om, ov, argmax, lo, nb / lo->blocks, nb % lo->blocks, y);
}

/* Places pooled values (layout li, the pool's output's) at their window's argmax in the
 * unpool's output (layout lo, twice the size). */
static void unpool_values(const float *in, const uint8_t *argmax, const act_layout *li,
                          float *out, const act_layout *lo, size_t out_floats)
{
    memset(out, 0, out_floats * sizeof(float));
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t nb = 0; nb < li->n * li->blocks; nb++)
        for (int64_t y = 0; y < li->h; y++)
            for (int64_t x = 0; x < li->w; x++)
                for (int64_t k = 0; k < li->block; k++) {
                    const int64_t n = nb / li->blocks, cb = nb % li->blocks;
                    const size_t i = at(li, n, cb, y, x) + (size_t)k;
                    const int q = argmax[i];
                    out[at(lo, n, cb, 2 * y + q / 2, 2 * x + q % 2) + (size_t)k] = in[i];
                }
}

/* Source rows of output row o of a half-pixel ×2 bilinear upsampling of `n` rows and their
 * weights (squared, for variances); a clamped border puts all the weight on one row. */
static void upsample_taps(int64_t o, int64_t n, int squared, int64_t *r0, int64_t *r1,
                          float *w0, float *w1)
{
    const int64_t i = o / 2, j = o % 2 ? i + 1 : i - 1;
    const int border = j < 0 || j >= n;
    *r0 = i;
    *r1 = border ? i : j;
    *w0 = border ? 1.0f : squared ? 0.5625f : 0.75f;
    *w1 = border ? 0.0f : squared ? 0.0625f : 0.25f;
}

/* Bilinear ×2 of `in` (layout li) into lo through the weights, or their squares. */
static void upsample(const float *in, const act_layout *li, float *out, const act_layout *lo,
                     int squared)
{
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t nb = 0; nb < lo->n * lo->blocks; nb++)
        for (int64_t y = 0; y < lo->h; y++) {
            const int64_t n = nb / lo->blocks, cb = nb % lo->blocks;
            int64_t y0, y1;
            float wy0, wy1;
            upsample_taps(y, li->h, squared, &y0, &y1, &wy0, &wy1);
            for (int64_t x = 0; x < lo->w; x++) {
                int64_t x0, x1;
                float wx0, wx1;
                upsample_taps(x, li->w, squared, &x0, &x1, &wx0, &wx1);
                const float *a0 = in + at(li, n, cb, y0, x0), *a1 = in + at(li, n, cb, y0, x1);
                const float *c0 = in + at(li, n, cb, y1, x0), *c1 = in + at(li, n, cb, y1, x1);
                float *o = out + at(lo, n, cb, y, x);
#pragma omp simd
                for (int64_t k = 0; k < lo->block; k++)
                    o[k] = wy0 * (wx0 * a0[k] + wx1 * a1[k]) + wy1 * (wx0 * c0[k] + wx1 * c1[k]);
            }
        }
}

static doubt_status run_conv(doubt_ctx *ctx, doubt_propagate *p, int i)
{
    doubt_propagate_node *n = &p->nodes[i];
    for (int k = 0; k < n->n_parts; k++)
        TRY_RETURN(doubt_conv_forward(ctx, n->mean_part[k], &moments(p, n->part_from[k])->mean));
    int has_var = 0;
    for (int k = 0; k < n->n_parts; k++)
        if (n->var_part[k]) {
            TRY_RETURN(doubt_conv_forward(ctx, n->var_part[k], &moments(p, n->part_from[k])->var));
            has_var = 1;
        }
    if (has_var && n->relu)
        relu_in_place(n->mean.data, n->var.data, floats_of(&n->mean));
    return DOUBT_OK;
}

static doubt_status run_concat(doubt_ctx *ctx, doubt_propagate *p, int i)
{
    const doubt_node *node = &p->graph.nodes[i];
    doubt_propagate_node *n = &p->nodes[i];
    const doubt_tensor *means[DOUBT_NODE_MAX_INPUTS], *vars[DOUBT_NODE_MAX_INPUTS];
    if (!n->mean_cat) /* folded into the convolution that reads it */
        return DOUBT_OK;
    for (int k = 0; k < node->n_inputs; k++) {
        const doubt_propagate_node *in = moments(p, node->inputs[k]);
        means[k] = &in->mean;
        vars[k] = in->var.mem ? &in->var : &n->zero_var[k];
    }
    TRY_RETURN(doubt_concat_forward(ctx, n->mean_cat, means));
    return n->var_cat ? doubt_concat_forward(ctx, n->var_cat, vars) : DOUBT_OK;
}

static doubt_status run_node(doubt_ctx *ctx, doubt_propagate *p, int i)
{
    const doubt_node *node = &p->graph.nodes[i];
    doubt_propagate_node *n = &p->nodes[i];
    if (n->alias >= 0 || node->op == DOUBT_NODE_INPUT)
        return DOUBT_OK;
    const doubt_propagate_node *in = node->n_inputs ? moments(p, node->inputs[0]) : NULL;
    const float *in_var = in && in->var.mem ? in->var.data : NULL;
    act_layout li, lo;
    switch (node->op) {
    case DOUBT_NODE_CONV: return run_conv(ctx, p, i);
    case DOUBT_NODE_CONCAT: return run_concat(ctx, p, i);
    case DOUBT_NODE_DROPOUT:
        dropout_variance(in->mean.data, in_var, n->var.data, floats_of(&n->var), n->p);
        return DOUBT_OK;
    case DOUBT_NODE_RELU:
        if (!n->var.mem) {
            relu_exact(in->mean.data, n->mean.data, floats_of(&n->mean));
            return DOUBT_OK;
        }
        memcpy(n->mean.data, in->mean.data, doubt_tensor_bytes(&n->mean));
        memcpy(n->var.data, in_var, doubt_tensor_bytes(&n->var));
        relu_in_place(n->mean.data, n->var.data, floats_of(&n->mean));
        return DOUBT_OK;
    case DOUBT_NODE_ADD: {
        const doubt_propagate_node *other = moments(p, node->inputs[1]);
        add_into(in->mean.data, other->mean.data, n->mean.data, floats_of(&n->mean));
        if (n->var.mem)
            add_into(in_var, other->var.mem ? other->var.data : NULL, n->var.data,
                     floats_of(&n->var));
        return DOUBT_OK;
    }
    case DOUBT_NODE_POOL:
        layout_of(&in->mean.md, &li);
        layout_of(&n->mean.md, &lo);
        pool_moments(in->mean.data, in_var, &li, n->mean.data, n->var.mem ? n->var.data : NULL,
                     n->argmax, &lo);
        return DOUBT_OK;
    case DOUBT_NODE_UNPOOL: {
        const doubt_propagate_node *pool = moments(p, node->inputs[1]);
        layout_of(&in->mean.md, &li);
        layout_of(&n->mean.md, &lo);
        unpool_values(in->mean.data, pool->argmax, &li, n->mean.data, &lo, floats_of(&n->mean));
        if (n->var.mem) {
            if (in_var)
                unpool_values(in_var, pool->argmax, &li, n->var.data, &lo, floats_of(&n->var));
            else
                memset(n->var.data, 0, doubt_tensor_bytes(&n->var));
        }
        return DOUBT_OK;
    }
    case DOUBT_NODE_UPSAMPLE:
        layout_of(&in->mean.md, &li);
        layout_of(&n->mean.md, &lo);
        upsample(in->mean.data, &li, n->mean.data, &lo, 0);
        if (n->var.mem)
            upsample(in_var, &li, n->var.data, &lo, 1);
        return DOUBT_OK;
    default: return DOUBT_OK;
    }
}

/* The output's moments into plain [C, H, W] arrays. */
static void read_out(const doubt_propagate_node *o, const act_layout *l, int channels,
                     float *mean, float *var)
{
    const size_t plane = (size_t)(l->h * l->w);
#pragma omp parallel for schedule(static)
    for (int c = 0; c < channels; c++)
        for (int64_t y = 0; y < l->h; y++)
            for (int64_t x = 0; x < l->w; x++) {
                const size_t from = at(l, 0, c / l->block, y, x) + (size_t)(c % l->block);
                const size_t to = (size_t)c * plane + (size_t)(y * l->w + x);
                mean[to] = o->mean.data[from];
                var[to] = o->var.mem ? o->var.data[from] : 0.0f;
            }
}

doubt_status doubt_propagate_run(doubt_ctx *ctx, doubt_propagate *p, const float *image)
{
    if (!p || !image)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "moment propagation: NULL engine or image");
    doubt_propagate_node *input = &p->nodes[0];
    memcpy(input->mean.data, image, doubt_tensor_bytes(&input->mean));
    for (int i = 1; i < p->graph.n_nodes; i++)
        TRY_RETURN(run_node(ctx, p, i));
    const doubt_propagate_node *o = moments(p, p->graph.n_nodes - 1);
    act_layout l;
    if (!layout_of(&o->mean.md, &l))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "moment propagation: output in a layout it cannot read");
    read_out(o, &l, p->out_channels, p->mean, p->var);
    return DOUBT_OK;
}
