/* The PNG path: label maps (8-bit gray) and depth maps (16-bit gray) through the IHDR check
 * and stb_image's PNG decoder. Inputs get the PNG signature if they lack it, so the fuzzer
 * spends its time behind it. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "io/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t *png = malloc(size + 8);
    if (!png)
        return 0;
    size_t n = size;
    if (size >= 8 && !memcmp(data, sig, 8)) {
        memcpy(png, data, size);
    } else {
        memcpy(png, sig, 8);
        memcpy(png + 8, data, size);
        n += 8;
    }
    const char *path = fuzz_write("input.png", png, n);
    free(png);
    doubt_error err;
    uint8_t *labels = NULL;
    float *depth = NULL;
    int w, h;
    if (doubt_image_read_labels(path, 1 << 20, &labels, &w, &h, &err) == DOUBT_OK)
        free(labels);
    if (doubt_image_read_depth(path, 1 << 20, 256.0f, &depth, &w, &h, &err) == DOUBT_OK)
        free(depth);
    return 0;
}
