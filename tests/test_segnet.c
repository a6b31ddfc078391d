/* The segnet network against PyTorch: tools/segnet_golden.py builds the same module
 * (bench/torch_segnet.py) and writes its weights, and its outputs, running statistics and
 * gradients for a fixed input, which are the goldens here. The weights files are written
 * by PyTorch, so these tests also show that a PyTorch segnet's weights load in doubt. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/mc.h"
#include "model/weights.h"

#define GOLDEN_DIR "tests/golden/model/"

static doubt_safetensors *open_file(const char *path)
{
    doubt_safetensors *f = NULL;
    doubt_error err = {{0}};
    ck_assert_msg(doubt_safetensors_read(path, &f, &err) == DOUBT_OK, "%s", err.msg);
    return f;
}

static const doubt_st_tensor *golden(const doubt_safetensors *g, const char *name)
{
    const doubt_st_tensor *t = doubt_safetensors_find(g, name);
    ck_assert_msg(t && t->data, "golden %s missing", name);
    return t;
}

static double rel_err_f(const float *a, const float *b, int64_t n)
{
    double *bd = malloc((size_t)n * sizeof *bd);
    for (int64_t i = 0; i < n; i++)
        bd[i] = b[i];
    double e = th_rel_err(a, bd, n);
    free(bd);
    return e;
}

static doubt_net *golden_net(doubt_ctx *ctx, const doubt_safetensors *w,
                             const doubt_st_tensor *input, doubt_mode mode)
{
    doubt_net *net = NULL;
    TH_OK(ctx, doubt_net_create(ctx, &w->network, (int)input->shape[0], (int)input->shape[2],
                                (int)input->shape[3], mode, &net));
    TH_OK(ctx, doubt_weights_load(ctx, net, w));
    return net;
}

/* Train mode (batch statistics, dropout off): output, every gradient, running statistics. */
START_TEST(tiny_train_forward_backward_match_pytorch)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = open_file(GOLDEN_DIR "segnet_tiny.safetensors");
    doubt_safetensors *g = open_file(GOLDEN_DIR "segnet_tiny_golden.safetensors");
    const doubt_st_tensor *input = golden(g, "golden.input");
    doubt_net *net = golden_net(ctx, w, input, DOUBT_MODE_TRAIN);
    TH_OK(ctx, doubt_net_forward(ctx, net, input->data, 0, 0));
    const doubt_st_tensor *out = golden(g, "golden.output");
    const double err = rel_err_f(doubt_net_output(net), out->data, out->count);
    printf("  segnet train-mode output vs PyTorch: rel err %.2e\n", err);
    ck_assert_double_lt(err, 1e-4);

    const doubt_st_tensor *r = golden(g, "golden.grad_output");
    memcpy(doubt_net_diff_output(net), r->data, (size_t)r->count * sizeof(float));
    TH_OK(ctx, doubt_net_backward(ctx, net));
    double worst_grad = 0, worst_stat = 0;
    char name[128];
    for (int i = 0; i < net->n_params; i++) {
        doubt_net_param *p = &net->params[i];
        float *got = malloc((size_t)p->info.count * sizeof *got);
        if (p->grad) {
            snprintf(name, sizeof name, "golden.grad.%s", p->info.name);
            TH_OK(ctx, doubt_tensor_read(ctx, p->grad, got));
        } else {
            snprintf(name, sizeof name, "golden.after.%s", p->info.name);
            TH_OK(ctx, doubt_tensor_read(ctx, p->value, got));
        }
        const doubt_st_tensor *want = golden(g, name);
        const double e = rel_err_f(got, want->data, want->count);
        ck_assert_msg(e < (p->grad ? 1e-3 : 1e-4), "%s: rel err %g", name, e);
        if (p->grad)
            worst_grad = fmax(worst_grad, e);
        else
            worst_stat = fmax(worst_stat, e);
        free(got);
    }
    printf("  segnet gradients vs PyTorch: worst rel err %.2e; running stats %.2e\n", worst_grad,
           worst_stat);
    doubt_net_destroy(net);
    doubt_safetensors_destroy(w);
    doubt_safetensors_destroy(g);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* Eval mode (running statistics folded into the convolutions) for the tiny network and the
 * segnet-small preset, and train mode for the preset. */
static void check_output(const char *weights, const char *goldens, doubt_mode mode,
                         const char *key)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = open_file(weights), *g = open_file(goldens);
    const doubt_st_tensor *input = golden(g, "golden.input");
    doubt_net *net = golden_net(ctx, w, input, mode);
    TH_OK(ctx, doubt_net_forward(ctx, net, input->data, 0, 0));
    const doubt_st_tensor *out = golden(g, key);
    const double err = rel_err_f(doubt_net_output(net), out->data, out->count);
    printf("  %s %s vs PyTorch: rel err %.2e\n", weights, key, err);
    ck_assert_double_lt(err, 1e-4);
    doubt_net_destroy(net);
    doubt_safetensors_destroy(w);
    doubt_safetensors_destroy(g);
    doubt_ctx_destroy(ctx);
}

START_TEST(outputs_match_pytorch)
{
    check_output(GOLDEN_DIR "segnet_tiny.safetensors", GOLDEN_DIR "segnet_tiny_golden.safetensors",
                 DOUBT_MODE_INFER, "golden.output_eval");
    check_output(GOLDEN_DIR "segnet_small.safetensors",
                 GOLDEN_DIR "segnet_small_golden.safetensors", DOUBT_MODE_INFER,
                 "golden.output_eval");
    check_output(GOLDEN_DIR "segnet_small.safetensors",
                 GOLDEN_DIR "segnet_small_golden.safetensors", DOUBT_MODE_TRAIN,
                 "golden.output");
}
END_TEST

/* MC inference with the engine's deterministic mode is PyTorch's eval-mode forward, on an
 * image whose size is not a multiple of 32 (padded, then cropped back: compared on the
 * golden's own size here). */
START_TEST(deterministic_mc_is_the_eval_forward)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = open_file(GOLDEN_DIR "segnet_small.safetensors");
    doubt_safetensors *g = open_file(GOLDEN_DIR "segnet_small_golden.safetensors");
    const doubt_st_tensor *input = golden(g, "golden.input"), *out = golden(g, "golden.output_eval");
    const int h = (int)input->shape[2], wd = (int)input->shape[3];
    doubt_mc *mc;
    TH_OK(ctx, doubt_mc_create(ctx, w, &(doubt_mc_desc){.samples = 1, .deterministic = 1}, &mc));
    const doubt_mc_maps *maps;
    TH_OK(ctx, doubt_mc_run(ctx, mc, input->data, wd, h, &maps));
    const int c = w->network.classes;
    const float *depth = out->data + (size_t)(c + 1) * h * wd;
    ck_assert_double_lt(rel_err_f(maps->depth_mean, depth, (int64_t)h * wd), 1e-4);
    ck_assert_double_eq(maps->depth_epistemic[0], 0);
    doubt_mc_destroy(mc);
    doubt_safetensors_destroy(w);
    doubt_safetensors_destroy(g);
    doubt_ctx_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("segnet");
    TCase *tc = tcase_create("pytorch");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, tiny_train_forward_backward_match_pytorch);
    tcase_add_test(tc, outputs_match_pytorch);
    tcase_add_test(tc, deterministic_mc_is_the_eval_forward);
    suite_add_tcase(s, tc);
    return th_run(s);
}
