/* Dropout with inverted scaling: y = x·m/(1-p), m ~ Bernoulli(1-p), so E[y] = x and a net
 * trained with dropout needs no rescaling when it is switched off.
 *
 * Masks are never stored: m for batch row n, channel c, pixel (h, w) is a pure function of
 *   key = (seed, stream = sample_base + n, layer = desc.layer_id), index = (c·H + h)·W + w
 * where H × W is the tensor's plane (channelwise: index = c, for every pixel), or with a window set (an image tile: the tensor is the
 * part at origin (x0, y0) of a virtual H × W plane) the index of (h + y0, w + x0) in it, so
 * the tiles of an image draw exactly the masks the whole image would
 * via Philox (core/rng.h), so backward recomputes it, any thread count gives the same mask,
 * and an image's mask does not depend on what else is in the batch. sample_base is the MC
 * sample index at inference (T samples stacked in the batch get bases t, t+1, ...) and a
 * step-derived counter in training.
 *
 * Works in whatever layout src has (plain or channel-blocked): logical indices are mapped to
 * physical offsets, and blocked padding channels stay untouched.
 */
#ifndef DOUBT_CONV_DROPOUT_H
#define DOUBT_CONV_DROPOUT_H

#include "layer.h"

typedef struct {
    const char *name;
    float p;           /* drop probability in [0, 1) */
    uint64_t seed;
    uint32_t layer_id; /* distinct per dropout layer of a network */
    int channelwise;   /* 1: one mask value per (row, channel), index = c (spatial dropout,
                        * what Concrete dropout trains with) */
} doubt_dropout_desc;

/* The window of a virtual plane the tensor covers; plane_w = plane_h = 0: the tensor itself. */
typedef struct {
    int64_t origin_x, origin_y, plane_w, plane_h;
} doubt_dropout_window;

typedef struct {
    char name[DOUBT_NAME_LEN];
    doubt_dropout_desc desc;
    doubt_mode mode;
    doubt_dropout_window window;
    doubt_tensor dst, diff_src; /* arena; diff_src TRAIN only */
    uint64_t last_sample_base;  /* of the last forward, reused by backward */
} doubt_dropout;

doubt_status doubt_dropout_create(doubt_ctx *ctx, const doubt_dropout_desc *desc,
                                  const dnnl_memory_desc_t *src_md, doubt_mode mode,
                                  doubt_dropout **out);
/* Fails unless the tensor's plane fits inside the window's plane at its origin. */
doubt_status doubt_dropout_set_window(doubt_ctx *ctx, doubt_dropout *d,
                                      const doubt_dropout_window *window);
/* Always applies the mask: a network that wants dropout off skips the layer. */
doubt_status doubt_dropout_forward(doubt_ctx *ctx, doubt_dropout *d, const doubt_tensor *src,
                                   uint64_t sample_base);
doubt_status doubt_dropout_backward(doubt_ctx *ctx, doubt_dropout *d, const doubt_tensor *diff_dst);
void doubt_dropout_destroy(doubt_dropout *d);

/* The keep decision for one element (channelwise: index is the channel), exposed for tests
 * and reference implementations. */
int doubt_dropout_keep(const doubt_dropout_desc *desc, uint64_t sample, uint64_t index);

#endif
