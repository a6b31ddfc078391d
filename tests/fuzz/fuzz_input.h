/* Shared by the libFuzzer harnesses: doubt's readers take paths, so each input is written
 * to one private temporary file (or into one private folder), which the reader then opens.
 * The file lives in $TMPDIR (default /tmp) and is removed at exit. */
#ifndef DOUBT_FUZZ_INPUT_H
#define DOUBT_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

/* A private folder, made on the first call; returns its path. */
const char *fuzz_dir(void);
/* Writes the bytes to NAME inside fuzz_dir() and returns the full path. */
const char *fuzz_write(const char *name, const uint8_t *data, size_t size);

#endif
