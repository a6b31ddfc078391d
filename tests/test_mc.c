/* MC inference against a direct computation: every sample run in full through a batch-1
 * network, kept, and summarised with two-pass formulas in double precision. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "io/npy.h"
#include "model/mc.h"
#include "model/weights.h"

#define WEIGHTS "tests/golden/model/unet_tiny.safetensors"
/* the second ensemble member: unet_tiny perturbed, dropout 0.25 (tools/ensemble_golden.py) */
#define MEMBER_B "tests/golden/model/unet_tiny_b.safetensors"
#define ENSEMBLE_MAPS "tests/golden/model/unet_tiny_ensemble_maps.npy"
#define SAMPLES 6

static doubt_safetensors *read_weights(const char *path)
{
    doubt_safetensors *f = NULL;
    doubt_error err = {{0}};
    ck_assert_msg(doubt_safetensors_read(path, &f, &err) == DOUBT_OK, "%s", err.msg);
    return f;
}

static doubt_safetensors *weights(void)
{
    return read_weights(WEIGHTS);
}

static float *test_image(int width, int height)
{
    float *img = malloc((size_t)3 * width * height * sizeof *img);
    th_fill(img, 3L * width * height, 5, 0, 1);
    return img;
}

typedef struct {
    double *depth_mean, *depth_epi, *depth_ale, *entropy, *aleatoric, *mi, *logit_var, *prob;
} direct_maps;

/* One sample's depth mean and variance in metres, from the moments of the distribution the
 * head describes: Gaussian metric depth; log-normal depth, mean e^(m+v/2), variance
 * (e^v - 1) e^(2m+v); inverse depth q by the delta method, mean 1/q, variance v/q^4, with q
 * at least 1e-3 as documented (the network here is untrained, so q can be negative). */
static void in_metres(doubt_depth_param kind, double m, double s, double *mean, double *var)
{
    const double v = exp(fmin(s, 80));
    if (kind == DOUBT_DEPTH_METRIC) {
        *mean = m;
        *var = v;
    } else if (kind == DOUBT_DEPTH_LOG) {
        *mean = exp(m + v / 2);
        *var = (exp(v) - 1) * exp(2 * m + v);
    } else {
        const double q = m > 1e-3 ? m : 1e-3;
        *mean = 1 / q;
        *var = v / pow(q, 4);
    }
}

/* The raw outputs [samples, C+3, H, W] of a batch-1 network of the whole graph with dropout
 * on, sample t on stream t (padded size = the image's here). */
static float *raw_samples(doubt_ctx *ctx, const doubt_safetensors *w, const float *img,
                          int width, int height, int samples)
{
    doubt_net *net;
    TH_OK(ctx, doubt_net_create(ctx, &w->network, 1, height, width, DOUBT_MODE_INFER, &net));
    TH_OK(ctx, doubt_weights_load(ctx, net, w));
    const size_t row = (size_t)(w->network.classes + 3) * width * height;
    float *kept = malloc(samples * row * sizeof *kept);
    for (int t = 0; t < samples; t++) {
        TH_OK(ctx, doubt_net_forward(ctx, net, img, 1, (uint64_t)t));
        memcpy(kept + t * row, doubt_net_output(net), row * sizeof *kept);
    }
    doubt_net_destroy(net);
    return kept;
}

/* Keeps all T outputs of a batch-1 network and reduces. */
static direct_maps direct(doubt_ctx *ctx, const doubt_safetensors *w, const float *img,
                          int width, int height)
{
    const doubt_depth_param kind = w->network.depth;
    const int c = w->network.classes;
    const size_t hw = (size_t)width * height, row = (size_t)(c + 3) * hw;
    float *kept = raw_samples(ctx, w, img, width, height, SAMPLES);
    direct_maps d;
    double **all[] = {&d.depth_mean, &d.depth_epi, &d.depth_ale, &d.entropy, &d.aleatoric,
                      &d.mi, &d.logit_var};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        *all[i] = calloc(hw, sizeof(double));
    d.prob = calloc(hw * c, sizeof(double));
    for (size_t p = 0; p < hw; p++) {
        double mean = 0, var = 0, mu[SAMPLES], sample_var[SAMPLES];
        for (int t = 0; t < SAMPLES; t++) {
            in_metres(kind, kept[t * row + (c + 1) * hw + p], kept[t * row + (c + 2) * hw + p],
                      &mu[t], &sample_var[t]);
            mean += mu[t] / SAMPLES;
        }
        for (int t = 0; t < SAMPLES; t++) {
            double dev = mu[t] - mean;
            var += dev * dev / SAMPLES;
        }
        d.depth_mean[p] = mean;
        d.depth_epi[p] = var;
        for (int t = 0; t < SAMPLES; t++) {
            const float *o = kept + t * row;
            d.depth_ale[p] += sample_var[t] / SAMPLES;
            d.logit_var[p] += exp(fmin(o[c * hw + p], 80)) / SAMPLES;
            double z = 0, probs[16], h = 0, top = o[p];
            for (int k = 1; k < c; k++)
                top = fmax(top, o[k * hw + p]);
            for (int k = 0; k < c; k++)
                z += exp(o[k * hw + p] - top);
            for (int k = 0; k < c; k++) {
                probs[k] = exp(o[k * hw + p] - top) / z;
                h -= probs[k] > 0 ? probs[k] * log(probs[k]) : 0;
                d.prob[k * hw + p] += probs[k] / SAMPLES;
            }
            d.aleatoric[p] += h / SAMPLES;
        }
        for (int k = 0; k < c; k++)
            if (d.prob[k * hw + p] > 0)
                d.entropy[p] -= d.prob[k * hw + p] * log(d.prob[k * hw + p]);
        d.mi[p] = d.entropy[p] - d.aleatoric[p];
    }
    free(kept);
    return d;
}

static void direct_free(direct_maps *d)
{
    double *all[] = {d->depth_mean, d->depth_epi, d->depth_ale, d->entropy,
                     d->aleatoric,  d->mi,        d->logit_var, d->prob};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

static const doubt_mc_maps *run_mc(doubt_ctx *ctx, doubt_mc **mc, const doubt_safetensors *w,
                                   const float *img, int width, int height, int chunk)
{
    doubt_mc_desc desc = {.samples = SAMPLES, .chunk = chunk};
    TH_OK(ctx, doubt_mc_create(ctx, w, &desc, mc));
    const doubt_mc_maps *maps;
    TH_OK(ctx, doubt_mc_run(ctx, *mc, img, width, height, &maps));
    return maps;
}

/* Damps the head's depth and depth log-variance rows (outputs of thousands: this network is
 * untrained) and sets their biases, so the network predicts log or inverse depths of a
 * plausible scene with small variances, whose moments are finite: the clamps of mc.c are
 * tested elsewhere, not here. */
static void tame_depth_head(doubt_safetensors *w, float depth, float log_var)
{
    const int c = w->network.classes, width = w->network.widths[0];
    int done = 0;
    for (int i = 0; i < w->n_tensors; i++) {
        float *v = w->tensors[i].data;
        if (!strcmp(w->tensors[i].name, "head.bias")) {
            v[c + 1] = depth;
            v[c + 2] = log_var;
            done++;
        } else if (!strcmp(w->tensors[i].name, "head.weight")) {
            for (int k = 0; k < 2 * width; k++)
                v[(c + 1) * width + k] *= 1e-4f;
            done++;
        }
    }
    ck_assert_int_eq(done, 2);
}

/* depth_kind: the test loop's index runs the same checks for metric, log and inverse depth. */
START_TEST(statistics_match_direct_computation)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = weights();
    w->network.depth = (doubt_depth_param)_i;
    if (w->network.depth != DOUBT_DEPTH_METRIC)
        tame_depth_head(w, w->network.depth == DOUBT_DEPTH_LOG ? 1.0f : 0.5f, -4.0f);
    const int width = 16, height = 12;
    float *img = test_image(width, height);
    direct_maps d = direct(ctx, w, img, width, height);
    doubt_mc *mc;
    const doubt_mc_maps *m = run_mc(ctx, &mc, w, img, width, height, 4);
    const int64_t hw = width * height;
    struct {
        const char *name;
        const float *got;
        const double *want;
        int64_t n;
    } maps[] = {
        {"depth mean", m->depth_mean, d.depth_mean, hw},
        {"depth epistemic", m->depth_epistemic, d.depth_epi, hw},
        {"depth aleatoric", m->depth_aleatoric, d.depth_ale, hw},
        {"seg entropy", m->seg_entropy, d.entropy, hw},
        {"seg aleatoric", m->seg_aleatoric, d.aleatoric, hw},
        {"seg mutual info", m->seg_mutual_info, d.mi, hw},
        {"seg logit var", m->seg_logit_var, d.logit_var, hw},
        {"seg prob", m->seg_prob, d.prob, hw * m->classes},
    };
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        double e = th_rel_err(maps[i].got, maps[i].want, maps[i].n);
        printf("  MC %-16s vs direct (%s depth): rel err %.2e\n", maps[i].name,
               doubt_depth_param_name(w->network.depth), e);
        ck_assert_msg(e < 1e-5, "%s: %g", maps[i].name, e);
    }
    double mi_max = 0;
    for (int64_t p = 0; p < hw; p++)
        mi_max = fmax(mi_max, m->seg_mutual_info[p]);
    ck_assert_msg(mi_max > 1e-3, "dropout made no difference (max MI %g)", mi_max);
    for (int64_t p = 0; p < hw; p++) {
        int best = 0;
        for (int k = 1; k < m->classes; k++)
            if (d.prob[k * hw + p] > d.prob[best * hw + p])
                best = k;
        ck_assert_int_eq(m->seg_class[p], best);
    }
    direct_free(&d);
    doubt_mc_destroy(mc);
    doubt_safetensors_destroy(w);
    free(img);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* Stacking and the cache change nothing: chunk 1 and chunk 3 give identical maps. */
START_TEST(chunking_and_cache_reuse_are_exact)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = weights();
    const int width = 16, height = 12;
    const size_t hw = (size_t)width * height;
    float *img = test_image(width, height);
    doubt_mc *one, *three;
    const doubt_mc_maps *a = run_mc(ctx, &one, w, img, width, height, 1);
    const doubt_mc_maps *b = run_mc(ctx, &three, w, img, width, height, 3);
    ck_assert_mem_eq(a->depth_mean, b->depth_mean, hw * sizeof(float));
    ck_assert_mem_eq(a->depth_epistemic, b->depth_epistemic, hw * sizeof(float));
    ck_assert_mem_eq(a->seg_prob, b->seg_prob, hw * a->classes * sizeof(float));
    ck_assert_mem_eq(a->seg_mutual_info, b->seg_mutual_info, hw * sizeof(float));
    doubt_mc_destroy(one);
    doubt_mc_destroy(three);
    doubt_safetensors_destroy(w);
    free(img);
    doubt_ctx_destroy(ctx);
}
END_TEST

static float *mc_depth_epistemic(int threads, const float *img, int width, int height)
{
    omp_set_num_threads(threads);
    doubt_ctx *ctx = th_ctx(threads);
    doubt_safetensors *w = weights();
    doubt_mc *mc;
    const doubt_mc_maps *m = run_mc(ctx, &mc, w, img, width, height, 0);
    float *copy = malloc((size_t)width * height * sizeof *copy);
    for (int i = 0; i < width * height; i++)
        copy[i] = m->depth_epistemic[i] + m->seg_mutual_info[i] + m->depth_mean[i];
    doubt_mc_destroy(mc);
    doubt_safetensors_destroy(w);
    doubt_ctx_destroy(ctx);
    return copy;
}

START_TEST(same_maps_on_any_thread_count)
{
    const int width = 40, height = 28;
    float *img = test_image(width, height);
    float *a = mc_depth_epistemic(1, img, width, height), *b = mc_depth_epistemic(2, img, width, height);
    ck_assert_mem_eq(a, b, (size_t)width * height * sizeof *a);
    free(a);
    free(b);
    free(img);
}
END_TEST

/* An odd-sized image is padded and cropped back: its maps equal those of the image padded
 * by hand (edge repeat) and cropped. */
START_TEST(odd_sizes_are_padded_and_cropped)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = weights();
    const int width = 13, height = 11, pw = 16, ph = 12;
    float *img = test_image(width, height), *padded = malloc(3 * pw * ph * sizeof *padded);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < ph; y++)
            for (int x = 0; x < pw; x++)
                padded[(c * ph + y) * pw + x] =
                    img[(c * height + (y < height ? y : height - 1)) * width +
                        (x < width ? x : width - 1)];
    doubt_mc *small, *big;
    const doubt_mc_maps *a = run_mc(ctx, &small, w, img, width, height, 0);
    const doubt_mc_maps *b = run_mc(ctx, &big, w, padded, pw, ph, 0);
    ck_assert_int_eq(a->width, width);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            ck_assert(a->depth_mean[y * width + x] == b->depth_mean[y * pw + x]);
            ck_assert(a->seg_entropy[y * width + x] == b->seg_entropy[y * pw + x]);
        }
    doubt_mc_destroy(small);
    doubt_mc_destroy(big);
    doubt_safetensors_destroy(w);
    free(img);
    free(padded);
    doubt_ctx_destroy(ctx);
}
END_TEST

START_TEST(deterministic_mode_is_one_plain_pass)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = weights();
    const int width = 16, height = 12;
    float *img = test_image(width, height);
    doubt_net *net;
    TH_OK(ctx, doubt_net_create(ctx, &w->network, 1, height, width, DOUBT_MODE_INFER, &net));
    TH_OK(ctx, doubt_weights_load(ctx, net, w));
    TH_OK(ctx, doubt_net_forward(ctx, net, img, 0, 0));
    doubt_mc *mc;
    doubt_mc_desc desc = {.samples = 20, .deterministic = 1};
    TH_OK(ctx, doubt_mc_create(ctx, w, &desc, &mc));
    const doubt_mc_maps *m;
    TH_OK(ctx, doubt_mc_run(ctx, mc, img, width, height, &m));
    const float *depth = doubt_net_output(net) + (w->network.classes + 1) * width * height;
    for (int p = 0; p < width * height; p++) {
        ck_assert_float_eq(m->depth_mean[p], depth[p]);
        ck_assert_float_eq(m->depth_epistemic[p], 0);
        ck_assert_float_eq_tol(m->seg_mutual_info[p], 0, 1e-6);
    }
    doubt_mc_destroy(mc);
    doubt_net_destroy(net);
    doubt_safetensors_destroy(w);
    free(img);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* One sample has no mutual information, exactly: with the shipped (trained) weights the
 * two entropies' roundings differ by ~1e-8 at many pixels, which would rank images by
 * noise. */
START_TEST(one_sample_has_no_mutual_information)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = NULL;
    doubt_error err = {{0}};
    ck_assert_msg(doubt_safetensors_read("weights/unet-small.safetensors", &w, &err) == DOUBT_OK,
                  "%s", err.msg);
    const int width = 48, height = 32;
    float *img = test_image(width, height);
    for (int deterministic = 0; deterministic < 2; deterministic++) {
        doubt_mc *mc;
        doubt_mc_desc desc = {.samples = 1, .deterministic = deterministic};
        TH_OK(ctx, doubt_mc_create(ctx, w, &desc, &mc));
        const doubt_mc_maps *m;
        TH_OK(ctx, doubt_mc_run(ctx, mc, img, width, height, &m));
        for (int p = 0; p < width * height; p++)
            ck_assert_float_eq(m->seg_mutual_info[p], 0);
        doubt_mc_destroy(mc);
    }
    doubt_safetensors_destroy(w);
    free(img);
    doubt_ctx_destroy(ctx);
}
END_TEST

static const doubt_mc_maps *run_tiled(doubt_ctx *ctx, doubt_mc **mc, const doubt_safetensors *w,
                                      const float *img, int width, int height, int tile,
                                      int margin)
{
    doubt_mc_desc desc = {.samples = SAMPLES, .tile = tile, .tile_margin = margin};
    TH_OK(ctx, doubt_mc_create(ctx, w, &desc, mc));
    const doubt_mc_maps *maps;
    TH_OK(ctx, doubt_mc_run(ctx, *mc, img, width, height, &maps));
    return maps;
}

/* Largest difference between two maps' pixels, over every map. */
static double max_map_diff(const doubt_mc_maps *a, const doubt_mc_maps *b)
{
    const size_t hw = (size_t)a->width * a->height;
    const float *pairs[][2] = {{a->depth_mean, b->depth_mean},
                               {a->depth_epistemic, b->depth_epistemic},
                               {a->depth_aleatoric, b->depth_aleatoric},
                               {a->seg_entropy, b->seg_entropy},
                               {a->seg_mutual_info, b->seg_mutual_info},
                               {a->seg_logit_var, b->seg_logit_var}};
    double worst = 0;
    for (size_t m = 0; m < sizeof pairs / sizeof pairs[0]; m++)
        for (size_t p = 0; p < hw; p++)
            worst = fmax(worst, fabs((double)pairs[m][0][p] - pairs[m][1][p]) /
                                    (fabs((double)pairs[m][1][p]) + 1e-3));
    for (size_t p = 0; p < hw * (size_t)a->classes; p++)
        worst = fmax(worst, fabs((double)a->seg_prob[p] - b->seg_prob[p]));
    return worst;
}

/* Tiles with a margin beyond the tiny network's receptive field (about 25 pixels) give the
 * untiled maps at every pixel, MC dropout included: every pixel lies in some tile's
 * interior and the masks follow the whole image. A thin margin shows the tiles were real. */
START_TEST(tiles_match_the_whole_image_in_their_interiors)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = weights();
    const int width = 117, height = 98; /* padded to 120 x 100: 4 x 3 tiles of 72 */
    float *img = test_image(width, height);
    doubt_mc *whole, *wide, *thin;
    const doubt_mc_maps *a = run_mc(ctx, &whole, w, img, width, height, 0);
    const doubt_mc_maps *b = run_tiled(ctx, &wide, w, img, width, height, 72, 28);
    const doubt_mc_maps *c = run_tiled(ctx, &thin, w, img, width, height, 72, 4);
    ck_assert_int_eq(b->width, width);
    ck_assert_int_eq(b->height, height);
    const double wide_diff = max_map_diff(b, a), thin_diff = max_map_diff(c, a);
    printf("  tiles of 72: margin 28 differs from untiled by %.2e, margin 4 by %.2e\n",
           wide_diff, thin_diff);
    ck_assert_msg(wide_diff < 1e-5, "margin 28: %g", wide_diff);
    ck_assert_msg(thin_diff > 1e-3, "margin 4 matched too: were there tiles? %g", thin_diff);
    doubt_mc_destroy(whole);
    doubt_mc_destroy(wide);
    doubt_mc_destroy(thin);
    doubt_safetensors_destroy(w);
    free(img);
    doubt_ctx_destroy(ctx);
}
END_TEST

START_TEST(tile_too_small_for_its_margin_is_refused)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = weights();
    doubt_mc *mc = NULL;
    doubt_mc_desc desc = {.samples = 2, .tile = 40, .tile_margin = 20};
    ck_assert_int_eq(doubt_mc_create(ctx, w, &desc, &mc), DOUBT_ERR_ARG);
    ck_assert_ptr_null(mc);
    ck_assert_msg(strstr(doubt_ctx_error(ctx), "needs >= 44"), "%s", doubt_ctx_error(ctx));
    doubt_safetensors_destroy(w);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* Only the f32 path exists: bf16 and int8 are refused on any CPU, naming the precision (and,
 * where oneDNN's ISA lacks it, what it needs); f32 is built. */
START_TEST(reduced_precisions_are_refused)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = weights();
    const doubt_precision reduced[] = {DOUBT_PRECISION_BF16, DOUBT_PRECISION_INT8};
    for (int i = 0; i < 2; i++) {
        doubt_mc *mc = NULL;
        doubt_mc_desc desc = {.samples = 2, .precision = reduced[i]};
        ck_assert_int_eq(doubt_mc_create(ctx, w, &desc, &mc), DOUBT_ERR_ARG);
        ck_assert_ptr_null(mc);
        const char *msg = doubt_ctx_error(ctx);
        ck_assert_msg(strstr(msg, doubt_precision_name(reduced[i])) &&
                          strstr(msg, doubt_precision_needs(reduced[i])),
                      "%s", msg);
    }
    doubt_mc *mc = NULL;
    TH_OK(ctx, doubt_mc_create(ctx, w, &(doubt_mc_desc){.samples = 2, .precision = DOUBT_PRECISION_F32}, &mc));
    doubt_mc_destroy(mc);
    doubt_safetensors_destroy(w);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* The tiny network with its head's output channel `channel` forced to `value` everywhere:
 * that channel's weights zeroed and its bias set (in memory: the reader refuses NaN). */
static void force_head_channel(doubt_safetensors *w, int channel, float value)
{
    doubt_st_tensor *weight = (doubt_st_tensor *)doubt_safetensors_find(w, "head.weight");
    doubt_st_tensor *bias = (doubt_st_tensor *)doubt_safetensors_find(w, "head.bias");
    ck_assert(weight && bias);
    const int64_t in = weight->shape[1];
    for (int64_t k = 0; k < in; k++)
        weight->data[channel * in + k] = 0;
    bias->data[channel] = value;
}

/* Issue 14.7: huge log-variances (clamped) summed over the largest T must not overflow. */
START_TEST(largest_log_variances_do_not_overflow_at_many_samples)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = weights();
    const int c = w->network.classes;
    force_head_channel(w, c, 500);     /* segmentation log-variance */
    force_head_channel(w, c + 2, 500); /* depth log-variance */
    const int size = 16, samples = 7000; /* float sums of exp(80) overflow past T = 6142 */
    float *img = test_image(size, size);
    doubt_mc *mc;
    TH_OK(ctx, doubt_mc_create(ctx, w, &(doubt_mc_desc){.samples = samples, .chunk = 100}, &mc));
    const doubt_mc_maps *m;
    TH_OK(ctx, doubt_mc_run(ctx, mc, img, size, size, &m));
    for (int p = 0; p < size * size; p++) {
        ck_assert_msg(isfinite(m->seg_logit_var[p]), "seg_logit_var[%d] = %g", p,
                      (double)m->seg_logit_var[p]);
        ck_assert_msg(isfinite(m->depth_aleatoric[p]) && isfinite(m->depth_total[p]),
                      "depth_aleatoric[%d] = %g", p, (double)m->depth_aleatoric[p]);
        ck_assert(m->seg_logit_var[p] > 1e34f);
    }
    ck_assert_int_eq(m->nan_pixels, 0);
    doubt_mc_destroy(mc);
    free(img);
    doubt_safetensors_destroy(w);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* Issue 14.7: a NaN log-variance stays NaN in the maps (clamping must not turn it into
 * exp(80)) and the maps count the pixels it spoiled. */
START_TEST(nan_log_variance_stays_nan_and_is_counted)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = weights();
    const int c = w->network.classes;
    force_head_channel(w, c, NAN);
    const int size = 16;
    float *img = test_image(size, size);
    doubt_mc *mc;
    TH_OK(ctx, doubt_mc_create(ctx, w, &(doubt_mc_desc){.samples = 3}, &mc));
    const doubt_mc_maps *m;
    TH_OK(ctx, doubt_mc_run(ctx, mc, img, size, size, &m));
    for (int p = 0; p < size * size; p++)
        ck_assert_msg(isnan(m->seg_logit_var[p]), "seg_logit_var[%d] = %g", p,
                      (double)m->seg_logit_var[p]);
    ck_assert_int_eq(m->nan_pixels, size * size);
    doubt_mc_destroy(mc);
    free(img);
    doubt_safetensors_destroy(w);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* Weights for description d, He-normal from seed 1, saved to a new temporary file (its name
 * into path) and read back. */
static doubt_safetensors *random_weights(doubt_ctx *ctx, const doubt_netdesc *d, char path[32])
{
    doubt_net *net;
    TH_OK(ctx, doubt_net_create(ctx, d, 1, 16, 16, DOUBT_MODE_INFER, &net));
    TH_OK(ctx, doubt_net_init_weights(ctx, net, 1));
    strcpy(path, "/tmp/doubt_mc_w_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    TH_OK(ctx, doubt_weights_save(ctx, net, path, NULL, 0, NULL, 0));
    doubt_net_destroy(net);
    return read_weights(path);
}

/* Issue 14.1: the engine feeds RGB images, so weights for another channel count are refused
 * when it is created instead of read past the image. */
START_TEST(in_channels_other_than_three_is_refused)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *tiny = weights();
    doubt_netdesc one = tiny->network;
    one.in_channels = 1;
    char path[32];
    doubt_safetensors *w = random_weights(ctx, &one, path);
    doubt_mc *mc = NULL;
    ck_assert_int_eq(doubt_mc_create(ctx, w, &(doubt_mc_desc){.samples = 2}, &mc), DOUBT_ERR_ARG);
    ck_assert_ptr_null(mc);
    ck_assert_msg(strstr(doubt_ctx_error(ctx), "in_channels 1"), "%s", doubt_ctx_error(ctx));
    unlink(path);
    doubt_safetensors_destroy(w);
    doubt_safetensors_destroy(tiny);
    doubt_ctx_destroy(ctx);
}
END_TEST


/* ---- adaptive sampling (--samples auto) -------------------------------------------------- */

static const doubt_mc_maps *run_adaptive(doubt_ctx *ctx, doubt_mc **mc, const doubt_safetensors *w,
                                         const float *img, int width, int height, int cap,
                                         double tol, int chunk)
{
    doubt_mc_desc desc = {.samples = cap, .adaptive = 1, .converge = tol, .chunk = chunk};
    TH_OK(ctx, doubt_mc_create(ctx, w, &desc, mc));
    const doubt_mc_maps *maps;
    TH_OK(ctx, doubt_mc_run(ctx, *mc, img, width, height, &maps));
    return maps;
}

static const doubt_mc_maps *run_fixed(doubt_ctx *ctx, doubt_mc **mc, const doubt_safetensors *w,
                                      const float *img, int width, int height, int samples)
{
    TH_OK(ctx, doubt_mc_create(ctx, w, &(doubt_mc_desc){.samples = samples}, mc));
    const doubt_mc_maps *maps;
    TH_OK(ctx, doubt_mc_run(ctx, *mc, img, width, height, &maps));
    return maps;
}

static void assert_same_maps(const doubt_mc_maps *a, const doubt_mc_maps *b);

/* A zero tolerance never converges: auto with a cap of 100 is --samples 100, byte for byte,
 * though it stacks 3 samples per pass (so chunks cross group boundaries). The default
 * tolerance stops this image at 56 samples (adaptive_stops_alike_on_any_thread_count), so a
 * zero taken for "the default" shows. */
START_TEST(adaptive_with_zero_tolerance_runs_to_its_cap)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = weights();
    const int width = 40, height = 28;
    float *img = test_image(width, height);
    doubt_mc *adaptive, *fixed;
    const doubt_mc_maps *a = run_adaptive(ctx, &adaptive, w, img, width, height, 100, 0, 3);
    const doubt_mc_maps *b = run_fixed(ctx, &fixed, w, img, width, height, 100);
    ck_assert_int_eq(a->samples, 100);
    ck_assert_int_eq(b->samples, 100);
    assert_same_maps(a, b);
    doubt_mc_destroy(adaptive);
    doubt_mc_destroy(fixed);
    doubt_safetensors_destroy(w);
    free(img);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* se / |mean| of values[0..n), as converge.h defines it, in double from the raw samples. */
static double relative_error(const double *v, int n)
{
    double mean = 0, squares = 0;
    for (int i = 0; i < n; i++)
        mean += v[i] / n;
    for (int i = 0; i < n; i++)
        squares += (v[i] - mean) * (v[i] - mean);
    return sqrt(squares / (n - 1) / n) / fabs(mean);
}

/* Where adaptive sampling stops, against batch means computed here from every sample run in
 * full through a batch-1 network: per group of 4, the image's mean Bessel-corrected
 * variance of μ and its mean H[p̄_g] - mean H[p_t]. With the tolerance 0.1 % above the
 * group values' relative standard error after `at` groups the run must stop there, 0.1 %
 * below it at the next group count whose error is below that (or the cap), and the maps
 * must be byte for byte those of --samples T. The depth series decides for the tiny network
 * (its error is the larger); loop index 1 fixes the depth output, whose epistemic series is
 * then 0 and converged, so that the mutual information decides. */
START_TEST(adaptive_stops_where_direct_batch_means_converge)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = weights();
    const int depth_fixed = _i;
    if (depth_fixed)
        force_head_channel(w, w->network.classes + 1, 3.0f);
    const int width = depth_fixed ? 40 : 16, height = depth_fixed ? 28 : 12, cap = 40;
    const int groups = cap / 4, c = w->network.classes;
    const size_t hw = (size_t)width * height, row = (size_t)(c + 3) * hw;
    float *img = test_image(width, height);
    float *kept = raw_samples(ctx, w, img, width, height, cap);
    double epi[10], mi[10], ratio[11] = {0};
    for (int g = 0; g < groups; g++) {
        epi[g] = mi[g] = 0;
        for (size_t p = 0; p < hw; p++) {
            double mu[4], var, mean = 0, sq = 0, pbar[16] = {0}, h_mean = 0, h_bar = 0;
            for (int k = 0; k < 4; k++) {
                const float *o = kept + (size_t)(4 * g + k) * row;
                in_metres(w->network.depth, o[(c + 1) * hw + p], o[(c + 2) * hw + p], &mu[k],
                          &var);
                mean += mu[k] / 4;
                double z = 0, top = o[p]; /* the untrained logits reach thousands */
                for (int j = 1; j < c; j++)
                    top = fmax(top, o[j * hw + p]);
                for (int j = 0; j < c; j++)
                    z += exp(o[j * hw + p] - top);
                for (int j = 0; j < c; j++) {
                    const double q = exp(o[j * hw + p] - top) / z;
                    pbar[j] += q / 4;
                    h_mean -= q > 0 ? q * log(q) / 4 : 0;
                }
            }
            for (int k = 0; k < 4; k++)
                sq += (mu[k] - mean) * (mu[k] - mean);
            for (int j = 0; j < c; j++)
                h_bar -= pbar[j] > 0 ? pbar[j] * log(pbar[j]) : 0;
            epi[g] += sq / 3 / (double)hw;
            mi[g] += (h_bar - h_mean) / (double)hw;
        }
        /* a series of zeros has converged (and its relative error is 0/0) */
        if (g >= 2)
            ratio[g + 1] = fmax(depth_fixed ? 0 : relative_error(epi, g + 1),
                                relative_error(mi, g + 1));
    }
    /* the rule must flip right at the direct error after `at` groups: a tolerance 0.1 %
     * above it stops there (or earlier), 0.1 % below it does not */
    const int at = depth_fixed ? 3 : 5;
    const double tols[2] = {ratio[at] * 1.001, ratio[at] * 0.999};
    int want[2];
    for (int i = 0; i < 2; i++) {
        want[i] = cap;
        for (int n = 3; n <= groups && want[i] == cap; n++)
            if (ratio[n] < tols[i])
                want[i] = 4 * n;
    }
    printf("  batch means%s: se/mean after 3..10 groups", depth_fixed ? " (depth fixed)" : "");
    for (int n = 3; n <= groups; n++)
        printf(" %.4f", ratio[n]);
    printf("; tol %.5f -> T %d, tol %.5f -> T %d\n", tols[0], want[0], tols[1], want[1]);
    fflush(stdout);
    ck_assert_int_eq(want[0], 4 * at);
    ck_assert_int_gt(want[1], want[0]);
    doubt_mc *adaptive, *fixed;
    for (int i = 0; i < 2; i++) {
        const doubt_mc_maps *a =
            run_adaptive(ctx, &adaptive, w, img, width, height, cap, tols[i], 3);
        ck_assert_int_eq(a->samples, want[i]);
        const doubt_mc_maps *b = run_fixed(ctx, &fixed, w, img, width, height, want[i]);
        assert_same_maps(a, b);
        doubt_mc_destroy(adaptive);
        doubt_mc_destroy(fixed);
    }
    free(kept);
    doubt_safetensors_destroy(w);
    free(img);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* The stopping point and the maps do not depend on the thread count. */
START_TEST(adaptive_stops_alike_on_any_thread_count)
{
    const int width = 40, height = 28;
    float *img = test_image(width, height);
    doubt_safetensors *w = weights();
    doubt_mc *mc[2];
    const doubt_mc_maps *m[2];
    doubt_ctx *ctx[2];
    for (int i = 0; i < 2; i++) {
        omp_set_num_threads(i + 1);
        ctx[i] = th_ctx(i + 1);
        m[i] = run_adaptive(ctx[i], &mc[i], w, img, width, height, 100, 0.05, 0);
    }
    printf("  adaptive, 40x28, tol 0.05: T %d on 1 thread, %d on 2\n", m[0]->samples,
           m[1]->samples);
    ck_assert_int_eq(m[0]->samples, m[1]->samples);
    assert_same_maps(m[0], m[1]);
    for (int i = 0; i < 2; i++) {
        doubt_mc_destroy(mc[i]);
        doubt_ctx_destroy(ctx[i]);
    }
    doubt_safetensors_destroy(w);
    free(img);
}
END_TEST

/* A network without dropout has nothing to converge: one pass, zero epistemic maps, the
 * maps of --samples 1. */
START_TEST(adaptive_without_dropout_takes_one_pass)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = weights();
    w->network.dropout = 0;
    const int width = 16, height = 12;
    float *img = test_image(width, height);
    doubt_mc *adaptive, *fixed;
    const doubt_mc_maps *a = run_adaptive(ctx, &adaptive, w, img, width, height, 40, 0.05, 0);
    const doubt_mc_maps *b = run_fixed(ctx, &fixed, w, img, width, height, 1);
    ck_assert_int_eq(a->samples, 1);
    for (int p = 0; p < width * height; p++) {
        ck_assert_float_eq(a->depth_epistemic[p], 0);
        ck_assert_float_eq(a->seg_mutual_info[p], 0);
    }
    assert_same_maps(a, b);
    doubt_mc_destroy(adaptive);
    doubt_mc_destroy(fixed);
    doubt_safetensors_destroy(w);
    free(img);
    doubt_ctx_destroy(ctx);
}
END_TEST

static void assert_adaptive_refused(doubt_ctx *ctx, const doubt_safetensors *const *members,
                                    int count, doubt_mc_desc desc, const char *why)
{
    desc.adaptive = 1;
    doubt_mc *mc = NULL;
    ck_assert_int_eq(doubt_mc_create_ensemble(ctx, members, count, &desc, &mc), DOUBT_ERR_ARG);
    ck_assert_ptr_null(mc);
    ck_assert_msg(strstr(doubt_ctx_error(ctx), why), "%s", doubt_ctx_error(ctx));
}

/* Ensembles, tiles, a cap below the first check and a bad tolerance are refused; with
 * deterministic set, auto is the one plain pass. */
START_TEST(adaptive_refusals_and_deterministic)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = weights(), *b = read_weights(MEMBER_B);
    const doubt_safetensors *one[] = {w}, *two[] = {w, b};
    assert_adaptive_refused(ctx, two, 2, (doubt_mc_desc){.samples = 40}, "not an ensemble of 2");
    assert_adaptive_refused(ctx, one, 1, (doubt_mc_desc){.samples = 40, .tile = 256},
                            "does not tile");
    assert_adaptive_refused(ctx, one, 1, (doubt_mc_desc){.samples = 11},
                            "a cap of at least 12 samples");
    assert_adaptive_refused(ctx, one, 1, (doubt_mc_desc){.samples = 40, .converge = -0.1},
                            "tolerance -0.1 must be >= 0");
    assert_adaptive_refused(ctx, one, 1, (doubt_mc_desc){.samples = 40, .converge = NAN},
                            "must be >= 0");
    const int width = 16, height = 12;
    float *img = test_image(width, height);
    doubt_mc *mc;
    doubt_mc_desc desc = {.samples = 40, .adaptive = 1, .converge = 0, .deterministic = 1};
    TH_OK(ctx, doubt_mc_create_ensemble(ctx, two, 2, &desc, &mc));
    const doubt_mc_maps *m;
    TH_OK(ctx, doubt_mc_run(ctx, mc, img, width, height, &m));
    ck_assert_int_eq(m->samples, 1);
    doubt_mc_destroy(mc);
    free(img);
    doubt_safetensors_destroy(w);
    doubt_safetensors_destroy(b);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* ---- deep ensembles ---------------------------------------------------------------------- */

static const doubt_mc_maps *run_ensemble(doubt_ctx *ctx, doubt_mc **mc,
                                         const doubt_safetensors *const *members, int count,
                                         const doubt_mc_desc *desc, const float *img, int width,
                                         int height)
{
    TH_OK(ctx, doubt_mc_create_ensemble(ctx, members, count, desc, mc));
    const doubt_mc_maps *maps;
    TH_OK(ctx, doubt_mc_run(ctx, *mc, img, width, height, &maps));
    return maps;
}

/* Every map of a and b byte for byte. */
static void assert_same_maps(const doubt_mc_maps *a, const doubt_mc_maps *b)
{
    const size_t hw = (size_t)a->width * a->height;
    ck_assert_int_eq(b->width, a->width);
    ck_assert_int_eq(b->height, a->height);
    const float *planes[][2] = {{a->depth_mean, b->depth_mean},
                                {a->depth_epistemic, b->depth_epistemic},
                                {a->depth_aleatoric, b->depth_aleatoric},
                                {a->depth_total, b->depth_total},
                                {a->seg_entropy, b->seg_entropy},
                                {a->seg_aleatoric, b->seg_aleatoric},
                                {a->seg_mutual_info, b->seg_mutual_info},
                                {a->seg_logit_var, b->seg_logit_var}};
    for (size_t i = 0; i < sizeof planes / sizeof planes[0]; i++)
        ck_assert_mem_eq(planes[i][0], planes[i][1], hw * sizeof(float));
    ck_assert_mem_eq(a->seg_prob, b->seg_prob, hw * a->classes * sizeof(float));
    ck_assert_mem_eq(a->seg_class, b->seg_class, hw);
    ck_assert_int_eq(a->nan_pixels, b->nan_pixels);
}

/* An ensemble of one member gives exactly that member's maps, MC and deterministic. */
START_TEST(ensemble_of_one_is_that_member)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = weights();
    const int width = 16, height = 12;
    float *img = test_image(width, height);
    for (int deterministic = 0; deterministic < 2; deterministic++) {
        doubt_mc_desc desc = {.samples = 5, .chunk = 2, .deterministic = deterministic};
        doubt_mc *single, *ensemble;
        const doubt_mc_maps *a = run_ensemble(ctx, &ensemble, (const doubt_safetensors *[]){w},
                                              1, &desc, img, width, height);
        TH_OK(ctx, doubt_mc_create(ctx, w, &desc, &single));
        const doubt_mc_maps *b;
        TH_OK(ctx, doubt_mc_run(ctx, single, img, width, height, &b));
        assert_same_maps(a, b);
        doubt_mc_destroy(single);
        doubt_mc_destroy(ensemble);
    }
    doubt_safetensors_destroy(w);
    free(img);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* A context, the two ensemble members (unet_tiny and MEMBER_B) and a test image. */
typedef struct {
    doubt_ctx *ctx;
    const doubt_safetensors *members[2];
    float *img;
} two_members;

static two_members two_members_open(int width, int height)
{
    return (two_members){th_ctx(0), {weights(), read_weights(MEMBER_B)},
                         test_image(width, height)};
}

static void two_members_close(two_members *f)
{
    for (int i = 0; i < 2; i++)
        doubt_safetensors_destroy((doubt_safetensors *)f->members[i]);
    free(f->img);
    doubt_ctx_destroy(f->ctx);
}

/* Writes each member's raw samples for tools/ensemble_golden.py (DOUBT_ENSEMBLE_RAW_DIR). */
static void write_raw_samples(doubt_ctx *ctx, const char *dir,
                              const doubt_safetensors *const *members, int count,
                              const float *img, int width, int height, int samples)
{
    for (int m = 0; m < count; m++) {
        float *raw = raw_samples(ctx, members[m], img, width, height, samples);
        char path[512], name[32];
        snprintf(name, sizeof name, "member_%d.npy", m);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        const int64_t shape[4] = {samples, members[m]->network.classes + 3, height, width};
        doubt_error err;
        ck_assert_msg(doubt_npy_write_f32(path, raw, 4, shape, &err) == DOUBT_OK, "%s", err.msg);
        printf("  wrote %s\n", path);
        free(raw);
    }
}

/* Two members that differ in weights and dropout rate, T = 5 each stacked 2 at a time (so
 * chunks straddle no member but end short), against the pooled statistics NumPy computes
 * from each member's raw samples (tools/ensemble_golden.py). */
START_TEST(ensemble_matches_numpy_reference)
{
    const int width = 16, height = 12, samples = 5;
    two_members f = two_members_open(width, height);
    doubt_ctx *ctx = f.ctx;
    const char *raw_dir = getenv("DOUBT_ENSEMBLE_RAW_DIR");
    if (raw_dir) {
        write_raw_samples(ctx, raw_dir, f.members, 2, f.img, width, height, samples);
    } else {
        doubt_mc *mc;
        const doubt_mc_desc desc = {.samples = samples, .chunk = 2};
        const doubt_mc_maps *m =
            run_ensemble(ctx, &mc, f.members, 2, &desc, f.img, width, height);
        float *golden;
        int nd;
        int64_t shape[4];
        doubt_error err;
        ck_assert_msg(doubt_npy_read_f32(ENSEMBLE_MAPS, &golden, &nd, shape, &err) == DOUBT_OK,
                      "%s", err.msg);
        const int c = m->classes;
        const int64_t hw = width * height;
        ck_assert(nd == 3 && shape[0] == 7 + c && shape[1] == height && shape[2] == width);
        const struct {
            const char *name;
            const float *got;
            int64_t n;
        } maps[] = {/* in the golden file's order (tools/ensemble_golden.py) */
                    {"depth mean", m->depth_mean, hw},
                    {"depth epistemic", m->depth_epistemic, hw},
                    {"depth aleatoric", m->depth_aleatoric, hw},
                    {"seg entropy", m->seg_entropy, hw},
                    {"seg aleatoric", m->seg_aleatoric, hw},
                    {"seg mutual info", m->seg_mutual_info, hw},
                    {"seg logit var", m->seg_logit_var, hw},
                    {"seg prob", m->seg_prob, hw * c}};
        double *want = malloc((size_t)hw * c * sizeof *want);
        const float *plane = golden;
        for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++, plane += hw) {
            for (int64_t p = 0; p < maps[i].n; p++)
                want[p] = plane[p];
            const double e = th_rel_err(maps[i].got, want, maps[i].n);
            printf("  ensemble %-16s vs NumPy: rel err %.2e\n", maps[i].name, e);
            ck_assert_msg(e < 1e-5, "%s: %g", maps[i].name, e);
        }
        free(want);
        free(golden);
        doubt_mc_destroy(mc);
    }
    two_members_close(&f);
}
END_TEST

static float *copy_plane(const float *v, size_t n)
{
    float *copy = malloc(n * sizeof *copy);
    memcpy(copy, v, n * sizeof *copy);
    return copy;
}

/* With dropout off every member runs once: the depth mean is the members' mean and the
 * epistemic variance the (population) variance of their deterministic depths. */
START_TEST(deterministic_ensemble_is_the_spread_of_its_members)
{
    const int width = 16, height = 12;
    const size_t hw = (size_t)width * height;
    two_members f = two_members_open(width, height);
    doubt_ctx *ctx = f.ctx;
    const doubt_mc_desc desc = {.samples = 20, .deterministic = 1};
    float *depth[2];
    for (int i = 0; i < 2; i++) {
        doubt_mc *one;
        depth[i] = copy_plane(
            run_ensemble(ctx, &one, &f.members[i], 1, &desc, f.img, width, height)->depth_mean,
            hw);
        doubt_mc_destroy(one);
    }
    doubt_mc *mc;
    const doubt_mc_maps *m = run_ensemble(ctx, &mc, f.members, 2, &desc, f.img, width, height);
    double *mean = malloc(hw * sizeof *mean), *var = malloc(hw * sizeof *var);
    for (size_t p = 0; p < hw; p++) {
        mean[p] = ((double)depth[0][p] + depth[1][p]) / 2;
        const double half_gap = ((double)depth[0][p] - depth[1][p]) / 2;
        var[p] = half_gap * half_gap;
    }
    double largest = 0;
    for (size_t p = 0; p < hw; p++)
        largest = fmax(largest, var[p]);
    const double e_mean = th_rel_err(m->depth_mean, mean, (int64_t)hw);
    const double e_var = th_rel_err(m->depth_epistemic, var, (int64_t)hw);
    printf("  deterministic ensemble: depth mean rel err %.2e, epistemic %.2e (largest %.3g)\n",
           e_mean, e_var, largest);
    ck_assert_msg(e_mean < 1e-6 && e_var < 1e-5, "mean %g, variance %g", e_mean, e_var);
    ck_assert_msg(largest > 1e-6, "the members agree everywhere (variance %g)", largest);
    free(mean);
    free(var);
    free(depth[0]);
    free(depth[1]);
    doubt_mc_destroy(mc);
    two_members_close(&f);
}
END_TEST

/* Tiles run every member and keep the untiled ensemble's maps in their interiors. */
START_TEST(ensemble_tiles_match_the_whole_image)
{
    const int width = 117, height = 98;
    two_members f = two_members_open(width, height);
    doubt_mc *whole, *tiled;
    const doubt_mc_desc untiled = {.samples = 3},
                        tiles = {.samples = 3, .tile = 72, .tile_margin = 28};
    const doubt_mc_maps *a =
        run_ensemble(f.ctx, &whole, f.members, 2, &untiled, f.img, width, height);
    const doubt_mc_maps *b =
        run_ensemble(f.ctx, &tiled, f.members, 2, &tiles, f.img, width, height);
    const double diff = max_map_diff(b, a);
    printf("  ensemble of 2 in tiles of 72, margin 28: differs from untiled by %.2e\n", diff);
    ck_assert_msg(diff < 1e-5, "%g", diff);
    doubt_mc_destroy(whole);
    doubt_mc_destroy(tiled);
    two_members_close(&f);
}
END_TEST

/* Members must be one network but for dropout: another class count or other widths are
 * refused naming both files and the field. */
START_TEST(mismatched_members_are_refused_naming_files_and_field)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *tiny = weights();
    doubt_netdesc classes = tiny->network, widths = tiny->network;
    classes.classes = 4;
    widths.widths[2] = 16;
    const struct {
        const doubt_netdesc *desc;
        const char *field;
    } cases[] = {{&classes, "differ in classes (3 and 4)"},
                 {&widths, "differ in widths ([4,8,8] and [4,8,16])"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[32];
        doubt_safetensors *other = random_weights(ctx, cases[i].desc, path);
        doubt_mc *mc = (doubt_mc *)1;
        ck_assert_int_eq(doubt_mc_create_ensemble(ctx, (const doubt_safetensors *[]){tiny, other},
                                                  2, &(doubt_mc_desc){.samples = 2}, &mc),
                         DOUBT_ERR_ARG);
        ck_assert_ptr_null(mc);
        const char *msg = doubt_ctx_error(ctx);
        ck_assert_msg(strstr(msg, WEIGHTS) && strstr(msg, path) && strstr(msg, cases[i].field),
                      "%s", msg);
        unlink(path);
        doubt_safetensors_destroy(other);
    }
    ck_assert_int_eq(doubt_mc_create_ensemble(ctx, (const doubt_safetensors *[]){tiny}, 0,
                                              &(doubt_mc_desc){.samples = 2}, &(doubt_mc *){0}),
                     DOUBT_ERR_ARG);
    doubt_safetensors_destroy(tiny);
    doubt_ctx_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mc");
    TCase *tc = tcase_create("mc");
    tcase_add_loop_test(tc, statistics_match_direct_computation, DOUBT_DEPTH_METRIC,
                        DOUBT_DEPTH_INVERSE + 1);
    tcase_add_test(tc, chunking_and_cache_reuse_are_exact);
    tcase_add_test(tc, same_maps_on_any_thread_count);
    tcase_add_test(tc, odd_sizes_are_padded_and_cropped);
    tcase_add_test(tc, deterministic_mode_is_one_plain_pass);
    tcase_add_test(tc, one_sample_has_no_mutual_information);
    tcase_add_test(tc, tiles_match_the_whole_image_in_their_interiors);
    tcase_add_test(tc, tile_too_small_for_its_margin_is_refused);
    tcase_add_test(tc, reduced_precisions_are_refused);
    tcase_add_test(tc, largest_log_variances_do_not_overflow_at_many_samples);
    tcase_add_test(tc, nan_log_variance_stays_nan_and_is_counted);
    tcase_add_test(tc, in_channels_other_than_three_is_refused);
    suite_add_tcase(s, tc);
    tc = tcase_create("ensemble");
    tcase_add_test(tc, ensemble_of_one_is_that_member);
    tcase_add_test(tc, ensemble_matches_numpy_reference);
    tcase_add_test(tc, deterministic_ensemble_is_the_spread_of_its_members);
    tcase_add_test(tc, ensemble_tiles_match_the_whole_image);
    tcase_add_test(tc, mismatched_members_are_refused_naming_files_and_field);
    suite_add_tcase(s, tc);
    tc = tcase_create("adaptive");
    tcase_add_test(tc, adaptive_with_zero_tolerance_runs_to_its_cap);
    tcase_add_loop_test(tc, adaptive_stops_where_direct_batch_means_converge, 0, 2);
    tcase_add_test(tc, adaptive_stops_alike_on_any_thread_count);
    tcase_add_test(tc, adaptive_without_dropout_takes_one_pass);
    tcase_add_test(tc, adaptive_refusals_and_deterministic);
    suite_add_tcase(s, tc);
    return th_run(s);
}
