#include "concat.h"

#include <stdlib.h>

static doubt_status check_inputs(doubt_ctx *ctx, const char *name, int n,
                                 const dnnl_memory_desc_t *const *mds)
{
    doubt_status st;
    if (n < 2 || n > DOUBT_CONCAT_MAX || !mds)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "concat %s: %d inputs (2..%d)", name, n,
                          DOUBT_CONCAT_MAX);
    for (int i = 0; i < n; i++) {
        if ((st = doubt_check_activation(ctx, mds[i], 0, name)) != DOUBT_OK)
            return st;
        for (int d = 0; d < 4; d++)
            if (d != 1 && mds[i]->dims[d] != mds[0]->dims[d])
                return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                                  "concat %s: input %d is %lldx%lldx%lld, input 0 is "
                                  "%lldx%lldx%lld (N, H, W must agree)",
                                  name, i, (long long)mds[i]->dims[0], (long long)mds[i]->dims[2],
                                  (long long)mds[i]->dims[3], (long long)mds[0]->dims[0],
                                  (long long)mds[0]->dims[2], (long long)mds[0]->dims[3]);
    }
    return DOUBT_OK;
}

/* Makes the split reorders from channel views of `whole` (diff_dst's layout or plain).
 * Returns 0, with no message, when a view does not exist in that layout, so the caller can
 * fall back to the plain route. */
static int make_split(doubt_ctx *ctx, doubt_concat *cat, const dnnl_memory_desc_t *whole,
                      const dnnl_memory_desc_t *const *src_mds)
{
    int64_t offset = 0;
    for (int i = 0; i < cat->n_inputs; i++) {
        dnnl_memory_desc_t view;
        const dnnl_dims_t offsets = {0, offset, 0, 0};
        if (dnnl_memory_desc_init_submemory(&view, whole, src_mds[i]->dims, offsets) !=
                dnnl_success ||
            dnnl_reorder_primitive_desc_create(&cat->split_pd[i], &view, ctx->engine, src_mds[i],
                                               ctx->engine, NULL) != dnnl_success ||
            dnnl_primitive_create(&cat->split[i], cat->split_pd[i]) != dnnl_success ||
            dnnl_memory_create(&cat->views[i], &view, ctx->engine, DNNL_MEMORY_NONE) !=
                dnnl_success)
            return 0;
        offset += src_mds[i]->dims[1];
    }
    return 1;
}

static void drop_split(doubt_concat *cat)
{
    for (int i = 0; i < DOUBT_CONCAT_MAX; i++) {
        dnnl_primitive_destroy(cat->split[i]);
        dnnl_primitive_desc_destroy(cat->split_pd[i]);
        dnnl_memory_destroy(cat->views[i]);
        cat->split[i] = NULL;
        cat->split_pd[i] = NULL;
        cat->views[i] = NULL;
    }
}

doubt_status doubt_concat_create(doubt_ctx *ctx, const char *name, int n_inputs,
                                 const dnnl_memory_desc_t *const *src_mds, doubt_mode mode,
                                 doubt_concat **out)
{
    doubt_status st = DOUBT_OK;
    *out = NULL;
    const char *label = name ? name : "concat";
    if ((st = check_inputs(ctx, label, n_inputs, src_mds)) != DOUBT_OK)
        return st;
    doubt_concat *cat = calloc(1, sizeof *cat);
    if (!cat)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "concat: out of memory");
    doubt_name_copy(cat->name, name, "concat");
    cat->mode = mode;
    cat->n_inputs = n_inputs;

    int64_t channels = 0;
    dnnl_memory_desc_t inputs[DOUBT_CONCAT_MAX];
    for (int i = 0; i < n_inputs; i++) {
        inputs[i] = *src_mds[i];
        channels += src_mds[i]->dims[1];
    }
    const int64_t ddims[4] = {src_mds[0]->dims[0], channels, src_mds[0]->dims[2],
                              src_mds[0]->dims[3]};
    dnnl_memory_desc_t dst_any = doubt_md_make(4, ddims, dnnl_format_tag_any);
    DOUBT_DNNL(ctx, dnnl_concat_primitive_desc_create(&cat->fwd_pd, &dst_any, n_inputs, 1,
                                                      inputs, NULL, ctx->engine));
    DOUBT_DNNL(ctx, dnnl_primitive_create(&cat->fwd, cat->fwd_pd));
    DOUBT_TRY(doubt_tensor_init(ctx, &cat->dst, doubt_pd_md(cat->fwd_pd, dnnl_query_dst_md),
                                DOUBT_TENSOR_ARENA, cat->name));

    if (mode == DOUBT_MODE_TRAIN) {
        for (int i = 0; i < n_inputs; i++)
            DOUBT_TRY(doubt_tensor_init(ctx, &cat->diff_src[i], src_mds[i], DOUBT_TENSOR_ARENA,
                                        cat->name));
        if (!make_split(ctx, cat, &cat->dst.md, src_mds)) {
            drop_split(cat);
            dnnl_memory_desc_t plain = doubt_md_plain(&cat->dst.md);
            DOUBT_TRY(doubt_tensor_init(ctx, &cat->plain_diff, &plain, DOUBT_TENSOR_ARENA,
                                        cat->name));
            DOUBT_DNNL(ctx, dnnl_reorder_primitive_desc_create(&cat->to_plain_pd, &cat->dst.md,
                                                               ctx->engine, &plain, ctx->engine,
                                                               NULL));
            DOUBT_DNNL(ctx, dnnl_primitive_create(&cat->to_plain, cat->to_plain_pd));
            if (!make_split(ctx, cat, &plain, src_mds)) {
                st = doubt_fail(&ctx->err, DOUBT_ERR_DNNL, "concat %s: cannot split gradient",
                                cat->name);
                goto done;
            }
            for (int i = 0; i < n_inputs; i++)
                DOUBT_DNNL(ctx, dnnl_memory_set_data_handle(cat->views[i], cat->plain_diff.data));
        }
    }
    *out = cat;
    cat = NULL;
done:
    doubt_concat_destroy(cat);
    return st;
}

doubt_status doubt_concat_forward(doubt_ctx *ctx, doubt_concat *cat,
                                  const doubt_tensor *const *srcs)
{
    if (!cat || !srcs)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "concat forward: NULL layer or inputs");
    dnnl_exec_arg_t args[DOUBT_CONCAT_MAX + 1];
    for (int i = 0; i < cat->n_inputs; i++) {
        if (!srcs[i] || !srcs[i]->mem ||
            !dnnl_memory_desc_equal(&srcs[i]->md,
                                    dnnl_primitive_desc_query_md(cat->fwd_pd, dnnl_query_src_md, i)))
            return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                              "concat %s: input %d is missing or differs from its build shape",
                              cat->name, i);
        args[i] = (dnnl_exec_arg_t){DNNL_ARG_MULTIPLE_SRC + i, srcs[i]->mem};
    }
    args[cat->n_inputs] = (dnnl_exec_arg_t){DNNL_ARG_DST, cat->dst.mem};
    return doubt_ctx_execute(ctx, cat->fwd, cat->n_inputs + 1, args, cat->name);
}

doubt_status doubt_concat_backward(doubt_ctx *ctx, doubt_concat *cat,
                                   const doubt_tensor *diff_dst)
{
    doubt_status st = DOUBT_OK;
    if (!cat || !diff_dst || !diff_dst->mem)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "concat backward: NULL layer or gradient");
    if (cat->mode != DOUBT_MODE_TRAIN)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "concat %s: backward needs a training layer",
                          cat->name);
    if (!dnnl_memory_desc_equal(&diff_dst->md, &cat->dst.md))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "concat %s: gradient differs from the output",
                          cat->name);
    if (cat->to_plain) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, diff_dst->mem},
                                   {DNNL_ARG_TO, cat->plain_diff.mem}};
        DOUBT_TRY(doubt_ctx_execute(ctx, cat->to_plain, 2, args, cat->name));
    } else {
        for (int i = 0; i < cat->n_inputs; i++)
            DOUBT_DNNL(ctx, dnnl_memory_set_data_handle(cat->views[i], diff_dst->data));
    }
    for (int i = 0; i < cat->n_inputs; i++) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, cat->views[i]},
                                   {DNNL_ARG_TO, cat->diff_src[i].mem}};
        DOUBT_TRY(doubt_ctx_execute(ctx, cat->split[i], 2, args, cat->name));
    }
done:
    return st;
}

void doubt_concat_destroy(doubt_concat *cat)
{
    if (!cat)
        return;
    dnnl_primitive_destroy(cat->fwd);
    dnnl_primitive_desc_destroy(cat->fwd_pd);
    dnnl_primitive_destroy(cat->to_plain);
    dnnl_primitive_desc_destroy(cat->to_plain_pd);
    drop_split(cat);
    doubt_tensor_release(&cat->dst);
    doubt_tensor_release(&cat->plain_diff);
    for (int i = 0; i < DOUBT_CONCAT_MAX; i++)
        doubt_tensor_release(&cat->diff_src[i]);
    free(cat);
}
