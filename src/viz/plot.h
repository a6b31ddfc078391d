/* A tiny raster plotting module for `doubt eval --plots`: one RGB8 canvas with a frame, ticks,
 * tick labels, axis labels, a title, line series, bars and a legend, drawn with the 5x7 font
 * of font.h and saved with doubt_png_write_rgb8.
 *
 *     doubt_plot_desc d = doubt_plot_defaults();           // 640x480, ranges [0,1] x [0,1]
 *     d.title = "Sparsification"; d.xlabel = "Fraction removed"; d.ylabel = "RMSE";
 *     doubt_plot *p;
 *     st = doubt_plot_create(&d, &p, &err);
 *     doubt_plot_line(p, x, y, n, doubt_plot_style_of(DOUBT_PLOT_BLUE), "Model");
 *     st = doubt_plot_save(p, "out/sparsification.png", &err);
 *     doubt_plot_destroy(p);
 *
 * Immediate mode: the frame and grid are drawn at create, each series as it is added (clipped
 * to the plot area), the legend and the frame on top when the plot is rendered or saved.
 * Text is drawn in capitals (the font has no lowercase); the tick labels keep a lowercase 'e'
 * for exponents. Pixels: row-major, top row first, r g b interleaved.
 *
 * Layout at scale s = max(1, min(width / 320, height / 240)) (2 at 640x480): the plot area
 * starts at x = 50 s, y = 26 s and ends 15 s from the right and 36 s from the bottom edge.
 */
#ifndef DOUBT_VIZ_PLOT_H
#define DOUBT_VIZ_PLOT_H

#include <stdint.h>

#include "core/status.h"
#include "metrics/metrics.h"
#include "metrics/uq.h"

typedef enum { DOUBT_PLOT_LEGEND_TOP_LEFT, DOUBT_PLOT_LEGEND_TOP_RIGHT } doubt_plot_legend_pos;

typedef struct {
    int width, height; /* at least 160 x 120 */
    double x0, x1;     /* data range shown, x0 < x1 */
    double y0, y1;     /* y0 < y1 */
    const char *title; /* each may be NULL */
    const char *xlabel;
    const char *ylabel;
    doubt_plot_legend_pos legend;
} doubt_plot_desc;

typedef enum {
    DOUBT_PLOT_BLUE,
    DOUBT_PLOT_ORANGE,
    DOUBT_PLOT_GREEN,
    DOUBT_PLOT_RED,
    DOUBT_PLOT_GRAY
} doubt_plot_color;

typedef struct {
    uint8_t color[3];
    int thickness; /* pixels, before scaling */
    int dashed;    /* 1: dashes */
    int markers;   /* 1: a dot at each point */
} doubt_plot_style;

doubt_plot_desc doubt_plot_defaults(void);
doubt_plot_style doubt_plot_style_of(doubt_plot_color c); /* solid, thickness 1, no markers */

typedef struct doubt_plot doubt_plot;

doubt_status doubt_plot_create(const doubt_plot_desc *desc, doubt_plot **out, doubt_error *err);
void doubt_plot_destroy(doubt_plot *p);

/* A polyline through (x[i], y[i]); a NaN coordinate breaks it. label NULL: no legend entry. */
void doubt_plot_line(doubt_plot *p, const double *x, const double *y, int n, doubt_plot_style style,
                     const char *label);
/* Bars from the bottom of the range (or 0, when 0 is inside it) up to y[i], spanning
 * [x_lo[i], x_hi[i]]; NaN heights are skipped. */
void doubt_plot_bars(doubt_plot *p, const double *x_lo, const double *x_hi, const double *y, int n,
                     const uint8_t fill[3], const char *label);
/* A legend line of text without a swatch (for a figure such as "ECE 0.034"). */
void doubt_plot_note(doubt_plot *p, const char *text);

/* Draws the legend and frame (once) and returns the canvas. */
const uint8_t *doubt_plot_render(doubt_plot *p, int *width, int *height);
/* The plot area in pixels: the frame runs along x = *x, x + *w - 1 and y = *y, y + *h - 1. */
void doubt_plot_area(const doubt_plot *p, int *x, int *y, int *w, int *h);
/* Renders and writes a PNG (atomically). */
doubt_status doubt_plot_save(doubt_plot *p, const char *path, doubt_error *err);

/* ---- the figures of `doubt eval --plots` (640x480 each) ---------------------------------- */

/* Accuracy per confidence bin as bars (empty bins left out), the bins' mean confidence as
 * dots, and the diagonal of perfect calibration; the ECE in the legend. */
doubt_status doubt_plot_reliability(const char *path, const doubt_seg_result *r, const char *title,
                                    doubt_error *err);

/* The model and oracle curves of one metric (normalised, as computed), AUSE in the legend. */
doubt_status doubt_plot_sparsification(const char *path, const doubt_sparsification *sp,
                                       const char *metric, const char *title, doubt_error *err);

/* Mean error per uncertainty bin: the n pixels sorted by uncertainty, cut into 20 bins of equal
 * count (robust to the long tail uncertainties have), each drawn at (mean uncertainty, mean
 * error); the overall mean error as a dashed line. */
#define DOUBT_PLOT_UE_BINS 20
doubt_status doubt_plot_uncertainty_error(const char *path, const float *uncertainty,
                                          const float *e, int64_t n, const char *xlabel,
                                          const char *ylabel, const char *title, doubt_error *err);

#endif
