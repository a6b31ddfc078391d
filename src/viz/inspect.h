/* Looking at a `doubt predict` output folder: one side-by-side panel per image (the HTML
 * report of a whole folder is report.h).
 *
 *     doubt_inspect_opts o = doubt_inspect_defaults();
 *     o.images = "photos";                                  // inputs, for the overlay
 *     st = doubt_inspect_panel("out", "a", &o, "a.panel.png", NULL, NULL, &err);
 *
 * A prediction NAME is any NAME with at least one of the PNGs predict writes (maps.h); it
 * must have NAME.seg.png (palette), NAME.depth.png (16-bit, metres x 256) and the heatmap of
 * every uncertainty map, NAME.{depth_epistemic, depth_aleatoric, depth_total, seg_entropy,
 * seg_aleatoric, seg_mutual_info, seg_logit_var}.png; NAME.depth_color.png is used when
 * present, else depth.png is coloured here (turbo on [depth_lo, depth_hi], with a colorbar).
 * The input photo is DIR/NAME.{png,jpg,jpeg,bmp,tga} (also upper case) of o.images; without
 * it the panel shows the plain segmentation colours instead of the overlay.
 *
 * Panel tiles, left to right: input, segmentation overlay (input and palette colours blended
 * DOUBT_INSPECT_OVERLAY_ALPHA), depth, then the uncertainty heatmaps in maps.h's order (they
 * carry their own colorbars), each titled (maps.h's titles), composed by panel.h.
 */
#ifndef DOUBT_VIZ_INSPECT_H
#define DOUBT_VIZ_INSPECT_H

#include "core/status.h"

#define DOUBT_INSPECT_OVERLAY_ALPHA 0.5f

typedef struct {
    const char *images;       /* input photos, or NULL */
    float depth_lo, depth_hi; /* depth colouring when depth_color.png is absent: 0 .. 20 m */
} doubt_inspect_opts;

doubt_inspect_opts doubt_inspect_defaults(void);

/* NAMEs of the predictions in dir, sorted bytewise. A missing or unreadable folder, or one
 * without any prediction file, is an error naming it. */
doubt_status doubt_inspect_list(const char *dir, char ***names, int *count, doubt_error *err);
void doubt_inspect_list_free(char **names, int count);
/* Sorts names (owned strings) and frees the repeats in place; returns how many remain. */
int doubt_inspect_sort_unique(char **names, int count);

/* Writes the panel of NAME to out (PNG) and, when thumb is not NULL, the overlay alone (the
 * input's size) to thumb. *mean_depth (may be NULL) gets the mean of NAME.depth.png's valid
 * pixels in metres (NaN when none). A missing or unreadable file is an error naming it. */
doubt_status doubt_inspect_panel(const char *dir, const char *name, const doubt_inspect_opts *o,
                                 const char *out, const char *thumb, double *mean_depth,
                                 doubt_error *err);

/* The input photo of NAME: images/NAME.{png,jpg,jpeg,bmp,tga} (also upper case) into path
 * (DOUBT_PATH_MAX bytes); an error naming the folder when there is none. */
doubt_status doubt_inspect_find_input(const char *images, const char *name, char *path,
                                      doubt_error *err);

#endif
