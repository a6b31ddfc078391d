#include "concrete.h"

#include <math.h>
#include <stdlib.h>

#include "core/rng.h"

/* u is drawn in [0, 1) with 24 bits; keeping it inside (0, 1) keeps log u and log(1-u) finite */
#define U_EDGE 1e-7f

float doubt_concrete_rate(const doubt_concrete *c)
{
    return 1.0f / (1.0f + expf(-c->p_logit.data[0]));
}

doubt_status doubt_concrete_create(doubt_ctx *ctx, const doubt_concrete_desc *desc,
                                   const dnnl_memory_desc_t *src_md, float initial_p,
                                   doubt_concrete **out)
{
    doubt_status st = DOUBT_OK;
    *out = NULL;
    const char *name = desc && desc->name ? desc->name : "concrete dropout";
    if (!desc || !(initial_p > 0 && initial_p < 1) || desc->temperature < 0)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "concrete dropout %s: wants a rate in (0, 1) and a temperature >= 0",
                          name);
    if ((st = doubt_check_activation(ctx, src_md, 0, name)) != DOUBT_OK)
        return st;
    doubt_concrete *c = calloc(1, sizeof *c);
    if (!c)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "%s: out of memory", name);
    doubt_name_copy(c->name, desc->name, "concrete dropout");
    c->desc = *desc;
    c->desc.name = c->name;
    if (c->desc.temperature == 0)
        c->desc.temperature = DOUBT_CONCRETE_TEMPERATURE;
    const int64_t one = 1, nc[4] = {src_md->dims[0], src_md->dims[1], 1, 1};
    c->z = calloc((size_t)(nc[0] * nc[1]), sizeof *c->z);
    if (!c->z) {
        st = doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "%s: out of memory", c->name);
        goto done;
    }
    DOUBT_TRY(doubt_tensor_init_plain(ctx, &c->p_logit, 1, &one, DOUBT_TENSOR_OWNED, c->name));
    DOUBT_TRY(doubt_tensor_init_plain(ctx, &c->diff_p_logit, 1, &one, DOUBT_TENSOR_OWNED,
                                      c->name));
    c->p_logit.data[0] = logf(initial_p / (1 - initial_p));
    DOUBT_TRY(doubt_tensor_init_plain(ctx, &c->factor, 4, nc, DOUBT_TENSOR_OWNED, c->name));
    DOUBT_TRY(doubt_tensor_init_plain(ctx, &c->sums, 4, nc, DOUBT_TENSOR_OWNED, c->name));
    DOUBT_TRY(doubt_tensor_init(ctx, &c->dst, src_md, DOUBT_TENSOR_ARENA, c->name));
    DOUBT_TRY(doubt_tensor_init(ctx, &c->diff_src, src_md, DOUBT_TENSOR_ARENA, c->name));
    DOUBT_TRY(doubt_tensor_init(ctx, &c->product, src_md, DOUBT_TENSOR_ARENA, c->name));
    /* x · factor (and dy · factor) with the factor broadcast over the plane; dy · x; Σ_hw */
    dnnl_binary_desc_t scale, mul;
    DOUBT_DNNL(ctx, dnnl_binary_desc_init(&scale, dnnl_binary_mul, src_md, &c->factor.md, src_md));
    DOUBT_TRY(doubt_primitive_make(ctx, &scale, NULL, NULL, &c->scale_pd, &c->scale, c->name));
    DOUBT_DNNL(ctx, dnnl_binary_desc_init(&mul, dnnl_binary_mul, src_md, src_md, src_md));
    DOUBT_TRY(doubt_primitive_make(ctx, &mul, NULL, NULL, &c->mul_pd, &c->mul, c->name));
    dnnl_reduction_desc_t sum;
    DOUBT_DNNL(ctx, dnnl_reduction_desc_init(&sum, dnnl_reduction_sum, src_md, &c->sums.md, 0.f,
                                             0.f));
    DOUBT_TRY(doubt_primitive_make(ctx, &sum, NULL, NULL, &c->sum_pd, &c->sum, c->name));
    *out = c;
    c = NULL;
done:
    doubt_concrete_destroy(c);
    return st;
}

static doubt_status multiply(doubt_ctx *ctx, doubt_concrete *c, dnnl_primitive_t prim,
                             const doubt_tensor *a, const doubt_tensor *b, doubt_tensor *dst)
{
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC_0, a->mem}, {DNNL_ARG_SRC_1, b->mem},
                               {DNNL_ARG_DST, dst->mem}};
    return doubt_ctx_execute(ctx, prim, 3, args, c->name);
}

static doubt_status check_md(doubt_ctx *ctx, const doubt_concrete *c, const doubt_tensor *t,
                             const char *what)
{
    if (!t || !t->mem || !dnnl_memory_desc_equal(&t->md, &c->dst.md))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "concrete dropout %s: %s missing or not of the shape it was built for",
                          c->name, what);
    return DOUBT_OK;
}

doubt_status doubt_concrete_forward(doubt_ctx *ctx, doubt_concrete *c, const doubt_tensor *src,
                                    uint64_t sample_base)
{
    doubt_status st = check_md(ctx, c, src, "input");
    if (st != DOUBT_OK)
        return st;
    const int64_t n = src->md.dims[0], channels = src->md.dims[1];
    const double p = doubt_concrete_rate(c), t = c->desc.temperature;
    const double logit_p = c->p_logit.data[0];
    for (int64_t b = 0; b < n; b++) {
        const doubt_rng_key key = {.seed = c->desc.seed, .stream = sample_base + (uint64_t)b,
                                   .layer = c->desc.layer_id};
        for (int64_t ch = 0; ch < channels; ch++) {
            float u = doubt_rng_uniform(key, (uint64_t)ch);
            u = u < U_EDGE ? U_EDGE : u > 1 - U_EDGE ? 1 - U_EDGE : u;
            const double a = (logit_p + log(u) - log1p(-(double)u)) / t;
            const double z = 1 / (1 + exp(-a));
            c->z[b * channels + ch] = (float)z;
            c->factor.data[b * channels + ch] = (float)((1 - z) / (1 - p));
        }
    }
    c->src = src;
    return multiply(ctx, c, c->scale, src, &c->factor, &c->dst);
}

doubt_status doubt_concrete_backward(doubt_ctx *ctx, doubt_concrete *c,
                                     const doubt_tensor *diff_dst)
{
    doubt_status st = check_md(ctx, c, diff_dst, "gradient");
    if (st == DOUBT_OK && !c->src)
        st = doubt_fail(&ctx->err, DOUBT_ERR_ARG, "concrete dropout %s: backward before forward",
                        c->name);
    if (st != DOUBT_OK)
        return st;
    DOUBT_TRY(multiply(ctx, c, c->scale, diff_dst, &c->factor, &c->diff_src));
    DOUBT_TRY(multiply(ctx, c, c->mul, diff_dst, c->src, &c->product));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, c->product.mem}, {DNNL_ARG_DST, c->sums.mem}};
    DOUBT_TRY(doubt_ctx_execute(ctx, c->sum, 2, args, c->name));
    const int64_t count = c->src->md.dims[0] * c->src->md.dims[1];
    const double p = doubt_concrete_rate(c), t = c->desc.temperature;
    double grad = 0;
    for (int64_t k = 0; k < count; k++) {
        const double z = c->z[k];
        grad += c->sums.data[k] * (p * (1 - z) - z * (1 - z) / t);
    }
    c->diff_p_logit.data[0] = (float)(grad / (1 - p));
done:
    return st;
}

void doubt_concrete_destroy(doubt_concrete *c)
{
    if (!c)
        return;
    dnnl_primitive_destroy(c->scale);
    dnnl_primitive_destroy(c->mul);
    dnnl_primitive_destroy(c->sum);
    dnnl_primitive_desc_destroy(c->scale_pd);
    dnnl_primitive_desc_destroy(c->mul_pd);
    dnnl_primitive_desc_destroy(c->sum_pd);
    doubt_tensor *tensors[] = {&c->p_logit, &c->diff_p_logit, &c->factor, &c->sums,
                               &c->dst,     &c->diff_src,     &c->product};
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++)
        doubt_tensor_release(tensors[i]);
    free(c->z);
    free(c);
}
