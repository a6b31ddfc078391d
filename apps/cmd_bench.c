/* doubt bench: how fast a training step and MC inference run here, and how that compares
 * with the machine's FMA peak (core/peak.h), measured in the same run. Medians over repeated
 * runs after a warm-up, on synthetic inputs; bench/README.md compares them with PyTorch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "core/clock.h"
#include "core/isa.h"
#include "core/peak.h"
#include "core/rng.h"
#include "model/arch.h"
#include "model/mc.h"
#include "model/train.h"
#include "model/weights.h"

static const char usage_text[] =
    "usage: doubt bench --train [--batch B] [--size PX] [--config NET] [--steps N] [--json]\n"
    "       doubt bench --predict [--weights FILE] [--size PX] [--samples T] [--images N]\n"
    "                   [--batch K] [--config NET] [--uncached] [--method M] [--precision P]\n"
    "                   [--json]\n"
    "       doubt bench --peak [--json]\n"
    "\n"
    "--train times one training step (forward with dropout, attenuated losses with T = 10,\n"
    "learned task weighting, backward, Adam) of the network (default unet) at batch 8 and\n"
    "128x128: the median of --steps (default 10) after 2 warm-up steps.\n"
    "--predict times MC inference (default T = 20) on --images (default 5) random 256x256\n"
    "images with --weights, or with random weights of --config when none are given;\n"
    "--batch K stacks K samples per pass (default automatic); --uncached runs the whole\n"
    "network for every sample instead of computing what depends on no dropout once;\n"
    "--method propagate times one moment-propagation pass per image instead of T samples.\n"
    "--precision f32 (default; bf16 and int8 are refused: core/isa.h).\n"
    "--peak measures the single-precision FMA peak (all threads, the widest vector ISA\n"
    "the CPU has) and lists the CPU's vector features, oneDNN's ISA and the precisions\n"
    "that ISA allows. --train and --predict measure it too, after the warm-up, and report\n"
    "their GFLOP/s as a share of it. GFLOP/s count the convolutions only, 2 FLOPs per\n"
    "multiply-add of a direct convolution (inference runs 3x3 layers as Winograd where\n"
    "the CPU allows, with 4/9 of those multiplications, so its share can pass 100 %):\n"
    "--predict the part run once per image plus T times the rest (all of\n"
    "it T times with --uncached; with --method propagate the means through all of it and\n"
    "the variances through the part that depends on dropout); --train 3 forward passes per image (forward, backward\n"
    "data, backward weights), a slight over-count: the first layer skips backward\n"
    "data.\n"
    "  --threads K   threads (default: OpenMP's)\n"
    "  --json        one JSON object on stdout instead of text\n";

typedef struct {
    int train, predict, peak, json, threads, uncached, precision_given;
    int batch, size, samples, images, steps;
    const char *config, *weights;
    doubt_mc_method method;
    doubt_precision precision;
} options;

static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.batch = 0, .size = 0, .samples = 20, .images = 5, .steps = 10,
                   .config = "unet"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return -1;
        } else if (!strcmp(a, "--train"))
            o->train = 1;
        else if (!strcmp(a, "--predict"))
            o->predict = 1;
        else if (!strcmp(a, "--peak"))
            o->peak = 1;
        else if (!strcmp(a, "--json"))
            o->json = 1;
        else if (!strcmp(a, "--uncached"))
            o->uncached = 1;
        else {
            int *target = !strcmp(a, "--batch")     ? &o->batch
                          : !strcmp(a, "--size")    ? &o->size
                          : !strcmp(a, "--samples") ? &o->samples
                          : !strcmp(a, "--images")  ? &o->images
                          : !strcmp(a, "--steps")   ? &o->steps
                          : !strcmp(a, "--threads") ? &o->threads
                                                    : NULL;
            if (target) {
                if (!doubt_arg_int(v, 1, 1 << 16, target))
                    return doubt_usage_error("bench", "wants a positive integer", a);
            } else if (!strcmp(a, "--config") && v)
                o->config = v;
            else if (!strcmp(a, "--weights") && v)
                o->weights = v;
            else if (!strcmp(a, "--method") && v) {
                if (!doubt_mc_method_parse(v, &o->method))
                    return doubt_usage_error("bench", "--method wants sample or propagate", v);
            } else if (!strcmp(a, "--precision") && v) {
                int rc = doubt_arg_precision("bench", v, &o->precision);
                if (rc)
                    return rc;
                o->precision_given = 1;
            } else
                return doubt_usage_error("bench", "unknown option or missing value", a);
            i++;
        }
    }
    if (o->train + o->predict + o->peak != 1)
        return doubt_usage_error("bench", "give exactly one of --train, --predict and --peak",
                                 NULL);
    if (o->precision_given && !o->predict)
        return doubt_usage_error("bench", "--precision applies to --predict", NULL);
    if (!o->size)
        o->size = o->train ? 128 : 256;
    if (!o->batch && o->train)
        o->batch = 8;
    if (o->size % 16)
        return doubt_usage_error("bench", "--size must be a multiple of 16", NULL);
    return 0;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* The FMA peak measured in this run, and the ISAs: the peak loop's and oneDNN's. */
typedef struct {
    double gflops;
    const char *isa, *onednn_isa;
} peak_reading;

static peak_reading measure_peak(const doubt_ctx *ctx)
{
    peak_reading r;
    doubt_fma_peak(ctx->threads, &r.gflops, &r.isa);
    r.onednn_isa = doubt_dnnl_isa_name(doubt_dnnl_isa());
    return r;
}

static void print_peak_json(const peak_reading *r, double gflops)
{
    printf("\"peak_gflops\":%.2f,\"share_of_peak\":%.4f,\"peak_isa\":\"%s\",\"onednn_isa\":\"%s\"",
           r->gflops, gflops / r->gflops, r->isa, r->onednn_isa);
}

static void print_peak_text(const peak_reading *r, double gflops)
{
    printf("%.0f %% of the FMA peak %.1f GFLOP/s (peak loop %s, oneDNN %s)", 100 * gflops / r->gflops,
           r->gflops, r->isa, r->onednn_isa);
}

static int bench_peak(const doubt_ctx *ctx, const options *o)
{
    const peak_reading r = measure_peak(ctx);
    const doubt_fma_isa isa = doubt_fma_isa_best();
    const dnnl_cpu_isa_t dnnl_isa = doubt_dnnl_isa();
    char features[256];
    doubt_cpu_features(features, sizeof features);
    const doubt_precision precisions[] = {DOUBT_PRECISION_F32, DOUBT_PRECISION_BF16,
                                          DOUBT_PRECISION_INT8};
    if (o->json) {
        printf("{\"bench\":\"peak\",\"threads\":%d,\"peak_gflops\":%.2f,\"peak_isa\":\"%s\","
               "\"accumulators\":%d,\"cpu_features\":\"%s\",\"onednn_isa\":\"%s\",\"isa_allows\":{",
               ctx->threads, r.gflops, r.isa, doubt_fma_kernel_lanes(isa), features, r.onednn_isa);
        for (int i = 0; i < 3; i++)
            printf("%s\"%s\":%s", i ? "," : "", doubt_precision_name(precisions[i]),
                   doubt_precision_supported(precisions[i], dnnl_isa) ? "true" : "false");
        printf("}}\n");
        return DOUBT_EXIT_OK;
    }
    printf("FMA peak: %.1f GFLOP/s on %d threads (%s loop, %d float accumulators per thread)\n"
           "CPU vector features: %s\noneDNN ISA: %s\n"
           "precisions the ISA allows (doubt runs f32 only so far):",
           r.gflops, ctx->threads, r.isa, doubt_fma_kernel_lanes(isa), features, r.onednn_isa);
    for (int i = 0; i < 3; i++) {
        if (doubt_precision_supported(precisions[i], dnnl_isa))
            printf(" %s yes", doubt_precision_name(precisions[i]));
        else
            printf(" %s no (needs %s)", doubt_precision_name(precisions[i]),
                   doubt_precision_needs(precisions[i]));
        fputs(i < 2 ? "," : "\n", stdout);
    }
    return DOUBT_EXIT_OK;
}

static void random_batch(doubt_trainer *tr, int pixels, int classes)
{
    doubt_rng_key key = {.seed = 7, .stream = 0, .layer = 1};
    doubt_rng_uniform_fill(key, 0, 3 * (int64_t)pixels, tr->images);
    for (int i = 0; i < pixels; i++) {
        tr->labels[i] = (uint8_t)(doubt_rng_bits(key, 3 * (uint64_t)pixels + i) % classes);
        tr->depth[i] = 1 + 9 * tr->images[i];
    }
}

static int bench_train(doubt_ctx *ctx, const options *o, const doubt_netdesc *net)
{
    doubt_train_config cfg = {.net = *net, .batch = o->batch, .crop = o->size,
                              .optim = {.kind = DOUBT_OPTIM_ADAM, .lr = 1e-4f,
                                        .weight_decay = 1e-5f, .total_steps = 1000},
                              .loss_samples = 10};
    doubt_trainer *tr = NULL;
    double *times = calloc((size_t)o->steps, sizeof *times);
    int status = DOUBT_EXIT_FAILURE;
    if (!times || doubt_trainer_create(ctx, &cfg, &tr) != DOUBT_OK ||
        doubt_net_init_weights(ctx, tr->net, 1) != DOUBT_OK)
        goto done;
    random_batch(tr, o->batch * o->size * o->size, net->classes);
    peak_reading peak = {0};
    for (int s = -2; s < o->steps; s++) {
        if (s == 0)
            peak = measure_peak(ctx); /* warm, and before the timed steps */
        double t0 = doubt_clock_seconds();
        if (doubt_trainer_step_batch(ctx, tr, NULL) != DOUBT_OK)
            goto done;
        if (s >= 0)
            times[s] = doubt_clock_seconds() - t0;
    }
    const double step_s = median(times, o->steps);
    double pass, cached;
    doubt_arch_flops(net, o->size, o->size, &pass, &cached);
    const double flops = 3 * pass * o->batch;
    const double gflops = flops / step_s / 1e9;
    if (o->json) {
        printf("{\"bench\":\"train\",\"network\":\"%s\",\"batch\":%d,\"size\":%d,\"threads\":%d,"
               "\"steps\":%d,\"train_step_s\":%.6f,\"images_per_s\":%.3f,\"gflops\":%.2f,",
               o->config, o->batch, o->size, ctx->threads, o->steps, step_s,
               o->batch / step_s, gflops);
        print_peak_json(&peak, gflops);
        printf(",\"peak_rss_mb\":%.1f}\n", peak_rss_mb());
    } else {
        printf("train step (%s, batch %d, %dx%d, %d threads): median %.4f s over %d steps, "
               "%.1f images/s, ~%.1f GFLOP/s (3x forward), ",
               o->config, o->batch, o->size, o->size, ctx->threads, step_s, o->steps,
               o->batch / step_s, gflops);
        print_peak_text(&peak, gflops);
        printf(", peak RSS %.0f MB\n", peak_rss_mb());
    }
    status = DOUBT_EXIT_OK;
done:
    if (status != DOUBT_EXIT_OK)
        fprintf(stderr, "doubt bench: %s\n", doubt_ctx_error(ctx));
    doubt_trainer_destroy(tr);
    free(times);
    return status;
}

/* Random weights for a network with no file: write them once to a temporary file. */
static int random_weights_file(doubt_ctx *ctx, const doubt_netdesc *net, char *path, size_t cap)
{
    doubt_net *tmp = NULL;
    snprintf(path, cap, "/tmp/doubt_bench_%d.safetensors", (int)getpid());
    const int side = doubt_arch_grid(net);
    int ok = doubt_net_create(ctx, net, 1, side, side, DOUBT_MODE_INFER, &tmp) == DOUBT_OK &&
             doubt_net_init_weights(ctx, tmp, 1) == DOUBT_OK &&
             doubt_weights_save(ctx, tmp, path, NULL, 0, NULL, 0) == DOUBT_OK;
    doubt_net_destroy(tmp);
    return ok;
}

static int bench_predict(doubt_ctx *ctx, const options *o, const doubt_netdesc *config_net)
{
    char tmp_path[256] = "";
    const char *path = o->weights;
    doubt_safetensors *w = NULL;
    doubt_mc *mc = NULL;
    float *image = malloc((size_t)3 * o->size * o->size * sizeof *image);
    double *times = calloc((size_t)o->images, sizeof *times);
    int status = DOUBT_EXIT_FAILURE;
    if (!image || !times)
        goto done;
    if (!path) {
        if (!random_weights_file(ctx, config_net, tmp_path, sizeof tmp_path))
            goto done;
        path = tmp_path;
    }
    doubt_mc_desc desc = {.samples = o->samples, .chunk = o->batch, .uncached = o->uncached,
                          .method = o->method,
                          .precision = o->precision};
    if (doubt_safetensors_read(path, &w, &ctx->err) != DOUBT_OK ||
        doubt_mc_create(ctx, w, &desc, &mc) != DOUBT_OK)
        goto done;
    const doubt_mc_maps *maps;
    peak_reading peak = {0};
    for (int i = -1; i < o->images; i++) {
        if (i == 0)
            peak = measure_peak(ctx); /* warm, and before the timed images */
        doubt_rng_key key = {.seed = 3, .stream = (uint64_t)(i + 1), .layer = 2};
        doubt_rng_uniform_fill(key, 0, 3 * (int64_t)o->size * o->size, image);
        double t0 = doubt_clock_seconds();
        if (doubt_mc_run(ctx, mc, image, o->size, o->size, &maps) != DOUBT_OK)
            goto done;
        if (i >= 0)
            times[i] = doubt_clock_seconds() - t0;
    }
    const doubt_netdesc *net = doubt_mc_network(mc);
    const double image_s = median(times, o->images);
    double full, cached;
    doubt_arch_flops(net, o->size, o->size, &full, &cached);
    if (o->uncached)
        cached = 0;
    /* moment propagation: the means through every convolution, the variances through the
     * ones that depend on dropout */
    const double done_flops = o->method == DOUBT_MC_PROPAGATE
                                  ? 2 * full - cached
                                  : cached + o->samples * (full - cached);
    const double gflops = done_flops / image_s / 1e9;
    if (o->json) {
        printf("{\"bench\":\"predict\",\"method\":\"%s\",\"weights\":\"%s\",\"uncached\":%s,"
               "\"size\":%d,\"samples\":%d,\"images\":%d,\"threads\":%d,\"precision\":\"%s\","
               "\"image_s\":%.6f,\"images_per_s\":%.4f,\"gflops\":%.2f,\"gflop_per_image\":%.2f,"
               "\"naive_gflop_per_image\":%.2f,",
               doubt_mc_method_name(o->method), path, o->uncached ? "true" : "false", o->size,
               o->samples, o->images, ctx->threads, doubt_precision_name(o->precision), image_s,
               1 / image_s, gflops, done_flops / 1e9, o->samples * full / 1e9);
        print_peak_json(&peak, gflops);
        printf(",\"peak_rss_mb\":%.1f}\n", peak_rss_mb());
    } else {
        printf("%s (%dx%d, T = %d, %d threads%s): median %.3f s per image, %.3f images/s, "
               "%.1f GFLOP/s (%.1f GFLOP done per image; T full passes would be %.1f), ",
               o->method == DOUBT_MC_PROPAGATE ? "moment propagation" : "MC predict", o->size,
               o->size, o->samples, ctx->threads, o->uncached ? ", uncached" : "", image_s,
               1 / image_s, gflops, done_flops / 1e9, o->samples * full / 1e9);
        print_peak_text(&peak, gflops);
        printf(", peak RSS %.0f MB\n", peak_rss_mb());
    }
    status = DOUBT_EXIT_OK;
done:
    if (status != DOUBT_EXIT_OK)
        fprintf(stderr, "doubt bench: %s\n", doubt_ctx_error(ctx));
    if (tmp_path[0])
        remove(tmp_path);
    doubt_mc_destroy(mc);
    doubt_safetensors_destroy(w);
    free(image);
    free(times);
    return status;
}

int doubt_cmd_bench(int argc, char **argv)
{
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc < 0 ? DOUBT_EXIT_OK : rc;
    doubt_error err = {{0}};
    doubt_netdesc net;
    if (doubt_netdesc_from_config(o.config, &net, &err) != DOUBT_OK)
        return doubt_usage_error("bench", err.msg, NULL);
    doubt_ctx *ctx = NULL;
    if (doubt_ctx_create(o.threads, &ctx, &err) != DOUBT_OK) {
        fprintf(stderr, "doubt bench: %s\n", err.msg);
        return DOUBT_EXIT_FAILURE;
    }
    int status = o.peak    ? bench_peak(ctx, &o)
                 : o.train ? bench_train(ctx, &o, &net)
                           : bench_predict(ctx, &o, &net);
    doubt_ctx_destroy(ctx);
    return status;
}
