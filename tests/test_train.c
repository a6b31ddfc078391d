/* Training: a resumed run continues bit-identically, a non-finite step keeps the weights, and
 * the loss goes down on a tiny dataset. The dataset is written here: random images with
 * labels and depth that follow from the pixels, so there is something to learn. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "io/fsutil.h"
#include "io/png.h"
#include "model/train.h"

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

static doubt_train_config tiny_config(int64_t steps, double dropout)
{
    doubt_train_config c = {0};
    c.data_dir = dataset_dir;
    doubt_error err;
    const char *json = "{\"arch\":\"unet\",\"in_channels\":3,\"classes\":3,\"widths\":[4,8],"
                       "\"dropout\":0.5}";
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

START_TEST(resume_is_bit_identical)
{
    make_dataset();
    doubt_ctx *ctx = th_ctx(0);
    doubt_train_config cfg = tiny_config(6, 0.5);
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
    free(a);
    free(b);
    doubt_trainer_destroy(straight);
    doubt_trainer_destroy(second);
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
    doubt_unet_param *p = doubt_unet_param_find(tr->net, "head.bias");
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

START_TEST(loss_goes_down)
{
    make_dataset();
    doubt_ctx *ctx = th_ctx(0);
    /* without dropout, so 200 steps of a 4-channel network show it clearly */
    doubt_train_config cfg = tiny_config(200, 0);
    doubt_trainer *tr;
    TH_OK(ctx, doubt_trainer_create(ctx, &cfg, &tr));
    TH_OK(ctx, doubt_trainer_init(ctx, tr));
    doubt_train_stats stats;
    double early = 0, late = 0;
    for (int s = 0; s < cfg.optim.total_steps; s++) {
        TH_OK(ctx, doubt_trainer_step(ctx, tr, &stats));
        if (s < 10)
            early += stats.loss_seg / 10;
        if (s >= 190)
            late += stats.loss_seg / 10;
    }
    printf("  segmentation loss: first 10 steps %.3f, last 10 %.3f\n", early, late);
    ck_assert_double_lt(late, 0.7 * early);
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

int main(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_add_test(tc, resume_is_bit_identical);
    tcase_add_test(tc, non_finite_step_keeps_weights);
    tcase_add_test(tc, loss_goes_down);
    tcase_add_test(tc, bad_configs);
    suite_add_tcase(s, tc);
    return th_run(s);
}
