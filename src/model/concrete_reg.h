/* The regulariser of Concrete dropout (Gal, Hron & Kendall 2017), per dropout site s with
 * learned rate p_s and K_s channels:
 *   λ_w·‖W_s‖²/(1 − p_s) + λ_d·K_s·(p_s log p_s + (1 − p_s) log(1 − p_s))
 * where W_s are the input-channel slices of the convolutions the site's tensor reaches
 * (graph.h, doubt_graph_site_slices). It replaces plain weight decay on those convolutions:
 * their other input channels keep λ_w·‖W‖², so at p = 0 the whole term is the decay the
 * optimizer would apply (which it then leaves out for them: doubt_concrete_reg_decays).
 *
 * λ_w = weight_decay / 2 (the optimizer's decay adds weight_decay·W to the gradient, the
 * gradient of λ_w‖W‖²: the prior length scale is l² = λ_w·N) and λ_d = 2/N, where N is the
 * number of training images: the losses are means over the pixels of a batch, so one image,
 * not one pixel, is the datum whose log-likelihood the regulariser is weighed against.
 */
#ifndef DOUBT_MODEL_CONCRETE_REG_H
#define DOUBT_MODEL_CONCRETE_REG_H

#include "model/net.h"

typedef struct doubt_concrete_reg doubt_concrete_reg;

/* NULL in *out (and DOUBT_OK) when net has no Concrete dropout layers. */
doubt_status doubt_concrete_reg_create(doubt_ctx *ctx, doubt_net *net, double weight_decay,
                                       double n_images, doubt_concrete_reg **out);
void doubt_concrete_reg_destroy(doubt_concrete_reg *reg);

/* 0 when the regulariser replaces the optimizer's weight decay for this parameter. */
int doubt_concrete_reg_decays(const doubt_concrete_reg *reg, const char *param);

/* Adds the regulariser's gradients to the convolutions' and the rates' (after backward) and
 * gives its value. */
doubt_status doubt_concrete_reg_apply(doubt_ctx *ctx, doubt_concrete_reg *reg, double *value);

#endif
