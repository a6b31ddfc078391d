/* doubt synth: renders a synthetic scene dataset (images, labels, depth, noise σ) into a
 * folder. Images are rendered in parallel; each one's randomness depends only on (seed,
 * index), so the files are byte-identical for any thread count. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "args.h"
#include "commands.h"
#include "io/fsutil.h"
#include "io/npy.h"
#include "io/png.h"
#include "io/synth.h"

static const char usage_text[] =
    "usage: doubt synth OUTDIR --count N [--size WxH] [--seed S] [--ood] [--noise LEVEL]\n"
    "                   [--threads K]\n"
    "\n"
    "Renders N procedural 3-D scenes (floor, walls, sky, spheres, boxes, cylinders, glass;\n"
    "with --ood also tori and cones, new textures and lighting) into OUTDIR:\n"
    "  images/NAME.png  RGB, 8-bit\n"
    "  labels/NAME.png  class ids, 8-bit gray: 0 background, 1 floor, 2 wall, 3 sphere,\n"
    "                   4 box, 5 cylinder, 6 glass, 7 other (with label noise at boundaries)\n"
    "  depth/NAME.png   z-depth along the camera axis, 16-bit, metres x 256, 0 = invalid\n"
    "                   (sky, missing glass depth), with noise of sigma = a z^2\n"
    "  noise/NAME.npy   the true depth-noise sigma in metres, float32 [H,W], 0 where depth is 0\n"
    "  dataset.json     classes, palette, depth scale and the generator settings\n"
    "NAME is scene_000000, scene_000001, ... (ood_000000, ... with --ood).\n"
    "\n"
    "  --count N      number of images (required)\n"
    "  --size WxH     image size (default 128x128)\n"
    "  --seed S       random seed, 0 .. 2^53-1 (default 0); same seed, same files\n"
    "  --ood          out-of-distribution scenes\n"
    "  --noise LEVEL  noise level, 0 = none (default 1: a = 0.005 per metre)\n"
    "  --threads K    threads (default: OpenMP's)\n";

typedef struct {
    const char *outdir;
    long count;
    int width, height;
    uint64_t seed;
    int ood;
    float noise;
    int threads;
} options;

/* Returns -1 to go on, else the exit status. */
static int parse(int argc, char **argv, options *o)
{
    *o = (options){.count = -1, .width = 128, .height = 128, .noise = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return DOUBT_EXIT_OK;
        }
        if (!strcmp(a, "--ood")) {
            o->ood = 1;
            continue;
        }
        if (a[0] != '-' || !a[1]) {
            if (o->outdir)
                return doubt_usage_errorf("synth", "unexpected argument '%s' (one OUTDIR only)", a);
            o->outdir = a;
            continue;
        }
        const char *names[] = {"--count", "--size", "--seed", "--noise", "--threads"};
        int which = -1;
        for (int k = 0; k < 5; k++)
            if (!strcmp(a, names[k]))
                which = k;
        if (which < 0)
            return doubt_usage_errorf("synth", "unknown option '%s'", a);
        if (i + 1 >= argc)
            return doubt_usage_errorf("synth", "option '%s' needs a value", a);
        const char *v = argv[++i];
        int64_t n;
        switch (which) {
        case 0:
            if (!doubt_arg_int64(v, 1, 100000000, &n))
                return doubt_usage_errorf(
                    "synth", "--count '%s': want an integer from 1 to 100000000", v);
            o->count = (long)n;
            break;
        case 1: {
            int w, h, len = 0;
            if (sscanf(v, "%dx%d%n", &w, &h, &len) != 2 || v[len] || w < 1 || h < 1 ||
                w > 16384 || h > 16384)
                return doubt_usage_errorf(
                    "synth", "--size '%s': want WxH, each 1 to 16384, like 128x128", v);
            o->width = w;
            o->height = h;
            break;
        }
        case 2:
            /* JSON numbers are doubles: keep the seed exact in dataset.json */
            if (!doubt_arg_int64(v, 0, (INT64_C(1) << 53) - 1, &n))
                return doubt_usage_errorf(
                    "synth", "--seed '%s': want an integer from 0 to 2^53-1", v);
            o->seed = (uint64_t)n;
            break;
        case 3:
            if (!doubt_arg_float(v, 0, 10, &o->noise))
                return doubt_usage_errorf("synth", "--noise '%s': want a number from 0 to 10", v);
            break;
        case 4:
            if (!doubt_arg_int(v, 1, 1024, &o->threads))
                return doubt_usage_errorf(
                    "synth", "--threads '%s': want an integer from 1 to 1024", v);
            break;
        }
    }
    if (!o->outdir)
        return doubt_usage_error("synth", "missing OUTDIR", NULL);
    if (o->count < 0)
        return doubt_usage_error("synth", "missing --count N", NULL);
    return -1;
}

static doubt_status write_dataset_json(const options *o, doubt_error *err)
{
    char path[DOUBT_PATH_MAX];
    doubt_status st = doubt_path_join(path, o->outdir, "dataset.json", err);
    if (st)
        return st;
    cJSON *root = cJSON_CreateObject();
    cJSON *classes = cJSON_AddArrayToObject(root, "classes");
    cJSON *palette = cJSON_AddArrayToObject(root, "palette");
    for (int c = 0; c < DOUBT_SYNTH_CLASSES; c++) {
        cJSON_AddItemToArray(classes, cJSON_CreateString(doubt_synth_class_names[c]));
        const int rgb[3] = {doubt_synth_palette[c][0], doubt_synth_palette[c][1],
                            doubt_synth_palette[c][2]};
        cJSON_AddItemToArray(palette, cJSON_CreateIntArray(rgb, 3));
    }
    cJSON_AddNumberToObject(root, "ignore_label", 255);
    cJSON_AddNumberToObject(root, "depth_scale", 256);
    cJSON_AddStringToObject(root, "depth", "z-depth along the camera's optical axis in metres "
                                           "(not ray length); 0 = invalid: sky, missing glass depth");
    cJSON_AddStringToObject(root, "noise", "noise/NAME.npy: true per-pixel depth-noise sigma in "
                                           "metres, float32 [H,W]; sigma = a*z^2, larger on glass; "
                                           "0 where depth is 0");
    cJSON_AddNumberToObject(root, "seed", (double)o->seed);
    cJSON_AddNumberToObject(root, "count", (double)o->count);
    char size[32];
    snprintf(size, sizeof size, "%dx%d", o->width, o->height);
    cJSON_AddStringToObject(root, "size", size);
    cJSON_AddNumberToObject(root, "width", o->width);
    cJSON_AddNumberToObject(root, "height", o->height);
    cJSON_AddBoolToObject(root, "ood", o->ood);
    cJSON_AddNumberToObject(root, "noise_level", o->noise);
    /* the float coefficient, printed as the short decimal it was made from */
    char a[32];
    snprintf(a, sizeof a, "%.6g", doubt_synth_depth_a(o->noise));
    cJSON_AddNumberToObject(root, "depth_noise_a", strtod(a, NULL));
    cJSON_AddStringToObject(root, "name_prefix", o->ood ? "ood_" : "scene_");
    cJSON_AddStringToObject(root, "generator", DOUBT_SYNTH_VERSION);
    cJSON_AddStringToObject(root, "doubt_version", DOUBT_VERSION);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "%s: out of memory", path);
    doubt_atomic_file af;
    st = doubt_atomic_open(&af, path, err);
    if (!st) {
        if (fputs(text, af.f) < 0 || fputc('\n', af.f) < 0) {
            doubt_atomic_abort(&af);
            st = doubt_fail(err, DOUBT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        } else
            st = doubt_atomic_commit(&af, err);
    }
    free(text);
    return st;
}

/* Writes the four files of one rendered image; returns the first failure. */
static doubt_status write_image(const options *o, long index, const doubt_synth_image *img,
                                uint16_t *depth16, doubt_error *err)
{
    char name[64], seed[32], idx[32], file[DOUBT_PATH_MAX], rel[128];
    snprintf(name, sizeof name, "%s%06ld", o->ood ? "ood_" : "scene_", index);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    snprintf(idx, sizeof idx, "%ld", index);
    const doubt_png_text texts[] = {{"doubt.generator", DOUBT_SYNTH_VERSION},
                                    {"doubt.seed", seed},
                                    {"doubt.index", idx},
                                    {"doubt.depth_scale", "256"}};
    size_t n = (size_t)img->width * img->height;
    for (size_t i = 0; i < n; i++) {
        float d = img->depth[i] * 256;
        /* a valid depth never rounds to the invalid 0 */
        depth16[i] = img->depth[i] <= 0 ? 0 : d >= 65535 ? 65535 : d < 1 ? 1 : (uint16_t)lrintf(d);
    }
    doubt_status first = DOUBT_OK, st;
    doubt_error e;
#define TRY(sub, ext, call)                                                        \
    do {                                                                          \
        snprintf(rel, sizeof rel, "%s/%s.%s", sub, name, ext);                    \
        st = doubt_path_join(file, o->outdir, rel, &e);                           \
        if (!st)                                                                  \
            st = (call);                                                          \
        if (st && !first) {                                                       \
            first = st;                                                           \
            *err = e;                                                             \
        }                                                                         \
    } while (0)
    TRY("images", "png", doubt_png_write_rgb8(file, img->rgb, img->width, img->height, texts, 3, &e));
    TRY("labels", "png", doubt_png_write_gray8(file, img->label, img->width, img->height, texts, 3, &e));
    TRY("depth", "png", doubt_png_write_gray16(file, depth16, img->width, img->height, texts, 4, &e));
    int64_t shape[2] = {img->height, img->width};
    TRY("noise", "npy", doubt_npy_write_f32(file, img->sigma, 2, shape, &e));
#undef TRY
    return first;
}

int doubt_cmd_synth(int argc, char **argv)
{
    options o;
    int rc = parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    doubt_error err;
    const char *subs[] = {"", "images", "labels", "depth", "noise"};
    for (int k = 0; k < 5; k++) {
        char dir[DOUBT_PATH_MAX];
        if (doubt_path_join(dir, o.outdir, subs[k], &err) || doubt_mkdir_p(dir, &err)) {
            fprintf(stderr, "doubt synth: %s\n", err.msg);
            return DOUBT_EXIT_FAILURE;
        }
    }
    long failed = 0;
    if (write_dataset_json(&o, &err)) {
        fprintf(stderr, "doubt synth: %s\n", err.msg);
        failed++;
    }
    if (o.threads > 0)
        omp_set_num_threads(o.threads);
    doubt_synth_params params = {.seed = o.seed, .width = o.width, .height = o.height,
                                 .ood = o.ood, .noise_level = o.noise};
    int progress = isatty(2);
    long done = 0, next_report = 0;
#pragma omp parallel reduction(+ : failed)
    {
        doubt_synth_image *img = NULL;
        doubt_error e;
        uint16_t *depth16 = malloc((size_t)o.width * o.height * sizeof *depth16);
        doubt_status st = depth16 ? doubt_synth_image_create(o.width, o.height, &img, &e)
                                  : doubt_fail(&e, DOUBT_ERR_NOMEM, "out of memory");
#pragma omp for schedule(dynamic, 1)
        for (long i = 0; i < o.count; i++) {
            int ok = 0;
            if (!st) {
                doubt_synth_scene scene;
                doubt_synth_scene_sample(&params, (uint64_t)i, &scene);
                ok = !doubt_synth_render(&scene, img, &e) && !write_image(&o, i, img, depth16, &e);
            }
            if (!ok) {
                failed++;
#pragma omp critical(synth_report)
                fprintf(stderr, "%sdoubt synth: image %ld: %s\n", progress ? "\n" : "", i, e.msg);
            }
            if (progress) {
#pragma omp critical(synth_report)
                {
                    done++;
                    if (done >= next_report || done == o.count) {
                        fprintf(stderr, "\rsynth: %ld/%ld images", done, o.count);
                        next_report = done + (o.count + 99) / 100;
                    }
                }
            }
        }
        doubt_synth_image_destroy(img);
        free(depth16);
    }
    if (progress)
        fputc('\n', stderr);
    if (failed)
        fprintf(stderr, "doubt synth: %ld failure(s); the other files were written\n", failed);
    return failed ? DOUBT_EXIT_FAILURE : DOUBT_EXIT_OK;
}
