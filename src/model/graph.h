/* A network as a graph of layer nodes, before any oneDNN work: what each node computes, what
 * it reads, its parameters' names. Presets build one from a description (arch.h); net.h
 * builds it on the layers of src/conv for one input shape and runs it.
 *
 *   doubt_graph g;
 *   doubt_node_shape shapes[DOUBT_GRAPH_MAX_NODES];
 *   doubt_arch_graph(&desc, &g, shapes, &err);      // channels and scale of every node
 *   uint8_t stochastic[DOUBT_GRAPH_MAX_NODES];
 *   doubt_graph_stochastic(&g, stochastic);         // depends on a dropout node?
 *
 * Nodes are stored in an order where every input comes before its reader (node 0 is the
 * input image), so running them in index order is a valid forward and in reverse a valid
 * backward. The last node is the output: the head's classes + 3 channels.
 */
#ifndef DOUBT_MODEL_GRAPH_H
#define DOUBT_MODEL_GRAPH_H

#include <stdint.h>

#include "model/netdesc.h"

typedef enum {
    DOUBT_NODE_INPUT,
    DOUBT_NODE_CONV,     /* 3×3 or 1×1, stride 1, same padding; param <name>.weight (.bias) */
    DOUBT_NODE_BNORM,    /* params <name>.{weight,bias,running_mean,running_var}; relu fused */
    DOUBT_NODE_RELU,
    DOUBT_NODE_POOL,     /* 2×2 max pool, stride 2, keeping its indices */
    DOUBT_NODE_UNPOOL,   /* inputs: values, the pool whose indices place them */
    DOUBT_NODE_UPSAMPLE, /* bilinear ×2, half-pixel centres */
    DOUBT_NODE_CONCAT,   /* along channels, in input order */
    DOUBT_NODE_ADD,
    DOUBT_NODE_DROPOUT   /* inverted Bernoulli dropout at rate p; site = its mask key */
} doubt_node_op;

#define DOUBT_GRAPH_MAX_NODES 512
#define DOUBT_NODE_MAX_INPUTS 4

typedef struct {
    doubt_node_op op;
    char name[DOUBT_PARAM_NAME_MAX]; /* parameter prefix for conv and bnorm; a label else */
    int inputs[DOUBT_NODE_MAX_INPUTS];
    int n_inputs;
    int channels; /* CONV: output channels */
    int kernel;   /* CONV: 1 or 3 */
    int bias;     /* CONV: learned bias */
    int relu;     /* BNORM: ReLU fused after it */
    double p;     /* DROPOUT: rate */
    int site;     /* DROPOUT: 0, 1, ... in node order; keys its masks */
    int concrete; /* DROPOUT: the rate is learned (param <name>.p_logit) and masks are
                   * channel-wise (conv/concrete.h) */
} doubt_node;

typedef struct {
    int n_nodes;
    doubt_node nodes[DOUBT_GRAPH_MAX_NODES];
    int in_channels;
    int grid; /* input height and width must be multiples of this (2^pools) */
} doubt_graph;

/* Appends a node reading `inputs`; returns its index, or -1 when the graph is full (which
 * doubt_graph_check then reports). */
int doubt_graph_add(doubt_graph *g, doubt_node node);

/* Channels, and the power of two the input size is divided by, of every node's output. */
typedef struct {
    int channels;
    int scale_log2;
} doubt_node_shape;

/* Checks inputs (earlier nodes, counts per op), channel agreement (concat sums, add and
 * unpool match) and sizes (pool/upsample/unpool levels), and sets g->grid; the message
 * names the node. shapes may be NULL. */
doubt_status doubt_graph_check(doubt_graph *g, doubt_node_shape *shapes, doubt_error *err);

/* out[i] = 1 when node i depends on a dropout node of rate > 0 (itself included). */
void doubt_graph_stochastic(const doubt_graph *g, uint8_t *out);

/* 1 when a Monte Carlo engine splits convolution `conv`: it reads a concatenation (read by
 * nothing else) of exactly two tensors, one stochastic and one not, so conv(concat(s, d)) =
 * conv_s(s) + conv_d(d) with conv_d computed once per image. Gives the two concat inputs and
 * their channel offsets within the concatenation. */
int doubt_graph_split(const doubt_graph *g, const uint8_t *stochastic,
                      const doubt_node_shape *shapes, int conv, int *s_node, int *s_offset,
                      int *d_node, int *d_offset);

/* The input channels of a convolution that a dropout site's tensor reaches with no
 * parameters on the way (through pools, unpools, upsampling, ReLU, add; a concatenation moves
 * it to its channel offset): the weights Concrete dropout's regulariser scales. */
typedef struct {
    int conv, offset, channels;
} doubt_site_slice;

/* Fills up to cap slices for dropout node `site` and returns how many there are. */
int doubt_graph_site_slices(const doubt_graph *g, const doubt_node_shape *shapes, int site,
                            doubt_site_slice *out, int cap);

/* How many nodes read node i's output (unpool's index input counts). */
int doubt_graph_consumers(const doubt_graph *g, int node, int *readers, int cap);

/* The parameter tensors in node order (conv weight, bias; bnorm weight, bias, running_mean,
 * running_var; a concrete dropout's p_logit), as doubt_netdesc_params lists them; g must have
 * passed doubt_graph_check. */
int doubt_graph_params(const doubt_graph *g, const doubt_node_shape *shapes,
                       doubt_param_info *out, int cap);

/* Floating-point operations (2 per multiply-add) of the convolutions of one pass for one
 * height × width image: in all, and the part a Monte Carlo engine computes once per image
 * because it depends on no dropout (a convolution over a concatenation of a stochastic and
 * a deterministic tensor counts its deterministic input channels there: net.h splits it);
 * shapes are doubt_graph_check's. */
void doubt_graph_flops(const doubt_graph *g, const doubt_node_shape *shapes, int height,
                       int width, double *total, double *deterministic);

const char *doubt_node_op_name(doubt_node_op op);

#endif
