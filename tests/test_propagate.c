/* Moment propagation (src/model/propagate.h): its Gaussian moments against numerical
 * integration, whole networks against the float64 PyTorch reference of
 * tools/propagate_golden.py, a network where propagation is exact against Monte Carlo with
 * many samples, and the maps of `--method propagate`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden_net.h"
#include "harness.h"
#include "model/mc.h"
#include "model/propagate.h"
#include "model/weights.h"

#define GOLDEN "tests/golden/model/propagate_golden.safetensors"
#define PI 3.14159265358979323846

/* E[g(x)] and E[g(x)²] for x ~ N(m, v) by the trapezoid rule over ±12 standard deviations. */
static void integrate_relu(double m, double v, double *mean, double *var)
{
    const double s = sqrt(v);
    const int n = 200000;
    double e1 = 0, e2 = 0;
    for (int i = 0; i <= n; i++) {
        const double z = -12.0 + 24.0 * i / n, x = m + s * z;
        const double w = (i == 0 || i == n ? 0.5 : 1.0) * exp(-0.5 * z * z) / sqrt(2 * PI) *
                         24.0 / n;
        const double g = x > 0 ? x : 0;
        e1 += w * g;
        e2 += w * g * g;
    }
    *mean = e1;
    *var = e2 - e1 * e1;
}

static void integrate_max(double ma, double va, double mb, double vb, double *mean, double *var)
{
    const int n = 1200;
    double e1 = 0, e2 = 0;
    for (int i = 0; i <= n; i++)
        for (int j = 0; j <= n; j++) {
            const double za = -10.0 + 20.0 * i / n, zb = -10.0 + 20.0 * j / n;
            const double w = (i == 0 || i == n ? 0.5 : 1.0) * (j == 0 || j == n ? 0.5 : 1.0) *
                             exp(-0.5 * (za * za + zb * zb)) / (2 * PI) * (20.0 / n) *
                             (20.0 / n);
            const double a = ma + sqrt(va) * za, b = mb + sqrt(vb) * zb;
            const double g = a > b ? a : b;
            e1 += w * g;
            e2 += w * g * g;
        }
    *mean = e1;
    *var = e2 - e1 * e1;
}

START_TEST(gaussian_moments_match_integration)
{
    const double cases[][2] = {{0.0, 1.0}, {1.5, 0.25}, {-2.0, 1.0}, {0.3, 4.0}, {-0.5, 0.01}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double mean, var;
        float got_mean, got_var;
        integrate_relu(cases[k][0], cases[k][1], &mean, &var);
        doubt_propagate_relu_moments((float)cases[k][0], (float)cases[k][1], &got_mean, &got_var);
        printf("  relu N(%g, %g): mean %.6f vs %.6f, var %.6f vs %.6f\n", cases[k][0],
               cases[k][1], got_mean, mean, got_var, var);
        ck_assert_double_lt(fabs(got_mean - mean), 2e-6 * (1 + fabs(mean)));
        ck_assert_double_lt(fabs(got_var - var), 2e-6 * (1 + var));
    }
    /* no variance: the exact ReLU */
    float m, v;
    doubt_propagate_relu_moments(-3.0f, 0.0f, &m, &v);
    ck_assert(m == 0.0f && v == 0.0f);
    doubt_propagate_relu_moments(2.5f, 0.0f, &m, &v);
    ck_assert(m == 2.5f && v == 0.0f);

    const double pairs[][4] = {{0.0, 1.0, 0.0, 1.0}, {1.0, 0.5, -0.5, 2.0}, {3.0, 0.1, 0.0, 0.1}};
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        const double *c = pairs[k];
        double mean, var;
        float got_mean, got_var;
        integrate_max(c[0], c[1], c[2], c[3], &mean, &var);
        doubt_propagate_max_moments((float)c[0], (float)c[1], (float)c[2], (float)c[3],
                                    &got_mean, &got_var);
        printf("  max(N(%g,%g), N(%g,%g)): mean %.6f vs %.6f, var %.6f vs %.6f\n", c[0], c[1],
               c[2], c[3], got_mean, mean, got_var, var);
        ck_assert_double_lt(fabs(got_mean - mean), 1e-5 * (1 + fabs(mean)));
        ck_assert_double_lt(fabs(got_var - var), 1e-5 * (1 + var));
    }
    doubt_propagate_max_moments(1.0f, 0.0f, 2.0f, 0.0f, &m, &v);
    ck_assert(m == 2.0f && v == 0.0f);
    /* a variance far below the squared mean keeps its digits: Var max(x, 0) = v for a
     * mean 3000 sd above 0; the max of two equal N(10, v) has variance v·(1 − 1/π) */
    doubt_propagate_relu_moments(10.0f, 1e-5f, &m, &v);
    ck_assert_double_lt(fabs(v - 1e-5) / 1e-5, 1e-3);
    doubt_propagate_max_moments(10.0f, 1e-5f, 10.0f, 1e-5f, &m, &v);
    ck_assert_double_lt(fabs(v - 1e-5 * (1 - 1 / PI)) / 1e-5, 1e-3);
    /* a NaN stays NaN, as in the Monte Carlo maps */
    doubt_propagate_relu_moments(NAN, 1.0f, &m, &v);
    ck_assert(isnan(m));
    doubt_propagate_relu_moments(1.0f, NAN, &m, &v);
    ck_assert(isnan(v));
}
END_TEST

/* The largest difference of one channel plane over the largest reference value in it. */
static double worst_channel_err(const float *got, const float *want, int channels, size_t plane)
{
    double worst = 0;
    for (int c = 0; c < channels; c++)
        worst = fmax(worst, gn_rel_err(got + c * plane, want + c * plane, (int64_t)plane));
    return worst;
}

static void check_golden_case(const char *name, const char *weights_path)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = gn_open(weights_path), *g = gn_open(GOLDEN);
    char key[64];
    snprintf(key, sizeof key, "%s.input", name);
    const doubt_st_tensor *input = gn_golden(g, key);
    const int h = (int)input->shape[2], wd = (int)input->shape[3];
    doubt_net *net;
    TH_OK(ctx, doubt_net_create_cache(ctx, &w->network, h, wd, &net));
    TH_OK(ctx, doubt_weights_load(ctx, net, w));
    doubt_propagate *p;
    TH_OK(ctx, doubt_propagate_create(ctx, net, &p));
    TH_OK(ctx, doubt_propagate_run(ctx, p, input->data));
    snprintf(key, sizeof key, "%s.mean", name);
    const doubt_st_tensor *mean = gn_golden(g, key);
    snprintf(key, sizeof key, "%s.var", name);
    const doubt_st_tensor *var = gn_golden(g, key);
    const size_t plane = (size_t)h * wd;
    const double mean_err = worst_channel_err(p->mean, mean->data, p->out_channels, plane);
    const double var_err = worst_channel_err(p->var, var->data, p->out_channels, plane);
    printf("  %s against the float64 reference: mean %.2e, variance %.2e (worst channel)\n",
           name, mean_err, var_err);
    ck_assert_double_lt(mean_err, 1e-4);
    ck_assert_double_lt(var_err, 1e-4);
    doubt_propagate_destroy(p);
    doubt_net_destroy(net);
    doubt_safetensors_destroy(w);
    doubt_safetensors_destroy(g);
    doubt_ctx_destroy(ctx);
}

START_TEST(unet_tiny_matches_reference)
{
    check_golden_case("unet_tiny", "tests/golden/model/unet_tiny.safetensors");
}
END_TEST

START_TEST(unet_small_matches_reference)
{
    check_golden_case("unet_small", "weights/unet-small.safetensors");
}
END_TEST

START_TEST(segnet_tiny_matches_reference)
{
    check_golden_case("segnet_tiny", "tests/golden/model/segnet_tiny.safetensors");
}
END_TEST

/* input → conv 3×3 + ReLU → [dropout → conv 3×3 + ReLU →] dropout → 1×1 head. */
static doubt_net *tiny_network(doubt_ctx *ctx, int two_dropouts, int size)
{
    static const char json[] = "{\"arch\":\"unet\",\"in_channels\":3,\"classes\":1,"
                               "\"widths\":[6],\"dropout\":0}";
    doubt_netdesc d;
    doubt_error err;
    ck_assert_int_eq(doubt_netdesc_parse(json, strlen(json), &d, &err), DOUBT_OK);
    doubt_graph g = {.in_channels = 3};
    doubt_graph_add(&g, (doubt_node){.op = DOUBT_NODE_INPUT, .name = "input"});
    int x = doubt_graph_add(&g, (doubt_node){.op = DOUBT_NODE_CONV, .name = "a", .inputs = {0},
                                             .n_inputs = 1, .channels = 6, .kernel = 3,
                                             .bias = 1});
    x = doubt_graph_add(&g, (doubt_node){.op = DOUBT_NODE_RELU, .name = "a.relu",
                                         .inputs = {x}, .n_inputs = 1});
    int site = 0;
    if (two_dropouts) {
        x = doubt_graph_add(&g, (doubt_node){.op = DOUBT_NODE_DROPOUT, .name = "a.drop",
                                             .inputs = {x}, .n_inputs = 1, .p = 0.3,
                                             .site = site++});
        x = doubt_graph_add(&g, (doubt_node){.op = DOUBT_NODE_CONV, .name = "b", .inputs = {x},
                                             .n_inputs = 1, .channels = 6, .kernel = 3,
                                             .bias = 1});
        x = doubt_graph_add(&g, (doubt_node){.op = DOUBT_NODE_RELU, .name = "b.relu",
                                             .inputs = {x}, .n_inputs = 1});
    }
    x = doubt_graph_add(&g, (doubt_node){.op = DOUBT_NODE_DROPOUT, .name = "last.drop",
                                         .inputs = {x}, .n_inputs = 1, .p = 0.4, .site = site});
    doubt_graph_add(&g, (doubt_node){.op = DOUBT_NODE_CONV, .name = "head", .inputs = {x},
                                     .n_inputs = 1, .channels = 4, .kernel = 1, .bias = 1});
    doubt_net *net;
    TH_OK(ctx, doubt_net_create_graph(ctx, &d, &g, 1, size, size, DOUBT_MODE_INFER, &net));
    TH_OK(ctx, doubt_net_init_weights(ctx, net, 5));
    TH_OK(ctx, doubt_net_parameters_changed(ctx, net));
    return net;
}

/* Per output element: the mean and variance over T dropout samples, against propagation;
 * returns the largest |Δ mean| in standard errors and the ratio of the summed variances. */
static void compare_with_samples(doubt_ctx *ctx, doubt_net *net, int samples, double *mean_z,
                                 double *var_ratio, double *worst_var)
{
    const int size = net->height, n = 4 * size * size;
    float image[3 * 16 * 16];
    th_fill(image, 3 * size * size, 7, 0, 1);
    double *sum = calloc((size_t)n, sizeof *sum), *sq = calloc((size_t)n, sizeof *sq);
    for (int t = 0; t < samples; t++) {
        TH_OK(ctx, doubt_net_forward(ctx, net, image, 1, (uint64_t)t));
        const float *out = doubt_net_output(net);
        for (int k = 0; k < n; k++) {
            sum[k] += out[k];
            sq[k] += (double)out[k] * out[k];
        }
    }
    doubt_propagate *p;
    TH_OK(ctx, doubt_propagate_create(ctx, net, &p));
    TH_OK(ctx, doubt_propagate_run(ctx, p, image));
    double z = 0, mc_total = 0, prop_total = 0, worst = 0;
    for (int k = 0; k < n; k++) {
        const double m = sum[k] / samples, v = sq[k] / samples - m * m;
        z = fmax(z, fabs(m - p->mean[k]) / sqrt(v / samples + 1e-20));
        mc_total += v;
        prop_total += p->var[k];
        worst = fmax(worst, fabs(v - p->var[k]) / (p->var[k] + 1e-12));
    }
    *mean_z = z;
    *var_ratio = prop_total / mc_total;
    *worst_var = worst;
    doubt_propagate_destroy(p);
    free(sum);
    free(sq);
}

/* One dropout right before a linear head: propagation's moments are exact there, so Monte
 * Carlo with many samples must find them to within its own error. */
START_TEST(exact_case_matches_many_samples)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_net *net = tiny_network(ctx, 0, 8);
    double z, ratio, worst;
    compare_with_samples(ctx, net, 6000, &z, &ratio, &worst);
    printf("  dropout before a linear head, T = 6000: mean within %.2f standard errors, "
           "summed variance ratio %.4f, worst element %.3f\n", z, ratio, worst);
    ck_assert_double_lt(z, 5.0);
    ck_assert_double_lt(fabs(ratio - 1), 0.02);
    ck_assert_double_lt(worst, 0.1);
    doubt_net_destroy(net);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* A dropout, then a convolution and a ReLU: the Gaussian ReLU and independence are
 * approximations; the summed variance stays close. */
START_TEST(approximate_case_stays_close_to_many_samples)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_net *net = tiny_network(ctx, 1, 8);
    double z, ratio, worst;
    compare_with_samples(ctx, net, 6000, &z, &ratio, &worst);
    printf("  two dropouts with a ReLU between, T = 6000: summed variance ratio %.4f, worst "
           "element %.3f\n", ratio, worst);
    ck_assert_double_lt(fabs(ratio - 1), 0.15);
    doubt_net_destroy(net);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* Without dropout propagation is the standard pass: the maps equal the deterministic MC
 * ones, with no epistemic variance and no mutual information. */
START_TEST(maps_without_dropout_are_the_standard_pass)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = gn_open("weights/unet-small.safetensors");
    w->network.dropout = 0;
    w->network.n_rates = 0;
    float image[3 * 48 * 40];
    th_fill(image, 3 * 48 * 40, 9, 0, 1);
    doubt_mc *prop, *det;
    TH_OK(ctx, doubt_mc_create(ctx, w, &(doubt_mc_desc){.method = DOUBT_MC_PROPAGATE}, &prop));
    TH_OK(ctx, doubt_mc_create(ctx, w, &(doubt_mc_desc){.samples = 1, .deterministic = 1}, &det));
    const doubt_mc_maps *a, *b;
    TH_OK(ctx, doubt_mc_run(ctx, prop, image, 40, 48, &a));
    TH_OK(ctx, doubt_mc_run(ctx, det, image, 40, 48, &b));
    const size_t n = 40 * 48;
    double depth = 0, prob = 0;
    for (size_t k = 0; k < n; k++) {
        ck_assert(a->depth_epistemic[k] == 0 || isnan(a->depth_epistemic[k]));
        ck_assert(a->seg_mutual_info[k] == 0);
        ck_assert_int_eq(a->seg_class[k], b->seg_class[k]);
        if (!isnan(b->depth_mean[k]))
            depth = fmax(depth, fabs(a->depth_mean[k] - b->depth_mean[k]) / b->depth_mean[k]);
    }
    for (size_t k = 0; k < n * (size_t)a->classes; k++)
        prob = fmax(prob, fabs(a->seg_prob[k] - b->seg_prob[k]));
    printf("  no dropout: depth mean rel %.2e, seg prob %.2e from the deterministic pass\n",
           depth, prob);
    ck_assert_double_lt(depth, 1e-5);
    ck_assert_double_lt(prob, 1e-5);
    doubt_mc_destroy(prop);
    doubt_mc_destroy(det);
    doubt_safetensors_destroy(w);
    doubt_ctx_destroy(ctx);
}
END_TEST

START_TEST(refuses_ensembles_and_the_deterministic_pass)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_safetensors *w = gn_open("weights/unet-small.safetensors");
    doubt_mc *mc = NULL;
    ck_assert_int_eq(doubt_mc_create(ctx, w,
                                     &(doubt_mc_desc){.samples = 1, .deterministic = 1,
                                                      .method = DOUBT_MC_PROPAGATE},
                                     &mc),
                     DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ctx->err.msg, "deterministic"));
    const doubt_safetensors *two[2] = {w, w};
    ck_assert_int_eq(doubt_mc_create_ensemble(ctx, two, 2,
                                              &(doubt_mc_desc){.samples = 1,
                                                               .method = DOUBT_MC_PROPAGATE},
                                              &mc),
                     DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ctx->err.msg, "ensemble"));
    ck_assert_ptr_null(mc);
    doubt_safetensors_destroy(w);
    doubt_ctx_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("propagate");
    TCase *moments = tcase_create("moments");
    tcase_add_test(moments, gaussian_moments_match_integration);
    suite_add_tcase(s, moments);
    TCase *reference = tcase_create("reference");
    tcase_add_test(reference, unet_tiny_matches_reference);
    tcase_add_test(reference, unet_small_matches_reference);
    tcase_add_test(reference, segnet_tiny_matches_reference);
    suite_add_tcase(s, reference);
    TCase *samples = tcase_create("samples");
    tcase_add_test(samples, exact_case_matches_many_samples);
    tcase_add_test(samples, approximate_case_stays_close_to_many_samples);
    suite_add_tcase(s, samples);
    TCase *maps = tcase_create("maps");
    tcase_add_test(maps, maps_without_dropout_are_the_standard_pass);
    tcase_add_test(maps, refuses_ensembles_and_the_deterministic_pass);
    suite_add_tcase(s, maps);
    return th_run(s);
}
