/* Element-wise sum of 2..4 activations of one shape (a residual connection), on oneDNN's sum
 * primitive; the output takes the first input's layout. Backward hands the output's gradient
 * to every input, reordered into that input's layout. */
#ifndef DOUBT_CONV_ADD_H
#define DOUBT_CONV_ADD_H

#include "layer.h"

#define DOUBT_ADD_MAX 4

typedef struct {
    char name[DOUBT_NAME_LEN];
    doubt_mode mode;
    int n_inputs;
    doubt_tensor dst;                    /* arena */
    doubt_tensor diff_src[DOUBT_ADD_MAX]; /* arena, TRAIN only */
    dnnl_primitive_desc_t fwd_pd, split_pd[DOUBT_ADD_MAX];
    dnnl_primitive_t fwd, split[DOUBT_ADD_MAX];
} doubt_add;

doubt_status doubt_add_create(doubt_ctx *ctx, const char *name, int n_inputs,
                              const dnnl_memory_desc_t *const *src_mds, doubt_mode mode,
                              doubt_add **out);
doubt_status doubt_add_forward(doubt_ctx *ctx, doubt_add *add, const doubt_tensor *const *srcs);
/* Writes diff_src[i] for every input. */
doubt_status doubt_add_backward(doubt_ctx *ctx, doubt_add *add, const doubt_tensor *diff_dst);
void doubt_add_destroy(doubt_add *add);

#endif
