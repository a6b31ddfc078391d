/* Training: a resumed run continues bit-identically, a non-finite step keeps the weights, the
 * loss goes down on a tiny dataset, and `doubt train --val` logs the figures `doubt eval`
 * gives for the saved weights. The dataset is written here: random images with labels and
 * depth that follow from the pixels, so there is something to learn. */
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "io/fsutil.h"
#include "io/png.h"
#include "losses/losses.h"
#include "model/mc.h"
#include "model/safetensors.h"
#include "model/weights.h"
#include "model/train.h"
#include "pipeline/eval.h"

static char dataset_dir[64];

static void make_dataset(void)
{
    strcpy(dataset_dir, "/tmp/doubt_train_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dataset_dir));
    const char *sub[] = {"images", "labels", "depth"};
    char path[256];
    doubt_error err;
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dataset_dir, sub[i]);
        ck_assert(doubt_mkdir_p(path, &err) == DOUBT_OK);
    }
    const int w = 32, h = 32;
    uint8_t rgb[32 * 32 * 3], labels[32 * 32];
    uint16_t depth[32 * 32];
    float noise[32 * 32 * 3];
    for (int n = 0; n < 6; n++) {
        th_fill(noise, w * h * 3, 100 + (uint32_t)n, 0, 1);
        for (int p = 0; p < w * h; p++) {
            int cls = (p % w) * 3 / w; /* three vertical bands */
            rgb[3 * p] = (uint8_t)(cls * 100 + noise[3 * p] * 40);
            rgb[3 * p + 1] = (uint8_t)(noise[3 * p + 1] * 255);
            rgb[3 * p + 2] = (uint8_t)(255 - cls * 100);
            labels[p] = (uint8_t)cls;
            depth[p] = (uint16_t)((2 + cls) * 256);
        }
        snprintf(path, sizeof path, "%s/images/s%d.png", dataset_dir, n);
        ck_assert(doubt_png_write_rgb8(path, rgb, w, h, NULL, 0, &err) == DOUBT_OK);
        snprintf(path, sizeof path, "%s/labels/s%d.png", dataset_dir, n);
        ck_assert(doubt_png_write_gray8(path, labels, w, h, NULL, 0, &err) == DOUBT_OK);
        snprintf(path, sizeof path, "%s/depth/s%d.png", dataset_dir, n);
        ck_assert(doubt_png_write_gray16(path, depth, w, h, NULL, 0, &err) == DOUBT_OK);
    }
}

static void remove_dataset(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dataset_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A two-level network, small enough for hundreds of steps in a test; a JSON string so
 * `doubt train --config` can take it too. */
#define TINY_JSON                                                                                  \
    "{\"arch\":\"unet\",\"in_channels\":3,\"classes\":3,\"widths\":[4,8],\"dropout\":0.5}"

static doubt_train_config tiny_config(int64_t steps, double dropout)
{
    doubt_train_config c = {0};
    c.data_dir = dataset_dir;
    doubt_error err;
    const char *json = TINY_JSON;
    ck_assert(doubt_netdesc_parse(json, strlen(json), &c.net, &err) == DOUBT_OK);
    c.net.dropout = dropout;
    c.batch = 2;
    c.crop = 16;
    c.optim = (doubt_optim_desc){.kind = DOUBT_OPTIM_ADAM, .lr = 1e-2f, .weight_decay = 1e-4f,
                                 .warmup_steps = 2, .total_steps = steps};
    c.loss_samples = 4;
    c.seed = 11;
    return c;
}

/* All parameters and moments, plain, concatenated. */
static float *snapshot(doubt_ctx *ctx, const doubt_trainer *tr, size_t *count)
{
    size_t n = 0;
    for (int i = 0; i < tr->optim->n_slots; i++)
        n += 3 * (size_t)doubt_tensor_count(tr->optim->slots[i].value);
    float *all = malloc(n * sizeof *all), *at = all;
    for (int i = 0; i < tr->optim->n_slots; i++) {
        const doubt_optim_slot *s = &tr->optim->slots[i];
        size_t k = (size_t)doubt_tensor_count(s->value);
        TH_OK(ctx, doubt_tensor_read(ctx, s->value, at));
        TH_OK(ctx, doubt_tensor_read(ctx, &s->m, at + k));
        TH_OK(ctx, doubt_tensor_read(ctx, &s->v, at + 2 * k));
        at += 3 * k;
    }
    *count = n;
    return all;
}

/* Six steps straight and three, a checkpoint, a new trainer, three more give the same
 * parameters, moments, task weights and learned dropout rates, bit for bit. */
static void check_resume(doubt_train_config cfg)
{
    make_dataset();
    doubt_ctx *ctx = th_ctx(0);
    doubt_trainer *straight, *first, *second;
    TH_OK(ctx, doubt_trainer_create(ctx, &cfg, &straight));
    TH_OK(ctx, doubt_trainer_init(ctx, straight));
    for (int s = 0; s < 6; s++)
        TH_OK(ctx, doubt_trainer_step(ctx, straight, NULL));

    char checkpoint[96];
    snprintf(checkpoint, sizeof checkpoint, "%s/ckpt.safetensors", dataset_dir);
    TH_OK(ctx, doubt_trainer_create(ctx, &cfg, &first));
    TH_OK(ctx, doubt_trainer_init(ctx, first));
    for (int s = 0; s < 3; s++)
        TH_OK(ctx, doubt_trainer_step(ctx, first, NULL));
    TH_OK(ctx, doubt_trainer_save(ctx, first, checkpoint));
    doubt_trainer_destroy(first);
    TH_OK(ctx, doubt_trainer_create(ctx, &cfg, &second));
    TH_OK(ctx, doubt_trainer_load(ctx, second, checkpoint));
    ck_assert_int_eq(second->optim->step, 3);
    for (int s = 0; s < 3; s++)
        TH_OK(ctx, doubt_trainer_step(ctx, second, NULL));

    size_t n1, n2;
    float *a = snapshot(ctx, straight, &n1), *b = snapshot(ctx, second, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(a, b, n1 * sizeof *a);
    ck_assert_mem_eq(straight->task_log_var.data, second->task_log_var.data, 2 * sizeof(float));
    ck_assert_mem_eq(straight->net->desc.rates, second->net->desc.rates,
                     sizeof straight->net->desc.rates);
    if (cfg.net.concrete)
        ck_assert(straight->net->desc.rates[0] != cfg.net.rates[0]); /* learned */
    free(a);
    free(b);
    doubt_trainer_destroy(straight);
    doubt_trainer_destroy(second);
    doubt_ctx_destroy(ctx);
    remove_dataset();
}

START_TEST(resume_is_bit_identical)
{
    check_resume(tiny_config(6, 0.5));
}
END_TEST

/* Widths of 16 and 32 take the 3×3 layers through Winograd where the CPU has AVX2
 * (conv/winograd.h): its weights are transformed anew each step and its weight gradients
 * are summed over threads, and a resumed run still repeats the straight one bit for bit. */
START_TEST(resume_through_winograd_is_bit_identical)
{
    doubt_train_config cfg = tiny_config(6, 0.5);
    cfg.net.widths[0] = 16;
    cfg.net.widths[1] = 32;
    check_resume(cfg);
}
END_TEST

/* A Concrete dropout run resumes bit-identically too: its learned rates are the run's state
 * (in the checkpoint), not a setting a resume must repeat. */
START_TEST(concrete_resume_is_bit_identical)
{
    doubt_train_config cfg = tiny_config(6, 0.5);
    doubt_netdesc_set_concrete(&cfg.net);
    ck_assert_int_eq(cfg.net.n_rates, 3);
    check_resume(cfg);
}
END_TEST

/* The Concrete regulariser's value and the gradients it adds, to a weight after a site, to a
 * weight of a concatenation's other part and to a site's p_logit, against central
 * differences; the optimizer leaves the decay of the convolutions after a site to it. */
static double regulariser(doubt_ctx *ctx, doubt_trainer *tr)
{
    for (int i = 0; i < tr->net->n_params; i++) {
        doubt_net_param *p = &tr->net->params[i];
        if (!p->grad)
            continue;
        float *zeros = calloc((size_t)p->info.count, sizeof *zeros);
        TH_OK(ctx, doubt_tensor_write(ctx, p->grad, zeros));
        free(zeros);
    }
    double value;
    TH_OK(ctx, doubt_concrete_reg_apply(ctx, tr->concrete, &value));
    return value;
}

static double grad_of(doubt_ctx *ctx, doubt_net_param *p, int64_t k)
{
    float *g = malloc((size_t)p->info.count * sizeof *g);
    TH_OK(ctx, doubt_tensor_read(ctx, p->grad, g));
    const double v = g[k];
    free(g);
    return v;
}

static double nudge(doubt_ctx *ctx, doubt_trainer *tr, doubt_net_param *p, int64_t k, float by)
{
    float *v = malloc((size_t)p->info.count * sizeof *v);
    TH_OK(ctx, doubt_tensor_read(ctx, p->value, v));
    v[k] += by;
    TH_OK(ctx, doubt_tensor_write(ctx, p->value, v));
    const double r = regulariser(ctx, tr);
    v[k] -= by;
    TH_OK(ctx, doubt_tensor_write(ctx, p->value, v));
    free(v);
    return r;
}

START_TEST(concrete_regulariser_gradients)
{
    make_dataset();
    doubt_ctx *ctx = th_ctx(0);
    doubt_train_config cfg = tiny_config(6, 0.3);
    doubt_netdesc_set_concrete(&cfg.net);
    doubt_trainer *tr;
    TH_OK(ctx, doubt_trainer_create(ctx, &cfg, &tr));
    TH_OK(ctx, doubt_trainer_init(ctx, tr));
    /* enc.1.conv1 reads enc.0's site through a pool; dec.0.conv1 reads [upsampled enc.1
     * site, enc.0 site]; enc.0.conv1 reads the image */
    const struct {
        const char *name;
        int64_t element;
        int decays;
    } cases[] = {{"enc.1.conv1.weight", 7, 0},
                 {"dec.0.conv1.weight", 4 * 12 * 9 - 3, 0},
                 {"enc.0.drop.p_logit", 0, 0},
                 {"enc.0.conv1.weight", 5, 1}};
    for (int c = 0; c < 4; c++) {
        doubt_net_param *p = doubt_net_param_find(tr->net, cases[c].name);
        ck_assert_ptr_nonnull(p);
        int decays = -1;
        for (int i = 0; i < tr->optim->n_slots; i++)
            if (!strcmp(tr->optim->slots[i].name, cases[c].name))
                decays = tr->optim->slots[i].decay;
        ck_assert_int_eq(decays, cases[c].decays);
        regulariser(ctx, tr);
        const double analytic = grad_of(ctx, p, cases[c].element);
        const float h = 1e-2f;
        const double numeric = (nudge(ctx, tr, p, cases[c].element, h) -
                                nudge(ctx, tr, p, cases[c].element, -h)) /
                               (2 * h);
        printf("  concrete regulariser d/d %s[%lld]: %.4g, by differences %.4g\n", cases[c].name,
               (long long)cases[c].element, analytic, numeric);
        ck_assert_msg(fabs(analytic - numeric) < 1e-3 * fabs(numeric) + 1e-9, "%s: %g vs %g",
                      cases[c].name, analytic, numeric);
        if (c < 3)
            ck_assert_double_ne(analytic, 0);
    }
    doubt_trainer_destroy(tr);
    doubt_ctx_destroy(ctx);
    remove_dataset();
}
END_TEST

START_TEST(non_finite_step_keeps_weights)
{
    make_dataset();
    doubt_ctx *ctx = th_ctx(0);
    doubt_train_config cfg = tiny_config(4, 0.5);
    doubt_trainer *tr;
    TH_OK(ctx, doubt_trainer_create(ctx, &cfg, &tr));
    TH_OK(ctx, doubt_trainer_init(ctx, tr));
    TH_OK(ctx, doubt_trainer_step(ctx, tr, NULL));
    doubt_net_param *p = doubt_net_param_find(tr->net, "head.bias");
    ck_assert_ptr_nonnull(p);
    p->value->data[0] = NAN; /* reaches the logits directly, past every ReLU */
    size_t n;
    float *before = snapshot(ctx, tr, &n);
    ck_assert_int_eq(doubt_trainer_step(ctx, tr, NULL), DOUBT_ERR_NUMERIC);
    ck_assert_msg(strstr(doubt_ctx_error(ctx), "not finite") || strstr(doubt_ctx_error(ctx), "NaN"),
                  "message: %s", doubt_ctx_error(ctx));
    float *after = snapshot(ctx, tr, &n);
    ck_assert_mem_eq(before, after, n * sizeof *before);
    ck_assert_int_eq(tr->optim->step, 1);
    free(before);
    free(after);
    doubt_trainer_destroy(tr);
    doubt_ctx_destroy(ctx);
    remove_dataset();
}
END_TEST

/* Trains cfg's network for its steps and gives the mean segmentation loss of the first and
 * the last 10 steps; the learned task sigmas must stay finite and sensible throughout. */
static doubt_trainer *train_and_compare(doubt_ctx *ctx, const doubt_train_config *cfg,
                                        double *early, double *late)
{
    doubt_trainer *tr;
    TH_OK(ctx, doubt_trainer_create(ctx, cfg, &tr));
    TH_OK(ctx, doubt_trainer_init(ctx, tr));
    doubt_train_stats stats;
    const int64_t steps = cfg->optim.total_steps;
    *early = *late = 0;
    for (int64_t s = 0; s < steps; s++) {
        TH_OK(ctx, doubt_trainer_step(ctx, tr, &stats));
        for (int k = 0; k < 2; k++)
            ck_assert_msg(stats.task_sigma[k] > expf(-5) && stats.task_sigma[k] < expf(5),
                          "step %lld: task sigma %d = %g", (long long)s, k, stats.task_sigma[k]);
        *early += s < 10 ? stats.loss_seg / 10 : 0;
        *late += s >= steps - 10 ? stats.loss_seg / 10 : 0;
    }
    printf("  %s segmentation loss: first 10 steps %.3f, last 10 %.3f\n", cfg->net.arch, *early,
           *late);
    return tr;
}

START_TEST(loss_goes_down)
{
    make_dataset();
    doubt_ctx *ctx = th_ctx(0);
    /* without dropout, so 200 steps of a 4-channel network show it clearly */
    doubt_train_config cfg = tiny_config(200, 0);
    double early, late;
    doubt_trainer *tr = train_and_compare(ctx, &cfg, &early, &late);
    ck_assert_double_lt(late, 0.7 * early);
    doubt_trainer_destroy(tr);
    doubt_ctx_destroy(ctx);
    remove_dataset();
}
END_TEST

/* segnet trains (its segmentation loss falls by a fifth in 200 steps: without skips the tiny
 * one learns slower than unet's in loss_goes_down) and its weights predict: MC maps on an
 * image whose sides are not multiples of its grid. */
START_TEST(segnet_learns_and_predicts)
{
    make_dataset();
    doubt_ctx *ctx = th_ctx(0);
    doubt_train_config cfg = tiny_config(200, 0);
    doubt_error err;
    const char *json = "{\"arch\":\"segnet\",\"in_channels\":3,\"classes\":3,"
                       "\"widths\":[4,8],\"convs\":[1,2],\"dropout\":0}";
    ck_assert(doubt_netdesc_parse(json, strlen(json), &cfg.net, &err) == DOUBT_OK);
    double early, late;
    doubt_trainer *tr = train_and_compare(ctx, &cfg, &early, &late);
    ck_assert_double_lt(late, 0.8 * early);
    char weights[96];
    snprintf(weights, sizeof weights, "%s/segnet.safetensors", dataset_dir);
    TH_OK(ctx, doubt_weights_save(ctx, tr->net, weights, NULL, 0, NULL, 0));
    doubt_safetensors *w = NULL;
    ck_assert(doubt_safetensors_read(weights, &w, &err) == DOUBT_OK);
    doubt_mc *mc;
    TH_OK(ctx, doubt_mc_create(ctx, w, &(doubt_mc_desc){.samples = 4}, &mc));
    const int width = 21, height = 13;
    float *image = malloc((size_t)3 * width * height * sizeof *image);
    th_fill(image, 3L * width * height, 4, 0, 1);
    const doubt_mc_maps *maps;
    TH_OK(ctx, doubt_mc_run(ctx, mc, image, width, height, &maps));
    for (int p = 0; p < width * height; p++)
        ck_assert(isfinite(maps->depth_mean[p]) && isfinite(maps->seg_entropy[p]));
    ck_assert_int_eq(maps->nan_pixels, 0);
    free(image);
    doubt_mc_destroy(mc);
    doubt_safetensors_destroy(w);
    doubt_trainer_destroy(tr);
    doubt_ctx_destroy(ctx);
    remove_dataset();
}
END_TEST

/* The gradient the trainer hands the network for output channel ch of batch row b. */
static const float *diff_channel(doubt_trainer *tr, int b, int ch)
{
    const size_t hw = (size_t)tr->config.crop * tr->config.crop;
    return doubt_net_diff_output(tr->net) + ((size_t)b * (tr->config.net.classes + 3) + ch) * hw;
}

/* One step of the learned weighting, recomputed from the step's outputs (still in the
 * trainer's buffers): only the depth data term D carries exp(-s_depth), its log term R does
 * not, so total = exp(-s_seg)·L_seg + ½·s_seg + exp(-s_depth)·D + R + ½·s_depth; the logged
 * depth loss is the whole NLL D + R; the depth gradients the network gets are those of
 * exp(-s_depth)·D + R (not rescaled after), the segmentation ones are scaled by exp(-s_seg). */
START_TEST(learned_weighting_weights_the_depth_data_term)
{
    make_dataset();
    doubt_ctx *ctx = th_ctx(0);
    doubt_train_config cfg = tiny_config(4, 0.5);
    doubt_trainer *tr;
    TH_OK(ctx, doubt_trainer_create(ctx, &cfg, &tr));
    TH_OK(ctx, doubt_trainer_init(ctx, tr));
    const float s_seg = 0.3f, s_depth = -0.8f;
    tr->task_log_var.data[0] = s_seg;
    tr->task_log_var.data[1] = s_depth;
    doubt_train_stats stats;
    TH_OK(ctx, doubt_trainer_step(ctx, tr, &stats));

    const int64_t pixels = (int64_t)cfg.batch * cfg.crop * cfg.crop;
    float *gp = malloc((size_t)pixels * sizeof *gp), *gs = malloc((size_t)pixels * sizeof *gs);
    doubt_reg_loss plain, weighted;
    doubt_error err = {{0}};
    ck_assert(doubt_losses_regression(DOUBT_REG_GAUSSIAN, pixels, tr->depth_pred,
                                      tr->depth_log_var, tr->depth, NULL, 1, &plain, NULL, NULL,
                                      &err) == DOUBT_OK);
    const double w = exp(-(double)s_depth);
    ck_assert(doubt_losses_regression(DOUBT_REG_GAUSSIAN, pixels, tr->depth_pred,
                                      tr->depth_log_var, tr->depth, NULL, w, &weighted, gp, gs,
                                      &err) == DOUBT_OK);
    const double D = plain.data, R = plain.log_term, seg = stats.loss_seg;
    const double want = exp(-(double)s_seg) * seg + 0.5 * s_seg + w * D + R + 0.5 * s_depth;
    printf("  learned: loss %.7g (want %.7g), depth NLL %.7g = D %.7g + R %.7g\n", stats.loss,
           want, stats.loss_depth, D, R);
    ck_assert_double_eq_tol(stats.loss, want, 1e-6 * fmax(1, fabs(want)));
    ck_assert_double_eq_tol(stats.loss_depth, D + R, 1e-6 * fmax(1, fabs(D + R)));
    ck_assert_double_eq_tol(tr->task_log_var_grad.data[0], 0.5 - exp(-(double)s_seg) * seg, 1e-6);
    ck_assert_double_eq_tol(tr->task_log_var_grad.data[1], 0.5 - w * D, 1e-6);
    ck_assert(stats.task_sigma[0] > 0 && isfinite(stats.task_sigma[0]));
    ck_assert(stats.task_sigma[1] > 0 && isfinite(stats.task_sigma[1]));

    const size_t hw = (size_t)cfg.crop * cfg.crop;
    const int c = cfg.net.classes;
    const float seg_scale = (float)exp(-(double)s_seg);
    for (int b = 0; b < cfg.batch; b++) {
        ck_assert_mem_eq(diff_channel(tr, b, c + 1), gp + b * hw, hw * sizeof(float));
        ck_assert_mem_eq(diff_channel(tr, b, c + 2), gs + b * hw, hw * sizeof(float));
        const float *logits = diff_channel(tr, b, 0), *grad = tr->grad_logits + (size_t)b * c * hw;
        for (size_t k = 0; k < (size_t)c * hw; k++)
            ck_assert(logits[k] == grad[k] * seg_scale);
    }
    free(gp), free(gs);
    doubt_trainer_destroy(tr);
    doubt_ctx_destroy(ctx);
    remove_dataset();
}
END_TEST

/* --weighting fixed multiplies each task's whole loss (the depth NLL included): the total is
 * w_seg·L_seg + w_depth·(D + R), the depth gradients are w_depth times the plain loss's, and
 * the task log-variances neither train nor get a gradient. */
START_TEST(fixed_weighting_multiplies_whole_losses)
{
    make_dataset();
    doubt_ctx *ctx = th_ctx(0);
    doubt_train_config cfg = tiny_config(4, 0.5);
    cfg.weighting = DOUBT_WEIGHTING_FIXED;
    cfg.fixed_weights[0] = 0.5f;
    cfg.fixed_weights[1] = 2;
    doubt_trainer *tr;
    TH_OK(ctx, doubt_trainer_create(ctx, &cfg, &tr));
    TH_OK(ctx, doubt_trainer_init(ctx, tr));
    doubt_train_stats stats;
    for (int step = 0; step < 2; step++) {
        TH_OK(ctx, doubt_trainer_step(ctx, tr, &stats));
        const double want = 0.5 * stats.loss_seg + 2.0 * stats.loss_depth;
        ck_assert_double_eq_tol(stats.loss, want, 1e-6 * fmax(1, fabs(want)));
        ck_assert(tr->task_log_var.data[0] == 0 && tr->task_log_var.data[1] == 0);
        ck_assert(tr->task_log_var_grad.data[0] == 0 && tr->task_log_var_grad.data[1] == 0);
        ck_assert(stats.task_sigma[0] == 1 && stats.task_sigma[1] == 1);
    }
    const int64_t pixels = (int64_t)cfg.batch * cfg.crop * cfg.crop;
    float *gp = malloc((size_t)pixels * sizeof *gp), *gs = malloc((size_t)pixels * sizeof *gs);
    doubt_reg_loss plain;
    doubt_error err = {{0}};
    ck_assert(doubt_losses_regression(DOUBT_REG_GAUSSIAN, pixels, tr->depth_pred,
                                      tr->depth_log_var, tr->depth, NULL, 1, &plain, gp, gs,
                                      &err) == DOUBT_OK);
    ck_assert_double_eq_tol(stats.loss_depth, (double)plain.data + plain.log_term,
                            1e-6 * fmax(1, fabs(stats.loss_depth)));
    const size_t hw = (size_t)cfg.crop * cfg.crop;
    const int c = cfg.net.classes;
    for (int b = 0; b < cfg.batch; b++)
        for (size_t k = 0; k < hw; k++) {
            ck_assert(diff_channel(tr, b, c + 1)[k] == gp[b * hw + k] * 2.0f);
            ck_assert(diff_channel(tr, b, c + 2)[k] == gs[b * hw + k] * 2.0f);
        }
    free(gp), free(gs);
    doubt_trainer_destroy(tr);
    doubt_ctx_destroy(ctx);
    remove_dataset();
}
END_TEST

START_TEST(bad_configs)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_trainer *tr = NULL;
    doubt_train_config cfg = tiny_config(4, 0.5);
    cfg.data_dir = "/nonexistent/doubt/data";
    ck_assert_int_ne(doubt_trainer_create(ctx, &cfg, &tr), DOUBT_OK);
    ck_assert_ptr_nonnull(strstr(doubt_ctx_error(ctx), "/nonexistent/doubt/data"));
    ck_assert_ptr_null(tr);
    cfg.batch = 0;
    ck_assert_int_eq(doubt_trainer_create(ctx, &cfg, &tr), DOUBT_ERR_ARG);
    doubt_ctx_destroy(ctx);
}
END_TEST

static void temp_run_dir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/doubt_train_run_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void rm_rf(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Five steps validating every two: lines at steps 2, 4 and the last, 5. */
static int run_train_with_val(const char *val, const char *run, char **out, char **err)
{
    const char *args[] = {"train",   "--data",    dataset_dir, "--val",   val,  "--config",
                          TINY_JSON, "--out",     run,         "--steps", "5",  "--val-every",
                          "2",       "--batch",   "2",         "--crop",  "16", "--log-every",
                          "100",     "--threads", "1",         "--seed",  "3",  NULL};
    return th_run_doubt(args, out, err);
}

static const cJSON *field(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(v != NULL, "no \"%s\"", key);
    return v;
}

START_TEST(val_lines_match_eval_of_saved_weights)
{
    make_dataset();
    char run[64], path[128], *out, *err;
    temp_run_dir(run, sizeof run);
    int status = run_train_with_val(dataset_dir, run, &out, &err);
    ck_assert_msg(status == 0, "doubt train exited %d: %s", status, err);
    snprintf(path, sizeof path, "%s/log.jsonl", run);
    char *log = th_read_text(path);
    ck_assert_str_eq(out, log); /* stdout carries the same lines */

    static const int want_steps[] = {2, 4, 5};
    int n_val = 0;
    doubt_eval_headline last = {0};
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        ck_assert_msg(j != NULL, "not JSON: %s", line);
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(j, "val");
        if (val) {
            ck_assert_int_lt(n_val, 3);
            ck_assert_int_eq(field(j, "step")->valueint, want_steps[n_val]);
            const double miou = field(val, "miou")->valuedouble,
                         acc = field(val, "pixel_acc")->valuedouble,
                         abs_rel = field(val, "abs_rel")->valuedouble,
                         rmse = field(val, "rmse")->valuedouble,
                         sigma = field(val, "sigma_mean")->valuedouble;
            ck_assert_msg(miou >= 0 && miou <= 1 && acc >= 0 && acc <= 1 && miou <= acc + 1e-12,
                          "%s", line);
            ck_assert_msg(abs_rel >= 0 && isfinite(abs_rel) && rmse >= 0 && isfinite(rmse), "%s",
                          line);
            ck_assert_msg(sigma > 0 && isfinite(sigma), "%s", line);
            last = (doubt_eval_headline){miou, acc, abs_rel, rmse, sigma};
            n_val++;
        }
        cJSON_Delete(j);
    }
    ck_assert_int_eq(n_val, 3);
    free(out);
    free(err);
    free(log);

    snprintf(path, sizeof path, "%s/weights.safetensors", run);
    const char *args[] = {"eval",      "--deterministic", "--weights", path, "--data",
                          dataset_dir, "--threads",       "1",         NULL};
    status = th_run_doubt(args, &out, &err);
    ck_assert_msg(status == 0, "doubt eval exited %d: %s", status, err);
    cJSON *report = cJSON_Parse(out);
    ck_assert_ptr_nonnull(report);
    ck_assert(cJSON_IsTrue(field(report, "deterministic")));
    const cJSON *seg = field(report, "seg"), *depth = field(report, "depth"),
                *unc = field(report, "uncertainty");
    const doubt_eval_headline e = {
        field(seg, "miou")->valuedouble, field(seg, "pixel_acc")->valuedouble,
        field(depth, "abs_rel")->valuedouble, field(depth, "rmse")->valuedouble,
        field(unc, "depth_aleatoric_sigma_mean")->valuedouble};
    printf("  last val line: miou %.9g abs_rel %.9g; doubt eval: miou %.9g abs_rel %.9g\n",
           last.miou, last.abs_rel, e.miou, e.abs_rel);
    ck_assert_double_eq_tol(last.miou, e.miou, 1e-6 * e.miou);
    ck_assert_double_eq_tol(last.abs_rel, e.abs_rel, 1e-6 * e.abs_rel);
    ck_assert_double_eq_tol(last.pixel_acc, e.pixel_acc, 1e-6 * e.pixel_acc);
    ck_assert_double_eq_tol(last.rmse, e.rmse, 1e-6 * e.rmse);
    ck_assert_double_eq_tol(last.sigma_mean, e.sigma_mean, 1e-6 * e.sigma_mean);
    cJSON_Delete(report);
    free(out);
    free(err);
    rm_rf(run);
    remove_dataset();
}
END_TEST

START_TEST(bad_val_folders_stop_training)
{
    make_dataset();
    char run[64], path[160], *out, *err;

    /* a mistyped folder: refused before step 1, nothing written */
    temp_run_dir(run, sizeof run);
    const char *missing = "/nonexistent/doubt_val_folder";
    ck_assert_int_eq(run_train_with_val(missing, run, &out, &err), 1);
    ck_assert_msg(strstr(err, missing) != NULL, "stderr: %s", err);
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", run);
    ck_assert_int_ne(access(path, F_OK), 0);
    free(out);
    free(err);

    /* a folder that opens but holds an unreadable image: the first validation (step 2) fails,
     * after the checkpoint of that step is written */
    char val[128];
    snprintf(val, sizeof val, "%s/val", run);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp -r %s %s && echo broken > %s/images/s1.png", dataset_dir, val,
             val);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(run_train_with_val(val, run, &out, &err), 1);
    ck_assert_msg(strstr(err, val) != NULL && strstr(err, "step 2") != NULL, "stderr: %s", err);
    ck_assert_ptr_null(strstr(out, "\"val\""));
    doubt_safetensors *ckpt = NULL;
    doubt_error e = {{0}};
    ck_assert_msg(doubt_safetensors_read(path, &ckpt, &e) == DOUBT_OK, "%s", e.msg);
    ck_assert_str_eq(doubt_safetensors_meta(ckpt, "step"), "2");
    doubt_safetensors_destroy(ckpt);
    free(out);
    free(err);
    rm_rf(run);
    remove_dataset();
}
END_TEST

/* Option values are checked before anything is read: exit 2 and one message naming the option
 * and the value given. */
START_TEST(bad_option_values_are_usage_errors)
{
    static const struct {
        const char *option, *value, *message;
    } cases[] = {
        {"--batch", "abc", "--batch wants 1..4096: abc"},
        {"--batch", "4097", "--batch wants 1..4096: 4097"},
        {"--crop", "24", "--crop wants a multiple of 16: 24"},
        {"--steps", "", "--steps wants a positive integer: "},
        {"--seed", "-1", "--seed wants an integer >= 0: -1"},
        {"--lr", "0", "--lr wants a number in (0, 10]: 0"},
        {"--lr", "nan", "--lr wants a number in (0, 10]: nan"},
        {"--lr", "1e-3x", "--lr wants a number in (0, 10]: 1e-3x"},
        {"--weight-decay", "1e-50", "--weight-decay wants a number in [0, 1]: 1e-50"},
        {"--log-every", "99999999999999999999",
         "--log-every wants a positive integer: 99999999999999999999"},
        {"--depth", "disparity", "--depth wants metric, log or inverse: disparity"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        th_assert_usage_error((const char *[]){"train", "--data", "/nonexistent/doubt/data",
                                               "--out", "/nonexistent/doubt/run", "--steps", "5",
                                               cases[i].option, cases[i].value, NULL},
                              cases[i].message);
    /* an option given last, without its value */
    th_assert_usage_error((const char *[]){"train", "--data", "d", "--out", "o", "--threads", NULL},
                          "missing value after: --threads");
}
END_TEST

/* One step of the tiny network at lr 1e-9 (the weights barely move) into run, from init's
 * weights or (init NULL) the seed's; returns the saved enc.0.conv1.weight and its length. */
static float *one_step_weights(const char *run, const char *seed, const char *init,
                               int64_t *count)
{
    const char *args[] = {"train",   "--data",  dataset_dir, "--config", TINY_JSON, "--out",
                          run,       "--steps", "1",         "--batch",  "2",       "--crop",
                          "16",      "--seed",  seed,        "--lr",     "1e-9",    "--threads",
                          "1",       init ? "--init" : NULL, init,       NULL}; /* NULL ends */
    char *out, *err, path[128];
    int status = th_run_doubt(args, &out, &err);
    ck_assert_msg(status == 0, "doubt train exited %d: %s", status, err);
    free(out);
    free(err);
    snprintf(path, sizeof path, "%s/weights.safetensors", run);
    doubt_safetensors *f = NULL;
    doubt_error e;
    ck_assert_msg(doubt_safetensors_read(path, &f, &e) == DOUBT_OK, "%s", e.msg);
    const doubt_st_tensor *t = doubt_safetensors_find(f, "enc.0.conv1.weight");
    ck_assert_ptr_nonnull(t);
    float *copy = malloc((size_t)t->count * sizeof *copy);
    memcpy(copy, t->data, (size_t)t->count * sizeof *copy);
    *count = t->count;
    doubt_safetensors_destroy(f);
    return copy;
}

static double max_abs_diff(const float *a, const float *b, int64_t n)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)a[i] - b[i]));
    return worst;
}

/* --init starts from the given weights, not from the seed's random ones; it does not combine
 * with --resume. */
START_TEST(init_starts_from_given_weights)
{
    make_dataset();
    char first[64], tuned[64], fresh[64], path[128];
    temp_run_dir(first, sizeof first);
    temp_run_dir(tuned, sizeof tuned);
    temp_run_dir(fresh, sizeof fresh);
    int64_t n;
    float *a = one_step_weights(first, "3", NULL, &n);
    snprintf(path, sizeof path, "%s/weights.safetensors", first);
    float *b = one_step_weights(tuned, "99", path, &n);
    float *c = one_step_weights(fresh, "99", NULL, &n);
    const double from_init = max_abs_diff(b, a, n), from_seed = max_abs_diff(c, a, n);
    printf("  --init: max |w - given| %.2e; without it (another seed) %.2e\n", from_init,
           from_seed);
    ck_assert_msg(from_init < 1e-6, "%g", from_init);
    ck_assert_msg(from_seed > 1e-2, "%g", from_seed);
    th_assert_usage_error((const char *[]){"train", "--data", dataset_dir, "--out", tuned,
                                           "--steps", "2", "--init", path, "--resume", NULL},
                          "--init starts a new run; --resume continues one: choose one");
    free(a), free(b), free(c);
    rm_rf(first), rm_rf(tuned), rm_rf(fresh);
    remove_dataset();
}
END_TEST

/* The weights of a run name the dataset's no-depth classes (dataset.json), so predict knows
 * where depth is undefined, and the --depth parametrisation; a bad list stops the command
 * naming dataset.json. */
START_TEST(weights_take_no_depth_classes_from_dataset)
{
    make_dataset();
    char run[64], path[160], *out, *err;
    snprintf(path, sizeof path, "%s/dataset.json", dataset_dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"classes\": 3, \"no_depth_classes\": [0]}\n", f);
    fclose(f);
    temp_run_dir(run, sizeof run);
    const char *args[] = {"train",     "--data",  dataset_dir, "--config", TINY_JSON,
                          "--out",     run,       "--steps",   "1",        "--batch",
                          "2",         "--crop",  "16",        "--threads", "1",
                          "--depth",   "log",     NULL};
    int status = th_run_doubt(args, &out, &err);
    ck_assert_msg(status == 0, "doubt train exited %d: %s", status, err);
    free(out), free(err);
    snprintf(path, sizeof path, "%s/weights.safetensors", run);
    doubt_safetensors *w;
    doubt_error e;
    ck_assert_msg(!doubt_safetensors_read(path, &w, &e), "%s", e.msg);
    ck_assert_int_eq(w->network.no_depth_count, 1);
    ck_assert_int_eq(w->network.no_depth_classes[0], 0);
    ck_assert_int_eq(w->network.depth, DOUBT_DEPTH_LOG); /* and --depth, too */
    doubt_safetensors_destroy(w);
    rm_rf(run);

    snprintf(path, sizeof path, "%s/dataset.json", dataset_dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"classes\": 3, \"no_depth_classes\": [5]}\n", f);
    fclose(f);
    temp_run_dir(run, sizeof run);
    args[6] = run;
    status = th_run_doubt(args, &out, &err);
    ck_assert_int_eq(status, 1);
    ck_assert_msg(strstr(err, path) && strstr(err, "no_depth_classes"), "message: %s", err);
    free(out), free(err);
    rm_rf(run);
    remove_dataset();
}
END_TEST

/* With log or inverse depth (the loop index) the depth loss is the Gaussian NLL of log y or
 * 1/y, computed here naively from the step's outputs, its gradient reaches the head as
 * w·e^{-s}·(m - t)/n, and a fresh run starts the depth bias at the mean target. */
START_TEST(depth_loss_in_log_and_inverse_space)
{
    make_dataset();
    doubt_ctx *ctx = th_ctx(0);
    doubt_train_config cfg = tiny_config(4, 0.5);
    cfg.net.depth = _i == 0 ? DOUBT_DEPTH_LOG : DOUBT_DEPTH_INVERSE;
    doubt_trainer *tr;
    TH_OK(ctx, doubt_trainer_create(ctx, &cfg, &tr));
    TH_OK(ctx, doubt_trainer_init(ctx, tr));
    const int c = cfg.net.classes;
    const size_t pixels = (size_t)cfg.batch * cfg.crop * cfg.crop, hw = (size_t)cfg.crop * cfg.crop;
    double bias = 0, valid = 0;
    for (size_t i = 0; i < pixels; i++)
        if (tr->depth[i] > 0) {
            bias += _i == 0 ? log(tr->depth[i]) : 1.0 / tr->depth[i];
            valid++;
        }
    ck_assert_double_eq_tol(doubt_net_param_find(tr->net, "head.bias")->value->data[c + 1],
                            bias / valid, 1e-5);

    const float s_depth = -0.4f;
    tr->task_log_var.data[1] = s_depth;
    doubt_train_stats stats;
    TH_OK(ctx, doubt_trainer_step(ctx, tr, &stats));
    double nll = 0;
    valid = 0;
    for (size_t i = 0; i < pixels; i++) {
        const double y = tr->depth[i];
        if (!(y > 0))
            continue;
        const double t = _i == 0 ? log(y) : 1 / y, r = tr->depth_pred[i] - t;
        const double sv = tr->depth_log_var[i];
        nll += 0.5 * exp(-sv) * r * r + 0.5 * sv;
        valid++;
    }
    nll /= valid;
    printf("  %s depth: NLL %.7g (naive %.7g)\n", doubt_depth_param_name(cfg.net.depth),
           stats.loss_depth, nll);
    ck_assert_double_eq_tol(stats.loss_depth, nll, 1e-5 * fmax(1, fabs(nll)));
    const double w = exp(-(double)s_depth);
    for (int b = 0; b < cfg.batch; b++) {
        const float *g = diff_channel(tr, b, c + 1);
        for (size_t k = 0; k < hw; k++) {
            const size_t i = (size_t)b * hw + k;
            const double y = tr->depth[i];
            const double t = _i == 0 ? log(y) : 1 / y;
            const double want =
                y > 0 ? w * exp(-(double)tr->depth_log_var[i]) * (tr->depth_pred[i] - t) / valid : 0;
            ck_assert_double_eq_tol(g[k], want, 1e-5 * fmax(1e-3, fabs(want)));
        }
    }
    doubt_trainer_destroy(tr);
    doubt_ctx_destroy(ctx);
    remove_dataset();
}
END_TEST


/* A trainer with no dataset (the caller fills each batch), weights from init_seed. */
static doubt_trainer *bare_trainer(doubt_ctx *ctx, doubt_train_config cfg, uint64_t init_seed)
{
    cfg.data_dir = NULL;
    doubt_trainer *tr;
    TH_OK(ctx, doubt_trainer_create(ctx, &cfg, &tr));
    TH_OK(ctx, doubt_net_init_weights(ctx, tr->net, init_seed));
    const size_t pixels = (size_t)cfg.batch * cfg.crop * cfg.crop;
    th_fill(tr->images, (int64_t)pixels * 3, 9, 0, 1);
    for (size_t i = 0; i < pixels; i++) {
        tr->labels[i] = (uint8_t)(i % 3);
        tr->depth[i] = 2.0f + (float)(i % 5);
    }
    return tr;
}

/* Every running mean and variance, plain, concatenated. */
static float *running_stats(doubt_ctx *ctx, const doubt_trainer *tr, size_t *count)
{
    size_t n = 0;
    for (int i = 0; i < tr->net->n_params; i++)
        if (!tr->net->params[i].grad)
            n += (size_t)doubt_tensor_count(tr->net->params[i].value);
    float *all = malloc(n * sizeof *all), *at = all;
    for (int i = 0; i < tr->net->n_params; i++)
        if (!tr->net->params[i].grad) {
            TH_OK(ctx, doubt_tensor_read(ctx, tr->net->params[i].value, at));
            at += doubt_tensor_count(tr->net->params[i].value);
        }
    *count = n;
    return all;
}

/* Issue 14.2: a failed step must not leave NaN running statistics behind (they are what the
 * "last good weights" written after it carry). */
START_TEST(failed_step_leaves_running_stats_untouched)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_trainer *tr = bare_trainer(ctx, tiny_config(4, 0.5), 5);
    TH_OK(ctx, doubt_trainer_step_batch(ctx, tr, NULL));
    size_t n;
    float *before = running_stats(ctx, tr, &n);
    tr->images[0] = NAN; /* through the first batch norm's batch statistics */
    ck_assert_int_eq(doubt_trainer_step_batch(ctx, tr, NULL), DOUBT_ERR_NUMERIC);
    float *after = running_stats(ctx, tr, &n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(isfinite(after[i]), "running statistic %zu is %g after a failed step", i,
                      (double)after[i]);
    ck_assert_mem_eq(before, after, n * sizeof *before);
    free(before);
    free(after);
    doubt_trainer_destroy(tr);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* Issue 14.4: --seed must reach the dropout masks, not only the batches. Same weights, same
 * batch, plain losses (no sampling in the loss): only the masks can tell the seeds apart. */
START_TEST(dropout_masks_follow_the_seed)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_train_config cfg = tiny_config(4, 0.5);
    cfg.loss = DOUBT_LOSS_PLAIN;
    float loss[2];
    for (int k = 0; k < 2; k++) {
        cfg.seed = k ? 12345 : 0;
        doubt_trainer *tr = bare_trainer(ctx, cfg, 5);
        doubt_train_stats stats;
        TH_OK(ctx, doubt_trainer_step_batch(ctx, tr, &stats));
        loss[k] = stats.loss;
        doubt_trainer_destroy(tr);
    }
    ck_assert_msg(loss[0] != loss[1], "seeds 0 and 12345 give the same loss %.9g", loss[0]);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* Issue 14.1: images are read as RGB, so a network that wants another channel count is
 * refused when it is built, not fed past the end of the image buffer. */
START_TEST(in_channels_other_than_three_is_refused)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_train_config cfg = tiny_config(4, 0.5);
    cfg.data_dir = NULL;
    const int channels[] = {1, 2, 4, 4096};
    for (size_t i = 0; i < sizeof channels / sizeof channels[0]; i++) {
        cfg.net.in_channels = channels[i];
        doubt_trainer *tr = NULL;
        ck_assert_int_eq(doubt_trainer_create(ctx, &cfg, &tr), DOUBT_ERR_ARG);
        ck_assert_ptr_null(tr);
        ck_assert_msg(strstr(doubt_ctx_error(ctx), "in_channels"), "%s", doubt_ctx_error(ctx));
    }
    doubt_ctx_destroy(ctx);
}
END_TEST

/* Issue 14.3: --resume continues the same run or says which option differs. */
static void change_seed(doubt_train_config *c) { c->seed++; }
static void change_lr(doubt_train_config *c) { c->optim.lr *= 2; }
static void change_warmup(doubt_train_config *c) { c->optim.warmup_steps++; }
static void change_steps(doubt_train_config *c) { c->optim.total_steps++; }
static void change_batch(doubt_train_config *c) { c->batch++; }
static void change_crop(doubt_train_config *c) { c->crop += 16; }
static void change_loss(doubt_train_config *c) { c->loss = DOUBT_LOSS_PLAIN; }
static void change_weighting(doubt_train_config *c) { c->weighting = DOUBT_WEIGHTING_FIXED; }
static void change_loss_samples(doubt_train_config *c) { c->loss_samples++; }
static void change_weight_decay(doubt_train_config *c) { c->optim.weight_decay *= 2; }

static const struct {
    const char *option;
    void (*change)(doubt_train_config *c);
} run_changes[] = {
    {"--seed", change_seed},   {"--lr", change_lr},       {"--warmup", change_warmup},
    {"--steps", change_steps}, {"--batch", change_batch}, {"--crop", change_crop},
    {"--loss", change_loss},   {"--weighting", change_weighting},
    {"--loss-samples", change_loss_samples}, {"--weight-decay", change_weight_decay},
};
#define N_RUN_CHANGES ((int)(sizeof run_changes / sizeof run_changes[0]))

START_TEST(resume_refuses_a_different_run)
{
    make_dataset();
    doubt_ctx *ctx = th_ctx(0);
    doubt_train_config cfg = tiny_config(6, 0.5);
    char checkpoint[96];
    snprintf(checkpoint, sizeof checkpoint, "%s/ckpt.safetensors", dataset_dir);
    doubt_trainer *tr;
    TH_OK(ctx, doubt_trainer_create(ctx, &cfg, &tr));
    TH_OK(ctx, doubt_trainer_init(ctx, tr));
    TH_OK(ctx, doubt_trainer_step(ctx, tr, NULL));
    TH_OK(ctx, doubt_trainer_save(ctx, tr, checkpoint));
    doubt_trainer_destroy(tr);
    /* the same run resumes, also with task weights its learned weighting never uses */
    doubt_train_config same = cfg;
    same.fixed_weights[0] = 3;
    TH_OK(ctx, doubt_trainer_create(ctx, &same, &tr));
    TH_OK(ctx, doubt_trainer_load(ctx, tr, checkpoint));
    doubt_trainer_destroy(tr);
    doubt_train_config other = cfg;
    run_changes[_i].change(&other);
    TH_OK(ctx, doubt_trainer_create(ctx, &other, &tr));
    ck_assert_msg(doubt_trainer_load(ctx, tr, checkpoint) == DOUBT_ERR_ARG,
                  "a checkpoint resumed with another %s", run_changes[_i].option);
    ck_assert_msg(strstr(doubt_ctx_error(ctx), run_changes[_i].option), "%s: %s",
                  run_changes[_i].option, doubt_ctx_error(ctx));
    ck_assert_int_eq(tr->optim->step, 0);
    doubt_trainer_destroy(tr);
    doubt_ctx_destroy(ctx);
    remove_dataset();
}
END_TEST


static int same_bytes(const char *a, const char *b)
{
    char *x = th_read_text(a), *y = th_read_text(b);
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    ck_assert(fa && fb);
    fseek(fa, 0, SEEK_END);
    fseek(fb, 0, SEEK_END);
    const long na = ftell(fa), nb = ftell(fb);
    fclose(fa);
    fclose(fb);
    int same = na == nb && !memcmp(x, y, (size_t)na);
    free(x);
    free(y);
    return same;
}

/* Fault test: `doubt train` killed (SIGKILL) between two checkpoints, then --resume, ends
 * with the same checkpoint and weights, byte for byte, as the run that was never stopped. */
START_TEST(killed_train_resumes_bit_identically)
{
    make_dataset();
    char straight[64], killed[64], a[128], b[128];
    temp_run_dir(straight, sizeof straight);
    temp_run_dir(killed, sizeof killed);
    const char *args[] = {"train",    "--data",  dataset_dir, "--config", TINY_JSON, "--out",
                          NULL,       "--steps", "8",         "--batch",  "2",       "--crop",
                          "16",       "--log-every", "1",     "--checkpoint-every",  "3",
                          "--threads", "1",      "--seed",    "5",        NULL,      NULL};
    char *out, *err;
    args[6] = straight;
    ck_assert_msg(th_run_doubt(args, &out, &err) == 0, "%s", err);
    free(out), free(err);
    args[6] = killed;
    const th_run_opts kill_at_step_4 = {.file_size_limit = -1, .kill_after_lines = 4};
    const int status = th_run_doubt_with(args, &kill_at_step_4, &out, &err);
    ck_assert_msg(status == 128 + SIGKILL, "exit %d (not killed): %s", status, err);
    free(out), free(err);
    args[21] = "--resume";
    ck_assert_msg(th_run_doubt(args, &out, &err) == 0, "%s", err);
    ck_assert_msg(!strstr(err, "from step 0 "), "did not resume: %s", err);
    free(out), free(err);
    const char *files[] = {"checkpoint.safetensors", "weights.safetensors"};
    for (int i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s/%s", straight, files[i]);
        snprintf(b, sizeof b, "%s/%s", killed, files[i]);
        ck_assert_msg(same_bytes(a, b), "%s differs after kill and resume", files[i]);
    }
    rm_rf(straight);
    rm_rf(killed);
    remove_dataset();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_add_test(tc, resume_is_bit_identical);
    tcase_add_test(tc, resume_through_winograd_is_bit_identical);
    tcase_add_test(tc, non_finite_step_keeps_weights);
    tcase_add_test(tc, loss_goes_down);
    tcase_add_test(tc, learned_weighting_weights_the_depth_data_term);
    tcase_add_test(tc, fixed_weighting_multiplies_whole_losses);
    tcase_add_test(tc, bad_configs);
    tcase_add_test(tc, val_lines_match_eval_of_saved_weights);
    tcase_add_test(tc, bad_val_folders_stop_training);
    tcase_add_test(tc, bad_option_values_are_usage_errors);
    tcase_add_test(tc, init_starts_from_given_weights);
    tcase_add_test(tc, weights_take_no_depth_classes_from_dataset);
    tcase_add_loop_test(tc, depth_loss_in_log_and_inverse_space, 0, 2);
    tcase_add_test(tc, failed_step_leaves_running_stats_untouched);
    tcase_add_test(tc, dropout_masks_follow_the_seed);
    tcase_add_test(tc, in_channels_other_than_three_is_refused);
    tcase_add_loop_test(tc, resume_refuses_a_different_run, 0, N_RUN_CHANGES);
    tcase_add_test(tc, killed_train_resumes_bit_identically);
    tcase_add_test(tc, concrete_resume_is_bit_identical);
    tcase_add_test(tc, concrete_regulariser_gradients);
    tcase_add_test(tc, segnet_learns_and_predicts);
    suite_add_tcase(s, tc);
    return th_run(s);
}
