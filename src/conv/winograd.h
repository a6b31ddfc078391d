/* Winograd F(2×2, 3×3): a 3×3, stride-1, pad-1 convolution with 16 products per 2×2 output
 * tile and input channel where the direct one takes 36 (Lavin & Gray, CVPR 2016).
 *
 * oneDNN 2.6 has Winograd only for AVX-512; on AVX2 it runs every convolution directly, and
 * MC dropout's samples are almost all 3×3 convolutions already at ~85 % of the FMA peak
 * there, so fewer multiplications is what is left. conv.h runs inference's 3×3 layers and
 * training's forward and backward-data passes through it (backward-data is the same
 * convolution with the kernel turned by 180° and inputs and outputs swapped), and the weight
 * gradient as F(3×3, 2×2) (below, doubt_winograd_weight_gradient). Per tile (output rows 2y,
 * 2y+1, columns 2x, 2x+1) and channel:
 *
 *   V = Bᵀ d B   (d: the 4×4 input patch, zero outside the image)
 *   U = G g Gᵀ   (g: the 3×3 kernel, once per weights)
 *   Y = Aᵀ [Σ_c U_c ⊙ V_c] A
 *
 * The sum over input channels is 16 matrix products, [tiles × C_in]·[C_in × C_out], one per
 * position of the 4×4 transformed tile, done here in units of about L2's size (a piece of a
 * tile row, or several short rows) so the transformed inputs stay in the cache. Bias, an optional sum into dst (a convolution
 * split over its inputs) and the ReLU are applied in the output transform.
 *
 * Tensors are nChw8c (what oneDNN picks on AVX2), channels padded to 8 (the padding must be
 * 0, as oneDNN keeps it; it is written as 0); the CPU needs AVX2 and FMA. doubt_winograd_supported says
 * whether a convolution qualifies; conv.h falls back to oneDNN's direct one otherwise.
 * Results differ from the direct convolution by rounding only (≈ 1e-6 relative; tested
 * against it and against a double-precision sum).
 *
 *   doubt_winograd *w;
 *   doubt_winograd_create(ctx, &desc, &src_md, &dst_md, &w);
 *   doubt_winograd_set_weights(w, oihw, bias);  // each time the weights change
 *   doubt_winograd_forward(w, src, dst);
 */
#ifndef DOUBT_CONV_WINOGRAD_H
#define DOUBT_CONV_WINOGRAD_H

#include "layer.h"

typedef struct {
    const char *name;
    int in_channels, out_channels;
    int relu;       /* max(0, ·) on the output */
    int accumulate; /* dst += conv(src) + bias instead of dst = ... */
    int weight_gradient; /* also doubt_winograd_weight_gradient (its scratch memory) */
} doubt_winograd_desc;

typedef struct doubt_winograd doubt_winograd;

/* Whether a convolution from src_md to dst_md (both nChw8c, f32) can run here: the layouts,
 * at least 16 input channels (below that the transforms cost more than they save), and the
 * CPU's AVX2 + FMA. */
int doubt_winograd_supported(const dnnl_memory_desc_t *src_md, const dnnl_memory_desc_t *dst_md);

doubt_status doubt_winograd_create(doubt_ctx *ctx, const doubt_winograd_desc *desc,
                                   const dnnl_memory_desc_t *src_md,
                                   const dnnl_memory_desc_t *dst_md, doubt_winograd **out);
/* weights: plain [out, in, 3, 3]; bias: [out] or NULL for none. Transforms them. */
void doubt_winograd_set_weights(doubt_winograd *w, const float *weights, const float *bias);
/* For the backward-data pass of a convolution: diff_src = conv(diff_dst, W turned by 180°,
 * inputs and outputs swapped). w was made with in_channels = that convolution's outputs and
 * out_channels = its inputs; weights are its forward ones, plain [out, in, 3, 3]. */
void doubt_winograd_set_backward_weights(doubt_winograd *w, const float *weights);
/* src, dst: the physical buffers of the mds given to create. Fails only before weights. */
doubt_status doubt_winograd_forward(doubt_ctx *ctx, doubt_winograd *w, const float *src,
                                    float *dst);
/* The weights' gradient of the forward convolution from its input src and the gradient of
 * its output diff_dst (the mds given to create), as F(3×3, 2×2): plain [out, in, 3, 3],
 * overwritten. Needs desc.weight_gradient. */
doubt_status doubt_winograd_weight_gradient(doubt_ctx *ctx, doubt_winograd *w, const float *src,
                                            const float *diff_dst, float *diff_weight);
void doubt_winograd_destroy(doubt_winograd *w);

#endif
