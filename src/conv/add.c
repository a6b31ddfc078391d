#include "add.h"

#include <stdlib.h>

doubt_status doubt_add_create(doubt_ctx *ctx, const char *name, int n_inputs,
                              const dnnl_memory_desc_t *const *src_mds, doubt_mode mode,
                              doubt_add **out)
{
    doubt_status st = DOUBT_OK;
    *out = NULL;
    const char *label = name ? name : "add";
    if (n_inputs < 2 || n_inputs > DOUBT_ADD_MAX)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "add %s: %d inputs (2..%d)", label, n_inputs,
                          DOUBT_ADD_MAX);
    for (int i = 0; i < n_inputs; i++) {
        if ((st = doubt_check_activation(ctx, src_mds[i], (int)src_mds[0]->dims[1], label)) !=
            DOUBT_OK)
            return st;
        for (int k = 0; k < 4; k++)
            if (src_mds[i]->dims[k] != src_mds[0]->dims[k])
                return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                                  "add %s: input %d has another shape than input 0", label, i);
    }
    doubt_add *add = calloc(1, sizeof *add);
    if (!add)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "add: out of memory");
    doubt_name_copy(add->name, name, "add");
    add->mode = mode;
    add->n_inputs = n_inputs;
    const float scales[DOUBT_ADD_MAX] = {1, 1, 1, 1};
    dnnl_memory_desc_t mds[DOUBT_ADD_MAX];
    for (int i = 0; i < n_inputs; i++)
        mds[i] = *src_mds[i];
    DOUBT_DNNL(ctx, dnnl_sum_primitive_desc_create(&add->fwd_pd, src_mds[0], n_inputs, scales,
                                                   mds, NULL, ctx->engine));
    DOUBT_DNNL(ctx, dnnl_primitive_create(&add->fwd, add->fwd_pd));
    DOUBT_TRY(doubt_tensor_init(ctx, &add->dst, src_mds[0], DOUBT_TENSOR_ARENA, add->name));
    for (int i = 0; i < n_inputs && mode == DOUBT_MODE_TRAIN; i++) {
        DOUBT_TRY(doubt_tensor_init(ctx, &add->diff_src[i], src_mds[i], DOUBT_TENSOR_ARENA,
                                    add->name));
        DOUBT_DNNL(ctx, dnnl_reorder_primitive_desc_create(&add->split_pd[i], &add->dst.md,
                                                           ctx->engine, src_mds[i], ctx->engine,
                                                           NULL));
        DOUBT_DNNL(ctx, dnnl_primitive_create(&add->split[i], add->split_pd[i]));
    }
    *out = add;
    add = NULL;
done:
    doubt_add_destroy(add);
    return st;
}

doubt_status doubt_add_forward(doubt_ctx *ctx, doubt_add *add, const doubt_tensor *const *srcs)
{
    dnnl_exec_arg_t args[DOUBT_ADD_MAX + 1];
    for (int i = 0; i < add->n_inputs; i++) {
        if (!srcs[i] || !srcs[i]->mem)
            return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "add %s: input %d missing", add->name, i);
        args[i] = (dnnl_exec_arg_t){DNNL_ARG_MULTIPLE_SRC + i, srcs[i]->mem};
    }
    args[add->n_inputs] = (dnnl_exec_arg_t){DNNL_ARG_DST, add->dst.mem};
    return doubt_ctx_execute(ctx, add->fwd, add->n_inputs + 1, args, add->name);
}

doubt_status doubt_add_backward(doubt_ctx *ctx, doubt_add *add, const doubt_tensor *diff_dst)
{
    doubt_status st = DOUBT_OK;
    if (add->mode != DOUBT_MODE_TRAIN || !diff_dst ||
        !dnnl_memory_desc_equal(&diff_dst->md, &add->dst.md))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "add %s: backward needs a training layer and the output's layout",
                          add->name);
    for (int i = 0; i < add->n_inputs && st == DOUBT_OK; i++) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, diff_dst->mem},
                                   {DNNL_ARG_TO, add->diff_src[i].mem}};
        st = doubt_ctx_execute(ctx, add->split[i], 2, args, add->name);
    }
    return st;
}

void doubt_add_destroy(doubt_add *add)
{
    if (!add)
        return;
    dnnl_primitive_destroy(add->fwd);
    dnnl_primitive_desc_destroy(add->fwd_pd);
    for (int i = 0; i < DOUBT_ADD_MAX; i++) {
        dnnl_primitive_destroy(add->split[i]);
        dnnl_primitive_desc_destroy(add->split_pd[i]);
        doubt_tensor_release(&add->diff_src[i]);
    }
    doubt_tensor_release(&add->dst);
    free(add);
}
