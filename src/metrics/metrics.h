/* Segmentation and depth metrics, accumulated image by image and finalised once, so a dataset
 * never has to fit in memory as float maps.
 *
 *     doubt_seg_metrics *sm;
 *     st = doubt_seg_metrics_create(8, &sm, &err);
 *     for each image:
 *         st = doubt_seg_metrics_add(sm, label, NULL, prob, h, w, &err);  // pred = argmax prob
 *     doubt_seg_result r;
 *     doubt_seg_metrics_result(sm, &r);                                 // r.miou, r.ece, ...
 *     doubt_seg_metrics_destroy(sm);
 *
 * Layouts: maps are row-major [H,W]; class probabilities are planar [C,H,W] (class c of pixel
 * i at prob[c*H*W + i]), the layout MC inference writes. Labels are uint8 class ids with 255 =
 * ignore; depth ground truth y > 0 (and finite) is valid, anything else is ignored.
 *
 * Sums are kept in double and taken in pixel order, so results do not depend on threads or
 * on how the dataset is split into images: two images added one after the other give the same
 * figures as one image holding both.
 *
 * A figure with nothing to average (no valid pixels, no variance given) is NaN, which a JSON
 * report writes as null.
 */
#ifndef DOUBT_METRICS_METRICS_H
#define DOUBT_METRICS_METRICS_H

#include <stdint.h>

#include "core/status.h"

#define DOUBT_SEG_MAX_CLASSES 255 /* ids 0..254; 255 is the ignore label */
#define DOUBT_ECE_BINS 15
#define DOUBT_PROB_FLOOR 1e-12 /* p̄[y] is clamped here before the log of the NLL */

/* ---- segmentation ---------------------------------------------------------------------- */

typedef struct doubt_seg_metrics doubt_seg_metrics;

typedef struct {
    int classes;
    int64_t pixels;      /* valid (label != 255) pixels seen */
    int64_t prob_pixels; /* of those, pixels that came with probabilities */
    double pixel_acc;
    /* IoU of class c = TP / (TP + FP + FN); NaN when the class is in neither the ground truth
     * nor the prediction (union 0). mean IoU averages the classes with a non-empty union. */
    double iou[DOUBT_SEG_MAX_CLASSES];
    double miou;
    int classes_present; /* classes counted in miou */
    /* Probability-based figures (NaN when no probabilities were given):
     * nll   = mean -log max(p[y], 1e-12)
     * brier = mean Σ_c (p_c - 1[c = y])²  (summed over classes, averaged over pixels)
     * ece   = Σ_b (n_b / N) |acc_b - conf_b| with confidence = max_c p_c, correct = argmax p = y,
     *         over 15 equal-width bins [b/15, (b+1)/15), the last one closed at 1. */
    double nll, brier, ece;
    /* The reliability diagram: per bin, mean confidence, accuracy (NaN in empty bins), count. */
    double bin_conf[DOUBT_ECE_BINS];
    double bin_acc[DOUBT_ECE_BINS];
    int64_t bin_count[DOUBT_ECE_BINS];
} doubt_seg_result;

doubt_status doubt_seg_metrics_create(int classes, doubt_seg_metrics **out, doubt_error *err);
void doubt_seg_metrics_destroy(doubt_seg_metrics *m);

/* Adds one image. label [H,W]; pred [H,W] class ids or NULL (then argmax of prob, the first
 * maximum on ties); prob [C,H,W] or NULL (then only the confusion-matrix figures). With both
 * given, the confusion matrix uses pred and ECE's "correct" uses argmax prob. A label or pred
 * id >= classes (other than label 255) or a non-finite probability is an error naming the
 * pixel; the image is then not counted. */
doubt_status doubt_seg_metrics_add(doubt_seg_metrics *m, const uint8_t *label, const uint8_t *pred,
                                   const float *prob, int height, int width, doubt_error *err);

/* The ECE bin of a confidence: floor(15 conf), clamped to 0..14 (so 1.0 lands in the last). */
int doubt_ece_bin(double confidence);

/* The confusion matrix, [true class][predicted class], classes × classes, row-major. */
const int64_t *doubt_seg_metrics_confusion(const doubt_seg_metrics *m);

/* Finalises the figures seen so far (the accumulator stays usable). */
void doubt_seg_metrics_result(const doubt_seg_metrics *m, doubt_seg_result *out);

/* ---- depth ------------------------------------------------------------------------------ */

#define DOUBT_DEPTH_LOG_FLOOR 1e-3 /* μ is clamped to at least this for logs and ratios */
#define DOUBT_VAR_FLOOR 1e-12      /* σ² is clamped to at least this in the Gaussian NLL */

typedef struct doubt_depth_metrics doubt_depth_metrics;

typedef struct {
    int64_t pixels;     /* valid pixels (y > 0 and finite) */
    int64_t var_pixels; /* of those, pixels that came with a variance */
    double abs_rel;     /* mean |μ - y| / y */
    double sq_rel;      /* mean (μ - y)² / y */
    double rmse;        /* sqrt mean (μ - y)² */
    double rmse_log;    /* sqrt mean (log μ' - log y)², μ' = max(μ, 1e-3) */
    double log10;       /* mean |log10 μ' - log10 y| */
    double delta[3];    /* fraction with max(μ'/y, y/μ') < 1.25, 1.25², 1.25³ */
    /* With a variance σ² (total, or any one kind) per pixel, NaN otherwise:
     * nll = mean ½ log(2π σ²) + (y - μ)² / (2σ²); within[k] = fraction with |y - μ| <= z σ,
     * z = 1, 2, 3, to be read beside doubt_depth_within_ideal. */
    double nll;
    double within[3];
} doubt_depth_result;

/* The fractions a Gaussian puts within 1, 2 and 3 σ: 0.6827, 0.9545, 0.9973. */
extern const double doubt_depth_within_ideal[3];

doubt_status doubt_depth_metrics_create(doubt_depth_metrics **out, doubt_error *err);
void doubt_depth_metrics_destroy(doubt_depth_metrics *m);

/* Adds one image: pred μ [H,W], gt y [H,W], var σ² [H,W] or NULL. A non-finite μ or σ² (or a
 * negative σ²) at a valid pixel is an error naming the pixel; the image is then not counted. */
doubt_status doubt_depth_metrics_add(doubt_depth_metrics *m, const float *pred, const float *gt,
                                     const float *var, int height, int width, doubt_error *err);

void doubt_depth_metrics_result(const doubt_depth_metrics *m, doubt_depth_result *out);

#endif
