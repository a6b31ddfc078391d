/* The image reader (io/image.c, io/exif.c): any bytes, as photo, as 8-bit RGB and as probe. */
#include <stdlib.h>

#include "fuzz_input.h"
#include "io/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("input.img", data, size);
    doubt_error err;
    doubt_image_info info;
    doubt_image_probe(path, &info, &err);
    float *chw = NULL;
    uint8_t *rgb = NULL;
    int w, h;
    /* a small pixel limit keeps a header claiming a huge image from costing time */
    if (doubt_image_read(path, 1 << 20, &chw, &w, &h, &err) == DOUBT_OK)
        free(chw);
    if (doubt_image_read_rgb8(path, 1 << 20, &rgb, &w, &h, &err) == DOUBT_OK)
        free(rgb);
    return 0;
}
