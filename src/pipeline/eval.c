/* doubt_eval_run: one pass over the dataset, every accumulator fed image by image, so only
 * one image's maps and the bounded pixel subsamples are ever in memory. */
#include "eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "io/fsutil.h"
#include "io/json.h"
#include "metrics/metrics.h"
#include "metrics/uq.h"
#include "model/mc.h"
#include "viz/plot.h"

/* Uncertainty kinds in report order; index 0 is the unsuffixed (total) figure. */
enum { K_TOTAL, K_EPI, K_ALE, NKINDS };
static const char *const kind_suffix[NKINDS] = {"", "_epistemic", "_aleatoric"};
static const char *const kind_name[NKINDS] = {"total", "epistemic", "aleatoric"};

/* Fields of the depth subsample: three variances, |y - μ|, wrong (abs-rel > 0.1) as 0/1. */
enum { DF_TOTAL, DF_EPI, DF_ALE, DF_ERR, DF_WRONG, DF_N };
/* Fields of the segmentation subsample: entropy, expected entropy, MI, wrong as 0/1. */
enum { SF_TOTAL, SF_EPI, SF_ALE, SF_WRONG, SF_N };
/* Fields of the label-noise subsample: logit variance, expected entropy, noisy as 0/1. */
enum { LF_LVAR, LF_ALE, LF_NOISY, LF_N };

/* Means over every pixel of every image (the depth ones over the pixels whose depth the
 * prediction defines: not those predicted as a no-depth class). */
enum {
    M_DEPTH_EPI,
    M_DEPTH_ALE,
    M_DEPTH_TOTAL,
    M_DEPTH_SIGMA,
    M_ENT,
    M_EXP_ENT,
    M_MI,
    M_LVAR,
    NMEANS
};
/* Depth means over the pixels with valid ground truth, in m² (m for σ) and relative to y². */
enum { V_EPI, V_ALE, V_TOTAL, V_SIGMA, V_EPI_REL, V_ALE_REL, NVALID };

typedef struct {
    int labels, depth, noise, labelnoise;
    uint8_t no_depth[256]; /* by class: 1 = predict leaves depth undefined where it is predicted */
    doubt_seg_metrics *seg;
    doubt_seg_metrics *seg_clean; /* over the pixels whose label the truth says is right */
    doubt_depth_metrics *dm[NKINDS];
    doubt_pavpu *pavpu[NKINDS];
    doubt_pixsample *ds, *ss, *ns, *ls;
    double sum[NMEANS], valid_sum[NVALID];
    int64_t pixels, defined_pixels, valid_pixels;
    int64_t undefined_valid_pixels; /* valid ground truth, but predicted as a no-depth class */
    cJSON *per_image; /* one object per image, in dataset order */
    int64_t samples_sum; /* the T the images took */
    int samples_min, samples_max;
    /* per-image scratch, grown to the largest image */
    size_t cap;
    float *f_err, *f_wrong, *f_sigma, *s_wrong;
    float *d_scored; /* ground truth where the prediction defines depth too, else 0 (invalid) */
    uint8_t *d_valid, *s_valid, *s_correct, *n_valid;
    uint8_t *clean_labels; /* the labels with every possibly noisy one set to ignore */
} eval_acc;

doubt_eval_opts doubt_eval_defaults(void)
{
    return (doubt_eval_opts){
        .samples = DOUBT_EVAL_DEFAULT_SAMPLES, .converge = DOUBT_MC_DEFAULT_CONVERGE, .seed = 0,
        .sample_cap = DOUBT_EVAL_DEFAULT_CAP};
}

static void acc_free(eval_acc *a)
{
    doubt_seg_metrics_destroy(a->seg);
    doubt_seg_metrics_destroy(a->seg_clean);
    for (int k = 0; k < NKINDS; k++) {
        doubt_depth_metrics_destroy(a->dm[k]);
        doubt_pavpu_destroy(a->pavpu[k]);
    }
    doubt_pixsample_destroy(a->ds);
    doubt_pixsample_destroy(a->ss);
    doubt_pixsample_destroy(a->ns);
    doubt_pixsample_destroy(a->ls);
    cJSON_Delete(a->per_image);
    free(a->f_err);
    free(a->f_wrong);
    free(a->f_sigma);
    free(a->s_wrong);
    free(a->d_scored);
    free(a->d_valid);
    free(a->s_valid);
    free(a->s_correct);
    free(a->n_valid);
    free(a->clean_labels);
}

static doubt_status grow(eval_acc *a, size_t n, doubt_error *err)
{
    if (n <= a->cap)
        return DOUBT_OK;
    float **fl[] = {&a->f_err, &a->f_wrong, &a->f_sigma, &a->s_wrong, &a->d_scored};
    uint8_t **by[] = {&a->d_valid, &a->s_valid, &a->s_correct, &a->n_valid, &a->clean_labels};
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) {
        float *p = realloc(*fl[i], n * sizeof(float));
        if (!p)
            return doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory for %zu pixels", n);
        *fl[i] = p;
    }
    for (size_t i = 0; i < sizeof by / sizeof by[0]; i++) {
        uint8_t *p = realloc(*by[i], n);
        if (!p)
            return doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory for %zu pixels", n);
        *by[i] = p;
    }
    a->cap = n;
    return DOUBT_OK;
}

static doubt_status acc_init(eval_acc *a, const doubt_dataset *ds, int classes,
                             const doubt_eval_opts *o, doubt_error *err)
{
    doubt_status st = DOUBT_OK;
    a->labels = doubt_dataset_has_labels(ds);
    a->depth = doubt_dataset_has_depth(ds);
    a->noise = a->depth && doubt_dataset_has_noise(ds);
    a->labelnoise = a->labels && doubt_dataset_has_labelnoise(ds);
    if (!(a->per_image = cJSON_CreateArray()))
        return doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory for the report");
    if (a->labelnoise &&
        ((st = doubt_pixsample_create(o->sample_cap, LF_N, o->seed ^ 0x6c6e6f697365ULL, &a->ls,
                                      err)) ||
         (st = doubt_seg_metrics_create(classes, &a->seg_clean, err))))
        return st;
    if (a->labels) {
        if ((st = doubt_seg_metrics_create(classes, &a->seg, err)) ||
            (st = doubt_pixsample_create(o->sample_cap, SF_N, o->seed, &a->ss, err)))
            return st;
        /* NaN threshold: the dataset's mean uncertainty of each kind (Mukhoti & Gal). */
        for (int k = 0; k < NKINDS; k++)
            if ((st = doubt_pavpu_create(NAN, &a->pavpu[k], err)))
                return st;
    }
    if (a->depth) {
        for (int k = 0; k < NKINDS; k++)
            if ((st = doubt_depth_metrics_create(&a->dm[k], err)))
                return st;
        if ((st = doubt_pixsample_create(o->sample_cap, DF_N, o->seed, &a->ds, err)))
            return st;
    }
    if (a->noise)
        st = doubt_pixsample_create(o->sample_cap, 2, o->seed ^ 0x6e6f697365ULL, &a->ns, err);
    return st;
}

/* The image's own means, for image-level figures (telling OOD images apart), from what
 * acc_add summed for it (the sums minus their values before the image): MI and expected
 * entropy over all pixels, depth variances over valid ground truth (all pixels without). */
static doubt_status add_image_means(eval_acc *a, const char *name, int samples, int64_t hw,
                                    const double sum_before[NMEANS],
                                    const double valid_before[NVALID], int64_t valid_pixels_before,
                                    int64_t defined_before, doubt_error *err)
{
    const int64_t nd = a->valid_pixels - valid_pixels_before;
    const double epi = a->depth ? a->valid_sum[V_EPI] - valid_before[V_EPI]
                                : a->sum[M_DEPTH_EPI] - sum_before[M_DEPTH_EPI];
    const double ale = a->depth ? a->valid_sum[V_ALE] - valid_before[V_ALE]
                                : a->sum[M_DEPTH_ALE] - sum_before[M_DEPTH_ALE];
    const int64_t n_depth = a->depth ? nd : a->defined_pixels - defined_before;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(a->per_image, o)) {
        cJSON_Delete(o);
        return doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory for the report");
    }
    cJSON_AddStringToObject(o, "name", name);
    doubt_json_add_number(o, "samples", samples);
    doubt_json_add_number(o, "seg_mutual_info_mean",
                          hw ? (a->sum[M_MI] - sum_before[M_MI]) / (double)hw : NAN);
    doubt_json_add_number(o, "seg_aleatoric_mean",
        hw ? (a->sum[M_EXP_ENT] - sum_before[M_EXP_ENT]) / (double)hw : NAN);
    doubt_json_add_number(o, "depth_epistemic_mean", n_depth ? epi / (double)n_depth : NAN);
    doubt_json_add_number(o, "depth_aleatoric_mean", n_depth ? ale / (double)n_depth : NAN);
    return DOUBT_OK;
}

static doubt_status acc_add(eval_acc *a, const char *name, const doubt_sample *s,
                            const doubt_mc_maps *m, doubt_error *err)
{
    const int64_t hw = (int64_t)s->width * s->height;
    doubt_status st = grow(a, (size_t)hw, err);
    if (st)
        return st;
    double sum_before[NMEANS], valid_before[NVALID];
    memcpy(sum_before, a->sum, sizeof sum_before);
    memcpy(valid_before, a->valid_sum, sizeof valid_before);
    const int64_t valid_pixels_before = a->valid_pixels, defined_before = a->defined_pixels;
    for (int64_t i = 0; i < hw; i++) {
        if (!a->no_depth[m->seg_class[i]]) {
            a->sum[M_DEPTH_EPI] += m->depth_epistemic[i];
            a->sum[M_DEPTH_ALE] += m->depth_aleatoric[i];
            a->sum[M_DEPTH_TOTAL] += m->depth_total[i];
            a->sum[M_DEPTH_SIGMA] += sqrt(m->depth_aleatoric[i]);
            a->defined_pixels++;
        }
        a->sum[M_ENT] += m->seg_entropy[i];
        a->sum[M_EXP_ENT] += m->seg_aleatoric[i];
        a->sum[M_MI] += m->seg_mutual_info[i];
        a->sum[M_LVAR] += m->seg_logit_var[i];
    }
    a->pixels += hw;
    const int first = a->samples_sum == 0;
    a->samples_min = first || m->samples < a->samples_min ? m->samples : a->samples_min;
    a->samples_max = first || m->samples > a->samples_max ? m->samples : a->samples_max;
    a->samples_sum += m->samples;

    if (a->labels) {
        for (int64_t i = 0; i < hw; i++) {
            a->s_valid[i] = s->labels[i] != 255;
            a->s_correct[i] = m->seg_class[i] == s->labels[i];
            a->s_wrong[i] = a->s_valid[i] && !a->s_correct[i];
        }
        if ((st = doubt_seg_metrics_add(a->seg, s->labels, m->seg_class, m->seg_prob, s->height,
                                        s->width, err)))
            return st;
        const float *u[NKINDS] = {m->seg_entropy, m->seg_mutual_info, m->seg_aleatoric};
        for (int k = 0; k < NKINDS; k++)
            if ((st = doubt_pavpu_add(a->pavpu[k], a->s_correct, a->s_valid, u[k], s->height,
                                      s->width, err)))
                return st;
        const float *fields[SF_N] = {m->seg_entropy, m->seg_mutual_info, m->seg_aleatoric,
                                     a->s_wrong};
        if ((st = doubt_pixsample_add(a->ss, fields, a->s_valid, hw, err)))
            return st;
    }
    if (a->labelnoise) {
        /* f_wrong is free until the depth part below refills it */
        for (int64_t i = 0; i < hw; i++)
            a->f_wrong[i] = s->labelnoise[i] > 0;
        const float *fields[LF_N] = {m->seg_logit_var, m->seg_aleatoric, a->f_wrong};
        if ((st = doubt_pixsample_add(a->ls, fields, a->s_valid, hw, err)))
            return st;
        for (int64_t i = 0; i < hw; i++)
            a->clean_labels[i] = s->labelnoise[i] > 0 ? 255 : s->labels[i]; /* 255 = ignore */
        if ((st = doubt_seg_metrics_add(a->seg_clean, a->clean_labels, m->seg_class, NULL,
                                        s->height, s->width, err)))
            return st;
    }
    if (a->depth) {
        /* Scored where the ground truth and the prediction both define depth: the maps are
         * undefined (NaN) where a no-depth class is predicted, a segmentation error that mIoU
         * counts; the share of valid ground truth they cover is reported as coverage. */
        for (int64_t i = 0; i < hw; i++) {
            const float y = s->depth[i];
            const int valid = y > 0 && isfinite(y);
            /* only the mask makes depth undefined: any other non-finite value stays an error */
            const int defined = !a->no_depth[m->seg_class[i]];
            a->d_valid[i] = valid && defined;
            a->d_scored[i] = a->d_valid[i] ? y : 0.0f;
            a->undefined_valid_pixels += valid && !defined;
        }
        const float *var[NKINDS] = {m->depth_total, m->depth_epistemic, m->depth_aleatoric};
        for (int k = 0; k < NKINDS; k++)
            if ((st = doubt_depth_metrics_add(a->dm[k], m->depth_mean, a->d_scored, var[k],
                                              s->height, s->width, err)))
                return st;
        for (int64_t i = 0; i < hw; i++) {
            const float y = s->depth[i];
            const float e = fabsf(m->depth_mean[i] - y);
            a->f_err[i] = a->d_valid[i] ? e : 0.0f;
            a->f_wrong[i] = a->d_valid[i] && e / y > DOUBT_DEPTH_WRONG_ABSREL;
            a->f_sigma[i] = sqrtf(m->depth_aleatoric[i]);
            a->n_valid[i] = a->noise && a->d_valid[i] && isfinite(s->noise[i]);
            if (a->d_valid[i]) {
                const double y2 = (double)y * y;
                a->valid_sum[V_EPI] += m->depth_epistemic[i];
                a->valid_sum[V_ALE] += m->depth_aleatoric[i];
                a->valid_sum[V_TOTAL] += m->depth_total[i];
                a->valid_sum[V_SIGMA] += a->f_sigma[i];
                a->valid_sum[V_EPI_REL] += m->depth_epistemic[i] / y2;
                a->valid_sum[V_ALE_REL] += m->depth_aleatoric[i] / y2;
                a->valid_pixels++;
            }
        }
        const float *fields[DF_N] = {m->depth_total, m->depth_epistemic, m->depth_aleatoric,
                                     a->f_err, a->f_wrong};
        if ((st = doubt_pixsample_add(a->ds, fields, a->d_valid, hw, err)))
            return st;
        if (a->noise) {
            const float *nf[2] = {a->f_sigma, s->noise};
            if ((st = doubt_pixsample_add(a->ns, nf, a->n_valid, hw, err)))
                return st;
        }
    }
    return add_image_means(a, name, m->samples, hw, sum_before, valid_before, valid_pixels_before,
                           defined_before, err);
}

/* ---- JSON helpers ------------------------------------------------------------------------ */

static cJSON *num_array(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, doubt_json_number(v[i]));
    return a;
}

static void seg_json(cJSON *root, const doubt_seg_result *r)
{
    cJSON *o = cJSON_AddObjectToObject(root, "seg");
    doubt_json_add_number(o, "pixels", (double)r->pixels);
    doubt_json_add_number(o, "pixel_acc", r->pixel_acc);
    doubt_json_add_number(o, "miou", r->miou);
    doubt_json_add_number(o, "classes_present", r->classes_present);
    cJSON_AddItemToObject(o, "iou", num_array(r->iou, r->classes));
    doubt_json_add_number(o, "nll", r->nll);
    doubt_json_add_number(o, "brier", r->brier);
    doubt_json_add_number(o, "ece", r->ece);
    cJSON *rel = cJSON_AddObjectToObject(o, "reliability");
    double count[DOUBT_ECE_BINS];
    for (int b = 0; b < DOUBT_ECE_BINS; b++)
        count[b] = (double)r->bin_count[b];
    cJSON_AddItemToObject(rel, "confidence", num_array(r->bin_conf, DOUBT_ECE_BINS));
    cJSON_AddItemToObject(rel, "accuracy", num_array(r->bin_acc, DOUBT_ECE_BINS));
    cJSON_AddItemToObject(rel, "count", num_array(count, DOUBT_ECE_BINS));
}

/* The figures where the label is certainly the true class (label-noise truth 0): with noisy
 * labels the plain mIoU cannot reach 1 even for a perfect model. Null without the truth. */
static void clean_labels_json(cJSON *seg, const doubt_seg_metrics *clean)
{
    doubt_seg_result r = {0};
    if (clean)
        doubt_seg_metrics_result(clean, &r);
    doubt_json_add_number(seg, "pixels_clean_labels", clean ? (double)r.pixels : NAN);
    doubt_json_add_number(seg, "pixel_acc_clean_labels", clean ? r.pixel_acc : NAN);
    doubt_json_add_number(seg, "miou_clean_labels", clean ? r.miou : NAN);
}

static void depth_json(cJSON *root, const doubt_depth_result r[NKINDS], int64_t undefined)
{
    cJSON *o = cJSON_AddObjectToObject(root, "depth");
    const double scored = (double)r[K_TOTAL].pixels;
    doubt_json_add_number(o, "pixels", scored);
    doubt_json_add_number(o, "pixels_undefined", (double)undefined);
    const double seen = scored + (double)undefined;
    doubt_json_add_number(o, "coverage", seen > 0 ? scored / seen : NAN);
    doubt_json_add_number(o, "abs_rel", r[K_TOTAL].abs_rel);
    doubt_json_add_number(o, "sq_rel", r[K_TOTAL].sq_rel);
    doubt_json_add_number(o, "rmse", r[K_TOTAL].rmse);
    doubt_json_add_number(o, "rmse_log", r[K_TOTAL].rmse_log);
    doubt_json_add_number(o, "log10", r[K_TOTAL].log10);
    doubt_json_add_number(o, "delta1", r[K_TOTAL].delta[0]);
    doubt_json_add_number(o, "delta2", r[K_TOTAL].delta[1]);
    doubt_json_add_number(o, "delta3", r[K_TOTAL].delta[2]);
    char key[64];
    for (int k = 0; k < NKINDS; k++) {
        snprintf(key, sizeof key, "nll%s", kind_suffix[k]);
        doubt_json_add_number(o, key, r[k].nll);
    }
    static const char *const z[3] = {"z1", "z2", "z3"};
    cJSON *iv = cJSON_AddObjectToObject(o, "interval");
    cJSON *ideal = cJSON_AddObjectToObject(iv, "ideal");
    for (int j = 0; j < 3; j++)
        doubt_json_add_number(ideal, z[j], doubt_depth_within_ideal[j]);
    for (int k = 0; k < NKINDS; k++) {
        cJSON *w = cJSON_AddObjectToObject(iv, kind_name[k]);
        for (int j = 0; j < 3; j++)
            doubt_json_add_number(w, z[j], r[k].within[j]);
    }
}

/* ---- ranking figures and plots ----------------------------------------------------------- */

typedef struct {
    int64_t n;
    float *f[DOUBT_PIXSAMPLE_MAX_FIELDS];
    uint8_t *wrong;
} exported;

static void exported_free(exported *x)
{
    for (int i = 0; i < DOUBT_PIXSAMPLE_MAX_FIELDS; i++)
        free(x->f[i]);
    free(x->wrong);
}

static doubt_status export_all(doubt_pixsample *s, int nfields, int wrong_field, exported *x,
                               doubt_error *err)
{
    memset(x, 0, sizeof *x);
    x->n = doubt_pixsample_count(s);
    size_t n = x->n > 0 ? (size_t)x->n : 1;
    for (int i = 0; i < nfields; i++) {
        if (!(x->f[i] = malloc(n * sizeof(float))))
            return doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory exporting the sample");
        doubt_pixsample_export(s, i, x->f[i]);
    }
    if (wrong_field >= 0) {
        if (!(x->wrong = malloc(n)))
            return doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory exporting the sample");
        for (int64_t i = 0; i < x->n; i++)
            x->wrong[i] = x->f[wrong_field][i] > 0.5f;
    }
    return DOUBT_OK;
}

/* The oracle (the same for every kind: it ranks by error alone) and the three model curves. */
static doubt_status plot_sparsification3(const char *dir, const char *file,
                                         const doubt_sparsification sp[NKINDS], const char *metric,
                                         const char *title, doubt_error *err)
{
    char path[DOUBT_PATH_MAX], ylabel[96], note[96];
    doubt_status st = doubt_path_join(path, dir, file, err);
    if (st)
        return st;
    double top = 1.0;
    for (int k = 0; k < NKINDS; k++)
        for (int i = 0; i < DOUBT_SPARSE_STEPS; i++)
            top = isfinite(sp[k].model[i]) && sp[k].model[i] > top ? sp[k].model[i] : top;
    snprintf(ylabel, sizeof ylabel, "%s (normalised)", metric);
    doubt_plot_desc d = doubt_plot_defaults();
    d.title = title;
    d.xlabel = "Fraction of pixels removed";
    d.ylabel = ylabel;
    d.y1 = ceil(top * 1.05 * 10.0) / 10.0; /* a round top so the ticks are round too */
    d.legend = DOUBT_PLOT_LEGEND_TOP_RIGHT;
    doubt_plot *p;
    if ((st = doubt_plot_create(&d, &p, err)))
        return st;
    static const doubt_plot_color color[NKINDS] = {DOUBT_PLOT_BLUE, DOUBT_PLOT_GREEN,
                                                   DOUBT_PLOT_RED};
    for (int k = 0; k < NKINDS; k++) {
        char label[64];
        snprintf(label, sizeof label, "%s (AUSE %.4f)", kind_name[k], sp[k].ause);
        doubt_plot_line(p, sp[k].fraction, sp[k].model, DOUBT_SPARSE_STEPS,
                        doubt_plot_style_of(color[k]), label);
    }
    doubt_plot_style oracle = doubt_plot_style_of(DOUBT_PLOT_ORANGE);
    oracle.dashed = 1;
    doubt_plot_line(p, sp[0].fraction, sp[0].oracle, DOUBT_SPARSE_STEPS, oracle, "oracle");
    snprintf(note, sizeof note, "most uncertain removed first");
    doubt_plot_note(p, note);
    st = doubt_plot_save(p, path, err);
    doubt_plot_destroy(p);
    return st;
}

static doubt_status depth_ranking(cJSON *u, eval_acc *a, const char *plots, doubt_error *err)
{
    exported x;
    doubt_status st = export_all(a->ds, DF_N, DF_WRONG, &x, err);
    doubt_sparsification sp[NKINDS];
    char key[64];
    for (int k = 0; !st && k < NKINDS; k++) {
        st = doubt_sparsification_compute(x.f[DF_TOTAL + k], x.f[DF_ERR], x.n, DOUBT_SPARSE_RMSE,
                                          &sp[k], err);
        if (st)
            break;
        snprintf(key, sizeof key, "ause_depth_rmse%s", kind_suffix[k]);
        doubt_json_add_number(u, key, sp[k].ause);
        snprintf(key, sizeof key, "auroc_depth%s", kind_suffix[k]);
        doubt_json_add_number(u, key, doubt_auroc(x.f[DF_TOTAL + k], x.wrong, x.n));
    }
    /* Medians beside the means: a log-depth head's log-normal variance has a heavy tail, so
     * a few very unsure pixels can carry a mean. Over the subsample (all pixels when fewer
     * than sample_pixels). */
    for (int k = 0; !st && k < NKINDS; k++) {
        snprintf(key, sizeof key, "depth_%s_median", kind_name[k]);
        doubt_json_add_number(u, key, doubt_median(x.f[DF_TOTAL + k], x.n));
    }
    if (!st && plots) {
        char path[DOUBT_PATH_MAX];
        st = plot_sparsification3(plots, "sparsification_depth.png", sp, "Depth RMSE",
                                  "Sparsification: depth RMSE", err);
        if (!st)
            st = doubt_path_join(path, plots, "uncertainty_error.png", err);
        if (!st) {
            /* σ, not σ², on the x axis: the same unit as the error. */
            for (int64_t i = 0; i < x.n; i++)
                x.f[DF_TOTAL][i] = sqrtf(x.f[DF_TOTAL][i]);
            st = doubt_plot_uncertainty_error(path, x.f[DF_TOTAL], x.f[DF_ERR], x.n,
                                              "Total sigma (m)", "Mean abs error (m)",
                                              "Depth: uncertainty vs error", err);
        }
    }
    exported_free(&x);
    return st;
}

static doubt_status seg_ranking(cJSON *u, eval_acc *a, const doubt_seg_result *sr,
                                const char *plots, doubt_error *err)
{
    exported x;
    doubt_status st = export_all(a->ss, SF_N, SF_WRONG, &x, err);
    doubt_sparsification sp[NKINDS];
    char key[64];
    for (int k = 0; !st && k < NKINDS; k++) {
        st = doubt_sparsification_compute(x.f[SF_TOTAL + k], x.f[SF_WRONG], x.n, DOUBT_SPARSE_MEAN,
                                          &sp[k], err);
        if (st)
            break;
        snprintf(key, sizeof key, "ause_seg_error%s", kind_suffix[k]);
        doubt_json_add_number(u, key, sp[k].ause);
        snprintf(key, sizeof key, "auroc_seg%s", kind_suffix[k]);
        doubt_json_add_number(u, key, doubt_auroc(x.f[SF_TOTAL + k], x.wrong, x.n));
        doubt_pavpu_result pr;
        doubt_pavpu_summary(a->pavpu[k], &pr);
        snprintf(key, sizeof key, "pavpu_seg%s", kind_suffix[k]);
        doubt_json_add_number(u, key, pr.pavpu);
    }
    if (!st && plots) {
        char path[DOUBT_PATH_MAX];
        st = doubt_path_join(path, plots, "reliability.png", err);
        if (!st)
            st = doubt_plot_reliability(path, sr, "Segmentation reliability", err);
        if (!st)
            st = plot_sparsification3(plots, "sparsification_seg.png", sp, "Error rate",
                                      "Sparsification: segmentation error", err);
        if (!st)
            st = doubt_path_join(path, plots, "uncertainty_error_seg.png", err);
        if (!st)
            st = doubt_plot_uncertainty_error(path, x.f[SF_TOTAL], x.f[SF_WRONG], x.n,
                                              "Predictive entropy (nats)", "Error rate",
                                              "Segmentation: uncertainty vs error", err);
    }
    exported_free(&x);
    return st;
}

static doubt_status noise_ranking(cJSON *u, eval_acc *a, doubt_error *err)
{
    if (!a->noise) {
        cJSON_AddNullToObject(u, "aleatoric_noise_spearman");
        cJSON_AddNullToObject(u, "aleatoric_noise_ratio");
        cJSON_AddNullToObject(u, "aleatoric_noise_median_ratio");
        return DOUBT_OK;
    }
    exported x;
    doubt_status st = export_all(a->ns, 2, -1, &x, err);
    if (!st) {
        doubt_json_add_number(u, "aleatoric_noise_spearman", doubt_spearman(x.f[0], x.f[1], x.n));
        doubt_json_add_number(u, "aleatoric_noise_ratio", doubt_mean_ratio(x.f[0], x.f[1], x.n));
        doubt_json_add_number(u, "aleatoric_noise_median_ratio",
                              doubt_median_ratio(x.f[0], x.f[1], x.n));
    }
    exported_free(&x);
    return st;
}

static doubt_status labelnoise_ranking(cJSON *u, eval_acc *a, doubt_error *err)
{
    if (!a->labelnoise) {
        cJSON_AddNullToObject(u, "seg_logit_var_labelnoise_auroc");
        cJSON_AddNullToObject(u, "seg_aleatoric_labelnoise_auroc");
        return DOUBT_OK;
    }
    exported x;
    doubt_status st = export_all(a->ls, LF_N, LF_NOISY, &x, err);
    if (!st) {
        doubt_json_add_number(u, "seg_logit_var_labelnoise_auroc",
                              doubt_auroc(x.f[LF_LVAR], x.wrong, x.n));
        doubt_json_add_number(u, "seg_aleatoric_labelnoise_auroc",
                              doubt_auroc(x.f[LF_ALE], x.wrong, x.n));
    }
    exported_free(&x);
    return st;
}

static doubt_status build_report(eval_acc *a, const doubt_eval_opts *o, int images, int classes,
                                 cJSON *root, doubt_error *err)
{
    doubt_json_add_number(root, "images", images);
    doubt_json_add_number(root, "samples",
                          o->deterministic || o->method == DOUBT_MC_PROPAGATE ? 1 : o->samples);
    const int adaptive = o->adaptive && !o->deterministic && o->method != DOUBT_MC_PROPAGATE;
    cJSON *automatic = adaptive ? cJSON_CreateObject() : cJSON_CreateNull();
    if (adaptive) {
        doubt_json_add_number(automatic, "max", o->samples);
        doubt_json_add_number(automatic, "converge", o->converge);
    }
    cJSON_AddItemToObject(root, "samples_auto", automatic);
    cJSON *taken = cJSON_AddObjectToObject(root, "samples_taken");
    doubt_json_add_number(taken, "mean", images ? (double)a->samples_sum / images : NAN);
    doubt_json_add_number(taken, "min", images ? a->samples_min : NAN);
    doubt_json_add_number(taken, "max", images ? a->samples_max : NAN);
    cJSON_AddBoolToObject(root, "deterministic", o->deterministic != 0);
    cJSON_AddStringToObject(root, "method", doubt_mc_method_name(o->method));
    doubt_json_add_number(root, "seed", (double)o->seed);
    doubt_json_add_number(root, "classes", classes);
    doubt_json_add_number(root, "sample_pixels", (double)o->sample_cap);
    doubt_seg_result sr;
    if (a->labels) {
        doubt_seg_metrics_result(a->seg, &sr);
        seg_json(root, &sr);
        clean_labels_json(cJSON_GetObjectItemCaseSensitive(root, "seg"), a->seg_clean);
    } else
        cJSON_AddNullToObject(root, "seg");
    if (a->depth) {
        doubt_depth_result dr[NKINDS];
        for (int k = 0; k < NKINDS; k++)
            doubt_depth_metrics_result(a->dm[k], &dr[k]);
        depth_json(root, dr, a->undefined_valid_pixels);
    } else
        cJSON_AddNullToObject(root, "depth");

    cJSON *u = cJSON_AddObjectToObject(root, "uncertainty");
    /* Depth uncertainty where depth exists (valid ground truth, defined prediction); the
     * means over every defined pixel, ground truth or not, only under *_all_pixels keys. */
    static const char *const valid_key[NVALID] = {
        "depth_epistemic_mean",       "depth_aleatoric_mean",         "depth_total_mean",
        "depth_aleatoric_sigma_mean", "depth_epistemic_rel_mean",     "depth_aleatoric_rel_mean"};
    for (int i = 0; i < NVALID; i++)
        doubt_json_add_number(u, valid_key[i],
                              a->valid_pixels ? a->valid_sum[i] / (double)a->valid_pixels : NAN);
    static const char *const mean_key[NMEANS] = {
        "depth_epistemic_mean_all_pixels",       "depth_aleatoric_mean_all_pixels",
        "depth_total_mean_all_pixels",           "depth_aleatoric_sigma_mean_all_pixels",
        "seg_entropy_mean",                      "seg_aleatoric_mean",
        "seg_mutual_info_mean",                  "seg_logit_var_mean"};
    for (int i = 0; i < NMEANS; i++) {
        const double n = (double)(i <= M_DEPTH_SIGMA ? a->defined_pixels : a->pixels);
        doubt_json_add_number(u, mean_key[i], n > 0 ? a->sum[i] / n : NAN);
    }
    doubt_status st = DOUBT_OK;
    char key[64];
    if (a->depth)
        st = depth_ranking(u, a, o->plots, err);
    else {
        for (int k = 0; k < NKINDS; k++) {
            snprintf(key, sizeof key, "ause_depth_rmse%s", kind_suffix[k]);
            cJSON_AddNullToObject(u, key);
            snprintf(key, sizeof key, "auroc_depth%s", kind_suffix[k]);
            cJSON_AddNullToObject(u, key);
        }
        for (int k = 0; k < NKINDS; k++) {
            snprintf(key, sizeof key, "depth_%s_median", kind_name[k]);
            cJSON_AddNullToObject(u, key);
        }
    }
    if (!st && a->labels)
        st = seg_ranking(u, a, &sr, o->plots, err);
    else if (!st)
        for (int k = 0; k < NKINDS; k++) {
            const char *names[3] = {"ause_seg_error", "auroc_seg", "pavpu_seg"};
            for (int j = 0; j < 3; j++) {
                snprintf(key, sizeof key, "%s%s", names[j], kind_suffix[k]);
                cJSON_AddNullToObject(u, key);
            }
        }
    if (!st)
        st = noise_ranking(u, a, err);
    if (!st)
        st = labelnoise_ranking(u, a, err);
    if (!st) {
        cJSON_AddItemToObject(root, "per_image", a->per_image);
        a->per_image = NULL; /* the report owns it now */
    }
    return st;
}

static doubt_status open_checked(const char *data, int classes, doubt_dataset **out,
                                 doubt_error *err)
{
    doubt_dataset_opts dopt = {0};
    doubt_dataset *ds = NULL;
    doubt_status st = doubt_dataset_open(data, &dopt, &ds, err);
    if (st)
        return st;
    if (doubt_dataset_count(ds) == 0)
        st = doubt_fail(err, DOUBT_ERR_FORMAT, "dataset %s has no images", data);
    else if (!doubt_dataset_has_labels(ds) && !doubt_dataset_has_depth(ds))
        st = doubt_fail(err, DOUBT_ERR_FORMAT,
                        "dataset %s has neither labels/ nor depth/ to compare against", data);
    else if (doubt_dataset_classes(ds) > classes)
        st = doubt_fail(err, DOUBT_ERR_FORMAT, "dataset %s has %d classes, the network predicts %d",
                        data, doubt_dataset_classes(ds), classes);
    if (st)
        doubt_dataset_destroy(ds);
    else
        *out = ds;
    return st;
}

doubt_status doubt_eval_check_data(const char *data, int classes, doubt_error *err)
{
    doubt_dataset *ds = NULL;
    doubt_status st = open_checked(data, classes, &ds, err);
    doubt_dataset_destroy(ds);
    return st;
}

static double number_at(const cJSON *report, const char *section, const char *key)
{
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(report, section), key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

doubt_eval_headline doubt_eval_headline_of(const cJSON *report)
{
    return (doubt_eval_headline){
        .miou = number_at(report, "seg", "miou"),
        .pixel_acc = number_at(report, "seg", "pixel_acc"),
        .abs_rel = number_at(report, "depth", "abs_rel"),
        .rmse = number_at(report, "depth", "rmse"),
        .sigma_mean = number_at(report, "uncertainty", "depth_aleatoric_sigma_mean"),
    };
}

doubt_status doubt_eval_run(doubt_ctx *ctx, const doubt_safetensors *weights, const char *data,
                            const doubt_eval_opts *opts, cJSON **report, doubt_error *err)
{
    return doubt_eval_run_ensemble(ctx, &weights, 1, data, opts, report, err);
}

doubt_status doubt_eval_run_ensemble(doubt_ctx *ctx, const doubt_safetensors *const *members,
                                     int count, const char *data, const doubt_eval_opts *opts,
                                     cJSON **report, doubt_error *err)
{
    *report = NULL;
    if (count < 1 || !members[0] || !members[0]->has_network)
        return doubt_fail(err, DOUBT_ERR_ARG, "the weights carry no network description");
    if (opts->samples < 1 || opts->sample_cap < 1)
        return doubt_fail(err, DOUBT_ERR_ARG, "samples %d and sample cap %lld must be >= 1",
                          opts->samples, (long long)opts->sample_cap);
    /* the members share these (doubt_mc_create_ensemble refuses others) */
    const doubt_safetensors *weights = members[0];
    const int classes = weights->network.classes;
    doubt_dataset *ds = NULL;
    doubt_mc *mc = NULL;
    eval_acc a;
    memset(&a, 0, sizeof a);
    cJSON *root = NULL;
    doubt_sample s = {0};
    doubt_error e = {{0}};
    doubt_status st = open_checked(data, classes, &ds, err);
    if (st)
        goto done;
    const int n = doubt_dataset_count(ds);
    if (opts->plots && (st = doubt_mkdir_p(opts->plots, err)))
        goto done;
    if ((st = acc_init(&a, ds, classes, opts, err)))
        goto done;
    for (int k = 0; k < weights->network.no_depth_count; k++)
        a.no_depth[weights->network.no_depth_classes[k]] = 1;
    /* the maps a user gets from predict: depth undefined where a no-depth class is predicted */
    doubt_mc_desc md = {.samples = opts->samples,
                        .adaptive = opts->adaptive,
                        .converge = opts->converge,
                        .deterministic = opts->deterministic,
                        .method = opts->method,
                        .seed = opts->seed,
                        .mask_no_depth = 1,
                        .precision = opts->precision};
    if ((st = doubt_mc_create_ensemble(ctx, members, count, &md, &mc))) {
        st = doubt_fail(err, st, "%s", doubt_ctx_error(ctx));
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if ((st = doubt_dataset_load(ds, i, &s, err)))
            goto done;
        const doubt_mc_maps *m;
        if ((st = doubt_mc_run(ctx, mc, s.image, s.width, s.height, &m))) {
            st = doubt_fail(err, st, "%s: %s", doubt_dataset_image_path(ds, i),
                            doubt_ctx_error(ctx));
            goto done;
        }
        if ((st = acc_add(&a, doubt_dataset_name(ds, i), &s, m, &e))) {
            st = doubt_fail(err, st, "%s: %s", doubt_dataset_image_path(ds, i), e.msg);
            goto done;
        }
        doubt_sample_release(&s);
        if (opts->progress)
            opts->progress(opts->user, i + 1, n, doubt_dataset_name(ds, i));
    }
    if (!(root = cJSON_CreateObject())) {
        st = doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory for the report");
        goto done;
    }
    st = build_report(&a, opts, n, classes, root, err);
done:
    doubt_sample_release(&s);
    doubt_mc_destroy(mc);
    doubt_dataset_destroy(ds);
    acc_free(&a);
    if (st)
        cJSON_Delete(root);
    else
        *report = root;
    return st;
}
