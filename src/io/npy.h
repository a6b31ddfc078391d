/* NumPy .npy files of float32 ('<f4', C order), format v1.0 as written by numpy.save.
 *
 *     int64_t shape[2] = {h, w};
 *     st = doubt_npy_write_f32("out/a.depth.npy", map, 2, shape, &err);
 *     float *d; int nd; int64_t sh[4];
 *     st = doubt_npy_read_f32("out/a.depth.npy", &d, &nd, sh, &err);  ... free(d);
 *
 * Layout (NumPy's format spec): "\x93NUMPY", version 1.0, little-endian uint16 header length,
 * a Python dict literal padded with spaces and a final '\n' so the data starts at a multiple of
 * 64 bytes, then the raw little-endian floats. Up to 4 dimensions; 0 dimensions is a scalar.
 * The reader also accepts versions 2.0 and 3.0 (4-byte header length) but only '<f4' C order.
 */
#ifndef DOUBT_IO_NPY_H
#define DOUBT_IO_NPY_H

#include <stdint.h>

#include "core/status.h"

#define DOUBT_NPY_MAX_DIMS 4

doubt_status doubt_npy_write_f32(const char *path, const float *data, int ndims,
                                 const int64_t *shape, doubt_error *err);
/* Allocates *data (caller frees with free()); unused entries of shape are set to 1. */
doubt_status doubt_npy_read_f32(const char *path, float **data, int *ndims, int64_t shape[4],
                                doubt_error *err);

#endif
