/* Losses: each one call that returns the value and its gradient with respect to every input.
 *
 *   float loss;
 *   doubt_losses_regression(DOUBT_REG_GAUSSIAN, n * h * w, depth, depth_log_var, depth_gt,
 *                           NULL, &loss, grad_depth, grad_depth_log_var, &err);
 *   doubt_rng_key key = {.seed = run_seed, .stream = step, .layer = DOUBT_LOSSES_RNG_LAYER};
 *   doubt_losses_attenuated_ce(n, classes, h, w, 10, logits, seg_log_var, labels, key,
 *                              &loss, grad_logits, grad_seg_log_var, &err);
 *
 * Layout: plain contiguous float arrays; logits are NCHW [N,C,H,W], a per-pixel log-variance
 * s = log σ² is [N,1,H,W], labels are uint8 [N,H,W] with DOUBT_LABEL_IGNORE (255) = ignore,
 * so at most 255 classes.
 *
 * Reduction: every pixel loss is the MEAN OVER VALID PIXELS (weighted mean for class
 * weights). With no valid pixel the loss is 0 and every gradient is 0 (no division by zero).
 * Gradients are of that mean, they are overwritten (not accumulated), invalid pixels get 0,
 * and any gradient pointer may be NULL to skip it. Per-pixel arithmetic is in double, results
 * are rounded to float once.
 *
 * Determinism: the work is cut into at most DOUBT_LOSSES_CHUNKS pieces that depend only on the
 * shape, each summed in order, and the partial sums are added in chunk order, so the value and
 * the gradients are bit-identical for any OpenMP thread count.
 *
 * Errors: DOUBT_ERR_ARG for a NULL input, a zero size, an unknown kind, a label >= C that is
 * not 255 (the message names pixel n, h, w and the value), a negative class weight;
 * DOUBT_ERR_NOMEM when a scratch buffer cannot be had; DOUBT_ERR_NUMERIC when the loss
 * comes out NaN or Inf (NaN or Inf in the inputs) — the gradients are then written anyway.
 * Finite inputs with |logits| <= 1e4 and s in [-30, 30] always give finite results.
 */
#ifndef DOUBT_LOSSES_LOSSES_H
#define DOUBT_LOSSES_LOSSES_H

#include <stdint.h>

#include "core/rng.h"
#include "core/status.h"

#define DOUBT_LABEL_IGNORE 255
#define DOUBT_LOSSES_CHUNKS 64
/* Suggested doubt_rng_key.layer for the attenuated loss's noise ("ATTN"), distinct from the
 * layer numbers dropout uses. */
#define DOUBT_LOSSES_RNG_LAYER 0x4154544Eu

/* Per-pixel regression losses; r = ŷ - y (prediction minus target), s = log-variance. */
typedef enum {
    DOUBT_REG_L1,       /* |r| */
    DOUBT_REG_L2,       /* r² (so the mean is the MSE) */
    DOUBT_REG_GAUSSIAN, /* ½·exp(-s)·r² + ½·s      (s = log σ²) */
    DOUBT_REG_LAPLACE   /* exp(-s)·|r| + s         (s = log b) */
} doubt_reg_kind;

/* Regression over `count` elements (any shape; pred, log_var, target and mask alike).
 * A pixel is valid where mask[i] != 0, or, with mask NULL, where target[i] != 0 (KITTI: depth
 * 0 = no measurement). log_var and grad_log_var are used by GAUSSIAN and LAPLACE only (they
 * may be NULL for L1 and L2). At r = 0 the L1/Laplace gradient to ŷ is taken as 0. */
doubt_status doubt_losses_regression(doubt_reg_kind kind, int64_t count, const float *pred,
                                     const float *log_var, const float *target, const uint8_t *mask,
                                     float *loss, float *grad_pred, float *grad_log_var,
                                     doubt_error *err);

/* Softmax cross-entropy, -log softmax(f)[label], over logits [N,C,H,W] and labels [N,H,W].
 * class_weights (C values >= 0, NULL = all 1) weight each pixel by its label's weight, and the
 * sum is divided by the total weight of the valid pixels, as PyTorch's
 * cross_entropy(weight=..., ignore_index=255, reduction='mean'); a zero total gives 0. */
doubt_status doubt_losses_cross_entropy(int64_t n, int64_t c, int64_t h, int64_t w,
                                        const float *logits, const uint8_t *labels,
                                        const float *class_weights, float *loss, float *grad_logits,
                                        doubt_error *err);

/* Attenuated classification (Kendall & Gal 2017, eq. 12). Per valid pixel with label y,
 * logits f [N,C,H,W] and log-variance s [N,1,H,W], σ = exp(s/2):
 *     x̂_t = f + σ·ε_t  (t = 0..samples-1, ε_t ~ N(0, I) over the C classes)
 *     loss = -log( (1/T) Σ_t softmax(x̂_t)[y] ) = log T - LSE_t( x̂_t[y] - LSE_k x̂_t[k] )
 * evaluated with log-sum-exp over classes and over samples. Gradients are exact for the drawn
 * ε (reparameterisation, ∂x̂/∂s = ½·σ·ε): with p_t = softmax(x̂_t) and sample weights
 * w_t = softmax_t(log p_t[y]),  ∂/∂f_k = Σ_t w_t·p_t[k] - [k = y],
 * ∂/∂s = ½·σ·Σ_t w_t Σ_k (p_t[k] - [k = y])·ε_t[k]  (each divided by the valid count).
 *
 * The noise: ε for batch row n, sample t, class k, pixel (h, w) is
 *     doubt_rng_normal(key, (((n·T + t)·C + k)·H + h)·W + w)
 * i.e. the index of an [N, T, C, H, W] tensor. The caller chooses key: seed = the run's seed,
 * stream = the training step (new noise every step), layer = DOUBT_LOSSES_RNG_LAYER. A draw
 * depends only on its index, never on the labels, the thread count or the order of work.
 * samples >= 1; T = 1 is allowed (a single noisy sample). */
doubt_status doubt_losses_attenuated_ce(int64_t n, int64_t c, int64_t h, int64_t w, int samples,
                                        const float *logits, const float *log_var,
                                        const uint8_t *labels, doubt_rng_key key, float *loss,
                                        float *grad_logits, float *grad_log_var, doubt_error *err);

/* Multitask weighting (Kendall, Gal & Cipolla 2018) with learned task log-variances
 * s_k = log σ_k²:
 *     regression task       ½·exp(-s_k)·L_k + ½·s_k
 *     classification task     exp(-s_k)·L_k + ½·s_k
 * total = Σ_k of those. scale[k] = ∂total/∂L_k (multiply task k's gradients by it) and
 * grad_log_var[k] = ∂total/∂s_k; either may be NULL. */
typedef enum { DOUBT_TASK_REGRESSION, DOUBT_TASK_CLASSIFICATION } doubt_task_kind;

doubt_status doubt_losses_multitask(int tasks, const doubt_task_kind *kinds, const float *task_loss,
                                    const float *log_var, float *total, float *scale,
                                    float *grad_log_var, doubt_error *err);

/* Fixed weights, for comparison runs: total = Σ_k weight[k]·L_k, scale[k] = weight[k]. */
doubt_status doubt_losses_multitask_fixed(int tasks, const float *weight, const float *task_loss,
                                          float *total, float *scale, doubt_error *err);

#endif
