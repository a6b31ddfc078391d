/* The HTML report of doubt inspect: binary16 and base64 encodings against hand-derived values
 * and exhaustive round trips, the PNG readers, and whole reports of tiny folders made here
 * (files on disk, manifest, float data, failures, comparison, eval). What the page does in a
 * browser is tests/browser/report_test.mjs. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/png.h"
#include "model/safetensors.h"
#include "viz/heatmap.h"
#include "viz/report.h"
#include "viz/report_data.h"
#include "viz/report_overlay.h"

static int exists(const char *path) { return access(path, R_OK) == 0; }

/* --- encodings ------------------------------------------------------------------------------ */

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

START_TEST(f16_known_values)
{
    ck_assert_uint_eq(doubt_f32_to_f16(0.0f), 0x0000);
    ck_assert_uint_eq(doubt_f32_to_f16(-0.0f), 0x8000);
    ck_assert_uint_eq(doubt_f32_to_f16(1.0f), 0x3c00);
    ck_assert_uint_eq(doubt_f32_to_f16(-2.0f), 0xc000);
    ck_assert_uint_eq(doubt_f32_to_f16(65504.0f), 0x7bff);
    ck_assert_uint_eq(doubt_f32_to_f16(65519.99f), 0x7bff); /* below the midpoint to 2^16 */
    ck_assert_uint_eq(doubt_f32_to_f16(65520.0f), 0x7c00);  /* the midpoint: ties to even = inf */
    ck_assert_uint_eq(doubt_f32_to_f16(INFINITY), 0x7c00);
    ck_assert_uint_eq(doubt_f32_to_f16(-INFINITY), 0xfc00);
    ck_assert_uint_eq(doubt_f32_to_f16(NAN) & 0x7c00, 0x7c00);
    ck_assert_uint_ne(doubt_f32_to_f16(NAN) & 0x03ff, 0);
    ck_assert_uint_eq(doubt_f32_to_f16(ldexpf(1, -14)), 0x0400); /* smallest normal */
    ck_assert_uint_eq(doubt_f32_to_f16(ldexpf(1, -24)), 0x0001); /* smallest subnormal */
    ck_assert_uint_eq(doubt_f32_to_f16(ldexpf(1, -25)), 0x0000); /* tie: to even (0) */
    ck_assert_uint_eq(doubt_f32_to_f16(ldexpf(1.5f, -25)), 0x0001);
    ck_assert_uint_eq(doubt_f32_to_f16(ldexpf(3, -25)), 0x0002);  /* 1.5 units: tie to even 2 */
    ck_assert_uint_eq(doubt_f32_to_f16(1 + ldexpf(1, -11)), 0x3c00); /* tie to even */
    ck_assert_uint_eq(doubt_f32_to_f16(1 + ldexpf(3, -11)), 0x3c02); /* tie to even (up) */
    ck_assert_uint_eq(doubt_f32_to_f16(bits_f32(0x3f801001u)), 0x3c01); /* just past a tie */
    ck_assert_uint_eq(doubt_f32_to_f16(2047.5f), 0x6800); /* tie: 2048 (even), not 2047 */
}
END_TEST

START_TEST(f16_round_trips_and_bound)
{
    /* Every finite binary16 survives f16 -> f32 -> f16. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            continue; /* NaN payloads are not kept */
        ck_assert_uint_eq(doubt_f32_to_f16(doubt_f16_to_f32((uint16_t)h)), h);
    }
    /* The stated precision on floats spread over every exponent the maps use. */
    uint32_t s = 12345;
    for (int i = 0; i < 200000; i++) {
        s = s * 1664525u + 1013904223u;
        /* 2^-32 .. 2^15 */
        const float x = ldexpf(1.0f + (float)(s >> 8) / 16777216.0f, (int)(s % 47) - 32);
        const float y = doubt_f16_to_f32(doubt_f32_to_f16(x));
        const double bound = fmax(fabs(x) * ldexp(1, -11), ldexp(1, -25));
        ck_assert_msg(fabs((double)y - x) <= bound, "%.9g -> %.9g", x, y);
    }
}
END_TEST

START_TEST(base64_rfc4648_vectors)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                      "Zm9vYmFy"};
    char buf[16];
    for (int i = 0; i < 7; i++) {
        ck_assert_uint_eq(doubt_base64_encode((const uint8_t *)in[i], strlen(in[i]), buf),
                          strlen(out[i]));
        ck_assert_str_eq(buf, out[i]);
    }
    const uint8_t hi[3] = {0xff, 0xfe, 0xfd};
    doubt_base64_encode(hi, 3, buf);
    ck_assert_str_eq(buf, "//79");
}
END_TEST

START_TEST(png_readers_give_indices_and_texts)
{
    char dir[64];
    th_make_temp_dir("doubt_report", dir, sizeof dir);
    static const uint8_t pal[4][3] = {{0, 0, 0}, {1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
    uint8_t idx[5 * 3];
    for (int i = 0; i < 15; i++)
        idx[i] = (uint8_t)(i % 4);
    doubt_png_text t[] = {{"doubt.range", "0:0.25"}, {"doubt.units", "nats"}};
    doubt_error err = {{0}};
    const char *p = th_path(dir, "p.png");
    ck_assert_int_eq(doubt_png_write_palette(p, idx, 5, 3, pal, 4, t, 2, &err), 0);
    uint8_t *back;
    int w, h;
    ck_assert_msg(doubt_png_read_index8(p, &back, &w, &h, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(w, 5);
    ck_assert_int_eq(h, 3);
    ck_assert_mem_eq(back, idx, 15);
    free(back);
    char text[64];
    int found = -1;
    ck_assert_int_eq(doubt_png_read_text(p, "doubt.units", text, sizeof text, &found, &err), 0);
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(text, "nats");
    ck_assert_int_eq(doubt_png_read_text(p, "doubt.map", text, sizeof text, &found, &err), 0);
    ck_assert_int_eq(found, 0);
    ck_assert_str_eq(text, "");
    /* An RGB PNG has no indices; garbage is no PNG; both name the file. */
    uint8_t rgb[2 * 2 * 3] = {0};
    const char *q = th_path(dir, "rgb.png");
    ck_assert_int_eq(doubt_png_write_rgb8(q, rgb, 2, 2, NULL, 0, &err), 0);
    ck_assert_int_eq(doubt_png_read_index8(q, &back, &w, &h, &err), DOUBT_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "rgb.png") != NULL, "%s", err.msg);
    th_write_text(th_path(dir, "bad.png"), "not a png at all");
    ck_assert_int_eq(doubt_png_read_text(th_path(dir, "bad.png"), "k", text, sizeof text, &found,
                                         &err),
                     DOUBT_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "bad.png") != NULL, "%s", err.msg);
    th_remove_tree(dir);
}
END_TEST

/* --- whole reports --------------------------------------------------------------------------- */

static const char *const heat_maps[] = {"depth_color",    "depth_epistemic", "depth_aleatoric",
                                        "depth_total",    "seg_entropy",     "seg_aleatoric",
                                        "seg_mutual_info", "seg_logit_var"};
#define NHEAT 8

/* A prediction as predict writes it: seg.png (p % 3), depth.png (2 m + p / 256), heatmaps of
 * v = p / n on 0..1 and, with npy, every float map (depth_mean: 2 + p/100, NaN on every 5th
 * pixel; seg_prob [3, h, w] with 0.5 + p/(4n) on the predicted class) and the photo. */
static void make_prediction(const char *dir, const char *images, const char *name, int w, int h,
                            int npy)
{
    doubt_error err = {{0}};
    const int n = w * h;
    static const uint8_t pal[3][3] = {{0, 0, 0}, {200, 40, 40}, {40, 200, 40}};
    uint8_t *idx = malloc((size_t)n), *rgb = malloc((size_t)3 * n);
    uint16_t *d16 = malloc((size_t)n * sizeof *d16);
    float *v = malloc((size_t)n * sizeof *v), *prob = malloc((size_t)3 * n * sizeof *prob);
    for (int p = 0; p < n; p++) {
        idx[p] = (uint8_t)(p % 3);
        rgb[3 * p] = (uint8_t)(p * 7);
        rgb[3 * p + 1] = 100;
        rgb[3 * p + 2] = (uint8_t)(255 - p);
        d16[p] = (uint16_t)(256 * 2 + p);
        v[p] = (float)p / n;
        for (int c = 0; c < 3; c++)
            prob[c * n + p] = c == p % 3 ? 0.5f + (float)p / (4.0f * n) : 0.1f;
    }
    char file[256];
    snprintf(file, sizeof file, "%s.seg.png", name);
    ck_assert_int_eq(doubt_png_write_palette(th_path(dir, file), idx, w, h, pal, 3, NULL, 0, &err),
                     0);
    snprintf(file, sizeof file, "%s.depth.png", name);
    ck_assert_int_eq(doubt_png_write_gray16(th_path(dir, file), d16, w, h, NULL, 0, &err), 0);
    doubt_heatmap_opts o = doubt_heatmap_defaults();
    o.lo = 0;
    o.hi = 1;
    o.units = "m2";
    for (int k = 0; k < NHEAT; k++) {
        snprintf(file, sizeof file, "%s.%s.png", name, heat_maps[k]);
        ck_assert_int_eq(doubt_heatmap_write(th_path(dir, file), v, NULL, w, h, &o, &err), 0);
    }
    if (npy) {
        int64_t shape[3] = {3, h, w};
        snprintf(file, sizeof file, "%s.seg_prob.npy", name);
        ck_assert_int_eq(doubt_npy_write_f32(th_path(dir, file), prob, 3, shape, &err), 0);
        for (int k = 0; k < NHEAT; k++) {
            const char *key = k == 0 ? "depth_mean" : heat_maps[k];
            for (int p = 0; p < n; p++)
                v[p] = k == 0 ? (p % 5 ? 2.0f + (float)p / 100 : NAN) : (float)(k * p) / n;
            snprintf(file, sizeof file, "%s.%s.npy", name, key);
            ck_assert_int_eq(doubt_npy_write_f32(th_path(dir, file), v, 2, shape + 1, &err), 0);
        }
    }
    if (images) {
        snprintf(file, sizeof file, "%s.png", name);
        ck_assert_int_eq(doubt_png_write_rgb8(th_path(images, file), rgb, w, h, NULL, 0, &err), 0);
    }
    free(idx);
    free(rgb);
    free(d16);
    free(v);
    free(prob);
}

static int errors_seen;
static void on_error(void *user, const char *msg)
{
    (void)user;
    (void)msg;
    errors_seen++;
}

/* The manifest the page holds: the text between "var DOUBT = " and ";\n". */
static cJSON *manifest(const char *html)
{
    char *page = th_read_text(html);
    char *a = strstr(page, "var DOUBT = ");
    ck_assert_ptr_nonnull(a);
    a += strlen("var DOUBT = ");
    char *b = strstr(a, ";\n</script>");
    ck_assert_ptr_nonnull(b);
    *b = '\0';
    cJSON *m = cJSON_Parse(a);
    ck_assert_ptr_nonnull(m);
    free(page);
    return m;
}

static const cJSON *at(const cJSON *o, const char *path)
{
    char key[64];
    while (o && *path) {
        size_t len = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)len, path);
        o = key[0] >= '0' && key[0] <= '9' ? cJSON_GetArrayItem(o, atoi(key))
                                             : cJSON_GetObjectItemCaseSensitive(o, key);
        path += len + (path[len] == '.');
    }
    return o;
}

START_TEST(report_writes_every_file_the_page_names)
{
    char dir[64];
    th_make_temp_dir("doubt_report", dir, sizeof dir);
    char pred[128], images[128], files[128];
    snprintf(pred, sizeof pred, "%s/pred", dir);
    snprintf(images, sizeof images, "%s/images", dir);
    snprintf(files, sizeof files, "%s/out/r_files", dir);
    ck_assert_int_eq(mkdir(pred, 0755), 0);
    ck_assert_int_eq(mkdir(images, 0755), 0);
    make_prediction(pred, images, "a", 16, 12, 1);
    make_prediction(pred, images, "b", 16, 12, 0);
    make_prediction(pred, images, "c", 16, 12, 0);
    ck_assert_int_eq(unlink(th_path(pred, "b.seg_entropy.png")), 0); /* shown without it */
    ck_assert_int_eq(unlink(th_path(pred, "c.depth.png")), 0);       /* c fails */
    th_write_text(th_path(dir, "s.jsonl"), "{\"name\":\"b\",\"maps\":{\"seg_mutual_info\":"
                                      "{\"mean\":0.125}}}\n");
    doubt_report_opts o = doubt_report_defaults();
    o.dirs[0] = pred;
    o.images = images;
    char summary[128];
    snprintf(summary, sizeof summary, "%s/s.jsonl", dir);
    o.summaries[0] = summary;
    char html[128];
    snprintf(html, sizeof html, "%s/out/r.html", dir);
    ck_assert_int_eq(mkdir(th_path(dir, "out"), 0755), 0);
    int failed = 0;
    doubt_error err = {{0}};
    errors_seen = 0;
    ck_assert_msg(doubt_report_write(&o, html, on_error, NULL, &failed, &err) == DOUBT_OK, "%s",
                  err.msg);
    ck_assert_int_eq(failed, 1);
    ck_assert_int_eq(errors_seen, 1);
    cJSON *m = manifest(html);
    ck_assert_str_eq(at(m, "files")->valuestring, "r_files");
    ck_assert_int_eq(cJSON_GetArraySize(at(m, "images")), 3);
    ck_assert_str_eq(at(m, "images.2.name")->valuestring, "c");
    ck_assert(cJSON_IsFalse(at(m, "images.2.sides.0.ok")));
    ck_assert_msg(strstr(at(m, "images.2.sides.0.error")->valuestring, "c.depth.png"), "%s",
                  at(m, "images.2.sides.0.error")->valuestring);
    /* the ranges recorded in the heatmaps */
    ck_assert_double_eq(at(m, "sides.0.ranges.depth_epistemic.hi")->valuedouble, 1.0);
    ck_assert_str_eq(at(m, "sides.0.ranges.depth_epistemic.units")->valuestring, "m2");
    /* a: floats from .npy, its statistics their means; depth: every 5th pixel NaN */
    ck_assert_str_eq(at(m, "images.0.sides.0.depth_source")->valuestring, "npy");
    ck_assert_int_eq(cJSON_GetArraySize(at(m, "images.0.sides.0.floats")), 10);
    double sum = 0;
    int k = 0;
    for (int p = 0; p < 16 * 12; p++)
        if (p % 5) {
            sum += 2.0f + (float)p / 100;
            k++;
        }
    ck_assert_double_eq_tol(at(m, "images.0.sides.0.stats.depth_mean")->valuedouble, sum / k,
                            1e-9);
    ck_assert_double_eq_tol(at(m, "images.0.sides.0.stats.no_depth")->valuedouble,
                            (16.0 * 12 - k) / (16 * 12), 1e-12);
    /* b: depth from depth.png (512 + p) / 256, the summary's mean for mutual information,
     * no seg_entropy overlay */
    ck_assert_str_eq(at(m, "images.1.sides.0.depth_source")->valuestring, "depth.png");
    ck_assert_double_eq_tol(at(m, "images.1.sides.0.stats.depth_mean")->valuedouble,
                            (512 + (16 * 12 - 1) / 2.0) / 256, 1e-9);
    ck_assert_double_eq(at(m, "images.1.sides.0.stats.seg_mutual_info")->valuedouble, 0.125);
    ck_assert_int_eq(cJSON_GetArraySize(at(m, "images.1.sides.0.heat")), 8);
    ck_assert_int_eq(cJSON_GetArraySize(at(m, "images.0.sides.0.heat")), 9);
    /* every file the page refers to */
    char rel[128];
    for (int i = 0; i < 2; i++) {
        snprintf(rel, sizeof rel, "img/photo/%s", at(m, i ? "images.1.photo" : "images.0.photo")
                                                      ->valuestring);
        ck_assert_msg(exists(th_path(files, rel)), "%s", rel);
        snprintf(rel, sizeof rel, "img/0/%d.thumb.png", i);
        ck_assert_msg(exists(th_path(files, rel)), "%s", rel);
        snprintf(rel, sizeof rel, "data/0/%d_0.js", i);
        ck_assert_msg(exists(th_path(files, rel)), "%s", rel);
        snprintf(rel, sizeof rel, "img/0/%d.nodepth.png", i);
        ck_assert_msg(exists(th_path(files, rel)), "%s", rel);
        const cJSON *heat = at(m, i ? "images.1.sides.0.heat" : "images.0.sides.0.heat");
        for (const cJSON *h = heat->child; h; h = h->next) {
            snprintf(rel, sizeof rel, "img/0/%d.%s.png", i, h->valuestring);
            ck_assert_msg(exists(th_path(files, rel)), "%s", rel);
        }
    }
    ck_assert(!exists(th_path(files, "data/0/2_0.js")));
    ck_assert(!exists(th_path(files, "data/0/0_1.js"))); /* 16 x 12: one tile */
    ck_assert(cJSON_IsTrue(at(m, "images.0.sides.0.nodepth")));  /* NaN in depth_mean.npy */
    ck_assert(cJSON_IsFalse(at(m, "images.1.sides.0.nodepth"))); /* depth.png: all > 0 */
    /* the hatch: magenta on NaN pixels with x + y = 0 mod 4 (p % 5 == 0: p = 0 is (0, 0)) */
    uint8_t *mask;
    int mw, mh;
    ck_assert_int_eq(doubt_image_read_rgb8(th_path(files, "img/0/0.nodepth.png"), 0, &mask, &mw,
                                           &mh, &err),
                     0);
    for (int p = 0; p < 16 * 12; p++) {
        const int on = p % 5 == 0 && (p % 16 + p / 16) % 4 == 0;
        ck_assert_msg(mask[3 * p] == (on ? 255 : 0) && mask[3 * p + 1] == 0, "pixel %d", p);
    }
    free(mask);
    /* the thumbnail: at most 96 tall, so 16x12 stays 16x12 */
    doubt_image_info info;
    ck_assert_int_eq(doubt_image_probe(th_path(files, "img/0/0.thumb.png"), &info, &err), 0);
    ck_assert_int_eq(info.width, 16);
    ck_assert_int_eq(info.height, 12);
    cJSON_Delete(m);
    th_remove_tree(dir);
}
END_TEST

/* The report of the predictions in dir, as dir/r.html; returns how many images failed. */
static int write_one_folder_report(const char *dir)
{
    doubt_report_opts o = doubt_report_defaults();
    o.dirs[0] = dir;
    int failed = -1;
    doubt_error err = {{0}};
    ck_assert_msg(doubt_report_write(&o, th_path(dir, "r.html"), NULL, NULL, &failed, &err) == 0,
                  "%s", err.msg);
    return failed;
}

START_TEST(data_script_holds_the_maps_as_binary16)
{
    char dir[64];
    th_make_temp_dir("doubt_report", dir, sizeof dir);
    make_prediction(dir, NULL, "a", 4, 3, 1);
    ck_assert_int_eq(write_one_folder_report(dir), 0);
    char *js = th_read_text(th_path(dir, "r_files/data/0/0_0.js"));
    const char *head = "doubtData(0,\"a\",0,{\"x\":0,\"y\":0,\"w\":4,\"h\":3,\"maps\":{\"cls\":\"";
    ck_assert_msg(!strncmp(js, head, strlen(head)), "%.60s", js);
    /* Expected planes, encoded here independently of the writer's loop. */
    const int n = 12;
    uint8_t cls[12], b[24];
    char want[64], key[96];
    for (int p = 0; p < n; p++)
        cls[p] = (uint8_t)(p % 3);
    doubt_base64_encode(cls, 12, want);
    snprintf(key, sizeof key, "\"cls\":\"%s\"", want);
    ck_assert_msg(strstr(js, key) != NULL, "%s not in %s", key, js);
    for (int p = 0; p < n; p++) {
        const float d = p % 5 ? 2.0f + (float)p / 100 : NAN;
        const uint16_t h = doubt_f32_to_f16(d);
        b[2 * p] = (uint8_t)(h & 0xff);
        b[2 * p + 1] = (uint8_t)(h >> 8);
    }
    doubt_base64_encode(b, 24, want);
    snprintf(key, sizeof key, "\"depth_mean\":\"%s\"", want);
    ck_assert_msg(strstr(js, key) != NULL, "%s not in %s", key, js);
    for (int p = 0; p < n; p++) { /* the probability of the predicted class */
        const uint16_t h = doubt_f32_to_f16(0.5f + (float)p / (4.0f * n));
        b[2 * p] = (uint8_t)(h & 0xff);
        b[2 * p + 1] = (uint8_t)(h >> 8);
    }
    doubt_base64_encode(b, 24, want);
    snprintf(key, sizeof key, "\"seg_prob\":\"%s\"", want);
    ck_assert_msg(strstr(js, key) != NULL, "%s not in %s", key, js);
    free(js);
    th_remove_tree(dir);
}
END_TEST

START_TEST(wide_images_are_cut_into_tiles)
{
    char dir[64];
    th_make_temp_dir("doubt_report", dir, sizeof dir);
    const int w = DOUBT_REPORT_TILE + 44, h = 2;
    make_prediction(dir, NULL, "w", w, h, 1);
    ck_assert_int_eq(write_one_folder_report(dir), 0);
    ck_assert(!exists(th_path(dir, "r_files/data/0/0_2.js")));
    char *js = th_read_text(th_path(dir, "r_files/data/0/0_1.js"));
    const char *head = "doubtData(0,\"w\",1,{\"x\":256,\"y\":0,\"w\":44,\"h\":2,";
    ck_assert_msg(!strncmp(js, head, strlen(head)), "%.60s", js);
    /* tile 1's depth: x = 256 .. 299 of both rows */
    uint8_t b[2 * 44 * 2];
    char want[256], key[300];
    int nb = 0;
    for (int y = 0; y < h; y++)
        for (int x = DOUBT_REPORT_TILE; x < w; x++) {
            const int p = y * w + x;
            const uint16_t f = doubt_f32_to_f16(p % 5 ? 2.0f + (float)p / 100 : NAN);
            b[nb++] = (uint8_t)(f & 0xff);
            b[nb++] = (uint8_t)(f >> 8);
        }
    doubt_base64_encode(b, (size_t)nb, want);
    snprintf(key, sizeof key, "\"depth_mean\":\"%s\"", want);
    ck_assert_msg(strstr(js, key) != NULL, "%s not in %s", key, js);
    free(js);
    cJSON *m = manifest(th_path(dir, "r.html"));
    ck_assert_int_eq(at(m, "tile")->valueint, DOUBT_REPORT_TILE);
    cJSON_Delete(m);
    th_remove_tree(dir);
}
END_TEST

START_TEST(difference_colours)
{
    uint8_t c[4];
    doubt_report_diff_colour(0, 2, c);
    ck_assert(c[0] == 255 && c[1] == 255 && c[2] == 255 && c[3] == 255);
    doubt_report_diff_colour(2, 2, c);
    ck_assert(c[0] == 255 && c[1] == 0 && c[2] == 0 && c[3] == 255);
    doubt_report_diff_colour(5, 2, c); /* clamped */
    ck_assert(c[0] == 255 && c[1] == 0 && c[2] == 0);
    doubt_report_diff_colour(-2, 2, c);
    ck_assert(c[0] == 0 && c[1] == 0 && c[2] == 255);
    doubt_report_diff_colour(-1, 2, c); /* halfway to blue */
    ck_assert_msg(c[0] == 128 && c[1] == 128 && c[2] == 255, "%d %d %d", c[0], c[1], c[2]);
    doubt_report_diff_colour(NAN, 2, c);
    ck_assert(c[3] == 0);
}
END_TEST

START_TEST(names_cannot_end_the_script)
{
    char dir[64];
    th_make_temp_dir("doubt_report", dir, sizeof dir);
    /* A file name cannot hold '/', but "<!--<script>" inside a script element is as bad: the
     * HTML parser would take the rest of the page as script. */
    make_prediction(dir, NULL, "x<!--<script>y", 4, 3, 0);
    ck_assert_int_eq(write_one_folder_report(dir), 0);
    char *page = th_read_text(th_path(dir, "r.html"));
    ck_assert_ptr_null(strstr(page, "<!--"));
    ck_assert_ptr_nonnull(strstr(page, "x\\u003c!--\\u003cscript>y"));
    free(page);
    cJSON *m = manifest(th_path(dir, "r.html"));
    ck_assert_str_eq(at(m, "images.0.name")->valuestring, "x<!--<script>y");
    cJSON_Delete(m);
    th_remove_tree(dir);
}
END_TEST

START_TEST(comparison_and_eval)
{
    char dir[64];
    th_make_temp_dir("doubt_report", dir, sizeof dir);
    char a[128], b[128], plots[128], evj[128], html[128];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    snprintf(plots, sizeof plots, "%s/plots", dir);
    snprintf(evj, sizeof evj, "%s/eval.json", dir);
    snprintf(html, sizeof html, "%s/cmp.html", dir);
    ck_assert_int_eq(mkdir(a, 0755), 0);
    ck_assert_int_eq(mkdir(b, 0755), 0);
    ck_assert_int_eq(mkdir(plots, 0755), 0);
    make_prediction(a, NULL, "one", 4, 3, 1);
    make_prediction(b, NULL, "one", 4, 3, 1);
    make_prediction(b, NULL, "two", 4, 3, 0); /* only in B: shown, not a failure */
    th_write_text(th_path(plots, "reliability.png"), "png bytes");
    th_write_text(th_path(dir, "eval.json"), "{\"seg\":{\"miou\":0.5,\"reliability\":{\"confidence\":"
                                        "[0.5],\"accuracy\":[0.4],\"count\":[3]}},"
                                        "\"per_image\":[{\"name\":\"one\"}]}");
    doubt_report_opts o = doubt_report_defaults();
    o.dirs[0] = a;
    o.dirs[1] = b;
    o.ndirs = 2;
    o.eval_json = evj;
    o.eval_plots = plots;
    int failed = -1;
    doubt_error err = {{0}};
    ck_assert_msg(doubt_report_write(&o, html, NULL, NULL, &failed, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(failed, 0);
    cJSON *m = manifest(html);
    ck_assert_int_eq(cJSON_GetArraySize(at(m, "sides")), 2);
    ck_assert_str_eq(at(m, "sides.1.dir")->valuestring, b);
    ck_assert(cJSON_IsTrue(at(m, "images.0.sides.0.ok")));
    ck_assert(cJSON_IsTrue(at(m, "images.0.sides.1.ok")));
    ck_assert(cJSON_IsFalse(at(m, "images.1.sides.0.ok")));
    ck_assert(cJSON_IsTrue(at(m, "images.1.sides.1.ok")));
    ck_assert(exists(th_path(dir, "cmp_files/data/1/0_0.js")));
    ck_assert(exists(th_path(dir, "cmp_files/data/1/1_0.js")));
    ck_assert(!exists(th_path(dir, "cmp_files/data/0/1_0.js")));
    /* B - A of one's maps (the same values: all white) and of the classes (none differ) */
    ck_assert_int_eq(cJSON_GetArraySize(at(m, "images.0.sides.1.diff")), 9);
    ck_assert_ptr_null(at(m, "images.1.sides.1.diff"));
    uint8_t *rgb;
    int dw, dh;
    ck_assert_int_eq(doubt_image_read_rgb8(th_path(dir, "cmp_files/img/1/0.diff.seg_entropy.png"),
                                           0, &rgb, &dw, &dh, &err),
                     0);
    ck_assert(dw == 4 && dh == 3 && rgb[0] == 255 && rgb[1] == 255 && rgb[2] == 255);
    free(rgb);
    ck_assert(exists(th_path(dir, "cmp_files/img/1/0.diff.seg.png")));
    ck_assert_double_eq(at(m, "eval.seg.miou")->valuedouble, 0.5);
    ck_assert_ptr_null(at(m, "eval.per_image"));
    ck_assert_str_eq(at(m, "eval_plots.0")->valuestring, "reliability.png");
    ck_assert(exists(th_path(dir, "cmp_files/eval/reliability.png")));
    cJSON_Delete(m);
    /* a broken eval file is an error of the report, naming it */
    th_write_text(th_path(dir, "eval.json"), "[1, 2");
    ck_assert_int_eq(doubt_report_write(&o, html, NULL, NULL, &failed, &err), DOUBT_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "eval.json") != NULL, "%s", err.msg);
    th_remove_tree(dir);
}
END_TEST

START_TEST(sizes_that_differ_fail_the_image)
{
    char dir[64];
    th_make_temp_dir("doubt_report", dir, sizeof dir);
    char images[128];
    snprintf(images, sizeof images, "%s/images", dir);
    ck_assert_int_eq(mkdir(images, 0755), 0);
    make_prediction(dir, images, "a", 4, 3, 0);
    make_prediction(dir, NULL, "b", 4, 3, 1);
    /* b's mutual information npy is 3x4, not 4x3 */
    float v[12] = {0};
    int64_t shape[2] = {4, 3};
    doubt_error err = {{0}};
    ck_assert_int_eq(doubt_npy_write_f32(th_path(dir, "b.seg_mutual_info.npy"), v, 2, shape, &err),
                     0);
    /* a's photo is 5x3 */
    uint8_t rgb[5 * 3 * 3] = {0};
    ck_assert_int_eq(doubt_png_write_rgb8(th_path(images, "a.png"), rgb, 5, 3, NULL, 0, &err), 0);
    doubt_report_opts o = doubt_report_defaults();
    o.dirs[0] = dir;
    o.images = images;
    int failed = -1;
    ck_assert_int_eq(doubt_report_write(&o, th_path(dir, "r.html"), NULL, NULL, &failed, &err), 0);
    ck_assert_int_eq(failed, 2);
    cJSON *m = manifest(th_path(dir, "r.html"));
    ck_assert_msg(strstr(at(m, "images.0.sides.0.error")->valuestring, "5x3"), "%s",
                  at(m, "images.0.sides.0.error")->valuestring);
    ck_assert_msg(strstr(at(m, "images.1.sides.0.error")->valuestring, "b.seg_mutual_info.npy"),
                  "%s", at(m, "images.1.sides.0.error")->valuestring);
    cJSON_Delete(m);
    th_remove_tree(dir);
}
END_TEST

START_TEST(command_line)
{
    const char *three[] = {"inspect", "a", "b", "c", "--html", "r.html", NULL};
    th_assert_usage_error(three, "at most two PREDDIRs ('a', 'b' and 'c')");
    const char *panel2[] = {"inspect", "a", "b", "--panel", "x", "-o", "p.png", NULL};
    th_assert_usage_error(panel2, "--panel takes one PREDDIR");
    /* Two folders written by the command, read back by the page's manifest. */
    char dir[64];
    th_make_temp_dir("doubt_report", dir, sizeof dir);
    make_prediction(dir, NULL, "a", 4, 3, 1);
    char *out = NULL, *errs = NULL;
    char chtml[128];
    snprintf(chtml, sizeof chtml, "%s/c.html", dir);
    const char *ok[] = {"inspect", dir, dir, "--html", chtml, NULL};
    ck_assert_int_eq(th_run_doubt(ok, &out, &errs), 0);
    ck_assert_msg(strstr(errs, "wrote") != NULL, "%s", errs);
    free(out);
    free(errs);
    cJSON *m = manifest(th_path(dir, "c.html"));
    ck_assert_int_eq(cJSON_GetArraySize(at(m, "sides")), 2);
    cJSON_Delete(m);
    /* the single-PNG panel for scripts, as before */
    char panel[128];
    snprintf(panel, sizeof panel, "%s/a.panel.png", dir);
    const char *pn[] = {"inspect", dir, "--panel", "a", "-o", panel, NULL};
    ck_assert_int_eq(th_run_doubt(pn, &out, &errs), 0);
    free(out);
    free(errs);
    doubt_image_info info;
    doubt_error err = {{0}};
    ck_assert_msg(doubt_image_probe(panel, &info, &err) == 0, "%s", err.msg);
    ck_assert_int_gt(info.width, 9 * 4); /* nine tiles side by side */
    const char *ev[] = {"inspect", dir, "--panel", "a", "-o", panel, "--eval", "e.json", NULL};
    th_assert_usage_error(ev, "--eval and --eval-plots need --html");
    th_remove_tree(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report");
    TCase *enc = tcase_create("encodings");
    tcase_add_test(enc, f16_known_values);
    tcase_add_test(enc, f16_round_trips_and_bound);
    tcase_add_test(enc, base64_rfc4648_vectors);
    tcase_add_test(enc, png_readers_give_indices_and_texts);
    suite_add_tcase(s, enc);
    TCase *rep = tcase_create("report");
    tcase_set_timeout(rep, 120);
    tcase_add_test(rep, report_writes_every_file_the_page_names);
    tcase_add_test(rep, data_script_holds_the_maps_as_binary16);
    tcase_add_test(rep, wide_images_are_cut_into_tiles);
    tcase_add_test(enc, difference_colours);
    tcase_add_test(rep, names_cannot_end_the_script);
    tcase_add_test(rep, comparison_and_eval);
    tcase_add_test(rep, sizes_that_differ_fail_the_image);
    tcase_add_test(rep, command_line);
    suite_add_tcase(s, rep);
    return th_run(s);
}
