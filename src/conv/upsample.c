#include "upsample.h"

#include <stdlib.h>

/* The backward of a ×2 half-pixel bilinear upsample has fixed weights: source row i receives
 * 0.25·g(2i−1) + 0.75·g(2i) + 0.75·g(2i+1) + 0.25·g(2i+2) of the output rows, where a row
 * index outside [0, 2H) is clamped to the border (the forward clamps its source coordinate
 * there, so border rows take the missing weight); columns likewise. oneDNN 2.6 runs this
 * with its slow reference kernel on blocked layouts, so the layouts doubt uses get a loop
 * here that vectorises over the channel block. */
static int channel_block_of(const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst)
{
    static const struct {
        dnnl_format_tag_t tag;
        int block;
    } known[] = {{dnnl_aBcd8b, 8}, {dnnl_aBcd16b, 16}, {dnnl_abcd, 1}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        dnnl_memory_desc_t s = doubt_md_make(4, src->dims, known[i].tag);
        dnnl_memory_desc_t d = doubt_md_make(4, dst->dims, known[i].tag);
        if (dnnl_memory_desc_equal(&s, src) && dnnl_memory_desc_equal(&d, dst))
            return known[i].block;
    }
    return 0;
}

static inline int64_t clamp_index(int64_t i, int64_t size)
{
    return i < 0 ? 0 : i >= size ? size - 1 : i;
}

/* One source row (plane p, row i) of diff_src from diff_dst; `block` lanes per pixel, the
 * padded lanes included (oneDNN keeps the padding of diff_dst zero, so diff_src's stays zero).
 * Inlined with a constant block, the lane loop becomes whole vector registers. */
static inline void upsample_bwd_row(const float *diff_dst, float *diff_src, int64_t p, int64_t i,
                                    int64_t h, int64_t w, int block)
{
    const int64_t oh = 2 * h, ow = 2 * w;
    const float *plane = diff_dst + p * oh * ow * block;
    const float *r0 = plane + clamp_index(2 * i - 1, oh) * ow * block;
    const float *r1 = plane + (2 * i) * ow * block;
    const float *r2 = plane + (2 * i + 1) * ow * block;
    const float *r3 = plane + clamp_index(2 * i + 2, oh) * ow * block;
    float *out = diff_src + (p * h + i) * w * block;
    for (int64_t j = 0; j < w; j++) {
        const int64_t c[4] = {clamp_index(2 * j - 1, ow) * block, (2 * j) * block,
                              (2 * j + 1) * block, clamp_index(2 * j + 2, ow) * block};
        for (int l = 0; l < block; l++) {
            float col[4];
            for (int t = 0; t < 4; t++)
                col[t] = 0.25f * (r0[c[t] + l] + r3[c[t] + l]) +
                         0.75f * (r1[c[t] + l] + r2[c[t] + l]);
            out[j * block + l] = 0.25f * (col[0] + col[3]) + 0.75f * (col[1] + col[2]);
        }
    }
}

static void upsample_bwd_direct(const dnnl_memory_desc_t *src_md, int block,
                                const float *diff_dst, float *diff_src)
{
    const int64_t n = src_md->dims[0], c = src_md->dims[1], h = src_md->dims[2],
                  w = src_md->dims[3];
    const int64_t planes = n * ((c + block - 1) / block);
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t p = 0; p < planes; p++)
        for (int64_t i = 0; i < h; i++) {
            if (block == 8)
                upsample_bwd_row(diff_dst, diff_src, p, i, h, w, 8);
            else if (block == 16)
                upsample_bwd_row(diff_dst, diff_src, p, i, h, w, 16);
            else
                upsample_bwd_row(diff_dst, diff_src, p, i, h, w, 1);
        }
}

doubt_status doubt_upsample_create(doubt_ctx *ctx, const char *name,
                                   const dnnl_memory_desc_t *src_md, doubt_mode mode,
                                   doubt_upsample **out)
{
    doubt_status st = DOUBT_OK;
    *out = NULL;
    if ((st = doubt_check_activation(ctx, src_md, 0, name ? name : "upsample")) != DOUBT_OK)
        return st;
    doubt_upsample *up = calloc(1, sizeof *up);
    if (!up)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "upsample: out of memory");
    doubt_name_copy(up->name, name, "upsample");
    up->mode = mode;

    const float factors[2] = {2.f, 2.f};
    const int64_t ddims[4] = {src_md->dims[0], src_md->dims[1], src_md->dims[2] * 2,
                              src_md->dims[3] * 2};
    dnnl_memory_desc_t dst_any = doubt_md_make(4, ddims, dnnl_format_tag_any);
    dnnl_resampling_desc_t fwd_desc;
    DOUBT_DNNL(ctx, dnnl_resampling_forward_desc_init(
                        &fwd_desc,
                        mode == DOUBT_MODE_TRAIN ? dnnl_forward_training : dnnl_forward_inference,
                        dnnl_resampling_linear, factors, src_md, &dst_any));
    DOUBT_TRY(doubt_primitive_make(ctx, &fwd_desc, NULL, NULL, &up->fwd_pd, &up->fwd, up->name));
    DOUBT_TRY(doubt_tensor_init(ctx, &up->dst, doubt_pd_md(up->fwd_pd, dnnl_query_dst_md),
                                DOUBT_TENSOR_ARENA, up->name));
    up->bwd_block = mode == DOUBT_MODE_TRAIN ? channel_block_of(src_md, &up->dst.md) : 0;
    if (mode == DOUBT_MODE_TRAIN && !up->bwd_block) {
        dnnl_resampling_desc_t bwd_desc;
        DOUBT_DNNL(ctx, dnnl_resampling_backward_desc_init(&bwd_desc, dnnl_resampling_linear,
                                                           factors, src_md, &up->dst.md));
        DOUBT_TRY(doubt_primitive_make(ctx, &bwd_desc, NULL, up->fwd_pd, &up->bwd_pd, &up->bwd,
                                       up->name));
    }
    if (mode == DOUBT_MODE_TRAIN)
        DOUBT_TRY(doubt_tensor_init(ctx, &up->diff_src, src_md, DOUBT_TENSOR_ARENA, up->name));
    *out = up;
    up = NULL;
done:
    doubt_upsample_destroy(up);
    return st;
}

doubt_status doubt_upsample_forward(doubt_ctx *ctx, doubt_upsample *up, const doubt_tensor *src)
{
    if (!up || !src || !src->mem)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "upsample forward: NULL layer or input");
    if (!dnnl_memory_desc_equal(&src->md, doubt_pd_md(up->fwd_pd, dnnl_query_src_md)))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "upsample %s: input differs from its build shape", up->name);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, src->mem}, {DNNL_ARG_DST, up->dst.mem}};
    return doubt_ctx_execute(ctx, up->fwd, 2, args, up->name);
}

doubt_status doubt_upsample_backward(doubt_ctx *ctx, doubt_upsample *up,
                                     const doubt_tensor *diff_dst)
{
    if (!up || !diff_dst || !diff_dst->mem)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "upsample backward: NULL layer or gradient");
    if (up->mode != DOUBT_MODE_TRAIN)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "upsample %s: backward needs a training layer",
                          up->name);
    if (!dnnl_memory_desc_equal(&diff_dst->md, &up->dst.md))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "upsample %s: gradient differs from the output", up->name);
    if (up->bwd_block) {
        upsample_bwd_direct(&up->diff_src.md, up->bwd_block, diff_dst->data, up->diff_src.data);
        return DOUBT_OK;
    }
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_DIFF_DST, diff_dst->mem},
                               {DNNL_ARG_DIFF_SRC, up->diff_src.mem}};
    return doubt_ctx_execute(ctx, up->bwd, 2, args, up->name);
}

void doubt_upsample_destroy(doubt_upsample *up)
{
    if (!up)
        return;
    dnnl_primitive_destroy(up->fwd);
    dnnl_primitive_destroy(up->bwd);
    dnnl_primitive_desc_destroy(up->fwd_pd);
    dnnl_primitive_desc_destroy(up->bwd_pd);
    doubt_tensor_release(&up->dst);
    doubt_tensor_release(&up->diff_src);
    free(up);
}
