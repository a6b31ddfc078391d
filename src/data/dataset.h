/* Dataset folders and shuffled, augmented mini-batches.
 *
 *     DIR/images/NAME.{png,jpg,jpeg}   the photos (any format image.h reads)
 *     DIR/labels/NAME.png              8-bit class ids, 255 = ignore        (optional folder)
 *     DIR/depth/NAME.png               16-bit, metres x depth_scale, 0 = invalid (optional)
 *     DIR/noise/NAME.npy               float32 [H, W] true depth-noise sigma (optional)
 *     DIR/labelnoise/NAME.png          8-bit, 255 x the probability that the label at that
 *                                      pixel differs from the true class (optional)
 *     DIR/dataset.json                 {"classes": 8 or [names], "depth_scale": 256,
 *                                       "no_depth_classes": [0], ...}
 *
 *     doubt_dataset *ds;
 *     doubt_dataset_opts o = {0};                      // classes/scale from dataset.json
 *     st = doubt_dataset_open("data/train", &o, &ds, &err);
 *     doubt_batch_opts bo = {.batch = 8, .crop_w = 128, .crop_h = 128, .flip = 1, .seed = 1};
 *     doubt_batcher *b;  st = doubt_batcher_create(ds, &bo, &b, &err);
 *     st = doubt_batcher_fill(b, step, image, labels, depth, NULL, &err);
 *     doubt_batcher_destroy(b);  doubt_dataset_destroy(ds);
 *
 * Open pairs files by NAME (sorted bytewise) and fails, naming the file, on anything that does
 * not pair: a folder that exists must hold a file for every image and no file without an
 * image. Dot files (e.g. temporaries of an interrupted writer) are ignored; any other file
 * with an unexpected extension is an error, so nothing is skipped silently. Pixel contents
 * (sizes, label range) are checked when a sample is loaded, or all at once by
 * doubt_dataset_validate.
 */
#ifndef DOUBT_DATA_DATASET_H
#define DOUBT_DATA_DATASET_H

#include <stdint.h>

#include "core/status.h"

typedef struct doubt_dataset doubt_dataset;

typedef struct {
    int classes;        /* > 0 overrides dataset.json; 0 = from dataset.json, else unchecked */
    float depth_scale;  /* > 0 overrides dataset.json; 0 = from dataset.json, else 256 */
    int64_t max_pixels; /* per image; 0 = DOUBT_IMAGE_MAX_PIXELS_DEFAULT */
} doubt_dataset_opts;

doubt_status doubt_dataset_open(const char *dir, const doubt_dataset_opts *opts,
                                doubt_dataset **out, doubt_error *err);
void doubt_dataset_destroy(doubt_dataset *ds);

int doubt_dataset_count(const doubt_dataset *ds);
const char *doubt_dataset_name(const doubt_dataset *ds, int i); /* NAME without extension */
const char *doubt_dataset_image_path(const doubt_dataset *ds, int i);
int doubt_dataset_has_labels(const doubt_dataset *ds);
int doubt_dataset_has_depth(const doubt_dataset *ds);
int doubt_dataset_has_noise(const doubt_dataset *ds);
int doubt_dataset_has_labelnoise(const doubt_dataset *ds);
int doubt_dataset_classes(const doubt_dataset *ds);       /* 0 if unknown */
/* The classes dataset.json says have no depth (sky), increasing; returns their count. */
int doubt_dataset_no_depth_classes(const doubt_dataset *ds, const uint8_t **classes);
float doubt_dataset_depth_scale(const doubt_dataset *ds);
/* Class names and palette from dataset.json (NULL when absent); index < classes. */
const char *doubt_dataset_class_name(const doubt_dataset *ds, int c);
const uint8_t (*doubt_dataset_palette(const doubt_dataset *ds))[3];

/* One sample at full size; absent parts are NULL. Release frees the buffers. */
typedef struct {
    int width, height;
    float *image;    /* [3, H, W] RGB in [0, 1] */
    uint8_t *labels; /* [H, W] */
    float *depth;    /* [H, W] metres, 0 = invalid */
    float *noise;    /* [H, W] */
    uint8_t *labelnoise; /* [H, W] */
} doubt_sample;

doubt_status doubt_dataset_load(const doubt_dataset *ds, int i, doubt_sample *s, doubt_error *err);
void doubt_sample_release(doubt_sample *s);
/* Loads every sample once: all sizes and label values checked; stops at the first error. */
doubt_status doubt_dataset_validate(const doubt_dataset *ds, doubt_error *err);

typedef struct {
    int batch;            /* rows per batch, >= 1 */
    int crop_w, crop_h;   /* 0, 0 = full images (then all must share one size) */
    int flip;             /* random horizontal flips */
    uint64_t seed;
} doubt_batch_opts;

typedef struct doubt_batcher doubt_batcher;

/* Keeps a borrowed pointer to ds: destroy the batcher first. */
doubt_status doubt_batcher_create(const doubt_dataset *ds, const doubt_batch_opts *o,
                                  doubt_batcher **out, doubt_error *err);
void doubt_batcher_destroy(doubt_batcher *b);
/* Crop size of the batches (the full-image size when no crop was asked for). */
void doubt_batcher_size(const doubt_batcher *b, int *width, int *height);
/* Fills batch `step` (a pure function of seed and step): row r is sample number
 * step*batch + r of an endless sequence of epochs, each a fresh shuffle of the dataset.
 * Buffers: image [B, 3, H, W], labels [B, H, W], depth [B, H, W], noise [B, H, W]; any may
 * be NULL. A buffer the dataset has no data for is filled with "unknown": labels 255,
 * depth 0, noise NaN. A random crop of an image smaller than the crop is an error. */
doubt_status doubt_batcher_fill(doubt_batcher *b, int64_t step, float *image, uint8_t *labels,
                                float *depth, float *noise, doubt_error *err);

#endif
