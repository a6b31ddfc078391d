/* The unet network against PyTorch: tools/unet_golden.py builds the same module, and its
 * outputs, running statistics and gradients for a fixed input are the goldens here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "golden_net.h"
#include "harness.h"
#include "model/weights.h"

#define WEIGHTS "tests/golden/model/unet_tiny.safetensors"
#define GOLDEN "tests/golden/model/unet_tiny_golden.safetensors"

START_TEST(train_forward_backward_match_pytorch)
{
    doubt_ctx *ctx = th_ctx(0);
    gn_check_training(ctx, WEIGHTS, GOLDEN, "unet");
    doubt_ctx_destroy(ctx);
}
END_TEST

START_TEST(inference_matches_pytorch_eval)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = gn_open(WEIGHTS), *g = gn_open(GOLDEN);
    const doubt_st_tensor *input = gn_golden(g, "golden.input");
    doubt_net *net = gn_net(ctx, w, input, DOUBT_MODE_INFER);
    TH_OK(ctx, doubt_net_forward(ctx, net, input->data, 0, 0));
    const doubt_st_tensor *out = gn_golden(g, "golden.output_eval");
    double err = gn_rel_err(doubt_net_output(net), out->data, out->count);
    printf("  eval-mode output vs PyTorch: rel err %.2e\n", err);
    ck_assert_double_lt(err, 1e-4);
    ck_assert_int_eq(doubt_net_backward(ctx, net), DOUBT_ERR_ARG);
    doubt_net_destroy(net);
    doubt_safetensors_destroy(w);
    doubt_safetensors_destroy(g);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* Same sample base, same output; another base, another output; off, the golden one. */
START_TEST(mc_dropout_is_keyed_by_sample)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = gn_open(WEIGHTS), *g = gn_open(GOLDEN);
    const doubt_st_tensor *input = gn_golden(g, "golden.input");
    doubt_net *net = gn_net(ctx, w, input, DOUBT_MODE_INFER);
    const int64_t n = (int64_t)net->batch * (net->desc.classes + 3) * net->height * net->width;
    float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    TH_OK(ctx, doubt_net_forward(ctx, net, input->data, 1, 5));
    memcpy(a, doubt_net_output(net), (size_t)n * sizeof *a);
    TH_OK(ctx, doubt_net_forward(ctx, net, input->data, 1, 5));
    ck_assert_mem_eq(a, doubt_net_output(net), (size_t)n * sizeof *a);
    TH_OK(ctx, doubt_net_forward(ctx, net, input->data, 1, 6));
    memcpy(b, doubt_net_output(net), (size_t)n * sizeof *b);
    int64_t differ = 0;
    for (int64_t i = 0; i < n; i++)
        differ += a[i] != b[i];
    ck_assert_int_gt(differ, n / 2);
    TH_OK(ctx, doubt_net_forward(ctx, net, input->data, 0, 0));
    const doubt_st_tensor *out = gn_golden(g, "golden.output_eval");
    ck_assert_double_lt(gn_rel_err(doubt_net_output(net), out->data, out->count), 1e-4);
    free(a);
    free(b);
    doubt_net_destroy(net);
    doubt_safetensors_destroy(w);
    doubt_safetensors_destroy(g);
    doubt_ctx_destroy(ctx);
}
END_TEST

START_TEST(save_then_load_round_trips)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_netdesc d;
    doubt_error err;
    ck_assert(doubt_netdesc_preset("unet-small", &d, &err) == DOUBT_OK);
    doubt_net *a = NULL, *b = NULL;
    TH_OK(ctx, doubt_net_create(ctx, &d, 1, 32, 32, DOUBT_MODE_TRAIN, &a));
    TH_OK(ctx, doubt_net_init_weights(ctx, a, 3));
    char path[] = "/tmp/doubt_net_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    TH_OK(ctx, doubt_weights_save(ctx, a, path, NULL, 0, NULL, 0));
    TH_OK(ctx, doubt_net_create(ctx, &d, 1, 32, 32, DOUBT_MODE_INFER, &b));
    TH_OK(ctx, doubt_weights_load_file(ctx, b, path));
    for (int i = 0; i < a->n_params; i++) {
        int64_t n = a->params[i].info.count;
        float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
        TH_OK(ctx, doubt_tensor_read(ctx, a->params[i].value, x));
        TH_OK(ctx, doubt_tensor_read(ctx, b->params[i].value, y));
        ck_assert_mem_eq(x, y, (size_t)n * sizeof *x);
        free(x);
        free(y);
    }
    unlink(path);
    doubt_net_destroy(a);
    doubt_net_destroy(b);
    doubt_ctx_destroy(ctx);
}
END_TEST

START_TEST(bad_shapes_and_files)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_netdesc d;
    doubt_error err;
    ck_assert(doubt_netdesc_preset("unet", &d, &err) == DOUBT_OK);
    doubt_net *net = NULL;
    ck_assert_int_eq(doubt_net_create(ctx, &d, 1, 100, 64, DOUBT_MODE_INFER, &net), DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(doubt_ctx_error(ctx), "multiples of 16"));
    ck_assert_ptr_null(net);
    TH_OK(ctx, doubt_net_create(ctx, &d, 1, 32, 32, DOUBT_MODE_INFER, &net));
    /* the tiny golden weights do not fit the default network */
    ck_assert_int_ne(doubt_weights_load_file(ctx, net, WEIGHTS), DOUBT_OK);
    ck_assert_ptr_nonnull(strstr(doubt_ctx_error(ctx), "unet_tiny.safetensors"));
    ck_assert_int_eq(doubt_weights_load_file(ctx, net, "tests/golden/model/missing.safetensors"),
                     DOUBT_ERR_IO);
    doubt_net_destroy(net);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* Each network owns its activations: building and destroying networks of many sizes (as MC
 * inference does for a folder of differently sized images) leaves the context's arena as it
 * was, so memory does not grow with the number of sizes seen. */
START_TEST(networks_return_their_activation_memory)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_netdesc d;
    doubt_error err;
    ck_assert(doubt_netdesc_preset("unet-small", &d, &err) == DOUBT_OK);
    const size_t context_before = ctx->arena.capacity_bytes;
    for (int size = 32; size <= 96; size += 16) {
        doubt_net *net = NULL;
        TH_OK(ctx, doubt_net_create(ctx, &d, 2, size, size + 16, DOUBT_MODE_TRAIN, &net));
        /* input, the activations of 9 blocks and their gradients: far more than the input */
        ck_assert_uint_gt(net->arena.used_bytes, (size_t)2 * 3 * size * (size + 16) * 4 * 10);
        doubt_net_destroy(net);
    }
    ck_assert_uint_eq(ctx->arena.capacity_bytes, context_before);
    doubt_ctx_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("unet");
    TCase *golden_tc = tcase_create("pytorch");
    tcase_add_test(golden_tc, train_forward_backward_match_pytorch);
    tcase_add_test(golden_tc, inference_matches_pytorch_eval);
    tcase_add_test(golden_tc, mc_dropout_is_keyed_by_sample);
    suite_add_tcase(s, golden_tc);
    TCase *files = tcase_create("weights");
    tcase_add_test(files, save_then_load_round_trips);
    tcase_add_test(files, bad_shapes_and_files);
    tcase_add_test(files, networks_return_their_activation_memory);
    suite_add_tcase(s, files);
    return th_run(s);
}
