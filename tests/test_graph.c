/* The network graph: what the presets build, what Monte Carlo inference finds deterministic,
 * and that the cache/samples split computes exactly what the whole network does. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "model/arch.h"
#include "model/mc.h"
#include "model/net.h"
#include "model/weights.h"

static doubt_graph *preset_graph(const char *preset, doubt_netdesc *d)
{
    doubt_error err;
    doubt_graph *g = malloc(sizeof *g);
    ck_assert_int_eq(doubt_netdesc_preset(preset, d, &err), DOUBT_OK);
    ck_assert_msg(doubt_arch_graph(d, g, NULL, &err) == DOUBT_OK, "%s", err.msg);
    return g;
}

static int find_node(const doubt_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, name))
            return i;
    ck_abort_msg("no node %s", name);
    return -1;
}

/* Only what follows the first dropout (enc.2's, L - 3 = 2) is stochastic; the two
 * decoder convolutions that concatenate deterministic skips are split; the FLOP share
 * the engine computes once matches a count by hand. */
START_TEST(unet_small_deterministic_part)
{
    doubt_netdesc d;
    doubt_graph *g = preset_graph("unet-small", &d);
    doubt_node_shape shapes[DOUBT_GRAPH_MAX_NODES];
    uint8_t stochastic[DOUBT_GRAPH_MAX_NODES];
    ck_assert_int_eq(doubt_graph_check(g, shapes, NULL), DOUBT_OK);
    doubt_graph_stochastic(g, stochastic);
    ck_assert_int_eq(g->grid, 16);
    ck_assert(!stochastic[find_node(g, "enc.1.bn2")]);
    ck_assert(!stochastic[find_node(g, "enc.2.bn2")]);
    ck_assert(stochastic[find_node(g, "enc.2.drop")]);
    ck_assert(stochastic[find_node(g, "enc.3.conv1")]);
    ck_assert(stochastic[find_node(g, "head")]);
    int sites = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == DOUBT_NODE_DROPOUT)
            ck_assert_int_eq(g->nodes[i].site, sites++);
    ck_assert_int_eq(sites, 6);

    const char *split[] = {"dec.2.conv1", "dec.3.conv1"};
    const char *whole[] = {"dec.0.conv1", "dec.1.conv1", "dec.3.conv2", "head"};
    int s, s_off, dn, d_off;
    for (int k = 0; k < 2; k++) {
        const int i = find_node(g, split[k]);
        ck_assert(doubt_graph_split(g, stochastic, shapes, i, &s, &s_off, &dn, &d_off));
        ck_assert_int_eq(s_off, 0); /* [upsampled, skip] */
        ck_assert_int_eq(d_off, shapes[s].channels);
        ck_assert(!stochastic[dn] && stochastic[s]);
    }
    for (int k = 0; k < 4; k++)
        ck_assert(!doubt_graph_split(g, stochastic, shapes, find_node(g, whole[k]), &s, &s_off,
                                     &dn, &d_off));

    /* by hand, at 256 x 256: enc.0..2 both convs, and the skip channels of dec.2.conv1
     * (32 of enc.1 at 1/2) and dec.3.conv1 (16 of enc.0 at full size) */
    const double px[3] = {256.0 * 256, 128.0 * 128, 64.0 * 64};
    const int w[5] = {16, 32, 64, 128, 128};
    double cached = 2 * 9 * px[0] * (3 * w[0] + w[0] * w[0]) +
                    2 * 9 * px[1] * (w[0] * w[1] + w[1] * w[1]) +
                    2 * 9 * px[2] * (w[1] * w[2] + w[2] * w[2]);
    cached += 2 * 9 * px[1] * (double)w[1] * w[1] + 2 * 9 * px[0] * (double)w[0] * w[0];
    double total, deterministic;
    doubt_graph_flops(g, shapes, 256, 256, &total, &deterministic);
    ck_assert_double_eq_tol(deterministic, cached, 1);
    printf("  unet-small at 256x256: %.2f GFLOP per pass, %.1f%% computed once per image\n",
           total / 1e9, 100 * deterministic / total);
    free(g);
}
END_TEST

/* segnet-small as issue 15 spells it: 13 + 13 convolutions and the head, dropout on the
 * pooled outputs of stages 2..4 and the outputs of decoder stages 0..2, grid 2^5. */
START_TEST(segnet_small_graph)
{
    doubt_netdesc d;
    doubt_graph *g = preset_graph("segnet-small", &d);
    doubt_node_shape shapes[DOUBT_GRAPH_MAX_NODES];
    ck_assert_int_eq(doubt_graph_check(g, shapes, NULL), DOUBT_OK);
    ck_assert_int_eq(g->grid, 32);
    int convs = 0, unpools = 0;
    char sites[256] = "";
    for (int i = 0; i < g->n_nodes; i++) {
        const doubt_node *n = &g->nodes[i];
        convs += n->op == DOUBT_NODE_CONV;
        unpools += n->op == DOUBT_NODE_UNPOOL;
        if (n->op == DOUBT_NODE_DROPOUT) {
            strcat(sites, n->name);
            strcat(sites, " ");
            ck_assert_int_eq(g->nodes[n->inputs[0]].op,
                             n->name[0] == 'e' ? DOUBT_NODE_POOL : DOUBT_NODE_BNORM);
        }
    }
    ck_assert_int_eq(convs, 27);
    ck_assert_int_eq(unpools, 5);
    ck_assert_str_eq(sites, "enc.2.drop enc.3.drop enc.4.drop dec.0.drop "
                            "dec.1.drop dec.2.drop ");
    /* the last conv of decoder stage j at level i narrows to widths[i-1] */
    ck_assert_int_eq(shapes[find_node(g, "dec.0.2.conv")].channels, 128);
    ck_assert_int_eq(shapes[find_node(g, "dec.1.2.conv")].channels, 64);
    ck_assert_int_eq(shapes[find_node(g, "dec.3.1.conv")].channels, 16);
    ck_assert_int_eq(shapes[find_node(g, "dec.4.1.conv")].channels, 16);
    ck_assert_int_eq(shapes[find_node(g, "dec.4.0.conv")].channels, 16);
    free(g);
}
END_TEST

/* Random batch-norm statistics and affine parameters, so folding them matters. */
static void randomise(doubt_ctx *ctx, doubt_net *net)
{
    TH_OK(ctx, doubt_net_init_weights(ctx, net, 5));
    for (int i = 0; i < net->n_params; i++) {
        doubt_net_param *p = &net->params[i];
        const char *leaf = strrchr(p->info.name, '.') + 1;
        if (p->info.ndim != 1)
            continue;
        float *v = malloc((size_t)p->info.count * sizeof *v);
        const int var = !strcmp(leaf, "running_var"), scale = !strcmp(leaf, "weight");
        th_fill(v, p->info.count, 100 + (uint32_t)i, var || scale ? 0.5f : -0.2f,
                var || scale ? 1.5f : 0.2f);
        TH_OK(ctx, doubt_tensor_write(ctx, p->value, v));
        free(v);
    }
    TH_OK(ctx, doubt_net_parameters_changed(ctx, net));
}

/* randomise(net), then its weights into a new file at the mkstemp template path. */
static void save_random_weights(doubt_ctx *ctx, doubt_net *net, char *path)
{
    randomise(ctx, net);
    const int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    TH_OK(ctx, doubt_weights_save(ctx, net, path, NULL, 0, NULL, 0));
}

static int row_differs(const float *a, const float *b, int64_t n, double tol)
{
    double *bd = malloc((size_t)n * sizeof *bd);
    for (int64_t i = 0; i < n; i++)
        bd[i] = b[i];
    const double e = th_rel_err(a, bd, n);
    free(bd);
    return e > tol;
}

/* The cache and samples networks give, sample for sample, what the whole network gives
 * with dropout on at the same stream; the deterministic pass is the whole one's exactly. */
static void check_split_matches_whole(const char *preset, int size, int concrete)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_netdesc d;
    doubt_error err;
    ck_assert_int_eq(doubt_netdesc_preset(preset, &d, &err), DOUBT_OK);
    if (concrete)
        doubt_netdesc_set_concrete(&d); /* channel-wise masks at rates read from p_logit */
    doubt_net *whole, *cache, *samples;
    TH_OK(ctx, doubt_net_create(ctx, &d, 1, size, size, DOUBT_MODE_INFER, &whole));
    char path[] = "/tmp/doubt_graph_XXXXXX";
    save_random_weights(ctx, whole, path);
    TH_OK(ctx, doubt_net_create_cache(ctx, &d, size, size, &cache));
    TH_OK(ctx, doubt_weights_load_file(ctx, cache, path));
    TH_OK(ctx, doubt_net_create_samples(ctx, cache, 2, &samples));
    TH_OK(ctx, doubt_weights_load_file(ctx, samples, path));
    unlink(path);
    ck_assert_int_lt(doubt_net_built_nodes(samples), whole->graph.n_nodes);
    ck_assert_int_lt(samples->n_params, whole->n_params);

    const int64_t row = (int64_t)(d.classes + 3) * size * size;
    float *image = malloc((size_t)3 * size * size * sizeof *image);
    for (int pass = 0; pass < 2; pass++) {
        th_fill(image, 3L * size * size, 7 + (uint32_t)pass, 0, 1);
        TH_OK(ctx, doubt_net_forward_cached(ctx, cache, image));
        TH_OK(ctx, doubt_net_forward_samples(ctx, samples, (uint64_t)(2 * pass)));
        for (int t = 0; t < 2; t++) {
            TH_OK(ctx, doubt_net_forward(ctx, whole, image, 1, (uint64_t)(2 * pass + t)));
            ck_assert_msg(!row_differs(doubt_net_output(samples) + t * row,
                                       doubt_net_output(whole), row, 1e-5),
                          "%s: sample %d of image %d differs from the whole network's", preset,
                          t, pass);
        }
        /* another stream gives another sample: the comparison above could fail */
        ck_assert(row_differs(doubt_net_output(samples), doubt_net_output(whole), row, 1e-3));
    }
    TH_OK(ctx, doubt_net_forward(ctx, cache, image, 0, 0));
    float *deterministic = malloc((size_t)row * sizeof *deterministic);
    memcpy(deterministic, doubt_net_output(cache), (size_t)row * sizeof *deterministic);
    TH_OK(ctx, doubt_net_forward(ctx, whole, image, 0, 0));
    ck_assert_mem_eq(deterministic, doubt_net_output(whole), (size_t)row * sizeof(float));
    printf("  %s: the samples network builds %d of %d nodes and matches the whole one\n",
           preset, doubt_net_built_nodes(samples), whole->graph.n_nodes);
    free(deterministic);
    free(image);
    doubt_net_destroy(samples);
    doubt_net_destroy(cache);
    doubt_net_destroy(whole);
    doubt_ctx_destroy(ctx);
}

START_TEST(unet_split_matches_whole)
{
    check_split_matches_whole("unet-small", 32, 0);
}
END_TEST

START_TEST(concrete_split_matches_whole)
{
    check_split_matches_whole("unet-small", 32, 1);
}
END_TEST

START_TEST(segnet_split_matches_whole)
{
    check_split_matches_whole("segnet-small", 64, 0);
}
END_TEST

/* The MC engine with caching gives the maps of the uncached one (every sample through the
 * whole network) up to rounding, on an image that needs padding. */
START_TEST(mc_cached_equals_uncached)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_netdesc d;
    doubt_error err;
    ck_assert_int_eq(doubt_netdesc_preset("segnet-small", &d, &err), DOUBT_OK);
    doubt_net *net;
    TH_OK(ctx, doubt_net_create(ctx, &d, 1, 32, 32, DOUBT_MODE_INFER, &net));
    char path[] = "/tmp/doubt_graph_XXXXXX";
    save_random_weights(ctx, net, path);
    doubt_net_destroy(net);
    doubt_safetensors *w = NULL;
    ck_assert(doubt_safetensors_read(path, &w, &err) == DOUBT_OK);
    unlink(path);
    const int width = 50, height = 40;
    float *image = malloc((size_t)3 * width * height * sizeof *image);
    th_fill(image, 3L * width * height, 9, 0, 1);
    doubt_mc *cached, *uncached;
    TH_OK(ctx, doubt_mc_create(ctx, w, &(doubt_mc_desc){.samples = 4, .chunk = 2}, &cached));
    TH_OK(ctx, doubt_mc_create(ctx, w, &(doubt_mc_desc){.samples = 4, .chunk = 2, .uncached = 1},
                               &uncached));
    const doubt_mc_maps *a, *b;
    TH_OK(ctx, doubt_mc_run(ctx, cached, image, width, height, &a));
    TH_OK(ctx, doubt_mc_run(ctx, uncached, image, width, height, &b));
    const int64_t hw = (int64_t)width * height;
    const float *maps_a[] = {a->depth_mean, a->depth_epistemic, a->seg_mutual_info, a->seg_prob};
    const float *maps_b[] = {b->depth_mean, b->depth_epistemic, b->seg_mutual_info, b->seg_prob};
    for (int k = 0; k < 4; k++)
        ck_assert_msg(!row_differs(maps_a[k], maps_b[k], k == 3 ? hw * d.classes : hw, 1e-4),
                      "map %d differs", k);
    ck_assert(row_differs(a->depth_epistemic, b->depth_mean, hw, 1e-3)); /* could fail */
    doubt_mc_destroy(cached);
    doubt_mc_destroy(uncached);
    doubt_safetensors_destroy(w);
    free(image);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* A graph no preset builds, with a standalone ReLU whose output two nodes read and an add:
 * the gradient of L = sum(out * R) by backward against central differences of forward. */
typedef struct {
    doubt_ctx *ctx;
    doubt_net *net;
    const float *image, *r;
    doubt_net_param *p;
    int64_t count;
} fd_state;

static double loss_at(fd_state *s)
{
    TH_OK(s->ctx, doubt_net_forward(s->ctx, s->net, s->image, 0, 0));
    const float *out = doubt_net_output(s->net);
    double loss = 0;
    for (int64_t i = 0; i < s->count; i++)
        loss += (double)out[i] * s->r[i];
    return loss;
}

START_TEST(relu_and_add_nodes_backward)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_netdesc d;
    doubt_error err;
    ck_assert_int_eq(doubt_netdesc_parse("{\"arch\":\"unet\",\"in_channels\":3,\"classes\":1,"
                                         "\"widths\":[4],\"dropout\":0}",
                                         strlen("{\"arch\":\"unet\",\"in_channels\":3,"
                                                "\"classes\":1,\"widths\":[4],"
                                                "\"dropout\":0}"),
                                         &d, &err),
                     DOUBT_OK);
    doubt_graph g = {.in_channels = 3};
    doubt_graph_add(&g, (doubt_node){.op = DOUBT_NODE_INPUT, .name = "input"});
    const int a = doubt_graph_add(&g, (doubt_node){.op = DOUBT_NODE_CONV, .name = "a",
                                                   .inputs = {0}, .n_inputs = 1, .channels = 4,
                                                   .kernel = 3});
    const int relu = doubt_graph_add(&g, (doubt_node){.op = DOUBT_NODE_RELU, .name = "relu",
                                                      .inputs = {a}, .n_inputs = 1});
    const int b = doubt_graph_add(&g, (doubt_node){.op = DOUBT_NODE_CONV, .name = "b",
                                                   .inputs = {relu}, .n_inputs = 1,
                                                   .channels = 4, .kernel = 3, .bias = 1});
    const int sum = doubt_graph_add(&g, (doubt_node){.op = DOUBT_NODE_ADD, .name = "add",
                                                     .inputs = {relu, b}, .n_inputs = 2});
    doubt_graph_add(&g, (doubt_node){.op = DOUBT_NODE_CONV, .name = "head", .inputs = {sum},
                                     .n_inputs = 1, .channels = 4, .kernel = 1, .bias = 1});
    doubt_net *net;
    TH_OK(ctx, doubt_net_create_graph(ctx, &d, &g, 2, 8, 8, DOUBT_MODE_TRAIN, &net));
    TH_OK(ctx, doubt_net_init_weights(ctx, net, 3));
    ck_assert_int_eq(net->n_params, 5); /* a.weight, b.weight, b.bias, head.weight, head.bias */
    float image[2 * 3 * 8 * 8], r[2 * 4 * 8 * 8];
    th_fill(image, 2 * 3 * 8 * 8, 1, 0, 1);
    th_fill(r, 2 * 4 * 8 * 8, 2, -1, 1);
    fd_state s = {ctx, net, image, r, NULL, 2 * 4 * 8 * 8};
    loss_at(&s);
    memcpy(doubt_net_diff_output(net), r, sizeof r);
    TH_OK(ctx, doubt_net_backward(ctx, net));
    for (int k = 0; k < 3; k++) {
        doubt_net_param *p = doubt_net_param_find(net, (const char *[]){"a.weight", "b.weight",
                                                                         "b.bias"}[k]);
        ck_assert_ptr_nonnull(p);
        const int64_t n = p->info.count;
        float *value = malloc((size_t)n * sizeof *value), *grad = malloc((size_t)n * sizeof *grad);
        TH_OK(ctx, doubt_tensor_read(ctx, p->grad, grad));
        TH_OK(ctx, doubt_tensor_read(ctx, p->value, value));
        double worst = 0, scale = 0;
        for (int64_t i = 0; i < n; i += 1 + n / 12) {
            const float keep = value[i], h = 1e-3f; /* 1e-2 crosses ReLU kinks */
            value[i] = keep + h;
            TH_OK(ctx, doubt_tensor_write(ctx, p->value, value));
            const double up = loss_at(&s);
            value[i] = keep - h;
            TH_OK(ctx, doubt_tensor_write(ctx, p->value, value));
            const double down = loss_at(&s);
            value[i] = keep;
            TH_OK(ctx, doubt_tensor_write(ctx, p->value, value));
            const double numeric = (up - down) / (2 * h);
            worst = fmax(worst, fabs(numeric - grad[i]));
            scale = fmax(scale, fabs(numeric));
        }
        printf("  %s: backward vs central differences: worst %.2e of %.2e\n", p->info.name,
               worst, scale);
        ck_assert_msg(worst < 1e-2 * scale + 1e-3, "%s: worst %g of %g", p->info.name, worst,
                      scale);
        free(value);
        free(grad);
    }
    doubt_net_destroy(net);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* doubt info prints the shipped network's graph: its nodes, dropout sites, split convs and
 * the deterministic FLOP share the graph functions compute. */
START_TEST(info_prints_the_graph)
{
    char *out = NULL, *err = NULL;
    const char *args[] = {"info", "--json", "weights/unet-small.safetensors", NULL};
    ck_assert_int_eq(th_run_doubt(args, &out, &err), 0);
    cJSON *o = cJSON_Parse(out);
    ck_assert_ptr_nonnull(o);
    const cJSON *graph = cJSON_GetObjectItem(o, "graph");
    doubt_netdesc d;
    doubt_graph *g = preset_graph("unet-small", &d);
    const cJSON *nodes = cJSON_GetObjectItem(graph, "nodes");
    ck_assert_int_eq(cJSON_GetArraySize(nodes), g->n_nodes);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(graph, "dropout_sites")), 6);
    int splits = 0;
    for (const cJSON *n = nodes->child; n; n = n->next)
        if (cJSON_IsTrue(cJSON_GetObjectItem(n, "split"))) {
            const char *name = cJSON_GetObjectItem(n, "name")->valuestring;
            ck_assert(!strcmp(name, "dec.2.conv1") || !strcmp(name, "dec.3.conv1"));
            splits++;
        }
    ck_assert_int_eq(splits, 2);
    double total, deterministic;
    doubt_arch_flops(&d, 256, 256, &total, &deterministic);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(graph, "flops_per_pass")->valuedouble, total, 1);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(graph, "deterministic_flops")->valuedouble,
                            deterministic, 1);
    cJSON_Delete(o);
    free(out);
    free(err);
    const char *text_args[] = {"info", "weights/unet-small.safetensors", NULL};
    ck_assert_int_eq(th_run_doubt(text_args, &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(out, "29.1% of it deterministic"));
    ck_assert_ptr_nonnull(strstr(out, "dec.3.conv1      <- 50        16 ch at 1/1  split"));
    free(out);
    free(err);
    free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("graph");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, unet_small_deterministic_part);
    tcase_add_test(tc, segnet_small_graph);
    tcase_add_test(tc, unet_split_matches_whole);
    tcase_add_test(tc, segnet_split_matches_whole);
    tcase_add_test(tc, concrete_split_matches_whole);
    tcase_add_test(tc, relu_and_add_nodes_backward);
    tcase_add_test(tc, info_prints_the_graph);
    tcase_add_test(tc, mc_cached_equals_uncached);
    suite_add_tcase(s, tc);
    return th_run(s);
}
