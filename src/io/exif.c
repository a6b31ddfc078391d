#include "exif.h"

#include <stdlib.h>
#include <string.h>

static unsigned get16(const uint8_t *p, int big_endian)
{
    return big_endian ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t get32(const uint8_t *p, int big_endian)
{
    return big_endian ? (uint32_t)get16(p, 1) << 16 | get16(p + 2, 1)
                      : (uint32_t)get16(p + 2, 0) << 16 | get16(p, 0);
}

/* Orientation from a TIFF structure (the body of an Exif APP1 after "Exif\0\0"). */
static int tiff_orientation(const uint8_t *t, size_t n)
{
    if (n < 8)
        return 1;
    int big_endian;
    if (!memcmp(t, "MM", 2))
        big_endian = 1;
    else if (!memcmp(t, "II", 2))
        big_endian = 0;
    else
        return 1;
    if (get16(t + 2, big_endian) != 42)
        return 1;
    const uint32_t ifd = get32(t + 4, big_endian);
    if (ifd > n || n - ifd < 2)
        return 1;
    const unsigned entries = get16(t + ifd, big_endian);
    for (unsigned i = 0; i < entries; i++) {
        const size_t at = ifd + 2 + (size_t)i * 12;
        if (at + 12 > n)
            return 1;
        const uint8_t *e = t + at;
        /* tag 274, type SHORT, one value, stored in the first two bytes of the value field */
        if (get16(e, big_endian) == 0x0112 && get16(e + 2, big_endian) == 3 &&
            get32(e + 4, big_endian) == 1) {
            const unsigned o = get16(e + 8, big_endian);
            return o >= 1 && o <= 8 ? (int)o : 1;
        }
    }
    return 1;
}

int doubt_exif_orientation(const uint8_t *jpeg, size_t size)
{
    if (!jpeg || size < 4 || jpeg[0] != 0xff || jpeg[1] != 0xd8)
        return 1;
    /* the markers before the image data, each FF xx with a 2-byte big-endian length */
    size_t at = 2;
    while (at + 4 <= size && jpeg[at] == 0xff) {
        const uint8_t marker = jpeg[at + 1];
        if (marker == 0xd9 || marker == 0xda) /* end of image, start of scan */
            break;
        const size_t len = (size_t)jpeg[at + 2] << 8 | jpeg[at + 3];
        if (len < 2 || len > size - at - 2)
            break;
        const uint8_t *body = jpeg + at + 4;
        if (marker == 0xe1 && len >= 8 && !memcmp(body, "Exif\0\0", 6))
            return tiff_orientation(body + 6, len - 8);
        at += 2 + len;
    }
    return 1;
}

uint8_t *doubt_exif_reorient(const uint8_t *pixels, int width, int height, int channels,
                             int bytes_per_sample, int orientation)
{
    const size_t px = (size_t)channels * (size_t)bytes_per_sample;
    uint8_t *out = malloc((size_t)width * (size_t)height * px);
    if (!out)
        return NULL;
    const int turned = orientation >= 5;
    const int ow = turned ? height : width, oh = turned ? width : height;
    const int W = width, H = height;
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            int sx, sy;
            switch (orientation) {
            case 2: sx = W - 1 - x, sy = y; break;
            case 3: sx = W - 1 - x, sy = H - 1 - y; break;
            case 4: sx = x, sy = H - 1 - y; break;
            case 5: sx = y, sy = x; break;
            case 6: sx = y, sy = H - 1 - x; break;
            case 7: sx = W - 1 - y, sy = H - 1 - x; break;
            case 8: sx = W - 1 - y, sy = x; break;
            default: sx = x, sy = y;
            }
            memcpy(out + ((size_t)y * ow + x) * px, pixels + ((size_t)sy * W + sx) * px, px);
        }
    return out;
}
