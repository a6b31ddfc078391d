/* Concatenation along channels on oneDNN's concat primitive; backward splits the gradient
 * back into the inputs' layouts with reorders from channel-offset views of diff_dst. When a
 * view cannot be expressed in diff_dst's blocked layout (an offset that is not a multiple of
 * the channel block), the split goes through one plain NCHW copy of diff_dst instead. */
#ifndef DOUBT_CONV_CONCAT_H
#define DOUBT_CONV_CONCAT_H

#include "layer.h"

#define DOUBT_CONCAT_MAX 4

typedef struct {
    char name[DOUBT_NAME_LEN];
    doubt_mode mode;
    int n_inputs;
    doubt_tensor dst;                         /* arena */
    doubt_tensor diff_src[DOUBT_CONCAT_MAX];  /* arena, TRAIN only */
    doubt_tensor plain_diff;                  /* arena, only when views need a plain copy */
    dnnl_primitive_desc_t fwd_pd, to_plain_pd, split_pd[DOUBT_CONCAT_MAX];
    dnnl_primitive_t fwd, to_plain, split[DOUBT_CONCAT_MAX];
    dnnl_memory_t views[DOUBT_CONCAT_MAX]; /* channel slices of diff_dst or plain_diff */
} doubt_concat;

doubt_status doubt_concat_create(doubt_ctx *ctx, const char *name, int n_inputs,
                                 const dnnl_memory_desc_t *const *src_mds, doubt_mode mode,
                                 doubt_concat **out);
doubt_status doubt_concat_forward(doubt_ctx *ctx, doubt_concat *cat,
                                  const doubt_tensor *const *srcs);
/* Writes diff_src[i] for every input. */
doubt_status doubt_concat_backward(doubt_ctx *ctx, doubt_concat *cat,
                                   const doubt_tensor *diff_dst);
void doubt_concat_destroy(doubt_concat *cat);

#endif
