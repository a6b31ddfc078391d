#include "layer.h"

#include <stdio.h>
#include <string.h>

doubt_status doubt_primitive_make(doubt_ctx *ctx, const void *op_desc,
                                  const_dnnl_primitive_attr_t attr,
                                  const_dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *pd,
                                  dnnl_primitive_t *prim, const char *what)
{
    dnnl_status_t s = dnnl_primitive_desc_create(pd, op_desc, attr, ctx->engine, hint);
    if (s != dnnl_success) {
        *pd = NULL;
        return doubt_fail(&ctx->err, DOUBT_ERR_DNNL, "%s: no primitive for these shapes: %s",
                          what, doubt_dnnl_status_str(s));
    }
    s = dnnl_primitive_create(prim, *pd);
    if (s != dnnl_success) {
        *prim = NULL;
        return doubt_fail(&ctx->err, DOUBT_ERR_DNNL, "%s: primitive creation failed: %s", what,
                          doubt_dnnl_status_str(s));
    }
    return DOUBT_OK;
}

doubt_status doubt_reorder_make(doubt_ctx *ctx, const dnnl_memory_desc_t *from,
                                const dnnl_memory_desc_t *to, dnnl_primitive_desc_t *pd,
                                dnnl_primitive_t *prim)
{
    doubt_status st = DOUBT_OK;
    *pd = NULL;
    *prim = NULL;
    if (dnnl_memory_desc_equal(from, to))
        return DOUBT_OK;
    DOUBT_DNNL(ctx, dnnl_reorder_primitive_desc_create(pd, from, ctx->engine, to, ctx->engine,
                                                       NULL));
    DOUBT_DNNL(ctx, dnnl_primitive_create(prim, *pd));
done:
    return st;
}

doubt_status doubt_reorder_run(doubt_ctx *ctx, dnnl_primitive_t prim, const doubt_tensor *from,
                               doubt_tensor *to, const char *what)
{
    if (!prim) {
        memcpy(to->data, from->data, doubt_tensor_bytes(to));
        return DOUBT_OK;
    }
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from->mem}, {DNNL_ARG_TO, to->mem}};
    return doubt_ctx_execute(ctx, prim, 2, args, what);
}

const dnnl_memory_desc_t *doubt_pd_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what)
{
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

doubt_status doubt_check_activation(doubt_ctx *ctx, const dnnl_memory_desc_t *md, int channels,
                                    const char *layer)
{
    if (!md)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "%s: NULL input description", layer);
    if (md->ndims != 4 || md->data_type != dnnl_f32)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "%s: input must be 4-D f32 NCHW, got %d dims",
                          layer, md->ndims);
    for (int i = 0; i < 4; i++)
        if (md->dims[i] <= 0)
            return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "%s: input dim %d is %lld", layer, i,
                              (long long)md->dims[i]);
    if (md->format_kind != dnnl_blocked)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "%s: input layout must be concrete", layer);
    if (channels > 0 && md->dims[1] != channels)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "%s: input has C=%lld, layer expects %d",
                          layer, (long long)md->dims[1], channels);
    return DOUBT_OK;
}

void doubt_name_copy(char dst[DOUBT_NAME_LEN], const char *name, const char *fallback)
{
    snprintf(dst, DOUBT_NAME_LEN, "%s", name && name[0] ? name : fallback);
}
