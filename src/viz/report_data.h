/* The float maps of one prediction as small scripts the HTML report loads when they are needed
 * (a page opened from file:// cannot fetch() local files, but it can add a <script>): one per
 * tile of at most DOUBT_REPORT_TILE x DOUBT_REPORT_TILE pixels, so the read-out of a large
 * photo loads only the tile under the pointer.
 *
 *     doubt_report_plane p[2] = {{"cls", DOUBT_REPORT_U8, cls, NULL},
 *                                {"depth_mean", DOUBT_REPORT_F16, NULL, depth}};
 *     doubt_report_rect r = {256, 0, 44, 12};                  // tile 1 of a 300 x 12 image
 *     st = doubt_report_data_write("r/data/0/7_1.js", 0, "scene_7", 1, 300, r, p, 2, &err);
 *
 * File: one line `doubtData(SIDE,"NAME",TILE,{"x":X,"y":Y,"w":W,"h":H,"maps":{"KEY":"BASE64",
 * ...}});` where each value is the plane's pixels inside the rectangle, row-major, top row
 * first, base64 (RFC 4648, padded): DOUBT_REPORT_U8 one byte per pixel, DOUBT_REPORT_F16
 * IEEE 754 binary16 per pixel, little endian, rounded to nearest even from the float32 map
 * (NaN stays NaN, |v| >= 65520 becomes infinite). The binary16 read-out is within 2^-11 of |v|
 * relative for |v| >= 2^-14 and within 2^-25 absolute below that. Tiles are numbered row by
 * row: tile t covers x from (t mod ceil(width / TILE)) * TILE.
 */
#ifndef DOUBT_VIZ_REPORT_DATA_H
#define DOUBT_VIZ_REPORT_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define DOUBT_REPORT_TILE 256

typedef enum { DOUBT_REPORT_U8, DOUBT_REPORT_F16 } doubt_report_type;

typedef struct {
    const char *key;         /* a JSON-safe identifier, e.g. "depth_epistemic" */
    doubt_report_type type;
    const uint8_t *u8;       /* DOUBT_REPORT_U8 */
    const float *f32;        /* DOUBT_REPORT_F16: converted here */
} doubt_report_plane;

/* IEEE 754 binary16 nearest to f (ties to even); NaN -> a quiet NaN, overflow -> infinity. */
uint16_t doubt_f32_to_f16(float f);

/* Base64 (RFC 4648, with '=' padding) of n bytes into out, which holds 4 * ceil(n / 3) + 1
 * bytes; NUL-terminated. Returns the length written. */
size_t doubt_base64_encode(const uint8_t *in, size_t n, char *out);

typedef struct {
    int x, y, w, h;
} doubt_report_rect;

/* planes hold whole images `width` pixels wide; the part inside r is written. */
doubt_status doubt_report_data_write(const char *path, int side, const char *name, int tile,
                                     int width, doubt_report_rect r,
                                     const doubt_report_plane *planes, int nplanes,
                                     doubt_error *err);

#endif
