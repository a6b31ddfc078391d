#include "image.h"

#include "exif.h"
#include "stb_guard.h"

#include <errno.h>
#include <limits.h>
#include <stb_image.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Whole encoded file in memory: one read, then header probe and decode from the same bytes,
 * so the file cannot change between the size check and the decode. */
typedef struct {
    uint8_t *bytes;
    int size;
} file_bytes;

static doubt_status slurp(const char *path, file_bytes *fb, doubt_error *err)
{
    fb->bytes = NULL;
    fb->size = 0;
    if (!path)
        return doubt_fail(err, DOUBT_ERR_ARG, "image read: no path");
    FILE *f = fopen(path, "rb");
    if (!f)
        return doubt_fail(err, DOUBT_ERR_IO, "image %s: %s", path, strerror(errno));
    doubt_status st = DOUBT_OK;
    /* fopen succeeds on a folder; only a regular file has a size worth trusting */
    struct stat sb;
    int regular = fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode);
    long size = regular && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (!regular) {
        st = doubt_fail(err, DOUBT_ERR_IO, "image %s: not a regular file", path);
    } else if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = doubt_fail(err, DOUBT_ERR_IO, "image %s: cannot read: %s", path, strerror(errno));
    } else if (size == 0) {
        st = doubt_fail(err, DOUBT_ERR_FORMAT, "image %s: file is empty", path);
    } else if (size > INT_MAX) {
        /* stb_image takes an int length */
        st = doubt_fail(err, DOUBT_ERR_FORMAT, "image %s: file of %ld bytes is too large", path,
                        size);
    } else if (!(fb->bytes = malloc((size_t)size))) {
        st = doubt_fail(err, DOUBT_ERR_NOMEM, "image %s: out of memory for %ld bytes", path, size);
    } else if (fread(fb->bytes, 1, (size_t)size, f) != (size_t)size) {
        st = doubt_fail(err, DOUBT_ERR_IO, "image %s: read failed", path);
        free(fb->bytes);
        fb->bytes = NULL;
    } else {
        fb->size = (int)size;
    }
    fclose(f);
    return st;
}

/* The format the file's first bytes claim, whatever stb_image later makes of it. */
static const char *claimed_format(const file_bytes *fb)
{
    static const struct {
        const char *name;
        const char *magic;
        size_t len;
    } magics[] = {
        {"PNG", "\x89PNG\r\n\x1a\n", 8}, {"GIF", "GIF8", 4},      {"BMP", "BM", 2},
        {"TIFF", "II*\0", 4},             {"TIFF", "MM\0*", 4},     {"WebP", "RIFF", 4},
    };
    if (doubt_jpeg_after_soi(fb->bytes, (size_t)fb->size)) /* as stb_image finds one */
        return "JPEG";
    for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++)
        if ((size_t)fb->size >= magics[i].len &&
            !memcmp(fb->bytes, magics[i].magic, magics[i].len))
            return magics[i].name;
    return NULL;
}

/* Why the bytes do not decode, in terms of the format they claim: stb_image tries every
 * decoder in turn, so its own reason may come from one the file never claimed to be (a
 * truncated JPEG reported "bad png sig"). */
static doubt_status decode_failure(const char *path, const file_bytes *fb, const char *stage,
                                   doubt_error *err)
{
    const char *format = claimed_format(fb);
    const uint8_t *end = fb->bytes + fb->size;
    if (!format)
        return doubt_fail(err, DOUBT_ERR_FORMAT,
                          "image %s: not an image stb_image reads (PNG, JPEG, BMP, GIF, TGA): "
                          "no known signature in its first bytes",
                          path);
    if (!strcmp(format, "TIFF") || !strcmp(format, "WebP"))
        return doubt_fail(err, DOUBT_ERR_FORMAT,
                          "image %s: %s file, a format doubt does not read (convert it to PNG)",
                          path, format);
    /* the last thing a whole file holds: JPEG's end-of-image marker, PNG's IEND chunk */
    const int jpeg_whole = fb->size >= 2 && end[-2] == 0xff && end[-1] == 0xd9;
    const int png_whole = fb->size >= 12 && !memcmp(end - 8, "IEND", 4);
    if ((!strcmp(format, "JPEG") && !jpeg_whole) || (!strcmp(format, "PNG") && !png_whole))
        return doubt_fail(err, DOUBT_ERR_FORMAT,
                          "image %s: %s file is truncated: its %d bytes end before the %s", path,
                          format, fb->size,
                          !strcmp(format, "JPEG") ? "end-of-image marker" : "IEND chunk");
    const char *why = stbi_failure_reason();
    return doubt_fail(err, DOUBT_ERR_FORMAT, "image %s: %s file is corrupt: cannot %s (%s)", path,
                      format, stage, why ? why : "no reason given");
}

static doubt_status probe_bytes(const char *path, const file_bytes *fb, doubt_image_info *info,
                                doubt_error *err)
{
    memset(info, 0, sizeof *info);
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    /* The PNG colour type and bit depth are read from IHDR directly: stb_image reports a
     * palette image as RGB, and label maps must not be palette images. */
    if (fb->size >= 8 && memcmp(fb->bytes, png_sig, 8) == 0) {
        info->is_png = 1;
        if (fb->size >= 33 && memcmp(fb->bytes + 12, "IHDR", 4) == 0) {
            info->png_bit_depth = fb->bytes[24];
            info->png_color_type = fb->bytes[25];
        }
    }
    char why[160];
    if (!doubt_stb_guard(fb->bytes, (size_t)fb->size, why, sizeof why))
        return doubt_fail(err, DOUBT_ERR_FORMAT, "image %s: %s", path, why);
    int w, h, comp;
    if (!stbi_info_from_memory(fb->bytes, fb->size, &w, &h, &comp))
        return decode_failure(path, fb, "read its header", err);
    if (w <= 0 || h <= 0)
        return doubt_fail(err, DOUBT_ERR_FORMAT, "image %s: bad size %dx%d", path, w, h);
    info->width = w;
    info->height = h;
    info->channels = comp;
    info->bits = stbi_is_16_bit_from_memory(fb->bytes, fb->size) ? 16 : 8;
    info->orientation = doubt_exif_orientation(fb->bytes, (size_t)fb->size);
    return DOUBT_OK;
}

/* Width and height as displayed: orientations 5..8 turn the image by a quarter. */
static void apply_orientation_to_size(doubt_image_info *info)
{
    if (info->orientation >= 5) {
        const int w = info->width;
        info->width = info->height;
        info->height = w;
    }
}

doubt_status doubt_image_probe(const char *path, doubt_image_info *info, doubt_error *err)
{
    file_bytes fb;
    doubt_status st = slurp(path, &fb, err);
    if (st)
        return st;
    st = probe_bytes(path, &fb, info, err);
    free(fb.bytes);
    if (!st)
        apply_orientation_to_size(info);
    return st;
}

/* Decoded pixels (channels 1..4, 8 or 16 bits) as displayed, after the pixel-limit check. */
typedef struct {
    doubt_image_info info;
    void *pixels; /* uint8_t or uint16_t, interleaved */
    int ours;     /* pixels from malloc (reoriented), else from stb_image */
} decoded;

static void release(decoded *d)
{
    if (d->ours)
        free(d->pixels);
    else
        stbi_image_free(d->pixels);
    d->pixels = NULL;
}

/* Turns the stored pixels the way the EXIF orientation says (exif.h). */
static doubt_status reorient(const char *path, decoded *d, doubt_error *err)
{
    if (d->info.orientation <= 1)
        return DOUBT_OK;
    uint8_t *turned = doubt_exif_reorient(d->pixels, d->info.width, d->info.height,
                                          d->info.channels, d->info.bits / 8, d->info.orientation);
    if (!turned)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "image %s: out of memory turning it upright",
                          path);
    release(d);
    d->pixels = turned;
    d->ours = 1;
    apply_orientation_to_size(&d->info);
    return DOUBT_OK;
}

static doubt_status decode(const char *path, int64_t max_pixels, decoded *d, doubt_error *err)
{
    d->pixels = NULL;
    d->ours = 0;
    if (max_pixels <= 0)
        max_pixels = DOUBT_IMAGE_MAX_PIXELS_DEFAULT;
    file_bytes fb;
    doubt_status st = slurp(path, &fb, err);
    if (st)
        return st;
    st = probe_bytes(path, &fb, &d->info, err);
    int64_t npix = (int64_t)d->info.width * d->info.height;
    if (!st && npix > max_pixels)
        st = doubt_fail(err, DOUBT_ERR_FORMAT,
                        "image %s: %dx%d is %lld pixels, more than the limit of %lld", path,
                        d->info.width, d->info.height, (long long)npix, (long long)max_pixels);
    if (!st) {
        int w, h, comp;
        if (d->info.bits == 16)
            d->pixels = stbi_load_16_from_memory(fb.bytes, fb.size, &w, &h, &comp, 0);
        else
            d->pixels = stbi_load_from_memory(fb.bytes, fb.size, &w, &h, &comp, 0);
        if (!d->pixels) {
            st = decode_failure(path, &fb, "decode its pixels", err);
        } else if (w != d->info.width || h != d->info.height || comp != d->info.channels) {
            st = doubt_fail(err, DOUBT_ERR_FORMAT, "image %s: header and pixels disagree", path);
            release(d);
        } else if ((st = reorient(path, d, err)) != DOUBT_OK) {
            release(d);
        }
    }
    free(fb.bytes);
    return st;
}

/* Sample (x, y, c) of a decoded image as a value in [0, 1]; c is an output RGB channel. */
static float sample01(const decoded *d, int64_t pixel, int c)
{
    int comp = d->info.channels;
    int src = comp >= 3 ? c : 0; /* gray (and gray+alpha) feeds all three channels */
    if (d->info.bits == 16)
        return (float)((const uint16_t *)d->pixels)[pixel * comp + src] / 65535.0f;
    return (float)((const uint8_t *)d->pixels)[pixel * comp + src] / 255.0f;
}

doubt_status doubt_image_read(const char *path, int64_t max_pixels, float **chw, int *width,
                              int *height, doubt_error *err)
{
    if (!chw || !width || !height)
        return doubt_fail(err, DOUBT_ERR_ARG, "image read %s: missing output", path ? path : "");
    *chw = NULL;
    decoded d;
    doubt_status st = decode(path, max_pixels, &d, err);
    if (st)
        return st;
    int64_t n = (int64_t)d.info.width * d.info.height;
    float *out = malloc((size_t)n * 3 * sizeof *out);
    if (!out) {
        release(&d);
        return doubt_fail(err, DOUBT_ERR_NOMEM, "image %s: out of memory", path);
    }
    for (int c = 0; c < 3; c++)
        for (int64_t i = 0; i < n; i++)
            out[c * n + i] = sample01(&d, i, c);
    release(&d);
    *chw = out;
    *width = d.info.width;
    *height = d.info.height;
    return DOUBT_OK;
}

doubt_status doubt_image_read_rgb8(const char *path, int64_t max_pixels, uint8_t **rgb, int *width,
                                   int *height, doubt_error *err)
{
    if (!rgb || !width || !height)
        return doubt_fail(err, DOUBT_ERR_ARG, "image read %s: missing output", path ? path : "");
    *rgb = NULL;
    decoded d;
    doubt_status st = decode(path, max_pixels, &d, err);
    if (st)
        return st;
    int64_t n = (int64_t)d.info.width * d.info.height;
    uint8_t *out = malloc((size_t)n * 3);
    if (!out) {
        release(&d);
        return doubt_fail(err, DOUBT_ERR_NOMEM, "image %s: out of memory", path);
    }
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            out[i * 3 + c] = (uint8_t)(sample01(&d, i, c) * 255.0f + 0.5f);
    release(&d);
    *rgb = out;
    *width = d.info.width;
    *height = d.info.height;
    return DOUBT_OK;
}

static const char *png_color_name(int t)
{
    switch (t) {
    case 0: return "gray";
    case 2: return "RGB";
    case 3: return "palette";
    case 4: return "gray+alpha";
    case 6: return "RGBA";
    }
    return "unknown";
}

/* Single-channel PNG of the given bit depth, or a message saying what the file is instead. */
static doubt_status require_gray_png(const char *path, const doubt_image_info *info, int bits,
                                     const char *what, doubt_error *err)
{
    if (!info->is_png)
        return doubt_fail(err, DOUBT_ERR_FORMAT, "%s %s: not a PNG (%s must be lossless PNG)",
                          what, path, what);
    if (info->png_color_type != 0 || info->png_bit_depth != bits)
        return doubt_fail(err, DOUBT_ERR_FORMAT,
                          "%s %s: PNG is %d-bit %s, %s must be %d-bit single-channel gray", what,
                          path, info->png_bit_depth, png_color_name(info->png_color_type), what,
                          bits);
    return DOUBT_OK;
}

doubt_status doubt_image_read_labels(const char *path, int64_t max_pixels, uint8_t **labels,
                                     int *width, int *height, doubt_error *err)
{
    if (!labels || !width || !height)
        return doubt_fail(err, DOUBT_ERR_ARG, "labels read %s: missing output", path ? path : "");
    *labels = NULL;
    decoded d;
    doubt_status st = decode(path, max_pixels, &d, err);
    if (st)
        return st;
    st = require_gray_png(path, &d.info, 8, "labels", err);
    if (st) {
        release(&d);
        return st;
    }
    /* stb_image's 8-bit gray buffer is already the id map; it is malloc-compatible only
     * through stbi_image_free, so copy into memory the caller can free(). */
    size_t n = (size_t)d.info.width * (size_t)d.info.height;
    uint8_t *out = malloc(n);
    if (!out) {
        release(&d);
        return doubt_fail(err, DOUBT_ERR_NOMEM, "labels %s: out of memory", path);
    }
    memcpy(out, d.pixels, n);
    release(&d);
    *labels = out;
    *width = d.info.width;
    *height = d.info.height;
    return DOUBT_OK;
}

doubt_status doubt_image_read_depth(const char *path, int64_t max_pixels, float depth_scale,
                                    float **depth, int *width, int *height, doubt_error *err)
{
    if (!depth || !width || !height)
        return doubt_fail(err, DOUBT_ERR_ARG, "depth read %s: missing output", path ? path : "");
    *depth = NULL;
    if (!(depth_scale > 0.0f))
        return doubt_fail(err, DOUBT_ERR_ARG, "depth %s: depth scale %g must be positive",
                          path ? path : "", (double)depth_scale);
    decoded d;
    doubt_status st = decode(path, max_pixels, &d, err);
    if (st)
        return st;
    st = require_gray_png(path, &d.info, 16, "depth", err);
    if (st) {
        release(&d);
        return st;
    }
    size_t n = (size_t)d.info.width * (size_t)d.info.height;
    float *out = malloc(n * sizeof *out);
    if (!out) {
        release(&d);
        return doubt_fail(err, DOUBT_ERR_NOMEM, "depth %s: out of memory", path);
    }
    const uint16_t *v = d.pixels;
    for (size_t i = 0; i < n; i++)
        out[i] = (float)v[i] / depth_scale; /* 0 stays 0: no measurement */
    release(&d);
    *depth = out;
    *width = d.info.width;
    *height = d.info.height;
    return DOUBT_OK;
}
