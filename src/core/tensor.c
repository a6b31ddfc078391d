#include "tensor.h"

#include <stdlib.h>
#include <string.h>

static dnnl_format_tag_t plain_tag(int ndims)
{
    switch (ndims) {
    case 1: return dnnl_a;
    case 2: return dnnl_ab;
    case 3: return dnnl_abc;
    case 4: return dnnl_abcd;
    default: return dnnl_format_tag_undef;
    }
}

dnnl_memory_desc_t doubt_md_make(int ndims, const int64_t *dims, dnnl_format_tag_t tag)
{
    dnnl_memory_desc_t md;
    dnnl_dims_t d = {0};
    for (int i = 0; i < ndims; i++)
        d[i] = dims[i];
    if (dnnl_memory_desc_init_by_tag(&md, ndims, d, dnnl_f32, tag) != dnnl_success)
        memset(&md, 0, sizeof md); /* zero md: the caller's next oneDNN call reports it */
    return md;
}

dnnl_memory_desc_t doubt_md_plain(const dnnl_memory_desc_t *md)
{
    return doubt_md_make(md->ndims, md->dims, plain_tag(md->ndims));
}

doubt_status doubt_tensor_init(doubt_ctx *ctx, doubt_tensor *t, const dnnl_memory_desc_t *md,
                               doubt_tensor_storage storage, const char *name)
{
    doubt_status st = DOUBT_OK;
    memset(t, 0, sizeof *t);
    if (md->ndims < 1 || md->ndims > 4 || md->format_kind != dnnl_blocked)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "tensor %s: needs a concrete 1-4 dim layout",
                          name);
    for (int i = 0; i < md->ndims; i++)
        if (md->dims[i] <= 0)
            return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "tensor %s: dim %d is %lld", name, i,
                              (long long)md->dims[i]);
    t->md = *md;
    size_t bytes = dnnl_memory_desc_get_size(md);
    if (storage == DOUBT_TENSOR_ARENA) {
        t->data = doubt_arena_alloc(&ctx->arena, bytes);
    } else {
        t->data = aligned_alloc(DOUBT_ARENA_ALIGN, (bytes + DOUBT_ARENA_ALIGN - 1) /
                                                       DOUBT_ARENA_ALIGN * DOUBT_ARENA_ALIGN);
        if (t->data)
            memset(t->data, 0, bytes);
        t->owns_data = 1;
    }
    if (!t->data)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "tensor %s: cannot allocate %zu bytes",
                          name, bytes);
    DOUBT_DNNL(ctx, dnnl_memory_create(&t->mem, &t->md, ctx->engine, t->data));
    return DOUBT_OK;
done:
    doubt_tensor_release(t);
    return st;
}

doubt_status doubt_tensor_init_plain(doubt_ctx *ctx, doubt_tensor *t, int ndims,
                                     const int64_t *dims, doubt_tensor_storage storage,
                                     const char *name)
{
    if (ndims < 1 || ndims > 4)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "tensor %s: %d dims", name, ndims);
    for (int i = 0; i < ndims; i++)
        if (dims[i] <= 0)
            return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "tensor %s: dim %d is %lld", name, i,
                              (long long)dims[i]);
    dnnl_memory_desc_t md = doubt_md_make(ndims, dims, plain_tag(ndims));
    return doubt_tensor_init(ctx, t, &md, storage, name);
}

void doubt_tensor_release(doubt_tensor *t)
{
    if (!t)
        return;
    if (t->mem)
        dnnl_memory_destroy(t->mem);
    if (t->owns_data)
        free(t->data);
    memset(t, 0, sizeof *t);
}

int64_t doubt_tensor_count(const doubt_tensor *t)
{
    if (!t->mem)
        return 0;
    int64_t n = 1;
    for (int i = 0; i < t->md.ndims; i++)
        n *= t->md.dims[i];
    return n;
}

int64_t doubt_tensor_dim(const doubt_tensor *t, int i)
{
    return i < t->md.ndims ? t->md.dims[i] : 1;
}

size_t doubt_tensor_bytes(const doubt_tensor *t)
{
    return dnnl_memory_desc_get_size(&t->md);
}

/* Copies between t and a plain buffer; to_tensor picks the direction. A reorder is made
 * only when the layouts differ: these calls sit at the edges of a network, not inside it. */
static doubt_status copy_plain(doubt_ctx *ctx, const doubt_tensor *t, float *plain,
                               int to_tensor)
{
    doubt_status st = DOUBT_OK;
    dnnl_memory_desc_t plain_md = doubt_md_plain(&t->md);
    if (dnnl_memory_desc_equal(&plain_md, &t->md)) {
        size_t bytes = (size_t)doubt_tensor_count(t) * sizeof(float);
        if (to_tensor)
            memcpy(t->data, plain, bytes);
        else
            memcpy(plain, t->data, bytes);
        return DOUBT_OK;
    }
    dnnl_memory_t plain_mem = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t reorder = NULL;
    DOUBT_DNNL(ctx, dnnl_memory_create(&plain_mem, &plain_md, ctx->engine, plain));
    const dnnl_memory_desc_t *src_md = to_tensor ? &plain_md : &t->md;
    const dnnl_memory_desc_t *dst_md = to_tensor ? &t->md : &plain_md;
    DOUBT_DNNL(ctx, dnnl_reorder_primitive_desc_create(&pd, src_md, ctx->engine, dst_md,
                                                       ctx->engine, NULL));
    DOUBT_DNNL(ctx, dnnl_primitive_create(&reorder, pd));
    dnnl_exec_arg_t args[2] = {
        {DNNL_ARG_FROM, to_tensor ? plain_mem : t->mem},
        {DNNL_ARG_TO, to_tensor ? t->mem : plain_mem},
    };
    st = doubt_ctx_execute(ctx, reorder, 2, args, "tensor reorder");
done:
    dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(pd);
    dnnl_memory_destroy(plain_mem);
    return st;
}

doubt_status doubt_tensor_write(doubt_ctx *ctx, doubt_tensor *t, const float *plain)
{
    if (!t->mem || !plain)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "tensor write: empty tensor or NULL data");
    return copy_plain(ctx, t, (float *)plain, 1);
}

doubt_status doubt_tensor_read(doubt_ctx *ctx, const doubt_tensor *t, float *plain)
{
    if (!t->mem || !plain)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "tensor read: empty tensor or NULL data");
    return copy_plain(ctx, t, plain, 0);
}

int64_t doubt_md_offset(const dnnl_memory_desc_t *md, const int64_t *index)
{
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    int64_t block_of_dim[DNNL_MAX_NDIMS] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    for (int k = 0; k < b->inner_nblks; k++)
        block_of_dim[b->inner_idxs[k]] *= b->inner_blks[k];

    int64_t offset = md->offset0;
    for (int d = 0; d < md->ndims; d++)
        offset += (index[d] / block_of_dim[d]) * b->strides[d];

    /* Inner blocks are dense, innermost last: walk them with a running stride. Each dim's
     * remaining index is peeled from the innermost block outwards. */
    int64_t rest[DNNL_MAX_NDIMS] = {0};
    for (int d = 0; d < md->ndims; d++)
        rest[d] = index[d] % block_of_dim[d];
    int64_t inner_stride = 1;
    for (int k = b->inner_nblks - 1; k >= 0; k--) {
        int d = (int)b->inner_idxs[k];
        offset += (rest[d] % b->inner_blks[k]) * inner_stride;
        rest[d] /= b->inner_blks[k];
        inner_stride *= b->inner_blks[k];
    }
    return offset;
}
