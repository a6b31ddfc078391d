/* Helpers of the tests that hold a network against PyTorch goldens (test_unet, test_segnet):
 * the files tools/unet_golden.py and tools/segnet_golden.py write, with the keys
 * golden.input, golden.output (train mode), golden.output_eval, golden.grad_output (R of
 * L = sum(out * R)), golden.grad.<param> and golden.after.<running statistic>. */
#ifndef DOUBT_TESTS_GOLDEN_NET_H
#define DOUBT_TESTS_GOLDEN_NET_H

#include "model/net.h"
#include "model/safetensors.h"

/* The file at path; fails the test with the reader's message otherwise. */
doubt_safetensors *gn_open(const char *path);

/* The golden tensor `name`; fails the test when it is missing. */
const doubt_st_tensor *gn_golden(const doubt_safetensors *g, const char *name);

/* th_rel_err of float arrays. */
double gn_rel_err(const float *a, const float *b, int64_t n);

/* A network of w's description for golden.input's shape, with w's weights. */
doubt_net *gn_net(doubt_ctx *ctx, const doubt_safetensors *w, const doubt_st_tensor *input,
                  doubt_mode mode);

/* Forward in train mode (dropout off), output against golden.output (< 1e-4), backward of
 * golden.grad_output, every gradient (< 1e-3) and running statistic (< 1e-4) against its
 * golden; prints the worst errors under `label`. */
void gn_check_training(doubt_ctx *ctx, const char *weights, const char *goldens,
                       const char *label);

#endif
