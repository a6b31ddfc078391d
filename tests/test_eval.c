/* doubt eval's dataset loop and doubt inspect's panels, on tiny folders made
 * here: figures against a direct computation from doubt_mc_run, the JSON keys against a
 * committed list, panel geometry and pixels against hand-derived values, and the errors for
 * bad folders (the HTML report is tested in test_report.c). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/png.h"
#include "model/mc.h"
#include "pipeline/eval.h"
#include "viz/heatmap.h"
#include "viz/inspect.h"
#include "viz/panel.h"

#define WEIGHTS "tests/golden/model/unet_tiny.safetensors"
/* unet_tiny perturbed, dropout 0.25: a second ensemble member (tools/ensemble_golden.py) */
#define MEMBER_B "tests/golden/model/unet_tiny_b.safetensors"
#define KEYS "tests/golden/eval/keys.txt"
#define SAMPLES 4
#define SEED 7

/* --- a tiny dataset ---------------------------------------------------------------------- */

enum { WITH_LABELS = 1, WITH_DEPTH = 2, WITH_NOISE = 4, WITH_LABELNOISE = 8 };

static const int img_w[2] = {16, 20}, img_h[2] = {12, 8};

/* The label-noise truth of pixel p: every 5th pixel is noisy, with a probability of 1/3..1. */
static uint8_t labelnoise_of(int p) { return p % 5 == 1 ? (uint8_t)(85 + p % 171) : 0; }

/* Two images of different sizes, labels 0..2 with a few 255, depth 1..5 m with a few 0. */
static void make_dataset(const char *dir, int parts, int bad_label)
{
    doubt_error err = {{0}};
    const char *sub[] = {"images", "labels", "depth", "noise", "labelnoise"};
    for (int k = 0; k < 5; k++)
        if (k == 0 || (parts & (1 << (k - 1))))
            ck_assert_int_eq(mkdir(th_path(dir, sub[k]), 0755), 0);
    th_write_text(th_path(dir, "dataset.json"), "{\"classes\": 3, \"depth_scale\": 256}\n");
    for (int i = 0; i < 2; i++) {
        const int w = img_w[i], h = img_h[i], n = w * h;
        char name[64];
        uint8_t *rgb = malloc((size_t)3 * n), *lab = malloc((size_t)n), *ln = malloc((size_t)n);
        uint16_t *d16 = malloc((size_t)n * sizeof *d16);
        float *noise = malloc((size_t)n * sizeof *noise), *r = malloc((size_t)n * 4 * sizeof *r);
        th_fill(r, 4L * n, 11 + i, 0, 1);
        for (int p = 0; p < n; p++) {
            for (int c = 0; c < 3; c++)
                rgb[3 * p + c] = (uint8_t)(r[p] * 255 * (c + 1) / 3);
            lab[p] = p % 17 == 3 ? 255 : (uint8_t)(r[n + p] * 3);
            d16[p] = p % 13 == 5 ? 0 : (uint16_t)(256 * (1 + 4 * r[2 * n + p]));
            noise[p] = d16[p] ? 0.01f + 0.1f * r[3 * n + p] : 0.0f;
            ln[p] = labelnoise_of(p);
        }
        if (bad_label && i == 1)
            lab[5] = 7;
        snprintf(name, sizeof name, "images/s%d.png", i);
        ck_assert_int_eq(doubt_png_write_rgb8(th_path(dir, name), rgb, w, h, NULL, 0, &err), 0);
        if (parts & WITH_LABELS) {
            snprintf(name, sizeof name, "labels/s%d.png", i);
            ck_assert_int_eq(doubt_png_write_gray8(th_path(dir, name), lab, w, h, NULL, 0, &err), 0);
        }
        if (parts & WITH_DEPTH) {
            snprintf(name, sizeof name, "depth/s%d.png", i);
            ck_assert_int_eq(doubt_png_write_gray16(th_path(dir, name), d16, w, h, NULL, 0, &err), 0);
        }
        if (parts & WITH_NOISE) {
            snprintf(name, sizeof name, "noise/s%d.npy", i);
            int64_t shape[2] = {h, w};
            ck_assert_int_eq(doubt_npy_write_f32(th_path(dir, name), noise, 2, shape, &err), 0);
        }
        if (parts & WITH_LABELNOISE) {
            snprintf(name, sizeof name, "labelnoise/s%d.png", i);
            ck_assert_int_eq(doubt_png_write_gray8(th_path(dir, name), ln, w, h, NULL, 0, &err), 0);
        }
        free(ln);
        free(rgb);
        free(lab);
        free(d16);
        free(noise);
        free(r);
    }
}

static doubt_safetensors *weights(void)
{
    doubt_safetensors *f = NULL;
    doubt_error err = {{0}};
    ck_assert_msg(doubt_safetensors_read(WEIGHTS, &f, &err) == DOUBT_OK, "%s", err.msg);
    return f;
}

/* The test network with class 0 as a no-depth class (like the sky of the shipped weights):
 * its depth maps are undefined wherever it predicts class 0. */
static doubt_safetensors *weights_with_no_depth_class(void)
{
    doubt_safetensors *f = weights();
    f->network.no_depth_count = 1;
    f->network.no_depth_classes[0] = 0;
    return f;
}

static cJSON *evaluate_weights(const char *dir, const doubt_eval_opts *o, doubt_safetensors *w)
{
    doubt_ctx *ctx = th_ctx(0);
    cJSON *r = NULL;
    doubt_error err = {{0}};
    doubt_status st = doubt_eval_run(ctx, w, dir, o, &r, &err);
    ck_assert_msg(st == DOUBT_OK, "eval: %s", err.msg);
    doubt_safetensors_destroy(w);
    doubt_ctx_destroy(ctx);
    return r;
}

static cJSON *evaluate_with(const char *dir, const doubt_eval_opts *o)
{
    return evaluate_weights(dir, o, weights());
}

static cJSON *evaluate(const char *dir, const char *plots)
{
    doubt_eval_opts o = doubt_eval_defaults();
    o.samples = SAMPLES;
    o.seed = SEED;
    o.plots = plots;
    return evaluate_with(dir, &o);
}

/* The value at a dotted path; NULL when absent. */
static const cJSON *at(const cJSON *o, const char *dotted)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", dotted);
    for (char *tok = strtok(buf, "."); tok && o; tok = strtok(NULL, "."))
        o = cJSON_GetObjectItemCaseSensitive(o, tok);
    return o;
}

static double num_at(const cJSON *o, const char *dotted)
{
    const cJSON *v = at(o, dotted);
    ck_assert_msg(v != NULL, "key %s missing", dotted);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Dotted paths of every non-object value, in document order, one per line. */
static void key_list(const cJSON *o, const char *prefix, char *out, size_t cap)
{
    for (const cJSON *c = o->child; c; c = c->next) {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", c->string);
        if (cJSON_IsObject(c))
            key_list(c, path, out, cap);
        else {
            strncat(out, path, cap - strlen(out) - 1);
            strncat(out, "\n", cap - strlen(out) - 1);
        }
    }
}

/* --- eval ---------------------------------------------------------------------------------- */

START_TEST(report_keys_are_stable)
{
    char dir[64];
    th_make_temp_dir("doubt_eval", dir, sizeof dir);
    make_dataset(dir, WITH_LABELS | WITH_DEPTH | WITH_NOISE | WITH_LABELNOISE, 0);
    cJSON *r = evaluate(dir, NULL);
    static char keys[16384];
    keys[0] = '\0';
    key_list(r, "", keys, sizeof keys);
    char *want = th_read_text(KEYS);
    ck_assert_msg(!strcmp(keys, want), "report keys differ from %s; got:\n%s", KEYS, keys);
    free(want);
    /* Every figure is defined on this data (3 classes all present, noise given). */
    static const char *const finite[] = {"seg.miou",
                                         "seg.pixel_acc",
                                         "seg.ece",
                                         "seg.nll",
                                         "seg.brier",
                                         "depth.abs_rel",
                                         "depth.sq_rel",
                                         "depth.rmse",
                                         "depth.rmse_log",
                                         "depth.log10",
                                         "depth.delta1",
                                         "depth.nll",
                                         "depth.nll_epistemic",
                                         "depth.nll_aleatoric",
                                         "depth.interval.total.z2",
                                         "uncertainty.depth_epistemic_mean",
                                         "uncertainty.depth_aleatoric_mean",
                                         "uncertainty.seg_mutual_info_mean",
                                         "uncertainty.ause_depth_rmse",
                                         "uncertainty.ause_depth_rmse_epistemic",
                                         "uncertainty.ause_seg_error_aleatoric",
                                         "uncertainty.auroc_seg",
                                         "uncertainty.pavpu_seg_epistemic",
                                         "uncertainty.aleatoric_noise_spearman",
                                         "uncertainty.aleatoric_noise_ratio",
                                         "uncertainty.aleatoric_noise_median_ratio",
                                         "uncertainty.seg_logit_var_labelnoise_auroc",
                                         "uncertainty.seg_aleatoric_labelnoise_auroc"};
    for (size_t i = 0; i < sizeof finite / sizeof finite[0]; i++)
        ck_assert_msg(isfinite(num_at(r, finite[i])), "%s is not finite", finite[i]);
    ck_assert_int_eq(cJSON_GetArraySize(at(r, "seg.iou")), 3);
    ck_assert_double_eq(num_at(r, "images"), 2);
    /* Probabilities and fractions in range. */
    ck_assert(num_at(r, "seg.pixel_acc") >= 0 && num_at(r, "seg.pixel_acc") <= 1);
    ck_assert(num_at(r, "depth.interval.total.z1") <= num_at(r, "depth.interval.total.z2"));
    ck_assert_double_eq_tol(num_at(r, "depth.interval.ideal.z1"), 0.6827, 1e-4);
    cJSON_Delete(r);
    th_remove_tree(dir);
}
END_TEST

/* AUROC by counting every (positive, negative) pair, ties as 1/2: the definition itself. */
static double naive_auroc(const float *score, const uint8_t *positive, int n)
{
    double wins = 0, pairs = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (positive[i] && !positive[j]) {
                pairs++;
                wins += score[i] > score[j] ? 1.0 : score[i] == score[j] ? 0.5 : 0.0;
            }
    return wins / pairs;
}

/* Pixel accuracy, abs-rel, the mean variances (over valid depth and over all pixels), the
 * label-noise AUROCs and the per-image means, computed naively from MC maps of the same
 * weights, T and seed, on images read back from the PNGs. */
static int by_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

START_TEST(figures_match_direct_computation)
{
    char dir[64];
    th_make_temp_dir("doubt_eval", dir, sizeof dir);
    make_dataset(dir, WITH_LABELS | WITH_DEPTH | WITH_LABELNOISE, 0);
    doubt_eval_opts o = doubt_eval_defaults();
    o.samples = SAMPLES;
    o.seed = SEED;
    cJSON *r = evaluate_weights(dir, &o, weights_with_no_depth_class());

    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = weights_with_no_depth_class();
    doubt_mc *mc;
    doubt_mc_desc md = {.samples = SAMPLES, .seed = SEED, .mask_no_depth = 1};
    TH_OK(ctx, doubt_mc_create(ctx, w, &md, &mc));
    doubt_error err = {{0}};
    double correct = 0, valid = 0, absrel = 0, dvalid = 0, epi = 0, defined = 0, undefined = 0;
    double epi_valid = 0, ale_rel = 0, image_mi[2] = {0, 0}, image_epi[2] = {0, 0};
    int image_valid[2] = {0, 0};
    enum { MAXPIX = 16 * 12 + 20 * 8 };
    float lvar[MAXPIX], expent[MAXPIX], epi_scored[MAXPIX];
    uint8_t noisy[MAXPIX];
    int labelled = 0, clean = 0, clean_correct = 0;
    for (int i = 0; i < 2; i++) {
        char name[64];
        float *img, *depth;
        uint8_t *lab;
        int wd, ht;
        snprintf(name, sizeof name, "images/s%d.png", i);
        ck_assert_int_eq(doubt_image_read(th_path(dir, name), 0, &img, &wd, &ht, &err), 0);
        snprintf(name, sizeof name, "labels/s%d.png", i);
        ck_assert_int_eq(doubt_image_read_labels(th_path(dir, name), 0, &lab, &wd, &ht, &err), 0);
        snprintf(name, sizeof name, "depth/s%d.png", i);
        ck_assert_int_eq(doubt_image_read_depth(th_path(dir, name), 0, 256, &depth, &wd, &ht, &err),
                         0);
        const doubt_mc_maps *m;
        TH_OK(ctx, doubt_mc_run(ctx, mc, img, wd, ht, &m));
        for (int p = 0; p < wd * ht; p++) {
            if (lab[p] != 255) {
                valid++;
                correct += m->seg_class[p] == lab[p];
                lvar[labelled] = m->seg_logit_var[p];
                expent[labelled] = m->seg_aleatoric[p];
                noisy[labelled++] = labelnoise_of(p) > 0;
                clean += labelnoise_of(p) == 0;
                clean_correct += labelnoise_of(p) == 0 && m->seg_class[p] == lab[p];
            }
            const int has_depth = isfinite(m->depth_mean[p]);
            undefined += depth[p] > 0 && !has_depth;
            if (depth[p] > 0 && has_depth) {
                dvalid++;
                absrel += fabs(m->depth_mean[p] - depth[p]) / depth[p];
                epi_valid += m->depth_epistemic[p];
                epi_scored[(int)dvalid - 1] = m->depth_epistemic[p];
                image_epi[i] += m->depth_epistemic[p];
                image_valid[i]++;
                ale_rel += m->depth_aleatoric[p] / ((double)depth[p] * depth[p]);
            }
            if (has_depth) {
                epi += m->depth_epistemic[p];
                defined++;
            }
            image_mi[i] += m->seg_mutual_info[p] / (wd * ht);
        }
        free(img);
        free(lab);
        free(depth);
    }
    printf("  eval pixel_acc %.6f (direct %.6f), abs_rel %.6f (direct %.6f)\n",
           num_at(r, "seg.pixel_acc"), correct / valid, num_at(r, "depth.abs_rel"),
           absrel / dvalid);
    ck_assert_double_eq_tol(num_at(r, "seg.pixel_acc"), correct / valid, 1e-12);
    ck_assert_double_eq_tol(num_at(r, "depth.abs_rel"), absrel / dvalid, 1e-6 * (absrel / dvalid));
    ck_assert_double_eq_tol(num_at(r, "uncertainty.depth_epistemic_mean_all_pixels"),
                            epi / defined, 1e-6 * (epi / defined));
    /* depth uncertainty where depth exists: the sky would dominate the all-pixel means */
    ck_assert_double_eq_tol(num_at(r, "uncertainty.depth_epistemic_mean"), epi_valid / dvalid,
                            1e-6 * (epi_valid / dvalid));
    ck_assert_double_eq_tol(num_at(r, "uncertainty.depth_aleatoric_rel_mean"), ale_rel / dvalid,
                            1e-6 * (ale_rel / dvalid));
    const double lv = naive_auroc(lvar, noisy, labelled), ee = naive_auroc(expent, noisy, labelled);
    printf("  label-noise AUROC: logit variance %.6f (direct %.6f), expected entropy %.6f "
           "(direct %.6f)\n",
           num_at(r, "uncertainty.seg_logit_var_labelnoise_auroc"), lv,
           num_at(r, "uncertainty.seg_aleatoric_labelnoise_auroc"), ee);
    ck_assert_double_eq_tol(num_at(r, "uncertainty.seg_logit_var_labelnoise_auroc"), lv, 1e-9);
    ck_assert_double_eq_tol(num_at(r, "uncertainty.seg_aleatoric_labelnoise_auroc"), ee, 1e-9);
    const cJSON *per = at(r, "per_image");
    ck_assert_int_eq(cJSON_GetArraySize(per), 2);
    for (int i = 0; i < 2; i++) {
        const cJSON *o = cJSON_GetArrayItem(per, i);
        char want[8];
        snprintf(want, sizeof want, "s%d", i);
        ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(o, "name")->valuestring, want);
        ck_assert_double_eq_tol(num_at(o, "seg_mutual_info_mean"), image_mi[i],
                                1e-6 * image_mi[i] + 1e-12);
        const double epi_i = image_epi[i] / image_valid[i];
        ck_assert_double_eq_tol(num_at(o, "depth_epistemic_mean"), epi_i, 1e-6 * epi_i + 1e-12);
    }
    ck_assert_double_eq(num_at(r, "seg.pixels"), valid);
    /* the figures where the label-noise truth says the label is right */
    ck_assert_double_eq(num_at(r, "seg.pixels_clean_labels"), clean);
    ck_assert_double_eq_tol(num_at(r, "seg.pixel_acc_clean_labels"), (double)clean_correct / clean,
                            1e-12);
    ck_assert_double_eq(num_at(r, "depth.pixels"), dvalid);
    /* scored where both define depth; valid ground truth predicted as class 0 is uncovered */
    printf("  depth: %.0f pixels scored, %.0f predicted as the no-depth class\n", dvalid,
           undefined);
    ck_assert(undefined > 0 && dvalid > 0);
    ck_assert_double_eq(num_at(r, "depth.pixels_undefined"), undefined);
    /* every scored pixel is in the subsample here, so the median is exact */
    qsort(epi_scored, (size_t)dvalid, sizeof epi_scored[0], by_float);
    const int mid = (int)dvalid / 2;
    const double epi_median = (int)dvalid % 2 ? epi_scored[mid]
                                              : 0.5 * ((double)epi_scored[mid - 1] + epi_scored[mid]);
    ck_assert_double_eq_tol(num_at(r, "uncertainty.depth_epistemic_median"), epi_median,
                            1e-7 * epi_median);
    ck_assert_double_eq_tol(num_at(r, "depth.coverage"), dvalid / (dvalid + undefined), 1e-12);
    /* No noise/ folder: the correlation is null, not 0. */
    ck_assert(cJSON_IsNull(at(r, "uncertainty.aleatoric_noise_spearman")));
    doubt_mc_destroy(mc);
    doubt_safetensors_destroy(w);
    doubt_ctx_destroy(ctx);
    cJSON_Delete(r);
    th_remove_tree(dir);
}
END_TEST

START_TEST(same_seed_same_report)
{
    char dir[64];
    th_make_temp_dir("doubt_eval", dir, sizeof dir);
    make_dataset(dir, WITH_LABELS | WITH_DEPTH | WITH_NOISE, 0);
    cJSON *a = evaluate(dir, NULL), *b = evaluate(dir, NULL);
    char *ta = cJSON_PrintUnformatted(a), *tb = cJSON_PrintUnformatted(b);
    ck_assert_str_eq(ta, tb);
    cJSON_free(ta);
    cJSON_free(tb);
    cJSON_Delete(a);
    cJSON_Delete(b);
    th_remove_tree(dir);
}
END_TEST

/* Dropout off: one pass whatever T and the seed say, so two seeds give the same figures and
 * the MC spread (epistemic variance, mutual information) is zero. */
START_TEST(deterministic_is_one_pass_without_dropout)
{
    char dir[64];
    th_make_temp_dir("doubt_eval", dir, sizeof dir);
    make_dataset(dir, WITH_LABELS | WITH_DEPTH, 0);
    doubt_eval_opts o = doubt_eval_defaults();
    o.samples = SAMPLES;
    o.deterministic = 1;
    o.seed = 1;
    cJSON *a = evaluate_with(dir, &o);
    o.seed = 2;
    cJSON *b = evaluate_with(dir, &o), *mc = evaluate(dir, NULL);
    ck_assert(cJSON_IsTrue(at(a, "deterministic")));
    ck_assert(cJSON_IsFalse(at(mc, "deterministic")));
    ck_assert_double_eq(num_at(a, "samples"), 1);
    ck_assert_double_eq(num_at(mc, "samples"), SAMPLES);
    static const char *const same[] = {"seg.miou", "seg.pixel_acc", "depth.abs_rel", "depth.rmse",
                                       "uncertainty.depth_aleatoric_sigma_mean"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        ck_assert_msg(num_at(a, same[i]) == num_at(b, same[i]), "%s differs across seeds", same[i]);
    ck_assert_double_eq(num_at(a, "uncertainty.depth_epistemic_mean"), 0);
    ck_assert_double_eq_tol(num_at(a, "uncertainty.seg_mutual_info_mean"), 0, 1e-7);
    ck_assert_double_gt(num_at(mc, "uncertainty.depth_epistemic_mean"), 0);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(mc);
    th_remove_tree(dir);
}
END_TEST

START_TEST(single_task_sets_null_the_other_section)
{
    char d1[64], d2[64];
    th_make_temp_dir("doubt_eval", d1, sizeof d1);
    th_make_temp_dir("doubt_eval", d2, sizeof d2);
    make_dataset(d1, WITH_LABELS, 0);
    make_dataset(d2, WITH_DEPTH, 0);
    cJSON *a = evaluate(d1, NULL), *b = evaluate(d2, NULL);
    ck_assert(cJSON_IsNull(at(a, "depth")));
    ck_assert(isfinite(num_at(a, "seg.miou")));
    ck_assert(cJSON_IsNull(at(a, "uncertainty.ause_depth_rmse")));
    ck_assert(isfinite(num_at(a, "uncertainty.ause_seg_error")));
    ck_assert(cJSON_IsNull(at(b, "seg")));
    ck_assert(isfinite(num_at(b, "depth.rmse")));
    ck_assert(cJSON_IsNull(at(b, "uncertainty.pavpu_seg")));
    /* The means describe the predictions, so they exist either way. */
    ck_assert(isfinite(num_at(b, "uncertainty.seg_mutual_info_mean")));
    /* The headline figures follow the sections: NaN where a section is null. */
    const doubt_eval_headline ha = doubt_eval_headline_of(a), hb = doubt_eval_headline_of(b);
    ck_assert_double_eq(ha.miou, num_at(a, "seg.miou"));
    ck_assert_double_eq(ha.pixel_acc, num_at(a, "seg.pixel_acc"));
    ck_assert(isnan(ha.abs_rel) && isnan(ha.rmse));
    ck_assert(isnan(hb.miou) && isnan(hb.pixel_acc));
    ck_assert_double_eq(hb.abs_rel, num_at(b, "depth.abs_rel"));
    ck_assert_double_eq(hb.rmse, num_at(b, "depth.rmse"));
    ck_assert_double_eq(hb.sigma_mean, num_at(b, "uncertainty.depth_aleatoric_sigma_mean"));
    cJSON_Delete(a);
    cJSON_Delete(b);
    th_remove_tree(d1);
    th_remove_tree(d2);
}
END_TEST

START_TEST(plots_are_written)
{
    char dir[64], plots[128];
    th_make_temp_dir("doubt_eval", dir, sizeof dir);
    make_dataset(dir, WITH_LABELS | WITH_DEPTH, 0);
    snprintf(plots, sizeof plots, "%s/plots", dir);
    cJSON *r = evaluate(dir, plots);
    static const char *const files[] = {"reliability.png", "sparsification_depth.png",
                                        "sparsification_seg.png", "uncertainty_error.png",
                                        "uncertainty_error_seg.png"};
    doubt_error err = {{0}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        doubt_image_info info;
        ck_assert_msg(doubt_image_probe(th_path(plots, files[i]), &info, &err) == DOUBT_OK, "%s",
                      err.msg);
        ck_assert_int_eq(info.width, 640);
        ck_assert_int_eq(info.height, 480);
    }
    cJSON_Delete(r);
    th_remove_tree(dir);
}
END_TEST

static doubt_status eval_status(const char *dir, doubt_error *err)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = weights();
    doubt_eval_opts o = doubt_eval_defaults();
    o.samples = 2;
    cJSON *r = NULL;
    doubt_status st = doubt_eval_run(ctx, w, dir, &o, &r, err);
    ck_assert_ptr_null(r);
    doubt_safetensors_destroy(w);
    doubt_ctx_destroy(ctx);
    return st;
}

START_TEST(bad_datasets_name_the_problem)
{
    doubt_error err = {{0}};
    ck_assert_int_ne(eval_status("/nonexistent/doubt_eval", &err), DOUBT_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/doubt_eval"));
    ck_assert_int_ne(doubt_eval_check_data("/nonexistent/doubt_eval", 3, &err), DOUBT_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/doubt_eval"));

    char dir[64];
    th_make_temp_dir("doubt_eval", dir, sizeof dir);
    make_dataset(dir, WITH_LABELS, 1); /* label 7 in a 3-class set */
    ck_assert_int_ne(eval_status(dir, &err), DOUBT_OK);
    ck_assert_msg(strstr(err.msg, "s1") != NULL, "%s", err.msg);
    th_remove_tree(dir);

    th_make_temp_dir("doubt_eval", dir, sizeof dir);
    make_dataset(dir, 0, 0); /* images only */
    ck_assert_int_ne(eval_status(dir, &err), DOUBT_OK);
    ck_assert_msg(strstr(err.msg, "neither") != NULL, "%s", err.msg);
    ck_assert_int_ne(doubt_eval_check_data(dir, 3, &err), DOUBT_OK);
    ck_assert_msg(strstr(err.msg, "neither") != NULL, "%s", err.msg);
    th_remove_tree(dir);

    /* the check before any pixel is read: the folder's 3 classes against the network's */
    th_make_temp_dir("doubt_eval", dir, sizeof dir);
    make_dataset(dir, WITH_LABELS, 0);
    ck_assert_int_eq(doubt_eval_check_data(dir, 3, &err), DOUBT_OK);
    ck_assert_int_ne(doubt_eval_check_data(dir, 2, &err), DOUBT_OK);
    ck_assert_msg(strstr(err.msg, "3 classes") != NULL && strstr(err.msg, dir) != NULL, "%s",
                  err.msg);
    th_remove_tree(dir);
}
END_TEST

/* --- panels -------------------------------------------------------------------------------- */

START_TEST(compose_scales_and_titles)
{
    /* 4x2 and 2x4 tiles: common height 4, the first doubled to 8x4. */
    uint8_t a[4 * 2 * 3], b[2 * 4 * 3];
    for (int i = 0; i < (int)sizeof a; i++)
        a[i] = (uint8_t)(10 + i);
    memset(b, 200, sizeof b);
    doubt_panel_tile t[2] = {{a, 4, 2, "A"}, {b, 2, 4, NULL}};
    uint8_t *c;
    int w, h;
    doubt_error err = {{0}};
    ck_assert_int_eq(doubt_panel_compose(t, 2, 0, &c, &w, &h, &err), DOUBT_OK);
    const int m = DOUBT_PANEL_MARGIN, top = m + DOUBT_PANEL_TITLE_H;
    ck_assert_int_eq(w, m + 8 + m + 2 + m);
    ck_assert_int_eq(h, top + 4 + m);
    /* Scaled pixel (x, y) shows source (x / 2, y / 2). */
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 8; x++)
            ck_assert_mem_eq(c + ((size_t)(top + y) * w + m + x) * 3, a + ((y / 2) * 4 + x / 2) * 3,
                             3);
    ck_assert_mem_eq(c + ((size_t)top * w + m + 8 + m) * 3, b, 3);
    /* "A" at scale 1 (scale 2 is 10 pixels wide, the tile 8): its apex pixel, the glyph's
     * top row, is black; the margin above is white. */
    int black = 0;
    for (int y = m; y < top; y++)
        for (int x = m; x < m + 8; x++)
            black += c[((size_t)y * w + x) * 3] == 0;
    ck_assert_int_gt(black, 5);
    ck_assert_int_eq(c[0], 255);
    free(c);
}
END_TEST

/* The heatmaps a panel needs beside the depth, in its order: every uncertainty map. */
static const char *const uncertainty_heatmaps[] = {"depth_epistemic", "depth_aleatoric",
                                                   "depth_total",     "seg_entropy",
                                                   "seg_aleatoric",   "seg_mutual_info",
                                                   "seg_logit_var"};
#define UNCERTAINTY_HEATMAPS (int)(sizeof uncertainty_heatmaps / sizeof uncertainty_heatmaps[0])

/* A prediction folder as predict writes it, for NAMEs a and b (w x h), and their inputs. */
static void make_predictions(const char *dir, const char *images, const char *name, int w, int h)
{
    doubt_error err = {{0}};
    const int n = w * h;
    static const uint8_t pal[3][3] = {{0, 0, 0}, {200, 40, 40}, {40, 200, 40}};
    uint8_t *idx = malloc((size_t)n), *rgb = malloc((size_t)3 * n);
    uint16_t *d16 = malloc((size_t)n * sizeof *d16);
    float *v = malloc((size_t)n * sizeof *v);
    for (int p = 0; p < n; p++) {
        idx[p] = (uint8_t)(p % 3);
        rgb[3 * p] = (uint8_t)(p * 7);
        rgb[3 * p + 1] = 100;
        rgb[3 * p + 2] = (uint8_t)(255 - p);
        d16[p] = (uint16_t)(256 * 2 + p);
        v[p] = (float)p / n;
    }
    char file[256];
    snprintf(file, sizeof file, "%s.seg.png", name);
    ck_assert_int_eq(doubt_png_write_palette(th_path(dir, file), idx, w, h, pal, 3, NULL, 0, &err),
                     0);
    snprintf(file, sizeof file, "%s.depth.png", name);
    ck_assert_int_eq(doubt_png_write_gray16(th_path(dir, file), d16, w, h, NULL, 0, &err), 0);
    doubt_heatmap_opts o = doubt_heatmap_defaults();
    o.lo = 0;
    o.hi = 1;
    for (int k = 0; k < UNCERTAINTY_HEATMAPS; k++) {
        snprintf(file, sizeof file, "%s.%s.png", name, uncertainty_heatmaps[k]);
        ck_assert_int_eq(doubt_heatmap_write(th_path(dir, file), v, NULL, w, h, &o, &err), 0);
    }
    snprintf(file, sizeof file, "%s.png", name);
    ck_assert_int_eq(doubt_png_write_rgb8(th_path(images, file), rgb, w, h, NULL, 0, &err), 0);
    free(idx);
    free(rgb);
    free(d16);
    free(v);
}

START_TEST(panel_has_expected_size_overlay_and_title)
{
    char dir[64];
    th_make_temp_dir("doubt_eval", dir, sizeof dir);
    char images[128];
    snprintf(images, sizeof images, "%s/images", dir);
    ck_assert_int_eq(mkdir(images, 0755), 0);
    const int w = 16, h = 12;
    make_predictions(dir, images, "a", w, h);
    doubt_inspect_opts o = doubt_inspect_defaults();
    o.images = images;
    doubt_error err = {{0}};
    char out[128];
    snprintf(out, sizeof out, "%s/a.panel.png", dir);
    ck_assert_msg(doubt_inspect_panel(dir, "a", &o, out, NULL, NULL, &err) == DOUBT_OK, "%s",
                  err.msg);
    /* Expected: heatmap canvases (64 tall: the minimum) set the height; input and overlay
     * 16x12 scale to round(16 * 64 / 12) = 85; depth is coloured here as a turbo heatmap on
     * the default 0..20 m with units "m", the others were written on 0..1. */
    float dummy[16 * 12] = {0};
    doubt_heatmap_opts ho = doubt_heatmap_defaults(), dopt = ho;
    ho.lo = 0;
    ho.hi = 1;
    dopt.lo = 0;
    dopt.hi = 20;
    dopt.units = "m";
    dopt.cmap = DOUBT_CMAP_TURBO;
    uint8_t *canvas;
    doubt_heatmap_layout lay, dlay;
    ck_assert_int_eq(doubt_heatmap_render(dummy, NULL, w, h, &ho, &canvas, &lay, &err), 0);
    free(canvas);
    ck_assert_int_eq(doubt_heatmap_render(dummy, NULL, w, h, &dopt, &canvas, &dlay, &err), 0);
    free(canvas);
    ck_assert_int_eq(lay.height, 64);
    ck_assert_int_eq(dlay.height, 64);
    const int m = DOUBT_PANEL_MARGIN;
    int want_w = m + 2 * (85 + m) + (dlay.width + m) + UNCERTAINTY_HEATMAPS * (lay.width + m);
    uint8_t *rgb;
    int pw, ph;
    ck_assert_int_eq(doubt_image_read_rgb8(out, 0, &rgb, &pw, &ph, &err), 0);
    ck_assert_int_eq(pw, want_w);
    ck_assert_int_eq(ph, 2 * m + DOUBT_PANEL_TITLE_H + 64);
    /* Overlay top-left = half input (0, 100, 255) + half palette[0] (0, 0, 0). */
    const int top = m + DOUBT_PANEL_TITLE_H, x1 = m + 85 + m;
    const uint8_t *px = rgb + ((size_t)top * pw + x1) * 3;
    ck_assert_int_eq(px[0], 0);
    ck_assert_int_eq(px[1], 50);
    ck_assert_int_eq(px[2], 128);
    /* Input tile top-left unchanged; "Input" drawn in black in its title strip. */
    px = rgb + ((size_t)top * pw + m) * 3;
    ck_assert_int_eq(px[1], 100);
    int black = 0;
    for (int y = m; y < top; y++)
        for (int x = m; x < m + 85; x++)
            black += !rgb[((size_t)y * pw + x) * 3] && !rgb[((size_t)y * pw + x) * 3 + 1];
    ck_assert_int_gt(black, 20);
    free(rgb);
    th_remove_tree(dir);
}
END_TEST

START_TEST(bad_prediction_folders_name_the_file)
{
    doubt_error err = {{0}};
    char **names;
    int n;
    ck_assert_int_ne(doubt_inspect_list("/nonexistent/preds", &names, &n, &err), DOUBT_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/preds"));
    char dir[64];
    th_make_temp_dir("doubt_eval", dir, sizeof dir);
    ck_assert_int_ne(doubt_inspect_list(dir, &names, &n, &err), DOUBT_OK);
    ck_assert_msg(strstr(err.msg, "no predictions") != NULL, "%s", err.msg);

    char images[128];
    snprintf(images, sizeof images, "%s/images", dir);
    ck_assert_int_eq(mkdir(images, 0755), 0);
    make_predictions(dir, images, "a", 8, 8);
    doubt_inspect_opts o = doubt_inspect_defaults();
    char out[128];
    snprintf(out, sizeof out, "%s/p.png", dir);
    /* Missing map. */
    ck_assert_int_eq(unlink(th_path(dir, "a.seg_mutual_info.png")), 0);
    ck_assert_int_ne(doubt_inspect_panel(dir, "a", &o, out, NULL, NULL, &err), DOUBT_OK);
    ck_assert_msg(strstr(err.msg, "a.seg_mutual_info.png") != NULL, "%s", err.msg);
    /* Unreadable PNG. */
    th_write_text(th_path(dir, "a.seg_mutual_info.png"), "not a png");
    ck_assert_int_ne(doubt_inspect_panel(dir, "a", &o, out, NULL, NULL, &err), DOUBT_OK);
    ck_assert_msg(strstr(err.msg, "a.seg_mutual_info.png") != NULL, "%s", err.msg);
    /* Input asked for but absent. */
    make_predictions(dir, images, "b", 8, 8);
    ck_assert_int_eq(unlink(th_path(images, "b.png")), 0);
    o.images = images;
    ck_assert_int_ne(doubt_inspect_panel(dir, "b", &o, out, NULL, NULL, &err), DOUBT_OK);
    ck_assert_msg(strstr(err.msg, "b.{png") != NULL, "%s", err.msg);
    ck_assert_int_eq(access(out, F_OK), -1);
    th_remove_tree(dir);
}
END_TEST


/* doubt eval --weights A,B scores the ensemble: the report's run lists both files, and a
 * member that cannot be read fails naming it. */
START_TEST(command_evaluates_an_ensemble)
{
    char dir[64];
    th_make_temp_dir("doubt_eval", dir, sizeof dir);
    make_dataset(dir, WITH_LABELS | WITH_DEPTH, 0);
    char *out, *err;
    int status = th_run_doubt((const char *[]){"eval", "--weights", WEIGHTS "," MEMBER_B,
                                               "--data", dir, "--samples", "2", NULL},
                              &out, &err);
    ck_assert_msg(status == 0, "exit %d: %s", status, err);
    cJSON *r = cJSON_Parse(out);
    ck_assert_ptr_nonnull(r);
    const cJSON *names =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "run"), "weights");
    ck_assert_int_eq(cJSON_GetArraySize(names), 2);
    ck_assert_str_eq(cJSON_GetArrayItem(names, 0)->valuestring, WEIGHTS);
    ck_assert_str_eq(cJSON_GetArrayItem(names, 1)->valuestring, MEMBER_B);
    cJSON_Delete(r);
    free(out);
    free(err);
    status = th_run_doubt((const char *[]){"eval", "--weights",
                                           WEIGHTS ",/nonexistent/b.safetensors", "--data", dir,
                                           NULL},
                          &out, &err);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(err, "/nonexistent/b.safetensors"), "%s", err);
    free(out);
    free(err);
    th_remove_tree(dir);
}
END_TEST

/* doubt eval --samples auto[:MAX]: each image's T in per_image, their mean, min and max in
 * samples_taken, the cap and tolerance in samples_auto; a fixed T gives samples_taken all T
 * and a null samples_auto; bad forms, --converge without auto and an ensemble are usage
 * errors. */
START_TEST(command_samples_auto_reports_each_image)
{
    char dir[64];
    th_make_temp_dir("doubt_eval", dir, sizeof dir);
    make_dataset(dir, WITH_LABELS | WITH_DEPTH, 0);
    char *out, *err;
    int status = th_run_doubt((const char *[]){"eval", "--weights", WEIGHTS, "--data", dir,
                                               "--samples", "auto:40", "--converge", "0.3",
                                               NULL},
                              &out, &err);
    ck_assert_msg(status == 0, "exit %d: %s", status, err);
    cJSON *r = cJSON_Parse(out);
    ck_assert_double_eq(num_at(r, "samples_auto.max"), 40);
    ck_assert_double_eq(num_at(r, "samples_auto.converge"), 0.3);
    ck_assert_double_eq(num_at(r, "samples"), 40);
    const cJSON *images = at(r, "per_image");
    double sum = 0, lo = 1e9, hi = 0;
    const int n = cJSON_GetArraySize(images);
    ck_assert_int_eq(n, 2);
    for (int i = 0; i < n; i++) {
        const double t = num_at(cJSON_GetArrayItem(images, i), "samples");
        printf("  eval --samples auto:40 --converge 0.3: image %d took T %g\n", i, t);
        ck_assert_msg(t >= 12 && t <= 40, "T %g", t);
        sum += t, lo = fmin(lo, t), hi = fmax(hi, t);
    }
    ck_assert_double_eq(num_at(r, "samples_taken.mean"), sum / n);
    ck_assert_double_eq(num_at(r, "samples_taken.min"), lo);
    ck_assert_double_eq(num_at(r, "samples_taken.max"), hi);
    ck_assert_msg(strstr(err, "samples per image, mean"), "%s", err);
    cJSON_Delete(r);
    free(out);
    free(err);
    status = th_run_doubt((const char *[]){"eval", "--weights", WEIGHTS, "--data", dir,
                                           "--samples", "3", NULL},
                          &out, &err);
    ck_assert_msg(status == 0, "exit %d: %s", status, err);
    r = cJSON_Parse(out);
    ck_assert(cJSON_IsNull(at(r, "samples_auto")));
    ck_assert_double_eq(num_at(r, "samples_taken.mean"), 3);
    ck_assert_double_eq(num_at(cJSON_GetArrayItem(at(r, "per_image"), 1), "samples"), 3);
    cJSON_Delete(r);
    free(out);
    free(err);
    static const struct {
        const char *a, *b, *c, *d, *message;
    } usage[] = {
        {"--samples", "auto:", NULL, NULL,
         "doubt eval: --samples 'auto:': T (1..100000), auto or auto:MAX (MAX 12..100000)\n"},
        {"--samples", "auto:0", NULL, NULL,
         "doubt eval: --samples 'auto:0': T (1..100000), auto or auto:MAX (MAX 12..100000)\n"},
        {"--samples", "autox", NULL, NULL,
         "doubt eval: --samples 'autox': T (1..100000), auto or auto:MAX (MAX 12..100000)\n"},
        {"--converge", "0.1", NULL, NULL, "doubt eval: --converge applies to --samples auto\n"},
        {"--samples", "auto", "--converge", "-1",
         "doubt eval: --converge '-1': a tolerance in 0..1\n"},
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        status = th_run_doubt((const char *[]){"eval", "--weights", WEIGHTS, "--data", dir,
                                               usage[i].a, usage[i].b, usage[i].c, usage[i].d,
                                               NULL},
                              &out, &err);
        ck_assert_msg(status == 2, "case %zu: exit %d", i, status);
        ck_assert_str_eq(err, usage[i].message);
        free(out);
        free(err);
    }
    status = th_run_doubt((const char *[]){"eval", "--weights", WEIGHTS "," MEMBER_B, "--data",
                                           dir, "--samples", "auto", NULL},
                          &out, &err);
    ck_assert_int_eq(status, 2);
    ck_assert_str_eq(err, "doubt eval: --samples auto takes one weights file: an ensemble's "
                          "members would stop at different T\n");
    free(out);
    free(err);
    th_remove_tree(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("eval");
    TCase *ev = tcase_create("eval");
    tcase_set_timeout(ev, 600);
    tcase_add_test(ev, report_keys_are_stable);
    tcase_add_test(ev, figures_match_direct_computation);
    tcase_add_test(ev, same_seed_same_report);
    tcase_add_test(ev, deterministic_is_one_pass_without_dropout);
    tcase_add_test(ev, single_task_sets_null_the_other_section);
    tcase_add_test(ev, plots_are_written);
    tcase_add_test(ev, bad_datasets_name_the_problem);
    tcase_add_test(ev, command_evaluates_an_ensemble);
    tcase_add_test(ev, command_samples_auto_reports_each_image);
    suite_add_tcase(s, ev);
    TCase *pn = tcase_create("panel");
    tcase_add_test(pn, compose_scales_and_titles);
    tcase_add_test(pn, panel_has_expected_size_overlay_and_title);
    tcase_add_test(pn, bad_prediction_folders_name_the_file);
    suite_add_tcase(s, pn);
    return th_run(s);
}
