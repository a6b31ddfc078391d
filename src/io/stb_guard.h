/* Checks of a file's bytes before stb_image sees them, for faults of the stb_image that
 * Debian 12 ships (2.27), both found by the fuzz campaign (bench/README.md):
 * - JPEG: a DHT segment whose code counts add up to more than 256 makes stbi__build_huffman
 *   and the table read write past their 256- and 257-byte arrays, into the decoder's heap
 *   state. The JPEG standard allows at most 256 codes per table, so such a file is corrupt.
 * - PNG: stb_image grows its IDAT buffer to what a chunk header claims before it checks the
 *   bytes are there, so a 100-byte file can make it allocate 2 GB. Every chunk must fit in
 *   what is left of the file.
 *
 *     char why[160];
 *     if (!doubt_stb_guard(bytes, size, why, sizeof why)) ... refuse: "image X: %s", why ...
 *
 * JPEG: up to the first scan the marker segments are walked the way stb_image reads them
 * (junk between segments skipped, application segments skipped by their length); after that
 * every FF C4 in the file is checked, since valid scan data never holds one and damaged scan
 * data can make stb_image resynchronise anywhere. So the tables between the scans of a
 * progressive JPEG are checked too.
 */
#ifndef DOUBT_IO_STB_GUARD_H
#define DOUBT_IO_STB_GUARD_H

#include <stddef.h>
#include <stdint.h>

/* 1 when the bytes are safe to give stb_image (or are neither a JPEG nor a PNG to it); else
 * 0 and why ("JPEG file is corrupt: ...", "PNG file is truncated: ..."). */
int doubt_stb_guard(const uint8_t *bytes, size_t size, char *why, size_t why_cap);

/* Where a JPEG's data starts after its start-of-image marker (FF D8, after any number of
 * FF fill bytes, which stb_image accepts), or 0 when the bytes do not start that way. */
size_t doubt_jpeg_after_soi(const uint8_t *jpeg, size_t size);

#endif
