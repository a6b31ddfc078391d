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
