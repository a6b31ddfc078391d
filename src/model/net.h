/* A network graph (graph.h) built on the layers of src/conv for one input shape, and run.
 *
 *   doubt_net *net;
 *   doubt_net_create(ctx, &desc, batch, height, width, DOUBT_MODE_TRAIN, &net);
 *   doubt_net_forward(ctx, net, images, 1, sample_base);  // images: [B, in, H, W] plain
 *   const float *out = doubt_net_output(net);             // [B, C+3, H, W] plain
 *   float *d_out = doubt_net_diff_output(net);            // fill with dLoss/dout
 *   doubt_net_backward(ctx, net);                         // -> every parameter's gradient
 *
 * Output channels: 0..C-1 segmentation logits, C its log-variance, C+1 depth, C+2 the depth
 * log-variance (netdesc.h). H and W must be multiples of the graph's grid.
 *
 * Inference networks fold each batch norm that follows a convolution into it (bias) with
 * the ReLU as a post-op. Backward sums the gradients of a tensor read by several nodes.
 *
 * Monte Carlo inference runs two networks (mc.h): a CACHE network at batch 1, which runs
 * every node that depends on no dropout once per image (doubt_net_forward_cached), and a
 * SAMPLES network at batch = samples per pass, which has only the nodes that do and reads the
 * rest from the cache, repeated for every stacked sample. A convolution over a concatenation
 * of a stochastic and a deterministic tensor is split in two: the cache computes the
 * deterministic channels' part once, and the samples network's convolution adds its own
 * part onto it (graph.h, doubt_graph_split).
 *
 * Parameters are reached by their PyTorch state_dict names (doubt_net_param_find), in the
 * order of doubt_netdesc_params; values live in the layers, in the layouts oneDNN chose, so
 * go through doubt_tensor_read/write. Dropout masks of batch row n use stream
 * sample_base + n and layer id = the dropout site.
 */
#ifndef DOUBT_MODEL_NET_H
#define DOUBT_MODEL_NET_H

#include "conv/concrete.h"
#include "conv/layer.h"
#include "model/graph.h"

typedef struct {
    doubt_param_info info;
    doubt_tensor *value;
    doubt_tensor *grad; /* NULL for running statistics and in inference */
} doubt_net_param;

typedef enum {
    DOUBT_NET_WHOLE,  /* every node */
    DOUBT_NET_CACHE,  /* inference, batch 1: every node, and the cached halves of split convs */
    DOUBT_NET_SAMPLES /* inference: the stochastic nodes only, reading a CACHE network */
} doubt_net_role;

typedef struct doubt_net_node doubt_net_node; /* net.c */

typedef struct doubt_net {
    doubt_netdesc desc;
    doubt_graph graph;
    doubt_node_shape shapes[DOUBT_GRAPH_MAX_NODES];
    uint8_t stochastic[DOUBT_GRAPH_MAX_NODES];
    doubt_mode mode;
    doubt_net_role role;
    int batch, height, width;
    doubt_tensor input; /* plain [B, in, H, W] */
    doubt_net_node *nodes;
    doubt_tensor output, diff_output; /* plain [B, C+3, H, W] */
    dnnl_primitive_desc_t output_pd, diff_output_pd;
    dnnl_primitive_t output_reorder, diff_output_reorder; /* made only when layouts differ */
    doubt_tensor head_diff;                               /* head's layout, when it differs */
    doubt_net_param params[DOUBT_NETDESC_MAX_PARAMS];
    int n_params;
    int dropout_on;      /* of the last forward, for backward */
    const struct doubt_net *cache; /* SAMPLES: where the deterministic tensors come from */
    uint64_t generation; /* CACHE: counts forward_cached runs; SAMPLES: the one it copied */
    doubt_arena arena;   /* the activations: released with the network, not the context */
} doubt_net;

doubt_status doubt_net_create(doubt_ctx *ctx, const doubt_netdesc *desc, int batch, int height,
                              int width, doubt_mode mode, doubt_net **out);
/* A network of any graph (graph.h) instead of the description's architecture; desc gives
 * the rest (classes, depth kind, no-depth classes) and must agree with the graph's input and
 * output channels. */
doubt_status doubt_net_create_graph(doubt_ctx *ctx, const doubt_netdesc *desc,
                                    const doubt_graph *graph, int batch, int height, int width,
                                    doubt_mode mode, doubt_net **out);
/* The two networks of Monte Carlo inference (above); the cache must outlive the samples. */
doubt_status doubt_net_create_cache(doubt_ctx *ctx, const doubt_netdesc *desc, int height,
                                    int width, doubt_net **out);
doubt_status doubt_net_create_samples(doubt_ctx *ctx, const doubt_net *cache, int batch,
                                      doubt_net **out);
void doubt_net_destroy(doubt_net *net);

/* Inference networks fold batch norm into the convolutions: call this after writing
 * parameters through doubt_net_param (doubt_weights_load and doubt_net_init_weights do). */
doubt_status doubt_net_parameters_changed(doubt_ctx *ctx, doubt_net *net);

/* He-normal convolution weights from Philox(seed), identity batch norms, zero biases. */
doubt_status doubt_net_init_weights(doubt_ctx *ctx, doubt_net *net, uint64_t seed);

/* WHOLE or CACHE: every node; dropout_on 1 in training and MC, 0 for the standard pass. */
doubt_status doubt_net_forward(doubt_ctx *ctx, doubt_net *net, const float *images,
                               int dropout_on, uint64_t sample_base);
/* CACHE: the nodes that depend on no dropout, and the cached halves of split convs. */
doubt_status doubt_net_forward_cached(doubt_ctx *ctx, doubt_net *cache, const float *images);
/* SAMPLES: the stochastic nodes, dropout on, on what the cache's last forward_cached left. */
doubt_status doubt_net_forward_samples(doubt_ctx *ctx, doubt_net *samples, uint64_t sample_base);

/* Dropout masks are keyed by this seed (default 0), the stream and the site. */
void doubt_net_set_dropout_seed(doubt_net *net, uint64_t seed);

/* Declares the network's input a tile at (x, y) of a plane_w × plane_h image, so dropout
 * draws the masks the whole image would get there (conv/dropout.h). x, y, plane_w and plane_h
 * must be multiples of the grid and the tile must fit; (0, 0, width, height) undoes it. */
doubt_status doubt_net_set_dropout_window(doubt_ctx *ctx, doubt_net *net, int x, int y,
                                          int plane_w, int plane_h);

const float *doubt_net_output(const doubt_net *net);
float *doubt_net_diff_output(doubt_net *net);
doubt_status doubt_net_backward(doubt_ctx *ctx, doubt_net *net);

/* The parameter with this state_dict name, or NULL. */
doubt_net_param *doubt_net_param_find(doubt_net *net, const char *name);

/* The Concrete dropout layer of dropout node `node` in a training network, or NULL. */
doubt_concrete *doubt_net_concrete(doubt_net *net, int node);

/* Writes the rates the network's Concrete dropout layers have learned into net->desc (its
 * rates and dropout), so saved weights carry them; nothing without such layers. */
void doubt_net_store_rates(doubt_net *net);

/* The rate dropout node `node` drops at: a learned one once loaded (Concrete), else the
 * description's. */
double doubt_net_dropout_rate(const doubt_net *net, int node);

/* Number of nodes this network built (a SAMPLES network leaves the deterministic ones to
 * its cache), for tests and `doubt info`. */
int doubt_net_built_nodes(const doubt_net *net);

#endif
