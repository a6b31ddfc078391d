/* A check of a JPEG's marker segments before stb_image sees them, for a bug of the
 * stb_image that Debian 12 ships (2.27): a DHT segment whose code counts add up to more
 * than 256 makes stbi__build_huffman and the table read write past their 256- and 257-byte
 * arrays, into the decoder's heap state (found by the fuzz campaign, bench/README.md).
 * The JPEG standard allows at most 256 codes per table, so such a file is corrupt anyway.
 *
 *     char why[96];
 *     if (!doubt_jpeg_tables_ok(bytes, size, why, sizeof why)) ... refuse, saying why ...
 *
 * Walks the marker segments the way stb_image reads them: junk bytes between segments are
 * skipped (stb_image resynchronises on the next FF), and so is the entropy-coded data of
 * each scan (where FF is followed by 00 or a restart marker), so the tables between the
 * scans of a progressive JPEG are checked too. A segment running past the end of the file
 * ends the walk: stb_image then fails on the file by itself.
 */
#ifndef DOUBT_IO_JPEG_GUARD_H
#define DOUBT_IO_JPEG_GUARD_H

#include <stddef.h>
#include <stdint.h>

int doubt_jpeg_tables_ok(const uint8_t *jpeg, size_t size, char *why, size_t why_cap);

#endif
