#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "synth/synth.h"

#define PI 3.14159265358979
#define DEG (PI / 180)

static doubt_synth_image *make_image(int w, int h)
{
    doubt_synth_image *img = NULL;
    doubt_error err = {{0}};
    ck_assert_msg(doubt_synth_image_create(w, h, &img, &err) == DOUBT_OK, "%s", err.msg);
    return img;
}

static void render(const doubt_synth_scene *sc, doubt_synth_image *img)
{
    doubt_error err = {{0}};
    ck_assert_msg(doubt_synth_render(sc, img, &err) == DOUBT_OK, "%s", err.msg);
}

static void render_index(const doubt_synth_params *p, uint64_t index, doubt_synth_image *img)
{
    doubt_synth_scene sc;
    doubt_synth_scene_sample(p, index, &sc);
    render(&sc, img);
}

static int same_image(const doubt_synth_image *a, const doubt_synth_image *b)
{
    size_t n = (size_t)a->width * a->height;
    return !memcmp(a->rgb, b->rgb, 3 * n) && !memcmp(a->label, b->label, n) &&
           !memcmp(a->label_true, b->label_true, n) && !memcmp(a->labelnoise, b->labelnoise, n) &&
           !memcmp(a->depth, b->depth, n * sizeof(float)) &&
           !memcmp(a->depth_true, b->depth_true, n * sizeof(float)) &&
           !memcmp(a->sigma, b->sigma, n * sizeof(float));
}

START_TEST(same_index_same_image)
{
    doubt_synth_params p = {.seed = 11, .width = 64, .height = 48, .ood = _i & 3, .noise_level = 1,
                            .rig = _i >> 2};
    doubt_synth_image *a = make_image(64, 48), *b = make_image(64, 48);
    render_index(&p, 5, a);
    render_index(&p, 1, b); /* leave other contents in b first: a render must overwrite all */
    render_index(&p, 5, b);
    ck_assert(same_image(a, b));
    render_index(&p, 6, b);
    ck_assert(memcmp(a->rgb, b->rgb, 3 * 64 * 48));
    ck_assert(memcmp(a->depth_true, b->depth_true, 64 * 48 * sizeof(float)));
    p.seed = 12;
    render_index(&p, 5, b);
    ck_assert(memcmp(a->rgb, b->rgb, 3 * 64 * 48));
    doubt_synth_image_destroy(a);
    doubt_synth_image_destroy(b);
}
END_TEST

/* Rendering on several threads at once gives what a single thread gives: no hidden state. */
START_TEST(threads_do_not_matter)
{
    enum { N = 8, SW = 48, SH = 40 };
    doubt_synth_params p = {.seed = 21, .width = SW, .height = SH, .ood = DOUBT_SYNTH_OOD_ALL,
                            .noise_level = 1};
    doubt_synth_image *serial[N], *parallel[N];
    for (int i = 0; i < N; i++) {
        serial[i] = make_image(SW, SH);
        parallel[i] = make_image(SW, SH);
        render_index(&p, (uint64_t)i, serial[i]);
    }
    int failures = 0;
#pragma omp parallel for num_threads(4) schedule(dynamic, 1) reduction(+ : failures)
    for (int i = N - 1; i >= 0; i--) {
        doubt_synth_scene sc;
        doubt_synth_scene_sample(&p, (uint64_t)i, &sc);
        failures += doubt_synth_render(&sc, parallel[i], NULL) != DOUBT_OK;
    }
    ck_assert_int_eq(failures, 0);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(same_image(serial[i], parallel[i]), "image %d differs", i);
        doubt_synth_image_destroy(serial[i]);
        doubt_synth_image_destroy(parallel[i]);
    }
}
END_TEST

/* An odd-sized image has a pixel whose centre ray is the optical axis. Camera at
 * (0, 1.5, 0) looking along +z with a 60° vertical field of view, so f = 24.5 / tan 30°. */
enum { W = 65, H = 49, CU = 32, CV = 24 };

static void camera_scene(doubt_synth_scene *sc)
{
    doubt_synth_scene_init(sc);
    sc->cam_pos[0] = 0;
    sc->cam_pos[1] = 1.5f;
    sc->cam_pos[2] = 0;
    sc->cam_yaw = sc->cam_pitch = 0;
    sc->fov_y = (float)(PI / 3);
}

static double rel(double a, double b) { return fabs(a - b) / fabs(b); }

/* One object in front of the camera; the centre pixel sees it at a hand-computed depth. */
START_TEST(shape_depth_on_axis)
{
    static const struct {
        doubt_synth_shape shape;
        float center[3], size[3], yaw, tilt;
        int cls;
        double depth;
    } cases[] = {
        /* sphere radius 1 at 5 m: the near pole */
        {DOUBT_SHAPE_SPHERE, {0, 1.5f, 5}, {1, 0, 0}, 0, 0, 3, 4.0},
        /* axis-aligned cube of half size 1: its front face */
        {DOUBT_SHAPE_BOX, {0, 1.5f, 5}, {1, 1, 1}, 0, 0, 4, 4.0},
        /* the same cube turned 45°: its front edge at 5 - √2 */
        {DOUBT_SHAPE_BOX, {0, 1.5f, 5}, {1, 1, 1}, (float)(PI / 4), 0, 4, 5 - 1.4142135623730951},
        /* cylinder radius 0.5 standing at 5 m */
        {DOUBT_SHAPE_CYLINDER, {0, 0, 5}, {0.5f, 3, 0}, 0, 0, 5, 4.5},
        /* cone of base radius 1, height 3: radius 0.5 at the camera's height 1.5 */
        {DOUBT_SHAPE_CONE, {0, 0, 5}, {1, 3, 0}, 0, 0, 7, 4.5},
        /* flat torus at eye height: the axis ray meets the tube at 5 - 1 - 0.3 */
        {DOUBT_SHAPE_TORUS, {0, 1.5f, 5}, {1, 0.3f, 0}, 0.7f, 0, 7, 3.7},
        /* torus standing face-on: the axis ray passes through the hole to the far wall */
        {DOUBT_SHAPE_TORUS, {0, 1.5f, 5}, {1, 0.3f, 0}, 0, (float)(PI / 2), 2, 10.0},
    };
    doubt_synth_image *img = make_image(W, H);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        doubt_synth_scene sc;
        camera_scene(&sc);
        doubt_synth_object *ob = &sc.objects[sc.nobjects++];
        ob->shape = cases[k].shape;
        memcpy(ob->center, cases[k].center, sizeof ob->center);
        memcpy(ob->size, cases[k].size, sizeof ob->size);
        ob->yaw = cases[k].yaw;
        ob->tilt = cases[k].tilt;
        ob->mat = sc.wall_mat;
        render(&sc, img);
        size_t i = (size_t)CV * W + CU;
        ck_assert_msg(img->label_true[i] == cases[k].cls, "case %zu: class %d, want %d", k,
                      img->label_true[i], cases[k].cls);
        ck_assert_msg(rel(img->depth_true[i], cases[k].depth) < 1e-4, "case %zu: depth %.7g, want %.7g",
                      k, img->depth_true[i], cases[k].depth);
        /* no noise in a hand-made scene: what is written is the truth */
        ck_assert_float_eq(img->depth[i], img->depth_true[i]);
        ck_assert_int_eq(img->label[i], img->label_true[i]);
    }
    doubt_synth_image_destroy(img);
}
END_TEST

/* Off-axis pixels: the floor, the far wall and the sky, from the pinhole geometry. */
START_TEST(floor_wall_sky_geometry)
{
    doubt_synth_scene sc;
    camera_scene(&sc);
    doubt_synth_image *img = make_image(W, H);
    render(&sc, img);
    double f = 24.5 / tan(PI / 6);
    /* from v = 31 on, the floor point is nearer than the far wall at z = 10 */
    for (int v = 31; v < H; v += 3) {
        for (int u = 0; u < W; u += 16) {
            size_t i = (size_t)v * W + u;
            /* ray (a, -(v + .5 - 24.5)/f, 1) meets y = 0 at z = 1.5 f / (v + .5 - 24.5) */
            double z = 1.5 * f / (v + 0.5 - 24.5);
            ck_assert_int_eq(img->label_true[i], 1);
            ck_assert_msg(rel(img->depth_true[i], z) < 1e-4, "floor (%d,%d): %.7g want %.7g", u, v,
                          img->depth_true[i], z);
        }
    }
    /* v = 20 looks 4/f up: at z = 10 the ray is at 1.5 + 10·4/f < 3 m, the wall's top */
    for (int u = 20; u < 45; u += 4) {
        size_t i = (size_t)20 * W + u;
        ck_assert_int_eq(img->label_true[i], 2);
        ck_assert_msg(rel(img->depth_true[i], 10.0) < 1e-4, "wall %d: %.7g", u, img->depth_true[i]);
    }
    /* v = 2 looks 22/f up: above the 3 m walls everywhere, so sky with depth 0 */
    for (int u = 0; u < W; u += 8) {
        size_t i = (size_t)2 * W + u;
        ck_assert_int_eq(img->label_true[i], 0);
        ck_assert_float_eq(img->depth_true[i], 0);
        ck_assert_float_eq(img->sigma[i], 0);
    }
    doubt_synth_image_destroy(img);
}
END_TEST

/* The σ map is a·z² (a = 0.005 per noise level) wherever depth is valid and not glass, and
 * the written depth deviates from the truth by draws of exactly that σ. */
START_TEST(sigma_map_matches_noise)
{
    double levels[2] = {1, 2}, max_rel = 0;
    doubt_synth_image *img = make_image(96, 72);
    for (int l = 0; l < 2; l++) {
        doubt_synth_params p = {.seed = 3, .width = 96, .height = 72, .noise_level = (float)levels[l]};
        double a = 0.005 * levels[l], m1 = 0, m2 = 0;
        long n = 0;
        for (uint64_t idx = 0; idx < 6; idx++) {
            render_index(&p, idx, img);
            for (size_t i = 0; i < 96 * 72; i++) {
                double z = img->depth_true[i];
                if (img->depth[i] == 0) {
                    ck_assert_float_eq(img->sigma[i], 0);
                    ck_assert(z == 0 || img->label_true[i] == 6);
                    continue;
                }
                ck_assert_msg(img->depth[i] > 0, "pixel %zu: depth %g", i, img->depth[i]);
                if (img->label_true[i] == 6) {
                    ck_assert(img->sigma[i] > a * z * z);
                    max_rel = fmax(max_rel, img->sigma[i] / z);
                    continue;
                }
                ck_assert_msg(rel(img->sigma[i], a * z * z) < 1e-5, "pixel %zu: sigma %g, a z^2 %g", i,
                              img->sigma[i], a * z * z);
                double e = (img->depth[i] - z) / img->sigma[i];
                m1 += e;
                m2 += e * e;
                n++;
            }
        }
        ck_assert(n > 10000);
        m1 /= n;
        m2 /= n;
        ck_assert_msg(fabs(m1) < 0.05 && fabs(m2 - 1) < 0.05, "standardised error mean %g var %g", m1, m2);
    }
    /* glass noise large against its depth, where a Gaussian would go below 0 */
    ck_assert_msg(max_rel > 0.5, "glass sigma/z at most %g", max_rel);
    doubt_synth_image_destroy(img);
}
END_TEST

/* A glass sphere filling the view: its class is 6 and about glass_missing of its pixels have
 * no depth; the rest carry the larger glass σ. */
START_TEST(glass_depth_missing_or_noisy)
{
    doubt_synth_scene sc;
    camera_scene(&sc);
    doubt_synth_object *ob = &sc.objects[sc.nobjects++];
    ob->shape = DOUBT_SHAPE_SPHERE;
    ob->center[1] = 1.5f;
    ob->center[2] = 4;
    ob->size[0] = 1.5f;
    ob->glass = 1;
    sc.depth_a = 0.005f;
    sc.glass_sigma_scale = 10;
    sc.glass_sigma_min = 0.05f;
    sc.glass_missing = 0.3f;
    doubt_synth_image *img = make_image(W, H);
    render(&sc, img);
    int glass = 0, missing = 0;
    for (size_t i = 0; i < W * H; i++) {
        if (img->label_true[i] != 6)
            continue;
        glass++;
        double z = img->depth_true[i];
        if (img->depth[i] == 0)
            missing++;
        else
            ck_assert(rel(img->sigma[i], 10 * 0.005 * z * z + 0.05) < 1e-5);
    }
    ck_assert_int_gt(glass, 500);
    ck_assert_msg(fabs((double)missing / glass - 0.3) < 0.06, "%d of %d missing", missing, glass);
    ck_assert_int_eq(img->label_true[(size_t)CV * W + CU], 6);
    doubt_synth_image_destroy(img);
}
END_TEST

/* Depth noise is log-normal around the truth: never <= 0 however large σ/z, of mean z and
 * standard deviation σ (what noise/NAME.npy holds), and log(depth / z) is Gaussian with mean
 * -s²/2 and variance s² = log(1 + σ²/z²). A room and a glass sphere with large σ/z (0.3 on
 * the far wall, up to 0.8 on the glass), over many noise draws (scene indices). */
START_TEST(depth_noise_is_lognormal_of_std_sigma)
{
    doubt_synth_scene sc;
    camera_scene(&sc);
    doubt_synth_object *ob = &sc.objects[sc.nobjects++];
    ob->shape = DOUBT_SHAPE_SPHERE;
    ob->center[1] = 1.5f;
    ob->center[2] = 4;
    ob->size[0] = 1.5f;
    ob->glass = 1;
    sc.depth_a = 0.03f;
    sc.glass_sigma_scale = 10;
    sc.glass_sigma_min = 0.05f;
    doubt_synth_image *img = make_image(W, H);
    double m[2] = {0}, l[3] = {0}, max_rel = 0;
    long n = 0;
    for (uint64_t idx = 0; idx < 100; idx++) {
        sc.index = idx;
        render(&sc, img);
        for (size_t i = 0; i < W * H; i++) {
            double z = img->depth_true[i], d = img->depth[i], s = img->sigma[i];
            if (z == 0)
                continue;
            ck_assert_msg(d > 0, "pixel %zu: depth %g (true %g, sigma %g)", i, d, z, s);
            double e = (d - z) / s, s2 = log1p(s * s / (z * z));
            double g = (log(d / z) + s2 / 2) / sqrt(s2);
            m[0] += e;
            m[1] += e * e;
            l[0] += g;
            l[1] += g * g;
            l[2] += g * g * g;
            max_rel = fmax(max_rel, s / z);
            n++;
        }
    }
    ck_assert(n > 100000 && max_rel > 0.7);
    ck_assert_msg(fabs(m[0] / n) < 0.01 && fabs(m[1] / n - 1) < 0.05,
                  "(depth - z)/sigma: mean %g, mean square %g", m[0] / n, m[1] / n);
    ck_assert_msg(fabs(l[0] / n) < 0.01 && fabs(l[1] / n - 1) < 0.02 && fabs(l[2] / n) < 0.03,
                  "standardised log depth: moments %g %g %g", l[0] / n, l[1] / n, l[2] / n);
    doubt_synth_image_destroy(img);
}
END_TEST

static int partner(int cls) { return cls == 4 ? 5 : 4; }

/* A pixel on a class boundary: a 4-neighbour of another true class. k ranges over them. */
static int neighbour_class(const doubt_synth_image *img, int u, int v, int k)
{
    int w = img->width, h = img->height, du[4] = {-1, 1, 0, 0}, dv[4] = {0, 0, -1, 1};
    int x = u + du[k], y = v + dv[k];
    if (x < 0 || y < 0 || x >= w || y >= h)
        return -1;
    int c = img->label_true[(size_t)y * w + x];
    return c == img->label_true[(size_t)v * w + u] ? -1 : c;
}

/* The label-noise truth map is exactly the documented probability. Over many sampled scenes
 * it takes only the four values of (boundary, look-alike) in {0, 1}²; its boundary part
 * matches label_true's 4-neighbourhood; look-alikes are boxes or cylinders; a wrong label is
 * of the kind the value allows (0: never wrong); and on each value the labels are wrong at
 * that rate. The rate is measured per image: a look-alike's pixels are mislabelled together,
 * so pixels are not independent draws, but images are, and an image's fraction of wrong
 * pixels among those of one truth value has that value as its mean (which pixels carry it
 * does not depend on the draws). Within 4 standard errors, at two noise levels. */
START_TEST(label_noise_truth_is_exact)
{
    enum { LW = 32, LH = 24, IMAGES = 1200 };
    double level = _i ? 0.5 : 1, f = fmin(0.5, 0.25 * level), q = fmin(0.5, 0.5 * level);
    const double prob[4] = {0, f, q, 1 - (1 - f) * (1 - q)};
    int value[4];
    for (int k = 0; k < 4; k++)
        value[k] = (int)floor(255 * prob[k] + 0.5);
    /* per value: images showing it, Σ and Σ² over them of the fraction wrong, pixels wrong */
    double images[4] = {0}, sum[4] = {0}, sum2[4] = {0}, wrong[4] = {0};
    doubt_synth_image *img = make_image(LW, LH);
    for (uint64_t idx = 0; idx < IMAGES; idx++) {
        doubt_synth_params p = {.seed = 5, .width = LW, .height = LH,
                                .ood = idx % 4 == 3 ? DOUBT_SYNTH_OOD_ALL : 0,
                                .noise_level = (float)level};
        render_index(&p, idx, img);
        double n[4] = {0}, wr[4] = {0};
        for (int v = 0; v < LH; v++)
            for (int u = 0; u < LW; u++) {
                size_t i = (size_t)v * LW + u;
                int t = img->labelnoise[i], k = 0, cls = img->label_true[i], lab = img->label[i];
                while (k < 4 && value[k] != t)
                    k++;
                ck_assert_msg(k < 4, "image %d (%d,%d): truth %d", (int)idx, u, v, t);
                int boundary = 0, from_neighbour = 0;
                for (int j = 0; j < 4; j++) {
                    int c = neighbour_class(img, u, v, j);
                    boundary |= c >= 0;
                    from_neighbour |= c >= 0 && c == lab;
                }
                ck_assert_int_eq(boundary, k == 1 || k == 3);
                if (k >= 2)
                    ck_assert(cls == 4 || cls == 5);
                int ok = lab == cls || (boundary && from_neighbour) || (k >= 2 && lab == partner(cls));
                ck_assert_msg(ok, "image %d (%d,%d): label %d, true %d, truth %d", (int)idx, u, v,
                              lab, cls, t);
                n[k]++;
                wr[k] += lab != cls;
            }
        for (int k = 0; k < 4; k++)
            if (n[k] > 0) {
                images[k]++;
                sum[k] += wr[k] / n[k];
                sum2[k] += (wr[k] / n[k]) * (wr[k] / n[k]);
                wrong[k] += wr[k];
            }
    }
    ck_assert_double_eq(wrong[0], 0);
    for (int k = 1; k < 4; k++) {
        double j = images[k], rate = sum[k] / j, var = (sum2[k] - j * rate * rate) / (j - 1);
        /* the file's rounding to 1/255 on top of the sampling error */
        double tol = 4 * sqrt(var / j) + 0.5 / 255;
        ck_assert_msg(j >= 300, "truth %d in %g images only", value[k], j);
        ck_assert_msg(fabs(rate - value[k] / 255.0) <= tol, "truth %d: wrong %.4f (+- %.4f) in %g images",
                      value[k], rate, tol, j);
    }
    doubt_synth_image_destroy(img);
}
END_TEST

/* A look-alike's label is drawn once for the whole object: four clay objects in a row, no
 * boundary flips, over many noise draws. Each object's pixels all carry one label, the true
 * class or the other of the pair, the other with probability lookalike_flip. */
START_TEST(lookalike_mislabelled_as_a_whole)
{
    doubt_synth_scene sc;
    camera_scene(&sc);
    sc.lookalike_flip = 0.4f;
    for (int k = 0; k < 4; k++) {
        doubt_synth_object *ob = &sc.objects[sc.nobjects++];
        ob->shape = k & 1 ? DOUBT_SHAPE_CYLINDER : DOUBT_SHAPE_BOX;
        ob->center[0] = -2.25f + 1.5f * k;
        ob->center[2] = 5;
        ob->size[0] = ob->size[2] = 0.4f;
        ob->size[1] = k & 1 ? 1.2f : 0.6f;
        ob->center[1] = k & 1 ? 0 : 0.6f;
        ob->lookalike = 1;
        ob->mat = sc.wall_mat;
    }
    doubt_synth_image *img = make_image(W, H);
    int wrong = 0, draws = 0;
    for (uint64_t idx = 0; idx < 250; idx++) {
        sc.index = idx;
        render(&sc, img);
        int first[4] = {-1, -1, -1, -1}, count[4] = {0};
        for (int v = 0; v < H; v++)
            for (int u = 0; u < W; u++) {
                size_t i = (size_t)v * W + u;
                int cls = img->label_true[i];
                if (cls != 4 && cls != 5)
                    continue;
                /* object k is seen around u = 32.5 + f·x/5; its column band ends half-way
                 * to the next */
                int k = u < 20 ? 0 : u < 33 ? 1 : u < 45 ? 2 : 3;
                ck_assert_int_eq(cls, k & 1 ? 5 : 4);
                ck_assert_int_eq(img->labelnoise[i], 102); /* 0.4·255 */
                if (first[k] < 0)
                    first[k] = img->label[i];
                ck_assert_int_eq(img->label[i], first[k]);
                count[k]++;
            }
        for (int k = 0; k < 4; k++) {
            ck_assert_int_gt(count[k], 20);
            ck_assert(first[k] == 4 || first[k] == 5);
            wrong += first[k] != (k & 1 ? 5 : 4);
            draws++;
        }
    }
    double rate = (double)wrong / draws;
    ck_assert_msg(fabs(rate - 0.4) < 4 * sqrt(0.4 * 0.6 / draws), "%d of %d mislabelled", wrong, draws);
    doubt_synth_image_destroy(img);
}
END_TEST

/* Every scene of the objects kind has a torus or cone; class 7 ("other") shows in nearly
 * every image of the objects and all kinds (a nearer object can hide it, and the all kind's
 * small rooms and steep views leave less room), and never in training or geometry ones. */
START_TEST(ood_scenes_show_other)
{
    enum { N = 40 };
    int w = 64, h = 64;
    doubt_synth_image *img = make_image(w, h);
    for (int ood = 0; ood < 4; ood++) {
        doubt_synth_params p = {.seed = 9, .width = w, .height = h, .ood = ood, .noise_level = 1};
        int with_other = 0;
        for (uint64_t idx = 0; idx < N; idx++) {
            doubt_synth_scene sc;
            doubt_synth_scene_sample(&p, idx, &sc);
            int placed = 0;
            for (int k = 0; k < sc.nobjects; k++)
                placed += sc.objects[k].shape >= DOUBT_SHAPE_CONE;
            if (ood == DOUBT_SYNTH_OOD_OBJECTS)
                ck_assert_msg(placed > 0, "ood scene %d has no torus or cone", (int)idx);
            render(&sc, img);
            int other = 0;
            for (int i = 0; i < w * h; i++)
                other += img->label_true[i] == 7;
            with_other += other > 0;
        }
        if (ood & DOUBT_SYNTH_OOD_OBJECTS)
            ck_assert_msg(with_other >= N * 9 / 10, "ood %d: class 7 in %d of %d", ood, with_other, N);
        else
            ck_assert_int_eq(with_other, 0);
    }
    doubt_synth_image_destroy(img);
}
END_TEST

/* with room for the float rounding of 60° in radians and back */
static int inside(double x, double lo, double hi) { return x >= lo - 1e-4 && x <= hi + 1e-4; }

/* Training cameras stay in their rig's ranges (the fixed rig: 1.5 m, 60°, pitch -0.15 ±
 * 0.03) and rooms in the training ones (half extents 3 to 25 m), with or without the
 * objects kind, which changes what is in the room, not the room or the camera. */
START_TEST(training_cameras_and_rooms_in_range)
{
    static const double rigs[2][6] = {{1.5, 1.5, 60, 60, -0.18, -0.12},
                                      {0.6, 2.6, 45, 70, -0.5, 0.1}};
    for (int rig = 0; rig < 2; rig++)
        for (int ood = 0; ood < 2; ood++)
            for (uint64_t idx = 0; idx < 300; idx++) {
                doubt_synth_params p = {.seed = 4, .width = 64, .height = 48, .ood = ood,
                                        .noise_level = 1, .rig = rig};
                doubt_synth_scene sc;
                doubt_synth_scene_sample(&p, idx, &sc);
                const double *r = rigs[rig];
                ck_assert_msg(inside(sc.cam_pos[1], r[0], r[1]) &&
                                  inside(sc.fov_y / DEG, r[2], r[3]) &&
                                  inside(sc.cam_pitch, r[4], r[5]),
                              "rig %d ood %d scene %d: height %g fov %g pitch %g", rig, ood,
                              (int)idx, sc.cam_pos[1], sc.fov_y / DEG, sc.cam_pitch);
                ck_assert(inside(sc.half_x, 3, 25) && inside(sc.half_z, 3, 25));
            }
}
END_TEST

/* The geometry kind: camera height, field of view and pitch outside both rigs' ranges and
 * room half widths outside the training 3-25 m, every time; each layout and camera shows up;
 * training shapes and textures; and the materials, sky and light of the training scene of
 * the same index, since its draws come from a stream of their own. */
START_TEST(geometry_ood_outside_training)
{
    int layouts[3] = {0}, low = 0, high = 0;
    for (int rig = 0; rig < 2; rig++)
        for (uint64_t idx = 0; idx < 300; idx++) {
            doubt_synth_params p = {.seed = 8, .width = 64, .height = 48,
                                    .ood = DOUBT_SYNTH_OOD_GEOMETRY, .noise_level = 1,
                                    .rig = rig};
            doubt_synth_scene sc, train;
            doubt_synth_scene_sample(&p, idx, &sc);
            p.ood = 0;
            doubt_synth_scene_sample(&p, idx, &train);
            double hgt = sc.cam_pos[1], fov = sc.fov_y / DEG, pitch = sc.cam_pitch;
            ck_assert_msg(!inside(hgt, 0.6, 2.6) && !inside(fov, 45, 70) && !inside(pitch, -0.5, 0.1),
                          "scene %d: height %g fov %g pitch %g", (int)idx, hgt, fov, pitch);
            ck_assert_msg(!inside(sc.half_x, 3, 25), "scene %d: half_x %g", (int)idx, sc.half_x);
            ck_assert(pitch < sc.fov_y / 2); /* the floor is in view */
            ck_assert(sc.wall_height > hgt && sc.walls == 15);
            ck_assert(sc.cam_pos[2] > -sc.half_z && fabs(sc.cam_pos[0]) < sc.half_x);
            layouts[sc.half_z > 20 && sc.half_x < 3 ? 0 : sc.half_z < 3 ? 1 : 2]++;
            low += hgt < 0.6;
            high += hgt > 2.6;
            for (int k = 0; k < sc.nobjects; k++) {
                ck_assert(sc.objects[k].shape <= DOUBT_SHAPE_CYLINDER);
                ck_assert(sc.objects[k].mat.texture < DOUBT_TEX_DOTS ||
                          sc.objects[k].mat.texture == DOUBT_TEX_CLAY);
            }
            ck_assert(!memcmp(&sc.floor_mat, &train.floor_mat, sizeof sc.floor_mat));
            ck_assert(!memcmp(&sc.wall_mat, &train.wall_mat, sizeof sc.wall_mat));
            ck_assert(!memcmp(sc.sky_zenith, train.sky_zenith, sizeof sc.sky_zenith));
            ck_assert(!memcmp(sc.light_color, train.light_color, sizeof sc.light_color));
        }
    ck_assert(layouts[0] > 100 && layouts[1] > 100 && layouts[2] > 100 && low > 200 && high > 200);
}
END_TEST

/* Look-alikes are about 1 in 5 of the objects of a training scene, boxes or cylinders of
 * clay, never glass, and nothing else is clay. */
START_TEST(lookalikes_are_one_in_five)
{
    int objects = 0, lookalike = 0;
    for (uint64_t idx = 0; idx < 400; idx++) {
        doubt_synth_params p = {.seed = 6, .width = 64, .height = 48, .noise_level = 1};
        doubt_synth_scene sc;
        doubt_synth_scene_sample(&p, idx, &sc);
        ck_assert_float_eq(sc.lookalike_flip, 0.5f);
        for (int k = 0; k < sc.nobjects; k++) {
            const doubt_synth_object *ob = &sc.objects[k];
            objects++;
            if (!ob->lookalike) {
                ck_assert(ob->mat.texture != DOUBT_TEX_CLAY);
                continue;
            }
            lookalike++;
            ck_assert(!ob->glass && ob->mat.texture == DOUBT_TEX_CLAY);
            ck_assert(ob->shape == DOUBT_SHAPE_BOX || ob->shape == DOUBT_SHAPE_CYLINDER);
        }
    }
    double rate = (double)lookalike / objects;
    ck_assert_msg(objects > 1000 && fabs(rate - 0.2) < 4 * sqrt(0.16 / objects), "%d of %d", lookalike,
                  objects);
}
END_TEST

/* A sampled scene shows floor and at least one object in most images. */
START_TEST(sampled_scenes_are_varied)
{
    int w = 64, h = 48, hist[8] = {0};
    doubt_synth_image *img = make_image(w, h);
    doubt_synth_params p = {.seed = 2, .width = w, .height = h, .noise_level = 1};
    int with_object = 0;
    for (uint64_t idx = 0; idx < 40; idx++) {
        render_index(&p, idx, img);
        int seen[8] = {0};
        for (int i = 0; i < w * h; i++)
            seen[img->label_true[i]] = 1;
        for (int c = 0; c < 8; c++)
            hist[c] += seen[c];
        with_object += seen[3] || seen[4] || seen[5] || seen[6];
    }
    ck_assert_int_ge(with_object, 36);
    ck_assert_int_ge(hist[1], 38); /* floor */
    for (int c = 0; c < 7; c++)
        ck_assert_msg(hist[c] > 0, "class %d never seen in 40 images", c);
    doubt_synth_image_destroy(img);
}
END_TEST

START_TEST(bad_arguments)
{
    doubt_error err = {{0}};
    doubt_synth_image *img = NULL;
    ck_assert_int_eq(doubt_synth_image_create(0, 5, &img, &err), DOUBT_ERR_ARG);
    ck_assert_ptr_null(img);
    ck_assert_ptr_nonnull(strstr(err.msg, "0x5"));
    img = make_image(8, 8);
    doubt_synth_scene sc;
    doubt_synth_scene_init(&sc);
    sc.nobjects = DOUBT_SYNTH_MAX_OBJECTS + 1;
    ck_assert_int_eq(doubt_synth_render(&sc, img, &err), DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "objects"));
    sc.nobjects = 1;
    sc.objects[0].shape = DOUBT_SHAPE_SPHERE;
    sc.objects[0].lookalike = 1;
    ck_assert_int_eq(doubt_synth_render(&sc, img, &err), DOUBT_ERR_ARG);
    ck_assert_str_eq(err.msg, "synth render: object 0: a look-alike is a box or a cylinder, not glass");
    sc.nobjects = 0;
    sc.lookalike_flip = 1.5f;
    ck_assert_int_eq(doubt_synth_render(&sc, img, &err), DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "flip probabilities"));
    doubt_synth_image_destroy(img);
    doubt_synth_image_destroy(NULL);
}
END_TEST

/* doubt synth refuses bad option values before it writes anything: exit 2 and a message that
 * quotes the value. */
START_TEST(command_refuses_bad_option_values)
{
    static const struct {
        const char *option, *value, *message;
    } cases[] = {
        {"--noise", "11", "--noise '11': want a number from 0 to 10"},
        {"--noise", "nan", "--noise 'nan': want a number from 0 to 10"},
        {"--noise", "0.5x", "--noise '0.5x': want a number from 0 to 10"},
        {"--count", "0", "--count '0': want an integer from 1 to 100000000"},
        {"--size", "0x5", "--size '0x5': want WxH, each 1 to 16384, like 128x128"},
        {"--rig", "moving", "--rig 'moving': want fixed or random"},
        {"--rig", NULL, "option '--rig' needs a value"},
        {"--ood=objekts", NULL, "--ood 'objekts': want objects, geometry or all"},
        {"--ood=", NULL, "--ood '': want objects, geometry or all"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        th_assert_usage_error((const char *[]){"synth", "/nonexistent/doubt/synth", "--count", "1",
                                               cases[i].option, cases[i].value, NULL},
                              cases[i].message);
    /* a word after --ood that is no KIND is not its value: here a second OUTDIR */
    th_assert_usage_error((const char *[]){"synth", "/nonexistent/a", "--count", "1", "--ood",
                                           "/nonexistent/b", NULL},
                          "unexpected argument '/nonexistent/b' (one OUTDIR only)");
}
END_TEST

/* How the command reads --ood and --rig: what it names the files and what dataset.json says.
 * Each case renders one tiny image; "DIR" stands for a fresh folder. */
START_TEST(command_reads_ood_and_rig)
{
    static const struct {
        const char *args[6];
        const char *kind, *rig, *name;
    } cases[] = {
        {{"DIR", NULL}, "none", "fixed", "scene_000000"},
        {{"DIR", "--ood", NULL}, "all", "fixed", "ood_all_000000"},
        {{"--ood", "DIR", NULL}, "all", "fixed", "ood_all_000000"},
        {{"DIR", "--ood", "geometry", NULL}, "geometry", "fixed", "ood_geometry_000000"},
        {{"--ood=objects", "DIR", "--rig", "random", NULL}, "objects", "random", "ood_objects_000000"},
        {{"--rig", "random", "--ood", "all", "DIR", NULL}, "all", "random", "ood_all_000000"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char dir[] = "/tmp/doubt_synth_XXXXXX", file[1024];
        ck_assert_ptr_nonnull(mkdtemp(dir));
        const char *args[12] = {"synth", "--count", "1", "--size", "6x4"};
        int n = 5;
        for (int k = 0; cases[c].args[k]; k++)
            args[n++] = strcmp(cases[c].args[k], "DIR") ? cases[c].args[k] : dir;
        args[n] = NULL;
        char *out, *err;
        int status = th_run_doubt(args, &out, &err);
        ck_assert_msg(status == 0, "case %zu: exit %d: %s", c, status, err);
        free(out);
        free(err);
        static const char *const files[5][2] = {
            {"images", "png"}, {"labels", "png"}, {"labelnoise", "png"}, {"depth", "png"},
            {"noise", "npy"}};
        for (int k = 0; k < 5; k++) {
            snprintf(file, sizeof file, "%s/%s/%s.%s", dir, files[k][0], cases[c].name, files[k][1]);
            ck_assert_msg(access(file, R_OK) == 0, "case %zu: no %s", c, file);
        }
        snprintf(file, sizeof file, "%s/dataset.json", dir);
        char *text = th_read_text(file);
        cJSON *root = cJSON_Parse(text);
        free(text);
        ck_assert_ptr_nonnull(root);
        ck_assert_str_eq(cJSON_GetObjectItem(root, "generator")->valuestring, "doubt-synth 2");
        ck_assert_str_eq(cJSON_GetObjectItem(root, "ood_kind")->valuestring, cases[c].kind);
        ck_assert_int_eq(cJSON_IsTrue(cJSON_GetObjectItem(root, "ood")), strcmp(cases[c].kind, "none") != 0);
        const cJSON *no_depth = cJSON_GetObjectItem(root, "no_depth_classes");
        ck_assert(cJSON_GetArraySize(no_depth) == 1 && cJSON_GetArrayItem(no_depth, 0)->valueint == 0);
        const cJSON *rig = cJSON_GetObjectItem(root, "rig");
        ck_assert_str_eq(cJSON_GetObjectItem(rig, "name")->valuestring, cases[c].rig);
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(rig, "pitch_rad")), 2);
        ck_assert_int_eq(cJSON_GetObjectItem(root, "ood_geometry") != NULL,
                         !strcmp(cases[c].kind, "geometry") || !strcmp(cases[c].kind, "all"));
        const cJSON *ln = cJSON_GetObjectItem(root, "label_noise");
        ck_assert_double_eq(cJSON_GetObjectItem(ln, "boundary_flip")->valuedouble, 0.25);
        ck_assert_double_eq(cJSON_GetObjectItem(ln, "lookalike_flip")->valuedouble, 0.5);
        ck_assert_double_eq(cJSON_GetObjectItem(ln, "lookalike_fraction")->valuedouble, 0.2);
        cJSON_Delete(root);
        th_remove_tree(dir);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("synth");
    TCase *det = tcase_create("determinism");
    tcase_add_loop_test(det, same_index_same_image, 0, 8); /* every OOD kind, both rigs */
    tcase_add_test(det, threads_do_not_matter);
    suite_add_tcase(s, det);
    TCase *geo = tcase_create("geometry");
    tcase_add_test(geo, shape_depth_on_axis);
    tcase_add_test(geo, floor_wall_sky_geometry);
    suite_add_tcase(s, geo);
    TCase *noise = tcase_create("noise");
    tcase_add_test(noise, sigma_map_matches_noise);
    tcase_add_test(noise, depth_noise_is_lognormal_of_std_sigma);
    tcase_add_test(noise, glass_depth_missing_or_noisy);
    tcase_add_loop_test(noise, label_noise_truth_is_exact, 0, 2);
    tcase_add_test(noise, lookalike_mislabelled_as_a_whole);
    suite_add_tcase(s, noise);
    TCase *sampler = tcase_create("sampler");
    tcase_add_test(sampler, ood_scenes_show_other);
    tcase_add_test(sampler, training_cameras_and_rooms_in_range);
    tcase_add_test(sampler, geometry_ood_outside_training);
    tcase_add_test(sampler, lookalikes_are_one_in_five);
    tcase_add_test(sampler, sampled_scenes_are_varied);
    tcase_add_test(sampler, bad_arguments);
    tcase_add_test(sampler, command_refuses_bad_option_values);
    tcase_add_test(sampler, command_reads_ood_and_rig);
    suite_add_tcase(s, sampler);
    return th_run(s);
}
