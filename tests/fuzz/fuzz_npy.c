/* The .npy reader (io/npy.c): header dict parser, versions 1-3, shapes, data length. */
#include <stdlib.h>

#include "fuzz_input.h"
#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("input.npy", data, size);
    doubt_error err;
    float *values = NULL;
    int ndims;
    int64_t shape[4];
    if (doubt_npy_read_f32(path, &values, &ndims, shape, &err) == DOUBT_OK)
        free(values);
    return 0;
}
