/* The RGBA overlays the HTML report lays over the photo besides predict's heatmaps: where
 * depth is undefined, and, when two folders are compared, the difference B - A of a map.
 *
 *     int any;
 *     st = doubt_report_nodepth_write("r_files/img/0/7.nodepth.png", depth, w, h, &any, &err);
 *     st = doubt_report_diff_write("r_files/img/1/7.diff.seg_mutual_info.png", a, b, w, h,
 *                                  0.125f, &err);
 *
 * No depth: magenta (255, 0, 255, alpha 200) on the pixels with x + y = 0 mod 4 where depth
 * is NaN, a diagonal hatch that leaves the photo visible; transparent elsewhere. Difference:
 * t = clamp((b - a) / range, -1, 1) coloured blue (t = -1) through white (0) to red (+1),
 * opaque; transparent where either is NaN. A fixed range (the report uses half the map's
 * heatmap range), never one scaled to the image. Classes: opaque red where they differ.
 */
#ifndef DOUBT_VIZ_REPORT_OVERLAY_H
#define DOUBT_VIZ_REPORT_OVERLAY_H

#include <stdint.h>

#include "core/status.h"

/* *any (may be NULL) = 1 when some pixel has no depth. The file is written either way. */
doubt_status doubt_report_nodepth_write(const char *path, const float *depth, int width,
                                        int height, int *any, doubt_error *err);
doubt_status doubt_report_diff_write(const char *path, const float *a, const float *b,
                                     int width, int height, float range, doubt_error *err);
doubt_status doubt_report_classdiff_write(const char *path, const uint8_t *a, const uint8_t *b,
                                          int width, int height, doubt_error *err);
/* The colour of difference d on the fixed range (range > 0). */
void doubt_report_diff_colour(float d, float range, uint8_t rgba[4]);

#endif
