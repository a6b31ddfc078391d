#include "dropout.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

static inline uint32_t keep_threshold(float p)
{
    /* keep when the 32 random bits are >= p·2^32: P(keep) = 1 - p to within 2^-32 */
    return (uint32_t)((double)p * 4294967296.0);
}

int doubt_dropout_keep(const doubt_dropout_desc *desc, uint64_t sample, uint64_t index)
{
    doubt_rng_key key = {.seed = desc->seed, .stream = sample, .layer = desc->layer_id};
    return doubt_rng_bits(key, index) >= keep_threshold(desc->p);
}

doubt_status doubt_dropout_create(doubt_ctx *ctx, const doubt_dropout_desc *desc,
                                  const dnnl_memory_desc_t *src_md, doubt_mode mode,
                                  doubt_dropout **out)
{
    doubt_status st;
    *out = NULL;
    if (!desc)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "dropout: NULL description");
    const char *name = desc->name ? desc->name : "dropout";
    if (!(desc->p >= 0 && desc->p < 1))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "dropout %s: p = %g, must be in [0, 1)",
                          name, desc->p);
    if ((st = doubt_check_activation(ctx, src_md, 0, name)) != DOUBT_OK)
        return st;
    doubt_dropout *d = calloc(1, sizeof *d);
    if (!d)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "dropout %s: out of memory", name);
    doubt_name_copy(d->name, desc->name, "dropout");
    d->desc = *desc;
    d->desc.name = d->name;
    d->mode = mode;
    d->window = (doubt_dropout_window){0, 0, src_md->dims[3], src_md->dims[2]};
    if ((st = doubt_tensor_init(ctx, &d->dst, src_md, DOUBT_TENSOR_ARENA, d->name)) != DOUBT_OK ||
        (mode == DOUBT_MODE_TRAIN &&
         (st = doubt_tensor_init(ctx, &d->diff_src, src_md, DOUBT_TENSOR_ARENA, d->name)) !=
             DOUBT_OK)) {
        doubt_dropout_destroy(d);
        return st;
    }
    *out = d;
    return DOUBT_OK;
}

enum { ROW_CHUNK = 256 };

doubt_status doubt_dropout_set_window(doubt_ctx *ctx, doubt_dropout *d,
                                      const doubt_dropout_window *window)
{
    const int64_t h = d->dst.md.dims[2], w = d->dst.md.dims[3];
    const doubt_dropout_window own = {0, 0, w, h};
    const doubt_dropout_window *win = window->plane_w || window->plane_h ? window : &own;
    if (win->origin_x < 0 || win->origin_y < 0 || win->origin_x + w > win->plane_w ||
        win->origin_y + h > win->plane_h)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "dropout %s: a %" PRId64 "x%" PRId64 " tensor at (%" PRId64
                          ", %" PRId64 ") does not fit a %" PRId64 "x%" PRId64 " plane",
                          d->name, w, h, win->origin_x, win->origin_y, win->plane_w,
                          win->plane_h);
    d->window = *win;
    return DOUBT_OK;
}

/* The channels a blocked layout interleaves (8 in nChw8c; 1 in plain layouts): one row of
 * them shares cache lines, so they are masked together while the row is in cache. */
static int64_t channel_block(const dnnl_memory_desc_t *md)
{
    const dnnl_blocking_desc_t *blocking = &md->format_desc.blocking;
    for (int i = 0; i < blocking->inner_nblks; i++)
        if (blocking->inner_idxs[i] == 1)
            return blocking->inner_blks[i];
    return 1;
}

/* in · scale where kept, else +0 (also for an input that is NaN or infinite), as bit
 * operations: a branch on random bits would be mispredicted at every other element. */
static inline float masked(float in, float scale, uint32_t bits, uint32_t threshold)
{
    const float scaled = in * scale;
    uint32_t word;
    memcpy(&word, &scaled, sizeof word);
    word &= -(uint32_t)(bits >= threshold);
    float result;
    memcpy(&result, &word, sizeof result);
    return result;
}

/* out[k·stride] = in[k·stride] · scale where bits[k] >= threshold, else 0, for k < count. */
static void mask_row(const uint32_t *bits, uint32_t threshold, float scale, const float *in,
                     float *out, int64_t count, int64_t stride)
{
    if (stride == 1) { /* plain layouts: contiguous, so the compiler vectorises it */
        for (int64_t k = 0; k < count; k++)
            out[k] = masked(in[k], scale, bits[k], threshold);
        return;
    }
    for (int64_t k = 0; k < count; k++)
        out[k * stride] = masked(in[k * stride], scale, bits[k], threshold);
}

/* out = in · mask / (1 - p) over the logical elements of md; in and out share md. Work is
 * split by (row of the batch, block of channels, image row): each task masks one image row
 * of every channel in its block, so a blocked layout's row is read once, not once per
 * channel. */
static void apply_mask(const doubt_dropout_desc *desc, const doubt_dropout_window *win,
                       const dnnl_memory_desc_t *md, const float *in, float *out,
                       uint64_t sample_base)
{
    const int64_t n = md->dims[0], c = md->dims[1], h = md->dims[2], w = md->dims[3];
    const int64_t w_stride = md->format_desc.blocking.strides[3];
    const int64_t block = channel_block(md), blocks = (c + block - 1) / block;
    const uint32_t threshold = keep_threshold(desc->p);
    const float scale = 1.0f / (1.0f - desc->p);
#pragma omp parallel for collapse(3) schedule(static)
    for (int64_t b = 0; b < n; b++)
        for (int64_t cb = 0; cb < blocks; cb++)
            for (int64_t y = 0; y < h; y++) {
                const doubt_rng_key key = {.seed = desc->seed,
                                           .stream = sample_base + (uint64_t)b,
                                           .layer = desc->layer_id};
                uint32_t bits[ROW_CHUNK];
                const int64_t ch_end = (cb + 1) * block < c ? (cb + 1) * block : c;
                for (int64_t ch = cb * block; ch < ch_end; ch++) {
                    /* W is never blocked in activation layouts, so a row is strided */
                    const int64_t row_index[4] = {b, ch, y, 0};
                    const int64_t row = doubt_md_offset(md, row_index);
                    const uint64_t first = (uint64_t)((ch * win->plane_h + win->origin_y + y) *
                                                          win->plane_w + win->origin_x);
                    for (int64_t x0 = 0; x0 < w; x0 += ROW_CHUNK) {
                        const int64_t count = w - x0 < ROW_CHUNK ? w - x0 : ROW_CHUNK;
                        if (desc->channelwise) { /* one draw for the whole channel */
                            const uint32_t channel_bits = doubt_rng_bits(key, (uint64_t)ch);
                            for (int64_t k = 0; k < count; k++)
                                bits[k] = channel_bits;
                        } else
                            doubt_rng_bits_fill(key, first + (uint64_t)x0, count, bits);
                        mask_row(bits, threshold, scale, in + row + x0 * w_stride,
                                 out + row + x0 * w_stride, count, w_stride);
                    }
                }
            }
}

static doubt_status check_layout(doubt_ctx *ctx, const doubt_dropout *d, const doubt_tensor *t,
                                 const char *what)
{
    if (!t || !t->mem)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "dropout %s: NULL %s", d->name, what);
    if (!dnnl_memory_desc_equal(&t->md, &d->dst.md))
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "dropout %s: %s differs from the shape and layout it was built for",
                          d->name, what);
    return DOUBT_OK;
}

doubt_status doubt_dropout_forward(doubt_ctx *ctx, doubt_dropout *d, const doubt_tensor *src,
                                   uint64_t sample_base)
{
    doubt_status st;
    if (!d)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "dropout forward: NULL layer");
    if ((st = check_layout(ctx, d, src, "input")) != DOUBT_OK)
        return st;
    d->last_sample_base = sample_base;
    apply_mask(&d->desc, &d->window, &d->dst.md, src->data, d->dst.data, sample_base);
    return DOUBT_OK;
}

doubt_status doubt_dropout_backward(doubt_ctx *ctx, doubt_dropout *d, const doubt_tensor *diff_dst)
{
    doubt_status st;
    if (!d)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "dropout backward: NULL layer");
    if (d->mode != DOUBT_MODE_TRAIN)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "dropout %s: backward needs a training layer",
                          d->name);
    if ((st = check_layout(ctx, d, diff_dst, "gradient")) != DOUBT_OK)
        return st;
    apply_mask(&d->desc, &d->window, &d->dst.md, diff_dst->data, d->diff_src.data,
               d->last_sample_base);
    return DOUBT_OK;
}

void doubt_dropout_destroy(doubt_dropout *d)
{
    if (!d)
        return;
    doubt_tensor_release(&d->dst);
    doubt_tensor_release(&d->diff_src);
    free(d);
}
