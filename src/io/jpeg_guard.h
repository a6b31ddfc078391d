/* A check of a JPEG's marker segments before stb_image sees them, for a bug of the
 * stb_image that Debian 12 ships (2.27): a DHT segment whose code counts add up to more
 * than 256 makes stbi__build_huffman and the table read write past their 256- and 257-byte
 * arrays, into the decoder's heap state (found by the fuzz campaign, bench/README.md).
 * The JPEG standard allows at most 256 codes per table, so such a file is corrupt anyway.
 *
 *     char why[96];
 *     if (!doubt_jpeg_tables_ok(bytes, size, why, sizeof why)) ... refuse, saying why ...
 *
 * Up to the first scan it walks the marker segments the way stb_image reads them (junk
 * between segments skipped, application segments skipped by their length); after that it
 * checks every FF C4 in the file, since valid scan data never holds one and damaged scan
 * data can make stb_image resynchronise anywhere. So the tables between the scans of a
 * progressive JPEG are checked too.
 */
#ifndef DOUBT_IO_JPEG_GUARD_H
#define DOUBT_IO_JPEG_GUARD_H

#include <stddef.h>
#include <stdint.h>

/* 1 when the bytes are fine for stb_image, or are no JPEG to it; else 0 and why. */
int doubt_jpeg_tables_ok(const uint8_t *jpeg, size_t size, char *why, size_t why_cap);

/* Where a JPEG's data starts after its start-of-image marker (FF D8, after any number of
 * FF fill bytes, which stb_image accepts), or 0 when the bytes do not start that way. */
size_t doubt_jpeg_after_soi(const uint8_t *jpeg, size_t size);

#endif
