/* PNG writers (libpng 1.6): 8-bit RGB and RGBA, 8-bit gray, 16-bit gray and 8-bit palette
 * images, each with optional tEXt chunks, each written atomically (see fsutil.h).
 *
 *     doubt_png_text t[] = {{"doubt.map", "depth"}};
 *     st = doubt_png_write_gray16("out/a.depth.png", depth16, w, h, t, 1, &err);
 *
 * Pixel layout: row-major, top row first; RGB interleaved (r, g, b per pixel); 16-bit values
 * in host order (byte-swapped to PNG's big-endian here). A palette image stores one index per
 * byte; every index must be < ncolors. Keys are 1..79 Latin-1 characters, as PNG requires.
 */
#ifndef DOUBT_IO_PNG_H
#define DOUBT_IO_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct {
    const char *key;
    const char *text;
} doubt_png_text;

doubt_status doubt_png_write_rgb8(const char *path, const uint8_t *rgb, int width, int height,
                                  const doubt_png_text *texts, int ntexts, doubt_error *err);
/* RGBA interleaved, alpha not premultiplied (overlays with transparent pixels). */
doubt_status doubt_png_write_rgba8(const char *path, const uint8_t *rgba, int width, int height,
                                   const doubt_png_text *texts, int ntexts, doubt_error *err);
doubt_status doubt_png_write_gray8(const char *path, const uint8_t *v, int width, int height,
                                   const doubt_png_text *texts, int ntexts, doubt_error *err);
doubt_status doubt_png_write_gray16(const char *path, const uint16_t *v, int width, int height,
                                    const doubt_png_text *texts, int ntexts, doubt_error *err);
doubt_status doubt_png_write_palette(const char *path, const uint8_t *index, int width, int height,
                                     const uint8_t (*palette)[3], int ncolors,
                                     const doubt_png_text *texts, int ntexts, doubt_error *err);

/* Reading back (png_read.c). The 8-bit indices of a palette PNG (or the values of an 8-bit
 * gray one) as stored, which stb_image would expand to RGB: *index is new [h, w] (caller
 * frees). Other colour types, bit depths and interlaced files are errors naming the file. */
doubt_status doubt_png_read_index8(const char *path, uint8_t **index, int *width, int *height,
                                   doubt_error *err);
/* The tEXt chunk `key` written before the image data (as the writers above do) into text
 * (truncated to size - 1); *found = 0 and text "" when the file has none. */
doubt_status doubt_png_read_text(const char *path, const char *key, char *text, size_t size,
                                 int *found, doubt_error *err);

#endif
