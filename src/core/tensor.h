/* Tensor: logical dimensions (NCHW for activations, OIHW for weights, 1-D for vectors) over a
 * oneDNN memory whose physical layout the primitives chose (often blocked, e.g. nChw16c).
 *
 * Code outside src/conv never assumes the layout: doubt_tensor_write/read convert from/to
 * the plain row-major order of the logical dims (a reorder only when the layouts differ).
 * Activations take their bytes from the context's arena; parameters own theirs.
 */
#ifndef DOUBT_CORE_TENSOR_H
#define DOUBT_CORE_TENSOR_H

#include <stdint.h>

#include "ctx.h"

typedef struct {
    dnnl_memory_desc_t md; /* dims, data type, layout */
    dnnl_memory_t mem;     /* wraps data; NULL for an empty tensor */
    float *data;           /* physical buffer, md's layout, padding included */
    int owns_data;         /* 1: freed by release; 0: borrowed from the arena */
} doubt_tensor;

typedef enum { DOUBT_TENSOR_OWNED, DOUBT_TENSOR_ARENA } doubt_tensor_storage;

/* Allocates zeroed storage for a concrete md (not format_tag_any). */
doubt_status doubt_tensor_init(doubt_ctx *ctx, doubt_tensor *t, const dnnl_memory_desc_t *md,
                               doubt_tensor_storage storage, const char *name);
/* The same with a plain row-major layout: nchw for 4 dims, oihw for weights, a for 1 dim. */
doubt_status doubt_tensor_init_plain(doubt_ctx *ctx, doubt_tensor *t, int ndims,
                                     const int64_t *dims, doubt_tensor_storage storage,
                                     const char *name);
void doubt_tensor_release(doubt_tensor *t);

int64_t doubt_tensor_count(const doubt_tensor *t); /* logical elements, padding excluded */
int64_t doubt_tensor_dim(const doubt_tensor *t, int i);
size_t doubt_tensor_bytes(const doubt_tensor *t); /* physical bytes, padding included */

/* Copies from/to a plain row-major float array of doubt_tensor_count elements. */
doubt_status doubt_tensor_write(doubt_ctx *ctx, doubt_tensor *t, const float *plain);
doubt_status doubt_tensor_read(doubt_ctx *ctx, const doubt_tensor *t, float *plain);

/* A plain row-major md with the dims of md (nchw/oihw for 4 dims, a for 1). */
dnnl_memory_desc_t doubt_md_plain(const dnnl_memory_desc_t *md);
/* An md of f32 with the given dims and oneDNN tag (dnnl_format_tag_any to let a primitive pick). */
dnnl_memory_desc_t doubt_md_make(int ndims, const int64_t *dims, dnnl_format_tag_t tag);

/* Physical offset (in elements) of a logical index in a blocked layout; ndims <= 4. */
int64_t doubt_md_offset(const dnnl_memory_desc_t *md, const int64_t *index);

#endif
