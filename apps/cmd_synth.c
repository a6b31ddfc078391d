/* doubt synth: renders a synthetic scene dataset (images, labels, depth, and the truth of
 * their noise) into a folder. Images are rendered in parallel; each one's randomness depends
 * only on (seed, index), so the files are byte-identical for any thread count. */
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
#include "synth/synth.h"
#include "viz/palette.h"

static const char usage_text[] =
    "usage: doubt synth OUTDIR --count N [--size WxH] [--seed S] [--rig RIG] [--ood [KIND]]\n"
    "                   [--noise LEVEL] [--threads K]\n"
    "\n"
    "Renders N procedural 3-D scenes (floor, walls, sky, spheres, boxes, cylinders, glass)\n"
    "into OUTDIR:\n"
    "  images/NAME.png      RGB, 8-bit\n"
    "  labels/NAME.png      class ids, 8-bit gray: 0 background, 1 floor, 2 wall, 3 sphere,\n"
    "                       4 box, 5 cylinder, 6 glass, 7 other; with label noise: a pixel\n"
    "                       on a class boundary takes a neighbour's class (probability\n"
    "                       0.25 LEVEL), and look-alikes (1 in 5 objects: boxes and cylinders\n"
    "                       of matte clay with coil rings) are labelled as the other of the\n"
    "                       two (probability 0.5 LEVEL); both at most 0.5\n"
    "  labelnoise/NAME.png  the truth of that: round(255 P(label != true class)), 8-bit gray\n"
    "  depth/NAME.png       z-depth along the camera axis, 16-bit, metres x 256, 0 = invalid\n"
    "                       (sky, missing glass depth), with log-normal noise of mean the\n"
    "                       true depth z and sigma = a z^2 (more on glass): never <= 0\n"
    "  noise/NAME.npy       that sigma in metres, float32 [H,W], 0 where depth is 0\n"
    "  dataset.json         classes, palette, depth scale and the generator settings\n"
    "NAME is scene_000000, scene_000001, ... (ood_KIND_000000, ... with --ood).\n"
    "\n"
    "  --count N      number of images (required)\n"
    "  --size WxH     image size (default 128x128)\n"
    "  --seed S       random seed, 0 .. 2^53-1 (default 0); same seed, same files\n"
    "  --rig RIG      the training camera: fixed (default; 1.5 m high, 60 deg vertical field\n"
    "                 of view, pitch -0.15 +- 0.03 rad) or random (0.6-2.6 m, 45-70 deg,\n"
    "                 pitch -0.5 to 0.1 rad)\n"
    "  --ood [KIND]   out-of-distribution scenes of a KIND: objects (tori and cones, class 7;\n"
    "                 new textures, colours and light), geometry (a camera 0.2-0.45 m high\n"
    "                 with an 80-100 deg lens or 3.2-5 m high with 28-40 deg, in a corridor,\n"
    "                 closet or hall: depths no training scene has) or all (both). --ood alone\n"
    "                 means all; it takes the next word only if that is a KIND; or --ood=KIND\n"
    "  --noise LEVEL  noise level, 0 = none (default 1: a = 0.005 per metre)\n"
    "  --threads K    threads (default: OpenMP's)\n";

/* Indexed by the DOUBT_SYNTH_OOD_* bits. */
static const char *const ood_kinds[4] = {"none", "objects", "geometry", "all"};

/* The OOD bits of a KIND word, or -1. */
static int ood_kind(const char *word)
{
    for (int k = 1; k < 4; k++)
        if (word && !strcmp(word, ood_kinds[k]))
            return k;
    return -1;
}

typedef struct {
    const char *outdir;
    long count;
    int width, height;
    uint64_t seed;
    int ood; /* DOUBT_SYNTH_OOD_* bits */
    doubt_synth_rig rig;
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
        if (!strcmp(a, "--ood") || !strncmp(a, "--ood=", 6)) {
            /* bare --ood is all, so the next word is its value only when it is a KIND */
            const char *next = i + 1 < argc ? argv[i + 1] : NULL;
            const char *v = a[5] == '=' ? a + 6 : ood_kind(next) > 0 ? argv[++i] : "all";
            o->ood = ood_kind(v);
            if (o->ood < 0)
                return doubt_usage_errorf("synth", "--ood '%s': want objects, geometry or all", v);
            continue;
        }
        if (a[0] != '-' || !a[1]) {
            if (o->outdir)
                return doubt_usage_errorf("synth", "unexpected argument '%s' (one OUTDIR only)", a);
            o->outdir = a;
            continue;
        }
        const char *names[] = {"--count", "--size", "--seed", "--noise", "--threads", "--rig"};
        int which = -1;
        for (int k = 0; k < 6; k++)
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
        case 5:
            if (!strcmp(v, "fixed"))
                o->rig = DOUBT_SYNTH_RIG_FIXED;
            else if (!strcmp(v, "random"))
                o->rig = DOUBT_SYNTH_RIG_RANDOM;
            else
                return doubt_usage_errorf("synth", "--rig '%s': want fixed or random", v);
            break;
        }
    }
    if (!o->outdir)
        return doubt_usage_error("synth", "missing OUTDIR", NULL);
    if (o->count < 0)
        return doubt_usage_error("synth", "missing --count N", NULL);
    return -1;
}

/* NAME without its number: scene_, or ood_KIND_ so that the kinds can share a folder. */
static void name_prefix(const options *o, char *buf, size_t cap)
{
    if (o->ood)
        snprintf(buf, cap, "ood_%s_", ood_kinds[o->ood]);
    else
        snprintf(buf, cap, "scene_");
}

/* A float setting as the short decimal it was written as (1.5f, not 1.5000000596...). */
static double short_number(float x)
{
    char text[32];
    snprintf(text, sizeof text, "%.6g", x);
    return strtod(text, NULL);
}

static void add_range(cJSON *obj, const char *key, const float r[2])
{
    const double v[2] = {short_number(r[0]), short_number(r[1])};
    cJSON_AddItemToObject(obj, key, cJSON_CreateDoubleArray(v, 2));
}

static cJSON *camera_json(const doubt_synth_camera_range *r)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "name", r->name);
    add_range(c, "height_m", r->height);
    add_range(c, "fov_y_deg", r->fov_y);
    add_range(c, "pitch_rad", r->pitch);
    return c;
}

/* What dataset.json says of the camera, the OOD kind and the label noise. */
static void add_settings(cJSON *root, const options *o)
{
    cJSON *rig = camera_json(&doubt_synth_rigs[o->rig]);
    cJSON_AddStringToObject(rig, "draw", "uniform in each [lo, hi]; pitch also at most "
                                         "fov_y/2 - 0.25 rad; camera 1 m or more from objects");
    cJSON_AddItemToObject(root, "rig", rig);
    cJSON_AddBoolToObject(root, "ood", o->ood != 0);
    cJSON_AddStringToObject(root, "ood_kind", ood_kinds[o->ood]);
    if (o->ood & DOUBT_SYNTH_OOD_GEOMETRY) {
        cJSON *g = cJSON_AddObjectToObject(root, "ood_geometry");
        cJSON *cams = cJSON_AddArrayToObject(g, "cameras");
        for (int k = 0; k < 2; k++)
            cJSON_AddItemToArray(cams, camera_json(&doubt_synth_ood_cameras[k]));
        cJSON *rooms = cJSON_AddArrayToObject(g, "rooms");
        for (int k = 0; k < 3; k++) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "name", doubt_synth_ood_rooms[k].name);
            add_range(r, "half_x_m", doubt_synth_ood_rooms[k].half_x);
            add_range(r, "half_z_m", doubt_synth_ood_rooms[k].half_z);
            cJSON_AddItemToArray(rooms, r);
        }
        cJSON_AddStringToObject(g, "draw", "a camera and a room, each uniformly; walls on four "
                                           "sides, 0.5 to 3 m higher than the camera");
    }
    cJSON *ln = cJSON_AddObjectToObject(root, "label_noise");
    cJSON_AddNumberToObject(ln, "boundary_flip", short_number(doubt_synth_label_flip(o->noise)));
    cJSON_AddNumberToObject(ln, "lookalike_fraction", short_number(DOUBT_SYNTH_LOOKALIKE_FRACTION));
    cJSON_AddNumberToObject(ln, "lookalike_flip",
                            short_number(doubt_synth_lookalike_flip(o->noise)));
    const char *pair[2] = {doubt_synth_class_names[DOUBT_SYNTH_BOX],
                           doubt_synth_class_names[DOUBT_SYNTH_CYLINDER]};
    cJSON_AddItemToObject(ln, "lookalike_classes", cJSON_CreateStringArray(pair, 2));
    cJSON_AddStringToObject(
        ln, "model",
        "a pixel with a 4-neighbour of another true class takes one such neighbour's class with "
        "probability boundary_flip; a look-alike (any object but an OOD torus or cone, with "
        "probability lookalike_fraction: a box or cylinder of matte clay with coil rings, its "
        "true class its shape's) is labelled as the other class of the pair with probability "
        "lookalike_flip, once for the whole object");
    cJSON_AddStringToObject(ln, "truth", "labelnoise/NAME.png, 8-bit: round(255 * P(label != true "
                                         "class)) = round(255 * (1 - (1 - boundary_flip * b) * "
                                         "(1 - lookalike_flip * l))), b, l = 1 on boundary and "
                                         "look-alike pixels, else 0");
}

/* viz keeps the colours of synth's classes (palette.h), one per class in synth's order. */
_Static_assert(DOUBT_PALETTE_SYNTH_CLASSES == DOUBT_SYNTH_CLASSES, "one colour per synth class");

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
        const int rgb[3] = {doubt_palette_synth[c][0], doubt_palette_synth[c][1],
                            doubt_palette_synth[c][2]};
        cJSON_AddItemToArray(palette, cJSON_CreateIntArray(rgb, 3));
    }
    cJSON_AddNumberToObject(root, "ignore_label", 255);
    /* the sky has no depth: train copies this into the weights, so predict leaves it out */
    const int no_depth[1] = {DOUBT_SYNTH_SKY};
    cJSON_AddItemToObject(root, "no_depth_classes", cJSON_CreateIntArray(no_depth, 1));
    cJSON_AddNumberToObject(root, "depth_scale", 256);
    cJSON_AddStringToObject(root, "depth", "z-depth along the camera's optical axis in metres "
                                           "(not ray length); 0 = invalid: sky, missing glass depth");
    cJSON_AddStringToObject(root, "noise", "noise/NAME.npy: true per-pixel depth-noise sigma in "
                                           "metres, float32 [H,W], the standard deviation of the "
                                           "written depth around the true z; sigma = a*z^2, "
                                           "larger on glass; 0 where depth is 0");
    cJSON_AddStringToObject(root, "depth_noise", "log-normal, mean-unbiased: depth = z*exp(s*e - "
                                                 "s^2/2), e ~ N(0,1), s^2 = log(1 + (sigma/z)^2)");
    cJSON_AddNumberToObject(root, "seed", (double)o->seed);
    cJSON_AddNumberToObject(root, "count", (double)o->count);
    char size[32];
    snprintf(size, sizeof size, "%dx%d", o->width, o->height);
    cJSON_AddStringToObject(root, "size", size);
    cJSON_AddNumberToObject(root, "width", o->width);
    cJSON_AddNumberToObject(root, "height", o->height);
    cJSON_AddNumberToObject(root, "noise_level", o->noise);
    cJSON_AddNumberToObject(root, "depth_noise_a", short_number(doubt_synth_depth_a(o->noise)));
    add_settings(root, o);
    char prefix[32];
    name_prefix(o, prefix, sizeof prefix);
    cJSON_AddStringToObject(root, "name_prefix", prefix);
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

/* Writes the five files of one rendered image; returns the first failure. */
static doubt_status write_image(const options *o, long index, const doubt_synth_image *img,
                                uint16_t *depth16, doubt_error *err)
{
    char prefix[32], name[64], seed[32], idx[32], file[DOUBT_PATH_MAX], rel[128];
    name_prefix(o, prefix, sizeof prefix);
    snprintf(name, sizeof name, "%s%06ld", prefix, index);
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
    TRY("labelnoise", "png",
        doubt_png_write_gray8(file, img->labelnoise, img->width, img->height, texts, 3, &e));
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
    const char *subs[] = {"", "images", "labels", "labelnoise", "depth", "noise"};
    for (int k = 0; k < 6; k++) {
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
                                 .ood = o.ood, .noise_level = o.noise, .rig = o.rig};
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
