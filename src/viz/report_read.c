#include "report_read.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fsutil.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/png.h"

const char *doubt_report_plane_key(int k)
{
    return k == DOUBT_RP_CLS    ? "cls"
           : k == DOUBT_RP_PROB ? DOUBT_MAP_FILE_PROBS
                                : doubt_maps[k - DOUBT_RP_DEPTH].values;
}

void doubt_report_prediction_free(doubt_report_prediction *p)
{
    free(p->cls);
    for (int k = 0; k < DOUBT_RP_N; k++)
        free(p->plane[k]);
}

static doubt_status read_npy(const char *dir, const char *name, int k, doubt_report_prediction *p,
                             doubt_error *err)
{
    char path[DOUBT_PATH_MAX], suffix[64];
    snprintf(suffix, sizeof suffix, ".%s.npy", doubt_report_plane_key(k));
    doubt_status st = doubt_path_join_suffix(path, dir, name, suffix, err);
    if (st || !doubt_is_regular_file(path))
        return st;
    float *v = NULL;
    int nd;
    int64_t sh[4];
    if ((st = doubt_npy_read_f32(path, &v, &nd, sh, err)))
        return st;
    const int want = k == DOUBT_RP_PROB ? 3 : 2;
    const int64_t h = sh[want - 2], w = sh[want - 1];
    if (nd != want || h != p->h || w != p->w) {
        free(v);
        return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: shape %s[%lld, %lld], expected %s[%d, %d] "
                          "as %s/%s.seg.png", path, nd == 3 ? "[C, H, W] " : "",
                          (long long)h, (long long)w, want == 3 ? "[C, H, W] " : "", p->h,
                          p->w, dir, name);
    }
    if (k == DOUBT_RP_PROB) { /* the probability of the predicted class only */
        const int64_t n = (int64_t)p->w * p->h;
        for (int64_t i = 0; i < n; i++) {
            if (p->cls[i] >= sh[0]) {
                free(v);
                return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: class %d at pixel (%d, %d) of "
                                  "%s.seg.png but only %lld classes", path, p->cls[i],
                                  (int)(i % p->w), (int)(i / p->w), name, (long long)sh[0]);
            }
            v[i] = v[(int64_t)p->cls[i] * n + i];
        }
    }
    p->plane[k] = v;
    return DOUBT_OK;
}

doubt_status doubt_report_read(const char *dir, const char *name, doubt_report_prediction *p,
                               doubt_error *err)
{
    char path[DOUBT_PATH_MAX];
    doubt_status st =
        doubt_path_join_suffix(path, dir, name, "." DOUBT_MAP_FILE_CLASSES ".png", err);
    if (!st && !doubt_is_regular_file(path))
        st = doubt_fail(err, DOUBT_ERR_IO, "%s: missing", path);
    if (!st)
        st = doubt_png_read_index8(path, &p->cls, &p->w, &p->h, err);
    for (int k = DOUBT_RP_PROB; !st && k < DOUBT_RP_N; k++)
        st = read_npy(dir, name, k, p, err);
    if (st || p->plane[DOUBT_RP_DEPTH])
        return st;
    /* No depth_mean.npy: depth.png, at the scale it records. */
    if ((st = doubt_path_join_suffix(path, dir, name, "." DOUBT_MAP_FILE_DEPTH ".png", err)))
        return st;
    if (!doubt_is_regular_file(path))
        return doubt_fail(err, DOUBT_ERR_IO, "%s: missing", path);
    char text[64];
    int found = 0;
    if ((st = doubt_png_read_text(path, "doubt.depth_scale", text, sizeof text, &found, err)))
        return st;
    const double scale = found ? strtod(text, NULL) : DOUBT_DEPTH_SCALE_DEFAULT;
    if (!(scale > 0))
        return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: doubt.depth_scale \"%s\" is not positive",
                          path, text);
    int w, h;
    st = doubt_image_read_depth(path, 0, (float)scale, &p->plane[DOUBT_RP_DEPTH], &w, &h, err);
    if (st)
        return st;
    if (w != p->w || h != p->h)
        return doubt_fail(err, DOUBT_ERR_FORMAT, "%s is %dx%d but %s/%s.seg.png is %dx%d", path,
                          w, h, dir, name, p->w, p->h);
    for (int64_t i = 0; i < (int64_t)w * h; i++)
        if (!(p->plane[DOUBT_RP_DEPTH][i] > 0))
            p->plane[DOUBT_RP_DEPTH][i] = NAN; /* 0 = no depth, as in depth_mean.npy */
    p->depth_from_png = 1;
    return DOUBT_OK;
}
