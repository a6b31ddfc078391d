/* Uncertainty-quality metrics: does a high uncertainty go with a large error?
 *
 * Most of these rank pixels, so they need per-pixel pairs. A dataset of float maps does not fit
 * in memory, so doubt keeps a bounded, deterministic subsample (doubt_pixsample) and ranks that:
 *
 *     doubt_pixsample *s;
 *     st = doubt_pixsample_create(DOUBT_PIXSAMPLE_DEFAULT_CAP, 2, seed, &s, &err);
 *     for each image:
 *         const float *fields[2] = {uncertainty, abs_error};
 *         st = doubt_pixsample_add(s, fields, valid, h * w, &err);
 *     int64_t n = doubt_pixsample_count(s);
 *     doubt_pixsample_export(s, 0, unc); doubt_pixsample_export(s, 1, e);  // n floats each
 *     doubt_sparsification sp;
 *     st = doubt_sparsification_compute(unc, e, n, DOUBT_SPARSE_RMSE, &sp, &err);  // sp.ause
 *     double auc = doubt_auroc(unc, wrong, n);
 *
 * PAvPU works on 4x4 patches, so it keeps its own streaming accumulator over whole images.
 * NaN means "undefined for this input" (no pixels, no positives, constant ranks ...).
 */
#ifndef DOUBT_METRICS_UQ_H
#define DOUBT_METRICS_UQ_H

#include <stdint.h>

#include "core/status.h"

/* ---- bounded deterministic subsample ----------------------------------------------------- */

#define DOUBT_PIXSAMPLE_DEFAULT_CAP 2000000
#define DOUBT_PIXSAMPLE_MAX_FIELDS 8
#define DOUBT_PIXSAMPLE_MAX_CAP ((int64_t)1 << 30)

/* Every candidate pixel gets a priority: the 32 Philox bits of (seed, stream 0, layer
 * "PIXS") at its global position, which counts all pixels offered so far, valid or not. The
 * sample is the `cap` candidates with the smallest (priority, position): a uniform sample
 * without replacement over the whole dataset (bottom-k sampling), whatever the image sizes,
 * so late images are not under-represented. While fewer than `cap` valid pixels were seen,
 * all are kept. The result depends on the seed and on the order pixels arrive in, never on
 * threads; two images added in turn give the same sample as one image holding both.
 * Memory: 1.5 × cap × (12 + 4 × nfields) bytes (72 MB for the default cap and 3 fields);
 * time: O(1) per pixel amortised. */
typedef struct doubt_pixsample doubt_pixsample;

doubt_status doubt_pixsample_create(int64_t cap, int nfields, uint64_t seed, doubt_pixsample **out,
                                    doubt_error *err);
void doubt_pixsample_destroy(doubt_pixsample *s);

/* Offers npix pixels: fields[f][i] is field f of pixel i; valid[i] != 0 marks candidates
 * (valid may be NULL: all are). A non-finite value in a candidate is an error naming the
 * field and pixel; nothing of that call is then kept. */
doubt_status doubt_pixsample_add(doubt_pixsample *s, const float *const *fields,
                                 const uint8_t *valid, int64_t npix, doubt_error *err);

int64_t doubt_pixsample_count(const doubt_pixsample *s); /* pixels held, <= cap */
int64_t doubt_pixsample_seen(const doubt_pixsample *s);  /* valid pixels offered */

/* Writes field f of the held pixels, count values, in the order they arrived (by global
 * position). */
void doubt_pixsample_export(doubt_pixsample *s, int field, float *out);

/* ---- sparsification and AUSE ------------------------------------------------------------ */

#define DOUBT_SPARSE_STEPS 50 /* removed fractions 0, 0.02, ..., 0.98 */

typedef enum {
    DOUBT_SPARSE_MEAN, /* metric = mean(e): error rate with e in {0,1}, abs-rel, ... */
    DOUBT_SPARSE_RMSE  /* metric = sqrt(mean(e²)), e the absolute error */
} doubt_sparse_kind;

/* At step k, the fraction k/50 of the pixels is removed: floor(k n / 50) pixels, the most
 * uncertain first (ties: lower array index first) for the model curve, the largest e first for
 * the oracle. Both curves are divided by the metric on all pixels (the Poggi et al. convention:
 * both start at 1), so AUSE is comparable across metrics and datasets. AUSE is the trapezoid
 * area of (model - oracle) over the fraction axis 0 .. 0.98. When the metric on all pixels is
 * 0 (nothing to remove), curves are 0 and AUSE 0; with n = 0 everything is NaN. */
typedef struct {
    double fraction[DOUBT_SPARSE_STEPS];
    double model[DOUBT_SPARSE_STEPS];  /* normalised */
    double oracle[DOUBT_SPARSE_STEPS]; /* normalised */
    double full;                       /* the metric on all pixels (the normaliser) */
    double ause;
} doubt_sparsification;

doubt_status doubt_sparsification_compute(const float *uncertainty, const float *e, int64_t n,
                                          doubt_sparse_kind kind, doubt_sparsification *out,
                                          doubt_error *err);

/* ---- ranking figures ----------------------------------------------------------------------- */

/* Area under the ROC curve of `score` for detecting positive[i] != 0 (a wrong pixel: seg
 * argmax != label; depth |μ - y| / y > DOUBT_DEPTH_WRONG_ABSREL), by the Mann-Whitney U with
 * average ranks for ties: a constant score gives 0.5. NaN without positives or negatives, or
 * when memory runs out. */
#define DOUBT_DEPTH_WRONG_ABSREL 0.1
double doubt_auroc(const float *score, const uint8_t *positive, int64_t n);

/* Spearman's rank correlation (Pearson of average ranks). NaN for n < 2, a constant array,
 * or no memory. */
double doubt_spearman(const float *a, const float *b, int64_t n);

/* mean(pred) / mean(ref), summed in double; NaN for n = 0 or mean(ref) = 0. */
double doubt_mean_ratio(const float *pred, const float *ref, int64_t n);

/* The median over i with ref[i] > 0 of pred[i] / ref[i] (the mean of the two middle ratios
 * for an even count); NaN when no ref is > 0 or out of memory. */
double doubt_median_ratio(const float *pred, const float *ref, int64_t n);
/* The median of v[0..n) (the mean of the two middle values when n is even); NaN when n is 0
 * or memory runs out. */
double doubt_median(const float *v, int64_t n);

/* ---- PAvPU (Mukhoti & Gal 2018) ----------------------------------------------------------- */

#define DOUBT_PAVPU_PATCH 4
#define DOUBT_PAVPU_ACC 0.5 /* a patch is accurate when its pixel accuracy >= 0.5 */

/* Each image is cut into non-overlapping 4x4 patches from its top-left corner; patches at the
 * right and bottom edges may be smaller when the size is not a multiple of 4. Only valid
 * pixels count: patch accuracy = correct / valid, patch uncertainty = mean over valid pixels;
 * a patch without valid pixels is skipped. A patch is certain when its uncertainty < the
 * threshold. PAvPU = (n_ac + n_iu) / (n_ac + n_au + n_ic + n_iu).
 *
 * The threshold is given at creation; NaN means "the mean uncertainty of all valid pixels of
 * the dataset", known only at the end, so then each patch's (uncertainty, accurate) is kept:
 * 16 bytes per patch, one byte per pixel. */
typedef struct doubt_pavpu doubt_pavpu;

typedef struct {
    int64_t n_ac, n_au, n_ic, n_iu; /* accurate/inaccurate × certain/uncertain */
    double threshold;               /* the one used */
    double pavpu;                   /* NaN without patches */
    double p_accurate_given_certain, p_uncertain_given_inaccurate;
} doubt_pavpu_result;

doubt_status doubt_pavpu_create(double threshold, doubt_pavpu **out, doubt_error *err);
void doubt_pavpu_destroy(doubt_pavpu *p);

/* correct [H,W]: 1 where the prediction is right; valid [H,W] or NULL (all valid);
 * uncertainty [H,W]. A non-finite uncertainty at a valid pixel is an error. */
doubt_status doubt_pavpu_add(doubt_pavpu *p, const uint8_t *correct, const uint8_t *valid,
                             const float *uncertainty, int height, int width, doubt_error *err);

void doubt_pavpu_summary(const doubt_pavpu *p, doubt_pavpu_result *out);

#endif
