/* A built-in 5x7 bitmap font for colorbar ticks and panel labels: no font files, no
 * dependencies, legible at scale 1 on a 64-pixel colorbar.
 *
 *     int w = doubt_font_text_width("1.5e-3", 1);
 *     doubt_font_draw(rgb, width, height, x, y, "1.5e-3", 1, black);   // (x, y) = top-left
 *
 * Glyphs: digits, A-Z, a-z, space and . , - + : / ( ) _ = %; anything else is drawn as '?'.
 * Each glyph is 5x7 pixels on a 6-pixel advance, times scale. Drawing clips to the image.
 */
#ifndef DOUBT_VIZ_FONT_H
#define DOUBT_VIZ_FONT_H

#include <stdint.h>

#define DOUBT_FONT_W 5
#define DOUBT_FONT_H 7
#define DOUBT_FONT_ADVANCE 6

int doubt_font_text_width(const char *s, int scale);
/* Draws s into an interleaved RGB image of width x height with its top-left at (x, y). */
void doubt_font_draw(uint8_t *rgb, int width, int height, int x, int y, const char *s, int scale,
                     const uint8_t color[3]);

#endif
