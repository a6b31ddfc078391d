#include "stb_guard.h"

#include <string.h>

#include <stdio.h>

/* The Huffman tables of one DHT segment, read as stb_image reads them: a class/id byte,
 * 16 code counts, then that many symbol values, until the segment's length is used up. */
static int dht_ok(const uint8_t *jpeg, size_t size, size_t body, long length, char *why,
                  size_t why_cap)
{
    size_t at = body;
    while (length > 0 && at < size) {
        /* past the end of the file stb_image reads zeros: a table cut short still counts */
        int codes = 0;
        for (size_t i = 1; i <= 16 && at + i < size; i++)
            codes += jpeg[at + i];
        if (codes > 256) {
            snprintf(why, why_cap,
                     "JPEG file is corrupt: a Huffman table (DHT at byte %zu) has %d codes, "
                     "at most 256",
                     at, codes);
            return 0;
        }
        at += 17 + (size_t)codes;
        length -= 17 + codes;
    }
    return 1;
}

size_t doubt_jpeg_after_soi(const uint8_t *jpeg, size_t size)
{
    size_t at = 0;
    while (at < size && jpeg[at] == 0xff)
        at++;
    return at > 0 && at < size && jpeg[at] == 0xd8 ? at + 1 : 0;
}

static int jpeg_tables_ok(const uint8_t *jpeg, size_t size, char *why, size_t why_cap)
{
    size_t at = doubt_jpeg_after_soi(jpeg, size);
    if (!at)
        return 1; /* stb_image does not read it as a JPEG */
    /* up to the first scan: segment by segment, as stb_image reads the header */
    while (at + 2 <= size) {
        if (jpeg[at] != 0xff) { /* junk between segments: stb_image skips it, so must we */
            at++;
            continue;
        }
        const uint8_t marker = jpeg[at + 1];
        if (marker == 0xff) { /* fill byte */
            at++;
            continue;
        }
        if (marker == 0xd9)
            return 1;
        if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) { /* no length */
            at += 2;
            continue;
        }
        if (at + 4 > size)
            return 1;
        const size_t length = (size_t)jpeg[at + 2] << 8 | jpeg[at + 3];
        if (length < 2)
            return 1;
        if (marker == 0xc4 && !dht_ok(jpeg, size, at + 4, (long)length - 2, why, why_cap))
            return 0;
        at += 2 + length;
        if (marker == 0xda)
            break;
    }
    /* from there on stb_image's view depends on how its entropy decoder resynchronises on
     * damaged data; in valid scan data FF is followed by 00 or a restart marker, so every
     * FF C4 left is a table it may read: check them all */
    for (; at + 4 <= size; at++)
        if (jpeg[at] == 0xff && jpeg[at + 1] == 0xc4) {
            const long length = (long)jpeg[at + 2] << 8 | jpeg[at + 3];
            if (!dht_ok(jpeg, size, at + 4, length - 2, why, why_cap))
                return 0;
        }
    return 1;
}

/* Every chunk (4-byte length, type, data, CRC) within the file, up to IEND. */
static int png_chunks_fit(const uint8_t *png, size_t size, char *why, size_t why_cap)
{
    size_t at = 8;
    while (at + 8 <= size) {
        const uint32_t length = (uint32_t)png[at] << 24 | (uint32_t)png[at + 1] << 16 |
                                (uint32_t)png[at + 2] << 8 | png[at + 3];
        const size_t left = size - at - 8;
        if (length > left) {
            snprintf(why, why_cap,
                     "PNG file is truncated: its %.4s chunk at byte %zu claims %lu bytes, "
                     "%zu are left",
                     (const char *)png + at + 4, at, (unsigned long)length, left);
            return 0;
        }
        if (!memcmp(png + at + 4, "IEND", 4))
            return 1;
        at += 12 + (size_t)length;
    }
    return 1;
}

int doubt_stb_guard(const uint8_t *bytes, size_t size, char *why, size_t why_cap)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size >= 8 && !memcmp(bytes, png_sig, 8))
        return png_chunks_fit(bytes, size, why, why_cap);
    return jpeg_tables_ok(bytes, size, why, why_cap);
}
