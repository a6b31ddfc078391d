/* Bilinear ×2 upsampling on oneDNN's resampling primitive. oneDNN's linear resampling places
 * samples at half-pixel centres, the same as PyTorch's
 * interpolate(scale_factor=2, mode="bilinear", align_corners=False).
 *
 * The backward is a loop of its own (its weights are fixed: see upsample.c) when src and dst
 * are both nchw, nChw8c or nChw16c, the layouts oneDNN picks here; any other layout runs
 * oneDNN's resampling backward. Both give the same values up to float rounding. */
#ifndef DOUBT_CONV_UPSAMPLE_H
#define DOUBT_CONV_UPSAMPLE_H

#include "layer.h"

typedef struct {
    char name[DOUBT_NAME_LEN];
    doubt_mode mode;
    doubt_tensor dst, diff_src; /* arena */
    dnnl_primitive_desc_t fwd_pd, bwd_pd;
    dnnl_primitive_t fwd, bwd; /* bwd NULL when the loop runs the backward */
    int bwd_block;              /* channels per block of that loop (1, 8, 16); 0 = oneDNN's */
} doubt_upsample;

doubt_status doubt_upsample_create(doubt_ctx *ctx, const char *name,
                                   const dnnl_memory_desc_t *src_md, doubt_mode mode,
                                   doubt_upsample **out);
doubt_status doubt_upsample_forward(doubt_ctx *ctx, doubt_upsample *up, const doubt_tensor *src);
doubt_status doubt_upsample_backward(doubt_ctx *ctx, doubt_upsample *up,
                                     const doubt_tensor *diff_dst);
void doubt_upsample_destroy(doubt_upsample *up);

#endif
