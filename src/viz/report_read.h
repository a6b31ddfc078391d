/* One prediction of a `doubt predict` folder as the float planes the HTML report shows.
 *
 *     doubt_report_prediction p = {0};
 *     st = doubt_report_read("pred", "scene_7", &p, &err);
 *     ... p.cls[y * p.w + x], p.plane[DOUBT_RP_DEPTH] (NULL when absent) ...
 *     doubt_report_prediction_free(&p);
 *
 * cls: NAME.seg.png's palette indices (an 8-bit palette or gray PNG). seg_prob: from
 * NAME.seg_prob.npy [C, H, W], the probability of the class in cls. The other planes from
 * NAME.<key>.npy [H, W] when present; depth_mean, when its .npy is absent, from
 * NAME.depth.png divided by its doubt.depth_scale tEXt (256 without it), 0 read as NaN
 * (no depth, as in the .npy). Every plane must have seg.png's size; a missing seg.png or
 * depth.png, a bad file or a size that differs is an error naming the file.
 */
#ifndef DOUBT_VIZ_REPORT_READ_H
#define DOUBT_VIZ_REPORT_READ_H

#include <stdint.h>

#include "core/status.h"
#include "viz/maps.h"

/* Plane DOUBT_RP_DEPTH + m holds the values of map m of maps.h (depth_mean first). */
enum {
    DOUBT_RP_CLS,   /* uint8, in cls */
    DOUBT_RP_PROB,  /* float planes from here on */
    DOUBT_RP_DEPTH,
    DOUBT_RP_N = DOUBT_RP_DEPTH + DOUBT_MAP_COUNT
};

/* "cls", then predict's .npy names: "seg_prob", "depth_mean", "depth_epistemic", ... */
const char *doubt_report_plane_key(int k);

typedef struct {
    int w, h;
    uint8_t *cls;
    float *plane[DOUBT_RP_N]; /* NULL when absent; plane[DOUBT_RP_CLS] unused */
    int depth_from_png;
    int ok; /* set by the report once written; kept for the other folder's difference */
} doubt_report_prediction;

doubt_status doubt_report_read(const char *dir, const char *name, doubt_report_prediction *p,
                               doubt_error *err);
void doubt_report_prediction_free(doubt_report_prediction *p);

#endif
