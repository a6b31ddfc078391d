/* Side-by-side panels: RGB tiles of any sizes scaled (nearest neighbour, aspect kept) to one
 * common height and laid out left to right on white, each under a title in the bitmap font.
 *
 *     doubt_panel_tile t[2] = {{rgb0, w0, h0, "Input"}, {rgb1, w1, h1, "Depth (m)"}};
 *     uint8_t *canvas; int w, h;
 *     st = doubt_panel_compose(t, 2, 0, &canvas, &w, &h, &err);   // 0: the tallest tile's height
 *     ... doubt_png_write_rgb8(path, canvas, w, h, NULL, 0, &err); free(canvas);
 *
 * Layout (all in pixels): a margin of DOUBT_PANEL_MARGIN around everything and between tiles;
 * above each tile a title strip DOUBT_PANEL_TITLE_H tall with the title drawn in black at
 * font scale 2 when every title fits its tile's width at that scale, else at scale 1 (a
 * title still too wide is cut with "..."), starting at the tile's left edge, DOUBT_PANEL_TITLE_PAD
 * below the strip's top. Tile i's image starts at x = MARGIN + the sum over earlier tiles of
 * (scaled width + MARGIN), y = MARGIN + TITLE_H. Pixels: interleaved RGB, row-major, top row first.
 */
#ifndef DOUBT_VIZ_PANEL_H
#define DOUBT_VIZ_PANEL_H

#include <stdint.h>

#include "core/status.h"

#define DOUBT_PANEL_MARGIN 8
#define DOUBT_PANEL_TITLE_H 22
#define DOUBT_PANEL_TITLE_PAD 3

typedef struct {
    const uint8_t *rgb;
    int width, height;
    const char *title; /* may be NULL */
} doubt_panel_tile;

/* height <= 0: the tallest tile's height. *rgb is the new canvas (caller frees). */
doubt_status doubt_panel_compose(const doubt_panel_tile *tiles, int n, int height, uint8_t **rgb,
                                 int *width, int *canvas_height, doubt_error *err);

/* The width tile of size w x h takes at common height `height`: round(w * height / h), >= 1. */
int doubt_panel_scaled_width(int w, int h, int height);

/* Nearest-neighbour resize of an RGB image to nw x nh (pixel centres aligned, as
 * align_corners=false); *out is new (caller frees). */
doubt_status doubt_panel_resize(const uint8_t *rgb, int w, int h, int nw, int nh, uint8_t **out,
                                doubt_error *err);

/* dst = round((1 - alpha) dst + alpha src) per channel, over n pixels. */
void doubt_panel_blend(uint8_t *dst, const uint8_t *src, int64_t n, float alpha);

#endif
