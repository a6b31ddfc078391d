/* Dataset-level evaluation: MC inference over a labelled dataset folder, every segmentation,
 * depth and uncertainty-quality figure of metrics.h and uq.h, as one JSON object.
 *
 *     doubt_eval_opts o = doubt_eval_defaults();          // T = 20, seed 0
 *     cJSON *report;
 *     st = doubt_eval_run(ctx, weights, "data/val", &o, &report, &err);
 *     char *text = cJSON_Print(report); ... cJSON_Delete(report);
 *
 * The report (NaN and undefined figures are JSON null; a section the dataset has no ground
 * truth for is null as a whole):
 *   images, samples (1 when deterministic; per member for an ensemble; the cap when
 *   adaptive), samples_auto ({max, converge} of adaptive sampling, null for a fixed T),
 *   samples_taken {mean, min, max} (the T the images took: all T for a fixed T),
 *   deterministic, method, seed, classes, sample_pixels
 *   seg:   pixels, pixel_acc, miou, classes_present, iou [per class, null = class absent],
 *          nll, brier, ece, reliability {confidence[15], accuracy[15], count[15]}
 *   depth: pixels, abs_rel, sq_rel, rmse, rmse_log, log10, delta1, delta2, delta3,
 *          nll, nll_epistemic, nll_aleatoric (Gaussian NLL with σ² = total / one kind),
 *          interval {ideal, total, epistemic, aleatoric} each {z1, z2, z3}: the fraction of
 *          pixels with |y - μ| <= z σ
 *   uncertainty: depth means over the pixels with valid depth ground truth, where depth
 *          exists (depth_{epistemic,aleatoric,total}_mean in m², depth_aleatoric_sigma_mean
 *          in m, depth_{epistemic,aleatoric}_rel_mean = mean of variance / y², unitless;
 *          null without depth/), the same four over all pixels of all images, sky included
 *          (*_mean_all_pixels), seg_{entropy,aleatoric,mutual_info,logit_var}_mean over all
 *          pixels (nats / logit units), then per kind k in {"" = total,
 *          "_epistemic", "_aleatoric"}: ause_depth_rmse k, auroc_depth k (wrong = abs-rel >
 *          0.1), ause_seg_error k, auroc_seg k (wrong = argmax != label), pavpu_seg k;
 *          aleatoric_noise_spearman, aleatoric_noise_ratio (of the means) and
 *          aleatoric_noise_median_ratio (median of per-pixel ratios) (predicted σ = sqrt(depth
 *          aleatoric) against the true noise σ of noise/, over valid depth pixels; null
 *          without noise/); seg_logit_var_labelnoise_auroc and
 *          seg_aleatoric_labelnoise_auroc: the AUROC of the mean logit variance and of the
 *          expected entropy for flagging labelled pixels whose labelnoise/ truth is above 0
 *          (null without labelnoise/)
 *   per_image: [{name, samples (the T it took), seg_mutual_info_mean, seg_aleatoric_mean,
 *          depth_epistemic_mean, depth_aleatoric_mean}] in dataset order, the depth ones over
 *          valid ground truth (all pixels without depth/): for image-level figures such as
 *          telling OOD images apart (tools/kendall_gal_table.py).
 * For segmentation "total" is the predictive entropy H[p̄], "aleatoric" the expected entropy
 * and "epistemic" the mutual information; for depth the variances of mc.h.
 *
 * Ranking figures (AUSE, AUROC, Spearman) use a deterministic subsample of at most
 * sample_cap pixels per task (uq.h), keyed by the seed; everything else sees every pixel.
 * The same seed gives the same report on any thread count.
 */
#ifndef DOUBT_PIPELINE_EVAL_H
#define DOUBT_PIPELINE_EVAL_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/isa.h"
#include "model/mc.h"
#include "model/safetensors.h"

typedef struct {
    int samples;        /* MC samples T >= 1; the cap when adaptive */
    int adaptive;       /* stop each image once converged (model/mc.h): one weights file */
    double converge;    /* adaptive: the tolerance (default DOUBT_MC_DEFAULT_CONVERGE) */
    int deterministic;  /* 1: one pass with dropout off (the standard-dropout prediction) */
    doubt_mc_method method; /* samples, or one moment-propagation pass (mc.h) */
    uint64_t seed;      /* dropout and pixel-subsample seed */
    doubt_precision precision; /* mc.h: f32 (the default) is the only path so far */
    int64_t sample_cap; /* pixels kept per task for the ranking figures */
    const char *plots;  /* folder for the PNG plots, or NULL for none */
    /* Called after each image (may be NULL), e.g. for a progress line. */
    void (*progress)(void *user, int done, int total, const char *name);
    void *user;
} doubt_eval_opts;

#define DOUBT_EVAL_DEFAULT_SAMPLES 20
#define DOUBT_EVAL_DEFAULT_CAP 1000000

doubt_eval_opts doubt_eval_defaults(void);

/* Opens the dataset folder `data` and checks what doubt_eval_run needs before it reads any
 * pixel: images, labels/ or depth/, at most `classes` classes. Lets a caller that evaluates
 * later (validation during training) refuse a bad folder at once. */
doubt_status doubt_eval_check_data(const char *data, int classes, doubt_error *err);

/* The figures a training run validates on, from a report of doubt_eval_run; NaN where the
 * report has null (no labels/ or no depth/). sigma_mean is depth_aleatoric_sigma_mean (m). */
typedef struct {
    double miou, pixel_acc, abs_rel, rmse, sigma_mean;
} doubt_eval_headline;

doubt_eval_headline doubt_eval_headline_of(const cJSON *report);

/* Evaluates weights on the dataset folder `data` and returns the report (*report, caller
 * deletes). With plots set, writes there: reliability.png (labels), sparsification_depth.png
 * and uncertainty_error.png (depth: σ_total against |y - μ|), sparsification_seg.png and
 * uncertainty_error_seg.png (labels). Fails, naming the image, on an unreadable sample, a
 * label outside the network's classes or a dataset with neither labels nor depth. */
doubt_status doubt_eval_run(doubt_ctx *ctx, const doubt_safetensors *weights, const char *data,
                            const doubt_eval_opts *opts, cJSON **report, doubt_error *err);
/* The same for a deep ensemble of `count` >= 1 weights files (model/mc.h): the figures of
 * its pooled maps; members whose networks differ but for dropout are refused naming both. */
doubt_status doubt_eval_run_ensemble(doubt_ctx *ctx, const doubt_safetensors *const *members,
                                     int count, const char *data, const doubt_eval_opts *opts,
                                     cJSON **report, doubt_error *err);

#endif
