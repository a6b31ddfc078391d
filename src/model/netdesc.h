/* Network description: the small JSON object that configures a network and is stored in
 * every weights file's __metadata__ under "network".
 *
 *     doubt_netdesc d;
 *     doubt_error err;
 *     if (doubt_netdesc_from_config("unet-small", &d, &err)) fprintf(stderr, "%s\n", err.msg);
 *     doubt_param_info p[DOUBT_NETDESC_MAX_PARAMS];
 *     int n = doubt_netdesc_params(&d, p, DOUBT_NETDESC_MAX_PARAMS);
 *
 * The JSON has these keys, in this canonical order; all are required but the last two:
 *     {"arch":"unet","in_channels":3,"classes":8,"widths":[32,64,128,256,256],"dropout":0.5,
 *      "no_depth_classes":[0],"depth":"log"}
 * or, for segnet, with "convs" (required there, refused for unet) after "widths":
 *     {"arch":"segnet","in_channels":3,"classes":8,"widths":[16,32,64,128,128],
 *      "convs":[2,2,3,3,3],"dropout":0.5}
 * arch is "unet" or "segnet" (arch.h draws both), widths has 1..8 levels, convs one count of
 * 1..4 convolutions per level, classes is 1..254 (255 is the ignore label), dropout is in
 * [0, 1), or a list of one rate in [0, 1) per dropout site (arch.h). "concrete_dropout": true
 * (optional, after "depth", written only when true) says the rates were learned by Concrete
 * dropout, and needs a list of rates in (0, 1). no_depth_classes lists the classes that have
 * no depth (sky): strictly increasing ids below classes; absent or empty means every class
 * has depth (KITTI-like data), and then the canonical JSON leaves the key out, so the
 * descriptions written before it existed stay canonical. depth says what the depth channel
 * of the head predicts (doubt_depth_param); absent means "metric", and the canonical JSON
 * leaves it out then, for the same reason. Unknown keys are rejected so that a typo
 * ("width") cannot silently fall back to a default.
 *
 * Parameter tensors use PyTorch's state_dict names and shapes (DESIGN.md, "The default
 * network"), in the order of the architecture's graph (arch.h), then task.log_var. A unet
 * block lists conv1.weight, bn1.{weight,bias,running_mean,running_var}, conv2.weight, bn2.*.
 * PyTorch's bn*.num_batches_tracked is not a parameter of doubt: writers omit it and readers
 * ignore it if present.
 */
#ifndef DOUBT_MODEL_NETDESC_H
#define DOUBT_MODEL_NETDESC_H

#include <stdint.h>

#include "core/status.h"

#define DOUBT_NETDESC_MAX_LEVELS 8
#define DOUBT_NETDESC_MAX_WIDTH 65536
#define DOUBT_NETDESC_MAX_IN_CHANNELS 4096
#define DOUBT_NETDESC_MAX_CLASSES 254
#define DOUBT_NETDESC_MAX_CONVS 4
#define DOUBT_NETDESC_MAX_SITES 6 /* dropout sites: three in the encoder, three in the decoder */
/* segnet's most: five tensors per conv, 2L stages of 4 convs; a learned rate per dropout
 * site; head weight and bias, task.log_var (unet's most, ten per block and 2L-1 blocks, is
 * fewer) */
#define DOUBT_NETDESC_MAX_PARAMS                                                               \
    (5 * 2 * DOUBT_NETDESC_MAX_LEVELS * DOUBT_NETDESC_MAX_CONVS + DOUBT_NETDESC_MAX_SITES + 3)
/* Longest canonical JSON: 8 widths of 5 digits, 8 convs, 6 dropout rates of 17 digits, 254
 * no-depth classes of up to 3 digits and a comma, the flags; with room to spare. */
#define DOUBT_NETDESC_JSON_MAX 1536
#define DOUBT_PARAM_NAME_MAX 48

/* What the head's depth channel m and its log-variance s are (y = depth in metres):
 *   METRIC   m = y, s = log Var(y)
 *   LOG      m = log y, s = log Var(log y)
 *   INVERSE  m = 1/y (1/metres), s = log Var(1/y)
 * Training fits the Gaussian NLL in that space; inference turns each sample back into a
 * mean and variance in metres (mc.h). */
typedef enum { DOUBT_DEPTH_METRIC, DOUBT_DEPTH_LOG, DOUBT_DEPTH_INVERSE } doubt_depth_param;

/* "metric", "log", "inverse"; NULL for an unknown value. */
const char *doubt_depth_param_name(doubt_depth_param p);
/* The parametrisation named `name`; -1 when unknown. */
int doubt_depth_param_of(const char *name);

typedef struct {
    char arch[16];
    int in_channels;
    int classes;
    int levels; /* L = number of widths */
    int widths[DOUBT_NETDESC_MAX_LEVELS];
    int convs[DOUBT_NETDESC_MAX_LEVELS]; /* segnet: convolutions per level; unet: 0 */
    double dropout; /* the rate of every dropout site, or the largest of `rates` */
    /* "dropout" given as a list: one rate per dropout site (arch.h numbers them) */
    int n_rates;
    double rates[DOUBT_NETDESC_MAX_SITES];
    /* "concrete_dropout": true: the sites' rates were learned (conv/concrete.h); the weights
     * hold <site>.drop.p_logit, prediction drops whole channels at those rates */
    int concrete;
    int no_depth_count; /* entries of no_depth_classes */
    uint8_t no_depth_classes[DOUBT_NETDESC_MAX_CLASSES];
    doubt_depth_param depth;
} doubt_netdesc;

/* Makes d's dropout Concrete dropout's: a rate per site, each the description's rate, or 0.1
 * where it has none, as the learned rates' starting points. */
void doubt_netdesc_set_concrete(doubt_netdesc *d);

/* 1 when some dropout site has a rate > 0 (else every MC sample is the same pass). */
int doubt_netdesc_has_dropout(const doubt_netdesc *d);

/* 1 when class c has no depth (a no_depth_classes entry). */
int doubt_netdesc_class_has_no_depth(const doubt_netdesc *d, int c);

typedef enum {
    DOUBT_PARAM_LEARNED,  /* trained weight: conv weights, bn weight/bias, head */
    DOUBT_PARAM_BUFFER,   /* running statistic: bn running_mean / running_var */
    DOUBT_PARAM_TRAINING  /* needed only to train: task.log_var (multitask weighting) */
} doubt_param_kind;

typedef struct {
    char name[DOUBT_PARAM_NAME_MAX];
    doubt_param_kind kind;
    int ndim;
    int64_t shape[4];
    int64_t count; /* product of shape */
} doubt_param_info;

/* Checks every field; the message says which one and why. */
doubt_status doubt_netdesc_validate(const doubt_netdesc *d, doubt_error *err);

/* Channels of the images doubt reads (io/image.h: gray replicated, alpha dropped). */
#define DOUBT_NETDESC_IMAGE_CHANNELS 3
/* The image-fed engines (training, MC inference) give the network RGB planes: a description
 * may name other channel counts (PyTorch modules do), but these refuse them when built. */
doubt_status doubt_netdesc_check_image_input(const doubt_netdesc *d, doubt_error *err);

/* Parses and validates a JSON object (text of length len, not necessarily NUL-terminated). */
doubt_status doubt_netdesc_parse(const char *json, size_t len, doubt_netdesc *out,
                                 doubt_error *err);

/* "unet", "unet-small", "segnet" or "segnet-small"; DOUBT_ERR_ARG naming the known presets
 * otherwise. */
doubt_status doubt_netdesc_preset(const char *name, doubt_netdesc *out, doubt_error *err);

/* Reads a FILE.json holding one description; messages name the file. */
doubt_status doubt_netdesc_load(const char *path, doubt_netdesc *out, doubt_error *err);

/* What a --config option takes: a preset name, an inline JSON object, or a file name. */
doubt_status doubt_netdesc_from_config(const char *config, doubt_netdesc *out,
                                       doubt_error *err);

/* Canonical compact JSON into buf (DOUBT_NETDESC_JSON_MAX bytes suffice). */
doubt_status doubt_netdesc_to_json(const doubt_netdesc *d, char *buf, size_t cap,
                                   doubt_error *err);

/* Fills up to cap entries of out (out may be NULL) in the order above and returns the
 * number of tensors the description has; d must be valid. */
int doubt_netdesc_params(const doubt_netdesc *d, doubt_param_info *out, int cap);

/* Number of trained scalars of the network (DOUBT_PARAM_LEARNED), which is what PyTorch's
 * sum(p.numel() for p in net.parameters()) gives without the task weighting: 4 899 787
 * for "unet". */
int64_t doubt_netdesc_param_count(const doubt_netdesc *d);

#endif
