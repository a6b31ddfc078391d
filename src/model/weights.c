#include "weights.h"

#include <stdlib.h>

doubt_status doubt_weights_load(doubt_ctx *ctx, doubt_net *net, const doubt_safetensors *f)
{
    doubt_status st = doubt_safetensors_check(f, &net->desc, false, &ctx->err);
    for (int i = 0; i < net->n_params && st == DOUBT_OK; i++) {
        const doubt_net_param *p = &net->params[i];
        const doubt_st_tensor *t = doubt_safetensors_find(f, p->info.name);
        if (!t || !t->data || t->count != p->info.count)
            return doubt_fail(&ctx->err, DOUBT_ERR_FORMAT, "%s: %s missing or of the wrong size",
                              f->path, p->info.name);
        st = doubt_tensor_write(ctx, p->value, t->data);
    }
    return st == DOUBT_OK ? doubt_net_parameters_changed(ctx, net) : st;
}

doubt_status doubt_weights_load_file(doubt_ctx *ctx, doubt_net *net, const char *path)
{
    doubt_safetensors *f = NULL;
    doubt_status st = doubt_safetensors_read(path, &f, &ctx->err);
    if (st == DOUBT_OK)
        st = doubt_weights_load(ctx, net, f);
    doubt_safetensors_destroy(f);
    return st;
}

enum { MAX_META = 16 };

doubt_status doubt_weights_save(doubt_ctx *ctx, const doubt_net *net, const char *path,
                                const char *const *meta, int n_meta,
                                const doubt_st_write_tensor *extra, int n_extra)
{
    if (n_meta < 0 || n_meta > MAX_META - 2)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "%s: %d metadata pairs", path, n_meta);
    doubt_status st = DOUBT_OK;
    const int n = net->n_params + n_extra;
    doubt_st_write_tensor *list = calloc((size_t)n, sizeof *list);
    float **plain = calloc((size_t)net->n_params, sizeof *plain);
    if (!list || !plain) {
        st = doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "%s: out of memory saving weights", path);
        goto done;
    }
    for (int i = 0; i < net->n_params; i++) {
        const doubt_net_param *p = &net->params[i];
        plain[i] = malloc((size_t)p->info.count * sizeof(float));
        if (!plain[i]) {
            st = doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "%s: out of memory saving weights", path);
            goto done;
        }
        DOUBT_TRY(doubt_tensor_read(ctx, p->value, plain[i]));
        list[i] = (doubt_st_write_tensor){p->info.name, p->info.ndim, p->info.shape, plain[i]};
    }
    for (int i = 0; i < n_extra; i++)
        list[net->n_params + i] = extra[i];
    const char *all_meta[2 * MAX_META] = {"format", "doubt", "doubt_version", DOUBT_VERSION};
    for (int i = 0; i < 2 * n_meta; i++)
        all_meta[4 + i] = meta[i];
    st = doubt_safetensors_write(path, &net->desc, all_meta, n_meta + 2, list, n, &ctx->err);
done:
    if (plain)
        for (int i = 0; i < net->n_params; i++)
            free(plain[i]);
    free(plain);
    free(list);
    return st;
}
