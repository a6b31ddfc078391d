#include "arch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* prefix.leaf into out; names are short ("dec.4.2.conv"), so cutting one never happens in
 * practice and would only garble a name, which the graph's parameter check then reports */
static void join(char out[DOUBT_PARAM_NAME_MAX], const char *prefix, const char *leaf)
{
    if (snprintf(out, DOUBT_PARAM_NAME_MAX, "%s.%s", prefix, leaf) >= DOUBT_PARAM_NAME_MAX)
        out[DOUBT_PARAM_NAME_MAX - 1] = '\0';
}

/* Appends a node with up to two inputs (-1: none); failures show in doubt_graph_check. */
static int node(doubt_graph *g, doubt_node_op op, const char *name, int a, int b)
{
    doubt_node n = {.op = op};
    snprintf(n.name, sizeof n.name, "%s", name);
    if (a >= 0)
        n.inputs[n.n_inputs++] = a;
    if (b >= 0)
        n.inputs[n.n_inputs++] = b;
    return doubt_graph_add(g, n);
}

/* conv (3×3, no bias) → batch norm with ReLU, named prefix.conv_name / prefix.bn_name */
static int conv_bn_relu(doubt_graph *g, int from, const char *prefix, const char *conv_name,
                        const char *bn_name, int channels)
{
    char name[DOUBT_PARAM_NAME_MAX];
    join(name, prefix, conv_name);
    const int conv = node(g, DOUBT_NODE_CONV, name, from, -1);
    if (conv < 0)
        return -1;
    g->nodes[conv].channels = channels;
    g->nodes[conv].kernel = 3;
    join(name, prefix, bn_name);
    const int bn = node(g, DOUBT_NODE_BNORM, name, conv, -1);
    if (bn >= 0)
        g->nodes[bn].relu = 1;
    return bn;
}

/* Dropout site `*site` after `from`, named prefix.drop, when the description has dropout
 * (a rate per site, or one rate > 0 for all); returns what the next node reads. */
static int maybe_dropout(doubt_graph *g, const doubt_netdesc *d, int from, const char *prefix,
                         int *site)
{
    if (!d->n_rates && d->dropout <= 0)
        return from;
    char name[DOUBT_PARAM_NAME_MAX];
    join(name, prefix, "drop");
    const int drop = node(g, DOUBT_NODE_DROPOUT, name, from, -1);
    if (drop >= 0) {
        g->nodes[drop].p = d->n_rates && *site < d->n_rates ? d->rates[*site] : d->dropout;
        g->nodes[drop].concrete = d->concrete;
        g->nodes[drop].site = (*site)++;
    }
    return drop;
}

static void head(doubt_graph *g, const doubt_netdesc *d, int from)
{
    const int h = node(g, DOUBT_NODE_CONV, "head", from, -1);
    if (h >= 0) {
        g->nodes[h].channels = d->classes + 3;
        g->nodes[h].kernel = 1;
        g->nodes[h].bias = 1;
    }
}

static void build_unet(const doubt_netdesc *d, doubt_graph *g)
{
    const int L = d->levels;
    int site = 0, x = 0, skips[DOUBT_NETDESC_MAX_LEVELS];
    char prefix[DOUBT_PARAM_NAME_MAX], name[DOUBT_PARAM_NAME_MAX];
    for (int i = 0; i < L; i++) {
        snprintf(prefix, sizeof prefix, "enc.%d", i);
        if (i > 0) {
            join(name, prefix, "pool");
            x = node(g, DOUBT_NODE_POOL, name, x, -1);
        }
        x = conv_bn_relu(g, x, prefix, "conv1", "bn1", d->widths[i]);
        x = conv_bn_relu(g, x, prefix, "conv2", "bn2", d->widths[i]);
        if (i >= L - 3)
            x = maybe_dropout(g, d, x, prefix, &site);
        skips[i] = x; /* the skip carries the dropped tensor */
    }
    for (int j = 0; j + 1 < L; j++) {
        const int level = L - 2 - j;
        snprintf(prefix, sizeof prefix, "dec.%d", j);
        join(name, prefix, "up");
        x = node(g, DOUBT_NODE_UPSAMPLE, name, x, -1);
        join(name, prefix, "cat");
        x = node(g, DOUBT_NODE_CONCAT, name, x, skips[level]);
        x = conv_bn_relu(g, x, prefix, "conv1", "bn1", d->widths[level]);
        x = conv_bn_relu(g, x, prefix, "conv2", "bn2", d->widths[level]);
        if (j < 3)
            x = maybe_dropout(g, d, x, prefix, &site);
    }
    head(g, d, x);
}

static void build_segnet(const doubt_netdesc *d, doubt_graph *g)
{
    const int L = d->levels;
    int site = 0, x = 0, pools[DOUBT_NETDESC_MAX_LEVELS];
    char prefix[DOUBT_PARAM_NAME_MAX], name[DOUBT_PARAM_NAME_MAX];
    for (int i = 0; i < L; i++) {
        for (int k = 0; k < d->convs[i]; k++) {
            snprintf(prefix, sizeof prefix, "enc.%d.%d", i, k);
            x = conv_bn_relu(g, x, prefix, "conv", "bn", d->widths[i]);
        }
        snprintf(prefix, sizeof prefix, "enc.%d", i);
        join(name, prefix, "pool");
        x = pools[i] = node(g, DOUBT_NODE_POOL, name, x, -1);
        if (i >= L - 3)
            x = maybe_dropout(g, d, x, prefix, &site);
    }
    for (int j = 0; j < L; j++) {
        const int level = L - 1 - j;
        snprintf(prefix, sizeof prefix, "dec.%d", j);
        join(name, prefix, "unpool");
        x = node(g, DOUBT_NODE_UNPOOL, name, x, pools[level]);
        for (int k = 0; k < d->convs[level]; k++) {
            const int last = k == d->convs[level] - 1;
            const int width = !last ? d->widths[level] : d->widths[level > 0 ? level - 1 : 0];
            snprintf(prefix, sizeof prefix, "dec.%d.%d", j, k);
            x = conv_bn_relu(g, x, prefix, "conv", "bn", width);
        }
        snprintf(prefix, sizeof prefix, "dec.%d", j);
        if (j < 3)
            x = maybe_dropout(g, d, x, prefix, &site);
    }
    head(g, d, x);
}

int doubt_arch_dropout_sites(const doubt_netdesc *d)
{
    const int encoder = d->levels < 3 ? d->levels : 3;
    const int unet_decoder = d->levels - 1 < 3 ? d->levels - 1 : 3;
    const int decoder = !strcmp(d->arch, "segnet") ? encoder : unet_decoder;
    return encoder + decoder;
}

doubt_status doubt_arch_graph(const doubt_netdesc *d, doubt_graph *g, doubt_node_shape *shapes,
                              doubt_error *err)
{
    memset(g, 0, sizeof *g);
    g->in_channels = d->in_channels;
    node(g, DOUBT_NODE_INPUT, "input", -1, -1);
    if (!strcmp(d->arch, "segnet"))
        build_segnet(d, g);
    else
        build_unet(d, g);
    return doubt_graph_check(g, shapes, err);
}

int doubt_arch_grid(const doubt_netdesc *d)
{
    doubt_graph *g = malloc(sizeof *g);
    const int grid = g && doubt_arch_graph(d, g, NULL, NULL) == DOUBT_OK ? g->grid : 0;
    free(g);
    return grid;
}

void doubt_arch_flops(const doubt_netdesc *d, int height, int width, double *total,
                      double *deterministic)
{
    doubt_graph *g = malloc(sizeof *g);
    doubt_node_shape shapes[DOUBT_GRAPH_MAX_NODES];
    *total = *deterministic = 0;
    if (g && doubt_arch_graph(d, g, shapes, NULL) == DOUBT_OK)
        doubt_graph_flops(g, shapes, height, width, total, deterministic);
    free(g);
}
