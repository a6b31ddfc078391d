/* Heatmaps: a float map coloured on a FIXED range, with the range burned in as a colorbar
 * and recorded in tEXt chunks. Never normalised per image: a confident image must look cold
 * next to a doubtful one.
 *
 *     doubt_heatmap_opts o = doubt_heatmap_defaults();   // inferno, mid-grey invalid
 *     o.lo = 0; o.hi = 0.5f; o.map_name = "depth_epistemic"; o.units = "m2";
 *     st = doubt_heatmap_write("out/a.depth_epistemic.png", var, NULL, w, h, &o, &err);
 *
 * Pixels are invalid when the value is NaN or valid[i] == 0 (valid may be NULL) and get
 * o.invalid. Values outside [lo, hi] are clamped to the end colours. With log_scale the
 * colour is linear in log10(v) from log10(lo) to log10(hi) (lo > 0; v <= lo gets the bottom
 * colour), for maps whose values span decades. Canvas: the map at the top-left, then to its
 * right a vertical colorbar (hi at the top, lo at the bottom) with tick marks and 3 or 5
 * labels in the built-in font (evenly spaced in log10 with log_scale), on a white
 * background; with invalid_label, a swatch of the invalid colour and that label under the
 * bar, so a reader knows what the grey pixels mean. The canvas is at least 64 pixels tall
 * (80 with invalid_label) so the colorbar of a tiny map stays legible.
 * tEXt: "doubt.range" = "lo:hi" (shortest decimals that read back as the same floats),
 * "doubt.scale" ("linear" or "log10"), "doubt.colormap", "doubt.invalid_rgb", "doubt.map",
 * "doubt.units", "doubt.invalid_label" (when set), "Software", plus any extra texts from the
 * options.
 */
#ifndef DOUBT_VIZ_HEATMAP_H
#define DOUBT_VIZ_HEATMAP_H

#include <stdint.h>

#include "colormap.h"
#include "core/status.h"
#include "io/png.h"

typedef struct {
    float lo, hi;          /* the fixed range; lo < hi, both finite (lo > 0 with log_scale) */
    int log_scale;         /* 1: colour by log10 of the value */
    doubt_colormap cmap;
    uint8_t invalid[3];    /* colour of NaN / masked pixels */
    const char *invalid_label; /* what invalid pixels are, e.g. "no depth" (may be NULL) */
    const char *map_name;  /* what the map is, e.g. "seg_mutual_info" (may be NULL) */
    const char *units;     /* drawn above the colorbar and recorded (may be NULL) */
    const doubt_png_text *texts; /* extra tEXt chunks (e.g. weights hash), may be NULL */
    int ntexts;
} doubt_heatmap_opts;

/* Where render put things, so tests and panel layouts can find them. */
typedef struct {
    int width, height;      /* canvas */
    int map_x, map_y;       /* top-left of the map */
    int bar_x, bar_w;       /* colorbar columns [bar_x, bar_x + bar_w) */
    int bar_top, bar_bottom; /* rows of hi (colormap[255]) and lo (colormap[0]), inclusive */
    int nticks;
    int swatch_y, swatch_h; /* rows of the invalid-colour swatch at bar_x (0 high: none) */
} doubt_heatmap_layout;

doubt_heatmap_opts doubt_heatmap_defaults(void);

/* Renders into a new interleaved RGB canvas (*rgb, caller frees). layout may be NULL. */
doubt_status doubt_heatmap_render(const float *v, const uint8_t *valid, int width, int height,
                                  const doubt_heatmap_opts *o, uint8_t **rgb,
                                  doubt_heatmap_layout *layout, doubt_error *err);
/* Renders and writes an RGB PNG atomically. */
doubt_status doubt_heatmap_write(const char *path, const float *v, const uint8_t *valid,
                                 int width, int height, const doubt_heatmap_opts *o,
                                 doubt_error *err);
/* Colours only the map (no colorbar) into rgb [height, width, 3], for overlays and panels. */
void doubt_heatmap_colorize(const float *v, const uint8_t *valid, int64_t n,
                            const doubt_heatmap_opts *o, uint8_t *rgb);
/* Compact tick label: %.3g with the exponent's '+' and leading zeros dropped ("1e-5"). */
void doubt_heatmap_format_tick(double v, char *buf, int size);

#endif
