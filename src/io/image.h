/* Image reading with stb_image: photos as network input, label maps and depth maps.
 *
 *     float *chw; int w, h;
 *     st = doubt_image_read("in/a.jpg", 0, &chw, &w, &h, &err);   // 0 = default pixel limit
 *     ... chw[(c * h + y) * w + x], c = 0 (R), 1 (G), 2 (B), each in [0, 1] ... free(chw);
 *
 * Formats: PNG, JPEG, BMP, TGA (anything stb_image decodes). Gray, gray+alpha, RGB, RGBA,
 * 8 or 16 bits. Conversion to the network's input: value/255 (16-bit: value/65535), gray
 * replicated to three channels, alpha dropped. The header is read first and an image of
 * more than max_pixels pixels is refused before any pixel memory is allocated, so a small
 * file claiming 100000x100000 cannot exhaust memory. A JPEG's EXIF orientation is applied
 * (exif.h): pixels, width and height are those of the upright photo, in the probe too.
 * A file that does not decode is described by the format its first bytes claim and what is
 * wrong ("JPEG file is truncated", "TIFF file, a format doubt does not read"). Files that
 * would trip known faults of Debian's stb_image 2.27 (a JPEG Huffman table of more than 256
 * codes, a PNG chunk longer than the file) are refused before it sees them (stb_guard.h).
 *
 * Label maps must be 8-bit single-channel PNGs (class ids); depth maps 16-bit single-channel
 * PNGs holding metres x depth_scale (KITTI: 256), 0 meaning no measurement (read as 0.0f).
 * Every error message names the file and the reason.
 */
#ifndef DOUBT_IO_IMAGE_H
#define DOUBT_IO_IMAGE_H

#include <stdint.h>

#include "core/status.h"

#define DOUBT_IMAGE_MAX_PIXELS_DEFAULT ((int64_t)64 * 1024 * 1024)
#define DOUBT_DEPTH_SCALE_DEFAULT 256.0f

/* What the header says, without decoding pixels. channels as stored (1..4), bits 8 or 16. */
typedef struct {
    int width, height, channels, bits;
    int is_png;
    int png_color_type; /* PNG IHDR colour type (0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA) */
    int png_bit_depth;  /* PNG IHDR bit depth */
    int orientation;    /* EXIF orientation 1..8 (1: as stored, and for non-JPEG files) */
} doubt_image_info;

/* max_pixels <= 0 selects DOUBT_IMAGE_MAX_PIXELS_DEFAULT in all readers below. */
doubt_status doubt_image_probe(const char *path, doubt_image_info *info, doubt_error *err);

/* Planar float RGB [3, h, w] in [0, 1]; caller frees *chw. */
doubt_status doubt_image_read(const char *path, int64_t max_pixels, float **chw, int *width,
                              int *height, doubt_error *err);
/* Interleaved 8-bit RGB [h, w, 3] (16-bit rounded to 8), for overlays; caller frees *rgb. */
doubt_status doubt_image_read_rgb8(const char *path, int64_t max_pixels, uint8_t **rgb, int *width,
                                   int *height, doubt_error *err);
/* Class ids [h, w]; caller frees *labels. */
doubt_status doubt_image_read_labels(const char *path, int64_t max_pixels, uint8_t **labels,
                                     int *width, int *height, doubt_error *err);
/* Depth in metres [h, w] = value / depth_scale, 0 = invalid; caller frees *depth. */
doubt_status doubt_image_read_depth(const char *path, int64_t max_pixels, float depth_scale,
                                    float **depth, int *width, int *height, doubt_error *err);

#endif
