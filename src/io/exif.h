/* EXIF orientation of JPEG photos: phones store the sensor's pixels as they are and say in
 * the EXIF Orientation tag (TIFF tag 274) how to turn them for display.
 *
 *     int o = doubt_exif_orientation(bytes, size);       // 1..8; 1 = as stored
 *     uint8_t *upright = doubt_exif_reorient(pixels, w, h, channels, bytes_per_sample, o);
 *     ... o >= 5 swaps the width and the height ...
 *
 * Orientation o shows stored pixel (sx, sy) of a W x H image at (x, y) with:
 *   1 (x, y)   2 (W-1-x, y)   3 (W-1-x, H-1-y)   4 (x, H-1-y)
 *   5 (y, x)   6 (y, H-1-x)   7 (W-1-y, H-1-x)   8 (W-1-y, x)   (5..8: displayed W' = H).
 * The parser reads only what it needs (APP1 "Exif", IFD0) and checks every offset against
 * the file's size: anything it cannot read counts as orientation 1.
 */
#ifndef DOUBT_IO_EXIF_H
#define DOUBT_IO_EXIF_H

#include <stddef.h>
#include <stdint.h>

int doubt_exif_orientation(const uint8_t *jpeg, size_t size);

/* A new malloc'd buffer with the interleaved pixels as displayed (NULL when out of memory);
 * the input is not changed. */
uint8_t *doubt_exif_reorient(const uint8_t *pixels, int width, int height, int channels,
                             int bytes_per_sample, int orientation);

#endif
