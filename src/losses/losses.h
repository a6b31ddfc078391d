/* Losses: each one call that returns the value and its gradient with respect to every input.
 *
 *   // segmentation + depth, the depth task's learned precision on its data term only
 *   const doubt_task_kind kinds[2] = {DOUBT_TASK_CLASSIFICATION, DOUBT_TASK_HETERO_GAUSSIAN};
 *   doubt_rng_key key = {.seed = run_seed, .stream = step, .layer = DOUBT_LOSSES_RNG_LAYER};
 *   float seg;
 *   doubt_losses_attenuated_ce(n, classes, h, w, 10, logits, seg_log_var, labels, key,
 *                              &seg, grad_logits, grad_seg_log_var, &err);
 *   doubt_reg_loss depth;
 *   doubt_losses_regression(DOUBT_REG_GAUSSIAN, n * h * w, depth_pred, depth_log_var, depth_gt,
 *                           NULL, doubt_losses_task_weight(kinds[1], task_log_var[1]), &depth,
 *                           grad_depth, grad_depth_log_var, &err);
 *   const float data[2] = {seg, depth.data}, log_term[2] = {0, depth.log_term};
 *   float total, scale[2], grad_task_log_var[2];
 *   doubt_losses_multitask(2, kinds, data, log_term, task_log_var, &total, scale,
 *                          grad_task_log_var, &err);
 *   // now multiply the segmentation gradients by scale[0]; the depth ones already carry scale[1]
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
 * not 255 (the message names pixel n, h, w and the value), a negative class weight, a
 * data_weight that is negative or not finite, a negative multitask data term;
 * DOUBT_ERR_NOMEM when a scratch buffer cannot be had; DOUBT_ERR_NUMERIC when the loss
 * comes out NaN or Inf (NaN or Inf in the inputs) — the gradients are then written anyway.
 * Finite inputs with |logits| <= 1e4, s and s_k in [-30, 30] always give finite results.
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

/* Per-pixel regression losses; r = ŷ - y (prediction minus target), s = log-variance. Each
 * is a non-negative data term d plus a log term ρ that does not involve r:
 *                          d                    ρ
 *     L1                   |r|                  0
 *     L2                   r²                   0      (so the mean of d is the MSE)
 *     GAUSSIAN             ½·exp(-s)·r²         ½·s    (s = log σ²; Gaussian NLL - ½·log 2π)
 *     LAPLACE              exp(-s)·|r|          s      (s = log b;  Laplace NLL - log 2) */
typedef enum { DOUBT_REG_L1, DOUBT_REG_L2, DOUBT_REG_GAUSSIAN, DOUBT_REG_LAPLACE } doubt_reg_kind;

/* The two parts of a regression loss, each the mean over the valid pixels, and the weighted
 * sum whose gradients are returned. data >= 0 always; log_term can have either sign. The task's
 * unweighted loss (its NLL for GAUSSIAN and LAPLACE) is data + log_term. */
typedef struct {
    float data;     /* D = mean(d) */
    float log_term; /* R = mean(ρ) */
    float value;    /* data_weight·D + R */
} doubt_reg_loss;

/* Regression over `count` elements (any shape; pred, log_var, target and mask alike).
 * A pixel is valid where mask[i] != 0, or, with mask NULL, where target[i] != 0 (KITTI: depth
 * 0 = no measurement). log_var and grad_log_var are used by GAUSSIAN and LAPLACE only (they
 * may be NULL for L1 and L2). At r = 0 the L1/Laplace gradient to ŷ is taken as 0.
 *
 * data_weight (finite, >= 0; DOUBT_ERR_ARG otherwise) multiplies the data term only: the
 * gradients are those of loss->value = data_weight·D + R. Pass 1 for the plain loss, or a
 * task's doubt_losses_task_weight to weight the data term by a learned task precision (see
 * doubt_losses_multitask); each of D, R and value is summed in double and rounded once. */
doubt_status doubt_losses_regression(doubt_reg_kind kind, int64_t count, const float *pred,
                                     const float *log_var, const float *target, const uint8_t *mask,
                                     double data_weight, doubt_reg_loss *loss, float *grad_pred,
                                     float *grad_log_var, doubt_error *err);

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
 * s_k = log σ_k². Only the non-negative data term D_k of a task is weighted, by the task
 * precision w_k(s_k); the task's own log term R_k (½·mean(s) or mean(s) of a heteroscedastic
 * regression, 0 otherwise) is added unweighted:
 *     total = Σ_k  w_k(s_k)·D_k + R_k + ½·s_k
 * with, by task kind,
 *     REGRESSION        w = ½·exp(-s_k)    D = mean |r| or mean r² (plain L1/L2), R = 0
 *     CLASSIFICATION    w =   exp(-s_k)    D = the cross-entropy or attenuated loss (>= 0), R = 0
 *     HETERO_GAUSSIAN   w =   exp(-s_k)    D = mean ½·exp(-s)·r²,  R = ½·mean(s)
 *     HETERO_LAPLACE    w = exp(-s_k / 2)  D = mean exp(-s)·|r|,   R = mean(s)
 * A heteroscedastic task stays a proper likelihood: Gaussian with variance σ_k²·σ² per pixel
 * (½·exp(-s_k)·mean(exp(-s)·r²) + ½·mean(s) + ½·s_k), Laplace with scale b_k·b, b_k = σ_k =
 * exp(s_k / 2) (exp(-s_k/2)·mean(exp(-s)·|r|) + mean(s) + ½·s_k). Because D_k >= 0 the total
 * is bounded below in s_k (its minimum over s_k is at w_k(s_k)·D_k = ½ for the exp(-s_k)
 * kinds, = 1 for Laplace), however negative the NLL D_k + R_k is; weighting the whole NLL
 * instead sends s_k to -∞ as soon as the NLL is negative.
 *
 * Inputs per task: kinds, data (D_k >= 0; DOUBT_ERR_ARG if negative), log_term (R_k; NULL =
 * all 0) and log_var (s_k). Outputs: total; scale[k] = w_k(s_k) = ∂total/∂D_k (pass it as
 * the data_weight of the task's regression loss, or multiply a classification task's
 * gradients by it; ∂total/∂R_k = 1); grad_log_var[k] = ∂total/∂s_k = w_k'(s_k)·D_k + ½.
 * scale and grad_log_var may be NULL. */
typedef enum {
    DOUBT_TASK_REGRESSION,
    DOUBT_TASK_CLASSIFICATION,
    DOUBT_TASK_HETERO_GAUSSIAN,
    DOUBT_TASK_HETERO_LAPLACE
} doubt_task_kind;

doubt_status doubt_losses_multitask(int tasks, const doubt_task_kind *kinds, const float *data,
                                    const float *log_term, const float *log_var, float *total,
                                    float *scale, float *grad_log_var, doubt_error *err);

/* w_k(s_k) of the table above, in double (so exp(-s_k) does not overflow a float first):
 * known before the task's loss is computed, so it can go in as the regression's data_weight.
 * NaN for an unknown kind. */
double doubt_losses_task_weight(doubt_task_kind kind, float log_var);

/* The regression loss kind's task kind: L1, L2 -> REGRESSION, GAUSSIAN -> HETERO_GAUSSIAN,
 * LAPLACE -> HETERO_LAPLACE. */
doubt_task_kind doubt_losses_task_of(doubt_reg_kind kind);

/* Fixed weights, for comparison runs: total = Σ_k weight[k]·L_k, scale[k] = weight[k], where
 * L_k is the task's WHOLE loss (data + log term: the NLL of a heteroscedastic task). A fixed
 * positive factor on a whole NLL keeps its minimiser and is bounded below as the NLL is; on
 * the data term alone it would act as a fixed task variance 1/weight that the per-pixel s
 * absorbs, so the weight would no longer balance the tasks. */
doubt_status doubt_losses_multitask_fixed(int tasks, const float *weight, const float *task_loss,
                                          float *total, float *scale, doubt_error *err);

#endif
