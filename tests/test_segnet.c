/* The segnet network against PyTorch: tools/segnet_golden.py builds the same module
 * (bench/torch_segnet.py) and writes its weights, and its outputs, running statistics and
 * gradients for a fixed input, which are the goldens here. The weights files are written
 * by PyTorch, so these tests also show that a PyTorch segnet's weights load in doubt. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden_net.h"
#include "harness.h"
#include "model/mc.h"
#include "model/weights.h"

#define GOLDEN_DIR "tests/golden/model/"

/* Train mode (batch statistics, dropout off): output, every gradient, running statistics. */
START_TEST(tiny_train_forward_backward_match_pytorch)
{
    doubt_ctx *ctx = th_ctx(0);
    gn_check_training(ctx, GOLDEN_DIR "segnet_tiny.safetensors",
                      GOLDEN_DIR "segnet_tiny_golden.safetensors", "segnet");
    doubt_ctx_destroy(ctx);
}
END_TEST

/* Eval mode (running statistics folded into the convolutions) for the tiny network and the
 * segnet-small preset, and train mode for the preset. */
static void check_output(const char *weights, const char *goldens, doubt_mode mode,
                         const char *key)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = gn_open(weights), *g = gn_open(goldens);
    const doubt_st_tensor *input = gn_golden(g, "golden.input");
    doubt_net *net = gn_net(ctx, w, input, mode);
    TH_OK(ctx, doubt_net_forward(ctx, net, input->data, 0, 0));
    const doubt_st_tensor *out = gn_golden(g, key);
    const double err = gn_rel_err(doubt_net_output(net), out->data, out->count);
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
    doubt_safetensors *w = gn_open(GOLDEN_DIR "segnet_small.safetensors");
    doubt_safetensors *g = gn_open(GOLDEN_DIR "segnet_small_golden.safetensors");
    const doubt_st_tensor *input = gn_golden(g, "golden.input");
    const doubt_st_tensor *out = gn_golden(g, "golden.output_eval");
    const int h = (int)input->shape[2], wd = (int)input->shape[3];
    doubt_mc *mc;
    TH_OK(ctx, doubt_mc_create(ctx, w, &(doubt_mc_desc){.samples = 1, .deterministic = 1}, &mc));
    const doubt_mc_maps *maps;
    TH_OK(ctx, doubt_mc_run(ctx, mc, input->data, wd, h, &maps));
    const int c = w->network.classes;
    const float *depth = out->data + (size_t)(c + 1) * h * wd;
    ck_assert_double_lt(gn_rel_err(maps->depth_mean, depth, (int64_t)h * wd), 1e-4);
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
