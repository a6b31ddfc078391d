/* Metrics: hand-computed toys, NumPy/SciPy goldens (tools/metrics_golden.py), streaming
 * invariance, empty inputs, and pixels of the plots. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/rng.h"
#include "harness.h"
#include "metrics/metrics.h"
#include "metrics/uq.h"
#include "viz/plot.h"

#define GOLDEN "tests/golden/metrics/golden.json"

static void near(double got, double want, double tol, const char *what)
{
    if (isnan(want)) {
        ck_assert_msg(isnan(got), "%s: got %.17g, want NaN", what, got);
        return;
    }
    ck_assert_msg(fabs(got - want) <= tol * fmax(1.0, fabs(want)), "%s: got %.17g, want %.17g",
                  what, got, want);
}

/* ---- golden file helpers ----------------------------------------------------------------- */

static cJSON *golden(void)
{
    /* meson runs the suites in tests/; by hand they may run from the repository root */
    FILE *f = fopen(GOLDEN, "rb");
    if (!f)
        f = fopen(GOLDEN + strlen("tests/"), "rb");
    ck_assert_msg(f != NULL, "cannot open %s from the repository root or tests/", GOLDEN);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    ck_assert_msg(j != NULL, "%s is not JSON", GOLDEN);
    return j;
}

static cJSON *at(const cJSON *o, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(v != NULL, "golden key %s missing", key);
    return v;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = at(o, key);
    return cJSON_IsNull(v) ? NAN : v->valuedouble;
}

/* Array elements as float / uint8 / double (null -> NaN); returns the count. */
static int floats(const cJSON *a, float **out)
{
    int n = cJSON_GetArraySize(a);
    *out = malloc(sizeof **out * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++)
        (*out)[i] = (float)cJSON_GetArrayItem(a, i)->valuedouble;
    return n;
}

static int bytes(const cJSON *a, uint8_t **out)
{
    int n = cJSON_GetArraySize(a);
    *out = malloc((size_t)(n ? n : 1));
    for (int i = 0; i < n; i++)
        (*out)[i] = (uint8_t)cJSON_GetArrayItem(a, i)->valueint;
    return n;
}

static double item(const cJSON *a, int i)
{
    const cJSON *v = cJSON_GetArrayItem(a, i);
    return cJSON_IsNull(v) ? NAN : v->valuedouble;
}

/* ---- segmentation ------------------------------------------------------------------------ */

/* 2x3 image, 4 classes (class 3 absent everywhere); see the comments for the hand sums. */
START_TEST(seg_hand)
{
    const uint8_t label[6] = {0, 0, 1, 1, 255, 0};
    /* per pixel (c0, c1, c2, c3); pixel 4 is ignored, so its NaN must not matter */
    const float pix[6][4] = {{0.5f, 0.25f, 0.25f, 0}, {0.25f, 0.75f, 0, 0}, {0, 1, 0, 0},
                             {0.5f, 0.5f, 0, 0},      {NAN, NAN, NAN, NAN}, {0.25f, 0, 0.75f, 0}};
    float prob[4 * 6];
    for (int i = 0; i < 6; i++)
        for (int c = 0; c < 4; c++)
            prob[c * 6 + i] = pix[i][c];
    doubt_error err = {{0}};
    doubt_seg_metrics *m;
    ck_assert_int_eq(doubt_seg_metrics_create(4, &m, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_seg_metrics_add(m, label, NULL, prob, 2, 3, &err), DOUBT_OK);
    doubt_seg_result r;
    doubt_seg_metrics_result(m, &r);
    /* argmax (first on ties): 0 1 1 0 - 2  -> right, wrong, right, wrong, -, wrong */
    const int64_t want_cm[16] = {1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    ck_assert_mem_eq(doubt_seg_metrics_confusion(m), want_cm, sizeof want_cm);
    ck_assert_int_eq(r.pixels, 5);
    near(r.pixel_acc, 0.4, 1e-15, "pixel_acc");
    near(r.iou[0], 0.25, 1e-15, "iou0");      /* tp 1, row 3, col 2 */
    near(r.iou[1], 1.0 / 3.0, 1e-15, "iou1"); /* tp 1, row 2, col 2 */
    near(r.iou[2], 0.0, 1e-15, "iou2");       /* predicted once, never true */
    ck_assert(isnan(r.iou[3]));               /* union 0: left out of the mean */
    ck_assert_int_eq(r.classes_present, 3);
    near(r.miou, (0.25 + 1.0 / 3.0) / 3.0, 1e-15, "miou");
    /* -ln of p[y] = 0.5, 0.25, 1, 0.5, 0.25 */
    near(r.nll, (2 * log(2.0) + 2 * log(4.0)) / 5.0, 1e-15, "nll");
    /* squared distances to one-hot: 0.375, 1.125, 0, 0.5, 1.125 */
    near(r.brier, 3.125 / 5.0, 1e-15, "brier");
    /* bins: conf 0.5 -> 7 (acc 1/2), 0.75 -> 11 (acc 0), 1 -> 14 (acc 1): ECE = 2/5 * 0.75 */
    near(r.ece, 0.3, 1e-15, "ece");
    ck_assert_int_eq(r.bin_count[7], 2);
    ck_assert_int_eq(r.bin_count[11], 2);
    ck_assert_int_eq(r.bin_count[14], 1);
    near(r.bin_acc[7], 0.5, 0, "acc7");
    near(r.bin_conf[11], 0.75, 0, "conf11");
    ck_assert(isnan(r.bin_acc[0]));
    doubt_seg_metrics_destroy(m);
}
END_TEST

/* Accuracy equals confidence in every occupied bin: ECE is exactly 0. */
START_TEST(seg_ece_zero_when_calibrated)
{
    /* 4 pixels at confidence 0.75 with 3 right; 2 pixels at 0.5 with 1 right */
    const uint8_t label[6] = {0, 0, 0, 1, 0, 1};
    const float p0[6] = {0.75f, 0.75f, 0.75f, 0.75f, 0.5f, 0.5f};
    float prob[12];
    for (int i = 0; i < 6; i++) {
        prob[i] = p0[i];
        prob[6 + i] = 1.0f - p0[i];
    }
    doubt_seg_metrics *m;
    ck_assert_int_eq(doubt_seg_metrics_create(2, &m, NULL), DOUBT_OK);
    ck_assert_int_eq(doubt_seg_metrics_add(m, label, NULL, prob, 1, 6, NULL), DOUBT_OK);
    doubt_seg_result r;
    doubt_seg_metrics_result(m, &r);
    ck_assert(r.ece == 0.0);
    doubt_seg_metrics_destroy(m);
}
END_TEST

START_TEST(seg_golden)
{
    cJSON *g = golden(), *s = at(g, "seg");
    const int C = (int)num(s, "classes"), H = (int)num(s, "height"), W = (int)num(s, "width");
    doubt_seg_metrics *m;
    ck_assert_int_eq(doubt_seg_metrics_create(C, &m, NULL), DOUBT_OK);
    for (int k = 0; k < 2; k++) {
        const cJSON *img = cJSON_GetArrayItem(at(s, "images"), k);
        uint8_t *label;
        float *prob;
        ck_assert_int_eq(bytes(at(img, "label"), &label), H * W);
        ck_assert_int_eq(floats(at(img, "prob"), &prob), C * H * W);
        doubt_error err = {{0}};
        ck_assert_msg(doubt_seg_metrics_add(m, label, NULL, prob, H, W, &err) == DOUBT_OK, "%s",
                      err.msg);
        free(label);
        free(prob);
    }
    doubt_seg_result r;
    doubt_seg_metrics_result(m, &r);
    ck_assert_int_eq(r.pixels, (int64_t)num(s, "pixels"));
    for (int i = 0; i < C * C; i++)
        ck_assert_int_eq(doubt_seg_metrics_confusion(m)[i], (int64_t)item(at(s, "confusion"), i));
    near(r.pixel_acc, num(s, "pixel_acc"), 1e-12, "pixel_acc");
    for (int c = 0; c < C; c++)
        near(r.iou[c], item(at(s, "iou"), c), 1e-12, "iou");
    near(r.miou, num(s, "miou"), 1e-12, "miou");
    near(r.nll, num(s, "nll"), 1e-12, "nll");
    near(r.brier, num(s, "brier"), 1e-12, "brier");
    near(r.ece, num(s, "ece"), 1e-12, "ece");
    for (int b = 0; b < DOUBT_ECE_BINS; b++) {
        ck_assert_int_eq(r.bin_count[b], (int64_t)item(at(s, "bin_count"), b));
        near(r.bin_conf[b], item(at(s, "bin_conf"), b), 1e-12, "bin_conf");
        near(r.bin_acc[b], item(at(s, "bin_acc"), b), 1e-12, "bin_acc");
    }
    doubt_seg_metrics_destroy(m);
    cJSON_Delete(g);
}
END_TEST

/* The two golden images one after the other give bit-identical figures to one image of both
 * stacked vertically. */
START_TEST(seg_streaming_equals_concatenation)
{
    cJSON *g = golden(), *s = at(g, "seg");
    const int C = (int)num(s, "classes"), H = (int)num(s, "height"), W = (int)num(s, "width");
    const int64_t n = (int64_t)H * W;
    uint8_t *lab[2], *cat_lab = malloc((size_t)(2 * n));
    float *prob[2], *cat_prob = malloc(sizeof(float) * (size_t)(2 * n * C));
    doubt_seg_metrics *a, *b;
    ck_assert_int_eq(doubt_seg_metrics_create(C, &a, NULL), DOUBT_OK);
    ck_assert_int_eq(doubt_seg_metrics_create(C, &b, NULL), DOUBT_OK);
    for (int k = 0; k < 2; k++) {
        const cJSON *img = cJSON_GetArrayItem(at(s, "images"), k);
        bytes(at(img, "label"), &lab[k]);
        floats(at(img, "prob"), &prob[k]);
        ck_assert_int_eq(doubt_seg_metrics_add(a, lab[k], NULL, prob[k], H, W, NULL), DOUBT_OK);
        memcpy(cat_lab + k * n, lab[k], (size_t)n);
        for (int c = 0; c < C; c++)
            memcpy(cat_prob + c * 2 * n + k * n, prob[k] + c * n, sizeof(float) * (size_t)n);
    }
    ck_assert_int_eq(doubt_seg_metrics_add(b, cat_lab, NULL, cat_prob, 2 * H, W, NULL), DOUBT_OK);
    doubt_seg_result ra, rb;
    doubt_seg_metrics_result(a, &ra);
    doubt_seg_metrics_result(b, &rb);
    ck_assert(memcmp(&ra, &rb, sizeof ra) == 0);
    for (int k = 0; k < 2; k++) {
        free(lab[k]);
        free(prob[k]);
    }
    free(cat_lab);
    free(cat_prob);
    doubt_seg_metrics_destroy(a);
    doubt_seg_metrics_destroy(b);
    cJSON_Delete(g);
}
END_TEST

START_TEST(seg_empty_is_nan)
{
    const uint8_t label[4] = {255, 255, 255, 255};
    const float prob[8] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    doubt_seg_metrics *m;
    ck_assert_int_eq(doubt_seg_metrics_create(2, &m, NULL), DOUBT_OK);
    ck_assert_int_eq(doubt_seg_metrics_add(m, label, NULL, prob, 2, 2, NULL), DOUBT_OK);
    ck_assert_int_eq(doubt_seg_metrics_add(m, label, NULL, prob, 0, 0, NULL), DOUBT_OK);
    doubt_seg_result r;
    doubt_seg_metrics_result(m, &r);
    ck_assert_int_eq(r.pixels, 0);
    ck_assert(isnan(r.pixel_acc) && isnan(r.miou) && isnan(r.nll) && isnan(r.brier) &&
              isnan(r.ece) && isnan(r.iou[0]));
    doubt_seg_metrics_destroy(m);
}
END_TEST

START_TEST(seg_errors_name_the_pixel)
{
    uint8_t label[6] = {0, 1, 0, 1, 0, 1};
    float prob[12];
    for (int i = 0; i < 12; i++)
        prob[i] = 0.5f;
    doubt_error err = {{0}};
    doubt_seg_metrics *m;
    ck_assert_int_eq(doubt_seg_metrics_create(0, &m, &err), DOUBT_ERR_ARG);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(doubt_seg_metrics_create(2, &m, &err), DOUBT_OK);
    label[4] = 7;
    ck_assert_int_eq(doubt_seg_metrics_add(m, label, NULL, prob, 2, 3, &err), DOUBT_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "label 7 at pixel (1, 1)") != NULL, "%s", err.msg);
    label[4] = 0;
    prob[6 + 5] = NAN;
    ck_assert_int_eq(doubt_seg_metrics_add(m, label, NULL, prob, 2, 3, &err), DOUBT_ERR_NUMERIC);
    ck_assert_msg(strstr(err.msg, "class 1 at pixel (2, 1)") != NULL, "%s", err.msg);
    doubt_seg_result r;
    doubt_seg_metrics_result(m, &r);
    ck_assert_int_eq(r.pixels, 0); /* failed images are not counted */
    /* a given prediction without probabilities: confusion figures only */
    const uint8_t pred[6] = {0, 1, 1, 1, 0, 0};
    ck_assert_int_eq(doubt_seg_metrics_add(m, label, pred, NULL, 2, 3, &err), DOUBT_OK);
    doubt_seg_metrics_result(m, &r);
    near(r.pixel_acc, 4.0 / 6.0, 1e-15, "acc from pred");
    ck_assert(isnan(r.nll));
    doubt_seg_metrics_destroy(m);
    doubt_seg_metrics_destroy(NULL);
}
END_TEST

/* ---- depth -------------------------------------------------------------------------------- */

START_TEST(depth_hand)
{
    /* valid pixels (μ, y, σ²) = (2, 2, 1) and (4, 5, 0.25); y = 0 and y = NaN are ignored */
    const float pred[4] = {2, 4, 7, NAN}, gt[4] = {2, 5, 0, NAN}, var[4] = {1, 0.25f, 1, 1};
    doubt_depth_metrics *m;
    ck_assert_int_eq(doubt_depth_metrics_create(&m, NULL), DOUBT_OK);
    ck_assert_int_eq(doubt_depth_metrics_add(m, pred, gt, var, 2, 2, NULL), DOUBT_OK);
    doubt_depth_result r;
    doubt_depth_metrics_result(m, &r);
    ck_assert_int_eq(r.pixels, 2);
    near(r.abs_rel, 0.1, 1e-15, "abs_rel");                   /* (0 + 1/5) / 2 */
    near(r.sq_rel, 0.1, 1e-15, "sq_rel");                     /* (0 + 1/5) / 2 */
    near(r.rmse, 0.70710678118654752, 1e-15, "rmse");         /* sqrt(1/2) */
    near(r.rmse_log, 0.15778631831232600, 1e-14, "rmse_log"); /* |ln 0.8| / sqrt 2 */
    near(r.log10, 0.048455006504028196, 1e-14, "log10");      /* |log10 0.8| / 2 */
    near(r.delta[0], 0.5, 0, "delta1");                       /* ratio 1.25 is not < 1.25 */
    near(r.delta[1], 1.0, 0, "delta2");
    /* (½ ln 2π + 0 + ½ ln(2π/4) + 1/(2·0.25)) / 2 */
    near(r.nll, 1.5723649429247001, 1e-14, "nll");
    near(r.within[0], 0.5, 0, "within1"); /* |d| = 1 > σ = 0.5 */
    near(r.within[1], 1.0, 0, "within2");
    near(doubt_depth_within_ideal[1], 0.9545, 1e-4, "ideal");
    doubt_depth_metrics_destroy(m);
}
END_TEST

START_TEST(depth_golden_and_streaming)
{
    cJSON *g = golden(), *d = at(g, "depth");
    const int H = (int)num(d, "height"), W = (int)num(d, "width");
    const int64_t n = (int64_t)H * W;
    float *cat[3];
    for (int f = 0; f < 3; f++)
        cat[f] = malloc(sizeof(float) * (size_t)(2 * n));
    static const char *names[3] = {"pred", "gt", "var"};
    doubt_depth_metrics *a, *b;
    ck_assert_int_eq(doubt_depth_metrics_create(&a, NULL), DOUBT_OK);
    ck_assert_int_eq(doubt_depth_metrics_create(&b, NULL), DOUBT_OK);
    for (int k = 0; k < 2; k++) {
        const cJSON *img = cJSON_GetArrayItem(at(d, "images"), k);
        float *v[3];
        for (int f = 0; f < 3; f++) {
            ck_assert_int_eq(floats(at(img, names[f]), &v[f]), n);
            memcpy(cat[f] + k * n, v[f], sizeof(float) * (size_t)n);
        }
        ck_assert_int_eq(doubt_depth_metrics_add(a, v[0], v[1], v[2], H, W, NULL), DOUBT_OK);
        for (int f = 0; f < 3; f++)
            free(v[f]);
    }
    ck_assert_int_eq(doubt_depth_metrics_add(b, cat[0], cat[1], cat[2], 2 * H, W, NULL), DOUBT_OK);
    doubt_depth_result r, rb;
    doubt_depth_metrics_result(a, &r);
    doubt_depth_metrics_result(b, &rb);
    ck_assert(memcmp(&r, &rb, sizeof r) == 0);
    ck_assert_int_eq(r.pixels, (int64_t)num(d, "pixels"));
    near(r.abs_rel, num(d, "abs_rel"), 1e-12, "abs_rel");
    near(r.sq_rel, num(d, "sq_rel"), 1e-12, "sq_rel");
    near(r.rmse, num(d, "rmse"), 1e-12, "rmse");
    near(r.rmse_log, num(d, "rmse_log"), 1e-12, "rmse_log");
    near(r.log10, num(d, "log10"), 1e-12, "log10");
    near(r.nll, num(d, "nll"), 1e-12, "nll");
    for (int k = 0; k < 3; k++) {
        near(r.delta[k], item(at(d, "delta"), k), 1e-15, "delta");
        near(r.within[k], item(at(d, "within"), k), 1e-15, "within");
    }
    for (int f = 0; f < 3; f++)
        free(cat[f]);
    doubt_depth_metrics_destroy(a);
    doubt_depth_metrics_destroy(b);
    cJSON_Delete(g);
}
END_TEST

START_TEST(depth_empty_and_errors)
{
    const float zero[3] = {0, 0, -1}, pred[3] = {1, NAN, 2}, gt[3] = {1, 2, 3};
    const float badvar[3] = {1, 1, -1};
    doubt_error err = {{0}};
    doubt_depth_metrics *m;
    ck_assert_int_eq(doubt_depth_metrics_create(&m, NULL), DOUBT_OK);
    ck_assert_int_eq(doubt_depth_metrics_add(m, pred, zero, NULL, 1, 3, &err), DOUBT_OK);
    doubt_depth_result r;
    doubt_depth_metrics_result(m, &r);
    ck_assert_int_eq(r.pixels, 0);
    ck_assert(isnan(r.abs_rel) && isnan(r.rmse) && isnan(r.delta[0]) && isnan(r.nll) &&
              isnan(r.within[2]));
    ck_assert_int_eq(doubt_depth_metrics_add(m, pred, gt, NULL, 1, 3, &err), DOUBT_ERR_NUMERIC);
    ck_assert_msg(strstr(err.msg, "pixel (1, 0)") != NULL, "%s", err.msg);
    ck_assert_int_eq(doubt_depth_metrics_add(m, gt, gt, badvar, 1, 3, &err), DOUBT_ERR_NUMERIC);
    ck_assert_msg(strstr(err.msg, "pixel (2, 0)") != NULL, "%s", err.msg);
    doubt_depth_metrics_result(m, &r);
    ck_assert_int_eq(r.pixels, 0);
    /* without a variance the variance figures stay NaN */
    ck_assert_int_eq(doubt_depth_metrics_add(m, gt, gt, NULL, 1, 3, &err), DOUBT_OK);
    doubt_depth_metrics_result(m, &r);
    near(r.rmse, 0.0, 0, "rmse");
    ck_assert(isnan(r.nll) && r.var_pixels == 0);
    doubt_depth_metrics_destroy(m);
    doubt_depth_metrics_destroy(NULL);
}
END_TEST

/* ---- pixel subsample ---------------------------------------------------------------------- */

START_TEST(pixsample_keeps_all_under_cap)
{
    float v[10], w[10];
    uint8_t valid[10];
    for (int i = 0; i < 10; i++) {
        v[i] = (float)i;
        w[i] = (float)(100 + i);
        valid[i] = i != 3;
    }
    v[3] = NAN; /* invalid pixels may hold anything */
    doubt_pixsample *s;
    ck_assert_int_eq(doubt_pixsample_create(100, 2, 7, &s, NULL), DOUBT_OK);
    const float *f[2] = {v, w};
    ck_assert_int_eq(doubt_pixsample_add(s, f, valid, 10, NULL), DOUBT_OK);
    ck_assert_int_eq(doubt_pixsample_count(s), 9);
    ck_assert_int_eq(doubt_pixsample_seen(s), 9);
    float out[9];
    doubt_pixsample_export(s, 1, out);
    for (int i = 0, k = 0; i < 10; i++)
        if (i != 3)
            ck_assert(out[k++] == w[i]); /* arrival order */
    doubt_error err = {{0}};
    valid[3] = 1;
    ck_assert_int_eq(doubt_pixsample_add(s, f, valid, 10, &err), DOUBT_ERR_NUMERIC);
    ck_assert_msg(strstr(err.msg, "field 0 of pixel 3") != NULL, "%s", err.msg);
    ck_assert_int_eq(doubt_pixsample_count(s), 9);
    doubt_pixsample_destroy(s);
    doubt_pixsample_destroy(NULL);
}
END_TEST

/* Over the cap (so the buffer is cut many times): exactly cap distinct pixels in arrival order,
 * identical for one call or two, spread over the whole stream (bottom-k is uniform), and the
 * same as an independent bottom-k selection. */
START_TEST(pixsample_bounded_uniform_deterministic)
{
    enum { N = 100000, CAP = 1000 };
    float *v = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++)
        v[i] = (float)i;
    doubt_pixsample *one, *two;
    ck_assert_int_eq(doubt_pixsample_create(CAP, 1, 42, &one, NULL), DOUBT_OK);
    ck_assert_int_eq(doubt_pixsample_create(CAP, 1, 42, &two, NULL), DOUBT_OK);
    const float *f[1] = {v}, *f2[1] = {v + 30000};
    ck_assert_int_eq(doubt_pixsample_add(one, f, NULL, N, NULL), DOUBT_OK);
    ck_assert_int_eq(doubt_pixsample_add(two, f, NULL, 30000, NULL), DOUBT_OK);
    ck_assert_int_eq(doubt_pixsample_add(two, f2, NULL, N - 30000, NULL), DOUBT_OK);
    ck_assert_int_eq(doubt_pixsample_count(one), CAP);
    float a[CAP], b[CAP];
    doubt_pixsample_export(one, 0, a);
    doubt_pixsample_export(two, 0, b);
    ck_assert_mem_eq(a, b, sizeof a);
    /* reference: the CAP positions with the smallest Philox priorities, by brute force */
    const doubt_rng_key key = {42, 0, 0x50495853u};
    uint32_t *prio = malloc(sizeof(uint32_t) * N);
    for (int i = 0; i < N; i++)
        prio[i] = doubt_rng_bits(key, (uint64_t)i);
    int kept = 0;
    double mean = 0.0;
    for (int k = 0; k < CAP; k++) {
        ck_assert(k == 0 || a[k] > a[k - 1]); /* distinct, in arrival order */
        const int i = (int)a[k];
        int smaller = 0; /* a kept pixel has fewer than CAP pixels ranked before it */
        for (int j = 0; j < N && smaller < CAP; j++)
            smaller += prio[j] < prio[i] || (prio[j] == prio[i] && j < i);
        kept += smaller < CAP;
        mean += a[k] / CAP;
    }
    ck_assert_int_eq(kept, CAP);
    ck_assert_msg(fabs(mean - N / 2.0) < 0.05 * N, "sample mean %g: not spread over the stream",
                  mean);
    free(prio);
    free(v);
    doubt_pixsample_destroy(one);
    doubt_pixsample_destroy(two);
}
END_TEST

/* ---- sparsification ------------------------------------------------------------------------- */

START_TEST(sparsification_golden)
{
    cJSON *g = golden(), *s = at(g, "sparse");
    float *u, *e, *wrong;
    const int n = floats(at(s, "u"), &u);
    floats(at(s, "e"), &e);
    floats(at(s, "wrong"), &wrong);
    doubt_sparsification sp;
    ck_assert_int_eq(doubt_sparsification_compute(u, e, n, DOUBT_SPARSE_RMSE, &sp, NULL), DOUBT_OK);
    for (int k = 0; k < DOUBT_SPARSE_STEPS; k++) {
        near(sp.fraction[k], k * 0.02, 1e-15, "fraction");
        near(sp.model[k], item(at(s, "rmse_model"), k), 1e-12, "rmse model");
        near(sp.oracle[k], item(at(s, "rmse_oracle"), k), 1e-12, "rmse oracle");
    }
    near(sp.ause, num(s, "rmse_ause"), 1e-12, "rmse ause");
    near(sp.full, num(s, "rmse_full"), 1e-12, "rmse full");
    ck_assert_int_eq(doubt_sparsification_compute(u, wrong, n, DOUBT_SPARSE_MEAN, &sp, NULL),
                     DOUBT_OK);
    for (int k = 0; k < DOUBT_SPARSE_STEPS; k++) {
        near(sp.model[k], item(at(s, "mean_model"), k), 1e-12, "mean model");
        near(sp.oracle[k], item(at(s, "mean_oracle"), k), 1e-12, "mean oracle");
    }
    near(sp.ause, num(s, "mean_ause"), 1e-12, "mean ause");
    free(u);
    free(e);
    free(wrong);
    cJSON_Delete(g);
}
END_TEST

START_TEST(sparsification_perfect_ranking_gives_zero)
{
    enum { N = 257 };
    float e[N], u[N], rev[N];
    th_fill(e, N, 5, 0.0f, 3.0f);
    for (int i = 0; i < N; i++) {
        u[i] = 10.0f + 2.0f * e[i]; /* any increasing function of the error */
        rev[i] = -e[i];
    }
    doubt_sparsification sp;
    ck_assert_int_eq(doubt_sparsification_compute(u, e, N, DOUBT_SPARSE_RMSE, &sp, NULL), DOUBT_OK);
    ck_assert(sp.ause == 0.0);
    near(sp.model[0], 1.0, 0, "first point");
    ck_assert_int_eq(doubt_sparsification_compute(rev, e, N, DOUBT_SPARSE_MEAN, &sp, NULL),
                     DOUBT_OK);
    ck_assert(sp.ause > 0.5); /* the worst ranking: the curve rises while the oracle falls */
    ck_assert(sp.model[DOUBT_SPARSE_STEPS - 1] > 1.0);
    /* nothing wrong: nothing to sparsify */
    float zero[N];
    memset(zero, 0, sizeof zero);
    ck_assert_int_eq(doubt_sparsification_compute(u, zero, N, DOUBT_SPARSE_MEAN, &sp, NULL),
                     DOUBT_OK);
    ck_assert(sp.ause == 0.0 && sp.full == 0.0);
    ck_assert_int_eq(doubt_sparsification_compute(NULL, NULL, 0, DOUBT_SPARSE_RMSE, &sp, NULL),
                     DOUBT_OK);
    ck_assert(isnan(sp.ause) && isnan(sp.model[0]));
}
END_TEST

/* ---- AUROC, Spearman, ratio ----------------------------------------------------------------- */

START_TEST(auroc_cases)
{
    cJSON *g = golden(), *a = at(g, "auroc");
    float *score;
    uint8_t *pos;
    const int n = floats(at(a, "score"), &score);
    bytes(at(a, "positive"), &pos);
    near(doubt_auroc(score, pos, n), num(a, "auroc"), 1e-12, "golden auroc (ties)");
    free(score);
    free(pos);
    cJSON_Delete(g);

    const float sep[6] = {0.1f, 0.2f, 0.3f, 0.7f, 0.8f, 0.9f}, flat[6] = {1, 1, 1, 1, 1, 1};
    const uint8_t wrong[6] = {0, 0, 0, 1, 1, 1}, right[6] = {1, 1, 1, 0, 0, 0};
    const uint8_t none[6] = {0};
    ck_assert(doubt_auroc(sep, wrong, 6) == 1.0);
    ck_assert(doubt_auroc(sep, right, 6) == 0.0);
    ck_assert(doubt_auroc(flat, wrong, 6) == 0.5);
    ck_assert(isnan(doubt_auroc(sep, none, 6)));
    /* hand: positives {0.5, 0.2}, negatives {0.2, 0.1}: pairs 1 + 1 + 0.5 + 1 = 3.5 of 4 */
    const float h[4] = {0.5f, 0.2f, 0.2f, 0.1f};
    const uint8_t hp[4] = {1, 1, 0, 0};
    near(doubt_auroc(h, hp, 4), 0.875, 1e-15, "hand auroc");
}
END_TEST

START_TEST(spearman_cases)
{
    cJSON *g = golden(), *s = at(g, "spearman");
    float *a, *b;
    const int n = floats(at(s, "a"), &a);
    floats(at(s, "b"), &b);
    near(doubt_spearman(a, b, n), num(s, "rho"), 1e-12, "golden spearman (ties)");
    near(doubt_mean_ratio(a, b, n), num(s, "ratio"), 1e-12, "golden ratio");
    free(a);
    free(b);
    cJSON_Delete(g);

    float x[20], cube[20], rev[20], flat[20];
    for (int i = 0; i < 20; i++) {
        x[i] = (float)((i * 7) % 20) - 9.5f;
        cube[i] = x[i] * x[i] * x[i];
        rev[i] = expf(-x[i]);
        flat[i] = 2.0f;
    }
    ck_assert(fabs(doubt_spearman(x, cube, 20) - 1.0) < 1e-15);
    ck_assert(fabs(doubt_spearman(x, rev, 20) + 1.0) < 1e-15);
    ck_assert(isnan(doubt_spearman(x, flat, 20)));
    ck_assert(isnan(doubt_spearman(x, x, 1)));
    near(doubt_mean_ratio(flat, x, 0), NAN, 0, "empty ratio");
    const float p[2] = {1, 3}, q[2] = {4, 4};
    near(doubt_mean_ratio(p, q, 2), 0.5, 0, "ratio");
    /* first 4: ratios 4, 0.5, 2 (ref 0 skipped), median 2; all 5 add 3: (2 + 3) / 2 */
    const float mp[5] = {4, 1, 7, 2, 6}, mr[5] = {1, 2, 0, 1, 2};
    near(doubt_median_ratio(mp, mr, 4), 2, 0, "median ratio, odd count");
    near(doubt_median_ratio(mp, mr, 5), 2.5, 0, "median ratio, even count");
    near(doubt_median_ratio(mp, q, 0), NAN, 0, "empty median ratio");
    near(doubt_median(mp, 3), 4, 0, "median, odd count");
    near(doubt_median(mp, 4), 3, 0, "median, even count");
    near(doubt_median(mp, 0), NAN, 0, "empty median");
}
END_TEST

/* ---- PAvPU -------------------------------------------------------------------------------- */

START_TEST(pavpu_cases)
{
    cJSON *g = golden(), *pv = at(g, "pavpu");
    const int H = (int)num(pv, "height"), W = (int)num(pv, "width");
    uint8_t *correct, *valid;
    float *unc;
    bytes(at(pv, "correct"), &correct);
    bytes(at(pv, "valid"), &valid);
    floats(at(pv, "unc"), &unc);
    static const char *which[2] = {"fixed", "mean"};
    for (int k = 0; k < 2; k++) {
        const cJSON *want = at(pv, which[k]), *c = at(want, "counts");
        doubt_pavpu *p;
        ck_assert_int_eq(doubt_pavpu_create(k == 0 ? num(want, "threshold") : NAN, &p, NULL),
                         DOUBT_OK);
        ck_assert_int_eq(doubt_pavpu_add(p, correct, valid, unc, H, W, NULL), DOUBT_OK);
        doubt_pavpu_result r;
        doubt_pavpu_summary(p, &r);
        ck_assert_int_eq(r.n_ac, (int64_t)num(c, "ac"));
        ck_assert_int_eq(r.n_au, (int64_t)num(c, "au"));
        ck_assert_int_eq(r.n_ic, (int64_t)num(c, "ic"));
        ck_assert_int_eq(r.n_iu, (int64_t)num(c, "iu"));
        near(r.threshold, num(want, "threshold"), 1e-12, "threshold");
        near(r.pavpu, num(want, "pavpu"), 1e-15, "pavpu");
        doubt_pavpu_destroy(p);
    }
    free(correct);
    free(valid);
    free(unc);
    cJSON_Delete(g);

    /* hand: an 8x4 image, top patch right and sure, bottom patch 2 of 16 right and unsure */
    uint8_t ok[32];
    float u[32];
    for (int i = 0; i < 32; i++) {
        ok[i] = i < 16 || i >= 30;
        u[i] = i < 16 ? 0.1f : 0.9f;
    }
    doubt_pavpu *p;
    ck_assert_int_eq(doubt_pavpu_create(0.5, &p, NULL), DOUBT_OK);
    ck_assert_int_eq(doubt_pavpu_add(p, ok, NULL, u, 8, 4, NULL), DOUBT_OK);
    doubt_pavpu_result r;
    doubt_pavpu_summary(p, &r);
    ck_assert(r.n_ac == 1 && r.n_iu == 1 && r.n_au == 0 && r.n_ic == 0 && r.pavpu == 1.0);
    doubt_pavpu_destroy(p);
    /* nothing valid: NaN, no crash */
    const uint8_t none[32] = {0};
    ck_assert_int_eq(doubt_pavpu_create(NAN, &p, NULL), DOUBT_OK);
    ck_assert_int_eq(doubt_pavpu_add(p, ok, none, u, 8, 4, NULL), DOUBT_OK);
    doubt_pavpu_summary(p, &r);
    ck_assert(isnan(r.pavpu) && isnan(r.threshold));
    doubt_pavpu_destroy(p);
    doubt_pavpu_destroy(NULL);
}
END_TEST

/* ---- plots -------------------------------------------------------------------------------- */

static const uint8_t *px(const uint8_t *rgb, int w, int x, int y)
{
    return rgb + ((size_t)y * (size_t)w + (size_t)x) * 3;
}

static int is_rgb(const uint8_t *p, int r, int g, int b)
{
    return p[0] == r && p[1] == g && p[2] == b;
}

START_TEST(plot_pixels)
{
    doubt_plot_desc d = doubt_plot_defaults();
    d.title = "Test";
    d.xlabel = "x";
    d.ylabel = "y";
    doubt_plot *p;
    ck_assert_int_eq(doubt_plot_create(&d, &p, NULL), DOUBT_OK);
    int ax, ay, aw, ah;
    doubt_plot_area(p, &ax, &ay, &aw, &ah);
    /* the documented layout at 640x480 (scale 2) */
    ck_assert(ax == 100 && ay == 52 && aw == 510 && ah == 356);
    const double x[2] = {0.0, 1.0}, y[2] = {0.5, 0.5};
    doubt_plot_line(p, x, y, 2, doubt_plot_style_of(DOUBT_PLOT_RED), NULL);
    const double lo[1] = {0.5}, hi[1] = {0.75}, h[1] = {0.25};
    const uint8_t green[3] = {44, 160, 44};
    doubt_plot_bars(p, lo, hi, h, 1, green, NULL);
    int w, hh;
    const uint8_t *rgb = doubt_plot_render(p, &w, &hh);
    ck_assert(w == 640 && hh == 480);
    ck_assert(is_rgb(px(rgb, w, 2, 2), 255, 255, 255)); /* background */
    ck_assert(is_rgb(px(rgb, w, 630, 470), 255, 255, 255));
    for (int yy = ay; yy < ay + ah; yy++)
        ck_assert(is_rgb(px(rgb, w, ax, yy), 0, 0, 0)); /* the y axis */
    for (int xx = ax; xx < ax + aw; xx++)
        ck_assert(is_rgb(px(rgb, w, xx, ay + ah - 1), 0, 0, 0)); /* the x axis */
    /* y = 0.5 maps to the middle row of the area; x = 0.25 is away from ticks and grid */
    const int mid = ay + (int)lround((ah - 1) * 0.5);
    ck_assert(is_rgb(px(rgb, w, ax + aw / 4 + 3, mid), 214, 39, 40));
    ck_assert(is_rgb(px(rgb, w, ax + aw / 4 + 3, mid - 8), 255, 255, 255));
    /* the bar spans x 0.5..0.75, height 0.25: its inside is green, above it white */
    const int bx = ax + (int)lround((aw - 1) * 0.625), by = ay + (int)lround((ah - 1) * 0.9);
    ck_assert(is_rgb(px(rgb, w, bx, by), 44, 160, 44));
    ck_assert(is_rgb(px(rgb, w, bx + 3, ay + (int)lround((ah - 1) * 0.7)), 255, 255, 255));
    /* a tick below the x axis at x = 0, a tick label under it */
    ck_assert(is_rgb(px(rgb, w, ax, ay + ah + 2), 0, 0, 0));
    int ink = 0;
    for (int yy = ay + ah + 6; yy < ay + ah + 30; yy++)
        for (int xx = ax - 20; xx < ax + 20; xx++)
            ink += px(rgb, w, xx, yy)[0] == 0;
    ck_assert_int_gt(ink, 10);
    doubt_plot_destroy(p);
    doubt_plot_destroy(NULL);

    d.x1 = d.x0;
    ck_assert_int_eq(doubt_plot_create(&d, &p, NULL), DOUBT_ERR_ARG);
}
END_TEST

START_TEST(plot_figures_write_files)
{
    char dir[] = "/tmp/doubt_metrics_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[3][128];
    snprintf(path[0], sizeof path[0], "%s/reliability.png", dir);
    snprintf(path[1], sizeof path[1], "%s/sparsification.png", dir);
    snprintf(path[2], sizeof path[2], "%s/uncertainty_error.png", dir);
    doubt_seg_result r;
    memset(&r, 0, sizeof r);
    for (int b = 0; b < DOUBT_ECE_BINS; b++) {
        r.bin_conf[b] = (b + 0.5) / DOUBT_ECE_BINS;
        r.bin_acc[b] = b < 3 ? NAN : 0.9 * r.bin_conf[b];
    }
    r.ece = 0.05;
    doubt_error err = {{0}};
    ck_assert_msg(doubt_plot_reliability(path[0], &r, NULL, &err) == DOUBT_OK, "%s", err.msg);
    enum { N = 500 };
    float u[N], e[N];
    th_fill(u, N, 3, 0.0f, 1.0f);
    th_fill(e, N, 4, 0.0f, 1.0f);
    for (int i = 0; i < N; i++)
        e[i] *= u[i];
    doubt_sparsification sp;
    ck_assert_int_eq(doubt_sparsification_compute(u, e, N, DOUBT_SPARSE_RMSE, &sp, NULL), DOUBT_OK);
    ck_assert_msg(doubt_plot_sparsification(path[1], &sp, "RMSE", NULL, &err) == DOUBT_OK, "%s",
                  err.msg);
    ck_assert_msg(doubt_plot_uncertainty_error(path[2], u, e, N, NULL, NULL, NULL, &err) ==
                      DOUBT_OK,
                  "%s", err.msg);
    ck_assert_int_eq(doubt_plot_uncertainty_error(path[2], u, e, 5, NULL, NULL, NULL, &err),
                     DOUBT_ERR_ARG);
    for (int k = 0; k < 3; k++) {
        struct stat st;
        ck_assert_int_eq(stat(path[k], &st), 0);
        ck_assert_int_gt(st.st_size, 1000);
        unlink(path[k]);
    }
    rmdir(dir);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *seg = tcase_create("segmentation");
    tcase_add_test(seg, seg_hand);
    tcase_add_test(seg, seg_ece_zero_when_calibrated);
    tcase_add_test(seg, seg_golden);
    tcase_add_test(seg, seg_streaming_equals_concatenation);
    tcase_add_test(seg, seg_empty_is_nan);
    tcase_add_test(seg, seg_errors_name_the_pixel);
    suite_add_tcase(s, seg);
    TCase *depth = tcase_create("depth");
    tcase_add_test(depth, depth_hand);
    tcase_add_test(depth, depth_golden_and_streaming);
    tcase_add_test(depth, depth_empty_and_errors);
    suite_add_tcase(s, depth);
    TCase *uq = tcase_create("uncertainty");
    tcase_add_test(uq, pixsample_keeps_all_under_cap);
    tcase_add_test(uq, pixsample_bounded_uniform_deterministic);
    tcase_add_test(uq, sparsification_golden);
    tcase_add_test(uq, sparsification_perfect_ranking_gives_zero);
    tcase_add_test(uq, auroc_cases);
    tcase_add_test(uq, spearman_cases);
    tcase_add_test(uq, pavpu_cases);
    suite_add_tcase(s, uq);
    TCase *plot = tcase_create("plot");
    tcase_add_test(plot, plot_pixels);
    tcase_add_test(plot, plot_figures_write_files);
    suite_add_tcase(s, plot);
    return s;
}

int main(void) { return th_run(metrics_suite()); }
