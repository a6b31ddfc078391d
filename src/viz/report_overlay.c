#include "report_overlay.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/png.h"

void doubt_report_diff_colour(float d, float range, uint8_t rgba[4])
{
    if (isnan(d)) {
        memset(rgba, 0, 4);
        return;
    }
    const float t = fmaxf(-1.0f, fminf(1.0f, d / range));
    rgba[0] = (uint8_t)lrintf(t < 0 ? 255 * (1 + t) : 255);
    rgba[1] = (uint8_t)lrintf(255 * (1 - fabsf(t)));
    rgba[2] = (uint8_t)lrintf(t > 0 ? 255 * (1 - t) : 255);
    rgba[3] = 255;
}

/* Fills a new RGBA canvas with fill(i, user, px) per pixel and writes it. */
static doubt_status write_rgba(const char *path, int width, int height,
                               void (*fill)(int64_t i, int x, int y, const void *user, uint8_t *px),
                               const void *user, doubt_error *err)
{
    if (width <= 0 || height <= 0)
        return doubt_fail(err, DOUBT_ERR_ARG, "overlay %s: bad size %dx%d", path, width, height);
    uint8_t *rgba = calloc((size_t)width * height, 4);
    if (!rgba)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "overlay %s: out of memory", path);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            const int64_t i = (int64_t)y * width + x;
            fill(i, x, y, user, rgba + 4 * i);
        }
    doubt_status st = doubt_png_write_rgba8(path, rgba, width, height, NULL, 0, err);
    free(rgba);
    return st;
}

static void fill_nodepth(int64_t i, int x, int y, const void *user, uint8_t *px)
{
    if (isnan(((const float *)user)[i]) && (x + y) % 4 == 0) {
        px[0] = 255;
        px[2] = 255;
        px[3] = 200;
    }
}

doubt_status doubt_report_nodepth_write(const char *path, const float *depth, int width,
                                        int height, int *any, doubt_error *err)
{
    if (any) {
        *any = 0;
        for (int64_t i = 0; i < (int64_t)width * height && !*any; i++)
            *any = isnan(depth[i]);
    }
    return write_rgba(path, width, height, fill_nodepth, depth, err);
}

typedef struct {
    const float *a, *b;
    float range;
    const uint8_t *ca, *cb;
} diff_args;

static void fill_diff(int64_t i, int x, int y, const void *user, uint8_t *px)
{
    (void)x;
    (void)y;
    const diff_args *d = user;
    doubt_report_diff_colour(d->b[i] - d->a[i], d->range, px);
}

static void fill_classdiff(int64_t i, int x, int y, const void *user, uint8_t *px)
{
    (void)x;
    (void)y;
    const diff_args *d = user;
    if (d->ca[i] != d->cb[i]) {
        px[0] = 255;
        px[3] = 255;
    }
}

doubt_status doubt_report_diff_write(const char *path, const float *a, const float *b,
                                     int width, int height, float range, doubt_error *err)
{
    if (!(range > 0) || !isfinite(range))
        return doubt_fail(err, DOUBT_ERR_ARG, "overlay %s: difference range %g, need > 0", path,
                          (double)range);
    const diff_args d = {a, b, range, NULL, NULL};
    return write_rgba(path, width, height, fill_diff, &d, err);
}

doubt_status doubt_report_classdiff_write(const char *path, const uint8_t *a, const uint8_t *b,
                                          int width, int height, doubt_error *err)
{
    const diff_args d = {NULL, NULL, 1, a, b};
    return write_rgba(path, width, height, fill_classdiff, &d, err);
}
