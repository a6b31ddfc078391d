#include "graph.h"

#include <stdio.h>
#include <string.h>

static const char *const op_names[] = {"input",    "conv",   "bnorm",  "relu", "pool",
                                       "unpool",   "upsample", "concat", "add",  "dropout"};

const char *doubt_node_op_name(doubt_node_op op)
{
    return (unsigned)op < sizeof op_names / sizeof op_names[0] ? op_names[op] : "?";
}

int doubt_graph_add(doubt_graph *g, doubt_node node)
{
    if (g->n_nodes >= DOUBT_GRAPH_MAX_NODES)
        return -1;
    g->nodes[g->n_nodes] = node;
    return g->n_nodes++;
}

/* Inputs each op takes: [least, most]. */
static void input_counts(doubt_node_op op, int *least, int *most)
{
    switch (op) {
    case DOUBT_NODE_INPUT:
        *least = *most = 0;
        break;
    case DOUBT_NODE_UNPOOL:
        *least = *most = 2;
        break;
    case DOUBT_NODE_CONCAT:
    case DOUBT_NODE_ADD:
        *least = 2;
        *most = DOUBT_NODE_MAX_INPUTS;
        break;
    default:
        *least = *most = 1;
    }
}

static doubt_status check_node(const doubt_graph *g, int i, doubt_node_shape *shapes,
                               doubt_error *err)
{
    const doubt_node *n = &g->nodes[i];
    int least, most;
    input_counts(n->op, &least, &most);
    if (n->n_inputs < least || n->n_inputs > most)
        return doubt_fail(err, DOUBT_ERR_ARG, "graph node %d (%s %s): %d inputs, wants %d..%d", i,
                          doubt_node_op_name(n->op), n->name, n->n_inputs, least, most);
    if ((n->op == DOUBT_NODE_INPUT) != (i == 0))
        return doubt_fail(err, DOUBT_ERR_ARG, "graph node %d (%s): the input is node 0 only", i,
                          n->name);
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] < 0 || n->inputs[k] >= i)
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "graph node %d (%s): input %d is node %d, not an earlier node", i,
                              n->name, k, n->inputs[k]);
    const doubt_node_shape in = n->n_inputs ? shapes[n->inputs[0]] : (doubt_node_shape){0};
    doubt_node_shape *out = &shapes[i];
    *out = in;
    switch (n->op) {
    case DOUBT_NODE_INPUT:
        out->channels = g->in_channels;
        out->scale_log2 = 0;
        break;
    case DOUBT_NODE_CONV:
        if (n->channels < 1 || (n->kernel != 1 && n->kernel != 3))
            return doubt_fail(err, DOUBT_ERR_ARG, "graph node %d (%s): conv of %d channels, "
                              "kernel %d", i, n->name, n->channels, n->kernel);
        out->channels = n->channels;
        break;
    case DOUBT_NODE_POOL:
        out->scale_log2 = in.scale_log2 + 1;
        break;
    case DOUBT_NODE_UPSAMPLE:
        out->scale_log2 = in.scale_log2 - 1;
        break;
    case DOUBT_NODE_UNPOOL: {
        const int pool = n->inputs[1];
        const doubt_node_shape pooled = shapes[pool];
        if (g->nodes[pool].op != DOUBT_NODE_POOL || pooled.channels != in.channels ||
            pooled.scale_log2 != in.scale_log2)
            return doubt_fail(err, DOUBT_ERR_ARG, "graph node %d (%s): unpools %d channels at "
                              "1/%d with node %d, not a pool of that shape", i, n->name,
                              in.channels, 1 << in.scale_log2, pool);
        out->scale_log2 = in.scale_log2 - 1;
        break;
    }
    case DOUBT_NODE_CONCAT:
    case DOUBT_NODE_ADD:
        out->channels = 0;
        for (int k = 0; k < n->n_inputs; k++) {
            const doubt_node_shape s = shapes[n->inputs[k]];
            if (s.scale_log2 != in.scale_log2 ||
                (n->op == DOUBT_NODE_ADD && s.channels != in.channels))
                return doubt_fail(err, DOUBT_ERR_ARG,
                                  "graph node %d (%s): input %d has another shape than input 0",
                                  i, n->name, k);
            out->channels += s.channels;
        }
        if (n->op == DOUBT_NODE_ADD)
            out->channels = in.channels;
        break;
    case DOUBT_NODE_DROPOUT:
        if (!(n->p >= 0) || n->p >= 1)
            return doubt_fail(err, DOUBT_ERR_ARG, "graph node %d (%s): dropout rate %g", i,
                              n->name, n->p);
        break;
    default:
        break;
    }
    if (out->scale_log2 < 0)
        return doubt_fail(err, DOUBT_ERR_ARG, "graph node %d (%s): upsamples past the input size",
                          i, n->name);
    return DOUBT_OK;
}

doubt_status doubt_graph_check(doubt_graph *g, doubt_node_shape *shapes, doubt_error *err)
{
    doubt_node_shape scratch[DOUBT_GRAPH_MAX_NODES];
    doubt_node_shape *s = shapes ? shapes : scratch;
    if (g->n_nodes < 2 || g->n_nodes > DOUBT_GRAPH_MAX_NODES)
        return doubt_fail(err, DOUBT_ERR_ARG, "graph: %d nodes (2..%d)", g->n_nodes,
                          DOUBT_GRAPH_MAX_NODES);
    int deepest = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        doubt_status st = check_node(g, i, s, err);
        if (st != DOUBT_OK)
            return st;
        if (s[i].scale_log2 > deepest)
            deepest = s[i].scale_log2;
    }
    if (s[g->n_nodes - 1].scale_log2 != 0)
        return doubt_fail(err, DOUBT_ERR_ARG, "graph: the output is not at the input's size");
    g->grid = 1 << deepest;
    return DOUBT_OK;
}

void doubt_graph_stochastic(const doubt_graph *g, uint8_t *out)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const doubt_node *n = &g->nodes[i];
        out[i] = n->op == DOUBT_NODE_DROPOUT && n->p > 0;
        for (int k = 0; k < n->n_inputs; k++)
            out[i] |= out[n->inputs[k]];
    }
}

int doubt_graph_consumers(const doubt_graph *g, int node, int *readers, int cap)
{
    int count = 0;
    for (int i = node + 1; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] == node) {
                if (readers && count < cap)
                    readers[count] = i;
                count++;
            }
    return count;
}

int doubt_graph_split(const doubt_graph *g, const uint8_t *stochastic,
                      const doubt_node_shape *shapes, int conv, int *s_node, int *s_offset,
                      int *d_node, int *d_offset)
{
    const doubt_node *c = &g->nodes[conv];
    if (c->op != DOUBT_NODE_CONV)
        return 0;
    const int cat = c->inputs[0];
    const doubt_node *k = &g->nodes[cat];
    if (k->op != DOUBT_NODE_CONCAT || k->n_inputs != 2 ||
        doubt_graph_consumers(g, cat, NULL, 0) != 1)
        return 0;
    const int a = k->inputs[0], b = k->inputs[1];
    if (stochastic[a] == stochastic[b])
        return 0;
    const int first_is_s = stochastic[a];
    *s_node = first_is_s ? a : b;
    *d_node = first_is_s ? b : a;
    *s_offset = first_is_s ? 0 : shapes[a].channels;
    *d_offset = first_is_s ? shapes[a].channels : 0;
    return 1;
}

static void site_slices_from(const doubt_graph *g, const doubt_node_shape *shapes, int from,
                             int offset, int channels, doubt_site_slice *out, int cap, int *n)
{
    for (int r = from + 1; r < g->n_nodes; r++) {
        const doubt_node *reader = &g->nodes[r];
        for (int k = 0; k < reader->n_inputs; k++) {
            if (reader->inputs[k] != from)
                continue;
            int at = offset;
            switch (reader->op) {
            case DOUBT_NODE_CONV:
                if (out && *n < cap)
                    out[*n] = (doubt_site_slice){r, offset, channels};
                (*n)++;
                break;
            case DOUBT_NODE_CONCAT:
                for (int j = 0; j < k; j++)
                    at += shapes[reader->inputs[j]].channels;
                site_slices_from(g, shapes, r, at, channels, out, cap, n);
                break;
            case DOUBT_NODE_UNPOOL:
                if (k == 0)
                    site_slices_from(g, shapes, r, offset, channels, out, cap, n);
                break;
            case DOUBT_NODE_POOL:
            case DOUBT_NODE_UPSAMPLE:
            case DOUBT_NODE_RELU:
            case DOUBT_NODE_ADD:
                site_slices_from(g, shapes, r, offset, channels, out, cap, n);
                break;
            default: /* batch norm or another dropout: parameters or another site first */
                break;
            }
        }
    }
}

int doubt_graph_site_slices(const doubt_graph *g, const doubt_node_shape *shapes, int site,
                            doubt_site_slice *out, int cap)
{
    int n = 0;
    site_slices_from(g, shapes, site, 0, shapes[site].channels, out, cap, &n);
    return n;
}

static void add_param(doubt_param_info *out, int cap, int *n, doubt_param_kind kind, int ndim,
                      const int64_t *shape, const char *prefix, const char *leaf)
{
    if (out && *n < cap) {
        doubt_param_info *p = &out[*n];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s.%s", prefix, leaf);
        p->kind = kind;
        p->ndim = ndim;
        p->count = 1;
        for (int k = 0; k < ndim; k++) {
            p->shape[k] = shape[k];
            p->count *= shape[k];
        }
    }
    (*n)++;
}

int doubt_graph_params(const doubt_graph *g, const doubt_node_shape *shapes,
                       doubt_param_info *out, int cap)
{
    static const char *const bn_leaf[] = {"weight", "bias", "running_mean", "running_var"};
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const doubt_node *node = &g->nodes[i];
        const int64_t channels = shapes[i].channels;
        if (node->op == DOUBT_NODE_CONV) {
            const int64_t w[4] = {channels, shapes[node->inputs[0]].channels, node->kernel,
                                  node->kernel};
            add_param(out, cap, &n, DOUBT_PARAM_LEARNED, 4, w, node->name, "weight");
            if (node->bias)
                add_param(out, cap, &n, DOUBT_PARAM_LEARNED, 1, &channels, node->name, "bias");
        } else if (node->op == DOUBT_NODE_BNORM) {
            for (int k = 0; k < 4; k++)
                add_param(out, cap, &n, k < 2 ? DOUBT_PARAM_LEARNED : DOUBT_PARAM_BUFFER, 1,
                          &channels, node->name, bn_leaf[k]);
        } else if (node->op == DOUBT_NODE_DROPOUT && node->concrete) {
            const int64_t one = 1;
            add_param(out, cap, &n, DOUBT_PARAM_LEARNED, 1, &one, node->name, "p_logit");
        }
    }
    return n;
}

void doubt_graph_flops(const doubt_graph *g, const doubt_node_shape *shapes, int height,
                       int width, double *total, double *deterministic)
{
    uint8_t stochastic[DOUBT_GRAPH_MAX_NODES];
    *total = *deterministic = 0;
    doubt_graph_stochastic(g, stochastic);
    for (int i = 0; i < g->n_nodes; i++) {
        const doubt_node *n = &g->nodes[i];
        if (n->op != DOUBT_NODE_CONV)
            continue;
        const double pixels = (double)(height >> shapes[i].scale_log2) *
                              (double)(width >> shapes[i].scale_log2);
        const double per_in = 2.0 * pixels * n->kernel * n->kernel * shapes[i].channels;
        const double flops = per_in * shapes[n->inputs[0]].channels;
        int s, s_off, d, d_off;
        *total += flops;
        if (!stochastic[i])
            *deterministic += flops;
        else if (doubt_graph_split(g, stochastic, shapes, i, &s, &s_off, &d, &d_off))
            *deterministic += per_in * shapes[d].channels;
    }
}
