/* What every layer in src/conv shares.
 *
 * Life of a layer: `doubt_<layer>_create(ctx, &desc, src_md, mode, &layer)` does all
 * descriptor work and makes every primitive once for that input shape and layout;
 * `forward` and `backward` only execute. A layer owns its parameters (and their gradients),
 * its primitives, and its output tensors `dst` and `diff_src` (memory from the context's
 * arena). The src passed to forward is borrowed and must stay alive and unchanged until the
 * matching backward, which reads it. Gradients use the same layouts as the forward tensors:
 * diff_dst has dst's layout and diff_src has src's, so no reorders happen between layers.
 */
#ifndef DOUBT_CONV_LAYER_H
#define DOUBT_CONV_LAYER_H

#include "core/tensor.h"

typedef enum {
    DOUBT_MODE_TRAIN, /* forward_training primitives, backward available, batch statistics */
    DOUBT_MODE_INFER  /* forward_inference, running statistics, no backward */
} doubt_mode;

#define DOUBT_NAME_LEN 64

/* Creates a primitive descriptor (with attr and hint, either may be NULL) and its primitive. */
doubt_status doubt_primitive_make(doubt_ctx *ctx, const void *op_desc,
                                  const_dnnl_primitive_attr_t attr,
                                  const_dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *pd,
                                  dnnl_primitive_t *prim, const char *what);

/* A reorder from layout `from` to `to` (same dims), made once; none (*prim NULL) when the
 * layouts are equal. */
doubt_status doubt_reorder_make(doubt_ctx *ctx, const dnnl_memory_desc_t *from,
                                const dnnl_memory_desc_t *to, dnnl_primitive_desc_t *pd,
                                dnnl_primitive_t *prim);
/* Runs it from `from` into `to`, or copies the bytes when there is none. */
doubt_status doubt_reorder_run(doubt_ctx *ctx, dnnl_primitive_t prim, const doubt_tensor *from,
                               doubt_tensor *to, const char *what);

/* The md a primitive chose for one of its arguments (dnnl_query_src_md, ...). */
const dnnl_memory_desc_t *doubt_pd_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what);

/* Checks that md is a 4-D activation with `channels` channels (0 = any) and gives a message
 * naming the layer otherwise. */
doubt_status doubt_check_activation(doubt_ctx *ctx, const dnnl_memory_desc_t *md, int channels,
                                    const char *layer);

/* Copies a layer's name for error messages; fallback when name is NULL or empty. */
void doubt_name_copy(char dst[DOUBT_NAME_LEN], const char *name, const char *fallback);

#endif
