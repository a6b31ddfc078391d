/* The `unet` network of DESIGN.md on the layers of src/conv, for one fixed input shape.
 *
 *   doubt_unet *net;
 *   doubt_unet_create(ctx, &desc, batch, height, width, DOUBT_MODE_TRAIN, &net);
 *   doubt_unet_forward(ctx, net, images, 1, sample_base);  // images: [B, in, H, W] plain
 *   const float *out = doubt_unet_output(net);             // [B, C+3, H, W] plain
 *   float *d_out = doubt_unet_diff_output(net);            // fill with dLoss/dout
 *   doubt_unet_backward(ctx, net);                         // -> every parameter's gradient
 *
 * Output channels: 0..C-1 segmentation logits, C its log-variance, C+1 depth (metres), C+2
 * the depth log-variance. H and W must be multiples of 2^(L-1).
 *
 * Parameters are reached by their PyTorch state_dict names (doubt_unet_param), in the order
 * of doubt_netdesc_params; values live in the layers, in the layouts oneDNN chose, so go
 * through doubt_tensor_read/write. Dropout masks of batch row n use stream sample_base + n
 * and layer id = the dropout's index in the network.
 */
#ifndef DOUBT_MODEL_UNET_H
#define DOUBT_MODEL_UNET_H

#include "conv/bnorm.h"
#include "conv/concat.h"
#include "conv/conv.h"
#include "conv/dropout.h"
#include "conv/pool.h"
#include "conv/upsample.h"
#include "model/netdesc.h"

typedef struct {
    doubt_pool *pool;     /* encoder levels > 0 */
    doubt_upsample *up;   /* decoder */
    doubt_concat *cat;    /* decoder: [upsampled, skip] */
    doubt_conv *conv1, *conv2; /* inference: batch norm folded in, ReLU as a post-op */
    doubt_bnorm *bn1, *bn2;    /* training only, ReLU fused */
    /* inference: the parameters as loaded (plain), folded into conv1/conv2 by
     * doubt_unet_parameters_changed; [k][0..3] = weight, bias, running_mean, running_var */
    doubt_tensor raw_weight[2], bn_params[2][4];
    doubt_dropout *drop;  /* NULL for blocks without dropout */
    /* encoder blocks that feed a skip: their output's gradient is the sum of what the next
     * pool and the decoder's concat send back */
    doubt_tensor grad_sum;
    dnnl_primitive_desc_t sum_pd;
    dnnl_primitive_t sum;
} doubt_unet_block;

typedef struct {
    doubt_param_info info;
    doubt_tensor *value;
    doubt_tensor *grad; /* NULL for running statistics and in inference */
} doubt_unet_param;

typedef struct {
    doubt_netdesc desc;
    doubt_mode mode;
    int batch, height, width;
    doubt_tensor input; /* plain [B, in, H, W] */
    doubt_unet_block enc[DOUBT_NETDESC_MAX_LEVELS], dec[DOUBT_NETDESC_MAX_LEVELS - 1];
    doubt_conv *head;
    doubt_tensor output, diff_output; /* plain [B, C+3, H, W] */
    dnnl_primitive_desc_t output_pd, diff_output_pd;
    dnnl_primitive_t output_reorder, diff_output_reorder; /* made only when layouts differ */
    doubt_tensor head_diff;                               /* head's layout, when it differs */
    doubt_unet_param params[DOUBT_NETDESC_MAX_PARAMS];
    int n_params;
    int dropout_on; /* of the last forward, for backward */
    doubt_arena arena; /* the activations: released with the network, not with the context */
} doubt_unet;

doubt_status doubt_unet_create(doubt_ctx *ctx, const doubt_netdesc *desc, int batch, int height,
                               int width, doubt_mode mode, doubt_unet **out);
void doubt_unet_destroy(doubt_unet *net);

/* Inference networks fold batch norm into the convolutions: call this after writing
 * parameters through doubt_unet_param (doubt_weights_load and doubt_unet_init_weights do). */
doubt_status doubt_unet_parameters_changed(doubt_ctx *ctx, doubt_unet *net);

/* He-normal convolution weights from Philox(seed), identity batch norms, zero biases. */
doubt_status doubt_unet_init_weights(doubt_ctx *ctx, doubt_unet *net, uint64_t seed);

/* dropout_on: 1 in training and MC inference, 0 for the standard (deterministic) pass. */
doubt_status doubt_unet_forward(doubt_ctx *ctx, doubt_unet *net, const float *images,
                                int dropout_on, uint64_t sample_base);
/* The same in two parts, for MC inference: the prefix (encoder levels before the first
 * dropout, up to that level's batch norm) is deterministic and can run once per image; the
 * suffix runs the rest. doubt_unet_prefix_output(net, i), i < doubt_unet_prefix_levels(&net->desc),
 * are the tensors the suffix reads from the prefix, so a caller may fill them itself (from a
 * batch-1 network, repeated for every stacked sample) and run only the suffix. */
doubt_status doubt_unet_forward_prefix(doubt_ctx *ctx, doubt_unet *net, const float *images);
doubt_status doubt_unet_forward_suffix(doubt_ctx *ctx, doubt_unet *net, int dropout_on,
                                       uint64_t sample_base);
int doubt_unet_prefix_levels(const doubt_netdesc *d);
doubt_tensor *doubt_unet_prefix_output(doubt_unet *net, int level);

/* Dropout masks are keyed by this seed (default 0), the stream and the layer. */
void doubt_unet_set_dropout_seed(doubt_unet *net, uint64_t seed);

/* Declares the network's input a tile at (x, y) of a plane_w × plane_h image, so dropout
 * draws the masks the whole image would get there (conv/dropout.h). x, y, plane_w and plane_h
 * must be multiples of 2^(L-1) and the tile must fit; (0, 0, width, height) undoes it. */
doubt_status doubt_unet_set_dropout_window(doubt_ctx *ctx, doubt_unet *net, int x, int y,
                                           int plane_w, int plane_h);

const float *doubt_unet_output(const doubt_unet *net);
float *doubt_unet_diff_output(doubt_unet *net);
doubt_status doubt_unet_backward(doubt_ctx *ctx, doubt_unet *net);

/* Floating-point operations of the convolutions of one forward pass for one image (2 per
 * multiply-add); with levels_only = k > 0, only those of encoder levels 0..k-1. */
double doubt_unet_flops(const doubt_netdesc *d, int height, int width, int levels_only);

/* The parameter with this state_dict name, or NULL. */
doubt_unet_param *doubt_unet_param_find(doubt_unet *net, const char *name);

#endif
