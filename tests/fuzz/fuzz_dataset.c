/* The dataset reader (data/dataset.c): the input is DIR/dataset.json of a folder whose one
 * sample (images/a.png, labels/a.png, depth/a.png, 8 x 8) is written once; the folder is
 * opened, validated and drawn batches from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/dataset.h"
#include "fuzz_input.h"
#include "io/png.h"

static void write_sample(void)
{
    char path[512];
    const char *dir = fuzz_dir();
    const char *sub[] = {"images", "labels", "depth"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, sub[i]);
        mkdir(path, 0700);
    }
    uint8_t rgb[8 * 8 * 3], labels[8 * 8];
    uint16_t depth[8 * 8];
    for (int p = 0; p < 64; p++) {
        rgb[3 * p] = (uint8_t)(p * 4), rgb[3 * p + 1] = (uint8_t)(255 - p), rgb[3 * p + 2] = 99;
        labels[p] = (uint8_t)(p % 3 == 2 ? 255 : p % 3);
        depth[p] = (uint16_t)(p * 300);
    }
    doubt_error err;
    snprintf(path, sizeof path, "%s/images/a.png", dir);
    if (doubt_png_write_rgb8(path, rgb, 8, 8, NULL, 0, &err))
        abort();
    snprintf(path, sizeof path, "%s/labels/a.png", dir);
    if (doubt_png_write_gray8(path, labels, 8, 8, NULL, 0, &err))
        abort();
    snprintf(path, sizeof path, "%s/depth/a.png", dir);
    if (doubt_png_write_gray16(path, depth, 8, 8, NULL, 0, &err))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        write_sample();
        ready = 1;
    }
    fuzz_write("dataset.json", data, size);
    doubt_error err;
    doubt_dataset *ds = NULL;
    const doubt_dataset_opts opts = {0};
    if (doubt_dataset_open(fuzz_dir(), &opts, &ds, &err) != DOUBT_OK)
        return 0;
    if (doubt_dataset_validate(ds, &err) == DOUBT_OK) {
        const doubt_batch_opts bo = {.batch = 2, .crop_w = 4, .crop_h = 4, .flip = 1, .seed = 3};
        doubt_batcher *b = NULL;
        float image[2 * 3 * 16], depth[2 * 16];
        uint8_t labels[2 * 16];
        if (doubt_batcher_create(ds, &bo, &b, &err) == DOUBT_OK) {
            for (int64_t step = 0; step < 2; step++)
                doubt_batcher_fill(b, step, image, labels, depth, NULL, &err);
            doubt_batcher_destroy(b);
        }
    }
    for (int c = 0; c < doubt_dataset_classes(ds) && c < 300; c++)
        doubt_dataset_class_name(ds, c);
    doubt_dataset_destroy(ds);
    return 0;
}
